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
