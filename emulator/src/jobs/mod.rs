//! Durable background work in the emulator's database: message delivery (high priority),
//! webhook deliveries (normal), cleanup (low).
//!
//! A job is enqueued in the transaction of the change that causes it. Workers claim jobs in one
//! transaction (with a lease), run them outside any transaction, and complete or reschedule them
//! in another; a claim whose worker died is taken again when its lease expires. Every time is
//! the emulator's clock, so advancing it runs the schedule. One worker serves only high-priority
//! jobs, so a verification email never waits behind a backlog of webhooks.

mod run;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::domain::DomainError;
use crate::domain::RequestInfo;

pub use crate::domain::outbox::Effect as Job;
use crate::domain::outbox::{self, HIGH, LOW, WEBHOOK_RETRY_DELAYS_SECS};

/// How long a claim is good for before another worker may take the job (emulator time).
pub const LEASE_MS: i64 = 60_000;

/// When a failed attempt `attempt` (1-based) runs again, or `None` when it was the last.
pub fn retry_at(job: &Job, attempt: i64, max_attempts: i64, now: i64) -> Option<i64> {
    if attempt >= max_attempts {
        return None;
    }
    match job {
        Job::DeliverWebhook { .. } => {
            let i = usize::try_from(attempt - 1).ok()?;
            WEBHOOK_RETRY_DELAYS_SECS.get(i).map(|d| now + d * 1000)
        }
        _ => {
            // Exponential backoff from one second, with ±20 % jitter.
            let base = 1000_i64.saturating_mul(1 << (attempt - 1).clamp(0, 20));
            let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), -base / 5..=base / 5);
            Some(now + base + jitter)
        }
    }
}

/// The running workers; [`Workers::stop`] lets each finish its job and joins them.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

/// Requeues claims of a previous process, makes sure the cleanup job exists, and starts the
/// workers: one for high-priority jobs only, the rest for everything by priority.
pub fn start(app: Arc<App>, general_workers: usize) -> Result<Workers, DomainError> {
    let now = app.clock.now_ms();
    app.store.write(|tx| -> Result<(), DomainError> {
        tx.requeue_running_jobs(now)?;
        // Another process sharing the store may be running the cleanup job right now.
        let pending = |state| tx.list_jobs(Some(state), Some("cleanup"), 1);
        if pending("queued")?.is_empty() && pending("running")?.is_empty() {
            let settings = app.settings();
            let env = app.env(&settings, now, None, &RequestInfo::NONE);
            outbox::record(
                tx,
                &env,
                &Job::Cleanup,
                now + crate::domain::cleanup::INTERVAL_MS,
            )?;
        }
        Ok(())
    })?;
    let (stop, rx) = watch::channel(false);
    let mut handles = vec![tokio::spawn(run::worker(app.clone(), HIGH, 64, rx.clone()))];
    for _ in 0..general_workers.max(1) {
        handles.push(tokio::spawn(run::worker(app.clone(), LOW, 8, rx.clone())));
    }
    Ok(Workers { stop, handles })
}

/// Waits until no job is running or due (emulator time), up to `timeout`. Returns whether the
/// queue went idle.
pub async fn wait_idle(app: &App, timeout: Duration) -> Result<bool, DomainError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = app.committed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = app.clock.now_ms();
        if app.store.read(|tx| tx.busy_jobs(now))? == 0 {
            return Ok(true);
        }
        let tick = tokio::time::sleep(Duration::from_millis(20));
        tokio::select! {
            _ = notified => {}
            _ = tick => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_follow_svix_schedule_and_stop_after_eight() {
        let job = Job::DeliverWebhook {
            event_id: "msg_1".into(),
            endpoint_id: "ep_1".into(),
        };
        let max = job.max_attempts();
        assert_eq!(max, 8);
        let offsets: Vec<i64> = (1..max)
            .map(|a| retry_at(&job, a, max, 0).unwrap_or(-1))
            .collect();
        assert_eq!(
            offsets,
            vec![5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]
        );
        assert_eq!(retry_at(&job, 8, max, 0), None);
    }

    #[test]
    fn other_jobs_back_off_exponentially_with_jitter() {
        let job = Job::DeliverMessage {
            message_id: "m".into(),
        };
        for attempt in 1..5 {
            let base = 1000 * (1 << (attempt - 1));
            let at = retry_at(&job, attempt, 5, 0).unwrap_or(-1);
            assert!(
                (base * 4 / 5..=base * 6 / 5).contains(&at),
                "{attempt}: {at}"
            );
        }
        assert_eq!(retry_at(&job, 5, 5, 0), None);
    }
}
