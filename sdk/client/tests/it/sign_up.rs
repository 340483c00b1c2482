use std::sync::Arc;

use latchkey::{MemoryStore, SessionStore, SignUpForm, SignUpStep, StoreKey};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn email_and_password_sign_up_completes_with_the_emailed_code_and_is_stored() {
    let h = start().await;
    let store = Arc::new(MemoryStore::new());
    let lk = h.sdk_with(store.clone()).await;
    assert!(lk.current().is_signed_out());

    let mut meta = serde_json::Map::new();
    meta.insert("theme".into(), json!("dark"));
    let mut su = lk
        .sign_up(
            SignUpForm::new()
                .email_address("Jane@Example.com")
                .password("correct horse")
                .first_name("Jane")
                .unsafe_metadata(meta),
        )
        .await
        .unwrap();
    assert_eq!(su.next_step(), SignUpStep::VerifyEmail { code_sent: false });
    assert_eq!(
        su.prepare_email_code().await.unwrap(),
        SignUpStep::VerifyEmail { code_sent: true }
    );
    let code = h.latest_code("jane@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let err = su.attempt_email_code(wrong).await.unwrap_err();
    assert_eq!(err.code(), Some("form_code_incorrect"), "{err}");
    assert_eq!(su.next_step(), SignUpStep::VerifyEmail { code_sent: true });
    assert!(lk.current().is_signed_out());

    assert_eq!(
        su.attempt_email_code(&code).await.unwrap(),
        SignUpStep::Complete
    );
    let state = lk.current();
    let user = state.user().expect("signed in");
    assert_eq!(user.primary_email(), Some("jane@example.com"));
    assert_eq!(user.first_name.as_deref(), Some("Jane"));
    assert_eq!(user.unsafe_metadata["theme"], "dark");
    assert_eq!(Some(user.id.as_str()), su.created_user_id());
    assert_eq!(
        state.session().map(|s| s.id.as_str()),
        su.created_session_id()
    );
    // The session is in the store: token, device id, snapshot, and the Frontend API they
    // belong to.
    assert_eq!(
        store.keys(),
        vec![
            StoreKey::ClientToken,
            StoreKey::DeviceId,
            StoreKey::Client,
            StoreKey::FrontendApi
        ]
    );
    assert_eq!(
        store.load(StoreKey::FrontendApi).unwrap().as_deref(),
        Some(h.emu.url())
    );
    let snapshot = store.load(StoreKey::Client).unwrap().unwrap();
    assert!(snapshot.contains(&user.id));
    // A session token for the new user.
    let token = lk.session_token().await.unwrap();
    let claims = jwt_claims(token.expose());
    assert_eq!(claims["sub"], json!(user.id));
    assert_eq!(claims["sid"], json!(su.created_session_id()));
}

#[tokio::test]
async fn a_sign_up_code_expired_by_the_clock_is_refused_and_a_new_one_works() {
    let h = start().await;
    let lk = h.sdk().await;
    let mut su = lk
        .sign_up(
            SignUpForm::new()
                .email_address("late@example.com")
                .password("lk-Other-pass-7305"),
        )
        .await
        .unwrap();
    su.prepare_email_code().await.unwrap();
    let code = h.latest_code("late@example.com").await;
    h.advance(601).await;
    let err = su.attempt_email_code(&code).await.unwrap_err();
    assert_eq!(err.code(), Some("verification_expired"), "{err}");
    su.reload().await.unwrap();
    assert_eq!(su.next_step(), SignUpStep::VerifyEmail { code_sent: false });
    su.prepare_email_code().await.unwrap();
    let fresh = h.latest_code("late@example.com").await;
    assert_ne!(fresh, code);
    assert_eq!(
        su.attempt_email_code(&fresh).await.unwrap(),
        SignUpStep::Complete
    );
    assert!(lk.current().is_signed_in());
}

#[tokio::test]
async fn phone_sign_up_with_an_sms_code_and_a_username_when_enabled() {
    let h = start().await;
    h.set_settings(json!({
        "email_address": {"enabled": false, "required": false, "used_for_first_factor": false},
        "phone_number": {"enabled": true, "required": true, "used_for_first_factor": true, "verify_at_sign_up": true},
        "username": {"enabled": true, "required": true, "used_for_first_factor": true}
    }))
    .await;
    let lk = h.sdk().await;
    let mut su = lk
        .sign_up(
            SignUpForm::new()
                .phone_number("+1 (415) 555-2671")
                .password("lk-Other-pass-7305"),
        )
        .await
        .unwrap();
    assert_eq!(
        su.next_step(),
        SignUpStep::MissingFields(vec!["username".into()])
    );
    assert_eq!(
        su.update(SignUpForm::new().username("jane_doe"))
            .await
            .unwrap(),
        SignUpStep::VerifyPhone { code_sent: false }
    );
    su.prepare_phone_code().await.unwrap();
    let code = h.latest_code("+14155552671").await;
    assert_eq!(
        su.attempt_phone_code(&code).await.unwrap(),
        SignUpStep::Complete
    );
    let user = lk.user().expect("signed in");
    assert_eq!(user.username.as_deref(), Some("jane_doe"));
    assert_eq!(user.phone_numbers[0].phone_number, "+14155552671");
    // The username signs in on another device.
    let other = h.sdk().await;
    assert!(
        other
            .sign_in_with_password("jane_doe", "lk-Other-pass-7305")
            .await
            .unwrap()
            .is_complete()
    );
}

#[tokio::test]
async fn taken_identifiers_and_weak_passwords_are_server_errors_with_their_codes() {
    let h = start().await;
    h.create_user("taken@example.com", "lk-Other-pass-7305")
        .await;
    let lk = h.sdk().await;
    let err = lk
        .sign_up(
            SignUpForm::new()
                .email_address("TAKEN@example.com")
                .password("lk-Other-pass-7305"),
        )
        .await
        .unwrap_err();
    let latchkey::Error::Api(api) = &err else {
        panic!("expected a server error, got {err:?}")
    };
    assert_eq!(
        (api.status, api.code()),
        (422, Some("form_identifier_exists"))
    );
    assert_eq!(api.param_name(), Some("email_address"));
    assert!(api.trace_id.is_some());
    let err = lk
        .sign_up(
            SignUpForm::new()
                .email_address("new@example.com")
                .password("short"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_password_length_too_short"));
    assert!(lk.current().is_signed_out());
}

/// The claims of a JWT (no verification).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
