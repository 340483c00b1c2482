//! What Latchkey's own tests and benches look at inside an emulator, and nothing more. Behind
//! the `testing` feature, which `latchkey-testkit` turns on; an application never needs it, and
//! nothing here is a stable interface.
//!
//! Tests drive the emulator through its HTTP surfaces; these are the few facts no surface shows
//! (what is stored, what a cleanup removed) and the set-ups a benchmark needs faster than HTTP
//! can make them.

use std::path::Path;

use serde_json::json;

use crate::domain::outbox::Effect;
use crate::store::records::{Message, MessageKind};
use crate::{DomainError, Emulator, KeyError, StoreError};

/// The emulator's RS256 key type, to make keys for [`crate::EmulatorBuilder::signing_key`]
/// (`SigningKey::generate(…)?.to_stored()`) and to sign or publish as the emulator would.
pub use crate::keys::SigningKey;

/// The stored password digest (a PHC string) of a user, if the user exists and has a password.
pub fn password_digest(emu: &Emulator, user_id: &str) -> Result<Option<String>, StoreError> {
    let user = emu.app.store.read(|tx| tx.user(user_id))?;
    Ok(user
        .and_then(|u| u.password_hash)
        .map(|h| h.expose().to_owned()))
}

/// [`password_digest`] in the database of a stopped emulator's data directory.
pub fn password_digest_in(data_dir: &Path, user_id: &str) -> Result<Option<String>, StoreError> {
    let store = crate::store::Store::open(&data_dir.join(crate::DB_FILE))?;
    let user = store.read(|tx| tx.user(user_id))?;
    Ok(user
        .and_then(|u| u.password_hash)
        .map(|h| h.expose().to_owned()))
}

/// Stores an external account (a user's account at an OAuth provider) as a sign-in through the
/// provider would, replacing one with its id: `account` is the stored record's JSON (`id`,
/// `user_id`, `provider`, `provider_user_id`, `email_address`, … `created_at`, `updated_at`;
/// see `store::records::ExternalAccountRecord`).
pub fn save_external_account(emu: &Emulator, account: serde_json::Value) -> Result<(), StoreError> {
    let record: crate::store::records::ExternalAccountRecord = serde_json::from_value(account)
        .map_err(|e| StoreError::Corrupt(format!("external account: {e}")))?;
    emu.app.store.write(|tx| tx.save_external_account(&record))
}

/// Creates a new, empty PostgreSQL database on the server `url` points at and returns its URL
/// (each test's emulator gets a database of its own).
pub fn fresh_postgres_database(url: &str) -> Result<String, StoreError> {
    crate::store::pg::create_database(url)
}

/// Whether a client (`client_…`) is stored.
pub fn client_exists(emu: &Emulator, client_id: &str) -> Result<bool, StoreError> {
    Ok(emu.app.store.read(|tx| tx.client(client_id))?.is_some())
}

/// Whether a sign-in attempt (`sia_…`) is stored.
pub fn sign_in_exists(emu: &Emulator, sign_in_id: &str) -> Result<bool, StoreError> {
    Ok(emu.app.store.read(|tx| tx.sign_in(sign_in_id))?.is_some())
}

/// The emulator's routes over its own state, to serve behind test middleware on another
/// listener (without the accept loop's limits and `_method` override).
pub fn router(emu: &Emulator) -> axum::Router {
    crate::http::router(emu.app.clone())
}

/// The `kid` of the token-signing key (waits for the key on a first start).
pub fn key_id(emu: &Emulator) -> Result<String, KeyError> {
    Ok(emu.app.signing_key.get()?.kid().to_owned())
}

/// How many session tokens the emulator has signed since it started.
pub fn tokens_signed(emu: &Emulator) -> u64 {
    emu.app
        .tokens_signed
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Queues `n` captured-email deliveries (`bench{i}@example.com`, code 123456) in one
/// transaction, as if `n` requests had each sent a verification email.
pub fn queue_message_deliveries(emu: &Emulator, n: usize) -> Result<(), DomainError> {
    let app = &emu.app;
    let settings = app.settings();
    let now = app.clock.now_ms();
    let env = app.env(&settings, now, None, &crate::domain::RequestInfo::NONE);
    app.store.write(|tx| -> Result<(), DomainError> {
        for i in 0..n {
            let id = format!("ema_bench{i}");
            tx.insert_message(&Message {
                id: id.clone(),
                kind: MessageKind::Email,
                to: format!("bench{i}@example.com"),
                subject: Some("s".into()),
                body_text: "123456".into(),
                body_html: None,
                code: Some("123456".into()),
                link: None,
                template: "verification_code".into(),
                created_at: now,
                status: "queued".into(),
                delivered_by_clerk: true,
                delivered_via: None,
            })?;
            crate::domain::outbox::record(
                tx,
                &env,
                &Effect::DeliverMessage { message_id: id },
                now,
            )?;
        }
        Ok(())
    })
}

/// Emits `n` webhook events of `event_type` (data `{"object": "user"}`) in one transaction: a
/// delivery job per event and endpoint.
pub fn queue_webhook_events(
    emu: &Emulator,
    event_type: latchkey_protocol::EventType,
    n: usize,
) -> Result<(), DomainError> {
    let app = &emu.app;
    let settings = app.settings();
    let now = app.clock.now_ms();
    let env = app.env(&settings, now, None, &crate::domain::RequestInfo::NONE);
    app.store.write(|tx| -> Result<(), DomainError> {
        for _ in 0..n {
            crate::domain::events::emit(tx, &env, event_type, json!({"object": "user"}))?;
        }
        Ok(())
    })
}
