//! The one shared state of an emulator: store, clock, keys, settings. Handed to handlers as
//! `Arc<App>`; several can live in one process.

use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::domain::passwords::{PasswordHasher, PasswordResults};

static NO_PASSWORD_RESULTS: PasswordResults = PasswordResults::NONE;
use crate::domain::settings::Settings;
use crate::domain::{DomainError, Env};
use crate::keys::{self, KeySlot, SigningKey};
use crate::secret::Secret;
use crate::store::{Store, StoreError};

pub struct App {
    pub store: Store,
    pub clock: Arc<Clock>,
    pub instance_id: String,
    pub signing_key: KeySlot,
    /// Each session's newest session token (see [`crate::domain::tokens::TokenCache`]).
    pub token_cache: crate::domain::tokens::TokenCache,
    /// Session tokens signed so far (what the tests count to see that nothing is signed twice).
    pub tokens_signed: std::sync::atomic::AtomicU64,
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    pub publishable_key: String,
    /// The Frontend API URL, e.g. `http://127.0.0.1:4100`: the `iss` of session tokens.
    pub fapi_url: String,
    pub hasher: PasswordHasher,
    /// Whether the emulator listens on loopback only (the control API needs no key then).
    pub loopback: bool,
    settings: RwLock<Arc<Settings>>,
    /// The store's [`Store::instance_epoch`] the settings were read at: on a shared store,
    /// another process's change is read again at the next use.
    settings_epoch: std::sync::atomic::AtomicU64,
    /// Woken after every committed write (and, on a shared store, another process's commits to
    /// the inbox), so `/messages/latest?wait_ms=` can wait for a message.
    pub committed: Arc<Notify>,
    /// Outgoing HTTP for webhook deliveries: 15 s timeout, no redirects.
    pub http: reqwest::Client,
    /// Where emails also go, when set (`--smtp-url`).
    pub smtp: Option<crate::delivery::Smtp>,
    /// [`InstanceOptions::clerk_js_dir`].
    pub clerk_js_dir: Option<std::path::PathBuf>,
    /// Turns true when shutdown begins: long-lived responses (the message stream) end then.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("instance_id", &self.instance_id)
            .field("fapi_url", &self.fapi_url)
            .finish_non_exhaustive()
    }
}

/// Key material and options fixed from outside (flags, environment, tests).
#[derive(Debug, Default, Clone)]
pub struct InstanceOptions {
    pub secret_key: Option<Secret>,
    pub publishable_key: Option<String>,
    /// Base64 PKCS#8 of an RSA key to sign with instead of a generated one.
    pub signing_key: Option<Secret>,
    pub production_passwords: bool,
    /// `smtp://host:port`: emails are also delivered there.
    pub smtp_url: Option<String>,
    /// Where `/npm/@clerk/…` serves clerk-js and its UI from (a `node_modules`, or a folder
    /// holding one): browser mode offline.
    pub clerk_js_dir: Option<std::path::PathBuf>,
}

const K_INSTANCE_ID: &str = "instance_id";
const K_SECRET_KEY: &str = "secret_key";
const K_SIGNING_KEY: &str = "signing_key";
const K_WEBHOOK_SECRET: &str = "webhook_secret";

/// Why an instance could not be opened or created.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing key could not be generated or read back.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The stored settings do not parse.
    #[error("stored settings are invalid: {0}")]
    Settings(String),
    /// [`EmulatorBuilder::secret_key`](crate::EmulatorBuilder::secret_key) is not `sk_test_…` or
    /// `sk_live_…`.
    #[error("--secret-key must start with sk_test_ or sk_live_")]
    BadSecretKey,
    /// The HTTP client for webhook deliveries could not be made.
    #[error("cannot set up the HTTP client: {0}")]
    Http(String),
    /// [`EmulatorBuilder::smtp_url`](crate::EmulatorBuilder::smtp_url) is not a usable SMTP URL.
    #[error("--smtp-url: {0}")]
    Smtp(String),
}

impl App {
    /// Loads the instance from the store, creating its keys on first start. A new RSA signing
    /// key is generated on a background thread (it takes 100–300 ms), persisted, then
    /// published; requests that need it wait for it, everything else is served at once.
    pub fn open(
        store: Store,
        clock: Arc<Clock>,
        fapi_host: &str,
        loopback: bool,
        opts: InstanceOptions,
    ) -> Result<Arc<Self>, OpenError> {
        let settings_epoch = store.instance_epoch();
        let committed = store.committed.clone();
        // On a shared store processes starting together serialize here: the first creates the
        // instance and its keys, the others read them.
        let (instance_id, secret_key, signing_key, webhook_secret, settings) =
            store.write(|tx| -> Result<_, OpenError> {
                let instance_id = match tx.instance_value(K_INSTANCE_ID)? {
                    Some(id) => id,
                    None => {
                        let id = crate::domain::ids::new_id("ins");
                        tx.set_instance_value(K_INSTANCE_ID, &id)?;
                        id
                    }
                };
                let secret_key = match (&opts.secret_key, tx.instance_value(K_SECRET_KEY)?) {
                    (Some(given), _) => {
                        let v = given.expose();
                        if !(v.starts_with("sk_test_") || v.starts_with("sk_live_")) || v.len() < 12
                        {
                            return Err(OpenError::BadSecretKey);
                        }
                        tx.set_instance_value(K_SECRET_KEY, v)?;
                        given.clone()
                    }
                    (None, Some(stored)) => Secret::new(stored),
                    (None, None) => {
                        let k = keys::new_secret_key();
                        tx.set_instance_value(K_SECRET_KEY, k.expose())?;
                        k
                    }
                };
                let signing_key = match (&opts.signing_key, tx.instance_value(K_SIGNING_KEY)?) {
                    (Some(given), _) => {
                        let k = SigningKey::from_stored(instance_id.clone(), given.expose())?;
                        tx.set_instance_value(K_SIGNING_KEY, given.expose())?;
                        Some(k)
                    }
                    (None, Some(stored)) => {
                        Some(SigningKey::from_stored(instance_id.clone(), &stored)?)
                    }
                    (None, None) => None,
                };
                let webhook_secret = match tx.instance_value(K_WEBHOOK_SECRET)? {
                    Some(s) => Secret::new(s),
                    None => {
                        let s = keys::new_webhook_secret();
                        tx.set_instance_value(K_WEBHOOK_SECRET, s.expose())?;
                        s
                    }
                };
                let settings = match tx.instance_value(crate::domain::settings::STORE_KEY)? {
                    Some(json) => serde_json::from_str::<Settings>(&json)
                        .map_err(|e| OpenError::Settings(e.to_string()))?,
                    None => Settings::default(),
                };
                Ok((
                    instance_id,
                    secret_key,
                    signing_key,
                    webhook_secret,
                    settings,
                ))
            })?;
        let publishable_key = opts
            .publishable_key
            .clone()
            .unwrap_or_else(|| latchkey_protocol::keys::publishable_key_for_host(fapi_host));
        let generate = signing_key.is_none();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OpenError::Http(e.to_string()))?;
        let smtp = opts
            .smtp_url
            .as_deref()
            .map(crate::delivery::Smtp::from_url)
            .transpose()
            .map_err(OpenError::Smtp)?;
        let app = Arc::new(Self {
            store,
            clock,
            signing_key: match signing_key {
                Some(k) => KeySlot::ready(k),
                None => KeySlot::pending(),
            },
            token_cache: Default::default(),
            tokens_signed: Default::default(),
            instance_id,
            secret_key,
            webhook_secret,
            publishable_key,
            fapi_url: format!("http://{fapi_host}"),
            hasher: if opts.production_passwords {
                PasswordHasher::production()
            } else {
                PasswordHasher::fast()
            },
            loopback,
            settings: RwLock::new(Arc::new(settings)),
            settings_epoch: std::sync::atomic::AtomicU64::new(settings_epoch),
            committed,
            http,
            smtp,
            clerk_js_dir: opts.clerk_js_dir.clone(),
            stopping: tokio::sync::watch::Sender::new(false),
        });
        if generate {
            let slot = app.signing_key.clone();
            let weak = Arc::downgrade(&app);
            let kid = app.instance_id.clone();
            std::thread::Builder::new()
                .name("latchkey-keygen".into())
                .spawn(move || {
                    // Persist first, then publish: no token is ever signed by a key that a
                    // crash could lose. A process sharing the store may have stored one first:
                    // then that one is the instance's key, and this one is dropped.
                    let key = SigningKey::generate(kid.clone()).and_then(|k| {
                        let Some(app) = weak.upgrade() else {
                            return Ok(k);
                        };
                        app.store
                            .write(|tx| -> Result<SigningKey, OpenError> {
                                match tx.instance_value(K_SIGNING_KEY)? {
                                    Some(stored) => Ok(SigningKey::from_stored(kid, &stored)?),
                                    None => {
                                        let stored = k.to_stored();
                                        tx.set_instance_value(K_SIGNING_KEY, stored.expose())?;
                                        Ok(k)
                                    }
                                }
                            })
                            .map_err(|e| keys::KeyError::Generate(e.to_string()))
                    });
                    if let Err(e) = &key {
                        tracing::error!(error = %e, "could not create the signing key");
                    }
                    slot.fulfil(key);
                })
                .map_err(|e| OpenError::Keys(keys::KeyError::Generate(e.to_string())))?;
        }
        Ok(app)
    }

    pub fn settings(&self) -> Arc<Settings> {
        let epoch = self.store.instance_epoch();
        if epoch
            != self
                .settings_epoch
                .load(std::sync::atomic::Ordering::Acquire)
        {
            self.reload_settings(epoch);
        }
        self.settings
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Reads the settings another process stored (a shared store told us they changed). On a
    /// failure the settings in hand stay, and the next use tries again.
    fn reload_settings(&self, epoch: u64) {
        let stored = self
            .store
            .read(|tx| tx.instance_value(crate::domain::settings::STORE_KEY));
        let next = match stored {
            Ok(Some(json)) => match serde_json::from_str::<Settings>(&json) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "the stored settings are invalid");
                    return;
                }
            },
            Ok(None) => Settings::default(),
            Err(e) => {
                tracing::error!(error = %e, "could not read the settings");
                return;
            }
        };
        self.settings_epoch
            .store(epoch, std::sync::atomic::Ordering::Release);
        match self.settings.write() {
            Ok(mut s) => *s = Arc::new(next),
            Err(p) => *p.into_inner() = Arc::new(next),
        }
    }

    /// Moves the emulator's clock forward by `ms` (for every process sharing the store) and
    /// wakes what waits on it; returns the new time.
    pub fn advance_clock(&self, ms: i64) -> Result<i64, DomainError> {
        Ok(self.store.advance_clock(&self.clock, ms)?)
    }

    /// Validates, stores and applies new settings.
    pub fn set_settings(&self, next: Settings) -> Result<(), DomainError> {
        let json =
            serde_json::to_string(&next).map_err(|e| DomainError::Internal(e.to_string()))?;
        self.store
            .write(|tx| tx.set_instance_value(crate::domain::settings::STORE_KEY, &json))?;
        match self.settings.write() {
            Ok(mut s) => *s = Arc::new(next),
            Err(p) => *p.into_inner() = Arc::new(next),
        }
        Ok(())
    }

    /// The context of a domain operation serving `request` (`&RequestInfo::NONE` for
    /// background work).
    pub fn env<'a>(
        &'a self,
        settings: &'a Settings,
        now: i64,
        origin: Option<&'a str>,
        request: &'a crate::domain::RequestInfo,
    ) -> Env<'a> {
        Env {
            now,
            settings,
            tokens: None,
            token_cache: &self.token_cache,
            issuer: &self.fapi_url,
            fapi_url: &self.fapi_url,
            hasher: &self.hasher,
            passwords: &NO_PASSWORD_RESULTS,
            origin,
            browser: false,
            testing: false,
            instance_id: &self.instance_id,
            request,
        }
    }

    /// Makes sure an endpoint for `url` exists (`--webhook-url`), signed with the instance's
    /// webhook secret.
    pub fn ensure_endpoint(&self, url: &str) -> Result<(), DomainError> {
        let now = self.clock.now_ms();
        self.write(|tx| {
            if !tx.endpoints()?.iter().any(|e| e.url == url) {
                crate::domain::webhooks::create_endpoint(
                    tx,
                    now,
                    url,
                    Vec::new(),
                    Some(self.webhook_secret.clone()),
                )?;
            }
            Ok(())
        })
    }

    /// Whether `origin` (an `Origin` header) is the emulator's own: `http://` and a loopback
    /// name (`127.0.0.1`, `localhost`, `[::1]`, `*.localhost`) on the bound port, or exactly the
    /// Frontend API URL. Pages the emulator serves send that; pages on other sites cannot.
    pub fn is_own_origin(&self, origin: &str) -> bool {
        if origin.eq_ignore_ascii_case(&self.fapi_url) {
            return true;
        }
        let Some(authority) = origin.strip_prefix("http://") else {
            return false;
        };
        let port = self.fapi_url.rsplit_once(':').map(|(_, p)| p);
        let Some((host, p)) = authority.rsplit_once(':') else {
            return false;
        };
        Some(p) == port && latchkey_protocol::keys::is_loopback_host(host)
    }

    /// Runs `op` in a write transaction like [`App::write`], starting from the password results
    /// worked out beforehand (a sign-in checks its password, a sign-up hashes its new one, before
    /// the transaction). When `op` asks for more password work ([`DomainError::PasswordWork`]),
    /// the transaction rolls back, the work is done with no lock held, and `op` runs again with
    /// every result so far. Sign-ins against costly digests so never hold up other requests.
    pub async fn write_with_passwords<T>(
        &self,
        mut results: PasswordResults,
        mut op: impl FnMut(&crate::store::Tx<'_>, &PasswordResults) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        // An operation needs at most a verification and a (re)hash.
        const ROUNDS: usize = 4;
        for _ in 0..ROUNDS {
            match self.write(|tx| op(tx, &results)) {
                Err(DomainError::PasswordWork(work)) => {
                    results = self.password_work(results, *work).await?;
                }
                other => return other,
            }
        }
        Err(DomainError::Internal(
            "an operation kept asking for password work".into(),
        ))
    }

    /// Checks `password` against `digest` on a blocking thread, for a later
    /// [`App::write_with_passwords`].
    /// `digest_of` reads (in a read transaction) the digest the operation will check `password`
    /// against; none means nothing to check ahead.
    pub async fn check_password_ahead(
        &self,
        password: &crate::secret::Secret,
        digest_of: impl FnOnce(
            &crate::store::ReadTx<'_>,
        ) -> Result<Option<crate::secret::Secret>, DomainError>,
    ) -> Result<PasswordResults, DomainError> {
        let Some(digest) = self.store.read(digest_of)? else {
            return Ok(PasswordResults::default());
        };
        let work = crate::domain::passwords::PasswordWork::Verify {
            password: password.clone(),
            digest,
        };
        self.password_work(PasswordResults::default(), work).await
    }

    /// Hashes a new password (if the request has one) with the instance's parameters ahead of
    /// the transaction that stores it.
    pub async fn hash_password_ahead(
        &self,
        password: Option<&crate::secret::Secret>,
    ) -> Result<PasswordResults, DomainError> {
        let Some(password) = password else {
            return Ok(PasswordResults::default());
        };
        let work = crate::domain::passwords::PasswordWork::Hash {
            password: password.clone(),
        };
        self.password_work(PasswordResults::default(), work).await
    }

    /// Does password work with no lock held: on a blocking thread, unless it is as cheap as the
    /// emulator's own fast parameters (64 KiB, one pass: tens of microseconds), which is done in
    /// place rather than paying for the hand-off.
    async fn password_work(
        &self,
        mut results: PasswordResults,
        work: crate::domain::passwords::PasswordWork,
    ) -> Result<PasswordResults, DomainError> {
        if self.hasher.is_cheap(&work) {
            results.run(work, &self.hasher)?;
            return Ok(results);
        }
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || results.run(work, &hasher).map(|()| results))
            .await
            .map_err(|e| DomainError::Internal(format!("password task: {e}")))?
    }

    /// Signs the session tokens `unsigned` asked for that `body` shows, once the transaction
    /// that asked for them has committed (see [`crate::domain::tokens::Unsigned`]). The caller
    /// waited for the signing key before the operation began.
    pub fn sign_tokens(
        &self,
        unsigned: crate::domain::tokens::Unsigned,
        body: &mut Vec<u8>,
    ) -> Result<(), DomainError> {
        let key = self.signing_key.try_get().ok_or_else(|| {
            DomainError::Keys(keys::KeyError::Generate(
                "the signing key is not ready yet".into(),
            ))
        })?;
        unsigned
            .sign_into(body, &self.token_cache, |claims| {
                self.tokens_signed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                key.sign_jwt(claims)
            })
            .map_err(DomainError::from)
    }

    /// The handshake JWT (`__clerk_handshake`) carrying `directives`: their session tokens
    /// (stand-ins of `unsigned`) signed first, then `{"handshake": directives}` signed with the
    /// session-token key (RS256, the instance's `kid`, no `cat` header), as `@clerk/backend`'s
    /// `verifyHandshakeToken` checks it.
    pub fn sign_handshake(
        &self,
        unsigned: crate::domain::tokens::Unsigned,
        directives: &[String],
    ) -> Result<String, DomainError> {
        let mut bytes = serde_json::to_vec(&serde_json::json!({ "handshake": directives }))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        self.sign_tokens(unsigned, &mut bytes)?;
        let payload: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| DomainError::Internal(e.to_string()))?;
        let key = self.signing_key.try_get().ok_or_else(|| {
            DomainError::Keys(keys::KeyError::Generate(
                "the signing key is not ready yet".into(),
            ))
        })?;
        key.sign_jwt(&payload).map_err(DomainError::from)
    }

    /// A write transaction whose commit wakes waiters for new messages.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&crate::store::Tx<'_>) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let out = self.store.write(f);
        if out.is_ok() {
            self.committed.notify_waiters();
        }
        out
    }
}
