//! `/v1/clients…`: get a client, verify a client token.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_protocol::bapi::VerifyClient;

use super::read;
use crate::app::App;
use crate::domain::{clients, views, DomainError};
use crate::http::error::ApiError;
use crate::http::params::BapiJson;
use crate::secret::Secret;

pub(super) async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    read(&app, |tx, env| {
        let c = clients::get(tx, &id)?;
        Ok(Json(views::client_bapi(tx, env.now, &c)?).into_response())
    })
}

pub(super) async fn verify(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<VerifyClient>,
) -> Result<Response, ApiError> {
    let token: Secret = body
        .token
        .filter(|t| !t.expose().is_empty())
        .map(Secret::from)
        .ok_or_else(|| ApiError::param_missing("token"))?;
    read(&app, |tx, env| {
        let c = clients::by_token(tx, token.expose(), env.now)?
            .ok_or(DomainError::NotFound("client"))?;
        Ok(Json(views::client_bapi(tx, env.now, &c)?).into_response())
    })
}

/// `GET /v1/clients/handshake_payload?nonce=`: the cookies of the handshake that handed out
/// `nonce` (see `domain::handshake`), once: `{"directives": […]}`.
#[tracing::instrument(skip_all)]
pub(super) async fn handshake_payload(
    State(app): State<Arc<App>>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let p = super::query_params(&q)?;
    let nonce = p
        .secret("nonce")
        .filter(|n| !n.expose().is_empty())
        .ok_or_else(|| ApiError::param_missing("nonce"))?;
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let settings = app.settings();
    let unsigned = crate::domain::tokens::Unsigned::new();
    let env = app
        .env(
            &settings,
            app.clock.now_ms(),
            None,
            &crate::domain::RequestInfo::NONE,
        )
        .with_tokens(&unsigned);
    let directives = app.write(|tx| crate::domain::handshake::redeem(tx, &env, nonce.expose()))?;
    Ok(crate::http::signed_json(
        &app,
        unsigned,
        &serde_json::json!({ "directives": directives }),
    )?)
}
