//! The user-facing flows, each a set of methods on [`Latchkey`](crate::Latchkey) and, where a
//! flow has steps, a type whose status says what comes next.

pub mod account;
pub mod email_link;
pub mod mfa;
pub mod oauth;
pub mod reverify;
pub mod sign_in;
pub mod sign_up;
