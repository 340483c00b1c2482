//! Community Rust Clerk SDKs against a real `auth-emulator` process.
//!
//! `AUTH_EMULATOR_BIN` (required): path of the `auth-emulator` binary. Every test starts its own
//! emulator (`start --ephemeral --port 0 --json`) and kills it when done.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const SECRET_KEY: &str = "sk_test_interop_1234567890";
const PASSWORD: &str = "lk-Test-pass-4921";

/// A running emulator; killed on drop (also when a test panics).
struct Emulator {
    child: Child,
    /// Frontend API URL, also the Backend API origin (`http://127.0.0.1:PORT`).
    url: String,
    publishable_key: String,
    secret_key: String,
}

impl Emulator {
    fn start() -> Self {
        let bin = std::env::var_os("AUTH_EMULATOR_BIN")
            .expect("AUTH_EMULATOR_BIN must name the auth-emulator binary");
        let mut child = Command::new(&bin)
            .args(["start", "--ephemeral", "--port", "0", "--json"])
            .args(["--secret-key", SECRET_KEY])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.to_string_lossy()));

        // First stdout line is the JSON description; keep draining stdout afterwards so the
        // emulator never blocks on a full pipe.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("auth-emulator printed no JSON line within 30 s");
            }
        };
        let info: Value = match serde_json::from_str(&line) {
            Ok(info) => info,
            Err(e) => {
                let _ = child.kill();
                panic!("auth-emulator's first line is not JSON ({e}): {line:?}");
            }
        };
        let field = |name: &str| -> String {
            info[name]
                .as_str()
                .unwrap_or_else(|| panic!("no `{name}` in {info}"))
                .to_owned()
        };
        Self {
            url: field("frontend_api_url"),
            publishable_key: field("publishable_key"),
            secret_key: field("secret_key"),
            child,
        }
    }

    /// Creates a user with an email address and a password through the Backend API.
    async fn create_user(&self, email: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/users", self.url))
            .bearer_auth(&self.secret_key)
            .json(&json!({ "email_address": [email], "password": PASSWORD }))
            .send()
            .await
            .expect("POST /v1/users");
        let status = response.status();
        let body: Value = response.json().await.expect("user JSON");
        assert!(status.is_success(), "POST /v1/users: {status} {body}");
        assert_eq!(body["object"], "user", "{body}");
        body["id"].as_str().expect("user id").to_owned()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Claims of a compact JWS, decoded without verification.
fn jwt_claims(jwt: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {jwt}");
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url payload");
    serde_json::from_slice(&payload).expect("JSON claims")
}

/// `clerk-fapi-rs`: native (non-browser) Frontend API client. Password sign-in, then a session token.
#[tokio::test]
async fn clerk_fapi_rs_password_sign_in_and_session_token() {
    use clerk_fapi_rs::clerk::Clerk;
    use clerk_fapi_rs::configuration::ClerkFapiConfiguration;
    use clerk_fapi_rs::models::client_sign_in::Status;

    let emulator = Emulator::start();
    let email = "fapi-rs@example.com";
    let user_id = emulator.create_user(email).await;

    // The crate derives `https://{host}` from the publishable key; the proxy URL replaces it.
    let config = ClerkFapiConfiguration::new(
        emulator.publishable_key.clone(),
        Some(emulator.url.clone()),
        None,
    )
    .expect("configuration");
    assert_eq!(config.base_url(), emulator.url);
    assert_eq!(config.instance_type(), "development");

    let clerk = Clerk::new(config);
    clerk.load().await.expect("load environment and client");
    assert!(clerk.loaded());
    assert!(
        clerk.get_client_authorization_header().is_some(),
        "GET /v1/client must hand out a client token in `Authorization`"
    );
    assert!(clerk.session().expect("loaded").is_none());

    let sign_in = clerk
        .get_fapi_client()
        .create_sign_in(
            None,
            Some("password"),
            Some(email),
            Some(PASSWORD),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
        .await
        .expect("POST /v1/client/sign_ins");
    assert_eq!(sign_in.status, Status::Complete, "{sign_in:?}");
    let session_id = sign_in
        .created_session_id
        .clone()
        .expect("created_session_id");
    assert!(session_id.starts_with("sess_"), "{session_id}");

    // The piggybacked client made the new session the active one.
    let session = clerk
        .session()
        .expect("loaded")
        .expect("active session after sign-in");
    assert_eq!(session.id, session_id);
    let user = clerk.user().expect("loaded").expect("signed-in user");
    assert_eq!(user.id, user_id);

    let jwt = clerk
        .get_token(None, None)
        .await
        .expect("POST /v1/client/sessions/{id}/tokens")
        .expect("a session token");
    let claims = jwt_claims(&jwt);
    assert_eq!(claims["sub"], user_id.as_str(), "{claims}");
    assert_eq!(claims["sid"], session_id.as_str(), "{claims}");
    assert_eq!(claims["iss"], emulator.url.as_str(), "{claims}");
}

/// `clerk-rs`: Backend API client. List users (`GET /v1/users`).
#[tokio::test]
async fn clerk_rs_list_users() {
    use clerk_rs::apis::configuration::Configuration;
    use clerk_rs::apis::users_api;
    use clerk_rs::Clerk;

    let emulator = Emulator::start();
    let user_id = emulator.create_user("clerk-rs@example.com").await;

    // `base_path` includes the `/v1` prefix (default `https://api.clerk.com/v1`).
    let clerk = Clerk::new(
        Configuration::new(emulator.secret_key.clone())
            .with_base_path(format!("{}/v1", emulator.url)),
    );

    let users = users_api::get_user_list(
        &clerk.config,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    .await
    .expect("GET /v1/users");
    let user = users
        .iter()
        .find(|u| u.id == user_id)
        .unwrap_or_else(|| panic!("{user_id} not in {users:?}"));
    assert_eq!(user.email_addresses.len(), 1);
    assert_eq!(
        user.email_addresses[0].email_address,
        "clerk-rs@example.com"
    );
    assert!(user.password_enabled);
}

/// `clerk-rs`: Backend API client. Fetch the JWKS (`GET /v1/jwks`).
#[tokio::test]
async fn clerk_rs_jwks() {
    use clerk_rs::apis::configuration::Configuration;
    use clerk_rs::apis::jwks_api;
    use clerk_rs::models::JwksKeysInner;
    use clerk_rs::Clerk;

    let emulator = Emulator::start();
    let clerk = Clerk::new(
        Configuration::new(emulator.secret_key.clone())
            .with_base_path(format!("{}/v1", emulator.url)),
    );

    let jwks = jwks_api::get_jwks(&clerk.config)
        .await
        .expect("GET /v1/jwks");
    let keys = jwks.keys.expect("`keys`");
    assert!(!keys.is_empty(), "empty JWKS");
    let rsa = keys
        .iter()
        .find_map(|k| match k {
            JwksKeysInner::JwksRsaPublicKey(k) => Some(k),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no RSA public key in {keys:?}"));
    assert!(!rsa.kid.is_empty());
    assert_eq!(serde_json::to_value(rsa.kty).unwrap(), "RSA");
    assert_eq!(rsa.alg, "RS256");
    assert_eq!(rsa.r#use, "sig");
    assert_eq!(rsa.e, "AQAB");
}
