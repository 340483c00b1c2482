//! Secrets that never show themselves in `Debug` output, logs or error messages. The raw value is
//! reached only through `.expose()`, so every place a secret leaves its box is easy to find.

/// The Backend API secret key, the webhook signing secret and a user's password (or a digest to
/// import): the protocol's secret types, which the request bodies of [`crate::api`]
/// (`latchkey_protocol::bapi`) hold and write out only through
/// `latchkey_protocol::secret::expose`.
pub use latchkey_protocol::secret::{Password, SecretKey, WebhookSecret};

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::secret::expose;

    #[test]
    fn debug_never_shows_the_value() {
        let k = SecretKey::from("sk_test_abcdef");
        assert_eq!(format!("{k:?}"), "SecretKey([redacted])");
        assert_eq!(k.expose(), "sk_test_abcdef");
        let w = WebhookSecret::new("whsec_xyz");
        assert!(!format!("{w:?}").contains("xyz"));
        let p = Password::from("lk-Hidden-pass-3318");
        assert!(!format!("{p:?}").contains("hunter"));
        let mut out = Vec::new();
        expose(&p, &mut serde_json::Serializer::new(&mut out)).ok();
        assert_eq!(out, b"\"lk-Hidden-pass-3318\"");
    }
}
