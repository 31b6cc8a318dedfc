//! Time source for expiry (level 0): the system clock, or a manual clock tests move by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The system clock's time as of the last [`Clock::refresh_coarse`] (0: never).
static COARSE: AtomicU64 = AtomicU64::new(0);

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
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that starts at `start_ms` (Unix milliseconds) and moves only by
    /// [`advance`](Clock::advance) and [`set`](Clock::set). Clones share the same time.
    pub fn manual(start_ms: u64) -> Clock {
        Clock(Some(Arc::new(AtomicU64::new(start_ms))))
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        match &self.0 {
            None => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            Some(t) => t.load(Ordering::Acquire),
        }
    }

    /// The time to within the node threads' periodic work (`cron_interval`, 100 ms by
    /// default): what LFU's minute counters read, so a read under an LFU policy does not
    /// pay for a system clock read. A manual clock gives its exact time.
    pub(crate) fn coarse_ms(&self) -> u64 {
        match &self.0 {
            None => match COARSE.load(Ordering::Relaxed) {
                0 => self.now_ms(),
                ms => ms,
            },
            Some(t) => t.load(Ordering::Acquire),
        }
    }

    /// Brings [`Clock::coarse_ms`] up to date (node threads call it on every periodic run).
    pub(crate) fn refresh_coarse(&self) {
        if self.0.is_none() {
            COARSE.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// Moves a manual clock forward. Does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            t.fetch_add(by.as_millis() as u64, Ordering::AcqRel);
        }
    }

    /// Sets a manual clock to `ms` (Unix milliseconds). Does nothing to the system clock.
    pub fn set(&self, ms: u64) {
        if let Some(t) = &self.0 {
            t.store(ms, Ordering::Release);
        }
    }

    /// True for a clock made by [`Clock::manual`].
    pub fn is_manual(&self) -> bool {
        self.0.is_some()
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
        system.refresh_coarse();
        let coarse = system.coarse_ms();
        assert!(coarse >= before && coarse <= system.now_ms());
    }
}
