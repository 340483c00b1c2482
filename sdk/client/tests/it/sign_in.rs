use latchkey::{CodeFactor, Error, SignInStatus};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn identifier_and_password_sign_in_in_one_call() {
    let h = start().await;
    let user = h.create_user("sam@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    let attempt = lk
        .sign_in_with_password("Sam@Example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    assert_eq!(attempt.status(), SignInStatus::Complete);
    let state = lk.current();
    assert_eq!(state.user().unwrap().id, user["id"].as_str().unwrap());
    assert_eq!(
        state.session().map(|s| s.id.as_str()),
        attempt.created_session_id()
    );
    assert_eq!(lk.sessions().len(), 1);
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_identifier_fails_with_its_code() {
    let h = start().await;
    h.create_user("sam@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    let err = lk
        .sign_in_with_password("sam@example.com", "nope-nope")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_password_incorrect"), "{err}");
    let err = lk
        .sign_in_with_password("nobody@example.com", "lk-Nobody-pass-5550")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_identifier_not_found"));
    assert!(lk.current().is_signed_out());
    assert!(matches!(lk.session_token().await, Err(Error::SignedOut)));

    // Identify first, then a wrong and a right password on the same attempt.
    let mut attempt = lk.start_sign_in("sam@example.com").await.unwrap();
    assert_eq!(attempt.status(), SignInStatus::NeedsFirstFactor);
    let strategies: Vec<&str> = attempt
        .first_factors()
        .iter()
        .map(|f| f.strategy.as_str())
        .collect();
    assert!(strategies.contains(&"password") && strategies.contains(&"email_code"));
    let err = attempt.attempt_password("wrong-wrong").await.unwrap_err();
    assert_eq!(err.code(), Some("form_password_incorrect"));
    assert_eq!(attempt.status(), SignInStatus::NeedsFirstFactor);
    // A code step before any code was sent is a usage error, caught locally.
    assert!(matches!(
        attempt.attempt_code("123456").await,
        Err(Error::InvalidState(_))
    ));
    assert_eq!(
        attempt.attempt_password("lk-Test-pass-4921").await.unwrap(),
        SignInStatus::Complete
    );
    assert!(lk.current().is_signed_in());
}

#[tokio::test]
async fn email_code_sign_in_with_a_wrong_then_the_right_code() {
    let h = start().await;
    h.create_user("code@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    let mut attempt = lk
        .sign_in_with_email_code("code@example.com")
        .await
        .unwrap();
    assert_eq!(attempt.status(), SignInStatus::NeedsFirstFactor);
    assert_eq!(attempt.pending_code(), Some(CodeFactor::EmailCode));
    let code = h.latest_code("code@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let err = attempt.attempt_code(wrong).await.unwrap_err();
    assert_eq!(err.code(), Some("form_code_incorrect"));
    assert!(lk.current().is_signed_out());
    assert_eq!(
        attempt.attempt_code(&code).await.unwrap(),
        SignInStatus::Complete
    );
    assert_eq!(
        lk.client().unwrap().last_authentication_strategy.as_deref(),
        Some("email_code")
    );
    assert!(lk.current().is_signed_in());
}

#[tokio::test]
async fn a_sign_in_code_expired_by_the_clock_is_refused_and_a_new_one_works() {
    let h = start().await;
    h.create_user("slow@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    let mut attempt = lk
        .sign_in_with_email_code("slow@example.com")
        .await
        .unwrap();
    let code = h.latest_code("slow@example.com").await;
    h.advance(601).await;
    let err = attempt.attempt_code(&code).await.unwrap_err();
    assert_eq!(err.code(), Some("verification_expired"), "{err}");
    attempt.prepare(CodeFactor::EmailCode).await.unwrap();
    let fresh = h.latest_code("slow@example.com").await;
    assert_eq!(
        attempt.attempt_code(&fresh).await.unwrap(),
        SignInStatus::Complete
    );
}

#[tokio::test]
async fn phone_code_sign_in_by_sms() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true, "used_for_first_factor": true}}))
        .await;
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"phone_number": ["+14155552671"], "password": "lk-Test-pass-4921"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let lk = h.sdk().await;
    let mut attempt = lk.sign_in_with_phone_code("+1 415 555 2671").await.unwrap();
    assert_eq!(attempt.pending_code(), Some(CodeFactor::PhoneCode));
    let code = h.latest_code("+14155552671").await;
    assert_eq!(
        attempt.attempt_code(&code).await.unwrap(),
        SignInStatus::Complete
    );
    assert_eq!(
        lk.user().unwrap().phone_numbers[0].phone_number,
        "+14155552671"
    );
}

#[tokio::test]
async fn password_reset_by_email_code_signs_out_the_other_devices() {
    let h = start().await;
    h.create_user("forgot@example.com", "old-password").await;
    let other_device = h.sdk().await;
    other_device
        .sign_in_with_password("forgot@example.com", "old-password")
        .await
        .unwrap();

    let lk = h.sdk().await;
    let mut attempt = lk.start_password_reset("forgot@example.com").await.unwrap();
    assert_eq!(
        attempt.pending_code(),
        Some(CodeFactor::ResetPasswordEmailCode)
    );
    let code = h.latest_code("forgot@example.com").await;
    assert_eq!(
        attempt.attempt_code(&code).await.unwrap(),
        SignInStatus::NeedsNewPassword
    );
    let err = attempt.reset_password("short", true).await.unwrap_err();
    assert_eq!(err.code(), Some("form_password_length_too_short"));
    assert_eq!(
        attempt.reset_password("new-password", true).await.unwrap(),
        SignInStatus::Complete
    );
    assert!(lk.current().is_signed_in());
    // The other device finds out at its next token: signed out.
    h.advance(61).await;
    let err = other_device.session_token().await.unwrap_err();
    assert_session_ended(&err);
    assert!(other_device.current().is_signed_out());
    // Only the new password works now.
    let fresh = h.sdk().await;
    let err = fresh
        .sign_in_with_password("forgot@example.com", "old-password")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_password_incorrect"));
    fresh
        .sign_in_with_password("forgot@example.com", "new-password")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_locked_account_is_the_typed_locked_error_with_when_it_lifts() {
    let h = start().await;
    h.set_settings(json!({"attack_protection": {"user_lockout": {
        "max_attempts": 3, "duration_in_minutes": 60}}}))
        .await;
    h.create_user("lee@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    for _ in 0..2 {
        let err = lk
            .sign_in_with_password("lee@example.com", "lk-Wrong-pass-0000")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("form_password_incorrect"), "{err:?}");
    }
    // The third wrong password locks the account; so is the right one then refused.
    for password in ["lk-Wrong-pass-0000", "lk-Test-pass-4921"] {
        let err = lk
            .sign_in_with_password("lee@example.com", password)
            .await
            .unwrap_err();
        let Error::Locked { until, error } = &err else {
            panic!("user_locked is Error::Locked: {err:?}")
        };
        assert_eq!(error.code(), Some("user_locked"));
        let until = until.expect("a lockout says when it lifts");
        let in_ms = until
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - h.clock.now_ms();
        assert!((3_595_000..=3_600_000).contains(&in_ms), "{in_ms} ms");
        assert!(err.to_string().contains("locked"), "{err}");
    }
    assert!(lk.current().is_signed_out());

    // Lifted by the clock.
    h.advance(3600).await;
    lk.sign_in_with_password("lee@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();

    // Locked by the Backend API with lockout off: no end, so the SDK invents none.
    h.set_settings(json!({"attack_protection": {"user_lockout": {"enabled": false}}}))
        .await;
    let other = h.create_user("lou@example.com", "lk-Test-pass-4921").await;
    let id = other["id"].as_str().unwrap();
    let r = h
        .bapi(Method::POST, &format!("/v1/users/{id}/lock"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let err = lk
        .sign_in_with_password("lou@example.com", "lk-Test-pass-4921")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Locked { until: None, .. }), "{err:?}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_per_retry_after_or_typed_when_retries_are_off() {
    let h = start().await;
    // Two sign-ins per identifier per 2 s; the window starts with the first.
    h.set_settings(json!({"rate_limits": {"enabled": true,
        "sign_in_create": {"max": 2, "window_secs": 2}}}))
        .await;
    h.create_user("rita@example.com", "lk-Test-pass-4921").await;
    let patient = h.sdk().await; // retries, waiting up to 30 s for a Retry-After
    let impatient = sdk_builder(&h.fapi_url, &h.clock)
        .retry_policy(latchkey::RetryPolicy::none())
        .store(std::sync::Arc::new(latchkey::MemoryStore::new()))
        .build()
        .unwrap();
    for _ in 0..2 {
        patient.start_sign_in("rita@example.com").await.unwrap();
    }
    let err = impatient
        .start_sign_in("rita@example.com")
        .await
        .unwrap_err();
    let Error::RateLimited { retry_after, error } = &err else {
        panic!("a 429 is Error::RateLimited: {err:?}")
    };
    assert_eq!(error.status, 429);
    assert_eq!(err.code(), Some("too_many_requests"));
    let wait = retry_after.expect("Retry-After");
    assert!(
        wait >= std::time::Duration::from_secs(1) && wait <= std::time::Duration::from_secs(2),
        "{wait:?}"
    );
    // The same refusal, met by an SDK that retries: it waits the window out and gets in (the
    // policy's own backoff, 10 ms twice, would not have).
    let attempt = patient
        .sign_in_with_password("rita@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    assert_eq!(attempt.status(), SignInStatus::Complete);
}
