//! Integration tests for the client SDK against an in-process emulator (and, for the transport,
//! a scripted server). One binary, modules by area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account;
mod binding;
mod email_link;
mod keyring;
mod mfa;
mod oauth;
mod offline;
mod redaction;
mod reverify;
mod rotation;
mod sessions;
mod sign_in;
mod sign_up;
mod store;
mod support;
mod tokens;
