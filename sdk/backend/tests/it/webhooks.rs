//! Webhook verification, checked against an independent vector (the Standard Webhooks spec's
//! example), against deliveries signed with the emulator's secret by `latchkey-protocol`'s
//! signer — a separate implementation from the verifier's — and against the emulator's own
//! deliveries to a real receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use latchkey_backend::webhooks::{Delivery, SignedMessage};
use latchkey_backend::{WebhookError, WebhookVerifier};
use latchkey_protocol::webhooks::{WebhookEvent, sign};
use latchkey_testkit::Method;
use serde_json::json;

use crate::support::*;

const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TS: i64 = 1614265330;
const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn headers(prefix: &str, id: &str, ts: &str, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [("id", id), ("timestamp", ts), ("signature", sig)] {
        h.insert(
            axum::http::HeaderName::try_from(format!("{prefix}-{name}")).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    h
}

fn at(secs: i64) -> impl Fn() -> i64 + Send + Sync + 'static {
    move || secs * 1000
}

#[test]
fn the_standard_webhooks_example_verifies_under_both_header_names() {
    let v = WebhookVerifier::new(SPEC_SECRET)
        .unwrap()
        .clock(at(SPEC_TS));
    for prefix in ["webhook", "svix"] {
        let h = headers(prefix, SPEC_ID, &SPEC_TS.to_string(), SPEC_SIG);
        assert_eq!(
            v.verify_signature(&h, SPEC_BODY).unwrap(),
            SignedMessage {
                id: SPEC_ID.into(),
                timestamp: SPEC_TS
            },
            "{prefix}-*"
        );
        // Signed, but `{"test": …}` is not a webhook event.
        assert!(matches!(
            v.verify(&h, SPEC_BODY),
            Err(WebhookError::InvalidPayload(_))
        ));
        // One byte more in the body and it fails.
        assert!(matches!(
            v.verify_signature(&h, br#"{"test": 2432232315}"#),
            Err(WebhookError::NoValidSignature)
        ));
    }
}

#[test]
fn one_good_signature_among_several_is_enough() {
    let v = WebhookVerifier::new(SPEC_SECRET)
        .unwrap()
        .clock(at(SPEC_TS));
    let ts = SPEC_TS.to_string();
    let rotated = "v1,Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg=";
    for header in [
        format!("{rotated} {SPEC_SIG}"),
        format!("{SPEC_SIG} {rotated}"),
        format!("v1a,c2lnbmF0dXJl v2,abc not-a-signature {SPEC_SIG}"),
    ] {
        let h = headers("svix", SPEC_ID, &ts, &header);
        assert!(v.verify_signature(&h, SPEC_BODY).is_ok(), "{header}");
    }
    for header in [
        rotated.to_owned(),
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned(),
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned(),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE".to_owned(),
    ] {
        let h = headers("svix", SPEC_ID, &ts, &header);
        assert!(
            matches!(
                v.verify_signature(&h, SPEC_BODY),
                Err(WebhookError::NoValidSignature)
            ),
            "{header}"
        );
    }
}

#[test]
fn timestamps_outside_five_minutes_are_refused_either_way() {
    let ts = SPEC_TS.to_string();
    let h = headers("svix", SPEC_ID, &ts, SPEC_SIG);
    let verifier = |now: i64| WebhookVerifier::new(SPEC_SECRET).unwrap().clock(at(now));
    assert!(
        verifier(SPEC_TS + 300)
            .verify_signature(&h, SPEC_BODY)
            .is_ok()
    );
    assert!(
        verifier(SPEC_TS - 300)
            .verify_signature(&h, SPEC_BODY)
            .is_ok()
    );
    assert!(matches!(
        verifier(SPEC_TS + 301).verify_signature(&h, SPEC_BODY),
        Err(WebhookError::TimestampTooOld {
            timestamp: SPEC_TS,
            ..
        })
    ));
    assert!(matches!(
        verifier(SPEC_TS - 301).verify_signature(&h, SPEC_BODY),
        Err(WebhookError::TimestampTooNew { .. })
    ));
    let wide = verifier(SPEC_TS + 3600).tolerance(Duration::from_secs(7200));
    assert!(wide.verify_signature(&h, SPEC_BODY).is_ok());
    let bad_ts = headers("svix", SPEC_ID, "yesterday", SPEC_SIG);
    assert!(matches!(
        verifier(SPEC_TS).verify_signature(&bad_ts, SPEC_BODY),
        Err(WebhookError::InvalidTimestamp)
    ));
}

#[test]
fn missing_headers_and_a_wrong_secret_are_refused() {
    let v = WebhookVerifier::new(SPEC_SECRET)
        .unwrap()
        .clock(at(SPEC_TS));
    let mut h = headers("svix", SPEC_ID, &SPEC_TS.to_string(), SPEC_SIG);
    h.remove("svix-signature");
    assert!(matches!(
        v.verify_signature(&h, SPEC_BODY),
        Err(WebhookError::MissingHeader("svix-signature"))
    ));
    assert!(matches!(
        v.verify_signature(&HeaderMap::new(), SPEC_BODY),
        Err(WebhookError::MissingHeader("webhook-id"))
    ));
    let other = WebhookVerifier::new("whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=")
        .unwrap()
        .clock(at(SPEC_TS));
    let h = headers("svix", SPEC_ID, &SPEC_TS.to_string(), SPEC_SIG);
    assert!(matches!(
        other.verify_signature(&h, SPEC_BODY),
        Err(WebhookError::NoValidSignature)
    ));
}

#[tokio::test]
async fn a_delivery_signed_with_the_emulators_secret_verifies_to_a_typed_event() {
    let env = start().await;
    let user = env.create_user("hook@example.com").await;
    let event = WebhookEvent {
        data: serde_json::to_value(&user).unwrap(),
        object: "event".into(),
        event_type: "user.created".into(),
        timestamp: env.emu.clock().now_ms(),
        instance_id: env.emu.instance_id().to_owned(),
        event_attributes: json!({"http_request": {"client_ip": "127.0.0.1", "user_agent": "test"}}),
    };
    let body = serde_json::to_vec(&event).unwrap();
    let now = env.now_secs();
    let sig = sign(env.emu.webhook_secret(), "msg_1", now, &body).unwrap();
    let h = headers("svix", "msg_1", &now.to_string(), &sig);

    let v = WebhookVerifier::new(env.emu.webhook_secret())
        .unwrap()
        .clock(env.clock());
    let delivery = v.verify_delivery(&h, &body).unwrap();
    assert_eq!(delivery.id, "msg_1");
    assert_eq!(delivery.timestamp, now);
    assert_eq!(delivery.event, event);
    assert_eq!(delivery.event.data["id"], json!(user.id));
    assert_eq!(v.verify(&h, &body).unwrap().event_type, "user.created");

    // A changed body, a replay six minutes later, another instance's secret: refused.
    let mut changed = event.clone();
    changed.event_type = "user.deleted".into();
    assert!(matches!(
        v.verify(&h, &serde_json::to_vec(&changed).unwrap()),
        Err(WebhookError::NoValidSignature)
    ));
    env.advance_secs(6 * 60);
    assert!(matches!(
        v.verify(&h, &body),
        Err(WebhookError::TimestampTooOld { .. })
    ));
    let other = start_with_own_key().await;
    let stranger = WebhookVerifier::new(other.emu.webhook_secret())
        .unwrap()
        .clock(env.clock());
    let fresh_ts = env.now_secs();
    let sig = sign(env.emu.webhook_secret(), "msg_2", fresh_ts, &body).unwrap();
    let h = headers("svix", "msg_2", &fresh_ts.to_string(), &sig);
    assert!(v.verify(&h, &body).is_ok());
    assert!(matches!(
        stranger.verify(&h, &body),
        Err(WebhookError::NoValidSignature)
    ));
}

/// What a receiver made of the deliveries it got: each verified delivery, and how many it refused.
#[derive(Clone)]
struct Receiver {
    verifier: Arc<Mutex<Option<WebhookVerifier>>>,
    verified: Arc<Mutex<Vec<Delivery>>>,
    refused: Arc<Mutex<usize>>,
}

/// Verifies each delivery as an application would: 204 when it verifies, 400 when not.
async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verifier = r.verifier.lock().unwrap().clone();
    match verifier.map(|v| v.verify_delivery(&headers, &body)) {
        Some(Ok(delivery)) => {
            r.verified.lock().unwrap().push(delivery);
            StatusCode::NO_CONTENT
        }
        _ => {
            *r.refused.lock().unwrap() += 1;
            StatusCode::BAD_REQUEST
        }
    }
}

/// The emulator delivers `user.created` to a receiver registered with `.webhook_url(…)`; the
/// receiver's `WebhookVerifier` accepts the real delivery and decodes the typed event.
#[tokio::test]
async fn a_real_emulator_delivery_verifies_and_decodes_to_the_typed_event() {
    let receiver = Receiver {
        verifier: Arc::default(),
        verified: Arc::default(),
        refused: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let env = start_from(builder().webhook_url(&hook_url)).await;
    *receiver.verifier.lock().unwrap() = Some(
        WebhookVerifier::new(env.emu.webhook_secret())
            .unwrap()
            .clock(env.clock()),
    );
    let user = env.create_user("delivered@example.com").await;
    env.wait_idle().await;

    assert_eq!(
        *receiver.refused.lock().unwrap(),
        0,
        "every delivery verified"
    );
    let verified = receiver.verified.lock().unwrap().clone();
    let created: Vec<&Delivery> = verified
        .iter()
        .filter(|d| d.event.event_type == "user.created")
        .collect();
    assert_eq!(created.len(), 1, "{verified:?}");
    let delivery = created[0];
    assert_eq!(delivery.event.object, "event");
    assert_eq!(delivery.event.instance_id, env.emu.instance_id());
    assert_eq!(delivery.event.data["object"], "user");
    assert_eq!(delivery.event.data["id"], json!(user.id));
    assert_eq!(
        delivery.event.data["email_addresses"][0]["email_address"],
        "delivered@example.com"
    );
    // The payload's user is the Backend API's user object.
    let as_user: latchkey_protocol::User =
        serde_json::from_value(delivery.event.data.clone()).unwrap();
    assert_eq!(as_user.id, user.id);
    assert_eq!(as_user.primary_email(), Some("delivered@example.com"));

    // The emulator's delivery log agrees: this event, to this endpoint, answered 204.
    let r = env
        .control(
            Method::GET,
            "/webhooks/deliveries?event_type=user.created",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let log = r.body;
    let attempts = log["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{log}");
    assert_eq!(attempts[0]["event_id"], json!(delivery.id));
    assert_eq!(attempts[0]["status_code"], 204);
    assert_eq!(attempts[0]["succeeded"], true);
}
