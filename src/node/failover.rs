//! Faults and failover: attaching replicas (full sync), crashing, hanging and restarting
//! nodes, failure detection and promotion. Every change runs under the registry's control
//! lock, builds a topology with a higher epoch and publishes it whole.

use super::monitor::Monitor;
use super::replica::Control;
use super::{Node, NodeThread, Registry};
use crate::config::{Config, FailoverMode};
use crate::detector::{Action, Observed};
use crate::error::Error;
use crate::events::Event;
use crate::ids::NodeId;
use crate::keyspace::Table;
use crate::replication::Message;
use crate::topology::{Role, Topology};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a lossless failover waits for the replica to catch up (Redis's manual failover
/// timeout).
const CATCH_UP: Duration = Duration::from_secs(5);

/// How long a failover waits for one of the old primary's slot locks before it takes the
/// primary for hung.
const LOCK_WAIT: Duration = Duration::from_secs(1);

/// How long building a store or restarting a node waits for a replica's full sync.
const FULL_SYNC: Duration = Duration::from_secs(10);

/// Who asked for a promotion.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The failure detector: the primary is silent.
    Detected,
    /// `Cluster::failover`.
    Manual(FailoverMode),
}

fn unknown(id: NodeId) -> Error {
    Error::Command(format!("Unknown node {id}"))
}

impl Registry {
    /// The node `id`, or `ERR Unknown node`.
    pub(crate) fn node_checked(&self, id: NodeId) -> Result<&Arc<Node>, Error> {
        self.node(id).filter(|_| self.topology().node(id).is_some()).ok_or_else(|| unknown(id))
    }

    /// Makes `replica` follow `primary` with a full sync. The replica's stream is registered
    /// first, then each held slot is snapshotted under its lock (and starts tracking writes
    /// from then on) and sent as a load. Effects of writes between registration and a
    /// slot's snapshot reach the replica before that slot's load, which replaces them; effects
    /// after the snapshot follow it. Effects are whole states, so the replica ends equal to
    /// the primary with no gap (and a duplicate would be harmless).
    pub(super) fn attach(&self, primary: &Node, replica: &Node) {
        replica.repl.set_replica(true);
        let (tx, rx) = crossbeam_channel::unbounded();
        if !replica.repl.send(Control::Follow(rx)) {
            return;
        }
        let _ = tx.send(Message::Reset);
        let registered_at = {
            let mut out = primary.repl.out.lock();
            out.streams.retain(|(id, _)| *id != replica.id);
            out.streams.push((replica.id, tx.clone()));
            out.offset
        };
        for slot in primary.held_slots() {
            let mut cell = primary.cells[usize::from(slot)].0.write();
            if let Some(t) = cell.as_mut() {
                t.set_tracking(true);
                let _ = tx.send(Message::Load { slot, table: t.snapshot() });
            }
        }
        let _ = tx.send(Message::Synced { offset: registered_at });
    }

    /// Waits (up to `FULL_SYNC`) until `replica` has loaded its full sync, so that whoever
    /// attached it can return with the replica usable.
    pub(super) fn await_sync(replica: &Node) {
        let deadline = Instant::now() + FULL_SYNC;
        while !replica.repl.is_synced() && !replica.repl.is_paused() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Attaches every replica of the initial topology to its primary and waits for their
    /// full syncs (empty tables: quick), so a store is built with its replicas usable.
    pub(crate) fn attach_all(&self) {
        let _control = self.control.lock();
        let t = self.topology();
        let mut attached = Vec::new();
        for n in t.nodes() {
            if let Role::Replica { of } = n.role {
                if let (Some(p), Some(r)) = (self.node(of), self.node(n.id)) {
                    self.attach(p, r);
                    attached.push(r);
                }
            }
        }
        attached.into_iter().for_each(|r| Self::await_sync(r));
    }

    /// Crashes `id` (its thread is already stopped): its tables and streams are dropped.
    fn crash(&self, node: &Node) {
        let _control = self.control.lock();
        node.go_down();
    }

    /// What the failure detector sees of every node of `t` now.
    fn observe(&self, t: &Topology) -> Vec<Observed> {
        t.nodes()
            .iter()
            .filter_map(|n| {
                let x = self.node(n.id)?;
                let (beats, beat_ms) = x.repl.heartbeat();
                Some(Observed {
                    id: n.id,
                    role: n.role,
                    failed: n.failed,
                    owns_slots: n.role == Role::Primary && t.slot_owner_count(n.id) > 0,
                    beats,
                    beat_ms,
                    dead: x.repl.is_dead(),
                    paused: x.repl.is_paused(),
                    synced: n.role == Role::Primary || x.repl.is_synced(),
                    applied: x.repl.applied(),
                })
            })
            .collect()
    }

    /// One round of failure detection at the cluster clock's time (the monitor thread runs
    /// one every quarter of `node_timeout`): the detector decides from what the nodes show,
    /// and its actions are carried out here under the control lock, each checked again
    /// against the topology of that moment. A node whose heartbeat moved since it was
    /// observed is left alone (it answered while the lock was awaited).
    pub(crate) fn detect(&self) {
        let now = self.clock.now_ms();
        let t = self.topology();
        let observed = self.observe(&t);
        let actions = self.detector.lock().round(now, &observed);
        if actions.is_empty() {
            return;
        }
        let beats_then = |id: NodeId| observed.iter().find(|o| o.id == id).map(|o| o.beats);
        let still_silent = |id: NodeId| self.node(id).map(|x| x.repl.heartbeat().0) == beats_then(id);
        let _control = self.control.lock();
        let mut next = self.topology().next();
        let mut recovered = Vec::new();
        for &a in &actions {
            let Action::Recover(id) = a else { continue };
            if let Some(x) = next.node_mut(id).filter(|x| x.failed) {
                x.failed = false;
                recovered.push(Event::NodeRecovered { node: id });
            }
        }
        if !recovered.is_empty() {
            self.publish(next, recovered);
        }
        for a in actions {
            let t = self.topology();
            let failed_now = |id: NodeId| t.node(id).map(|n| n.failed);
            let id = match a {
                Action::Recover(_) => continue,
                Action::Promote { replica, primary } => {
                    let still_its =
                        t.node(replica).is_some_and(|r| r.role == Role::Replica { of: primary });
                    if !still_silent(primary) || !still_its {
                        continue;
                    }
                    if self.promote(replica, Cause::Detected).is_ok() {
                        continue;
                    }
                    primary
                }
                Action::MarkFailed(id) if still_silent(id) => id,
                Action::MarkFailed(_) => continue,
            };
            if failed_now(id) == Some(false) {
                let mut next = t.next();
                next.node_mut(id).expect("listed").failed = true;
                self.publish(next, vec![Event::NodeFailed { node: id }]);
            }
        }
    }

    /// Rounds the failure detector has run.
    pub(crate) fn detector_rounds(&self) -> u64 {
        self.detector.lock().rounds()
    }

    /// Promotes the replica `cand` to primary of its shard: the old primary's writes stop
    /// (its slot locks held, or its tables gone), the replica applies what its stream holds
    /// (and, for a lossless failover, catches up first), the routes of the shard's slots move
    /// to it under a new epoch, and the shard's other nodes re-sync from it. The caller holds
    /// the control lock.
    fn promote(&self, cand: NodeId, cause: Cause) -> Result<(), Error> {
        let t = self.topology();
        let info = t.node(cand).ok_or_else(|| unknown(cand))?;
        let Role::Replica { of } = info.role else {
            return Err(Error::msg("You should send CLUSTER FAILOVER to a replica"));
        };
        let r = self.node_checked(cand)?.clone();
        if info.failed || r.repl.is_dead() || r.repl.is_paused() {
            return Err(Error::Command(format!("Replica {cand} is down")));
        }
        if !r.repl.is_synced() {
            return Err(Error::Command(format!("Replica {cand} is still syncing with its primary")));
        }
        let p = self.node_checked(of)?.clone();
        let p_down = p.repl.is_dead() || t.node(of).is_some_and(|n| n.failed);
        let lossless = cause == Cause::Manual(FailoverMode::Default);
        if lossless && (p_down || p.repl.is_paused()) {
            return Err(Error::msg("Master is down or failed, please use CLUSTER FAILOVER FORCE"));
        }
        // Stop the old primary's writes: hold its slot locks (a live primary), or have its
        // hung thread drop its tables (a paused one). A crashed one has none left.
        let mut guards = Vec::new();
        if !p.repl.is_paused() && !p.repl.is_dead() {
            // A lock that stays taken means the node is hanging right now (its thread holds
            // its locks while paused): let go, and demote it through its thread below.
            for s in p.held_slots() {
                match p.cells[usize::from(s)].0.try_write_for(LOCK_WAIT) {
                    Some(g) => guards.push((s, g)),
                    None => {
                        guards.clear();
                        let deadline = Instant::now() + LOCK_WAIT;
                        while !p.repl.is_paused() && Instant::now() < deadline {
                            std::thread::sleep(Duration::from_micros(100));
                        }
                        if !p.repl.is_paused() {
                            return Err(Error::msg("Failover aborted: the primary's slots stay locked"));
                        }
                        break;
                    }
                }
            }
        }
        if p.repl.is_paused() {
            let (ack, done) = crossbeam_channel::bounded(1);
            if p.repl.send(Control::Demote(ack)) {
                let _ = done.recv_timeout(Duration::from_secs(2));
            }
        }
        if lossless {
            // The primary's offset is final while its slots are locked.
            let target = p.repl.offset();
            let deadline = Instant::now() + CATCH_UP;
            while r.repl.applied() < target {
                if Instant::now() > deadline {
                    return Err(Error::msg("Manual failover timed out: the replica did not catch up"));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let (ack, done) = crossbeam_channel::bounded(1);
        if !r.repl.send(Control::Promote(ack)) {
            return Err(Error::Command(format!("Replica {cand} is down")));
        }
        let applied = done
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| Error::Command(format!("Replica {cand} is down")))?;
        r.repl.set_replica(false);
        {
            let mut out = r.repl.out.lock();
            out.offset = out.offset.max(applied);
        }
        // The old primary lets go of its tables; callers waiting on its locks will find the
        // cells empty and follow the new routes.
        for (slot, g) in &mut guards {
            p.let_go(usize::from(*slot), g);
        }
        p.repl.out.lock().streams.clear();
        let slots = t.slots_of(of);
        for &slot in &slots {
            // A synced replica holds all of them; this guards against a slot that was moved
            // in between.
            if r.cells[usize::from(slot)].0.read().is_none() {
                r.attach(usize::from(slot), Table::new());
            }
        }
        let mut next = t.next();
        let epoch = next.epoch();
        for &slot in &slots {
            next.set_owner(usize::from(slot), Some(cand));
        }
        let shard = info.shard;
        let others: Vec<NodeId> = t.shard_nodes(shard).into_iter().filter(|&n| n != cand).collect();
        for &n in &others {
            let x = next.node_mut(n).expect("listed");
            x.role = Role::Replica { of: cand };
        }
        {
            let x = next.node_mut(cand).expect("listed");
            x.role = Role::Primary;
            x.config_epoch = epoch;
            x.failed = false;
        }
        let mut events = Vec::new();
        if p_down || p.repl.is_paused() || cause == Cause::Detected {
            let old = next.node_mut(of).expect("listed");
            if !old.failed {
                events.push(Event::NodeFailed { node: of });
            }
            old.failed = true;
        }
        events.push(Event::Promoted { node: cand, replaced: of, epoch });
        // A key-by-key migration of the shard carries over: the new primary redirects as
        // the old one did before any caller is routed to it.
        self.mark_migrations(&r, &next);
        // Its tables (replica copies) track writes before any caller reaches them, so every
        // write is numbered and a `WAIT` after it waits for it, also before the shard's
        // other nodes are attached below (or while they are down).
        track_all(&r);
        for &slot in &slots {
            // Its watches stayed on the old primary.
            self.bump_generation(slot);
        }
        self.publish(next, events);
        drop(guards);
        for n in others {
            let Some(x) = self.node(n) else { continue };
            if !x.repl.is_dead() {
                self.attach(&r, x);
            }
        }
        Ok(())
    }

    /// `Cluster::failover`: promotes replica `id` by `mode`.
    pub(crate) fn failover(&self, id: NodeId, mode: FailoverMode) -> Result<(), Error> {
        let _control = self.control.lock();
        self.node_checked(id)?;
        self.promote(id, Cause::Manual(mode))
    }

    /// Brings a crashed node back (its new thread already running): empty, as a replica of
    /// its shard's primary with a full sync (returning once it is loaded); or, if its shard has no live node, as the
    /// shard's primary with empty tables.
    fn revive(&self, id: NodeId) {
        let _control = self.control.lock();
        let t = self.topology();
        let node = self.node(id).expect("checked").clone();
        node.repl.set_dead(false);
        node.repl.beat(self.clock.now_ms());
        let info = t.node(id).expect("checked");
        let mut next = t.next();
        let epoch = next.epoch();
        match t.shard_primary(info.shard).filter(|&p| p != id) {
            Some(p) => {
                let x = next.node_mut(id).expect("listed");
                x.role = Role::Replica { of: p };
                x.failed = false;
                self.publish(next, vec![Event::NodeRestarted { node: id }]);
                self.attach(self.node(p).expect("listed"), &node);
                Self::await_sync(&node);
            }
            None => {
                // The shard's slots are still recorded under its failed primary.
                let old = t
                    .shard_nodes(info.shard)
                    .into_iter()
                    .find(|&n| t.node(n).is_some_and(|x| x.role == Role::Primary))
                    .unwrap_or(id);
                let slots = t.slots_of(old);
                node.repl.set_replica(false);
                for &slot in &slots {
                    node.attach(usize::from(slot), Table::new());
                    next.set_owner(usize::from(slot), Some(id));
                }
                for n in t.shard_nodes(info.shard) {
                    if n != id {
                        next.node_mut(n).expect("listed").role = Role::Replica { of: id };
                    }
                }
                let x = next.node_mut(id).expect("listed");
                x.role = Role::Primary;
                x.failed = false;
                x.config_epoch = epoch;
                self.mark_migrations(&node, &next);
                if t.shard_nodes(info.shard).len() > 1 {
                    track_all(&node);
                }
                self.publish(next, vec![Event::NodeRestarted { node: id }]);
            }
        }
    }

    /// After `resume_node`: the node answers heartbeats again, so its failure flag clears.
    /// A primary that kept its slots (no replica took over) serves them again; a node demoted
    /// while hung already follows its new primary's stream.
    fn resumed(&self, id: NodeId) {
        let _control = self.control.lock();
        let t = self.topology();
        if t.node(id).is_some_and(|n| n.failed) {
            let mut next = t.next();
            next.node_mut(id).expect("listed").failed = false;
            self.publish(next, vec![Event::NodeRecovered { node: id }]);
        }
    }

    /// An order-independent digest of what `node` holds in `slot`.
    pub(crate) fn slot_digest(&self, id: NodeId, slot: u16) -> Result<u64, Error> {
        let node = self.node_checked(id)?;
        let cell = node.cells.get(usize::from(slot)).ok_or_else(Error::invalid_slot)?;
        let guard = cell.0.read();
        let table = guard
            .as_ref()
            .ok_or_else(|| Error::Command(format!("Node {id} does not hold slot {slot}")))?;
        Ok(table.digest())
    }
}

/// Makes every table `node` holds track its writes for replicas.
fn track_all(node: &Node) {
    for slot in node.held_slots() {
        if let Some(t) = node.cells[usize::from(slot)].0.write().as_mut() {
            t.set_tracking(true);
        }
    }
}

/// The node threads and the failure detector of one cluster: stopped and joined on drop.
pub(crate) struct Fleet {
    pub(super) registry: Arc<Registry>,
    pub(super) threads: Mutex<HashMap<NodeId, NodeThread>>,
    /// The failure detector: running while the cluster has replicas.
    pub(super) monitor: Mutex<Option<Monitor>>,
    pub(super) interval: Duration,
    pub(super) tick: Duration,
    pub(super) node_timeout: Duration,
}

impl Fleet {
    /// Starts a thread per node, full-syncs every replica and starts the failure detector.
    ///
    /// # Errors
    /// `ERR cannot start a node thread` if the OS refuses a thread.
    pub(crate) fn start(registry: Arc<Registry>, config: &Config) -> Result<Fleet, Error> {
        let interval = config.cron_interval;
        // Heartbeats several times per node timeout, so a busy tick is not taken for a crash
        // (also in a store built without replicas: `add_primary` may bring some, and the
        // failure detector with them).
        let tick = (config.node_timeout / 8).clamp(Duration::from_millis(1), interval);
        let spawn_err = |e: std::io::Error| Error::Command(format!("cannot start a node thread: {e}"));
        let mut threads = HashMap::new();
        for n in registry.topology().nodes() {
            let node = registry.node(n.id).expect("created with the registry").clone();
            threads.insert(n.id, NodeThread::spawn(node, interval, tick).map_err(spawn_err)?);
        }
        registry.attach_all();
        let monitor = if config.replicas > 0 {
            Some(Monitor::spawn(registry.clone(), config.node_timeout).map_err(spawn_err)?)
        } else {
            // Without replicas there is no one to fail over to; a store without replicas
            // pays for no detector thread.
            None
        };
        Ok(Fleet {
            registry,
            threads: Mutex::new(threads),
            monitor: Mutex::new(monitor),
            interval,
            tick,
            node_timeout: config.node_timeout,
        })
    }

    /// Crashes `id`: its thread stops, its tables are dropped, blocked callers there get
    /// `CLUSTERDOWN`. The failure detector notices after `node_timeout`.
    pub(crate) fn kill(&self, id: NodeId) -> Result<(), Error> {
        let node = self.registry.node_checked(id)?.clone();
        if node.repl.is_dead() {
            return Err(Error::Command(format!("Node {id} is already down")));
        }
        drop(self.threads.lock().remove(&id));
        self.registry.crash(&node);
        Ok(())
    }

    /// Restarts a crashed node, empty, as a replica of its shard's primary (full sync).
    pub(crate) fn restart(&self, id: NodeId) -> Result<(), Error> {
        let node = self.registry.node_checked(id)?.clone();
        if !node.repl.is_dead() {
            return Err(Error::Command(format!("Node {id} is not down: kill it before restarting it")));
        }
        let thread = NodeThread::spawn(node, self.interval, self.tick)
            .map_err(|e| Error::Command(format!("cannot start a node thread: {e}")))?;
        self.threads.lock().insert(id, thread);
        self.registry.revive(id);
        Ok(())
    }

    /// Hangs `id`: it stops answering heartbeats and commands until resumed.
    pub(crate) fn pause(&self, id: NodeId) -> Result<(), Error> {
        let node = self.registry.node_checked(id)?;
        if node.repl.is_dead() {
            return Err(Error::Command(format!("Node {id} is down")));
        }
        if node.repl.is_paused() {
            return Err(Error::Command(format!("Node {id} is already paused")));
        }
        node.repl.send(Control::Pause);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !node.repl.is_paused() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(100));
        }
        Ok(())
    }

    /// Wakes a paused node.
    pub(crate) fn resume(&self, id: NodeId) -> Result<(), Error> {
        let node = self.registry.node_checked(id)?;
        if !node.repl.is_paused() {
            return Err(Error::Command(format!("Node {id} is not paused")));
        }
        // Stamp first, so the detector does not take the instant before the thread's first
        // heartbeat for silence.
        node.repl.beat(self.registry.clock.now_ms());
        node.repl.send(Control::Resume);
        while node.repl.is_paused() {
            std::thread::sleep(Duration::from_micros(100));
        }
        self.registry.resumed(id);
        Ok(())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // The detector first, so it does not fail over nodes being stopped.
        drop(self.monitor.lock().take());
        self.threads.lock().clear();
    }
}
