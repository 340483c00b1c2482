//! `/v1/client`: the device's client, a new one, sign-out everywhere on it.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{run, Native, Shape};
use crate::app::App;
use crate::domain::{attack, clients, sessions, views};
use crate::http::error::ApiError;
use crate::http::params::Params;

pub(super) async fn get(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        Ok(Ok(views::client_fapi(tx, env, &c.record)?))
    })
    .await
}

/// `POST|PUT /v1/client`: a brand-new client, whatever token came along. In browser mode the
/// dev browser names the client, so it is the dev browser's (make a new dev browser for a new
/// client).
pub(super) async fn new(
    State(app): State<Arc<App>>,
    mut req: Native,
) -> Result<Response, ApiError> {
    if !req.browser {
        req.token = None;
    }
    get(State(app), req).await
}

/// `POST /v1/dev_browser`: a dev browser (browser mode on a development instance), which names
/// a new client of its own. clerk-js reads `id`; other clients read `token`; both are it.
pub(super) async fn new_dev_browser(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let now = app.clock.now_ms();
    let token = app.write(|tx| clients::new_dev_browser(tx, now))?.token;
    let body = serde_json::json!({
        "object": "dev_browser",
        "id": token.expose(),
        "token": token.expose(),
    });
    let mut res = axum::Json(body).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(token.expose()) {
        res.headers_mut().insert(super::DEV_BROWSER_HEADER, v);
    }
    Ok(res)
}

/// `DELETE /v1/client`: ends every session and forgets the client; the SDK clears its token.
pub(super) async fn delete(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        Ok(Ok(clients::sign_out_and_forget(tx, env, c)?))
    })
    .await
}

/// `DELETE /v1/client/sessions`: ends every session on this client.
pub(super) async fn end_all_sessions(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        sessions::end_all_on_client(tx, env, c)?;
        Ok(Ok(views::client_fapi(tx, env, &c.record)?))
    })
    .await
}

/// `POST /v1/client/verify`: the client solved the challenge bot protection asked of it
/// (`requires_captcha`) and sends the widget's `captcha_token` (clerk-js adds
/// `captcha_widget_type` and `captcha_action=verify`, which change nothing); it may go on.
pub(super) async fn verify(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let token = p.secret("captcha_token");
    let widget_error = p.string("captcha_error");
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        attack::verify_client(
            tx,
            env,
            c,
            token.as_ref().map(|t| t.expose()),
            widget_error.as_deref(),
        )?;
        Ok(Ok(views::client_fapi(tx, env, &c.record)?))
    })
    .await
}
