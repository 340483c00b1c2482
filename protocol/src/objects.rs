//! Frontend and Backend API objects. Timestamps are milliseconds since the epoch.
//!
//! One struct serves both APIs where Clerk's two specs describe the same object; fields that only
//! one API sends are `Option`s skipped when absent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::vocab::Strategy;

/// A verification (`verification_otp`, `verification_password`, `verification_admin`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Which kind of verification this is; typed clients (clerk-rs) dispatch on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// `unverified`, `verified`, `failed` or `expired` (a [`crate::VerificationStatus`] name).
    pub status: String,
    /// How it is verified: a [`Strategy`] name such as `email_code` or `password`.
    pub strategy: String,
    /// Wrong attempts made so far, where the strategy counts them.
    #[serde(default)]
    pub attempts: Option<i64>,
    /// When the code or link stops working (ms since the epoch).
    #[serde(default)]
    pub expire_at: Option<i64>,
    /// OAuth: where to send the browser (the provider's authorize page) while `unverified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_verification_redirect_url: Option<String>,
    /// Why the verification failed or is `transferable` (`{code, message, long_message}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// An email address of a user, with its verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// The address as the user typed it.
    pub email_address: String,
    /// Held for a sign-up in progress and not yet usable by anyone else.
    pub reserved: bool,
    /// How and whether it was verified; `null` before any verification was prepared.
    pub verification: Option<Verification>,
    /// The external accounts it came from (always empty here: no OAuth accounts yet).
    #[serde(default)]
    pub linked_to: Vec<Value>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

/// A phone number of a user (E.164), with its verification and second-factor flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// The number in E.164 form (`+15555550100`).
    pub phone_number: String,
    /// Held for a sign-up in progress and not yet usable by anyone else.
    pub reserved: bool,
    /// Used as a second factor (SMS codes) at sign-in.
    #[serde(default)]
    pub reserved_for_second_factor: bool,
    /// The second factor offered first when the user has several.
    #[serde(default)]
    pub default_second_factor: bool,
    /// Only ever `null` here (Clerk fills it right after a phone is reserved, in no response
    /// a client relies on).
    #[serde(default)]
    pub backup_codes: Option<Vec<String>>,
    /// How and whether it was verified; `null` before any verification was prepared.
    pub verification: Option<Verification>,
    /// The external accounts it came from (always empty here: no OAuth accounts yet).
    #[serde(default)]
    pub linked_to: Vec<Value>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

/// A user as both APIs send it (the Backend API adds `private_metadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// The username, where the instance has usernames on.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// The profile image's URL (a default avatar's when `has_image` is false).
    #[serde(default)]
    pub image_url: String,
    /// Whether the user uploaded a profile image.
    pub has_image: bool,
    /// The id of the primary entry of `email_addresses`.
    pub primary_email_address_id: Option<String>,
    /// The id of the primary entry of `phone_numbers`.
    pub primary_phone_number_id: Option<String>,
    /// Always `null` here (no Web3 wallets).
    pub primary_web3_wallet_id: Option<String>,
    /// Whether the user has a password.
    pub password_enabled: bool,
    /// Whether sign-in asks for a second factor (TOTP, backup code or SMS).
    pub two_factor_enabled: bool,
    /// Whether an authenticator app (TOTP) is enrolled and verified.
    pub totp_enabled: bool,
    /// Whether the user has unused backup codes.
    pub backup_code_enabled: bool,
    /// Every email address of the user.
    pub email_addresses: Vec<EmailAddress>,
    /// Every phone number of the user.
    pub phone_numbers: Vec<PhoneNumber>,
    /// Always empty here.
    #[serde(default)]
    pub web3_wallets: Vec<Value>,
    /// Always empty here.
    #[serde(default)]
    pub passkeys: Vec<Value>,
    /// OAuth accounts; always empty here.
    #[serde(default)]
    pub external_accounts: Vec<Value>,
    /// Always empty here.
    #[serde(default)]
    pub saml_accounts: Vec<Value>,
    /// Always empty here.
    #[serde(default)]
    pub enterprise_accounts: Vec<Value>,
    /// Always empty here (no organizations).
    #[serde(default)]
    pub organization_memberships: Vec<Value>,
    /// When the password was last set (ms since the epoch).
    pub password_last_updated_at: Option<i64>,
    /// Metadata the backend writes and everyone may read.
    pub public_metadata: Map<String, Value>,
    /// Backend API only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
    /// Metadata the user may write from a client.
    #[serde(default)]
    pub unsafe_metadata: Map<String, Value>,
    /// An id from another system, set through the Backend API.
    pub external_id: Option<String>,
    /// When the user last completed a sign-in (ms since the epoch).
    pub last_sign_in_at: Option<i64>,
    /// A banned user cannot sign in; every session was revoked.
    pub banned: bool,
    /// Locked by too many failed verifications (see `lockout_expires_in_seconds`).
    pub locked: bool,
    /// Seconds until the lockout lifts, while `locked`.
    pub lockout_expires_in_seconds: Option<i64>,
    /// Failed verifications left before a lockout, where lockout is on.
    pub verification_attempts_remaining: Option<i64>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Whether the user may delete their own account (`DELETE /v1/me`).
    pub delete_self_enabled: bool,
    /// Whether the user may create organizations.
    pub create_organization_enabled: bool,
    /// When the user last made a request with a session (ms since the epoch).
    pub last_active_at: Option<i64>,
    /// When two-step verification was turned on (ms since the epoch).
    pub mfa_enabled_at: Option<i64>,
    /// When two-step verification was last turned off (ms since the epoch).
    pub mfa_disabled_at: Option<i64>,
    /// When the user accepted the legal terms, if the instance asks.
    pub legal_accepted_at: Option<i64>,
}

impl Verification {
    /// The `object` name of a verification by its strategy (as sent: `oauth_<provider>` is
    /// not a [`Strategy`] the crate knows, but has its object).
    pub fn object_for(strategy: &str) -> &'static str {
        match strategy.parse::<Strategy>() {
            Ok(s) => s.verification_object(),
            Err(_) if strategy.starts_with("oauth_") => "verification_from_oauth",
            Err(_) => "verification_otp",
        }
    }
}

impl User {
    /// The primary email address, if any.
    pub fn primary_email(&self) -> Option<&str> {
        let id = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.email_address.as_str())
    }
}

/// What a session shows of its user to anyone holding the session (Frontend API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicUserData {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// The profile image's URL.
    #[serde(default)]
    pub image_url: Option<String>,
    /// Whether the user uploaded a profile image.
    pub has_image: bool,
    /// The identifier the user signed in with (email address, phone number or username).
    pub identifier: String,
    /// The user's id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The username, where the instance has usernames on.
    #[serde(default)]
    pub username: Option<String>,
}

/// `{"object":"token","jwt":"…"}`. The JWT is a bearer credential: `Debug` hides it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Always `token`.
    pub object: String,
    /// The session token: an RS256 JWT. A bearer credential.
    pub jwt: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("object", &self.object)
            .field("jwt", &"[redacted]")
            .finish()
    }
}

/// A session as both APIs send it: the Frontend API adds `user`, `public_user_data`,
/// `last_active_token`; the Backend API adds `user_id`, `client_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// `active`, `ended`, `expired`, `removed`, `revoked`, … (a [`crate::SessionStatus`] name).
    pub status: String,
    /// When the session expires however active it is (ms since the epoch).
    pub expire_at: i64,
    /// When the session expires if it is not used (ms since the epoch).
    pub abandon_at: i64,
    /// When the session last minted a token or was touched (ms since the epoch).
    pub last_active_at: i64,
    /// The session's user (Backend API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The client (device) the session belongs to (Backend API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A session token minted recently (Frontend API), still good for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_token: Option<Token>,
    /// The impersonating actor, where one signed in as the user; `null` otherwise.
    #[serde(default)]
    pub actor: Option<Value>,
    /// Always `null` here (no organizations).
    #[serde(default)]
    pub last_active_organization_id: Option<String>,
    /// The session's user (Frontend API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// What the session shows of its user (Frontend API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_user_data: Option<PublicUserData>,
    /// Minutes since the first and second factor were verified (`[first, second]`, `-1` for none); as the token's `fva` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_verification_age: Option<Vec<i64>>,
    /// Steps the user must take before the session is fully active; always empty here.
    #[serde(default)]
    pub tasks: Vec<Value>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

/// One entry of `supported_first_factors` / `supported_second_factors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInFactor {
    /// The factor's strategy (`password`, `email_code`, `phone_code`, `totp`, `backup_code`, …).
    pub strategy: String,
    /// The identifier the code goes to, partly masked for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_identifier: Option<String>,
    /// The email address a code strategy sends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address_id: Option<String>,
    /// The phone number a code strategy sends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// Whether the identifier is the user's primary one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// A second factor: the one used unless the user picks another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// A sign-in attempt (`/v1/client/sign_ins`): where it stands and what it still needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// `needs_identifier`, `needs_first_factor`, `needs_second_factor`, `needs_new_password` or `complete` (a [`crate::SignInStatus`] name).
    pub status: String,
    /// The identifiers the instance accepts (`email_address`, `phone_number`, `username`).
    pub supported_identifiers: Vec<String>,
    /// The first factors the identified user may use.
    pub supported_first_factors: Vec<SignInFactor>,
    /// The second factors the user may use, once the first is verified.
    pub supported_second_factors: Vec<SignInFactor>,
    /// The first factor's verification, once one was prepared or attempted.
    pub first_factor_verification: Option<Verification>,
    /// The second factor's verification, once one was prepared or attempted.
    pub second_factor_verification: Option<Verification>,
    /// The identifier the user signed in with (email address, phone number or username).
    pub identifier: Option<String>,
    /// What the sign-in shows of the identified user (name, image).
    pub user_data: Option<Value>,
    /// The session the sign-in created, once `complete`.
    pub created_session_id: Option<String>,
    /// When the attempt is dropped if unfinished (ms since the epoch).
    pub abandon_at: i64,
}

/// A sign-up verification (`verifications.email_address` …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignUpVerification {
    /// `unverified`, `verified`, `failed` or `expired`.
    pub status: String,
    /// The strategy being verified (`email_code`, `phone_code`, …).
    pub strategy: String,
    /// Wrong attempts made so far.
    #[serde(default)]
    pub attempts: Option<i64>,
    /// When the code stops working (ms since the epoch).
    #[serde(default)]
    pub expire_at: Option<i64>,
    /// What the client should do next: `needs_prepare`, `needs_attempt` or empty (a [`crate::NextAction`] name).
    pub next_action: String,
    /// The strategies that can verify this field.
    pub supported_strategies: Vec<String>,
}

/// The verification of each field of a sign-up that needs one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignUpVerifications {
    /// The email address's verification.
    pub email_address: Option<SignUpVerification>,
    /// The phone number's verification.
    pub phone_number: Option<SignUpVerification>,
    /// Always `null` here.
    pub web3_wallet: Option<SignUpVerification>,
    /// The OAuth verification of a sign-up through a provider (`verification_oauth`).
    pub external_account: Option<Value>,
}

/// A sign-up attempt (`/v1/client/sign_ups`): the fields given, the ones still missing or unverified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignUp {
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// `missing_requirements`, `complete` or `abandoned` (a [`crate::SignUpStatus`] name).
    pub status: String,
    /// Fields the instance requires.
    pub required_fields: Vec<String>,
    /// Fields the instance accepts but does not require.
    pub optional_fields: Vec<String>,
    /// Required fields not given yet.
    pub missing_fields: Vec<String>,
    /// Given fields that still need a verification.
    pub unverified_fields: Vec<String>,
    /// The verification of each field that needs one.
    pub verifications: SignUpVerifications,
    /// The username, where the instance has usernames on.
    pub username: Option<String>,
    /// The email address given.
    pub email_address: Option<String>,
    /// The phone number given.
    pub phone_number: Option<String>,
    /// Always `null` here.
    pub web3_wallet: Option<String>,
    /// Whether a password was given.
    pub password_enabled: bool,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Metadata the user may write from a client.
    #[serde(default)]
    pub unsafe_metadata: Map<String, Value>,
    /// Always false here.
    pub custom_action: bool,
    /// An id from another system, set through the Backend API.
    pub external_id: Option<String>,
    /// The session the sign-up created, once `complete`.
    pub created_session_id: Option<String>,
    /// The user the sign-up created, once `complete`.
    pub created_user_id: Option<String>,
    /// When the attempt is dropped if unfinished (ms since the epoch).
    pub abandon_at: i64,
    /// When the user accepted the legal terms, if the instance asks.
    pub legal_accepted_at: Option<i64>,
}

/// The Frontend API's client: the device's sessions and in-progress sign-in and sign-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The device's sessions, signed in or recently ended.
    pub sessions: Vec<Session>,
    /// The sign-in in progress, if any.
    pub sign_in: Option<SignIn>,
    /// The sign-up in progress, if any.
    pub sign_up: Option<SignUp>,
    /// The session the device used last.
    pub last_active_session_id: Option<String>,
    /// The strategy of the last completed sign-in or sign-up.
    pub last_authentication_strategy: Option<String>,
    /// When a browser's client cookie would expire; `null` in native mode.
    pub cookie_expires_at: Option<i64>,
    /// The client presented a valid testing token and skips rate limits and bot checks.
    pub captcha_bypass: bool,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

/// The Backend API's client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendClient {
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The ids of the client's sessions.
    pub session_ids: Vec<String>,
    /// The client's sessions.
    pub sessions: Vec<Session>,
    /// The sign-in in progress, if any.
    pub sign_in_id: Option<String>,
    /// The sign-up in progress, if any.
    pub sign_up_id: Option<String>,
    /// The session the device used last.
    pub last_active_session_id: Option<String>,
    /// The strategy of the last completed sign-in or sign-up.
    pub last_authentication_strategy: Option<String>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

/// Most Frontend API responses: the object, plus the client so SDKs stay in sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientEnvelope<T> {
    /// The object the call returns.
    pub response: T,
    /// The client after the call (`null` when the client token named none).
    pub client: Option<Client>,
}

/// `{"object":"user","id":…,"deleted":true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedObject {
    /// The deleted object's type (`user`, `email_address`, …).
    pub object: String,
    /// The deleted object's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Always true.
    pub deleted: bool,
}

/// `{"object":"total_count","total_count":N}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalCount {
    /// Always `total_count`.
    pub object: String,
    /// How many objects match, over every page.
    pub total_count: i64,
}

/// `{"data":[…],"total_count":N}` for paginated Backend API lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paginated<T> {
    /// This page's objects.
    pub data: Vec<T>,
    /// How many objects match, over every page.
    pub total_count: i64,
}

/// One RSA public key of a JWKS. All six fields are always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// `sig`: the key signs.
    #[serde(rename = "use")]
    pub use_: String,
    /// `RSA`.
    pub kty: String,
    /// The key's id, as session tokens name it in their header.
    pub kid: String,
    /// `RS256`.
    pub alg: String,
    /// The RSA modulus, base64url without padding.
    pub n: String,
    /// The RSA public exponent, base64url without padding.
    pub e: String,
}

/// A JSON Web Key Set, as `/.well-known/jwks.json` and `/v1/jwks` serve it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    /// The instance's signing keys.
    pub keys: Vec<Jwk>,
}

/// An authenticator-app enrolment (`/v1/me/totp`): `secret` and `uri` while it is being set
/// up, `backup_codes` once, right after it is verified. `Debug` shows none of the three.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Totp {
    /// Always `totp`.
    pub object: String,
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The base32 secret for the authenticator app, while the enrolment is unverified.
    pub secret: Option<String>,
    /// The `otpauth://` URI to show as a QR code, while the enrolment is unverified.
    pub uri: Option<String>,
    /// Whether a code from the app was accepted.
    pub verified: bool,
    /// Backup codes, sent once, right after the enrolment is verified.
    #[serde(default)]
    pub backup_codes: Option<Vec<String>>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Totp")
            .field("id", &self.id)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// A new set of backup codes (`POST /v1/me/backup_codes`), shown this once. `Debug` leaves
/// the codes out.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupCodes {
    /// Always `backup_code`.
    pub object: String,
    /// The object's id, with its type's prefix (`user_…`, `sess_…`, `idn_…`, …).
    pub id: String,
    /// The single-use codes.
    pub codes: Vec<String>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

impl std::fmt::Debug for BackupCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupCodes")
            .field("id", &self.id)
            .field("codes", &self.codes.len())
            .finish_non_exhaustive()
    }
}

/// A session reverification (`POST /v1/client/sessions/{id}/verify…`): the user proves a
/// factor again on a session that is already signed in, which resets its factor ages (`fva`).
/// `level` and `status` are [`crate::SessionVerificationLevel`] and
/// [`crate::SessionVerificationStatus`] names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionVerification {
    /// The object's type name on the wire (`user`, `session`, `client`, …).
    pub object: String,
    /// Not in the spec's schema; clerk-js reads it (`SessionVerification.fromJSON`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `first_factor`, `second_factor` or `multi_factor`.
    pub level: String,
    /// `needs_first_factor`, `needs_second_factor` or `complete`.
    pub status: String,
    /// `null` in the spec's schema where Clerk offers none.
    #[serde(default)]
    pub supported_first_factors: Option<Vec<SignInFactor>>,
    /// The second factors the user may use; `null` where none is offered.
    #[serde(default)]
    pub supported_second_factors: Option<Vec<SignInFactor>>,
    /// The first factor's verification, once attempted.
    pub first_factor_verification: Option<Verification>,
    /// The second factor's verification, once attempted.
    pub second_factor_verification: Option<Verification>,
    /// The session being reverified, with its factor ages.
    pub session: Session,
}
