//! Nodes (level 3): per-slot tables under locks, and the thread each node runs.
//!
//! A caller's command runs on the caller's thread: it locks the slot's cell on the owning node
//! and runs there (see `Registry::read`/`write`). A cell holding `None` means the node does
//! not hold that slot (never had it, or it moved away, or the node crashed); finding `None`
//! under the lock tells the caller to read the route again. This lock is the linearization
//! point against migration and failover. Each node's own thread does the work that is not a
//! caller's command: active expiry now; replication, migration and heartbeats as they come.

mod announce;
mod batch;
mod blocking;
mod evict;
mod failover;
mod marks;
mod migrate;
mod monitor;
mod registry;
mod replica;
mod scale;
pub(crate) mod stats;

pub(crate) use failover::Fleet;
use monitor::Monitor;
pub(crate) use replica::last_write;
use replica::{Control, Repl};

pub use stats::NodeStats;

pub(crate) use batch::Count;
pub(crate) use blocking::{Blocking, Serve, WaitsFor, Wake};
use registry::Miss;
pub(crate) use registry::{Registry, Via};

use blocking::Blocked;
pub(crate) use evict::Budget;
use evict::Pool;
use marks::Marks;
use stats::{Stats, EXPIRED};

use crate::clock::Clock;
use crate::ids::NodeId;
use crate::keyspace::{Db, Hint, Now, Shape, Table};
use crate::slot::SLOTS;
use crossbeam_channel::Sender;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A boxed array of `N` values made by `f`, built on the heap (a 1 MiB array of cells would
/// not fit on a thread's stack on its way into the box).
pub(crate) fn boxed_array<T, const N: usize>(f: impl FnMut() -> T) -> Box<[T; N]> {
    let all: Box<[T]> = std::iter::repeat_with(f).take(N).collect();
    all.try_into().unwrap_or_else(|_| unreachable!("N values"))
}

/// One slot's cell, padded to a cache line so neighbouring slots' locks do not share one.
#[repr(align(64))]
#[derive(Default)]
struct Cell(RwLock<Option<Table>>);

/// Keys deleted under one acquisition of a slot's write lock during active expiry, so a slot
/// full of expiring keys never holds callers off for long.
const EXPIRE_BATCH: usize = 64;

/// One node's keyspace: a cell per slot.
pub(crate) struct Node {
    pub(crate) id: NodeId,
    /// One per slot; a fixed-size array, so a slot index known to be below 16384 (a key's
    /// slot) takes no bounds check.
    cells: Box<[Cell; SLOTS]>,
    /// Where each slot's table keeps its hash groups, readable without the slot's lock: a
    /// read starts loading its key's group before it locks (see [`Hint`]).
    hints: Box<[Hint; SLOTS]>,
    /// Callers blocked on keys, per slot. Locked only while the slot's cell is write-locked.
    blocked: Mutex<HashMap<u16, Blocked>>,
    clock: Clock,
    pub(crate) stats: Stats,
    /// The cluster's memory budget and eviction policy.
    budget: Arc<Budget>,
    /// Bytes this node's tables hold, kept current while a budget is set (`recount` starts it).
    used: AtomicUsize,
    /// The slots this node holds, ascending: its share of the budget, and where whole-node
    /// walks look (instead of all 16384 cells).
    held: RwLock<Vec<u16>>,
    /// `held.len()`, readable without the lock on every write under a budget.
    held_count: AtomicUsize,
    /// Eviction candidates between evictions.
    pool: Mutex<Pool>,
    /// The slot the next active expiry pass starts at (see `active_expire_cycle`).
    expire_from: AtomicUsize,
    /// Which held slots have keys, and keys with a TTL (see `marks`). Boxed: about 4 KiB that
    /// only writes, eviction, active expiry and `RANDOMKEY` touch, kept out of the lines every
    /// command reads.
    marks: Box<Marks>,
    /// Replication and liveness: streams out (primary), applied offset (replica), heartbeat.
    pub(crate) repl: Repl,
}

impl Node {
    pub(crate) fn new(id: NodeId, clock: Clock, budget: Arc<Budget>) -> Node {
        Node {
            id,
            cells: boxed_array(Cell::default),
            hints: boxed_array(Hint::default),
            blocked: Mutex::new(HashMap::new()),
            clock,
            stats: Stats::new(),
            budget,
            used: AtomicUsize::new(0),
            held: RwLock::new(Vec::new()),
            held_count: AtomicUsize::new(0),
            pool: Mutex::new(Pool::new()),
            expire_from: AtomicUsize::new(0),
            marks: Box::default(),
            repl: Repl::default(),
        }
    }

    /// Runs `f` on `slot`'s table under the read lock; None if this node does not hold it.
    /// A read that met an expired key deletes the slot's expired keys afterwards, as Redis
    /// deletes on access. `cmd` (a command-table index, or `usize::MAX`) is counted.
    #[inline]
    pub(crate) fn read<R>(
        &self,
        slot: usize,
        cmd: usize,
        f: impl FnOnce(&Table, &Now<'_>) -> R,
    ) -> Option<R> {
        let now = Now::with_access(&self.clock, self.budget.access());
        let r = {
            let guard = self.cells[slot].0.read();
            f(guard.as_ref()?, &now)
        };
        self.count(cmd, &now);
        // Replicas never expire on their own: the primary's stream carries the deletion.
        if now.saw_expired() && !self.repl.is_replica() {
            self.purge(slot, now.ms());
        }
        Some(r)
    }

    /// Starts loading the hash group of `slot`'s table that a lookup of `hash` (a key's
    /// `scan_hash`) reads first, without the slot's lock (see [`Hint`]).
    #[inline(always)]
    pub(crate) fn prefetch_group(&self, slot: usize, hash: u64) {
        self.hints[slot].prefetch(hash);
    }

    /// [`Node::read`] for a primary that holds `slot` with no migration under way: None (and
    /// `f` not run) otherwise, for the caller to take the general path. `hash` is the
    /// `scan_hash` of the key `f` reads: its hash group starts loading before the lock is
    /// taken (see [`Hint`]).
    #[inline]
    pub(crate) fn read_stable<R>(
        &self,
        slot: usize,
        cmd: usize,
        hash: u64,
        f: impl FnOnce(&Table, &Now<'_>) -> R,
    ) -> Option<R> {
        self.prefetch_group(slot, hash);
        let now = Now::with_access(&self.clock, self.budget.access());
        let r = {
            let guard = self.cells[slot].0.read();
            let table = guard.as_ref()?;
            // Checked under the lock: a failover demotes, and a migration starts, under it.
            if table.moving() != crate::keyspace::Moving::Stable || self.repl.is_replica() {
                return None;
            }
            f(table, &now)
        };
        self.count(cmd, &now);
        if now.saw_expired() {
            self.purge(slot, now.ms());
        }
        Some(r)
    }

    /// Runs `f` on `slot`'s table under the write lock; None if this node does not hold it.
    #[inline]
    pub(crate) fn write<R>(&self, slot: usize, f: impl FnOnce(&mut Table, &Now<'_>) -> R) -> Option<R> {
        self.write_cmd(slot, usize::MAX, f)
    }

    /// [`Node::write`], counting command `cmd`.
    #[inline]
    pub(crate) fn write_cmd<R>(
        &self,
        slot: usize,
        cmd: usize,
        f: impl FnOnce(&mut Table, &Now<'_>) -> R,
    ) -> Option<R> {
        let now = self.write_now();
        let mut guard = self.cells[slot].0.write();
        let table = guard.as_mut()?;
        let before = self.before_write(table, &now);
        let r = f(table, &now);
        self.after_write(slot, table, &now, before);
        self.publish_events(&now);
        self.count(cmd, &now);
        Some(r)
    }

    /// [`Node::write_cmd`] for a primary that holds `slot` with no migration under way: runs
    /// (and takes) `f` then; None, `f` left in place, otherwise.
    #[inline]
    pub(crate) fn write_stable<R, F: FnOnce(&mut Table, &Now<'_>) -> R>(
        &self,
        slot: usize,
        cmd: usize,
        f: &mut Option<F>,
    ) -> Option<R> {
        let now = self.write_now();
        let mut guard = self.cells[slot].0.write();
        let table = guard.as_mut()?;
        // Checked under the lock: see `read_stable` (and a demoted node must not take a
        // write its replica copy would lose).
        if table.moving() != crate::keyspace::Moving::Stable || self.repl.is_replica() {
            return None;
        }
        let before = self.before_write(table, &now);
        let r = f.take()?(table, &now);
        self.after_write(slot, table, &now, before);
        self.publish_events(&now);
        self.count(cmd, &now);
        Some(r)
    }

    /// The time and settings of one write: its access stamping, and the keyspace
    /// notification classes it records events of (one relaxed load; 0 when off).
    #[inline]
    fn write_now(&self) -> Now<'_> {
        Now::with_access(&self.clock, self.budget.access()).notifying(self.budget.hub.notify_effective())
    }

    /// Publishes the keyspace events a write recorded, still under the slot's lock so a
    /// key's events leave in the order of its writes. One branch when there are none.
    #[inline]
    pub(super) fn publish_events(&self, now: &Now<'_>) {
        if now.has_events() {
            self.budget.hub.publish_events(now.notify_flags(), now.take_events());
        }
    }

    /// Readies a table for a write: the stamp new keys get, and its size to diff against.
    #[inline]
    fn before_write(&self, table: &mut Table, now: &Now<'_>) -> usize {
        if now.access() != crate::keyspace::Access::None {
            table.prepare(now.access(), now.stamp_ms());
        }
        // A replica applying its primary's writes publishes nothing: the primary did.
        if now.notify_flags() & crate::keyspace::events::NEW != 0 && !self.repl.is_replica() {
            table.record_created();
        }
        if self.budget.limit().is_some() {
            table.used()
        } else {
            0
        }
    }

    /// Settles a write: collection sizes, blocked callers it can serve, the replication
    /// stream, the node's total. Runs under the slot's write lock after every write.
    /// Always inlined: called out of line, a cache-aside loop ran 26 more instructions per
    /// access (callgrind), the call's own cost and what it made the compiler split off.
    #[inline(always)]
    fn after_write(&self, slot: usize, table: &mut Table, now: &Now<'_>, before: usize) {
        table.settle();
        // One branch for a table with no blocked callers, watches or replicas.
        if table.has_extra() {
            if table.has_ready() {
                self.serve_blocked(slot, table, now);
                table.settle();
            }
            if table.has_dirty() {
                self.replicate(slot as u16, table);
            }
            let created = table.take_created();
            if !created.is_empty() {
                now.note_created(created);
            }
        }
        // Every write, budget or not: a budget set later, or a replica promoted, finds the
        // marks already right (see `marks`).
        let added = table.take_added();
        self.marks.note(slot, added);
        if added & crate::keyspace::RESHAPED != 0 {
            self.hints[slot].set(table.shape());
        }
        if self.budget.limit().is_some() {
            let after = table.used();
            if after >= before {
                self.used.fetch_add(after - before, Ordering::Relaxed);
            } else {
                self.used.fetch_sub(
                    (before - after).min(self.used.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
            }
        }
    }

    #[inline]
    fn count(&self, cmd: usize, now: &Now<'_>) {
        let (hits, misses) = now.hits_misses();
        self.stats.add_command(cmd, hits, misses);
    }

    /// Bytes this node's tables hold, counted now.
    pub(crate) fn memory_used(&self) -> usize {
        self.cells.iter().filter_map(|c| c.0.read().as_ref().map(Table::used)).sum()
    }

    /// This node's counters, keys and memory now.
    pub(crate) fn snapshot(&self) -> NodeStats {
        NodeStats {
            node: Some(self.id),
            keys: self.key_count(),
            memory: self.memory_used(),
            blocked_clients: self.blocked.lock().values().map(Blocked::len).sum(),
            ..self.stats.snapshot()
        }
    }

    /// Restarts the running total from a full count (when a budget is set).
    pub(crate) fn recount(&self) {
        self.used.store(self.memory_used(), Ordering::Relaxed);
        self.remark();
    }

    fn serve_blocked(&self, slot: usize, table: &mut Table, now: &Now<'_>) {
        let mut blocked = self.blocked.lock();
        match blocked.get_mut(&(slot as u16)) {
            Some(b) => b.serve(table, now),
            None => drop(table.take_ready()),
        }
    }

    /// Runs a blocking command on `slot`: at once if it can be served, else queues it on
    /// `keys`. Gives `serve` back with the reason if this node does not hold the slot or a
    /// migration redirects the caller (`asking`: it was sent here by `ASK`).
    pub(crate) fn block(
        &self,
        slot: usize,
        id: u64,
        keys: Vec<Box<[u8]>>,
        asking: bool,
        mut serve: Serve,
        wake: Option<Wake>,
    ) -> Result<Blocking, (Serve, Miss)> {
        let now = self.write_now();
        let mut guard = self.cells[slot].0.write();
        let Some(table) = guard.as_mut() else { return Err((serve, Miss::NotHere)) };
        // A replica's copy is not the slot: a caller routed here before a failover demoted
        // this node reads the route again.
        if self.repl.is_replica() {
            return Err((serve, Miss::NotHere));
        }
        match crate::migration::verdict(table, &now, &keys, asking) {
            crate::migration::Verdict::Serve => {}
            v => return Err((serve, Miss::Redirect(v))),
        }
        let before = self.before_write(table, &now);
        let first = (serve.run)(&mut Db::One(table), &now, None);
        self.after_write(slot, table, &now, before);
        self.publish_events(&now);
        if let Some(reply) = first {
            return Ok(Blocking::Done(reply));
        }
        let mut blocked = self.blocked.lock();
        let rx = blocked.entry(slot as u16).or_default().add(id, keys, serve, table, wake);
        Ok(Blocking::Waiting(rx))
    }

    /// Takes a blocked caller off `slot`'s queues. None if this node does not hold the slot;
    /// false if the caller was already served.
    pub(crate) fn cancel_block(&self, slot: usize, id: u64) -> Option<bool> {
        let mut guard = self.cells[slot].0.write();
        let table = guard.as_mut()?;
        let mut blocked = self.blocked.lock();
        let b = blocked.get_mut(&(slot as u16))?;
        let cancelled = b.cancel(id, table);
        if b.is_empty() {
            blocked.remove(&(slot as u16));
        }
        Some(cancelled)
    }

    /// True if callers are blocked on keys of `slot` (asked with the slot's cell locked).
    pub(super) fn has_blocked(&self, slot: usize) -> bool {
        self.blocked.lock().get(&(slot as u16)).is_some_and(|b| !b.is_empty())
    }

    /// Takes `slot`'s blocked callers, to move them with the slot.
    fn take_blocked(&self, slot: usize) -> Option<Blocked> {
        self.blocked.lock().remove(&(slot as u16))
    }

    fn put_blocked(&self, slot: usize, b: Blocked) {
        self.blocked.lock().insert(slot as u16, b);
    }

    /// Takes over callers blocked on `slot` elsewhere (a migration handing the slot over or
    /// rolling back) into `table`'s queues, in their original arrival order, and serves
    /// those whose keys have data here. `table` must be this node's table of `slot`, in its
    /// cell: serving is a write like any other (`after_write` serves the ready callers), so
    /// it reaches the replicas, the node's total and keyspace events now, not with the
    /// slot's next write.
    fn merge_blocked(&self, slot: usize, b: Blocked, table: &mut Table) {
        self.blocked.lock().entry(slot as u16).or_default().absorb(b, table);
        if table.has_ready() {
            let now = self.write_now();
            let before = self.before_write(table, &now);
            self.after_write(slot, table, &now, before);
            self.publish_events(&now);
        }
    }

    /// Gives this node `slot` with `table` (an empty table for a fresh assignment).
    pub(crate) fn attach(&self, slot: usize, table: Table) {
        let mut cell = self.cells[slot].0.write();
        self.gain(slot, &cell, &table);
        *cell = Some(table);
    }

    /// Accounts a table arriving in `cell` (which must not hold one).
    fn gain(&self, slot: usize, cell: &Option<Table>, table: &Table) {
        debug_assert!(cell.is_none());
        let mut held = self.held.write();
        if let Err(i) = held.binary_search(&(slot as u16)) {
            held.insert(i, slot as u16);
        }
        self.held_count.store(held.len(), Ordering::Relaxed);
        self.used.fetch_add(table.used(), Ordering::Relaxed);
        self.marks.record(slot, Some(table));
        self.hints[slot].set(table.shape());
    }

    /// Accounts a table leaving.
    fn lose(&self, slot: usize, table: &Table) {
        let mut held = self.held.write();
        if let Ok(i) = held.binary_search(&(slot as u16)) {
            held.remove(i);
        }
        self.held_count.store(held.len(), Ordering::Relaxed);
        self.marks.record(slot, None);
        self.hints[slot].set(Shape::default());
        let bytes = table.used().min(self.used.load(Ordering::Relaxed));
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The slots this node holds now.
    pub(crate) fn held_slots(&self) -> Vec<u16> {
        self.held.read().clone()
    }

    /// True if this node holds `slot`.
    #[cfg(test)]
    pub(crate) fn holds(&self, slot: usize) -> bool {
        self.cells[slot].0.read().is_some()
    }

    /// Keys stored in the slots this node holds.
    pub(crate) fn key_count(&self) -> usize {
        self.cells.iter().filter_map(|c| c.0.read().as_ref().map(Table::len)).sum()
    }

    /// Empties every table this node holds (`FLUSHALL`), slot by slot.
    pub(crate) fn flush(&self) {
        for slot in self.held_slots() {
            self.write(usize::from(slot), |t, _| t.clear());
        }
    }

    fn purge(&self, slot: usize, now_ms: u64) -> usize {
        let n = self
            .write(slot, |t, now| t.purge_expired_notify(now_ms, EXPIRE_BATCH, Some(now)))
            .unwrap_or(0);
        self.stats.add(EXPIRED, n as u64);
        n
    }

    /// One pass of active expiry over the held slots with keys that have a TTL: deletes keys
    /// whose deadline has passed, a batch per lock acquisition, until `budget` is spent.
    /// Returns the keys deleted. A replica deletes nothing: it waits for its primary's
    /// deletions.
    ///
    /// A pass that runs out of time leaves the next one to start at the slot after the last
    /// it visited (round-robin, as Redis's expiry cycle keeps its place between runs), so a
    /// slot that keeps getting due keys cannot hold the others' expired keys in memory.
    pub(crate) fn active_expire_cycle(&self, budget: Duration) -> usize {
        if self.repl.is_replica() {
            return 0;
        }
        let start = Instant::now();
        let now_ms = self.clock.now_ms();
        let mut deleted = 0;
        let from = self.expire_from.load(Ordering::Relaxed) % SLOTS;
        // Only the slots marked as holding keys with a TTL (see `marks`), not every held slot.
        for slot in self.marks.slots(marks::Marked::Volatile, from) {
            loop {
                let due = {
                    let guard = self.cells[slot].0.read();
                    let due = guard.as_ref().and_then(Table::next_deadline);
                    if due.is_none() {
                        // No key with a TTL left: unmarked under the read lock, as readers do.
                        self.marks.record(slot, guard.as_ref());
                    }
                    due
                };
                if !due.is_some_and(|at| at < now_ms) {
                    break;
                }
                deleted += self.purge(slot, now_ms);
                if start.elapsed() > budget {
                    self.expire_from.store((slot + 1) % SLOTS, Ordering::Relaxed);
                    return deleted;
                }
            }
        }
        deleted
    }
}

/// The thread a node runs, stopped and joined on drop.
pub(crate) struct NodeThread {
    tx: Sender<Control>,
    handle: Option<JoinHandle<()>>,
}

impl NodeThread {
    /// Starts `node`'s thread: it stamps the node's heartbeat every `tick`, applies its
    /// replication stream (as a replica), and every `interval` runs active expiry (Redis's
    /// `hz`).
    pub(crate) fn spawn(
        node: Arc<Node>,
        interval: Duration,
        tick: Duration,
    ) -> std::io::Result<NodeThread> {
        let (tx, rx) = crossbeam_channel::unbounded();
        node.repl.set_control(Some(tx.clone()));
        node.repl.beat(node.clock.now_ms());
        let handle = std::thread::Builder::new()
            .name(format!("slotstore-node-{}", node.id.index()))
            .spawn(move || replica::run(&node, &rx, interval, tick))?;
        Ok(NodeThread { tx, handle: Some(handle) })
    }
}

impl Drop for NodeThread {
    fn drop(&mut self) {
        let _ = self.tx.send(Control::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Str, Value};
    use crate::reply::Reply;

    #[test]
    fn a_cells_hot_fields_share_the_lock_line() {
        // `Table` promises the fields every command reads sit right after the lock word.
        let cell = Cell::default();
        let base = std::ptr::addr_of!(cell) as usize;
        let guard = cell.0.read();
        let table = std::ptr::addr_of!(*guard) as usize;
        assert_eq!(base % 64, 0);
        assert_eq!(table - base, 8, "the lock word comes first");
        assert!(table - base + crate::keyspace::Table::HOT_BYTES <= 64);
    }

    #[test]
    fn cells_say_what_they_hold() {
        let n = Node::new(NodeId(0), Clock::manual(1), Arc::default());
        assert_eq!(n.read(5, usize::MAX, |t, _| t.len()), None);
        n.attach(5, Table::new());
        assert!(n.holds(5));
        n.write(5, |t, _| t.insert(b"k", Value::Str(Str::from("v")), Some(10)));
        assert_eq!(n.read(5, usize::MAX, |t, _| t.len()), Some(1));
        assert_eq!(n.key_count(), 1);
    }

    /// A caller handed over from another node and served on arrival (a migration's handover)
    /// writes through the node's accounting: its running total stays the tables' count.
    #[test]
    fn a_caller_served_on_arrival_is_counted() {
        let budget = Arc::new(Budget::new(Some(1 << 30), crate::EvictionPolicy::NoEviction));
        let (a, b) = (
            Node::new(NodeId(0), Clock::manual(1), Arc::default()),
            Node::new(NodeId(1), Clock::manual(1), budget),
        );
        a.attach(5, Table::new());
        b.attach(5, Table::new());
        b.write(5, |t, _| t.insert(b"ready", Value::Str(Str::from("v")), None));
        b.recount();
        // Waits on `ready` (absent on `a`), and when served stores 1000 bytes under `big`.
        let serve = Serve {
            waits_for: WaitsFor::Group,
            run: Box::new(|db, _, _| {
                let Db::One(t) = db else { return None };
                t.get_raw(b"ready")?;
                t.insert(b"big", Value::Str(Str::from(vec![b'x'; 1000])), None);
                Some(Ok(Reply::Nil))
            }),
        };
        let rx = match a.block(5, 1, vec![Box::from(&b"ready"[..])], false, serve, None) {
            Ok(Blocking::Waiting(rx)) => rx,
            _ => panic!("blocks: `ready` is absent here"),
        };
        let waiting = a.take_blocked(5).expect("queued");
        let mut cell = b.cells[5].0.write();
        b.merge_blocked(5, waiting, cell.as_mut().expect("held"));
        drop(cell);
        assert_eq!(rx.try_recv().ok(), Some(Ok(Reply::Nil)), "served on arrival");
        assert_eq!(b.read(5, usize::MAX, |t, _| t.len()), Some(2));
        assert_eq!(b.used.load(Ordering::Relaxed), b.memory_used());
    }

    /// Every way a table's groups move (growing, shrinking, emptying, flushing, leaving)
    /// leaves the node's hint of them current.
    #[test]
    fn hints_follow_the_groups() {
        let n = Node::new(NodeId(0), Clock::manual(1), Arc::default());
        let current = |n: &Node| n.read(9, usize::MAX, |t, _| t.shape()) == Some(n.hints[9].get());
        n.attach(9, Table::new());
        assert!(current(&n));
        let keys: Vec<[u8; 4]> = (0..300u32).map(u32::to_be_bytes).collect();
        for k in &keys {
            n.write(9, |t, _| t.insert(k, Value::Str(Str::from("v")), None));
            assert!(current(&n), "after growing");
        }
        for k in &keys[10..] {
            n.write(9, |t, _| t.remove(k));
        }
        assert!(current(&n), "after shrinking");
        for k in &keys[..10] {
            n.write(9, |t, _| t.remove(k));
        }
        assert!(current(&n), "after emptying");
        n.write(9, |t, _| t.insert(b"k", Value::Str(Str::from("v")), None));
        n.flush();
        assert!(current(&n), "after a flush");
        n.write(9, |t, _| t.insert(b"k", Value::Str(Str::from("v")), None));
        let table = n.cells[9].0.write().take().expect("held");
        n.lose(9, &table);
        assert_eq!(n.hints[9].get(), Shape::default(), "gone with its table");
    }

    /// A pass out of time leaves the next to start after the slot it stopped in: slot 1's
    /// 500 due keys do not keep slot 2's 10 in memory for 8 passes.
    #[test]
    fn active_expiry_takes_slots_in_turn() {
        let clock = Clock::manual(1000);
        let n = Node::new(NodeId(0), clock.clone(), Arc::default());
        for (slot, keys) in [(1, 500u32), (2, 10)] {
            n.attach(slot, Table::new());
            n.write(slot, |t, _| {
                for i in 0..keys {
                    t.insert(&i.to_be_bytes(), Value::Str(Str::from("v")), Some(1500));
                }
            });
        }
        clock.set(2000);
        // No time at all: each pass stops after its first batch.
        assert_eq!(n.active_expire_cycle(Duration::ZERO), EXPIRE_BATCH);
        assert_eq!(n.active_expire_cycle(Duration::ZERO), 10, "slot 2's turn");
        assert_eq!(n.read(2, usize::MAX, |t, _| t.len()), Some(0));
        assert_eq!(n.active_expire_cycle(Duration::ZERO), EXPIRE_BATCH, "slot 1's again");
    }

    /// A deadline given to a stored key (`EXPIRE` on a plain key) marks its slot as holding
    /// keys with a TTL; a write that adds nothing marks nothing new.
    #[test]
    fn a_deadline_on_a_stored_key_marks_its_slot() {
        let n = Node::new(NodeId(0), Clock::manual(1000), Arc::default());
        n.attach(7, Table::new());
        n.write(7, |t, _| t.insert(b"k", Value::Str(Str::from("v")), None));
        assert_eq!(n.marks.slots(marks::Marked::Keys, 0).collect::<Vec<_>>(), [7]);
        assert_eq!(n.marks.slots(marks::Marked::Volatile, 0).count(), 0);
        n.write(7, |t, _| t.insert(b"k", Value::Str(Str::from("w")), None));
        assert_eq!(n.marks.slots(marks::Marked::Volatile, 0).count(), 0);
        n.write(7, |t, _| assert!(t.set_expire(b"k", Some(5000))));
        assert_eq!(n.marks.slots(marks::Marked::Volatile, 0).collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn active_expiry_deletes_due_keys_only() {
        let clock = Clock::manual(1000);
        let n = Node::new(NodeId(0), clock.clone(), Arc::default());
        for slot in [1, 2, 3] {
            n.attach(slot, Table::new());
            n.write(slot, |t, _| {
                for i in 0..100u32 {
                    let at = if i % 2 == 0 { Some(1500) } else { None };
                    t.insert(&i.to_be_bytes(), Value::Str(Str::from("v")), at);
                }
            });
        }
        // A table arriving with keys that have a TTL (a slot moved in) is expired too.
        let mut moved = Table::new();
        for i in 0..10u32 {
            moved.insert(&i.to_be_bytes(), Value::Str(Str::from("v")), Some(1500));
        }
        n.attach(4, moved);
        // Keys without a TTL only: a slot active expiry has no need to look at.
        n.attach(5, Table::new());
        n.write(5, |t, _| t.insert(b"plain", Value::Str(Str::from("v")), None));
        assert_eq!(n.active_expire_cycle(Duration::from_secs(1)), 0);
        clock.set(1500);
        assert_eq!(n.active_expire_cycle(Duration::from_secs(1)), 0);
        clock.set(1501);
        assert_eq!(n.active_expire_cycle(Duration::from_secs(1)), 160);
        assert_eq!(n.key_count(), 151);
        assert_eq!(n.marks.slots(marks::Marked::Volatile, 0).collect::<Vec<_>>(), [] as [usize; 0]);
    }
}
