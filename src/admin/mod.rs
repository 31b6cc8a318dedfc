//! Driving faults the same way on slotstore and on a real Redis/Valkey Cluster (feature
//! `redis`): move a slot, fail a shard over, read the layout.
//!
//! [`ClusterAdmin`] is implemented for [`Cluster`] (in process) and for
//! [`RedisClusterAdmin`] (a real cluster, over redis-rs connections to its nodes), so a
//! resharding or failover test written against slotstore runs once against staging:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use slotstore::admin::ClusterAdmin;
//! use slotstore::redis::Commands;
//! use slotstore::{key_slot, Cluster};
//!
//! /// Written once; `admin` is a `Cluster` in unit tests and a `RedisClusterAdmin` in staging.
//! fn reshard_keeps_data(con: &mut impl Commands, admin: &dyn ClusterAdmin) -> redis::RedisResult<()> {
//!     let _: () = con.set("user:{7}:name", "kim")?;
//!     let slot = key_slot("user:{7}:name");
//!     let layout = admin.topology()?;
//!     let owner = layout.owner(slot).expect("slot served").primary.id.clone();
//!     let to = layout.shards.iter().find(|s| s.primary.id != owner).unwrap().primary.id.clone();
//!     admin.move_slot(slot, &to)?;
//!     assert_eq!(admin.topology()?.owner(slot).unwrap().primary.id, to);
//!     let name: String = con.get("user:{7}:name")?;
//!     assert_eq!(name, "kim");
//!     Ok(())
//! }
//!
//! let cluster = Cluster::builder().primaries(3).build()?;
//! reshard_keeps_data(&mut cluster.redis_connection(), &cluster)?;
//! # use slotstore::redis;
//! # Ok(()) }
//! ```

mod real;

pub use real::RedisClusterAdmin;

use crate::bridge::redis_error;
use crate::cluster::Cluster;
use crate::config::FailoverMode;
use crate::error::Error;
use crate::ids::NodeId;
use crate::topology::{Role, Topology};
use redis::RedisResult;

/// One node: its cluster id (40 hex characters) and `host:port` (in process: symbolic, see
/// [`NodeId::addr`], or the announced address once served over TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's id, as `CLUSTER NODES` and `CLUSTER SHARDS` print it.
    pub id: String,
    /// `host:port`.
    pub addr: String,
}

/// One shard: a primary, its replicas and the slot ranges it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// The primary serving the shard's slots now.
    pub primary: Node,
    /// Its replicas that are up.
    pub replicas: Vec<Node>,
    /// Inclusive slot ranges, ascending.
    pub slots: Vec<(u16, u16)>,
}

/// The cluster's shards, as [`ClusterAdmin::topology`] reads them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// Shards with a live primary, ordered by their first slot (slotless shards last, by id).
    pub shards: Vec<Shard>,
}

impl Layout {
    /// The shard serving `slot`.
    pub fn owner(&self, slot: u16) -> Option<&Shard> {
        self.shards.iter().find(|s| s.slots.iter().any(|&(a, b)| a <= slot && slot <= b))
    }

    /// The shard whose primary or replica has the id `id`.
    pub fn shard_of(&self, id: &str) -> Option<&Shard> {
        self.shards.iter().find(|s| s.primary.id == id || s.replicas.iter().any(|r| r.id == id))
    }

    /// Every shard's primary.
    pub fn primaries(&self) -> Vec<&Node> {
        self.shards.iter().map(|s| &s.primary).collect()
    }

    fn sort(&mut self) {
        for s in &mut self.shards {
            s.slots.sort_unstable();
            s.replicas.sort_by(|a, b| a.id.cmp(&b.id));
        }
        self.shards.sort_by(|a, b| {
            let first = |s: &Shard| s.slots.first().map_or(u32::MAX, |r| u32::from(r.0));
            first(a).cmp(&first(b)).then_with(|| a.primary.id.cmp(&b.primary.id))
        });
    }
}

/// Control-plane operations a test drives the same way on slotstore and on a real cluster.
///
/// Every method returns once the change is visible: the slot answers on its new owner, the
/// promoted replica serves the shard's slots. Errors are [`redis::RedisError`]s (a
/// slotstore error keeps its Redis code).
pub trait ClusterAdmin {
    /// The shards, their primaries, replicas and slots now.
    ///
    /// # Errors
    /// A real cluster's connection or parse error.
    fn topology(&self) -> RedisResult<Layout>;

    /// Moves `slot` with its keys to the primary whose id is `to`; nothing to do if it owns
    /// the slot already. Writes to the slot may go on meanwhile: in process the move is
    /// atomic; on a real cluster it is `CLUSTER SETSLOT IMPORTING`/`MIGRATING`, `MIGRATE` key
    /// by key, then `CLUSTER SETSLOT NODE` on every primary, as `redis-cli --cluster
    /// reshard` does (clients meanwhile see `ASK`/`TRYAGAIN`, which redis-rs handles).
    ///
    /// # Errors
    /// An unknown `to`, a `to` that is not a primary, a failed step.
    fn move_slot(&self, slot: u16, to: &str) -> RedisResult<()>;

    /// Fails over the shard whose primary is `primary`, losslessly (`CLUSTER FAILOVER` sent
    /// to one of its replicas), and returns the new primary's id once it serves the shard
    /// and the old primary follows it.
    ///
    /// # Errors
    /// An unknown or non-primary `primary`, a shard without a replica, a failover that does
    /// not complete within the timeout.
    fn failover(&self, primary: &str) -> RedisResult<String>;
}

fn client_error(what: &'static str, detail: impl Into<String>) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Client, what, detail.into()))
}

/// A node as `t` names it: its announced address once the cluster is served over TCP
/// ([`Cluster::serve`]), its symbolic one otherwise.
fn node(t: &Topology, id: NodeId) -> Node {
    Node { id: id.to_string(), addr: t.addr(id).to_string() }
}

impl Cluster {
    fn node_named(&self, id: &str) -> RedisResult<NodeId> {
        NodeId::parse(id.as_bytes())
            .filter(|n| self.topology().node(*n).is_some())
            .ok_or_else(|| redis_error(&Error::msg(format!("Unknown node {id}"))))
    }
}

impl ClusterAdmin for Cluster {
    fn topology(&self) -> RedisResult<Layout> {
        let t = Cluster::topology(self);
        let up = |id: NodeId| t.node(id).is_some_and(|n| !n.failed);
        let mut layout = Layout::default();
        for p in t.primaries().into_iter().filter(|p| up(*p)) {
            let replicas =
                t.replicas_of(p).into_iter().filter(|r| up(*r)).map(|r| node(&t, r)).collect();
            let slots = t.slot_ranges(p);
            layout.shards.push(Shard { primary: node(&t, p), replicas, slots });
        }
        layout.sort();
        Ok(layout)
    }

    fn move_slot(&self, slot: u16, to: &str) -> RedisResult<()> {
        let to = self.node_named(to)?;
        if self.slot_owner(slot) == Some(to) {
            return Ok(());
        }
        self.migrate_slot(slot, to).map_err(|e| redis_error(&e))
    }

    fn failover(&self, primary: &str) -> RedisResult<String> {
        let primary = self.node_named(primary)?;
        let t = Cluster::topology(self);
        if !matches!(t.node(primary).map(|n| n.role), Some(Role::Primary)) {
            return Err(redis_error(&Error::msg("You should send CLUSTER FAILOVER to a replica")));
        }
        let replica = t
            .replicas_of(primary)
            .into_iter()
            .find(|r| t.node(*r).is_some_and(|n| !n.failed))
            .ok_or_else(|| {
                client_error("slotstore: the shard has no live replica", primary.to_string())
            })?;
        Cluster::failover(self, replica, FailoverMode::Default).map_err(|e| redis_error(&e))?;
        Ok(replica.to_string())
    }
}
