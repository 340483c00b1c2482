//! `/v1/users…`: list, count, create, get, update, delete, metadata, password checks, ban and
//! lock.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{query_params, read, write, write_with_passwords};
use crate::app::App;
use crate::domain::accounts::{self, AdminNewUser, AdminUserUpdate, MetadataReplacement};
use crate::domain::{views, Env};
use crate::http::error::ApiError;
use crate::http::params::{BapiJson, Params};
use crate::http::Rq;
use crate::secret::Secret;
use crate::store::records::UserWithIdents;
use crate::store::{UserOrder, UserOrderField, UserQuery};

fn user_json(u: &UserWithIdents, env: &Env<'_>) -> Json<latchkey_protocol::User> {
    Json(views::user(u, env.settings, true))
}

fn user_query(p: &Params) -> Result<UserQuery, ApiError> {
    let order_by = match p.get("order_by").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => {
            let (descending, name) = match raw.strip_prefix('-') {
                Some(f) => (true, f),
                None => (false, raw.strip_prefix('+').unwrap_or(raw)),
            };
            let field = UserOrderField::ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    ApiError::param_invalid(
                        "order_by",
                        "order_by must be one of created_at, updated_at, last_sign_in_at, last_active_at, first_name, last_name, username, optionally prefixed with + or -.",
                    )
                })?;
            Some(UserOrder { field, descending })
        }
    };
    Ok(UserQuery {
        email_address: p.all("email_address"),
        phone_number: p.all("phone_number"),
        username: p.all("username"),
        user_id: p.all("user_id"),
        external_id: p.all("external_id"),
        query: p.string("query"),
        order_by,
        limit: p.int("limit", 10, 1, 500)?,
        offset: p.int("offset", 0, 0, i64::MAX)?,
    })
}

pub(super) async fn list(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let query = user_query(&query_params(&q)?)?;
    read(&app, |tx, env| {
        let users: Vec<_> = tx
            .list_users(&query)?
            .iter()
            .map(|u| views::user(u, env.settings, true))
            .collect();
        Ok(Json(users).into_response())
    })
}

pub(super) async fn count(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let query = user_query(&query_params(&q)?)?;
    read(&app, |tx, _| {
        Ok(Json(latchkey_protocol::TotalCount {
            object: "total_count".into(),
            total_count: tx.count_users(&query)?,
        })
        .into_response())
    })
}

/// A field that may be a single value or a list.
#[derive(Deserialize, Clone)]
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
pub(super) struct CreateUser {
    email_address: Option<OneOrMany>,
    phone_number: Option<OneOrMany>,
    username: Option<String>,
    password: Option<Secret>,
    password_digest: Option<Secret>,
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

pub(super) async fn create(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    BapiJson(body): BapiJson<CreateUser>,
) -> Result<Response, ApiError> {
    let input = AdminNewUser {
        email_addresses: body
            .email_address
            .map(OneOrMany::into_vec)
            .unwrap_or_default(),
        phone_numbers: body
            .phone_number
            .map(OneOrMany::into_vec)
            .unwrap_or_default(),
        username: body.username,
        password: body.password,
        password_digest: body.password_digest,
        password_hasher: body.password_hasher,
        skip_password_checks: body.skip_password_checks.unwrap_or(false),
        skip_password_requirement: body.skip_password_requirement.unwrap_or(false),
        first_name: body.first_name,
        last_name: body.last_name,
        external_id: body.external_id,
        public_metadata: body.public_metadata,
        private_metadata: body.private_metadata,
        unsafe_metadata: body.unsafe_metadata,
    };
    write_with_passwords(&app, &rq, |tx, env| {
        let created = accounts::create_by_admin(tx, env, &input)?;
        Ok(user_json(&created, env).into_response())
    })
    .await
}

pub(super) async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    read(&app, |tx, env| {
        Ok(user_json(&accounts::get(tx, &id)?, env).into_response())
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
pub(super) struct UpdateUser {
    #[serde(default)]
    first_name: Nullable,
    #[serde(default)]
    last_name: Nullable,
    #[serde(default)]
    username: Nullable,
    #[serde(default)]
    external_id: Nullable,
    password: Option<Secret>,
    skip_password_checks: Option<bool>,
    sign_out_of_other_sessions: Option<bool>,
    primary_email_address_id: Option<String>,
    primary_phone_number_id: Option<String>,
    public_metadata: Option<Map<String, Value>>,
    private_metadata: Option<Map<String, Value>>,
    unsafe_metadata: Option<Map<String, Value>>,
}

pub(super) async fn update(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<UpdateUser>,
) -> Result<Response, ApiError> {
    let change = AdminUserUpdate {
        first_name: body.first_name.0,
        last_name: body.last_name.0,
        username: body.username.0,
        external_id: body.external_id.0,
        password: body.password,
        skip_password_checks: body.skip_password_checks.unwrap_or(false),
        sign_out_of_other_sessions: body.sign_out_of_other_sessions.unwrap_or(false),
        primary_email_address_id: body.primary_email_address_id,
        primary_phone_number_id: body.primary_phone_number_id,
        public_metadata: body.public_metadata,
        private_metadata: body.private_metadata,
        unsafe_metadata: body.unsafe_metadata,
    };
    write_with_passwords(&app, &rq, |tx, env| {
        let u = accounts::update_by_admin(tx, env, &id, &change)?;
        Ok(user_json(&u, env).into_response())
    })
    .await
}

pub(super) async fn delete(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| {
        accounts::delete_by_admin(tx, env, &id)?;
        Ok(Json(latchkey_protocol::DeletedObject {
            object: "user".into(),
            id: Some(id.clone()),
            deleted: true,
        })
        .into_response())
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct MetadataPatch {
    public_metadata: Option<Map<String, Value>>,
    private_metadata: Option<Map<String, Value>>,
    unsafe_metadata: Option<Map<String, Value>>,
}

pub(super) async fn merge_metadata(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<MetadataPatch>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| {
        let u = accounts::merge_metadata(
            tx,
            env,
            &id,
            body.public_metadata.as_ref(),
            body.private_metadata.as_ref(),
            body.unsafe_metadata.as_ref(),
        )?;
        Ok(user_json(&u, env).into_response())
    })
    .await
}

/// Present-and-null apart from absent: `Some(None)` clears.
fn nullable_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Map<String, Value>>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize)]
pub(super) struct MetadataReplace {
    #[serde(default, deserialize_with = "nullable_map")]
    public_metadata: Option<Option<Map<String, Value>>>,
    #[serde(default, deserialize_with = "nullable_map")]
    private_metadata: Option<Option<Map<String, Value>>>,
    #[serde(default, deserialize_with = "nullable_map")]
    unsafe_metadata: Option<Option<Map<String, Value>>>,
}

/// `PUT …/metadata` (what `@clerk/backend` sends for metadata in `updateUser`): each field given
/// replaces that metadata whole (`null` or `{}` clears it); fields left out stay.
pub(super) async fn replace_metadata(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<MetadataReplace>,
) -> Result<Response, ApiError> {
    let with = MetadataReplacement {
        public: body.public_metadata,
        private: body.private_metadata,
        unsafe_: body.unsafe_metadata,
    };
    write(&app, &rq, |tx, env| {
        let u = accounts::replace_metadata(tx, env, &id, &with)?;
        Ok(user_json(&u, env).into_response())
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct PasswordBody {
    password: Option<Secret>,
}

pub(super) async fn verify_password(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    let pw = body
        .password
        .ok_or_else(|| ApiError::param_missing("password"))?;
    write_with_passwords(&app, &rq, |tx, env| {
        accounts::check_password(tx, env, &id, &pw)?;
        Ok(Json(serde_json::json!({"verified": true})).into_response())
    })
    .await
}

/// Which flag a ban/lock route sets, and to what.
enum Flag {
    Banned(bool),
    Locked(bool),
}

async fn set_flag(
    app: &App,
    rq: &crate::domain::RequestInfo,
    id: &str,
    flag: Flag,
) -> Result<Response, ApiError> {
    write(app, rq, |tx, env| {
        let u = match flag {
            Flag::Banned(on) => accounts::set_banned(tx, env, id, on)?,
            Flag::Locked(on) => accounts::set_locked(tx, env, id, on)?,
        };
        Ok(user_json(&u, env).into_response())
    })
    .await
}

pub(super) async fn ban(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_flag(&app, &rq, &id, Flag::Banned(true)).await
}

pub(super) async fn unban(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_flag(&app, &rq, &id, Flag::Banned(false)).await
}

pub(super) async fn lock(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_flag(&app, &rq, &id, Flag::Locked(true)).await
}

pub(super) async fn unlock(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_flag(&app, &rq, &id, Flag::Locked(false)).await
}
