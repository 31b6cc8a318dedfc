//! Generic key commands: DEL, EXISTS, TYPE, the EXPIRE and TTL families, SCAN and KEYS.

use super::args::{int, is};
use super::{KeySpec, Keyless, Spec, ALL_KEYS, ONE_KEY, TWO_KEYS};
use crate::error::Error;
use crate::glob::Glob;
use crate::keyspace::events as ev;
use crate::keyspace::{scan_hash, Access, Db, Now, Table, Value, View};
use crate::reply::Reply;
use crate::slot::SLOTS;

/// `DEL`/`UNLINK`: how many of `keys` existed and were removed.
pub(crate) fn del<K: AsRef<[u8]>>(t: &mut Db<'_>, now: &Now<'_>, keys: &[K]) -> usize {
    keys.iter()
        .filter(|k| {
            let removed = t.get_mut(k.as_ref(), now).is_some() && t.remove(k.as_ref()).is_some();
            if removed {
                now.notify(ev::GENERIC, "del", k.as_ref());
            }
            removed
        })
        .count()
}

/// `EXISTS`: how many of `keys` exist, counting repeats.
pub(crate) fn exists<K: AsRef<[u8]>>(t: &View<'_>, now: &Now<'_>, keys: &[K]) -> usize {
    keys.iter().filter(|k| t.peek(k.as_ref(), now).is_some()).count()
}

/// The condition flags of `EXPIRE`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireFlags {
    fn parse(opts: &[&[u8]]) -> Result<Self, Error> {
        let mut f = ExpireFlags::default();
        for o in opts {
            if is(o, "nx") {
                f.nx = true;
            } else if is(o, "xx") {
                f.xx = true;
            } else if is(o, "gt") {
                f.gt = true;
            } else if is(o, "lt") {
                f.lt = true;
            } else {
                return Err(Error::Command(format!(
                    "Unsupported option {}",
                    String::from_utf8_lossy(o)
                )));
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            return Err(Error::msg("NX and XX, GT or LT options at the same time are not compatible"));
        }
        if f.gt && f.lt {
            return Err(Error::msg("GT and LT options at the same time are not compatible"));
        }
        Ok(f)
    }
}

/// `EXPIRE` family: sets the deadline `at` (Unix ms, may be in the past, which deletes the
/// key) subject to `flags`. Returns whether the TTL was set.
pub(crate) fn expire_at(t: &mut Db<'_>, now: &Now<'_>, key: &[u8], at: i64, flags: ExpireFlags) -> bool {
    let Some(e) = t.get_mut(key, now) else { return false };
    let current = e.expire_at().map(|c| c as i64);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.map_or(true, |c| at <= c))
        || (flags.lt && current.is_some_and(|c| at >= c));
    if refused {
        return false;
    }
    if at <= now.ms() as i64 {
        t.remove(key);
        now.notify(ev::GENERIC, "del", key);
    } else {
        t.set_expire(key, Some(at as u64));
        now.notify(ev::GENERIC, "expire", key);
    }
    true
}

fn expire_generic(
    t: &mut Db<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
    command: &str,
    secs: bool,
    relative: bool,
) -> Result<Reply, Error> {
    let flags = ExpireFlags::parse(&a[3..])?;
    let mut when = int(a[2])?;
    if secs {
        when = when.checked_mul(1000).ok_or_else(|| Error::invalid_expire(command))?;
    }
    if relative {
        when = when.checked_add(now.ms() as i64).ok_or_else(|| Error::invalid_expire(command))?;
    }
    Ok(Reply::Int(expire_at(t, now, a[1], when, flags).into()))
}

pub(crate) fn expire_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    expire_generic(t, now, a, "expire", true, true)
}

pub(crate) fn pexpire_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    expire_generic(t, now, a, "pexpire", false, true)
}

pub(crate) fn expireat_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    expire_generic(t, now, a, "expireat", true, false)
}

pub(crate) fn pexpireat_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    expire_generic(t, now, a, "pexpireat", false, false)
}

/// Remaining time to live in ms: `Err(-2)` if missing, `Err(-1)` if no TTL.
pub(crate) fn pttl(t: &View<'_>, now: &Now<'_>, key: &[u8]) -> Result<u64, i64> {
    let e = t.peek(key, now).ok_or(-2)?;
    let at = e.expire_at().ok_or(-1)?;
    Ok(at.saturating_sub(now.ms()))
}

pub(crate) fn ttl_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(pttl(t, now, a[1]).map_or_else(|c| c, |ms| ((ms + 500) / 1000) as i64)))
}

pub(crate) fn pttl_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(pttl(t, now, a[1]).map_or_else(|c| c, |ms| ms as i64)))
}

fn expire_time(t: &View<'_>, now: &Now<'_>, key: &[u8]) -> Result<u64, i64> {
    let e = t.peek(key, now).ok_or(-2)?;
    e.expire_at().ok_or(-1)
}

pub(crate) fn expiretime_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let r = expire_time(t, now, a[1]).map_or_else(|c| c, |at| ((at + 500) / 1000) as i64);
    Ok(Reply::Int(r))
}

pub(crate) fn pexpiretime_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(expire_time(t, now, a[1]).map_or_else(|c| c, |at| at as i64)))
}

/// `PERSIST`: removes the TTL; false if the key is missing or has none.
pub(crate) fn persist(t: &mut Db<'_>, now: &Now<'_>, key: &[u8]) -> bool {
    match t.get_mut(key, now) {
        Some(e) if e.expire_at().is_some() => {
            now.notify(ev::GENERIC, "persist", key);
            t.set_expire(key, None)
        }
        _ => false,
    }
}

pub(crate) fn persist_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(persist(t, now, a[1]).into()))
}

pub(crate) fn del_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(del(t, now, &a[1..]) as i64))
}

pub(crate) fn exists_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(exists(t, now, &a[1..]) as i64))
}

/// `RENAME`/`RENAMENX`: moves the value and TTL of `src` to `dst`. With `nx`, returns false
/// (and changes nothing) if `dst` exists.
///
/// # Errors
/// `ERR no such key` if `src` does not exist.
pub(crate) fn rename(
    t: &mut Db<'_>,
    now: &Now<'_>,
    src: &[u8],
    dst: &[u8],
    nx: bool,
) -> Result<bool, Error> {
    if !t.contains(src, now) {
        return Err(Error::msg("no such key"));
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && t.contains(dst, now) {
        return Ok(false);
    }
    let e = t.remove(src).expect("checked above");
    let at = e.expire_at();
    t.remove(dst);
    t.insert(dst, e.value, at);
    // A caller blocked on `dst` (BLPOP, BZPOPMIN) may now be served, as Redis wakes it.
    t.signal_ready(dst);
    now.notify(ev::GENERIC, "rename_from", src);
    now.notify(ev::GENERIC, "rename_to", dst);
    Ok(true)
}

pub(crate) fn rename_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    rename(t, now, a[1], a[2], false).map(|_| Reply::ok())
}

pub(crate) fn renamenx_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    rename(t, now, a[1], a[2], true).map(|done| Reply::Int(done.into()))
}

/// `COPY source destination [DB 0] [REPLACE]`.
pub(crate) fn copy_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let mut replace = false;
    let mut other_db = false;
    let mut i = 3;
    while i < a.len() {
        if is(a[i], "replace") {
            replace = true;
        } else if is(a[i], "db") && i + 1 < a.len() {
            // As Redis: an int, then one of the 16 databases, and only after every option
            // parsed, the cluster's refusal of any but database 0.
            let db = int(a[i + 1])?;
            if i32::try_from(db).is_err() {
                return Err(Error::msg(
                    "value is out of range, value must between -2147483648 and 2147483647",
                ));
            }
            if !(0..16).contains(&db) {
                return Err(Error::msg("DB index is out of range"));
            }
            other_db |= db != 0;
            i += 1;
        } else {
            return Err(Error::syntax());
        }
        i += 1;
    }
    if other_db {
        return Err(Error::msg("Copying to another database is not allowed in cluster mode"));
    }
    let (src, dst) = (a[1], a[2]);
    if src == dst {
        return Err(Error::msg("source and destination objects are the same"));
    }
    let Some(e) = t.get(src, now) else { return Ok(Reply::Int(0)) };
    let (value, at) = (e.value.clone(), e.expire_at());
    if t.contains(dst, now) && !replace {
        return Ok(Reply::Int(0));
    }
    t.remove(dst);
    t.insert(dst, value, at);
    t.signal_ready(dst);
    now.notify(ev::GENERIC, "copy_to", dst);
    Ok(Reply::Int(1))
}

/// The key of `OBJECT`/`MEMORY` subcommands: the argument after the subcommand.
const SUBCOMMAND_KEY: KeySpec = KeySpec::Range { first: 2, last: 2, step: 1 };

/// The encoding `OBJECT ENCODING` names for a string, by Redis's rules.
fn string_encoding(s: &[u8]) -> &'static str {
    if s.len() <= 20 && super::args::parse_i64(s).is_some() {
        "int"
    } else if s.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// `OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key`.
pub(crate) fn object_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let sub = String::from_utf8_lossy(a[1]).to_ascii_lowercase();
    if !["encoding", "freq", "idletime", "refcount"].contains(&sub.as_str()) || a.len() != 3 {
        return Err(Error::Command(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try OBJECT HELP.",
            String::from_utf8_lossy(a[1])
        )));
    }
    // Counted as a hit or miss, as Redis's `OBJECT` lookup is; the access is not stamped.
    let Some(e) = t.peek(a[2], now) else {
        return Ok(Reply::Nil);
    };
    Ok(match sub.as_str() {
        "encoding" => Reply::bulk(match &e.value {
            Value::Str(s) => string_encoding(s),
            // Redis 7.0 answers quicklist for every list.
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => if z.len() <= 128 { "listpack" } else { "skiplist" },
            Value::Stream(_) => "stream",
        }),
        "refcount" => Reply::Int(1),
        "freq" if now.access() == Access::Lfu => Reply::Int(e.stamp().freq(now.stamp_ms()).into()),
        "freq" => {
            return Err(Error::msg(
                "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that \
                 when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ))
        }
        _ if now.access() == Access::Lfu => {
            return Err(Error::msg(
                "An LFU maxmemory policy is selected, idle time not tracked. Please note that when \
                 switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ))
        }
        _ => Reply::Int((e.stamp().idle_ms(now.stamp_ms()) / 1000) as i64),
    })
}

/// `MEMORY USAGE key [SAMPLES n]`: the key's bytes, its share of the table included.
pub(crate) fn memory_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    if !is(a[1], "usage") {
        return Err(Error::Command(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try MEMORY HELP.",
            String::from_utf8_lossy(a[1])
        )));
    }
    match &a[3..] {
        [] => {}
        [opt, n] if is(opt, "samples") => {
            int(n)?;
        }
        _ => return Err(Error::syntax()),
    }
    // Redis reads the key's size as it is: no hit or miss counted, no access stamped.
    let table = t.table(a[2]);
    Ok(match table.get_raw(a[2]).filter(|e| Table::is_live(e, now)) {
        Some(e) => Reply::Int((e.cost() + table.slot_bytes()) as i64),
        None => Reply::Nil,
    })
}

pub(crate) fn type_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let name = t.peek(a[1], now).map_or("none", |e| e.value.type_name());
    Ok(Reply::Simple(name.into()))
}

/// `MOVE key db`: a cluster has the one database (after the key's slot is checked, as Redis
/// Cluster redirects first).
pub(crate) fn move_cmd(_: &mut Db<'_>, _: &Now<'_>, _: &[&[u8]]) -> Result<Reply, Error> {
    Err(Error::msg("MOVE is not allowed in cluster mode"))
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    // A write (routed to the primary, as Redis's `write` flag routes it) that writes nothing.
    Spec::shrink("move", 3, ONE_KEY, move_cmd),
    Spec::shrink("del", -2, ALL_KEYS, del_cmd),
    Spec::shrink("unlink", -2, ALL_KEYS, del_cmd),
    Spec::read("exists", -2, ALL_KEYS, exists_cmd),
    Spec::read("touch", -2, ALL_KEYS, exists_cmd),
    Spec::read("type", 2, ONE_KEY, type_cmd),
    Spec::shrink("expire", -3, ONE_KEY, expire_cmd),
    Spec::shrink("pexpire", -3, ONE_KEY, pexpire_cmd),
    Spec::shrink("expireat", -3, ONE_KEY, expireat_cmd),
    Spec::shrink("pexpireat", -3, ONE_KEY, pexpireat_cmd),
    Spec::read("ttl", 2, ONE_KEY, ttl_cmd),
    Spec::read("pttl", 2, ONE_KEY, pttl_cmd),
    Spec::read("expiretime", 2, ONE_KEY, expiretime_cmd),
    Spec::read("pexpiretime", 2, ONE_KEY, pexpiretime_cmd),
    Spec::shrink("persist", 2, ONE_KEY, persist_cmd),
    Spec::shrink("rename", 3, TWO_KEYS, rename_cmd),
    Spec::shrink("renamenx", 3, TWO_KEYS, renamenx_cmd),
    Spec::write("copy", -3, TWO_KEYS, copy_cmd),
    Spec::read("object", 3, SUBCOMMAND_KEY, object_cmd),
    Spec::read("memory", -3, SUBCOMMAND_KEY, memory_cmd),
    Spec::keyless("dbsize", 1, Keyless::DbSize),
    Spec::keyless("flushall", -1, Keyless::FlushAll),
    Spec::keyless("flushdb", -1, Keyless::FlushAll),
    Spec::keyless("scan", -2, Keyless::Scan),
    Spec::keyless("keys", 2, Keyless::Keys),
];

// ----- SCAN and KEYS: parsed here, run slot by slot by the client -----

/// Bits of a `SCAN` cursor below the slot number: the position in the slot's hash order.
const POS_BITS: u32 = 64 - 14;

/// A parsed `SCAN`.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) slot: usize,
    pub(crate) pos: u64,
    pub(crate) count: usize,
    pub(crate) pattern: Option<Glob>,
    pub(crate) type_name: Option<String>,
}

impl Scan {
    /// Parses `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    pub(crate) fn parse(a: &[&[u8]]) -> Result<Scan, Error> {
        let cursor: u64 = std::str::from_utf8(a[1])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::msg("invalid cursor"))?;
        let mut scan = Scan {
            slot: (cursor >> POS_BITS) as usize,
            pos: cursor & ((1 << POS_BITS) - 1),
            count: 10,
            pattern: None,
            type_name: None,
        };
        let mut i = 2;
        while i < a.len() {
            let has_next = i + 1 < a.len();
            if is(a[i], "count") && has_next {
                let n = int(a[i + 1])?;
                if n < 1 {
                    return Err(Error::syntax());
                }
                scan.count = n as usize;
            } else if is(a[i], "match") && has_next {
                let g = Glob::new(a[i + 1]);
                scan.pattern = (!g.matches_all()).then_some(g);
            } else if is(a[i], "type") && has_next {
                scan.type_name = Some(String::from_utf8_lossy(a[i + 1]).to_ascii_lowercase());
            } else {
                return Err(Error::syntax());
            }
            i += 2;
        }
        Ok(scan)
    }

    /// The cursor that resumes at `pos` of `slot`; 0 once every slot is done.
    pub(crate) fn cursor(slot: usize, pos: u64) -> u64 {
        if slot >= SLOTS {
            0
        } else {
            ((slot as u64) << POS_BITS) | pos
        }
    }

    /// Takes keys of one slot from `pos` on, in hash order, adding live matches to `out`.
    /// The slot is one table, or two while a key-by-key migration splits it between source
    /// and target (a key is in one of them). Returns the position to resume at (None when the
    /// slot is done) and how many keys were visited.
    ///
    /// Keys are visited in the order of a process-wide hash, so a key present for the whole
    /// scan is returned at least once however the tables change between calls (a key moving
    /// to the target included), as Redis promises. A batch never splits keys of equal
    /// position.
    pub(crate) fn scan_slot(
        &self,
        tables: &[&Table],
        now: &Now<'_>,
        pos: u64,
        want: usize,
        out: &mut Vec<Reply>,
    ) -> (Option<u64>, usize) {
        let mut found: Vec<(u64, &[u8], &'static str, bool)> = tables
            .iter()
            .flat_map(|t| t.iter())
            .map(|(k, e)| (scan_hash(k) >> 14, k, e.value.type_name(), Table::is_live(e, now)))
            .filter(|(h, ..)| *h >= pos)
            .collect();
        found.sort_unstable_by_key(|(h, ..)| *h);
        // A hint, as in Redis: huge tables are read in at most ~32 batches.
        let len: usize = tables.iter().map(|t| t.len()).sum();
        let mut take = want.max(len / 32).min(found.len());
        while take < found.len() && take > 0 && found[take].0 == found[take - 1].0 {
            take += 1;
        }
        for &(_, key, type_name, live) in &found[..take] {
            if live && self.accepts(key, type_name) {
                out.push(Reply::bulk(key));
            }
        }
        (found.get(take).map(|(h, ..)| *h), take)
    }

    fn accepts(&self, key: &[u8], type_name: &str) -> bool {
        self.pattern.as_ref().map_or(true, |g| g.matches(key))
            && self.type_name.as_deref().map_or(true, |t| t == type_name)
    }
}

/// Appends the live keys of `t` that match `pattern` (`KEYS`).
pub(crate) fn keys_matching(t: &Table, now: &Now<'_>, pattern: &Glob, out: &mut Vec<Reply>) {
    let all = pattern.matches_all();
    for (k, e) in t.iter() {
        if Table::is_live(e, now) && (all || pattern.matches(k)) {
            out.push(Reply::bulk(k));
        }
    }
}

/// Checks `FLUSHALL [ASYNC|SYNC]`.
pub(crate) fn parse_flush(a: &[&[u8]]) -> Result<(), Error> {
    match a {
        [_] => Ok(()),
        [_, mode] if is(mode, "async") || is(mode, "sync") => Ok(()),
        _ => Err(Error::syntax()),
    }
}
