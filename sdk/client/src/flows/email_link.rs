//! Sign-in by email link.
//!
//! **On this device** (native PKCE, [`Latchkey::sign_in_with_email_link`]): the link the user
//! opens sends the system browser to `redirect_uri` — a custom scheme the app claims (on the
//! instance's allowlist of redirect URLs) or a loopback URL it listens on — with a one-time
//! approval. The app hands that URL to [`EmailLinkSignIn::complete`], which redeems the approval
//! with the PKCE verifier only this attempt holds and signs in. A link opened anywhere else
//! only gets an approval nobody can redeem.
//!
//! **On another device** ([`Latchkey::sign_in_with_email_link_elsewhere`]): the link verifies
//! the sign-in wherever it is opened and sends that browser to `landing_url`;
//! [`SignInAttempt::wait_for_email_link`] polls until the sign-in is complete here.

use std::time::{Duration, Instant};

use base64::Engine as _;
use latchkey_protocol::{SignIn, Strategy, VerificationStatus};
use rand::RngCore as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::sign_in::{SignInAttempt, SignInStatus};
use crate::client::Latchkey;
use crate::error::Error;
use crate::secret::Secret;
use crate::transport::{Call, segment};

/// How often [`SignInAttempt::wait_for_email_link`] asks: every second, as Clerk's clients do.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// A sign-in waiting for its email link to come back to this app (native PKCE). Keep it until
/// the deep link arrives, then call [`complete`](Self::complete) with the URL.
pub struct EmailLinkSignIn {
    attempt: SignInAttempt,
    verifier: Secret,
    redirect_uri: String,
}

impl std::fmt::Debug for EmailLinkSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailLinkSignIn")
            .field("sign_in", &self.attempt.id())
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Approved {
    ticket: latchkey_protocol::secret::SignInTicket,
}

impl EmailLinkSignIn {
    /// The sign-in's id (`sia_…`): the `flow_id` the link comes back with.
    pub fn sign_in_id(&self) -> &str {
        self.attempt.id()
    }

    /// The sign-in as it stood when the link was sent.
    pub fn attempt(&self) -> &SignInAttempt {
        &self.attempt
    }

    /// Completes the sign-in from the URL the link redirected to (`redirect_uri?flow_id=…&
    /// approval_token=…`, the parameters in the query or the fragment). Returns the new sign-in:
    /// complete, or needing the user's second factor.
    ///
    /// Errors: [`Error::InvalidState`] for a URL that is not this attempt's callback (another
    /// address, another flow, no approval) or that reports a failure (`__clerk_status`); the
    /// server's `approval_token_consumed`, `approval_token_expired`, `pkce_verification_failed`
    /// as [`Error::Api`]. After an error, start over with a new link.
    pub async fn complete(&self, callback_url: &str) -> Result<SignInAttempt, Error> {
        let approval = self.approval_from(callback_url)?;
        let lk = self.attempt.lk();
        let approved: Approved = lk
            .inner
            .envelope(
                Call::post("/v1/client/magic_links/complete")
                    .form("flow_id", self.attempt.id())
                    .form("approval_token", approval)
                    .form("code_verifier", self.verifier.expose()),
            )
            .await?;
        lk.create_sign_in(
            Call::post("/v1/client/sign_ins")
                .form("strategy", Strategy::Ticket)
                .form("ticket", approved.ticket.expose()),
        )
        .await
    }

    /// The approval in `callback_url`, once it is known to be this attempt's.
    fn approval_from(&self, callback_url: &str) -> Result<String, Error> {
        let bad = |why: &str| Error::InvalidState(format!("not this email link's callback: {why}"));
        let expected = url::Url::parse(&self.redirect_uri).map_err(|e| bad(&e.to_string()))?;
        let pairs = super::oauth::callback_pairs(callback_url, &expected).map_err(|e| bad(&e))?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let Some(status) = get("__clerk_status").filter(|s| s != "verified") {
            return Err(Error::InvalidState(format!("the email link was {status}")));
        }
        if get("flow_id").as_deref() != Some(self.attempt.id()) {
            return Err(bad("another sign-in"));
        }
        get("approval_token")
            .filter(|a| !a.is_empty())
            .ok_or_else(|| bad("no approval_token"))
    }
}

/// A PKCE verifier (RFC 7636: 43 characters of base64url from 32 random bytes) and its S256
/// challenge.
fn pkce_pair() -> (Secret, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (Secret::new(verifier), challenge)
}

/// The id of the user's email address the sign-in offers a link to.
fn link_factor(raw: &SignIn, email: &str) -> Result<String, Error> {
    raw.supported_first_factors
        .iter()
        .filter(|f| f.strategy == Strategy::EmailLink.as_str())
        .find(|f| f.safe_identifier.as_deref() == Some(email))
        .or_else(|| {
            raw.supported_first_factors
                .iter()
                .find(|f| f.strategy == Strategy::EmailLink.as_str())
        })
        .and_then(|f| f.email_address_id.clone())
        .ok_or_else(|| {
            Error::InvalidState(
                "this instance offers no email link for this user (email_address.email_link is off?)"
                    .into(),
            )
        })
}

impl Latchkey {
    /// Starts a sign-in by email link that comes back to this app (native PKCE): the link is
    /// emailed to `email`; when the app receives the callback on `redirect_uri`, pass it to
    /// [`EmailLinkSignIn::complete`]. `redirect_uri` must be a custom scheme on the instance's
    /// allowlist of redirect URLs (Backend API `/v1/redirect_urls`) or a loopback URL.
    pub async fn sign_in_with_email_link(
        &self,
        email: &str,
        redirect_uri: &str,
    ) -> Result<EmailLinkSignIn, Error> {
        let mut attempt = self.start_sign_in(email).await?;
        let factor = link_factor(attempt.raw(), email.trim())?;
        let (verifier, challenge) = pkce_pair();
        let call = Call::post(attempt.path("prepare_first_factor"))
            .form("strategy", Strategy::EmailLink)
            .form("email_address_id", factor)
            .form("redirect_uri", redirect_uri)
            .form("code_challenge", challenge)
            .form("code_challenge_method", "S256");
        attempt.run(call).await?;
        Ok(EmailLinkSignIn {
            attempt,
            verifier,
            redirect_uri: redirect_uri.to_owned(),
        })
    }

    /// Starts a sign-in by email link that may be opened on any device: opening it signs this
    /// app in and sends that browser to `landing_url` (an http(s) page, e.g. "you can close
    /// this tab"). Then [`SignInAttempt::wait_for_email_link`].
    pub async fn sign_in_with_email_link_elsewhere(
        &self,
        email: &str,
        landing_url: &str,
    ) -> Result<SignInAttempt, Error> {
        let mut attempt = self.start_sign_in(email).await?;
        let factor = link_factor(attempt.raw(), email.trim())?;
        let call = Call::post(attempt.path("prepare_first_factor"))
            .form("strategy", Strategy::EmailLink)
            .form("email_address_id", factor)
            .form("redirect_url", landing_url);
        attempt.run(call).await?;
        Ok(attempt)
    }
}

impl SignInAttempt {
    /// Polls (every second) until the email link sent for this sign-in has been opened:
    /// returns the status then (`Complete`, or `NeedsSecondFactor`). Errors:
    /// [`Error::InvalidState`] when the link expired or no link is pending, and after
    /// `timeout` (the attempt stays usable: wait again or send a new link).
    pub async fn wait_for_email_link(&mut self, timeout: Duration) -> Result<SignInStatus, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self
                .reload_path(format!("/v1/client/sign_ins/{}", segment(self.id())))
                .await?;
            if status != SignInStatus::NeedsFirstFactor {
                return Ok(status);
            }
            match self.raw().first_factor_verification.as_ref() {
                Some(v) if v.strategy == Strategy::EmailLink.as_str() => {
                    match v.status.parse::<VerificationStatus>() {
                        Ok(VerificationStatus::Unverified) => {}
                        Ok(VerificationStatus::Expired) => {
                            return Err(Error::InvalidState("the email link expired".into()));
                        }
                        _ => {
                            return Err(Error::InvalidState(format!(
                                "the email link is {}",
                                v.status
                            )));
                        }
                    }
                }
                _ => {
                    return Err(Error::InvalidState(
                        "no email link is pending for this sign-in".into(),
                    ));
                }
            }
            if Instant::now() + POLL_EVERY > deadline {
                return Err(Error::InvalidState(
                    "the email link was not opened in time".into(),
                ));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_43_base64url_characters_and_the_challenge_is_their_s256() {
        let (v, c) = pkce_pair();
        assert_eq!(v.expose().len(), 43);
        assert!(
            v.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let again = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(v.expose().as_bytes()));
        assert_eq!(c, again);
        assert_ne!(pkce_pair().0.expose(), v.expose(), "fresh each time");
    }
}
