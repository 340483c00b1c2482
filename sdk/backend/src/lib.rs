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
//! - [`api::BackendClient`]: the Backend API (users, sessions, JWKS) over the shared
//!   `latchkey-protocol` types, with retries on 429/5xx.
//! - [`webhooks::WebhookVerifier`]: Svix / Standard Webhooks signatures.
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use latchkey_backend::{JwksSource, Verifier};
//!
//! let verifier = Verifier::builder()
//!     .jwks(JwksSource::Backend {
//!         api_url: "http://127.0.0.1:4100".into(),
//!         secret_key: "sk_test_…".into(),
//!     })
//!     .issuer("http://127.0.0.1:4100")
//!     .build()?;
//! let claims = verifier.verify(token).await?;
//! println!("user {} in session {}", claims.sub, claims.sid);
//! # Ok(()) }
//! ```

pub mod api;
#[cfg(feature = "axum")]
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
pub use verifier::{token_from_headers, BuildError, Verifier, VerifierBuilder, VerifyError};
pub use webhooks::{WebhookError, WebhookVerifier};
