//! axum integration: the [`VerifiedSession`] extractor and the [`RequireSessionLayer`].
//!
//! The extractor finds the [`Verifier`] in the router state through `FromRef`:
//!
//! ```
//! use axum::{extract::FromRef, routing::get, Router};
//! use latchkey_backend::{axum::VerifiedSession, Verifier};
//!
//! #[derive(Clone)]
//! struct AppState { verifier: Verifier }
//! impl FromRef<AppState> for Verifier {
//!     fn from_ref(s: &AppState) -> Verifier { s.verifier.clone() }
//! }
//!
//! async fn whoami(session: VerifiedSession) -> String {
//!     session.sub.clone()
//! }
//!
//! fn app(verifier: Verifier) -> Router {
//!     Router::new().route("/whoami", get(whoami)).with_state(AppState { verifier })
//! }
//! ```
//!
//! The layer guards every route below it and puts the claims in the request extensions, where
//! handlers read them with `Extension<VerifiedSession>` (or with the extractor, which reuses them).

use std::convert::Infallible;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::{ClerkError, ErrorCode, ErrorEnvelope};
use serde_json::Value;
use tower::{Layer, Service};

use crate::claims::Claims;
use crate::verifier::{Verifier, VerifyError, token_from_headers};

/// The verified claims of the request's session token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedSession(pub Claims);

impl Deref for VerifiedSession {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

/// Why a request was not let through. Answers in the Clerk error envelope: 401 with code
/// `authentication_invalid` (and `meta.reason`, e.g. `token-expired`), or 503 when the signing
/// keys cannot be fetched — an outage is not the user's fault and must not sign them out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthRejection {
    /// Neither `Authorization: Bearer …` nor a `__session` cookie (401, `reason:
    /// token-missing`): the client must sign in, or send its session token.
    #[error("the request carries no session token")]
    MissingToken,
    /// The token did not verify (401 with [`VerifyError::reason`], or 503 when the keys could
    /// not be fetched).
    #[error("the session token was refused")]
    Invalid(#[from] VerifyError),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let (status, code, message, long, reason) = match &self {
            Self::MissingToken => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::AuthenticationInvalid,
                "Unauthenticated",
                "This request needs a session token: send Authorization: Bearer <token> or the __session cookie.".to_owned(),
                None,
            ),
            Self::Invalid(e @ VerifyError::KeyFetch(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "Service unavailable",
                "The keys that verify session tokens could not be loaded. Try again shortly.".to_owned(),
                Some(e.reason()),
            ),
            Self::Invalid(e) => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::AuthenticationInvalid,
                "Unauthenticated",
                long_message(e),
                Some(e.reason()),
            ),
        };
        if let Self::Invalid(e) = &self {
            tracing::debug!(error = %e, "session token refused");
        }
        let mut error = ClerkError::new(code, message, long);
        if let Some(reason) = reason {
            error
                .meta
                .insert("reason".to_owned(), Value::String(reason.to_owned()));
        }
        let envelope = ErrorEnvelope {
            errors: vec![error],
            clerk_trace_id: None,
        };
        let mut response = (status, Json(envelope)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self {
                Self::MissingToken => "Bearer",
                _ => "Bearer error=\"invalid_token\"",
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

fn long_message(e: &VerifyError) -> String {
    match e {
        VerifyError::Expired { .. } => "The session token has expired.",
        VerifyError::NotYetValid { .. } => "The session token is not valid yet.",
        VerifyError::BadSignature => "The session token's signature is invalid.",
        VerifyError::UnknownKey { .. } => "The session token was signed with an unknown key.",
        VerifyError::WrongIssuer { .. } => "The session token was issued by another instance.",
        VerifyError::UnauthorizedParty { .. } => {
            "The session token was issued to an origin that is not allowed."
        }
        VerifyError::UnsupportedAlgorithm(_) => "The session token uses an unsupported algorithm.",
        _ => "The session token is invalid.",
    }
    .to_owned()
}

async fn verify_parts(
    parts: &Parts,
    verifier: &Verifier,
) -> Result<Option<VerifiedSession>, AuthRejection> {
    if let Some(done) = parts.extensions.get::<VerifiedSession>() {
        return Ok(Some(done.clone()));
    }
    let Some(token) = token_from_headers(&parts.headers) else {
        return Ok(None);
    };
    Ok(Some(VerifiedSession(verifier.verify(token).await?)))
}

impl<S> FromRequestParts<S> for VerifiedSession
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        verify_parts(parts, &Verifier::from_ref(state))
            .await?
            .ok_or(AuthRejection::MissingToken)
    }
}

/// `Option<VerifiedSession>`: `None` when the request has no token; a token that is present but
/// invalid is still refused.
impl<S> OptionalFromRequestParts<S> for VerifiedSession
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, AuthRejection> {
        verify_parts(parts, &Verifier::from_ref(state)).await
    }
}

/// A tower layer that lets through only requests with a valid session token, inserting
/// [`VerifiedSession`] into their extensions; others get the [`AuthRejection`] response.
#[derive(Debug, Clone)]
pub struct RequireSessionLayer {
    verifier: Verifier,
}

impl RequireSessionLayer {
    /// A layer that checks tokens with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for RequireSessionLayer {
    type Service = RequireSession<S>;

    fn layer(&self, inner: S) -> RequireSession<S> {
        RequireSession {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service made by [`RequireSessionLayer`].
#[derive(Debug, Clone)]
pub struct RequireSession<S> {
    inner: S,
    verifier: Verifier,
}

impl<S, B> Service<Request<B>> for RequireSession<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone is not ready; swap so the one polled ready handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let Some(token) = token_from_headers(req.headers()).map(str::to_owned) else {
                return Ok(AuthRejection::MissingToken.into_response());
            };
            match verifier.verify(&token).await {
                Ok(claims) => {
                    req.extensions_mut().insert(VerifiedSession(claims));
                    inner.call(req).await
                }
                Err(e) => Ok(AuthRejection::Invalid(e).into_response()),
            }
        })
    }
}
