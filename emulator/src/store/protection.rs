//! Attack protection's state: users' lockout counters, rate-limit counters and testing tokens.

use rusqlite::{params, OptionalExtension};

use super::records::{LockoutRecord, RateCounterRecord, TestingTokenRecord};
use super::{SqliteTx, StoreError, WriteMode};

/// Reads of lockout and rate-limit counters and testing tokens.
pub trait ProtectionReads {
    fn lockout(&self, user_id: &str) -> Result<Option<LockoutRecord>, StoreError>;

    fn rate_counter(&self, key: &str) -> Result<Option<RateCounterRecord>, StoreError>;

    fn testing_token(&self, token_hash: &str) -> Result<Option<TestingTokenRecord>, StoreError>;
}

/// Changes to lockout and rate-limit counters and testing tokens.
pub trait ProtectionWrites: ProtectionReads {
    fn save_lockout(&self, r: &LockoutRecord) -> Result<(), StoreError>;

    /// Forgets a user's failures and lockout; whether there were any.
    fn delete_lockout(&self, user_id: &str) -> Result<bool, StoreError>;

    fn save_rate_counter(&self, r: &RateCounterRecord) -> Result<(), StoreError>;

    /// Deletes counters whose window ended before `cutoff` (ms); returns how many.
    fn delete_rate_counters_ended_before(&self, cutoff: i64) -> Result<usize, StoreError>;

    fn save_testing_token(&self, r: &TestingTokenRecord) -> Result<(), StoreError>;

    /// Deletes testing tokens that expired before `cutoff` (ms); returns how many.
    fn delete_testing_tokens_expired_before(&self, cutoff: i64) -> Result<usize, StoreError>;
}

impl<M> ProtectionReads for SqliteTx<'_, M> {
    fn lockout(&self, user_id: &str) -> Result<Option<LockoutRecord>, StoreError> {
        Ok(self
            .row(
                "SELECT user_id, failed_attempts, locked_until, updated_at FROM user_lockouts
                 WHERE user_id = ?1",
                [user_id],
                |r| {
                    Ok(LockoutRecord {
                        user_id: r.get(0)?,
                        failed_attempts: r.get(1)?,
                        locked_until: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn rate_counter(&self, key: &str) -> Result<Option<RateCounterRecord>, StoreError> {
        Ok(self
            .row(
                "SELECT key, window_start, window_end, count FROM rate_counters WHERE key = ?1",
                [key],
                |r| {
                    Ok(RateCounterRecord {
                        key: r.get(0)?,
                        window_start: r.get(1)?,
                        window_end: r.get(2)?,
                        count: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn testing_token(&self, token_hash: &str) -> Result<Option<TestingTokenRecord>, StoreError> {
        Ok(self
            .row(
                "SELECT token_hash, expires_at, created_at FROM testing_tokens
                 WHERE token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(TestingTokenRecord {
                        token_hash: r.get(0)?,
                        expires_at: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }
}

impl ProtectionWrites for SqliteTx<'_, WriteMode> {
    fn save_lockout(&self, r: &LockoutRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO user_lockouts (user_id, failed_attempts, locked_until, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id) DO UPDATE SET failed_attempts = excluded.failed_attempts,
                 locked_until = excluded.locked_until, updated_at = excluded.updated_at",
            params![r.user_id, r.failed_attempts, r.locked_until, r.updated_at],
        )?;
        Ok(())
    }

    fn delete_lockout(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM user_lockouts WHERE user_id = ?1", [user_id])? > 0)
    }

    fn save_rate_counter(&self, r: &RateCounterRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO rate_counters (key, window_start, window_end, count)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start,
                 window_end = excluded.window_end, count = excluded.count",
            params![r.key, r.window_start, r.window_end, r.count],
        )?;
        Ok(())
    }

    fn delete_rate_counters_ended_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        Ok(self.exec("DELETE FROM rate_counters WHERE window_end < ?1", [cutoff])?)
    }

    fn save_testing_token(&self, r: &TestingTokenRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO testing_tokens (token_hash, expires_at, created_at) VALUES (?1, ?2, ?3)",
            params![r.token_hash, r.expires_at, r.created_at],
        )?;
        Ok(())
    }

    fn delete_testing_tokens_expired_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        Ok(self.exec("DELETE FROM testing_tokens WHERE expires_at < ?1", [cutoff])?)
    }
}
