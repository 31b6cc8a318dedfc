//! Topology (level 2): an immutable snapshot of the nodes, their roles and the slot owners.
//!
//! Every change builds a new snapshot with a higher epoch; the cluster swaps it in whole.
//! No threads, no locks: the node and cluster layers decide when to publish.

use crate::ids::NodeId;
use crate::slot::SLOTS;

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Owns slots and takes writes.
    Primary,
    /// Follows the primary it names.
    Replica {
        /// The primary it replicates.
        of: NodeId,
    },
}

/// Where a node is reached, as `CLUSTER SLOTS`, `NODES`, `SHARDS`, `MOVED` and `ASK` announce it.
///
/// A store that is not served has symbolic addresses: node `i` is `127.0.0.1:30001+i` (the
/// ports of Redis's `create-cluster` script), bus port `port + 10000`, opening no socket.
/// [`Cluster::serve`](crate::Cluster::serve) publishes the real ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeAddr {
    /// The IP address clients connect to (never empty: ioredis drops an empty host).
    pub ip: String,
    /// The client port.
    pub port: u16,
    /// The cluster bus port Redis would use (`port + 10000`); shown in `CLUSTER NODES`.
    pub bus_port: u16,
    /// An announced hostname (`cluster-announce-hostname`), if any.
    pub hostname: Option<String>,
}

impl NodeAddr {
    /// The symbolic address of `id`: `127.0.0.1:30001+i`.
    pub fn symbolic(id: NodeId) -> NodeAddr {
        NodeAddr::new("127.0.0.1", id.port())
    }

    /// `ip:port` with the bus port at `port + 10000` (wrapping past 65535 as Redis does not;
    /// it is only shown).
    pub fn new(ip: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr { ip: ip.into(), port, bus_port: port.wrapping_add(10000), hostname: None }
    }
}

impl std::fmt::Display for NodeAddr {
    /// `ip:port`, as `MOVED` and `ASK` print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// One node as the topology sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node.
    pub id: NodeId,
    /// Primary or replica.
    pub role: Role,
    /// Marked failed (crashed or unreachable).
    pub failed: bool,
    /// The shard the node belongs to (the index of the primary it started with): it stays
    /// in it through failovers and restarts.
    pub shard: usize,
    /// The epoch of the node's last slot claim (Redis's `configEpoch`): for a primary, the
    /// epoch in which it last took its slots.
    pub config_epoch: u64,
    /// Where clients reach the node.
    pub addr: NodeAddr,
}

/// An immutable view of the cluster: epoch, nodes and slot owners.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// let cluster = slotstore::Cluster::builder().primaries(3).build()?;
/// let t = cluster.topology();
/// let first = cluster.primaries()[0];
/// assert_eq!(t.slot_ranges(first), vec![(0, 5460)]);
/// assert_eq!(t.slot_owner(16383), Some(cluster.primaries()[2]));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    epoch: u64,
    nodes: Vec<NodeInfo>,
    owners: Vec<Option<NodeId>>,
    /// Slots in a key-by-key migration: (slot, source shard, target shard), ascending by
    /// slot. Shards, not nodes, so a failover on either side carries the migration over.
    moving: Vec<(u16, usize, usize)>,
}

impl Topology {
    /// `n` primaries with ids `0..n`, the slots split into contiguous ranges exactly as
    /// `redis-cli --cluster create` splits them (3 primaries: 0-5460, 5461-10922, 10923-16383),
    /// then `replicas` replicas per primary: replica `j` of primary `p` has id
    /// `n + p * replicas + j`.
    pub(crate) fn initial(n: usize, replicas: usize) -> Topology {
        let mut nodes: Vec<NodeInfo> = (0..n)
            .map(|i| NodeInfo {
                id: NodeId(i as u32),
                role: Role::Primary,
                failed: false,
                shard: i,
                config_epoch: 1,
                addr: NodeAddr::symbolic(NodeId(i as u32)),
            })
            .collect();
        for p in 0..n {
            for j in 0..replicas {
                nodes.push(NodeInfo {
                    id: NodeId((n + p * replicas + j) as u32),
                    role: Role::Replica { of: NodeId(p as u32) },
                    failed: false,
                    shard: p,
                    config_epoch: 0,
                    addr: NodeAddr::symbolic(NodeId((n + p * replicas + j) as u32)),
                });
            }
        }
        let mut owners = vec![None; SLOTS];
        let per_node = SLOTS as f64 / n as f64;
        let (mut first, mut cursor) = (0usize, 0.0f64);
        for i in 0..n {
            let mut last = (cursor + per_node - 1.0).round() as usize;
            if last >= SLOTS || i == n - 1 {
                last = SLOTS - 1;
            }
            for owner in &mut owners[first..=last] {
                *owner = Some(NodeId(i as u32));
            }
            first = last + 1;
            cursor += per_node;
        }
        Topology { epoch: 1, nodes, owners, moving: Vec::new() }
    }

    /// The configuration epoch: it grows with every change.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Every node, in id order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// One node, if it exists.
    pub fn node(&self, id: NodeId) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Where `id` is reached: its published address, or its symbolic one if it is not in
    /// this snapshot.
    pub fn addr(&self, id: NodeId) -> NodeAddr {
        self.node(id).map_or_else(|| NodeAddr::symbolic(id), |n| n.addr.clone())
    }

    /// The node announced at `ip:port` (or at the symbolic port `port` of a store not
    /// served), as `MIGRATE host port` names its target.
    pub fn node_at(&self, ip: &str, port: u16) -> Option<NodeId> {
        let announced = |n: &&NodeInfo| {
            n.addr.port == port && (n.addr.ip == ip || n.addr.hostname.as_deref() == Some(ip))
        };
        let same_port = |n: &&NodeInfo| n.addr.port == port;
        let nodes = &self.nodes;
        nodes
            .iter()
            .find(announced)
            .or_else(|| nodes.iter().find(same_port))
            .map(|n| n.id)
            .or_else(|| NodeId::from_port(port).filter(|id| self.node(*id).is_some()))
    }

    /// Changes the address of one node in a snapshot being built.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn set_addr(&mut self, id: NodeId, addr: NodeAddr) {
        if let Some(n) = self.node_mut(id) {
            n.addr = addr;
        }
    }

    /// The primaries, in id order.
    pub fn primaries(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.role == Role::Primary).map(|n| n.id).collect()
    }

    /// The replicas of `primary`, in id order.
    pub fn replicas_of(&self, primary: NodeId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.role == Role::Replica { of: primary }).map(|n| n.id).collect()
    }

    /// The primary serving `slot`, if any (`None` for an unassigned or out-of-range slot).
    pub fn slot_owner(&self, slot: u16) -> Option<NodeId> {
        self.owners.get(usize::from(slot)).copied().flatten()
    }

    /// The contiguous slot ranges (inclusive) `node` owns, ascending.
    pub fn slot_ranges(&self, node: NodeId) -> Vec<(u16, u16)> {
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for (slot, owner) in self.owners.iter().enumerate() {
            if *owner != Some(node) {
                continue;
            }
            match ranges.last_mut() {
                Some((_, end)) if usize::from(*end) + 1 == slot => *end = slot as u16,
                _ => ranges.push((slot as u16, slot as u16)),
            }
        }
        ranges
    }

    /// Slots with an owner.
    pub fn slots_assigned(&self) -> usize {
        self.owners.iter().filter(|o| o.is_some()).count()
    }

    /// A copy with the epoch bumped, for the caller to change and publish.
    pub(crate) fn next(&self) -> Topology {
        Topology { epoch: self.epoch + 1, ..self.clone() }
    }

    /// The nodes of `shard`, in id order.
    pub fn shard_nodes(&self, shard: usize) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.shard == shard).map(|n| n.id).collect()
    }

    /// The live (not failed) primary of `shard`, if any.
    pub fn shard_primary(&self, shard: usize) -> Option<NodeId> {
        self.nodes
            .iter()
            .find(|n| n.shard == shard && n.role == Role::Primary && !n.failed)
            .map(|n| n.id)
    }

    /// The live primaries a key-by-key migration of `slot` moves it between, `(source,
    /// target)`; None if the slot is not moving. A side whose shard has no live primary (it is
    /// failing over) reads as its last primary.
    pub fn migration(&self, slot: u16) -> Option<(NodeId, NodeId)> {
        let i = self.moving.binary_search_by_key(&slot, |m| m.0).ok()?;
        let (_, from, to) = self.moving[i];
        Some((self.primary_of_shard(from)?, self.primary_of_shard(to)?))
    }

    /// The slots in a key-by-key migration, ascending.
    pub fn migrating_slots(&self) -> Vec<u16> {
        self.moving.iter().map(|m| m.0).collect()
    }

    /// The primary of `shard`, live or not.
    fn primary_of_shard(&self, shard: usize) -> Option<NodeId> {
        self.shard_primary(shard).or_else(|| {
            self.nodes.iter().find(|n| n.shard == shard && n.role == Role::Primary).map(|n| n.id)
        })
    }

    /// Records (Some: source and target shards) or clears a key-by-key migration of `slot`
    /// in a snapshot being built.
    pub(crate) fn set_migration(&mut self, slot: u16, shards: Option<(usize, usize)>) {
        match (self.moving.binary_search_by_key(&slot, |m| m.0), shards) {
            (Ok(i), Some((from, to))) => self.moving[i] = (slot, from, to),
            (Ok(i), None) => drop(self.moving.remove(i)),
            (Err(i), Some((from, to))) => self.moving.insert(i, (slot, from, to)),
            (Err(_), None) => {}
        }
    }

    /// Adds a node to a snapshot being built.
    pub(crate) fn add_node(&mut self, info: NodeInfo) {
        self.nodes.push(info);
        self.nodes.sort_by_key(|n| n.id.0);
    }

    /// Removes a node from a snapshot being built.
    pub(crate) fn remove_node(&mut self, id: NodeId) {
        self.nodes.retain(|n| n.id != id);
    }

    /// Changes one node in a snapshot being built.
    pub(crate) fn node_mut(&mut self, id: NodeId) -> Option<&mut NodeInfo> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    /// Every slot whose owner is `node`, ascending.
    pub(crate) fn slots_of(&self, node: NodeId) -> Vec<u16> {
        (0..SLOTS).filter(|&s| self.owners[s] == Some(node)).map(|s| s as u16).collect()
    }

    /// Sets the owner of `slot` in a snapshot being built.
    pub(crate) fn set_owner(&mut self, slot: usize, owner: Option<NodeId>) {
        self.owners[slot] = owner;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(n: usize) -> Vec<Vec<(u16, u16)>> {
        let t = Topology::initial(n, 0);
        (0..n).map(|i| t.slot_ranges(NodeId(i as u32))).collect()
    }

    #[test]
    fn splits_like_redis_cli() {
        assert_eq!(ranges(1), vec![vec![(0, 16383)]]);
        assert_eq!(ranges(3), vec![vec![(0, 5460)], vec![(5461, 10922)], vec![(10923, 16383)]]);
        assert_eq!(
            ranges(4),
            vec![vec![(0, 4095)], vec![(4096, 8191)], vec![(8192, 12287)], vec![(12288, 16383)]]
        );
        let t = Topology::initial(7, 0);
        assert_eq!(t.slots_assigned(), SLOTS);
        let t = Topology::initial(3, 2);
        assert_eq!(t.replicas_of(NodeId(1)), vec![NodeId(5), NodeId(6)]);
        assert_eq!(t.shard_nodes(2), vec![NodeId(2), NodeId(7), NodeId(8)]);
    }
}
