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

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::secret::Secret;
    use crate::store::records::UserRecord;
    use crate::store::Store;

    /// An external account as the domain writes one.
    pub(crate) fn an_account(
        id: &str,
        user_id: &str,
        provider: &str,
        provider_user_id: &str,
        created_at: i64,
    ) -> ExternalAccountRecord {
        ExternalAccountRecord {
            id: id.into(),
            user_id: user_id.into(),
            provider: provider.into(),
            provider_user_id: provider_user_id.into(),
            identification_id: Some("idn_1".into()),
            email_address: "a@x.com".into(),
            email_address_verified: true,
            first_name: Some("Ann".into()),
            last_name: None,
            image_url: Some("https://img.example/a.png".into()),
            username: None,
            approved_scopes: "openid email profile".into(),
            access_token: Some(Secret::new(format!("tok-{id}"))),
            access_token_expire_at: Some(created_at + 3_600_000),
            created_at,
            updated_at: created_at,
        }
    }

    fn ids(accounts: &[ExternalAccountRecord]) -> Vec<&str> {
        accounts.iter().map(|a| a.id.as_str()).collect()
    }

    /// What both stores must do with external accounts; `user_1` exists in `store`.
    pub(crate) fn external_accounts_round_trip(store: &Store) {
        store
            .write(|tx| tx.save_user(&UserRecord::new("user_2".into(), 1)))
            .unwrap();
        assert_eq!(store.read(|tx| tx.external_account("eac_1")).unwrap(), None);

        // Saved, then saved again: replaced by id, not added.
        let mut first = an_account("eac_1", "user_1", "oauth_google", "g-1", 10);
        store.write(|tx| tx.save_external_account(&first)).unwrap();
        assert_eq!(
            store.read(|tx| tx.external_account("eac_1")).unwrap(),
            Some(first.clone())
        );
        first.email_address = "ann@x.com".into();
        first.access_token = Some(Secret::new("tok-refreshed"));
        first.approved_scopes = "openid email".into();
        first.updated_at = 11;
        store.write(|tx| tx.save_external_account(&first)).unwrap();
        let read = store
            .read(|tx| tx.external_account("eac_1"))
            .unwrap()
            .unwrap();
        assert_eq!(read, first);
        assert_eq!(
            read.access_token.as_ref().map(Secret::expose),
            Some("tok-refreshed"),
            "the access token is stored whole"
        );
        assert_eq!(
            store.read(|tx| tx.all_external_accounts()).unwrap().len(),
            1
        );
        assert!(
            !format!("{read:?}").contains("tok-refreshed"),
            "Debug hides the access token"
        );

        // Found by provider and provider user id, both.
        assert_eq!(
            store
                .read(|tx| tx.external_account_by_provider_user("oauth_google", "g-1"))
                .unwrap(),
            Some(first.clone())
        );
        for (provider, sub) in [("oauth_github", "g-1"), ("oauth_google", "g-2")] {
            assert_eq!(
                store
                    .read(|tx| tx.external_account_by_provider_user(provider, sub))
                    .unwrap(),
                None,
                "{provider} {sub}"
            );
        }

        // One account per (provider, provider user id); the same id at another provider is
        // another account. An account needs its user.
        assert!(store
            .write(|tx| tx.save_external_account(&an_account(
                "eac_9",
                "user_2",
                "oauth_google",
                "g-1",
                12
            )))
            .is_err());
        assert_eq!(store.read(|tx| tx.external_account("eac_9")).unwrap(), None);
        assert!(store
            .write(|tx| tx.save_external_account(&an_account(
                "eac_9",
                "user_none",
                "oauth_google",
                "g-9",
                12
            )))
            .is_err());
        store
            .write(|tx| {
                // Older than eac_1; then one created at the same time as it, later.
                tx.save_external_account(&an_account("eac_2", "user_1", "oauth_github", "g-1", 5))?;
                tx.save_external_account(&an_account(
                    "eac_3",
                    "user_1",
                    "oauth_custom_x",
                    "x",
                    10,
                ))?;
                tx.save_external_account(&an_account(
                    "eac_4",
                    "user_2",
                    "oauth_google",
                    "g-2",
                    20,
                ))?;
                tx.save_external_account(&an_account("eac_5", "user_2", "oauth_google", "g-3", 30))
            })
            .unwrap();
        // Replacing eac_1 again keeps its place among accounts created with it.
        first.updated_at = 40;
        store.write(|tx| tx.save_external_account(&first)).unwrap();

        assert_eq!(
            ids(&store
                .read(|tx| tx.external_accounts_of_user("user_1"))
                .unwrap()),
            ["eac_2", "eac_1", "eac_3"],
            "oldest first, ties in the order they were made"
        );
        assert_eq!(
            ids(&store
                .read(|tx| tx.external_accounts_of_user("user_2"))
                .unwrap()),
            ["eac_4", "eac_5"]
        );
        assert!(store
            .read(|tx| tx.external_accounts_of_user("user_none"))
            .unwrap()
            .is_empty());
        for (limit, want) in [
            (2, vec!["eac_5", "eac_4"]),
            (10, vec!["eac_5", "eac_4", "eac_1"]),
            (0, vec![]),
            (usize::MAX, vec!["eac_5", "eac_4", "eac_1"]),
        ] {
            assert_eq!(
                ids(&store
                    .read(|tx| tx.external_accounts_of_provider("oauth_google", limit))
                    .unwrap()),
                want,
                "newest first, at most {limit}"
            );
        }
        assert!(store
            .read(|tx| tx.external_accounts_of_provider("oauth_gitlab", 10))
            .unwrap()
            .is_empty());
        assert_eq!(
            ids(&store.read(|tx| tx.all_external_accounts()).unwrap()),
            ["eac_2", "eac_1", "eac_3", "eac_4", "eac_5"],
            "every account, oldest first"
        );

        // Deleted: whether it was there.
        assert!(store
            .write(|tx| tx.delete_external_account("eac_3"))
            .unwrap());
        assert!(!store
            .write(|tx| tx.delete_external_account("eac_3"))
            .unwrap());
        assert_eq!(store.read(|tx| tx.external_account("eac_3")).unwrap(), None);
        // Once gone, its provider user id may be another account's.
        store
            .write(|tx| {
                tx.save_external_account(&an_account("eac_6", "user_2", "oauth_custom_x", "x", 50))
            })
            .unwrap();

        // Accounts go with their user.
        assert!(store.write(|tx| tx.delete_user("user_2")).unwrap());
        assert!(store
            .read(|tx| tx.external_accounts_of_user("user_2"))
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .read(|tx| tx.external_account_by_provider_user("oauth_google", "g-3"))
                .unwrap(),
            None
        );
        assert_eq!(
            ids(&store.read(|tx| tx.all_external_accounts()).unwrap()),
            ["eac_2", "eac_1"]
        );

        // A data reset forgets them.
        store.write(|tx| tx.reset_data()).unwrap();
        assert!(store
            .read(|tx| tx.all_external_accounts())
            .unwrap()
            .is_empty());
        assert_eq!(store.read(|tx| tx.external_account("eac_1")).unwrap(), None);
    }

    #[test]
    fn migration_10_adds_external_accounts_to_a_version_9_database() {
        let dir = std::env::temp_dir().join(format!("lk-mig10-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for (_, sql) in super::super::MIGRATIONS.iter().filter(|(v, _)| *v <= 9) {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 9).unwrap();
            conn.execute_batch(
                "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);",
            )
            .unwrap();
            let tables: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'external_accounts'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(tables, 0, "version 9 has no external accounts");
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            super::super::latest_version()
        );
        assert!(store
            .read(|tx| tx.all_external_accounts())
            .unwrap()
            .is_empty());
        external_accounts_round_trip(&store);
        std::fs::remove_dir_all(dir).ok();
    }
}
