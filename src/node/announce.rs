//! Node addresses and liveness as a network front end needs them: publishing the addresses
//! nodes are served at, and telling whether a node's process is up.
#![cfg_attr(not(feature = "server"), allow(dead_code))]

use super::Registry;
use crate::ids::NodeId;
use crate::topology::NodeAddr;

impl Registry {
    /// Publishes where each of `addrs`' nodes is reached, in one new topology (so `CLUSTER
    /// SLOTS`, `NODES`, `SHARDS` and redirects agree from the same epoch on).
    pub(crate) fn announce(&self, addrs: &[(NodeId, NodeAddr)]) {
        let _control = self.control.lock();
        let mut next = self.topology().next();
        for (id, addr) in addrs {
            next.set_addr(*id, addr.clone());
        }
        self.publish(next);
    }

    /// True if `id` is crashed (killed and not restarted) or unknown.
    pub(crate) fn is_down(&self, id: NodeId) -> bool {
        self.node(id).map_or(true, |n| n.repl.is_dead())
    }
}
