//! Second factors: TOTP enrolment and sign-in (codes from `totp-rs`, an implementation
//! independent of the emulator's, on emulator-issued secrets), drift, replay and expiry by the
//! emulator clock, backup codes, SMS codes, the Backend API's MFA operations, bad input.

use reqwest::Method;
use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::support::*;

pub(crate) const PASSWORD: &str = "lk-Test-pass-4921";

/// The emulator's clock, ms.
pub(crate) async fn now_ms(h: &Harness) -> i64 {
    h.control(Method::GET, "/time", None).await.ok()["now"]
        .as_i64()
        .unwrap()
}

/// Moves the clock to the middle of a 30 s step, so a code computed now stays in its step
/// for the next several seconds of test.
pub(crate) async fn mid_step(h: &Harness) -> i64 {
    let now = now_ms(h).await;
    let into = now.rem_euclid(30_000);
    let ms = (15_000 - into).rem_euclid(30_000);
    h.control(Method::POST, "/time/advance", Some(json!({ "ms": ms })))
        .await
        .ok();
    now_ms(h).await
}

pub(crate) fn totp_of(secret: &str) -> TOTP {
    let key = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, key).unwrap()
}

/// The code for the emulator time `at_ms`.
pub(crate) fn code_at(t: &TOTP, at_ms: i64) -> String {
    t.generate(u64::try_from(at_ms / 1000).unwrap())
}

/// A user with a password, signed in on `c`; the user's id.
async fn signed_in_user(h: &Harness, c: &mut Native<'_>, email: &str) -> String {
    let u = h.create_user(email, PASSWORD).await;
    c.sign_in(email, PASSWORD).await;
    u["id"].as_str().unwrap().to_owned()
}

/// Enrols an authenticator app for the user signed in on `c`: its secret and backup codes.
pub(crate) async fn enrol_totp(h: &Harness, c: &mut Native<'_>) -> (String, Vec<String>) {
    let r = c.post("/v1/me/totp", &[]).await;
    let t = r.ok()["response"].clone();
    assert_eq!(t["object"], "totp");
    assert_eq!(t["verified"], false);
    assert!(t["backup_codes"].is_null());
    let secret = t["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "20 bytes in base32 without padding");
    let uri = t["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Latchkey:")
            && uri.contains(&format!("secret={secret}"))
            && uri.contains("issuer=Latchkey")
            && uri.contains("algorithm=SHA1&digits=6&period=30"),
        "{uri}"
    );
    let now = mid_step(h).await;
    let code = code_at(&totp_of(&secret), now);
    let r = c
        .post("/v1/me/totp/attempt_verification", &[("code", &code)])
        .await;
    let t = &r.ok()["response"];
    assert_eq!(t["verified"], true);
    assert!(
        t["secret"].is_null(),
        "the secret is shown only while enrolling"
    );
    let codes: Vec<String> = t["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// Starts a password sign-in on a new client; the client and the sign-in's JSON.
async fn sign_in_needing_second_factor<'a>(h: &'a Harness, email: &str) -> (Native<'a>, Value) {
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[("identifier", email), ("password", PASSWORD)],
        )
        .await;
    let body = r.ok().clone();
    let si = body["response"].clone();
    assert_eq!(si["status"], "needs_second_factor", "{si}");
    assert!(si["created_session_id"].is_null());
    assert_eq!(
        body["client"]["sessions"].as_array().unwrap().len(),
        0,
        "no session before the second factor"
    );
    (c, si)
}

async fn attempt(c: &mut Native<'_>, si: &Value, strategy: &str, code: &str) -> Resp {
    let id = si["id"].as_str().unwrap();
    c.post(
        &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
        &[("strategy", strategy), ("code", code)],
    )
    .await
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_asks_for_the_second_factor() {
    let h = start().await;
    let mut c = h.fapi();
    let uid = signed_in_user(&h, &mut c, "mfa-ada@example.com").await;
    let before = c.get("/v1/me").await.ok()["response"].clone();
    assert_eq!(before["two_factor_enabled"], false);
    assert!(before["mfa_enabled_at"].is_null());

    let (secret, codes) = enrol_totp(&h, &mut c).await;
    assert_eq!(codes.len(), 10);
    for code in &codes {
        assert!(
            code.len() == 8
                && code
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()),
            "{code}"
        );
    }
    let me = c.get("/v1/me").await.ok()["response"].clone();
    assert_eq!(me["two_factor_enabled"], true);
    assert_eq!(me["totp_enabled"], true);
    assert_eq!(me["backup_code_enabled"], true);
    assert!(me["mfa_enabled_at"].as_i64().unwrap() > 1_600_000_000_000);
    let bapi_user = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(bapi_user.ok()["totp_enabled"], true);
    assert_eq!(bapi_user.body["two_factor_enabled"], true);

    // The enrolling session counts as second-factor verified now.
    let sid = c.get("/v1/client").await.ok()["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = verify_jwt(&h.jwks().await, &c.jwt(&sid).await).unwrap();
    assert_eq!(claims["fva"], json!([0, 0]));

    // A new sign-in needs the second factor.
    let (mut c2, si) = sign_in_needing_second_factor(&h, "mfa-ada@example.com").await;
    let strategies: Vec<&str> = si["supported_second_factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(strategies, ["totp", "backup_code"]);
    // The enrolment used this step's code: the next step's code signs in.
    h.advance(30).await;
    let now = now_ms(&h).await;
    let r = attempt(&mut c2, &si, "totp", &code_at(&totp_of(&secret), now)).await;
    let body = r.ok();
    assert_eq!(body["response"]["status"], "complete");
    assert_eq!(
        body["response"]["second_factor_verification"]["object"],
        "verification_totp"
    );
    assert_eq!(
        body["response"]["second_factor_verification"]["status"],
        "verified"
    );
    let sid = body["response"]["created_session_id"].as_str().unwrap();
    assert_eq!(body["client"]["last_active_session_id"], sid);
    assert_eq!(body["client"]["last_authentication_strategy"], "password");
    h.advance(180).await;
    let claims = verify_jwt(&h.jwks().await, &c2.jwt(sid).await).unwrap();
    assert_eq!(claims["fva"], json!([3, 3]));
    let s = c2.get(&format!("/v1/client/sessions/{sid}")).await;
    assert_eq!(s.ok()["response"]["factor_verification_age"], json!([3, 3]));
}

#[tokio::test]
async fn totp_accepts_one_step_of_drift_and_refuses_replays_and_old_codes() {
    let h = start().await;
    let email = "mfa-drift@example.com";
    let mut c = h.fapi();
    signed_in_user(&h, &mut c, email).await;
    let (secret, _) = enrol_totp(&h, &mut c).await;
    let t = totp_of(&secret);
    // Well past the enrolment's step.
    h.advance(300).await;
    let now = mid_step(&h).await;

    let (mut c, si) = sign_in_needing_second_factor(&h, email).await;
    for off in [-60_000, 60_000, -90_000] {
        let r = attempt(&mut c, &si, "totp", &code_at(&t, now + off)).await;
        r.err(422, "form_code_incorrect");
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], "code");
    }
    let si_now = c
        .get(&format!(
            "/v1/client/sign_ins/{}",
            si["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(si_now.ok()["response"]["status"], "needs_second_factor");
    assert_eq!(
        si_now.body["response"]["second_factor_verification"]["attempts"], 3,
        "every wrong attempt is counted"
    );
    // 30 s behind: accepted.
    let behind = code_at(&t, now - 30_000);
    attempt(&mut c, &si, "totp", &behind).await.ok();

    // The same code again: refused (replay).
    let (mut c, si) = sign_in_needing_second_factor(&h, email).await;
    attempt(&mut c, &si, "totp", &behind)
        .await
        .err(422, "form_code_incorrect");
    // The current one and the one 30 s ahead: each accepted once.
    attempt(&mut c, &si, "totp", &code_at(&t, now)).await.ok();
    let (mut c, si) = sign_in_needing_second_factor(&h, email).await;
    let ahead = code_at(&t, now + 30_000);
    attempt(&mut c, &si, "totp", &ahead).await.ok();
    // After the step ahead was used, the current step's code (older) is refused too.
    let (mut c, si) = sign_in_needing_second_factor(&h, email).await;
    attempt(&mut c, &si, "totp", &code_at(&t, now))
        .await
        .err(422, "form_code_incorrect");
    // A code expires with the clock: 90 s later the step-after-next's code is two steps old.
    let later = code_at(&t, now + 60_000);
    h.advance(150).await;
    attempt(&mut c, &si, "totp", &later)
        .await
        .err(422, "form_code_incorrect");
    let now2 = now_ms(&h).await;
    attempt(&mut c, &si, "totp", &code_at(&t, now2)).await.ok();
}

#[tokio::test]
async fn a_backup_code_signs_in_once() {
    let h = start().await;
    let email = "mfa-backup@example.com";
    let mut c = h.fapi();
    let uid = signed_in_user(&h, &mut c, email).await;
    let (_, codes) = enrol_totp(&h, &mut c).await;
    let (mut c1, si) = sign_in_needing_second_factor(&h, email).await;
    attempt(&mut c1, &si, "backup_code", "zzzzzzzz")
        .await
        .err(422, "form_code_incorrect");
    let r = attempt(&mut c1, &si, "backup_code", &codes[3].to_uppercase()).await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    assert_eq!(
        r.body["response"]["second_factor_verification"]["object"],
        "verification_backup_code"
    );
    let (mut c2, si) = sign_in_needing_second_factor(&h, email).await;
    attempt(&mut c2, &si, "backup_code", &codes[3])
        .await
        .err(422, "form_code_incorrect");
    attempt(&mut c2, &si, "backup_code", &codes[4]).await.ok();
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["backup_code_enabled"], true, "eight codes are left");

    // A new set replaces the old one (and clerk-js posts to the trailing-slash form, which
    // the harness validates as the spec's path).
    let req = h
        .request(Method::POST, "/v1/me/backup_codes/?_is_native=true")
        .header("authorization", c.token.clone().unwrap())
        .form(&[("x", "")][..0]);
    let r = latchkey_testkit::send(req).await;
    validate(
        fapi_spec(),
        "POST",
        "/v1/me/backup_codes",
        r.status,
        &r.body,
    );
    let set = &r.ok()["response"];
    assert_eq!(set["object"], "backup_code");
    let fresh: Vec<String> = set["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    let (mut c3, si) = sign_in_needing_second_factor(&h, email).await;
    attempt(&mut c3, &si, "backup_code", &codes[5])
        .await
        .err(422, "form_code_incorrect");
    attempt(&mut c3, &si, "backup_code", &fresh[0]).await.ok();
}

#[tokio::test]
async fn an_sms_code_to_a_reserved_phone_is_a_second_factor() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true}}))
        .await;
    let email = "mfa-sms@example.com";
    let phone = "+14155552671";
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
    c.sign_in(email, PASSWORD).await;
    // clerk-js tunnels PATCH as POST ?_method=PATCH.
    let r = c
        .call_with(
            Method::POST,
            "PATCH",
            &format!("/v1/me/phone_numbers/{phone_id}?_method=PATCH"),
            &[("reserved_for_second_factor", "true")],
            &[],
        )
        .await;
    let p = &r.ok()["response"];
    assert_eq!(p["reserved_for_second_factor"], true);
    assert_eq!(
        p["default_second_factor"], true,
        "the first reserved is the default"
    );
    assert!(p["backup_codes"].is_null());
    let me = c.get("/v1/me").await.ok()["response"].clone();
    assert_eq!(me["two_factor_enabled"], true);
    assert_eq!(me["totp_enabled"], false);

    let (mut c2, si) = sign_in_needing_second_factor(&h, email).await;
    let f = &si["supported_second_factors"][0];
    assert_eq!(f["strategy"], "phone_code");
    assert_eq!(f["phone_number_id"], phone_id.as_str());
    assert_eq!(f["default"], true);
    assert_eq!(f["safe_identifier"], "+*********71");
    // No phone_number_id (as iOS may send): the default second-factor phone.
    let id = si["id"].as_str().unwrap();
    let r = c2
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_second_factor"),
            &[("strategy", "phone_code")],
        )
        .await;
    assert_eq!(
        r.ok()["response"]["second_factor_verification"]["status"],
        "unverified"
    );
    let code = h.latest_code(phone).await;
    attempt(&mut c2, &si, "phone_code", "000000")
        .await
        .err(422, "form_code_incorrect");
    let r = attempt(&mut c2, &si, "phone_code", &code).await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    assert_eq!(
        r.body["response"]["second_factor_verification"]["object"],
        "verification_otp"
    );

    // Freed again: sign-in needs only the password.
    c.call_with(
        Method::POST,
        "PATCH",
        &format!("/v1/me/phone_numbers/{phone_id}?_method=PATCH"),
        &[("reserved_for_second_factor", "false")],
        &[],
    )
    .await
    .ok();
    let me = c.get("/v1/me").await.ok()["response"].clone();
    assert_eq!(me["two_factor_enabled"], false);
    assert!(me["mfa_disabled_at"].as_i64().is_some());
    h.fapi().sign_in(email, PASSWORD).await;
}

#[tokio::test]
async fn the_backend_api_checks_and_removes_second_factors() {
    let h = start().await;
    let email = "mfa-bapi@example.com";
    let mut c = h.fapi();
    let uid = signed_in_user(&h, &mut c, email).await;
    let path = |p: &str| format!("/v1/users/{uid}/{p}");
    // Without TOTP: 400.
    let r = h
        .bapi(
            Method::POST,
            &path("verify_totp"),
            Some(json!({"code": "123456"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    let (secret, codes) = enrol_totp(&h, &mut c).await;
    h.advance(30).await;
    let now = now_ms(&h).await;
    let code = code_at(&totp_of(&secret), now);
    let r = h
        .bapi(
            Method::POST,
            &path("verify_totp"),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(r.ok(), &json!({"verified": true, "code_type": "totp"}));
    // The same code again is a replay.
    h.bapi(
        Method::POST,
        &path("verify_totp"),
        Some(json!({"code": code})),
    )
    .await
    .err(422, "form_code_incorrect");
    let r = h
        .bapi(
            Method::POST,
            &path("verify_totp"),
            Some(json!({"code": codes[0]})),
        )
        .await;
    assert_eq!(
        r.ok(),
        &json!({"verified": true, "code_type": "backup_code"})
    );

    let r = h.bapi(Method::DELETE, &path("backup_code"), None).await;
    assert_eq!(r.ok(), &json!({"user_id": uid}));
    h.bapi(Method::DELETE, &path("backup_code"), None)
        .await
        .err(404, "resource_not_found");
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["backup_code_enabled"], false);
    assert_eq!(u.body["totp_enabled"], true);

    let r = h.bapi(Method::DELETE, &path("totp"), None).await;
    assert_eq!(r.ok(), &json!({"user_id": uid}));
    h.bapi(Method::DELETE, &path("totp"), None)
        .await
        .err(404, "resource_not_found");
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["two_factor_enabled"], false);
    assert!(u.body["mfa_disabled_at"].as_i64().is_some());
    // With 2FA off, the signed-in session's second factor age is -1 again.
    let sid = c.get("/v1/client").await.ok()["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = verify_jwt(&h.jwks().await, &c.jwt(&sid).await).unwrap();
    assert_eq!(claims["fva"][1], -1);

    // Enrol again, then turn everything off at once.
    let (_, _) = enrol_totp(&h, &mut c).await;
    let r = h.bapi(Method::DELETE, &path("mfa"), None).await;
    assert_eq!(r.ok(), &json!({"user_id": uid}));
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["two_factor_enabled"], false);
    assert_eq!(u.body["totp_enabled"], false);
    assert_eq!(u.body["backup_code_enabled"], false);
    h.fapi().sign_in(email, PASSWORD).await;
    h.bapi(Method::DELETE, "/v1/users/user_nobody/mfa", None)
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn bad_second_factor_input_is_refused_and_changes_nothing() {
    let h = start().await;
    let email = "mfa-bad@example.com";
    let mut c = h.fapi();
    let uid = signed_in_user(&h, &mut c, email).await;
    // Backup codes need a second factor; deleting a TOTP that does not exist is 404.
    c.post("/v1/me/backup_codes", &[])
        .await
        .err(400, "request_invalid_for_status");
    c.call_with(
        Method::POST,
        "DELETE",
        "/v1/me/totp?_method=DELETE",
        &[],
        &[],
    )
    .await
    .err(404, "resource_not_found");
    c.post("/v1/me/totp/attempt_verification", &[])
        .await
        .err(422, "form_param_nil");
    c.post("/v1/me/totp/attempt_verification", &[("code", "123456")])
        .await
        .err(404, "resource_not_found");
    let untouched = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(untouched.ok()["two_factor_enabled"], false);

    let (_secret, _) = enrol_totp(&h, &mut c).await;
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    let updated_at = u.ok()["updated_at"].clone();
    // A second TOTP while one is on: 400.
    c.post("/v1/me/totp", &[])
        .await
        .err(400, "request_invalid_for_status");
    c.call(
        Method::PATCH,
        "/v1/me/phone_numbers/idn_nothing",
        &[("reserved_for_second_factor", "true")],
    )
    .await
    .err(404, "resource_not_found");
    c.call(
        Method::PATCH,
        "/v1/me/phone_numbers/idn_nothing",
        &[("reserved_for_second_factor", "maybe")],
    )
    .await
    .err(422, "form_param_format_invalid");
    h.bapi(
        Method::POST,
        &format!("/v1/users/{uid}/verify_totp"),
        Some(json!({})),
    )
    .await
    .err(422, "form_param_nil");
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["updated_at"], updated_at, "nothing was written");
    assert_eq!(u.body["totp_enabled"], true);

    let (mut c2, si) = sign_in_needing_second_factor(&h, email).await;
    let id = si["id"].as_str().unwrap();
    let attempt_path = format!("/v1/client/sign_ins/{id}/attempt_second_factor");
    c2.post(&attempt_path, &[("strategy", "totp")])
        .await
        .err(422, "form_param_nil");
    c2.post(&attempt_path, &[("code", "123456")])
        .await
        .err(422, "form_param_nil");
    c2.post(
        &attempt_path,
        &[("strategy", "password"), ("code", "123456")],
    )
    .await
    .err(422, "form_param_value_invalid");
    c2.post(
        &attempt_path,
        &[("strategy", "carrier_pigeon"), ("code", "1")],
    )
    .await
    .err(422, "form_param_value_invalid");
    // phone_code is no factor of this user; totp needs no preparation.
    let prepare_path = format!("/v1/client/sign_ins/{id}/prepare_second_factor");
    c2.post(&prepare_path, &[("strategy", "phone_code")])
        .await
        .err(422, "form_param_value_invalid");
    c2.post(&prepare_path, &[("strategy", "totp")])
        .await
        .err(422, "form_param_value_invalid");
    let r = c2.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.ok()["response"]["status"], "needs_second_factor");
    assert!(
        r.body["response"]["second_factor_verification"].is_null(),
        "no refused call counted as an attempt"
    );
    // A sign-in that needs the first factor cannot take a second one.
    let mut c4 = h.fapi();
    let r = c4
        .post("/v1/client/sign_ins", &[("identifier", email)])
        .await;
    let id4 = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c4.post(
        &format!("/v1/client/sign_ins/{id4}/attempt_second_factor"),
        &[("strategy", "totp"), ("code", "123456")],
    )
    .await
    .err(400, "request_invalid_for_status");
}

#[tokio::test]
async fn second_factors_survive_export_and_import() {
    use latchkey_emulator::{Database, Emulator};
    let on = |db: &Database| {
        let b = Emulator::builder().signing_key(latchkey_testkit::signing_key());
        match db {
            Database::DataDir(dir) => b.data_dir(dir),
            Database::Url(url) => b.database_url(url),
        }
    };
    let first = Database::DataDir(latchkey_testkit::temp_path("mfa-transfer-first"));
    let email = "mfa-move@example.com";
    let phone = "+14155552672";
    let kit = latchkey_testkit::start_from(on(&first)).await;
    let h = Harness { kit };
    h.set_settings(json!({"phone_number": {"enabled": true}}))
        .await;
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
    let (secret, codes) = enrol_totp(&h, &mut c).await;
    c.call(
        Method::PATCH,
        &format!("/v1/me/phone_numbers/{phone_id}"),
        &[("reserved_for_second_factor", "true")],
    )
    .await
    .ok();
    h.kit.shutdown().await;

    let exported = latchkey_emulator::export(&first).unwrap();
    let original: Value = serde_json::from_str(&exported).unwrap();
    let factors = &original["users"][0]["second_factors"];
    assert_eq!(factors["totp"]["secret"], secret.as_str());
    assert_eq!(
        factors["backup_codes"]["digests"].as_array().unwrap().len(),
        10
    );
    assert!(
        !exported.contains(&codes[0]),
        "backup codes leave only as digests"
    );
    assert_eq!(factors["phones"][0]["identification_id"], phone_id.as_str());

    let second = match latchkey_testkit::fresh_database_url() {
        Some(url) => Database::Url(url),
        None => Database::DataDir(latchkey_testkit::temp_path("mfa-transfer-second")),
    };
    latchkey_emulator::import(&second, &exported).unwrap();
    let moved: Value = serde_json::from_str(&latchkey_emulator::export(&second).unwrap()).unwrap();
    assert_eq!(moved, original);
    let h = Harness {
        kit: latchkey_testkit::start_from(on(&second)).await,
    };
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["totp_enabled"], true);
    assert_eq!(
        u.body["phone_numbers"][0]["reserved_for_second_factor"],
        true
    );
    // The moved secret and backup codes still work.
    let (mut c, si) = sign_in_needing_second_factor(&h, email).await;
    attempt(&mut c, &si, "backup_code", &codes[1]).await.ok();
    h.advance(60).await;
    let now = now_ms(&h).await;
    let r = h
        .bapi(
            Method::POST,
            &format!("/v1/users/{uid}/verify_totp"),
            Some(json!({"code": code_at(&totp_of(&secret), now)})),
        )
        .await;
    assert_eq!(r.ok()["code_type"], "totp");
    // A reservation of a phone the user does not have is refused, saying where.
    let mut bad = original.clone();
    bad["users"][0]["id"] = json!("user_other");
    bad["users"][0]["identifications"] = json!([]);
    bad["users"][0]["primary_email_address_id"] = Value::Null;
    bad["users"][0]["primary_phone_number_id"] = Value::Null;
    bad["users"][0]["username"] = Value::Null;
    let third = Database::DataDir(latchkey_testkit::temp_path("mfa-transfer-bad"));
    let err = latchkey_emulator::import(&third, &bad.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("users[0].second_factors.phones[0].identification_id"),
        "{err}"
    );
    h.kit.shutdown().await;
}

#[tokio::test]
async fn wrong_second_factor_codes_count_towards_the_lockout_and_a_right_one_waits_for_it() {
    let h = start().await;
    h.set_settings(json!({"attack_protection": {"user_lockout": {
        "max_attempts": 3, "duration_in_minutes": 60}}}))
        .await;
    let mut c = h.fapi();
    signed_in_user(&h, &mut c, "lock2fa@example.com").await;
    let (secret, _) = enrol_totp(&h, &mut c).await;
    let (mut c, si) = sign_in_needing_second_factor(&h, "lock2fa@example.com").await;
    attempt(&mut c, &si, "totp", "000000")
        .await
        .err(422, "form_code_incorrect");
    // A new sign-in with the right password does not forget the wrong second-factor code.
    let (mut c, si) = sign_in_needing_second_factor(&h, "lock2fa@example.com").await;
    attempt(&mut c, &si, "totp", "000000")
        .await
        .err(422, "form_code_incorrect");
    // The third wrong code reaches max_attempts: the refusal is the lockout.
    let r = attempt(&mut c, &si, "backup_code", "wrongcode").await;
    r.err(422, "user_locked");
    assert_eq!(
        r.body["errors"][0]["meta"]["lockout_expires_in_seconds"],
        3600
    );
    h.advance(30).await;
    let now = mid_step(&h).await;
    let right = code_at(&totp_of(&secret), now);
    attempt(&mut c, &si, "totp", &right)
        .await
        .err(422, "user_locked");
    // The lock lifts by the clock; the same sign-in then completes.
    h.advance(3600).await;
    let now = mid_step(&h).await;
    let right = code_at(&totp_of(&secret), now);
    let r = attempt(&mut c, &si, "totp", &right).await;
    assert_eq!(r.ok()["response"]["status"], "complete", "{}", r.body);
}
