//! External accounts: a user's accounts at OAuth providers (see
//! [`ExternalAccountRecord`](super::records::ExternalAccountRecord)). They go with their user.

use rusqlite::{params, OptionalExtension};

use super::records::ExternalAccountRecord;
use super::{SqliteTx, StoreError, WriteMode};

/// Reads of external accounts.
pub trait ExternalAccountsReads {
    fn external_account(&self, id: &str) -> Result<Option<ExternalAccountRecord>, StoreError>;

    /// The account at `provider` whose provider-side id is `provider_user_id`.
    fn external_account_by_provider_user(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<ExternalAccountRecord>, StoreError>;

    /// A user's external accounts, oldest first.
    fn external_accounts_of_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<ExternalAccountRecord>, StoreError>;

    /// The newest `limit` external accounts at `provider` (the identities a mock provider's
    /// page offers again), newest first.
    fn external_accounts_of_provider(
        &self,
        provider: &str,
        limit: usize,
    ) -> Result<Vec<ExternalAccountRecord>, StoreError>;

    /// Every external account, oldest first (export).
    fn all_external_accounts(&self) -> Result<Vec<ExternalAccountRecord>, StoreError>;
}

/// Changes to external accounts.
pub trait ExternalAccountsWrites: ExternalAccountsReads {
    /// Inserts or replaces (by `id`) an external account. Another account with the same
    /// (`provider`, `provider_user_id`) fails as a database error (the domain checks first).
    fn save_external_account(&self, r: &ExternalAccountRecord) -> Result<(), StoreError>;

    /// Removes an external account; whether it was there.
    fn delete_external_account(&self, id: &str) -> Result<bool, StoreError>;
}

pub(super) fn from_text(text: &str) -> Result<ExternalAccountRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("external account: {e}")))
}

pub(super) fn to_text(r: &ExternalAccountRecord) -> Result<String, StoreError> {
    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads every stored document of a query (one `state` column) back as records.
pub(super) fn records(texts: Vec<String>) -> Result<Vec<ExternalAccountRecord>, StoreError> {
    texts.iter().map(|t| from_text(t)).collect()
}

impl<M> SqliteTx<'_, M> {
    fn external_account_texts<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl<M> ExternalAccountsReads for SqliteTx<'_, M> {
    fn external_account(&self, id: &str) -> Result<Option<ExternalAccountRecord>, StoreError> {
        let text: Option<String> = self
            .row(
                "SELECT state FROM external_accounts WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| from_text(&t)).transpose()
    }

    fn external_account_by_provider_user(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<ExternalAccountRecord>, StoreError> {
        let text: Option<String> = self
            .row(
                "SELECT state FROM external_accounts WHERE provider = ?1 AND provider_user_id = ?2",
                [provider, provider_user_id],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| from_text(&t)).transpose()
    }

    fn external_accounts_of_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<ExternalAccountRecord>, StoreError> {
        records(self.external_account_texts(
            "SELECT state FROM external_accounts WHERE user_id = ?1 ORDER BY created_at, rowid",
            [user_id],
        )?)
    }

    fn external_accounts_of_provider(
        &self,
        provider: &str,
        limit: usize,
    ) -> Result<Vec<ExternalAccountRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        records(self.external_account_texts(
            "SELECT state FROM external_accounts WHERE provider = ?1
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
            params![provider, limit],
        )?)
    }

    fn all_external_accounts(&self) -> Result<Vec<ExternalAccountRecord>, StoreError> {
        records(self.external_account_texts(
            "SELECT state FROM external_accounts ORDER BY created_at, rowid",
            [],
        )?)
    }
}

impl ExternalAccountsWrites for SqliteTx<'_, WriteMode> {
    fn save_external_account(&self, r: &ExternalAccountRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO external_accounts (id, user_id, provider, provider_user_id, state, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
               provider = excluded.provider, provider_user_id = excluded.provider_user_id,
               state = excluded.state",
            params![
                r.id,
                r.user_id,
                r.provider,
                r.provider_user_id,
                to_text(r)?,
                r.created_at
            ],
        )?;
        Ok(())
    }

    fn delete_external_account(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM external_accounts WHERE id = ?1", [id])? > 0)
    }
}
