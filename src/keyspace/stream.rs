//! Streams: entries in packed nodes, consumer groups with their pending entries lists.
//!
//! As Redis keeps a stream in a radix tree of listpacks, this one keeps a B-tree of packed
//! nodes keyed by each node's first (master) ID: a node holds up to 100 entries (deleted ones
//! included) or about 4 KB, each entry one run of bytes: a flags byte, the ID as varint
//! deltas from the master ID, then varint-prefixed fields and values. Deleting an entry sets
//! its flag, and a node goes when its last live entry does, as in Redis: node boundaries,
//! and so `MAXLEN ~`/`MINID ~` trimming, follow Redis's as long as entries are small (Redis
//! also starts a node at 4096 listpack bytes, which this layout only approximates).

use super::memory::{bytes_heap, malloc_size};
use crate::bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// Most entries (live or deleted) in one node (`stream-node-max-entries`).
pub(crate) const NODE_MAX_ENTRIES: usize = 100;
/// Bytes past which a new node starts (`stream-node-max-bytes`).
pub(crate) const NODE_MAX_BYTES: usize = 4096;
const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;

/// A stream entry ID: milliseconds and sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID, `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// `ms-seq`.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, None past the last.
    pub fn next(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            (self.ms != u64::MAX).then(|| StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, None before the first.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq == 0 {
            (self.ms != 0).then(|| StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = buf[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// Reads one field/value pair at `p` as (start, length) spans of `buf`: the field's from the
/// buffer, or `same` when the entry reuses its node's first field names; then the value's.
fn read_pair(
    buf: &[u8],
    p: &mut usize,
    same: Option<(usize, usize)>,
) -> ((usize, usize), (usize, usize)) {
    let field = same.unwrap_or_else(|| {
        let len = get_varint(buf, p) as usize;
        *p += len;
        (*p - len, len)
    });
    let len = get_varint(buf, p) as usize;
    *p += len;
    (field, (*p - len, len))
}

/// One packed node.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    buf: Vec<u8>,
    /// Entries, deleted ones included.
    count: u16,
    live: u16,
    /// The last entry's ID (deleted or not).
    last: StreamId,
}

/// An entry's place in a node, read without its fields.
#[derive(Clone, Copy)]
struct Lite {
    flags: u8,
    id: StreamId,
    /// Where its fields start.
    body: usize,
    n: usize,
}

/// An entry as read from a node: where it starts (its flags byte), its ID, and its fields.
struct Raw {
    at: usize,
    deleted: bool,
    id: StreamId,
    fields: Vec<(usize, usize, usize, usize)>,
}

impl Node {
    fn entries(&self, master: StreamId) -> Vec<Raw> {
        let mut out: Vec<Raw> = Vec::with_capacity(usize::from(self.count));
        let mut p = 0;
        while p < self.buf.len() {
            let at = p;
            let flags = self.buf[p];
            p += 1;
            let ms = master.ms + get_varint(&self.buf, &mut p);
            let seq = get_varint(&self.buf, &mut p);
            let n = get_varint(&self.buf, &mut p) as usize;
            let mut fields = Vec::with_capacity(n);
            for k in 0..n {
                // An entry with the node's first field names stores only its values.
                let same = (flags & SAME_FIELDS != 0).then(|| {
                    let f = out[0].fields[k];
                    (f.0, f.1)
                });
                let ((fs, fl), (vs, vl)) = read_pair(&self.buf, &mut p, same);
                fields.push((fs, fl, vs, vl));
            }
            out.push(Raw { at, deleted: flags & DELETED != 0, id: StreamId::new(ms, seq), fields });
        }
        out
    }

    /// Walks the entries front to back without building their field lists; `f` returns
    /// false to stop.
    fn walk(&self, master: StreamId, mut f: impl FnMut(&Lite) -> bool) {
        let mut p = 0;
        while p < self.buf.len() {
            let flags = self.buf[p];
            p += 1;
            let ms = master.ms + get_varint(&self.buf, &mut p);
            let seq = get_varint(&self.buf, &mut p);
            let n = get_varint(&self.buf, &mut p) as usize;
            let body = p;
            for _ in 0..n {
                if flags & SAME_FIELDS == 0 {
                    let fl = get_varint(&self.buf, &mut p) as usize;
                    p += fl;
                }
                let vl = get_varint(&self.buf, &mut p) as usize;
                p += vl;
            }
            if !f(&Lite { flags, id: StreamId::new(ms, seq), body, n }) {
                return;
            }
        }
    }

    /// Where the first entry's field names are (entries flagged with the same fields use
    /// them).
    fn names(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if self.buf.is_empty() {
            return out;
        }
        let mut p = 1;
        get_varint(&self.buf, &mut p);
        get_varint(&self.buf, &mut p);
        let n = get_varint(&self.buf, &mut p) as usize;
        for _ in 0..n {
            let fl = get_varint(&self.buf, &mut p) as usize;
            out.push((p, fl));
            p += fl;
            let vl = get_varint(&self.buf, &mut p) as usize;
            p += vl;
        }
        out
    }

    /// An entry's field/value pairs, copied out.
    fn fields(&self, e: &Lite, names: &[(usize, usize)]) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::with_capacity(e.n);
        let mut p = e.body;
        for k in 0..e.n {
            let same = (e.flags & SAME_FIELDS != 0).then(|| names.get(k).copied().unwrap_or((0, 0)));
            let ((fs, fl), (vs, vl)) = read_pair(&self.buf, &mut p, same);
            out.push((
                Bytes::copy_from(&self.buf[fs..fs + fl]),
                Bytes::copy_from(&self.buf[vs..vs + vl]),
            ));
        }
        out
    }

    /// The field names of the node's first entry, if they are `fields`' (then an entry
    /// need not repeat them, as Redis's master entry saves them).
    fn same_fields(&self, fields: &[(&[u8], &[u8])]) -> bool {
        if self.count == 0 {
            return false;
        }
        let mut p = 1;
        get_varint(&self.buf, &mut p);
        get_varint(&self.buf, &mut p);
        if get_varint(&self.buf, &mut p) as usize != fields.len() {
            return false;
        }
        for (f, _) in fields {
            let fl = get_varint(&self.buf, &mut p) as usize;
            if self.buf[p..p + fl] != **f {
                return false;
            }
            p += fl;
            let vl = get_varint(&self.buf, &mut p) as usize;
            p += vl;
        }
        true
    }

    fn push(&mut self, master: StreamId, id: StreamId, fields: &[(&[u8], &[u8])]) {
        let same = self.same_fields(fields);
        self.buf.push(if same { SAME_FIELDS } else { 0 });
        put_varint(&mut self.buf, id.ms - master.ms);
        put_varint(&mut self.buf, id.seq);
        put_varint(&mut self.buf, fields.len() as u64);
        for (f, v) in fields {
            if !same {
                put_varint(&mut self.buf, f.len() as u64);
                self.buf.extend_from_slice(f);
            }
            put_varint(&mut self.buf, v.len() as u64);
            self.buf.extend_from_slice(v);
        }
        self.count += 1;
        self.live += 1;
        self.last = id;
    }
}

/// One stream entry: its ID and its field/value pairs.
pub type StreamEntry = (StreamId, Vec<(Bytes, Bytes)>);
pub(crate) type Entry = StreamEntry;

/// A pending entry: delivered to a consumer, not yet acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Nack {
    pub(crate) consumer: Bytes,
    /// Unix ms of the last delivery.
    pub(crate) delivery_time: u64,
    pub(crate) delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Consumer {
    /// Unix ms the consumer was last active.
    pub(crate) seen_time: u64,
    pub(crate) pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Group {
    pub(crate) last_id: StreamId,
    /// Entries read, or -1 when unknown (Redis's `SCG_INVALID_ENTRIES_READ`).
    pub(crate) entries_read: i64,
    pub(crate) pel: BTreeMap<StreamId, Nack>,
    /// By name, as Redis's radix tree orders them.
    pub(crate) consumers: BTreeMap<Bytes, Consumer>,
}

/// A stream value.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    /// Heap bytes of the nodes' buffers, kept as they change (accounting runs after every
    /// write, so it must not walk the nodes).
    node_bytes: usize,
    len: u64,
    pub(crate) last_id: StreamId,
    /// Redis's `first_id` (`recorded-first-entry-id`).
    pub(crate) first_id: StreamId,
    pub(crate) max_deleted: StreamId,
    pub(crate) entries_added: u64,
    /// By name, as Redis's radix tree orders them.
    pub(crate) groups: BTreeMap<Bytes, Group>,
}

/// How `XADD`/`XTRIM` trim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries below this ID.
    MinId(StreamId),
}

impl StreamValue {
    /// An empty stream.
    pub(crate) fn new() -> StreamValue {
        StreamValue::default()
    }

    /// Live entries.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Packed nodes (what `XINFO STREAM` reports as radix-tree keys).
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry with `id` (greater than the last ID: the caller checks).
    pub(crate) fn append(&mut self, id: StreamId, fields: &[(&[u8], &[u8])]) {
        let size: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
        let room = self.nodes.last_key_value().is_some_and(|(_, n)| {
            usize::from(n.count) < NODE_MAX_ENTRIES && n.buf.len() + size < NODE_MAX_BYTES
        });
        if !room {
            self.nodes.insert(id, Node { buf: Vec::new(), count: 0, live: 0, last: id });
        }
        let mut last = self.nodes.last_entry().expect("a node exists");
        let master = *last.key();
        let before = malloc_size(last.get().buf.capacity());
        last.get_mut().push(master, id, fields);
        self.node_bytes = self.node_bytes - before + malloc_size(last.get().buf.capacity());
        self.len += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.len == 1 {
            self.first_id = id;
        }
    }

    /// Calls `f` with each live entry from `start` to `end` (inclusive), backwards if `rev`,
    /// until it returns false.
    pub(crate) fn scan(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(Entry) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            let first = self.nodes.range(..=start).next_back().map(|(k, _)| *k).unwrap_or(start);
            for (master, node) in self.nodes.range(first..) {
                if *master > end {
                    return;
                }
                if node.last < start {
                    continue;
                }
                let mut names = None;
                let mut go = true;
                node.walk(*master, |e| {
                    if e.flags & DELETED != 0 || e.id < start {
                        return true;
                    }
                    if e.id > end {
                        go = false;
                        return false;
                    }
                    let names = names.get_or_insert_with(|| node.names());
                    go = f((e.id, node.fields(e, names)));
                    go
                });
                if !go {
                    return;
                }
            }
        } else {
            for (master, node) in self.nodes.range(..=end).rev() {
                if node.last < start {
                    return;
                }
                let mut all = Vec::with_capacity(usize::from(node.count));
                node.walk(*master, |e| {
                    all.push(*e);
                    true
                });
                let mut names = None;
                for e in all.iter().rev() {
                    if e.flags & DELETED != 0 || e.id > end {
                        continue;
                    }
                    if e.id < start {
                        return;
                    }
                    let names = names.get_or_insert_with(|| node.names());
                    if !f((e.id, node.fields(e, names))) {
                        return;
                    }
                }
            }
        }
    }

    /// Live entries from `start` to `end`, at most `count` (0: all).
    pub(crate) fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        self.scan(start, end, rev, |e| {
            out.push(e);
            count == 0 || out.len() < count
        });
        out
    }

    /// The entry at `id`, if live.
    pub(crate) fn get(&self, id: StreamId) -> Option<Entry> {
        self.range(id, id, false, 1).pop()
    }

    /// The first or last live ID (None when empty).
    pub(crate) fn edge(&self, first: bool) -> Option<StreamId> {
        let mut found = None;
        self.scan(StreamId::MIN, StreamId::MAX, !first, |(id, _)| {
            found = Some(id);
            false
        });
        found
    }

    /// Marks the entry at `id` deleted; false if there is no live one. A node whose last
    /// live entry goes is dropped.
    fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else { return false };
        let Some(raw) = node.entries(master).into_iter().find(|r| r.id == id && !r.deleted) else {
            return false;
        };
        if node.live == 1 {
            let node = self.nodes.remove(&master).expect("found");
            self.node_bytes -= malloc_size(node.buf.capacity());
        } else {
            node.buf[raw.at] |= DELETED;
            node.live -= 1;
        }
        self.len -= 1;
        true
    }

    /// `XDEL`: deletes the entries at `ids`; returns how many existed.
    pub(crate) fn xdel(&mut self, ids: &[StreamId]) -> usize {
        let (mut deleted, mut first) = (0, false);
        for &id in ids {
            if self.delete(id) {
                first |= id == self.first_id;
                if id > self.max_deleted {
                    self.max_deleted = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.len == 0 {
                self.first_id = StreamId::MIN;
            } else if first {
                self.first_id = self.edge(true).unwrap_or(StreamId::MAX);
            }
        }
        deleted
    }

    /// Redis's `streamTrim`: whole nodes first; with `approx`, only whole nodes; `limit`
    /// (0: none) caps the entries removed by whole nodes. Returns how many went.
    pub(crate) fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some((&master, node)) = self.nodes.first_key_value() {
            if let Trim::MaxLen(max) = how {
                if self.len <= max {
                    break;
                }
            }
            let entries = u64::from(node.live);
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove = match how {
                Trim::MaxLen(max) => self.len - entries >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove {
                let node = self.nodes.remove(&master).expect("first node");
                self.node_bytes -= malloc_size(node.buf.capacity());
                self.len -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let node = self.nodes.get_mut(&master).expect("first node");
            let mut from_node = 0;
            for raw in node.entries(master) {
                let stop = match how {
                    Trim::MaxLen(max) => self.len <= max,
                    Trim::MinId(min) => raw.id >= min,
                };
                if stop {
                    break;
                }
                if !raw.deleted {
                    node.buf[raw.at] |= DELETED;
                    from_node += 1;
                    self.len -= 1;
                }
            }
            node.live -= from_node;
            deleted += u64::from(from_node);
            break;
        }
        if self.len == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge(true).unwrap_or(StreamId::MAX);
        }
        deleted
    }

    /// True if some deleted entry lies from `start` on (to `end`, if given): Redis's
    /// `streamRangeHasTombstones`, which decides whether a group's read counter stays valid.
    pub(crate) fn range_has_tombstones(&self, start: StreamId, end: Option<StreamId>) -> bool {
        if self.len == 0 || self.max_deleted == StreamId::MIN || self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end.unwrap_or(StreamId::MAX)
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the entries-read counter an ID
    /// stands for, or -1 if it cannot be known.
    pub(crate) fn distance_from_first(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.len == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return -1;
        }
        if self.max_deleted == StreamId::MIN || self.max_deleted < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.len) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.len + 1) as i64;
            }
        }
        -1
    }

    /// Heap bytes, for memory accounting: node buffers and tree slots, groups, consumers and
    /// pending entries.
    pub(crate) fn mem_usage(&self) -> usize {
        use std::mem::size_of;
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| {
                bytes_heap(name.len())
                    + tree_bytes(g.pel.len(), size_of::<(StreamId, Nack)>())
                    + tree_bytes(g.consumers.len(), size_of::<(Bytes, Consumer)>())
                    + g.consumers
                        .iter()
                        .map(|(c, cons)| {
                            bytes_heap(c.len()) + tree_bytes(cons.pel.len(), size_of::<StreamId>())
                        })
                        .sum::<usize>()
            })
            .sum();
        self.node_bytes
            + tree_bytes(self.nodes.len(), size_of::<(StreamId, Node)>())
            + tree_bytes(self.groups.len(), size_of::<(Bytes, Group)>())
            + groups
    }
}

/// Heap bytes of a std B-tree of `len` elements of `elem` bytes: leaves of 11 slots about
/// two thirds full, and an internal node (with 12 edges) per 11 leaves.
fn tree_bytes(len: usize, elem: usize) -> usize {
    const CAP: usize = 11;
    if len == 0 {
        return 0;
    }
    let leaf = malloc_size(16 + CAP * elem);
    let leaves = if len <= CAP { 1 } else { (len * 3).div_ceil(CAP * 2) };
    let internal =
        if leaves > 1 { leaves.div_ceil(CAP) * (leaf + malloc_size((CAP + 1) * 8)) } else { 0 };
    leaves * leaf + internal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    #[test]
    fn nodes_split_delete_and_trim_as_redis() {
        let mut s = StreamValue::new();
        for i in 1..=250 {
            s.append(id(i, 0), &[(b"f", b"v")]);
        }
        assert_eq!((s.len(), s.node_count()), (250, 3), "100 entries a node");
        assert_eq!(s.range(id(0, 0), StreamId::MAX, false, 0).len(), 250);
        assert_eq!(
            s.range(id(99, 0), id(102, 5), true, 0).iter().map(|e| e.0.ms).collect::<Vec<_>>(),
            vec![102, 101, 100, 99]
        );
        assert_eq!(s.xdel(&[id(1, 0), id(1, 0), id(7, 7)]), 1);
        assert_eq!(s.first_id, id(2, 0));
        // Approximate trimming drops whole nodes only: 249 live, at least 120 kept.
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 99);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.edge(true), Some(id(131, 0)));
        assert_eq!(s.trim(Trim::MinId(id(200, 0)), false, 0), 69);
        assert_eq!(s.first_id, id(200, 0));
        let all: Vec<u64> =
            s.range(StreamId::MIN, StreamId::MAX, false, 3).iter().map(|e| e.0.ms).collect();
        assert_eq!(all, vec![200, 201, 202]);
        let e = s.get(id(250, 0)).unwrap();
        assert_eq!(&e.1[0].1[..], b"v");
    }
}
