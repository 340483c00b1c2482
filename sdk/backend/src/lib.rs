#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
//! Server-side Latchkey: everything a Rust backend needs to trust a signed-in user.
//!
//! - [`Verifier`] checks session tokens (RS256/384/512) against keys fetched from the Backend
//!   API's `/v1/jwks` or the Frontend API's `/.well-known/jwks.json`, or against a PEM public
//!   key with no network at all, and returns typed [`Claims`]. Fetched keys are cached: a token
//!   whose key is cached never waits for the key server (a stale set is refreshed in a spawned
//!   task, one fetch at a time, each with a timeout); only a token naming an unknown `kid` waits,
//!   for at most [`key_wait`](VerifierBuilder::key_wait).
//! - [`axum`] (feature `axum`, on by default): the [`VerifiedSession`](crate::axum::VerifiedSession)
//!   extractor and [`RequireSessionLayer`](crate::axum::RequireSessionLayer).
//! - [`api::BackendClient`]: the Backend API (users, sessions, email addresses, phone numbers,
//!   testing tokens, redirect URLs, JWKS) over the shared `latchkey-protocol` types, with
//!   retries on 429/503.
//! - [`webhooks::WebhookVerifier`]: Svix / Standard Webhooks signatures.
//!
//! It works against Clerk's hosted service and against Latchkey's `auth-emulator` alike. The
//! examples below run as tests against an emulator started in the same process (the
//! `latchkey-emulator` crate); in your server its URL is the emulator's or Clerk's, and the
//! secret key comes from your configuration.
//!
//! # Protecting an axum route
//!
//! The [`VerifiedSession`](crate::axum::VerifiedSession) extractor finds the [`Verifier`] in the
//! router state, answers 401 in Clerk's error envelope for a missing or bad token (503 when the
//! keys cannot be fetched: an outage must not sign users out) and hands the handler the
//! verified claims:
//!
//! ```
//! use axum::{routing::get, Router};
//! use latchkey_backend::{axum::VerifiedSession, JwksSource, Verifier};
//!
//! async fn whoami(session: VerifiedSession) -> String {
//!     session.sub.clone() // the user id, from a token whose signature, expiry and issuer passed
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let (api_url, secret_key) = (emu.url(), emu.secret_key());
//! let verifier = Verifier::builder()
//!     .jwks(JwksSource::Backend { api_url: api_url.into(), secret_key: secret_key.into() })
//!     .issuer(emu.url()) // the Frontend API URL: tokens of other instances are refused
//!     .build()?;
//! let app: Router = Router::new().route("/whoami", get(whoami)).with_state(verifier);
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let addr = listener.local_addr()?;
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! # // A user signs in with the client SDK, as a desktop app would, and calls the route.
//! # let user = latchkey_backend::BackendClient::new(api_url, secret_key)?.users().create(
//! #     &latchkey_backend::api::CreateUser {
//! #         email_address: vec!["jane@example.com".into()],
//! #         password: Some("Doc-example-pass-7394".into()),
//! #         ..Default::default()
//! #     }).await?;
//! # let lk = latchkey::Latchkey::builder("com.example.docs")
//! #     .frontend_api_url(emu.url()).store(latchkey::MemoryStore::new()).build()?;
//! # lk.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//! # let token = lk.session_token().await?;
//! # let http = reqwest::Client::new();
//! # let whoami_url = format!("http://{addr}/whoami");
//!
//! // The app sends `Authorization: Bearer <session token>`:
//! let answer = http.get(&whoami_url).bearer_auth(token.expose()).send().await?;
//! assert_eq!(answer.text().await?, user.id);
//!
//! // Without a token (or with a forged or expired one) the route is not reached.
//! let refused = http.get(&whoami_url).send().await?;
//! assert_eq!(refused.status(), 401);
//! # Ok(()) }
//! ```
//!
//! Outside axum, [`Verifier::verify`] takes the token itself (and [`token_from_headers`] finds
//! it in a request): its [`VerifyError`] says why a token was refused, and
//! [`VerifyError::reason`] gives the reason string `@clerk/backend` uses.
//!
//! # Verifying a webhook
//!
//! Deliveries are signed Svix-style with the endpoint's `whsec_…` secret. Verify the raw body
//! before parsing it, and dedupe on the delivery id: deliveries are at-least-once.
//!
//! ```
//! use axum::{body::Bytes, http::HeaderMap, http::StatusCode, routing::post, Router};
//! use latchkey_backend::WebhookVerifier;
//! use latchkey_protocol::EventType;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let hook_url = format!("http://{}/webhooks", listener.local_addr()?);
//! # let emu = latchkey_emulator::Emulator::builder().webhook_url(&hook_url).start().await?;
//! # let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
//! let verifier = WebhookVerifier::new(emu.webhook_secret())?;
//! let receive = move |headers: HeaderMap, body: Bytes| async move {
//!     match verifier.verify_delivery(&headers, &body) {
//!         Ok(delivery) => {
//!             // `delivery.id` is the same on every retry of one event: dedupe on it.
//!             let _ = events.send(delivery.event);
//!             StatusCode::NO_CONTENT
//!         }
//!         Err(_) => StatusCode::BAD_REQUEST, // forged, altered or too old: do not act on it
//!     }
//! };
//! let app = Router::new().route("/webhooks", post(receive));
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! # let api = latchkey_backend::BackendClient::new(emu.url(), emu.secret_key())?;
//!
//! // Creating a user makes the instance send `user.created`.
//! let user = api.users().create(&latchkey_backend::api::CreateUser {
//!     email_address: vec!["jane@example.com".into()],
//!     skip_password_requirement: Some(true),
//!     ..Default::default()
//! }).await?;
//! let event = received.recv().await.ok_or("no delivery")?;
//! assert_eq!(event.known_type(), Some(EventType::UserCreated));
//! assert_eq!(event.data["id"], user.id.as_str());
//! # Ok(()) }
//! ```
//!
//! # Calling the Backend API
//!
//! [`BackendClient`] authenticates with the secret key and retries 429 and 503 (honouring
//! `Retry-After`). A refusal is [`ApiError::Server`] with the status and Clerk's error codes.
//!
//! ```
//! use latchkey_backend::api::{CreateUser, MetadataUpdate, UserListParams};
//! use latchkey_backend::BackendClient;
//! use latchkey_protocol::ErrorCode;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let (api_url, secret_key) = (emu.url(), emu.secret_key());
//! let api = BackendClient::new(api_url, secret_key)?;
//! let jane = api.users().create(&CreateUser {
//!     email_address: vec!["jane@example.com".into()],
//!     password: Some("Doc-example-pass-7394".into()),
//!     ..Default::default()
//! }).await?;
//!
//! let metadata = json!({"plan": "pro"}).as_object().cloned();
//! let update = MetadataUpdate { public_metadata: metadata, ..Default::default() };
//! let jane = api.users().update_metadata(&jane.id, &update).await?;
//! assert_eq!(jane.public_metadata["plan"], "pro");
//!
//! let params = UserListParams { email_address: vec!["jane@example.com".into()], ..Default::default() };
//! let found = api.users().list(&params).await?;
//! assert_eq!(found[0].id, jane.id);
//!
//! // An email address another user has: 422 with a code to branch on.
//! let again = CreateUser {
//!     email_address: vec!["jane@example.com".into()],
//!     skip_password_requirement: Some(true),
//!     ..Default::default()
//! };
//! let refused = api.users().create(&again).await.unwrap_err();
//! assert_eq!(refused.status(), Some(422));
//! assert_eq!(refused.error_code(), Some(ErrorCode::FormIdentifierExists));
//! # Ok(()) }
//! ```

pub mod api;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod claims;
pub mod clock;
mod jwt;
pub mod keys;
pub mod secret;
pub mod verifier;
pub mod webhooks;

pub use api::{ApiError, BackendClient};
pub use claims::{Actor, Claims, FactorVerificationAge, OrganizationClaim};
pub use clock::{Clock, SystemClock};
pub use keys::{HttpKeySource, JwksSource, KeyError, KeyFetchError, KeySource};
pub use secret::{Password, SecretKey, WebhookSecret};
pub use verifier::{BuildError, Verifier, VerifierBuilder, VerifyError, token_from_headers};
pub use webhooks::{WebhookError, WebhookVerifier};
