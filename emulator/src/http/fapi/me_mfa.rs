//! `/v1/me/totp`, `/v1/me/backup_codes` and `PATCH /v1/me/phone_numbers/{id}`: the signed-in
//! user's second factors.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::{run, Native, Shape};
use crate::app::App;
use crate::domain::{mfa, views};
use crate::http::error::ApiError;
use crate::http::params::Params;

pub(super) async fn create_totp(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let t = mfa::create_totp_for_self(tx, env, c, sid.as_deref())?;
        Ok(Ok(views::totp(&t)))
    })
    .await
}

pub(super) async fn verify_totp(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let code = p
        .string("code")
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::param_missing("code"))?;
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        Ok(mfa::verify_totp_for_self(tx, env, c, sid.as_deref(), &code)?.map(|t| views::totp(&t)))
    })
    .await
}

pub(super) async fn delete_totp(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let id = mfa::delete_totp_for_self(tx, env, c, sid.as_deref())?;
        Ok(Ok(latchkey_protocol::DeletedObject {
            object: "totp".into(),
            id: Some(id),
            deleted: true,
        }))
    })
    .await
}

pub(super) async fn create_backup_codes(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (set, codes) = mfa::create_backup_codes_for_self(tx, env, c, sid.as_deref())?;
        Ok(Ok(views::backup_codes(&set, &codes)))
    })
    .await
}

pub(super) async fn update_phone(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let reserved = p.bool("reserved_for_second_factor")?;
    let default = p.bool("default_second_factor")?;
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (u, phone) =
            mfa::update_phone_for_self(tx, env, c, sid.as_deref(), &id, reserved, default)?;
        Ok(Ok(views::phone_of(&u, &phone, env.now)))
    })
    .await
}
