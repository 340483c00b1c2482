#![recursion_limit = "256"]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
//! Latchkey's auth emulator: a Clerk-compatible Frontend API and Backend API, captured email and
//! SMS, and a controllable clock, on one port, backed by SQLite (in memory or in a data
//! directory) or PostgreSQL.
//!
//! The `auth-emulator` binary is the usual way to run it; this library starts the same server
//! inside a test process, each emulator on its own free port, so tests run side by side:
//!
//! ```
//! use latchkey_emulator::Emulator;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::builder().ephemeral().start().await?; // 127.0.0.1, a free port
//!
//! // SDKs find it through its publishable key, as they find Clerk in production.
//! let frontend_api = latchkey_protocol::keys::frontend_api_url(emu.publishable_key());
//! assert_eq!(frontend_api.as_deref(), Some(emu.url()));
//!
//! // The Backend API answers the secret key at the same origin.
//! let users: serde_json::Value = reqwest::Client::new()
//!     .get(format!("{}/v1/users", emu.url()))
//!     .bearer_auth(emu.secret_key())
//!     .send().await?.error_for_status()?.json().await?;
//! assert_eq!(users, serde_json::json!([]));
//!
//! // Time is the emulator's: advancing it expires every session token minted so far (60 s).
//! let before = emu.clock().now_ms();
//! emu.clock().advance_ms(61_000);
//! assert!(emu.clock().now_ms() >= before + 61_000);
//!
//! emu.shutdown().await; // finishes in-flight requests and background jobs
//! # Ok(()) }
//! ```
//!
//! The public surface is [`Emulator::builder`], the [`EmulatorBuilder`], the running
//! [`Emulator`] handle, the shared [`Clock`], [`export`] and [`import`] of an instance, and the
//! errors of each. Everything else is the emulator's own; Latchkey's tests reach the few
//! internals they check through the `testing` feature (its `testing` module), which only
//! `latchkey-testkit` turns on and which is not part of the emulator's interface.

mod app;
mod clock;
mod delivery;
mod domain;
mod http;
mod jobs;
mod keys;
mod oidc;
mod secret;
mod serve;
pub mod snippets;
mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::Layer;

use app::{App, InstanceOptions};
use secret::Secret;
use serve::ServerLimits;

pub use app::OpenError;
pub use clock::Clock;
pub use domain::transfer::{Counts, ImportError};
pub use domain::DomainError;
pub use keys::KeyError;
pub use store::StoreError;

/// The database's file name in a data directory.
const DB_FILE: &str = "emulator.sqlite3";

/// Why [`EmulatorBuilder::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another process listens on the port: pick another, or port 0 for a free one.
    #[error("port {port} on {host} is already in use")]
    PortInUse {
        /// The host asked for.
        host: IpAddr,
        /// The port asked for.
        port: u16,
    },
    /// The socket could not be bound for another reason (no such address, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The data directory or its database file could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The instance could not be opened or created (keys, settings, secret key).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The store could not be opened (or its schema is newer than this build).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A start-time change (a `--webhook-url` endpoint) was refused.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The [`import`](EmulatorBuilder::import) document cannot be applied; nothing was.
    #[error("--import: {0}")]
    Import(#[from] ImportError),
}

/// Where an instance's data lives, for [`export`] and [`import`].
#[derive(Clone)]
pub enum Database {
    /// A SQLite data directory (`--data-dir`).
    DataDir(PathBuf),
    /// A PostgreSQL database (`--database-url`).
    Url(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DataDir(d) => write!(f, "DataDir({})", d.display()),
            // The URL may carry a password.
            Self::Url(_) => f.write_str("Url(…)"),
        }
    }
}

/// Why an [`export`] or [`import`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// [`export`] found no database in the data directory.
    #[error("no emulator database in {0}")]
    NoDatabase(PathBuf),
    /// [`import`] could not create the data directory.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The document cannot be applied; nothing was.
    #[error("the document cannot be imported: {0}")]
    Import(#[from] ImportError),
    /// The export could not be serialized.
    #[error("cannot write the document: {0}")]
    Encode(String),
}

fn open_database(db: &Database, create: bool) -> Result<store::Store, TransferError> {
    match db {
        Database::Url(url) => Ok(store::Store::open_postgres(url)?),
        Database::DataDir(dir) => {
            let file = dir.join(DB_FILE);
            if !create && !file.exists() {
                return Err(TransferError::NoDatabase(dir.clone()));
            }
            private_data_dir(dir, &file).map_err(|e| TransferError::DataDir {
                path: dir.clone(),
                source: e,
            })?;
            Ok(store::Store::open(&file)?)
        }
    }
}

/// The instance in `db` as one versioned JSON document: users (with password digests,
/// identifications, metadata, and their accounts at OAuth providers with access tokens),
/// webhook endpoints (with their secrets), redirect URLs and settings. Keep it as private as
/// the database: it holds secrets.
pub fn export(db: &Database) -> Result<String, TransferError> {
    let store = open_database(db, false)?;
    let doc = store.read(|tx| domain::transfer::export(tx))?;
    serde_json::to_string_pretty(&doc).map_err(|e| TransferError::Encode(e.to_string()))
}

/// Applies an [`export`] document to the instance in `db` (created if new) in one
/// transaction: everything or, with the reason and where in the document, nothing. Returns
/// how many of each were added.
pub fn import(db: &Database, document: &str) -> Result<Counts, TransferError> {
    let doc = domain::transfer::parse(document)?;
    let store = open_database(db, true)?;
    Ok(store.write(|tx| domain::transfer::import(tx, &doc))?)
}

/// Configures an emulator. Defaults: 127.0.0.1, an ephemeral port, in-memory storage.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    host: IpAddr,
    port: u16,
    data_dir: Option<PathBuf>,
    /// PostgreSQL instead of SQLite (`postgres://…`).
    database_url: Option<Secret>,
    /// An export document to apply before serving (fixtures): it holds password digests and
    /// webhook secrets, so `Debug` leaves it out.
    import: Option<Secret>,
    options: InstanceOptions,
    clock: Option<Arc<Clock>>,
    webhook_url: Option<String>,
    workers: usize,
    limits: ServerLimits,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            data_dir: None,
            database_url: None,
            import: None,
            options: InstanceOptions::default(),
            clock: None,
            webhook_url: None,
            workers: 4,
            limits: ServerLimits::default(),
        }
    }
}

impl EmulatorBuilder {
    /// Keep everything in memory (the default for the library).
    pub fn ephemeral(mut self) -> Self {
        self.data_dir = None;
        self
    }

    /// Keep the database and keys in this directory (created if missing); SQLite.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self.database_url = None;
        self
    }

    /// Keep everything in this PostgreSQL database (`postgres://user@host/db` or
    /// `host=… dbname=…`), which other emulator processes may share. The first process creates
    /// the instance and its keys; the others use them.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(Secret::new(url));
        self.data_dir = None;
        self
    }

    /// Applies this [`export`] document (fixtures) in one transaction before serving; a start
    /// with a document that cannot be applied whole fails, saying where.
    pub fn import(mut self, document: impl Into<String>) -> Self {
        self.import = Some(Secret::new(document.into()));
        self
    }

    /// The address to listen on (default 127.0.0.1). On a non-loopback address the control
    /// API and pages need the secret key.
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// 0 picks a free port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Use this secret key (`sk_test_…`) instead of generating one on first start, for
    /// reproducible configuration.
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.options.secret_key = Some(Secret::new(key));
        self
    }

    /// Use this publishable key; it encodes the Frontend API host clients are told (e.g. a
    /// proxy's) instead of the listening address.
    pub fn publishable_key(mut self, key: impl Into<String>) -> Self {
        self.options.publishable_key = Some(key.into());
        self
    }

    /// Sign with this RSA key (base64 of PKCS#8 DER) instead of generating one.
    pub fn signing_key(mut self, pkcs8_base64: impl Into<String>) -> Self {
        self.options.signing_key = Some(Secret::new(pkcs8_base64));
        self
    }

    /// Production-strength argon2id parameters for new password hashes.
    pub fn production_passwords(mut self, on: bool) -> Self {
        self.options.production_passwords = on;
        self
    }

    /// Also deliver emails to this SMTP server (`smtp://host:port`).
    pub fn smtp_url(mut self, url: impl Into<String>) -> Self {
        self.options.smtp_url = Some(url.into());
        self
    }

    /// Serve clerk-js and `@clerk/ui` at `/npm/@clerk/…` from this folder: a `node_modules`
    /// holding `@clerk/clerk-js` (and `@clerk/ui`), or a folder with such a `node_modules`.
    pub fn clerk_js_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.clerk_js_dir = Some(dir.into());
        self
    }

    /// Deliver every webhook event to this URL (signed with the instance's webhook secret).
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// Workers for normal and low-priority jobs (one more always serves messages).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// A client must send a whole request head within this long of connecting or of its
    /// previous response (default 10 s).
    pub fn header_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// A connection with no bytes moving either way for this long is closed (default 90 s).
    pub fn idle_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// Connections served at once (default 512); more wait in the listen backlog.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n.max(1);
        self
    }

    /// Share a clock (e.g. with a test that advances it directly).
    pub fn clock(mut self, clock: Arc<Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Binds, opens the store (creating the instance on first start) and starts serving.
    pub async fn start(self) -> Result<Emulator, StartError> {
        let addr = SocketAddr::new(self.host, self.port);
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                StartError::PortInUse {
                    host: self.host,
                    port: self.port,
                }
            } else {
                StartError::Bind { addr, source: e }
            }
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| StartError::Bind { addr, source: e })?;
        let fixtures = self
            .import
            .as_ref()
            .map(|d| domain::transfer::parse(d.expose()))
            .transpose()?;
        let store = match (&self.database_url, &self.data_dir) {
            (Some(url), _) => store::Store::open_postgres(url.expose())?,
            (None, None) => store::Store::in_memory()?,
            (None, Some(dir)) => {
                let db = dir.join(DB_FILE);
                private_data_dir(dir, &db).map_err(|e| StartError::DataDir {
                    path: dir.clone(),
                    source: e,
                })?;
                store::Store::open(&db)?
            }
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(Clock::system()));
        store.attach_clock(clock.clone())?;
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]:{}", local.port()),
            IpAddr::V4(ip) => format!("{ip}:{}", local.port()),
        };
        if let Some(doc) = &fixtures {
            store.write(|tx| domain::transfer::import(tx, doc))?;
        }
        let app = App::open(store, clock, &host, local.ip().is_loopback(), self.options)?;
        if let Some(url) = &self.webhook_url {
            app.ensure_endpoint(url)?;
        }
        let workers = jobs::start(app.clone(), self.workers)?;
        let router = http::router(app.clone());
        let service = axum::middleware::from_fn(http::method_override).layer(router);
        let (tx, rx) = oneshot::channel::<()>();
        let stopping = app.clone();
        let limits = self.limits;
        let task = tokio::spawn(async move {
            serve::serve(listener, service, limits, rx, move || {
                stopping.stopping.send_replace(true);
            })
            .await;
            // In-flight requests are done; let each worker finish its job.
            workers.stop().await;
        });
        Ok(Emulator {
            addr: local,
            app,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// Creates the data directory (0700) and the database file (0600) so that only this user can
/// read them: they hold the signing key, the secret key, webhook secrets and client tokens.
/// SQLite gives its `-wal` and `-shm` files the database file's mode. An existing directory that
/// others can read is used as it is, with a warning.
fn private_data_dir(dir: &std::path::Path, db: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory is readable by other users; it holds the instance's keys (chmod 700 it)"
            );
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db)?;
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    addr: SocketAddr,
    app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts configuring an emulator: in memory, on 127.0.0.1 and a free port.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address it listens on (with the port picked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of every surface, e.g. `http://127.0.0.1:4100` (Frontend API, Backend API at
    /// the same origin, control API under `/_emulator/v1`).
    pub fn url(&self) -> &str {
        &self.app.fapi_url
    }

    /// The publishable key (`pk_test_…`) SDKs are configured with.
    pub fn publishable_key(&self) -> &str {
        &self.app.publishable_key
    }

    /// The secret key (`sk_test_…`) for the Backend API.
    pub fn secret_key(&self) -> &str {
        self.app.secret_key.expose()
    }

    /// The `whsec_…` secret that signs deliveries to the
    /// [`webhook_url`](EmulatorBuilder::webhook_url).
    pub fn webhook_secret(&self) -> &str {
        self.app.webhook_secret.expose()
    }

    /// The instance's id (`ins_…`), as webhook events carry it in `instance_id`.
    pub fn instance_id(&self) -> &str {
        &self.app.instance_id
    }

    /// The PEM of the token-signing public key (waits for the key on a first start).
    pub fn public_key_pem(&self) -> Result<String, KeyError> {
        Ok(self.app.signing_key.get()?.public_key_pem().to_owned())
    }

    /// The emulator's clock, to advance or to share (e.g. as an SDK's time source).
    pub fn clock(&self) -> &Arc<Clock> {
        &self.app.clock
    }

    /// Stops accepting connections, finishes in-flight requests, and waits.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Waits until the server stops (for the CLI).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A handle that triggers shutdown from elsewhere (a signal handler).
    pub fn shutdown_trigger(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
