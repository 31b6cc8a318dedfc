//! Sessions: the per-connection state of the command interface, for `MULTI`/`EXEC`/`DISCARD`
//! and `WATCH`/`UNWATCH`. A [`Client`] is shared by many threads; a `Session` belongs to one.

use super::{run_locked, Client};
use crate::command::{lookup, unknown_command, Handler, Keyless};
use crate::config::ReadFrom;
use crate::error::Error;
use crate::node::Via;
use crate::reply::Reply;
use crate::slot::key_slot;

/// One connection's view of the command interface: what `MULTI` queued and what `WATCH`
/// watches, with Redis's rules.
///
/// - Commands after `MULTI` are checked (name, arity, keys) and answered `QUEUED`; a refused
///   one makes `EXEC` answer `EXECABORT` and run nothing.
/// - `EXEC` runs the queue atomically under its slots' locks and answers each command's
///   reply; an error inside (e.g. `WRONGTYPE`) is that command's reply, nothing rolls back.
/// - `EXEC` answers nil, running nothing, if a watched key changed since `WATCH` (by anyone,
///   this session included) or expired.
/// - All keys of a transaction, watched keys included, share one slot unless the cluster
///   allows cross-slot commands; else `EXEC` answers `CROSSSLOT` and runs nothing.
///
/// Keyless commands other than `PING` and `ECHO` are refused inside `MULTI` (they span the
/// whole store and cannot run under one transaction's locks).
///
/// `ASKING` sends the next keyed command to its slot's importing primary as an asked caller
/// (during a key-by-key migration; otherwise it runs as usual); right before `MULTI`, it covers
/// the whole transaction, as in Redis.
///
/// `READONLY` sends the session's reads to replicas (possibly stale) and `READWRITE` back to
/// primaries. `WAIT` waits for the last write this session made (outside `MULTI`).
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use slotstore::Reply;
/// let client = slotstore::Cluster::builder().primaries(3).build()?.client();
/// let mut s = client.session();
/// s.command(&["MULTI"])?;
/// assert_eq!(s.command(&["INCR", "{acct}:n"])?.to_string(), "QUEUED");
/// s.command(&["INCR", "{acct}:n"])?;
/// assert_eq!(s.command(&["EXEC"])?, Reply::Array(vec![Reply::Int(1), Reply::Int(2)]));
/// # Ok(()) }
/// ```
pub struct Session {
    client: Client,
    /// Commands queued since `MULTI`; None outside a transaction.
    queued: Option<Vec<Vec<Box<[u8]>>>>,
    /// A command was refused while queueing: `EXEC` must abort.
    refused: bool,
    watches: Vec<Watch>,
    /// The last replicated write this session made (primary, offset): what its `WAIT`
    /// waits for.
    last_write: Option<(crate::ids::NodeId, u64)>,
    /// `ASKING` was sent: the next keyed command goes to its slot's importing primary.
    asking: bool,
    /// `ASKING` came right before `MULTI`: it covers the transaction, as in Redis.
    asking_multi: bool,
}

impl std::fmt::Debug for Session {
    /// The connection-like state (transaction, watches, `ASKING`), not the data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("client", &self.client)
            .field("queued", &self.queued.as_ref().map(Vec::len))
            .field("watches", &self.watches.len())
            .field("asking", &self.asking)
            .finish()
    }
}

/// A key under `WATCH`: its modification count and liveness when watched.
struct Watch {
    slot: u16,
    key: Box<[u8]>,
    version: u64,
    live: bool,
    /// The slot's watch generation at `WATCH`: a migration step in between aborts `EXEC`.
    generation: u32,
    /// The table the watch was registered in (`Table::instance`): a key that lives in another
    /// table at `EXEC` (moved, deleted on a migration's source and created on its target,
    /// lost in a failover) counts as modified, and `UNWATCH` takes the watch back there only.
    table: u64,
}

impl Client {
    /// A new session over this client, for `MULTI`/`EXEC` and `WATCH`.
    pub fn session(&self) -> Session {
        Session {
            client: self.clone(),
            queued: None,
            refused: false,
            watches: Vec::new(),
            last_write: None,
            asking: false,
            asking_multi: false,
        }
    }
}

impl Session {
    /// True between `MULTI` and `EXEC`/`DISCARD`.
    pub fn in_transaction(&self) -> bool {
        self.queued.is_some()
    }

    /// True after `READONLY`: this session's reads go to replicas.
    #[cfg(feature = "server")]
    pub(crate) fn reads_replicas(&self) -> bool {
        self.client.read_from == ReadFrom::Replica
    }

    /// The last replicated write this session made (primary, offset), what its `WAIT`
    /// waits for.
    #[cfg(feature = "server")]
    pub(crate) fn last_write(&self) -> Option<(crate::ids::NodeId, u64)> {
        self.last_write
    }

    /// Runs a command that is none of the session's own words (`MULTI`, `EXEC`, `WATCH`,
    /// `ASKING`, `READONLY`, `WAIT`, ...) straight on the client, keeping `WAIT`'s record of
    /// the last write; None while a transaction or an `ASKING` is open (then
    /// [`Session::command`] must run it).
    #[cfg(feature = "server")]
    pub(crate) fn command_plain(&mut self, args: &[&[u8]]) -> Option<Result<Reply, Error>> {
        if self.queued.is_some() || self.asking {
            return None;
        }
        Some(self.noting_write(|c| c.command(args)))
    }

    /// A run of pipelined `GET key` requests, batched (see `Client::get_pipelined`): one
    /// reply per key. None while a transaction or an `ASKING` is open (then each runs
    /// through [`Session::command`]).
    #[cfg(feature = "server")]
    pub(crate) fn get_pipelined(&mut self, keys: &[&[u8]]) -> Option<Vec<Result<Reply, Error>>> {
        if self.queued.is_some() || self.asking {
            return None;
        }
        Some(self.client.get_pipelined(keys))
    }

    /// A run of pipelined `SET key value` requests, batched (see `Client::set_pipelined`):
    /// one reply per pair. None while a transaction or an `ASKING` is open (then each runs
    /// through [`Session::command`]).
    #[cfg(feature = "server")]
    pub(crate) fn set_pipelined(&mut self, pairs: &[[&[u8]; 2]]) -> Option<Vec<Result<Reply, Error>>> {
        if self.queued.is_some() || self.asking {
            return None;
        }
        Some(self.noting_write(|c| c.set_pipelined(pairs)))
    }

    /// A run of pipelined requests of one single-key writing command, batched (see
    /// `Client::write_pipelined`): one reply per request. None while a transaction or an
    /// `ASKING` is open (then each runs through [`Session::command`]).
    #[cfg(feature = "server")]
    pub(crate) fn write_pipelined(
        &mut self,
        requests: &[&[&[u8]]],
    ) -> Option<Vec<Result<Reply, Error>>> {
        if self.queued.is_some() || self.asking {
            return None;
        }
        Some(self.noting_write(|c| c.write_pipelined(requests)))
    }

    /// `f` on the client, keeping `WAIT`'s record of this session's last write as
    /// [`Session::command`] does.
    #[cfg(feature = "server")]
    fn noting_write<R>(&mut self, f: impl FnOnce(&Client) -> R) -> R {
        let before = crate::node::last_write();
        let r = f(&self.client);
        let after = crate::node::last_write();
        if after != before {
            self.last_write = after;
        }
        r
    }

    /// The client this session runs on.
    #[cfg(feature = "server")]
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Runs one command with this session's state, as [`Client::command`] does otherwise.
    ///
    /// # Errors
    /// As [`Client::command`], plus Redis's transaction errors: `ERR MULTI calls can not be
    /// nested`, `ERR EXEC without MULTI`, `ERR DISCARD without MULTI`, `ERR WATCH inside MULTI
    /// is not allowed`, `EXECABORT`.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, Error> {
        let args: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        // The node layer records the calling thread's last replicated write; a change across
        // this call is this session's write.
        let before = crate::node::last_write();
        let reply = self.dispatch(&args);
        let after = crate::node::last_write();
        if after != before {
            self.last_write = after;
        }
        reply
    }

    fn dispatch(&mut self, args: &[&[u8]]) -> Result<Reply, Error> {
        let name = args.first().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
        // One-shot, as Redis clears the flag after the next command.
        let asking = std::mem::take(&mut self.asking);
        let arity = |ok: bool, name: &str| if ok { Ok(()) } else { Err(Error::arity(name)) };
        match name.as_slice() {
            b"multi" => {
                arity(args.len() == 1, "multi")?;
                if self.queued.is_some() {
                    return Err(Error::msg("MULTI calls can not be nested"));
                }
                self.queued = Some(Vec::new());
                self.refused = false;
                self.asking_multi = asking;
                Ok(Reply::ok())
            }
            b"exec" => {
                if let Err(e) = arity(args.len() == 1, "exec") {
                    self.refused |= self.queued.is_some();
                    return Err(e);
                }
                self.exec()
            }
            b"discard" => {
                arity(args.len() == 1, "discard")?;
                if self.queued.take().is_none() {
                    return Err(Error::msg("DISCARD without MULTI"));
                }
                self.unwatch();
                self.asking_multi = false;
                Ok(Reply::ok())
            }
            b"watch" => {
                if self.queued.is_some() {
                    return Err(Error::msg("WATCH inside MULTI is not allowed"));
                }
                arity(args.len() >= 2, "watch")?;
                self.watch(&args[1..])
            }
            // Redis's READONLY lets a connection read from the replica it talks to; here it
            // sends this session's reads to replicas (possibly stale, see `ReadFrom`).
            b"readonly" | b"readwrite" if self.queued.is_none() => {
                arity(args.len() == 1, &String::from_utf8_lossy(&name))?;
                let mode = if name == b"readonly" { ReadFrom::Replica } else { ReadFrom::Primary };
                self.client.read_from = mode;
                Ok(Reply::ok())
            }
            b"unwatch" if self.queued.is_none() => {
                arity(args.len() == 1, "unwatch")?;
                self.unwatch();
                Ok(Reply::ok())
            }
            _ if self.queued.is_some() => {
                let checked = self.check_queueable(args);
                if checked.is_err() {
                    self.refused = true;
                }
                checked?;
                let words = args.iter().map(|a| Box::from(*a)).collect();
                self.queued.as_mut().expect("in MULTI").push(words);
                Ok(Reply::Simple("QUEUED".into()))
            }
            b"wait" if self.queued.is_none() => {
                arity(args.len() == 3, "wait")?;
                let (n, timeout) = crate::command::server::parse_wait(args)?;
                Ok(Reply::Int(self.client.registry.wait_for(self.last_write, n, timeout) as i64))
            }
            b"asking" if self.queued.is_none() => {
                arity(args.len() == 1, "asking")?;
                self.asking = true;
                Ok(Reply::ok())
            }
            _ if asking => {
                // Sent where an `ASK` would send it: the importing primary, asked.
                // Arity first: `slot` reads the key positions a well-formed command has.
                let spec = args.first().and_then(|name| lookup(name));
                let spec = spec.filter(|spec| spec.check_arity(args.len()).is_ok());
                let slot = spec.and_then(|spec| spec.slot(args).ok().flatten());
                match slot.and_then(|s| self.client.registry.importer(s)) {
                    // A session pinned to a node (a network connection) runs it there,
                    // asked: the node answers as Redis does for an `ASKING` client.
                    Some(_) if self.client.pinned.is_some() => {
                        let node = self.client.pinned.map(|(n, _)| n).expect("pinned");
                        self.client.command_at(node, true, args)
                    }
                    Some(node) => self.client.command_at(node, true, args),
                    None => self.client.command(args),
                }
            }
            _ => self.client.command(args),
        }
    }

    /// What Redis checks when queueing: the command exists, its arity, its keys.
    fn check_queueable(&self, a: &[&[u8]]) -> Result<(), Error> {
        let spec = lookup(a[0]).ok_or_else(|| unknown_command(a))?;
        spec.check_arity(a.len())?;
        match spec.handler {
            Handler::Keyless(Keyless::Ping | Keyless::Echo | Keyless::Unwatch) => Ok(()),
            Handler::Keyless(_) => Err(Error::msg("Command not allowed inside a transaction")),
            _ if self.client.allow_cross_slot => spec.keys(a).map(drop),
            _ => match spec.slot(a)? {
                // Over the budget, a write that may grow memory is refused as it is queued,
                // and the transaction with it, as Redis refuses it (after evicting what the
                // policy lets it).
                Some(slot) if spec.grows => self.client.registry.make_room_for(slot),
                _ => Ok(()),
            },
        }
    }

    /// `WATCH key...`: records each key's modification count under its slot's lock, where the
    /// key lives: during a key-by-key migration a key the source lacks is watched on the
    /// target, as Redis's `ASK` sends the `WATCH` there.
    fn watch(&mut self, keys: &[&[u8]]) -> Result<Reply, Error> {
        self.client.slots_of(keys)?;
        let registry = &self.client.registry;
        for key in keys {
            let slot = key_slot(key);
            let via = self.client.via(slot);
            let watched = registry.write_cmd(slot, usize::MAX, false, &[*key], via, |t, now| {
                (t.watch(key), t.contains(key, now), registry.generation(slot), t.instance())
            });
            let (version, live, generation, table) = self.client.learn(watched)?;
            self.watches.push(Watch { slot, key: Box::from(*key), version, live, generation, table });
        }
        Ok(Reply::ok())
    }

    /// Takes back this session's watches, each in the table it was registered in, wherever
    /// that table is now (the holder's, or a migration's target), checked under its lock. A
    /// table that is gone (handed over, rolled back, lost in a failover) took the watch with it.
    fn unwatch(&mut self) {
        let registry = &self.client.registry;
        let none: &[&[u8]] = &[];
        for w in self.watches.drain(..) {
            let mine = |t: &mut crate::keyspace::Table| {
                let here = t.instance() == w.table;
                if here {
                    t.unwatch(&w.key);
                }
                here
            };
            let done = registry.write(w.slot, |t, _| mine(t)).unwrap_or(false);
            if let (false, Some(to)) = (done, registry.importer(w.slot)) {
                let _ =
                    registry
                        .write_cmd(w.slot, usize::MAX, false, none, Via::Node(to, true), |t, _| mine(t));
            }
        }
    }

    fn exec(&mut self) -> Result<Reply, Error> {
        let queued = self.queued.take().ok_or_else(|| Error::msg("EXEC without MULTI"))?;
        let result = if self.refused {
            Err(Error::ExecAbort)
        } else {
            self.make_room(&queued).and_then(|()| self.run(&queued))
        };
        self.unwatch();
        self.asking_multi = false;
        result
    }

    /// Over the budget, a transaction holding a write that may grow memory is refused whole
    /// at `EXEC`, as Redis refuses it (after evicting what the policy lets it); one of reads
    /// and shrinking writes alone runs.
    fn make_room(&self, queued: &[Vec<Box<[u8]>>]) -> Result<(), Error> {
        for c in queued {
            let a: Vec<&[u8]> = c.iter().map(|w| &**w).collect();
            let spec = lookup(a[0]).expect("checked when queued");
            if !spec.grows {
                continue;
            }
            for slot in spec.slots(&a)? {
                self.client.registry.make_room_for(slot).map_err(|e| match e {
                    Error::OutOfMemory => {
                        Error::Coded(format!("EXECABORT Transaction discarded because of: {e}"))
                    }
                    e => e,
                })?;
            }
        }
        Ok(())
    }

    /// Runs the queue under the locks of every slot it and the watched keys touch.
    fn run(&self, queued: &[Vec<Box<[u8]>>]) -> Result<Reply, Error> {
        let commands: Vec<Vec<&[u8]>> =
            queued.iter().map(|c| c.iter().map(|w| &**w).collect()).collect();
        let mut slots: Vec<u16> = self.watches.iter().map(|w| w.slot).collect();
        let mut keys: Vec<&[u8]> = Vec::new();
        for a in &commands {
            let spec = lookup(a[0]).expect("checked when queued");
            slots.extend(spec.slots(a)?);
            keys.extend(spec.keys(a)?);
        }
        slots.sort_unstable();
        slots.dedup();
        if slots.len() > 1 && !self.client.allow_cross_slot {
            return Err(Error::CrossSlot);
        }
        let run_all = |db: &mut crate::keyspace::Db<'_>, now: &crate::keyspace::Now<'_>| {
            let changed = self.watches.iter().any(|w| {
                let t = db.table_ref(&w.key);
                t.instance() != w.table
                    || t.watch_version(&w.key) != w.version
                    || (w.live && !t.contains(&w.key, now))
                    || self.client.registry.generation(w.slot) != w.generation
            });
            if changed {
                return Reply::Nil;
            }
            Reply::Array(
                commands
                    .iter()
                    .map(|a| {
                        let spec = lookup(a[0]).expect("checked when queued");
                        run_locked(spec, db, now, a).unwrap_or_else(Reply::Error)
                    })
                    .collect(),
            )
        };
        if slots.is_empty() {
            // Only PING/ECHO were queued: nothing to lock.
            let clock = &self.client.registry.clock;
            let mut empty = crate::keyspace::Table::new();
            return Ok(run_all(
                &mut crate::keyspace::Db::One(&mut empty),
                &crate::keyspace::Now::new(clock),
            ));
        }
        self.client.write_many_as(&slots, &keys, self.asking_multi, run_all)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.unwatch();
    }
}
