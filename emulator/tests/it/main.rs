//! Integration tests for the emulator: one binary, modules by surface.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attack;
mod bad_input;
mod bapi;
mod browser;
mod cli;
mod control;
mod crash;
mod email_links;
mod fapi;
mod me;
mod mfa;
mod oauth;
mod process;
mod receiver;
mod redirect_urls;
mod restart;
mod reverify;
mod security;
mod sessions;
mod shared;
mod shutdown;
mod sign_in;
mod sign_in_tokens;
mod sign_up;
mod smtp;
mod support;
mod tokens;
mod transfer;
mod webhooks;
