//! Hash values, and the pieces they share with sets.
//!
//! As in Redis, a small hash is packed in one buffer ([`Listpack`]) and searched linearly:
//! a few bytes per field instead of two allocations, and a scan over one cache-friendly
//! buffer is as fast as hashing at that size. Past [`HashValue::MAX_PACKED_LEN`] fields, or
//! once a field or value is longer than [`HashValue::MAX_PACKED_BYTES`], it becomes a
//! [`Dict`] for good (Redis never converts back either).
//!
//! [`Dict`] is an insertion-indexed hash table: the elements sit in a dense `Vec` and a small
//! open-addressing index points into it. Dense elements give `HRANDFIELD`/`SPOP`/`SRANDMEMBER`
//! O(1) random picks, and the index gives `HSCAN`/`SSCAN` Redis's cursor guarantee (see
//! [`Dict::scan`]); `std`'s `HashMap` offers neither.

use super::memory::malloc_size;
use super::scan_hash;
use crate::bytes::Bytes;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

// ----- elements -----

/// One element read out of a collection, without copying it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Elem<'a> {
    /// Bytes inside a packed buffer (or given by a caller): copied when handed out.
    Borrowed(&'a [u8]),
    /// A string of a large collection: handed out by a reference-count bump.
    Shared(&'a Bytes),
    /// A member of an integer set, kept as a number until someone needs its digits.
    Int(i64),
}

impl<'a> Elem<'a> {
    /// The element as an owned string.
    pub(crate) fn to_bytes(self) -> Bytes {
        match self {
            Elem::Borrowed(b) => Bytes::copy_from(b),
            Elem::Shared(b) => b.clone(),
            Elem::Int(n) => Bytes::copy_from(format_int(n, &mut [0; 20])),
        }
    }

    /// The element's bytes; an integer is written into `buf`.
    pub(crate) fn bytes<'b>(self, buf: &'b mut [u8; 20]) -> &'b [u8]
    where
        'a: 'b,
    {
        match self {
            Elem::Borrowed(b) => b,
            Elem::Shared(b) => b,
            Elem::Int(n) => format_int(n, buf),
        }
    }

    /// Length in bytes.
    pub(crate) fn len(self) -> usize {
        self.bytes(&mut [0; 20]).len()
    }
}

/// Writes `n` in decimal at the end of `buf` (20 bytes hold `i64::MIN`).
pub(crate) fn format_int(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Heap bytes of one [`Bytes`] of `len` bytes: the two reference counts and the data, as
/// malloc rounds them.
pub(crate) fn shared_heap(len: usize) -> usize {
    malloc_size(16 + len)
}

// ----- randomness -----

pub(crate) use crate::rng::random_below;

/// `count` random indexes below `n` (`n > 0`): with repeats, or distinct. Distinct indexes
/// for `count >= n` are all of them in order, as Redis answers a count covering the whole
/// collection.
pub(crate) fn sample_indexes(n: usize, count: usize, distinct: bool) -> Vec<usize> {
    if !distinct {
        return (0..count).map(|_| random_below(n)).collect();
    }
    if count >= n {
        return (0..n).collect();
    }
    if count * 4 >= n {
        // Dense: a partial Fisher-Yates shuffle.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + random_below(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    // Sparse: rejection, under 4/3 draws per index on average; a few picks are checked
    // against each other directly, cheaper than building a set.
    let mut out = Vec::with_capacity(count);
    if count <= 16 {
        while out.len() < count {
            let i = random_below(n);
            if !out.contains(&i) {
                out.push(i);
            }
        }
        return out;
    }
    let mut seen = HashSet::with_capacity(count);
    while out.len() < count {
        let i = random_below(n);
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

// ----- Listpack -----

/// Byte strings packed end to end in one buffer, each behind its length (LEB128, one byte
/// for the short elements packed collections hold). Redis's listpack, minus the back links.
#[derive(Clone, Default)]
pub(crate) struct Listpack {
    buf: Vec<u8>,
    len: u32,
}

impl Listpack {
    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// The entries, in order.
    pub(crate) fn iter(&self) -> ListpackIter<'_> {
        ListpackIter { buf: &self.buf, off: 0 }
    }

    /// Appends an entry.
    pub(crate) fn push(&mut self, item: &[u8]) {
        write_len(&mut self.buf, item.len());
        self.buf.extend_from_slice(item);
        self.len += 1;
    }

    /// The entry at byte offset `off` and the offset after it.
    pub(crate) fn entry_at(&self, off: usize) -> (&[u8], usize) {
        read_entry(&self.buf, off)
    }

    /// Byte range of entry number `index`.
    pub(crate) fn range_of(&self, index: usize) -> Range<usize> {
        let mut off = 0;
        for _ in 0..index {
            off = self.entry_at(off).1;
        }
        off..self.entry_at(off).1
    }

    /// Byte range of the first entry equal to `item`, looking at every `stride`-th entry
    /// (2 for a hash's fields).
    pub(crate) fn find(&self, item: &[u8], stride: usize) -> Option<Range<usize>> {
        let mut off = 0;
        while off < self.buf.len() {
            let (e, next) = self.entry_at(off);
            if e == item {
                return Some(off..next);
            }
            off = next;
            for _ in 1..stride {
                off = self.entry_at(off).1;
            }
        }
        None
    }

    /// Replaces the bytes `range`, which hold `removed` whole entries, with `items`.
    pub(crate) fn replace(&mut self, range: Range<usize>, removed: usize, items: &[&[u8]]) {
        let mut packed = Vec::new();
        for item in items {
            write_len(&mut packed, item.len());
            packed.extend_from_slice(item);
        }
        self.buf.splice(range, packed);
        self.len = self.len + items.len() as u32 - removed as u32;
        // Give back what a shrinking collection no longer needs.
        if self.buf.capacity() > 64 && self.buf.capacity() > 2 * self.buf.len() {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 4);
        }
    }

    /// Heap bytes held.
    pub(crate) fn mem_usage(&self) -> usize {
        malloc_size(self.buf.capacity())
    }
}

fn write_len(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push(n as u8 | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn read_entry(buf: &[u8], mut off: usize) -> (&[u8], usize) {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = buf[off];
        off += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (&buf[off..off + n], off + n)
}

/// The entries of a [`Listpack`].
pub(crate) struct ListpackIter<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for ListpackIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.off >= self.buf.len() {
            return None;
        }
        let (e, next) = read_entry(self.buf, self.off);
        self.off = next;
        Some(e)
    }
}

// ----- Dict -----

/// What a [`Dict`] holds: something with a key.
pub(crate) trait Keyed {
    /// The bytes the element is found by.
    fn key(&self) -> &[u8];
    /// Heap bytes the element holds.
    fn heap(&self) -> usize;
}

impl Keyed for Bytes {
    fn key(&self) -> &[u8] {
        self
    }
    fn heap(&self) -> usize {
        shared_heap(self.len())
    }
}

impl Keyed for (Bytes, Bytes) {
    fn key(&self) -> &[u8] {
        &self.0
    }
    fn heap(&self) -> usize {
        shared_heap(self.0.len()) + shared_heap(self.1.len())
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
fn hash32(key: &[u8]) -> u32 {
    scan_hash(key) as u32
}

/// Index slots for `n` elements: a power of two, at most 3/4 full.
fn slots_for(n: usize) -> usize {
    (n * 4 / 3 + 1).next_power_of_two().max(MIN_SLOTS)
}

/// A hash table of keyed elements: the elements dense in a `Vec` (any one is a random pick
/// away, removal swaps the last one in) and a linear-probing index of 8-byte slots that point
/// into it. Holds fewer than 2^32 - 1 elements.
#[derive(Clone)]
pub(crate) struct Dict<T> {
    items: Vec<T>,
    slots: Box<[Slot]>,
    /// Heap bytes the elements hold, kept up to date so `mem_usage` is O(1).
    heap: usize,
}

impl<T: Keyed> Dict<T> {
    /// An empty table with room for `n` elements.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Dict { items: Vec::with_capacity(n), slots: vec![EMPTY; slots_for(n)].into(), heap: 0 }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The elements, in no particular order.
    pub(crate) fn items(&self) -> &[T] {
        &self.items
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `key` (Ok), or the empty slot where it would go (Err).
    fn probe(&self, key: &[u8], hash: u32) -> Result<usize, usize> {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s.idx == u32::MAX {
                return Err(i);
            }
            if s.hash == hash && self.items[s.idx as usize].key() == key {
                return Ok(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The index of the element with `key`.
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        self.probe(key, hash32(key)).ok().map(|p| self.slots[p].idx as usize)
    }

    /// The element with `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&T> {
        self.find(key).map(|i| &self.items[i])
    }

    /// The index of the element with `key`, inserting `make()` (whose key must be `key`)
    /// if there is none; true if inserted.
    pub(crate) fn find_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> T) -> (usize, bool) {
        let hash = hash32(key);
        match self.probe(key, hash) {
            Ok(p) => (self.slots[p].idx as usize, false),
            Err(mut p) => {
                if (self.items.len() + 1) * 4 > self.slots.len() * 3 {
                    self.resize(self.slots.len() * 2);
                    p = self.probe(key, hash).expect_err("the key is not there");
                }
                let idx = self.items.len();
                assert!(idx < u32::MAX as usize, "a collection holds fewer than 2^32 - 1 elements");
                let item = make();
                debug_assert!(item.key() == key);
                self.heap += item.heap();
                self.items.push(item);
                self.slots[p] = Slot { idx: idx as u32, hash };
                (idx, true)
            }
        }
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
        let p = self.probe(key, hash32(key)).ok()?;
        Some(self.remove_at(p))
    }

    /// Removes element `idx`; the last element takes its index.
    pub(crate) fn swap_remove_index(&mut self, idx: usize) -> T {
        let p = self.slot_of(idx, hash32(self.items[idx].key()));
        self.remove_at(p)
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

    fn remove_at(&mut self, p: usize) -> T {
        let idx = self.slots[p].idx as usize;
        self.delete_slot(p);
        let last = self.items.len() - 1;
        if idx != last {
            let q = self.slot_of(last, hash32(self.items[last].key()));
            self.slots[q].idx = idx as u32;
        }
        let item = self.items.swap_remove(idx);
        self.heap -= item.heap();
        let n = self.items.len();
        if self.slots.len() > MIN_SLOTS && n * 8 < self.slots.len() {
            self.resize(slots_for(n));
        }
        if self.items.capacity() > 16 && self.items.capacity() > 4 * n {
            self.items.shrink_to(2 * n);
        }
        item
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
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&T)) -> u64 {
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
                    f(&self.items[s.idx as usize]);
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

    /// Heap bytes held, elements and the box holding the table included.
    pub(crate) fn mem_usage(&self) -> usize {
        malloc_size(std::mem::size_of::<Self>())
            + malloc_size(self.items.capacity() * std::mem::size_of::<T>())
            + malloc_size(self.slots.len() * std::mem::size_of::<Slot>())
            + self.heap
    }
}

// ----- HashValue -----

/// A hash of fields to values.
#[derive(Clone)]
pub(crate) struct HashValue {
    repr: HashRepr,
}

#[derive(Clone)]
enum HashRepr {
    /// Field, value, field, value... in insertion order (what `HGETALL` answers, as Redis's
    /// listpack does).
    Packed(Listpack),
    Table(Box<Dict<(Bytes, Bytes)>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue { repr: HashRepr::Packed(Listpack::default()) }
    }
}

impl HashValue {
    /// Most fields a packed hash holds (Redis's `hash-max-listpack-entries` is 512 in 7.0;
    /// this store packs less, so a linear search stays short).
    pub(crate) const MAX_PACKED_LEN: usize = 128;
    /// Longest field or value a packed hash holds (`hash-max-listpack-value`).
    pub(crate) const MAX_PACKED_BYTES: usize = 64;

    /// An empty hash.
    pub(crate) fn new() -> Self {
        HashValue::default()
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            HashRepr::Packed(lp) => lp.len() / 2,
            HashRepr::Table(d) => d.len(),
        }
    }

    /// True if the hash has no fields (a stored hash never is).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` gives the representation.
    pub(crate) fn encoding(&self) -> &'static str {
        match &self.repr {
            HashRepr::Packed(_) => "listpack",
            HashRepr::Table(_) => "hashtable",
        }
    }

    /// The value of `field`.
    pub(crate) fn get(&self, field: &[u8]) -> Option<Elem<'_>> {
        match &self.repr {
            HashRepr::Packed(lp) => {
                let r = lp.find(field, 2)?;
                Some(Elem::Borrowed(lp.entry_at(r.end).0))
            }
            HashRepr::Table(d) => d.get(field).map(|(_, v)| Elem::Shared(v)),
        }
    }

    /// True if `field` exists.
    pub(crate) fn contains(&self, field: &[u8]) -> bool {
        match &self.repr {
            HashRepr::Packed(lp) => lp.find(field, 2).is_some(),
            HashRepr::Table(d) => d.find(field).is_some(),
        }
    }

    /// Sets `field` to `value`; true if the field is new.
    pub(crate) fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let HashRepr::Packed(lp) = &mut self.repr {
            if field.len() <= Self::MAX_PACKED_BYTES && value.len() <= Self::MAX_PACKED_BYTES {
                if let Some(f) = lp.find(field, 2) {
                    let v = f.end..lp.entry_at(f.end).1;
                    lp.replace(v, 1, &[value]);
                    return false;
                }
                if lp.len() / 2 < Self::MAX_PACKED_LEN {
                    lp.push(field);
                    lp.push(value);
                    return true;
                }
            }
            self.unpack();
        }
        let HashRepr::Table(d) = &mut self.repr else { unreachable!("unpacked above") };
        let (i, new) =
            d.find_or_insert_with(field, || (Bytes::copy_from(field), Bytes::copy_from(value)));
        if !new {
            d.update(i, |pair| pair.1 = Bytes::copy_from(value));
        }
        new
    }

    /// Removes `field`; true if it existed.
    pub(crate) fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            HashRepr::Packed(lp) => match lp.find(field, 2) {
                Some(f) => {
                    let end = lp.entry_at(f.end).1;
                    lp.replace(f.start..end, 2, &[]);
                    true
                }
                None => false,
            },
            HashRepr::Table(d) => d.remove(field).is_some(),
        }
    }

    /// Moves a packed hash into a table.
    fn unpack(&mut self) {
        let HashRepr::Packed(lp) = &self.repr else { return };
        let mut d = Dict::with_capacity(lp.len() / 2 + 1);
        let mut entries = lp.iter();
        while let (Some(f), Some(v)) = (entries.next(), entries.next()) {
            d.find_or_insert_with(f, || (Bytes::copy_from(f), Bytes::copy_from(v)));
        }
        self.repr = HashRepr::Table(Box::new(d));
    }

    /// Every field and value: insertion order while packed, no particular order after.
    pub(crate) fn iter(&self) -> HashIter<'_> {
        match &self.repr {
            HashRepr::Packed(lp) => HashIter::Packed(lp.iter()),
            HashRepr::Table(d) => HashIter::Table(d.items().iter()),
        }
    }

    /// `count` random pairs: distinct (all of them, in order, when `count` covers the hash)
    /// or with repeats.
    pub(crate) fn random_pairs(&self, count: usize, distinct: bool) -> Vec<(Elem<'_>, Elem<'_>)> {
        let n = self.len();
        if n == 0 {
            return Vec::new();
        }
        let picks = sample_indexes(n, count, distinct);
        match &self.repr {
            HashRepr::Packed(_) => {
                let all: Vec<_> = self.iter().collect();
                picks.into_iter().map(|i| all[i]).collect()
            }
            HashRepr::Table(d) => picks
                .into_iter()
                .map(|i| {
                    let (f, v) = &d.items()[i];
                    (Elem::Shared(f), Elem::Shared(v))
                })
                .collect(),
        }
    }

    /// One `HSCAN` step from `cursor`: calls `f` on the pairs seen and returns the next cursor.
    /// A packed hash is seen whole in one step, with cursor 0, as Redis does.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Elem<'_>, Elem<'_>)) -> u64 {
        match &self.repr {
            HashRepr::Packed(_) => {
                self.iter().for_each(|(k, v)| f(k, v));
                0
            }
            HashRepr::Table(d) => d.scan(cursor, count, |(k, v)| f(Elem::Shared(k), Elem::Shared(v))),
        }
    }

    /// Approximate heap bytes held.
    pub(crate) fn mem_usage(&self) -> usize {
        match &self.repr {
            HashRepr::Packed(lp) => lp.mem_usage(),
            HashRepr::Table(d) => d.mem_usage(),
        }
    }
}

/// The pairs of a [`HashValue`].
pub(crate) enum HashIter<'a> {
    Packed(ListpackIter<'a>),
    Table(std::slice::Iter<'a, (Bytes, Bytes)>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (Elem<'a>, Elem<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Packed(it) => Some((Elem::Borrowed(it.next()?), Elem::Borrowed(it.next()?))),
            HashIter::Table(it) => it.next().map(|(f, v)| (Elem::Shared(f), Elem::Shared(v))),
        }
    }
}

/// Equal when they hold the same pairs, whatever their representations.
impl PartialEq for HashValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().all(|(f, v)| {
                let mut buf = [0; 20];
                other
                    .get(f.bytes(&mut buf))
                    .is_some_and(|o| o.bytes(&mut [0; 20]) == v.bytes(&mut [0; 20]))
            })
    }
}

impl fmt::Debug for HashValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter().map(|(k, v)| (k.to_bytes(), v.to_bytes()))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn field(i: usize) -> Vec<u8> {
        format!("field:{i}").into_bytes()
    }

    fn model(h: &HashValue) -> HashMap<Vec<u8>, Vec<u8>> {
        h.iter().map(|(f, v)| (f.to_bytes().to_vec(), v.to_bytes().to_vec())).collect()
    }

    #[test]
    fn small_hashes_keep_insertion_order_and_update_in_place() {
        let mut h = HashValue::new();
        assert!(h.insert(b"b", b"1"));
        assert!(h.insert(b"a", b"2"));
        assert!(h.insert(b"c", b"3"));
        assert!(!h.insert(b"b", b"nine"));
        let pairs: Vec<_> = h.iter().map(|(f, v)| (f.to_bytes(), v.to_bytes())).collect();
        assert_eq!(
            pairs,
            vec![("b".into(), "nine".into()), ("a".into(), "2".into()), ("c".into(), "3".into())]
        );
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(b"c").map(Elem::to_bytes), Some("3".into()));
        assert!(h.get(b"a").is_none());
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn converts_at_the_thresholds_and_keeps_every_pair() {
        let mut h = HashValue::new();
        for i in 0..HashValue::MAX_PACKED_LEN {
            h.insert(&field(i), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        let before = model(&h);
        h.insert(&field(HashValue::MAX_PACKED_LEN), b"v");
        assert_eq!(h.encoding(), "hashtable");
        let mut after = model(&h);
        after.remove(&field(HashValue::MAX_PACKED_LEN));
        assert_eq!(before, after);

        let mut long_value = HashValue::new();
        long_value.insert(b"f", &[b'x'; 64]);
        assert_eq!(long_value.encoding(), "listpack");
        long_value.insert(b"f", &[b'x'; 65]);
        assert_eq!(long_value.encoding(), "hashtable");
        assert_eq!(long_value.get(b"f").unwrap().len(), 65);
        let mut long_field = HashValue::new();
        long_field.insert(&[b'f'; 65], b"v");
        assert_eq!(long_field.encoding(), "hashtable");
    }

    #[test]
    fn equality_ignores_representation() {
        let mut a = HashValue::new();
        let mut b = HashValue::new();
        for i in 0..10 {
            a.insert(&field(i), b"v");
        }
        for i in (0..10).rev() {
            b.insert(&field(i), b"v");
        }
        b.insert(&[b'z'; 100], b"v");
        b.remove(&[b'z'; 100]);
        assert_eq!(b.encoding(), "hashtable");
        assert_eq!(a, b);
        b.insert(&field(3), b"w");
        assert_ne!(a, b);
    }

    #[test]
    fn dict_matches_a_model_through_growth_and_shrinking() {
        let mut d: Dict<Bytes> = Dict::with_capacity(0);
        let mut m = std::collections::HashSet::new();
        let mut x = 7u64;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = format!("{}", x % 3000);
            let grow = (step / 5000) % 2 == 0;
            if x % 3 != 0 || (grow && x % 5 != 0) {
                let new = d.find_or_insert_with(k.as_bytes(), || Bytes::from(k.as_str())).1;
                assert_eq!(new, m.insert(k));
            } else {
                assert_eq!(d.remove(k.as_bytes()).is_some(), m.remove(&k));
            }
            if step % 997 == 0 && d.len() > 0 {
                let i = random_below(d.len());
                let gone = d.swap_remove_index(i);
                assert!(m.remove(gone.as_str().unwrap()));
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
        assert_eq!((d.len(), d.slots.len(), d.heap), (0, MIN_SLOTS, 0));
    }

    #[test]
    fn dict_scan_returns_every_stable_element_while_the_index_resizes() {
        let mut d: Dict<Bytes> = Dict::with_capacity(0);
        for i in 0..1000 {
            let k = format!("stable:{i}");
            d.find_or_insert_with(k.as_bytes(), || Bytes::from(k.as_str()));
        }
        let mut seen = std::collections::HashSet::new();
        let (mut cursor, mut calls) = (0, 0);
        loop {
            cursor = d.scan(cursor, 10, |k| {
                seen.insert(k.clone());
            });
            calls += 1;
            // Churn: grow a lot, then shrink back, while the scan runs.
            if calls % 7 == 0 {
                for i in 0..3000 {
                    let k = format!("churn:{calls}:{i}");
                    d.find_or_insert_with(k.as_bytes(), || Bytes::from(k.as_str()));
                }
            } else if calls % 7 == 3 {
                let churn: Vec<Bytes> =
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
    fn samples() {
        for (n, count) in [(10, 3), (10, 9), (1000, 5), (5, 5), (5, 50)] {
            let picks = sample_indexes(n, count, true);
            assert_eq!(picks.len(), count.min(n));
            let distinct: std::collections::HashSet<_> = picks.iter().collect();
            assert_eq!(distinct.len(), picks.len());
            assert!(picks.iter().all(|&i| i < n));
        }
        assert_eq!(sample_indexes(5, 50, true), vec![0, 1, 2, 3, 4]);
        let repeats = sample_indexes(2, 1000, false);
        assert_eq!(repeats.len(), 1000);
        assert!(repeats.contains(&0) && repeats.contains(&1));
    }

    #[test]
    fn mem_usage_grows_with_content() {
        let mut h = HashValue::new();
        let empty = h.mem_usage();
        for i in 0..10 {
            h.insert(&field(i), b"value");
        }
        let small = h.mem_usage();
        assert!(small > empty && small < 400, "{small}");
        for i in 10..1000 {
            h.insert(&field(i), b"value");
        }
        assert!(h.mem_usage() > 1000 * 2 * 24, "{}", h.mem_usage());
    }

    #[test]
    fn stays_small_inside_a_value() {
        assert!(std::mem::size_of::<HashValue>() <= 32);
        assert_eq!(format_int(i64::MIN, &mut [0; 20]), b"-9223372036854775808");
        assert_eq!(format_int(0, &mut [0; 20]), b"0");
        assert_eq!(format_int(-7, &mut [0; 20]), b"-7");
        assert_eq!(Elem::Int(42).to_bytes(), "42");
    }
}
