//! The emulator as an OpenID Connect relying party of a real upstream provider (a provider
//! configured with `oidc` in the instance settings): discovery, the authorization-code exchange
//! with PKCE, and the ID token checked against the issuer's JWKS (RS256), its issuer, audience,
//! expiry and nonce. The HTTP calls happen outside any store transaction; the domain only sees
//! the identity that comes out (`domain/oauth.rs`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::settings::OidcUpstream;
use crate::store::records::OAuthIdentity;

/// Why the upstream could not vouch for anyone.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the OIDC provider could not be reached or answered badly: {0}")]
    Upstream(String),
    #[error("the ID token was refused: {0}")]
    IdToken(String),
}

/// What discovery says of the provider (`/.well-known/openid-configuration`).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

fn upstream(e: impl std::fmt::Display) -> OidcError {
    OidcError::Upstream(e.to_string())
}

/// The largest answer read from an upstream (discovery, token, JWKS): far above any real one.
const MAX_ANSWER: usize = 256 * 1024;

/// Sends `req` and reads a 2xx answer's JSON, at most [`MAX_ANSWER`] bytes of it.
async fn json<T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
) -> Result<T, OidcError> {
    let mut resp = req
        .send()
        .await
        .map_err(upstream)?
        .error_for_status()
        .map_err(upstream)?;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(upstream)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(OidcError::Upstream(format!(
                "the answer is larger than {MAX_ANSWER} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(upstream)
}

/// A number, or a number in a string (some providers send `expires_in` so).
fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Reads the provider's discovery document; its `issuer` must be the configured one.
pub async fn discover(http: &reqwest::Client, cfg: &OidcUpstream) -> Result<Discovery, OidcError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        cfg.issuer.trim_end_matches('/')
    );
    let d: Discovery = json(http.get(&url)).await?;
    if d.issuer.trim_end_matches('/') != cfg.issuer.trim_end_matches('/') {
        return Err(OidcError::Upstream(format!(
            "discovery names the issuer {:?}, not {:?}",
            d.issuer, cfg.issuer
        )));
    }
    // The browser is sent to the authorize endpoint, the secret to the token endpoint: https
    // (or http on this machine), never another scheme.
    for (name, u) in [
        ("authorization_endpoint", &d.authorization_endpoint),
        ("token_endpoint", &d.token_endpoint),
        ("jwks_uri", &d.jwks_uri),
    ] {
        if !https_or_loopback(u) {
            return Err(OidcError::Upstream(format!(
                "discovery's {name} {u:?} is not https (or http on a loopback address)"
            )));
        }
    }
    Ok(d)
}

/// `https`, or `http` to a loopback address.
fn https_or_loopback(u: &str) -> bool {
    match url::Url::parse(u) {
        Ok(u) if u.scheme() == "https" => u.host().is_some(),
        Ok(u) if u.scheme() == "http" => match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    expires_in: Option<i64>,
}

/// What the exchange gave: who, and the provider's access token.
pub struct Exchanged {
    pub identity: OAuthIdentity,
    pub access_token: Option<String>,
    pub expires_in: Option<i64>,
}

/// What the callback brings to redeem at the token endpoint.
pub struct Redemption<'a> {
    pub code: &'a str,
    /// The `redirect_uri` the authorization was asked with.
    pub redirect_uri: &'a str,
    /// The PKCE verifier of the verification.
    pub verifier: &'a str,
    /// The nonce its ID token must carry.
    pub nonce: &'a str,
    /// Real time (the upstream's tokens are not judged by the emulator clock).
    pub now_secs: i64,
}

/// Redeems the code at the token endpoint (client_secret_basic, PKCE) and checks the ID token:
/// signed by a key of the issuer's JWKS (RS256), for this client, unexpired, carrying the nonce.
pub async fn exchange(
    http: &reqwest::Client,
    cfg: &OidcUpstream,
    d: &Discovery,
    r: &Redemption<'_>,
) -> Result<Exchanged, OidcError> {
    let Redemption {
        code,
        redirect_uri,
        verifier,
        nonce,
        now_secs,
    } = *r;
    let answer: TokenAnswer = json(
        http.post(&d.token_endpoint)
            .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ]),
    )
    .await?;
    let id_token = answer
        .id_token
        .ok_or_else(|| OidcError::Upstream("the token answer has no id_token".into()))?;
    let jwks: Value = json(http.get(&d.jwks_uri)).await?;
    let claims = verify(&id_token, &jwks, &d.issuer, &cfg.client_id, nonce, now_secs)?;
    let identity = identity_of(&claims)?;
    Ok(Exchanged {
        identity,
        access_token: answer.access_token,
        expires_in: answer.expires_in,
    })
}

/// Who a verified ID token's claims say the person is.
fn identity_of(claims: &Value) -> Result<OAuthIdentity, OidcError> {
    let text = |k: &str| claims[k].as_str().map(str::to_owned);
    Ok(OAuthIdentity {
        provider_user_id: text("sub").ok_or_else(|| OidcError::IdToken("no sub".into()))?,
        email: text("email")
            .ok_or_else(|| OidcError::IdToken("no email (ask for the email scope)".into()))?,
        // A boolean, or (as some providers send it) the string "true".
        email_verified: match &claims["email_verified"] {
            Value::Bool(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        },
        first_name: text("given_name"),
        last_name: text("family_name"),
        image_url: text("picture"),
        username: text("preferred_username"),
        access_token: None,
        access_token_expire_at: None,
    })
}

/// The claims of an RS256 ID token once every check passes.
fn verify(
    token: &str,
    jwks: &Value,
    issuer: &str,
    audience: &str,
    nonce: &str,
    now_secs: i64,
) -> Result<Value, OidcError> {
    let bad = |why: &str| OidcError::IdToken(why.to_owned());
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a JWT"));
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| bad("not base64url"));
    let header: Value =
        serde_json::from_slice(&decode(h)?).map_err(|_| bad("unreadable header"))?;
    if header["alg"] != "RS256" {
        return Err(bad("not RS256"));
    }
    let kid = header["kid"].as_str();
    let keys = jwks["keys"]
        .as_array()
        .ok_or_else(|| bad("the JWKS has no keys"))?;
    let key = keys
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .find(|k| kid.is_none() || k["kid"].as_str() == kid)
        .ok_or_else(|| bad("no key of the JWKS signed it"))?;
    let n = decode(key["n"].as_str().unwrap_or_default())?;
    let e = decode(key["e"].as_str().unwrap_or_default())?;
    let public = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e };
    public
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{c}").as_bytes(),
            &decode(s)?,
        )
        .map_err(|_| bad("the signature does not verify"))?;
    let claims: Value =
        serde_json::from_slice(&decode(c)?).map_err(|_| bad("unreadable claims"))?;
    if claims["iss"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer.trim_end_matches('/'))
    {
        return Err(bad("another issuer"));
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == audience,
        Value::Array(a) => a.iter().any(|x| x == audience),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("for another client"));
    }
    // An authorized party, where named, must be this client (OIDC Core 3.1.3.7).
    if claims.get("azp").is_some_and(|azp| azp != audience) {
        return Err(bad("authorized for another party"));
    }
    // A minute of skew either way, as verifiers allow.
    if claims["exp"]
        .as_i64()
        .is_none_or(|exp| now_secs > exp.saturating_add(60))
    {
        return Err(bad("expired"));
    }
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(bad("another nonce"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const ISS: &str = "http://127.0.0.1:9999";

    fn signed(key: &crate::keys::SigningKey, overrides: Value) -> String {
        let mut claims = json!({"iss": ISS, "aud": "rp", "sub": "u1", "exp": 2_000, "nonce": "n1",
                                "email": "u1@example.org"});
        for (k, v) in overrides.as_object().unwrap() {
            claims[k] = v.clone();
        }
        key.sign_jwt(&claims).unwrap()
    }

    #[test]
    fn an_id_token_is_accepted_only_with_every_check_passing() {
        let key = crate::keys::SigningKey::generate("k1".into()).unwrap();
        let other = crate::keys::SigningKey::generate("k1".into()).unwrap();
        let jwks = serde_json::to_value(key.jwks()).unwrap();
        let ok = signed(&key, json!({}));
        let claims = verify(&ok, &jwks, ISS, "rp", "n1", 1_000).unwrap();
        assert_eq!(claims["sub"], "u1");
        // An `aud` list naming the client is fine too; a trailing slash on the issuer is one URL.
        assert!(verify(
            &signed(&key, json!({"aud": ["x", "rp"]})),
            &jwks,
            &format!("{ISS}/"),
            "rp",
            "n1",
            1_000
        )
        .is_ok());
        for (why, token, now) in [
            ("another key", signed(&other, json!({})), 1_000),
            (
                "another issuer",
                signed(&key, json!({"iss": "http://evil.example"})),
                1_000,
            ),
            (
                "another client",
                signed(&key, json!({"aud": "someone-else"})),
                1_000,
            ),
            (
                "another nonce",
                signed(&key, json!({"nonce": "replayed"})),
                1_000,
            ),
            ("expired past the skew", ok.clone(), 2_061),
            ("no nonce", signed(&key, json!({"nonce": null})), 1_000),
            (
                "authorized for another party",
                signed(&key, json!({"aud": ["x", "rp"], "azp": "x"})),
                1_000,
            ),
        ] {
            assert!(
                verify(&token, &jwks, ISS, "rp", "n1", now).is_err(),
                "{why}"
            );
        }
        // Tampered claims, and not a JWT at all.
        let mut parts: Vec<&str> = ok.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            br#"{"iss":"http://127.0.0.1:9999","aud":"rp","sub":"admin","exp":2000,"nonce":"n1"}"#,
        );
        parts[1] = &forged;
        assert!(verify(&parts.join("."), &jwks, ISS, "rp", "n1", 1_000).is_err());
        assert!(verify("a.b", &jwks, ISS, "rp", "n1", 1_000).is_err());
        assert!(verify(&ok, &json!({"keys": []}), ISS, "rp", "n1", 1_000).is_err());
    }

    #[test]
    fn the_client_secret_never_shows_in_debug() {
        let cfg = OidcUpstream {
            issuer: ISS.into(),
            client_id: "rp".into(),
            client_secret: "s3cr3t-value".into(),
            scopes: None,
        };
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("s3cr3t-value") && shown.contains("rp"),
            "{shown}"
        );
        assert_eq!(cfg.scopes(), "openid email profile");
    }

    #[test]
    fn email_verified_is_read_as_a_boolean_or_the_string_true() {
        for (v, want) in [
            (json!(true), true),
            (json!("true"), true),
            (json!(false), false),
            (json!("false"), false),
            (Value::Null, false),
        ] {
            let claims = json!({"sub": "s", "email": "a@b.example", "email_verified": v});
            assert_eq!(identity_of(&claims).unwrap().email_verified, want, "{v}");
        }
        assert!(identity_of(&json!({"sub": "s"})).is_err(), "no email");
    }

    #[test]
    fn token_answers_with_a_string_lifetime_are_read() {
        for (body, want) in [
            (json!({"id_token": "t", "expires_in": 3600}), Some(3600)),
            (json!({"id_token": "t", "expires_in": "3599"}), Some(3599)),
            (json!({"id_token": "t"}), None),
        ] {
            let a: TokenAnswer = serde_json::from_value(body).unwrap();
            assert_eq!(a.expires_in, want);
        }
    }

    #[test]
    fn only_https_or_loopback_endpoints_are_used() {
        assert!(https_or_loopback("https://idp.example/auth"));
        assert!(https_or_loopback("http://127.0.0.1:3000/token"));
        assert!(https_or_loopback("http://[::1]:3000/jwks"));
        assert!(!https_or_loopback("http://idp.example/token"));
        assert!(!https_or_loopback("file:///etc/passwd"));
        assert!(!https_or_loopback("javascript:alert(1)"));
    }
}
