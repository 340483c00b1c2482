//! Token-signing public keys: parsed from a JWK or a PEM, and fetched from a JWKS endpoint.

mod der;
mod remote;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use latchkey_protocol::Jwk;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RsaParameters, RsaPublicKeyComponents,
};

use crate::jwt::Algorithm;
use crate::verifier::VerifyError;

pub use remote::{HttpKeySource, JwksSource, KeyFetchError, KeyFuture, KeySource};
pub(crate) use remote::{RemoteKeys, Timing};

/// Why a public key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) block; the message says what
    /// is wrong.
    #[error("not a PEM public key: {0}")]
    Pem(&'static str),
    /// A public key, but not an RSA one.
    #[error("not an RSA public key")]
    NotRsa,
    /// An RSA key too small to trust or too large to be a signing key.
    #[error("the RSA modulus has {bits} bits; 2048 to 8192 are accepted")]
    UnsupportedSize {
        /// The modulus' size.
        bits: usize,
    },
    /// A JWK that is not an RSA signing key (`kty`, `use`, `alg`, `n`, `e`).
    #[error("the JWK cannot be used: {0}")]
    Jwk(&'static str),
}

/// An RSA public key, optionally bound to one algorithm (a JWK's `alg`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
    alg: Option<Algorithm>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &bit_len(&self.n))
            .field("alg", &self.alg)
            .finish()
    }
}

impl RsaPublicKey {
    fn new(n: &[u8], e: &[u8], alg: Option<Algorithm>) -> Result<Self, KeyError> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = bit_len(n);
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::UnsupportedSize { bits });
        }
        if e.is_empty() {
            return Err(KeyError::NotRsa);
        }
        Ok(Self {
            n: n.to_vec(),
            e: e.to_vec(),
            alg,
        })
    }

    /// A `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo) or `-----BEGIN RSA PUBLIC KEY-----`
    /// (PKCS#1) PEM. Line breaks written as a literal `\n` (common in environment variables) are
    /// accepted. The key verifies any of RS256/384/512.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = der::pem_decode(pem)?;
        let (n, e) = match label {
            "PUBLIC KEY" => der::spki_rsa(&der)?,
            "RSA PUBLIC KEY" => der::rsa_public_key(&der)?,
            _ => return Err(KeyError::Pem("expected PUBLIC KEY or RSA PUBLIC KEY")),
        };
        Self::new(n, e, None)
    }

    /// An RSA JWK. `use`, when set, must be `sig`; `alg`, when set, binds the key to it.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        if jwk.kty != "RSA" {
            return Err(KeyError::NotRsa);
        }
        if !jwk.use_.is_empty() && jwk.use_ != "sig" {
            return Err(KeyError::Jwk("use is not sig"));
        }
        let alg = match jwk.alg.as_str() {
            "" => None,
            a => Some(Algorithm::parse(a).ok_or(KeyError::Jwk("alg is not RS256/384/512"))?),
        };
        let n = b64url(&jwk.n).ok_or(KeyError::Jwk("n is not base64url"))?;
        let e = b64url(&jwk.e).ok_or(KeyError::Jwk("e is not base64url"))?;
        Self::new(&n, &e, alg)
    }

    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        if self.alg.is_some_and(|bound| bound != alg) {
            // A JWK that names RS256 is not used for RS512, and the other way round.
            return Err(VerifyError::UnsupportedAlgorithm(alg.as_str().to_owned()));
        }
        let params: &'static RsaParameters = match alg {
            Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &RSA_PKCS1_2048_8192_SHA512,
        };
        RsaPublicKeyComponents {
            n: &self.n[..],
            e: &self.e[..],
        }
        .verify(params, message, signature)
        .map_err(|_| VerifyError::BadSignature)
    }
}

/// JWK members are unpadded base64url; tolerate padding and (from hand-written sets) standard
/// base64.
fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| STANDARD.decode(s))
        .ok()
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[first..]
}

fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use latchkey_emulator::testing::SigningKey;

    #[test]
    fn pem_and_jwk_of_one_key_agree() {
        let key = SigningKey::generate("ins_k".into()).unwrap();
        let from_pem = RsaPublicKey::from_pem(key.public_key_pem()).unwrap();
        let from_jwk = RsaPublicKey::from_jwk(&key.jwk()).unwrap();
        assert_eq!(from_pem.n, from_jwk.n);
        assert_eq!(from_pem.e, vec![1, 0, 1]);
        assert_eq!(from_jwk.alg, Some(Algorithm::RS256));
        assert_eq!(from_pem.alg, None);
        assert_eq!(bit_len(&from_pem.n), 2048);

        // Environment-variable style: literal "\n" instead of line breaks.
        let escaped = key.public_key_pem().replace('\n', "\\n");
        assert_eq!(RsaPublicKey::from_pem(&escaped).unwrap(), from_pem);

        let jwt = key.sign_jwt(&serde_json::json!({"sub": "u"})).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(
            from_pem
                .verify(Algorithm::RS256, input.as_bytes(), &sig)
                .is_ok()
        );
        assert!(matches!(
            from_pem.verify(Algorithm::RS256, b"other", &sig),
            Err(VerifyError::BadSignature)
        ));
        assert!(matches!(
            from_jwk.verify(Algorithm::RS512, input.as_bytes(), &sig),
            Err(VerifyError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn refuses_keys_that_are_not_rsa_signing_keys() {
        let key = SigningKey::generate("ins_k".into()).unwrap();
        let mut jwk = key.jwk();
        jwk.kty = "EC".into();
        assert_eq!(RsaPublicKey::from_jwk(&jwk), Err(KeyError::NotRsa));
        let mut jwk = key.jwk();
        jwk.use_ = "enc".into();
        assert!(matches!(
            RsaPublicKey::from_jwk(&jwk),
            Err(KeyError::Jwk(_))
        ));
        let mut jwk = key.jwk();
        jwk.alg = "HS256".into();
        assert!(matches!(
            RsaPublicKey::from_jwk(&jwk),
            Err(KeyError::Jwk(_))
        ));
        let mut jwk = key.jwk();
        jwk.n = URL_SAFE_NO_PAD.encode([0xffu8; 128]);
        assert_eq!(
            RsaPublicKey::from_jwk(&jwk),
            Err(KeyError::UnsupportedSize { bits: 1024 })
        );
        assert!(matches!(
            RsaPublicKey::from_pem(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            Err(KeyError::Pem(_))
        ));
        assert!(matches!(
            RsaPublicKey::from_pem("hello"),
            Err(KeyError::Pem(_))
        ));
    }
}
