//! The OS keychain, for real. Ignored by default: run through a Secret Service with
//! `scripts/keyring-session cargo test -p latchkey --test it -- --ignored keyring`.

use std::sync::Arc;

use latchkey::{KeyringBackend, KeyringStore, SessionStore, StoreKey};

use crate::support::*;

fn unique_app_id() -> String {
    format!(
        "dev.latchkey.tests.keyring.{}.{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[tokio::test]
#[ignore = "needs a Secret Service: run through scripts/keyring-session"]
async fn keyring_a_session_in_the_secret_service_survives_an_app_restart() {
    let app_id = unique_app_id();
    let store = KeyringStore::new(app_id.clone());
    let backend = tokio::task::spawn_blocking(move || store.backend())
        .await
        .unwrap()
        .expect("a keychain backend");
    assert_eq!(
        backend,
        KeyringBackend::SecretService,
        "expected the Secret Service (is this running inside scripts/keyring-session?)"
    );

    let h = start().await;
    let first = h
        .sdk_with(Arc::new(KeyringStore::new(app_id.clone())))
        .await;
    let sid = h
        .sign_up(&first, "keychain@example.com", "lk-Test-pass-4921")
        .await;
    let device = first.device_id().unwrap().to_owned();
    drop(first);

    // The app restarts: a new instance, a new store handle, the same keychain items.
    let second = h
        .sdk_with(Arc::new(KeyringStore::new(app_id.clone())))
        .await;
    assert_eq!(
        second.current().session().unwrap().id,
        sid,
        "signed in from the keychain"
    );
    assert_eq!(second.device_id(), Some(device.as_str()));
    second.session_token().await.unwrap();

    // Signing out removes the session from the keychain.
    second.sign_out_all().await.unwrap();
    let store = Arc::new(KeyringStore::new(app_id));
    let check = store.clone();
    let left = tokio::task::spawn_blocking(move || {
        (
            check.load(StoreKey::ClientToken).unwrap(),
            check.load(StoreKey::Client).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(left, (None, None));
    tokio::task::spawn_blocking(move || store.delete(StoreKey::DeviceId))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
#[ignore = "needs a kernel keyring (keyutils)"]
async fn keyring_the_keyutils_backend_round_trips_long_values() {
    let store = KeyringStore::with_backend(unique_app_id(), KeyringBackend::Keyutils);
    tokio::task::spawn_blocking(move || {
        let long = "{\"x\":\"".to_owned() + &"é".repeat(20_000) + "\"}";
        store.save(StoreKey::Client, &long).unwrap();
        assert_eq!(
            store.load(StoreKey::Client).unwrap().as_deref(),
            Some(long.as_str())
        );
        store.delete(StoreKey::Client).unwrap();
        assert_eq!(store.load(StoreKey::Client).unwrap(), None);
    })
    .await
    .unwrap();
}
