//! The axum extractor and layer, served for real and called over HTTP.

use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::get;
use axum::{Extension, Json, Router};
use latchkey_backend::axum::{RequireSessionLayer, VerifiedSession};
use latchkey_backend::{JwksSource, Verifier};
use serde_json::{Value, json};

use crate::support::*;

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(s: &AppState) -> Verifier {
        s.verifier.clone()
    }
}

async fn whoami(session: VerifiedSession) -> Json<Value> {
    Json(json!({"sub": session.sub, "sid": session.sid}))
}

async fn maybe(session: Option<VerifiedSession>) -> String {
    session.map_or_else(|| "anonymous".to_owned(), |s| s.sub.clone())
}

async fn guarded(Extension(session): Extension<VerifiedSession>) -> String {
    format!("hello {}", session.sub)
}

fn app(verifier: Verifier) -> Router {
    let guarded = Router::new()
        .route("/guarded", get(guarded))
        .layer(RequireSessionLayer::new(verifier.clone()));
    Router::new()
        .route("/whoami", get(whoami))
        .route("/maybe", get(maybe))
        .with_state(AppState { verifier })
        .merge(guarded)
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

struct Got {
    status: u16,
    body: Value,
    text: String,
    www_authenticate: Option<String>,
    content_type: Option<String>,
}

async fn call(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (www_authenticate, content_type) = (header("www-authenticate"), header("content-type"));
    let text = res.text().await.unwrap();
    Got {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        www_authenticate,
        content_type,
    }
}

/// The Clerk error envelope with this code and reason.
#[track_caller]
fn assert_envelope(got: &Got, status: u16, code: &str, reason: Option<&str>) {
    assert_eq!(got.status, status, "{}", got.text);
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.body["errors"][0]["code"], code, "{}", got.text);
    assert!(got.body["errors"][0]["message"].is_string());
    assert!(got.body["errors"][0]["long_message"].is_string());
    assert_eq!(got.body["errors"][0]["meta"]["reason"].as_str(), reason);
}

#[tokio::test]
async fn the_extractor_takes_a_bearer_token_or_the_session_cookie_and_answers_401_otherwise() {
    let env = start().await;
    env.create_user("axum@example.com").await;
    let s = env.sign_in("axum@example.com").await;
    let url = serve(app(env.verifier().skew(Duration::ZERO).build().unwrap())).await;
    let whoami = format!("{url}/whoami");

    let bearer = call(&whoami, &[("authorization", &format!("Bearer {}", s.jwt))]).await;
    assert_eq!(bearer.status, 200, "{}", bearer.text);
    assert_eq!(bearer.body, json!({"sub": s.user_id, "sid": s.sid}));
    let cookie = call(
        &whoami,
        &[("cookie", &format!("theme=dark; __session={}", s.jwt))],
    )
    .await;
    assert_eq!(cookie.status, 200, "{}", cookie.text);
    assert_eq!(cookie.body["sid"], s.sid);

    let none = call(&whoami, &[]).await;
    assert_envelope(&none, 401, "authentication_invalid", None);
    assert_eq!(none.www_authenticate.as_deref(), Some("Bearer"));

    let garbage = call(&whoami, &[("authorization", "Bearer not.a.token")]).await;
    assert_envelope(
        &garbage,
        401,
        "authentication_invalid",
        Some("token-invalid"),
    );
    assert_eq!(
        garbage.www_authenticate.as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );

    let mut claims = payload(&s.jwt);
    claims["sub"] = json!("user_forged");
    let forged = with_payload(&s.jwt, &claims);
    let tampered = call(&whoami, &[("cookie", &format!("__session={forged}"))]).await;
    assert_envelope(
        &tampered,
        401,
        "authentication_invalid",
        Some("token-invalid-signature"),
    );

    env.advance_secs(61);
    let expired = call(&whoami, &[("authorization", &format!("Bearer {}", s.jwt))]).await;
    assert_envelope(
        &expired,
        401,
        "authentication_invalid",
        Some("token-expired"),
    );
    assert!(!expired.text.contains(&s.jwt), "the token is not echoed");
}

#[tokio::test]
async fn an_optional_session_is_none_without_a_token_but_a_bad_token_is_still_refused() {
    let env = start().await;
    env.create_user("opt@example.com").await;
    let s = env.sign_in("opt@example.com").await;
    let url = serve(app(env.verifier().build().unwrap())).await;
    let maybe = format!("{url}/maybe");
    assert_eq!(call(&maybe, &[]).await.text, "anonymous");
    assert_eq!(
        call(&maybe, &[("authorization", &format!("Bearer {}", s.jwt))])
            .await
            .text,
        s.user_id
    );
    let bad = call(&maybe, &[("authorization", "Bearer x.y.z")]).await;
    assert_envelope(&bad, 401, "authentication_invalid", Some("token-invalid"));
}

#[tokio::test]
async fn the_layer_guards_its_routes_and_hands_the_claims_to_handlers() {
    let env = start().await;
    env.create_user("layer@example.com").await;
    let s = env.sign_in("layer@example.com").await;
    let url = serve(app(env.verifier().build().unwrap())).await;
    let guarded = format!("{url}/guarded");
    let ok = call(&guarded, &[("authorization", &format!("Bearer {}", s.jwt))]).await;
    assert_eq!((ok.status, ok.text), (200, format!("hello {}", s.user_id)));
    assert_envelope(
        &call(&guarded, &[]).await,
        401,
        "authentication_invalid",
        None,
    );
    let other = start_with_own_key().await;
    other.create_user("layer@example.com").await;
    let foreign = other.sign_in("layer@example.com").await;
    let refused = call(
        &guarded,
        &[("authorization", &format!("Bearer {}", foreign.jwt))],
    )
    .await;
    assert_envelope(
        &refused,
        401,
        "authentication_invalid",
        Some("jwk-kid-mismatch"),
    );
}

#[tokio::test]
async fn a_key_server_outage_is_a_503_not_a_sign_out() {
    let env = start().await;
    env.create_user("outage@example.com").await;
    let s = env.sign_in("outage@example.com").await;
    // A port held for this test that nothing listens on: connections are refused.
    let (_reserved, closed) = refusing_addr();
    let verifier = Verifier::builder()
        .jwks(JwksSource::Frontend {
            url: format!("http://{closed}"),
        })
        .clock(env.clock())
        .build()
        .unwrap();
    let url = serve(app(verifier)).await;
    let got = call(
        &format!("{url}/whoami"),
        &[("authorization", &format!("Bearer {}", s.jwt))],
    )
    .await;
    assert_envelope(
        &got,
        503,
        "service_unavailable",
        Some("jwk-remote-failed-to-load"),
    );
}
