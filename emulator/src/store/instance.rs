use rusqlite::{params, OptionalExtension};

use super::{SqliteTx, StoreError, WriteMode};

/// Reads of the instance (keys, settings).
pub trait InstanceReads {
    fn instance_value(&self, key: &str) -> Result<Option<String>, StoreError>;
}

/// Changes to the instance (keys, settings).
pub trait InstanceWrites: InstanceReads {
    fn set_instance_value(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Deletes the values whose keys start with `prefix`; how many.
    fn delete_instance_values(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Deletes users, sessions, clients, attempts and messages; keeps keys and settings.
    fn reset_data(&self) -> Result<(), StoreError>;
}

impl<M> InstanceReads for SqliteTx<'_, M> {
    fn instance_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .row("SELECT value FROM instance WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }
}

impl InstanceWrites for SqliteTx<'_, WriteMode> {
    fn set_instance_value(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO instance (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn delete_instance_values(&self, prefix: &str) -> Result<u64, StoreError> {
        let n = self.exec(
            "DELETE FROM instance WHERE substr(key, 1, length(?1)) = ?1",
            params![prefix],
        )?;
        Ok(n as u64)
    }

    fn reset_data(&self) -> Result<(), StoreError> {
        self.0.execute_batch(
            "DELETE FROM identifications; DELETE FROM external_accounts; DELETE FROM users; DELETE FROM sessions;
             DELETE FROM clients; DELETE FROM sign_ins; DELETE FROM sign_ups; DELETE FROM messages;
             DELETE FROM jobs WHERE kind != 'cleanup'; DELETE FROM webhook_attempts;
             DELETE FROM webhook_events; DELETE FROM user_lockouts; DELETE FROM rate_counters;
             DELETE FROM sign_in_tokens; DELETE FROM email_links; DELETE FROM handshake_nonces;",
        )?;
        Ok(())
    }
}
