//! Workers and what each job does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{retry_at, Job, LEASE_MS};
use crate::app::App;
use crate::domain::DomainError;
use crate::domain::RequestInfo;
use crate::store::records::MessageKind;
use crate::store::JobRecord;

pub(super) async fn worker(
    app: Arc<App>,
    max_priority: i64,
    batch: i64,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        let notified = app.store.jobs_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = app.clock.now_ms();
        match app
            .store
            .write(|tx| tx.claim_jobs(now, max_priority, batch, LEASE_MS))
        {
            Ok(jobs) if !jobs.is_empty() => {
                run_batch(&app, jobs).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not claim jobs"),
        }
        // Idle: sleep until new jobs are committed (or the clock moved), the next due job, or stop.
        let next = app
            .store
            .read(|tx| tx.next_job_due(max_priority))
            .ok()
            .flatten();
        let wait_ms = next
            .map(|t| (t - app.clock.now_ms()).clamp(1, 1000))
            .unwrap_or(1000);
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Runs a claimed batch. Message jobs that only capture (no SMTP) complete together in one
/// transaction; everything else runs one by one.
async fn run_batch(app: &App, jobs: Vec<JobRecord>) {
    let (quick, rest): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|j| {
        app.smtp.is_none()
            && matches!(
                serde_json::from_str::<Job>(&j.payload),
                Ok(Job::DeliverMessage { .. })
            )
    });
    if !quick.is_empty() {
        let now = app.clock.now_ms();
        let done = app.write(|tx| {
            for j in &quick {
                if let Ok(Job::DeliverMessage { message_id }) =
                    serde_json::from_str::<Job>(&j.payload)
                {
                    if tx.complete_job(j.id, j.attempts, now)? {
                        tx.capture_message(&message_id, "inbox")?;
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = done {
            // The claims stay; their leases expire and the jobs run again.
            tracing::error!(error = %e, jobs = quick.len(), "could not complete a batch of message jobs");
        }
    }
    for job in rest {
        run_one(app, job).await;
    }
}

/// What running a job came to.
enum Outcome {
    Done,
    Failed(String),
}

async fn run_one(app: &App, row: JobRecord) {
    let job: Job = match serde_json::from_str(&row.payload) {
        Ok(j) => j,
        Err(e) => {
            let now = app.clock.now_ms();
            let msg = format!("unreadable job payload: {e}");
            let _ = app.write(|tx| Ok(tx.fail_job(row.id, row.attempts, &msg, None, now)?));
            return;
        }
    };
    let span = tracing::info_span!("job", id = row.id, kind = %row.kind, attempt = row.attempts,
        request_id = row.request_id.as_deref().unwrap_or(""));
    let _enter = span.enter();
    let result = match &job {
        Job::DeliverMessage { message_id } => deliver_message(app, &row, message_id).await,
        Job::DeliverWebhook {
            event_id,
            endpoint_id,
        } => deliver_webhook(app, &row, event_id, endpoint_id).await,
        Job::Cleanup => cleanup(app, &row),
    };
    let now = app.clock.now_ms();
    let finished = match result {
        Ok(Outcome::Done) => Ok(()),
        Ok(Outcome::Failed(error)) => {
            let next = retry_at(&job, row.attempts, row.max_attempts, now);
            tracing::info!(%error, retry_at = ?next, "job failed");
            app.write(|tx| Ok(tx.fail_job(row.id, row.attempts, &error, next, now)?))
                .map(|_| ())
        }
        Err(e) => {
            let next = retry_at(&job, row.attempts, row.max_attempts, now);
            tracing::error!(error = %e, "job error");
            app.write(|tx| Ok(tx.fail_job(row.id, row.attempts, &e.to_string(), next, now)?))
                .map(|_| ())
        }
    };
    if let Err(e) = finished {
        tracing::error!(error = %e, "could not record the job's outcome");
    }
}

/// Sends a message through SMTP when configured and the instance delivers; a failed send
/// retries the job. Messages are captured in the inbox when they are written (a message written
/// by an older emulator, still queued, is captured here first, in its own transaction).
async fn deliver_message(
    app: &App,
    row: &JobRecord,
    message_id: &str,
) -> Result<Outcome, DomainError> {
    let Some(msg) = app.store.read(|tx| tx.message(message_id))? else {
        complete(app, row, |_| Ok(()))?;
        return Ok(Outcome::Done);
    };
    let smtp = app
        .smtp
        .as_ref()
        .filter(|_| msg.kind == MessageKind::Email && msg.delivered_by_clerk);
    if msg.status != "captured" {
        match smtp {
            None => {
                complete(app, row, |tx| Ok(tx.capture_message(message_id, "inbox")?))?;
                return Ok(Outcome::Done);
            }
            Some(_) => app.write(|tx| Ok(tx.capture_message(message_id, "inbox")?))?,
        }
    }
    if let Some(smtp) = smtp {
        if msg.delivered_via.as_deref() != Some("inbox+smtp") {
            if let Err(e) = smtp.send(&app.settings().application_name, &msg).await {
                return Ok(Outcome::Failed(format!("SMTP: {e}")));
            }
        }
        complete(app, row, |tx| {
            Ok(tx.capture_message(message_id, "inbox+smtp")?)
        })?;
        return Ok(Outcome::Done);
    }
    complete(app, row, |_| Ok(()))?;
    Ok(Outcome::Done)
}

/// Runs `also` and marks the job done in one transaction (nothing happens if the claim was lost).
fn complete(
    app: &App,
    row: &JobRecord,
    also: impl FnOnce(&crate::store::Tx<'_>) -> Result<(), DomainError>,
) -> Result<(), DomainError> {
    let now = app.clock.now_ms();
    app.write(|tx| {
        if tx.complete_job(row.id, row.attempts, now)? {
            also(tx)?;
        }
        Ok(())
    })
}

const EXCERPT_CHARS: usize = 512;

/// At most this much of a receiver's response body is read; the rest is never received (the
/// connection is dropped), so a receiver that answers with gigabytes costs nothing.
pub(crate) const RESPONSE_READ_LIMIT: usize = 4 * 1024;

/// The first [`EXCERPT_CHARS`] characters of a response body, reading at most
/// [`RESPONSE_READ_LIMIT`] bytes of it.
async fn read_excerpt(mut res: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < RESPONSE_READ_LIMIT {
        match res.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    buf.truncate(RESPONSE_READ_LIMIT);
    // Dropping `res` here closes the connection instead of draining the rest.
    drop(res);
    String::from_utf8_lossy(&buf)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// POSTs the event to the endpoint, signed; records the attempt. 2xx within 15 s is success.
async fn deliver_webhook(
    app: &App,
    row: &JobRecord,
    event_id: &str,
    endpoint_id: &str,
) -> Result<Outcome, DomainError> {
    let (event, endpoint) = app
        .store
        .read(|tx| Ok::<_, DomainError>((tx.event(event_id)?, tx.endpoint(endpoint_id)?)))?;
    let (Some((_, body)), Some(endpoint)) = (event, endpoint) else {
        // The endpoint was deleted (or the data reset): nothing to deliver.
        complete(app, row, |_| Ok(()))?;
        return Ok(Outcome::Done);
    };
    let ts = app.clock.now_secs();
    let signature =
        latchkey_protocol::webhooks::sign(endpoint.secret.expose(), event_id, ts, body.as_bytes())
            .map_err(|_| DomainError::Internal("the endpoint's secret is malformed".into()))?;
    let mut req = app
        .http
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("Latchkey-Emulator/", env!("CARGO_PKG_VERSION")),
        )
        .header("svix-id", event_id)
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", &signature)
        .header("webhook-id", event_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", &signature)
        .body(body);
    if let Some(rid) = &row.request_id {
        req = req.header("x-latchkey-request-id", rid);
    }
    let started = Instant::now();
    let result = req.send().await;
    let (status, excerpt, error) = match result {
        Ok(res) => {
            let status = res.status().as_u16();
            let excerpt = read_excerpt(res).await;
            (Some(i64::from(status)), Some(excerpt), None)
        }
        Err(e) => {
            let kind = if e.is_timeout() {
                "timed out after 15 s"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            (None, None, Some(format!("{kind}: {e}")))
        }
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let now = app.clock.now_ms();
    let record = |tx: &crate::store::Tx<'_>| -> Result<(), DomainError> {
        tx.insert_attempt(
            event_id,
            endpoint_id,
            Some(row.id),
            row.attempts,
            status,
            duration_ms,
            excerpt.as_deref(),
            error.as_deref(),
            ok,
            row.request_id.as_deref(),
            now,
        )?;
        Ok(())
    };
    if ok {
        complete(app, row, record)?;
        Ok(Outcome::Done)
    } else {
        // The attempt is logged whatever happens to the job next.
        app.write(|tx| record(tx))?;
        Ok(Outcome::Failed(match (status, error) {
            (Some(s), _) => format!("endpoint answered {s}"),
            (None, Some(e)) => e,
            (None, None) => "no response".into(),
        }))
    }
}

/// Runs the domain's cleanup (which schedules the next run).
fn cleanup(app: &App, row: &JobRecord) -> Result<Outcome, DomainError> {
    let now = app.clock.now_ms();
    let settings = app.settings();
    let env = app.env(&settings, now, None, &RequestInfo::NONE);
    complete(app, row, |tx| {
        let removed = crate::domain::cleanup::run(tx, &env)?;
        tracing::debug!(?removed, "cleanup");
        Ok(())
    })?;
    Ok(Outcome::Done)
}
