//! The harness on the test kit (`latchkey-testkit`: the in-process emulator, control, inbox
//! and Backend API calls): an emulator sharing its clock with the SDK, SDK builders, a counting
//! reverse proxy, and a scripted server for transport tests.

use std::collections::VecDeque;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use latchkey::{Latchkey, MemoryStore, RetryPolicy, SessionStore};
use latchkey_emulator::{Clock, EmulatorBuilder};
use latchkey_testkit::Kit;
pub use latchkey_testkit::refusing_addr;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::watch;

pub const APP_ID: &str = "dev.latchkey.tests";
pub const WAIT: Duration = Duration::from_secs(15);

/// The kit's emulator (`emu`, `http`, `bapi`, `control`, `latest_code`, `advance`,
/// `set_settings`, `create_user`), judging time by `clock`, and the URL the SDK talks to.
pub struct Harness {
    pub kit: Kit,
    pub clock: Arc<Clock>,
    /// The URL the SDK talks to: the emulator, or a proxy in front of it.
    pub fapi_url: String,
}

impl Deref for Harness {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.kit
    }
}

/// The kit's builder (in memory, the shared signing key) on `clock`.
pub fn builder(clock: &Arc<Clock>) -> EmulatorBuilder {
    latchkey_testkit::builder().clock(clock.clone())
}

pub async fn start() -> Harness {
    let clock = Arc::new(Clock::system());
    start_from(builder(&clock), clock).await
}

pub async fn start_from(b: EmulatorBuilder, clock: Arc<Clock>) -> Harness {
    let kit = latchkey_testkit::start_from(b).await;
    let fapi_url = kit.url().to_owned();
    Harness {
        kit,
        clock,
        fapi_url,
    }
}

/// An SDK builder for `url`, judging time by `clock`, with quick retries.
pub fn sdk_builder(url: &str, clock: &Arc<Clock>) -> latchkey::Builder {
    let c = clock.clone();
    Latchkey::builder(APP_ID)
        .frontend_api_url(url)
        .time_source(move || c.now_ms())
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(10)),
        )
}

impl Harness {
    /// An SDK with its own memory store.
    pub async fn sdk(&self) -> Latchkey {
        self.sdk_with(Arc::new(MemoryStore::new())).await
    }

    pub async fn sdk_with(&self, store: Arc<dyn SessionStore>) -> Latchkey {
        let lk = sdk_builder(&self.fapi_url, &self.clock)
            .store(store)
            .build()
            .expect("sdk builds");
        lk.ready().await.expect("store readable");
        lk
    }

    pub async fn revoke(&self, session_id: &str) {
        let r = self
            .bapi(
                Method::POST,
                &format!("/v1/sessions/{session_id}/revoke"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "revoked");
    }

    /// Signs `email` up through the SDK with an emailed code; returns the session id.
    pub async fn sign_up(&self, lk: &Latchkey, email: &str, password: &str) -> String {
        let mut su = lk
            .sign_up(
                latchkey::SignUpForm::new()
                    .email_address(email)
                    .password(password),
            )
            .await
            .expect("sign-up starts");
        su.prepare_email_code().await.expect("code sent");
        let code = self.latest_code(email).await;
        let step = su.attempt_email_code(&code).await.expect("code accepted");
        assert_eq!(step, latchkey::SignUpStep::Complete);
        su.created_session_id().expect("session").to_owned()
    }
}

/// A fresh directory (created) under the system's temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = latchkey_testkit::temp_path(&format!("sdk-{name}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The error of a token request for a session the server ended: the server's 401 for the call
/// that found out, `SignedOut` if the background refresher found out first.
#[track_caller]
pub fn assert_session_ended(err: &latchkey::Error) {
    assert!(
        matches!(err, latchkey::Error::SignedOut) || err.code() == Some("authentication_invalid"),
        "{err:?}"
    );
}

/// Waits (event-driven, bounded) until the SDK's state satisfies `f`.
pub async fn wait_state(lk: &Latchkey, f: impl FnMut(&latchkey::AuthState) -> bool) {
    let mut rx = lk.auth_state();
    tokio::time::timeout(WAIT, rx.wait_for(f))
        .await
        .expect("state reached in time")
        .expect("sdk alive");
}

// --- a counting reverse proxy ------------------------------------------------------------------

/// A reverse proxy on 127.0.0.1:0 in front of the emulator that counts `POST …/tokens…`. Its
/// address stays bound for its whole life, so an emulator can be replaced behind it
/// ([`Proxy::set_upstream`]) without anything racing for a port.
pub struct Proxy {
    pub url: String,
    pub token_posts: watch::Receiver<usize>,
    upstream: Arc<Mutex<String>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Proxy {
    /// Forwards to `upstream` from now on.
    pub fn set_upstream(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = upstream.to_owned();
    }
}

#[derive(Clone)]
struct ProxyState {
    upstream: Arc<Mutex<String>>,
    http: reqwest::Client,
    count: Arc<watch::Sender<usize>>,
}

pub async fn proxy(upstream: &str) -> Proxy {
    let (count, token_posts) = watch::channel(0usize);
    let upstream = Arc::new(Mutex::new(upstream.to_owned()));
    let state = ProxyState {
        upstream: upstream.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("proxy client"),
        count: Arc::new(count),
    };
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Proxy {
        url,
        token_posts,
        upstream,
        _stop: stop,
    }
}

async fn forward(State(s): State<ProxyState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if parts.method == axum::http::Method::POST && parts.uri.path().contains("/tokens") {
        s.count.send_modify(|n| *n += 1);
    }
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut headers = parts.headers.clone();
    for h in ["host", "content-length", "connection", "transfer-encoding"] {
        headers.remove(h);
    }
    let base = s.upstream.lock().unwrap().clone();
    let upstream = s
        .http
        .request(parts.method.clone(), format!("{base}{path}"))
        .headers(headers)
        .body(bytes.to_vec())
        .send()
        .await;
    let Ok(res) = upstream else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap_or_default();
    };
    let status = res.status();
    let mut out_headers = res.headers().clone();
    for h in ["content-length", "connection", "transfer-encoding"] {
        out_headers.remove(h);
    }
    let body = res.bytes().await.unwrap_or_default();
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    *out.headers_mut() = out_headers;
    out
}

// --- a scripted server -------------------------------------------------------------------------

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Canned {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// What the scripted server received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
    }
}

#[derive(Default)]
pub struct Script {
    replies: Mutex<VecDeque<Canned>>,
    pub seen: Mutex<Vec<Seen>>,
}

impl Script {
    pub fn push(&self, c: Canned) {
        self.replies.lock().unwrap().push_back(c);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A server on 127.0.0.1:0 that answers every request with the next canned reply.
pub async fn scripted() -> (String, Arc<Script>) {
    let script = Arc::new(Script::default());
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, script)
}

async fn answer(State(script): State<Arc<Script>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    script.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers.clone(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    let canned = script.replies.lock().unwrap().pop_front();
    let Some(c) = canned else {
        return Response::builder()
            .status(StatusCode::NOT_IMPLEMENTED)
            .body(Body::from("script exhausted"))
            .unwrap();
    };
    let mut b = Response::builder().status(c.status);
    for (k, v) in &c.headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(c.body)).unwrap()
}
