//! Moving an instance between stores, and seeding fixtures: one versioned JSON document with
//! the users (password digests, identifications, metadata, accounts at OAuth providers), the
//! webhook endpoints, the redirect URLs and the settings. `auth-emulator export` writes it;
//! `auth-emulator import` and `start --import` apply it in one transaction, or refuse it whole,
//! saying where it cannot be applied.
//!
//! Sessions, clients, messages, jobs and delivery logs are not part of it: they are an
//! instance's traffic, not its fixtures (a user signs in again after a move).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::settings::Settings;
use super::{passwords, users};
use crate::secret::Secret;
use crate::store::records::{
    BackupCodesRecord, ExternalAccountRecord, IdentKind, Identification, ImageRecord, MfaRecord,
    SecondFactorPhone, TotpRecord, UserRecord,
};
use crate::store::{EndpointRecord, ReadTx, StoreError, Tx, UserQuery};
use base64::Engine as _;
use latchkey_protocol::{AnyStrategy, CustomProvider};

/// The document's format version; a document of another version is refused.
pub const VERSION: u32 = 1;

/// The whole document. Its digests, webhook secrets and OAuth access tokens are [`Secret`]s: no
/// `Debug` shows them.
#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Always [`VERSION`] when written.
    pub latchkey_export: u32,
    /// The instance's settings, as `GET /_emulator/v1/instance` shows them; absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    #[serde(default)]
    pub users: Vec<UserDoc>,
    #[serde(default)]
    pub webhook_endpoints: Vec<EndpointDoc>,
    /// The allowlist of redirect URLs (Backend API `/v1/redirect_urls`); absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_urls: Vec<RedirectUrlDoc>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedirectUrlDoc {
    pub id: String,
    pub url: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserDoc {
    pub id: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// A PHC string: argon2id/argon2i, or bcrypt (`$2b$…`).
    #[serde(default)]
    pub password_digest: Option<Secret>,
    #[serde(default)]
    pub public_metadata: Map<String, Value>,
    #[serde(default)]
    pub private_metadata: Map<String, Value>,
    #[serde(default)]
    pub unsafe_metadata: Map<String, Value>,
    #[serde(default)]
    pub banned: bool,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub primary_email_address_id: Option<String>,
    #[serde(default)]
    pub primary_phone_number_id: Option<String>,
    #[serde(default)]
    pub password_last_updated_at: Option<i64>,
    #[serde(default)]
    pub last_sign_in_at: Option<i64>,
    #[serde(default)]
    pub last_active_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub identifications: Vec<IdentDoc>,
    /// The user's second factors: TOTP secret, backup-code digests, second-factor phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factors: Option<SecondFactorsDoc>,
    /// Failed verifications in a row and a lockout (see `domain/attack.rs`); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout: Option<LockoutDoc>,
    /// The profile image, bytes and all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_image: Option<ImageDoc>,
    /// The user's accounts at OAuth providers, oldest first, access tokens and all; absent:
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_accounts: Vec<ExternalAccountDoc>,
}

/// A user's account at an OAuth provider (see `store::records::ExternalAccountRecord`); its
/// user is the one it is listed under. One per (`provider`, `provider_user_id`).
#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExternalAccountDoc {
    /// `eac_…`.
    pub id: String,
    /// The strategy naming the provider: `oauth_google`, `oauth_custom_<name>`.
    pub provider: String,
    /// The provider's id of the user (`sub`).
    pub provider_user_id: String,
    /// One of the user's email identifications: the one this account verified or was linked
    /// through.
    #[serde(default)]
    pub identification_id: Option<String>,
    pub email_address: String,
    #[serde(default)]
    pub email_address_verified: bool,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// Space-separated, as the provider granted them.
    #[serde(default)]
    pub approved_scopes: String,
    /// The provider's access token (Backend API `oauth_access_tokens`).
    #[serde(default)]
    pub access_token: Option<Secret>,
    #[serde(default)]
    pub access_token_expire_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A profile image in the document: its bytes in standard base64.
#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageDoc {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub data_base64: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockoutDoc {
    pub failed_attempts: i64,
    /// Locked until then (ms, emulator clock).
    #[serde(default)]
    pub locked_until: Option<i64>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorsDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<BackupCodesDoc>,
    /// Phone identifications reserved for the second factor.
    #[serde(default)]
    pub phones: Vec<SecondFactorPhoneDoc>,
    #[serde(default)]
    pub enabled_at: Option<i64>,
    #[serde(default)]
    pub disabled_at: Option<i64>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TotpDoc {
    pub id: String,
    /// Base32, as the user's authenticator app holds it.
    pub secret: Secret,
    pub verified: bool,
    #[serde(default)]
    pub last_used_step: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackupCodesDoc {
    pub id: String,
    pub salt: Secret,
    /// Hex SHA-256 digests of the unused codes (see `domain/mfa.rs`).
    pub digests: Vec<Secret>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorPhoneDoc {
    pub identification_id: String,
    #[serde(default)]
    pub default: bool,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentDoc {
    pub id: String,
    /// `email_address` or `phone_number`.
    pub kind: IdentKind,
    pub value: String,
    pub verification_strategy: AnyStrategy,
    pub verified: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointDoc {
    pub id: String,
    pub url: String,
    /// Event types; empty: every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// `whsec_…`
    pub secret: Secret,
    pub created_at: i64,
}

/// Why a document cannot be applied, and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not JSON, or not an export document of a version this build reads.
    #[error("the document is not an export: {0}")]
    Parse(String),
    /// A part of the document cannot be applied; nothing was.
    #[error("{at}: {problem}")]
    Refused {
        /// Where in the document (`users[1].identifications[0].value`).
        at: String,
        /// What is wrong there.
        problem: String,
    },
    /// The database failed; nothing was applied.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn refuse(at: impl Into<String>, problem: impl Into<String>) -> ImportError {
    ImportError::Refused {
        at: at.into(),
        problem: problem.into(),
    }
}

/// The instance's users (with their external accounts), webhook endpoints, redirect URLs and
/// settings as one document (each in the order they were created).
pub fn export(tx: &ReadTx<'_>) -> Result<Document, StoreError> {
    let mut accounts: HashMap<String, Vec<ExternalAccountDoc>> = HashMap::new();
    for a in tx.all_external_accounts()? {
        accounts
            .entry(a.user_id.clone())
            .or_default()
            .push(external_account_doc(a));
    }
    let mut users = Vec::new();
    let page = 500;
    let mut offset = 0;
    loop {
        let q = UserQuery {
            order_by: Some(crate::store::UserOrder {
                field: crate::store::UserOrderField::CreatedAt,
                descending: false,
            }),
            limit: page,
            offset,
            ..UserQuery::default()
        };
        let batch = tx.list_users(&q)?;
        let n = batch.len();
        for u in batch {
            let lockout = tx.lockout(&u.user.id)?.map(|l| LockoutDoc {
                failed_attempts: l.failed_attempts,
                locked_until: l.locked_until,
            });
            let image = match &u.image_id {
                Some(_) => tx.image_of_user(&u.user.id)?.map(|i| ImageDoc {
                    id: i.id,
                    name: i.name,
                    content_type: i.content_type,
                    data_base64: base64::engine::general_purpose::STANDARD.encode(&i.data),
                    created_at: i.created_at,
                }),
                None => None,
            };
            let external_accounts = accounts.remove(&u.user.id).unwrap_or_default();
            users.push(UserDoc {
                lockout,
                profile_image: image,
                external_accounts,
                ..user_doc(u.user, u.idents, u.mfa)
            });
        }
        if (n as i64) < page {
            break;
        }
        offset += page;
    }
    let webhook_endpoints = tx
        .endpoints()?
        .into_iter()
        .map(|e| EndpointDoc {
            id: e.id,
            url: e.url,
            events: e.events,
            secret: e.secret.clone(),
            created_at: e.created_at,
        })
        .collect();
    let settings = match tx.instance_value(super::settings::STORE_KEY)? {
        Some(json) => Some(
            serde_json::from_str::<Value>(&json)
                .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?,
        ),
        None => None,
    };
    let redirect_urls = tx
        .redirect_urls()?
        .into_iter()
        .map(|r| RedirectUrlDoc {
            id: r.id,
            url: r.url,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect();
    Ok(Document {
        latchkey_export: VERSION,
        settings,
        users,
        webhook_endpoints,
        redirect_urls,
    })
}

fn second_factors_doc(m: MfaRecord) -> SecondFactorsDoc {
    SecondFactorsDoc {
        totp: m.totp.map(|t| TotpDoc {
            id: t.id,
            secret: t.secret,
            verified: t.verified,
            last_used_step: t.last_used_step,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }),
        backup_codes: m.backup_codes.map(|b| BackupCodesDoc {
            id: b.id,
            salt: b.salt,
            digests: b.digests,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }),
        phones: m
            .phones
            .into_iter()
            .map(|p| SecondFactorPhoneDoc {
                identification_id: p.identification_id,
                default: p.default,
            })
            .collect(),
        enabled_at: m.enabled_at,
        disabled_at: m.disabled_at,
    }
}

/// The record of a document's second factors, checked (`at` names the field in errors).
fn second_factors_record(
    u: &UserDoc,
    d: &SecondFactorsDoc,
    at: &dyn Fn(&str) -> String,
) -> Result<MfaRecord, ImportError> {
    if let Some(t) = &d.totp {
        let key = super::mfa::totp::base32_decode(t.secret.expose());
        if key.is_none_or(|k| k.len() < 10) {
            return Err(refuse(
                at("second_factors.totp.secret"),
                "not a base32 TOTP secret of at least 80 bits",
            ));
        }
    }
    if let Some(b) = &d.backup_codes {
        let hex64 = |s: &Secret| {
            s.expose().len() == 64 && s.expose().bytes().all(|c| c.is_ascii_hexdigit())
        };
        if b.salt.expose().is_empty() || !b.digests.iter().all(hex64) {
            return Err(refuse(
                at("second_factors.backup_codes"),
                "needs a salt and hex SHA-256 digests",
            ));
        }
    }
    for (k, p) in d.phones.iter().enumerate() {
        if !u
            .identifications
            .iter()
            .any(|i| i.id == p.identification_id && i.kind == IdentKind::PhoneNumber)
        {
            return Err(refuse(
                at(&format!("second_factors.phones[{k}].identification_id")),
                format!(
                    "{} is not one of the user's phone numbers",
                    p.identification_id
                ),
            ));
        }
    }
    Ok(MfaRecord {
        user_id: u.id.clone(),
        totp: d.totp.as_ref().map(|t| TotpRecord {
            id: t.id.clone(),
            secret: t.secret.clone(),
            verified: t.verified,
            last_used_step: t.last_used_step,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }),
        backup_codes: d.backup_codes.as_ref().map(|b| BackupCodesRecord {
            id: b.id.clone(),
            salt: b.salt.clone(),
            digests: b.digests.clone(),
            created_at: b.created_at,
            updated_at: b.updated_at,
        }),
        phones: d
            .phones
            .iter()
            .map(|p| SecondFactorPhone {
                identification_id: p.identification_id.clone(),
                default: p.default,
            })
            .collect(),
        enabled_at: d.enabled_at,
        disabled_at: d.disabled_at,
        updated_at: u.updated_at,
    })
}

fn user_doc(u: UserRecord, idents: Vec<Identification>, mfa: Option<MfaRecord>) -> UserDoc {
    UserDoc {
        second_factors: mfa.map(second_factors_doc),
        id: u.id,
        external_id: u.external_id,
        username: u.username,
        first_name: u.first_name,
        last_name: u.last_name,
        password_digest: u.password_hash,
        public_metadata: u.public_metadata,
        private_metadata: u.private_metadata,
        unsafe_metadata: u.unsafe_metadata,
        banned: u.banned,
        locked: u.locked,
        primary_email_address_id: u.primary_email_address_id,
        primary_phone_number_id: u.primary_phone_number_id,
        password_last_updated_at: u.password_last_updated_at,
        last_sign_in_at: u.last_sign_in_at,
        last_active_at: u.last_active_at,
        created_at: u.created_at,
        updated_at: u.updated_at,
        identifications: idents
            .into_iter()
            .map(|i| IdentDoc {
                id: i.id,
                kind: i.kind,
                value: i.value,
                verification_strategy: i.verification_strategy,
                verified: i.verified,
                created_at: i.created_at,
                updated_at: i.updated_at,
            })
            .collect(),
        lockout: None,
        profile_image: None,
        external_accounts: Vec::new(),
    }
}

fn external_account_doc(a: ExternalAccountRecord) -> ExternalAccountDoc {
    ExternalAccountDoc {
        id: a.id,
        provider: a.provider,
        provider_user_id: a.provider_user_id,
        identification_id: a.identification_id,
        email_address: a.email_address,
        email_address_verified: a.email_address_verified,
        first_name: a.first_name,
        last_name: a.last_name,
        image_url: a.image_url,
        username: a.username,
        approved_scopes: a.approved_scopes,
        access_token: a.access_token,
        access_token_expire_at: a.access_token_expire_at,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// The record of a user's external account in the document, checked: a new id, a provider
/// strategy, a provider user id no other account has (`seen` holds the document's so far), and
/// one of the user's email addresses if it names one (`at` names the field in errors).
fn external_account_record(
    tx: &Tx<'_>,
    u: &UserDoc,
    a: &ExternalAccountDoc,
    seen: &mut HashSet<(String, String)>,
    seen_ids: &mut HashSet<String>,
    at: &dyn Fn(&str) -> String,
) -> Result<ExternalAccountRecord, ImportError> {
    if a.id.len() <= "eac_".len()
        || !a.id.starts_with("eac_")
        || !seen_ids.insert(a.id.clone())
        || tx.external_account(&a.id)?.is_some()
    {
        return Err(refuse(
            at("id"),
            format!("{:?} is not a new external account id (eac_…)", a.id),
        ));
    }
    if a.provider.len() <= "oauth_".len() || !a.provider.starts_with("oauth_") {
        return Err(refuse(
            at("provider"),
            format!(
                "{:?} is not a provider's strategy (oauth_google, oauth_custom_…)",
                a.provider
            ),
        ));
    }
    // A custom provider's account is only ever found again under a well-formed key.
    if let Some(key) = a.provider.strip_prefix("oauth_custom_") {
        if CustomProvider::new(key).is_none() {
            return Err(refuse(
                at("provider"),
                format!(
                    "{:?}: a custom provider's key (after oauth_custom_) must be {}",
                    a.provider,
                    CustomProvider::KEY_RULE
                ),
            ));
        }
    }
    if a.provider_user_id.trim().is_empty() {
        return Err(refuse(at("provider_user_id"), "must not be empty"));
    }
    if !seen.insert((a.provider.clone(), a.provider_user_id.clone()))
        || tx
            .external_account_by_provider_user(&a.provider, &a.provider_user_id)?
            .is_some()
    {
        return Err(refuse(
            at("provider_user_id"),
            format!(
                "{:?} at {} is another external account's",
                a.provider_user_id, a.provider
            ),
        ));
    }
    if let Some(i) = &a.identification_id {
        if !u
            .identifications
            .iter()
            .any(|x| &x.id == i && x.kind == IdentKind::EmailAddress)
        {
            return Err(refuse(
                at("identification_id"),
                format!("{i} is not one of the user's email addresses"),
            ));
        }
    }
    Ok(ExternalAccountRecord {
        id: a.id.clone(),
        user_id: u.id.clone(),
        provider: a.provider.clone(),
        provider_user_id: a.provider_user_id.clone(),
        identification_id: a.identification_id.clone(),
        email_address: a.email_address.clone(),
        email_address_verified: a.email_address_verified,
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        image_url: a.image_url.clone(),
        username: a.username.clone(),
        approved_scopes: a.approved_scopes.clone(),
        access_token: a.access_token.clone(),
        access_token_expire_at: a.access_token_expire_at,
        created_at: a.created_at,
        updated_at: a.updated_at,
    })
}

/// Parses a document (refusing another version, unknown fields, malformed values — serde says
/// at which line and column).
pub fn parse(text: &str) -> Result<Document, ImportError> {
    let raw: Value = serde_json::from_str(text).map_err(|e| ImportError::Parse(e.to_string()))?;
    match raw.get("latchkey_export").and_then(Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(refuse(
                "latchkey_export",
                format!("version {v}; this auth-emulator reads version {VERSION}"),
            ))
        }
        None => return Err(refuse("latchkey_export", "missing: not a Latchkey export")),
    }
    serde_json::from_str(text).map_err(|e| ImportError::Parse(e.to_string()))
}

/// Applies `doc` in the caller's transaction: every user (with their external accounts),
/// endpoint, redirect URL and the settings, or nothing (the first problem is returned and the
/// transaction rolls back). Nothing in it may collide with what the instance holds already.
pub fn import(tx: &Tx<'_>, doc: &Document) -> Result<Counts, ImportError> {
    if doc.latchkey_export != VERSION {
        return Err(refuse(
            "latchkey_export",
            format!(
                "version {}; this auth-emulator reads version {VERSION}",
                doc.latchkey_export
            ),
        ));
    }
    if let Some(settings) = &doc.settings {
        let parsed: Settings = serde_json::from_value(settings.clone())
            .map_err(|e| refuse("settings", e.to_string()))?;
        parsed.validate().map_err(|e| refuse("settings", e))?;
        let json = serde_json::to_string(&parsed).map_err(|e| refuse("settings", e.to_string()))?;
        tx.set_instance_value(super::settings::STORE_KEY, &json)?;
    }
    let mut user_ids = HashSet::new();
    let mut ident_ids = HashSet::new();
    let mut values = HashSet::new();
    let mut usernames = HashSet::new();
    let mut account_ids = HashSet::new();
    let mut provider_users = HashSet::new();
    for (n, u) in doc.users.iter().enumerate() {
        let at = |field: &str| format!("users[{n}].{field}");
        if !u.id.starts_with("user_") || u.id.len() < 6 {
            return Err(refuse(
                at("id"),
                format!("{:?} is not a user id (user_…)", u.id),
            ));
        }
        if !user_ids.insert(u.id.as_str()) || tx.user(&u.id)?.is_some() {
            return Err(refuse(at("id"), format!("{} exists already", u.id)));
        }
        // Normalized as the API stores them, so sign-in finds what was imported.
        let username = u
            .username
            .as_deref()
            .map(users::validate_username)
            .transpose()
            .map_err(|e| refuse(at("username"), e.to_string()))?;
        if let Some(name) = &username {
            if !usernames.insert(name.clone()) || tx.user_by_username(name)?.is_some() {
                return Err(refuse(at("username"), format!("{name:?} is taken")));
            }
        }
        let digest = match &u.password_digest {
            None => None,
            Some(d) => {
                let d = d.expose();
                let hasher = if d.starts_with("$argon2id$") {
                    "argon2id"
                } else if d.starts_with("$argon2i$") {
                    "argon2i"
                } else {
                    "bcrypt"
                };
                Some(
                    passwords::import_digest(hasher, d)
                        .map_err(|e| refuse(at("password_digest"), e.to_string()))?,
                )
            }
        };
        let mut record = UserRecord::new(u.id.clone(), u.created_at);
        record.external_id = u.external_id.clone();
        record.username = username;
        record.first_name = u.first_name.clone();
        record.last_name = u.last_name.clone();
        record.password_hash = digest;
        record.public_metadata = u.public_metadata.clone();
        record.private_metadata = u.private_metadata.clone();
        record.unsafe_metadata = u.unsafe_metadata.clone();
        record.banned = u.banned;
        record.locked = u.locked;
        record.primary_email_address_id = u.primary_email_address_id.clone();
        record.primary_phone_number_id = u.primary_phone_number_id.clone();
        record.password_last_updated_at = u.password_last_updated_at;
        record.last_sign_in_at = u.last_sign_in_at;
        record.last_active_at = u.last_active_at;
        record.updated_at = u.updated_at;
        tx.save_user(&record)?;
        if let Some(l) = &u.lockout {
            if l.failed_attempts < 0 {
                return Err(refuse(
                    format!("users[{n}].lockout.failed_attempts"),
                    "must not be negative",
                ));
            }
            tx.save_lockout(&crate::store::records::LockoutRecord {
                user_id: record.id.clone(),
                failed_attempts: l.failed_attempts,
                locked_until: l.locked_until,
                updated_at: record.updated_at,
            })?;
        }
        for (k, i) in u.identifications.iter().enumerate() {
            let at = |field: &str| format!("users[{n}].identifications[{k}].{field}");
            if !i.id.starts_with("idn_")
                || !ident_ids.insert(i.id.as_str())
                || tx.ident(&i.id)?.is_some()
            {
                return Err(refuse(
                    at("id"),
                    format!("{:?} is not a new identification id (idn_…)", i.id),
                ));
            }
            let value = match i.kind {
                IdentKind::EmailAddress => users::normalize_email(&i.value),
                IdentKind::PhoneNumber => users::normalize_phone(&i.value),
            }
            .map_err(|e| refuse(at("value"), e.to_string()))?;
            if !values.insert((i.kind.as_str(), value.clone()))
                || tx.ident_by_value(i.kind, &value)?.is_some()
            {
                return Err(refuse(
                    at("value"),
                    format!("{value:?} belongs to another user"),
                ));
            }
            tx.save_ident(&Identification {
                id: i.id.clone(),
                user_id: u.id.clone(),
                kind: i.kind,
                value,
                verification_strategy: i.verification_strategy.clone(),
                verified: i.verified,
                created_at: i.created_at,
                updated_at: i.updated_at,
            })?;
        }
        if let Some(img) = &u.profile_image {
            let at = |field: &str| format!("users[{n}].profile_image.{field}");
            if !img.id.starts_with("img_") || tx.image(&img.id)?.is_some() {
                return Err(refuse(
                    at("id"),
                    format!("{:?} is not a new image id (img_…)", img.id),
                ));
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(&img.data_base64)
                .map_err(|e| refuse(at("data_base64"), e.to_string()))?;
            let content_type = super::profile_images::sniff(&data)
                .ok_or_else(|| refuse(at("data_base64"), "not a PNG, JPEG, GIF or WebP image"))?;
            if data.len() > super::profile_images::MAX_IMAGE_BYTES {
                return Err(refuse(at("data_base64"), "larger than an upload may be"));
            }
            tx.save_image(&ImageRecord {
                id: img.id.clone(),
                user_id: u.id.clone(),
                name: img.name.clone(),
                content_type: content_type.to_owned(),
                data,
                created_at: img.created_at,
            })?;
        }
        for (field, primary, kind) in [
            (
                "primary_email_address_id",
                &u.primary_email_address_id,
                IdentKind::EmailAddress,
            ),
            (
                "primary_phone_number_id",
                &u.primary_phone_number_id,
                IdentKind::PhoneNumber,
            ),
        ] {
            if let Some(p) = primary {
                if !u
                    .identifications
                    .iter()
                    .any(|i| &i.id == p && i.kind == kind)
                {
                    return Err(refuse(
                        at(field),
                        format!("{p} is not one of the user's {}s", kind.as_str()),
                    ));
                }
            }
        }
        for (k, a) in u.external_accounts.iter().enumerate() {
            let at = |field: &str| format!("users[{n}].external_accounts[{k}].{field}");
            let record =
                external_account_record(tx, u, a, &mut provider_users, &mut account_ids, &at)?;
            tx.save_external_account(&record)?;
        }
    }
    for (n, u) in doc.users.iter().enumerate() {
        if let Some(d) = &u.second_factors {
            let at = |field: &str| format!("users[{n}].{field}");
            tx.save_mfa(&second_factors_record(u, d, &at)?)?;
        }
    }
    let existing = tx.endpoints()?;
    if existing.len() + doc.webhook_endpoints.len() > super::webhooks::MAX_ENDPOINTS {
        return Err(refuse(
            "webhook_endpoints",
            format!(
                "an instance has at most {} endpoints; it has {} and the document adds {}",
                super::webhooks::MAX_ENDPOINTS,
                existing.len(),
                doc.webhook_endpoints.len()
            ),
        ));
    }
    let mut endpoint_ids: HashSet<&str> = existing.iter().map(|e| e.id.as_str()).collect();
    for (n, e) in doc.webhook_endpoints.iter().enumerate() {
        let at = |field: &str| format!("webhook_endpoints[{n}].{field}");
        if !e.id.starts_with("ep_") || !endpoint_ids.insert(e.id.as_str()) {
            return Err(refuse(
                at("id"),
                format!("{:?} is not a new endpoint id (ep_…)", e.id),
            ));
        }
        let url =
            super::webhooks::check_url(&e.url).map_err(|x| refuse(at("url"), x.to_string()))?;
        for (k, t) in e.events.iter().enumerate() {
            super::webhooks::check_event_type(t).map_err(|x| {
                refuse(format!("webhook_endpoints[{n}].events[{k}]"), x.to_string())
            })?;
        }
        super::webhooks::check_secret(e.secret.expose())
            .map_err(|x| refuse(at("secret"), x.to_string()))?;
        tx.insert_endpoint(&EndpointRecord {
            id: e.id.clone(),
            url: url.to_owned(),
            events: e.events.clone(),
            secret: e.secret.clone(),
            created_at: e.created_at,
        })?;
    }
    let existing = tx.redirect_urls()?;
    let mut redirect_ids: HashSet<&str> = existing.iter().map(|r| r.id.as_str()).collect();
    let mut redirect_values: HashSet<&str> = existing.iter().map(|r| r.url.as_str()).collect();
    for (n, r) in doc.redirect_urls.iter().enumerate() {
        let at = |field: &str| format!("redirect_urls[{n}].{field}");
        if !r.id.starts_with("ru_") || !redirect_ids.insert(r.id.as_str()) {
            return Err(refuse(
                at("id"),
                format!("{:?} is not a new redirect URL id (ru_…)", r.id),
            ));
        }
        super::redirects::validate_entry(&r.url)
            .map_err(|x| refuse(at("url"), format!("{x:?}")))?;
        if !redirect_values.insert(r.url.as_str()) {
            return Err(refuse(at("url"), "is on the allowlist already"));
        }
        tx.insert_redirect_url(&crate::store::records::RedirectUrlRecord {
            id: r.id.clone(),
            url: r.url.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })?;
    }
    Ok(Counts {
        users: doc.users.len(),
        external_accounts: doc.users.iter().map(|u| u.external_accounts.len()).sum(),
        webhook_endpoints: doc.webhook_endpoints.len(),
        redirect_urls: doc.redirect_urls.len(),
    })
}

/// What an import added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Users (`users`).
    pub users: usize,
    /// The users' accounts at OAuth providers (`users[].external_accounts`).
    pub external_accounts: usize,
    /// Webhook endpoints (`webhook_endpoints`).
    pub webhook_endpoints: usize,
    /// Redirect URLs on the allowlist (`redirect_urls`).
    pub redirect_urls: usize,
}
