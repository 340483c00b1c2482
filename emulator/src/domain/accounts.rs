//! Changes to users as the Backend API (the app's server, with the secret key) and the signed-in
//! user (`/v1/me`) make them: create, update, metadata, password checks, ban and lock, delete.
//! Every change emits its `user.*` event here.

use serde_json::{Map, Value};

use super::clients::ClientCtx;
use super::{events, passwords, sessions, users, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{SessionRecord, SessionStatus, UserWithIdents};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::{EventType, Strategy};

/// A user as the Backend API creates one.
#[derive(Debug, Default, Clone)]
pub struct AdminNewUser {
    pub email_addresses: Vec<String>,
    pub phone_numbers: Vec<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// An imported digest (with `password_hasher`), instead of a password.
    pub password_digest: Option<Secret>,
    pub password_hasher: Option<String>,
    pub skip_password_checks: bool,
    pub skip_password_requirement: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub external_id: Option<String>,
    pub public_metadata: Option<Map<String, Value>>,
    pub private_metadata: Option<Map<String, Value>>,
    pub unsafe_metadata: Option<Map<String, Value>>,
}

/// Creates a user for the Backend API: identifiers normalised and unique, the password checked
/// and hashed (or an imported digest validated), `user.created` emitted.
pub fn create_by_admin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    input: &AdminNewUser,
) -> Result<UserWithIdents, DomainError> {
    let emails = input
        .email_addresses
        .iter()
        .map(|e| users::normalize_email(e))
        .collect::<Result<Vec<_>, _>>()?;
    let phones = input
        .phone_numbers
        .iter()
        .map(|p| users::normalize_phone(p))
        .collect::<Result<Vec<_>, _>>()?;
    let username = input
        .username
        .as_deref()
        .map(users::validate_username)
        .transpose()?;
    if emails.is_empty() && phones.is_empty() && username.is_none() && input.external_id.is_none() {
        return Err(DomainError::ParamMissing("email_address"));
    }
    let password_hash = match (&input.password, &input.password_digest) {
        (Some(_), Some(_)) => {
            return Err(DomainError::ParamValue {
                param: "password_digest",
                reason: "cannot be combined with password".into(),
            })
        }
        (Some(pw), None) => {
            if !input.skip_password_checks {
                let identifiers: Vec<&str> = emails
                    .iter()
                    .chain(&phones)
                    .chain(&username)
                    .map(String::as_str)
                    .collect();
                passwords::check_new(pw.expose(), env.settings, &identifiers)?;
            }
            Some(env.hash_password(pw.expose())?)
        }
        (None, Some(digest)) => {
            let hasher = input
                .password_hasher
                .as_deref()
                .ok_or(DomainError::ParamMissing("password_hasher"))?;
            Some(passwords::import_digest(hasher, digest.expose())?)
        }
        (None, None) => {
            if env.settings.password_required && !input.skip_password_requirement {
                return Err(DomainError::ParamMissing("password"));
            }
            None
        }
    };
    users::create(
        tx,
        env,
        users::NewUser {
            emails,
            phones,
            email_strategy: Strategy::Admin.into(),
            phone_strategy: Strategy::Admin,
            username,
            password_hash,
            first_name: input.first_name.clone(),
            last_name: input.last_name.clone(),
            external_id: input.external_id.clone(),
            public_metadata: input.public_metadata.clone().unwrap_or_default(),
            private_metadata: input.private_metadata.clone().unwrap_or_default(),
            unsafe_metadata: input.unsafe_metadata.clone().unwrap_or_default(),
            created_at: None,
        },
    )
}

/// The user with `id`, or `NotFound`.
pub fn get(tx: &ReadTx<'_>, id: &str) -> Result<UserWithIdents, DomainError> {
    tx.user_with_idents(id)?
        .ok_or(DomainError::NotFound("user"))
}

/// What the Backend API may change on a user. For the nullable fields `None` leaves the field,
/// `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Default, Clone)]
pub struct AdminUserUpdate {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
    pub password: Option<Secret>,
    pub skip_password_checks: bool,
    pub sign_out_of_other_sessions: bool,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
    pub public_metadata: Option<Map<String, Value>>,
    pub private_metadata: Option<Map<String, Value>>,
    pub unsafe_metadata: Option<Map<String, Value>>,
}

pub fn update_by_admin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    id: &str,
    change: &AdminUserUpdate,
) -> Result<UserWithIdents, DomainError> {
    let mut u = get(tx, id)?;
    let r = &mut u.user;
    if let Some(v) = &change.first_name {
        r.first_name.clone_from(v);
    }
    if let Some(v) = &change.last_name {
        r.last_name.clone_from(v);
    }
    if let Some(v) = &change.external_id {
        r.external_id.clone_from(v);
    }
    if let Some(v) = &change.username {
        let next = v.as_deref().map(users::validate_username).transpose()?;
        if next.is_some() && next != r.username {
            users::ensure_username_free(tx, next.as_deref().unwrap_or_default())?;
        }
        r.username = next;
    }
    if let Some(pw) = &change.password {
        if !change.skip_password_checks {
            let mut identifiers: Vec<&str> = u.idents.iter().map(|i| i.value.as_str()).collect();
            identifiers.extend(r.username.as_deref());
            passwords::check_new(pw.expose(), env.settings, &identifiers)?;
        }
        r.password_hash = Some(env.hash_password(pw.expose())?);
        r.password_last_updated_at = Some(env.now);
    }
    if let Some(m) = &change.public_metadata {
        r.public_metadata.clone_from(m);
    }
    if let Some(m) = &change.private_metadata {
        r.private_metadata.clone_from(m);
    }
    if let Some(m) = &change.unsafe_metadata {
        r.unsafe_metadata.clone_from(m);
    }
    if let Some(pid) = &change.primary_email_address_id {
        if !u.emails().any(|e| &e.id == pid) {
            return Err(DomainError::NotFound("email_address"));
        }
        u.user.primary_email_address_id = Some(pid.clone());
    }
    if let Some(pid) = &change.primary_phone_number_id {
        if !u.phones().any(|e| &e.id == pid) {
            return Err(DomainError::NotFound("phone_number"));
        }
        u.user.primary_phone_number_id = Some(pid.clone());
    }
    save_updated(tx, env, &mut u)?;
    if change.password.is_some() && change.sign_out_of_other_sessions {
        sessions::end_all_of_user(tx, env, &u.user.id, SessionStatus::Revoked)?;
    }
    Ok(u)
}

/// Deep-merges metadata (`null` deletes a key), for `PATCH /v1/users/{id}/metadata`.
pub fn merge_metadata(
    tx: &Tx<'_>,
    env: &Env<'_>,
    id: &str,
    public: Option<&Map<String, Value>>,
    private: Option<&Map<String, Value>>,
    unsafe_: Option<&Map<String, Value>>,
) -> Result<UserWithIdents, DomainError> {
    let mut u = get(tx, id)?;
    if let Some(p) = public {
        users::merge_metadata(&mut u.user.public_metadata, p);
    }
    if let Some(p) = private {
        users::merge_metadata(&mut u.user.private_metadata, p);
    }
    if let Some(p) = unsafe_ {
        users::merge_metadata(&mut u.user.unsafe_metadata, p);
    }
    save_updated(tx, env, &mut u)?;
    Ok(u)
}

/// Metadata replaced whole, for `PUT /v1/users/{id}/metadata`: each field given replaces that
/// metadata (`Some(None)` clears it); fields left out stay.
#[derive(Debug, Default, Clone)]
pub struct MetadataReplacement {
    pub public: Option<Option<Map<String, Value>>>,
    pub private: Option<Option<Map<String, Value>>>,
    pub unsafe_: Option<Option<Map<String, Value>>>,
}

pub fn replace_metadata(
    tx: &Tx<'_>,
    env: &Env<'_>,
    id: &str,
    with: &MetadataReplacement,
) -> Result<UserWithIdents, DomainError> {
    let mut u = get(tx, id)?;
    if let Some(m) = &with.public {
        u.user.public_metadata = m.clone().unwrap_or_default();
    }
    if let Some(m) = &with.private {
        u.user.private_metadata = m.clone().unwrap_or_default();
    }
    if let Some(m) = &with.unsafe_ {
        u.user.unsafe_metadata = m.clone().unwrap_or_default();
    }
    save_updated(tx, env, &mut u)?;
    Ok(u)
}

/// `POST /v1/users/{id}/verify_password`: `PasswordIncorrect` unless it matches.
pub fn check_password(
    tx: &Tx<'_>,
    env: &Env<'_>,
    id: &str,
    password: &Secret,
) -> Result<(), DomainError> {
    let u = get(tx, id)?;
    let ok = match &u.user.password_hash {
        Some(digest) => env.verify_password(password.expose(), digest)?,
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::PasswordIncorrect)
    }
}

/// Bans or unbans a user; a ban revokes every session.
pub fn set_banned(
    tx: &Tx<'_>,
    env: &Env<'_>,
    id: &str,
    banned: bool,
) -> Result<UserWithIdents, DomainError> {
    set_flag(tx, env, id, |u| u.banned = banned, banned)
}

/// Locks a user as a lockout does (see [`super::attack::lock`]) or unlocks them, forgetting
/// their failed attempts; a lock revokes every session.
pub fn set_locked(
    tx: &Tx<'_>,
    env: &Env<'_>,
    id: &str,
    locked: bool,
) -> Result<UserWithIdents, DomainError> {
    let mut u = get(tx, id)?;
    if locked {
        super::attack::lock(tx, env, &mut u.user)?;
    } else {
        super::attack::unlock(tx, &mut u.user)?;
    }
    save_updated(tx, env, &mut u)?;
    if locked {
        sessions::end_all_of_user(tx, env, id, SessionStatus::Revoked)?;
    }
    Ok(u)
}

fn set_flag(
    tx: &Tx<'_>,
    env: &Env<'_>,
    id: &str,
    set: impl FnOnce(&mut crate::store::records::UserRecord),
    revoke_sessions: bool,
) -> Result<UserWithIdents, DomainError> {
    let mut u = get(tx, id)?;
    set(&mut u.user);
    save_updated(tx, env, &mut u)?;
    if revoke_sessions {
        sessions::end_all_of_user(tx, env, id, SessionStatus::Revoked)?;
    }
    Ok(u)
}

/// Deletes a user for the Backend API.
pub fn delete_by_admin(tx: &Tx<'_>, env: &Env<'_>, id: &str) -> Result<(), DomainError> {
    users::delete(tx, env, id)
}

/// The signed-in user of `_clerk_session_id`, or of the client's last active session.
pub fn current(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
) -> Result<(SessionRecord, UserWithIdents), DomainError> {
    let id = session_id
        .map(str::to_owned)
        .or_else(|| c.record.last_active_session_id.clone())
        .ok_or(DomainError::SignedOut)?;
    let s = match tx.session(&id)? {
        Some(s) if s.client_id == c.record.id => s,
        _ => return Err(DomainError::SignedOut),
    };
    if s.status_at(env.now) != SessionStatus::Active {
        return Err(DomainError::SignedOut);
    }
    let u = tx
        .user_with_idents(&s.user_id)?
        .ok_or(DomainError::SignedOut)?;
    Ok((s, u))
}

/// What the signed-in user may change about themselves (`PATCH /v1/me`). An empty name clears
/// it. Metadata is not among it since API version 2026-05-12: it goes through
/// `PATCH /v1/me/metadata` ([`merge_self_metadata`]).
#[derive(Debug, Default, Clone)]
pub struct SelfUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
}

pub fn update_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
    change: &SelfUpdate,
) -> Result<UserWithIdents, DomainError> {
    let (_, mut u) = current(tx, env, c, session_id)?;
    if let Some(v) = &change.first_name {
        u.user.first_name = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(v) = &change.last_name {
        u.user.last_name = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(v) = &change.username {
        if !env.settings.username.enabled {
            return Err(DomainError::ParamValue {
                param: "username",
                reason: "is not enabled for this instance".into(),
            });
        }
        let name = users::validate_username(v)?;
        if u.user.username.as_deref() != Some(name.as_str()) {
            users::ensure_username_free(tx, &name)?;
            u.user.username = Some(name);
        }
    }
    // Only a verified identification can be primary: an unverified one signs nobody in.
    if let Some(id) = &change.primary_email_address_id {
        let e = u
            .emails()
            .find(|e| &e.id == id)
            .ok_or(DomainError::NotFound("email_address"))?;
        if !e.verified {
            return Err(DomainError::ParamValue {
                param: "primary_email_address_id",
                reason: "must be a verified email address: verify it first".into(),
            });
        }
        u.user.primary_email_address_id = Some(id.clone());
    }
    if let Some(id) = &change.primary_phone_number_id {
        let p = u
            .phones()
            .find(|p| &p.id == id)
            .ok_or(DomainError::NotFound("phone_number"))?;
        if !p.verified {
            return Err(DomainError::ParamValue {
                param: "primary_phone_number_id",
                reason: "must be a verified phone number: verify it first".into(),
            });
        }
        u.user.primary_phone_number_id = Some(id.clone());
    }
    save_updated(tx, env, &mut u)?;
    Ok(u)
}

/// `PATCH /v1/me/metadata`: deep-merges `unsafe_metadata` (RFC 7396: objects merge, `null`
/// deletes a key) and emits `user.updated`.
pub fn merge_self_metadata(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
    unsafe_: &Map<String, Value>,
) -> Result<UserWithIdents, DomainError> {
    let (_, mut u) = current(tx, env, c, session_id)?;
    users::merge_metadata(&mut u.user.unsafe_metadata, unsafe_);
    save_updated(tx, env, &mut u)?;
    Ok(u)
}

/// `POST /v1/me/change_password`.
pub struct PasswordChange {
    /// Required when the user has a password.
    pub current_password: Option<Secret>,
    pub new_password: Secret,
    /// Revokes the user's other sessions (not this one), each with `session.revoked`.
    pub sign_out_of_other_sessions: bool,
}

/// Changes the signed-in user's password: the current one must match (when there is one), the
/// new one must pass the instance's password checks and differ from the current one.
/// Verification and hashing happen outside the write transaction ([`DomainError::PasswordWork`]).
pub fn change_password(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
    change: &PasswordChange,
) -> Result<UserWithIdents, DomainError> {
    let (session, mut u) = current(tx, env, c, session_id)?;
    // [U] Clerk requires `current_password` when the user has one; a user without a password
    // (signed up by code) sets one without it.
    if let Some(digest) = u.user.password_hash.clone() {
        let current = change
            .current_password
            .as_ref()
            .filter(|p| !p.expose().is_empty())
            .ok_or(DomainError::ParamMissing("current_password"))?;
        if !env.verify_password(current.expose(), &digest)? {
            return Err(DomainError::PasswordIncorrect);
        }
        if current.expose() == change.new_password.expose()
            || env.verify_password(change.new_password.expose(), &digest)?
        {
            return Err(DomainError::NewPasswordMatchesCurrent);
        }
    }
    passwords::check_new(
        change.new_password.expose(),
        env.settings,
        &users::identifier_values(&u),
    )?;
    u.user.password_hash = Some(env.hash_password(change.new_password.expose())?);
    u.user.password_last_updated_at = Some(env.now);
    save_updated(tx, env, &mut u)?;
    if change.sign_out_of_other_sessions {
        sessions::revoke_others_of_user(tx, env, &u.user.id, &session.id)?;
    }
    Ok(u)
}

/// `POST /v1/me/remove_password`: the current password must match; refused where the instance
/// requires a password, and for a user who has none.
pub fn remove_password(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
    current_password: &Secret,
) -> Result<UserWithIdents, DomainError> {
    let (_, mut u) = current(tx, env, c, session_id)?;
    if env.settings.password_required {
        return Err(DomainError::InvalidState(
            "this instance requires a password: it cannot be removed".into(),
        ));
    }
    let digest = u
        .user
        .password_hash
        .clone()
        .ok_or_else(|| DomainError::InvalidState("you have no password to remove".into()))?;
    if !env.verify_password(current_password.expose(), &digest)? {
        return Err(DomainError::PasswordIncorrect);
    }
    u.user.password_hash = None;
    u.user.password_last_updated_at = Some(env.now);
    save_updated(tx, env, &mut u)?;
    Ok(u)
}

/// `DELETE /v1/me`, where the instance allows it: deletes the signed-in user; the client moves
/// on to its most recently active remaining session and gets a new token. Returns the id.
pub fn delete_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &mut ClientCtx,
    session_id: Option<&str>,
) -> Result<String, DomainError> {
    if !env.settings.delete_self_enabled {
        return Err(DomainError::InvalidState(
            "deleting your own account is disabled".into(),
        ));
    }
    let (_, u) = current(tx, env, c, session_id)?;
    users::delete(tx, env, &u.user.id)?;
    c.record.last_active_session_id = sessions::active_of_client(tx, env.now, &c.record.id)?
        .into_iter()
        .max_by_key(|s| s.last_active_at)
        .map(|s| s.id);
    c.rotate(env.now)?;
    Ok(u.user.id)
}

/// Stores a changed user and emits `user.updated`.
pub(super) fn save_updated(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
) -> Result<(), DomainError> {
    u.user.updated_at = env.now;
    tx.save_user(&u.user)?;
    events::user(tx, env, EventType::UserUpdated, u)
}
