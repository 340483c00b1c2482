//! The instance's keys: publishable and secret API keys, the RSA signing key for session tokens,
//! and the webhook signing secret.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use latchkey_protocol::{Jwk, Jwks};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs8::EncodePrivateKey;
use std::sync::{Arc, OnceLock};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate an RSA key: {0}")]
    Generate(String),
    #[error("the stored signing key is not a valid RSA PKCS#8 key: {0}")]
    Invalid(String),
    #[error("signing failed")]
    Sign,
}

/// RS256 signing key with its `kid`. `Debug` shows only the `kid`.
pub struct SigningKey {
    kid: String,
    pkcs8_der: Vec<u8>,
    pair: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key.
    pub fn generate(kid: String) -> Result<Self, KeyError> {
        let mut rng = rand::thread_rng();
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8(kid, der.as_bytes().to_vec())
    }

    pub fn from_pkcs8(kid: String, pkcs8_der: Vec<u8>) -> Result<Self, KeyError> {
        let pair =
            RsaKeyPair::from_pkcs8(&pkcs8_der).map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(Self {
            kid,
            pkcs8_der,
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// Base64 of the PKCS#8 DER, as stored in the database.
    pub fn to_stored(&self) -> Secret {
        Secret::new(STANDARD.encode(&self.pkcs8_der))
    }

    pub fn from_stored(kid: String, stored: &str) -> Result<Self, KeyError> {
        let der = STANDARD
            .decode(stored)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Self::from_pkcs8(kid, der)
    }

    /// The PEM of the public key (SubjectPublicKeyInfo), for networkless verification.
    pub fn public_key_pem(&self) -> String {
        let spki = spki_der(self.pair.public().as_ref());
        let b64 = STANDARD.encode(spki);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwk(&self) -> Jwk {
        let parts: ring::rsa::PublicKeyComponents<Vec<u8>> = self.pair.public().into();
        let strip = |b: &[u8]| {
            b.iter()
                .skip_while(|x| **x == 0)
                .copied()
                .collect::<Vec<u8>>()
        };
        let (n, e) = (strip(&parts.n), strip(&parts.e));
        Jwk {
            use_: "sig".into(),
            kty: "RSA".into(),
            kid: self.kid.clone(),
            alg: "RS256".into(),
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
        }
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk()],
        }
    }

    /// Signs `claims` as a compact RS256 JWT with this key's `kid`.
    pub fn sign_jwt(&self, claims: &impl serde::Serialize) -> Result<String, KeyError> {
        let header = serde_json::json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let header = serde_json::to_vec(&header).map_err(|_| KeyError::Sign)?;
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        let mut out = URL_SAFE_NO_PAD.encode(header);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
            .map_err(|_| KeyError::Sign)?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(out)
    }
}

/// Wraps ring's PKCS#1 `RSAPublicKey` DER in a SubjectPublicKeyInfo.
fn spki_der(pkcs1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption, NULL }
    const ALG: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0u8];
    bit_string.extend_from_slice(pkcs1);
    let mut body = ALG.to_vec();
    body.extend(der_tlv(0x03, &bit_string));
    der_tlv(0x30, &body)
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The signing key, or the promise of one: on a first start the RSA key (100–300 ms of work) is
/// generated on a background thread so the server answers at once; the first token mint or
/// JWKS request waits for it.
#[derive(Debug, Clone)]
pub struct KeySlot {
    cell: Arc<OnceLock<Result<SigningKey, String>>>,
}

impl KeySlot {
    pub fn ready(key: SigningKey) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Ok(key));
        Self {
            cell: Arc::new(cell),
        }
    }

    pub fn pending() -> Self {
        Self {
            cell: Arc::new(OnceLock::new()),
        }
    }

    /// Fulfils a pending slot (first value wins).
    pub fn fulfil(&self, key: Result<SigningKey, KeyError>) {
        let _ = self.cell.set(key.map_err(|e| e.to_string()));
    }

    /// The key if it is ready (never waits).
    pub fn try_get(&self) -> Option<&SigningKey> {
        self.cell.get().and_then(|k| k.as_ref().ok())
    }

    /// Waits, off the async workers, until the key is ready (or failed).
    pub async fn wait(&self) -> Result<&SigningKey, KeyError> {
        if self.cell.get().is_none() {
            let slot = self.clone();
            tokio::task::spawn_blocking(move || {
                let _ = slot.cell.wait();
            })
            .await
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        }
        self.get()
    }

    /// The key, waiting for its generation if need be (blocks the calling thread).
    pub fn get(&self) -> Result<&SigningKey, KeyError> {
        self.cell
            .wait()
            .as_ref()
            .map_err(|e| KeyError::Generate(e.clone()))
    }
}

/// `sk_test_` + 40 random characters.
pub fn new_secret_key() -> Secret {
    Secret::new(format!("sk_test_{}", crate::domain::ids::random_base62(40)))
}

/// `whsec_` + base64 of 24 random bytes (the Svix format).
pub fn new_webhook_secret() -> Secret {
    let bytes: [u8; 24] = rand::random();
    Secret::new(format!("whsec_{}", STANDARD.encode(bytes)))
}
