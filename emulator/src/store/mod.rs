//! Storage: SQLite (one connection in WAL mode, RAII transactions, numbered embedded
//! migrations) or PostgreSQL (`pg/`, for an instance several processes share), behind the same
//! traits.
//!
//! All SQL lives under this folder. A closure passed to [`Store::write`] runs inside one
//! transaction (`BEGIN IMMEDIATE` on SQLite) that commits only when it returns `Ok`; any error
//! (or a panic) rolls it back, so no request leaves half-written state.

mod account;
mod attempts;
pub(crate) mod clients;
pub(crate) mod external_accounts;
mod instance;
mod jobs;
pub(crate) mod links;
mod messages;
pub(crate) mod mfa;
pub mod pg;
mod protection;
pub mod records;
pub(crate) mod reverify;
mod sessions;
mod users;
mod webhooks;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::Clock;

use tokio::sync::Notify;

use rusqlite::{Connection, TransactionBehavior};

pub use account::{AccountReads, AccountWrites};
pub use attempts::{AttemptsReads, AttemptsWrites};
pub use clients::{ClientsReads, ClientsWrites};
pub use external_accounts::{ExternalAccountsReads, ExternalAccountsWrites};
pub use instance::{InstanceReads, InstanceWrites};
pub use jobs::{JobRecord, JobsReads, JobsWrites, NewJob};
pub use links::{LinksReads, LinksWrites};
pub use messages::{MessagesReads, MessagesWrites};
pub use mfa::{MfaReads, MfaWrites};
pub use protection::{ProtectionReads, ProtectionWrites};
pub use reverify::{ReverifyReads, ReverifyWrites};
pub use sessions::SessionQuery;
pub use sessions::{SessionsReads, SessionsWrites};
pub use users::{UserOrder, UserOrderField, UserQuery, UsersReads, UsersWrites};
pub use webhooks::{AttemptQuery, EndpointRecord, WebhooksReads, WebhooksWrites};

/// The store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (SQLite today); the cause is kept for the log.
    #[error("database error: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    /// The database was written by a newer emulator; this one refuses to touch it.
    #[error(
        "the database at {path} was written by a newer auth-emulator (schema version {found}, this build knows {known}); upgrade auth-emulator or use another --data-dir or --database-url"
    )]
    TooNew {
        /// The database file or URL.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest schema version this build knows.
        known: i64,
    },
    /// Stored data does not read back as what was written.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(Box::new(e))
    }
}

/// A `LIKE … ESCAPE '\\'` pattern matching values that contain `text` literally (its `\\`, `%` and
/// `_` escaped), the same on both stores.
fn like_contains(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Numbered migrations, applied in order, each in its own transaction with the version bump.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_jobs_and_webhooks.sql")),
    (3, include_str!("migrations/0003_client_token_grace.sql")),
    (
        4,
        include_str!("migrations/0004_no_stored_session_tokens.sql"),
    ),
    (5, include_str!("migrations/0005_second_factors.sql")),
    (6, include_str!("migrations/0006_account_management.sql")),
    (7, include_str!("migrations/0007_attack_protection.sql")),
    (8, include_str!("migrations/0008_session_verifications.sql")),
    (9, include_str!("migrations/0009_links.sql")),
    (10, include_str!("migrations/0010_external_accounts.sql")),
    (11, include_str!("migrations/0011_handshake_nonces.sql")),
    (12, include_str!("migrations/0012_captcha_challenges.sql")),
];

/// The emulator's store: SQLite or PostgreSQL behind one `write`/`read` API.
pub struct Store {
    backend: Backend,
    /// Woken after a commit that enqueued jobs (and when the clock moves), in this process or,
    /// on PostgreSQL, in any process on the database: what job workers wait on, so ordinary API
    /// writes do not wake them.
    pub jobs_ready: Arc<Notify>,
    /// Woken after commits that change the inbox in another process (PostgreSQL); the app
    /// wakes it after its own commits.
    pub committed: Arc<Notify>,
}

enum Backend {
    Sqlite(SqliteStore),
    Postgres(pg::PgStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.backend {
            Backend::Sqlite(_) => "Store(SQLite)",
            Backend::Postgres(_) => "Store(PostgreSQL)",
        })
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite database file and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self::sqlite(SqliteStore::open(path)?))
    }

    /// A private in-memory SQLite database.
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(Self::sqlite(SqliteStore::in_memory()?))
    }

    /// Connects to PostgreSQL (`postgres://…` or `host=… dbname=…`) and migrates it.
    pub fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let pg = pg::PgStore::open(url)?;
        Ok(Self {
            jobs_ready: pg.signals.jobs_ready.clone(),
            committed: pg.signals.committed.clone(),
            backend: Backend::Postgres(pg),
        })
    }

    fn sqlite(s: SqliteStore) -> Self {
        Self {
            jobs_ready: s.jobs_ready.clone(),
            committed: Arc::new(Notify::new()),
            backend: Backend::Sqlite(s),
        }
    }

    /// Runs `f` in a write transaction, committing only on `Ok`.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(s) => s.write(f),
            Backend::Postgres(p) => {
                let enqueued = AtomicBool::new(false);
                let out = p.write(&enqueued, f)?;
                if enqueued.load(Ordering::Relaxed) {
                    self.jobs_ready.notify_waiters();
                }
                Ok(out)
            }
        }
    }

    /// Runs `f` in a read transaction; nothing it does is committed.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&ReadTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(s) => s.read(f),
            Backend::Postgres(p) => p.read(f),
        }
    }

    /// Makes `clock` follow the offset every process shares (PostgreSQL); a SQLite store's
    /// clock is its process's own.
    pub fn attach_clock(&self, clock: Arc<Clock>) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(p) => p.attach_clock(clock),
        }
    }

    /// Moves `clock` forward by `ms` — for every process on the database on PostgreSQL —
    /// and wakes the job workers.
    pub fn advance_clock(&self, clock: &Clock, ms: i64) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => {
                clock.advance_ms(ms);
            }
            Backend::Postgres(p) => {
                p.advance_clock(ms.max(0))?;
            }
        }
        self.jobs_ready.notify_waiters();
        self.committed.notify_waiters();
        Ok(clock.now_ms())
    }

    /// Changes when the instance's stored values (settings, keys) were changed by another
    /// process; constant on SQLite.
    pub fn instance_epoch(&self) -> u64 {
        match &self.backend {
            Backend::Sqlite(_) => 0,
            Backend::Postgres(p) => p.signals.settings_epoch.load(Ordering::Acquire),
        }
    }

    /// Runs raw SQL (tests that plant rows as an older emulator wrote them).
    #[cfg(test)]
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.execute_batch(sql),
            Backend::Postgres(p) => p.execute_batch(sql),
        }
    }

    /// The schema version of the open database.
    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.schema_version(),
            Backend::Postgres(p) => p.schema_version(),
        }
    }

    /// The columns of `table` in the open SQLite database.
    #[cfg(test)]
    pub fn column_names(&self, table: &str) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.column_names(table),
            Backend::Postgres(_) => Err(StoreError::Corrupt("SQLite only".into())),
        }
    }
}

/// The SQLite store.
pub struct SqliteStore {
    /// The one connection that writes.
    conn: Mutex<Connection>,
    /// Read-only connections (file databases only).
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Set by a transaction that enqueued a job.
    enqueued: AtomicBool,
    /// Woken after a commit that enqueued jobs.
    jobs_ready: Arc<Notify>,
}

/// What the domain reads, whatever the store: one narrow trait per area, speaking the records
/// of [`records`].
pub trait Read:
    InstanceReads
    + UsersReads
    + ClientsReads
    + SessionsReads
    + AttemptsReads
    + MessagesReads
    + JobsReads
    + WebhooksReads
    + MfaReads
    + ProtectionReads
    + AccountReads
    + ReverifyReads
    + LinksReads
    + ExternalAccountsReads
{
}

impl<T> Read for T where
    T: ?Sized
        + InstanceReads
        + UsersReads
        + ClientsReads
        + SessionsReads
        + AttemptsReads
        + MessagesReads
        + JobsReads
        + WebhooksReads
        + MfaReads
        + ProtectionReads
        + AccountReads
        + ReverifyReads
        + LinksReads
        + ExternalAccountsReads
{
}

/// What the domain reads and changes in one write transaction.
pub trait Write:
    Read
    + InstanceWrites
    + UsersWrites
    + ClientsWrites
    + SessionsWrites
    + AttemptsWrites
    + MessagesWrites
    + JobsWrites
    + WebhooksWrites
    + MfaWrites
    + ProtectionWrites
    + AccountWrites
    + ReverifyWrites
    + LinksWrites
    + ExternalAccountsWrites
{
}

impl<T> Write for T where
    T: ?Sized
        + Read
        + InstanceWrites
        + UsersWrites
        + ClientsWrites
        + SessionsWrites
        + AttemptsWrites
        + MessagesWrites
        + JobsWrites
        + WebhooksWrites
        + MfaWrites
        + ProtectionWrites
        + AccountWrites
        + ReverifyWrites
        + LinksWrites
        + ExternalAccountsWrites
{
}

/// A write transaction as the domain sees it (commits only when the closure returns `Ok`).
pub type Tx<'a> = dyn Write + 'a;
/// A read transaction as the domain sees it: it never takes the writer.
pub type ReadTx<'a> = dyn Read + 'a;

/// SQLite's transaction, read-only (`ReadMode`) or read-write (`WriteMode`); the traits above
/// are implemented for it area by area in this folder.
pub struct SqliteTx<'a, M>(
    &'a rusqlite::Transaction<'a>,
    &'a AtomicBool,
    std::marker::PhantomData<M>,
);

/// A transaction that may only read.
pub struct ReadMode;
/// A transaction that may write.
pub struct WriteMode;

impl<M> SqliteTx<'_, M> {
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

/// Read connections a file database keeps beside its writer (WAL lets them read while it
/// writes).
const READERS: usize = 4;

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it, with a small pool of
    /// read-only connections so reads do not queue behind the writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut store = Self::init(conn, &path.display().to_string())?;
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            reader.busy_timeout(std::time::Duration::from_secs(5))?;
            reader.set_prepared_statement_cache_capacity(128);
            store.readers.push(Mutex::new(reader));
        }
        Ok(store)
    }

    /// A private in-memory database (one connection: memory cannot be shared between them).
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
            readers: Vec::new(),
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            enqueued: AtomicBool::new(false),
            jobs_ready: Arc::new(Notify::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        recover(self.conn.lock())
    }

    /// A read connection: an idle one of the pool, else the next in turn; the writer when
    /// there is no pool (in memory).
    fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.lock();
        }
        for r in &self.readers {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        recover(self.readers[i].lock())
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
        let out = f(&SqliteTx::<WriteMode>(
            &tx,
            &self.enqueued,
            std::marker::PhantomData,
        ))?;
        tx.commit().map_err(StoreError::from)?;
        if self.enqueued.swap(false, Ordering::Relaxed) {
            self.jobs_ready.notify_waiters();
        }
        Ok(out)
    }

    /// Runs `f` in a read transaction; nothing it does is committed.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&ReadTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.reader();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(StoreError::from)?;
        f(&SqliteTx::<ReadMode>(
            &tx,
            &self.enqueued,
            std::marker::PhantomData,
        ))
    }

    /// Runs raw SQL on the writer (tests that plant rows as an older emulator wrote them).
    #[cfg(test)]
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.lock().execute_batch(sql)?)
    }

    /// The schema version of the open database.
    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The columns of `table` in the open database.
    #[cfg(test)]
    pub fn column_names(&self, table: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
        let rows = stmt.query_map([table], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A panic while holding a connection rolled its transaction back on unwind, so the connection
/// is still consistent: recover it rather than poison every later request.
fn recover<'a>(
    r: Result<MutexGuard<'a, Connection>, std::sync::PoisonError<MutexGuard<'a, Connection>>>,
) -> MutexGuard<'a, Connection> {
    r.unwrap_or_else(|p| p.into_inner())
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
        store.read(|tx| tx.user("user_none")).unwrap();
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
        assert_eq!(store.schema_version().unwrap(), latest_version());
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
    fn migration_4_keeps_sessions_and_drops_their_stored_tokens() {
        let dir = std::env::temp_dir().join(format!("lk-mig4-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO sessions (id, client_id, user_id, status, first_factor_at, last_token,
                     last_token_exp, last_active_at, expire_at, abandon_at, created_at, updated_at)
                 VALUES ('sess_1', 'client_1', 'user_1', 'active', 1, 'eyJ.old.jwt', 99, 1, 2, 3, 1, 1)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let s = store
            .read(|tx| tx.session("sess_1"))
            .unwrap()
            .expect("the session is still there");
        assert_eq!((s.user_id.as_str(), s.expire_at), ("user_1", 2));
        let columns = store.column_names("sessions").unwrap();
        assert!(
            !columns.iter().any(|c| c.starts_with("last_token")),
            "no stored token is left behind: {columns:?}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn migration_6_adds_account_tables_that_go_with_their_user_identification_and_session() {
        use crate::store::records::{ImageRecord, PendingCode, SessionActivity};
        let dir = std::env::temp_dir().join(format!("lk-mig6-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute_batch(
                "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);
                 INSERT INTO identifications VALUES
                     ('idn_1', 'user_1', 'email_address', 'a@x.com', 'email_code', 0, 1, 1);
                 INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
                     last_active_at, expire_at, abandon_at, created_at, updated_at)
                     VALUES ('sess_1', 'client_1', 'user_1', 'active', 1, 1, 2, 3, 1, 1);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let code = PendingCode {
            strategy: latchkey_protocol::Strategy::EmailCode.into(),
            code: crate::secret::Secret::new("123456"),
            attempts: 1,
            expire_at: 9,
            status: latchkey_protocol::VerificationStatus::Unverified,
            identification_id: Some("idn_1".into()),
        };
        store
            .write(|tx| {
                tx.save_ident_code("user_1", &code)?;
                tx.save_image(&ImageRecord {
                    id: "img_1".into(),
                    user_id: "user_1".into(),
                    name: "a.png".into(),
                    content_type: "image/png".into(),
                    data: vec![0x89, b'P', b'N', b'G', 0, 255],
                    created_at: 1,
                })?;
                tx.save_session_activity(&SessionActivity {
                    session_id: "sess_1".into(),
                    ip_address: Some("127.0.0.1".into()),
                    user_agent: Some("curl/8".into()),
                    updated_at: 1,
                })
            })
            .unwrap();
        let u = store
            .read(|tx| tx.user_with_idents("user_1"))
            .unwrap()
            .unwrap();
        assert_eq!(u.image_id.as_deref(), Some("img_1"));
        assert_eq!(u.pending_codes.len(), 1, "the unverified address's code");
        assert_eq!(u.pending_codes[0].code.expose(), "123456");
        let img = store.read(|tx| tx.image("img_1")).unwrap().unwrap();
        assert_eq!(
            img.data,
            vec![0x89, b'P', b'N', b'G', 0, 255],
            "bytes kept whole"
        );
        // Removing the identification removes its code; the user, their image.
        store.write(|tx| tx.delete_ident("idn_1")).unwrap();
        assert!(store.read(|tx| tx.ident_code("idn_1")).unwrap().is_none());
        store.write(|tx| tx.delete_user("user_1")).unwrap();
        assert!(store.read(|tx| tx.image("img_1")).unwrap().is_none());
        store.write(|tx| tx.reset_data()).unwrap();
        assert!(store
            .read(|tx| tx.session_activity("sess_1"))
            .unwrap()
            .is_none());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn migration_7_adds_protection_tables_that_forget_a_deleted_user() {
        use records::{LockoutRecord, RateCounterRecord, TestingTokenRecord};
        let dir = std::env::temp_dir().join(format!("lk-mig7-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let lockout = LockoutRecord {
            user_id: "user_1".into(),
            failed_attempts: 3,
            locked_until: Some(99),
            updated_at: 5,
        };
        let counter = RateCounterRecord {
            key: "k".into(),
            window_start: 10,
            window_end: 20,
            count: 2,
        };
        store
            .write(|tx| {
                tx.save_lockout(&lockout)?;
                tx.save_rate_counter(&counter)?;
                tx.save_testing_token(&TestingTokenRecord {
                    token_hash: "h".into(),
                    expires_at: 30,
                    created_at: 1,
                })
            })
            .unwrap();
        assert_eq!(
            store.read(|tx| tx.lockout("user_1")).unwrap(),
            Some(lockout)
        );
        assert_eq!(
            store.read(|tx| tx.rate_counter("k")).unwrap(),
            Some(counter)
        );
        let removed = store
            .write(|tx| {
                Ok::<_, StoreError>((
                    tx.delete_rate_counters_ended_before(21)?,
                    tx.delete_testing_tokens_expired_before(30)?,
                    tx.delete_user("user_1")?,
                ))
            })
            .unwrap();
        assert_eq!(
            removed,
            (1, 0, true),
            "a token expiring at the cutoff stays"
        );
        assert_eq!(
            store.read(|tx| tx.lockout("user_1")).unwrap(),
            None,
            "a deleted user's lockout goes with them"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn migration_5_keeps_sessions_and_adds_second_factors_that_go_with_their_user() {
        use records::{MfaRecord, SecondFactorPhone};
        let dir = std::env::temp_dir().join(format!("lk-mig5-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute_batch(
                "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);
                 INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
                    last_active_at, expire_at, abandon_at, created_at, updated_at)
                    VALUES ('sess_1', 'client_1', 'user_1', 'active', 5, 5, 9, 9, 5, 5);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let s = store.read(|tx| tx.session("sess_1")).unwrap().unwrap();
        assert_eq!(
            (s.first_factor_at, s.second_factor_at),
            (5, None),
            "a session from before has verified no second factor"
        );
        store
            .write(|tx| {
                let mut s = tx.session("sess_1")?.unwrap();
                s.first_factor_at = 6;
                s.second_factor_at = Some(7);
                tx.save_session(&s)?;
                tx.save_mfa(&MfaRecord {
                    user_id: "user_1".into(),
                    totp: None,
                    backup_codes: None,
                    phones: vec![SecondFactorPhone {
                        identification_id: "idn_1".into(),
                        default: true,
                    }],
                    enabled_at: Some(7),
                    disabled_at: None,
                    updated_at: 7,
                })
            })
            .unwrap();
        let s = store.read(|tx| tx.session("sess_1")).unwrap().unwrap();
        assert_eq!((s.first_factor_at, s.second_factor_at), (6, Some(7)));
        let u = store
            .read(|tx| tx.user_with_idents("user_1"))
            .unwrap()
            .unwrap();
        assert_eq!(u.mfa.unwrap().enabled_at, Some(7));
        store.write(|tx| tx.delete_user("user_1")).unwrap();
        assert!(
            store.read(|tx| tx.mfa("user_1")).unwrap().is_none(),
            "second factors go with their user"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    /// A session reverification as the domain writes one.
    pub(crate) fn a_reverification(session_id: &str) -> records::SessionVerificationRecord {
        use latchkey_protocol::{SessionVerificationLevel, SessionVerificationStatus, Strategy};
        records::SessionVerificationRecord {
            id: "sessver_1".into(),
            session_id: session_id.into(),
            level: SessionVerificationLevel::MultiFactor,
            status: SessionVerificationStatus::NeedsSecondFactor,
            wants_first_factor: true,
            wants_second_factor: true,
            first_factor: Some(records::FirstFactor::Password {
                verified: true,
                attempts: 2,
            }),
            second_factor: Some(records::SecondFactor::Code(records::PendingCode {
                strategy: Strategy::PhoneCode.into(),
                code: crate::secret::Secret::new("123456"),
                attempts: 1,
                expire_at: 9,
                status: latchkey_protocol::VerificationStatus::Unverified,
                identification_id: Some("idn_1".into()),
            })),
            created_at: 7,
            updated_at: 8,
        }
    }

    #[test]
    fn migration_8_adds_session_reverifications_that_go_with_their_session() {
        let dir = std::env::temp_dir().join(format!("lk-mig8-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 5) {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 5).unwrap();
            conn.execute_batch(
                "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);
                 INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
                    last_active_at, expire_at, abandon_at, created_at, updated_at)
                    VALUES ('sess_1', 'client_1', 'user_1', 'active', 5, 5, 9, 9, 5, 5);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        assert!(store
            .read(|tx| tx.session_verification("sess_1"))
            .unwrap()
            .is_none());
        store
            .write(|tx| tx.save_session_verification(&a_reverification("sess_1")))
            .unwrap();
        let mut v = store
            .read(|tx| tx.session_verification("sess_1"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (v.status, v.level, v.updated_at),
            (
                latchkey_protocol::SessionVerificationStatus::NeedsSecondFactor,
                latchkey_protocol::SessionVerificationLevel::MultiFactor,
                8
            )
        );
        assert!(matches!(
            v.first_factor,
            Some(records::FirstFactor::Password {
                verified: true,
                attempts: 2
            })
        ));
        // Saved again: replaced, not added.
        v.status = latchkey_protocol::SessionVerificationStatus::Complete;
        store.write(|tx| tx.save_session_verification(&v)).unwrap();
        let v = store
            .read(|tx| tx.session_verification("sess_1"))
            .unwrap()
            .unwrap();
        assert_eq!(
            v.status,
            latchkey_protocol::SessionVerificationStatus::Complete
        );
        // A reverification needs its session, and goes with it.
        assert!(store
            .write(|tx| tx.save_session_verification(&a_reverification("sess_none")))
            .is_err());
        store.write(|tx| tx.reset_data()).unwrap();
        assert!(store
            .read(|tx| tx.session_verification("sess_1"))
            .unwrap()
            .is_none());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn reads_of_a_file_database_do_not_wait_for_the_writer() {
        let dir = std::env::temp_dir().join(format!("lk-readers-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = std::sync::Arc::new(Store::open(&dir.join("db.sqlite")).unwrap());
        store
            .write(|tx| tx.set_instance_value("k", "committed"))
            .unwrap();
        let (holding, held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                store
                    .write(|tx| {
                        tx.set_instance_value("k", "uncommitted")?;
                        holding.send(()).ok();
                        released.recv().ok();
                        Ok::<_, StoreError>(())
                    })
                    .unwrap();
            })
        };
        held.recv().unwrap();
        // The writer holds its transaction open; a read goes through a reader connection and
        // sees the last committed value.
        let v = store.read(|tx| tx.instance_value("k")).unwrap();
        assert_eq!(v.as_deref(), Some("committed"));
        release.send(()).unwrap();
        writer.join().unwrap();
        let v = store.read(|tx| tx.instance_value("k")).unwrap();
        assert_eq!(v.as_deref(), Some("uncommitted"), "then sees the commit");
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
