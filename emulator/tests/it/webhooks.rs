//! Webhook events, Svix signatures checked by an independent library, retries on Svix's
//! schedule by the emulator's clock, the delivery log, replay and recover.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::receiver::Receiver;
use crate::support::*;

static WEBHOOKS: std::sync::OnceLock<openapi_check::Spec> = std::sync::OnceLock::new();

fn webhooks_spec() -> &'static openapi_check::Spec {
    WEBHOOKS.get_or_init(|| {
        openapi_check::Spec::load(format!(
            "{}/../../shared/clerk-openapi/webhooks-2025-04-15.yml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    })
}

/// Checks an event payload against the webhooks spec's request body for its type.
#[track_caller]
pub(crate) fn validate_event(body: &Value) {
    let t = body["type"].as_str().unwrap();
    let spec = webhooks_spec();
    let schema = &spec.document()["x-webhooks"][t]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert!(schema.is_object(), "no schema for {t}");
    let errs = spec.check_value(schema, body);
    assert!(
        errs.is_empty(),
        "{t} payload does not match the webhooks spec:\n{}\n{body}",
        errs.join("\n")
    );
}

pub(crate) async fn endpoint(h: &Harness, url: &str, events: Value) -> (String, String) {
    let r = h
        .control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": url, "events": events})),
        )
        .await;
    let b = r.ok();
    (
        b["id"].as_str().unwrap().to_owned(),
        b["secret"].as_str().unwrap().to_owned(),
    )
}

fn verify_standard(secret: &str, d: &crate::receiver::Delivery) {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(&d.body, &d.headers)
        .unwrap_or_else(|e| panic!("standardwebhooks rejects the delivery: {e:?}"));
    // The svix-* headers carry the same signature.
    assert_eq!(d.header("svix-id"), d.header("webhook-id"));
    assert_eq!(d.header("svix-signature"), d.header("webhook-signature"));
    let other = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert!(
        other.verify(&d.body, &d.headers).is_err(),
        "a wrong secret must not verify"
    );
    let mut tampered = d.body.to_vec();
    tampered.push(b' ');
    assert!(
        wh.verify(&tampered, &d.headers).is_err(),
        "a changed body must not verify"
    );
}

#[tokio::test]
async fn lifecycle_events_arrive_signed_and_shaped_as_the_spec_says() {
    let h = start().await;
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(&h, &rx.url, json!([])).await;
    let mut c = h.fapi();
    let sid = c.sign_up("hook@example.com", "lk-Test-pass-4921").await;
    let uid = h
        .bapi(
            Method::GET,
            "/v1/users?email_address=hook@example.com",
            None,
        )
        .await
        .ok()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.bapi(
        Method::PATCH,
        &format!("/v1/users/{uid}"),
        Some(json!({"first_name": "Hooked"})),
    )
    .await
    .ok();
    c.post(&format!("/v1/client/sessions/{sid}/end"), &[])
        .await
        .ok();
    let sid2 = c.sign_in("hook@example.com", "lk-Test-pass-4921").await;
    h.bapi(Method::POST, &format!("/v1/sessions/{sid2}/revoke"), None)
        .await
        .ok();
    h.bapi(Method::DELETE, &format!("/v1/users/{uid}"), None)
        .await
        .ok();
    h.wait_idle().await;

    let got = rx.got();
    let types: Vec<String> = got
        .iter()
        .map(|d| d.json()["type"].as_str().unwrap().to_owned())
        .collect();
    for t in [
        "email.created",
        "user.created",
        "session.created",
        "user.updated",
        "session.ended",
        "session.revoked",
        "user.deleted",
    ] {
        assert!(types.contains(&t.to_owned()), "no {t} in {types:?}");
    }
    let mut ids = std::collections::HashSet::new();
    for d in &got {
        verify_standard(&secret, d);
        validate_event(&d.json());
        assert!(ids.insert(d.header("svix-id")), "one svix-id per event");
        let body = d.json();
        assert_eq!(body["object"], "event");
        assert!(body["instance_id"].as_str().unwrap().starts_with("ins_"));
        assert!(
            body["timestamp"].as_i64().unwrap() > 1_600_000_000_000,
            "milliseconds"
        );
    }
    let created = &rx.of_type("user.created")[0].json();
    assert_eq!(created["data"]["id"], uid);
    assert_eq!(
        created["data"]["email_addresses"][0]["email_address"],
        "hook@example.com"
    );
    let email = &rx.of_type("email.created")[0].json();
    assert_eq!(email["data"]["to_email_address"], "hook@example.com");
    assert_eq!(email["data"]["delivered_by_clerk"], true);
    assert_eq!(email["data"]["data"]["otp_code"].as_str().unwrap().len(), 6);
    let deleted = &rx.of_type("user.deleted")[0].json();
    assert_eq!(
        deleted["data"],
        json!({"object": "user", "id": uid, "deleted": true})
    );
}

#[tokio::test]
async fn endpoints_filter_event_types_and_validate_input() {
    let h = start().await;
    let rx = Receiver::start().await;
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    h.create_user("only@example.com", "lk-Test-pass-4921").await;
    h.fapi()
        .sign_in("only@example.com", "lk-Test-pass-4921")
        .await;
    h.wait_idle().await;
    let types: Vec<Value> = rx.got().iter().map(|d| d.json()["type"].clone()).collect();
    assert_eq!(types, vec![json!("user.created")]);
    let r = h
        .control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": "ftp://x"})),
        )
        .await;
    r.err(422, "form_param_format_invalid");
    let r = h
        .control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": "http://x", "events": ["user.exploded"]})),
        )
        .await;
    r.err(422, "form_param_value_invalid");
    let list = h.control(Method::GET, "/webhooks/endpoints", None).await;
    let id = list.ok()["data"][0]["id"].as_str().unwrap().to_owned();
    h.control(Method::DELETE, &format!("/webhooks/endpoints/{id}"), None)
        .await
        .ok();
    h.control(Method::DELETE, &format!("/webhooks/endpoints/{id}"), None)
        .await
        .err(404, "resource_not_found");
}

async fn attempts_of(h: &Harness, event_type: &str) -> Vec<Value> {
    let r = h
        .control(
            Method::GET,
            &format!("/webhooks/deliveries?event_type={event_type}"),
            None,
        )
        .await;
    let mut v = r.ok()["data"].as_array().unwrap().clone();
    v.reverse(); // oldest first
    v
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_four_attempts_on_svix_schedule() {
    let h = start().await;
    let rx = Receiver::start().await;
    rx.script(&[500, 503, 400]);
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    h.create_user("retry@example.com", "lk-Test-pass-4921")
        .await;
    h.wait_idle().await;
    assert_eq!(rx.got().len(), 1, "attempt 1 right away");
    for (step, secs) in [5, 300, 1800].into_iter().enumerate() {
        // Not a moment early.
        h.advance(secs - 1).await;
        h.wait_idle().await;
        assert_eq!(
            rx.got().len(),
            step + 1,
            "no attempt before the schedule says"
        );
        h.advance(1).await;
        h.wait_idle().await;
        assert_eq!(rx.got().len(), step + 2);
    }
    h.advance(24 * 3600).await;
    h.wait_idle().await;
    let got = rx.got();
    assert_eq!(got.len(), 4, "exactly four attempts");
    let ids: std::collections::HashSet<String> = got.iter().map(|d| d.header("svix-id")).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same svix-id");
    let log = attempts_of(&h, "user.created").await;
    let statuses: Vec<Value> = log.iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(
        statuses,
        vec![json!(500), json!(503), json!(400), json!(204)]
    );
    let at: Vec<i64> = log
        .iter()
        .map(|a| a["created_at"].as_i64().unwrap())
        .collect();
    let gaps: Vec<i64> = at.windows(2).map(|w| (w[1] - w[0] + 500) / 1000).collect();
    assert_eq!(gaps, vec![5, 300, 1800], "offsets follow Svix's schedule");
    assert_eq!(log[3]["succeeded"], true);
    assert!(log.iter().all(|a| a["duration_ms"].is_i64()));
}

#[tokio::test]
async fn a_receiver_that_always_fails_is_exhausted_after_eight_attempts_then_recovered() {
    let h = start().await;
    let rx = Receiver::start().await;
    rx.always(500);
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    let t0 = h.emu.clock().now_ms();
    h.create_user("dead@example.com", "lk-Test-pass-4921").await;
    h.wait_idle().await;
    for secs in [5, 300, 1800, 7200, 18000, 36000, 36000, 100_000] {
        h.advance(secs).await;
        h.wait_idle().await;
    }
    assert_eq!(
        rx.got().len(),
        8,
        "eight attempts, then the message is exhausted"
    );
    let log = attempts_of(&h, "user.created").await;
    assert_eq!(log.len(), 8);
    assert!(log
        .iter()
        .all(|a| a["succeeded"] == false && a["status_code"] == 500));
    let dead = h
        .control(Method::GET, "/jobs?state=dead&kind=deliver_webhook", None)
        .await;
    let job = &dead.ok()["data"][0];
    assert_eq!(job["attempts"], 8);
    assert_eq!(job["last_error"], "endpoint answered 500");

    // Recover everything that failed since t0: the receiver is fixed now.
    rx.always(200);
    let r = h
        .control(
            Method::POST,
            "/webhooks/recover",
            Some(json!({"since": t0})),
        )
        .await;
    assert_eq!(r.ok()["enqueued"], 1);
    h.wait_idle().await;
    assert_eq!(rx.got().len(), 9);
    assert_eq!(
        attempts_of(&h, "user.created").await.last().unwrap()["succeeded"],
        true
    );
}

#[tokio::test]
async fn replay_sends_one_message_to_one_endpoint_again_with_its_svix_id() {
    let h = start().await;
    let rx = Receiver::start().await;
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    h.create_user("again@example.com", "lk-Test-pass-4921")
        .await;
    h.wait_idle().await;
    let log = attempts_of(&h, "user.created").await;
    let id = log[0]["id"].as_i64().unwrap();
    h.control(
        Method::POST,
        &format!("/webhooks/deliveries/{id}/replay"),
        None,
    )
    .await
    .ok();
    h.wait_idle().await;
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].header("svix-id"),
        got[1].header("svix-id"),
        "receivers dedupe by svix-id"
    );
    assert_eq!(got[0].body, got[1].body);
    h.control(Method::POST, "/webhooks/deliveries/999999/replay", None)
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn the_request_id_travels_into_jobs_and_deliveries() {
    let h = start().await;
    let rx = Receiver::start().await;
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    let res = h
        .http
        .post(format!("{}/v1/users", h.emu.url()))
        .header("authorization", format!("Bearer {}", h.emu.secret_key()))
        .header("x-request-id", "req_from_the_test")
        .json(&json!({"email_address": ["rid@example.com"], "password": "lk-Test-pass-4921"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req_from_the_test");
    h.wait_idle().await;
    assert_eq!(
        rx.got()[0].header("x-latchkey-request-id"),
        "req_from_the_test"
    );
    let log = attempts_of(&h, "user.created").await;
    assert_eq!(log[0]["request_id"], "req_from_the_test");
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_webhook", None)
        .await;
    assert_eq!(jobs.ok()["data"][0]["request_id"], "req_from_the_test");
    // Without one, the emulator makes one up and answers with it.
    let r = h
        .http
        .get(format!("{}/v1/health", h.emu.url()))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
}

#[tokio::test]
async fn a_verification_email_is_not_stuck_behind_a_webhook_backlog() {
    let h = start_from(
        latchkey_emulator::Emulator::builder()
            .ephemeral()
            .workers(2),
    )
    .await;
    let rx = Receiver::start().await;
    rx.delay(Duration::from_millis(300));
    endpoint(&h, &rx.url, json!([])).await;
    for i in 0..30 {
        h.create_user(&format!("bulk{i}@example.com"), "lk-Test-pass-4921")
            .await;
    }
    // ~9 s of webhook work is queued behind two workers; the email must not wait for it.
    let started = std::time::Instant::now();
    h.fapi()
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "urgent@example.com"),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "email_code"),
            ],
        )
        .await
        .ok();
    let r = h
        .http
        .get(format!(
            "{}/_emulator/v1/messages/latest?to=urgent@example.com&wait_ms=3000",
            h.emu.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the email was captured while webhooks were backed up"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_webhook&state=queued", None)
        .await;
    assert!(
        !jobs.ok()["data"].as_array().unwrap().is_empty(),
        "the backlog was still there"
    );
}

#[tokio::test]
async fn bapi_svix_endpoints_answer_in_the_spec_shape() {
    let h = start().await;
    let r = h.bapi(Method::POST, "/v1/webhooks/svix", None).await;
    assert!(r.ok()["svix_url"]
        .as_str()
        .unwrap()
        .starts_with(h.emu.url()));
    let r = h.bapi(Method::POST, "/v1/webhooks/svix_url", None).await;
    assert!(r.ok()["svix_url"].is_string());
    let r = h
        .bapi_raw(
            Method::DELETE,
            "/v1/webhooks/svix",
            Some(&format!("Bearer {}", h.emu.secret_key())),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
}

/// Starts a phone sign-up (phone numbers switched on) and sends its SMS code; returns the code
/// from the inbox.
async fn phone_code_for<'h>(h: &'h Harness, phone: &str) -> (Native<'h>, String, String) {
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[("phone_number", phone), ("password", "lk-Test-pass-4921")],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        &[("strategy", "phone_code")],
    )
    .await
    .ok();
    let inbox = h
        .control(
            Method::GET,
            &format!("/messages?to={}&kind=sms", urlencode(phone)),
            None,
        )
        .await;
    let msgs = inbox.ok()["data"].as_array().unwrap().clone();
    assert_eq!(msgs.len(), 1, "one SMS captured for {phone}: {msgs:?}");
    assert_eq!(msgs[0]["kind"], "sms");
    let code = msgs[0]["code"].as_str().unwrap().to_owned();
    assert!(msgs[0]["body_text"].as_str().unwrap().contains(&code));
    (c, id, code)
}

#[tokio::test]
async fn sms_created_carries_the_message_and_with_delivery_off_the_code_for_the_app_to_send() {
    let h = start().await;
    h.set_settings(json!({
        "email_address": {"enabled": false, "required": false, "used_for_first_factor": false},
        "phone_number": {"enabled": true, "required": true, "used_for_first_factor": true, "verify_at_sign_up": true}
    }))
    .await;
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(&h, &rx.url, json!(["sms.created"])).await;

    // Delivered by Clerk (the default): the event describes the SMS that was sent.
    let (_, _, code) = phone_code_for(&h, "+14155552671").await;
    h.wait_idle().await;
    let got = rx.of_type("sms.created");
    assert_eq!(got.len(), 1, "one sms.created per SMS");
    verify_standard(&secret, &got[0]);
    let ev = got[0].json();
    validate_event(&ev);
    assert_eq!(ev["data"]["object"], "sms_message");
    assert_eq!(ev["data"]["to_phone_number"], "+14155552671");
    assert_eq!(ev["data"]["delivered_by_clerk"], true);
    assert_eq!(ev["data"]["status"], "queued");
    assert_eq!(ev["data"]["data"]["otp_code"], code.as_str());
    assert!(ev["data"]["message"].as_str().unwrap().contains(&code));

    // Delivery off: still captured in the inbox; the event is the app's cue to send it itself.
    h.set_settings(json!({"delivered_by_clerk": false})).await;
    let (mut c, id, inbox_code) = phone_code_for(&h, "+14155552672").await;
    h.wait_idle().await;
    let got = rx.of_type("sms.created");
    assert_eq!(got.len(), 2);
    let ev = got
        .iter()
        .map(|d| d.json())
        .find(|b| b["data"]["to_phone_number"] == "+14155552672")
        .expect("sms.created for the second number");
    validate_event(&ev);
    assert_eq!(ev["data"]["delivered_by_clerk"], false);
    assert_eq!(ev["data"]["status"], "delivered_by_app");
    let otp = ev["data"]["data"]["otp_code"].as_str().unwrap().to_owned();
    assert_eq!(
        otp, inbox_code,
        "the event carries the code that was issued"
    );
    let inbox = h
        .control(Method::GET, "/messages?to=%2B14155552672", None)
        .await;
    assert_eq!(inbox.ok()["data"][0]["delivered_by_clerk"], false);
    // The code the app would send from the webhook completes the sign-up.
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "phone_code"), ("code", &otp)],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn removing_a_session_sends_session_removed_and_ending_one_does_not() {
    let h = start().await;
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(&h, &rx.url, json!(["session.removed"])).await;
    let uid = h
        .create_user("removed@example.com", "lk-Test-pass-4921")
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = h.fapi();
    let ended = c.sign_in("removed@example.com", "lk-Test-pass-4921").await;
    c.post(&format!("/v1/client/sessions/{ended}/end"), &[])
        .await
        .ok();
    let removed = c.sign_in("removed@example.com", "lk-Test-pass-4921").await;
    let r = c
        .post(&format!("/v1/client/sessions/{removed}/remove"), &[])
        .await;
    assert_eq!(r.ok()["response"]["status"], "removed");
    h.wait_idle().await;
    let got = rx.got();
    assert_eq!(got.len(), 1, "only the removed session: {got:?}");
    verify_standard(&secret, &got[0]);
    let ev = got[0].json();
    validate_event(&ev);
    assert_eq!(ev["type"], "session.removed");
    assert_eq!(ev["data"]["id"], removed);
    assert_eq!(ev["data"]["status"], "removed");
    assert_eq!(ev["data"]["user_id"], uid);
    assert_eq!(ev["data"]["user"]["id"], uid);
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{removed}"), None)
        .await;
    assert_eq!(s.ok()["status"], "removed");
}

#[tokio::test]
async fn a_receiver_that_hangs_up_without_answering_is_a_failed_attempt_retried_on_schedule() {
    let h = start().await;
    let rx = crate::receiver::Mute::start(crate::receiver::MuteMode::HangUp).await;
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    h.create_user("hangup@example.com", "lk-Test-pass-4921")
        .await;
    h.wait_idle().await;
    assert_eq!(rx.count(), 1);
    let log = attempts_of(&h, "user.created").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["succeeded"], false);
    assert_eq!(log[0]["status_code"], json!(null), "no answer, no status");
    let error = log[0]["error"].as_str().unwrap().to_owned();
    assert!(!error.is_empty(), "the attempt says what went wrong");
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_webhook", None)
        .await;
    let job = &jobs.ok()["data"][0];
    assert_eq!(job["state"], "queued", "to be retried: {job}");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["last_error"], error.as_str());
    // The retry comes 5 s later by the emulator's clock, and not before.
    h.advance(4).await;
    h.wait_idle().await;
    assert_eq!(rx.count(), 1);
    h.advance(1).await;
    h.wait_idle().await;
    assert_eq!(rx.count(), 2, "the second attempt");
    let log = attempts_of(&h, "user.created").await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1]["attempt"], 2, "{log:?}");
}

#[tokio::test]
async fn a_slow_receiver_is_waited_for_and_its_late_2xx_is_a_success() {
    let h = start().await;
    let rx = Receiver::start().await;
    rx.hold();
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    h.create_user("slow@example.com", "lk-Test-pass-4921").await;
    rx.wait_for(1).await;
    // While the receiver holds its answer the delivery is in flight: running, not yet logged.
    let running = h
        .control(
            Method::GET,
            "/jobs?kind=deliver_webhook&state=running",
            None,
        )
        .await;
    assert_eq!(running.ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(attempts_of(&h, "user.created").await, Vec::<Value>::new());
    h.control(
        Method::POST,
        "/jobs/wait_idle",
        Some(json!({"timeout_ms": 200})),
    )
    .await
    .err(408, "jobs_still_running");
    rx.release();
    h.wait_idle().await;
    let log = attempts_of(&h, "user.created").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["succeeded"], true);
    assert_eq!(log[0]["status_code"], 204);
    let done = h
        .control(Method::GET, "/jobs?kind=deliver_webhook&state=done", None)
        .await;
    assert_eq!(done.ok()["data"][0]["attempts"], 1);
    assert_eq!(rx.got().len(), 1, "no retry after a success");
}

/// The 15 s limit is real time (the delivery's HTTP client timeout), not the emulator's clock, so
/// this test waits 15 s (in parallel with the others).
#[tokio::test]
async fn a_receiver_that_never_answers_times_out_after_15_s_and_is_retried() {
    let h = start().await;
    let rx = crate::receiver::Mute::start(crate::receiver::MuteMode::Silent).await;
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    h.create_user("silent@example.com", "lk-Test-pass-4921")
        .await;
    rx.wait_for(1).await;
    let r = h
        .control(
            Method::POST,
            "/jobs/wait_idle",
            Some(json!({"timeout_ms": 30000})),
        )
        .await;
    r.ok();
    let log = attempts_of(&h, "user.created").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["succeeded"], false);
    assert_eq!(log[0]["status_code"], json!(null));
    let error = log[0]["error"].as_str().unwrap();
    assert!(error.contains("timed out"), "{error}");
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_webhook", None)
        .await;
    let job = &jobs.ok()["data"][0];
    assert_eq!(job["state"], "queued", "retried: {job}");
    assert_eq!(job["attempts"], 1);
}

/// Drives the delivery of every pending event through all eight attempts.
async fn exhaust(h: &Harness) {
    h.wait_idle().await;
    for secs in [5, 300, 1800, 7200, 18000, 36000, 36000] {
        h.advance(secs).await;
        h.wait_idle().await;
    }
}

#[tokio::test]
async fn recover_retries_deliveries_exhausted_since_the_cut_off_and_not_those_before() {
    let h = start().await;
    let rx = Receiver::start().await;
    rx.always(500);
    endpoint(&h, &rx.url, json!(["user.created"])).await;
    h.create_user("early@example.com", "lk-Test-pass-4921")
        .await;
    exhaust(&h).await;
    h.advance(3600).await;
    h.create_user("late@example.com", "lk-Test-pass-4921").await;
    exhaust(&h).await;
    assert_eq!(rx.got().len(), 16, "eight attempts each");
    let dead = h
        .control(Method::GET, "/jobs?state=dead&kind=deliver_webhook", None)
        .await;
    let dead = dead.ok()["data"].as_array().unwrap().clone();
    assert_eq!(dead.len(), 2);
    // Newest first: [late, early]. The cut-off sits 1 ms after the early one was exhausted.
    let early_at = dead[1]["updated_at"].as_i64().unwrap();
    let late_at = dead[0]["updated_at"].as_i64().unwrap();
    assert!(late_at > early_at + 1);
    let who = |d: &crate::receiver::Delivery| {
        d.json()["data"]["email_addresses"][0]["email_address"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    rx.always(200);
    let r = h
        .control(
            Method::POST,
            "/webhooks/recover",
            Some(json!({"since": early_at + 1})),
        )
        .await;
    assert_eq!(
        r.ok()["enqueued"],
        1,
        "only the delivery exhausted after since"
    );
    h.wait_idle().await;
    let got = rx.got();
    assert_eq!(got.len(), 17);
    assert_eq!(who(&got[16]), "late@example.com");

    // Moving the cut-off back to the early one's exhaustion takes it in too.
    let r = h
        .control(
            Method::POST,
            "/webhooks/recover",
            Some(json!({"since": early_at})),
        )
        .await;
    assert_eq!(r.ok()["enqueued"], 2, "both exhausted deliveries");
    h.wait_idle().await;
    let got = rx.got();
    assert_eq!(got.len(), 19);
    let again: std::collections::HashSet<String> = got[17..].iter().map(who).collect();
    assert!(again.contains("early@example.com"), "{again:?}");
}

#[tokio::test]
async fn an_email_link_is_sent_with_its_link_and_its_sign_in_announced() {
    let h = start().await;
    h.set_settings(json!({"email_address": {"email_link": true}}))
        .await;
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(&h, &rx.url, json!(["email.created", "session.created"])).await;
    h.create_user("hook-link@example.com", "lk-Test-pass-4921")
        .await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "hook-link@example.com")],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
        &[
            ("strategy", "email_link"),
            ("redirect_url", "https://app.example/v"),
        ],
    )
    .await
    .ok();
    let link = h.latest_message("hook-link@example.com").await["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(no_redirects.get(&link).send().await.unwrap().status(), 303);
    h.wait_idle().await;
    for d in rx.got() {
        verify_standard(&secret, &d);
        validate_event(&d.json());
    }
    let email = &rx.of_type("email.created")[0].json();
    assert_eq!(email["data"]["slug"], "magic_link");
    assert_eq!(email["data"]["data"]["magic_link"], link.as_str());
    assert!(email["data"]["body_plain"]
        .as_str()
        .unwrap()
        .contains(&link));
    let session = &rx.of_type("session.created")[0].json();
    let r = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(
        session["data"]["id"],
        r.ok()["response"]["created_session_id"]
    );
}
