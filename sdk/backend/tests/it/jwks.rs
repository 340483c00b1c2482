//! Key fetching and caching: how often the key server is asked, and what happens when it
//! cannot answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
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
async fn keys_are_fetched_again_when_the_cache_ttl_passes() {
    let env = start().await;
    let signer = env.signer();
    let (builder, fetches) = env.counting_verifier();
    let verifier = builder.cache_ttl(Duration::from_secs(120)).build().unwrap();
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
    env.advance_secs(61);
    verifier
        .verify(&signer.sign(&env.claims("user_1", "sess_1")))
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn when_the_key_server_is_down_known_keys_stay_trusted() {
    let clock = Arc::new(latchkey_emulator::Clock::system());
    let env = start_from(
        latchkey_emulator::Emulator::builder()
            .ephemeral()
            .clock(clock.clone()),
    )
    .await;
    // Tokens valid for an hour, signed with the emulator's key.
    let sign_jwt = |claims: &serde_json::Value| {
        env.emu
            .app()
            .signing_key
            .get()
            .unwrap()
            .sign_jwt(claims)
            .unwrap()
    };
    let mut claims = env.claims("user_1", "sess_1");
    claims["exp"] = json!(env.now_secs() + 3600);
    let token = sign_jwt(&claims);
    let url = env.emu.url().to_owned();

    let c = clock.clone();
    let source = CountingSource::new(JwksSource::Frontend { url: url.clone() });
    let fetches = source.count.clone();
    let verifier = Verifier::builder()
        .key_source(source)
        .cache_ttl(Duration::from_secs(60))
        .clock(move || c.now_ms())
        .build()
        .unwrap();
    verifier.verify(&token).await.unwrap();
    env.emu.shutdown().await;

    // Past the TTL with the server gone: the refresh fails, the cached key still verifies.
    clock.advance_ms(120_000);
    assert_eq!(verifier.verify(&token).await.unwrap().sub, "user_1");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

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
