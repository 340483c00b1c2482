//! `/v1/testing_tokens`.

use latchkey_protocol::bapi::TestingToken;
use reqwest::Method;

use super::{ApiError, BackendClient};

/// The testing-tokens endpoint; from [`BackendClient::testing_tokens`].
#[derive(Debug, Clone, Copy)]
pub struct TestingTokens<'a> {
    client: &'a BackendClient,
}

impl<'a> TestingTokens<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// `POST /v1/testing_tokens`: a token that lets Frontend API requests carrying it as
    /// `__clerk_testing_token` skip rate limits and bot protection (for end-to-end tests).
    /// `expires_at` is in Unix seconds.
    pub async fn create(&self) -> Result<TestingToken, ApiError> {
        self.client
            .send_json(Method::POST, "/v1/testing_tokens", &serde_json::json!({}))
            .await
    }
}
