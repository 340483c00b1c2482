//! Account management through the SDK: email addresses and phone numbers, passwords, metadata,
//! the profile image, and the user's sessions on other devices.

use latchkey::{Error, SignInStatus, UserUpdate};
use serde_json::{Map, Value, json};

use crate::support::*;

const PASSWORD: &str = "lk-Test-pass-4921";

#[tokio::test]
async fn an_added_email_address_is_verified_by_code_made_primary_and_the_old_one_removed() {
    let h = start().await;
    let lk = h.sdk().await;
    h.sign_up(&lk, "old@example.com", PASSWORD).await;
    let added = lk.add_email_address(" New@Example.com ").await.unwrap();
    assert_eq!(added.email_address, "new@example.com");
    assert_ne!(
        added.verification.as_ref().map(|v| v.status.as_str()),
        Some("verified")
    );
    // Unverified: not yet primary material.
    assert!(lk.set_primary_email_address(&added.id).await.is_err());

    lk.prepare_email_verification(&added.id).await.unwrap();
    let code = h.latest_code("new@example.com").await;
    let err = lk
        .attempt_email_verification(&added.id, "000000")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_code_incorrect"), "{err}");
    let verified = lk
        .attempt_email_verification(&added.id, &code)
        .await
        .unwrap();
    assert_eq!(verified.verification.unwrap().status, "verified");

    let user = lk.set_primary_email_address(&added.id).await.unwrap();
    assert_eq!(user.primary_email(), Some("new@example.com"));
    let old = user
        .email_addresses
        .iter()
        .find(|e| e.email_address == "old@example.com")
        .unwrap()
        .id
        .clone();
    lk.delete_email_address(&old).await.unwrap();
    let user = lk.fetch_user().await.unwrap();
    assert_eq!(user.email_addresses.len(), 1);
    assert_eq!(
        lk.user().unwrap().email_addresses.len(),
        1,
        "the state follows"
    );

    // Signing in works with the new address only.
    lk.sign_out().await.unwrap();
    assert!(
        lk.sign_in_with_password("old@example.com", PASSWORD)
            .await
            .is_err()
    );
    let a = lk
        .sign_in_with_password("new@example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(a.status(), SignInStatus::Complete);
}

#[tokio::test]
async fn a_phone_number_is_added_and_verified_by_sms() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true}}))
        .await;
    let lk = h.sdk().await;
    h.sign_up(&lk, "ph@example.com", PASSWORD).await;
    let phone = lk.add_phone_number("+15551230077").await.unwrap();
    lk.prepare_phone_verification(&phone.id).await.unwrap();
    let code = h.latest_code("+15551230077").await;
    let verified = lk
        .attempt_phone_verification(&phone.id, &code)
        .await
        .unwrap();
    assert_eq!(verified.verification.unwrap().status, "verified");
    let user = lk.set_primary_phone_number(&phone.id).await.unwrap();
    assert_eq!(
        user.primary_phone_number_id.as_deref(),
        Some(phone.id.as_str())
    );
    // The primary phone stays until another one is primary; the phone is still there after.
    let err = lk.delete_phone_number(&phone.id).await.unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(400), "{err}");
    assert_eq!(err.code(), Some("request_invalid_for_status"), "{err}");
    let user = lk.fetch_user().await.unwrap();
    assert!(
        user.phone_numbers.iter().any(|p| p.id == phone.id),
        "{user:?}"
    );
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_can_sign_out_other_devices() {
    let h = start().await;
    let phone = h.sdk().await;
    h.sign_up(&phone, "pw@example.com", PASSWORD).await;
    let laptop = h.sdk().await;
    laptop
        .sign_in_with_password("pw@example.com", PASSWORD)
        .await
        .unwrap();

    let err = phone
        .change_password(Some("lk-Wrong-pass-0000"), "lk-New-pass-7731", false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_password_incorrect"), "{err}");
    let err = phone
        .change_password(Some(PASSWORD), "password", false)
        .await
        .unwrap_err();
    assert!(
        err.code().unwrap_or_default().starts_with("form_password"),
        "{err}"
    );

    phone
        .change_password(Some(PASSWORD), "lk-New-pass-7731", true)
        .await
        .unwrap();
    assert!(
        phone.session_token().await.is_ok(),
        "this device stays signed in"
    );
    let err = laptop.fetch_user().await.unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(401), "{err:?}");
    assert!(
        laptop.current().is_signed_out(),
        "the other device learns it is signed out"
    );

    let fresh = h.sdk().await;
    assert!(
        fresh
            .sign_in_with_password("pw@example.com", PASSWORD)
            .await
            .is_err()
    );
    fresh
        .sign_in_with_password("pw@example.com", "lk-New-pass-7731")
        .await
        .unwrap();
}

#[tokio::test]
async fn metadata_merges_and_names_update() {
    let h = start().await;
    let lk = h.sdk().await;
    h.sign_up(&lk, "meta@example.com", PASSWORD).await;
    let mut m = Map::new();
    m.insert("theme".into(), json!("dark"));
    m.insert("lang".into(), json!("en"));
    lk.update_metadata(m).await.unwrap();
    let mut m = Map::new();
    m.insert("lang".into(), Value::Null);
    m.insert("beta".into(), json!(true));
    let user = lk
        .update_user(UserUpdate::new().first_name("Meta").unsafe_metadata(m))
        .await
        .unwrap();
    assert_eq!(user.first_name.as_deref(), Some("Meta"));
    assert_eq!(
        Value::Object(user.unsafe_metadata),
        json!({"theme": "dark", "beta": true})
    );
}

#[tokio::test]
async fn a_profile_image_is_uploaded_served_and_removed() {
    let h = start().await;
    let lk = h.sdk().await;
    h.sign_up(&lk, "img@example.com", PASSWORD).await;
    // A 1×1 PNG.
    let png: Vec<u8> = vec![
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44,
        0x41, 0x54, 0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let image = lk
        .set_profile_image(png.clone(), "image/png")
        .await
        .unwrap();
    let served = reqwest::get(&image.public_url).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.headers()["content-type"].to_str().unwrap(),
        "image/png"
    );
    assert_eq!(served.bytes().await.unwrap().to_vec(), png);
    let user = lk.fetch_user().await.unwrap();
    assert!(user.has_image);
    assert_eq!(user.image_url, image.public_url);

    lk.delete_profile_image().await.unwrap();
    assert!(!lk.fetch_user().await.unwrap().has_image);
    let err = lk
        .set_profile_image(b"not an image".to_vec(), "image/png")
        .await
        .unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(422), "{err}");
}

#[tokio::test]
async fn sessions_on_other_devices_are_listed_and_revoked() {
    let h = start().await;
    let phone = h.sdk().await;
    h.sign_up(&phone, "dev@example.com", PASSWORD).await;
    let laptop = h.sdk().await;
    let a = laptop
        .sign_in_with_password("dev@example.com", PASSWORD)
        .await
        .unwrap();
    let laptop_sid = a.created_session_id().unwrap().to_owned();
    let sessions = phone.active_sessions().await.unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(sessions.iter().all(|s| s.status == "active"));
    let other = sessions.iter().find(|s| s.id == laptop_sid).unwrap();
    assert!(other.latest_activity.is_some());

    let revoked = phone.revoke_session(&laptop_sid).await.unwrap();
    assert_eq!(revoked.status, "revoked");
    assert_eq!(phone.active_sessions().await.unwrap().len(), 1);
    // The laptop's cached token still verifies until it expires; its next call finds out.
    let err = laptop.fetch_user().await.unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(401), "{err:?}");
    assert!(laptop.current().is_signed_out());
    assert!(matches!(
        laptop.session_token().await,
        Err(Error::SignedOut)
    ));

    // Someone else's session is not the user's to revoke.
    h.create_user("else@example.com", PASSWORD).await;
    let elsewhere = h.sdk().await;
    let b = elsewhere
        .sign_in_with_password("else@example.com", PASSWORD)
        .await
        .unwrap();
    let err = phone
        .revoke_session(b.created_session_id().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.api_error().map(|e| e.status), Some(404), "{err}");
    elsewhere.session_token().await.unwrap();
}
