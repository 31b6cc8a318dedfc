//! Batched reads and writes: many keys in one call, their memory misses overlapped.
//!
//! A single `GET` on a large keyspace waits on dependent misses (the slot's cell and lock,
//! overlapped with the hash group's, then the record), and the next `GET` cannot start before
//! this one's lock is taken. A batch takes them stage by stage instead: it routes every key
//! and starts loading every cell and (by the node's hint) every group, then locks the cells,
//! starts loading every record, and only then runs the command on each key. Each stage waits
//! about one memory round trip for the whole batch.
//!
//! Every key is served under its slot's lock, as the one-key command is; the batch is not
//! atomic across slots (as `MGET` split by slot is not on a real cluster). Keys this path
//! cannot serve at once (a slot moving key by key, a node failing over, a lock someone
//! holds) are handed back for the caller's one-key path, so the migration and failover rules
//! live in one place.

use super::{Node, Registry};
use crate::ids::NodeId;
use crate::keyspace::{memory::prefetch, scan_hash, Entry, Moving, Now, Table};
use crate::slot::key_slot;
use crate::Error;

/// Keys taken through the stages together; a longer batch is cut into runs of this many.
/// Enough to keep the CPU's outstanding-miss buffers busy, few enough that the locks held
/// at once stay few.
const RUN: usize = 32;

/// One key of a run: where it is in the caller's list, its slot, its table hash, and which
/// of the run's slots holds it.
pub(super) struct Probe {
    at: usize,
    slot: u16,
    hash: u64,
    lock: usize,
}

/// One slot of a run: the node it is routed to and, once taken, its lock.
struct Slot<'a, G> {
    node: &'a Node,
    slot: u16,
    guard: Option<G>,
}

/// How a batch takes and uses a slot's lock (read or write).
trait Access<'a> {
    type Guard;
    /// Readies `node` before any lock of the run is taken; false hands its keys back.
    fn prepare(&self, _node: &Node) -> bool {
        true
    }
    /// The slot's lock if it can be had without waiting and the slot can be served here at
    /// once: held, stable (no key-by-key migration), on a primary.
    fn lock(&self, node: &'a Node, slot: u16) -> Option<Self::Guard>;
    fn table(guard: &Self::Guard) -> &Table;
}

/// How a batch counts its command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// Once per slot read: a cluster client's `MGET` split by slot.
    PerSlot,
    /// Once per key: pipelined `GET`s and `SET`s.
    PerKey,
}

impl Count {
    /// Counts `cmd` for the `keys` of one slot a batch served, with their lookups.
    fn add(self, node: &Node, cmd: usize, keys: usize, now: &Now<'_>) {
        node.count(cmd, now);
        if self == Count::PerKey && keys > 1 {
            let counter = super::stats::FIRST_COMMAND.saturating_add(cmd);
            node.stats.add(counter, keys as u64 - 1);
        }
    }
}

/// Read locks, on any node or (`only`) on one.
struct Read {
    only: Option<NodeId>,
}

impl<'a> Access<'a> for Read {
    type Guard = parking_lot::RwLockReadGuard<'a, Option<Table>>;
    fn prepare(&self, node: &Node) -> bool {
        self.only.map_or(true, |id| id == node.id)
    }
    fn lock(&self, node: &'a Node, slot: u16) -> Option<Self::Guard> {
        let guard = node.cells[usize::from(slot)].0.try_read()?;
        servable(node, &guard).then_some(guard)
    }
    fn table(guard: &Self::Guard) -> &Table {
        guard.as_ref().expect("checked when locked")
    }
}

/// Write locks, on any node or (`only`) on one.
struct Write {
    only: Option<NodeId>,
}

impl<'a> Access<'a> for Write {
    type Guard = parking_lot::RwLockWriteGuard<'a, Option<Table>>;
    /// Makes room under the memory budget before any lock is taken (eviction locks slots),
    /// as a one-key write does; once per slot of a run, so a batch can pass the budget by
    /// one run's values, as a Redis `MSET` can. A node out of memory hands its keys back
    /// for the one-key path to answer `OOM`.
    fn prepare(&self, node: &Node) -> bool {
        self.only.map_or(true, |id| id == node.id) && node.make_room(None).is_ok()
    }
    /// Not a slot with blocked callers either: a write there may serve one (an `LPUSH` a
    /// `BLPOP` waits for), and it must be served after that very write, before the next one
    /// runs (pipelined `LPUSH q a`, `LPUSH q b` give the waiter `a` and answer 1 and 1), as
    /// the one-key path does.
    fn lock(&self, node: &'a Node, slot: u16) -> Option<Self::Guard> {
        let guard = node.cells[usize::from(slot)].0.try_write()?;
        (servable(node, &guard) && !node.has_blocked(usize::from(slot))).then_some(guard)
    }
    fn table(guard: &Self::Guard) -> &Table {
        guard.as_ref().expect("checked when locked")
    }
}

/// True if `cell` is served here by the batch path. A replica's copy is not the slot (see
/// `Registry::write_cmd`), and a moving slot needs the redirect rules of the one-key path.
fn servable(node: &Node, cell: &Option<Table>) -> bool {
    !node.repl.is_replica() && cell.as_ref().is_some_and(|t| t.moving() == Moving::Stable)
}

impl Registry {
    /// Reads `keys` as batches: `f(i, entry)` runs under the read lock of key `i`'s slot
    /// with its live entry (None if missing or expired), for every key this path serves;
    /// `one(i)` serves the others on the caller's one-key path, after each run. `cmd` is
    /// counted as `count` says. With `only`, just the slots routed to that node are served
    /// here (a connection to one node: the others get their redirect from `one`).
    ///
    /// # Errors
    /// The first error of `one`.
    pub(crate) fn read_many<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        (cmd, count): (usize, Count),
        only: Option<NodeId>,
        mut f: impl FnMut(usize, Option<&Entry>),
        one: impl FnMut(usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut expired = Vec::new();
        let served = self.batches(
            keys,
            &Read { only },
            |node, slot, guard, probes| {
                let table = Read::table(guard);
                let now = Now::with_access(&node.clock, node.budget.access());
                for p in probes {
                    f(p.at, table.get_hashed(keys[p.at].as_ref(), p.hash, &now));
                }
                count.add(node, cmd, probes.len(), &now);
                if now.saw_expired() {
                    expired.push((node, slot, now.ms()));
                }
            },
            one,
        );
        // The expired keys the reads met are deleted now that the locks are let go, as a
        // one-key read deletes them.
        for (node, slot, ms) in expired {
            node.purge(usize::from(slot), ms);
        }
        served
    }

    /// Writes `keys` as batches: `f(i, table, now)` runs under the write lock of key `i`'s
    /// slot, with the bookkeeping of a one-key write around each slot's keys (access stamps,
    /// blocked callers, replication, memory, keyspace events); `one(i)` serves the others on
    /// the caller's one-key path, after each run, so a key given twice ends with its last
    /// value whichever path served each. `cmd` is counted as `count` says; `only` as for
    /// [`Registry::read_many`].
    ///
    /// # Errors
    /// The first error of `one`.
    pub(crate) fn write_many_batched<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        (cmd, count): (usize, Count),
        only: Option<NodeId>,
        mut f: impl FnMut(usize, &mut Table, &Now<'_>),
        one: impl FnMut(usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.batches(
            keys,
            &Write { only },
            |node, slot, guard, probes| {
                let table = guard.as_mut().expect("checked when locked");
                let now = node.write_now();
                let before = node.before_write(table, &now);
                for p in probes {
                    f(p.at, table, &now);
                }
                node.after_write(usize::from(slot), table, &now, before);
                node.publish_events(&now);
                count.add(node, cmd, probes.len(), &now);
            },
            one,
        )
    }

    /// The stages every batch goes through, per run of [`RUN`] keys: route and load every
    /// slot's cell, lock the slots (ascending, each once, never waiting: a lock that is not
    /// free at once hands its keys back, so a batch cannot deadlock with a writer holding
    /// several slots), load every key's hash group, then its records; then `serve` runs on
    /// each locked slot with its keys (in the caller's order within a slot). The locks are
    /// let go, and `one` serves the keys handed back, in order.
    fn batches<'a, K: AsRef<[u8]>, A: Access<'a>>(
        &'a self,
        keys: &[K],
        access: &A,
        mut serve: impl FnMut(&'a Node, u16, &mut A::Guard, &[Probe]),
        mut one: impl FnMut(usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut rest = Vec::new();
        let mut probes: Vec<Probe> = Vec::with_capacity(RUN.min(keys.len()));
        let mut slots: Vec<Slot<'a, A::Guard>> = Vec::with_capacity(RUN.min(keys.len()));
        for (run, chunk) in keys.chunks(RUN).enumerate() {
            probes.clear();
            probes.extend(chunk.iter().enumerate().map(|(i, k)| {
                let k = k.as_ref();
                Probe { at: run * RUN + i, slot: key_slot(k), hash: scan_hash(k), lock: usize::MAX }
            }));
            // Stable: a key given twice keeps its order.
            probes.sort_by_key(|p| p.slot);

            // Stage 1: route every slot and start loading its cell. A slot with no route is
            // left to the one-key path (`CLUSTERDOWN`, or a wait for a failover).
            for p in &mut probes {
                if slots.last().map(|s| s.slot) != Some(p.slot) {
                    let Ok(node) = self.route(usize::from(p.slot)) else { continue };
                    if !access.prepare(node) {
                        continue;
                    }
                    prefetch(&node.cells[usize::from(p.slot)]);
                    slots.push(Slot { node, slot: p.slot, guard: None });
                }
                p.lock = slots.len() - 1;
                // The group too, by the node's hint of it (see `Hint`): stage 3 asks again
                // by the table itself, under the lock, in case the hint was stale.
                slots[p.lock].node.prefetch_group(usize::from(p.slot), p.hash);
            }
            // Stage 2: lock.
            for s in &mut slots {
                s.guard = access.lock(s.node, s.slot);
            }
            // Stages 3 and 4: start loading every key's group, then its records.
            let table = |lock: usize| slots.get(lock)?.guard.as_ref().map(A::table);
            for p in &probes {
                if let Some(t) = table(p.lock) {
                    t.prefetch_group(p.hash);
                }
            }
            for p in &probes {
                if let Some(t) = table(p.lock) {
                    t.prefetch_records(p.hash);
                }
            }
            // Stage 5: serve each slot's keys (they are adjacent: probes are in slot order).
            let mut start = 0;
            while start < probes.len() {
                let lock = probes[start].lock;
                let end = start + probes[start..].iter().take_while(|p| p.lock == lock).count();
                match slots.get_mut(lock) {
                    Some(Slot { node, slot, guard: Some(guard) }) => {
                        serve(node, *slot, guard, &probes[start..end]);
                    }
                    _ => rest.extend(probes[start..end].iter().map(|p| p.at)),
                }
                start = end;
            }
            slots.clear();
            rest.sort_unstable();
            rest.drain(..).try_for_each(&mut one)?;
        }
        Ok(())
    }
}
