//! The client (level 4): routes commands by slot, runs keyless commands across the store, and
//! offers typed methods for Rust callers (strings and keys here, each data type in its own
//! file).

mod bitmaps;
mod geo;
mod hashes;
mod hyperloglog;
mod info;
mod lists;
mod pinned;
mod pubsub;
mod session;
mod sets;
mod setslot;
mod streams;
mod transaction;
mod zsets;

pub use info::ClusterStats;
#[cfg(feature = "server")]
pub(crate) use pinned::{command_docs, command_keys, is_blocking_command, BlockStart};
pub use pubsub::{
    IntoIter as SubscriptionIntoIter, Iter as SubscriptionIter, PubSubStats, Subscription,
};
pub use session::Session;
pub use transaction::Transaction;

use crate::bytes::Bytes;
use crate::command::cluster::{self as cluster_cmd, ClusterCmd};
use crate::command::keys::{self, Scan};
use crate::command::strings::{self, Expiry, SetOptions};
use crate::command::{lookup_id, server, unknown_command, BlockFn, Handler, Keyless, Spec, TimeoutArg};
use crate::config::ReadFrom;
use crate::error::{ClusterDownReason, Error};
use crate::glob::Glob;
use crate::ids::NodeId;
use crate::keyspace::{scan_hash, Db, Now, Str, Table, Value, View};
use crate::node::{Blocking, Count, Registry, Serve, Via, WaitsFor};
use crate::reply::Reply;
use crate::slot::{key_slot, SLOTS};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs commands against a [`Cluster`](crate::Cluster).
///
/// Two faces over one semantics: [`Client::command`] takes Redis command words and returns a
/// [`Reply`]; typed methods ([`get`](Client::get), [`set`](Client::set),
/// [`incr_by`](Client::incr_by), ...) skip the parsing. A command runs on the calling thread
/// under its slot's lock; no guard is ever handed out, so no call can deadlock another.
///
/// `Client` is `Clone + Send + Sync`; cloning is a reference-count bump.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// let client = slotstore::Cluster::builder().primaries(3).build()?.client();
/// client.set("k", "v")?;
/// assert_eq!(client.get("k")?.as_deref(), Some(&b"v"[..]));
/// assert_eq!(client.command(&["APPEND", "k", "w"])?.as_int(), Some(2));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    registry: Arc<Registry>,
    /// A raw client's own slot map (node ids by slot): it sends each command where the map
    /// says and hands redirects back instead of following them. None: follow redirects.
    raw: Option<Arc<[AtomicU32]>>,
    /// Multi-key commands may span slots (atomically, under every slot's lock).
    allow_cross_slot: bool,
    /// Where reads go.
    read_from: ReadFrom,
    /// Spreads reads over replicas (shared by clones).
    turn: Arc<AtomicUsize>,
    /// Set by [`Client::command_at`]: every keyed command goes to this node (asked or not).
    pinned: Option<(NodeId, bool)>,
}

impl std::fmt::Debug for Client {
    /// What the client is pointed at, not the data: the topology epoch it sees, the node
    /// counts, and how it routes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.registry.topology();
        f.debug_struct("Client")
            .field("epoch", &t.epoch())
            .field("primaries", &t.primaries().len())
            .field("nodes", &t.nodes().len())
            .field("follow_redirects", &self.raw.is_none())
            .field("read_from", &self.read_from)
            .field("pinned", &self.pinned.map(|(n, _)| n))
            .finish()
    }
}

/// The command-table index of a command, known at compile time (for counters).
macro_rules! cmd_id {
    ($name:literal) => {{
        const ID: usize = crate::command::const_id($name);
        ID
    }};
}

/// Runs one parsed command on tables already locked (a transaction, a cross-slot command).
/// Blocking commands run once without blocking, as inside Redis's `MULTI`.
pub(crate) fn run_locked(
    spec: &Spec,
    db: &mut Db<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
) -> Result<Reply, Error> {
    match spec.handler {
        Handler::Read(f) => f(&db.view(), now, a),
        Handler::Write(f) => f(db, now, a),
        Handler::Blocking(f, timeout) => {
            timeout.parse(a)?;
            Ok(f(db, now, a)?.unwrap_or(Reply::Nil))
        }
        Handler::Keyless(Keyless::Ping) => server::ping(a),
        Handler::Keyless(Keyless::Echo) => server::echo(a),
        Handler::Keyless(Keyless::Unwatch) => Ok(Reply::ok()),
        Handler::Keyless(_) => Err(Error::msg("Command not allowed inside a transaction")),
    }
}

/// What a blocked caller of command `spec` (run by `f`, its timeout at `timeout`) with words
/// `a` runs when a key it waits on is ready: the command again, over that key alone (Redis
/// serves a blocked caller from the key that became ready, whatever its other keys hold),
/// and the first time it finds nothing, a pin of what the wait is for (the stream reads' `$`).
pub(crate) fn serve_blocked(spec: &Spec, f: BlockFn, timeout: TimeoutArg, a: &[&[u8]]) -> Serve {
    let mut words: Vec<Box<[u8]>> = a.iter().map(|w| Box::from(*w)).collect();
    let mut pin = timeout.pin();
    let name = spec.name;
    let waits_for = match name {
        "bzpopmin" | "bzpopmax" | "bzmpop" => WaitsFor::ZSet,
        "xread" => WaitsFor::Stream,
        "xreadgroup" => WaitsFor::Group,
        _ => WaitsFor::List,
    };
    Serve {
        waits_for,
        run: Box::new(move |db, now, ready| {
            let all: Vec<&[u8]> = words.iter().map(|w| &**w).collect();
            let a = ready.and_then(|key| only_key(name, &all, key)).unwrap_or(all);
            let served = f(db, now, &a).transpose();
            if let (None, Some(p)) = (&served, pin.take()) {
                p(db, now, &mut words);
            }
            served
        }),
    }
}

/// The words of blocking command `name` with its keys narrowed to `key` (and, for the
/// stream reads, that key's ID); None if the command waits on one key anyway, or `key` is
/// not one of its keys.
fn only_key<'a>(name: &str, a: &[&'a [u8]], key: &'a [u8]) -> Option<Vec<&'a [u8]>> {
    match name {
        // BLPOP key [key ...] timeout
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let last = a.len().checked_sub(1)?;
            a.get(1..last)?.contains(&key).then(|| vec![a[0], key, a[last]])
        }
        // BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
        "blmpop" | "bzmpop" => {
            let n = crate::bytes::parse_i64(a.get(2)?).and_then(|n| usize::try_from(n).ok())?;
            let keys = a.get(3..3 + n)?;
            keys.contains(&key).then(|| [&a[..2], &[&b"1"[..], key][..], &a[3 + n..]].concat())
        }
        // XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...], and XREADGROUP's
        // GROUP group consumer and NOACK before STREAMS.
        "xread" | "xreadgroup" => {
            let mut i = 1;
            while !a.get(i)?.eq_ignore_ascii_case(b"streams") {
                i += match a[i].to_ascii_lowercase().as_slice() {
                    b"count" | b"block" => 2,
                    b"group" => 3,
                    _ => 1,
                };
            }
            let rest = &a[i + 1..];
            let n = rest.len() / 2;
            let at = rest[..n].iter().position(|k| *k == key)?;
            Some([&a[..=i], &[key, rest[n + at]][..]].concat())
        }
        _ => None,
    }
}

impl Client {
    pub(crate) fn new(registry: Arc<Registry>, allow_cross_slot: bool) -> Client {
        Client {
            registry,
            raw: None,
            allow_cross_slot,
            read_from: ReadFrom::Primary,
            turn: Arc::default(),
            pinned: None,
        }
    }

    /// This client with reads going where `read_from` says; writes always go to the
    /// primary. **Reads from replicas may be stale**: a replica applies its primary's stream
    /// asynchronously, so it may miss recent writes, this client's own included (call
    /// [`Client::wait`] after a write to be sure the replicas have it).
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{Cluster, ReadFrom};
    /// use std::time::Duration;
    /// let cluster = Cluster::builder().primaries(1).replicas(1).build()?;
    /// let client = cluster.client();
    /// client.set("k", "v")?;
    /// client.wait(1, Duration::from_secs(1))?;
    /// let reader = client.clone().read_from(ReadFrom::Replica);
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn read_from(mut self, read_from: ReadFrom) -> Client {
        self.read_from = read_from;
        self
    }

    /// This client with redirects followed (`true`, the default: `ASK`, `MOVED` and
    /// `TRYAGAIN` are handled inside, and the caller only ever sees the command's answer) or
    /// handed back (`false`, a raw client): it keeps its own slot map, taken now, sends each
    /// command where the map says, updates the map on `MOVED` as a Redis Cluster client
    /// does, and returns every `MOVED`, `ASK` and `TRYAGAIN` as an error, so a test can
    /// watch what a client of a real cluster would see during a migration.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{key_slot, Cluster, Error, MigrationMode};
    /// let cluster = Cluster::builder().primaries(2).build()?;
    /// let raw = cluster.client().follow_redirects(false);
    /// let slot = key_slot("k");
    /// let to = cluster.primaries().into_iter().find(|p| Some(*p) != cluster.slot_owner(slot)).unwrap();
    /// let mut m = cluster.begin_migration(slot, to, MigrationMode::KeyByKey)?;
    /// // A missing key on a migrating slot is asked for on the target.
    /// assert!(matches!(raw.get("k"), Err(Error::Ask { node, .. }) if node == to));
    /// m.finish()?;
    /// // The map still names the old owner: one MOVED, then the map knows.
    /// assert!(matches!(raw.get("k"), Err(Error::Moved { node, .. }) if node == to));
    /// assert_eq!(raw.get("k")?, None);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn follow_redirects(mut self, follow: bool) -> Client {
        self.raw = (!follow)
            .then(|| (0..SLOTS as u16).map(|s| AtomicU32::new(self.registry.route_id(s))).collect());
        self
    }

    /// Runs one command on `node`, as a connection to that node would: `asking` sends
    /// `ASKING` first. Redirects come back as errors (`MOVED` if `node` does not serve the
    /// slot, `ASK`/`TRYAGAIN` by the migration rules). Keyless commands run as
    /// [`Client::command`] runs them.
    ///
    /// # Errors
    /// As [`Client::command`], plus the redirects; `ERR Unknown node`.
    pub fn command_at<A: AsRef<[u8]>>(
        &self,
        node: NodeId,
        asking: bool,
        args: &[A],
    ) -> Result<Reply, Error> {
        let mut pinned = self.clone();
        pinned.pinned = Some((node, asking));
        pinned.command(args)
    }

    /// True if this client's multi-key commands may span slots (the cluster was built with
    /// [`allow_cross_slot`](crate::ClusterBuilder::allow_cross_slot)).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn allows_cross_slot(&self) -> bool {
        self.allow_cross_slot
    }

    /// Where this client's reads go.
    pub fn read_mode(&self) -> ReadFrom {
        self.read_from
    }

    /// A read on a replica, as `read_from` says (the cold path of every read).
    #[cold]
    #[inline(never)]
    fn read_replica<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        cmd: usize,
        keys: &[K],
        f: impl FnOnce(&crate::keyspace::Table, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        self.registry.read_from(slot, cmd, keys, self.read_from, turn, f)
    }

    /// `WAIT numreplicas timeout`: waits until `replicas` replicas have applied the last
    /// write made on the calling thread (a thread is this library's connection), or until
    /// `timeout` passes (zero: wait forever), and answers how many have. With no replicated
    /// write yet on this thread, answers 0.
    ///
    /// As in Redis, this is not strong consistency: it makes a write survive the loss of its
    /// primary when the promoted replica is one that acknowledged it (the failure detector
    /// promotes the replica with the highest applied offset, which always is one).
    ///
    /// # Errors
    /// None today; the `Result` leaves room for a cluster-down answer.
    pub fn wait(&self, replicas: usize, timeout: Duration) -> Result<usize, Error> {
        Ok(self.registry.wait(replicas, (!timeout.is_zero()).then_some(timeout)))
    }

    /// Runs one command given as Redis words, e.g. `["SET", "k", "v", "PX", "100"]`.
    ///
    /// # Errors
    /// Whatever Redis would answer: `ERR` for unknown commands, wrong arity, syntax and
    /// non-integers; `WRONGTYPE`; `CROSSSLOT` when the keys span slots (checked before
    /// anything runs; with [`allow_cross_slot`](crate::ClusterBuilder::allow_cross_slot) the
    /// command runs atomically across them instead); `CLUSTERDOWN` when a slot is not served.
    /// A failed command changes nothing.
    pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply, Error> {
        // The words as byte slices: on the stack up to eight of them (nearly every command),
        // so running a command by name allocates nothing for them.
        let mut small: [&[u8]; 8] = [&[]; 8];
        let owned: Vec<&[u8]>;
        let args: &[&[u8]] = if args.len() <= small.len() {
            small.iter_mut().zip(args).for_each(|(s, a)| *s = a.as_ref());
            &small[..args.len()]
        } else {
            owned = args.iter().map(AsRef::as_ref).collect();
            &owned
        };
        let Some((id, spec)) = args.first().and_then(|name| lookup_id(name)) else {
            return Err(unknown_command(args));
        };
        spec.check_arity(args.len())?;
        if let Handler::Keyless(k) = spec.handler {
            if let Some(r) = self.pinned.and_then(|(node, _)| self.keyless_at(node, k, args)) {
                return r;
            }
            return self.keyless(k, args);
        }
        let slot = match spec.slot(args) {
            Ok(Some(slot)) => slot,
            // A keyed command always has a key once its arity checked out.
            Ok(None) => return Err(Error::arity(spec.name)),
            Err(Error::CrossSlot)
                if self.allow_cross_slot && !matches!(spec.handler, Handler::Blocking(..)) =>
            {
                let slots = spec.slots(args)?;
                let keys = spec.keys(args)?;
                return self.write_many(&slots, &keys, |db, now| run_locked(spec, db, now, args))?;
            }
            Err(e) => return Err(e),
        };
        if let Some((node, _)) = self.pinned {
            self.replica_gate(node, spec, slot)?;
        }
        match spec.handler {
            Handler::Read(f) => {
                let keys = spec.key_words(args)?;
                self.read_cmd(slot, id, &keys[..], |v, now| f(v, now, args))?
            }
            Handler::Write(f) => {
                let keys = spec.key_words(args)?;
                self.write_cmd(slot, id, spec.grows, &keys[..], |db, now| f(db, now, args))?
            }
            Handler::Blocking(f, timeout) => self.blocking(slot, spec, f, timeout, args),
            Handler::Keyless(_) => unreachable!("handled above"),
        }
    }

    /// The slots of `keys`, ascending without repeats; `CROSSSLOT` if there are several and
    /// this cluster does not allow cross-slot commands.
    fn slots_of<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<u16>, Error> {
        let mut slots: Vec<u16> = keys.iter().map(|k| key_slot(k.as_ref())).collect();
        slots.sort_unstable();
        slots.dedup();
        if slots.len() > 1 && !self.allow_cross_slot {
            return Err(Error::CrossSlot);
        }
        Ok(slots)
    }

    /// Runs `f` on the tables of `keys`: one slot's lock, or every slot's lock in cross-slot
    /// mode.
    fn write_keys<K: AsRef<[u8]>, R>(
        &self,
        keys: &[K],
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<Option<R>, Error> {
        self.write_keys_as(keys, true, f)
    }

    /// [`Client::write_keys`], saying whether the write may grow memory.
    fn write_keys_as<K: AsRef<[u8]>, R>(
        &self,
        keys: &[K],
        grows: bool,
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<Option<R>, Error> {
        match self.slots_of(keys)?.as_slice() {
            [] => Ok(None),
            [slot] if grows => self.write(*slot, keys, f).map(Some),
            [slot] => self.write_shrink(*slot, keys, f).map(Some),
            slots => self.write_many(slots, keys, f).map(Some),
        }
    }

    /// Runs a blocking command: at once if it can be served, else waits until a write on
    /// another thread serves it or the timeout passes (then `Nil`, as Redis's null reply).
    fn blocking(
        &self,
        slot: u16,
        spec: &Spec,
        f: BlockFn,
        timeout: TimeoutArg,
        a: &[&[u8]],
    ) -> Result<Reply, Error> {
        let timeout_arg = timeout;
        let timeout = timeout.parse(a)?;
        if timeout == Some(Duration::ZERO) {
            // Never waits (XREAD without BLOCK): one try, as a plain write.
            let keys = spec.keys(a)?;
            let write = |db: &mut Db<'_>, now: &Now<'_>| f(db, now, a).map(|r| r.unwrap_or(Reply::Nil));
            return self.write_cmd(slot, usize::MAX, spec.grows, &keys, write)?;
        }
        let keys = spec.keys(a)?.into_iter().map(Box::from).collect();
        let serve = serve_blocked(spec, f, timeout_arg, a);
        let (id, outcome) =
            self.learn(self.registry.block(slot, keys, self.via(slot), serve, spec.grows, None))?;
        let rx = match outcome {
            Blocking::Done(reply) => return reply,
            Blocking::Waiting(rx) => rx,
        };
        let got = match timeout {
            Some(d) => rx.recv_timeout(d).map_err(|e| e.is_disconnected()),
            None => rx.recv().map_err(|_| true),
        };
        let gone = || Err(Error::ClusterDown(ClusterDownReason::Down));
        match got {
            Ok(reply) => reply,
            // The node holding the slot went away with the caller's queue.
            Err(true) => gone(),
            Err(false) => loop {
                // A reply that raced the timeout is taken, not cancelled.
                if let Ok(reply) = rx.try_recv() {
                    return reply;
                }
                if self.registry.cancel_block(slot, id) {
                    return Ok(Reply::Nil);
                }
                // Not found: served while the timeout passed (the reply is on its way), or
                // moving with a migration's handover (found on the next look).
                match rx.recv_timeout(Duration::from_millis(1)) {
                    Ok(reply) => return reply,
                    Err(e) if e.is_disconnected() => return gone(),
                    Err(_) => {}
                }
            },
        }
    }

    fn keyless(&self, k: Keyless, a: &[&[u8]]) -> Result<Reply, Error> {
        match k {
            Keyless::Ping => server::ping(a),
            Keyless::Echo => server::echo(a),
            Keyless::DbSize => Ok(Reply::Int(self.dbsize() as i64)),
            Keyless::FlushAll => {
                keys::parse_flush(a)?;
                self.flush_all();
                Ok(Reply::ok())
            }
            Keyless::Scan => self.scan(&Scan::parse(a)?),
            Keyless::Keys => Ok(Reply::Array(self.keys_matching(&Glob::new(a[1])))),
            Keyless::Cluster => self.cluster_command(a),
            Keyless::Unwatch => Ok(Reply::ok()),
            Keyless::Info => self.info(a),
            Keyless::Config => self.config(a),
            Keyless::Migrate => self.migrate(&cluster_cmd::parse_migrate(a)?),
            Keyless::Wait => {
                let (n, timeout) = server::parse_wait(a)?;
                Ok(Reply::Int(self.registry.wait(n, timeout) as i64))
            }
            Keyless::Publish | Keyless::SPublish | Keyless::PubSub | Keyless::NeedsSubscriber => {
                self.pubsub_command(k, a)
            }
            Keyless::NeedsSession => Err(Error::Command(format!(
                "{} needs a session: run it through Client::session()",
                String::from_utf8_lossy(a[0]).to_ascii_uppercase()
            ))),
        }
    }

    fn cluster_command(&self, a: &[&[u8]]) -> Result<Reply, Error> {
        let topology = self.registry.topology();
        Ok(match cluster_cmd::parse(a)? {
            ClusterCmd::KeySlot(s) => Reply::Int(s.into()),
            ClusterCmd::CountKeysInSlot(s) => Reply::Int(self.count_keys_in_slot(s) as i64),
            ClusterCmd::GetKeysInSlot(s, n) => {
                Reply::Array(self.keys_in_slot(s, n).into_iter().map(Reply::Bulk).collect())
            }
            ClusterCmd::Shards => cluster_cmd::shards(&topology, |id| self.registry.offset_of(id)),
            ClusterCmd::Slots => cluster_cmd::slots(&topology),
            ClusterCmd::Nodes => cluster_cmd::nodes_as(&topology, self.pinned.map(|(me, _)| me)),
            ClusterCmd::Info => cluster_cmd::info(&topology, cluster_cmd::state_ok(&topology)),
            ClusterCmd::SetSlot(slot, action) => self.setslot(slot, action)?,
        })
    }

    fn scan(&self, scan: &Scan) -> Result<Reply, Error> {
        let (mut slot, mut pos) = (scan.slot, scan.pos);
        let mut keys = Vec::new();
        let mut visited = 0;
        while slot < SLOTS && visited < scan.count {
            let want = scan.count - visited;
            let step = self
                .registry
                .read_slot(slot as u16, |t, now| scan.scan_slot(t, now, pos, want, &mut keys));
            match step {
                Ok((Some(next), taken)) => {
                    visited += taken;
                    pos = next;
                }
                Ok((None, taken)) => {
                    visited += taken;
                    (slot, pos) = (slot + 1, 0);
                }
                Err(_) => (slot, pos) = (slot + 1, 0),
            }
        }
        let cursor = Scan::cursor(slot, pos);
        Ok(Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(keys)]))
    }

    // ----- keyspace-wide operations -----

    /// Keys stored on all primaries together (`DBSIZE`), expired keys not yet deleted
    /// included, as Redis counts them.
    pub fn dbsize(&self) -> usize {
        self.registry.primaries().iter().map(|n| n.key_count()).sum()
    }

    /// Deletes every key on every primary (`FLUSHALL`). Slot by slot: a concurrent writer
    /// may leave keys in slots already flushed.
    pub fn flush_all(&self) {
        for n in self.registry.primaries() {
            n.flush();
        }
    }

    fn keys_matching(&self, pattern: &Glob) -> Vec<Reply> {
        let mut out = Vec::new();
        // Both sides of a slot in a key-by-key migration, locked together: each key once.
        for slot in 0..SLOTS as u16 {
            let _ = self.registry.read_slot(slot, |tables, now| {
                tables.iter().for_each(|t| keys::keys_matching(t, now, pattern, &mut out));
            });
        }
        out
    }

    /// Keys stored in `slot` (`CLUSTER COUNTKEYSINSLOT`); 0 for a slot not served.
    pub fn count_keys_in_slot(&self, slot: u16) -> usize {
        self.slot_table(slot, |t| t.len()).unwrap_or(0)
    }

    /// Up to `count` keys of `slot` (`CLUSTER GETKEYSINSLOT`).
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> Vec<Bytes> {
        self.slot_table(slot, |t| t.iter().take(count).map(|(k, _)| Bytes::copy_from(k)).collect())
            .unwrap_or_default()
    }

    /// Runs `f` on the table of `slot` where it is served; for a client pinned to a node
    /// ([`Client::command_at`]), on that node's own table, as Redis answers these commands
    /// from the node they are sent to (a migration's target counts its imported keys).
    fn slot_table<R>(&self, slot: u16, f: impl FnOnce(&crate::keyspace::Table) -> R) -> Option<R> {
        match self.pinned {
            Some((node, _)) => {
                let none: &[&[u8]] = &[];
                self.registry.read_cmd(slot, usize::MAX, none, Via::Node(node, true), |t, _| f(t)).ok()
            }
            None => self.registry.read(slot, |t, _| f(t)).ok(),
        }
    }

    // ----- typed methods -----

    /// Where a keyed command on `slot` goes: the live route, redirects followed; or, for a
    /// raw client, the node its own slot map names.
    #[inline]
    fn via(&self, slot: u16) -> Via {
        if let Some((node, asking)) = self.pinned {
            return Via::Node(node, asking);
        }
        match &self.raw {
            None => Via::Follow,
            Some(map) => match map[usize::from(slot)].load(Ordering::Relaxed) {
                id if (id as usize) < crate::config::MAX_NODES => Via::Node(NodeId(id), false),
                _ => Via::Follow,
            },
        }
    }

    /// True if this client's reads follow the route to the primary (not a raw client, not
    /// pinned to a node, not reading from replicas): the ones [`Registry::read_stable`] serves.
    #[inline]
    fn direct(&self) -> bool {
        self.raw.is_none() && self.pinned.is_none() && self.read_from == ReadFrom::Primary
    }

    /// What a raw client learns from an answer: a `MOVED` updates its slot map, as a
    /// Redis Cluster client refreshes its map on `MOVED`.
    #[inline]
    fn learn<R>(&self, r: Result<R, Error>) -> Result<R, Error> {
        if let (Some(map), Err(Error::Moved { slot, node })) = (&self.raw, &r) {
            map[usize::from(*slot)].store(node.0, Ordering::Relaxed);
        }
        r
    }

    /// Runs `f` on the table of `slot` as a one-slot view, by the migration rules for `keys`.
    #[inline]
    fn read<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        keys: &[K],
        f: impl FnOnce(&View<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        self.read_cmd(slot, usize::MAX, keys, f)
    }

    /// [`Client::read`], counting command `cmd`.
    #[inline]
    fn read_cmd<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        cmd: usize,
        keys: &[K],
        f: impl FnOnce(&View<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        if self.read_from != ReadFrom::Primary && self.pinned.is_none() {
            return self.read_replica(slot, cmd, keys, |t, now| f(&View::One(t), now));
        }
        self.learn(
            self.registry.read_cmd(slot, cmd, keys, self.via(slot), |t, now| f(&View::One(t), now)),
        )
    }

    /// Runs `f` on the table of `slot` as a one-slot keyspace, by the migration rules for
    /// `keys`. The write may grow memory: under a budget it first makes room (or answers
    /// `OOM`).
    #[inline]
    fn write<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        keys: &[K],
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        self.write_cmd(slot, usize::MAX, true, keys, f)
    }

    /// A write that never grows memory (deletes, TTL changes, pops): runs even over budget.
    fn write_shrink<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        keys: &[K],
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        self.write_cmd(slot, usize::MAX, false, keys, f)
    }

    /// [`Client::write`], counting command `cmd`, growing memory only if `grows`.
    #[inline]
    fn write_cmd<K: AsRef<[u8]>, R>(
        &self,
        slot: u16,
        cmd: usize,
        grows: bool,
        keys: &[K],
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let via = self.via(slot);
        self.learn(
            self.registry.write_cmd(slot, cmd, grows, keys, via, |t, now| f(&mut Db::One(t), now)),
        )
    }

    /// Runs `f` with every slot of `slots` locked (cross-slot commands and transactions),
    /// by the migration rules for `keys`.
    fn write_many<K: AsRef<[u8]>, R>(
        &self,
        slots: &[u16],
        keys: &[K],
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        self.write_many_as(slots, keys, false, f)
    }

    /// [`Client::write_many`], `asking` as after an `ASKING`.
    fn write_many_as<K: AsRef<[u8]>, R>(
        &self,
        slots: &[u16],
        keys: &[K],
        asking: bool,
        f: impl FnOnce(&mut Db<'_>, &Now<'_>) -> R,
    ) -> Result<R, Error> {
        let follow = self.raw.is_none() && self.pinned.is_none();
        self.learn(self.registry.write_many(slots, keys, follow, asking, f))
    }

    /// `GET`: the string at `key`.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    #[inline]
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        if self.direct() {
            let hash = scan_hash(key);
            let read = |t: &Table, now: &Now<'_>| strings::string(t.get_hashed(key, hash, now));
            if let Some(r) = self.registry.read_stable(key_slot(key), cmd_id!("get"), hash, read) {
                return r;
            }
        }
        self.get_routed(key)
    }

    /// [`Client::get`] for a raw, pinned or replica-reading client, or a slot off the common
    /// path (moving, failing over): out of line, so what is left of `get` is the common path,
    /// small enough to stay tight where it is inlined (see `Registry::read_stable`).
    #[cold]
    #[inline(never)]
    fn get_routed(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        self.read_cmd(key_slot(key), cmd_id!("get"), &[key], |t, now| strings::get(t, now, key))?
    }

    /// `GET` without a copy: `f` of the string at `key`, read in place under the slot's read
    /// lock. What a borrowing map's `get` gives (a `dashmap` `Ref`), for callers that parse or
    /// compare the value and need no copy of it.
    ///
    /// `f` runs at most once, while the slot is locked for reading: keep it short, and do not
    /// call this client from it (a write to the same slot would wait for the lock `f` holds).
    ///
    /// ```
    /// let cluster = slotstore::Cluster::builder().primaries(3).build()?;
    /// let client = cluster.client();
    /// client.set("user:1", "ada")?;
    /// assert_eq!(client.get_with("user:1", |v| v.len())?, Some(3));
    /// assert_eq!(client.get_with("user:2", |v| v.len())?, None);
    /// # Ok::<(), slotstore::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Client::get`].
    #[inline]
    pub fn get_with<R>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, Error> {
        let key = key.as_ref();
        let f = std::cell::Cell::new(Some(f));
        if self.direct() {
            let hash = scan_hash(key);
            let read = |t: &Table, now: &Now<'_>| strings::string_with(t.get_hashed(key, hash, now), &f);
            if let Some(r) = self.registry.read_stable(key_slot(key), cmd_id!("get"), hash, read) {
                return r;
            }
        }
        self.get_with_routed(key, &f)
    }

    /// [`Client::get_with`] off the common path, out of line as [`Client::get_routed`] is.
    #[cold]
    #[inline(never)]
    fn get_with_routed<R>(
        &self,
        key: &[u8],
        f: &std::cell::Cell<Option<impl FnOnce(&[u8]) -> R>>,
    ) -> Result<Option<R>, Error> {
        self.read_cmd(key_slot(key), cmd_id!("get"), &[key], |t, now| strings::get_with(t, now, key, f))?
    }

    /// `SET`: stores `value` at `key`, replacing any value and TTL.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if the key's slot is not served.
    #[inline]
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let key = key.as_ref();
        // Copy the value before taking the lock, to keep the critical section short.
        let value = Value::Str(Str::new(value.as_ref()));
        let hash = scan_hash(key);
        let set = |t: &mut Table, now: &Now<'_>| {
            t.insert_hashed(key, hash, value, None);
            now.notify(crate::keyspace::events::STRING, "set", key);
        };
        let slot = key_slot(key);
        if self.direct() {
            return self.registry.write_key(slot, cmd_id!("set"), true, (key, hash), set);
        }
        self.set_routed(slot, key, set)
    }

    /// [`Client::set`] off the common path, out of line as [`Client::get_routed`] is.
    #[cold]
    #[inline(never)]
    fn set_routed(
        &self,
        slot: u16,
        key: &[u8],
        set: impl FnOnce(&mut Table, &Now<'_>),
    ) -> Result<(), Error> {
        self.learn(self.registry.write_cmd(slot, cmd_id!("set"), true, &[key], self.via(slot), set))
    }

    fn set_with(&self, key: &[u8], value: &[u8], o: SetOptions, cmd: &str) -> Result<bool, Error> {
        let value = Str::new(value);
        let (stored, _) =
            self.write(key_slot(key), &[key], |t, now| strings::set(t, now, key, value, &o, cmd))??;
        Ok(stored)
    }

    /// `SET key value PX ttl`: stores `value` with a time to live.
    ///
    /// # Errors
    /// `ERR invalid expire time in 'set' command` for a zero or overflowing `ttl`.
    pub fn set_ex(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<(), Error> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return Err(Error::invalid_expire("set"));
        }
        let o = SetOptions { expiry: Expiry::In(ms), ..SetOptions::default() };
        self.set_with(key.as_ref(), value.as_ref(), o, "set").map(drop)
    }

    /// `SET key value NX`: stores `value` only if `key` does not exist; true if stored.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if the key's slot is not served.
    pub fn set_nx(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool, Error> {
        let o = SetOptions { nx: true, ..SetOptions::default() };
        self.set_with(key.as_ref(), value.as_ref(), o, "set")
    }

    /// `GETDEL`: removes the string at `key` and returns it.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type.
    pub fn get_del(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        self.write_shrink(key_slot(key), &[key], |t, now| {
            let v = strings::get(t, now, key)?;
            if v.is_some() {
                t.remove(key);
                now.notify(crate::keyspace::events::GENERIC, "del", key);
            }
            Ok(v)
        })?
    }

    /// `INCRBY`: adds `delta` to the integer at `key` (0 if missing) and returns the result.
    ///
    /// # Errors
    /// `ERR value is not an integer or out of range` if the value is not an integer;
    /// `ERR increment or decrement would overflow`; `WRONGTYPE`.
    #[inline]
    pub fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| strings::incr_by(t, now, key, delta))?
    }

    /// `INCRBYFLOAT`: adds `delta` to the number at `key` and returns the result.
    ///
    /// # Errors
    /// `ERR value is not a valid float`; `ERR increment would produce NaN or Infinity`;
    /// `WRONGTYPE`.
    pub fn incr_by_float(&self, key: impl AsRef<[u8]>, delta: f64) -> Result<f64, Error> {
        let key = key.as_ref();
        let delta = crate::command::args::format_f64(delta);
        let text = self.write(key_slot(key), &[key], |t, now| {
            strings::incr_by_float(t, now, key, delta.as_bytes())
        })??;
        crate::command::long_double::LongDouble::parse(&text)
            .map(crate::command::long_double::LongDouble::to_f64)
            .ok_or_else(Error::not_float)
    }

    /// `APPEND`: appends `tail` to the string at `key`; returns the new length.
    ///
    /// # Errors
    /// `WRONGTYPE`; `ERR string exceeds maximum allowed size` past 512 MiB.
    pub fn append(&self, key: impl AsRef<[u8]>, tail: impl AsRef<[u8]>) -> Result<usize, Error> {
        let (key, tail) = (key.as_ref(), tail.as_ref());
        self.write(key_slot(key), &[key], |t, now| strings::append(t, now, key, tail))?
    }

    /// `DEL`: removes `keys`, which must share a slot (unless the cluster allows cross-slot
    /// commands); returns how many existed.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots (nothing is removed then).
    pub fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<usize, Error> {
        Ok(self.write_keys_as(keys, false, |t, now| keys::del(t, now, keys))?.unwrap_or(0))
    }

    /// `EXISTS`: how many of `keys` (sharing a slot) exist, repeats counted.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots.
    pub fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<usize, Error> {
        match self.slots_of(keys)?.as_slice() {
            [] => Ok(0),
            [slot] => self.read(*slot, keys, |t, now| keys::exists(t, now, keys)),
            slots => self.write_many(slots, keys, |t, now| keys::exists(&t.view(), now, keys)),
        }
    }

    /// `PEXPIRE`: sets a time to live on `key`; false if the key does not exist.
    ///
    /// # Errors
    /// `ERR invalid expire time in 'pexpire' command` if `ttl` overflows.
    pub fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool, Error> {
        let key = key.as_ref();
        let ms = i64::try_from(ttl.as_millis()).map_err(|_| Error::invalid_expire("pexpire"))?;
        self.write_shrink(key_slot(key), &[key], |t, now| {
            let at = ms.checked_add(now.ms() as i64).ok_or_else(|| Error::invalid_expire("pexpire"))?;
            Ok(keys::expire_at(t, now, key, at, keys::ExpireFlags::default()))
        })?
    }

    /// `PTTL`: the time `key` has left; None if it has no TTL or does not exist.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if the key's slot is not served.
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Option<Duration>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| {
            keys::pttl(t, now, key).ok().map(Duration::from_millis)
        })
    }

    /// `PERSIST`: removes the TTL of `key`; true if it had one.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if the key's slot is not served.
    pub fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        let key = key.as_ref();
        self.write_shrink(key_slot(key), &[key], |t, now| keys::persist(t, now, key))
    }

    /// `MSET`: stores every pair at once; all keys must share a slot.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots (nothing is stored then).
    pub fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<(), Error> {
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| k.as_ref()).collect();
        let pairs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        self.write_keys(&keys, |t, now| strings::mset(t, now, &pairs)).map(drop)
    }

    /// `MGET`: the strings at `keys` (sharing a slot), None where missing or not a string.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots.
    pub fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>, Error> {
        let mget =
            |t: &View<'_>, now: &Now<'_>| t.get_each(keys, now, |e| e.and_then(strings::string_or_none));
        match self.slots_of(keys)?.as_slice() {
            [] => Ok(Vec::new()),
            [slot] => self.read(*slot, keys, mget),
            slots => self.write_many(slots, keys, |t, now| mget(&t.view(), now)),
        }
    }

    // ----- non-atomic splits, as cluster clients do -----

    /// Positions of `keys` grouped by slot, in slot order.
    fn by_slot<K: AsRef<[u8]>>(keys: &[K]) -> Vec<(u16, Vec<usize>)> {
        let mut groups: std::collections::BTreeMap<u16, Vec<usize>> = std::collections::BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            groups.entry(key_slot(k.as_ref())).or_default().push(i);
        }
        groups.into_iter().collect()
    }

    /// `MGET` over keys in any slots, split into one `MGET` per slot as redis-rs and Lettuce
    /// split it, answers in the keys' order. **Not atomic**: each slot is read on its own, so
    /// a concurrent writer may be seen in one slot and not another. Use [`Client::mget`] (one
    /// slot) or a cross-slot cluster for an atomic read.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if a slot is not served (slots read before it are not undone).
    pub fn mget_nonatomic<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>, Error> {
        self.get_many(keys)
    }

    /// The strings at `keys`, in any slots, read as a batch: None where missing or not a
    /// string, as `MGET` answers. Every key is read under its slot's lock as [`Client::get`]
    /// reads it, but the batch goes through the lookup stage by stage (route every key, load
    /// every slot's cell, then every hash group, then every record), so on a keyspace larger
    /// than the CPU's caches the memory misses of its keys overlap instead of following one
    /// another: 16 keys cost a few single `GET`s, not 16 (see `benches/hot_path.rs`).
    ///
    /// **Not atomic** across slots, like [`Client::mget_nonatomic`] (which is this): a
    /// concurrent writer may be seen in one slot and not another.
    ///
    /// ```
    /// let cluster = slotstore::Cluster::builder().primaries(3).build()?;
    /// let client = cluster.client();
    /// client.set("a", "1")?;
    /// client.set("c", "3")?;
    /// let got = client.get_many(&["a", "b", "c"])?;
    /// assert_eq!(got, vec![Some("1".into()), None, Some("3".into())]);
    /// # Ok::<(), slotstore::Error>(())
    /// ```
    ///
    /// # Errors
    /// `CLUSTERDOWN` if a slot is not served (the keys read before it are not undone).
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>, Error> {
        // Redirect-driven callers (raw, pinned) and replica readers take the per-slot path,
        // where their routing rules live.
        if self.raw.is_some() || self.pinned.is_some() || self.read_from != ReadFrom::Primary {
            return self.mget_by_slot(keys);
        }
        let out = std::cell::RefCell::new(vec![None; keys.len()]);
        self.registry.read_many(
            keys,
            (cmd_id!("mget"), Count::PerSlot),
            None,
            |i, e| out.borrow_mut()[i] = e.and_then(strings::string_or_none),
            // What the batch hands back (a slot moving or failing over, a busy lock) is read
            // one key at a time, by the migration and failover rules of a single `GET`.
            |i| {
                let key = keys[i].as_ref();
                let v = self.read(key_slot(key), &[key], |t, now| {
                    t.get(key, now).and_then(strings::string_or_none)
                })?;
                out.borrow_mut()[i] = v;
                Ok(())
            },
        )?;
        Ok(out.into_inner())
    }

    /// Pipelined `GET`s (a server connection's run of them): one reply per key, each what
    /// [`Client::command`] answers for `GET key` on this client (the string, nil,
    /// `WRONGTYPE`, or for a pinned client the redirect), with the lookups batched as in
    /// [`Client::get_many`]. Each key counts as one `get`.
    #[cfg(feature = "server")]
    pub(crate) fn get_pipelined(&self, keys: &[&[u8]]) -> Vec<Result<Reply, Error>> {
        let one = |key: &[u8]| self.command(&[&b"get"[..], key]);
        // After `ASKING`, for a raw client or a replica reader the one-key path's rules apply.
        let asking = matches!(self.pinned, Some((_, true)));
        if asking
            || self.raw.is_some()
            || self.read_from != ReadFrom::Primary
            || !self.batch_keeps_order()
        {
            return keys.iter().map(|k| one(k)).collect();
        }
        let only = self.pinned.map(|(node, _)| node);
        let out = std::cell::RefCell::new((0..keys.len()).map(|_| Ok(Reply::Nil)).collect::<Vec<_>>());
        let served = self.registry.read_many(
            keys,
            (cmd_id!("get"), Count::PerKey),
            only,
            |i, e| {
                out.borrow_mut()[i] =
                    e.map(strings::as_string).transpose().map(|s| s.map(Str::to_bytes).into());
            },
            |i| {
                out.borrow_mut()[i] = one(keys[i]);
                Ok(())
            },
        );
        debug_assert!(served.is_ok(), "every key's own reply holds its error");
        out.into_inner()
    }

    /// True if pipelined requests served as a batch are seen as if run one by one: a batch
    /// runs its keys slot by slot, so with keyspace notifications on, the events of keys in
    /// different slots would leave in slot order instead of the requests' order.
    #[cfg(feature = "server")]
    fn batch_keeps_order(&self) -> bool {
        self.registry.budget.hub.notify_effective() == 0
    }

    /// True if pipelined writes may be served as a batch on this client: not after `ASKING`
    /// nor on a raw client (the one-key path's redirect rules apply), and not under a memory
    /// budget: a batch makes room once per slot of a run, and Redis checks the budget before
    /// every command (a pipeline past the budget gets `OOM` from the command that crosses
    /// it on).
    #[cfg(feature = "server")]
    fn may_batch_writes(&self) -> bool {
        !matches!(self.pinned, Some((_, true)))
            && self.raw.is_none()
            && self.registry.budget.limit().is_none()
            && self.batch_keeps_order()
    }

    /// Pipelined `SET key value`s (a server connection's run of them): one reply per pair,
    /// each what [`Client::command`] answers for `SET key value` on this client (`OK`, or
    /// for a pinned client the redirect), with the writes batched as in
    /// [`Client::set_many`] (when [`Client::may_batch_writes`]). Each pair counts as one
    /// `set`.
    #[cfg(feature = "server")]
    pub(crate) fn set_pipelined(&self, pairs: &[[&[u8]; 2]]) -> Vec<Result<Reply, Error>> {
        let one = |[key, value]: [&[u8]; 2]| self.command(&[&b"set"[..], key, value]);
        if !self.may_batch_writes() {
            return pairs.iter().map(|p| one(*p)).collect();
        }
        let only = self.pinned.map(|(node, _)| node);
        let keys: Vec<&[u8]> = pairs.iter().map(|[key, _]| *key).collect();
        // Values are copied before any lock is taken, as `set` copies them.
        let values: Vec<std::cell::Cell<Option<Value>>> =
            pairs.iter().map(|[_, v]| Some(Value::Str(Str::new(v))).into()).collect();
        let out = std::cell::RefCell::new((0..pairs.len()).map(|_| Ok(Reply::ok())).collect::<Vec<_>>());
        let served = self.registry.write_many_batched(
            &keys,
            (cmd_id!("set"), Count::PerKey),
            only,
            |i, t, now| {
                t.insert(keys[i], values[i].take().expect("one write per key"), None);
                now.notify(crate::keyspace::events::STRING, "set", keys[i]);
            },
            |i| {
                out.borrow_mut()[i] = one(pairs[i]);
                Ok(())
            },
        );
        debug_assert!(served.is_ok(), "every pair's own reply holds its error");
        out.into_inner()
    }

    /// Pipelined requests of one single-key writing command (a server connection's run of
    /// `INCR`s, `HSET`s, `LPUSH`es, ...; see `command::single_key_write`): one reply per
    /// request, each what [`Client::command`] answers for it on this client, with the writes
    /// batched as in [`Client::set_many`] (when [`Client::may_batch_writes`]). Each counts as
    /// one call of the command.
    #[cfg(feature = "server")]
    pub(crate) fn write_pipelined(&self, requests: &[&[&[u8]]]) -> Vec<Result<Reply, Error>> {
        let one = |words: &[&[u8]]| self.command(words);
        let one_by_one = || requests.iter().map(|r| one(r)).collect();
        if !self.may_batch_writes() {
            return one_by_one();
        }
        let Some((id, spec)) = requests.first().and_then(|r| crate::command::single_key_write(r)) else {
            return one_by_one();
        };
        let Handler::Write(f) = spec.handler else { return one_by_one() };
        // Every request must be that command with its one key (the caller checked).
        let mut keys: Vec<&[u8]> = Vec::with_capacity(requests.len());
        for r in requests {
            match spec.only_key(r) {
                Some(key) if r[0].eq_ignore_ascii_case(spec.name.as_bytes()) => keys.push(key),
                _ => return one_by_one(),
            }
        }
        let only = self.pinned.map(|(node, _)| node);
        let out =
            std::cell::RefCell::new((0..requests.len()).map(|_| Ok(Reply::Nil)).collect::<Vec<_>>());
        let served = self.registry.write_many_batched(
            &keys,
            (id, Count::PerKey),
            only,
            |i, t, now| out.borrow_mut()[i] = f(&mut Db::One(t), now, requests[i]),
            |i| {
                out.borrow_mut()[i] = one(requests[i]);
                Ok(())
            },
        );
        debug_assert!(served.is_ok(), "every request's own reply holds its error");
        out.into_inner()
    }

    /// `MGET` split by slot, one locked read per slot.
    fn mget_by_slot<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>, Error> {
        let mut out = vec![None; keys.len()];
        for (slot, idx) in Self::by_slot(keys) {
            let group: Vec<&[u8]> = idx.iter().map(|&i| keys[i].as_ref()).collect();
            self.read(slot, &group, |t, now| {
                for &i in &idx {
                    out[i] = t.get(keys[i].as_ref(), now).and_then(strings::string_or_none);
                }
            })?;
        }
        Ok(out)
    }

    /// `MSET` over keys in any slots, one `MSET` per slot. **Not atomic**: a reader may see
    /// some slots' values before others'.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if a slot is not served (slots written before it stay written).
    pub fn mset_nonatomic<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<(), Error> {
        self.set_many(pairs)
    }

    /// Stores every pair, in any slots, as a batch: each key as [`Client::set`] stores it
    /// (replacing any value and TTL), under its slot's lock, with the lookups staged as in
    /// [`Client::get_many`] so the memory misses of the batch overlap. A key given twice
    /// ends with its last value.
    ///
    /// **Not atomic** across slots, like [`Client::mset_nonatomic`] (which is this): a
    /// reader may see some slots' values before others'.
    ///
    /// ```
    /// let cluster = slotstore::Cluster::builder().primaries(3).build()?;
    /// let client = cluster.client();
    /// client.set_many(&[("a", "1"), ("b", "2")])?;
    /// assert_eq!(client.get_many(&["a", "b"])?, vec![Some("1".into()), Some("2".into())]);
    /// # Ok::<(), slotstore::Error>(())
    /// ```
    ///
    /// # Errors
    /// `CLUSTERDOWN` if a slot is not served; `OOM` when the memory budget is spent and the
    /// policy evicts nothing (the keys stored before stay stored).
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<(), Error> {
        if self.raw.is_some() || self.pinned.is_some() {
            return self.mset_by_slot(pairs);
        }
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| k.as_ref()).collect();
        // Values are copied before any lock is taken, as `set` copies them.
        let values: Vec<std::cell::Cell<Option<Value>>> =
            pairs.iter().map(|(_, v)| Some(Value::Str(Str::new(v.as_ref()))).into()).collect();
        let store = |t: &mut Table, now: &Now<'_>, i: usize| {
            t.insert(keys[i], values[i].take().expect("one write per key"), None);
            now.notify(crate::keyspace::events::STRING, "set", keys[i]);
        };
        self.registry.write_many_batched(
            &keys,
            (cmd_id!("mset"), Count::PerSlot),
            None,
            |i, t, now| store(t, now, i),
            // What the batch hands back is written one key at a time, by the rules of `SET`.
            |i| {
                self.write_cmd(key_slot(keys[i]), cmd_id!("set"), true, &[keys[i]], |t, now| {
                    store(t.table(keys[i]), now, i)
                })
            },
        )
    }

    /// `MSET` split by slot, one locked write per slot.
    fn mset_by_slot<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> Result<(), Error> {
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| k.as_ref()).collect();
        for (slot, idx) in Self::by_slot(&keys) {
            let group: Vec<(&[u8], &[u8])> =
                idx.iter().map(|&i| (keys[i], pairs[i].1.as_ref())).collect();
            let group_keys: Vec<&[u8]> = group.iter().map(|(k, _)| *k).collect();
            self.write(slot, &group_keys, |t, now| strings::mset(t, now, &group))?;
        }
        Ok(())
    }

    /// `DEL` over keys in any slots, one `DEL` per slot, counts summed. **Not atomic**.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if a slot is not served (slots deleted before it stay deleted).
    pub fn del_nonatomic<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<usize, Error> {
        let mut removed = 0;
        for (slot, idx) in Self::by_slot(keys) {
            let group: Vec<&[u8]> = idx.iter().map(|&i| keys[i].as_ref()).collect();
            removed += self.write_shrink(slot, &group, |t, now| keys::del(t, now, &group))?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::only_key;

    fn words(line: &str) -> Vec<&[u8]> {
        line.split(' ').map(str::as_bytes).collect()
    }

    fn narrowed(name: &str, line: &str, key: &str) -> Option<String> {
        let a = words(line);
        let key = a.iter().copied().find(|w| *w == key.as_bytes()).unwrap_or(key.as_bytes());
        only_key(name, &a, key)
            .map(|w| w.iter().map(|b| String::from_utf8_lossy(b)).collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn a_blocked_command_narrows_to_the_ready_key() {
        assert_eq!(narrowed("blpop", "BLPOP a b c 5", "b").as_deref(), Some("BLPOP b 5"));
        assert_eq!(narrowed("bzpopmin", "BZPOPMIN a b 0", "a").as_deref(), Some("BZPOPMIN a 0"));
        assert_eq!(
            narrowed("blmpop", "BLMPOP 0 3 a b c RIGHT COUNT 2", "c").as_deref(),
            Some("BLMPOP 0 1 c RIGHT COUNT 2")
        );
        assert_eq!(narrowed("bzmpop", "BZMPOP 1 2 a b MIN", "a").as_deref(), Some("BZMPOP 1 1 a MIN"));
        assert_eq!(
            narrowed("xread", "XREAD COUNT 2 BLOCK 0 STREAMS a b 1-0 2-0", "b").as_deref(),
            Some("XREAD COUNT 2 BLOCK 0 STREAMS b 2-0")
        );
        // A group or consumer named like an option or STREAMS is skipped as a word of GROUP.
        assert_eq!(
            narrowed("xreadgroup", "XREADGROUP GROUP streams count NOACK BLOCK 0 STREAMS a b > >", "b")
                .as_deref(),
            Some("XREADGROUP GROUP streams count NOACK BLOCK 0 STREAMS b >")
        );
        // One source key anyway, or a key the command does not name: the words as they are.
        assert_eq!(narrowed("blmove", "BLMOVE a b LEFT LEFT 0", "a"), None);
        assert_eq!(narrowed("blpop", "BLPOP a b 0", "z"), None);
        assert_eq!(narrowed("blmpop", "BLMPOP 0 9 a LEFT", "a"), None, "a bad numkeys");
    }
}
