//! Key-by-key slot migration (level 2): the rules a command meets on a moving slot, and the
//! progress a migration reports. No locks and no threads: the node layer applies these rules
//! under the slot's lock, which makes "is the key here?" and the command one step.

use crate::config::MigrationMode;
use crate::ids::NodeId;
use crate::keyspace::{Moving, Now, Table};

/// What a command on a slot's table must do, by Redis's `getNodeByQuery` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Run it here.
    Serve,
    /// `ASK`: the source no longer has any of the keys; retry once on the target.
    Ask,
    /// `TRYAGAIN`: the keys are split between source and target, or an asked multi-key
    /// command on the target misses some of them.
    TryAgain,
    /// `MOVED`: the target serves only asked callers until the slot is handed over.
    Moved,
}

/// The verdict for a command on `keys` meeting `table`; `asking` says the caller was sent
/// here by `ASK`. An expired key counts as missing, as Redis's no-expire lookup sees it.
#[inline]
pub(crate) fn verdict<K: AsRef<[u8]>>(
    table: &Table,
    now: &Now<'_>,
    keys: &[K],
    asking: bool,
) -> Verdict {
    match table.moving() {
        Moving::Stable => Verdict::Serve,
        Moving::Migrating => {
            let present = keys.iter().filter(|k| live(table, now, k.as_ref())).count();
            if present == keys.len() {
                Verdict::Serve
            } else if present == 0 {
                Verdict::Ask
            } else {
                Verdict::TryAgain
            }
        }
        Moving::Importing if !asking => Verdict::Moved,
        Moving::Importing => {
            let distinct = keys.iter().any(|k| k.as_ref() != keys[0].as_ref());
            if distinct && !keys.iter().all(|k| live(table, now, k.as_ref())) {
                Verdict::TryAgain
            } else {
                Verdict::Serve
            }
        }
    }
}

fn live(table: &Table, now: &Now<'_>, key: &[u8]) -> bool {
    table.get_raw(key).is_some_and(|e| Table::is_live(e, now))
}

/// Where a migration stands, as [`Migration::progress`](crate::Migration::progress) and each
/// step report it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationProgress {
    /// The slot being moved.
    pub slot: u16,
    /// The primary the slot is leaving (its shard's primary now, after any failover).
    pub from: NodeId,
    /// The primary the slot is going to.
    pub to: NodeId,
    /// How the slot moves.
    pub mode: MigrationMode,
    /// Keys moved so far.
    pub keys_moved: usize,
    /// Keys still on the source.
    pub keys_left: usize,
    /// True once the target owns the slot (or, after an abort, the source is stable again).
    pub done: bool,
}

impl MigrationProgress {
    pub(crate) fn new(
        slot: u16,
        from: NodeId,
        to: NodeId,
        mode: MigrationMode,
        keys_moved: usize,
        keys_left: usize,
        done: bool,
    ) -> MigrationProgress {
        MigrationProgress { slot, from, to, mode, keys_moved, keys_left, done }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::keyspace::{Str, Value};

    fn table(keys: &[&str], moving: Moving) -> Table {
        let mut t = Table::new();
        for k in keys {
            t.insert(k.as_bytes(), Value::Str(Str::from("v")), None);
        }
        t.insert(b"gone", Value::Str(Str::from("v")), Some(5));
        t.set_moving(moving);
        t
    }

    #[test]
    fn source_serves_present_keys_asks_for_missing_and_splits_try_again() {
        let clock = Clock::manual(10);
        let now = Now::new(&clock);
        let t = table(&["a", "b"], Moving::Migrating);
        assert_eq!(verdict(&t, &now, &["a"], false), Verdict::Serve);
        assert_eq!(verdict(&t, &now, &["a", "b"], false), Verdict::Serve);
        assert_eq!(verdict(&t, &now, &["x"], false), Verdict::Ask);
        // An expired key is missing: the caller is sent to the target.
        assert_eq!(verdict(&t, &now, &["gone"], false), Verdict::Ask);
        assert_eq!(verdict(&t, &now, &["x", "y"], false), Verdict::Ask);
        assert_eq!(verdict(&t, &now, &["a", "x"], false), Verdict::TryAgain);
    }

    #[test]
    fn target_serves_only_asked_callers() {
        let clock = Clock::manual(10);
        let now = Now::new(&clock);
        let t = table(&["a"], Moving::Importing);
        assert_eq!(verdict(&t, &now, &["a"], false), Verdict::Moved);
        assert_eq!(verdict(&t, &now, &["a"], true), Verdict::Serve);
        assert_eq!(verdict(&t, &now, &["new"], true), Verdict::Serve);
        // One distinct key, repeated (RPOPLPUSH l l), is not a multi-key request.
        assert_eq!(verdict(&t, &now, &["new", "new"], true), Verdict::Serve);
        assert_eq!(verdict(&t, &now, &["a", "new"], true), Verdict::TryAgain);
        let stable = table(&["a"], Moving::Stable);
        assert_eq!(verdict(&stable, &now, &["zzz", "a"], false), Verdict::Serve);
    }
}
