//! The harness on the test kit (`latchkey-testkit`: the in-process emulator with a shared
//! signing key, control calls, a native sign-in): the Backend API through the SDK's own client,
//! a signer holding the emulator's private key (for tokens the emulator would never mint), a key
//! source that counts fetches, and a proxy that can fail.

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use latchkey_backend::api::CreateUser;
use latchkey_backend::keys::KeyFuture;
use latchkey_backend::{BackendClient, HttpKeySource, JwksSource, KeySource, VerifierBuilder};
use latchkey_emulator::Emulator;
use latchkey_protocol::User;
use latchkey_testkit::Kit;
pub use latchkey_testkit::{SignedIn, builder, refusing_addr};
use ring::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RsaKeyPair};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::watch;

pub const PASSWORD: &str = "lk-Test-pass-4921";

/// The kit's emulator (`emu`, `http`, `control`, `wait_idle`, `latest_code`, `mint`), and the
/// SDK's own Backend API client for it.
pub struct Env {
    pub kit: Kit,
    pub bapi: BackendClient,
}

impl Deref for Env {
    type Target = Kit;

    fn deref(&self) -> &Kit {
        &self.kit
    }
}

/// An emulator with the kit's shared signing key.
pub async fn start() -> Env {
    start_from(builder()).await
}

/// An emulator with a key (and so a `kid`) of its own.
pub async fn start_with_own_key() -> Env {
    start_from(Emulator::builder().ephemeral()).await
}

pub async fn start_from(b: latchkey_emulator::EmulatorBuilder) -> Env {
    let kit = latchkey_testkit::start_from(b).await;
    let bapi = BackendClient::new(kit.url(), kit.emu.secret_key()).expect("client");
    Env { kit, bapi }
}

impl Env {
    /// The emulator's clock, as a clock for the SDK.
    pub fn clock(&self) -> impl latchkey_backend::Clock + Clone + use<> {
        let clock = self.emu.clock().clone();
        move || clock.now_ms()
    }

    pub fn now_secs(&self) -> i64 {
        self.emu.clock().now_secs()
    }

    pub fn advance_secs(&self, secs: i64) {
        self.emu.clock().advance_ms(secs * 1000);
    }

    pub fn kid(&self) -> String {
        latchkey_emulator::testing::key_id(&self.emu).expect("key")
    }

    /// The PEM of the emulator's token-signing public key.
    pub fn pem(&self) -> String {
        self.emu.public_key_pem().expect("pem")
    }

    pub fn frontend(&self) -> JwksSource {
        JwksSource::Frontend {
            url: self.emu.url().to_owned(),
        }
    }

    pub fn backend(&self) -> JwksSource {
        JwksSource::Backend {
            api_url: self.emu.url().to_owned(),
            secret_key: self.emu.secret_key().into(),
        }
    }

    /// A verifier of the emulator's tokens at the emulator's time, keys from the Frontend API.
    pub fn verifier(&self) -> VerifierBuilder {
        latchkey_backend::Verifier::builder()
            .jwks(self.frontend())
            .clock(self.clock())
    }

    /// The same keys, counting every fetch.
    pub fn counting_verifier(&self) -> (VerifierBuilder, Arc<AtomicUsize>) {
        let source = CountingSource::new(self.frontend());
        let count = source.count.clone();
        let b = latchkey_backend::Verifier::builder()
            .key_source(source)
            .issuer(self.emu.url())
            .clock(self.clock());
        (b, count)
    }

    /// Creates a user (password [`PASSWORD`]) through the SDK's own Backend API client.
    pub async fn create_user(&self, email: &str) -> User {
        self.bapi
            .users()
            .create(&CreateUser {
                email_address: vec![email.to_owned()],
                password: Some(PASSWORD.into()),
                ..Default::default()
            })
            .await
            .expect("user created")
    }

    /// The kit's native sign-in with [`PASSWORD`].
    pub async fn sign_in(&self, email: &str) -> SignedIn {
        self.kit.sign_in(email, PASSWORD).await
    }

    /// The kit's browser-style sign-in with [`PASSWORD`]: the `last_active_token`, `azp` =
    /// `origin`.
    pub async fn sign_in_from(&self, email: &str, origin: &str) -> String {
        self.kit.sign_in_from(email, PASSWORD, origin).await
    }

    /// Signs with the emulator's own private key (the kit's shared one).
    pub fn signer(&self) -> Signer {
        let der = STANDARD
            .decode(latchkey_testkit::signing_key())
            .expect("pkcs8");
        Signer {
            pair: RsaKeyPair::from_pkcs8(&der).expect("key pair"),
            kid: self.kid(),
        }
    }

    /// Claims the emulator would put in a fresh session token.
    pub fn claims(&self, sub: &str, sid: &str) -> Value {
        let now = self.now_secs();
        json!({
            "iss": self.emu.url(), "sub": sub, "sid": sid, "iat": now, "nbf": now - 10,
            "exp": now + 60, "v": 2, "fva": [0, -1],
        })
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_json(v: &Value) -> String {
    b64(serde_json::to_vec(v).unwrap())
}

/// Replaces a token's payload, keeping its header and signature.
pub fn with_payload(token: &str, payload: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64_json(payload), parts[2])
}

/// A token's payload, decoded without verification.
pub fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// An HS256 token keyed with `key` (the algorithm-confusion attack when `key` is a public key).
pub fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(mac.finalize().into_bytes()))
}

pub struct Signer {
    pair: RsaKeyPair,
    pub kid: String,
}

impl Signer {
    /// An RS256/384/512 token with this header (the `alg` is set from `alg`).
    pub fn sign_with(&self, alg: &str, mut header: Value, claims: &Value) -> String {
        header["alg"] = json!(alg);
        let input = format!("{}.{}", b64_json(&header), b64_json(claims));
        let params = match alg {
            "RS256" => &RSA_PKCS1_SHA256,
            "RS384" => &RSA_PKCS1_SHA384,
            "RS512" => &RSA_PKCS1_SHA512,
            other => panic!("cannot sign {other}"),
        };
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                params,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", b64(sig))
    }

    /// RS256 with the emulator's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with("RS256", json!({"kid": self.kid, "typ": "JWT"}), claims)
    }
}

/// The real HTTP key source, counting fetches as they start (`count`) and as they end
/// (`finished`, to wait for a refresh running in the background).
pub struct CountingSource {
    inner: HttpKeySource,
    pub count: Arc<AtomicUsize>,
    finished_tx: Arc<watch::Sender<usize>>,
    pub finished: watch::Receiver<usize>,
}

impl CountingSource {
    pub fn new(source: JwksSource) -> Self {
        let (finished_tx, finished) = watch::channel(0);
        Self {
            inner: HttpKeySource::new(source).unwrap(),
            count: Arc::new(AtomicUsize::new(0)),
            finished_tx: Arc::new(finished_tx),
            finished,
        }
    }
}

impl KeySource for CountingSource {
    fn fetch(&self) -> KeyFuture<'_> {
        self.count.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let result = self.inner.fetch().await;
            self.finished_tx.send_modify(|n| *n += 1);
            result
        })
    }
}

/// Waits (event-driven, bounded) until `n` fetches have finished.
pub async fn fetches_finished(finished: &mut watch::Receiver<usize>, n: usize) {
    tokio::time::timeout(WAIT, finished.wait_for(|done| *done >= n))
        .await
        .expect("the fetch finished in time")
        .expect("source alive");
}

/// How long a test waits for something that should happen at once (a guard against hanging,
/// not a measurement).
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A JWKS endpoint on 127.0.0.1:0 that answers the first `answers` requests with `jwks` and then
/// accepts every further connection and holds it open without sending a byte: a key server that
/// hangs.
pub struct HangingJwks {
    pub url: String,
    /// Connections accepted so far.
    pub connections: watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HangingJwks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HangingJwks {
    pub async fn start(jwks: &str, answers: usize) -> HangingJwks {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, connections) = watch::channel(0usize);
        let body = jwks.to_owned();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tx.send_modify(|n| *n += 1);
                if *tx.borrow() > answers {
                    // Hold it: never read, never answer, never close.
                    held.push(socket);
                    continue;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = answer_once(&mut socket, response.as_bytes()).await;
                // Dropped: closed.
            }
        });
        HangingJwks {
            url,
            connections,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        *self.connections.borrow()
    }

    /// Waits (event-driven, bounded) until `n` connections have been accepted.
    pub async fn wait_accepted(&mut self, n: usize) {
        tokio::time::timeout(WAIT, self.connections.wait_for(|c| *c >= n))
            .await
            .expect("the key server was asked in time")
            .expect("server alive");
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
}

/// A status to answer with, and its `Retry-After`.
pub type Failure = (u16, Option<&'static str>);

/// A proxy in front of the emulator that first answers with queued failures.
#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    failures: Arc<Mutex<VecDeque<Failure>>>,
    upstream: String,
    http: reqwest::Client,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            url: format!("http://{}", listener.local_addr().unwrap()),
            seen: Arc::default(),
            failures: Arc::default(),
            upstream: upstream.to_owned(),
            http: reqwest::Client::new(),
        };
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        proxy
    }

    /// The next requests get this status (and `Retry-After`), in order.
    pub fn fail_next(&self, failures: &[Failure]) {
        self.failures
            .lock()
            .unwrap()
            .extend(failures.iter().copied());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    p.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        headers: parts.headers.clone(),
    });
    let failure = p.failures.lock().unwrap().pop_front();
    if let Some((status, retry_after)) = failure {
        let body = json!({"errors": [{"code": "too_many_requests", "message": "slow down",
            "long_message": "Injected by the test proxy."}], "clerk_trace_id": "t"});
        let mut res = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
        if let Some(ra) = retry_after {
            res.headers_mut()
                .insert("retry-after", HeaderValue::from_static(ra));
        }
        return res;
    }
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut up = p
        .http
        .request(parts.method.clone(), format!("{}{path}", p.upstream))
        .body(bytes);
    for name in ["authorization", "content-type"] {
        if let Some(v) = parts.headers.get(name) {
            up = up.header(name, v.clone());
        }
    }
    let res = up.send().await.unwrap();
    let status = res.status();
    let ct = res.headers().get("content-type").cloned();
    let body = res.bytes().await.unwrap();
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    if let Some(ct) = ct {
        out.headers_mut().insert("content-type", ct);
    }
    out
}

/// Reads one request head, then writes `response` (plain tokio `net`, no `io-util`).
async fn answer_once(socket: &mut tokio::net::TcpStream, response: &[u8]) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        socket.readable().await?;
        match socket.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    let mut rest = response;
    while !rest.is_empty() {
        socket.writable().await?;
        match socket.try_write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
