//! An axum API that trusts Latchkey: `GET /me` answers with the signed-in user (fetched from the
//! Backend API), `POST /webhooks` verifies and records webhook deliveries.
//!
//! [`app`] builds the router from an [`AppState`]; `main.rs` reads the configuration from the
//! environment and serves it.

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use latchkey_backend::axum::VerifiedSession;
use latchkey_backend::webhooks::Delivery;
use latchkey_backend::{
    ApiError, BackendClient, JwksSource, Verifier, WebhookError, WebhookVerifier,
};
use latchkey_protocol::{ClerkError, ErrorCode, ErrorEnvelope, User};

/// Where the API finds Latchkey.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Backend API, e.g. the emulator's `http://127.0.0.1:4100`.
    pub api_url: String,
    pub secret_key: latchkey_backend::SecretKey,
    pub webhook_secret: latchkey_backend::WebhookSecret,
    /// When set, tokens must have been issued by this Frontend API URL.
    pub issuer: Option<String>,
    /// Browser origins allowed to call the API (checked against `azp`); empty allows any.
    pub authorized_parties: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("session-token verifier: {0}")]
    Verifier(#[from] latchkey_backend::BuildError),
    #[error("Backend API client: {0}")]
    Backend(#[from] ApiError),
    #[error("webhook verifier: {0}")]
    Webhooks(#[from] WebhookError),
}

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub verifier: Verifier,
    pub backend: BackendClient,
    pub webhooks: WebhookVerifier,
    pub events: EventLog,
}

impl AppState {
    pub fn new(config: &Config) -> Result<Self, SetupError> {
        let mut verifier = Verifier::builder()
            .jwks(JwksSource::Backend {
                api_url: config.api_url.clone(),
                secret_key: config.secret_key.clone(),
            })
            .authorized_parties(config.authorized_parties.clone());
        if let Some(issuer) = &config.issuer {
            verifier = verifier.issuer(issuer.clone());
        }
        Ok(Self {
            verifier: verifier.build()?,
            backend: BackendClient::new(config.api_url.clone(), config.secret_key.clone())?,
            webhooks: WebhookVerifier::new(config.webhook_secret.clone())?,
            events: EventLog::default(),
        })
    }
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Verifier {
        state.verifier.clone()
    }
}

/// The webhook deliveries received so far, each once (deliveries are at-least-once; a repeat
/// has the same id).
#[derive(Debug, Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<Delivery>>>);

impl EventLog {
    /// Records a delivery; `false` when its id was already recorded.
    pub fn record(&self, delivery: Delivery) -> bool {
        let mut events = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if events.iter().any(|d| d.id == delivery.id) {
            return false;
        }
        events.push(delivery);
        true
    }

    pub fn all(&self) -> Vec<Delivery> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/webhooks", post(webhooks))
        .with_state(state)
}

/// Lets pages from `origins` (e.g. a Tauri webview's `tauri://localhost`) call the API with a
/// bearer token: answers their CORS preflight and marks the answers readable. Other origins get
/// no CORS headers, so browsers keep refusing them. No cookies are involved, so none are allowed.
pub fn allow_origins(router: Router, origins: Vec<String>) -> Router {
    if origins.is_empty() {
        return router;
    }
    let origins = Arc::new(origins);
    router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let origins = origins.clone();
            async move {
                let origin = req
                    .headers()
                    .get(axum::http::header::ORIGIN)
                    .and_then(|o| o.to_str().ok())
                    .filter(|o| origins.iter().any(|a| a == o))
                    .and_then(|o| axum::http::HeaderValue::from_str(o).ok());
                let Some(origin) = origin else {
                    return next.run(req).await;
                };
                let mut res = if req.method() == axum::http::Method::OPTIONS {
                    let mut r = StatusCode::NO_CONTENT.into_response();
                    let h = r.headers_mut();
                    h.insert(
                        axum::http::header::ACCESS_CONTROL_ALLOW_METHODS,
                        axum::http::HeaderValue::from_static("GET, POST"),
                    );
                    h.insert(
                        axum::http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                        axum::http::HeaderValue::from_static("authorization, content-type"),
                    );
                    h.insert(
                        axum::http::header::ACCESS_CONTROL_MAX_AGE,
                        axum::http::HeaderValue::from_static("600"),
                    );
                    r
                } else {
                    next.run(req).await
                };
                let h = res.headers_mut();
                h.insert(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                h.insert(
                    axum::http::header::VARY,
                    axum::http::HeaderValue::from_static("origin"),
                );
                res
            }
        },
    ))
}

/// The signed-in user, as the Backend API has it.
async fn me(
    State(state): State<AppState>,
    session: VerifiedSession,
) -> Result<Json<User>, AppError> {
    let mut user = state.backend.users().get(&session.sub).await?;
    // Private metadata is for the server's eyes only.
    user.private_metadata = None;
    Ok(Json(user))
}

async fn webhooks(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let delivery = state.webhooks.verify_delivery(&headers, &body)?;
    tracing::info!(id = %delivery.id, r#type = %delivery.event.event_type, "webhook received");
    if !state.events.record(delivery) {
        tracing::info!("duplicate delivery ignored");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Handler errors, answered in the Clerk error envelope.
#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error(transparent)]
    Backend(#[from] ApiError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, long) = match &self {
            Self::Backend(e) if e.is_not_found() => (
                StatusCode::NOT_FOUND,
                ErrorCode::ResourceNotFound.as_str(),
                "The signed-in user no longer exists.",
            ),
            // The example's own codes, not Clerk's: plain strings.
            Self::Backend(_) => (
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "Something went wrong talking to the auth service.",
            ),
            Self::Webhook(_) => (
                StatusCode::BAD_REQUEST,
                "webhook_invalid",
                "The webhook delivery could not be verified.",
            ),
        };
        tracing::warn!(error = %self, "request failed");
        let envelope = ErrorEnvelope {
            errors: vec![ClerkError::new(code, code, long)],
            clerk_trace_id: None,
        };
        (status, Json(envelope)).into_response()
    }
}
