//! Scaling out and in: adding a shard (a primary and its replicas, empty) and removing one
//! once its slots have moved away.

use super::{Monitor, Node, NodeThread, Registry};
use crate::config::MAX_NODES;
use crate::error::Error;
use crate::ids::NodeId;
use crate::topology::{NodeInfo, Role};
use std::sync::Arc;

impl Registry {
    /// Creates the nodes of a new shard and publishes them: a primary without slots and
    /// `replicas` replicas of it. Returns the primary and the replicas.
    ///
    /// # Errors
    /// `ERR` if the cluster would pass `MAX_NODES` nodes.
    fn add_shard(&self, replicas: usize) -> Result<(NodeId, Vec<NodeId>), Error> {
        let _control = self.control.lock();
        let t = self.topology();
        let free: Vec<usize> =
            (0..MAX_NODES).filter(|&i| self.nodes[i].get().is_none()).take(1 + replicas).collect();
        if free.len() < 1 + replicas {
            return Err(Error::Command(format!("a cluster holds at most {MAX_NODES} nodes")));
        }
        let shard = t.nodes().iter().map(|n| n.shard).max().map_or(0, |s| s + 1);
        let mut next = t.next();
        let epoch = next.epoch();
        let primary = NodeId(free[0] as u32);
        for (j, &i) in free.iter().enumerate() {
            let id = NodeId(i as u32);
            let _ = self.nodes[i].set(Arc::new(Node::new(id, self.clock.clone(), self.budget.clone())));
            let (role, config_epoch) =
                if j == 0 { (Role::Primary, epoch) } else { (Role::Replica { of: primary }, 0) };
            next.add_node(NodeInfo {
                id,
                role,
                failed: false,
                shard,
                config_epoch,
                addr: crate::topology::NodeAddr::symbolic(id),
            });
        }
        self.publish(next);
        Ok((primary, free[1..].iter().map(|&i| NodeId(i as u32)).collect()))
    }

    /// Takes the shard of `primary` out of the topology; it must hold no slot.
    fn remove_shard(&self, primary: NodeId) -> Result<Vec<NodeId>, Error> {
        let _control = self.control.lock();
        let t = self.topology();
        if !t.slot_ranges(primary).is_empty() {
            return Err(Error::Command(format!("Node {primary} still holds slots")));
        }
        // Checked under the control lock: a migration to it may have begun while its slots
        // were moving away.
        if t.migrating_slots()
            .iter()
            .any(|&s| t.migration(s).is_some_and(|(a, b)| a == primary || b == primary))
        {
            return Err(Error::Command(format!("Node {primary} is in a key-by-key migration")));
        }
        let shard =
            t.node(primary).ok_or_else(|| Error::Command(format!("Unknown node {primary}")))?.shard;
        let gone = t.shard_nodes(shard);
        let mut next = t.next();
        for &n in &gone {
            next.remove_node(n);
        }
        self.publish(next);
        Ok(gone)
    }
}

impl super::Fleet {
    /// Adds an empty shard: a primary with no slots and `replicas` replicas, each with its
    /// thread, the replicas full-synced. Returns the new primary.
    ///
    /// # Errors
    /// `ERR` past `MAX_NODES` nodes, or if a thread cannot start.
    pub(crate) fn add_primary(&self, replicas: usize) -> Result<NodeId, Error> {
        let (primary, reps) = self.registry.add_shard(replicas)?;
        let spawn_err = |e: std::io::Error| Error::Command(format!("cannot start a node thread: {e}"));
        for &id in std::iter::once(&primary).chain(&reps) {
            let node = self.registry.node(id).expect("just created").clone();
            let thread = NodeThread::spawn(node, self.interval, self.tick).map_err(spawn_err)?;
            self.threads.lock().insert(id, thread);
        }
        if !reps.is_empty() {
            let p = self.registry.node(primary).expect("just created");
            {
                let _control = self.registry.control.lock();
                for r in &reps {
                    self.registry.attach(p, self.registry.node(*r).expect("just created"));
                }
            }
            for r in &reps {
                Registry::await_sync(self.registry.node(*r).expect("just created"));
            }
            let mut monitor = self.monitor.lock();
            if monitor.is_none() {
                *monitor =
                    Some(Monitor::spawn(self.registry.clone(), self.node_timeout).map_err(spawn_err)?);
            }
        }
        Ok(primary)
    }

    /// Removes the shard of `primary` (which holds no slot): its nodes leave the topology,
    /// their threads stop and their memory is freed. Their ids are not reused.
    ///
    /// # Errors
    /// `ERR Unknown node`; `ERR` if it still holds slots.
    pub(crate) fn remove_shard(&self, primary: NodeId) -> Result<(), Error> {
        let gone = self.registry.remove_shard(primary)?;
        for id in gone {
            drop(self.threads.lock().remove(&id));
            if let Some(node) = self.registry.node(id) {
                node.repl.set_dead(true);
                node.repl.set_control(None);
                node.drop_tables();
                node.repl.out.lock().streams.clear();
            }
        }
        Ok(())
    }
}
