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
