//! Sign-in and sign-up through an OAuth provider (Google, GitHub, Apple, Microsoft or an
//! instance's custom provider), in the **system browser** as RFC 8252 asks of native apps —
//! never in an embedded webview.
//!
//! [`Latchkey::sign_in_with_oauth`] does the whole round trip: it listens on a one-shot loopback
//! address (`http://127.0.0.1:<free port>/callback`, RFC 8252 §7.3), starts the attempt with that
//! redirect, opens the provider's page through the [`BrowserOpener`] (by default
//! [`SystemBrowser`], the OS's own opener), waits for the browser to come back, and finishes:
//! redeems the single-use `rotating_token_nonce` the Frontend API put on the callback, or
//! follows a **transfer** (a sign-in for someone with no account becomes a sign-up, a sign-up
//! for an existing account a sign-in), or ends with an [`OAuthFailure`] — denied, cancelled,
//! timed out. The listener is closed on every way out, a dropped future included.
//!
//! Apps that claim a URL scheme (a deep link such as `com.example.notes://callback`, registered
//! in the instance's allowlist of redirect URLs) start with
//! [`Latchkey::start_oauth_sign_in`], open [`PendingOAuth::authorize_url`], and hand the URL
//! the OS delivers to [`PendingOAuth::complete`]. Against the hosted service, which may refuse
//! loopback redirects, that is the way to go; the emulator and development instances accept
//! loopback on any port.
//!
//! Every redirect URL carries a random `lk_state` of this attempt's own; a callback without it
//! (another attempt's, or one forged by a page that found the port) is refused.
//!
//! Native provider SDKs (Sign in with Apple, Google's Credential Manager) hand out ID tokens
//! instead: [`Latchkey::sign_in_with_id_token`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use latchkey_protocol::{SignIn, SignUp, VerificationStatus};
use rand::RngCore as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::sign_in::SignInAttempt;
use super::sign_up::{SignUpAttempt, SignUpStatus};
use crate::client::Latchkey;
use crate::error::Error;
use crate::secret::Secret;
use crate::transport::{Call, segment};

/// An OAuth provider of the instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthProvider {
    /// `oauth_google`.
    Google,
    /// `oauth_github`.
    Github,
    /// `oauth_apple`.
    Apple,
    /// `oauth_microsoft`.
    Microsoft,
    /// An instance's custom provider `oauth_custom_<name>`; holds `<name>`.
    Custom(String),
}

impl OAuthProvider {
    /// The provider as the Frontend API names it after `oauth_`: `google`, `custom_acme`.
    pub fn name(&self) -> String {
        match self {
            Self::Google => "google".into(),
            Self::Github => "github".into(),
            Self::Apple => "apple".into(),
            Self::Microsoft => "microsoft".into(),
            Self::Custom(n) => format!("custom_{n}"),
        }
    }

    /// The browser strategy: `oauth_google`, `oauth_custom_acme`.
    pub fn strategy(&self) -> String {
        format!("oauth_{}", self.name())
    }

    /// The strategy for a provider's ID token: `google_one_tap` for Google (what Google's
    /// Credential Manager flows use with Clerk), `oauth_token_<provider>` for the others.
    pub fn id_token_strategy(&self) -> String {
        match self {
            Self::Google => "google_one_tap".into(),
            other => format!("oauth_token_{}", other.name()),
        }
    }
}

impl fmt::Display for OAuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for OAuthProvider {
    type Err = Error;

    /// `google`, `oauth_google`, `custom_acme`, `oauth_custom_acme`, any case.
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("oauth_").unwrap_or(&s);
        Ok(match s {
            "google" => Self::Google,
            "github" => Self::Github,
            "apple" => Self::Apple,
            "microsoft" => Self::Microsoft,
            other => match other.strip_prefix("custom_") {
                Some(n)
                    if !n.is_empty()
                        && n.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                        }) =>
                {
                    Self::Custom(n.to_owned())
                }
                _ => {
                    return Err(Error::Config(format!(
                        "{s:?} is not an OAuth provider (google, github, apple, microsoft, custom_<name>)"
                    )));
                }
            },
        })
    }
}

/// Opens a URL in the user's browser. The default, [`SystemBrowser`], asks the OS; tests and
/// kiosk apps plug in their own (a closure `Fn(&str) -> Result<(), Error>` is one).
pub trait BrowserOpener: Send + Sync + 'static {
    /// Opens `url`; returns once the browser was asked, not when the user is done.
    fn open(&self, url: &str) -> Result<(), Error>;
}

impl<F> BrowserOpener for F
where
    F: Fn(&str) -> Result<(), Error> + Send + Sync + 'static,
{
    fn open(&self, url: &str) -> Result<(), Error> {
        self(url)
    }
}

/// The OS's own opener (`xdg-open` and friends on Linux, `open` on macOS, `ShellExecute` on
/// Windows), through the `open` crate; the browser runs detached from the app.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemBrowser;

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), Error> {
        open::that_detached(url)
            .map_err(|e| Error::Config(format!("cannot open the system browser: {e}")))
    }
}

/// Why an OAuth sign-in or sign-up ended without an attempt to continue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthFailure {
    /// The user (or the provider) refused the authorization (`oauth_access_denied`).
    #[error("the sign-in was denied at the provider")]
    Denied,
    /// The browser came back with neither a result nor an error: the flow was abandoned.
    #[error("the sign-in was cancelled")]
    Cancelled,
    /// The browser did not come back in time (see
    /// [`Builder::oauth_timeout`](crate::Builder::oauth_timeout)).
    #[error("the browser did not come back in time")]
    TimedOut,
    /// The Frontend API reported another failure on the callback (`__clerk_error_code`).
    #[error("the sign-in failed: {code}")]
    Failed {
        /// Clerk's error code, e.g. `not_allowed_access`, `oauth_callback_invalid`.
        code: String,
    },
}

/// Where an OAuth flow ended: a sign-in or, after a transfer (or from the start), a sign-up.
/// Either may be complete or need more (a second factor, a missing field).
// Returned once per flow and matched at once: boxing the sign-up would only make matching
// clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OAuthOutcome {
    /// The provider account belongs to a user: a sign-in (complete, or needing a second factor).
    SignIn(SignInAttempt),
    /// A new user: a sign-up (complete, or missing fields such as a username).
    SignUp(SignUpAttempt),
}

impl OAuthOutcome {
    /// Whether the user is signed in now.
    pub fn is_complete(&self) -> bool {
        match self {
            Self::SignIn(a) => a.is_complete(),
            Self::SignUp(a) => a.status() == SignUpStatus::Complete,
        }
    }

    /// The session the flow created, once complete.
    pub fn created_session_id(&self) -> Option<&str> {
        match self {
            Self::SignIn(a) => a.created_session_id(),
            Self::SignUp(a) => a.created_session_id(),
        }
    }
}

#[allow(clippy::large_enum_variant)] // one per pending flow
#[derive(Debug, Clone)]
enum Flow {
    SignIn(SignInAttempt),
    SignUp(SignUpAttempt),
}

/// An OAuth attempt waiting for the browser to come back. Open
/// [`authorize_url`](Self::authorize_url) (or [`open_browser`](Self::open_browser)), then hand
/// the callback URL to [`complete`](Self::complete).
pub struct PendingOAuth {
    flow: Flow,
    authorize_url: String,
    redirect_url: url::Url,
    state: Secret,
}

impl fmt::Debug for PendingOAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = match &self.flow {
            Flow::SignIn(a) => a.id(),
            Flow::SignUp(a) => a.id(),
        };
        f.debug_struct("PendingOAuth")
            .field("attempt", &id)
            .finish_non_exhaustive()
    }
}

/// The query parameter that binds a callback to its attempt.
const STATE_PARAM: &str = "lk_state";

impl PendingOAuth {
    /// The provider's authorization page to open in the system browser.
    pub fn authorize_url(&self) -> &str {
        &self.authorize_url
    }

    /// The id of the sign-in (`sia_…`) or sign-up (`sua_…`) under way.
    pub fn attempt_id(&self) -> &str {
        match &self.flow {
            Flow::SignIn(a) => a.id(),
            Flow::SignUp(a) => a.id(),
        }
    }

    /// The redirect URL the browser comes back to (with this attempt's `lk_state`).
    pub fn redirect_url(&self) -> &str {
        self.redirect_url.as_str()
    }

    /// Opens [`authorize_url`](Self::authorize_url) with the SDK's [`BrowserOpener`].
    pub fn open_browser(&self) -> Result<(), Error> {
        self.lk().inner.browser.open(&self.authorize_url)
    }

    fn lk(&self) -> &Latchkey {
        match &self.flow {
            Flow::SignIn(a) => a.lk(),
            Flow::SignUp(a) => a.lk(),
        }
    }

    /// Finishes from the URL the browser came back to: redeems the `rotating_token_nonce`, or
    /// follows a transfer (`external_account_not_found` on a sign-in becomes a sign-up,
    /// `external_account_exists` on a sign-up a sign-in).
    ///
    /// Errors: [`Error::InvalidState`] for a URL that is not this attempt's callback (another
    /// address, no or another `lk_state`); [`Error::OAuth`] for a denial
    /// ([`OAuthFailure::Denied`]), a callback with no result ([`OAuthFailure::Cancelled`]) or
    /// another reported failure; the server's refusal of the nonce (`rotating_token_nonce_invalid`:
    /// used already, or not this client's) as [`Error::Api`].
    pub async fn complete(&self, callback_url: &str) -> Result<OAuthOutcome, Error> {
        let params = self.callback_params(callback_url)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if let Some(nonce) = get("rotating_token_nonce").filter(|n| !n.is_empty()) {
            let query = format!(
                "?rotating_token_nonce={}",
                url::form_urlencoded::byte_serialize(nonce.as_bytes()).collect::<String>()
            );
            return Ok(match self.flow.clone() {
                Flow::SignIn(mut a) => {
                    let path = format!("/v1/client/sign_ins/{}{query}", segment(a.id()));
                    a.run(Call::get(path).single_use()).await?;
                    OAuthOutcome::SignIn(a)
                }
                Flow::SignUp(mut a) => {
                    let path = format!("/v1/client/sign_ups/{}{query}", segment(a.id()));
                    a.run(Call::get(path).single_use()).await?;
                    OAuthOutcome::SignUp(a)
                }
            });
        }
        let code = match get("__clerk_status") {
            Some("failed") => get("__clerk_error_code").unwrap_or("").to_owned(),
            // Android's rule: a callback with neither a nonce nor a failure is a cancellation.
            _ => return Err(Error::OAuth(OAuthFailure::Cancelled)),
        };
        let lk = self.lk().clone();
        match (&self.flow, code.as_str()) {
            (Flow::SignIn(_), "external_account_not_found") => lk.transfer_to_sign_up().await,
            (Flow::SignUp(_), "external_account_exists") => lk.transfer_to_sign_in().await,
            (_, "oauth_access_denied" | "access_denied") => Err(Error::OAuth(OAuthFailure::Denied)),
            (_, "") => Err(Error::OAuth(OAuthFailure::Cancelled)),
            _ => Err(Error::OAuth(OAuthFailure::Failed { code })),
        }
    }

    /// Whether `url` is this attempt's callback (its address and `lk_state`): for an app that
    /// receives deep links and has several attempts under way.
    pub fn is_callback(&self, url: &str) -> bool {
        self.callback_params(url).is_ok()
    }

    /// The callback's query (and fragment) parameters, once it is known to be this attempt's.
    fn callback_params(&self, callback_url: &str) -> Result<Vec<(String, String)>, Error> {
        let bad =
            |why: &str| Error::InvalidState(format!("not this OAuth attempt's callback: {why}"));
        let pairs = callback_pairs(callback_url, &self.redirect_url).map_err(|e| bad(&e))?;
        let state_ok = pairs
            .iter()
            .filter(|(k, _)| k == STATE_PARAM)
            .any(|(_, v)| constant_time_eq(v.as_bytes(), self.state.expose().as_bytes()));
        if !state_ok {
            return Err(bad("no lk_state, or another attempt's"));
        }
        Ok(pairs)
    }
}

/// The query and fragment parameters of `callback_url` (Android's SDKs read both), once it is
/// known to be at `expected`'s address (scheme, host, port, path); else why not.
pub(crate) fn callback_pairs(
    callback_url: &str,
    expected: &url::Url,
) -> Result<Vec<(String, String)>, String> {
    let url = url::Url::parse(callback_url).map_err(|e| e.to_string())?;
    let same_place = url.scheme() == expected.scheme()
        && url.host_str() == expected.host_str()
        && url.port_or_known_default() == expected.port_or_known_default()
        && url.path() == expected.path();
    if !same_place {
        return Err("another address".into());
    }
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if let Some(f) = url.fragment() {
        pairs.extend(url::form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    Ok(pairs)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes, base64url: the attempt's own state.
fn random_state() -> Secret {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// `redirect_url` with this attempt's `lk_state` added to its query.
fn with_state(redirect_url: &str, state: &Secret) -> Result<url::Url, Error> {
    let mut url = url::Url::parse(redirect_url)
        .map_err(|e| Error::Config(format!("{redirect_url:?} is not a redirect URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair(STATE_PARAM, state.expose());
    Ok(url)
}

/// The provider page to open, from a verification that must be `unverified` with one.
fn authorize_url_of(
    fapi_url: &str,
    v: Option<&latchkey_protocol::Verification>,
) -> Result<String, Error> {
    match v {
        Some(v) if v.status == VerificationStatus::Unverified.as_str() => {
            let url = v
                .external_verification_redirect_url
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    Error::InvalidState("the Frontend API gave no provider page".into())
                })?;
            if !openable(fapi_url, &url) {
                return Err(Error::InvalidState(format!(
                    "refusing to open {url:?}: a provider page is https (or http on this machine or the Frontend API's host)"
                )));
            }
            Ok(url)
        }
        Some(v) => Err(Error::InvalidState(format!(
            "the OAuth verification is {}, not unverified",
            v.status
        ))),
        None => Err(Error::InvalidState(
            "the Frontend API started no OAuth verification".into(),
        )),
    }
}

/// Whether the OS opener may be handed `url`: `https`, or `http` to a loopback address or the
/// Frontend API's own host (an emulator's mock page). Anything else (`file:`, a UNC path, an
/// OS handler scheme) could run code through the opener.
fn openable(fapi_url: &str, url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    match u.scheme() {
        "https" => u.host().is_some(),
        "http" => {
            let loopback = match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            let fapi_host = url::Url::parse(fapi_url)
                .ok()
                .and_then(|f| f.host_str().map(str::to_owned));
            loopback || (u.host_str().is_some() && u.host_str() == fapi_host.as_deref())
        }
        _ => false,
    }
}

fn sign_up_verification(raw: &SignUp) -> Option<latchkey_protocol::Verification> {
    raw.verifications
        .external_account
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
}

fn transferable(v: Option<&latchkey_protocol::Verification>) -> bool {
    v.is_some_and(|v| v.status == VerificationStatus::Transferable.as_str())
}

/// The page the browser shows when it comes back to the loopback listener: the app takes over
/// (`ok`: a nonce to redeem or a transfer to make), or the provider step failed.
fn landing_page(ok: bool) -> String {
    let (title, text) = if ok {
        (
            "Back to the app",
            "You can close this window: the app takes it from here.",
        )
    } else {
        (
            "Sign-in did not complete",
            "Go back to the app to try again.",
        )
    };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body></html>"
    )
}

/// The one-shot loopback listener (RFC 8252 §7.3) and its redirect URL. Dropping it closes the
/// port.
struct Loopback {
    listener: TcpListener,
    redirect_url: String,
}

/// The longest request head the listener reads.
const MAX_REQUEST: usize = 16 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How many connections are read at once.
const MAX_CONNECTIONS: usize = 16;

impl Loopback {
    async fn bind() -> Result<Self, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::Config(format!("cannot listen on a loopback port: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen on a loopback port: {e}")))?
            .port();
        Ok(Self {
            listener,
            redirect_url: format!("http://127.0.0.1:{port}/callback"),
        })
    }

    /// Serves requests until one is `pending`'s callback, which it answers with a page and
    /// returns as a full URL. Anything else (a favicon, another path, a forged `lk_state`) gets
    /// a 404 or 400 and the wait goes on.
    ///
    /// Connections are read side by side (up to [`MAX_CONNECTIONS`] at once, each given
    /// [`READ_TIMEOUT`]), so idle ones — a browser's speculative pre-connect, or a local process
    /// holding sockets open — cannot hold up the real callback; past the cap, new connections
    /// are closed at once. The reads in flight go with the future.
    async fn wait(&self, pending: &PendingOAuth) -> String {
        let mut reading = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                Some(done) = reading.join_next() => {
                    if let Ok(Some((stream, target))) = done
                        && let Some(url) = Self::answer(pending, stream, target).await
                    {
                        return url;
                    }
                    continue;
                }
            };
            match accepted {
                Ok((mut stream, _)) if reading.len() < MAX_CONNECTIONS => {
                    reading.spawn(async move {
                        let target = read_target(&mut stream).await?;
                        Some((stream, target))
                    });
                }
                Ok(_) => {} // over the cap: dropped, which closes it
                Err(e) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::debug!(error = %e, "loopback accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Answers one request: `pending`'s callback gets the landing page and is returned as a
    /// full URL; anything else a 404 or 400.
    async fn answer(
        pending: &PendingOAuth,
        mut stream: TcpStream,
        target: String,
    ) -> Option<String> {
        let url = format!(
            "http://127.0.0.1:{}{target}",
            pending.redirect_url.port().unwrap_or(0)
        );
        match pending.callback_params(&url) {
            Ok(params) => {
                let ok = params.iter().any(|(k, v)| {
                    k == "rotating_token_nonce"
                        || (k == "__clerk_error_code"
                            && matches!(
                                v.as_str(),
                                "external_account_not_found" | "external_account_exists"
                            ))
                });
                respond(&mut stream, "200 OK", &landing_page(ok)).await;
                return Some(url);
            }
            Err(_) if !target.starts_with("/callback") => {
                respond(&mut stream, "404 Not Found", "not found").await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a loopback callback");
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "not this sign-in's callback",
                )
                .await;
            }
        }
        None
    }
}

/// The request target of a `GET` (`/callback?…`), or `None` for anything unreadable.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(READ_TIMEOUT, read).await.ok()??;
    let head = std::str::from_utf8(&buf).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The browser's page is a courtesy: a failure to show it changes nothing.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

impl Latchkey {
    /// Signs in through `provider` in the system browser, with a loopback redirect: see the
    /// [module docs](self). Returns a [`OAuthOutcome::SignIn`], or a [`OAuthOutcome::SignUp`]
    /// when nobody has this provider account yet (the transfer Clerk's clients make).
    pub async fn sign_in_with_oauth(
        &self,
        provider: &OAuthProvider,
    ) -> Result<OAuthOutcome, Error> {
        let loopback = Loopback::bind().await?;
        let pending = self
            .start_oauth_sign_in(provider, &loopback.redirect_url)
            .await?;
        self.round_trip(loopback, pending).await
    }

    /// Signs up through `provider` in the system browser, as
    /// [`sign_in_with_oauth`](Self::sign_in_with_oauth); an account that exists already signs
    /// in instead ([`OAuthOutcome::SignIn`]).
    pub async fn sign_up_with_oauth(
        &self,
        provider: &OAuthProvider,
    ) -> Result<OAuthOutcome, Error> {
        let loopback = Loopback::bind().await?;
        let pending = self
            .start_oauth_sign_up(provider, &loopback.redirect_url)
            .await?;
        self.round_trip(loopback, pending).await
    }

    async fn round_trip(
        &self,
        loopback: Loopback,
        pending: PendingOAuth,
    ) -> Result<OAuthOutcome, Error> {
        pending.open_browser()?;
        let callback =
            tokio::time::timeout(self.inner.oauth_timeout, loopback.wait(&pending)).await;
        drop(loopback); // the port closes before the network calls that finish the flow
        match callback {
            Ok(url) => pending.complete(&url).await,
            Err(_) => Err(Error::OAuth(OAuthFailure::TimedOut)),
        }
    }

    /// Starts a sign-in through `provider` that comes back to `redirect_url`: a custom scheme the
    /// app claims (on the instance's allowlist) or a loopback URL it listens on. Open
    /// [`PendingOAuth::authorize_url`], then [`PendingOAuth::complete`] with the callback URL.
    pub async fn start_oauth_sign_in(
        &self,
        provider: &OAuthProvider,
        redirect_url: &str,
    ) -> Result<PendingOAuth, Error> {
        self.start_oauth(provider, redirect_url, false).await
    }

    /// Starts a sign-up through `provider`, as [`start_oauth_sign_in`](Self::start_oauth_sign_in).
    pub async fn start_oauth_sign_up(
        &self,
        provider: &OAuthProvider,
        redirect_url: &str,
    ) -> Result<PendingOAuth, Error> {
        self.start_oauth(provider, redirect_url, true).await
    }

    /// A sign-in (or a sign-up) through `provider` back to `redirect_url` with a fresh state:
    /// the attempt and the provider page its verification points at.
    async fn start_oauth(
        &self,
        provider: &OAuthProvider,
        redirect_url: &str,
        sign_up: bool,
    ) -> Result<PendingOAuth, Error> {
        let state = random_state();
        let redirect = with_state(redirect_url, &state)?;
        let path = if sign_up {
            "/v1/client/sign_ups"
        } else {
            "/v1/client/sign_ins"
        };
        let call = Call::post(path)
            .form("strategy", provider.strategy())
            .form("redirect_url", redirect.as_str())
            .form("action_complete_redirect_url", redirect.as_str());
        let (flow, authorize_url) = if sign_up {
            let attempt = self.create_sign_up(call).await?;
            let url = authorize_url_of(
                &self.inner.fapi_url,
                sign_up_verification(attempt.raw()).as_ref(),
            )?;
            (Flow::SignUp(attempt), url)
        } else {
            let attempt = self.create_sign_in(call).await?;
            let raw: &SignIn = attempt.raw();
            let url =
                authorize_url_of(&self.inner.fapi_url, raw.first_factor_verification.as_ref())?;
            (Flow::SignIn(attempt), url)
        };
        Ok(PendingOAuth {
            flow,
            authorize_url,
            redirect_url: redirect,
            state,
        })
    }

    /// Signs in with an ID token from a native provider SDK (Sign in with Apple, Google's
    /// Credential Manager): `google_one_tap` for Google, `oauth_token_<provider>` for the others.
    /// Nobody with this account: signs up instead, with the same token.
    pub async fn sign_in_with_id_token(
        &self,
        provider: &OAuthProvider,
        id_token: &str,
    ) -> Result<OAuthOutcome, Error> {
        let strategy = provider.id_token_strategy();
        let call = Call::post("/v1/client/sign_ins")
            .form("strategy", strategy.clone())
            .form("token", id_token);
        match self.create_sign_in(call).await {
            Ok(attempt) if transferable(attempt.raw().first_factor_verification.as_ref()) => {
                self.transfer_to_sign_up().await
            }
            Ok(attempt) => Ok(OAuthOutcome::SignIn(attempt)),
            // google_one_tap fails outright for an unknown user; its clients sign up themselves.
            Err(e) if e.code() == Some("external_account_not_found") => {
                let call = Call::post("/v1/client/sign_ups")
                    .form("strategy", strategy)
                    .form("token", id_token);
                Ok(OAuthOutcome::SignUp(self.create_sign_up(call).await?))
            }
            Err(e) => Err(e),
        }
    }

    /// `transfer=true` on a sign-up: the client's transferable sign-in becomes a new user.
    async fn transfer_to_sign_up(&self) -> Result<OAuthOutcome, Error> {
        let call = Call::post("/v1/client/sign_ups").form("transfer", "true");
        Ok(OAuthOutcome::SignUp(self.create_sign_up(call).await?))
    }

    /// `transfer=true` on a sign-in: the client's transferable sign-up signs its user in.
    async fn transfer_to_sign_in(&self) -> Result<OAuthOutcome, Error> {
        let call = Call::post("/v1/client/sign_ins").form("transfer", "true");
        Ok(OAuthOutcome::SignIn(self.create_sign_in(call).await?))
    }
}

/// The default wait for the browser to come back: five minutes, time to log in at a provider.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The default opener.
pub(crate) fn default_opener() -> Arc<dyn BrowserOpener> {
    Arc::new(SystemBrowser)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn providers_read_and_name_themselves_as_the_frontend_api_does() {
        for (s, p) in [
            ("google", OAuthProvider::Google),
            ("oauth_github", OAuthProvider::Github),
            ("Apple", OAuthProvider::Apple),
            ("microsoft", OAuthProvider::Microsoft),
            ("custom_acme", OAuthProvider::Custom("acme".into())),
            (
                "oauth_custom_my-idp",
                OAuthProvider::Custom("my-idp".into()),
            ),
        ] {
            assert_eq!(s.parse::<OAuthProvider>().ok(), Some(p));
        }
        assert_eq!(OAuthProvider::Google.strategy(), "oauth_google");
        assert_eq!(OAuthProvider::Google.id_token_strategy(), "google_one_tap");
        assert_eq!(
            OAuthProvider::Apple.id_token_strategy(),
            "oauth_token_apple"
        );
        assert_eq!(
            OAuthProvider::Custom("acme".into()).strategy(),
            "oauth_custom_acme"
        );
        for bad in ["myspace", "custom_", "custom_A B", ""] {
            assert!(bad.parse::<OAuthProvider>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_state_is_added_to_the_redirect_and_compared_exactly() {
        let s = random_state();
        assert_eq!(s.expose().len(), 43);
        let u = with_state("com.example.notes://callback?x=1", &s).expect("a URL");
        assert!(
            u.as_str()
                .starts_with("com.example.notes://callback?x=1&lk_state=")
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert_ne!(random_state().expose(), s.expose());
    }

    #[test]
    fn only_web_pages_go_to_the_os_opener() {
        let fapi = "http://10.0.0.5:4100";
        for ok in [
            "https://accounts.google.com/o/oauth2/auth?x=1",
            "http://127.0.0.1:4100/_emulator/oauth/google/authorize",
            "http://localhost:9/x",
            "http://10.0.0.5:4100/_emulator/oauth/google/authorize",
        ] {
            assert!(openable(fapi, ok), "{ok}");
        }
        for bad in [
            "file:///etc/passwd",
            "ms-settings:privacy",
            "javascript:alert(1)",
            "http://evil.example/x",
            "\\\\server\\share",
            "",
        ] {
            assert!(!openable(fapi, bad), "{bad}");
        }
    }
}
