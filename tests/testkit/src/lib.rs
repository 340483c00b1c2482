//! Latchkey's one test kit: a real emulator in this process on `127.0.0.1:0`, and the calls
//! every crate's tests make to it — the control API, the inbox, the Backend API with the secret
//! key, a native sign-in. The emulator's, the SDKs' and the examples' tests and benches build
//! their own harnesses (OpenAPI validation, SDK builders, proxies) on top of it.
//!
//! ```no_run
//! # async fn demo() {
//! let kit = latchkey_testkit::start().await;
//! kit.create_user("jane@example.com", "lk-Test-pass-4921").await;
//! let signed_in = kit.sign_in("jane@example.com", "lk-Test-pass-4921").await;
//! kit.advance(61).await; // that session token has expired
//! # let _ = signed_in; }
//! ```
//!
//! Every helper asserts what it needs (a 2xx, a JSON body, no 5xx ever) and panics otherwise:
//! it fails the test that called it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

pub use latchkey_emulator::{Clock, Emulator, EmulatorBuilder};
pub use reqwest::Method;
use serde_json::{json, Value};

/// A password every default password rule accepts (length, not on the common-password list):
/// what tests sign up and sign in with. Tests must not use common passwords (`password123`…):
/// the emulator refuses them with `form_password_pwned`, as a new Clerk instance does.
pub const PASSWORD: &str = "lk-Test-pass-4921";

/// How long a helper lets the emulator take for something that should happen at once (a guard
/// against hanging, not a measurement).
const WAIT_MS: u64 = 10_000;
/// `POST /jobs/wait_idle`'s bound: slow runners, and webhook retries that are due.
const IDLE_MS: u64 = 20_000;

/// An RSA signing key (base64 PKCS#8) shared by every emulator [`builder`] makes in this
/// process: generating one per emulator is slow. Tests that need a key (and `kid`) of their
/// own start from `Emulator::builder()` instead.
pub fn signing_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        latchkey_emulator::testing::SigningKey::generate("ins_testkit".into())
            .expect("an RSA key")
            .to_stored()
            .expose()
            .to_owned()
    })
}

/// The variable naming a PostgreSQL server to run the tests' emulators on (a role that may
/// create databases). Unset: SQLite in memory.
pub const DATABASE_URL_VAR: &str = "LATCHKEY_TEST_DATABASE_URL";

/// Which store [`builder`] puts emulators on: `"postgresql"` when [`DATABASE_URL_VAR`] is set,
/// else `"sqlite"`.
pub fn store_kind() -> &'static str {
    if std::env::var_os(DATABASE_URL_VAR).is_some() {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// A fresh instance's store for [`builder`]: a new database of its own on the server
/// [`DATABASE_URL_VAR`] names, or `None` (SQLite in memory) when it is unset.
pub fn fresh_database_url() -> Option<String> {
    let base = std::env::var(DATABASE_URL_VAR).ok()?;
    Some(
        latchkey_emulator::testing::fresh_postgres_database(&base)
            .expect("a fresh PostgreSQL database for the test"),
    )
}

/// An emulator on `127.0.0.1:0` with the [`signing_key`], to configure further: in memory, or
/// in a fresh PostgreSQL database of its own when [`DATABASE_URL_VAR`] is set (so one suite
/// runs against both stores).
pub fn builder() -> EmulatorBuilder {
    let b = Emulator::builder().ephemeral().signing_key(signing_key());
    match fresh_database_url() {
        Some(url) => b.database_url(url),
        None => b,
    }
}

/// [`start_from`] the default [`builder`].
pub async fn start() -> Kit {
    start_from(builder()).await
}

/// Starts the emulator `b` describes. No waiting for a signing key: an emulator without a given
/// key is still generating one when the first request arrives, as in real use.
pub async fn start_from(b: EmulatorBuilder) -> Kit {
    Kit::new(b.start().await.expect("the emulator starts"))
}

/// A running emulator and an HTTP client for it.
pub struct Kit {
    pub emu: Emulator,
    /// Follows no redirects: tests look at them.
    pub http: reqwest::Client,
}

/// A native client signed in with a password, and its first session token (no `Debug`: it
/// holds bearer tokens).
#[derive(Clone)]
pub struct SignedIn {
    pub user_id: String,
    pub sid: String,
    /// The client token, as the `Authorization` header carries it.
    pub client_token: String,
    pub jwt: String,
}

impl Kit {
    pub fn new(emu: Emulator) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Self { emu, http }
    }

    /// Stops the emulator: finishes in-flight requests and background jobs, and waits.
    pub async fn shutdown(self) {
        self.emu.shutdown().await;
    }

    /// The emulator's origin, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        self.emu.url()
    }

    /// A request to `path` (with its query) on the emulator.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.emu.url()))
    }

    /// A Backend API call with the secret key; `body` goes as JSON.
    pub async fn bapi(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .request(method, path)
            .bearer_auth(self.emu.secret_key());
        if let Some(b) = &body {
            req = req.json(b);
        }
        send(req).await
    }

    /// A control API call to `/_emulator/v1{path}`. Every call but a GET carries a JSON body,
    /// `{}` when there is nothing to say: the control API refuses anything else.
    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let body = match (&method, body) {
            (&Method::GET, b) => b,
            (_, None) => Some(json!({})),
            (_, b) => b,
        };
        let mut req = self.request(method, &format!("/_emulator/v1{path}"));
        if let Some(b) = &body {
            req = req.json(b);
        }
        send(req).await
    }

    /// Waits until background jobs (message capture, webhook deliveries, cleanup) are idle.
    pub async fn wait_idle(&self) {
        let r = self
            .control(
                Method::POST,
                "/jobs/wait_idle",
                Some(json!({"timeout_ms": IDLE_MS})),
            )
            .await;
        assert_eq!(r.status, 200, "jobs settle: {}", r.body);
    }

    /// The newest email or SMS to `to`, waiting for it to arrive.
    pub async fn latest_message(&self, to: &str) -> Value {
        let path = format!("/messages/latest?to={}&wait_ms={WAIT_MS}", urlencode(to));
        let r = self.control(Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "a message to {to}: {}", r.body);
        r.body
    }

    /// The code in the newest message to `to`, waiting for it to arrive.
    pub async fn latest_code(&self, to: &str) -> String {
        let m = self.latest_message(to).await;
        m["code"]
            .as_str()
            .unwrap_or_else(|| panic!("the message has a code: {m}"))
            .to_owned()
    }

    /// Moves the emulator's clock forward.
    pub async fn advance(&self, seconds: i64) {
        self.control(
            Method::POST,
            "/time/advance",
            Some(json!({"seconds": seconds})),
        )
        .await
        .ok();
    }

    /// Merges `settings` into the instance's settings.
    pub async fn set_settings(&self, settings: Value) {
        self.control(
            Method::PATCH,
            "/instance",
            Some(json!({"settings": settings})),
        )
        .await
        .ok();
    }

    /// Creates a user with an email address and a password through the Backend API; returns
    /// its JSON.
    pub async fn create_user(&self, email: &str, password: &str) -> Value {
        let r = self
            .bapi(
                Method::POST,
                "/v1/users",
                Some(json!({"email_address": [email], "password": password})),
            )
            .await;
        assert_eq!(r.status, 200, "user created: {}", r.body);
        r.body
    }

    /// A native password sign-in on a new client, then a freshly minted session token.
    pub async fn sign_in(&self, identifier: &str, password: &str) -> SignedIn {
        let r = send(
            self.request(Method::POST, "/v1/client/sign_ins?_is_native=true")
                .form(&[("identifier", identifier), ("password", password)]),
        )
        .await;
        assert_eq!(r.ok()["response"]["status"], "complete", "{}", r.body);
        let client_token = r.authorization.clone().expect("a client token");
        let sid = r.body["response"]["created_session_id"]
            .as_str()
            .expect("a session")
            .to_owned();
        let user_id = r.body["client"]["sessions"][0]["user"]["id"]
            .as_str()
            .expect("a user")
            .to_owned();
        let jwt = self.mint(&client_token, &sid).await;
        SignedIn {
            user_id,
            sid,
            client_token,
            jwt,
        }
    }

    /// A session token for `sid`, minted with a native client token.
    pub async fn mint(&self, client_token: &str, sid: &str) -> String {
        let r = send(
            self.request(
                Method::POST,
                &format!("/v1/client/sessions/{sid}/tokens?_is_native=true"),
            )
            .header("authorization", client_token),
        )
        .await;
        r.ok()["jwt"].as_str().expect("a jwt").to_owned()
    }

    /// A browser's password sign-in, as clerk-js makes it on a development instance (a dev
    /// browser, then the sign-in from the page's `Origin`); returns the session's
    /// `last_active_token`, which the emulator mints with `azp` = the origin.
    pub async fn sign_in_from(&self, identifier: &str, password: &str, origin: &str) -> String {
        let dev_browser = send(
            self.request(Method::POST, "/v1/dev_browser")
                .header("origin", origin),
        )
        .await;
        let db = dev_browser.ok()["id"]
            .as_str()
            .expect("a dev browser")
            .to_owned();
        let r = send(
            self.request(
                Method::POST,
                &format!("/v1/client/sign_ins?__clerk_db_jwt={db}"),
            )
            .header("origin", origin)
            .form(&[("identifier", identifier), ("password", password)]),
        )
        .await;
        r.ok()["client"]["sessions"][0]["last_active_token"]["jwt"]
            .as_str()
            .unwrap_or_else(|| panic!("no last_active_token: {}", r.body))
            .to_owned()
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// The JSON body (`Null` when empty).
    pub body: Value,
    /// The response's `Authorization` header, if any (a native client's next token).
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// A response header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header"))
            .unwrap_or("")
    }

    /// The Clerk error code of an error response ("" for none).
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }

    /// Asserts a 2xx; the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        &self.body
    }

    /// Asserts an error status and code, and that the body is the Clerk error envelope.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status for {code}: {}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        assert!(
            self.body["errors"][0]["message"].is_string(),
            "{}",
            self.body
        );
        assert!(
            self.body["errors"][0]["long_message"].is_string(),
            "{}",
            self.body
        );
        assert!(self.body["clerk_trace_id"].is_string(), "{}", self.body);
    }
}

/// Sends `req` and reads the response. Panics on a transport error, a body that is not JSON,
/// and a 5xx: the emulator never answers one in a test.
pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let res = req.send().await.expect("the request is answered");
    let status = res.status().as_u16();
    let text_header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header").to_owned())
    };
    let authorization = text_header("authorization");
    let content_type = text_header("content-type");
    let headers = res.headers().clone();
    let url = res.url().clone();
    let text = res.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body ({status}): {text}"))
    };
    assert!(status < 500, "server error for {url}: {body}");
    Resp {
        status,
        body,
        authorization,
        content_type,
        headers,
    }
}

/// `s` percent-encoded for a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An address that refuses connections for as long as the returned socket lives: a port bound
/// (without `SO_REUSEADDR`, so nobody else can bind it meanwhile) and never listened on. No
/// probing of a "free" port that someone else could take.
pub fn refusing_addr() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_reuseaddr(false).expect("no SO_REUSEADDR");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("binds");
    let addr = socket.local_addr().expect("its address");
    (socket, addr)
}

/// A path under the system's temp directory that nothing uses yet (`latchkey-{name}-…`, unique
/// within and across test processes); not created.
pub fn temp_path(name: &str) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // RandomState is seeded randomly: another process with a reused pid picks other names.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    std::env::temp_dir().join(format!(
        "latchkey-{name}-{}-{n}-{:08x}",
        std::process::id(),
        h.finish() as u32
    ))
}
