//! Seeded chaos (level 4): a driver that injects faults and slot moves into a running
//! cluster from a seed, while the user's workload runs, and logs what it did.

use crate::cluster::{Balance, Cluster};
use crate::config::{FailoverMode, MigrationMode};
use crate::error::Error;
use crate::events::Event;
use crate::ids::NodeId;
use crate::rng::Rng;
use crate::slot::SLOT_COUNT;
use crate::topology::Topology;
use crossbeam_channel::Receiver;
use std::fmt;
use std::time::{Duration, Instant};

/// One fault or move a [`Chaos`] run decided on. It names shards (a primary and its
/// replicas, numbered from 0 in the order the cluster was built) and replica ranks, not
/// node ids: which node is a shard's primary changes with failovers, so the decision is
/// resolved to nodes when it is carried out (the [`ChaosStep::outcome`] says which).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Crash the shard's primary, wait for its replica's promotion, restart the old
    /// primary (it rejoins as a replica and full-syncs).
    KillPrimary {
        /// The shard.
        shard: usize,
    },
    /// Crash one replica of the shard, then restart it.
    KillReplica {
        /// The shard.
        shard: usize,
        /// Which replica, by rank in id order.
        replica: usize,
    },
    /// Hang the shard's primary (it holds its slots' locks, so callers wait); with
    /// `fail_over`, until the failure detector replaces it (then it rejoins as a replica),
    /// else resume it before `node_timeout` passes.
    PausePrimary {
        /// The shard.
        shard: usize,
        /// Keep it hung until a replica takes over.
        fail_over: bool,
    },
    /// `CLUSTER FAILOVER` to one replica of the shard: lossless, or `FORCE`.
    Failover {
        /// The shard.
        shard: usize,
        /// Which replica, by rank in id order.
        replica: usize,
        /// `FORCE` instead of the lossless default.
        force: bool,
    },
    /// Move `slot` to the shard's primary atomically ([`Cluster::migrate_slot`]); nothing
    /// happens if the shard owns it already.
    MigrateSlot {
        /// The slot.
        slot: u16,
        /// The target shard.
        to_shard: usize,
    },
    /// Move `slot` to the shard's primary key by key, `batch` keys a step, then finish, or
    /// roll back with `abort`.
    MigrateKeyByKey {
        /// The slot.
        slot: u16,
        /// The target shard.
        to_shard: usize,
        /// Keys per step.
        batch: usize,
        /// Roll the migration back after the steps instead of finishing it.
        abort: bool,
    },
    /// Open a key-by-key migration of `slot`, move one batch, crash the primary of the
    /// source (or, with `kill_target`, of the target), wait for the failover, finish the
    /// migration on the promoted side, restart the crashed node.
    KillDuringMigration {
        /// The slot.
        slot: u16,
        /// The target shard.
        to_shard: usize,
        /// Keys moved before the crash.
        batch: usize,
        /// Crash the target's primary rather than the source's.
        kill_target: bool,
    },
    /// [`Cluster::rebalance`] by keys.
    Rebalance,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::KillPrimary { shard } => write!(f, "kill the primary of shard {shard}"),
            Fault::KillReplica { shard, replica } => {
                write!(f, "kill replica {replica} of shard {shard}")
            }
            Fault::PausePrimary { shard, fail_over } => {
                let how = if fail_over { "until it fails over" } else { "briefly" };
                write!(f, "pause the primary of shard {shard} {how}")
            }
            Fault::Failover { shard, replica, force } => {
                let mode = if force { "FORCE " } else { "" };
                write!(f, "CLUSTER FAILOVER {mode}to replica {replica} of shard {shard}")
            }
            Fault::MigrateSlot { slot, to_shard } => write!(f, "move slot {slot} to shard {to_shard}"),
            Fault::MigrateKeyByKey { slot, to_shard, batch, abort } => {
                let end = if abort { "abort" } else { "finish" };
                write!(f, "move slot {slot} to shard {to_shard} key by key ({batch} a step), then {end}")
            }
            Fault::KillDuringMigration { slot, to_shard, batch, kill_target } => {
                let side = if kill_target { "target" } else { "source" };
                write!(f, "move slot {slot} to shard {to_shard} key by key, kill the {side} after {batch} keys")
            }
            Fault::Rebalance => write!(f, "rebalance by keys"),
        }
    }
}

/// What one step of a [`Chaos`] run did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChaosStep {
    /// The step's number, from 0.
    pub index: usize,
    /// The fault decided from the seed (the same for the same seed, whatever the timing).
    pub fault: Fault,
    /// What it came to on this run: the nodes it hit, keys moved, or why it did nothing
    /// (e.g. the shard already owned the slot, or the target had no room).
    pub outcome: String,
    /// The topology events published while the step ran, in order.
    pub events: Vec<Event>,
}

impl fmt::Display for ChaosStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}: {}", self.index, self.fault, self.outcome)
    }
}

/// Seeded chaos for tests: injects crashes, hangs, restarts, manual failovers, atomic and
/// key-by-key slot migrations (some aborted, some with a side crashed halfway) and
/// rebalances into a cluster while the test's own workload runs, one fault at a time, and
/// logs each as a [`ChaosStep`].
///
/// The sequence of faults is drawn from the seed alone (and the cluster's shape when the
/// driver was made: shards, replicas per shard, and the slots it may move), so the same
/// seed replays the same [`faults`](Chaos::faults) on any run: a failing test prints its
/// seed and log, and runs again with it. Each step waits until the cluster is whole again
/// before the next (every node up and synced, no migration open), so every fault is
/// possible at every step. Kills need replicas: in a cluster without them the driver only
/// moves slots, rebalances and pauses briefly.
///
/// Timing-driven outcomes (which replica wins a promotion when there are several, what a
/// rebalance moves under the workload) may differ between runs; with a
/// [`Clock::manual`](crate::Clock::manual) clock, failovers happen exactly where the run
/// asks for them (it moves the clock past `node_timeout` to fail a crashed or hung
/// primary over), so nothing else fails over.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use slotstore::{key_slot, Chaos, Clock, Cluster};
/// use std::time::Duration;
///
/// let cluster = Cluster::builder()
///     .primaries(3)
///     .replicas(1)
///     .node_timeout(Duration::from_millis(50))
///     .clock(Clock::manual(1_700_000_000_000))
///     .build()?;
/// let client = cluster.client();
/// let mut chaos = Chaos::new(&cluster, 7).slots([key_slot("{user}")]);
/// for _ in 0..5 {
///     // The workload: a write acknowledged by a replica, then a fault.
///     client.incr_by("{user}:visits", 1)?;
///     assert_eq!(client.wait(1, Duration::from_secs(5))?, 1);
///     let step = chaos.step()?;
///     println!("{step}");
/// }
/// assert_eq!(client.get("{user}:visits")?.as_deref(), Some(&b"5"[..]));
/// // The same seed draws the same faults.
/// assert_eq!(Chaos::new(&cluster, 7).slots([key_slot("{user}")]).plan(5), chaos.faults());
/// # Ok(()) }
/// ```
pub struct Chaos {
    cluster: Cluster,
    rng: Rng,
    seed: u64,
    shards: Vec<usize>,
    replicas: usize,
    slots: Vec<u16>,
    log: Vec<ChaosStep>,
    timeout: Duration,
}

impl fmt::Debug for Chaos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chaos")
            .field("seed", &self.seed)
            .field("shards", &self.shards.len())
            .field("replicas", &self.replicas)
            .field("slots", &self.slots.len())
            .field("steps", &self.log.len())
            .finish()
    }
}

impl Chaos {
    /// A driver for `cluster` drawing its faults from `seed`. It may move any slot; narrow
    /// that with [`slots`](Chaos::slots) to the ones the workload uses.
    pub fn new(cluster: &Cluster, seed: u64) -> Chaos {
        let t = cluster.topology();
        let mut shards: Vec<usize> = t.nodes().iter().map(|n| n.shard).collect();
        shards.sort_unstable();
        shards.dedup();
        let replicas =
            shards.iter().map(|&s| t.shard_nodes(s).len().saturating_sub(1)).min().unwrap_or(0);
        Chaos {
            cluster: cluster.clone(),
            rng: Rng::with_seed(seed),
            seed,
            shards,
            replicas,
            slots: (0..SLOT_COUNT).collect(),
            log: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Moves only these slots (e.g. the slots of the keys the workload writes). An empty
    /// set keeps all slots.
    #[must_use]
    pub fn slots(mut self, slots: impl IntoIterator<Item = u16>) -> Chaos {
        let mut s: Vec<u16> = slots.into_iter().filter(|&s| s < SLOT_COUNT).collect();
        s.sort_unstable();
        s.dedup();
        if !s.is_empty() {
            self.slots = s;
        }
        self
    }

    /// How long one step may wait for the cluster to be whole again (a failover, a full
    /// sync) before the run fails; default 30 s.
    #[must_use]
    pub fn step_timeout(mut self, timeout: Duration) -> Chaos {
        self.timeout = timeout;
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next `n` faults this driver would inject, without injecting them (the driver is
    /// not advanced). A run's [`faults`](Chaos::faults) equal the plan of a fresh driver
    /// with the same seed.
    pub fn plan(&self, n: usize) -> Vec<Fault> {
        let mut rng = self.rng.clone();
        (0..n).map(|_| self.draw(&mut rng)).collect()
    }

    /// Every step done so far.
    pub fn log(&self) -> &[ChaosStep] {
        &self.log
    }

    /// The faults injected so far, in order: what a replay with the same seed repeats.
    pub fn faults(&self) -> Vec<Fault> {
        self.log.iter().map(|s| s.fault.clone()).collect()
    }

    /// Injects `n` faults, one after the other.
    ///
    /// # Errors
    /// As [`step`](Chaos::step).
    pub fn run(&mut self, n: usize) -> Result<(), Error> {
        for _ in 0..n {
            self.step()?;
        }
        Ok(())
    }

    /// Injects faults for as long as `keep_going` says (it is asked before each fault, on
    /// the caller's thread: it may run a slice of the workload itself). Returns the faults
    /// injected.
    ///
    /// # Errors
    /// As [`step`](Chaos::step).
    pub fn run_while(&mut self, mut keep_going: impl FnMut() -> bool) -> Result<usize, Error> {
        let mut n = 0;
        while keep_going() {
            self.step()?;
            n += 1;
        }
        Ok(n)
    }

    /// Draws the next fault, carries it out, waits until the cluster is whole again and
    /// logs the step. A fault the cluster refuses (a full target's `OOM`, say) is logged as
    /// its outcome, not returned.
    ///
    /// # Errors
    /// `ERR chaos step ...` if the cluster is not whole again within the step timeout (a
    /// failover that never comes, a replica that never syncs), or a node operation fails
    /// in a way no fault explains.
    pub fn step(&mut self) -> Result<&ChaosStep, Error> {
        let mut rng = self.rng.clone();
        let fault = self.draw(&mut rng);
        self.rng = rng;
        let index = self.log.len();
        let events = self.cluster.events();
        let outcome = self.inject(&fault, &events).map_err(|e| self.fail(index, &fault, &e))?;
        self.heal().map_err(|e| self.fail(index, &fault, &e))?;
        let events = events.try_iter().collect();
        self.log.push(ChaosStep { index, fault, outcome, events });
        Ok(self.log.last().expect("just pushed"))
    }

    fn fail(&self, index: usize, fault: &Fault, e: &Error) -> Error {
        Error::Command(format!("chaos step #{index} ({fault}) with seed {}: {e}", self.seed))
    }

    /// The next fault from `rng`: a function of the seed and the cluster's shape only.
    fn draw(&self, rng: &mut Rng) -> Fault {
        let shard = |rng: &mut Rng| self.shards[rng.index(self.shards.len())];
        let slot = |rng: &mut Rng| self.slots[rng.index(self.slots.len())];
        let batch = |rng: &mut Rng| 1 + rng.index(64);
        // Out of 100: kills and failovers only with replicas to promote.
        let roll = rng.index(100);
        let r = self.replicas;
        match roll {
            0..=21 => Fault::MigrateSlot { slot: slot(rng), to_shard: shard(rng) },
            22..=43 => Fault::MigrateKeyByKey {
                slot: slot(rng),
                to_shard: shard(rng),
                batch: batch(rng),
                abort: rng.one_in(4),
            },
            44..=47 => Fault::Rebalance,
            48..=55 => Fault::PausePrimary { shard: shard(rng), fail_over: r > 0 && rng.one_in(2) },
            _ if r == 0 => Fault::MigrateSlot { slot: slot(rng), to_shard: shard(rng) },
            56..=67 => Fault::KillPrimary { shard: shard(rng) },
            68..=77 => Fault::KillReplica { shard: shard(rng), replica: rng.index(r) },
            78..=89 => {
                Fault::Failover { shard: shard(rng), replica: rng.index(r), force: rng.one_in(3) }
            }
            _ => Fault::KillDuringMigration {
                slot: slot(rng),
                to_shard: shard(rng),
                batch: batch(rng),
                kill_target: rng.one_in(2),
            },
        }
    }

    fn primary(&self, shard: usize) -> Result<NodeId, Error> {
        self.cluster
            .topology()
            .shard_primary(shard)
            .ok_or_else(|| Error::Command(format!("shard {shard} has no live primary")))
    }

    fn replica(&self, shard: usize, rank: usize) -> Result<NodeId, Error> {
        let p = self.primary(shard)?;
        let rs = self.cluster.replicas_of(p);
        rs.get(rank % rs.len().max(1))
            .copied()
            .ok_or_else(|| Error::Command(format!("shard {shard} has no replica")))
    }

    /// Carries `fault` out; returns what it came to.
    fn inject(&self, fault: &Fault, events: &Receiver<Event>) -> Result<String, Error> {
        let c = &self.cluster;
        let n = |id: NodeId| id.index();
        Ok(match *fault {
            Fault::KillPrimary { shard } => {
                let p = self.primary(shard)?;
                c.kill_node(p)?;
                let new = self.await_promotion(p, events)?;
                c.restart_node(p)?;
                format!("killed node {}; node {} promoted; node {} restarted", n(p), n(new), n(p))
            }
            Fault::KillReplica { shard, replica } => {
                let r = self.replica(shard, replica)?;
                c.kill_node(r)?;
                c.restart_node(r)?;
                format!("killed and restarted node {}", n(r))
            }
            Fault::PausePrimary { shard, fail_over } => {
                let p = self.primary(shard)?;
                c.pause_node(p)?;
                let what = if fail_over {
                    let new = self.await_promotion(p, events)?;
                    format!("paused node {}; node {} promoted; resumed as a replica", n(p), n(new))
                } else {
                    // A manual clock does not move: a few detector rounds pass, no failover.
                    if c.clock().is_manual() && self.replicas > 0 {
                        let until = c.detector_rounds() + 3;
                        let deadline = Instant::now() + self.timeout;
                        while c.detector_rounds() < until && Instant::now() < deadline {
                            std::thread::yield_now();
                        }
                    }
                    format!("paused and resumed node {}", n(p))
                };
                c.resume_node(p)?;
                what
            }
            Fault::Failover { shard, replica, force } => {
                let r = self.replica(shard, replica)?;
                let p = self.primary(shard)?;
                let mode = if force { FailoverMode::Force } else { FailoverMode::Default };
                match c.failover(r, mode) {
                    Ok(()) => format!("node {} took over from node {}", n(r), n(p)),
                    Err(e) => format!("refused: {e}"),
                }
            }
            Fault::MigrateSlot { slot, to_shard } => {
                let to = self.primary(to_shard)?;
                if c.slot_owner(slot) == Some(to) {
                    return Ok(format!("already on node {}", n(to)));
                }
                match c.migrate_slot(slot, to) {
                    Ok(()) => format!("moved to node {}", n(to)),
                    Err(e) => format!("refused: {e}"),
                }
            }
            Fault::MigrateKeyByKey { slot, to_shard, batch, abort } => {
                let to = self.primary(to_shard)?;
                if c.slot_owner(slot) == Some(to) {
                    return Ok(format!("already on node {}", n(to)));
                }
                let mut m = match c.begin_migration(slot, to, MigrationMode::KeyByKey) {
                    Ok(m) => m,
                    Err(e) => return Ok(format!("refused: {e}")),
                };
                let mut steps = 0;
                let stepped = loop {
                    match m.step(batch) {
                        Ok(p) if p.keys_left == 0 => break Ok(()),
                        Ok(_) => steps += 1,
                        Err(e) => break Err(e),
                    }
                };
                match (stepped, abort) {
                    (Ok(()), false) => {
                        let p = m.finish()?;
                        format!("{} keys moved to node {} in {} steps", p.keys_moved, n(to), steps + 1)
                    }
                    (Ok(()), true) => {
                        let p = m.abort()?;
                        format!("aborted after {steps} steps; {} keys back home", p.keys_left)
                    }
                    (Err(e), _) => {
                        m.abort()?;
                        format!("step refused ({e}); aborted")
                    }
                }
            }
            Fault::KillDuringMigration { slot, to_shard, batch, kill_target } => {
                let to = self.primary(to_shard)?;
                if c.slot_owner(slot) == Some(to) {
                    return Ok(format!("already on node {}", n(to)));
                }
                let from = c
                    .slot_owner(slot)
                    .ok_or(Error::ClusterDown(crate::error::ClusterDownReason::Unbound))?;
                let mut m = match c.begin_migration(slot, to, MigrationMode::KeyByKey) {
                    Ok(m) => m,
                    Err(e) => return Ok(format!("refused: {e}")),
                };
                if let Err(e) = m.step(batch) {
                    m.abort()?;
                    return Ok(format!("step refused ({e}); aborted"));
                }
                let victim = if kill_target { to } else { from };
                c.kill_node(victim)?;
                let new = self.await_promotion(victim, events)?;
                let p = m.finish()?;
                c.restart_node(victim)?;
                format!(
                    "killed node {} after a step; node {} promoted; {} keys moved; node {} restarted",
                    n(victim),
                    n(new),
                    p.keys_moved,
                    n(victim)
                )
            }
            Fault::Rebalance => match c.rebalance_with(Balance::Keys, |_| {}) {
                Ok(p) => format!("{} slots moved, {} keys", p.slots_moved, p.keys_moved),
                Err(e) => format!("stopped: {e}"),
            },
        })
    }

    /// Waits for the failure detector to replace `victim` (crashed or hung), moving a
    /// manual clock past `node_timeout` first. Returns the promoted node.
    fn await_promotion(&self, victim: NodeId, events: &Receiver<Event>) -> Result<NodeId, Error> {
        let c = &self.cluster;
        if c.clock().is_manual() {
            c.clock().advance(c.node_timeout() + Duration::from_millis(1));
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(Event::Promoted { node, replaced, .. }) if replaced == victim => return Ok(node),
                Ok(_) => {}
                Err(_) => {
                    return Err(Error::Command(format!("no replica replaced node {victim}")));
                }
            }
        }
    }

    /// Waits until the cluster is whole: every node up and not failed, every replica
    /// synced, every shard with its replicas, no migration open.
    fn heal(&self) -> Result<(), Error> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let t = self.cluster.topology();
            if self.whole(&t) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Command(format!("the cluster is not whole again: {t:?}")));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn whole(&self, t: &Topology) -> bool {
        let r = self.cluster.registry();
        t.migrating_slots().is_empty()
            && self
                .shards
                .iter()
                .all(|&s| t.shard_primary(s).is_some_and(|p| t.replicas_of(p).len() >= self.replicas))
            && t.nodes().iter().all(|n| {
                !n.failed
                    && r.node(n.id).is_some_and(|x| {
                        !x.repl.is_dead()
                            && !x.repl.is_paused()
                            && (!x.repl.is_replica() || x.repl.is_synced())
                    })
            })
    }
}
