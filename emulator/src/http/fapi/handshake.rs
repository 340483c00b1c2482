//! `GET /v1/client/handshake` (browser mode; see `domain::handshake`): a 307 back to the app's
//! `redirect_url` carrying `__clerk_handshake=<JWT>` or `__clerk_handshake_nonce=<nonce>`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::app::App;
use crate::domain::handshake::{self, Form, Payload};
use crate::domain::{tokens, DomainError};
use crate::http::error::ApiError;
use crate::http::params::Params;
use crate::http::Rq;

#[instrument(skip_all)]
pub(super) async fn handshake(
    State(app): State<Arc<App>>,
    Rq(request): Rq,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(false, q.as_deref().unwrap_or("").as_bytes())?;
    let redirect_url = p
        .string("redirect_url")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::param_missing("redirect_url"))?;
    let form = match p.get("format") {
        None | Some("token") => Form::Token,
        Some("nonce") => Form::Nonce,
        Some(_) => {
            return Err(ApiError::param_invalid(
                "format",
                "format must be one of: nonce, token.",
            ))
        }
    };
    // Read for its errors only: the suffixed copies always go along (see `domain::handshake`).
    if !matches!(
        p.get("suffixed_cookies"),
        None | Some("true" | "false" | "")
    ) {
        return Err(ApiError::param_invalid(
            "suffixed_cookies",
            "suffixed_cookies must be true or false.",
        ));
    }
    let dev_browser = ["__clerk_db_jwt", "__dev_session"]
        .into_iter()
        .filter_map(|k| p.get(k))
        .map(str::trim)
        .find(|v| !v.is_empty());
    // The handshake builds no Frontend API URL itself; its context still names the proxy, as
    // every Frontend API request's does.
    let proxy = super::proxy_url(&headers);
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let settings = app.settings();
    let unsigned = tokens::Unsigned::new();
    let env = app
        .env(&settings, app.clock.now_ms(), None, &request)
        .with_proxy(proxy.as_deref())
        .with_tokens(&unsigned);
    let req = handshake::Request {
        dev_browser,
        redirect_url: &redirect_url,
        form,
    };
    let out = app.write(|tx| handshake::handshake(tx, &env, &req))?;
    let mut to = out.redirect;
    match out.payload {
        Payload::Directives(directives) => {
            let jwt = app.sign_handshake(unsigned, &directives)?;
            to.query_pairs_mut().append_pair("__clerk_handshake", &jwt);
        }
        Payload::Nonce(nonce) => {
            to.query_pairs_mut()
                .append_pair("__clerk_handshake_nonce", nonce.expose());
        }
    }
    let location = HeaderValue::from_str(to.as_str())
        .map_err(|_| DomainError::Internal("a redirect URL that is no header value".into()))?;
    Ok((
        StatusCode::TEMPORARY_REDIRECT,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}
