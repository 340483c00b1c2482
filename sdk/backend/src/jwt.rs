//! Compact JWS parsing. Only the header is read before the signature is checked; the payload is
//! decoded after it verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::verifier::VerifyError;

/// Tokens longer than this are refused before any decoding (Clerk's are about 1 KiB).
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The signature algorithms a session token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
}

impl Algorithm {
    /// `None` for anything but the three RSA PKCS#1 v1.5 algorithms: `none`, `HS*`, `ES*`,
    /// `PS*`, and spelling variants are all refused.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "RS384" => Some(Self::RS384),
            "RS512" => Some(Self::RS512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// RFC 7515 §4.1.11: extensions a verifier must understand. We understand none.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// A token whose header has been read and whose algorithm is acceptable; nothing else is trusted.
pub(crate) struct Jws<'a> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// `header.payload`, the signed bytes.
    pub signing_input: &'a str,
    pub payload_b64: &'a str,
    pub signature: Vec<u8>,
}

pub(crate) fn parse(token: &str) -> Result<Jws<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::Malformed("the token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(
            "a token has three dot-separated parts",
        ));
    };
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| VerifyError::Malformed("the header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|_| VerifyError::Malformed("the header is not a JOSE header"))?;
    // Decided before any key is looked at: a token cannot pick a weaker algorithm.
    let alg = Algorithm::parse(&header.alg)
        .ok_or_else(|| VerifyError::UnsupportedAlgorithm(header.alg.chars().take(32).collect()))?;
    if header.crit.is_some() {
        return Err(VerifyError::Malformed(
            "the header has critical extensions (crit)",
        ));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| VerifyError::Malformed("the signature is not base64url"))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Jws {
        alg,
        kid: header.kid,
        signing_input,
        payload_b64,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn reads_the_header_and_keeps_the_signed_bytes() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS384","kid":"ins_1","typ":"JWT"}"#),
            b64(r#"{"sub":"user_1"}"#),
            b64("sig")
        );
        let jws = parse(&token).map_err(|e| e.to_string());
        let jws = jws
            .as_ref()
            .map(|j| (j.alg, j.kid.clone(), j.signature.clone()));
        assert_eq!(
            jws,
            Ok((Algorithm::RS384, Some("ins_1".to_owned()), b"sig".to_vec()))
        );
        let signing_input = token.rsplit_once('.').map(|(a, _)| a.to_owned());
        assert_eq!(
            parse(&token).ok().map(|j| j.signing_input.to_owned()),
            signing_input
        );
    }

    #[test]
    fn refuses_other_algorithms_and_broken_shapes() {
        for alg in ["none", "HS256", "ES256", "PS256", "rs256", ""] {
            let token = format!("{}.{}.", b64(&format!(r#"{{"alg":"{alg}"}}"#)), b64("{}"));
            assert!(
                matches!(parse(&token), Err(VerifyError::UnsupportedAlgorithm(ref a)) if a == alg),
                "{alg}"
            );
        }
        let crit = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","crit":["exp"]}"#),
            b64("{}"),
            b64("s")
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.c2ln",
            &format!("{}.e30.c2ln", b64("not json")),
            &format!("{}.e30.c2ln=", b64(r#"{"alg":"RS256"}"#)),
            &crit,
        ] {
            assert!(
                matches!(parse(bad), Err(VerifyError::Malformed(_))),
                "{bad}"
            );
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(parse(&long), Err(VerifyError::Malformed(_))));
    }
}
