//! `/v1/sessions`.

use latchkey_protocol::{Paginated, Session, Token};
use reqwest::Method;

use super::{ApiError, BackendClient, segment};

/// Filters and paging for [`Sessions::list`]; the server wants a `user_id` or a `client_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionListParams {
    /// Only this user's sessions.
    pub user_id: Option<String>,
    /// Only the sessions of this client (device).
    pub client_id: Option<String>,
    /// A [`SessionStatus`](latchkey_protocol::SessionStatus) to filter by, by its wire name
    /// (`SessionStatus::Active.as_str()`, …); kept a string so that statuses newer than
    /// `latchkey-protocol` can be asked for.
    pub status: Option<String>,
    /// At most this many (1–500; server default 10).
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: Option<u32>,
}

impl SessionListParams {
    fn to_query(&self, paginated: bool) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        for (key, value) in [
            ("user_id", &self.user_id),
            ("client_id", &self.client_id),
            ("status", &self.status),
        ] {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                q.push((key, v.clone()));
            }
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        if paginated {
            q.push(("paginated", "true".to_owned()));
        }
        q
    }
}

/// The sessions endpoints; from [`BackendClient::sessions`].
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    client: &'a BackendClient,
}

impl<'a> Sessions<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// `GET /v1/sessions`: one page.
    pub async fn list(&self, params: &SessionListParams) -> Result<Vec<Session>, ApiError> {
        self.client
            .get("/v1/sessions", &params.to_query(false))
            .await
    }

    /// `GET /v1/sessions?paginated=true`: one page and the total count.
    pub async fn list_paginated(
        &self,
        params: &SessionListParams,
    ) -> Result<Paginated<Session>, ApiError> {
        self.client
            .get("/v1/sessions", &params.to_query(true))
            .await
    }

    /// The session with this id, whatever its status; [`ApiError::is_not_found`] when there
    /// is none.
    pub async fn get(&self, session_id: &str) -> Result<Session, ApiError> {
        self.client
            .get(&format!("/v1/sessions/{}", segment(session_id)), &[])
            .await
    }

    /// Ends the session (status `revoked`): its tokens stop being minted, and the user's
    /// devices sign out of it at their next refresh.
    pub async fn revoke(&self, session_id: &str) -> Result<Session, ApiError> {
        self.client
            .send_json(
                Method::POST,
                &format!("/v1/sessions/{}/revoke", segment(session_id)),
                &serde_json::json!({}),
            )
            .await
    }

    /// Mints a session token for an active session, from the named JWT template if given.
    pub async fn token(&self, session_id: &str, template: Option<&str>) -> Result<Token, ApiError> {
        let path = match template {
            None => format!("/v1/sessions/{}/tokens", segment(session_id)),
            Some(t) => format!("/v1/sessions/{}/tokens/{}", segment(session_id), segment(t)),
        };
        self.client
            .send_json(Method::POST, &path, &serde_json::json!({}))
            .await
    }
}
