//! Hash values, and the pieces they share with sets.
//!
//! As in Redis, a small hash is packed in one buffer ([`Listpack`]) and searched linearly:
//! a few bytes per field instead of two allocations, and a scan over one cache-friendly
//! buffer is as fast as hashing at that size. Past [`HashValue::MAX_PACKED_LEN`] fields, or
//! once a field or value is longer than [`HashValue::MAX_PACKED_BYTES`], it becomes a
//! [`Dict`] for good (Redis never converts back either).
//!
//! A large hash keeps each field and its value together in one [`Pair`] string, inline in
//! the table's array when short.

use super::dict::{Dict, Keyed, SmallStr};
use super::memory::malloc_size;
use crate::bytes::Bytes;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

// ----- elements -----

/// One element read out of a collection, without copying it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Elem<'a> {
    /// Bytes inside the collection (or given by a caller): copied when handed out.
    Borrowed(&'a [u8]),
    /// A member of an integer set, kept as a number until someone needs its digits.
    Int(i64),
}

impl<'a> Elem<'a> {
    /// The element as an owned string.
    pub(crate) fn to_bytes(self) -> Bytes {
        match self {
            Elem::Borrowed(b) => Bytes::copy_from(b),
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

/// Bytes LEB128 takes for `n`.
fn len_of_len(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
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

// ----- Pair -----

/// A field of a large hash and its value in one allocation: the field's length (LEB128), the
/// field, the value; inline in the table when short. One string per pair instead of two
/// shared ones halves what a pair costs beyond its bytes.
#[derive(Clone)]
pub(crate) struct Pair(SmallStr);

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        let mut buf = Vec::with_capacity(len_of_len(field.len()) + field.len() + value.len());
        write_len(&mut buf, field.len());
        buf.extend_from_slice(field);
        buf.extend_from_slice(value);
        Pair(SmallStr::from(buf))
    }

    /// The field and the value.
    fn split(&self) -> (&[u8], &[u8]) {
        let (field, end) = read_entry(&self.0, 0);
        (field, &self.0[end..])
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.split().0
    }
    fn heap(&self) -> usize {
        self.0.heap()
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
    Table(Box<Dict<Pair>>),
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
            HashRepr::Table(d) => d.get(field).map(|p| Elem::Borrowed(p.split().1)),
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
        let (i, new) = d.find_or_insert_with(field, || Pair::new(field, value));
        if !new {
            d.update(i, |pair| *pair = Pair::new(field, value));
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
            d.find_or_insert_with(f, || Pair::new(f, v));
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
                    let (f, v) = d.items()[i].split();
                    (Elem::Borrowed(f), Elem::Borrowed(v))
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
            HashRepr::Table(d) => d.scan(cursor, count, |p| {
                let (k, v) = p.split();
                f(Elem::Borrowed(k), Elem::Borrowed(v))
            }),
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
    Table(std::slice::Iter<'a, Pair>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (Elem<'a>, Elem<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Packed(it) => Some((Elem::Borrowed(it.next()?), Elem::Borrowed(it.next()?))),
            HashIter::Table(it) => it.next().map(|p| {
                let (f, v) = p.split();
                (Elem::Borrowed(f), Elem::Borrowed(v))
            }),
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
        // Each pair takes at least its 24-byte place in the table's array.
        assert!(h.mem_usage() > 1000 * 24, "{}", h.mem_usage());
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
