//! Cluster events (level 2): what changed in the topology, in the order it was published.
//!
//! Every change of slot ownership, migration state, role or liveness is published by one
//! function (`Registry::publish`), under the control lock, which swaps in the next topology
//! and then hands its events to every subscriber here. So events reach each subscriber in
//! publish order, which is epoch order.

use crate::ids::NodeId;
use crate::topology::Topology;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

/// How many events a subscriber may fall behind before it is cut off.
pub(crate) const SUBSCRIBER_CAPACITY: usize = 4096;

/// Something that changed in a cluster's topology, from [`Cluster::events`](crate::Cluster::events).
///
/// Each event is sent with the topology change that made it, once that topology is the
/// current one: when a subscriber receives `SlotMoved { epoch, .. }`,
/// `cluster.topology().epoch() >= epoch`. Events that carry an `epoch` name the epoch of
/// the topology published with them; several events can share one epoch (a failover that
/// marks the old primary failed and promotes its replica is one change: `NodeFailed` then
/// `Promoted`).
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use slotstore::{key_slot, Cluster, Event};
/// let cluster = Cluster::builder().primaries(2).build()?;
/// let events = cluster.events();
/// let slot = key_slot("foo");
/// let (from, to) = (cluster.primaries()[1], cluster.primaries()[0]);
/// cluster.migrate_slot(slot, to)?;
/// let epoch = cluster.topology().epoch();
/// assert_eq!(events.try_recv(), Ok(Event::SlotMoved { slot, from, to, epoch }));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `slot` changed owner from primary `from` to primary `to` by a migration (atomic, or
    /// the handover of a key-by-key one). A failover is reported as [`Event::Promoted`]
    /// instead, not slot by slot.
    SlotMoved {
        /// The slot.
        slot: u16,
        /// Its previous owner.
        from: NodeId,
        /// Its owner from `epoch` on.
        to: NodeId,
        /// The epoch of the topology in which `to` owns it.
        epoch: u64,
    },
    /// A key-by-key migration of `slot` opened: MIGRATING on `from`, IMPORTING on `to`.
    MigrationStarted {
        /// The slot.
        slot: u16,
        /// The source primary.
        from: NodeId,
        /// The target primary.
        to: NodeId,
        /// The epoch that records the migration.
        epoch: u64,
    },
    /// A batch of a key-by-key migration moved (`Migration::step`, or `MIGRATE`).
    MigrationStep {
        /// The slot.
        slot: u16,
        /// The source primary.
        from: NodeId,
        /// The target primary.
        to: NodeId,
        /// Keys this batch moved (at least 1: a step that moves nothing publishes nothing).
        batch: usize,
        /// Keys moved since the migration began.
        keys_moved: usize,
        /// The epoch that records the new count.
        epoch: u64,
    },
    /// A key-by-key migration handed the slot over to `to` (followed by
    /// [`Event::SlotMoved`] with the same epoch).
    MigrationFinished {
        /// The slot.
        slot: u16,
        /// The source primary.
        from: NodeId,
        /// The target primary, the slot's owner from `epoch` on.
        to: NodeId,
        /// Keys moved by the whole migration.
        keys_moved: usize,
        /// The epoch of the handover.
        epoch: u64,
    },
    /// A key-by-key migration was rolled back: the slot is stable on `from` again.
    MigrationAborted {
        /// The slot.
        slot: u16,
        /// The source primary, which keeps the slot.
        from: NodeId,
        /// The target primary the migration was heading to.
        to: NodeId,
        /// Keys brought back from the target.
        keys_returned: usize,
        /// The epoch that clears the migration.
        epoch: u64,
    },
    /// `node` was marked failed: the failure detector found it silent for `node_timeout`, or
    /// a failover replaced it.
    NodeFailed {
        /// The node.
        node: NodeId,
    },
    /// A node marked failed answers again (it was hung or starved, not crashed) and its
    /// failure flag was cleared.
    NodeRecovered {
        /// The node.
        node: NodeId,
    },
    /// Replica `node` became the primary of its shard in place of `replaced`, by the failure
    /// detector or by [`Cluster::failover`](crate::Cluster::failover).
    Promoted {
        /// The new primary.
        node: NodeId,
        /// The primary it replaced.
        replaced: NodeId,
        /// The epoch in which it took the shard's slots (its config epoch).
        epoch: u64,
    },
    /// A killed node was restarted: as a replica of its shard's primary, or, if its shard
    /// had no live node, as the shard's primary (empty).
    NodeRestarted {
        /// The node.
        node: NodeId,
    },
    /// [`Cluster::add_primary`](crate::Cluster::add_primary) added a shard with this primary.
    PrimaryAdded {
        /// The new primary.
        node: NodeId,
    },
    /// [`Cluster::remove_primary`](crate::Cluster::remove_primary) removed the shard of this
    /// primary (its replicas left with it).
    PrimaryRemoved {
        /// The removed primary.
        node: NodeId,
    },
}

/// A crate-internal reaction to every published topology change: called under the control
/// lock right after the topology is swapped in, with the events published with it. It must
/// not take the control lock (it is held) nor block for long.
pub(crate) type Hook = Box<dyn Fn(&Topology, &[Event]) + Send + Sync>;

/// The subscribers of one cluster's events, and the crate-internal hooks.
#[derive(Default)]
pub(crate) struct Events {
    subscribers: Mutex<Vec<Sender<Event>>>,
    hooks: Mutex<Vec<Hook>>,
}

impl Events {
    /// A new subscriber: it receives every event published after this call.
    pub(crate) fn subscribe(&self, capacity: usize) -> Receiver<Event> {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        self.subscribers.lock().push(tx);
        rx
    }

    /// Adds a hook run on every publish.
    pub(crate) fn on_publish(&self, hook: Hook) {
        self.hooks.lock().push(hook);
    }

    /// Hands `events` to the hooks and every subscriber. A subscriber whose receiver was
    /// dropped is pruned; one whose channel is full is cut off (its sender dropped), so it
    /// reads what it has buffered and then sees the channel disconnected, instead of
    /// silently missing events or growing without bound.
    pub(crate) fn emit(&self, topology: &Topology, events: &[Event]) {
        for hook in self.hooks.lock().iter() {
            hook(topology, events);
        }
        if events.is_empty() {
            return;
        }
        let mut subs = self.subscribers.lock();
        subs.retain(|tx| {
            events.iter().all(|e| match tx.try_send(e.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            })
        });
    }

    /// Subscribers still connected.
    #[cfg(test)]
    pub(crate) fn subscribers(&self) -> usize {
        self.subscribers.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(i: u32) -> Event {
        Event::NodeFailed { node: NodeId(i) }
    }

    #[test]
    fn subscribers_get_events_in_order_and_full_ones_are_cut_off() {
        let hub = Events::default();
        let t = Topology::initial(1, 0);
        hub.emit(&t, &[failed(0)]);
        let a = hub.subscribe(3);
        let b = hub.subscribe(16);
        hub.emit(&t, &[failed(1), failed(2)]);
        hub.emit(&t, &[failed(3)]);
        assert_eq!(a.try_iter().collect::<Vec<_>>(), vec![failed(1), failed(2), failed(3)]);
        // `a` read everything, so it has room again; `b` has not read anything.
        hub.emit(&t, &[failed(4)]);
        assert_eq!(a.try_recv(), Ok(failed(4)));
        assert_eq!(b.len(), 4);
        drop(a);
        hub.emit(&t, &[failed(5)]);
        assert_eq!(hub.subscribers(), 1, "a dropped receiver is pruned");
        let slow = hub.subscribe(2);
        hub.emit(&t, &[failed(6), failed(7), failed(8)]);
        assert_eq!(hub.subscribers(), 1, "a full subscriber is cut off");
        assert_eq!(slow.try_iter().collect::<Vec<_>>(), vec![failed(6), failed(7)]);
        assert_eq!(slow.recv(), Err(crossbeam_channel::RecvError), "then sees the end");
        assert_eq!(b.try_iter().count(), 8);
    }

    #[test]
    fn hooks_see_every_publish() {
        let hub = Events::default();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        hub.on_publish(Box::new(move |t, e| s.lock().push((t.epoch(), e.len()))));
        hub.emit(&Topology::initial(1, 0), &[]);
        hub.emit(&Topology::initial(1, 0).next(), &[failed(1)]);
        assert_eq!(*seen.lock(), vec![(1, 0), (2, 1)]);
    }
}
