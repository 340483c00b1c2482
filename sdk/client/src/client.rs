//! The SDK's core: the client token and snapshot, the auth-state channel, the store, the
//! request loop (rotation, retries, envelopes) and the background task.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use latchkey_protocol::{Client, ClientEnvelope, ErrorEnvelope, Session, SessionStatus, User};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::config::{Builder, RetryPolicy, TimeSource};
use crate::error::{ApiError, Cause, Error, Message, StoreError};
use crate::secret::ClientToken;
use crate::session::{self, AuthState};
use crate::store::{SessionStore, StoreKey};
use crate::tokens::TokenCache;
use crate::transport::{self, Call, Reply, Rotation, Transport};

/// The native client SDK. Cheap to clone: clones share one session, one token cache and one
/// background task, which stops when the last clone is dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), latchkey::Error> {
/// let lk = latchkey::Latchkey::builder("com.example.notes")
///     .publishable_key("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k")
///     .build()?;
/// if lk.ready().await?.is_signed_out() {
///     lk.sign_in_with_password("jane@example.com", "correct horse").await?;
/// }
/// let jwt = lk.session_token().await?; // send as `Authorization: Bearer …`
/// # let _ = jwt; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Latchkey {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Latchkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Latchkey")
            .field("app_id", &self.inner.app_id)
            .field("frontend_api", &self.inner.fapi_url)
            .field("state", &*self.inner.auth.borrow())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) app_id: String,
    pub(crate) fapi_url: String,
    /// `fapi_url` normalised: what a stored session is bound to ([`StoreKey::FrontendApi`]).
    binding: String,
    pub(crate) token_margin_ms: i64,
    pub(crate) refresh_lead_ms: i64,
    pub(crate) poll_interval: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Arc<dyn TimeSource>,
    pub(crate) browser: Arc<dyn crate::flows::oauth::BrowserOpener>,
    pub(crate) oauth_timeout: Duration,
    transport: Transport,
    store: Arc<dyn SessionStore>,
    device_id: OnceLock<String>,
    state: Mutex<State>,
    pub(crate) auth: watch::Sender<AuthState>,
    restored: watch::Sender<bool>,
    restore_error: Mutex<Option<StoreError>>,
    restore_warning: Mutex<Option<StoreError>>,
    /// Server clock minus local clock, learnt from each token's `iat`.
    skew_ms: AtomicI64,
    pub(crate) tokens: TokenCache,
    /// What the store holds, as far as this process wrote it; the lock orders writes.
    persisted: tokio::sync::Mutex<Persisted>,
    /// Dropped with `Inner`: tells the background task to stop.
    _shutdown: watch::Sender<()>,
}

#[derive(Default)]
struct State {
    token: Option<ClientToken>,
    client: Option<Arc<Client>>,
}

#[derive(Default)]
struct Persisted {
    token: Option<ClientToken>,
    client: Option<String>,
    /// The Frontend API the stored token is bound to.
    binding: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a panic elsewhere changes nothing.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Latchkey {
    /// Configures an SDK instance for the app `app_id` (a reverse-DNS name such as
    /// `com.example.notes`; it names the keychain entries and appears in the User-Agent).
    pub fn builder(app_id: impl Into<String>) -> Builder {
        Builder::new(app_id.into())
    }

    /// The current auth state, updated on real transitions only.
    pub fn auth_state(&self) -> watch::Receiver<AuthState> {
        self.inner.auth.subscribe()
    }

    /// The auth state right now (`Loading` until the store has been read).
    pub fn current(&self) -> AuthState {
        self.inner.auth.borrow().clone()
    }

    /// Waits until the stored session has been read, and returns the state. A store that
    /// failed is an error (the SDK then runs signed out, in memory).
    pub async fn ready(&self) -> Result<AuthState, Error> {
        self.inner.wait_restored().await;
        if let Some(e) = lock(&self.inner.restore_error).clone() {
            return Err(Error::Store(e));
        }
        Ok(self.current())
    }

    /// Why a stored session was discarded at start-up, the device starting signed out: an entry
    /// that could not be read back ([`StoreError::Corrupt`]), or a session that belongs to
    /// another Frontend API ([`StoreError::OtherFrontendApi`]; its token was not sent to the
    /// configured one). `None` when the stored session, if any, was restored.
    pub fn restore_warning(&self) -> Option<StoreError> {
        lock(&self.inner.restore_warning).clone()
    }

    /// The last client snapshot: sessions on this device, sign-in/sign-up in progress.
    pub fn client(&self) -> Option<Arc<Client>> {
        self.inner.state().client.clone()
    }

    /// The active sessions on this device (several users can be signed in at once).
    pub fn sessions(&self) -> Vec<Session> {
        let now = self.inner.server_now_ms();
        self.client()
            .map(|c| {
                c.sessions
                    .iter()
                    .filter(|s| s.status == SessionStatus::Active && s.expire_at > now)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The signed-in user, from the snapshot (no network).
    pub fn user(&self) -> Option<Arc<User>> {
        self.inner.auth.borrow().user().cloned()
    }

    /// This installation's device id (`x-native-device-id`), once the store has been read.
    pub fn device_id(&self) -> Option<&str> {
        self.inner.device_id.get().map(String::as_str)
    }

    /// The Frontend API this instance talks to.
    pub fn frontend_api_url(&self) -> &str {
        &self.inner.fapi_url
    }

    /// Fetches the client from the server (`GET /v1/client`) and updates the state.
    pub async fn refresh_client(&self) -> Result<(), Error> {
        self.inner.sync_client().await
    }
}

impl Builder {
    /// Starts the SDK: reads the stored session in the background (the state is `Loading`
    /// until then; await [`Latchkey::ready`]) and starts the token refresher. Must be called
    /// inside a Tokio runtime.
    pub fn build(mut self) -> Result<Latchkey, Error> {
        let app_id = self.app_id.trim().to_owned();
        if app_id.is_empty() {
            return Err(Error::Config("the app identifier is empty".into()));
        }
        let fapi_url = self.fapi.take().ok_or_else(|| {
            Error::Config("give a publishable key or a Frontend API URL".into())
        })??;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("build() must be called inside a Tokio runtime".into()))?;
        let store = self.take_store();
        let transport = Transport::new(
            fapi_url.clone(),
            &app_id,
            self.connect_timeout,
            self.request_timeout,
        )?;
        let (shutdown, shutdown_rx) = watch::channel(());
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let binding = binding_of(&fapi_url);
        let inner = Arc::new(Inner {
            app_id,
            fapi_url,
            binding,
            token_margin_ms: ms(self.token_margin),
            refresh_lead_ms: ms(self.refresh_lead),
            poll_interval: self.poll_interval,
            retry: self.retry,
            clock: self.clock,
            browser: self.browser,
            oauth_timeout: self.oauth_timeout,
            transport,
            store,
            device_id: OnceLock::new(),
            state: Mutex::new(State::default()),
            auth: watch::channel(AuthState::Loading).0,
            restored: watch::channel(false).0,
            restore_error: Mutex::new(None),
            restore_warning: Mutex::new(None),
            skew_ms: AtomicI64::new(0),
            tokens: TokenCache::default(),
            persisted: tokio::sync::Mutex::new(Persisted::default()),
            _shutdown: shutdown,
        });
        handle.spawn(worker(
            Arc::downgrade(&inner),
            shutdown_rx,
            self.sync_on_start,
            self.background_refresh,
        ));
        Ok(Latchkey { inner })
    }
}

/// The background task: restore, sync once, then keep the active session's token fresh.
async fn worker(
    weak: Weak<Inner>,
    mut shutdown: watch::Receiver<()>,
    sync_on_start: bool,
    background_refresh: bool,
) {
    let Some(inner) = weak.upgrade() else { return };
    inner.restore().await;
    let has_token = inner.state().token.is_some();
    if sync_on_start
        && has_token
        && let Err(e) = inner.sync_client().await
    {
        tracing::debug!(error = %e, "start-up client sync failed; staying on the stored snapshot");
    }
    drop(inner);
    if !background_refresh {
        return;
    }
    loop {
        let wait = match weak.upgrade() {
            Some(inner) => inner.background_step().await,
            None => return,
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Now on the server's clock (local clock plus the learnt skew), milliseconds.
    pub(crate) fn server_now_ms(&self) -> i64 {
        self.clock
            .now_ms()
            .saturating_add(self.skew_ms.load(Ordering::Relaxed))
    }

    /// Learns the server's clock from a token minted between `sent_at_ms` (local) and now, whose
    /// `iat` is `iat` seconds: assumes the latest server time that fits, so tokens are judged a
    /// little older than they are, never younger.
    pub(crate) fn learn_skew(&self, sent_at_ms: i64, iat: i64) {
        let skew = iat.saturating_mul(1000).saturating_add(999) - sent_at_ms;
        self.skew_ms.store(skew, Ordering::Relaxed);
    }

    pub(crate) async fn wait_restored(&self) {
        if *self.restored.borrow() {
            return;
        }
        let mut rx = self.restored.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    pub(crate) fn device_id_or_empty(&self) -> &str {
        self.device_id.get().map(String::as_str).unwrap_or("")
    }

    /// Reads the store: the device id (created on first run), the client token, the snapshot.
    async fn restore(&self) {
        let store = self.store.clone();
        let loaded =
            tokio::task::spawn_blocking(move || StoreKey::ALL.map(|k| store.load(k))).await;
        let [token, device, client, bound] = match loaded {
            Ok(l) => l,
            Err(e) => {
                let err = StoreError::Platform {
                    source: Cause::new(e),
                };
                [
                    Err(err.clone()),
                    Err(err.clone()),
                    Err(err.clone()),
                    Err(err),
                ]
            }
        };
        let mut warning = None;
        let mut failure = None;
        let mut discard = Vec::new();
        let mut take = |key: StoreKey, r: Result<Option<String>, StoreError>| match r {
            Ok(v) => v,
            Err(e @ StoreError::Corrupt { .. }) => {
                tracing::warn!(error = %e, "discarding a corrupt session entry; signed out");
                discard.push(key);
                warning = Some(e);
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "the session store failed; running signed out in memory");
                failure = Some(e);
                None
            }
        };
        let token = take(StoreKey::ClientToken, token);
        let device = take(StoreKey::DeviceId, device).filter(|d| !d.trim().is_empty());
        let client_json = take(StoreKey::Client, client);
        let bound = take(StoreKey::FrontendApi, bound);
        // A session is used only with the Frontend API it was stored for: another one never
        // sees its token.
        let (token, client_json) = if (token.is_some() || client_json.is_some())
            && bound.as_deref() != Some(self.binding.as_str())
        {
            let e = StoreError::OtherFrontendApi {
                stored: bound.clone(),
                configured: self.binding.clone(),
            };
            tracing::warn!(
                stored = bound.as_deref().unwrap_or("(none)"),
                configured = %self.binding,
                "the stored session belongs to another Frontend API; discarded unsent, signed out"
            );
            discard.extend([
                StoreKey::ClientToken,
                StoreKey::Client,
                StoreKey::FrontendApi,
            ]);
            warning = Some(e);
            (None, None)
        } else {
            (token, client_json)
        };
        let client = match client_json.as_deref().map(serde_json::from_str::<Client>) {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                let e = StoreError::Corrupt {
                    key: StoreKey::Client,
                    reason: format!("not a client snapshot: {e}"),
                };
                tracing::warn!(error = %e, "discarding a corrupt session entry; signed out");
                discard.push(StoreKey::Client);
                warning = Some(e);
                None
            }
            None => None,
        };
        // A corrupt (or discarded) token or snapshot makes the pair unusable: start signed out.
        let corrupt_session = discard
            .iter()
            .any(|k| matches!(k, StoreKey::ClientToken | StoreKey::Client));
        let (token, client, client_json) = if corrupt_session || failure.is_some() {
            (None, None, None)
        } else {
            (token.map(ClientToken::new), client, client_json)
        };
        if corrupt_session {
            discard.extend([
                StoreKey::ClientToken,
                StoreKey::Client,
                StoreKey::FrontendApi,
            ]);
        }
        discard.sort();
        discard.dedup();
        let binding = token.is_some().then(|| self.binding.clone());
        let new_device = device.is_none();
        let device = device.unwrap_or_else(new_device_id);
        let _ = self.device_id.set(device.clone());
        if failure.is_none() && (new_device || !discard.is_empty()) {
            let store = self.store.clone();
            let written = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                for k in discard {
                    if k != StoreKey::DeviceId {
                        store.delete(k)?;
                    }
                }
                if new_device {
                    store.save(StoreKey::DeviceId, &device)?;
                }
                Ok(())
            })
            .await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(e),
                Err(e) => {
                    failure = Some(StoreError::Platform {
                        source: Cause::new(e),
                    })
                }
            }
        }
        {
            let mut p = self.persisted.lock().await;
            p.token = token.clone();
            p.client = client_json;
            p.binding = binding;
        }
        *lock(&self.restore_warning) = warning;
        *lock(&self.restore_error) = failure;
        {
            let mut st = self.state();
            st.token = token;
            st.client = client.map(Arc::new);
            self.tokens.seed(st.client.as_deref());
            self.update_auth(&mut st);
        }
        self.restored.send_replace(true);
        // A stored session that has expired meanwhile was just dropped: clear it from the store.
        // Read the flag first: in a let chain the guard would live across the await below (a
        // caller of `ready()` locking it meanwhile would block, as the Tauri app did).
        let restored_cleanly = lock(&self.restore_error).is_none();
        if restored_cleanly && let Err(e) = self.persist().await {
            tracing::warn!(error = %e, "could not update the session store");
        }
    }

    /// Recomputes the auth state from the snapshot and publishes real transitions. A device with
    /// no active session and no sign-in or sign-up under way forgets its client (token and
    /// snapshot): the store is cleared at the next persist.
    fn update_auth(&self, st: &mut State) {
        let now = self.server_now_ms();
        let next = session::auth_state_of(st.client.as_deref(), now);
        if next.is_signed_out() {
            let keep = st.client.as_deref().is_some_and(session::flow_in_progress);
            if !keep && st.client.is_some() {
                st.client = None;
                st.token = None;
            }
        }
        self.tokens.retain_sessions(
            st.client
                .as_deref()
                .map(|c| c.sessions.as_slice())
                .unwrap_or(&[]),
        );
        self.auth.send_if_modified(|cur| {
            if cur.differs_from(&next) {
                *cur = next;
                true
            } else {
                // Same transition-wise; keep the fresher snapshot without notifying.
                false
            }
        });
    }

    /// Applies a response's rotation; `sent` is the token the request carried. Returns whether
    /// the token changed. An echo of what was sent never overwrites a newer token from a
    /// concurrent response.
    fn apply_rotation(&self, sent: Option<&ClientToken>, rotation: &Rotation) -> bool {
        match rotation {
            Rotation::Keep => false,
            Rotation::Replace(t) if Some(t) == sent => false,
            Rotation::Replace(t) => {
                let mut st = self.state();
                st.token = Some(t.clone());
                true
            }
            Rotation::Clear => {
                let mut st = self.state();
                let changed = st.token.is_some() || st.client.is_some();
                st.token = None;
                st.client = None;
                self.update_auth(&mut st);
                changed
            }
        }
    }

    /// Takes a client snapshot from an envelope (`None`: the client is gone).
    fn apply_client(&self, client: Option<Client>) {
        let mut st = self.state();
        if let (Some(old), Some(new)) = (&st.client, &client)
            && old.id == new.id
            && new.updated_at < old.updated_at
        {
            // An answer that was overtaken by a newer one.
            return;
        }
        st.client = client.map(Arc::new);
        self.tokens.seed(st.client.as_deref());
        self.update_auth(&mut st);
    }

    /// Forgets a session the server says is gone (revoked, expired, ended elsewhere), then asks
    /// the server for the rest of the truth.
    pub(crate) async fn session_gone(&self, session_id: &str) {
        {
            let mut st = self.state();
            if let Some(c) = &st.client {
                let mut c = (**c).clone();
                c.sessions.retain(|s| s.id != session_id);
                if c.last_active_session_id.as_deref() == Some(session_id) {
                    c.last_active_session_id = None;
                }
                st.client = Some(Arc::new(c));
            }
            self.tokens.forget_session(session_id);
            self.update_auth(&mut st);
        }
        // Read it first: in a let chain the state's guard would be held across the await.
        let has_token = self.state().token.is_some();
        if has_token && let Err(e) = self.sync_client().await {
            tracing::debug!(error = %e, "client sync after a lost session failed");
        }
        if let Err(e) = self.persist().await {
            tracing::warn!(error = %e, "could not clear the stored session");
        }
    }

    /// Writes the current token and snapshot to the store, if they changed.
    pub(crate) async fn persist(&self) -> Result<(), Error> {
        let mut persisted = self.persisted.lock().await;
        let (token, client) = {
            let st = self.state();
            (st.token.clone(), st.client.clone())
        };
        let client_json = match &client {
            Some(c) => Some(serde_json::to_string(&**c).map_err(|e| {
                Error::Store(StoreError::Corrupt {
                    key: StoreKey::Client,
                    reason: format!("cannot encode the client snapshot: {e}"),
                })
            })?),
            None => None,
        };
        let token_changed = persisted.token != token;
        let client_changed = persisted.client != client_json;
        // A stored token is always bound to this Frontend API: the binding is written before
        // the token, and removed after it.
        let binding = token.as_ref().map(|_| self.binding.clone());
        let binding_changed = persisted.binding != binding;
        if !token_changed && !client_changed && !binding_changed {
            return Ok(());
        }
        let store = self.store.clone();
        let (t, c, b) = (token.clone(), client_json.clone(), binding.clone());
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if let (true, Some(b)) = (binding_changed, &b) {
                store.save(StoreKey::FrontendApi, b)?;
            }
            if token_changed {
                match &t {
                    Some(t) => store.save(StoreKey::ClientToken, t.expose())?,
                    None => store.delete(StoreKey::ClientToken)?,
                }
            }
            if binding_changed && b.is_none() {
                store.delete(StoreKey::FrontendApi)?;
            }
            if client_changed {
                match &c {
                    Some(c) => store.save(StoreKey::Client, c)?,
                    None => store.delete(StoreKey::Client)?,
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| {
            Error::Store(StoreError::Platform {
                source: Cause::new(e),
            })
        })??;
        persisted.token = token;
        persisted.client = client_json;
        persisted.binding = binding;
        Ok(())
    }

    /// Sends a call with the current client token, applying every response's rotation and
    /// retrying per the policy (`retries` overrides its count).
    pub(crate) async fn send(&self, call: &Call, retries: Option<u32>) -> Result<Reply, Error> {
        self.wait_restored().await;
        let max = retries.unwrap_or(self.retry.retries());
        let mut attempt = 0;
        loop {
            let token = self.state().token.clone();
            match self
                .transport
                .send(call, token.as_ref(), self.device_id_or_empty())
                .await
            {
                Ok(mut reply) => {
                    reply.rotated = self.apply_rotation(token.as_ref(), &reply.rotation);
                    if attempt < max && transport::retryable_status(reply.status, call.idempotent) {
                        let delay = match reply.retry_after {
                            Some(d) if d > self.retry.retry_after_limit() => return Ok(reply),
                            Some(d) => d,
                            None => self.retry.backoff(attempt),
                        };
                        tracing::debug!(status = reply.status, ?delay, path = %call.logged_path(), "retrying");
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                        continue;
                    }
                    return Ok(reply);
                }
                Err(f) => {
                    let may_retry = f.error.is_offline() && (!f.sent || call.idempotent);
                    if attempt < max && may_retry {
                        let delay = self.retry.backoff(attempt);
                        tracing::debug!(error = %f.error, ?delay, path = %call.logged_path(), "retrying");
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(f.error);
                }
            }
        }
    }

    /// The error a non-2xx reply stands for.
    fn reply_error(&self, reply: &Reply) -> Error {
        if (300..400).contains(&reply.status) {
            return transport::unexpected_redirect(reply.status);
        }
        match serde_json::from_slice::<ErrorEnvelope>(&reply.body) {
            Ok(env) if !env.errors.is_empty() => Error::from_api(
                ApiError {
                    status: reply.status,
                    errors: env.errors,
                    trace_id: env.clerk_trace_id,
                },
                reply.retry_after,
                self.clock.now_ms(),
            ),
            Ok(_) => Error::decode(
                reply.status,
                &reply.body,
                Message("an error envelope without errors".into()),
            ),
            Err(e) => Error::decode(reply.status, &reply.body, e),
        }
    }

    /// A call answered with `{response, client}`: syncs the client, persists, returns the
    /// response.
    pub(crate) async fn envelope<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        let reply = self.send(&call, None).await?;
        if !(200..300).contains(&reply.status) {
            // An error answer may still have created a client (and handed out its token).
            self.persist().await?;
            return Err(self.reply_error(&reply));
        }
        let env: ClientEnvelope<T> = serde_json::from_slice(&reply.body)
            .map_err(|e| Error::decode(reply.status, &reply.body, e))?;
        // A cleared token means the client is gone, whatever the body still shows.
        let client = match reply.rotation {
            Rotation::Clear => None,
            _ => env.client,
        };
        self.apply_client(client);
        self.persist().await?;
        Ok(env.response)
    }

    /// A call answered with the bare object (tokens).
    pub(crate) async fn bare<T: DeserializeOwned>(
        &self,
        call: Call,
        retries: Option<u32>,
    ) -> Result<T, Error> {
        let reply = self.send(&call, retries).await?;
        if reply.rotated {
            self.persist().await?;
        }
        if !(200..300).contains(&reply.status) {
            return Err(self.reply_error(&reply));
        }
        serde_json::from_slice(&reply.body).map_err(|e| Error::decode(reply.status, &reply.body, e))
    }

    /// `GET /v1/client`.
    pub(crate) async fn sync_client(&self) -> Result<(), Error> {
        let _: serde::de::IgnoredAny = self.envelope(Call::get("/v1/client")).await?;
        Ok(())
    }

    /// The active session's id, waiting for the store to be read; `SignedOut` if none.
    pub(crate) async fn active_session_id(&self) -> Result<String, Error> {
        self.wait_restored().await;
        match &*self.auth.borrow() {
            AuthState::SignedIn { session, .. } => Ok(session.id.clone()),
            _ => Err(Error::SignedOut),
        }
    }

    /// A session-scoped call: a 401 means the session is over.
    pub(crate) async fn session_envelope<T: DeserializeOwned>(
        &self,
        session_id: &str,
        call: Call,
    ) -> Result<T, Error> {
        match self.envelope(call).await {
            Err(Error::Api(e)) if e.status == 401 => {
                self.session_gone(session_id).await;
                Err(Error::Api(e))
            }
            other => other,
        }
    }

    /// A session-scoped call answered with a bare body (no `client`); a 401 ends the session.
    pub(crate) async fn session_bare<T: DeserializeOwned>(
        &self,
        session_id: &str,
        call: Call,
    ) -> Result<T, Error> {
        match self.bare(call, None).await {
            Err(Error::Api(e)) if e.status == 401 => {
                self.session_gone(session_id).await;
                Err(Error::Api(e))
            }
            other => other,
        }
    }

    /// One step of the background refresher; returns how long to sleep.
    async fn background_step(&self) -> Duration {
        let poll = self.poll_interval;
        let sid = match &*self.auth.borrow() {
            AuthState::SignedIn { session, .. } => session.id.clone(),
            _ => return poll,
        };
        let threshold = self.token_margin_ms.saturating_add(self.refresh_lead_ms);
        let remaining = |inner: &Inner| {
            inner
                .tokens
                .get(&sid, None)
                .map(|t| t.expires_at().saturating_mul(1000) - inner.server_now_ms())
        };
        if remaining(self).is_none_or(|r| r <= threshold)
            && let Err(e) = self.fetch_shared(&sid, None, threshold).await
        {
            tracing::debug!(error = %e, "background token refresh failed");
            return poll;
        }
        match remaining(self) {
            Some(r) if r > threshold => {
                let until = u64::try_from(r - threshold).unwrap_or(0);
                Duration::from_millis(until).clamp(Duration::from_millis(10), poll)
            }
            _ => poll,
        }
    }
}

/// What a stored session is bound to: the Frontend API URL, normalised (lower-case scheme and
/// host, no default port, no trailing `/`).
fn binding_of(fapi_url: &str) -> String {
    match reqwest::Url::parse(fapi_url) {
        Ok(u) => u.as_str().trim_end_matches('/').to_owned(),
        Err(_) => fapi_url.trim_end_matches('/').to_owned(),
    }
}

fn new_device_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
