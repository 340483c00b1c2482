//! Session reverification (`POST /v1/client/sessions/{id}/verify…`): a signed-in user proves a
//! factor again — the first, the second, or both (`level`) — and the session's matching factor
//! age(s) start again from now, so its next token's `fva` says 0 minutes. The checks are
//! sign-in's (passwords, first-factor codes: `sign_in`; second factors: `mfa`), and so is the
//! rule that a wrong attempt counts and is committed.
//!
//! [U] A user without a second factor asked for `second_factor` or `multi_factor`: the FAPI
//! spec says Clerk "falls back to first factor", and clerk's `shared/authorization.ts` judges a
//! session whose second-factor age is -1 by its first-factor age alone for both levels, so the
//! verification asks for the first factor only (`status: needs_first_factor`) and keeps the
//! `level` asked for (clients go by `status`; clerk-js's reverification UI reads `level` only to
//! pick its screens' wording).

use super::clients::ClientCtx;
use super::{ids, mfa, sessions, sign_in, Committed, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{SessionRecord, SessionVerificationRecord, UserWithIdents};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::{SessionVerificationLevel, SessionVerificationStatus, Strategy};

/// The session of this client (only its own client may verify it), active, with its user.
fn session_and_user(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    session_id: &str,
) -> Result<(SessionRecord, UserWithIdents), DomainError> {
    let session = sessions::of_client(tx, client, session_id)?;
    sessions::ensure_active(&session, env.now)?;
    let user = tx
        .user_with_idents(&session.user_id)?
        .ok_or(DomainError::SessionInactive)?;
    Ok((session, user))
}

/// The session's reverification, which must stand at `wanted`.
fn load(
    tx: &ReadTx<'_>,
    session: &SessionRecord,
    wanted: SessionVerificationStatus,
) -> Result<SessionVerificationRecord, DomainError> {
    let v = tx.session_verification(&session.id)?.ok_or_else(|| {
        DomainError::InvalidState(
            "no reverification was started on this session: POST /v1/client/sessions/{id}/verify first"
                .into(),
        )
    })?;
    if v.status != wanted {
        return Err(DomainError::InvalidState(format!(
            "this session verification is {}, not {wanted}",
            v.status
        )));
    }
    Ok(v)
}

/// `POST /v1/client/sessions/{id}/verify`: starts a reverification at `level`, replacing any
/// earlier one of the session. Nothing is verified yet, so nothing about the session changes.
pub fn start(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    session_id: &str,
    level: SessionVerificationLevel,
) -> Result<(SessionVerificationRecord, SessionRecord), DomainError> {
    let (session, user) = session_and_user(tx, env, client, session_id)?;
    let has_second = mfa::two_factor_enabled(&user);
    // Without a second factor every level falls back to the first factor (see the module).
    let (wants_first, wants_second) = match level {
        SessionVerificationLevel::FirstFactor => (true, false),
        SessionVerificationLevel::SecondFactor => (!has_second, has_second),
        SessionVerificationLevel::MultiFactor => (true, has_second),
    };
    let v = SessionVerificationRecord {
        id: ids::new_id("sessver"),
        session_id: session.id.clone(),
        level,
        status: if wants_first {
            SessionVerificationStatus::NeedsFirstFactor
        } else {
            SessionVerificationStatus::NeedsSecondFactor
        },
        wants_first_factor: wants_first,
        wants_second_factor: wants_second,
        first_factor: None,
        second_factor: None,
        created_at: env.now,
        updated_at: env.now,
    };
    tx.save_session_verification(&v)?;
    Ok((v, session))
}

/// `…/verify/prepare_first_factor`: sends a code for `email_code` or `phone_code` (to
/// `ident_id`, else the user's primary address or phone).
pub fn prepare_first_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    session_id: &str,
    strategy: Strategy,
    ident_id: Option<&str>,
) -> Result<(SessionVerificationRecord, SessionRecord), DomainError> {
    let (session, user) = session_and_user(tx, env, client, session_id)?;
    let mut v = load(tx, &session, SessionVerificationStatus::NeedsFirstFactor)?;
    if !matches!(strategy, Strategy::EmailCode | Strategy::PhoneCode) {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: format!(
                "{:?} is not supported for reverification: use email_code or phone_code",
                strategy.as_str()
            ),
        });
    }
    let pending = sign_in::first_factor_code(tx, env, &user, strategy, ident_id, None)?;
    v.first_factor = Some(crate::store::records::FirstFactor::Code(pending));
    v.updated_at = env.now;
    tx.save_session_verification(&v)?;
    Ok((v, session))
}

/// `…/verify/attempt_first_factor`: `password`, or the code of a prepared `email_code` /
/// `phone_code`. A right one resets the session's first-factor age and moves on to the second
/// factor, or completes. Wrong attempts are committed before the error returns.
pub fn attempt_first_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    session_id: &str,
    strategy: Strategy,
    password: Option<&Secret>,
    code: Option<&str>,
) -> Committed<(SessionVerificationRecord, SessionRecord)> {
    let (mut session, mut user) = session_and_user(tx, env, client, session_id)?;
    let mut v = load(tx, &session, SessionVerificationStatus::NeedsFirstFactor)?;
    super::attack::ensure_not_locked(tx, env, &user.user)?;
    let outcome = match strategy {
        Strategy::Password => {
            let pw = password.ok_or(DomainError::ParamMissing("password"))?;
            sign_in::attempt_password(tx, env, &mut user, &mut v.first_factor, pw)?
        }
        Strategy::EmailCode | Strategy::PhoneCode => {
            let code = code
                .filter(|c| !c.trim().is_empty())
                .ok_or(DomainError::ParamMissing("code"))?;
            sign_in::attempt_code(env, &mut v.first_factor, strategy, code)?
        }
        other => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: format!(
                "{:?} is not supported for reverification: use password, email_code or phone_code",
                other.as_str()
            ),
            })
        }
    };
    v.updated_at = env.now;
    if let Err(e) = outcome {
        tx.save_session_verification(&v)?;
        // Wrong passwords and codes count towards the user's lockout, as on sign-in.
        let e = match e {
            DomainError::PasswordIncorrect
            | DomainError::CodeIncorrect
            | DomainError::VerificationFailed => {
                super::attack::failed_attempt(tx, env, &user.user, e)?
            }
            e => e,
        };
        return Ok(Err(e));
    }
    super::attack::succeeded(tx, &user.user)?;
    session.first_factor_at = env.now;
    // The user may have lost their second factor since the verification started.
    v.status = if v.wants_second_factor && mfa::two_factor_enabled(&user) {
        SessionVerificationStatus::NeedsSecondFactor
    } else {
        SessionVerificationStatus::Complete
    };
    save_session(tx, env, &mut session)?;
    tx.save_session_verification(&v)?;
    Ok(Ok((v, session)))
}

/// `…/verify/prepare_second_factor`: sends a code for `phone_code` (to `ident_id`, else the
/// default second-factor phone) or `email_code` where the instance offers it.
pub fn prepare_second_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    session_id: &str,
    strategy: Strategy,
    ident_id: Option<&str>,
) -> Result<(SessionVerificationRecord, SessionRecord), DomainError> {
    let (session, user) = session_and_user(tx, env, client, session_id)?;
    let mut v = load(tx, &session, SessionVerificationStatus::NeedsSecondFactor)?;
    let pending = mfa::prepare_code(tx, env, &user, strategy, ident_id)?;
    v.second_factor = Some(crate::store::records::SecondFactor::Code(pending));
    v.updated_at = env.now;
    tx.save_session_verification(&v)?;
    Ok((v, session))
}

/// `…/verify/attempt_second_factor` (`totp`, `backup_code`, `phone_code`, `email_code`): a
/// right code resets the session's second-factor age and completes. Wrong attempts are
/// committed before the error returns.
pub fn attempt_second_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    session_id: &str,
    strategy: Strategy,
    code: Option<&str>,
) -> Committed<(SessionVerificationRecord, SessionRecord)> {
    let (mut session, mut user) = session_and_user(tx, env, client, session_id)?;
    let mut v = load(tx, &session, SessionVerificationStatus::NeedsSecondFactor)?;
    let code = code
        .filter(|c| !c.trim().is_empty())
        .ok_or(DomainError::ParamMissing("code"))?;
    let outcome = mfa::attempt(tx, env, &mut user, &mut v.second_factor, strategy, code)?;
    v.updated_at = env.now;
    if let Err(e) = outcome {
        tx.save_session_verification(&v)?;
        return Ok(Err(e));
    }
    session.second_factor_at = Some(env.now);
    v.status = SessionVerificationStatus::Complete;
    save_session(tx, env, &mut session)?;
    tx.save_session_verification(&v)?;
    Ok(Ok((v, session)))
}

/// Stores a session whose factor ages were just reset. It was used just now, too.
fn save_session(
    tx: &Tx<'_>,
    env: &Env<'_>,
    session: &mut SessionRecord,
) -> Result<(), DomainError> {
    session.last_active_at = env.now;
    session.updated_at = env.now;
    tx.save_session(session)?;
    Ok(())
}

/// The digest a password attempt on session `session_id`'s reverification would be checked
/// against, so the caller can check it before the write transaction (the domain checks again
/// that it still applies).
pub fn digest_for_attempt(
    tx: &ReadTx<'_>,
    session_id: &str,
) -> Result<Option<Secret>, DomainError> {
    let Some(session) = tx.session(session_id)? else {
        return Ok(None);
    };
    Ok(tx.user(&session.user_id)?.and_then(|u| u.password_hash))
}
