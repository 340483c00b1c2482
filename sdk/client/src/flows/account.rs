//! The signed-in side: switching sessions, signing out, the current user, profile updates and
//! account deletion.

use latchkey_protocol::{DeletedObject, Session, User};
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use crate::client::Latchkey;
use crate::error::Error;
use crate::transport::{segment, Call};

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
    pub fn new() -> Self {
        Self::default()
    }

    pub fn first_name(mut self, v: impl Into<String>) -> Self {
        self.first_name = Some(v.into());
        self
    }

    pub fn last_name(mut self, v: impl Into<String>) -> Self {
        self.last_name = Some(v.into());
        self
    }

    /// Only when the instance has usernames enabled.
    pub fn username(mut self, v: impl Into<String>) -> Self {
        self.username = Some(v.into());
        self
    }

    /// Replaces the user's `unsafe_metadata`.
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
        let sid = self.inner.active_session_id().await?;
        let call = Call::patch("/v1/me")
            .session(Some(sid.clone()))
            .form_opt("first_name", update.first_name)
            .form_opt("last_name", update.last_name)
            .form_opt("username", update.username)
            .form_opt(
                "unsafe_metadata",
                update.unsafe_metadata.map(|m| Value::Object(m).to_string()),
            );
        self.inner.session_envelope(&sid, call).await
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
