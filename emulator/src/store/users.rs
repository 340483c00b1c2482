use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::records::{IdentKind, Identification, UserRecord, UserWithIdents};
use super::{corrupt, json_map, json_text, MfaReads, SqliteTx, StoreError, WriteMode};
use crate::secret::Secret;
use latchkey_protocol::AnyStrategy;

/// What users can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOrderField {
    CreatedAt,
    UpdatedAt,
    LastSignInAt,
    LastActiveAt,
    FirstName,
    LastName,
    Username,
}

impl UserOrderField {
    /// Every field, by its name in the Backend API's `order_by`.
    pub const ALL: [(&'static str, Self); 7] = [
        ("created_at", Self::CreatedAt),
        ("updated_at", Self::UpdatedAt),
        ("last_sign_in_at", Self::LastSignInAt),
        ("last_active_at", Self::LastActiveAt),
        ("first_name", Self::FirstName),
        ("last_name", Self::LastName),
        ("username", Self::Username),
    ];

    fn column(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::LastSignInAt => "last_sign_in_at",
            Self::LastActiveAt => "last_active_at",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Username => "username",
        }
    }
}

/// An ordering of users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserOrder {
    pub field: UserOrderField,
    pub descending: bool,
}

/// Filters of `GET /v1/users` (every given filter must match; values of one filter are OR-ed).
#[derive(Debug, Default, Clone)]
pub struct UserQuery {
    pub email_address: Vec<String>,
    pub phone_number: Vec<String>,
    pub username: Vec<String>,
    pub user_id: Vec<String>,
    pub external_id: Vec<String>,
    pub query: Option<String>,
    /// Column and direction, already validated by the caller.
    /// Newest first when `None`.
    pub order_by: Option<UserOrder>,
    pub limit: i64,
    pub offset: i64,
}

const USER_COLUMNS: &str = "id, external_id, username, first_name, last_name, password_hash,
    public_metadata, private_metadata, unsafe_metadata, banned, locked,
    primary_email_address_id, primary_phone_number_id, password_last_updated_at,
    last_sign_in_at, last_active_at, created_at, updated_at";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let meta = |i: usize| -> rusqlite::Result<_> {
        let text: String = r.get(i)?;
        json_map(&text).map_err(|e| corrupt(e.to_string()))
    };
    Ok(UserRecord {
        id: r.get(0)?,
        external_id: r.get(1)?,
        username: r.get(2)?,
        first_name: r.get(3)?,
        last_name: r.get(4)?,
        password_hash: r.get::<_, Option<String>>(5)?.map(Secret::new),
        public_metadata: meta(6)?,
        private_metadata: meta(7)?,
        unsafe_metadata: meta(8)?,
        banned: r.get(9)?,
        locked: r.get(10)?,
        primary_email_address_id: r.get(11)?,
        primary_phone_number_id: r.get(12)?,
        password_last_updated_at: r.get(13)?,
        last_sign_in_at: r.get(14)?,
        last_active_at: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
    })
}

/// The id of the user's profile image, as one more column of a `users` query (see
/// `store/account.rs`).
const IMAGE_ID: &str = "(SELECT img.id FROM images img WHERE img.user_id = users.id) AS image_id";

fn user_and_image_from_row(r: &Row<'_>) -> rusqlite::Result<(UserRecord, Option<String>)> {
    Ok((user_from_row(r)?, r.get("image_id")?))
}

fn ident_from_row(r: &Row<'_>) -> rusqlite::Result<Identification> {
    let kind: String = r.get(2)?;
    Ok(Identification {
        id: r.get(0)?,
        user_id: r.get(1)?,
        kind: IdentKind::try_from(kind.as_str()).map_err(corrupt)?,
        value: r.get(3)?,
        verification_strategy: r
            .get::<_, String>(4)?
            .parse::<AnyStrategy>()
            .map_err(|e| corrupt(e.to_string()))?,
        verified: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

const IDENT_COLUMNS: &str =
    "id, user_id, kind, value, verification_strategy, verified, created_at, updated_at";

/// Reads of users and their identifications.
pub trait UsersReads {
    fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    fn user_with_idents(&self, id: &str) -> Result<Option<UserWithIdents>, StoreError>;

    fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;

    fn idents_of(&self, user_id: &str) -> Result<Vec<Identification>, StoreError>;

    /// One identification by its id, whoever's it is.
    fn ident(&self, id: &str) -> Result<Option<Identification>, StoreError>;

    fn ident_by_value(
        &self,
        kind: IdentKind,
        value: &str,
    ) -> Result<Option<Identification>, StoreError>;

    /// Users matching `q`, in its order, with its limit and offset.
    fn list_users(&self, q: &UserQuery) -> Result<Vec<UserWithIdents>, StoreError>;

    fn count_users(&self, q: &UserQuery) -> Result<i64, StoreError>;
}

/// Changes to users and their identifications.
pub trait UsersWrites: UsersReads {
    /// Inserts or replaces the whole user row.
    fn save_user(&self, u: &UserRecord) -> Result<(), StoreError>;

    fn delete_user(&self, id: &str) -> Result<bool, StoreError>;

    fn save_ident(&self, i: &Identification) -> Result<(), StoreError>;
}

impl<M> UsersReads for SqliteTx<'_, M> {
    fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [id],
                user_from_row,
            )
            .optional()?)
    }

    fn user_with_idents(&self, id: &str) -> Result<Option<UserWithIdents>, StoreError> {
        let Some((user, image_id)) = self
            .row(
                &format!("SELECT {USER_COLUMNS}, {IMAGE_ID} FROM users WHERE id = ?1"),
                [id],
                user_and_image_from_row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        let idents = self.idents_of(id)?;
        let mut u = self.with_account(user, idents, image_id)?;
        u.mfa = self.mfa(id)?;
        Ok(Some(u))
    }

    fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                [username],
                user_from_row,
            )
            .optional()?)
    }

    fn idents_of(&self, user_id: &str) -> Result<Vec<Identification>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {IDENT_COLUMNS} FROM identifications WHERE user_id = ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([user_id], ident_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn ident(&self, id: &str) -> Result<Option<Identification>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {IDENT_COLUMNS} FROM identifications WHERE id = ?1"),
                [id],
                ident_from_row,
            )
            .optional()?)
    }

    fn ident_by_value(
        &self,
        kind: IdentKind,
        value: &str,
    ) -> Result<Option<Identification>, StoreError> {
        Ok(self
            .row(
                &format!(
                    "SELECT {IDENT_COLUMNS} FROM identifications WHERE kind = ?1 AND value = ?2"
                ),
                params![kind.as_str(), value],
                ident_from_row,
            )
            .optional()?)
    }

    fn list_users(&self, q: &UserQuery) -> Result<Vec<UserWithIdents>, StoreError> {
        let (where_sql, mut args) = user_filter(q);
        let order = q.order_by.unwrap_or(UserOrder {
            field: UserOrderField::CreatedAt,
            descending: true,
        });
        let (col, desc) = (order.field.column(), order.descending);
        let dir = if desc { "DESC" } else { "ASC" };
        args.push(SqlValue::Integer(q.limit));
        args.push(SqlValue::Integer(q.offset));
        let sql = format!(
            "SELECT {USER_COLUMNS}, {IMAGE_ID} FROM users {where_sql}
             ORDER BY {col} IS NULL, {col} {dir}, id {dir} LIMIT ? OFFSET ?"
        );
        let mut stmt = self.0.prepare_cached(&sql)?;
        let users: Vec<(UserRecord, Option<String>)> = stmt
            .query_map(params_from_iter(args), user_and_image_from_row)?
            .collect::<Result<_, _>>()?;
        users
            .into_iter()
            .map(|(user, image_id)| {
                let idents = self.idents_of(&user.id)?;
                let mfa = self.mfa(&user.id)?;
                let mut u = self.with_account(user, idents, image_id)?;
                u.mfa = mfa;
                Ok(u)
            })
            .collect()
    }

    fn count_users(&self, q: &UserQuery) -> Result<i64, StoreError> {
        let (where_sql, args) = user_filter(q);
        Ok(self.row(
            &format!("SELECT count(*) FROM users {where_sql}"),
            params_from_iter(args),
            |r| r.get(0),
        )?)
    }
}

impl UsersWrites for SqliteTx<'_, WriteMode> {
    fn save_user(&self, u: &UserRecord) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
                 ON CONFLICT (id) DO UPDATE SET external_id = excluded.external_id,
                 username = excluded.username, first_name = excluded.first_name,
                 last_name = excluded.last_name, password_hash = excluded.password_hash,
                 public_metadata = excluded.public_metadata,
                 private_metadata = excluded.private_metadata,
                 unsafe_metadata = excluded.unsafe_metadata, banned = excluded.banned,
                 locked = excluded.locked,
                 primary_email_address_id = excluded.primary_email_address_id,
                 primary_phone_number_id = excluded.primary_phone_number_id,
                 password_last_updated_at = excluded.password_last_updated_at,
                 last_sign_in_at = excluded.last_sign_in_at,
                 last_active_at = excluded.last_active_at, updated_at = excluded.updated_at"
            ),
            params![
                u.id,
                u.external_id,
                u.username,
                u.first_name,
                u.last_name,
                u.password_hash.as_ref().map(Secret::expose),
                json_text(&u.public_metadata),
                json_text(&u.private_metadata),
                json_text(&u.unsafe_metadata),
                u.banned,
                u.locked,
                u.primary_email_address_id,
                u.primary_phone_number_id,
                u.password_last_updated_at,
                u.last_sign_in_at,
                u.last_active_at,
                u.created_at,
                u.updated_at,
            ],
        )?;
        Ok(())
    }

    fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM users WHERE id = ?1", [id])? > 0)
    }

    fn save_ident(&self, i: &Identification) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO identifications ({IDENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET value = excluded.value,
                 verification_strategy = excluded.verification_strategy,
                 verified = excluded.verified, updated_at = excluded.updated_at"
            ),
            params![
                i.id,
                i.user_id,
                i.kind.as_str(),
                i.value,
                i.verification_strategy.as_str(),
                i.verified,
                i.created_at,
                i.updated_at
            ],
        )?;
        Ok(())
    }
}

fn user_filter(q: &UserQuery) -> (String, Vec<SqlValue>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let mut any_of = |clauses: &mut Vec<String>, template: &str, values: &[String]| {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        clauses.push(template.replace("{}", &marks));
        args.extend(values.iter().map(|v| SqlValue::Text(v.clone())));
    };
    any_of(
        &mut clauses,
        "id IN (SELECT user_id FROM identifications WHERE kind = 'email_address' AND value IN ({}))",
        &q.email_address.iter().map(|e| e.to_lowercase()).collect::<Vec<_>>(),
    );
    any_of(
        &mut clauses,
        "id IN (SELECT user_id FROM identifications WHERE kind = 'phone_number' AND value IN ({}))",
        &q.phone_number,
    );
    any_of(&mut clauses, "username IN ({})", &q.username);
    any_of(&mut clauses, "id IN ({})", &q.user_id);
    any_of(&mut clauses, "external_id IN ({})", &q.external_id);
    if let Some(text) = q.query.as_deref().filter(|t| !t.is_empty()) {
        let like = super::like_contains(text);
        clauses.push(
            "(id LIKE ?1q ESCAPE '\\' OR username LIKE ?1q ESCAPE '\\' OR first_name LIKE ?1q ESCAPE '\\'
              OR last_name LIKE ?1q ESCAPE '\\' OR external_id LIKE ?1q ESCAPE '\\'
              OR id IN (SELECT user_id FROM identifications WHERE value LIKE ?1q ESCAPE '\\'))"
                .replace("?1q", "?"),
        );
        for _ in 0..6 {
            args.push(SqlValue::Text(like.clone()));
        }
    }
    let where_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (where_sql, args)
}
