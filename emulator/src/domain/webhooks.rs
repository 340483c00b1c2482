//! Webhook endpoints: where events go, which events, signed with which secret.

use crate::keys;
use crate::secret::Secret;
use crate::store::{EndpointRecord, Tx};
use latchkey_protocol::EventType;

use super::{ids, DomainError};

/// Endpoints an instance may have: each event fans out to every endpoint, so the count is
/// bounded.
pub const MAX_ENDPOINTS: usize = 50;

/// Signing keys shorter than this (decoded) are refused: anyone could forge their signatures.
/// Svix's own secrets are 24 to 64 bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A custom endpoint secret: `whsec_` and the base64 of 24 to 64 random bytes.
pub(crate) fn check_secret(secret: &str) -> Result<(), DomainError> {
    let bad = |reason: &str| DomainError::ParamFormat {
        param: "secret",
        reason: reason.into(),
    };
    if !secret.starts_with("whsec_") {
        return Err(bad("must start with whsec_"));
    }
    let key = latchkey_protocol::webhooks::secret_key_bytes(secret)
        .map_err(|_| bad("must be whsec_ followed by base64"))?;
    if !SECRET_BYTES.contains(&key.len()) {
        return Err(bad("must decode to 24 to 64 bytes"));
    }
    Ok(())
}

/// An endpoint URL as stored: trimmed, `http://` or `https://` with something after it, no
/// whitespace, at most 2,048 bytes.
pub(crate) fn check_url(url: &str) -> Result<&str, DomainError> {
    let url = url.trim();
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.chars().any(char::is_whitespace)
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if valid {
        Ok(url)
    } else {
        Err(DomainError::ParamFormat {
            param: "url",
            reason: "must be an http:// or https:// URL".into(),
        })
    }
}

/// One of the event types the emulator emits (`EventType::ALL`).
pub(crate) fn check_event_type(event: &str) -> Result<(), DomainError> {
    if event.parse::<EventType>().is_ok() {
        return Ok(());
    }
    let all: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    Err(DomainError::ParamValue {
        param: "events",
        reason: format!("{event:?} is not an event type ({})", all.join(", ")),
    })
}

pub fn create_endpoint(
    tx: &Tx<'_>,
    now: i64,
    url: &str,
    events: Vec<String>,
    secret: Option<Secret>,
) -> Result<EndpointRecord, DomainError> {
    let url = check_url(url)?;
    events.iter().try_for_each(|e| check_event_type(e))?;
    if tx.endpoints()?.len() >= MAX_ENDPOINTS {
        return Err(DomainError::ParamValue {
            param: "url",
            reason: format!(
                "an instance has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
            ),
        });
    }
    let secret = match secret {
        Some(s) => {
            check_secret(s.expose())?;
            s
        }
        None => keys::new_webhook_secret(),
    };
    let row = EndpointRecord {
        id: ids::new_id("ep"),
        url: url.to_owned(),
        events,
        secret,
        created_at: now,
    };
    tx.insert_endpoint(&row)?;
    Ok(row)
}

/// Deletes an endpoint; `NotFound` when there is none with `id`.
pub fn delete_endpoint(tx: &Tx<'_>, id: &str) -> Result<(), DomainError> {
    if tx.delete_endpoint(id)? {
        Ok(())
    } else {
        Err(DomainError::NotFound("webhook endpoint"))
    }
}
