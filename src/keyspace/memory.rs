//! What keys and values cost in memory, and the access clocks approximated LRU and LFU
//! eviction read (Redis's 24-bit `lru` field, same layouts).

use super::Value;
use std::mem::{size_of, size_of_val};
use std::sync::atomic::{AtomicU32, Ordering};

/// Asks the CPU to bring the cache line at `value` in, without waiting for it: batched
/// lookups (`get_many`) issue these for every key of a batch, then read, so the batch waits
/// for about one memory round trip per stage instead of one per key and stage.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    prefetch_at((value as *const T).cast());
}

/// [`prefetch`] of the line holding byte `at`, which should lie inside a live allocation
/// (a prefetch of any other address is harmless, but useless).
#[inline(always)]
pub(crate) fn prefetch_at(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing the program sees and cannot fault.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Bytes a heap allocation of `n` bytes really takes with a glibc-style malloc: a word of
/// header, 16-byte granules, 32 bytes at least. Other allocators differ a little; the figure
/// is an estimate, checked within 15% against a counting allocator in `tests/memory.rs`.
pub(crate) const fn malloc_size(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let size = (n + 8 + 15) & !15;
    if size < 32 {
        32
    } else {
        size
    }
}

/// Heap bytes a [`Bytes`](crate::Bytes) of `len` bytes takes: none when it holds them in
/// place, else its shared buffer (an `Arc<[u8]>`: two counters, then the bytes).
pub(crate) fn bytes_heap(len: usize) -> usize {
    if len <= crate::Bytes::INLINE {
        0
    } else {
        malloc_size(2 * size_of::<usize>() + len)
    }
}

/// Heap bytes a value holds (not counting the table slot it sits in). Inline for strings,
/// which every `SET` accounts.
#[inline]
pub(crate) fn value_cost(v: &Value) -> usize {
    match v {
        // Inline strings live in the record; shared ones are a `Bytes` too long to hold its
        // bytes in place.
        Value::Str(s) if s.is_shared() => bytes_heap(s.len()),
        Value::Str(_) => 0,
        _ => collection_cost(v),
    }
}

#[inline(never)]
fn collection_cost(v: &Value) -> usize {
    match v {
        Value::Str(_) => value_cost(v),
        // Collections: their box, then what they hold.
        Value::List(l) => malloc_size(size_of_val(&**l)) + l.mem_usage(),
        Value::Hash(h) => malloc_size(size_of_val(&**h)) + h.mem_usage(),
        Value::Set(s) => malloc_size(size_of_val(&**s)) + s.mem_usage(),
        Value::ZSet(z) => malloc_size(size_of_val(&**z)) + z.mem_usage(),
        Value::Stream(s) => malloc_size(size_of_val(&**s)) + s.mem_usage(),
    }
}

/// Heap bytes a key holds beyond its table slot: its own copy, and a second copy in the
/// expiry index when it has a TTL (the index's nodes are counted per table, `btree_cost`).
#[inline]
pub(crate) fn key_cost(key: &[u8], volatile: bool) -> usize {
    // Short keys sit inside the record (`key::INLINE`): no allocation of their own.
    let own = if key.len() <= super::key::INLINE { 0 } else { malloc_size(key.len()) };
    if volatile {
        own * 2
    } else {
        own
    }
}

/// Heap bytes of a B-tree set of `len` (deadline, key) pairs: one leaf up to 11 entries,
/// then leaves about 2/3 full plus an internal node per 11 leaves.
pub(crate) fn btree_cost(len: usize) -> usize {
    const CAP: usize = 11;
    let elem = size_of::<(u64, super::key::Key)>();
    let leaf = malloc_size(2 * size_of::<usize>() + CAP * elem);
    let leaves = match len {
        0 => 0,
        1..=CAP => 1,
        _ => (len * 3).div_ceil(CAP * 2),
    };
    let internal = if leaves > 1 {
        leaves.div_ceil(CAP) * (leaf + malloc_size((CAP + 1) * size_of::<usize>()))
    } else {
        0
    };
    leaves * leaf + internal
}

/// How reads stamp the entries they touch, for the eviction policy in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Access {
    /// Stamp nothing (the store's own lookups: migration, replication, introspection).
    #[default]
    None,
    /// No policy reads access times, but `OBJECT IDLETIME` does, as Redis tracks LRU under
    /// every non-LFU policy: LRU stamps from the coarse clock, so a key read many times
    /// within one refresh is written once.
    Idle,
    /// LRU: the stamp is the clock in milliseconds, wrapping every 49 days. (Redis keeps
    /// seconds in 24 bits; milliseconds tell apart keys used within the same second, which
    /// is what a cache under load needs.)
    Lru,
    /// LFU: 16 bits of minutes since the last decay, 8 bits of logarithmic counter.
    Lfu,
}

/// Redis's `lfu-log-factor` and `lfu-decay-time` defaults.
const LFU_LOG_FACTOR: u128 = 10;
const LFU_DECAY_MINUTES: u32 = 1;
/// A new key's LFU counter, so it is not evicted before it has a chance to be read.
pub(crate) const LFU_INIT: u32 = 5;

/// An entry's access stamp. Atomic because reads update it under a shared lock.
#[derive(Debug, Default)]
pub(crate) struct Stamp(AtomicU32);

impl Clone for Stamp {
    fn clone(&self) -> Self {
        Stamp(AtomicU32::new(self.0.load(Ordering::Relaxed)))
    }
}

fn lru_clock(now_ms: u64) -> u32 {
    now_ms as u32
}

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// A random 64-bit number from the calling thread's generator (LFU's probabilistic
/// increment and eviction sampling).
#[inline]
pub(crate) fn random() -> u64 {
    crate::rng::random_u64()
}

/// Redis's `LFULogIncr` as thresholds: a counter `c` grows when 64 random bits fall below
/// `LFU_GROW[c]`, that is with probability `1 / ((c - LFU_INIT) * lfu-log-factor + 1)` (1 at
/// or below `LFU_INIT`, 0 at 255). One table load and one comparison per read under LFU,
/// where a floating-point division and a conversion did the same.
static LFU_GROW: [u64; 256] = lfu_grow();

const fn lfu_grow() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut c = 0;
    while c < 255 {
        let base = if c > LFU_INIT as usize { (c - LFU_INIT as usize) as u128 } else { 0 };
        t[c] = (u64::MAX as u128 / (base * LFU_LOG_FACTOR + 1)) as u64;
        c += 1;
    }
    t
}

impl Stamp {
    /// The stamp of a key just written.
    pub(crate) fn new(access: Access, now_ms: u64) -> Stamp {
        Stamp(AtomicU32::new(match access {
            Access::Lfu => (lfu_minutes(now_ms) << 8) | LFU_INIT,
            _ => lru_clock(now_ms),
        }))
    }

    /// A stamp from its raw bits ([`Stamp::raw`]).
    pub(crate) fn from_raw(raw: u32) -> Stamp {
        Stamp(AtomicU32::new(raw))
    }

    /// The raw bits.
    pub(crate) fn raw(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Records a read or write. Under LRU it stores only when the clock moved, so hot
    /// keys read by many threads do not keep writing one cache line.
    #[inline]
    pub(crate) fn touch(&self, access: Access, now_ms: u64) {
        match access {
            Access::None => {}
            Access::Lru | Access::Idle => {
                let clock = lru_clock(now_ms);
                if self.0.load(Ordering::Relaxed) != clock {
                    self.0.store(clock, Ordering::Relaxed);
                }
            }
            Access::Lfu => {
                let old = self.0.load(Ordering::Relaxed);
                let minutes = lfu_minutes(now_ms);
                let counter = Self::decayed_at(old, minutes);
                // Redis's LFULogIncr: the higher the counter, the less likely it grows (a
                // counter at or below LFU_INIT always does, so no draw is needed).
                let grow = counter <= LFU_INIT || random() < LFU_GROW[counter as usize];
                let counter = if grow && counter < 255 { counter + 1 } else { counter };
                let new = (minutes << 8) | counter;
                if new != old {
                    self.0.store(new, Ordering::Relaxed);
                }
            }
        }
    }

    /// The LFU counter after decaying one step per `lfu-decay-time` minutes elapsed.
    fn decayed(stamp: u32, now_ms: u64) -> u32 {
        Self::decayed_at(stamp, lfu_minutes(now_ms))
    }

    /// [`Stamp::decayed`] at `minutes` (as [`lfu_minutes`] gives them).
    #[inline]
    fn decayed_at(stamp: u32, minutes: u32) -> u32 {
        let (last, counter) = (stamp >> 8, stamp & 0xFF);
        // Wrapping: a stamp written under another policy (an LRU or idle clock, before the
        // policy became LFU) reads as a `last` above 16 bits; Redis reads such a field as an
        // LFU stamp too, and so does this, without overflowing.
        let elapsed = minutes.wrapping_sub(last) & 0xFFFF;
        // A stamp a little ahead of `now` (written from a fresher clock reading than this
        // one) has aged by nothing, not by 45 days.
        let elapsed = if elapsed >= 0x8000 { 0 } else { elapsed };
        counter.saturating_sub(elapsed / LFU_DECAY_MINUTES)
    }

    /// Milliseconds since the last access (`OBJECT IDLETIME` divides by 1000), from an LRU
    /// stamp.
    pub(crate) fn idle_ms(&self, now_ms: u64) -> u64 {
        let idle = lru_clock(now_ms).wrapping_sub(self.0.load(Ordering::Relaxed));
        // A stamp a little ahead of `now` (the precise clock wrote it, the coarse one reads
        // it, or a read stamped it after `now` was taken) is fresh, not 49 days old.
        if idle >= 1 << 31 {
            0
        } else {
            u64::from(idle)
        }
    }

    /// The logarithmic access frequency (`OBJECT FREQ`), from an LFU stamp.
    pub(crate) fn freq(&self, now_ms: u64) -> u32 {
        Self::decayed(self.0.load(Ordering::Relaxed), now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stamp written under another policy (any 32 bits: an LRU clock, say) reads as an LFU
    /// stamp when the policy turns to LFU, as Redis reads its `lru` field, and never
    /// overflows; a counter only decays.
    #[test]
    fn any_stamp_reads_as_lfu() {
        for stamp in [0, 0xFF, 0xFFFF_FF05, u32::MAX, 0x0100_0000, 0x00FF_FF10] {
            for minutes in [0, 1, 0x7FFF, 0xFFFF] {
                let counter = Stamp::decayed_at(stamp, minutes);
                assert!(counter <= stamp & 0xFF, "{stamp:#x} at {minutes}");
            }
        }
    }

    /// The growth thresholds are Redis's `LFULogIncr` probabilities, `1 / ((c - 5) * 10 + 1)`,
    /// and runs of reads grow counters as that process does: a mean of about 9.7 after 100
    /// hits and 19.4 after 1,000 (`redis.conf`'s table: 10 and 18), over 400 counters each.
    #[test]
    fn lfu_grows_with_redis_probabilities() {
        let p = |c: usize| LFU_GROW[c] as f64 / 2f64.powi(64);
        assert_eq!(LFU_GROW[..=5], [u64::MAX; 6]);
        for c in 6..255 {
            let want = 1.0 / ((c - 5) as f64 * 10.0 + 1.0);
            assert!((p(c) - want).abs() < 1e-12, "counter {c}: {} vs {want}", p(c));
        }
        assert_eq!(LFU_GROW[255], 0);
        let mean = |n: usize| {
            let total: u32 = (0..400)
                .map(|_| {
                    let stamp = Stamp::new(Access::Lfu, 0);
                    (0..n).for_each(|_| stamp.touch(Access::Lfu, 0));
                    stamp.freq(0)
                })
                .sum();
            f64::from(total) / 400.0
        };
        let (at100, at1000) = (mean(100), mean(1000));
        assert!((9.2..=10.3).contains(&at100), "100 hits: {at100}");
        assert!((18.7..=20.1).contains(&at1000), "1000 hits: {at1000}");
    }

    #[test]
    fn malloc_sizes() {
        assert_eq!(malloc_size(0), 0);
        assert_eq!(malloc_size(1), 32);
        assert_eq!(malloc_size(24), 32);
        assert_eq!(malloc_size(25), 48);
        assert_eq!(malloc_size(48), 64);
    }

    #[test]
    fn lru_and_lfu_stamps() {
        let s = Stamp::new(Access::Lru, 10_000);
        assert_eq!(s.idle_ms(15_000), 5000);
        s.touch(Access::Lru, 15_000);
        assert_eq!(s.idle_ms(15_500), 500);
        let f = Stamp::new(Access::Lfu, 0);
        assert_eq!(f.freq(0), LFU_INIT);
        for _ in 0..10_000 {
            f.touch(Access::Lfu, 0);
        }
        let hot = f.freq(0);
        assert!(hot > 15 && hot < 255, "logarithmic growth: {hot}");
        assert_eq!(f.freq(3 * 60_000), hot - 3, "one step of decay per minute");
        // Read with a clock a little behind the one that wrote: no time passed.
        assert_eq!(s.idle_ms(14_600), 0);
        let g = Stamp::new(Access::Lfu, 120_000);
        assert_eq!(g.freq(60_000), LFU_INIT);
    }
}
