//! The plugin's error: what a command rejects its promise with. It keeps the SDK's kind of
//! failure and the server's Clerk error codes, and serialises to a plain object the webview can
//! branch on:
//!
//! ```json
//! { "kind": "api", "message": "form_password_incorrect: Password is incorrect. (HTTP 422)",
//!   "code": "form_password_incorrect", "status": 422,
//!   "errors": [{ "code": "form_password_incorrect", "message": "…", "longMessage": "…", "meta": {} }] }
//! ```

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::time::{SystemTime, UNIX_EPOCH};

/// A failed command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SDK failed (the server said no, offline, the keychain failed, nobody signed in, …).
    #[error(transparent)]
    Latchkey(#[from] latchkey::Error),
    /// A sign-in or sign-up id this app did not start, or that already finished.
    #[error("no {flow} {id} is under way in this app")]
    UnknownAttempt {
        /// `sign-in`, `sign-up` or `email-link sign-in`.
        flow: &'static str,
        /// The id the webview sent.
        id: String,
    },
    /// An argument outside what the command accepts (an unknown strategy, …).
    #[error("{0}")]
    InvalidArgument(String),
    /// The plugin was not given a Frontend API (see `Builder` and the `latchkey` plugin config).
    #[error("tauri-plugin-latchkey is not configured: {0}")]
    NotConfigured(String),
}

/// What the plugin's operations return.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The kind as the webview sees it (`api`, `locked`, `rateLimited`, `offline`, `transport`,
    /// `decode`, `store`, `signedOut`, `invalidState`, `config`, `oauth`, `unknownAttempt`,
    /// `invalidArgument`, `notConfigured`, `other`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Latchkey(e) => match e {
                latchkey::Error::Api(_) => "api",
                latchkey::Error::Locked { .. } => "locked",
                latchkey::Error::RateLimited { .. } => "rateLimited",
                latchkey::Error::Offline { .. } => "offline",
                latchkey::Error::Transport { .. } => "transport",
                latchkey::Error::Decode { .. } => "decode",
                latchkey::Error::Store(_) => "store",
                latchkey::Error::SignedOut => "signedOut",
                latchkey::Error::InvalidState(_) => "invalidState",
                latchkey::Error::Config(_) => "config",
                latchkey::Error::OAuth(_) => "oauth",
                _ => "other",
            },
            Error::UnknownAttempt { .. } => "unknownAttempt",
            Error::InvalidArgument(_) => "invalidArgument",
            Error::NotConfigured(_) => "notConfigured",
        }
    }

    /// The first Clerk error code of a server error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Latchkey(latchkey::Error::OAuth(f)) => Some(match f {
                latchkey::OAuthFailure::Denied => "oauth_access_denied",
                latchkey::OAuthFailure::Cancelled => "oauth_cancelled",
                latchkey::OAuthFailure::TimedOut => "oauth_timed_out",
                latchkey::OAuthFailure::Failed { code } => code.as_str(),
                _ => "oauth_failed",
            }),
            Error::Latchkey(e) => e.code(),
            _ => None,
        }
    }
}

/// One Clerk error as the webview sees it (camelCase, as the rest of the plugin's objects).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClerkErrorView<'a> {
    code: &'a str,
    message: &'a str,
    long_message: &'a str,
    meta: &'a serde_json::Map<String, serde_json::Value>,
}

fn unix_secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Error", 8)?;
        st.serialize_field("kind", self.kind())?;
        // Display never carries a credential: the SDK's decode errors show a body's length only.
        st.serialize_field("message", &self.to_string())?;
        st.serialize_field("code", &self.code())?;
        let api = match self {
            Error::Latchkey(e) => e.api_error(),
            _ => None,
        };
        st.serialize_field("status", &api.map(|a| a.status))?;
        let errors: Vec<ClerkErrorView<'_>> = api
            .map(|a| {
                a.errors
                    .iter()
                    .map(|e| ClerkErrorView {
                        code: &e.code,
                        message: &e.message,
                        long_message: &e.long_message,
                        meta: &e.meta,
                    })
                    .collect()
            })
            .unwrap_or_default();
        st.serialize_field("errors", &errors)?;
        st.serialize_field("traceId", &api.and_then(|a| a.trace_id.as_deref()))?;
        let (retry_after, locked_until) = match self {
            Error::Latchkey(latchkey::Error::RateLimited { retry_after, .. }) => {
                (retry_after.map(|d| d.as_secs()), None)
            }
            Error::Latchkey(latchkey::Error::Locked { until, .. }) => {
                (None, until.and_then(unix_secs))
            }
            _ => (None, None),
        };
        st.serialize_field("retryAfterSeconds", &retry_after)?;
        // Unix seconds.
        st.serialize_field("lockedUntil", &locked_until)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey::protocol::ClerkError;
    use latchkey::ApiError;
    use std::time::Duration;

    fn api(status: u16, code: &str) -> ApiError {
        ApiError {
            status,
            errors: vec![ClerkError::new(code, "short", "The long message.")],
            trace_id: Some("trace_1".into()),
        }
    }

    #[test]
    fn a_locked_account_keeps_its_kind_code_and_lift_time() {
        let until = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let e = Error::from(latchkey::Error::Locked {
            until: Some(until),
            error: api(403, "user_locked"),
        });
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(v["kind"], "locked");
        assert_eq!(v["code"], "user_locked");
        assert_eq!(v["status"], 403);
        assert_eq!(v["lockedUntil"], 2_000_000_000u64);
        assert_eq!(v["errors"][0]["longMessage"], "The long message.");
        assert_eq!(v["traceId"], "trace_1");
    }

    #[test]
    fn a_rate_limit_says_when_to_retry_and_other_kinds_have_no_code() {
        let e = Error::from(latchkey::Error::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
            error: api(429, "too_many_requests"),
        });
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(v["kind"], "rateLimited");
        assert_eq!(v["code"], "too_many_requests");
        assert_eq!(v["retryAfterSeconds"], 7);

        let v = serde_json::to_value(Error::from(latchkey::Error::SignedOut)).unwrap_or_default();
        assert_eq!(v["kind"], "signedOut");
        assert_eq!(v["code"], serde_json::Value::Null);
        assert_eq!(v["errors"], serde_json::json!([]));
        assert_eq!(v["message"], "not signed in");
    }
}
