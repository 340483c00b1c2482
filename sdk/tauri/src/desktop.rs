//! The plugin's state on desktop: one [`latchkey::Latchkey`] for the app, and the sign-ins and
//! sign-ups the webview has under way (the webview holds only their ids).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use latchkey::{
    EmailLinkSignIn, OAuthOutcome, OAuthProvider, PendingOAuth, SecondFactor, SignInAttempt,
    SignUpAttempt, TokenOptions,
};
use tauri::{AppHandle, Emitter, Runtime};

use crate::error::{Error, Result};
use crate::models::*;

/// Access to the app's Latchkey client from Rust (`app.latchkey()`, see
/// [`LatchkeyExt`](crate::LatchkeyExt)). The commands the webview calls are thin wrappers over
/// these methods.
pub struct Latchkey {
    sdk: latchkey::Latchkey,
    sign_ins: Mutex<HashMap<String, SignInAttempt>>,
    sign_ups: Mutex<HashMap<String, SignUpAttempt>>,
    /// Email-link sign-ins waiting for their callback URL (each holds its PKCE verifier).
    email_links: Mutex<HashMap<String, Arc<EmailLinkSignIn>>>,
    /// OAuth attempts waiting for a claimed-scheme callback (each holds its `lk_state`).
    oauth: Mutex<HashMap<String, Arc<PendingOAuth>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one map operation: a panic elsewhere leaves the map consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The longest [`Latchkey::wait_for_email_link`] waits in one call (the webview may call again).
const MAX_EMAIL_LINK_WAIT: Duration = Duration::from_secs(3600);

/// How many unfinished attempts of each kind are kept; past this, another one (any) is dropped
/// to make room: a webview that starts attempts in a loop cannot grow the map without bound.
const MAX_ATTEMPTS: usize = 16;

fn keep<A>(map: &Mutex<HashMap<String, A>>, id: String, attempt: A, done: bool) {
    let mut m = lock(map);
    if done {
        m.remove(&id);
        return;
    }
    if m.len() >= MAX_ATTEMPTS && !m.contains_key(&id) {
        if let Some(k) = m.keys().next().cloned() {
            m.remove(&k);
        }
    }
    m.insert(id, attempt);
}

fn parse_provider(provider: &str) -> Result<OAuthProvider> {
    provider
        .parse()
        .map_err(|e: latchkey::Error| Error::InvalidArgument(e.to_string()))
}

fn second_factor(strategy: &str) -> Result<SecondFactor> {
    match strategy {
        "totp" => Ok(SecondFactor::Totp),
        "backup_code" => Ok(SecondFactor::BackupCode),
        "phone_code" => Ok(SecondFactor::PhoneCode),
        "email_code" => Ok(SecondFactor::EmailCode),
        other => Err(Error::InvalidArgument(format!(
            "unknown second-factor strategy {other:?} (totp, backup_code, phone_code, email_code)"
        ))),
    }
}

impl Latchkey {
    pub(crate) fn new(sdk: latchkey::Latchkey) -> Self {
        Self {
            sdk,
            sign_ins: Mutex::new(HashMap::new()),
            sign_ups: Mutex::new(HashMap::new()),
            email_links: Mutex::new(HashMap::new()),
            oauth: Mutex::new(HashMap::new()),
        }
    }

    /// The SDK itself, for anything the commands do not cover (profile, second-factor
    /// enrolment, …). Clones share one session.
    pub fn sdk(&self) -> &latchkey::Latchkey {
        &self.sdk
    }

    /// The auth state once the keychain has been read.
    pub async fn auth_state(&self) -> Result<AuthStateView> {
        let state = self.sdk.ready().await?;
        Ok(AuthStateView::from(&state))
    }

    fn sign_in(&self, id: &str) -> Result<SignInAttempt> {
        lock(&self.sign_ins)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownAttempt {
                flow: "sign-in",
                id: id.to_owned(),
            })
    }

    fn sign_up_attempt(&self, id: &str) -> Result<SignUpAttempt> {
        lock(&self.sign_ups)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownAttempt {
                flow: "sign-up",
                id: id.to_owned(),
            })
    }

    fn started(&self, attempt: SignInAttempt) -> SignInView {
        let view = SignInView::from(&attempt);
        keep(
            &self.sign_ins,
            view.id.clone(),
            attempt,
            view.created_session_id.is_some(),
        );
        view
    }

    fn started_sign_up(&self, attempt: SignUpAttempt) -> SignUpView {
        let view = SignUpView::from(&attempt);
        keep(
            &self.sign_ups,
            view.id.clone(),
            attempt,
            view.created_session_id.is_some(),
        );
        view
    }

    /// Signs in with an email address, phone number or username and a password: `complete`,
    /// or `needs_second_factor`.
    pub async fn sign_in_with_password(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<SignInView> {
        let a = self.sdk.sign_in_with_password(identifier, password).await?;
        Ok(self.started(a))
    }

    /// Emails a sign-in code; finish with [`attempt_sign_in_code`](Self::attempt_sign_in_code).
    pub async fn sign_in_with_email_code(&self, email: &str) -> Result<SignInView> {
        let a = self.sdk.sign_in_with_email_code(email).await?;
        Ok(self.started(a))
    }

    /// Texts a sign-in code; finish with [`attempt_sign_in_code`](Self::attempt_sign_in_code).
    pub async fn sign_in_with_phone_code(&self, phone: &str) -> Result<SignInView> {
        let a = self.sdk.sign_in_with_phone_code(phone).await?;
        Ok(self.started(a))
    }

    /// Proves the code that was sent for a sign-in (or a password reset).
    pub async fn attempt_sign_in_code(&self, sign_in_id: &str, code: &str) -> Result<SignInView> {
        let mut a = self.sign_in(sign_in_id)?;
        a.attempt_code(code).await?;
        Ok(self.started(a))
    }

    /// Sends a second-factor code (`phone_code`, `email_code`).
    pub async fn prepare_second_factor(
        &self,
        sign_in_id: &str,
        strategy: &str,
    ) -> Result<SignInView> {
        let factor = second_factor(strategy)?;
        let mut a = self.sign_in(sign_in_id)?;
        a.prepare_second_factor(factor).await?;
        Ok(self.started(a))
    }

    /// Proves a second factor (`totp`, `backup_code`, or a prepared `phone_code`/`email_code`).
    pub async fn attempt_second_factor(
        &self,
        sign_in_id: &str,
        strategy: &str,
        code: &str,
    ) -> Result<SignInView> {
        let factor = second_factor(strategy)?;
        let mut a = self.sign_in(sign_in_id)?;
        a.attempt_second_factor(factor, code).await?;
        Ok(self.started(a))
    }

    /// Emails a sign-in link that comes back to this app (native PKCE): opening it sends the
    /// system browser to `redirect_uri` (a scheme the app claims, e.g. through
    /// `tauri-plugin-deep-link`, on the instance's redirect-URL allowlist, or a loopback URL the
    /// app listens on). Hand that URL to [`complete_email_link`](Self::complete_email_link).
    pub async fn sign_in_with_email_link(
        &self,
        email: &str,
        redirect_uri: &str,
    ) -> Result<SignInView> {
        let pending = self
            .sdk
            .sign_in_with_email_link(email, redirect_uri)
            .await?;
        let view = SignInView::from(pending.attempt());
        keep(&self.email_links, view.id.clone(), Arc::new(pending), false);
        Ok(view)
    }

    /// Completes an email-link sign-in from the URL its link redirected to. A URL that is not
    /// this sign-in's callback fails with kind `invalidState` and keeps the sign-in waiting; a
    /// refused approval (`approval_token_consumed`, `…_expired`, `pkce_verification_failed`)
    /// ends it: send a new link.
    pub async fn complete_email_link(&self, sign_in_id: &str, url: &str) -> Result<SignInView> {
        let pending = lock(&self.email_links)
            .get(sign_in_id)
            .cloned()
            .ok_or_else(|| Error::UnknownAttempt {
                flow: "email-link sign-in",
                id: sign_in_id.to_owned(),
            })?;
        match pending.complete(url).await {
            Ok(a) => {
                lock(&self.email_links).remove(sign_in_id);
                Ok(self.started(a))
            }
            Err(e @ latchkey::Error::InvalidState(_)) => Err(e.into()),
            Err(e) => {
                lock(&self.email_links).remove(sign_in_id);
                Err(e.into())
            }
        }
    }

    /// Emails a sign-in link that may be opened on any device (it lands that browser on
    /// `landing_url`); then [`wait_for_email_link`](Self::wait_for_email_link).
    pub async fn sign_in_with_email_link_elsewhere(
        &self,
        email: &str,
        landing_url: &str,
    ) -> Result<SignInView> {
        let a = self
            .sdk
            .sign_in_with_email_link_elsewhere(email, landing_url)
            .await?;
        Ok(self.started(a))
    }

    /// Waits (polling every second, at most `timeout`, capped at an hour) until
    /// the link sent for this sign-in has been opened: the sign-in is then `complete`, or
    /// `needs_second_factor`. Not opened in time: kind `invalidState`, the sign-in kept.
    pub async fn wait_for_email_link(
        &self,
        sign_in_id: &str,
        timeout: Duration,
    ) -> Result<SignInView> {
        let mut a = self.sign_in(sign_in_id)?;
        a.wait_for_email_link(timeout.min(MAX_EMAIL_LINK_WAIT))
            .await?;
        Ok(self.started(a))
    }

    /// Signs in through an OAuth provider (`google`, `github`, `apple`, `microsoft`,
    /// `custom_<name>`) in the system browser, back on a one-shot loopback listener; someone new
    /// is signed up. Denied, cancelled or timed out: kind `oauth` (codes `oauth_access_denied`,
    /// `oauth_cancelled`, `oauth_timed_out`).
    pub async fn sign_in_with_oauth(&self, provider: &str) -> Result<OAuthView> {
        let outcome = self
            .sdk
            .sign_in_with_oauth(&parse_provider(provider)?)
            .await?;
        Ok(self.outcome(outcome))
    }

    /// Signs up through an OAuth provider as [`sign_in_with_oauth`](Self::sign_in_with_oauth);
    /// an existing account signs in.
    pub async fn sign_up_with_oauth(&self, provider: &str) -> Result<OAuthView> {
        let outcome = self
            .sdk
            .sign_up_with_oauth(&parse_provider(provider)?)
            .await?;
        Ok(self.outcome(outcome))
    }

    /// Starts an OAuth sign-in (or sign-up) that comes back to `redirect_url`, a scheme the app
    /// claims (with `tauri-plugin-deep-link`, on the instance's redirect-URL allowlist), and
    /// opens the provider's page in the system browser. Hand the deep link to
    /// [`complete_oauth`](Self::complete_oauth) or
    /// [`complete_oauth_deep_link`](Self::complete_oauth_deep_link).
    pub async fn start_oauth(
        &self,
        provider: &str,
        redirect_url: &str,
        sign_up: bool,
    ) -> Result<OAuthStartView> {
        let provider = parse_provider(provider)?;
        let pending = if sign_up {
            self.sdk
                .start_oauth_sign_up(&provider, redirect_url)
                .await?
        } else {
            self.sdk
                .start_oauth_sign_in(&provider, redirect_url)
                .await?
        };
        let view = OAuthStartView {
            id: pending.attempt_id().to_owned(),
            authorize_url: pending.authorize_url().to_owned(),
        };
        let pending = Arc::new(pending);
        // Kept before the browser opens: its deep link may come back before `open` returns.
        keep(&self.oauth, view.id.clone(), pending.clone(), false);
        if let Err(e) = pending.open_browser() {
            lock(&self.oauth).remove(&view.id);
            return Err(e.into());
        }
        Ok(view)
    }

    /// Completes an OAuth attempt from the callback URL the app received. A URL that is not its
    /// callback fails with kind `invalidState` and keeps it waiting; any other end removes it.
    pub async fn complete_oauth(&self, id: &str, url: &str) -> Result<OAuthView> {
        let pending = lock(&self.oauth)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownAttempt {
                flow: "OAuth attempt",
                id: id.to_owned(),
            })?;
        match pending.complete(url).await {
            Err(e @ latchkey::Error::InvalidState(_)) => Err(e.into()),
            result => {
                lock(&self.oauth).remove(id);
                Ok(self.outcome(result?))
            }
        }
    }

    /// For an app's deep-link handler (`tauri-plugin-deep-link`'s `on_open_url`): completes the
    /// OAuth attempt whose callback `url` is, or returns `None` when it is none of theirs.
    pub async fn complete_oauth_deep_link(&self, url: &str) -> Option<Result<OAuthView>> {
        let id = lock(&self.oauth)
            .iter()
            .find(|(_, p)| p.is_callback(url))
            .map(|(id, _)| id.clone())?;
        Some(self.complete_oauth(&id, url).await)
    }

    /// Signs in with an ID token from a native provider SDK (`google_one_tap` for Google,
    /// `oauth_token_<provider>` for the others); someone new is signed up.
    pub async fn sign_in_with_id_token(&self, provider: &str, token: &str) -> Result<OAuthView> {
        let outcome = self
            .sdk
            .sign_in_with_id_token(&parse_provider(provider)?, token)
            .await?;
        Ok(self.outcome(outcome))
    }

    fn outcome(&self, outcome: OAuthOutcome) -> OAuthView {
        match outcome {
            OAuthOutcome::SignUp(a) => OAuthView {
                sign_in: None,
                sign_up: Some(self.started_sign_up(a)),
            },
            OAuthOutcome::SignIn(a) => OAuthView {
                sign_in: Some(self.started(a)),
                sign_up: None,
            },
            // A newer SDK's outcome this plugin does not know: report nothing started.
            _ => OAuthView {
                sign_in: None,
                sign_up: None,
            },
        }
    }

    /// Emails a password-reset code; then [`attempt_sign_in_code`](Self::attempt_sign_in_code)
    /// (status `needs_new_password`) and [`reset_password`](Self::reset_password).
    pub async fn start_password_reset(&self, email: &str) -> Result<SignInView> {
        let a = self.sdk.start_password_reset(email).await?;
        Ok(self.started(a))
    }

    /// Sets the new password after a verified reset code; signs in.
    pub async fn reset_password(
        &self,
        sign_in_id: &str,
        password: &str,
        sign_out_of_other_sessions: bool,
    ) -> Result<SignInView> {
        let mut a = self.sign_in(sign_in_id)?;
        a.reset_password(password, sign_out_of_other_sessions)
            .await?;
        Ok(self.started(a))
    }

    /// Starts a sign-up; continue as its `next_step` says.
    pub async fn sign_up(&self, fields: SignUpFields) -> Result<SignUpView> {
        let a = self.sdk.sign_up(fields.into()).await?;
        Ok(self.started_sign_up(a))
    }

    /// Sends a verification code for a sign-up (`email_code` or `phone_code`).
    pub async fn prepare_sign_up_verification(
        &self,
        sign_up_id: &str,
        strategy: &str,
    ) -> Result<SignUpView> {
        let mut a = self.sign_up_attempt(sign_up_id)?;
        match strategy {
            "email_code" => a.prepare_email_code().await?,
            "phone_code" => a.prepare_phone_code().await?,
            other => return Err(sign_up_strategy(other)),
        };
        Ok(self.started_sign_up(a))
    }

    /// Verifies a sign-up's email address or phone number; the last one signs the user in.
    pub async fn attempt_sign_up_verification(
        &self,
        sign_up_id: &str,
        strategy: &str,
        code: &str,
    ) -> Result<SignUpView> {
        let mut a = self.sign_up_attempt(sign_up_id)?;
        match strategy {
            "email_code" => a.attempt_email_code(code).await?,
            "phone_code" => a.attempt_phone_code(code).await?,
            other => return Err(sign_up_strategy(other)),
        };
        Ok(self.started_sign_up(a))
    }

    /// The active sessions on this device.
    pub async fn sessions(&self) -> Result<Vec<SessionView>> {
        self.sdk.ready().await?;
        Ok(self.sdk.sessions().iter().map(SessionView::from).collect())
    }

    /// Makes another of this device's sessions the active one.
    pub async fn set_active_session(&self, session_id: &str) -> Result<()> {
        Ok(self.sdk.set_active_session(session_id).await?)
    }

    /// Signs the active session out (another one on this device becomes active, if any).
    pub async fn sign_out(&self) -> Result<()> {
        Ok(self.sdk.sign_out().await?)
    }

    /// Signs one of this device's sessions out (the others stay).
    pub async fn sign_out_session(&self, session_id: &str) -> Result<()> {
        Ok(self.sdk.sign_out_session(session_id).await?)
    }

    /// Signs every session on this device out and removes the client from the keychain.
    pub async fn sign_out_all(&self) -> Result<()> {
        Ok(self.sdk.sign_out_all().await?)
    }

    /// A session token of the active session, valid for at least the SDK's margin (10 s).
    pub async fn token(&self) -> Result<TokenView> {
        let t = self.sdk.session_token().await?;
        Ok(TokenView {
            jwt: t.expose().to_owned(),
            expires_at: t.expires_at(),
        })
    }

    /// A token from a named JWT template of the active session.
    pub async fn template_token(&self, template: &str) -> Result<TokenView> {
        let t = self
            .sdk
            .session_token_with(&TokenOptions::new().template(template))
            .await?;
        Ok(TokenView {
            jwt: t.expose().to_owned(),
            expires_at: t.expires_at(),
        })
    }
}

fn sign_up_strategy(other: &str) -> Error {
    Error::InvalidArgument(format!(
        "unknown sign-up verification strategy {other:?} (email_code, phone_code)"
    ))
}

/// Emits [`AUTH_STATE_EVENT`] to every webview on each auth-state transition, until the SDK is
/// dropped.
pub(crate) fn forward_auth_state<R: Runtime>(app: AppHandle<R>, sdk: &latchkey::Latchkey) {
    let mut rx = sdk.auth_state();
    tauri::async_runtime::spawn(async move {
        loop {
            let view = AuthStateView::from(&*rx.borrow_and_update());
            if let Err(e) = app.emit(AUTH_STATE_EVENT, view) {
                tracing::warn!(error = %e, "could not emit the auth state");
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
}
