//! `/v1/users`.

pub use latchkey_protocol::bapi::{CreateUser, MetadataUpdate, OAuthAccessToken, UpdateUser};
use latchkey_protocol::bapi::{PasswordVerified, VerifyPassword, VerifyTotp};
pub use latchkey_protocol::bapi::{TotpVerified, UserIdObject};
pub use latchkey_protocol::secret::OneTimeCode;
use latchkey_protocol::{DeletedObject, ErrorCode, TotalCount, User};
use reqwest::Method;

use super::{ApiError, BackendClient, segment};
use crate::secret::Password;

/// Filters and paging for [`Users::list`] and [`Users::count`]. Each list filter matches any of
/// its values; empty filters are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserListParams {
    /// Users with any of these email addresses.
    pub email_address: Vec<String>,
    /// Users with any of these phone numbers (E.164).
    pub phone_number: Vec<String>,
    /// Users with any of these usernames.
    pub username: Vec<String>,
    /// Users with any of these ids.
    pub user_id: Vec<String>,
    /// Users with any of these external ids.
    pub external_id: Vec<String>,
    /// Free-text search over ids, names, email addresses, phone numbers and usernames.
    pub query: Option<String>,
    /// `created_at`, `updated_at`, `last_sign_in_at`, … with `+` (ascending) or `-`
    /// (descending, the default) in front.
    pub order_by: Option<String>,
    /// 1–500 (server default 10).
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: Option<u32>,
}

impl UserListParams {
    fn filters(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        for (key, values) in [
            ("email_address", &self.email_address),
            ("phone_number", &self.phone_number),
            ("username", &self.username),
            ("user_id", &self.user_id),
            ("external_id", &self.external_id),
        ] {
            q.extend(
                values
                    .iter()
                    .filter(|v| !v.is_empty())
                    .map(|v| (key, v.clone())),
            );
        }
        if let Some(s) = self.query.as_ref().filter(|s| !s.is_empty()) {
            q.push(("query", s.clone()));
        }
        q
    }

    fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut q = self.filters();
        if let Some(o) = self.order_by.as_ref().filter(|s| !s.is_empty()) {
            q.push(("order_by", o.clone()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        q
    }
}

/// The users endpoints; from [`BackendClient::users`].
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    client: &'a BackendClient,
}

impl<'a> Users<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// `GET /v1/users`: one page, newest first unless `order_by` says otherwise.
    pub async fn list(&self, params: &UserListParams) -> Result<Vec<User>, ApiError> {
        self.client.get("/v1/users", &params.to_query()).await
    }

    /// `GET /v1/users/count`: how many users match the filters (paging is ignored).
    pub async fn count(&self, params: &UserListParams) -> Result<i64, ApiError> {
        let count: TotalCount = self
            .client
            .get("/v1/users/count", &params.filters())
            .await?;
        Ok(count.total_count)
    }

    /// The user with this id; [`ApiError::is_not_found`] when there is none.
    pub async fn get(&self, user_id: &str) -> Result<User, ApiError> {
        self.client
            .get(&format!("/v1/users/{}", segment(user_id)), &[])
            .await
    }

    /// The user's access tokens at an OAuth provider (`oauth_google`, …), one per account the
    /// user has there (none: an empty list), to call the provider's API on the user's behalf.
    /// [`ApiError::is_not_found`] for an unknown user; `form_param_value_invalid` for a
    /// provider the server does not know.
    pub async fn oauth_access_tokens(
        &self,
        user_id: &str,
        provider: &str,
    ) -> Result<Vec<OAuthAccessToken>, ApiError> {
        self.client
            .get(
                &format!(
                    "/v1/users/{}/oauth_access_tokens/{}",
                    segment(user_id),
                    segment(provider)
                ),
                &[],
            )
            .await
    }

    /// Creates a user (its identifiers verified). Refusals are 422 with the field in
    /// [`ClerkError::param_name`](latchkey_protocol::ClerkError::param_name): an identifier
    /// another user has (`form_identifier_exists`), a password the policy refuses
    /// (`form_password_pwned`, `form_password_length_too_short`, …).
    pub async fn create(&self, user: &CreateUser) -> Result<User, ApiError> {
        self.client.send_json(Method::POST, "/v1/users", user).await
    }

    /// Changes the fields of `update` that are `Some`; metadata given here replaces the old
    /// whole (merge with [`update_metadata`](Self::update_metadata)). Refused like
    /// [`create`](Self::create); [`ApiError::is_not_found`] for an unknown user.
    pub async fn update(&self, user_id: &str, update: &UpdateUser) -> Result<User, ApiError> {
        self.client
            .send_json(
                Method::PATCH,
                &format!("/v1/users/{}", segment(user_id)),
                update,
            )
            .await
    }

    /// Deep-merges `metadata` into the user's (`PATCH /v1/users/{id}/metadata`): a `null`
    /// value removes its key, other keys stay.
    pub async fn update_metadata(
        &self,
        user_id: &str,
        metadata: &MetadataUpdate,
    ) -> Result<User, ApiError> {
        self.client
            .send_json(
                Method::PATCH,
                &format!("/v1/users/{}/metadata", segment(user_id)),
                metadata,
            )
            .await
    }

    /// `POST /v1/users/{id}/verify_password`: whether `password` is the user's password.
    /// `Ok(false)` when the server says it is not (422 `form_password_incorrect`); other
    /// failures (no such user, no password set) are errors.
    pub async fn verify_password(
        &self,
        user_id: &str,
        password: &Password,
    ) -> Result<bool, ApiError> {
        let sent = self
            .client
            .send_json::<PasswordVerified>(
                Method::POST,
                &format!("/v1/users/{}/verify_password", segment(user_id)),
                &VerifyPassword {
                    password: Some(password.clone()),
                },
            )
            .await;
        match sent {
            Ok(v) => Ok(v.verified),
            Err(e)
                if e.status() == Some(422)
                    && e.errors().iter().any(|c| {
                        matches!(
                            c.error_code(),
                            Some(ErrorCode::FormPasswordIncorrect | ErrorCode::IncorrectPassword)
                        )
                    }) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/users/{id}/verify_totp`: whether `code` is a current TOTP code of the user, or
    /// one of their unused backup codes (which it then uses up). `Ok(None)` when the server says
    /// it is neither (422 `form_code_incorrect`); a user without TOTP (400) and other failures
    /// are errors.
    pub async fn verify_totp(
        &self,
        user_id: &str,
        code: &OneTimeCode,
    ) -> Result<Option<TotpVerified>, ApiError> {
        let sent = self
            .client
            .send_json::<TotpVerified>(
                Method::POST,
                &format!("/v1/users/{}/verify_totp", segment(user_id)),
                &VerifyTotp {
                    code: Some(code.clone()),
                },
            )
            .await;
        match sent {
            Ok(v) => Ok(Some(v)),
            Err(e)
                if e.status() == Some(422)
                    && e.errors()
                        .iter()
                        .any(|c| matches!(c.error_code(), Some(ErrorCode::FormCodeIncorrect))) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /v1/users/{id}/mfa`: turns every second factor of the user off (TOTP, backup
    /// codes, phones reserved for the second factor).
    pub async fn disable_mfa(&self, user_id: &str) -> Result<UserIdObject, ApiError> {
        self.delete_part(user_id, "mfa").await
    }

    /// `DELETE /v1/users/{id}/totp`: removes the user's authenticator app (404 without one).
    pub async fn delete_totp(&self, user_id: &str) -> Result<UserIdObject, ApiError> {
        self.delete_part(user_id, "totp").await
    }

    /// `DELETE /v1/users/{id}/backup_code`: removes the user's backup codes (404 without any).
    pub async fn delete_backup_codes(&self, user_id: &str) -> Result<UserIdObject, ApiError> {
        self.delete_part(user_id, "backup_code").await
    }

    async fn delete_part(&self, user_id: &str, part: &str) -> Result<UserIdObject, ApiError> {
        self.client
            .request(
                Method::DELETE,
                &format!("/v1/users/{}/{part}", segment(user_id)),
                &[],
                None,
            )
            .await
    }

    /// Sets the user's profile image (`POST /v1/users/{id}/profile_image`, multipart): PNG,
    /// JPEG, GIF or WebP bytes, up to 10 MiB. Returns the user, whose `image_url` serves it.
    pub async fn set_profile_image(
        &self,
        user_id: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<User, ApiError> {
        let path = format!("/v1/users/{}/profile_image", segment(user_id));
        self.client
            .send_file(&path, "profile", content_type, bytes)
            .await
    }

    /// Removes the user's profile image; returns the user.
    pub async fn delete_profile_image(&self, user_id: &str) -> Result<User, ApiError> {
        self.client
            .request(
                Method::DELETE,
                &format!("/v1/users/{}/profile_image", segment(user_id)),
                &[],
                None,
            )
            .await
    }

    /// Deletes the user and ends every session of theirs (`user.deleted` and `session.*`
    /// webhooks follow).
    pub async fn delete(&self, user_id: &str) -> Result<DeletedObject, ApiError> {
        self.client
            .request(
                Method::DELETE,
                &format!("/v1/users/{}", segment(user_id)),
                &[],
                None,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn list_filters_repeat_keys_and_drop_empty_values() {
        let p = UserListParams {
            email_address: vec!["a@x.com".into(), "".into(), "b@x.com".into()],
            query: Some(String::new()),
            order_by: Some("+created_at".into()),
            limit: Some(5),
            ..Default::default()
        };
        assert_eq!(
            p.to_query(),
            [
                ("email_address", "a@x.com".to_owned()),
                ("email_address", "b@x.com".to_owned()),
                ("order_by", "+created_at".to_owned()),
                ("limit", "5".to_owned()),
            ]
        );
        assert_eq!(p.filters().len(), 2, "count sends no paging");
    }

    #[test]
    fn update_sends_only_what_changes_and_null_to_clear() {
        let u = UpdateUser {
            first_name: Some(Some("Ada".into())),
            last_name: Some(None),
            password: Some("correct horse".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"first_name": "Ada", "last_name": null, "password": "correct horse"})
        );
        assert!(!format!("{u:?}").contains("correct horse"));
    }

    #[test]
    fn request_bodies_with_secrets_serialise_them_and_debug_hides_them() {
        let create = CreateUser {
            email_address: vec!["ada@example.com".into()],
            password: Some("create-secret-pw".into()),
            password_digest: Some("$2b$12$digestdigestdigest".into()),
            password_hasher: Some("bcrypt".into()),
            ..Default::default()
        };
        let json = serde_json::to_value(&create).unwrap();
        assert_eq!(json["password"], "create-secret-pw");
        assert_eq!(json["password_digest"], "$2b$12$digestdigestdigest");
        let update = UpdateUser {
            password: Some("update-secret-pw".into()),
            ..Default::default()
        };
        let pw = Password::from("verify-secret-pw");
        let verify = VerifyPassword {
            password: Some(pw.clone()),
        };
        assert_eq!(
            serde_json::to_value(&verify).unwrap(),
            json!({"password": "verify-secret-pw"})
        );
        let shown = format!("{create:?} {create:#?} {update:?} {verify:?} {pw:?}");
        for secret in [
            "create-secret-pw",
            "digestdigest",
            "update-secret-pw",
            "verify-secret-pw",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
