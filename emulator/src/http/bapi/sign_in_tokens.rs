//! `/v1/sign_in_tokens…`: one-time tickets that sign a user in with `strategy=ticket`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_protocol::bapi::{CreateSignInToken, SignInToken};
use latchkey_protocol::secret::SignInTicket;
use serde_json::Value;

use super::identifications::object_body;
use super::write;
use crate::app::App;
use crate::domain::sign_in_tokens;
use crate::http::error::ApiError;
use crate::http::params::BapiJson;
use crate::http::Rq;
use crate::secret::Secret;
use crate::store::records::SignInTokenRecord;

fn view(r: SignInTokenRecord, ticket: Option<&Secret>) -> SignInToken {
    SignInToken {
        object: "sign_in_token".into(),
        id: r.id,
        status: r.status.as_str().into(),
        user_id: r.user_id,
        token: ticket.map(|t| SignInTicket::new(t.expose())),
        // Clerk's points at its hosted sign-in page; the emulator hosts none. [U]
        url: None,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

pub(super) async fn create(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    BapiJson(mut body): BapiJson<Value>,
) -> Result<Response, ApiError> {
    // A whole number beyond i64 (JSON has no bound) is a lifetime longer than any clock: the
    // longest one there is. One below zero stays out of range and is refused below.
    if let Some(n) = body.get_mut("expires_in_seconds") {
        let beyond_i64 = n.as_i64().is_none() && n.as_u64().is_some();
        let huge_whole = n.as_f64().is_some_and(|f| f.fract() == 0.0 && f >= 9.2e18);
        if beyond_i64 || huge_whole {
            *n = Value::from(i64::MAX);
        }
    }
    let body: CreateSignInToken = object_body(body)?;
    if body.org_id.is_some() {
        // Organizations are not in the emulator yet, so no organization id exists.
        return Err(ApiError::not_found("organization"));
    }
    let user_id = body
        .user_id
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::param_missing("user_id"))?;
    write(&app, &rq, |tx, env| {
        let (record, ticket) = sign_in_tokens::create(tx, env, &user_id, body.expires_in_seconds)?;
        Ok(Json(view(record, Some(&ticket))).into_response())
    })
    .await
}

pub(super) async fn revoke(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| {
        Ok(Json(view(sign_in_tokens::revoke(tx, env, &id)?, None)).into_response())
    })
    .await
}
