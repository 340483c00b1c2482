use crate::keys::KeyError;
use crate::store::StoreError;

/// Everything a domain operation can refuse. The HTTP layer maps each variant to a status and a
/// Clerk error code in one match.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no account found for this identifier")]
    IdentifierNotFound,
    #[error("{param} is taken")]
    IdentifierExists { param: &'static str },
    #[error("password is incorrect")]
    PasswordIncorrect,
    #[error("password must be at least {min} characters")]
    PasswordTooShort { min: usize },
    #[error("password must be at most {max} characters")]
    PasswordTooLong { max: usize },
    #[error("password must be at most {max} bytes")]
    PasswordTooManyBytes { max: usize },
    #[error("password lacks a required character class")]
    PasswordValidation {
        missing: Vec<super::passwords::CharClass>,
    },
    #[error("password is not strong enough")]
    PasswordNotStrongEnough {
        warning: Option<String>,
        /// zxcvbn's suggestions: `(code, message)`.
        suggestions: Vec<(String, String)>,
    },
    #[error("password is on the list of compromised passwords")]
    PasswordPwned,
    #[error("password matches an identifier")]
    PasswordMatchesIdentifier,
    /// Enumeration protection: an unknown identifier and a wrong password look alike.
    #[error("identifier or password is incorrect")]
    PasswordOrIdentifierIncorrect,
    /// A Frontend API rate limit: try again in `retry_after_secs`.
    #[error("too many requests")]
    RateLimited { retry_after_secs: i64 },
    #[error("the new password is the current one")]
    NewPasswordMatchesCurrent,
    #[error("incorrect code")]
    CodeIncorrect,
    #[error("too many failed attempts")]
    VerificationFailed,
    #[error("verification expired")]
    VerificationExpired,
    #[error("already verified")]
    AlreadyVerified,
    #[error("{0} is required")]
    ParamMissing(&'static str),
    #[error("{param} is invalid: {reason}")]
    ParamFormat { param: &'static str, reason: String },
    #[error("{param}: {reason}")]
    ParamValue { param: &'static str, reason: String },
    #[error("{0}")]
    InvalidState(String),
    /// A redirect URL the instance does not accept (see `domain/redirects.rs`); never stored,
    /// never followed.
    #[error("{param} {url:?} is refused: {refusal:?}")]
    RedirectRefused {
        param: &'static str,
        url: String,
        refusal: super::redirects::Refusal,
    },
    /// Locked out (see `domain/attack.rs`): for `expires_in_secs` more, or until unlocked
    /// (`None`).
    #[error("the user is locked")]
    UserLocked { expires_in_secs: Option<i64> },
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
    /// A sign-in ticket past its expiry.
    #[error("the ticket has expired")]
    TicketExpired,
    #[error("a session already exists on this client")]
    SessionExists,
    #[error("this identifier is already signed in")]
    AlreadySignedIn,
    #[error("sign-ups are restricted")]
    SignUpRestricted,
    #[error("not signed in")]
    SignedOut,
    #[error("the session is no longer active")]
    SessionInactive,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    #[error("internal: {0}")]
    Internal(String),
    /// Not a refusal: the operation needs a password hashed or verified outside the write
    /// transaction, then runs again (see [`super::passwords::PasswordWork`]).
    #[error("password work needed")]
    PasswordWork(Box<super::passwords::PasswordWork>),
}
