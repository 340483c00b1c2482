//! Webhook events. An event is written in the same transaction as the change it reports, with
//! one delivery job per subscribed endpoint: no event for a rolled-back change, none lost for a
//! committed one.

use serde_json::{json, Value};

use super::outbox::{self, Effect};
use super::{ids, views, DomainError, Env};
use crate::store::records::{SessionRecord, UserWithIdents};
use crate::store::Tx;
use latchkey_protocol::EventType;

/// Records an event and enqueues its deliveries. With no endpoint subscribed, nothing is kept.
pub fn emit(
    tx: &Tx<'_>,
    env: &Env<'_>,
    event_type: EventType,
    data: Value,
) -> Result<(), DomainError> {
    emit_with(tx, env, event_type, || Ok(data))
}

/// [`emit`] with the event's data made only when an endpoint wants the event (building it can
/// mean loading and rendering a user).
fn emit_with(
    tx: &Tx<'_>,
    env: &Env<'_>,
    event_type: EventType,
    data: impl FnOnce() -> Result<Value, DomainError>,
) -> Result<(), DomainError> {
    let endpoints: Vec<_> = tx
        .endpoints()?
        .into_iter()
        .filter(|e| e.wants(event_type.as_str()))
        .collect();
    if endpoints.is_empty() {
        return Ok(());
    }
    let data = data()?;
    let id = ids::new_id("msg");
    let payload = json!({
        "data": data,
        "object": "event",
        "type": event_type,
        "timestamp": env.now,
        "instance_id": env.instance_id,
        "event_attributes": {
            "http_request": {
                "client_ip": env.request.client_ip.clone().unwrap_or_default(),
                "user_agent": env.request.user_agent.clone().unwrap_or_default(),
            }
        },
    });
    tx.insert_event(
        &id,
        event_type.as_str(),
        &payload.to_string(),
        env.request.id.as_deref(),
        env.now,
    )?;
    for endpoint in endpoints {
        outbox::record(
            tx,
            env,
            &Effect::DeliverWebhook {
                event_id: id.clone(),
                endpoint_id: endpoint.id,
            },
            env.now,
        )?;
    }
    Ok(())
}

pub fn user(
    tx: &Tx<'_>,
    env: &Env<'_>,
    event_type: EventType,
    u: &UserWithIdents,
) -> Result<(), DomainError> {
    emit_with(tx, env, event_type, || {
        serde_json::to_value(views::user(u, env, true))
            .map_err(|e| DomainError::Internal(e.to_string()))
    })
}

pub fn user_deleted(tx: &Tx<'_>, env: &Env<'_>, user_id: &str) -> Result<(), DomainError> {
    emit(
        tx,
        env,
        EventType::UserDeleted,
        json!({"object": "user", "id": user_id, "deleted": true}),
    )
}

pub fn session(
    tx: &Tx<'_>,
    env: &Env<'_>,
    event_type: EventType,
    s: &SessionRecord,
) -> Result<(), DomainError> {
    emit_with(tx, env, event_type, || {
        let mut data = serde_json::to_value(views::session_bapi(s, env.now))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        // Session events carry the user (the webhooks spec requires it).
        if let Some(u) = tx.user_with_idents(&s.user_id)? {
            data["user"] = serde_json::to_value(views::user(&u, env, true))
                .map_err(|e| DomainError::Internal(e.to_string()))?;
        }
        Ok(data)
    })
}
