//! Session reverification through the SDK: `Latchkey::verify_session` at each level, the
//! session token's `fva` before and after (the emulator's clock advanced first), wrong
//! attempts, and no session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::{
    CodeFactor, Error, Latchkey, SecondFactor, SessionVerificationStatus, VerificationLevel,
};
use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::support::*;

const PASSWORD: &str = "lk-Test-pass-4921";

/// The `fva` claim of the SDK's current session token.
async fn fva(lk: &Latchkey) -> Value {
    let t = lk.session_token().await.unwrap();
    let payload = t.expose().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["fva"].clone()
}

/// Moves the emulator's clock to the middle of a 30 s TOTP step; the time then, ms.
async fn mid_step(h: &Harness) -> i64 {
    let into = h.clock.now_ms().rem_euclid(30_000);
    let ms = (15_000 - into).rem_euclid(30_000);
    h.control(Method::POST, "/time/advance", Some(json!({ "ms": ms })))
        .await
        .ok();
    h.clock.now_ms()
}

/// A code from `totp-rs` (not the emulator's implementation) for the emulator time `at_ms`.
fn totp_code(secret: &str, at_ms: i64) -> String {
    let key = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, key)
        .unwrap()
        .generate(u64::try_from(at_ms / 1000).unwrap())
}

async fn signed_in(h: &Harness, email: &str) -> Latchkey {
    h.create_user(email, PASSWORD).await;
    let lk = h.sdk().await;
    lk.sign_in_with_password(email, PASSWORD).await.unwrap();
    lk
}

#[tokio::test]
async fn multi_factor_with_password_and_totp_resets_both_ages() {
    let h = start().await;
    let lk = signed_in(&h, "sdk-rv-multi@example.com").await;
    let enrolment = lk.create_totp().await.unwrap();
    let secret = enrolment.secret().expose().to_owned();
    let now = mid_step(&h).await;
    lk.verify_totp(&totp_code(&secret, now)).await.unwrap();
    h.advance(10 * 60).await;
    let now = mid_step(&h).await;
    assert_eq!(fva(&lk).await, json!([10, 10]));

    let mut v = lk
        .verify_session(VerificationLevel::MultiFactor)
        .await
        .unwrap();
    assert_eq!(v.status(), SessionVerificationStatus::NeedsFirstFactor);
    assert_eq!(v.session_id(), lk.current().session().unwrap().id.as_str());
    let first: Vec<&str> = v
        .first_factors()
        .iter()
        .map(|f| f.strategy.as_str())
        .collect();
    assert_eq!(first, ["password", "email_code"]);
    assert_eq!(
        v.second_factors(),
        [SecondFactor::Totp, SecondFactor::BackupCode]
    );

    let err = v.attempt_password("lk-Wrong-pass-0000").await.unwrap_err();
    assert_eq!(err.code(), Some("form_password_incorrect"), "{err}");
    assert_eq!(v.status(), SessionVerificationStatus::NeedsFirstFactor);
    assert_eq!(
        v.attempt_password(PASSWORD).await.unwrap(),
        SessionVerificationStatus::NeedsSecondFactor
    );
    assert_eq!(v.factor_verification_age(), Some(&[0, 10][..]));
    let err = v
        .attempt_second_factor(SecondFactor::Totp, &totp_code(&secret, now - 120_000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_code_incorrect"), "{err}");
    assert_eq!(
        v.attempt_second_factor(SecondFactor::Totp, &totp_code(&secret, now))
            .await
            .unwrap(),
        SessionVerificationStatus::Complete
    );
    assert!(v.is_complete());
    assert_eq!(fva(&lk).await, json!([0, 0]), "the next token shows it");
    assert!(lk.current().is_signed_in());
}

#[tokio::test]
async fn first_factor_by_emailed_code() {
    let h = start().await;
    let email = "sdk-rv-code@example.com";
    let lk = signed_in(&h, email).await;
    h.advance(6 * 60).await;
    assert_eq!(fva(&lk).await, json!([6, -1]));

    // No second factor: asked for one, the user proves the first.
    let mut v = lk
        .verify_session(VerificationLevel::SecondFactor)
        .await
        .unwrap();
    assert_eq!(v.status(), SessionVerificationStatus::NeedsFirstFactor);
    assert!(v.second_factors().is_empty());
    assert!(!v.code_pending());
    let err = v.attempt_code("123456").await.unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err}");
    v.prepare_first_factor(CodeFactor::EmailCode).await.unwrap();
    assert!(v.code_pending());
    let code = h.latest_code(email).await;
    assert_eq!(
        v.attempt_code(&code).await.unwrap(),
        SessionVerificationStatus::Complete
    );
    assert_eq!(fva(&lk).await, json!([0, -1]));
    // Done: another attempt is refused by the server.
    let err = v.attempt_password(PASSWORD).await.unwrap_err();
    assert_eq!(err.code(), Some("request_invalid_for_status"), "{err}");
}

#[tokio::test]
async fn a_backup_code_as_the_second_factor_and_no_session_no_verification() {
    let h = start().await;
    let lk = signed_in(&h, "sdk-rv-backup@example.com").await;
    let enrolment = lk.create_totp().await.unwrap();
    let now = mid_step(&h).await;
    let backup = lk
        .verify_totp(&totp_code(enrolment.secret().expose(), now))
        .await
        .unwrap();
    h.advance(3 * 60).await;
    let mut v = lk
        .verify_session(VerificationLevel::SecondFactor)
        .await
        .unwrap();
    assert_eq!(v.status(), SessionVerificationStatus::NeedsSecondFactor);
    assert!(v.first_factors().is_empty());
    let err = v
        .prepare_second_factor(SecondFactor::Totp, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err}");
    v.attempt_second_factor(SecondFactor::BackupCode, backup.codes()[0].expose())
        .await
        .unwrap();
    assert!(v.is_complete());
    assert_eq!(fva(&lk).await, json!([3, 0]));

    lk.sign_out().await.unwrap();
    let err = lk
        .verify_session(VerificationLevel::FirstFactor)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SignedOut), "{err}");
}
