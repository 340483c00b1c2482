//! Two-step verification through the SDK: authenticator-app enrolment, signing in with TOTP,
//! backup codes and SMS codes. TOTP codes come from `totp-rs`, not from the emulator's code.

use latchkey::{Error, SecondFactor, SignInStatus};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

const PASSWORD: &str = "lk-Test-pass-4921";

/// The RFC 6238 code for `secret` (base32) at the emulator's time `now_ms`.
fn totp_at(secret: &str, now_ms: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32 secret");
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes);
    totp.generate(u64::try_from(now_ms / 1000).expect("positive time"))
}

/// Signs `email` up and enrols an authenticator app; returns the secret and the backup codes.
async fn enrolled(h: &Harness, email: &str) -> (latchkey::Latchkey, String, Vec<String>) {
    let lk = h.sdk().await;
    h.sign_up(&lk, email, PASSWORD).await;
    let enrolment = lk.create_totp().await.unwrap();
    let secret = enrolment.secret().expose().to_owned();
    let uri = enrolment.uri().expose();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    let svg = enrolment.qr_svg();
    assert!(
        svg.contains("<svg") && svg.len() > 1000,
        "a real QR code: {svg}"
    );
    assert!(
        !format!("{enrolment:?}").contains(&secret),
        "Debug hides the secret"
    );

    // A wrong code does not turn two-step verification on.
    let err = lk.verify_totp("000000").await.unwrap_err();
    assert_eq!(err.code(), Some("form_code_incorrect"), "{err}");
    assert!(!lk.fetch_user().await.unwrap().two_factor_enabled);

    let backup = lk
        .verify_totp(&totp_at(&secret, h.clock.now_ms()))
        .await
        .unwrap();
    let codes: Vec<String> = backup
        .codes()
        .iter()
        .map(|c| c.expose().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "ten backup codes, shown once");
    let user = lk.fetch_user().await.unwrap();
    assert!(user.two_factor_enabled && user.totp_enabled && user.backup_code_enabled);
    (lk, secret, codes)
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_with_an_authenticator_code() {
    let h = start().await;
    let (lk, secret, _) = enrolled(&h, "tess@example.com").await;
    lk.sign_out().await.unwrap();

    let mut attempt = lk
        .sign_in_with_password("tess@example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(attempt.status(), SignInStatus::NeedsSecondFactor);
    assert!(
        lk.current().is_signed_out(),
        "no session before the second factor"
    );
    let factors = attempt.second_factors();
    assert!(factors.contains(&SecondFactor::Totp), "{factors:?}");
    assert!(factors.contains(&SecondFactor::BackupCode), "{factors:?}");

    let err = attempt.attempt_totp("123456").await.unwrap_err();
    assert_eq!(err.code(), Some("form_code_incorrect"));
    assert_eq!(attempt.status(), SignInStatus::NeedsSecondFactor);
    // The enrolment used this time step's code: the next step's code signs in.
    h.advance(30).await;
    let status = attempt
        .attempt_totp(&totp_at(&secret, h.clock.now_ms()))
        .await
        .unwrap();
    assert_eq!(status, SignInStatus::Complete);
    assert_eq!(
        lk.current().session().map(|s| s.id.as_str()),
        attempt.created_session_id()
    );
    lk.session_token().await.unwrap();

    // TOTP is local-only preparation: asking to prepare it is a usage error.
    let mut again = lk
        .sign_in_with_password("tess@example.com", PASSWORD)
        .await
        .unwrap();
    assert!(matches!(
        again.prepare_second_factor(SecondFactor::Totp).await,
        Err(Error::InvalidState(_))
    ));
}

#[tokio::test]
async fn a_backup_code_signs_in_once_and_new_codes_replace_the_old() {
    let h = start().await;
    let (lk, _, codes) = enrolled(&h, "bo@example.com").await;
    lk.sign_out().await.unwrap();

    let mut attempt = lk
        .sign_in_with_password("bo@example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        attempt.attempt_backup_code(&codes[0]).await.unwrap(),
        SignInStatus::Complete
    );
    let fresh = lk.regenerate_backup_codes().await.unwrap();
    assert_eq!(fresh.codes().len(), 10);
    lk.sign_out().await.unwrap();

    let mut attempt = lk
        .sign_in_with_password("bo@example.com", PASSWORD)
        .await
        .unwrap();
    for used in [&codes[0], &codes[1]] {
        let err = attempt.attempt_backup_code(used).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some("form_code_incorrect"),
            "used or replaced: {err}"
        );
    }
    let status = attempt
        .attempt_backup_code(fresh.codes()[3].expose())
        .await
        .unwrap();
    assert_eq!(status, SignInStatus::Complete);

    // Removing the authenticator app turns two-step verification off.
    lk.delete_totp().await.unwrap();
    assert!(!lk.fetch_user().await.unwrap().totp_enabled);
    lk.sign_out().await.unwrap();
    let attempt = lk
        .sign_in_with_password("bo@example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(attempt.status(), SignInStatus::Complete);
}

#[tokio::test]
async fn an_sms_code_as_the_second_factor() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true}}))
        .await;
    let phone = "+15551230042";
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": ["sms@example.com"], "phone_number": [phone], "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let phone_id = r.body["phone_numbers"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lk = h.sdk().await;
    lk.sign_in_with_password("sms@example.com", PASSWORD)
        .await
        .unwrap();
    let reserved = lk
        .reserve_phone_for_second_factor(&phone_id, true)
        .await
        .unwrap();
    assert!(reserved.reserved_for_second_factor);
    assert!(lk.fetch_user().await.unwrap().two_factor_enabled);
    lk.sign_out().await.unwrap();

    let mut attempt = lk
        .sign_in_with_password("sms@example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(attempt.status(), SignInStatus::NeedsSecondFactor);
    assert!(attempt.second_factors().contains(&SecondFactor::PhoneCode));
    let option = attempt
        .second_factor_options()
        .iter()
        .find(|f| f.strategy == "phone_code")
        .unwrap();
    assert_eq!(option.phone_number_id.as_deref(), Some(phone_id.as_str()));
    attempt
        .prepare_second_factor(SecondFactor::PhoneCode)
        .await
        .unwrap();
    assert_eq!(
        attempt.pending_second_factor(),
        Some(SecondFactor::PhoneCode)
    );
    let code = h.latest_code(phone).await;
    let status = attempt
        .attempt_second_factor(SecondFactor::PhoneCode, &code)
        .await
        .unwrap();
    assert_eq!(status, SignInStatus::Complete);
    assert!(!lk.current().is_signed_out());
}
