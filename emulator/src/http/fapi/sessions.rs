//! `/v1/client/sessions/{id}…`: get, tokens, touch, end, remove.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::{run, Native, Shape};
use crate::app::App;
use crate::http::error::ApiError;
use serde_json::Value;

use crate::domain::{sessions, tokens, views, DomainError, Env};
use crate::http::params::Params;
use crate::store::records::{SessionRecord, SessionStatus};
use crate::store::Tx;

fn session_view(tx: &Tx<'_>, env: &Env<'_>, s: &SessionRecord) -> Result<Value, DomainError> {
    let view = views::session_fapi(tx, env, s)?.ok_or(DomainError::NotFound("session"))?;
    serde_json::to_value(view).map_err(|e| DomainError::Internal(e.to_string()))
}

pub(super) async fn get(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let s = sessions::of_client(tx, c, &id)?;
        Ok(Ok(session_view(tx, env, &s)?))
    })
    .await
}

pub(super) async fn touch(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    // Without organizations every intent touches alike; one outside the spec's enum is refused.
    if let Some(intent) = p.get("intent").filter(|i| !i.is_empty()) {
        if !matches!(intent, "focus" | "select_session" | "select_org") {
            return Err(ApiError::param_invalid(
                "intent",
                "intent must be one of focus, select_session, select_org.",
            ));
        }
    }
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut s = sessions::of_client(tx, c, &id)?;
        sessions::touch(tx, env, c, &mut s)?;
        Ok(Ok(session_view(tx, env, &s)?))
    })
    .await
}

pub(super) async fn end(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    finish_session(&app, &req, &id, SessionStatus::Ended).await
}

pub(super) async fn remove(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    finish_session(&app, &req, &id, SessionStatus::Removed).await
}

pub(super) async fn token(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Bare, |tx, env, c| {
        Ok(Ok(tokens::mint_on_client(tx, env, c, &id, None)?))
    })
    .await
}

pub(super) async fn token_template(
    State(app): State<Arc<App>>,
    req: Native,
    Path((id, template)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Bare, |tx, env, c| {
        Ok(Ok(tokens::mint_on_client(
            tx,
            env,
            c,
            &id,
            Some(&template),
        )?))
    })
    .await
}

async fn finish_session(
    app: &App,
    req: &Native,
    id: &str,
    status: SessionStatus,
) -> Result<Response, ApiError> {
    run(app, req, Shape::Envelope, |tx, env, c| {
        let mut s = sessions::of_client(tx, c, id)?;
        sessions::finish_on_client(tx, env, c, &mut s, status)?;
        Ok(Ok(session_view(tx, env, &s)?))
    })
    .await
}
