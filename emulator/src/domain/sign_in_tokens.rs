//! Sign-in tokens (Backend API `/v1/sign_in_tokens`): a one-time ticket a server hands a user,
//! redeemed on the Frontend API with `strategy=ticket`.
//!
//! Choices [U]: Clerk's tickets are JWTs; no client reads inside one, so the emulator's are
//! opaque random strings, kept only as their SHA-256 (the Backend API answer that creates a
//! token is the only one that shows it). A ticket proves the first factor only: a user with a
//! second factor still has to give it, as every other first factor does. Tokens are not part of
//! `export`, like sessions: they are short-lived credentials, not configuration or users.

use super::{ids, users, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{SignInTokenRecord, SignInTokenStatus, UserWithIdents};
use crate::store::{Read, Tx};

/// Clerk's default lifetime: 30 days.
pub const DEFAULT_EXPIRES_IN_SECS: i64 = 30 * 24 * 3600;
/// Longer than any ticket the emulator issues: refused before it is hashed.
const MAX_TICKET_LEN: usize = 256;

/// A new pending token for `user_id`, valid for `expires_in_secs` (default 30 days). Returns
/// the record and the ticket, which is not stored.
pub fn create(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user_id: &str,
    expires_in_secs: Option<i64>,
) -> Result<(SignInTokenRecord, Secret), DomainError> {
    let secs = expires_in_secs.unwrap_or(DEFAULT_EXPIRES_IN_SECS);
    // The spec's only bound is `minimum: 1`; a huge lifetime saturates to "never".
    if secs < 1 {
        return Err(DomainError::ParamValue {
            param: "expires_in_seconds",
            reason: "must be at least 1".into(),
        });
    }
    if tx.user(user_id)?.is_none() {
        return Err(DomainError::NotFound("user"));
    }
    let ticket = ids::random_base62(64);
    let record = SignInTokenRecord {
        id: ids::new_id("sit"),
        token_hash: ids::token_hash(&ticket),
        user_id: user_id.to_owned(),
        status: SignInTokenStatus::Pending,
        expire_at: env.now.saturating_add(secs.saturating_mul(1000)),
        created_at: env.now,
        updated_at: env.now,
    };
    tx.save_sign_in_token(&record)?;
    Ok((record, Secret::new(ticket)))
}

/// Revokes a pending token (`POST /v1/sign_in_tokens/{id}/revoke`). One already redeemed or
/// revoked cannot be: 400 `request_invalid_for_status`.
pub fn revoke(tx: &Tx<'_>, env: &Env<'_>, id: &str) -> Result<SignInTokenRecord, DomainError> {
    let mut record = tx
        .sign_in_token(id)?
        .ok_or(DomainError::NotFound("sign in token"))?;
    if record.status != SignInTokenStatus::Pending {
        return Err(DomainError::InvalidState(format!(
            "Sign-in token cannot be revoked because its status is {}. Only pending tokens can be revoked.",
            record.status.as_str()
        )));
    }
    record.status = SignInTokenStatus::Revoked;
    record.updated_at = env.now;
    tx.save_sign_in_token(&record)?;
    Ok(record)
}

/// The user a ticket signs in, without redeeming it. Unknown, revoked and used tickets are
/// `ticket_invalid`; expired ones `ticket_expired`; a deleted, banned or locked user fails as
/// any sign-in of theirs would.
pub fn peek<R: Read + ?Sized>(
    tx: &R,
    env: &Env<'_>,
    ticket: &str,
) -> Result<(SignInTokenRecord, UserWithIdents), DomainError> {
    if ticket.is_empty() || ticket.len() > MAX_TICKET_LEN {
        return Err(DomainError::TicketInvalid);
    }
    let record = tx
        .sign_in_token_by_hash(&ids::token_hash(ticket))?
        .ok_or(DomainError::TicketInvalid)?;
    if record.status != SignInTokenStatus::Pending {
        return Err(DomainError::TicketInvalid);
    }
    if env.now >= record.expire_at {
        return Err(DomainError::TicketExpired);
    }
    let user = tx
        .user_with_idents(&record.user_id)?
        .ok_or(DomainError::TicketInvalid)?;
    users::ensure_may_sign_in(&user.user)?;
    Ok((record, user))
}

/// Redeems a ticket: it becomes `accepted` and can never be used again. Returns its user.
pub fn redeem(tx: &Tx<'_>, env: &Env<'_>, ticket: &str) -> Result<UserWithIdents, DomainError> {
    let (mut record, user) = peek(tx, env, ticket)?;
    record.status = SignInTokenStatus::Accepted;
    record.updated_at = env.now;
    tx.save_sign_in_token(&record)?;
    Ok(user)
}
