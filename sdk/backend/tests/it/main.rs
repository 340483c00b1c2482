//! Integration tests for latchkey-backend against a real in-process emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
#[cfg(feature = "axum")]
mod axum;
mod jwks;
mod support;
mod tokens;
mod webhooks;
