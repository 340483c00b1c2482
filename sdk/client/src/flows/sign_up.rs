//! Sign-up: a [`SignUpAttempt`] whose [`SignUpStep`] says what it needs next.
//!
//! ```
//! use latchkey::{Latchkey, MemoryStore, SignUpForm, SignUpStep};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = latchkey_emulator::Emulator::builder().start().await?;
//! # let lk = Latchkey::builder("com.example.notes")
//! #     .frontend_api_url(emu.url()).store(MemoryStore::new()).build()?;
//! let form = SignUpForm::new().email_address("jane@example.com").password("Doc-example-pass-7394");
//! let mut sign_up = lk.sign_up(form).await?;
//! assert_eq!(sign_up.next_step(), SignUpStep::VerifyEmail { code_sent: false });
//!
//! sign_up.prepare_email_code().await?; // emails a code
//! let code = read_code(&emu, "jane@example.com").await?; // what the user types
//! assert_eq!(sign_up.attempt_email_code(&code).await?, SignUpStep::Complete);
//!
//! // Signed in as the new user.
//! assert_eq!(lk.user().map(|u| u.id.clone()).as_deref(), sign_up.created_user_id());
//! # Ok(()) }
//! # async fn read_code(emu: &latchkey_emulator::Emulator, to: &str)
//! #     -> Result<String, Box<dyn std::error::Error>> {
//! #     // The emulator captures every email; its control API hands out the code.
//! #     let url = format!("{}/_emulator/v1/messages/latest?to={to}&wait_ms=5000", emu.url());
//! #     let message: serde_json::Value = reqwest::get(url).await?.error_for_status()?.json().await?;
//! #     Ok(message["code"].as_str().ok_or("no code")?.to_owned())
//! # }
//! ```

use std::fmt;

use latchkey_protocol::{self as wire, NextAction, SignUp, Strategy};
use serde_json::{Map, Value};

use crate::client::Latchkey;
use crate::error::Error;
use crate::secret::Secret;
use crate::transport::{Call, segment};

/// The fields of a sign-up. Set what the instance requires; the attempt's
/// [`missing_fields`](SignUpAttempt::missing_fields) tells what is still needed.
#[derive(Clone, Default)]
pub struct SignUpForm {
    email_address: Option<String>,
    phone_number: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
    first_name: Option<String>,
    last_name: Option<String>,
    unsafe_metadata: Option<Map<String, Value>>,
}

impl fmt::Debug for SignUpForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignUpForm")
            .field("email_address", &self.email_address)
            .field("phone_number", &self.phone_number)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("unsafe_metadata", &self.unsafe_metadata)
            .finish()
    }
}

impl SignUpForm {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// The email address to sign up with; it is verified by an emailed code.
    pub fn email_address(mut self, v: impl Into<String>) -> Self {
        self.email_address = Some(v.into());
        self
    }

    /// E.164 (`+14155552671`) or a form the server normalises.
    pub fn phone_number(mut self, v: impl Into<String>) -> Self {
        self.phone_number = Some(v.into());
        self
    }

    /// Only when the instance has usernames enabled.
    pub fn username(mut self, v: impl Into<String>) -> Self {
        self.username = Some(v.into());
        self
    }

    /// The password; the instance's password policy may refuse it (the error names
    /// `password`).
    pub fn password(mut self, v: impl Into<String>) -> Self {
        self.password = Some(Secret::new(v));
        self
    }

    /// Given name.
    pub fn first_name(mut self, v: impl Into<String>) -> Self {
        self.first_name = Some(v.into());
        self
    }

    /// Family name.
    pub fn last_name(mut self, v: impl Into<String>) -> Self {
        self.last_name = Some(v.into());
        self
    }

    /// Metadata the user may write (it lands in the user's `unsafe_metadata`).
    pub fn unsafe_metadata(mut self, v: Map<String, Value>) -> Self {
        self.unsafe_metadata = Some(v);
        self
    }

    fn into_call(self, call: Call) -> Call {
        call.form_opt("email_address", self.email_address)
            .form_opt("phone_number", self.phone_number)
            .form_opt("username", self.username)
            .form_opt("password", self.password.map(|p| p.expose().to_owned()))
            .form_opt("first_name", self.first_name)
            .form_opt("last_name", self.last_name)
            .form_opt(
                "unsafe_metadata",
                self.unsafe_metadata.map(|m| Value::Object(m).to_string()),
            )
    }
}

/// Where a sign-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignUpStatus {
    /// Fields are missing or unverified: see [`SignUpAttempt::next_step`].
    MissingRequirements,
    /// The user exists and is signed in on this device.
    Complete,
    /// The attempt expired unfinished: start a new sign-up.
    Abandoned,
    /// A status this SDK does not know.
    Other(String),
}

impl From<wire::SignUpStatus> for SignUpStatus {
    fn from(s: wire::SignUpStatus) -> Self {
        match s {
            wire::SignUpStatus::MissingRequirements => Self::MissingRequirements,
            wire::SignUpStatus::Complete => Self::Complete,
            wire::SignUpStatus::Abandoned => Self::Abandoned,
        }
    }
}

/// What a sign-up needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignUpStep {
    /// Supply these fields with [`SignUpAttempt::update`].
    MissingFields(Vec<String>),
    /// Verify the email address: send a code first unless `code_sent`.
    VerifyEmail {
        /// A code was sent: ask the user for it.
        code_sent: bool,
    },
    /// Verify the phone number: send a code first unless `code_sent`.
    VerifyPhone {
        /// A code was sent: ask the user for it.
        code_sent: bool,
    },
    /// Done: signed in.
    Complete,
    /// The attempt expired unfinished: start a new sign-up.
    Abandoned,
    /// A state this SDK does not know how to continue.
    Other(String),
}

/// A sign-up in progress. Each step sends one request and updates the attempt; a failed step
/// (a wrong code) leaves it as it was.
#[derive(Debug, Clone)]
pub struct SignUpAttempt {
    lk: Latchkey,
    raw: SignUp,
}

impl SignUpAttempt {
    /// The attempt's id (`sua_…`).
    pub fn id(&self) -> &str {
        &self.raw.id
    }

    /// Where the sign-up stands; [`next_step`](Self::next_step) says what to do about it.
    pub fn status(&self) -> SignUpStatus {
        match self.raw.status.parse::<wire::SignUpStatus>() {
            Ok(s) => s.into(),
            Err(_) => SignUpStatus::Other(self.raw.status.clone()),
        }
    }

    /// The next thing to do. Missing fields come first, then verifications (email before phone).
    pub fn next_step(&self) -> SignUpStep {
        match self.status() {
            SignUpStatus::Complete => return SignUpStep::Complete,
            SignUpStatus::Abandoned => return SignUpStep::Abandoned,
            _ => {}
        }
        if !self.raw.missing_fields.is_empty() {
            return SignUpStep::MissingFields(self.raw.missing_fields.clone());
        }
        let unverified = |f: &str| self.raw.unverified_fields.iter().any(|u| u == f);
        let sent = |v: Option<&latchkey_protocol::SignUpVerification>| {
            v.is_some_and(|v| v.next_action == NextAction::NeedsAttempt)
        };
        if unverified("email_address") {
            return SignUpStep::VerifyEmail {
                code_sent: sent(self.raw.verifications.email_address.as_ref()),
            };
        }
        if unverified("phone_number") {
            return SignUpStep::VerifyPhone {
                code_sent: sent(self.raw.verifications.phone_number.as_ref()),
            };
        }
        SignUpStep::Other(self.raw.status.clone())
    }

    /// Required fields not given yet (`first_name`, `password`, …).
    pub fn missing_fields(&self) -> &[String] {
        &self.raw.missing_fields
    }

    /// Given fields that still need a code (`email_address`, `phone_number`).
    pub fn unverified_fields(&self) -> &[String] {
        &self.raw.unverified_fields
    }

    /// The session the sign-up created, once complete.
    pub fn created_session_id(&self) -> Option<&str> {
        self.raw.created_session_id.as_deref()
    }

    /// The user the sign-up created, once complete.
    pub fn created_user_id(&self) -> Option<&str> {
        self.raw.created_user_id.as_deref()
    }

    /// The sign-up as the Frontend API sent it.
    pub fn raw(&self) -> &SignUp {
        &self.raw
    }

    fn path(&self) -> String {
        format!("/v1/client/sign_ups/{}", segment(&self.raw.id))
    }

    pub(crate) fn lk(&self) -> &Latchkey {
        &self.lk
    }

    pub(crate) async fn run(&mut self, call: Call) -> Result<SignUpStep, Error> {
        self.raw = self.lk.inner.envelope(call).await?;
        Ok(self.next_step())
    }

    /// Adds or changes fields (e.g. a username the instance requires).
    pub async fn update(&mut self, form: SignUpForm) -> Result<SignUpStep, Error> {
        let call = form.into_call(Call::patch(self.path()));
        self.run(call).await
    }

    /// Emails a verification code (or a new one).
    pub async fn prepare_email_code(&mut self) -> Result<SignUpStep, Error> {
        self.prepare(Strategy::EmailCode).await
    }

    /// Texts a verification code (or a new one).
    pub async fn prepare_phone_code(&mut self) -> Result<SignUpStep, Error> {
        self.prepare(Strategy::PhoneCode).await
    }

    async fn prepare(&mut self, strategy: Strategy) -> Result<SignUpStep, Error> {
        let call =
            Call::post(format!("{}/prepare_verification", self.path())).form("strategy", strategy);
        self.run(call).await
    }

    /// Verifies the email address with the emailed code.
    pub async fn attempt_email_code(&mut self, code: &str) -> Result<SignUpStep, Error> {
        self.attempt(Strategy::EmailCode, code).await
    }

    /// Verifies the phone number with the texted code.
    pub async fn attempt_phone_code(&mut self, code: &str) -> Result<SignUpStep, Error> {
        self.attempt(Strategy::PhoneCode, code).await
    }

    #[tracing::instrument(skip_all)]
    async fn attempt(&mut self, strategy: Strategy, code: &str) -> Result<SignUpStep, Error> {
        let call = Call::post(format!("{}/attempt_verification", self.path()))
            .form("strategy", strategy)
            .form("code", code.trim());
        self.run(call).await
    }

    /// Fetches the attempt again.
    pub async fn reload(&mut self) -> Result<SignUpStep, Error> {
        let call = Call::get(self.path());
        self.run(call).await
    }
}

impl Latchkey {
    /// Starts a sign-up with these fields. Continue as [`SignUpAttempt::next_step`] says; the
    /// last step signs the new user in.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(&self, form: SignUpForm) -> Result<SignUpAttempt, Error> {
        self.create_sign_up(form.into_call(Call::post("/v1/client/sign_ups")))
            .await
    }

    pub(crate) async fn create_sign_up(&self, call: Call) -> Result<SignUpAttempt, Error> {
        let raw: SignUp = self.inner.envelope(call).await?;
        Ok(SignUpAttempt {
            lk: self.clone(),
            raw,
        })
    }
}
