//! Session tokens: 60-second RS256 JWTs (claims v2), optionally shaped by a JWT template.

use std::collections::HashMap;
use std::sync::Mutex;

use latchkey_protocol::SessionClaims;
use serde_json::{Map, Value};

use super::settings::{MAX_TEMPLATE_LIFETIME_SECS, RESERVED_CLAIMS};
use super::{DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{SessionRecord, SessionStatus, UserWithIdents};
use crate::store::{ReadTx, Tx};

/// A token is handed out as `last_active_token` while it has at least this long to live.
const REUSE_MARGIN_SECS: i64 = 30;

/// The claims of a session token for an active session. `template` names a JWT template and
/// brings the user whose fields its shortcodes read; a default token needs only the session.
/// Nothing is signed here: see [`Unsigned`].
pub fn claims(
    env: &Env<'_>,
    session: &SessionRecord,
    template: Option<(&str, &UserWithIdents)>,
) -> Result<SessionClaims, DomainError> {
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
    Ok(SessionClaims {
        iss: env.issuer.to_owned(),
        sub: session.user_id.clone(),
        sid: session.id.clone(),
        iat,
        nbf: iat - 10,
        exp: iat + lifetime,
        v: 2,
        fva: super::views::factor_ages(session, env.now),
        azp: env.origin.map(str::to_owned),
        sts: None,
        act: None,
        o: None,
        extra,
    })
}

/// A new token for an active session (the Frontend and Backend API token endpoints), as a
/// stand-in that the response carries until [`Unsigned::sign_into`] signs it. A default token
/// also becomes the session's `last_active_token` once signed.
pub fn mint_for_session(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    session: &SessionRecord,
    template: Option<&str>,
) -> Result<String, DomainError> {
    super::sessions::ensure_active(session, env.now)?;
    let unsigned = env.tokens.ok_or_else(|| {
        DomainError::Internal("this operation cannot hand out session tokens".into())
    })?;
    match template {
        Some(name) => {
            let user = tx
                .user_with_idents(&session.user_id)?
                .ok_or(DomainError::SessionInactive)?;
            Ok(unsigned.request(claims(env, session, Some((name, &user)))?, false))
        }
        None => Ok(unsigned.request(claims(env, session, None)?, true)),
    }
}

/// The `last_active_token` a view of `session` shows: the newest token of an active session
/// while it has [`REUSE_MARGIN_SECS`] to live (from the [`TokenCache`], so reading a client
/// neither signs nor writes), else a new one asked of [`Env::tokens`]. `None` for a session
/// that is not active, or when the operation hands out no tokens and none is cached.
pub fn last_active_token(
    env: &Env<'_>,
    session: &SessionRecord,
) -> Result<Option<String>, DomainError> {
    if session.status_at(env.now) != SessionStatus::Active {
        return Ok(None);
    }
    let now_s = env.now.div_euclid(1000);
    // A cached token whose `fva` is no longer the session's (a factor was verified again since,
    // or a minute passed) is not reused.
    let fva = super::views::factor_ages(session, env.now);
    if let Some(jwt) = env.token_cache.fresh(&session.id, env.origin, now_s, fva) {
        return Ok(Some(jwt));
    }
    let Some(unsigned) = env.tokens else {
        return Ok(None);
    };
    if let Some(placeholder) = unsigned.last_active_of(&session.id) {
        return Ok(Some(placeholder));
    }
    Ok(Some(unsigned.request(claims(env, session, None)?, true)))
}

/// Session tokens an operation asked for. Their claims are made inside the transaction; the
/// RS256 signature (a quarter of a millisecond) comes after the commit, with no lock held, so
/// requests on both cores sign at once. Until then the response carries a stand-in: this
/// batch's random tag and the request's index, which [`Unsigned::sign_into`] replaces. Only
/// stand-ins found in the response are signed, so a token no response shows costs nothing.
pub struct Unsigned {
    tag: String,
    /// A mutex only so an `Env` may cross an `.await`: one operation uses it at a time.
    /// Requests of a rolled-back run are voided, not removed, so no index is used twice.
    requested: Mutex<Vec<Option<Requested>>>,
}

struct Requested {
    claims: SessionClaims,
    /// A default token: once signed, the session's `last_active_token`.
    last_active: bool,
}

impl Default for Unsigned {
    fn default() -> Self {
        Self::new()
    }
}

impl Unsigned {
    pub fn new() -> Self {
        Self {
            // Unguessable, so no text a user stores can pass for a stand-in.
            tag: format!("lk_unsigned_{}_", super::ids::random_base62(22)),
            requested: Mutex::new(Vec::new()),
        }
    }

    /// Forgets every request: the transaction that made them rolled back.
    pub fn clear(&self) {
        self.lock().iter_mut().for_each(|r| *r = None);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Requested>>> {
        // Nothing panics while holding it; a poisoned list is still a list.
        self.requested.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request(&self, claims: SessionClaims, last_active: bool) -> String {
        let mut requested = self.lock();
        requested.push(Some(Requested {
            claims,
            last_active,
        }));
        format!("{}{}", self.tag, requested.len() - 1)
    }

    /// The stand-in of a default token already asked for `session_id` in this operation.
    fn last_active_of(&self, session_id: &str) -> Option<String> {
        self.lock()
            .iter()
            .rposition(|r| {
                r.as_ref()
                    .is_some_and(|r| r.last_active && r.claims.sid == session_id)
            })
            .map(|i| format!("{}{i}", self.tag))
    }

    /// Signs each token whose stand-in the serialized response `body` carries, puts it in place
    /// of the stand-in, and caches a default token as its session's `last_active_token`. A
    /// stand-in appearing twice is signed once. (Tag, index and token are all ASCII that JSON
    /// writes unescaped, so the stand-in is found in the bytes as it was made.)
    pub fn sign_into<E>(
        self,
        body: &mut Vec<u8>,
        cache: &TokenCache,
        mut sign: impl FnMut(&SessionClaims) -> Result<String, E>,
    ) -> Result<(), E> {
        let requested = self
            .requested
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        if requested.iter().all(Option::is_none) {
            return Ok(());
        }
        let tag = self.tag.as_bytes();
        let mut signed: Vec<Option<String>> = vec![None; requested.len()];
        let mut out = Vec::with_capacity(body.len() + 700 * requested.len());
        let mut rest = body.as_slice();
        while let Some(at) = find(rest, tag) {
            let (before, after) = rest.split_at(at);
            let after = after.get(tag.len()..).unwrap_or_default();
            let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
            let (number, tail) = after.split_at(digits);
            let index = std::str::from_utf8(number)
                .ok()
                .and_then(|d| d.parse::<usize>().ok());
            let (Some(r), Some(slot)) = (
                index.and_then(|i| requested.get(i)?.as_ref()),
                index.and_then(|i| signed.get_mut(i)),
            ) else {
                // Not one of ours after all: keep it as it is.
                out.extend_from_slice(before);
                out.extend_from_slice(tag);
                rest = after;
                continue;
            };
            if slot.is_none() {
                let jwt = sign(&r.claims)?;
                if r.last_active {
                    cache.put(&r.claims, &jwt);
                }
                *slot = Some(jwt);
            }
            out.extend_from_slice(before);
            out.extend_from_slice(slot.as_deref().unwrap_or_default().as_bytes());
            rest = tail;
        }
        out.extend_from_slice(rest);
        *body = out;
        Ok(())
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if haystack.get(at + 1..at + needle.len()) == Some(tail) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Each session's newest default token, in memory: what `last_active_token` shows while it is
/// fresh, so a response that piggybacks the client signs nothing and writes nothing. A token is
/// reused only for the `azp` it was made for. Bounded: when full, tokens too old to reuse go,
/// then everything (a miss costs one signature). Per process: another process, or a restart,
/// signs anew.
#[derive(Debug, Default)]
pub struct TokenCache {
    by_session: Mutex<HashMap<String, Cached>>,
}

#[derive(Debug)]
struct Cached {
    jwt: Secret,
    iat: i64,
    exp: i64,
    azp: Option<String>,
    fva: [i64; 2],
}

/// Enough for every session a test suite keeps going at once.
const TOKEN_CACHE_CAP: usize = 1024;

impl TokenCache {
    /// The cached token of `session_id` for `azp` if it has [`REUSE_MARGIN_SECS`] to live and
    /// carries the factor ages `fva`.
    fn fresh(
        &self,
        session_id: &str,
        azp: Option<&str>,
        now_s: i64,
        fva: [i64; 2],
    ) -> Option<String> {
        let map = self.by_session.lock().ok()?;
        let c = map.get(session_id)?;
        (c.azp.as_deref() == azp
            && c.iat <= now_s
            && c.exp - now_s >= REUSE_MARGIN_SECS
            && c.fva == fva)
            .then(|| c.jwt.expose().to_owned())
    }

    fn put(&self, claims: &SessionClaims, jwt: &str) {
        let Ok(mut map) = self.by_session.lock() else {
            return;
        };
        if map.len() >= TOKEN_CACHE_CAP && !map.contains_key(&claims.sid) {
            map.retain(|_, c| c.exp - claims.iat >= REUSE_MARGIN_SECS);
            if map.len() >= TOKEN_CACHE_CAP {
                map.clear();
            }
        }
        let newer = map.get(&claims.sid).is_none_or(|c| c.iat <= claims.iat);
        if newer {
            map.insert(
                claims.sid.clone(),
                Cached {
                    jwt: Secret::new(jwt),
                    iat: claims.iat,
                    exp: claims.exp,
                    azp: claims.azp.clone(),
                    fva: claims.fva,
                },
            );
        }
    }
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
/// active sessions (a stand-in until signed, see [`Unsigned`]).
pub fn mint_on_client(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &super::clients::ClientCtx,
    session_id: &str,
    template: Option<&str>,
) -> Result<latchkey_protocol::Token, DomainError> {
    let s = super::sessions::of_client(tx, client, session_id)?;
    Ok(latchkey_protocol::Token {
        object: "token".into(),
        jwt: mint_for_session(tx, env, &s, template)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn claims_for(sid: &str, iat: i64, azp: Option<&str>) -> SessionClaims {
        SessionClaims {
            iss: "http://127.0.0.1:1".into(),
            sub: "user_1".into(),
            sid: sid.into(),
            iat,
            nbf: iat - 10,
            exp: iat + 60,
            v: 2,
            fva: [0, -1],
            azp: azp.map(str::to_owned),
            sts: None,
            act: None,
            o: None,
            extra: Map::new(),
        }
    }

    /// A stand-in "signature": the session id and `iat`, so tests see which claims were signed.
    fn fake_sign(count: &mut usize) -> impl FnMut(&SessionClaims) -> Result<String, ()> + '_ {
        move |c| {
            *count += 1;
            Ok(format!("jwt:{}:{}", c.sid, c.iat))
        }
    }

    #[test]
    fn only_stand_ins_the_body_shows_are_signed_each_once_and_put_in_place() {
        let unsigned = Unsigned::new();
        let a = unsigned.request(claims_for("sess_a", 100, None), true);
        let _unshown = unsigned.request(claims_for("sess_b", 100, None), true);
        let c = unsigned.request(claims_for("sess_c", 100, None), false);
        assert_eq!(
            unsigned.last_active_of("sess_a").as_deref(),
            Some(a.as_str())
        );
        assert_eq!(
            unsigned.last_active_of("sess_c"),
            None,
            "a template token is no last_active_token"
        );
        let tag = unsigned.tag.clone();
        let mut bytes = serde_json::to_vec(&json!({
            "response": {"jwt": c, "note": format!("{tag}x {tag}99")},
            "client": {"sessions": [{"last_active_token": {"jwt": a}}, {"last_active_token": {"jwt": a}}]},
        }))
        .unwrap();
        let cache = TokenCache::default();
        let mut count = 0;
        unsigned
            .sign_into(&mut bytes, &cache, fake_sign(&mut count))
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            count, 2,
            "sess_b is in no response: never signed; sess_a twice: signed once"
        );
        assert_eq!(body["response"]["jwt"], "jwt:sess_c:100");
        assert_eq!(
            body["response"]["note"],
            format!("{tag}x {tag}99"),
            "what only looks like a stand-in stays"
        );
        assert_eq!(
            body["client"]["sessions"][0]["last_active_token"]["jwt"],
            "jwt:sess_a:100"
        );
        assert_eq!(
            body["client"]["sessions"][1]["last_active_token"]["jwt"],
            "jwt:sess_a:100"
        );
        assert_eq!(
            cache.fresh("sess_a", None, 100, [0, -1]).as_deref(),
            Some("jwt:sess_a:100")
        );
        assert_eq!(cache.fresh("sess_b", None, 100, [0, -1]), None);
        assert_eq!(
            cache.fresh("sess_c", None, 100, [0, -1]),
            None,
            "template tokens are not cached"
        );
    }

    #[test]
    fn another_batch_tag_is_left_alone_and_a_rolled_back_run_leaves_nothing() {
        let first = Unsigned::new();
        let foreign = first.request(claims_for("sess_a", 100, None), true);
        let unsigned = Unsigned::new();
        let gone = unsigned.request(claims_for("sess_a", 100, None), true);
        unsigned.clear();
        let original = serde_json::to_vec(&json!([foreign, gone])).unwrap();
        let mut bytes = original.clone();
        unsigned.request(claims_for("sess_b", 100, None), true);
        let mut count = 0;
        unsigned
            .sign_into(&mut bytes, &TokenCache::default(), fake_sign(&mut count))
            .unwrap();
        assert_eq!(count, 0);
        assert_eq!(bytes, original);
    }

    #[test]
    fn a_cached_token_is_reused_only_while_fresh_for_its_own_azp() {
        let cache = TokenCache::default();
        cache.put(
            &claims_for("sess_a", 100, Some("http://localhost:3000")),
            "t1",
        );
        let origin = Some("http://localhost:3000");
        assert_eq!(
            cache.fresh("sess_a", origin, 100, [0, -1]).as_deref(),
            Some("t1")
        );
        assert_eq!(
            cache.fresh("sess_a", None, 100, [0, -1]),
            None,
            "a native request gets no browser token"
        );
        assert_eq!(
            cache.fresh("sess_a", Some("http://other.test"), 100, [0, -1]),
            None
        );
        assert_eq!(
            cache.fresh("sess_a", origin, 130, [0, -1]).as_deref(),
            Some("t1"),
            "30 s left"
        );
        assert_eq!(
            cache.fresh("sess_a", origin, 131, [0, -1]),
            None,
            "29 s left: too old to hand out"
        );
        assert_eq!(
            cache.fresh("sess_a", origin, 99, [0, -1]),
            None,
            "not before its iat"
        );
        // An older token never replaces a newer one.
        cache.put(
            &claims_for("sess_a", 90, Some("http://localhost:3000")),
            "t0",
        );
        assert_eq!(
            cache.fresh("sess_a", origin, 100, [0, -1]).as_deref(),
            Some("t1")
        );
        cache.put(
            &claims_for("sess_a", 110, Some("http://localhost:3000")),
            "t2",
        );
        assert_eq!(
            cache.fresh("sess_a", origin, 110, [0, -1]).as_deref(),
            Some("t2")
        );
    }

    #[test]
    fn a_cached_token_whose_factor_ages_are_no_longer_the_sessions_is_not_reused() {
        let cache = TokenCache::default();
        cache.put(&claims_for("sess_a", 100, None), "t1");
        assert_eq!(
            cache.fresh("sess_a", None, 100, [0, -1]).as_deref(),
            Some("t1")
        );
        assert_eq!(
            cache.fresh("sess_a", None, 100, [0, 0]),
            None,
            "a second factor verified since"
        );
        assert_eq!(cache.fresh("sess_a", None, 100, [1, -1]), None);
    }

    #[test]
    fn the_cache_stays_bounded_and_keeps_fresh_tokens_when_it_can() {
        let cache = TokenCache::default();
        for i in 0..TOKEN_CACHE_CAP {
            // Half of them are too old to reuse by t = 1000.
            let iat = if i % 2 == 0 { 0 } else { 1000 };
            cache.put(&claims_for(&format!("sess_{i}"), iat, None), "t");
        }
        cache.put(&claims_for("sess_new", 1000, None), "new");
        let len = cache.by_session.lock().unwrap().len();
        assert_eq!(len, TOKEN_CACHE_CAP / 2 + 1, "the stale half went");
        assert_eq!(
            cache.fresh("sess_1", None, 1000, [0, -1]).as_deref(),
            Some("t")
        );
        assert_eq!(
            cache.fresh("sess_new", None, 1000, [0, -1]).as_deref(),
            Some("new")
        );
        for i in 0..TOKEN_CACHE_CAP {
            cache.put(&claims_for(&format!("more_{i}"), 1000, None), "t");
        }
        assert!(cache.by_session.lock().unwrap().len() <= TOKEN_CACHE_CAP);
    }
}
