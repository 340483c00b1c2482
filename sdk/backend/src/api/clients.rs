//! `/v1/clients…`: what the Backend API says about Frontend API clients (browsers, devices).

use latchkey_protocol::bapi::HandshakePayload;

use super::{ApiError, BackendClient};

/// The client endpoints; from [`BackendClient::clients`].
#[derive(Debug, Clone, Copy)]
pub struct Clients<'a> {
    client: &'a BackendClient,
}

impl<'a> Clients<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// `GET /v1/clients/handshake_payload?nonce=`: the cookies to set for a browser back from
    /// the Frontend API's handshake with `__clerk_handshake_nonce=<nonce>` (what
    /// `@clerk/backend`'s `authenticateRequest` does with it). A nonce works once, for a few
    /// minutes; an unknown, used or expired one answers `resource_not_found` (404).
    pub async fn handshake_payload(&self, nonce: &str) -> Result<HandshakePayload, ApiError> {
        self.client
            .get(
                "/v1/clients/handshake_payload",
                &[("nonce", nonce.to_owned())],
            )
            .await
    }
}
