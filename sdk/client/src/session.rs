//! Auth state: what the app shows. It is derived from the client snapshot (the last `client`
//! the Frontend API sent) and changes only on real transitions.

use std::sync::Arc;

use latchkey_protocol::{Client, Session, SessionStatus, SignInStatus, SignUpStatus, User};

/// Whether someone is signed in on this device. Watch it with
/// [`Latchkey::auth_state`](crate::Latchkey::auth_state).
#[derive(Debug, Clone, PartialEq)]
pub enum AuthState {
    /// The stored session has not been read yet.
    Loading,
    /// No active session on this device: show the sign-in screen.
    SignedOut,
    /// The client's active session and its user.
    SignedIn {
        /// The active session.
        session: Arc<Session>,
        /// Its user.
        user: Arc<User>,
    },
}

impl AuthState {
    /// Whether the stored session is still being read (show a splash, not the sign-in screen).
    pub fn is_loading(&self) -> bool {
        matches!(self, AuthState::Loading)
    }

    /// Whether someone is signed in.
    pub fn is_signed_in(&self) -> bool {
        matches!(self, AuthState::SignedIn { .. })
    }

    /// Whether nobody is signed in.
    pub fn is_signed_out(&self) -> bool {
        matches!(self, AuthState::SignedOut)
    }

    /// The active session, when signed in.
    pub fn session(&self) -> Option<&Arc<Session>> {
        match self {
            AuthState::SignedIn { session, .. } => Some(session),
            _ => None,
        }
    }

    /// The signed-in user.
    pub fn user(&self) -> Option<&Arc<User>> {
        match self {
            AuthState::SignedIn { user, .. } => Some(user),
            _ => None,
        }
    }

    /// Whether going from `self` to `next` is a transition worth telling the app about: signing
    /// in or out, another session becoming active, the user's profile changing. Bookkeeping
    /// (activity timestamps, a fresh `last_active_token`) is not.
    pub(crate) fn differs_from(&self, next: &AuthState) -> bool {
        match (self, next) {
            (AuthState::Loading, AuthState::Loading) => false,
            (AuthState::SignedOut, AuthState::SignedOut) => false,
            (
                AuthState::SignedIn {
                    session: s1,
                    user: u1,
                },
                AuthState::SignedIn {
                    session: s2,
                    user: u2,
                },
            ) => s1.id != s2.id || s1.status != s2.status || !same_profile(u1, u2),
            _ => true,
        }
    }
}

fn same_profile(a: &User, b: &User) -> bool {
    if a == b {
        return true;
    }
    let mut a = a.clone();
    let mut b = b.clone();
    for u in [&mut a, &mut b] {
        u.last_active_at = None;
        u.last_sign_in_at = None;
    }
    a == b
}

/// The client's active session, if it is active at `now_ms` (server time).
pub(crate) fn active_session(client: &Client, now_ms: i64) -> Option<&Session> {
    let id = client.last_active_session_id.as_deref()?;
    client
        .sessions
        .iter()
        .find(|s| s.id == id && s.status == SessionStatus::Active && s.expire_at > now_ms)
}

/// The state a client snapshot stands for.
pub(crate) fn auth_state_of(client: Option<&Client>, now_ms: i64) -> AuthState {
    let Some(session) = client.and_then(|c| active_session(c, now_ms)) else {
        return AuthState::SignedOut;
    };
    match &session.user {
        Some(user) => AuthState::SignedIn {
            session: Arc::new(session.clone()),
            user: Arc::new(user.clone()),
        },
        // The Frontend API always embeds the user; without it there is nothing to show.
        None => AuthState::SignedOut,
    }
}

/// Whether the client has a sign-in or sign-up under way (whose attempt lives on this client,
/// so its token must be kept even while nobody is signed in).
pub(crate) fn flow_in_progress(client: &Client) -> bool {
    client
        .sign_in
        .as_ref()
        .is_some_and(|s| s.status != SignInStatus::Complete && s.status != SignInStatus::Abandoned)
        || client.sign_up.as_ref().is_some_and(|s| {
            s.status != SignUpStatus::Complete && s.status != SignUpStatus::Abandoned
        })
}
