//! `/v1/sessions…`: list, get, revoke, tokens.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{query_params, read, write};
use crate::app::App;
use crate::domain::sessions::{self, SessionFilter};
use crate::domain::{tokens, views, DomainError};
use crate::http::error::ApiError;
use crate::http::Rq;
use latchkey_protocol::SessionStatus;

pub(super) async fn list(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = query_params(&q)?;
    // The filters Clerk's spec lists: every status but `pending`. `replaced` is a status the
    // emulator never gives a session, so nothing matches it (a valid filter, not an invalid one).
    // An empty `status=` is no status the spec knows either, so it is refused rather than read
    // as "any" (@clerk/backend leaves the parameter out when no status is asked for).
    let status = match p.get("status") {
        None => None,
        Some(s) => Some(
            s.parse::<SessionStatus>()
                .ok()
                .filter(|st| *st != SessionStatus::Pending)
                .ok_or_else(|| {
                    ApiError::param_invalid(
                        "status",
                        "status must be one of active, ended, removed, revoked, expired, abandoned, replaced.",
                    )
                })?,
        ),
    };
    let limit = p.int("limit", 10, 1, 500)?;
    let offset = p.int("offset", 0, 0, i64::MAX)?;
    let paginated = p.bool("paginated")?.unwrap_or(false);
    let filter = SessionFilter {
        client_id: p.string("client_id").filter(|s| !s.is_empty()),
        user_id: p.string("user_id").filter(|s| !s.is_empty()),
        status,
    };
    read(&app, |tx, env| {
        let (page, total) = sessions::list_by_admin(
            tx,
            env,
            &filter,
            usize::try_from(limit).unwrap_or(0),
            usize::try_from(offset).unwrap_or(usize::MAX),
        )?;
        let page: Vec<_> = page
            .iter()
            .map(|s| views::session_bapi(s, env.now))
            .collect();
        Ok(if paginated {
            Json(latchkey_protocol::Paginated {
                data: page,
                total_count: i64::try_from(total).unwrap_or(i64::MAX),
            })
            .into_response()
        } else {
            Json(page).into_response()
        })
    })
}

pub(super) async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    read(&app, |tx, env| {
        let s = sessions::get(tx, &id)?;
        Ok(Json(views::session_bapi(&s, env.now)).into_response())
    })
}

pub(super) async fn revoke(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    write(&app, &rq, |tx, env| {
        let s = sessions::revoke_by_admin(tx, env, &id)?;
        Ok(Json(views::session_bapi(&s, env.now)).into_response())
    })
    .await
}

async fn mint(app: &App, id: &str, template: Option<&str>) -> Result<Response, ApiError> {
    // Reads only: the claims come from a read transaction, the signature after it.
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let unsigned = tokens::Unsigned::new();
    let token = read(app, |tx, env| {
        let s = sessions::get(tx, id)?;
        Ok(latchkey_protocol::Token {
            object: "token".into(),
            jwt: tokens::mint_for_session(tx, &env.with_tokens(&unsigned), &s, template)?,
        })
    })?;
    Ok(crate::http::signed_json(app, unsigned, &token)?)
}

pub(super) async fn token(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mint(&app, &id, None).await
}

pub(super) async fn token_template(
    State(app): State<Arc<App>>,
    Path((id, template)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    mint(&app, &id, Some(&template)).await
}
