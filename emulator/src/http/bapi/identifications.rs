//! `/v1/email_addresses…` and `/v1/phone_numbers…`: an existing user's email addresses and
//! phone numbers, created, read, changed (verified, primary) and deleted by the app's server.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_protocol::bapi::{CreateEmailAddress, CreatePhoneNumber, UpdateIdentification};
use latchkey_protocol::DeletedObject;
use serde_json::Value;

use super::{read, write};
use crate::app::App;
use crate::domain::identifications::{self, AdminIdentUpdate};
use crate::domain::views;
use crate::http::error::ApiError;
use crate::http::params::BapiJson;
use crate::http::Rq;
use crate::store::records::{IdentKind, Identification};

/// An identification as its kind's wire object. A phone number shows its owner's second-factor
/// flags, so it reads as `/v1/users/{id}` shows it.
fn ident_json(
    tx: &crate::store::ReadTx<'_>,
    kind: IdentKind,
    i: &Identification,
) -> Result<Response, crate::domain::DomainError> {
    let v = match kind {
        IdentKind::EmailAddress => serde_json::to_value(views::email_with(i, None, 0)),
        IdentKind::PhoneNumber => {
            let owner = identifications::owner(tx, i)?;
            serde_json::to_value(views::phone_of(&owner, i, 0))
        }
    };
    Ok(Json(v.unwrap_or(Value::Null)).into_response())
}

async fn create(
    app: &App,
    rq: &crate::domain::RequestInfo,
    kind: IdentKind,
    user_id: Option<String>,
    value: Option<String>,
    verified: bool,
    primary: bool,
) -> Result<Response, ApiError> {
    let user_id = user_id
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::param_missing("user_id"))?;
    let value = value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::param_missing(kind.as_str()))?;
    write(app, rq, |tx, env| {
        let mut u = crate::domain::accounts::get(tx, &user_id)?;
        let i = identifications::add(tx, env, &mut u, kind, &value, verified, primary)?;
        ident_json(tx, kind, &i)
    })
    .await
}

pub(super) async fn create_email(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    BapiJson(body): BapiJson<Value>,
) -> Result<Response, ApiError> {
    let body: CreateEmailAddress = object_body(body)?;
    create(
        &app,
        &rq,
        IdentKind::EmailAddress,
        body.user_id,
        body.email_address,
        body.verified.unwrap_or(false),
        body.primary.unwrap_or(false),
    )
    .await
}

pub(super) async fn create_phone(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    BapiJson(body): BapiJson<Value>,
) -> Result<Response, ApiError> {
    let body: CreatePhoneNumber = object_body(body)?;
    create(
        &app,
        &rq,
        IdentKind::PhoneNumber,
        body.user_id,
        body.phone_number,
        body.verified.unwrap_or(false),
        body.primary.unwrap_or(false),
    )
    .await
}

fn get(app: &App, kind: IdentKind, id: &str) -> Result<Response, ApiError> {
    read(app, |tx, _| {
        ident_json(tx, kind, &identifications::get(tx, kind, id)?)
    })
}

pub(super) async fn get_email(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get(&app, IdentKind::EmailAddress, &id)
}

pub(super) async fn get_phone(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get(&app, IdentKind::PhoneNumber, &id)
}

/// The body as an object of `T`: serde would also read a JSON array into a struct, field by
/// field, and an array is no update.
pub(super) fn object_body<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    let invalid = |why: String| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            latchkey_protocol::ErrorCode::FormParamFormatInvalid,
            "is invalid",
            format!("The request body is invalid: {why}"),
        )
        .param("body")
    };
    if !body.is_object() {
        return Err(invalid("it must be a JSON object".into()));
    }
    serde_json::from_value(body).map_err(|e| invalid(e.to_string()))
}

async fn update(
    app: &App,
    rq: &crate::domain::RequestInfo,
    kind: IdentKind,
    id: &str,
    body: Value,
) -> Result<Response, ApiError> {
    let body: UpdateIdentification = object_body(body)?;
    let change = AdminIdentUpdate {
        verified: body.verified,
        primary: body.primary,
    };
    write(app, rq, |tx, env| {
        let i = identifications::update_by_admin(tx, env, kind, id, change)?;
        ident_json(tx, kind, &i)
    })
    .await
}

pub(super) async fn update_email(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<Value>,
) -> Result<Response, ApiError> {
    update(&app, &rq, IdentKind::EmailAddress, &id, body).await
}

pub(super) async fn update_phone(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
    BapiJson(body): BapiJson<Value>,
) -> Result<Response, ApiError> {
    update(&app, &rq, IdentKind::PhoneNumber, &id, body).await
}

async fn delete(
    app: &App,
    rq: &crate::domain::RequestInfo,
    kind: IdentKind,
    id: &str,
) -> Result<Response, ApiError> {
    write(app, rq, |tx, env| {
        identifications::delete_by_admin(tx, env, kind, id)?;
        Ok(Json(DeletedObject {
            object: kind.as_str().into(),
            id: Some(id.to_owned()),
            deleted: true,
        })
        .into_response())
    })
    .await
}

pub(super) async fn delete_email(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    delete(&app, &rq, IdentKind::EmailAddress, &id).await
}

pub(super) async fn delete_phone(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    delete(&app, &rq, IdentKind::PhoneNumber, &id).await
}
