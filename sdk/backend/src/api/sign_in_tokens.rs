//! `/v1/sign_in_tokens`: one-time tickets that sign a user in (`strategy=ticket` on the
//! Frontend API), for magic sign-in links of your own, support tools and end-to-end tests.

use latchkey_protocol::bapi::{CreateSignInToken, SignInToken};
use reqwest::Method;

use super::{ApiError, BackendClient};

/// The sign-in-token endpoints; from [`BackendClient::sign_in_tokens`].
#[derive(Debug, Clone, Copy)]
pub struct SignInTokens<'a> {
    client: &'a BackendClient,
}

impl<'a> SignInTokens<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// `POST /v1/sign_in_tokens`: a pending token for `user_id`, valid for `expires_in_seconds`
    /// (`None`: 30 days). Its `token` (shown only in this answer) is the ticket the user's
    /// client passes as `ticket` with `strategy=ticket`; it works once.
    ///
    /// Errors: `resource_not_found` (404) for an unknown user, `form_param_value_invalid` for a
    /// lifetime under one second.
    pub async fn create(
        &self,
        user_id: &str,
        expires_in_seconds: Option<i64>,
    ) -> Result<SignInToken, ApiError> {
        let body = CreateSignInToken {
            user_id: Some(user_id.to_owned()),
            expires_in_seconds,
            org_id: None,
        };
        self.client
            .send_json(Method::POST, "/v1/sign_in_tokens", &body)
            .await
    }

    /// `POST /v1/sign_in_tokens/{id}/revoke`: a pending token can no longer be used. One
    /// already used or revoked answers `request_invalid_for_status` (400).
    pub async fn revoke(&self, id: &str) -> Result<SignInToken, ApiError> {
        self.client
            .send_json(
                Method::POST,
                &format!("/v1/sign_in_tokens/{}/revoke", super::segment(id)),
                &serde_json::json!({}),
            )
            .await
    }
}
