//! The signed-in side: switching sessions, signing out, the current user, profile updates,
//! email addresses and phone numbers, passwords, the profile image, the user's sessions on every
//! device, and account deletion.

use latchkey_protocol::{DeletedObject, EmailAddress, PhoneNumber, Session, User};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Map, Value};

use super::mfa::{bool_str, deleted};
use crate::client::Latchkey;
use crate::error::Error;
use crate::transport::{Call, Upload, segment};

/// An uploaded profile image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Image {
    /// The image's id (`img_…`).
    pub id: String,
    /// The uploaded file's name, if it had one.
    pub name: Option<String>,
    /// Where the image is served.
    pub public_url: String,
}

/// A session of the signed-in user on any device, with its latest activity.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionActivity {
    /// The session's id, for [`Latchkey::revoke_session`].
    pub id: String,
    /// `active` for the sessions this call lists.
    pub status: String,
    /// When it expires however active it is (ms since the epoch).
    pub expire_at: i64,
    /// When it expires if unused (ms since the epoch).
    pub abandon_at: i64,
    /// When it was last used (ms since the epoch).
    pub last_active_at: i64,
    /// Where it was last used from, when known.
    pub latest_activity: Option<Activity>,
}

/// Where a session was last used from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Activity {
    /// The activity record's id.
    pub id: String,
    /// The device's kind, from its user agent.
    pub device_type: Option<String>,
    /// The browser or app, from its user agent.
    pub browser_name: Option<String>,
    /// Its version.
    pub browser_version: Option<String>,
    /// The country of the IP address, where known.
    pub country: Option<String>,
    /// The city of the IP address, where known.
    pub city: Option<String>,
    /// The IP address the session was last used from.
    pub ip_address: Option<String>,
    /// Whether the device is a phone or tablet.
    #[serde(default)]
    pub is_mobile: bool,
}

/// Changes to the signed-in user's profile. Unset fields are left alone; an empty string clears
/// a name.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    unsafe_metadata: Option<Map<String, Value>>,
}

impl UserUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new given name (`""` clears it).
    pub fn first_name(mut self, v: impl Into<String>) -> Self {
        self.first_name = Some(v.into());
        self
    }

    /// A new family name (`""` clears it).
    pub fn last_name(mut self, v: impl Into<String>) -> Self {
        self.last_name = Some(v.into());
        self
    }

    /// Only when the instance has usernames enabled.
    pub fn username(mut self, v: impl Into<String>) -> Self {
        self.username = Some(v.into());
        self
    }

    /// Merges into the user's `unsafe_metadata` (RFC 7396: a `null` value deletes the key),
    /// sent as its own request (`PATCH /v1/me/metadata`) after the rest of the update.
    pub fn unsafe_metadata(mut self, v: Map<String, Value>) -> Self {
        self.unsafe_metadata = Some(v);
        self
    }
}

impl Latchkey {
    /// Makes another session on this device the active one.
    pub async fn set_active_session(&self, session_id: &str) -> Result<(), Error> {
        let call = Call::post(format!("/v1/client/sessions/{}/touch", segment(session_id)));
        let _: Session = self.inner.session_envelope(session_id, call).await?;
        Ok(())
    }

    /// Signs the active session out. Another session on this device, if any, becomes active;
    /// otherwise the device is signed out and the store cleared. Signed out already: nothing to do.
    pub async fn sign_out(&self) -> Result<(), Error> {
        match self.inner.active_session_id().await {
            Ok(sid) => self.sign_out_session(&sid).await,
            Err(Error::SignedOut) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Signs one session on this device out.
    pub async fn sign_out_session(&self, session_id: &str) -> Result<(), Error> {
        let call = Call::post(format!(
            "/v1/client/sessions/{}/remove",
            segment(session_id)
        ));
        match self.inner.envelope::<Session>(call).await {
            Ok(_) => Ok(()),
            // Gone already: that is what was asked for.
            Err(Error::Api(e)) if e.status == 401 || e.status == 404 => {
                self.inner.session_gone(session_id).await;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Signs every session on this device out and forgets the client (`DELETE /v1/client`):
    /// the server clears the client token and the store is emptied.
    pub async fn sign_out_all(&self) -> Result<(), Error> {
        let _: IgnoredAny = self.inner.envelope(Call::delete("/v1/client")).await?;
        Ok(())
    }

    /// Fetches the signed-in user (`GET /v1/me`) and updates the state with it.
    pub async fn fetch_user(&self) -> Result<User, Error> {
        let sid = self.inner.active_session_id().await?;
        let call = Call::get("/v1/me").session(Some(sid.clone()));
        self.inner.session_envelope(&sid, call).await
    }

    /// Updates the signed-in user's profile; the auth state carries the new profile.
    pub async fn update_user(&self, update: UserUpdate) -> Result<User, Error> {
        let UserUpdate {
            first_name,
            last_name,
            username,
            unsafe_metadata,
        } = update;
        let names = first_name.is_some() || last_name.is_some() || username.is_some();
        let mut user = None;
        if names || unsafe_metadata.is_none() {
            user = Some(
                self.me_call(|sid| {
                    Call::patch("/v1/me")
                        .session(sid)
                        .form_opt("first_name", first_name)
                        .form_opt("last_name", last_name)
                        .form_opt("username", username)
                })
                .await?,
            );
        }
        match unsafe_metadata {
            // Since Frontend API version 2026-05-12 `PATCH /v1/me` no longer takes it.
            Some(m) => self.update_metadata(m).await,
            None => user.ok_or_else(|| Error::InvalidState("nothing to update".into())),
        }
    }

    /// Deep-merges `unsafe_metadata` into the user's (`PATCH /v1/me/metadata`, RFC 7396: a
    /// `null` value deletes the key).
    pub async fn update_metadata(
        &self,
        unsafe_metadata: Map<String, Value>,
    ) -> Result<User, Error> {
        let json = Value::Object(unsafe_metadata).to_string();
        self.me_call(|sid| {
            Call::patch("/v1/me/metadata")
                .session(sid)
                .form("unsafe_metadata", json)
        })
        .await
    }

    /// A `/v1/me…` call for the active session (`_clerk_session_id`); a 401 ends the session.
    pub(crate) async fn me_call<T: DeserializeOwned>(
        &self,
        call: impl FnOnce(Option<String>) -> Call,
    ) -> Result<T, Error> {
        let sid = self.inner.active_session_id().await?;
        self.inner
            .session_envelope(&sid, call(Some(sid.clone())))
            .await
    }

    /// Adds an email address to the signed-in user, unverified; verify it with
    /// [`prepare_email_verification`](Self::prepare_email_verification) and
    /// [`attempt_email_verification`](Self::attempt_email_verification).
    pub async fn add_email_address(&self, email: &str) -> Result<EmailAddress, Error> {
        let email = email.trim().to_owned();
        self.me_call(|sid| {
            Call::post("/v1/me/email_addresses")
                .session(sid)
                .form("email_address", email)
        })
        .await
    }

    /// Emails a verification code to one of the user's addresses.
    pub async fn prepare_email_verification(&self, id: &str) -> Result<EmailAddress, Error> {
        self.prepare_verification("email_addresses", id, "email_code")
            .await
    }

    /// Proves an address with the emailed code.
    #[tracing::instrument(skip_all)]
    pub async fn attempt_email_verification(
        &self,
        id: &str,
        code: &str,
    ) -> Result<EmailAddress, Error> {
        self.attempt_verification("email_addresses", id, code).await
    }

    /// Removes one of the user's email addresses.
    pub async fn delete_email_address(&self, id: &str) -> Result<(), Error> {
        self.delete_identification("email_addresses", id).await
    }

    /// Makes a verified email address the primary one.
    pub async fn set_primary_email_address(&self, id: &str) -> Result<User, Error> {
        let id = id.to_owned();
        self.me_call(|sid| {
            Call::patch("/v1/me")
                .session(sid)
                .form("primary_email_address_id", id)
        })
        .await
    }

    /// Adds a phone number to the signed-in user, unverified.
    pub async fn add_phone_number(&self, phone: &str) -> Result<PhoneNumber, Error> {
        let phone = phone.trim().to_owned();
        self.me_call(|sid| {
            Call::post("/v1/me/phone_numbers")
                .session(sid)
                .form("phone_number", phone)
        })
        .await
    }

    /// Sends a verification code by SMS to one of the user's phone numbers.
    pub async fn prepare_phone_verification(&self, id: &str) -> Result<PhoneNumber, Error> {
        self.prepare_verification("phone_numbers", id, "phone_code")
            .await
    }

    /// Proves a phone number with the SMS code.
    #[tracing::instrument(skip_all)]
    pub async fn attempt_phone_verification(
        &self,
        id: &str,
        code: &str,
    ) -> Result<PhoneNumber, Error> {
        self.attempt_verification("phone_numbers", id, code).await
    }

    /// Removes one of the user's phone numbers.
    pub async fn delete_phone_number(&self, id: &str) -> Result<(), Error> {
        self.delete_identification("phone_numbers", id).await
    }

    /// Makes a verified phone number the primary one.
    pub async fn set_primary_phone_number(&self, id: &str) -> Result<User, Error> {
        let id = id.to_owned();
        self.me_call(|sid| {
            Call::patch("/v1/me")
                .session(sid)
                .form("primary_phone_number_id", id)
        })
        .await
    }

    async fn prepare_verification<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
        strategy: &'static str,
    ) -> Result<T, Error> {
        let path = format!("/v1/me/{kind}/{}/prepare_verification", segment(id));
        self.me_call(|sid| Call::post(path).session(sid).form("strategy", strategy))
            .await
    }

    async fn attempt_verification<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
        code: &str,
    ) -> Result<T, Error> {
        let path = format!("/v1/me/{kind}/{}/attempt_verification", segment(id));
        let code = code.trim().to_owned();
        self.me_call(|sid| Call::post(path).session(sid).form("code", code))
            .await
    }

    async fn delete_identification(&self, kind: &str, id: &str) -> Result<(), Error> {
        let path = format!("/v1/me/{kind}/{}", segment(id));
        let d: DeletedObject = self.me_call(|sid| Call::delete(path).session(sid)).await?;
        deleted(&d)
    }

    /// Changes the password. `current` is required when the user has one; with
    /// `sign_out_of_other_sessions` every other session of the user ends (this one stays).
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        current: Option<&str>,
        new_password: &str,
        sign_out_of_other_sessions: bool,
    ) -> Result<User, Error> {
        let (current, new_password) = (current.map(str::to_owned), new_password.to_owned());
        self.me_call(|sid| {
            Call::post("/v1/me/change_password")
                .session(sid)
                .form_opt("current_password", current)
                .form("new_password", new_password)
                .form(
                    "sign_out_of_other_sessions",
                    bool_str(sign_out_of_other_sessions),
                )
        })
        .await
    }

    /// Removes the password (when the instance does not require one); the user signs in with
    /// codes from then on.
    #[tracing::instrument(skip_all)]
    pub async fn remove_password(&self, current: &str) -> Result<User, Error> {
        let current = current.to_owned();
        self.me_call(|sid| {
            Call::post("/v1/me/remove_password")
                .session(sid)
                .form("current_password", current)
        })
        .await
    }

    /// Uploads a profile image (`image/png`, `image/jpeg`, `image/gif`, `image/webp`); the
    /// user's `image_url` points at it afterwards.
    pub async fn set_profile_image(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<Image, Error> {
        let upload = Upload {
            field: "file",
            file_name: "profile".into(),
            content_type: content_type.to_owned(),
            bytes,
        };
        self.me_call(|sid| {
            Call::post("/v1/me/profile_image")
                .session(sid)
                .upload(upload)
        })
        .await
    }

    /// Removes the profile image.
    pub async fn delete_profile_image(&self) -> Result<(), Error> {
        let d: DeletedObject = self
            .me_call(|sid| Call::delete("/v1/me/profile_image").session(sid))
            .await?;
        deleted(&d)
    }

    /// The user's active sessions on every device, with where each was last used.
    pub async fn active_sessions(&self) -> Result<Vec<SessionActivity>, Error> {
        let sid = self.inner.active_session_id().await?;
        let call = Call::get("/v1/me/sessions/active").session(Some(sid.clone()));
        self.inner.session_bare(&sid, call).await
    }

    /// Revokes one of the user's sessions (on any device). Revoking the current one signs this
    /// device out of it.
    pub async fn revoke_session(&self, session_id: &str) -> Result<Session, Error> {
        let path = format!("/v1/me/sessions/{}/revoke", segment(session_id));
        let session: Session = self.me_call(|sid| Call::post(path).session(sid)).await?;
        Ok(session)
    }

    /// Deletes the signed-in user's account (when the instance allows it). Its sessions end; the
    /// device is signed out unless another user is signed in on it.
    pub async fn delete_user(&self) -> Result<(), Error> {
        let sid = self.inner.active_session_id().await?;
        let call = Call::delete("/v1/me").session(Some(sid.clone()));
        let deleted: DeletedObject = self.inner.session_envelope(&sid, call).await?;
        if !deleted.deleted {
            return Err(Error::InvalidState(
                "the server did not delete the account".into(),
            ));
        }
        Ok(())
    }
}
