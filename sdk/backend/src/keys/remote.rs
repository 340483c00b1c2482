//! Keys fetched from a JWKS endpoint and cached.
//!
//! - A token whose `kid` is cached verifies at once, whatever the key server is doing. Once the
//!   cache's TTL has passed, that request also starts a refresh in a spawned task and does not
//!   wait for it (stale-while-revalidate).
//! - A token whose `kid` is not cached (a cold cache, or a rotated key) waits for a fetch, for
//!   at most the key wait; the fetch carries on in the background after that.
//! - There is one fetch at a time, however many requests want one (single-flight), each bounded
//!   by the fetch timeout; and a floor between the starts of two fetches keeps a flood of tokens
//!   with made-up `kid`s from hammering the server.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use latchkey_protocol::{ErrorEnvelope, Jwks};
use tokio::sync::watch;

use super::RsaPublicKey;
use crate::clock::Clock;
use crate::secret::SecretKey;
use crate::verifier::VerifyError;

/// Why the key set could not be fetched. Cheap to clone: one fetch answers every request that
/// waited for it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFetchError {
    /// The request could not be sent or the answer not read.
    #[error("could not reach the JWKS endpoint")]
    Transport(#[source] Arc<reqwest::Error>),
    #[error("the JWKS endpoint answered {status}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    /// The endpoint answered with an error status (a 401 from the Backend API: a wrong
    /// secret key).
    Status {
        /// The HTTP status.
        status: u16,
        /// The Clerk error code, when the body was the error envelope.
        code: Option<String>,
    },
    /// A success status with a body that is not a JWKS.
    #[error("the JWKS endpoint did not return a key set")]
    Decode(#[source] Arc<serde_json::Error>),
    /// A JWKS with no RSA signing key this crate accepts.
    #[error("the key set has no usable RSA signing key")]
    NoUsableKeys,
    /// The last fetch failed moments ago; the next one waits for the refetch floor.
    #[error("fetching the keys failed recently; not retrying yet")]
    Backoff,
    /// The key set did not arrive in time: a verification waited the key wait, or a fetch took
    /// longer than the fetch timeout.
    #[error("the JWKS endpoint did not answer in time")]
    Timeout,
    /// From a custom [`KeySource`]; see [`KeyFetchError::other`].
    #[error("the key source failed")]
    Other(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl KeyFetchError {
    /// Wraps the failure of a custom [`KeySource`].
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Arc::new(e))
    }
}

/// The future a [`KeySource`] returns.
pub type KeyFuture<'a> = Pin<Box<dyn Future<Output = Result<Jwks, KeyFetchError>> + Send + 'a>>;

/// Where a [`Verifier`](crate::Verifier) gets its keys. [`HttpKeySource`] is the usual one;
/// implement this to load keys from elsewhere or to observe fetches.
pub trait KeySource: Send + Sync + 'static {
    /// The current key set. Called when the cache is empty or stale, or a token names an
    /// unknown `kid`; never more often than the verifier's refetch floor.
    fn fetch(&self) -> KeyFuture<'_>;
}

/// Which JWKS endpoint to fetch.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// `GET {api_url}/v1/jwks` with the secret key, e.g. `https://api.clerk.com` or the
    /// emulator's URL.
    Backend {
        /// The Backend API's base URL.
        api_url: String,
        /// The instance's secret key (`sk_…`).
        secret_key: SecretKey,
    },
    /// `GET {url}/.well-known/jwks.json`, public; `url` is the Frontend API URL (which is also
    /// the tokens' issuer).
    Frontend {
        /// The Frontend API's base URL.
        url: String,
    },
}

impl JwksSource {
    /// The URL this source fetches.
    pub fn jwks_url(&self) -> String {
        match self {
            Self::Backend { api_url, .. } => format!("{}/v1/jwks", api_url.trim_end_matches('/')),
            Self::Frontend { url } => {
                format!("{}/.well-known/jwks.json", url.trim_end_matches('/'))
            }
        }
    }
}

/// Fetches a [`JwksSource`] over HTTP(S) with reqwest.
#[derive(Debug, Clone)]
pub struct HttpKeySource {
    url: String,
    secret_key: Option<SecretKey>,
    http: reqwest::Client,
}

impl HttpKeySource {
    /// With a client of its own (10 s timeout).
    pub fn new(source: JwksSource) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self::with_client(source, http))
    }

    /// Sharing an existing reqwest client.
    pub fn with_client(source: JwksSource, http: reqwest::Client) -> Self {
        let url = source.jwks_url();
        let secret_key = match source {
            JwksSource::Backend { secret_key, .. } => Some(secret_key),
            JwksSource::Frontend { .. } => None,
        };
        Self {
            url,
            secret_key,
            http,
        }
    }

    /// The JWKS URL it fetches.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl KeySource for HttpKeySource {
    fn fetch(&self) -> KeyFuture<'_> {
        Box::pin(async move {
            let mut req = self
                .http
                .get(&self.url)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(key) = &self.secret_key {
                req = req.bearer_auth(key.expose());
            }
            let transport = |e| KeyFetchError::Transport(Arc::new(e));
            let res = req.send().await.map_err(transport)?;
            let status = res.status();
            let body = res.bytes().await.map_err(transport)?;
            if !status.is_success() {
                let code = serde_json::from_slice::<ErrorEnvelope>(&body)
                    .ok()
                    .and_then(|e| e.code().map(str::to_owned));
                return Err(KeyFetchError::Status {
                    status: status.as_u16(),
                    code,
                });
            }
            serde_json::from_slice(&body).map_err(|e| KeyFetchError::Decode(Arc::new(e)))
        })
    }
}

/// How a [`RemoteKeys`] waits and refreshes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// How long a fetched set is fresh.
    pub ttl: Duration,
    /// The least time between the starts of two fetches.
    pub floor: Duration,
    /// How long one fetch may take.
    pub fetch_timeout: Duration,
    /// How long a verification waits for a key the cache does not have.
    pub key_wait: Duration,
}

/// The cache in front of a [`KeySource`].
pub(crate) struct RemoteKeys {
    shared: Arc<Shared>,
}

struct Shared {
    source: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    ttl_ms: i64,
    floor_ms: i64,
    fetch_timeout: Duration,
    key_wait: Duration,
    cache: RwLock<Cache>,
    /// Never held across an `.await`.
    refresh: Mutex<Refresh>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<RsaPublicKey>>,
    /// When the cached set was fetched (the verifier's clock), `None` before the first success.
    loaded_at_ms: Option<i64>,
}

/// What a fetch ended with; `None` while it runs.
type Outcome = Option<Result<(), KeyFetchError>>;

#[derive(Default)]
struct Refresh {
    /// When the last fetch started (the verifier's clock).
    last_attempt_ms: Option<i64>,
    /// The fetch under way, if any: requests that need its result wait on this.
    in_flight: Option<watch::Receiver<Outcome>>,
}

struct Lookup {
    key: Option<Arc<RsaPublicKey>>,
    fresh: bool,
    loaded: bool,
}

/// What [`RemoteKeys::start_or_join`] found.
enum Fetch {
    /// A fetch is under way (just started, or already running): its outcome will arrive here.
    Running(watch::Receiver<Outcome>),
    /// The last fetch started less than the floor ago and has finished: no new one yet.
    TooSoon,
    /// Not on a Tokio runtime: nothing can be spawned.
    NoRuntime,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a panic elsewhere changes nothing.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RemoteKeys {
    pub(crate) fn new(source: Arc<dyn KeySource>, clock: Arc<dyn Clock>, timing: Timing) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self {
            shared: Arc::new(Shared {
                source,
                clock,
                ttl_ms: ms(timing.ttl),
                floor_ms: ms(timing.floor),
                fetch_timeout: timing.fetch_timeout,
                key_wait: timing.key_wait,
                cache: RwLock::new(Cache::default()),
                refresh: Mutex::new(Refresh::default()),
            }),
        }
    }

    /// The key for `kid` at `now_ms` (the verifier's clock).
    pub(crate) async fn key(
        &self,
        kid: Option<&str>,
        now_ms: i64,
    ) -> Result<Arc<RsaPublicKey>, VerifyError> {
        let Some(kid) = kid else {
            // A key set is looked up by kid; a token without one names no key.
            return Err(VerifyError::UnknownKey { kid: None });
        };
        let unknown = || VerifyError::UnknownKey {
            kid: Some(kid.chars().take(64).collect()),
        };
        let shared = &self.shared;
        let seen = shared.lookup(kid, now_ms);
        if let Some(key) = seen.key {
            if !seen.fresh {
                // Serve the key we trust now; refresh behind it.
                match shared.start_or_join(now_ms) {
                    Fetch::Running(_) | Fetch::TooSoon => {}
                    Fetch::NoRuntime => {
                        tracing::debug!("not on a Tokio runtime; the stale JWKS is not refreshed")
                    }
                }
            }
            return Ok(key);
        }

        // Not cached: wait, bounded, for a fetch.
        let mut outcome = match shared.start_or_join(now_ms) {
            Fetch::Running(rx) => rx,
            Fetch::TooSoon => {
                // A fetch that finished just now may have brought the key.
                let now = shared.lookup(kid, now_ms);
                return match (now.key, now.loaded) {
                    (Some(key), _) => Ok(key),
                    (None, true) => Err(unknown()),
                    (None, false) => Err(VerifyError::KeyFetch(KeyFetchError::Backoff)),
                };
            }
            Fetch::NoRuntime => {
                return Err(VerifyError::KeyFetch(KeyFetchError::other(
                    std::io::Error::other("the JWKS can only be fetched on a Tokio runtime"),
                )));
            }
        };
        let waited = tokio::time::timeout(shared.key_wait, outcome.wait_for(Option::is_some)).await;
        let result = match waited {
            Err(_) => Err(KeyFetchError::Timeout),
            Ok(Err(_)) => Err(KeyFetchError::other(std::io::Error::other(
                "the key fetch was cancelled",
            ))),
            Ok(Ok(done)) => done.clone().unwrap_or(Err(KeyFetchError::Timeout)),
        };
        match result {
            Ok(()) => shared.lookup(kid, now_ms).key.ok_or_else(unknown),
            Err(e) => Err(VerifyError::KeyFetch(e)),
        }
    }
}

impl Shared {
    fn lookup(&self, kid: &str, now_ms: i64) -> Lookup {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        let fresh = cache
            .loaded_at_ms
            .is_some_and(|at| (0..self.ttl_ms).contains(&now_ms.saturating_sub(at)));
        Lookup {
            key: cache.keys.get(kid).cloned(),
            fresh,
            loaded: cache.loaded_at_ms.is_some(),
        }
    }

    /// Joins the fetch under way, or starts one in a spawned task if the floor allows.
    fn start_or_join(self: &Arc<Self>, now_ms: i64) -> Fetch {
        let mut refresh = lock(&self.refresh);
        if let Some(rx) = &refresh.in_flight {
            return Fetch::Running(rx.clone());
        }
        let too_soon = refresh
            .last_attempt_ms
            .is_some_and(|at| now_ms.saturating_sub(at).saturating_abs() < self.floor_ms);
        if too_soon {
            return Fetch::TooSoon;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Fetch::NoRuntime;
        };
        let (tx, rx) = watch::channel(None);
        refresh.last_attempt_ms = Some(now_ms);
        refresh.in_flight = Some(rx.clone());
        drop(refresh);
        let shared = self.clone();
        runtime.spawn(async move {
            // Clears `in_flight` however the task ends (a cancelled task included).
            let _done = InFlight(shared.clone());
            let outcome = match tokio::time::timeout(shared.fetch_timeout, shared.fetch()).await {
                Ok(r) => r,
                Err(_) => Err(KeyFetchError::Timeout),
            };
            if let Err(e) = &outcome {
                tracing::warn!(error = %e, "fetching the JWKS failed; cached keys stay in use");
            }
            drop(_done);
            tx.send_replace(Some(outcome));
        });
        Fetch::Running(rx)
    }

    async fn fetch(&self) -> Result<(), KeyFetchError> {
        let jwks = self.source.fetch().await?;
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            match RsaPublicKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(jwk.kid.clone(), Arc::new(key));
                }
                Err(e) => tracing::debug!(kid = %jwk.kid, error = %e, "skipping a JWK"),
            }
        }
        if keys.is_empty() {
            return Err(KeyFetchError::NoUsableKeys);
        }
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        cache.keys = keys;
        cache.loaded_at_ms = Some(self.clock.now_ms());
        Ok(())
    }
}

/// Marks the end of the fetch under way when dropped. The cache is written before, so whoever
/// finds no fetch under way also finds its keys.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.0.refresh).in_flight = None;
    }
}
