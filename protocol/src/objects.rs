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
    pub status: String,
    pub strategy: String,
    #[serde(default)]
    pub attempts: Option<i64>,
    #[serde(default)]
    pub expire_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailAddress {
    pub id: String,
    pub object: String,
    pub email_address: String,
    pub reserved: bool,
    pub verification: Option<Verification>,
    #[serde(default)]
    pub linked_to: Vec<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    pub id: String,
    pub object: String,
    pub phone_number: String,
    pub reserved: bool,
    #[serde(default)]
    pub reserved_for_second_factor: bool,
    #[serde(default)]
    pub default_second_factor: bool,
    /// Only ever `null` here (Clerk fills it right after a phone is reserved, in no response
    /// a client relies on).
    #[serde(default)]
    pub backup_codes: Option<Vec<String>>,
    pub verification: Option<Verification>,
    #[serde(default)]
    pub linked_to: Vec<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub object: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default)]
    pub image_url: String,
    pub has_image: bool,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
    pub primary_web3_wallet_id: Option<String>,
    pub password_enabled: bool,
    pub two_factor_enabled: bool,
    pub totp_enabled: bool,
    pub backup_code_enabled: bool,
    pub email_addresses: Vec<EmailAddress>,
    pub phone_numbers: Vec<PhoneNumber>,
    #[serde(default)]
    pub web3_wallets: Vec<Value>,
    #[serde(default)]
    pub passkeys: Vec<Value>,
    #[serde(default)]
    pub external_accounts: Vec<Value>,
    #[serde(default)]
    pub saml_accounts: Vec<Value>,
    #[serde(default)]
    pub enterprise_accounts: Vec<Value>,
    #[serde(default)]
    pub organization_memberships: Vec<Value>,
    pub password_last_updated_at: Option<i64>,
    pub public_metadata: Map<String, Value>,
    /// Backend API only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub unsafe_metadata: Map<String, Value>,
    pub external_id: Option<String>,
    pub last_sign_in_at: Option<i64>,
    pub banned: bool,
    pub locked: bool,
    pub lockout_expires_in_seconds: Option<i64>,
    pub verification_attempts_remaining: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delete_self_enabled: bool,
    pub create_organization_enabled: bool,
    pub last_active_at: Option<i64>,
    pub mfa_enabled_at: Option<i64>,
    pub mfa_disabled_at: Option<i64>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicUserData {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    pub has_image: bool,
    pub identifier: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// `{"object":"token","jwt":"…"}`. The JWT is a bearer credential: `Debug` hides it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub object: String,
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
    pub id: String,
    pub object: String,
    pub status: String,
    pub expire_at: i64,
    pub abandon_at: i64,
    pub last_active_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_token: Option<Token>,
    #[serde(default)]
    pub actor: Option<Value>,
    #[serde(default)]
    pub last_active_organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_user_data: Option<PublicUserData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_verification_age: Option<Vec<i64>>,
    #[serde(default)]
    pub tasks: Vec<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One entry of `supported_first_factors` / `supported_second_factors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInFactor {
    pub strategy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// A second factor: the one used unless the user picks another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub object: String,
    pub id: String,
    pub status: String,
    pub supported_identifiers: Vec<String>,
    pub supported_first_factors: Vec<SignInFactor>,
    pub supported_second_factors: Vec<SignInFactor>,
    pub first_factor_verification: Option<Verification>,
    pub second_factor_verification: Option<Verification>,
    pub identifier: Option<String>,
    pub user_data: Option<Value>,
    pub created_session_id: Option<String>,
    pub abandon_at: i64,
}

/// A sign-up verification (`verifications.email_address` …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignUpVerification {
    pub status: String,
    pub strategy: String,
    #[serde(default)]
    pub attempts: Option<i64>,
    #[serde(default)]
    pub expire_at: Option<i64>,
    pub next_action: String,
    pub supported_strategies: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignUpVerifications {
    pub email_address: Option<SignUpVerification>,
    pub phone_number: Option<SignUpVerification>,
    pub web3_wallet: Option<SignUpVerification>,
    pub external_account: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignUp {
    pub object: String,
    pub id: String,
    pub status: String,
    pub required_fields: Vec<String>,
    pub optional_fields: Vec<String>,
    pub missing_fields: Vec<String>,
    pub unverified_fields: Vec<String>,
    pub verifications: SignUpVerifications,
    pub username: Option<String>,
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
    pub web3_wallet: Option<String>,
    pub password_enabled: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default)]
    pub unsafe_metadata: Map<String, Value>,
    pub custom_action: bool,
    pub external_id: Option<String>,
    pub created_session_id: Option<String>,
    pub created_user_id: Option<String>,
    pub abandon_at: i64,
    pub legal_accepted_at: Option<i64>,
}

/// The Frontend API's client: the device's sessions and in-progress sign-in and sign-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub object: String,
    pub id: String,
    pub sessions: Vec<Session>,
    pub sign_in: Option<SignIn>,
    pub sign_up: Option<SignUp>,
    pub last_active_session_id: Option<String>,
    pub last_authentication_strategy: Option<String>,
    pub cookie_expires_at: Option<i64>,
    pub captcha_bypass: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The Backend API's client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendClient {
    pub object: String,
    pub id: String,
    pub session_ids: Vec<String>,
    pub sessions: Vec<Session>,
    pub sign_in_id: Option<String>,
    pub sign_up_id: Option<String>,
    pub last_active_session_id: Option<String>,
    pub last_authentication_strategy: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Most Frontend API responses: the object, plus the client so SDKs stay in sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientEnvelope<T> {
    pub response: T,
    pub client: Option<Client>,
}

/// `{"object":"user","id":…,"deleted":true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedObject {
    pub object: String,
    #[serde(default)]
    pub id: Option<String>,
    pub deleted: bool,
}

/// `{"object":"total_count","total_count":N}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalCount {
    pub object: String,
    pub total_count: i64,
}

/// `{"data":[…],"total_count":N}` for paginated Backend API lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    pub total_count: i64,
}

/// One RSA public key of a JWKS. All six fields are always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    #[serde(rename = "use")]
    pub use_: String,
    pub kty: String,
    pub kid: String,
    pub alg: String,
    pub n: String,
    pub e: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// An authenticator-app enrolment (`/v1/me/totp`): `secret` and `uri` while it is being set
/// up, `backup_codes` once, right after it is verified. `Debug` shows none of the three.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Totp {
    pub object: String,
    pub id: String,
    pub secret: Option<String>,
    pub uri: Option<String>,
    pub verified: bool,
    #[serde(default)]
    pub backup_codes: Option<Vec<String>>,
    pub created_at: i64,
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
    pub object: String,
    pub id: String,
    pub codes: Vec<String>,
    pub created_at: i64,
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
    pub object: String,
    /// Not in the spec's schema; clerk-js reads it (`SessionVerification.fromJSON`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub level: String,
    pub status: String,
    /// `null` in the spec's schema where Clerk offers none.
    #[serde(default)]
    pub supported_first_factors: Option<Vec<SignInFactor>>,
    #[serde(default)]
    pub supported_second_factors: Option<Vec<SignInFactor>>,
    pub first_factor_verification: Option<Verification>,
    pub second_factor_verification: Option<Verification>,
    pub session: Session,
}
