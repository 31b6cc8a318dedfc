//! Per-node counters, striped by thread so hot commands on many threads do not fight over
//! one cache line.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Counter indexes below the per-command counters.
pub(crate) const HITS: usize = 0;
pub(crate) const MISSES: usize = 1;
pub(crate) const EVICTED: usize = 2;
pub(crate) const EXPIRED: usize = 3;
pub(crate) const REROUTES: usize = 4;
pub(crate) const ASKS: usize = 5;
pub(crate) const TRYAGAINS: usize = 6;
/// Command `i` (its index in the command table) counts at `FIRST_COMMAND + i`.
pub(crate) const FIRST_COMMAND: usize = 7;

const STRIPES: usize = 16;

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline(always)]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // `try_with`, not `with`: without `with`'s panic path the lookup is small enough to be
    // inlined into every command (a call and an indirect call otherwise). A thread on its way
    // out counts in stripe 0.
    STRIPE
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
            }
            s.get()
        })
        .unwrap_or(0)
}

/// Counters per row: every counter above, then one per command, to a multiple of 8 so rows
/// do not share cache lines.
const WIDTH: usize = (FIRST_COMMAND + crate::command::COUNT).next_multiple_of(8);

/// Counters of one node.
pub(crate) struct Stats {
    /// One row of counters per stripe. Both sizes are constants, so a command's count takes
    /// no bounds check but the command's own index (a GET spent 35 instructions here when
    /// the width was a field).
    rows: Box<[[AtomicU64; WIDTH]; STRIPES]>,
}

impl Stats {
    pub(crate) fn new() -> Stats {
        Stats { rows: Box::new(std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0)))) }
    }

    /// The calling thread's row.
    #[inline(always)]
    fn row(&self) -> &[AtomicU64; WIDTH] {
        &self.rows[stripe() % STRIPES]
    }

    #[inline]
    pub(crate) fn add(&self, counter: usize, n: u64) {
        if n != 0 {
            if let Some(c) = self.row().get(counter) {
                c.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Counts one command and its lookups with a single stripe lookup. A row belongs to one
    /// thread unless more than `STRIPES` threads run commands, so a plain load and store
    /// (no locked instruction on the hot path) suffices; threads sharing a row may then lose
    /// a count now and then, which statistics can afford.
    #[inline]
    pub(crate) fn add_command(&self, cmd: usize, hits: u32, misses: u32) {
        let row = self.row();
        let bump = |c: &AtomicU64, n: u64| c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        if hits != 0 {
            bump(&row[HITS], hits.into());
        }
        if misses != 0 {
            bump(&row[MISSES], misses.into());
        }
        if let Some(c) = row.get(FIRST_COMMAND.saturating_add(cmd)) {
            bump(c, 1);
        }
    }

    pub(crate) fn get(&self, counter: usize) -> u64 {
        self.rows.iter().filter_map(|r| r.get(counter)).map(|c| c.load(Ordering::Relaxed)).sum()
    }

    pub(crate) fn reset(&self) {
        self.rows.iter().flatten().for_each(|c| c.store(0, Ordering::Relaxed));
    }
}

/// What one node has counted since it started (or since `CONFIG RESETSTAT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// The node.
    pub node: Option<crate::NodeId>,
    /// Key lookups that found a live key (`keyspace_hits`).
    pub hits: u64,
    /// Key lookups that found nothing (`keyspace_misses`).
    pub misses: u64,
    /// Keys removed to stay within `max_memory` (`evicted_keys`).
    pub evictions: u64,
    /// Keys removed because their TTL passed (`expired_keys`).
    pub expired: u64,
    /// Redirects this node gave: a command found the slot had moved away (the in-process
    /// `MOVED`, followed or handed to a raw client), or met a key-by-key migration (`ASK`,
    /// `TRYAGAIN`). Counted on the node that redirected.
    pub redirects: u64,
    /// Of `redirects`, the `ASK`s: a migrating slot's missing keys sent to the target.
    pub asks: u64,
    /// Of `redirects`, the `TRYAGAIN`s: multi-key commands whose keys a migration split.
    pub try_agains: u64,
    /// Keys stored now.
    pub keys: usize,
    /// Bytes held now.
    pub memory: usize,
    /// Callers blocked now on keys of this node (`BLPOP`, `BLMOVE`, `BZPOPMIN`, ...), as
    /// `blocked_clients` in `INFO clients`: tests wait on it instead of sleeping until a
    /// caller has blocked.
    pub blocked_clients: usize,
    /// Commands run, by lowercase name (only those run at least once).
    pub commands: std::collections::BTreeMap<&'static str, u64>,
}

impl NodeStats {
    /// `hits / (hits + misses)`, or 0 before any lookup.
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }

    /// Adds `other`'s counts to these (for the cluster total).
    pub(crate) fn absorb(&mut self, other: &NodeStats) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.evictions += other.evictions;
        self.expired += other.expired;
        self.redirects += other.redirects;
        self.asks += other.asks;
        self.try_agains += other.try_agains;
        self.keys += other.keys;
        self.memory += other.memory;
        self.blocked_clients += other.blocked_clients;
        for (name, n) in &other.commands {
            *self.commands.entry(name).or_insert(0) += n;
        }
    }
}

impl Stats {
    /// The counters as a [`NodeStats`] (keys and memory left for the caller to fill).
    pub(crate) fn snapshot(&self) -> NodeStats {
        let commands = crate::command::names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| (name, self.get(FIRST_COMMAND + i)))
            .filter(|(_, n)| *n > 0)
            .collect();
        NodeStats {
            node: None,
            hits: self.get(HITS),
            misses: self.get(MISSES),
            evictions: self.get(EVICTED),
            expired: self.get(EXPIRED),
            redirects: self.get(REROUTES),
            asks: self.get(ASKS),
            try_agains: self.get(TRYAGAINS),
            keys: 0,
            memory: 0,
            blocked_clients: 0,
            commands,
        }
    }
}
