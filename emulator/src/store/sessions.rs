use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::records::{SessionRecord, SessionStatus};
use super::{corrupt, SqliteTx, StoreError, WriteMode};

const COLUMNS: &str = "id, client_id, user_id, status, first_factor_at, last_active_at,
    expire_at, abandon_at, created_at, updated_at, second_factor_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    let status: String = r.get(3)?;
    Ok(SessionRecord {
        id: r.get(0)?,
        client_id: r.get(1)?,
        user_id: r.get(2)?,
        status: status
            .parse::<SessionStatus>()
            .map_err(|e| corrupt(e.to_string()))?,
        first_factor_at: r.get(4)?,
        last_active_at: r.get(5)?,
        expire_at: r.get(6)?,
        abandon_at: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        second_factor_at: r.get(10)?,
    })
}

/// Filters of `GET /v1/sessions`.
#[derive(Debug, Default)]
pub struct SessionQuery<'a> {
    pub client_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
}

/// Reads of sessions.
pub trait SessionsReads {
    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;

    fn sessions_of_client(&self, client_id: &str) -> Result<Vec<SessionRecord>, StoreError>;

    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError>;

    /// Sessions matching `q`, newest first. Status filtering happens in the domain, where
    /// expiry by the clock is known.
    fn list_sessions(&self, q: &SessionQuery<'_>) -> Result<Vec<SessionRecord>, StoreError>;
}

/// Changes to sessions.
pub trait SessionsWrites: SessionsReads {
    fn save_session(&self, s: &SessionRecord) -> Result<(), StoreError>;
}

impl<M> SessionsReads for SqliteTx<'_, M> {
    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    fn sessions_of_client(&self, client_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE client_id = ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([client_id], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([user_id], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_sessions(&self, q: &SessionQuery<'_>) -> Result<Vec<SessionRecord>, StoreError> {
        let mut clauses = Vec::new();
        let mut args = Vec::new();
        if let Some(c) = q.client_id {
            clauses.push("client_id = ?");
            args.push(SqlValue::Text(c.to_owned()));
        }
        if let Some(u) = q.user_id {
            clauses.push("user_id = ?");
            args.push(SqlValue::Text(u.to_owned()));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql =
            format!("SELECT {COLUMNS} FROM sessions {where_sql} ORDER BY created_at DESC, id DESC");
        let mut stmt = self.0.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SessionsWrites for SqliteTx<'_, WriteMode> {
    fn save_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                 first_factor_at = excluded.first_factor_at,
                 second_factor_at = excluded.second_factor_at,
                 last_active_at = excluded.last_active_at, expire_at = excluded.expire_at,
                 abandon_at = excluded.abandon_at, updated_at = excluded.updated_at"
            ),
            params![
                s.id,
                s.client_id,
                s.user_id,
                s.status.as_str(),
                s.first_factor_at,
                s.last_active_at,
                s.expire_at,
                s.abandon_at,
                s.created_at,
                s.updated_at,
                s.second_factor_at
            ],
        )?;
        Ok(())
    }
}
