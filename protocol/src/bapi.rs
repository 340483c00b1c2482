//! Backend API request bodies, as the emulator reads them and `latchkey-backend` writes them.
//!
//! Each body serialises only what is set (`None` and empty lists are left out) and reads what
//! `@clerk/backend` and other clients send: an `email_address` may be one string or a list, and
//! where a field can be cleared, absent (`None`), `null` (`Some(None)`) and a value
//! (`Some(Some(…))`) are three different requests. Passwords, digests and tokens are
//! [`secret`](crate::secret) types, written out only through `serialize_with`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::secret::{
    ClientToken, HandshakeDirective, OneTimeCode, Password, ProviderAccessToken, SignInTicket,
    TestingTokenValue, expose, expose_opt,
};

/// A field that may be a single value or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One string, a list of strings, or `null` (no values).
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// A nullable field: present-and-`null` reads as `Some(None)` (absent fields are `None` through
/// `#[serde(default)]`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /v1/users`. At least one identifier (email, phone, username) or an external id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateUser {
    /// Email addresses for the user (one string or a list on the wire); the first is primary. They are created verified.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub email_address: Vec<String>,
    /// Phone numbers (E.164) for the user; the first is primary. Created verified.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub phone_number: Vec<String>,
    /// The username, where the instance has usernames on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A plain-text password, checked against the instance's password policy unless `skip_password_checks`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt"
    )]
    pub password: Option<Password>,
    /// An existing hash to import, with [`password_hasher`](Self::password_hasher) (`bcrypt`,
    /// `argon2id`, …).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt"
    )]
    pub password_digest: Option<Password>,
    /// How [`password_digest`](Self::password_digest) was made: `bcrypt` or `argon2id`/`argon2i`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hasher: Option<String>,
    /// Skip the password policy (length, strength, compromised-password list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_password_checks: Option<bool>,
    /// Create the user without a password even where the instance requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_password_requirement: Option<bool>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// An id from another system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Metadata the backend writes and everyone may read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Map<String, Value>>,
    /// Metadata only the Backend API can read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
    /// Metadata the user may also write from a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/users/{id}`: only the fields that are `Some` change. For the nullable ones,
/// `Some(None)` (`null`) clears the value. Metadata given here replaces the whole object; to
/// merge, send a [`MetadataUpdate`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateUser {
    /// A new given name; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub first_name: Option<Option<String>>,
    /// A new family name; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub last_name: Option<Option<String>>,
    /// A new username; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub username: Option<Option<String>>,
    /// A new external id; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub external_id: Option<Option<String>>,
    /// A new password, checked against the password policy unless `skip_password_checks`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt"
    )]
    pub password: Option<Password>,
    /// Skip the password policy for the new password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_password_checks: Option<bool>,
    /// With a new password: end the user's other sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_out_of_other_sessions: Option<bool>,
    /// Make this (verified) email address of the user primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_email_address_id: Option<String>,
    /// Make this (verified) phone number of the user primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_phone_number_id: Option<String>,
    /// Replaces the public metadata whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Map<String, Value>>,
    /// Replaces the private metadata whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
    /// Replaces the unsafe metadata whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/users/{id}/metadata`: deep-merged into the existing metadata; a `null` value
/// removes its key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataUpdate {
    /// Merged into the public metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Map<String, Value>>,
    /// Merged into the private metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
    /// Merged into the unsafe metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Map<String, Value>>,
}

/// `PUT /v1/users/{id}/metadata` (what `@clerk/backend` sends for metadata in `updateUser`):
/// each field given replaces that metadata whole (`null` or `{}` clears it); fields left out
/// (`None`) stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataReplace {
    /// Replaces the public metadata; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub public_metadata: Option<Option<Map<String, Value>>>,
    /// Replaces the private metadata; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub private_metadata: Option<Option<Map<String, Value>>>,
    /// Replaces the unsafe metadata; `Some(None)` clears it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub unsafe_metadata: Option<Option<Map<String, Value>>>,
}

/// `POST /v1/users/{id}/verify_password`. The password is required; a body without one is the
/// server's to refuse (422 `form_param_nil`), not a decoding error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyPassword {
    /// The password to check against the user's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt"
    )]
    pub password: Option<Password>,
}

/// The answer to [`VerifyPassword`] when the password is right (a wrong one is 422
/// `form_password_incorrect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordVerified {
    /// Always true: a wrong password is an error, not `false`.
    pub verified: bool,
}

/// `POST /v1/users/{id}/verify_totp`: a TOTP code or a backup code of the user. The code is
/// required; a body without one is the server's to refuse (422 `form_param_nil`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyTotp {
    /// A current code from the user's authenticator app, or an unused backup code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt"
    )]
    pub code: Option<OneTimeCode>,
}

/// The answer to [`VerifyTotp`] when the code is right (a wrong one is 422
/// `form_code_incorrect`; a user without TOTP, 400).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpVerified {
    /// Always true: a wrong code is an error, not `false`.
    pub verified: bool,
    /// `totp` or `backup_code`.
    pub code_type: String,
}

/// The answer of `DELETE /v1/users/{id}/mfa`, `/totp` and `/backup_code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdObject {
    /// The user the change applied to.
    pub user_id: String,
}

/// `POST /v1/clients/verify`: the client a Frontend API client token belongs to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyClient {
    /// The client token (as the Frontend API hands it to a native app).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt"
    )]
    pub token: Option<ClientToken>,
}

/// `POST /v1/redirect_urls`: a URL for the instance's allowlist of redirect URLs (an `https://`
/// URL or one of a custom scheme such as `my-app://oauth-callback`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateRedirectUrl {
    /// The URL to allow.
    #[serde(default)]
    pub url: Option<String>,
}

/// A redirect URL on the instance's allowlist (`object: "redirect_url"`; times in ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUrl {
    /// Always `redirect_url`.
    pub object: String,
    /// The entry's id.
    pub id: String,
    /// The allowed URL, as given.
    pub url: String,
    /// When it was added (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

/// `POST /v1/sign_in_tokens`: a one-time token that signs `user_id` in with `strategy=ticket`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateSignInToken {
    /// The user the token signs in.
    #[serde(default)]
    pub user_id: Option<String>,
    /// How long the token is valid, in seconds (default 30 days).
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
    /// The organization to activate on sign-in (organizations are not in the emulator yet:
    /// any id is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

/// A sign-in token (`object: "sign_in_token"`; times in ms). `token` is present only in the
/// answer that creates it: the emulator keeps no copy it could show again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInToken {
    /// Always `sign_in_token`.
    pub object: String,
    /// The token's id (`sit_…`).
    pub id: String,
    /// `pending`, `accepted` (redeemed) or `revoked`.
    pub status: String,
    /// The user it signs in.
    pub user_id: String,
    /// The ticket to pass as `ticket` with `strategy=ticket`; only when just created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt"
    )]
    pub token: Option<SignInTicket>,
    /// A sign-in page URL carrying the ticket; `None`: the emulator hosts no such page.
    #[serde(default)]
    pub url: Option<String>,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

/// A user's access token at an OAuth provider (`object: "oauth_access_token"`), from
/// `GET /v1/users/{id}/oauth_access_tokens/{provider}`. `token` prints redacted in `Debug`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthAccessToken {
    /// Always `oauth_access_token`.
    pub object: String,
    /// The external account it belongs to (`eac_…`).
    pub external_account_id: String,
    /// The user's id at the provider.
    pub provider_user_id: String,
    /// The access token.
    #[serde(serialize_with = "expose")]
    pub token: ProviderAccessToken,
    /// When it expires (Unix **seconds**), if it does.
    pub expires_at: Option<i64>,
    /// The provider's strategy (`oauth_google`).
    pub provider: String,
    /// The account's public metadata.
    #[serde(default)]
    pub public_metadata: Map<String, Value>,
    /// The account's label, if any.
    pub label: Option<String>,
    /// The scopes the provider granted.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `POST /v1/testing_tokens`: a token that lets Frontend API requests carrying it as
/// `__clerk_testing_token` skip rate limits (and bot protection). `expires_at` is in Unix
/// **seconds**, as the Backend API spec's example shows (unlike object timestamps).
#[derive(Debug, Clone, Deserialize)]
pub struct TestingToken {
    /// Always `testing_token`.
    pub object: String,
    /// The token to send as `__clerk_testing_token`.
    pub token: TestingTokenValue,
    /// When the token stops working (Unix **seconds**).
    pub expires_at: i64,
}

/// `GET /v1/clients/handshake_payload?nonce=`: the cookies the app's backend must set for the
/// handshake that handed out the nonce (`__session`, `__client_uat`, `__clerk_db_jwt` and their
/// suffixed copies), as `Set-Cookie` values. They carry credentials: `Debug` redacts each.
#[derive(Debug, Clone, Deserialize)]
pub struct HandshakePayload {
    /// `Set-Cookie` values, in the order to set them.
    pub directives: Vec<HandshakeDirective>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn email_address_reads_as_one_string_a_list_or_null() {
        for (body, want) in [
            (json!({"email_address": "a@x.com"}), vec!["a@x.com"]),
            (
                json!({"email_address": ["a@x.com", "b@x.com"]}),
                vec!["a@x.com", "b@x.com"],
            ),
            (json!({"email_address": null}), vec![]),
            (json!({}), vec![]),
        ] {
            let u: CreateUser = serde_json::from_value(body).unwrap();
            assert_eq!(u.email_address, want);
        }
        assert!(serde_json::from_value::<CreateUser>(json!({"email_address": 5})).is_err());
    }

    #[test]
    fn nullable_fields_keep_absent_null_and_value_apart() {
        let u: UpdateUser =
            serde_json::from_value(json!({"first_name": "Ada", "last_name": null})).unwrap();
        assert_eq!(u.first_name, Some(Some("Ada".into())));
        assert_eq!(u.last_name, Some(None));
        assert_eq!(u.username, None);
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(back, json!({"first_name": "Ada", "last_name": null}));
        let m: MetadataReplace =
            serde_json::from_value(json!({"public_metadata": null, "private_metadata": {}}))
                .unwrap();
        assert_eq!(m.public_metadata, Some(None));
        assert_eq!(m.private_metadata, Some(Some(Map::new())));
        assert_eq!(m.unsafe_metadata, None);
    }

    #[test]
    fn secrets_are_read_and_written_on_purpose_and_hidden_from_debug() {
        let u: CreateUser = serde_json::from_value(json!({
            "email_address": ["a@x.com"], "password": "pw-secret-1",
            "password_digest": "$2b$digest-secret", "password_hasher": "bcrypt"
        }))
        .unwrap();
        assert_eq!(
            u.password.as_ref().map(Password::expose),
            Some("pw-secret-1")
        );
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(json["password"], "pw-secret-1");
        assert_eq!(json["password_digest"], "$2b$digest-secret");
        let v = VerifyClient {
            token: Some("tok-secret".into()),
        };
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"token": "tok-secret"})
        );
        let shown = format!("{u:?} {v:?}");
        for secret in ["pw-secret-1", "digest-secret", "tok-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(
            serde_json::to_value(VerifyPassword::default()).unwrap(),
            json!({})
        );
    }
}

/// `POST /v1/email_addresses`: an email address for an existing user. Unverified unless
/// `verified`; primary when asked (it must be verified then) or when it is the user's first
/// verified one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateEmailAddress {
    /// The user to add the address to (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The address (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    /// Create it verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Make it the user's primary address (it must be verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// Accepted and not acted on: the emulator sends no "primary address changed" notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_primary_email_address_changed: Option<bool>,
}

/// `POST /v1/phone_numbers`, like [`CreateEmailAddress`]. (`reserved_for_second_factor` belongs
/// to second factors and is not read here.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreatePhoneNumber {
    /// The user to add the number to (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The number in E.164 form (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Create it verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Make it the user's primary number (it must be verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// `PATCH /v1/email_addresses/{id}` and `/v1/phone_numbers/{id}`: mark verified (or not) and
/// make primary. `null` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateIdentification {
    /// Mark it verified or unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Make it the user's primary one (it must be verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// Email addresses only; accepted and not acted on (no notice is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_primary_email_address_changed: Option<bool>,
}
