//! The security review's findings (`shared/reviews/security-2026-12-01.md`), each asserted by
//! what an attacker would see: refused requests change nothing, old tokens die, slow password
//! checks and hostile peers do not hold up anyone else.

use std::io::{Read, Write};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{start, start_from, Harness};

/// Counts of what a cross-site request could change: endpoints, users, messages, settings,
/// the clock.
async fn snapshot(h: &Harness) -> Value {
    let endpoints = h.control(Method::GET, "/webhooks/endpoints", None).await;
    let users = h.bapi(Method::GET, "/v1/users/count", None).await;
    let messages = h.control(Method::GET, "/messages", None).await;
    let instance = h.control(Method::GET, "/instance", None).await;
    let time = h.control(Method::GET, "/time", None).await;
    json!({
        "endpoints": endpoints.ok()["data"].as_array().map(Vec::len),
        "users": users.ok()["total_count"],
        "messages": messages.ok()["data"].as_array().map(Vec::len),
        "settings": instance.ok()["settings"],
        "offset": time.ok()["offset_ms"],
    })
}

/// What a page on another site can make a browser send: the raw request, no harness help.
async fn raw(
    h: &Harness,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut req = h
        .http
        .request(method, format!("{}{path}", h.emu.url()))
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn cross_site_requests_to_the_control_api_are_refused_and_change_nothing() {
    let h = start().await;
    h.create_user("victim@example.com", "correct-horse-battery")
        .await;
    // A captured code for the attacker to go after (and to delete).
    let mut fapi = h.fapi();
    let r = fapi
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "code@example.com"),
                ("password", "correct-horse-battery"),
            ],
        )
        .await;
    let sign_up = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    fapi.post(
        &format!("/v1/client/sign_ups/{sign_up}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await
    .ok();
    let before = snapshot(&h).await;
    assert_eq!(before["messages"], 1, "{before}");
    let endpoint = r#"{"url":"http://127.0.0.1:9/steal"}"#;
    let evil = ("origin", "http://evil.example");
    // The review's proofs: no-cors fetches with a Blob body carry no Content-Type.
    // Each with the refusal it gets: a foreign site (403), a `_method` tunnel that stays a POST
    // (405), a state change that is not JSON (415).
    const SITE: (u16, &str) = (403, "cross_site_request_refused");
    const TUNNEL: (u16, &str) = (405, "method_not_allowed");
    const NOT_JSON: (u16, &str) = (415, "unsupported_content_type");
    type Attack<'a> = (
        Method,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a str,
        (u16, &'a str),
    );
    let attacks: Vec<Attack<'_>> = vec![
        (
            Method::POST,
            "/_emulator/v1/webhooks/endpoints",
            vec![evil],
            endpoint,
            SITE,
        ),
        (
            Method::POST,
            "/_emulator/v1/instance?_method=PATCH",
            vec![evil],
            r#"{"settings":{"application_name":"pwned"}}"#,
            TUNNEL,
        ),
        (
            Method::POST,
            "/_emulator/v1/reset",
            vec![evil, ("content-type", "text/plain")],
            "",
            SITE,
        ),
        (
            Method::POST,
            "/_emulator/v1/messages?_method=DELETE",
            vec![evil],
            "",
            TUNNEL,
        ),
        // _method does not apply under /_emulator/, even from the developer's own tools.
        (
            Method::POST,
            "/_emulator/v1/messages?_method=DELETE",
            vec![("content-type", "application/json")],
            "{}",
            TUNNEL,
        ),
        (
            Method::POST,
            "/_emulator/v1/time/advance",
            vec![evil],
            r#"{"seconds":864000}"#,
            SITE,
        ),
        // Even with a JSON type (which a page cannot send without a preflight that fails),
        // a foreign Origin or a cross-site fetch is refused.
        (
            Method::POST,
            "/_emulator/v1/webhooks/endpoints",
            vec![evil, ("content-type", "application/json")],
            endpoint,
            SITE,
        ),
        (
            Method::POST,
            "/_emulator/v1/webhooks/endpoints",
            vec![
                ("sec-fetch-site", "cross-site"),
                ("content-type", "application/json"),
            ],
            endpoint,
            SITE,
        ),
        (
            Method::PATCH,
            "/_emulator/v1/instance",
            vec![
                ("sec-fetch-site", "same-site"),
                ("content-type", "application/json"),
            ],
            r#"{"settings":{"application_name":"pwned"}}"#,
            SITE,
        ),
        // Reading codes cross-site (a fetch, not a navigation) is refused too.
        (
            Method::GET,
            "/_emulator/v1/messages",
            vec![
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "cors"),
                evil,
            ],
            "",
            SITE,
        ),
        // No Origin, but no JSON type either: a plain form post.
        (
            Method::POST,
            "/_emulator/v1/webhooks/endpoints",
            vec![("content-type", "application/x-www-form-urlencoded")],
            "url=http%3A%2F%2F127.0.0.1%3A9%2Fsteal",
            NOT_JSON,
        ),
    ];
    for (method, path, headers, body, (want_status, want_code)) in attacks {
        let (status, body_json) = raw(&h, method.clone(), path, &headers, body).await;
        assert_eq!(
            (status, body_json["errors"][0]["code"].as_str()),
            (want_status, Some(want_code)),
            "{method} {path} {headers:?} → {body_json}"
        );
    }
    assert_eq!(snapshot(&h).await, before, "nothing changed");

    // The developer's own tools and pages keep working.
    let (status, _) = raw(
        &h,
        Method::GET,
        "/_emulator/inbox",
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ],
        "",
    )
    .await;
    assert_eq!(
        status, 200,
        "a top-level navigation from a link elsewhere opens the inbox"
    );
    let own = h.emu.url().to_owned();
    let (status, _) = raw(
        &h,
        Method::POST,
        "/_emulator/v1/webhooks/endpoints",
        &[
            ("origin", &own),
            ("sec-fetch-site", "same-origin"),
            ("content-type", "application/json"),
        ],
        r#"{"url":"http://127.0.0.1:9/mine"}"#,
    )
    .await;
    assert_eq!(status, 200, "the emulator's own pages may call it");
    let localhost = own.replace("127.0.0.1", "localhost");
    let (status, _) = raw(
        &h,
        Method::GET,
        "/_emulator/v1/messages",
        &[("origin", &localhost)],
        "",
    )
    .await;
    assert_eq!(
        status, 200,
        "the same port under localhost is the emulator's own origin"
    );
    let (status, _) = raw(
        &h,
        Method::GET,
        "/_emulator/v1/messages",
        &[("origin", "http://localhost:1")],
        "",
    )
    .await;
    assert_eq!(status, 403, "another port on localhost is another origin");
}

#[tokio::test]
async fn webhook_endpoints_are_capped_and_need_strong_secrets() {
    let h = start().await;
    for weak in [
        "",
        "whsec_",
        "whsec_AA==",
        "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
    ] {
        h.control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": "http://127.0.0.1:9/x", "secret": weak})),
        )
        .await
        .err(422, "form_param_format_invalid");
    }
    let strong = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // 24 bytes
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": "http://127.0.0.1:9/x", "secret": strong})),
    )
    .await
    .ok();
    for i in 1..50 {
        h.control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": format!("http://127.0.0.1:9/{i}")})),
        )
        .await
        .ok();
    }
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": "http://127.0.0.1:9/51"})),
    )
    .await
    .err(422, "form_param_value_invalid");
    let list = h.control(Method::GET, "/webhooks/endpoints", None).await;
    assert_eq!(list.ok()["data"].as_array().map(Vec::len), Some(50));
}

#[tokio::test]
async fn a_replaced_client_token_works_for_a_minute_then_is_unknown() {
    let h = start().await;
    let mut fapi = h.fapi();
    fapi.get("/v1/client").await.ok();
    let before_sign_in = fapi.token.clone().expect("a token before sign-in");
    h.create_user("jane@example.com", "correct-horse-battery")
        .await;
    let sid = fapi
        .sign_in("jane@example.com", "correct-horse-battery")
        .await;
    let current = fapi.token.clone().expect("rotated on sign-in");
    assert_ne!(current, before_sign_in);

    // Within the grace window the old token still reaches the client and is handed the new one.
    let mut stale = h.fapi();
    stale.token = Some(before_sign_in.clone());
    let r = stale.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["sessions"][0]["id"], sid.as_str());
    assert_eq!(stale.token.as_deref(), Some(current.as_str()));

    h.advance(61).await;
    let mut stale = h.fapi();
    stale.token = Some(before_sign_in.clone());
    let r = stale.get("/v1/client").await;
    assert_eq!(
        r.ok()["response"]["sessions"],
        json!([]),
        "past the window the old token is an unknown token: a new, empty client"
    );
    assert_ne!(stale.token.as_deref(), Some(current.as_str()));
    let mut stale = h.fapi();
    stale.token = Some(before_sign_in);
    stale.token(&sid).await.err(404, "resource_not_found");
    // The device's current token is unaffected.
    assert!(!fapi.jwt(&sid).await.is_empty());
}

#[tokio::test]
async fn an_old_token_cannot_follow_later_rotations() {
    let h = start().await;
    h.create_user("jane@example.com", "correct-horse-battery")
        .await;
    h.create_user("joe@example.com", "correct-horse-battery")
        .await;
    let mut device = h.fapi();
    device.get("/v1/client").await.ok();
    let t0 = device.token.clone().unwrap();
    device
        .sign_in("jane@example.com", "correct-horse-battery")
        .await;
    h.advance(61).await;
    // A second sign-in rotates again; T0 is two rotations old and past its window.
    device
        .sign_in("joe@example.com", "correct-horse-battery")
        .await;
    let mut attacker = h.fapi();
    attacker.token = Some(t0);
    let r = attacker.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["sessions"], json!([]));
    assert_ne!(attacker.token, device.token);
}

/// A bcrypt digest of `correct-horse-battery` at cost 12 (about a quarter of a second a check).
fn costly_digest() -> String {
    bcrypt::hash("correct-horse-battery", 12).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_checks_against_costly_digests_do_not_hold_up_other_requests() {
    let h = start().await;
    let user = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({
                "email_address": ["slow@example.com"],
                "password_digest": costly_digest(),
                "password_hasher": "bcrypt",
            })),
        )
        .await;
    user.ok();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    let url = h.emu.url().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (tx, url, http) = (tx.clone(), url.clone(), h.http.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{url}/v1/client/sign_ins?_is_native=true"))
                .form(&[
                    ("identifier", "slow@example.com"),
                    ("password", "wrong-password"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 422);
            let _ = tx.send("sign-in");
        }));
    }
    // Health checks one after another while the four checks run: each would queue behind the
    // checks if they held the write lock or the async workers.
    let health = {
        let (tx, url, http) = (tx.clone(), url.clone(), h.http.clone());
        tokio::spawn(async move {
            for _ in 0..5 {
                let r = http.get(format!("{url}/v1/health")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let _ = tx.send("health");
            }
        })
    };
    drop(tx);
    health.await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let mut order = Vec::new();
    while let Some(x) = rx.recv().await {
        order.push(x);
    }
    assert_eq!(
        &order[..5],
        &["health"; 5],
        "every health check answered before the first password check finished: {order:?}"
    );
}

#[tokio::test]
async fn imported_digests_above_the_cost_cap_are_refused_and_others_rehashed_on_sign_in() {
    let h = start().await;
    let too_costly = bcrypt::hash("correct-horse-battery", 13).unwrap();
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({
                "email_address": ["costly@example.com"],
                "password_digest": too_costly,
                "password_hasher": "bcrypt",
            })),
        )
        .await;
    r.err(422, "form_param_format_invalid");
    assert!(
        r.body["errors"][0]["long_message"]
            .as_str()
            .unwrap()
            .contains("cost 13"),
        "{}",
        r.body
    );
    let count = h.bapi(Method::GET, "/v1/users/count", None).await;
    assert_eq!(count.ok()["total_count"], 0, "nothing was created");

    let imported = bcrypt::hash("correct-horse-battery", 4).unwrap();
    let user = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({
                "email_address": ["imported@example.com"],
                "password_digest": imported,
                "password_hasher": "bcrypt",
            })),
        )
        .await;
    let id = user.ok()["id"].as_str().unwrap().to_owned();
    let digest = |h: &Harness| {
        latchkey_emulator::testing::password_digest(&h.emu, &id)
            .unwrap()
            .unwrap()
    };
    assert!(digest(&h).starts_with("$2"), "stored as imported");
    let mut fapi = h.fapi();
    let r = fapi
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "imported@example.com"),
                ("password", "wrong-password"),
            ],
        )
        .await;
    r.err(422, "form_password_incorrect");
    assert!(
        digest(&h).starts_with("$2"),
        "a wrong password rehashes nothing"
    );
    fapi.sign_in("imported@example.com", "correct-horse-battery")
        .await;
    let now = digest(&h);
    assert!(now.starts_with("$argon2id$"), "rehashed on sign-in: {now}");
    // The new digest still lets the user in.
    h.fapi()
        .sign_in("imported@example.com", "correct-horse-battery")
        .await;
    let r = h
        .bapi(
            Method::POST,
            &format!("/v1/users/{id}/verify_password"),
            Some(json!({"password": "correct-horse-battery"})),
        )
        .await;
    assert_eq!(r.ok()["verified"], true);
}

#[tokio::test]
async fn templates_may_not_claim_reserved_claims() {
    let h = start().await;
    let r = h
        .control(
            Method::PATCH,
            "/instance",
            Some(json!({"settings": {"jwt_templates": {"admin": {
                "claims": {"sub": "user_admin", "role": "admin"}
            }}}})),
        )
        .await;
    r.err(422, "form_param_format_invalid");
    assert!(
        r.body["errors"][0]["long_message"]
            .as_str()
            .unwrap()
            .contains("\"sub\" is reserved"),
        "{}",
        r.body
    );
    h.control(
        Method::PATCH,
        "/instance",
        Some(json!({"settings": {"jwt_templates": {"admin": {"lifetime_secs": -100}}}})),
    )
    .await
    .err(422, "form_param_format_invalid");
    let instance = h.control(Method::GET, "/instance", None).await;
    assert_eq!(instance.ok()["settings"]["jwt_templates"], json!({}));
}

/// A webhook receiver that answers with a 100 MB body as fast as the emulator reads; returns
/// how many body bytes it managed to send before the emulator hung up.
fn flooding_receiver() -> (String, std::thread::JoinHandle<u64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // Read the request head (the body is small and may follow; it does not matter).
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let total: u64 = 100 * 1024 * 1024;
        conn.write_all(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {total}\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0u64;
        while sent < total {
            match conn.write(&chunk) {
                Ok(n) => sent += n as u64,
                Err(_) => break,
            }
        }
        sent
    });
    (url, handle)
}

#[tokio::test]
async fn the_emulator_stops_reading_a_huge_webhook_response() {
    let h = start().await;
    let (url, receiver) = flooding_receiver();
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": url, "events": ["user.created"]})),
    )
    .await
    .ok();
    h.create_user("jane@example.com", "correct-horse-battery")
        .await;
    h.wait_idle().await;
    let sent = tokio::task::spawn_blocking(move || receiver.join().unwrap())
        .await
        .unwrap();
    assert!(
        sent < 32 * 1024 * 1024,
        "the emulator hung up after a few KiB (the rest sat in socket buffers): {sent} bytes sent"
    );
    let log = h
        .control(
            Method::GET,
            "/webhooks/deliveries?event_type=user.created",
            None,
        )
        .await;
    let attempt = &log.ok()["data"][0];
    assert_eq!(attempt["status_code"], 200, "{attempt}");
    assert_eq!(attempt["succeeded"], true, "{attempt}");
    let excerpt = attempt["response_excerpt"].as_str().unwrap_or_default();
    assert!(
        excerpt.len() <= 512 && excerpt.starts_with("xxxx"),
        "{attempt}"
    );
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let h = start_from(latchkey_testkit::builder().header_read_timeout(Duration::from_millis(300)))
        .await;
    let addr = h.emu.addr();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        // Guard only: the server must close well before this.
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        conn.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .unwrap();
        let mut buf = Vec::new();
        conn.read_to_end(&mut buf).map(|_| buf)
    })
    .await
    .unwrap();
    let bytes = outcome.expect("the server closed the connection (no read timeout)");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "closed without serving the request: {text}"
    );
    // Other clients are served as usual.
    let r = h
        .http
        .get(format!("{}/v1/health", h.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let h = start_from(latchkey_testkit::builder().max_connections(1)).await;
    let addr = h.emu.addr();
    // One client holds the only slot with a connection that sends nothing.
    let holder = std::net::TcpStream::connect(addr).unwrap();
    let url = format!("{}/v1/health", h.emu.url());
    let waiting = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    let early = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            if waiting.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        early.is_err(),
        "no second connection is served while the cap is taken"
    );
    drop(holder);
    assert_eq!(
        waiting.await.unwrap().unwrap(),
        200,
        "served once the slot is free"
    );
}

#[tokio::test]
async fn the_data_directory_is_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = latchkey_testkit::temp_path("perm");
    let data = dir.join("nested").join("data");
    let h = start_from(latchkey_emulator::Emulator::builder().data_dir(&data)).await;
    h.create_user("jane@example.com", "correct-horse-battery")
        .await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for f in [
        "emulator.sqlite3",
        "emulator.sqlite3-wal",
        "emulator.sqlite3-shm",
    ] {
        // The database is open in WAL mode with a write behind it: all three files exist.
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    h.kit.shutdown().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_message_is_in_the_inbox_when_its_request_answers_even_while_smtp_hangs() {
    // An SMTP server that accepts connections and never greets: delivery hangs.
    let smtp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let h = start_from(
        latchkey_testkit::builder().smtp_url(format!("smtp://{}", smtp.local_addr().unwrap())),
    )
    .await;
    let mut fapi = h.fapi();
    let r = fapi
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "now@example.com"),
                ("password", "correct-horse-battery"),
            ],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    fapi.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await
    .ok();
    // No wait_ms, no waiting for jobs.
    let m = h
        .control(Method::GET, "/messages/latest?to=now@example.com", None)
        .await;
    assert_eq!(m.ok()["code"].as_str().map(str::len), Some(6), "{}", m.body);
    drop(smtp);
}

#[tokio::test]
async fn cleanup_forgets_clients_that_never_signed_in_and_abandoned_attempts() {
    let h = start().await;
    let client_exists =
        |h: &Harness, id: &str| latchkey_emulator::testing::client_exists(&h.emu, id).unwrap();
    // Unauthenticated traffic: each token-less request makes a client; one starts a sign-in.
    let mut drive_by = Vec::new();
    for _ in 0..20 {
        let r = h.fapi().get("/v1/client").await;
        drive_by.push(r.ok()["response"]["id"].as_str().unwrap().to_owned());
    }
    h.create_user("jane@example.com", "correct-horse-battery")
        .await;
    let mut half = h.fapi();
    let r = half
        .post("/v1/client/sign_ins", &[("identifier", "jane@example.com")])
        .await;
    let attempt = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let half_id = r.body["client"]["id"].as_str().unwrap().to_owned();
    // A signed-in device stays, however long it is idle.
    let mut device = h.fapi();
    device
        .sign_in("jane@example.com", "correct-horse-battery")
        .await;
    let device_id = device.get("/v1/client").await.ok()["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    h.advance(23 * 3600).await;
    h.wait_idle().await;
    assert!(
        drive_by.iter().all(|id| client_exists(&h, id)),
        "not yet past their lifetime"
    );
    h.advance(2 * 3600).await;
    h.wait_idle().await;
    assert!(
        drive_by.iter().all(|id| !client_exists(&h, id)),
        "session-less clients are gone a day after their last use"
    );
    assert!(!client_exists(&h, &half_id));
    let kept = latchkey_emulator::testing::sign_in_exists(&h.emu, &attempt).unwrap();
    assert!(!kept, "the abandoned sign-in is gone");
    assert!(
        client_exists(&h, &device_id),
        "a client with a session is kept"
    );
    let r = device.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["id"], device_id.as_str());
}
