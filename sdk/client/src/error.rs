//! The SDK's one error type. It keeps apart what a caller reacts to differently: the server said
//! no (with Clerk's error codes), the server could not be reached, the answer made no sense, the
//! credential store failed, nobody is signed in, a flow was used out of order, bad configuration.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use latchkey_protocol::{ClerkError, ErrorCode};

use crate::store::StoreKey;

/// Everything that can go wrong in the SDK.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Frontend API answered with an error envelope.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The account is locked after too many failed sign-in attempts (`user_locked`). `until` is
    /// when the lock lifts (`None`: the server did not say, or it never lifts by itself).
    #[error("the account is locked{}", until_text(*until))]
    Locked {
        /// When the lock lifts: tell the user to come back then.
        until: Option<SystemTime>,
        /// The server's answer.
        #[source]
        error: ApiError,
    },
    /// Too many requests (HTTP 429), still refused after the retries of the
    /// [`RetryPolicy`](crate::RetryPolicy), which honour `Retry-After`. `retry_after` is what the
    /// last answer asked for.
    #[error("rate limited by the Frontend API{}", retry_text(*retry_after))]
    RateLimited {
        /// How long to wait before the next try.
        retry_after: Option<Duration>,
        /// The server's answer.
        #[source]
        error: ApiError,
    },
    /// The Frontend API could not be reached, or did not answer in time, and nothing cached
    /// could stand in.
    #[error("offline: the Frontend API could not be reached")]
    Offline {
        /// The connection failure or timeout.
        #[source]
        source: Cause,
    },
    /// HTTP failed in a way that is not about reachability (a broken body, an unexpected
    /// redirect, a TLS failure).
    #[error("HTTP transport failure")]
    Transport {
        /// The HTTP client's error.
        #[source]
        source: Cause,
    },
    /// A response that is not what the Frontend API sends.
    #[error("unexpected response from the Frontend API (HTTP {status}, {body:?})")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// The body as received.
        body: RawBody,
        /// Why it did not decode.
        #[source]
        source: Cause,
    },
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No session is active on this device.
    #[error("not signed in")]
    SignedOut,
    /// A flow step that does not fit the attempt's current status.
    #[error("{0}")]
    InvalidState(String),
    /// The SDK was configured wrongly.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An OAuth sign-in or sign-up ended in the browser: denied, cancelled, timed out.
    #[error(transparent)]
    OAuth(#[from] crate::flows::oauth::OAuthFailure),
}

fn until_text(until: Option<SystemTime>) -> String {
    match until.and_then(|u| u.duration_since(SystemTime::now()).ok()) {
        Some(left) => format!(" for another {} s", left.as_secs()),
        None => String::new(),
    }
}

fn retry_text(after: Option<Duration>) -> String {
    match after {
        Some(d) => format!("; retry after {} s", d.as_secs()),
        None => String::new(),
    }
}

impl Error {
    /// The server's answer behind an error, whichever variant carries it ([`Error::Api`],
    /// [`Error::Locked`], [`Error::RateLimited`]).
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e)
            | Error::Locked { error: e, .. }
            | Error::RateLimited { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The first Clerk error code of a server error (`form_password_incorrect`, …).
    pub fn code(&self) -> Option<&str> {
        self.api_error().and_then(ApiError::code)
    }

    /// [`Error::code`] as an [`ErrorCode`], `None` also for a code `latchkey-protocol` does not
    /// know.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.api_error().and_then(ApiError::error_code)
    }

    /// The typed error of a server answer: `user_locked` is [`Error::Locked`] (its lift time
    /// read from `meta.lockout_expires_in_seconds`, else `meta.duration_in_seconds`, counted
    /// from `now_ms`), HTTP 429 is [`Error::RateLimited`], anything else [`Error::Api`].
    pub(crate) fn from_api(e: ApiError, retry_after: Option<Duration>, now_ms: i64) -> Self {
        if e.status == 429 {
            return Error::RateLimited {
                retry_after,
                error: e,
            };
        }
        if e.has_code(ErrorCode::UserLocked) {
            let secs = e
                .errors
                .iter()
                .find(|x| x.code == ErrorCode::UserLocked.as_str())
                .and_then(|x| {
                    ["lockout_expires_in_seconds", "duration_in_seconds"]
                        .iter()
                        .find_map(|k| x.meta.get(*k).and_then(serde_json::Value::as_u64))
                });
            let until = secs.map(|s| {
                let now = SystemTime::UNIX_EPOCH
                    + Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
                now + Duration::from_secs(s)
            });
            return Error::Locked { until, error: e };
        }
        Error::Api(e)
    }

    /// Whether the Frontend API could not be reached ([`Error::Offline`]): keep the user's
    /// work, show that the app is offline, and try again later.
    pub fn is_offline(&self) -> bool {
        matches!(self, Error::Offline { .. })
    }

    pub(crate) fn offline(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Offline {
            source: Cause::new(source),
        }
    }

    pub(crate) fn transport(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Transport {
            source: Cause::new(source),
        }
    }

    pub(crate) fn decode(
        status: u16,
        body: &[u8],
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Decode {
            status,
            body: RawBody(Arc::from(String::from_utf8_lossy(body).as_ref())),
            source: Cause::new(source),
        }
    }
}

/// An error answer of the Frontend API: the HTTP status and Clerk's error envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status (400–599).
    pub status: u16,
    /// The envelope's errors, most important first (each with a code to branch on and a
    /// `long_message` fit to show the user).
    pub errors: Vec<ClerkError>,
    /// `clerk_trace_id`, to find the request in the server's log.
    pub trace_id: Option<String>,
}

impl ApiError {
    /// The first error's code, the one to branch on.
    pub fn code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }

    /// The first error's code as an [`ErrorCode`], `None` for a code `latchkey-protocol` does
    /// not know (read it with [`ApiError::code`]).
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.errors.first().and_then(ClerkError::error_code)
    }

    /// Whether any of the errors has this code (an [`ErrorCode`] or a code as a string).
    pub fn has_code(&self, code: impl AsRef<str>) -> bool {
        self.errors.iter().any(|e| e.code == code.as_ref())
    }

    /// The first error's human-readable message (`long_message`).
    pub fn message(&self) -> Option<&str> {
        self.errors.first().map(|e| e.long_message.as_str())
    }

    /// The request parameter the first error is about (`meta.param_name`).
    pub fn param_name(&self) -> Option<&str> {
        self.errors.first().and_then(ClerkError::param_name)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.first() {
            Some(e) => write!(f, "{}: {} (HTTP {})", e.code, e.long_message, self.status),
            None => write!(f, "HTTP {} without error details", self.status),
        }
    }
}

impl std::error::Error for ApiError {}

/// The body of a response that could not be decoded. `Debug` shows only its length, since a
/// body may carry a token; [`RawBody::text`] gives the text.
#[derive(Clone)]
pub struct RawBody(Arc<str>);

impl RawBody {
    /// The body as received. It may hold a credential: show it with care.
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RawBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// The underlying cause of an error, shared so that [`Error`] can be cloned (one failed token
/// request answers every caller that waited for it).
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    /// Wraps an error (for [`SessionStore`](crate::SessionStore) implementations).
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }

    pub(crate) fn boxed(e: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Self(Arc::from(e))
    }

    pub(crate) fn msg(m: impl Into<String>) -> Self {
        Self::new(Message(m.into()))
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A plain-text cause for failures that have no error value of their own.
#[derive(Debug)]
pub(crate) struct Message(pub(crate) String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// A failure of a [`SessionStore`](crate::SessionStore). A missing entry is not an error: `load`
/// returns `Ok(None)`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No credential store could be reached (no Secret Service and no kernel keyring, …).
    #[error("no credential store is available")]
    Unavailable {
        /// The platform's error.
        #[source]
        source: Cause,
    },
    /// The credential store refused access (locked keychain, denied prompt).
    #[error("access to the credential store was denied")]
    AccessDenied {
        /// The platform's error.
        #[source]
        source: Cause,
    },
    /// The platform's credential store failed.
    #[error("the credential store failed")]
    Platform {
        /// The platform's error.
        #[source]
        source: Cause,
    },
    /// Reading or writing a session file failed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: Cause,
    },
    /// An entry exists but cannot be read back; the SDK treats it as signed out.
    #[error("the stored {key} entry is corrupt: {reason}")]
    Corrupt {
        /// The entry.
        key: StoreKey,
        /// What is wrong with it.
        reason: String,
    },
    /// The stored session belongs to another Frontend API than the configured one (`stored` is
    /// `None` for a session stored before sessions were bound to their API). It was discarded
    /// without being sent anywhere; the device starts signed out.
    #[error("{}", describe_other_api(stored.as_deref(), configured))]
    OtherFrontendApi {
        /// The Frontend API the stored session came from.
        stored: Option<String>,
        /// The Frontend API the SDK is configured for.
        configured: String,
    },
    /// A [`FileStore`](crate::FileStore) path holds a file this user should not trust (a
    /// symbolic link, not a regular file, another user's, or readable by others). It is neither
    /// read nor replaced.
    #[error("refusing the session file {}: {reason}", path.display())]
    InsecureFile {
        /// The refused path.
        path: PathBuf,
        /// Why it is not trusted.
        reason: String,
    },
}

fn describe_other_api(stored: Option<&str>, configured: &str) -> String {
    match stored {
        Some(stored) => format!(
            "the stored session belongs to the Frontend API {stored}, not {configured}; it was not sent there"
        ),
        None => format!(
            "the stored session does not say which Frontend API it belongs to; it was not sent to {configured}"
        ),
    }
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source: Cause::new(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_the_server_codes() {
        let e = Error::Api(ApiError {
            status: 422,
            errors: vec![
                ClerkError::new("form_password_incorrect", "bad", "Password is incorrect.")
                    .param("password"),
            ],
            trace_id: Some("t".into()),
        });
        assert_eq!(e.code(), Some("form_password_incorrect"));
        assert_eq!(
            e.to_string(),
            "form_password_incorrect: Password is incorrect. (HTTP 422)"
        );
        let Error::Api(api) = &e else { return };
        assert_eq!(api.param_name(), Some("password"));
        assert!(api.has_code("form_password_incorrect"));
        assert!(api.has_code(ErrorCode::FormPasswordIncorrect));
        assert_eq!(e.error_code(), Some(ErrorCode::FormPasswordIncorrect));
        assert!(!e.is_offline());
    }

    #[test]
    fn decode_errors_hide_the_body_in_debug() {
        let e = Error::decode(200, br#"{"jwt":"eyJsecret"}"#, Message("bad".into()));
        assert!(!format!("{e:?}").contains("eyJsecret"));
        assert!(!e.to_string().contains("eyJsecret"));
        let Error::Decode { body, .. } = e else {
            return;
        };
        assert!(body.text().contains("eyJsecret"));
    }
}
