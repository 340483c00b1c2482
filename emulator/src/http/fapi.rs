//! Frontend API, native mode: the client token travels in `Authorization` and comes back
//! (rotated when sessions change) in the response's `Authorization` header.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{AUTHORIZATION, ORIGIN};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use crate::app::App;
use crate::domain::clients::{self, ClientCtx, TokenHeader};
use crate::domain::model::{SessionRecord, SessionStatus, UserWithIdents};
use crate::domain::sign_in::{self, SignInInput};
use crate::domain::sign_up::{self, SignUpInput};
use crate::domain::{
    environment, events, sessions, tokens, users, views, Committed, DomainError, Env,
};
use crate::store::Tx;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/environment", get(get_environment))
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/v1/client",
            get(get_client)
                .post(new_client)
                .put(new_client)
                .delete(delete_client),
        )
        .route(
            "/v1/client/sessions",
            axum::routing::delete(end_all_sessions),
        )
        .route("/v1/client/sign_ups", post(sign_up_create))
        .route(
            "/v1/client/sign_ups/{id}",
            get(sign_up_get).patch(sign_up_update),
        )
        .route(
            "/v1/client/sign_ups/{id}/prepare_verification",
            post(sign_up_prepare),
        )
        .route(
            "/v1/client/sign_ups/{id}/attempt_verification",
            post(sign_up_attempt),
        )
        .route("/v1/client/sign_ins", post(sign_in_create))
        .route("/v1/client/sign_ins/{id}", get(sign_in_get))
        .route(
            "/v1/client/sign_ins/{id}/prepare_first_factor",
            post(sign_in_prepare),
        )
        .route(
            "/v1/client/sign_ins/{id}/attempt_first_factor",
            post(sign_in_attempt),
        )
        .route(
            "/v1/client/sign_ins/{id}/reset_password",
            post(sign_in_reset_password),
        )
        .route("/v1/client/sessions/{id}", get(session_get))
        .route("/v1/client/sessions/{id}/tokens", post(session_token))
        .route(
            "/v1/client/sessions/{id}/tokens/{template}",
            post(session_token_template),
        )
        .route("/v1/client/sessions/{id}/touch", post(session_touch))
        .route("/v1/client/sessions/{id}/end", post(session_end))
        .route("/v1/client/sessions/{id}/remove", post(session_remove))
        .route("/v1/me", get(me_get).patch(me_update).delete(me_delete))
}

/// What a native request says about itself.
pub struct Native {
    token: Option<String>,
    origin: Option<String>,
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct NativeQuery {
    _clerk_session_id: Option<String>,
}

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
                "native_api_disabled_with_origin",
                "A request must not carry both an Origin header and a client token in Authorization: browser and native credentials do not mix.",
            ));
        }
        let q: Query<NativeQuery> = Query::try_from_uri(&parts.uri).map_err(|_| {
            ApiError::bad_request("malformed_request", "The query string could not be parsed.")
        })?;
        Ok(Self {
            token,
            origin,
            session_id: q.0._clerk_session_id.filter(|s| !s.is_empty()),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `{"response": …, "client": …}`
    Envelope,
    /// The object alone (tokens).
    Bare,
}

/// Runs one Frontend API operation in one transaction on the request's client (created when the
/// request has none), then shapes the response and its `Authorization` header.
fn run<T: Serialize>(
    app: &App,
    req: &Native,
    shape: Shape,
    op: impl FnOnce(&Tx<'_>, &Env<'_>, &mut ClientCtx) -> Committed<T>,
) -> Result<Response, ApiError> {
    // On a first start the signing key may still be generating: wait for it here, outside the
    // write lock (the key generator takes that lock to persist the key before publishing it).
    app.signing_key.get().map_err(DomainError::from)?;
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), req.origin.as_deref());
    let (result, header) = app.write(|tx| {
        let mut client = clients::find_or_create(tx, req.token.as_deref(), env.now)?;
        let out = match op(tx, &env, &mut client)? {
            Ok(v) => v,
            Err(e) => return Ok((Err(e), client.header)),
        };
        let body = match shape {
            Shape::Bare => serde_json::to_value(out),
            Shape::Envelope => {
                let client_view = match client.header {
                    TokenHeader::Clear => None,
                    _ => Some(views::client_fapi(tx, &env, &client.record)?),
                };
                serde_json::to_value(json!({"response": out, "client": client_view}))
            }
        }
        .map_err(|e| DomainError::Internal(e.to_string()))?;
        Ok((Ok(body), client.header))
    })?;
    let mut response = match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    };
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

async fn health() -> Json<Value> {
    Json(json!({"status": "healthy"}))
}

async fn get_environment(State(app): State<Arc<App>>) -> Json<Value> {
    Json(environment::environment(
        &app.settings(),
        &app.instance_id,
        &app.fapi_url,
    ))
}

async fn jwks(State(app): State<Arc<App>>) -> Result<Json<latchkey_protocol::Jwks>, ApiError> {
    Ok(Json(
        app.signing_key.get().map_err(DomainError::from)?.jwks(),
    ))
}

async fn get_client(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        Ok(Ok(views::client_fapi(tx, env, &c.record)?))
    })
}

/// `POST|PUT /v1/client`: a brand-new client, whatever token came along.
async fn new_client(State(app): State<Arc<App>>, mut req: Native) -> Result<Response, ApiError> {
    req.token = None;
    get_client(State(app), req).await
}

/// `DELETE /v1/client`: ends every session and forgets the client; the SDK clears its token.
async fn delete_client(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        for mut s in sessions::active_of_client(tx, env.now, &c.record.id)? {
            sessions::finish(tx, env, &mut s, SessionStatus::Ended)?;
        }
        c.record.last_active_session_id = None;
        let view = views::client_fapi(tx, env, &c.record)?;
        tx.delete_client(&c.record.id)?;
        c.header = TokenHeader::Clear;
        Ok(Ok(view))
    })
}

async fn end_all_sessions(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        for mut s in sessions::active_of_client(tx, env.now, &c.record.id)? {
            sessions::finish(tx, env, &mut s, SessionStatus::Ended)?;
        }
        c.record.last_active_session_id = None;
        c.rotate(tx, env.now)?;
        Ok(Ok(views::client_fapi(tx, env, &c.record)?))
    })
}

fn sign_up_input(p: &Params) -> Result<SignUpInput, ApiError> {
    Ok(SignUpInput {
        email_address: p.string("email_address"),
        phone_number: p.string("phone_number"),
        username: p.string("username"),
        password: p.secret("password"),
        first_name: p.string("first_name"),
        last_name: p.string("last_name"),
        unsafe_metadata: p.json_object("unsafe_metadata")?,
        strategy: p.string("strategy").filter(|s| !s.is_empty()),
    })
}

async fn sign_up_create(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    // Nothing is ever transferable here (no OAuth), but `transfer` must still be a boolean.
    p.bool("transfer")?;
    let input = sign_up_input(&p)?;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let state = sign_up::create(tx, env, c, input)?;
        Ok(Ok(views::sign_up(env, &state)))
    })
}

async fn sign_up_get(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let state = sign_up::load(tx, c, &id)?;
        Ok(Ok(views::sign_up(env, &state)))
    })
}

async fn sign_up_update(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let input = sign_up_input(&p)?;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_up::load(tx, c, &id)?;
        sign_up::update(tx, env, c, &mut state, input)?;
        Ok(Ok(views::sign_up(env, &state)))
    })
}

async fn sign_up_prepare(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = p.required("strategy")?;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_up::load(tx, c, &id)?;
        sign_up::prepare(tx, env, &mut state, &strategy)?;
        Ok(Ok(views::sign_up(env, &state)))
    })
}

async fn sign_up_attempt(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = p.required("strategy")?;
    let code = p.required("code")?;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_up::load(tx, c, &id)?;
        if let Err(e) = sign_up::attempt(tx, env, c, &mut state, &strategy, &code)? {
            return Ok(Err(e));
        }
        Ok(Ok(views::sign_up(env, &state)))
    })
}

async fn sign_in_create(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    // As for sign-ups: nothing is transferable, but `transfer` must be a boolean.
    p.bool("transfer")?;
    let input = SignInInput {
        identifier: p.string("identifier"),
        password: p.secret("password"),
        strategy: p.string("strategy"),
    };
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let state = sign_in::create(tx, env, c, input)?;
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
}

async fn sign_in_get(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let state = sign_in::load(tx, c, &id)?;
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
}

async fn sign_in_prepare(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = p.required("strategy")?;
    let ident = p
        .string("email_address_id")
        .or_else(|| p.string("phone_number_id"));
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_in::load(tx, c, &id)?;
        sign_in::prepare_first_factor(tx, env, &mut state, &strategy, ident.as_deref())?;
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
}

async fn sign_in_attempt(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = p.required("strategy")?;
    let password = p.secret("password");
    let code = p.string("code");
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_in::load(tx, c, &id)?;
        if let Err(e) = sign_in::attempt_first_factor(
            tx,
            env,
            c,
            &mut state,
            &strategy,
            password,
            code.as_deref(),
        )? {
            return Ok(Err(e));
        }
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
}

async fn sign_in_reset_password(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let password = p
        .secret("password")
        .ok_or_else(|| ApiError::param_missing("password"))?;
    let others = p.bool("sign_out_of_other_sessions")?.unwrap_or(false);
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_in::load(tx, c, &id)?;
        sign_in::reset_password(tx, env, c, &mut state, &password, others)?;
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
}

fn session_view(tx: &Tx<'_>, env: &Env<'_>, s: &mut SessionRecord) -> Result<Value, DomainError> {
    let view = views::session_fapi(tx, env, s)?.ok_or(DomainError::NotFound("session"))?;
    serde_json::to_value(view).map_err(|e| DomainError::Internal(e.to_string()))
}

async fn session_get(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut s = sessions::of_client(tx, c, &id)?;
        Ok(Ok(session_view(tx, env, &mut s)?))
    })
}

fn mint_for(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    id: &str,
    template: Option<&str>,
) -> Result<latchkey_protocol::Token, DomainError> {
    let mut s = sessions::of_client(tx, c, id)?;
    let jwt = tokens::mint_for_session(tx, env, &mut s, template)?;
    Ok(latchkey_protocol::Token {
        object: "token".into(),
        jwt: jwt.expose().to_owned(),
    })
}

async fn session_token(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Bare, |tx, env, c| {
        Ok(Ok(mint_for(tx, env, c, &id, None)?))
    })
}

async fn session_token_template(
    State(app): State<Arc<App>>,
    req: Native,
    Path((id, template)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    run(&app, &req, Shape::Bare, |tx, env, c| {
        Ok(Ok(mint_for(tx, env, c, &id, Some(&template))?))
    })
}

async fn session_touch(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    // Without organizations every intent touches alike; one outside the spec's enum is refused.
    if let Some(intent) = p.get("intent").filter(|i| !i.is_empty()) {
        if !matches!(intent, "focus" | "select_session" | "select_org") {
            return Err(ApiError::param_invalid(
                "intent",
                "intent must be one of focus, select_session, select_org.",
            ));
        }
    }
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut s = sessions::of_client(tx, c, &id)?;
        sessions::touch(tx, env, c, &mut s)?;
        Ok(Ok(session_view(tx, env, &mut s)?))
    })
}

fn finish_session(
    app: &App,
    req: &Native,
    id: &str,
    status: SessionStatus,
) -> Result<Response, ApiError> {
    run(app, req, Shape::Envelope, |tx, env, c| {
        let mut s = sessions::of_client(tx, c, id)?;
        sessions::finish_on_client(tx, env, c, &mut s, status)?;
        Ok(Ok(session_view(tx, env, &mut s)?))
    })
}

async fn session_end(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    finish_session(&app, &req, &id, SessionStatus::Ended)
}

async fn session_remove(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    finish_session(&app, &req, &id, SessionStatus::Removed)
}

/// The signed-in user of `_clerk_session_id`, or of the client's active session.
fn current_user(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
) -> Result<(SessionRecord, UserWithIdents), DomainError> {
    let id = session_id
        .map(str::to_owned)
        .or_else(|| c.record.last_active_session_id.clone())
        .ok_or(DomainError::SignedOut)?;
    let s = match tx.session(&id)? {
        Some(s) if s.client_id == c.record.id => s,
        _ => return Err(DomainError::SignedOut),
    };
    if s.status_at(env.now) != SessionStatus::Active {
        return Err(DomainError::SignedOut);
    }
    let u = tx
        .user_with_idents(&s.user_id)?
        .ok_or(DomainError::SignedOut)?;
    Ok((s, u))
}

async fn me_get(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = current_user(tx, env, c, sid.as_deref())?;
        Ok(Ok(views::user(&u, env.settings, false)))
    })
}

async fn me_update(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    let unsafe_metadata = p.json_object("unsafe_metadata")?;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, mut u) = current_user(tx, env, c, sid.as_deref())?;
        if let Some(v) = p.get("first_name") {
            u.user.first_name = Some(v.to_owned()).filter(|v| !v.is_empty());
        }
        if let Some(v) = p.get("last_name") {
            u.user.last_name = Some(v.to_owned()).filter(|v| !v.is_empty());
        }
        if let Some(v) = p.get("username") {
            if !env.settings.username.enabled {
                return Err(DomainError::ParamValue {
                    param: "username",
                    reason: "is not enabled for this instance".into(),
                });
            }
            let name = users::validate_username(v)?;
            if u.user.username.as_deref() != Some(name.as_str()) {
                users::ensure_username_free(tx, &name)?;
                u.user.username = Some(name);
            }
        }
        if let Some(id) = p.get("primary_email_address_id") {
            if !u.emails().any(|e| e.id == id) {
                return Err(DomainError::NotFound("email_address"));
            }
            u.user.primary_email_address_id = Some(id.to_owned());
        }
        if let Some(m) = unsafe_metadata {
            u.user.unsafe_metadata = m;
        }
        u.user.updated_at = env.now;
        tx.save_user(&u.user)?;
        events::user(tx, env, "user.updated", &u)?;
        Ok(Ok(views::user(&u, env.settings, false)))
    })
}

async fn me_delete(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        if !env.settings.delete_self_enabled {
            return Err(DomainError::InvalidState(
                "deleting your own account is disabled".into(),
            ));
        }
        let (_, u) = current_user(tx, env, c, sid.as_deref())?;
        users::delete(tx, env, &u.user.id)?;
        c.record.last_active_session_id = sessions::active_of_client(tx, env.now, &c.record.id)?
            .into_iter()
            .max_by_key(|s| s.last_active_at)
            .map(|s| s.id);
        c.rotate(tx, env.now)?;
        Ok(Ok(latchkey_protocol::DeletedObject {
            object: "user".into(),
            id: Some(u.user.id.clone()),
            deleted: true,
        }))
    })
}
