//! Replication (level 2): the effects a primary streams to its replicas, and how a replica
//! applies them. No threads, no locks: the node layer numbers, sends and receives.
//!
//! Effects are **states**, not commands: after a write, every key it touched is sent as its
//! whole new value and absolute deadline (`Put`) or as gone (`Del`). Applying an effect twice,
//! or applying one the replica's snapshot already contains, leaves the same table. That is
//! what makes full sync simple: a replica may receive effects that its snapshot already
//! includes and still converge to the primary.

use crate::keyspace::{Table, Value};

/// One key's new state, or a whole-slot change.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// The slot's table was emptied (`FLUSHALL`); the dirty keys of the same write follow.
    Clear,
    /// `key` now holds `value`, expiring at `expire_at` (Unix ms), if any.
    Put { key: Box<[u8]>, value: Value, expire_at: Option<u64> },
    /// `key` is gone (deleted, expired, evicted).
    Del { key: Box<[u8]> },
}

/// The effects of one write on one slot, numbered with the primary's replication offset.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) slot: u16,
    pub(crate) offset: u64,
    pub(crate) effects: Vec<Effect>,
}

/// What travels on a replica's stream, in order.
#[derive(Debug)]
pub(crate) enum Message {
    /// Start of a full sync: drop every table held.
    Reset,
    /// A full-sync snapshot of one slot, taken under the slot's lock on the primary.
    Load { slot: u16, table: Table },
    /// End of a full sync: every slot has been loaded; the replica's applied offset is at
    /// least `offset` (the primary's offset when the replica was registered).
    Synced { offset: u64 },
    /// Effects of one write.
    Batch(std::sync::Arc<Batch>),
    /// The slot left this shard (migrated away): drop its table.
    Drop { slot: u16 },
}

/// The effects that bring a replica's copy of `table` to its state now, given what
/// [`Table::take_dirty`] returned.
pub(crate) fn effects(table: &Table, cleared: bool, keys: Vec<Box<[u8]>>) -> Vec<Effect> {
    let mut out = Vec::with_capacity(keys.len() + usize::from(cleared));
    if cleared {
        out.push(Effect::Clear);
    }
    for key in keys {
        match table.get_raw(&key) {
            Some(e) => out.push(Effect::Put { value: e.value.clone(), expire_at: e.expire_at(), key }),
            None => out.push(Effect::Del { key }),
        }
    }
    out
}

/// Applies one effect to a replica's table.
pub(crate) fn apply(table: &mut Table, effect: &Effect) {
    match effect {
        Effect::Clear => table.clear(),
        Effect::Put { key, value, expire_at } => table.insert(key, value.clone(), *expire_at),
        Effect::Del { key } => {
            table.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Str;

    #[test]
    fn effects_replay_to_the_same_digest_even_twice() {
        let mut primary = Table::new();
        primary.set_tracking(true);
        primary.insert(b"a", Value::Str(Str::from("1")), Some(5000));
        primary.insert(b"b", Value::Str(Str::from("2")), None);
        primary.remove(b"a");
        primary.insert(b"c", Value::Str(Str::from("3")), None);
        let (cleared, keys) = primary.take_dirty();
        assert!(!cleared);
        assert_eq!(keys.len(), 3, "repeats removed");
        let batch = effects(&primary, cleared, keys);
        let mut replica = Table::new();
        for _ in 0..2 {
            batch.iter().for_each(|e| apply(&mut replica, e));
            assert_eq!(replica.digest(), primary.digest());
        }
        primary.clear();
        let (cleared, keys) = primary.take_dirty();
        assert!(cleared && keys.is_empty());
        effects(&primary, cleared, keys).iter().for_each(|e| apply(&mut replica, e));
        assert_eq!(replica.len(), 0);
    }
}
