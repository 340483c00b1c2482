//! The sign-in state machine: identify, prove a first factor (password or code), optionally
//! reset the password, then create a session.

use super::clients::ClientCtx;
use super::messages::{self, Template, TEST_CODE};
use super::sign_up::check_code;
use super::{
    attack, email_links, ids, mfa, passwords, sessions, users, Committed, DomainError, Env,
};
use crate::secret::Secret;
use crate::store::records::{
    EmailLinkPurpose, EmailLinkRecord, FirstFactor, IdentKind, MessageKind, PendingCode,
    SecondFactor, SessionStatus, SignInState, UserWithIdents,
};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::{AnyStrategy, EventType, SignInStatus, Strategy, VerificationStatus};

#[derive(Debug, Default, Clone)]
pub struct SignInInput {
    pub identifier: Option<String>,
    pub password: Option<Secret>,
    /// Parsed by the handler: an unknown strategy never gets here.
    pub strategy: Option<Strategy>,
    /// `strategy=ticket`: a sign-in token's ticket.
    pub ticket: Option<Secret>,
}

const ABANDON_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Whether enumeration protection hides which identifiers have accounts.
fn hiding_identifiers(env: &Env<'_>) -> bool {
    env.settings
        .attack_protection
        .enumeration_protection
        .enabled
}

/// A wrong password as the client may learn it: with enumeration protection, the same as an
/// unknown identifier.
fn wrong_password(env: &Env<'_>, e: DomainError) -> DomainError {
    match e {
        DomainError::PasswordIncorrect if hiding_identifiers(env) => {
            DomainError::PasswordOrIdentifierIncorrect
        }
        e => e,
    }
}

/// Starts a sign-in, replacing any earlier one on the client. A wrong password is counted
/// towards the user's lockout and committed before the error returns.
///
/// With enumeration protection on, an unknown identifier is not revealed: with a password it
/// fails as a wrong password does (`form_password_or_identifier_incorrect`); alone it starts a
/// sign-in in `needs_first_factor` like any other (Clerk's strict protection "continues to the
/// verification screen instead of failing"), offering the password, whose attempts then fail
/// the same way, and codes that are never sent.
pub fn create(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    input: SignInInput,
) -> Committed<SignInState> {
    let mut state = SignInState {
        id: ids::new_id("sia"),
        client_id: client.record.id.clone(),
        status: SignInStatus::NeedsIdentifier,
        identifier: None,
        user_id: None,
        first_factor: None,
        first_factor_at: None,
        second_factor: None,
        created_session_id: None,
        abandon_at: env.now + ABANDON_AFTER_MS,
        created_at: env.now,
    };
    if input.strategy == Some(Strategy::Ticket) {
        let ticket = input.ticket.ok_or(DomainError::ParamMissing("ticket"))?;
        let mut user = super::sign_in_tokens::redeem(tx, env, ticket.expose())?;
        attack::ensure_not_locked(tx, env, &user.user)?;
        state.user_id = Some(user.user.id.clone());
        state.first_factor = Some(FirstFactor::Ticket);
        complete(tx, env, client, &mut state, &mut user, Strategy::Ticket)?;
    } else if let Some(identifier) = input.identifier.filter(|i| !i.trim().is_empty()) {
        state.identifier = Some(identifier.trim().to_owned());
        state.status = SignInStatus::NeedsFirstFactor;
        match users::find_by_identifier(tx, env.settings, &identifier)? {
            None if !hiding_identifiers(env) => return Err(DomainError::IdentifierNotFound),
            None if input.password.is_some() => {
                return Err(DomainError::PasswordOrIdentifierIncorrect)
            }
            None => {
                if let Some(strategy) = input.strategy.filter(|s| *s != Strategy::Password) {
                    prepare_hidden(env, &mut state, strategy)?;
                }
            }
            Some(mut user) => {
                users::ensure_may_sign_in(&user.user)?;
                attack::ensure_not_locked(tx, env, &user.user)?;
                state.user_id = Some(user.user.id.clone());
                if let Some(pw) = input.password {
                    if let Err(e) = verify_password(tx, env, &mut user, &pw)? {
                        let e = wrong_password(env, e);
                        return Ok(Err(attack::failed_attempt(tx, env, &user.user, e)?));
                    }
                    password_usable_on_sign_in(env, &pw)?;
                    state.first_factor = Some(FirstFactor::Password {
                        verified: true,
                        attempts: 1,
                    });
                    complete(tx, env, client, &mut state, &mut user, Strategy::Password)?;
                } else if let Some(strategy) = input.strategy.filter(|s| *s != Strategy::Password) {
                    prepare_factor(tx, env, &mut state, &user, strategy, None)?;
                }
            }
        }
    } else if input.password.is_some() {
        return Err(DomainError::ParamMissing("identifier"));
    }
    tx.save_sign_in(&state)?;
    client.record.sign_in_id = Some(state.id.clone());
    client.save(env.now)?;
    Ok(Ok(state))
}

/// A right password that `enforce_hibp_on_sign_in` refuses: it is on the common-password list,
/// so the user must reset it (`form_password_pwned`, which Clerk's UI answers with a reset).
fn password_usable_on_sign_in(env: &Env<'_>, pw: &Secret) -> Result<(), DomainError> {
    if passwords::refused_on_sign_in(pw.expose(), env.settings) {
        return Err(DomainError::PasswordPwned);
    }
    Ok(())
}

/// Whether `state` is a sign-in for an identifier with no account, kept up under enumeration
/// protection.
fn is_hidden(state: &SignInState) -> bool {
    state.user_id.is_none() && state.status == SignInStatus::NeedsFirstFactor
}

/// "Sends" a code for a sign-in with no account under enumeration protection: the verification
/// looks as any other, a random code nobody receives is kept, and every attempt fails.
fn prepare_hidden(
    env: &Env<'_>,
    state: &mut SignInState,
    strategy: Strategy,
) -> Result<(), DomainError> {
    match strategy {
        Strategy::EmailCode
        | Strategy::PhoneCode
        | Strategy::ResetPasswordEmailCode
        | Strategy::ResetPasswordPhoneCode => {}
        other => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: format!("{:?} is not supported", other.as_str()),
            })
        }
    }
    state.first_factor = Some(FirstFactor::Code(PendingCode {
        strategy: strategy.into(),
        code: Secret::new(ids::random_base62(32)),
        attempts: 0,
        expire_at: env.now + env.settings.code_lifetime_secs * 1000,
        status: VerificationStatus::Unverified,
        identification_id: None,
    }));
    Ok(())
}

/// The digest a password sign-in with `identifier` would be checked against, so the caller can
/// check it before the write transaction (the domain checks again that it still applies).
pub fn digest_for_identifier(
    tx: &ReadTx<'_>,
    settings: &super::settings::Settings,
    identifier: &str,
) -> Result<Option<Secret>, DomainError> {
    let Some(id) = users::user_id_of_identifier(tx, settings, identifier)? else {
        return Ok(None);
    };
    Ok(tx.user(&id)?.and_then(|u| u.password_hash))
}

/// The digest a password attempt on sign-in `id` would be checked against (see
/// [`digest_for_identifier`]).
pub fn digest_for_attempt(tx: &ReadTx<'_>, id: &str) -> Result<Option<Secret>, DomainError> {
    let Some(state) = tx.sign_in(id)? else {
        return Ok(None);
    };
    let Some(user_id) = state.user_id else {
        return Ok(None);
    };
    Ok(tx.user(&user_id)?.and_then(|u| u.password_hash))
}

pub fn load(tx: &Tx<'_>, client: &ClientCtx, id: &str) -> Result<SignInState, DomainError> {
    match tx.sign_in(id)? {
        Some(s) if s.client_id == client.record.id => Ok(s),
        _ => Err(DomainError::NotFound("sign_in")),
    }
}

fn user_of(tx: &Tx<'_>, state: &SignInState) -> Result<UserWithIdents, DomainError> {
    let id = state
        .user_id
        .as_deref()
        .ok_or_else(|| DomainError::InvalidState("identify the user first".into()))?;
    let user = tx
        .user_with_idents(id)?
        .ok_or(DomainError::IdentifierNotFound)?;
    users::ensure_may_sign_in(&user.user)?;
    Ok(user)
}

fn ensure_status(state: &SignInState, now: i64, wanted: SignInStatus) -> Result<(), DomainError> {
    if now >= state.abandon_at {
        return Err(DomainError::InvalidState(
            "this sign-in was abandoned".into(),
        ));
    }
    if state.status != wanted {
        return Err(DomainError::InvalidState(format!(
            "this sign-in is {}, not {wanted}",
            state.status
        )));
    }
    Ok(())
}

/// Checks the password (the outer error asks for the check to be made outside the
/// transaction; the inner one is a wrong password). A digest with other parameters than the
/// instance's (an imported one) is replaced by the instance's own once the password is known
/// to be right. Sign-in and session reverification share it.
pub(super) fn verify_password(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &mut UserWithIdents,
    pw: &Secret,
) -> Committed<()> {
    let Some(digest) = user.user.password_hash.clone() else {
        return Ok(Err(DomainError::PasswordIncorrect));
    };
    if !env.verify_password(pw.expose(), &digest)? {
        return Ok(Err(DomainError::PasswordIncorrect));
    }
    if env.hasher.needs_rehash(&digest) {
        user.user.password_hash = Some(env.hash_password(pw.expose())?);
        tx.save_user(&user.user)?;
    }
    Ok(Ok(()))
}

/// `prepare_first_factor`: sends a code for `email_code`, `phone_code`,
/// `reset_password_email_code` or `reset_password_phone_code`.
pub fn prepare_first_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignInState,
    strategy: Strategy,
    ident_id: Option<&str>,
) -> Result<(), DomainError> {
    ensure_status(state, env.now, SignInStatus::NeedsFirstFactor)?;
    if is_hidden(state) {
        prepare_hidden(env, state, strategy)?;
    } else {
        let user = user_of(tx, state)?;
        prepare_factor(tx, env, state, &user, strategy, ident_id)?;
    }
    tx.save_sign_in(state)?;
    Ok(())
}

/// `prepare_first_factor strategy=email_link`: emails a link to `ident_id` (else the
/// identifier typed, else the primary address) that verifies this sign-in when opened (see
/// `domain/email_links.rs`). Under enumeration protection, an unknown identifier gets a
/// verification that looks the same and no email.
pub fn prepare_email_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignInState,
    ident_id: Option<&str>,
    target: &email_links::LinkTarget,
) -> Result<(), DomainError> {
    ensure_status(state, env.now, SignInStatus::NeedsFirstFactor)?;
    if !env.settings.email_address.email_link {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: "\"email_link\" is not enabled on this instance".into(),
        });
    }
    if is_hidden(state) {
        state.first_factor = Some(FirstFactor::Code(PendingCode {
            strategy: Strategy::EmailLink.into(),
            code: Secret::new(ids::random_base62(32)),
            attempts: 0,
            expire_at: env.now + env.settings.code_lifetime_secs * 1000,
            status: VerificationStatus::Unverified,
            identification_id: None,
        }));
        tx.save_sign_in(state)?;
        return Ok(());
    }
    let user = user_of(tx, state)?;
    let ident = user
        .emails()
        .filter(|i| i.verified)
        .find(|i| match ident_id {
            Some(id) => i.id == id,
            None => state.identifier.as_deref() == Some(i.value.as_str()),
        })
        .or_else(|| ident_id.is_none().then(|| user.primary_email()).flatten())
        .ok_or(DomainError::NotFound("email_address"))?;
    let pending = send_link(
        tx,
        env,
        state,
        &user,
        ident,
        EmailLinkPurpose::SignInFirstFactor,
        target,
    )?;
    state.first_factor = Some(FirstFactor::Code(pending));
    tx.save_sign_in(state)?;
    Ok(())
}

/// Emails `user` a link for `purpose` of this sign-in, to `ident`.
fn send_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &SignInState,
    user: &UserWithIdents,
    ident: &crate::store::records::Identification,
    purpose: EmailLinkPurpose,
    target: &email_links::LinkTarget,
) -> Result<PendingCode, DomainError> {
    email_links::send(
        tx,
        env,
        email_links::LinkFor {
            purpose,
            flow_id: &state.id,
            client_id: &state.client_id,
            user_id: Some(&user.user.id),
            identification_id: Some(&ident.id),
            to: &ident.value,
        },
        target,
    )
}

/// Whether `link` is the one this sign-in waits for, still unverified and in time.
pub fn link_is_current(state: &SignInState, link: &EmailLinkRecord, now: i64) -> bool {
    state.status == SignInStatus::NeedsFirstFactor
        && now < state.abandon_at
        && matches!(&state.first_factor, Some(FirstFactor::Code(p))
            if email_links::is_link_of(p, link) && p.status == VerificationStatus::Unverified)
}

/// Marks the sign-in's email link verified (native flow: the app signs in with a ticket).
pub fn mark_link_verified(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignInState,
) -> Result<(), DomainError> {
    if let Some(FirstFactor::Code(p)) = &mut state.first_factor {
        p.status = VerificationStatus::Verified;
    }
    state.first_factor_at = Some(env.now);
    tx.save_sign_in(state)?;
    Ok(())
}

/// An opened email link verifies the first factor: the sign-in completes on `client` (the one
/// that asked for the link), or waits for the second factor.
pub fn verify_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
) -> Result<(), DomainError> {
    let mut user = user_of(tx, state)?;
    attack::ensure_not_locked(tx, env, &user.user)?;
    if let Some(FirstFactor::Code(p)) = &mut state.first_factor {
        p.status = VerificationStatus::Verified;
    }
    complete(tx, env, client, state, &mut user, Strategy::EmailLink)?;
    tx.save_sign_in(state)?;
    Ok(())
}

fn prepare_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignInState,
    user: &UserWithIdents,
    strategy: Strategy,
    ident_id: Option<&str>,
) -> Result<(), DomainError> {
    let pending = first_factor_code(
        tx,
        env,
        user,
        strategy,
        ident_id,
        state.identifier.as_deref(),
    )?;
    state.first_factor = Some(FirstFactor::Code(pending));
    Ok(())
}

/// Sends a first-factor code (`email_code`, `phone_code`, `reset_password_email_code`,
/// `reset_password_phone_code`) to `ident_id`, else to the identification typed as
/// `identifier`, else to the primary one; the pending code to check later. Sign-in and session
/// reverification share it.
pub(super) fn first_factor_code(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &UserWithIdents,
    strategy: Strategy,
    ident_id: Option<&str>,
    identifier: Option<&str>,
) -> Result<PendingCode, DomainError> {
    let (kind, template) = match strategy {
        Strategy::EmailCode => (IdentKind::EmailAddress, Template::VerificationCode),
        Strategy::PhoneCode => (IdentKind::PhoneNumber, Template::VerificationCode),
        Strategy::ResetPasswordEmailCode => (IdentKind::EmailAddress, Template::ResetPasswordCode),
        Strategy::ResetPasswordPhoneCode => (IdentKind::PhoneNumber, Template::ResetPasswordCode),
        Strategy::Password => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: "password needs no preparation".into(),
            })
        }
        Strategy::Admin
        | Strategy::EmailLink
        | Strategy::Ticket
        | Strategy::Passkey
        | Strategy::Totp
        | Strategy::BackupCode
        | Strategy::Saml
        | Strategy::EnterpriseSso
        | Strategy::OAuthGoogle
        | Strategy::OAuthGithub
        | Strategy::OAuthApple
        | Strategy::OAuthMicrosoft
        | Strategy::FromOAuthGoogle
        | Strategy::FromOAuthGithub
        | Strategy::FromOAuthApple
        | Strategy::FromOAuthMicrosoft
        | Strategy::OAuthTokenGoogle
        | Strategy::OAuthTokenApple
        | Strategy::OAuthTokenGithub
        | Strategy::OAuthTokenMicrosoft
        | Strategy::GoogleOneTap => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: format!("{:?} is not supported", strategy.as_str()),
            })
        }
    };
    if template == Template::ResetPasswordCode && user.user.password_hash.is_none() {
        return Err(DomainError::InvalidState(
            "this user has no password".into(),
        ));
    }
    // The identification: the one asked for, else the identifier used, else the primary one.
    let ident = user
        .idents
        .iter()
        // Unverified identifications (added on `/v1/me`, not confirmed yet) get no codes here.
        .filter(|i| i.kind == kind && i.verified)
        .find(|i| match ident_id {
            Some(id) => i.id == id,
            None => identifier == Some(i.value.as_str()),
        })
        .or_else(|| match (ident_id, kind) {
            (Some(_), _) => None,
            (None, IdentKind::EmailAddress) => user.primary_email(),
            (None, IdentKind::PhoneNumber) => user.primary_phone(),
        })
        .ok_or(match (ident_id, kind) {
            (Some(_), IdentKind::EmailAddress) => DomainError::NotFound("email_address"),
            (Some(_), IdentKind::PhoneNumber) => DomainError::NotFound("phone_number"),
            (None, IdentKind::EmailAddress) => DomainError::ParamValue {
                param: "strategy",
                reason: "this user has no email address".into(),
            },
            (None, IdentKind::PhoneNumber) => DomainError::ParamValue {
                param: "strategy",
                reason: "this user has no phone number".into(),
            },
        })?;
    let (msg_kind, test) = match kind {
        IdentKind::EmailAddress => (MessageKind::Email, messages::is_test_email(&ident.value)),
        IdentKind::PhoneNumber => (MessageKind::Sms, messages::is_test_phone(&ident.value)),
    };
    let code = if test {
        TEST_CODE.to_owned()
    } else {
        ids::six_digit_code()
    };
    let pending = PendingCode {
        strategy: strategy.into(),
        code: Secret::new(code.clone()),
        attempts: 0,
        expire_at: env.now + env.settings.code_lifetime_secs * 1000,
        status: VerificationStatus::Unverified,
        identification_id: Some(ident.id.clone()),
    };
    if !test {
        messages::send_code(tx, env, msg_kind, &ident.value, template, &code)?;
    }
    Ok(pending)
}

/// `attempt_first_factor`. Wrong passwords and codes are counted (committed) before the error
/// returns: on the attempt, and towards the user's lockout.
pub fn attempt_first_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
    strategy: Strategy,
    password: Option<&Secret>,
    code: Option<&str>,
) -> Committed<()> {
    ensure_status(state, env.now, SignInStatus::NeedsFirstFactor)?;
    if strategy == Strategy::EmailLink {
        // Proved by opening the link (`GET /v1/verify`), never by a code.
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: "\"email_link\" is verified by opening the emailed link".into(),
        });
    }
    if is_hidden(state) {
        return attempt_hidden(tx, state, strategy, password, code, env);
    }
    let mut user = user_of(tx, state)?;
    attack::ensure_not_locked(tx, env, &user.user)?;
    if strategy == Strategy::Password {
        let pw = password.ok_or(DomainError::ParamMissing("password"))?;
        if let Err(e) = attempt_password(tx, env, &mut user, &mut state.first_factor, pw)? {
            tx.save_sign_in(state)?;
            let e = wrong_password(env, e);
            return Ok(Err(attack::failed_attempt(tx, env, &user.user, e)?));
        }
        password_usable_on_sign_in(env, pw)?;
        complete(tx, env, client, state, &mut user, Strategy::Password)?;
        tx.save_sign_in(state)?;
        return Ok(Ok(()));
    }
    let code = code.ok_or(DomainError::ParamMissing("code"))?;
    if let Err(e) = attempt_code(env, &mut state.first_factor, strategy, code)? {
        tx.save_sign_in(state)?;
        let e = match e {
            DomainError::CodeIncorrect | DomainError::VerificationFailed => {
                attack::failed_attempt(tx, env, &user.user, e)?
            }
            e => e,
        };
        return Ok(Err(e));
    }
    if strategy.resets_password() {
        state.status = SignInStatus::NeedsNewPassword;
    } else {
        complete(tx, env, client, state, &mut user, strategy)?;
    }
    tx.save_sign_in(state)?;
    Ok(Ok(()))
}

/// An attempt on a sign-in with no account (enumeration protection): a password fails as a
/// wrong one would, a code as a wrong code would; the attempts are counted on the sign-in.
fn attempt_hidden(
    tx: &Tx<'_>,
    state: &mut SignInState,
    strategy: Strategy,
    password: Option<&Secret>,
    code: Option<&str>,
    env: &Env<'_>,
) -> Committed<()> {
    if strategy == Strategy::Password {
        password.ok_or(DomainError::ParamMissing("password"))?;
        let attempts = match &state.first_factor {
            Some(FirstFactor::Password { attempts, .. }) => attempts + 1,
            _ => 1,
        };
        state.first_factor = Some(FirstFactor::Password {
            verified: false,
            attempts,
        });
        tx.save_sign_in(state)?;
        return Ok(Err(DomainError::PasswordOrIdentifierIncorrect));
    }
    let code = code.ok_or(DomainError::ParamMissing("code"))?;
    let pending = match &mut state.first_factor {
        Some(FirstFactor::Code(p)) if p.strategy == strategy => p,
        _ => {
            return Err(DomainError::InvalidState(format!(
                "prepare_first_factor with {strategy} first"
            )))
        }
    };
    // Nobody has the code; even a lucky guess fails.
    let e = match check_code(pending, code, env) {
        Ok(()) => {
            pending.status = VerificationStatus::Unverified;
            DomainError::CodeIncorrect
        }
        Err(e) => e,
    };
    tx.save_sign_in(state)?;
    Ok(Err(e))
}

/// A password attempt on the first-factor verification `factor` (which it updates with the
/// attempt). `Ok(Err(_))`: a wrong password, to commit. Sign-in and session reverification
/// share it.
pub(super) fn attempt_password(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &mut UserWithIdents,
    factor: &mut Option<FirstFactor>,
    pw: &Secret,
) -> Committed<()> {
    let attempts = match factor {
        Some(FirstFactor::Password { attempts, .. }) => *attempts + 1,
        _ => 1,
    };
    let result = verify_password(tx, env, user, pw)?;
    *factor = Some(FirstFactor::Password {
        verified: result.is_ok(),
        attempts,
    });
    Ok(result)
}

/// A code attempt on the first-factor verification `factor`, which must be a code of
/// `strategy` sent before. `Ok(Err(_))`: a wrong (or expired, or used up) code, to commit.
pub(super) fn attempt_code(
    env: &Env<'_>,
    factor: &mut Option<FirstFactor>,
    strategy: Strategy,
    code: &str,
) -> Committed<()> {
    let pending = match factor {
        Some(FirstFactor::Code(p)) if p.strategy == strategy => p,
        _ => {
            return Err(DomainError::InvalidState(format!(
                "prepare_first_factor with {strategy} first"
            )))
        }
    };
    Ok(check_code(pending, code, env))
}

/// `reset_password` after a verified reset code: sets the password and completes the sign-in.
pub fn reset_password(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
    password: &Secret,
    sign_out_of_other_sessions: bool,
) -> Result<(), DomainError> {
    ensure_status(state, env.now, SignInStatus::NeedsNewPassword)?;
    let mut user = user_of(tx, state)?;
    passwords::check_new(
        password.expose(),
        env.settings,
        &users::identifier_values(&user),
    )?;
    user.user.password_hash = Some(env.hash_password(password.expose())?);
    user.user.password_last_updated_at = Some(env.now);
    user.user.updated_at = env.now;
    tx.save_user(&user.user)?;
    super::events::user(tx, env, EventType::UserUpdated, &user)?;
    if sign_out_of_other_sessions {
        sessions::end_all_of_user(tx, env, &user.user.id, SessionStatus::Revoked)?;
    }
    let strategy = match &state.first_factor {
        Some(FirstFactor::Code(p)) => p.strategy.clone(),
        _ => Strategy::ResetPasswordEmailCode.into(),
    };
    complete(tx, env, client, state, &mut user, strategy)?;
    tx.save_sign_in(state)?;
    Ok(())
}

/// After the first factor: a user with two-factor sign-in on (see [`mfa::two_factor_enabled`])
/// now `needs_second_factor`, and no session exists until it is verified; anyone else is
/// signed in (the session is created and the sign-in completes).
pub(super) fn complete(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
    user: &mut UserWithIdents,
    strategy: impl Into<AnyStrategy>,
) -> Result<(), DomainError> {
    state.first_factor_at = Some(env.now);
    if mfa::two_factor_enabled(user) {
        state.status = SignInStatus::NeedsSecondFactor;
        return Ok(());
    }
    // The failures so far are forgotten once the sign-in is complete, not at a first factor
    // that still needs a second (or a password guesser could reset the count of TOTP guesses).
    attack::succeeded(tx, &user.user)?;
    let session = sessions::create(tx, env, client, &mut user.user, strategy.into())?;
    state.status = SignInStatus::Complete;
    state.created_session_id = Some(session.id);
    Ok(())
}

/// `prepare_second_factor`: sends a code for `phone_code` (to `ident_id`, else the default
/// second-factor phone) or `email_code` (where the instance offers it).
pub fn prepare_second_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignInState,
    strategy: Strategy,
    ident_id: Option<&str>,
) -> Result<(), DomainError> {
    ensure_status(state, env.now, SignInStatus::NeedsSecondFactor)?;
    let user = user_of(tx, state)?;
    let pending = mfa::prepare_code(tx, env, &user, strategy, ident_id)?;
    state.second_factor = Some(SecondFactor::Code(pending));
    tx.save_sign_in(state)?;
    Ok(())
}

/// `prepare_second_factor strategy=email_link` (where the instance offers emailed second factors
/// and email links): emails a link to `ident_id` (else the primary address) whose opening is the
/// second factor. `redirect_url` only: the native flow hands out tickets, which would skip it.
pub fn prepare_second_email_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignInState,
    ident_id: Option<&str>,
    target: &email_links::LinkTarget,
) -> Result<(), DomainError> {
    ensure_status(state, env.now, SignInStatus::NeedsSecondFactor)?;
    let e = &env.settings.email_address;
    if !(e.enabled && e.email_link && e.used_for_second_factor) {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: "\"email_link\" is not a second factor on this instance".into(),
        });
    }
    if target.redirect_uri.is_some() {
        return Err(DomainError::ParamValue {
            param: "redirect_uri",
            reason: "a second factor by email link takes redirect_url".into(),
        });
    }
    let user = user_of(tx, state)?;
    let ident = match ident_id {
        Some(id) => user.emails().find(|i| i.id == id && i.verified),
        None => user.primary_email(),
    }
    .ok_or(DomainError::NotFound("email_address"))?;
    let pending = send_link(
        tx,
        env,
        state,
        &user,
        ident,
        EmailLinkPurpose::SignInSecondFactor,
        target,
    )?;
    state.second_factor = Some(SecondFactor::Code(pending));
    tx.save_sign_in(state)?;
    Ok(())
}

/// Whether `link` is the second factor this sign-in waits for, unverified and in time.
pub fn second_link_is_current(state: &SignInState, link: &EmailLinkRecord, now: i64) -> bool {
    state.status == SignInStatus::NeedsSecondFactor
        && now < state.abandon_at
        && matches!(&state.second_factor, Some(SecondFactor::Code(p))
            if email_links::is_link_of(p, link) && p.status == VerificationStatus::Unverified)
}

/// An opened second-factor link: the session is created on `client`.
pub fn verify_second_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
) -> Result<(), DomainError> {
    let mut user = user_of(tx, state)?;
    attack::ensure_not_locked(tx, env, &user.user)?;
    if let Some(SecondFactor::Code(p)) = &mut state.second_factor {
        p.status = VerificationStatus::Verified;
    }
    // As a right code does (`mfa::attempt`): the failures so far are forgotten.
    attack::succeeded(tx, &user.user)?;
    finish_with_second_factor(tx, env, client, state, &mut user)
}

/// Creates the session once the second factor is verified.
fn finish_with_second_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
    user: &mut UserWithIdents,
) -> Result<(), DomainError> {
    // The client's `last_authentication_strategy` is the first factor's.
    let first = match &state.first_factor {
        Some(FirstFactor::Code(p)) => p.strategy.clone(),
        Some(FirstFactor::Ticket) => Strategy::Ticket.into(),
        Some(FirstFactor::OAuth(v)) => v.strategy.clone(),
        _ => Strategy::Password.into(),
    };
    let session = sessions::create_verified(
        tx,
        env,
        client,
        &mut user.user,
        first,
        state.first_factor_at.unwrap_or(env.now),
        Some(env.now),
    )?;
    state.status = SignInStatus::Complete;
    state.created_session_id = Some(session.id);
    tx.save_sign_in(state)?;
    Ok(())
}

/// `attempt_second_factor` (`totp`, `phone_code`, `email_code`, `backup_code`): a right code
/// creates the session, exactly as a first factor does for a user without a second one. Wrong
/// attempts are committed before the error returns.
pub fn attempt_second_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
    strategy: Strategy,
    code: Option<&str>,
) -> Committed<()> {
    ensure_status(state, env.now, SignInStatus::NeedsSecondFactor)?;
    let code = code
        .filter(|c| !c.trim().is_empty())
        .ok_or(DomainError::ParamMissing("code"))?;
    let mut user = user_of(tx, state)?;
    if strategy == Strategy::EmailLink {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: "\"email_link\" is verified by opening the emailed link".into(),
        });
    }
    if let Err(e) = mfa::attempt(tx, env, &mut user, &mut state.second_factor, strategy, code)? {
        tx.save_sign_in(state)?;
        return Ok(Err(e));
    }
    finish_with_second_factor(tx, env, client, state, &mut user)?;
    Ok(Ok(()))
}
