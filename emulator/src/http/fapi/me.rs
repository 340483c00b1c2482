//! `/v1/me`: the signed-in user reads, changes and deletes their own account.

use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::{DeletedObject, ErrorCode, Strategy};
use serde_json::Value;

use super::{run, Native, Shape};
use crate::app::App;
use crate::domain::accounts::{self, PasswordChange, SelfUpdate};
use crate::domain::{identifications, profile_images, sessions, views, DomainError};
use crate::http::error::ApiError;
use crate::http::params::Params;
use crate::secret::Secret;
use crate::store::records::{IdentKind, Identification, UserWithIdents};

pub(super) async fn get(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}

pub(super) async fn update(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    // Since API version 2026-05-12 metadata is changed through `PATCH /v1/me/metadata` only
    // (clerk-wire-2.md §4). Refused rather than ignored, so that code relying on it learns here,
    // not in production, that its change was not made.
    if p.get("unsafe_metadata").is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FormParamUnknown,
            "is unknown",
            "unsafe_metadata is not accepted by PATCH /v1/me; use PATCH /v1/me/metadata.",
        )
        .param("unsafe_metadata"));
    }
    let change = SelfUpdate {
        first_name: p.string("first_name"),
        last_name: p.string("last_name"),
        username: p.string("username"),
        primary_email_address_id: p
            .string("primary_email_address_id")
            .filter(|v| !v.is_empty()),
        primary_phone_number_id: p
            .string("primary_phone_number_id")
            .filter(|v| !v.is_empty()),
    };
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let u = accounts::update_self(tx, env, c, sid.as_deref(), &change)?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}

pub(super) async fn delete(State(app): State<Arc<App>>, req: Native) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let id = accounts::delete_self(tx, env, c, sid.as_deref())?;
        Ok(Ok(latchkey_protocol::DeletedObject {
            object: "user".into(),
            id: Some(id),
            deleted: true,
        }))
    })
    .await
}

// --- email addresses and phone numbers -------------------------------------------------------

/// An identification as its kind's wire object, showing its pending code if any.
fn ident_json(kind: IdentKind, i: &Identification, u: &UserWithIdents, now: i64) -> Value {
    let v = match kind {
        IdentKind::EmailAddress => {
            serde_json::to_value(views::email_with(i, u.pending_code(&i.id), now))
        }
        IdentKind::PhoneNumber => serde_json::to_value(views::phone_of(u, i, now)),
    };
    v.unwrap_or(Value::Null)
}

async fn create_ident(
    app: &App,
    req: &Native,
    p: &Params,
    kind: IdentKind,
) -> Result<Response, ApiError> {
    let value = p.required(match kind {
        IdentKind::EmailAddress => "email_address",
        IdentKind::PhoneNumber => "phone_number",
    })?;
    let sid = req.session_id.clone();
    run(app, req, Shape::Envelope, |tx, env, c| {
        let (_, mut u) = accounts::current(tx, env, c, sid.as_deref())?;
        let i = identifications::add_for_self(tx, env, &mut u, kind, &value)?;
        Ok(Ok(ident_json(kind, &i, &u, env.now)))
    })
    .await
}

async fn list_idents(app: &App, req: &Native, kind: IdentKind) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(app, req, Shape::Bare, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        let list: Vec<Value> = u
            .idents
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| ident_json(kind, i, &u, env.now))
            .collect();
        Ok(Ok(list))
    })
    .await
}

async fn get_ident(
    app: &App,
    req: &Native,
    kind: IdentKind,
    id: &str,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(app, req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        let i = identifications::of_user(&u, kind, id)?;
        Ok(Ok(ident_json(kind, i, &u, env.now)))
    })
    .await
}

async fn delete_ident(
    app: &App,
    req: &Native,
    kind: IdentKind,
    id: &str,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(app, req, Shape::Envelope, |tx, env, c| {
        let (_, mut u) = accounts::current(tx, env, c, sid.as_deref())?;
        identifications::delete_for_self(tx, env, &mut u, kind, id)?;
        Ok(Ok(DeletedObject {
            object: kind.as_str().into(),
            id: Some(id.to_owned()),
            deleted: true,
        }))
    })
    .await
}

async fn prepare_ident(
    app: &App,
    req: &Native,
    kind: IdentKind,
    id: &str,
    p: &Params,
) -> Result<Response, ApiError> {
    let strategy: Strategy = p.required_named("strategy")?;
    let sid = req.session_id.clone();
    let target = super::links::target(p);
    run(app, req, Shape::Envelope, |tx, env, c| {
        let (_, mut u) = accounts::current(tx, env, c, sid.as_deref())?;
        if (kind, strategy) == (IdentKind::EmailAddress, Strategy::EmailLink) {
            identifications::prepare_email_link(tx, env, &mut u, id, &c.record.id, &target)?;
        } else {
            identifications::prepare(tx, env, &mut u, kind, id, strategy)?;
        }
        let i = identifications::of_user(&u, kind, id)?;
        Ok(Ok(ident_json(kind, i, &u, env.now)))
    })
    .await
}

async fn attempt_ident(
    app: &App,
    req: &Native,
    kind: IdentKind,
    id: &str,
    p: &Params,
) -> Result<Response, ApiError> {
    let code = p.required("code")?;
    let sid = req.session_id.clone();
    run(app, req, Shape::Envelope, |tx, env, c| {
        let (_, mut u) = accounts::current(tx, env, c, sid.as_deref())?;
        Ok(identifications::attempt(tx, env, &mut u, kind, id, &code)?
            .map(|i| ident_json(kind, &i, &u, env.now)))
    })
    .await
}

pub(super) async fn create_email(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    create_ident(&app, &req, &p, IdentKind::EmailAddress).await
}

pub(super) async fn list_emails(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    list_idents(&app, &req, IdentKind::EmailAddress).await
}

pub(super) async fn get_email(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_ident(&app, &req, IdentKind::EmailAddress, &id).await
}

pub(super) async fn delete_email(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    delete_ident(&app, &req, IdentKind::EmailAddress, &id).await
}

pub(super) async fn prepare_email(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    prepare_ident(&app, &req, IdentKind::EmailAddress, &id, &p).await
}

pub(super) async fn attempt_email(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    attempt_ident(&app, &req, IdentKind::EmailAddress, &id, &p).await
}

pub(super) async fn create_phone(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    create_ident(&app, &req, &p, IdentKind::PhoneNumber).await
}

pub(super) async fn list_phones(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    list_idents(&app, &req, IdentKind::PhoneNumber).await
}

pub(super) async fn get_phone(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_ident(&app, &req, IdentKind::PhoneNumber, &id).await
}

pub(super) async fn delete_phone(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    delete_ident(&app, &req, IdentKind::PhoneNumber, &id).await
}

pub(super) async fn prepare_phone(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    prepare_ident(&app, &req, IdentKind::PhoneNumber, &id, &p).await
}

pub(super) async fn attempt_phone(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    attempt_ident(&app, &req, IdentKind::PhoneNumber, &id, &p).await
}

// --- metadata and passwords ----------------------------------------------------------------

pub(super) async fn merge_metadata(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let patch = p
        .json_object("unsafe_metadata")?
        .ok_or_else(|| ApiError::param_missing("unsafe_metadata"))?;
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let u = accounts::merge_self_metadata(tx, env, c, sid.as_deref(), &patch)?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}

pub(super) async fn change_password(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let change = PasswordChange {
        current_password: p.secret("current_password"),
        new_password: Secret::new(p.required("new_password")?),
        sign_out_of_other_sessions: p.bool("sign_out_of_other_sessions")?.unwrap_or(false),
    };
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let u = accounts::change_password(tx, env, c, sid.as_deref(), &change)?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}

pub(super) async fn remove_password(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let current = Secret::new(p.required("current_password")?);
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let u = accounts::remove_password(tx, env, c, sid.as_deref(), &current)?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}

// --- profile image ---------------------------------------------------------------------------

/// The request body the profile-image routes take, a little above the image limit for the
/// multipart framing; the rest of the API keeps its small limit.
pub const IMAGE_BODY_LIMIT: usize = profile_images::MAX_IMAGE_BYTES + 64 * 1024;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RequestBodyTooLarge,
        "Request body too large",
        format!(
            "A profile image must be at most {} bytes.",
            profile_images::MAX_IMAGE_BYTES
        ),
    )
}

/// The uploaded image: the `file` field of a `multipart/form-data` body (iOS, clerk-js), or
/// the whole body of any other content type (the spec's `application/octet-stream`). Returns
/// the file name, if given, and the bytes.
pub async fn read_image(request: Request) -> Result<(Option<String>, Vec<u8>), ApiError> {
    let multipart = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request(
                ErrorCode::MalformedRequest,
                format!("The multipart body could not be parsed: {}", e.body_text()),
            )
        }
    };
    if !multipart {
        let bytes = axum::body::to_bytes(request.into_body(), IMAGE_BODY_LIMIT)
            .await
            .map_err(|_| too_large())?;
        return Ok((None, bytes.to_vec()));
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(ErrorCode::MalformedRequest, e.body_text()))?;
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.name() == Some("file") {
            let name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(malformed)?;
            return Ok((name, bytes.to_vec()));
        }
    }
    Err(ApiError::param_missing("file"))
}

pub(super) async fn set_profile_image(
    State(app): State<Arc<App>>,
    req: Native,
    request: Request,
) -> Result<Response, ApiError> {
    let (name, data) = read_image(request).await?;
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, mut u) = accounts::current(tx, env, c, sid.as_deref())?;
        let image = profile_images::set(tx, env, &mut u, name.as_deref(), data.clone())?;
        Ok(Ok(views::image(&image, env.fapi_url)))
    })
    .await
}

pub(super) async fn delete_profile_image(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, mut u) = accounts::current(tx, env, c, sid.as_deref())?;
        let id = profile_images::delete(tx, env, &mut u)?;
        Ok(Ok(DeletedObject {
            object: "image".into(),
            id: Some(id),
            deleted: true,
        }))
    })
    .await
}

/// `GET /v1/images/{id}`: a profile image, public like Clerk's image CDN. An image id names one
/// upload for good (a new upload gets a new id), so it may be cached forever.
pub(super) async fn serve_image(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let image = app
        .store
        .read(|tx| profile_images::get(tx, &id))
        .map_err(ApiError::from)?;
    let content_type =
        HeaderValue::from_str(&image.content_type).map_err(|_| ApiError::internal())?;
    Ok((
        [
            (CONTENT_TYPE, content_type),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        image.data,
    )
        .into_response())
}

// --- sessions --------------------------------------------------------------------------------

/// `GET /v1/me/sessions/active`: a bare array of the user's active sessions with their latest
/// activity.
pub(super) async fn active_sessions(
    State(app): State<Arc<App>>,
    req: Native,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Bare, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        let list: Vec<Value> = sessions::active_of_user(tx, env, &u.user.id)?
            .iter()
            .map(|(s, a)| views::session_with_activity(s, a.as_ref(), env.now))
            .collect();
        Ok(Ok(list))
    })
    .await
}

/// `POST /v1/me/sessions/{id}/revoke`: one of the user's own sessions, on any client.
pub(super) async fn revoke_session(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        let s = sessions::revoke_own(tx, env, c, &u.user.id, &id)?;
        let view = views::session_fapi(tx, env, &s)?.ok_or(DomainError::NotFound("session"))?;
        Ok(Ok(view))
    })
    .await
}
