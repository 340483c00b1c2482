//! Webhook endpoints: where events go, which events, signed with which secret.

use crate::keys;
use crate::secret::Secret;
use crate::store::{EndpointRow, Tx};

use super::{ids, DomainError};

/// The event types the emulator emits.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "session.created",
    "session.ended",
    "session.removed",
    "session.revoked",
    "email.created",
    "sms.created",
];

pub fn create_endpoint(
    tx: &Tx<'_>,
    now: i64,
    url: &str,
    events: Vec<String>,
    secret: Option<Secret>,
) -> Result<EndpointRow, DomainError> {
    let url = url.trim();
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.chars().any(char::is_whitespace)
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if !valid {
        return Err(DomainError::ParamFormat {
            param: "url",
            reason: "must be an http:// or https:// URL".into(),
        });
    }
    if let Some(bad) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(DomainError::ParamValue {
            param: "events",
            reason: format!("{bad:?} is not an event type ({})", EVENT_TYPES.join(", ")),
        });
    }
    let secret = match secret {
        Some(s) => {
            latchkey_protocol::webhooks::secret_key_bytes(s.expose()).map_err(|_| {
                DomainError::ParamFormat {
                    param: "secret",
                    reason: "must be whsec_ followed by base64".into(),
                }
            })?;
            s
        }
        None => keys::new_webhook_secret(),
    };
    let row = EndpointRow {
        id: ids::new_id("ep"),
        url: url.to_owned(),
        events,
        secret,
        created_at: now,
    };
    tx.insert_endpoint(&row)?;
    Ok(row)
}
