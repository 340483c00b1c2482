//! Instance settings: what sign-up requires, which strategies are on, lifetimes.
//! Stored as JSON; `PATCH /_emulator/v1/instance` deep-merges into it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attribute {
    /// Offered at all.
    pub enabled: bool,
    /// Needed to complete a sign-up.
    pub required: bool,
    /// Usable as a sign-in identifier.
    pub used_for_first_factor: bool,
    /// Must be verified (by code) at sign-up.
    pub verify_at_sign_up: bool,
    /// Email addresses only: an emailed code may stand in for the second factor of a user
    /// who has one (off by default, as on a new Clerk instance).
    pub used_for_second_factor: bool,
}

impl Default for Attribute {
    fn default() -> Self {
        Self::off()
    }
}

impl Attribute {
    pub fn off() -> Self {
        Self {
            enabled: false,
            required: false,
            used_for_first_factor: false,
            verify_at_sign_up: false,
            used_for_second_factor: false,
        }
    }

    fn identifier(required: bool, verify: bool) -> Self {
        Self {
            enabled: true,
            required,
            used_for_first_factor: true,
            verify_at_sign_up: verify,
            used_for_second_factor: false,
        }
    }
}

/// A named JWT template: extra claims and a lifetime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtTemplate {
    /// Claims added to the token. String values may be shortcodes: `{{user.id}}`,
    /// `{{user.primary_email_address}}`, `{{user.first_name}}`, `{{user.last_name}}`,
    /// `{{user.username}}`, `{{user.public_metadata}}`, `{{user.external_id}}`.
    #[serde(default)]
    pub claims: Map<String, Value>,
    #[serde(default = "default_token_lifetime")]
    pub lifetime_secs: i64,
}

fn default_token_lifetime() -> i64 {
    60
}

/// Claims the emulator sets on every session token; a template may not set them, or verifiers
/// would disagree about whom a token is for and until when.
/// Where the instance's settings are stored (an instance value, as JSON).
pub const STORE_KEY: &str = "settings";

pub const RESERVED_CLAIMS: &[&str] = &[
    "iss", "sub", "sid", "iat", "nbf", "exp", "azp", "v", "fva", "sts", "act", "o", "jti",
];

/// Longest template token lifetime: a day.
pub const MAX_TEMPLATE_LIFETIME_SECS: i64 = 24 * 3600;

impl JwtTemplate {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(k) = self
            .claims
            .keys()
            .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
        {
            return Err(format!(
                "claim {k:?} is reserved (the emulator sets {})",
                RESERVED_CLAIMS.join(", ")
            ));
        }
        if !(1..=MAX_TEMPLATE_LIFETIME_SECS).contains(&self.lifetime_secs) {
            return Err(format!(
                "lifetime_secs must be from 1 to {MAX_TEMPLATE_LIFETIME_SECS}"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub application_name: String,
    pub email_address: Attribute,
    pub phone_number: Attribute,
    pub username: Attribute,
    pub first_name: Attribute,
    pub last_name: Attribute,
    pub password_required: bool,
    pub password_min_length: usize,
    /// `public` or `restricted` (sign-up refused).
    pub sign_up_mode: String,
    /// One session per client: a second sign-in is refused with `session_exists`.
    pub single_session_mode: bool,
    pub session_lifetime_secs: i64,
    pub session_token_lifetime_secs: i64,
    pub code_lifetime_secs: i64,
    pub code_max_attempts: i64,
    pub delete_self_enabled: bool,
    /// False: messages are not delivered (only captured); the `email.created`/`sms.created`
    /// webhook carries them for the app to send ("bring your own infrastructure").
    pub delivered_by_clerk: bool,
    pub jwt_templates: std::collections::BTreeMap<String, JwtTemplate>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            application_name: "Latchkey".into(),
            email_address: Attribute::identifier(true, true),
            phone_number: Attribute::off(),
            username: Attribute::off(),
            first_name: Attribute {
                enabled: true,
                ..Attribute::off()
            },
            last_name: Attribute {
                enabled: true,
                ..Attribute::off()
            },
            password_required: true,
            password_min_length: 8,
            sign_up_mode: "public".into(),
            single_session_mode: false,
            session_lifetime_secs: 7 * 24 * 3600,
            session_token_lifetime_secs: 60,
            code_lifetime_secs: 600,
            code_max_attempts: 3,
            delete_self_enabled: true,
            delivered_by_clerk: true,
            jwt_templates: Default::default(),
        }
    }
}

impl Settings {
    /// Applies a JSON merge patch and validates the result.
    pub fn patched(&self, patch: &Value) -> Result<Self, String> {
        let mut current = serde_json::to_value(self).map_err(|e| e.to_string())?;
        merge(&mut current, patch);
        let next: Settings = serde_json::from_value(current).map_err(|e| e.to_string())?;
        next.validate()?;
        Ok(next)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.sign_up_mode.as_str(), "public" | "restricted") {
            return Err("sign_up_mode must be \"public\" or \"restricted\"".into());
        }
        if self.password_min_length < 1 || self.password_min_length > 72 {
            return Err("password_min_length must be between 1 and 72".into());
        }
        for (name, v) in [
            ("session_lifetime_secs", self.session_lifetime_secs),
            (
                "session_token_lifetime_secs",
                self.session_token_lifetime_secs,
            ),
            ("code_lifetime_secs", self.code_lifetime_secs),
            ("code_max_attempts", self.code_max_attempts),
        ] {
            if v < 1 {
                return Err(format!("{name} must be positive"));
            }
        }
        for (name, t) in &self.jwt_templates {
            t.validate()
                .map_err(|e| format!("jwt_templates.{name}: {e}"))?;
        }
        if !(self.email_address.used_for_first_factor
            || self.phone_number.used_for_first_factor
            || self.username.used_for_first_factor)
        {
            return Err("at least one identifier must be usable for sign-in".into());
        }
        Ok(())
    }

    /// Fields a sign-up must provide.
    pub fn required_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, a) in self.attributes() {
            if a.enabled && a.required {
                out.push(name);
            }
        }
        if self.password_required {
            out.push("password");
        }
        out
    }

    pub fn optional_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, a) in self.attributes() {
            if a.enabled && !a.required {
                out.push(name);
            }
        }
        if !self.password_required {
            out.push("password");
        }
        out
    }

    pub fn attributes(&self) -> [(&'static str, &Attribute); 5] {
        [
            ("email_address", &self.email_address),
            ("phone_number", &self.phone_number),
            ("username", &self.username),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
        ]
    }
}

/// RFC 7396 JSON merge patch: objects merge, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_require_email_and_password() {
        let s = Settings::default();
        assert_eq!(s.required_fields(), vec!["email_address", "password"]);
        assert_eq!(s.optional_fields(), vec!["first_name", "last_name"]);
    }

    #[test]
    fn patch_switches_phone_on_and_rejects_nonsense() {
        let s = Settings::default()
            .patched(&json!({"phone_number": {"enabled": true, "used_for_first_factor": true}}))
            .unwrap();
        assert!(s.phone_number.enabled);
        assert!(s.email_address.enabled, "untouched fields stay");
        assert!(Settings::default()
            .patched(&json!({"no_such_setting": 1}))
            .is_err());
        assert!(Settings::default()
            .patched(&json!({"sign_up_mode": "closed"}))
            .is_err());
    }

    #[test]
    fn templates_may_not_set_reserved_claims_or_odd_lifetimes() {
        for claim in ["sub", "sid", "iss", "iat", "nbf", "exp", "azp", "v"] {
            let err = Settings::default()
                .patched(&json!({"jwt_templates": {"t": {"claims": {claim: "x"}}}}))
                .unwrap_err();
            assert!(
                err.contains("reserved") && err.contains(claim),
                "{claim}: {err}"
            );
        }
        for lifetime in [0, -100, 86_401] {
            let err = Settings::default()
                .patched(&json!({"jwt_templates": {"t": {"lifetime_secs": lifetime}}}))
                .unwrap_err();
            assert!(err.contains("lifetime_secs"), "{lifetime}: {err}");
        }
        let ok = Settings::default()
            .patched(&json!({"jwt_templates": {"t": {"claims": {"role": "admin"}, "lifetime_secs": 86_400}}}))
            .unwrap();
        assert_eq!(ok.jwt_templates["t"].lifetime_secs, 86_400);
    }

    #[test]
    fn merge_deletes_nulls_and_merges_objects() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": 1});
        merge(&mut v, &json!({"a": {"b": null, "e": 3}, "d": [1]}));
        assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [1]}));
    }
}
