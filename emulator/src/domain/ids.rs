//! Prefixed random ids (`user_…`, `sess_…`) and other random strings.

use rand::Rng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(BASE62[rng.gen_range(0..BASE62.len())]))
        .collect()
}

/// `prefix_` + 27 base62 characters, the length of Clerk's ids.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(27))
}

/// The SHA-256 of a bearer secret (testing token, sign-in ticket, email-link token), as lower-case
/// hex: what the store keeps and looks the secret up by.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A six-digit one-time code.
pub fn six_digit_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_sha256_in_lower_case_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("user");
        assert!(id.starts_with("user_"));
        assert_eq!(id.len(), 5 + 27);
        assert_ne!(new_id("user"), new_id("user"));
        let code = six_digit_code();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
    }
}
