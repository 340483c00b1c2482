//! Records → wire objects (`latchkey_protocol`). Frontend API views carry what SDKs need to stay
//! in sync (a session's user and `last_active_token`); Backend API views carry ids and private
//! metadata.

use latchkey_protocol as wire;
use latchkey_protocol::{NextAction, SignInStatus, SignUpStatus, Strategy, VerificationStatus};

use super::{sign_up, DomainError, Env};
use crate::store::records::{
    ClientRecord, FirstFactor, IdentKind, Identification, PendingCode, SecondFactor, SessionRecord,
    SessionStatus, SignInState, SignUpState, UserWithIdents,
};
use crate::store::ReadTx;

fn verification_of(ident: &Identification) -> wire::Verification {
    // Code verifications carry an integer `expire_at` (the spec requires it): the code was
    // used when the identification was created, so its validity ended then.
    let strategy = &ident.verification_strategy;
    // An email link is a one-time secret with an expiry too.
    let by_code = strategy
        .known()
        .is_some_and(|s| s.is_code() || s == Strategy::EmailLink);
    wire::Verification {
        object: Some(strategy.verification_object().into()),
        status: if ident.verified {
            VerificationStatus::Verified
        } else {
            VerificationStatus::Unverified
        }
        .into(),
        strategy: strategy.into(),
        attempts: by_code.then_some(1),
        expire_at: by_code.then_some(ident.created_at),
        external_verification_redirect_url: None,
        error: None,
    }
}

/// An email address with the code sent to verify it, if any (an unverified address shows that
/// verification, or `null` before any code was sent).
pub fn email_with(
    ident: &Identification,
    pending: Option<&PendingCode>,
    now: i64,
) -> wire::EmailAddress {
    wire::EmailAddress {
        id: ident.id.clone(),
        object: "email_address".into(),
        email_address: ident.value.clone(),
        reserved: false,
        verification: ident_verification(ident, pending, now),
        linked_to: Vec::new(),
        created_at: ident.created_at,
        updated_at: ident.updated_at,
    }
}

/// A phone number of `u`: whether it is reserved for the second factor (and the default one),
/// and the code sent to verify it, if any (see [`email_with`]).
pub fn phone_of(u: &UserWithIdents, ident: &Identification, now: i64) -> wire::PhoneNumber {
    let flags = super::mfa::second_factor_phones(u)
        .into_iter()
        .find(|(p, _)| p.id == ident.id)
        .map(|(_, default)| default);
    phone_flagged(ident, u.pending_code(&ident.id), now, flags)
}

fn phone_flagged(
    ident: &Identification,
    pending: Option<&PendingCode>,
    now: i64,
    second_factor: Option<bool>,
) -> wire::PhoneNumber {
    wire::PhoneNumber {
        id: ident.id.clone(),
        object: "phone_number".into(),
        phone_number: ident.value.clone(),
        reserved: false,
        reserved_for_second_factor: second_factor.is_some(),
        default_second_factor: second_factor == Some(true),
        backup_codes: None,
        verification: ident_verification(ident, pending, now),
        linked_to: Vec::new(),
        created_at: ident.created_at,
        updated_at: ident.updated_at,
    }
}

/// A verified identification shows how it was verified; an unverified one its pending code, or
/// `null` until a code is sent (Clerk's `verification: null` on a just-added address).
fn ident_verification(
    ident: &Identification,
    pending: Option<&PendingCode>,
    now: i64,
) -> Option<wire::Verification> {
    if ident.verified {
        return Some(verification_of(ident));
    }
    pending.map(|p| code_verification(p, now))
}

/// Where a profile image is served (`GET /v1/images/{id}` on the Frontend API). Without an
/// image the URL stays empty, as before images existed.
pub fn image_url(issuer: &str, image_id: Option<&str>) -> String {
    match image_id {
        Some(id) => format!("{}/v1/images/{id}", issuer.trim_end_matches('/')),
        None => String::new(),
    }
}

/// A user; `backend` adds private metadata. Reads the user's lockout (see `attack::lockout`).
pub fn user(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    u: &UserWithIdents,
    backend: bool,
) -> Result<wire::User, DomainError> {
    let r = &u.user;
    let settings = env.settings;
    let lockout = super::attack::lockout(tx, env, r)?;
    Ok(wire::User {
        id: r.id.clone(),
        object: "user".into(),
        username: r.username.clone(),
        first_name: r.first_name.clone(),
        last_name: r.last_name.clone(),
        image_url: image_url(env.fapi_url, u.image_id.as_deref()),
        has_image: u.image_id.is_some(),
        primary_email_address_id: r.primary_email_address_id.clone(),
        primary_phone_number_id: r.primary_phone_number_id.clone(),
        primary_web3_wallet_id: None,
        password_enabled: r.password_hash.is_some(),
        two_factor_enabled: super::mfa::two_factor_enabled(u),
        totp_enabled: super::mfa::totp_enabled(u),
        backup_code_enabled: super::mfa::backup_code_enabled(u),
        email_addresses: u
            .emails()
            .map(|e| email_with(e, u.pending_code(&e.id), env.now))
            .collect(),
        phone_numbers: u.phones().map(|p| phone_of(u, p, env.now)).collect(),
        web3_wallets: Vec::new(),
        passkeys: Vec::new(),
        external_accounts: tx
            .external_accounts_of_user(&r.id)?
            .iter()
            .map(super::oauth::view)
            .collect(),
        saml_accounts: Vec::new(),
        enterprise_accounts: Vec::new(),
        organization_memberships: Vec::new(),
        password_last_updated_at: r.password_last_updated_at,
        public_metadata: r.public_metadata.clone(),
        private_metadata: backend.then(|| r.private_metadata.clone()),
        unsafe_metadata: r.unsafe_metadata.clone(),
        external_id: r.external_id.clone(),
        last_sign_in_at: r.last_sign_in_at,
        banned: r.banned,
        locked: lockout.locked,
        lockout_expires_in_seconds: lockout.expires_in_secs,
        verification_attempts_remaining: lockout.attempts_remaining,
        created_at: r.created_at,
        updated_at: r.updated_at,
        delete_self_enabled: settings.delete_self_enabled,
        create_organization_enabled: false,
        last_active_at: r.last_active_at,
        mfa_enabled_at: u.mfa.as_ref().and_then(|m| m.enabled_at),
        mfa_disabled_at: u.mfa.as_ref().and_then(|m| m.disabled_at),
        legal_accepted_at: None,
    })
}

pub fn public_user_data(u: &UserWithIdents, issuer: &str) -> wire::PublicUserData {
    wire::PublicUserData {
        first_name: u.user.first_name.clone(),
        last_name: u.user.last_name.clone(),
        image_url: Some(image_url(issuer, u.image_id.as_deref())),
        has_image: u.image_id.is_some(),
        identifier: u.identifier(),
        user_id: Some(u.user.id.clone()),
        username: u.user.username.clone(),
    }
}

/// `fva` and `factor_verification_age`: minutes since the session's first factor and since its
/// second factor were last verified, -1 for a second factor never verified on it (the user
/// had none when signing in, or has none since).
pub fn factor_ages(s: &SessionRecord, now: i64) -> [i64; 2] {
    let minutes_since = |ms: i64| (now - ms).max(0) / 60_000;
    [
        minutes_since(s.first_factor_at),
        s.second_factor_at.map_or(-1, minutes_since),
    ]
}

fn session_base(s: &SessionRecord, now: i64) -> wire::Session {
    wire::Session {
        id: s.id.clone(),
        object: "session".into(),
        status: s.status_at(now).as_str().into(),
        expire_at: s.expire_at,
        abandon_at: s.abandon_at,
        last_active_at: s.last_active_at,
        user_id: None,
        client_id: None,
        last_active_token: None,
        actor: None,
        last_active_organization_id: None,
        user: None,
        public_user_data: None,
        factor_verification_age: None,
        tasks: Vec::new(),
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// A Frontend API session with its user and its `last_active_token` (see
/// [`super::tokens::last_active_token`]: a view writes nothing). `None` when its user no longer
/// exists.
pub fn session_fapi(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    s: &SessionRecord,
) -> Result<Option<wire::Session>, DomainError> {
    let Some(u) = tx.user_with_idents(&s.user_id)? else {
        return Ok(None);
    };
    let mut view = session_base(s, env.now);
    view.last_active_token = super::tokens::last_active_token(env, s)?.map(|jwt| wire::Token {
        object: "token".into(),
        jwt,
    });
    view.factor_verification_age = Some(factor_ages(s, env.now).to_vec());
    view.public_user_data = Some(public_user_data(&u, env.fapi_url));
    view.user = Some(user(tx, env, &u, false)?);
    Ok(Some(view))
}

pub fn session_bapi(s: &SessionRecord, now: i64) -> wire::Session {
    let mut view = session_base(s, now);
    view.user_id = Some(s.user_id.clone());
    view.client_id = Some(s.client_id.clone());
    view
}

/// The Frontend API client: its active sessions, current sign-in and sign-up.
pub fn client_fapi(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    c: &ClientRecord,
) -> Result<wire::Client, DomainError> {
    client_fapi_of(tx, env, c, tx.sessions_of_client(&c.id)?)
}

/// [`client_fapi`] with the client's sessions already loaded.
pub fn client_fapi_of(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    c: &ClientRecord,
    client_sessions: Vec<SessionRecord>,
) -> Result<wire::Client, DomainError> {
    let mut sessions = Vec::new();
    for s in client_sessions {
        if s.status_at(env.now) != SessionStatus::Active {
            continue;
        }
        if let Some(v) = session_fapi(tx, env, &s)? {
            sessions.push(v);
        }
    }
    let sign_in = match &c.sign_in_id {
        Some(id) => tx
            .sign_in(id)?
            .filter(|s| env.now < s.abandon_at)
            .map(|s| sign_in(tx, env, &s))
            .transpose()?,
        None => None,
    };
    let sign_up = match &c.sign_up_id {
        Some(id) => tx
            .sign_up(id)?
            .filter(|s| env.now < s.abandon_at)
            .map(|s| sign_up(env, &s)),
        None => None,
    };
    let last_active = c
        .last_active_session_id
        .clone()
        .filter(|id| sessions.iter().any(|s| &s.id == id));
    Ok(wire::Client {
        object: "client".into(),
        id: c.id.clone(),
        sessions,
        sign_in,
        sign_up,
        last_active_session_id: last_active,
        last_authentication_strategy: c.last_authentication_strategy.as_ref().map(String::from),
        cookie_expires_at: None,
        captcha_bypass: false,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

pub fn client_bapi(
    tx: &ReadTx<'_>,
    now: i64,
    c: &ClientRecord,
) -> Result<wire::BackendClient, DomainError> {
    let sessions: Vec<wire::Session> = tx
        .sessions_of_client(&c.id)?
        .iter()
        .filter(|s| s.status_at(now) == SessionStatus::Active)
        .map(|s| session_bapi(s, now))
        .collect();
    Ok(wire::BackendClient {
        object: "client".into(),
        id: c.id.clone(),
        session_ids: sessions.iter().map(|s| s.id.clone()).collect(),
        sessions,
        sign_in_id: c.sign_in_id.clone(),
        sign_up_id: c.sign_up_id.clone(),
        last_active_session_id: c.last_active_session_id.clone(),
        last_authentication_strategy: c.last_authentication_strategy.as_ref().map(String::from),
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

/// A pending code's status as of `now`: an unverified code past `expire_at` has expired.
fn code_status(p: &PendingCode, now: i64) -> VerificationStatus {
    if p.status == VerificationStatus::Unverified && now >= p.expire_at {
        VerificationStatus::Expired
    } else {
        p.status
    }
}

fn code_verification(p: &PendingCode, now: i64) -> wire::Verification {
    wire::Verification {
        object: Some(p.strategy.verification_object().into()),
        status: code_status(p, now).into(),
        strategy: (&p.strategy).into(),
        attempts: Some(p.attempts),
        expire_at: Some(p.expire_at),
        external_verification_redirect_url: None,
        error: None,
    }
}

fn mask_email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => e.to_owned(),
    }
}

fn mask_phone(p: &str) -> String {
    let tail: String = p
        .chars()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("+*********{tail}")
}

pub fn sign_in(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    s: &SignInState,
) -> Result<wire::SignIn, DomainError> {
    let user = match &s.user_id {
        Some(id) => tx.user_with_idents(id)?,
        None => None,
    };
    let mut factors = Vec::new();
    let mut second_factors = Vec::new();
    let mut user_data = None;
    if let Some(u) = &user {
        // The identifier the user typed is shown as is; other identifications are masked.
        let safe = |i: &Identification| {
            if s.identifier.as_deref() == Some(i.value.as_str()) {
                i.value.clone()
            } else if i.kind == IdentKind::EmailAddress {
                mask_email(&i.value)
            } else {
                mask_phone(&i.value)
            }
        };
        factors = first_factors_of(u, &safe);
        if env.settings.email_address.email_link {
            for e in u.emails().filter(|i| i.verified) {
                let primary = u.user.primary_email_address_id.as_deref() == Some(e.id.as_str());
                factors.push(factor(
                    Strategy::EmailLink,
                    Some(safe(e)),
                    Some(e),
                    Some(primary),
                ));
            }
        }
        if u.user.password_hash.is_some() {
            for e in u.emails().filter(|i| i.verified) {
                let primary = u.user.primary_email_address_id.as_deref() == Some(e.id.as_str());
                factors.push(factor(
                    Strategy::ResetPasswordEmailCode,
                    Some(safe(e)),
                    Some(e),
                    Some(primary),
                ));
            }
            for p in u.phones().filter(|i| i.verified) {
                let primary = u.user.primary_phone_number_id.as_deref() == Some(p.id.as_str());
                factors.push(factor(
                    Strategy::ResetPasswordPhoneCode,
                    Some(safe(p)),
                    Some(p),
                    Some(primary),
                ));
            }
        }
        if s.first_factor_at.is_some() {
            second_factors = second_factors_of(env, u, &safe);
        }
        user_data = Some(serde_json::json!({
            "first_name": u.user.first_name,
            "last_name": u.user.last_name,
            "image_url": image_url(env.fapi_url, u.image_id.as_deref()),
            "has_image": u.image_id.is_some(),
        }));
    } else if s.status == SignInStatus::NeedsFirstFactor {
        // An identifier with no account under enumeration protection (see
        // `sign_in::create`): it is offered the password, as a user with one would be.
        factors.push(factor(Strategy::Password, None, None, None));
    }
    let first_factor_verification = s
        .first_factor
        .as_ref()
        .map(|f| first_factor_verification(f, env.fapi_url, env.now));
    let mut identifiers = Vec::new();
    for (name, attr) in [
        ("email_address", &env.settings.email_address),
        ("phone_number", &env.settings.phone_number),
        ("username", &env.settings.username),
    ] {
        if attr.enabled && attr.used_for_first_factor {
            identifiers.push(name.to_owned());
        }
    }
    Ok(wire::SignIn {
        object: "sign_in_attempt".into(),
        id: s.id.clone(),
        status: if env.now >= s.abandon_at && s.status != SignInStatus::Complete {
            SignInStatus::Abandoned
        } else {
            s.status
        }
        .into(),
        supported_identifiers: identifiers,
        supported_first_factors: factors,
        supported_second_factors: second_factors,
        first_factor_verification,
        second_factor_verification: s
            .second_factor
            .as_ref()
            .map(|f| second_factor_verification(f, env.now)),
        identifier: s.identifier.clone(),
        user_data,
        created_session_id: s.created_session_id.clone(),
        abandon_at: s.abandon_at,
    })
}

/// The first factors `u` can prove with a password or a code (`password`, `email_code`,
/// `phone_code`; no reset codes), each identification shown as `safe` shows it.
pub fn first_factors_of(
    u: &UserWithIdents,
    safe: &dyn Fn(&Identification) -> String,
) -> Vec<wire::SignInFactor> {
    let mut factors = Vec::new();
    if u.user.password_hash.is_some() {
        factors.push(factor(Strategy::Password, None, None, None));
    }
    // An email address or phone number added and not verified yet is no way to sign in.
    for e in u.emails().filter(|i| i.verified) {
        let primary = u.user.primary_email_address_id.as_deref() == Some(e.id.as_str());
        factors.push(factor(
            Strategy::EmailCode,
            Some(safe(e)),
            Some(e),
            Some(primary),
        ));
    }
    for p in u.phones().filter(|i| i.verified) {
        let primary = u.user.primary_phone_number_id.as_deref() == Some(p.id.as_str());
        factors.push(factor(
            Strategy::PhoneCode,
            Some(safe(p)),
            Some(p),
            Some(primary),
        ));
    }
    factors
}

/// A first-factor verification: `verification_password` or `verification_otp`.
pub fn first_factor_verification(f: &FirstFactor, issuer: &str, now: i64) -> wire::Verification {
    match f {
        FirstFactor::Password { verified, attempts } => wire::Verification {
            object: Some(Strategy::Password.verification_object().into()),
            status: if *verified {
                VerificationStatus::Verified
            } else {
                VerificationStatus::Unverified
            }
            .into(),
            strategy: Strategy::Password.into(),
            attempts: Some(*attempts),
            expire_at: None,
            external_verification_redirect_url: None,
            error: None,
        },
        FirstFactor::Code(p) => code_verification(p, now),
        FirstFactor::Ticket => wire::Verification {
            object: Some(Strategy::Ticket.verification_object().into()),
            status: VerificationStatus::Verified.into(),
            strategy: Strategy::Ticket.into(),
            attempts: None,
            expire_at: None,
            external_verification_redirect_url: None,
            error: None,
        },
        FirstFactor::OAuth(v) => super::oauth::verification_view(issuer, v, now),
    }
}

/// A session reverification (`session_reverification`) with its session. The factors offered
/// are those of the steps the verification has (none for a step it skips). [U] The signed-in
/// user sees their own identifications (as on `/v1/me`), so none is masked. `None` when the session's user no
/// longer exists.
pub fn session_verification(
    tx: &ReadTx<'_>,
    env: &Env<'_>,
    v: &crate::store::records::SessionVerificationRecord,
    s: &SessionRecord,
) -> Result<Option<wire::SessionVerification>, DomainError> {
    let Some(u) = tx.user_with_idents(&s.user_id)? else {
        return Ok(None);
    };
    let Some(session) = session_fapi(tx, env, s)? else {
        return Ok(None);
    };
    let shown = |i: &Identification| i.value.clone();
    Ok(Some(wire::SessionVerification {
        object: "session_reverification".into(),
        id: Some(v.id.clone()),
        level: v.level.as_str().into(),
        status: v.status.as_str().into(),
        supported_first_factors: Some(if v.wants_first_factor {
            first_factors_of(&u, &shown)
        } else {
            Vec::new()
        }),
        supported_second_factors: Some(if v.wants_second_factor {
            second_factors_of(env, &u, &shown)
        } else {
            Vec::new()
        }),
        first_factor_verification: v
            .first_factor
            .as_ref()
            .map(|f| first_factor_verification(f, env.fapi_url, env.now)),
        second_factor_verification: v
            .second_factor
            .as_ref()
            .map(|f| second_factor_verification(f, env.now)),
        session,
    }))
}

/// `supported_second_factors` of `u`, each identification shown as `safe` shows it.
pub fn second_factors_of(
    env: &Env<'_>,
    u: &UserWithIdents,
    safe: &dyn Fn(&Identification) -> String,
) -> Vec<wire::SignInFactor> {
    super::mfa::supported_second_factors(env, u)
        .into_iter()
        .map(|(strategy, ident, default)| {
            let mut f = factor(strategy, ident.map(safe), ident, None);
            f.default = default;
            f
        })
        .collect()
}

/// A second-factor verification: `verification_totp`, `verification_backup_code` (whose
/// status is only ever `unverified` or `verified`) or `verification_otp`.
pub fn second_factor_verification(f: &SecondFactor, now: i64) -> wire::Verification {
    let done = |strategy: Strategy, verified: bool, attempts: i64| wire::Verification {
        object: Some(strategy.verification_object().into()),
        status: if verified {
            VerificationStatus::Verified
        } else {
            VerificationStatus::Unverified
        }
        .into(),
        strategy: strategy.into(),
        attempts: Some(attempts),
        expire_at: None,
        external_verification_redirect_url: None,
        error: None,
    };
    match f {
        SecondFactor::Totp { verified, attempts } => done(Strategy::Totp, *verified, *attempts),
        SecondFactor::BackupCode { verified, attempts } => {
            done(Strategy::BackupCode, *verified, *attempts)
        }
        SecondFactor::Code(p) => code_verification(p, now),
    }
}

fn factor(
    strategy: Strategy,
    safe_identifier: Option<String>,
    ident: Option<&Identification>,
    primary: Option<bool>,
) -> wire::SignInFactor {
    wire::SignInFactor {
        strategy: strategy.into(),
        safe_identifier,
        email_address_id: ident
            .filter(|i| i.kind == IdentKind::EmailAddress)
            .map(|i| i.id.clone()),
        phone_number_id: ident
            .filter(|i| i.kind == IdentKind::PhoneNumber)
            .map(|i| i.id.clone()),
        primary,
        default: None,
    }
}

fn sign_up_verification(
    value: &Option<String>,
    pending: &Option<PendingCode>,
    strategy: Strategy,
    now: i64,
    created_at: i64,
) -> Option<wire::SignUpVerification> {
    value.as_ref()?;
    Some(match pending {
        // No code sent yet. The spec requires an integer `expire_at` on OTP verifications; we
        // send the sign-up's creation time (nothing to attempt before `prepare_verification`).
        None => wire::SignUpVerification {
            status: VerificationStatus::Unverified.into(),
            strategy: strategy.into(),
            attempts: Some(0),
            expire_at: Some(created_at),
            next_action: NextAction::NeedsPrepare.into(),
            supported_strategies: vec![strategy.into()],
        },
        Some(p) => {
            let v = code_verification(p, now);
            let next_action = match code_status(p, now) {
                VerificationStatus::Verified => NextAction::Nothing,
                VerificationStatus::Unverified => NextAction::NeedsAttempt,
                VerificationStatus::Failed
                | VerificationStatus::Expired
                | VerificationStatus::Transferable => NextAction::NeedsPrepare,
            };
            wire::SignUpVerification {
                status: v.status,
                strategy: v.strategy,
                attempts: v.attempts,
                expire_at: v.expire_at,
                next_action: next_action.into(),
                supported_strategies: vec![strategy.into()],
            }
        }
    })
}

pub fn sign_up(env: &Env<'_>, s: &SignUpState) -> wire::SignUp {
    let owned = |v: Vec<&'static str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    let complete = s.status == SignUpStatus::Complete;
    wire::SignUp {
        object: "sign_up_attempt".into(),
        id: s.id.clone(),
        status: if env.now >= s.abandon_at && !complete {
            SignUpStatus::Abandoned
        } else {
            s.status
        }
        .into(),
        required_fields: owned(env.settings.required_fields()),
        optional_fields: owned(env.settings.optional_fields()),
        missing_fields: if complete {
            Vec::new()
        } else {
            owned(sign_up::missing_fields(env, s))
        },
        unverified_fields: if complete {
            Vec::new()
        } else {
            owned(sign_up::unverified_fields(env, s))
        },
        verifications: wire::SignUpVerifications {
            email_address: sign_up_verification(
                &s.email_address,
                &s.email_verification,
                Strategy::EmailCode,
                env.now,
                s.created_at,
            )
            .map(|mut v| {
                if env.settings.email_address.email_link {
                    v.supported_strategies.push(Strategy::EmailLink.into());
                }
                v
            }),
            phone_number: sign_up_verification(
                &s.phone_number,
                &s.phone_verification,
                Strategy::PhoneCode,
                env.now,
                s.created_at,
            ),
            web3_wallet: None,
            external_account: s.external_account.as_ref().and_then(|v| {
                serde_json::to_value(super::oauth::verification_view(env.fapi_url, v, env.now)).ok()
            }),
        },
        username: s.username.clone(),
        email_address: s.email_address.clone(),
        phone_number: s.phone_number.clone(),
        web3_wallet: None,
        password_enabled: s.password_hash.is_some(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        unsafe_metadata: s.unsafe_metadata.clone(),
        custom_action: false,
        external_id: s.external_id.clone(),
        created_session_id: s.created_session_id.clone(),
        created_user_id: s.created_user_id.clone(),
        abandon_at: s.abandon_at,
        legal_accepted_at: None,
    }
}

/// A TOTP enrolment as `/v1/me/totp` shows it.
pub fn totp(t: &super::mfa::TotpView) -> wire::Totp {
    wire::Totp {
        object: "totp".into(),
        id: t.record.id.clone(),
        // Shown only while enrolling (in the response of `POST /v1/me/totp`).
        secret: t.uri.as_ref().map(|_| t.record.secret.expose().to_owned()),
        uri: t.uri.as_ref().map(|u| u.expose().to_owned()),
        verified: t.record.verified,
        backup_codes: t.backup_codes.clone(),
        created_at: t.record.created_at,
        updated_at: t.record.updated_at,
    }
}

/// A new set of backup codes, with the codes (shown this once).
pub fn backup_codes(
    set: &crate::store::records::BackupCodesRecord,
    codes: &[String],
) -> wire::BackupCodes {
    wire::BackupCodes {
        object: "backup_code".into(),
        id: set.id.clone(),
        codes: codes.to_vec(),
        created_at: set.created_at,
        updated_at: set.updated_at,
    }
}

/// A profile image: `{object:"image", id, name, public_url}`.
pub fn image(i: &crate::store::records::ImageRecord, issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "object": "image",
        "id": i.id,
        "name": i.name,
        "public_url": image_url(issuer, Some(&i.id)),
    })
}

/// A session with its latest activity (`GET /v1/me/sessions/active`, clerk-js's
/// `SessionWithActivities`): the session's own fields and, when its requests were recorded,
/// `latest_activity` with the browser and device read roughly from the user agent. City and
/// country are left out: the emulator knows no geography.
pub fn session_with_activity(
    s: &SessionRecord,
    activity: Option<&crate::store::records::SessionActivity>,
    now: i64,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "object": "session",
        "id": s.id,
        "status": s.status_at(now).as_str(),
        "expire_at": s.expire_at,
        "abandon_at": s.abandon_at,
        "last_active_at": s.last_active_at,
        "last_active_token": null,
        "actor": null,
    });
    if let Some(a) = activity {
        let ua = parse_user_agent(a.user_agent.as_deref().unwrap_or(""));
        let mut latest = serde_json::json!({
            "object": "session_activity",
            "id": format!("sess_activity_{}", s.id.trim_start_matches("sess_")),
            "is_mobile": ua.is_mobile,
            "device_type": ua.device_type,
        });
        if let Some(name) = ua.browser_name {
            latest["browser_name"] = name.into();
        }
        if let Some(version) = ua.browser_version {
            latest["browser_version"] = version.into();
        }
        if let Some(ip) = &a.ip_address {
            latest["ip_address"] = ip.clone().into();
        }
        v["latest_activity"] = latest;
    }
    v
}

/// What a user agent says, roughly: enough for a "signed in on Chrome 126, macOS" list.
#[derive(Debug, PartialEq, Eq)]
pub struct UserAgentInfo {
    pub browser_name: Option<String>,
    pub browser_version: Option<String>,
    /// `Macintosh`, `Windows`, `iPhone`, `iPad`, `Android`, `Linux`, or the agent's product.
    pub device_type: String,
    pub is_mobile: bool,
}

pub fn parse_user_agent(ua: &str) -> UserAgentInfo {
    // A token's version: the characters after `name/` up to a space or `;`.
    let version_of = |name: &str| -> Option<String> {
        let at = ua.find(&format!("{name}/"))? + name.len() + 1;
        let v: String = ua[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ';' && *c != ')')
            .collect();
        (!v.is_empty()).then_some(v)
    };
    // Most specific first: Edge and Opera carry "Chrome/", Chrome carries "Safari/".
    let browsers = [
        ("Edg", "Edge"),
        ("OPR", "Opera"),
        ("Firefox", "Firefox"),
        ("CriOS", "Chrome"),
        ("Chrome", "Chrome"),
        ("Version", "Safari"),
        ("okhttp", "okhttp"),
        ("CFNetwork", "CFNetwork"),
    ];
    let (browser_name, browser_version) = browsers
        .iter()
        .find_map(|(token, name)| version_of(token).map(|v| (Some((*name).to_owned()), Some(v))))
        .unwrap_or_else(|| {
            // Another agent (an SDK, curl): its first product token.
            let first = ua.split_whitespace().next().unwrap_or("");
            match first.split_once('/') {
                Some((n, v)) if !n.is_empty() => (Some(n.to_owned()), Some(v.to_owned())),
                _ if !first.is_empty() => (Some(first.to_owned()), None),
                _ => (None, None),
            }
        });
    let device_type = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Macintosh", "Macintosh"),
        ("Windows", "Windows"),
        ("CrOS", "Chrome OS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map(|(_, d)| (*d).to_owned())
    .or_else(|| browser_name.clone())
    .unwrap_or_default();
    let is_mobile = ua.contains("Mobile") || ua.contains("iPhone") || ua.contains("Android");
    UserAgentInfo {
        browser_name,
        browser_version,
        device_type,
        is_mobile,
    }
}

#[cfg(test)]
mod user_agent_tests {
    use super::*;

    #[test]
    fn browsers_and_devices_are_read_from_user_agents() {
        let chrome = parse_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36");
        assert_eq!(chrome.browser_name.as_deref(), Some("Chrome"));
        assert_eq!(chrome.browser_version.as_deref(), Some("126.0.0.0"));
        assert_eq!(
            (chrome.device_type.as_str(), chrome.is_mobile),
            ("Macintosh", false)
        );
        let safari = parse_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1");
        assert_eq!(safari.browser_name.as_deref(), Some("Safari"));
        assert_eq!(safari.browser_version.as_deref(), Some("17.5"));
        assert_eq!(
            (safari.device_type.as_str(), safari.is_mobile),
            ("iPhone", true)
        );
        let edge = parse_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0.2210.91");
        assert_eq!(edge.browser_name.as_deref(), Some("Edge"));
        assert_eq!(edge.device_type, "Windows");
        let sdk = parse_user_agent("latchkey/0.1.0");
        assert_eq!(sdk.browser_name.as_deref(), Some("latchkey"));
        assert_eq!(sdk.browser_version.as_deref(), Some("0.1.0"));
        let none = parse_user_agent("");
        assert_eq!((none.browser_name, none.device_type.as_str()), (None, ""));
    }
}
