//! Redirect URLs: where the emulator may send a browser (an email link's `redirect_url`, a
//! native app's `redirect_uri`, an OAuth `redirect_url`), checked as the hosted service checks
//! them, and the instance's allowlist of them (Backend API `/v1/redirect_urls`).
//!
//! [`check`] is the one gate: every redirect the emulator stores or follows passes it first,
//! and a refused one is never stored, so never followed. The rules:
//!
//! - The URL is absolute and parses as a browser parses it (WHATWG, the `url` crate). Refused as
//!   malformed: relative URLs, whitespace or control characters anywhere (browsers strip some of
//!   them silently, so what is checked would not be what is followed), backslashes, userinfo
//!   (`https://good.example@evil.example/` — the classic trick), `http(s)` without a host, more
//!   than [`MAX_LEN`] bytes.
//! - Schemes no redirect may use — `javascript:`, `data:`, `vbscript:`, `file:`, `blob:`,
//!   `about:`, `filesystem:`, `view-source:`, `ws(s):`, `ftp:` — are refused everywhere, even on
//!   the allowlist.
//! - `http` and `https`: on a **development** instance (the only kind the emulator has) any
//!   origin, as Clerk's development instances accept; loopback `http://127.0.0.1:<any port>` and
//!   `http://[::1]:<any port>` (RFC 8252 §7.3) among them.
//! - Any other (custom) scheme, such as `myapp://callback`: only when on the allowlist.
//!
//! Allowlist matching compares scheme, host, port and path exactly (a trailing slash counts);
//! the query and fragment are not compared, so an app may add its own state to the query. An
//! allowlisted loopback `http` URL matches on any port (RFC 8252 §7.3: the port is chosen at
//! run time).
//!
//! **Production instances** (not in the emulator yet; browser mode adds them): [`Policy`] has
//! the slot. With `Policy::Production { app_domains }`, `http(s)` redirects are accepted only
//! to one of the app's domains (the domain itself or a subdomain) or when on the allowlist;
//! loopback only when on the allowlist (any port); custom schemes as on development.
//! [`Policy::of`] is where the instance's kind will be read from `Env`.
//!
//! Error codes (what Clerk answers, as seen in apps' reports; the HTTP statuses are [U], 422
//! chosen as for other parameter errors):
//! - a refused scheme: `invalid_url_scheme` ("Invalid URL scheme", "Please provide a URL with
//!   one of the following schemes: https, http"), `meta.param_name` the parameter;
//! - not on the allowlist: `resource_missmatch` — Clerk's own spelling — ("Redirect url
//!   mismatch", "The current redirect url passed in the sign in or sign up request does not
//!   match an authorized redirect URI for this instance. …"), which is the code clerk-ios and
//!   clerk-android users see for an unlisted `<bundle id>://callback`;
//! - malformed: `form_param_format_invalid` with the parameter's name.

use url::{Host, Url};

use super::{ids, DomainError, Env};
use crate::store::records::RedirectUrlRecord;
use crate::store::{Read, ReadTx, Tx};

/// The longest redirect URL accepted, in bytes.
pub const MAX_LEN: usize = 4096;

/// Schemes no redirect may use, allowlisted or not.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "filesystem",
    "view-source",
    "ws",
    "wss",
    "ftp",
];

/// Which instance a redirect is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy<'a> {
    /// Any `http(s)` origin; custom schemes from the allowlist.
    Development,
    /// `http(s)` only to `app_domains` (or a subdomain of one) or from the allowlist; custom
    /// schemes from the allowlist. Not used yet: the emulator has development instances only.
    #[allow(dead_code)]
    Production { app_domains: &'a [String] },
}

#[allow(dead_code)]
impl Policy<'static> {
    /// The policy of the instance `env` belongs to: development, the only kind there is.
    /// Production instances will read their kind and domains from `env` here.
    pub fn of(_env: &Env<'_>) -> Self {
        Policy::Development
    }
}

/// Why a redirect URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute URL as the rules take it; says why.
    Malformed(&'static str),
    /// A scheme no redirect may use (the scheme).
    Scheme(String),
    /// A custom scheme (or, on production, an origin) that is not on the allowlist.
    NotAllowed,
}

/// Parses `raw` as an absolute URL a redirect may take at all (the checks every redirect and
/// every allowlist entry share).
fn parse(raw: &str) -> Result<Url, Refusal> {
    if raw.is_empty() {
        return Err(Refusal::Malformed("it is empty"));
    }
    if raw.len() > MAX_LEN {
        return Err(Refusal::Malformed("it is too long"));
    }
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(Refusal::Malformed(
            "it holds whitespace, control characters or backslashes",
        ));
    }
    let url = Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => Refusal::Malformed("it is not absolute"),
        _ => Refusal::Malformed("it is not a valid URL"),
    })?;
    let scheme = url.scheme();
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(Refusal::Scheme(scheme.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Malformed("it holds a user name or password"));
    }
    if is_web(&url) && url.host().is_none_or(|h| matches!(h, Host::Domain(""))) {
        return Err(Refusal::Malformed("it has no host"));
    }
    Ok(url)
}

fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// `http` to 127.0.0.1 or [::1] (RFC 8252 §7.3).
fn is_loopback(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// Whether `url` is the allowlisted `entry`: scheme, host, port and path equal (query and
/// fragment not compared); a loopback entry matches on any port.
fn matches_entry(url: &Url, entry: &Url) -> bool {
    url.scheme() == entry.scheme()
        && url.host() == entry.host()
        && (url.port_or_known_default() == entry.port_or_known_default()
            || (is_loopback(url) && is_loopback(entry)))
        && url.path() == entry.path()
}

fn on_domains(url: &Url, domains: &[String]) -> bool {
    let Some(Host::Domain(host)) = url.host() else {
        return false;
    };
    domains.iter().any(|d| {
        let d = d.trim_start_matches('.').to_ascii_lowercase();
        host == d || host.ends_with(&format!(".{d}"))
    })
}

/// Checks `raw` against `allowlist` under `policy` (see the module's rules): the parsed URL,
/// or why it is refused.
pub fn evaluate(raw: &str, allowlist: &[String], policy: Policy<'_>) -> Result<Url, Refusal> {
    let url = parse(raw)?;
    let listed = || {
        allowlist
            .iter()
            .filter_map(|e| Url::parse(e).ok())
            .any(|e| matches_entry(&url, &e))
    };
    let accepted = match (policy, is_web(&url)) {
        (Policy::Development, true) => true,
        (Policy::Production { app_domains }, true) => {
            (!is_loopback(&url) && on_domains(&url, app_domains)) || listed()
        }
        (_, false) => listed(),
    };
    if accepted {
        Ok(url)
    } else {
        Err(Refusal::NotAllowed)
    }
}

/// Checks the redirect URL given as `param` for the instance of `env`, against its allowlist
/// (see the module's rules). The parsed URL, or [`DomainError::RedirectRefused`] (which the
/// HTTP layer answers with Clerk's code for the refusal). Callers store and follow only URLs
/// this accepted.
///
/// This is the function other flows (OAuth `redirect_url`, native `redirect_uri`) call:
/// `redirects::check(tx, env, "redirect_url", raw)?`; `tx` may be a read or a write
/// transaction.
pub fn check<R: Read + ?Sized>(
    tx: &R,
    env: &Env<'_>,
    param: &'static str,
    raw: &str,
) -> Result<Url, DomainError> {
    let allowlist: Vec<String> = tx.redirect_urls()?.into_iter().map(|r| r.url).collect();
    let resolved = relative_to_origin(raw, env.origin);
    let raw = resolved.as_deref().unwrap_or(raw);
    evaluate(raw, &allowlist, Policy::of(env)).map_err(|refusal| DomainError::RedirectRefused {
        param,
        url: raw.chars().take(MAX_LEN).collect(),
        refusal,
    })
}

/// A path (`/done`) resolved against the page that asked, for requests from a page: clerk-js
/// sends `action_complete_redirect_url` (its `redirectUrlComplete`) as given, often relative,
/// and Clerk sends the browser there on the page's origin. Choice [U]: only a path that starts
/// with one `/` (not `//host`, not `/\`) and only with an http(s) `Origin`; anything else is
/// left to [`evaluate`], which refuses relative URLs.
fn relative_to_origin(raw: &str, origin: Option<&str>) -> Option<String> {
    let is_path = raw.starts_with('/') && !raw.starts_with("//") && !raw.starts_with("/\\");
    if !is_path {
        return None;
    }
    let base = Url::parse(origin?).ok().filter(is_web)?;
    Some(base.join(raw).ok()?.to_string())
}

/// Whether `url` may be an allowlist entry at all: absolute, of no forbidden scheme, no
/// userinfo (what `POST /v1/redirect_urls` and an import check).
pub fn validate_entry(url: &str) -> Result<(), Refusal> {
    parse(url).map(|_| ())
}

/// The allowlist (`GET /v1/redirect_urls`), oldest first.
pub fn list(tx: &ReadTx<'_>) -> Result<Vec<RedirectUrlRecord>, DomainError> {
    Ok(tx.redirect_urls()?)
}

/// One allowlist entry (`GET /v1/redirect_urls/{id}`).
pub fn get(tx: &ReadTx<'_>, id: &str) -> Result<RedirectUrlRecord, DomainError> {
    tx.redirect_url(id)?
        .ok_or(DomainError::NotFound("redirect_url"))
}

/// Adds `url` to the allowlist (`POST /v1/redirect_urls`): an absolute `http(s)` URL or one
/// of a custom scheme, never of a forbidden scheme, not there already.
pub fn create(tx: &Tx<'_>, env: &Env<'_>, url: &str) -> Result<RedirectUrlRecord, DomainError> {
    validate_entry(url).map_err(|refusal| DomainError::RedirectRefused {
        param: "url",
        url: url.chars().take(MAX_LEN).collect(),
        refusal,
    })?;
    if tx.redirect_urls()?.iter().any(|r| r.url == url) {
        return Err(DomainError::ParamValue {
            param: "url",
            reason: "is on the allowlist already".into(),
        });
    }
    let record = RedirectUrlRecord {
        // Choice [U]: Clerk's prefix for redirect URL ids.
        id: ids::new_id("ru"),
        url: url.to_owned(),
        created_at: env.now,
        updated_at: env.now,
    };
    tx.insert_redirect_url(&record)?;
    Ok(record)
}

/// Removes an allowlist entry (`DELETE /v1/redirect_urls/{id}`).
pub fn delete(tx: &Tx<'_>, id: &str) -> Result<(), DomainError> {
    if tx.delete_redirect_url(id)? {
        Ok(())
    } else {
        Err(DomainError::NotFound("redirect_url"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn dev(raw: &str, list: &[&str]) -> Result<Url, Refusal> {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        evaluate(raw, &list, Policy::Development)
    }

    #[test]
    fn development_accepts_any_web_origin_and_loopback_on_any_port() {
        for ok in [
            "https://app.example.com/sign-in#/verify",
            "http://localhost:3000/callback?x=1",
            "http://127.0.0.1:49152/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:8080/cb",
            "HTTPS://Example.COM/",
        ] {
            assert!(dev(ok, &[]).is_ok(), "{ok}");
        }
    }

    #[test]
    fn custom_schemes_need_the_allowlist() {
        assert_eq!(dev("myapp://callback", &[]), Err(Refusal::NotAllowed));
        assert!(dev("myapp://callback", &["myapp://callback"]).is_ok());
        // The query is the app's own; the path must match, trailing slash and all.
        assert!(dev("myapp://callback?state=1", &["myapp://callback"]).is_ok());
        assert_eq!(
            dev("myapp://callback/", &["myapp://callback"]),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            dev("myapp://other", &["myapp://callback"]),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            dev("otherapp://callback", &["myapp://callback"]),
            Err(Refusal::NotAllowed)
        );
        assert!(dev(
            "com.example.app:/oauth2redirect",
            &["com.example.app:/oauth2redirect"]
        )
        .is_ok());
    }

    #[test]
    fn forbidden_schemes_are_refused_even_when_listed() {
        for (bad, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("JavaScript:alert(1)", "javascript"),
            ("data:text/html,<script>alert(1)</script>", "data"),
            ("vbscript:msgbox", "vbscript"),
            ("file:///etc/passwd", "file"),
            ("blob:https://a.example/1", "blob"),
        ] {
            assert_eq!(
                dev(bad, &[bad]),
                Err(Refusal::Scheme(scheme.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_path_is_resolved_against_the_pages_origin_only() {
        let page = Some("http://localhost:5173");
        assert_eq!(
            relative_to_origin("/done?x=1", page).as_deref(),
            Some("http://localhost:5173/done?x=1")
        );
        assert_eq!(relative_to_origin("/done", None), None);
        assert_eq!(relative_to_origin("//evil.example/x", page), None);
        assert_eq!(relative_to_origin("/\\evil.example/x", page), None);
        assert_eq!(relative_to_origin("done", page), None);
        assert_eq!(relative_to_origin("/x", Some("null")), None);
        assert_eq!(relative_to_origin("/x", Some("file:///etc")), None);
    }

    #[test]
    fn malformed_relative_and_tricky_urls_are_refused() {
        for bad in [
            "",
            "/callback",
            "callback",
            "//evil.example/x",
            "https://good.example@evil.example/",
            "https://user:pw@good.example/",
            "https://good.example\\@evil.example/",
            " https://good.example/",
            "https://good.example/\n",
            "https://good.example/a b",
            "https://",
            "https://[::1",
        ] {
            assert!(
                matches!(dev(bad, &[]), Err(Refusal::Malformed(_))),
                "{bad:?}: {:?}",
                dev(bad, &[])
            );
        }
        assert!(matches!(
            dev(&format!("https://a.example/{}", "x".repeat(MAX_LEN)), &[]),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn production_restricts_web_redirects_to_the_apps_domains_and_the_allowlist() {
        let domains = vec!["example.com".to_owned()];
        let prod = |raw: &str, list: &[&str]| {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            evaluate(
                raw,
                &list,
                Policy::Production {
                    app_domains: &domains,
                },
            )
        };
        assert!(prod("https://example.com/cb", &[]).is_ok());
        assert!(prod("https://app.example.com/cb", &[]).is_ok());
        assert_eq!(
            prod("https://example.com.evil.net/", &[]),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            prod("https://evilexample.com/", &[]),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            prod("http://127.0.0.1:5000/cb", &[]),
            Err(Refusal::NotAllowed)
        );
        // A listed loopback callback matches on any port.
        assert!(prod("http://127.0.0.1:5000/cb", &["http://127.0.0.1/cb"]).is_ok());
        assert!(prod("https://partner.net/cb", &["https://partner.net/cb"]).is_ok());
        assert_eq!(prod("myapp://callback", &[]), Err(Refusal::NotAllowed));
        assert!(prod("myapp://callback", &["myapp://callback"]).is_ok());
    }
}
