//! Session tokens: a cache per session and template, one request for any number of concurrent
//! callers, offline use of a still-valid token.
//!
//! Freshness is judged on the server's clock (see [`TimeSource`](crate::TimeSource)): a token is
//! served while `exp` is at least the margin ahead of the server's now. When a refresh is needed,
//! callers join one in-flight request per (session, template): the first caller's request is
//! shared, and whoever arrives after it finished re-checks the cache before asking again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use latchkey_protocol::{Client, Session, Token};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::client::{Inner, Latchkey};
use crate::error::{Error, Message};
use crate::secret::SessionToken;
use crate::session::AuthState;
use crate::transport::{Call, segment};

type Flight = Arc<OnceCell<Result<SessionToken, Error>>>;
type FlightKey = (String, Option<String>);

#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<String, PerSession>>,
    flights: Mutex<HashMap<FlightKey, Flight>>,
}

#[derive(Default)]
struct PerSession {
    default: Option<SessionToken>,
    templates: HashMap<String, SessionToken>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Deserialize)]
struct Times {
    #[serde(default)]
    iat: Option<i64>,
    exp: i64,
}

/// `iat` and `exp` of a JWT (no signature check: the SDK only schedules by them).
fn jwt_times(jwt: &str) -> Option<Times> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| URL_SAFE.decode(payload))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl TokenCache {
    pub(crate) fn get(&self, sid: &str, template: Option<&str>) -> Option<SessionToken> {
        let entries = lock(&self.entries);
        let per = entries.get(sid)?;
        match template {
            None => per.default.clone(),
            Some(t) => per.templates.get(t).cloned(),
        }
    }

    /// The cached token if it is valid until at least `until_ms` (server time).
    fn fresh(&self, sid: &str, template: Option<&str>, until_ms: i64) -> Option<SessionToken> {
        let entries = lock(&self.entries);
        let per = entries.get(sid)?;
        let t = match template {
            None => per.default.as_ref(),
            Some(name) => per.templates.get(name),
        }?;
        (t.expires_at().saturating_mul(1000) >= until_ms).then(|| t.clone())
    }

    fn put(&self, sid: &str, template: Option<&str>, token: SessionToken) {
        let mut entries = lock(&self.entries);
        let per = entries.entry(sid.to_owned()).or_default();
        let slot = match template {
            None => &mut per.default,
            Some(name) => {
                per.templates.insert(name.to_owned(), token);
                return;
            }
        };
        // Never replace a token by one that expires earlier (a late, older answer).
        if slot
            .as_ref()
            .is_none_or(|old| old.expires_at() <= token.expires_at())
        {
            *slot = Some(token);
        }
    }

    /// Seeds default tokens from the snapshot's `last_active_token`s.
    pub(crate) fn seed(&self, client: Option<&Client>) {
        let Some(client) = client else { return };
        for s in &client.sessions {
            let Some(t) = &s.last_active_token else {
                continue;
            };
            if let Some(times) = jwt_times(&t.jwt) {
                self.put(
                    &s.id,
                    None,
                    SessionToken::new(Arc::from(t.jwt.as_str()), times.exp),
                );
            }
        }
    }

    /// Drops the tokens of sessions that are no longer on the client.
    pub(crate) fn retain_sessions(&self, sessions: &[Session]) {
        lock(&self.entries).retain(|sid, _| sessions.iter().any(|s| &s.id == sid));
    }

    pub(crate) fn forget_session(&self, sid: &str) {
        lock(&self.entries).remove(sid);
    }

    /// The flight for `key`: the one in the air, or a new one.
    fn flight(&self, key: &FlightKey) -> Flight {
        let mut flights = lock(&self.flights);
        let slot = flights.entry(key.clone()).or_default();
        if slot.initialized() {
            // Landed already: its answer may be stale by now.
            *slot = Flight::default();
        }
        slot.clone()
    }

    fn land(&self, key: &FlightKey, flight: &Flight) {
        let mut flights = lock(&self.flights);
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(key);
        }
    }
}

/// Which token [`Latchkey::session_token_with`] returns.
#[derive(Debug, Clone, Default)]
pub struct TokenOptions {
    template: Option<String>,
    session_id: Option<String>,
    skip_cache: bool,
}

impl TokenOptions {
    /// The default: the active session's token, from the cache when fresh enough.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token from the named JWT template (custom claims and lifetime).
    pub fn template(mut self, name: impl Into<String>) -> Self {
        self.template = Some(name.into());
        self
    }

    /// A token of another session on this device than the active one.
    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Fetch a new token even if the cached one is fresh enough.
    pub fn skip_cache(mut self, skip: bool) -> Self {
        self.skip_cache = skip;
        self
    }
}

impl Latchkey {
    /// A session token of the active session, valid for at least the configured margin
    /// (default 10 s). Served from the cache when possible; otherwise one request is made, shared
    /// by every concurrent caller. Offline, a cached token is served while it is still valid,
    /// then [`Error::Offline`]. A revoked or expired session signs the device out and returns
    /// the server's error; later calls return [`Error::SignedOut`].
    pub async fn session_token(&self) -> Result<SessionToken, Error> {
        // The hot path: no allocation, two uncontended locks.
        {
            let auth = self.inner.auth.borrow();
            match &*auth {
                AuthState::SignedIn { session, .. } => {
                    let until = self
                        .inner
                        .server_now_ms()
                        .saturating_add(self.inner.token_margin_ms);
                    if let Some(t) = self.inner.tokens.fresh(&session.id, None, until) {
                        return Ok(t);
                    }
                }
                AuthState::SignedOut => return Err(Error::SignedOut),
                AuthState::Loading => {}
            }
        }
        self.session_token_with(&TokenOptions::default()).await
    }

    /// A token from a named JWT template of the active session.
    pub async fn template_token(&self, template: &str) -> Result<SessionToken, Error> {
        self.session_token_with(&TokenOptions::new().template(template))
            .await
    }

    /// A session token as `options` say (template, session, cache).
    pub async fn session_token_with(&self, options: &TokenOptions) -> Result<SessionToken, Error> {
        let inner = &self.inner;
        let sid = match &options.session_id {
            Some(s) => {
                inner.wait_restored().await;
                s.clone()
            }
            None => inner.active_session_id().await?,
        };
        let template = options.template.as_deref();
        let margin = inner.token_margin_ms;
        if !options.skip_cache {
            let until = inner.server_now_ms().saturating_add(margin);
            if let Some(t) = inner.tokens.fresh(&sid, template, until) {
                return Ok(t);
            }
        }
        let result = if options.skip_cache {
            inner.mint(&sid, template, None).await
        } else {
            inner.fetch_shared(&sid, template, margin).await
        };
        match result {
            Err(e) if e.is_offline() => {
                // Offline: a token that has not expired yet still works.
                match inner.tokens.fresh(&sid, template, inner.server_now_ms()) {
                    Some(t) => Ok(t),
                    None => Err(e),
                }
            }
            other => other,
        }
    }
}

impl Inner {
    /// A token valid for at least `min_validity_ms`, from the cache or from one shared request.
    pub(crate) async fn fetch_shared(
        &self,
        sid: &str,
        template: Option<&str>,
        min_validity_ms: i64,
    ) -> Result<SessionToken, Error> {
        let key: FlightKey = (sid.to_owned(), template.map(str::to_owned));
        let flight = self.tokens.flight(&key);
        let result = flight
            .get_or_init(|| async {
                let now = self.server_now_ms();
                if let Some(t) =
                    self.tokens
                        .fresh(sid, template, now.saturating_add(min_validity_ms))
                {
                    return Ok(t);
                }
                // With a still-valid token to fall back on, do not wait out retries.
                let retries = self.tokens.fresh(sid, template, now).map(|_| 0);
                self.mint(sid, template, retries).await
            })
            .await
            .clone();
        self.tokens.land(&key, &flight);
        result
    }

    /// `POST /v1/client/sessions/{id}/tokens[/{template}]`.
    pub(crate) async fn mint(
        &self,
        sid: &str,
        template: Option<&str>,
        retries: Option<u32>,
    ) -> Result<SessionToken, Error> {
        let mut path = format!("/v1/client/sessions/{}/tokens", segment(sid));
        if let Some(t) = template {
            path.push('/');
            path.push_str(&segment(t));
        }
        let sent_at = self.clock.now_ms();
        let token: Token = match self.bare(Call::post(path).idempotent(), retries).await {
            Ok(t) => t,
            Err(Error::Api(e)) if e.status == 401 || (e.status == 404 && template.is_none()) => {
                // Revoked, expired, ended elsewhere, or not on this client any more.
                self.session_gone(sid).await;
                return Err(Error::Api(e));
            }
            Err(e) => return Err(e),
        };
        let times = jwt_times(&token.jwt).ok_or_else(|| {
            Error::decode(
                200,
                b"",
                Message("the session token is not a JWT with an exp claim".into()),
            )
        })?;
        if let Some(iat) = times.iat {
            self.learn_skew(sent_at, iat);
        }
        let t = SessionToken::new(Arc::from(token.jwt.as_str()), times.exp);
        self.tokens.put(sid, template, t.clone());
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.sig",
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn reads_times_and_keeps_the_longest_lived_token() {
        let t = jwt_times(&jwt(r#"{"iat":100,"exp":160,"sub":"u"}"#));
        assert!(matches!(
            t,
            Some(Times {
                iat: Some(100),
                exp: 160
            })
        ));
        assert!(jwt_times("not-a-jwt").is_none());
        assert!(jwt_times(&jwt(r#"{"iat":1}"#)).is_none());

        let c = TokenCache::default();
        c.put("s", None, SessionToken::new("b".into(), 200));
        c.put("s", None, SessionToken::new("a".into(), 100));
        assert_eq!(c.get("s", None).map(|t| t.expires_at()), Some(200));
        assert!(c.fresh("s", None, 200_000).is_some());
        assert!(c.fresh("s", None, 200_001).is_none());
        c.put("s", Some("tpl"), SessionToken::new("x".into(), 5));
        assert!(c.get("s", Some("tpl")).is_some() && c.get("s", Some("other")).is_none());
        c.forget_session("s");
        assert!(c.get("s", None).is_none());
    }
}
