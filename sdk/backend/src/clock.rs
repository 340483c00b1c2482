//! Where the SDK reads the time: token `exp`/`nbf`, webhook timestamps, key-cache ages.
//!
//! The system clock is the default. Tests (or an app whose notion of "now" is not the host's)
//! pass their own: any `Fn() -> i64` returning milliseconds since the Unix epoch is a [`Clock`],
//! so verifying at an emulator's time is `.clock(move || emu_clock.now_ms())`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Seconds since the Unix epoch (JWT and webhook timestamps are seconds).
    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The host's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

impl<F> Clock for F
where
    F: Fn() -> i64 + Send + Sync + 'static,
{
    fn now_ms(&self) -> i64 {
        self()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_are_clocks_and_seconds_round_down() {
        let c = || 1_614_265_330_999_i64;
        assert_eq!(c.now_secs(), 1_614_265_330);
        assert!(SystemClock.now_secs() > 1_700_000_000);
    }
}
