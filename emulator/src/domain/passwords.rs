//! Password hashing (argon2id) and verification, including imported bcrypt digests.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::DomainError;
use crate::secret::Secret;

/// The argon2id parameters new hashes use. Verification reads the parameters from each hash.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
}

impl PasswordHasher {
    /// Emulator cost: 64 KiB, one pass. Keeps sign-in far under a millisecond; not for
    /// production use.
    pub fn fast() -> Self {
        Self::with(64, 1)
    }

    /// OWASP's recommended argon2id parameters (19 MiB, two passes).
    pub fn production() -> Self {
        Self::with(19 * 1024, 2)
    }

    fn with(m_kib: u32, t: u32) -> Self {
        let params = Params::new(m_kib, t, 1, None).unwrap_or_default();
        Self { params }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> Result<Secret, DomainError> {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| Secret::new(h.to_string()))
            .map_err(|e| DomainError::Internal(format!("hashing failed: {e}")))
    }

    /// Checks `password` against a stored digest (argon2id/argon2i PHC string or bcrypt).
    pub fn verify(&self, password: &str, digest: &Secret) -> bool {
        let d = digest.expose();
        if d.starts_with("$2") {
            return bcrypt::verify(password, d).unwrap_or(false);
        }
        match PasswordHash::new(d) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// Validates an imported digest for `password_hasher`, returning what to store.
pub fn import_digest(hasher: &str, digest: &str) -> Result<Secret, DomainError> {
    let bad = |reason: &str| DomainError::ParamFormat {
        param: "password_digest",
        reason: reason.to_owned(),
    };
    match hasher {
        "bcrypt" => {
            if digest.parse::<bcrypt::HashParts>().is_ok() {
                Ok(Secret::new(digest))
            } else {
                Err(bad("is not a bcrypt digest"))
            }
        }
        "argon2id" | "argon2i" => {
            let parsed = PasswordHash::new(digest).map_err(|_| bad("is not a PHC string"))?;
            if parsed.algorithm.as_str() == hasher {
                Ok(Secret::new(digest))
            } else {
                Err(bad("does not match password_hasher"))
            }
        }
        _ => Err(DomainError::ParamValue {
            param: "password_hasher",
            reason: format!("{hasher:?} is not supported (bcrypt, argon2id, argon2i)"),
        }),
    }
}

/// Checks a new password against the instance's rules.
pub fn check_strength(password: &str, min: usize) -> Result<(), DomainError> {
    if password.chars().count() < min {
        return Err(DomainError::PasswordTooShort { min });
    }
    if password.len() > 72 * 4 {
        return Err(DomainError::ParamFormat {
            param: "password",
            reason: "is too long".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = PasswordHasher::fast();
        let d = h.hash("correct horse").unwrap();
        assert!(d.expose().starts_with("$argon2id$"));
        assert!(h.verify("correct horse", &d));
        assert!(!h.verify("wrong horse", &d));
    }

    #[test]
    fn bcrypt_imports_verify() {
        let digest = bcrypt::hash("hunter2hunter2", 4).unwrap();
        let stored = import_digest("bcrypt", &digest).unwrap();
        let h = PasswordHasher::fast();
        assert!(h.verify("hunter2hunter2", &stored));
        assert!(!h.verify("hunter3hunter3", &stored));
        assert!(import_digest("bcrypt", "nope").is_err());
        assert!(import_digest("md5", "x").is_err());
    }

    #[test]
    fn argon2_imports_verify() {
        let digest = PasswordHasher::production().hash("longpassword").unwrap();
        let stored = import_digest("argon2id", digest.expose()).unwrap();
        assert!(PasswordHasher::fast().verify("longpassword", &stored));
        assert!(import_digest("argon2i", digest.expose()).is_err());
    }

    #[test]
    fn minimum_length() {
        assert!(matches!(
            check_strength("short", 8),
            Err(DomainError::PasswordTooShort { min: 8 })
        ));
        assert!(check_strength("long enough", 8).is_ok());
    }
}
