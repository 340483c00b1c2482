//! Instance settings: what sign-up requires, which strategies are on, lifetimes.
//! Stored as JSON; `PATCH /_emulator/v1/instance` deep-merges into it.

use latchkey_protocol::{AnyStrategy, CustomProvider};
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
    /// Email addresses only: email links (`strategy=email_link`) sign in and verify, beside
    /// codes (off by default, as on a new Clerk instance).
    pub email_link: bool,
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
            email_link: false,
        }
    }

    fn identifier(required: bool, verify: bool) -> Self {
        Self {
            enabled: true,
            required,
            used_for_first_factor: true,
            verify_at_sign_up: verify,
            used_for_second_factor: false,
            email_link: false,
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
    /// What a new password must be (`user_settings.password_settings` of the environment).
    /// Its `min_length` is `password_min_length` (a patch of either sets both).
    pub password_settings: PasswordSettings,
    /// Lockout and enumeration protection (`user_settings.attack_protection`).
    pub attack_protection: AttackProtection,
    /// Frontend API rate limits: off unless switched on (see [`RateLimits`]).
    pub rate_limits: RateLimits,
    /// Bot protection of browser sign-ups (see [`Captcha`]): off unless switched on.
    pub captcha: Captcha,
    /// OAuth providers by strategy: the built-in `oauth_google`, `oauth_github`, `oauth_apple`,
    /// `oauth_microsoft`, and custom ones `oauth_custom_<key>` (with a display `name`), each a
    /// mock the emulator hosts or, with `oidc`, a real upstream. `oauth_google` is on out of the
    /// box, as on a new Clerk development instance.
    pub social: std::collections::BTreeMap<String, SocialProvider>,
}

/// One OAuth provider's settings: a mock the emulator hosts, or, with `oidc`, a real OpenID
/// Connect provider the emulator is a client of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocialProvider {
    pub enabled: bool,
    /// A custom provider's name as people see it (the environment's `name`, the mock's page);
    /// default: its key. Built-in providers keep their own names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The upstream provider; `None`: the emulator's mock.
    pub oidc: Option<OidcUpstream>,
}

impl Default for SocialProvider {
    fn default() -> Self {
        Self {
            enabled: true,
            name: None,
            oidc: None,
        }
    }
}

/// The longest display name of a custom provider.
const MAX_PROVIDER_NAME_LEN: usize = 64;

/// A real OpenID Connect provider (discovery at `<issuer>/.well-known/openid-configuration`,
/// authorization code with PKCE and `state`, the ID token checked against its JWKS).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcUpstream {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Space-separated; default `openid email profile`.
    #[serde(default)]
    pub scopes: Option<String>,
}

impl OidcUpstream {
    /// The scopes asked for.
    pub fn scopes(&self) -> String {
        self.scopes
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "openid email profile".into())
    }
}

// The client secret is the one thing here that must not reach a log.
impl std::fmt::Debug for OidcUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcUpstream")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// `password_settings`, with the defaults of a new Clerk development instance: no character
/// classes required, the strength check off, the compromised-password check on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// Always equal to [`Settings::password_min_length`].
    pub min_length: usize,
    /// At most this many characters (and never more than 72 bytes).
    pub max_length: usize,
    pub require_special_char: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    /// The characters that count as special for `require_special_char`.
    pub allowed_special_characters: String,
    /// The zxcvbn strength check: when on, a new password must score at least
    /// `min_zxcvbn_strength` (0–4). Off, the score is not looked at (as on Clerk, where the
    /// setting is "show_zxcvbn" in the environment and the minimum applies only with it).
    pub show_zxcvbn: bool,
    pub min_zxcvbn_strength: u8,
    /// True turns the compromised-password check off.
    pub disable_hibp: bool,
    /// A sign-in with a compromised password is refused with `form_password_pwned` (the user
    /// must reset it), when the check is on.
    pub enforce_hibp_on_sign_in: bool,
    pub disable_password_reverification: bool,
}

/// Clerk's list of special characters.
pub const SPECIAL_CHARACTERS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 72,
            require_special_char: false,
            require_numbers: false,
            require_uppercase: false,
            require_lowercase: false,
            allowed_special_characters: SPECIAL_CHARACTERS.into(),
            show_zxcvbn: false,
            min_zxcvbn_strength: 0,
            disable_hibp: false,
            enforce_hibp_on_sign_in: false,
            disable_password_reverification: true,
        }
    }
}

/// Bot protection (`captcha`): with `enabled`, a sign-up made from a browser (browser mode)
/// must carry a `captcha_token` from the emulator's Turnstile-compatible test widget (native
/// requests, and requests with a testing token, are not asked). The site keys are Cloudflare's
/// documented test keys, whose first two characters say what the widget does: `1x…` always
/// passes, `2x…` always fails, `3x…` asks the person (a checkbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Captcha {
    pub enabled: bool,
    /// `smart` (shown when it must ask, in the page's `#clerk-captcha`) or `invisible`.
    pub widget_type: String,
    pub site_key: String,
    pub invisible_site_key: String,
}

impl Default for Captcha {
    fn default() -> Self {
        Self {
            enabled: false,
            widget_type: "smart".into(),
            site_key: "1x00000000000000000000AA".into(),
            invisible_site_key: "1x00000000000000000000BB".into(),
        }
    }
}

/// `attack_protection`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AttackProtection {
    pub user_lockout: UserLockout,
    pub enumeration_protection: Toggle,
    /// Reported in the environment; the emulator does not act on it.
    pub pii: Toggle,
    /// Reported in the environment; the emulator does not act on it.
    pub email_link: EmailLinkProtection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct EmailLinkProtection {
    pub require_same_client: bool,
}

/// Locks a user out for `duration_in_minutes` after `max_attempts` failed verifications in a
/// row. Clerk's development defaults: on, 100 attempts, 60 minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserLockout {
    pub enabled: bool,
    pub max_attempts: i64,
    pub duration_in_minutes: i64,
}

impl Default for UserLockout {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts: 100,
            duration_in_minutes: 60,
        }
    }
}

/// One rate limit: at most `max` requests in a window of `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub max: i64,
    pub window_secs: i64,
}

/// Frontend API rate limits, counted per client (per IP for a request with no client yet) and
/// per identifier, in fixed windows by the emulator clock. Off by default: hitting them in CI
/// is the most common complaint about testing against the hosted service.
///
/// The limits are the ones Clerk documents (clerk.com/docs/guides/how-clerk-works/system-limits,
/// "Rate limits", Frontend API requests: create sign-in and create sign-up 5 requests per 10
/// seconds, attempt sign-in first/second factor and attempt sign-up verification 3 per 10
/// seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub enabled: bool,
    pub sign_in_create: Limit,
    pub sign_in_attempt: Limit,
    pub sign_up_create: Limit,
    pub sign_up_attempt: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        let every_10s = |max| Limit {
            max,
            window_secs: 10,
        };
        Self {
            enabled: false,
            sign_in_create: every_10s(5),
            sign_in_attempt: every_10s(3),
            sign_up_create: every_10s(5),
            sign_up_attempt: every_10s(3),
        }
    }
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
            password_settings: PasswordSettings::default(),
            attack_protection: AttackProtection::default(),
            rate_limits: RateLimits::default(),
            captcha: Captcha::default(),
            social: [("oauth_google".to_owned(), SocialProvider::default())].into(),
        }
    }
}

impl Settings {
    /// The provider's upstream, when it is a real OpenID Connect provider (not the mock).
    pub fn oidc_upstream(&self, strategy: &AnyStrategy) -> Option<&OidcUpstream> {
        self.social
            .get(strategy.as_str())
            .and_then(|p| p.oidc.as_ref())
    }

    /// Whether sign-in and sign-up through this OAuth provider are on.
    pub fn oauth_enabled(&self, strategy: &AnyStrategy) -> bool {
        self.social
            .get(strategy.as_str())
            .is_some_and(|p| p.enabled)
    }

    /// Whether the instance has this OAuth provider at all (on or off).
    pub fn oauth_configured(&self, strategy: &AnyStrategy) -> bool {
        self.social.contains_key(strategy.as_str())
    }

    /// A custom provider's display name: its configured `name`, else its key.
    pub fn custom_provider_name<'a>(&'a self, provider: &'a CustomProvider) -> &'a str {
        self.social
            .get(provider.strategy())
            .and_then(|p| p.name.as_deref())
            .unwrap_or(provider.key())
    }

    /// Applies a JSON merge patch and validates the result.
    pub fn patched(&self, patch: &Value) -> Result<Self, String> {
        let mut current = serde_json::to_value(self).map_err(|e| e.to_string())?;
        merge(&mut current, patch);
        // `password_min_length` and `password_settings.min_length` are one setting: the one
        // the patch names wins (both named must agree; `validate` checks).
        let legacy = patch.get("password_min_length").cloned();
        let nested = patch
            .get("password_settings")
            .and_then(|p| p.get("min_length"))
            .cloned();
        match (legacy, nested) {
            (None, Some(v)) => current["password_min_length"] = v,
            (Some(_), Some(_)) => {}
            // Settings stored before `password_settings` existed hold only the legacy field.
            (_, None) => {
                current["password_settings"]["min_length"] = current["password_min_length"].clone()
            }
        }
        // Each provider on its own first, so that a bad one is named in the error.
        if let Some(social) = current.get("social").and_then(Value::as_object) {
            for (name, p) in social {
                serde_json::from_value::<SocialProvider>(p.clone())
                    .map_err(|e| format!("social.{name}: {e}"))?;
            }
        }
        let next: Settings = serde_json::from_value(current).map_err(|e| e.to_string())?;
        next.validate()?;
        Ok(next)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.captcha.widget_type.as_str(), "smart" | "invisible") {
            return Err("captcha.widget_type must be \"smart\" or \"invisible\"".into());
        }
        for key in [&self.captcha.site_key, &self.captcha.invisible_site_key] {
            if key.is_empty()
                || key.len() > 64
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err("captcha site keys are 1 to 64 letters, digits, - or _".into());
            }
        }
        if !matches!(self.sign_up_mode.as_str(), "public" | "restricted") {
            return Err("sign_up_mode must be \"public\" or \"restricted\"".into());
        }
        if self.password_min_length < 1 || self.password_min_length > 72 {
            return Err("password_min_length must be between 1 and 72".into());
        }
        let p = &self.password_settings;
        if p.min_length != self.password_min_length {
            return Err(
                "password_settings.min_length and password_min_length must be the same".into(),
            );
        }
        if p.max_length < p.min_length || p.max_length > 72 {
            return Err("password_settings.max_length must be from min_length to 72".into());
        }
        if p.min_zxcvbn_strength > 4 {
            return Err("password_settings.min_zxcvbn_strength must be from 0 to 4".into());
        }
        if p.allowed_special_characters.is_empty()
            || p.allowed_special_characters
                .chars()
                .any(|c| c.is_alphanumeric() || c.is_whitespace())
        {
            return Err("password_settings.allowed_special_characters must be one or more characters that are neither letters, digits nor spaces".into());
        }
        let lockout = &self.attack_protection.user_lockout;
        if !(1..=100_000).contains(&lockout.max_attempts) {
            return Err(
                "attack_protection.user_lockout.max_attempts must be from 1 to 100000".into(),
            );
        }
        // Up to a year.
        if !(1..=525_600).contains(&lockout.duration_in_minutes) {
            return Err(
                "attack_protection.user_lockout.duration_in_minutes must be from 1 to 525600"
                    .into(),
            );
        }
        let r = &self.rate_limits;
        for (name, l) in [
            ("sign_in_create", r.sign_in_create),
            ("sign_in_attempt", r.sign_in_attempt),
            ("sign_up_create", r.sign_up_create),
            ("sign_up_attempt", r.sign_up_attempt),
        ] {
            if !(1..=1_000_000).contains(&l.max) || !(1..=86_400).contains(&l.window_secs) {
                return Err(format!(
                    "rate_limits.{name} needs max from 1 to 1000000 and window_secs from 1 to 86400"
                ));
            }
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
        for (name, p) in &self.social {
            let custom = match name.strip_prefix("oauth_custom_") {
                Some(key) => {
                    if CustomProvider::new(key).is_none() {
                        return Err(format!(
                            "social.{name}: a custom provider's key (after oauth_custom_) must be {}",
                            CustomProvider::KEY_RULE
                        ));
                    }
                    true
                }
                None if super::oauth::builtin(name).is_some() => false,
                None => {
                    return Err(format!(
                        "social.{name}: not a provider the emulator knows (oauth_google, oauth_github, oauth_apple, oauth_microsoft, or a custom oauth_custom_<key>)"
                    ))
                }
            };
            match (&p.name, custom) {
                (Some(_), false) => {
                    return Err(format!(
                        "social.{name}.name: only custom providers (oauth_custom_<key>) take a name"
                    ))
                }
                (Some(n), true)
                    if n.trim().is_empty()
                        || n.chars().count() > MAX_PROVIDER_NAME_LEN
                        || n.chars().any(char::is_control) =>
                {
                    return Err(format!(
                        "social.{name}.name must be 1 to {MAX_PROVIDER_NAME_LEN} characters, none of them control characters"
                    ))
                }
                _ => {}
            }
            if let Some(o) = &p.oidc {
                // Plain http only to this machine: elsewhere the client secret would travel in
                // clear, and whoever is on the path would serve the discovery and JWKS.
                let ok = match url::Url::parse(&o.issuer) {
                    Ok(u) if u.scheme() == "https" => u.host().is_some(),
                    Ok(u) if u.scheme() == "http" => {
                        matches!(
                            u.host(),
                            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
                        ) || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                            || u.host_str() == Some("localhost")
                    }
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "social.{name}.oidc.issuer must be an https URL (http only to a loopback address)"
                    ));
                }
                if o.client_id.is_empty() || o.client_secret.is_empty() {
                    return Err(format!(
                        "social.{name}.oidc needs client_id and client_secret"
                    ));
                }
                // Without `openid` the upstream sends no ID token, and nobody could sign in.
                if o.scopes.as_deref().is_some_and(|s| {
                    !s.trim().is_empty() && !s.split_whitespace().any(|x| x == "openid")
                }) {
                    return Err(format!("social.{name}.oidc.scopes must include openid"));
                }
            }
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
