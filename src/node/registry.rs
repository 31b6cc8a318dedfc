//! The registry: every node, the route from each slot to the node serving it, and the current
//! topology snapshot.

use super::stats::REROUTES;
use super::{Blocking, Budget, Node, Serve};
use crate::clock::Clock;
use crate::config::MAX_NODES;
use crate::error::{ClusterDownReason, Error};
use crate::ids::NodeId;
use crate::keyspace::{Db, Now, Table};
use crate::slot::SLOTS;
use crate::topology::{Role, Topology};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

const NO_ROUTE: u32 = u32::MAX;

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
    control: Mutex<()>,
    pub(crate) clock: Clock,
}

impl Registry {
    /// Creates the nodes of `topology`, gives each primary empty tables for its slots and
    /// routes every slot to its owner.
    pub(crate) fn new(topology: Topology, clock: Clock, budget: Arc<Budget>) -> Registry {
        let reg = Registry {
            nodes: (0..MAX_NODES).map(|_| OnceLock::new()).collect(),
            routes: (0..SLOTS).map(|_| AtomicU32::new(NO_ROUTE)).collect(),
            topology: RwLock::new(Arc::new(topology.clone())),
            budget: budget.clone(),
            control: Mutex::new(()),
            next_waiter: AtomicU64::new(1),
            clock,
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
        if id == NO_ROUTE {
            return Err(Error::ClusterDown(ClusterDownReason::Unbound));
        }
        self.nodes[id as usize].get().map(|n| &**n).ok_or(Error::ClusterDown(ClusterDownReason::Unbound))
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
        for _ in 0..MAX_REROUTES {
            let node = self.route(slot)?;
            if let Some(r) = node.read(slot, cmd, |t, now| f.take().expect("runs once")(t, now)) {
                return Ok(r);
            }
            node.stats.add(REROUTES, 1);
        }
        Err(Error::ClusterDown(ClusterDownReason::Unbound))
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
        for _ in 0..MAX_REROUTES {
            let node = self.route(slot)?;
            if grow {
                node.make_room()?;
            }
            if let Some(r) = node.write_cmd(slot, cmd, |t, now| f.take().expect("runs once")(t, now)) {
                return Ok(r);
            }
            node.stats.add(REROUTES, 1);
        }
        Err(Error::ClusterDown(ClusterDownReason::Unbound))
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
        mut serve: Serve,
    ) -> Result<(u64, Blocking), Error> {
        let id = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let slot = usize::from(slot);
        for _ in 0..MAX_REROUTES {
            let node = self.route(slot)?;
            node.make_room()?;
            match node.block(slot, id, keys.clone(), serve) {
                Ok(outcome) => return Ok((id, outcome)),
                Err(s) => serve = s,
            }
        }
        Err(Error::ClusterDown(ClusterDownReason::Unbound))
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
        let table = src_cell.take().unwrap_or_default();
        src.lose(slot_ix, &table);
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
