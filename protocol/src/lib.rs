//! Wire types shared by the Latchkey emulator and SDKs.
//!
//! Everything here is plain data: Clerk's Frontend API (FAPI) and Backend API (BAPI) objects as
//! they travel on the wire (timestamps in milliseconds), the error envelope, the session-token
//! claims and the publishable-key encoding. No I/O.

pub mod claims;
pub mod error;
pub mod keys;
pub mod objects;
pub mod webhooks;

pub use claims::SessionClaims;
pub use error::{ClerkError, ErrorEnvelope};
pub use objects::*;

/// The `clerk-api-version` this crate speaks.
pub const API_VERSION: &str = "2026-05-12";
