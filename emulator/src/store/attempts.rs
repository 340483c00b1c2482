//! Sign-in and sign-up attempts, kept as JSON documents of their state machines.

use rusqlite::{params, OptionalExtension};

use super::records::{SignInState, SignUpState};
use super::{SqliteTx, StoreError, WriteMode};

/// Reads of sign-in and sign-up attempts.
pub trait AttemptsReads {
    fn sign_in(&self, id: &str) -> Result<Option<SignInState>, StoreError>;

    fn sign_up(&self, id: &str) -> Result<Option<SignUpState>, StoreError>;
}

/// Changes to sign-in and sign-up attempts.
pub trait AttemptsWrites: AttemptsReads {
    fn save_sign_in(&self, s: &SignInState) -> Result<(), StoreError>;

    fn save_sign_up(&self, s: &SignUpState) -> Result<(), StoreError>;

    /// Deletes sign-in and sign-up attempts created before `cutoff` (ms); returns how many.
    fn delete_attempts_created_before(&self, cutoff: i64) -> Result<usize, StoreError>;
}

impl<M> AttemptsReads for SqliteTx<'_, M> {
    fn sign_in(&self, id: &str) -> Result<Option<SignInState>, StoreError> {
        let text: Option<String> = self
            .row("SELECT state FROM sign_ins WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("sign-in {id}: {e}")))
        })
        .transpose()
    }

    fn sign_up(&self, id: &str) -> Result<Option<SignUpState>, StoreError> {
        let text: Option<String> = self
            .row("SELECT state FROM sign_ups WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("sign-up {id}: {e}")))
        })
        .transpose()
    }
}

impl AttemptsWrites for SqliteTx<'_, WriteMode> {
    fn save_sign_in(&self, s: &SignInState) -> Result<(), StoreError> {
        let state = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.exec(
            "INSERT INTO sign_ins (id, client_id, state, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            params![s.id, s.client_id, state, s.created_at],
        )?;
        Ok(())
    }

    fn save_sign_up(&self, s: &SignUpState) -> Result<(), StoreError> {
        let state = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.exec(
            "INSERT INTO sign_ups (id, client_id, state, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            params![s.id, s.client_id, state, s.created_at],
        )?;
        Ok(())
    }

    fn delete_attempts_created_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        let a = self.exec("DELETE FROM sign_ins WHERE created_at < ?1", [cutoff])?;
        let b = self.exec("DELETE FROM sign_ups WHERE created_at < ?1", [cutoff])?;
        Ok(a + b)
    }
}
