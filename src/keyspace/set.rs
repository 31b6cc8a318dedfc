//! Set values.
//!
//! Three representations, as Redis 7.2 has: a sorted array of integers while every member is
//! a canonical integer (the intset, up to [`SetValue::MAX_INTSET_LEN`]), members packed in
//! one buffer while the set is small ([`Listpack`], up to [`SetValue::MAX_PACKED_LEN`]
//! members of at most [`SetValue::MAX_PACKED_BYTES`] bytes), and a [`Dict`] past that. A set
//! only moves forward through them, never back, as in Redis.

use super::dict::{Dict, SmallStr};
use super::hash::{format_int, random_below, sample_indexes, Elem, Listpack, ListpackIter};
use super::memory::malloc_size;
use crate::bytes::Bytes;
use std::fmt;

/// A set of byte strings.
#[derive(Clone)]
pub(crate) struct SetValue {
    repr: SetRepr,
}

#[derive(Clone)]
enum SetRepr {
    /// Sorted, distinct.
    Ints(Vec<i64>),
    /// In insertion order.
    Packed(Listpack),
    Table(Box<Dict<SmallStr>>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue { repr: SetRepr::Ints(Vec::new()) }
    }
}

/// The integer `m` spells, if it is one as Redis's `string2ll` reads it: only such members go
/// into the intset, so a member's digits come back byte for byte.
fn as_int(m: &[u8]) -> Option<i64> {
    crate::bytes::parse_i64(m)
}

impl SetValue {
    /// Most members of an integer set (`set-max-intset-entries`).
    pub(crate) const MAX_INTSET_LEN: usize = 512;
    /// Most members of a packed set (`set-max-listpack-entries`, Redis 7.2).
    pub(crate) const MAX_PACKED_LEN: usize = 128;
    /// Longest member of a packed set (`set-max-listpack-value`, Redis 7.2).
    pub(crate) const MAX_PACKED_BYTES: usize = 64;

    /// An empty set.
    pub(crate) fn new() -> Self {
        SetValue::default()
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            SetRepr::Ints(v) => v.len(),
            SetRepr::Packed(lp) => lp.len(),
            SetRepr::Table(d) => d.len(),
        }
    }

    /// True if the set has no members (a stored set never is).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` gives the representation.
    pub(crate) fn encoding(&self) -> &'static str {
        match &self.repr {
            SetRepr::Ints(_) => "intset",
            SetRepr::Packed(_) => "listpack",
            SetRepr::Table(_) => "hashtable",
        }
    }

    /// True if `m` is a member.
    pub(crate) fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            SetRepr::Ints(v) => as_int(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            SetRepr::Packed(lp) => lp.find(m, 1).is_some(),
            SetRepr::Table(d) => d.find(m).is_some(),
        }
    }

    /// True if `e` is a member; an integer meets an integer set without being spelled out.
    pub(crate) fn contains_elem(&self, e: Elem<'_>) -> bool {
        match (&self.repr, e) {
            (SetRepr::Ints(v), Elem::Int(n)) => v.binary_search(&n).is_ok(),
            _ => self.contains(e.bytes(&mut [0; 20])),
        }
    }

    /// Adds `m`; true if it is new.
    pub(crate) fn insert(&mut self, m: &[u8]) -> bool {
        self.insert_elem(Elem::Borrowed(m))
    }

    /// Adds `e`; true if new.
    pub(crate) fn insert_elem(&mut self, e: Elem<'_>) -> bool {
        let mut buf = [0; 20];
        match &mut self.repr {
            SetRepr::Ints(v) => {
                let n = match e {
                    Elem::Int(n) => Some(n),
                    _ => as_int(e.bytes(&mut buf)),
                };
                match n {
                    Some(n) => match v.binary_search(&n) {
                        Ok(_) => return false,
                        Err(i) if v.len() < Self::MAX_INTSET_LEN => {
                            v.insert(i, n);
                            return true;
                        }
                        Err(_) => self.make_table(),
                    },
                    None if v.len() < Self::MAX_PACKED_LEN && e.len() <= Self::MAX_PACKED_BYTES => {
                        self.make_packed()
                    }
                    None => self.make_table(),
                }
            }
            SetRepr::Packed(lp) => {
                let m = e.bytes(&mut buf);
                if lp.find(m, 1).is_some() {
                    return false;
                }
                if lp.len() < Self::MAX_PACKED_LEN && m.len() <= Self::MAX_PACKED_BYTES {
                    lp.push(m);
                    return true;
                }
                self.make_table();
            }
            SetRepr::Table(_) => {}
        }
        match &mut self.repr {
            SetRepr::Packed(lp) => {
                // Only a non-integer that fits gets here from an intset: it is new.
                lp.push(e.bytes(&mut buf));
                true
            }
            SetRepr::Table(d) => {
                let m = e.bytes(&mut buf);
                d.find_or_insert_with(m, || m.into()).1
            }
            SetRepr::Ints(_) => unreachable!("converted above"),
        }
    }

    fn make_packed(&mut self) {
        let SetRepr::Ints(v) = &self.repr else { return };
        let mut lp = Listpack::default();
        for &n in v {
            lp.push(format_int(n, &mut [0; 20]));
        }
        self.repr = SetRepr::Packed(lp);
    }

    fn make_table(&mut self) {
        let mut d = Dict::with_capacity(self.len() + 1);
        let mut buf = [0; 20];
        for e in self.iter() {
            let m = e.bytes(&mut buf);
            d.find_or_insert_with(m, || m.into());
        }
        self.repr = SetRepr::Table(Box::new(d));
    }

    /// Removes `m`; true if it was a member.
    pub(crate) fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            SetRepr::Ints(v) => match as_int(m).map(|n| v.binary_search(&n)) {
                Some(Ok(i)) => {
                    v.remove(i);
                    true
                }
                _ => false,
            },
            SetRepr::Packed(lp) => match lp.find(m, 1) {
                Some(r) => {
                    lp.replace(r, 1, &[]);
                    true
                }
                None => false,
            },
            SetRepr::Table(d) => d.remove(m).is_some(),
        }
    }

    /// Removes and returns a random member.
    pub(crate) fn pop_random(&mut self) -> Option<Bytes> {
        if self.is_empty() {
            return None;
        }
        let i = random_below(self.len());
        Some(match &mut self.repr {
            SetRepr::Ints(v) => Bytes::copy_from(format_int(v.remove(i), &mut [0; 20])),
            SetRepr::Packed(lp) => {
                let r = lp.range_of(i);
                let m = Bytes::copy_from(lp.entry_at(r.start).0);
                lp.replace(r, 1, &[]);
                m
            }
            SetRepr::Table(d) => Bytes::copy_from(&d.swap_remove_index(i)),
        })
    }

    /// Every member: ascending while an intset, insertion order while packed, no particular
    /// order after.
    pub(crate) fn iter(&self) -> SetIter<'_> {
        match &self.repr {
            SetRepr::Ints(v) => SetIter::Ints(v.iter()),
            SetRepr::Packed(lp) => SetIter::Packed(lp.iter()),
            SetRepr::Table(d) => SetIter::Table(d.items().iter()),
        }
    }

    /// `count` random members: distinct (all of them, in order, when `count` covers the set)
    /// or with repeats.
    pub(crate) fn random_members(&self, count: usize, distinct: bool) -> Vec<Elem<'_>> {
        let n = self.len();
        if n == 0 {
            return Vec::new();
        }
        let picks = sample_indexes(n, count, distinct);
        match &self.repr {
            SetRepr::Ints(v) => picks.into_iter().map(|i| Elem::Int(v[i])).collect(),
            SetRepr::Packed(_) => {
                let all: Vec<_> = self.iter().collect();
                picks.into_iter().map(|i| all[i]).collect()
            }
            SetRepr::Table(d) => picks.into_iter().map(|i| Elem::Borrowed(&d.items()[i])).collect(),
        }
    }

    /// One `SSCAN` step from `cursor`: calls `f` on the members seen and returns the next
    /// cursor. An intset or packed set is seen whole in one step, with cursor 0, as Redis does.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Elem<'_>)) -> u64 {
        match &self.repr {
            SetRepr::Table(d) => d.scan(cursor, count, |m| f(Elem::Borrowed(m))),
            _ => {
                self.iter().for_each(f);
                0
            }
        }
    }

    /// Approximate heap bytes held.
    pub(crate) fn mem_usage(&self) -> usize {
        match &self.repr {
            SetRepr::Ints(v) => malloc_size(v.capacity() * std::mem::size_of::<i64>()),
            SetRepr::Packed(lp) => lp.mem_usage(),
            SetRepr::Table(d) => d.mem_usage(),
        }
    }
}

/// The members of a [`SetValue`].
pub(crate) enum SetIter<'a> {
    Ints(std::slice::Iter<'a, i64>),
    Packed(ListpackIter<'a>),
    Table(std::slice::Iter<'a, SmallStr>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            SetIter::Ints(it) => it.next().map(|&n| Elem::Int(n)),
            SetIter::Packed(it) => it.next().map(Elem::Borrowed),
            SetIter::Table(it) => it.next().map(|m| Elem::Borrowed(m)),
        }
    }
}

impl<'e> FromIterator<Elem<'e>> for SetValue {
    fn from_iter<I: IntoIterator<Item = Elem<'e>>>(iter: I) -> Self {
        let mut s = SetValue::new();
        for e in iter {
            s.insert_elem(e);
        }
        s
    }
}

/// Equal when they hold the same members, whatever their representations.
impl PartialEq for SetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|e| other.contains_elem(e))
    }
}

impl fmt::Debug for SetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Elem::to_bytes)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn members(s: &SetValue) -> BTreeSet<Vec<u8>> {
        s.iter().map(|e| e.to_bytes().to_vec()).collect()
    }

    #[test]
    fn integers_are_canonical_as_string2ll() {
        assert_eq!(as_int(b"0"), Some(0));
        assert_eq!(as_int(b"-12"), Some(-12));
        assert_eq!(as_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(as_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in
            [&b""[..], b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"1.0", b"9223372036854775808", b"1x"]
        {
            assert_eq!(as_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
            assert_eq!(as_int(bad), crate::command::args::parse_i64(bad));
        }
        // Not canonical, so not an integer: the set gives the bytes back as given.
        let mut s = SetValue::new();
        assert!(s.insert(b"007"));
        assert!(s.insert(b"7"));
        assert_eq!(s.len(), 2);
        assert_eq!(members(&s), BTreeSet::from([b"007".to_vec(), b"7".to_vec()]));
    }

    #[test]
    fn intset_is_sorted_and_converts_past_512() {
        let mut s = SetValue::new();
        for n in (0..SetValue::MAX_INTSET_LEN as i64).rev() {
            assert!(s.insert(n.to_string().as_bytes()));
        }
        assert!(!s.insert(b"5"));
        assert_eq!(s.encoding(), "intset");
        let order: Vec<Bytes> = s.iter().take(3).map(Elem::to_bytes).collect();
        assert_eq!(order, vec![Bytes::from("0"), "1".into(), "2".into()]);
        let before = members(&s);
        assert!(s.insert(b"-1"));
        assert_eq!(s.encoding(), "hashtable");
        let mut after = members(&s);
        assert!(after.remove(b"-1".as_slice()));
        assert_eq!(before, after);
        assert!(s.contains(b"511") && !s.contains(b"512"));
    }

    #[test]
    fn a_string_moves_an_intset_to_a_listpack_or_a_table() {
        let mut s = SetValue::new();
        s.insert(b"1");
        s.insert(b"2");
        s.insert(b"a");
        assert_eq!(s.encoding(), "listpack");
        assert_eq!(members(&s), BTreeSet::from([b"1".to_vec(), b"2".to_vec(), b"a".to_vec()]));
        assert!(s.contains(b"1") && s.contains(b"a"));

        let mut big = SetValue::new();
        for n in 0..SetValue::MAX_PACKED_LEN {
            big.insert(n.to_string().as_bytes());
        }
        big.insert(b"x");
        assert_eq!(big.encoding(), "hashtable");
        assert_eq!(big.len(), SetValue::MAX_PACKED_LEN + 1);

        let mut long = SetValue::new();
        long.insert(b"1");
        long.insert(&[b'x'; 65]);
        assert_eq!(long.encoding(), "hashtable");
    }

    #[test]
    fn listpack_converts_past_128_members_or_64_bytes() {
        let mut s = SetValue::new();
        for i in 0..SetValue::MAX_PACKED_LEN {
            s.insert(format!("m{i}").as_bytes());
        }
        assert_eq!(s.encoding(), "listpack");
        let before = members(&s);
        s.insert(b"one more");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), SetValue::MAX_PACKED_LEN + 1);
        assert!(before.iter().all(|m| s.contains(m)));

        let mut t = SetValue::new();
        t.insert(b"a");
        t.insert(&[b'y'; 64]);
        assert_eq!(t.encoding(), "listpack");
        t.insert(&[b'y'; 65]);
        assert_eq!(t.encoding(), "hashtable");
    }

    #[test]
    fn pops_and_removes_in_every_representation() {
        for seed in [&["1", "2", "3"][..], &["a", "b", "3"], &["x".repeat(70).leak() as &str, "b", "c"]]
        {
            let mut s: SetValue = seed.iter().map(|m| Elem::Borrowed(m.as_bytes())).collect();
            assert!(s.remove(seed[1].as_bytes()));
            assert!(!s.remove(seed[1].as_bytes()));
            assert!(!s.remove(b"nope"));
            let mut popped = vec![s.pop_random().unwrap(), s.pop_random().unwrap()];
            popped.sort();
            let mut want = vec![Bytes::from(seed[0]), Bytes::from(seed[2])];
            want.sort();
            assert_eq!(popped, want);
            assert_eq!(s.pop_random(), None);
            assert!(s.is_empty());
        }
    }

    #[test]
    fn random_members_and_equality() {
        let a: SetValue = ["1", "2", "3"].iter().map(|m| Elem::Borrowed(m.as_bytes())).collect();
        let mut b = SetValue::new();
        b.insert(&[b'z'; 100]);
        for m in ["3", "2", "1"] {
            b.insert(m.as_bytes());
        }
        b.remove(&[b'z'; 100]);
        assert_eq!(b.encoding(), "hashtable");
        assert_eq!(a, b);
        let all: Vec<Bytes> = a.random_members(10, true).into_iter().map(Elem::to_bytes).collect();
        assert_eq!(all, vec![Bytes::from("1"), "2".into(), "3".into()]);
        let some = b.random_members(2, true);
        assert_eq!(some.len(), 2);
        assert_eq!(a.random_members(7, false).len(), 7);
        assert!(a.random_members(7, false).iter().all(|&e| a.contains_elem(e)));
    }

    #[test]
    fn mem_usage_and_size() {
        assert!(std::mem::size_of::<SetValue>() <= 32);
        let mut s = SetValue::new();
        for i in 0..1000 {
            s.insert(format!("member:{i}").as_bytes());
        }
        assert!(s.mem_usage() > 1000 * 32, "{}", s.mem_usage());
        let ints: SetValue = (0..100).map(Elem::Int).collect();
        assert_eq!(ints.encoding(), "intset");
        assert!(ints.mem_usage() >= 800);
    }
}
