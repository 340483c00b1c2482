//! A stored session belongs to the Frontend API it was signed in with: configured with another
//! one, the SDK starts signed out, says why, and never sends the old client token there.

use std::io::Write;
use std::sync::{Arc, Mutex};

use latchkey::{FileStore, MemoryStore, SessionStore, StoreError, StoreKey};
use serde_json::json;

use crate::support::*;

/// Log lines written while the guard lives (this thread: the tests run on a current-thread
/// runtime, so the SDK's background task logs here too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn switching_the_frontend_api_signs_out_without_sending_the_token(
    store: Arc<dyn SessionStore>,
) {
    let a = start().await;
    let lk = a.sdk_with(store.clone()).await;
    a.sign_up(&lk, "bound@example.com", "lk-Test-pass-4921")
        .await;
    let old_token = store.load(StoreKey::ClientToken).unwrap().unwrap();
    let device = lk.device_id().unwrap().to_owned();
    drop(lk);

    // Another Frontend API, which records what it is sent.
    let (other, script) = scripted().await;
    script.push(Canned::json(200, json!({"response": null, "client": null})));
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let lk = sdk_builder(&other, &a.clock)
        .store(store.clone())
        .build()
        .unwrap();
    let state = lk.ready().await.expect("the store itself is fine");
    assert!(state.is_signed_out(), "{state:?}");
    match lk.restore_warning() {
        Some(StoreError::OtherFrontendApi { stored, configured }) => {
            assert_eq!(stored.as_deref(), Some(a.emu.url()));
            assert_eq!(configured, other);
        }
        other => panic!("expected the other-Frontend-API notice, got {other:?}"),
    }
    let notice = lk.restore_warning().unwrap().to_string();
    assert!(
        notice.contains(a.emu.url()) && notice.contains(&other),
        "{notice}"
    );
    // The app carries on against the new API, as a new client of it.
    lk.refresh_client().await.unwrap();
    assert!(lk.current().is_signed_out());
    let seen = script.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    for request in &seen {
        assert_eq!(request.header("authorization"), None, "{request:?}");
        assert!(!format!("{request:?}").contains(&old_token));
    }
    // The old session is gone from the store; the install keeps its device id.
    assert_eq!(store.load(StoreKey::ClientToken).unwrap(), None);
    assert_eq!(store.load(StoreKey::Client).unwrap(), None);
    assert_eq!(store.load(StoreKey::FrontendApi).unwrap(), None);
    assert_eq!(lk.device_id(), Some(device.as_str()));

    let logged = logs.text();
    assert!(
        logged.contains("belongs to another Frontend API") && logged.contains(&other),
        "{logged}"
    );
    assert!(!logged.contains(&old_token), "{logged}");
}

#[tokio::test]
async fn a_memory_store_session_is_bound_to_its_frontend_api() {
    switching_the_frontend_api_signs_out_without_sending_the_token(Arc::new(MemoryStore::new()))
        .await;
}

#[tokio::test]
async fn a_file_store_session_is_bound_to_its_frontend_api() {
    let dir = temp_dir("binding");
    switching_the_frontend_api_signs_out_without_sending_the_token(Arc::new(FileStore::new(
        dir.join("session.json"),
    )))
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Between two real emulators: each keeps its own sign-in, and the same store never carries one
/// emulator's token to the other.
#[tokio::test]
async fn signing_in_on_another_emulator_replaces_the_session_and_binds_it_there() {
    let a = start().await;
    let b = start().await;
    let store = Arc::new(MemoryStore::new());
    let on_a = a.sdk_with(store.clone()).await;
    a.sign_up(&on_a, "a@example.com", "lk-Test-pass-4921").await;
    let token_a = store.load(StoreKey::ClientToken).unwrap().unwrap();
    drop(on_a);

    b.create_user("b@example.com", "lk-Test-pass-4921").await;
    let on_b = b.sdk_with(store.clone()).await;
    assert!(on_b.current().is_signed_out());
    assert!(matches!(
        on_b.restore_warning(),
        Some(StoreError::OtherFrontendApi { .. })
    ));
    on_b.sign_in_with_password("b@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let token_b = store.load(StoreKey::ClientToken).unwrap().unwrap();
    assert_ne!(token_a, token_b);
    assert_eq!(
        store.load(StoreKey::FrontendApi).unwrap().as_deref(),
        Some(b.emu.url())
    );
    drop(on_b);

    // Back on A: B's token is not offered to A either; A no longer knows this device's client.
    let again = a.sdk_with(store.clone()).await;
    assert!(again.current().is_signed_out());
    assert!(matches!(
        again.restore_warning(),
        Some(StoreError::OtherFrontendApi { stored: Some(s), .. }) if s == b.emu.url()
    ));
    // And the same API restores without a notice.
    drop(again);
    let on_a = a.sdk_with(store.clone()).await;
    assert!(on_a.restore_warning().is_none());
}

/// A session stored before sessions were bound (no `frontend_api` entry) is not trusted.
#[tokio::test]
async fn an_unbound_stored_session_is_discarded_unsent() {
    let (url, script) = scripted().await;
    let store = Arc::new(MemoryStore::new());
    store
        .save(StoreKey::ClientToken, "legacy-client-token")
        .unwrap();
    store.save(StoreKey::DeviceId, "device-1").unwrap();
    let clock = Arc::new(latchkey_emulator::Clock::system());
    let lk = sdk_builder(&url, &clock)
        .store(store.clone())
        .build()
        .unwrap();
    assert!(lk.ready().await.unwrap().is_signed_out());
    assert!(matches!(
        lk.restore_warning(),
        Some(StoreError::OtherFrontendApi { stored: None, .. })
    ));
    assert!(script.seen().is_empty(), "nothing was sent at start-up");
    assert_eq!(store.keys(), vec![StoreKey::DeviceId]);
}
