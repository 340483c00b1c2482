//! Session reverification (`/v1/client/sessions/{id}/verify…`): each level, the factor ages a
//! session token's `fva` carries before and after, wrong attempts (counted and kept), another
//! client refused, bad input. Every response is checked against the FAPI spec by the harness.
//! Also: the MFA changes emit `user.updated`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::mfa::{code_at, enrol_totp, mid_step, totp_of, PASSWORD};
use crate::receiver::Receiver;
use crate::support::*;

/// A user with a password, signed in on a new client; the client and the session id.
async fn signed_in<'a>(h: &'a Harness, email: &str) -> (Native<'a>, String) {
    h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    let sid = c.sign_in(email, PASSWORD).await;
    (c, sid)
}

/// The `fva` of a new session token.
async fn fva(h: &Harness, c: &mut Native<'_>, sid: &str) -> Value {
    let jwt = c.jwt(sid).await;
    verify_jwt(&h.jwks().await, &jwt).unwrap()["fva"].clone()
}

async fn verify(c: &mut Native<'_>, sid: &str, step: &str, form: &[(&str, &str)]) -> Resp {
    let path = if step.is_empty() {
        format!("/v1/client/sessions/{sid}/verify")
    } else {
        format!("/v1/client/sessions/{sid}/verify/{step}")
    };
    c.post(&path, form).await
}

fn strategies(factors: &Value) -> Vec<&str> {
    factors
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["strategy"].as_str().unwrap())
        .collect()
}

/// Checks what a user relies on in a reverification response: the object, its level and
/// status, and that the session it carries is the one verified, showing `fva` as given.
#[track_caller]
fn check(r: &Resp, sid: &str, level: &str, status: &str) -> Value {
    let v = r.ok()["response"].clone();
    assert_eq!(v["object"], "session_reverification", "{v}");
    assert_eq!(v["level"], level);
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["session"]["id"], sid);
    v
}

#[tokio::test]
async fn first_factor_by_password_resets_the_first_factor_age_only() {
    let h = start().await;
    let (mut c, sid) = signed_in(&h, "rv-first@example.com").await;
    h.advance(5 * 60).await;
    assert_eq!(fva(&h, &mut c, &sid).await, json!([5, -1]));

    let r = verify(&mut c, &sid, "", &[("level", "first_factor")]).await;
    let v = check(&r, &sid, "first_factor", "needs_first_factor");
    assert_eq!(
        strategies(&v["supported_first_factors"]),
        ["password", "email_code"]
    );
    assert_eq!(
        v["supported_first_factors"][1]["safe_identifier"],
        "rv-first@example.com"
    );
    assert_eq!(v["supported_second_factors"], json!([]));
    assert!(v["first_factor_verification"].is_null());
    assert_eq!(v["session"]["factor_verification_age"], json!([5, -1]));
    assert_eq!(r.body["client"]["sessions"][0]["id"], sid.as_str());

    // A wrong password is refused, and counted.
    verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "password"), ("password", "lk-Wrong-pass-0000")],
    )
    .await
    .err(422, "form_password_incorrect");
    assert_eq!(fva(&h, &mut c, &sid).await, json!([5, -1]), "not verified");

    let r = verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "password"), ("password", PASSWORD)],
    )
    .await;
    let v = check(&r, &sid, "first_factor", "complete");
    let ffv = &v["first_factor_verification"];
    assert_eq!(ffv["object"], "verification_password");
    assert_eq!(ffv["status"], "verified");
    assert_eq!(ffv["attempts"], 2, "the wrong attempt was kept");
    assert_eq!(v["session"]["factor_verification_age"], json!([0, -1]));
    // The session's token in the response already carries the new age, and so does a new one.
    let jwt = v["session"]["last_active_token"]["jwt"].as_str().unwrap();
    assert_eq!(
        verify_jwt(&h.jwks().await, jwt).unwrap()["fva"],
        json!([0, -1])
    );
    assert_eq!(fva(&h, &mut c, &sid).await, json!([0, -1]));
    h.advance(3 * 60).await;
    assert_eq!(fva(&h, &mut c, &sid).await, json!([3, -1]));

    // Complete: nothing more to attempt.
    verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "password"), ("password", PASSWORD)],
    )
    .await
    .err(400, "request_invalid_for_status");
}

#[tokio::test]
async fn first_factor_by_emailed_code_counts_wrong_codes() {
    let h = start().await;
    let email = "rv-code@example.com";
    let (mut c, sid) = signed_in(&h, email).await;
    h.advance(120).await;
    verify(&mut c, &sid, "", &[("level", "first_factor")])
        .await
        .ok();
    // A code attempt before any code was sent.
    verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "email_code"), ("code", "123456")],
    )
    .await
    .err(400, "request_invalid_for_status");
    let r = verify(
        &mut c,
        &sid,
        "prepare_first_factor",
        &[("strategy", "email_code")],
    )
    .await;
    let v = check(&r, &sid, "first_factor", "needs_first_factor");
    assert_eq!(v["first_factor_verification"]["status"], "unverified");
    assert_eq!(v["first_factor_verification"]["strategy"], "email_code");
    let code = h.latest_code(email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "email_code"), ("code", wrong)],
    )
    .await
    .err(422, "form_code_incorrect");
    let r = verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "email_code"), ("code", &code)],
    )
    .await;
    let v = check(&r, &sid, "first_factor", "complete");
    assert_eq!(v["first_factor_verification"]["object"], "verification_otp");
    assert_eq!(v["first_factor_verification"]["attempts"], 2);
    assert_eq!(fva(&h, &mut c, &sid).await, json!([0, -1]));
}

#[tokio::test]
async fn without_a_second_factor_every_level_falls_back_to_the_first_factor() {
    let h = start().await;
    let (mut c, sid) = signed_in(&h, "rv-fallback@example.com").await;
    for level in ["second_factor", "multi_factor"] {
        h.advance(60).await;
        let r = verify(&mut c, &sid, "", &[("level", level)]).await;
        let v = check(&r, &sid, level, "needs_first_factor");
        assert_eq!(v["supported_second_factors"], json!([]));
        assert!(!v["supported_first_factors"].as_array().unwrap().is_empty());
        verify(
            &mut c,
            &sid,
            "attempt_second_factor",
            &[("strategy", "totp"), ("code", "123456")],
        )
        .await
        .err(400, "request_invalid_for_status");
        let r = verify(
            &mut c,
            &sid,
            "attempt_first_factor",
            &[("strategy", "password"), ("password", PASSWORD)],
        )
        .await;
        check(&r, &sid, level, "complete");
        assert_eq!(fva(&h, &mut c, &sid).await, json!([0, -1]), "{level}");
    }
}

#[tokio::test]
async fn second_factor_by_totp_resets_the_second_factor_age_only() {
    let h = start().await;
    let (mut c, sid) = signed_in(&h, "rv-totp@example.com").await;
    let (secret, _) = enrol_totp(&h, &mut c).await;
    h.advance(10 * 60).await;
    let now = mid_step(&h).await;
    assert_eq!(fva(&h, &mut c, &sid).await, json!([10, 10]));

    let r = verify(&mut c, &sid, "", &[("level", "second_factor")]).await;
    let v = check(&r, &sid, "second_factor", "needs_second_factor");
    assert_eq!(
        strategies(&v["supported_second_factors"]),
        ["totp", "backup_code"]
    );
    assert_eq!(v["supported_first_factors"], json!([]));
    // No first factor in this verification.
    verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "password"), ("password", PASSWORD)],
    )
    .await
    .err(400, "request_invalid_for_status");
    let t = totp_of(&secret);
    verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "totp"), ("code", &code_at(&t, now - 120_000))],
    )
    .await
    .err(422, "form_code_incorrect");
    let r = verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "totp"), ("code", &code_at(&t, now))],
    )
    .await;
    let v = check(&r, &sid, "second_factor", "complete");
    let sfv = &v["second_factor_verification"];
    assert_eq!(sfv["object"], "verification_totp");
    assert_eq!(sfv["status"], "verified");
    assert_eq!(sfv["attempts"], 2, "the wrong attempt was kept");
    assert_eq!(v["session"]["factor_verification_age"], json!([10, 0]));
    assert_eq!(fva(&h, &mut c, &sid).await, json!([10, 0]));

    // The code just used is not taken again, by a new verification either.
    verify(&mut c, &sid, "", &[("level", "second_factor")])
        .await
        .ok();
    verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "totp"), ("code", &code_at(&t, now))],
    )
    .await
    .err(422, "form_code_incorrect");
}

#[tokio::test]
async fn multi_factor_takes_both_factors_and_a_backup_code_once() {
    let h = start().await;
    let (mut c, sid) = signed_in(&h, "rv-multi@example.com").await;
    let (_, codes) = enrol_totp(&h, &mut c).await;
    h.advance(20 * 60).await;
    assert_eq!(fva(&h, &mut c, &sid).await, json!([20, 20]));

    let r = verify(&mut c, &sid, "", &[("level", "multi_factor")]).await;
    let v = check(&r, &sid, "multi_factor", "needs_first_factor");
    assert_eq!(
        strategies(&v["supported_second_factors"]),
        ["totp", "backup_code"]
    );
    verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "backup_code"), ("code", &codes[0])],
    )
    .await
    .err(400, "request_invalid_for_status");
    let r = verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "password"), ("password", PASSWORD)],
    )
    .await;
    let v = check(&r, &sid, "multi_factor", "needs_second_factor");
    assert_eq!(v["session"]["factor_verification_age"], json!([0, 20]));
    h.advance(60).await;
    let r = verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "backup_code"), ("code", &codes[0])],
    )
    .await;
    let v = check(&r, &sid, "multi_factor", "complete");
    assert_eq!(
        v["second_factor_verification"]["object"],
        "verification_backup_code"
    );
    assert_eq!(fva(&h, &mut c, &sid).await, json!([1, 0]));

    // The backup code is used up.
    verify(&mut c, &sid, "", &[("level", "second_factor")])
        .await
        .ok();
    verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "backup_code"), ("code", &codes[0])],
    )
    .await
    .err(422, "form_code_incorrect");
    let r = verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "backup_code"), ("code", &codes[1])],
    )
    .await;
    check(&r, &sid, "second_factor", "complete");
}

#[tokio::test]
async fn second_factor_by_sms_code_to_the_default_phone() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true}}))
        .await;
    let email = "rv-sms@example.com";
    let phone = "+14155552673";
    let u = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": [email], "phone_number": [phone], "password": PASSWORD})),
        )
        .await;
    let phone_id = u.ok()["phone_numbers"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = h.fapi();
    let sid = c.sign_in(email, PASSWORD).await;
    c.call(
        Method::PATCH,
        &format!("/v1/me/phone_numbers/{phone_id}"),
        &[("reserved_for_second_factor", "true")],
    )
    .await
    .ok();
    h.advance(4 * 60).await;
    // Reserving the phone did not verify it as a second factor on this session.
    assert_eq!(fva(&h, &mut c, &sid).await, json!([4, -1]));

    let r = verify(&mut c, &sid, "", &[("level", "second_factor")]).await;
    let v = check(&r, &sid, "second_factor", "needs_second_factor");
    let f = &v["supported_second_factors"][0];
    assert_eq!(f["strategy"], "phone_code");
    assert_eq!(f["phone_number_id"], phone_id.as_str());
    assert_eq!(f["default"], true);
    // No code sent yet.
    verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "phone_code"), ("code", "123456")],
    )
    .await
    .err(400, "request_invalid_for_status");
    // clerk-js sends just the strategy: the default second-factor phone.
    let r = verify(
        &mut c,
        &sid,
        "prepare_second_factor",
        &[("strategy", "phone_code")],
    )
    .await;
    let v = check(&r, &sid, "second_factor", "needs_second_factor");
    assert_eq!(v["second_factor_verification"]["status"], "unverified");
    let code = h.latest_code(phone).await;
    let r = verify(
        &mut c,
        &sid,
        "attempt_second_factor",
        &[("strategy", "phone_code"), ("code", &code)],
    )
    .await;
    let v = check(&r, &sid, "second_factor", "complete");
    assert_eq!(
        v["second_factor_verification"]["object"],
        "verification_otp"
    );
    assert_eq!(fva(&h, &mut c, &sid).await, json!([4, 0]));
}

#[tokio::test]
async fn only_the_sessions_own_client_may_verify_it() {
    let h = start().await;
    let email = "rv-owner@example.com";
    let (mut c, sid) = signed_in(&h, email).await;
    h.advance(5 * 60).await;
    let mut other = h.fapi();
    other.sign_in(email, PASSWORD).await;
    verify(&mut other, &sid, "", &[("level", "first_factor")])
        .await
        .err(404, "resource_not_found");
    // A verification the owner started is no business of another client either.
    verify(&mut c, &sid, "", &[("level", "first_factor")])
        .await
        .ok();
    for mut stranger in [h.fapi(), other] {
        verify(
            &mut stranger,
            &sid,
            "attempt_first_factor",
            &[("strategy", "password"), ("password", PASSWORD)],
        )
        .await
        .err(404, "resource_not_found");
    }
    assert_eq!(fva(&h, &mut c, &sid).await, json!([5, -1]));
    let r = c.get(&format!("/v1/client/sessions/{sid}")).await;
    assert_eq!(
        r.ok()["response"]["factor_verification_age"],
        json!([5, -1])
    );

    // An ended session cannot be verified.
    c.post(&format!("/v1/client/sessions/{sid}/end"), &[])
        .await
        .ok();
    verify(&mut c, &sid, "", &[("level", "first_factor")])
        .await
        .err(401, "authentication_invalid");
}

#[tokio::test]
async fn bad_input_is_refused_in_the_envelope_and_changes_nothing() {
    let h = start().await;
    let (mut c, sid) = signed_in(&h, "rv-bad@example.com").await;
    h.advance(7 * 60).await;
    let session = |r: &Resp| r.ok()["response"].clone();
    let before = session(&c.get(&format!("/v1/client/sessions/{sid}")).await);

    // Nothing started yet.
    for step in [
        "prepare_first_factor",
        "attempt_first_factor",
        "prepare_second_factor",
        "attempt_second_factor",
    ] {
        verify(
            &mut c,
            &sid,
            step,
            &[("strategy", "email_code"), ("code", "1")],
        )
        .await
        .err(400, "request_invalid_for_status");
    }
    verify(&mut c, &sid, "", &[])
        .await
        .err(422, "form_param_nil");
    verify(&mut c, &sid, "", &[("level", "")])
        .await
        .err(422, "form_param_nil");
    verify(&mut c, &sid, "", &[("level", "L3.multiFactor")])
        .await
        .err(422, "form_param_value_invalid");
    verify(&mut c, "sess_nothing", "", &[("level", "first_factor")])
        .await
        .err(404, "resource_not_found");

    verify(&mut c, &sid, "", &[("level", "first_factor")])
        .await
        .ok();
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        ("attempt_first_factor", &[], 422, "form_param_nil"),
        (
            "attempt_first_factor",
            &[("strategy", "password")],
            422,
            "form_param_nil",
        ),
        (
            "attempt_first_factor",
            &[("strategy", "email_code")],
            422,
            "form_param_nil",
        ),
        (
            "attempt_first_factor",
            &[("strategy", "passkey"), ("public_key_credential", "{}")],
            422,
            "form_param_value_invalid",
        ),
        (
            "attempt_first_factor",
            &[("strategy", "carrier_pigeon"), ("code", "1")],
            422,
            "form_param_value_invalid",
        ),
        (
            "prepare_first_factor",
            &[("strategy", "password")],
            422,
            "form_param_value_invalid",
        ),
        (
            "prepare_first_factor",
            &[("strategy", "enterprise_sso")],
            422,
            "form_param_value_invalid",
        ),
        ("prepare_first_factor", &[], 422, "form_param_nil"),
        (
            "prepare_first_factor",
            &[
                ("strategy", "email_code"),
                ("email_address_id", "idn_nothing"),
            ],
            404,
            "resource_not_found",
        ),
        (
            "prepare_first_factor",
            &[("strategy", "phone_code")],
            422,
            "form_param_value_invalid",
        ),
        (
            "attempt_second_factor",
            &[("strategy", "totp"), ("code", "123456")],
            400,
            "request_invalid_for_status",
        ),
    ];
    for (step, form, status, code) in cases {
        let r = verify(&mut c, &sid, step, form).await;
        assert_eq!(
            (r.status, r.code()),
            (*status, *code),
            "{step} {form:?}: {}",
            r.body
        );
    }
    // The session is as it was, and nothing was counted or sent.
    let after = session(&c.get(&format!("/v1/client/sessions/{sid}")).await);
    assert_eq!(after["factor_verification_age"], json!([7, -1]));
    assert_eq!(after["updated_at"], before["updated_at"]);
    let r = h
        .control(Method::GET, "/messages?to=rv-bad%40example.com", None)
        .await;
    assert_eq!(r.ok()["data"], json!([]), "no code was sent");
    let r = verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "password"), ("password", PASSWORD)],
    )
    .await;
    let v = check(&r, &sid, "first_factor", "complete");
    assert_eq!(
        v["first_factor_verification"]["attempts"], 1,
        "no refused call counted"
    );
}

/// The MFA changes are `user.updated` events: enrolling TOTP, new backup codes, reserving a
/// phone, and the Backend API's removal of every second factor.
#[tokio::test]
async fn mfa_changes_emit_user_updated() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true}}))
        .await;
    let email = "rv-hooks@example.com";
    let phone = "+14155552674";
    let u = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": [email], "phone_number": [phone], "password": PASSWORD})),
        )
        .await;
    let uid = u.ok()["id"].as_str().unwrap().to_owned();
    let phone_id = u.body["phone_numbers"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = h.fapi();
    c.sign_in(email, PASSWORD).await;
    h.wait_idle().await;
    let rx = Receiver::start().await;
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": rx.url, "events": ["user.updated"]})),
    )
    .await
    .ok();

    let updates = |rx: &Receiver| -> Vec<Value> {
        rx.of_type("user.updated")
            .iter()
            .map(|d| d.json()["data"].clone())
            .collect()
    };
    enrol_totp(&h, &mut c).await;
    h.wait_idle().await;
    let got = updates(&rx);
    assert_eq!(got.len(), 1, "one event for the enrolment: {got:?}");
    assert_eq!(got[0]["id"], uid.as_str());
    assert_eq!(got[0]["totp_enabled"], true);
    assert_eq!(got[0]["two_factor_enabled"], true);
    assert_eq!(got[0]["backup_code_enabled"], true);

    c.post("/v1/me/backup_codes", &[]).await.ok();
    h.wait_idle().await;
    assert_eq!(updates(&rx).len(), 2, "new backup codes");

    c.call(
        Method::PATCH,
        &format!("/v1/me/phone_numbers/{phone_id}"),
        &[("reserved_for_second_factor", "true")],
    )
    .await
    .ok();
    h.wait_idle().await;
    let got = updates(&rx);
    assert_eq!(got.len(), 3, "a phone reserved");
    assert_eq!(
        got[2]["phone_numbers"][0]["reserved_for_second_factor"],
        true
    );

    h.bapi(Method::DELETE, &format!("/v1/users/{uid}/mfa"), None)
        .await
        .ok();
    h.wait_idle().await;
    let got = updates(&rx);
    assert_eq!(got.len(), 4, "every second factor removed");
    assert_eq!(got[3]["two_factor_enabled"], false);
    assert_eq!(got[3]["totp_enabled"], false);
    assert_eq!(got[3]["backup_code_enabled"], false);
    assert_eq!(
        got[3]["phone_numbers"][0]["reserved_for_second_factor"],
        false
    );
    // A reverification changes the session, not the user: no event.
    let sid = c.get("/v1/client").await.ok()["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    verify(&mut c, &sid, "", &[("level", "first_factor")])
        .await
        .ok();
    verify(
        &mut c,
        &sid,
        "attempt_first_factor",
        &[("strategy", "password"), ("password", PASSWORD)],
    )
    .await
    .ok();
    h.wait_idle().await;
    assert_eq!(updates(&rx).len(), 4);
}

#[tokio::test]
async fn wrong_reverification_passwords_count_towards_the_lockout() {
    let h = start().await;
    h.set_settings(json!({"attack_protection": {"user_lockout": {
        "max_attempts": 2, "duration_in_minutes": 60}}}))
        .await;
    let (mut c, sid) = signed_in(&h, "rv-lock@example.com").await;
    verify(&mut c, &sid, "", &[("level", "first_factor")])
        .await
        .ok();
    let wrong = [("strategy", "password"), ("password", "lk-Wrong-pass-0000")];
    verify(&mut c, &sid, "attempt_first_factor", &wrong)
        .await
        .err(422, "form_password_incorrect");
    verify(&mut c, &sid, "attempt_first_factor", &wrong)
        .await
        .err(422, "user_locked");
    // Locked: the right password waits for the clock too.
    let right = [("strategy", "password"), ("password", PASSWORD)];
    verify(&mut c, &sid, "attempt_first_factor", &right)
        .await
        .err(422, "user_locked");
    h.advance(3600).await;
    let r = verify(&mut c, &sid, "attempt_first_factor", &right).await;
    check(&r, &sid, "first_factor", "complete");
}
