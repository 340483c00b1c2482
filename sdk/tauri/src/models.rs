//! What commands return and events carry, as the webview sees it (camelCase). Nothing here holds
//! a client token; a session token appears only in [`TokenView`], returned to a caller that asked
//! for it.

use latchkey::protocol::{Session, User};
use latchkey::{AuthState, SignInAttempt, SignUpAttempt, SignUpStep};
use serde::{Deserialize, Serialize};

/// The name of the event the plugin emits on every auth-state transition (signing in or out,
/// another session becoming active, the user's profile changing). Its payload is an
/// [`AuthStateView`].
pub const AUTH_STATE_EVENT: &str = "latchkey://auth-state";

/// Whether someone is signed in on this device.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthStateView {
    /// `loading` (the keychain has not been read yet), `signedOut` or `signedIn`.
    pub status: &'static str,
    /// The active session, when signed in.
    pub session: Option<SessionView>,
    /// The signed-in user, as the Frontend API sends it.
    pub user: Option<User>,
}

impl From<&AuthState> for AuthStateView {
    fn from(state: &AuthState) -> Self {
        match state {
            AuthState::Loading => Self {
                status: "loading",
                session: None,
                user: None,
            },
            AuthState::SignedOut => Self {
                status: "signedOut",
                session: None,
                user: None,
            },
            AuthState::SignedIn { session, user } => Self {
                status: "signedIn",
                session: Some(SessionView::from(&**session)),
                user: Some((**user).clone()),
            },
        }
    }
}

/// A session on this device, without its `last_active_token` (the webview asks for tokens with
/// `getToken`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// The session's id (`sess_…`).
    pub id: String,
    /// The Frontend API's status: `active`, `ended`, `expired`, `removed`, `revoked`, …
    pub status: String,
    /// Whose session it is (`user_…`).
    pub user_id: Option<String>,
    /// Milliseconds since the Unix epoch, as the Frontend API sends them.
    pub expire_at: i64,
    /// When the session was last used, in milliseconds since the Unix epoch.
    pub last_active_at: i64,
    /// The session's user (name, email addresses), when the Frontend API sent it.
    pub user: Option<User>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.clone(),
            status: s.status.clone(),
            user_id: s.user_id.clone(),
            expire_at: s.expire_at,
            last_active_at: s.last_active_at,
            user: s.user.clone(),
        }
    }
}

/// A sign-in in progress (or done). Continue it with its `id`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInView {
    /// The sign-in's id (`sia_…`), for the commands that continue it.
    pub id: String,
    /// The Frontend API's status: `needs_identifier`, `needs_first_factor`,
    /// `needs_second_factor`, `needs_new_password`, `complete`, `abandoned`.
    pub status: String,
    /// The new session, once complete (the user is then signed in).
    pub created_session_id: Option<String>,
    /// The first-factor strategies the user can prove (`password`, `email_code`, …).
    pub first_factors: Vec<String>,
    /// The second-factor strategies (`totp`, `backup_code`, `phone_code`, `email_code`).
    pub second_factors: Vec<String>,
    /// The code strategy that was sent and awaits its code.
    pub pending_code: Option<&'static str>,
    /// The second-factor strategy that was sent and awaits its code.
    pub pending_second_factor: Option<&'static str>,
}

impl From<&SignInAttempt> for SignInView {
    fn from(a: &SignInAttempt) -> Self {
        Self {
            id: a.id().to_owned(),
            status: a.raw().status.clone(),
            created_session_id: a.created_session_id().map(str::to_owned),
            first_factors: a
                .first_factors()
                .iter()
                .map(|f| f.strategy.clone())
                .collect(),
            second_factors: a
                .second_factors()
                .iter()
                .map(|f| f.strategy().to_owned())
                .collect(),
            pending_code: a.pending_code().map(|c| c.strategy()),
            pending_second_factor: a.pending_second_factor().map(|f| f.strategy()),
        }
    }
}

/// What a sign-up needs next.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum NextStep {
    /// Supply these fields (not yet a command: the example instance needs none).
    MissingFields {
        /// The Frontend API's names of the missing fields (`first_name`, …).
        fields: Vec<String>,
    },
    /// Verify the email address; send a code first unless `codeSent`.
    #[serde(rename_all = "camelCase")]
    VerifyEmail {
        /// Whether a code has already been emailed.
        code_sent: bool,
    },
    /// Verify the phone number; send a code first unless `codeSent`.
    #[serde(rename_all = "camelCase")]
    VerifyPhone {
        /// Whether a code has already been texted.
        code_sent: bool,
    },
    /// Signed in.
    Complete,
    /// Given up (expired); start a new sign-up.
    Abandoned,
    /// A state the SDK does not know how to continue.
    Other {
        /// The Frontend API's status, as it sent it.
        status: String,
    },
}

impl From<SignUpStep> for NextStep {
    fn from(s: SignUpStep) -> Self {
        match s {
            SignUpStep::MissingFields(fields) => Self::MissingFields { fields },
            SignUpStep::VerifyEmail { code_sent } => Self::VerifyEmail { code_sent },
            SignUpStep::VerifyPhone { code_sent } => Self::VerifyPhone { code_sent },
            SignUpStep::Complete => Self::Complete,
            SignUpStep::Abandoned => Self::Abandoned,
            SignUpStep::Other(status) => Self::Other { status },
            other => Self::Other {
                status: format!("{other:?}"),
            },
        }
    }
}

/// A sign-up in progress (or done). Continue it with its `id`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignUpView {
    /// The sign-up's id (`sua_…`), for the commands that continue it.
    pub id: String,
    /// The Frontend API's status: `missing_requirements`, `complete`, `abandoned`.
    pub status: String,
    /// What to do next.
    pub next_step: NextStep,
    /// Required fields not yet given (the Frontend API's `missing_fields`).
    pub missing_fields: Vec<String>,
    /// Given fields not yet verified (`email_address`, `phone_number`).
    pub unverified_fields: Vec<String>,
    /// The new session, once complete (the user is then signed in).
    pub created_session_id: Option<String>,
    /// The new user, once complete.
    pub created_user_id: Option<String>,
}

impl From<&SignUpAttempt> for SignUpView {
    fn from(a: &SignUpAttempt) -> Self {
        Self {
            id: a.id().to_owned(),
            status: a.raw().status.clone(),
            next_step: a.next_step().into(),
            missing_fields: a.missing_fields().to_vec(),
            unverified_fields: a.unverified_fields().to_vec(),
            created_session_id: a.created_session_id().map(str::to_owned),
            created_user_id: a.created_user_id().map(str::to_owned),
        }
    }
}

/// Where an OAuth flow (or an ID-token sign-in) ended: a sign-in, or — for someone new, or
/// after a transfer — a sign-up. Exactly one of the two is set; either may need more (a
/// second factor, a missing field), continued with its id as any other.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthView {
    /// The sign-in, when the provider account belongs to a user.
    pub sign_in: Option<SignInView>,
    /// The sign-up, when it is a new user.
    pub sign_up: Option<SignUpView>,
}

/// An OAuth attempt waiting for its callback (a claimed-scheme deep link): its browser page was
/// opened; hand the URL the app receives to `complete_oauth` with `id`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthStartView {
    /// The attempt's id (`sia_…` or `sua_…`).
    pub id: String,
    /// The provider page that was opened in the system browser.
    pub authorize_url: String,
}

/// The fields of a new account. Set what the instance requires.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignUpFields {
    /// The account's email address.
    pub email_address: Option<String>,
    /// The account's phone number (E.164, `+15555550100`).
    pub phone_number: Option<String>,
    /// A username, where the instance has them.
    pub username: Option<String>,
    /// A password, where the instance has them (never printed by `Debug`).
    pub password: Option<String>,
    /// The user's first name.
    pub first_name: Option<String>,
    /// The user's last name.
    pub last_name: Option<String>,
}

impl std::fmt::Debug for SignUpFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUpFields")
            .field("email_address", &self.email_address)
            .field("phone_number", &self.phone_number)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl From<SignUpFields> for latchkey::SignUpForm {
    fn from(f: SignUpFields) -> Self {
        let mut form = latchkey::SignUpForm::new();
        if let Some(v) = f.email_address {
            form = form.email_address(v);
        }
        if let Some(v) = f.phone_number {
            form = form.phone_number(v);
        }
        if let Some(v) = f.username {
            form = form.username(v);
        }
        if let Some(v) = f.password {
            form = form.password(v);
        }
        if let Some(v) = f.first_name {
            form = form.first_name(v);
        }
        if let Some(v) = f.last_name {
            form = form.last_name(v);
        }
        form
    }
}

/// A session token the webview asked for: send it as `Authorization: Bearer <jwt>`. It lives
/// about a minute; ask again rather than keep it.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    /// The session token (a JWT; never printed by `Debug`).
    pub jwt: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for TokenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenView")
            .field("jwt", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
