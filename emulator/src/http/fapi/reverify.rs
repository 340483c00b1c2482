//! `/v1/client/sessions/{id}/verify…`: session reverification (start, prepare and attempt a
//! first or second factor). Each answers the `session_reverification` with its session.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use latchkey_protocol::{SessionVerificationLevel, Strategy};
use serde_json::Value;

use super::{run, run_from, Native, Shape};
use crate::app::App;
use crate::domain::{reverify, views, DomainError, Env};
use crate::http::error::ApiError;
use crate::http::params::Params;
use crate::store::records::{SessionRecord, SessionVerificationRecord};
use crate::store::Tx;

fn view(
    tx: &Tx<'_>,
    env: &Env<'_>,
    (v, s): &(SessionVerificationRecord, SessionRecord),
) -> Result<Value, DomainError> {
    let view =
        views::session_verification(tx, env, v, s)?.ok_or(DomainError::NotFound("session"))?;
    serde_json::to_value(view).map_err(|e| DomainError::Internal(e.to_string()))
}

pub(super) async fn start(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let level: SessionVerificationLevel = p.required_named("level")?;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let done = reverify::start(tx, env, c, &id, level)?;
        Ok(Ok(view(tx, env, &done)?))
    })
    .await
}

pub(super) async fn prepare_first(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy: Strategy = p.required_named("strategy")?;
    let ident = match strategy {
        Strategy::PhoneCode => p.string("phone_number_id"),
        _ => p.string("email_address_id"),
    }
    .filter(|i| !i.is_empty());
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let done = reverify::prepare_first_factor(tx, env, c, &id, strategy, ident.as_deref())?;
        Ok(Ok(view(tx, env, &done)?))
    })
    .await
}

pub(super) async fn attempt_first(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy: Strategy = p.required_named("strategy")?;
    let password = p.secret("password");
    let code = p.string("code");
    // A password attempt: check it before the write transaction.
    let checked = match (&password, strategy) {
        (Some(pw), Strategy::Password) => {
            app.check_password_ahead(pw, |tx| reverify::digest_for_attempt(tx, &id))
                .await?
        }
        _ => Default::default(),
    };
    run_from(&app, &req, Shape::Envelope, checked, |tx, env, c| {
        let done = match reverify::attempt_first_factor(
            tx,
            env,
            c,
            &id,
            strategy,
            password.as_ref(),
            code.as_deref(),
        )? {
            Ok(done) => done,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(view(tx, env, &done)?))
    })
    .await
}

pub(super) async fn prepare_second(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    // The spec makes `strategy` optional (its one value is `phone_code`).
    let strategy: Strategy = p.named("strategy")?.unwrap_or(Strategy::PhoneCode);
    let ident = p
        .string("phone_number_id")
        .or_else(|| p.string("email_address_id"))
        .filter(|i| !i.is_empty());
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let done = reverify::prepare_second_factor(tx, env, c, &id, strategy, ident.as_deref())?;
        Ok(Ok(view(tx, env, &done)?))
    })
    .await
}

pub(super) async fn attempt_second(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy: Strategy = p.required_named("strategy")?;
    let code = p.string("code");
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let done =
            match reverify::attempt_second_factor(tx, env, c, &id, strategy, code.as_deref())? {
                Ok(done) => done,
                Err(e) => return Ok(Err(e)),
            };
        Ok(Ok(view(tx, env, &done)?))
    })
    .await
}
