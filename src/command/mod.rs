//! Commands (level 2): Redis words -> typed command -> run on a slot's [`Table`] -> [`Reply`].
//!
//! One file per family. Each family exports typed functions (what the client's typed methods
//! call) and the handlers of the command table, which parse the words and call the same typed
//! functions, so both faces share one semantics. The table also records each command's arity
//! and key positions, which the client uses to route and to check `CROSSSLOT` before anything
//! runs. Nothing here locks or routes.

pub(crate) mod args;
pub(crate) mod bitmaps;
pub(crate) mod cluster;
pub(crate) mod geo;
pub(crate) mod hashes;
pub(crate) mod hyperloglog;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod long_double;
pub(crate) mod pubsub;
pub(crate) mod server;
pub(crate) mod sets;
pub(crate) mod sort;
pub(crate) mod streams;
pub(crate) mod strings;
pub(crate) mod zsets;

use crate::error::Error;
use crate::keyspace::{Db, Now, View};
use crate::reply::Reply;
use crate::slot::key_slot;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A command that reads the tables of its keys' slots.
pub(crate) type ReadFn = fn(&View<'_>, &Now<'_>, &[&[u8]]) -> Result<Reply, Error>;
/// A command that writes the tables of its keys' slots.
pub(crate) type WriteFn = fn(&mut Db<'_>, &Now<'_>, &[&[u8]]) -> Result<Reply, Error>;

/// A blocking command (`BLPOP` ...) tried once: `Ok(None)` means it would block, as every
/// key it waits on is empty; the node runs it again when one of them is signalled ready.
pub(crate) type BlockFn = fn(&mut Db<'_>, &Now<'_>, &[&[u8]]) -> Result<Option<Reply>, Error>;

/// Where a blocking command's timeout (seconds, a float; 0 waits forever) is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimeoutArg {
    /// The last argument (`BLPOP key... timeout`).
    Last,
    /// This argument (`BLMPOP timeout numkeys key...` has it at 1).
    At(usize),
    /// `XREAD`/`XREADGROUP`: `BLOCK <ms>` among the options (without it the command is tried
    /// once), and `$` pinned to the stream's last ID when the caller blocks.
    Stream,
}

impl TimeoutArg {
    /// Parses the timeout as Redis does: None waits forever.
    pub(crate) fn parse(self, a: &[&[u8]]) -> Result<Option<std::time::Duration>, Error> {
        let i = match self {
            TimeoutArg::Last => a.len() - 1,
            TimeoutArg::At(i) => i,
            TimeoutArg::Stream => return streams::block_timeout(a),
        };
        let secs =
            args::parse_f64(a[i]).ok_or_else(|| Error::msg("timeout is not a float or out of range"))?;
        // As Redis 7.0: whole milliseconds rounded up; below zero or beyond i64 is negative.
        let ms = (secs * 1000.0).ceil();
        if !(0.0..9.2e18).contains(&ms) {
            return Err(Error::msg("timeout is negative"));
        }
        Ok((ms > 0.0).then(|| std::time::Duration::from_millis(ms as u64)))
    }
}

/// Rewrites a blocking command's words once it is found to block, under the same lock (the
/// stream reads pin `$`).
pub(crate) type PinFn = fn(&mut Db<'_>, &Now<'_>, &mut Vec<Box<[u8]>>);

impl TimeoutArg {
    /// What rewrites the words of a caller about to block, if anything.
    pub(crate) fn pin(self) -> Option<PinFn> {
        match self {
            TimeoutArg::Stream => Some(streams::pin_ids),
            _ => None,
        }
    }
}

/// Commands without keys, which the client runs across the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyless {
    Ping,
    Echo,
    DbSize,
    FlushAll,
    Scan,
    Keys,
    Cluster,
    /// `UNWATCH` outside a session: nothing is watched, so it only answers OK.
    Unwatch,
    /// `MULTI`/`EXEC`/`DISCARD`/`WATCH` need per-connection state: a `Session`.
    NeedsSession,
    Info,
    Config,
    /// `WAIT numreplicas timeout`.
    Wait,
    /// `MIGRATE`: moves keys of a migrating slot to the target.
    Migrate,
    /// `PUBLISH channel message`: to every subscriber of the store.
    Publish,
    /// `SPUBLISH shardchannel message`: routed by the channel's slot, which must be served.
    SPublish,
    /// `PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP`.
    PubSub,
    /// `(P|S)SUBSCRIBE`, `(P|S)UNSUBSCRIBE`: need a subscriber (a connection, or
    /// `Client::subscribe` in process).
    NeedsSubscriber,
}

/// How a command runs.
#[derive(Clone, Copy)]
pub(crate) enum Handler {
    /// Under the slot's read lock.
    Read(ReadFn),
    /// Under the slot's write lock.
    Write(WriteFn),
    /// Under the slot's write lock; if it would block, the caller waits until a write
    /// signals one of its keys ready or the timeout passes.
    Blocking(BlockFn, TimeoutArg),
    /// By the client, across slots and nodes.
    Keyless(Keyless),
}

/// Computes a command's key positions from its arguments.
pub(crate) type KeysFn = fn(&[&[u8]]) -> Result<Vec<usize>, Error>;

/// Where the keys are among the arguments.
#[derive(Clone, Copy)]
pub(crate) enum KeySpec {
    /// As Redis's legacy key specs: from `first` to `last` (negative: counted from the end,
    /// -1 is the last argument) every `step`; `first == 0` means no keys.
    Range { first: usize, last: isize, step: usize },
    /// Positions computed from the arguments, for commands whose keys move (`numkeys`
    /// arguments, `STORE` destinations). An error is the command's own error for the bad
    /// argument, reported before anything runs.
    Custom(KeysFn),
}

pub(crate) const NO_KEYS: KeySpec = KeySpec::Range { first: 0, last: 0, step: 0 };
pub(crate) const ONE_KEY: KeySpec = KeySpec::Range { first: 1, last: 1, step: 1 };
pub(crate) const ALL_KEYS: KeySpec = KeySpec::Range { first: 1, last: -1, step: 1 };
pub(crate) const KEY_VALUE_PAIRS: KeySpec = KeySpec::Range { first: 1, last: -1, step: 2 };
/// Every argument but the name and the last (`BLPOP key... timeout`).
pub(crate) const ALL_BUT_LAST: KeySpec = KeySpec::Range { first: 1, last: -2, step: 1 };
/// The first two arguments (`LMOVE src dst ...`, `SMOVE`, `RENAME`).
pub(crate) const TWO_KEYS: KeySpec = KeySpec::Range { first: 1, last: 2, step: 1 };

/// One entry of the command table.
pub(crate) struct Spec {
    /// Lowercase name, as Redis's error texts quote it.
    pub(crate) name: &'static str,
    /// Redis arity: positive means exactly, negative means at least, the name included.
    arity: i32,
    keys: KeySpec,
    pub(crate) handler: Handler,
    /// May take more memory (Redis's `denyoom`): runs only after the budget has room.
    pub(crate) grows: bool,
}

impl Spec {
    pub(crate) const fn read(name: &'static str, arity: i32, keys: KeySpec, f: ReadFn) -> Spec {
        Spec { name, arity, keys, handler: Handler::Read(f), grows: false }
    }

    pub(crate) const fn write(name: &'static str, arity: i32, keys: KeySpec, f: WriteFn) -> Spec {
        Spec { name, arity, keys, handler: Handler::Write(f), grows: true }
    }

    /// A write that never takes more memory (`DEL`, `EXPIRE`, pops): allowed when over
    /// budget, as Redis allows commands without `denyoom`.
    pub(crate) const fn shrink(name: &'static str, arity: i32, keys: KeySpec, f: WriteFn) -> Spec {
        Spec { name, arity, keys, handler: Handler::Write(f), grows: false }
    }

    pub(crate) const fn blocking(
        name: &'static str,
        arity: i32,
        keys: KeySpec,
        f: BlockFn,
        timeout: TimeoutArg,
    ) -> Spec {
        Spec { name, arity, keys, handler: Handler::Blocking(f, timeout), grows: true }
    }

    pub(crate) const fn keyless(name: &'static str, arity: i32, k: Keyless) -> Spec {
        Spec { name, arity, keys: NO_KEYS, handler: Handler::Keyless(k), grows: false }
    }

    /// Redis arity: positive means exactly, negative means at least, the name included
    /// (what `COMMAND` reports).
    pub(crate) fn arity(&self) -> i32 {
        self.arity
    }

    /// The legacy key positions `(first, last, step)` `COMMAND` reports; None for keys
    /// computed from the arguments (Redis's `movablekeys`, found with `COMMAND GETKEYS`).
    pub(crate) fn key_range(&self) -> Option<(usize, isize, usize)> {
        match self.keys {
            KeySpec::Range { first, last, step } => Some((first, last, step)),
            KeySpec::Custom(_) => None,
        }
    }

    /// `ERR wrong number of arguments` unless `argc` (name included) fits the arity.
    pub(crate) fn check_arity(&self, argc: usize) -> Result<(), Error> {
        let ok = if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= self.arity.unsigned_abs() as usize
        };
        if ok {
            Ok(())
        } else {
            Err(Error::arity(self.name))
        }
    }

    /// The keys among `args` (the name at index 0).
    ///
    /// # Errors
    /// A [`KeySpec::Custom`] command's error for a bad key-count argument.
    pub(crate) fn keys<'a>(&self, args: &[&'a [u8]]) -> Result<Vec<&'a [u8]>, Error> {
        match self.keys {
            KeySpec::Range { first, last, step } => {
                let last = if last < 0 { args.len() as isize + last } else { last };
                let end = if first == 0 { 0 } else { (last + 1).max(0) as usize };
                Ok((first..end.min(args.len())).step_by(step.max(1)).map(|i| args[i]).collect())
            }
            KeySpec::Custom(f) => {
                Ok(f(args)?.into_iter().filter_map(|i| args.get(i).copied()).collect())
            }
        }
    }

    /// [`Spec::keys`], borrowed from `args` when the keys are adjacent words (nearly every
    /// command: one key, or `DEL a b c`), collected otherwise (`MSET`'s every other word, a
    /// key count). Every command run by name asks for its keys twice (its slot, its
    /// lookup); a vector each time was two allocations per command.
    ///
    /// # Errors
    /// As [`Spec::keys`].
    pub(crate) fn key_words<'b, 'a>(&self, args: &'b [&'a [u8]]) -> Result<Cow<'b, [&'a [u8]]>, Error> {
        match self.keys {
            KeySpec::Range { first, last, step } if step <= 1 => {
                let last = if last < 0 { args.len() as isize + last } else { last };
                let end = if first == 0 { 0 } else { (last + 1).max(0) as usize };
                Ok(Cow::Borrowed(args.get(first..end.min(args.len())).unwrap_or_default()))
            }
            _ => self.keys(args).map(Cow::Owned),
        }
    }

    /// The key of `args` if its arity holds and its words name exactly one key (what a
    /// pipelined request needs to join a batch, see [`single_key_write`]).
    #[cfg(feature = "server")]
    pub(crate) fn only_key<'a>(&self, args: &[&'a [u8]]) -> Option<&'a [u8]> {
        self.check_arity(args.len()).ok()?;
        match self.key_words(args).ok()?.as_ref() {
            [key] => Some(*key),
            _ => None,
        }
    }

    /// The one slot all keys hash to; `CROSSSLOT` if they span slots. Keyless specs give None.
    pub(crate) fn slot(&self, args: &[&[u8]]) -> Result<Option<u16>, Error> {
        let mut slot = None;
        for &key in self.key_words(args)?.iter() {
            let s = key_slot(key);
            match slot {
                None => slot = Some(s),
                Some(prev) if prev != s => return Err(Error::CrossSlot),
                Some(_) => {}
            }
        }
        Ok(slot)
    }

    /// Every slot the keys hash to, ascending, without repeats (for cross-slot commands).
    pub(crate) fn slots(&self, args: &[&[u8]]) -> Result<Vec<u16>, Error> {
        let mut slots: Vec<u16> = self.keys(args)?.into_iter().map(key_slot).collect();
        slots.sort_unstable();
        slots.dedup();
        Ok(slots)
    }
}

/// Every family's commands.
static FAMILIES: &[&[Spec]] = &[
    strings::COMMANDS,
    keys::COMMANDS,
    sort::COMMANDS,
    lists::COMMANDS,
    hashes::COMMANDS,
    sets::COMMANDS,
    zsets::COMMANDS,
    server::COMMANDS,
    pubsub::COMMANDS,
    bitmaps::COMMANDS,
    hyperloglog::COMMANDS,
    geo::COMMANDS,
    streams::COMMANDS,
];

/// The command table by name, hashed with ahash rather than std's SipHash: every command run
/// by name (each request the server runs) looks its name up here. The table is fixed,
/// so no client's names can crowd it.
type Index = HashMap<&'static [u8], (usize, &'static Spec), ahash::RandomState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        FAMILIES
            .iter()
            .flat_map(|f| f.iter())
            .enumerate()
            .map(|(i, s)| (s.name.as_bytes(), (i, s)))
            .collect()
    })
}

/// Finds a command by name, case-insensitively, with its index in the table (for counters).
pub(crate) fn lookup_id(name: &[u8]) -> Option<(usize, &'static Spec)> {
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().get(&*lower).copied()
}

/// The command `args` runs if it is a whole single-key write (`INCR k`, `HSET k f v`,
/// `LPUSH k a b`, `DEL k`): its index in the table and its spec, when it writes, its arity
/// holds and its words name exactly one key. A run of such pipelined requests can be served
/// as one batch (see `Client::write_pipelined`).
#[cfg(feature = "server")]
pub(crate) fn single_key_write(args: &[&[u8]]) -> Option<(usize, &'static Spec)> {
    let (id, spec) = lookup_id(args.first()?)?;
    (matches!(spec.handler, Handler::Write(_)) && spec.only_key(args).is_some()).then_some((id, spec))
}

/// Finds a command by name, case-insensitively.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    lookup_id(name).map(|(_, s)| s)
}

/// Every command of the table, in table order.
pub(crate) fn specs() -> impl Iterator<Item = &'static Spec> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// How many commands the table has: the width of each node's counter rows.
pub(crate) const COUNT: usize = {
    let (mut n, mut i) = (0, 0);
    while i < FAMILIES.len() {
        n += FAMILIES[i].len();
        i += 1;
    }
    n
};

/// The table index of command `name`, computed at compile time (a name not in the table
/// fails the build): the typed methods' counters, with no lookup when they run.
pub(crate) const fn const_id(name: &str) -> usize {
    let (mut at, mut f) = (0, 0);
    while f < FAMILIES.len() {
        let mut i = 0;
        while i < FAMILIES[f].len() {
            if eq(FAMILIES[f][i].name.as_bytes(), name.as_bytes()) {
                return at;
            }
            (at, i) = (at + 1, i + 1);
        }
        f += 1;
    }
    panic!("not a command");
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Every command name, by table index.
pub(crate) fn names() -> Vec<&'static str> {
    FAMILIES.iter().flat_map(|f| f.iter()).map(|s| s.name).collect()
}

/// Redis's text for an unknown command: the name and the first arguments, quoted.
pub(crate) fn unknown_command(args: &[&[u8]]) -> Error {
    let name = args.first().map(|n| String::from_utf8_lossy(n)).unwrap_or_default();
    let mut rest = String::new();
    for a in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        rest.push_str(&format!("'{}' ", String::from_utf8_lossy(a)));
    }
    Error::Command(format!("unknown command '{name}', with args beginning with: {rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compile-time index of every command is the one its name is looked up under, and
    /// `COUNT` is the table's size.
    #[test]
    fn const_ids_match_the_lookup() {
        let names = names();
        assert_eq!(names.len(), COUNT);
        for (i, name) in names.iter().enumerate() {
            assert_eq!(const_id(name), i, "{name}");
            assert_eq!(lookup_id(name.as_bytes()).map(|(i, _)| i), Some(i), "{name}");
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'x'; 100]).is_none());
    }

    #[test]
    fn key_positions() {
        let args: Vec<&[u8]> = vec![b"mset", b"a", b"1", b"b", b"2"];
        let keys = lookup(b"mset").unwrap().keys(&args).unwrap();
        assert_eq!(keys, vec![&b"a"[..], b"b"]);
        let args: Vec<&[u8]> = vec![b"mget", b"{t}a", b"{t}b"];
        assert_eq!(lookup(b"mget").unwrap().slot(&args), Ok(Some(key_slot("t"))));
        let args: Vec<&[u8]> = vec![b"del", b"a", b"b"];
        assert_eq!(lookup(b"del").unwrap().slot(&args), Err(Error::CrossSlot));
    }

    #[test]
    fn arity() {
        let set = lookup(b"set").unwrap();
        assert!(set.check_arity(3).is_ok());
        assert_eq!(
            set.check_arity(2).unwrap_err().to_string(),
            "ERR wrong number of arguments for 'set' command"
        );
        assert!(lookup(b"get").unwrap().check_arity(3).is_err());
    }
}
