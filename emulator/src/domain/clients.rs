//! Clients (devices/browsers) and their rotating client tokens.

use sha2::{Digest, Sha256};

use super::model::ClientRecord;
use super::{ids, DomainError};
use crate::store::Tx;

/// What the response's `Authorization` header must say about the client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenHeader {
    /// Echo the presented token: nothing changed.
    Keep,
    /// A new token: the client must store it.
    Set(crate::secret::Secret),
    /// The client is gone: send an empty header, the SDK clears its token.
    Clear,
}

/// The client a request acts on, and what to tell it about its token.
#[derive(Debug)]
pub struct ClientCtx {
    pub record: ClientRecord,
    pub header: TokenHeader,
}

impl ClientCtx {
    /// Issues a new token for this client; the one presented keeps working until the next
    /// rotation, so a response lost in flight does not sign the device out.
    pub fn rotate(&mut self, tx: &Tx<'_>, now: i64) -> Result<(), DomainError> {
        let token = new_token();
        self.record.prev_token_hash = Some(std::mem::replace(
            &mut self.record.token_hash,
            hash_token(token.expose()),
        ));
        self.record.updated_at = now;
        tx.save_client(&self.record)?;
        self.header = TokenHeader::Set(token);
        Ok(())
    }

    pub fn save(&mut self, tx: &Tx<'_>, now: i64) -> Result<(), DomainError> {
        self.record.updated_at = now;
        tx.save_client(&self.record)?;
        Ok(())
    }
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> crate::secret::Secret {
    crate::secret::Secret::new(ids::random_base62(48))
}

/// Finds the client of a presented token. An unknown token is treated as no token.
pub fn find(tx: &Tx<'_>, presented: Option<&str>) -> Result<Option<ClientCtx>, DomainError> {
    let Some(token) = presented.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let hash = hash_token(token);
    let Some(record) = tx.client_by_token_hash(&hash)? else {
        return Ok(None);
    };
    let mut ctx = ClientCtx {
        record,
        header: TokenHeader::Keep,
    };
    if ctx.record.token_hash != hash {
        // The device presented the token from before the last rotation: it never received the
        // newer one. Issue a fresh token (we keep only hashes) and keep accepting the old one.
        let token = new_token();
        ctx.record.token_hash = hash_token(token.expose());
        tx.save_client(&ctx.record)?;
        ctx.header = TokenHeader::Set(token);
    }
    Ok(Some(ctx))
}

/// Finds the presented client or creates a new one.
pub fn find_or_create(
    tx: &Tx<'_>,
    presented: Option<&str>,
    now: i64,
) -> Result<ClientCtx, DomainError> {
    if let Some(ctx) = find(tx, presented)? {
        return Ok(ctx);
    }
    let token = new_token();
    let record = ClientRecord {
        id: ids::new_id("client"),
        token_hash: hash_token(token.expose()),
        prev_token_hash: None,
        sign_in_id: None,
        sign_up_id: None,
        last_active_session_id: None,
        last_authentication_strategy: None,
        created_at: now,
        updated_at: now,
    };
    tx.save_client(&record)?;
    Ok(ClientCtx {
        record,
        header: TokenHeader::Set(token),
    })
}
