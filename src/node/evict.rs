//! The memory budget and eviction: Redis's `maxmemory` policies, approximated as Redis does
//! (sample keys, keep a pool of the best candidates, evict the best), with larger samples:
//! a run of entries from the table of a random slot with keys per probe (see `marks`).

use super::marks::Marked;
use super::stats::EVICTED;
use super::Node;
use crate::config::EvictionPolicy;
use crate::error::Error;
use crate::keyspace::memory::{random, Stamp};
use crate::keyspace::{scan_hash, Access, Entry, Stored, Table};
use crate::slot::SLOTS;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The cluster-wide budget, shared by every node.
#[derive(Default)]
pub(crate) struct Budget {
    /// Bytes for all primaries together; 0 means unlimited.
    limit: AtomicUsize,
    policy: AtomicU8,
    /// How reads stamp entries under `policy` (see [`Budget::access`]), kept beside it so a
    /// command loads it instead of deriving it from the policy every time.
    access: AtomicU8,
    /// The store's pub/sub hub. It rides along with the budget because every node already
    /// shares this one handle: a node publishes the keyspace events of its writes here.
    pub(crate) hub: std::sync::Arc<crate::pubsub::Hub>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").field("limit", &self.limit).field("policy", &self.policy).finish()
    }
}

impl Budget {
    pub(crate) fn new(limit: Option<usize>, policy: EvictionPolicy) -> Budget {
        let b = Budget::default();
        b.set(limit, policy);
        b
    }

    pub(crate) fn set(&self, limit: Option<usize>, policy: EvictionPolicy) {
        self.limit.store(limit.unwrap_or(0), Ordering::Relaxed);
        let i = EvictionPolicy::ALL.iter().position(|p| *p == policy).unwrap_or(0);
        let access = match policy {
            EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => Access::Lru,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => Access::Lfu,
            _ => Access::Idle,
        };
        self.policy.store(i as u8, Ordering::Relaxed);
        self.access.store(access as u8, Ordering::Relaxed);
        debug_assert_eq!(self.access(), access);
    }

    #[inline]
    pub(crate) fn limit(&self) -> Option<usize> {
        Some(self.limit.load(Ordering::Relaxed)).filter(|l| *l > 0)
    }

    #[inline]
    pub(crate) fn policy(&self) -> EvictionPolicy {
        EvictionPolicy::ALL[usize::from(self.policy.load(Ordering::Relaxed)) % 8]
    }

    /// How reads must stamp entries for the policy in force.
    #[inline]
    pub(crate) fn access(&self) -> Access {
        // Indexed by the discriminant `set` stored: one masked load, no branches.
        const MODES: [Access; 4] = [Access::None, Access::Idle, Access::Lru, Access::Lfu];
        MODES[usize::from(self.access.load(Ordering::Relaxed) & 3)]
    }
}

/// Entries read from one table per probe, and the candidates a pool refill gathers (from
/// as many slots with keys as it takes, from a random one on; Redis samples 5 keys per
/// eviction).
const RUN: usize = 8;
const SAMPLE: usize = 8;
/// Candidates kept between evictions (Redis's `EVPOOL_SIZE`).
const POOL: usize = 16;

/// A key worth evicting (its score is kept by the [`Pool`] that ranks it).
#[derive(Debug, Default)]
struct Candidate {
    slot: usize,
    /// The key's `scan_hash`, which tells candidates apart.
    hash: u64,
    /// The access stamp when sampled: a key used since then is no longer a candidate.
    stamp: u32,
    /// A short key's bytes (`short_len` of them), so eviction looks it up by hash instead of
    /// walking its slot's table; sampling still allocates nothing. A longer key is found
    /// again by its `hash` in a walk.
    short: [u8; SHORT_KEY],
    short_len: u8,
}

/// Keys up to this long ride along in their candidate.
const SHORT_KEY: usize = 24;

impl Candidate {
    fn new(slot: usize, key: &[u8], hash: u64, stamp: u32) -> Candidate {
        let mut short = [0; SHORT_KEY];
        let short_len = match key.len() {
            n if n <= SHORT_KEY => {
                crate::bytes::copy_short(&mut short, key);
                n as u8
            }
            _ => u8::MAX,
        };
        Candidate { slot, hash, stamp, short, short_len }
    }

    /// The candidate's key, if `t` may still hold it: a short key comes from the candidate
    /// itself (no lookup, no allocation: the removal's own lookup tells whether it is there), a
    /// longer one is found again by its hash in a walk of `t`.
    fn key<'a>(&'a self, t: &Table) -> Option<Cow<'a, [u8]>> {
        match self.short_len {
            u8::MAX => {
                t.iter().find(|(k, _)| scan_hash(k) == self.hash).map(|(k, _)| Cow::Owned(k.to_vec()))
            }
            n => Some(Cow::Borrowed(&self.short[..usize::from(n)])),
        }
    }
}

/// The best candidates sampled so far, ranked by score (Redis's eviction pool).
///
/// A candidate stays in the place it was written to; the rank (score, hash and place per
/// rank, ascending by score) is what moves. Taking a candidate into a full pool shifts a few
/// 17-byte rank entries instead of 48-byte candidates, and the duplicate check scans the
/// hashes alone.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    places: [Candidate; POOL],
    /// By rank, the first `len` live: scores ascending, each one's key hash and place.
    scores: [u64; POOL],
    hashes: [u64; POOL],
    /// A permutation of the places: ranks `..len` hold live candidates, the rest are free.
    order: [u8; POOL],
    len: usize,
    /// The last eviction took from the pool without sampling (see [`Pool::skip_sample`]).
    skipped: bool,
}

impl Pool {
    /// True if this eviction may take the pool's best without sampling first: every other
    /// eviction, while the pool is more than half full.
    ///
    /// For LFU only, where a score moves by the minute, so the candidates left from the last
    /// sample are as good as fresh ones: sampling every other time saves a fifth of
    /// eviction's instructions (6% of a cache-aside loop's) at the same hit ratio. LRU's
    /// millisecond-grained scores do lose by it (0.1-0.3 points on the cache benchmark).
    fn skip_sample(&mut self) -> bool {
        self.skipped = !self.skipped && self.len > POOL / 2;
        self.skipped
    }

    pub(crate) fn new() -> Pool {
        Pool { order: std::array::from_fn(|i| i as u8), ..Pool::default() }
    }

    /// True if a candidate scoring `score` would enter the pool (it beats the worst there).
    fn worth_offering(&self, score: u64) -> bool {
        self.len < POOL || score > self.scores[0]
    }

    /// Takes a candidate the caller checked [`Pool::worth_offering`] for, unless a candidate
    /// with the same key hash is in already (two keys with one 64-bit hash would only cost
    /// the second its place this round). Ranks stay ascending by score; a full pool lets the
    /// worst go.
    fn offer(&mut self, score: u64, slot: usize, key: &[u8], stamp: u32) {
        let hash = scan_hash(key);
        if self.hashes[..self.len].contains(&hash) {
            return;
        }
        let at = self.scores[..self.len].partition_point(|s| *s <= score);
        let rank = if self.len < POOL {
            // Ranks `at..len` move up one; the free place at `len` takes the newcomer.
            let place = self.order[self.len];
            for r in (at..self.len).rev() {
                self.scores[r + 1] = self.scores[r];
                self.hashes[r + 1] = self.hashes[r];
                self.order[r + 1] = self.order[r];
            }
            self.order[at] = place;
            self.len += 1;
            at
        } else if at > 0 {
            // Full: the worst (rank 0) goes, the ranks below the newcomer's move down one,
            // and the worst's place takes the newcomer.
            let place = self.order[0];
            for r in 1..at {
                self.scores[r - 1] = self.scores[r];
                self.hashes[r - 1] = self.hashes[r];
                self.order[r - 1] = self.order[r];
            }
            self.order[at - 1] = place;
            at - 1
        } else {
            return;
        };
        self.scores[rank] = score;
        self.hashes[rank] = hash;
        self.places[usize::from(self.order[rank])] = Candidate::new(slot, key, hash, stamp);
    }

    /// Takes the best candidate out of the pool.
    fn pop(&mut self) -> Option<&Candidate> {
        self.len = self.len.checked_sub(1)?;
        // Its place stays at rank `len`, now among the free ones.
        Some(&self.places[usize::from(self.order[self.len])])
    }
}

fn volatile_only(p: EvictionPolicy) -> bool {
    matches!(
        p,
        EvictionPolicy::VolatileLru
            | EvictionPolicy::VolatileLfu
            | EvictionPolicy::VolatileRandom
            | EvictionPolicy::VolatileTtl
    )
}

impl Node {
    /// This node's share of the budget: the cluster's limit split by slots held.
    #[inline]
    pub(crate) fn budget_share(&self) -> Option<usize> {
        let limit = self.budget.limit()?;
        let held = self.held_count.load(Ordering::Relaxed);
        Some((limit as u128 * held as u128 / SLOTS as u128) as usize)
    }

    /// Makes room for `bytes` arriving with `gaining` more slots (a migration): evicts by the
    /// policy until they fit in this node's share, or refuses.
    ///
    /// # Errors
    /// `OOM` if they cannot fit (`noeviction`, or nothing left to evict).
    pub(crate) fn admit(&self, bytes: usize, gaining: usize) -> Result<(), Error> {
        let Some(limit) = self.budget.limit() else { return Ok(()) };
        let held = self.held_count.load(Ordering::Relaxed) + gaining;
        let share = (limit as u128 * held as u128 / SLOTS as u128) as usize;
        // More than the whole share: no eviction can make room, so none is done.
        if bytes > share {
            return Err(Error::OutOfMemory);
        }
        while self.used.load(Ordering::Relaxed) + bytes > share {
            if self.budget.policy() == EvictionPolicy::NoEviction || !self.evict_one(None) {
                return Err(Error::OutOfMemory);
            }
        }
        Ok(())
    }

    /// Makes room before a write that may grow memory: evicts by the policy until this node
    /// is within its share. `near` is the slot about to be written, if one is: the first
    /// eviction samples from it (see [`Node::fill_pool`]).
    ///
    /// # Errors
    /// `OOM` under `noeviction`, or when nothing is left to evict (volatile policies with no
    /// key that has a TTL).
    #[inline]
    pub(crate) fn make_room(&self, near: Option<u16>) -> Result<(), Error> {
        // Inlined to one branch on every write without a budget (the common cache-less case).
        match self.budget_share() {
            None => Ok(()),
            Some(share) => self.make_room_in(share, near),
        }
    }

    #[inline(never)]
    fn make_room_in(&self, share: usize, mut near: Option<u16>) -> Result<(), Error> {
        // A node demoted since the caller read the route: its write will be refused and sent
        // on, and a replica's copy must not lose keys its primary keeps.
        if self.repl.is_replica() {
            return Ok(());
        }
        while self.used.load(Ordering::Relaxed) > share {
            if self.budget.policy() == EvictionPolicy::NoEviction || !self.evict_one(near.take()) {
                return Err(Error::OutOfMemory);
            }
        }
        Ok(())
    }

    /// Evicts the best candidate; false if there is nothing to evict. The first sample is
    /// taken from `near` if given and held.
    fn evict_one(&self, mut near: Option<u16>) -> bool {
        let policy = self.budget.policy();
        let mut pool = self.pool.lock();
        let mut remarked = false;
        let lfu = matches!(policy, EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu);
        for round in 0..16 {
            // Fresh samples merged with the best candidates of earlier rounds, as Redis's
            // eviction pool does: each eviction takes the best of both (under LFU, every other
            // eviction takes the pool's best alone, see `Pool::skip_sample`).
            if round > 0 || !(lfu && pool.skip_sample()) {
                self.fill_pool(&mut pool, policy, near.take(), &mut remarked);
            }
            while let Some(c) = pool.pop() {
                let evicted = self.write(c.slot, |t, now| {
                    let Some(key) = c.key(t) else { return false };
                    // Under LRU a key read since it was sampled is no longer old: skip it.
                    // (LFU and the others keep Redis's rule: the sampled score stands.) Checked
                    // by the removal's own lookup.
                    let lru = matches!(policy, EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru);
                    let stale = |e: &Entry| {
                        (lru && e.stamp().raw() != c.stamp)
                            || (volatile_only(policy) && e.expire_at().is_none())
                    };
                    let removed = t.remove_if(&key, |e| !stale(e)).is_some();
                    if removed {
                        now.notify(crate::keyspace::events::EVICTED, "evicted", &key);
                    }
                    removed
                });
                if evicted == Some(true) {
                    self.stats.add(EVICTED, 1);
                    return true;
                }
            }
        }
        false
    }

    /// Samples entries of slots that have keys (with a TTL, under a volatile policy), from a
    /// random one on, and keeps the best `POOL` of them.
    ///
    /// Every other time (by a coin flip), the first slot sampled is `near` when it has keys:
    /// the slot a write is about to touch, whose cell and groups the write's own lookup
    /// brings into cache anyway. That saves the cell's and the groups' cache misses of a slot
    /// picked at random, the larger part of an eviction's time. Only every other time: keys
    /// that share a hash tag share a slot, and a store whose writes all go to one tag's slot
    /// must still sample, and evict, the cold keys of every other slot.
    ///
    /// `remarked` says whether this eviction has rebuilt the marks already: when the marks
    /// lead to nothing it does so once, so that `OOM` means nothing is evictable, not that
    /// a mark was missing, and an eviction that finds nothing does not rebuild 16 times.
    fn fill_pool(
        &self,
        pool: &mut Pool,
        policy: EvictionPolicy,
        near: Option<u16>,
        remarked: &mut bool,
    ) {
        let near = near.map(usize::from).filter(|_| random() & 1 == 0);
        // LFU decays by the minute: the coarse clock will do.
        let now = match self.budget.access() {
            Access::Lfu => self.clock.coarse_ms(),
            _ => self.clock.now_ms(),
        };
        let kind = if volatile_only(policy) { Marked::Volatile } else { Marked::Keys };
        loop {
            let mut sampled = 0;
            self.find_marked(kind, near, |slot, t, _| {
                sampled += Self::sample(t, slot, policy, now, SAMPLE - sampled, pool);
                (sampled >= SAMPLE).then_some(())
            });
            if sampled > 0 || std::mem::replace(remarked, true) {
                return;
            }
            self.remark();
        }
    }

    /// Adds up to `want` (at most `RUN`) entries of `t` from a random start; returns how many
    /// it looked at.
    fn sample(
        t: &Table,
        slot: usize,
        policy: EvictionPolicy,
        now: u64,
        want: usize,
        pool: &mut Pool,
    ) -> usize {
        let run = want.min(RUN);
        // Three passes: collect the sampled nodes (reading only the table's groups), read
        // every node's stamp and deadline (loads independent of each other, so the processor
        // fetches the nodes in parallel instead of one cache miss after another), then score.
        let mut sampled: [Option<Stored<'_>>; RUN] = [None; RUN];
        let seen = if volatile_only(policy) {
            t.sample_volatile(random(), &mut sampled[..run])
        } else {
            t.sample_from(random(), &mut sampled[..run])
        };
        // The first `seen` are filled: walk exactly those.
        let sampled = &sampled[..seen];
        let mut heads = [(0u32, None); RUN];
        for (head, stored) in heads.iter_mut().zip(sampled) {
            if let Some(stored) = stored {
                let e = stored.entry();
                *head = (e.stamp().raw(), e.expire_at());
            }
        }
        for (&(stamp, ttl), stored) in heads.iter().zip(sampled) {
            let Some(stored) = stored else { continue };
            let score = match policy {
                EvictionPolicy::NoEviction => return seen,
                EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => {
                    Stamp::from_raw(stamp).idle_ms(now)
                }
                EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => {
                    255 - u64::from(Stamp::from_raw(stamp).freq(now).min(255))
                }
                EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom => random(),
                EvictionPolicy::VolatileTtl => u64::MAX - ttl.unwrap_or(u64::MAX),
            };
            if (volatile_only(policy) && ttl.is_none()) || !pool.worth_offering(score) {
                continue;
            }
            pool.offer(score, slot, stored.key(), stamp);
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::{Pool, POOL};

    fn key(i: u64) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    /// Pops every candidate: (slot, key) best first.
    fn drain(pool: &mut Pool) -> Vec<(usize, Vec<u8>)> {
        std::iter::from_fn(|| pool.pop().map(|c| (c.slot, c.short[..usize::from(c.short_len)].to_vec())))
            .collect()
    }

    #[test]
    fn pool_keeps_the_best_and_gives_them_best_first() {
        let mut pool = Pool::new();
        // Scores in a scrambled order, more than the pool holds; the slot records the score.
        let scores: Vec<u64> = (0..40).map(|i| (i * 17) % 40).collect();
        for &s in &scores {
            if pool.worth_offering(s) {
                pool.offer(s, s as usize, &key(s), 0);
            }
        }
        assert!(!pool.worth_offering(40 - POOL as u64 - 1), "the worst kept is 24");
        let got = drain(&mut pool);
        let want: Vec<(usize, Vec<u8>)> =
            (40 - POOL as u64..40).rev().map(|s| (s as usize, key(s))).collect();
        assert_eq!(got, want);
        assert!(pool.pop().is_none());
        assert!(pool.worth_offering(0), "an empty pool takes anything");
    }

    #[test]
    fn pool_skips_sampling_every_other_time_while_more_than_half_full() {
        let mut pool = Pool::new();
        for i in 0..=POOL as u64 / 2 {
            assert!(!pool.skip_sample(), "at most half full: always sample");
            pool.offer(i, 0, &key(i), 0);
        }
        let skips: Vec<bool> = (0..6).map(|_| pool.skip_sample()).collect();
        assert_eq!(skips, [true, false, true, false, true, false]);
        pool.pop();
        assert!(!pool.skip_sample(), "half full again: sample");
    }

    #[test]
    fn pool_refuses_a_key_it_holds_and_reuses_popped_places() {
        let mut pool = Pool::new();
        pool.offer(5, 1, b"a", 0);
        pool.offer(9, 1, b"a", 0); // same key, better score: still one candidate
        pool.offer(7, 2, b"b", 0);
        assert_eq!(drain(&mut pool), vec![(2, b"b".to_vec()), (1, b"a".to_vec())]);
        // Popped places are free again: fill the pool twice over, ties included.
        for round in 0..2u64 {
            for i in 0..POOL as u64 {
                pool.offer(i % 4, i as usize, &key(round * 100 + i), 0);
            }
            let got = drain(&mut pool);
            assert_eq!(got.len(), POOL);
            let mut slots: Vec<usize> = got.iter().map(|(s, _)| *s).collect();
            assert!(slots.windows(2).all(|w| w[0] % 4 >= w[1] % 4), "best first: {slots:?}");
            slots.sort_unstable();
            assert_eq!(slots, (0..POOL).collect::<Vec<_>>(), "each candidate once");
        }
    }
}
