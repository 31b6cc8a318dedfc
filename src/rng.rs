//! Randomness (level 0), one generator for the whole crate: splitmix64, fast and well mixed,
//! its whole state one `u64`. Not for cryptography.
//!
//! - [`Rng`]: a generator value. Seeded ([`Rng::with_seed`]) it replays (chaos runs draw
//!   their faults from it); [`Rng::new`] gives each caller a sequence of its own (skip-list
//!   levels, `ZRANDMEMBER`).
//! - [`random_u64`] / [`random_below`]: a per-thread generator, for random picks under a
//!   read lock (eviction sampling, `SRANDMEMBER`, a migration batch's starting place) that
//!   must not write shared state.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// One splitmix64 step: advances `state` and returns the next 64 random bits.
#[inline]
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `x` scaled into `0..n` by Lemire's multiply-shift: the bias is below 2^-64 * n.
#[inline]
fn scale(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

/// A splitmix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator whose seed differs from every other one made by this process, and from
    /// run to run.
    pub(crate) fn new() -> Rng {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        // RandomState is seeded from the OS: different runs draw different sequences.
        let base = *BASE.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0u64)
        });
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut rng = Rng(base ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next_u64();
        rng
    }

    /// A generator that draws the same sequence for the same seed.
    pub(crate) fn with_seed(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        splitmix(&mut self.0)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        scale(self.next_u64(), n)
    }

    /// An index in `0..n` (`n > 0`).
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `1 / n`.
    pub(crate) fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

thread_local! {
    /// Per-thread state, so random picks under a read lock need no shared write. 0 until the
    /// thread's first draw seeds it: a `const` thread-local has no lazy-initialisation check,
    /// so a draw inlines to a few instructions (LFU draws one on most reads).
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A thread's first state: different per thread and from run to run, never 0.
#[cold]
#[inline(never)]
fn seed() -> u64 {
    ahash::RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// 64 random bits from the calling thread's generator.
#[inline]
pub(crate) fn random_u64() -> u64 {
    STATE
        .try_with(|state| {
            let mut s = state.get();
            if s == 0 {
                // The first draw (or, once in 2^64 steps, a state that came round to 0).
                s = seed();
            }
            let x = splitmix(&mut s);
            state.set(s);
            x
        })
        // A draw from another thread-local's destructor, after this one is gone.
        .unwrap_or_else(|_| Rng::new().next_u64())
}

/// A random number in `0..n` (`n > 0`) from the calling thread's generator.
pub(crate) fn random_below(n: usize) -> usize {
    scale(random_u64(), n as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_and_draws_stay_in_range() {
        let draw = |seed| {
            let mut r = Rng::with_seed(seed);
            (0..100).map(|_| r.index(7)).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
        assert!(draw(1).iter().all(|&x| x < 7));
        let mut r = Rng::with_seed(0);
        let mut seen = [0usize; 4];
        (0..4000).for_each(|_| seen[r.index(4)] += 1);
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_ne!(Rng::new().next_u64(), Rng::new().next_u64(), "fresh generators differ");
        assert!((0..1000).all(|_| random_below(3) < 3));
        assert_ne!(random_u64(), random_u64());
    }
}
