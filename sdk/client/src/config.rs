//! Configuration: where the Frontend API is, where the session is kept, timeouts, retries and
//! token refresh timing.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::flows::oauth::BrowserOpener;
use crate::store::{KeyringStore, SessionStore};

/// The clock the SDK judges token freshness by: milliseconds since the Unix epoch.
///
/// The default is the system clock. On top of it the SDK tracks the server's clock: each session
/// token's `iat` tells how far the server's clock is from this one, and freshness is judged on
/// the server's clock, so a device whose clock is off neither serves expired tokens nor refreshes
/// on every call. Tests that move an in-process emulator's clock pass that clock here
/// (`.time_source(move || clock.now_ms())`), so the SDK sees the jump at once rather than at
/// the next token.
pub trait TimeSource: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

impl<F: Fn() -> i64 + Send + Sync + 'static> TimeSource for F {
    fn now_ms(&self) -> i64 {
        self()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl TimeSource for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// Retries of requests that failed in a way worth retrying: no connection, or a status that
/// says "not processed, try again" (408, 425, 429, 503 — for every request), or another 5xx or a
/// lost answer (only for requests safe to repeat: reads, token mints, deletes). Delays grow
/// exponentially with jitter; a `Retry-After` header is honoured when it is no longer than
/// [`RetryPolicy::max_retry_after`], and otherwise the error is returned at once.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Retries after the first attempt (default 3; 0 turns them off).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The delay before the first retry, doubled for each next one (default 200 ms).
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// The longest delay between two retries (default 5 s).
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The longest `Retry-After` the SDK waits out; a longer one returns the error.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    pub(crate) fn retries(&self) -> u32 {
        self.max_retries
    }

    pub(crate) fn retry_after_limit(&self) -> Duration {
        self.max_retry_after
    }

    /// The delay before retry number `attempt + 1`: `base · 2^attempt`, capped, then a random
    /// point in its upper half.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(if jitter_ms == 0 {
            0
        } else {
            rand::random::<u64>() % (jitter_ms + 1)
        })
    }
}

/// Builds a [`Latchkey`](crate::Latchkey). Start with
/// [`Latchkey::builder`](crate::Latchkey::builder).
pub struct Builder {
    pub(crate) app_id: String,
    pub(crate) fapi: Option<Result<String, Error>>,
    pub(crate) store: Option<Arc<dyn SessionStore>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) token_margin: Duration,
    pub(crate) refresh_lead: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) background_refresh: bool,
    pub(crate) sync_on_start: bool,
    pub(crate) clock: Arc<dyn TimeSource>,
    pub(crate) browser: Arc<dyn BrowserOpener>,
    pub(crate) oauth_timeout: Duration,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("app_id", &self.app_id)
            .field("frontend_api", &self.fapi)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("token_margin", &self.token_margin)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(crate) fn new(app_id: String) -> Self {
        Self {
            app_id,
            fapi: None,
            store: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            token_margin: Duration::from_secs(10),
            refresh_lead: Duration::from_secs(10),
            poll_interval: Duration::from_secs(5),
            background_refresh: true,
            sync_on_start: true,
            clock: Arc::new(SystemClock),
            browser: crate::flows::oauth::default_opener(),
            oauth_timeout: crate::flows::oauth::DEFAULT_TIMEOUT,
        }
    }

    /// The instance's publishable key (`pk_test_…`/`pk_live_…`); the Frontend API URL is
    /// derived from it, as in production.
    pub fn publishable_key(mut self, key: &str) -> Self {
        self.fapi = Some(
            latchkey_protocol::keys::frontend_api_url(key.trim())
                .ok_or_else(|| Error::Config("that is not a publishable key".into())),
        );
        self
    }

    /// An explicit Frontend API URL, e.g. an emulator's `http://127.0.0.1:4100`.
    pub fn frontend_api_url(mut self, url: &str) -> Self {
        let url = url.trim().trim_end_matches('/');
        self.fapi = Some(match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Ok(url.to_owned())
            }
            _ => Err(Error::Config(format!(
                "{url:?} is not an http(s) Frontend API URL"
            ))),
        });
        self
    }

    /// Where the session is kept between runs. Default: the OS keychain
    /// ([`KeyringStore`] for the app identifier).
    pub fn store(mut self, store: impl SessionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Time allowed for a whole request, answer included (default 30 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// How requests are retried (default: [`RetryPolicy::default`], 3 retries).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long a token returned by `session_token()` stays valid at least (default 10 s).
    pub fn token_margin(mut self, d: Duration) -> Self {
        self.token_margin = d;
        self
    }

    /// How long before the margin is reached the background refresher fetches the next token
    /// (default 10 s: with 60-second tokens, a new one about every 40 s).
    pub fn refresh_lead(mut self, d: Duration) -> Self {
        self.refresh_lead = d;
        self
    }

    /// How often the background refresher looks at the clock at most (default 5 s), so that a
    /// sleeping laptop or a jumped clock is noticed.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d.max(Duration::from_millis(10));
        self
    }

    /// Whether a background task keeps the active session's token fresh (default on).
    pub fn background_refresh(mut self, on: bool) -> Self {
        self.background_refresh = on;
        self
    }

    /// Whether the client is fetched once after start-up, to learn of sessions that ended while
    /// the app was closed (default on). The app is signed in from the store before that.
    pub fn sync_on_start(mut self, on: bool) -> Self {
        self.sync_on_start = on;
        self
    }

    /// The clock token freshness is judged by (default: the system clock); see [`TimeSource`].
    pub fn time_source(mut self, clock: impl TimeSource) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How OAuth flows open the provider's page (default: [`SystemBrowser`](crate::SystemBrowser), the OS's opener).
    pub fn browser_opener(mut self, opener: impl BrowserOpener) -> Self {
        self.browser = Arc::new(opener);
        self
    }

    /// How long [`Latchkey::sign_in_with_oauth`](crate::Latchkey::sign_in_with_oauth) waits for
    /// the browser to come back (default 5 minutes).
    pub fn oauth_timeout(mut self, d: Duration) -> Self {
        self.oauth_timeout = d;
        self
    }

    pub(crate) fn take_store(&mut self) -> Arc<dyn SessionStore> {
        match self.store.take() {
            Some(s) => s,
            None => Arc::new(KeyringStore::new(self.app_id.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(1000));
        for attempt in 0..40 {
            let d = p.backoff(attempt);
            let full = Duration::from_millis(100 * (1u64 << attempt.min(4)))
                .min(Duration::from_millis(1000));
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert_eq!(RetryPolicy::none().retries(), 0);
    }

    #[test]
    fn urls_are_validated() {
        let b = Builder::new("app".into()).frontend_api_url("http://127.0.0.1:4100/");
        assert!(matches!(b.fapi, Some(Ok(ref u)) if u == "http://127.0.0.1:4100"));
        let b = Builder::new("app".into()).frontend_api_url("ftp://x");
        assert!(matches!(b.fapi, Some(Err(Error::Config(_)))));
        let b = Builder::new("app".into()).publishable_key("pk_test_MTI3LjAuMC4xOjQxMDAk");
        assert!(matches!(b.fapi, Some(Ok(ref u)) if u == "http://127.0.0.1:4100"));
        let b = Builder::new("app".into()).publishable_key("sk_test_nope");
        assert!(matches!(b.fapi, Some(Err(Error::Config(_)))));
    }
}
