//! The control plane (level 4): building a cluster, its nodes' threads, topology views.

use crate::client::Client;
use crate::clock::Clock;
use crate::config::{Config, EvictionPolicy, FailoverMode, ReadFrom};
use crate::error::Error;
use crate::ids::NodeId;
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
    /// keys get `CLUSTERDOWN`. After `node_timeout` the failure detector marks it failed and,
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
        self.inner.registry.move_slot(slot, to)
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

    /// Keys stored on `node` (expired keys not yet deleted included).
    ///
    /// # Errors
    /// `ERR Unknown node` if the cluster has no such node.
    pub fn node_key_count(&self, node: NodeId) -> Result<usize, Error> {
        let n = self
            .inner
            .registry
            .node(node)
            .ok_or_else(|| Error::Command(format!("Unknown node {node}")))?;
        Ok(n.key_count())
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

    /// How long a node may miss heartbeats before it is marked failed; default 200 ms
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

    /// Builds the cluster and starts its node threads.
    ///
    /// # Errors
    /// `ERR` if an option is out of range (no primaries, more primaries than slots, too many
    /// nodes, a node timeout under 4 ms), or a thread cannot be started.
    pub fn build(self) -> Result<Cluster, Error> {
        let config = self.config;
        config.validate()?;
        let topology = Topology::initial(config.primaries, config.replicas);
        let budget = Arc::new(Budget::new(config.max_memory, config.eviction_policy));
        let registry = Arc::new(Registry::new(topology, &config, budget));
        let fleet = Fleet::start(registry.clone(), &config)?;
        Ok(Cluster { inner: Arc::new(Inner { registry, config, fleet }) })
    }
}
