#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
//! Latchkey's native client SDK: sign users up and in from a desktop or terminal app, keep them
//! signed in across restarts through the OS keychain, and hand your backend short-lived session
//! tokens that are refreshed in the background.
//!
//! It speaks Clerk's Frontend API in native mode, so it works against Latchkey's
//! `auth-emulator` and against the hosted service alike. An app is configured with its
//! publishable key and keeps its session in the OS keychain:
//!
//! ```no_run
//! // `no_run`: the default store is the OS keychain, which a test run may not have.
//! use latchkey::Latchkey;
//!
//! # async fn demo() -> Result<(), latchkey::Error> {
//! let lk = Latchkey::builder("com.example.notes")               // names its keychain items
//!     .publishable_key("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k")      // or .frontend_api_url(…)
//!     .build()?;
//! if lk.ready().await?.is_signed_out() {                        // restored, no network call
//!     lk.sign_in_with_password("jane@example.com", "correct horse").await?;
//! }
//! let token = lk.session_token().await?;
//! println!("Authorization: Bearer {}", token.expose());
//! # Ok(()) }
//! ```
//!
//! The examples below run as tests, each against an emulator started in the same process (the
//! `latchkey-emulator` crate) and with a [`MemoryStore`] in place of the keychain; the hidden
//! lines create the user Jane and read emailed codes from the emulator's inbox, which in a real
//! app are the user's to type.
//!
//! # Signing in with a password
//!
//! A sign-in is a [`SignInAttempt`] whose [`status`](SignInAttempt::status) says what it needs
//! next. With a password it usually completes in one call; an account with two-step
//! verification stops at [`NeedsSecondFactor`](SignInStatus::NeedsSecondFactor) and continues
//! with [`SignInAttempt::attempt_totp`] and friends.
//!
//! ```
//! use latchkey::{Error, Latchkey, MemoryStore, SignInStatus};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let jane_id = create_user(&emu, "jane@example.com").await?;
//! let lk = Latchkey::builder("com.example.notes")
//!     .frontend_api_url(emu.url())
//!     .store(MemoryStore::new())
//!     .build()?;
//!
//! // A wrong password is the server's refusal, with a code to branch on and a message to show.
//! match lk.sign_in_with_password("jane@example.com", "not her password").await {
//!     Err(Error::Api(refusal)) => assert_eq!(refusal.code(), Some("form_password_incorrect")),
//!     other => panic!("expected a refusal, got {other:?}"),
//! }
//!
//! let attempt = lk.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//! assert_eq!(attempt.status(), SignInStatus::Complete);
//! assert_eq!(lk.user().map(|u| u.id.clone()), Some(jane_id));
//! # Ok(()) }
//! # async fn create_user(emu: &latchkey_emulator::Emulator, email: &str)
//! #     -> Result<String, Box<dyn std::error::Error>> {
//! #     // The app's backend (or a test) creates Jane through the Backend API.
//! #     let user: serde_json::Value = reqwest::Client::new()
//! #         .post(format!("{}/v1/users", emu.url()))
//! #         .bearer_auth(emu.secret_key())
//! #         .json(&serde_json::json!({"email_address": [email], "password": "Doc-example-pass-7394"}))
//! #         .send().await?.error_for_status()?.json().await?;
//! #     Ok(user["id"].as_str().ok_or("no id")?.to_owned())
//! # }
//! ```
//!
//! # Signing in with an emailed code
//!
//! [`Latchkey::sign_in_with_email_code`] sends the code; the user types it into the app.
//! [`sign_in_with_phone_code`](Latchkey::sign_in_with_phone_code) works the same by SMS.
//!
//! ```
//! use latchkey::{Latchkey, MemoryStore, SignInStatus};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let jane_id = create_user(&emu, "jane@example.com").await?;
//! # let lk = Latchkey::builder("com.example.notes")
//! #     .frontend_api_url(emu.url()).store(MemoryStore::new()).build()?;
//! let mut attempt = lk.sign_in_with_email_code("jane@example.com").await?;
//! assert_eq!(attempt.status(), SignInStatus::NeedsFirstFactor);
//!
//! let code = read_code(&emu, "jane@example.com").await?; // what the user types
//! let status = attempt.attempt_code(&code).await?;
//! assert_eq!(status, SignInStatus::Complete);
//! assert_eq!(lk.current().user().map(|u| u.id.clone()), Some(jane_id));
//! # Ok(()) }
//! # async fn create_user(emu: &latchkey_emulator::Emulator, email: &str)
//! #     -> Result<String, Box<dyn std::error::Error>> {
//! #     // The app's backend (or a test) creates Jane through the Backend API.
//! #     let user: serde_json::Value = reqwest::Client::new()
//! #         .post(format!("{}/v1/users", emu.url()))
//! #         .bearer_auth(emu.secret_key())
//! #         .json(&serde_json::json!({"email_address": [email], "password": "Doc-example-pass-7394"}))
//! #         .send().await?.error_for_status()?.json().await?;
//! #     Ok(user["id"].as_str().ok_or("no id")?.to_owned())
//! # }
//! # async fn read_code(emu: &latchkey_emulator::Emulator, to: &str)
//! #     -> Result<String, Box<dyn std::error::Error>> {
//! #     // The emulator captures every email; its control API hands out the code.
//! #     let url = format!("{}/_emulator/v1/messages/latest?to={to}&wait_ms=5000", emu.url());
//! #     let message: serde_json::Value = reqwest::get(url).await?.error_for_status()?.json().await?;
//! #     Ok(message["code"].as_str().ok_or("no code")?.to_owned())
//! # }
//! ```
//!
//! Sign-ups work the same way: [`Latchkey::sign_up`] with a [`SignUpForm`], then the
//! [`SignUpStep`]s of [`SignUpAttempt::next_step`] (see [`flows::sign_up`]).
//!
//! # A token for an API call
//!
//! Your backend trusts the user through a session token: a JWT that lives 60 seconds.
//! [`Latchkey::session_token`] returns one with at least 10 seconds left, from a cache that a
//! background task refreshes before it expires; any number of concurrent callers share one
//! request. Send it as `Authorization: Bearer …`; the backend verifies it (with
//! `latchkey-backend`'s `Verifier`) and reads the user's id from its `sub` claim.
//!
//! ```
//! use base64::Engine as _;
//! use latchkey::{Latchkey, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let jane_id = create_user(&emu, "jane@example.com").await?;
//! # let lk = Latchkey::builder("com.example.notes")
//! #     .frontend_api_url(emu.url()).store(MemoryStore::new()).build()?;
//! lk.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//!
//! let token = lk.session_token().await?;
//! let again = lk.session_token().await?; // cached: no second request
//! assert_eq!(token.expose(), again.expose());
//!
//! // What the backend will read once it has verified the signature:
//! let payload = token.expose().split('.').nth(1).ok_or("not a JWT")?;
//! let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
//! let claims: serde_json::Value = serde_json::from_slice(&payload)?;
//! assert_eq!(claims["sub"], jane_id.as_str());
//! # Ok(()) }
//! # async fn create_user(emu: &latchkey_emulator::Emulator, email: &str)
//! #     -> Result<String, Box<dyn std::error::Error>> {
//! #     // The app's backend (or a test) creates Jane through the Backend API.
//! #     let user: serde_json::Value = reqwest::Client::new()
//! #         .post(format!("{}/v1/users", emu.url()))
//! #         .bearer_auth(emu.secret_key())
//! #         .json(&serde_json::json!({"email_address": [email], "password": "Doc-example-pass-7394"}))
//! #         .send().await?.error_for_status()?.json().await?;
//! #     Ok(user["id"].as_str().ok_or("no id")?.to_owned())
//! # }
//! ```
//!
//! Signed out, `session_token` is [`Error::SignedOut`]; offline, a still-valid cached token is
//! served, then [`Error::Offline`]; a session revoked elsewhere signs the device out.
//!
//! # Reacting to auth state
//!
//! [`Latchkey::auth_state`] is a `tokio::sync::watch` receiver of [`AuthState`] (`Loading`,
//! `SignedOut`, `SignedIn { session, user }`). It changes only on real transitions (signing in
//! or out, another session becoming active, the profile changing), so an app can redraw on
//! every change:
//!
//! ```
//! use latchkey::{AuthState, Latchkey, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let jane_id = create_user(&emu, "jane@example.com").await?;
//! # let lk = Latchkey::builder("com.example.notes")
//! #     .frontend_api_url(emu.url()).store(MemoryStore::new()).build()?;
//! assert!(lk.ready().await?.is_signed_out()); // nothing stored yet
//! let mut state = lk.auth_state(); // e.g. handed to the UI task, which redraws on each change
//!
//! lk.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//! state.changed().await?;
//! match &*state.borrow_and_update() {
//!     AuthState::SignedIn { user, session } => {
//!         assert_eq!(user.id, jane_id);
//!         assert_eq!(session.status, "active");
//!     }
//!     other => panic!("expected Jane signed in, got {other:?}"),
//! }
//!
//! lk.sign_out().await?;
//! state.changed().await?;
//! assert!(state.borrow().is_signed_out());
//! # Ok(()) }
//! # async fn create_user(emu: &latchkey_emulator::Emulator, email: &str)
//! #     -> Result<String, Box<dyn std::error::Error>> {
//! #     // The app's backend (or a test) creates Jane through the Backend API.
//! #     let user: serde_json::Value = reqwest::Client::new()
//! #         .post(format!("{}/v1/users", emu.url()))
//! #         .bearer_auth(emu.secret_key())
//! #         .json(&serde_json::json!({"email_address": [email], "password": "Doc-example-pass-7394"}))
//! #         .send().await?.error_for_status()?.json().await?;
//! #     Ok(user["id"].as_str().ok_or("no id")?.to_owned())
//! # }
//! ```
//!
//! # Choosing a store
//!
//! The session (the device's client token, its id and the last client snapshot) lives in a
//! [`SessionStore`]:
//!
//! - [`KeyringStore`] (the default): the OS keychain — macOS Keychain, Windows Credential
//!   Manager, the Secret Service on Linux, or the kernel keyring where no Secret Service runs.
//! - [`FileStore`]: one file, 0600 in a 0700 directory, replaced atomically; a symbolic link,
//!   another user's file or one others can read is refused ([`StoreError::InsecureFile`]).
//! - [`MemoryStore`]: nothing survives the process (tests, kiosks).
//! - Your own: implement [`SessionStore`].
//!
//! Whatever the store, a session restored at start is used without a network call, and is
//! bound to the Frontend API it came from: an SDK built for another one starts signed out,
//! never sends it the old client token, and reports [`StoreError::OtherFrontendApi`] from
//! [`Latchkey::restore_warning`]. A corrupt entry means signed out, and is reported there too.
//!
//! ```
//! use latchkey::{FileStore, Latchkey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let jane_id = create_user(&emu, "jane@example.com").await?;
//! # let dir = std::env::temp_dir().join(format!("latchkey-doc-{}", std::process::id()));
//! let session_file = dir.join("session.json");
//! let first_run = Latchkey::builder("com.example.notes")
//!     .frontend_api_url(emu.url())
//!     .store(FileStore::new(&session_file))
//!     .build()?;
//! first_run.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//! drop(first_run);
//!
//! // The next start of the app: Jane is still signed in.
//! let next_run = Latchkey::builder("com.example.notes")
//!     .frontend_api_url(emu.url())
//!     .store(FileStore::new(&session_file))
//!     .build()?;
//! let state = next_run.ready().await?;
//! assert_eq!(state.user().map(|u| u.id.clone()), Some(jane_id));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! # async fn create_user(emu: &latchkey_emulator::Emulator, email: &str)
//! #     -> Result<String, Box<dyn std::error::Error>> {
//! #     // The app's backend (or a test) creates Jane through the Backend API.
//! #     let user: serde_json::Value = reqwest::Client::new()
//! #         .post(format!("{}/v1/users", emu.url()))
//! #         .bearer_auth(emu.secret_key())
//! #         .json(&serde_json::json!({"email_address": [email], "password": "Doc-example-pass-7394"}))
//! #         .send().await?.error_for_status()?.json().await?;
//! #     Ok(user["id"].as_str().ok_or("no id")?.to_owned())
//! # }
//! ```
//!
//! # Errors
//!
//! One [`Error`] enum keeps apart what a caller reacts to differently: the server's refusal
//! ([`Error::Api`], with Clerk's codes), a locked account ([`Error::Locked`], with when the lock
//! lifts), a rate limit that outlasted the retries ([`Error::RateLimited`]; retries honour
//! `Retry-After`), offline ([`Error::Offline`]), transport and decoding failures, the store
//! ([`Error::Store`]), nobody signed in, a flow step out of order, and configuration.
//!
//! # More
//!
//! - [`flows::account`]: sessions, sign-out, profile, email addresses and phone numbers,
//!   passwords, profile image, sessions on other devices, deletion.
//! - [`flows::mfa`]: authenticator-app enrolment with a QR code, backup codes, SMS second
//!   factor; [`flows::reverify`]: proving a factor again before a sensitive action.
//! - Every type that holds a credential ([`ClientToken`], [`SessionToken`], stores, forms)
//!   hides it from `Debug`; read it with `.expose()`.

mod client;
mod config;
mod error;
pub mod flows;
mod secret;
mod session;
pub mod store;
mod tokens;
mod transport;

pub use client::Latchkey;
pub use config::{Builder, RetryPolicy, SystemClock, TimeSource};
pub use error::{ApiError, Cause, Error, RawBody, StoreError};
pub use flows::account::{Activity, Image, SessionActivity, UserUpdate};
pub use flows::email_link::EmailLinkSignIn;
pub use flows::mfa::{BackupCodes, OneTimeSecret, TotpEnrolment, qr_svg};
pub use flows::oauth::{
    BrowserOpener, OAuthFailure, OAuthOutcome, OAuthProvider, PendingOAuth, SystemBrowser,
};
pub use flows::reverify::{SessionVerification, SessionVerificationStatus, VerificationLevel};
pub use flows::sign_in::{CodeFactor, SecondFactor, SignInAttempt, SignInStatus};
pub use flows::sign_up::{SignUpAttempt, SignUpForm, SignUpStatus, SignUpStep};
pub use secret::{ClientToken, SessionToken};
pub use session::AuthState;
pub use store::{FileStore, KeyringBackend, KeyringStore, MemoryStore, SessionStore, StoreKey};
pub use tokens::TokenOptions;

/// The wire types the SDK hands out (`Session`, `User`, `Client`, …).
pub use latchkey_protocol as protocol;
