//! `/v1/redirect_urls`: the instance's allowlist of redirect URLs (native apps' custom-scheme
//! callbacks must be on it).

use latchkey_protocol::DeletedObject;
use latchkey_protocol::bapi::{CreateRedirectUrl, RedirectUrl};
use reqwest::Method;

use super::{ApiError, BackendClient};

/// The redirect-URL endpoints; from [`BackendClient::redirect_urls`].
#[derive(Debug, Clone, Copy)]
pub struct RedirectUrls<'a> {
    client: &'a BackendClient,
}

impl<'a> RedirectUrls<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// `GET /v1/redirect_urls`: the whole allowlist, oldest first.
    pub async fn list(&self) -> Result<Vec<RedirectUrl>, ApiError> {
        self.client.get("/v1/redirect_urls", &[]).await
    }

    /// `POST /v1/redirect_urls`: allows `url` (`https://…` or a custom scheme such as
    /// `my-app://callback`).
    pub async fn create(&self, url: &str) -> Result<RedirectUrl, ApiError> {
        let body = CreateRedirectUrl {
            url: Some(url.to_owned()),
        };
        self.client
            .send_json(Method::POST, "/v1/redirect_urls", &body)
            .await
    }

    /// `GET /v1/redirect_urls/{id}`.
    pub async fn get(&self, id: &str) -> Result<RedirectUrl, ApiError> {
        self.client
            .get(&format!("/v1/redirect_urls/{}", super::segment(id)), &[])
            .await
    }

    /// `DELETE /v1/redirect_urls/{id}`: removes the URL from the allowlist.
    pub async fn delete(&self, id: &str) -> Result<DeletedObject, ApiError> {
        self.client
            .request(
                Method::DELETE,
                &format!("/v1/redirect_urls/{}", super::segment(id)),
                &[],
                None,
            )
            .await
    }
}
