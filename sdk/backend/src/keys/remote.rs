//! Keys fetched from a JWKS endpoint, cached for a TTL and fetched again — once, however many
//! requests ask at the same moment — when a token names a `kid` the cache does not know. A floor
//! between fetches keeps a flood of tokens with made-up `kid`s from hammering the server.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use latchkey_protocol::{ErrorEnvelope, Jwks};

use super::RsaPublicKey;
use crate::secret::SecretKey;
use crate::verifier::VerifyError;

/// Why the key set could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFetchError {
    #[error("could not reach the JWKS endpoint")]
    Transport(#[source] reqwest::Error),
    #[error("the JWKS endpoint answered {status}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status { status: u16, code: Option<String> },
    #[error("the JWKS endpoint did not return a key set")]
    Decode(#[source] serde_json::Error),
    #[error("the key set has no usable RSA signing key")]
    NoUsableKeys,
    /// The last fetch failed moments ago; the next one waits for the refetch floor.
    #[error("fetching the keys failed recently; not retrying yet")]
    Backoff,
    /// From a custom [`KeySource`].
    #[error("the key source failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The future a [`KeySource`] returns.
pub type KeyFuture<'a> = Pin<Box<dyn Future<Output = Result<Jwks, KeyFetchError>> + Send + 'a>>;

/// Where a [`Verifier`](crate::Verifier) gets its keys. [`HttpKeySource`] is the usual one;
/// implement this to load keys from elsewhere or to observe fetches.
pub trait KeySource: Send + Sync + 'static {
    fn fetch(&self) -> KeyFuture<'_>;
}

/// Which JWKS endpoint to fetch.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// `GET {api_url}/v1/jwks` with the secret key, e.g. `https://api.clerk.com` or the
    /// emulator's URL.
    Backend {
        api_url: String,
        secret_key: SecretKey,
    },
    /// `GET {url}/.well-known/jwks.json`, public; `url` is the Frontend API URL (which is also
    /// the tokens' issuer).
    Frontend { url: String },
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
            let res = req.send().await.map_err(KeyFetchError::Transport)?;
            let status = res.status();
            let body = res.bytes().await.map_err(KeyFetchError::Transport)?;
            if !status.is_success() {
                let code = serde_json::from_slice::<ErrorEnvelope>(&body)
                    .ok()
                    .and_then(|e| e.code().map(str::to_owned));
                return Err(KeyFetchError::Status {
                    status: status.as_u16(),
                    code,
                });
            }
            serde_json::from_slice(&body).map_err(KeyFetchError::Decode)
        })
    }
}

/// The cache in front of a [`KeySource`].
pub(crate) struct RemoteKeys {
    source: Arc<dyn KeySource>,
    ttl_ms: i64,
    floor_ms: i64,
    cache: RwLock<Cache>,
    /// Held while fetching, so concurrent misses share one fetch.
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<RsaPublicKey>>,
    /// When the cached set was fetched (the verifier's clock), `None` before the first success.
    loaded_at_ms: Option<i64>,
    /// Bumped by every successful fetch.
    generation: u64,
}

#[derive(Default)]
struct RefreshState {
    last_attempt_ms: Option<i64>,
}

struct Lookup {
    key: Option<Arc<RsaPublicKey>>,
    fresh: bool,
    loaded: bool,
    generation: u64,
}

impl RemoteKeys {
    pub(crate) fn new(source: Arc<dyn KeySource>, ttl: Duration, floor: Duration) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self {
            source,
            ttl_ms: ms(ttl),
            floor_ms: ms(floor),
            cache: RwLock::new(Cache::default()),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        }
    }

    fn lookup(&self, kid: &str, now_ms: i64) -> Lookup {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        let fresh = cache
            .loaded_at_ms
            .is_some_and(|at| (0..self.ttl_ms).contains(&now_ms.saturating_sub(at)));
        Lookup {
            key: cache.keys.get(kid).cloned(),
            fresh,
            loaded: cache.loaded_at_ms.is_some(),
            generation: cache.generation,
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
        let seen = self.lookup(kid, now_ms);
        if let (Some(key), true) = (&seen.key, seen.fresh) {
            return Ok(key.clone());
        }

        let mut state = self.refresh.lock().await;
        let now = self.lookup(kid, now_ms);
        if now.generation != seen.generation {
            // Someone else fetched while we waited for the lock: that set is the answer.
            return now.key.ok_or_else(unknown);
        }
        let recently = state
            .last_attempt_ms
            .is_some_and(|at| now_ms.saturating_sub(at).saturating_abs() < self.floor_ms);
        if recently {
            return match (now.key, now.loaded) {
                (Some(key), _) => Ok(key),
                (None, true) => Err(unknown()),
                (None, false) => Err(VerifyError::KeyFetch(KeyFetchError::Backoff)),
            };
        }
        state.last_attempt_ms = Some(now_ms);
        match self.fetch(now_ms).await {
            Ok(keys) => keys.get(kid).cloned().ok_or_else(unknown),
            Err(e) => match now.key {
                // The set expired and could not be refreshed: a key we already trust stays
                // trusted rather than taking every request down with the key server.
                Some(key) => {
                    tracing::warn!(error = %e, "JWKS refresh failed; using the cached keys");
                    Ok(key)
                }
                None => Err(VerifyError::KeyFetch(e)),
            },
        }
    }

    async fn fetch(
        &self,
        now_ms: i64,
    ) -> Result<HashMap<String, Arc<RsaPublicKey>>, KeyFetchError> {
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
        cache.keys = keys.clone();
        cache.loaded_at_ms = Some(now_ms);
        cache.generation += 1;
        Ok(keys)
    }
}
