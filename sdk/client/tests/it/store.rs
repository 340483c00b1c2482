use std::sync::Arc;

use latchkey::{Error, FileStore, MemoryStore, SessionStore, StoreError, StoreKey};

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_file_store_keeps_the_session_for_the_next_start() {
    let h = start().await;
    let dir = temp_dir("filestore");
    let path = dir.join("nested").join("session.json");
    let lk = h.sdk_with(Arc::new(FileStore::new(&path))).await;
    let sid = h
        .sign_up(&lk, "file@example.com", "lk-Test-pass-4921")
        .await;
    let device = lk.device_id().unwrap().to_owned();
    drop(lk);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner can read the session");
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            dir_mode & 0o777,
            0o700,
            "the directory it created is private"
        );
    }
    let again = h.sdk_with(Arc::new(FileStore::new(&path))).await;
    assert_eq!(again.current().session().unwrap().id, sid);
    assert_eq!(
        again.device_id(),
        Some(device.as_str()),
        "stable per install"
    );
    again.session_token().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_corrupt_entry_is_treated_as_signed_out_and_reported() {
    let h = start().await;
    let store = Arc::new(MemoryStore::new());
    store.save(StoreKey::ClientToken, "tok").unwrap();
    store.save(StoreKey::DeviceId, "device-1").unwrap();
    store.save(StoreKey::Client, "{\"sessions\": [tru").unwrap();
    store.save(StoreKey::FrontendApi, h.emu.url()).unwrap();
    let lk = h.sdk_with(store.clone()).await;
    assert!(lk.current().is_signed_out());
    match lk.restore_warning() {
        Some(StoreError::Corrupt { key, .. }) => assert_eq!(key, StoreKey::Client),
        other => panic!("expected a corrupt-entry report, got {other:?}"),
    }
    assert_eq!(
        store.keys(),
        vec![StoreKey::DeviceId],
        "the bad entries are gone"
    );
    assert_eq!(lk.device_id(), Some("device-1"));
    // And the device can sign in afresh.
    h.sign_up(&lk, "again@example.com", "lk-Test-pass-4921")
        .await;
    assert!(lk.current().is_signed_in());
}

/// A keychain that is locked: every call fails.
struct Locked;

impl SessionStore for Locked {
    fn load(&self, _: StoreKey) -> Result<Option<String>, StoreError> {
        Err(locked())
    }
    fn save(&self, _: StoreKey, _: &str) -> Result<(), StoreError> {
        Err(locked())
    }
    fn delete(&self, _: StoreKey) -> Result<(), StoreError> {
        Err(locked())
    }
}

fn locked() -> StoreError {
    StoreError::AccessDenied {
        source: latchkey::Cause::new(std::io::Error::other("the keychain is locked")),
    }
}

#[tokio::test]
async fn a_failing_store_is_a_typed_error_not_a_panic() {
    let h = start().await;
    h.create_user("locked@example.com", "lk-Test-pass-4921")
        .await;
    let lk = sdk_builder(&h.fapi_url, &h.clock)
        .store(Locked)
        .build()
        .unwrap();
    let err = lk.ready().await.unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::AccessDenied { .. })),
        "{err:?}"
    );
    assert!(lk.current().is_signed_out());
    // Signing in works on the server, but cannot be kept: the caller is told.
    let err = lk
        .sign_in_with_password("locked@example.com", "lk-Test-pass-4921")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    assert!(lk.current().is_signed_in(), "signed in for this run");
}

#[tokio::test]
async fn the_device_id_is_created_once_per_install() {
    let h = start().await;
    let store = Arc::new(MemoryStore::new());
    let a = h.sdk_with(store.clone()).await;
    let b = h.sdk_with(store.clone()).await;
    let other = h.sdk().await;
    let id = a.device_id().unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(b.device_id(), Some(id));
    assert_ne!(other.device_id(), Some(id));
    assert_eq!(store.load(StoreKey::DeviceId).unwrap().as_deref(), Some(id));
}

/// A session file that others can read (say, planted in a shared directory by another user) is
/// refused: the app is told, runs signed out, and the token in it never leaves the machine.
#[cfg(unix)]
#[tokio::test]
async fn a_session_file_others_can_read_is_refused_and_its_token_never_sent() {
    use std::os::unix::fs::PermissionsExt;
    let (url, script) = scripted().await;
    let dir = temp_dir("planted");
    let path = dir.join("session.json");
    std::fs::write(
        &path,
        r#"{"version":1,"entries":{"client_token":"planted-client-token","device_id":"d"}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let clock = std::sync::Arc::new(latchkey_emulator::Clock::system());
    let lk = sdk_builder(&url, &clock)
        .store(FileStore::new(&path))
        .build()
        .unwrap();
    match lk.ready().await {
        Err(Error::Store(StoreError::InsecureFile { path: p, reason })) => {
            assert_eq!(p, path);
            assert!(reason.contains("0644"), "{reason}");
        }
        other => panic!("expected the file to be refused, got {other:?}"),
    }
    assert!(lk.current().is_signed_out());
    script.push(Canned::json(200, json!({"response": null, "client": null})));
    lk.refresh_client().await.unwrap();
    let seen = script.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen.iter().all(|r| r.header("authorization").is_none()),
        "{seen:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
