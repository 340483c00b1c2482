//! Users and their identifications: normalising, uniqueness, creation, deletion.

use serde_json::{Map, Value};

use super::settings::Settings;
use super::{events, ids, sessions, DomainError, Env};
use crate::secret::Secret;
use crate::store::records::{IdentKind, Identification, SessionStatus, UserRecord, UserWithIdents};
use crate::store::{ReadTx, Tx};
use latchkey_protocol::{AnyStrategy, EventType, Strategy};

/// Lower-cases and checks an email address.
pub fn normalize_email(raw: &str) -> Result<String, DomainError> {
    let email = raw.trim().to_lowercase();
    let bad = || DomainError::ParamFormat {
        param: "email_address",
        reason: "must be a valid email address".into(),
    };
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if local.is_empty()
        || email.len() > 254
        || !domain_ok
        || local.chars().any(|c| c.is_whitespace() || c == '@')
    {
        return Err(bad());
    }
    Ok(email)
}

/// Reduces a phone number to E.164 (`+` and digits), accepting spaces, dashes, dots, brackets.
pub fn normalize_phone(raw: &str) -> Result<String, DomainError> {
    let trimmed = raw.trim();
    let bad = || DomainError::ParamFormat {
        param: "phone_number",
        reason: "must be in international format, such as +12015550100".into(),
    };
    let rest = trimmed.strip_prefix('+').ok_or_else(bad)?;
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(bad()),
        }
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(bad());
    }
    Ok(format!("+{digits}"))
}

pub fn validate_username(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim().to_lowercase();
    let ok = (4..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(name)
    } else {
        Err(DomainError::ParamFormat {
            param: "username",
            reason: "must be 4 to 64 letters, digits, '_', '-' or '.'".into(),
        })
    }
}

pub fn ensure_email_free(tx: &ReadTx<'_>, email: &str) -> Result<(), DomainError> {
    if tx.ident_by_value(IdentKind::EmailAddress, email)?.is_some() {
        return Err(DomainError::IdentifierExists {
            param: "email_address",
        });
    }
    Ok(())
}

pub fn ensure_phone_free(tx: &ReadTx<'_>, phone: &str) -> Result<(), DomainError> {
    if tx.ident_by_value(IdentKind::PhoneNumber, phone)?.is_some() {
        return Err(DomainError::IdentifierExists {
            param: "phone_number",
        });
    }
    Ok(())
}

pub fn ensure_username_free(tx: &ReadTx<'_>, username: &str) -> Result<(), DomainError> {
    if tx.user_by_username(username)?.is_some() {
        return Err(DomainError::IdentifierExists { param: "username" });
    }
    Ok(())
}

/// Finds the user a sign-in identifier names: an email, a phone number or a username, as far as
/// the instance allows each as an identifier.
pub fn find_by_identifier(
    tx: &ReadTx<'_>,
    settings: &Settings,
    identifier: &str,
) -> Result<Option<UserWithIdents>, DomainError> {
    match user_id_of_identifier(tx, settings, identifier)? {
        Some(id) => Ok(tx.user_with_idents(&id)?),
        None => Ok(None),
    }
}

/// The id of the user a sign-in identifier names (see [`find_by_identifier`]).
pub fn user_id_of_identifier(
    tx: &ReadTx<'_>,
    settings: &Settings,
    identifier: &str,
) -> Result<Option<String>, DomainError> {
    let identifier = identifier.trim();
    let user_id = if identifier.contains('@') {
        if !settings.email_address.used_for_first_factor {
            return Ok(None);
        }
        let email = identifier.to_lowercase();
        // An identification added to an account and not verified yet signs nobody in.
        tx.ident_by_value(IdentKind::EmailAddress, &email)?
            .filter(|i| i.verified)
            .map(|i| i.user_id)
    } else if identifier.starts_with('+') {
        if !settings.phone_number.used_for_first_factor {
            return Ok(None);
        }
        match normalize_phone(identifier) {
            Ok(p) => tx
                .ident_by_value(IdentKind::PhoneNumber, &p)?
                .filter(|i| i.verified)
                .map(|i| i.user_id),
            Err(_) => None,
        }
    } else {
        if !settings.username.used_for_first_factor {
            return Ok(None);
        }
        tx.user_by_username(&identifier.to_lowercase())?
            .map(|u| u.id)
    };
    Ok(user_id)
}

/// Everything needed to create a user.
#[derive(Debug)]
pub struct NewUser {
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// How the identifications were verified: `email_code`/`phone_code` at sign-up, `admin`
    /// through the Backend API.
    /// How the emails were verified (`from_oauth_custom_<key>` for an OAuth sign-up's).
    pub email_strategy: AnyStrategy,
    pub phone_strategy: Strategy,
    pub username: Option<String>,
    pub password_hash: Option<Secret>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub external_id: Option<String>,
    pub public_metadata: Map<String, Value>,
    pub private_metadata: Map<String, Value>,
    pub unsafe_metadata: Map<String, Value>,
    pub created_at: Option<i64>,
}

/// Creates a user; identifiers must be normalised already. Uniqueness is checked here.
pub fn create(tx: &Tx<'_>, env: &Env<'_>, new: NewUser) -> Result<UserWithIdents, DomainError> {
    create_with(tx, env, new, |_| Ok(()))
}

/// [`create`], running `before_event` on the stored user before `user.created` is sent (what
/// it stores with the user, an external account say, is in the event).
pub fn create_with(
    tx: &Tx<'_>,
    env: &Env<'_>,
    new: NewUser,
    before_event: impl FnOnce(&UserWithIdents) -> Result<(), DomainError>,
) -> Result<UserWithIdents, DomainError> {
    let now = env.now;
    let mut user = UserRecord::new(ids::new_id("user"), new.created_at.unwrap_or(now));
    user.updated_at = now;
    if let Some(name) = &new.username {
        ensure_username_free(tx, name)?;
    }
    user.username = new.username;
    user.first_name = new.first_name;
    user.last_name = new.last_name;
    user.external_id = new.external_id;
    user.password_last_updated_at = new.password_hash.as_ref().map(|_| now);
    user.password_hash = new.password_hash;
    user.public_metadata = new.public_metadata;
    user.private_metadata = new.private_metadata;
    user.unsafe_metadata = new.unsafe_metadata;
    let mut idents = Vec::new();
    for email in &new.emails {
        ensure_email_free(tx, email)?;
        idents.push(ident(
            &user.id,
            IdentKind::EmailAddress,
            email,
            new.email_strategy.clone(),
            now,
        ));
    }
    for phone in &new.phones {
        ensure_phone_free(tx, phone)?;
        idents.push(ident(
            &user.id,
            IdentKind::PhoneNumber,
            phone,
            new.phone_strategy.into(),
            now,
        ));
    }
    user.primary_email_address_id = idents
        .iter()
        .find(|i| i.kind == IdentKind::EmailAddress)
        .map(|i| i.id.clone());
    user.primary_phone_number_id = idents
        .iter()
        .find(|i| i.kind == IdentKind::PhoneNumber)
        .map(|i| i.id.clone());
    tx.save_user(&user)?;
    for i in &idents {
        tx.save_ident(i)?;
    }
    let created = UserWithIdents::new(user, idents);
    before_event(&created)?;
    events::user(tx, env, EventType::UserCreated, &created)?;
    Ok(created)
}

fn ident(
    user_id: &str,
    kind: IdentKind,
    value: &str,
    strategy: AnyStrategy,
    now: i64,
) -> Identification {
    Identification {
        id: ids::new_id("idn"),
        user_id: user_id.to_owned(),
        kind,
        value: value.to_owned(),
        verification_strategy: strategy,
        verified: true,
        created_at: now,
        updated_at: now,
    }
}

/// Deletes a user; their active sessions end as `removed`.
pub fn delete(tx: &Tx<'_>, env: &Env<'_>, user_id: &str) -> Result<(), DomainError> {
    sessions::end_all_of_user(tx, env, user_id, SessionStatus::Removed)?;
    if !tx.delete_user(user_id)? {
        return Err(DomainError::NotFound("user"));
    }
    events::user_deleted(tx, env, user_id)
}

/// A user's email addresses, phone numbers and username: what a new password may not be.
pub fn identifier_values(u: &UserWithIdents) -> Vec<&str> {
    u.idents
        .iter()
        .map(|i| i.value.as_str())
        .chain(u.user.username.as_deref())
        .collect()
}

/// Checks that a user may sign in.
pub fn ensure_may_sign_in(user: &UserRecord) -> Result<(), DomainError> {
    if user.banned {
        return Err(DomainError::UserBanned);
    }
    if user.locked {
        // Locked with no end (a lock of the Backend API while lockout is off, or an import);
        // a lockout with an end is `attack::ensure_not_locked`'s.
        return Err(DomainError::UserLocked {
            expires_in_secs: None,
        });
    }
    Ok(())
}

/// Deep-merges a metadata patch: objects merge, `null` removes a key.
pub fn merge_metadata(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    let mut value = Value::Object(std::mem::take(target));
    super::settings::merge(&mut value, &Value::Object(patch.clone()));
    if let Value::Object(map) = value {
        *target = map;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn normalises_identifiers() {
        assert_eq!(
            normalize_email(" Jane@Example.COM ").unwrap(),
            "jane@example.com"
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "a@b@c.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize_phone("+1 (201) 555-0100").unwrap(),
            "+12015550100"
        );
        for bad in ["2015550100", "+1", "+1 201 555 01x0", "+0123456789"] {
            assert!(normalize_phone(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_username("Jane_Doe").unwrap(), "jane_doe");
        assert!(validate_username("ab").is_err());
        assert!(validate_username("has space").is_err());
    }

    #[test]
    fn metadata_merges_deeply() {
        let mut m: Map<String, Value> =
            serde_json::from_str(r#"{"a":{"x":1,"y":2},"keep":true}"#).unwrap();
        let patch: Map<String, Value> =
            serde_json::from_str(r#"{"a":{"y":null,"z":3},"new":1}"#).unwrap();
        merge_metadata(&mut m, &patch);
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"a":{"x":1,"z":3},"keep":true,"new":1})
        );
    }
}
