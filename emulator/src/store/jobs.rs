//! The job queue's SQL. Claiming, running and completing are separate transactions; a claim
//! carries a lease, and an expired lease makes the job claimable again (at-least-once).

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Row};

use super::{SqliteTx, StoreError, WriteMode};

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub priority: i64,
    pub payload: String,
    pub max_attempts: i64,
    pub run_at: i64,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub priority: i64,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub request_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, kind, priority, payload, state, attempts, max_attempts, run_at,
    lease_until, last_error, request_id, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        id: r.get(0)?,
        kind: r.get(1)?,
        priority: r.get(2)?,
        payload: r.get(3)?,
        state: r.get(4)?,
        attempts: r.get(5)?,
        max_attempts: r.get(6)?,
        run_at: r.get(7)?,
        lease_until: r.get(8)?,
        last_error: r.get(9)?,
        request_id: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// Reads of the durable job queue.
pub trait JobsReads {
    /// When the next queued job becomes due (emulator time), if any.
    fn next_job_due(&self, max_priority: i64) -> Result<Option<i64>, StoreError>;

    /// Jobs that are due now or running: zero means the queue is idle for now.
    fn busy_jobs(&self, now: i64) -> Result<i64, StoreError>;

    fn list_jobs(
        &self,
        state: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobRecord>, StoreError>;

    fn job_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError>;
}

/// Changes to the durable job queue.
pub trait JobsWrites: JobsReads {
    fn enqueue_job(&self, job: &NewJob, now: i64) -> Result<i64, StoreError>;

    /// Claims up to `limit` runnable jobs of priority `<= max_priority`, most urgent first:
    /// queued and due, or running with an expired lease (their worker died).
    fn claim_jobs(
        &self,
        now: i64,
        max_priority: i64,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// Marks a claimed job done. Returns false when the claim was lost (lease expired and the
    /// job was taken again elsewhere), in which case nothing changes.
    fn complete_job(&self, id: i64, attempts: i64, now: i64) -> Result<bool, StoreError>;

    /// Schedules a claimed job again at `run_at`, or marks it dead when `run_at` is `None`.
    fn fail_job(
        &self,
        id: i64,
        attempts: i64,
        error: &str,
        run_at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Every claim belongs to a process that is gone (one process owns a data directory), so
    /// on start all running jobs are queued again.
    fn requeue_running_jobs(&self, now: i64) -> Result<usize, StoreError>;

    /// Deletes finished jobs older than `before`.
    fn delete_finished_jobs(&self, before: i64) -> Result<usize, StoreError>;
}

impl<M> JobsReads for SqliteTx<'_, M> {
    fn next_job_due(&self, max_priority: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.row(
            "SELECT min(coalesce(CASE WHEN state = 'queued' THEN run_at END, lease_until))
             FROM jobs WHERE priority <= ?1 AND state IN ('queued', 'running')",
            [max_priority],
            |r| r.get(0),
        )?)
    }

    fn busy_jobs(&self, now: i64) -> Result<i64, StoreError> {
        Ok(self.row(
            "SELECT count(*) FROM jobs WHERE state = 'running'
             OR (state = 'queued' AND run_at <= ?1)",
            [now],
            |r| r.get(0),
        )?)
    }

    fn list_jobs(
        &self,
        state: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let mut clauses = Vec::new();
        let mut args = Vec::new();
        if let Some(s) = state {
            clauses.push("state = ?");
            args.push(SqlValue::Text(s.to_owned()));
        }
        if let Some(k) = kind {
            clauses.push("kind = ?");
            args.push(SqlValue::Text(k.to_owned()));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        args.push(SqlValue::Integer(limit));
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs {where_sql} ORDER BY id DESC LIMIT ?"
        ))?;
        let rows = stmt.query_map(params_from_iter(args), from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn job_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl JobsWrites for SqliteTx<'_, WriteMode> {
    fn enqueue_job(&self, job: &NewJob, now: i64) -> Result<i64, StoreError> {
        self.1.store(true, std::sync::atomic::Ordering::Relaxed);
        self.exec(
            "INSERT INTO jobs (kind, priority, payload, state, attempts, max_attempts, run_at,
             request_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?5, ?6, ?7, ?7)",
            params![
                job.kind,
                job.priority,
                job.payload,
                job.max_attempts,
                job.run_at,
                job.request_id,
                now
            ],
        )?;
        Ok(self.0.last_insert_rowid())
    }

    fn claim_jobs(
        &self,
        now: i64,
        max_priority: i64,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        // Two index walks: claims whose lease expired (their worker died), then due jobs in
        // priority order.
        let mut jobs: Vec<JobRecord> = self
            .0
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE state = 'running' AND lease_until <= ?1
                 AND priority <= ?2 ORDER BY lease_until LIMIT ?3"
            ))?
            .query_map(params![now, max_priority, limit], from_row)?
            .collect::<Result<_, _>>()?;
        let left = limit - jobs.len() as i64;
        if left > 0 {
            let mut stmt = self.0.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE state = 'queued' AND priority <= ?2
                 AND run_at <= ?1 ORDER BY priority, run_at, id LIMIT ?3"
            ))?;
            let due = stmt.query_map(params![now, max_priority, left], from_row)?;
            for row in due {
                jobs.push(row?);
            }
        }
        let mut claimed = Vec::with_capacity(jobs.len());
        for mut job in jobs {
            job.state = "running".into();
            job.attempts += 1;
            job.lease_until = Some(now + lease_ms);
            self.exec(
                "UPDATE jobs SET state = 'running', attempts = ?2, lease_until = ?3, updated_at = ?4
                 WHERE id = ?1",
                params![job.id, job.attempts, job.lease_until, now],
            )?;
            claimed.push(job);
        }
        Ok(claimed)
    }

    fn complete_job(&self, id: i64, attempts: i64, now: i64) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = ?3
             WHERE id = ?1 AND state = 'running' AND attempts = ?2",
            params![id, attempts, now],
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
            Some(at) => self.exec(
                "UPDATE jobs SET state = 'queued', run_at = ?3, lease_until = NULL, last_error = ?4,
                 updated_at = ?5 WHERE id = ?1 AND state = 'running' AND attempts = ?2",
                params![id, attempts, at, error, now],
            )?,
            None => self.exec(
                "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?3, updated_at = ?4
                 WHERE id = ?1 AND state = 'running' AND attempts = ?2",
                params![id, attempts, error, now],
            )?,
        };
        Ok(n > 0)
    }

    fn requeue_running_jobs(&self, now: i64) -> Result<usize, StoreError> {
        Ok(self.exec(
            "UPDATE jobs SET state = 'queued', lease_until = NULL, run_at = min(run_at, ?1),
             updated_at = ?1 WHERE state = 'running'",
            [now],
        )?)
    }

    fn delete_finished_jobs(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self.exec(
            "DELETE FROM jobs WHERE state = 'done' AND updated_at < ?1",
            [before],
        )?)
    }
}
