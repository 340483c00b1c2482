//! Secrets that travel in requests: passwords, password digests, client tokens, secret keys,
//! webhook signing secrets.
//!
//! They deserialise from a JSON string, print `Type([redacted])` in `Debug`, and implement
//! neither `Serialize` nor `PartialEq`: a request type writes one out only through an explicit
//! `#[serde(serialize_with = "latchkey_protocol::secret::expose")]` (or [`expose_opt`]) on the
//! field, so a secret cannot end up in JSON — a log line, an error report — by accident. The raw
//! value is reached through `.expose()`.

use serde::{Deserialize, Deserializer, Serializer};

/// A secret string's raw value, for [`expose`] and [`expose_opt`].
pub trait ExposeSecret {
    /// The raw value.
    fn expose_secret(&self) -> &str;
}

macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value. Every call is a place where the secret leaves its box.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl ExposeSecret for $name {
            fn expose_secret(&self) -> &str {
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

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self)
            }
        }
    };
}

secret_string!(
    /// A user's password, or a password digest to import (`password_digest`).
    Password
);

secret_string!(
    /// A `Set-Cookie` value a handshake hands an app's backend (`__session=<session token>; …`,
    /// `__clerk_db_jwt=<dev browser>; …`): it carries credentials.
    HandshakeDirective
);

secret_string!(
    /// A Frontend API client token, as the Backend API's `POST /v1/clients/verify` takes it.
    ClientToken
);

secret_string!(
    /// A Backend API secret key (`sk_test_…` / `sk_live_…`).
    SecretKey
);

secret_string!(
    /// A one-time code: a TOTP code or a backup code (`POST /v1/users/{id}/verify_totp`).
    OneTimeCode
);

secret_string!(
    /// A webhook signing secret (`whsec_…`).
    WebhookSecret
);

secret_string!(
    /// A testing token (Backend API `POST /v1/testing_tokens`), passed to the Frontend API as
    /// `__clerk_testing_token`.
    TestingTokenValue
);

secret_string!(
    /// A sign-in token's ticket (Backend API `POST /v1/sign_in_tokens`), redeemed on the Frontend
    /// API with `strategy=ticket`; also what a native email link's approval is traded for.
    SignInTicket
);

secret_string!(
    /// An OAuth provider's access token for a user (Backend API
    /// `GET /v1/users/{id}/oauth_access_tokens/{provider}`), to call the provider's API.
    ProviderAccessToken
);

/// Writes a secret into a request body: the one place a request type exposes it, named at the
/// field with `#[serde(serialize_with = "…")]`.
pub fn expose<T: ExposeSecret, S: Serializer>(secret: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

/// [`expose`] for an optional field (pair it with `skip_serializing_if = "Option::is_none"`).
pub fn expose_opt<T: ExposeSecret, S: Serializer>(
    secret: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_hides_the_value_and_only_expose_writes_it() {
        let p: Password = serde_json::from_str(r#""lk-Hidden-pass-3318""#).unwrap();
        assert_eq!(format!("{p:?}"), "Password([redacted])");
        assert_eq!(p.expose(), "lk-Hidden-pass-3318");
        let t = ClientToken::from("tok_secret");
        assert!(!format!("{t:?}").contains("tok_secret"));
        let mut out = Vec::new();
        expose(&p, &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(out, b"\"lk-Hidden-pass-3318\"");
        assert!(serde_json::from_str::<Password>("12").is_err());
    }
}
