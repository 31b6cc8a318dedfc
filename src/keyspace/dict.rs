//! The hash tables of large collections, and the strings they hold.
//!
//! [`Index`] is an open-addressing table of 8-byte slots, each naming an element by number
//! and keeping 32 bits of its key's hash; it stores no keys itself, so any arena of elements
//! can put one beside it (a sorted set indexes its skip-list nodes with one). [`Dict`] is an
//! index over a dense `Vec` of elements: any element is a random pick away (`HRANDFIELD`,
//! `SPOP`, `SRANDMEMBER` in O(1)), and the index gives `HSCAN`/`SSCAN` Redis's cursor
//! guarantee (see [`Index::scan`]); `std`'s `HashMap` offers neither.
//!
//! [`SmallStr`] keeps a short element inside the table's own array, so a set of short
//! members allocates nothing per member, as Redis's `sds` strings embedded in a `dictEntry`
//! almost do.

use super::memory::malloc_size;
use super::scan_hash;

/// A string of a large collection: inline when at most 22 bytes (`key::INLINE`), else in
/// an allocation of exactly its length; 24 bytes either way. Stored as keys are.
pub(crate) use super::key::Key as SmallStr;

// ----- Index -----

/// What a [`Dict`] holds: something with a key.
pub(crate) trait Keyed {
    /// The bytes the element is found by.
    fn key(&self) -> &[u8];
    /// Heap bytes the element holds.
    fn heap(&self) -> usize;
}

/// A member of a large set.
impl Keyed for SmallStr {
    fn key(&self) -> &[u8] {
        self
    }
    fn heap(&self) -> usize {
        SmallStr::heap(self)
    }
}

/// One index slot: which element, and the low 32 bits of its key's hash (compared before
/// the key itself, and enough to find its home slot again when the index is resized).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    idx: u32,
    hash: u32,
}

const EMPTY: Slot = Slot { idx: u32::MAX, hash: 0 };
const MIN_SLOTS: usize = 8;

/// The hash that places a key: the process-wide key hash, so it is stable for a scan's life.
pub(crate) fn hash32(key: &[u8]) -> u32 {
    scan_hash(key) as u32
}

/// Index slots for `n` elements: a power of two, at most 3/4 full.
fn slots_for(n: usize) -> usize {
    (n * 4 / 3 + 1).next_power_of_two().max(MIN_SLOTS)
}

/// A linear-probing index of elements numbered below `u32::MAX`, found by key hash. The
/// caller owns the elements and tells the index, through `is_key`, whether element `i` has
/// the key being looked for.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    slots: Box<[Slot]>,
}

impl Index {
    /// An empty index with room for `n` elements.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Index { slots: vec![EMPTY; slots_for(n)].into() }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot of the element with the key (Ok), or the empty slot where it would go (Err).
    fn probe(&self, hash: u32, is_key: impl Fn(usize) -> bool) -> Result<usize, usize> {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s.idx == u32::MAX {
                return Err(i);
            }
            if s.hash == hash && is_key(s.idx as usize) {
                return Ok(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The element whose key hashes to `hash` and satisfies `is_key`.
    pub(crate) fn find(&self, hash: u32, is_key: impl Fn(usize) -> bool) -> Option<usize> {
        self.probe(hash, is_key).ok().map(|p| self.slots[p].idx as usize)
    }

    /// Indexes element `idx`, whose key hashes to `hash` and is not indexed yet; `len` is
    /// how many elements the index holds before this one (it grows to keep 3/4 full).
    pub(crate) fn insert(&mut self, idx: usize, hash: u32, len: usize) {
        assert!(idx < u32::MAX as usize, "a collection holds fewer than 2^32 - 1 elements");
        if (len + 1) * 4 > self.slots.len() * 3 {
            self.resize(self.slots.len() * 2);
        }
        let p = self.probe(hash, |_| false).expect_err("nothing matches");
        self.slots[p] = Slot { idx: idx as u32, hash };
    }

    /// Forgets element `idx`, whose key hashes to `hash`; `len` is how many elements remain
    /// after it (the index shrinks when mostly empty).
    pub(crate) fn remove(&mut self, idx: usize, hash: u32, len: usize) {
        let p = self.slot_of(idx, hash);
        self.delete_slot(p);
        if self.slots.len() > MIN_SLOTS && len * 8 < self.slots.len() {
            self.resize(slots_for(len));
        }
    }

    /// Element `from`, whose key hashes to `hash`, is now numbered `to`.
    pub(crate) fn renumber(&mut self, from: usize, hash: u32, to: usize) {
        let p = self.slot_of(from, hash);
        self.slots[p].idx = to as u32;
    }

    /// The slot pointing at element `idx`, whose key hashes to `hash`.
    fn slot_of(&self, idx: usize, hash: u32) -> usize {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            assert!(s.idx != u32::MAX, "element {idx} is indexed");
            if s.idx as usize == idx {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Empties slot `hole`, shifting later slots of the same probe run back so every element
    /// stays reachable from its home slot without tombstones.
    fn delete_slot(&mut self, mut hole: usize) {
        let mask = self.mask();
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let s = self.slots[i];
            if s.idx == u32::MAX {
                break;
            }
            let from_home = i.wrapping_sub(s.hash as usize) & mask;
            let from_hole = i.wrapping_sub(hole) & mask;
            if from_home >= from_hole {
                self.slots[hole] = s;
                hole = i;
            }
        }
        self.slots[hole] = EMPTY;
    }

    fn resize(&mut self, len: usize) {
        let mut slots = vec![EMPTY; len].into_boxed_slice();
        let mask = len - 1;
        for s in self.slots.iter().filter(|s| s.idx != u32::MAX) {
            let mut i = s.hash as usize & mask;
            while slots[i].idx != u32::MAX {
                i = (i + 1) & mask;
            }
            slots[i] = *s;
        }
        self.slots = slots;
    }

    /// One step of a Redis-style scan from `cursor`: visits whole home slots, in reverse-binary
    /// order, until `count` elements are seen or `10 * count` slots are visited; returns the
    /// next cursor (0 when done).
    ///
    /// The cursor counts home slots with its bits reversed, as Redis's `dictScan` does: the
    /// slots already visited are those whose reversed index is below the cursor's, whatever
    /// size the index had then, so growing or shrinking the index between calls never hides
    /// an element that is present for the whole scan (it may show one twice).
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(usize)) -> u64 {
        let mask = self.mask();
        let mut v = cursor;
        let (mut seen, mut budget) = (0, count.max(1).saturating_mul(10));
        loop {
            let home = v as usize & mask;
            // Elements with this home sit in the probe run that starts at it.
            let mut i = home;
            loop {
                let s = self.slots[i];
                if s.idx == u32::MAX {
                    break;
                }
                if s.hash as usize & mask == home {
                    f(s.idx as usize);
                    seen += 1;
                }
                i = (i + 1) & mask;
                if i == home {
                    break;
                }
            }
            v |= !(mask as u64);
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
            budget -= 1;
            if v == 0 || budget == 0 || seen >= count {
                return v;
            }
        }
    }

    /// Heap bytes of the slots.
    pub(crate) fn mem_usage(&self) -> usize {
        malloc_size(self.slots.len() * std::mem::size_of::<Slot>())
    }
}

/// Makes room for one more element in an arena that grows by an eighth at a time, so a
/// large collection leaves at most an eighth of its array unused (doubling can leave half:
/// a 20,000-element array doubled from 16,384 holds room for 32,768). Each growth copies the
/// array, which stays O(1) amortised per element (about nine copies of each).
pub(crate) fn reserve_one<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len() / 8 + 4);
    }
}

// ----- Dict -----

/// A hash table of keyed elements: the elements dense in a `Vec` (any one is a random pick
/// away, removal swaps the last one in) and an [`Index`] that points into it. Holds fewer
/// than 2^32 - 1 elements.
#[derive(Clone)]
pub(crate) struct Dict<T> {
    items: Vec<T>,
    index: Index,
    /// Heap bytes the elements hold, kept up to date so `mem_usage` is O(1).
    heap: usize,
}

impl<T: Keyed> Dict<T> {
    /// An empty table with room for `n` elements.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Dict { items: Vec::with_capacity(n), index: Index::with_capacity(n), heap: 0 }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The elements, in no particular order.
    pub(crate) fn items(&self) -> &[T] {
        &self.items
    }

    /// The index of the element with `key`.
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        self.index.find(hash32(key), |i| self.items[i].key() == key)
    }

    /// The element with `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&T> {
        self.find(key).map(|i| &self.items[i])
    }

    /// The index of the element with `key`, inserting `make()` (whose key must be `key`)
    /// if there is none; true if inserted.
    pub(crate) fn find_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> T) -> (usize, bool) {
        let hash = hash32(key);
        if let Some(i) = self.index.find(hash, |i| self.items[i].key() == key) {
            return (i, false);
        }
        let idx = self.items.len();
        let item = make();
        debug_assert!(item.key() == key);
        self.index.insert(idx, hash, idx);
        self.heap += item.heap();
        reserve_one(&mut self.items);
        self.items.push(item);
        (idx, true)
    }

    /// Changes element `idx` in place; `f` must not change its key.
    pub(crate) fn update(&mut self, idx: usize, f: impl FnOnce(&mut T)) {
        let item = &mut self.items[idx];
        self.heap -= item.heap();
        f(item);
        self.heap += item.heap();
    }

    /// Removes the element with `key`.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<T> {
        let idx = self.find(key)?;
        Some(self.swap_remove_index(idx))
    }

    /// Removes element `idx`; the last element takes its index.
    pub(crate) fn swap_remove_index(&mut self, idx: usize) -> T {
        let last = self.items.len() - 1;
        self.index.remove(idx, hash32(self.items[idx].key()), last);
        if idx != last {
            self.index.renumber(last, hash32(self.items[last].key()), idx);
        }
        let item = self.items.swap_remove(idx);
        self.heap -= item.heap();
        let n = self.items.len();
        if self.items.capacity() > 16 && self.items.capacity() > 4 * n {
            self.items.shrink_to(2 * n);
        }
        item
    }

    /// One `HSCAN`/`SSCAN` step from `cursor` (see [`Index::scan`]).
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&T)) -> u64 {
        self.index.scan(cursor, count, |i| f(&self.items[i]))
    }

    /// Heap bytes held, elements and the box holding the table included.
    pub(crate) fn mem_usage(&self) -> usize {
        malloc_size(std::mem::size_of::<Self>())
            + malloc_size(self.items.capacity() * std::mem::size_of::<T>())
            + self.index.mem_usage()
            + self.heap
    }
}

#[cfg(test)]
mod tests {
    use super::super::key;
    use super::*;
    use crate::rng::random_below;
    use std::collections::HashSet;

    fn s(k: &str) -> SmallStr {
        SmallStr::from(k.as_bytes())
    }

    #[test]
    fn small_strings_keep_their_bytes_inline_or_not() {
        for len in [0, 1, key::INLINE, key::INLINE + 1, 100] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            for st in [SmallStr::from(&bytes[..]), SmallStr::from(bytes.clone())] {
                assert_eq!(&*st, &bytes[..]);
                assert_eq!(matches!(st, SmallStr::Inline { .. }), len <= key::INLINE);
                assert_eq!(st.heap(), if len <= key::INLINE { 0 } else { malloc_size(len) });
            }
        }
    }

    #[test]
    fn dict_matches_a_model_through_growth_and_shrinking() {
        let mut d: Dict<SmallStr> = Dict::with_capacity(0);
        let mut m = HashSet::new();
        let mut x = 7u64;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Some keys too long to sit inline, so the heap count is exercised.
            let k = if x % 4 == 0 { format!("{:030}", x % 3000) } else { format!("{}", x % 3000) };
            let grow = (step / 5000) % 2 == 0;
            if x % 3 != 0 || (grow && x % 5 != 0) {
                let new = d.find_or_insert_with(k.as_bytes(), || s(&k)).1;
                assert_eq!(new, m.insert(k));
            } else {
                assert_eq!(d.remove(k.as_bytes()).is_some(), m.remove(&k));
            }
            if step % 997 == 0 && d.len() > 0 {
                let i = random_below(d.len());
                let gone = d.swap_remove_index(i);
                assert!(m.remove(std::str::from_utf8(&gone).unwrap()));
            }
        }
        assert_eq!(d.len(), m.len());
        for k in &m {
            assert!(d.get(k.as_bytes()).is_some());
        }
        let heap: usize = d.items().iter().map(Keyed::heap).sum();
        assert_eq!(d.heap, heap);
        // Remove everything: the index shrinks back.
        for k in m.drain() {
            assert!(d.remove(k.as_bytes()).is_some());
        }
        assert_eq!((d.len(), d.index.slots.len(), d.heap), (0, MIN_SLOTS, 0));
    }

    #[test]
    fn dict_scan_returns_every_stable_element_while_the_index_resizes() {
        let mut d: Dict<SmallStr> = Dict::with_capacity(0);
        for i in 0..1000 {
            let k = format!("stable:{i}");
            d.find_or_insert_with(k.as_bytes(), || s(&k));
        }
        let mut seen = HashSet::new();
        let (mut cursor, mut calls) = (0, 0);
        loop {
            cursor = d.scan(cursor, 10, |k| {
                seen.insert(k.to_vec());
            });
            calls += 1;
            // Churn: grow a lot, then shrink back, while the scan runs.
            if calls % 7 == 0 {
                for i in 0..3000 {
                    let k = format!("churn:{calls}:{i}");
                    d.find_or_insert_with(k.as_bytes(), || s(&k));
                }
            } else if calls % 7 == 3 {
                let churn: Vec<SmallStr> =
                    d.items().iter().filter(|k| k.starts_with(b"churn")).cloned().collect();
                for k in churn {
                    d.remove(&k);
                }
            }
            if cursor == 0 {
                break;
            }
            assert!(calls < 100_000);
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("stable:{i}").as_bytes()), "stable:{i} missed");
        }
    }

    #[test]
    fn arrays_grow_by_an_eighth() {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..20_000 {
            reserve_one(&mut v);
            v.push(i);
            assert!(v.capacity() <= v.len() + v.len() / 8 + 4);
        }
    }
}
