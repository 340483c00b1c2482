//! What is removed once it has outlived its use, so that traffic that never signs in cannot grow
//! the database without bound (in-memory databases included). Run by the low-priority cleanup
//! effect; every age is by the emulator clock.

use super::{outbox, DomainError, Env};
use crate::store::Tx;

/// Sign-in and sign-up attempts are abandoned a day after they start (their `abandon_at`).
pub const ATTEMPT_LIFETIME_MS: i64 = 24 * 3600 * 1000;
/// A client that never had a session is forgotten a day after it was last used.
pub const SESSIONLESS_CLIENT_LIFETIME_MS: i64 = 24 * 3600 * 1000;
/// Finished background work is kept this long for the jobs page.
pub const FINISHED_JOB_LIFETIME_MS: i64 = 24 * 3600 * 1000;
/// How often cleanup runs.
pub const INTERVAL_MS: i64 = 3600 * 1000;

/// What one run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub attempts: usize,
    pub clients: usize,
    pub jobs: usize,
    /// Ended rate-limit windows and expired testing tokens.
    pub protection: usize,
}

/// Removes abandoned attempts, session-less clients past their lifetime and old finished jobs,
/// and schedules the next run.
pub fn run(tx: &Tx<'_>, env: &Env<'_>) -> Result<Removed, DomainError> {
    let now = env.now;
    let removed = Removed {
        clients: tx.delete_sessionless_clients_idle_before(now - SESSIONLESS_CLIENT_LIFETIME_MS)?,
        attempts: tx.delete_attempts_created_before(now - ATTEMPT_LIFETIME_MS)?,
        jobs: tx.delete_finished_jobs(now - FINISHED_JOB_LIFETIME_MS)?,
        protection: super::attack::cleanup(tx, now)?,
    };
    outbox::record(tx, env, &outbox::Effect::Cleanup, now + INTERVAL_MS)?;
    Ok(removed)
}

/// `POST /_emulator/v1/reset`: deletes users, sessions, clients, attempts and messages; keeps
/// keys and settings.
pub fn reset(tx: &Tx<'_>) -> Result<(), DomainError> {
    tx.reset_data()?;
    super::oauth::reset(tx)
}
