//! Session tokens: 60-second RS256 JWTs (claims v2), optionally shaped by a JWT template.

use latchkey_protocol::SessionClaims;
use serde_json::{Map, Value};

use super::settings::{MAX_TEMPLATE_LIFETIME_SECS, RESERVED_CLAIMS};
use super::{DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{SessionRecord, UserWithIdents};
use crate::store::Tx;

/// A token is handed out as `last_active_token` while it has at least this long to live.
const REUSE_MARGIN_SECS: i64 = 30;

/// Mints a session token for an active session. `template` names a JWT template.
/// `template` names a JWT template and brings the user whose fields its shortcodes read; a
/// default token needs only the session.
pub fn mint(
    env: &Env<'_>,
    session: &SessionRecord,
    template: Option<(&str, &UserWithIdents)>,
) -> Result<(Secret, i64), DomainError> {
    let iat = env.now.div_euclid(1000);
    let (lifetime, extra) = match template {
        None => (env.settings.session_token_lifetime_secs, Map::new()),
        Some((name, user)) => {
            let t = env
                .settings
                .jwt_templates
                .get(name)
                .ok_or(DomainError::NotFound("jwt template"))?;
            // Settings stored by an older emulator were not checked: a reserved claim or an
            // odd lifetime there is dropped or clamped, never signed.
            let mut extra = render_claims(&t.claims, user);
            extra.retain(|k, _| !RESERVED_CLAIMS.contains(&k.as_str()));
            (t.lifetime_secs.clamp(1, MAX_TEMPLATE_LIFETIME_SECS), extra)
        }
    };
    let minutes_since = |ms: i64| (env.now - ms).max(0) / 60_000;
    let claims = SessionClaims {
        iss: env.issuer.to_owned(),
        sub: session.user_id.clone(),
        sid: session.id.clone(),
        iat,
        nbf: iat - 10,
        exp: iat + lifetime,
        v: 2,
        fva: [minutes_since(session.first_factor_at), -1],
        azp: env.origin.map(str::to_owned),
        sts: None,
        act: None,
        o: None,
        extra,
    };
    let key = env.signing_key.ok_or_else(|| {
        DomainError::Keys(crate::keys::KeyError::Generate(
            "the signing key is not ready yet".into(),
        ))
    })?;
    let jwt = key.sign_jwt(&claims)?;
    Ok((Secret::new(jwt), claims.exp))
}

/// Mints a token for an active session (the Frontend and Backend API token endpoints). A
/// default token also becomes the session's `last_active_token`.
pub fn mint_for_session(
    tx: &Tx<'_>,
    env: &Env<'_>,
    session: &mut SessionRecord,
    template: Option<&str>,
) -> Result<Secret, DomainError> {
    super::sessions::ensure_active(session, env.now)?;
    match template {
        Some(name) => {
            let user = tx
                .user_with_idents(&session.user_id)?
                .ok_or(DomainError::SessionInactive)?;
            Ok(mint(env, session, Some((name, &user)))?.0)
        }
        None => {
            let (jwt, exp) = mint(env, session, None)?;
            session.last_token = Some((jwt.clone(), exp));
            tx.save_session(session)?;
            Ok(jwt)
        }
    }
}

/// Gives an active session a fresh `last_active_token` (stored) when its newest one has less
/// than [`REUSE_MARGIN_SECS`] to live, so views, which write nothing, can show it.
pub fn refresh_last_active_token(
    tx: &Tx<'_>,
    env: &Env<'_>,
    session: &mut SessionRecord,
) -> Result<(), DomainError> {
    if session.status_at(env.now) != crate::store::records::SessionStatus::Active {
        return Ok(());
    }
    if let Some((_, exp)) = &session.last_token {
        if exp - env.now.div_euclid(1000) >= REUSE_MARGIN_SECS {
            return Ok(());
        }
    }
    let (jwt, exp) = mint(env, session, None)?;
    session.last_token = Some((jwt, exp));
    tx.save_session(session)?;
    Ok(())
}

/// [`refresh_last_active_token`] for every active session of a client; returns the client's
/// sessions as they now are, for its view.
pub fn refresh_client_tokens(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client_id: &str,
) -> Result<Vec<SessionRecord>, DomainError> {
    let mut sessions = tx.sessions_of_client(client_id)?;
    for s in &mut sessions {
        refresh_last_active_token(tx, env, s)?;
    }
    Ok(sessions)
}

/// Replaces `{{user.…}}` shortcodes in template claims.
fn render_claims(claims: &Map<String, Value>, user: &UserWithIdents) -> Map<String, Value> {
    claims
        .iter()
        .map(|(k, v)| (k.clone(), render_value(v, user)))
        .collect()
}

fn render_value(v: &Value, user: &UserWithIdents) -> Value {
    match v {
        Value::String(s) => match s.trim() {
            "{{user.id}}" => Value::String(user.user.id.clone()),
            "{{user.primary_email_address}}" => opt(user.primary_email().map(|i| i.value.clone())),
            "{{user.primary_phone_number}}" => opt(user.primary_phone().map(|i| i.value.clone())),
            "{{user.first_name}}" => opt(user.user.first_name.clone()),
            "{{user.last_name}}" => opt(user.user.last_name.clone()),
            "{{user.username}}" => opt(user.user.username.clone()),
            "{{user.external_id}}" => opt(user.user.external_id.clone()),
            "{{user.public_metadata}}" => Value::Object(user.user.public_metadata.clone()),
            "{{user.unsafe_metadata}}" => Value::Object(user.user.unsafe_metadata.clone()),
            _ => v.clone(),
        },
        Value::Object(m) => Value::Object(render_claims(m, user)),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_value(x, user)).collect()),
        other => other.clone(),
    }
}

fn opt(s: Option<String>) -> Value {
    s.map(Value::String).unwrap_or(Value::Null)
}

/// `POST /v1/client/sessions/{id}/tokens[/{template}]`: a token for one of this client's
/// active sessions.
pub fn mint_on_client(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &super::clients::ClientCtx,
    session_id: &str,
    template: Option<&str>,
) -> Result<latchkey_protocol::Token, DomainError> {
    let mut s = super::sessions::of_client(tx, client, session_id)?;
    let jwt = mint_for_session(tx, env, &mut s, template)?;
    Ok(latchkey_protocol::Token {
        object: "token".into(),
        jwt: jwt.expose().to_owned(),
    })
}
