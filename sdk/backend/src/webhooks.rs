//! Webhook verification: Svix / Standard Webhooks signatures.
//!
//! A delivery carries an id, a timestamp (seconds) and one or more space-separated signatures
//! `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the base64 part of the
//! `whsec_…` secret, in `svix-id`/`svix-timestamp`/`svix-signature` or the Standard Webhooks
//! names `webhook-id`/`webhook-timestamp`/`webhook-signature`. The body must be the raw bytes as
//! received: re-serialised JSON does not verify.
//!
//! The crate docs' [Verifying a webhook](crate#verifying-a-webhook) example receives a real
//! `user.created` delivery from an in-process emulator in an axum handler and verifies it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use latchkey_protocol::webhooks::WebhookEvent;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::clock::{Clock, SystemClock};
use crate::secret::WebhookSecret;

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The secret is not `whsec_<base64>` (or bare base64).
    #[error("the webhook secret is not whsec_<base64>")]
    InvalidSecret,
    /// A signature header is missing: `svix-id`/`webhook-id`, `…-timestamp` or `…-signature`.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// `svix-timestamp` is not a whole number of seconds.
    #[error("the timestamp header is not a number of seconds")]
    InvalidTimestamp,
    /// Older than the tolerance (a replay, or a delivery stuck for too long).
    #[error("the delivery is too old (timestamp {timestamp}, now {now})")]
    TimestampTooOld {
        /// The delivery's timestamp (Unix seconds).
        timestamp: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
    },
    /// Newer than the tolerance allows: the sender's or this server's clock is off.
    #[error("the delivery is from the future (timestamp {timestamp}, now {now})")]
    TimestampTooNew {
        /// The delivery's timestamp (Unix seconds).
        timestamp: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
    },
    /// None of the signatures matches the body under this secret.
    #[error("no signature matches")]
    NoValidSignature,
    /// The signature is good but the body is not a webhook event.
    #[error("the body is not a webhook event")]
    InvalidPayload(#[source] serde_json::Error),
}

/// A verified delivery: its id (dedupe on it: deliveries are at-least-once), its timestamp and
/// the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// `svix-id`: the same on every retry of one event.
    pub id: String,
    /// `svix-timestamp` (Unix seconds).
    pub timestamp: i64,
    /// The event.
    pub event: WebhookEvent,
}

/// The id and timestamp of a delivery whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    /// `svix-id`.
    pub id: String,
    /// `svix-timestamp` (Unix seconds).
    pub timestamp: i64,
}

/// Verifies deliveries signed with one webhook secret. `Debug` hides the key.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Vec<u8>,
    tolerance_secs: i64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("key", &"[redacted]")
            .field("tolerance_secs", &self.tolerance_secs)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// For the `whsec_…` secret, with a 5-minute tolerance and the system clock.
    pub fn new(secret: impl Into<WebhookSecret>) -> Result<Self, WebhookError> {
        let secret = secret.into();
        let b64 = secret.expose().trim();
        let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
        let key = STANDARD
            .decode(b64)
            .map_err(|_| WebhookError::InvalidSecret)?;
        if key.is_empty() {
            return Err(WebhookError::InvalidSecret);
        }
        Ok(Self {
            key,
            tolerance_secs: 5 * 60,
            clock: Arc::new(SystemClock),
        })
    }

    /// How far a delivery's timestamp may be from now, either way (default 5 minutes).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies a delivery and returns its event.
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify_delivery(headers, body).map(|d| d.event)
    }

    /// Verifies a delivery and returns it with its id and timestamp.
    pub fn verify_delivery(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, WebhookError> {
        let signed = self.verify_signature(headers, body)?;
        let event = serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)?;
        Ok(Delivery {
            id: signed.id,
            timestamp: signed.timestamp,
            event,
        })
    }

    /// Checks only the signature and timestamp, for bodies that are not webhook events.
    pub fn verify_signature(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<SignedMessage, WebhookError> {
        // Svix's names first; the Standard Webhooks names when there is no `svix-id`.
        let names = if headers.contains_key("svix-id") {
            ["svix-id", "svix-timestamp", "svix-signature"]
        } else {
            ["webhook-id", "webhook-timestamp", "webhook-signature"]
        };
        let get = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty())
                .ok_or(WebhookError::MissingHeader(name))
        };
        let (id, timestamp, signatures) = (get(names[0])?, get(names[1])?, get(names[2])?);
        self.verify_parts(id, timestamp, signatures, body)
    }

    /// Checks a signature header against `{id}.{timestamp}.{body}`.
    pub fn verify_parts(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
    ) -> Result<SignedMessage, WebhookError> {
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::InvalidTimestamp)?;
        let now = self.clock.now_secs();
        if now.saturating_sub(timestamp) > self.tolerance_secs {
            return Err(WebhookError::TimestampTooOld { timestamp, now });
        }
        if timestamp.saturating_sub(now) > self.tolerance_secs {
            return Err(WebhookError::TimestampTooNew { timestamp, now });
        }
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).map_err(|_| WebhookError::InvalidSecret)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        let matched = signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .any(|sig| bool::from(sig.as_slice().ct_eq(expected.as_slice())));
        if !matched {
            return Err(WebhookError::NoValidSignature);
        }
        Ok(SignedMessage {
            id: id.to_owned(),
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_must_be_base64() {
        assert!(matches!(
            WebhookVerifier::new("whsec_!!!"),
            Err(WebhookError::InvalidSecret)
        ));
        assert!(matches!(
            WebhookVerifier::new("whsec_"),
            Err(WebhookError::InvalidSecret)
        ));
        assert!(WebhookVerifier::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        let v = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(!format!("{v:?}").contains("MfKQ"));
    }
}
