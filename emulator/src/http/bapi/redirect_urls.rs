//! `/v1/redirect_urls…`: the instance's allowlist of redirect URLs (custom-scheme callbacks of
//! native apps must be on it; see `domain/redirects.rs`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_protocol::bapi::{CreateRedirectUrl, RedirectUrl};
use latchkey_protocol::DeletedObject;
use serde_json::Value;

use super::identifications::object_body;
use super::{query_params, read, write};
use crate::app::App;
use crate::domain::redirects;
use crate::http::error::ApiError;
use crate::http::params::BapiJson;
use crate::http::Rq;
use crate::store::records::RedirectUrlRecord;

fn view(r: RedirectUrlRecord) -> RedirectUrl {
    RedirectUrl {
        object: "redirect_url".into(),
        id: r.id,
        url: r.url,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// `GET /v1/redirect_urls`: the bare array the spec shows, or `{data, total_count}` with
/// `paginated=true` (with `limit` and `offset`), as Clerk's paginated lists are.
pub(super) async fn list(
    State(app): State<Arc<App>>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let p = query_params(&q)?;
    let all: Vec<RedirectUrl> = read(&app, |tx, _| {
        Ok(redirects::list(tx)?.into_iter().map(view).collect())
    })?;
    super::list_response(&p, all)
}

pub(super) async fn create(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    BapiJson(body): BapiJson<Value>,
) -> Result<Response, ApiError> {
    let body: CreateRedirectUrl = object_body(body)?;
    let url = body
        .url
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::param_missing("url"))?;
    write(&app, &rq, |tx, env| {
        Ok(Json(view(redirects::create(tx, env, &url)?)).into_response())
    })
    .await
}

pub(super) async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    read(&app, |tx, _| {
        Ok(Json(view(redirects::get(tx, &id)?)).into_response())
    })
}

pub(super) async fn delete(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, _| {
        redirects::delete(tx, &id)?;
        Ok(Json(DeletedObject {
            object: "redirect_url".into(),
            id: Some(id.clone()),
            deleted: true,
        })
        .into_response())
    })
    .await
}
