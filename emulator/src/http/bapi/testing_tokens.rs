//! `POST /v1/testing_tokens`: a token that lets Frontend API requests skip rate limits.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::write;
use crate::app::App;
use crate::domain::attack;
use crate::http::error::ApiError;
use crate::http::Rq;

pub(super) async fn create(State(app): State<Arc<App>>, Rq(rq): Rq) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| {
        let (token, expires_at) = attack::create_testing_token(tx, env)?;
        // `expires_at` in Unix seconds, as the Backend API spec's example has it.
        Ok(Json(serde_json::json!({
            "object": "testing_token",
            "token": token.expose(),
            "expires_at": expires_at / 1000,
        }))
        .into_response())
    })
    .await
}
