//! A string that never shows itself in `Debug` or logs.

use subtle::ConstantTimeEq;

#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Every call site is a place a secret leaves its box.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// A password or digest from a request body (`latchkey_protocol::bapi`).
impl From<latchkey_protocol::secret::Password> for Secret {
    fn from(p: latchkey_protocol::secret::Password) -> Self {
        Self::new(p.expose())
    }
}

/// A client token from a request body (`latchkey_protocol::bapi::VerifyClient`).
impl From<latchkey_protocol::secret::ClientToken> for Secret {
    fn from(t: latchkey_protocol::secret::ClientToken) -> Self {
        Self::new(t.expose())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_value_and_compare_is_exact() {
        let s = Secret::new("sk_test_abc");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert!(s.matches("sk_test_abc"));
        assert!(!s.matches("sk_test_ab"));
        assert!(!s.matches("sk_test_abd"));
    }
}
