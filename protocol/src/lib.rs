//! Wire types shared by the Latchkey emulator and SDKs.
//!
//! Everything here is plain data: Clerk's Frontend API (FAPI) and Backend API (BAPI) objects as
//! they travel on the wire (timestamps in milliseconds), the error envelope, the session-token
//! claims and the publishable-key encoding; the vocabulary of statuses, strategies, event types
//! and error codes ([`vocab`]); the Backend API request bodies ([`bapi`]). No I/O.

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
    ErrorCode, EventType, NextAction, SessionStatus, SessionVerificationLevel,
    SessionVerificationStatus, SignInStatus, SignUpStatus, Strategy, UnknownName,
    VerificationStatus,
};

/// The `clerk-api-version` this crate speaks.
pub const API_VERSION: &str = "2026-05-12";
