//! Email addresses and phone numbers added to an existing account: by the signed-in user
//! (`/v1/me/email_addresses`, `/v1/me/phone_numbers`: unverified until a code proves them) or by
//! the Backend API (`/v1/email_addresses`, `/v1/phone_numbers`: verified or not, as it says).
//! Every change emits `user.updated`; every code sent goes through [`messages::send_code`]
//! (`email.created` / `sms.created`).

use super::messages::{self, Template, TEST_CODE};
use super::{events, ids, sign_up, users, Committed, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{IdentKind, Identification, MessageKind, PendingCode, UserWithIdents};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::{AnyStrategy, EventType, Strategy, VerificationStatus};

fn not_found(kind: IdentKind) -> DomainError {
    DomainError::NotFound(kind.as_str())
}

/// The identification `id` of kind `kind`, whoever's it is (Backend API), or `NotFound`.
pub fn get(tx: &ReadTx<'_>, kind: IdentKind, id: &str) -> Result<Identification, DomainError> {
    match tx.ident(id)? {
        Some(i) if i.kind == kind => Ok(i),
        _ => Err(not_found(kind)),
    }
}

/// The identification `id` of kind `kind` among the user's, or `NotFound` (another user's
/// is not found either).
pub fn of_user<'u>(
    u: &'u UserWithIdents,
    kind: IdentKind,
    id: &str,
) -> Result<&'u Identification, DomainError> {
    u.idents
        .iter()
        .find(|i| i.id == id && i.kind == kind)
        .ok_or_else(|| not_found(kind))
}

fn normalize(kind: IdentKind, raw: &str) -> Result<String, DomainError> {
    match kind {
        IdentKind::EmailAddress => users::normalize_email(raw),
        IdentKind::PhoneNumber => users::normalize_phone(raw),
    }
}

fn ensure_free(tx: &ReadTx<'_>, kind: IdentKind, value: &str) -> Result<(), DomainError> {
    match kind {
        IdentKind::EmailAddress => users::ensure_email_free(tx, value),
        IdentKind::PhoneNumber => users::ensure_phone_free(tx, value),
    }
}

/// The code strategy that verifies an identification of `kind`.
fn code_strategy(kind: IdentKind) -> Strategy {
    match kind {
        IdentKind::EmailAddress => Strategy::EmailCode,
        IdentKind::PhoneNumber => Strategy::PhoneCode,
    }
}

fn primary_of(u: &UserWithIdents, kind: IdentKind) -> Option<&str> {
    match kind {
        IdentKind::EmailAddress => u.user.primary_email_address_id.as_deref(),
        IdentKind::PhoneNumber => u.user.primary_phone_number_id.as_deref(),
    }
}

fn set_primary(u: &mut UserWithIdents, kind: IdentKind, id: Option<String>) {
    match kind {
        IdentKind::EmailAddress => u.user.primary_email_address_id = id,
        IdentKind::PhoneNumber => u.user.primary_phone_number_id = id,
    }
}

/// Adds an email address or phone number to the user: normalised, enabled on the instance
/// (for the signed-in user), unique across users (`form_identifier_exists`). Verified ones
/// (Backend API) are verified by `admin`; the first verified one of its kind, or one asked to
/// be, becomes primary. Returns the new identification; `u` is updated.
pub fn add(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    kind: IdentKind,
    raw: &str,
    verified: bool,
    primary: bool,
) -> Result<Identification, DomainError> {
    let value = normalize(kind, raw)?;
    ensure_free(tx, kind, &value)?;
    if primary && !verified {
        return Err(DomainError::ParamValue {
            param: "primary",
            reason: "needs a verified identification: only a verified one can be primary".into(),
        });
    }
    let ident = Identification {
        id: ids::new_id("idn"),
        user_id: u.user.id.clone(),
        kind,
        value,
        verification_strategy: if verified {
            Strategy::Admin
        } else {
            code_strategy(kind)
        }
        .into(),
        verified,
        created_at: env.now,
        updated_at: env.now,
    };
    tx.save_ident(&ident)?;
    u.idents.push(ident.clone());
    if verified && (primary || primary_of(u, kind).is_none()) {
        set_primary(u, kind, Some(ident.id.clone()));
    }
    save_user(tx, env, u)?;
    Ok(ident)
}

/// [`add`] for the signed-in user: the attribute must be enabled on the instance, and the new
/// identification starts unverified.
pub fn add_for_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    kind: IdentKind,
    raw: &str,
) -> Result<Identification, DomainError> {
    let attr = match kind {
        IdentKind::EmailAddress => &env.settings.email_address,
        IdentKind::PhoneNumber => &env.settings.phone_number,
    };
    if !attr.enabled {
        return Err(DomainError::ParamValue {
            param: kind.as_str(),
            reason: "is not enabled for this instance".into(),
        });
    }
    add(tx, env, u, kind, raw, false, false)
}

/// Sends a fresh code to verify the user's identification `id` (`email_code` for an email
/// address, `phone_code` for a phone number). Test addresses and numbers get no message and
/// verify with `424242`, as at sign-up. Returns the pending code.
pub fn prepare(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    kind: IdentKind,
    id: &str,
    strategy: Strategy,
) -> Result<PendingCode, DomainError> {
    let ident = of_user(u, kind, id)?.clone();
    match (kind, strategy) {
        (IdentKind::EmailAddress, Strategy::EmailCode)
        | (IdentKind::PhoneNumber, Strategy::PhoneCode) => {}
        // Email links go through `prepare_email_link`.
        (IdentKind::EmailAddress, Strategy::EmailLink) => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: "email_link needs a redirect_url".into(),
            })
        }
        (IdentKind::EmailAddress, _) => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: "must be email_code".into(),
            })
        }
        (IdentKind::PhoneNumber, _) => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: "must be phone_code".into(),
            })
        }
    }
    if ident.verified {
        return Err(DomainError::AlreadyVerified);
    }
    let (message_kind, test) = match kind {
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
    tx.save_ident_code(&u.user.id, &pending)?;
    if !test {
        messages::send_code(
            tx,
            env,
            message_kind,
            &ident.value,
            Template::VerificationCode,
            &code,
        )?;
    }
    u.pending_codes
        .retain(|p| p.identification_id.as_deref() != Some(ident.id.as_str()));
    u.pending_codes.push(pending.clone());
    Ok(pending)
}

/// Emails a link that verifies the user's email address `id` when opened (`redirect_url`
/// only: the native PKCE flow is for signing in and up). Returns the pending verification.
pub fn prepare_email_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    id: &str,
    client_id: &str,
    target: &super::email_links::LinkTarget,
) -> Result<PendingCode, DomainError> {
    let ident = of_user(u, IdentKind::EmailAddress, id)?.clone();
    if !env.settings.email_address.email_link {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: "\"email_link\" is not enabled on this instance".into(),
        });
    }
    if target.redirect_uri.is_some() {
        return Err(DomainError::ParamValue {
            param: "redirect_uri",
            reason: "is for signing in and up; verify an email address with redirect_url".into(),
        });
    }
    if ident.verified {
        return Err(DomainError::AlreadyVerified);
    }
    let pending = super::email_links::send(
        tx,
        env,
        super::email_links::LinkFor {
            purpose: crate::store::records::EmailLinkPurpose::EmailAddress,
            flow_id: &ident.id,
            client_id,
            user_id: Some(&u.user.id),
            identification_id: Some(&ident.id),
            to: &ident.value,
        },
        target,
    )?;
    tx.save_ident_code(&u.user.id, &pending)?;
    u.pending_codes
        .retain(|p| p.identification_id.as_deref() != Some(ident.id.as_str()));
    u.pending_codes.push(pending.clone());
    Ok(pending)
}

/// An opened email link verifies the address it went to, if it is still the link that
/// address waits for; whether it did.
pub fn verify_by_link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    ident_id: &str,
    is_current: impl Fn(&PendingCode) -> bool,
) -> Result<bool, DomainError> {
    let Some(pending) = tx.ident_code(ident_id)? else {
        return Ok(false);
    };
    if !is_current(&pending) || env.now >= pending.expire_at {
        return Ok(false);
    }
    let Some(ident) = tx.ident(ident_id)? else {
        return Ok(false);
    };
    let mut u = owner(tx, &ident)?;
    if ident.verified {
        return Ok(false);
    }
    mark_verified(tx, env, &mut u, ident, pending.strategy)?;
    Ok(true)
}

/// Checks a code for the user's identification `id` with the sign-up's rules (attempts, expiry,
/// `424242` for test identifiers): a wrong code is counted and committed before the error. A
/// right one verifies it; the first verified one of its kind becomes primary.
pub fn attempt(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    kind: IdentKind,
    id: &str,
    code: &str,
) -> Committed<Identification> {
    let ident = of_user(u, kind, id)?.clone();
    if ident.verified {
        return Err(DomainError::AlreadyVerified);
    }
    let mut pending = tx.ident_code(&ident.id)?.ok_or_else(|| {
        DomainError::InvalidState(format!(
            "prepare_verification with {} first",
            code_strategy(kind)
        ))
    })?;
    if pending.strategy == Strategy::EmailLink {
        return Err(DomainError::InvalidState(
            "an email link is verified by opening it".into(),
        ));
    }
    let checked = sign_up::check_code(&mut pending, code, env);
    if let Err(e) = checked {
        tx.save_ident_code(&u.user.id, &pending)?;
        return Ok(Err(e));
    }
    let ident = mark_verified(tx, env, u, ident, pending.strategy)?;
    Ok(Ok(ident))
}

/// Verifies `ident` (by `strategy`), making it primary if it is the first of its kind.
fn mark_verified(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    mut ident: Identification,
    strategy: AnyStrategy,
) -> Result<Identification, DomainError> {
    let kind = ident.kind;
    tx.delete_ident_code(&ident.id)?;
    u.pending_codes
        .retain(|p| p.identification_id.as_deref() != Some(ident.id.as_str()));
    ident.verified = true;
    ident.verification_strategy = strategy;
    ident.updated_at = env.now;
    tx.save_ident(&ident)?;
    if let Some(slot) = u.idents.iter_mut().find(|i| i.id == ident.id) {
        *slot = ident.clone();
    }
    if primary_of(u, kind).is_none() {
        set_primary(u, kind, Some(ident.id.clone()));
    }
    save_user(tx, env, u)?;
    Ok(ident)
}

/// The signed-in user removes one of their identifications. Refused (400
/// `request_invalid_for_status`) for the primary one — make another primary first, as Clerk's
/// user profile asks — and for the last identifier the user signs in with.
pub fn delete_for_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    kind: IdentKind,
    id: &str,
) -> Result<(), DomainError> {
    let ident = of_user(u, kind, id)?.clone();
    let what = kind.as_str().replace('_', " ");
    if primary_of(u, kind) == Some(ident.id.as_str()) {
        return Err(DomainError::InvalidState(format!(
            "this is your primary {what}: make another one primary before removing it"
        )));
    }
    let others_sign_in =
        u.user.username.is_some() || u.idents.iter().any(|i| i.id != ident.id && i.verified);
    if ident.verified && !others_sign_in {
        return Err(DomainError::InvalidState(format!(
            "this {what} is the last identifier you sign in with: add another one before removing it"
        )));
    }
    remove(tx, env, u, &ident)
}

/// The Backend API removes an identification; a primary one is succeeded by another verified
/// one of its kind, if any.
pub fn delete_by_admin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    kind: IdentKind,
    id: &str,
) -> Result<(), DomainError> {
    let ident = get(tx, kind, id)?;
    let mut u = owner(tx, &ident)?;
    remove(tx, env, &mut u, &ident)
}

fn remove(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    ident: &Identification,
) -> Result<(), DomainError> {
    tx.delete_ident(&ident.id)?;
    u.idents.retain(|i| i.id != ident.id);
    u.pending_codes
        .retain(|p| p.identification_id.as_deref() != Some(ident.id.as_str()));
    if primary_of(u, ident.kind) == Some(ident.id.as_str()) {
        let next = u
            .idents
            .iter()
            .find(|i| i.kind == ident.kind && i.verified)
            .map(|i| i.id.clone());
        set_primary(u, ident.kind, next);
    }
    save_user(tx, env, u)
}

/// The user an identification belongs to.
pub fn owner(tx: &ReadTx<'_>, ident: &Identification) -> Result<UserWithIdents, DomainError> {
    tx.user_with_idents(&ident.user_id)?
        .ok_or(DomainError::NotFound("user"))
}

/// What the Backend API may change on an identification (`PATCH /v1/email_addresses/{id}`,
/// `/v1/phone_numbers/{id}`). `reserved_for_second_factor` belongs to second factors, not here.
#[derive(Debug, Default, Clone, Copy)]
pub struct AdminIdentUpdate {
    pub verified: Option<bool>,
    pub primary: Option<bool>,
}

/// Marks an identification verified or not and makes it primary, for the Backend API. Only a
/// verified identification can be primary; a primary one cannot be marked unverified.
pub fn update_by_admin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    kind: IdentKind,
    id: &str,
    change: AdminIdentUpdate,
) -> Result<Identification, DomainError> {
    let mut ident = get(tx, kind, id)?;
    let mut u = owner(tx, &ident)?;
    let is_primary = primary_of(&u, kind) == Some(ident.id.as_str());
    if let Some(v) = change.verified {
        if !v && is_primary {
            return Err(DomainError::ParamValue {
                param: "verified",
                reason: "cannot be false for the primary identification".into(),
            });
        }
        if v != ident.verified {
            ident.verified = v;
            ident.verification_strategy = if v {
                Strategy::Admin
            } else {
                code_strategy(kind)
            }
            .into();
            ident.updated_at = env.now;
            tx.save_ident(&ident)?;
            if v {
                tx.delete_ident_code(&ident.id)?;
            }
        }
    }
    if change.primary == Some(true) && !is_primary {
        if !ident.verified {
            return Err(DomainError::ParamValue {
                param: "primary",
                reason: "needs a verified identification: only a verified one can be primary"
                    .into(),
            });
        }
        set_primary(&mut u, kind, Some(ident.id.clone()));
    }
    if let Some(slot) = u.idents.iter_mut().find(|i| i.id == ident.id) {
        *slot = ident.clone();
    }
    if ident.verified && primary_of(&u, kind).is_none() {
        set_primary(&mut u, kind, Some(ident.id.clone()));
    }
    save_user(tx, env, &mut u)?;
    Ok(ident)
}

/// Stores the user (its primary ids may have changed) and emits `user.updated`.
fn save_user(tx: &Tx<'_>, env: &Env<'_>, u: &mut UserWithIdents) -> Result<(), DomainError> {
    u.user.updated_at = env.now;
    tx.save_user(&u.user)?;
    events::user(tx, env, EventType::UserUpdated, u)
}
