//! `/v1/users…`: list, count, create, get, update, delete, metadata, password checks, ban and
//! lock.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_protocol::bapi::{
    CreateUser, MetadataReplace, MetadataUpdate, PasswordVerified, UpdateUser, VerifyPassword,
};

use super::{query_params, read, write, write_with_passwords};
use crate::app::App;
use crate::domain::accounts::{self, AdminNewUser, AdminUserUpdate, MetadataReplacement};
use crate::domain::{views, Env};
use crate::http::error::ApiError;
use crate::http::params::{BapiJson, Params};
use crate::http::Rq;
use crate::secret::Secret;
use crate::store::records::UserWithIdents;
use crate::store::{ReadTx, UserOrder, UserOrderField, UserQuery};

fn user_json(
    tx: &ReadTx<'_>,
    u: &UserWithIdents,
    env: &Env<'_>,
) -> Result<Json<latchkey_protocol::User>, crate::domain::DomainError> {
    Ok(Json(views::user(tx, env, u, true)?))
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
        let users = tx
            .list_users(&query)?
            .iter()
            .map(|u| views::user(tx, env, u, true))
            .collect::<Result<Vec<_>, _>>()?;
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

pub(super) async fn create(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    BapiJson(body): BapiJson<CreateUser>,
) -> Result<Response, ApiError> {
    let input = AdminNewUser {
        email_addresses: body.email_address,
        phone_numbers: body.phone_number,
        username: body.username,
        password: body.password.map(Secret::from),
        password_digest: body.password_digest.map(Secret::from),
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
    write_with_passwords(&app, &rq, input.password.as_ref(), |tx, env| {
        let created = accounts::create_by_admin(tx, env, &input)?;
        Ok(user_json(tx, &created, env)?.into_response())
    })
    .await
}

pub(super) async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    read(&app, |tx, env| {
        Ok(user_json(tx, &accounts::get(tx, &id)?, env)?.into_response())
    })
}

/// `GET /v1/users/{id}/oauth_access_tokens/{provider}`: a bare array (the spec's
/// `OAuthAccessToken`), or a page of `{data, total_count}` with `paginated=true`.
pub(super) async fn oauth_access_tokens(
    State(app): State<Arc<App>>,
    Path((id, provider)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = super::query_params(&q)?;
    let tokens = read(&app, |tx, env| {
        crate::domain::oauth::access_tokens(tx, env.settings, &id, &provider)
    })?;
    super::list_response(&p, tokens)
}

pub(super) async fn update(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<UpdateUser>,
) -> Result<Response, ApiError> {
    let change = AdminUserUpdate {
        first_name: body.first_name,
        last_name: body.last_name,
        username: body.username,
        external_id: body.external_id,
        password: body.password.map(Secret::from),
        skip_password_checks: body.skip_password_checks.unwrap_or(false),
        sign_out_of_other_sessions: body.sign_out_of_other_sessions.unwrap_or(false),
        primary_email_address_id: body.primary_email_address_id,
        primary_phone_number_id: body.primary_phone_number_id,
        public_metadata: body.public_metadata,
        private_metadata: body.private_metadata,
        unsafe_metadata: body.unsafe_metadata,
    };
    write_with_passwords(&app, &rq, change.password.as_ref(), |tx, env| {
        let u = accounts::update_by_admin(tx, env, &id, &change)?;
        Ok(user_json(tx, &u, env)?.into_response())
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

pub(super) async fn merge_metadata(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<MetadataUpdate>,
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
        Ok(user_json(tx, &u, env)?.into_response())
    })
    .await
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
        Ok(user_json(tx, &u, env)?.into_response())
    })
    .await
}

pub(super) async fn verify_password(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<VerifyPassword>,
) -> Result<Response, ApiError> {
    let pw: Secret = body
        .password
        .ok_or_else(|| ApiError::param_missing("password"))?
        .into();
    write_with_passwords(&app, &rq, None, |tx, env| {
        accounts::check_password(tx, env, &id, &pw)?;
        Ok(Json(PasswordVerified { verified: true }).into_response())
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
        Ok(user_json(tx, &u, env)?.into_response())
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

/// `POST /v1/users/{id}/profile_image`: multipart `file` (or a raw body), as on `/v1/me`.
pub(super) async fn set_profile_image(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (name, data) = crate::http::fapi::me::read_image(request).await?;
    write(&app, &rq, |tx, env| {
        let mut u = accounts::get(tx, &id)?;
        crate::domain::profile_images::set(tx, env, &mut u, name.as_deref(), data)?;
        Ok(user_json(tx, &u, env)?.into_response())
    })
    .await
}

/// `DELETE /v1/users/{id}/profile_image`: the user, back to the default image.
pub(super) async fn delete_profile_image(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| {
        let mut u = accounts::get(tx, &id)?;
        crate::domain::profile_images::delete(tx, env, &mut u)?;
        Ok(user_json(tx, &u, env)?.into_response())
    })
    .await
}
