//! Redirect URLs (the allowlist), sign-in tokens and email links: the links that sign a user
//! in or send them somewhere.

use rusqlite::{params, OptionalExtension};

use super::records::{EmailLinkRecord, RedirectUrlRecord, SignInTokenRecord, SignInTokenStatus};
use super::{corrupt, SqliteTx, StoreError, WriteMode};

/// Reads of the redirect-URL allowlist, sign-in tokens and email links.
pub trait LinksReads {
    /// The allowlist, oldest first.
    fn redirect_urls(&self) -> Result<Vec<RedirectUrlRecord>, StoreError>;

    fn redirect_url(&self, id: &str) -> Result<Option<RedirectUrlRecord>, StoreError>;

    fn sign_in_token(&self, id: &str) -> Result<Option<SignInTokenRecord>, StoreError>;

    fn sign_in_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<SignInTokenRecord>, StoreError>;

    fn email_link_by_token(&self, token_hash: &str) -> Result<Option<EmailLinkRecord>, StoreError>;

    fn email_link_by_approval(
        &self,
        approval_hash: &str,
    ) -> Result<Option<EmailLinkRecord>, StoreError>;
}

/// Changes to the allowlist, sign-in tokens and email links.
pub trait LinksWrites: LinksReads {
    /// Adds a redirect URL (its `url` must not be on the allowlist yet).
    fn insert_redirect_url(&self, r: &RedirectUrlRecord) -> Result<(), StoreError>;

    /// Removes a redirect URL; whether it was there.
    fn delete_redirect_url(&self, id: &str) -> Result<bool, StoreError>;

    /// Inserts or replaces a sign-in token.
    fn save_sign_in_token(&self, r: &SignInTokenRecord) -> Result<(), StoreError>;

    /// Inserts or replaces an email link.
    fn save_email_link(&self, r: &EmailLinkRecord) -> Result<(), StoreError>;
}

pub(super) fn link_from_text(text: &str) -> Result<EmailLinkRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("email link: {e}")))
}

pub(super) fn link_to_text(r: &EmailLinkRecord) -> Result<String, StoreError> {
    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn redirect_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RedirectUrlRecord> {
    Ok(RedirectUrlRecord {
        id: r.get(0)?,
        url: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
    })
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SignInTokenRecord> {
    let status: String = r.get(3)?;
    Ok(SignInTokenRecord {
        id: r.get(0)?,
        token_hash: r.get(1)?,
        user_id: r.get(2)?,
        status: SignInTokenStatus::try_from(status.as_str()).map_err(corrupt)?,
        expire_at: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

const TOKEN_COLUMNS: &str = "id, token_hash, user_id, status, expire_at, created_at, updated_at";

impl<M> SqliteTx<'_, M> {
    fn email_link_where(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<EmailLinkRecord>, StoreError> {
        let text: Option<String> = self
            .row(
                &format!("SELECT state FROM email_links WHERE {column} = ?1"),
                [value],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| link_from_text(&t)).transpose()
    }
}

impl<M> LinksReads for SqliteTx<'_, M> {
    fn redirect_urls(&self) -> Result<Vec<RedirectUrlRecord>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            // Oldest first; within one second in the order they were added (ids are random).
            "SELECT id, url, created_at, updated_at FROM redirect_urls ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map([], redirect_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn redirect_url(&self, id: &str) -> Result<Option<RedirectUrlRecord>, StoreError> {
        Ok(self
            .row(
                "SELECT id, url, created_at, updated_at FROM redirect_urls WHERE id = ?1",
                [id],
                redirect_from_row,
            )
            .optional()?)
    }

    fn sign_in_token(&self, id: &str) -> Result<Option<SignInTokenRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {TOKEN_COLUMNS} FROM sign_in_tokens WHERE id = ?1"),
                [id],
                token_from_row,
            )
            .optional()?)
    }

    fn sign_in_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<SignInTokenRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {TOKEN_COLUMNS} FROM sign_in_tokens WHERE token_hash = ?1"),
                [token_hash],
                token_from_row,
            )
            .optional()?)
    }

    fn email_link_by_token(&self, token_hash: &str) -> Result<Option<EmailLinkRecord>, StoreError> {
        self.email_link_where("token_hash", token_hash)
    }

    fn email_link_by_approval(
        &self,
        approval_hash: &str,
    ) -> Result<Option<EmailLinkRecord>, StoreError> {
        self.email_link_where("approval_hash", approval_hash)
    }
}

impl LinksWrites for SqliteTx<'_, WriteMode> {
    fn insert_redirect_url(&self, r: &RedirectUrlRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO redirect_urls (id, url, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)",
            params![r.id, r.url, r.created_at, r.updated_at],
        )?;
        Ok(())
    }

    fn delete_redirect_url(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM redirect_urls WHERE id = ?1", [id])? > 0)
    }

    fn save_sign_in_token(&self, r: &SignInTokenRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO sign_in_tokens (id, token_hash, user_id, status, expire_at, created_at,
                updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                expire_at = excluded.expire_at, updated_at = excluded.updated_at",
            params![
                r.id,
                r.token_hash,
                r.user_id,
                r.status.as_str(),
                r.expire_at,
                r.created_at,
                r.updated_at
            ],
        )?;
        Ok(())
    }

    fn save_email_link(&self, r: &EmailLinkRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO email_links (id, token_hash, approval_hash, state, expire_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET approval_hash = excluded.approval_hash,
                state = excluded.state, expire_at = excluded.expire_at",
            params![
                r.id,
                r.token_hash,
                r.approval_hash,
                link_to_text(r)?,
                r.expire_at,
                r.created_at
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::records::{EmailLinkPurpose, NativeEmailLink};
    use crate::store::Store;

    /// What both stores must do with the three tables; `user_1` exists in `store`.
    pub(crate) fn links_round_trip(store: &Store) {
        let ru = |id: &str, url: &str, at| RedirectUrlRecord {
            id: id.into(),
            url: url.into(),
            created_at: at,
            updated_at: at,
        };
        store
            .write(|tx| {
                tx.insert_redirect_url(&ru("ru_2", "myapp://b", 2))?;
                tx.insert_redirect_url(&ru("ru_1", "myapp://a", 1))
            })
            .unwrap();
        // One URL once.
        assert!(store
            .write(|tx| tx.insert_redirect_url(&ru("ru_3", "myapp://a", 3)))
            .is_err());
        let all = store.read(|tx| tx.redirect_urls()).unwrap();
        assert_eq!(
            all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["ru_1", "ru_2"],
            "oldest first"
        );
        assert_eq!(
            store.read(|tx| tx.redirect_url("ru_2")).unwrap(),
            Some(ru("ru_2", "myapp://b", 2))
        );
        assert!(store.write(|tx| tx.delete_redirect_url("ru_2")).unwrap());
        assert!(!store.write(|tx| tx.delete_redirect_url("ru_2")).unwrap());

        let mut token = SignInTokenRecord {
            id: "sit_1".into(),
            token_hash: "h1".into(),
            user_id: "user_1".into(),
            status: SignInTokenStatus::Pending,
            expire_at: 100,
            created_at: 1,
            updated_at: 1,
        };
        store.write(|tx| tx.save_sign_in_token(&token)).unwrap();
        token.status = SignInTokenStatus::Accepted;
        token.updated_at = 5;
        store.write(|tx| tx.save_sign_in_token(&token)).unwrap();
        assert_eq!(
            store.read(|tx| tx.sign_in_token_by_hash("h1")).unwrap(),
            Some(token.clone())
        );
        assert_eq!(
            store.read(|tx| tx.sign_in_token("sit_1")).unwrap(),
            Some(token)
        );
        // A token needs its user.
        let orphan = SignInTokenRecord {
            id: "sit_2".into(),
            token_hash: "h2".into(),
            user_id: "user_none".into(),
            status: SignInTokenStatus::Pending,
            expire_at: 1,
            created_at: 1,
            updated_at: 1,
        };
        assert!(store.write(|tx| tx.save_sign_in_token(&orphan)).is_err());

        let mut link = EmailLinkRecord {
            id: "eml_1".into(),
            token_hash: "t1".into(),
            approval_hash: None,
            purpose: EmailLinkPurpose::SignInFirstFactor,
            flow_id: "sia_1".into(),
            client_id: "client_1".into(),
            user_id: Some("user_1".into()),
            identification_id: Some("idn_1".into()),
            redirect_url: Some("https://app.example/cb".into()),
            native: Some(NativeEmailLink {
                redirect_uri: "myapp://a".into(),
                code_challenge: "c".into(),
                approval_expire_at: None,
                approval_used_at: None,
            }),
            used_at: None,
            expire_at: 50,
            created_at: 1,
        };
        store.write(|tx| tx.save_email_link(&link)).unwrap();
        assert_eq!(
            store.read(|tx| tx.email_link_by_token("t1")).unwrap(),
            Some(link.clone())
        );
        link.used_at = Some(7);
        link.approval_hash = Some("a1".into());
        store.write(|tx| tx.save_email_link(&link)).unwrap();
        assert_eq!(
            store.read(|tx| tx.email_link_by_approval("a1")).unwrap(),
            Some(link.clone())
        );
        assert_eq!(store.read(|tx| tx.email_link_by_token("t2")).unwrap(), None);

        // A data reset forgets tokens and links and keeps the allowlist (configuration).
        store.write(|tx| tx.reset_data()).unwrap();
        assert_eq!(store.read(|tx| tx.sign_in_token("sit_1")).unwrap(), None);
        assert_eq!(store.read(|tx| tx.email_link_by_token("t1")).unwrap(), None);
        assert_eq!(store.read(|tx| tx.redirect_urls()).unwrap().len(), 1);
    }

    #[test]
    fn migration_9_adds_the_link_tables_to_a_version_8_database() {
        let dir = std::env::temp_dir().join(format!("lk-mig9-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for (_, sql) in super::super::MIGRATIONS.iter().filter(|(v, _)| *v <= 8) {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 8).unwrap();
            conn.execute_batch(
                "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            super::super::latest_version()
        );
        links_round_trip(&store);
        std::fs::remove_dir_all(dir).ok();
    }
}
