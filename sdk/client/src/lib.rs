//! Latchkey's native client SDK: sign users up and in from a desktop or terminal app, keep them
//! signed in across restarts through the OS keychain, and hand your backend short-lived session
//! tokens that are refreshed in the background.
//!
//! It speaks Clerk's Frontend API in native mode, so it works against the Latchkey emulator and
//! against the hosted service alike.
//!
//! ```no_run
//! use latchkey::{Latchkey, SignInStatus};
//!
//! # async fn demo() -> Result<(), latchkey::Error> {
//! let lk = Latchkey::builder("com.example.notes")
//!     .publishable_key("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k") // or .frontend_api_url(emulator_url)
//!     .build()?;                                           // the session lives in the OS keychain
//! if lk.ready().await?.is_signed_out() {
//!     let attempt = lk.sign_in_with_password("jane@example.com", "correct horse").await?;
//!     assert_eq!(attempt.status(), SignInStatus::Complete);
//! }
//! let token = lk.session_token().await?;  // fresh for ≥ 10 s; cached; one request for all callers
//! println!("Authorization: Bearer {}", token.expose());
//! # Ok(()) }
//! ```
//!
//! - [`Latchkey::auth_state`] is a `tokio::sync::watch` receiver of [`AuthState`]
//!   (`Loading`, `SignedOut`, `SignedIn { session, user }`), changed only on real transitions.
//! - Flows: [`sign_in`](flows::sign_in) (password, email code, SMS code, password reset),
//!   [`sign_up`](flows::sign_up) (email + password with a code, phone with an SMS code, username),
//!   [`account`](flows::account) (sessions, sign-out, profile, email addresses and phone
//!   numbers, passwords, profile image, sessions on other devices, deletion), and
//!   [`mfa`](flows::mfa) (authenticator-app enrolment with a QR code, backup codes, SMS second
//!   factor); a sign-in that [`NeedsSecondFactor`](SignInStatus::NeedsSecondFactor) continues
//!   with [`SignInAttempt::attempt_totp`] and friends.
//! - Storage: [`SessionStore`] with [`KeyringStore`] (default), [`FileStore`], [`MemoryStore`].
//!   A stored session is bound to the Frontend API it came from: an SDK built for another one
//!   starts signed out, never sends it the old client token, and reports
//!   [`StoreError::OtherFrontendApi`] from [`Latchkey::restore_warning`].
//! - Errors: one [`Error`] enum that keeps the server's codes, offline, transport, decoding,
//!   storage and configuration apart; a locked account is [`Error::Locked`] (with when the lock
//!   lifts) and a rate limit that outlasted the retries (which honour `Retry-After`) is
//!   [`Error::RateLimited`].
//!
//! Every type that holds a credential ([`ClientToken`], [`SessionToken`], stores, forms) hides it
//! from `Debug`; read it with `.expose()`.

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
pub use flows::mfa::{qr_svg, BackupCodes, OneTimeSecret, TotpEnrolment};
pub use flows::reverify::{SessionVerification, SessionVerificationStatus, VerificationLevel};
pub use flows::sign_in::{CodeFactor, SecondFactor, SignInAttempt, SignInStatus};
pub use flows::sign_up::{SignUpAttempt, SignUpForm, SignUpStatus, SignUpStep};
pub use secret::{ClientToken, SessionToken};
pub use session::AuthState;
pub use store::{FileStore, KeyringBackend, KeyringStore, MemoryStore, SessionStore, StoreKey};
pub use tokens::TokenOptions;

/// The wire types the SDK hands out (`Session`, `User`, `Client`, …).
pub use latchkey_protocol as protocol;
