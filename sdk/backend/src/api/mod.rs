//! A typed Backend API client over the shared `latchkey-protocol` types.
//!
//! The crate docs' [Calling the Backend API](crate#calling-the-backend-api) example creates
//! a user, merges metadata, lists users by email address and branches on a refusal, against an
//! in-process emulator.
//!
//! Every request carries `Authorization: Bearer <secret key>`, `Content-Type: application/json`
//! and `clerk-api-version`. Requests are retried (at most 3 attempts in all, small exponential
//! backoff, `Retry-After` honoured up to a cap) when the server answers 429 or 503, or could not
//! be connected to — all cases where it did not act on the request — and on any other 5xx for
//! `GET` and `DELETE`, which are safe to repeat. A `POST` that failed with a 500 is not repeated,
//! since it may have taken effect.

mod clients;
mod identifications;
mod redirect_urls;
mod sessions;
mod sign_in_tokens;
mod testing_tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use latchkey_protocol::{API_VERSION, ClerkError, ErrorCode, ErrorEnvelope, Jwks};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::secret::SecretKey;

pub use clients::Clients;
pub use identifications::{
    CreateEmailAddress, CreatePhoneNumber, EmailAddresses, PhoneNumbers, UpdateIdentification,
};
pub use redirect_urls::RedirectUrls;
pub use sessions::{SessionListParams, Sessions};
pub use sign_in_tokens::SignInTokens;
pub use testing_tokens::TestingTokens;
pub use users::{
    CreateUser, MetadataUpdate, OneTimeCode, TotpVerified, UpdateUser, UserIdObject,
    UserListParams, Users,
};

/// A Backend API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The server answered with an error status; `errors` are its Clerk errors (empty when the
    /// body was not the error envelope).
    #[error("the Backend API answered {status}{}", describe(errors))]
    Server {
        /// The HTTP status (400–599).
        status: u16,
        /// The envelope's errors, most important first.
        errors: Vec<ClerkError>,
        /// `clerk_trace_id`, to find the request in the server's log.
        trace_id: Option<String>,
    },
    /// The request could not be sent or the response not read.
    #[error("could not reach the Backend API")]
    Transport(#[source] reqwest::Error),
    /// A success status with a body that is not the expected object. The body may hold a
    /// session token, so its `Debug` shows only its length.
    #[error("unexpected response body from the Backend API ({status})")]
    Decode {
        /// The (success) status.
        status: u16,
        /// The body as received.
        body: RawBody,
        /// Why it did not decode.
        #[source]
        source: serde_json::Error,
    },
    /// The client was built with an unusable API URL or an empty secret key (from
    /// [`BackendClientBuilder::build`]); fix the configuration, retrying cannot help.
    #[error("invalid client configuration: {0}")]
    Configuration(&'static str),
}

/// A response body kept for inspection; `Debug` prints its length, [`RawBody::text`] the text.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBody(String);

impl RawBody {
    /// The body as received. It may hold a credential: show it with care.
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawBody({} bytes)", self.0.len())
    }
}

fn describe(errors: &[ClerkError]) -> String {
    match errors.first() {
        Some(e) => format!(" ({}): {}", e.code, e.long_message),
        None => String::new(),
    }
}

impl ApiError {
    /// The HTTP status of a server error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Server { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The first Clerk error code, the one to branch on (`resource_not_found`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Server { errors, .. } => errors.first().map(|e| e.code.as_str()),
            _ => None,
        }
    }

    /// The first Clerk error code as an [`ErrorCode`]; `None` for other errors and for codes
    /// `latchkey-protocol` does not know (read those with [`ApiError::code`]).
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Server { errors, .. } => errors.first().and_then(ClerkError::error_code),
            _ => None,
        }
    }

    /// Every Clerk error of a server error.
    pub fn errors(&self) -> &[ClerkError] {
        match self {
            Self::Server { errors, .. } => errors,
            _ => &[],
        }
    }

    /// Whether the server answered 404: the user, session or other object does not exist
    /// (or no longer does).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
    max_attempts: u32,
    base_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for; the error is returned instead.
    max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_backoff: Duration::from_millis(100),
            max_wait: Duration::from_secs(10),
        }
    }
}

struct Inner {
    http: reqwest::Client,
    api_url: String,
    secret_key: SecretKey,
    retry: RetryPolicy,
}

/// The Backend API client. Cheap to clone (one `Arc`); `Debug` never shows the secret key.
#[derive(Clone)]
pub struct BackendClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BackendClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendClient")
            .field("api_url", &self.inner.api_url)
            .finish_non_exhaustive()
    }
}

/// Configures a [`BackendClient`].
#[derive(Debug)]
pub struct BackendClientBuilder {
    api_url: String,
    secret_key: SecretKey,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
}

impl BackendClientBuilder {
    /// Share an existing reqwest client (default: one with a 30 s timeout).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Attempts per request, the first included (default 3; 1 turns retries off).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry.max_attempts = attempts.max(1);
        self
    }

    /// The first retry waits this long, each next one twice as long (default 100 ms).
    pub fn base_backoff(mut self, backoff: Duration) -> Self {
        self.retry.base_backoff = backoff;
        self
    }

    /// The client. Fails with [`ApiError::Configuration`] when the API URL is not a URL or the
    /// secret key is empty, and with [`ApiError::Transport`] when no HTTP client can be made.
    pub fn build(self) -> Result<BackendClient, ApiError> {
        let api_url = self.api_url.trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&api_url).is_err() {
            return Err(ApiError::Configuration("the API URL is not a URL"));
        }
        if self.secret_key.expose().trim().is_empty() {
            return Err(ApiError::Configuration("the secret key is empty"));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("latchkey-backend/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(ApiError::Transport)?,
        };
        Ok(BackendClient {
            inner: Arc::new(Inner {
                http,
                api_url,
                secret_key: self.secret_key,
                retry: self.retry,
            }),
        })
    }
}

impl BackendClient {
    /// A client for the Backend API at `api_url` (`https://api.clerk.com`, or the emulator's
    /// URL), authenticated with `secret_key`.
    pub fn new(
        api_url: impl Into<String>,
        secret_key: impl Into<SecretKey>,
    ) -> Result<Self, ApiError> {
        Self::builder(api_url, secret_key).build()
    }

    /// Like [`new`](Self::new), with retries and the HTTP client to choose before
    /// [`build`](BackendClientBuilder::build).
    pub fn builder(
        api_url: impl Into<String>,
        secret_key: impl Into<SecretKey>,
    ) -> BackendClientBuilder {
        BackendClientBuilder {
            api_url: api_url.into(),
            secret_key: secret_key.into(),
            http: None,
            retry: RetryPolicy::default(),
        }
    }

    /// The Backend API's base URL, without a trailing `/`.
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// The client endpoints (`/v1/clients…`).
    pub fn clients(&self) -> Clients<'_> {
        Clients::new(self)
    }

    /// The user endpoints (`/v1/users…`).
    pub fn users(&self) -> Users<'_> {
        Users::new(self)
    }

    /// The session endpoints (`/v1/sessions…`).
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(self)
    }

    /// Testing tokens (`/v1/testing_tokens`), which let test traffic skip rate limits.
    pub fn testing_tokens(&self) -> TestingTokens<'_> {
        TestingTokens::new(self)
    }

    /// One-time sign-in tickets (`/v1/sign_in_tokens`).
    pub fn sign_in_tokens(&self) -> SignInTokens<'_> {
        SignInTokens::new(self)
    }

    /// The instance's allowlist of redirect URLs (`/v1/redirect_urls`).
    pub fn redirect_urls(&self) -> RedirectUrls<'_> {
        RedirectUrls::new(self)
    }

    /// The email address endpoints (`/v1/email_addresses…`).
    pub fn email_addresses(&self) -> EmailAddresses<'_> {
        EmailAddresses::new(self)
    }

    /// The phone number endpoints (`/v1/phone_numbers…`).
    pub fn phone_numbers(&self) -> PhoneNumbers<'_> {
        PhoneNumbers::new(self)
    }

    /// The instance's token-signing keys (`GET /v1/jwks`).
    pub async fn jwks(&self) -> Result<Jwks, ApiError> {
        self.request(Method::GET, "/v1/jwks", &[], None).await
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        self.request(Method::GET, path, query, None).await
    }

    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        // Serialising our own request types cannot fail; map it anyway rather than panic.
        let bytes = serde_json::to_vec(body)
            .map_err(|_| ApiError::Configuration("the request body does not serialise"))?;
        self.request(method, path, &[], Some(bytes)).await
    }

    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<T, ApiError> {
        self.request_as(method, path, query, body, "application/json")
            .await
    }

    /// A file as `multipart/form-data` (profile images).
    pub(crate) async fn send_file<T: DeserializeOwned>(
        &self,
        path: &str,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<T, ApiError> {
        let (ct, body) =
            latchkey_protocol::multipart::file_body("file", file_name, content_type, bytes);
        self.request_as(Method::POST, path, &[], Some(body), &ct)
            .await
    }

    #[tracing::instrument(name = "bapi", skip_all, fields(method = %method, path = %path))]
    async fn request_as<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> Result<T, ApiError> {
        let inner = &self.inner;
        let url = format!("{}{path}", inner.api_url);
        let retry = inner.retry;
        let mut attempt = 1;
        loop {
            let mut req = inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(inner.secret_key.expose())
                .header(CONTENT_TYPE, content_type)
                .header(ACCEPT, "application/json")
                .header("clerk-api-version", API_VERSION);
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let wait = match req.send().await {
                Err(e) => {
                    if attempt < retry.max_attempts && e.is_connect() {
                        tracing::debug!(attempt, error = %e, "connect failed; retrying");
                        backoff(retry, attempt)
                    } else {
                        return Err(ApiError::Transport(e));
                    }
                }
                Ok(res) => {
                    let status = res.status();
                    let wait = (attempt < retry.max_attempts && retryable(&method, status))
                        .then(|| retry_after(res.headers()).unwrap_or(backoff(retry, attempt)))
                        .filter(|w| *w <= retry.max_wait);
                    match wait {
                        Some(wait) => {
                            tracing::debug!(attempt, status = status.as_u16(), "retrying");
                            wait
                        }
                        None => return read(status, res).await,
                    }
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// 429 and 503 mean "not processed"; other 5xx may have been, so only idempotent methods retry.
fn retryable(method: &Method, status: StatusCode) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => true,
        s if s.is_server_error() => matches!(*method, Method::GET | Method::HEAD | Method::DELETE),
        _ => false,
    }
}

fn backoff(retry: RetryPolicy, attempt: u32) -> Duration {
    retry
        .base_backoff
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the API and falls back to the
/// backoff).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

async fn read<T: DeserializeOwned>(
    status: StatusCode,
    res: reqwest::Response,
) -> Result<T, ApiError> {
    let bytes = res.bytes().await.map_err(ApiError::Transport)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|source| ApiError::Decode {
            status: status.as_u16(),
            body: RawBody(String::from_utf8_lossy(&bytes).into_owned()),
            source,
        });
    }
    let (errors, trace_id) = match serde_json::from_slice::<ErrorEnvelope>(&bytes) {
        Ok(env) => (env.errors, env.clerk_trace_id),
        Err(_) => (Vec::new(), None),
    };
    Err(ApiError::Server {
        status: status.as_u16(),
        errors,
        trace_id,
    })
}

/// Percent-encodes an id for use as one path segment, so `../x` stays an id.
pub(crate) fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~'
                if id != "." && id != ".." =>
            {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retries_only_what_the_server_did_not_act_on_or_is_safe_to_repeat() {
        assert!(retryable(&Method::POST, StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(&Method::POST, StatusCode::SERVICE_UNAVAILABLE));
        assert!(!retryable(&Method::POST, StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!retryable(&Method::PATCH, StatusCode::BAD_GATEWAY));
        assert!(retryable(&Method::GET, StatusCode::INTERNAL_SERVER_ERROR));
        assert!(retryable(&Method::DELETE, StatusCode::GATEWAY_TIMEOUT));
        assert!(!retryable(&Method::GET, StatusCode::NOT_FOUND));
    }

    #[test]
    fn backoff_doubles_and_retry_after_is_seconds() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(p, 1), Duration::from_millis(100));
        assert_eq!(backoff(p, 3), Duration::from_millis(400));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn ids_stay_one_segment() {
        assert_eq!(segment("user_2abc"), "user_2abc");
        assert_eq!(segment("../sessions"), "..%2Fsessions");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("a b?c"), "a%20b%3Fc");
    }

    #[test]
    fn configuration_is_checked_and_the_key_never_printed() {
        assert!(matches!(
            BackendClient::new("not a url", "sk_test_x"),
            Err(ApiError::Configuration(_))
        ));
        assert!(matches!(
            BackendClient::new("http://127.0.0.1:1", " "),
            Err(ApiError::Configuration(_))
        ));
        let c = BackendClient::new("http://127.0.0.1:1/", "sk_test_supersecret");
        let shown = format!("{c:?}");
        assert!(shown.contains("http://127.0.0.1:1\""), "{shown}");
        assert!(!shown.contains("supersecret"), "{shown}");
    }

    #[test]
    fn an_undecodable_body_is_kept_but_not_shown_in_debug() {
        let body = br#"{"jwt":"eyJhbGciOiJSUzI1NiJ9.body-secret.sig"}"#;
        let source = match serde_json::from_slice::<u8>(body) {
            Err(e) => e,
            Ok(_) => return,
        };
        let e = ApiError::Decode {
            status: 200,
            body: RawBody(String::from_utf8_lossy(body).into_owned()),
            source,
        };
        let shown = format!("{e:?} {e}");
        assert!(!shown.contains("body-secret"), "{shown}");
        let ApiError::Decode { body: kept, .. } = &e else {
            return;
        };
        assert!(kept.text().contains("body-secret"));
    }
}
