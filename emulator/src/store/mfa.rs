//! Second factors (`user_mfa`: one JSON document per user).

use rusqlite::{params, OptionalExtension};

use super::records::MfaRecord;
use super::{SqliteTx, StoreError, WriteMode};

/// Reads of second factors.
pub trait MfaReads {
    fn mfa(&self, user_id: &str) -> Result<Option<MfaRecord>, StoreError>;
}

/// Changes to second factors.
pub trait MfaWrites: MfaReads {
    /// Inserts or replaces the user's document.
    fn save_mfa(&self, m: &MfaRecord) -> Result<(), StoreError>;
}

pub(super) fn mfa_from_text(user_id: &str, text: &str) -> Result<MfaRecord, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("second factors of {user_id}: {e}")))
}

pub(super) fn to_text<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl<M> MfaReads for SqliteTx<'_, M> {
    fn mfa(&self, user_id: &str) -> Result<Option<MfaRecord>, StoreError> {
        let text: Option<String> = self
            .row(
                "SELECT state FROM user_mfa WHERE user_id = ?1",
                [user_id],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| mfa_from_text(user_id, &t)).transpose()
    }
}

impl MfaWrites for SqliteTx<'_, WriteMode> {
    fn save_mfa(&self, m: &MfaRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO user_mfa (user_id, state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET state = excluded.state,
             updated_at = excluded.updated_at",
            params![m.user_id, to_text(m)?, m.updated_at],
        )?;
        Ok(())
    }
}
