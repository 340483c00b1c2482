//! Password hashing (argon2id) and verification, including imported bcrypt digests.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::settings::Settings;
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

/// Password work no costlier than this many KiB-passes of argon2 (the emulator's own fast
/// parameters, 64 KiB × 1) takes tens of microseconds and is done without a thread hand-off.
const CHEAP_KIB_PASSES: u64 = 64;

impl PasswordHasher {
    /// Whether `work` is cheap enough to do on the async worker (see [`CHEAP_KIB_PASSES`]):
    /// argon2 at the emulator's fast parameters or below. bcrypt never is.
    pub fn is_cheap(&self, work: &PasswordWork) -> bool {
        let cost =
            |p: &Params| u64::from(p.m_cost()) * u64::from(p.t_cost()) * u64::from(p.p_cost());
        match work {
            PasswordWork::Hash { .. } => cost(&self.params) <= CHEAP_KIB_PASSES,
            PasswordWork::Verify { digest, .. } => PasswordHash::new(digest.expose())
                .ok()
                .filter(|h| h.algorithm.as_str().starts_with("argon2"))
                .and_then(|h| Params::try_from(&h).ok())
                .is_some_and(|p| cost(&p) <= CHEAP_KIB_PASSES),
        }
    }

    /// Whether a stored digest should be replaced by one made with this hasher's parameters
    /// (an imported bcrypt or argon2i digest, or argon2id at another cost).
    pub fn needs_rehash(&self, digest: &Secret) -> bool {
        let Ok(parsed) = PasswordHash::new(digest.expose()) else {
            return true;
        };
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

/// Slow password work the domain needs and must not do inside a write transaction: a hash or a
/// verification costs from a fraction of a millisecond to a second (an imported bcrypt digest
/// of cost 12), and the write transaction serialises every request.
///
/// The domain asks for it by returning [`DomainError::PasswordWork`], which rolls the
/// transaction back; the caller does the work on a blocking thread, records the result in
/// [`PasswordResults`] and runs the operation again, which then finds the result.
pub enum PasswordWork {
    Verify { password: Secret, digest: Secret },
    Hash { password: Secret },
}

impl std::fmt::Debug for PasswordWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Verify { .. } => "PasswordWork::Verify",
            Self::Hash { .. } => "PasswordWork::Hash",
        })
    }
}

/// Results of password work done outside the transaction (see [`PasswordWork`]).
pub struct PasswordResults {
    verified: Vec<(Secret, Secret, bool)>,
    hashed: Vec<(Secret, Secret)>,
}

impl std::fmt::Debug for PasswordResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordResults")
            .field("verified", &self.verified.len())
            .field("hashed", &self.hashed.len())
            .finish()
    }
}

impl Default for PasswordResults {
    fn default() -> Self {
        Self::NONE
    }
}

impl PasswordResults {
    /// No results yet.
    pub const NONE: Self = Self {
        verified: Vec::new(),
        hashed: Vec::new(),
    };

    /// Whether `password` matches `digest`, once that has been worked out.
    pub fn verify(&self, password: &str, digest: &Secret) -> Result<bool, DomainError> {
        match self
            .verified
            .iter()
            .find(|(d, p, _)| d.matches(digest.expose()) && p.matches(password))
        {
            Some((_, _, ok)) => Ok(*ok),
            None => Err(DomainError::PasswordWork(Box::new(PasswordWork::Verify {
                password: Secret::new(password),
                digest: digest.clone(),
            }))),
        }
    }

    /// A new digest of `password`, once one has been made.
    pub fn hash(&self, password: &str) -> Result<Secret, DomainError> {
        match self.hashed.iter().find(|(p, _)| p.matches(password)) {
            Some((_, digest)) => Ok(digest.clone()),
            None => Err(DomainError::PasswordWork(Box::new(PasswordWork::Hash {
                password: Secret::new(password),
            }))),
        }
    }

    /// Does `work` (slow: call it on a blocking thread) and records the result.
    pub fn run(&mut self, work: PasswordWork, hasher: &PasswordHasher) -> Result<(), DomainError> {
        match work {
            PasswordWork::Verify { password, digest } => {
                let ok = hasher.verify(password.expose(), &digest);
                self.verified.push((digest, password, ok));
            }
            PasswordWork::Hash { password } => {
                let digest = hasher.hash(password.expose())?;
                self.hashed.push((password, digest));
            }
        }
        Ok(())
    }
}

/// Highest bcrypt cost an imported digest may have (cost 12 is about a quarter of a second a
/// verification; each step doubles it).
pub const MAX_BCRYPT_COST: u32 = 12;
/// Highest argon2 parameters an imported digest may have: 64 MiB, 10 passes, 4 lanes.
pub const MAX_ARGON2_M_KIB: u32 = 64 * 1024;
pub const MAX_ARGON2_T: u32 = 10;
pub const MAX_ARGON2_P: u32 = 4;

/// Validates an imported digest for `password_hasher`, returning what to store. Digests above
/// the cost caps are refused: every sign-in attempt against one would tie up a CPU (or
/// gigabytes of memory) for seconds. Imported digests are replaced by the instance's own on the
/// user's first successful sign-in.
pub fn import_digest(hasher: &str, digest: &str) -> Result<Secret, DomainError> {
    let bad = |reason: &str| DomainError::ParamFormat {
        param: "password_digest",
        reason: reason.to_owned(),
    };
    match hasher {
        "bcrypt" => {
            let parts = digest
                .parse::<bcrypt::HashParts>()
                .map_err(|_| bad("is not a bcrypt digest"))?;
            if parts.get_cost() > MAX_BCRYPT_COST {
                return Err(bad(&format!(
                    "has bcrypt cost {}; at most {MAX_BCRYPT_COST} can be imported",
                    parts.get_cost()
                )));
            }
            Ok(Secret::new(digest))
        }
        "argon2id" | "argon2i" => {
            let parsed = PasswordHash::new(digest).map_err(|_| bad("is not a PHC string"))?;
            if parsed.algorithm.as_str() != hasher {
                return Err(bad("does not match password_hasher"));
            }
            let params =
                Params::try_from(&parsed).map_err(|_| bad("has invalid argon2 parameters"))?;
            if params.m_cost() > MAX_ARGON2_M_KIB
                || params.t_cost() > MAX_ARGON2_T
                || params.p_cost() > MAX_ARGON2_P
            {
                return Err(bad(&format!(
                    "has argon2 parameters m={} t={} p={}; at most m={MAX_ARGON2_M_KIB} t={MAX_ARGON2_T} p={MAX_ARGON2_P} can be imported",
                    params.m_cost(),
                    params.t_cost(),
                    params.p_cost()
                )));
            }
            Ok(Secret::new(digest))
        }
        _ => Err(DomainError::ParamValue {
            param: "password_hasher",
            reason: format!("{hasher:?} is not supported (bcrypt, argon2id, argon2i)"),
        }),
    }
}

/// The bundled list of common passwords (see the header of `common-passwords.txt`: zxcvbn's
/// 30,000 most common passwords of a corpus of leaked ones).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Whether `password` is on the list of common passwords (compared in lower case, as the list
/// is). The set is built once per process from the bundled bytes: immutable data, the same for
/// every emulator, so it is a table, not shared state.
pub fn is_common(password: &str) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    let set = SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    });
    set.contains(password.to_lowercase().as_str())
}

/// Bytes a password may have: what bcrypt-compatible digests hold (Clerk's limit too).
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Checks a new password (sign-up, reset, Backend API create and update, `/v1/me`) against the
/// instance's `password_settings`. `identifiers` are the user's email addresses, phone numbers
/// and username, which the password may not be (nor contain, when at least 4 long), and which
/// zxcvbn counts as known.
///
/// The order, first failure wins: too short, over 72 bytes, over `max_length`, a missing
/// character class, an identifier, on the common-password list (unless `disable_hibp`), then
/// zxcvbn below `min_zxcvbn_strength` (only with `show_zxcvbn`, as on Clerk).
pub fn check_new(
    password: &str,
    settings: &Settings,
    identifiers: &[&str],
) -> Result<(), DomainError> {
    let rules = &settings.password_settings;
    let min = settings.password_min_length;
    let chars = password.chars().count();
    if chars < min {
        return Err(DomainError::PasswordTooShort { min });
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(DomainError::PasswordTooManyBytes {
            max: MAX_PASSWORD_BYTES,
        });
    }
    if chars > rules.max_length {
        return Err(DomainError::PasswordTooLong {
            max: rules.max_length,
        });
    }
    let mut missing = Vec::new();
    if rules.require_lowercase && !password.chars().any(char::is_lowercase) {
        missing.push(CharClass::Lowercase);
    }
    if rules.require_uppercase && !password.chars().any(char::is_uppercase) {
        missing.push(CharClass::Uppercase);
    }
    if rules.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push(CharClass::Number);
    }
    if rules.require_special_char
        && !password
            .chars()
            .any(|c| rules.allowed_special_characters.contains(c))
    {
        missing.push(CharClass::Special);
    }
    if !missing.is_empty() {
        return Err(DomainError::PasswordValidation { missing });
    }
    let lower = password.to_lowercase();
    if identifiers.iter().any(|i| {
        let i = i.trim().to_lowercase();
        !i.is_empty() && (lower == i || (i.chars().count() >= 4 && lower.contains(&i)))
    }) {
        return Err(DomainError::PasswordMatchesIdentifier);
    }
    if !rules.disable_hibp && is_common(password) {
        return Err(DomainError::PasswordPwned);
    }
    if rules.show_zxcvbn && rules.min_zxcvbn_strength > 0 {
        let entropy = zxcvbn::zxcvbn(password, identifiers);
        if u8::from(entropy.score()) < rules.min_zxcvbn_strength {
            let feedback = entropy.feedback();
            return Err(DomainError::PasswordNotStrongEnough {
                warning: feedback.and_then(|f| f.warning()).map(|w| w.to_string()),
                suggestions: feedback
                    .map(|f| {
                        f.suggestions()
                            .iter()
                            .map(|s| (suggestion_code(s), s.to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// Whether a sign-in with `password` must be refused with `form_password_pwned`
/// (`enforce_hibp_on_sign_in`, with the compromised-password check on): the user then resets
/// the password, as Clerk's UI makes them.
pub fn refused_on_sign_in(password: &str, settings: &Settings) -> bool {
    let rules = &settings.password_settings;
    rules.enforce_hibp_on_sign_in && !rules.disable_hibp && is_common(password)
}

/// A zxcvbn suggestion's `code` in `meta.zxcvbn.suggestions`: its name in lower camel case
/// (`useAFewWordsAvoidCommonPhrases`), the style of the zxcvbn-ts keys clerk-js uses. Clerk's
/// exact strings are not documented [U]; clients show `message`.
fn suggestion_code(s: &zxcvbn::feedback::Suggestion) -> String {
    let name = format!("{s:?}");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => name,
    }
}

/// A character class `password_settings` can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    Lowercase,
    Uppercase,
    Number,
    Special,
}

impl CharClass {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Lowercase => "a lowercase letter",
            Self::Uppercase => "an uppercase letter",
            Self::Number => "a number",
            Self::Special => "a special character",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
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
    fn imported_digests_above_the_cost_caps_are_refused() {
        let err = import_digest(
            "bcrypt",
            "$2b$13$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
        )
        .unwrap_err();
        assert!(err.to_string().contains("cost 13"), "{err}");
        assert!(import_digest(
            "bcrypt",
            "$2b$12$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
        )
        .is_ok());
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
        let err = import_digest("argon2id", huge).unwrap_err();
        assert!(err.to_string().contains("m=4194304"), "{err}");
        let many_passes = "$argon2id$v=19$m=65536,t=11,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
        assert!(import_digest("argon2id", many_passes).is_err());
    }

    #[test]
    fn rehash_is_needed_for_anything_but_the_instances_own_parameters() {
        let fast = PasswordHasher::fast();
        let own = fast.hash("correct horse").unwrap();
        assert!(!fast.needs_rehash(&own));
        assert!(PasswordHasher::production().needs_rehash(&own));
        let bcrypt = Secret::new(bcrypt::hash("correct horse", 4).unwrap());
        assert!(fast.needs_rehash(&bcrypt));
    }

    #[test]
    fn password_work_is_asked_for_then_answered() {
        let h = PasswordHasher::fast();
        let digest = h.hash("correct horse").unwrap();
        let mut results = PasswordResults::default();
        let Err(DomainError::PasswordWork(work)) = results.verify("correct horse", &digest) else {
            panic!("the first call asks for the work");
        };
        assert_eq!(
            format!("{work:?}"),
            "PasswordWork::Verify",
            "Debug shows no secret"
        );
        results.run(*work, &h).unwrap();
        assert!(results.verify("correct horse", &digest).unwrap());
        let Err(DomainError::PasswordWork(work)) = results.verify("wrong horse", &digest) else {
            panic!("another password is other work");
        };
        results.run(*work, &h).unwrap();
        assert!(!results.verify("wrong horse", &digest).unwrap());
        let Err(DomainError::PasswordWork(work)) = results.hash("new password") else {
            panic!("hashing is asked for too");
        };
        results.run(*work, &h).unwrap();
        let made = results.hash("new password").unwrap();
        assert!(h.verify("new password", &made));
    }

    fn settings(patch: serde_json::Value) -> Settings {
        Settings::default().patched(&patch).unwrap()
    }

    #[test]
    fn each_rule_refuses_with_its_own_error() {
        let s = Settings::default();
        assert!(matches!(
            check_new("short", &s, &[]),
            Err(DomainError::PasswordTooShort { min: 8 })
        ));
        assert!(check_new("lk-Test-pass-4921", &s, &[]).is_ok());
        let bytes = "é".repeat(37);
        assert!(matches!(
            check_new(&bytes, &s, &[]),
            Err(DomainError::PasswordTooManyBytes { max: 72 })
        ));
        let s40 = settings(serde_json::json!({"password_settings": {"max_length": 20}}));
        assert!(matches!(
            check_new("lk-Test-pass-4921-and-more", &s40, &[]),
            Err(DomainError::PasswordTooLong { max: 20 })
        ));
        let classes = settings(serde_json::json!({"password_settings": {
            "require_numbers": true, "require_uppercase": true,
            "require_lowercase": true, "require_special_char": true}}));
        let Err(DomainError::PasswordValidation { missing }) =
            check_new("ALLUPPERCASEWORDS", &classes, &[])
        else {
            panic!("classes are checked");
        };
        assert_eq!(
            missing,
            vec![CharClass::Lowercase, CharClass::Number, CharClass::Special]
        );
        assert!(check_new("lk-Test-pass-4921", &classes, &[]).is_ok());
        assert!(matches!(
            check_new("jane.doe@example.com", &s, &["jane.doe@example.com"]),
            Err(DomainError::PasswordMatchesIdentifier)
        ));
        assert!(matches!(
            check_new("my-janedoe-pass", &s, &["JaneDoe"]),
            Err(DomainError::PasswordMatchesIdentifier)
        ));
    }

    #[test]
    fn common_passwords_are_pwned_unless_the_check_is_off() {
        let s = Settings::default();
        for pw in [
            "password123",
            "Password1",
            "12345678",
            "hunter22",
            "iloveyou",
        ] {
            assert!(
                matches!(check_new(pw, &s, &[]), Err(DomainError::PasswordPwned)),
                "{pw}"
            );
        }
        assert!(!is_common("lk-Test-pass-4921"));
        let off = settings(serde_json::json!({"password_settings": {"disable_hibp": true}}));
        assert!(check_new("password123", &off, &[]).is_ok());
        assert!(!refused_on_sign_in("password123", &s), "off by default");
        let enforce =
            settings(serde_json::json!({"password_settings": {"enforce_hibp_on_sign_in": true}}));
        assert!(refused_on_sign_in("password123", &enforce));
        assert!(!refused_on_sign_in("lk-Test-pass-4921", &enforce));
    }

    #[test]
    fn the_strength_check_applies_only_when_shown_and_says_why() {
        let weak = "abcdefgh1";
        let off = settings(serde_json::json!({"password_settings": {"min_zxcvbn_strength": 4}}));
        assert!(check_new(weak, &off, &[]).is_ok(), "show_zxcvbn is off");
        let on = settings(serde_json::json!({"password_settings":
            {"show_zxcvbn": true, "min_zxcvbn_strength": 3}}));
        let Err(DomainError::PasswordNotStrongEnough { suggestions, .. }) =
            check_new(weak, &on, &[])
        else {
            panic!("a weak password is refused");
        };
        assert!(!suggestions.is_empty());
        for (code, message) in &suggestions {
            assert!(
                code.chars().next().is_some_and(char::is_lowercase),
                "{code}"
            );
            assert!(!message.is_empty());
        }
        assert!(check_new("correct-Horse-battery-staple-71", &on, &[]).is_ok());
    }
}
