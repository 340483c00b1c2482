//! SQLite storage: one connection in WAL mode, RAII transactions, numbered embedded migrations.
//!
//! All SQL lives under this folder. A closure passed to [`Store::write`] runs inside one
//! `BEGIN IMMEDIATE` transaction that commits only when it returns `Ok`; any error (or a panic)
//! rolls it back, so no request leaves half-written state.

mod attempts;
mod clients;
mod instance;
mod jobs;
mod messages;
pub mod records;
mod sessions;
mod users;
mod webhooks;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use rusqlite::{Connection, TransactionBehavior};

pub use jobs::{JobRecord, NewJob};
pub use sessions::SessionQuery;
pub use users::{UserOrder, UserOrderField, UserQuery};
pub use webhooks::{AttemptQuery, AttemptRecord, EndpointRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database at {path} was written by a newer auth-emulator (schema version {found}, this build knows {known}); upgrade auth-emulator or use another --data-dir"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// Numbered migrations, applied in order, each in its own transaction with the version bump.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_jobs_and_webhooks.sql")),
    (3, include_str!("migrations/0003_client_token_grace.sql")),
];

pub struct Store {
    conn: Mutex<Connection>,
    /// Set by a transaction that enqueued a job.
    enqueued: AtomicBool,
    /// Woken after a commit that enqueued jobs (and when the clock moves): what job workers wait
    /// on, so ordinary API writes do not wake them.
    pub jobs_ready: Notify,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// A transaction handed to store closures. SQL methods are grouped by area in this folder.
pub struct Tx<'a>(&'a rusqlite::Transaction<'a>, &'a AtomicBool);

impl Tx<'_> {
    /// Executes one statement through the connection's statement cache.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.0.prepare_cached(sql)?.execute(params)
    }

    /// Reads one row through the connection's statement cache.
    fn row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.0.prepare_cached(sql)?.query_row(params, f)
    }
}

impl Store {
    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn, &path.display().to_string())
    }

    /// A private in-memory database.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(mut conn: Connection, label: &str) -> Result<Self, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(256);
        migrate(&mut conn, label)?;
        Ok(Self {
            conn: Mutex::new(conn),
            enqueued: AtomicBool::new(false),
            jobs_ready: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back on unwind, so the
        // connection is still consistent: recover it rather than poison every later request.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`), committing only on `Ok`.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        self.enqueued.store(false, Ordering::Relaxed);
        let out = f(&Tx(&tx, &self.enqueued))?;
        tx.commit().map_err(StoreError::from)?;
        if self.enqueued.swap(false, Ordering::Relaxed) {
            self.jobs_ready.notify_waiters();
        }
        Ok(out)
    }

    /// Runs `f` in a read transaction; nothing it does is committed.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(StoreError::from)?;
        f(&Tx(&tx, &self.enqueued))
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0)
}

fn migrate(conn: &mut Connection, label: &str) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = latest_version();
    if current > known {
        return Err(StoreError::TooNew {
            path: label.to_owned(),
            found: current,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

fn json_map(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("metadata: {e}")))
}

fn json_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

fn corrupt(e: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(e)),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_migration_applies_on_an_empty_database_and_bumps_the_version() {
        let store = Store::in_memory().unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        // Tables of migration 1 exist.
        store
            .read(|tx| {
                tx.0.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))
                    .map_err(StoreError::from)
            })
            .unwrap();
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let dir = std::env::temp_dir().join(format!("lk-store-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", latest_version() + 1)
                .unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }));
        assert!(err.to_string().contains("newer auth-emulator"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn migration_2_keeps_messages_written_by_version_1_visible() {
        let dir = std::env::temp_dir().join(format!("lk-mig-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0].1).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO messages (id, kind, to_addr, body_text, code, template, created_at)
                 VALUES ('ema_1', 'email', 'old@example.com', 'hi 123456', '123456', 'verification_code', 1)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let msgs = store
            .read(|tx| tx.messages(Some("old@example.com"), None, 10))
            .unwrap();
        assert_eq!(
            msgs.len(),
            1,
            "a message captured before jobs existed stays in the inbox"
        );
        assert_eq!(msgs[0].status, "captured");
        assert!(store.read(|tx| tx.busy_jobs(0)).unwrap() == 0);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn migration_3_expires_tokens_replaced_before_it() {
        let dir = std::env::temp_dir().join(format!("lk-mig3-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0].1).unwrap();
            conn.execute_batch(MIGRATIONS[1].1).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO clients (id, token, prev_token, created_at, updated_at)
                 VALUES ('client_1', 'current', 'replaced', 1, 1)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 3);
        let c = store
            .read(|tx| tx.client_by_token("replaced"))
            .unwrap()
            .expect("the row is still found by its old token");
        assert_eq!(c.token.expose(), "current");
        assert_eq!(
            c.prev_token_expires_at, None,
            "an old row's replaced token has no grace window, so the domain refuses it"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_failed_write_rolls_back() {
        let store = Store::in_memory().unwrap();
        let r: Result<(), StoreError> = store.write(|tx| {
            tx.set_instance_value("k", "v")?;
            Err(StoreError::Corrupt("boom".into()))
        });
        assert!(r.is_err());
        let v = store.read(|tx| tx.instance_value("k")).unwrap();
        assert_eq!(v, None);
    }
}
