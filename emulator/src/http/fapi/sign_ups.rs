//! `/v1/client/sign_ups…`: create, get, update, prepare and attempt verification.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::{run, run_limited, run_redeeming, Native, Shape};
use crate::app::App;
use crate::domain::attack::{self, RateBucket, RateSubject};
use crate::domain::oauth;
use crate::domain::passwords::PasswordResults;
use crate::domain::sign_up::{self, SignUpInput};
use crate::domain::{views, DomainError};
use crate::http::error::ApiError;
use crate::http::params::Params;
use latchkey_protocol::AnyStrategy;

/// The sign-up's fields, the OAuth provider its `strategy` names, if any, and where that
/// provider's authorization starts (a real upstream's endpoint found beforehand).
async fn sign_up_request(
    app: &App,
    p: &Params,
) -> Result<(SignUpInput, Option<AnyStrategy>, oauth::OAuthTarget), ApiError> {
    let (input, provider) = sign_up_input(p)?;
    let target =
        super::sign_ins::upstream_target(app, provider.as_ref(), super::sign_ins::oauth_target(p))
            .await;
    Ok((input, provider, target))
}

/// The sign-up's fields, and the OAuth provider its `strategy` names, if any.
fn sign_up_input(p: &Params) -> Result<(SignUpInput, Option<AnyStrategy>), ApiError> {
    let (strategy, provider) = p.strategy_or_provider("strategy")?;
    let input = SignUpInput {
        email_address: p.string("email_address"),
        phone_number: p.string("phone_number"),
        username: p.string("username"),
        password: p.secret("password"),
        first_name: p.string("first_name"),
        last_name: p.string("last_name"),
        unsafe_metadata: p.json_object("unsafe_metadata")?,
        strategy,
    };
    Ok((input, provider))
}

pub(super) async fn create(
    State(app): State<Arc<App>>,
    req: Native,
    p: Params,
) -> Result<Response, ApiError> {
    let transfer = p.bool("transfer")?.unwrap_or(false);
    let id_token = p.secret("token");
    let (input, provider, target) = sign_up_request(&app, &p).await?;
    let ahead = app.hash_password_ahead(input.password.as_ref()).await?;
    let identifier = input
        .email_address
        .clone()
        .or_else(|| input.phone_number.clone())
        .or_else(|| input.username.clone());
    let limit = (
        RateBucket::SignUpCreate,
        RateSubject::Identifier(identifier),
    );
    let captcha_token = p.secret("captcha_token");
    let captcha_error = p.string("captcha_error");
    run_limited(&app, &req, Shape::Envelope, ahead, limit, |tx, env, c| {
        attack::check_captcha(
            tx,
            env,
            captcha_token.as_ref().map(|t| t.expose()),
            captcha_error.as_deref(),
            transfer,
        )?;
        let state = if transfer {
            oauth::create_transferred_sign_up(tx, env, c, input.clone())?
        } else if let Some(provider) = &provider {
            oauth::create_sign_up(tx, env, c, input.clone(), provider, &target)?
        } else if let Some(strategy) = input.strategy.filter(|s| s.is_id_token()) {
            let token = id_token
                .as_ref()
                .ok_or(DomainError::ParamMissing("token"))?;
            oauth::create_sign_up_with_id_token(
                tx,
                env,
                c,
                input.clone(),
                strategy,
                token.expose(),
            )?
        } else {
            sign_up::create(tx, env, c, input.clone())?
        };
        Ok(Ok(views::sign_up(env, &state)))
    })
    .await
}

/// `GET …/sign_ups/{id}`; with `rotating_token_nonce`, as for sign-ins.
pub(super) async fn get(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(nonce) = &req.rotating_token_nonce {
        return run_redeeming(&app, &req, &id, nonce, |tx, env, c| {
            let state = sign_up::load(tx, c, &id)?;
            Ok(Ok(views::sign_up(env, &state)))
        })
        .await;
    }
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let state = sign_up::load(tx, c, &id)?;
        Ok(Ok(views::sign_up(env, &state)))
    })
    .await
}

pub(super) async fn update(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let (input, provider, target) = sign_up_request(&app, &p).await?;
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_up::load(tx, c, &id)?;
        match &provider {
            Some(provider) => {
                oauth::update_sign_up(tx, env, c, &mut state, input.clone(), provider, &target)?
            }
            None => sign_up::update(tx, env, c, &mut state, input.clone())?,
        }
        Ok(Ok(views::sign_up(env, &state)))
    })
    .await
}

pub(super) async fn prepare(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = p.required_named("strategy")?;
    let target = super::links::target(&p);
    run(&app, &req, Shape::Envelope, |tx, env, c| {
        let mut state = sign_up::load(tx, c, &id)?;
        if strategy == latchkey_protocol::Strategy::EmailLink {
            sign_up::prepare_email_link(tx, env, &mut state, &target)?;
        } else {
            sign_up::prepare(tx, env, &mut state, strategy)?;
        }
        Ok(Ok(views::sign_up(env, &state)))
    })
    .await
}

pub(super) async fn attempt(
    State(app): State<Arc<App>>,
    req: Native,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = p.required_named("strategy")?;
    let code = p.required("code")?;
    let limit = (RateBucket::SignUpAttempt, RateSubject::SignUp(id.clone()));
    let none = PasswordResults::default();
    run_limited(&app, &req, Shape::Envelope, none, limit, |tx, env, c| {
        let mut state = sign_up::load(tx, c, &id)?;
        if let Err(e) = sign_up::attempt(tx, env, c, &mut state, strategy, &code)? {
            return Ok(Err(e));
        }
        Ok(Ok(views::sign_up(env, &state)))
    })
    .await
}
