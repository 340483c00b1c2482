//! HTTP surfaces on one port: Frontend API, Backend API (by secret key), the control API.
//! Handlers parse, call the domain, shape the response; no SQL here.

pub mod bapi;
pub mod captcha;
pub mod control;
pub mod error;
pub mod fapi;
pub mod npm;
pub mod oauth;
pub mod params;
pub mod ui;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use latchkey_protocol::ErrorCode;

use crate::app::App;
use crate::domain::RequestInfo;
use error::ApiError;
use params::BODY_LIMIT;

/// `body` as a JSON response, with the session tokens whose stand-ins it carries signed and put
/// in place (see [`crate::domain::tokens::Unsigned`]). Called once the operation's transaction is
/// over, so no signature is made under the write lock.
fn signed_json(
    app: &App,
    unsigned: crate::domain::tokens::Unsigned,
    body: &impl serde::Serialize,
) -> Result<Response, crate::domain::DomainError> {
    let mut bytes = serde_json::to_vec(body)
        .map_err(|e| crate::domain::DomainError::Internal(e.to_string()))?;
    app.sign_tokens(unsigned, &mut bytes)?;
    Ok((
        [(
            CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response())
}

/// The whole emulator as one router (`_method` overrides are applied before routing by
/// [`method_override`], which wraps this router).
pub fn router(app: Arc<App>) -> Router {
    let bapi = bapi::router().route_layer(middleware::from_fn_with_state(
        app.clone(),
        require_secret_key,
    ));
    let control = control::router()
        .merge(ui::router())
        .merge(oauth::control_router())
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            require_control_access,
        ));
    Router::new()
        .merge(fapi::router())
        .merge(npm::router())
        .merge(captcha::router())
        // Outside the control API's checks: the page takes plain form posts from the browser
        // (its secret is the OAuth `state`), like a provider's own page would.
        .merge(oauth::mock_router())
        .merge(bapi)
        .merge(control)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(fapi::cors))
        .layer(middleware::from_fn(request_context))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ResourceNotFound,
        "not found",
        "No such endpoint.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "Method not allowed",
        "This endpoint does not support that method.",
    )
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    Some(value.strip_prefix("Bearer ").unwrap_or(value).trim())
}

async fn require_secret_key(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    match bearer(&req) {
        None | Some("") => ApiError::unauthorized(
            ErrorCode::AuthenticationInvalid,
            "The Backend API needs your secret key: send Authorization: Bearer sk_….",
        )
        .into_response(),
        Some(key) if app.secret_key.matches(key) => next.run(req).await,
        Some(_) => ApiError::unauthorized(
            ErrorCode::ClerkKeyInvalid,
            "The secret key provided is invalid.",
        )
        .into_response(),
    }
}

/// On a loopback bind the control API is open to the developer's own tools, never to web pages
/// on other sites; elsewhere it needs the secret key.
async fn require_control_access(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if app.loopback {
        // Open on loopback, but only to loopback names: a web page that rebinds its own DNS name
        // to 127.0.0.1 must not read the inbox (codes) or reset the instance.
        if !host_is_loopback(&req) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::HostInvalid,
                "Forbidden",
                "The control API and dashboard answer only requests addressed to a loopback host (127.0.0.1, localhost, [::1]).",
            )
            .into_response();
        }
        if let Err(e) = control_request_is_first_party(&app, &req) {
            return e.into_response();
        }
        return next.run(req).await;
    }
    require_secret_key(State(app), req, next).await
}

/// Refuses what a web page on another site can make a browser send (CSRF): requests marked
/// cross-site or same-site by `Sec-Fetch-Site`, requests whose `Origin` is not the emulator's
/// own, and state-changing requests that are not `application/json` (a content type no page can
/// send cross-origin without a CORS preflight, which the emulator never grants). A top-level
/// navigation (`GET` with `Sec-Fetch-Mode: navigate`) is let through from anywhere: that is how
/// a developer opens the inbox from a link, and it cannot read or change anything on its own.
fn control_request_is_first_party(app: &App, req: &Request) -> Result<(), ApiError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let navigation = req.method() == Method::GET && header("sec-fetch-mode") == Some("navigate");
    let refuse = |why: &str| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::CrossSiteRequestRefused,
            "Forbidden",
            format!(
                "The control API refuses requests that web pages on other sites can make: {why}."
            ),
        )
    };
    if !navigation {
        if let Some(site) = header("sec-fetch-site") {
            if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
                return Err(refuse(
                    "Sec-Fetch-Site says the request comes from another site",
                ));
            }
        }
        if let Some(origin) = req.headers().get(axum::http::header::ORIGIN) {
            let own = origin.to_str().is_ok_and(|o| app.is_own_origin(o));
            if !own {
                return Err(refuse("its Origin is not the emulator's own"));
            }
        }
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !params::is_json(req) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedContentType,
            "Unsupported content type",
            "Control API requests that change state must be sent with Content-Type: application/json.",
        ));
    }
    Ok(())
}

/// The request's facts (id, caller address, user agent) as handlers take them: passed on
/// explicitly into the domain, so the jobs and webhook deliveries a request causes carry its id.
pub struct Rq(pub RequestInfo);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Rq {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<RequestInfo>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

/// Gives every request an id (`x-request-id` when the caller sent a sane one), answers with it,
/// and attaches it and the caller's address and user agent to the request for [`Rq`].
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let (id, info) = request_info(&req);
    req.extensions_mut().insert(info);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut res = tracing::Instrument::instrument(next.run(req), span).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

fn request_info(req: &Request) -> (String, RequestInfo) {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let id = header("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| format!("req_{}", crate::domain::ids::random_base62(20)));
    let client_ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let info = RequestInfo {
        id: Some(id.clone()),
        client_ip,
        user_agent: header("user-agent"),
    };
    (id, info)
}

fn host_is_loopback(req: &Request) -> bool {
    let Some(host) = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return true; // HTTP/1.0 without Host: nothing for a browser page to abuse
    };
    latchkey_protocol::keys::is_loopback_host(latchkey_protocol::keys::host_without_port(host))
}

/// Honours `_method` in the query string or a form body of a POST (browser and Android
/// clients tunnel PATCH/DELETE/GET this way). Runs before routing.
///
/// Not under `/_emulator/`: the control API takes only real methods, so that a form or a
/// simple cross-site request cannot reach its PATCH and DELETE routes.
pub async fn method_override(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || req.uri().path().starts_with("/_emulator/") {
        return next.run(req).await;
    }
    let from_query = req.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "_method")
            .map(|(_, v)| v)
    });
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let (method, req) = match from_query {
        Some(m) => (Some(m), req),
        None if is_form => {
            let (parts, body) = req.into_parts();
            let bytes = match params::read_body(Request::new(body)).await {
                Ok(b) => b,
                Err(e) => return e.into_response(),
            };
            let m = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|pairs| {
                    pairs
                        .into_iter()
                        .find(|(k, _)| k == "_method")
                        .map(|(_, v)| v)
                });
            (m, Request::from_parts(parts, axum::body::Body::from(bytes)))
        }
        None => (None, req),
    };
    let mut req = req;
    if let Some(m) = method {
        match m.to_ascii_uppercase().as_str() {
            "GET" => *req.method_mut() = Method::GET,
            "PATCH" => *req.method_mut() = Method::PATCH,
            "PUT" => *req.method_mut() = Method::PUT,
            "DELETE" => *req.method_mut() = Method::DELETE,
            "POST" => {}
            _ => {
                return ApiError::bad_request(
                    ErrorCode::FormParamValueInvalid,
                    "_method must be GET, POST, PUT, PATCH or DELETE.",
                )
                .param("_method")
                .into_response()
            }
        }
    }
    next.run(req).await
}
