//! The words of the wire: statuses, strategies, webhook event types and error codes, each an
//! enum whose values carry their wire names.
//!
//! Each wire name is written once, in the enum's definition below; serde, [`as_str`],
//! [`Display`](std::fmt::Display) and [`FromStr`] all use it. Parsing is strict: a name the enum
//! does not know is an [`UnknownName`] error (the emulator answers an unknown `strategy` with 422
//! `form_param_value_invalid`).
//!
//! The wire objects in [`crate::objects`] keep these fields as the `String`s the server sent, so
//! an SDK still reads an object that carries a status or strategy newer than this crate
//! (a Clerk instance with OAuth lists `oauth_google` factors). Compare such a field with an enum
//! directly (`session.status == SessionStatus::Active`), or parse it (`s.parse::<Strategy>()`).
//!
//! A custom OAuth provider's strategies (`oauth_custom_<key>`, `from_oauth_custom_<key>`) are the
//! instance's, not the vocabulary's: [`AnyStrategy`] holds them beside a [`Strategy`].
//!
//! [`as_str`]: Strategy::as_str

use std::fmt;
use std::str::FromStr;

/// A wire name that is none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    kind: &'static str,
    name: String,
}

impl UnknownName {
    /// What was being named (`strategy`, `sign-in status`, …).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The name as received.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a known {}", self.name, self.kind)
    }
}

impl std::error::Error for UnknownName {}

/// Defines a fieldless enum whose variants map one to one to wire names.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[doc = ""]
                #[doc = concat!("On the wire: `", $wire, "`.")]
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in the order of the definition.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(UnknownName {
                        kind: $kind,
                        name: s.to_owned(),
                    }),
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = UnknownName;

            fn try_from(s: &str) -> Result<Self, UnknownName> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_owned()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }
    };
}

wire_enum! {
    /// Where a sign-in (`sign_in_attempt`) stands.
    pub enum SignInStatus("sign-in status") {
        /// Nobody identified yet.
        NeedsIdentifier = "needs_identifier",
        /// Prove a first factor: a password, or a prepared code.
        NeedsFirstFactor = "needs_first_factor",
        NeedsSecondFactor = "needs_second_factor",
        /// A reset code was verified: set the new password.
        NeedsNewPassword = "needs_new_password",
        /// A session was created (`created_session_id`).
        Complete = "complete",
        /// Past `abandon_at` without completing.
        Abandoned = "abandoned",
    }
}

wire_enum! {
    /// What a session reverification asks the user to prove again (`level` of
    /// `POST /v1/client/sessions/{id}/verify`).
    pub enum SessionVerificationLevel("session verification level") {
        FirstFactor = "first_factor",
        /// The second factor alone (the first factor for a user without one).
        SecondFactor = "second_factor",
        /// Both factors (the first alone for a user without a second one).
        MultiFactor = "multi_factor",
    }
}

wire_enum! {
    /// Where a session reverification (`session_reverification`) stands.
    pub enum SessionVerificationStatus("session verification status") {
        NeedsFirstFactor = "needs_first_factor",
        NeedsSecondFactor = "needs_second_factor",
        /// Done: the session's factor ages were reset.
        Complete = "complete",
    }
}

wire_enum! {
    /// Where a sign-up (`sign_up_attempt`) stands.
    pub enum SignUpStatus("sign-up status") {
        /// Fields are missing or unverified (`missing_fields`, `unverified_fields`).
        MissingRequirements = "missing_requirements",
        /// The user and its first session exist.
        Complete = "complete",
        Abandoned = "abandoned",
    }
}

wire_enum! {
    /// A session's status. The Backend API also knows `replaced`.
    pub enum SessionStatus("session status") {
        Active = "active",
        /// Signed in, with tasks left before the session is active.
        Pending = "pending",
        /// Signed out on its device.
        Ended = "ended",
        /// Removed from its client (the user was deleted, or the device removed it).
        Removed = "removed",
        /// Ended by an administrator or a password change elsewhere.
        Revoked = "revoked",
        /// Past `expire_at`.
        Expired = "expired",
        /// Inactive past `abandon_at`.
        Abandoned = "abandoned",
        /// Replaced by another session (Backend API).
        Replaced = "replaced",
    }
}

wire_enum! {
    /// A verification's status (`verification.status`).
    pub enum VerificationStatus("verification status") {
        Unverified = "unverified",
        Verified = "verified",
        /// Too many wrong attempts.
        Failed = "failed",
        Expired = "expired",
        /// An OAuth verification for which no user exists yet: continue with a sign-up.
        Transferable = "transferable",
    }
}

wire_enum! {
    /// What a sign-up verification needs next (`verifications.*.next_action`).
    pub enum NextAction("next action") {
        /// Send a code (`prepare_verification`).
        NeedsPrepare = "needs_prepare",
        /// Enter the code sent (`attempt_verification`).
        NeedsAttempt = "needs_attempt",
        /// Nothing: verified.
        Nothing = "",
    }
}

wire_enum! {
    /// A way to prove an identity: a sign-in factor, a verification strategy, or how a client last
    /// authenticated. The emulator supports the password, the code strategies and `admin`; the
    /// others are names clients send, which it refuses as unsupported.
    pub enum Strategy("strategy") {
        Password = "password",
        /// A one-time code by email.
        EmailCode = "email_code",
        /// A one-time code by SMS.
        PhoneCode = "phone_code",
        /// A password-reset code by email.
        ResetPasswordEmailCode = "reset_password_email_code",
        /// A password-reset code by SMS.
        ResetPasswordPhoneCode = "reset_password_phone_code",
        /// Verified by an administrator (identifications created through the Backend API).
        Admin = "admin",
        EmailLink = "email_link",
        Ticket = "ticket",
        Passkey = "passkey",
        Totp = "totp",
        BackupCode = "backup_code",
        Saml = "saml",
        EnterpriseSso = "enterprise_sso",
        /// Sign-in or sign-up through Google (OAuth, in the system browser).
        OAuthGoogle = "oauth_google",
        /// Through GitHub.
        OAuthGithub = "oauth_github",
        /// Through Apple.
        OAuthApple = "oauth_apple",
        /// Through Microsoft.
        OAuthMicrosoft = "oauth_microsoft",
        /// An email address verified by Google (an identification made by an OAuth sign-up).
        FromOAuthGoogle = "from_oauth_google",
        /// Verified by GitHub.
        FromOAuthGithub = "from_oauth_github",
        /// Verified by Apple.
        FromOAuthApple = "from_oauth_apple",
        /// Verified by Microsoft.
        FromOAuthMicrosoft = "from_oauth_microsoft",
        /// Sign-in or sign-up with an ID token from Google's own SDK (no browser).
        OAuthTokenGoogle = "oauth_token_google",
        /// With an ID token from Sign in with Apple (iOS).
        OAuthTokenApple = "oauth_token_apple",
        /// With an ID token from GitHub (mock).
        OAuthTokenGithub = "oauth_token_github",
        /// With an ID token from Microsoft.
        OAuthTokenMicrosoft = "oauth_token_microsoft",
        /// Google One Tap (clerk-js, Android's Credential Manager): a Google ID token.
        GoogleOneTap = "google_one_tap",
    }
}

impl Strategy {
    /// A one-time code sent by email or SMS (sign-in, sign-up or password reset).
    pub fn is_code(self) -> bool {
        matches!(
            self,
            Self::EmailCode
                | Self::PhoneCode
                | Self::ResetPasswordEmailCode
                | Self::ResetPasswordPhoneCode
        )
    }

    /// A password-reset code: verifying it leads to `needs_new_password`.
    pub fn resets_password(self) -> bool {
        matches!(
            self,
            Self::ResetPasswordEmailCode | Self::ResetPasswordPhoneCode
        )
    }

    /// An OAuth provider's strategy (`oauth_google`, …).
    pub fn is_oauth(self) -> bool {
        matches!(
            self,
            Self::OAuthGoogle | Self::OAuthGithub | Self::OAuthApple | Self::OAuthMicrosoft
        )
    }

    /// A strategy that signs in with a provider's ID token (`oauth_token_<provider>`,
    /// `google_one_tap`).
    pub fn is_id_token(self) -> bool {
        matches!(
            self,
            Self::OAuthTokenGoogle
                | Self::OAuthTokenApple
                | Self::OAuthTokenGithub
                | Self::OAuthTokenMicrosoft
                | Self::GoogleOneTap
        )
    }

    /// The provider's strategy of an ID-token strategy (`oauth_token_google` and
    /// `google_one_tap` → `oauth_google`); a provider's own strategy is itself.
    pub fn provider(self) -> Option<Self> {
        match self {
            Self::OAuthGoogle | Self::OAuthTokenGoogle | Self::GoogleOneTap => {
                Some(Self::OAuthGoogle)
            }
            Self::OAuthApple | Self::OAuthTokenApple => Some(Self::OAuthApple),
            Self::OAuthGithub | Self::OAuthTokenGithub => Some(Self::OAuthGithub),
            Self::OAuthMicrosoft | Self::OAuthTokenMicrosoft => Some(Self::OAuthMicrosoft),
            _ => None,
        }
    }

    /// For an OAuth provider's strategy, the strategy of the email addresses it verifies
    /// (`oauth_google` → `from_oauth_google`).
    pub fn verified_by(self) -> Option<Self> {
        match self {
            Self::OAuthGoogle => Some(Self::FromOAuthGoogle),
            Self::OAuthGithub => Some(Self::FromOAuthGithub),
            Self::OAuthApple => Some(Self::FromOAuthApple),
            Self::OAuthMicrosoft => Some(Self::FromOAuthMicrosoft),
            _ => None,
        }
    }

    /// The `object` of a verification made with this strategy.
    pub fn verification_object(self) -> &'static str {
        match self {
            Self::OAuthGoogle
            | Self::OAuthGithub
            | Self::OAuthApple
            | Self::OAuthMicrosoft
            | Self::OAuthTokenGoogle
            | Self::OAuthTokenApple
            | Self::OAuthTokenGithub
            | Self::OAuthTokenMicrosoft => "verification_oauth",
            Self::GoogleOneTap => "verification_google_one_tap",
            Self::FromOAuthGoogle
            | Self::FromOAuthGithub
            | Self::FromOAuthApple
            | Self::FromOAuthMicrosoft => "verification_from_oauth",
            Self::Admin => "verification_admin",
            Self::Password => "verification_password",
            Self::Ticket => "verification_ticket",
            Self::Saml => "verification_saml",
            Self::EmailLink => "verification_email_link",
            Self::Totp => "verification_totp",
            Self::BackupCode => "verification_backup_code",
            _ => "verification_otp",
        }
    }
}

/// A custom OAuth provider (`oauth_custom_<key>`), as an instance configures one: its `key`
/// is 1 to [`CustomProvider::MAX_KEY_LEN`] lowercase ASCII letters, digits, `_` or `-`,
/// starting with a letter or digit.
///
/// It holds `from_oauth_custom_<key>`, so that the provider's strategy, the strategy of the
/// email addresses it verifies and the key are all slices of one string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomProvider(String);

impl CustomProvider {
    /// The longest key accepted.
    pub const MAX_KEY_LEN: usize = 32;
    /// What a key must be, for error messages.
    pub const KEY_RULE: &'static str =
        "1 to 32 lowercase letters, digits, '_' or '-', starting with a letter or digit";
    const FROM: &'static str = "from_";
    const PREFIX: &'static str = "from_oauth_custom_";

    /// The provider of `key` (`acme`); `None` when the key breaks [`Self::KEY_RULE`].
    pub fn new(key: &str) -> Option<Self> {
        let ok = (1..=Self::MAX_KEY_LEN).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && key
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        ok.then(|| Self(format!("{}{key}", Self::PREFIX)))
    }

    /// What follows `oauth_custom_` (`acme`).
    pub fn key(&self) -> &str {
        &self.0[Self::PREFIX.len()..]
    }

    /// The provider's strategy: `oauth_custom_<key>`.
    pub fn strategy(&self) -> &str {
        &self.0[Self::FROM.len()..]
    }

    /// The strategy of an email address the provider verified: `from_oauth_custom_<key>`.
    pub fn verified_by(&self) -> &str {
        &self.0
    }
}

/// A strategy as the emulator stores and shows it: one of [`Strategy`]'s, or one that names a
/// custom OAuth provider (`oauth_custom_<key>`, `from_oauth_custom_<key>`).
///
/// Why a second type rather than a variant of [`Strategy`]: `Strategy` is a closed, `Copy` enum
/// whose names are `&'static str`, matched exhaustively and copied all over the emulator and the
/// SDKs, and a custom provider's key is the instance's data, not a word of the vocabulary. So
/// `Strategy` stays as it is, and the few places where a custom provider's strategy can appear —
/// what is stored (an OAuth verification's provider, a code verification's and an
/// identification's strategy, a client's last authentication strategy, exports) and what names a
/// provider — hold an `AnyStrategy`, which compares with a `Strategy` directly. Custom providers
/// have no ID-token strategy: Clerk's `oauth_token_<p>` names built-in providers only, and
/// `oauth_token_custom_…` is an unknown strategy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnyStrategy {
    Known(Strategy),
    /// `oauth_custom_<key>`: sign-in or sign-up through a custom provider.
    OAuthCustom(CustomProvider),
    /// `from_oauth_custom_<key>`: an email address that custom provider verified.
    FromOAuthCustom(CustomProvider),
}

impl AnyStrategy {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(s) => s.as_str(),
            Self::OAuthCustom(c) => c.strategy(),
            Self::FromOAuthCustom(c) => c.verified_by(),
        }
    }

    /// The [`Strategy`], when it is one.
    pub fn known(&self) -> Option<Strategy> {
        match self {
            Self::Known(s) => Some(*s),
            _ => None,
        }
    }

    /// The custom provider it names, if any.
    pub fn custom(&self) -> Option<&CustomProvider> {
        match self {
            Self::Known(_) => None,
            Self::OAuthCustom(c) | Self::FromOAuthCustom(c) => Some(c),
        }
    }

    /// An OAuth provider's strategy: a built-in one (`oauth_google`, …) or `oauth_custom_<key>`.
    pub fn is_oauth(&self) -> bool {
        match self {
            Self::Known(s) => s.is_oauth(),
            Self::OAuthCustom(_) => true,
            Self::FromOAuthCustom(_) => false,
        }
    }

    /// For an OAuth provider's strategy, the strategy of the email addresses it verifies
    /// (`oauth_custom_acme` → `from_oauth_custom_acme`).
    pub fn verified_by(&self) -> Option<Self> {
        match self {
            Self::Known(s) => s.verified_by().map(Self::Known),
            Self::OAuthCustom(c) => Some(Self::FromOAuthCustom(c.clone())),
            Self::FromOAuthCustom(_) => None,
        }
    }

    /// The `object` of a verification made with this strategy.
    pub fn verification_object(&self) -> &'static str {
        match self {
            Self::Known(s) => s.verification_object(),
            Self::OAuthCustom(_) => "verification_oauth",
            Self::FromOAuthCustom(_) => "verification_from_oauth",
        }
    }
}

impl From<Strategy> for AnyStrategy {
    fn from(s: Strategy) -> Self {
        Self::Known(s)
    }
}

impl FromStr for AnyStrategy {
    type Err = UnknownName;

    /// A [`Strategy`]'s name, or `oauth_custom_<key>` / `from_oauth_custom_<key>` with a key
    /// that keeps [`CustomProvider::KEY_RULE`]; anything else is an [`UnknownName`].
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        if let Ok(known) = s.parse::<Strategy>() {
            return Ok(Self::Known(known));
        }
        let custom = |key: &str| {
            CustomProvider::new(key).ok_or_else(|| UnknownName {
                kind: "strategy",
                name: s.to_owned(),
            })
        };
        if let Some(key) = s.strip_prefix("oauth_custom_") {
            return custom(key).map(Self::OAuthCustom);
        }
        if let Some(key) = s.strip_prefix("from_oauth_custom_") {
            return custom(key).map(Self::FromOAuthCustom);
        }
        Err(UnknownName {
            kind: "strategy",
            name: s.to_owned(),
        })
    }
}

impl TryFrom<&str> for AnyStrategy {
    type Error = UnknownName;

    fn try_from(s: &str) -> Result<Self, UnknownName> {
        s.parse()
    }
}

impl fmt::Display for AnyStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for AnyStrategy {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<AnyStrategy> for String {
    fn from(v: AnyStrategy) -> String {
        v.as_str().to_owned()
    }
}

impl From<&AnyStrategy> for String {
    fn from(v: &AnyStrategy) -> String {
        v.as_str().to_owned()
    }
}

impl PartialEq<Strategy> for AnyStrategy {
    fn eq(&self, other: &Strategy) -> bool {
        *self == Self::Known(*other)
    }
}

impl PartialEq<AnyStrategy> for Strategy {
    fn eq(&self, other: &AnyStrategy) -> bool {
        other == self
    }
}

impl PartialEq<str> for AnyStrategy {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AnyStrategy {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for AnyStrategy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for AnyStrategy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

wire_enum! {
    /// A webhook event's `type`. [`EventType::ALL`] is what the emulator emits.
    pub enum EventType("event type") {
        UserCreated = "user.created",
        UserUpdated = "user.updated",
        /// Its data is `{"object":"user","id":…,"deleted":true}`.
        UserDeleted = "user.deleted",
        SessionCreated = "session.created",
        SessionEnded = "session.ended",
        SessionRemoved = "session.removed",
        SessionRevoked = "session.revoked",
        /// A message the instance asked Clerk to send, with `data.otp_code`.
        EmailCreated = "email.created",
        SmsCreated = "sms.created",
    }
}

wire_enum! {
    /// An error code of the error envelope (`errors[].code`): what clients branch on. The list is
    /// Clerk's codes that official clients check, plus the ones the emulator and the Latchkey
    /// SDKs send of their own.
    pub enum ErrorCode("error code") {
        ResourceNotFound = "resource_not_found",
        /// No valid session token, or the session is no longer active.
        AuthenticationInvalid = "authentication_invalid",
        /// Backend API: the secret key is wrong.
        ClerkKeyInvalid = "clerk_key_invalid",
        /// The client has no active session.
        SignedOut = "signed_out",
        FormIdentifierNotFound = "form_identifier_not_found",
        FormIdentifierExists = "form_identifier_exists",
        FormPasswordIncorrect = "form_password_incorrect",
        /// An older name of `form_password_incorrect` (Backend API `verify_password`).
        IncorrectPassword = "incorrect_password",
        FormPasswordPwned = "form_password_pwned",
        FormPasswordLengthTooShort = "form_password_length_too_short",
        /// Longer than the instance's `password_settings.max_length`.
        FormPasswordLengthTooLong = "form_password_length_too_long",
        /// More than 72 bytes (what bcrypt-compatible digests can hold).
        FormPasswordSizeInBytesExceeded = "form_password_size_in_bytes_exceeded",
        /// A required character class (digit, upper/lower case, special character) is missing.
        FormPasswordValidationFailed = "form_password_validation_failed",
        /// zxcvbn scores it below `min_zxcvbn_strength`; `meta.zxcvbn.suggestions` says why.
        FormPasswordNotStrongEnough = "form_password_not_strong_enough",
        /// The password is (or contains) one of the user's identifiers.
        FormPasswordMatchesIdentifier = "form_password_matches_identifier",
        /// Enumeration protection: an unknown identifier and a wrong password look the same.
        FormPasswordOrIdentifierIncorrect = "form_password_or_identifier_incorrect",
        FormCodeIncorrect = "form_code_incorrect",
        /// A required parameter is missing.
        FormParamNil = "form_param_nil",
        /// A parameter is malformed.
        FormParamFormatInvalid = "form_param_format_invalid",
        /// A parameter is well formed but not an accepted value (an unknown strategy).
        FormParamValueInvalid = "form_param_value_invalid",
        /// Too many wrong codes.
        VerificationFailed = "verification_failed",
        VerificationExpired = "verification_expired",
        VerificationAlreadyVerified = "verification_already_verified",
        /// The attempt is not in a status that allows this request.
        RequestInvalidForStatus = "request_invalid_for_status",
        SessionExists = "session_exists",
        IdentifierAlreadySignedIn = "identifier_already_signed_in",
        UserLocked = "user_locked",
        UserBanned = "user_banned",
        SignUpModeRestricted = "sign_up_mode_restricted",
        TooManyRequests = "too_many_requests",
        /// A 500.
        InternalClerkError = "internal_clerk_error",
        /// The body or query could not be parsed.
        MalformedRequest = "malformed_request",
        RequestBodyTooLarge = "request_body_too_large",
        UnsupportedContentType = "unsupported_content_type",
        MethodNotAllowed = "method_not_allowed",
        /// A native request that also carries `Origin`.
        NativeApiDisabledWithOrigin = "native_api_disabled_with_origin",
        /// Browser mode (development instances): the request's dev browser (`__clerk_db_jwt`)
        /// is missing or unknown; clerk-js then makes a new one (`POST /v1/dev_browser`).
        DevBrowserUnauthenticated = "dev_browser_unauthenticated",
        /// Bot protection: a browser sign-up without a `captcha_token` (clerk-js reloads the
        /// environment and tries again once).
        CaptchaMissingToken = "captcha_missing_token",
        /// Bot protection: the `captcha_token` is not one the widget issued, was used, or the
        /// widget failed (`captcha_error`).
        CaptchaInvalid = "captcha_invalid",
        /// Bot protection is off on this instance, so there is nothing to verify.
        CaptchaNotEnabled = "captcha_not_enabled",
        /// Bot protection doubts this client: it must solve a challenge and send its token to
        /// `POST /v1/client/verify` (clerk-js does, in a modal) before trying again (401).
        RequiresCaptcha = "requires_captcha",
        /// Emulator: the control API was called under a name that is not loopback.
        HostInvalid = "host_invalid",
        /// Emulator: a cross-site request to the control API or UI.
        CrossSiteRequestRefused = "cross_site_request_refused",
        /// Emulator: background jobs did not finish in time (`jobs/wait_idle`).
        JobsStillRunning = "jobs_still_running",
        /// `latchkey-backend`: the keys that verify session tokens could not be loaded.
        ServiceUnavailable = "service_unavailable",
        /// `change_password`: the new password is the one the user has.
        FormNewPasswordMatchesCurrent = "form_new_password_matches_current",
        /// A parameter the operation does not take (any more).
        FormParamUnknown = "form_param_unknown",
        /// A redirect URL of a scheme no redirect may use (`javascript:`, `data:`, …).
        InvalidUrlScheme = "invalid_url_scheme",
        /// A redirect URL that is not on the instance's allowlist (Clerk's own spelling).
        ResourceMissmatch = "resource_missmatch",
        /// `strategy=ticket` with a ticket that is unknown, revoked or already used. (Unconfirmed: Clerk's
        /// code for this is not documented; the emulator's choice.)
        TicketInvalid = "ticket_invalid",
        /// `strategy=ticket` with a ticket past its `expires_in_seconds` (unconfirmed, as above).
        TicketExpired = "ticket_expired",
        /// Native email links (`POST /v1/client/magic_links/complete`): no such approval.
        ApprovalTokenInvalid = "approval_token_invalid",
        /// The approval was redeemed already.
        ApprovalTokenConsumed = "approval_token_consumed",
        /// The approval is too old.
        ApprovalTokenExpired = "approval_token_expired",
        /// The `code_verifier` does not match the link's `code_challenge`.
        PkceVerificationFailed = "pkce_verification_failed",
        /// The flow the approval is for can no longer be verified by it.
        FlowNotApproved = "flow_not_approved",
        /// OAuth sign-in: the provider's account belongs to no user (transfer to a sign-up).
        ExternalAccountNotFound = "external_account_not_found",
        /// OAuth sign-up: the provider's account is a user's already (transfer to a sign-in).
        ExternalAccountExists = "external_account_exists",
        /// The user denied the provider's consent.
        OauthAccessDenied = "oauth_access_denied",
        /// The callback's `state` or `code` is not one this instance issued, or was used.
        OauthCallbackInvalid = "oauth_callback_invalid",
        /// A `rotating_token_nonce` that is wrong, used, or not this attempt's.
        RotatingTokenNonceInvalid = "rotating_token_nonce_invalid",
        /// The user may not sign in (banned).
        NotAllowedAccess = "not_allowed_access",
        /// A real OAuth provider would not redeem the code, or its ID token was refused
        /// (unconfirmed: Clerk's code for this is not documented; the emulator's choice).
        OauthTokenExchangeError = "oauth_token_exchange_error",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// serde, `as_str` and `FromStr` agree on every wire name, and no two values share one.
    fn round_trips<T>(all: &[T])
    where
        T: Copy
            + PartialEq
            + fmt::Debug
            + fmt::Display
            + FromStr<Err = UnknownName>
            + serde::Serialize
            + serde::de::DeserializeOwned,
    {
        let mut seen = std::collections::HashSet::new();
        for v in all {
            let name = v.to_string();
            assert!(seen.insert(name.clone()), "{name} twice");
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(name));
            assert_eq!(
                serde_json::from_value::<T>(name.clone().into()).unwrap(),
                *v
            );
            assert_eq!(name.parse::<T>().unwrap(), *v);
        }
    }

    #[test]
    fn every_value_round_trips_through_its_wire_name() {
        round_trips(SignInStatus::ALL);
        round_trips(SignUpStatus::ALL);
        round_trips(SessionStatus::ALL);
        round_trips(VerificationStatus::ALL);
        round_trips(NextAction::ALL);
        round_trips(Strategy::ALL);
        round_trips(EventType::ALL);
        round_trips(ErrorCode::ALL);
    }

    #[test]
    fn wire_names_are_the_ones_stored_and_sent_before_the_enums() {
        // Sign-in and sign-up documents and the session status column hold these strings.
        assert_eq!(
            SignInStatus::NeedsFirstFactor.as_str(),
            "needs_first_factor"
        );
        assert_eq!(
            SignUpStatus::MissingRequirements.as_str(),
            "missing_requirements"
        );
        assert_eq!(SessionStatus::Revoked.as_str(), "revoked");
        assert_eq!(VerificationStatus::Unverified.as_str(), "unverified");
        assert_eq!(
            Strategy::ResetPasswordPhoneCode.as_str(),
            "reset_password_phone_code"
        );
        assert_eq!(NextAction::Nothing.as_str(), "");
        assert_eq!(EventType::SmsCreated.as_str(), "sms.created");
        assert_eq!(
            ErrorCode::FormParamValueInvalid.as_str(),
            "form_param_value_invalid"
        );
        assert_eq!(EventType::ALL.len(), 9);
    }

    #[test]
    fn unknown_names_are_errors_not_values() {
        let e = "carrier_pigeon".parse::<Strategy>().unwrap_err();
        assert_eq!((e.kind(), e.name()), ("strategy", "carrier_pigeon"));
        assert_eq!(e.to_string(), "\"carrier_pigeon\" is not a known strategy");
        assert!("oauth_myspace".parse::<Strategy>().is_err());
        assert!("Email_Code".parse::<Strategy>().is_err(), "names are exact");
        assert!("".parse::<Strategy>().is_err());
        assert!(serde_json::from_str::<Strategy>(r#""carrier_pigeon""#).is_err());
        assert!("user.exploded".parse::<EventType>().is_err());
        assert!("sleeping".parse::<SessionStatus>().is_err());
    }

    #[test]
    fn wire_strings_compare_with_values() {
        let status = String::from("active");
        assert!(status == SessionStatus::Active);
        assert!(SessionStatus::Active == status);
        assert!(status != SessionStatus::Ended);
        assert!("email_code" == Strategy::EmailCode);
        assert_eq!(String::from(Strategy::EmailCode), "email_code");
    }

    #[test]
    fn custom_provider_strategies_parse_show_and_compare() {
        let s: AnyStrategy = "oauth_custom_acme".parse().unwrap();
        assert_eq!(s.as_str(), "oauth_custom_acme");
        assert!(s.is_oauth() && s.known().is_none());
        assert_eq!(s.custom().unwrap().key(), "acme");
        assert_eq!(s.verification_object(), "verification_oauth");
        let from = s.verified_by().unwrap();
        assert_eq!(from.as_str(), "from_oauth_custom_acme");
        assert_eq!(from.verification_object(), "verification_from_oauth");
        assert!(!from.is_oauth() && from.verified_by().is_none());
        assert_eq!(
            from,
            "from_oauth_custom_acme".parse::<AnyStrategy>().unwrap()
        );
        // Serde round-trips through the wire name, as stored documents hold it.
        assert_eq!(serde_json::to_value(&s).unwrap(), "oauth_custom_acme");
        assert_eq!(
            serde_json::from_value::<AnyStrategy>("oauth_custom_acme".into()).unwrap(),
            s
        );
        // Known strategies are `Known`, and compare with `Strategy` both ways.
        let g: AnyStrategy = "oauth_google".parse().unwrap();
        assert_eq!(g, Strategy::OAuthGoogle);
        assert!(Strategy::OAuthGoogle == g && g != Strategy::OAuthGithub);
        assert_eq!(g.verified_by().unwrap(), Strategy::FromOAuthGoogle);
        assert_eq!(
            serde_json::from_value::<AnyStrategy>("email_code".into()).unwrap(),
            Strategy::EmailCode
        );
        for bad in [
            "oauth_custom_",
            "oauth_custom_Acme",
            "oauth_custom_-acme",
            "oauth_custom_a b",
            "oauth_custom_ünï",
            "from_oauth_custom_",
            "oauth_token_custom_acme",
            "oauth_myspace",
            "",
        ] {
            assert!(bad.parse::<AnyStrategy>().is_err(), "{bad:?}");
        }
        let long = format!(
            "oauth_custom_{}",
            "a".repeat(CustomProvider::MAX_KEY_LEN + 1)
        );
        assert!(long.parse::<AnyStrategy>().is_err());
        let longest = format!("oauth_custom_{}", "a".repeat(CustomProvider::MAX_KEY_LEN));
        assert!(longest.parse::<AnyStrategy>().is_ok());
        assert!("oauth_custom_acme-sso_2".parse::<AnyStrategy>().is_ok());
        assert!(serde_json::from_str::<AnyStrategy>(r#""oauth_custom_NO""#).is_err());
    }

    #[test]
    fn strategies_know_their_verification_objects() {
        assert_eq!(Strategy::Admin.verification_object(), "verification_admin");
        assert_eq!(
            Strategy::Password.verification_object(),
            "verification_password"
        );
        assert_eq!(
            Strategy::EmailCode.verification_object(),
            "verification_otp"
        );
        assert!(Strategy::ResetPasswordEmailCode.is_code());
        assert!(Strategy::ResetPasswordEmailCode.resets_password());
        assert!(!Strategy::EmailCode.resets_password());
        assert!(!Strategy::Password.is_code() && !Strategy::Admin.is_code());
    }
}
