use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_client_token_rotates_when_sessions_change() {
    let h = start().await;
    h.create_user("rot@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let r = c.get("/v1/client").await;
    let first = c
        .token
        .clone()
        .expect("GET /v1/client without a token creates a client");
    assert_eq!(r.authorization.as_deref(), Some(first.as_str()));
    assert!(r.ok()["response"]["id"]
        .as_str()
        .unwrap()
        .starts_with("client_"));
    // Nothing changed: the same token comes back.
    c.get("/v1/client").await;
    assert_eq!(c.token.as_deref(), Some(first.as_str()));
    let sid = c.sign_in("rot@example.com", "lk-Test-pass-4921").await;
    let second = c.token.clone().unwrap();
    assert_ne!(first, second, "signing in rotates the token");
    // A device that missed the rotation is still recognised and handed a current token.
    let mut stale = h.fapi();
    stale.token = Some(first.clone());
    let r = stale.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["last_active_session_id"], sid);
    assert_ne!(stale.token.as_deref(), Some(first.as_str()));
    // Bearer form (Electron) works too.
    let mut bearer = h.fapi();
    bearer.token = Some(format!("Bearer {second}"));
    let r = bearer.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["last_active_session_id"], sid);
}

#[tokio::test]
async fn touch_end_and_remove() {
    let h = start().await;
    h.create_user("a@example.com", "lk-Test-pass-4921").await;
    h.create_user("b@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let a = c.sign_in("a@example.com", "lk-Test-pass-4921").await;
    let b = c.sign_in("b@example.com", "lk-Test-pass-4921").await;
    let r = c.post(&format!("/v1/client/sessions/{a}/touch"), &[]).await;
    assert_eq!(r.ok()["response"]["id"], a);
    assert_eq!(r.body["client"]["last_active_session_id"], a);
    let r = c.get(&format!("/v1/client/sessions/{b}")).await;
    assert_eq!(r.ok()["response"]["status"], "active");
    let r = c.post(&format!("/v1/client/sessions/{a}/end"), &[]).await;
    assert_eq!(r.ok()["response"]["status"], "ended");
    assert_eq!(
        r.body["client"]["last_active_session_id"], b,
        "the other session takes over"
    );
    assert_eq!(r.body["client"]["sessions"].as_array().unwrap().len(), 1);
    c.token(&a).await.err(401, "authentication_invalid");
    let r = c
        .post(&format!("/v1/client/sessions/{b}/remove"), &[])
        .await;
    assert_eq!(r.ok()["response"]["status"], "removed");
    assert_eq!(r.body["client"]["last_active_session_id"], json!(null));
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{b}"), None)
        .await;
    assert_eq!(s.ok()["status"], "removed");
    // Another client cannot see these sessions.
    h.fapi()
        .get(&format!("/v1/client/sessions/{a}"))
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn signing_out_everywhere_and_deleting_the_client() {
    let h = start().await;
    h.create_user("out@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let sid = c.sign_in("out@example.com", "lk-Test-pass-4921").await;
    let r = c.call(Method::DELETE, "/v1/client/sessions", &[]).await;
    assert_eq!(r.ok()["response"]["sessions"], json!([]));
    c.token(&sid).await.err(401, "authentication_invalid");

    let sid = c.sign_in("out@example.com", "lk-Test-pass-4921").await;
    let old_token = c.token.clone().unwrap();
    let r = c.call(Method::DELETE, "/v1/client", &[]).await;
    assert_eq!(
        r.authorization.as_deref(),
        Some(""),
        "an empty Authorization signs the device out"
    );
    assert!(c.token.is_none());
    assert_eq!(r.ok()["client"], json!(null));
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{sid}"), None)
        .await;
    assert_eq!(s.ok()["status"], "ended");
    // The old token is forgotten: it gets a brand-new, signed-out client.
    let mut again = h.fapi();
    again.token = Some(old_token);
    let r = again.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["sessions"], json!([]));
}

#[tokio::test]
async fn me_reads_updates_and_deletes_the_signed_in_user() {
    let h = start().await;
    let mut c = h.fapi();
    c.get("/v1/me").await.err(401, "signed_out");
    let sid = c.sign_up("me@example.com", "lk-Test-pass-4921").await;
    let r = c.get("/v1/me").await;
    assert_eq!(
        r.ok()["response"]["email_addresses"][0]["email_address"],
        "me@example.com"
    );
    assert!(
        r.body["response"].get("private_metadata").is_none(),
        "private metadata stays on the server"
    );
    let r = c
        .call(Method::PATCH, "/v1/me", &[("first_name", "Mia")])
        .await;
    assert_eq!(r.ok()["response"]["first_name"], "Mia");
    // Metadata goes through `PATCH /v1/me/metadata` since API version 2026-05-12.
    let r = c
        .call(
            Method::PATCH,
            "/v1/me/metadata",
            &[("unsafe_metadata", r#"{"onboarded":true}"#)],
        )
        .await;
    assert_eq!(r.ok()["response"]["unsafe_metadata"]["onboarded"], true);
    c.call(
        Method::PATCH,
        "/v1/me/metadata",
        &[("unsafe_metadata", "[not json")],
    )
    .await
    .err(422, "form_param_format_invalid");
    let r = c.get(&format!("/v1/me?_clerk_session_id={sid}")).await;
    assert_eq!(r.ok()["response"]["first_name"], "Mia");
    let uid = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = c.call(Method::DELETE, "/v1/me", &[]).await;
    assert_eq!(r.ok()["response"]["deleted"], true);
    h.bapi(Method::GET, &format!("/v1/users/{uid}"), None)
        .await
        .err(404, "resource_not_found");
    c.get("/v1/me").await.err(401, "signed_out");
}

#[tokio::test]
async fn a_client_token_from_another_emulator_is_not_accepted() {
    let a = start().await;
    let b = start().await;
    a.create_user("x@example.com", "lk-Test-pass-4921").await;
    let mut ca = a.fapi();
    ca.sign_in("x@example.com", "lk-Test-pass-4921").await;
    let token = ca.token.clone().unwrap();
    let mut cb = b.fapi();
    cb.token = Some(token.clone());
    let r = cb.get("/v1/client").await;
    assert_eq!(
        r.ok()["response"]["sessions"],
        json!([]),
        "unknown token → a new, signed-out client"
    );
    assert_ne!(cb.token.as_deref(), Some(token.as_str()));
    b.bapi(
        Method::POST,
        "/v1/clients/verify",
        Some(json!({"token": token})),
    )
    .await
    .err(404, "resource_not_found");
    let r = a
        .bapi(
            Method::POST,
            "/v1/clients/verify",
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(r.ok()["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn origin_together_with_a_client_token_is_rejected() {
    let h = start().await;
    let mut c = h.fapi();
    c.get("/v1/client").await.ok();
    c.origin = Some("http://localhost:3000".into());
    let r = c.get("/v1/client").await;
    r.err(400, "native_api_disabled_with_origin");
    // Either alone is fine: a native request from a page (Origin and `_is_native`, no token)
    // gets a client of its own (browser mode, without `_is_native`, is in browser.rs).
    let mut browser = h.fapi();
    browser.origin = Some("http://localhost:3000".into());
    browser.get("/v1/client").await.ok();
}

#[tokio::test]
async fn sessions_expire_after_seven_days_by_the_clock() {
    let h = start().await;
    h.create_user("week@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let sid = c.sign_in("week@example.com", "lk-Test-pass-4921").await;
    h.advance(7 * 24 * 3600 - 60).await;
    c.token(&sid).await.ok();
    h.advance(120).await;
    c.token(&sid).await.err(401, "authentication_invalid");
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{sid}"), None)
        .await;
    assert_eq!(s.ok()["status"], "expired");
    let r = c.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["sessions"], json!([]));
}
