use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn email_and_password_sign_up_completes_with_the_emailed_code() {
    let h = start().await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "Jane@Example.com"),
                ("password", "correct horse"),
                ("first_name", "Jane"),
                ("unsafe_metadata", r#"{"theme":"dark"}"#),
            ],
        )
        .await;
    let su = &r.ok()["response"];
    assert_eq!(su["status"], "missing_requirements");
    assert_eq!(su["email_address"], "jane@example.com");
    assert_eq!(su["unverified_fields"], json!(["email_address"]));
    assert_eq!(
        su["verifications"]["email_address"]["next_action"],
        "needs_prepare"
    );
    assert!(
        c.token.is_some(),
        "a new client token came back in Authorization"
    );
    let id = su["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("sua_"));

    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            &[("strategy", "email_code")],
        )
        .await;
    assert_eq!(
        r.ok()["response"]["verifications"]["email_address"]["next_action"],
        "needs_attempt"
    );
    let msgs = h
        .control(Method::GET, "/messages?to=jane@example.com", None)
        .await;
    let msg = &msgs.ok()["data"][0];
    assert_eq!(msg["kind"], "email");
    let code = msg["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(msg["subject"].as_str().unwrap().contains(code));
    assert!(msg["body_text"].as_str().unwrap().contains(code));
    assert!(msg["body_html"].as_str().unwrap().contains(code));

    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "email_code"), ("code", code)],
        )
        .await;
    let body = r.ok();
    let su = &body["response"];
    assert_eq!(su["status"], "complete");
    let sid = su["created_session_id"].as_str().unwrap();
    let uid = su["created_user_id"].as_str().unwrap();
    assert!(sid.starts_with("sess_") && uid.starts_with("user_"));
    let client = &body["client"];
    assert_eq!(client["last_active_session_id"], sid);
    let session = &client["sessions"][0];
    assert_eq!(session["status"], "active");
    assert_eq!(session["user"]["id"], uid);
    assert_eq!(session["user"]["first_name"], "Jane");
    assert_eq!(session["user"]["unsafe_metadata"]["theme"], "dark");
    assert_eq!(
        session["user"]["email_addresses"][0]["verification"]["status"],
        "verified"
    );
    assert!(session["last_active_token"]["jwt"].is_string());

    // The user exists in the Backend API, and the password works for sign-in.
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(
        u.ok()["email_addresses"][0]["email_address"],
        "jane@example.com"
    );
    let mut other = h.fapi();
    other.sign_in("jane@example.com", "correct horse").await;
}

#[tokio::test]
async fn wrong_codes_count_and_exhaust_the_verification() {
    let h = start().await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "a@example.com"),
                ("password", "lk-Other-pass-7305"),
            ],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await
    .ok();
    let right = h.latest_code("a@example.com").await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let attempt = format!("/v1/client/sign_ups/{id}/attempt_verification");
    for _ in 0..2 {
        c.post(&attempt, &[("strategy", "email_code"), ("code", wrong)])
            .await
            .err(422, "form_code_incorrect");
    }
    // The attempts were kept although the calls failed.
    let r = c.get(&format!("/v1/client/sign_ups/{id}")).await;
    assert_eq!(
        r.ok()["response"]["verifications"]["email_address"]["attempts"],
        2
    );
    c.post(&attempt, &[("strategy", "email_code"), ("code", wrong)])
        .await
        .err(422, "verification_failed");
    // Exhausted: even the right code is refused now.
    c.post(&attempt, &[("strategy", "email_code"), ("code", &right)])
        .await
        .err(422, "verification_failed");
    let r = c.get(&format!("/v1/client/sign_ups/{id}")).await;
    assert_eq!(
        r.ok()["response"]["verifications"]["email_address"]["status"],
        "failed"
    );
    assert_eq!(r.body["response"]["status"], "missing_requirements");
    // A new code starts over.
    c.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await
    .ok();
    let fresh = h.latest_code("a@example.com").await;
    let r = c
        .post(&attempt, &[("strategy", "email_code"), ("code", &fresh)])
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
}

#[tokio::test]
async fn a_code_expires_when_the_clock_passes_ten_minutes() {
    let h = start().await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "late@example.com"),
                ("password", "lk-Other-pass-7305"),
                ("strategy", "email_code"),
            ],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let code = h.latest_code("late@example.com").await;
    h.advance(601).await;
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "email_code"), ("code", &code)],
        )
        .await;
    r.err(422, "verification_expired");
    let r = c.get(&format!("/v1/client/sign_ups/{id}")).await;
    assert_eq!(
        r.ok()["response"]["verifications"]["email_address"]["status"],
        "expired"
    );
    assert_eq!(
        r.body["response"]["verifications"]["email_address"]["next_action"],
        "needs_prepare"
    );
}

#[tokio::test]
async fn duplicate_identifiers_and_weak_passwords_are_refused() {
    let h = start().await;
    h.create_user("taken@example.com", "lk-Other-pass-7305")
        .await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "TAKEN@example.com"),
                ("password", "lk-Other-pass-7305"),
            ],
        )
        .await;
    r.err(422, "form_identifier_exists");
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "email_address");
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[("email_address", "new@example.com"), ("password", "short")],
        )
        .await;
    r.err(422, "form_password_length_too_short");
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "not-an-email"),
                ("password", "lk-Other-pass-7305"),
            ],
        )
        .await;
    r.err(422, "form_param_format_invalid");
    // Phone numbers are off by default.
    let r = c
        .post("/v1/client/sign_ups", &[("phone_number", "+12015550100")])
        .await;
    r.err(422, "form_param_value_invalid");
    // Nothing was created by the refused calls.
    let n = h.bapi(Method::GET, "/v1/users/count", None).await;
    assert_eq!(n.ok()["total_count"], 1);
}

#[tokio::test]
async fn test_email_addresses_verify_with_424242_and_receive_nothing() {
    let h = start().await;
    let mut c = h.fapi();
    let email = "dev+clerk_test@example.com";
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", email),
                ("password", "lk-Other-pass-7305"),
                ("strategy", "email_code"),
            ],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "email_code"), ("code", "424242")],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    let msgs = h.control(Method::GET, "/messages", None).await;
    assert_eq!(msgs.ok()["data"], json!([]));
}

#[tokio::test]
async fn phone_sign_up_with_sms_code_and_username_when_enabled() {
    let h = start().await;
    h.set_settings(json!({
        "email_address": {"enabled": false, "required": false, "used_for_first_factor": false},
        "phone_number": {"enabled": true, "required": true, "used_for_first_factor": true, "verify_at_sign_up": true},
        "username": {"enabled": true, "required": true, "used_for_first_factor": true}
    }))
    .await;
    let env = h.fapi().get("/v1/environment").await;
    assert_eq!(env.ok()["auth_config"]["phone_number"], "required");
    assert_eq!(
        env.body["user_settings"]["attributes"]["username"]["enabled"],
        true
    );

    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[
                ("phone_number", "+1 (415) 555-2671"),
                ("password", "lk-Other-pass-7305"),
            ],
        )
        .await;
    let su = &r.ok()["response"];
    assert_eq!(su["phone_number"], "+14155552671");
    assert_eq!(su["missing_fields"], json!(["username"]));
    let id = su["id"].as_str().unwrap().to_owned();
    let r = c
        .call(
            Method::PATCH,
            &format!("/v1/client/sign_ups/{id}"),
            &[("username", "jane_doe")],
        )
        .await;
    assert_eq!(r.ok()["response"]["missing_fields"], json!([]));
    c.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        &[("strategy", "phone_code")],
    )
    .await
    .ok();
    let sms = h
        .control(
            Method::GET,
            "/messages/latest?to=%2B14155552671&kind=sms",
            None,
        )
        .await;
    let code = sms.ok()["code"].as_str().unwrap().to_owned();
    assert!(sms.body["body_text"].as_str().unwrap().contains(&code));
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "phone_code"), ("code", &code)],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    // The username now signs in.
    h.fapi().sign_in("jane_doe", "lk-Other-pass-7305").await;
}

#[tokio::test]
async fn restricted_sign_up_mode_refuses_sign_ups() {
    let h = start().await;
    h.set_settings(json!({"sign_up_mode": "restricted"})).await;
    let r = h
        .fapi()
        .post(
            "/v1/client/sign_ups",
            &[
                ("email_address", "x@example.com"),
                ("password", "lk-Other-pass-7305"),
            ],
        )
        .await;
    r.err(403, "sign_up_mode_restricted");
}
