//! Slot migration on the nodes: the atomic move, and the key-by-key mover (begin, step,
//! finish, abort). Every change runs under the registry's control lock with the slot's cells
//! locked on both sides (source first, then target), so a command sees each key in exactly
//! one place.

use super::registry::Backoff;
use super::{Node, Registry};
use crate::config::MigrationMode;
use crate::error::{ClusterDownReason, Error};
use crate::events::Event;
use crate::ids::NodeId;
use crate::keyspace::memory::random;
use crate::keyspace::{Moving, Now, Table};
use crate::migration::MigrationProgress;
use crate::replication::{Batch, Message};
use crate::topology::{Role, Topology};
use std::sync::Arc;
use std::time::Duration;

/// Keys moved under one acquisition of the slot's locks by `finish`: small enough that a
/// command on the slot waits for at most one batch.
const FINISH_BATCH: usize = 256;

/// How long a step waits for the replicas of both sides to apply what it moved, so that a
/// failover right after a step finds every key on exactly one side.
const REPLICA_ACK: Duration = Duration::from_secs(1);

/// How often `read_slot` looks again for a migration the holder's table reports but the
/// topology does not.
const MAX_LOOKS: usize = 64;

/// How long a mover waits for a cell's lock before it takes the node for hung.
const LOCK_WAIT: Duration = Duration::from_millis(200);

/// A slot's cell on one node, write-locked.
type CellGuard<'a> = parking_lot::RwLockWriteGuard<'a, Option<Table>>;

fn not_migrating(slot: u16) -> Error {
    Error::Command(format!("Slot {slot} is not in a key-by-key migration"))
}

impl Registry {
    /// The source and target nodes of a move of `slot`, with the slot's cell locked on both:
    /// source first, the one order every mover uses (commands lock one cell at a time).
    /// None if a lock stays taken for `LOCK_WAIT`: a hung node holds its locks until a
    /// failover demotes it, and the failover needs the control lock the caller holds.
    fn lock_sides(
        &self,
        slot: u16,
        from: NodeId,
        to: NodeId,
    ) -> Option<(&Node, &Node, CellGuard<'_>, CellGuard<'_>)> {
        let (src, dst) = (self.node(from).expect("listed"), self.node(to).expect("listed"));
        let src_cell = src.cells[usize::from(slot)].0.try_write_for(LOCK_WAIT)?;
        let dst_cell = dst.cells[usize::from(slot)].0.try_write_for(LOCK_WAIT)?;
        Some((src, dst, src_cell, dst_cell))
    }

    /// Runs `attempt` (None: a side is down or hung) with backoff until it succeeds or the
    /// retry budget is spent, releasing the control lock between tries so a failover can
    /// replace the side.
    fn retrying<R>(&self, mut attempt: impl FnMut() -> Result<Option<R>, Error>) -> Result<R, Error> {
        let mut backoff = Backoff::new(self.retry_budget);
        loop {
            if let Some(r) = attempt()? {
                return Ok(r);
            }
            if !backoff.pause() {
                return Err(Error::ClusterDown(ClusterDownReason::Down));
            }
        }
    }

    /// The owner of `slot`, checked for a move to `to` (see [`Registry::move_slot`]).
    ///
    /// # Errors
    /// As [`Registry::move_slot`].
    pub(crate) fn check_migration(&self, slot: u16, to: NodeId) -> Result<NodeId, Error> {
        self.check_move(&self.topology(), slot, to).map(|(from, _)| from)
    }

    /// The source and target of a move of `slot` to `to`, checked: `to` a live primary that
    /// does not own the slot, the slot owned and not in a key-by-key migration.
    fn check_move(&self, t: &Topology, slot: u16, to: NodeId) -> Result<(NodeId, NodeId), Error> {
        if usize::from(slot) >= crate::slot::SLOTS {
            return Err(Error::invalid_slot());
        }
        match t.node(to) {
            None => return Err(Error::Command(format!("Unknown node {to}"))),
            Some(n) if n.role != Role::Primary => return Err(Error::msg("Target node is not a master")),
            Some(n) if n.failed || self.node(to).is_some_and(|x| x.repl.is_dead()) => {
                return Err(Error::Command(format!("Target node {to} is down")))
            }
            Some(_) => {}
        }
        let from = t.slot_owner(slot).ok_or(Error::ClusterDown(ClusterDownReason::Unbound))?;
        if from == to {
            return Err(Error::Command(format!("Node {to} already owns hash slot {slot}")));
        }
        if t.migration(slot).is_some() {
            return Err(Error::Command(format!("Slot {slot} is already migrating")));
        }
        Ok((from, to))
    }

    /// Moves `slot` to the primary `to` in one step: under the slot's lock on the source and
    /// then on the target, the table changes hands, the route is rewritten and a topology with
    /// a higher epoch is published. A caller waiting on the source's lock finds the cell empty
    /// and follows the new route, so every command sees the slot in exactly one place.
    ///
    /// # Errors
    /// `ERR` for a bad target or a slot in a key-by-key migration; `CLUSTERDOWN` if the slot
    /// has no owner to move it from; `OOM` if the target has no room for the slot under the
    /// memory budget (nothing moves).
    pub(crate) fn move_slot(&self, slot: u16, to: NodeId) -> Result<usize, Error> {
        let _control = self.control.lock();
        let topology = self.topology();
        let (from, to) = self.check_move(&topology, slot, to)?;
        let (src, dst) = (self.node(from).expect("owner exists"), self.node(to).expect("checked"));
        let slot_ix = usize::from(slot);
        let hung = || Error::ClusterDown(ClusterDownReason::Down);
        let bytes = src.cells[slot_ix]
            .0
            .try_read_for(LOCK_WAIT)
            .ok_or_else(hung)?
            .as_ref()
            .map_or(0, Table::used);
        dst.admit(bytes, 1)?;
        let (_, _, mut src_cell, mut dst_cell) = self.lock_sides(slot, from, to).ok_or_else(hung)?;
        let mut table = src_cell.take().unwrap_or_default();
        let keys = table.len();
        src.lose(slot_ix, &table);
        // The source's replicas drop the slot; the target's load it, and the table tracks
        // writes for them from now on (under both locks, so no write falls between).
        drop_on_replicas(src, slot);
        load_on_replicas(dst, slot, &mut table, !topology.replicas_of(to).is_empty());
        dst.gain(slot_ix, &dst_cell, &table);
        *dst_cell = Some(table);
        if let Some(blocked) = src.take_blocked(slot_ix) {
            dst.put_blocked(slot_ix, blocked);
        }
        let mut next = topology.next();
        let epoch = next.epoch();
        next.set_owner(slot_ix, Some(to));
        self.publish_moves(next, vec![Event::SlotMoved { slot, from, to, epoch }], Some(&[slot]));
        drop((src_cell, dst_cell, _control));
        // As a key-by-key step does: the move is on the target's replicas when this returns,
        // so a crash of the target right after it loses no write the source's replicas had.
        self.sync_replicas(dst);
        Ok(keys)
    }

    /// Opens a key-by-key migration of `slot` to `to`: the target gets an empty table
    /// marked importing (and its replicas an empty copy), the source's table is marked
    /// migrating, and the topology records the migration by shard, so it survives a failover
    /// of either side. From here on commands follow the `ASK`/`TRYAGAIN` rules.
    ///
    /// # Errors
    /// As [`Registry::move_slot`], and `ERR` if the slot is already migrating.
    pub(crate) fn begin_migration(&self, slot: u16, to: NodeId) -> Result<(), Error> {
        let _control = self.control.lock();
        let t = self.topology();
        let (from, to) = self.check_move(&t, slot, to)?;
        let slot_ix = usize::from(slot);
        let (src, dst, mut src_cell, mut dst_cell) =
            self.lock_sides(slot, from, to).ok_or(Error::ClusterDown(ClusterDownReason::Down))?;
        let Some(source) = src_cell.as_mut() else {
            return Err(Error::Command(format!("Source node {from} is down")));
        };
        let shard = |id: NodeId| t.node(id).expect("listed").shard;
        let mut next = t.next();
        let epoch = next.epoch();
        next.set_migration(slot, Some((shard(from), shard(to))));
        // The topology first: a caller the flag sends to the target looks the target up there.
        self.publish(next, vec![Event::MigrationStarted { slot, from, to, epoch }]);
        source.set_moving(Moving::Migrating);
        let mut target = Table::new();
        target.set_moving(Moving::Importing);
        // A caller blocked on keys the source lacks altogether waits for keys that can only
        // be created on the target from now on: it waits there (an abort brings it back).
        // One with a key present here (BLMOVE's destination list) stays until the handover.
        let leaving = src.take_blocked(slot_ix).map(|mut blocked| {
            let leaving = blocked.take_waiting_for_absent(source, &Now::new(&self.clock));
            if !blocked.is_empty() {
                src.put_blocked(slot_ix, blocked);
            }
            leaving
        });
        load_on_replicas(dst, slot, &mut target, !t.replicas_of(to).is_empty());
        dst.gain(slot_ix, &dst_cell, &target);
        let target = dst_cell.insert(target);
        if let Some(leaving) = leaving {
            dst.merge_blocked(slot_ix, leaving, target);
        }
        self.bump_generation(slot);
        Ok(())
    }

    /// Moves up to `max_keys` keys of a migrating slot from source to target, then waits for
    /// both sides' replicas to apply the batch. Waits out a failover of either side (within
    /// the retry budget).
    ///
    /// # Errors
    /// `ERR` if the slot is not migrating; `OOM` if the target has no room for the batch
    /// (nothing of the batch moves); `CLUSTERDOWN` if a side stays down.
    pub(crate) fn migration_step(&self, slot: u16, max_keys: usize) -> Result<MigrationProgress, Error> {
        self.retrying(|| self.try_step(slot, max_keys))
    }

    /// One step; None if a side holds no table now (crashed, failover on its way).
    fn try_step(&self, slot: u16, max_keys: usize) -> Result<Option<MigrationProgress>, Error> {
        let control = self.control.lock();
        let t = self.topology();
        let (from, to) = t.migration(slot).ok_or_else(|| not_migrating(slot))?;
        let (src, dst) = (self.node(from).expect("listed"), self.node(to).expect("listed"));
        let slot_ix = usize::from(slot);
        let Some(source) = src.cells[slot_ix].0.try_read_for(LOCK_WAIT) else { return Ok(None) };
        // The batch is chosen here, from a random place (always starting at the first group
        // would scan the groups earlier batches emptied again and again, quadratic over a
        // large slot), and what it costs the target admitted; the keys of it still there
        // under the write locks move (a key deleted meanwhile is skipped).
        let (batch, bytes) = match source.as_ref() {
            Some(s) => s
                .iter_from(random())
                .take(max_keys)
                // Each key brings its entry's heap and its record.
                .map(|k| (Box::from(k.key()), k.entry().cost() + s.slot_bytes()))
                .unzip::<_, _, Vec<Box<[u8]>>, Vec<usize>>(),
            None => return Ok(None),
        };
        drop(source);
        dst.admit(bytes.iter().sum(), 0)?;
        let Some((_, _, mut src_cell, mut dst_cell)) = self.lock_sides(slot, from, to) else {
            return Ok(None);
        };
        let (Some(s), Some(d)) = (src_cell.as_mut(), dst_cell.as_mut()) else { return Ok(None) };
        let now = Now::new(&self.clock);
        let n = transfer(slot, (src, s), (dst, d), &batch, &now, false);
        let moved = self.count_moved(&t, slot, n);
        let left = s.len();
        drop((src_cell, dst_cell, control));
        self.sync_replicas(src);
        self.sync_replicas(dst);
        Ok(Some(MigrationProgress::new(slot, from, to, MigrationMode::KeyByKey, moved, left, false)))
    }

    /// Moves every key left and hands the slot over: the target owns it, stable, under a new
    /// epoch; the source lets go of its (now empty) table; callers blocked on the source
    /// move to the target. A target out of memory rolls the migration back.
    ///
    /// # Errors
    /// As [`Registry::migration_step`]; on `OOM` the migration has been aborted.
    pub(crate) fn finish_migration(&self, slot: u16) -> Result<MigrationProgress, Error> {
        loop {
            match self.migration_step(slot, FINISH_BATCH) {
                Ok(p) if p.keys_left == 0 => break,
                Ok(_) => {}
                Err(Error::OutOfMemory) => {
                    self.abort_migration(slot)?;
                    return Err(Error::OutOfMemory);
                }
                Err(e) => return Err(e),
            }
        }
        self.retrying(|| self.try_hand_over(slot))
    }

    /// The handover of `finish`; None if a side is down or hung.
    fn try_hand_over(&self, slot: u16) -> Result<Option<MigrationProgress>, Error> {
        let control = self.control.lock();
        let t = self.topology();
        let (from, to) = t.migration(slot).ok_or_else(|| not_migrating(slot))?;
        let slot_ix = usize::from(slot);
        let Some((src, dst, mut src_cell, mut dst_cell)) = self.lock_sides(slot, from, to) else {
            return Ok(None);
        };
        let (Some(s), Some(d)) = (src_cell.as_mut(), dst_cell.as_mut()) else { return Ok(None) };
        let now = Now::new(&self.clock);
        // Nothing can have arrived on the source since the last step (missing keys are
        // created on the target), but expired keys may linger: this settles them.
        let rest = all_keys(s);
        transfer(slot, (src, s), (dst, d), &rest, &now, false);
        d.set_moving(Moving::Stable);
        let old = src_cell.take().expect("checked");
        src.lose(slot_ix, &old);
        drop_on_replicas(src, slot);
        if let Some(blocked) = src.take_blocked(slot_ix) {
            dst.merge_blocked(slot_ix, blocked, d);
        }
        let moved = t.migration_keys_moved(slot).unwrap_or(0);
        let mut next = t.next();
        let epoch = next.epoch();
        next.set_owner(slot_ix, Some(to));
        next.set_migration(slot, None);
        next.node_mut(to).expect("listed").config_epoch = epoch;
        self.publish_moves(
            next,
            vec![
                Event::MigrationFinished { slot, from, to, keys_moved: moved, epoch },
                Event::SlotMoved { slot, from, to, epoch },
            ],
            Some(&[slot]),
        );
        self.bump_generation(slot);
        drop((src_cell, dst_cell, control));
        self.sync_replicas(dst);
        Ok(Some(MigrationProgress::new(slot, from, to, MigrationMode::KeyByKey, moved, 0, true)))
    }

    /// Rolls a key-by-key migration back: every key on the target returns to the source
    /// (the target's copy is the newer one), the target lets go of its table and the slot is
    /// stable on the source again. Never refused for memory. A target that is down is waited
    /// for (a failover brings its keys back); if none comes within the retry budget, the keys
    /// already moved are lost with it.
    ///
    /// # Errors
    /// `ERR` if the slot is not migrating; `CLUSTERDOWN` if the source stays down or hung.
    pub(crate) fn abort_migration(&self, slot: u16) -> Result<MigrationProgress, Error> {
        match self.retrying(|| self.try_abort(slot, false)) {
            Err(Error::ClusterDown(_)) => {
                self.try_abort(slot, true)?.ok_or(Error::ClusterDown(ClusterDownReason::Down))
            }
            r => r,
        }
    }

    /// One try of `abort`; None if the source is down or hung, or (unless `lossy`) the
    /// target is.
    fn try_abort(&self, slot: u16, lossy: bool) -> Result<Option<MigrationProgress>, Error> {
        let control = self.control.lock();
        let t = self.topology();
        let (from, to) = t.migration(slot).ok_or_else(|| not_migrating(slot))?;
        let slot_ix = usize::from(slot);
        let Some((src, dst, mut src_cell, mut dst_cell)) = self.lock_sides(slot, from, to) else {
            return Ok(None);
        };
        let Some(s) = src_cell.as_mut() else { return Ok(None) };
        if dst_cell.is_none() && !lossy {
            return Ok(None);
        }
        let now = Now::new(&self.clock);
        let back = match dst_cell.as_mut() {
            Some(d) => {
                let all = all_keys(d);
                transfer(slot, (dst, d), (src, s), &all, &now, true)
            }
            None => 0,
        };
        s.set_moving(Moving::Stable);
        if let Some(old) = dst_cell.take() {
            dst.lose(slot_ix, &old);
        }
        // Also when the target is gone: its replicas must not keep the slot.
        drop_on_replicas(dst, slot);
        if let Some(blocked) = dst.take_blocked(slot_ix) {
            src.merge_blocked(slot_ix, blocked, s);
        }
        let moved = t.migration_keys_moved(slot).unwrap_or(0);
        let mut next = t.next();
        let epoch = next.epoch();
        next.set_migration(slot, None);
        self.publish(next, vec![Event::MigrationAborted { slot, from, to, keys_returned: back, epoch }]);
        self.bump_generation(slot);
        let left = s.len();
        drop((src_cell, dst_cell, control));
        self.sync_replicas(src);
        let still_moved = moved.saturating_sub(back);
        Ok(Some(MigrationProgress::new(
            slot,
            from,
            to,
            MigrationMode::KeyByKey,
            still_moved,
            left,
            true,
        )))
    }

    /// `MIGRATE`: moves `keys` (of `slot`, which must be migrating to `to`) from the source
    /// to the target. With `replace` a key the target already has is overwritten; without,
    /// such a key stays where it is and the command fails, as Redis's `BUSYKEY`. Returns the
    /// keys moved (0: none of them existed, Redis's `NOKEY`).
    ///
    /// # Errors
    /// `ERR Target instance replied with error: MOVED ...` if `to` does not import the slot;
    /// `... BUSYKEY ...`; `CLUSTERDOWN` if a side is down.
    pub(crate) fn migrate_keys(
        &self,
        slot: u16,
        to: NodeId,
        keys: &[&[u8]],
        replace: bool,
    ) -> Result<usize, Error> {
        let _control = self.control.lock();
        let t = self.topology();
        let (from, target) = match t.migration(slot) {
            Some((from, target)) if target == to => (from, target),
            _ => {
                let owner = t.slot_owner(slot).map_or_else(String::new, NodeId::addr);
                return Err(Error::Command(format!(
                    "Target instance replied with error: MOVED {slot} {owner}"
                )));
            }
        };
        let (src, dst, mut src_cell, mut dst_cell) =
            self.lock_sides(slot, from, target).ok_or(Error::ClusterDown(ClusterDownReason::Down))?;
        let (Some(s), Some(d)) = (src_cell.as_mut(), dst_cell.as_mut()) else {
            return Err(Error::ClusterDown(ClusterDownReason::Down));
        };
        let now = Now::new(&self.clock);
        let live = |t: &Table, k: &[u8]| t.get_raw(k).is_some_and(|e| Table::is_live(e, &now));
        if !replace && keys.iter().any(|k| live(s, k) && live(d, k)) {
            return Err(Error::msg(
                "Target instance replied with error: BUSYKEY Target key name already exists.",
            ));
        }
        let keys: Vec<Box<[u8]>> = keys.iter().filter(|k| live(s, k)).map(|k| Box::from(*k)).collect();
        let n = transfer(slot, (src, s), (dst, d), &keys, &now, true);
        self.count_moved(&t, slot, n);
        drop((src_cell, dst_cell, _control));
        self.sync_replicas(src);
        self.sync_replicas(dst);
        Ok(n)
    }

    /// Runs `f` on every table of `slot` under their read locks: the holder's, and during a
    /// key-by-key migration the target's too (source first, as the mover locks them), so a
    /// read of the whole slot (`SCAN`) sees the keys on either side.
    ///
    /// # Errors
    /// `CLUSTERDOWN Hash slot not served` if no node holds the slot.
    pub(crate) fn read_slot<R>(
        &self,
        slot: u16,
        f: impl FnOnce(&[&Table], &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let mut f = Some(f);
        for attempt in 0.. {
            if let Some((from, to)) = self.topology().migration(slot) {
                let (src, dst) = (self.node(from).expect("listed"), self.node(to).expect("listed"));
                let source = src.cells[usize::from(slot)].0.read();
                let target = dst.cells[usize::from(slot)].0.read();
                let tables: Vec<&Table> =
                    [source.as_ref(), target.as_ref()].into_iter().flatten().collect();
                if !tables.is_empty() {
                    let now = Now::new(&self.clock);
                    return Ok(f.take().expect("runs once")(&tables, &now));
                }
            }
            // No migration, unless one began since the topology was read: the table says.
            // (Bounded: a source left migrating with no target to read is read alone.)
            let done = self.read(slot, |t, now| {
                (t.moving() == Moving::Stable || attempt >= MAX_LOOKS)
                    .then(|| f.take().expect("runs once")(&[t], now))
            })?;
            if let Some(r) = done {
                return Ok(r);
            }
        }
        unreachable!("the last look reads the holder's table")
    }

    /// Where the key-by-key migration of `slot` stands; None if there is none.
    pub(crate) fn migration_progress(&self, slot: u16) -> Option<MigrationProgress> {
        let (from, to) = self.topology().migration(slot)?;
        let left = self.node(from)?.cells[usize::from(slot)].0.read().as_ref().map_or(0, Table::len);
        let moved = self.topology().migration_keys_moved(slot).unwrap_or(0);
        Some(MigrationProgress::new(slot, from, to, MigrationMode::KeyByKey, moved, left, false))
    }

    /// Marks `node`'s tables for the key-by-key migrations `t` records on its shard (a
    /// replica about to be promoted, a node restarting as its shard's primary): migrating on
    /// a source, importing (with an empty table if it had none) on a target. A table for a
    /// slot `t` gives it no claim on (a migration rolled back while it was a replica that
    /// missed the drop) is let go. Runs before the topology that routes to `node` is
    /// published.
    pub(super) fn mark_migrations(&self, node: &Node, t: &Topology) {
        for slot in node.held_slots() {
            let importing = t.migration(slot).is_some_and(|(_, to)| to == node.id);
            if t.slot_owner(slot) != Some(node.id) && !importing {
                node.drop_table(usize::from(slot));
            }
        }
        for slot in t.migrating_slots() {
            let Some((from, to)) = t.migration(slot) else { continue };
            let moving = match node.id {
                id if id == from => Moving::Migrating,
                id if id == to => Moving::Importing,
                _ => continue,
            };
            let slot_ix = usize::from(slot);
            let mut cell = node.cells[slot_ix].0.write();
            match cell.as_mut() {
                Some(table) => table.set_moving(moving),
                None => {
                    let mut table = Table::new();
                    table.set_moving(moving);
                    node.gain(slot_ix, &cell, &table);
                    *cell = Some(table);
                }
            }
            self.bump_generation(slot);
        }
    }

    /// Records `n` more keys moved by the migration of `slot` (a step or `MIGRATE`, under
    /// the control lock and both sides' cell locks): a new epoch whose migration record
    /// counts them, published with a `MigrationStep` event. Moves the slot's watch
    /// generation on. Returns the keys moved so far. Nothing is published for `n == 0`.
    fn count_moved(&self, t: &Topology, slot: u16, n: usize) -> usize {
        let Some((from, to)) = t.migration(slot) else { return 0 };
        if n == 0 {
            return t.migration_keys_moved(slot).unwrap_or(0);
        }
        self.bump_generation(slot);
        let mut next = t.next();
        let epoch = next.epoch();
        let keys_moved = next.add_migration_moved(slot, n);
        self.publish(next, vec![Event::MigrationStep { slot, from, to, batch: n, keys_moved, epoch }]);
        keys_moved
    }

    /// Waits (up to `REPLICA_ACK`) until every live, synced replica of `node` has applied
    /// everything `node` has sent.
    fn sync_replicas(&self, node: &Node) {
        let t = self.topology();
        let replicas = t
            .replicas_of(node.id)
            .into_iter()
            .filter(|r| !t.node(*r).is_some_and(|n| n.failed))
            .filter_map(|r| self.node(r))
            .filter(|r| !r.repl.is_dead() && r.repl.is_synced() && !r.repl.is_paused())
            .count();
        if replicas > 0 {
            self.wait_for(Some((node.id, node.repl.offset())), replicas, Some(REPLICA_ACK));
        }
    }
}

/// Every key of `table`.
fn all_keys(table: &Table) -> Vec<Box<[u8]>> {
    table.iter().map(|(k, _)| Box::from(k)).collect()
}

/// Moves `keys` from one side's table to the other's, both locked by the caller, settling
/// each side's replication stream and memory. Expired keys are dropped, keys the sender
/// lacks skipped. When both sides hold a key, `overwrite` says whose copy wins: the
/// receiving side's (false: the target's copy of a key is always newer than a source's
/// leftover) or the sender's (true: a rollback brings the target's newer copies home).
/// Returns the keys taken from the sender.
fn transfer(
    slot: u16,
    from: (&Node, &mut Table),
    to: (&Node, &mut Table),
    keys: &[Box<[u8]>],
    now: &Now<'_>,
    overwrite: bool,
) -> usize {
    let ((src, s), (dst, d)) = (from, to);
    if keys.is_empty() {
        return 0;
    }
    let (sb, db) = (src.before_write(s, now), dst.before_write(d, now));
    let mut taken = 0;
    for key in keys {
        let Some(e) = s.remove(key) else { continue };
        taken += 1;
        if !Table::is_live(&e, now) {
            continue;
        }
        if !overwrite && d.get_raw(key).is_some_and(|x| Table::is_live(x, now)) {
            continue;
        }
        let (expire_at, stamp) = (e.expire_at(), e.stamp().raw());
        d.insert(key, e.value, expire_at);
        d.set_stamp(key, stamp);
        d.signal_ready(key);
    }
    src.after_write(usize::from(slot), s, now, sb);
    dst.after_write(usize::from(slot), d, now, db);
    taken
}

/// Tells `node`'s replicas to drop `slot`.
fn drop_on_replicas(node: &Node, slot: u16) {
    node.repl.out.lock().streams.retain(|(_, tx)| tx.send(Message::Drop { slot }).is_ok());
}

/// Sends `node`'s replicas a copy of `table` arriving for `slot`; the table tracks writes for
/// them from now on, also when `replicated` (the topology gives `node` replicas) but none is
/// attached right now (one is down): its writes are numbered, so a `WAIT` after one of them
/// waits for that write, not for the caller's previous one. The copies are made before the
/// stream lock is taken, so the node's other slots keep replicating while a big slot is copied; the slot's own lock, which the caller
/// holds, keeps its writes behind the load.
fn load_on_replicas(node: &Node, slot: u16, table: &mut Table, replicated: bool) {
    let replicas = node.repl.out.lock().streams.len();
    table.set_tracking(replicas > 0 || replicated);
    if replicas == 0 {
        return;
    }
    let mut copies: Vec<Table> = (0..replicas).map(|_| table.snapshot()).collect();
    let mut out = node.repl.out.lock();
    out.streams.retain(|(_, tx)| {
        let copy = copies.pop().unwrap_or_else(|| table.snapshot());
        tx.send(Message::Load { slot, table: copy }).is_ok()
    });
    // An empty numbered batch behind the load: a replica's applied offset passes it only
    // once the load is in, so waiting for the node's offset waits for the load too.
    out.offset += 1;
    let batch = Arc::new(Batch { slot, offset: out.offset, effects: Vec::new() });
    out.streams.retain(|(_, tx)| tx.send(Message::Batch(batch.clone())).is_ok());
}
