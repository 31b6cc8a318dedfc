//! Time source for expiry (level 0): the system clock, or a manual clock tests move by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the store reads the time, in milliseconds since the Unix epoch.
///
/// Expiry deadlines are absolute Unix milliseconds, as Redis keeps them, so `EXPIREAT` and
/// `PEXPIRETIME` mean the same thing as in Redis. A [`Clock::manual`] clock only moves when a
/// test moves it, so TTL tests advance time instead of sleeping.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use std::time::Duration;
/// let clock = slotstore::Clock::manual(1_700_000_000_000);
/// let client = slotstore::Cluster::builder().clock(clock.clone()).build()?.client();
/// client.set_ex("k", "v", Duration::from_secs(5))?;
/// clock.advance(Duration::from_secs(5));
/// assert!(client.get("k")?.is_some(), "alive through its deadline's millisecond, as in Redis");
/// clock.advance(Duration::from_millis(1));
/// assert_eq!(client.get("k")?, None);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Clock {
    manual: bool,
    /// A manual clock's time; for the system clock, the time as of the last
    /// [`Clock::refresh_coarse`] (0: never). Clones share it.
    time: Arc<AtomicU64>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock { manual: false, time: Arc::new(AtomicU64::new(0)) }
    }

    /// A clock that starts at `start_ms` (Unix milliseconds) and moves only by
    /// [`advance`](Clock::advance) and [`set`](Clock::set). Clones share the same time.
    pub fn manual(start_ms: u64) -> Clock {
        Clock { manual: true, time: Arc::new(AtomicU64::new(start_ms)) }
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        if self.manual {
            self.time.load(Ordering::Acquire)
        } else {
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
        }
    }

    /// The time as of the node threads' last wake (they refresh it each time, at least every
    /// `node_timeout / 8`): what LFU's minute counters read, so a read under an LFU policy does
    /// not pay for a system clock read. Never goes back. A manual clock gives its exact time.
    #[inline]
    pub(crate) fn coarse_ms(&self) -> u64 {
        match self.time.load(Ordering::Relaxed) {
            0 if !self.manual => self.refresh_coarse(),
            ms => ms,
        }
    }

    /// Brings [`Clock::coarse_ms`] up to date and returns it. The time only moves forward:
    /// a thread that read the clock before another must not store an older time after it
    /// (LFU decay would read the step back as 45 days passed).
    pub(crate) fn refresh_coarse(&self) -> u64 {
        if self.manual {
            return self.time.load(Ordering::Acquire);
        }
        let now = self.now_ms();
        self.time.fetch_max(now, Ordering::Relaxed).max(now)
    }

    /// Moves a manual clock forward. Does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if self.manual {
            self.time.fetch_add(by.as_millis() as u64, Ordering::AcqRel);
        }
    }

    /// Sets a manual clock to `ms` (Unix milliseconds). Does nothing to the system clock.
    pub fn set(&self, ms: u64) {
        if self.manual {
            self.time.store(ms, Ordering::Release);
        }
    }

    /// True for a clock made by [`Clock::manual`].
    pub fn is_manual(&self) -> bool {
        self.manual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_time_follows_refreshes() {
        let manual = Clock::manual(5_000);
        manual.advance(Duration::from_millis(7));
        assert_eq!(manual.coarse_ms(), 5_007, "a manual clock is exact");
        let system = Clock::system();
        let before = system.now_ms();
        let coarse = system.coarse_ms();
        assert!(coarse >= before && coarse <= system.now_ms(), "the first read refreshes");
        assert_eq!(system.clone().coarse_ms(), coarse, "clones share it; it waits for a refresh");
        std::thread::sleep(Duration::from_millis(5));
        assert!(system.refresh_coarse() >= coarse + 5);
        system.time.store(u64::MAX / 2, Ordering::Relaxed);
        assert_eq!(system.refresh_coarse(), u64::MAX / 2, "never goes back");
    }
}
