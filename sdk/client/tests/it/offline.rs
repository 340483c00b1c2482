use std::sync::Arc;

use latchkey::{Error, MemoryStore, TokenOptions};

use crate::support::*;

#[tokio::test]
async fn the_stored_client_token_still_works_after_the_emulator_restarts_on_its_data_dir() {
    let dir = temp_dir("restart");
    let clock = Arc::new(latchkey_emulator::Clock::system());
    let mut h = start_from(builder(&clock).data_dir(&dir), clock.clone()).await;
    // The SDK talks to a proxy that stays bound across the restart: the new emulator gets a
    // port of its own, and no port is given up and taken again.
    let front = proxy(h.emu.url()).await;
    h.fapi_url = front.url.clone();
    let store = Arc::new(MemoryStore::new());
    let lk = h.sdk_with(store.clone()).await;
    let sid = h
        .sign_up(&lk, "keep@example.com", "lk-Test-pass-4921")
        .await;
    lk.session_token().await.unwrap();
    h.kit.shutdown().await;

    let mut h2 = start_from(builder(&clock).data_dir(&dir), clock.clone()).await;
    front.set_upstream(h2.emu.url());
    h2.fapi_url = front.url.clone();
    assert_eq!(
        lk.frontend_api_url(),
        front.url,
        "the SDK's address is unchanged"
    );
    // The running SDK carries on with its client token.
    lk.refresh_client().await.unwrap();
    assert_eq!(lk.current().session().unwrap().id, sid);
    let fresh = lk
        .session_token_with(&TokenOptions::new().skip_cache(true))
        .await
        .unwrap();
    assert!(fresh.expires_at() * 1000 > clock.now_ms());
    // And an app started afresh from the store is signed in to the same session.
    let restarted = h2.sdk_with(store).await;
    assert_eq!(restarted.current().session().unwrap().id, sid);
    restarted.refresh_client().await.unwrap();
    assert!(restarted.current().is_signed_in());
    h2.kit.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn with_the_emulator_stopped_the_cached_token_is_served_until_it_expires_then_offline() {
    let h = start().await;
    h.create_user("off@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    lk.sign_in_with_password("off@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let token = lk.session_token().await.unwrap();
    let clock = h.clock.clone();
    h.kit.shutdown().await;

    assert_eq!(
        lk.session_token().await.unwrap(),
        token,
        "fresh: from the cache"
    );
    // Under the margin but not expired: the refresh fails, the cached token still works.
    let left_ms = token.expires_at() * 1000 - clock.now_ms();
    clock.advance_ms(left_ms - 5_000);
    assert_eq!(lk.session_token().await.unwrap(), token);
    // Expired: the distinct offline error. Nobody was signed out by it.
    clock.advance_ms(6_000);
    let err = lk.session_token().await.unwrap_err();
    assert!(matches!(err, Error::Offline { .. }), "{err:?}");
    assert!(err.is_offline());
    assert!(lk.current().is_signed_in());
    // Other calls are offline too.
    assert!(lk.refresh_client().await.unwrap_err().is_offline());
}

#[tokio::test]
async fn an_app_starting_offline_is_signed_in_from_the_store_with_its_cached_token() {
    let h = start().await;
    h.create_user("cold@example.com", "lk-Test-pass-4921").await;
    let store = Arc::new(MemoryStore::new());
    let lk = h.sdk_with(store.clone()).await;
    lk.sign_in_with_password("cold@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let sid = lk.current().session().unwrap().id.clone();
    drop(lk);
    h.kit.shutdown().await;

    let started = sdk_builder(&h.fapi_url, &h.clock)
        .store(store)
        .build()
        .unwrap();
    let state = started.ready().await.unwrap();
    assert_eq!(state.session().unwrap().id, sid);
    assert_eq!(
        state.user().unwrap().primary_email(),
        Some("cold@example.com")
    );
    // The snapshot's last_active_token is served without the server.
    let t = started.session_token().await.unwrap();
    assert!(t.expires_at() * 1000 > h.clock.now_ms());
}
