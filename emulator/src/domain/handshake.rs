//! The handshake (browser mode, development instances; clerk-wire-2 §5.4): an app's backend
//! (`@clerk/backend`'s `authenticateRequest`) that cannot tell from a document request's
//! cookies who is signed in sends the browser to FAPI `GET /v1/client/handshake`, which finds
//! the browser's client by its dev browser, and sends it back to `redirect_url` with the
//! cookies the backend must set ("directives"):
//!
//! - **token form** (`format=token`, the default): `__clerk_handshake=<JWT>` in the query, an
//!   RS256 JWT with the instance's `kid`, signed with the session-token key, payload
//!   `{"handshake": [<Set-Cookie value>, …]}`; the backend verifies it against the JWKS;
//! - **nonce form** (`format=nonce`, what `@clerk/backend` asks for):
//!   `__clerk_handshake_nonce=<nonce>` in the query; the backend redeems it once through the
//!   Backend API (`GET /v1/clients/handshake_payload?nonce=`, [`redeem`]) for
//!   `{"directives": […]}`.
//!
//! The directives (attributes [U]: the wire notes leave them open; `Path=/` and
//! `SameSite=Lax` are what clerk-js writes for its own copies):
//! - signed in: `__session=<session token>; Path=/; SameSite=Lax`,
//!   `__client_uat=<client updated_at, seconds>; Path=/; SameSite=Lax`;
//! - signed out: `__session=; Path=/; Max-Age=0; SameSite=Lax`, `__client_uat=0; Path=/;
//!   SameSite=Lax`;
//! - always `__clerk_db_jwt=<dev browser>; Path=/` (the integration test "new devbrowser" of
//!   clerk/javascript shows this form), so a browser that had none keeps the one made here;
//! - each again with the cookie suffix ([`cookie_suffix`]), whatever `suffixed_cookies` says.
//!
//! Why always suffixed (found with `@clerk/backend` 3.25 through `@clerk/express`): the backend
//! trusts the unsuffixed `__session` only when its `iss` (scheme stripped) is the publishable
//! key's host, and the emulator's tokens name the emulator (`http://127.0.0.1:<port>`), not
//! `latchkey-emulator.clerk.accounts.dev`; so it reads the suffixed cookies, and without them
//! it finds no dev browser and handshakes again, in a loop. clerk-js, too, writes both copies
//! always. `suffixed_cookies` says only which copies the backend saw.

use latchkey_protocol::keys::browser_publishable_key;
use url::Url;

use super::redirects::{self, Refusal};
use super::{clients, ids, tokens, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{ClientRecord, HandshakeNonceRecord, SessionRecord, SessionStatus};
use crate::store::{Read, Tx};

/// How long a handshake nonce may be redeemed, by the emulator clock. Choice [U]: Clerk's
/// lifetime is not documented; the backend redeems it on the very next request, so a few
/// minutes leave room for a slow page and none for a nonce found later in a log.
pub const NONCE_LIFETIME_MS: i64 = 5 * 60_000;

/// Query parameters that carry credentials and are taken off `redirect_url` before the
/// payload is added: the dev browser (the backend strips it already; a directive carries it),
/// and any payload of an earlier handshake.
const STRIPPED: &[&str] = &[
    "__clerk_db_jwt",
    "__dev_session",
    "__clerk_handshake",
    "__clerk_handshake_nonce",
];

/// The payload's form (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `__clerk_handshake=<JWT>`.
    Token,
    /// `__clerk_handshake_nonce=<nonce>`, redeemed through the Backend API.
    Nonce,
}

/// What `GET /v1/client/handshake` asks.
pub struct Request<'a> {
    /// `__clerk_db_jwt` (or `__dev_session`): the browser's dev browser, if it has one.
    pub dev_browser: Option<&'a str>,
    pub redirect_url: &'a str,
    pub form: Form,
}

/// Where the browser goes back to, and what it carries there.
pub struct Outcome {
    /// `redirect_url` as accepted by the redirect gate, without [`STRIPPED`] parameters.
    pub redirect: Url,
    pub payload: Payload,
}

pub enum Payload {
    /// The directives, whose session token is a stand-in of `Env::tokens` until signed; the
    /// caller signs them into the handshake JWT.
    Directives(Vec<String>),
    /// The nonce the backend redeems.
    Nonce(Secret),
}

/// The cookie suffix `@clerk/backend` and clerk-js use for the instance's publishable key:
/// the first 8 characters of base64url(SHA-1(key)) [C `shared/src/keys.ts getCookieSuffix`].
///
/// Choice [U]: the request does not say which publishable key the app uses; the suffix is the
/// browser publishable key's ([`browser_publishable_key`]), the one clerk-js can run with and
/// so the one that writes suffixed cookies. A backend on another key reads the unsuffixed
/// cookies, which always go along.
pub fn cookie_suffix(publishable_key: &str) -> String {
    use base64::Engine as _;
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(publishable_key.as_bytes());
    let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    s.truncate(8);
    s
}

/// `GET /v1/client/handshake`: checks `redirect_url` (the redirect gate, and `http(s)` only:
/// the handshake returns to a page), finds the client of the dev browser — or, for a browser
/// with none or an unknown one (`__clerk_hs_reason=dev-browser-missing`), makes one, as
/// Clerk's development instances do — and makes the payload for its last active session, or
/// signed out. A refused `redirect_url` is [`DomainError::RedirectRefused`] and is followed
/// nowhere.
pub fn handshake(tx: &Tx<'_>, env: &Env<'_>, req: &Request<'_>) -> Result<Outcome, DomainError> {
    let mut redirect = redirects::check(tx, env, "redirect_url", req.redirect_url)?;
    if !matches!(redirect.scheme(), "http" | "https") {
        return Err(DomainError::RedirectRefused {
            param: "redirect_url",
            url: req.redirect_url.chars().take(redirects::MAX_LEN).collect(),
            refusal: Refusal::Scheme(redirect.scheme().to_owned()),
        });
    }
    strip_credentials(&mut redirect);
    let client = match clients::find(tx, req.dev_browser, env.now)? {
        Some(c) => c.record,
        None => clients::new_dev_browser(tx, env.now)?,
    };
    let session = last_active_session(tx, env, &client)?;
    // The session token is for the page the browser returns to: its origin is the `azp`
    // (a navigation carries no Origin header).
    let azp = redirect.origin().ascii_serialization();
    let payload = match req.form {
        Form::Token => {
            let env = Env {
                origin: Some(azp.as_str()),
                ..*env
            };
            Payload::Directives(directives_for(tx, &env, &client, session.as_ref())?)
        }
        Form::Nonce => {
            let nonce = ids::random_base62(40);
            tx.insert_handshake_nonce(&HandshakeNonceRecord {
                nonce_hash: ids::token_hash(&nonce),
                client_id: client.id.clone(),
                session_id: session.map(|s| s.id),
                azp: Some(azp),
                expire_at: env.now.saturating_add(NONCE_LIFETIME_MS),
                created_at: env.now,
            })?;
            Payload::Nonce(Secret::new(nonce))
        }
    };
    Ok(Outcome { redirect, payload })
}

/// Backend API `GET /v1/clients/handshake_payload?nonce=`: the directives of the handshake
/// that handed out `nonce`, once, within [`NONCE_LIFETIME_MS`]. They are made now, for the
/// session the handshake saw if it is still active (else signed out). An unknown, used or
/// expired nonce is not found.
pub fn redeem(tx: &Tx<'_>, env: &Env<'_>, nonce: &str) -> Result<Vec<String>, DomainError> {
    const WHAT: &str = "handshake payload";
    let record = tx
        .take_handshake_nonce(&ids::token_hash(nonce), env.now)?
        .filter(|r| env.now < r.expire_at)
        .ok_or(DomainError::NotFound(WHAT))?;
    let client = tx
        .client(&record.client_id)?
        .ok_or(DomainError::NotFound(WHAT))?;
    let session = match &record.session_id {
        Some(id) => tx
            .session(id)?
            .filter(|s| s.status_at(env.now) == SessionStatus::Active),
        None => None,
    };
    let env = Env {
        origin: record.azp.as_deref(),
        ..*env
    };
    directives_for(tx, &env, &client, session.as_ref())
}

/// The client's last active session, if it is still active.
fn last_active_session<R: Read + ?Sized>(
    tx: &R,
    env: &Env<'_>,
    client: &ClientRecord,
) -> Result<Option<SessionRecord>, DomainError> {
    let Some(id) = &client.last_active_session_id else {
        return Ok(None);
    };
    Ok(tx
        .session(id)?
        .filter(|s| s.client_id == client.id && s.status_at(env.now) == SessionStatus::Active))
}

fn directives_for(
    tx: &Tx<'_>,
    env: &Env<'_>,
    client: &ClientRecord,
    session: Option<&SessionRecord>,
) -> Result<Vec<String>, DomainError> {
    let token = match session {
        Some(s) => Some(tokens::mint_for_session(tx, env, s, None)?),
        None => None,
    };
    let suffix = cookie_suffix(&browser_publishable_key());
    Ok(directives(
        token.as_deref(),
        client.updated_at.div_euclid(1000),
        client.token.expose(),
        Some(&suffix),
    ))
}

/// The `Set-Cookie` values of a handshake (see the module's list).
pub fn directives(
    session_token: Option<&str>,
    client_uat_secs: i64,
    dev_browser: &str,
    suffix: Option<&str>,
) -> Vec<String> {
    let names = |base: &str| {
        let mut v = vec![base.to_owned()];
        if let Some(s) = suffix {
            v.push(format!("{base}_{s}"));
        }
        v
    };
    let mut out = Vec::new();
    for name in names("__session") {
        out.push(match session_token {
            Some(t) => format!("{name}={t}; Path=/; SameSite=Lax"),
            None => format!("{name}=; Path=/; Max-Age=0; SameSite=Lax"),
        });
    }
    let uat = if session_token.is_some() {
        client_uat_secs.max(1)
    } else {
        0
    };
    for name in names("__client_uat") {
        out.push(format!("{name}={uat}; Path=/; SameSite=Lax"));
    }
    for name in names("__clerk_db_jwt") {
        out.push(format!("{name}={dev_browser}; Path=/"));
    }
    out
}

fn strip_credentials(url: &mut Url) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !STRIPPED.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if url.query().is_some() {
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_cookie_suffix_is_clerks() {
        // base64url(SHA-1(key)), first 8 characters, as `getCookieSuffix` computes them
        // (worked out outside this code).
        assert_eq!(
            cookie_suffix("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"),
            "l2OS3d9k"
        );
        assert_eq!(cookie_suffix(&browser_publishable_key()), "aLyHrikT");
    }

    #[test]
    fn directives_say_signed_in_or_out_with_the_dev_browser_and_suffixes() {
        let d = directives(Some("jwt"), 1700, "dvb", Some("sfx12345"));
        assert_eq!(
            d,
            [
                "__session=jwt; Path=/; SameSite=Lax",
                "__session_sfx12345=jwt; Path=/; SameSite=Lax",
                "__client_uat=1700; Path=/; SameSite=Lax",
                "__client_uat_sfx12345=1700; Path=/; SameSite=Lax",
                "__clerk_db_jwt=dvb; Path=/",
                "__clerk_db_jwt_sfx12345=dvb; Path=/",
            ]
        );
        let out = directives(None, 1700, "dvb", None);
        assert_eq!(
            out,
            [
                "__session=; Path=/; Max-Age=0; SameSite=Lax",
                "__client_uat=0; Path=/; SameSite=Lax",
                "__clerk_db_jwt=dvb; Path=/",
            ]
        );
    }

    #[test]
    fn credentials_are_taken_off_the_redirect() {
        let mut u = Url::parse(
            "http://localhost:3000/p?a=1&__clerk_db_jwt=x&__clerk_handshake=y&__clerk_handshake_nonce=z&__dev_session=w",
        )
        .unwrap();
        strip_credentials(&mut u);
        assert_eq!(u.as_str(), "http://localhost:3000/p?a=1");
        let mut u = Url::parse("http://localhost:3000/p?__clerk_db_jwt=x").unwrap();
        strip_credentials(&mut u);
        assert_eq!(u.as_str(), "http://localhost:3000/p");
        let mut u = Url::parse("http://localhost:3000/p").unwrap();
        strip_credentials(&mut u);
        assert_eq!(u.as_str(), "http://localhost:3000/p");
    }
}
