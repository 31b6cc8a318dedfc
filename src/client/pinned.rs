//! A client pinned to one node, as a network connection to that node sees the store: keyed
//! commands for slots the node does not serve answer `MOVED`, a replica serves reads only after
//! `READONLY`, and keyless commands (`DBSIZE`, `KEYS`, `SCAN`, `FLUSHALL`, `RANDOMKEY`) answer
//! for that node alone, as a cluster-aware client expects when it fans them out.
// Without the server, only the pinned face used in process remains.
#![cfg_attr(not(feature = "server"), allow(dead_code))]

use super::Client;
use crate::bytes::Bytes;
use crate::command::keys::{self, Scan};
use crate::command::{Handler, Keyless, Spec};
use crate::config::ReadFrom;
use crate::error::{ClusterDownReason, Error};
use crate::glob::Glob;
use crate::ids::NodeId;
use crate::keyspace::{Now, Table};
use crate::node::NodeStats;
use crate::reply::Reply;
use crate::slot::SLOTS;
use crate::topology::{NodeAddr, Role, Topology};
use std::sync::Arc;
use std::time::Duration;

impl Client {
    /// This client pinned to `node`: every keyed command runs there, redirects come back as
    /// errors, keyless commands answer for `node`.
    pub(crate) fn at_node(&self, node: NodeId) -> Client {
        let mut c = self.clone();
        c.pinned = Some((node, false));
        c
    }

    /// The current topology.
    pub(crate) fn topology(&self) -> Arc<Topology> {
        self.registry.topology()
    }

    /// Publishes the addresses nodes are served at.
    pub(crate) fn announce(&self, addrs: &[(NodeId, NodeAddr)]) {
        self.registry.announce(addrs);
    }

    /// True if `node` is crashed (its port must not answer) or unknown.
    pub(crate) fn node_is_down(&self, node: NodeId) -> bool {
        self.registry.is_down(node)
    }

    /// Statistics of one node (primary or replica).
    pub(crate) fn node_stats(&self, node: NodeId) -> Option<NodeStats> {
        self.registry.node(node).map(|n| n.snapshot())
    }

    /// How many replicas have applied `write` now (`WAIT` polled without blocking).
    pub(crate) fn acked(&self, write: Option<(NodeId, u64)>, replicas: usize) -> usize {
        self.registry.wait_for(write, replicas, Some(Duration::ZERO))
    }

    /// What a replica answers for a keyed command of `spec` on `slot` before running it: a
    /// replica serves reads of its own primary's slots after `READONLY`, and sends everything
    /// else to the slot's owner with `MOVED`, as a Redis replica does.
    #[inline]
    pub(super) fn replica_gate(&self, node: NodeId, spec: &Spec, slot: u16) -> Result<(), Error> {
        // The hot case, with no shared write: the route names this node, so it is the
        // primary serving the slot.
        if self.registry.route_id(slot) == node.0 {
            return Ok(());
        }
        self.replica_gate_slow(node, spec, slot)
    }

    #[cold]
    fn replica_gate_slow(&self, node: NodeId, spec: &Spec, slot: u16) -> Result<(), Error> {
        let t = self.registry.topology();
        let Some(Role::Replica { of }) = t.node(node).map(|n| n.role) else { return Ok(()) };
        let owner = t.slot_owner(slot);
        let read = matches!(spec.handler, Handler::Read(_));
        // A replica's copy of a slot in a key-by-key migration lacks the keys already moved
        // and a replica does not redirect: such reads go to the primary, which applies the
        // migration's rules.
        if read
            && self.read_from != ReadFrom::Primary
            && owner == Some(of)
            && t.migration(slot).is_none()
        {
            return Ok(());
        }
        match owner {
            Some(owner) => Err(Error::Moved { slot, node: owner }),
            None => Err(Error::ClusterDown(ClusterDownReason::Unbound)),
        }
    }

    /// Keyless commands as `node` answers them; None for those that are the same everywhere.
    pub(super) fn keyless_at(
        &self,
        node: NodeId,
        k: Keyless,
        a: &[&[u8]],
    ) -> Option<Result<Reply, Error>> {
        let n = self.registry.node(node)?;
        Some(match k {
            Keyless::DbSize => Ok(Reply::Int(n.key_count() as i64)),
            Keyless::FlushAll => keys::parse_flush(a).and_then(|()| {
                if self.is_replica(node) {
                    return Err(read_only());
                }
                n.flush();
                Ok(Reply::ok())
            }),
            Keyless::Keys => {
                let pattern = Glob::new(a[1]);
                let mut out = Vec::new();
                for slot in n.held_slots() {
                    n.read(usize::from(slot), usize::MAX, |t, now| {
                        keys::keys_matching(t, now, &pattern, &mut out)
                    });
                }
                Ok(Reply::Array(out))
            }
            Keyless::Scan => Scan::parse(a).map(|scan| self.scan_at(node, &scan)),
            _ => return None,
        })
    }

    fn is_replica(&self, node: NodeId) -> bool {
        matches!(self.registry.topology().node(node).map(|n| n.role), Some(Role::Replica { .. }))
    }

    /// `SCAN` over the slots `node` holds, with the cursor layout of [`Client::command`]'s
    /// `SCAN` (slot in the high bits).
    fn scan_at(&self, node: NodeId, scan: &Scan) -> Reply {
        let Some(n) = self.registry.node(node) else {
            return Reply::Array(vec![Reply::bulk("0"), Reply::Array(vec![])]);
        };
        let held = n.held_slots();
        let (mut slot, mut pos) = (scan.slot, scan.pos);
        let (mut keys, mut visited) = (Vec::new(), 0);
        while slot < SLOTS && visited < scan.count {
            // Skip to the next slot this node holds.
            match held.iter().find(|&&s| usize::from(s) >= slot) {
                Some(&s) if usize::from(s) > slot => (slot, pos) = (usize::from(s), 0),
                Some(_) => {}
                None => {
                    slot = SLOTS;
                    break;
                }
            }
            let want = scan.count - visited;
            let step =
                n.read(slot, usize::MAX, |t, now| scan.scan_slot(&[t], now, pos, want, &mut keys));
            match step {
                Some((Some(next), taken)) => {
                    visited += taken;
                    pos = next;
                }
                Some((None, taken)) => {
                    visited += taken;
                    (slot, pos) = (slot + 1, 0);
                }
                None => (slot, pos) = (slot + 1, 0),
            }
        }
        let cursor = if slot >= SLOTS { 0 } else { Scan::cursor(slot, pos) };
        Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(keys)])
    }

    /// `RANDOMKEY` on `node`: a live key of a random slot it holds that has keys, None if it
    /// holds no key.
    ///
    /// The node keeps a mark per slot with keys, so a store whose keys share a few hash tags
    /// does not lock thousands of empty slots; the key is one of a sample of the slot's table
    /// (O(1) in the table's size).
    pub(crate) fn random_key_at(&self, node: NodeId) -> Option<Bytes> {
        self.registry.node(node)?.find_with_keys(random_live_key)
    }

    /// `CLUSTER FAILOVER [FORCE|TAKEOVER]` sent to `node`.
    pub(crate) fn failover_at(
        &self,
        node: NodeId,
        mode: crate::config::FailoverMode,
    ) -> Result<(), Error> {
        self.registry.failover(node, mode)
    }
}

/// A replica refusing a write. The server answers Redis's `READONLY` error before this is
/// reached; in process the text says the same after `ERR`.
fn read_only() -> Error {
    Error::msg("You can't write against a read only replica.")
}

/// One command of the table as `COMMAND` describes it.
pub(crate) struct CommandDoc {
    /// Lowercase name.
    pub(crate) name: &'static str,
    /// Redis arity (negative: at least).
    pub(crate) arity: i32,
    /// Redis's flags, as `COMMAND` lists them.
    pub(crate) flags: Vec<&'static str>,
    /// Legacy key positions `(first, last, step)`, `(0, 0, 0)` without keys; None when
    /// computed from the arguments (`movablekeys`).
    pub(crate) keys: Option<(usize, isize, usize)>,
}

/// Every command of the table, for `COMMAND`.
pub(crate) fn command_docs() -> Vec<CommandDoc> {
    crate::command::specs()
        .map(|spec| {
            let mut flags = match spec.handler {
                Handler::Read(_) => vec!["readonly"],
                Handler::Write(_) if spec.grows => vec!["write", "denyoom"],
                Handler::Write(_) => vec!["write"],
                Handler::Blocking(..) => vec!["write", "blocking"],
                Handler::Keyless(Keyless::Ping | Keyless::Echo) => vec!["fast", "stale"],
                Handler::Keyless(Keyless::FlushAll) => vec!["write"],
                Handler::Keyless(Keyless::DbSize | Keyless::Keys | Keyless::Scan) => vec!["readonly"],
                Handler::Keyless(Keyless::Migrate) => vec!["write"],
                Handler::Keyless(_) => vec!["loading", "stale"],
            };
            let keys = match spec.key_range() {
                Some((0, _, _)) => Some((0, 0, 0)),
                other => other,
            };
            if keys.is_none() {
                flags.push("movablekeys");
            }
            CommandDoc { name: spec.name, arity: spec.arity(), flags, keys }
        })
        .collect()
}

/// `COMMAND GETKEYS`: the keys of a command given by its words.
///
/// # Errors
/// Redis's texts for an unknown command, a wrong argument count, no keys.
pub(crate) fn command_keys<'a>(args: &[&'a [u8]]) -> Result<Vec<&'a [u8]>, Error> {
    let spec = crate::command::lookup(args[0]).ok_or_else(|| Error::msg("Invalid command specified"))?;
    if spec.check_arity(args.len()).is_err() {
        return Err(Error::msg("Invalid number of arguments specified for command"));
    }
    if matches!(spec.handler, Handler::Keyless(_)) {
        return Err(Error::msg("The command has no key arguments"));
    }
    let keys = spec.keys(args)?;
    if keys.is_empty() {
        return Err(Error::msg("The command has no key arguments"));
    }
    Ok(keys)
}

/// True for commands that may block the caller (`BLPOP` and friends): the server runs them
/// off the connection's task so the runtime never blocks.
///
/// The server asks this of every request, and a look-up in the command table costs about 160
/// instructions; every blocking command's name starts with `b` or `x` (`BLPOP`, `BZMPOP`,
/// `XREAD`, ...: a test holds the table to it), so the others are answered by their first
/// letter.
pub(crate) fn is_blocking_command(name: &[u8]) -> bool {
    matches!(name.first(), Some(b'b' | b'x' | b'B' | b'X'))
        && crate::command::lookup(name).is_some_and(|s| matches!(s.handler, Handler::Blocking(..)))
}

/// A blocking command started without blocking the caller's thread.
#[cfg(feature = "server")]
pub(crate) enum BlockStart {
    /// It ran at once (or failed before waiting).
    Done(Result<Reply, Error>),
    /// It waits: its reply arrives on `rx`, after which `wake` (given to
    /// [`Client::block_async`]) is called; `timeout` None waits forever.
    Waiting {
        slot: u16,
        id: u64,
        rx: crossbeam_channel::Receiver<Result<Reply, Error>>,
        timeout: Option<Duration>,
    },
}

#[cfg(feature = "server")]
impl Client {
    /// Starts a blocking command (`BLPOP` ...) as [`Client::command`] would run it, but
    /// instead of parking the thread when it must wait, hands back where its reply will
    /// arrive; `wake` is called when it does. The caller owns the timeout: when it passes,
    /// [`Client::block_cancel`] takes the waiter off its queue.
    pub(crate) fn block_async(&self, args: &[&[u8]], wake: crate::node::Wake) -> BlockStart {
        let Some((_, spec)) = crate::command::lookup_id(args[0]) else {
            return BlockStart::Done(self.command(args));
        };
        let Handler::Blocking(f, timeout) = spec.handler else {
            return BlockStart::Done(self.command(args));
        };
        let start = || -> Result<BlockStart, Error> {
            spec.check_arity(args.len())?;
            let slot = spec.slot(args)?.ok_or_else(|| Error::arity(spec.name))?;
            if let Some((node, _)) = self.pinned {
                self.replica_gate(node, spec, slot)?;
            }
            let serve = super::serve_blocked(spec, f, timeout, args);
            let timeout = timeout.parse(args)?;
            let keys = spec.keys(args)?.into_iter().map(Box::from).collect();
            let (id, outcome) = self.learn(self.registry.block(
                slot,
                keys,
                self.via(slot),
                serve,
                spec.grows,
                Some(wake),
            ))?;
            Ok(match outcome {
                crate::node::Blocking::Done(r) => BlockStart::Done(r),
                crate::node::Blocking::Waiting(rx) => BlockStart::Waiting { slot, id, rx, timeout },
            })
        };
        start().unwrap_or_else(|e| BlockStart::Done(Err(e)))
    }

    /// Takes a waiter of [`Client::block_async`] off its queue; false if it was served
    /// meanwhile (its reply is on its channel) or is moving with its slot.
    pub(crate) fn block_cancel(&self, slot: u16, id: u64) -> bool {
        self.registry.cancel_block(slot, id)
    }
}

/// A live key of `t` at random, and whether an expired key was met on the way: one of the
/// live keys of a sample of `SAMPLE` stored keys at a random place, as eviction samples
/// (Redis's `RANDOMKEY` also picks among a few sampled keys); only when all of them have
/// expired, one of all the table's live keys.
fn random_live_key(t: &Table, now: &Now<'_>) -> (Option<Bytes>, bool) {
    use crate::rng::random_below;
    const SAMPLE: usize = 8;
    let mut sample = [None; SAMPLE];
    let seen = t.sample_from(crate::keyspace::memory::random(), &mut sample);
    let live = || sample[..seen].iter().flatten().filter(|s| Table::is_live(s.entry(), now));
    let n = live().count();
    let expired = n < seen;
    if n > 0 {
        return (live().nth(random_below(n)).map(|s| Bytes::copy_from(s.key())), expired);
    }
    // One pass, each live key kept with chance 1/(live keys so far): a uniform pick.
    let mut so_far = 0;
    let mut pick = None;
    for (k, _) in t.iter().filter(|(_, e)| Table::is_live(e, now)) {
        so_far += 1;
        if random_below(so_far) == 0 {
            pick = Some(k);
        }
    }
    (pick.map(Bytes::copy_from), expired)
}

#[cfg(test)]
mod tests {
    use crate::{key_slot, Clock, Cluster};
    use std::collections::HashSet;
    use std::time::Duration;

    /// `is_blocking_command` answers by the first letter before it looks a command up: it
    /// must agree with the table on every command, in any case.
    #[test]
    fn blocking_commands_are_told_apart_by_their_table_entry() {
        let mut blocking = 0;
        for spec in crate::command::specs() {
            let want = matches!(spec.handler, super::Handler::Blocking(..));
            blocking += usize::from(want);
            for name in [spec.name.to_string(), spec.name.to_ascii_uppercase()] {
                assert_eq!(super::is_blocking_command(name.as_bytes()), want, "{name}");
            }
        }
        assert_eq!(
            blocking, 10,
            "BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN/MAX, BZMPOP, XREAD(GROUP)"
        );
    }

    /// `RANDOMKEY` on a node answers live keys it holds: keys of each filled slot over repeated
    /// calls (one slot with 5,000 keys under one tag, one with a single key), many different
    /// keys of the big one, and None when it holds no key.
    #[test]
    fn random_key_is_a_live_key_of_the_node() {
        let c = Cluster::builder().primaries(1).build().unwrap();
        let (client, node) = (c.client(), c.primaries()[0]);
        assert_eq!(client.random_key_at(node), None);
        // Slots 5,000 or more apart, so each is the first filled one after a third of the
        // random starting slots or more.
        let (big, small) = ("{one}", "hello");
        let gap = (i32::from(key_slot(big)) - i32::from(key_slot(small))).unsigned_abs();
        assert!((5000..11384).contains(&gap), "slots {} and {}", key_slot(big), key_slot(small));
        for i in 0..5000 {
            client.set(format!("{big}:{i}"), "v").unwrap();
        }
        client.set(small, "v").unwrap();
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let k = client.random_key_at(node).expect("a key");
            assert_eq!(client.exists(&[&k[..]]).unwrap(), 1, "{k:?} is stored");
            seen.insert(k.to_vec());
        }
        assert!(seen.contains(small.as_bytes()), "the single key's slot is reached");
        assert!(seen.len() > 500, "the big slot gives many keys: {}", seen.len());
    }

    /// A table whose sampled keys have all expired still yields its one live key.
    #[test]
    fn random_key_skips_expired_keys() {
        let clock = Clock::manual(1_700_000_000_000);
        let c = Cluster::builder().primaries(1).clock(clock.clone()).build().unwrap();
        let (client, node) = (c.client(), c.primaries()[0]);
        for i in 0..200 {
            client.command(&["SET", &format!("{{t}}:{i}"), "v", "PX", "1000"]).unwrap();
        }
        client.set("{t}:kept", "v").unwrap();
        clock.advance(Duration::from_secs(2));
        for _ in 0..50 {
            assert_eq!(client.random_key_at(node).as_deref(), Some(&b"{t}:kept"[..]));
        }
        // The expired keys met were deleted, as Redis's `RANDOMKEY` deletes those it picks.
        assert_eq!(client.dbsize(), 1);
        assert_eq!(client.stats().total.expired, 200);
        client.del(&["{t}:kept"]).unwrap();
        assert_eq!(client.random_key_at(node), None);
    }
}
