use rusqlite::{params, OptionalExtension, Row};

use super::records::{ClientRecord, HandshakeNonceRecord};
use super::{corrupt, SqliteTx, StoreError, WriteMode};
use crate::secret::Secret;
use latchkey_protocol::AnyStrategy;

const COLUMNS: &str = "id, token, prev_token, sign_in_id, sign_up_id,
    last_active_session_id, last_authentication_strategy, created_at, updated_at,
    prev_token_expires_at, captcha_challenged_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ClientRecord> {
    Ok(ClientRecord {
        id: r.get(0)?,
        token: Secret::new(r.get::<_, String>(1)?),
        prev_token: r.get::<_, Option<String>>(2)?.map(Secret::new),
        sign_in_id: r.get(3)?,
        sign_up_id: r.get(4)?,
        last_active_session_id: r.get(5)?,
        last_authentication_strategy: r
            .get::<_, Option<String>>(6)?
            .map(|s| s.parse::<AnyStrategy>())
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        prev_token_expires_at: r.get(9)?,
        captcha_challenged_at: r.get(10)?,
    })
}

/// Reads of clients and their tokens.
pub trait ClientsReads {
    fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;

    /// The client whose current or replaced token is `token` (whether a replaced one is still
    /// accepted is the domain's call).
    fn client_by_token(&self, token: &str) -> Result<Option<ClientRecord>, StoreError>;
}

/// Changes to clients and their tokens.
pub trait ClientsWrites: ClientsReads {
    fn save_client(&self, c: &ClientRecord) -> Result<(), StoreError>;

    fn delete_client(&self, id: &str) -> Result<(), StoreError>;

    /// Deletes clients that never had a session and were last used before `cutoff` (ms), with
    /// their attempts; returns how many clients.
    fn delete_sessionless_clients_idle_before(&self, cutoff: i64) -> Result<usize, StoreError>;

    fn insert_handshake_nonce(&self, r: &HandshakeNonceRecord) -> Result<(), StoreError>;

    /// Removes the handshake nonce with `nonce_hash` and returns it (it is used once), with
    /// every nonce that expired before `now` (ms).
    fn take_handshake_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
    ) -> Result<Option<HandshakeNonceRecord>, StoreError>;
}

impl<M> ClientsReads for SqliteTx<'_, M> {
    fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {COLUMNS} FROM clients WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    fn client_by_token(&self, token: &str) -> Result<Option<ClientRecord>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM clients WHERE token = ?1
             UNION ALL SELECT {COLUMNS} FROM clients WHERE prev_token = ?1 LIMIT 1"
        ))?;
        Ok(stmt.query_row([token], from_row).optional()?)
    }
}

impl ClientsWrites for SqliteTx<'_, WriteMode> {
    fn save_client(&self, c: &ClientRecord) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO clients ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO UPDATE SET token = excluded.token,
                 prev_token = excluded.prev_token,
                 prev_token_expires_at = excluded.prev_token_expires_at,
                 sign_in_id = excluded.sign_in_id,
                 sign_up_id = excluded.sign_up_id,
                 last_active_session_id = excluded.last_active_session_id,
                 last_authentication_strategy = excluded.last_authentication_strategy,
                 updated_at = excluded.updated_at,
                 captcha_challenged_at = excluded.captcha_challenged_at"
            ),
            params![
                c.id,
                c.token.expose(),
                c.prev_token.as_ref().map(Secret::expose),
                c.sign_in_id,
                c.sign_up_id,
                c.last_active_session_id,
                c.last_authentication_strategy
                    .as_ref()
                    .map(AnyStrategy::as_str),
                c.created_at,
                c.updated_at,
                c.prev_token_expires_at,
                c.captcha_challenged_at
            ],
        )?;
        Ok(())
    }

    fn delete_client(&self, id: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM clients WHERE id = ?1", [id])?;
        self.exec("DELETE FROM sign_ins WHERE client_id = ?1", [id])?;
        self.exec("DELETE FROM sign_ups WHERE client_id = ?1", [id])?;
        Ok(())
    }

    fn insert_handshake_nonce(&self, r: &HandshakeNonceRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO handshake_nonces
             (nonce_hash, client_id, session_id, azp, expire_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r.nonce_hash,
                r.client_id,
                r.session_id,
                r.azp,
                r.expire_at,
                r.created_at
            ],
        )?;
        Ok(())
    }

    fn take_handshake_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
    ) -> Result<Option<HandshakeNonceRecord>, StoreError> {
        let found = self
            .row(
                "DELETE FROM handshake_nonces WHERE nonce_hash = ?1
                 RETURNING nonce_hash, client_id, session_id, azp, expire_at, created_at",
                [nonce_hash],
                |r| {
                    Ok(HandshakeNonceRecord {
                        nonce_hash: r.get(0)?,
                        client_id: r.get(1)?,
                        session_id: r.get(2)?,
                        azp: r.get(3)?,
                        expire_at: r.get(4)?,
                        created_at: r.get(5)?,
                    })
                },
            )
            .optional()?;
        self.exec("DELETE FROM handshake_nonces WHERE expire_at < ?1", [now])?;
        Ok(found)
    }

    fn delete_sessionless_clients_idle_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        const DOOMED: &str = "SELECT id FROM clients c WHERE c.updated_at < ?1
            AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.client_id = c.id)";
        self.exec(
            &format!("DELETE FROM sign_ins WHERE client_id IN ({DOOMED})"),
            [cutoff],
        )?;
        self.exec(
            &format!("DELETE FROM sign_ups WHERE client_id IN ({DOOMED})"),
            [cutoff],
        )?;
        Ok(self.exec(
            &format!("DELETE FROM clients WHERE id IN ({DOOMED})"),
            [cutoff],
        )?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::Store;

    fn nonce(hash: &str, expire_at: i64) -> HandshakeNonceRecord {
        HandshakeNonceRecord {
            nonce_hash: hash.into(),
            client_id: "client_1".into(),
            session_id: Some("sess_1".into()),
            azp: Some("http://localhost:5173".into()),
            expire_at,
            created_at: 1,
        }
    }

    /// What every store keeps of handshake nonces: each taken once; a take also forgets the
    /// expired ones; a data reset forgets them all.
    pub(crate) fn handshake_nonces_round_trip(store: &Store) {
        store
            .write(|tx| {
                tx.insert_handshake_nonce(&nonce("h1", 100))?;
                tx.insert_handshake_nonce(&nonce("h2", 50))?;
                tx.insert_handshake_nonce(&HandshakeNonceRecord {
                    session_id: None,
                    azp: None,
                    ..nonce("h3", 100)
                })
            })
            .unwrap();
        let taken = store.write(|tx| tx.take_handshake_nonce("h1", 60)).unwrap();
        assert_eq!(taken, Some(nonce("h1", 100)));
        assert_eq!(
            store.write(|tx| tx.take_handshake_nonce("h1", 60)).unwrap(),
            None,
            "used once"
        );
        assert_eq!(
            store.write(|tx| tx.take_handshake_nonce("h2", 60)).unwrap(),
            None,
            "expired ones went with the first take"
        );
        store.write(|tx| tx.reset_data()).unwrap();
        assert_eq!(
            store.write(|tx| tx.take_handshake_nonce("h3", 60)).unwrap(),
            None,
            "a reset forgets them"
        );
    }

    /// What every store keeps of a client's CAPTCHA challenge, for `client_old`, a client the
    /// database held before it had the column: none at first, then what was saved.
    pub(crate) fn captcha_challenge_round_trip(store: &Store) {
        let old = store.read(|tx| tx.client("client_old")).unwrap().unwrap();
        assert_eq!(
            old.captcha_challenged_at, None,
            "an old client is not doubted"
        );
        for at in [Some(5), None] {
            let c = ClientRecord {
                captcha_challenged_at: at,
                ..old.clone()
            };
            store.write(|tx| tx.save_client(&c)).unwrap();
            let read = store.read(|tx| tx.client("client_old")).unwrap().unwrap();
            assert_eq!(read.captcha_challenged_at, at);
        }
    }

    #[test]
    fn migration_12_adds_captcha_challenges_to_the_clients_of_a_version_11_database() {
        let dir = std::env::temp_dir().join(format!("lk-mig12-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for (_, sql) in super::super::MIGRATIONS.iter().filter(|(v, _)| *v <= 11) {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 11).unwrap();
            conn.execute_batch(
                "INSERT INTO clients (id, token, created_at, updated_at)
                 VALUES ('client_old', 'tok_old', 1, 1)",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            super::super::latest_version()
        );
        captcha_challenge_round_trip(&store);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn migration_11_adds_handshake_nonces_to_a_version_10_database() {
        let dir = std::env::temp_dir().join(format!("lk-mig11-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for (_, sql) in super::super::MIGRATIONS.iter().filter(|(v, _)| *v <= 10) {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 10).unwrap();
            let tables: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'handshake_nonces'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(tables, 0, "version 10 has no handshake nonces");
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            super::super::latest_version()
        );
        handshake_nonces_round_trip(&store);
        std::fs::remove_dir_all(dir).ok();
    }
}
