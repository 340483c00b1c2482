//! The sign-up state machine: collect fields, verify email/phone by code, create the user and
//! the first session.

use serde_json::{Map, Value};

use super::clients::ClientCtx;
use super::messages::{self, Template, TEST_CODE};
use super::{ids, passwords, sessions, users, Committed, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{MessageKind, PendingCode, SignUpState};
use crate::store::Tx;
use latchkey_protocol::{SignUpStatus, Strategy, VerificationStatus};

/// Fields of `POST /v1/client/sign_ups` and `PATCH …/{id}`; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct SignUpInput {
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub unsafe_metadata: Option<Map<String, Value>>,
    /// Prepare this verification right away (`email_code`, `phone_code`). Parsed by the
    /// handler: an unknown strategy never gets here.
    pub strategy: Option<Strategy>,
}

const ABANDON_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Starts a sign-up on the client, replacing any earlier one.
pub fn create(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    input: SignUpInput,
) -> Result<SignUpState, DomainError> {
    if env.settings.sign_up_mode != "public" {
        return Err(DomainError::SignUpRestricted);
    }
    let mut state = SignUpState {
        id: ids::new_id("sua"),
        client_id: client.record.id.clone(),
        status: SignUpStatus::MissingRequirements,
        email_address: None,
        phone_number: None,
        username: None,
        first_name: None,
        last_name: None,
        password_hash: None,
        unsafe_metadata: Map::new(),
        external_id: None,
        email_verification: None,
        phone_verification: None,
        external_account: None,
        created_user_id: None,
        created_session_id: None,
        abandon_at: env.now + ABANDON_AFTER_MS,
        created_at: env.now,
    };
    apply(tx, env, client, &mut state, input)?;
    client.record.sign_up_id = Some(state.id.clone());
    client.save(env.now)?;
    Ok(state)
}

/// Loads the client's sign-up by id.
pub fn load(tx: &Tx<'_>, client: &ClientCtx, id: &str) -> Result<SignUpState, DomainError> {
    match tx.sign_up(id)? {
        Some(s) if s.client_id == client.record.id => Ok(s),
        _ => Err(DomainError::NotFound("sign_up")),
    }
}

pub fn update(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
    input: SignUpInput,
) -> Result<(), DomainError> {
    ensure_open(state, env.now)?;
    apply(tx, env, client, state, input)
}

fn ensure_open(state: &SignUpState, now: i64) -> Result<(), DomainError> {
    if state.status == SignUpStatus::Complete {
        return Err(DomainError::InvalidState(
            "this sign-up is already complete".into(),
        ));
    }
    if now >= state.abandon_at {
        return Err(DomainError::InvalidState(
            "this sign-up was abandoned".into(),
        ));
    }
    Ok(())
}

fn apply(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
    input: SignUpInput,
) -> Result<(), DomainError> {
    let s = env.settings;
    let disabled = |param: &'static str| DomainError::ParamValue {
        param,
        reason: "is not enabled for this instance".into(),
    };
    if let Some(raw) = input.email_address {
        if !s.email_address.enabled {
            return Err(disabled("email_address"));
        }
        let email = users::normalize_email(&raw)?;
        users::ensure_email_free(tx, &email)?;
        if state.email_address.as_deref() != Some(email.as_str()) {
            state.email_verification = None;
        }
        state.email_address = Some(email);
    }
    if let Some(raw) = input.phone_number {
        if !s.phone_number.enabled {
            return Err(disabled("phone_number"));
        }
        let phone = users::normalize_phone(&raw)?;
        users::ensure_phone_free(tx, &phone)?;
        if state.phone_number.as_deref() != Some(phone.as_str()) {
            state.phone_verification = None;
        }
        state.phone_number = Some(phone);
    }
    if let Some(raw) = input.username {
        if !s.username.enabled {
            return Err(disabled("username"));
        }
        let name = users::validate_username(&raw)?;
        users::ensure_username_free(tx, &name)?;
        state.username = Some(name);
    }
    if let Some(pw) = input.password {
        let identifiers: Vec<&str> = [&state.email_address, &state.phone_number, &state.username]
            .into_iter()
            .filter_map(|v| v.as_deref())
            .collect();
        passwords::check_new(pw.expose(), s, &identifiers)?;
        state.password_hash = Some(env.hash_password(pw.expose())?);
    }
    if let Some(v) = input.first_name {
        state.first_name = Some(v).filter(|v| !v.is_empty());
    }
    if let Some(v) = input.last_name {
        state.last_name = Some(v).filter(|v| !v.is_empty());
    }
    if let Some(m) = input.unsafe_metadata {
        state.unsafe_metadata = m;
    }
    if let Some(strategy) = input.strategy {
        prepare_code(tx, env, state, strategy)?;
    }
    settle(tx, env, client, state)
}

/// Sends a fresh code for `email_code` or `phone_code`.
pub fn prepare(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignUpState,
    strategy: Strategy,
) -> Result<(), DomainError> {
    ensure_open(state, env.now)?;
    prepare_code(tx, env, state, strategy)?;
    tx.save_sign_up(state)?;
    Ok(())
}

fn prepare_code(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignUpState,
    strategy: Strategy,
) -> Result<(), DomainError> {
    let (to, kind, test) = match strategy {
        Strategy::EmailCode => {
            let to = state
                .email_address
                .clone()
                .ok_or(DomainError::ParamMissing("email_address"))?;
            let test = messages::is_test_email(&to);
            (to, MessageKind::Email, test)
        }
        Strategy::PhoneCode => {
            let to = state
                .phone_number
                .clone()
                .ok_or(DomainError::ParamMissing("phone_number"))?;
            let test = messages::is_test_phone(&to);
            (to, MessageKind::Sms, test)
        }
        _ => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: "must be email_code or phone_code".into(),
            })
        }
    };
    let slot = match kind {
        MessageKind::Email => &mut state.email_verification,
        MessageKind::Sms => &mut state.phone_verification,
    };
    if slot
        .as_ref()
        .is_some_and(|v| v.status == VerificationStatus::Verified)
    {
        return Err(DomainError::AlreadyVerified);
    }
    let code = if test {
        TEST_CODE.to_owned()
    } else {
        ids::six_digit_code()
    };
    *slot = Some(PendingCode {
        strategy: strategy.into(),
        code: Secret::new(code.clone()),
        attempts: 0,
        expire_at: env.now + env.settings.code_lifetime_secs * 1000,
        status: VerificationStatus::Unverified,
        identification_id: None,
    });
    if !test {
        messages::send_code(tx, env, kind, &to, Template::VerificationCode, &code)?;
    }
    Ok(())
}

/// `prepare_verification strategy=email_link`: emails a link that verifies the sign-up's
/// email address when opened (see `domain/email_links.rs`).
pub fn prepare_email_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignUpState,
    target: &super::email_links::LinkTarget,
) -> Result<(), DomainError> {
    ensure_open(state, env.now)?;
    if !env.settings.email_address.email_link {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: "\"email_link\" is not enabled on this instance".into(),
        });
    }
    let to = state
        .email_address
        .clone()
        .ok_or(DomainError::ParamMissing("email_address"))?;
    if state
        .email_verification
        .as_ref()
        .is_some_and(|v| v.status == VerificationStatus::Verified)
    {
        return Err(DomainError::AlreadyVerified);
    }
    let pending = super::email_links::send(
        tx,
        env,
        super::email_links::LinkFor {
            purpose: crate::store::records::EmailLinkPurpose::SignUp,
            flow_id: &state.id,
            client_id: &state.client_id,
            user_id: None,
            identification_id: None,
            to: &to,
        },
        target,
    )?;
    state.email_verification = Some(pending);
    tx.save_sign_up(state)?;
    Ok(())
}

/// After an email link verified the address: saves the sign-up and completes it on `client`
/// (the one that asked for the link) when nothing else is missing.
pub fn settle_after_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
) -> Result<(), DomainError> {
    if env.now >= state.abandon_at || state.status != SignUpStatus::MissingRequirements {
        return Err(DomainError::InvalidState("this sign-up is closed".into()));
    }
    settle(tx, env, client, state)
}

/// Checks a code. A wrong code is counted (committed) before the error is returned.
pub fn attempt(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
    strategy: Strategy,
    code: &str,
) -> Committed<()> {
    ensure_open(state, env.now)?;
    let slot = match strategy {
        Strategy::EmailCode => &mut state.email_verification,
        Strategy::PhoneCode => &mut state.phone_verification,
        _ => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: "must be email_code or phone_code".into(),
            })
        }
    };
    let pending = slot
        .as_mut()
        // A link is verified by opening it, not by a code.
        .filter(|p| p.strategy == strategy)
        .ok_or_else(|| {
            DomainError::InvalidState(format!("prepare_verification with {strategy} first"))
        })?;
    match check_code(pending, code, env) {
        Ok(()) => {}
        Err(e) => {
            tx.save_sign_up(state)?;
            return Ok(Err(e));
        }
    }
    settle(tx, env, client, state)?;
    Ok(Ok(()))
}

/// Shared code check for sign-up and sign-in verifications.
pub fn check_code(pending: &mut PendingCode, code: &str, env: &Env<'_>) -> Result<(), DomainError> {
    match pending.status {
        VerificationStatus::Verified => return Err(DomainError::AlreadyVerified),
        VerificationStatus::Failed => return Err(DomainError::VerificationFailed),
        VerificationStatus::Expired => return Err(DomainError::VerificationExpired),
        VerificationStatus::Unverified | VerificationStatus::Transferable => {}
    }
    if env.now >= pending.expire_at {
        pending.status = VerificationStatus::Expired;
        return Err(DomainError::VerificationExpired);
    }
    pending.attempts += 1;
    if pending.code.matches(code.trim()) {
        pending.status = VerificationStatus::Verified;
        return Ok(());
    }
    if pending.attempts >= env.settings.code_max_attempts {
        pending.status = VerificationStatus::Failed;
        return Err(DomainError::VerificationFailed);
    }
    Err(DomainError::CodeIncorrect)
}

/// Missing fields by the instance's requirements.
pub fn missing_fields(env: &Env<'_>, state: &SignUpState) -> Vec<&'static str> {
    env.settings
        .required_fields()
        .into_iter()
        .filter(|f| match *f {
            "email_address" => state.email_address.is_none(),
            "phone_number" => state.phone_number.is_none(),
            "username" => state.username.is_none(),
            "first_name" => state.first_name.is_none(),
            "last_name" => state.last_name.is_none(),
            // A provider that verified the sign-up stands in for the password.
            "password" => state.password_hash.is_none() && !through_provider(state),
            _ => false,
        })
        .collect()
}

/// Whether a provider verified this sign-up (OAuth).
fn through_provider(state: &SignUpState) -> bool {
    state
        .external_account
        .as_ref()
        .is_some_and(|v| v.status == VerificationStatus::Verified)
}

pub fn unverified_fields(env: &Env<'_>, state: &SignUpState) -> Vec<&'static str> {
    let mut out = Vec::new();
    let verified = |v: &Option<PendingCode>| {
        v.as_ref()
            .is_some_and(|v| v.status == VerificationStatus::Verified)
    };
    if state.email_address.is_some()
        && env.settings.email_address.verify_at_sign_up
        && !verified(&state.email_verification)
    {
        out.push("email_address");
    }
    if state.phone_number.is_some()
        && env.settings.phone_number.verify_at_sign_up
        && !verified(&state.phone_verification)
    {
        out.push("phone_number");
    }
    out
}

/// Saves the sign-up, completing it (user + session) when nothing is missing or unverified.
fn settle(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
) -> Result<(), DomainError> {
    let external = state
        .external_account
        .as_ref()
        .filter(|v| v.status == VerificationStatus::Verified)
        .and_then(|v| {
            v.identity
                .clone()
                .map(|identity| super::oauth::ExternalFor {
                    strategy: v.strategy.clone(),
                    identity,
                })
        });
    settle_with(tx, env, client, state, external.as_ref())
}

/// [`settle`] with the provider account the new user gets (an OAuth sign-up).
pub(super) fn settle_with(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
    external: Option<&super::oauth::ExternalFor>,
) -> Result<(), DomainError> {
    if missing_fields(env, state).is_empty() && unverified_fields(env, state).is_empty() {
        // Identifiers may have been taken since they were entered.
        let new = users::NewUser {
            emails: state.email_address.iter().cloned().collect(),
            phones: state.phone_number.iter().cloned().collect(),
            email_strategy: state
                .email_verification
                .as_ref()
                .map_or(Strategy::EmailCode.into(), |v| v.strategy.clone()),
            phone_strategy: Strategy::PhoneCode,
            username: state.username.clone(),
            password_hash: state.password_hash.clone(),
            first_name: state.first_name.clone(),
            last_name: state.last_name.clone(),
            external_id: None,
            public_metadata: Map::new(),
            private_metadata: Map::new(),
            unsafe_metadata: state.unsafe_metadata.clone(),
            created_at: None,
        };
        let mut created = users::create_with(tx, env, new, |u| match external {
            Some(x) => super::oauth::link_new_user(tx, env, u, x),
            None => Ok(()),
        })?;
        let strategy = if let Some(x) = external {
            x.strategy.clone()
        } else if let Some(v) = &state.email_verification {
            v.strategy.clone()
        } else if state.phone_verification.is_some() {
            Strategy::PhoneCode.into()
        } else {
            Strategy::Password.into()
        };
        let session = sessions::create(tx, env, client, &mut created.user, strategy)?;
        state.status = SignUpStatus::Complete;
        state.created_user_id = Some(created.user.id.clone());
        state.created_session_id = Some(session.id);
    }
    tx.save_sign_up(state)?;
    Ok(())
}
