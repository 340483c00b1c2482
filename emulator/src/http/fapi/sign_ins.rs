//! `/v1/client/sign_ins…`: create, get, prepare and attempt a first factor, reset the password.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::{run, run_limited, run_redeeming, Native, Shape};
use crate::app::App;
use crate::domain::attack::{RateBucket, RateSubject};
use crate::domain::oauth::{self, OAuthTarget};
use crate::domain::sign_in::{self, SignInInput};
use crate::domain::{views, DomainError};
use crate::http::error::ApiError;
use crate::http::params::Params;
use latchkey_protocol::{AnyStrategy, Strategy};

pub(super) async fn create(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let transfer = p.bool("transfer")?.unwrap_or(false);
    let id_token = p.secret("token");
    let (strategy, provider) = p.strategy_or_provider("strategy")?;
    let input = SignInInput {
        identifier: p.string("identifier"),
        password: p.secret("password"),
        strategy,
        ticket: p.secret("ticket"),
    };
    let target = upstream_target(&app, provider.as_ref(), oauth_target(&p)).await;
    // Identifier and password in one call: check the password before the write transaction.
    let checked = match (&input.identifier, &input.password) {
        (Some(identifier), Some(pw)) => {
            let settings = app.settings();
            app.check_password_ahead(pw, |tx| {
                sign_in::digest_for_identifier(tx, &settings, identifier)
            })
            .await?
        }
        _ => Default::default(),
    };
    let limit = (
        RateBucket::SignInCreate,
        RateSubject::Identifier(input.identifier.clone()),
    );
    run_limited(&app, &req, Shape::Envelope, checked, limit, |tx, env, c| {
        if transfer {
            let state = oauth::create_transferred_sign_in(tx, env, c)?;
            return Ok(Ok(views::sign_in(tx, env, &state)?));
        }
        if let Some(provider) = &provider {
            let state = oauth::create_sign_in(tx, env, c, provider, &target)?;
            return Ok(Ok(views::sign_in(tx, env, &state)?));
        }
        if let Some(strategy) = input.strategy.filter(|s| s.is_id_token()) {
            let token = id_token
                .as_ref()
                .ok_or(DomainError::ParamMissing("token"))?;
            let state = oauth::create_sign_in_with_id_token(tx, env, c, strategy, token.expose())?;
            return Ok(Ok(views::sign_in(tx, env, &state)?));
        }
        let state = match sign_in::create(tx, env, c, input.clone())? {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
    .await
}

/// Where an OAuth flow sends the browser after the callback, from the request.
pub(super) fn oauth_target(p: &Params) -> OAuthTarget {
    OAuthTarget {
        redirect_url: p.string("redirect_url"),
        action_complete_redirect_url: p.string("action_complete_redirect_url"),
        upstream_authorization_endpoint: None,
    }
}

/// [`oauth_target`] with a real upstream's authorization endpoint looked up (for a provider
/// that is one).
pub(super) async fn upstream_target(
    app: &App,
    provider: Option<&AnyStrategy>,
    target: OAuthTarget,
) -> OAuthTarget {
    match provider.filter(|s| s.is_oauth()) {
        Some(s) => crate::http::oauth::with_upstream(app, s, target).await,
        None => target,
    }
}

/// `GET …/sign_ins/{id}`; with `rotating_token_nonce` (after an OAuth callback), answered as the
/// sign-in's client with its token rotated.
pub(super) async fn get(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(nonce) = &req.rotating_token_nonce {
        return run_redeeming(&app, &req, &id, nonce, |tx, env, c| {
            let state = sign_in::load(tx, c, &id)?;
            Ok(Ok(views::sign_in(tx, env, &state)?))
        })
        .await;
    }
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let state = sign_in::load(tx, c, &id)?;
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
    .await
}

pub(super) async fn prepare(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    p.required("strategy")?;
    let (strategy, provider) = p.strategy_or_provider("strategy")?;
    let ident = p
        .string("email_address_id")
        .or_else(|| p.string("phone_number_id"));
    let target = super::links::target(&p);
    let oauth = upstream_target(&app, provider.as_ref(), oauth_target(&p)).await;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_in::load(tx, c, &id)?;
        match (&provider, strategy) {
            (Some(provider), _) => oauth::start_sign_in(tx, env, &mut state, provider, &oauth)?,
            (None, Some(Strategy::EmailLink)) => {
                sign_in::prepare_email_link(tx, env, &mut state, ident.as_deref(), &target)?
            }
            (None, Some(strategy)) => {
                sign_in::prepare_first_factor(tx, env, &mut state, strategy, ident.as_deref())?
            }
            (None, None) => return Err(DomainError::ParamMissing("strategy")),
        }
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
    .await
}

pub(super) async fn attempt(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy: Strategy = p.required_named("strategy")?;
    let password = p.secret("password");
    let code = p.string("code");
    let id_token = p.secret("token");
    // A password attempt: check it before the write transaction.
    let checked = match (&password, strategy) {
        (Some(pw), Strategy::Password) => {
            app.check_password_ahead(pw, |tx| sign_in::digest_for_attempt(tx, &id))
                .await?
        }
        _ => Default::default(),
    };
    let limit = (RateBucket::SignInAttempt, RateSubject::SignIn(id.clone()));
    run_limited(&app, &req, Shape::Envelope, checked, limit, |tx, env, c| {
        let mut state = sign_in::load(tx, c, &id)?;
        if strategy.is_id_token() {
            let token = id_token
                .as_ref()
                .ok_or(DomainError::ParamMissing("token"))?;
            oauth::sign_in_with_id_token(tx, env, c, &mut state, strategy, token.expose())?;
            return Ok(Ok(views::sign_in(tx, env, &state)?));
        }
        if let Err(e) = sign_in::attempt_first_factor(
            tx,
            env,
            c,
            &mut state,
            strategy,
            password.as_ref(),
            code.as_deref(),
        )? {
            return Ok(Err(e));
        }
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
    .await
}

pub(super) async fn reset_password(
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
    .await
}

pub(super) async fn prepare_second(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = p.required_named("strategy")?;
    let ident = p
        .string("phone_number_id")
        .or_else(|| p.string("email_address_id"));
    let target = super::links::target(&p);
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_in::load(tx, c, &id)?;
        if strategy == Strategy::EmailLink {
            sign_in::prepare_second_email_link(tx, env, &mut state, ident.as_deref(), &target)?;
        } else {
            sign_in::prepare_second_factor(tx, env, &mut state, strategy, ident.as_deref())?;
        }
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
    .await
}

pub(super) async fn attempt_second(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy: Strategy = p.required_named("strategy")?;
    let code = p.string("code");
    // Second-factor attempts share the first factor's limit ("attempt sign-in").
    let limit = (RateBucket::SignInAttempt, RateSubject::SignIn(id.clone()));
    let none = Default::default();
    run_limited(&app, &req, Shape::Envelope, none, limit, |tx, env, c| {
        let mut state = sign_in::load(tx, c, &id)?;
        if let Err(e) =
            sign_in::attempt_second_factor(tx, env, c, &mut state, strategy, code.as_deref())?
        {
            return Ok(Err(e));
        }
        Ok(Ok(views::sign_in(tx, env, &state)?))
    })
    .await
}
