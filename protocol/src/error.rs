//! The Clerk error envelope, sent with every status >= 400.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::vocab::ErrorCode;

/// One error in the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkError {
    /// The machine-readable code clients branch on (an [`ErrorCode`] name, or another).
    pub code: String,
    /// A short message for developers.
    pub message: String,
    /// A longer message, fit to show a user.
    pub long_message: String,
    /// Details: `param_name`, `lockout_expires_in_seconds`, `zxcvbn`, ….
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub meta: Map<String, Value>,
}

impl ClerkError {
    /// An error with `code`: an [`ErrorCode`], or any other code as a string (an application's
    /// own).
    pub fn new(code: impl AsRef<str>, message: &str, long_message: impl Into<String>) -> Self {
        Self {
            code: code.as_ref().to_owned(),
            message: message.to_owned(),
            long_message: long_message.into(),
            meta: Map::new(),
        }
    }

    /// Names the request parameter the error is about (`meta.param_name`).
    pub fn param(mut self, name: &str) -> Self {
        self.meta
            .insert("param_name".to_owned(), Value::String(name.to_owned()));
        self
    }

    /// The request parameter the error is about (`meta.param_name`), if it names one.
    pub fn param_name(&self) -> Option<&str> {
        self.meta.get("param_name").and_then(Value::as_str)
    }

    /// The code as an [`ErrorCode`], `None` for a code this crate does not know.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code.parse().ok()
    }
}

/// `{"errors":[…],"clerk_trace_id":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The errors, most important first; never empty in a server's answer.
    pub errors: Vec<ClerkError>,
    /// An id to find the request in the server's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk_trace_id: Option<String>,
}

impl ErrorEnvelope {
    /// The first error's code, the one clients branch on.
    pub fn code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }

    /// The first error's code as an [`ErrorCode`], `None` when there is none or it is unknown.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.errors.first().and_then(ClerkError::error_code)
    }
}
