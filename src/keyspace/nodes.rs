//! The hash table inside each slot's [`Table`](super::Table): one pointer per bucket, each to a
//! node that holds the key and its [`Entry`].
//!
//! Why nodes and not keys and entries in the buckets: a node keeps one table per slot it holds,
//! so a cache of a few hundred thousand keys has only about ten keys per table, and a small
//! hash table runs between 44% and 87% full. With entries in the buckets, the empty ones cost
//! as much as the full ones; with 8-byte pointers they cost almost nothing, and each key pays
//! for exactly one allocation that holds its key, its entry and (up to
//! [`INLINE_STR`](super::value::INLINE_STR) bytes) its string value. That allocation is sized
//! to a malloc size class (128 bytes), so no byte of it is rounding waste.

use super::key::Key;
use super::memory::malloc_size;
use super::{scan_hash, Entry};
use hashbrown::HashTable;
use std::mem::size_of;

/// One key and its entry, in one allocation: the key, the deadline and the access stamp in
/// the first 40 bytes, then the value.
#[derive(Debug, Clone)]
#[repr(C)]
struct Node {
    key: Key,
    entry: Entry,
}

// 120 bytes plus malloc's 8-byte header fill a 128-byte chunk exactly.
const _: () = assert!(size_of::<Node>() == 120);

/// Heap bytes of one node (the key's and value's own allocations, if any, are extra).
pub(crate) const NODE_BYTES: usize = 128;
const _: () = assert!(malloc_size(size_of::<Node>()) == NODE_BYTES);

/// A slot's keys and entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nodes(HashTable<Box<Node>>);

// The hash is recomputed from the node when the buckets grow or shrink, rather than kept:
// that is rare, and a stored hash would cost every key 8 bytes.
#[allow(clippy::borrowed_box)] // hashbrown hands the stored `Box` to the hasher.
fn rehash(n: &Box<Node>) -> u64 {
    scan_hash(&n.key)
}

impl Nodes {
    /// Keys stored.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Heap bytes of the bucket array (pointers and control bytes), nodes not included.
    pub(crate) fn bucket_bytes(&self) -> usize {
        let cap = self.0.capacity();
        // hashbrown's sizing: up to 7 items in cap + 1 buckets, then 7/8 full at most, in a
        // power of two; a control byte per bucket plus one 16-byte group of padding.
        let buckets = match cap {
            0 => return 0,
            1..=7 => cap + 1,
            _ => (cap * 8 / 7).next_power_of_two(),
        };
        malloc_size(buckets * (size_of::<Box<Node>>() + 1) + 16)
    }

    /// Bytes one key adds besides its value's own heap: its node and about one bucket.
    pub(crate) fn per_key_bytes() -> usize {
        NODE_BYTES + (size_of::<Box<Node>>() + 1) * 8 / 7
    }

    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.0.find(scan_hash(key), |n| *n.key == *key).map(|n| &n.entry)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.0.find_mut(scan_hash(key), |n| *n.key == *key).map(|n| &mut n.entry)
    }

    /// Adds a key the table does not hold (the caller checked).
    pub(crate) fn insert_new(&mut self, key: &[u8], entry: Entry) {
        let node = Box::new(Node { key: Key::from(key), entry });
        self.0.insert_unique(scan_hash(key), node, rehash);
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let found = self.0.find_entry(scan_hash(key), |n| *n.key == *key).ok()?;
        Some(found.remove().0.entry)
    }

    /// Every key and entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.0.iter().map(|n| (&n.key, &n.entry))
    }

    /// Room for how many keys the buckets have.
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Shrinks the buckets to hold at least `min` keys.
    pub(crate) fn shrink_to(&mut self, min: usize) {
        self.0.shrink_to(min, rehash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Str, Value};

    fn entry(v: &str) -> Entry {
        Entry { value: Value::Str(Str::from(v)), expire_at: 0, cost: 0, stamp: Default::default() }
    }

    #[test]
    fn nodes_store_find_and_remove() {
        let mut t = Nodes::default();
        assert_eq!(t.bucket_bytes(), 0, "an empty table allocates nothing");
        let long = [b'k'; 40];
        for i in 0..100u32 {
            t.insert_new(format!("k{i}").as_bytes(), entry(&i.to_string()));
        }
        t.insert_new(&long, entry("long"));
        assert_eq!(t.len(), 101);
        assert!(matches!(&t.get(b"k42").unwrap().value, Value::Str(s) if **s == *b"42"));
        assert!(matches!(&t.get(&long).unwrap().value, Value::Str(s) if **s == *b"long"));
        t.get_mut(b"k7").unwrap().value = Value::Str(Str::from("seven"));
        assert!(matches!(&t.get(b"k7").unwrap().value, Value::Str(s) if **s == *b"seven"));
        assert!(t.get(b"k100").is_none());
        assert!(matches!(t.remove(b"k3").unwrap().value, Value::Str(s) if *s == *b"3"));
        assert!(t.remove(b"k3").is_none());
        assert_eq!(t.iter().count(), 100);
        for i in 0..100u32 {
            t.remove(format!("k{i}").as_bytes());
        }
        t.shrink_to(1);
        assert_eq!(t.len(), 1);
        assert!(t.get(&long).is_some(), "survives the rehash of a shrink");
    }
}
