//! PostgreSQL storage (`--database-url postgres://…`): the same traits as SQLite's, for an
//! instance that several emulator processes share.
//!
//! # Driver and threads
//!
//! The driver is `tokio-postgres` (rust-postgres, the well-kept pure-Rust driver; no libpq, no
//! TLS stack: the database is on loopback or a unix socket). The store's API is synchronous —
//! a closure runs inside one transaction, as with rusqlite — and it is called inline on the
//! caller's thread, which is often a tokio worker (of a multi-thread runtime in the binary, of a
//! current-thread runtime in `#[tokio::test]`s). The sync `postgres` crate cannot serve there: it
//! `block_on`s its own runtime, which panics inside another runtime, and `block_in_place` panics
//! on a current-thread runtime. So each store owns one I/O thread with a current-thread runtime
//! that drives every connection's socket (and the `LISTEN` connection); the calling thread only
//! sends requests to a connection's task and waits for the answer with a plain thread-parking
//! [`block_on`], which needs no runtime. A transaction blocks its caller for its round trips,
//! exactly as a SQLite transaction blocks it for its disk work.
//!
//! # Concurrency
//!
//! SQLite has one writer, and the domain's read-decide-write transactions rely on that. Here
//! every write transaction takes one transaction-scoped advisory lock before its first
//! statement, so writes are serialized across all processes on the database as they are by
//! SQLite's writer, and each statement (READ COMMITTED) sees every earlier commit. The job
//! queue's claim, complete and fail statements do not take it: claims lock rows with
//! `FOR UPDATE SKIP LOCKED` and complete/fail match on the claim (`attempts`), so workers in
//! several processes share the queue without waiting for API writes. Reads are `REPEATABLE
//! READ READ ONLY` snapshots and never wait.
//!
//! # Wakeups
//!
//! A transaction that enqueues a job sends `NOTIFY latchkey_jobs`, one that writes a message
//! `NOTIFY latchkey_commit`; both are delivered at commit to every process's listener, which
//! wakes the same [`tokio::sync::Notify`]s the SQLite store wakes in process. The clock's
//! offset and changes to the instance's values (settings) also travel this way
//! (`latchkey_clock`, `latchkey_instance`).

mod account;
mod areas;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, NoTls, Row, Statement};

use super::StoreError;
use crate::clock::Clock;

/// Numbered PostgreSQL migrations, applied in order, each in its own transaction with the
/// version bump (`latchkey_schema`).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_second_factors.sql")),
    (3, include_str!("migrations/0003_account_management.sql")),
    (4, include_str!("migrations/0004_attack_protection.sql")),
    (5, include_str!("migrations/0005_session_verifications.sql")),
    (6, include_str!("migrations/0006_links.sql")),
    (7, include_str!("migrations/0007_external_accounts.sql")),
    (8, include_str!("migrations/0008_handshake_nonces.sql")),
    (9, include_str!("migrations/0009_captcha_challenges.sql")),
];

/// The advisory lock every write transaction holds: one writer at a time across processes.
const WRITE_LOCK: i64 = 0x4c61_7463_686b_6579; // "Latchkey"
/// The advisory lock migrations hold.
const MIGRATE_LOCK: i64 = 0x4c61_7463_686b_6d67;

/// Connections each process keeps. Writes hold one while they wait for the write lock, so
/// reads still find one.
const POOL: usize = 8;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Database(Box::new(e))
    }
}

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0)
}

/// Runs `fut` to completion on this thread, parking between polls. The futures it runs are a
/// connection's requests, whose I/O the store's own I/O thread does, so no runtime is needed here.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// What the listener hands on to the rest of the process.
#[derive(Debug, Default)]
pub struct Signals {
    /// Jobs were enqueued (here or in another process), or the clock moved.
    pub jobs_ready: Arc<Notify>,
    /// A message was captured or the inbox changed (here or elsewhere).
    pub committed: Arc<Notify>,
    /// Bumped when a process changed the instance's values (settings, keys): re-read them.
    pub settings_epoch: AtomicU64,
    /// The clock whose offset follows the database's.
    clock: Mutex<Option<Arc<Clock>>>,
}

impl Signals {
    fn dispatch(&self, channel: &str, payload: &str) {
        match channel {
            "latchkey_jobs" => self.jobs_ready.notify_waiters(),
            "latchkey_commit" => self.committed.notify_waiters(),
            "latchkey_instance" => {
                self.settings_epoch.fetch_add(1, Ordering::AcqRel);
                self.committed.notify_waiters();
            }
            "latchkey_clock" => {
                if let Ok(offset) = payload.parse::<i64>() {
                    self.raise_clock(offset);
                }
            }
            _ => {}
        }
    }

    fn raise_clock(&self, offset: i64) {
        let clock = self.clock.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(clock) = clock {
            if clock.raise_offset_to(offset) {
                self.jobs_ready.notify_waiters();
                self.committed.notify_waiters();
            }
        }
    }

    /// Everything may have changed (the listener reconnected and may have missed notices).
    fn wake_all(&self) {
        self.settings_epoch.fetch_add(1, Ordering::AcqRel);
        self.jobs_ready.notify_waiters();
        self.committed.notify_waiters();
    }
}

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
}

/// Statements kept per connection (the dynamic filters make a bounded number of shapes).
const STATEMENT_CACHE: usize = 256;

impl Conn {
    fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = block_on(self.client.prepare(sql))?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        block_on(self.client.batch_execute(sql))
    }
}

pub struct PgStore {
    url: String,
    /// The I/O thread's runtime; dropping the sender stops it.
    io: tokio::runtime::Handle,
    _io_stop: tokio::sync::oneshot::Sender<()>,
    pool: Vec<Mutex<Option<Conn>>>,
    next: std::sync::atomic::AtomicUsize,
    pub signals: Arc<Signals>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.write_str("PgStore")
    }
}

/// The label of a database for messages: its name and host, read from the parsed connection
/// string, so no password (in `user:pw@`, `password=` or `?password=`) can reach one.
fn label(url: &str) -> String {
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return "a PostgreSQL database".into();
    };
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    format!(
        "PostgreSQL database {:?} on {host}",
        config.get_dbname().unwrap_or("postgres")
    )
}

#[cfg(test)]
mod label_tests {
    #[test]
    fn a_database_label_carries_no_password_in_any_form() {
        for url in [
            "postgres://latchkey:s3cret@db.internal:5432/lk",
            "postgres://latchkey@db.internal/lk?password=s3cret",
            "host=db.internal dbname=lk user=latchkey password=s3cret",
        ] {
            let label = super::label(url);
            assert!(!label.contains("s3cret"), "{url} gave {label}");
            assert!(
                label.contains("\"lk\"") && label.contains("db.internal"),
                "{label}"
            );
        }
    }
}

/// Whether `e` says the server ended the session (SQLSTATE class 57P: an administrator's
/// `pg_terminate_backend`, a shutdown, a crash restart). The server's FATAL notice can reach the
/// client before its connection task has seen the socket close, so `Client::is_closed` alone
/// misses a connection that is already gone.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error()
            .is_some_and(|d| d.code().code().starts_with("57P") || d.severity() == "FATAL")
}

impl PgStore {
    /// Connects, migrates (one process at a time) and starts the listener.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("latchkey-pg-io".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        let io = handle_rx
            .recv()
            .map_err(|e| StoreError::Database(Box::new(e)))?
            .map_err(|e| StoreError::Database(e.into()))?;
        let store = Self {
            url: url.to_owned(),
            io,
            _io_stop: stop,
            pool: (0..POOL).map(|_| Mutex::new(None)).collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
            signals: Arc::new(Signals::default()),
        };
        {
            let guard = store.conn()?;
            let conn = guard.as_ref().ok_or_else(no_connection)?;
            migrate(conn, &label(url))?;
        }
        store.listen()?;
        Ok(store)
    }

    /// Opens a connection on the I/O thread.
    fn connect(&self) -> Result<Conn, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let url = self.url.clone();
        self.io.spawn(async move {
            let r = tokio_postgres::connect(&url, NoTls)
                .await
                .map(|(client, connection)| {
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::warn!(error = %e, "a PostgreSQL connection ended");
                        }
                    });
                    client
                });
            let _ = tx.send(r);
        });
        let client = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|e| StoreError::Database(Box::new(e)))??;
        // A transaction here never waits on anything but the database, so one left open (its
        // process frozen) is ended by the server instead of holding the write lock forever.
        block_on(client.batch_execute(
            "SET idle_in_transaction_session_timeout = '15s'; SET application_name = 'auth-emulator'",
        ))?;
        Ok(Conn {
            client,
            statements: RefCell::new(HashMap::new()),
        })
    }

    /// A connection of the pool: an idle one, else the next in turn; (re)connected if needed.
    fn conn(&self) -> Result<MutexGuard<'_, Option<Conn>>, StoreError> {
        let mut guard = None;
        for c in &self.pool {
            if let Ok(g) = c.try_lock() {
                guard = Some(g);
                break;
            }
        }
        let mut guard = match guard {
            Some(g) => g,
            None => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
                self.pool[i].lock().unwrap_or_else(|p| p.into_inner())
            }
        };
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            *guard = Some(self.connect()?);
        }
        Ok(guard)
    }

    /// Starts the `LISTEN` connection on the I/O thread; it reconnects by itself.
    fn listen(&self) -> Result<(), StoreError> {
        let url = self.url.clone();
        let signals = self.signals.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
        self.io.spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match tokio_postgres::connect(&url, NoTls).await {
                    Ok((client, mut connection)) => {
                        let outcome = {
                            let listen = client.batch_execute(
                                "LISTEN latchkey_jobs; LISTEN latchkey_commit; \
                             LISTEN latchkey_clock; LISTEN latchkey_instance",
                            );
                            let mut listen = pin!(listen);
                            // Drive the connection while LISTEN runs, then for its notices.
                            let mut listening = false;
                            std::future::poll_fn(|cx| loop {
                                if !listening {
                                    if let Poll::Ready(r) = listen.as_mut().poll(cx) {
                                        if let Err(e) = r {
                                            return Poll::Ready(Err(e.to_string()));
                                        }
                                        listening = true;
                                        if let Some(tx) = ready.take() {
                                            let _ = tx.send(Ok(()));
                                        } else {
                                            signals.wake_all();
                                        }
                                    }
                                }
                                match connection.poll_message(cx) {
                                    Poll::Ready(Some(Ok(AsyncMessage::Notification(n)))) => {
                                        signals.dispatch(n.channel(), n.payload());
                                    }
                                    Poll::Ready(Some(Ok(_))) => {}
                                    Poll::Ready(Some(Err(e))) => {
                                        return Poll::Ready(Err(e.to_string()))
                                    }
                                    Poll::Ready(None) => return Poll::Ready(Ok(())),
                                    Poll::Pending => return Poll::Pending,
                                }
                            })
                            .await
                        };
                        drop(client);
                        if let Err(e) = outcome {
                            tracing::warn!(error = %e, "the PostgreSQL listener disconnected");
                        }
                    }
                    Err(e) => {
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(Err(e.to_string()));
                            return;
                        }
                        tracing::warn!(error = %e, "the PostgreSQL listener cannot reconnect");
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|e| StoreError::Database(Box::new(e)))?
            .map_err(|e| StoreError::Database(e.into()))
    }

    /// Makes `clock` follow the database's offset (read now, then kept by the listener).
    pub fn attach_clock(&self, clock: Arc<Clock>) -> Result<(), StoreError> {
        *self.signals.clock.lock().unwrap_or_else(|p| p.into_inner()) = Some(clock);
        let offset = self.read(|tx| tx.instance_value(CLOCK_OFFSET))?;
        if let Some(v) = offset.and_then(|v| v.parse::<i64>().ok()) {
            self.signals.raise_clock(v);
        }
        Ok(())
    }

    /// Moves the shared clock forward by `ms` for every process; returns the new offset.
    pub fn advance_clock(&self, ms: i64) -> Result<i64, StoreError> {
        let offset = self.with_conn(|conn| {
            let s = conn.statement(
                "INSERT INTO instance (key, value) VALUES ($1, $2::BIGINT::TEXT)
                 ON CONFLICT (key) DO UPDATE SET value = (instance.value::BIGINT + $2)::TEXT
                 RETURNING value",
            )?;
            let row = block_on(conn.client.query_one(&s, &[&CLOCK_OFFSET, &ms]))?;
            let v: String = row.try_get(0)?;
            let offset = v
                .parse::<i64>()
                .map_err(|e| StoreError::Corrupt(format!("clock offset: {e}")))?;
            conn.batch(&format!("NOTIFY latchkey_clock, '{offset}'"))?;
            Ok(offset)
        })?;
        self.signals.raise_clock(offset);
        Ok(offset)
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let guard = self.conn()?;
        let conn = guard.as_ref().ok_or_else(no_connection)?;
        f(conn)
    }

    /// A pooled connection with a transaction begun by `sql`. A connection the server dropped
    /// (a restart, a terminated backend) that the pool had not noticed yet fails here, before
    /// anything was done: it is replaced and the transaction begun once more on the new one.
    fn begin(&self, sql: &str) -> Result<MutexGuard<'_, Option<Conn>>, StoreError> {
        let mut guard = self.conn()?;
        let first = match guard.as_ref() {
            Some(conn) => conn.batch(sql),
            None => return Err(no_connection()),
        };
        match first {
            Ok(()) => Ok(guard),
            Err(e)
                if guard.as_ref().is_some_and(|c| c.client.is_closed()) || connection_lost(&e) =>
            {
                tracing::warn!(error = %e, "a PostgreSQL connection was lost; reconnecting");
                *guard = Some(self.connect()?);
                guard.as_ref().ok_or_else(no_connection)?.batch(sql)?;
                Ok(guard)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `f` in a write transaction, committing only on `Ok`. `enqueued` is set when it
    /// enqueued a job.
    pub fn write<T, E: From<StoreError>>(
        &self,
        enqueued: &AtomicBool,
        f: impl FnOnce(&super::Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let guard = self.begin("BEGIN")?;
        let conn = guard.as_ref().ok_or_else(no_connection)?;
        let open = Open(conn, Cell::new(true));
        let tx = PgTx::<WriteMode> {
            conn,
            locked: Cell::new(false),
            enqueued,
            notified: Cell::new(false),
            _mode: std::marker::PhantomData,
        };
        let out = f(&tx)?;
        open.1.set(false);
        conn.batch("COMMIT").map_err(StoreError::from)?;
        Ok(out)
    }

    /// Runs `f` in a read-only snapshot.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&super::ReadTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let guard = self.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let conn = guard.as_ref().ok_or_else(no_connection)?;
        let open = Open(conn, Cell::new(true));
        let unused = AtomicBool::new(false);
        let tx = PgTx::<ReadMode> {
            conn,
            locked: Cell::new(false),
            enqueued: &unused,
            notified: Cell::new(false),
            _mode: std::marker::PhantomData,
        };
        let out = f(&tx);
        open.1.set(false);
        conn.batch("COMMIT").map_err(StoreError::from)?;
        out
    }

    /// The schema version of the database.
    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.with_conn(|conn| {
            let row = block_on(
                conn.client
                    .query_one("SELECT version FROM latchkey_schema", &[]),
            )?;
            Ok(row.try_get(0)?)
        })
    }

    /// Runs raw SQL outside any transaction (tests that plant rows or drop the schema).
    #[cfg(test)]
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        self.with_conn(|conn| Ok(conn.batch(sql)?))
    }
}

/// Creates a new, empty database (`lk_<random>`) on the server `url` points at and returns
/// the URL of it (tests: each emulator gets a database of its own). Runs on a thread and
/// runtime of its own, so it may be called from anywhere.
#[cfg(any(test, feature = "testing"))]
pub fn create_database(url: &str) -> Result<String, StoreError> {
    create_database_with(url, "")
}

/// [`create_database`] with `options` after `CREATE DATABASE name` (e.g. another locale).
#[cfg(any(test, feature = "testing"))]
fn create_database_with(url: &str, options: &str) -> Result<String, StoreError> {
    let name = format!("lk_{:016x}", rand::random::<u64>());
    let (url, create) = (url.to_owned(), format!("CREATE DATABASE {name} {options}"));
    let base = url.clone();
    std::thread::spawn(move || -> Result<(), StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
            let driver = tokio::spawn(connection);
            client.batch_execute(&create).await?;
            drop(client);
            let _ = driver.await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| StoreError::Database("the database-creating thread panicked".into()))??;
    Ok(with_dbname(&base, &name))
}

/// `url` with its database replaced by `name` (a later `dbname` wins in both forms).
#[cfg(any(test, feature = "testing"))]
fn with_dbname(url: &str, name: &str) -> String {
    if url.contains("://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}dbname={name}")
    } else {
        format!("{url} dbname={name}")
    }
}

/// The instance row holding the clock's offset (ms) shared by every process.
pub const CLOCK_OFFSET: &str = "clock_offset_ms";

fn no_connection() -> StoreError {
    StoreError::Database("no PostgreSQL connection".into())
}

/// Rolls the transaction back unless it was finished (an error or a panic in the closure).
struct Open<'a>(&'a Conn, Cell<bool>);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if self.1.get() {
            if let Err(e) = self.0.batch("ROLLBACK") {
                tracing::warn!(error = %e, "could not roll a PostgreSQL transaction back");
            }
        }
    }
}

/// A transaction that may only read.
pub struct ReadMode;
/// A transaction that may write.
pub struct WriteMode;

trait Mode {
    const WRITE: bool;
}
impl Mode for ReadMode {
    const WRITE: bool = false;
}
impl Mode for WriteMode {
    const WRITE: bool = true;
}

/// PostgreSQL's transaction; the storage traits are implemented for it in `areas.rs`.
pub struct PgTx<'a, M> {
    conn: &'a Conn,
    /// Whether this write transaction holds [`WRITE_LOCK`] yet.
    locked: Cell<bool>,
    enqueued: &'a AtomicBool,
    /// Whether `NOTIFY latchkey_commit` was sent in this transaction.
    notified: Cell<bool>,
    _mode: std::marker::PhantomData<M>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

#[allow(private_bounds)]
impl<M: Mode> PgTx<'_, M> {
    /// Takes the write lock before the first statement of a write transaction that is not
    /// the job queue's own (see the module's documentation).
    fn serialize(&self) -> Result<(), StoreError> {
        if M::WRITE && !self.locked.get() {
            let s = self.conn.statement("SELECT pg_advisory_xact_lock($1)")?;
            block_on(self.conn.client.execute(&s, &[&WRITE_LOCK]))?;
            self.locked.set(true);
        }
        Ok(())
    }

    fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        self.serialize()?;
        self.rows_unlocked(sql, params)
    }

    fn rows_unlocked(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.conn.statement(sql)?;
        Ok(block_on(self.conn.client.query(&s, params))?)
    }

    fn opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    fn one(&self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        self.opt(sql, params)?
            .ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))
    }

    fn exec(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        self.serialize()?;
        self.exec_unlocked(sql, params)
    }

    fn exec_unlocked(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let s = self.conn.statement(sql)?;
        Ok(block_on(self.conn.client.execute(&s, params))?)
    }

    /// Wakes waiters on the inbox in every process once this transaction commits.
    fn notify_commit(&self) -> Result<(), StoreError> {
        if !self.notified.get() {
            self.conn.batch("NOTIFY latchkey_commit")?;
            self.notified.set(true);
        }
        Ok(())
    }

    /// Wakes job workers in every process once this transaction commits.
    fn notify_jobs(&self) -> Result<(), StoreError> {
        if !self.enqueued.swap(true, Ordering::Relaxed) {
            self.conn.batch("NOTIFY latchkey_jobs")?;
        }
        Ok(())
    }
}

fn migrate(conn: &Conn, label: &str) -> Result<(), StoreError> {
    let known = latest_version();
    // Migrations run one process at a time; each re-reads the version under the lock.
    for &(version, sql) in MIGRATIONS {
        conn.batch("BEGIN")?;
        let open = Open(conn, Cell::new(true));
        block_on(
            conn.client
                .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK]),
        )?;
        conn.batch(
            "CREATE TABLE IF NOT EXISTS latchkey_schema (version BIGINT NOT NULL);
             INSERT INTO latchkey_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM latchkey_schema)",
        )?;
        let current: i64 = block_on(
            conn.client
                .query_one("SELECT version FROM latchkey_schema", &[]),
        )?
        .try_get(0)?;
        if current > known {
            return Err(StoreError::TooNew {
                path: label.to_owned(),
                found: current,
                known,
            });
        }
        if current < version {
            conn.batch(sql)?;
            block_on(
                conn.client
                    .execute("UPDATE latchkey_schema SET version = $1", &[&version]),
            )?;
        }
        open.1.set(false);
        conn.batch("COMMIT")?;
    }
    if MIGRATIONS.is_empty() {
        return Ok(());
    }
    // A database newer than this build with every known migration applied.
    let current: i64 = block_on(
        conn.client
            .query_one("SELECT version FROM latchkey_schema", &[]),
    )?
    .try_get(0)?;
    if current > known {
        return Err(StoreError::TooNew {
            path: label.to_owned(),
            found: current,
            known,
        });
    }
    Ok(())
}

/// Applies the migrations up to `version` only (tests of one migration).
#[cfg(test)]
fn migrate_to(conn: &Conn, version: i64) -> Result<(), StoreError> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS latchkey_schema (version BIGINT NOT NULL);
         INSERT INTO latchkey_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM latchkey_schema)",
    )?;
    for &(v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= version) {
        conn.batch("BEGIN")?;
        conn.batch(sql)?;
        block_on(
            conn.client
                .execute("UPDATE latchkey_schema SET version = $1", &[&v]),
        )?;
        conn.batch("COMMIT")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
