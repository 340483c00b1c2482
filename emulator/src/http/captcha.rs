//! The emulator's Turnstile-compatible test CAPTCHA: the widget script
//! (`/captcha/turnstile/v0/api.js`, Turnstile's path, for a test to route Cloudflare's URL to,
//! since clerk-js loads it from there) and the token it asks for when a challenge is passed
//! (`POST /captcha/turnstile/token`, form `sitekey`). The Frontend API checks the tokens on
//! browser sign-ups while bot protection is on (`domain::attack::check_captcha`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::error::ApiError;
use super::params::Params;
use super::Rq;
use crate::app::App;
use crate::domain::attack;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/captcha/turnstile/v0/api.js", get(script))
        .route("/captcha/turnstile/token", post(token))
}

const WIDGET: &str = include_str!("captcha/turnstile.js");

/// Public, like Cloudflare's: any page may load it and ask for tokens (they only pass this
/// emulator's own check).
fn public(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn script(State(app): State<Arc<App>>) -> Response {
    let base = serde_json::to_string(&app.fapi_url).unwrap_or_else(|_| "\"\"".into());
    let body = WIDGET.replace("__LATCHKEY_BASE__", &base);
    public(
        (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

async fn token(State(app): State<Arc<App>>, Rq(rq): Rq, p: Params) -> Result<Response, ApiError> {
    let site_key = p
        .string("sitekey")
        .ok_or_else(|| ApiError::param_missing("sitekey"))?;
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None, &rq);
    let token = app.write(|tx| attack::issue_captcha_token(tx, &env, &site_key))?;
    Ok(public(
        Json(json!({ "token": token.expose() })).into_response(),
    ))
}
