//! `/v1/me/external_accounts…`: the signed-in user connects, reauthorizes and removes accounts
//! at OAuth providers (see `domain/oauth.rs`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use latchkey_protocol::{AnyStrategy, DeletedObject};

use super::{run, Native, Shape};
use crate::app::App;
use crate::domain::{accounts, oauth, views, DomainError};
use crate::http::error::ApiError;
use crate::http::params::Params;

/// `POST /v1/me/external_accounts` (`strategy=oauth_<provider>`, `redirect_url`, optional
/// `action_complete_redirect_url`; `additional_scope` is accepted and the mock grants its
/// scopes): the account, its verification pointing at the provider.
pub(super) async fn create(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy: AnyStrategy = p.required_named("strategy")?;
    if !strategy.is_oauth() {
        return Err(ApiError::param_invalid(
            "strategy",
            "Connect an account with an oauth_<provider> strategy.",
        ));
    }
    let target =
        super::sign_ins::upstream_target(&app, Some(&strategy), super::sign_ins::oauth_target(&p))
            .await;
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        let conn = oauth::connect(tx, env, c, &u, &strategy, &target)?;
        Ok(Ok(oauth::connection_view(
            env.fapi_url,
            &conn,
            None,
            env.now,
        )))
    })
    .await
}

/// `PATCH /v1/me/external_accounts/{id}/reauthorize` (`redirect_url` required).
pub(super) async fn reauthorize(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    // The account's provider, to look up a real upstream before the transaction.
    let provider = app
        .store
        .read(|tx| Ok::<_, DomainError>(tx.external_account(&id)?))?
        .and_then(|a| oauth::provider(&a.provider));
    let target = super::sign_ins::upstream_target(
        &app,
        provider.as_ref(),
        super::sign_ins::oauth_target(&p),
    )
    .await;
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        let (account, conn) = oauth::reauthorize(tx, env, c, &u, &id, &target)?;
        Ok(Ok(oauth::connection_view(
            env.fapi_url,
            &conn,
            Some(&account),
            env.now,
        )))
    })
    .await
}

/// `DELETE /v1/me/external_accounts/{id}`.
pub(super) async fn delete(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        oauth::disconnect(tx, env, &u, &id)?;
        Ok(Ok(DeletedObject {
            object: "external_account".into(),
            id: Some(id.clone()),
            deleted: true,
        }))
    })
    .await
}

/// `DELETE /v1/me/external_accounts/{id}/tokens`: the user, after the provider's tokens are
/// revoked.
pub(super) async fn revoke_tokens(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sid = req.session_id.clone();
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let (_, u) = accounts::current(tx, env, c, sid.as_deref())?;
        oauth::revoke_tokens(tx, env, &u, &id)?;
        let u = tx
            .user_with_idents(&u.user.id)?
            .ok_or(DomainError::NotFound("user"))?;
        Ok(Ok(views::user(tx, env, &u, false)?))
    })
    .await
}
