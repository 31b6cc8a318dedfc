//! Sorted set values: members ordered by score, then by member bytes (`memcmp` order).
//!
//! Two encodings, as Redis has two:
//! - small sets (at most [`MAX_COMPACT_LEN`] members of at most [`MAX_COMPACT_MEMBER`] bytes,
//!   Redis's `zset-max-listpack-*` defaults) are a sorted index of (score, offset, length)
//!   over one byte buffer of members: two allocations for the whole set (about 16 bytes per
//!   member besides its bytes, against some 50 for a string per member), a lookup is a short
//!   linear scan as in a listpack, a rank is direct;
//! - larger sets are an indexable skip list (Pugh's, with Redis's per-link spans, so rank and
//!   range queries are O(log n)) in an index-based arena, beside a hash [`Index`] of the
//!   arena's nodes by member (O(1) `ZSCORE`). Each member is stored once, in its node, inline
//!   when short; the index adds 8 bytes a slot, where a member -> score map would add a
//!   second string handle and a score.
//!
//! A set converts to the large form when it outgrows the small one and never converts back in
//! place, as in Redis; a value built whole (a `ZUNIONSTORE` result) picks its form by size.
//! The compact form also mirrors two listpack details a client can see: a score of `-0` is
//! stored as `0`, and lexicographic ranges over members of mixed scores are found by a linear
//! scan, exactly as Redis scans a listpack.

use super::dict::{hash32, reserve_one, Index, SmallStr};
use super::memory::malloc_size as alloc_size;
use crate::bytes::Bytes;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;

/// Most members the compact encoding holds (Redis's `zset-max-listpack-entries`).
pub(crate) const MAX_COMPACT_LEN: usize = 128;
/// Longest member the compact encoding holds (Redis's `zset-max-listpack-value`).
pub(crate) const MAX_COMPACT_MEMBER: usize = 64;

// ----- randomness: the crate's generator -----

pub(crate) use crate::rng::Rng;

// ----- ranges -----

/// A score interval as `ZRANGEBYSCORE` takes it: each end inclusive or exclusive (`(1.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScoreRange {
    pub(crate) min: f64,
    pub(crate) min_exclusive: bool,
    pub(crate) max: f64,
    pub(crate) max_exclusive: bool,
}

impl ScoreRange {
    /// Both ends inclusive.
    pub(crate) fn inclusive(min: f64, max: f64) -> ScoreRange {
        ScoreRange { min, min_exclusive: false, max, max_exclusive: false }
    }

    fn gte_min(&self, v: f64) -> bool {
        if self.min_exclusive {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
        if self.max_exclusive {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// True for intervals no score lies in (Redis tests this before searching).
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }
}

/// One end of a lexicographic range (`ZRANGEBYLEX`): `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LexBound {
    /// `-`: before every member.
    Min,
    /// `+`: after every member.
    Max,
    /// `[member`.
    Inclusive(Bytes),
    /// `(member`.
    Exclusive(Bytes),
}

impl LexBound {
    /// How `member` compares with this bound's position.
    fn cmp_member(&self, member: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Inclusive(b) | LexBound::Exclusive(b) => member.cmp(b),
        }
    }

    /// Redis treats `-` and `+` as exclusive ends.
    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }
}

/// A lexicographic interval of members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexRange {
    pub(crate) min: LexBound,
    pub(crate) max: LexBound,
}

impl LexRange {
    /// True if `member` is at or above the lower end.
    pub(crate) fn gte_min(&self, member: &[u8]) -> bool {
        let c = self.min.cmp_member(member);
        c == Ordering::Greater || (c == Ordering::Equal && !self.min.exclusive())
    }

    /// True if `member` is at or below the upper end.
    pub(crate) fn lte_max(&self, member: &[u8]) -> bool {
        let c = self.max.cmp_member(member);
        c == Ordering::Less || (c == Ordering::Equal && !self.max.exclusive())
    }

    /// Redis's `sdscmplex(min, max) > 0`, or equal ends with one of them exclusive.
    fn is_empty(&self) -> bool {
        use LexBound::{Max, Min};
        let c = match (&self.min, &self.max) {
            (Min, Min) | (Max, Max) => Ordering::Equal,
            (Min, _) | (_, Max) => Ordering::Less,
            (Max, _) | (_, Min) => Ordering::Greater,
            (
                LexBound::Inclusive(a) | LexBound::Exclusive(a),
                LexBound::Inclusive(b) | LexBound::Exclusive(b),
            ) => a.cmp(b),
        };
        c == Ordering::Greater
            || (c == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }
}

/// The sort order: by score, then by member bytes.
fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    // Scores are never NaN, so `partial_cmp` always answers.
    s1.partial_cmp(&s2).unwrap_or(Ordering::Equal).then_with(|| m1.cmp(m2))
}

// ----- the indexable skip list -----

/// Marks a missing link; node indexes are `u32` to keep links at 8 bytes.
const NIL: u32 = u32::MAX;
/// The head node's index in the arena.
const HEAD: u32 = 0;
/// Levels a node may have (Redis's `ZSKIPLIST_MAXLEVEL`); with p = 1/4 this covers 2^64 members.
const MAX_LEVEL: usize = 32;

/// A forward link: the next node on this level and how many level-0 steps it jumps.
///
/// Span arithmetic wraps, as Redis's unsigned longs do: the span of a link to `NIL` is never
/// read, so whatever value it drifts to is harmless.
#[derive(Debug, Clone, Copy)]
struct Link {
    next: u32,
    span: u32,
}

const NO_LINK: Link = Link { next: NIL, span: 0 };

/// One member. Level 0 is stored inline because three nodes in four have no other level, so
/// most nodes cost one arena slot and no allocation of their own.
#[derive(Debug, Clone)]
struct Node {
    score: f64,
    member: SmallStr,
    /// The previous node on level 0; `NIL` for the first node.
    back: u32,
    level0: Link,
    /// Levels 1 and up; empty (no allocation) for a level-1 node.
    upper: Box<[Link]>,
}

impl Node {
    #[cfg(test)]
    fn level(&self) -> usize {
        1 + self.upper.len()
    }
}

/// A skip list in an index-based arena (no unsafe, no pointer chasing through `Rc`s): node 0
/// is the head, freed slots are reused.
#[derive(Debug, Clone)]
struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    tail: u32,
    /// Levels in use (at least 1).
    level: usize,
    len: usize,
    /// Heap bytes of the member nodes' upper levels, for memory accounting.
    upper_heap: usize,
    rng: Rng,
}

/// Predecessors of a position on every level, as a search leaves them.
type Update = [u32; MAX_LEVEL];

impl SkipList {
    fn new() -> SkipList {
        let head = Node {
            score: 0.0,
            member: SmallStr::from(&[][..]),
            back: NIL,
            level0: NO_LINK,
            upper: vec![NO_LINK; MAX_LEVEL - 1].into_boxed_slice(),
        };
        SkipList {
            nodes: vec![head],
            free: Vec::new(),
            tail: NIL,
            level: 1,
            len: 0,
            upper_heap: 0,
            rng: Rng::new(),
        }
    }

    #[inline]
    fn node(&self, x: u32) -> &Node {
        &self.nodes[x as usize]
    }

    #[inline]
    fn link(&self, x: u32, i: usize) -> Link {
        let n = &self.nodes[x as usize];
        if i == 0 {
            n.level0
        } else {
            n.upper[i - 1]
        }
    }

    #[inline]
    fn link_mut(&mut self, x: u32, i: usize) -> &mut Link {
        let n = &mut self.nodes[x as usize];
        if i == 0 {
            &mut n.level0
        } else {
            &mut n.upper[i - 1]
        }
    }

    #[cfg(test)]
    fn first(&self) -> u32 {
        self.link(HEAD, 0).next
    }

    /// A level in 1..=MAX_LEVEL, each further level with probability 1/4 (Redis's p).
    fn random_level(&mut self) -> usize {
        let bits = self.rng.next_u64();
        // Two bits per coin: both zero (probability 1/4) climbs one more level.
        let climbs = (bits.trailing_zeros() / 2) as usize;
        (1 + climbs).min(MAX_LEVEL)
    }

    /// True if node `n` sorts strictly before `(score, member)`.
    #[inline]
    fn before(n: &Node, score: f64, member: &[u8]) -> bool {
        n.score < score || (n.score == score && *n.member < *member)
    }

    /// The predecessors of `(score, member)` on every level in use.
    fn find_update(&self, score: f64, member: &[u8]) -> Update {
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let next = self.link(x, i).next;
                if next != NIL && Self::before(self.node(next), score, member) {
                    x = next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        update
    }

    fn alloc(&mut self, score: f64, member: SmallStr, level: usize) -> u32 {
        let upper = vec![NO_LINK; level - 1].into_boxed_slice();
        self.upper_heap += alloc_size((level - 1) * std::mem::size_of::<Link>());
        let node = Node { score, member, back: NIL, level0: NO_LINK, upper };
        match self.free.pop() {
            Some(x) => {
                self.nodes[x as usize] = node;
                x
            }
            None => {
                reserve_one(&mut self.nodes);
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Returns a slot to the free list, handing back its member and score.
    fn release(&mut self, x: u32) -> (SmallStr, f64) {
        // An empty member stands in, so a free slot holds no caller bytes.
        let n = &mut self.nodes[x as usize];
        let member = std::mem::replace(&mut n.member, SmallStr::from(&[][..]));
        self.upper_heap -= alloc_size(n.upper.len() * std::mem::size_of::<Link>());
        n.upper = Box::default();
        self.free.push(x);
        (member, n.score)
    }

    /// Inserts a member known to be absent (Redis's `zslInsert`); returns its node.
    fn insert(&mut self, score: f64, member: SmallStr) -> u32 {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let l = self.link(x, i);
                if l.next != NIL && Self::before(self.node(l.next), score, &member) {
                    rank[i] = rank[i].wrapping_add(l.span);
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let level = self.random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        let x = self.alloc(score, member, level);
        for i in 0..level {
            let u = self.link(update[i], i);
            let crossed = rank[0].wrapping_sub(rank[i]);
            *self.link_mut(x, i) = Link { next: u.next, span: u.span.wrapping_sub(crossed) };
            *self.link_mut(update[i], i) = Link { next: x, span: crossed.wrapping_add(1) };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            let l = self.link_mut(u, i);
            l.span = l.span.wrapping_add(1);
        }
        self.nodes[x as usize].back = if update[0] == HEAD { NIL } else { update[0] };
        let next = self.link(x, 0).next;
        if next != NIL {
            self.nodes[next as usize].back = x;
        } else {
            self.tail = x;
        }
        self.len += 1;
        x
    }

    /// Unlinks node `x` given its predecessors (Redis's `zslDeleteNode`); the slot stays
    /// allocated until [`SkipList::release`].
    fn unlink(&mut self, x: u32, update: &Update) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.link(u, i).next == x {
                let xl = self.link(x, i);
                let l = self.link_mut(u, i);
                l.span = l.span.wrapping_add(xl.span).wrapping_sub(1);
                l.next = xl.next;
            } else {
                let l = self.link_mut(u, i);
                l.span = l.span.wrapping_sub(1);
            }
        }
        let (next, back) = (self.link(x, 0).next, self.node(x).back);
        if next != NIL {
            self.nodes[next as usize].back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Removes node `x`.
    fn remove(&mut self, x: u32) {
        let n = self.node(x);
        let update = self.find_update(n.score, &n.member);
        debug_assert_eq!(self.link(update[0], 0).next, x);
        self.unlink(x, &update);
        self.release(x);
    }

    /// Moves a member to a new score: in place when it keeps its position (the common case
    /// for small increments), else by removing and reinserting it. Returns its node, which
    /// may have changed.
    fn update_score(&mut self, score: f64, member: &[u8], new: f64) -> u32 {
        let update = self.find_update(score, member);
        let x = self.link(update[0], 0).next;
        debug_assert!(x != NIL && *self.node(x).member == *member);
        let back = self.node(x).back;
        let next = self.link(x, 0).next;
        let after_back = back == NIL || Self::before(self.node(back), new, member);
        let before_next = next == NIL || {
            let n = self.node(next);
            cmp_entry(n.score, &n.member, new, member) == Ordering::Greater
        };
        if after_back && before_next {
            self.nodes[x as usize].score = new;
            return x;
        }
        self.unlink(x, &update);
        let (member, _) = self.release(x);
        self.insert(new, member)
    }

    /// The 1-based rank of `(score, member)`, if present (Redis's `zslGetRank`).
    fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = self.node(l.next);
                if cmp_entry(n.score, &n.member, score, member) == Ordering::Greater {
                    break;
                }
                rank += l.span as usize;
                x = l.next;
            }
            if x != HEAD && *self.node(x).member == *member {
                return Some(rank);
            }
        }
        None
    }

    /// The node at 1-based `rank` (Redis's `zslGetElementByRank`).
    fn by_rank(&self, rank: usize) -> u32 {
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && traversed + l.span as usize <= rank {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if traversed == rank {
                return x;
            }
        }
        NIL
    }

    /// How many leading members satisfy `pred`, which must hold on a prefix of the order.
    fn count_while(&self, pred: impl Fn(&Node) -> bool) -> usize {
        let mut x = HEAD;
        let mut n = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && pred(self.node(l.next)) {
                    n += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
        }
        n
    }

    /// Removes the members at 0-based ranks `ranks`, in order, in O(log n + k) (Redis's
    /// `zslDeleteRangeByRank`), handing each node's number, member and score to `removed`.
    fn remove_ranks(&mut self, ranks: Range<usize>, mut removed: impl FnMut(u32, SmallStr, f64)) {
        let (start, end) = (ranks.start + 1, ranks.end); // 1-based, inclusive
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && traversed + (l.span as usize) < start {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        traversed += 1;
        x = self.link(x, 0).next;
        while x != NIL && traversed <= end {
            let next = self.link(x, 0).next;
            self.unlink(x, &update);
            let (member, score) = self.release(x);
            removed(x, member, score);
            traversed += 1;
            x = next;
        }
    }
}

// ----- the value -----

/// A member read out of a set without copying it (copied when handed out). Dereferences to
/// its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member<'a>(pub(crate) &'a [u8]);

impl<'a> Member<'a> {
    /// The member as an owned string.
    pub(crate) fn to_bytes(self) -> Bytes {
        Bytes::copy_from(self.0)
    }

    /// The member's bytes, for as long as the set is borrowed.
    pub(crate) fn as_slice(self) -> &'a [u8] {
        self.0
    }
}

impl std::ops::Deref for Member<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// An empty compact set, for iterators over nothing.
static EMPTY: Compact = Compact { index: Vec::new(), bytes: Vec::new(), garbage: 0 };

/// The compact encoding, in the spirit of Redis's listpack: two allocations for the whole
/// set, however many members. `index` holds (score, offset, length) in order; the member
/// bytes live in `bytes`, appended as members arrive. Lookups scan (at most
/// [`MAX_COMPACT_LEN`] entries, as a listpack scan does); ranks are direct.
#[derive(Debug, Clone, Default)]
struct Compact {
    index: Vec<(f64, u32, u32)>,
    bytes: Vec<u8>,
    /// Bytes of `bytes` left by removed members, reclaimed once they are the larger part.
    garbage: usize,
}

impl Compact {
    #[inline]
    fn member(&self, i: usize) -> &[u8] {
        let (_, at, len) = self.index[i];
        &self.bytes[at as usize..(at + len) as usize]
    }

    fn find(&self, member: &[u8]) -> Option<usize> {
        (0..self.index.len()).find(|&i| self.member(i) == member)
    }

    /// Where `(score, member)` goes in the order.
    fn position(&self, score: f64, member: &[u8]) -> usize {
        self.index.partition_point(|&(s, at, len)| {
            cmp_entry(s, &self.bytes[at as usize..(at + len) as usize], score, member).is_lt()
        })
    }

    /// Adds a member known to be absent.
    fn insert_new(&mut self, member: &[u8], score: f64) {
        let at = self.position(score, member);
        let offset = self.bytes.len() as u32;
        self.bytes.extend_from_slice(member);
        self.index.insert(at, (score, offset, member.len() as u32));
    }

    /// Removes the entry at rank `i`; returns its score.
    fn remove_at(&mut self, i: usize) -> f64 {
        let (score, _, len) = self.index.remove(i);
        self.garbage += len as usize;
        self.reclaim();
        score
    }

    /// Rewrites `bytes` without the garbage once garbage is more than half of it, so a set
    /// churning members stays within twice its live size.
    fn reclaim(&mut self) {
        if self.index.is_empty() {
            self.bytes = Vec::new();
            self.garbage = 0;
            return;
        }
        if self.garbage * 2 <= self.bytes.len() {
            return;
        }
        let mut bytes = Vec::with_capacity(self.bytes.len() - self.garbage);
        for e in &mut self.index {
            let (at, len) = (e.1 as usize, e.2 as usize);
            e.1 = bytes.len() as u32;
            bytes.extend_from_slice(&self.bytes[at..at + len]);
        }
        self.bytes = bytes;
        self.garbage = 0;
    }
}

/// The large encoding: the ordered list, and its nodes indexed by member.
#[derive(Debug, Clone)]
struct Indexed {
    list: SkipList,
    by_member: Index,
    /// Heap bytes of the members too long to sit in their nodes, for memory accounting.
    member_heap: usize,
}

impl Indexed {
    fn with_capacity(n: usize) -> Indexed {
        Indexed { list: SkipList::new(), by_member: Index::with_capacity(n), member_heap: 0 }
    }

    /// The node holding `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let found = self.by_member.find(hash32(member), |x| *self.list.nodes[x].member == *member);
        found.map(|x| x as u32)
    }

    /// The score of `member`.
    fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|x| self.list.node(x).score)
    }

    fn insert_new(&mut self, member: &[u8], score: f64) {
        let member = SmallStr::from(member);
        self.member_heap += member.heap();
        let hash = hash32(&member);
        let len = self.list.len;
        let x = self.list.insert(score, member);
        self.by_member.insert(x as usize, hash, len);
    }
}

#[derive(Clone)]
enum Repr {
    Compact(Compact),
    Indexed(Box<Indexed>),
}

/// A set of members ordered by score, then by member bytes.
#[derive(Clone)]
pub(crate) struct ZSetValue {
    repr: Repr,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::new()
    }
}

impl fmt::Debug for ZSetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|(m, s)| (s, m.escape_ascii().to_string()))).finish()
    }
}

impl PartialEq for ZSetValue {
    /// Equal members with equal scores, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|((m1, s1), (m2, s2))| s1 == s2 && *m1 == *m2)
    }
}

/// The score a listpack would store: it keeps integral scores as integers, so `-0` reads
/// back as `0`.
fn compact_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

impl ZSetValue {
    /// An empty set in the compact encoding.
    pub(crate) fn new() -> ZSetValue {
        ZSetValue { repr: Repr::Compact(Compact::default()) }
    }

    /// An empty set in the encoding Redis 7.0's `ZADD` creates when its first member is
    /// `first_member` bytes long: compact unless that member is too long for it (the other
    /// members, however many, convert it later if they must).
    pub(crate) fn for_first_member(first_member: usize) -> ZSetValue {
        if first_member <= MAX_COMPACT_MEMBER {
            ZSetValue::new()
        } else {
            ZSetValue { repr: Repr::Indexed(Box::new(Indexed::with_capacity(0))) }
        }
    }

    /// A set of `entries`, whose members must be distinct, in the encoding its final size
    /// calls for (as Redis converts a `ZUNIONSTORE` result back to a listpack when small).
    pub(crate) fn from_entries(mut entries: Vec<(Bytes, f64)>) -> ZSetValue {
        let max_member = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if entries.len() <= MAX_COMPACT_LEN && max_member <= MAX_COMPACT_MEMBER {
            entries.sort_unstable_by(|(m1, s1), (m2, s2)| cmp_entry(*s1, m1, *s2, m2));
            let mut c = Compact {
                index: Vec::with_capacity(entries.len()),
                bytes: Vec::with_capacity(entries.iter().map(|(m, _)| m.len()).sum()),
                garbage: 0,
            };
            for (m, s) in entries {
                c.index.push((compact_score(s), c.bytes.len() as u32, m.len() as u32));
                c.bytes.extend_from_slice(&m);
            }
            return ZSetValue { repr: Repr::Compact(c) };
        }
        let mut ix = Indexed::with_capacity(entries.len());
        for (m, s) in entries {
            ix.insert_new(&m, s);
        }
        ZSetValue { repr: Repr::Indexed(Box::new(ix)) }
    }

    /// Members in the set.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Compact(c) => c.index.len(),
            Repr::Indexed(ix) => ix.list.len,
        }
    }

    /// True if the set has no members (a stored set never is: its key is deleted).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True in the compact (listpack-like) encoding.
    #[cfg(test)]
    pub(crate) fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Compact(_))
    }

    /// The score of `member`.
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Compact(c) => c.find(member).map(|i| c.index[i].0),
            Repr::Indexed(ix) => ix.score(member),
        }
    }

    /// Sets the score of `member`, adding it if absent; returns its previous score. `score`
    /// must not be NaN.
    pub(crate) fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        if let Repr::Compact(c) = &mut self.repr {
            let score = compact_score(score);
            if let Some(i) = c.find(member) {
                let old = c.index[i].0;
                if old != score {
                    let (_, at, len) = c.index.remove(i);
                    let to = c.position(score, member);
                    c.index.insert(to, (score, at, len));
                }
                return Some(old);
            }
            if c.index.len() < MAX_COMPACT_LEN && member.len() <= MAX_COMPACT_MEMBER {
                c.insert_new(member, score);
                return None;
            }
            self.convert();
        }
        let Repr::Indexed(ix) = &mut self.repr else { unreachable!("converted above") };
        match ix.find(member) {
            Some(x) => {
                let old = ix.list.node(x).score;
                if old != score {
                    let moved = ix.list.update_score(old, member, score);
                    if moved != x {
                        ix.by_member.renumber(x as usize, hash32(member), moved as usize);
                    }
                }
                Some(old)
            }
            None => {
                ix.insert_new(member, score);
                None
            }
        }
    }

    /// Moves the compact entries into the indexed encoding.
    fn convert(&mut self) {
        let Repr::Compact(c) = &self.repr else { return };
        let mut ix = Indexed::with_capacity(c.index.len() + 1);
        for i in 0..c.index.len() {
            ix.insert_new(c.member(i), c.index[i].0);
        }
        self.repr = Repr::Indexed(Box::new(ix));
    }

    /// Removes `member`; returns its score if it was there.
    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Compact(c) => {
                let i = c.find(member)?;
                Some(c.remove_at(i))
            }
            Repr::Indexed(ix) => {
                let x = ix.find(member)?;
                let node = ix.list.node(x);
                let score = node.score;
                ix.member_heap -= node.member.heap();
                ix.by_member.remove(x as usize, hash32(member), ix.list.len - 1);
                ix.list.remove(x);
                Some(score)
            }
        }
    }

    /// The 0-based position of `member` in ascending order.
    pub(crate) fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Compact(c) => c.find(member),
            Repr::Indexed(ix) => {
                let score = ix.score(member)?;
                ix.list.rank(score, member).map(|r| r - 1)
            }
        }
    }

    /// The member at 0-based `rank` and its score.
    pub(crate) fn get(&self, rank: usize) -> Option<(Member<'_>, f64)> {
        if rank >= self.len() {
            return None;
        }
        match &self.repr {
            Repr::Compact(c) => Some((Member(c.member(rank)), c.index[rank].0)),
            Repr::Indexed(ix) => {
                let n = ix.list.node(ix.list.by_rank(rank + 1));
                Some((Member(&n.member), n.score))
            }
        }
    }

    /// Every member, ascending.
    pub(crate) fn iter(&self) -> Iter<'_> {
        self.range(0..self.len(), false)
    }

    /// The members at 0-based ranks `ranks` (clamped to the set), ascending, or descending
    /// from `ranks.end - 1` if `rev`. Finding the start costs O(log n), each step O(1).
    pub(crate) fn range(&self, ranks: Range<usize>, rev: bool) -> Iter<'_> {
        let end = ranks.end.min(self.len());
        let left = end.saturating_sub(ranks.start);
        let first = if rev { end.wrapping_sub(1) } else { ranks.start };
        let inner = match &self.repr {
            Repr::Compact(c) => IterInner::Compact(c, first),
            Repr::Indexed(_) if left == 0 => IterInner::Compact(&EMPTY, 0),
            Repr::Indexed(ix) => IterInner::Indexed(&ix.list, ix.list.by_rank(first + 1)),
        };
        Iter { inner, left, rev }
    }

    /// One `ZSCAN` step over a large set from `cursor` (see [`Index::scan`]): calls `f` on
    /// the members seen and returns the next cursor. None for a compact set, which a scan
    /// sees whole.
    pub(crate) fn scan(
        &self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(Member<'_>, f64),
    ) -> Option<u64> {
        let Repr::Indexed(ix) = &self.repr else { return None };
        Some(ix.by_member.scan(cursor, count, |x| {
            let n = ix.list.node(x as u32);
            f(Member(&n.member), n.score)
        }))
    }

    /// The ranks of the members whose scores lie in `r`.
    pub(crate) fn score_ranks(&self, r: &ScoreRange) -> Range<usize> {
        if r.is_empty() {
            return 0..0;
        }
        let (lo, hi) = match &self.repr {
            Repr::Compact(c) => (
                c.index.partition_point(|&(s, ..)| !r.gte_min(s)),
                c.index.partition_point(|&(s, ..)| r.lte_max(s)),
            ),
            Repr::Indexed(ix) => (
                ix.list.count_while(|n| !r.gte_min(n.score)),
                ix.list.count_while(|n| r.lte_max(n.score)),
            ),
        };
        lo..hi.max(lo)
    }

    /// The ranks of the members in the lexicographic range `r`, as a walk from the lower end
    /// (or from the upper end if `rev`) finds them.
    ///
    /// Lexicographic ranges are meant for sets whose members share one score. With mixed
    /// scores Redis's answer depends on its encoding; the compact encoding reproduces the
    /// listpack scan exactly (which is why the direction matters), the indexed one the skip
    /// list search.
    pub(crate) fn lex_ranks(&self, r: &LexRange, rev: bool) -> Range<usize> {
        let n = self.len();
        if r.is_empty() || n == 0 {
            return 0..0;
        }
        let (first, last) = (self.get(0).expect("non-empty").0, self.get(n - 1).expect("non-empty").0);
        // Redis first checks that the ends of the set reach into the range.
        if !r.gte_min(&last) || !r.lte_max(&first) {
            return 0..0;
        }
        match &self.repr {
            Repr::Compact(c) if !rev => {
                let lo = (0..n).find(|&i| r.gte_min(c.member(i))).unwrap_or(n);
                let len = (lo..n).take_while(|&i| r.lte_max(c.member(i))).count();
                lo..lo + len
            }
            Repr::Compact(c) => {
                let Some(hi) = (0..n).rev().find(|&i| r.lte_max(c.member(i))) else { return 0..0 };
                let len = (0..=hi).rev().take_while(|&i| r.gte_min(c.member(i))).count();
                hi + 1 - len..hi + 1
            }
            Repr::Indexed(ix) => {
                let lo = ix.list.count_while(|n| !r.gte_min(&n.member));
                let hi = ix.list.count_while(|n| r.lte_max(&n.member));
                lo..hi.max(lo)
            }
        }
    }

    /// Removes the members at 0-based ranks `ranks` and returns them, ascending.
    pub(crate) fn remove_ranks(&mut self, ranks: Range<usize>) -> Vec<(Bytes, f64)> {
        let end = ranks.end.min(self.len());
        if ranks.start >= end {
            return Vec::new();
        }
        match &mut self.repr {
            Repr::Compact(c) => {
                let out: Vec<(Bytes, f64)> =
                    (ranks.start..end).map(|i| (Bytes::copy_from(c.member(i)), c.index[i].0)).collect();
                c.index.drain(ranks.start..end);
                c.garbage += out.iter().map(|(m, _)| m.len()).sum::<usize>();
                c.reclaim();
                out
            }
            Repr::Indexed(ix) => {
                let mut out = Vec::with_capacity(end - ranks.start);
                let mut remaining = ix.list.len;
                let Indexed { list, by_member, member_heap } = &mut **ix;
                list.remove_ranks(ranks.start..end, |x, m, score| {
                    remaining -= 1;
                    *member_heap -= m.heap();
                    by_member.remove(x as usize, hash32(&m), remaining);
                    out.push((Bytes::copy_from(&m), score));
                });
                out
            }
        }
    }

    /// Approximate heap bytes held by the set: its arrays, hash table and member strings.
    // For memory accounting (`MEMORY USAGE`, eviction).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn mem_usage(&self) -> usize {
        use std::mem::size_of;
        match &self.repr {
            Repr::Compact(c) => {
                alloc_size(c.index.capacity() * size_of::<(f64, u32, u32)>())
                    + alloc_size(c.bytes.capacity())
            }
            Repr::Indexed(ix) => {
                let list = &ix.list;
                alloc_size(size_of::<Indexed>())
                    + alloc_size(list.nodes.capacity() * size_of::<Node>())
                    + alloc_size((MAX_LEVEL - 1) * size_of::<Link>())
                    + list.upper_heap
                    + alloc_size(list.free.capacity() * size_of::<u32>())
                    + ix.by_member.mem_usage()
                    + ix.member_heap
            }
        }
    }

    /// Checks the skip list's links, spans and back pointers against its order (tests only).
    #[cfg(test)]
    fn check(&self) {
        let ix = match &self.repr {
            Repr::Compact(c) => {
                let n = c.index.len();
                assert!((1..n).all(|i| cmp_entry(
                    c.index[i - 1].0,
                    c.member(i - 1),
                    c.index[i].0,
                    c.member(i)
                )
                .is_lt()));
                let live: usize = c.index.iter().map(|e| e.2 as usize).sum();
                assert_eq!(c.bytes.len(), live + c.garbage);
                assert!(c.garbage * 2 <= c.bytes.len());
                return;
            }
            Repr::Indexed(ix) => ix,
        };
        let l = &ix.list;
        // Level 0 in order, with back pointers, and positions by index.
        let mut pos = std::collections::HashMap::new();
        let (mut x, mut prev, mut i) = (l.first(), NIL, 0usize);
        while x != NIL {
            let n = l.node(x);
            assert_eq!(n.back, prev);
            if prev != NIL {
                let p = l.node(prev);
                assert!(cmp_entry(p.score, &p.member, n.score, &n.member).is_lt());
            }
            assert_eq!(ix.find(&n.member), Some(x));
            i += 1;
            pos.insert(x, i);
            prev = x;
            x = l.link(x, 0).next;
        }
        assert_eq!(i, l.len);
        assert_eq!(l.tail, prev);
        let heap: usize = pos.keys().map(|&x| l.node(x).member.heap()).sum();
        assert_eq!(ix.member_heap, heap);
        // Every level's spans add up to the distance in level-0 steps.
        for lvl in 0..l.level {
            let (mut x, mut at) = (HEAD, 0usize);
            loop {
                let link = l.link(x, lvl);
                if link.next == NIL {
                    break;
                }
                assert!(l.node(link.next).level() > lvl);
                let to = pos[&link.next];
                assert_eq!(at + link.span as usize, to, "span at level {lvl}");
                at = to;
                x = link.next;
            }
        }
        for lvl in l.level..MAX_LEVEL {
            assert_eq!(l.link(HEAD, lvl).next, NIL);
        }
        assert_eq!(l.nodes.len(), l.len + 1 + l.free.len());
        let upper: usize =
            l.nodes[1..].iter().map(|n| alloc_size(n.upper.len() * std::mem::size_of::<Link>())).sum();
        assert_eq!(l.upper_heap, upper);
    }
}

/// An iterator over `(member, score)` in rank order (see [`ZSetValue::range`]).
pub(crate) struct Iter<'a> {
    inner: IterInner<'a>,
    left: usize,
    rev: bool,
}

enum IterInner<'a> {
    Compact(&'a Compact, usize),
    Indexed(&'a SkipList, u32),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Member<'a>, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match &mut self.inner {
            IterInner::Compact(c, i) => {
                let item = (Member(c.member(*i)), c.index[*i].0);
                *i = if self.rev { i.wrapping_sub(1) } else { *i + 1 };
                Some(item)
            }
            IterInner::Indexed(list, x) => {
                let n = list.node(*x);
                *x = if self.rev { n.back } else { n.level0.next };
                Some((Member(&n.member), n.score))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s)
    }

    fn members(it: Iter<'_>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8_lossy(&m).into_owned()).collect()
    }

    /// A set forced into the indexed encoding.
    fn indexed() -> ZSetValue {
        ZSetValue::for_first_member(MAX_COMPACT_MEMBER + 1)
    }

    #[test]
    fn orders_by_score_then_member_heap() {
        for mut z in [ZSetValue::new(), indexed()] {
            assert_eq!(z.insert(b"b", 1.0), None);
            assert_eq!(z.insert(b"a", 1.0), None);
            assert_eq!(z.insert(b"c", 0.5), None);
            assert_eq!(z.insert(b"\xff", 1.0), None);
            assert_eq!(z.insert(b"A", f64::INFINITY), None);
            assert_eq!(z.insert(b"Z", f64::NEG_INFINITY), None);
            assert_eq!(members(z.iter()), ["Z", "c", "a", "b", "\u{fffd}", "A"]);
            assert_eq!(z.insert(b"c", 2.0), Some(0.5));
            assert_eq!(members(z.iter()), ["Z", "a", "b", "\u{fffd}", "c", "A"]);
            assert_eq!(z.rank(b"c"), Some(4));
            assert_eq!(z.rank(b"nope"), None);
            assert_eq!(z.score(b"c"), Some(2.0));
            assert_eq!(z.remove(b"a"), Some(1.0));
            assert_eq!(z.remove(b"a"), None);
            assert_eq!(z.len(), 5);
            assert_eq!(members(z.range(1..3, true)), ["\u{fffd}", "b"]);
            assert_eq!(members(z.range(3..99, false)), ["c", "A"]);
            z.check();
        }
    }

    #[test]
    fn converts_when_it_grows_and_compares_across_encodings() {
        let mut z = ZSetValue::new();
        let mut big = indexed();
        for i in 0..MAX_COMPACT_LEN {
            z.insert(format!("m{i:03}").as_bytes(), i as f64);
            big.insert(format!("m{i:03}").as_bytes(), i as f64);
        }
        assert!(z.is_compact());
        assert_eq!(z, big);
        z.insert(b"one more", 0.5);
        assert!(!z.is_compact());
        z.check();
        let mut long = ZSetValue::new();
        long.insert(&[b'x'; MAX_COMPACT_MEMBER], 1.0);
        assert!(long.is_compact());
        long.insert(&[b'y'; MAX_COMPACT_MEMBER + 1], 1.0);
        assert!(!long.is_compact());
        long.check();
        assert!(!ZSetValue::for_first_member(65).is_compact());
        assert!(ZSetValue::for_first_member(64).is_compact());
    }

    #[test]
    fn compact_encoding_stores_negative_zero_as_zero() {
        let mut z = ZSetValue::new();
        z.insert(b"a", -0.0);
        assert!(z.score(b"a").unwrap().is_sign_positive());
        let mut big = indexed();
        big.insert(b"a", -0.0);
        assert!(big.score(b"a").unwrap().is_sign_negative());
        let built = ZSetValue::from_entries(vec![(b("a"), -0.0)]);
        assert!(built.score(b"a").unwrap().is_sign_positive());
    }

    #[test]
    fn score_and_lex_ranges() {
        for mut z in [ZSetValue::new(), indexed()] {
            for (i, m) in ["a", "b", "c", "d", "e"].iter().enumerate() {
                z.insert(m.as_bytes(), i as f64);
            }
            let r =
                |min, minx, max, maxx| ScoreRange { min, min_exclusive: minx, max, max_exclusive: maxx };
            assert_eq!(z.score_ranks(&r(1.0, false, 3.0, false)), 1..4);
            assert_eq!(z.score_ranks(&r(1.0, true, 3.0, true)), 2..3);
            assert_eq!(z.score_ranks(&r(f64::NEG_INFINITY, false, f64::INFINITY, false)), 0..5);
            assert_eq!(z.score_ranks(&r(3.0, false, 1.0, false)).len(), 0);
            assert_eq!(z.score_ranks(&r(2.0, true, 2.0, false)).len(), 0);
            assert_eq!(z.score_ranks(&r(9.0, false, 10.0, false)).len(), 0);
            let lex = |min: LexBound, max: LexBound| LexRange { min, max };
            // Same scores make lexicographic ranges meaningful.
            let mut same = z.clone();
            for m in ["a", "b", "c", "d", "e"] {
                same.insert(m.as_bytes(), 0.0);
            }
            let (inc, exc) = (|s: &str| LexBound::Inclusive(b(s)), |s: &str| LexBound::Exclusive(b(s)));
            for rev in [false, true] {
                assert_eq!(same.lex_ranks(&lex(LexBound::Min, LexBound::Max), rev), 0..5);
                assert_eq!(same.lex_ranks(&lex(inc("b"), exc("d")), rev), 1..3);
                assert_eq!(same.lex_ranks(&lex(exc("b"), inc("d")), rev), 2..4);
                assert_eq!(same.lex_ranks(&lex(inc("bb"), LexBound::Max), rev), 2..5);
                assert_eq!(same.lex_ranks(&lex(LexBound::Max, LexBound::Min), rev).len(), 0);
                assert_eq!(same.lex_ranks(&lex(LexBound::Min, LexBound::Min), rev).len(), 0);
                assert_eq!(same.lex_ranks(&lex(inc("c"), inc("c")), rev), 2..3);
                assert_eq!(same.lex_ranks(&lex(exc("c"), inc("c")), rev).len(), 0);
                assert_eq!(same.lex_ranks(&lex(inc("x"), LexBound::Max), rev).len(), 0);
            }
        }
    }

    #[test]
    fn compact_lex_ranges_over_mixed_scores_scan_like_a_listpack() {
        // Order: z(0) b(1) a(2) c(3). Redis (listpack) answers these from a linear scan.
        let mut z = ZSetValue::new();
        for (m, s) in [("b", 1.0), ("a", 2.0), ("c", 3.0), ("z", 0.0)] {
            z.insert(m.as_bytes(), s);
        }
        let lex = |min: &str, max: &str| LexRange {
            min: LexBound::Inclusive(b(min)),
            max: LexBound::Inclusive(b(max)),
        };
        // The first member, z, is above [c: nothing is in range.
        assert_eq!(z.lex_ranks(&lex("a", "c"), false).len(), 0);
        // Forward: the first member >= b is z; the walk then only checks the upper end, so
        // a (below b) is taken too.
        assert_eq!(z.lex_ranks(&lex("b", "z"), false), 0..4);
        // Backward from the tail: c <= z, a: gte b fails, stop.
        assert_eq!(z.lex_ranks(&lex("b", "z"), true), 3..4);
    }

    #[test]
    fn remove_ranks_and_pop() {
        for mut z in [ZSetValue::new(), indexed()] {
            for i in 0..10 {
                z.insert(format!("m{i}").as_bytes(), f64::from(i));
            }
            let out = z.remove_ranks(2..5);
            assert_eq!(out.iter().map(|(_, s)| *s).collect::<Vec<_>>(), [2.0, 3.0, 4.0]);
            assert_eq!(z.len(), 7);
            assert_eq!(z.remove_ranks(5..100).len(), 2);
            assert_eq!(z.remove_ranks(3..3).len(), 0);
            assert_eq!(members(z.iter()), ["m0", "m1", "m5", "m6", "m7"]);
            assert_eq!(z.rank(b"m6"), Some(3));
            z.check();
        }
    }

    #[test]
    fn in_place_score_updates_keep_order() {
        let mut z = indexed();
        for i in 0..50 {
            z.insert(format!("m{i:02}").as_bytes(), f64::from(i));
        }
        z.insert(b"m10", 10.5); // stays between m10's neighbours
        z.insert(b"m20", -1.0); // moves to the front
        z.insert(b"m00", 100.0); // moves to the back
        z.check();
        assert_eq!(z.get(0).map(|(m, _)| m.to_bytes()), Some(b("m20")));
        assert_eq!(z.get(49).map(|(m, s)| (m.to_bytes(), s)), Some((b("m00"), 100.0)));
        assert_eq!(z.rank(b"m10"), Some(10)); // after m20 and m01..m09
    }

    #[test]
    fn memory_usage_grows_and_shrinks() {
        let mut z = ZSetValue::new();
        let empty = z.mem_usage();
        for i in 0..1000 {
            z.insert(format!("member-{i}").as_bytes(), f64::from(i));
        }
        let full = z.mem_usage();
        assert!(full > empty + 1000 * 20, "{full}");
        z.remove_ranks(0..1000);
        z.check();
        assert!(z.mem_usage() < full);
    }

    /// A random walk of inserts, updates and removals against a sorted `Vec` model; checks
    /// ranks, ranges and the skip list's invariants along the way.
    #[test]
    fn randomized_against_a_sorted_vec() {
        for seed in 0..4u64 {
            let mut rng = Rng::with_seed(seed);
            let mut z = if seed % 2 == 0 { ZSetValue::new() } else { indexed() };
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            let sort = |m: &mut Vec<(f64, Vec<u8>)>| m.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
            for step in 0..3000 {
                let member = format!("k{}", rng.below(400)).into_bytes();
                // Few distinct scores, so many ties fall to member order.
                let score = (rng.below(40) as f64 - 20.0) / 4.0;
                match rng.below(10) {
                    0..=4 => {
                        let old = model.iter().position(|(_, m)| *m == member);
                        let prev = old.map(|i| model.remove(i).0);
                        model.push((score, member.clone()));
                        sort(&mut model);
                        assert_eq!(z.insert(&member, score), prev);
                    }
                    5..=6 => {
                        let old =
                            model.iter().position(|(_, m)| *m == member).map(|i| model.remove(i).0);
                        assert_eq!(z.remove(&member), old);
                    }
                    7 => {
                        let n = model.len();
                        let start = rng.below(n as u64 + 1) as usize;
                        let end = start + rng.below(5) as usize;
                        let removed = z.remove_ranks(start..end);
                        let expect: Vec<_> = model.drain(start..end.min(n)).collect();
                        assert_eq!(removed.len(), expect.len());
                        for ((m, s), (es, em)) in removed.iter().zip(&expect) {
                            assert_eq!((&**m, *s), (&em[..], *es));
                        }
                    }
                    _ => {
                        let lo = (rng.below(40) as f64 - 20.0) / 4.0;
                        let hi = lo + rng.below(20) as f64 / 4.0;
                        let r = ScoreRange {
                            min: lo,
                            min_exclusive: step % 2 == 0,
                            max: hi,
                            max_exclusive: step % 3 == 0,
                        };
                        let got = z.score_ranks(&r);
                        let want: Vec<usize> = (0..model.len())
                            .filter(|&i| r.gte_min(model[i].0) && r.lte_max(model[i].0))
                            .collect();
                        assert_eq!(got.len(), want.len());
                        if let Some(&first) = want.first() {
                            assert_eq!(got.start, first);
                        }
                    }
                }
                assert_eq!(z.len(), model.len());
                if step % 97 == 0 {
                    z.check();
                    let all: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
                    let want: Vec<(Vec<u8>, f64)> = model.iter().map(|(s, m)| (m.clone(), *s)).collect();
                    assert_eq!(all, want);
                    let rev: Vec<(Vec<u8>, f64)> =
                        z.range(0..z.len(), true).map(|(m, s)| (m.to_vec(), s)).collect();
                    assert_eq!(rev, want.iter().rev().cloned().collect::<Vec<_>>());
                }
                if !model.is_empty() {
                    let i = rng.below(model.len() as u64) as usize;
                    assert_eq!(z.rank(&model[i].1), Some(i));
                    let (m, s) = z.get(i).unwrap();
                    assert_eq!((&m[..], s), (&model[i].1[..], model[i].0));
                    let from = rng.below(model.len() as u64) as usize;
                    let got: Vec<&[u8]> =
                        z.range(from..from + 3, false).map(|(m, _)| m.as_slice()).collect();
                    let want: Vec<&[u8]> =
                        model[from..(from + 3).min(model.len())].iter().map(|(_, m)| &m[..]).collect();
                    assert_eq!(got, want);
                }
            }
            z.check();
        }
    }

    #[test]
    fn rng_is_spread() {
        let mut rng = Rng::new();
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[rng.below(4) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
        assert_ne!(Rng::new().next_u64(), Rng::new().next_u64());
    }

    #[test]
    fn scan_of_a_large_set_sees_every_stable_member_a_step_at_a_time() {
        let mut z = indexed();
        for i in 0..1000 {
            z.insert(format!("stable:{i}").as_bytes(), i as f64);
        }
        let mut seen = std::collections::HashMap::new();
        let (mut cursor, mut calls) = (0, 0);
        loop {
            let mut step = 0;
            cursor = z
                .scan(cursor, 10, |m, s| {
                    seen.insert(m.to_vec(), s);
                    step += 1;
                })
                .expect("a large set");
            calls += 1;
            assert!(step < 200, "a step reads about COUNT members, not the set: {step}");
            // Churn while the scan runs: the index grows and shrinks under the cursor.
            if calls % 5 == 0 {
                for i in 0..2000 {
                    z.insert(format!("churn:{calls}:{i}").as_bytes(), -1.0);
                }
            } else if calls % 5 == 2 {
                let churn: Vec<Bytes> =
                    z.iter().map(|(m, _)| m.to_bytes()).filter(|m| m.starts_with(b"churn")).collect();
                for m in churn {
                    z.remove(&m);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        assert!(calls > 10);
        for i in 0..1000 {
            assert_eq!(seen.get(format!("stable:{i}").as_bytes()), Some(&(i as f64)), "stable:{i}");
        }
        z.check();
        assert_eq!(ZSetValue::new().scan(0, 10, |_, _| ()), None);
    }
}
