//! The records the storage traits speak: what the store keeps and the domain decides over.
//! They live with the store (not in `domain/`), so any store — SQLite today, PostgreSQL next —
//! speaks the same records without depending on the domain.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::Secret;
use latchkey_protocol::{
    AnyStrategy, SessionVerificationLevel, SessionVerificationStatus, SignInStatus, SignUpStatus,
    Strategy, VerificationStatus,
};

/// A session's status is the wire's (`latchkey_protocol`); how it reads at a given time
/// (`SessionRecord::status_at`) is the emulator's.
pub use latchkey_protocol::SessionStatus;

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: String,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// A PHC string (argon2id, or `$2b$…` for imported bcrypt digests).
    pub password_hash: Option<Secret>,
    pub public_metadata: Map<String, Value>,
    pub private_metadata: Map<String, Value>,
    pub unsafe_metadata: Map<String, Value>,
    pub banned: bool,
    pub locked: bool,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
    pub password_last_updated_at: Option<i64>,
    pub last_sign_in_at: Option<i64>,
    pub last_active_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRecord {
    pub fn new(id: String, now: i64) -> Self {
        Self {
            id,
            external_id: None,
            username: None,
            first_name: None,
            last_name: None,
            password_hash: None,
            public_metadata: Map::new(),
            private_metadata: Map::new(),
            unsafe_metadata: Map::new(),
            banned: false,
            locked: false,
            primary_email_address_id: None,
            primary_phone_number_id: None,
            password_last_updated_at: None,
            last_sign_in_at: None,
            last_active_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentKind {
    EmailAddress,
    PhoneNumber,
}

impl IdentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailAddress => "email_address",
            Self::PhoneNumber => "phone_number",
        }
    }
}

impl TryFrom<&str> for IdentKind {
    type Error = String;
    fn try_from(s: &str) -> Result<Self, String> {
        match s {
            "email_address" => Ok(Self::EmailAddress),
            "phone_number" => Ok(Self::PhoneNumber),
            other => Err(format!("unknown identification kind {other:?}")),
        }
    }
}

/// An email address or phone number of a user.
#[derive(Debug, Clone)]
pub struct Identification {
    pub id: String,
    pub user_id: String,
    pub kind: IdentKind,
    pub value: String,
    /// How it was verified: `email_code`, `phone_code`, `admin`, `from_oauth_google`,
    /// `from_oauth_custom_<key>`.
    pub verification_strategy: AnyStrategy,
    pub verified: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A user with their identifications, as every view needs it.
#[derive(Debug, Clone)]
pub struct UserWithIdents {
    pub user: UserRecord,
    pub idents: Vec<Identification>,
    /// The user's second factors, loaded with the user (`None`: never enrolled any).
    pub mfa: Option<MfaRecord>,
    /// The id of the user's profile image, if they uploaded one.
    pub image_id: Option<String>,
    /// Codes sent to verify identifications not verified yet (`identification_id` set); loaded
    /// only when some identification is unverified.
    pub pending_codes: Vec<PendingCode>,
}

impl UserWithIdents {
    /// A user as just loaded or created: no image, no pending codes.
    pub fn new(user: UserRecord, idents: Vec<Identification>) -> Self {
        Self {
            user,
            idents,
            mfa: None,
            image_id: None,
            pending_codes: Vec::new(),
        }
    }

    /// The code sent to verify the identification `ident_id`, if any.
    pub fn pending_code(&self, ident_id: &str) -> Option<&PendingCode> {
        self.pending_codes
            .iter()
            .find(|p| p.identification_id.as_deref() == Some(ident_id))
    }

    pub fn emails(&self) -> impl Iterator<Item = &Identification> {
        self.idents
            .iter()
            .filter(|i| i.kind == IdentKind::EmailAddress)
    }

    pub fn phones(&self) -> impl Iterator<Item = &Identification> {
        self.idents
            .iter()
            .filter(|i| i.kind == IdentKind::PhoneNumber)
    }

    pub fn primary_email(&self) -> Option<&Identification> {
        let id = self.user.primary_email_address_id.as_deref()?;
        self.idents.iter().find(|i| i.id == id)
    }

    pub fn primary_phone(&self) -> Option<&Identification> {
        let id = self.user.primary_phone_number_id.as_deref()?;
        self.idents.iter().find(|i| i.id == id)
    }

    /// What identifies the user in public places: email, then phone, then username.
    pub fn identifier(&self) -> String {
        self.primary_email()
            .or_else(|| self.primary_phone())
            .map(|i| i.value.clone())
            .or_else(|| self.user.username.clone())
            .unwrap_or_default()
    }
}

/// A profile image as uploaded (`/v1/me/profile_image`), served at `/v1/images/{id}`.
#[derive(Clone)]
pub struct ImageRecord {
    pub id: String,
    pub user_id: String,
    /// The file name the upload gave, or `profile_image`.
    pub name: String,
    /// Sniffed from the bytes: `image/png`, `image/jpeg`, `image/gif`, `image/webp`.
    pub content_type: String,
    pub data: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for ImageRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("content_type", &self.content_type)
            .field("bytes", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// What a session's latest request said about where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionActivity {
    pub session_id: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub id: String,
    pub token: Secret,
    pub prev_token: Option<Secret>,
    /// Until when (ms) `prev_token` is still accepted.
    pub prev_token_expires_at: Option<i64>,
    pub sign_in_id: Option<String>,
    pub sign_up_id: Option<String>,
    pub last_active_session_id: Option<String>,
    pub last_authentication_strategy: Option<AnyStrategy>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Since when (ms) bot protection doubts this client: its browser changes wait for a
    /// solved CAPTCHA challenge (`POST /v1/client/verify`).
    pub captcha_challenged_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub status: SessionStatus,
    pub first_factor_at: i64,
    /// When a second factor was last verified on this session; `None` (`-1` in `fva`) when
    /// never: the user had no second factor when signing in.
    pub second_factor_at: Option<i64>,
    pub last_active_at: i64,
    pub expire_at: i64,
    pub abandon_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl SessionRecord {
    /// The status as of `now`: an active session past `expire_at` has expired.
    pub fn status_at(&self, now: i64) -> SessionStatus {
        if self.status == SessionStatus::Active && now >= self.expire_at {
            SessionStatus::Expired
        } else {
            self.status
        }
    }
}

/// A one-time code sent for a verification, with its bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCode {
    /// `email_code`, `phone_code`, `reset_password_email_code`, `reset_password_phone_code`;
    /// for a sign-up's email address a provider verified, `from_oauth_<provider>`.
    pub strategy: AnyStrategy,
    pub code: Secret,
    pub attempts: i64,
    pub expire_at: i64,
    /// `unverified`, `verified`, `failed`, `expired`.
    pub status: VerificationStatus,
    /// The identification the code went to (sign-in), if any.
    #[serde(default)]
    pub identification_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInState {
    pub id: String,
    pub client_id: String,
    /// `needs_identifier`, `needs_first_factor`, `needs_new_password`, `complete` (`abandoned`
    /// is worked out from `abandon_at`).
    pub status: SignInStatus,
    pub identifier: Option<String>,
    pub user_id: Option<String>,
    /// The verification of the first factor: a password attempt or a pending code.
    pub first_factor: Option<FirstFactor>,
    /// When the first factor was verified (a user with a second factor: the session, created
    /// after the second, remembers it as its `first_factor_at`).
    #[serde(default)]
    pub first_factor_at: Option<i64>,
    /// The verification of the second factor, once `needs_second_factor`.
    #[serde(default)]
    pub second_factor: Option<SecondFactor>,
    pub created_session_id: Option<String>,
    pub abandon_at: i64,
    pub created_at: i64,
}

/// A second-factor verification in progress: a TOTP or backup-code attempt (nothing to
/// prepare), or a code sent by SMS or email.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecondFactor {
    Totp { verified: bool, attempts: i64 },
    BackupCode { verified: bool, attempts: i64 },
    Code(PendingCode),
}

/// A user's second factors: one document per user (table `user_mfa`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaRecord {
    pub user_id: String,
    #[serde(default)]
    pub totp: Option<TotpRecord>,
    #[serde(default)]
    pub backup_codes: Option<BackupCodesRecord>,
    /// Phone numbers reserved for the second factor (identification ids); a phone that no
    /// longer exists or is unverified counts for nothing.
    #[serde(default)]
    pub phones: Vec<SecondFactorPhone>,
    /// When two-factor sign-in last went on, and off.
    #[serde(default)]
    pub enabled_at: Option<i64>,
    #[serde(default)]
    pub disabled_at: Option<i64>,
    pub updated_at: i64,
}

/// An authenticator-app secret (RFC 6238).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpRecord {
    pub id: String,
    /// The shared secret, base32 (RFC 4648, no padding) as the user's app holds it.
    pub secret: Secret,
    /// Whether a code from the app was shown once (enrolment complete).
    pub verified: bool,
    /// The last time step whose code was accepted: no code of it or of an earlier step is
    /// accepted again.
    #[serde(default)]
    pub last_used_step: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A set of single-use backup codes, kept as salted digests only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupCodesRecord {
    pub id: String,
    /// Hex; the same for every code of the set.
    pub salt: Secret,
    /// Hex SHA-256 of salt and code, one per unused code.
    pub digests: Vec<Secret>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorPhone {
    pub identification_id: String,
    /// The phone a second-factor code goes to unless another is asked for.
    #[serde(default)]
    pub default: bool,
}

/// A session reverification in progress or done (`POST /v1/client/sessions/{id}/verify`): one
/// document per session (table `session_verifications`), replaced by the next one started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionVerificationRecord {
    pub id: String,
    pub session_id: String,
    /// The level asked for.
    pub level: SessionVerificationLevel,
    pub status: SessionVerificationStatus,
    /// Whether the second factor is part of this verification (the level asks for it and the
    /// user had one when it started).
    pub wants_second_factor: bool,
    /// Whether the first factor is part of it.
    pub wants_first_factor: bool,
    #[serde(default)]
    pub first_factor: Option<FirstFactor>,
    #[serde(default)]
    pub second_factor: Option<SecondFactor>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FirstFactor {
    Password {
        verified: bool,
        attempts: i64,
    },
    Code(PendingCode),
    /// A redeemed sign-in token (`strategy=ticket`): verified when it was given.
    Ticket,
    /// Through an OAuth provider (`strategy=oauth_<provider>`).
    #[serde(rename = "oauth")]
    OAuth(Box<OAuthVerification>),
}

/// Who an OAuth provider says the user is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthIdentity {
    /// The provider's id of the user (`sub`).
    pub provider_user_id: String,
    pub email: String,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub username: Option<String>,
    /// The provider's access token, when a real upstream gave one (the mock makes its own).
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// When that token expires (ms since the epoch).
    #[serde(default)]
    pub access_token_expire_at: Option<i64>,
}

/// An attempt's verification through an OAuth provider, from the redirect to the provider to
/// the app redeeming its `rotating_token_nonce`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthVerification {
    /// The provider: `oauth_google`, …, `oauth_custom_<key>`.
    pub strategy: AnyStrategy,
    /// The strategy the client used, when not the provider's own: an ID token
    /// (`oauth_token_google`, `google_one_tap`). Views show it.
    #[serde(default)]
    pub shown_as: Option<Strategy>,
    /// `unverified` (at the provider), `verified`, `transferable` (no such user / already a
    /// user: continue with the other flow), `failed` (denied), `expired`.
    pub status: VerificationStatus,
    /// The OAuth `state` sent to the provider: `<attempt id>.<random>`.
    pub state: Secret,
    /// SHA-256 of the authorization code the provider issued, until the callback uses it.
    pub code_hash: Option<String>,
    /// The identity the provider vouched for (kept for a transfer to the other flow).
    pub identity: Option<OAuthIdentity>,
    /// SHA-256 of the `rotating_token_nonce` handed to a native app, until redeemed.
    pub nonce_hash: Option<String>,
    /// Started by a browser-mode request: the callback issues no nonce and adds no
    /// `__clerk_status` to the redirect (clerk-js reads the attempt's state instead).
    #[serde(default)]
    pub browser: bool,
    /// Where the browser goes after the callback when no session was created.
    pub redirect_url: String,
    /// Where it goes when one was.
    pub action_complete_redirect_url: Option<String>,
    /// Why it failed or is transferable (`external_account_not_found`, …).
    pub error: Option<latchkey_protocol::ErrorCode>,
    pub expire_at: i64,
    /// A real upstream (OIDC): the authorize URL sent to, with this verification's PKCE
    /// verifier and ID-token nonce.
    #[serde(default)]
    pub upstream: Option<UpstreamRequest>,
}

/// What a verification sent a real OpenID Connect provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamRequest {
    pub authorize_url: String,
    pub code_verifier: Secret,
    pub nonce: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignUpState {
    pub id: String,
    pub client_id: String,
    /// `missing_requirements`, `complete` (`abandoned` is worked out from `abandon_at`).
    pub status: SignUpStatus,
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password_hash: Option<Secret>,
    #[serde(default)]
    pub unsafe_metadata: Map<String, Value>,
    #[serde(default)]
    pub external_id: Option<String>,
    pub email_verification: Option<PendingCode>,
    pub phone_verification: Option<PendingCode>,
    /// A sign-up through an OAuth provider.
    #[serde(default)]
    pub external_account: Option<OAuthVerification>,
    pub created_user_id: Option<String>,
    pub created_session_id: Option<String>,
    pub abandon_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Email,
    Sms,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

impl TryFrom<&str> for MessageKind {
    type Error = String;
    fn try_from(s: &str) -> Result<Self, String> {
        match s {
            "email" => Ok(Self::Email),
            "sms" => Ok(Self::Sms),
            other => Err(format!("unknown message kind {other:?}")),
        }
    }
}

/// An email or SMS the emulator sent (and captured). `Debug` leaves out the bodies and the code.
#[derive(Clone, Serialize)]
pub struct Message {
    pub id: String,
    pub kind: MessageKind,
    pub to: String,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    /// The one-time code in the message, extracted for tests.
    pub code: Option<String>,
    pub link: Option<String>,
    /// `verification_code`, `reset_password_code`, …
    pub template: String,
    pub created_at: i64,
    /// `queued` until its delivery job captures it, then `captured`.
    pub status: String,
    /// False when the instance delivers its own messages (the webhook carries them).
    pub delivered_by_clerk: bool,
    /// How the job delivered it: `inbox`, `inbox+smtp`.
    pub delivered_via: Option<String>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("template", &self.template)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::store::{Store, StoreError};

    /// Rows and documents as the emulator wrote them when statuses and strategies were strings
    /// still read, into the protocol's enums.
    #[test]
    fn rows_written_before_the_enums_read_back() {
        let store = Store::in_memory().unwrap();
        store
            .execute_batch(
                    r#"
                INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);
                INSERT INTO identifications VALUES
                    ('idn_1', 'user_1', 'email_address', 'a@x.com', 'admin', 1, 1, 1),
                    ('idn_2', 'user_1', 'phone_number', '+15555550100', 'phone_code', 1, 1, 1);
                INSERT INTO clients (id, token, last_authentication_strategy, created_at, updated_at)
                    VALUES ('client_1', 'tok', 'reset_password_email_code', 1, 1);
                INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
                    last_active_at, expire_at, abandon_at, created_at, updated_at)
                    VALUES ('sess_1', 'client_1', 'user_1', 'revoked', 1, 1, 2, 3, 1, 1);
                INSERT INTO sign_ins (id, client_id, state, created_at) VALUES ('sia_1', 'client_1',
                    '{"id":"sia_1","client_id":"client_1","status":"needs_first_factor",
                      "identifier":"a@x.com","user_id":"user_1",
                      "first_factor":{"kind":"code","strategy":"reset_password_email_code",
                        "code":"123456","attempts":1,"expire_at":5,"status":"unverified",
                        "identification_id":"idn_1"},
                      "created_session_id":null,"abandon_at":9,"created_at":1}', 1);
                INSERT INTO sign_ups (id, client_id, state, created_at) VALUES ('sua_1', 'client_1',
                    '{"id":"sua_1","client_id":"client_1","status":"missing_requirements",
                      "email_address":"a@x.com","phone_number":null,"username":null,
                      "first_name":null,"last_name":null,"password_hash":null,
                      "unsafe_metadata":{},"external_id":null,
                      "email_verification":{"strategy":"email_code","code":"424242",
                        "attempts":3,"expire_at":5,"status":"failed","identification_id":null},
                      "phone_verification":null,"created_user_id":null,
                      "created_session_id":null,"abandon_at":9,"created_at":1}', 1);
                "#,
            )
            .unwrap();
        store
            .read(|tx| {
                let u = tx.user_with_idents("user_1")?.expect("user");
                let strategies: Vec<_> = u
                    .idents
                    .iter()
                    .map(|i| i.verification_strategy.clone())
                    .collect();
                assert_eq!(strategies, [Strategy::Admin, Strategy::PhoneCode]);
                let c = tx.client("client_1")?.expect("client");
                assert_eq!(
                    c.last_authentication_strategy,
                    Some(Strategy::ResetPasswordEmailCode.into())
                );
                let s = tx.session("sess_1")?.expect("session");
                assert_eq!(s.status, SessionStatus::Revoked);
                let si = tx.sign_in("sia_1")?.expect("sign-in");
                assert_eq!(si.status, SignInStatus::NeedsFirstFactor);
                let Some(FirstFactor::Code(code)) = &si.first_factor else {
                    panic!("a code factor: {:?}", si.first_factor);
                };
                assert_eq!(code.strategy, Strategy::ResetPasswordEmailCode);
                assert_eq!(code.status, VerificationStatus::Unverified);
                let su = tx.sign_up("sua_1")?.expect("sign-up");
                assert_eq!(su.status, SignUpStatus::MissingRequirements);
                let v = su.email_verification.as_ref().expect("verification");
                assert_eq!(
                    (v.strategy.clone(), v.status),
                    (Strategy::EmailCode.into(), VerificationStatus::Failed)
                );
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn a_stored_status_or_strategy_that_is_no_name_is_corrupt_not_a_panic() {
        let store = Store::in_memory().unwrap();
        store
            .execute_batch(
                    "INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
                    last_active_at, expire_at, abandon_at, created_at, updated_at)
                    VALUES ('sess_1', 'c', 'u', 'sleeping', 1, 1, 2, 3, 1, 1);
                 INSERT INTO clients (id, token, last_authentication_strategy, created_at, updated_at)
                    VALUES ('client_1', 'tok', 'carrier_pigeon', 1, 1);",
            )
            .unwrap();
        assert!(store.read(|tx| tx.session("sess_1")).is_err());
        assert!(store.read(|tx| tx.client("client_1")).is_err());
    }
}

/// A user's failed first-factor verifications in a row and the lockout they led to (see
/// `domain/attack.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutRecord {
    pub user_id: String,
    pub failed_attempts: i64,
    /// Locked until then (ms, emulator clock); `None`: not locked out.
    pub locked_until: Option<i64>,
    pub updated_at: i64,
}

/// Requests counted for one rate-limit key in the fixed window `[window_start, window_end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCounterRecord {
    pub key: String,
    pub window_start: i64,
    pub window_end: i64,
    pub count: i64,
}

/// A testing token, known by the SHA-256 (hex) of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestingTokenRecord {
    pub token_hash: String,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A redirect URL on the instance's allowlist (Backend API `/v1/redirect_urls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrlRecord {
    pub id: String,
    /// As given, after the checks of `domain/redirects.rs`.
    pub url: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A sign-in token's status, as the Backend API's `SignInToken.status` says it (an expired
/// pending token stays `pending`: its expiry is read from `expire_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInTokenStatus {
    Pending,
    Accepted,
    Revoked,
}

impl SignInTokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
        }
    }
}

impl TryFrom<&str> for SignInTokenStatus {
    type Error = String;
    fn try_from(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(Self::Pending),
            "accepted" => Ok(Self::Accepted),
            "revoked" => Ok(Self::Revoked),
            other => Err(format!("unknown sign-in token status {other:?}")),
        }
    }
}

/// A sign-in token (Backend API `/v1/sign_in_tokens`, redeemed once with `strategy=ticket`),
/// known by the SHA-256 (hex) of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInTokenRecord {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub status: SignInTokenStatus,
    /// Ms, emulator clock.
    pub expire_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A handshake's nonce (`GET /v1/client/handshake?format=nonce`) until the app's backend
/// redeems it once (Backend API `GET /v1/clients/handshake_payload`), known by the SHA-256
/// (hex) of its value. It names what the handshake saw; the cookies are made at redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeNonceRecord {
    pub nonce_hash: String,
    pub client_id: String,
    /// The client's last active session when the handshake ran; `None`: signed out.
    pub session_id: Option<String>,
    /// The `azp` of the session token (the app's origin).
    pub azp: Option<String>,
    /// Ms, emulator clock.
    pub expire_at: i64,
    pub created_at: i64,
}

/// What an email link verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailLinkPurpose {
    /// A sign-in's first factor (`prepare_first_factor strategy=email_link`).
    SignInFirstFactor,
    /// A sign-in's second factor (`prepare_second_factor strategy=email_link`).
    SignInSecondFactor,
    /// A sign-up's email address (`prepare_verification strategy=email_link`).
    SignUp,
    /// An email address added on `/v1/me` (`…/prepare_verification strategy=email_link`).
    EmailAddress,
}

/// The native (PKCE) half of an email link: where the app wants the approval, and the
/// challenge its verifier must meet (RFC 7636, S256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeEmailLink {
    pub redirect_uri: String,
    /// base64url(SHA-256(code_verifier)), no padding.
    pub code_challenge: String,
    /// Until when (ms) the approval token handed out when the link was opened may be
    /// redeemed; `None` until then.
    #[serde(default)]
    pub approval_expire_at: Option<i64>,
    /// When the approval token was redeemed (`POST /v1/client/magic_links/complete`).
    #[serde(default)]
    pub approval_used_at: Option<i64>,
}

/// An email link sent (`strategy=email_link`): one document per link (table `email_links`),
/// found by the SHA-256 (hex) of its token, or of its native approval token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLinkRecord {
    pub id: String,
    pub token_hash: String,
    #[serde(default)]
    pub approval_hash: Option<String>,
    pub purpose: EmailLinkPurpose,
    /// The sign-in (`sia_…`), sign-up (`sua_…`) or email address (`idn_…`) it verifies.
    pub flow_id: String,
    /// The client that asked for the link: where its session is created.
    pub client_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    /// The email address it was sent to (an identification, except for sign-ups).
    #[serde(default)]
    pub identification_id: Option<String>,
    /// Where `GET /v1/verify` sends the browser (checked when the link was asked for).
    #[serde(default)]
    pub redirect_url: Option<String>,
    #[serde(default)]
    pub native: Option<NativeEmailLink>,
    /// When the link was opened (it opens once).
    #[serde(default)]
    pub used_at: Option<i64>,
    pub expire_at: i64,
    pub created_at: i64,
}

/// A user's account at an OAuth provider (`external_account` on the wire), made by a sign-up
/// or sign-in through the provider, or linked to an existing user by a verified email address.
/// One per (`provider`, `provider_user_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalAccountRecord {
    /// `eac_…`.
    pub id: String,
    pub user_id: String,
    /// The strategy naming the provider: `oauth_google`, `oauth_custom_<name>`.
    pub provider: String,
    /// The provider's id of the user (`sub`).
    pub provider_user_id: String,
    /// The user's email identification this account verified or was linked through.
    pub identification_id: Option<String>,
    pub email_address: String,
    pub email_address_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub username: Option<String>,
    /// Space-separated, as the provider granted them.
    pub approved_scopes: String,
    /// The provider's access token, for Backend API `oauth_access_tokens`.
    pub access_token: Option<Secret>,
    pub access_token_expire_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}
