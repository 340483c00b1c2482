//! `/v1/email_addresses` and `/v1/phone_numbers`: a user's email addresses and phone numbers.

pub use latchkey_protocol::bapi::{CreateEmailAddress, CreatePhoneNumber, UpdateIdentification};
use latchkey_protocol::{DeletedObject, EmailAddress, PhoneNumber};
use reqwest::Method;

use super::{segment, ApiError, BackendClient};

/// The email address endpoints; from [`BackendClient::email_addresses`].
#[derive(Debug, Clone, Copy)]
pub struct EmailAddresses<'a> {
    client: &'a BackendClient,
}

impl<'a> EmailAddresses<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// Adds an email address to a user: unverified unless `verified`, primary if `primary`
    /// (which needs `verified`) or if it is the user's first verified one.
    pub async fn create(&self, email: &CreateEmailAddress) -> Result<EmailAddress, ApiError> {
        self.client
            .send_json(Method::POST, "/v1/email_addresses", email)
            .await
    }

    pub async fn get(&self, id: &str) -> Result<EmailAddress, ApiError> {
        self.client
            .get(&format!("/v1/email_addresses/{}", segment(id)), &[])
            .await
    }

    /// Marks it verified (or not) and makes it the user's primary one.
    pub async fn update(
        &self,
        id: &str,
        update: &UpdateIdentification,
    ) -> Result<EmailAddress, ApiError> {
        self.client
            .send_json(
                Method::PATCH,
                &format!("/v1/email_addresses/{}", segment(id)),
                update,
            )
            .await
    }

    pub async fn delete(&self, id: &str) -> Result<DeletedObject, ApiError> {
        self.client
            .request(
                Method::DELETE,
                &format!("/v1/email_addresses/{}", segment(id)),
                &[],
                None,
            )
            .await
    }
}

/// The phone number endpoints; from [`BackendClient::phone_numbers`].
#[derive(Debug, Clone, Copy)]
pub struct PhoneNumbers<'a> {
    client: &'a BackendClient,
}

impl<'a> PhoneNumbers<'a> {
    pub(super) fn new(client: &'a BackendClient) -> Self {
        Self { client }
    }

    /// Adds a phone number (E.164) to a user, like [`EmailAddresses::create`].
    pub async fn create(&self, phone: &CreatePhoneNumber) -> Result<PhoneNumber, ApiError> {
        self.client
            .send_json(Method::POST, "/v1/phone_numbers", phone)
            .await
    }

    pub async fn get(&self, id: &str) -> Result<PhoneNumber, ApiError> {
        self.client
            .get(&format!("/v1/phone_numbers/{}", segment(id)), &[])
            .await
    }

    pub async fn update(
        &self,
        id: &str,
        update: &UpdateIdentification,
    ) -> Result<PhoneNumber, ApiError> {
        self.client
            .send_json(
                Method::PATCH,
                &format!("/v1/phone_numbers/{}", segment(id)),
                update,
            )
            .await
    }

    pub async fn delete(&self, id: &str) -> Result<DeletedObject, ApiError> {
        self.client
            .request(
                Method::DELETE,
                &format!("/v1/phone_numbers/{}", segment(id)),
                &[],
                None,
            )
            .await
    }
}
