//! Sessions: creation at the end of a sign-in or sign-up, ending, removal, revocation.

use super::clients::ClientCtx;
use super::{events, ids, DomainError, Env};
use crate::store::records::{SessionActivity, SessionRecord, SessionStatus, UserRecord};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::{AnyStrategy, EventType};

/// Abandoned (no longer listed anywhere) this long after it stopped being active.
const ABANDON_AFTER_MS: i64 = 30 * 24 * 3600 * 1000;

/// Creates an active session for `user` on the client and makes it the client's active one.
/// The client token rotates.
pub fn create(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    user: &mut UserRecord,
    strategy: AnyStrategy,
) -> Result<SessionRecord, DomainError> {
    create_verified(tx, env, client, user, strategy, env.now, None)
}

/// [`create`] for a sign-in whose first factor was verified at `first_factor_at` and second
/// factor (if the user has one) at `second_factor_at`: the session's factor ages (`fva`) start
/// from them.
pub fn create_verified(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    user: &mut UserRecord,
    strategy: AnyStrategy,
    first_factor_at: i64,
    second_factor_at: Option<i64>,
) -> Result<SessionRecord, DomainError> {
    let now = env.now;
    let active: Vec<SessionRecord> = active_of_client(tx, now, &client.record.id)?;
    if env.settings.single_session_mode && !active.is_empty() {
        return Err(DomainError::SessionExists);
    }
    if active.iter().any(|s| s.user_id == user.id) {
        return Err(DomainError::AlreadySignedIn);
    }
    let session = SessionRecord {
        id: ids::new_id("sess"),
        client_id: client.record.id.clone(),
        user_id: user.id.clone(),
        status: SessionStatus::Active,
        first_factor_at,
        second_factor_at,
        last_active_at: now,
        expire_at: now + env.settings.session_lifetime_secs * 1000,
        abandon_at: now + ABANDON_AFTER_MS,
        created_at: now,
        updated_at: now,
    };
    tx.save_session(&session)?;
    record_activity(tx, env, &session.id)?;
    events::session(tx, env, EventType::SessionCreated, &session)?;
    user.last_sign_in_at = Some(now);
    user.last_active_at = Some(now);
    user.updated_at = now;
    tx.save_user(user)?;
    client.record.last_active_session_id = Some(session.id.clone());
    client.record.last_authentication_strategy = Some(strategy);
    client.rotate(now)?;
    Ok(session)
}

/// The client's sessions that are active as of `now`.
pub fn active_of_client(
    tx: &ReadTx<'_>,
    now: i64,
    client_id: &str,
) -> Result<Vec<SessionRecord>, DomainError> {
    Ok(tx
        .sessions_of_client(client_id)?
        .into_iter()
        .filter(|s| s.status_at(now) == SessionStatus::Active)
        .collect())
}

/// A session of this client, or `NotFound`.
pub fn of_client(
    tx: &ReadTx<'_>,
    client: &ClientCtx,
    session_id: &str,
) -> Result<SessionRecord, DomainError> {
    match tx.session(session_id)? {
        Some(s) if s.client_id == client.record.id => Ok(s),
        _ => Err(DomainError::NotFound("session")),
    }
}

/// Moves an active session to `status` (ended, removed, revoked). Ending an ended session again
/// is allowed and changes nothing.
pub fn finish(
    tx: &Tx<'_>,
    env: &Env<'_>,
    session: &mut SessionRecord,
    status: SessionStatus,
) -> Result<(), DomainError> {
    if session.status_at(env.now) == SessionStatus::Active {
        session.status = status;
        session.updated_at = env.now;
        session.abandon_at = env.now + ABANDON_AFTER_MS;
        tx.save_session(session)?;
        let event = match status {
            SessionStatus::Ended => Some(EventType::SessionEnded),
            SessionStatus::Removed => Some(EventType::SessionRemoved),
            SessionStatus::Revoked => Some(EventType::SessionRevoked),
            _ => None,
        };
        if let Some(event) = event {
            events::session(tx, env, event, session)?;
        }
    }
    Ok(())
}

/// Ends a session of this client, then points the client at another active session (if any) and
/// rotates its token.
pub fn finish_on_client(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    session: &mut SessionRecord,
    status: SessionStatus,
) -> Result<(), DomainError> {
    finish(tx, env, session, status)?;
    if client.record.last_active_session_id.as_deref() == Some(session.id.as_str()) {
        client.record.last_active_session_id = active_of_client(tx, env.now, &client.record.id)?
            .into_iter()
            .max_by_key(|s| s.last_active_at)
            .map(|s| s.id);
    }
    client.rotate(env.now)
}

/// Ends every active session of a user (ban, lock, delete, password reset elsewhere).
pub fn end_all_of_user(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user_id: &str,
    status: SessionStatus,
) -> Result<usize, DomainError> {
    let mut n = 0;
    for mut s in tx.sessions_of_user(user_id)? {
        if s.status_at(env.now) == SessionStatus::Active {
            finish(tx, env, &mut s, status)?;
            repoint_client(tx, env, &s)?;
            n += 1;
        }
    }
    Ok(n)
}

/// After a session ended outside its client's requests, the client's active pointer moves on.
pub fn repoint_client(
    tx: &Tx<'_>,
    env: &Env<'_>,
    session: &SessionRecord,
) -> Result<(), DomainError> {
    if let Some(mut client) = tx.client(&session.client_id)? {
        if client.last_active_session_id.as_deref() == Some(session.id.as_str()) {
            client.last_active_session_id = active_of_client(tx, env.now, &client.id)?
                .into_iter()
                .max_by_key(|s| s.last_active_at)
                .map(|s| s.id);
            client.updated_at = env.now;
            tx.save_client(&client)?;
        }
    }
    Ok(())
}

/// Marks the session as used now and makes it the client's active session.
pub fn touch(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    session: &mut SessionRecord,
) -> Result<(), DomainError> {
    ensure_active(session, env.now)?;
    session.last_active_at = env.now;
    session.updated_at = env.now;
    tx.save_session(session)?;
    record_activity(tx, env, &session.id)?;
    client.record.last_active_session_id = Some(session.id.clone());
    client.save(env.now)
}

/// Keeps what the request says about where it comes from (address, user agent) as the session's
/// latest activity, for `GET /v1/me/sessions/active`.
fn record_activity(tx: &Tx<'_>, env: &Env<'_>, session_id: &str) -> Result<(), DomainError> {
    tx.save_session_activity(&SessionActivity {
        session_id: session_id.to_owned(),
        ip_address: env.request.client_ip.clone(),
        user_agent: env.request.user_agent.clone(),
        updated_at: env.now,
    })?;
    Ok(())
}

/// Revokes every active session of a user but `keep` (`change_password` with
/// `sign_out_of_other_sessions`), each with `session.revoked`.
pub fn revoke_others_of_user(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user_id: &str,
    keep: &str,
) -> Result<usize, DomainError> {
    let mut n = 0;
    for mut s in tx.sessions_of_user(user_id)? {
        if s.id != keep && s.status_at(env.now) == SessionStatus::Active {
            finish(tx, env, &mut s, SessionStatus::Revoked)?;
            repoint_client(tx, env, &s)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The user's active sessions (on any client), newest activity first, each with its latest
/// activity if one was recorded (`GET /v1/me/sessions/active`).
pub fn active_of_user(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    user_id: &str,
) -> Result<Vec<(SessionRecord, Option<SessionActivity>)>, DomainError> {
    let mut out = Vec::new();
    for s in tx.sessions_of_user(user_id)? {
        if s.status_at(env.now) == SessionStatus::Active {
            let a = tx.session_activity(&s.id)?;
            out.push((s, a));
        }
    }
    out.sort_by_key(|(s, _)| std::cmp::Reverse(s.last_active_at));
    Ok(out)
}

/// The signed-in user revokes one of their own sessions (`POST /v1/me/sessions/{id}/revoke`),
/// on whichever client it is: another user's session is not found. The request's own client
/// moves on (and rotates its token) when it was its session.
pub fn revoke_own(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    user_id: &str,
    session_id: &str,
) -> Result<SessionRecord, DomainError> {
    let mut s = match tx.session(session_id)? {
        Some(s) if s.user_id == user_id => s,
        _ => return Err(DomainError::NotFound("session")),
    };
    ensure_active(&s, env.now)?;
    if s.client_id == client.record.id {
        finish_on_client(tx, env, client, &mut s, SessionStatus::Revoked)?;
    } else {
        finish(tx, env, &mut s, SessionStatus::Revoked)?;
        repoint_client(tx, env, &s)?;
    }
    Ok(s)
}

pub fn ensure_active(session: &SessionRecord, now: i64) -> Result<(), DomainError> {
    if session.status_at(now) == SessionStatus::Active {
        Ok(())
    } else {
        Err(DomainError::SessionInactive)
    }
}

/// Ends every active session of this client (`DELETE /v1/client/sessions`) and rotates its
/// token.
pub fn end_all_on_client(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
) -> Result<(), DomainError> {
    for mut s in active_of_client(tx, env.now, &client.record.id)? {
        finish(tx, env, &mut s, SessionStatus::Ended)?;
    }
    client.record.last_active_session_id = None;
    client.rotate(env.now)
}

/// Revokes a session for the Backend API; its client moves on to another active session.
pub fn revoke_by_admin(tx: &Tx<'_>, env: &Env<'_>, id: &str) -> Result<SessionRecord, DomainError> {
    let mut s = get(tx, id)?;
    finish(tx, env, &mut s, SessionStatus::Revoked)?;
    repoint_client(tx, env, &s)?;
    Ok(s)
}

/// The session with `id`, or `NotFound`.
pub fn get(tx: &ReadTx<'_>, id: &str) -> Result<SessionRecord, DomainError> {
    tx.session(id)?.ok_or(DomainError::NotFound("session"))
}

/// Which sessions the Backend API lists.
#[derive(Debug, Default, Clone)]
pub struct SessionFilter {
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    /// Their status as of now (`expired` and `abandoned` are worked out from the clock). No
    /// emulator session is ever `replaced` (or `pending`): those match nothing.
    pub status: Option<SessionStatus>,
}

/// One page of the sessions matching `filter`, newest first, and how many match in all.
pub fn list_by_admin(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    filter: &SessionFilter,
    limit: usize,
    offset: usize,
) -> Result<(Vec<SessionRecord>, usize), DomainError> {
    let all: Vec<_> = tx
        .list_sessions(&crate::store::SessionQuery {
            client_id: filter.client_id.as_deref(),
            user_id: filter.user_id.as_deref(),
        })?
        .into_iter()
        .filter(|s| filter.status.is_none_or(|st| st == s.status_at(env.now)))
        .collect();
    let total = all.len();
    Ok((all.into_iter().skip(offset).take(limit).collect(), total))
}
