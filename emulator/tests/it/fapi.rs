//! Frontend API transport details: `_method` overrides, `POST`/`PUT /v1/client`, request ids.

use reqwest::Method;
use serde_json::json;

use crate::receiver::Receiver;
use crate::support::*;

/// The client's id as `GET /v1/client` reports it.
async fn client_id(c: &mut Native<'_>) -> String {
    let r = c.get("/v1/client").await;
    r.ok()["response"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn method_in_the_query_turns_a_post_into_a_patch() {
    let h = start().await;
    let uid = h
        .create_user("patch@example.com", "lk-Test-pass-4921")
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = h.fapi();
    c.sign_in("patch@example.com", "lk-Test-pass-4921").await;
    let r = c
        .call_with(
            Method::POST,
            "PATCH",
            "/v1/me?_method=PATCH",
            &[("first_name", "Tunnelled")],
            &[],
        )
        .await;
    assert_eq!(r.ok()["response"]["first_name"], "Tunnelled", "{}", r.body);
    let me = c.get("/v1/me").await;
    assert_eq!(me.ok()["response"]["first_name"], "Tunnelled");
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["first_name"], "Tunnelled");
    // Without the override the same request reaches no handler (the spec has no POST /v1/me).
    let r = h
        .http
        .post(format!("{}/v1/me?_is_native=true", h.emu.url()))
        .header("authorization", c.token.clone().unwrap())
        .form(&[("first_name", "Plain")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "method_not_allowed");
    let me = c.get("/v1/me").await;
    assert_eq!(me.ok()["response"]["first_name"], "Tunnelled");
}

#[tokio::test]
async fn method_in_a_form_body_turns_a_post_into_a_delete_or_a_get() {
    let h = start().await;
    h.create_user("tunnel@example.com", "lk-Test-pass-4921")
        .await;
    let mut c = h.fapi();
    let sid = c.sign_in("tunnel@example.com", "lk-Test-pass-4921").await;
    let id = client_id(&mut c).await;

    // `_method=GET` in the body (Android): this client, not the new one a plain POST makes.
    let r = c
        .call_with(
            Method::POST,
            "GET",
            "/v1/client",
            &[("_method", "GET")],
            &[],
        )
        .await;
    assert_eq!(r.ok()["response"]["id"], id.as_str());
    assert_eq!(r.body["response"]["sessions"][0]["id"], sid.as_str());

    // `_method=DELETE` in the body: the client is deleted, its session ended, its token cleared.
    let r = c
        .call_with(
            Method::POST,
            "DELETE",
            "/v1/client",
            &[("_method", "DELETE")],
            &[],
        )
        .await;
    r.ok();
    assert_eq!(
        r.authorization.as_deref(),
        Some(""),
        "the device is told to forget its token"
    );
    assert_eq!(c.token, None);
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{sid}"), None)
        .await;
    assert_eq!(s.ok()["status"], "ended");
    h.bapi(Method::GET, &format!("/v1/clients/{id}"), None)
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn post_and_put_client_start_a_new_client_and_leave_the_old_one_alone() {
    let h = start().await;
    h.create_user("fresh-client@example.com", "lk-Test-pass-4921")
        .await;
    let mut c = h.fapi();
    let sid = c
        .sign_in("fresh-client@example.com", "lk-Test-pass-4921")
        .await;
    let old_token = c.token.clone().unwrap();
    let old_id = client_id(&mut c).await;
    let mut ids = vec![old_id.clone()];
    for method in [Method::POST, Method::PUT] {
        let mut d = h.fapi();
        d.token = Some(old_token.clone());
        let r = d.call(method.clone(), "/v1/client", &[]).await;
        let client = &r.ok()["response"];
        let id = client["id"].as_str().unwrap().to_owned();
        assert!(!ids.contains(&id), "{method}: a new client, not {ids:?}");
        assert_eq!(client["sessions"], json!([]), "{method}: signed out");
        assert_eq!(client["last_active_session_id"], json!(null));
        let token = d.token.clone().expect("the new client's token comes back");
        assert_ne!(token, old_token, "{method}");
        // The new token names the new client.
        assert_eq!(client_id(&mut d).await, id);
        let b = h
            .bapi(Method::GET, &format!("/v1/clients/{id}"), None)
            .await;
        assert_eq!(b.ok()["session_ids"], json!([]));
        ids.push(id);
    }
    // The old device still has its client and session.
    let r = c.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["id"], old_id.as_str());
    assert_eq!(r.body["response"]["last_active_session_id"], sid.as_str());
    c.token(&sid).await.ok();
}

#[tokio::test]
async fn frontend_requests_answer_with_their_request_id_and_the_jobs_they_cause_carry_it() {
    let h = start().await;
    let rx = Receiver::start().await;
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": rx.url, "events": ["email.created"]})),
    )
    .await
    .ok();
    let mut c = h.fapi();
    let r = c
        .call_with(
            Method::POST,
            "POST",
            "/v1/client/sign_ups",
            &[
                ("email_address", "rid-fapi@example.com"),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "email_code"),
            ],
            &[("x-request-id", "req_fapi_sign_up")],
        )
        .await;
    r.ok();
    assert_eq!(r.header("x-request-id"), "req_fapi_sign_up");
    h.wait_idle().await;
    let jobs = h
        .control(Method::GET, "/jobs?kind=deliver_message", None)
        .await;
    let job = &jobs.ok()["data"][0];
    assert_eq!(job["request_id"], "req_fapi_sign_up", "{job}");
    let hook = &rx.of_type("email.created")[0];
    assert_eq!(hook.header("x-latchkey-request-id"), "req_fapi_sign_up");

    // An error response carries it too.
    let r = c
        .call_with(
            Method::GET,
            "GET",
            "/v1/client/sign_ups/sua_nope",
            &[],
            &[("x-request-id", "req_fapi_missing")],
        )
        .await;
    r.err(404, "resource_not_found");
    assert_eq!(r.header("x-request-id"), "req_fapi_missing");

    // Without one (or with one that is not a sane token) the emulator makes up a fresh one.
    let long = "r".repeat(129);
    let mut made_up = std::collections::HashSet::new();
    for sent in [None, Some("has a space"), Some(long.as_str()), Some("")] {
        let headers: Vec<(&str, &str)> = sent.map(|v| ("x-request-id", v)).into_iter().collect();
        let r = c
            .call_with(Method::GET, "GET", "/v1/client", &[], &headers)
            .await;
        r.ok();
        let id = r.header("x-request-id").to_owned();
        assert!(id.starts_with("req_") && id.len() > 8, "{sent:?} → {id:?}");
        assert!(made_up.insert(id), "a new id per request");
    }
    let longest = "r".repeat(128);
    let r = c
        .call_with(
            Method::GET,
            "GET",
            "/v1/client",
            &[],
            &[("x-request-id", &longest)],
        )
        .await;
    assert_eq!(r.header("x-request-id"), longest, "128 characters are kept");
}
