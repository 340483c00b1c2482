//! Wire types shared by the Latchkey emulator and SDKs.
//!
//! Everything here is plain data: Clerk's Frontend API (FAPI) and Backend API (BAPI) objects as
//! they travel on the wire (timestamps in milliseconds), the error envelope, the session-token
//! claims and the publishable-key encoding; the vocabulary of statuses, strategies, event types
//! and error codes ([`vocab`]); the Backend API request bodies ([`bapi`]). No I/O.
//!
//! Most applications meet these types through [`latchkey`](https://docs.rs/latchkey) (the
//! client SDK) or [`latchkey-backend`](https://docs.rs/latchkey-backend), which re-export what
//! they hand out. Reach for this crate directly to read a response yourself:
//!
//! ```
//! use latchkey_protocol::{ErrorCode, ErrorEnvelope, SignInStatus};
//!
//! // A refusal: every 4xx carries the envelope; branch on the typed code.
//! let body = r#"{"errors":[{"code":"form_password_incorrect","message":"Password is incorrect.",
//!     "long_message":"Password is incorrect. Try again, or use another method.",
//!     "meta":{"param_name":"password"}}],"clerk_trace_id":"req_1"}"#;
//! let refusal: ErrorEnvelope = serde_json::from_str(body)?;
//! assert_eq!(refusal.errors[0].error_code(), Some(ErrorCode::FormPasswordIncorrect));
//! assert_eq!(refusal.errors[0].param_name(), Some("password"));
//!
//! // Statuses are strings on the wire and enums here.
//! assert_eq!("needs_second_factor".parse::<SignInStatus>().ok(), Some(SignInStatus::NeedsSecondFactor));
//! assert_eq!(SignInStatus::Complete.as_str(), "complete");
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! A publishable key names the Frontend API it belongs to, and a webhook signature is an
//! HMAC any receiver can recompute:
//!
//! ```
//! use latchkey_protocol::{keys, webhooks};
//!
//! let pk = keys::publishable_key_for_host("127.0.0.1:4100");
//! assert_eq!(keys::frontend_api_url(&pk).as_deref(), Some("http://127.0.0.1:4100"));
//!
//! let signature = webhooks::sign(
//!     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // the endpoint's secret
//!     "msg_p5jXN8AQM9LWM0D4loKWxJek",          // svix-id
//!     1614265330,                              // svix-timestamp
//!     br#"{"test": 2432232314}"#,              // the body, byte for byte
//! )?;
//! assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//! # Ok::<(), webhooks::SecretError>(())
//! ```

pub mod bapi;
pub mod claims;
pub mod error;
pub mod keys;
pub mod multipart;
pub mod objects;
pub mod secret;
pub mod vocab;
pub mod webhooks;

pub use claims::SessionClaims;
pub use error::{ClerkError, ErrorEnvelope};
pub use objects::*;
pub use vocab::{
    AnyStrategy, CustomProvider, ErrorCode, EventType, NextAction, SessionStatus,
    SessionVerificationLevel, SessionVerificationStatus, SignInStatus, SignUpStatus, Strategy,
    UnknownName, VerificationStatus,
};

/// The `clerk-api-version` this crate speaks.
pub const API_VERSION: &str = "2026-05-12";
