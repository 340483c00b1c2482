//! Webhook endpoints, events and the log of delivery attempts.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::{SqliteTx, StoreError, WriteMode};
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct EndpointRecord {
    pub id: String,
    pub url: String,
    /// Event types; empty means every event.
    pub events: Vec<String>,
    pub secret: Secret,
    pub created_at: i64,
}

impl EndpointRecord {
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptRecord {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub job_id: Option<i64>,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub succeeded: bool,
    pub request_id: Option<String>,
    pub created_at: i64,
}

fn endpoint_from_row(r: &Row<'_>) -> rusqlite::Result<EndpointRecord> {
    let events: String = r.get(2)?;
    Ok(EndpointRecord {
        id: r.get(0)?,
        url: r.get(1)?,
        events: serde_json::from_str(&events).map_err(|e| super::corrupt(e.to_string()))?,
        secret: Secret::new(r.get::<_, String>(3)?),
        created_at: r.get(4)?,
    })
}

fn attempt_from_row(r: &Row<'_>) -> rusqlite::Result<AttemptRecord> {
    Ok(AttemptRecord {
        id: r.get(0)?,
        event_id: r.get(1)?,
        event_type: r.get(2)?,
        endpoint_id: r.get(3)?,
        job_id: r.get(4)?,
        attempt: r.get(5)?,
        status_code: r.get(6)?,
        duration_ms: r.get(7)?,
        response_excerpt: r.get(8)?,
        error: r.get(9)?,
        succeeded: r.get(10)?,
        request_id: r.get(11)?,
        created_at: r.get(12)?,
    })
}

const ATTEMPT_COLUMNS: &str = "a.id, a.event_id, e.type, a.endpoint_id, a.job_id, a.attempt,
    a.status_code, a.duration_ms, a.response_excerpt, a.error, a.succeeded, a.request_id, a.created_at";

/// Filters of the delivery log.
#[derive(Debug, Default)]
pub struct AttemptQuery<'a> {
    pub event_id: Option<&'a str>,
    pub endpoint_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub succeeded: Option<bool>,
    pub limit: i64,
}

/// Reads of webhook endpoints, events and delivery attempts.
pub trait WebhooksReads {
    fn endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError>;

    fn endpoint(&self, id: &str) -> Result<Option<EndpointRecord>, StoreError>;

    /// The event's type and JSON payload.
    fn event(&self, id: &str) -> Result<Option<(String, String)>, StoreError>;

    fn attempts(&self, q: &AttemptQuery<'_>) -> Result<Vec<AttemptRecord>, StoreError>;

    fn attempt(&self, id: i64) -> Result<Option<AttemptRecord>, StoreError>;
}

/// Changes to webhook endpoints, events and delivery attempts.
pub trait WebhooksWrites: WebhooksReads {
    fn insert_endpoint(&self, e: &EndpointRecord) -> Result<(), StoreError>;

    fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError>;

    fn insert_event(
        &self,
        id: &str,
        event_type: &str,
        payload: &str,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError>;

    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<(), StoreError>;
}

impl<M> WebhooksReads for SqliteTx<'_, M> {
    fn endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, url, events, secret, created_at FROM webhook_endpoints ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], endpoint_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn endpoint(&self, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        Ok(self
            .row(
                "SELECT id, url, events, secret, created_at FROM webhook_endpoints WHERE id = ?1",
                [id],
                endpoint_from_row,
            )
            .optional()?)
    }

    fn event(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .row(
                "SELECT type, payload FROM webhook_events WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn attempts(&self, q: &AttemptQuery<'_>) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut clauses = Vec::new();
        let mut args = Vec::new();
        if let Some(v) = q.event_id {
            clauses.push("a.event_id = ?");
            args.push(SqlValue::Text(v.to_owned()));
        }
        if let Some(v) = q.endpoint_id {
            clauses.push("a.endpoint_id = ?");
            args.push(SqlValue::Text(v.to_owned()));
        }
        if let Some(v) = q.event_type {
            clauses.push("e.type = ?");
            args.push(SqlValue::Text(v.to_owned()));
        }
        if let Some(v) = q.succeeded {
            clauses.push("a.succeeded = ?");
            args.push(SqlValue::Integer(i64::from(v)));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        args.push(SqlValue::Integer(q.limit));
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id
             {where_sql} ORDER BY a.id DESC LIMIT ?"
        ))?;
        let rows = stmt.query_map(params_from_iter(args), attempt_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn attempt(&self, id: i64) -> Result<Option<AttemptRecord>, StoreError> {
        Ok(self
            .row(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts a
                     JOIN webhook_events e ON e.id = a.event_id WHERE a.id = ?1"
                ),
                [id],
                attempt_from_row,
            )
            .optional()?)
    }
}

impl WebhooksWrites for SqliteTx<'_, WriteMode> {
    fn insert_endpoint(&self, e: &EndpointRecord) -> Result<(), StoreError> {
        let events =
            serde_json::to_string(&e.events).map_err(|x| StoreError::Corrupt(x.to_string()))?;
        self.exec(
            "INSERT INTO webhook_endpoints (id, url, events, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![e.id, e.url, events, e.secret.expose(), e.created_at],
        )?;
        Ok(())
    }

    fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM webhook_endpoints WHERE id = ?1", [id])? > 0)
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
            "INSERT INTO webhook_events (id, type, payload, request_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, event_type, payload, request_id, now],
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                event_id,
                endpoint_id,
                job_id,
                attempt,
                status_code,
                duration_ms,
                response_excerpt,
                error,
                succeeded,
                request_id,
                now
            ],
        )?;
        Ok(())
    }
}
