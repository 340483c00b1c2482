//! The example served for real against an in-process emulator: `/me` with a token from a real
//! sign-in, `/webhooks` with deliveries signed by the test and with the emulator's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum_api::{app, AppState, Config};
use latchkey_emulator::Emulator;
use latchkey_protocol::webhooks::{sign, WebhookEvent};
use latchkey_testkit::{Kit, Method};
use serde_json::{json, Value};

struct Running {
    kit: Kit,
    state: AppState,
    url: String,
}

async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_on(listener, Emulator::builder()).await
}

/// The API on `listener`, against an emulator from `builder` (a cold start: the signing key is
/// still being generated when the first token is minted).
async fn start_on(
    listener: tokio::net::TcpListener,
    builder: latchkey_emulator::EmulatorBuilder,
) -> Running {
    let kit = latchkey_testkit::start_from(builder.ephemeral()).await;
    let emu = &kit.emu;
    let state = AppState::new(&Config {
        api_url: emu.url().to_owned(),
        secret_key: emu.secret_key().into(),
        webhook_secret: emu.webhook_secret().into(),
        issuer: latchkey_protocol::keys::frontend_api_url(emu.publishable_key()),
        authorized_parties: vec![],
    })
    .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Running { kit, state, url }
}

impl Running {
    /// Creates a user through the Backend API, signs in natively, mints a session token.
    async fn sign_in(&self, email: &str) -> (String, String) {
        let user = self
            .kit
            .bapi(
                Method::POST,
                "/v1/users",
                Some(
                    json!({"email_address": [email], "password": "lk-Test-pass-4921",
                    "private_metadata": {"internal": "yes"}}),
                ),
            )
            .await;
        assert_eq!(user.status, 200, "{}", user.body);
        let signed_in = self.kit.sign_in(email, "lk-Test-pass-4921").await;
        (user.body["id"].as_str().unwrap().to_owned(), signed_in.jwt)
    }
}

#[tokio::test]
async fn me_returns_the_signed_in_user_and_401_without_a_session() {
    let r = start().await;
    let (user_id, jwt) = r.sign_in("me@example.com").await;

    let res = r
        .kit
        .http
        .get(format!("{}/me", r.url))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["id"], user_id);
    assert_eq!(me["email_addresses"][0]["email_address"], "me@example.com");
    assert!(
        me.get("private_metadata").is_none(),
        "private metadata stays on the server"
    );

    let cookie = r
        .kit
        .http
        .get(format!("{}/me", r.url))
        .header("cookie", format!("__session={jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), 200);

    let anonymous = r
        .kit
        .http
        .get(format!("{}/me", r.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "authentication_invalid");

    // The user deleted meanwhile: the token is still valid, the user is gone.
    r.kit
        .bapi(Method::DELETE, &format!("/v1/users/{user_id}"), None)
        .await;
    let gone = r
        .kit
        .http
        .get(format!("{}/me", r.url))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn webhooks_are_verified_and_recorded_once() {
    let r = start().await;
    let event = WebhookEvent {
        data: json!({"object": "user", "id": "user_1", "deleted": true}),
        object: "event".into(),
        event_type: "user.deleted".into(),
        timestamp: r.kit.emu.clock().now_ms(),
        instance_id: r.kit.emu.instance_id().to_owned(),
        event_attributes: json!({}),
    };
    let body = serde_json::to_vec(&event).unwrap();
    let now = r.kit.emu.clock().now_secs();
    let deliver = |id: &'static str, sig: String, body: Vec<u8>| {
        r.kit
            .http
            .post(format!("{}/webhooks", r.url))
            .header("svix-id", id)
            .header("svix-timestamp", now.to_string())
            .header("svix-signature", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let sig = sign(r.kit.emu.webhook_secret(), "msg_1", now, &body).unwrap();
    assert_eq!(
        deliver("msg_1", sig.clone(), body.clone())
            .await
            .unwrap()
            .status(),
        204
    );
    // At-least-once delivery: the same message again is accepted and not recorded twice.
    assert_eq!(
        deliver("msg_1", sig.clone(), body.clone())
            .await
            .unwrap()
            .status(),
        204
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let bad = deliver("msg_1", sig, tampered).await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["errors"][0]["code"], "webhook_invalid");

    let recorded = r.state.events.all();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id, "msg_1");
    assert_eq!(recorded[0].event, event);
}

/// The emulator's own deliveries: `POST /webhooks` is registered as its webhook URL, a user is
/// created through the Backend API, and the API verifies and records the real `user.created`;
/// a replay of that delivery (same message id) is accepted and not recorded twice.
#[tokio::test]
async fn real_emulator_deliveries_are_verified_decoded_and_recorded_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/webhooks", listener.local_addr().unwrap());
    let r = start_on(listener, Emulator::builder().webhook_url(&hook)).await;
    let user = r
        .kit
        .bapi(
            Method::POST,
            "/v1/users",
            Some(
                json!({"email_address": ["hooked@example.com"], "password": "lk-Test-pass-4921",
                "first_name": "Hook"}),
            ),
        )
        .await
        .body;
    assert!(user["id"].is_string(), "{user}");
    r.kit.wait_idle().await;

    let created: Vec<_> = r
        .state
        .events
        .all()
        .into_iter()
        .filter(|d| d.event.event_type == "user.created")
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    let d = &created[0];
    assert_eq!(d.event.data["id"], user["id"]);
    assert_eq!(d.event.data["first_name"], "Hook");
    assert_eq!(d.event.instance_id, r.kit.emu.instance_id());

    let deliveries = || async {
        let r = r
            .kit
            .control(
                Method::GET,
                "/webhooks/deliveries?event_type=user.created",
                None,
            )
            .await;
        r.ok().clone()
    };
    let log = deliveries().await;
    let attempt = &log["data"][0];
    assert_eq!(attempt["event_id"], json!(d.id));
    assert_eq!(attempt["status_code"], 204, "{log}");

    // Delivered again (at-least-once): accepted, recorded once.
    let replay = r
        .kit
        .control(
            Method::POST,
            &format!("/webhooks/deliveries/{}/replay", attempt["id"]),
            None,
        )
        .await;
    assert_eq!(replay.status, 200);
    r.kit.wait_idle().await;
    let log = deliveries().await;
    let attempts = log["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{log}");
    assert!(attempts
        .iter()
        .all(|a| a["status_code"] == 204 && a["event_id"] == json!(d.id)));
    let recorded = r.state.events.all();
    assert_eq!(
        recorded.iter().filter(|x| x.id == d.id).count(),
        1,
        "the redelivery is not recorded twice"
    );
}

/// The `axum-api` binary, configured from the environment; killed when dropped.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary with `env` (plus `BIND=127.0.0.1:0`) and reads the address it bound from its
/// "listening on" log line.
async fn serve_binary(env: &[(&str, String)]) -> Served {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_axum-api"));
    for name in [
        "LATCHKEY_PUBLISHABLE_KEY",
        "LATCHKEY_AUTHORIZED_PARTIES",
        "LATCHKEY_API_URL",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .env("BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("axum-api starts");
    let stdout = child.stdout.take().expect("stdout");
    let found = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let url = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let at = line.find("listening on http://")?;
            let rest = &line[at + "listening on ".len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '\x1b')
                .unwrap_or(rest.len());
            Some(rest[..end].to_owned())
        });
        // Keep draining, so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        url
    });
    let url = tokio::time::timeout(std::time::Duration::from_secs(30), found)
        .await
        .expect("axum-api logged its address")
        .unwrap();
    Served {
        child,
        url: url.expect("a listening-on line"),
    }
}

impl Running {
    /// A browser-style sign-in from `origin`: the session's token carries `azp` = origin.
    async fn browser_token(&self, email: &str, origin: &str) -> String {
        self.kit
            .sign_in_from(email, "lk-Test-pass-4921", origin)
            .await
    }
}

/// `LATCHKEY_PUBLISHABLE_KEY` pins the issuer, `LATCHKEY_AUTHORIZED_PARTIES` the browser origins
/// allowed in `azp`, `BIND` the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_is_configured_from_the_environment() {
    let r = start().await;
    let (user_id, native) = r.sign_in("env@example.com").await;
    let allowed = r
        .browser_token("env@example.com", "https://app.example.com")
        .await;
    let other_origin = r
        .browser_token("env@example.com", "https://evil.example")
        .await;
    let base = [
        ("LATCHKEY_API_URL", r.kit.emu.url().to_owned()),
        ("LATCHKEY_SECRET_KEY", r.kit.emu.secret_key().to_owned()),
        (
            "LATCHKEY_WEBHOOK_SECRET",
            r.kit.emu.webhook_secret().to_owned(),
        ),
    ];
    let with = |extra: &[(&'static str, String)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        all
    };
    let me = |url: &str, jwt: &str| {
        r.kit
            .http
            .get(format!("{url}/me"))
            .bearer_auth(jwt.to_owned())
            .send()
    };

    let served = serve_binary(&with(&[
        (
            "LATCHKEY_PUBLISHABLE_KEY",
            r.kit.emu.publishable_key().to_owned(),
        ),
        (
            "LATCHKEY_AUTHORIZED_PARTIES",
            " https://app.example.com , http://localhost:5173,".to_owned(),
        ),
    ]))
    .await;
    assert!(
        served.url.starts_with("http://127.0.0.1:"),
        "{}",
        served.url
    );
    assert_ne!(served.url, "http://127.0.0.1:0");
    let ok = me(&served.url, &native).await.unwrap();
    assert_eq!(ok.status(), 200, "a native token has no azp");
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["id"], json!(user_id));
    assert_eq!(me(&served.url, &allowed).await.unwrap().status(), 200);
    let refused = me(&served.url, &other_origin).await.unwrap();
    assert_eq!(
        refused.status(),
        401,
        "azp outside LATCHKEY_AUTHORIZED_PARTIES"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "authentication_invalid");
    drop(served);

    // Another instance's publishable key: this emulator's tokens have the wrong issuer.
    let served = serve_binary(&with(&[(
        "LATCHKEY_PUBLISHABLE_KEY",
        latchkey_protocol::keys::publishable_key_for_host("clerk.other.example"),
    )]))
    .await;
    assert_eq!(me(&served.url, &native).await.unwrap().status(), 401);
    drop(served);

    // Neither set: any issuer-valid token from any origin.
    let served = serve_binary(&base).await;
    assert_eq!(me(&served.url, &other_origin).await.unwrap().status(), 200);
}

#[tokio::test]
async fn allowed_origins_get_cors_answers_and_others_do_not() {
    let kit = latchkey_testkit::start().await;
    let emu = &kit.emu;
    let state = AppState::new(&Config {
        api_url: emu.url().to_owned(),
        secret_key: emu.secret_key().into(),
        webhook_secret: emu.webhook_secret().into(),
        issuer: None,
        authorized_parties: vec![],
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum_api::allow_origins(app(state), vec!["tauri://localhost".into()]);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = kit.http.clone();

    // The preflight a webview sends before a GET with an Authorization header.
    let pre = http
        .request(Method::OPTIONS, format!("{url}/me"))
        .header("origin", "tauri://localhost")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], "tauri://localhost");
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert!(h.get("access-control-allow-credentials").is_none());

    // The real request: the API's own answer (401 without a token), readable by the page.
    let res = http
        .get(format!("{url}/me"))
        .header("origin", "tauri://localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "tauri://localhost"
    );

    // Another origin: no CORS headers, and its preflight is not answered as allowed.
    let other = http
        .request(Method::OPTIONS, format!("{url}/me"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_ne!(other.status(), 204);
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
