//! Frontend API. One file per resource; each handler parses, calls the domain, shapes the
//! response. Two modes, told apart per request by [`Native`]:
//!
//! - **Native**: the client token travels in `Authorization` and comes back (rotated when
//!   sessions change) in the response's `Authorization` header.
//! - **Browser** (a development instance's, clerk-js): the client is named by its dev browser,
//!   `__clerk_db_jwt` in the query (or the legacy `__dev_session`, or a `Clerk-Db-Jwt` header),
//!   made by `POST /v1/dev_browser` and never rotated; a browser request (`Origin`, no
//!   `Authorization`, no `_is_native`) without a known one is refused with 401
//!   `dev_browser_unauthenticated`, on which clerk-js makes a new one. Responses name it in
//!   `Clerk-Db-Jwt`. Cross-origin calls get CORS with credentials for any origin ([`cors`]).

mod client;
mod handshake;
mod links;
pub(super) mod me;
mod me_mfa;
mod me_oauth;
mod reverify;
mod sessions;
mod sign_ins;
mod sign_ups;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{AUTHORIZATION, ORIGIN};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use latchkey_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use crate::app::App;
use crate::domain::clients::{self, ClientCtx, TokenHeader};
use crate::domain::passwords::PasswordResults;
use crate::domain::{attack, environment, oauth, tokens, views, Committed, DomainError, Env};
use crate::store::Tx;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/health", get(health))
        // Development loads "touch" it with `POST ?_method=PATCH` (clerk-wire-2 §5.2).
        .route(
            "/v1/environment",
            get(get_environment).patch(touch_environment),
        )
        .route("/v1/dev_browser", post(client::new_dev_browser))
        .route("/v1/client/verify", post(client::verify))
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/v1/client",
            get(client::get)
                .post(client::new)
                .put(client::new)
                .delete(client::delete),
        )
        .route("/v1/client/handshake", get(handshake::handshake))
        .route(
            "/v1/client/sessions",
            axum::routing::delete(client::end_all_sessions),
        )
        .route("/v1/client/sign_ups", post(sign_ups::create))
        .route(
            "/v1/client/sign_ups/{id}",
            get(sign_ups::get).patch(sign_ups::update),
        )
        .route(
            "/v1/client/sign_ups/{id}/prepare_verification",
            post(sign_ups::prepare),
        )
        .route(
            "/v1/client/sign_ups/{id}/attempt_verification",
            post(sign_ups::attempt),
        )
        .route("/v1/verify", get(links::verify))
        // The providers' callback (handled with the mock providers, `http/oauth.rs`).
        .route(
            "/v1/oauth_callback",
            get(super::oauth::callback).post(super::oauth::callback_post),
        )
        .route("/v1/client/magic_links/complete", post(links::complete))
        .route("/v1/client/sign_ins", post(sign_ins::create))
        .route("/v1/client/sign_ins/{id}", get(sign_ins::get))
        .route(
            "/v1/client/sign_ins/{id}/prepare_first_factor",
            post(sign_ins::prepare),
        )
        .route(
            "/v1/client/sign_ins/{id}/attempt_first_factor",
            post(sign_ins::attempt),
        )
        .route(
            "/v1/client/sign_ins/{id}/reset_password",
            post(sign_ins::reset_password),
        )
        .route("/v1/client/sessions/{id}", get(sessions::get))
        .route("/v1/client/sessions/{id}/tokens", post(sessions::token))
        .route(
            "/v1/client/sessions/{id}/tokens/{template}",
            post(sessions::token_template),
        )
        .route("/v1/client/sessions/{id}/touch", post(sessions::touch))
        .route("/v1/client/sessions/{id}/end", post(sessions::end))
        .route("/v1/client/sessions/{id}/remove", post(sessions::remove))
        .route("/v1/me", get(me::get).patch(me::update).delete(me::delete))
        .route(
            "/v1/client/sign_ins/{id}/prepare_second_factor",
            post(sign_ins::prepare_second),
        )
        .route(
            "/v1/client/sign_ins/{id}/attempt_second_factor",
            post(sign_ins::attempt_second),
        )
        .route(
            "/v1/me/totp",
            post(me_mfa::create_totp).delete(me_mfa::delete_totp),
        )
        .route(
            "/v1/me/totp/attempt_verification",
            post(me_mfa::verify_totp),
        )
        // clerk-js posts to the trailing-slash form.
        .route("/v1/me/backup_codes", post(me_mfa::create_backup_codes))
        .route("/v1/me/backup_codes/", post(me_mfa::create_backup_codes))
        .route(
            "/v1/me/email_addresses",
            get(me::list_emails).post(me::create_email),
        )
        .route(
            "/v1/me/email_addresses/{id}",
            get(me::get_email).delete(me::delete_email),
        )
        .route(
            "/v1/me/email_addresses/{id}/prepare_verification",
            post(me::prepare_email),
        )
        .route(
            "/v1/me/email_addresses/{id}/attempt_verification",
            post(me::attempt_email),
        )
        .route(
            "/v1/me/phone_numbers",
            get(me::list_phones).post(me::create_phone),
        )
        .route(
            "/v1/me/phone_numbers/{id}",
            get(me::get_phone)
                .delete(me::delete_phone)
                .patch(me_mfa::update_phone),
        )
        .route(
            "/v1/me/phone_numbers/{id}/prepare_verification",
            post(me::prepare_phone),
        )
        .route(
            "/v1/me/phone_numbers/{id}/attempt_verification",
            post(me::attempt_phone),
        )
        .route("/v1/me/external_accounts", post(me_oauth::create))
        .route(
            "/v1/me/external_accounts/{id}",
            axum::routing::delete(me_oauth::delete),
        )
        .route(
            "/v1/me/external_accounts/{id}/reauthorize",
            patch(me_oauth::reauthorize),
        )
        .route(
            "/v1/me/external_accounts/{id}/tokens",
            axum::routing::delete(me_oauth::revoke_tokens),
        )
        .route("/v1/me/metadata", patch(me::merge_metadata))
        .route("/v1/me/change_password", post(me::change_password))
        .route("/v1/me/remove_password", post(me::remove_password))
        .route(
            "/v1/me/profile_image",
            post(me::set_profile_image)
                .delete(me::delete_profile_image)
                .layer(DefaultBodyLimit::max(me::IMAGE_BODY_LIMIT)),
        )
        .route("/v1/images/{id}", get(me::serve_image))
        .route("/v1/me/sessions/active", get(me::active_sessions))
        .route("/v1/me/sessions/{id}/revoke", post(me::revoke_session))
        .route("/v1/client/sessions/{id}/verify", post(reverify::start))
        .route(
            "/v1/client/sessions/{id}/verify/prepare_first_factor",
            post(reverify::prepare_first),
        )
        .route(
            "/v1/client/sessions/{id}/verify/attempt_first_factor",
            post(reverify::attempt_first),
        )
        .route(
            "/v1/client/sessions/{id}/verify/prepare_second_factor",
            post(reverify::prepare_second),
        )
        .route(
            "/v1/client/sessions/{id}/verify/attempt_second_factor",
            post(reverify::attempt_second),
        )
}

/// What a Frontend API request says about itself (native or browser mode).
pub struct Native {
    pub(super) request: crate::domain::RequestInfo,
    /// The client token (native) or the dev browser (browser mode).
    pub(super) token: Option<String>,
    /// Browser mode: `token` is a dev browser, and none (or an unknown one) is refused.
    pub(super) browser: bool,
    pub(super) origin: Option<String>,
    pub(super) session_id: Option<String>,
    /// `__clerk_testing_token`, as `@clerk/testing` appends it to every Frontend API request.
    pub(super) testing_token: Option<crate::secret::Secret>,
    /// `rotating_token_nonce`: a native app back from an OAuth callback (read only by `GET`
    /// of a sign-in or sign-up).
    pub(super) rotating_token_nonce: Option<String>,
    /// `Clerk-Proxy-Url`: the request came through a Frontend API proxy there (see
    /// [`Env::with_proxy`], which checks it).
    pub(super) proxy_url: Option<String>,
    /// A change a challenged client is stopped at (see [`challengeable`]).
    pub(super) challengeable: bool,
}

/// Which requests bot protection may stop with `requires_captcha` (see
/// [`attack::check_challenge`]): ones that change something, except solving the challenge
/// itself, minting tokens for and touching a session already made, and signing out, which a
/// person can always do. `route` is the matched route's template (`None` off the router).
fn challengeable(method: &axum::http::Method, route: Option<&str>) -> bool {
    use axum::http::Method;
    const EXEMPT: &[&str] = &[
        "/v1/client/verify",
        "/v1/client/sessions",
        "/v1/client/sessions/{id}/end",
        "/v1/client/sessions/{id}/remove",
        "/v1/client/sessions/{id}/touch",
        "/v1/client/sessions/{id}/tokens",
        "/v1/client/sessions/{id}/tokens/{template}",
    ];
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let forgets_client = route == Some("/v1/client") && *method == Method::DELETE;
    !(reads || forgets_client || route.is_some_and(|r| EXEMPT.contains(&r)))
}

/// The `Clerk-Proxy-Url` header, as `clerkFrontendApiProxy` (`@clerk/backend`) sends it on
/// every request it forwards, e.g. `http://localhost:5173/__clerk`.
pub(crate) fn proxy_url(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("clerk-proxy-url")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[derive(Deserialize)]
struct NativeQuery {
    _clerk_session_id: Option<String>,
    __clerk_testing_token: Option<String>,
    rotating_token_nonce: Option<String>,
    _is_native: Option<String>,
    __clerk_db_jwt: Option<String>,
    __dev_session: Option<String>,
}

/// The dev browser's response header (and, for clients that cannot put it in the query, a
/// request header).
pub(super) const DEV_BROWSER_HEADER: &str = "clerk-db-jwt";

impl<S: Send + Sync> FromRequestParts<S> for Native {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // Raw from iOS/Android, `Bearer …` from Electron.
        let token = header(AUTHORIZATION).and_then(|v| {
            let t = v.strip_prefix("Bearer ").unwrap_or(&v).trim().to_owned();
            (!t.is_empty() && t != "Bearer").then_some(t)
        });
        let origin = header(ORIGIN);
        if token.is_some() && origin.is_some() {
            return Err(ApiError::bad_request(
                ErrorCode::NativeApiDisabledWithOrigin,
                "A request must not carry both an Origin header and a client token in Authorization: browser and native credentials do not mix.",
            ));
        }
        let q: Query<NativeQuery> = Query::try_from_uri(&parts.uri).map_err(|_| {
            ApiError::bad_request(
                ErrorCode::MalformedRequest,
                "The query string could not be parsed.",
            )
        })?;
        let q = q.0;
        let dev_browser = [
            q.__clerk_db_jwt,
            q.__dev_session,
            header(axum::http::HeaderName::from_static(DEV_BROWSER_HEADER)),
        ]
        .into_iter()
        .flatten()
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty());
        if dev_browser.is_some() && token.is_some() {
            return Err(ApiError::bad_request(
                ErrorCode::MalformedRequest,
                "A request must not carry both a dev browser (__clerk_db_jwt) and a client token in Authorization: browser and native credentials do not mix.",
            ));
        }
        // Choice: a request from a page (Origin) with neither credential is a browser's unless it
        // says it is native (`_is_native`, which every native Clerk SDK sends): Clerk's
        // development instances answer it `dev_browser_unauthenticated`.
        let browser = dev_browser.is_some()
            || (origin.is_some() && token.is_none() && q._is_native.is_none());
        // Choice (unconfirmed; the wire notes say nothing of it): a page's same-origin GET
        // (clerk-js behind an app's relative `proxyUrl`) carries no `Origin`, only a
        // `Referer`; for a browser's same-origin request (`Sec-Fetch-Site: same-origin`, or no
        // such header from an older client) its origin stands in, so the tokens such a
        // request mints (`GET /v1/client` refreshes `last_active_token`) name the page in
        // `azp` as the page's POSTs do. Against Clerk's own host every request is
        // cross-origin and carries `Origin`.
        let same_origin = header(axum::http::HeaderName::from_static("sec-fetch-site"))
            .is_none_or(|s| s.eq_ignore_ascii_case("same-origin"));
        let origin = origin.or_else(|| {
            (browser && same_origin)
                .then(|| header(axum::http::header::REFERER))
                .flatten()
                .and_then(|r| url::Url::parse(&r).ok())
                .map(|u| u.origin())
                .filter(|o| o.is_tuple())
                .map(|o| o.ascii_serialization())
        });
        Ok(Self {
            request: parts
                .extensions
                .get::<crate::domain::RequestInfo>()
                .cloned()
                .unwrap_or_default(),
            token: dev_browser.or(token),
            browser,
            origin,
            session_id: q._clerk_session_id.filter(|s| !s.is_empty()),
            testing_token: q
                .__clerk_testing_token
                .filter(|s| !s.is_empty())
                .map(crate::secret::Secret::new),
            rotating_token_nonce: q.rotating_token_nonce,
            proxy_url: proxy_url(&parts.headers),
            challengeable: challengeable(
                &parts.method,
                parts
                    .extensions
                    .get::<axum::extract::MatchedPath>()
                    .map(|m| m.as_str()),
            ),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// `{"response": …, "client": …}`
    Envelope,
    /// The object alone (tokens).
    Bare,
}

/// `{"response": …, "client": …}`: the shape of most Frontend API responses.
#[derive(Serialize)]
struct Envelope<T> {
    response: T,
    client: Option<latchkey_protocol::Client>,
}

/// Runs one Frontend API operation in one transaction on the request's client (created when the
/// request has none), then shapes the response and its `Authorization` header. Password work
/// runs outside the transaction, between runs of `op` (see [`App::write_with_passwords`]).
pub(super) async fn run<T: Serialize>(
    app: &App,
    req: &Native,
    shape: Shape,
    op: impl FnMut(&Tx<'_>, &Env<'_>, &mut ClientCtx) -> Committed<T>,
) -> Result<Response, ApiError> {
    run_from(app, req, shape, PasswordResults::default(), op).await
}

/// [`run`] with password checks made beforehand (see [`App::write_with_passwords`]).
pub(super) async fn run_from<T: Serialize>(
    app: &App,
    req: &Native,
    shape: Shape,
    passwords: PasswordResults,
    op: impl FnMut(&Tx<'_>, &Env<'_>, &mut ClientCtx) -> Committed<T>,
) -> Result<Response, ApiError> {
    run_inner(app, req, shape, passwords, None, None, op).await
}

/// [`run`] for an app redeeming an OAuth `rotating_token_nonce` on its attempt `attempt_id`:
/// the operation acts on the attempt's client (whatever token the request carries, if any, must
/// be that client's), whose token is rotated in the answer.
pub(super) async fn run_redeeming<T: Serialize>(
    app: &App,
    req: &Native,
    attempt_id: &str,
    nonce: &str,
    op: impl FnMut(&Tx<'_>, &Env<'_>, &mut ClientCtx) -> Committed<T>,
) -> Result<Response, ApiError> {
    run_inner(
        app,
        req,
        Shape::Envelope,
        PasswordResults::default(),
        None,
        Some((attempt_id, nonce)),
        op,
    )
    .await
}

/// [`run_from`] for a request the Frontend API rate limits (when they are on): it is counted
/// against its client and `subject`'s identifier in the operation's own transaction, or
/// refused with 429 before the operation runs, writing nothing. A request carrying a valid
/// testing token is not counted.
pub(super) async fn run_limited<T: Serialize>(
    app: &App,
    req: &Native,
    shape: Shape,
    passwords: PasswordResults,
    limit: (attack::RateBucket, attack::RateSubject),
    op: impl FnMut(&Tx<'_>, &Env<'_>, &mut ClientCtx) -> Committed<T>,
) -> Result<Response, ApiError> {
    run_inner(app, req, shape, passwords, Some(limit), None, op).await
}

async fn run_inner<T: Serialize>(
    app: &App,
    req: &Native,
    shape: Shape,
    passwords: PasswordResults,
    limit: Option<(attack::RateBucket, attack::RateSubject)>,
    redeem: Option<(&str, &str)>,
    mut op: impl FnMut(&Tx<'_>, &Env<'_>, &mut ClientCtx) -> Committed<T>,
) -> Result<Response, ApiError> {
    // On a first start the signing key may still be generating: wait for it here, outside the
    // write lock (the key generator takes that lock to persist the key before publishing it).
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let settings = app.settings();
    let base = app
        .env(
            &settings,
            app.clock.now_ms(),
            req.origin.as_deref(),
            &req.request,
        )
        .in_browser(req.browser)
        .with_proxy(req.proxy_url.as_deref());
    let unsigned = tokens::Unsigned::new();
    // The rate check this request counted in its transaction, when the operation then failed
    // with an error that rolled the count back too: counted again, alone, below.
    let mut uncounted: Option<attack::RateCheck> = None;
    let written = app
        .write_with_passwords(passwords, |tx, passwords| {
            unsigned.clear();
            uncounted = None;
            let env = &base.with_passwords(passwords).with_tokens(&unsigned);
            let mut client = match redeem {
                Some((attempt, nonce)) => {
                    let presented = clients::find(tx, req.token.as_deref(), env.now)?;
                    let presented = presented.map(|c| c.record);
                    oauth::redeem_nonce(tx, env, attempt, nonce, presented.as_ref())?
                }
                None if req.browser => {
                    clients::find_dev_browser(tx, req.token.as_deref(), env.now)?
                }
                None => clients::find_or_create(tx, req.token.as_deref(), env.now)?,
            };
            // A valid testing token skips rate limits (and, once there is any, bot
            // protection: this is the place) and sets the client's `captcha_bypass`.
            let testing = match &req.testing_token {
                Some(t) => attack::testing_token_valid(tx, env, t.expose())?,
                None => false,
            };
            let env = &env.with_testing(testing);
            attack::check_challenge(env, &client.record, req.challengeable)?;
            let check = match &limit {
                Some((bucket, subject)) if env.settings.rate_limits.enabled && !testing => {
                    let check = attack::rate_check(tx, env, &client, *bucket, subject)?;
                    attack::rate_limit(tx, env, &check)?;
                    Some(check)
                }
                _ => None,
            };
            let outcome = match op(tx, env, &mut client) {
                Ok(o) => o,
                Err(e) => {
                    if !matches!(e, DomainError::PasswordWork(_)) {
                        uncounted = check;
                    }
                    return Err(e);
                }
            };
            // A refused step still commits what it changed on the client (a new one, say).
            client.flush(tx)?;
            let out = match outcome {
                Ok(v) => v,
                Err(e) => return Ok((Err(e), client.header)),
            };
            let client_view = match (shape, &client.header) {
                (Shape::Bare, _) | (_, TokenHeader::Clear) => None,
                (Shape::Envelope, _) => {
                    let mut view = views::client_fapi(tx, env, &client.record)?;
                    // Choice: a request with a valid testing token is told its client may
                    // bypass CAPTCHA, as `@clerk/testing` rewrites it to anyway (clerk-wire-2 §6).
                    view.captcha_bypass = testing;
                    Some(view)
                }
            };
            Ok((Ok((out, client_view)), client.header))
        })
        .await;
    if let (Err(_), Some(check)) = (&written, &uncounted) {
        // Refusals count against the limit as much as successes do.
        if let Err(e) = app.write(|tx| attack::count_refused(tx, &base, check)) {
            tracing::warn!(error = %e, "could not count a refused request against its rate limit");
        }
    }
    let (result, header) = written?;
    // Committed: serialize, and sign what the response shows, with no lock held.
    let result = result.and_then(|(out, client)| match shape {
        Shape::Bare => super::signed_json(app, unsigned, &out),
        Shape::Envelope => super::signed_json(
            app,
            unsigned,
            &Envelope {
                response: out,
                client,
            },
        ),
    });
    let mut response = result.unwrap_or_else(|e| ApiError::from(e).into_response());
    if req.browser {
        // The dev browser is never rotated; a deleted client's is simply unknown from now on.
        if let (Some(t), false) = (&req.token, header == TokenHeader::Clear) {
            if let Ok(v) = HeaderValue::from_str(t) {
                response.headers_mut().insert(DEV_BROWSER_HEADER, v);
            }
        }
        return Ok(response);
    }
    let value = match &header {
        TokenHeader::Keep => req.token.clone().unwrap_or_default(),
        TokenHeader::Set(t) => t.expose().to_owned(),
        TokenHeader::Clear => String::new(),
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(AUTHORIZATION, v);
    }
    response.headers_mut().insert(
        "access-control-expose-headers",
        HeaderValue::from_static("Authorization"),
    );
    Ok(response)
}

/// Whether `path` is one of the Frontend API's (the Backend API shares `/v1/`, e.g.
/// `/v1/clients`, and is never opened to pages).
pub fn is_fapi_path(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "/v1/client",
        "/v1/me",
        "/v1/environment",
        "/v1/dev_browser",
        "/v1/verify",
        "/v1/oauth_callback",
        "/v1/health",
        "/.well-known/jwks.json",
    ];
    const UNDER: &[&str] = &["/v1/client/", "/v1/me/", "/v1/images/"];
    EXACT.contains(&path) || UNDER.iter().any(|p| path.starts_with(p))
}

/// CORS for the Frontend API, as a development instance answers it: any origin, with
/// credentials, so an app on any localhost port or preview domain can call it (clerk-js sends
/// `credentials: "include"`, so the `Origin` is echoed, never `*`). Preflights (`OPTIONS`,
/// which clerk-js avoids but other clients send) are answered here, before routing. The
/// headers clerk-js and native clients read are exposed. Wraps the whole router; acts only on
/// [`is_fapi_path`]s.
pub async fn cors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::{header, Method, StatusCode};
    let origin = match req.headers().get(ORIGIN) {
        Some(o) if is_fapi_path(req.uri().path()) => o.clone(),
        _ => return next.run(req).await,
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = if preflight {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
        );
        let asked = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        res
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "Authorization, Clerk-Db-Jwt, X-Country, Retry-After, X-Request-Id",
        ),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    res
}

async fn health() -> Json<Value> {
    Json(json!({"status": "healthy"}))
}

/// `GET /v1/environment`; behind a Frontend API proxy its URLs start with the proxy's.
async fn get_environment(
    State(app): State<Arc<App>>,
    headers: axum::http::HeaderMap,
) -> Json<Value> {
    let settings = app.settings();
    let proxy = proxy_url(&headers);
    let request = crate::domain::RequestInfo::NONE;
    let env = app
        .env(&settings, app.clock.now_ms(), None, &request)
        .with_proxy(proxy.as_deref());
    Json(environment::environment(
        &settings,
        &app.instance_id,
        env.fapi_url,
    ))
}

/// `PATCH /v1/environment` (clerk-js's `POST ?_method=PATCH`): a development page's load
/// "touches" the environment; the answer is the environment. The spec requires the page's
/// `Origin`, so a request without one is refused.
async fn touch_environment(
    State(app): State<Arc<App>>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, ApiError> {
    if !headers.contains_key(ORIGIN) {
        return Err(ApiError::bad_request(
            ErrorCode::MalformedRequest,
            "PATCH /v1/environment is a page's touch of the environment: it needs the page's Origin header (GET it otherwise).",
        ));
    }
    Ok(get_environment(State(app), headers).await)
}

async fn jwks(State(app): State<Arc<App>>) -> Result<Json<latchkey_protocol::Jwks>, ApiError> {
    Ok(Json(
        app.signing_key
            .wait()
            .await
            .map_err(DomainError::from)?
            .jwks(),
    ))
}
