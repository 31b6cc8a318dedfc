//! Which of a node's slots have keys, and which have keys with a TTL: a bit per slot each,
//! so eviction, active expiry and `RANDOMKEY` go straight to slots worth reading.
//!
//! Why: keys that share a hash tag share a slot. A store whose keys sit in a few of a node's
//! thousands of slots made each eviction read-lock hundreds of empty slots before finding a
//! filled one (11-16x slower on a cache benchmark with every key under one tag), and
//! `RANDOMKEY` walked them the same way.
//!
//! Kept cheap and always covering: a write marks its slot when it added a key there, and
//! marks it volatile when a key got a deadline (`Table::take_added`: one load of the table's
//! first line; atomic updates only when a bit flips); a table arriving is marked as it is, a
//! table leaving unmarked; a reader that finds a slot without what it was marked for unmarks
//! it under the slot's read lock (so a write that gives it keys again marks it after). Every
//! slot with keys (with a TTL) is marked; a mark may outlive its keys until a reader passes.
//! [`Node::remark`] rebuilds the marks from the tables when a budget is set, and eviction
//! calls it when the marks lead it to nothing to sample (once per eviction).

use super::Node;
use crate::keyspace::{Now, Table, ADDED_KEY, ADDED_TTL};
use crate::rng::random_below;
use crate::slot::SLOTS;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One bit per slot.
pub(super) struct Bits {
    words: [AtomicU64; SLOTS / 64],
    /// The list [`Bits::random`] picks from when few slots are marked, on its own line so
    /// its lock does not take the words' lines from the writers testing them.
    cache: Padded,
}

/// Counts the bits that flipped (telling `list` when it is out of date), and the marked
/// slots as of `flips` equal to the list's first number. A pick from the list costs one
/// lock, where counting the bits read all 256 words (about 600 instructions per eviction
/// with every key under one tag).
#[repr(align(64))]
#[derive(Default)]
struct Padded {
    flips: AtomicU64,
    list: Mutex<(u64, Vec<u16>)>,
}

impl Default for Bits {
    fn default() -> Bits {
        Bits { words: std::array::from_fn(|_| AtomicU64::new(0)), cache: Padded::default() }
    }
}

impl Bits {
    #[inline]
    fn mark(&self, slot: usize) {
        let (word, bit) = (&self.words[slot / 64], 1 << (slot % 64));
        // Loaded first: the bit is almost always set already, and a plain load keeps the line
        // shared between the threads writing to this node.
        if word.load(Ordering::Relaxed) & bit == 0 {
            self.flip_on(word, bit);
        }
    }

    #[cold]
    fn flip_on(&self, word: &AtomicU64, bit: u64) {
        if word.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            // Release: a reader that sees the count sees the bit (see `random`).
            self.cache.flips.fetch_add(1, Ordering::Release);
        }
    }

    fn clear(&self, slot: usize) {
        let (word, bit) = (&self.words[slot / 64], 1u64 << (slot % 64));
        if word.load(Ordering::Relaxed) & bit != 0 && word.fetch_and(!bit, Ordering::Relaxed) & bit != 0
        {
            self.cache.flips.fetch_add(1, Ordering::Release);
        }
    }

    /// Makes the next [`Bits::random`] that needs the list rebuild it (after [`Node::remark`],
    /// which may have found the list wrong without flipping a bit).
    fn invalidate(&self) {
        self.cache.list.lock().0 = u64::MAX;
    }

    fn set(&self, slot: usize, on: bool) {
        if on {
            self.mark(slot);
        } else {
            self.clear(slot);
        }
    }

    fn is_marked(&self, slot: usize) -> bool {
        self.words[slot / 64].load(Ordering::Relaxed) & (1 << (slot % 64)) != 0
    }

    /// A marked slot, each as likely as another; None if none is marked.
    ///
    /// A random held slot first (up to eight tries): with keys in most slots it is marked at
    /// once. When few are, a pick from the list of marked slots, rebuilt when bits have
    /// flipped since. (Taking the first marked slot after a random one would favour slots
    /// that follow long empty runs, and starve a slot right after another filled one.)
    fn random(&self, held: &[u16]) -> Option<usize> {
        if !held.is_empty() {
            for _ in 0..8 {
                let slot = usize::from(held[random_below(held.len())]);
                if self.is_marked(slot) {
                    return Some(slot);
                }
            }
        }
        let mut list = self.cache.list.lock();
        // Acquire, pairing with the flips' Release: the walk sees every bit counted so far.
        let flips = self.cache.flips.load(Ordering::Acquire);
        if list.0 != flips {
            // Flips during the walk leave `list.0` behind them: the next pick walks again.
            list.1.clear();
            list.1.extend(self.from(0).map(|s| s as u16));
            list.0 = flips;
        }
        let slots = &list.1;
        (!slots.is_empty()).then(|| usize::from(slots[random_below(slots.len())]))
    }

    /// The first marked slot at least `skip` slots past `start`, wrapping around the slots
    /// once: None if no marked slot is left before `start` comes round again.
    fn next(&self, start: usize, skip: usize) -> Option<usize> {
        let mut left = SLOTS.checked_sub(skip)?;
        let mut from = (start + skip) % SLOTS;
        while left > 0 {
            // The rest of `from`'s word, or less if the round ends inside it.
            let span = (64 - from % 64).min(left);
            let bits = self.words[from / 64].load(Ordering::Relaxed) >> (from % 64);
            let bits = if span < 64 { bits & ((1 << span) - 1) } else { bits };
            if bits != 0 {
                return Some(from + bits.trailing_zeros() as usize);
            }
            left -= span;
            from = (from + span) % SLOTS;
        }
        None
    }

    /// The marked slots from `start` on, in slot order, wrapping around once.
    fn from(&self, start: usize) -> impl Iterator<Item = usize> + '_ {
        debug_assert!(start < SLOTS);
        let mut passed = 0;
        std::iter::from_fn(move || {
            let slot = self.next(start, passed)?;
            passed = (slot + SLOTS - start) % SLOTS + 1;
            Some(slot)
        })
    }
}

/// What a mark says of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marked {
    /// It has keys.
    Keys,
    /// It has keys with a TTL (where the volatile eviction policies look).
    Volatile,
}

impl Marked {
    /// True if `t` has what the mark says.
    pub(crate) fn holds(self, t: &Table) -> bool {
        match self {
            Marked::Keys => t.len() > 0,
            Marked::Volatile => t.volatile_len() > 0,
        }
    }
}

/// A node's marks, one set per [`Marked`].
#[derive(Default)]
pub(crate) struct Marks {
    keys: Bits,
    volatile: Bits,
}

impl Marks {
    fn bits(&self, kind: Marked) -> &Bits {
        match kind {
            Marked::Keys => &self.keys,
            Marked::Volatile => &self.volatile,
        }
    }

    /// After a write to `slot`: marks what its table gained, `added` as `Table::take_added`
    /// gave it (every key arrives through `Table::insert`, which records it). One branch when
    /// it gained nothing, as an overwrite does.
    #[inline]
    pub(super) fn note(&self, slot: usize, added: u8) {
        if added & (ADDED_KEY | ADDED_TTL) != 0 {
            if added & ADDED_KEY != 0 {
                self.keys.mark(slot);
            }
            if added & ADDED_TTL != 0 {
                self.volatile.mark(slot);
            }
        }
    }

    /// The slots marked `kind`, in slot order from `start`, wrapping around once (active
    /// expiry walks the volatile ones).
    pub(super) fn slots(&self, kind: Marked, start: usize) -> impl Iterator<Item = usize> + '_ {
        self.bits(kind).from(start)
    }

    /// Sets `slot`'s marks to exactly what `t` has (None: the slot is not held). Callers hold
    /// the slot's lock (read or write): every holder sees the same table, so they agree.
    pub(super) fn record(&self, slot: usize, t: Option<&Table>) {
        for kind in [Marked::Keys, Marked::Volatile] {
            self.bits(kind).set(slot, t.is_some_and(|t| kind.holds(t)));
        }
    }
}

impl Node {
    /// Rebuilds the marks from the held tables: when a budget is set, and when the marks led
    /// eviction to nothing.
    #[cold]
    pub(super) fn remark(&self) {
        // A copy, so no cell is locked while the list is (its writers hold cell locks).
        let held: Vec<u16> = self.held.read().clone();
        for slot in held.into_iter().map(usize::from) {
            self.marks.record(slot, self.cells[slot].0.read().as_ref());
        }
        self.marks.keys.invalidate();
        self.marks.volatile.invalidate();
    }

    /// The first `Some` of `f` over the slots marked `kind`, each table under its read lock,
    /// from `near` if it is marked, else from a marked slot picked at random (each as likely);
    /// a slot found without what it was marked for is unmarked on the way. Nothing is counted
    /// and no expired key deleted: a look, not a command.
    pub(super) fn find_marked<R>(
        &self,
        kind: Marked,
        near: Option<usize>,
        mut f: impl FnMut(usize, &Table, &Now<'_>) -> Option<R>,
    ) -> Option<R> {
        let bits = self.marks.bits(kind);
        let start = near.filter(|s| bits.is_marked(*s)).or_else(|| bits.random(&self.held.read()))?;
        let now = Now::new(&self.clock);
        bits.from(start).find_map(|slot| {
            let guard = self.cells[slot].0.read();
            match guard.as_ref().filter(|t| kind.holds(t)) {
                Some(t) => f(slot, t, &now),
                None => {
                    // Under the read lock: a write that fills the slot again marks it after.
                    // (A slot no longer held was unmarked as it left.)
                    if guard.is_some() {
                        bits.clear(slot);
                    }
                    None
                }
            }
        })
    }

    /// The first `Some` of `f` over the tables that have keys, from a random one on (see
    /// [`Node::find_marked`]): `RANDOMKEY`. `f` also says whether it met an expired key; the
    /// expired keys of those slots are deleted afterwards, as after a read that meets one
    /// (Redis's `RANDOMKEY` deletes the expired keys it picks), except on a replica.
    pub(crate) fn find_with_keys<R>(
        &self,
        mut f: impl FnMut(&Table, &Now<'_>) -> (Option<R>, bool),
    ) -> Option<R> {
        let mut met_expired = Vec::new();
        let found = self.find_marked(Marked::Keys, None, |slot, t, now| {
            let (found, expired) = f(t, now);
            if expired {
                met_expired.push(slot);
            }
            found
        });
        if !self.repl.is_replica() {
            // No lock held now: `purge` takes each slot's write lock.
            for slot in met_expired {
                self.purge(slot, self.clock.now_ms());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;
    use crate::slot::SLOTS;
    use proptest::prelude::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn rounds_wrap_once_and_stop() {
        let b = Bits::default();
        assert_eq!(b.from(0).next(), None);
        assert_eq!(b.random(&[1, 2, 3]), None);
        for s in [0, 63, 64, 5000, SLOTS - 1] {
            b.mark(s);
        }
        let round = |start| b.from(start).collect::<Vec<_>>();
        assert_eq!(round(0), [0, 63, 64, 5000, SLOTS - 1]);
        assert_eq!(round(64), [64, 5000, SLOTS - 1, 0, 63]);
        assert_eq!(round(65), [5000, SLOTS - 1, 0, 63, 64]);
        assert_eq!(round(SLOTS - 1), [SLOTS - 1, 0, 63, 64, 5000]);
        b.clear(64);
        b.clear(64);
        assert_eq!(round(64), [5000, SLOTS - 1, 0, 63]);
        // One marked slot: found from anywhere, exactly once.
        let one = Bits::default();
        one.mark(7000);
        for start in [0, 6999, 7000, 7001, SLOTS - 1] {
            assert_eq!(one.from(start).collect::<Vec<_>>(), [7000], "from {start}");
        }
    }

    /// A random marked slot is each marked slot about equally often, wherever the slots sit:
    /// slots 100 and 101 (one right after the other) and 9000 (after a long empty run), with
    /// all 16384 slots held, so the random held slot almost always misses and the list is
    /// used.
    #[test]
    fn random_picks_marked_slots_evenly() {
        let b = Bits::default();
        let held: Vec<u16> = (0..SLOTS as u16).collect();
        for s in [100, 101, 9000] {
            b.mark(s);
        }
        let mut counts = [0; 3];
        for _ in 0..30_000 {
            let s = b.random(&held).expect("marked");
            counts[[100, 101, 9000].iter().position(|m| *m == s).expect("a marked slot")] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "counts {counts:?}");
        }
    }

    /// The list `random` picks from follows marks and clears made after it was built.
    #[test]
    fn random_follows_later_marks_and_clears() {
        let b = Bits::default();
        b.mark(10);
        assert_eq!(b.random(&[]), Some(10));
        b.mark(20);
        b.clear(10);
        for _ in 0..50 {
            assert_eq!(b.random(&[]), Some(20));
        }
        b.clear(20);
        assert_eq!(b.random(&[]), None);
        // A list made wrong behind the counter's back is rebuilt once invalidated.
        let flips = b.cache.flips.load(Ordering::Relaxed);
        *b.cache.list.lock() = (flips, vec![30]);
        assert_eq!(b.random(&[]), Some(30));
        b.invalidate();
        assert_eq!(b.random(&[]), None);
    }

    proptest! {
        /// A round from any start gives every marked slot once, in slot order from the start.
        #[test]
        fn a_round_is_the_marked_slots_rotated(
            marked in proptest::collection::btree_set(0..SLOTS, 0..200),
            start in 0..SLOTS,
        ) {
            let b = Bits::default();
            marked.iter().for_each(|&s| b.mark(s));
            let mut want: Vec<usize> = marked.iter().copied().filter(|&s| s >= start).collect();
            want.extend(marked.iter().copied().filter(|&s| s < start));
            prop_assert_eq!(b.from(start).collect::<Vec<_>>(), want);
        }
    }
}
