//! The Svix endpoints of the Backend API.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use crate::app::App;

/// Clerk hands out a link to Svix's dashboard; the emulator's own deliveries page plays that
/// part.
pub(super) async fn svix_app(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"svix_url": format!("{}/_emulator/webhooks", app.fapi_url)}))
}

pub(super) async fn delete_svix_app() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}
