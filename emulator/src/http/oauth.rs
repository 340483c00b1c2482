//! OAuth through the emulator's mock providers: the provider callback of the Frontend API
//! (`GET|POST /v1/oauth_callback`), each mock provider's authorize page
//! (`/_emulator/oauth/{provider}/authorize`), and automation's answer for a provider's next
//! authorization (`POST /_emulator/v1/oauth/{provider}/next`). See `domain/oauth.rs`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use latchkey_protocol::{AnyStrategy, ErrorCode};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{BapiJson, Params};
use super::Rq;
use crate::app::App;
use crate::domain::oauth::{self, Authorize, MockAnswer, MockIdentity};
use crate::domain::DomainError;
use crate::store::records::OAuthIdentity;

/// The mock providers' pages, which a browser visits as it would a provider's.
pub fn mock_router() -> Router<Arc<App>> {
    Router::new().route(
        "/_emulator/oauth/{provider}/authorize",
        get(authorize_page).post(authorize_choice),
    )
}

/// Automation's answers for the providers (part of the control API, with its checks).
pub fn control_router() -> Router<Arc<App>> {
    Router::new()
        .route("/_emulator/v1/oauth/{provider}/next", post(queue_next))
        .route("/_emulator/v1/oauth/{provider}/id_token", post(id_token))
}

/// The provider of a path (`google`, `custom_acme`): a built-in one, or a custom one the
/// instance's settings have.
fn strategy_of(app: &App, provider: &str) -> Result<AnyStrategy, ApiError> {
    oauth::provider_of_instance(&app.settings(), provider).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ResourceNotFound,
            "not found",
            "No such OAuth provider (google, github, apple, microsoft, or custom_<key> of a custom provider in the settings).",
        )
    })
}

fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, v);
    }
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn query(q: &Option<String>) -> Result<Params, ApiError> {
    Params::parse(false, q.as_deref().unwrap_or("").as_bytes())
}

/// `GET /v1/oauth_callback?code&state` (or `error`): 303 to where the attempt asked; a `state`
/// or `code` this instance did not issue is a 400 and goes nowhere.
pub(crate) async fn callback(
    State(app): State<Arc<App>>,
    Rq(request): Rq,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = query(&q)?;
    // 400, the one error status the spec documents here.
    let state = p.string("state").filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::bad_request(ErrorCode::FormParamNil, "state must be included.").param("state")
    })?;
    let code = p.string("code");
    let error = p.string("error");
    app.signing_key.wait().await.map_err(DomainError::from)?;
    let settings = app.settings();
    // A real upstream: redeem the code there first, outside the transaction.
    let pending = app.store.read(|tx| oauth::pending_upstream(tx, &state))?;
    let upstream = match (pending, &code, &error) {
        (Some((strategy, verifier, nonce)), Some(code), None) => {
            let Some(cfg) = settings.oidc_upstream(&strategy) else {
                return Err(DomainError::OAuth(ErrorCode::OauthCallbackInvalid).into());
            };
            Some(redeem_upstream(&app, cfg, code, verifier.expose(), &nonce).await)
        }
        _ => None,
    };
    let env = app.env(&settings, app.clock.now_ms(), None, &request);
    let to = app.write(|tx| {
        oauth::callback(
            tx,
            &env,
            &state,
            code.as_deref(),
            error.as_deref(),
            upstream,
        )
    })?;
    Ok(see_other(to.as_str()))
}

/// The identity a real upstream vouches for with `code`, or `Failed` (logged).
async fn redeem_upstream(
    app: &App,
    cfg: &crate::domain::settings::OidcUpstream,
    code: &str,
    verifier: &str,
    nonce: &str,
) -> oauth::UpstreamAnswer {
    // The upstream's tokens are judged by real time, not the emulator's clock.
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let redirect_uri = oauth::callback_url(&app.fapi_url);
    let result = async {
        let d = crate::oidc::discover(&app.http, cfg).await?;
        let r = crate::oidc::Redemption {
            code,
            redirect_uri: &redirect_uri,
            verifier,
            nonce,
            now_secs,
        };
        crate::oidc::exchange(&app.http, cfg, &d, &r).await
    }
    .await;
    match result {
        Ok(x) => {
            let mut identity = x.identity;
            identity.access_token = x.access_token.map(crate::secret::Secret::new);
            identity.access_token_expire_at = x
                .expires_in
                .map(|s| app.clock.now_ms().saturating_add(s.saturating_mul(1000)));
            oauth::UpstreamAnswer::Identity(identity)
        }
        Err(e) => {
            tracing::warn!(error = %e, issuer = %cfg.issuer, "the OIDC provider did not vouch for anyone");
            oauth::UpstreamAnswer::Failed
        }
    }
}

/// `target` with the upstream's authorization endpoint when `strategy`'s provider is a real
/// OIDC provider (looked up by discovery; unreachable: left out, and starting the flow says so).
pub(crate) async fn with_upstream(
    app: &App,
    strategy: &AnyStrategy,
    mut target: oauth::OAuthTarget,
) -> oauth::OAuthTarget {
    let settings = app.settings();
    if let Some(cfg) = settings.oidc_upstream(strategy) {
        match crate::oidc::discover(&app.http, cfg).await {
            Ok(d) => target.upstream_authorization_endpoint = Some(d.authorization_endpoint),
            Err(e) => {
                tracing::warn!(error = %e, issuer = %cfg.issuer, "OIDC discovery failed");
            }
        }
    }
    target
}

/// `POST /v1/oauth_callback` (a provider's `form_post`): 303 to the GET with the same
/// parameters.
pub(crate) async fn callback_post(State(app): State<Arc<App>>, p: Params) -> Response {
    let mut url = format!("{}/v1/oauth_callback", app.fapi_url.trim_end_matches('/'));
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for k in ["code", "state", "scope", "error", "error_description"] {
        if let Some(v) = p.string(k) {
            q.append_pair(k, &v);
        }
    }
    url.push('?');
    url.push_str(&q.finish());
    see_other(&url)
}

/// `GET /_emulator/oauth/{provider}/authorize?state=…`: a queued answer redirects at once;
/// otherwise the provider's page, where a person picks who to be.
async fn authorize_page(
    State(app): State<Arc<App>>,
    Rq(request): Rq,
    headers: axum::http::HeaderMap,
    Path(provider): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let strategy = strategy_of(&app, &provider)?;
    let state = query(&q)?.required("state")?;
    let settings = app.settings();
    // Behind a Frontend API proxy the provider answers to the proxy's callback.
    let proxy = super::fapi::proxy_url(&headers);
    let env = app
        .env(&settings, app.clock.now_ms(), None, &request)
        .with_proxy(proxy.as_deref());
    match app.write(|tx| oauth::authorize(tx, &env, &strategy, &state))? {
        Authorize::Redirect(to) => Ok(see_other(to.as_str())),
        Authorize::Page {
            provider: name,
            state,
            known,
        } => Ok(page(oauth::path_name(&strategy), &name, &state, &known)),
    }
}

/// The page's form: `state`, then `deny`, or an identity (`email`, `first_name`, `last_name`,
/// `image_url`, `email_verified`, `provider_user_id`).
async fn authorize_choice(
    State(app): State<Arc<App>>,
    Rq(request): Rq,
    headers: axum::http::HeaderMap,
    Path(provider): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let strategy = strategy_of(&app, &provider)?;
    let state = p.required("state")?;
    let answer = if p.string("deny").is_some() {
        MockAnswer::Error {
            error: "access_denied".into(),
        }
    } else {
        MockAnswer::Identity(MockIdentity {
            email: p.required("email")?,
            first_name: p.string("first_name"),
            last_name: p.string("last_name"),
            // A checkbox: present when ticked.
            email_verified: Some(p.string("email_verified").is_some()),
            provider_user_id: p.string("provider_user_id"),
            image_url: p.string("image_url"),
            username: p.string("username"),
        })
    };
    let settings = app.settings();
    let proxy = super::fapi::proxy_url(&headers);
    let env = app
        .env(&settings, app.clock.now_ms(), None, &request)
        .with_proxy(proxy.as_deref());
    let to = app.write(|tx| oauth::choose(tx, &env, &strategy, &state, answer))?;
    Ok(see_other(to.as_str()))
}

/// `POST /_emulator/v1/oauth/{provider}/next` with an identity (`{"email", "first_name",
/// "last_name", "email_verified", "provider_user_id", "image_url", "username"}`) or
/// `{"error": "access_denied"}`: the provider's next authorization skips its page and answers
/// so. Answers queue up; each authorization takes the oldest.
async fn queue_next(
    State(app): State<Arc<App>>,
    Path(provider): Path<String>,
    BapiJson(body): BapiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let strategy = strategy_of(&app, &provider)?;
    let answer: MockAnswer = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::FormParamFormatInvalid,
            format!(
                "Give an identity ({{\"email\", \"first_name\", \"last_name\", \"email_verified\", \"provider_user_id\", \"image_url\", \"username\"}}) or {{\"error\": \"access_denied\"}}: {e}"
            ),
        )
    })?;
    app.write(|tx| oauth::queue_next(tx, &strategy, answer))?;
    Ok(Json(json!({"provider": strategy.as_str(), "queued": true})))
}

/// `POST /_emulator/v1/oauth/{provider}/id_token` with an identity: `{"id_token": …}`, signed
/// by the mock provider, for `strategy=oauth_token_<provider>` (or `google_one_tap`).
async fn id_token(
    State(app): State<Arc<App>>,
    Rq(request): Rq,
    Path(provider): Path<String>,
    BapiJson(identity): BapiJson<MockIdentity>,
) -> Result<Json<Value>, ApiError> {
    let strategy = strategy_of(&app, &provider)?;
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None, &request);
    let token = app.write(|tx| oauth::issue_id_token(tx, &env, &strategy, identity))?;
    Ok(Json(
        json!({"object": "id_token", "provider": strategy.as_str(), "id_token": token}),
    ))
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The mock provider's page: recognisably the provider's (its name and colour), the identities
/// used before as one-click choices, a form for a new one, and a deny button. No script: plain
/// forms posting back here.
fn page(path: &str, name: &str, state: &str, known: &[OAuthIdentity]) -> Response {
    // A custom provider's name is the instance's settings: text, never markup.
    let name = esc(name);
    let colour = match path {
        "google" => "#1a73e8",
        "github" => "#24292f",
        "apple" => "#000000",
        _ => "#2f2f8f",
    };
    let action = format!("/_emulator/oauth/{}/authorize", esc(path));
    let state = esc(state);
    let hidden = |i: &OAuthIdentity| {
        let f = |k: &str, v: Option<&str>| {
            v.map(|v| format!(r#"<input type="hidden" name="{k}" value="{}">"#, esc(v)))
                .unwrap_or_default()
        };
        [
            f("email", Some(&i.email)),
            f("first_name", i.first_name.as_deref()),
            f("last_name", i.last_name.as_deref()),
            f("image_url", i.image_url.as_deref()),
            f("username", i.username.as_deref()),
            f("provider_user_id", Some(&i.provider_user_id)),
            if i.email_verified {
                f("email_verified", Some("on"))
            } else {
                String::new()
            },
        ]
        .concat()
    };
    let accounts: String = known
        .iter()
        .map(|i| {
            let who = [i.first_name.as_deref(), i.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                r#"<form method="post" action="{action}" class="account"><input type="hidden" name="state" value="{state}">{fields}<button type="submit" data-email="{email}"><strong>{who}</strong> <span>{email}</span></button></form>"#,
                fields = hidden(i),
                email = esc(&i.email),
                who = esc(&who),
            )
        })
        .collect();
    let accounts = if accounts.is_empty() {
        String::new()
    } else {
        format!(
            r#"<h2>Choose an account</h2><div class="accounts">{accounts}</div><h2>Or use another account</h2>"#
        )
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in with {name} (mock) · Latchkey emulator</title>
<link rel="icon" href="data:,">
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; background: #f4f5f7; margin: 0; }}
main {{ max-width: 26rem; margin: 3rem auto; background: #fff; border-radius: 8px; padding: 1.5rem 2rem; box-shadow: 0 1px 4px #0002; }}
header {{ border-top: 6px solid {colour}; margin: -1.5rem -2rem 1rem; border-radius: 8px 8px 0 0; }}
h1 {{ font-size: 1.3rem; margin: .5rem 0; }} h2 {{ font-size: 1rem; margin: 1.2rem 0 .5rem; }}
.note {{ color: #555; font-size: .85rem; }}
.accounts button {{ display: block; width: 100%; text-align: left; margin: .3rem 0; padding: .5rem; background: #fff; border: 1px solid #ccc; border-radius: 4px; cursor: pointer; }}
.accounts span {{ color: #555; }}
label {{ display: block; margin: .5rem 0 .2rem; }} input[type=text], input[type=email], input[type=url] {{ width: 100%; box-sizing: border-box; padding: .4rem; }}
.actions {{ display: flex; gap: .5rem; margin-top: 1rem; }}
.actions button {{ padding: .5rem 1rem; border-radius: 4px; border: 1px solid {colour}; cursor: pointer; }}
#continue {{ background: {colour}; color: #fff; }} #deny {{ background: #fff; color: {colour}; }}
</style>
</head>
<body>
<main>
<header></header>
<h1>Sign in with {name}</h1>
<p class="note">A mock of {name}'s sign-in page, served by the Latchkey emulator: nothing leaves this machine.</p>
{accounts}
<form method="post" action="{action}" id="identity">
<input type="hidden" name="state" value="{state}">
<label for="email">Email</label><input type="email" id="email" name="email" required>
<label for="first_name">First name</label><input type="text" id="first_name" name="first_name">
<label for="last_name">Last name</label><input type="text" id="last_name" name="last_name">
<label for="image_url">Avatar URL</label><input type="url" id="image_url" name="image_url">
<label><input type="checkbox" name="email_verified" id="email_verified" checked> {name} has verified this email</label>
<div class="actions"><button type="submit" id="continue">Continue</button></div>
</form>
<form method="post" action="{action}" id="deny-form">
<input type="hidden" name="state" value="{state}"><input type="hidden" name="deny" value="1">
<div class="actions"><button type="submit" id="deny">Deny access</button></div>
</form>
</main>
</body>
</html>
"#
    );
    let mut res = ([(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = res.headers_mut();
    // No script at all; the forms post here, and their redirects may go to any app's callback
    // (a custom scheme, a loopback port), so `form-action` is left open.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}
