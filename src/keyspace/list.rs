//! List values.
//!
//! Three representations. A small list lives in one buffer ([`Packed`]) while it has at most
//! [`ListValue::MAX_PACKED_LEN`] elements of at most [`ListValue::MAX_PACKED_BYTES`] bytes
//! each, which costs a few bytes per element instead of an allocation each. A longer list of
//! short elements becomes a ring of such buffers ([`Chunks`]), as Redis's quicklist is a list
//! of listpack nodes: about 20 bytes per 16-byte element where a deque of shared strings took
//! 74 (Redis: 18). A list with an element too long to pack is a deque of shared strings
//! ([`Deque`]), where pops and ranges hand out reference-counted elements without copying.
//! A list that shrinks to half the packed limit with only short elements is packed again
//! (Redis 7.2 does the same); the gap between the two limits keeps a list at the edge from
//! converting back and forth on every push and pop. All keep push and pop O(1) (amortized) at
//! either end; an index in a chunked list is found by walking its nodes, as in Redis.

use super::memory::{bytes_heap, malloc_size};
use crate::bytes::Bytes;
use std::collections::VecDeque;
use std::fmt;
use std::iter::once;
use std::mem::size_of;

/// An end of a list: Redis's `LEFT` (the head, index 0, where `LPUSH` adds) or `RIGHT` (the
/// tail, index -1, where `RPUSH` adds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListEnd {
    /// The head of the list.
    Left,
    /// The tail of the list.
    Right,
}

/// A list of byte strings. Never empty while stored: commands delete a key whose list they
/// empty, as Redis does.
#[derive(Clone, Default)]
pub(crate) struct ListValue {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Packed(Packed),
    /// A long list of short elements. Boxed, as the deque, so every stored value stays 32 bytes.
    Chunks(Box<Chunks>),
    /// Boxed so that a list value, and with it every stored value, stays 32 bytes.
    Deque(Box<Deque>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

// ----- the packed representation -----

/// Bytes of framing around each packed element: its length before it and again after it, so
/// the buffer can be walked from either end (as a listpack's back-length).
const FRAME: usize = 2;

/// A small list in one buffer. Elements are framed as `[len][bytes][len]` (a length fits a
/// byte since packed elements are short) from `head` to the end of `buf`; the bytes before
/// `head` are room for pushes on the left, the spare capacity after the end room for pushes
/// on the right.
#[derive(Clone, Default)]
struct Packed {
    buf: Vec<u8>,
    head: u32,
    len: u32,
}

impl Packed {
    fn len(&self) -> usize {
        self.len as usize
    }

    fn head(&self) -> usize {
        self.head as usize
    }

    fn data_len(&self) -> usize {
        self.buf.len() - self.head()
    }

    /// The element framed at byte `pos`, and the position after it.
    fn next_at(buf: &[u8], pos: usize) -> (&[u8], usize) {
        let n = usize::from(buf[pos]);
        (&buf[pos + 1..pos + 1 + n], pos + n + FRAME)
    }

    /// The element whose frame ends at byte `end`, and the position where its frame starts.
    fn prev_at(buf: &[u8], end: usize) -> (&[u8], usize) {
        let n = usize::from(buf[end - 1]);
        let start = end - n - FRAME;
        (&buf[start + 1..end - 1], start)
    }

    fn frame(v: &[u8]) -> impl Iterator<Item = u8> + '_ {
        let n = v.len() as u8;
        once(n).chain(v.iter().copied()).chain(once(n))
    }

    /// The byte position of element `index` (`len` gives the end of the data), walking from
    /// the nearer end.
    fn offset(&self, index: usize) -> usize {
        if index <= self.len() / 2 {
            (0..index).fold(self.head(), |pos, _| Self::next_at(&self.buf, pos).1)
        } else {
            (index..self.len()).fold(self.buf.len(), |pos, _| Self::prev_at(&self.buf, pos).1)
        }
    }

    /// Makes at least `front` free bytes before the data and `back` after it. When either side
    /// lacks room, the data is laid out again with slack proportional to its size on the side
    /// that grows, so a run of pushes moves each byte O(1) times on average; each side keeps up
    /// to that much of the room it had, so alternating ends does not relayout every time, and a
    /// queue (push at one end, pop at the other) slides its data back instead of growing.
    fn make_room(&mut self, front: usize, back: usize) {
        let spare = self.buf.capacity() - self.buf.len();
        if self.head() >= front && spare >= back {
            return;
        }
        let slack = self.data_len() / 2 + 8;
        let new_head = if front > 0 { front + slack } else { self.head().min(slack) };
        let new_back = if back > 0 { back + slack } else { spare.min(slack) };
        self.relayout(new_head, new_back, false);
    }

    /// Moves the data to start at `new_head` with `new_back` spare bytes after it, in the same
    /// allocation when it fits (unless `shrink` asks for a smaller one).
    fn relayout(&mut self, new_head: usize, new_back: usize, shrink: bool) {
        let (head, data) = (self.head(), self.data_len());
        let needed = new_head + data + new_back;
        if needed <= self.buf.capacity() && !shrink {
            if new_head < head {
                self.buf.copy_within(head.., new_head);
                self.buf.truncate(new_head + data);
            } else if new_head > head {
                self.buf.resize(new_head + data, 0);
                self.buf.copy_within(head..head + data, new_head);
            }
        } else {
            let mut buf = Vec::with_capacity(needed);
            buf.resize(new_head, 0);
            buf.extend_from_slice(&self.buf[head..]);
            self.buf = buf;
        }
        self.head = new_head as u32;
    }

    /// Tidies up after elements left: an empty buffer starts over, and one mostly empty is
    /// reallocated smaller so that a list which once was long does not keep its memory.
    fn shrunk(&mut self) {
        if self.len == 0 {
            self.buf.clear();
            self.head = 0;
        }
        let data = self.data_len();
        if self.buf.capacity() > 4 * data + 64 {
            let slack = data / 2 + 8;
            let spare = self.buf.capacity() - self.buf.len();
            self.relayout(self.head().min(slack), spare.min(slack), true);
        }
    }

    fn push(&mut self, end: ListEnd, v: &[u8]) {
        debug_assert!(v.len() <= ListValue::MAX_PACKED_BYTES);
        let size = v.len() + FRAME;
        match end {
            ListEnd::Left => {
                self.make_room(size, 0);
                let at = self.head() - size;
                self.buf[at] = v.len() as u8;
                self.buf[at + 1..at + size - 1].copy_from_slice(v);
                self.buf[at + size - 1] = v.len() as u8;
                self.head = at as u32;
            }
            ListEnd::Right => {
                self.make_room(0, size);
                self.buf.extend(Self::frame(v));
            }
        }
        self.len += 1;
    }

    fn pop(&mut self, end: ListEnd) -> Option<Bytes> {
        if self.len == 0 {
            return None;
        }
        let v = match end {
            ListEnd::Left => {
                let (v, next) = Self::next_at(&self.buf, self.head());
                let v = Bytes::copy_from(v);
                self.head = next as u32;
                v
            }
            ListEnd::Right => {
                let (v, start) = Self::prev_at(&self.buf, self.buf.len());
                let v = Bytes::copy_from(v);
                self.buf.truncate(start);
                v
            }
        };
        self.len -= 1;
        self.shrunk();
        Some(v)
    }

    fn get(&self, index: usize) -> &[u8] {
        Self::next_at(&self.buf, self.offset(index)).0
    }

    fn set(&mut self, index: usize, v: &[u8]) {
        let pos = self.offset(index);
        let next = Self::next_at(&self.buf, pos).1;
        self.buf.splice(pos..next, Self::frame(v));
    }

    /// Inserts `v` so that it becomes element `index` (at most `len`).
    fn insert(&mut self, index: usize, v: &[u8]) {
        if index == 0 {
            return self.push(ListEnd::Left, v);
        }
        if index == self.len() {
            return self.push(ListEnd::Right, v);
        }
        let pos = self.offset(index);
        self.buf.splice(pos..pos, Self::frame(v));
        self.len += 1;
    }

    /// Keeps elements `start..end` only.
    fn trim(&mut self, start: usize, end: usize) {
        let (from, to) = (self.offset(start), self.offset(end));
        self.buf.truncate(to);
        self.head = from as u32;
        self.len = (end - start) as u32;
        self.shrunk();
    }

    /// Removes the elements at `indexes` (ascending, distinct), closing the gaps in place.
    fn remove_indexes(&mut self, indexes: &[usize]) {
        let (mut read, mut write) = (self.head(), self.head());
        let mut doomed = indexes.iter().peekable();
        for i in 0..self.len() {
            let next = Self::next_at(&self.buf, read).1;
            if doomed.peek() == Some(&&i) {
                doomed.next();
            } else {
                self.buf.copy_within(read..next, write);
                write += next - read;
            }
            read = next;
        }
        self.buf.truncate(write);
        self.len -= indexes.len() as u32;
        self.shrunk();
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter { buf: &self.buf, front: self.head(), back: self.buf.len(), left: self.len() }
    }
}

/// The elements of a [`Packed`] list, from either end.
#[derive(Clone)]
struct PackedIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (v, next) = Packed::next_at(self.buf, self.front);
        self.front = next;
        self.left -= 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for PackedIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (v, start) = Packed::prev_at(self.buf, self.back);
        self.back = start;
        self.left -= 1;
        Some(v)
    }
}

impl ExactSizeIterator for PackedIter<'_> {}

// ----- the chunked representation -----

/// Elements per node of a chunked list (a new node starts when an end node is this full).
const NODE_LEN: usize = 128;

/// A long list of short elements, as Redis's quicklist: a ring of packed nodes of up to
/// [`NODE_LEN`] elements each, so an element costs its bytes and two of framing, not an
/// allocation of its own. Pushes and pops at either end stay O(1); an index is found by
/// walking the nodes from the nearer end, as Redis walks its quicklist.
#[derive(Clone, Default)]
struct Chunks {
    nodes: VecDeque<Packed>,
    len: usize,
    /// Heap bytes of the nodes' buffers, kept so `mem_usage` is O(1).
    heap: usize,
}

fn node_heap(p: &Packed) -> usize {
    malloc_size(p.buf.capacity())
}

impl Chunks {
    /// A chunked list whose first node is `p`.
    fn from_packed(p: Packed) -> Chunks {
        Chunks { len: p.len(), heap: node_heap(&p), nodes: VecDeque::from([p]) }
    }

    /// Runs `f` on node `i`, keeping the totals, and drops the node if it emptied.
    fn with_node<R>(&mut self, i: usize, f: impl FnOnce(&mut Packed) -> R) -> R {
        let p = &mut self.nodes[i];
        let (heap, len) = (node_heap(p), p.len());
        let r = f(p);
        self.heap = self.heap + node_heap(p) - heap;
        self.len = self.len + p.len() - len;
        if p.len() == 0 {
            self.heap -= node_heap(p);
            self.nodes.remove(i);
        }
        r
    }

    /// The node holding element `index` (< `len`) and its place in that node, walking from
    /// the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut base = 0;
            for (n, p) in self.nodes.iter().enumerate() {
                if index < base + p.len() {
                    return (n, index - base);
                }
                base += p.len();
            }
        } else {
            let mut end = self.len;
            for (n, p) in self.nodes.iter().enumerate().rev() {
                if index >= end - p.len() {
                    return (n, index - (end - p.len()));
                }
                end -= p.len();
            }
        }
        unreachable!("index {index} past a list of {}", self.len)
    }

    fn push(&mut self, end: ListEnd, v: &[u8]) {
        let i = match end {
            ListEnd::Left => {
                if self.nodes.front().map_or(true, |p| p.len() >= NODE_LEN) {
                    self.nodes.push_front(Packed::default());
                }
                0
            }
            ListEnd::Right => {
                if self.nodes.back().map_or(true, |p| p.len() >= NODE_LEN) {
                    self.nodes.push_back(Packed::default());
                }
                self.nodes.len() - 1
            }
        };
        self.with_node(i, |p| p.push(end, v));
    }

    fn pop(&mut self, end: ListEnd) -> Option<Bytes> {
        if self.len == 0 {
            return None;
        }
        let i = match end {
            ListEnd::Left => 0,
            ListEnd::Right => self.nodes.len() - 1,
        };
        let v = self.with_node(i, |p| p.pop(end));
        self.shrunk();
        v
    }

    /// Gives back most of a ring of nodes that emptied a lot.
    fn shrunk(&mut self) {
        let (len, cap) = (self.nodes.len(), self.nodes.capacity());
        if cap > 16 && cap > 4 * len {
            self.nodes.shrink_to(2 * len);
        }
    }

    fn get(&self, index: usize) -> &[u8] {
        let (n, at) = self.locate(index);
        self.nodes[n].get(at)
    }

    fn set(&mut self, index: usize, v: &[u8]) {
        let (n, at) = self.locate(index);
        self.with_node(n, |p| p.set(at, v));
    }

    /// Inserts `v` so that it becomes element `index` (at most `len`); a node grown to twice
    /// [`NODE_LEN`] is split in two, so a walk inside one stays short.
    fn insert(&mut self, index: usize, v: &[u8]) {
        if index == self.len {
            return self.push(ListEnd::Right, v);
        }
        let (n, at) = self.locate(index);
        self.with_node(n, |p| p.insert(at, v));
        if self.nodes[n].len() >= 2 * NODE_LEN {
            let whole = self.nodes.remove(n).expect("located");
            self.heap -= node_heap(&whole);
            let mut halves = [Packed::default(), Packed::default()];
            for (i, v) in whole.iter().enumerate() {
                halves[usize::from(i >= NODE_LEN)].push(ListEnd::Right, v);
            }
            for (k, half) in halves.into_iter().enumerate() {
                self.heap += node_heap(&half);
                self.nodes.insert(n + k, half);
            }
        }
    }

    /// Keeps elements `start..end` only: whole nodes outside go, the two nodes at the edges
    /// are trimmed.
    fn trim(&mut self, start: usize, end: usize) {
        let mut base = 0;
        let nodes = std::mem::take(&mut self.nodes);
        for mut p in nodes {
            let (lo, hi) = (base, base + p.len());
            base = hi;
            let (from, to) = (start.max(lo), end.min(hi));
            if from >= to {
                continue;
            }
            if (from, to) != (lo, hi) {
                p.trim(from - lo, to - lo);
            }
            self.nodes.push_back(p);
        }
        self.recount();
    }

    /// Removes the elements at `indexes` (ascending, distinct, in range), node by node.
    fn remove_indexes(&mut self, indexes: &[usize]) {
        let mut base = 0;
        let mut rest = indexes;
        let nodes = std::mem::take(&mut self.nodes);
        for mut p in nodes {
            let hi = base + p.len();
            let here = rest.partition_point(|&i| i < hi);
            let (mine, later) = rest.split_at(here);
            rest = later;
            if mine.len() < p.len() {
                if !mine.is_empty() {
                    let local: Vec<usize> = mine.iter().map(|i| i - base).collect();
                    p.remove_indexes(&local);
                }
                self.nodes.push_back(p);
            }
            base = hi;
        }
        self.recount();
    }

    /// Sums the totals again after the nodes changed wholesale.
    fn recount(&mut self) {
        self.len = self.nodes.iter().map(Packed::len).sum();
        self.heap = self.nodes.iter().map(node_heap).sum();
        self.shrunk();
    }

    fn iter(&self) -> ChunksIter<'_> {
        ChunksIter { inner: self.nodes.iter().flat_map(Packed::iter), left: self.len }
    }

    /// Elements from `index` on (at most `len`), starting at the node holding it.
    fn iter_from(&self, index: usize) -> impl Iterator<Item = &[u8]> {
        let (n, at) = if index < self.len { self.locate(index) } else { (self.nodes.len(), 0) };
        self.nodes.range(n..).flat_map(Packed::iter).skip(at)
    }

    /// The whole list in one packed buffer.
    fn to_packed(&self) -> Packed {
        let mut p = Packed::default();
        p.make_room(0, self.nodes.iter().map(Packed::data_len).sum());
        for v in self.iter() {
            p.push(ListEnd::Right, v);
        }
        p
    }
}

type NodeIter<'a> = std::iter::FlatMap<
    std::collections::vec_deque::Iter<'a, Packed>,
    PackedIter<'a>,
    fn(&'a Packed) -> PackedIter<'a>,
>;

/// The elements of a [`Chunks`] list, from either end, with an exact count.
#[derive(Clone)]
struct ChunksIter<'a> {
    inner: NodeIter<'a>,
    left: usize,
}

impl<'a> Iterator for ChunksIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let v = self.inner.next()?;
        self.left -= 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for ChunksIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        let v = self.inner.next_back()?;
        self.left -= 1;
        Some(v)
    }
}

impl ExactSizeIterator for ChunksIter<'_> {}

// ----- the deque representation -----

/// A long list: shared strings in a ring buffer.
#[derive(Clone, Default)]
struct Deque {
    items: VecDeque<Bytes>,
    /// Heap bytes of the elements' own allocations, kept so `mem_usage` is O(1).
    heap: usize,
    /// Elements too long to pack; while there is one, the list stays a deque.
    long: usize,
}

impl Deque {
    /// A deque of copies of `items`.
    fn from_iter<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Deque {
        let mut d = Deque { items: VecDeque::with_capacity(items.len() + 1), ..Deque::default() };
        for v in items {
            d.push(ListEnd::Right, Bytes::copy_from(v));
        }
        d
    }

    /// What an element adds to `heap` and `long`.
    fn weigh(v: &[u8]) -> (usize, usize) {
        (bytes_heap(v.len()), usize::from(v.len() > ListValue::MAX_PACKED_BYTES))
    }

    fn added(&mut self, v: &[u8]) {
        let (heap, long) = Self::weigh(v);
        self.heap += heap;
        self.long += long;
    }

    fn removed(&mut self, v: &[u8]) {
        let (heap, long) = Self::weigh(v);
        self.heap -= heap;
        self.long -= long;
    }

    fn push(&mut self, end: ListEnd, v: Bytes) {
        self.added(&v);
        match end {
            ListEnd::Left => self.items.push_front(v),
            ListEnd::Right => self.items.push_back(v),
        }
    }

    fn pop(&mut self, end: ListEnd) -> Option<Bytes> {
        let v = match end {
            ListEnd::Left => self.items.pop_front(),
            ListEnd::Right => self.items.pop_back(),
        }?;
        self.removed(&v);
        self.shrunk();
        Some(v)
    }

    /// Gives back most of a ring that emptied a lot, so a list that once was long does not
    /// keep its memory; halving at a quarter keeps pops amortized O(1).
    fn shrunk(&mut self) {
        let (len, cap) = (self.items.len(), self.items.capacity());
        if cap > 64 && cap > 4 * len {
            self.items.shrink_to(2 * len);
        }
    }

    fn set(&mut self, index: usize, v: Bytes) {
        self.added(&v);
        let old = std::mem::replace(&mut self.items[index], v);
        self.removed(&old);
    }

    fn insert(&mut self, index: usize, v: Bytes) {
        self.added(&v);
        self.items.insert(index, v);
    }

    fn trim(&mut self, start: usize, end: usize) {
        let (mut heap, mut long) = (0, 0);
        for v in self.items.drain(end..) {
            let w = Self::weigh(&v);
            (heap, long) = (heap + w.0, long + w.1);
        }
        for v in self.items.drain(..start) {
            let w = Self::weigh(&v);
            (heap, long) = (heap + w.0, long + w.1);
        }
        self.heap -= heap;
        self.long -= long;
        self.shrunk();
    }

    fn remove_indexes(&mut self, indexes: &[usize]) {
        let (mut i, mut doomed) = (0, indexes.iter().peekable());
        let (mut heap, mut long) = (0, 0);
        self.items.retain(|v| {
            let remove = doomed.peek() == Some(&&i);
            if remove {
                doomed.next();
                let w = Self::weigh(v);
                (heap, long) = (heap + w.0, long + w.1);
            }
            i += 1;
            !remove
        });
        self.heap -= heap;
        self.long -= long;
        self.shrunk();
    }
}

// ----- the list -----

impl ListValue {
    /// Most elements of a packed list (Redis's `list-max-listpack-size` counts bytes, this
    /// counts elements, as the other packed types do: `*-max-listpack-entries`).
    pub(crate) const MAX_PACKED_LEN: usize = 128;
    /// Longest element of a packed list (as `*-max-listpack-value`).
    pub(crate) const MAX_PACKED_BYTES: usize = 64;

    /// An empty list.
    pub(crate) fn new() -> Self {
        ListValue::default()
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Chunks(c) => c.len,
            Repr::Deque(d) => d.items.len(),
        }
    }

    /// True if the list has no elements (a stored list never is).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the list is in its packed form (`OBJECT ENCODING` would say `listpack`).
    #[cfg(test)]
    pub(crate) fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// Changes form before an element of `len` bytes is added, if the current one cannot take
    /// it: a full packed list becomes chunked; a long element makes the list a deque.
    fn make_room_for(&mut self, len: usize) {
        let long = len > Self::MAX_PACKED_BYTES;
        match &mut self.repr {
            Repr::Packed(p) if long => self.repr = Repr::Deque(Box::new(Deque::from_iter(p.iter()))),
            Repr::Packed(p) if p.len() >= Self::MAX_PACKED_LEN => {
                self.repr = Repr::Chunks(Box::new(Chunks::from_packed(std::mem::take(p))));
            }
            Repr::Chunks(c) if long => self.repr = Repr::Deque(Box::new(Deque::from_iter(c.iter()))),
            _ => {}
        }
    }

    /// Packs a chunked list or a deque again once it is short enough, after elements left it.
    fn shrunk(&mut self) {
        if let Repr::Chunks(c) = &self.repr {
            if c.len <= Self::MAX_PACKED_LEN / 2 {
                self.repr = Repr::Packed(c.to_packed());
            }
            return;
        }
        if let Repr::Deque(d) = &self.repr {
            if d.items.len() <= Self::MAX_PACKED_LEN / 2 && d.long == 0 {
                let mut p = Packed::default();
                let bytes: usize = d.items.iter().map(|v| v.len() + FRAME).sum();
                p.make_room(0, bytes);
                for v in &d.items {
                    p.push(ListEnd::Right, v);
                }
                self.repr = Repr::Packed(p);
            }
        }
    }

    /// Adds `v` at `end`.
    pub(crate) fn push(&mut self, end: ListEnd, v: &[u8]) {
        self.make_room_for(v.len());
        match &mut self.repr {
            Repr::Packed(p) => p.push(end, v),
            Repr::Chunks(c) => c.push(end, v),
            Repr::Deque(d) => d.push(end, Bytes::copy_from(v)),
        }
    }

    /// Adds `v` at `end`, keeping the shared string itself when the list is a deque (what
    /// `LMOVE` moves).
    pub(crate) fn push_bytes(&mut self, end: ListEnd, v: Bytes) {
        self.make_room_for(v.len());
        match &mut self.repr {
            Repr::Packed(p) => p.push(end, &v),
            Repr::Chunks(c) => c.push(end, &v),
            Repr::Deque(d) => d.push(end, v),
        }
    }

    /// Removes and returns the element at `end`.
    pub(crate) fn pop(&mut self, end: ListEnd) -> Option<Bytes> {
        let v = match &mut self.repr {
            Repr::Packed(p) => p.pop(end),
            Repr::Chunks(c) => c.pop(end),
            Repr::Deque(d) => d.pop(end),
        };
        self.shrunk();
        v
    }

    /// The element at `index` (from 0 at the head).
    pub(crate) fn get(&self, index: usize) -> Option<Bytes> {
        if index >= self.len() {
            return None;
        }
        Some(match &self.repr {
            Repr::Packed(p) => Bytes::copy_from(p.get(index)),
            Repr::Chunks(c) => Bytes::copy_from(c.get(index)),
            Repr::Deque(d) => d.items[index].clone(),
        })
    }

    /// Replaces the element at `index`; false if there is none.
    pub(crate) fn set(&mut self, index: usize, v: &[u8]) -> bool {
        if index >= self.len() {
            return false;
        }
        if v.len() > Self::MAX_PACKED_BYTES {
            // The list grows no longer, so only the element's size can force the conversion.
            self.make_room_for(v.len());
        }
        match &mut self.repr {
            Repr::Packed(p) => p.set(index, v),
            Repr::Chunks(c) => c.set(index, v),
            Repr::Deque(d) => d.set(index, Bytes::copy_from(v)),
        }
        self.shrunk();
        true
    }

    /// Inserts `v` so that it becomes element `index` (at most `len`).
    pub(crate) fn insert(&mut self, index: usize, v: &[u8]) {
        debug_assert!(index <= self.len());
        self.make_room_for(v.len());
        match &mut self.repr {
            Repr::Packed(p) => p.insert(index, v),
            Repr::Chunks(c) => c.insert(index, v),
            Repr::Deque(d) => d.insert(index, Bytes::copy_from(v)),
        }
    }

    /// Elements `start..end` (clamped to the list).
    pub(crate) fn range(&self, start: usize, end: usize) -> Vec<Bytes> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match &self.repr {
            Repr::Packed(p) => {
                let mut it = p.iter();
                it.front = p.offset(start);
                it.left = end - start;
                it.map(Bytes::copy_from).collect()
            }
            Repr::Chunks(c) => c.iter_from(start).take(end - start).map(Bytes::copy_from).collect(),
            Repr::Deque(d) => d.items.range(start..end).cloned().collect(),
        }
    }

    /// Keeps elements `start..end` only (clamped; an empty range empties the list).
    pub(crate) fn trim(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        let start = start.min(end);
        match &mut self.repr {
            Repr::Packed(p) => p.trim(start, end),
            Repr::Chunks(c) => c.trim(start, end),
            Repr::Deque(d) => d.trim(start, end),
        }
        self.shrunk();
    }

    /// Removes the elements at `indexes`, which must be ascending, distinct and in range.
    pub(crate) fn remove_indexes(&mut self, indexes: &[usize]) {
        debug_assert!(indexes.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(indexes.last().map_or(true, |&i| i < self.len()));
        if indexes.is_empty() {
            return;
        }
        match &mut self.repr {
            Repr::Packed(p) => p.remove_indexes(indexes),
            Repr::Chunks(c) => c.remove_indexes(indexes),
            Repr::Deque(d) => d.remove_indexes(indexes),
        }
        self.shrunk();
    }

    /// The elements from head to tail (reversible, for searches from the tail).
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Packed(p) => IterRepr::Packed(p.iter()),
            Repr::Chunks(c) => IterRepr::Chunks(c.iter()),
            Repr::Deque(d) => IterRepr::Deque(d.items.iter()),
        })
    }

    /// Approximate heap bytes the list holds: the packed buffer, or the deque's ring, box and
    /// elements (each counted whole even when a reply still shares it). O(1).
    pub(crate) fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => malloc_size(p.buf.capacity()),
            Repr::Chunks(c) => {
                malloc_size(size_of::<Chunks>())
                    + malloc_size(c.nodes.capacity() * size_of::<Packed>())
                    + c.heap
            }
            Repr::Deque(d) => {
                malloc_size(size_of::<Deque>())
                    + malloc_size(d.items.capacity() * size_of::<Bytes>())
                    + d.heap
            }
        }
    }
}

/// The elements of a list, borrowed, from either end.
#[derive(Clone)]
pub(crate) struct Iter<'a>(IterRepr<'a>);

#[derive(Clone)]
enum IterRepr<'a> {
    Packed(PackedIter<'a>),
    Chunks(ChunksIter<'a>),
    Deque(std::collections::vec_deque::Iter<'a, Bytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match &mut self.0 {
            IterRepr::Packed(it) => it.next(),
            IterRepr::Chunks(it) => it.next(),
            IterRepr::Deque(it) => it.next().map(|b| &**b),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Packed(it) => it.size_hint(),
            IterRepr::Chunks(it) => it.size_hint(),
            IterRepr::Deque(it) => it.size_hint(),
        }
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        match &mut self.0 {
            IterRepr::Packed(it) => it.next_back(),
            IterRepr::Chunks(it) => it.next_back(),
            IterRepr::Deque(it) => it.next_back().map(|b| &**b),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for ListValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|v| v.escape_ascii().to_string())).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> ListValue {
        let mut l = ListValue::new();
        for v in items {
            l.push(ListEnd::Right, v.as_bytes());
        }
        l
    }

    fn items(l: &ListValue) -> Vec<String> {
        l.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect()
    }

    #[test]
    fn push_pop_both_ends() {
        let mut l = ListValue::new();
        l.push(ListEnd::Left, b"b");
        l.push(ListEnd::Left, b"a");
        l.push(ListEnd::Right, b"c");
        l.push(ListEnd::Right, b"");
        assert_eq!(items(&l), ["a", "b", "c", ""]);
        assert_eq!(l.iter().rev().collect::<Vec<_>>(), [&b""[..], b"c", b"b", b"a"]);
        assert_eq!(l.pop(ListEnd::Right).as_deref(), Some(&b""[..]));
        assert_eq!(l.pop(ListEnd::Left).as_deref(), Some(&b"a"[..]));
        assert_eq!(l.get(1).as_deref(), Some(&b"c"[..]));
        assert_eq!(l.get(2), None);
        assert_eq!(l.len(), 2);
        assert!(l.pop(ListEnd::Left).is_some() && l.pop(ListEnd::Left).is_some());
        assert!(l.is_empty());
        assert_eq!(l.pop(ListEnd::Right), None);
    }

    #[test]
    fn converts_at_the_thresholds_and_back_at_half() {
        let mut l = ListValue::new();
        for i in 0..ListValue::MAX_PACKED_LEN {
            l.push(ListEnd::Right, i.to_string().as_bytes());
        }
        assert!(l.is_packed(), "{} elements stay packed", ListValue::MAX_PACKED_LEN);
        l.push(ListEnd::Left, b"one more");
        assert!(!l.is_packed());
        assert_eq!(l.get(0).as_deref(), Some(&b"one more"[..]));
        assert_eq!(l.get(128).as_deref(), Some(&b"127"[..]));
        while l.len() > ListValue::MAX_PACKED_LEN / 2 + 1 {
            l.pop(ListEnd::Left);
        }
        assert!(!l.is_packed(), "hysteresis: not packed again before half");
        l.pop(ListEnd::Right);
        assert!(l.is_packed());
        assert_eq!(l.len(), 64);
        assert_eq!(l.get(0).as_deref(), Some(&b"63"[..]));
        assert_eq!(l.get(63).as_deref(), Some(&b"126"[..]));

        let mut l = list(&["a", "b"]);
        l.push(ListEnd::Right, &[b'x'; 65]);
        assert!(!l.is_packed(), "a long element unpacks");
        assert!(l.set(2, b"short"));
        assert!(l.is_packed(), "and packs again once it is gone");
        assert!(l.set(0, &[b'y'; 64]));
        assert!(l.is_packed(), "64 bytes still pack");
        assert!(l.set(0, &[b'y'; 100]));
        assert!(!l.is_packed());
        l.insert(1, b"z");
        assert_eq!(items(&l)[1..], ["z", "b", "short"]);
        assert!(!l.set(9, b"x"));
    }

    #[test]
    fn insert_set_trim_remove() {
        let mut l = list(&["a", "b", "c", "d", "e"]);
        l.insert(0, b"0");
        l.insert(6, b"6");
        l.insert(3, b"mid");
        assert_eq!(items(&l), ["0", "a", "b", "mid", "c", "d", "e", "6"]);
        assert!(l.set(3, b"longer value"));
        assert!(l.set(7, b""));
        assert_eq!(items(&l), ["0", "a", "b", "longer value", "c", "d", "e", ""]);
        assert_eq!(l.range(2, 5).len(), 3);
        assert_eq!(l.range(6, 100).len(), 2);
        assert!(l.range(5, 5).is_empty());
        l.remove_indexes(&[0, 3, 7]);
        assert_eq!(items(&l), ["a", "b", "c", "d", "e"]);
        l.trim(1, 4);
        assert_eq!(items(&l), ["b", "c", "d"]);
        l.trim(1, 1);
        assert!(l.is_empty());
    }

    /// A queue that pushes at one end and pops at the other reuses its buffer.
    #[test]
    fn queue_does_not_grow() {
        for (push, pop) in [(ListEnd::Right, ListEnd::Left), (ListEnd::Left, ListEnd::Right)] {
            let mut l = ListValue::new();
            for i in 0..10u32 {
                l.push(push, &i.to_be_bytes());
            }
            let before = l.mem_usage();
            for i in 10..100_000u32 {
                l.push(push, &i.to_be_bytes());
                let v = l.pop(pop).unwrap();
                assert_eq!(&*v, &(i - 10).to_be_bytes());
            }
            assert!(l.mem_usage() <= before.max(256), "{} > {before}", l.mem_usage());
        }
    }

    /// Pushing at alternate ends stays cheap and compact.
    #[test]
    fn alternating_pushes_stay_compact() {
        let mut l = ListValue::new();
        for i in 0..64u8 {
            let end = if i % 2 == 0 { ListEnd::Left } else { ListEnd::Right };
            l.push(end, &[i; 30]);
        }
        assert!(l.is_packed());
        assert!(l.mem_usage() <= 3 * 64 * 32 + 256, "{}", l.mem_usage());
        let firsts: Vec<u8> = l.iter().map(|v| v[0]).collect();
        let mut want: Vec<u8> = (0..64).filter(|i| i % 2 == 0).rev().collect();
        want.extend((0..64).filter(|i| i % 2 == 1));
        assert_eq!(firsts, want);
    }

    #[test]
    fn mem_usage_follows_the_contents() {
        let mut l = ListValue::new();
        assert_eq!(l.mem_usage(), 0);
        l.push(ListEnd::Right, b"x");
        let small = l.mem_usage();
        assert!(small > 0 && small < 128, "{small}");
        for _ in 0..1000 {
            l.push(ListEnd::Right, &[7; 100]);
        }
        let big = l.mem_usage();
        assert!((1000 * (100 + 16)..1000 * 200).contains(&big), "{big}");
        l.trim(0, 10);
        assert!(l.mem_usage() < big / 10, "{}", l.mem_usage());
        assert!(size_of::<ListValue>() <= 40, "{}", size_of::<ListValue>());
    }

    #[test]
    fn equality_ignores_the_representation() {
        let mut deque = ListValue::new();
        for i in 0..200 {
            deque.push(ListEnd::Right, i.to_string().as_bytes());
        }
        for _ in 0..130 {
            deque.pop(ListEnd::Left);
        }
        let packed = (130..200).fold(ListValue::new(), |mut l, i| {
            l.push(ListEnd::Right, i.to_string().as_bytes());
            l
        });
        assert!(!deque.is_packed() && packed.is_packed());
        assert_eq!(deque, packed);
        deque.pop(ListEnd::Left);
        assert_ne!(deque, packed);
        assert_eq!(format!("{:?}", list(&["a\n"])), r#"["a\\n"]"#);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Trim(usize, usize),
        Remove(Vec<usize>),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..8),
            1 => proptest::collection::vec(any::<u8>(), 60..70),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (any::<bool>(), value()).prop_map(|(l, v)| Op::Push(l, v)),
            4 => any::<bool>().prop_map(Op::Pop),
            1 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (0..200usize, 0..200usize).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => proptest::collection::vec(0..200usize, 0..5).prop_map(Op::Remove),
        ]
    }

    /// Short values only, insert-heavy: long chunked lists whose nodes fill, split and empty.
    fn chunked_op() -> impl Strategy<Value = Op> {
        let short = || proptest::collection::vec(any::<u8>(), 0..6);
        prop_oneof![
            8 => (any::<bool>(), short()).prop_map(|(l, v)| Op::Push(l, v)),
            3 => any::<bool>().prop_map(Op::Pop),
            1 => (any::<usize>(), short()).prop_map(|(i, v)| Op::Set(i, v)),
            4 => (any::<usize>(), short()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (0..40usize, 300..2000usize).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => proptest::collection::vec(0..2000usize, 0..300).prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// The chunked form, with nodes splitting on inserts and emptying on removals,
        /// behaves as a plain deque and keeps its byte count exact.
        #[test]
        fn chunked_behaves_as_a_deque(ops in proptest::collection::vec(chunked_op(), 1..3000)) {
            run_model(ops)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Both representations behave as a plain deque of byte strings, through conversions
        /// both ways.
        #[test]
        fn behaves_as_a_deque(ops in proptest::collection::vec(op(), 1..400)) {
            run_model(ops)?;
        }
    }

    fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
        {
            let mut l = ListValue::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                let end = |left: bool| if left { ListEnd::Left } else { ListEnd::Right };
                match op {
                    Op::Push(left, v) => {
                        l.push(end(left), &v);
                        if left {
                            model.push_front(v)
                        } else {
                            model.push_back(v)
                        }
                    }
                    Op::Pop(left) => {
                        let want = if left { model.pop_front() } else { model.pop_back() };
                        prop_assert_eq!(l.pop(end(left)).map(|b| b.to_vec()), want);
                    }
                    Op::Set(i, v) if !model.is_empty() => {
                        let i = i % model.len();
                        prop_assert!(l.set(i, &v));
                        model[i] = v;
                    }
                    Op::Insert(i, v) => {
                        let i = i % (model.len() + 1);
                        l.insert(i, &v);
                        model.insert(i, v);
                    }
                    Op::Trim(a, b) => {
                        l.trim(a, b);
                        let b = b.min(model.len());
                        let a = a.min(b);
                        model = model.drain(a..b).collect();
                    }
                    Op::Remove(mut ix) if !model.is_empty() => {
                        ix.iter_mut().for_each(|i| *i %= model.len());
                        ix.sort_unstable();
                        ix.dedup();
                        l.remove_indexes(&ix);
                        for &i in ix.iter().rev() {
                            model.remove(i);
                        }
                    }
                    Op::Set(..) | Op::Remove(_) => {}
                }
                prop_assert_eq!(l.len(), model.len());
                let packable = model.len() <= ListValue::MAX_PACKED_LEN
                    && model.iter().all(|v| v.len() <= ListValue::MAX_PACKED_BYTES);
                prop_assert!(packable || !l.is_packed());
                if model.len() <= ListValue::MAX_PACKED_LEN / 2 && packable {
                    prop_assert!(l.is_packed());
                }
                if let Repr::Chunks(c) = &l.repr {
                    prop_assert_eq!(c.len, c.nodes.iter().map(Packed::len).sum::<usize>());
                    prop_assert_eq!(c.heap, c.nodes.iter().map(node_heap).sum::<usize>());
                    prop_assert!(c.nodes.iter().all(|p| p.len() > 0 && p.len() < 2 * NODE_LEN));
                }
            }
            prop_assert!(l.iter().eq(model.iter().map(|v| &v[..])));
            prop_assert!(l.iter().rev().eq(model.iter().rev().map(|v| &v[..])));
            let all: Vec<Vec<u8>> = l.range(0, usize::MAX).iter().map(|b| b.to_vec()).collect();
            prop_assert_eq!(all, Vec::from(model.clone()));
            for (i, v) in model.iter().enumerate() {
                prop_assert_eq!(l.get(i).map(|b| b.to_vec()), Some(v.clone()));
            }
            let n = model.len();
            for (a, b) in [(n / 3, n / 3 + 70), (n.saturating_sub(5), n + 10), (1, 2)] {
                let got: Vec<Vec<u8>> = l.range(a, b).iter().map(|x| x.to_vec()).collect();
                let want: Vec<Vec<u8>> =
                    model.iter().skip(a).take(b.saturating_sub(a)).cloned().collect();
                prop_assert_eq!(got, want);
            }
        }
        Ok(())
    }
}
