use crate::keys::KeyError;
use crate::store::StoreError;

/// Everything a domain operation can refuse. The HTTP layer maps each variant to a status and a
/// Clerk error code in one match.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The named object (user, session, sign-in, …) does not exist (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No user has this identifier (`form_identifier_not_found`).
    #[error("no account found for this identifier")]
    IdentifierNotFound,
    /// Another user has this identifier (`form_identifier_exists`).
    #[error("{param} is taken")]
    IdentifierExists {
        /// The request parameter that carried it.
        param: &'static str,
    },
    /// A wrong password (`form_password_incorrect`); counts towards the lockout.
    #[error("password is incorrect")]
    PasswordIncorrect,
    /// Shorter than the password policy allows.
    #[error("password must be at least {min} characters")]
    PasswordTooShort {
        /// The policy's minimum.
        min: usize,
    },
    /// Longer than the password policy allows.
    #[error("password must be at most {max} characters")]
    PasswordTooLong {
        /// The policy's maximum.
        max: usize,
    },
    /// More bytes than the hash takes (bcrypt's 72).
    #[error("password must be at most {max} bytes")]
    PasswordTooManyBytes {
        /// The limit in bytes.
        max: usize,
    },
    /// Lacks a character class the policy requires.
    #[error("password lacks a required character class")]
    PasswordValidation {
        /// The classes it lacks.
        missing: Vec<super::passwords::CharClass>,
    },
    /// Below the policy's zxcvbn strength.
    #[error("password is not strong enough")]
    PasswordNotStrongEnough {
        /// zxcvbn's warning, if it has one.
        warning: Option<String>,
        /// zxcvbn's suggestions: `(code, message)`.
        suggestions: Vec<(String, String)>,
    },
    /// On the bundled list of common passwords (`form_password_pwned`).
    #[error("password is on the list of compromised passwords")]
    PasswordPwned,
    /// The password is the user's email address, phone number or username.
    #[error("password matches an identifier")]
    PasswordMatchesIdentifier,
    /// Enumeration protection: an unknown identifier and a wrong password look alike.
    #[error("identifier or password is incorrect")]
    PasswordOrIdentifierIncorrect,
    /// A Frontend API rate limit: try again in `retry_after_secs`.
    #[error("too many requests")]
    RateLimited {
        /// Seconds until the window resets (`Retry-After`).
        retry_after_secs: i64,
    },
    /// A password change to the current password.
    #[error("the new password is the current one")]
    NewPasswordMatchesCurrent,
    /// A wrong verification code (`form_code_incorrect`); counts towards the lockout.
    #[error("incorrect code")]
    CodeIncorrect,
    /// The verification has used up its attempts.
    #[error("too many failed attempts")]
    VerificationFailed,
    /// The code or link expired: prepare a new one.
    #[error("verification expired")]
    VerificationExpired,
    /// The verification already succeeded.
    #[error("already verified")]
    AlreadyVerified,
    /// A required parameter is missing (`form_param_nil`).
    #[error("{0} is required")]
    ParamMissing(&'static str),
    /// A parameter is malformed (`form_param_format_invalid`).
    #[error("{param} is invalid: {reason}")]
    ParamFormat {
        /// The parameter.
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed parameter whose value is not accepted (`form_param_value_invalid`).
    #[error("{param}: {reason}")]
    ParamValue {
        /// The parameter.
        param: &'static str,
        /// Why the value is refused.
        reason: String,
    },
    /// The request does not fit the object's state (e.g. attempting a code never prepared).
    #[error("{0}")]
    InvalidState(String),
    /// A redirect URL the instance does not accept (see `domain/redirects.rs`); never stored,
    /// never followed.
    #[error("{param} {url:?} is refused: {refusal:?}")]
    RedirectRefused {
        /// The parameter that carried it.
        param: &'static str,
        /// The URL as given.
        url: String,
        /// Why it is refused.
        refusal: super::redirects::Refusal,
    },
    /// Locked out (see `domain/attack.rs`): for `expires_in_secs` more, or until unlocked
    /// (`None`).
    #[error("the user is locked")]
    UserLocked {
        /// Seconds until the lock lifts.
        expires_in_secs: Option<i64>,
    },
    /// The user is banned (`user_banned`).
    #[error("the user is banned")]
    UserBanned,
    /// A sign-in ticket that is unknown, revoked or already redeemed.
    #[error("the ticket is invalid")]
    TicketInvalid,
    /// A native email-link approval that cannot be redeemed; the code says why
    /// (`approval_token_invalid`, `…_consumed`, `…_expired`, `pkce_verification_failed`,
    /// `flow_not_approved`).
    #[error("the approval cannot be redeemed: {0}")]
    LinkApproval(latchkey_protocol::ErrorCode),
    /// An OAuth step that cannot go on; the code says why (`oauth_callback_invalid`,
    /// `rotating_token_nonce_invalid`, `external_account_not_found`, …).
    #[error("OAuth: {0}")]
    OAuth(latchkey_protocol::ErrorCode),
    /// A sign-in ticket past its expiry.
    #[error("the ticket has expired")]
    TicketExpired,
    /// A single-session instance already has a session on this client (`session_exists`).
    #[error("a session already exists on this client")]
    SessionExists,
    /// This user already has a session on this client.
    #[error("this identifier is already signed in")]
    AlreadySignedIn,
    /// The instance's sign-up mode does not allow this sign-up.
    #[error("sign-ups are restricted")]
    SignUpRestricted,
    /// The request needs a signed-in session and has none.
    #[error("not signed in")]
    SignedOut,
    /// Bot protection: a browser sign-up came without a CAPTCHA token (422
    /// `captcha_missing_token`) or with one that is not valid (422 `captcha_invalid`).
    #[error("bot protection: {0:?}")]
    Captcha(latchkey_protocol::ErrorCode),
    /// Bot protection: this client must solve a challenge first (401 `requires_captcha`).
    #[error("the client must solve a CAPTCHA challenge first")]
    RequiresCaptcha,
    /// Browser mode: the request's dev browser is missing or unknown (401
    /// `dev_browser_unauthenticated`, after which clerk-js makes a new one).
    #[error("no dev browser, or an unknown one")]
    DevBrowserUnknown,
    /// The session ended, expired or was revoked.
    #[error("the session is no longer active")]
    SessionInactive,
    /// The store failed (500).
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The signing key failed (500).
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    /// A broken invariant (500); the message goes to the log only.
    #[error("internal: {0}")]
    Internal(String),
    /// Not a refusal: the operation needs a password hashed or verified outside the write
    /// transaction, then runs again (see `domain::passwords::PasswordWork`).
    #[error("password work needed")]
    PasswordWork(Box<super::passwords::PasswordWork>),
}
