//! Session reverification: the signed-in user proves a factor again before a sensitive action,
//! and the session's factor ages (the token's `fva`) start again from now. A
//! [`SessionVerification`] whose [`SessionVerificationStatus`] says what it needs next.
//!
//! ```
//! use latchkey::{Latchkey, MemoryStore, SecondFactor, SessionVerificationStatus, VerificationLevel};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let clock = emu.clock().clone();
//! # let lk = Latchkey::builder("com.example.notes").frontend_api_url(emu.url())
//! #     .store(MemoryStore::new()).time_source(move || clock.now_ms()).build()?;
//! # create_user(&emu, "jane@example.com").await?;
//! # lk.sign_in_with_password("jane@example.com", "Doc-example-pass-7394").await?;
//! # let secret = lk.create_totp().await?.secret().expose().to_owned();
//! # lk.verify_totp(&authenticator_app(&secret, mid_step(&emu))?).await?;
//! # emu.clock().advance_ms(10 * 60_000); // Jane signed in ten minutes ago
//! let mut v = lk.verify_session(VerificationLevel::MultiFactor).await?;
//! if v.status() == SessionVerificationStatus::NeedsFirstFactor {
//!     v.attempt_password("Doc-example-pass-7394").await?;
//! }
//! if v.status() == SessionVerificationStatus::NeedsSecondFactor {
//!     let code = authenticator_app(&secret, mid_step(&emu))?; // what the user types
//!     v.attempt_second_factor(SecondFactor::Totp, &code).await?;
//! }
//! assert!(v.is_complete());
//! assert_eq!(v.factor_verification_age(), Some(&[0, 0][..])); // both factors: just now
//! # Ok(()) }
//! # async fn create_user(emu: &latchkey_emulator::Emulator, email: &str)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! #     reqwest::Client::new()
//! #         .post(format!("{}/v1/users", emu.url()))
//! #         .bearer_auth(emu.secret_key())
//! #         .json(&serde_json::json!({"email_address": [email], "password": "Doc-example-pass-7394"}))
//! #         .send().await?.error_for_status()?;
//! #     Ok(())
//! # }
//! # /// Moves the emulator's clock to the middle of a 30 s TOTP step; returns the time then.
//! # fn mid_step(emu: &latchkey_emulator::Emulator) -> i64 {
//! #     let into = emu.clock().now_ms().rem_euclid(30_000);
//! #     emu.clock().advance_ms((15_000 - into).rem_euclid(30_000))
//! # }
//! # fn authenticator_app(secret: &str, now_ms: i64) -> Result<String, Box<dyn std::error::Error>> {
//! #     let key = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().map_err(|e| format!("{e:?}"))?;
//! #     let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, key);
//! #     Ok(totp.generate(u64::try_from(now_ms / 1000)?))
//! # }
//! ```

use latchkey_protocol::{self as wire, SignInFactor, Strategy, VerificationStatus};

use crate::client::Latchkey;
use crate::error::Error;
use crate::flows::sign_in::{CodeFactor, SecondFactor};
use crate::transport::{Call, segment};

/// What a reverification asks the user to prove again. A user without a second factor is
/// asked for the first factor whatever the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerificationLevel {
    /// A password or a code to an email address or phone number.
    FirstFactor,
    /// A second factor (TOTP, backup code, SMS code).
    SecondFactor,
    /// Both, the first then the second.
    MultiFactor,
}

impl From<VerificationLevel> for wire::SessionVerificationLevel {
    fn from(l: VerificationLevel) -> Self {
        match l {
            VerificationLevel::FirstFactor => Self::FirstFactor,
            VerificationLevel::SecondFactor => Self::SecondFactor,
            VerificationLevel::MultiFactor => Self::MultiFactor,
        }
    }
}

/// Where a reverification stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionVerificationStatus {
    /// Prove the first factor: a password, or a code (prepare it first).
    NeedsFirstFactor,
    /// Prove a second factor.
    NeedsSecondFactor,
    /// Done: the session's factor ages were reset.
    Complete,
    /// A status this SDK does not know.
    Other(String),
}

impl SessionVerificationStatus {
    fn parse(s: &str) -> Self {
        match s.parse::<wire::SessionVerificationStatus>() {
            Ok(wire::SessionVerificationStatus::NeedsFirstFactor) => Self::NeedsFirstFactor,
            Ok(wire::SessionVerificationStatus::NeedsSecondFactor) => Self::NeedsSecondFactor,
            Ok(wire::SessionVerificationStatus::Complete) => Self::Complete,
            Err(_) => Self::Other(s.to_owned()),
        }
    }
}

/// A reverification of the active session in progress. Each step sends one request and updates
/// it; a failed step (wrong password, wrong code) leaves it as it was, ready for another try.
#[derive(Debug, Clone)]
pub struct SessionVerification {
    lk: Latchkey,
    session_id: String,
    raw: wire::SessionVerification,
}

impl SessionVerification {
    /// The session being verified.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Where the reverification stands: which factor to prove next.
    pub fn status(&self) -> SessionVerificationStatus {
        SessionVerificationStatus::parse(&self.raw.status)
    }

    /// Whether the user proved enough: the sensitive action may go ahead now.
    pub fn is_complete(&self) -> bool {
        self.status() == SessionVerificationStatus::Complete
    }

    /// The first factors the user can prove (`password`, `email_code`, `phone_code`), with
    /// their `email_address_id` / `phone_number_id`.
    pub fn first_factors(&self) -> &[SignInFactor] {
        self.raw.supported_first_factors.as_deref().unwrap_or(&[])
    }

    /// The second factors the user can prove, in the server's order.
    pub fn second_factors(&self) -> Vec<SecondFactor> {
        let mut out = Vec::new();
        for f in self.second_factor_options() {
            if let Some(f) = second_factor(&f.strategy)
                && !out.contains(&f)
            {
                out.push(f);
            }
        }
        out
    }

    /// The second factors as sent (with `phone_number_id`, `safe_identifier`, `default`).
    pub fn second_factor_options(&self) -> &[SignInFactor] {
        self.raw.supported_second_factors.as_deref().unwrap_or(&[])
    }

    /// The session's factor ages as this verification's answer showed them (minutes since the
    /// first and the second factor; -1 for none).
    pub fn factor_verification_age(&self) -> Option<&[i64]> {
        self.raw.session.factor_verification_age.as_deref()
    }

    /// The reverification as the Frontend API sent it.
    pub fn raw(&self) -> &wire::SessionVerification {
        &self.raw
    }

    fn path(&self, action: &str) -> String {
        format!(
            "/v1/client/sessions/{}/verify/{action}",
            segment(&self.session_id)
        )
    }

    async fn run(&mut self, call: Call) -> Result<SessionVerificationStatus, Error> {
        self.raw = self
            .lk
            .inner
            .session_envelope(&self.session_id, call)
            .await?;
        if self.is_complete() {
            // Tokens made before carry the old factor ages: the next one is minted anew.
            self.lk.inner.tokens.forget_session(&self.session_id);
        }
        Ok(self.status())
    }

    /// Sends a first-factor code: [`CodeFactor::EmailCode`] to the user's primary email address,
    /// [`CodeFactor::PhoneCode`] to their primary phone number.
    pub async fn prepare_first_factor(
        &mut self,
        factor: CodeFactor,
    ) -> Result<SessionVerificationStatus, Error> {
        self.prepare_first_factor_to(factor, None).await
    }

    /// [`prepare_first_factor`](Self::prepare_first_factor) to a given email address or phone
    /// number (an id from [`first_factors`](Self::first_factors)).
    pub async fn prepare_first_factor_to(
        &mut self,
        factor: CodeFactor,
        identification_id: Option<&str>,
    ) -> Result<SessionVerificationStatus, Error> {
        let id_key = match factor {
            CodeFactor::EmailCode => "email_address_id",
            CodeFactor::PhoneCode => "phone_number_id",
            other => {
                return Err(Error::InvalidState(format!(
                    "{} is not a reverification factor",
                    other.strategy()
                )));
            }
        };
        let call = Call::post(self.path("prepare_first_factor"))
            .form("strategy", factor.strategy())
            .form_opt(id_key, identification_id);
        self.run(call).await
    }

    /// Proves the password.
    #[tracing::instrument(skip_all)]
    pub async fn attempt_password(
        &mut self,
        password: &str,
    ) -> Result<SessionVerificationStatus, Error> {
        let call = Call::post(self.path("attempt_first_factor"))
            .form("strategy", Strategy::Password)
            .form("password", password);
        self.run(call).await
    }

    /// Proves the prepared first-factor code.
    #[tracing::instrument(skip_all)]
    pub async fn attempt_code(&mut self, code: &str) -> Result<SessionVerificationStatus, Error> {
        let factor = self
            .raw
            .first_factor_verification
            .as_ref()
            .and_then(|v| v.strategy.parse::<Strategy>().ok())
            .and_then(|s| CodeFactor::try_from(s).ok())
            .ok_or_else(|| {
                Error::InvalidState(
                    "no code was sent for this verification: call prepare_first_factor() first"
                        .into(),
                )
            })?;
        let call = Call::post(self.path("attempt_first_factor"))
            .form("strategy", factor.strategy())
            .form("code", code.trim());
        self.run(call).await
    }

    /// Sends a second-factor code: [`SecondFactor::PhoneCode`] to the user's default
    /// second-factor phone (or `phone_number_id`), [`SecondFactor::EmailCode`] to their primary
    /// email address where the instance offers it. TOTP and backup codes need no preparation.
    pub async fn prepare_second_factor(
        &mut self,
        factor: SecondFactor,
        identification_id: Option<&str>,
    ) -> Result<SessionVerificationStatus, Error> {
        let call = factor.prepare_call(self.path("prepare_second_factor"), identification_id)?;
        self.run(call).await
    }

    /// Proves a second factor with its code: a TOTP code, a backup code (used up), or the code
    /// of a prepared phone or email second factor.
    #[tracing::instrument(skip_all, fields(strategy = factor.strategy()))]
    pub async fn attempt_second_factor(
        &mut self,
        factor: SecondFactor,
        code: &str,
    ) -> Result<SessionVerificationStatus, Error> {
        self.run(factor.attempt_call(self.path("attempt_second_factor"), code))
            .await
    }

    /// Whether a code was sent for the current step and awaits its code.
    pub fn code_pending(&self) -> bool {
        let v = match self.status() {
            SessionVerificationStatus::NeedsFirstFactor => &self.raw.first_factor_verification,
            SessionVerificationStatus::NeedsSecondFactor => &self.raw.second_factor_verification,
            _ => return false,
        };
        v.as_ref().is_some_and(|v| {
            v.status == VerificationStatus::Unverified
                && matches!(
                    v.strategy.parse::<Strategy>(),
                    Ok(Strategy::EmailCode | Strategy::PhoneCode)
                )
        })
    }
}

fn second_factor(s: &str) -> Option<SecondFactor> {
    match s.parse::<Strategy>().ok()? {
        Strategy::Totp => Some(SecondFactor::Totp),
        Strategy::BackupCode => Some(SecondFactor::BackupCode),
        Strategy::PhoneCode => Some(SecondFactor::PhoneCode),
        Strategy::EmailCode => Some(SecondFactor::EmailCode),
        _ => None,
    }
}

impl Latchkey {
    /// Starts reverifying the active session at `level`
    /// (`POST /v1/client/sessions/{id}/verify`): the user proves the factor(s) again with the
    /// returned [`SessionVerification`], after which the session's tokens show fresh factor
    /// ages. `SignedOut` without an active session.
    pub async fn verify_session(
        &self,
        level: VerificationLevel,
    ) -> Result<SessionVerification, Error> {
        let session_id = self.inner.active_session_id().await?;
        let call = Call::post(format!(
            "/v1/client/sessions/{}/verify",
            segment(&session_id)
        ))
        .form(
            "level",
            wire::SessionVerificationLevel::from(level).as_str(),
        );
        let raw = self.inner.session_envelope(&session_id, call).await?;
        Ok(SessionVerification {
            lk: self.clone(),
            session_id,
            raw,
        })
    }
}
