use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn identifier_and_password_complete_in_one_call() {
    let h = start().await;
    let user = h.create_user("sam@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "Sam@Example.com"),
                ("password", "lk-Test-pass-4921"),
            ],
        )
        .await;
    let body = r.ok();
    assert_eq!(body["response"]["object"], "sign_in_attempt");
    assert_eq!(body["response"]["status"], "complete");
    let sid = body["response"]["created_session_id"].as_str().unwrap();
    assert_eq!(body["client"]["last_active_session_id"], sid);
    assert_eq!(body["client"]["sessions"][0]["user"]["id"], user["id"]);
    assert_eq!(body["client"]["last_authentication_strategy"], "password");
    let u = h
        .bapi(
            Method::GET,
            &format!("/v1/users/{}", user["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(
        u.ok()["last_sign_in_at"].as_i64().unwrap() > 1_600_000_000_000,
        "milliseconds"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_identifier_fail_with_their_codes() {
    let h = start().await;
    h.create_user("sam@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    c.post(
        "/v1/client/sign_ins",
        &[("identifier", "sam@example.com"), ("password", "nope-nope")],
    )
    .await
    .err(422, "form_password_incorrect");
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "nobody@example.com"), ("password", "x")],
        )
        .await;
    r.err(422, "form_identifier_not_found");
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "identifier");
    // The two-step form: identify, then attempt the password factor.
    let r = c
        .post("/v1/client/sign_ins", &[("identifier", "sam@example.com")])
        .await;
    let si = &r.ok()["response"];
    assert_eq!(si["status"], "needs_first_factor");
    let strategies: Vec<&str> = si["supported_first_factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["strategy"].as_str().unwrap())
        .collect();
    assert!(
        strategies.contains(&"password") && strategies.contains(&"email_code"),
        "{strategies:?}"
    );
    let id = si["id"].as_str().unwrap().to_owned();
    let attempt = format!("/v1/client/sign_ins/{id}/attempt_first_factor");
    c.post(
        &attempt,
        &[("strategy", "password"), ("password", "wrong-wrong")],
    )
    .await
    .err(422, "form_password_incorrect");
    let r = c
        .post(
            &attempt,
            &[("strategy", "password"), ("password", "lk-Test-pass-4921")],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    assert_eq!(
        r.body["response"]["first_factor_verification"]["status"],
        "verified"
    );
    assert_eq!(
        r.body["response"]["first_factor_verification"]["attempts"],
        2
    );
}

#[tokio::test]
async fn email_code_sign_in() {
    let h = start().await;
    h.create_user("code@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "code@example.com"),
                ("strategy", "email_code"),
            ],
        )
        .await;
    let si = &r.ok()["response"];
    assert_eq!(si["status"], "needs_first_factor");
    assert_eq!(si["first_factor_verification"]["strategy"], "email_code");
    assert_eq!(si["first_factor_verification"]["status"], "unverified");
    let id = si["id"].as_str().unwrap().to_owned();
    let code = h.latest_code("code@example.com").await;
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &[("strategy", "email_code"), ("code", &code)],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    assert_eq!(
        r.body["client"]["last_authentication_strategy"],
        "email_code"
    );
}

#[tokio::test]
async fn phone_code_sign_in_with_a_test_number() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true, "used_for_first_factor": true}}))
        .await;
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"phone_number": ["+12015550123"], "password": "lk-Test-pass-4921"})),
    )
    .await
    .ok();
    let mut c = h.fapi();
    let r = c
        .post("/v1/client/sign_ins", &[("identifier", "+1 201 555 0123")])
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
        &[("strategy", "phone_code")],
    )
    .await
    .ok();
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &[("strategy", "phone_code"), ("code", "424242")],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    let msgs = h.control(Method::GET, "/messages", None).await;
    assert_eq!(msgs.ok()["data"], json!([]), "test numbers receive nothing");
}

#[tokio::test]
async fn password_reset_by_email_code() {
    let h = start().await;
    h.create_user("forgot@example.com", "old-password").await;
    let mut other_device = h.fapi();
    let old_sid = other_device
        .sign_in("forgot@example.com", "old-password")
        .await;

    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "forgot@example.com")],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            &[("strategy", "reset_password_email_code")],
        )
        .await;
    assert_eq!(
        r.ok()["response"]["first_factor_verification"]["strategy"],
        "reset_password_email_code"
    );
    let msg = h
        .control(Method::GET, "/messages/latest?to=forgot@example.com", None)
        .await;
    assert_eq!(msg.ok()["template"], "reset_password_code");
    let code = msg.body["code"].as_str().unwrap().to_owned();
    // Resetting before the code is verified is refused.
    c.post(
        &format!("/v1/client/sign_ins/{id}/reset_password"),
        &[("password", "new-password")],
    )
    .await
    .err(400, "request_invalid_for_status");
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &[("strategy", "reset_password_email_code"), ("code", &code)],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "needs_new_password");
    c.post(
        &format!("/v1/client/sign_ins/{id}/reset_password"),
        &[("password", "short")],
    )
    .await
    .err(422, "form_password_length_too_short");
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/reset_password"),
            &[
                ("password", "new-password"),
                ("sign_out_of_other_sessions", "true"),
            ],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    // The other device's session was revoked, the old password is gone.
    other_device
        .token(&old_sid)
        .await
        .err(401, "authentication_invalid");
    h.fapi()
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "forgot@example.com"),
                ("password", "old-password"),
            ],
        )
        .await
        .err(422, "form_password_incorrect");
    h.fapi().sign_in("forgot@example.com", "new-password").await;
}

#[tokio::test]
async fn banned_and_locked_users_cannot_sign_in_and_lose_their_sessions() {
    let h = start().await;
    let u = h.create_user("bad@example.com", "lk-Test-pass-4921").await;
    let uid = u["id"].as_str().unwrap();
    let mut c = h.fapi();
    let sid = c.sign_in("bad@example.com", "lk-Test-pass-4921").await;
    let r = h
        .bapi(Method::POST, &format!("/v1/users/{uid}/ban"), None)
        .await;
    assert_eq!(r.ok()["banned"], true);
    c.token(&sid).await.err(401, "authentication_invalid");
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{sid}"), None)
        .await;
    assert_eq!(s.ok()["status"], "revoked");
    h.fapi()
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "bad@example.com"),
                ("password", "lk-Test-pass-4921"),
            ],
        )
        .await
        .err(403, "user_banned");
    h.bapi(Method::POST, &format!("/v1/users/{uid}/unban"), None)
        .await
        .ok();
    h.bapi(Method::POST, &format!("/v1/users/{uid}/lock"), None)
        .await
        .ok();
    h.fapi()
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "bad@example.com"),
                ("password", "lk-Test-pass-4921"),
            ],
        )
        .await
        // 422, as Clerk's lockout fixture (clerk-wire-2 §6).
        .err(422, "user_locked");
    h.bapi(Method::POST, &format!("/v1/users/{uid}/unlock"), None)
        .await
        .ok();
    h.fapi()
        .sign_in("bad@example.com", "lk-Test-pass-4921")
        .await;
}

#[tokio::test]
async fn signing_in_twice_on_one_client_and_single_session_mode() {
    let h = start().await;
    h.create_user("one@example.com", "lk-Test-pass-4921").await;
    h.create_user("two@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    c.sign_in("one@example.com", "lk-Test-pass-4921").await;
    c.post(
        "/v1/client/sign_ins",
        &[
            ("identifier", "one@example.com"),
            ("password", "lk-Test-pass-4921"),
        ],
    )
    .await
    .err(400, "identifier_already_signed_in");
    // Multi-session (the default): a second user joins the client.
    let second = c.sign_in("two@example.com", "lk-Test-pass-4921").await;
    let client = c.get("/v1/client").await;
    assert_eq!(
        client.ok()["response"]["sessions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(client.body["response"]["last_active_session_id"], second);

    h.set_settings(json!({"single_session_mode": true})).await;
    h.create_user("three@example.com", "lk-Test-pass-4921")
        .await;
    c.post(
        "/v1/client/sign_ins",
        &[
            ("identifier", "three@example.com"),
            ("password", "lk-Test-pass-4921"),
        ],
    )
    .await
    .err(400, "session_exists");
}

/// Every `strategy` parameter of the Frontend API is parsed into `latchkey_protocol::Strategy`
/// by its handler: a name that is no strategy is 422 `form_param_value_invalid` (in the Clerk
/// envelope, about `strategy`) before anything happens, and the attempt is left as it was.
#[tokio::test]
async fn an_unknown_strategy_is_422_form_param_value_invalid_and_changes_nothing() {
    let h = start().await;
    h.create_user("strat@example.com", "lk-Test-pass-4921")
        .await;
    let mut c = h.fapi();
    #[track_caller]
    fn refused(r: &Resp, name: &str) {
        r.err(422, "form_param_value_invalid");
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], "strategy");
        let long = r.body["errors"][0]["long_message"].as_str().unwrap();
        assert!(long.contains(name), "{long}");
    }

    // Sign-in: create, prepare, attempt.
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "strat@example.com"),
                ("strategy", "carrier_pigeon"),
            ],
        )
        .await;
    refused(&r, "carrier_pigeon");
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "strat@example.com")],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    for (action, form) in [
        ("prepare_first_factor", vec![("strategy", "oauth_myspace")]),
        ("prepare_first_factor", vec![("strategy", "Email_Code")]),
        (
            "attempt_first_factor",
            vec![("strategy", "carrier_pigeon"), ("code", "424242")],
        ),
    ] {
        let r = c
            .post(&format!("/v1/client/sign_ins/{id}/{action}"), &form)
            .await;
        refused(&r, form[0].1);
    }
    // A strategy Clerk knows but the emulator does not support is refused the same way.
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            &[("strategy", "totp")],
        )
        .await;
    refused(&r, "totp");
    let si = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(si.ok()["response"]["status"], "needs_first_factor");
    assert!(si.body["response"]["first_factor_verification"].is_null());
    let inbox = h
        .control(Method::GET, "/messages?to=strat@example.com", None)
        .await;
    assert_eq!(inbox.ok()["data"], json!([]), "no code was sent");

    // Sign-up: create, update, prepare, attempt.
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "new-strat@example.com"),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "carrier_pigeon"),
            ],
        )
        .await;
    refused(&r, "carrier_pigeon");
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "new-strat@example.com"),
                ("password", "lk-Test-pass-4921"),
            ],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let r = c
        .call(
            Method::PATCH,
            &format!("/v1/client/sign_ups/{id}"),
            &[("strategy", "carrier_pigeon")],
        )
        .await;
    refused(&r, "carrier_pigeon");
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            &[("strategy", "sms")],
        )
        .await;
    refused(&r, "sms");
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "carrier_pigeon"), ("code", "424242")],
        )
        .await;
    refused(&r, "carrier_pigeon");
    let su = c.get(&format!("/v1/client/sign_ups/{id}")).await;
    assert_eq!(su.ok()["response"]["status"], "missing_requirements");
    assert_eq!(
        su.body["response"]["verifications"]["email_address"]["next_action"],
        "needs_prepare"
    );
}
