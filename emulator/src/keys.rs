//! The instance's keys: publishable and secret API keys, the RSA signing key for session tokens,
//! and the webhook signing secret.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use latchkey_protocol::{Jwk, Jwks};
use std::sync::{Arc, OnceLock};

use crate::secret::Secret;

/// The instance's signing key failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A new RSA key could not be generated.
    #[error("could not generate an RSA key: {0}")]
    Generate(String),
    /// The stored or given key is not an RSA PKCS#8 key.
    #[error("the stored signing key is not a valid RSA PKCS#8 key: {0}")]
    Invalid(String),
    /// Signing a token failed.
    #[error("signing failed")]
    Sign,
}

/// RS256 signing key with its `kid`. `Debug` shows only the `kid`.
///
/// Signatures go through aws-lc-rs: on CPUs with AVX-512 IFMA its RSA code is about 1.8× as
/// fast as ring's on the same key (`cargo bench -p latchkey-emulator --bench sign`).
pub struct SigningKey {
    kid: String,
    pkcs8_der: Vec<u8>,
    pair: RsaKeyPair,
    rng: SystemRandom,
    /// `base64url({"alg":"RS256","kid":…,"typ":"JWT"}) + "."`: the same for every token.
    header_b64: String,
    public_pem: String,
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
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let der = pair
            .as_der()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8(kid, der.as_ref().to_vec())
    }

    /// The key in this PKCS#8 DER, published under `kid`.
    pub fn from_pkcs8(kid: String, pkcs8_der: Vec<u8>) -> Result<Self, KeyError> {
        let pair =
            RsaKeyPair::from_pkcs8(&pkcs8_der).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let header = serde_json::json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
        let mut header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        header_b64.push('.');
        let spki: PublicKeyX509Der<'static> = pair
            .public_key()
            .as_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let b64 = STANDARD.encode(spki.as_ref());
        let mut public_pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            public_pem.push_str(&String::from_utf8_lossy(chunk));
            public_pem.push('\n');
        }
        public_pem.push_str("-----END PUBLIC KEY-----\n");
        Ok(Self {
            kid,
            pkcs8_der,
            pair,
            rng: SystemRandom::new(),
            header_b64,
            public_pem,
        })
    }

    /// Base64 of the PKCS#8 DER, as stored in the database.
    pub fn to_stored(&self) -> Secret {
        Secret::new(STANDARD.encode(&self.pkcs8_der))
    }

    /// The key as [`to_stored`](Self::to_stored) wrote it.
    pub fn from_stored(kid: String, stored: &str) -> Result<Self, KeyError> {
        let der = STANDARD
            .decode(stored)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Self::from_pkcs8(kid, der)
    }

    /// The PEM of the public key (SubjectPublicKeyInfo), for networkless verification.
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    /// The key's id, as tokens name it in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        let public = self.pair.public_key();
        Jwk {
            use_: "sig".into(),
            kty: "RSA".into(),
            kid: self.kid.clone(),
            alg: "RS256".into(),
            n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }
    }

    /// The JWKS the instance serves: this one key.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk()],
        }
    }

    /// Signs `claims` as a compact RS256 JWT with this key's `kid`.
    pub fn sign_jwt(&self, claims: &impl serde::Serialize) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        // header.payload.signature, each part base64url: 4/3 of the bytes, plus the dots.
        let modulus = self.pair.public_modulus_len();
        let mut out =
            String::with_capacity(self.header_b64.len() + (payload.len() + modulus) * 4 / 3 + 8);
        out.push_str(&self.header_b64);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let mut sig = [0u8; 512];
        let sig = sig.get_mut(..modulus).ok_or(KeyError::Sign)?;
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), sig)
            .map_err(|_| KeyError::Sign)?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut out);
        Ok(out)
    }
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
