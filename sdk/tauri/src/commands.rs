//! The commands the webview invokes (`plugin:latchkey|<name>`): each one calls the app's
//! [`Latchkey`](crate::Latchkey) state. Arguments arrive camelCased (`signInId`, …).

use tauri::State;

use crate::desktop::Latchkey;
use crate::error::Result;
use crate::models::*;

#[tauri::command]
pub(crate) async fn get_auth_state(lk: State<'_, Latchkey>) -> Result<AuthStateView> {
    lk.auth_state().await
}

#[tauri::command]
pub(crate) async fn sign_in_with_password(
    lk: State<'_, Latchkey>,
    identifier: String,
    password: String,
) -> Result<SignInView> {
    lk.sign_in_with_password(&identifier, &password).await
}

#[tauri::command]
pub(crate) async fn sign_in_with_email_code(
    lk: State<'_, Latchkey>,
    email: String,
) -> Result<SignInView> {
    lk.sign_in_with_email_code(&email).await
}

#[tauri::command]
pub(crate) async fn sign_in_with_phone_code(
    lk: State<'_, Latchkey>,
    phone: String,
) -> Result<SignInView> {
    lk.sign_in_with_phone_code(&phone).await
}

#[tauri::command]
pub(crate) async fn attempt_sign_in_code(
    lk: State<'_, Latchkey>,
    sign_in_id: String,
    code: String,
) -> Result<SignInView> {
    lk.attempt_sign_in_code(&sign_in_id, &code).await
}

#[tauri::command]
pub(crate) async fn prepare_second_factor(
    lk: State<'_, Latchkey>,
    sign_in_id: String,
    strategy: String,
) -> Result<SignInView> {
    lk.prepare_second_factor(&sign_in_id, &strategy).await
}

#[tauri::command]
pub(crate) async fn attempt_second_factor(
    lk: State<'_, Latchkey>,
    sign_in_id: String,
    strategy: String,
    code: String,
) -> Result<SignInView> {
    lk.attempt_second_factor(&sign_in_id, &strategy, &code)
        .await
}

#[tauri::command]
pub(crate) async fn sign_in_with_email_link(
    lk: State<'_, Latchkey>,
    email: String,
    redirect_uri: String,
) -> Result<SignInView> {
    lk.sign_in_with_email_link(&email, &redirect_uri).await
}

#[tauri::command]
pub(crate) async fn complete_email_link(
    lk: State<'_, Latchkey>,
    sign_in_id: String,
    url: String,
) -> Result<SignInView> {
    lk.complete_email_link(&sign_in_id, &url).await
}

#[tauri::command]
pub(crate) async fn sign_in_with_email_link_elsewhere(
    lk: State<'_, Latchkey>,
    email: String,
    landing_url: String,
) -> Result<SignInView> {
    lk.sign_in_with_email_link_elsewhere(&email, &landing_url)
        .await
}

/// `timeoutMs` defaults to ten minutes.
#[tauri::command]
pub(crate) async fn wait_for_email_link(
    lk: State<'_, Latchkey>,
    sign_in_id: String,
    timeout_ms: Option<u64>,
) -> Result<SignInView> {
    let timeout = std::time::Duration::from_millis(timeout_ms.unwrap_or(600_000));
    lk.wait_for_email_link(&sign_in_id, timeout).await
}

#[tauri::command]
pub(crate) async fn sign_in_with_oauth(
    lk: State<'_, Latchkey>,
    provider: String,
) -> Result<OAuthView> {
    lk.sign_in_with_oauth(&provider).await
}

#[tauri::command]
pub(crate) async fn sign_up_with_oauth(
    lk: State<'_, Latchkey>,
    provider: String,
) -> Result<OAuthView> {
    lk.sign_up_with_oauth(&provider).await
}

#[tauri::command]
pub(crate) async fn start_oauth(
    lk: State<'_, Latchkey>,
    provider: String,
    redirect_url: String,
    sign_up: Option<bool>,
) -> Result<OAuthStartView> {
    lk.start_oauth(&provider, &redirect_url, sign_up.unwrap_or(false))
        .await
}

#[tauri::command]
pub(crate) async fn complete_oauth(
    lk: State<'_, Latchkey>,
    id: String,
    url: String,
) -> Result<OAuthView> {
    lk.complete_oauth(&id, &url).await
}

#[tauri::command]
pub(crate) async fn sign_in_with_id_token(
    lk: State<'_, Latchkey>,
    provider: String,
    token: String,
) -> Result<OAuthView> {
    lk.sign_in_with_id_token(&provider, &token).await
}

#[tauri::command]
pub(crate) async fn start_password_reset(
    lk: State<'_, Latchkey>,
    email: String,
) -> Result<SignInView> {
    lk.start_password_reset(&email).await
}

#[tauri::command]
pub(crate) async fn reset_password(
    lk: State<'_, Latchkey>,
    sign_in_id: String,
    password: String,
    sign_out_of_other_sessions: Option<bool>,
) -> Result<SignInView> {
    lk.reset_password(
        &sign_in_id,
        &password,
        sign_out_of_other_sessions.unwrap_or(false),
    )
    .await
}

#[tauri::command]
pub(crate) async fn sign_up(lk: State<'_, Latchkey>, fields: SignUpFields) -> Result<SignUpView> {
    lk.sign_up(fields).await
}

#[tauri::command]
pub(crate) async fn prepare_sign_up_verification(
    lk: State<'_, Latchkey>,
    sign_up_id: String,
    strategy: String,
) -> Result<SignUpView> {
    lk.prepare_sign_up_verification(&sign_up_id, &strategy)
        .await
}

#[tauri::command]
pub(crate) async fn attempt_sign_up_verification(
    lk: State<'_, Latchkey>,
    sign_up_id: String,
    strategy: String,
    code: String,
) -> Result<SignUpView> {
    lk.attempt_sign_up_verification(&sign_up_id, &strategy, &code)
        .await
}

#[tauri::command]
pub(crate) async fn list_sessions(lk: State<'_, Latchkey>) -> Result<Vec<SessionView>> {
    lk.sessions().await
}

#[tauri::command]
pub(crate) async fn set_active_session(lk: State<'_, Latchkey>, session_id: String) -> Result<()> {
    lk.set_active_session(&session_id).await
}

#[tauri::command]
pub(crate) async fn sign_out(lk: State<'_, Latchkey>) -> Result<()> {
    lk.sign_out().await
}

#[tauri::command]
pub(crate) async fn sign_out_session(lk: State<'_, Latchkey>, session_id: String) -> Result<()> {
    lk.sign_out_session(&session_id).await
}

#[tauri::command]
pub(crate) async fn sign_out_all(lk: State<'_, Latchkey>) -> Result<()> {
    lk.sign_out_all().await
}

#[tauri::command]
pub(crate) async fn get_token(lk: State<'_, Latchkey>) -> Result<TokenView> {
    lk.token().await
}

#[tauri::command]
pub(crate) async fn get_template_token(
    lk: State<'_, Latchkey>,
    template: String,
) -> Result<TokenView> {
    lk.template_token(&template).await
}
