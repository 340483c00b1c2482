//! Second factors: TOTP (RFC 6238), backup codes and phones reserved for the second factor;
//! what they make of a user (`two_factor_enabled`, …); enrolment through `/v1/me`, removal and
//! checks through the Backend API; and the checks of a second-factor attempt that sign-in and
//! session reverification share. Every wrong second-factor attempt goes through
//! [`wrong_second_factor`].

use rand::Rng;
use sha2::{Digest, Sha256};

use super::clients::ClientCtx;
use super::messages::{self, Template, TEST_CODE};
use super::sign_up::check_code;
use super::{accounts, events, ids, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{
    BackupCodesRecord, IdentKind, Identification, MessageKind, MfaRecord, PendingCode,
    SecondFactor, SecondFactorPhone, SessionRecord, TotpRecord, UserRecord, UserWithIdents,
};
use crate::store::Tx;
use latchkey_protocol::{EventType, Strategy, VerificationStatus};

/// RFC 6238 over HMAC-SHA-1 (RFC 4226), with the parameters every authenticator app assumes.
pub mod totp {
    use hmac::{Hmac, Mac};
    use sha1::Sha1;
    use subtle::ConstantTimeEq;

    /// Seconds per time step.
    pub const PERIOD_SECS: i64 = 30;
    pub const DIGITS: u32 = 6;
    /// Steps of clock drift accepted either side of the current one.
    pub const DRIFT_STEPS: i64 = 1;
    /// Bytes of a new secret (160 bits, RFC 4226's recommendation).
    pub const SECRET_BYTES: usize = 20;

    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// RFC 4648 base32, upper case, without padding (what `otpauth://` URIs carry).
    pub fn base32_encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &b in bytes {
            buffer = (buffer << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// Decodes base32 (either case, `=` padding and spaces ignored); `None` if malformed.
    pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() * 5 / 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for c in text.chars().filter(|c| *c != '=' && *c != ' ') {
            let c = c.to_ascii_uppercase();
            let v = BASE32.iter().position(|&b| char::from(b) == c)?;
            buffer = (buffer << 5) | v as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push(((buffer >> bits) & 0xff) as u8);
            }
        }
        Some(out)
    }

    /// The HOTP value (RFC 4226 §5.3) of `counter` with `digits` digits, zero-padded.
    pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
        // HMAC takes keys of any length: this cannot fail.
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
            return String::new();
        };
        mac.update(&counter.to_be_bytes());
        let hash = mac.finalize().into_bytes();
        let offset = usize::from(hash[19] & 0x0f);
        let binary = (u32::from(hash[offset] & 0x7f) << 24)
            | (u32::from(hash[offset + 1]) << 16)
            | (u32::from(hash[offset + 2]) << 8)
            | u32::from(hash[offset + 3]);
        let modulus = 10u64.pow(digits);
        format!(
            "{:0width$}",
            u64::from(binary) % modulus,
            width = digits as usize
        )
    }

    /// The time step of `now_ms` (ms since the Unix epoch).
    pub fn step_at(now_ms: i64) -> i64 {
        now_ms.div_euclid(1000).div_euclid(PERIOD_SECS)
    }

    /// The code of `step`.
    pub fn code_at_step(key: &[u8], step: i64, digits: u32) -> String {
        hotp(key, u64::try_from(step).unwrap_or(0), digits)
    }

    /// The step, within [`DRIFT_STEPS`] of now, whose code `code` is and that is later than
    /// `last_used` (a code once accepted is refused again, and so is any older one).
    pub fn matching_step(
        key: &[u8],
        code: &str,
        now_ms: i64,
        last_used: Option<i64>,
    ) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = step_at(now_ms);
        let mut found = None;
        // Every candidate is compared (in constant time), so timing tells nothing.
        for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
            let expected = code_at_step(key, step, DIGITS);
            let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            if equal && step >= 0 && last_used.is_none_or(|l| step > l) {
                found = Some(step);
            }
        }
        found
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)]
        use super::*;

        /// RFC 6238 Appendix B: the SHA-1 secret is the ASCII "12345678901234567890".
        const RFC_KEY: &[u8] = b"12345678901234567890";

        #[test]
        fn rfc_6238_appendix_b_sha1_vectors() {
            for (time, expected) in [
                (59i64, "94287082"),
                (1_111_111_109, "07081804"),
                (1_111_111_111, "14050471"),
                (1_234_567_890, "89005924"),
                (2_000_000_000, "69279037"),
                (20_000_000_000, "65353130"),
            ] {
                let step = step_at(time * 1000);
                assert_eq!(code_at_step(RFC_KEY, step, 8), expected, "T = {time}");
                // Six digits are the last six of the same value (mod 10^6).
                assert_eq!(code_at_step(RFC_KEY, step, 6), expected[2..], "T = {time}");
            }
        }

        #[test]
        fn rfc_4226_appendix_d_hotp_vectors() {
            let expected = [
                "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
                "399871", "520489",
            ];
            for (counter, code) in expected.iter().enumerate() {
                assert_eq!(hotp(RFC_KEY, counter as u64, 6), *code);
            }
        }

        #[test]
        fn base32_round_trips_and_matches_rfc_4648() {
            assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
            assert_eq!(base32_encode(b"f"), "MY");
            assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
            assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
            assert!(base32_decode("MZ1W").is_none(), "1 is not base32");
            let key: Vec<u8> = (0u8..20).collect();
            let text = base32_encode(&key);
            assert_eq!(text.len(), 32, "20 bytes are 32 characters, no padding");
            assert_eq!(base32_decode(&text).unwrap(), key);
        }

        #[test]
        fn one_step_of_drift_either_side_and_no_replay() {
            let now = 1_111_111_111_000;
            let step = step_at(now);
            for (delta, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
                let code = code_at_step(RFC_KEY, step + delta, 6);
                assert_eq!(
                    matching_step(RFC_KEY, &code, now, None).is_some(),
                    accepted,
                    "step {delta:+}"
                );
            }
            let code = code_at_step(RFC_KEY, step, 6);
            assert_eq!(
                matching_step(RFC_KEY, &code, now, Some(step)),
                None,
                "replay"
            );
            let earlier = code_at_step(RFC_KEY, step - 1, 6);
            assert_eq!(
                matching_step(RFC_KEY, &earlier, now, Some(step)),
                None,
                "a code older than the last one used"
            );
            assert_eq!(matching_step(RFC_KEY, "12345", now, None), None);
            assert_eq!(matching_step(RFC_KEY, "abcdef", now, None), None);
        }
    }
}

/// Backup codes in a set.
pub const BACKUP_CODES: usize = 10;
/// Characters of a backup code (lowercase letters and digits, as Clerk's).
pub const BACKUP_CODE_LEN: usize = 8;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Backup codes are random (≈41 bits each), not chosen by people, so a fast salted hash is
/// enough: SHA-256 of the set's random salt and the code. Only digests are stored.
fn backup_digest(salt: &Secret, code: &str) -> Secret {
    let mut h = Sha256::new();
    h.update(salt.expose().as_bytes());
    h.update(b":");
    h.update(code.trim().to_ascii_lowercase().as_bytes());
    Secret::new(hex(&h.finalize()))
}

/// A new set of backup codes: the record (digests only) and the codes to show once.
fn new_backup_codes(now: i64) -> (BackupCodesRecord, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let salt = Secret::new(hex(&rng.gen::<[u8; 16]>()));
    let codes: Vec<String> = (0..BACKUP_CODES)
        .map(|_| {
            (0..BACKUP_CODE_LEN)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect()
        })
        .collect();
    let digests = codes.iter().map(|c| backup_digest(&salt, c)).collect();
    (
        BackupCodesRecord {
            id: ids::new_id("bcode"),
            salt,
            digests,
            created_at: now,
            updated_at: now,
        },
        codes,
    )
}

/// Uses up the backup code `code` of `set`: true if it was one of its unused codes.
fn consume_backup_code(set: &mut BackupCodesRecord, code: &str, now: i64) -> bool {
    let digest = backup_digest(&set.salt, code);
    let before = set.digests.len();
    set.digests.retain(|d| !d.matches(digest.expose()));
    if set.digests.len() == before {
        return false;
    }
    set.updated_at = now;
    true
}

// --- what a user's factors make of them ------------------------------------------------------

/// A verified TOTP.
pub fn totp_enabled(u: &UserWithIdents) -> bool {
    u.mfa
        .as_ref()
        .and_then(|m| m.totp.as_ref())
        .is_some_and(|t| t.verified)
}

/// Unused backup codes.
pub fn backup_code_enabled(u: &UserWithIdents) -> bool {
    u.mfa
        .as_ref()
        .and_then(|m| m.backup_codes.as_ref())
        .is_some_and(|b| !b.digests.is_empty())
}

/// The user's verified phones reserved for the second factor, with whether each is the
/// default one (the first reserved if none is marked).
pub fn second_factor_phones(u: &UserWithIdents) -> Vec<(&Identification, bool)> {
    let Some(m) = &u.mfa else {
        return Vec::new();
    };
    let phones: Vec<(&Identification, bool)> = m
        .phones
        .iter()
        .filter_map(|p| {
            u.phones()
                .find(|i| i.id == p.identification_id && i.verified)
                .map(|i| (i, p.default))
        })
        .collect();
    if phones.iter().any(|(_, d)| *d) {
        return phones;
    }
    phones
        .into_iter()
        .enumerate()
        .map(|(n, (i, _))| (i, n == 0))
        .collect()
}

/// Whether sign-in asks this user for a second factor: a verified TOTP or a phone reserved
/// for it. Backup codes alone do not count (Clerk hands them out only alongside one of these,
/// and so does the emulator).
pub fn two_factor_enabled(u: &UserWithIdents) -> bool {
    totp_enabled(u) || !second_factor_phones(u).is_empty()
}

/// The second factors a user may use, for `supported_second_factors`: TOTP, each reserved
/// phone (`phone_code`), backup codes, and with `email_address.used_for_second_factor` on, an
/// emailed code to the primary address (an emulator setting, off by default: Clerk offers
/// email codes as a second factor only on instances that enable it).
pub fn supported_second_factors<'u>(
    env: &Env<'_>,
    u: &'u UserWithIdents,
) -> Vec<(Strategy, Option<&'u Identification>, Option<bool>)> {
    if !two_factor_enabled(u) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if totp_enabled(u) {
        out.push((Strategy::Totp, None, None));
    }
    for (phone, default) in second_factor_phones(u) {
        out.push((Strategy::PhoneCode, Some(phone), Some(default)));
    }
    if env.settings.email_address.used_for_second_factor {
        if let Some(email) = u.primary_email() {
            out.push((Strategy::EmailCode, Some(email), None));
            if env.settings.email_address.email_link {
                out.push((Strategy::EmailLink, Some(email), None));
            }
        }
    }
    if backup_code_enabled(u) {
        out.push((Strategy::BackupCode, None, None));
    }
    out
}

// --- changes ---------------------------------------------------------------------------------

fn record_of(u: &UserWithIdents, now: i64) -> MfaRecord {
    u.mfa.clone().unwrap_or(MfaRecord {
        user_id: u.user.id.clone(),
        totp: None,
        backup_codes: None,
        phones: Vec::new(),
        enabled_at: None,
        disabled_at: None,
        updated_at: now,
    })
}

/// Stores the user's changed factors: keeps `mfa_enabled_at` / `mfa_disabled_at` (when
/// two-factor sign-in went on, or off), forgets the second-factor verification of their
/// sessions once no second factor is left (their `fva` says -1 again), touches the user and
/// emits `user.updated`.
fn save(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    mut m: MfaRecord,
) -> Result<(), DomainError> {
    let before = two_factor_enabled(u);
    m.updated_at = env.now;
    u.mfa = Some(m);
    let after = two_factor_enabled(u);
    if let Some(m) = u.mfa.as_mut() {
        if !before && after {
            m.enabled_at = Some(env.now);
        } else if before && !after {
            m.disabled_at = Some(env.now);
        }
        if !after && m.backup_codes.is_some() && m.totp.is_none() && m.phones.is_empty() {
            // Backup codes are only for a second factor: none is left.
            m.backup_codes = None;
        }
        tx.save_mfa(m)?;
    }
    if before && !after {
        for mut s in tx.sessions_of_user(&u.user.id)? {
            if s.second_factor_at.is_some() {
                s.second_factor_at = None;
                tx.save_session(&s)?;
            }
        }
    }
    u.user.updated_at = env.now;
    tx.save_user(&u.user)?;
    events::user(tx, env, EventType::UserUpdated, u)
}

/// Stores a factor's bookkeeping (a TOTP step or a backup code used) without touching the
/// user or emitting anything.
fn save_quietly(tx: &Tx<'_>, env: &Env<'_>, u: &mut UserWithIdents) -> Result<(), DomainError> {
    if let Some(m) = u.mfa.as_mut() {
        m.updated_at = env.now;
        tx.save_mfa(m)?;
    }
    Ok(())
}

/// A TOTP as `/v1/me/totp` shows it: the secret and URI only while it is being enrolled.
pub struct TotpView {
    pub record: TotpRecord,
    pub uri: Option<Secret>,
    pub backup_codes: Option<Vec<String>>,
}

/// The `otpauth://` URI of a secret ([Key Uri Format]): label `issuer:account`, with the
/// issuer repeated as a parameter and the parameters spelled out. [U] Clerk's exact URI is
/// unconfirmed; every authenticator app (and clerk-js's QR code) reads this form, and the
/// explicit SHA1/6/30 are the defaults they would assume anyway. Issuer: the instance's
/// application name; account: the user's primary identifier.
///
/// [Key Uri Format]: https://github.com/google/google-authenticator/wiki/Key-Uri-Format
pub fn otpauth_uri(issuer: &str, account: &str, secret: &Secret) -> Secret {
    let issuer = url_encode(issuer);
    Secret::new(format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={}&period={}",
        url_encode(account),
        secret.expose(),
        totp::DIGITS,
        totp::PERIOD_SECS,
    ))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `POST /v1/me/totp`: a new secret to enrol. Refused while a verified TOTP exists; an
/// unverified one (an enrolment left unfinished) is replaced — clerk-js asks for a new one
/// each time its enrolment screen opens.
fn create_totp(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
) -> Result<TotpView, DomainError> {
    if totp_enabled(u) {
        return Err(DomainError::InvalidState(
            "This user already has an authenticator app (TOTP); remove it before adding another."
                .into(),
        ));
    }
    let key: [u8; totp::SECRET_BYTES] = rand::thread_rng().gen();
    let secret = Secret::new(totp::base32_encode(&key));
    let record = TotpRecord {
        id: ids::new_id("totp"),
        secret,
        verified: false,
        last_used_step: None,
        created_at: env.now,
        updated_at: env.now,
    };
    let mut m = record_of(u, env.now);
    m.totp = Some(record.clone());
    // Not a factor yet: stored without an event.
    m.updated_at = env.now;
    tx.save_mfa(&m)?;
    u.mfa = Some(m);
    let uri = otpauth_uri(
        &env.settings.application_name,
        &u.identifier(),
        &record.secret,
    );
    Ok(TotpView {
        record,
        uri: Some(uri),
        backup_codes: None,
    })
}

/// Checks a TOTP code of `u` and uses its step up. `None` when the user has no verified TOTP
/// (or, with `enrolling`, no TOTP at all).
fn check_totp(u: &mut UserWithIdents, code: &str, now: i64, enrolling: bool) -> Option<bool> {
    let t = u.mfa.as_mut()?.totp.as_mut()?;
    if t.verified == enrolling {
        return None;
    }
    let key = totp::base32_decode(t.secret.expose())?;
    match totp::matching_step(&key, code, now, t.last_used_step) {
        Some(step) => {
            t.last_used_step = Some(step);
            t.updated_at = now;
            Some(true)
        }
        None => Some(false),
    }
}

/// `POST /v1/me/totp/attempt_verification`: a code from the app completes enrolment. The TOTP
/// is then on, a new set of backup codes is made (shown this once), and the session that did
/// it counts as having verified a second factor now. A wrong code is committed as an attempt.
fn verify_totp_enrolment(
    tx: &Tx<'_>,
    env: &Env<'_>,
    session: &mut SessionRecord,
    u: &mut UserWithIdents,
    code: &str,
) -> super::Committed<TotpView> {
    match check_totp(u, code, env.now, true) {
        None => {
            return Err(match u.mfa.as_ref().and_then(|m| m.totp.as_ref()) {
                Some(_) => DomainError::AlreadyVerified,
                None => DomainError::NotFound("totp"),
            })
        }
        Some(false) => {
            return Ok(Err(wrong_second_factor(
                tx,
                env,
                &u.user,
                DomainError::CodeIncorrect,
            )?))
        }
        Some(true) => {}
    }
    let mut m = record_of(u, env.now);
    let (set, codes) = new_backup_codes(env.now);
    m.backup_codes = Some(set);
    if let Some(t) = m.totp.as_mut() {
        t.verified = true;
    }
    let record = m.totp.clone().ok_or(DomainError::NotFound("totp"))?;
    save(tx, env, u, m)?;
    session.second_factor_at = Some(env.now);
    session.updated_at = env.now;
    tx.save_session(session)?;
    Ok(Ok(TotpView {
        record,
        uri: None,
        backup_codes: Some(codes),
    }))
}

/// Removes the user's TOTP (`DELETE /v1/me/totp`, `DELETE /v1/users/{id}/totp`): its id.
fn delete_totp(tx: &Tx<'_>, env: &Env<'_>, u: &mut UserWithIdents) -> Result<String, DomainError> {
    let mut m = record_of(u, env.now);
    let t = m.totp.take().ok_or(DomainError::NotFound("totp"))?;
    save(tx, env, u, m)?;
    Ok(t.id)
}

/// `POST /v1/me/backup_codes`: a new set, replacing any earlier one; the codes are shown this
/// once. Only for a user with a second factor (backup codes stand in for it).
fn create_backup_codes(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
) -> Result<(BackupCodesRecord, Vec<String>), DomainError> {
    if !two_factor_enabled(u) {
        return Err(DomainError::InvalidState(
            "Backup codes need a second factor: add an authenticator app or a second-factor phone number first."
                .into(),
        ));
    }
    let mut m = record_of(u, env.now);
    let (set, codes) = new_backup_codes(env.now);
    m.backup_codes = Some(set.clone());
    save(tx, env, u, m)?;
    Ok((set, codes))
}

/// Removes the user's backup codes (`DELETE /v1/users/{id}/backup_code`).
fn delete_backup_codes(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
) -> Result<(), DomainError> {
    let mut m = record_of(u, env.now);
    m.backup_codes
        .take()
        .ok_or(DomainError::NotFound("backup_code"))?;
    save(tx, env, u, m)
}

/// Turns every second factor off (`DELETE /v1/users/{id}/mfa`): TOTP, backup codes and the
/// phones' reservation (the phones stay).
fn disable_all(tx: &Tx<'_>, env: &Env<'_>, u: &mut UserWithIdents) -> Result<(), DomainError> {
    let mut m = record_of(u, env.now);
    m.totp = None;
    m.backup_codes = None;
    m.phones.clear();
    save(tx, env, u, m)
}

/// `PATCH /v1/me/phone_numbers/{id}`: reserve a verified phone for the second factor (or free
/// it), or make a reserved one the default. The first phone reserved becomes the default; when
/// the default is freed, the next reserved phone is.
fn update_phone(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    phone_id: &str,
    reserved: Option<bool>,
    default: Option<bool>,
) -> Result<Identification, DomainError> {
    let phone = u
        .phones()
        .find(|i| i.id == phone_id)
        .cloned()
        .ok_or(DomainError::NotFound("phone_number"))?;
    let mut m = record_of(u, env.now);
    // Forget reservations of phones that are gone.
    m.phones
        .retain(|p| u.phones().any(|i| i.id == p.identification_id));
    let is_reserved = |m: &MfaRecord| m.phones.iter().any(|p| p.identification_id == phone.id);
    match reserved {
        Some(true) if !phone.verified => {
            return Err(DomainError::ParamValue {
                param: "reserved_for_second_factor",
                reason: "needs a verified phone number".into(),
            })
        }
        Some(true) if !is_reserved(&m) => {
            let first = m.phones.is_empty();
            m.phones.push(SecondFactorPhone {
                identification_id: phone.id.clone(),
                default: first,
            });
        }
        Some(false) => m.phones.retain(|p| p.identification_id != phone.id),
        _ => {}
    }
    match default {
        Some(true) if !is_reserved(&m) => {
            return Err(DomainError::ParamValue {
                param: "default_second_factor",
                reason: "needs a phone number reserved for the second factor".into(),
            })
        }
        Some(true) => {
            for p in &mut m.phones {
                p.default = p.identification_id == phone.id;
            }
        }
        Some(false) => {
            if let Some(p) = m
                .phones
                .iter_mut()
                .find(|p| p.identification_id == phone.id)
            {
                p.default = false;
            }
        }
        None => {}
    }
    if !m.phones.is_empty() && !m.phones.iter().any(|p| p.default) {
        if let Some(p) = m.phones.first_mut() {
            p.default = true;
        }
    }
    save(tx, env, u, m)?;
    Ok(phone)
}

/// `POST /v1/users/{id}/verify_totp`: checks a TOTP code, else a backup code (used up), for
/// the Backend API. Which of the two it was, or a wrong-attempt refusal (committed).
fn verify_by_admin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    code: &str,
) -> super::Committed<Strategy> {
    if !totp_enabled(u) {
        return Err(DomainError::InvalidState(
            "This user does not have TOTP configured.".into(),
        ));
    }
    if check_totp(u, code, env.now, false) == Some(true) {
        save_quietly(tx, env, u)?;
        return Ok(Ok(Strategy::Totp));
    }
    let used = u
        .mfa
        .as_mut()
        .and_then(|m| m.backup_codes.as_mut())
        .is_some_and(|set| consume_backup_code(set, code, env.now));
    if used {
        save_quietly(tx, env, u)?;
        return Ok(Ok(Strategy::BackupCode));
    }
    Ok(Err(wrong_second_factor(
        tx,
        env,
        &u.user,
        DomainError::CodeIncorrect,
    )?))
}

// --- entry points: the signed-in user (`/v1/me…`) and the Backend API ----------------------

/// `POST /v1/me/totp`.
pub fn create_totp_for_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
) -> Result<TotpView, DomainError> {
    let (_, mut u) = accounts::current(tx, env, c, session_id)?;
    create_totp(tx, env, &mut u)
}

/// `POST /v1/me/totp/attempt_verification`.
pub fn verify_totp_for_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
    code: &str,
) -> super::Committed<TotpView> {
    let (mut s, mut u) = accounts::current(tx, env, c, session_id)?;
    verify_totp_enrolment(tx, env, &mut s, &mut u, code)
}

/// `DELETE /v1/me/totp`: the removed TOTP's id.
pub fn delete_totp_for_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
) -> Result<String, DomainError> {
    let (_, mut u) = accounts::current(tx, env, c, session_id)?;
    delete_totp(tx, env, &mut u)
}

/// `POST /v1/me/backup_codes`.
pub fn create_backup_codes_for_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
) -> Result<(BackupCodesRecord, Vec<String>), DomainError> {
    let (_, mut u) = accounts::current(tx, env, c, session_id)?;
    create_backup_codes(tx, env, &mut u)
}

/// `PATCH /v1/me/phone_numbers/{id}`: the user as changed, and the phone.
pub fn update_phone_for_self(
    tx: &Tx<'_>,
    env: &Env<'_>,
    c: &ClientCtx,
    session_id: Option<&str>,
    phone_id: &str,
    reserved: Option<bool>,
    default: Option<bool>,
) -> Result<(UserWithIdents, Identification), DomainError> {
    let (_, mut u) = accounts::current(tx, env, c, session_id)?;
    let phone = update_phone(tx, env, &mut u, phone_id, reserved, default)?;
    Ok((u, phone))
}

/// `DELETE /v1/users/{id}/mfa`.
pub fn disable_all_by_admin(tx: &Tx<'_>, env: &Env<'_>, user_id: &str) -> Result<(), DomainError> {
    let mut u = accounts::get(tx, user_id)?;
    disable_all(tx, env, &mut u)
}

/// `DELETE /v1/users/{id}/totp`.
pub fn delete_totp_by_admin(tx: &Tx<'_>, env: &Env<'_>, user_id: &str) -> Result<(), DomainError> {
    let mut u = accounts::get(tx, user_id)?;
    delete_totp(tx, env, &mut u).map(|_| ())
}

/// `DELETE /v1/users/{id}/backup_code`.
pub fn delete_backup_codes_by_admin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user_id: &str,
) -> Result<(), DomainError> {
    let mut u = accounts::get(tx, user_id)?;
    delete_backup_codes(tx, env, &mut u)
}

/// `POST /v1/users/{id}/verify_totp`: `totp` or `backup_code`, whichever the code was.
pub fn verify_code_by_admin(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user_id: &str,
    code: &str,
) -> super::Committed<Strategy> {
    let mut u = accounts::get(tx, user_id)?;
    verify_by_admin(tx, env, &mut u, code)
}

// --- second-factor attempts (sign-in, reverification) ----------------------------------------

/// The one place every wrong second-factor attempt goes through (sign-in, reverification,
/// TOTP enrolment, the Backend API's check), whatever made it wrong (`refusal`: a wrong code,
/// too many attempts, an expired code): it counts towards the user's lockout
/// ([`attack::failed_attempt`](super::attack::failed_attempt)) and returns the refusal to give
/// (`user_locked` when this attempt locked the user). Attempts are committed by the callers, so
/// the count survives the refusal.
pub fn wrong_second_factor(
    tx: &Tx<'_>,
    env: &Env<'_>,
    user: &UserRecord,
    refusal: DomainError,
) -> Result<DomainError, DomainError> {
    super::attack::failed_attempt(tx, env, user, refusal)
}

/// Sends a second-factor code (`prepare_second_factor`): `phone_code` to a phone reserved for
/// it (`ident_id`, else the default one — iOS may send none), `email_code` to the user's
/// primary address (or `ident_id`) where the instance offers it.
pub fn prepare_code(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &UserWithIdents,
    strategy: Strategy,
    ident_id: Option<&str>,
) -> Result<PendingCode, DomainError> {
    let ident = match strategy {
        Strategy::PhoneCode => {
            let phones = second_factor_phones(u);
            if phones.is_empty() {
                return Err(DomainError::ParamValue {
                    param: "strategy",
                    reason: "is not a second factor of this user".into(),
                });
            }
            match ident_id {
                Some(id) => phones
                    .iter()
                    .find(|(p, _)| p.id == id)
                    .map(|(p, _)| *p)
                    .ok_or(DomainError::NotFound("phone_number"))?,
                None => phones
                    .iter()
                    .find(|(_, d)| *d)
                    .or(phones.first())
                    .map(|(p, _)| *p)
                    .ok_or(DomainError::NotFound("phone_number"))?,
            }
        }
        Strategy::EmailCode if env.settings.email_address.used_for_second_factor => {
            match ident_id {
                Some(id) => u
                    .emails()
                    .find(|e| e.id == id && e.verified)
                    .ok_or(DomainError::NotFound("email_address"))?,
                None => u.primary_email().ok_or(DomainError::ParamValue {
                    param: "strategy",
                    reason: "this user has no email address".into(),
                })?,
            }
        }
        Strategy::Totp | Strategy::BackupCode => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: format!("{} needs no preparation", strategy.as_str()),
            })
        }
        _ => {
            return Err(DomainError::ParamValue {
                param: "strategy",
                reason: format!("{:?} is not a second factor here", strategy.as_str()),
            })
        }
    };
    let (kind, test) = match ident.kind {
        IdentKind::EmailAddress => (MessageKind::Email, messages::is_test_email(&ident.value)),
        IdentKind::PhoneNumber => (MessageKind::Sms, messages::is_test_phone(&ident.value)),
    };
    let code = if test {
        TEST_CODE.to_owned()
    } else {
        ids::six_digit_code()
    };
    if !test {
        messages::send_code(
            tx,
            env,
            kind,
            &ident.value,
            Template::VerificationCode,
            &code,
        )?;
    }
    Ok(PendingCode {
        strategy: strategy.into(),
        code: Secret::new(code),
        attempts: 0,
        expire_at: env.now + env.settings.code_lifetime_secs * 1000,
        status: VerificationStatus::Unverified,
        identification_id: Some(ident.id.clone()),
    })
}

/// Checks a second-factor attempt of `u` with `strategy` and `code` against `pending` (the
/// verification so far, which it updates). `Ok(Err(_))`: a wrong attempt, to commit.
pub fn attempt(
    tx: &Tx<'_>,
    env: &Env<'_>,
    u: &mut UserWithIdents,
    pending: &mut Option<SecondFactor>,
    strategy: Strategy,
    code: &str,
) -> super::Committed<()> {
    super::attack::ensure_not_locked(tx, env, &u.user)?;
    let supported = supported_second_factors(env, u);
    if !supported.iter().any(|(s, _, _)| *s == strategy) {
        return Err(DomainError::ParamValue {
            param: "strategy",
            reason: format!(
                "{:?} is not a second factor of this user",
                strategy.as_str()
            ),
        });
    }
    let attempts = |p: &Option<SecondFactor>| match p {
        Some(SecondFactor::Totp { attempts, .. } | SecondFactor::BackupCode { attempts, .. }) => {
            attempts + 1
        }
        _ => 1,
    };
    match strategy {
        Strategy::Totp => {
            let ok = check_totp(u, code, env.now, false) == Some(true);
            *pending = Some(SecondFactor::Totp {
                verified: ok,
                attempts: attempts(pending),
            });
            if !ok {
                return Ok(Err(wrong_second_factor(
                    tx,
                    env,
                    &u.user,
                    DomainError::CodeIncorrect,
                )?));
            }
            save_quietly(tx, env, u)?;
        }
        Strategy::BackupCode => {
            let ok = u
                .mfa
                .as_mut()
                .and_then(|m| m.backup_codes.as_mut())
                .is_some_and(|set| consume_backup_code(set, code, env.now));
            *pending = Some(SecondFactor::BackupCode {
                verified: ok,
                attempts: attempts(pending),
            });
            if !ok {
                return Ok(Err(wrong_second_factor(
                    tx,
                    env,
                    &u.user,
                    DomainError::CodeIncorrect,
                )?));
            }
            // One code fewer: `backup_code_enabled` may have changed.
            u.user.updated_at = env.now;
            save_quietly(tx, env, u)?;
            tx.save_user(&u.user)?;
        }
        _ => {
            let p = match pending {
                Some(SecondFactor::Code(p)) if p.strategy == strategy => p,
                _ => {
                    return Err(DomainError::InvalidState(format!(
                        "prepare_second_factor with {strategy} first"
                    )))
                }
            };
            if let Err(refusal) = check_code(p, code, env) {
                // Already verified is no wrong attempt; any other refusal is.
                if matches!(refusal, DomainError::AlreadyVerified) {
                    return Err(refusal);
                }
                return Ok(Err(wrong_second_factor(tx, env, &u.user, refusal)?));
            }
        }
    }
    super::attack::succeeded(tx, &u.user)?;
    Ok(Ok(()))
}
