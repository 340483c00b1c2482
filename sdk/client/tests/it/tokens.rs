use std::sync::Arc;
use std::time::Duration;

use latchkey::{MemoryStore, SessionStore, StoreKey, TokenOptions};
use serde_json::json;

use crate::sign_up::jwt_claims;
use crate::support::*;

/// An emulator behind a counting proxy; the SDKs of the harness talk to the proxy.
async fn start_counted() -> (Harness, Proxy) {
    let mut h = start().await;
    let p = proxy(h.emu.url()).await;
    h.fapi_url = p.url.clone();
    (h, p)
}

fn count(p: &Proxy) -> usize {
    *p.token_posts.borrow()
}

#[tokio::test]
async fn tokens_are_cached_and_a_new_one_is_fetched_once_the_clock_passes_expiry() {
    let (h, p) = start_counted().await;
    h.create_user("tok@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    lk.sign_in_with_password("tok@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let first = lk.session_token().await.unwrap();
    let again = lk.session_token().await.unwrap();
    assert_eq!(first, again);
    let before = count(&p);
    assert_eq!(
        before, 0,
        "the sign-in's last_active_token seeds the cache: no token request at all"
    );
    for _ in 0..100 {
        lk.session_token().await.unwrap();
    }
    assert_eq!(count(&p), before, "cached: no request");
    assert!(first.expires_at() * 1000 > h.clock.now_ms() + 10_000);

    h.advance(61).await;
    assert!(
        first.expires_at() < h.clock.now_ms() / 1000,
        "expired on the emulator's clock"
    );
    let second = lk.session_token().await.unwrap();
    assert_ne!(first, second);
    assert!(second.expires_at() * 1000 >= h.clock.now_ms() + 10_000);
    assert_eq!(count(&p), before + 1);
    let claims = jwt_claims(second.expose());
    assert_eq!(claims["exp"].as_i64().unwrap(), second.expires_at());
}

#[tokio::test]
async fn a_thousand_concurrent_callers_at_expiry_share_one_token_request() {
    let (h, p) = start_counted().await;
    h.create_user("many@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    lk.sign_in_with_password("many@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let old = lk.session_token().await.unwrap();
    let before = count(&p);
    h.advance(61).await;
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let lk = lk.clone();
            tokio::spawn(async move { lk.session_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    assert_eq!(
        count(&p) - before,
        1,
        "exactly one POST …/tokens reached the server"
    );
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "everyone got the same token"
    );
    assert_ne!(tokens[0], old);
}

#[tokio::test]
async fn template_tokens_carry_the_template_claims_and_are_cached_apart() {
    let (h, p) = start_counted().await;
    h.set_settings(json!({"jwt_templates": {"backend": {
        "claims": {"email": "{{user.primary_email_address}}", "aud": "api.example.com"},
        "lifetime_secs": 300
    }}}))
    .await;
    h.create_user("tpl@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    lk.sign_in_with_password("tpl@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let t = lk.template_token("backend").await.unwrap();
    let claims = jwt_claims(t.expose());
    assert_eq!(claims["email"], "tpl@example.com");
    assert_eq!(claims["aud"], "api.example.com");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    let n = count(&p);
    assert_eq!(lk.template_token("backend").await.unwrap(), t);
    assert_eq!(count(&p), n, "template tokens are cached too");
    let default = lk.session_token().await.unwrap();
    assert!(jwt_claims(default.expose()).get("aud").is_none());
    // An unknown template is the server's 404, and the session stays signed in.
    let err = lk.template_token("nope").await.unwrap_err();
    assert_eq!(err.code(), Some("resource_not_found"));
    assert!(lk.current().is_signed_in());
    // skip_cache forces a request.
    let forced = lk
        .session_token_with(&TokenOptions::new().template("backend").skip_cache(true))
        .await
        .unwrap();
    assert_eq!(count(&p), n + 2);
    assert!(forced.expires_at() >= t.expires_at());
}

#[tokio::test]
async fn the_margin_is_configurable() {
    let h = start().await;
    h.create_user("m@example.com", "lk-Test-pass-4921").await;
    let lk = sdk_builder(&h.fapi_url, &h.clock)
        .store(MemoryStore::new())
        .token_margin(Duration::from_secs(30))
        .background_refresh(false)
        .build()
        .unwrap();
    lk.sign_in_with_password("m@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let first = lk.session_token().await.unwrap();
    h.advance(25).await; // ~35 s left: enough
    assert_eq!(lk.session_token().await.unwrap(), first);
    h.advance(10).await; // ~25 s left: under the margin
    let second = lk.session_token().await.unwrap();
    assert_ne!(second, first);
    assert!(second.expires_at() * 1000 - h.clock.now_ms() >= 30_000);
}

#[tokio::test]
async fn the_background_refresher_renews_the_token_before_it_expires() {
    let (h, p) = start_counted().await;
    h.create_user("bg@example.com", "lk-Test-pass-4921").await;
    let lk = sdk_builder(&h.fapi_url, &h.clock)
        .store(MemoryStore::new())
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    lk.sign_in_with_password("bg@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let first = lk.session_token().await.unwrap();
    let before = count(&p);
    // 15 s left: inside margin (10 s) + lead (10 s), not yet under the margin.
    h.advance(45).await;
    let mut rx = p.token_posts.clone();
    tokio::time::timeout(WAIT, rx.wait_for(|n| *n > before))
        .await
        .expect("the refresher asked for a token")
        .unwrap();
    // 9 s left on the first token: under the margin. The refreshed token is served, whether its
    // answer has landed (cache) or is still on its way (the caller joins that request).
    h.advance(6).await;
    let next = lk.session_token().await.unwrap();
    assert_ne!(next, first);
    assert!(next.expires_at() > first.expires_at());
    assert_eq!(count(&p), before + 1, "served from the refreshed cache");
}

#[tokio::test]
async fn a_session_revoked_through_the_backend_api_signs_out_at_the_next_refresh() {
    let h = start().await;
    h.create_user("rev@example.com", "lk-Test-pass-4921").await;
    let store = Arc::new(MemoryStore::new());
    let lk = h.sdk_with(store.clone()).await;
    let sid = lk
        .sign_in_with_password("rev@example.com", "lk-Test-pass-4921")
        .await
        .unwrap()
        .created_session_id()
        .unwrap()
        .to_owned();
    lk.session_token().await.unwrap();
    h.revoke(&sid).await;
    // Still signed in until the token needs refreshing.
    assert!(lk.current().is_signed_in());
    h.advance(61).await;
    let err = lk.session_token().await.unwrap_err();
    assert_session_ended(&err);
    assert!(lk.current().is_signed_out());
    assert!(store.load(StoreKey::ClientToken).unwrap().is_none());
    assert!(store.load(StoreKey::Client).unwrap().is_none());
    assert!(matches!(
        lk.session_token().await,
        Err(latchkey::Error::SignedOut)
    ));
}

#[tokio::test]
async fn the_background_refresher_notices_a_revocation_by_itself() {
    let h = start().await;
    h.create_user("bgrev@example.com", "lk-Test-pass-4921")
        .await;
    let lk = sdk_builder(&h.fapi_url, &h.clock)
        .store(MemoryStore::new())
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let sid = lk
        .sign_in_with_password("bgrev@example.com", "lk-Test-pass-4921")
        .await
        .unwrap()
        .created_session_id()
        .unwrap()
        .to_owned();
    h.revoke(&sid).await;
    h.advance(61).await;
    wait_state(&lk, |s| s.is_signed_out()).await;
}
