//! The transport against a scripted server: the client-token rotation rules, native-mode
//! requests, typed errors, retries, redirects, unreachable servers.

use std::sync::Arc;
use std::time::Duration;

use latchkey::{Error, Latchkey, MemoryStore, RetryPolicy, SessionStore, StoreKey};
use serde_json::{Value, json};

use crate::support::*;

/// A real signed-in client, as the emulator sends it.
async fn signed_in_client() -> Value {
    let h = start().await;
    h.create_user("rot@example.com", "lk-Test-pass-4921").await;
    let lk = h.sdk().await;
    lk.sign_in_with_password("rot@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    serde_json::to_value(&*lk.client().unwrap()).unwrap()
}

fn sdk(url: &str, store: Arc<MemoryStore>) -> Latchkey {
    Latchkey::builder(APP_ID)
        .frontend_api_url(url)
        .store(store)
        .sync_on_start(false)
        .background_refresh(false)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(std::time::Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

fn envelope(client: &Value) -> Value {
    json!({"response": client, "client": client})
}

#[tokio::test]
async fn the_response_authorization_header_keeps_replaces_or_clears_the_client_token() {
    let client = signed_in_client().await;
    let (url, script) = scripted().await;
    let store = Arc::new(MemoryStore::new());
    let lk = sdk(&url, store.clone());
    lk.ready().await.unwrap();
    let ok = || Canned::json(200, envelope(&client));

    // A token handed out: stored, and sent from then on.
    script.push(ok().header("authorization", "tok-1"));
    lk.refresh_client().await.unwrap();
    assert!(lk.current().is_signed_in());
    assert_eq!(
        store.load(StoreKey::ClientToken).unwrap().as_deref(),
        Some("tok-1")
    );
    // No header: keep.
    script.push(ok());
    lk.refresh_client().await.unwrap();
    assert_eq!(
        store.load(StoreKey::ClientToken).unwrap().as_deref(),
        Some("tok-1")
    );
    // Another value: replace, verbatim.
    script.push(ok().header("authorization", "tok-2"));
    lk.refresh_client().await.unwrap();
    assert_eq!(
        store.load(StoreKey::ClientToken).unwrap().as_deref(),
        Some("tok-2")
    );
    // Empty: the client is gone — signed out, token forgotten, store cleared.
    script.push(
        Canned::json(200, json!({"response": client, "client": null})).header("authorization", ""),
    );
    lk.refresh_client().await.unwrap();
    assert!(lk.current().is_signed_out());
    assert_eq!(store.load(StoreKey::ClientToken).unwrap(), None);
    assert_eq!(store.load(StoreKey::Client).unwrap(), None);
    // A bare `Bearer` means the same, even on a response whose body still shows the client.
    script.push(ok().header("authorization", "tok-3"));
    lk.refresh_client().await.unwrap();
    assert!(lk.current().is_signed_in());
    script.push(ok().header("authorization", "Bearer"));
    lk.refresh_client().await.unwrap();
    assert!(lk.current().is_signed_out());
    assert_eq!(store.load(StoreKey::ClientToken).unwrap(), None);
    script.push(Canned::json(200, json!({"response": null, "client": null})));
    lk.refresh_client().await.unwrap();

    let sent: Vec<Option<String>> = script
        .seen()
        .iter()
        .map(|s| s.header("authorization"))
        .collect();
    let t = |s: &str| Some(s.to_owned());
    assert_eq!(
        sent,
        vec![
            None,
            t("tok-1"),
            t("tok-1"),
            t("tok-2"),
            None,
            t("tok-3"),
            None
        ],
        "each request carried the token the rules left"
    );
}

#[tokio::test]
async fn requests_speak_native_mode_and_errors_keep_the_server_codes() {
    let (url, script) = scripted().await;
    let store = Arc::new(MemoryStore::new());
    let lk = sdk(&url, store.clone());
    lk.ready().await.unwrap();
    script.push(
        Canned::json(
            422,
            json!({"errors": [{"code": "form_password_incorrect", "message": "bad",
                   "long_message": "Password is incorrect.", "meta": {"param_name": "password"}}],
                   "clerk_trace_id": "trace-1"}),
        )
        .header("authorization", "tok-new"),
    );
    let err = lk
        .sign_in_with_password("jane@example.com", "p&ss=word")
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 422);
    assert_eq!(api.code(), Some("form_password_incorrect"));
    assert_eq!(api.param_name(), Some("password"));
    assert_eq!(api.trace_id.as_deref(), Some("trace-1"));
    assert_eq!(api.message(), Some("Password is incorrect."));
    // The client the error answer created is kept.
    assert_eq!(
        store.load(StoreKey::ClientToken).unwrap().as_deref(),
        Some("tok-new")
    );

    let seen = script.seen();
    let r = &seen[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/client/sign_ins")
    );
    assert_eq!(r.query, "_is_native=true");
    assert_eq!(r.header("clerk-api-version").as_deref(), Some("2026-05-12"));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        r.body,
        "identifier=jane%40example.com&password=p%26ss%3Dword"
    );
    assert_eq!(r.header("authorization"), None, "no token yet: no header");
    assert!(r.header("user-agent").unwrap().contains(APP_ID));
    let device = r.header("x-native-device-id").unwrap();
    assert_eq!(Some(device.as_str()), lk.device_id());

    // A second instance on the same store (an app restart) sends the same device id and token.
    script.push(Canned::json(200, json!({"response": null, "client": null})));
    let again = sdk(&url, store);
    again.refresh_client().await.unwrap();
    let r = &script.seen()[1];
    assert_eq!(r.header("x-native-device-id"), Some(device));
    assert_eq!(r.header("authorization").as_deref(), Some("tok-new"));
    assert_eq!(r.method, "GET");
}

#[tokio::test]
async fn retries_honour_retry_after_and_stop_at_long_waits() {
    let (url, script) = scripted().await;
    let lk = sdk(&url, Arc::new(MemoryStore::new()));
    let busy = |status| {
        Canned::json(
            status,
            json!({"errors": [{"code": "too_many_requests", "message": "slow down", "long_message": "slow down"}]}),
        )
    };
    script.push(busy(503).header("retry-after", "0"));
    script.push(busy(429).header("retry-after", "0"));
    script.push(Canned::json(200, json!({"response": null, "client": null})));
    lk.refresh_client().await.unwrap();
    assert_eq!(script.seen().len(), 3, "two retries, then success");

    // A Retry-After beyond the policy's limit: the error at once.
    script.push(busy(429).header("retry-after", "3600"));
    let err = lk.refresh_client().await.unwrap_err();
    assert_eq!(err.code(), Some("too_many_requests"));
    let Error::RateLimited { retry_after, .. } = &err else {
        panic!("a 429 is the typed RateLimited error: {err:?}")
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(3600)));
    assert!(err.to_string().contains("retry after 3600 s"), "{err}");
    assert_eq!(script.seen().len(), 4);

    // A 500 on a request that must not run twice is not retried; on a read it is.
    script.push(Canned::json(
        500,
        json!({"errors": [{"code": "internal_clerk_error", "message": "x", "long_message": "x"}]}),
    ));
    let err = lk
        .sign_in_with_password("a@example.com", "lk-Other-pass-7305")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("internal_clerk_error"));
    assert_eq!(script.seen().len(), 5);
    for _ in 0..3 {
        script.push(Canned {
            status: 502,
            headers: vec![("content-type", "text/html".into())],
            body: "<h1>Bad gateway</h1>".into(),
        });
    }
    let err = lk.refresh_client().await.unwrap_err();
    let Error::Decode { status, body, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 502);
    assert!(body.text().contains("Bad gateway"));
    assert_eq!(script.seen().len(), 8, "a read is retried twice");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (url, script) = scripted().await;
    let lk = sdk(&url, Arc::new(MemoryStore::new()));
    script.push(Canned {
        status: 302,
        headers: vec![("location", format!("{url}/elsewhere"))],
        body: String::new(),
    });
    let err = lk.refresh_client().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(script.seen().len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_offline() {
    // A port held for this test with nothing listening on it: connections are refused.
    let (_reserved, addr) = refusing_addr();
    let url = format!("http://{addr}");
    let lk = sdk(&url, Arc::new(MemoryStore::new()));
    let err = lk.refresh_client().await.unwrap_err();
    assert!(err.is_offline(), "{err:?}");
    let err = lk
        .sign_in_with_password("a@example.com", "lk-Other-pass-7305")
        .await
        .unwrap_err();
    assert!(err.is_offline(), "{err:?}");
}
