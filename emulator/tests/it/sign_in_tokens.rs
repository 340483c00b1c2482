//! Backend API `/v1/sign_in_tokens` and their redemption with `strategy=ticket`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const PASSWORD: &str = "correct horse battery staple";

async fn new_token(h: &Harness, user_id: &str, extra: Value) -> Value {
    let mut body = json!({ "user_id": user_id });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    h.bapi(Method::POST, "/v1/sign_in_tokens", Some(body))
        .await
        .ok()
        .clone()
}

async fn sign_in_with(c: &mut Native<'_>, ticket: &str) -> Resp {
    c.post(
        "/v1/client/sign_ins",
        &[("strategy", "ticket"), ("ticket", ticket)],
    )
    .await
}

#[tokio::test]
async fn a_sign_in_token_signs_its_user_in_once() {
    let h = start().await;
    let user = h.create_user("tick@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    let t = new_token(&h, uid, json!({})).await;
    assert_eq!(t["object"], "sign_in_token");
    assert_eq!(t["status"], "pending");
    assert_eq!(t["user_id"], uid);
    assert!(t["id"].as_str().unwrap().starts_with("sit_"));
    let ticket = t["token"].as_str().unwrap().to_owned();
    assert!(ticket.len() >= 32, "{ticket}");

    let mut c = h.fapi();
    let r = sign_in_with(&mut c, &ticket).await;
    let si = &r.ok()["response"];
    assert_eq!(si["status"], "complete", "{}", r.body);
    assert_eq!(si["first_factor_verification"]["strategy"], "ticket");
    assert_eq!(si["first_factor_verification"]["status"], "verified");
    assert_eq!(
        si["first_factor_verification"]["object"],
        "verification_ticket"
    );
    let sid = si["created_session_id"].as_str().unwrap().to_owned();
    let claims = verify_jwt(&h.jwks().await, &c.jwt(&sid).await).unwrap();
    assert_eq!(claims["sub"], uid, "the session is the token's user's");

    // Used: a second client cannot use it again, and nothing is created for it.
    let mut other = h.fapi();
    let r = sign_in_with(&mut other, &ticket).await;
    assert_eq!((r.status, r.code()), (422, "ticket_invalid"), "{}", r.body);
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "ticket");
    let sessions = h
        .bapi(Method::GET, &format!("/v1/sessions?user_id={uid}"), None)
        .await;
    assert_eq!(sessions.ok().as_array().unwrap().len(), 1);

    // An accepted token cannot be revoked.
    let id = t["id"].as_str().unwrap();
    let r = h
        .bapi(
            Method::POST,
            &format!("/v1/sign_in_tokens/{id}/revoke"),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "request_invalid_for_status"));
}

#[tokio::test]
async fn revoked_expired_and_unknown_tickets_are_refused() {
    let h = start().await;
    let user = h.create_user("rev@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();

    let t = new_token(&h, uid, json!({})).await;
    let id = t["id"].as_str().unwrap();
    let r = h
        .bapi(
            Method::POST,
            &format!("/v1/sign_in_tokens/{id}/revoke"),
            None,
        )
        .await;
    let revoked = r.ok();
    assert_eq!(revoked["status"], "revoked");
    assert!(
        revoked.get("token").is_none(),
        "the ticket is shown only when created: {revoked}"
    );
    let mut c = h.fapi();
    let r = sign_in_with(&mut c, t["token"].as_str().unwrap()).await;
    assert_eq!((r.status, r.code()), (422, "ticket_invalid"));

    // Expiry follows the emulator's clock.
    let short = new_token(&h, uid, json!({"expires_in_seconds": 60})).await;
    h.advance(61).await;
    let r = sign_in_with(&mut c, short["token"].as_str().unwrap()).await;
    assert_eq!((r.status, r.code()), (422, "ticket_expired"), "{}", r.body);
    // Just inside its lifetime it works.
    let fresh = new_token(&h, uid, json!({"expires_in_seconds": 60})).await;
    h.advance(59).await;
    let r = sign_in_with(&mut c, fresh["token"].as_str().unwrap()).await;
    assert_eq!(r.ok()["response"]["status"], "complete");

    let mut c = h.fapi();
    for bad in ["nope", "", &"x".repeat(5000)] {
        let r = sign_in_with(&mut c, bad).await;
        assert_eq!(r.status, 422, "{bad:.10}: {}", r.body);
    }
    let r = c
        .post("/v1/client/sign_ins", &[("strategy", "ticket")])
        .await;
    assert_eq!((r.status, r.code()), (422, "form_param_nil"));
    assert_eq!(
        c.get("/v1/client").await.ok()["response"]["sessions"],
        json!([]),
        "no failed ticket signed anyone in"
    );
}

#[tokio::test]
async fn bad_sign_in_token_requests_get_clerk_errors() {
    let h = start().await;
    let user = h.create_user("bad@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    let r = h
        .bapi(Method::POST, "/v1/sign_in_tokens", Some(json!({})))
        .await;
    assert_eq!((r.status, r.code()), (422, "form_param_nil"));
    let r = h
        .bapi(
            Method::POST,
            "/v1/sign_in_tokens",
            Some(json!({"user_id": "user_nobody"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_not_found"));
    for secs in [0, -5, i64::MIN] {
        let r = h
            .bapi(
                Method::POST,
                "/v1/sign_in_tokens",
                Some(json!({"user_id": uid, "expires_in_seconds": secs})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (422, "form_param_value_invalid"),
            "{secs}"
        );
    }
    // The spec sets no upper bound: a huge lifetime is accepted and never runs out.
    let t = new_token(&h, uid, json!({"expires_in_seconds": i64::MAX})).await;
    h.advance(100 * 365 * 24 * 3600).await;
    let r = sign_in_with(&mut h.fapi(), t["token"].as_str().unwrap()).await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    // Beyond i64 too (JSON numbers have no bound); a fraction is no number of seconds.
    let t = new_token(&h, uid, json!({"expires_in_seconds": 5.66e26})).await;
    assert_eq!(t["status"], "pending");
    let r = h
        .bapi(
            Method::POST,
            "/v1/sign_in_tokens",
            Some(json!({"user_id": uid, "expires_in_seconds": 1.5})),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "form_param_format_invalid"));
    // No organizations exist in the emulator yet.
    let r = h
        .bapi(
            Method::POST,
            "/v1/sign_in_tokens",
            Some(json!({"user_id": uid, "org_id": "org_1"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_not_found"));
    let r = h
        .bapi(Method::POST, "/v1/sign_in_tokens/sit_nope/revoke", None)
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_not_found"));
}

#[tokio::test]
async fn a_ticket_does_not_skip_a_second_factor_or_a_ban() {
    let h = start().await;
    let user = h.create_user("mfa-ticket@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    let mut c = h.fapi();
    c.sign_in("mfa-ticket@example.com", PASSWORD).await;
    crate::mfa::enrol_totp(&h, &mut c).await;

    let t = new_token(&h, uid, json!({})).await;
    let mut fresh = h.fapi();
    let r = sign_in_with(&mut fresh, t["token"].as_str().unwrap()).await;
    let si = &r.ok()["response"];
    assert_eq!(si["status"], "needs_second_factor");
    assert!(si["created_session_id"].is_null());

    let other = h.create_user("banned-ticket@example.com", PASSWORD).await;
    let oid = other["id"].as_str().unwrap();
    let t = new_token(&h, oid, json!({})).await;
    h.bapi(Method::POST, &format!("/v1/users/{oid}/ban"), None)
        .await
        .ok();
    let r = sign_in_with(&mut h.fapi(), t["token"].as_str().unwrap()).await;
    assert_eq!((r.status, r.code()), (403, "user_banned"));
    // The refusal left the ticket unused: unbanned, the user can still redeem it.
    h.bapi(Method::POST, &format!("/v1/users/{oid}/unban"), None)
        .await
        .ok();
    let r = sign_in_with(&mut h.fapi(), t["token"].as_str().unwrap()).await;
    assert_eq!(r.ok()["response"]["status"], "complete");
}
