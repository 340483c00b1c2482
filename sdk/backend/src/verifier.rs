//! Session-token verification.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::claims::Claims;
use crate::clock::{Clock, SystemClock};
use crate::jwt;
use crate::keys::{
    HttpKeySource, JwksSource, KeyError, KeyFetchError, KeySource, RemoteKeys, RsaPublicKey, Timing,
};

/// Why a token was refused. Each failure a caller may want to tell apart has its own variant;
/// none carries the token or any secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a well-formed JWS, or its claims are missing or of the wrong type.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is not RS256, RS384 or RS512 (or not the one the key is bound to).
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// No key with the token's `kid`, even after fetching the key set again.
    #[error("no key with kid {kid:?}")]
    UnknownKey {
        /// The token's `kid` (`None`: its header has none).
        kid: Option<String>,
    },
    /// The signature is not the key's over the token: forged or altered.
    #[error("the signature does not verify")]
    BadSignature,
    /// `exp` has passed (beyond the skew). The client should fetch a fresh token (the
    /// `latchkey` SDK refreshes them before they expire) and retry.
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp` (Unix seconds).
        exp: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
    },
    /// `nbf` is still ahead (beyond the skew): the issuer's or this server's clock is off.
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf` (Unix seconds).
        nbf: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
    },
    /// `iss` is not the configured issuer: the token comes from another instance.
    #[error("the token was issued by {found:?}, not {expected:?}")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `azp` is set and is not one of the configured authorized parties.
    #[error("the authorized party {azp:?} is not allowed")]
    UnauthorizedParty {
        /// The token's `azp`.
        azp: String,
    },
    /// The keys could not be fetched; the token itself may be fine.
    #[error("the signing keys are unavailable")]
    KeyFetch(#[source] KeyFetchError),
}

impl VerifyError {
    /// The reason string `@clerk/backend` uses for this failure (`token-expired`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "token-invalid",
            Self::UnsupportedAlgorithm(_) => "token-invalid-algorithm",
            Self::UnknownKey { .. } => "jwk-kid-mismatch",
            Self::BadSignature => "token-invalid-signature",
            Self::Expired { .. } => "token-expired",
            Self::NotYetValid { .. } => "token-not-active-yet",
            Self::WrongIssuer { .. } => "token-invalid-issuer",
            Self::UnauthorizedParty { .. } => "token-invalid-authorized-parties",
            Self::KeyFetch(_) => "jwk-remote-failed-to-load",
        }
    }
}

/// A verifier could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No key source was given.
    #[error("no keys configured: call .jwks(), .pem_public_key() or .key_source()")]
    NoKeys,
    /// The PEM given to [`VerifierBuilder::pem_public_key`] cannot be used.
    #[error("invalid public key")]
    InvalidKey(#[from] KeyError),
    /// The JWKS source's URL does not parse.
    #[error("invalid JWKS URL {0:?}")]
    InvalidUrl(String),
    /// reqwest could not make an HTTP client (its TLS backend failed to start).
    #[error("could not create the HTTP client")]
    Http(#[source] reqwest::Error),
}

enum KeyConfig {
    Pem(String),
    Jwks(JwksSource),
    Source(Arc<dyn KeySource>),
}

enum Keys {
    /// A PEM key: verifies every token whatever its `kid`.
    Static(Arc<RsaPublicKey>),
    Remote(RemoteKeys),
}

struct Inner {
    keys: Keys,
    issuer: Option<String>,
    authorized_parties: Vec<String>,
    skew_secs: i64,
    clock: Arc<dyn Clock>,
}

/// Verifies session tokens. Cheap to clone (one `Arc`), `Send + Sync`; clones share the key
/// cache, so build one per application.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "keys",
                &match self.inner.keys {
                    Keys::Static(_) => "pem",
                    Keys::Remote(_) => "jwks",
                },
            )
            .field("issuer", &self.inner.issuer)
            .field("authorized_parties", &self.inner.authorized_parties)
            .field("skew_secs", &self.inner.skew_secs)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Verifier`].
pub struct VerifierBuilder {
    keys: Option<KeyConfig>,
    issuer: Option<String>,
    authorized_parties: Vec<String>,
    skew: Duration,
    clock: Arc<dyn Clock>,
    cache_ttl: Duration,
    refetch_floor: Duration,
    fetch_timeout: Duration,
    key_wait: Duration,
    http: Option<reqwest::Client>,
}

impl std::fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("issuer", &self.issuer)
            .field("authorized_parties", &self.authorized_parties)
            .field("skew", &self.skew)
            .field("cache_ttl", &self.cache_ttl)
            .field("refetch_floor", &self.refetch_floor)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("key_wait", &self.key_wait)
            .finish_non_exhaustive()
    }
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        Self {
            keys: None,
            issuer: None,
            authorized_parties: Vec::new(),
            skew: Duration::from_secs(5),
            clock: Arc::new(SystemClock),
            cache_ttl: Duration::from_secs(5 * 60),
            refetch_floor: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(10),
            key_wait: Duration::from_secs(3),
            http: None,
        }
    }
}

impl VerifierBuilder {
    /// Fetch keys from a JWKS endpoint. A [`JwksSource::Frontend`] URL also becomes the expected
    /// issuer unless [`issuer`](Self::issuer) says otherwise.
    pub fn jwks(mut self, source: JwksSource) -> Self {
        self.keys = Some(KeyConfig::Jwks(source));
        self
    }

    /// Verify with this PEM public key (SubjectPublicKeyInfo or PKCS#1): no network, any `kid`.
    pub fn pem_public_key(mut self, pem: impl Into<String>) -> Self {
        self.keys = Some(KeyConfig::Pem(pem.into()));
        self
    }

    /// Fetch keys from a custom source (cached like a JWKS endpoint).
    pub fn key_source(mut self, source: impl KeySource) -> Self {
        self.keys = Some(KeyConfig::Source(Arc::new(source)));
        self
    }

    /// Require `iss` to be this URL (a trailing `/` is ignored).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Origins allowed in `azp`. A token with an `azp` outside the list is refused; a token
    /// without `azp` (native apps) is accepted. Empty (the default) accepts any.
    pub fn authorized_parties<I, S>(mut self, parties: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.authorized_parties = parties.into_iter().map(Into::into).collect();
        self
    }

    /// Tolerance for `exp` and `nbf` (default 5 s; rounded down to whole seconds).
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How long a fetched key set is fresh (default 5 min). After that, a token whose key is
    /// cached still verifies at once, and starts a refresh in the background.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The least time between two fetches (default 5 s): an unknown `kid` within it is refused
    /// without asking the server.
    pub fn refetch_floor(mut self, floor: Duration) -> Self {
        self.refetch_floor = floor;
        self
    }

    /// How long one fetch of the key set may take before it is abandoned (default 10 s), on
    /// top of the HTTP client's own timeouts. Fetches run in a spawned task, one at a time.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// How long a verification waits for a key the cache does not have — a cold cache, or a
    /// token naming an unknown `kid` — before failing with [`KeyFetchError::Timeout`]
    /// (default 3 s). The fetch carries on in the background. Tokens whose key is cached never
    /// wait for the key server.
    pub fn key_wait(mut self, wait: Duration) -> Self {
        self.key_wait = wait;
        self
    }

    /// The reqwest client for [`jwks`](Self::jwks) (default: one with a 10 s timeout).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The verifier. Fails when no key source was given, a PEM cannot be used or a JWKS URL
    /// does not parse; it fetches nothing yet (the first token does).
    pub fn build(self) -> Result<Verifier, BuildError> {
        let mut issuer = self.issuer;
        let timing = Timing {
            ttl: self.cache_ttl,
            floor: self.refetch_floor,
            fetch_timeout: self.fetch_timeout,
            key_wait: self.key_wait,
        };
        let clock = self.clock.clone();
        let remote =
            |source: Arc<dyn KeySource>| Keys::Remote(RemoteKeys::new(source, clock, timing));
        let keys = match self.keys.ok_or(BuildError::NoKeys)? {
            KeyConfig::Pem(pem) => Keys::Static(Arc::new(RsaPublicKey::from_pem(&pem)?)),
            KeyConfig::Source(source) => remote(source),
            KeyConfig::Jwks(source) => {
                let url = source.jwks_url();
                if reqwest::Url::parse(&url).is_err() {
                    return Err(BuildError::InvalidUrl(url));
                }
                if let (None, JwksSource::Frontend { url }) = (&issuer, &source) {
                    issuer = Some(url.clone());
                }
                let http_source = match self.http {
                    Some(http) => HttpKeySource::with_client(source, http),
                    None => HttpKeySource::new(source).map_err(BuildError::Http)?,
                };
                remote(Arc::new(http_source))
            }
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                keys,
                issuer: issuer.map(|i| i.trim_end_matches('/').to_owned()),
                authorized_parties: self.authorized_parties,
                skew_secs: i64::try_from(self.skew.as_secs()).unwrap_or(i64::MAX),
                clock: self.clock,
            }),
        })
    }
}

impl Verifier {
    /// Starts a verifier: give it a key source ([`jwks`](VerifierBuilder::jwks),
    /// [`pem_public_key`](VerifierBuilder::pem_public_key) or
    /// [`key_source`](VerifierBuilder::key_source)), then [`build`](VerifierBuilder::build).
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// A networkless verifier for this PEM public key, with the default checks.
    pub fn from_pem(pem: &str) -> Result<Self, BuildError> {
        Self::builder().pem_public_key(pem).build()
    }

    /// A verifier fetching keys from `source`, with the default checks.
    pub fn from_jwks(source: JwksSource) -> Result<Self, BuildError> {
        Self::builder().jwks(source).build()
    }

    /// Verifies a session token: algorithm, key, signature, `exp`/`nbf` (with the skew), `iss`
    /// and `azp`, in that order; returns its claims.
    #[tracing::instrument(name = "verify_session_token", skip_all, err(level = "debug"))]
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let jws = jwt::parse(token)?;
        let key = match &self.inner.keys {
            Keys::Static(key) => key.clone(),
            Keys::Remote(remote) => {
                remote
                    .key(jws.kid.as_deref(), self.inner.clock.now_ms())
                    .await?
            }
        };
        key.verify(jws.alg, jws.signing_input.as_bytes(), &jws.signature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(jws.payload_b64)
            .map_err(|_| VerifyError::Malformed("the payload is not base64url"))?;
        let claims: Claims = serde_json::from_slice(&payload)
            .map_err(|_| VerifyError::Malformed("the claims are not those of a session token"))?;
        self.check(&claims)?;
        Ok(claims)
    }

    fn check(&self, claims: &Claims) -> Result<(), VerifyError> {
        let inner = &self.inner;
        let now = inner.clock.now_secs();
        if now >= claims.exp.saturating_add(inner.skew_secs) {
            return Err(VerifyError::Expired {
                exp: claims.exp,
                now,
            });
        }
        if let Some(nbf) = claims.nbf
            && now.saturating_add(inner.skew_secs) < nbf
        {
            return Err(VerifyError::NotYetValid { nbf, now });
        }
        if let Some(expected) = &inner.issuer
            && claims.iss.trim_end_matches('/') != expected
        {
            return Err(VerifyError::WrongIssuer {
                expected: expected.clone(),
                found: claims.iss.clone(),
            });
        }
        if let Some(azp) = &claims.azp
            && !inner.authorized_parties.is_empty()
            && !inner.authorized_parties.iter().any(|p| p == azp)
        {
            return Err(VerifyError::UnauthorizedParty { azp: azp.clone() });
        }
        Ok(())
    }
}

/// The session token of a request: `Authorization: Bearer <token>` or, failing that, the
/// `__session` cookie.
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    bearer.or_else(|| {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == "__session" && !value.is_empty())
            .map(|(_, value)| value)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn finds_the_token_in_the_bearer_header_then_the_session_cookie() {
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "bearer  abc ")])),
            Some("abc")
        );
        assert_eq!(
            token_from_headers(&headers(&[
                ("authorization", "Bearer hdr"),
                ("cookie", "__session=cookie")
            ])),
            Some("hdr")
        );
        assert_eq!(
            token_from_headers(&headers(&[
                ("authorization", "Basic dXNlcg=="),
                ("cookie", "theme=dark"),
                ("cookie", "a=b; __session=xyz; __session_abc=other")
            ])),
            Some("xyz")
        );
        assert_eq!(
            token_from_headers(&headers(&[("cookie", "__session=")])),
            None
        );
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "Bearer ")])),
            None
        );
        assert_eq!(token_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn builder_needs_keys_and_a_valid_url() {
        assert!(matches!(
            Verifier::builder().build(),
            Err(BuildError::NoKeys)
        ));
        assert!(matches!(
            Verifier::from_jwks(JwksSource::Frontend {
                url: "not a url".into()
            }),
            Err(BuildError::InvalidUrl(_))
        ));
        assert!(matches!(
            Verifier::from_pem("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"),
            Err(BuildError::InvalidKey(_))
        ));
        let v = Verifier::from_jwks(JwksSource::Backend {
            api_url: "http://127.0.0.1:9/".into(),
            secret_key: "sk_test_secret".into(),
        })
        .unwrap();
        assert!(!format!("{v:?}").contains("sk_test_secret"));
    }
}
