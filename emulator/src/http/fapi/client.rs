//! `/v1/client`: the device's client, a new one, sign-out everywhere on it.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use super::{run, Native, Shape};
use crate::app::App;
use crate::domain::{clients, sessions, views};
use crate::http::error::ApiError;

pub(super) async fn get(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        Ok(Ok(views::client_fapi(tx, env, &c.record)?))
    })
    .await
}

/// `POST|PUT /v1/client`: a brand-new client, whatever token came along.
pub(super) async fn new(
    State(app): State<Arc<App>>,
    mut req: Native,
) -> Result<Response, ApiError> {
    req.token = None;
    get(State(app), req).await
}

/// `DELETE /v1/client`: ends every session and forgets the client; the SDK clears its token.
pub(super) async fn delete(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        Ok(Ok(clients::sign_out_and_forget(tx, env, c)?))
    })
    .await
}

/// `DELETE /v1/client/sessions`: ends every session on this client.
pub(super) async fn end_all_sessions(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        sessions::end_all_on_client(tx, env, c)?;
        Ok(Ok(views::client_fapi(tx, env, &c.record)?))
    })
    .await
}
