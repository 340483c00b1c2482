//! Sign-in: a [`SignInAttempt`] whose [`SignInStatus`] says what it needs next.
//!
//! The crate docs show both ways in examples that run against an in-process emulator:
//! [with a password](crate#signing-in-with-a-password) and
//! [with an emailed code](crate#signing-in-with-an-emailed-code).

use latchkey_protocol::{self as wire, SignIn, SignInFactor, Strategy, VerificationStatus};

use crate::client::Latchkey;
use crate::error::Error;
use crate::transport::{Call, segment};

/// Where a sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInStatus {
    /// Nobody identified yet.
    NeedsIdentifier,
    /// Prove the first factor: a password, or a code (prepare it first).
    NeedsFirstFactor,
    /// Prove a second factor.
    NeedsSecondFactor,
    /// A reset code was verified: set the new password.
    NeedsNewPassword,
    /// Signed in: the session is active on this device.
    Complete,
    /// The attempt expired unfinished: start a new sign-in.
    Abandoned,
    /// A status this SDK does not know.
    Other(String),
}

impl SignInStatus {
    /// The status of a sign-in as sent: one of [`wire::SignInStatus`], or [`Other`](Self::Other).
    fn parse(s: &str) -> Self {
        s.parse::<wire::SignInStatus>()
            .map_or_else(|_| Self::Other(s.to_owned()), Self::from)
    }
}

impl From<wire::SignInStatus> for SignInStatus {
    fn from(s: wire::SignInStatus) -> Self {
        match s {
            wire::SignInStatus::NeedsIdentifier => Self::NeedsIdentifier,
            wire::SignInStatus::NeedsFirstFactor => Self::NeedsFirstFactor,
            wire::SignInStatus::NeedsSecondFactor => Self::NeedsSecondFactor,
            wire::SignInStatus::NeedsNewPassword => Self::NeedsNewPassword,
            wire::SignInStatus::Complete => Self::Complete,
            wire::SignInStatus::Abandoned => Self::Abandoned,
        }
    }
}

/// A one-time-code factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeFactor {
    /// A code emailed to the user.
    EmailCode,
    /// A code sent by SMS.
    PhoneCode,
    /// A password-reset code emailed to the user.
    ResetPasswordEmailCode,
    /// A password-reset code sent by SMS.
    ResetPasswordPhoneCode,
}

impl CodeFactor {
    /// The wire strategy (`email_code`, …).
    pub fn strategy(&self) -> &'static str {
        Strategy::from(*self).as_str()
    }

    /// The code factor of a strategy as sent, `None` for other strategies.
    fn parse(s: &str) -> Option<Self> {
        Self::try_from(s.parse::<Strategy>().ok()?).ok()
    }
}

impl From<CodeFactor> for Strategy {
    fn from(f: CodeFactor) -> Self {
        match f {
            CodeFactor::EmailCode => Strategy::EmailCode,
            CodeFactor::PhoneCode => Strategy::PhoneCode,
            CodeFactor::ResetPasswordEmailCode => Strategy::ResetPasswordEmailCode,
            CodeFactor::ResetPasswordPhoneCode => Strategy::ResetPasswordPhoneCode,
        }
    }
}

/// A strategy that is not a one-time-code factor.
impl TryFrom<Strategy> for CodeFactor {
    type Error = Strategy;

    fn try_from(s: Strategy) -> Result<Self, Strategy> {
        match s {
            Strategy::EmailCode => Ok(Self::EmailCode),
            Strategy::PhoneCode => Ok(Self::PhoneCode),
            Strategy::ResetPasswordEmailCode => Ok(Self::ResetPasswordEmailCode),
            Strategy::ResetPasswordPhoneCode => Ok(Self::ResetPasswordPhoneCode),
            other => Err(other),
        }
    }
}

/// A second factor: what a user with two-step verification proves after the first factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecondFactor {
    /// A code from an authenticator app (TOTP); needs no preparation.
    Totp,
    /// One of the user's single-use backup codes; needs no preparation.
    BackupCode,
    /// A code sent by SMS to the user's second-factor phone (prepare it first).
    PhoneCode,
    /// A code emailed to the user (prepare it first).
    EmailCode,
}

impl SecondFactor {
    /// The wire strategy (`totp`, `backup_code`, `phone_code`, `email_code`).
    pub fn strategy(&self) -> &'static str {
        Strategy::from(*self).as_str()
    }

    /// Whether a code must be sent first ([`SignInAttempt::prepare_second_factor`]).
    pub fn needs_preparation(&self) -> bool {
        matches!(self, Self::PhoneCode | Self::EmailCode)
    }

    /// The `prepare_second_factor` call at `path` (sign-in or session reverification): a code
    /// to `identification_id`, else the server's default. TOTP and backup codes have none.
    pub(crate) fn prepare_call(
        self,
        path: String,
        identification_id: Option<&str>,
    ) -> Result<Call, Error> {
        let id_key = match self {
            Self::PhoneCode => "phone_number_id",
            Self::EmailCode => "email_address_id",
            Self::Totp | Self::BackupCode => {
                return Err(Error::InvalidState(format!(
                    "{} needs no preparation: attempt it directly",
                    self.strategy()
                )));
            }
        };
        Ok(Call::post(path)
            .form("strategy", self.strategy())
            .form_opt(id_key, identification_id))
    }

    /// The `attempt_second_factor` call at `path` with `code`.
    pub(crate) fn attempt_call(self, path: String, code: &str) -> Call {
        Call::post(path)
            .form("strategy", self.strategy())
            .form("code", code.trim())
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.parse::<Strategy>().ok()? {
            Strategy::Totp => Some(Self::Totp),
            Strategy::BackupCode => Some(Self::BackupCode),
            Strategy::PhoneCode => Some(Self::PhoneCode),
            Strategy::EmailCode => Some(Self::EmailCode),
            _ => None,
        }
    }
}

impl From<SecondFactor> for Strategy {
    fn from(f: SecondFactor) -> Self {
        match f {
            SecondFactor::Totp => Strategy::Totp,
            SecondFactor::BackupCode => Strategy::BackupCode,
            SecondFactor::PhoneCode => Strategy::PhoneCode,
            SecondFactor::EmailCode => Strategy::EmailCode,
        }
    }
}

/// A sign-in in progress. Each step sends one request and updates the attempt; a failed step
/// (wrong password, wrong code) leaves it as it was, ready for another try.
#[derive(Debug, Clone)]
pub struct SignInAttempt {
    lk: Latchkey,
    raw: SignIn,
}

impl SignInAttempt {
    /// The attempt's id (`sia_…`).
    pub fn id(&self) -> &str {
        &self.raw.id
    }

    /// Where the attempt stands, and so which step comes next: see [`SignInStatus`].
    pub fn status(&self) -> SignInStatus {
        SignInStatus::parse(&self.raw.status)
    }

    /// Whether the user is signed in: [`Latchkey::session_token`] works from now on.
    pub fn is_complete(&self) -> bool {
        self.status() == SignInStatus::Complete
    }

    /// The session created by a complete sign-in.
    pub fn created_session_id(&self) -> Option<&str> {
        self.raw.created_session_id.as_deref()
    }

    /// The factors the user can prove.
    pub fn first_factors(&self) -> &[SignInFactor] {
        &self.raw.supported_first_factors
    }

    /// The second factors the user can prove once the status is
    /// [`NeedsSecondFactor`](SignInStatus::NeedsSecondFactor), in the server's order.
    pub fn second_factors(&self) -> Vec<SecondFactor> {
        let mut out = Vec::new();
        for f in &self.raw.supported_second_factors {
            if let Some(f) = SecondFactor::parse(&f.strategy)
                && !out.contains(&f)
            {
                out.push(f);
            }
        }
        out
    }

    /// The second factors as sent (with `phone_number_id`, `safe_identifier`, `default`).
    pub fn second_factor_options(&self) -> &[SignInFactor] {
        &self.raw.supported_second_factors
    }

    /// The code factor that has been prepared (a code was sent) and awaits the code.
    pub fn pending_code(&self) -> Option<CodeFactor> {
        let v = self.raw.first_factor_verification.as_ref()?;
        if v.status != VerificationStatus::Unverified {
            return None;
        }
        CodeFactor::parse(&v.strategy)
    }

    /// The sign-in as the Frontend API sent it.
    pub fn raw(&self) -> &SignIn {
        &self.raw
    }

    pub(crate) fn path(&self, action: &str) -> String {
        format!("/v1/client/sign_ins/{}/{action}", segment(&self.raw.id))
    }

    pub(crate) async fn run(&mut self, call: Call) -> Result<SignInStatus, Error> {
        self.raw = self.lk.inner.envelope(call).await?;
        Ok(self.status())
    }

    pub(crate) async fn reload_path(&mut self, path: String) -> Result<SignInStatus, Error> {
        self.run(Call::get(path)).await
    }

    pub(crate) fn lk(&self) -> &Latchkey {
        &self.lk
    }

    /// Sends a code (or a new one) for `factor`.
    pub async fn prepare(&mut self, factor: CodeFactor) -> Result<SignInStatus, Error> {
        let call =
            Call::post(self.path("prepare_first_factor")).form("strategy", factor.strategy());
        self.run(call).await
    }

    /// Proves the password.
    #[tracing::instrument(skip_all)]
    pub async fn attempt_password(&mut self, password: &str) -> Result<SignInStatus, Error> {
        let call = Call::post(self.path("attempt_first_factor"))
            .form("strategy", Strategy::Password)
            .form("password", password);
        self.run(call).await
    }

    /// Proves the prepared code factor ([`pending_code`](Self::pending_code)).
    #[tracing::instrument(skip_all)]
    pub async fn attempt_code(&mut self, code: &str) -> Result<SignInStatus, Error> {
        let factor = self
            .raw
            .first_factor_verification
            .as_ref()
            .and_then(|v| CodeFactor::parse(&v.strategy))
            .ok_or_else(|| {
                Error::InvalidState(
                    "no code was sent for this sign-in: call prepare() first".into(),
                )
            })?;
        let call = Call::post(self.path("attempt_first_factor"))
            .form("strategy", factor.strategy())
            .form("code", code.trim());
        self.run(call).await
    }

    /// Sets the new password after a verified reset code, optionally signing out every other
    /// session of the user; completes the sign-in.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &mut self,
        new_password: &str,
        sign_out_of_other_sessions: bool,
    ) -> Result<SignInStatus, Error> {
        let call = Call::post(self.path("reset_password"))
            .form("password", new_password)
            .form(
                "sign_out_of_other_sessions",
                if sign_out_of_other_sessions {
                    "true"
                } else {
                    "false"
                },
            );
        self.run(call).await
    }

    /// Sends a second-factor code: [`SecondFactor::PhoneCode`] to the user's default
    /// second-factor phone, [`SecondFactor::EmailCode`] to their primary email address. TOTP and
    /// backup codes need no preparation.
    pub async fn prepare_second_factor(
        &mut self,
        factor: SecondFactor,
    ) -> Result<SignInStatus, Error> {
        self.prepare_second_factor_to(factor, None).await
    }

    /// [`prepare_second_factor`](Self::prepare_second_factor) to a given phone number or email
    /// address (an id from [`second_factor_options`](Self::second_factor_options)).
    pub async fn prepare_second_factor_to(
        &mut self,
        factor: SecondFactor,
        identification_id: Option<&str>,
    ) -> Result<SignInStatus, Error> {
        let call = factor.prepare_call(self.path("prepare_second_factor"), identification_id)?;
        self.run(call).await
    }

    /// Proves a second factor with its code: a TOTP code, a backup code, or the code of a
    /// prepared phone or email second factor. Completes the sign-in.
    #[tracing::instrument(skip_all, fields(strategy = factor.strategy()))]
    pub async fn attempt_second_factor(
        &mut self,
        factor: SecondFactor,
        code: &str,
    ) -> Result<SignInStatus, Error> {
        self.run(factor.attempt_call(self.path("attempt_second_factor"), code))
            .await
    }

    /// [`attempt_second_factor`](Self::attempt_second_factor) with an authenticator-app code.
    pub async fn attempt_totp(&mut self, code: &str) -> Result<SignInStatus, Error> {
        self.attempt_second_factor(SecondFactor::Totp, code).await
    }

    /// [`attempt_second_factor`](Self::attempt_second_factor) with a backup code (used up).
    pub async fn attempt_backup_code(&mut self, code: &str) -> Result<SignInStatus, Error> {
        self.attempt_second_factor(SecondFactor::BackupCode, code)
            .await
    }

    /// The second factor that was prepared (a code was sent) and awaits its code.
    pub fn pending_second_factor(&self) -> Option<SecondFactor> {
        let v = self.raw.second_factor_verification.as_ref()?;
        if v.status != VerificationStatus::Unverified {
            return None;
        }
        SecondFactor::parse(&v.strategy).filter(SecondFactor::needs_preparation)
    }

    /// Fetches the attempt again.
    pub async fn reload(&mut self) -> Result<SignInStatus, Error> {
        let call = Call::get(format!("/v1/client/sign_ins/{}", segment(&self.raw.id)));
        self.run(call).await
    }
}

impl Latchkey {
    pub(crate) async fn create_sign_in(&self, call: Call) -> Result<SignInAttempt, Error> {
        let raw: SignIn = self.inner.envelope(call).await?;
        Ok(SignInAttempt {
            lk: self.clone(),
            raw,
        })
    }

    /// Signs in with an identifier (email address, phone number or username) and password, in
    /// one request. The attempt is `Complete` (or needs a second factor).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_with_password(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<SignInAttempt, Error> {
        self.create_sign_in(
            Call::post("/v1/client/sign_ins")
                .form("identifier", identifier.trim())
                .form("password", password),
        )
        .await
    }

    /// Starts a sign-in by emailed code: the code is sent; finish with
    /// [`SignInAttempt::attempt_code`].
    pub async fn sign_in_with_email_code(&self, email: &str) -> Result<SignInAttempt, Error> {
        self.start_with_code(email, CodeFactor::EmailCode).await
    }

    /// Starts a sign-in by SMS code: the code is sent; finish with
    /// [`SignInAttempt::attempt_code`].
    pub async fn sign_in_with_phone_code(&self, phone: &str) -> Result<SignInAttempt, Error> {
        self.start_with_code(phone, CodeFactor::PhoneCode).await
    }

    /// Starts a password reset: a reset code is emailed. Then
    /// [`attempt_code`](SignInAttempt::attempt_code) (status becomes `NeedsNewPassword`) and
    /// [`reset_password`](SignInAttempt::reset_password).
    pub async fn start_password_reset(&self, email: &str) -> Result<SignInAttempt, Error> {
        self.start_with_code(email, CodeFactor::ResetPasswordEmailCode)
            .await
    }

    async fn start_with_code(
        &self,
        identifier: &str,
        factor: CodeFactor,
    ) -> Result<SignInAttempt, Error> {
        self.create_sign_in(
            Call::post("/v1/client/sign_ins")
                .form("identifier", identifier.trim())
                .form("strategy", factor.strategy()),
        )
        .await
    }

    /// Starts a sign-in by identifier alone: the attempt lists the factors the user can prove
    /// ([`SignInAttempt::first_factors`]); continue with `prepare` / `attempt_*`.
    pub async fn start_sign_in(&self, identifier: &str) -> Result<SignInAttempt, Error> {
        self.create_sign_in(Call::post("/v1/client/sign_ins").form("identifier", identifier.trim()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_code_factors_read_from_their_wire_names() {
        for s in wire::SignInStatus::ALL {
            assert_eq!(SignInStatus::parse(s.as_str()), SignInStatus::from(*s));
            assert!(!matches!(
                SignInStatus::parse(s.as_str()),
                SignInStatus::Other(_)
            ));
        }
        assert_eq!(
            SignInStatus::parse("needs_client_trust"),
            SignInStatus::Other("needs_client_trust".into()),
            "a newer server's status is kept, not refused"
        );
        for f in [
            CodeFactor::EmailCode,
            CodeFactor::PhoneCode,
            CodeFactor::ResetPasswordEmailCode,
            CodeFactor::ResetPasswordPhoneCode,
        ] {
            assert_eq!(CodeFactor::parse(f.strategy()), Some(f));
        }
        assert_eq!(CodeFactor::parse(Strategy::Password.as_str()), None);
        assert_eq!(CodeFactor::parse("oauth_google"), None);
        for f in [
            SecondFactor::Totp,
            SecondFactor::BackupCode,
            SecondFactor::PhoneCode,
            SecondFactor::EmailCode,
        ] {
            assert_eq!(SecondFactor::parse(f.strategy()), Some(f));
        }
        assert_eq!(SecondFactor::parse("password"), None);
        assert!(SecondFactor::PhoneCode.needs_preparation());
        assert!(!SecondFactor::Totp.needs_preparation());
    }
}
