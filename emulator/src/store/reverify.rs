//! Session reverifications (`session_verifications`: one JSON document per session).

use rusqlite::{params, OptionalExtension};

use super::records::SessionVerificationRecord;
use super::{SqliteTx, StoreError, WriteMode};

/// Reads of session reverifications.
pub trait ReverifyReads {
    /// The session's latest reverification, if one was started.
    fn session_verification(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionVerificationRecord>, StoreError>;
}

/// Changes to session reverifications.
pub trait ReverifyWrites: ReverifyReads {
    /// Inserts or replaces the session's reverification.
    fn save_session_verification(&self, v: &SessionVerificationRecord) -> Result<(), StoreError>;
}

pub(super) fn from_text(
    session_id: &str,
    text: &str,
) -> Result<SessionVerificationRecord, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("reverification of {session_id}: {e}")))
}

pub(super) fn to_text(v: &SessionVerificationRecord) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl<M> ReverifyReads for SqliteTx<'_, M> {
    fn session_verification(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionVerificationRecord>, StoreError> {
        let text: Option<String> = self
            .row(
                "SELECT state FROM session_verifications WHERE session_id = ?1",
                [session_id],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| from_text(session_id, &t)).transpose()
    }
}

impl ReverifyWrites for SqliteTx<'_, WriteMode> {
    fn save_session_verification(&self, v: &SessionVerificationRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO session_verifications (session_id, state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (session_id) DO UPDATE SET state = excluded.state,
             updated_at = excluded.updated_at",
            params![v.session_id, to_text(v)?, v.updated_at],
        )?;
        Ok(())
    }
}
