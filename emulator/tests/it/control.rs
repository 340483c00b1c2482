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
    c.sign_up("r@example.com", "password123").await;
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
                    ("password", "password123"),
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

#[tokio::test]
async fn latest_waits_for_a_message_to_arrive() {
    let h = start().await;
    let url = format!(
        "{}/_emulator/v1/messages/latest?to=wait@example.com&wait_ms=10000",
        h.emu.url()
    );
    let waiter = tokio::spawn({
        let http = h.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    });
    // Let the waiter park, then cause the email.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished());
    h.fapi()
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "wait@example.com"),
                ("password", "password123"),
                ("strategy", "email_code"),
            ],
        )
        .await
        .ok();
    let msg = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
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
