use reqwest::Method;

use crate::support::*;

#[tokio::test]
async fn users_sessions_and_keys_survive_a_restart_on_the_same_data_dir() {
    let dir = latchkey_testkit::temp_path("restart");
    let h = start_from(latchkey_emulator::Emulator::builder().data_dir(&dir)).await;
    let secret = h.emu.secret_key().to_owned();
    let mut c = h.fapi();
    let sid = c.sign_up("keep@example.com", "lk-Test-pass-4921").await;
    let token = c.token.clone().unwrap();
    let jwt = c.jwt(&sid).await;
    let jwks = h.jwks().await;
    h.kit.shutdown().await;

    let h2 = start_from(latchkey_emulator::Emulator::builder().data_dir(&dir)).await;
    assert_eq!(h2.emu.secret_key(), secret, "the secret key is kept");
    assert_eq!(h2.jwks().await, jwks, "the signing key is kept");
    verify_jwt(&h2.jwks().await, &jwt).expect("a token minted before the restart still verifies");
    let n = h2.bapi(Method::GET, "/v1/users/count", None).await;
    assert_eq!(n.ok()["total_count"], 1);
    let mut c2 = h2.fapi();
    c2.token = Some(token);
    let r = c2.get("/v1/client").await;
    assert_eq!(
        r.ok()["response"]["last_active_session_id"],
        sid,
        "the stored client token still works"
    );
    c2.token(&sid).await.ok();
    let m = h2
        .control(Method::GET, "/messages?to=keep@example.com", None)
        .await;
    assert_eq!(m.ok()["data"].as_array().unwrap().len(), 1);
    h2.kit.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn fixed_keys_and_a_busy_port() {
    let h =
        start_from(latchkey_emulator::Emulator::builder().secret_key("sk_test_fixedfixedfixed"))
            .await;
    assert_eq!(h.emu.secret_key(), "sk_test_fixedfixedfixed");
    let port = h.emu.addr().port();
    let err = latchkey_emulator::Emulator::builder()
        .port(port)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    let bad = latchkey_emulator::Emulator::builder()
        .secret_key("nope")
        .start()
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("sk_test_"), "{bad}");
}
