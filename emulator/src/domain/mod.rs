//! What the emulator decides: sign-up and sign-in state machines, sessions, tokens, users,
//! verification codes, passwords, messages. No HTTP here, and no SQL: storage is reached through
//! the store's transaction methods.

pub mod accounts;
pub mod attack;
pub mod cleanup;
pub mod clients;
pub mod email_links;
pub mod environment;
pub mod error;
pub mod events;
pub mod handshake;
pub mod identifications;
pub mod ids;
pub mod messages;
pub mod mfa;
pub mod oauth;
pub mod outbox;
pub mod passwords;
pub mod profile_images;
pub mod redirects;
pub mod reverify;
pub mod sessions;
pub mod settings;
pub mod sign_in;
pub mod sign_in_tokens;
pub mod sign_up;
pub mod tokens;
pub mod transfer;
pub mod users;
pub mod views;
pub mod webhooks;

pub use error::DomainError;

use crate::secret::Secret;
use passwords::{PasswordHasher, PasswordResults};
use settings::Settings;

/// What every domain operation may read besides the store: the time, the instance's settings
/// and keys, and facts about the request.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub now: i64,
    pub settings: &'a Settings,
    /// Where the operation asks for session tokens, signed after its transaction commits;
    /// `None` for operations that hand out none.
    pub tokens: Option<&'a tokens::Unsigned>,
    /// Each session's newest token, reused as `last_active_token` while fresh.
    pub token_cache: &'a tokens::TokenCache,
    /// The emulator's own Frontend API URL: the `iss` of session tokens.
    pub issuer: &'a str,
    /// The Frontend API's address as this request reached it: [`Env::issuer`], or the proxy's
    /// (`Clerk-Proxy-Url`, as `clerkFrontendApiProxy` sends it) for a request a proxy
    /// forwarded. Absolute URLs handed out for the request (OAuth, email links, images, the
    /// handshake) start with it; tokens keep `issuer` as their `iss`.
    pub fapi_url: &'a str,
    pub hasher: &'a PasswordHasher,
    /// Password hashes and verifications done outside the transaction: ask with
    /// [`Env::verify_password`] and [`Env::hash_password`].
    pub passwords: &'a PasswordResults,
    /// The request's `Origin`, if any: the `azp` of session tokens.
    pub origin: Option<&'a str>,
    /// A browser-mode request (its client named by a dev browser): flows that hand a native app
    /// something to redeem (an OAuth `rotating_token_nonce`) do not, since the browser's own
    /// client already holds the result.
    pub browser: bool,
    /// The request carries a valid testing token (`__clerk_testing_token`): it skips rate
    /// limits and bot protection.
    pub testing: bool,
    pub instance_id: &'a str,
    /// The API request behind this operation: its id travels into jobs and webhook deliveries.
    pub request: &'a RequestInfo,
}

impl<'a> Env<'a> {
    /// This context for a request with a valid testing token, or not.
    pub fn with_testing(self, testing: bool) -> Self {
        Self { testing, ..self }
    }

    /// This context for a browser-mode request, or not.
    pub fn in_browser(self, browser: bool) -> Self {
        Self { browser, ..self }
    }

    /// This context with the results of password work done so far.
    pub fn with_passwords(self, passwords: &'a PasswordResults) -> Self {
        Self { passwords, ..self }
    }

    /// This context, asking for session tokens in `tokens`.
    pub fn with_tokens(self, tokens: &'a tokens::Unsigned) -> Self {
        Self {
            tokens: Some(tokens),
            ..self
        }
    }

    /// This context for a request forwarded by a Frontend API proxy at `proxy_url` (see
    /// [`Env::fapi_url`]); `None`, or anything but an absolute `http(s)` URL with a host and no
    /// query or user name, leaves the emulator's own address.
    pub fn with_proxy(self, proxy_url: Option<&'a str>) -> Self {
        match proxy_url.map(|p| p.trim_end_matches('/')) {
            Some(p) if is_proxy_url(p) => Self {
                fapi_url: p,
                ..self
            },
            _ => self,
        }
    }

    /// Whether `password` matches `digest`. The first call returns
    /// [`DomainError::PasswordWork`]: let it roll the transaction back (`?`), the caller does
    /// the work outside and runs the operation again.
    pub fn verify_password(&self, password: &str, digest: &Secret) -> Result<bool, DomainError> {
        self.passwords.verify(password, digest)
    }

    /// A digest of `password` with the instance's parameters (asked for like
    /// [`Env::verify_password`]).
    pub fn hash_password(&self, password: &str) -> Result<Secret, DomainError> {
        self.passwords.hash(password)
    }
}

/// Whether `raw` may stand for the Frontend API's address: an absolute `http(s)` URL with a
/// host, no user name, query or fragment, nothing a browser would read otherwise.
fn is_proxy_url(raw: &str) -> bool {
    if raw.len() > 2048
        || raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return false;
    }
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
}

/// Facts about the API request an operation serves.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestInfo {
    /// No request: background work.
    pub const NONE: Self = Self {
        id: None,
        client_ip: None,
        user_agent: None,
    };
}

/// Result of an operation that must keep its state change even when it fails (a wrong code
/// still counts as an attempt): the outer error rolls back, the inner one commits first.
pub type Committed<T> = Result<Result<T, DomainError>, DomainError>;

#[cfg(test)]
mod proxy_tests {
    use super::is_proxy_url;

    #[test]
    fn only_plain_http_urls_may_stand_for_the_frontend_api() {
        for ok in [
            "http://localhost:5173/__clerk",
            "https://app.example.com/__clerk",
            "http://127.0.0.1:3000",
        ] {
            assert!(is_proxy_url(ok), "{ok}");
        }
        for bad in [
            "",
            "/__clerk",
            "javascript:alert(1)",
            "ftp://x.example/",
            "https://u:p@evil.example/__clerk",
            "https://evil.example/__clerk?x=1",
            "https://evil.example/__clerk#x",
            "https://a.example/ b",
            "https://a.example\\@evil.example/",
            "http://",
        ] {
            assert!(!is_proxy_url(bad), "{bad:?}");
        }
    }
}
