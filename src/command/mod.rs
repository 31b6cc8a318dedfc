//! Commands (level 2): Redis words -> typed command -> run on a slot's [`Table`] -> [`Reply`].
//!
//! One file per family. Each family exports typed functions (what the client's typed methods
//! call) and the handlers of the command table, which parse the words and call the same typed
//! functions, so both faces share one semantics. The table also records each command's arity
//! and key positions, which the client uses to route and to check `CROSSSLOT` before anything
//! runs. Nothing here locks or routes.

pub(crate) mod args;
pub(crate) mod cluster;
pub(crate) mod keys;
pub(crate) mod server;
pub(crate) mod strings;

use crate::error::Error;
use crate::keyspace::{Now, Table};
use crate::reply::Reply;
use crate::slot::key_slot;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A command that reads one slot's table.
pub(crate) type ReadFn = fn(&Table, &Now<'_>, &[&[u8]]) -> Result<Reply, Error>;
/// A command that writes one slot's table.
pub(crate) type WriteFn = fn(&mut Table, &Now<'_>, &[&[u8]]) -> Result<Reply, Error>;

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
}

/// How a command runs.
#[derive(Clone, Copy)]
pub(crate) enum Handler {
    /// Under the slot's read lock.
    Read(ReadFn),
    /// Under the slot's write lock.
    Write(WriteFn),
    /// By the client, across slots and nodes.
    Keyless(Keyless),
}

/// Where the keys are among the arguments, as Redis's legacy key specs say: from `first` to
/// `last` (negative: counted from the end, -1 is the last argument) every `step`.
#[derive(Clone, Copy)]
pub(crate) struct KeySpec {
    first: usize,
    last: isize,
    step: usize,
}

const NO_KEYS: KeySpec = KeySpec { first: 0, last: 0, step: 0 };
const ONE_KEY: KeySpec = KeySpec { first: 1, last: 1, step: 1 };
const ALL_KEYS: KeySpec = KeySpec { first: 1, last: -1, step: 1 };
const KEY_VALUE_PAIRS: KeySpec = KeySpec { first: 1, last: -1, step: 2 };

/// One entry of the command table.
pub(crate) struct Spec {
    /// Lowercase name, as Redis's error texts quote it.
    pub(crate) name: &'static str,
    /// Redis arity: positive means exactly, negative means at least, the name included.
    arity: i32,
    keys: KeySpec,
    pub(crate) handler: Handler,
}

impl Spec {
    const fn read(name: &'static str, arity: i32, keys: KeySpec, f: ReadFn) -> Spec {
        Spec { name, arity, keys, handler: Handler::Read(f) }
    }

    const fn write(name: &'static str, arity: i32, keys: KeySpec, f: WriteFn) -> Spec {
        Spec { name, arity, keys, handler: Handler::Write(f) }
    }

    const fn keyless(name: &'static str, arity: i32, k: Keyless) -> Spec {
        Spec { name, arity, keys: NO_KEYS, handler: Handler::Keyless(k) }
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
    pub(crate) fn keys<'a>(&self, args: &'a [&'a [u8]]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let KeySpec { first, last, step } = self.keys;
        let last = if last < 0 { args.len() as isize + last } else { last };
        let end = if first == 0 { 0 } else { (last + 1).max(0) as usize };
        (first..end).step_by(step.max(1)).filter_map(move |i| args.get(i).copied())
    }

    /// The one slot all keys hash to; `CROSSSLOT` if they span slots. Keyless specs give None.
    pub(crate) fn slot<'a>(&self, args: &'a [&'a [u8]]) -> Result<Option<u16>, Error> {
        let mut slot = None;
        for key in self.keys(args) {
            let s = key_slot(key);
            match slot {
                None => slot = Some(s),
                Some(prev) if prev != s => return Err(Error::CrossSlot),
                Some(_) => {}
            }
        }
        Ok(slot)
    }
}

static TABLE: &[Spec] = &[
    // strings
    Spec::read("get", 2, ONE_KEY, strings::get_cmd),
    Spec::write("set", -3, ONE_KEY, strings::set_cmd),
    Spec::write("setnx", 3, ONE_KEY, strings::setnx_cmd),
    Spec::write("setex", 4, ONE_KEY, strings::setex_cmd),
    Spec::write("psetex", 4, ONE_KEY, strings::psetex_cmd),
    Spec::write("getdel", 2, ONE_KEY, strings::getdel_cmd),
    Spec::write("getex", -2, ONE_KEY, strings::getex_cmd),
    Spec::write("getset", 3, ONE_KEY, strings::getset_cmd),
    Spec::write("append", 3, ONE_KEY, strings::append_cmd),
    Spec::read("strlen", 2, ONE_KEY, strings::strlen_cmd),
    Spec::read("getrange", 4, ONE_KEY, strings::getrange_cmd),
    Spec::read("substr", 4, ONE_KEY, strings::getrange_cmd),
    Spec::write("setrange", 4, ONE_KEY, strings::setrange_cmd),
    Spec::write("incr", 2, ONE_KEY, strings::incr_cmd),
    Spec::write("decr", 2, ONE_KEY, strings::decr_cmd),
    Spec::write("incrby", 3, ONE_KEY, strings::incrby_cmd),
    Spec::write("decrby", 3, ONE_KEY, strings::decrby_cmd),
    Spec::write("incrbyfloat", 3, ONE_KEY, strings::incrbyfloat_cmd),
    Spec::read("mget", -2, ALL_KEYS, strings::mget_cmd),
    Spec::write("mset", -3, KEY_VALUE_PAIRS, strings::mset_cmd),
    Spec::write("msetnx", -3, KEY_VALUE_PAIRS, strings::msetnx_cmd),
    // keys
    Spec::write("del", -2, ALL_KEYS, keys::del_cmd),
    Spec::write("unlink", -2, ALL_KEYS, keys::del_cmd),
    Spec::read("exists", -2, ALL_KEYS, keys::exists_cmd),
    Spec::read("touch", -2, ALL_KEYS, keys::exists_cmd),
    Spec::read("type", 2, ONE_KEY, keys::type_cmd),
    Spec::write("expire", -3, ONE_KEY, keys::expire_cmd),
    Spec::write("pexpire", -3, ONE_KEY, keys::pexpire_cmd),
    Spec::write("expireat", -3, ONE_KEY, keys::expireat_cmd),
    Spec::write("pexpireat", -3, ONE_KEY, keys::pexpireat_cmd),
    Spec::read("ttl", 2, ONE_KEY, keys::ttl_cmd),
    Spec::read("pttl", 2, ONE_KEY, keys::pttl_cmd),
    Spec::read("expiretime", 2, ONE_KEY, keys::expiretime_cmd),
    Spec::read("pexpiretime", 2, ONE_KEY, keys::pexpiretime_cmd),
    Spec::write("persist", 2, ONE_KEY, keys::persist_cmd),
    Spec::keyless("dbsize", 1, Keyless::DbSize),
    Spec::keyless("flushall", -1, Keyless::FlushAll),
    Spec::keyless("flushdb", -1, Keyless::FlushAll),
    Spec::keyless("scan", -2, Keyless::Scan),
    Spec::keyless("keys", 2, Keyless::Keys),
    // server and cluster
    Spec::keyless("ping", -1, Keyless::Ping),
    Spec::keyless("echo", 2, Keyless::Echo),
    Spec::keyless("cluster", -2, Keyless::Cluster),
];

/// Finds a command by name, case-insensitively.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    static INDEX: OnceLock<HashMap<&'static [u8], &'static Spec>> = OnceLock::new();
    let index = INDEX.get_or_init(|| TABLE.iter().map(|s| (s.name.as_bytes(), s)).collect());
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index.get(&*lower).copied()
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

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'x'; 100]).is_none());
    }

    #[test]
    fn key_positions() {
        let args: Vec<&[u8]> = vec![b"mset", b"a", b"1", b"b", b"2"];
        let keys: Vec<_> = lookup(b"mset").unwrap().keys(&args).collect();
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
