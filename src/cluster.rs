//! The control plane (level 4): building a cluster, its nodes' threads, topology views.

use crate::client::Client;
use crate::clock::Clock;
use crate::config::{Config, EvictionPolicy, FailoverMode, MigrationMode, ReadFrom};
use crate::error::Error;
use crate::events::Event;
use crate::ids::NodeId;
use crate::migration::MigrationProgress;
use crate::node::{Budget, Fleet, Registry};
use crate::slot::SLOT_COUNT;
use crate::topology::Topology;
use std::sync::Arc;
use std::time::Duration;

/// A slotstore cluster: primaries that own the 16384 slots, each with a thread of its own.
///
/// `Cluster` is a cheap handle (`Clone + Send + Sync`); dropping the last handle stops every
/// node thread. [`Client`]s made from it keep the data readable after that, but nothing
/// expires actively any more.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use slotstore::{key_slot, Cluster};
/// let cluster = Cluster::builder().primaries(3).build()?;
/// let client = cluster.client();
/// client.set("user:{42}:name", "kim")?;
/// let owner = cluster.slot_owner(key_slot("user:{42}:name")).unwrap();
/// assert!(cluster.primaries().contains(&owner));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    /// The shape of the cluster now, not its data: epoch, node counts, failed nodes and
    /// open key-by-key migrations.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.topology();
        f.debug_struct("Cluster")
            .field("epoch", &t.epoch())
            .field("primaries", &t.primaries().len())
            .field("replicas", &(t.nodes().len() - t.primaries().len()))
            .field("failed", &t.nodes().iter().filter(|n| n.failed).count())
            .field("migrating", &t.migrating_slots().len())
            .finish()
    }
}

struct Inner {
    registry: Arc<Registry>,
    config: Config,
    /// Node threads and the failure detector, stopped and joined with the last handle.
    fleet: Fleet,
}

impl Cluster {
    /// Starts building a cluster: one primary, no replicas, no memory limit.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// A client that runs commands against this cluster. Cheap; clone it freely.
    pub fn client(&self) -> Client {
        Client::new(self.inner.registry.clone(), self.inner.config.allow_cross_slot)
    }

    /// A client whose reads go where `read_from` says (writes always go to primaries).
    /// Reads from replicas may be stale: see [`ReadFrom`].
    pub fn client_with(&self, read_from: ReadFrom) -> Client {
        self.client().read_from(read_from)
    }

    /// Crashes `node`: its thread stops and its memory is dropped; callers blocked on its
    /// keys get `CLUSTERDOWN`. After `node_timeout` (by the cluster's [`Clock`]: a manual clock
    /// must be advanced past it) the failure detector marks it failed and,
    /// if it was a primary, promotes its replica with the highest applied offset; until then
    /// commands for its slots retry within the retry budget. A store built without replicas
    /// runs no failure detector: a killed primary's slots answer `CLUSTERDOWN` (after the
    /// retry budget) until [`restart_node`](Cluster::restart_node) brings it back empty.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use std::time::Duration;
    /// let cluster = slotstore::Cluster::builder()
    ///     .primaries(1)
    ///     .replicas(1)
    ///     .node_timeout(Duration::from_millis(50))
    ///     .build()?;
    /// let client = cluster.client();
    /// client.set("k", "v")?;
    /// assert_eq!(client.wait(1, Duration::from_secs(1))?, 1);
    /// let primary = cluster.primaries()[0];
    /// cluster.kill_node(primary)?;
    /// // The next command waits out the failover, then runs on the promoted replica.
    /// assert_eq!(client.get("k")?.as_deref(), Some(&b"v"[..]));
    /// assert_ne!(cluster.primaries()[0], primary);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR` if the node is already down. Nothing changes on error.
    pub fn kill_node(&self, node: NodeId) -> Result<(), Error> {
        self.inner.fleet.kill(node)
    }

    /// Hangs `node`: it stops answering heartbeats and commands (callers routed there wait)
    /// until [`resume_node`](Cluster::resume_node), or until a failover moves its slots
    /// elsewhere (then they run there).
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR` if the node is down or already paused.
    pub fn pause_node(&self, node: NodeId) -> Result<(), Error> {
        self.inner.fleet.pause(node)
    }

    /// Wakes a paused node. If a replica took over while it hung, it comes back as a replica
    /// of the new primary (and full-syncs); otherwise it carries on in its role.
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR` if the node is not paused.
    pub fn resume_node(&self, node: NodeId) -> Result<(), Error> {
        self.inner.fleet.resume(node)
    }

    /// Restarts a crashed node. It comes back empty as a replica of its shard's primary and
    /// full-syncs from it (this returns once the snapshot is loaded); if its shard has no live node, it comes back as the shard's
    /// primary with empty tables (as a Redis primary without persistence would).
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR` if the node was not killed; `ERR` if its thread cannot start.
    pub fn restart_node(&self, node: NodeId) -> Result<(), Error> {
        self.inner.fleet.restart(node)
    }

    /// Promotes `replica` to primary of its shard, as `CLUSTER FAILOVER [FORCE|TAKEOVER]`
    /// sent to it. [`FailoverMode::Default`] is lossless: the primary's writes pause until the
    /// replica has applied everything, then the roles swap. The old primary, if alive,
    /// becomes a replica of the new one and full-syncs. Returns once the swap is published.
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR You should send CLUSTER FAILOVER to a replica` for a primary;
    /// `ERR` if the replica is down or still syncing; for `Default`, `ERR Master is down or
    /// failed, please use CLUSTER FAILOVER FORCE` when the primary is down, and an error if
    /// the replica does not catch up within 5 s. Nothing changes on error.
    pub fn failover(&self, replica: NodeId, mode: FailoverMode) -> Result<(), Error> {
        self.inner.registry.failover(replica, mode)
    }

    /// An order-independent digest of the keys, values and TTLs `node` holds in `slot` (in
    /// the spirit of `DEBUG DIGEST-VALUE`): equal digests mean equal contents, so tests can
    /// prove a replica matches its primary.
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR Invalid or out of range slot`; `ERR` if the node does not
    /// hold the slot (not its shard's, or a replica still syncing).
    pub fn slot_digest(&self, node: NodeId, slot: u16) -> Result<u64, Error> {
        if slot >= SLOT_COUNT {
            return Err(Error::invalid_slot());
        }
        self.inner.registry.slot_digest(node, slot)
    }

    /// The replication offset of `node`: the last batch sent (primary) or applied (replica).
    ///
    /// # Errors
    /// `ERR Unknown node`.
    pub fn replication_offset(&self, node: NodeId) -> Result<u64, Error> {
        self.inner.registry.node_checked(node)?;
        Ok(self.inner.registry.offset_of(node))
    }

    /// The current topology snapshot.
    pub fn topology(&self) -> Arc<Topology> {
        self.inner.registry.topology()
    }

    /// The primaries, in id order.
    pub fn primaries(&self) -> Vec<NodeId> {
        self.topology().primaries()
    }

    /// The replicas of `primary`, in id order (empty for an unknown node).
    pub fn replicas_of(&self, primary: NodeId) -> Vec<NodeId> {
        self.topology().replicas_of(primary)
    }

    /// The primary serving `slot` now; None if the slot is unassigned or out of range.
    pub fn slot_owner(&self, slot: u16) -> Option<NodeId> {
        self.topology().slot_owner(slot)
    }

    /// Moves `slot` to the primary `to` atomically (in the spirit of Valkey 9 atomic slot
    /// migration) and returns once `to` owns it. Commands on the slot wait for the move
    /// under the slot's lock and then run on `to`: no `ASK`, no `TRYAGAIN`, no error.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{key_slot, Cluster};
    /// let cluster = Cluster::builder().primaries(2).build()?;
    /// let client = cluster.client();
    /// client.set("foo", "bar")?;
    /// let slot = key_slot("foo");
    /// let other = cluster.primaries().into_iter().find(|p| Some(*p) != cluster.slot_owner(slot)).unwrap();
    /// cluster.migrate_slot(slot, other)?;
    /// assert_eq!(cluster.slot_owner(slot), Some(other));
    /// assert_eq!(client.get("foo")?.as_deref(), Some(&b"bar"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR Invalid or out of range slot`; `ERR Unknown node` / `ERR Target node is not a
    /// master` for a bad target; `ERR` if the target already owns the slot. Nothing changes
    /// on error.
    pub fn migrate_slot(&self, slot: u16, to: NodeId) -> Result<(), Error> {
        if slot >= SLOT_COUNT {
            return Err(Error::invalid_slot());
        }
        self.inner.registry.move_slot(slot, to).map(drop)
    }

    /// Moves every slot of `slots` (inclusive range) to `to`, one at a time, as
    /// [`migrate_slot`](Cluster::migrate_slot); slots `to` already owns are skipped.
    ///
    /// # Errors
    /// As [`migrate_slot`](Cluster::migrate_slot); slots moved before an error stay moved.
    pub fn migrate_slots(&self, slots: std::ops::RangeInclusive<u16>, to: NodeId) -> Result<(), Error> {
        for slot in slots {
            if self.slot_owner(slot) != Some(to) {
                self.migrate_slot(slot, to)?;
            }
        }
        Ok(())
    }

    /// Opens a migration of `slot` to the primary `to` and returns a handle to drive it.
    ///
    /// With [`MigrationMode::KeyByKey`] (Redis's classic flow) the slot is MIGRATING on
    /// its owner and IMPORTING on `to` from here on: the owner serves the keys it still has,
    /// a command on missing keys is asked for on `to` (`ASK`), a multi-key command whose
    /// keys are split answers `TRYAGAIN`, and `to` serves only asked callers. Each
    /// [`step`](Migration::step) moves a batch of keys; [`finish`](Migration::finish) moves
    /// the rest and hands the slot over (later callers get `MOVED` on the old owner);
    /// [`abort`](Migration::abort) brings every key back. A default [`Client`] follows all of
    /// that on its own; a raw one ([`Client::follow_redirects`]) sees it. The migration is
    /// recorded per shard, so it survives a failover of either side; dropping the handle
    /// leaves it open ([`Cluster::migration`] gives a new one).
    ///
    /// With [`MigrationMode::Atomic`] the handle moves the whole slot at its first step or
    /// at `finish`, as [`migrate_slot`](Cluster::migrate_slot) does.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{key_slot, Cluster, MigrationMode};
    /// let cluster = Cluster::builder().primaries(2).build()?;
    /// let client = cluster.client();
    /// for i in 0..10 {
    ///     client.set(format!("{{user}}:{i}"), "v")?;
    /// }
    /// let slot = key_slot("{user}");
    /// let to = cluster.primaries().into_iter().find(|p| Some(*p) != cluster.slot_owner(slot)).unwrap();
    /// let mut m = cluster.begin_migration(slot, to, MigrationMode::KeyByKey)?;
    /// let p = m.step(4)?;
    /// assert_eq!((p.keys_moved, p.keys_left), (4, 6));
    /// // Half-moved: every key still answers, wherever it is. (A multi-key command whose
    /// // keys are split waits for the mover: `TRYAGAIN`, retried within the retry budget.)
    /// for i in 0..10 {
    ///     assert_eq!(client.get(format!("{{user}}:{i}"))?.as_deref(), Some(&b"v"[..]));
    /// }
    /// m.finish()?;
    /// assert_eq!(cluster.slot_owner(slot), Some(to));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR Invalid or out of range slot`; `ERR Unknown node`; `ERR Target node is not a
    /// master`; `ERR` if `to` is down or already owns the slot, or the slot is already
    /// migrating; `CLUSTERDOWN` if the slot has no owner. Nothing changes on error.
    pub fn begin_migration(
        &self,
        slot: u16,
        to: NodeId,
        mode: MigrationMode,
    ) -> Result<Migration, Error> {
        let registry = self.inner.registry.clone();
        if slot >= SLOT_COUNT {
            return Err(Error::invalid_slot());
        }
        let from = match mode {
            MigrationMode::KeyByKey => {
                registry.begin_migration(slot, to)?;
                registry.topology().migration(slot).map_or(to, |(from, _)| from)
            }
            MigrationMode::Atomic => registry.check_migration(slot, to)?,
        };
        let progress = registry.migration_progress(slot).unwrap_or_else(|| {
            let left = self.client().count_keys_in_slot(slot);
            MigrationProgress::new(slot, from, to, mode, 0, left, false)
        });
        Ok(Migration { registry, progress })
    }

    /// A handle on the key-by-key migration of `slot` that is open now (its first handle was
    /// dropped, or another thread drives it); None if the slot is not migrating.
    pub fn migration(&self, slot: u16) -> Option<Migration> {
        let progress = self.inner.registry.migration_progress(slot)?;
        Some(Migration { registry: self.inner.registry.clone(), progress })
    }

    /// Scales out: adds an empty shard, a primary holding no slots and `replicas` replicas
    /// of it (full-synced before this returns), and returns the primary. Give it slots with
    /// [`migrate_slot`](Cluster::migrate_slot), [`begin_migration`](Cluster::begin_migration)
    /// or [`rebalance`](Cluster::rebalance).
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let cluster = slotstore::Cluster::builder().primaries(2).build()?;
    /// let client = cluster.client();
    /// for i in 0..1000 {
    ///     client.set(format!("key:{i}"), "v")?;
    /// }
    /// let new = cluster.add_primary(0)?;
    /// assert_eq!(cluster.node_key_count(new)?, 0);
    /// cluster.rebalance()?;
    /// // About a third of the keys now live on the new primary.
    /// assert!(cluster.node_key_count(new)? > 250);
    /// assert_eq!(client.dbsize(), 1000);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR` if the cluster would pass 1024 nodes or a thread cannot start.
    pub fn add_primary(&self, replicas: usize) -> Result<NodeId, Error> {
        self.inner.fleet.add_primary(replicas)
    }

    /// Scales in: moves every slot of `primary` to the other primaries (atomically, slot by
    /// slot, in contiguous runs spread evenly), then removes its shard: it and its replicas
    /// leave the topology and their threads stop.
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR` if `primary` is not a primary, is the last one, or is in a
    /// key-by-key migration; a migration error (`OOM`) leaves the slots moved so far moved
    /// and the shard in place.
    pub fn remove_primary(&self, primary: NodeId) -> Result<(), Error> {
        let t = self.topology();
        let info = t.node(primary).ok_or_else(|| Error::Command(format!("Unknown node {primary}")))?;
        if info.role != crate::topology::Role::Primary {
            return Err(Error::Command(format!("Node {primary} is not a primary")));
        }
        let others: Vec<NodeId> = t
            .primaries()
            .into_iter()
            .filter(|&p| p != primary && t.node(p).is_some_and(|n| !n.failed))
            .collect();
        if others.is_empty() {
            return Err(Error::msg("cannot remove the last live primary"));
        }
        if t.migrating_slots()
            .iter()
            .any(|&s| t.migration(s).is_some_and(|(a, b)| a == primary || b == primary))
        {
            return Err(Error::Command(format!("Node {primary} is in a key-by-key migration")));
        }
        let slots = t.slots_of(primary);
        let run = slots.len().div_ceil(others.len()).max(1);
        for (chunk, &to) in slots.chunks(run).zip(others.iter().cycle()) {
            for &slot in chunk {
                self.inner.registry.move_slot(slot, to)?;
            }
        }
        self.inner.fleet.remove_shard(primary)
    }

    /// Moves slots (atomically) so the primaries hold about equal numbers of keys; see
    /// [`rebalance_with`](Cluster::rebalance_with).
    ///
    /// # Errors
    /// As [`rebalance_with`](Cluster::rebalance_with).
    pub fn rebalance(&self) -> Result<RebalanceProgress, Error> {
        self.rebalance_with(Balance::Keys, |_| {})
    }

    /// Moves slots between primaries so they hold about equal shares of what `by` measures,
    /// moving as few slots as it can: repeatedly the slot of the fullest primary that best
    /// narrows its gap to the emptiest. Slots move atomically, one at a time, while
    /// traffic flows; `progress` is called after each. An empty store balances slots.
    ///
    /// # Errors
    /// A migration error (`OOM` on a full target): slots moved before it stay moved.
    pub fn rebalance_with(
        &self,
        by: Balance,
        mut progress: impl FnMut(&RebalanceProgress),
    ) -> Result<RebalanceProgress, Error> {
        let t = self.topology();
        let primaries: Vec<NodeId> =
            t.primaries().into_iter().filter(|&p| t.node(p).is_some_and(|n| !n.failed)).collect();
        let moving = t.migrating_slots();
        let weight = |slot: u16| -> u64 {
            let r = &self.inner.registry;
            match by {
                Balance::Keys => r.read(slot, |t, _| t.len() as u64).unwrap_or(0),
                Balance::Memory => r.read(slot, |t, _| t.used() as u64).unwrap_or(0),
                Balance::Slots => 1,
            }
        };
        let mut weights: Vec<u64> = (0..SLOT_COUNT).map(weight).collect();
        if weights.iter().all(|&w| w == 0) {
            weights = vec![1; weights.len()];
        }
        let held: Vec<Vec<u16>> = primaries
            .iter()
            .map(|&p| t.slots_of(p).into_iter().filter(|s| !moving.contains(s)).collect())
            .collect();
        let plan: Vec<(u16, NodeId)> =
            crate::rebalance::plan(&weights, held).into_iter().map(|(s, i)| (s, primaries[i])).collect();
        let mut report = RebalanceProgress { slots_planned: plan.len(), slots_moved: 0, keys_moved: 0 };
        progress(&report);
        for (slot, to) in plan {
            report.keys_moved += self.inner.registry.move_slot(slot, to)?;
            report.slots_moved += 1;
            progress(&report);
        }
        Ok(report)
    }

    /// Keys stored on `node` (expired keys not yet deleted included).
    ///
    /// # Errors
    /// `ERR Unknown node` if the cluster has no such node.
    pub fn node_key_count(&self, node: NodeId) -> Result<usize, Error> {
        Ok(self.inner.registry.node_checked(node)?.key_count())
    }

    /// The registry, for the crate's control-plane helpers (chaos).
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The failure detection timeout the cluster was built with.
    pub(crate) fn node_timeout(&self) -> Duration {
        self.inner.config.node_timeout
    }

    /// Bytes the primaries hold together (keys, values, TTL index and table overhead), as
    /// [`Client::memory_used`] counts them.
    pub fn memory_used(&self) -> usize {
        self.inner.registry.primaries().iter().map(|n| n.memory_used()).sum()
    }

    /// Subscribes to what happens to the cluster's topology: slot moves, migration steps,
    /// failures, promotions, restarts, shards added and removed (see [`Event`]).
    ///
    /// Ordering: every change is published by one function under the cluster's control
    /// lock, which swaps in the next topology and then sends its events, so each subscriber
    /// receives every event published after it subscribed, exactly once, in publish (epoch)
    /// order, and an event arrives only once its topology is current.
    ///
    /// Bound: each subscriber has a buffer of 4096 events. A subscriber that falls that far
    /// behind is cut off rather than left to grow: the cluster drops its sender, so it reads
    /// the 4096 events it holds and then `recv` answers `Err(RecvError)` (disconnected),
    /// which tells it events were lost. Dropping the receiver unsubscribes. Use
    /// [`events_with_capacity`](Cluster::events_with_capacity) for another bound.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{Cluster, Event, FailoverMode};
    /// let cluster = Cluster::builder().primaries(1).replicas(1).build()?;
    /// let events = cluster.events();
    /// let (primary, replica) = (cluster.primaries()[0], cluster.replicas_of(cluster.primaries()[0])[0]);
    /// cluster.failover(replica, FailoverMode::Default)?;
    /// match events.recv().unwrap() {
    ///     Event::Promoted { node, replaced, .. } => assert_eq!((node, replaced), (replica, primary)),
    ///     e => panic!("unexpected {e:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events(&self) -> crossbeam_channel::Receiver<Event> {
        self.events_with_capacity(crate::events::SUBSCRIBER_CAPACITY)
    }

    /// [`events`](Cluster::events) with a buffer of `capacity` events (at least 1) before
    /// the subscriber is cut off.
    pub fn events_with_capacity(&self, capacity: usize) -> crossbeam_channel::Receiver<Event> {
        self.inner.registry.subscribe(capacity)
    }

    /// Rounds the failure detector has run so far (one every quarter of `node_timeout`, in
    /// real time, while the cluster has replicas; none without). Each round reads the
    /// cluster's [`Clock`]: with [`Clock::manual`] a hung primary is failed over only once
    /// the clock has moved past `node_timeout`, so tests wait on rounds and move the clock
    /// instead of sleeping.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{Clock, Cluster};
    /// use std::time::Duration;
    /// let clock = Clock::manual(1_000_000);
    /// let cluster = Cluster::builder()
    ///     .primaries(1)
    ///     .replicas(1)
    ///     .node_timeout(Duration::from_millis(20))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// let primary = cluster.primaries()[0];
    /// cluster.pause_node(primary)?;
    /// // However many rounds pass, no clock time passes: no failover.
    /// let seen = cluster.detector_rounds();
    /// while cluster.detector_rounds() < seen + 10 {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(cluster.primaries(), vec![primary]);
    /// clock.advance(Duration::from_millis(21));
    /// while cluster.primaries() == vec![primary] {
    ///     std::thread::yield_now();
    /// }
    /// cluster.resume_node(primary)?;
    /// # Ok(()) }
    /// ```
    pub fn detector_rounds(&self) -> u64 {
        self.inner.registry.detector_rounds()
    }

    /// The clock the cluster reads for expiry.
    pub fn clock(&self) -> &Clock {
        &self.inner.registry.clock
    }

    /// Runs one pass of active expiry on every primary now (replicas wait for the deletions
    /// to arrive on their streams), instead of waiting for the node
    /// threads' next tick; returns the keys deleted. Useful with a manual [`Clock`].
    pub fn run_active_expiry(&self) -> usize {
        self.inner.registry.primaries().iter().map(|n| n.active_expire_cycle(Duration::MAX)).sum()
    }
}

/// What [`Cluster::rebalance_with`] evens out among the primaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Balance {
    /// Keys held (the default).
    #[default]
    Keys,
    /// Bytes of memory held.
    Memory,
    /// Slots held, as `redis-cli --cluster rebalance` does with equal weights.
    Slots,
}

/// How far a rebalance has got.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RebalanceProgress {
    /// Slot moves the plan holds.
    pub slots_planned: usize,
    /// Slot moves done.
    pub slots_moved: usize,
    /// Keys those moves carried.
    pub keys_moved: usize,
}

/// A migration of one slot in progress, from [`Cluster::begin_migration`].
///
/// Every call reports where the migration stands. The handle is `Send`: a test can drive it
/// from one thread while others run commands on the slot.
#[derive(Clone)]
pub struct Migration {
    registry: Arc<Registry>,
    progress: MigrationProgress,
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration").field("progress", &self.progress).finish()
    }
}

impl Migration {
    /// The slot being moved.
    pub fn slot(&self) -> u16 {
        self.progress.slot
    }

    /// Where the migration stands now.
    pub fn progress(&self) -> MigrationProgress {
        if self.progress.done {
            return self.progress.clone();
        }
        match self.progress.mode {
            MigrationMode::KeyByKey => self
                .registry
                .migration_progress(self.progress.slot)
                .unwrap_or_else(|| self.progress.clone()),
            MigrationMode::Atomic => self.progress.clone(),
        }
    }

    /// Moves up to `max_keys` keys to the target (key-by-key; atomic mode moves the whole
    /// slot) and waits until the replicas of both sides have applied them. Returns the
    /// progress; a step after the last key moved does nothing (call `finish`).
    ///
    /// # Errors
    /// `ERR` if the migration was finished or aborted elsewhere; `OOM` if the target has no
    /// room for the batch under the memory budget (nothing of the batch moves; the migration
    /// stays open for a retry or an abort); `CLUSTERDOWN` if a side is down and no failover
    /// replaces it within the retry budget.
    pub fn step(&mut self, max_keys: usize) -> Result<MigrationProgress, Error> {
        if self.progress.done {
            return Ok(self.progress.clone());
        }
        self.progress = match self.progress.mode {
            MigrationMode::KeyByKey => self.registry.migration_step(self.progress.slot, max_keys)?,
            MigrationMode::Atomic => self.move_atomically()?,
        };
        Ok(self.progress.clone())
    }

    /// Moves every key left and hands the slot over to the target.
    ///
    /// # Errors
    /// As [`Migration::step`]; on `OOM` the migration has been rolled back (every key is on
    /// the source again).
    pub fn finish(&mut self) -> Result<MigrationProgress, Error> {
        if self.progress.done {
            return Ok(self.progress.clone());
        }
        self.progress = match self.progress.mode {
            MigrationMode::KeyByKey => self.registry.finish_migration(self.progress.slot)?,
            MigrationMode::Atomic => self.move_atomically()?,
        };
        Ok(self.progress.clone())
    }

    /// Rolls the migration back: keys already moved return to the source, which keeps the
    /// slot. An atomic migration not yet run is simply dropped. A target that is down is
    /// waited for within the retry budget (its failover brings the moved keys back); if none
    /// comes, the keys moved so far are lost with it and the slot is stable on the source.
    ///
    /// # Errors
    /// `ERR` if the migration was already finished; `CLUSTERDOWN` if the source is down or
    /// hung past the retry budget.
    pub fn abort(&mut self) -> Result<MigrationProgress, Error> {
        if self.progress.done {
            return Err(Error::Command(format!(
                "Slot {} has already been migrated",
                self.progress.slot
            )));
        }
        self.progress = match self.progress.mode {
            MigrationMode::KeyByKey => self.registry.abort_migration(self.progress.slot)?,
            MigrationMode::Atomic => MigrationProgress { done: true, ..self.progress.clone() },
        };
        Ok(self.progress.clone())
    }

    fn move_atomically(&self) -> Result<MigrationProgress, Error> {
        let p = &self.progress;
        let keys = self.registry.move_slot(p.slot, p.to)?;
        Ok(MigrationProgress { keys_moved: keys, keys_left: 0, done: true, ..p.clone() })
    }
}

/// Builds a [`Cluster`]. Every option has Redis Cluster's default unless it says otherwise.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use std::time::Duration;
/// let cluster = slotstore::Cluster::builder()
///     .primaries(3)
///     .node_timeout(Duration::from_millis(200))
///     .build()?;
/// assert_eq!(cluster.primaries().len(), 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClusterBuilder {
    config: Config,
}

impl ClusterBuilder {
    /// Number of primaries (shards); default 1. Slots are split among them in contiguous
    /// ranges as `redis-cli --cluster create` does.
    pub fn primaries(mut self, n: usize) -> Self {
        self.config.primaries = n;
        self
    }

    /// Replicas per primary; default 0. Each replica is a node with its own thread and
    /// keyspace, fed by its primary's replication stream; a failure detector thread watches
    /// the nodes' heartbeats and promotes a replica when a primary goes silent.
    pub fn replicas(mut self, n: usize) -> Self {
        self.config.replicas = n;
        self
    }

    /// How long a node may miss heartbeats before it is marked failed, by the cluster's
    /// [`Clock`] (a manual clock fails nodes over only when it is moved); default 200 ms
    /// (Redis's `cluster-node-timeout` is 15 s; in one process heartbeats never get lost in
    /// a network, so a short timeout is safe). At least 4 ms.
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.config.node_timeout = timeout;
        self
    }

    /// Lets multi-key commands, `MULTI`/`EXEC` blocks and [`Client::transaction`] span slots
    /// and primaries, atomically: every slot involved is locked (in ascending slot order, so
    /// callers cannot deadlock) before anything runs. Default false: Redis Cluster's
    /// `CROSSSLOT` rule. Blocking commands stay single-slot either way.
    pub fn allow_cross_slot(mut self, allow: bool) -> Self {
        self.config.allow_cross_slot = allow;
        self
    }

    /// Memory budget in bytes for all primaries together; default unlimited.
    ///
    /// Each primary gets the share of it that its slots are of the 16384 and evicts within
    /// that share, as each node of a Redis Cluster has its own `maxmemory`: keys that all
    /// share one hash tag live in one slot on one primary and get its share only (a third of
    /// the budget with three primaries). Spread keys over many tags, or give the store one
    /// primary, to cache under tags with the whole budget.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.config.max_memory = Some(bytes);
        self
    }

    /// What to do when the memory budget is reached; default [`EvictionPolicy::NoEviction`].
    pub fn eviction_policy(mut self, policy: EvictionPolicy) -> Self {
        self.config.eviction_policy = policy;
        self
    }

    /// With true (Redis's default), a slot with no serving primary makes every keyed command
    /// fail with `CLUSTERDOWN`; with false, only that slot's commands fail.
    pub fn require_full_coverage(mut self, require: bool) -> Self {
        self.config.require_full_coverage = require;
        self
    }

    /// How long a keyed command keeps retrying a slot whose shard is failing over (its
    /// primary crashed or hangs and no replica has taken over yet) before it answers
    /// `CLUSTERDOWN`; default twice `node_timeout`.
    pub fn retry_budget(mut self, budget: Duration) -> Self {
        self.config.retry_budget = Some(budget);
        self
    }

    /// The clock expiry reads; default the system clock. Pass [`Clock::manual`] to move time
    /// by hand in tests.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.config.clock = clock;
        self
    }

    /// How often node threads run periodic work such as active expiry; default 100 ms
    /// (Redis's `hz 10`).
    pub fn cron_interval(mut self, interval: Duration) -> Self {
        self.config.cron_interval = interval;
        self
    }

    /// Bounds of each in-process [`Subscription`](crate::Subscription)'s queue: at most
    /// `messages` messages and `bytes` bytes (channel, pattern and payload, plus 64 bytes of
    /// bookkeeping per message) wait unread. A message that would pass either bound is
    /// dropped (the newest goes, what is queued stays in order) and counted in
    /// [`Subscription::dropped`](crate::Subscription::dropped) and
    /// [`ClusterStats::pubsub`](crate::ClusterStats). Default 100 000 messages, 32 MiB (Redis's
    /// hard `client-output-buffer-limit` for pub/sub clients). Both at least 1.
    pub fn subscriber_queue(mut self, messages: usize, bytes: usize) -> Self {
        self.config.subscriber_queue = (messages.max(1), bytes.max(1));
        self
    }

    /// Builds the cluster and starts its node threads.
    ///
    /// # Errors
    /// `ERR` if an option is out of range (no primaries, more primaries than slots, too many
    /// nodes, a node timeout under 4 ms), or a thread cannot be started.
    pub fn build(self) -> Result<Cluster, Error> {
        let config = self.config;
        config.validate()?;
        let topology = Topology::initial(config.primaries, config.replicas);
        let mut budget = Budget::new(config.max_memory, config.eviction_policy);
        let (messages, bytes) = config.subscriber_queue;
        budget.hub = Arc::new(crate::pubsub::Hub::new(crate::pubsub::Limits { messages, bytes }));
        let budget = Arc::new(budget);
        let registry = Arc::new(Registry::new(topology, &config, budget));
        let fleet = Fleet::start(registry.clone(), &config)?;
        Ok(Cluster { inner: Arc::new(Inner { registry, config, fleet }) })
    }
}
