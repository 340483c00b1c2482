//! Attack protection: user lockout after failed verifications, Frontend API rate limits and the
//! testing tokens that skip them.
//!
//! The public API other flows call (second-factor attempts too):
//! - [`ensure_not_locked`] before checking a factor: `UserLocked` while the user is locked;
//! - [`failed_attempt`] after a wrong password or code: counts it and returns the error to send
//!   (the caller's own, or `UserLocked` once this attempt reached `max_attempts`). Return it as a
//!   *committed* error (`Ok(Err(e))` of a [`Committed`](super::Committed)) so the count survives;
//! - [`succeeded`] after a right one: the count starts over;
//! - [`lock`] / [`unlock`] for the Backend API;
//! - [`lockout`] for views: `locked`, `lockout_expires_in_seconds`,
//!   `verification_attempts_remaining`.

use super::clients::ClientCtx;
use super::settings::{Limit, RateLimits};
use super::{ids, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{
    ClientRecord, LockoutRecord, RateCounterRecord, TestingTokenRecord, UserRecord,
};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::ErrorCode;

// --- lockout -------------------------------------------------------------------------------

/// A user's lockout as views show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub locked: bool,
    /// Seconds until the lock lifts; `None` when not locked or locked with no end.
    pub expires_in_secs: Option<i64>,
    /// Failed attempts left before a lockout; `None` when lockout is off.
    pub attempts_remaining: Option<i64>,
}

/// The lockout record as it stands at `now`: one whose lock has lifted counts from zero again.
fn current(tx: &ReadTx<'_>, now: i64, user_id: &str) -> Result<Option<LockoutRecord>, DomainError> {
    Ok(tx
        .lockout(user_id)?
        .filter(|r| r.locked_until.is_none_or(|t| t > now)))
}

fn ceil_secs(ms: i64) -> i64 {
    (ms + 999) / 1000
}

/// `locked`, `lockout_expires_in_seconds` and `verification_attempts_remaining` of a user.
pub fn lockout(tx: &ReadTx<'_>, env: &Env<'_>, user: &UserRecord) -> Result<Lockout, DomainError> {
    let cfg = &env.settings.attack_protection.user_lockout;
    let rec = current(tx, env.now, &user.id)?;
    let until = rec.as_ref().and_then(|r| r.locked_until);
    let failed = rec.as_ref().map_or(0, |r| r.failed_attempts);
    Ok(if user.locked {
        Lockout {
            locked: true,
            expires_in_secs: None,
            attempts_remaining: cfg.enabled.then_some(0),
        }
    } else if let Some(t) = until {
        Lockout {
            locked: true,
            expires_in_secs: Some(ceil_secs(t - env.now)),
            attempts_remaining: cfg.enabled.then_some(0),
        }
    } else {
        Lockout {
            locked: false,
            expires_in_secs: None,
            attempts_remaining: cfg.enabled.then(|| (cfg.max_attempts - failed).max(0)),
        }
    })
}

/// Refuses with `UserLocked` while `user` is locked (by failed attempts or the Backend API).
pub fn ensure_not_locked(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    user: &UserRecord,
) -> Result<(), DomainError> {
    let l = lockout(tx, env, user)?;
    if l.locked {
        return Err(DomainError::UserLocked {
            expires_in_secs: l.expires_in_secs,
        });
    }
    Ok(())
}

/// Counts a failed verification of `user` (`error` is what went wrong) and returns the error
/// to answer with: `error`, or `UserLocked` when this attempt reached `max_attempts` and
/// locked the user for `duration_in_minutes`. Nothing is counted while lockout is off. The
/// outer error is a store failure.
pub fn failed_attempt(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &UserRecord,
    error: DomainError,
) -> Result<DomainError, DomainError> {
    let cfg = &env.settings.attack_protection.user_lockout;
    if !cfg.enabled {
        return Ok(error);
    }
    let mut rec = current(tx, env.now, &user.id)?.unwrap_or(LockoutRecord {
        user_id: user.id.clone(),
        failed_attempts: 0,
        locked_until: None,
        updated_at: env.now,
    });
    rec.failed_attempts += 1;
    rec.updated_at = env.now;
    let out = if rec.failed_attempts >= cfg.max_attempts {
        let duration_ms = cfg.duration_in_minutes * 60_000;
        rec.locked_until = Some(env.now + duration_ms);
        DomainError::UserLocked {
            expires_in_secs: Some(duration_ms / 1000),
        }
    } else {
        error
    };
    tx.save_lockout(&rec)?;
    Ok(out)
}

/// A verification of `user` succeeded: the failures so far are forgotten.
pub fn succeeded(tx: &Tx<'_>, user: &UserRecord) -> Result<(), DomainError> {
    tx.delete_lockout(&user.id)?;
    Ok(())
}

/// Backend API `POST /users/{id}/lock`: "not allowed to sign in again until the lock expires",
/// the lock lasting `duration_in_minutes` as a lockout does. With lockout off there is no
/// duration, so the lock has no end (`lockout_expires_in_seconds: null`) until `unlock`.
pub fn lock(tx: &Tx<'_>, env: &Env<'_>, user: &mut UserRecord) -> Result<(), DomainError> {
    let cfg = &env.settings.attack_protection.user_lockout;
    if cfg.enabled {
        tx.save_lockout(&LockoutRecord {
            user_id: user.id.clone(),
            failed_attempts: cfg.max_attempts,
            locked_until: Some(env.now + cfg.duration_in_minutes * 60_000),
            updated_at: env.now,
        })?;
    } else {
        user.locked = true;
    }
    Ok(())
}

/// Backend API `POST /users/{id}/unlock`: lifts any lock and starts the count over.
pub fn unlock(tx: &Tx<'_>, user: &mut UserRecord) -> Result<(), DomainError> {
    user.locked = false;
    tx.delete_lockout(&user.id)?;
    Ok(())
}

/// "1 hour", "2 hours", "30 minutes", "1 minute": the wait in a lockout's `long_message`,
/// rounded up.
pub fn describe_duration(secs: i64) -> String {
    let minutes = ((secs.max(1)) + 59) / 60;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if minutes >= 60 {
        plural((minutes + 59) / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

// --- rate limits -----------------------------------------------------------------------------

/// What a rate-limited Frontend API request does (the limits of [`RateLimits`]).
// The names are the `rate_limits` settings' keys.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateBucket {
    /// `POST /v1/client/sign_ins`.
    SignInCreate,
    /// `…/attempt_first_factor` (and `attempt_second_factor`).
    SignInAttempt,
    /// `POST /v1/client/sign_ups`.
    SignUpCreate,
    /// `…/sign_ups/{id}/attempt_verification`.
    SignUpAttempt,
}

impl RateBucket {
    fn name(self) -> &'static str {
        match self {
            Self::SignInCreate => "sign_in_create",
            Self::SignInAttempt => "sign_in_attempt",
            Self::SignUpCreate => "sign_up_create",
            Self::SignUpAttempt => "sign_up_attempt",
        }
    }

    fn limit(self, r: &RateLimits) -> Limit {
        match self {
            Self::SignInCreate => r.sign_in_create,
            Self::SignInAttempt => r.sign_in_attempt,
            Self::SignUpCreate => r.sign_up_create,
            Self::SignUpAttempt => r.sign_up_attempt,
        }
    }
}

/// Which identifier a request counts against besides its client.
#[derive(Debug, Clone)]
pub enum RateSubject {
    /// The identifier the request names (or none).
    Identifier(Option<String>),
    /// The identifier of this sign-in of the client.
    SignIn(String),
    /// The email address (else phone number) of this sign-up of the client.
    SignUp(String),
}

/// One request's rate check: its bucket and the keys it counts against.
#[derive(Debug, Clone)]
pub struct RateCheck {
    pub bucket: RateBucket,
    pub keys: Vec<String>,
}

/// The keys a request counts against: its client (a request that came with no known client —
/// each such request would get a new one — counts against its IP address instead) and its
/// identifier, lower-cased.
pub fn rate_check(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    client: &ClientCtx,
    bucket: RateBucket,
    subject: &RateSubject,
) -> Result<RateCheck, DomainError> {
    let b = bucket.name();
    let mut keys = vec![if client.is_new() {
        format!(
            "{b}:ip:{}",
            env.request.client_ip.as_deref().unwrap_or("unknown")
        )
    } else {
        format!("{b}:client:{}", client.record.id)
    }];
    let identifier = match subject {
        RateSubject::Identifier(i) => i.clone(),
        RateSubject::SignIn(id) => tx
            .sign_in(id)?
            .filter(|s| s.client_id == client.record.id)
            .and_then(|s| s.identifier),
        RateSubject::SignUp(id) => tx
            .sign_up(id)?
            .filter(|s| s.client_id == client.record.id)
            .and_then(|s| s.email_address.or(s.phone_number)),
    };
    if let Some(i) = identifier
        .map(|i| i.trim().to_lowercase())
        .filter(|i| !i.is_empty())
    {
        keys.push(format!("{b}:identifier:{i}"));
    }
    Ok(RateCheck { bucket, keys })
}

/// Counts a request against each of `check`'s keys in fixed windows by the emulator clock, or
/// refuses it with `RateLimited` (and counts nothing) when any key has had its limit in its
/// current window; `Retry-After` is when the last such window ends.
pub fn rate_limit(tx: &Tx<'_>, env: &Env<'_>, check: &RateCheck) -> Result<(), DomainError> {
    let limit = check.bucket.limit(&env.settings.rate_limits);
    let mut counters = Vec::with_capacity(check.keys.len());
    let mut retry_after_ms = 0;
    for key in &check.keys {
        let c = tx.rate_counter(key)?.filter(|c| env.now < c.window_end);
        if let Some(c) = &c {
            if c.count >= limit.max {
                retry_after_ms = retry_after_ms.max(c.window_end - env.now);
            }
        }
        counters.push((key, c));
    }
    if retry_after_ms > 0 {
        return Err(DomainError::RateLimited {
            retry_after_secs: ceil_secs(retry_after_ms).max(1),
        });
    }
    for (key, c) in counters {
        tx.save_rate_counter(&next_count(key, c, env.now, limit))?;
    }
    Ok(())
}

/// Counts a request whose operation was refused and rolled back (so the count made with it was
/// undone) in a write of its own: refusals count against the limit as much as successes.
pub fn count_refused(tx: &Tx<'_>, env: &Env<'_>, check: &RateCheck) -> Result<(), DomainError> {
    let limit = check.bucket.limit(&env.settings.rate_limits);
    for key in &check.keys {
        let c = tx.rate_counter(key)?.filter(|c| env.now < c.window_end);
        tx.save_rate_counter(&next_count(key, c, env.now, limit))?;
    }
    Ok(())
}

fn next_count(
    key: &str,
    c: Option<RateCounterRecord>,
    now: i64,
    limit: Limit,
) -> RateCounterRecord {
    match c {
        Some(mut c) => {
            c.count += 1;
            c
        }
        None => RateCounterRecord {
            key: key.to_owned(),
            window_start: now,
            window_end: now + limit.window_secs * 1000,
            count: 1,
        },
    }
}

// --- bot protection (CAPTCHA) ----------------------------------------------------------------

/// Where issued CAPTCHA tokens wait to be used: `captcha.<SHA-256>` → expiry (ms).
pub const CAPTCHA_PREFIX: &str = "captcha.";
/// How long a widget's token is good for (Turnstile's: 300 s).
pub const CAPTCHA_TOKEN_LIFETIME_MS: i64 = 300 * 1000;

/// What the test widget does for a site key (Cloudflare's test keys: `1x` passes, `2x` fails,
/// `3x` asks the person; any other key asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidgetBehaviour {
    Pass,
    Fail,
    Ask,
}

pub fn widget_behaviour(site_key: &str) -> WidgetBehaviour {
    match site_key.get(..2) {
        Some("1x") => WidgetBehaviour::Pass,
        Some("2x") => WidgetBehaviour::Fail,
        _ => WidgetBehaviour::Ask,
    }
}

/// The test widget's token for a solved challenge (`POST /captcha/turnstile/token`): for one of
/// this instance's site keys that does not always fail. Single use, [`CAPTCHA_TOKEN_LIFETIME_MS`].
pub fn issue_captcha_token(
    tx: &Tx<'_>,
    env: &Env<'_>,
    site_key: &str,
) -> Result<Secret, DomainError> {
    let c = &env.settings.captcha;
    let ours = site_key == c.site_key || site_key == c.invisible_site_key;
    if !ours || widget_behaviour(site_key) == WidgetBehaviour::Fail {
        return Err(DomainError::Captcha(ErrorCode::CaptchaInvalid));
    }
    let token = format!("lk_captcha_{}", ids::random_base62(40));
    let expires = env.now + CAPTCHA_TOKEN_LIFETIME_MS;
    tx.set_instance_value(&captcha_key(&token), &expires.to_string())?;
    Ok(Secret::new(token))
}

fn captcha_key(token: &str) -> String {
    format!("{CAPTCHA_PREFIX}{}", ids::token_hash(token))
}

/// Bot protection of a sign-up: with `captcha.enabled`, a browser-mode request without a valid
/// testing token must bring a `captcha_token` the widget issued, unused and unexpired (it is
/// used up here). `captcha_error` (the widget failed) is a refusal. Native requests are never
/// asked (Clerk solves CAPTCHA only in standard browsers). Choice [U]: a transfer from an
/// OAuth sign-in (`transfer=true`) is not asked, since the person passed the provider; a token
/// it brings anyway is checked.
pub fn check_captcha(
    tx: &Tx<'_>,
    env: &Env<'_>,
    token: Option<&str>,
    widget_error: Option<&str>,
    transfer: bool,
) -> Result<(), DomainError> {
    if !env.settings.captcha.enabled || !env.browser || env.testing {
        return Ok(());
    }
    if widget_error.is_some_and(|e| !e.is_empty()) {
        return Err(DomainError::Captcha(ErrorCode::CaptchaInvalid));
    }
    let token = match token.filter(|t| !t.is_empty()) {
        Some(t) => t,
        None if transfer => return Ok(()),
        None => return Err(DomainError::Captcha(ErrorCode::CaptchaMissingToken)),
    };
    redeem_captcha_token(tx, env, token)
}

/// Uses up a widget's token: unused and unexpired, or `captcha_invalid`.
fn redeem_captcha_token(tx: &Tx<'_>, env: &Env<'_>, token: &str) -> Result<(), DomainError> {
    if token.len() > 256 {
        return Err(DomainError::Captcha(ErrorCode::CaptchaInvalid));
    }
    let key = captcha_key(token);
    let live = tx
        .instance_value(&key)?
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|until| env.now < until);
    tx.delete_instance_values(&key)?;
    if live {
        Ok(())
    } else {
        Err(DomainError::Captcha(ErrorCode::CaptchaInvalid))
    }
}

/// Marks a client as one the bot protection doubts (control API
/// `POST /_emulator/v1/captcha/challenges`), as Clerk's risk checks mark a suspicious client:
/// its browser requests that change something are answered 401 `requires_captcha` until it
/// solves a challenge (`POST /v1/client/verify`). Only with `captcha.enabled`.
pub fn challenge_client(tx: &Tx<'_>, env: &Env<'_>, client_id: &str) -> Result<(), DomainError> {
    if !env.settings.captcha.enabled {
        return Err(DomainError::Captcha(ErrorCode::CaptchaNotEnabled));
    }
    let mut client = tx
        .client(client_id)?
        .ok_or(DomainError::NotFound("client"))?;
    client.captcha_challenged_at = Some(env.now);
    tx.save_client(&client)?;
    Ok(())
}

/// Refuses a challenged client's change (401 `requires_captcha`): clerk-js then shows the
/// widget in a modal, sends its token to `POST /v1/client/verify` and tries again. Choice [U]:
/// only browser requests that change something are refused (reads, such as clerk-js's load and
/// polling, go on), and native requests and requests with a testing token never are.
pub fn check_challenge(
    env: &Env<'_>,
    client: &ClientRecord,
    changes: bool,
) -> Result<(), DomainError> {
    let asked = changes && env.settings.captcha.enabled && env.browser && !env.testing;
    if asked && client.captcha_challenged_at.is_some() {
        return Err(DomainError::RequiresCaptcha);
    }
    Ok(())
}

/// `POST /v1/client/verify`: the client solved a challenge; its token is used up and the
/// client is trusted again. A token for an unchallenged client is checked and used up all the
/// same (clerk-js sends one only when asked). `captcha_error` (the widget failed) is refused.
pub fn verify_client(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    token: Option<&str>,
    widget_error: Option<&str>,
) -> Result<(), DomainError> {
    if !env.settings.captcha.enabled {
        return Err(DomainError::Captcha(ErrorCode::CaptchaNotEnabled));
    }
    if widget_error.is_some_and(|e| !e.is_empty()) {
        return Err(DomainError::Captcha(ErrorCode::CaptchaInvalid));
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(DomainError::Captcha(ErrorCode::CaptchaMissingToken));
    };
    redeem_captcha_token(tx, env, token)?;
    client.set_captcha_challenged_at(None);
    Ok(())
}

// --- testing tokens --------------------------------------------------------------------------

/// How long a testing token is valid: an hour (the Backend API spec's example token expires
/// 3600 s after the time in its prefix).
pub const TESTING_TOKEN_LIFETIME_MS: i64 = 3600 * 1000;

/// A new testing token (Backend API `POST /v1/testing_tokens`): `<issued, unix seconds>-<random>`
/// as Clerk's look, stored as its SHA-256. Returns the token and when it expires (ms).
pub fn create_testing_token(tx: &Tx<'_>, env: &Env<'_>) -> Result<(Secret, i64), DomainError> {
    let token = format!("{}-lk_{}", env.now / 1000, ids::random_base62(40));
    let expires_at = env.now + TESTING_TOKEN_LIFETIME_MS;
    tx.save_testing_token(&TestingTokenRecord {
        token_hash: ids::token_hash(&token),
        expires_at,
        created_at: env.now,
    })?;
    Ok((Secret::new(token), expires_at))
}

/// Whether `token` (a request's `__clerk_testing_token`) is a testing token of this instance
/// that has not expired. A valid one skips rate limits — and bot protection, once there is any:
/// this is its hook.
pub fn testing_token_valid(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    token: &str,
) -> Result<bool, DomainError> {
    if token.is_empty() || token.len() > 256 {
        return Ok(false);
    }
    Ok(tx
        .testing_token(&ids::token_hash(token))?
        .is_some_and(|t| env.now < t.expires_at))
}

/// Removes expired testing tokens and ended rate-limit windows (cleanup).
pub fn cleanup(tx: &Tx<'_>, now: i64) -> Result<usize, DomainError> {
    Ok(
        tx.delete_rate_counters_ended_before(now)?
            + tx.delete_testing_tokens_expired_before(now)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(describe_duration(3600), "1 hour");
        assert_eq!(describe_duration(3599), "1 hour");
        assert_eq!(describe_duration(7200), "2 hours");
        assert_eq!(describe_duration(1800), "30 minutes");
        assert_eq!(describe_duration(61), "2 minutes");
        assert_eq!(describe_duration(1), "1 minute");
    }
}
