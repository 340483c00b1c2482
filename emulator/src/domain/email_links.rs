//! Email links (magic links): `strategy=email_link` on a sign-in's first factor and a
//! sign-up's email address. The email carries `<fapi>/v1/verify?token=…`; opening it verifies
//! the flow on the client that asked for the link (never on the one that opened it) and
//! sends the browser on:
//!
//! - **classic** (`redirect_url`): to that URL with `__clerk_status` = `verified` | `expired` |
//!   `failed` | `client_mismatch`, and `__clerk_created_session` when a session was created;
//!   the app polls its sign-in or sign-up and finds it complete.
//! - **native PKCE** (`redirect_uri` + `code_challenge`, S256): to `redirect_uri` with
//!   `flow_id` and a one-time `approval_token`, which only the app holding the verifier can
//!   redeem (`POST /v1/client/magic_links/complete`): a sign-in gets a ticket to sign in with
//!   (`strategy=ticket`), a sign-up is verified (and completed when nothing else is missing).
//!
//! Choices [U] (the wire notes mark these unconfirmed): the token is an opaque random string,
//! not a JWT (no client reads it), stored as its SHA-256; a link opens once (a second opening
//! is `failed`), and a newer link for the same flow replaces older ones (`failed` too); an
//! approval token lasts 5 minutes; with `attack_protection.email_link.require_same_client`,
//! a link opened by a request without the asking client's token is `client_mismatch` — a
//! browser that is not that client never is, until browser mode brings its cookies.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::clients::{self, ClientCtx};
use super::messages::{self, Template};
use super::{ids, redirects, sign_in, sign_in_tokens, sign_up, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{
    ClientRecord, EmailLinkPurpose, EmailLinkRecord, Message, MessageKind, NativeEmailLink,
    PendingCode, SignUpState,
};
use crate::store::Tx;
use latchkey_protocol::{ErrorCode, Strategy, VerificationStatus};

/// How long an approval token handed to a native app may be redeemed.
const APPROVAL_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// Longer than any token the emulator issues: refused before it is hashed.
const MAX_TOKEN_LEN: usize = 256;

/// Where a link sends the browser once opened, as the request that asked for it said.
#[derive(Debug, Clone, Default)]
pub struct LinkTarget {
    /// Classic flow: `redirect_url`.
    pub redirect_url: Option<String>,
    /// Native PKCE flow: `redirect_uri`, with `code_challenge` (and its method, `S256`).
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// base64url(SHA-256(verifier)) without padding (RFC 7636 §4.2, S256); OAuth's PKCE too.
pub(super) fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks the target and turns it into what the link record keeps: the classic URL, or the
/// native half. Exactly one of the two flows must be asked for.
fn checked_target(
    tx: &Tx<'_>,
    env: &Env<'_>,
    t: &LinkTarget,
) -> Result<(Option<String>, Option<NativeEmailLink>), DomainError> {
    match (&t.redirect_url, &t.redirect_uri) {
        (Some(url), None) => {
            let url = redirects::check(tx, env, "redirect_url", url)?;
            Ok((Some(url.to_string()), None))
        }
        (None, Some(uri)) => {
            let uri = redirects::check(tx, env, "redirect_uri", uri)?;
            let challenge = t
                .code_challenge
                .as_deref()
                .filter(|c| !c.is_empty())
                .ok_or(DomainError::ParamMissing("code_challenge"))?;
            // RFC 7636: 43 characters of base64url for a SHA-256.
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return Err(DomainError::ParamFormat {
                    param: "code_challenge",
                    reason: "must be the base64url SHA-256 of the code verifier".into(),
                });
            }
            if t.code_challenge_method.as_deref().unwrap_or("S256") != "S256" {
                return Err(DomainError::ParamValue {
                    param: "code_challenge_method",
                    reason: "must be S256".into(),
                });
            }
            Ok((
                None,
                Some(NativeEmailLink {
                    redirect_uri: uri.to_string(),
                    code_challenge: challenge.to_owned(),
                    approval_expire_at: None,
                    approval_used_at: None,
                }),
            ))
        }
        (None, None) => Err(DomainError::ParamMissing("redirect_url")),
        (Some(_), Some(_)) => Err(DomainError::ParamValue {
            param: "redirect_uri",
            reason: "cannot be given with redirect_url".into(),
        }),
    }
}

/// What one link is for and who asked for it.
pub struct LinkFor<'a> {
    pub purpose: EmailLinkPurpose,
    pub flow_id: &'a str,
    pub client_id: &'a str,
    pub user_id: Option<&'a str>,
    pub identification_id: Option<&'a str>,
    pub to: &'a str,
}

/// Sends a link and returns the pending verification that stands for it: an `email_link`
/// "code" whose secret is the link's id, so a newer link for the flow replaces it.
pub fn send(
    tx: &Tx<'_>,
    env: &Env<'_>,
    what: LinkFor<'_>,
    target: &LinkTarget,
) -> Result<PendingCode, DomainError> {
    let (redirect_url, native) = checked_target(tx, env, target)?;
    let token = ids::random_base62(48);
    let expire_at = env.now + env.settings.code_lifetime_secs * 1000;
    let record = EmailLinkRecord {
        id: ids::new_id("eml"),
        token_hash: ids::token_hash(&token),
        approval_hash: None,
        purpose: what.purpose,
        flow_id: what.flow_id.to_owned(),
        client_id: what.client_id.to_owned(),
        user_id: what.user_id.map(str::to_owned),
        identification_id: what.identification_id.map(str::to_owned),
        redirect_url,
        native,
        used_at: None,
        expire_at,
        created_at: env.now,
    };
    tx.save_email_link(&record)?;
    let link = format!(
        "{}/v1/verify?token={token}",
        env.fapi_url.trim_end_matches('/')
    );
    let minutes = env.settings.code_lifetime_secs / 60;
    let r = messages::render(
        Template::MagicLink,
        MessageKind::Email,
        &env.settings.application_name,
        &link,
        minutes,
    );
    messages::send(
        tx,
        env,
        Message {
            id: ids::new_id("ema"),
            kind: MessageKind::Email,
            to: what.to.to_owned(),
            subject: r.subject,
            body_text: r.text,
            body_html: r.html,
            code: None,
            link: Some(link),
            template: "magic_link".into(),
            created_at: env.now,
            status: "captured".into(),
            delivered_by_clerk: env.settings.delivered_by_clerk,
            delivered_via: Some("inbox".into()),
        },
    )?;
    Ok(PendingCode {
        strategy: Strategy::EmailLink.into(),
        code: Secret::new(record.id),
        attempts: 0,
        expire_at,
        status: VerificationStatus::Unverified,
        identification_id: what.identification_id.map(str::to_owned),
    })
}

/// `__clerk_status` after a link is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Verified,
    Expired,
    Failed,
    ClientMismatch,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::ClientMismatch => "client_mismatch",
        }
    }
}

/// Where `GET /v1/verify` sends the browser.
#[derive(Debug)]
pub struct Opened {
    /// The URL to redirect to, its query parameters added (before any fragment).
    pub location: url::Url,
    pub status: LinkStatus,
}

/// `url` with `params` added to its query (before any fragment); OAuth's redirects too.
pub(super) fn with_params(mut url: url::Url, params: &[(&str, &str)]) -> url::Url {
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url
}

/// The pending verification in `slot`, if it is still the one `link` stands for.
fn pending_of<'s>(
    slot: &'s mut Option<PendingCode>,
    link: &EmailLinkRecord,
) -> Option<&'s mut PendingCode> {
    slot.as_mut().filter(|p| is_link_of(p, link))
}

/// Opens a link (`GET /v1/verify?token=…`), `opener` being the client of the request, if it
/// carried one. `None`: the token is no link of this instance (nothing to redirect to).
pub fn open(
    tx: &Tx<'_>,
    env: &Env<'_>,
    opener: Option<&ClientRecord>,
    token: &str,
) -> Result<Option<Opened>, DomainError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let Some(mut link) = tx.email_link_by_token(&ids::token_hash(token))? else {
        return Ok(None);
    };
    let target = match (&link.redirect_url, &link.native) {
        (Some(u), _) => u.clone(),
        (None, Some(n)) => n.redirect_uri.clone(),
        (None, None) => return Ok(None),
    };
    let location =
        url::Url::parse(&target).map_err(|e| DomainError::InvalidState(e.to_string()))?;
    let status = decide(tx, env, opener, &mut link)?;
    let mut params: Vec<(&str, String)> = vec![("__clerk_status", status.0.as_str().into())];
    if status.0 == LinkStatus::Verified {
        if let Some(native) = link.native.as_mut() {
            // Native: hand out the approval instead of verifying here.
            let approval = ids::random_base62(48);
            link.approval_hash = Some(ids::token_hash(&approval));
            native.approval_expire_at = Some(env.now + APPROVAL_LIFETIME_MS);
            params = vec![
                ("flow_id", link.flow_id.clone()),
                ("approval_token", approval),
            ];
        } else if let Some(session) = status.1 {
            params.push(("__clerk_created_session", session));
        }
    }
    tx.save_email_link(&link)?;
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(Some(Opened {
        location: with_params(location, &pairs),
        status: status.0,
    }))
}

/// Decides what opening `link` does, and (classic flow) does it: the status, and the session
/// created, if any.
fn decide(
    tx: &Tx<'_>,
    env: &Env<'_>,
    opener: Option<&ClientRecord>,
    link: &mut EmailLinkRecord,
) -> Result<(LinkStatus, Option<String>), DomainError> {
    if link.used_at.is_some() {
        return Ok((LinkStatus::Failed, None));
    }
    if env.now >= link.expire_at {
        return Ok((LinkStatus::Expired, None));
    }
    if env
        .settings
        .attack_protection
        .email_link
        .require_same_client
        && opener.is_none_or(|c| c.id != link.client_id)
    {
        return Ok((LinkStatus::ClientMismatch, None));
    }
    link.used_at = Some(env.now);
    if link.native.is_some() {
        // Still current? The flow is verified only when the approval is redeemed.
        let current = match link.purpose {
            EmailLinkPurpose::SignInFirstFactor => tx
                .sign_in(&link.flow_id)?
                .is_some_and(|s| sign_in::link_is_current(&s, link, env.now)),
            EmailLinkPurpose::SignUp => tx
                .sign_up(&link.flow_id)?
                .is_some_and(|mut s| pending_of(&mut s.email_verification, link).is_some()),
            _ => false,
        };
        return Ok((
            if current {
                LinkStatus::Verified
            } else {
                LinkStatus::Failed
            },
            None,
        ));
    }
    let Some(record) = tx.client(&link.client_id)? else {
        return Ok((LinkStatus::Failed, None));
    };
    // The session is created on the client that asked for the link, which is not the one in
    // this request: its token is not rotated (the device is not here to receive a new one; it
    // keeps polling with the token it has).
    let mut client = clients::elsewhere(record);
    let outcome = match link.purpose {
        EmailLinkPurpose::SignInFirstFactor => verify_sign_in(tx, env, &mut client, link, false)?,
        EmailLinkPurpose::SignUp => verify_sign_up(tx, env, &mut client, link)?,
        EmailLinkPurpose::SignInSecondFactor => verify_sign_in(tx, env, &mut client, link, true)?,
        EmailLinkPurpose::EmailAddress => {
            let verified = super::identifications::verify_by_link(tx, env, &link.flow_id, |p| {
                is_link_of(p, link)
            })?;
            let status = if verified {
                LinkStatus::Verified
            } else {
                LinkStatus::Failed
            };
            (status, None)
        }
    };
    client.flush(tx)?;
    Ok(outcome)
}

/// A sign-in's first (or, with `second`, second) factor verified by its link.
fn verify_sign_in(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    link: &EmailLinkRecord,
    second: bool,
) -> Result<(LinkStatus, Option<String>), DomainError> {
    let Some(mut state) = tx.sign_in(&link.flow_id)? else {
        return Ok((LinkStatus::Failed, None));
    };
    let current = if second {
        sign_in::second_link_is_current(&state, link, env.now)
    } else {
        sign_in::link_is_current(&state, link, env.now)
    };
    if !current {
        return Ok((LinkStatus::Failed, None));
    }
    if second {
        sign_in::verify_second_link(tx, env, client, &mut state)?;
    } else {
        sign_in::verify_link(tx, env, client, &mut state)?;
    }
    Ok((LinkStatus::Verified, state.created_session_id))
}

fn verify_sign_up(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &mut ClientCtx,
    link: &EmailLinkRecord,
) -> Result<(LinkStatus, Option<String>), DomainError> {
    let Some(mut state) = tx.sign_up(&link.flow_id)? else {
        return Ok((LinkStatus::Failed, None));
    };
    let Some(p) = pending_of(&mut state.email_verification, link) else {
        return Ok((LinkStatus::Failed, None));
    };
    p.status = VerificationStatus::Verified;
    sign_up::settle_after_link(tx, env, client, &mut state)?;
    Ok((LinkStatus::Verified, state.created_session_id))
}

/// What `POST /v1/client/magic_links/complete` gives the app.
#[derive(Debug)]
pub enum Completed {
    /// A sign-in: a ticket to sign in with (`strategy=ticket`).
    SignIn { ticket: Secret, flow_id: String },
    /// A sign-up, verified (and complete when nothing else was missing).
    SignUp(Box<SignUpState>),
}

/// Redeems a native approval: `flow_id` must be the link's flow, `code_verifier` must match
/// the challenge sent when the link was asked for, and the approval must be fresh and unused.
pub fn complete_native(
    tx: &Tx<'_>,
    env: &Env<'_>,
    flow_id: &str,
    approval_token: &str,
    code_verifier: &str,
) -> Result<Completed, DomainError> {
    let invalid = || DomainError::LinkApproval(ErrorCode::ApprovalTokenInvalid);
    if approval_token.is_empty() || approval_token.len() > MAX_TOKEN_LEN {
        return Err(invalid());
    }
    let mut link = tx
        .email_link_by_approval(&ids::token_hash(approval_token))?
        .ok_or_else(invalid)?;
    if link.flow_id != flow_id {
        return Err(DomainError::ParamValue {
            param: "flow_id",
            reason: "is not the flow of this approval".into(),
        });
    }
    let Some(native) = link.native.as_mut() else {
        return Err(invalid());
    };
    if native.approval_used_at.is_some() {
        return Err(DomainError::LinkApproval(ErrorCode::ApprovalTokenConsumed));
    }
    if native
        .approval_expire_at
        .is_none_or(|until| env.now >= until)
    {
        return Err(DomainError::LinkApproval(ErrorCode::ApprovalTokenExpired));
    }
    if code_verifier.len() > MAX_TOKEN_LEN
        || !bool::from(
            s256(code_verifier)
                .as_bytes()
                .ct_eq(native.code_challenge.as_bytes()),
        )
    {
        return Err(DomainError::LinkApproval(ErrorCode::PkceVerificationFailed));
    }
    native.approval_used_at = Some(env.now);
    tx.save_email_link(&link)?;
    match link.purpose {
        EmailLinkPurpose::SignInFirstFactor => {
            let mut state = tx
                .sign_in(&link.flow_id)?
                .ok_or(DomainError::LinkApproval(ErrorCode::FlowNotApproved))?;
            if !sign_in::link_is_current(&state, &link, env.now) {
                return Err(DomainError::LinkApproval(ErrorCode::FlowNotApproved));
            }
            let user_id = state
                .user_id
                .clone()
                .ok_or(DomainError::LinkApproval(ErrorCode::FlowNotApproved))?;
            sign_in::mark_link_verified(tx, env, &mut state)?;
            let (_, ticket) =
                sign_in_tokens::create(tx, env, &user_id, Some(APPROVAL_LIFETIME_MS / 1000))?;
            Ok(Completed::SignIn {
                ticket,
                flow_id: link.flow_id,
            })
        }
        EmailLinkPurpose::SignUp => {
            let mut state = tx
                .sign_up(&link.flow_id)?
                .ok_or(DomainError::LinkApproval(ErrorCode::FlowNotApproved))?;
            let Some(p) = pending_of(&mut state.email_verification, &link) else {
                return Err(DomainError::LinkApproval(ErrorCode::FlowNotApproved));
            };
            p.status = VerificationStatus::Verified;
            let Some(record) = tx.client(&state.client_id)? else {
                return Err(DomainError::LinkApproval(ErrorCode::FlowNotApproved));
            };
            let mut client = clients::elsewhere(record);
            sign_up::settle_after_link(tx, env, &mut client, &mut state)?;
            client.flush(tx)?;
            Ok(Completed::SignUp(Box::new(state)))
        }
        EmailLinkPurpose::SignInSecondFactor | EmailLinkPurpose::EmailAddress => Err(invalid()),
    }
}

/// Whether `p` is the pending verification `link` stands for.
pub(super) fn is_link_of(p: &PendingCode, link: &EmailLinkRecord) -> bool {
    p.strategy == Strategy::EmailLink
        && bool::from(p.code.expose().as_bytes().ct_eq(link.id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_unpadded_base64url_of_sha256() {
        // The value Python's hashlib + base64.urlsafe_b64encode give, padding stripped.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXFQ2KrsA"),
            "EvVcQSARO2FpGn4wLL_LPY3pjsEkAZuT20uvFJb-y_4"
        );
    }

    #[test]
    fn parameters_go_before_the_fragment() {
        let u = url::Url::parse("https://app.example/sign-in#/verify")
            .unwrap_or_else(|_| unreachable!());
        let u = with_params(u, &[("__clerk_status", "verified")]);
        assert_eq!(
            u.as_str(),
            "https://app.example/sign-in?__clerk_status=verified#/verify"
        );
    }
}
