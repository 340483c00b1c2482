//! `/v1/users/{id}/mfa`, `/totp`, `/backup_code` and `/verify_totp`: a user's second factors
//! for the Backend API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_protocol::bapi::{TotpVerified, UserIdObject, VerifyTotp};

use super::write;
use crate::app::App;
use crate::domain::mfa;
use crate::http::error::ApiError;
use crate::http::params::BapiJson;
use crate::http::Rq;

fn user_id_json(id: String) -> Response {
    Json(UserIdObject { user_id: id }).into_response()
}

pub(super) async fn disable_mfa(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| mfa::disable_all_by_admin(tx, env, &id)).await?;
    Ok(user_id_json(id))
}

pub(super) async fn delete_totp(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| mfa::delete_totp_by_admin(tx, env, &id)).await?;
    Ok(user_id_json(id))
}

pub(super) async fn delete_backup_codes(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| {
        mfa::delete_backup_codes_by_admin(tx, env, &id)
    })
    .await?;
    Ok(user_id_json(id))
}

pub(super) async fn verify_totp(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<VerifyTotp>,
) -> Result<Response, ApiError> {
    let code = body
        .code
        .filter(|c| !c.expose().trim().is_empty())
        .ok_or_else(|| ApiError::param_missing("code"))?;
    // A wrong code is committed (an attempt), then refused.
    let outcome = write(&app, &rq, |tx, env| {
        mfa::verify_code_by_admin(tx, env, &id, code.expose())
    })
    .await?;
    let code_type = outcome.map_err(ApiError::from)?;
    Ok(Json(TotpVerified {
        verified: true,
        code_type: code_type.as_str().to_owned(),
    })
    .into_response())
}
