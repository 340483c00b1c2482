use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn instance_settings_read_and_patch() {
    let h = start().await;
    let r = h.control(Method::GET, "/instance", None).await;
    let inst = r.ok();
    assert_eq!(inst["publishable_key"], h.emu.publishable_key());
    assert_eq!(inst["secret_key"], h.emu.secret_key());
    assert!(inst["webhook_secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    assert_eq!(inst["settings"]["password_min_length"], 8);
    let r = h
        .control(
            Method::PATCH,
            "/instance",
            Some(json!({"settings": {"password_min_length": 12}})),
        )
        .await;
    assert_eq!(r.ok()["settings"]["password_min_length"], 12);
    let env = h.fapi().get("/v1/environment").await;
    assert_eq!(
        env.ok()["user_settings"]["password_settings"]["min_length"],
        12
    );
    let r = h
        .control(
            Method::PATCH,
            "/instance",
            Some(json!({"settings": {"password_min_length": "long"}})),
        )
        .await;
    r.err(422, "form_param_format_invalid");
    let r = h
        .control(
            Method::PATCH,
            "/instance",
            Some(json!({"settings": {"nonsense": 1}})),
        )
        .await;
    r.err(422, "form_param_format_invalid");
    let r = h.control(Method::GET, "/instance", None).await;
    assert_eq!(
        r.ok()["settings"]["password_min_length"],
        12,
        "refused patches change nothing"
    );
}

#[tokio::test]
async fn reset_clears_data_but_keeps_keys_and_settings() {
    let h = start().await;
    h.set_settings(json!({"application_name": "Acme"})).await;
    let mut c = h.fapi();
    c.sign_up("r@example.com", "lk-Test-pass-4921").await;
    let jwks = h.jwks().await;
    h.control(Method::POST, "/reset", None).await.ok();
    let n = h.bapi(Method::GET, "/v1/users/count", None).await;
    assert_eq!(n.ok()["total_count"], 0);
    let m = h.control(Method::GET, "/messages", None).await;
    assert_eq!(m.ok()["data"], json!([]));
    assert_eq!(h.jwks().await, jwks);
    let inst = h.control(Method::GET, "/instance", None).await;
    assert_eq!(inst.ok()["settings"]["application_name"], "Acme");
    let r = c.get("/v1/client").await;
    assert_eq!(
        r.ok()["response"]["sessions"],
        json!([]),
        "old clients are gone"
    );
}

#[tokio::test]
async fn time_reads_and_only_moves_forward() {
    let h = start().await;
    let t0 = h.control(Method::GET, "/time", None).await.ok()["now"]
        .as_i64()
        .unwrap();
    let r = h
        .control(
            Method::POST,
            "/time/advance",
            Some(json!({"seconds": 3600})),
        )
        .await;
    let t1 = r.ok()["now"].as_i64().unwrap();
    assert!(t1 - t0 >= 3_600_000 && t1 - t0 < 3_700_000);
    h.control(Method::POST, "/time/advance", Some(json!({"seconds": -5})))
        .await
        .err(422, "form_param_format_invalid");
    h.control(Method::POST, "/time/advance", Some(json!({})))
        .await
        .err(422, "form_param_nil");
}

#[tokio::test]
async fn messages_filter_by_recipient_and_kind_and_can_be_deleted() {
    let h = start().await;
    for email in ["m1@example.com", "m2@example.com"] {
        h.fapi()
            .post(
                "/v1/client/sign_ups",
                &[
                    ("email_address", email),
                    ("password", "lk-Test-pass-4921"),
                    ("strategy", "email_code"),
                ],
            )
            .await
            .ok();
    }
    let all = h.control(Method::GET, "/messages", None).await;
    assert_eq!(all.ok()["data"].as_array().unwrap().len(), 2);
    assert_eq!(all.body["data"][0]["to"], "m2@example.com", "newest first");
    let one = h
        .control(
            Method::GET,
            "/messages?to=M1@example.com&kind=email&limit=5",
            None,
        )
        .await;
    assert_eq!(one.ok()["data"].as_array().unwrap().len(), 1);
    let newest = h.control(Method::GET, "/messages?limit=1", None).await;
    assert_eq!(
        newest.ok()["data"],
        json!([all.body["data"][0]]),
        "limit keeps the newest"
    );
    let none = h.control(Method::GET, "/messages?kind=sms", None).await;
    assert_eq!(none.ok()["data"], json!([]));
    h.control(Method::GET, "/messages?kind=fax", None)
        .await
        .err(422, "form_param_format_invalid");
    h.control(Method::GET, "/messages/latest?to=nobody@example.com", None)
        .await
        .err(404, "resource_not_found");
    let r = h.control(Method::DELETE, "/messages", None).await;
    assert_eq!(r.ok()["deleted"], 2);
    let all = h.control(Method::GET, "/messages", None).await;
    assert_eq!(all.ok()["data"], json!([]));
}

/// Serves the emulator's router over `h`'s own state on a second port, and reports the path of
/// every request whose handling has returned `Pending` once: for the inbox long-poll that means
/// "it looked, found nothing, and is now waiting" (its lookup is synchronous; the wait is its
/// first await).
async fn probe_server(h: &Harness) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use std::future::Future;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let probe = axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let tx = tx.clone();
            async move {
                let path = req.uri().to_string();
                let mut handling = std::pin::pin!(next.run(req));
                let mut told = false;
                std::future::poll_fn(|cx| {
                    let p = handling.as_mut().poll(cx);
                    if p.is_pending() && !told {
                        told = true;
                        let _ = tx.send(path.clone());
                    }
                    p
                })
                .await
            }
        },
    );
    let router = latchkey_emulator::testing::router(&h.emu).layer(probe);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, rx)
}

#[tokio::test]
async fn latest_waits_for_a_message_to_arrive() {
    let h = start().await;
    let (probe, mut parked) = probe_server(&h).await;
    let path = "/_emulator/v1/messages/latest?to=wait@example.com&wait_ms=10000";
    let waiter = tokio::spawn({
        let http = h.http.clone();
        let url = format!("{probe}{path}");
        async move {
            let r = http.get(url).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    });
    // The long-poll is parked server-side before the email exists: an inbox that answered at
    // once (404, nothing yet) would never get here.
    let seen = tokio::time::timeout(Duration::from_secs(10), parked.recv())
        .await
        .expect("the long-poll parks")
        .expect("the long-poll parks instead of answering at once");
    assert_eq!(seen, path);
    assert!(!waiter.is_finished());
    h.fapi()
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "wait@example.com"),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "email_code"),
            ],
        )
        .await
        .ok();
    let (status, msg) = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200, "{msg}");
    assert_eq!(msg["to"], "wait@example.com");
    assert_eq!(msg["code"].as_str().unwrap().len(), 6);
}

#[tokio::test]
async fn the_control_api_refuses_non_loopback_host_names() {
    let h = start().await;
    let url = format!("{}/_emulator/v1/messages", h.emu.url());
    let r = h
        .http
        .get(&url)
        .header("host", "attacker.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "host_invalid");
    for host in ["localhost:4100", "127.0.0.1", "[::1]:9"] {
        let r = h.http.get(&url).header("host", host).send().await.unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
    // The Frontend and Backend APIs are not affected (production-like hosts go through proxies).
    let r = h
        .http
        .get(format!("{}/v1/health", h.emu.url()))
        .header("host", "clerk.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn limit_cuts_a_longer_list_to_the_newest() {
    let h = start().await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "many@example.com"),
                ("password", "lk-Test-pass-4921"),
            ],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    for _ in 0..4 {
        c.post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            &[("strategy", "email_code")],
        )
        .await
        .ok();
    }
    let all = h
        .control(Method::GET, "/messages?to=many@example.com", None)
        .await;
    let all = all.ok()["data"].as_array().unwrap().clone();
    assert_eq!(all.len(), 4);
    let two = h
        .control(Method::GET, "/messages?to=many@example.com&limit=2", None)
        .await;
    assert_eq!(
        two.ok()["data"],
        json!(all[..2]),
        "the two newest, newest first"
    );
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_message&limit=3", None)
        .await;
    assert_eq!(jobs.ok()["data"].as_array().unwrap().len(), 3);
    let counted: i64 = jobs.body["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "deliver_message")
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, 4, "counts are of every job, not of the page");
}

#[tokio::test]
async fn off_loopback_the_control_api_and_pages_need_the_secret_key() {
    // 0.0.0.0 is not a loopback bind; the test reaches it through 127.0.0.1.
    let h = start_from(builder().host("0.0.0.0".parse().unwrap())).await;
    let base = format!("http://127.0.0.1:{}", h.emu.addr().port());
    let key = format!("Bearer {}", h.emu.secret_key());
    let call = |method: Method, path: &str, auth: Option<&str>| {
        let mut req = h.http.request(method.clone(), format!("{base}{path}"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if method != Method::GET {
            req = req.json(&json!({"seconds": 1}));
        }
        req.send()
    };
    for (method, path) in [
        (Method::GET, "/_emulator/v1/instance"),
        (Method::GET, "/_emulator/v1/messages"),
        (Method::POST, "/_emulator/v1/time/advance"),
        (Method::GET, "/_emulator/inbox"),
    ] {
        let r = call(method.clone(), path, None).await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without the key");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["code"], "authentication_invalid",
            "{body}"
        );
        let r = call(method.clone(), path, Some("Bearer sk_test_notthekeyatall"))
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path} with a wrong key");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "clerk_key_invalid", "{body}");
    }
    let r = call(Method::GET, "/_emulator/v1/time", Some(&key))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let time: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        time["offset_ms"], 0,
        "the refused advance did not move the clock"
    );
    let r = call(Method::POST, "/_emulator/v1/time/advance", Some(&key))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let time: serde_json::Value = r.json().await.unwrap();
    assert_eq!(time["offset_ms"], 1000);
    let r = call(Method::GET, "/_emulator/v1/instance", Some(&key))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let inst: serde_json::Value = r.json().await.unwrap();
    assert_eq!(inst["secret_key"], h.emu.secret_key());
    let r = call(Method::GET, "/_emulator/inbox", Some(&key))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The Frontend API is for devices: no key.
    let r = call(Method::GET, "/v1/health", None).await.unwrap();
    assert_eq!(r.status(), 200);

    // On loopback the same calls need nothing.
    let l = start().await;
    let r = l
        .http
        .get(format!("{}/_emulator/v1/instance", l.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
