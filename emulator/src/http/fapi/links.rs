//! Email links: `GET /v1/verify?token=…` (the link in the email) and
//! `POST /v1/client/magic_links/complete` (a native app redeeming its approval).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::ErrorCode;
use serde_json::{json, Value};

use super::{run, Native, Shape};
use crate::app::App;
use crate::domain::email_links::{self, Completed, LinkTarget};
use crate::domain::{clients, views, DomainError};
use crate::http::error::ApiError;
use crate::http::params::Params;

/// Where a link should send the browser, from a `prepare_…` request's parameters.
pub(super) fn target(p: &Params) -> LinkTarget {
    let given = |k: &str| p.string(k).filter(|v| !v.trim().is_empty());
    LinkTarget {
        redirect_url: given("redirect_url"),
        redirect_uri: given("redirect_uri"),
        code_challenge: given("code_challenge"),
        code_challenge_method: given("code_challenge_method"),
    }
}

/// `GET /v1/verify?token=…`: opens the link and redirects (303) to where the flow asked, with
/// its `__clerk_status`. A token that is no link of this instance is a 400: there is nowhere
/// to send the browser.
pub(super) async fn verify(
    State(app): State<Arc<App>>,
    req: Native,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let token = q
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|t| !t.is_empty())
        // 400, the one error status the spec documents here.
        .ok_or_else(|| {
            ApiError::bad_request(ErrorCode::FormParamNil, "token must be included.").param("token")
        })?;
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None, &req.request);
    let opened = app.write(|tx| {
        let opener = clients::find(tx, req.token.as_deref(), env.now)?.map(|c| c.record);
        email_links::open(tx, &env, opener.as_ref(), &token)
    })?;
    match opened {
        Some(o) => {
            tracing::debug!(status = o.status.as_str(), "email link opened");
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, o.location.to_string()),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
            )
                .into_response())
        }
        None => Err(ApiError::bad_request(
            ErrorCode::FormParamValueInvalid,
            "This link is not valid: it was not sent by this instance.",
        )
        .param("token")),
    }
}

/// `POST /v1/client/magic_links/complete` (`flow_id`, `approval_token`, `code_verifier`): a
/// sign-in answers `{ticket, flow_id}` to sign in with (`strategy=ticket`), a sign-up answers
/// the sign-up, verified.
pub(super) async fn complete(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let flow_id = p.required("flow_id")?;
    let approval = p.required("approval_token")?;
    let verifier = p.required("code_verifier")?;
    run(&app, &req, Shape::Envelope, |tx, env, _| {
        let view: Value =
            match email_links::complete_native(tx, env, &flow_id, &approval, &verifier)? {
                Completed::SignIn { ticket, flow_id } => {
                    json!({"ticket": ticket.expose(), "flow_id": flow_id})
                }
                Completed::SignUp(state) => serde_json::to_value(views::sign_up(env, &state))
                    .map_err(|e| DomainError::InvalidState(e.to_string()))?,
            };
        Ok(Ok(view))
    })
    .await
}
