//! The classic migration commands, `CLUSTER SETSLOT` and `MIGRATE`, over the same mover as
//! [`Cluster::begin_migration`](crate::Cluster::begin_migration).
//!
//! `SETSLOT` acts on the node it is sent to, so it runs through [`Client::command_at`]. The
//! two halves Redis keeps per node (IMPORTING on the target, MIGRATING on the source) open
//! one migration here: `IMPORTING` is recorded until the matching `MIGRATING` arrives, in
//! the order `redis-cli --cluster reshard` sends them; the other order is refused, since it
//! is the one that leaves callers bouncing between the two nodes (redis#7116).

use super::Client;
use crate::command::cluster::{Migrate, SetSlot};
use crate::error::Error;
use crate::ids::NodeId;
use crate::reply::Reply;
use crate::slot::key_slot;
use crate::topology::Role;

impl Client {
    /// `CLUSTER SETSLOT slot action` sent to the node this client is pinned to.
    pub(super) fn setslot(&self, slot: u16, action: SetSlot) -> Result<Reply, Error> {
        let Some((me, _)) = self.pinned else {
            return Err(Error::msg(
                "CLUSTER SETSLOT acts on the node it is sent to: send it with Client::command_at",
            ));
        };
        let r = &self.registry;
        let t = r.topology();
        let known = |id: NodeId| {
            t.node(id).map(|_| id).ok_or_else(|| Error::Command(format!("I don't know about node {id}")))
        };
        if t.node(me).map(|n| n.role) != Some(Role::Primary) {
            return Err(Error::msg("Please use SETSLOT only with masters."));
        }
        let owner = t.slot_owner(slot);
        match action {
            SetSlot::Importing(from) => {
                known(from)?;
                if owner == Some(me) {
                    return Err(Error::Command(format!("I'm already the owner of hash slot {slot}")));
                }
                if owner != Some(from) {
                    return Err(Error::Command(format!(
                        "Node {from} is not the owner of hash slot {slot}"
                    )));
                }
                if t.migration(slot).is_some() {
                    return Err(Error::Command(format!("Slot {slot} is already migrating")));
                }
                r.pending_imports.lock().insert(slot, (me, from));
            }
            SetSlot::Migrating(to) => {
                known(to)?;
                if owner != Some(me) {
                    return Err(Error::Command(format!("I'm not the owner of hash slot {slot}")));
                }
                if t.migration(slot).is_some() {
                    return Err(Error::Command(format!("Slot {slot} is already migrating")));
                }
                if r.pending_imports.lock().get(&slot) != Some(&(to, me)) {
                    return Err(Error::Command(format!(
                        "Slot {slot} is not IMPORTING on node {to}: send it CLUSTER SETSLOT {slot} \
                         IMPORTING {me} first"
                    )));
                }
                r.begin_migration(slot, to)?;
                r.pending_imports.lock().remove(&slot);
            }
            SetSlot::Node(n) => {
                known(n)?;
                let keys_left = |holder: NodeId| {
                    Error::Command(format!(
                        "Can't assign hashslot {slot} to a different node while I still hold keys for \
                         this hash slot. ({holder} holds them)"
                    ))
                };
                match t.migration(slot) {
                    Some((from, to)) if to == n => {
                        if r.migration_progress(slot).is_some_and(|p| p.keys_left > 0) {
                            return Err(keys_left(from));
                        }
                        r.finish_migration(slot)?;
                    }
                    Some((_, to)) => {
                        return Err(Error::Command(format!("Slot {slot} is migrating to node {to}")));
                    }
                    None if owner == Some(n) => {}
                    None => {
                        if self.count_keys_in_slot(slot) > 0 {
                            return Err(keys_left(owner.unwrap_or(me)));
                        }
                        r.move_slot(slot, n)?;
                    }
                }
            }
            SetSlot::Stable => {
                r.pending_imports.lock().remove(&slot);
                if t.migration(slot).is_some() {
                    r.abort_migration(slot)?;
                }
            }
        }
        Ok(Reply::ok())
    }

    /// `MIGRATE`: moves keys of a migrating slot to the importing node named by its port.
    pub(super) fn migrate(&self, m: &Migrate<'_>) -> Result<Reply, Error> {
        if m.copy {
            return Err(Error::msg("MIGRATE COPY is not supported: a key lives on one node"));
        }
        let to = self
            .registry
            .topology()
            .node_at(&m.host, m.port)
            .ok_or_else(|| Error::Command(format!("no node at {}:{}", m.host, m.port)))?;
        let Some(&first) = m.keys.first() else { return Ok(Reply::Simple("NOKEY".into())) };
        let slot = key_slot(first);
        if m.keys.iter().any(|k| key_slot(k) != slot) {
            return Err(Error::CrossSlot);
        }
        match self.registry.migrate_keys(slot, to, &m.keys, m.replace)? {
            0 => Ok(Reply::Simple("NOKEY".into())),
            _ => Ok(Reply::ok()),
        }
    }
}
