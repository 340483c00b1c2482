//! Backend API: `Authorization: Bearer sk_…`, JSON in and out (`Content-Type: application/json`).
//! One file per resource; each handler parses, calls one domain function, shapes the response.

mod clients;
mod identifications;
mod redirect_urls;
mod sessions;
mod sign_in_tokens;
mod testing_tokens;
mod user_mfa;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::params::Params;
use crate::app::App;
use crate::domain::{DomainError, Env, RequestInfo};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/jwks", get(jwks))
        .route("/v1/users", get(users::list).post(users::create))
        .route("/v1/users/count", get(users::count))
        .route(
            "/v1/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/v1/users/{id}/metadata",
            axum::routing::patch(users::merge_metadata).put(users::replace_metadata),
        )
        .route(
            "/v1/users/{id}/verify_password",
            post(users::verify_password),
        )
        .route(
            "/v1/users/{id}/oauth_access_tokens/{provider}",
            get(users::oauth_access_tokens),
        )
        .route("/v1/users/{id}/ban", post(users::ban))
        .route("/v1/users/{id}/unban", post(users::unban))
        .route("/v1/users/{id}/lock", post(users::lock))
        .route("/v1/users/{id}/unlock", post(users::unlock))
        .route(
            "/v1/users/{id}/mfa",
            axum::routing::delete(user_mfa::disable_mfa),
        )
        .route(
            "/v1/users/{id}/totp",
            axum::routing::delete(user_mfa::delete_totp),
        )
        .route(
            "/v1/users/{id}/backup_code",
            axum::routing::delete(user_mfa::delete_backup_codes),
        )
        .route("/v1/users/{id}/verify_totp", post(user_mfa::verify_totp))
        .route(
            "/v1/users/{id}/profile_image",
            post(users::set_profile_image)
                .delete(users::delete_profile_image)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::http::fapi::me::IMAGE_BODY_LIMIT,
                )),
        )
        .route("/v1/email_addresses", post(identifications::create_email))
        .route(
            "/v1/email_addresses/{id}",
            get(identifications::get_email)
                .patch(identifications::update_email)
                .delete(identifications::delete_email),
        )
        .route("/v1/phone_numbers", post(identifications::create_phone))
        .route(
            "/v1/phone_numbers/{id}",
            get(identifications::get_phone)
                .patch(identifications::update_phone)
                .delete(identifications::delete_phone),
        )
        .route("/v1/sessions", get(sessions::list))
        .route("/v1/sessions/{id}", get(sessions::get))
        .route("/v1/sessions/{id}/revoke", post(sessions::revoke))
        .route("/v1/sessions/{id}/tokens", post(sessions::token))
        .route(
            "/v1/sessions/{id}/tokens/{template}",
            post(sessions::token_template),
        )
        .route("/v1/clients/{id}", get(clients::get))
        .route("/v1/clients/verify", post(clients::verify))
        .route(
            "/v1/clients/handshake_payload",
            get(clients::handshake_payload),
        )
        .route(
            "/v1/webhooks/svix",
            post(webhooks::svix_app).delete(webhooks::delete_svix_app),
        )
        .route("/v1/webhooks/svix_url", post(webhooks::svix_app))
        .route("/v1/testing_tokens", post(testing_tokens::create))
        .route("/v1/sign_in_tokens", post(sign_in_tokens::create))
        .route(
            "/v1/sign_in_tokens/{id}/revoke",
            post(sign_in_tokens::revoke),
        )
        .route(
            "/v1/redirect_urls",
            get(redirect_urls::list).post(redirect_urls::create),
        )
        .route(
            "/v1/redirect_urls/{id}",
            get(redirect_urls::get).delete(redirect_urls::delete),
        )
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

/// Runs `f` in a write transaction with a fresh `Env`.
pub(super) async fn write<T>(
    app: &App,
    rq: &RequestInfo,
    f: impl FnOnce(&crate::store::Tx<'_>, &Env<'_>) -> Result<T, DomainError>,
) -> Result<T, ApiError> {
    // Wait for a still-generating signing key before the write lock (see `fapi::run`).
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None, rq);
    Ok(app.write(|tx| f(tx, &env))?)
}

/// Runs `f` like [`write`], with password hashing and verification done outside the
/// transaction (see [`App::write_with_passwords`]); a new password given in the request is
/// hashed before the transaction opens.
pub(super) async fn write_with_passwords<T>(
    app: &App,
    rq: &RequestInfo,
    new_password: Option<&crate::secret::Secret>,
    mut f: impl FnMut(&crate::store::Tx<'_>, &Env<'_>) -> Result<T, DomainError>,
) -> Result<T, ApiError> {
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let ahead = app.hash_password_ahead(new_password).await?;
    let settings = app.settings();
    let base = app.env(&settings, app.clock.now_ms(), None, rq);
    Ok(app
        .write_with_passwords(ahead, |tx, passwords| {
            f(tx, &base.with_passwords(passwords))
        })
        .await?)
}

/// Runs `f` in a read transaction (no write lock) with a fresh `Env`.
pub(super) fn read<T>(
    app: &App,
    f: impl FnOnce(&crate::store::ReadTx<'_>, &Env<'_>) -> Result<T, DomainError>,
) -> Result<T, ApiError> {
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None, &RequestInfo::NONE);
    Ok(app.store.read(|tx| f(tx, &env))?)
}

/// A list as the Backend API answers it: the bare array the spec shows, or, with
/// `paginated=true`, `{data, total_count}` of the `limit` (1–500, default 10) items from
/// `offset`, as Clerk's paginated lists are.
pub(super) fn list_response<T: serde::Serialize>(
    p: &Params,
    all: Vec<T>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    // A query's empty boolean is malformed (a form's empty field is a null, not here).
    if p.string("paginated").is_some_and(|v| v.is_empty()) {
        return Err(ApiError::param_invalid(
            "paginated",
            "paginated must be true or false.",
        ));
    }
    let paginated = p.bool("paginated")?.unwrap_or(false);
    let limit = usize::try_from(p.int("limit", 10, 1, 500)?).unwrap_or(10);
    let offset = usize::try_from(p.int("offset", 0, 0, i64::MAX)?).unwrap_or(usize::MAX);
    Ok(if paginated {
        let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let data: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
        axum::Json(latchkey_protocol::Paginated {
            data,
            total_count: total,
        })
        .into_response()
    } else {
        axum::Json(all).into_response()
    })
}

pub(super) fn query_params(q: &Option<String>) -> Result<Params, ApiError> {
    Params::parse(false, q.as_deref().unwrap_or("").as_bytes())
}
