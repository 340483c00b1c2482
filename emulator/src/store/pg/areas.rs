//! The storage traits over PostgreSQL, area by area, with the same meaning as the SQLite
//! bodies beside them in `store/` (SQL differs only where the dialects do: `$n` parameters,
//! `ILIKE` for SQLite's case-insensitive `LIKE`, `LEAST`, a `seq` column for `rowid`).

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{Mode, PgTx, WriteMode};
use crate::secret::Secret;
use crate::store::records::{
    ClientRecord, IdentKind, Identification, Message, MessageKind, MfaRecord, SessionRecord,
    SessionStatus, SignInState, SignUpState, UserRecord, UserWithIdents,
};
use crate::store::records::{
    HandshakeNonceRecord, LockoutRecord, RateCounterRecord, TestingTokenRecord,
};
use crate::store::webhooks::AttemptRecord;
use crate::store::{
    json_map, json_text, AttemptQuery, AttemptsReads, AttemptsWrites, ClientsReads, ClientsWrites,
    EndpointRecord, InstanceReads, InstanceWrites, JobRecord, JobsReads, JobsWrites, MessagesReads,
    MessagesWrites, MfaReads, MfaWrites, NewJob, SessionQuery, SessionsReads, SessionsWrites,
    StoreError, UserOrder, UserOrderField, UserQuery, UsersReads, UsersWrites, WebhooksReads,
    WebhooksWrites,
};
use crate::store::{ProtectionReads, ProtectionWrites};
use latchkey_protocol::AnyStrategy;

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    Ok(r.try_get(i)?)
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A dynamic list of parameters with `$n` placeholders handed out in order.
#[derive(Default)]
struct Args(Vec<Box<dyn ToSql + Sync>>);

impl Args {
    fn push(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    }
}

// --- instance ------------------------------------------------------------------------------

impl<M: Mode> InstanceReads for PgTx<'_, M> {
    fn instance_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.opt("SELECT value FROM instance WHERE key = $1", &[&key])?
            .map(|r| get(&r, 0))
            .transpose()
    }
}

impl InstanceWrites for PgTx<'_, WriteMode> {
    fn set_instance_value(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO instance (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        // Every process re-reads the instance's values (settings) once this commits.
        self.conn.batch("NOTIFY latchkey_instance")?;
        Ok(())
    }

    fn delete_instance_values(&self, prefix: &str) -> Result<u64, StoreError> {
        self.exec(
            "DELETE FROM instance WHERE left(key, length($1)) = $1",
            &[&prefix],
        )
    }

    fn reset_data(&self) -> Result<(), StoreError> {
        self.serialize()?;
        self.conn.batch(
            "DELETE FROM identifications; DELETE FROM users; DELETE FROM sessions;
             DELETE FROM clients; DELETE FROM sign_ins; DELETE FROM sign_ups; DELETE FROM messages;
             DELETE FROM jobs WHERE kind != 'cleanup'; DELETE FROM webhook_attempts;
             DELETE FROM webhook_events; DELETE FROM user_lockouts; DELETE FROM rate_counters;
             DELETE FROM sign_in_tokens; DELETE FROM email_links; DELETE FROM external_accounts;
             DELETE FROM handshake_nonces;",
        )?;
        self.notify_commit()
    }
}

// --- users ---------------------------------------------------------------------------------

const USER_COLUMNS: &str = "id, external_id, username, first_name, last_name, password_hash,
    public_metadata, private_metadata, unsafe_metadata, banned, locked,
    primary_email_address_id, primary_phone_number_id, password_last_updated_at,
    last_sign_in_at, last_active_at, created_at, updated_at";

const IDENT_COLUMNS: &str =
    "id, user_id, kind, value, verification_strategy, verified, created_at, updated_at";

fn user_from_row(r: &Row) -> Result<UserRecord, StoreError> {
    let meta = |i: usize| -> Result<_, StoreError> { json_map(&get::<String>(r, i)?) };
    Ok(UserRecord {
        id: get(r, 0)?,
        external_id: get(r, 1)?,
        username: get(r, 2)?,
        first_name: get(r, 3)?,
        last_name: get(r, 4)?,
        password_hash: get::<Option<String>>(r, 5)?.map(Secret::new),
        public_metadata: meta(6)?,
        private_metadata: meta(7)?,
        unsafe_metadata: meta(8)?,
        banned: get(r, 9)?,
        locked: get(r, 10)?,
        primary_email_address_id: get(r, 11)?,
        primary_phone_number_id: get(r, 12)?,
        password_last_updated_at: get(r, 13)?,
        last_sign_in_at: get(r, 14)?,
        last_active_at: get(r, 15)?,
        created_at: get(r, 16)?,
        updated_at: get(r, 17)?,
    })
}

/// The id of the user's profile image, as one more column of a `users` query.
const IMAGE_ID: &str = "(SELECT img.id FROM images img WHERE img.user_id = users.id) AS image_id";

fn user_and_image_from_row(r: &Row) -> Result<(UserRecord, Option<String>), StoreError> {
    Ok((user_from_row(r)?, r.try_get("image_id")?))
}

fn ident_from_row(r: &Row) -> Result<Identification, StoreError> {
    let kind: String = get(r, 2)?;
    Ok(Identification {
        id: get(r, 0)?,
        user_id: get(r, 1)?,
        kind: IdentKind::try_from(kind.as_str()).map_err(StoreError::Corrupt)?,
        value: get(r, 3)?,
        verification_strategy: get::<String>(r, 4)?
            .parse::<AnyStrategy>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        verified: get(r, 5)?,
        created_at: get(r, 6)?,
        updated_at: get(r, 7)?,
    })
}

/// The column to order by; text compares bytewise (`COLLATE "C"`), as SQLite does, whatever
/// the database's locale.
fn order_column(f: UserOrderField) -> &'static str {
    match f {
        UserOrderField::CreatedAt => "created_at",
        UserOrderField::UpdatedAt => "updated_at",
        UserOrderField::LastSignInAt => "last_sign_in_at",
        UserOrderField::LastActiveAt => "last_active_at",
        UserOrderField::FirstName => "first_name COLLATE \"C\"",
        UserOrderField::LastName => "last_name COLLATE \"C\"",
        UserOrderField::Username => "username COLLATE \"C\"",
    }
}

fn user_filter(q: &UserQuery, args: &mut Args) -> String {
    let mut clauses = Vec::new();
    let mut any_of = |clauses: &mut Vec<String>, template: &str, values: Vec<String>| {
        if values.is_empty() {
            return;
        }
        clauses.push(template.replace("{}", &args.push(values)));
    };
    any_of(
        &mut clauses,
        "id IN (SELECT user_id FROM identifications WHERE kind = 'email_address' AND value = ANY({}))",
        q.email_address.iter().map(|e| e.to_lowercase()).collect(),
    );
    any_of(
        &mut clauses,
        "id IN (SELECT user_id FROM identifications WHERE kind = 'phone_number' AND value = ANY({}))",
        q.phone_number.clone(),
    );
    any_of(&mut clauses, "username = ANY({})", q.username.clone());
    any_of(&mut clauses, "id = ANY({})", q.user_id.clone());
    any_of(&mut clauses, "external_id = ANY({})", q.external_id.clone());
    if let Some(text) = q.query.as_deref().filter(|t| !t.is_empty()) {
        let like = crate::store::like_contains(text);
        let p = args.push(like);
        clauses.push(format!(
            "(id ILIKE {p} OR username ILIKE {p} OR first_name ILIKE {p}
              OR last_name ILIKE {p} OR external_id ILIKE {p}
              OR id IN (SELECT user_id FROM identifications WHERE value ILIKE {p}))"
        ));
    }
    where_sql(&clauses)
}

impl<M: Mode> UsersReads for PgTx<'_, M> {
    fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&id],
        )?
        .map(|r| user_from_row(&r))
        .transpose()
    }

    fn user_with_idents(&self, id: &str) -> Result<Option<UserWithIdents>, StoreError> {
        let Some(row) = self.opt(
            &format!("SELECT {USER_COLUMNS}, {IMAGE_ID} FROM users WHERE id = $1"),
            &[&id],
        )?
        else {
            return Ok(None);
        };
        let (user, image_id) = user_and_image_from_row(&row)?;
        let idents = self.idents_of(id)?;
        let mut u = self.with_account(user, idents, image_id)?;
        u.mfa = self.mfa(id)?;
        Ok(Some(u))
    }

    fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        self.opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"),
            &[&username],
        )?
        .map(|r| user_from_row(&r))
        .transpose()
    }

    fn idents_of(&self, user_id: &str) -> Result<Vec<Identification>, StoreError> {
        self.rows(
            &format!(
                "SELECT {IDENT_COLUMNS} FROM identifications WHERE user_id = $1 ORDER BY created_at, id COLLATE \"C\""
            ),
            &[&user_id],
        )?
        .iter()
        .map(ident_from_row)
        .collect()
    }

    fn ident(&self, id: &str) -> Result<Option<Identification>, StoreError> {
        self.opt(
            &format!("SELECT {IDENT_COLUMNS} FROM identifications WHERE id = $1"),
            &[&id],
        )?
        .map(|r| ident_from_row(&r))
        .transpose()
    }

    fn ident_by_value(
        &self,
        kind: IdentKind,
        value: &str,
    ) -> Result<Option<Identification>, StoreError> {
        self.opt(
            &format!("SELECT {IDENT_COLUMNS} FROM identifications WHERE kind = $1 AND value = $2"),
            &[&kind.as_str(), &value],
        )?
        .map(|r| ident_from_row(&r))
        .transpose()
    }

    fn list_users(&self, q: &UserQuery) -> Result<Vec<UserWithIdents>, StoreError> {
        let mut args = Args::default();
        let where_sql = user_filter(q, &mut args);
        let order = q.order_by.unwrap_or(UserOrder {
            field: UserOrderField::CreatedAt,
            descending: true,
        });
        let col = order_column(order.field);
        let dir = if order.descending { "DESC" } else { "ASC" };
        let limit = args.push(q.limit);
        let offset = args.push(q.offset);
        let sql = format!(
            "SELECT {USER_COLUMNS}, {IMAGE_ID} FROM users {where_sql}
             ORDER BY {col} IS NULL, {col} {dir}, id COLLATE \"C\" {dir} LIMIT {limit} OFFSET {offset}"
        );
        let users: Vec<(UserRecord, Option<String>)> = self
            .rows(&sql, &args.refs())?
            .iter()
            .map(user_and_image_from_row)
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
        let mut args = Args::default();
        let where_sql = user_filter(q, &mut args);
        get(
            &self.one(
                &format!("SELECT count(*) FROM users {where_sql}"),
                &args.refs(),
            )?,
            0,
        )
    }
}

impl UsersWrites for PgTx<'_, WriteMode> {
    fn save_user(&self, u: &UserRecord) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
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
            &[
                &u.id,
                &u.external_id,
                &u.username,
                &u.first_name,
                &u.last_name,
                &u.password_hash.as_ref().map(Secret::expose),
                &json_text(&u.public_metadata),
                &json_text(&u.private_metadata),
                &json_text(&u.unsafe_metadata),
                &u.banned,
                &u.locked,
                &u.primary_email_address_id,
                &u.primary_phone_number_id,
                &u.password_last_updated_at,
                &u.last_sign_in_at,
                &u.last_active_at,
                &u.created_at,
                &u.updated_at,
            ],
        )?;
        Ok(())
    }

    fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM users WHERE id = $1", &[&id])? > 0)
    }

    fn save_ident(&self, i: &Identification) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO identifications ({IDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET value = excluded.value,
                 verification_strategy = excluded.verification_strategy,
                 verified = excluded.verified, updated_at = excluded.updated_at"
            ),
            &[
                &i.id,
                &i.user_id,
                &i.kind.as_str(),
                &i.value,
                &i.verification_strategy.as_str(),
                &i.verified,
                &i.created_at,
                &i.updated_at,
            ],
        )?;
        Ok(())
    }
}

// --- clients -------------------------------------------------------------------------------

const CLIENT_COLUMNS: &str = "id, token, prev_token, sign_in_id, sign_up_id,
    last_active_session_id, last_authentication_strategy, created_at, updated_at,
    prev_token_expires_at, captcha_challenged_at";

fn client_from_row(r: &Row) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        id: get(r, 0)?,
        token: Secret::new(get::<String>(r, 1)?),
        prev_token: get::<Option<String>>(r, 2)?.map(Secret::new),
        sign_in_id: get(r, 3)?,
        sign_up_id: get(r, 4)?,
        last_active_session_id: get(r, 5)?,
        last_authentication_strategy: get::<Option<String>>(r, 6)?
            .map(|s| s.parse::<AnyStrategy>())
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: get(r, 7)?,
        updated_at: get(r, 8)?,
        prev_token_expires_at: get(r, 9)?,
        captcha_challenged_at: get(r, 10)?,
    })
}

impl<M: Mode> ClientsReads for PgTx<'_, M> {
    fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.opt(
            &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1"),
            &[&id],
        )?
        .map(|r| client_from_row(&r))
        .transpose()
    }

    fn client_by_token(&self, token: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.opt(
            &format!(
                "(SELECT {CLIENT_COLUMNS} FROM clients WHERE token = $1)
                 UNION ALL (SELECT {CLIENT_COLUMNS} FROM clients WHERE prev_token = $1) LIMIT 1"
            ),
            &[&token],
        )?
        .map(|r| client_from_row(&r))
        .transpose()
    }
}

impl ClientsWrites for PgTx<'_, WriteMode> {
    fn save_client(&self, c: &ClientRecord) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (id) DO UPDATE SET token = excluded.token,
                 prev_token = excluded.prev_token,
                 prev_token_expires_at = excluded.prev_token_expires_at,
                 sign_in_id = excluded.sign_in_id,
                 sign_up_id = excluded.sign_up_id,
                 last_active_session_id = excluded.last_active_session_id,
                 last_authentication_strategy = excluded.last_authentication_strategy,
                 updated_at = excluded.updated_at,
                 captcha_challenged_at = excluded.captcha_challenged_at"
            ),
            &[
                &c.id,
                &c.token.expose(),
                &c.prev_token.as_ref().map(Secret::expose),
                &c.sign_in_id,
                &c.sign_up_id,
                &c.last_active_session_id,
                &c.last_authentication_strategy.as_ref().map(AnyStrategy::as_str),
                &c.created_at,
                &c.updated_at,
                &c.prev_token_expires_at,
                &c.captcha_challenged_at,
            ],
        )?;
        Ok(())
    }

    fn delete_client(&self, id: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM clients WHERE id = $1", &[&id])?;
        self.exec("DELETE FROM sign_ins WHERE client_id = $1", &[&id])?;
        self.exec("DELETE FROM sign_ups WHERE client_id = $1", &[&id])?;
        Ok(())
    }

    fn insert_handshake_nonce(&self, r: &HandshakeNonceRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO handshake_nonces
             (nonce_hash, client_id, session_id, azp, expire_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &r.nonce_hash,
                &r.client_id,
                &r.session_id,
                &r.azp,
                &r.expire_at,
                &r.created_at,
            ],
        )?;
        Ok(())
    }

    fn take_handshake_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
    ) -> Result<Option<HandshakeNonceRecord>, StoreError> {
        let found = self
            .opt(
                "DELETE FROM handshake_nonces WHERE nonce_hash = $1
                 RETURNING nonce_hash, client_id, session_id, azp, expire_at, created_at",
                &[&nonce_hash],
            )?
            .map(|r| {
                Ok::<_, StoreError>(HandshakeNonceRecord {
                    nonce_hash: get(&r, 0)?,
                    client_id: get(&r, 1)?,
                    session_id: get(&r, 2)?,
                    azp: get(&r, 3)?,
                    expire_at: get(&r, 4)?,
                    created_at: get(&r, 5)?,
                })
            })
            .transpose()?;
        self.exec("DELETE FROM handshake_nonces WHERE expire_at < $1", &[&now])?;
        Ok(found)
    }

    fn delete_sessionless_clients_idle_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        const DOOMED: &str = "SELECT id FROM clients c WHERE c.updated_at < $1
            AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.client_id = c.id)";
        self.exec(
            &format!("DELETE FROM sign_ins WHERE client_id IN ({DOOMED})"),
            &[&cutoff],
        )?;
        self.exec(
            &format!("DELETE FROM sign_ups WHERE client_id IN ({DOOMED})"),
            &[&cutoff],
        )?;
        Ok(count(self.exec(
            &format!("DELETE FROM clients WHERE id IN ({DOOMED})"),
            &[&cutoff],
        )?))
    }
}

// --- sessions ------------------------------------------------------------------------------

const SESSION_COLUMNS: &str = "id, client_id, user_id, status, first_factor_at, last_active_at,
    expire_at, abandon_at, created_at, updated_at, second_factor_at";

fn session_from_row(r: &Row) -> Result<SessionRecord, StoreError> {
    let status: String = get(r, 3)?;
    Ok(SessionRecord {
        id: get(r, 0)?,
        client_id: get(r, 1)?,
        user_id: get(r, 2)?,
        status: status
            .parse::<SessionStatus>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        first_factor_at: get(r, 4)?,
        last_active_at: get(r, 5)?,
        expire_at: get(r, 6)?,
        abandon_at: get(r, 7)?,
        created_at: get(r, 8)?,
        updated_at: get(r, 9)?,
        second_factor_at: get(r, 10)?,
    })
}

impl<M: Mode> SessionsReads for PgTx<'_, M> {
    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.opt(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"),
            &[&id],
        )?
        .map(|r| session_from_row(&r))
        .transpose()
    }

    fn sessions_of_client(&self, client_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.rows(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE client_id = $1 ORDER BY created_at, id COLLATE \"C\""
            ),
            &[&client_id],
        )?
        .iter()
        .map(session_from_row)
        .collect()
    }

    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.rows(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY created_at, id COLLATE \"C\""
            ),
            &[&user_id],
        )?
        .iter()
        .map(session_from_row)
        .collect()
    }

    fn list_sessions(&self, q: &SessionQuery<'_>) -> Result<Vec<SessionRecord>, StoreError> {
        let mut args = Args::default();
        let mut clauses = Vec::new();
        if let Some(c) = q.client_id {
            clauses.push(format!("client_id = {}", args.push(c.to_owned())));
        }
        if let Some(u) = q.user_id {
            clauses.push(format!("user_id = {}", args.push(u.to_owned())));
        }
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions {} ORDER BY created_at DESC, id COLLATE \"C\" DESC",
            where_sql(&clauses)
        );
        self.rows(&sql, &args.refs())?
            .iter()
            .map(session_from_row)
            .collect()
    }
}

impl SessionsWrites for PgTx<'_, WriteMode> {
    fn save_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                 first_factor_at = excluded.first_factor_at,
                 second_factor_at = excluded.second_factor_at,
                 last_active_at = excluded.last_active_at, expire_at = excluded.expire_at,
                 abandon_at = excluded.abandon_at, updated_at = excluded.updated_at"
            ),
            &[
                &s.id,
                &s.client_id,
                &s.user_id,
                &s.status.as_str(),
                &s.first_factor_at,
                &s.last_active_at,
                &s.expire_at,
                &s.abandon_at,
                &s.created_at,
                &s.updated_at,
                &s.second_factor_at,
            ],
        )?;
        Ok(())
    }
}

// --- attempts ------------------------------------------------------------------------------

impl<M: Mode> AttemptsReads for PgTx<'_, M> {
    fn sign_in(&self, id: &str) -> Result<Option<SignInState>, StoreError> {
        let text: Option<String> = self
            .opt("SELECT state FROM sign_ins WHERE id = $1", &[&id])?
            .map(|r| get(&r, 0))
            .transpose()?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("sign-in {id}: {e}")))
        })
        .transpose()
    }

    fn sign_up(&self, id: &str) -> Result<Option<SignUpState>, StoreError> {
        let text: Option<String> = self
            .opt("SELECT state FROM sign_ups WHERE id = $1", &[&id])?
            .map(|r| get(&r, 0))
            .transpose()?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("sign-up {id}: {e}")))
        })
        .transpose()
    }
}

impl AttemptsWrites for PgTx<'_, WriteMode> {
    fn save_sign_in(&self, s: &SignInState) -> Result<(), StoreError> {
        let state = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.exec(
            "INSERT INTO sign_ins (id, client_id, state, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            &[&s.id, &s.client_id, &state, &s.created_at],
        )?;
        Ok(())
    }

    fn save_sign_up(&self, s: &SignUpState) -> Result<(), StoreError> {
        let state = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.exec(
            "INSERT INTO sign_ups (id, client_id, state, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            &[&s.id, &s.client_id, &state, &s.created_at],
        )?;
        Ok(())
    }

    fn delete_attempts_created_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        let a = self.exec("DELETE FROM sign_ins WHERE created_at < $1", &[&cutoff])?;
        let b = self.exec("DELETE FROM sign_ups WHERE created_at < $1", &[&cutoff])?;
        Ok(count(a + b))
    }
}

// --- messages ------------------------------------------------------------------------------

const MESSAGE_COLUMNS: &str = "id, kind, to_addr, subject, body_text, body_html, code, link,
    template, created_at, status, delivered_by_clerk, delivered_via";

fn message_from_row(r: &Row) -> Result<Message, StoreError> {
    let kind: String = get(r, 1)?;
    Ok(Message {
        id: get(r, 0)?,
        kind: MessageKind::try_from(kind.as_str()).map_err(StoreError::Corrupt)?,
        to: get(r, 2)?,
        subject: get(r, 3)?,
        body_text: get(r, 4)?,
        body_html: get(r, 5)?,
        code: get(r, 6)?,
        link: get(r, 7)?,
        template: get(r, 8)?,
        created_at: get(r, 9)?,
        status: get(r, 10)?,
        delivered_by_clerk: get(r, 11)?,
        delivered_via: get(r, 12)?,
    })
}

impl<M: Mode> MessagesReads for PgTx<'_, M> {
    fn message(&self, id: &str) -> Result<Option<Message>, StoreError> {
        self.opt(
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"),
            &[&id],
        )?
        .map(|r| message_from_row(&r))
        .transpose()
    }

    fn messages(
        &self,
        to: Option<&str>,
        kind: Option<MessageKind>,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let mut args = Args::default();
        let mut clauses = vec!["status = 'captured'".to_owned()];
        if let Some(to) = to {
            clauses.push(format!("to_addr = {}", args.push(to.to_owned())));
        }
        if let Some(kind) = kind {
            clauses.push(format!("kind = {}", args.push(kind.as_str())));
        }
        let limit = args.push(limit);
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages {} ORDER BY created_at DESC, seq DESC LIMIT {limit}",
            where_sql(&clauses)
        );
        self.rows(&sql, &args.refs())?
            .iter()
            .map(message_from_row)
            .collect()
    }
}

impl MessagesWrites for PgTx<'_, WriteMode> {
    fn insert_message(&self, m: &Message) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ),
            &[
                &m.id,
                &m.kind.as_str(),
                &m.to,
                &m.subject,
                &m.body_text,
                &m.body_html,
                &m.code,
                &m.link,
                &m.template,
                &m.created_at,
                &m.status,
                &m.delivered_by_clerk,
                &m.delivered_via,
            ],
        )?;
        self.notify_commit()
    }

    fn capture_message(&self, id: &str, via: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE messages SET status = 'captured', delivered_via = $2 WHERE id = $1",
            &[&id, &via],
        )?;
        self.notify_commit()
    }

    fn delete_messages(&self) -> Result<usize, StoreError> {
        let n = self.exec("DELETE FROM messages", &[])?;
        self.notify_commit()?;
        Ok(count(n))
    }
}

// --- jobs ----------------------------------------------------------------------------------

const JOB_COLUMNS: &str = "id, kind, priority, payload, state, attempts, max_attempts, run_at,
    lease_until, last_error, request_id, created_at, updated_at";

fn job_from_row(r: &Row) -> Result<JobRecord, StoreError> {
    Ok(JobRecord {
        id: get(r, 0)?,
        kind: get(r, 1)?,
        priority: get(r, 2)?,
        payload: get(r, 3)?,
        state: get(r, 4)?,
        attempts: get(r, 5)?,
        max_attempts: get(r, 6)?,
        run_at: get(r, 7)?,
        lease_until: get(r, 8)?,
        last_error: get(r, 9)?,
        request_id: get(r, 10)?,
        created_at: get(r, 11)?,
        updated_at: get(r, 12)?,
    })
}

impl<M: Mode> JobsReads for PgTx<'_, M> {
    fn next_job_due(&self, max_priority: i64) -> Result<Option<i64>, StoreError> {
        get(
            &self.one(
                "SELECT min(coalesce(CASE WHEN state = 'queued' THEN run_at END, lease_until))
                 FROM jobs WHERE priority <= $1 AND state IN ('queued', 'running')",
                &[&max_priority],
            )?,
            0,
        )
    }

    fn busy_jobs(&self, now: i64) -> Result<i64, StoreError> {
        get(
            &self.one(
                "SELECT count(*) FROM jobs WHERE state = 'running'
                 OR (state = 'queued' AND run_at <= $1)",
                &[&now],
            )?,
            0,
        )
    }

    fn list_jobs(
        &self,
        state: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let mut args = Args::default();
        let mut clauses = Vec::new();
        if let Some(s) = state {
            clauses.push(format!("state = {}", args.push(s.to_owned())));
        }
        if let Some(k) = kind {
            clauses.push(format!("kind = {}", args.push(k.to_owned())));
        }
        let limit = args.push(limit);
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs {} ORDER BY id DESC LIMIT {limit}",
            where_sql(&clauses)
        );
        self.rows(&sql, &args.refs())?
            .iter()
            .map(job_from_row)
            .collect()
    }

    fn job_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.rows(
            "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
            &[],
        )?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
        .collect()
    }
}

impl JobsWrites for PgTx<'_, WriteMode> {
    fn enqueue_job(&self, job: &NewJob, now: i64) -> Result<i64, StoreError> {
        let row = self.one(
            "INSERT INTO jobs (kind, priority, payload, state, attempts, max_attempts, run_at,
             request_id, created_at, updated_at)
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $7) RETURNING id",
            &[
                &job.kind,
                &job.priority,
                &job.payload,
                &job.max_attempts,
                &job.run_at,
                &job.request_id,
                &now,
            ],
        )?;
        self.notify_jobs()?;
        get(&row, 0)
    }

    /// Claims without the write lock: the rows are locked `FOR UPDATE SKIP LOCKED`, so
    /// workers of several processes each take different jobs and never wait for each other.
    fn claim_jobs(
        &self,
        now: i64,
        max_priority: i64,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let lease_until = now + lease_ms;
        let rows = self.rows_unlocked(
            &format!(
                "WITH picked AS (
                    SELECT id FROM jobs
                    WHERE priority <= $2 AND ((state = 'running' AND lease_until <= $1)
                       OR (state = 'queued' AND run_at <= $1))
                    ORDER BY (state = 'queued'), priority, run_at, id
                    LIMIT $3 FOR UPDATE SKIP LOCKED)
                 UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1,
                    lease_until = $4, updated_at = $1
                 FROM picked WHERE jobs.id = picked.id
                 RETURNING {}",
                JOB_COLUMNS
                    .split(',')
                    .map(|c| format!("jobs.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[&now, &max_priority, &limit, &lease_until],
        )?;
        let mut jobs: Vec<JobRecord> = rows.iter().map(job_from_row).collect::<Result<_, _>>()?;
        jobs.sort_by_key(|j| (j.priority, j.run_at, j.id));
        Ok(jobs)
    }

    fn complete_job(&self, id: i64, attempts: i64, now: i64) -> Result<bool, StoreError> {
        Ok(self.exec_unlocked(
            "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = $3
             WHERE id = $1 AND state = 'running' AND attempts = $2",
            &[&id, &attempts, &now],
        )? > 0)
    }

    fn fail_job(
        &self,
        id: i64,
        attempts: i64,
        error: &str,
        run_at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = match run_at {
            Some(at) => {
                let n = self.exec_unlocked(
                    "UPDATE jobs SET state = 'queued', run_at = $3, lease_until = NULL,
                     last_error = $4, updated_at = $5
                     WHERE id = $1 AND state = 'running' AND attempts = $2",
                    &[&id, &attempts, &at, &error, &now],
                )?;
                self.notify_jobs()?;
                n
            }
            None => self.exec_unlocked(
                "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = $3, updated_at = $4
                 WHERE id = $1 AND state = 'running' AND attempts = $2",
                &[&id, &attempts, &error, &now],
            )?,
        };
        Ok(n > 0)
    }

    /// Other processes may be running the jobs claimed here, so nothing is taken from them on
    /// start: a dead process's claims are taken again when their leases expire.
    fn requeue_running_jobs(&self, _now: i64) -> Result<usize, StoreError> {
        Ok(0)
    }

    fn delete_finished_jobs(&self, before: i64) -> Result<usize, StoreError> {
        Ok(count(self.exec(
            "DELETE FROM jobs WHERE state = 'done' AND updated_at < $1",
            &[&before],
        )?))
    }
}

// --- webhooks ------------------------------------------------------------------------------

fn endpoint_from_row(r: &Row) -> Result<EndpointRecord, StoreError> {
    let events: String = get(r, 2)?;
    Ok(EndpointRecord {
        id: get(r, 0)?,
        url: get(r, 1)?,
        events: serde_json::from_str(&events).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        secret: Secret::new(get::<String>(r, 3)?),
        created_at: get(r, 4)?,
    })
}

fn attempt_from_row(r: &Row) -> Result<AttemptRecord, StoreError> {
    Ok(AttemptRecord {
        id: get(r, 0)?,
        event_id: get(r, 1)?,
        event_type: get(r, 2)?,
        endpoint_id: get(r, 3)?,
        job_id: get(r, 4)?,
        attempt: get(r, 5)?,
        status_code: get(r, 6)?,
        duration_ms: get(r, 7)?,
        response_excerpt: get(r, 8)?,
        error: get(r, 9)?,
        succeeded: get(r, 10)?,
        request_id: get(r, 11)?,
        created_at: get(r, 12)?,
    })
}

const ATTEMPT_COLUMNS: &str = "a.id, a.event_id, e.type, a.endpoint_id, a.job_id, a.attempt,
    a.status_code, a.duration_ms, a.response_excerpt, a.error, a.succeeded, a.request_id, a.created_at";

impl<M: Mode> WebhooksReads for PgTx<'_, M> {
    fn endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        self.rows(
            "SELECT id, url, events, secret, created_at FROM webhook_endpoints ORDER BY created_at, id COLLATE \"C\"",
            &[],
        )?
        .iter()
        .map(endpoint_from_row)
        .collect()
    }

    fn endpoint(&self, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        self.opt(
            "SELECT id, url, events, secret, created_at FROM webhook_endpoints WHERE id = $1",
            &[&id],
        )?
        .map(|r| endpoint_from_row(&r))
        .transpose()
    }

    fn event(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        self.opt(
            "SELECT type, payload FROM webhook_events WHERE id = $1",
            &[&id],
        )?
        .map(|r| Ok((get(&r, 0)?, get(&r, 1)?)))
        .transpose()
    }

    fn attempts(&self, q: &AttemptQuery<'_>) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut args = Args::default();
        let mut clauses = Vec::new();
        if let Some(v) = q.event_id {
            clauses.push(format!("a.event_id = {}", args.push(v.to_owned())));
        }
        if let Some(v) = q.endpoint_id {
            clauses.push(format!("a.endpoint_id = {}", args.push(v.to_owned())));
        }
        if let Some(v) = q.event_type {
            clauses.push(format!("e.type = {}", args.push(v.to_owned())));
        }
        if let Some(v) = q.succeeded {
            clauses.push(format!("a.succeeded = {}", args.push(v)));
        }
        let limit = args.push(q.limit);
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id
             {} ORDER BY a.id DESC LIMIT {limit}",
            where_sql(&clauses)
        );
        self.rows(&sql, &args.refs())?
            .iter()
            .map(attempt_from_row)
            .collect()
    }

    fn attempt(&self, id: i64) -> Result<Option<AttemptRecord>, StoreError> {
        self.opt(
            &format!(
                "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts a
                 JOIN webhook_events e ON e.id = a.event_id WHERE a.id = $1"
            ),
            &[&id],
        )?
        .map(|r| attempt_from_row(&r))
        .transpose()
    }
}

impl WebhooksWrites for PgTx<'_, WriteMode> {
    fn insert_endpoint(&self, e: &EndpointRecord) -> Result<(), StoreError> {
        let events =
            serde_json::to_string(&e.events).map_err(|x| StoreError::Corrupt(x.to_string()))?;
        self.exec(
            "INSERT INTO webhook_endpoints (id, url, events, secret, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&e.id, &e.url, &events, &e.secret.expose(), &e.created_at],
        )?;
        Ok(())
    }

    fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM webhook_endpoints WHERE id = $1", &[&id])? > 0)
    }

    fn insert_event(
        &self,
        id: &str,
        event_type: &str,
        payload: &str,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO webhook_events (id, type, payload, request_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &event_type, &payload, &request_id, &now],
        )?;
        Ok(())
    }

    fn insert_attempt(
        &self,
        event_id: &str,
        endpoint_id: &str,
        job_id: Option<i64>,
        attempt: i64,
        status_code: Option<i64>,
        duration_ms: i64,
        response_excerpt: Option<&str>,
        error: Option<&str>,
        succeeded: bool,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO webhook_attempts (event_id, endpoint_id, job_id, attempt, status_code,
             duration_ms, response_excerpt, error, succeeded, request_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &event_id,
                &endpoint_id,
                &job_id,
                &attempt,
                &status_code,
                &duration_ms,
                &response_excerpt,
                &error,
                &succeeded,
                &request_id,
                &now,
            ],
        )?;
        Ok(())
    }
}

// --- second factors ------------------------------------------------------------------------

impl<M: Mode> MfaReads for PgTx<'_, M> {
    fn mfa(&self, user_id: &str) -> Result<Option<MfaRecord>, StoreError> {
        let text: Option<String> = self
            .opt("SELECT state FROM user_mfa WHERE user_id = $1", &[&user_id])?
            .map(|r| get(&r, 0))
            .transpose()?;
        text.map(|t| crate::store::mfa::mfa_from_text(user_id, &t))
            .transpose()
    }
}

impl MfaWrites for PgTx<'_, WriteMode> {
    fn save_mfa(&self, m: &MfaRecord) -> Result<(), StoreError> {
        let state = crate::store::mfa::to_text(m)?;
        self.exec(
            "INSERT INTO user_mfa (user_id, state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET state = excluded.state,
             updated_at = excluded.updated_at",
            &[&m.user_id, &state, &m.updated_at],
        )?;
        Ok(())
    }
}

// --- attack protection ---------------------------------------------------------------------

impl<M: Mode> ProtectionReads for PgTx<'_, M> {
    fn lockout(&self, user_id: &str) -> Result<Option<LockoutRecord>, StoreError> {
        self.opt(
            "SELECT user_id, failed_attempts, locked_until, updated_at FROM user_lockouts
             WHERE user_id = $1",
            &[&user_id],
        )?
        .map(|r| {
            Ok(LockoutRecord {
                user_id: get(&r, 0)?,
                failed_attempts: get(&r, 1)?,
                locked_until: get(&r, 2)?,
                updated_at: get(&r, 3)?,
            })
        })
        .transpose()
    }

    fn rate_counter(&self, key: &str) -> Result<Option<RateCounterRecord>, StoreError> {
        self.opt(
            "SELECT key, window_start, window_end, count FROM rate_counters WHERE key = $1",
            &[&key],
        )?
        .map(|r| {
            Ok(RateCounterRecord {
                key: get(&r, 0)?,
                window_start: get(&r, 1)?,
                window_end: get(&r, 2)?,
                count: get(&r, 3)?,
            })
        })
        .transpose()
    }

    fn testing_token(&self, token_hash: &str) -> Result<Option<TestingTokenRecord>, StoreError> {
        self.opt(
            "SELECT token_hash, expires_at, created_at FROM testing_tokens WHERE token_hash = $1",
            &[&token_hash],
        )?
        .map(|r| {
            Ok(TestingTokenRecord {
                token_hash: get(&r, 0)?,
                expires_at: get(&r, 1)?,
                created_at: get(&r, 2)?,
            })
        })
        .transpose()
    }
}

impl ProtectionWrites for PgTx<'_, WriteMode> {
    fn save_lockout(&self, r: &LockoutRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO user_lockouts (user_id, failed_attempts, locked_until, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET failed_attempts = excluded.failed_attempts,
                 locked_until = excluded.locked_until, updated_at = excluded.updated_at",
            &[
                &r.user_id,
                &r.failed_attempts,
                &r.locked_until,
                &r.updated_at,
            ],
        )?;
        Ok(())
    }

    fn delete_lockout(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM user_lockouts WHERE user_id = $1", &[&user_id])? > 0)
    }

    fn save_rate_counter(&self, r: &RateCounterRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO rate_counters (key, window_start, window_end, count)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start,
                 window_end = excluded.window_end, count = excluded.count",
            &[&r.key, &r.window_start, &r.window_end, &r.count],
        )?;
        Ok(())
    }

    fn delete_rate_counters_ended_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        Ok(count(self.exec(
            "DELETE FROM rate_counters WHERE window_end < $1",
            &[&cutoff],
        )?))
    }

    fn save_testing_token(&self, r: &TestingTokenRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO testing_tokens (token_hash, expires_at, created_at) VALUES ($1, $2, $3)",
            &[&r.token_hash, &r.expires_at, &r.created_at],
        )?;
        Ok(())
    }

    fn delete_testing_tokens_expired_before(&self, cutoff: i64) -> Result<usize, StoreError> {
        Ok(count(self.exec(
            "DELETE FROM testing_tokens WHERE expires_at < $1",
            &[&cutoff],
        )?))
    }
}

// --- session reverifications -------------------------------------------------------------

impl<M: Mode> crate::store::ReverifyReads for PgTx<'_, M> {
    fn session_verification(
        &self,
        session_id: &str,
    ) -> Result<Option<crate::store::records::SessionVerificationRecord>, StoreError> {
        let text: Option<String> = self
            .opt(
                "SELECT state FROM session_verifications WHERE session_id = $1",
                &[&session_id],
            )?
            .map(|r| get(&r, 0))
            .transpose()?;
        text.map(|t| crate::store::reverify::from_text(session_id, &t))
            .transpose()
    }
}

impl crate::store::ReverifyWrites for PgTx<'_, WriteMode> {
    fn save_session_verification(
        &self,
        v: &crate::store::records::SessionVerificationRecord,
    ) -> Result<(), StoreError> {
        let state = crate::store::reverify::to_text(v)?;
        self.exec(
            "INSERT INTO session_verifications (session_id, state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (session_id) DO UPDATE SET state = excluded.state,
             updated_at = excluded.updated_at",
            &[&v.session_id, &state, &v.updated_at],
        )?;
        Ok(())
    }
}

// --- redirect URLs, sign-in tokens, email links --------------------------------------------

fn redirect_from(r: &Row) -> Result<crate::store::records::RedirectUrlRecord, StoreError> {
    Ok(crate::store::records::RedirectUrlRecord {
        id: get(r, 0)?,
        url: get(r, 1)?,
        created_at: get(r, 2)?,
        updated_at: get(r, 3)?,
    })
}

fn sign_in_token_from(r: &Row) -> Result<crate::store::records::SignInTokenRecord, StoreError> {
    let status: String = get(r, 3)?;
    Ok(crate::store::records::SignInTokenRecord {
        id: get(r, 0)?,
        token_hash: get(r, 1)?,
        user_id: get(r, 2)?,
        status: crate::store::records::SignInTokenStatus::try_from(status.as_str())
            .map_err(StoreError::Corrupt)?,
        expire_at: get(r, 4)?,
        created_at: get(r, 5)?,
        updated_at: get(r, 6)?,
    })
}

const SIGN_IN_TOKEN_COLUMNS: &str =
    "id, token_hash, user_id, status, expire_at, created_at, updated_at";

#[allow(private_bounds)]
impl<M: Mode> PgTx<'_, M> {
    fn email_link_where(
        &self,
        column: &str,
        value: &str,
    ) -> Result<Option<crate::store::records::EmailLinkRecord>, StoreError> {
        let text: Option<String> = self
            .opt(
                &format!("SELECT state FROM email_links WHERE {column} = $1"),
                &[&value],
            )?
            .map(|r| get(&r, 0))
            .transpose()?;
        text.map(|t| crate::store::links::link_from_text(&t))
            .transpose()
    }
}

impl<M: Mode> crate::store::LinksReads for PgTx<'_, M> {
    fn redirect_urls(&self) -> Result<Vec<crate::store::records::RedirectUrlRecord>, StoreError> {
        self.rows(
            "SELECT id, url, created_at, updated_at FROM redirect_urls ORDER BY created_at, seq",
            &[],
        )?
        .iter()
        .map(redirect_from)
        .collect()
    }

    fn redirect_url(
        &self,
        id: &str,
    ) -> Result<Option<crate::store::records::RedirectUrlRecord>, StoreError> {
        self.opt(
            "SELECT id, url, created_at, updated_at FROM redirect_urls WHERE id = $1",
            &[&id],
        )?
        .map(|r| redirect_from(&r))
        .transpose()
    }

    fn sign_in_token(
        &self,
        id: &str,
    ) -> Result<Option<crate::store::records::SignInTokenRecord>, StoreError> {
        self.opt(
            &format!("SELECT {SIGN_IN_TOKEN_COLUMNS} FROM sign_in_tokens WHERE id = $1"),
            &[&id],
        )?
        .map(|r| sign_in_token_from(&r))
        .transpose()
    }

    fn sign_in_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<crate::store::records::SignInTokenRecord>, StoreError> {
        self.opt(
            &format!("SELECT {SIGN_IN_TOKEN_COLUMNS} FROM sign_in_tokens WHERE token_hash = $1"),
            &[&token_hash],
        )?
        .map(|r| sign_in_token_from(&r))
        .transpose()
    }

    fn email_link_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<crate::store::records::EmailLinkRecord>, StoreError> {
        self.email_link_where("token_hash", token_hash)
    }

    fn email_link_by_approval(
        &self,
        approval_hash: &str,
    ) -> Result<Option<crate::store::records::EmailLinkRecord>, StoreError> {
        self.email_link_where("approval_hash", approval_hash)
    }
}

impl crate::store::LinksWrites for PgTx<'_, WriteMode> {
    fn insert_redirect_url(
        &self,
        r: &crate::store::records::RedirectUrlRecord,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO redirect_urls (id, url, created_at, updated_at) VALUES ($1, $2, $3, $4)",
            &[&r.id, &r.url, &r.created_at, &r.updated_at],
        )?;
        Ok(())
    }

    fn delete_redirect_url(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM redirect_urls WHERE id = $1", &[&id])? > 0)
    }

    fn save_sign_in_token(
        &self,
        r: &crate::store::records::SignInTokenRecord,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO sign_in_tokens (id, token_hash, user_id, status, expire_at, created_at,
                updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                expire_at = excluded.expire_at, updated_at = excluded.updated_at",
            &[
                &r.id,
                &r.token_hash,
                &r.user_id,
                &r.status.as_str(),
                &r.expire_at,
                &r.created_at,
                &r.updated_at,
            ],
        )?;
        Ok(())
    }

    fn save_email_link(
        &self,
        r: &crate::store::records::EmailLinkRecord,
    ) -> Result<(), StoreError> {
        let state = crate::store::links::link_to_text(r)?;
        self.exec(
            "INSERT INTO email_links (id, token_hash, approval_hash, state, expire_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET approval_hash = excluded.approval_hash,
                state = excluded.state, expire_at = excluded.expire_at",
            &[
                &r.id,
                &r.token_hash,
                &r.approval_hash,
                &state,
                &r.expire_at,
                &r.created_at,
            ],
        )?;
        Ok(())
    }
}

#[allow(private_bounds)]
impl<M: Mode> PgTx<'_, M> {
    fn external_account_docs(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<crate::store::records::ExternalAccountRecord>, StoreError> {
        self.rows(sql, params)?
            .iter()
            .map(|r| crate::store::external_accounts::from_text(&get::<String>(r, 0)?))
            .collect()
    }
}

impl<M: Mode> crate::store::ExternalAccountsReads for PgTx<'_, M> {
    fn external_account(
        &self,
        id: &str,
    ) -> Result<Option<crate::store::records::ExternalAccountRecord>, StoreError> {
        Ok(self
            .external_account_docs("SELECT state FROM external_accounts WHERE id = $1", &[&id])?
            .pop())
    }

    fn external_account_by_provider_user(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<crate::store::records::ExternalAccountRecord>, StoreError> {
        Ok(self
            .external_account_docs(
                "SELECT state FROM external_accounts WHERE provider = $1 AND provider_user_id = $2",
                &[&provider, &provider_user_id],
            )?
            .pop())
    }

    fn external_accounts_of_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<crate::store::records::ExternalAccountRecord>, StoreError> {
        self.external_account_docs(
            "SELECT state FROM external_accounts WHERE user_id = $1 ORDER BY created_at, seq",
            &[&user_id],
        )
    }

    fn external_accounts_of_provider(
        &self,
        provider: &str,
        limit: usize,
    ) -> Result<Vec<crate::store::records::ExternalAccountRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.external_account_docs(
            "SELECT state FROM external_accounts WHERE provider = $1
             ORDER BY created_at DESC, seq DESC LIMIT $2",
            &[&provider, &limit],
        )
    }

    fn all_external_accounts(
        &self,
    ) -> Result<Vec<crate::store::records::ExternalAccountRecord>, StoreError> {
        self.external_account_docs(
            "SELECT state FROM external_accounts ORDER BY created_at, seq",
            &[],
        )
    }
}

impl crate::store::ExternalAccountsWrites for PgTx<'_, WriteMode> {
    fn save_external_account(
        &self,
        r: &crate::store::records::ExternalAccountRecord,
    ) -> Result<(), StoreError> {
        let state = crate::store::external_accounts::to_text(r)?;
        self.exec(
            "INSERT INTO external_accounts (id, user_id, provider, provider_user_id, state,
                created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
                provider = excluded.provider, provider_user_id = excluded.provider_user_id,
                state = excluded.state",
            &[
                &r.id,
                &r.user_id,
                &r.provider,
                &r.provider_user_id,
                &state,
                &r.created_at,
            ],
        )?;
        Ok(())
    }

    fn delete_external_account(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM external_accounts WHERE id = $1", &[&id])? > 0)
    }
}
