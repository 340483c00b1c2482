//! Session-token (JWT v2) claims.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The claims of a 60-second session token. JWT times are seconds, unlike object timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The Frontend API URL.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not valid before (Unix seconds; the emulator sets `iat - 10` for clock skew).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Token format version; always 2.
    pub v: u8,
    /// Minutes since the first and second factor were verified (-1: never).
    pub fva: [i64; 2],
    /// The request's `Origin` (authorized party); absent for native requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Session status, set when not `active` (e.g. `pending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<String>,
    /// Impersonation actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    /// Active organization (`{id, slg, rol, per, fpm}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o: Option<Value>,
    /// Custom claims from a JWT template.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
