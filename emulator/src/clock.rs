//! The emulator's clock. All expiry and scheduling reads it; the control API moves it forward.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// System time plus an offset that only ever grows. Cheap to read from any thread.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    /// When set, time stands still at this instant (plus the offset): for unit tests.
    pinned_ms: Option<i64>,
}

impl Clock {
    /// The system clock, not moved yet.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that stands still at `ms` until advanced.
    pub fn pinned(ms: i64) -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            pinned_ms: Some(ms),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let base = self.pinned_ms.unwrap_or_else(system_ms);
        base + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Seconds since the Unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves the clock forward; returns the new time. Negative amounts are refused by callers.
    pub fn advance_ms(&self, ms: i64) -> i64 {
        self.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed);
        self.now_ms()
    }

    /// Raises the offset to `ms` if it is behind (another process moved the shared clock);
    /// returns whether it moved.
    pub fn raise_offset_to(&self, ms: i64) -> bool {
        self.offset_ms.fetch_max(ms, Ordering::Relaxed) < ms
    }

    /// How far the clock has been advanced, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_and_never_goes_back() {
        let c = Clock::pinned(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert_eq!(c.advance_ms(61_000), 62_000);
        assert_eq!(c.advance_ms(-5), 62_000);
        assert_eq!(c.now_secs(), 62);
    }
}
