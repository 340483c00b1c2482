//! Clients (devices/browsers) and their rotating client tokens.

use super::{ids, DomainError};
use crate::secret::Secret;
use crate::store::records::ClientRecord;
use crate::store::{ReadTx, Tx};

/// What the response's `Authorization` header must say about the client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenHeader {
    /// Echo the presented token: nothing changed.
    Keep,
    /// The client's current token, which the device must store.
    Set(Secret),
    /// The client is gone: send an empty header, the SDK clears its token.
    Clear,
}

/// The client a request acts on, and what to tell it about its token. Changes are written
/// once, by [`ClientCtx::flush`] at the end of the operation, not at each step.
#[derive(Debug)]
pub struct ClientCtx {
    pub record: ClientRecord,
    pub header: TokenHeader,
    /// Changed (or never stored) since it was read.
    dirty: bool,
    /// Made by this request: its token has not left the emulator yet, so rotating it would
    /// replace a token nobody holds.
    fresh: bool,
    /// Reached through a dev browser (browser mode), whose token is the browser's identity and
    /// is never rotated: Clerk's dev browser stays the same across sign-ins and sign-outs (what
    /// rotates in production is the `__client` cookie), and every tab of the browser holds it.
    dev_browser: bool,
}

impl ClientCtx {
    /// Issues a new token for this client. The one it replaces keeps working for
    /// [`REPLACED_TOKEN_GRACE_MS`] (answered with the new one), so a response lost in flight,
    /// or a request that raced the rotation, does not sign the device out; after that it is an
    /// unknown token.
    pub fn rotate(&mut self, now: i64) -> Result<(), DomainError> {
        if !self.fresh && !self.dev_browser {
            let token = new_token();
            self.record.prev_token = Some(std::mem::replace(&mut self.record.token, token.clone()));
            self.record.prev_token_expires_at = Some(now + REPLACED_TOKEN_GRACE_MS);
            self.header = TokenHeader::Set(token);
        }
        self.save(now)
    }

    /// Whether this request made the client (it came with no token, or one that is unknown).
    pub fn is_new(&self) -> bool {
        self.fresh
    }

    /// Bot protection's doubt is settled (or raised): stored with the client, which is not
    /// otherwise changed (its `updated_at` stays).
    pub fn set_captcha_challenged_at(&mut self, at: Option<i64>) {
        if self.record.captcha_challenged_at != at {
            self.record.captcha_challenged_at = at;
            self.dirty = true;
        }
    }

    /// Marks the client changed at `now`; [`ClientCtx::flush`] stores it.
    pub fn save(&mut self, now: i64) -> Result<(), DomainError> {
        self.record.updated_at = now;
        self.dirty = true;
        Ok(())
    }

    /// Stores the client if it changed: once per operation, before its view is made.
    pub fn flush(&mut self, tx: &Tx<'_>) -> Result<(), DomainError> {
        if self.dirty && self.header != TokenHeader::Clear {
            tx.save_client(&self.record)?;
        }
        self.dirty = false;
        Ok(())
    }
}

fn new_token() -> Secret {
    Secret::new(ids::random_base62(48))
}

/// How long (by the emulator clock) a replaced client token is still accepted.
///
/// Choice (the wire notes leave it open): the window is fixed and is not cut short when the
/// device first presents its new token, because requests sent before the rotation can arrive
/// after that one; closing it early would hand such a request a brand-new client and sign the
/// device out.
pub const REPLACED_TOKEN_GRACE_MS: i64 = 60_000;

/// The client a presented token belongs to now: its current token, or the token it replaced
/// within the grace window.
pub fn by_token(
    tx: &ReadTx<'_>,
    token: &str,
    now: i64,
) -> Result<Option<ClientRecord>, DomainError> {
    let Some(record) = tx.client_by_token(token)? else {
        return Ok(None);
    };
    if record.token.matches(token) {
        return Ok(Some(record));
    }
    let replaced_in_grace = record.prev_token.as_ref().is_some_and(|p| p.matches(token))
        && record
            .prev_token_expires_at
            .is_some_and(|until| now < until);
    Ok(replaced_in_grace.then_some(record))
}

/// Finds the client of a presented token. An unknown token (or a replaced one past its grace
/// window) is treated as no token.
pub fn find(
    tx: &Tx<'_>,
    presented: Option<&str>,
    now: i64,
) -> Result<Option<ClientCtx>, DomainError> {
    let Some(token) = presented.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let Some(record) = by_token(tx, token, now)? else {
        return Ok(None);
    };
    // A device still on the replaced token is handed the current one.
    let header = if record.token.matches(token) {
        TokenHeader::Keep
    } else {
        TokenHeader::Set(record.token.clone())
    };
    Ok(Some(ClientCtx {
        record,
        header,
        dirty: false,
        fresh: false,
        dev_browser: false,
    }))
}

/// The client of a browser-mode request: the one its dev browser (`__clerk_db_jwt`) names.
/// None, or an unknown one, is [`DomainError::DevBrowserUnknown`]: unlike a native request, a
/// browser is not handed a new client unasked; it makes a dev browser first
/// ([`new_dev_browser`]), as clerk-js does on that error.
pub fn find_dev_browser(
    tx: &Tx<'_>,
    presented: Option<&str>,
    now: i64,
) -> Result<ClientCtx, DomainError> {
    let mut ctx = find(tx, presented, now)?.ok_or(DomainError::DevBrowserUnknown)?;
    ctx.dev_browser = true;
    Ok(ctx)
}

/// `POST /v1/dev_browser` (and a handshake for a browser with none): a new client for a
/// browser, whose token is the dev browser the browser sends with every request from now on.
pub fn new_dev_browser(tx: &Tx<'_>, now: i64) -> Result<ClientRecord, DomainError> {
    let mut ctx = find_or_create(tx, None, now)?;
    ctx.flush(tx)?;
    Ok(ctx.record)
}

/// Finds the presented client or creates a new one.
pub fn find_or_create(
    tx: &Tx<'_>,
    presented: Option<&str>,
    now: i64,
) -> Result<ClientCtx, DomainError> {
    if let Some(ctx) = find(tx, presented, now)? {
        return Ok(ctx);
    }
    let token = new_token();
    let record = ClientRecord {
        id: ids::new_id("client"),
        token: token.clone(),
        prev_token: None,
        prev_token_expires_at: None,
        sign_in_id: None,
        sign_up_id: None,
        last_active_session_id: None,
        last_authentication_strategy: None,
        created_at: now,
        updated_at: now,
        captcha_challenged_at: None,
    };
    Ok(ClientCtx {
        record,
        header: TokenHeader::Set(token),
        dirty: true,
        fresh: true,
        dev_browser: false,
    })
}

/// A client already known, acted on by a request that proved it may (an OAuth app redeeming
/// its nonce): its token may be rotated and handed back.
pub fn existing(record: ClientRecord) -> ClientCtx {
    ClientCtx {
        record,
        header: TokenHeader::Keep,
        dirty: false,
        fresh: false,
        dev_browser: false,
    }
}

/// A client acted on by a request that is not its own (an email link opened in another
/// browser): its token is never rotated, since the device holding it is not there to be handed
/// a new one.
pub fn elsewhere(record: ClientRecord) -> ClientCtx {
    ClientCtx {
        record,
        header: TokenHeader::Keep,
        dirty: false,
        fresh: true,
        dev_browser: false,
    }
}

/// `DELETE /v1/client`: ends every session and forgets the client; the device is told to drop
/// its token. Returns the client as it was last seen.
pub fn sign_out_and_forget(
    tx: &Tx<'_>,
    env: &super::Env<'_>,
    client: &mut ClientCtx,
) -> Result<latchkey_protocol::Client, DomainError> {
    for mut s in super::sessions::active_of_client(tx, env.now, &client.record.id)? {
        super::sessions::finish(tx, env, &mut s, crate::store::records::SessionStatus::Ended)?;
    }
    client.record.last_active_session_id = None;
    let view = super::views::client_fapi(tx, env, &client.record)?;
    tx.delete_client(&client.record.id)?;
    client.header = TokenHeader::Clear;
    client.dirty = false;
    Ok(view)
}

/// The Backend API's view of the client with `id`.
pub fn get(tx: &ReadTx<'_>, id: &str) -> Result<ClientRecord, DomainError> {
    tx.client(id)?.ok_or(DomainError::NotFound("client"))
}
