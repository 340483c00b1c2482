//! The domain's outbox: what must happen after a change commits (a message sent on, a webhook
//! delivered, old data cleaned up) is written in the same transaction as the change, as an
//! [`Effect`]. The runner (`jobs/`, above the domain) carries effects out; the domain never names
//! it. No effect for a rolled-back change, none lost for a committed one.

use serde::{Deserialize, Serialize};

use super::{DomainError, Env};
use crate::store::{NewJob, Tx};

/// How soon an effect should run relative to others.
pub type Priority = i64;
/// Messages: a verification email never waits behind a backlog of webhooks.
pub const HIGH: Priority = 0;
/// Webhook deliveries.
pub const NORMAL: Priority = 1;
/// Cleanup.
pub const LOW: Priority = 2;

/// Svix's retry schedule: the delay before attempts 2 to 8 of a webhook delivery.
pub const WEBHOOK_RETRY_DELAYS_SECS: [i64; 7] =
    [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// Something to do once the transaction that records it commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Send a captured message on (SMTP), when delivery is configured.
    DeliverMessage { message_id: String },
    /// POST an event to one endpoint, signed.
    DeliverWebhook {
        event_id: String,
        endpoint_id: String,
    },
    /// Remove what has outlived its use; schedules itself again.
    Cleanup,
}

impl Effect {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DeliverMessage { .. } => "deliver_message",
            Self::DeliverWebhook { .. } => "deliver_webhook",
            Self::Cleanup => "cleanup",
        }
    }

    pub fn priority(&self) -> Priority {
        match self {
            Self::DeliverMessage { .. } => HIGH,
            Self::DeliverWebhook { .. } => NORMAL,
            Self::Cleanup => LOW,
        }
    }

    /// Attempts before the effect is given up (dead).
    pub fn max_attempts(&self) -> i64 {
        match self {
            Self::DeliverWebhook { .. } => 1 + WEBHOOK_RETRY_DELAYS_SECS.len() as i64,
            Self::DeliverMessage { .. } => 5,
            Self::Cleanup => 3,
        }
    }
}

/// Records `effect` to run at `run_at` (emulator ms), in the caller's transaction; it carries
/// the request id of the operation, so its deliveries can be traced to the request.
pub fn record(
    tx: &Tx<'_>,
    env: &Env<'_>,
    effect: &Effect,
    run_at: i64,
) -> Result<i64, DomainError> {
    let payload =
        serde_json::to_string(effect).map_err(|e| DomainError::Internal(e.to_string()))?;
    Ok(tx.enqueue_job(
        &NewJob {
            kind: effect.kind().to_owned(),
            priority: effect.priority(),
            payload,
            max_attempts: effect.max_attempts(),
            run_at,
            request_id: env.request.id.clone(),
        },
        env.now,
    )?)
}

/// Sends the event of a logged delivery attempt to its endpoint again (same event id).
pub fn replay_delivery(tx: &Tx<'_>, env: &Env<'_>, attempt_id: i64) -> Result<i64, DomainError> {
    let a = tx
        .attempt(attempt_id)?
        .ok_or(DomainError::NotFound("delivery"))?;
    record(
        tx,
        env,
        &Effect::DeliverWebhook {
            event_id: a.event_id,
            endpoint_id: a.endpoint_id,
        },
        env.now,
    )
}

/// Records again every webhook delivery given up since `since` (ms); returns how many.
pub fn recover_deliveries(tx: &Tx<'_>, env: &Env<'_>, since: i64) -> Result<usize, DomainError> {
    let dead = tx.list_jobs(Some("dead"), Some("deliver_webhook"), 100_000)?;
    let mut n = 0;
    for j in dead.into_iter().filter(|j| j.updated_at >= since) {
        if let Ok(effect) = serde_json::from_str::<Effect>(&j.payload) {
            record(tx, env, &effect, env.now)?;
            n += 1;
        }
    }
    Ok(n)
}
