//! The registry: every node, the route from each slot to the node serving it, and the current
//! topology snapshot.

use super::stats::{ASKS, REROUTES, TRYAGAINS};
use super::{Blocking, Budget, Node, Serve, Wake};
use crate::config::{Config, ReadFrom, MAX_NODES};
use crate::error::{ClusterDownReason, Error};
use crate::events::{Event, Events, Hook};
use crate::ids::NodeId;
use crate::keyspace::{scan_hash, Db, Now, Table};
use crate::migration::{verdict, Verdict};
use crate::slot::SLOTS;
use crate::topology::Topology;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The route of a slot no live node serves: `CLUSTERDOWN Hash slot not served`.
const NO_ROUTE: u32 = u32::MAX;
/// The route of every slot while the cluster is down (full coverage required and lost):
/// `CLUSTERDOWN The cluster is down`. Both share the hot path's single `>=` test.
const DOWN_ROUTE: u32 = u32::MAX - 1;

/// A caller that finds the routed node no longer holds the slot reads the route again at
/// once this many times (a route changes right after the old holder lets go), then backs off.
const MAX_REROUTES: usize = 64;

/// How many moves of its slot a caller follows before it gives up (a mover that moves the
/// same slot back and forth without pause can keep taking the new holder's lock first).
const MAX_MOVES: usize = 100_000;

/// Where a keyed command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// To the slot's route, following every redirect (the default client).
    Follow,
    /// To this node only, asked (`ASKING`) or not; redirects come back as errors.
    Node(NodeId, bool),
}

/// Why one node could not run a command.
pub(crate) enum Miss {
    /// It does not hold the slot (moved away, failed over, crashed).
    NotHere,
    /// A key-by-key migration sends the caller elsewhere.
    Redirect(Verdict),
    /// A final answer (`OOM`), not a redirect.
    Fail(Error),
}

/// Counts the redirect `miss` on the node that gave it.
fn count(node: &Node, miss: &Miss) {
    match miss {
        Miss::Fail(_) => return,
        Miss::Redirect(Verdict::Ask) => node.stats.add(ASKS, 1),
        Miss::Redirect(Verdict::TryAgain) => node.stats.add(TRYAGAINS, 1),
        _ => {}
    }
    node.stats.add(REROUTES, 1);
}

/// The outcome of a gated run on one node: `r` as the node returned it, `v` the verdict.
#[inline]
fn gate<R>(r: Option<Option<R>>, v: Verdict) -> Result<R, Miss> {
    match r {
        None => Err(Miss::NotHere),
        Some(Some(r)) => Ok(r),
        Some(None) => Err(Miss::Redirect(v)),
    }
}

/// Retries of a caller whose slot is between owners: the first `MAX_REROUTES` at once, then
/// sleeps growing to 10 ms, within the retry budget.
pub(super) struct Backoff {
    tries: usize,
    /// Moves of the slot followed (the route changed under the caller).
    moves: usize,
    budget: Duration,
    deadline: Option<Instant>,
    pause: Duration,
}

impl Backoff {
    pub(super) fn new(budget: Duration) -> Backoff {
        Backoff { tries: 0, moves: 0, budget, deadline: None, pause: Duration::from_micros(50) }
    }

    /// One more try, at once while they are few; false once the budget is spent.
    fn wait(&mut self) -> bool {
        self.tries += 1;
        self.tries <= MAX_REROUTES || self.pause()
    }

    /// One more try at once after the slot moved on (its route names another node now):
    /// the slot is served, just elsewhere, so this spends no retry budget; a generous cap
    /// still ends a caller that a mover keeps outrunning.
    pub(super) fn moved(&mut self) -> bool {
        self.moves += 1;
        self.moves <= MAX_MOVES
    }

    /// One more try after a sleep; false once the budget is spent.
    pub(super) fn pause(&mut self) -> bool {
        let deadline = *self.deadline.get_or_insert_with(|| Instant::now() + self.budget);
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(Duration::from_millis(10));
        true
    }
}

/// Every node, and where each slot is served.
///
/// The hot path reads `routes` (one atomic load, no shared write) and the node array (a
/// `OnceLock` per node, written once), then locks the slot's cell on that node. The topology
/// snapshot behind the `RwLock` is for the control plane and for `CLUSTER` replies; the routes
/// mirror its slot owners and are updated under the slot locks whenever it changes.
pub(crate) struct Registry {
    pub(super) nodes: Box<[OnceLock<Arc<Node>>]>,
    routes: Box<[AtomicU32; SLOTS]>,
    pub(super) topology: RwLock<Arc<Topology>>,
    /// The memory budget all nodes share.
    pub(crate) budget: Arc<Budget>,
    /// Ids for blocked callers.
    next_waiter: AtomicU64,
    /// Per-slot watch generations (see [`Registry::generation`]).
    generations: Box<[AtomicU32]>,
    /// Subscribers to the published changes, and the crate's own hooks.
    events: Events,
    /// The failure detector's state between rounds.
    pub(super) detector: Mutex<crate::detector::Detector>,
    /// `CLUSTER SETSLOT slot IMPORTING` halves waiting for their `MIGRATING`: slot ->
    /// (target, source).
    pub(crate) pending_imports: Mutex<std::collections::HashMap<u16, (NodeId, NodeId)>>,
    /// Serializes control-plane changes (slot moves, failovers): one at a time.
    pub(super) control: Mutex<()>,
    pub(crate) clock: crate::clock::Clock,
    /// How long a caller keeps retrying a slot whose shard is failing over.
    pub(super) retry_budget: Duration,
    /// A slot no node serves takes the whole cluster down (Redis's default).
    require_full_coverage: bool,
}

/// Starts loading the hash group of a one-key command's key before the slot's lock, as the
/// typed GET and SET do (see `Node::prefetch_group`); a multi-key command prefetches its keys
/// under the lock (`Table::prefetch`).
#[inline]
fn prefetch_key<K: AsRef<[u8]>>(node: &Node, slot: usize, keys: &[K]) {
    if let [key] = keys {
        node.prefetch_group(slot, scan_hash(key.as_ref()));
    }
}

impl Registry {
    /// Creates the nodes of `topology`, gives each primary empty tables for its slots and
    /// routes every slot to its owner.
    pub(crate) fn new(topology: Topology, config: &Config, budget: Arc<Budget>) -> Registry {
        let clock = config.clock.clone();
        let reg = Registry {
            nodes: (0..MAX_NODES).map(|_| OnceLock::new()).collect(),
            routes: super::boxed_array(|| AtomicU32::new(NO_ROUTE)),
            generations: (0..SLOTS).map(|_| AtomicU32::new(0)).collect(),
            events: Events::default(),
            detector: Mutex::new(crate::detector::Detector::new(config.node_timeout.as_millis() as u64)),
            pending_imports: Mutex::default(),
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

    /// The raw route of `slot`: the serving node's id, or a value past every node id.
    pub(crate) fn route_id(&self, slot: u16) -> u32 {
        self.routes[usize::from(slot)].load(Ordering::Acquire)
    }

    /// The node `slot` is routed to.
    #[inline]
    /// Makes room under the memory budget on `slot`'s primary for a write about to be
    /// queued there, as Redis evicts (or refuses with `OOM`) before it queues a command that
    /// may grow memory. A slot without a primary is left to the command itself.
    ///
    /// # Errors
    /// `OOM` when nothing can be evicted (`noeviction`, or no candidate left).
    pub(crate) fn make_room_for(&self, slot: u16) -> Result<(), Error> {
        match self.route(usize::from(slot)) {
            Ok(node) => node.make_room(Some(slot)),
            Err(_) => Ok(()),
        }
    }

    pub(super) fn route(&self, slot: usize) -> Result<&Node, Error> {
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

    /// The primary importing `slot` in a key-by-key migration (where `ASK` sends callers).
    pub(crate) fn importer(&self, slot: u16) -> Option<NodeId> {
        self.topology().migration(slot).map(|(_, to)| to)
    }

    /// The watch generation of `slot`: it changes whenever keys of the slot change holder in
    /// a key-by-key migration (or the holder's watch state is lost in a failover), so an
    /// `EXEC` whose watched keys were moved aborts, as a migrated key counts as modified.
    pub(crate) fn generation(&self, slot: u16) -> u32 {
        self.generations[usize::from(slot)].load(Ordering::Acquire)
    }

    /// Moves `slot`'s watch generation on; the caller holds the slot's lock.
    pub(super) fn bump_generation(&self, slot: u16) {
        self.generations[usize::from(slot)].fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `attempt` for a keyed command on `slot` where `via` says. `attempt` runs the
    /// command on one node (asked: sent there by `ASK`) and says if it could not.
    #[inline]
    fn run<R>(
        &self,
        slot: u16,
        via: Via,
        mut attempt: impl FnMut(&Node, bool) -> Result<R, Miss>,
    ) -> Result<R, Error> {
        match via {
            Via::Follow => {
                let node = self.route(usize::from(slot))?;
                match attempt(node, false) {
                    Ok(r) => Ok(r),
                    Err(Miss::Fail(e)) => Err(e),
                    Err(miss) => self.follow(slot, node, miss, attempt),
                }
            }
            Via::Node(id, asking) => {
                let node = self.node(id).ok_or_else(|| Error::Command(format!("Unknown node {id}")))?;
                attempt(node, asking).map_err(|miss| self.redirect(slot, node, miss))
            }
        }
    }

    /// The error a raw caller gets for `miss` on `node` (a redirect, counted there).
    fn redirect(&self, slot: u16, node: &Node, miss: Miss) -> Error {
        count(node, &miss);
        match miss {
            Miss::Fail(e) => e,
            Miss::Redirect(Verdict::Ask) if self.importer(slot).is_some() => {
                Error::Ask { slot, node: self.importer(slot).expect("checked") }
            }
            Miss::Redirect(Verdict::TryAgain) => Error::TryAgain,
            // An ASK whose migration ended meanwhile: the slot is wherever the route says.
            Miss::NotHere | Miss::Redirect(_) => {
                match self.route(usize::from(slot)) {
                    Ok(owner) if owner.id != node.id => Error::Moved { slot, node: owner.id },
                    // The owner itself holds nothing: it crashed and no one took over yet.
                    Ok(_) => Error::ClusterDown(ClusterDownReason::Unbound),
                    Err(e) => e,
                }
            }
        }
    }

    /// Follows redirects for a caller whose first attempt missed: a node that no longer holds
    /// the slot (it moved, or failed over) sends it back to the route; `ASK` sends it once to
    /// the importing primary; `TRYAGAIN` waits and starts over. A slot that stays unserved
    /// (a failover on its way) or split (a migration between steps) is retried with backoff
    /// for the retry budget, then answered with the last error.
    #[cold]
    #[inline(never)]
    fn follow<'a, R>(
        &'a self,
        slot: u16,
        mut node: &'a Node,
        mut miss: Miss,
        mut attempt: impl FnMut(&Node, bool) -> Result<R, Miss>,
    ) -> Result<R, Error> {
        let mut backoff = Backoff::new(self.retry_budget);
        loop {
            count(node, &miss);
            // Every redirect counts as a try (a dead target would otherwise bounce the caller
            // between source and target forever); TRYAGAIN always sleeps first.
            let (asked, tried): (Option<&Node>, bool) = match miss {
                Miss::Fail(e) => return Err(e),
                Miss::Redirect(Verdict::Ask) => {
                    (self.importer(slot).and_then(|id| self.node(id)).map(|n| &**n), backoff.wait())
                }
                Miss::Redirect(Verdict::TryAgain) => {
                    if !backoff.pause() {
                        return Err(Error::TryAgain);
                    }
                    (None, true)
                }
                Miss::NotHere if self.route_id(slot) != node.id.0 => (None, backoff.moved()),
                Miss::NotHere | Miss::Redirect(Verdict::Moved | Verdict::Serve) => {
                    (None, backoff.wait())
                }
            };
            if !tried {
                // A slot that stays unreachable: no live node serves it (or its target).
                return Err(Error::ClusterDown(ClusterDownReason::Unbound));
            }
            node = match asked {
                Some(n) => n,
                None => self.route(usize::from(slot))?,
            };
            match attempt(node, asked.is_some()) {
                Ok(r) => return Ok(r),
                Err(m) => miss = m,
            }
        }
    }

    /// The one publish point of the cluster: every change of slot ownership, migration
    /// state, role or liveness ends here. Swaps in `next` (whose epoch must be higher than
    /// the current one), points every slot's route at what it says (the owner if it is live,
    /// no route if it failed and no replica took over, the cluster-down route everywhere if a
    /// slot is unserved and full coverage is required), and then hands `events` to the
    /// subscribers and hooks, so they are emitted in publish order. The caller holds the
    /// control lock (that is what orders publishes) and has moved any tables first.
    pub(super) fn publish(&self, next: Topology, events: Vec<Event>) {
        self.publish_moves(next, events, None);
    }

    /// [`Registry::publish`], told that only the owners of `moved` changed (None: anything
    /// may have): a slot move reroutes its slot alone instead of walking all 16384 routes.
    pub(super) fn publish_moves(&self, next: Topology, events: Vec<Event>, moved: Option<&[u16]>) {
        debug_assert!(self.control.is_locked(), "publish runs under the control lock");
        let current = self.topology();
        debug_assert!(next.epoch() > current.epoch(), "every publish is a new epoch");
        // Most publishes (a migration step, a recorded migration) change no route: same
        // owners, same failed nodes. A slot move changes its slot's route only, unless the
        // cluster is down or the slot ends up unserved (full coverage may change).
        let failed =
            |t: &Topology| t.nodes().iter().filter(|n| n.failed).map(|n| n.id).collect::<Vec<_>>();
        let live = |o: Option<NodeId>| o.and_then(|o| next.node(o)).is_some_and(|n| !n.failed);
        let few = match moved {
            _ if failed(&next) != failed(&current) => None,
            _ if next.same_owners(&current) => Some(&[][..]),
            Some(slots)
                if self.routes[0].load(Ordering::Acquire) != DOWN_ROUTE
                    && slots.iter().all(|&s| live(next.slot_owner(s))) =>
            {
                debug_assert!(
                    (0..SLOTS as u16)
                        .all(|s| slots.contains(&s) || next.slot_owner(s) == current.slot_owner(s)),
                    "only the named slots moved"
                );
                Some(slots)
            }
            _ => None,
        };
        if let Some(slots) = few {
            let next = Arc::new(next);
            *self.topology.write() = next.clone();
            for &s in slots {
                let owner = next.slot_owner(s).expect("checked live");
                self.routes[usize::from(s)].store(owner.0, Ordering::Release);
            }
            if !slots.is_empty() {
                // As below: shard-channel holders look again at where their slots are served.
                self.budget.hub.slots_changed();
            }
            self.events.emit(&next, &events);
            return;
        }
        let mut live = vec![false; MAX_NODES];
        for n in next.nodes().iter().filter(|n| !n.failed) {
            if let Some(l) = live.get_mut(n.id.index()) {
                *l = true;
            }
        }
        let route_of = |slot: u16| match next.slot_owner(slot) {
            Some(o) if live.get(o.index()).copied().unwrap_or(false) => o.0,
            _ => NO_ROUTE,
        };
        let routes: Vec<u32> = (0..SLOTS as u16).map(route_of).collect();
        let down = self.require_full_coverage && routes.contains(&NO_ROUTE);
        // The snapshot first: a caller whose command ran on a new route must find the new
        // topology too. A caller that reads a route not yet updated meets an empty cell on
        // the old primary and reads the route again.
        let next = Arc::new(next);
        *self.topology.write() = next.clone();
        for (slot, r) in routes.into_iter().enumerate() {
            let r = if down { DOWN_ROUTE } else { r };
            if self.routes[slot].load(Ordering::Acquire) != r {
                self.routes[slot].store(r, Ordering::Release);
            }
        }
        // Connections holding shard channels look again at where their slots are served.
        self.budget.hub.slots_changed();
        self.events.emit(&next, &events);
    }

    /// A new subscriber to the events of every later publish (see [`Events::emit`] for what
    /// happens to one that stops reading).
    pub(crate) fn subscribe(&self, capacity: usize) -> crossbeam_channel::Receiver<Event> {
        self.events.subscribe(capacity)
    }

    /// Registers a crate-internal reaction to every publish (see [`Hook`]).
    #[allow(dead_code)] // The server and sharded pub/sub layers hook in here.
    pub(crate) fn on_publish(&self, hook: Hook) {
        self.events.on_publish(hook);
    }

    /// Runs a read as `mode` says: on a replica of the slot's primary (possibly stale), or
    /// on the primary. `turn` spreads reads for the spreading modes.
    ///
    /// # Errors
    /// As [`Registry::read_cmd`].
    pub(crate) fn read_from<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        cmd: usize,
        keys: &[K],
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
        self.read_cmd(slot, cmd, keys, Via::Follow, |t, now| f.take().expect("runs once")(t, now))
    }

    /// The replica a read should go to, None for the primary.
    fn pick_replica(&self, slot: u16, mode: ReadFrom, turn: usize) -> Option<&Node> {
        let owner = self.routes[usize::from(slot)].load(Ordering::Acquire);
        if owner >= DOWN_ROUTE || mode == ReadFrom::Primary {
            return None;
        }
        let t = self.topology();
        // A replica's copy of a moving slot lacks the keys already moved, and replicas do not
        // redirect: such reads go to the primary, which applies the migration rules.
        if t.migration(slot).is_some() {
            return None;
        }
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
        let mut spins = 0;
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
            // Replicas usually apply within microseconds: yield to them first, then sleep.
            if spins < 200 {
                spins += 1;
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }

    /// The replication offset `id` reports: sent (primary) or applied (replica).
    pub(crate) fn offset_of(&self, id: NodeId) -> u64 {
        self.node(id).map_or(0, |n| n.repl.reported_offset())
    }

    /// Runs `f` under the read lock of `slot` on the node that holds it, with no migration
    /// check: for commands that look at a slot as a whole (`SCAN`, `KEYS`, counts).
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if no node holds the slot.
    #[inline]
    pub(crate) fn read<R>(&self, slot: u16, f: impl FnOnce(&Table, &Now<'_>) -> R) -> Result<R, Error> {
        let slot_ix = usize::from(slot);
        let mut f = Some(f);
        self.run(slot, Via::Follow, |node, _| {
            // A replica's copy is not the slot (see `write_cmd`).
            node.read(slot_ix, usize::MAX, |t, now| {
                (!node.repl.is_replica()).then(|| f.take().expect("runs once")(t, now))
            })
            .flatten()
            .ok_or(Miss::NotHere)
        })
    }

    /// Runs `f` under the write lock of `slot` with no migration check (internal writes such
    /// as `WATCH` bookkeeping).
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if no node holds the slot.
    #[inline]
    pub(crate) fn write<R>(
        &self,
        slot: u16,
        f: impl FnOnce(&mut Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let slot_ix = usize::from(slot);
        let mut f = Some(f);
        self.run(slot, Via::Follow, |node, _| {
            node.write(slot_ix, |t, now| {
                (!node.repl.is_replica()).then(|| f.take().expect("runs once")(t, now))
            })
            .flatten()
            .ok_or(Miss::NotHere)
        })
    }

    /// Runs command `cmd` (a command-table index, counted) on `keys` of `slot` under the
    /// slot's read lock, where `via` says, by the migration rules of [`verdict`].
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if no node holds the slot; for a raw caller, the
    /// redirect (`MOVED`, `ASK`, `TRYAGAIN`); `TRYAGAIN` if a followed migration keeps the
    /// keys split past the retry budget.
    #[inline]
    pub(crate) fn read_cmd<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        cmd: usize,
        keys: &[K],
        via: Via,
        f: impl FnOnce(&Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let slot_ix = usize::from(slot);
        let mut f = Some(f);
        // A read sent to a replica on purpose (a `READONLY` connection, a pinned client)
        // reads its copy; only a caller that followed a stale route is sent on.
        let to_replica = match via {
            Via::Node(id, _) => self
                .topology()
                .node(id)
                .is_some_and(|n| matches!(n.role, crate::topology::Role::Replica { .. })),
            Via::Follow => false,
        };
        self.run(slot, via, |node, asking| {
            prefetch_key(node, slot_ix, keys);
            let (mut v, mut replica) = (Verdict::Serve, false);
            let r = node.read(slot_ix, cmd, |t, now| {
                // See `write_cmd`.
                replica = !to_replica && node.repl.is_replica();
                if replica {
                    return None;
                }
                v = verdict(t, now, keys, asking);
                (v == Verdict::Serve).then(|| f.take().expect("runs once")(t, now))
            });
            if replica {
                return Err(Miss::NotHere);
            }
            gate(r, v)
        })
    }

    /// A one-key read on the common path: the slot's route names a primary holding the slot
    /// and no migration touches it, so no redirect rule applies and the read runs with no
    /// more than the route, the slot's read lock and `f`. None (and `f` not run) otherwise:
    /// no route, a replica's copy, a slot moving or gone; the caller then takes the general
    /// path, which decides again under its own lock.
    ///
    /// `R` comes back as it is: a `GET`'s `Result<Option<Bytes>>` wrapped in one more
    /// `Result` was copied again at every layer on its way out. Callers keep their general
    /// path out of line (`#[cold]`, `#[inline(never)]`), so the common path stays small
    /// enough for the compiler to inline it, with the caller's `get`, into the caller's loop;
    /// with the general path inlined into one large `get`, a loop of reads ran at less than
    /// half the rate on 1M keys.
    ///
    /// `hash` is the `scan_hash` of the key `f` reads (`f` can pass it on to
    /// `Table::get_hashed`): its hash group starts loading before the slot's lock is taken.
    #[inline]
    pub(crate) fn read_stable<R>(
        &self,
        slot: u16,
        cmd: usize,
        hash: u64,
        f: impl FnOnce(&Table, &Now<'_>) -> R,
    ) -> Option<R> {
        let id = self.routes[usize::from(slot)].load(Ordering::Acquire);
        let node = self.nodes.get(id as usize).and_then(OnceLock::get)?;
        node.read_stable(usize::from(slot), cmd, hash, f)
    }

    /// A one-key write on the common path [`Registry::read_stable`] describes, falling back
    /// to [`Registry::write_cmd`] (see it for `grow`) off it. `hash` is the key's `scan_hash`
    /// (for `Table::insert_hashed`): its hash group starts loading before any eviction and
    /// before the slot's write lock.
    ///
    /// # Errors
    /// As [`Registry::write_cmd`].
    #[inline]
    pub(crate) fn write_key<R>(
        &self,
        slot: u16,
        cmd: usize,
        grow: bool,
        (key, hash): (&[u8], u64),
        f: impl FnOnce(&mut Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let mut f = Some(f);
        let id = self.routes[usize::from(slot)].load(Ordering::Acquire);
        if let Some(node) = self.nodes.get(id as usize).and_then(OnceLock::get) {
            node.prefetch_group(usize::from(slot), hash);
            if grow {
                node.make_room(Some(slot))?;
            }
            if let Some(r) = node.write_stable(usize::from(slot), cmd, &mut f) {
                return Ok(r);
            }
        }
        self.write_key_routed(slot, cmd, grow, key, f.expect("not run"))
    }

    /// [`Registry::write_key`] off the common path, out of line for the reason
    /// [`Registry::read_stable`] gives.
    #[cold]
    #[inline(never)]
    fn write_key_routed<R>(
        &self,
        slot: u16,
        cmd: usize,
        grow: bool,
        key: &[u8],
        f: impl FnOnce(&mut Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        self.write_cmd(slot, cmd, grow, &[key], Via::Follow, f)
    }

    /// [`Registry::read_cmd`] for a write; a write that may `grow` memory first makes room
    /// under the budget (evicting, or refusing with `OOM`).
    ///
    /// # Errors
    /// As [`Registry::read_cmd`]; `OOM` when a growing write finds no room.
    #[inline]
    pub(crate) fn write_cmd<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        cmd: usize,
        grow: bool,
        keys: &[K],
        via: Via,
        f: impl FnOnce(&mut Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let slot_ix = usize::from(slot);
        let mut f = Some(f);
        self.run(slot, via, |node, asking| {
            prefetch_key(node, slot_ix, keys);
            if grow {
                node.make_room(Some(slot)).map_err(Miss::Fail)?;
            }
            let (mut v, mut replica) = (Verdict::Serve, false);
            let r = node.write_cmd(slot_ix, cmd, |t, now| {
                // A caller that read the route before a failover demoted this node, and
                // locks the cell after the node reloaded the slot as a replica, must not
                // write to the replica's copy (the write would be lost, and a `WAIT` after
                // it would answer for an older write): it reads the route again.
                replica = node.repl.is_replica();
                if replica {
                    return None;
                }
                v = verdict(t, now, keys, asking);
                (v == Verdict::Serve).then(|| f.take().expect("runs once")(t, now))
            });
            if replica {
                return Err(Miss::NotHere);
            }
            gate(r, v)
        })
    }

    /// Runs a blocking command on `slot`'s holder (where `via` says): at once if it can be
    /// served, else queued there. Returns the caller's id (for [`Registry::cancel_block`])
    /// and the outcome.
    ///
    /// # Errors
    /// As [`Registry::write_cmd`].
    pub(crate) fn block(
        &self,
        slot: u16,
        keys: Vec<Box<[u8]>>,
        via: Via,
        serve: Serve,
        grow: bool,
        wake: Option<Wake>,
    ) -> Result<(u64, Blocking), Error> {
        let id = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let slot_ix = usize::from(slot);
        let mut serve = Some(serve);
        self.run(slot, via, |node, asking| {
            // A pop or a stream read without Redis's `denyoom` runs over budget.
            if grow {
                node.make_room(Some(slot)).map_err(Miss::Fail)?;
            }
            match node.block(
                slot_ix,
                id,
                keys.clone(),
                asking,
                serve.take().expect("given back"),
                wake.clone(),
            ) {
                Ok(outcome) => Ok((id, outcome)),
                Err((s, miss)) => {
                    serve = Some(s);
                    Err(miss)
                }
            }
        })
    }

    /// Takes a blocked caller off its slot's queues, on the slot's holder or on the primary
    /// importing it; false if it is on neither now (served, gone with its node, or moving
    /// with a migration's handover: the caller asks again).
    pub(crate) fn cancel_block(&self, slot: u16, id: u64) -> bool {
        let slot_ix = usize::from(slot);
        let holder = self.route(slot_ix).ok().map(|n| n.id);
        // Where it most likely waits first; then every primary (callers never wait on a
        // replica), as a route that is down (the cluster lost coverage) names none of them.
        [holder, self.importer(slot)]
            .into_iter()
            .flatten()
            .chain(self.topology().primaries())
            .filter_map(|n| self.node(n))
            .any(|n| n.cancel_block(slot_ix, id) == Some(true))
    }

    /// Runs `f` with the tables of `slots` (ascending, no repeats) all write-locked: the
    /// atomic path of cross-slot commands and transactions, on `keys`. Locks are taken in
    /// ascending slot order, so two such callers cannot deadlock; if a slot moved while this
    /// caller waited, or a key-by-key migration redirects it, every lock is released and the
    /// set taken again (`follow`), with the asked slots locked on their importing primary.
    /// A caller that does not `follow` gets the first redirect instead; one `asking` starts
    /// on the importing side of every slot in a migration, as Redis's `ASKING` before `MULTI`.
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if a slot has no holder; a redirect for a raw
    /// caller; `TRYAGAIN` if a migration keeps the keys split past the retry budget.
    pub(crate) fn write_many<K: AsRef<[u8]>, R>(
        &self,
        slots: &[u16],
        keys: &[K],
        follow: bool,
        asking: bool,
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        debug_assert!(slots.windows(2).all(|w| w[0] < w[1]), "slots ascending, no repeats");
        // `asking` (an `ASKING` before `MULTI`): slots in a migration start on the target.
        let mut asked: Vec<Option<NodeId>> =
            slots.iter().map(|&s| if asking { self.importer(s) } else { None }).collect();
        let mut backoff = Backoff::new(self.retry_budget);
        loop {
            let mut held = Vec::with_capacity(slots.len());
            let mut missed = None;
            for (i, &slot) in slots.iter().enumerate() {
                let node = match asked[i] {
                    Some(id) => self
                        .node(id)
                        .map(|n| &**n)
                        .ok_or_else(|| Error::Command(format!("Unknown node {id}")))?,
                    None => self.route(usize::from(slot))?,
                };
                let guard = node.cells[usize::from(slot)].0.write();
                // A replica's copy is not the slot (see `write_cmd`).
                if guard.is_none() || node.repl.is_replica() {
                    missed = Some((i, node.id, Miss::NotHere));
                    break;
                }
                held.push((slot, node, guard));
            }
            let now = Now::with_access(&self.clock, self.budget.access())
                .notifying(self.budget.hub.notify_effective());
            if missed.is_none() {
                missed = held.iter().enumerate().find_map(|(i, (slot, node, g))| {
                    let t = g.as_ref().expect("checked");
                    if t.moving() == crate::keyspace::Moving::Stable {
                        return None;
                    }
                    let mine: Vec<&[u8]> = keys
                        .iter()
                        .map(AsRef::as_ref)
                        .filter(|k| crate::slot::key_slot(k) == *slot)
                        .collect();
                    match verdict(t, &now, &mine, asked[i].is_some()) {
                        Verdict::Serve => None,
                        v => Some((i, node.id, Miss::Redirect(v))),
                    }
                });
            }
            let Some((i, at, miss)) = missed else {
                let before: Vec<usize> = held
                    .iter_mut()
                    .map(|(_, n, g)| n.before_write(g.as_mut().expect("checked"), &now))
                    .collect();
                let tables =
                    held.iter_mut().map(|(s, _, g)| (*s, g.as_mut().expect("checked"))).collect();
                let r = f(&mut Db::Many(tables), &now);
                for ((slot, node, guard), before) in held.iter_mut().zip(before) {
                    node.after_write(usize::from(*slot), guard.as_mut().expect("checked"), &now, before);
                }
                // Published while every slot is still locked, as a one-slot write does.
                if let Some((_, node, _)) = held.first() {
                    node.publish_events(&now);
                }
                return Ok(r);
            };
            drop(held);
            let node = self.node(at).expect("was locked");
            if !follow {
                return Err(self.redirect(slots[i], node, miss));
            }
            count(node, &miss);
            let go_on = match miss {
                Miss::Redirect(Verdict::Ask) => {
                    asked[i] = self.importer(slots[i]);
                    backoff.wait()
                }
                Miss::Redirect(Verdict::TryAgain) => {
                    asked[i] = None;
                    if !backoff.pause() {
                        return Err(Error::TryAgain);
                    }
                    true
                }
                Miss::NotHere if self.route_id(slots[i]) != at.0 => {
                    asked[i] = None;
                    backoff.moved()
                }
                _ => {
                    asked[i] = None;
                    backoff.wait()
                }
            };
            if !go_on {
                return Err(Error::ClusterDown(ClusterDownReason::Unbound));
            }
        }
    }

    /// Every primary node of the current topology.
    pub(crate) fn primaries(&self) -> Vec<Arc<Node>> {
        self.topology().primaries().into_iter().filter_map(|id| self.node(id).cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn following_a_move_spends_no_retry_budget() {
        let mut b = Backoff::new(Duration::ZERO);
        // The first tries are free, then an empty budget ends them.
        assert!((0..MAX_REROUTES).all(|_| b.wait()));
        assert!(!b.wait());
        // A slot that keeps moving is served elsewhere: followed up to the cap, budget or not.
        assert!((0..MAX_MOVES).all(|_| b.moved()));
        assert!(!b.moved());
        assert!(!b.pause());
    }
}
