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

secret_string!(
    /// A user's password, sent when creating or updating a user.
    Password
);

/// Writes a secret into a request body: the one place a request type exposes it, named at each
/// field with `#[serde(serialize_with = "…")]`. The secret types do not implement `Serialize`, so
/// a secret cannot end up in JSON (a log line, an error report) by accident.
pub(crate) fn expose<S: serde::Serializer>(secret: &Password, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// [`expose`] for an optional field (pair it with `skip_serializing_if = "Option::is_none"`).
pub(crate) fn expose_opt<S: serde::Serializer>(
    secret: &Option<Password>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
