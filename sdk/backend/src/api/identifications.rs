//! `/v1/email_addresses` and `/v1/phone_numbers`: a user's email addresses and phone numbers.

pub use latchkey_protocol::bapi::{CreateEmailAddress, CreatePhoneNumber, UpdateIdentification};
use latchkey_protocol::{DeletedObject, EmailAddress, PhoneNumber};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ApiError, BackendClient, segment};

/// The four calls both resources have, on `base` (`/v1/email_addresses` or
/// `/v1/phone_numbers`).
#[derive(Debug, Clone, Copy)]
struct Resource<'a> {
    client: &'a BackendClient,
    base: &'static str,
}

impl Resource<'_> {
    fn path(&self, id: &str) -> String {
        format!("{}/{}", self.base, segment(id))
    }

    async fn create<T: DeserializeOwned>(&self, body: &impl Serialize) -> Result<T, ApiError> {
        self.client.send_json(Method::POST, self.base, body).await
    }

    async fn get<T: DeserializeOwned>(&self, id: &str) -> Result<T, ApiError> {
        self.client.get(&self.path(id), &[]).await
    }

    async fn update<T: DeserializeOwned>(
        &self,
        id: &str,
        update: &UpdateIdentification,
    ) -> Result<T, ApiError> {
        self.client
            .send_json(Method::PATCH, &self.path(id), update)
            .await
    }

    async fn delete(&self, id: &str) -> Result<DeletedObject, ApiError> {
        self.client
            .request(Method::DELETE, &self.path(id), &[], None)
            .await
    }
}

/// The email address endpoints; from [`BackendClient::email_addresses`].
#[derive(Debug, Clone, Copy)]
pub struct EmailAddresses<'a>(Resource<'a>);

impl<'a> EmailAddresses<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self(Resource {
            client,
            base: "/v1/email_addresses",
        })
    }

    /// Adds an email address to a user: unverified unless `verified`, primary if `primary`
    /// (which needs `verified`) or if it is the user's first verified one.
    pub async fn create(&self, email: &CreateEmailAddress) -> Result<EmailAddress, ApiError> {
        self.0.create(email).await
    }

    /// The email address with this id; [`ApiError::is_not_found`] when there is none.
    pub async fn get(&self, id: &str) -> Result<EmailAddress, ApiError> {
        self.0.get(id).await
    }

    /// Marks it verified (or not) and makes it the user's primary one.
    pub async fn update(
        &self,
        id: &str,
        update: &UpdateIdentification,
    ) -> Result<EmailAddress, ApiError> {
        self.0.update(id, update).await
    }

    /// Removes it from its user. A user's last identification cannot be removed (the server
    /// refuses with 400).
    pub async fn delete(&self, id: &str) -> Result<DeletedObject, ApiError> {
        self.0.delete(id).await
    }
}

/// The phone number endpoints; from [`BackendClient::phone_numbers`].
#[derive(Debug, Clone, Copy)]
pub struct PhoneNumbers<'a>(Resource<'a>);

impl<'a> PhoneNumbers<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self(Resource {
            client,
            base: "/v1/phone_numbers",
        })
    }

    /// Adds a phone number (E.164) to a user, like [`EmailAddresses::create`].
    pub async fn create(&self, phone: &CreatePhoneNumber) -> Result<PhoneNumber, ApiError> {
        self.0.create(phone).await
    }

    /// The phone number with this id; [`ApiError::is_not_found`] when there is none.
    pub async fn get(&self, id: &str) -> Result<PhoneNumber, ApiError> {
        self.0.get(id).await
    }

    /// Marks it verified (or not) and makes it the user's primary one.
    pub async fn update(
        &self,
        id: &str,
        update: &UpdateIdentification,
    ) -> Result<PhoneNumber, ApiError> {
        self.0.update(id, update).await
    }

    /// Removes it from its user. A user's last identification cannot be removed (the server
    /// refuses with 400).
    pub async fn delete(&self, id: &str) -> Result<DeletedObject, ApiError> {
        self.0.delete(id).await
    }
}
