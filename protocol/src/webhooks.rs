//! Webhook events and their Standard Webhooks / Svix signatures.
//!
//! A delivery carries `svix-id`, `svix-timestamp` (seconds) and `svix-signature: v1,<base64>`,
//! where the signature is HMAC-SHA256 over `"{id}.{timestamp}.{body}"` keyed with the base64
//! part of the `whsec_…` secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::vocab::EventType;

/// The envelope of every webhook event. Its `Debug` leaves `data` out: `email.created` and
/// `sms.created` carry the one-time code there.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The object the event is about (a user, a session, a message), as the Backend API shows it.
    pub data: Value,
    /// Always `event`.
    pub object: String,
    /// As sent (a receiver also gets types this crate does not know); compare it with an
    /// [`EventType`] or read [`WebhookEvent::known_type`].
    #[serde(rename = "type")]
    pub event_type: String,
    /// Milliseconds.
    pub timestamp: i64,
    /// The instance that sent it (`ins_…`).
    pub instance_id: String,
    /// Facts about the request that caused the event (`http_request.client_ip`, `user_agent`).
    #[serde(default)]
    pub event_attributes: Value,
}

impl std::fmt::Debug for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEvent")
            .field("object", &self.object)
            .field("event_type", &self.event_type)
            .field("timestamp", &self.timestamp)
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

impl WebhookEvent {
    /// The type as an [`EventType`], `None` for one this crate does not know.
    pub fn known_type(&self) -> Option<EventType> {
        self.event_type.parse().ok()
    }
}

/// Why a webhook signing secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// Not `whsec_<base64>` (or bare base64).
    Malformed,
}

/// The HMAC key of a `whsec_…` secret.
pub fn secret_key_bytes(secret: &str) -> Result<Vec<u8>, SecretError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(b64).map_err(|_| SecretError::Malformed)
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(
    secret: &str,
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> Result<String, SecretError> {
    let key = secret_key_bytes(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SecretError::Malformed)?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_debug_leaves_out_its_data() {
        let e = WebhookEvent {
            data: serde_json::json!({"data": {"otp_code": "625330"}}),
            object: "event".into(),
            event_type: "email.created".into(),
            timestamp: 1,
            instance_id: "ins_1".into(),
            event_attributes: Value::Null,
        };
        let shown = format!("{e:?}");
        assert!(
            shown.contains("email.created") && !shown.contains("625330"),
            "{shown}"
        );
    }

    // The example from the Standard Webhooks specification.
    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Ok("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("whsec_!!!", "m", 1, b""), Err(SecretError::Malformed));
    }
}
