//! Secrets that never show themselves in `Debug` output, logs or error messages. The raw value is
//! reached only through `.expose()`, so every place a secret leaves its box is easy to find.

macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

secret_string!(
    /// A Backend API secret key (`sk_test_…` / `sk_live_…`).
    SecretKey
);

secret_string!(
    /// A webhook signing secret (`whsec_…`).
    WebhookSecret
);

/// A user's password (or a digest to import), sent when creating or updating a user: the
/// protocol's, which the request bodies of [`crate::api`] (`latchkey_protocol::bapi`) hold and
/// write out only through `latchkey_protocol::secret::expose`.
pub use latchkey_protocol::secret::Password;

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::secret::expose;

    #[test]
    fn debug_never_shows_the_value() {
        let k = SecretKey::from("sk_test_abcdef");
        assert_eq!(format!("{k:?}"), "SecretKey([redacted])");
        assert_eq!(k.expose(), "sk_test_abcdef");
        let w = WebhookSecret::new("whsec_xyz");
        assert!(!format!("{w:?}").contains("xyz"));
        let p = Password::from("hunter22");
        assert!(!format!("{p:?}").contains("hunter"));
        let mut out = Vec::new();
        expose(&p, &mut serde_json::Serializer::new(&mut out)).ok();
        assert_eq!(out, b"\"hunter22\"");
    }
}
