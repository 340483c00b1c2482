//! The emulator's own API (`/_emulator/v1`): instance settings, reset, the clock, the inbox.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use latchkey_protocol::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{BapiJson, Params};
use super::Rq;
use crate::app::App;
use crate::domain::DomainError;
use crate::store::records::{Message, MessageKind};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/_emulator/v1/instance",
            get(get_instance).patch(patch_instance),
        )
        .route("/_emulator/v1/reset", post(reset))
        .route("/_emulator/v1/time", get(get_time))
        .route("/_emulator/v1/time/advance", post(advance_time))
        .route(
            "/_emulator/v1/messages",
            get(list_messages).delete(delete_messages),
        )
        .route("/_emulator/v1/messages/latest", get(latest_message))
        .route("/_emulator/v1/jobs", get(list_jobs))
        .route("/_emulator/v1/jobs/wait_idle", post(wait_idle))
        .route(
            "/_emulator/v1/webhooks/endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/_emulator/v1/webhooks/endpoints/{id}",
            get(get_endpoint).delete(delete_endpoint),
        )
        .route("/_emulator/v1/webhooks/deliveries", get(list_deliveries))
        .route(
            "/_emulator/v1/webhooks/deliveries/{id}/replay",
            post(replay_delivery),
        )
        .route("/_emulator/v1/webhooks/recover", post(recover))
        .route("/_emulator/v1/captcha/challenges", post(challenge_client))
}

fn query(q: &Option<String>) -> Result<Params, ApiError> {
    Params::parse(false, q.as_deref().unwrap_or("").as_bytes())
}

async fn list_jobs(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = query(&q)?;
    let state = p.string("state").filter(|s| !s.is_empty());
    if let Some(s) = &state {
        if !matches!(s.as_str(), "queued" | "running" | "done" | "dead") {
            return Err(ApiError::param_invalid(
                "state",
                "state must be queued, running, done or dead.",
            ));
        }
    }
    let kind = p.string("kind").filter(|s| !s.is_empty());
    let limit = p.int("limit", 100, 1, 1000)?;
    let (jobs, counts) = app.store.read(|tx| {
        Ok::<_, DomainError>((
            tx.list_jobs(state.as_deref(), kind.as_deref(), limit)?,
            tx.job_counts()?,
        ))
    })?;
    let counts: Vec<Value> = counts
        .into_iter()
        .map(|(kind, state, n)| json!({"kind": kind, "state": state, "count": n}))
        .collect();
    let jobs: Vec<Value> = jobs
        .into_iter()
        .map(|j| {
            let payload: Value = serde_json::from_str(&j.payload).unwrap_or(Value::Null);
            json!({
                "object": "job", "id": j.id, "kind": j.kind, "priority": j.priority, "state": j.state,
                "attempts": j.attempts, "max_attempts": j.max_attempts, "run_at": j.run_at,
                "lease_until": j.lease_until, "last_error": j.last_error, "request_id": j.request_id,
                "payload": payload, "created_at": j.created_at, "updated_at": j.updated_at,
            })
        })
        .collect();
    Ok(Json(
        json!({"object": "list", "data": jobs, "counts": counts}),
    ))
}

#[derive(Deserialize)]
struct WaitIdle {
    timeout_ms: Option<u64>,
}

/// Waits until no background job is running or due: for tests that assert on the inbox or on
/// webhook deliveries right after an API call.
async fn wait_idle(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<WaitIdle>,
) -> Result<Json<Value>, ApiError> {
    let timeout = Duration::from_millis(body.timeout_ms.unwrap_or(10_000).min(60_000));
    let idle = crate::jobs::wait_idle(&app, timeout).await?;
    if !idle {
        return Err(ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            ErrorCode::JobsStillRunning,
            "Background jobs are still running",
            "Background jobs were still running or due when the timeout passed.",
        ));
    }
    Ok(Json(json!({"object": "jobs", "idle": true})))
}

fn endpoint_json(e: &crate::store::EndpointRecord) -> Value {
    json!({
        "object": "webhook_endpoint",
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "secret": e.secret.expose(),
        "created_at": e.created_at,
    })
}

async fn list_endpoints(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let eps = app
        .store
        .read(|tx| tx.endpoints())
        .map_err(DomainError::from)?;
    Ok(Json(
        json!({"object": "list", "data": eps.iter().map(endpoint_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
struct NewEndpoint {
    url: Option<String>,
    #[serde(default)]
    events: Vec<String>,
    secret: Option<String>,
}

async fn create_endpoint(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<NewEndpoint>,
) -> Result<Json<Value>, ApiError> {
    let url = body.url.ok_or_else(|| ApiError::param_missing("url"))?;
    let now = app.clock.now_ms();
    let ep = app.write(|tx| {
        crate::domain::webhooks::create_endpoint(
            tx,
            now,
            &url,
            body.events,
            body.secret.map(crate::secret::Secret::new),
        )
    })?;
    Ok(Json(endpoint_json(&ep)))
}

async fn get_endpoint(
    State(app): State<Arc<App>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ep = app
        .store
        .read(|tx| tx.endpoint(&id))
        .map_err(DomainError::from)?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    Ok(Json(endpoint_json(&ep)))
}

async fn delete_endpoint(
    State(app): State<Arc<App>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.write(|tx| crate::domain::webhooks::delete_endpoint(tx, &id))?;
    Ok(Json(
        json!({"object": "webhook_endpoint", "id": id, "deleted": true}),
    ))
}

async fn list_deliveries(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = query(&q)?;
    let succeeded = p.bool("succeeded")?;
    let limit = p.int("limit", 100, 1, 1000)?;
    let event_id = p.string("event_id");
    let endpoint_id = p.string("endpoint_id");
    let event_type = p.string("event_type");
    let rows = app
        .store
        .read(|tx| {
            tx.attempts(&crate::store::AttemptQuery {
                event_id: event_id.as_deref(),
                endpoint_id: endpoint_id.as_deref(),
                event_type: event_type.as_deref(),
                succeeded,
                limit,
            })
        })
        .map_err(DomainError::from)?;
    Ok(Json(json!({"object": "list", "data": rows})))
}

/// Sends the delivery's event to its endpoint again, as a new job.
async fn replay_delivery(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None, &rq);
    let job_id = app.write(|tx| crate::domain::outbox::replay_delivery(tx, &env, id))?;
    Ok(Json(
        json!({"object": "job", "id": job_id, "state": "queued"}),
    ))
}

#[derive(Deserialize)]
struct Recover {
    since: Option<i64>,
}

/// Enqueues again every webhook delivery that was exhausted since `since` (ms).
async fn recover(
    State(app): State<Arc<App>>,
    Rq(rq): Rq,
    BapiJson(body): BapiJson<Recover>,
) -> Result<Json<Value>, ApiError> {
    let since = body.since.ok_or_else(|| ApiError::param_missing("since"))?;
    let settings = app.settings();
    let env = app.env(&settings, app.clock.now_ms(), None, &rq);
    let n = app.write(|tx| crate::domain::outbox::recover_deliveries(tx, &env, since))?;
    Ok(Json(json!({"object": "recover", "enqueued": n})))
}

/// The instance as the control API shows it (waits, off the async workers, for a first start's
/// signing key).
async fn instance_json(app: &App) -> Value {
    let pem = app
        .signing_key
        .wait()
        .await
        .map(|k| k.public_key_pem().to_owned())
        .ok();
    json!({
        "object": "instance",
        "id": app.instance_id,
        "frontend_api_url": app.fapi_url,
        "backend_api_url": app.fapi_url,
        "publishable_key": app.publishable_key,
        // clerk-js in browser mode: its host has a development suffix, so clerk-js makes a dev
        // browser; it reaches the emulator through the app's relative `proxyUrl`.
        "browser_publishable_key": latchkey_protocol::keys::browser_publishable_key(),
        "browser_snippets": crate::snippets::browser_mode(&app.fapi_url)
            .into_iter()
            .map(|(name, code)| (name.to_owned(), Value::String(code)))
            .collect::<serde_json::Map<_, _>>(),
        "secret_key": app.secret_key.expose(),
        "webhook_secret": app.webhook_secret.expose(),
        "jwks_url": format!("{}/.well-known/jwks.json", app.fapi_url),
        "public_key_pem": pem,
        "settings": *app.settings(),
    })
}

async fn get_instance(State(app): State<Arc<App>>) -> Json<Value> {
    Json(instance_json(&app).await)
}

#[derive(Deserialize)]
struct InstancePatch {
    settings: Option<Value>,
}

async fn patch_instance(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<InstancePatch>,
) -> Result<Json<Value>, ApiError> {
    if let Some(patch) = body.settings {
        if !patch.is_object() {
            return Err(ApiError::param_invalid(
                "settings",
                "settings must be an object.",
            ));
        }
        let next = app
            .settings()
            .patched(&patch)
            .map_err(|e| ApiError::param_invalid("settings", e))?;
        app.set_settings(next)?;
    }
    Ok(Json(instance_json(&app).await))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Challenge {
    client_id: String,
}

/// `POST /_emulator/v1/captcha/challenges` `{"client_id"}`: bot protection doubts that client
/// from now on, as Clerk's risk checks may doubt any; its next browser change is answered 401
/// `requires_captcha` until it solves a challenge (`POST /v1/client/verify`). Needs
/// `captcha.enabled`.
async fn challenge_client(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<Challenge>,
) -> Result<Json<Value>, ApiError> {
    let settings = app.settings();
    let env = app.env(
        &settings,
        app.clock.now_ms(),
        None,
        &crate::domain::RequestInfo::NONE,
    );
    app.write(|tx| crate::domain::attack::challenge_client(tx, &env, &body.client_id))?;
    Ok(Json(
        json!({"object": "captcha_challenge", "client_id": body.client_id}),
    ))
}

async fn reset(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    app.write(crate::domain::cleanup::reset)?;
    Ok(Json(json!({"object": "reset", "deleted": true})))
}

fn time_json(app: &App) -> Value {
    json!({"object": "time", "now": app.clock.now_ms(), "offset_ms": app.clock.offset_ms()})
}

async fn get_time(State(app): State<Arc<App>>) -> Json<Value> {
    Json(time_json(&app))
}

#[derive(Deserialize)]
struct Advance {
    seconds: Option<f64>,
    ms: Option<i64>,
}

async fn advance_time(
    State(app): State<Arc<App>>,
    BapiJson(body): BapiJson<Advance>,
) -> Result<Json<Value>, ApiError> {
    let ms =
        match (body.seconds, body.ms) {
            (Some(s), None) if (0.0..1e12).contains(&s) => (s * 1000.0).round() as i64,
            (None, Some(ms)) if ms >= 0 => ms,
            (None, None) => return Err(ApiError::param_missing("seconds")),
            _ => return Err(ApiError::param_invalid(
                "seconds",
                "Give either seconds or ms, a non-negative number: the clock only moves forward.",
            )),
        };
    // Every process sharing the store moves with it; timers and waiters re-check the clock.
    app.advance_clock(ms)?;
    Ok(Json(time_json(&app)))
}

struct MessageFilter {
    to: Option<String>,
    kind: Option<MessageKind>,
    limit: i64,
    wait_ms: u64,
}

fn message_filter(q: &Option<String>) -> Result<MessageFilter, ApiError> {
    let p = Params::parse(false, q.as_deref().unwrap_or("").as_bytes())?;
    let kind = match p.get("kind").filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(
            MessageKind::try_from(k)
                .map_err(|_| ApiError::param_invalid("kind", "kind must be email or sms."))?,
        ),
    };
    let to = p
        .string("to")
        .filter(|t| !t.is_empty())
        .map(|t| recipient(&t));
    Ok(MessageFilter {
        to,
        kind,
        limit: p.int("limit", 50, 0, 500)?.max(1),
        wait_ms: u64::try_from(p.int("wait_ms", 0, 0, 60_000)?).unwrap_or(0),
    })
}

/// A recipient as messages store it: emails lower-cased, phones in E.164.
pub(super) fn recipient(to: &str) -> String {
    if to.contains('@') {
        to.trim().to_lowercase()
    } else {
        crate::domain::users::normalize_phone(to).unwrap_or_else(|_| to.to_owned())
    }
}

/// A message as `GET /_emulator/v1/messages` lists it.
pub(super) fn message_json(m: &Message) -> Value {
    json!({
        "object": "message",
        "id": m.id,
        "kind": m.kind.as_str(),
        "to": m.to,
        "subject": m.subject,
        "body_text": m.body_text,
        "body_html": m.body_html,
        "code": m.code,
        "link": m.link,
                "template": m.template,
        "created_at": m.created_at,
        "status": m.status,
        "delivered_by_clerk": m.delivered_by_clerk,
        "delivered_via": m.delivered_via,
    })
}

async fn list_messages(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let f = message_filter(&q)?;
    let msgs = app
        .store
        .read(|tx| tx.messages(f.to.as_deref(), f.kind, f.limit))
        .map_err(DomainError::from)?;
    Ok(Json(json!({
        "object": "list",
        "data": msgs.iter().map(message_json).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// The newest message for a recipient; with `wait_ms`, waits for one to arrive.
async fn latest_message(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let f = message_filter(&q)?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(f.wait_ms);
    loop {
        // Register interest before looking, so a commit between the look and the wait is seen.
        let notified = app.committed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let found = app
            .store
            .read(|tx| tx.messages(f.to.as_deref(), f.kind, 1))
            .map_err(DomainError::from)?;
        if let Some(m) = found.first() {
            return Ok(Json(message_json(m)).into_response());
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(ApiError::not_found("message"));
        }
    }
}

async fn delete_messages(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let n = app.write(crate::domain::messages::delete_all)?;
    Ok(Json(json!({"object": "list", "deleted": n})))
}
