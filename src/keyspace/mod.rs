//! The keyspace (level 1): one [`Table`] per slot a node holds, with values and expiry.
//!
//! Single-threaded and pure: the node layer puts each table under its slot's lock, and the
//! command layer runs commands on it. Nothing here locks, spawns or sends.

mod db;
pub(crate) mod dict;
pub(crate) mod events;
pub(crate) mod geohash;
pub(crate) mod hash;
pub(crate) mod hyperloglog;
mod key;
pub(crate) mod list;
pub(crate) mod memory;
mod records;
pub(crate) mod set;
pub(crate) mod stream;
mod value;
pub(crate) mod zset;

pub(crate) use db::{Db, Lookup, View};
pub(crate) use memory::Access;

use key::Key;
use memory::{btree_cost, key_cost, malloc_size, value_cost, Stamp};
pub(crate) use value::{Str, Value};

use crate::clock::Clock;
use records::Records;
pub(crate) use records::{Hint, Shape, Stored};
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// The hasher of every table: ahash with seeds drawn once per process. Zero-sized, so 16384
/// tables per node do not each carry 32 bytes of seeds, and stable for the process's life, so
/// `SCAN` can order a table's keys by hash.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct KeyHasher;

fn seeds() -> &'static ahash::RandomState {
    static SEEDS: OnceLock<ahash::RandomState> = OnceLock::new();
    SEEDS.get_or_init(ahash::RandomState::new)
}

impl BuildHasher for KeyHasher {
    type Hasher = ahash::AHasher;
    fn build_hasher(&self) -> ahash::AHasher {
        seeds().build_hasher()
    }
}

/// A key's position in its table's `SCAN` order.
///
/// Keys of up to 16 bytes (most cache keys) take a short path, as wyhash does for short input:
/// the key read as two words (overlapping when shorter than 16 bytes, so every byte counts),
/// each XORed with a seed of the process, multiplied together (64x64->128 bits, the halves
/// folded to 64), and the result folded the same way once more with the length. About 20
/// instructions, call included, where ahash spent about 35; longer keys take ahash. The
/// length in the second fold keeps a short key and its zero-padded longer twin apart.
#[inline]
pub(crate) fn scan_hash(key: &[u8]) -> u64 {
    let n = key.len();
    if n > 16 {
        return long_hash(key);
    }
    let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_le_bytes(key[at..at + 4].try_into().expect("4 bytes")));
    let (a, b) = if n >= 8 {
        (word(0), word(n - 8))
    } else if n >= 4 {
        (half(0), half(n - 4))
    } else if n > 0 {
        (u64::from(key[0]) | u64::from(key[n / 2]) << 8 | u64::from(key[n - 1]) << 16, 0)
    } else {
        (0, 0)
    };
    let s = short_seeds();
    fold_mul(fold_mul(a ^ s[0], b ^ s[1]) ^ s[2], n as u64 ^ s[3])
}

/// [`scan_hash`] of a key longer than 16 bytes: ahash. Out of line, so the short path stays
/// small enough to inline into every lookup.
#[inline(never)]
fn long_hash(key: &[u8]) -> u64 {
    let mut h = KeyHasher.build_hasher();
    h.write(key);
    h.finish()
}

/// The 128-bit product of `a` and `b`, its halves XORed: every input bit reaches the middle
/// output bits.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// [`scan_hash`]'s seeds for short keys, drawn once per process (so keys cannot be chosen to
/// collide without knowing them).
#[inline]
fn short_seeds() -> &'static [u64; 4] {
    static SEEDS: OnceLock<[u64; 4]> = OnceLock::new();
    SEEDS.get_or_init(|| std::array::from_fn(|_| memory::random() | 1))
}

/// Keys a multi-key command prefetches at a time (see [`Table::prefetch`]): what the CPU
/// can have in flight, and few enough that the first key's lines are still in cache when it
/// is read.
pub(crate) const PREFETCH_RUN: usize = 32;

/// The current time for one command, read from the clock at most once and only if some key
/// touched has a deadline (most reads never need it).
pub(crate) struct Now<'a> {
    clock: &'a Clock,
    ms: Cell<Option<u64>>,
    saw_expired: Cell<bool>,
    /// How reads stamp entries (set from the eviction policy).
    access: Access,
    hits: Cell<u32>,
    misses: Cell<u32>,
    /// Keyspace notification classes in force for this command (0: off, the default).
    notify: u32,
    /// Events recorded while notifications are on, published by the node afterwards. Boxed:
    /// a command that records none (nearly all) drops a null pointer, not an empty `Vec`.
    #[allow(clippy::box_collection)]
    events: std::cell::RefCell<Option<Box<Vec<events::KeyEvent>>>>,
}

impl<'a> Now<'a> {
    pub(crate) fn new(clock: &'a Clock) -> Self {
        Now::with_access(clock, Access::None)
    }

    pub(crate) fn with_access(clock: &'a Clock, access: Access) -> Self {
        Now {
            clock,
            ms: Cell::new(None),
            saw_expired: Cell::new(false),
            access,
            hits: Cell::new(0),
            misses: Cell::new(0),
            notify: 0,
            events: std::cell::RefCell::new(None),
        }
    }

    /// This command records keyspace events of the classes in `flags` (see
    /// [`events::effective`]; 0 records none).
    #[inline]
    pub(crate) fn notifying(mut self, flags: u32) -> Self {
        self.notify = flags;
        self
    }

    /// Records that `key` met event `name` of `class` (Redis's `notifyKeyspaceEvent`). One
    /// branch on a plain integer when notifications are off.
    #[inline]
    pub(crate) fn notify(&self, class: u32, name: &'static str, key: &[u8]) {
        if self.notify & class != 0 {
            self.record(class, name, key);
        }
    }

    #[cold]
    #[inline(never)]
    fn record(&self, class: u32, name: &'static str, key: &[u8]) {
        let event = events::KeyEvent { class, name, key: key.into() };
        self.events.borrow_mut().get_or_insert_with(Box::default).push(event);
    }

    /// Records a `new` event for each key in `created`, before the first event this command
    /// recorded for that key (a key is added before the command's event about it).
    pub(crate) fn note_created(&self, created: Vec<Box<[u8]>>) {
        let mut events = self.events.borrow_mut();
        let list = events.get_or_insert_with(Box::default);
        for key in created {
            let at = list.iter().position(|e| e.key == key).unwrap_or(list.len());
            list.insert(at, events::KeyEvent { class: events::NEW, name: "new", key });
        }
    }

    /// The notification classes this command records.
    pub(crate) fn notify_flags(&self) -> u32 {
        self.notify
    }

    /// True if some event waits to be published.
    #[inline]
    pub(crate) fn has_events(&self) -> bool {
        self.notify != 0 && self.events.borrow().as_ref().is_some_and(|e| !e.is_empty())
    }

    /// Takes the events recorded so far, in order.
    pub(crate) fn take_events(&self) -> Vec<events::KeyEvent> {
        self.events.borrow_mut().take().map_or_else(Vec::new, |e| *e)
    }

    /// The access stamping mode of this command.
    pub(crate) fn access(&self) -> Access {
        self.access
    }

    /// Lookups of keys that existed, and that did not, during this command.
    pub(crate) fn hits_misses(&self) -> (u32, u32) {
        (self.hits.get(), self.misses.get())
    }

    pub(crate) fn ms(&self) -> u64 {
        match self.ms.get() {
            Some(ms) => ms,
            None => {
                let ms = self.clock.now_ms();
                self.ms.set(Some(ms));
                ms
            }
        }
    }

    /// The time access stamps record: LFU counts in minutes and `OBJECT IDLETIME` in
    /// seconds, so they take the coarse clock; an LRU policy ages keys by the millisecond.
    #[inline]
    pub(crate) fn stamp_ms(&self) -> u64 {
        match self.access {
            Access::Lru => self.ms(),
            _ => self.clock.coarse_ms(),
        }
    }

    /// True when a read met a key that is expired but not yet deleted.
    pub(crate) fn saw_expired(&self) -> bool {
        self.saw_expired.get()
    }
}

/// One key's value and absolute expiry deadline (Unix ms; 0 = none).
///
/// `repr(C)`, deadline and stamp first: every read checks the one and may write the other, so
/// they sit next to the key at the start of its record, on the same cache line (see `records`).
#[derive(Debug, Clone)]
#[repr(C)]
pub(crate) struct Entry {
    expire_at: u64,
    /// Last access (LRU) or access frequency (LFU).
    stamp: Stamp,
    /// Heap bytes of key and value, as last accounted (see `memory`).
    cost: u32,
    pub(crate) value: Value,
}

impl Entry {
    /// The entry's access stamp, for eviction and `OBJECT IDLETIME`/`FREQ`.
    pub(crate) fn stamp(&self) -> &Stamp {
        &self.stamp
    }

    /// Heap bytes of this key and value as last accounted (`MEMORY USAGE` adds the slot).
    pub(crate) fn cost(&self) -> usize {
        self.cost as usize
    }

    /// The deadline in Unix ms, if the key has a TTL.
    pub(crate) fn expire_at(&self) -> Option<u64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    /// Redis's rule (`keyIsExpired`): expired once now is past the deadline.
    #[inline]
    fn is_expired(&self, now: &Now<'_>) -> bool {
        self.expire_at != 0 && self.expire_at < now.ms()
    }
}

/// [`Table::take_added`]: a key was added.
pub(crate) const ADDED_KEY: u8 = 1;
/// [`Table::take_added`]: a key got a deadline.
pub(crate) const ADDED_TTL: u8 = 2;
/// [`Table::take_added`]: the hash groups moved (grew, shrank or were freed), so a [`Hint`]
/// of them is out of date.
pub(crate) const RESHAPED: u8 = 4;

/// The keys of one slot on one node.
///
/// Laid out by hand (`repr(C)`): a node keeps each table behind its slot's lock in a 64-byte
/// aligned cell, the lock word first, so the fields every `GET` and `SET` reads (the hash
/// table's header, `extra`, `entry_bytes`, `fresh_stamp`, `moving`, `unsettled_any`, `added`)
/// come first and share the lock's cache line: a command on a cold slot misses one line, not
/// two. The TTL index and the unsettled list follow on the second line, read only when used.
/// The unsettled list is boxed on purpose: a `Vec`'s capacity offers the compiler the widest niche
/// for `Option<Table>`'s tag, which would put the node's "holds this slot?" test on the second
/// line; boxed, the tag goes to a byte of the first.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Table {
    map: Records,
    /// Rarely used state, boxed so an idle table stays small.
    extra: Option<Box<Extra>>,
    /// Sum of the entries' `cost`; the records and groups are added in `used`.
    entry_bytes: usize,
    /// The access stamp new keys get, set by the node before each write under an LRU or
    /// LFU policy (so a new key is not the first evicted).
    fresh_stamp: u32,
    /// The policy `fresh_stamp` was made for: under LRU (or idle tracking) a write is an
    /// access, so overwriting a key restamps it; LFU keeps the key's counter, as Redis does.
    fresh_access: Access,
    /// Where the slot stands in a key-by-key migration (read by every command).
    moving: Moving,
    /// `unsettled` is not empty: `settle`, which runs after every write, looks no further.
    unsettled_any: bool,
    /// What this table gained since the node last asked (`take_added`): a key (`ADDED_KEY`),
    /// a key with a TTL (`ADDED_TTL`), hash groups elsewhere (`RESHAPED`). How a write tells
    /// the node's marks and hint about it in one load, without reading the TTL index's line.
    added: u8,
    /// Keys with a TTL, by deadline: active expiry pops from the front.
    expires: BTreeSet<(u64, Key)>,
    /// Collections handed out by `get_mut`, whose cost must be settled after the command.
    // Boxed for the niche, not for the heap: see the type's docs.
    #[allow(clippy::box_collection)]
    unsettled: Option<Box<Vec<Box<[u8]>>>>,
    /// This table's identity, unique in the process: it moves with the table (an atomic slot
    /// move) and a copy gets its own, so a session can tell the table it watched a key in.
    instance: u64,
}

impl Default for Table {
    fn default() -> Table {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Table {
            map: Records::default(),
            extra: None,
            entry_bytes: 0,
            fresh_stamp: 0,
            fresh_access: Access::None,
            moving: Moving::Stable,
            unsettled_any: false,
            added: 0,
            expires: BTreeSet::new(),
            unsettled: None,
            instance: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// A slot's part in a key-by-key migration, as its holder's table records it. The lock that
/// guards the table makes "is the key here?" and the command one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Moving {
    /// Not moving: the holder serves every command.
    #[default]
    Stable,
    /// The source: serves keys it still has; missing keys are asked for on the target.
    Migrating,
    /// The target: serves only callers that were sent here with `ASK`.
    Importing,
}

/// Keys callers are blocked on (`BLPOP` ...) or watch (`WATCH`), and the keys written since
/// the last replication drain when the table's node has replicas.
#[derive(Debug, Default)]
struct Extra {
    /// Key -> number of blocked callers waiting on it.
    blocked: HashMap<Box<[u8]>, u32, KeyHasher>,
    /// Blocked-on keys that a write may have made servable, in signal order.
    ready: Vec<Box<[u8]>>,
    /// Key -> (sessions watching it, modifications seen since the first watch).
    watched: HashMap<Box<[u8]>, (u32, u64), KeyHasher>,
    /// Record every modified key in `dirty` (the node streams them to replicas). Lives here,
    /// behind the `extra` branch `touch` already takes, so a table of a node without replicas
    /// pays nothing for replication.
    tracking: bool,
    /// Keys modified since the last [`Table::take_dirty`], in modification order (repeats
    /// possible: effects are whole states, so a repeat only costs a second copy).
    dirty: Vec<Box<[u8]>>,
    /// The table was cleared since the last drain (emitted before the dirty keys).
    cleared: bool,
    /// Keys this write created, while `new` keyspace events are on (see
    /// [`Table::record_created`]).
    created: Option<Vec<Box<[u8]>>>,
}

impl Extra {
    fn is_idle(&self) -> bool {
        self.blocked.is_empty()
            && self.ready.is_empty()
            && self.watched.is_empty()
            && !self.tracking
            && self.created.is_none()
    }
}

#[inline]
fn entry_cost(key: &[u8], value: &Value, expire_at: u64) -> u32 {
    (key_cost(key, expire_at != 0) + value_cost(value)).min(u32::MAX as usize) as u32
}

impl Table {
    /// Bytes from the start of a table to the end of the fields every command reads.
    #[cfg(test)]
    pub(crate) const HOT_BYTES: usize = std::mem::offset_of!(Table, added) + 1;

    pub(crate) fn new() -> Self {
        Table::default()
    }

    /// Heap bytes this table holds: records, keys, values, TTL index and hash groups.
    pub(crate) fn used(&self) -> usize {
        let table = self.map.bucket_bytes();
        // The unsettled list's box, kept between commands once a collection was written.
        let unsettled =
            self.unsettled.as_ref().map_or(0, |_| malloc_size(std::mem::size_of::<Vec<Box<[u8]>>>()));
        self.entry_bytes
            + self.map.len() * records::RECORD_BYTES
            + table
            + btree_cost(self.expires.len())
            + unsettled
    }

    /// This table's identity (see the field).
    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }

    /// Bytes one key takes in the table besides its entry's `cost`: its record and its share
    /// of the groups.
    pub(crate) fn slot_bytes(&self) -> usize {
        Records::per_key_bytes()
    }

    /// Frees an emptied table's groups: with 16384 tables per node, empty tables holding
    /// their high-water allocation would cost more than the keys.
    ///
    /// Tables that lost most of their keys shrink too (below a third full, to half full), as
    /// Redis shrinks dicts, so a cache that evicts does not keep paying for groups it
    /// filled once.
    fn release_if_empty(&mut self) {
        let (len, cap) = (self.map.len(), self.map.capacity());
        if len == 0 && cap > 0 {
            self.map = Records::default();
            self.added |= RESHAPED;
        } else if cap > 8 && len * 3 < cap {
            self.map.shrink_to(len * 3 / 2);
            self.added |= RESHAPED;
        }
    }

    /// Sets the stamp keys created by the next write get.
    pub(crate) fn prepare(&mut self, access: Access, now_ms: u64) {
        self.fresh_stamp = Stamp::new(access, now_ms).raw();
        self.fresh_access = access;
    }

    /// Re-accounts collections changed in place since the last call (after every write).
    #[inline(always)]
    pub(crate) fn settle(&mut self) {
        if self.unsettled_any {
            self.settle_now();
        }
    }

    #[inline(never)]
    fn settle_now(&mut self) {
        self.unsettled_any = false;
        for key in self.unsettled.as_mut().map(|v| std::mem::take(&mut **v)).unwrap_or_default() {
            if let Some(e) = self.map.get_mut(&key) {
                let cost = entry_cost(&key, &e.value, e.expire_at);
                self.entry_bytes = self.entry_bytes - e.cost as usize + cost as usize;
                e.cost = cost;
            }
        }
    }

    /// Keys stored, including expired keys not yet deleted (as Redis's `DBSIZE` counts them).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Keys with a TTL.
    pub(crate) fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    /// Looks up a live key for reading; an expired key reads as missing.
    #[inline]
    pub(crate) fn get(&self, key: &[u8], now: &Now<'_>) -> Option<&Entry> {
        self.get_hashed(key, scan_hash(key), now)
    }

    /// [`Table::get`] for a key whose [`scan_hash`] the caller has (a batched read hashes
    /// each key once for its prefetches and its lookup; GET hashes it once for the hint's
    /// prefetch and the lookup). Always inlined, as `Lookup::entry` is for GET: called, it
    /// cost GET about 20 instructions of call and saved registers.
    #[inline(always)]
    pub(crate) fn get_hashed(&self, key: &[u8], hash: u64, now: &Now<'_>) -> Option<&Entry> {
        let e = self.lookup(key, hash, now)?;
        if now.access != Access::None {
            e.stamp.touch(now.access, now.stamp_ms());
        }
        Some(e)
    }

    /// [`Table::get`] that leaves the key's access stamp as it was: Redis's
    /// `LOOKUP_NOTOUCH`, which `TTL`, `TYPE` and `EXISTS` read with, so asking about a key
    /// changes neither its `OBJECT IDLETIME` nor how eviction ranks it.
    pub(crate) fn peek(&self, key: &[u8], now: &Now<'_>) -> Option<&Entry> {
        self.lookup(key, scan_hash(key), now)
    }

    /// A live key's entry, the lookup counted as a hit or a miss.
    #[inline(always)]
    fn lookup(&self, key: &[u8], hash: u64, now: &Now<'_>) -> Option<&Entry> {
        let Some(e) = self.map.get_hashed(hash, key) else {
            now.misses.set(now.misses.get() + 1);
            return None;
        };
        if e.is_expired(now) {
            now.saw_expired.set(true);
            now.misses.set(now.misses.get() + 1);
            return None;
        }
        now.hits.set(now.hits.get() + 1);
        Some(e)
    }

    /// First stage of a batched lookup of the key hashing to `hash`: starts loading the
    /// hash group it reads first.
    #[inline]
    pub(crate) fn prefetch_group(&self, hash: u64) {
        self.map.prefetch_group(hash);
    }

    /// Second stage (after [`Table::prefetch_group`]): starts loading the records the group
    /// points at for `hash`.
    #[inline]
    pub(crate) fn prefetch_records(&self, hash: u64) {
        self.map.prefetch_records(hash);
    }

    /// Starts loading what lookups of `keys` will read (their groups, then their records),
    /// so a multi-key command's misses overlap instead of following one another. A hint:
    /// nothing is read or changed.
    pub(crate) fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut hashes = [0u64; PREFETCH_RUN];
        let mut n = 0;
        for key in keys {
            hashes[n] = scan_hash(key);
            self.map.prefetch_group(hashes[n]);
            n += 1;
            if n == PREFETCH_RUN {
                hashes.iter().for_each(|h| self.map.prefetch_records(*h));
                n = 0;
            }
        }
        hashes[..n].iter().for_each(|h| self.map.prefetch_records(*h));
    }

    /// The stored entry, expired or not, without counting a lookup or stamping an access
    /// (eviction and introspection).
    pub(crate) fn get_raw(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Looks up a live key for writing, deleting it first if it has expired.
    pub(crate) fn get_mut(&mut self, key: &[u8], now: &Now<'_>) -> Option<&mut Entry> {
        // Hashed once for both lookups: a long key's hash is about 50 instructions.
        let hash = scan_hash(key);
        if self.map.get_hashed(hash, key)?.is_expired(now) {
            self.remove(key);
            now.notify(events::EXPIRED, "expired", key);
            return None;
        }
        // A caller that asks for a key mutably means to change it: `WATCH` must see that.
        self.touch(key);
        let e = self.map.get_mut_hashed(hash, key)?;
        if now.access != Access::None {
            e.stamp.touch(now.access, now.stamp_ms());
        }
        // Strings are always replaced whole (and accounted then); a collection changes in
        // place, so its cost is settled after the command.
        if !matches!(e.value, Value::Str(_)) {
            self.unsettled.get_or_insert_with(Box::default).push(key.into());
            self.unsettled_any = true;
        }
        Some(e)
    }

    /// True if a live key exists.
    pub(crate) fn contains(&self, key: &[u8], now: &Now<'_>) -> bool {
        self.get(key, now).is_some()
    }

    /// Stores `value` under `key` with deadline `expire_at` (None: no TTL), replacing any old
    /// value and TTL.
    pub(crate) fn insert(&mut self, key: &[u8], value: Value, expire_at: Option<u64>) {
        self.insert_hashed(key, scan_hash(key), value, expire_at);
    }

    /// [`Table::insert`] of a key whose [`scan_hash`] the caller has.
    pub(crate) fn insert_hashed(&mut self, key: &[u8], hash: u64, value: Value, expire_at: Option<u64>) {
        self.touch(key);
        let expire_at = expire_at.unwrap_or(0);
        let cost = entry_cost(key, &value, expire_at);
        match self.map.get_mut_hashed(hash, key) {
            Some(e) => {
                let mut stream = false;
                if matches!(e.value, Value::Str(Str::Inline { .. })) {
                    // A short string owns nothing to free: the common SET over a SET skips the
                    // out-of-line drop of a `Value`.
                    std::mem::forget(std::mem::replace(&mut e.value, value));
                } else {
                    stream = matches!(e.value, Value::Stream(_));
                    e.value = value;
                }
                self.entry_bytes = self.entry_bytes - e.cost as usize + cost as usize;
                e.cost = cost;
                if matches!(self.fresh_access, Access::Lru | Access::Idle) {
                    e.stamp = Stamp::from_raw(self.fresh_stamp);
                }
                let old = std::mem::replace(&mut e.expire_at, expire_at);
                if old != expire_at {
                    self.reindex(key, old, expire_at);
                }
                if stream {
                    self.stream_gone(key);
                }
            }
            None => {
                self.entry_bytes += cost as usize;
                let stamp = Stamp::from_raw(self.fresh_stamp);
                let moved = self.map.insert_new(hash, key, Entry { value, expire_at, cost, stamp });
                self.added |= if moved { ADDED_KEY | RESHAPED } else { ADDED_KEY };
                if let Some(created) = self.extra.as_mut().and_then(|x| x.created.as_mut()) {
                    created.push(key.into());
                }
                if expire_at != 0 {
                    self.expires.insert((expire_at, Key::from(key)));
                    self.added |= ADDED_TTL;
                }
            }
        }
    }

    /// Gives a key the access stamp it had elsewhere (a key moved by a migration keeps its
    /// age and frequency, so eviction does not take it for the coldest key).
    pub(crate) fn set_stamp(&mut self, key: &[u8], raw: u32) {
        if let Some(e) = self.map.get_mut(key) {
            e.stamp = Stamp::from_raw(raw);
        }
    }

    /// Replaces the value of a key, keeping its TTL. The key must exist (checked by the caller
    /// through [`Table::get_mut`]); a missing key is inserted without TTL.
    pub(crate) fn replace_value(&mut self, key: &[u8], value: Value) {
        match self.map.get_mut(key) {
            Some(e) => {
                let cost = entry_cost(key, &value, e.expire_at);
                self.entry_bytes = self.entry_bytes - e.cost as usize + cost as usize;
                e.cost = cost;
                let old = std::mem::replace(&mut e.value, value);
                self.touch(key);
                if matches!(old, Value::Stream(_)) {
                    self.stream_gone(key);
                }
            }
            None => self.insert(key, value, None),
        }
    }

    /// Sets or clears the deadline of an existing key. Returns false if the key is missing.
    pub(crate) fn set_expire(&mut self, key: &[u8], expire_at: Option<u64>) -> bool {
        let expire_at = expire_at.unwrap_or(0);
        let Some(e) = self.map.get_mut(key) else { return false };
        let old = std::mem::replace(&mut e.expire_at, expire_at);
        if old != expire_at {
            let cost = entry_cost(key, &e.value, expire_at);
            self.entry_bytes = self.entry_bytes - e.cost as usize + cost as usize;
            e.cost = cost;
            self.reindex(key, old, expire_at);
            self.touch(key);
        }
        true
    }

    fn reindex(&mut self, key: &[u8], old: u64, new: u64) {
        if old != 0 {
            self.expires.remove(&(old, Key::from(key)));
        }
        if new != 0 {
            self.expires.insert((new, Key::from(key)));
            self.added |= ADDED_TTL;
        }
    }

    /// Deletes a key (expired or not) and returns its entry.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_if(key, |_| true)
    }

    /// [`Table::remove`] if `pred` holds for the key's entry (expired or not), in one lookup:
    /// eviction checks that its candidate is still the one it sampled.
    pub(crate) fn remove_if(&mut self, key: &[u8], pred: impl FnOnce(&Entry) -> bool) -> Option<Entry> {
        let e = self.map.remove_if(key, pred)?;
        self.entry_bytes -= e.cost as usize;
        self.touch(key);
        self.release_if_empty();
        if matches!(e.value, Value::Stream(_)) {
            self.stream_gone(key);
        }
        if e.expire_at != 0 {
            self.expires.remove(&(e.expire_at, Key::from(key)));
        }
        Some(e)
    }

    /// The earliest deadline in the table.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.expires.first().map(|(at, _)| *at)
    }

    /// Deletes up to `limit` keys whose deadline is before `now_ms`; returns how many.
    #[cfg(test)]
    pub(crate) fn purge_expired(&mut self, now_ms: u64, limit: usize) -> usize {
        self.purge_expired_notify(now_ms, limit, None)
    }

    /// [`Table::purge_expired`], recording an `expired` event per key in `now` if given.
    pub(crate) fn purge_expired_notify(
        &mut self,
        now_ms: u64,
        limit: usize,
        now: Option<&Now<'_>>,
    ) -> usize {
        let mut n = 0;
        while n < limit {
            match self.expires.first() {
                Some((at, _)) if *at < now_ms => {
                    let (_, key) = self.expires.pop_first().expect("first exists");
                    if let Some(e) = self.map.remove(&key) {
                        self.entry_bytes -= e.cost as usize;
                        if matches!(e.value, Value::Stream(_)) {
                            self.stream_gone(&key);
                        }
                    }
                    self.touch(&key);
                    self.release_if_empty();
                    if let Some(now) = now {
                        now.notify(events::EXPIRED, "expired", &key);
                    }
                    n += 1;
                }
                _ => break,
            }
        }
        n
    }

    /// Every stored key and entry, expired ones included, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.map.iter().map(|(k, e)| (&**k, e))
    }

    /// Stored keys from a place `at` picks on, wrapping around (eviction samples, migration
    /// batches): nothing is read from a key's record until the caller asks.
    pub(crate) fn iter_from(&self, at: u64) -> impl Iterator<Item = Stored<'_>> {
        self.map.iter_from(at)
    }

    /// Fills `out` with stored keys from a place `at` picks on, wrapping around (an eviction
    /// sample); returns how many it holds. See [`Records::sample_from`].
    #[inline]
    pub(crate) fn sample_from<'a>(&'a self, at: u64, out: &mut [Option<Stored<'a>>]) -> usize {
        self.map.sample_from(at, out)
    }

    /// Where the hash groups are, for the node's [`Hint`] of them.
    pub(crate) fn shape(&self) -> Shape {
        self.map.shape()
    }

    /// What the table gained since the last call (`ADDED_KEY`, `ADDED_TTL`, `RESHAPED` bits),
    /// once.
    #[inline]
    pub(crate) fn take_added(&mut self) -> u8 {
        let added = self.added;
        // Written only when set: an overwrite leaves the line as the write left it.
        if added != 0 {
            self.added = 0;
        }
        added
    }

    /// Fills `out` with stored keys that have a TTL (a volatile eviction policy's sample);
    /// returns how many it holds.
    ///
    /// First as for any sample, keeping the keys with a TTL, from up to four places `at`
    /// picks (Redis samples its `expires` dict by bucket, which this approximates where keys
    /// with a TTL are common). When none of those has one (a slot's few keys with a TTL among
    /// many without one), from the TTL index: in deadline order, from the key a random number
    /// (below 64) of places after a deadline `at` picks between the earliest and the latest.
    /// That finds such keys at all; it favours keys after long gaps between deadlines and,
    /// among more than 64 keys of one deadline, the first by their bytes.
    pub(crate) fn sample_volatile<'a>(&'a self, at: u64, out: &mut [Option<Stored<'a>>]) -> usize {
        if self.expires.is_empty() {
            return 0;
        }
        for round in 0..4 {
            let seen = self.map.sample_from(at.rotate_left(16 * round), out);
            let mut kept = 0;
            for i in 0..seen {
                if out[i].is_some_and(|s| s.entry().expire_at().is_some()) {
                    out.swap(kept, i);
                    kept += 1;
                }
            }
            out[kept..].iter_mut().for_each(|s| *s = None);
            if kept > 0 {
                return kept;
            }
        }
        let (Some((first, _)), Some((last, _))) = (self.expires.first(), self.expires.last()) else {
            return 0;
        };
        let from = (first + (at >> 32) % (last - first).saturating_add(1), Key::from(&b""[..]));
        let skip = (at as usize >> 8) % self.expires.len().min(64);
        // Every key once, in deadline order from `from` round to it, starting `skip` in.
        let round = self.expires.range(&from..).chain(self.expires.range(..&from));
        let mut kept = 0;
        for (_, key) in round.clone().skip(skip).chain(round.take(skip)).take(out.len()) {
            let stored = self.map.stored(key);
            debug_assert!(stored.is_some(), "a key in the TTL index is in the table");
            if let Some(stored) = stored {
                out[kept] = Some(stored);
                kept += 1;
            }
        }
        kept
    }

    /// True if the entry is live at `now`.
    pub(crate) fn is_live(entry: &Entry, now: &Now<'_>) -> bool {
        !entry.is_expired(now)
    }

    /// Notes that `key` may now serve a caller blocked on it (a push to a list, an add to a
    /// sorted set). Costs one branch when nobody is blocked.
    pub(crate) fn signal_ready(&mut self, key: &[u8]) {
        let Some(x) = self.extra.as_mut() else { return };
        if x.blocked.contains_key(key) && !x.ready.iter().any(|k| **k == *key) {
            x.ready.push(key.into());
        }
    }

    /// Notes that the stream at `key` was deleted or replaced: a consumer-group reader
    /// blocked on it is answered `UNBLOCKED`, as Redis signals a stream's key when it goes.
    fn stream_gone(&mut self, key: &[u8]) {
        self.signal_ready(key);
    }

    /// True if some signalled key waits to be served.
    #[inline]
    pub(crate) fn has_ready(&self) -> bool {
        self.extra.as_ref().is_some_and(|x| !x.ready.is_empty())
    }

    /// Takes the keys signalled ready so far.
    pub(crate) fn take_ready(&mut self) -> Vec<Box<[u8]>> {
        self.extra.as_mut().map(|x| std::mem::take(&mut x.ready)).unwrap_or_default()
    }

    /// Counts one more caller blocked on `key`.
    pub(crate) fn block_on(&mut self, key: &[u8]) {
        *self.extra.get_or_insert_with(Box::default).blocked.entry(key.into()).or_insert(0) += 1;
    }

    /// Counts one caller fewer blocked on `key`.
    pub(crate) fn unblock(&mut self, key: &[u8]) {
        let Some(x) = self.extra.as_mut() else { return };
        if let Some(n) = x.blocked.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                x.blocked.remove(key);
            }
        }
        if x.is_idle() {
            self.extra = None;
        }
    }

    /// Records a modification of `key` for the sessions watching it. One branch when nobody
    /// watches anything in this slot.
    #[inline(always)]
    fn touch(&mut self, key: &[u8]) {
        if self.extra.is_some() {
            self.touch_extra(key);
        }
    }

    #[inline(never)]
    fn touch_extra(&mut self, key: &[u8]) {
        if let Some(x) = self.extra.as_mut() {
            if let Some(w) = x.watched.get_mut(key) {
                w.1 += 1;
            }
            if x.tracking {
                x.dirty.push(key.into());
            }
        }
    }

    /// The table's part in a key-by-key migration.
    #[inline]
    pub(crate) fn moving(&self) -> Moving {
        self.moving
    }

    /// Marks the table's part in a key-by-key migration.
    pub(crate) fn set_moving(&mut self, moving: Moving) {
        self.moving = moving;
    }

    /// True if the table carries rarely used state (blocked callers, watches, replication
    /// tracking): the one branch the write path takes before looking at any of it.
    #[inline]
    pub(crate) fn has_extra(&self) -> bool {
        self.extra.is_some()
    }

    /// Records the keys the coming write creates, for its `new` keyspace events (Redis
    /// publishes one where a key is added, before the command's own event for it).
    pub(crate) fn record_created(&mut self) {
        self.extra.get_or_insert_with(Box::default).created.get_or_insert_with(Vec::new);
    }

    /// The keys created since [`Table::record_created`]; recording stops. The rarely used
    /// state stays allocated (as after any other use of it): a write never frees it.
    pub(crate) fn take_created(&mut self) -> Vec<Box<[u8]>> {
        self.extra.as_mut().and_then(|x| x.created.take()).unwrap_or_default()
    }

    /// Starts or stops recording modified keys for replication (see [`Table::take_dirty`]).
    pub(crate) fn set_tracking(&mut self, on: bool) {
        if on {
            self.extra.get_or_insert_with(Box::default).tracking = true;
        } else if let Some(x) = self.extra.as_mut() {
            x.tracking = false;
            x.dirty = Vec::new();
            x.cleared = false;
            if x.is_idle() {
                self.extra = None;
            }
        }
    }

    /// True if some modification waits to be drained.
    #[inline]
    pub(crate) fn has_dirty(&self) -> bool {
        self.extra.as_ref().is_some_and(|x| !x.dirty.is_empty() || x.cleared)
    }

    /// Takes what changed since the last call: whether the table was cleared, and the keys
    /// modified after that (sorted, without repeats).
    pub(crate) fn take_dirty(&mut self) -> (bool, Vec<Box<[u8]>>) {
        let Some(x) = self.extra.as_mut() else { return (false, Vec::new()) };
        let mut keys = std::mem::take(&mut x.dirty);
        keys.sort_unstable();
        keys.dedup();
        (std::mem::take(&mut x.cleared), keys)
    }

    /// A copy of the keys, values and deadlines, without callers, watches or tracking: what a
    /// replica loads in a full sync.
    pub(crate) fn snapshot(&self) -> Table {
        Table {
            map: self.map.clone(),
            expires: self.expires.clone(),
            entry_bytes: self.entry_bytes,
            unsettled: None,
            unsettled_any: false,
            added: 0,
            fresh_stamp: self.fresh_stamp,
            fresh_access: self.fresh_access,
            moving: Moving::Stable,
            extra: None,
            instance: Table::default().instance,
        }
    }

    /// An order-independent digest of the keys, values and deadlines (in the spirit of
    /// `DEBUG DIGEST-VALUE`), so two tables can be compared cheaply. Expired keys not yet
    /// deleted count: a replica holds them until the primary's deletion arrives.
    pub(crate) fn digest(&self) -> u64 {
        use std::hash::Hash;
        self.map.iter().fold(0u64, |acc, (k, e)| {
            // SipHash with fixed keys: stable across tables and runs.
            #[allow(deprecated)]
            let mut h = std::hash::SipHasher::new();
            k.hash(&mut h);
            format!("{:?}", e.value).hash(&mut h);
            e.expire_at.hash(&mut h);
            acc.wrapping_add(h.finish())
        })
    }

    /// Starts watching `key` (`WATCH`); returns its modification count, to compare at `EXEC`.
    pub(crate) fn watch(&mut self, key: &[u8]) -> u64 {
        let x = self.extra.get_or_insert_with(Box::default);
        let w = x.watched.entry(key.into()).or_insert((0, 0));
        w.0 += 1;
        w.1
    }

    /// The modification count of a watched key (0 if nobody watches it).
    pub(crate) fn watch_version(&self, key: &[u8]) -> u64 {
        self.extra.as_ref().and_then(|x| x.watched.get(key)).map_or(0, |w| w.1)
    }

    /// Stops one session's watch of `key`.
    pub(crate) fn unwatch(&mut self, key: &[u8]) {
        let Some(x) = self.extra.as_mut() else { return };
        if let Some(w) = x.watched.get_mut(key) {
            w.0 -= 1;
            if w.0 == 0 {
                x.watched.remove(key);
            }
        }
        if x.is_idle() {
            self.extra = None;
        }
    }

    /// Deletes every key.
    pub(crate) fn clear(&mut self) {
        if let Some(x) = self.extra.as_mut() {
            // Only keys that held something are modified by the flush (a watched key that did
            // not exist stays clean, as Redis's `touchAllWatchedKeysInDb`).
            let map = &self.map;
            x.watched.iter_mut().filter(|(k, _)| map.get(k).is_some()).for_each(|(_, w)| w.1 += 1);
            if x.tracking {
                x.dirty.clear();
                x.cleared = true;
            }
        }
        // Streams callers are blocked on go too: their group readers are told (`stream_gone`).
        let streams: Vec<Box<[u8]>> = self.extra.as_ref().map_or_else(Vec::new, |x| {
            let stream = |k: &[u8]| matches!(self.map.get(k).map(|e| &e.value), Some(Value::Stream(_)));
            x.blocked.keys().filter(|k| stream(k)).cloned().collect()
        });
        self.map = Records::default();
        self.added |= RESHAPED;
        self.expires.clear();
        self.entry_bytes = 0;
        self.unsettled = None;
        self.unsettled_any = false;
        streams.iter().for_each(|k| self.stream_gone(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(Str::from(v))
    }

    /// A volatile sample holds only keys with a TTL, distinct, at least one whenever there is
    /// one, from any place; none from a table without one.
    #[test]
    fn volatile_samples_are_keys_with_a_ttl() {
        let mut t = Table::default();
        assert_eq!(t.sample_volatile(7, &mut [None; 8]), 0);
        for i in 0..1000 {
            t.insert(format!("plain:{i}").as_bytes(), s("v"), None);
        }
        assert_eq!(t.sample_volatile(7, &mut [None; 8]), 0);
        for i in 0..12u64 {
            t.insert(format!("ttl:{i}").as_bytes(), s("v"), Some(1_000 + i * 10));
        }
        for at in [0, 1, 5, 55, 119, 120, u64::MAX]
            .into_iter()
            .chain((0..200).map(|_| crate::rng::random_u64()))
        {
            for len in [1, 8, 20] {
                let mut out = vec![None; len];
                let got = t.sample_volatile(at, &mut out);
                assert!((1..=len.min(12)).contains(&got), "at {at}, {len} asked: {got}");
                assert!(out[got..].iter().all(Option::is_none));
                let keys: std::collections::HashSet<&[u8]> =
                    out.iter().flatten().map(|s| s.key()).collect();
                assert_eq!(keys.len(), got, "distinct, at {at}");
                assert!(keys.iter().all(|k| k.starts_with(b"ttl:")), "at {at}: {keys:?}");
            }
        }
    }

    /// Over many samples every key with a TTL turns up: 20 keys of one deadline among 1,000
    /// without a TTL, and 100 keys of one deadline alone.
    #[test]
    fn volatile_samples_reach_every_key_of_one_deadline() {
        for plain in [1000, 0] {
            let mut t = Table::default();
            for i in 0..plain {
                t.insert(format!("plain:{i}").as_bytes(), s("v"), None);
            }
            let n = if plain > 0 { 20 } else { 100 };
            for i in 0..n {
                t.insert(format!("ttl:{i}").as_bytes(), s("v"), Some(5_000));
            }
            let mut seen = std::collections::HashSet::new();
            for _ in 0..3000 {
                let mut out = [None; 8];
                let got = t.sample_volatile(crate::rng::random_u64(), &mut out);
                assert!(got > 0);
                seen.extend(out.iter().flatten().map(|s| s.key().to_vec()));
            }
            assert_eq!(seen.len(), n, "{plain} keys without a TTL");
        }
    }

    /// The short-key path of `scan_hash` sees every byte and the length: keys of 0 to 17 bytes
    /// (17 takes ahash) that differ in one byte, or only in trailing zeros, hash apart, and a
    /// run of counter keys (what a cache stores) spreads over both the tag bits and the home
    /// bits a table uses.
    #[test]
    fn scan_hash_sees_every_byte_and_the_length() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..=17usize {
            let base = vec![0u8; n];
            assert!(seen.insert(scan_hash(&base)), "zeros of length {n}");
            for at in 0..n {
                for bit in 0..8 {
                    let mut k = base.clone();
                    k[at] ^= 1 << bit;
                    assert!(seen.insert(scan_hash(&k)), "length {n}, byte {at}, bit {bit}");
                }
            }
        }
        let (mut tags, mut homes) = ([0u32; 128], [0u32; 64]);
        for i in 0..64_000u32 {
            let h = scan_hash(format!("key:{i:012}").as_bytes());
            tags[(h >> 57) as usize] += 1;
            homes[((h as u32 as u64 * 64) >> 32) as usize] += 1;
        }
        // 500 and 1000 expected per bucket: a skewed hash would leave some near empty.
        assert!(tags.iter().all(|&c| (350..650).contains(&c)), "{tags:?}");
        assert!(homes.iter().all(|&c| (800..1200).contains(&c)), "{homes:?}");
    }

    #[test]
    fn expiry_index_follows_every_change() {
        let clock = Clock::manual(1000);
        let now = Now::new(&clock);
        let mut t = Table::new();
        t.insert(b"a", s("1"), Some(1500));
        t.insert(b"b", s("2"), None);
        t.insert(b"c", s("3"), Some(1200));
        assert_eq!(t.volatile_len(), 2);
        assert_eq!(t.next_deadline(), Some(1200));
        t.insert(b"c", s("3"), None);
        assert_eq!(t.next_deadline(), Some(1500));
        assert!(t.set_expire(b"b", Some(1100)));
        assert!(!t.set_expire(b"zz", Some(1100)));
        assert_eq!(t.next_deadline(), Some(1100));
        t.remove(b"b");
        assert_eq!(t.volatile_len(), 1);
        clock.set(1500);
        assert!(t.get(b"a", &Now::new(&clock)).is_some(), "alive through its deadline's millisecond");
        clock.set(1501);
        let now2 = Now::new(&clock);
        assert!(t.get(b"a", &now2).is_none(), "expired keys read as missing");
        assert!(now2.saw_expired());
        assert_eq!(t.len(), 2, "but stay stored until purged");
        assert_eq!(t.purge_expired(1500, 10), 0);
        assert_eq!(t.purge_expired(1501, 10), 1);
        assert_eq!((t.len(), t.volatile_len()), (1, 0));
        assert!(t.get(b"c", &now).is_some());
    }

    /// `remove_if` removes only when the predicate holds, and then exactly as `remove` does
    /// (length, deadline index and byte count), in the one lookup eviction relies on.
    #[test]
    fn remove_if_removes_only_what_the_predicate_admits() {
        let mut t = Table::new();
        t.insert(b"a", s("1"), Some(1500));
        t.insert(b"b", s("22"), None);
        let used = t.used();
        assert!(t.remove_if(b"a", |e| e.expire_at().is_none()).is_none());
        assert_eq!((t.len(), t.volatile_len(), t.used()), (2, 1, used));
        assert!(t.remove_if(b"zz", |_| true).is_none());
        let e = t.remove_if(b"a", |e| e.expire_at() == Some(1500)).expect("removed");
        assert_eq!(e.expire_at(), Some(1500));
        assert_eq!((t.len(), t.volatile_len(), t.next_deadline()), (1, 0, None));
        assert!(t.used() < used);
        assert!(t.remove_if(b"b", |_| true).is_some());
        assert_eq!((t.len(), t.used()), (0, Table::new().used()));
    }

    #[test]
    fn get_mut_deletes_expired() {
        let clock = Clock::manual(11);
        let mut t = Table::new();
        t.insert(b"a", s("1"), Some(10));
        assert!(t.get_mut(b"a", &Now::new(&clock)).is_none());
        assert_eq!((t.len(), t.volatile_len()), (0, 0));
    }
}
