//! Key fetching and caching: how often the key server is asked, and what happens when it
//! cannot answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use latchkey_backend::{JwksSource, KeyFetchError, Verifier, VerifyError};
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::*;

#[tokio::test]
async fn a_thousand_verifications_fetch_the_keys_once() {
    let env = start().await;
    env.create_user("many@example.com").await;
    let s = env.sign_in("many@example.com").await;

    let (builder, fetches) = env.counting_verifier();
    let verifier = builder.build().unwrap();
    for _ in 0..1000 {
        verifier.verify(&s.jwt).await.unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // A cold cache and 1,000 concurrent requests: still one fetch.
    let (builder, fetches) = env.counting_verifier();
    let verifier = builder.build().unwrap();
    let mut tasks = JoinSet::new();
    for _ in 0..1000 {
        let (v, jwt) = (verifier.clone(), s.jwt.clone());
        tasks.spawn(async move { v.verify(&jwt).await.map(|c| c.sid) });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().unwrap(), s.sid);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_floor() {
    let env = start().await;
    let signer = env.signer();
    let claims = env.claims("user_1", "sess_1");
    let (builder, fetches) = env.counting_verifier();
    let verifier = builder.build().unwrap();
    verifier.verify(&signer.sign(&claims)).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // Past the floor since that first fetch, an unknown kid may ask the server again: once,
    // however many arrive together.
    env.advance_secs(6);
    let claims = env.claims("user_1", "sess_1");
    let forge =
        |i: usize| signer.sign_with("RS256", json!({"kid": format!("ins_fake_{i}")}), &claims);
    let mut tasks = JoinSet::new();
    for i in 0..200 {
        let (v, token) = (verifier.clone(), forge(i));
        tasks.spawn(async move { v.verify(&token).await });
    }
    while let Some(done) = tasks.join_next().await {
        assert!(matches!(done.unwrap(), Err(VerifyError::UnknownKey { .. })));
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "one refetch for the whole flood"
    );
    for i in 200..300 {
        assert!(verifier.verify(&forge(i)).await.is_err());
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "the floor holds");
    // Known keys keep working without fetching.
    verifier.verify(&signer.sign(&claims)).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // After the floor (5 s by default), an unknown kid may ask once more.
    env.advance_secs(6);
    let claims = env.claims("user_1", "sess_1");
    let late = signer.sign_with("RS256", json!({"kid": "ins_fake_late"}), &claims);
    assert!(verifier.verify(&late).await.is_err());
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn keys_are_refreshed_in_the_background_when_the_cache_ttl_passes() {
    let env = start().await;
    let signer = env.signer();
    let source = CountingSource::new(env.frontend());
    let (fetches, mut finished) = (source.count.clone(), source.finished.clone());
    let verifier = Verifier::builder()
        .key_source(source)
        .clock(env.clock())
        .cache_ttl(Duration::from_secs(120))
        .build()
        .unwrap();
    verifier
        .verify(&signer.sign(&env.claims("user_1", "sess_1")))
        .await
        .unwrap();
    env.advance_secs(60);
    verifier
        .verify(&signer.sign(&env.claims("user_1", "sess_1")))
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // Stale: the cached key answers, and a refresh starts behind it.
    env.advance_secs(61);
    verifier
        .verify(&signer.sign(&env.claims("user_1", "sess_1")))
        .await
        .unwrap();
    fetches_finished(&mut finished, 2).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // Fresh again: no more fetches.
    for _ in 0..10 {
        verifier
            .verify(&signer.sign(&env.claims("user_1", "sess_1")))
            .await
            .unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn when_the_key_server_is_down_known_keys_stay_trusted() {
    let clock = Arc::new(latchkey_emulator::Clock::system());
    let env = start_from(builder().clock(clock.clone())).await;
    // Tokens valid for an hour, signed with the emulator's key.
    let mut claims = env.claims("user_1", "sess_1");
    claims["exp"] = json!(env.now_secs() + 3600);
    let token = env.signer().sign(&claims);
    let url = env.emu.url().to_owned();

    let c = clock.clone();
    let source = CountingSource::new(JwksSource::Frontend { url: url.clone() });
    let (fetches, mut finished) = (source.count.clone(), source.finished.clone());
    let verifier = Verifier::builder()
        .key_source(source)
        .cache_ttl(Duration::from_secs(60))
        .clock(move || c.now_ms())
        .build()
        .unwrap();
    verifier.verify(&token).await.unwrap();
    env.kit.shutdown().await;

    // Past the TTL with the server gone: the cached key verifies, the refresh behind it fails.
    clock.advance_ms(120_000);
    assert_eq!(verifier.verify(&token).await.unwrap().sub, "user_1");
    fetches_finished(&mut finished, 2).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // Within the floor of that failed attempt, no new one; the key keeps working.
    assert_eq!(verifier.verify(&token).await.unwrap().sub, "user_1");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // Past the floor, the next request tries again, still without waiting for it.
    clock.advance_ms(6_000);
    assert_eq!(verifier.verify(&token).await.unwrap().sub, "user_1");
    fetches_finished(&mut finished, 3).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 3);

    // A verifier that never had keys reports the outage, then backs off.
    let c = clock.clone();
    let source = CountingSource::new(JwksSource::Frontend { url });
    let fetches = source.count.clone();
    let cold = Verifier::builder()
        .key_source(source)
        .clock(move || c.now_ms())
        .build()
        .unwrap();
    assert!(matches!(
        cold.verify(&token).await,
        Err(VerifyError::KeyFetch(KeyFetchError::Transport(_)))
    ));
    assert!(matches!(
        cold.verify(&token).await,
        Err(VerifyError::KeyFetch(KeyFetchError::Backoff))
    ));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_backend_jwks_needs_the_right_secret_key() {
    let env = start().await;
    env.create_user("bk@example.com").await;
    let s = env.sign_in("bk@example.com").await;
    let wrong = Verifier::builder()
        .jwks(JwksSource::Backend {
            api_url: env.emu.url().to_owned(),
            secret_key: "sk_test_not_the_key".into(),
        })
        .clock(env.clock())
        .build()
        .unwrap();
    let err = wrong.verify(&s.jwt).await.unwrap_err();
    match &err {
        VerifyError::KeyFetch(KeyFetchError::Status { status, code }) => {
            assert_eq!(*status, 401);
            assert_eq!(code.as_deref(), Some("clerk_key_invalid"));
        }
        other => panic!("expected a 401 from the key fetch, got {other:?}"),
    }
    let shown = format!("{err} {err:?} {wrong:?}");
    assert!(!shown.contains("sk_test_not_the_key"), "{shown}");
}

/// The claims of a token that stays valid for an hour of `now_secs`.
fn long_lived(env: &Env, now_secs: i64) -> serde_json::Value {
    let mut claims = env.claims("user_1", "sess_1");
    claims["iat"] = json!(now_secs);
    claims["nbf"] = json!(now_secs - 10);
    claims["exp"] = json!(now_secs + 3600);
    claims
}

/// Fails instead of hanging when `fut` waits on the key server.
async fn at_once<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("the verification waited on the hanging key server")
}

/// A key server that accepts the refresh's connection and never answers: tokens with a cached
/// key keep verifying at once, only one refresh is under way, and a token with an unknown `kid`
/// fails after the key wait instead of hanging.
#[tokio::test]
async fn a_hanging_key_server_never_holds_up_a_token_whose_key_is_cached() {
    let env = start().await;
    let signer = env.signer();
    let jwks = serde_json::to_string(&env.bapi.jwks().await.unwrap()).unwrap();
    let mut server = HangingJwks::start(&jwks, 1).await;
    let now_ms = Arc::new(AtomicI64::new(env.emu.clock().now_ms()));
    let now = now_ms.clone();
    let verifier = Verifier::builder()
        .jwks(JwksSource::Frontend {
            url: server.url.clone(),
        })
        .issuer(env.emu.url())
        // No HTTP timeout at all: only the verifier's own bounds apply.
        .http_client(reqwest::Client::new())
        .cache_ttl(Duration::from_secs(60))
        .fetch_timeout(Duration::from_secs(600))
        .key_wait(Duration::from_millis(200))
        .clock(move || now.load(Ordering::SeqCst))
        .build()
        .unwrap();
    let secs = |n: &AtomicI64| n.load(Ordering::SeqCst) / 1000;
    let token = signer.sign(&long_lived(&env, secs(&now_ms)));
    assert_eq!(
        at_once(verifier.verify(&token)).await.unwrap().sub,
        "user_1"
    );
    assert_eq!(server.accepted(), 1);

    // The TTL passes: the cached key answers; the refresh it starts hangs at the server.
    now_ms.fetch_add(61_000, Ordering::SeqCst);
    assert_eq!(
        at_once(verifier.verify(&token)).await.unwrap().sub,
        "user_1"
    );
    server.wait_accepted(2).await;
    for _ in 0..50 {
        assert_eq!(
            at_once(verifier.verify(&token)).await.unwrap().sub,
            "user_1"
        );
    }

    // A rotated (unknown) kid waits for the refresh under way, for the key wait only.
    let rotated = signer.sign_with(
        "RS256",
        json!({"kid": "ins_rotated", "typ": "JWT"}),
        &long_lived(&env, secs(&now_ms)),
    );
    assert!(matches!(
        at_once(verifier.verify(&rotated)).await,
        Err(VerifyError::KeyFetch(KeyFetchError::Timeout))
    ));
    // Past the floor too: the hanging refresh is still the one fetch; known keys still work.
    now_ms.fetch_add(6_000, Ordering::SeqCst);
    assert!(matches!(
        at_once(verifier.verify(&rotated)).await,
        Err(VerifyError::KeyFetch(KeyFetchError::Timeout))
    ));
    assert_eq!(
        at_once(verifier.verify(&token)).await.unwrap().sub,
        "user_1"
    );
    assert_eq!(server.accepted(), 2, "one refresh, however many requests");
}

/// A key server that hangs from the start: a cold verifier fails after the key wait, its
/// later requests share the one fetch under way, and the fetch itself is abandoned after the
/// fetch timeout, so the next one can start.
#[tokio::test]
async fn a_cold_verifier_fails_after_the_key_wait_when_the_key_server_hangs() {
    let env = start().await;
    let signer = env.signer();
    let mut server = HangingJwks::start("", 0).await;
    let now_ms = Arc::new(AtomicI64::new(env.emu.clock().now_ms()));
    let now = now_ms.clone();
    let verifier = Verifier::builder()
        .jwks(JwksSource::Frontend {
            url: server.url.clone(),
        })
        .http_client(reqwest::Client::new())
        .fetch_timeout(Duration::from_millis(300))
        .key_wait(Duration::from_millis(100))
        .clock(move || now.load(Ordering::SeqCst))
        .build()
        .unwrap();
    let token = signer.sign(&long_lived(&env, now_ms.load(Ordering::SeqCst) / 1000));
    let err = at_once(verifier.verify(&token)).await.unwrap_err();
    assert!(
        matches!(err, VerifyError::KeyFetch(KeyFetchError::Timeout)),
        "{err:?}"
    );
    assert_eq!(err.reason(), "jwk-remote-failed-to-load");
    server.wait_accepted(1).await;
    // Past the floor, but the first fetch may still be under way: never a second one alongside.
    now_ms.fetch_add(6_000, Ordering::SeqCst);
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let (v, t) = (verifier.clone(), token.clone());
        tasks.spawn(async move { v.verify(&t).await });
    }
    while let Some(done) = at_once(tasks.join_next()).await {
        assert!(matches!(
            done.unwrap(),
            Err(VerifyError::KeyFetch(
                KeyFetchError::Timeout | KeyFetchError::Backoff
            ))
        ));
    }
    assert!(server.accepted() <= 2, "at most one fetch at a time");
    // The hanging fetch does not block fetching forever: once the fetch timeout abandons it, a
    // later request (past the floor) starts the next one. Each round waits the key wait.
    at_once(async {
        while server.accepted() < 2 {
            now_ms.fetch_add(6_000, Ordering::SeqCst);
            assert!(verifier.verify(&token).await.is_err());
        }
    })
    .await;
    server.wait_accepted(2).await;
}
