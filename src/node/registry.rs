//! The registry: every node, the route from each slot to the node serving it, and the current
//! topology snapshot.

use super::stats::REROUTES;
use super::{Blocking, Budget, Node, Serve};
use crate::config::{Config, ReadFrom, MAX_NODES};
use crate::error::{ClusterDownReason, Error};
use crate::ids::NodeId;
use crate::keyspace::{Db, Now, Table};
use crate::replication::Message;
use crate::slot::SLOTS;
use crate::topology::{Role, Topology};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The route of a slot no live node serves: `CLUSTERDOWN Hash slot not served`.
const NO_ROUTE: u32 = u32::MAX;
/// The route of every slot while the cluster is down (full coverage required and lost):
/// `CLUSTERDOWN The cluster is down`. Both share the hot path's single `>=` test.
const DOWN_ROUTE: u32 = u32::MAX - 1;

/// A caller that finds the routed node no longer holds the slot reads the route again; this
/// bounds how often before it reports the slot as not served (a bug guard: a route always
/// changes before the old holder's lock is released).
const MAX_REROUTES: usize = 64;

/// Every node, and where each slot is served.
///
/// The hot path reads `routes` (one atomic load, no shared write) and the node array (a
/// `OnceLock` per node, written once), then locks the slot's cell on that node. The topology
/// snapshot behind the `RwLock` is for the control plane and for `CLUSTER` replies; the routes
/// mirror its slot owners and are updated under the slot locks whenever it changes.
pub(crate) struct Registry {
    nodes: Box<[OnceLock<Arc<Node>>]>,
    routes: Box<[AtomicU32]>,
    topology: RwLock<Arc<Topology>>,
    /// The memory budget all nodes share.
    pub(crate) budget: Arc<Budget>,
    /// Ids for blocked callers.
    next_waiter: AtomicU64,
    /// Serializes control-plane changes (slot moves, failovers): one at a time.
    pub(super) control: Mutex<()>,
    pub(crate) clock: crate::clock::Clock,
    /// How long a caller keeps retrying a slot whose shard is failing over.
    retry_budget: Duration,
    /// A slot no node serves takes the whole cluster down (Redis's default).
    require_full_coverage: bool,
}

impl Registry {
    /// Creates the nodes of `topology`, gives each primary empty tables for its slots and
    /// routes every slot to its owner.
    pub(crate) fn new(topology: Topology, config: &Config, budget: Arc<Budget>) -> Registry {
        let clock = config.clock.clone();
        let reg = Registry {
            nodes: (0..MAX_NODES).map(|_| OnceLock::new()).collect(),
            routes: (0..SLOTS).map(|_| AtomicU32::new(NO_ROUTE)).collect(),
            topology: RwLock::new(Arc::new(topology.clone())),
            budget: budget.clone(),
            control: Mutex::new(()),
            next_waiter: AtomicU64::new(1),
            clock,
            retry_budget: config.retry_budget(),
            require_full_coverage: config.require_full_coverage,
        };
        for info in topology.nodes() {
            let node = Node::new(info.id, reg.clock.clone(), budget.clone());
            let _ = reg.nodes[info.id.index()].set(Arc::new(node));
        }
        for slot in 0..SLOTS {
            if let Some(owner) = topology.slot_owner(slot as u16) {
                reg.nodes[owner.index()].get().expect("owner exists").attach(slot, Table::new());
                reg.routes[slot].store(owner.0, Ordering::Release);
            }
        }
        reg
    }

    /// The node with this id, if it exists.
    pub(crate) fn node(&self, id: NodeId) -> Option<&Arc<Node>> {
        self.nodes.get(id.index())?.get()
    }

    /// The current topology snapshot.
    pub(crate) fn topology(&self) -> Arc<Topology> {
        self.topology.read().clone()
    }

    /// The node `slot` is routed to.
    #[inline]
    fn route(&self, slot: usize) -> Result<&Node, Error> {
        let id = self.routes[slot].load(Ordering::Acquire);
        if id >= DOWN_ROUTE {
            return Err(Error::ClusterDown(if id == NO_ROUTE {
                ClusterDownReason::Unbound
            } else {
                ClusterDownReason::Down
            }));
        }
        self.nodes[id as usize].get().map(|n| &**n).ok_or(Error::ClusterDown(ClusterDownReason::Unbound))
    }

    /// Runs `run` on the node serving `slot` until it finds the slot there (`Some`). A node
    /// that no longer holds the slot makes the caller read the route again; a route that
    /// stays stale (the shard's primary crashed or hangs and a failover is on its way) is
    /// retried with backoff for the retry budget, then `CLUSTERDOWN Hash slot not served`.
    #[inline]
    fn on_route<R>(
        &self,
        slot: usize,
        mut run: impl FnMut(&Node) -> Result<Option<R>, Error>,
    ) -> Result<R, Error> {
        for _ in 0..MAX_REROUTES {
            let node = self.route(slot)?;
            if let Some(r) = run(node)? {
                return Ok(r);
            }
            node.stats.add(REROUTES, 1);
        }
        self.retry_route(slot, run)
    }

    #[cold]
    #[inline(never)]
    fn retry_route<R>(
        &self,
        slot: usize,
        mut run: impl FnMut(&Node) -> Result<Option<R>, Error>,
    ) -> Result<R, Error> {
        let deadline = Instant::now() + self.retry_budget;
        let mut pause = Duration::from_micros(200);
        while Instant::now() < deadline {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
            let node = self.route(slot)?;
            if let Some(r) = run(node)? {
                return Ok(r);
            }
        }
        Err(Error::ClusterDown(ClusterDownReason::Unbound))
    }

    /// Publishes `next` and points every slot's route at what it says: the owner if it is
    /// live, no route if it failed (no replica took over), the cluster-down route everywhere
    /// if a slot is unserved and full coverage is required. The caller holds the control
    /// lock; tables have moved before the routes do.
    pub(super) fn publish(&self, next: Topology) {
        let route_of = |slot: u16| match next.slot_owner(slot) {
            Some(o) if !next.node(o).is_some_and(|n| n.failed) => o.0,
            _ => NO_ROUTE,
        };
        let down = self.require_full_coverage && (0..SLOTS as u16).any(|s| route_of(s) == NO_ROUTE);
        let routes: Vec<u32> =
            (0..SLOTS).map(|slot| if down { DOWN_ROUTE } else { route_of(slot as u16) }).collect();
        // The snapshot first: a caller whose command ran on a new route must find the new
        // topology too. A caller that reads a route not yet updated meets an empty cell on
        // the old primary and reads the route again.
        *self.topology.write() = Arc::new(next);
        for (slot, r) in routes.into_iter().enumerate() {
            if self.routes[slot].load(Ordering::Acquire) != r {
                self.routes[slot].store(r, Ordering::Release);
            }
        }
    }

    /// Runs a read as `mode` says: on a replica of the slot's primary (possibly stale), or
    /// on the primary. `turn` spreads reads for the spreading modes.
    ///
    /// # Errors
    /// As [`Registry::read_cmd`].
    pub(crate) fn read_from<R>(
        &self,
        slot: u16,
        cmd: usize,
        mode: ReadFrom,
        turn: usize,
        f: impl FnOnce(&Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let mut f = Some(f);
        if let Some(node) = self.pick_replica(slot, mode, turn) {
            if let Some(r) =
                node.read(usize::from(slot), cmd, |t, now| f.take().expect("runs once")(t, now))
            {
                return Ok(r);
            }
        }
        self.read_cmd(slot, cmd, |t, now| f.take().expect("runs once")(t, now))
    }

    /// The replica a read should go to, None for the primary.
    fn pick_replica(&self, slot: u16, mode: ReadFrom, turn: usize) -> Option<&Node> {
        let owner = self.routes[usize::from(slot)].load(Ordering::Acquire);
        if owner >= DOWN_ROUTE || mode == ReadFrom::Primary {
            return None;
        }
        let t = self.topology();
        let live: Vec<&Node> = t
            .replicas_of(NodeId(owner))
            .into_iter()
            .filter(|r| !t.node(*r).is_some_and(|n| n.failed))
            .filter_map(|r| self.node(r).map(|n| &**n))
            .filter(|n| n.repl.is_synced() && !n.repl.is_dead() && !n.repl.is_paused())
            .collect();
        match mode {
            ReadFrom::Primary => None,
            ReadFrom::Replica => live.first().copied(),
            ReadFrom::PreferReplica if live.is_empty() => None,
            ReadFrom::PreferReplica => Some(live[turn % live.len()]),
            ReadFrom::RoundRobin => {
                let i = turn % (live.len() + 1);
                (i > 0).then(|| live[i - 1])
            }
        }
    }

    /// `WAIT`: how many replicas of the primary that took the calling thread's last
    /// replicated write have applied it, waiting up to `timeout` (None: forever) for `n`.
    pub(crate) fn wait(&self, n: usize, timeout: Option<Duration>) -> usize {
        self.wait_for(super::last_write(), n, timeout)
    }

    /// `WAIT` for a given write: its primary and offset (None: no write, answers 0).
    pub(crate) fn wait_for(
        &self,
        write: Option<(NodeId, u64)>,
        n: usize,
        timeout: Option<Duration>,
    ) -> usize {
        let Some((primary, offset)) = write else { return 0 };
        let deadline = timeout.map(|d| Instant::now() + d);
        loop {
            let t = self.topology();
            let acked = t
                .replicas_of(primary)
                .into_iter()
                .filter_map(|r| self.node(r))
                .filter(|r| !r.repl.is_dead() && r.repl.is_synced() && r.repl.applied() >= offset)
                .count();
            if acked >= n || deadline.is_some_and(|d| Instant::now() >= d) {
                return acked;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// The replication offset `id` reports: sent (primary) or applied (replica).
    pub(crate) fn offset_of(&self, id: NodeId) -> u64 {
        self.node(id).map_or(0, |n| n.repl.reported_offset())
    }

    /// Runs `f` under the read lock of `slot` on the node that holds it.
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if no node holds the slot.
    #[inline]
    pub(crate) fn read<R>(&self, slot: u16, f: impl FnOnce(&Table, &Now<'_>) -> R) -> Result<R, Error> {
        self.read_cmd(slot, usize::MAX, f)
    }

    /// [`Registry::read`], counting command `cmd` (a command-table index) on the node.
    #[inline]
    pub(crate) fn read_cmd<R>(
        &self,
        slot: u16,
        cmd: usize,
        f: impl FnOnce(&Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let slot = usize::from(slot);
        let mut f = Some(f);
        self.on_route(slot, |node| {
            Ok(node.read(slot, cmd, |t, now| f.take().expect("runs once")(t, now)))
        })
    }

    /// Runs `f` under the write lock of `slot` on the node that holds it.
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if no node holds the slot.
    #[inline]
    pub(crate) fn write<R>(
        &self,
        slot: u16,
        f: impl FnOnce(&mut Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        self.write_cmd(slot, usize::MAX, false, f)
    }

    /// [`Registry::write`], counting command `cmd`; a write that may `grow` memory first
    /// makes room under the budget (evicting, or refusing with `OOM`).
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served`; `OOM` when a growing write finds no room.
    #[inline]
    pub(crate) fn write_cmd<R>(
        &self,
        slot: u16,
        cmd: usize,
        grow: bool,
        f: impl FnOnce(&mut Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let slot = usize::from(slot);
        let mut f = Some(f);
        self.on_route(slot, |node| {
            if grow {
                node.make_room()?;
            }
            Ok(node.write_cmd(slot, cmd, |t, now| f.take().expect("runs once")(t, now)))
        })
    }

    /// Runs a blocking command on `slot`'s holder: at once if it can be served, else queued
    /// there. Returns the caller's id (for [`Registry::cancel_block`]) and the outcome.
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if no node holds the slot.
    pub(crate) fn block(
        &self,
        slot: u16,
        keys: Vec<Box<[u8]>>,
        serve: Serve,
    ) -> Result<(u64, Blocking), Error> {
        let id = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let slot = usize::from(slot);
        let mut serve = Some(serve);
        self.on_route(slot, |node| {
            node.make_room()?;
            match node.block(slot, id, keys.clone(), serve.take().expect("given back")) {
                Ok(outcome) => Ok(Some((id, outcome))),
                Err(s) => {
                    serve = Some(s);
                    Ok(None)
                }
            }
        })
    }

    /// Takes a blocked caller off its slot's queues wherever the slot is now; false if it was
    /// already served (or its node is gone).
    pub(crate) fn cancel_block(&self, slot: u16, id: u64) -> bool {
        let slot = usize::from(slot);
        for _ in 0..MAX_REROUTES {
            let Ok(node) = self.route(slot) else { return false };
            if let Some(cancelled) = node.cancel_block(slot, id) {
                return cancelled;
            }
        }
        false
    }

    /// Runs `f` with the tables of `slots` (ascending, no repeats) all write-locked: the
    /// atomic path of cross-slot commands and transactions. Locks are taken in ascending slot
    /// order, so two such callers cannot deadlock; if a slot moved while this caller waited,
    /// every lock is released and the whole set taken again.
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if a slot has no holder.
    pub(crate) fn write_many<R>(
        &self,
        slots: &[u16],
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        debug_assert!(slots.windows(2).all(|w| w[0] < w[1]), "slots ascending, no repeats");
        'retry: for _ in 0..MAX_REROUTES {
            let mut held = Vec::with_capacity(slots.len());
            for &slot in slots {
                let node = self.route(usize::from(slot))?;
                let guard = node.cells[usize::from(slot)].0.write();
                if guard.is_none() {
                    continue 'retry;
                }
                held.push((slot, node, guard));
            }
            let now = Now::with_access(&self.clock, self.budget.access());
            let before: Vec<usize> = held
                .iter_mut()
                .map(|(_, n, g)| n.before_write(g.as_mut().expect("checked"), &now))
                .collect();
            let tables = held.iter_mut().map(|(s, _, g)| (*s, g.as_mut().expect("checked"))).collect();
            let r = f(&mut Db::Many(tables), &now);
            for ((slot, node, guard), before) in held.iter_mut().zip(before) {
                node.after_write(usize::from(*slot), guard.as_mut().expect("checked"), &now, before);
            }
            return Ok(r);
        }
        Err(Error::ClusterDown(ClusterDownReason::Unbound))
    }

    /// Every primary node of the current topology.
    pub(crate) fn primaries(&self) -> Vec<Arc<Node>> {
        self.topology().primaries().into_iter().filter_map(|id| self.node(id).cloned()).collect()
    }

    /// Moves `slot` to the primary `to` in one step: under the slot's lock on the source and
    /// then on the target, the table changes hands, the route is rewritten and a topology with
    /// a higher epoch is published. A caller waiting on the source's lock finds the cell empty
    /// and follows the new route, so every command sees the slot in exactly one place.
    ///
    /// # Errors
    /// `ERR` if `to` is not a primary or already owns the slot; `CLUSTERDOWN` if the slot has
    /// no owner to move it from.
    pub(crate) fn move_slot(&self, slot: u16, to: NodeId) -> Result<(), Error> {
        let _control = self.control.lock();
        let topology = self.topology();
        match topology.node(to) {
            None => return Err(Error::Command(format!("Unknown node {to}"))),
            Some(n) if n.role != Role::Primary => return Err(Error::msg("Target node is not a master")),
            Some(_) => {}
        }
        let from = topology.slot_owner(slot).ok_or(Error::ClusterDown(ClusterDownReason::Unbound))?;
        if from == to {
            return Err(Error::Command(format!("Node {to} already owns hash slot {slot}")));
        }
        let (src, dst) = (self.node(from).expect("owner exists"), self.node(to).expect("checked"));
        let slot_ix = usize::from(slot);
        let mut src_cell = src.cells[slot_ix].0.write();
        let mut dst_cell = dst.cells[slot_ix].0.write();
        let mut table = src_cell.take().unwrap_or_default();
        src.lose(slot_ix, &table);
        // The source's replicas drop the slot; the target's load it, and the table tracks
        // writes for them from now on (under both locks, so no write falls between).
        src.repl.out.lock().streams.retain(|(_, tx)| tx.send(Message::Drop { slot }).is_ok());
        {
            let mut out = dst.repl.out.lock();
            table.set_tracking(!out.streams.is_empty());
            if !out.streams.is_empty() {
                let snap = table.snapshot();
                out.streams
                    .retain(|(_, tx)| tx.send(Message::Load { slot, table: snap.snapshot() }).is_ok());
            }
        }
        dst.gain(slot_ix, &dst_cell, &table);
        *dst_cell = Some(table);
        if let Some(blocked) = src.take_blocked(slot_ix) {
            dst.put_blocked(slot_ix, blocked);
        }
        self.routes[slot_ix].store(to.0, Ordering::Release);
        let mut next = topology.next();
        next.set_owner(slot_ix, Some(to));
        *self.topology.write() = Arc::new(next);
        Ok(())
    }
}
