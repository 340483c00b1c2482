//! Credentials the SDK holds. Their `Debug` never shows the value; `.expose()` is the only way
//! to read it.

use std::fmt;
use std::sync::Arc;

/// Constant-time comparison of two secrets (the length is not hidden).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client token ("device token"): the credential of this device's client, sent raw in
/// `Authorization` and rotated by the server. Whoever holds it holds the device's sessions.
#[derive(Clone)]
pub struct ClientToken(Arc<str>);

impl ClientToken {
    /// Wraps a client token (as read from a store).
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// The token itself, for the `Authorization` header or a store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for ClientToken {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for ClientToken {}

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientToken([redacted])")
    }
}

/// A session token: a short-lived JWT for your backend (`Authorization: Bearer …`).
///
/// Cloning is cheap (the JWT is shared).
#[derive(Clone)]
pub struct SessionToken {
    jwt: Arc<str>,
    /// `exp`, seconds since the epoch, on the server's clock.
    exp: i64,
}

impl SessionToken {
    pub(crate) fn new(jwt: Arc<str>, exp: i64) -> Self {
        Self { jwt, exp }
    }

    /// The JWT.
    pub fn expose(&self) -> &str {
        &self.jwt
    }

    /// The token's `exp` claim: seconds since the epoch, on the server's clock.
    pub fn expires_at(&self) -> i64 {
        self.exp
    }
}

impl PartialEq for SessionToken {
    fn eq(&self, other: &Self) -> bool {
        self.exp == other.exp && ct_eq(self.jwt.as_bytes(), other.jwt.as_bytes())
    }
}

impl Eq for SessionToken {}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionToken")
            .field("jwt", &"[redacted]")
            .field("expires_at", &self.exp)
            .finish()
    }
}

/// A password or one-time code on its way to the server.
#[derive(Clone, Default)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_values_and_equality_compares_them() {
        let t = ClientToken::new("client-secret-value");
        assert!(!format!("{t:?}").contains("client-secret-value"));
        assert_eq!(t, ClientToken::new("client-secret-value"));
        assert_ne!(t, ClientToken::new("client-secret-valuf"));
        assert_ne!(t, ClientToken::new("short"));
        let s = SessionToken::new("eyJhbGciOi.payload.sig".into(), 42);
        let shown = format!("{s:?}");
        assert!(!shown.contains("eyJ") && shown.contains("42"), "{shown}");
        assert!(
            !format!("{:?}", Secret::new("lk-Hidden-pass-3318")).contains("lk-Hidden-pass-3318")
        );
    }
}
