//! `/v1/me`: the signed-in user reads, changes and deletes their own account.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use super::{run, Native, Shape};
use crate::app::App;
use crate::domain::accounts::{self, SelfUpdate};
use crate::domain::views;
use crate::http::error::ApiError;
use crate::http::params::Params;

pub(super) async fn get(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}

pub(super) async fn update(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    let change = SelfUpdate {
        first_name: p.string("first_name"),
        last_name: p.string("last_name"),
        username: p.string("username"),
        primary_email_address_id: p.string("primary_email_address_id"),
        unsafe_metadata: p.json_object("unsafe_metadata")?,
    };
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let u = accounts::update_self(tx, env, c, sid.as_deref(), &change)?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}

pub(super) async fn delete(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let id = accounts::delete_self(tx, env, c, sid.as_deref())?;
        Ok(Ok(latchkey_protocol::DeletedObject {
            object: "user".into(),
            id: Some(id),
            deleted: true,
        }))
    })
    .await
}
