//! Backend API: `Authorization: Bearer sk_…`, JSON in and out (`Content-Type: application/json`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::params::{BapiJson, Params};
use crate::app::App;
use crate::domain::model::{SessionStatus, UserWithIdents};
use crate::domain::{events, passwords, sessions, tokens, users, views, DomainError, Env};
use crate::secret::Secret;
use crate::store::UserQuery;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/jwks", get(jwks))
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/count", get(count_users))
        .route(
            "/v1/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route(
            "/v1/users/{id}/metadata",
            axum::routing::patch(merge_metadata).put(replace_metadata),
        )
        .route("/v1/users/{id}/verify_password", post(verify_password))
        .route("/v1/users/{id}/ban", post(ban))
        .route("/v1/users/{id}/unban", post(unban))
        .route("/v1/users/{id}/lock", post(lock))
        .route("/v1/users/{id}/unlock", post(unlock))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{id}", get(get_session))
        .route("/v1/sessions/{id}/revoke", post(revoke_session))
        .route("/v1/sessions/{id}/tokens", post(session_token))
        .route(
            "/v1/sessions/{id}/tokens/{template}",
            post(session_token_template),
        )
        .route("/v1/clients/{id}", get(get_client))
        .route("/v1/clients/verify", post(verify_client))
        .route("/v1/webhooks/svix", post(svix_app).delete(delete_svix_app))
        .route("/v1/webhooks/svix_url", post(svix_app))
}

/// Clerk hands out a link to Svix's dashboard; the emulator's own deliveries page plays that
/// part.
async fn svix_app(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"svix_url": format!("{}/_emulator/webhooks", app.fapi_url)}))
}

async fn delete_svix_app() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

async fn jwks(State(app): State<Arc<App>>) -> Result<Json<latchkey_protocol::Jwks>, ApiError> {
    Ok(Json(
        app.signing_key.get().map_err(DomainError::from)?.jwks(),
    ))
}

/// Runs `f` in a write transaction with a fresh `Env`.
fn write<T>(
    app: &App,
    f: impl FnOnce(&crate::store::Tx<'_>, &Env<'_>) -> Result<T, DomainError>,
) -> Result<T, ApiError> {
    // Wait for a still-generating signing key outside the write lock (see `fapi::run`).
    app.signing_key.get().map_err(DomainError::from)?;
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None);
    Ok(app.write(|tx| f(tx, &env))?)
}

fn user_json(u: &UserWithIdents, env: &Env<'_>) -> Json<latchkey_protocol::User> {
    Json(views::user(u, env.settings, true))
}

fn query_params(q: &Option<String>) -> Result<Params, ApiError> {
    Params::parse(false, q.as_deref().unwrap_or("").as_bytes())
}

fn all(p: &Params, key: &str) -> Vec<String> {
    p.all(key)
}

fn user_query(p: &Params) -> Result<UserQuery, ApiError> {
    let order_by = match p.get("order_by").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => {
            let (desc, field) = match raw.strip_prefix('-') {
                Some(f) => (true, f),
                None => (false, raw.strip_prefix('+').unwrap_or(raw)),
            };
            let col = match field {
                "created_at" => "created_at",
                "updated_at" => "updated_at",
                "last_sign_in_at" => "last_sign_in_at",
                "last_active_at" => "last_active_at",
                "first_name" => "first_name",
                "last_name" => "last_name",
                "username" => "username",
                _ => {
                    return Err(ApiError::param_invalid(
                        "order_by",
                        "order_by must be one of created_at, updated_at, last_sign_in_at, last_active_at, first_name, last_name, username, optionally prefixed with + or -.",
                    ))
                }
            };
            Some((col, desc))
        }
    };
    Ok(UserQuery {
        email_address: all(p, "email_address"),
        phone_number: all(p, "phone_number"),
        username: all(p, "username"),
        user_id: all(p, "user_id"),
        external_id: all(p, "external_id"),
        query: p.string("query"),
        order_by,
        limit: p.int("limit", 10, 1, 500)?,
        offset: p.int("offset", 0, 0, i64::MAX)?,
    })
}

async fn list_users(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let query = user_query(&query_params(&q)?)?;
    write(&app, |tx, env| {
        let users: Vec<_> = tx
            .list_users(&query)?
            .iter()
            .map(|u| views::user(u, env.settings, true))
            .collect();
        Ok(Json(users).into_response())
    })
}

async fn count_users(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let query = user_query(&query_params(&q)?)?;
    write(&app, |tx, _| {
        Ok(Json(latchkey_protocol::TotalCount {
            object: "total_count".into(),
            total_count: tx.count_users(&query)?,
        })
        .into_response())
    })
}

/// A field that may be a single value or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
struct CreateUser {
    email_address: Option<OneOrMany>,
    phone_number: Option<OneOrMany>,
    username: Option<String>,
    password: Option<String>,
    password_digest: Option<String>,
    password_hasher: Option<String>,
    skip_password_checks: Option<bool>,
    skip_password_requirement: Option<bool>,
    first_name: Option<String>,
    last_name: Option<String>,
    external_id: Option<String>,
    public_metadata: Option<Map<String, Value>>,
    private_metadata: Option<Map<String, Value>>,
    unsafe_metadata: Option<Map<String, Value>>,
}

async fn create_user(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<CreateUser>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        let emails = body
            .email_address
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|e| users::normalize_email(e))
            .collect::<Result<Vec<_>, _>>()?;
        let phones = body
            .phone_number
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|p| users::normalize_phone(p))
            .collect::<Result<Vec<_>, _>>()?;
        let username = body
            .username
            .as_deref()
            .map(users::validate_username)
            .transpose()?;
        if emails.is_empty()
            && phones.is_empty()
            && username.is_none()
            && body.external_id.is_none()
        {
            return Err(DomainError::ParamMissing("email_address"));
        }
        let password_hash = match (&body.password, &body.password_digest) {
            (Some(_), Some(_)) => {
                return Err(DomainError::ParamValue {
                    param: "password_digest",
                    reason: "cannot be combined with password".into(),
                })
            }
            (Some(pw), None) => {
                if !body.skip_password_checks.unwrap_or(false) {
                    passwords::check_strength(pw, env.settings.password_min_length)?;
                }
                Some(env.hasher.hash(pw)?)
            }
            (None, Some(digest)) => {
                let hasher = body
                    .password_hasher
                    .as_deref()
                    .ok_or(DomainError::ParamMissing("password_hasher"))?;
                Some(passwords::import_digest(hasher, digest)?)
            }
            (None, None) => {
                if env.settings.password_required
                    && !body.skip_password_requirement.unwrap_or(false)
                {
                    return Err(DomainError::ParamMissing("password"));
                }
                None
            }
        };
        let created = users::create(
            tx,
            env,
            users::NewUser {
                emails,
                phones,
                email_strategy: "admin".into(),
                phone_strategy: "admin".into(),
                username,
                password_hash,
                first_name: body.first_name,
                last_name: body.last_name,
                external_id: body.external_id,
                public_metadata: body.public_metadata.unwrap_or_default(),
                private_metadata: body.private_metadata.unwrap_or_default(),
                unsafe_metadata: body.unsafe_metadata.unwrap_or_default(),
                created_at: None,
            },
        )?;
        Ok(user_json(&created, env).into_response())
    })
}

fn load_user(tx: &crate::store::Tx<'_>, id: &str) -> Result<UserWithIdents, DomainError> {
    tx.user_with_idents(id)?
        .ok_or(DomainError::NotFound("user"))
}

async fn get_user(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        Ok(user_json(&load_user(tx, &id)?, env).into_response())
    })
}

/// A nullable string field: absent → leave, `null` → clear, string → set.
#[derive(Default)]
struct Nullable(Option<Option<String>>);

impl<'de> Deserialize<'de> for Nullable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Nullable(Some(Option::<String>::deserialize(d)?)))
    }
}

#[derive(Deserialize)]
struct UpdateUser {
    #[serde(default)]
    first_name: Nullable,
    #[serde(default)]
    last_name: Nullable,
    #[serde(default)]
    username: Nullable,
    #[serde(default)]
    external_id: Nullable,
    password: Option<String>,
    skip_password_checks: Option<bool>,
    sign_out_of_other_sessions: Option<bool>,
    primary_email_address_id: Option<String>,
    primary_phone_number_id: Option<String>,
    public_metadata: Option<Map<String, Value>>,
    private_metadata: Option<Map<String, Value>>,
    unsafe_metadata: Option<Map<String, Value>>,
}

async fn update_user(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<UpdateUser>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        let mut u = load_user(tx, &id)?;
        let r = &mut u.user;
        if let Some(v) = body.first_name.0 {
            r.first_name = v;
        }
        if let Some(v) = body.last_name.0 {
            r.last_name = v;
        }
        if let Some(v) = body.external_id.0 {
            r.external_id = v;
        }
        if let Some(v) = body.username.0 {
            let next = v.as_deref().map(users::validate_username).transpose()?;
            if next.is_some() && next != r.username {
                users::ensure_username_free(tx, next.as_deref().unwrap_or_default())?;
            }
            r.username = next;
        }
        if let Some(pw) = &body.password {
            if !body.skip_password_checks.unwrap_or(false) {
                passwords::check_strength(pw, env.settings.password_min_length)?;
            }
            r.password_hash = Some(env.hasher.hash(pw)?);
            r.password_last_updated_at = Some(env.now);
        }
        if let Some(m) = body.public_metadata {
            r.public_metadata = m;
        }
        if let Some(m) = body.private_metadata {
            r.private_metadata = m;
        }
        if let Some(m) = body.unsafe_metadata {
            r.unsafe_metadata = m;
        }
        if let Some(pid) = body.primary_email_address_id {
            if !u.emails().any(|e| e.id == pid) {
                return Err(DomainError::NotFound("email_address"));
            }
            u.user.primary_email_address_id = Some(pid);
        }
        if let Some(pid) = body.primary_phone_number_id {
            if !u.phones().any(|e| e.id == pid) {
                return Err(DomainError::NotFound("phone_number"));
            }
            u.user.primary_phone_number_id = Some(pid);
        }
        u.user.updated_at = env.now;
        tx.save_user(&u.user)?;
        events::user(tx, env, "user.updated", &u)?;
        if body.password.is_some() && body.sign_out_of_other_sessions.unwrap_or(false) {
            sessions::end_all_of_user(tx, env, &u.user.id, SessionStatus::Revoked)?;
        }
        Ok(user_json(&u, env).into_response())
    })
}

async fn delete_user(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        users::delete(tx, env, &id)?;
        Ok(Json(latchkey_protocol::DeletedObject {
            object: "user".into(),
            id: Some(id.clone()),
            deleted: true,
        })
        .into_response())
    })
}

#[derive(Deserialize)]
struct MetadataPatch {
    public_metadata: Option<Map<String, Value>>,
    private_metadata: Option<Map<String, Value>>,
    unsafe_metadata: Option<Map<String, Value>>,
}

async fn merge_metadata(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<MetadataPatch>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        let mut u = load_user(tx, &id)?;
        if let Some(p) = &body.public_metadata {
            users::merge_metadata(&mut u.user.public_metadata, p);
        }
        if let Some(p) = &body.private_metadata {
            users::merge_metadata(&mut u.user.private_metadata, p);
        }
        if let Some(p) = &body.unsafe_metadata {
            users::merge_metadata(&mut u.user.unsafe_metadata, p);
        }
        u.user.updated_at = env.now;
        tx.save_user(&u.user)?;
        events::user(tx, env, "user.updated", &u)?;
        Ok(user_json(&u, env).into_response())
    })
}

/// `PUT …/metadata` (what `@clerk/backend` sends for metadata in `updateUser`): each field given
/// replaces that metadata whole (`null` or `{}` clears it); fields left out stay.
async fn replace_metadata(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<MetadataReplace>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        let mut u = load_user(tx, &id)?;
        if let Some(m) = body.public_metadata {
            u.user.public_metadata = m.unwrap_or_default();
        }
        if let Some(m) = body.private_metadata {
            u.user.private_metadata = m.unwrap_or_default();
        }
        if let Some(m) = body.unsafe_metadata {
            u.user.unsafe_metadata = m.unwrap_or_default();
        }
        u.user.updated_at = env.now;
        tx.save_user(&u.user)?;
        events::user(tx, env, "user.updated", &u)?;
        Ok(user_json(&u, env).into_response())
    })
}

/// Present-and-null apart from absent: `Some(None)` clears.
fn nullable_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Map<String, Value>>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize)]
struct MetadataReplace {
    #[serde(default, deserialize_with = "nullable_map")]
    public_metadata: Option<Option<Map<String, Value>>>,
    #[serde(default, deserialize_with = "nullable_map")]
    private_metadata: Option<Option<Map<String, Value>>>,
    #[serde(default, deserialize_with = "nullable_map")]
    unsafe_metadata: Option<Option<Map<String, Value>>>,
}

#[derive(Deserialize)]
struct PasswordBody {
    password: Option<String>,
}

async fn verify_password(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    let pw = body
        .password
        .ok_or_else(|| ApiError::param_missing("password"))?;
    write(&app, |tx, env| {
        let u = load_user(tx, &id)?;
        let ok = u
            .user
            .password_hash
            .as_ref()
            .is_some_and(|d| env.hasher.verify(&pw, d));
        if !ok {
            return Err(DomainError::PasswordIncorrect);
        }
        Ok(Json(serde_json::json!({"verified": true})).into_response())
    })
}

fn set_flag(
    app: &App,
    id: &str,
    f: impl FnOnce(&mut crate::domain::model::UserRecord) -> bool,
) -> Result<Response, ApiError> {
    write(app, |tx, env| {
        let mut u = load_user(tx, id)?;
        let end_sessions = f(&mut u.user);
        u.user.updated_at = env.now;
        tx.save_user(&u.user)?;
        events::user(tx, env, "user.updated", &u)?;
        if end_sessions {
            sessions::end_all_of_user(tx, env, id, SessionStatus::Revoked)?;
        }
        Ok(user_json(&u, env).into_response())
    })
}

async fn ban(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_flag(&app, &id, |u| {
        u.banned = true;
        true
    })
}

async fn unban(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_flag(&app, &id, |u| {
        u.banned = false;
        false
    })
}

async fn lock(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_flag(&app, &id, |u| {
        u.locked = true;
        true
    })
}

async fn unlock(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_flag(&app, &id, |u| {
        u.locked = false;
        false
    })
}

async fn list_sessions(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = query_params(&q)?;
    // `Some(None)`: Clerk's `replaced`, a status the emulator never gives a session, so nothing
    // matches it (it is a valid filter, not an invalid one).
    let status = match p.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some("replaced") => Some(None),
        Some(s) => Some(Some(SessionStatus::try_from(s).map_err(|_| {
            ApiError::param_invalid(
                "status",
                "status must be one of active, ended, removed, revoked, expired, abandoned, replaced.",
            )
        })?)),
    };
    let limit = p.int("limit", 10, 1, 500)?;
    let offset = p.int("offset", 0, 0, i64::MAX)?;
    let paginated = p.bool("paginated")?.unwrap_or(false);
    let client_id = p.string("client_id").filter(|s| !s.is_empty());
    let user_id = p.string("user_id").filter(|s| !s.is_empty());
    write(&app, |tx, env| {
        let all: Vec<_> = tx
            .list_sessions(&crate::store::SessionQuery {
                client_id: client_id.as_deref(),
                user_id: user_id.as_deref(),
            })?
            .into_iter()
            .filter(|s| status.is_none_or(|st| st == Some(s.status_at(env.now))))
            .collect();
        let total = all.len() as i64;
        let page: Vec<_> = all
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|s| views::session_bapi(s, env.now))
            .collect();
        Ok(if paginated {
            Json(latchkey_protocol::Paginated {
                data: page,
                total_count: total,
            })
            .into_response()
        } else {
            Json(page).into_response()
        })
    })
}

async fn get_session(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        let s = tx.session(&id)?.ok_or(DomainError::NotFound("session"))?;
        Ok(Json(views::session_bapi(&s, env.now)).into_response())
    })
}

async fn revoke_session(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        let mut s = tx.session(&id)?.ok_or(DomainError::NotFound("session"))?;
        sessions::finish(tx, env, &mut s, SessionStatus::Revoked)?;
        sessions::repoint_client(tx, env, &s)?;
        Ok(Json(views::session_bapi(&s, env.now)).into_response())
    })
}

fn mint(app: &App, id: &str, template: Option<&str>) -> Result<Response, ApiError> {
    write(app, |tx, env| {
        let mut s = tx.session(id)?.ok_or(DomainError::NotFound("session"))?;
        let jwt = tokens::mint_for_session(tx, env, &mut s, template)?;
        Ok(Json(latchkey_protocol::Token {
            object: "token".into(),
            jwt: jwt.expose().to_owned(),
        })
        .into_response())
    })
}

async fn session_token(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mint(&app, &id, None)
}

async fn session_token_template(
    State(app): State<Arc<App>>,
    Path((id, template)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    mint(&app, &id, Some(&template))
}

async fn get_client(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, |tx, env| {
        let c = tx.client(&id)?.ok_or(DomainError::NotFound("client"))?;
        Ok(Json(views::client_bapi(tx, env.now, &c)?).into_response())
    })
}

#[derive(Deserialize)]
struct VerifyClient {
    token: Option<String>,
}

async fn verify_client(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<VerifyClient>,
) -> Result<Response, ApiError> {
    let token = Secret::new(
        body.token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::param_missing("token"))?,
    );
    write(&app, |tx, env| {
        let c = tx
            .client_by_token(token.expose())?
            .ok_or(DomainError::NotFound("client"))?;
        Ok(Json(views::client_bapi(tx, env.now, &c)?).into_response())
    })
}
