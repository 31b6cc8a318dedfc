//! Failure detection and failover decisions (level 2): a state machine with no threads and
//! no clock of its own.
//!
//! Each round takes what the nodes show (their heartbeat counters and the clock time of
//! their last heartbeat, their role and state in the topology) and the time now, read from
//! the cluster's [`Clock`](crate::Clock), and answers with actions: clear a failure flag,
//! promote a replica, mark a node failed. The monitor thread feeds it and carries the actions
//! out under the control lock; tests feed it by hand.
//!
//! A node is silent when its last heartbeat is more than `node_timeout` old by the clock
//! *and* its heartbeat counter has not moved for [`STILL_ROUNDS`] rounds in a row. The
//! second condition changes nothing with the system clock (a node silent for `node_timeout`
//! has missed about four rounds), but it keeps a manual clock honest: when a test advances
//! it past `node_timeout`, only nodes that really stopped beating are failed, not live ones
//! whose next heartbeat (with the new time) has not come yet.
//!
//! Redis gathers failure reports from a majority of primaries before a node is FAIL, and the
//! replicas then hold an election. In one process one observer sees every heartbeat, so the
//! detector plays both parts: it marks the node failed and picks the replica with the
//! highest applied offset, which is the replica Redis's rank delay makes win.

use crate::ids::NodeId;
use crate::topology::Role;
use std::collections::HashMap;

/// Rounds in a row a node's heartbeat counter must stand still before it can be silent.
pub(crate) const STILL_ROUNDS: u32 = 3;

/// One node as a round sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) id: NodeId,
    /// Its role in the current topology.
    pub(crate) role: Role,
    /// Marked failed in the current topology.
    pub(crate) failed: bool,
    /// A primary that owns slots in the current topology.
    pub(crate) owns_slots: bool,
    /// Its heartbeat counter: it moves on every heartbeat.
    pub(crate) beats: u64,
    /// The clock time (ms) of its last heartbeat.
    pub(crate) beat_ms: u64,
    /// Crashed (killed, not restarted).
    pub(crate) dead: bool,
    /// Hung on purpose.
    pub(crate) paused: bool,
    /// A replica whose full sync is loaded (primaries: true).
    pub(crate) synced: bool,
    /// The replication offset it applied (replicas).
    pub(crate) applied: u64,
}

/// What a round decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// A node marked failed answers again: clear its flag.
    Recover(NodeId),
    /// `primary`, silent and owning slots, is replaced by `replica`. If the promotion is
    /// refused when carried out, `primary` is marked failed instead.
    Promote {
        /// The replica to promote.
        replica: NodeId,
        /// The silent primary.
        primary: NodeId,
    },
    /// A silent node with no replica to take over: mark it failed.
    MarkFailed(NodeId),
}

/// What the detector remembers of a node between rounds.
#[derive(Debug, Clone, Copy)]
struct Seen {
    beats: u64,
    /// Rounds in a row its counter has not moved.
    still: u32,
}

/// The failure detector's state.
#[derive(Debug)]
pub(crate) struct Detector {
    timeout_ms: u64,
    seen: HashMap<NodeId, Seen>,
    rounds: u64,
}

impl Detector {
    /// A detector that takes a node silent for more than `timeout_ms` for failed.
    pub(crate) fn new(timeout_ms: u64) -> Detector {
        Detector { timeout_ms, seen: HashMap::new(), rounds: 0 }
    }

    /// Rounds run so far.
    pub(crate) fn rounds(&self) -> u64 {
        self.rounds
    }

    /// One round at clock time `now_ms` over every node of the topology.
    pub(crate) fn round(&mut self, now_ms: u64, nodes: &[Observed]) -> Vec<Action> {
        self.rounds += 1;
        let mut seen = HashMap::with_capacity(nodes.len());
        for n in nodes {
            let still = match self.seen.get(&n.id) {
                Some(s) if s.beats == n.beats => s.still.saturating_add(1),
                _ => 0,
            };
            seen.insert(n.id, Seen { beats: n.beats, still });
        }
        // Nodes that left the topology are forgotten.
        self.seen = seen;
        let silent = |n: &Observed| {
            self.seen[&n.id].still >= STILL_ROUNDS && now_ms.saturating_sub(n.beat_ms) > self.timeout_ms
        };
        let by_id: HashMap<NodeId, &Observed> = nodes.iter().map(|n| (n.id, n)).collect();
        let mut actions = Vec::new();
        // Failed nodes that answer again (a starved thread, not a crash), as Redis clears FAIL
        // for a reachable replica or a primary no replica replaced.
        for n in nodes.iter().filter(|n| n.failed) {
            let matters = match n.role {
                Role::Primary => n.owns_slots,
                Role::Replica { of } => by_id.get(&of).is_some_and(|p| p.role == Role::Primary),
            };
            // A replica still loading its full sync stays failed until it has.
            let ready = n.role == Role::Primary || n.synced;
            if matters && ready && !n.dead && !n.paused && !silent(n) {
                actions.push(Action::Recover(n.id));
            }
        }
        // Silent nodes. A failed primary still owning slots is looked at again: a replica
        // that could not take over before (starved, syncing) may be able to now.
        for n in nodes {
            let owner = n.role == Role::Primary && n.owns_slots;
            if (n.failed && !owner) || !silent(n) {
                continue;
            }
            let best = if owner {
                nodes
                    .iter()
                    .filter(|r| r.role == Role::Replica { of: n.id })
                    .filter(|r| !r.failed && !r.dead && !r.paused && r.synced && !silent(r))
                    .max_by_key(|r| (r.applied, std::cmp::Reverse(r.id)))
            } else {
                None
            };
            match best {
                Some(r) => actions.push(Action::Promote { replica: r.id, primary: n.id }),
                None if !n.failed => actions.push(Action::MarkFailed(n.id)),
                None => {}
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: u64 = 200;

    /// A primary 0 owning slots with replicas 1 and 2, all beating at `now`.
    fn shard(now: u64) -> Vec<Observed> {
        let node = |id: u32, role: Role| Observed {
            id: NodeId(id),
            role,
            failed: false,
            owns_slots: role == Role::Primary,
            beats: 1,
            beat_ms: now,
            dead: false,
            paused: false,
            synced: true,
            applied: 10,
        };
        let of = NodeId(0);
        vec![node(0, Role::Primary), node(1, Role::Replica { of }), node(2, Role::Replica { of })]
    }

    /// Every node but `stopped` beats once more, at `now`.
    fn beat(nodes: &mut [Observed], now: u64, stopped: &[u32]) {
        for n in nodes.iter_mut().filter(|n| !stopped.contains(&n.id.0)) {
            n.beats += 1;
            n.beat_ms = now;
        }
    }

    #[test]
    fn no_failover_before_the_timeout_however_many_rounds() {
        let mut d = Detector::new(TIMEOUT);
        let mut nodes = shard(1000);
        for _ in 0..1000 {
            beat(&mut nodes, 1000, &[0]);
            assert_eq!(d.round(1000 + TIMEOUT, &nodes), vec![], "silent for exactly the timeout");
        }
        assert_eq!(d.rounds(), 1000);
        beat(&mut nodes, 1201, &[0]);
        assert_eq!(
            d.round(1000 + TIMEOUT + 1, &nodes),
            vec![Action::Promote { replica: NodeId(1), primary: NodeId(0) }]
        );
    }

    #[test]
    fn the_replica_with_the_highest_offset_wins_ties_to_the_lowest_id() {
        let mut d = Detector::new(TIMEOUT);
        let mut nodes = shard(0);
        nodes[2].applied = 11;
        for _ in 0..3 {
            d.round(0, &nodes);
        }
        beat(&mut nodes, 500, &[0]);
        let promote = |r| vec![Action::Promote { replica: NodeId(r), primary: NodeId(0) }];
        assert_eq!(d.round(500, &nodes), promote(2));
        nodes[2].applied = 10;
        assert_eq!(d.round(500, &nodes), promote(1));
        // Unusable replicas are passed over: paused, dead, failed, syncing.
        nodes[1].paused = true;
        assert_eq!(d.round(500, &nodes), promote(2));
        nodes[2].synced = false;
        assert_eq!(d.round(500, &nodes), vec![Action::MarkFailed(NodeId(0))]);
    }

    #[test]
    fn a_live_node_is_not_failed_when_the_clock_jumps() {
        // A manual clock advanced far: every stamp is old at once, but only the node whose
        // counter stood still for rounds is silent.
        let mut d = Detector::new(TIMEOUT);
        let mut nodes = shard(0);
        for _ in 0..STILL_ROUNDS {
            beat(&mut nodes, 0, &[1]);
            assert_eq!(d.round(0, &nodes), vec![]);
        }
        beat(&mut nodes, 0, &[1]);
        assert_eq!(d.round(10_000, &nodes), vec![Action::MarkFailed(NodeId(1))]);
        // A starved live node (one round without a beat) is not silent yet either.
        beat(&mut nodes, 0, &[0, 1]);
        let acted = d.round(10_000, &nodes);
        assert!(!acted.iter().any(|a| matches!(a, Action::Promote { .. })), "{acted:?}");
    }

    #[test]
    fn failed_nodes_recover_when_they_answer_again() {
        let mut d = Detector::new(TIMEOUT);
        let mut nodes = shard(0);
        nodes[1].failed = true;
        nodes[0].failed = true;
        assert_eq!(d.round(0, &nodes), vec![Action::Recover(NodeId(0)), Action::Recover(NodeId(1))]);
        // Not while dead, paused, or loading its full sync.
        nodes[0].dead = true;
        nodes[1].synced = false;
        assert_eq!(d.round(0, &nodes), vec![]);
        // A failed primary without slots (replaced) is not brought back by the detector.
        nodes[0] = Observed { dead: false, owns_slots: false, ..nodes[0].clone() };
        assert_eq!(d.round(0, &nodes), vec![]);
    }

    #[test]
    fn a_silent_failed_primary_with_slots_is_looked_at_again() {
        let mut d = Detector::new(TIMEOUT);
        let mut nodes = shard(0);
        nodes[1].synced = false;
        nodes[2].synced = false;
        for _ in 0..3 {
            beat(&mut nodes, 0, &[0]);
            d.round(0, &nodes);
        }
        beat(&mut nodes, 1000, &[0]);
        assert_eq!(d.round(1000, &nodes), vec![Action::MarkFailed(NodeId(0))]);
        nodes[0].failed = true;
        beat(&mut nodes, 1000, &[0]);
        assert_eq!(d.round(1000, &nodes), vec![], "no one to promote: nothing to do");
        nodes[1].synced = true;
        beat(&mut nodes, 1000, &[0]);
        assert_eq!(
            d.round(1000, &nodes),
            vec![Action::Promote { replica: NodeId(1), primary: NodeId(0) }]
        );
    }
}
