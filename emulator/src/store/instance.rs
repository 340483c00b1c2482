use rusqlite::{params, OptionalExtension};

use super::{StoreError, Tx};

impl Tx<'_> {
    pub fn instance_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .row("SELECT value FROM instance WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_instance_value(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO instance (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Deletes users, sessions, clients, attempts and messages; keeps keys and settings.
    pub fn reset_data(&self) -> Result<(), StoreError> {
        self.0.execute_batch(
            "DELETE FROM identifications; DELETE FROM users; DELETE FROM sessions;
             DELETE FROM clients; DELETE FROM sign_ins; DELETE FROM sign_ups; DELETE FROM messages;
             DELETE FROM jobs WHERE kind != 'cleanup'; DELETE FROM webhook_attempts;
             DELETE FROM webhook_events;",
        )?;
        Ok(())
    }
}
