//! Attack protection: user lockout, Frontend API rate limits, testing tokens, enumeration
//! protection and the password policy, driven by the emulator clock.

use latchkey_testkit::PASSWORD;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

fn user_path(user: &Value) -> String {
    format!("/v1/users/{}", user["id"].as_str().expect("id"))
}

async fn lockout_after(h: &Harness, max_attempts: i64) {
    h.set_settings(json!({"attack_protection": {"user_lockout": {
        "max_attempts": max_attempts, "duration_in_minutes": 60}}}))
        .await;
}

#[tokio::test]
async fn wrong_passwords_lock_the_user_at_max_attempts_until_the_clock_lifts_it() {
    let h = start().await;
    lockout_after(&h, 3).await;
    let user = h.create_user("lock@example.com", PASSWORD).await;
    assert_eq!(user["locked"], false);
    assert_eq!(user["verification_attempts_remaining"], 3);
    assert_eq!(user["lockout_expires_in_seconds"], Value::Null);
    let mut c = h.fapi();
    let wrong = [
        ("identifier", "lock@example.com"),
        ("password", "lk-Wrong-pass-1"),
    ];
    c.post("/v1/client/sign_ins", &wrong)
        .await
        .err(422, "form_password_incorrect");
    // The wrong attempt was committed although the request failed.
    let u = h.bapi(Method::GET, &user_path(&user), None).await;
    assert_eq!(u.ok()["verification_attempts_remaining"], 2);
    // The second wrong one through attempt_first_factor counts too.
    let r = c
        .post("/v1/client/sign_ins", &[("identifier", "lock@example.com")])
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let attempt = format!("/v1/client/sign_ins/{id}/attempt_first_factor");
    c.post(
        &attempt,
        &[("strategy", "password"), ("password", "lk-Wrong-pass-2")],
    )
    .await
    .err(422, "form_password_incorrect");
    // The third reaches max_attempts: locked for an hour.
    let r = c
        .post(
            &attempt,
            &[("strategy", "password"), ("password", "lk-Wrong-pass-3")],
        )
        .await;
    r.err(422, "user_locked");
    let e = &r.body["errors"][0];
    assert_eq!(e["meta"]["duration_in_seconds"], 3600);
    assert_eq!(e["meta"]["lockout_expires_in_seconds"], 3600);
    assert_eq!(
        e["long_message"],
        "Your account is locked. Please try again after 1 hour."
    );
    // Locked: even the right password is refused, on both routes, and views say so.
    let right = [("identifier", "lock@example.com"), ("password", PASSWORD)];
    c.post("/v1/client/sign_ins", &right)
        .await
        .err(422, "user_locked");
    h.advance(600).await;
    let u = h.bapi(Method::GET, &user_path(&user), None).await;
    let u = u.ok();
    assert_eq!(u["locked"], true);
    assert_eq!(u["lockout_expires_in_seconds"], 3000);
    assert_eq!(u["verification_attempts_remaining"], 0);
    let r = c.post("/v1/client/sign_ins", &right).await;
    r.err(422, "user_locked");
    assert_eq!(
        r.body["errors"][0]["meta"]["lockout_expires_in_seconds"],
        3000
    );
    assert_eq!(
        r.body["errors"][0]["long_message"],
        "Your account is locked. Please try again after 50 minutes."
    );
    // The clock lifts it; a success then starts the count over.
    h.advance(3000).await;
    let u = h.bapi(Method::GET, &user_path(&user), None).await;
    assert_eq!(u.ok()["locked"], false);
    assert_eq!(u.body["verification_attempts_remaining"], 3);
    c.post("/v1/client/sign_ins", &wrong)
        .await
        .err(422, "form_password_incorrect");
    let sid = c.sign_in("lock@example.com", PASSWORD).await;
    let r = c.get("/v1/me").await;
    assert_eq!(r.ok()["response"]["verification_attempts_remaining"], 3);
    assert_eq!(r.body["response"]["locked"], false);
    assert!(!sid.is_empty());
}

#[tokio::test]
async fn wrong_codes_count_towards_the_lockout_too() {
    let h = start().await;
    lockout_after(&h, 2).await;
    let user = h.create_user("codes@example.com", PASSWORD).await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "codes@example.com"),
                ("strategy", "email_code"),
            ],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let attempt = format!("/v1/client/sign_ins/{id}/attempt_first_factor");
    c.post(&attempt, &[("strategy", "email_code"), ("code", "000001")])
        .await
        .err(422, "form_code_incorrect");
    c.post(&attempt, &[("strategy", "email_code"), ("code", "000002")])
        .await
        .err(422, "user_locked");
    let u = h.bapi(Method::GET, &user_path(&user), None).await;
    assert_eq!(u.ok()["locked"], true);
}

#[tokio::test]
async fn unlock_lifts_the_lock_and_resets_the_count_and_lock_is_a_lockout() {
    let h = start().await;
    lockout_after(&h, 5).await;
    let user = h.create_user("admin-lock@example.com", PASSWORD).await;
    let mut c = h.fapi();
    let wrong = [
        ("identifier", "admin-lock@example.com"),
        ("password", "lk-Wrong-pass-1"),
    ];
    for _ in 0..2 {
        c.post("/v1/client/sign_ins", &wrong)
            .await
            .err(422, "form_password_incorrect");
    }
    // A manual lock is a lockout of duration_in_minutes.
    let r = h
        .bapi(Method::POST, &format!("{}/lock", user_path(&user)), None)
        .await;
    assert_eq!(r.ok()["locked"], true);
    assert_eq!(r.body["lockout_expires_in_seconds"], 3600);
    assert_eq!(r.body["verification_attempts_remaining"], 0);
    let right = [
        ("identifier", "admin-lock@example.com"),
        ("password", PASSWORD),
    ];
    c.post("/v1/client/sign_ins", &right)
        .await
        .err(422, "user_locked");
    let r = h
        .bapi(Method::POST, &format!("{}/unlock", user_path(&user)), None)
        .await;
    assert_eq!(r.ok()["locked"], false);
    assert_eq!(
        r.body["verification_attempts_remaining"], 5,
        "unlock forgets the earlier failures"
    );
    c.sign_in("admin-lock@example.com", PASSWORD).await;
    // With lockout off, a manual lock has no end and attempts are not counted.
    h.set_settings(json!({"attack_protection": {"user_lockout": {"enabled": false}}}))
        .await;
    let r = h
        .bapi(Method::POST, &format!("{}/lock", user_path(&user)), None)
        .await;
    assert_eq!(r.ok()["locked"], true);
    assert_eq!(r.body["lockout_expires_in_seconds"], Value::Null);
    assert_eq!(r.body["verification_attempts_remaining"], Value::Null);
    let r = c.post("/v1/client/sign_ins", &right).await;
    r.err(422, "user_locked");
    assert_eq!(
        r.body["errors"][0]["meta"]["duration_in_seconds"],
        Value::Null
    );
    h.advance(10 * 24 * 3600).await;
    c.post("/v1/client/sign_ins", &right)
        .await
        .err(422, "user_locked");
    h.bapi(Method::POST, &format!("{}/unlock", user_path(&user)), None)
        .await
        .ok();
    c.sign_in("admin-lock@example.com", PASSWORD).await;
}

#[tokio::test]
async fn the_environment_carries_attack_protection_and_password_settings() {
    let h = start().await;
    let env = h.fapi().get("/v1/environment").await;
    let us = &env.ok()["user_settings"];
    assert_eq!(
        us["attack_protection"],
        json!({
            "user_lockout": {"enabled": true, "max_attempts": 100, "duration_in_minutes": 60},
            "pii": {"enabled": false},
            "email_link": {"require_same_client": false},
            "enumeration_protection": {"enabled": false},
        })
    );
    let pw = &us["password_settings"];
    assert_eq!(pw["disable_hibp"], false, "the compromised check is on");
    assert_eq!(pw["show_zxcvbn"], false);
    assert_eq!(pw["min_length"], 8);
    assert_eq!(pw["max_length"], 72);
    h.set_settings(json!({"password_settings": {"min_length": 12, "require_numbers": true}}))
        .await;
    let env = h.fapi().get("/v1/environment").await;
    assert_eq!(
        env.ok()["user_settings"]["password_settings"]["min_length"],
        12
    );
    assert_eq!(
        env.body["user_settings"]["password_settings"]["require_numbers"],
        true
    );
    let inst = h.control(Method::GET, "/instance", None).await;
    assert_eq!(
        inst.ok()["settings"]["password_min_length"],
        12,
        "one setting under two names"
    );
}

/// Switches rate limits on with small limits so tests stay short.
async fn rate_limits_on(h: &Harness) {
    h.set_settings(json!({"rate_limits": {"enabled": true,
        "sign_in_create": {"max": 3, "window_secs": 10}}}))
        .await;
}

#[tokio::test]
async fn rate_limits_refuse_with_429_and_retry_after_then_lift_by_the_clock() {
    let h = start().await;
    h.create_user("rl@example.com", PASSWORD).await;
    rate_limits_on(&h).await;
    let mut c = h.fapi();
    let form = [("identifier", "rl@example.com")];
    for _ in 0..3 {
        c.post("/v1/client/sign_ins", &form).await.ok();
    }
    let before = c.get("/v1/client").await;
    let r = c.post("/v1/client/sign_ins", &form).await;
    r.err(429, "too_many_requests");
    assert_eq!(r.header("retry-after"), "10");
    // Refused: nothing written (the client's sign-in is the one before).
    let after = c.get("/v1/client").await;
    assert_eq!(
        after.ok()["response"]["sign_in"]["id"],
        before.ok()["response"]["sign_in"]["id"]
    );
    h.advance(4).await;
    let r = c.post("/v1/client/sign_ins", &form).await;
    r.err(429, "too_many_requests");
    assert_eq!(r.header("retry-after"), "6");
    h.advance(6).await;
    c.post("/v1/client/sign_ins", &form).await.ok();
}

#[tokio::test]
async fn rate_limits_count_per_identifier_and_per_client_apart() {
    let h = start().await;
    for e in ["a@example.com", "b@example.com"] {
        h.create_user(e, PASSWORD).await;
    }
    rate_limits_on(&h).await;
    // One client, three sign-ins for a: a's identifier and the client are both used up. (A
    // request with no client yet counts against its IP address: the client is made first.)
    let mut one = h.fapi();
    one.get("/v1/client").await.ok();
    for _ in 0..3 {
        one.post("/v1/client/sign_ins", &[("identifier", "a@example.com")])
            .await
            .ok();
    }
    // Another client is refused for a (the identifier's limit) …
    let mut other = h.fapi();
    other.get("/v1/client").await.ok();
    other
        .post("/v1/client/sign_ins", &[("identifier", "a@example.com")])
        .await
        .err(429, "too_many_requests");
    // … but may sign in b.
    other
        .post("/v1/client/sign_ins", &[("identifier", "b@example.com")])
        .await
        .ok();
    // The first client is refused for b too (the client's limit).
    one.post("/v1/client/sign_ins", &[("identifier", "b@example.com")])
        .await
        .err(429, "too_many_requests");
    // Refused sign-ins (an unknown identifier) count as well.
    let mut third = h.fapi();
    third.get("/v1/client").await.ok();
    for _ in 0..3 {
        third
            .post(
                "/v1/client/sign_ins",
                &[("identifier", "ghost@example.com")],
            )
            .await
            .err(422, "form_identifier_not_found");
    }
    third
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "ghost@example.com")],
        )
        .await
        .err(429, "too_many_requests");
}

#[tokio::test]
async fn with_the_defaults_hundreds_of_fast_sign_ins_meet_no_429() {
    let h = start().await;
    h.create_user("fast@example.com", PASSWORD).await;
    // Sign-ins on one client, each signed out again, and sign-ins of new clients: both the
    // per-client and the per-identifier counters would trip at once if limits were on.
    let mut c = h.fapi();
    for i in 0..300 {
        let r = c
            .post(
                "/v1/client/sign_ins",
                &[("identifier", "fast@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, 200, "{i}: {}", r.body);
        if i % 2 == 0 {
            c.call(Method::DELETE, "/v1/client/sessions", &[])
                .await
                .ok();
        } else {
            c = h.fapi();
        }
    }
}

async fn testing_token(h: &Harness) -> (String, i64) {
    let r = h.bapi(Method::POST, "/v1/testing_tokens", None).await;
    let b = r.ok();
    assert_eq!(b["object"], "testing_token");
    (
        b["token"].as_str().unwrap().to_owned(),
        b["expires_at"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_valid_testing_token_skips_rate_limits_and_an_expired_or_unknown_one_does_not() {
    let h = start().await;
    h.create_user("tt@example.com", PASSWORD).await;
    rate_limits_on(&h).await;
    let (token, expires_at) = testing_token(&h).await;
    let now_secs = h.emu.clock().now_ms() / 1000;
    // An hour ahead, in Unix seconds (a second may have turned since it was made).
    assert!(
        (3599..=3600).contains(&(expires_at - now_secs)),
        "{expires_at}"
    );
    let mut c = h.fapi();
    c.get("/v1/client").await.ok();
    let with = format!(
        "/v1/client/sign_ins?__clerk_testing_token={}",
        urlencode(&token)
    );
    for _ in 0..6 {
        let r = c.post(&with, &[("identifier", "tt@example.com")]).await;
        assert_eq!(r.ok()["client"]["captcha_bypass"], true);
    }
    let r = c
        .post("/v1/client/sign_ins", &[("identifier", "tt@example.com")])
        .await;
    assert_eq!(r.ok()["client"]["captcha_bypass"], false);
    let unknown = "/v1/client/sign_ins?__clerk_testing_token=1713877200-not-a-token";
    let mut d = h.fapi();
    d.get("/v1/client").await.ok();
    for _ in 0..3 {
        d.post(unknown, &[("identifier", "tt@example.com")]).await;
    }
    d.post(unknown, &[("identifier", "tt@example.com")])
        .await
        .err(429, "too_many_requests");
    // Expired: counted like any request.
    h.advance(3601).await;
    let mut e = h.fapi();
    e.get("/v1/client").await.ok();
    for _ in 0..3 {
        e.post(&with, &[("identifier", "tt@example.com")])
            .await
            .ok();
    }
    e.post(&with, &[("identifier", "tt@example.com")])
        .await
        .err(429, "too_many_requests");
}

#[tokio::test]
async fn enumeration_protection_makes_unknown_identifiers_look_like_wrong_passwords() {
    let h = start().await;
    h.create_user("known@example.com", PASSWORD).await;
    let mut c = h.fapi();
    // Off (the default): the codes tell the two apart.
    c.post(
        "/v1/client/sign_ins",
        &[("identifier", "nobody@example.com"), ("password", PASSWORD)],
    )
    .await
    .err(422, "form_identifier_not_found");
    h.set_settings(json!({"attack_protection": {"enumeration_protection": {"enabled": true}}}))
        .await;
    let env = c.get("/v1/environment").await;
    assert_eq!(
        env.ok()["user_settings"]["attack_protection"]["enumeration_protection"]["enabled"],
        true
    );
    c.post(
        "/v1/client/sign_ins",
        &[("identifier", "nobody@example.com"), ("password", PASSWORD)],
    )
    .await
    .err(422, "form_password_or_identifier_incorrect");
    c.post(
        "/v1/client/sign_ins",
        &[
            ("identifier", "known@example.com"),
            ("password", "lk-Wrong-pass-1"),
        ],
    )
    .await
    .err(422, "form_password_or_identifier_incorrect");
    // An unknown identifier alone starts a sign-in like a known one does.
    let unknown = c
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "nobody@example.com")],
        )
        .await;
    let si = &unknown.ok()["response"];
    assert_eq!(si["status"], "needs_first_factor");
    assert_eq!(si["supported_first_factors"][0]["strategy"], "password");
    let id = si["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
        &[("strategy", "password"), ("password", PASSWORD)],
    )
    .await
    .err(422, "form_password_or_identifier_incorrect");
    // A code is "sent" and never matches.
    c.post(
        &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
        &[("strategy", "email_code")],
    )
    .await
    .ok();
    c.post(
        &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
        &[("strategy", "email_code"), ("code", "424242")],
    )
    .await
    .err(422, "form_code_incorrect");
    // The known user still signs in.
    c.sign_in("known@example.com", PASSWORD).await;
}

async fn sign_up_refused(h: &Harness, password: &str, code: &str) -> Value {
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[("email_address", "new@example.com"), ("password", password)],
        )
        .await;
    r.err(422, code);
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "password");
    r.body["errors"][0].clone()
}

#[tokio::test]
async fn each_password_rule_refuses_with_its_code_and_nothing_is_written() {
    let h = start().await;
    sign_up_refused(&h, "password123", "form_password_pwned").await;
    sign_up_refused(&h, "short", "form_password_length_too_short").await;
    sign_up_refused(&h, &"é".repeat(40), "form_password_size_in_bytes_exceeded").await;
    sign_up_refused(&h, "new@example.com", "form_password_matches_identifier").await;
    h.set_settings(json!({"password_settings": {"require_numbers": true,
        "require_special_char": true, "require_uppercase": true}}))
        .await;
    let e = sign_up_refused(&h, "lowercaseonly", "form_password_validation_failed").await;
    assert!(
        e["long_message"].as_str().unwrap().contains("a number"),
        "{e}"
    );
    h.set_settings(json!({"password_settings": {"require_numbers": false,
        "require_special_char": false, "require_uppercase": false,
        "show_zxcvbn": true, "min_zxcvbn_strength": 3}}))
        .await;
    let e = sign_up_refused(&h, "abcdefgh1", "form_password_not_strong_enough").await;
    let suggestions = e["meta"]["zxcvbn"]["suggestions"].as_array().unwrap();
    assert!(!suggestions.is_empty(), "{e}");
    assert!(suggestions[0]["code"].is_string() && suggestions[0]["message"].is_string());
    // The Backend API checks the same rules (and skips them when asked).
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": ["bapi@example.com"], "password": "abcdefgh1"})),
        )
        .await;
    r.err(422, "form_password_not_strong_enough");
    h.set_settings(json!({"password_settings": {"show_zxcvbn": false}}))
        .await;
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": ["bapi@example.com"], "password": "password123"})),
        )
        .await;
    r.err(422, "form_password_pwned");
    let count = h.bapi(Method::GET, "/v1/users/count", None).await;
    assert_eq!(count.ok()["total_count"], 0, "nothing was written");
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(
            json!({"email_address": ["bapi@example.com"], "password": "password123",
            "skip_password_checks": true}),
        ),
    )
    .await
    .ok();
    // With the check off, a common password is accepted.
    h.set_settings(json!({"password_settings": {"disable_hibp": true}}))
        .await;
    h.fapi()
        .sign_up("hibp-off@example.com", "password123")
        .await;
}

#[tokio::test]
async fn enforce_hibp_on_sign_in_refuses_a_right_but_common_password() {
    let h = start().await;
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(
            json!({"email_address": ["old@example.com"], "password": "password123",
            "skip_password_checks": true}),
        ),
    )
    .await
    .ok();
    let mut c = h.fapi();
    c.sign_in("old@example.com", "password123").await;
    h.set_settings(json!({"password_settings": {"enforce_hibp_on_sign_in": true}}))
        .await;
    c.post(
        "/v1/client/sign_ins",
        &[
            ("identifier", "old@example.com"),
            ("password", "password123"),
        ],
    )
    .await
    .err(422, "form_password_pwned");
}

#[tokio::test]
async fn bad_settings_patches_are_refused_and_change_nothing() {
    let h = start().await;
    let before = h.control(Method::GET, "/instance", None).await;
    let before = before.ok()["settings"].clone();
    for bad in [
        json!({"attack_protection": {"user_lockout": {"max_attempts": 0}}}),
        json!({"attack_protection": {"user_lockout": {"duration_in_minutes": -5}}}),
        json!({"attack_protection": {"no_such": true}}),
        json!({"rate_limits": {"enabled": "yes"}}),
        json!({"rate_limits": {"sign_in_create": {"max": 0, "window_secs": 10}}}),
        json!({"rate_limits": {"sign_up_attempt": {"window_secs": 0}}}),
        json!({"rate_limits": {"sign_in_attempt": {"max": 3, "window_secs": 10, "x": 1}}}),
        json!({"password_settings": {"min_zxcvbn_strength": 5}}),
        json!({"password_settings": {"max_length": 100}}),
        json!({"password_settings": {"allowed_special_characters": "abc"}}),
        json!({"password_settings": {"min_length": 9}, "password_min_length": 10}),
    ] {
        let r = h
            .control(Method::PATCH, "/instance", Some(json!({"settings": bad})))
            .await;
        assert!(
            (400..500).contains(&r.status),
            "{bad}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body["errors"][0]["code"].is_string(), "{}", r.body);
    }
    let after = h.control(Method::GET, "/instance", None).await;
    assert_eq!(after.ok()["settings"], before);
}
