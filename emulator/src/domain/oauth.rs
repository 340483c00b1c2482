//! Sign-in and sign-up through OAuth providers (`strategy=oauth_<provider>`): the built-in
//! `oauth_google`, `oauth_github`, `oauth_apple`, `oauth_microsoft`, and custom providers
//! `oauth_custom_<key>` an instance configures. Offline, a provider is a **mock** the emulator
//! hosts, whose authorize page lets a person pick an identity (or deny), and which automation
//! can answer ahead of time (`POST /_emulator/v1/oauth/{provider}/next`, `{provider}` being what
//! follows `oauth_`: `google`, `custom_acme`); with `oidc` in its settings it is a real OpenID
//! Connect upstream instead (`crate::oidc`). A provider is named by its strategy, an
//! [`AnyStrategy`] (see there why not a [`Strategy`]).
//!
//! The flow, as Clerk's (clerk-wire-2 §1):
//! 1. The app starts a sign-in or sign-up with the strategy and a `redirect_url`; the attempt's
//!    verification is `unverified` with an `external_verification_redirect_url`: the mock's
//!    authorize page, with an OAuth `state` of `<attempt id>.<random>`.
//! 2. The page (or a queued identity) sends the browser to `/v1/oauth_callback?code&state`.
//! 3. The callback verifies the attempt on the client that started it (its token is not rotated
//!    there: that device is not the browser), and sends the browser to `redirect_url` (or
//!    `action_complete_redirect_url` when a session was created) with a single-use
//!    `rotating_token_nonce`; a transfer or failure gets `__clerk_status=failed&
//!    __clerk_error_code=…` and no nonce.
//! 4. The app redeems the nonce with `GET /v1/client/sign_ins/{id}?rotating_token_nonce=…`
//!    (or `sign_ups/{id}`): its client's token is rotated in that answer.
//!
//! Choices (unconfirmed in the wire notes): the nonce works once and only for the attempt it
//! was issued for, whose client it answers as (a request with another client's token is
//! refused); it lasts as long as the verification. A provider account is linked to an existing
//! user only through an email address both the provider and the user have verified. A sign-up
//! whose provider account (or verified email) already belongs to a user is `transferable`
//! with `external_account_exists`. An identity whose email the provider did not verify signs
//! up with that address still to be verified by code.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::clients::{self, ClientCtx};
use super::email_links::{s256, with_params};
use super::settings::Settings;
use super::{ids, redirects, sign_in, sign_up, users, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{
    ClientRecord, ExternalAccountRecord, FirstFactor, IdentKind, OAuthIdentity, OAuthVerification,
    PendingCode, SignInState, SignUpState, UserWithIdents,
};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::{
    AnyStrategy, CustomProvider, ErrorCode, SignInStatus, Strategy, VerificationStatus,
};

/// How long a verification waits at the provider (Clerk's OAuth verifications: 10 minutes).
const VERIFICATION_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// The scopes every mock provider grants.
pub const MOCK_SCOPES: &str = "openid email profile";
/// How many earlier identities a provider's page offers again.
const KNOWN_IDENTITIES: usize = 8;
/// Longest `state`, `code` or nonce accepted (the emulator's are far shorter).
const MAX_SECRET_LEN: usize = 256;

/// The built-in providers: strategy, path name (`/_emulator/oauth/{name}`), and the name shown
/// to people.
pub const PROVIDERS: [(Strategy, &str, &str); 4] = [
    (Strategy::OAuthGoogle, "google", "Google"),
    (Strategy::OAuthGithub, "github", "GitHub"),
    (Strategy::OAuthApple, "apple", "Apple"),
    (Strategy::OAuthMicrosoft, "microsoft", "Microsoft"),
];

/// The built-in provider named `name` in paths (`google`) or as a strategy (`oauth_google`).
pub fn builtin(name: &str) -> Option<(Strategy, &'static str, &'static str)> {
    let name = name.strip_prefix("oauth_").unwrap_or(name);
    PROVIDERS.into_iter().find(|(_, n, _)| *n == name)
}

/// The provider named `name` in paths (`google`, `custom_acme`) or as a strategy
/// (`oauth_google`, `oauth_custom_acme`): a built-in one, or any well-formed custom one (whether
/// the instance has it is [`provider_of_instance`]'s question).
pub fn provider(name: &str) -> Option<AnyStrategy> {
    if let Some((s, _, _)) = builtin(name) {
        return Some(s.into());
    }
    let name = name.strip_prefix("oauth_").unwrap_or(name);
    let key = name.strip_prefix("custom_")?;
    CustomProvider::new(key).map(AnyStrategy::OAuthCustom)
}

/// [`provider`], when the instance has it: every built-in provider (on or off, as before), a
/// custom one only when its settings name it. Others are no provider (404 on the mock's pages
/// and the control API, 422 on the Backend API).
pub fn provider_of_instance(settings: &Settings, name: &str) -> Option<AnyStrategy> {
    provider(name).filter(|p| p.known().is_some() || settings.oauth_configured(p))
}

/// The provider's name in the mock's paths: what follows `oauth_` (`google`, `custom_acme`).
pub fn path_name(strategy: &AnyStrategy) -> &str {
    strategy
        .as_str()
        .strip_prefix("oauth_")
        .unwrap_or("unknown")
}

/// The provider's display name (`Google`; a custom provider's configured `name`).
pub fn display_name<'a>(settings: &'a Settings, strategy: &'a AnyStrategy) -> &'a str {
    match strategy {
        AnyStrategy::OAuthCustom(c) => settings.custom_provider_name(c),
        _ => PROVIDERS
            .iter()
            .find(|(s, _, _)| *strategy == *s)
            .map_or("OAuth", |(_, _, d)| *d),
    }
}

/// Sign-in and sign-up through the provider are on. A custom provider the instance does not
/// have is refused as an unknown strategy is (the same 422 `form_param_value_invalid`); a
/// provider it has but keeps off, as off.
fn ensure_enabled(env: &Env<'_>, strategy: &AnyStrategy) -> Result<(), DomainError> {
    if env.settings.oauth_enabled(strategy) {
        Ok(())
    } else if strategy.known().is_none() && !env.settings.oauth_configured(strategy) {
        Err(DomainError::ParamValue {
            param: "strategy",
            reason: format!("{:?} is not a known strategy", strategy.as_str()),
        })
    } else {
        Err(DomainError::ParamValue {
            param: "strategy",
            reason: format!("{:?} is not enabled on this instance", strategy.as_str()),
        })
    }
}

/// Where the app wants the browser sent after the callback, as the request said.
#[derive(Debug, Clone, Default)]
pub struct OAuthTarget {
    pub redirect_url: Option<String>,
    pub action_complete_redirect_url: Option<String>,
    /// A real upstream's `authorization_endpoint`, as its discovery said (the handler asks it,
    /// outside the transaction); `None` for a mock provider.
    pub upstream_authorization_endpoint: Option<String>,
}

/// A fresh verification for `attempt_id`, at the provider. Both redirect URLs are checked
/// (allowlist, schemes) now: the callback only ever follows checked ones.
fn begin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    strategy: &AnyStrategy,
    attempt_id: &str,
    target: &OAuthTarget,
) -> Result<OAuthVerification, DomainError> {
    ensure_enabled(env, strategy)?;
    let redirect_url = target
        .redirect_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .ok_or(DomainError::ParamMissing("redirect_url"))?;
    let redirect_url = redirects::check(tx, env, "redirect_url", redirect_url)?.to_string();
    let action_complete_redirect_url = match target
        .action_complete_redirect_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        Some(u) => Some(redirects::check(tx, env, "action_complete_redirect_url", u)?.to_string()),
        None => None,
    };
    let state = format!("{attempt_id}.{}", ids::random_base62(32));
    let upstream = match env.settings.oidc_upstream(strategy) {
        None => None,
        Some(cfg) => {
            let endpoint = target
                .upstream_authorization_endpoint
                .as_deref()
                .ok_or_else(|| {
                    DomainError::InvalidState(format!(
                        "the OIDC provider of {} could not be reached",
                        strategy.as_str()
                    ))
                })?;
            let verifier = ids::random_base62(64);
            let nonce = ids::random_base62(32);
            let mut url = parse_url(endpoint)?;
            url.query_pairs_mut()
                .append_pair("response_type", "code")
                .append_pair("client_id", &cfg.client_id)
                // The emulator's own address even behind a Frontend API proxy: the code is
                // redeemed later (`http/oauth.rs`) with the same `redirect_uri`, which has no
                // request (so no proxy) to go by.
                .append_pair("redirect_uri", &callback_url(env.issuer))
                .append_pair("scope", &cfg.scopes())
                .append_pair("state", &state)
                .append_pair("code_challenge", &s256(&verifier))
                .append_pair("code_challenge_method", "S256")
                .append_pair("nonce", &nonce);
            Some(crate::store::records::UpstreamRequest {
                authorize_url: url.to_string(),
                code_verifier: Secret::new(verifier),
                nonce,
            })
        }
    };
    Ok(OAuthVerification {
        strategy: strategy.clone(),
        shown_as: None,
        upstream,
        status: VerificationStatus::Unverified,
        state: Secret::new(state),
        code_hash: None,
        identity: None,
        nonce_hash: None,
        browser: env.browser,
        redirect_url,
        action_complete_redirect_url,
        error: None,
        expire_at: env.now + VERIFICATION_LIFETIME_MS,
    })
}

/// The provider's callback on this emulator (`redirect_uri` of every authorization).
pub fn callback_url(issuer: &str) -> String {
    format!("{}/v1/oauth_callback", issuer.trim_end_matches('/'))
}

/// The provider's authorize URL for a verification (the emulator-hosted mock page, or the real
/// upstream's), as `external_verification_redirect_url` shows it.
pub fn authorize_url(issuer: &str, v: &OAuthVerification) -> String {
    if let Some(u) = &v.upstream {
        return u.authorize_url.clone();
    }
    let base = issuer.trim_end_matches('/');
    let mut url = url::Url::parse(&format!(
        "{base}/_emulator/oauth/{}/authorize",
        path_name(&v.strategy)
    ))
    .unwrap_or_else(|_| unreachable_url());
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "latchkey-emulator")
        .append_pair("redirect_uri", &format!("{base}/v1/oauth_callback"))
        .append_pair("scope", MOCK_SCOPES)
        .append_pair("state", v.state.expose());
    url.to_string()
}

/// A URL that always parses, for the impossible case that the issuer does not.
fn unreachable_url() -> url::Url {
    url::Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("a literal URL parses"))
}

/// `POST /v1/client/sign_ins` or `prepare_first_factor` with `strategy=oauth_<provider>`: the
/// sign-in waits at the provider. Each call gives a fresh verification (and URL).
pub fn start_sign_in(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignInState,
    strategy: &AnyStrategy,
    target: &OAuthTarget,
) -> Result<(), DomainError> {
    let v = begin(tx, env, strategy, &state.id, target)?;
    state.status = SignInStatus::NeedsFirstFactor;
    state.first_factor = Some(FirstFactor::OAuth(Box::new(v)));
    tx.save_sign_in(state)?;
    Ok(())
}

/// `POST /v1/client/sign_ups` or `PATCH …/{id}` with `strategy=oauth_<provider>`.
pub fn start_sign_up(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &mut SignUpState,
    strategy: &AnyStrategy,
    target: &OAuthTarget,
) -> Result<(), DomainError> {
    let v = begin(tx, env, strategy, &state.id, target)?;
    state.external_account = Some(v);
    tx.save_sign_up(state)?;
    Ok(())
}

/// `POST /v1/client/sign_ins strategy=oauth_<provider>`: a new sign-in, at the provider.
pub fn create_sign_in(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    strategy: &AnyStrategy,
    target: &OAuthTarget,
) -> Result<SignInState, DomainError> {
    ensure_enabled(env, strategy)?;
    let mut state = sign_in::create(tx, env, client, sign_in::SignInInput::default())??;
    start_sign_in(tx, env, &mut state, strategy, target)?;
    Ok(state)
}

/// `POST /v1/client/sign_ins transfer=true`: see [`transfer_to_sign_in`].
pub fn create_transferred_sign_in(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
) -> Result<SignInState, DomainError> {
    let mut state = sign_in::create(tx, env, client, sign_in::SignInInput::default())??;
    transfer_to_sign_in(tx, env, client, &mut state)?;
    tx.save_sign_in(&state)?;
    Ok(state)
}

/// `POST /v1/client/sign_ups strategy=oauth_<provider>` (with any fields the person typed): a
/// new sign-up, at the provider.
pub fn create_sign_up(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    mut input: sign_up::SignUpInput,
    strategy: &AnyStrategy,
    target: &OAuthTarget,
) -> Result<SignUpState, DomainError> {
    ensure_enabled(env, strategy)?;
    input.strategy = None;
    let mut state = sign_up::create(tx, env, client, input)?;
    start_sign_up(tx, env, &mut state, strategy, target)?;
    Ok(state)
}

/// `PATCH /v1/client/sign_ups/{id} strategy=oauth_<provider>`: the sign-up goes on at the
/// provider.
pub fn update_sign_up(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
    mut input: sign_up::SignUpInput,
    strategy: &AnyStrategy,
    target: &OAuthTarget,
) -> Result<(), DomainError> {
    ensure_enabled(env, strategy)?;
    input.strategy = None;
    sign_up::update(tx, env, client, state, input)?;
    start_sign_up(tx, env, state, strategy, target)
}

/// `POST /v1/client/sign_ups transfer=true`: see [`transfer_to_sign_up`].
pub fn create_transferred_sign_up(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    mut input: sign_up::SignUpInput,
) -> Result<SignUpState, DomainError> {
    input.strategy = None;
    let mut state = sign_up::create(tx, env, client, input)?;
    transfer_to_sign_up(tx, env, client, &mut state)?;
    Ok(state)
}

/// The instance-value key of a provider's queued answers.
fn next_key(strategy: &AnyStrategy) -> String {
    format!("oauth_next.{}", strategy.as_str())
}

/// What a mock provider answers its next authorization with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum MockAnswer {
    /// `{"error": "access_denied"}`.
    Error {
        error: String,
    },
    Identity(MockIdentity),
}

/// An identity as automation (or the page's form) gives it; what is missing is made up.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MockIdentity {
    pub email: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// Default: verified, as Google's and Apple's addresses are.
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub provider_user_id: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

impl MockIdentity {
    /// The identity, checked: a well-formed email; a stable provider id derived from the email
    /// when none is given (so the same person picked twice is the same account).
    fn resolve(self) -> Result<OAuthIdentity, DomainError> {
        let email = users::normalize_email(&self.email)?;
        let given = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let provider_user_id = given(self.provider_user_id)
            .unwrap_or_else(|| ids::token_hash(&email.to_lowercase())[..20].to_owned());
        if provider_user_id.len() > 255 {
            return Err(DomainError::ParamFormat {
                param: "provider_user_id",
                reason: "is longer than 255 characters".into(),
            });
        }
        Ok(OAuthIdentity {
            provider_user_id,
            email,
            email_verified: self.email_verified.unwrap_or(true),
            first_name: given(self.first_name),
            last_name: given(self.last_name),
            image_url: given(self.image_url),
            username: given(self.username),
            access_token: None,
            access_token_expire_at: None,
        })
    }
}

/// Queues `answer` for the provider's next authorization (automation). Answers queue up in
/// order; each authorization takes one.
pub fn queue_next(
    tx: &Tx<'_>,
    strategy: &AnyStrategy,
    answer: MockAnswer,
) -> Result<(), DomainError> {
    if let MockAnswer::Identity(i) = &answer {
        i.clone().resolve()?;
    }
    if let MockAnswer::Error { error } = &answer {
        if error != "access_denied" {
            return Err(DomainError::ParamValue {
                param: "error",
                reason: "the mock answers only \"access_denied\"".into(),
            });
        }
    }
    let mut queue = queued(tx, strategy)?;
    queue.push(answer);
    write_queue(tx, strategy, &queue)
}

fn queued(tx: &ReadTx<'_>, strategy: &AnyStrategy) -> Result<Vec<MockAnswer>, DomainError> {
    Ok(match tx.instance_value(&next_key(strategy))? {
        Some(t) => {
            serde_json::from_str(&t).map_err(|e| DomainError::InvalidState(e.to_string()))?
        }
        None => Vec::new(),
    })
}

fn write_queue(tx: &Tx<'_>, strategy: &AnyStrategy, q: &[MockAnswer]) -> Result<(), DomainError> {
    let text = serde_json::to_string(q).map_err(|e| DomainError::InvalidState(e.to_string()))?;
    tx.set_instance_value(&next_key(strategy), &text)?;
    Ok(())
}

/// What the mock's authorize page does.
#[derive(Debug)]
pub enum Authorize {
    /// Send the browser to the callback at once (a queued answer).
    Redirect(url::Url),
    /// Show the page: who to be.
    Page {
        /// The provider's display name.
        provider: String,
        state: String,
        known: Vec<OAuthIdentity>,
    },
}

/// The attempt a `state` names, and its verification. `None`: no such pending verification.
enum Flow {
    SignIn(Box<SignInState>),
    SignUp(Box<SignUpState>),
    Connect(Box<Connection>),
}

/// A signed-in user connecting (or reauthorizing) an account at a provider
/// (`/v1/me/external_accounts`), waiting at the provider. Kept as an instance value under
/// `oauth_connect.<id>` until the callback; `id` is the external account's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub verification: OAuthVerification,
    pub created_at: i64,
}

/// On `reset`: the queued automation answers and pending connections go with the users, so
/// one test's leftover identity never answers the next test's authorization.
pub(super) fn reset(tx: &Tx<'_>) -> Result<(), DomainError> {
    tx.delete_instance_values("oauth_next.")?;
    tx.delete_instance_values("oauth_connect.")?;
    tx.delete_instance_values(super::attack::CAPTCHA_PREFIX)?;
    Ok(())
}

fn connection_key(id: &str) -> String {
    format!("oauth_connect.{id}")
}

fn load_connection(tx: &ReadTx<'_>, id: &str) -> Result<Option<Connection>, DomainError> {
    match tx.instance_value(&connection_key(id))? {
        Some(t) => Ok(serde_json::from_str(&t).ok()),
        None => Ok(None),
    }
}

fn save_connection(tx: &Tx<'_>, c: &Connection) -> Result<(), DomainError> {
    let text = serde_json::to_string(c).map_err(|e| DomainError::InvalidState(e.to_string()))?;
    tx.set_instance_value(&connection_key(&c.id), &text)?;
    Ok(())
}

impl Flow {
    fn verification(&mut self) -> Option<&mut OAuthVerification> {
        match self {
            Flow::SignIn(s) => match &mut s.first_factor {
                Some(FirstFactor::OAuth(v)) => Some(v),
                _ => None,
            },
            Flow::SignUp(s) => s.external_account.as_mut(),
            Flow::Connect(c) => Some(&mut c.verification),
        }
    }

    fn client_id(&self) -> &str {
        match self {
            Flow::SignIn(s) => &s.client_id,
            Flow::SignUp(s) => &s.client_id,
            Flow::Connect(c) => &c.client_id,
        }
    }

    fn save(&self, tx: &Tx<'_>) -> Result<(), DomainError> {
        match self {
            Flow::SignIn(s) => tx.save_sign_in(s)?,
            Flow::SignUp(s) => tx.save_sign_up(s)?,
            Flow::Connect(c) => save_connection(tx, c)?,
        }
        Ok(())
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The flow whose verification carries `state`, still at the provider.
fn flow_of_state(tx: &ReadTx<'_>, state: &str) -> Result<Option<Flow>, DomainError> {
    if state.is_empty() || state.len() > MAX_SECRET_LEN {
        return Ok(None);
    }
    let Some((id, _)) = state.split_once('.') else {
        return Ok(None);
    };
    let mut flow = if id.starts_with("sia_") {
        match tx.sign_in(id)? {
            Some(s) => Flow::SignIn(Box::new(s)),
            None => return Ok(None),
        }
    } else if id.starts_with("sua_") {
        match tx.sign_up(id)? {
            Some(s) => Flow::SignUp(Box::new(s)),
            None => return Ok(None),
        }
    } else if id.starts_with("eac_") {
        match load_connection(tx, id)? {
            Some(c) => Flow::Connect(Box::new(c)),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let ok = flow
        .verification()
        .is_some_and(|v| ct_eq(v.state.expose(), state));
    Ok(ok.then_some(flow))
}

/// `GET /_emulator/oauth/{provider}/authorize?state=…`: a queued answer redirects at once;
/// otherwise the page is shown. A `state` this instance did not issue is refused.
pub fn authorize(
    tx: &Tx<'_>,
    env: &Env<'_>,
    strategy: &AnyStrategy,
    state: &str,
) -> Result<Authorize, DomainError> {
    let mut flow = at_the_mock(tx, env, strategy, state)?;
    let mut queue = queued(tx, strategy)?;
    if !queue.is_empty() {
        let answer = queue.remove(0);
        write_queue(tx, strategy, &queue)?;
        return Ok(Authorize::Redirect(answer_with(
            tx, env, &mut flow, state, answer,
        )?));
    }
    let known = tx
        .external_accounts_of_provider(strategy.as_str(), KNOWN_IDENTITIES)?
        .into_iter()
        .map(|a| OAuthIdentity {
            provider_user_id: a.provider_user_id,
            email: a.email_address,
            email_verified: a.email_address_verified,
            first_name: a.first_name,
            last_name: a.last_name,
            image_url: a.image_url,
            username: a.username,
            access_token: None,
            access_token_expire_at: None,
        })
        .collect();
    Ok(Authorize::Page {
        provider: display_name(env.settings, strategy).to_owned(),
        state: state.to_owned(),
        known,
    })
}

/// The person's choice on the page (`POST /_emulator/oauth/{provider}/authorize`): where the
/// browser goes next (the callback, with a code or `error=access_denied`).
pub fn choose(
    tx: &Tx<'_>,
    env: &Env<'_>,
    strategy: &AnyStrategy,
    state: &str,
    answer: MockAnswer,
) -> Result<url::Url, DomainError> {
    let mut flow = at_the_mock(tx, env, strategy, state)?;
    answer_with(tx, env, &mut flow, state, answer)
}

/// The flow whose `state` the mock page (or its queue) may answer: this provider's, still
/// `unverified` and unexpired, the provider on and a mock — never a verification that went to a
/// real upstream, nor one already answered, whose identity the page would otherwise rewrite
/// (an account takeover through a later transfer or completion).
fn at_the_mock(
    tx: &Tx<'_>,
    env: &Env<'_>,
    strategy: &AnyStrategy,
    state: &str,
) -> Result<Flow, DomainError> {
    let invalid = || DomainError::OAuth(ErrorCode::OauthCallbackInvalid);
    if !env.settings.oauth_enabled(strategy) || env.settings.oidc_upstream(strategy).is_some() {
        return Err(invalid());
    }
    let mut flow = flow_of_state(tx, state)?.ok_or_else(invalid)?;
    let at_mock = flow.verification().is_some_and(|v| {
        v.strategy == *strategy
            && v.upstream.is_none()
            && v.status == VerificationStatus::Unverified
            && env.now < v.expire_at
    });
    if !at_mock {
        return Err(invalid());
    }
    Ok(flow)
}

/// Records the provider's answer on the verification (an identity under a fresh one-time
/// code) and returns the callback URL carrying it.
fn answer_with(
    tx: &Tx<'_>,
    env: &Env<'_>,
    flow: &mut Flow,
    state: &str,
    answer: MockAnswer,
) -> Result<url::Url, DomainError> {
    let mut callback = parse_url(&callback_url(env.fapi_url))?;
    match answer {
        MockAnswer::Error { error } => {
            callback
                .query_pairs_mut()
                .append_pair("error", &error)
                .append_pair("state", state);
        }
        MockAnswer::Identity(i) => {
            let identity = i.resolve()?;
            let code = ids::random_base62(40);
            if let Some(v) = flow.verification() {
                v.code_hash = Some(ids::token_hash(&code));
                v.identity = Some(identity);
            }
            flow.save(tx)?;
            callback
                .query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", state)
                .append_pair("scope", MOCK_SCOPES);
        }
    }
    Ok(callback)
}

fn parse_url(u: &str) -> Result<url::Url, DomainError> {
    url::Url::parse(u).map_err(|e| DomainError::InvalidState(e.to_string()))
}

/// `GET /v1/oauth_callback?code&state` (or `error`): finishes the verification and says where
/// the browser goes. A `state` or `code` this instance did not issue (or that was used) is an
/// error, never a redirect: without a known attempt there is no checked URL to go to.
pub fn callback(
    tx: &Tx<'_>,
    env: &Env<'_>,
    state: &str,
    code: Option<&str>,
    error: Option<&str>,
    upstream: Option<UpstreamAnswer>,
) -> Result<url::Url, DomainError> {
    let invalid = || DomainError::OAuth(ErrorCode::OauthCallbackInvalid);
    let mut flow = flow_of_state(tx, state)?.ok_or_else(invalid)?;
    let v = flow.verification().ok_or_else(invalid)?;
    if v.status != VerificationStatus::Unverified {
        return Err(invalid());
    }
    let failed = |url: &str, code: ErrorCode| -> Result<url::Url, DomainError> {
        Ok(with_params(
            parse_url(url)?,
            &[
                ("__clerk_status", "failed"),
                ("__clerk_error_code", code.as_str()),
            ],
        ))
    };
    let redirect_url = v.redirect_url.clone();
    if env.now >= v.expire_at {
        v.status = VerificationStatus::Expired;
        flow.save(tx)?;
        return failed(&redirect_url, ErrorCode::VerificationExpired);
    }
    if error.is_some() {
        v.status = VerificationStatus::Failed;
        v.error = Some(ErrorCode::OauthAccessDenied);
        v.code_hash = None;
        flow.save(tx)?;
        return failed(&redirect_url, ErrorCode::OauthAccessDenied);
    }
    let identity = if v.upstream.is_some() {
        // A real provider: the handler redeemed the code there before this transaction.
        match upstream {
            // Stored addresses are normalised (lower case): so is the upstream's, else
            // `Victim@Corp.Example` would neither link to nor be refused as `victim@corp.example`
            // and a second user with the same address would be made. Not an address, or an
            // oversized subject: the exchange failed.
            Some(UpstreamAnswer::Identity(mut i))
                if i.provider_user_id.len() <= 255 && users::normalize_email(&i.email).is_ok() =>
            {
                i.email = users::normalize_email(&i.email)?;
                i
            }
            Some(UpstreamAnswer::Identity(_) | UpstreamAnswer::Failed) => {
                v.status = VerificationStatus::Failed;
                v.error = Some(ErrorCode::OauthTokenExchangeError);
                flow.save(tx)?;
                return failed(&redirect_url, ErrorCode::OauthTokenExchangeError);
            }
            None => return Err(invalid()),
        }
    } else {
        let code = code
            .filter(|c| !c.is_empty() && c.len() <= MAX_SECRET_LEN)
            .ok_or_else(invalid)?;
        let matches = v
            .code_hash
            .as_deref()
            .is_some_and(|h| ct_eq(h, &ids::token_hash(code)));
        if !matches {
            return Err(invalid());
        }
        v.code_hash = None;
        v.identity.clone().ok_or_else(invalid)?
    };
    v.identity = Some(identity.clone());
    let record = tx.client(flow.client_id())?.ok_or_else(invalid)?;
    // The attempt's own client, acted on from the browser: its token is not rotated here.
    let mut client = clients::elsewhere(record);
    let outcome = match &mut flow {
        Flow::SignIn(s) => sign_in_through(tx, env, &mut client, s, &identity)?,
        Flow::SignUp(s) => sign_up_through(tx, env, &mut client, s, &identity)?,
        Flow::Connect(c) => connect_through(tx, env, c, &identity)?,
    };
    client.flush(tx)?;
    let v = flow.verification().ok_or_else(invalid)?;
    match outcome {
        Outcome::Transfer(code) => {
            v.status = VerificationStatus::Transferable;
            v.error = Some(code);
            let url = v.redirect_url.clone();
            flow.save(tx)?;
            failed(&url, code)
        }
        Outcome::Refused(code) => {
            v.status = VerificationStatus::Failed;
            v.error = Some(code);
            let url = v.redirect_url.clone();
            flow.save(tx)?;
            failed(&url, code)
        }
        Outcome::Connected => {
            v.status = VerificationStatus::Verified;
            let url = v.redirect_url.clone();
            flow.save(tx)?;
            parse_url(&url)
        }
        Outcome::Done { session } => {
            v.status = VerificationStatus::Verified;
            let target = match (&session, &v.action_complete_redirect_url) {
                (Some(_), Some(done)) => done.clone(),
                _ => v.redirect_url.clone(),
            };
            // A browser's attempt: its client is the browser's own (its dev browser), which
            // reads the result itself; a nonce there would only be a credential in its history.
            if v.browser {
                flow.save(tx)?;
                return parse_url(&target);
            }
            let nonce = ids::random_base62(40);
            v.nonce_hash = Some(ids::token_hash(&nonce));
            flow.save(tx)?;
            Ok(with_params(
                parse_url(&target)?,
                &[("rotating_token_nonce", &nonce)],
            ))
        }
    }
}

/// What a real upstream answered the callback's code with (asked by the handler).
#[derive(Debug)]
pub enum UpstreamAnswer {
    Identity(OAuthIdentity),
    /// The exchange or the ID token failed (the reason is logged by the handler).
    Failed,
}

/// The verification a callback's `state` names, when it waits at a real upstream: its
/// provider, PKCE verifier and ID-token nonce, for the handler's code exchange.
pub fn pending_upstream(
    tx: &ReadTx<'_>,
    state: &str,
) -> Result<Option<(AnyStrategy, Secret, String)>, DomainError> {
    let Some(mut flow) = flow_of_state(tx, state)? else {
        return Ok(None);
    };
    Ok(flow.verification().and_then(|v| {
        let u = v.upstream.as_ref()?;
        (v.status == VerificationStatus::Unverified)
            .then(|| (v.strategy.clone(), u.code_verifier.clone(), u.nonce.clone()))
    }))
}

/// What the callback made of the identity.
enum Outcome {
    /// Verified: signed in (a session), or the attempt goes on (second factor, missing fields).
    Done { session: Option<String> },
    /// Nothing to sign in to / already a user: continue with the other flow (`transfer=true`).
    Transfer(ErrorCode),
    /// The user may not sign in.
    Refused(ErrorCode),
    /// A signed-in user's account connected (no nonce: the app reloads its client).
    Connected,
}

/// The user the identity belongs to: by its provider account, else (linking it) by an email
/// address both sides verified. `None`: nobody.
fn user_of_identity(
    tx: &Tx<'_>,
    env: &Env<'_>,
    strategy: &AnyStrategy,
    identity: &OAuthIdentity,
) -> Result<Option<UserWithIdents>, DomainError> {
    if let Some(a) =
        tx.external_account_by_provider_user(strategy.as_str(), &identity.provider_user_id)?
    {
        return Ok(tx.user_with_idents(&a.user_id)?);
    }
    if !identity.email_verified {
        return Ok(None);
    }
    let Some(ident) = tx.ident_by_value(IdentKind::EmailAddress, &identity.email)? else {
        return Ok(None);
    };
    if !ident.verified {
        return Ok(None);
    }
    let Some(user) = tx.user_with_idents(&ident.user_id)? else {
        return Ok(None);
    };
    // A user who may not sign in (banned, locked) is refused by the caller; the provider
    // account is not linked to them on the way.
    if refusal(tx, env, &user)?.is_some() {
        return Ok(Some(user));
    }
    link(tx, env, strategy, &user, identity, Some(ident.id.clone()))?;
    Ok(tx.user_with_idents(&user.user.id)?)
}

/// Records the provider account on `user`.
fn link(
    tx: &Tx<'_>,
    env: &Env<'_>,
    strategy: &AnyStrategy,
    user: &UserWithIdents,
    identity: &OAuthIdentity,
    identification_id: Option<String>,
) -> Result<ExternalAccountRecord, DomainError> {
    let record = link_record(env, strategy, user, identity, identification_id);
    tx.save_external_account(&record)?;
    Ok(record)
}

/// A new external account of `user` for the identity (with fresh provider tokens).
fn link_record(
    env: &Env<'_>,
    strategy: &AnyStrategy,
    user: &UserWithIdents,
    identity: &OAuthIdentity,
    identification_id: Option<String>,
) -> ExternalAccountRecord {
    ExternalAccountRecord {
        id: ids::new_id("eac"),
        user_id: user.user.id.clone(),
        provider: strategy.as_str().to_owned(),
        provider_user_id: identity.provider_user_id.clone(),
        identification_id,
        email_address: identity.email.clone(),
        email_address_verified: identity.email_verified,
        first_name: identity.first_name.clone(),
        last_name: identity.last_name.clone(),
        image_url: identity.image_url.clone(),
        username: identity.username.clone(),
        approved_scopes: MOCK_SCOPES.to_owned(),
        access_token: Some(identity.access_token.clone().unwrap_or_else(|| {
            Secret::new(format!(
                "mock_{}_{}",
                path_name(strategy),
                ids::random_base62(32)
            ))
        })),
        access_token_expire_at: if identity.access_token.is_some() {
            identity.access_token_expire_at
        } else {
            Some(env.now + 3600 * 1000)
        },
        created_at: env.now,
        updated_at: env.now,
    }
}

/// A sign-in's provider identity: the user signs in (or goes on to the second factor), or
/// nobody has it (transfer).
fn sign_in_through(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
    identity: &OAuthIdentity,
) -> Result<Outcome, DomainError> {
    let strategy = match &state.first_factor {
        Some(FirstFactor::OAuth(v)) => v.strategy.clone(),
        _ => return Err(DomainError::OAuth(ErrorCode::OauthCallbackInvalid)),
    };
    let Some(mut user) = user_of_identity(tx, env, &strategy, identity)? else {
        state.status = SignInStatus::NeedsIdentifier;
        return Ok(Outcome::Transfer(ErrorCode::ExternalAccountNotFound));
    };
    if let Some(code) = refusal(tx, env, &user)? {
        return Ok(Outcome::Refused(code));
    }
    state.user_id = Some(user.user.id.clone());
    state.identifier = Some(identity.email.clone());
    sign_in::complete(tx, env, client, state, &mut user, strategy)?;
    Ok(Outcome::Done {
        session: state.created_session_id.clone(),
    })
}

/// Why `user` may not sign in, as the callback reports it.
fn refusal(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &UserWithIdents,
) -> Result<Option<ErrorCode>, DomainError> {
    if users::ensure_may_sign_in(&user.user).is_err() {
        return Ok(Some(ErrorCode::NotAllowedAccess));
    }
    if super::attack::ensure_not_locked(tx, env, &user.user).is_err() {
        return Ok(Some(ErrorCode::UserLocked));
    }
    Ok(None)
}

/// A sign-up's provider identity: a new user (with the account, and its email verified when
/// the provider verified it), or an existing one (transfer).
fn sign_up_through(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
    identity: &OAuthIdentity,
) -> Result<Outcome, DomainError> {
    let strategy = state
        .external_account
        .as_ref()
        .map(|v| v.strategy.clone())
        .ok_or(DomainError::OAuth(ErrorCode::OauthCallbackInvalid))?;
    if taken(tx, &strategy, identity)? {
        return Ok(Outcome::Transfer(ErrorCode::ExternalAccountExists));
    }
    fill_sign_up(env, state, &strategy, identity);
    finish_sign_up(tx, env, client, state, strategy, identity)?;
    Ok(Outcome::Done {
        session: state.created_session_id.clone(),
    })
}

/// Whether the identity's account, or its verified email, is a user's already.
fn taken(
    tx: &Tx<'_>,
    strategy: &AnyStrategy,
    identity: &OAuthIdentity,
) -> Result<bool, DomainError> {
    if tx
        .external_account_by_provider_user(strategy.as_str(), &identity.provider_user_id)?
        .is_some()
    {
        return Ok(true);
    }
    Ok(identity.email_verified
        && tx
            .ident_by_value(IdentKind::EmailAddress, &identity.email)?
            .is_some_and(|i| i.verified))
}

/// The sign-up takes the identity's fields (what the person typed before wins) and, when the
/// provider verified the email, that verification.
fn fill_sign_up(env: &Env<'_>, state: &mut SignUpState, strategy: &AnyStrategy, i: &OAuthIdentity) {
    if env.settings.email_address.enabled {
        let same = state
            .email_address
            .as_deref()
            .is_none_or(|e| e.eq_ignore_ascii_case(&i.email));
        if same {
            state.email_address = Some(i.email.clone());
            if i.email_verified {
                state.email_verification = Some(PendingCode {
                    strategy: strategy.verified_by().unwrap_or_else(|| strategy.clone()),
                    code: Secret::new(String::new()),
                    attempts: 0,
                    expire_at: env.now,
                    status: VerificationStatus::Verified,
                    identification_id: None,
                });
            }
        }
    }
    if state.first_name.is_none() {
        state.first_name = i.first_name.clone();
    }
    if state.last_name.is_none() {
        state.last_name = i.last_name.clone();
    }
    if state.username.is_none() && env.settings.username.enabled {
        state.username = i.username.clone();
    }
}

/// Completes the sign-up when nothing else is missing (no password needed: the provider
/// vouches), then records the provider account on the new user; else saves it as it is.
fn finish_sign_up(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
    strategy: AnyStrategy,
    identity: &OAuthIdentity,
) -> Result<(), DomainError> {
    if let Some(v) = state.external_account.as_mut() {
        v.status = VerificationStatus::Verified;
        v.identity = Some(identity.clone());
    }
    let external = ExternalFor {
        strategy,
        identity: identity.clone(),
    };
    sign_up::settle_with(tx, env, client, state, Some(&external))
}

/// The provider account a completing sign-up records on its new user (before `user.created`
/// is sent, so the event carries it).
pub struct ExternalFor {
    pub strategy: AnyStrategy,
    pub identity: OAuthIdentity,
}

/// Records `external` on the user a sign-up just created.
pub(super) fn link_new_user(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &UserWithIdents,
    external: &ExternalFor,
) -> Result<(), DomainError> {
    // Another sign-up may have taken this provider account while this one waited for its
    // email code: refused (the transaction rolls back whole), never a unique-key failure.
    if tx
        .external_account_by_provider_user(
            external.strategy.as_str(),
            &external.identity.provider_user_id,
        )?
        .is_some()
    {
        return Err(DomainError::OAuth(ErrorCode::ExternalAccountExists));
    }
    let ident = user
        .emails()
        .find(|e| e.value.eq_ignore_ascii_case(&external.identity.email))
        .map(|e| e.id.clone());
    link(tx, env, &external.strategy, user, &external.identity, ident)?;
    Ok(())
}

/// `transfer=true` on `POST /v1/client/sign_ups`: a sign-up from the client's sign-in whose
/// provider account belongs to nobody.
pub fn transfer_to_sign_up(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignUpState,
) -> Result<(), DomainError> {
    let nothing = || DomainError::OAuth(ErrorCode::ExternalAccountNotFound);
    let sign_in_id = client.record.sign_in_id.clone().ok_or_else(nothing)?;
    let sign_in = tx.sign_in(&sign_in_id)?.ok_or_else(nothing)?;
    let Some(FirstFactor::OAuth(v)) = &sign_in.first_factor else {
        return Err(nothing());
    };
    if v.status != VerificationStatus::Transferable || env.now >= sign_in.abandon_at {
        return Err(nothing());
    }
    let identity = v.identity.clone().ok_or_else(nothing)?;
    let strategy = v.strategy.clone();
    if taken(tx, &strategy, &identity)? {
        return Err(DomainError::OAuth(ErrorCode::ExternalAccountExists));
    }
    let mut verification = (**v).clone();
    verification.nonce_hash = None;
    verification.error = None;
    state.external_account = Some(verification);
    fill_sign_up(env, state, &strategy, &identity);
    // The transferable sign-in is used up: a second transfer from it finds nothing.
    client.record.sign_in_id = None;
    finish_sign_up(tx, env, client, state, strategy, &identity)
}

/// `transfer=true` on `POST /v1/client/sign_ins`: a sign-in from the client's sign-up whose
/// provider account (or verified email) is a user's already.
pub fn transfer_to_sign_in(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
) -> Result<(), DomainError> {
    let nothing = || DomainError::OAuth(ErrorCode::ExternalAccountExists);
    let sign_up_id = client.record.sign_up_id.clone().ok_or_else(nothing)?;
    let sign_up = tx.sign_up(&sign_up_id)?.ok_or_else(nothing)?;
    let Some(v) = &sign_up.external_account else {
        return Err(nothing());
    };
    if v.status != VerificationStatus::Transferable || env.now >= sign_up.abandon_at {
        return Err(nothing());
    }
    let identity = v.identity.clone().ok_or_else(nothing)?;
    let mut verification = v.clone();
    verification.status = VerificationStatus::Verified;
    verification.error = None;
    verification.nonce_hash = None;
    state.first_factor = Some(FirstFactor::OAuth(Box::new(verification.clone())));
    let Some(mut user) = user_of_identity(tx, env, &verification.strategy, &identity)? else {
        return Err(DomainError::OAuth(ErrorCode::ExternalAccountNotFound));
    };
    users::ensure_may_sign_in(&user.user)?;
    super::attack::ensure_not_locked(tx, env, &user.user)?;
    state.user_id = Some(user.user.id.clone());
    state.identifier = Some(identity.email.clone());
    state.status = SignInStatus::NeedsFirstFactor;
    // The transferable sign-up is used up: signed out later, this client cannot transfer from
    // it again (it would sign the user back in without the provider).
    client.record.sign_up_id = None;
    sign_in::complete(tx, env, client, state, &mut user, verification.strategy)?;
    Ok(())
}

/// A connection's provider identity: the account is recorded on (or updated for) the user,
/// unless it is another user's.
fn connect_through(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &Connection,
    identity: &OAuthIdentity,
) -> Result<Outcome, DomainError> {
    let strategy = &c.verification.strategy;
    let user = tx
        .user_with_idents(&c.user_id)?
        .ok_or(DomainError::OAuth(ErrorCode::OauthCallbackInvalid))?;
    // The connection was asked for by a signed-in session: it must still be signed in when the
    // provider answers (signed out, or the session revoked meanwhile: nothing is connected).
    let signed_in = super::sessions::active_of_client(tx, env.now, &c.client_id)?
        .iter()
        .any(|s| s.user_id == c.user_id);
    if !signed_in {
        return Ok(Outcome::Refused(ErrorCode::AuthenticationInvalid));
    }
    let existing =
        tx.external_account_by_provider_user(strategy.as_str(), &identity.provider_user_id)?;
    if existing.as_ref().is_some_and(|a| a.user_id != user.user.id) {
        return Ok(Outcome::Refused(ErrorCode::ExternalAccountExists));
    }
    let current = tx.external_account(&c.id)?;
    if current
        .as_ref()
        .is_some_and(|a| a.provider_user_id != identity.provider_user_id)
    {
        // Reauthorizing must come back as the same account.
        return Ok(Outcome::Refused(ErrorCode::ExternalAccountExists));
    }
    let ident = user
        .emails()
        .find(|e| e.verified && e.value.eq_ignore_ascii_case(&identity.email))
        .map(|e| e.id.clone());
    let mut record = link_record(env, strategy, &user, identity, ident);
    // The connection's id; an account already there (the same one) keeps its creation time.
    let keep = current.or(existing);
    if let Some(old) = &keep {
        record.id = old.id.clone();
        record.created_at = old.created_at;
    } else {
        record.id = c.id.clone();
    }
    tx.save_external_account(&record)?;
    super::events::user(tx, env, latchkey_protocol::EventType::UserUpdated, &user)?;
    Ok(Outcome::Connected)
}

/// `POST /v1/me/external_accounts strategy=oauth_<provider> redirect_url=…`: a new account at
/// the provider for `user`, waiting there; the answer's verification carries the URL.
pub fn connect(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    user: &UserWithIdents,
    strategy: &AnyStrategy,
    target: &OAuthTarget,
) -> Result<Connection, DomainError> {
    let id = ids::new_id("eac");
    let verification = begin(tx, env, strategy, &id, target)?;
    let c = Connection {
        id,
        user_id: user.user.id.clone(),
        client_id: client.record.id.clone(),
        verification,
        created_at: env.now,
    };
    save_connection(tx, &c)?;
    Ok(c)
}

/// `PATCH /v1/me/external_accounts/{id}/reauthorize redirect_url=…`: the user's account goes
/// back to the provider (for new scopes, or fresh tokens).
pub fn reauthorize(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    user: &UserWithIdents,
    id: &str,
    target: &OAuthTarget,
) -> Result<(ExternalAccountRecord, Connection), DomainError> {
    let account = tx
        .external_account(id)?
        .filter(|a| a.user_id == user.user.id)
        .ok_or(DomainError::NotFound("external_account"))?;
    let strategy = provider(&account.provider).ok_or(DomainError::NotFound("external_account"))?;
    let verification = begin(tx, env, &strategy, &account.id, target)?;
    let c = Connection {
        id: account.id.clone(),
        user_id: user.user.id.clone(),
        client_id: client.record.id.clone(),
        verification,
        created_at: env.now,
    };
    save_connection(tx, &c)?;
    Ok((account, c))
}

/// `DELETE /v1/me/external_accounts/{id}`: the user's account at the provider is forgotten.
pub fn disconnect(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &UserWithIdents,
    id: &str,
) -> Result<(), DomainError> {
    let mine = tx
        .external_account(id)?
        .is_some_and(|a| a.user_id == user.user.id);
    if !mine || !tx.delete_external_account(id)? {
        return Err(DomainError::NotFound("external_account"));
    }
    super::events::user(tx, env, latchkey_protocol::EventType::UserUpdated, user)
}

/// `DELETE /v1/me/external_accounts/{id}/tokens`: the provider's tokens for the account are
/// revoked (the Backend API hands out none until it is reauthorized).
pub fn revoke_tokens(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &UserWithIdents,
    id: &str,
) -> Result<(), DomainError> {
    let mut account = tx
        .external_account(id)?
        .filter(|a| a.user_id == user.user.id)
        .ok_or(DomainError::NotFound("external_account"))?;
    account.access_token = None;
    account.access_token_expire_at = None;
    account.updated_at = env.now;
    tx.save_external_account(&account)?;
    Ok(())
}

/// A connection waiting at the provider as the Frontend API shows it: an external account
/// (what is known so far) whose verification carries the provider URL.
pub fn connection_view(
    issuer: &str,
    c: &Connection,
    known: Option<&ExternalAccountRecord>,
    now: i64,
) -> Value {
    let mut v = match known {
        Some(a) => view(a),
        None => json!({
            "object": "external_account",
            "id": c.id,
            "provider": c.verification.strategy.as_str(),
            "identification_id": "",
            "provider_user_id": "",
            "approved_scopes": "",
            "email_address": "",
            "first_name": "",
            "last_name": "",
            "avatar_url": "",
            "image_url": null,
            "username": null,
            "phone_number": null,
            "public_metadata": {},
            "label": null,
            "created_at": c.created_at,
            "updated_at": c.created_at,
        }),
    };
    v["verification"] = serde_json::to_value(verification_view(issuer, &c.verification, now))
        .unwrap_or(Value::Null);
    v
}

/// `GET /v1/client/sign_ins/{id}?rotating_token_nonce=…` (or `sign_ups/{id}`): the client the
/// attempt belongs to, its token rotated for the app to store. The nonce works once, for this
/// attempt only; a request carrying another client's token is refused.
pub fn redeem_nonce(
    tx: &Tx<'_>,
    env: &Env<'_>,
    attempt_id: &str,
    nonce: &str,
    presented: Option<&ClientRecord>,
) -> Result<ClientCtx, DomainError> {
    let invalid = || DomainError::OAuth(ErrorCode::RotatingTokenNonceInvalid);
    if nonce.is_empty() || nonce.len() > MAX_SECRET_LEN {
        return Err(invalid());
    }
    let mut flow = if attempt_id.starts_with("sua_") {
        Flow::SignUp(Box::new(tx.sign_up(attempt_id)?.ok_or_else(invalid)?))
    } else {
        Flow::SignIn(Box::new(tx.sign_in(attempt_id)?.ok_or_else(invalid)?))
    };
    let client_id = flow.client_id().to_owned();
    if presented.is_some_and(|c| c.id != client_id) {
        return Err(invalid());
    }
    let v = flow.verification().ok_or_else(invalid)?;
    let matches = v
        .nonce_hash
        .as_deref()
        .is_some_and(|h| ct_eq(h, &ids::token_hash(nonce)));
    if !matches || env.now >= v.expire_at {
        return Err(invalid());
    }
    v.nonce_hash = None;
    flow.save(tx)?;
    let record = tx.client(&client_id)?.ok_or_else(invalid)?;
    let mut client = clients::existing(record);
    client.rotate(env.now)?;
    Ok(client)
}

/// An external account as both APIs show it on a user (`external_account`).
pub fn view(a: &ExternalAccountRecord) -> Value {
    json!({
        "object": "external_account",
        "id": a.id,
        "provider": a.provider,
        "identification_id": a.identification_id.clone().unwrap_or_default(),
        "provider_user_id": a.provider_user_id,
        "approved_scopes": a.approved_scopes,
        "email_address": a.email_address,
        "first_name": a.first_name.clone().unwrap_or_default(),
        "last_name": a.last_name.clone().unwrap_or_default(),
        "avatar_url": a.image_url.clone().unwrap_or_default(),
        "image_url": a.image_url,
        "username": a.username,
        "phone_number": null,
        "public_metadata": {},
        "label": null,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "verification": {
            "object": "verification_oauth",
            "status": "verified",
            "strategy": a.provider,
            "attempts": null,
            // The spec wants an integer: the verification ended when the account was made.
            "expire_at": a.created_at,
        },
    })
}

/// Clerk's `message` and `long_message` for an OAuth error code: one wording for a
/// verification's `error` and for the error envelope of a refused request.
pub fn error_messages(code: ErrorCode) -> (&'static str, &'static str) {
    match code {
        ErrorCode::ExternalAccountNotFound => (
            "Invalid external account",
            "The External Account was not found.",
        ),
        ErrorCode::ExternalAccountExists => {
            ("already exists", "This external account already exists.")
        }
        ErrorCode::OauthAccessDenied => {
            ("Access denied", "You did not grant access to your account.")
        }
        ErrorCode::UserLocked => ("Account locked", "Your account is locked."),
        ErrorCode::NotAllowedAccess => ("Not allowed", "You are not allowed to sign in."),
        ErrorCode::VerificationExpired => ("Expired", "This verification has expired."),
        ErrorCode::OauthCallbackInvalid => (
            "This OAuth step cannot be completed",
            "This callback's state or code was not issued by this instance, or was used already.",
        ),
        ErrorCode::RotatingTokenNonceInvalid => (
            "This OAuth step cannot be completed",
            "This rotating_token_nonce is not this attempt's, or was used already.",
        ),
        _ => ("OAuth failed", "The OAuth verification failed."),
    }
}

/// `{code, message, long_message, meta}` of a verification's error.
pub fn error_view(code: ErrorCode) -> Value {
    let (message, long) = error_messages(code);
    json!({"code": code.as_str(), "message": message, "long_message": long, "meta": {}})
}

/// A verification as the Frontend API shows it (`verification_oauth`).
pub fn verification_view(
    issuer: &str,
    v: &OAuthVerification,
    now: i64,
) -> latchkey_protocol::Verification {
    let status = if v.status == VerificationStatus::Unverified && now >= v.expire_at {
        VerificationStatus::Expired
    } else {
        v.status
    };
    let shown = v
        .shown_as
        .map_or_else(|| v.strategy.clone(), AnyStrategy::from);
    latchkey_protocol::Verification {
        object: Some(shown.verification_object().to_owned()),
        status: status.into(),
        strategy: shown.as_str().into(),
        attempts: None,
        expire_at: Some(v.expire_at),
        external_verification_redirect_url: match (status, v.shown_as) {
            (_, Some(_)) => None,
            (VerificationStatus::Unverified, None) => Some(authorize_url(issuer, v)),
            _ => Some(String::new()),
        },
        error: v.error.map(error_view),
    }
}

/// The providers' entries of the environment's `user_settings.social`: the built-in ones that
/// are on, then the custom ones that are on, each under its strategy with its display name (as
/// Clerk lists a custom provider: `oauth_custom_<key>`, `strategy` the same, `name` the one
/// configured). The spec's `UserSettings.Socials` lists only fixed keys (`additionalProperties:
/// false`), so an environment with a custom provider on is, there, off the spec.
pub fn environment_social(settings: &Settings) -> Value {
    let builtin = PROVIDERS.iter().map(|(s, _, _)| AnyStrategy::from(*s));
    let custom = settings.social.keys().filter_map(|k| {
        k.strip_prefix("oauth_custom_")
            .and_then(CustomProvider::new)
            .map(AnyStrategy::OAuthCustom)
    });
    let mut out = serde_json::Map::new();
    for strategy in builtin.chain(custom) {
        if settings.oauth_enabled(&strategy) {
            out.insert(
                strategy.as_str().to_owned(),
                json!({
                    "enabled": true,
                    "required": false,
                    "authenticatable": true,
                    "block_email_subaddresses": false,
                    "strategy": strategy.as_str(),
                    "not_selectable": false,
                    "deprecated": false,
                    "name": display_name(settings, &strategy),
                    "logo_url": null,
                }),
            );
        }
    }
    Value::Object(out)
}

/// `GET /v1/users/{id}/oauth_access_tokens/{provider}` (Backend API): the user's access tokens
/// at the provider (`oauth_google` or `google`, `oauth_custom_acme` or `custom_acme`), one per
/// external account there; an unknown user is a 404, a provider the instance does not have a
/// 422.
pub fn access_tokens(
    tx: &ReadTx<'_>,
    settings: &Settings,
    user_id: &str,
    provider_name: &str,
) -> Result<Vec<latchkey_protocol::bapi::OAuthAccessToken>, DomainError> {
    let strategy = provider_of_instance(settings, provider_name).ok_or_else(|| DomainError::ParamValue {
        param: "provider",
        reason: "is not a provider of this instance (oauth_google, oauth_github, oauth_apple, oauth_microsoft, or a custom oauth_custom_<key> in its settings)".into(),
    })?;
    tx.user(user_id)?.ok_or(DomainError::NotFound("user"))?;
    Ok(tx
        .external_accounts_of_user(user_id)?
        .iter()
        .filter(|a| a.provider == strategy.as_str())
        .filter_map(|a| {
            let token = a.access_token.as_ref()?;
            Some(latchkey_protocol::bapi::OAuthAccessToken {
                object: "oauth_access_token".into(),
                external_account_id: a.id.clone(),
                provider_user_id: a.provider_user_id.clone(),
                token: token.expose().into(),
                expires_at: a.access_token_expire_at.map(|ms| ms / 1000),
                provider: a.provider.clone(),
                public_metadata: serde_json::Map::new(),
                label: None,
                scopes: a
                    .approved_scopes
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// ID tokens: `oauth_token_<provider>` and `google_one_tap` (native provider SDKs, no browser)

/// How long a mock ID token is good for.
const ID_TOKEN_LIFETIME_SECS: i64 = 600;
/// The `aud` of mock ID tokens: the emulator is the relying party.
const ID_TOKEN_AUDIENCE: &str = "latchkey-emulator";
/// The instance value holding the key the mock providers sign ID tokens with.
const ID_TOKEN_KEY: &str = "oauth_mock_id_token_key";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The mock providers' signing key (HS256), made on first use and kept with the instance.
fn id_token_key(tx: &Tx<'_>) -> Result<Vec<u8>, DomainError> {
    if let Some(k) = tx.instance_value(ID_TOKEN_KEY)? {
        return Ok(k.into_bytes());
    }
    let k = ids::random_base62(48);
    tx.set_instance_value(ID_TOKEN_KEY, &k)?;
    Ok(k.into_bytes())
}

fn hs256(key: &[u8], signing_input: &str) -> Result<Vec<u8>, DomainError> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key)
        .map_err(|e| DomainError::InvalidState(e.to_string()))?;
    mac.update(signing_input.as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}

fn id_token_issuer(issuer: &str, provider: &AnyStrategy) -> String {
    format!(
        "{}/_emulator/oauth/{}",
        issuer.trim_end_matches('/'),
        path_name(provider)
    )
}

/// `POST /_emulator/v1/oauth/{provider}/id_token`: an ID token the mock provider signs for
/// `identity` (what a native provider SDK would hand the app), for `oauth_token_<provider>`
/// (and, for Google, `google_one_tap`). It lasts ten minutes by the emulator clock. Custom
/// providers have no ID-token strategy, so none is issued for them.
pub fn issue_id_token(
    tx: &Tx<'_>,
    env: &Env<'_>,
    provider: &AnyStrategy,
    identity: MockIdentity,
) -> Result<String, DomainError> {
    if provider.known().is_none() {
        return Err(DomainError::ParamValue {
            param: "provider",
            reason: "is a custom provider, and custom providers have no ID-token strategy (oauth_token_<provider>)".into(),
        });
    }
    ensure_enabled(env, provider)?;
    refuse_upstream_id_tokens(env, provider)?;
    let i = identity.resolve()?;
    let now = env.now / 1000;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": format!("latchkey-mock-{}", path_name(provider))});
    let claims = json!({
        "iss": id_token_issuer(env.issuer, provider),
        "aud": ID_TOKEN_AUDIENCE,
        "sub": i.provider_user_id,
        "email": i.email,
        "email_verified": i.email_verified,
        "given_name": i.first_name,
        "family_name": i.last_name,
        "picture": i.image_url,
        "preferred_username": i.username,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME_SECS,
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = hs256(&id_token_key(tx)?, &input)?;
    Ok(format!("{input}.{}", b64(&sig)))
}

/// The identity in an ID token for `strategy`, once its signature (the mock provider's key),
/// issuer (the strategy's provider), audience and expiry check out.
fn verify_id_token(
    tx: &Tx<'_>,
    env: &Env<'_>,
    provider: &AnyStrategy,
    token: &str,
) -> Result<OAuthIdentity, DomainError> {
    use base64::Engine as _;
    let bad = |why: &str| DomainError::ParamValue {
        param: "token",
        reason: format!("is not a valid ID token: {why}"),
    };
    if token.len() > 8192 {
        return Err(bad("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a JWT"));
    };
    let want = hs256(&id_token_key(tx)?, &format!("{h}.{c}"))?;
    let got = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| bad("not a JWT"))?;
    if !bool::from(want.ct_eq(&got)) {
        return Err(bad("the signature is not the provider's"));
    }
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("unreadable claims"))?;
    if claims["iss"].as_str() != Some(id_token_issuer(env.issuer, provider).as_str()) {
        return Err(bad("issued by another provider"));
    }
    if claims["aud"].as_str() != Some(ID_TOKEN_AUDIENCE) {
        return Err(bad("for another audience"));
    }
    if claims["exp"]
        .as_i64()
        .is_none_or(|exp| env.now / 1000 >= exp)
    {
        return Err(bad("expired"));
    }
    let text = |k: &str| claims[k].as_str().map(str::to_owned);
    Ok(OAuthIdentity {
        provider_user_id: text("sub").ok_or_else(|| bad("no sub"))?,
        email: text("email").ok_or_else(|| bad("no email"))?,
        email_verified: claims["email_verified"].as_bool().unwrap_or(false),
        first_name: text("given_name"),
        last_name: text("family_name"),
        image_url: text("picture"),
        username: text("preferred_username"),
        access_token: None,
        access_token_expire_at: None,
    })
}

/// A verification already answered by an ID token.
fn token_verification(
    provider: AnyStrategy,
    shown_as: Strategy,
    identity: OAuthIdentity,
    env: &Env<'_>,
) -> OAuthVerification {
    OAuthVerification {
        strategy: provider,
        shown_as: Some(shown_as),
        upstream: None,
        status: VerificationStatus::Verified,
        state: Secret::new(ids::random_base62(32)),
        code_hash: None,
        identity: Some(identity),
        nonce_hash: None,
        browser: env.browser,
        redirect_url: String::new(),
        action_complete_redirect_url: None,
        error: None,
        expire_at: env.now + VERIFICATION_LIFETIME_MS,
    }
}

/// The mock's key vouches only for mock providers: with a real upstream, its ID tokens (which
/// the emulator cannot verify offline) are not taken, nor are mock ones minted.
fn refuse_upstream_id_tokens(env: &Env<'_>, provider: &AnyStrategy) -> Result<(), DomainError> {
    if env.settings.oidc_upstream(provider).is_some() {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: format!(
                "{:?} is a real OpenID Connect upstream here: its ID tokens cannot be checked offline",
                provider.as_str()
            ),
        });
    }
    Ok(())
}

fn token_provider(env: &Env<'_>, strategy: Strategy) -> Result<AnyStrategy, DomainError> {
    let provider = AnyStrategy::from(strategy.provider().ok_or(DomainError::ParamValue {
        param: "strategy",
        reason: "is not an ID-token strategy".into(),
    })?);
    ensure_enabled(env, &provider)?;
    refuse_upstream_id_tokens(env, &provider)?;
    Ok(provider)
}

/// `POST /v1/client/sign_ins strategy=oauth_token_<provider>|google_one_tap token=…`, or the
/// same on `attempt_first_factor` of `state`: the user signs in (or goes on to the second
/// factor). Nobody with this account: with `oauth_token_…` the sign-in answers 200 with its
/// verification `transferable` (a `transfer=true` sign-up follows); with `google_one_tap` it
/// fails with `external_account_not_found`, as Clerk's clients expect.
pub fn sign_in_with_id_token(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    state: &mut SignInState,
    strategy: Strategy,
    token: &str,
) -> Result<(), DomainError> {
    let provider = token_provider(env, strategy)?;
    let identity = verify_id_token(tx, env, &provider, token)?;
    let mut v = token_verification(provider.clone(), strategy, identity.clone(), env);
    let Some(mut user) = user_of_identity(tx, env, &provider, &identity)? else {
        if strategy == Strategy::GoogleOneTap {
            return Err(DomainError::OAuth(ErrorCode::ExternalAccountNotFound));
        }
        v.status = VerificationStatus::Transferable;
        v.error = Some(ErrorCode::ExternalAccountNotFound);
        state.status = SignInStatus::NeedsIdentifier;
        state.first_factor = Some(FirstFactor::OAuth(Box::new(v)));
        tx.save_sign_in(state)?;
        return Ok(());
    };
    users::ensure_may_sign_in(&user.user)?;
    super::attack::ensure_not_locked(tx, env, &user.user)?;
    state.user_id = Some(user.user.id.clone());
    state.identifier = Some(identity.email.clone());
    state.status = SignInStatus::NeedsFirstFactor;
    state.first_factor = Some(FirstFactor::OAuth(Box::new(v)));
    sign_in::complete(tx, env, client, state, &mut user, provider)?;
    tx.save_sign_in(state)?;
    Ok(())
}

/// [`sign_in_with_id_token`] on a new sign-in.
pub fn create_sign_in_with_id_token(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    strategy: Strategy,
    token: &str,
) -> Result<SignInState, DomainError> {
    token_provider(env, strategy)?;
    let mut state = sign_in::create(tx, env, client, sign_in::SignInInput::default())??;
    sign_in_with_id_token(tx, env, client, &mut state, strategy, token)?;
    Ok(state)
}

/// `POST /v1/client/sign_ups strategy=oauth_token_<provider>|google_one_tap token=…` (with the
/// names Apple gives only once): a new user, or — the account or its verified email being a
/// user's already — the verification `transferable` with `external_account_exists`.
pub fn create_sign_up_with_id_token(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    mut input: sign_up::SignUpInput,
    strategy: Strategy,
    token: &str,
) -> Result<SignUpState, DomainError> {
    let provider = token_provider(env, strategy)?;
    let identity = verify_id_token(tx, env, &provider, token)?;
    input.strategy = None;
    let mut state = sign_up::create(tx, env, client, input)?;
    let mut v = token_verification(provider.clone(), strategy, identity.clone(), env);
    if taken(tx, &provider, &identity)? {
        v.status = VerificationStatus::Transferable;
        v.error = Some(ErrorCode::ExternalAccountExists);
        state.external_account = Some(v);
        tx.save_sign_up(&state)?;
        return Ok(state);
    }
    state.external_account = Some(v);
    fill_sign_up(env, &mut state, &provider, &identity);
    finish_sign_up(tx, env, client, &mut state, provider, &identity)?;
    Ok(state)
}
