use std::sync::Arc;

use latchkey::{
    ClientToken, FileStore, KeyringStore, MemoryStore, SessionStore, SignUpForm, StoreKey,
};

use crate::support::*;

#[tokio::test]
async fn debug_output_of_every_public_type_holding_a_token_shows_no_token_text() {
    let h = start().await;
    h.create_user("dbg@example.com", "lk-Test-pass-4921").await;
    let store = Arc::new(MemoryStore::new());
    let lk = h.sdk_with(store.clone()).await;
    let attempt = lk
        .sign_in_with_password("dbg@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    let token = lk.session_token().await.unwrap();
    let client_token = store.load(StoreKey::ClientToken).unwrap().unwrap();
    let snapshot = lk.client().unwrap();
    let last_active = snapshot.sessions[0]
        .last_active_token
        .as_ref()
        .unwrap()
        .jwt
        .clone();
    let secrets = [
        token.expose().to_owned(),
        client_token.clone(),
        last_active,
        "lk-Test-pass-4921".to_owned(),
    ];
    let shown = [
        format!("{lk:?}"),
        format!("{:?}", lk.current()),
        format!("{:?}", *lk.auth_state().borrow()),
        format!("{token:?}"),
        format!("{:?}", ClientToken::new(client_token.as_str())),
        format!("{store:?}"),
        format!("{snapshot:?}"),
        format!("{:?}", lk.sessions()),
        format!("{attempt:?}"),
        format!(
            "{:?}",
            SignUpForm::new()
                .email_address("x@example.com")
                .password("lk-Test-pass-4921")
        ),
        format!("{:?}", FileStore::new("/tmp/x.json")),
        format!("{:?}", KeyringStore::new("dev.latchkey.debug")),
        format!("{:?}", lk.refresh_client().await),
    ];
    for text in &shown {
        for secret in &secrets {
            let probe = &secret[secret.len().saturating_sub(24)..];
            assert!(
                !text.contains(probe),
                "a secret leaks through Debug: {text}"
            );
        }
    }
    assert!(shown[3].contains("[redacted]"));
}
