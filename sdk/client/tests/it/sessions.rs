use std::sync::Arc;

use latchkey::{Error, MemoryStore, StoreKey, UserUpdate};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn two_users_on_one_device_and_switching_the_active_session() {
    let h = start().await;
    h.create_user("a@example.com", "lk-Test-pass-4921").await;
    h.create_user("b@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    let a = lk
        .sign_in_with_password("a@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let a = a.created_session_id().unwrap().to_owned();
    let b = lk
        .sign_in_with_password("b@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let b = b.created_session_id().unwrap().to_owned();
    let mut ids: Vec<String> = lk.sessions().into_iter().map(|s| s.id).collect();
    ids.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(lk.user().unwrap().primary_email(), Some("b@example.com"));

    let mut rx = lk.auth_state();
    rx.mark_unchanged();
    lk.set_active_session(&a).await.unwrap();
    assert!(rx.has_changed().unwrap(), "switching is a transition");
    assert_eq!(lk.current().session().unwrap().id, a);
    assert_eq!(lk.user().unwrap().primary_email(), Some("a@example.com"));
    let ta = lk.session_token().await.unwrap();
    assert_eq!(crate::sign_up::jwt_claims(ta.expose())["sid"], json!(a));
    // A token of the other session, without switching.
    let tb = lk
        .session_token_with(&latchkey::TokenOptions::new().session(b.clone()))
        .await
        .unwrap();
    assert_eq!(crate::sign_up::jwt_claims(tb.expose())["sid"], json!(b));
}

#[tokio::test]
async fn signing_out_this_session_hands_over_to_the_other_then_signs_out_and_clears_the_store() {
    let h = start().await;
    h.create_user("a@example.com", "lk-Test-pass-4921").await;
    h.create_user("b@example.com", "lk-Test-pass-4921").await;
    let store = Arc::new(MemoryStore::new());
    let lk = h.sdk_with(store.clone()).await;
    let mut ids = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let attempt = lk
            .sign_in_with_password(email, "lk-Test-pass-4921")
            .await
            .unwrap();
        ids.push(attempt.created_session_id().unwrap().to_owned());
    }
    lk.sign_out().await.unwrap();
    assert_eq!(lk.user().unwrap().primary_email(), Some("a@example.com"));
    assert_eq!(lk.sessions().len(), 1);
    lk.sign_out().await.unwrap();
    assert!(lk.current().is_signed_out());
    assert_eq!(
        store.keys(),
        vec![StoreKey::DeviceId],
        "only the device id stays"
    );
    // Signing out again is a no-op.
    lk.sign_out().await.unwrap();
    for id in ids {
        let s = h
            .bapi(Method::GET, &format!("/v1/sessions/{id}"), None)
            .await;
        assert_eq!(s.body["status"], "removed");
    }
}

#[tokio::test]
async fn signing_out_everywhere_forgets_the_client() {
    let h = start().await;
    h.create_user("a@example.com", "lk-Test-pass-4921").await;
    let store = Arc::new(MemoryStore::new());
    let lk = h.sdk_with(store.clone()).await;
    let sid = lk
        .sign_in_with_password("a@example.com", "lk-Test-pass-4921")
        .await
        .unwrap()
        .created_session_id()
        .unwrap()
        .to_owned();
    lk.sign_out_all().await.unwrap();
    assert!(lk.current().is_signed_out());
    assert!(lk.client().is_none());
    assert_eq!(store.keys(), vec![StoreKey::DeviceId]);
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{sid}"), None)
        .await;
    assert_eq!(s.body["status"], "ended");
    // The device can sign in again (on a new client).
    lk.sign_in_with_password("a@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    assert!(lk.current().is_signed_in());
}

#[tokio::test]
async fn the_profile_is_read_updated_and_the_account_deleted() {
    let h = start().await;
    let lk = h.sdk().await;
    assert!(matches!(lk.fetch_user().await, Err(Error::SignedOut)));
    h.sign_up(&lk, "me@example.com", "lk-Test-pass-4921").await;
    let me = lk.fetch_user().await.unwrap();
    assert_eq!(me.primary_email(), Some("me@example.com"));

    let mut rx = lk.auth_state();
    rx.mark_unchanged();
    let mut meta = serde_json::Map::new();
    meta.insert("onboarded".into(), json!(true));
    let updated = lk
        .update_user(
            UserUpdate::new()
                .first_name("Mia")
                .last_name("Lund")
                .unsafe_metadata(meta),
        )
        .await
        .unwrap();
    assert_eq!(updated.first_name.as_deref(), Some("Mia"));
    assert!(
        rx.has_changed().unwrap(),
        "a profile change reaches the app"
    );
    let user = lk.user().unwrap();
    assert_eq!(
        (user.first_name.as_deref(), user.last_name.as_deref()),
        (Some("Mia"), Some("Lund"))
    );
    assert_eq!(user.unsafe_metadata["onboarded"], true);

    let uid = user.id.clone();
    lk.delete_user().await.unwrap();
    assert!(lk.current().is_signed_out());
    let r = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_auth_state_changes_only_on_real_transitions() {
    let h = start().await;
    h.create_user("w@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    let mut rx = lk.auth_state();
    assert!(rx.borrow_and_update().is_signed_out());
    lk.sign_in_with_password("w@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    assert!(rx.has_changed().unwrap());
    assert!(rx.borrow_and_update().is_signed_in());
    // Syncing, minting and refreshing tokens are not transitions.
    lk.refresh_client().await.unwrap();
    lk.session_token().await.unwrap();
    h.advance(61).await;
    lk.session_token().await.unwrap();
    lk.refresh_client().await.unwrap();
    assert!(!rx.has_changed().unwrap(), "{:?}", *rx.borrow());
    lk.sign_out().await.unwrap();
    assert!(rx.has_changed().unwrap());
    assert!(rx.borrow_and_update().is_signed_out());
}
