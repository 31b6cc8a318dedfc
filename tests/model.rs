//! Model-based test of the string and key commands.
//!
//! proptest generates sequences of commands (and clock moves, and active-expiry passes); each
//! command runs against slotstore (`Client::command`) and against `Model`, a small reference
//! model of Redis 7.0 written here from Redis's documented behaviour, independently of
//! slotstore's code. Every reply and every error text must be equal. Where the documentation is
//! silent, the model follows what redis-server 7.0.15 answers (noted at each place).
//!
//! Run: `cargo test --test model` (`PROPTEST_CASES=5000` for a longer run).

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::TestCaseError;
use slotstore::{key_slot, Client, Clock, Cluster, Error, Reply};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The manual clock's start: a whole second, so `EXAT` deadlines can fall exactly on "now".
const T0: u64 = 1_700_000_000_000;

/// Whether a key whose deadline equals the current millisecond counts as expired.
///
/// slotstore says yes (`tests/cluster.rs`: "a deadline equal to now has passed"). Redis 7.0 says
/// no: `keyIsExpired` and active expiry test `now > when`, so at `now == deadline` GET still
/// answers and PTTL says 0 — redis-server 7.0.15, in one script (time frozen for lookups):
/// `SET k v PXAT <now>` then `GET k` gives "v" and `PTTL k` gives 0, while `PXAT <now-1>` gives
/// nil. Only commands that set a deadline delete the key at once when `deadline <= now`
/// (`EXPIRE` family, `GETEX EXAT/PXAT`: `checkAlreadyExpired`), and those agree already.
///
/// `false` models Redis exactly; it stays `true` until slotstore follows Redis at the boundary
/// (`src/keyspace/mod.rs` `Entry::is_expired` and `Table::purge_expired`, `src/node/mod.rs`
/// `active_expire_cycle`, `src/command/strings.rs` `set`).
const EXPIRED_AT_DEADLINE: bool = false;

/// The key pool: four keys under one hash tag, so multi-key commands on them are legal, and
/// two untagged keys in other slots.
const KEYS: [&str; 6] = ["{t}a", "{t}b", "{t}c", "{t}d", "x", "y"];

/// Values: integers (some at the limits), strings that look like integers but are not, text.
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "7",
    "10",
    "99",
    "-42",
    "007",
    "+1",
    "-0",
    "1.5",
    "abc",
    "hello world",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
];

// ----- the reference model -----

/// A command's outcome: the reply, or the error's full Redis text.
type Res = Result<Reply, String>;

const SYNTAX: &str = "ERR syntax error";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// Redis's default `proto-max-bulk-len`.
const MAX_BULK: i64 = 512 * 1024 * 1024;

fn arity_error(cmd: &str) -> String {
    format!("ERR wrong number of arguments for '{cmd}' command")
}

fn invalid_expire(cmd: &str) -> String {
    format!("ERR invalid expire time in '{cmd}' command")
}

fn bulk_or_nil(v: Option<Vec<u8>>) -> Reply {
    v.map_or(Reply::Nil, Reply::bulk)
}

/// Redis's `string2ll`: optional `-`, digits, no leading zero (but "0"), no `+`, no "-0",
/// no spaces, within i64.
fn parse_ll(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    let canonical = s == b"0" || matches!(digits.first(), Some(b'1'..=b'9'));
    if !canonical || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Arity (Redis's convention: negative means "at least") and key positions (first, last with
/// negatives from the end, step) of the commands the test sends, as `COMMAND INFO` gives them.
fn spec(name: &str) -> (i32, usize, isize, usize) {
    match name {
        "get" | "getdel" | "strlen" | "incr" | "decr" | "type" | "ttl" | "pttl" | "expiretime"
        | "pexpiretime" | "persist" => (2, 1, 1, 1),
        "setnx" | "getset" | "append" | "incrby" | "decrby" => (3, 1, 1, 1),
        "setex" | "psetex" | "getrange" | "setrange" => (4, 1, 1, 1),
        "set" | "expire" | "pexpire" | "expireat" | "pexpireat" => (-3, 1, 1, 1),
        "getex" => (-2, 1, 1, 1),
        "mget" | "del" | "exists" => (-2, 1, -1, 1),
        "mset" | "msetnx" => (-3, 1, -1, 2),
        "dbsize" => (1, 0, 0, 0),
        other => panic!("the model does not know {other}"),
    }
}

/// The options of `SET` and `GETEX`, parsed as Redis 7.0's `parseExtendedStringArgumentsOrReply`:
/// each option is refused (syntax error) if it conflicts with one seen before; the same expire
/// unit twice is accepted and the last value wins (redis-server 7.0.15: `SET k v EX 10 EX 20`
/// is OK with TTL 20).
#[derive(Default)]
struct ExtFlags<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    ex: bool,
    px: bool,
    exat: bool,
    pxat: bool,
    expire: Option<&'a [u8]>,
}

impl<'a> ExtFlags<'a> {
    fn parse(a: &'a [Vec<u8>], from: usize, set: bool) -> Result<Self, String> {
        let mut f = ExtFlags::default();
        let mut j = from;
        while j < a.len() {
            let opt = a[j].to_ascii_uppercase();
            let next = a.get(j + 1).map(Vec::as_slice);
            let (ex, px, exat, pxat) = (f.ex, f.px, f.exat, f.pxat);
            let no_ttl_option = !f.keepttl && !f.persist;
            match &opt[..] {
                b"NX" if set && !f.xx => f.nx = true,
                b"XX" if set && !f.nx => f.xx = true,
                b"GET" if set => f.get = true,
                b"KEEPTTL" if set && !f.persist && !ex && !px && !exat && !pxat => f.keepttl = true,
                b"PERSIST" if !set && !f.keepttl && !ex && !px && !exat && !pxat => f.persist = true,
                b"EX" if no_ttl_option && !px && !exat && !pxat && next.is_some() => f.ex = true,
                b"PX" if no_ttl_option && !ex && !exat && !pxat && next.is_some() => f.px = true,
                b"EXAT" if no_ttl_option && !ex && !px && !pxat && next.is_some() => f.exat = true,
                b"PXAT" if no_ttl_option && !ex && !px && !exat && next.is_some() => f.pxat = true,
                _ => return Err(SYNTAX.into()),
            }
            if matches!(&opt[..], b"EX" | b"PX" | b"EXAT" | b"PXAT") {
                f.expire = next;
                j += 1;
            }
            j += 1;
        }
        Ok(f)
    }

    fn in_seconds(&self) -> bool {
        self.ex || self.exat
    }

    fn relative(&self) -> bool {
        self.ex || self.px
    }
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    /// Absolute Unix ms.
    deadline: Option<u64>,
}

/// Redis 7.0 string and key commands on one flat keyspace, plus CROSSSLOT as Redis Cluster
/// checks it. Keys past their deadline are dropped before each command; only `DBSIZE` could
/// tell, and the test asks it only right after an active-expiry pass.
struct Model {
    now: u64,
    keys: BTreeMap<Vec<u8>, Entry>,
}

impl Model {
    fn new(now: u64) -> Self {
        Model { now, keys: BTreeMap::new() }
    }

    fn expired(now: u64, deadline: u64) -> bool {
        if EXPIRED_AT_DEADLINE {
            now >= deadline
        } else {
            now > deadline
        }
    }

    fn purge(&mut self) {
        let now = self.now;
        self.keys.retain(|_, e| !e.deadline.is_some_and(|d| Model::expired(now, d)));
    }

    fn value(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.keys.get(key).map(|e| e.value.clone())
    }

    fn put(&mut self, key: &[u8], value: Vec<u8>, deadline: Option<u64>) {
        self.keys.insert(key.to_vec(), Entry { value, deadline });
    }

    /// Replaces the value, keeping the TTL of a key that exists.
    fn overwrite(&mut self, key: &[u8], value: Vec<u8>) {
        let deadline = self.keys.get(key).and_then(|e| e.deadline);
        self.put(key, value, deadline);
    }

    /// `getExpireMillisecondsOrReply`: the expire argument of SET/SETEX/PSETEX/GETEX as an
    /// absolute deadline in ms.
    fn deadline_of(&self, arg: &[u8], secs: bool, relative: bool, cmd: &str) -> Result<i64, String> {
        let n = parse_ll(arg).ok_or(NOT_INTEGER)?;
        if n <= 0 || (secs && n > i64::MAX / 1000) {
            return Err(invalid_expire(cmd));
        }
        let ms = if secs { n * 1000 } else { n };
        let base = if relative { self.now as i64 } else { 0 };
        ms.checked_add(base).ok_or_else(|| invalid_expire(cmd))
    }

    fn run(&mut self, a: &[Vec<u8>]) -> Res {
        self.purge();
        let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
        let (arity, first, last, step) = spec(&name);
        let argc = a.len() as i32;
        if (arity >= 0 && argc != arity) || argc < -arity {
            return Err(arity_error(&name));
        }
        if first > 0 {
            let last = if last < 0 { a.len() as isize + last } else { last } as usize;
            let mut slots = (first..=last).step_by(step).filter_map(|i| a.get(i)).map(key_slot);
            let s0 = slots.next();
            if slots.any(|s| Some(s) != s0) {
                return Err(CROSSSLOT.into());
            }
        }
        let key = a.get(1).map_or(&[][..], Vec::as_slice);
        match &name[..] {
            "get" => Ok(bulk_or_nil(self.value(key))),
            "set" => self.set(a),
            "setnx" => Ok(Reply::Int(if self.keys.contains_key(key) {
                0
            } else {
                self.put(key, a[2].clone(), None);
                1
            })),
            "setex" | "psetex" => {
                let at = self.deadline_of(&a[2], name == "setex", true, &name)?;
                self.put(key, a[3].clone(), Some(at as u64));
                Ok(Reply::ok())
            }
            "getdel" => Ok(bulk_or_nil(self.keys.remove(key).map(|e| e.value))),
            "getex" => self.getex(a),
            "getset" => {
                let old = self.value(key);
                self.put(key, a[2].clone(), None);
                Ok(bulk_or_nil(old))
            }
            "append" => {
                let mut v = self.value(key).unwrap_or_default();
                v.extend_from_slice(&a[2]);
                let len = v.len();
                self.overwrite(key, v);
                Ok(Reply::Int(len as i64))
            }
            "strlen" => Ok(Reply::Int(self.value(key).map_or(0, |v| v.len()) as i64)),
            "getrange" => self.getrange(a),
            "setrange" => self.setrange(a),
            "incr" => self.incr_by(key, 1),
            "decr" => self.incr_by(key, -1),
            "incrby" => self.incr_by(key, parse_ll(&a[2]).ok_or(NOT_INTEGER)?),
            "decrby" => match parse_ll(&a[2]).ok_or(NOT_INTEGER)? {
                i64::MIN => Err("ERR decrement would overflow".into()),
                d => self.incr_by(key, -d),
            },
            "mget" => Ok(Reply::Array(a[1..].iter().map(|k| bulk_or_nil(self.value(k))).collect())),
            "mset" | "msetnx" => {
                if a.len() % 2 == 0 {
                    return Err(arity_error(&name));
                }
                let pairs = a[1..].chunks(2);
                if name == "msetnx" && pairs.clone().any(|p| self.keys.contains_key(&p[0])) {
                    return Ok(Reply::Int(0));
                }
                for p in pairs {
                    self.put(&p[0], p[1].clone(), None);
                }
                Ok(if name == "mset" { Reply::ok() } else { Reply::Int(1) })
            }
            "del" => {
                Ok(Reply::Int(a[1..].iter().filter(|k| self.keys.remove(*k).is_some()).count() as i64))
            }
            "exists" => {
                Ok(Reply::Int(a[1..].iter().filter(|k| self.keys.contains_key(*k)).count() as i64))
            }
            "type" => {
                Ok(Reply::Simple(if self.keys.contains_key(key) { "string" } else { "none" }.into()))
            }
            "expire" => self.expire(a, &name, true, true),
            "pexpire" => self.expire(a, &name, false, true),
            "expireat" => self.expire(a, &name, true, false),
            "pexpireat" => self.expire(a, &name, false, false),
            "ttl" | "pttl" | "expiretime" | "pexpiretime" => {
                let Some(e) = self.keys.get(key) else {
                    return Ok(Reply::Int(-2));
                };
                let Some(d) = e.deadline else {
                    return Ok(Reply::Int(-1));
                };
                // Wide enough for a deadline of i64::MAX (redis-server 7.0.15: after
                // `PEXPIREAT k 9223372036854775807`, EXPIRETIME is 9223372036854776).
                let (d, now) = (i128::from(d), i128::from(self.now));
                let n = if name.contains("time") { d } else { (d - now).max(0) };
                let n = if name.starts_with('p') { n } else { (n + 500) / 1000 };
                Ok(Reply::Int(n as i64))
            }
            "persist" => Ok(Reply::Int(match self.keys.get_mut(key) {
                Some(e) if e.deadline.is_some() => {
                    e.deadline = None;
                    1
                }
                _ => 0,
            })),
            "dbsize" => Ok(Reply::Int(self.keys.len() as i64)),
            other => panic!("the model does not run {other}"),
        }
    }

    /// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL]`: options, then the expire
    /// value, then GET's read, then the NX/XX condition.
    fn set(&mut self, a: &[Vec<u8>]) -> Res {
        let f = ExtFlags::parse(a, 3, true)?;
        let deadline = match f.expire {
            Some(t) => Some(self.deadline_of(t, f.in_seconds(), f.relative(), "set")?),
            None => None,
        };
        let key = &a[1][..];
        let old = self.value(key);
        let found = old.is_some();
        let answer = |stored: Reply| {
            if f.get {
                bulk_or_nil(old.clone())
            } else {
                stored
            }
        };
        if (f.nx && found) || (f.xx && !found) {
            return Ok(answer(Reply::Nil));
        }
        // A deadline already past is stored as is: the key reads as missing from now on.
        let deadline = if f.keepttl {
            self.keys.get(key).and_then(|e| e.deadline)
        } else {
            deadline.map(|d| d as u64)
        };
        self.put(key, a[2].clone(), deadline);
        Ok(answer(Reply::ok()))
    }

    /// `GETEX key [EX|PX|EXAT|PXAT t|PERSIST]`. A missing key answers nil before the expire
    /// value is checked (redis-server 7.0.15: `GETEX missing EX abc` is nil).
    fn getex(&mut self, a: &[Vec<u8>]) -> Res {
        let f = ExtFlags::parse(a, 2, false)?;
        let key = &a[1][..];
        let Some(value) = self.value(key) else {
            return Ok(Reply::Nil);
        };
        let deadline = match f.expire {
            Some(t) => Some(self.deadline_of(t, f.in_seconds(), f.relative(), "getex")?),
            None => None,
        };
        match deadline {
            Some(d) if d <= self.now as i64 => {
                self.keys.remove(key);
            }
            Some(d) => self.keys.get_mut(key).unwrap().deadline = Some(d as u64),
            None if f.persist => self.keys.get_mut(key).unwrap().deadline = None,
            None => {}
        }
        Ok(Reply::bulk(value))
    }

    /// `GETRANGE key start end`, with Redis 7.0's clamping (`GETRANGE k 0 -100` on "hello" is
    /// "h" there).
    fn getrange(&mut self, a: &[Vec<u8>]) -> Res {
        let mut start = parse_ll(&a[2]).ok_or(NOT_INTEGER)?;
        let mut end = parse_ll(&a[3]).ok_or(NOT_INTEGER)?;
        let s = self.value(&a[1]).unwrap_or_default();
        let len = s.len() as i64;
        if start < 0 && end < 0 && start > end {
            return Ok(Reply::bulk(""));
        }
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        start = start.max(0);
        end = end.max(0).min(len - 1);
        if start > end || len == 0 {
            return Ok(Reply::bulk(""));
        }
        Ok(Reply::bulk(&s[start as usize..=end as usize]))
    }

    /// `SETRANGE key offset value`: zero padding, TTL kept, an empty patch creates nothing.
    fn setrange(&mut self, a: &[Vec<u8>]) -> Res {
        let offset = parse_ll(&a[2]).ok_or(NOT_INTEGER)?;
        if offset < 0 {
            return Err("ERR offset is out of range".into());
        }
        let (key, patch) = (&a[1][..], &a[3][..]);
        let old = self.value(key);
        if patch.is_empty() {
            return Ok(Reply::Int(old.map_or(0, |v| v.len() as i64)));
        }
        if offset.checked_add(patch.len() as i64).map_or(true, |n| n > MAX_BULK) {
            return Err(TOO_LONG.into());
        }
        let mut v = old.unwrap_or_default();
        let end = offset as usize + patch.len();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[offset as usize..end].copy_from_slice(patch);
        let len = v.len();
        self.overwrite(key, v);
        Ok(Reply::Int(len as i64))
    }

    /// `INCRBY`: the stored value must be a canonical i64; the TTL is kept.
    fn incr_by(&mut self, key: &[u8], delta: i64) -> Res {
        let current = match self.value(key) {
            Some(v) => parse_ll(&v).ok_or(NOT_INTEGER)?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or(OVERFLOW)?;
        self.overwrite(key, next.to_string().into_bytes());
        Ok(Reply::Int(next))
    }

    /// `EXPIRE key t [NX|XX|GT|LT ...]` and its three siblings: options first, then the time,
    /// then the key; no TTL counts as infinite for GT/LT; a deadline not in the future deletes.
    fn expire(&mut self, a: &[Vec<u8>], cmd: &str, secs: bool, relative: bool) -> Res {
        let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
        for opt in &a[3..] {
            match &opt.to_ascii_uppercase()[..] {
                b"NX" => nx = true,
                b"XX" => xx = true,
                b"GT" => gt = true,
                b"LT" => lt = true,
                _ => return Err(format!("ERR Unsupported option {}", String::from_utf8_lossy(opt))),
            }
        }
        if nx && (xx || gt || lt) {
            return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
        }
        if gt && lt {
            return Err("ERR GT and LT options at the same time are not compatible".into());
        }
        let mut when = parse_ll(&a[2]).ok_or(NOT_INTEGER)?;
        if secs {
            if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
                return Err(invalid_expire(cmd));
            }
            when *= 1000;
        }
        let base = if relative { self.now as i64 } else { 0 };
        if when > i64::MAX - base {
            return Err(invalid_expire(cmd));
        }
        when += base;
        let key = &a[1][..];
        let Some(e) = self.keys.get_mut(key) else {
            return Ok(Reply::Int(0));
        };
        let current = e.deadline.map(|d| d as i64);
        if (nx && current.is_some())
            || (xx && current.is_none())
            || (gt && current.map_or(true, |c| when <= c))
            || (lt && current.is_some_and(|c| when >= c))
        {
            return Ok(Reply::Int(0));
        }
        if when <= self.now as i64 {
            self.keys.remove(key);
        } else {
            e.deadline = Some(when as u64);
        }
        Ok(Reply::Int(1))
    }
}

// ----- generated operations -----

/// One argument; times relative to the clock are resolved when the command runs.
#[derive(Clone)]
enum Arg {
    W(&'static str),
    I(i64),
    /// Now in Unix ms, plus this.
    AtMs(i64),
    /// Now in whole Unix seconds, plus this.
    AtSec(i64),
}

impl Arg {
    fn render(&self, now: u64) -> Vec<u8> {
        match self {
            Arg::W(s) => s.as_bytes().to_vec(),
            Arg::I(n) => n.to_string().into_bytes(),
            Arg::AtMs(d) => (now as i64 + d).to_string().into_bytes(),
            Arg::AtSec(d) => ((now / 1000) as i64 + d).to_string().into_bytes(),
        }
    }
}

impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::W(s) if s.is_empty() || s.contains(' ') => write!(f, "{s:?}"),
            Arg::W(s) => f.write_str(s),
            Arg::I(n) => write!(f, "{n}"),
            Arg::AtMs(d) => write!(f, "<now_ms{d:+}>"),
            Arg::AtSec(d) => write!(f, "<now_s{d:+}>"),
        }
    }
}

#[derive(Clone)]
enum Op {
    Cmd(Vec<Arg>),
    /// Move both clocks forward by this many ms.
    Advance(u64),
    /// `Cluster::run_active_expiry`, then compare `DBSIZE`.
    ActiveExpire,
    /// GET and PTTL of every key of the pool.
    Audit,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Cmd(args) => {
                let words: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
                write!(f, "{}", words.join(" "))
            }
            Op::Advance(ms) => write!(f, "+{ms}ms"),
            Op::ActiveExpire => f.write_str("active-expiry"),
            Op::Audit => f.write_str("audit"),
        }
    }
}

fn w(s: &'static str) -> Arg {
    Arg::W(s)
}

fn words(ws: &[&'static str]) -> BoxedStrategy<Arg> {
    select(ws.to_vec()).prop_map(Arg::W).boxed()
}

fn key() -> BoxedStrategy<Arg> {
    prop_oneof![5 => words(&KEYS[..4]), 1 => words(&KEYS[4..])].boxed()
}

fn value() -> BoxedStrategy<Arg> {
    words(VALUES)
}

/// Integer arguments (deltas, offsets of GETRANGE), sometimes not integers at all.
fn int_arg() -> BoxedStrategy<Arg> {
    prop_oneof![
        8 => (-6i64..=8).prop_map(Arg::I),
        1 => words(&["9223372036854775807", "-9223372036854775808", "abc", "1.5", "", " 1", "01"]),
    ]
    .boxed()
}

/// A relative time in seconds (EX, SETEX, EXPIRE).
fn secs() -> BoxedStrategy<Arg> {
    prop_oneof![
        10 => (-1i64..=4).prop_map(Arg::I),
        1 => words(&[
            "abc",
            "1.5",
            "9223372036854775",
            "9223372036854776",
            "9223372036854775807",
            "-9223372036854775808",
        ]),
    ]
    .boxed()
}

/// A relative time in ms (PX, PSETEX, PEXPIRE).
fn millis() -> BoxedStrategy<Arg> {
    prop_oneof![
        6 => (-5i64..2500).prop_map(Arg::I),
        4 => select(vec![1i64, 2, 499, 500, 501, 1000, 1500]).prop_map(Arg::I),
        1 => words(&["abc", "0", "9223372036854775807", "-9223372036854775808"]),
    ]
    .boxed()
}

/// An absolute time in seconds (EXAT, EXPIREAT).
fn at_secs() -> BoxedStrategy<Arg> {
    prop_oneof![
        10 => (-3i64..=5).prop_map(Arg::AtSec),
        1 => words(&["1", "0", "-1", "abc", "9223372036854775807"]),
    ]
    .boxed()
}

/// An absolute time in ms (PXAT, PEXPIREAT).
fn at_millis() -> BoxedStrategy<Arg> {
    prop_oneof![
        6 => (-1500i64..4000).prop_map(Arg::AtMs),
        4 => select(vec![-1i64, 0, 1, 2, 500, 1000]).prop_map(Arg::AtMs),
        1 => words(&["1", "0", "-1", "abc", "9223372036854775807"]),
    ]
    .boxed()
}

fn with(name: &'static str, value: BoxedStrategy<Arg>) -> BoxedStrategy<Vec<Arg>> {
    value.prop_map(move |v| vec![w(name), v]).boxed()
}

/// The TTL part of SET (`set`) or GETEX.
fn ttl_option(set: bool) -> BoxedStrategy<Vec<Arg>> {
    let other = if set { "KEEPTTL" } else { "PERSIST" };
    prop_oneof![
        3 => with("EX", secs()),
        3 => with("PX", millis()),
        3 => with("EXAT", at_secs()),
        3 => with("PXAT", at_millis()),
        2 => Just(vec![w(other)]),
        1 => with("px", millis()),
    ]
    .boxed()
}

/// Options of SET (`set`) or GETEX: mostly a valid combination in any order, sometimes a
/// soup of option words that Redis may refuse.
fn ext_options(set: bool) -> BoxedStrategy<Vec<Arg>> {
    let valid: BoxedStrategy<Vec<Vec<Arg>>> = if set {
        (
            select(vec![None, Some("NX"), Some("XX"), Some("nx")]),
            any::<bool>(),
            proptest::option::weighted(0.7, ttl_option(true)),
        )
            .prop_map(|(cond, get, ttl)| {
                let mut groups: Vec<Vec<Arg>> = Vec::new();
                groups.extend(cond.map(|c| vec![w(c)]));
                if get {
                    groups.push(vec![w("GET")]);
                }
                groups.extend(ttl);
                groups
            })
            .boxed()
    } else {
        proptest::option::weighted(0.8, ttl_option(false)).prop_map(|t| t.into_iter().collect()).boxed()
    };
    let word = prop_oneof![
        3 => ttl_option(set),
        2 => args1(words(&["NX", "XX", "GET", "KEEPTTL", "PERSIST", "FOO", "EX", "PXAT"])),
    ];
    let soup = proptest::collection::vec(word, 1..4);
    prop_oneof![5 => valid.prop_shuffle(), 1 => soup]
        .prop_map(|groups| groups.into_iter().flatten().collect())
        .boxed()
}

type Args = BoxedStrategy<Vec<Arg>>;

fn args1(a: BoxedStrategy<Arg>) -> Args {
    a.prop_map(|a| vec![a]).boxed()
}

fn args2(a: BoxedStrategy<Arg>, b: BoxedStrategy<Arg>) -> Args {
    (a, b).prop_map(|(a, b)| vec![a, b]).boxed()
}

fn args3(a: BoxedStrategy<Arg>, b: BoxedStrategy<Arg>, c: BoxedStrategy<Arg>) -> Args {
    (a, b, c).prop_map(|(a, b, c)| vec![a, b, c]).boxed()
}

fn concat(a: Args, b: Args) -> Args {
    (a, b).prop_map(|(a, b)| [a, b].concat()).boxed()
}

/// 1 to 3 keys.
fn keys() -> Args {
    proptest::collection::vec(key(), 1..4).boxed()
}

/// 1 to 3 key-value pairs, and rarely a key without its value.
fn pairs() -> Args {
    let pairs = proptest::collection::vec(args2(key(), value()), 1..4);
    (pairs, proptest::option::weighted(0.1, key()))
        .prop_map(|(pairs, dangling)| pairs.into_iter().flatten().chain(dangling).collect())
        .boxed()
}

/// The command `name` with `args`.
fn command(name: &'static str, args: Args) -> BoxedStrategy<Op> {
    args.prop_map(move |args| Op::Cmd([vec![w(name)], args].concat())).boxed()
}

fn expire_op() -> BoxedStrategy<Op> {
    let flag = prop_oneof![10 => words(&["NX", "XX", "GT", "LT", "gt"]), 1 => words(&["FOO"])];
    let flags = proptest::collection::vec(flag, 0..3).boxed();
    prop_oneof![
        command("EXPIRE", concat(args2(key(), secs()), flags.clone())),
        command("PEXPIRE", concat(args2(key(), millis()), flags.clone())),
        command("EXPIREAT", concat(args2(key(), at_secs()), flags.clone())),
        command("PEXPIREAT", concat(args2(key(), at_millis()), flags)),
    ]
    .boxed()
}

fn op() -> impl Strategy<Value = Op> {
    let offset = prop_oneof![
        10 => (0i64..8).prop_map(Arg::I),
        1 => words(&["-1", "536870912", "9223372036854775807", "x"]),
    ];
    let advance = prop_oneof![select(vec![1u64, 2, 499, 500, 501, 999, 1000, 1001]), 0u64..3000];
    let arms: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (12, command("SET", concat(args2(key(), value()), ext_options(true)))),
        (6, command("GET", args1(key()))),
        (2, command("GETDEL", args1(key()))),
        (4, command("GETEX", concat(args1(key()), ext_options(false)))),
        (2, command("GETSET", args2(key(), value()))),
        (2, command("SETNX", args2(key(), value()))),
        (2, command("SETEX", args3(key(), secs(), value()))),
        (2, command("PSETEX", args3(key(), millis(), value()))),
        (3, command("APPEND", args2(key(), value()))),
        (2, command("STRLEN", args1(key()))),
        (2, command("GETRANGE", args3(key(), int_arg(), int_arg()))),
        (2, command("SETRANGE", args3(key(), offset.boxed(), value()))),
        (3, command("INCR", args1(key()))),
        (2, command("DECR", args1(key()))),
        (2, command("INCRBY", args2(key(), int_arg()))),
        (2, command("DECRBY", args2(key(), int_arg()))),
        (3, command("MGET", keys())),
        (3, command("MSET", pairs())),
        (2, command("MSETNX", pairs())),
        (3, command("DEL", keys())),
        (2, command("EXISTS", keys())),
        (1, command("TYPE", args1(key()))),
        (8, expire_op()),
        (3, command("TTL", args1(key()))),
        (3, command("PTTL", args1(key()))),
        (1, command("EXPIRETIME", args1(key()))),
        (1, command("PEXPIRETIME", args1(key()))),
        (2, command("PERSIST", args1(key()))),
        (8, advance.prop_map(Op::Advance).boxed()),
        (2, Just(Op::ActiveExpire).boxed()),
        (2, Just(Op::Audit).boxed()),
    ];
    Union::new_weighted(arms)
}

// ----- running both sides -----

struct Harness {
    clock: Clock,
    cluster: Cluster,
    client: Client,
    model: Model,
    /// What ran so far, for the failure message.
    log: String,
}

fn show(r: &Res) -> String {
    match r {
        Ok(reply) => reply.to_string().replace('\n', " | "),
        Err(e) => format!("(error) {e}"),
    }
}

impl Harness {
    fn new() -> Self {
        let clock = Clock::manual(T0);
        let cluster = Cluster::builder().primaries(3).clock(clock.clone()).build().unwrap();
        let client = cluster.client();
        Harness { clock, cluster, client, model: Model::new(T0), log: String::new() }
    }

    /// Runs `words` on both sides; Err with the transcript if the replies differ.
    fn check(&mut self, words: &[Vec<u8>]) -> Result<(), TestCaseError> {
        self.run_both(words).map(drop)
    }

    /// Runs `words` on both sides: slotstore's reply, or Err with the transcript if the model's
    /// differs.
    fn run_both(&mut self, words: &[Vec<u8>]) -> Result<Res, TestCaseError> {
        let want = self.model.run(words);
        let got = self.client.command(words).map_err(|e| e.to_string());
        let line: Vec<String> =
            words.iter().map(|w| format!("{:?}", String::from_utf8_lossy(w))).collect();
        self.log += &format!("  t+{}ms: {} -> {}\n", self.model.now - T0, line.join(" "), show(&got));
        if got != want {
            return Err(TestCaseError::fail(format!(
                "reply differs\n  slotstore: {}\n  model:     {}\ntranscript:\n{}",
                show(&got),
                show(&want),
                self.log
            )));
        }
        Ok(got)
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Cmd(args) => {
                let words: Vec<Vec<u8>> = args.iter().map(|a| a.render(self.model.now)).collect();
                self.check(&words)?;
            }
            Op::Advance(ms) => {
                self.clock.advance(Duration::from_millis(*ms));
                self.model.now += ms;
                self.log += &format!("  (clock +{ms}ms)\n");
            }
            Op::ActiveExpire => {
                self.cluster.run_active_expiry();
                self.log += "  (active expiry)\n";
                self.check(&[b"DBSIZE".to_vec()])?;
            }
            Op::Audit => {
                for k in KEYS {
                    self.check(&[b"GET".to_vec(), k.into()])?;
                    self.check(&[b"PTTL".to_vec(), k.into()])?;
                }
            }
        }
        Ok(())
    }

    /// Runs `words` (split on spaces) on both sides and checks the reply is `want`.
    fn expect(&mut self, command: &str, want: Res) {
        let words: Vec<Vec<u8>> = command.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        match self.run_both(&words) {
            Ok(got) => assert_eq!(got, want, "{command}\ntranscript:\n{}", self.log),
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Harness::apply`] for hand-written tests: panics with the transcript on a difference.
    fn step(&mut self, op: Op) {
        if let Err(e) = self.apply(&op) {
            panic!("{e}");
        }
    }

    fn advance(&mut self, ms: u64) {
        self.step(Op::Advance(ms));
    }

    fn now(&self) -> u64 {
        self.model.now
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random sequences: slotstore answers every command as the Redis model does.
    #[test]
    fn commands_match_the_redis_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut h = Harness::new();
        for op in &ops {
            h.apply(op)?;
        }
        // A last look at every key, then at what active expiry leaves.
        h.apply(&Op::Audit)?;
        h.apply(&Op::ActiveExpire)?;
    }
}

/// TTL boundaries by hand, each reply written out (and checked against the model too).
#[test]
fn ttl_boundaries() {
    let mut h = Harness::new();
    let int = |n: i64| Ok(Reply::Int(n));
    let ok = || Ok(Reply::ok());
    let v = || Ok(Reply::bulk("v"));
    let nil = || Ok(Reply::Nil);
    // At `now == deadline`: gone for slotstore, still there for Redis 7.0 (see the constant).
    let at_deadline = |gone: Res, alive: Res| if EXPIRED_AT_DEADLINE { gone } else { alive };

    // A key set for 1000 ms, read on both sides of its deadline; TTL rounds to nearest.
    h.expect("SET {t}a v PX 1000", ok());
    h.expect("PTTL {t}a", int(1000));
    h.expect("TTL {t}a", int(1));
    h.expect("PEXPIRETIME {t}a", int(T0 as i64 + 1000));
    h.expect("EXPIRETIME {t}a", int(T0 as i64 / 1000 + 1));
    h.advance(499);
    h.expect("TTL {t}a", int(1)); // 501 ms
    h.advance(1);
    h.expect("TTL {t}a", int(1)); // 500 ms rounds up
    h.advance(1);
    h.expect("TTL {t}a", int(0)); // 499 ms
    h.advance(498);
    h.expect("PTTL {t}a", int(1));
    h.expect("GET {t}a", v());
    h.advance(1);
    h.expect("GET {t}a", at_deadline(nil(), v()));
    h.expect("PTTL {t}a", at_deadline(int(-2), int(0)));
    h.expect("TTL {t}a", at_deadline(int(-2), int(0)));
    h.expect("EXISTS {t}a", at_deadline(int(0), int(1)));
    h.expect(
        "TYPE {t}a",
        at_deadline(Ok(Reply::Simple("none".into())), Ok(Reply::Simple("string".into()))),
    );
    h.advance(1);
    h.expect("GET {t}a", nil());
    h.expect("PTTL {t}a", int(-2));
    h.expect("TTL {t}a", int(-2));
    h.expect("EXISTS {t}a", int(0));
    h.expect("TYPE {t}a", Ok(Reply::Simple("none".into())));
    h.expect("PERSIST {t}a", int(0));
    h.expect("INCR {t}a", int(1));
    h.expect("PTTL {t}a", int(-1));

    // Setting a deadline that is not in the future deletes the key at once (Redis's
    // checkAlreadyExpired: `deadline <= now`), and still answers 1.
    let now = h.now();
    h.expect("SET {t}b v", ok());
    h.expect(&format!("PEXPIREAT {{t}}b {now}"), int(1));
    h.expect("EXISTS {t}b", int(0));
    h.expect("SET {t}b v", ok());
    h.expect("EXPIRE {t}b 0", int(1));
    h.expect("GET {t}b", nil());
    h.expect("SET {t}b v", ok());
    h.expect("PEXPIRE {t}b -1", int(1));
    h.expect("GET {t}b", nil());
    h.expect("SET {t}b v", ok());
    h.expect(&format!("GETEX {{t}}b PXAT {now}"), v());
    h.expect("EXISTS {t}b", int(0));
    h.expect("SET {t}b v", ok());
    h.expect(&format!("PEXPIREAT {{t}}b {}", now + 1), int(1));
    h.expect("PTTL {t}b", int(1));
    // GT against a key without TTL fails (no TTL is infinite); LT succeeds.
    h.expect("SET {t}b v", ok());
    h.expect("EXPIRE {t}b 10 GT", int(0));
    h.expect("EXPIRE {t}b 10 LT", int(1));
    h.expect("PEXPIRE {t}b 10000 LT", int(0));
    h.expect("PEXPIRE {t}b 9999 LT", int(1));
    h.expect("EXPIRE {t}b -1 LT", int(1));
    h.expect("EXISTS {t}b", int(0));

    // SET with an absolute deadline: in the past it stores a key that reads as missing; at
    // exactly now it is the boundary case again.
    let now = h.now();
    h.expect(&format!("SET {{t}}c v PXAT {}", now - 1), ok());
    h.expect("GET {t}c", nil());
    h.expect(&format!("SET {{t}}c v PXAT {now}"), ok());
    h.expect("GET {t}c", at_deadline(nil(), v()));
    h.expect(&format!("SET {{t}}c v PXAT {}", now + 1), ok());
    h.expect("GET {t}c", v());
    h.advance(1);
    h.expect("PTTL {t}c", at_deadline(int(-2), int(0)));
    h.advance(1);
    h.expect("PTTL {t}c", int(-2));

    // EXAT on a whole second: T0 is one, so move to the next.
    let next_second = h.now() / 1000 + 1;
    h.advance(next_second * 1000 - h.now());
    h.expect(&format!("SET {{t}}c v EXAT {next_second}"), ok());
    h.expect("PTTL {t}c", at_deadline(int(-2), int(0)));
    h.expect(&format!("SET {{t}}c v EXAT {}", next_second + 1), ok());
    h.expect("TTL {t}c", int(1));
    // KEEPTTL keeps the deadline, plain SET and GETSET drop it, INCR and APPEND keep it.
    h.expect("SET {t}c 5 KEEPTTL", ok());
    h.expect("INCR {t}c", int(6));
    h.expect("APPEND {t}c 0", int(2));
    h.expect("PTTL {t}c", int(1000));
    h.expect("GETSET {t}c 1", Ok(Reply::bulk("60")));
    h.expect("PTTL {t}c", int(-1));

    // Zero and negative relative times are refused by SET/SETEX/GETEX (not by EXPIRE).
    h.expect("SET {t}d v EX 0", Err(invalid_expire("set")));
    h.expect("SETEX {t}d -1 v", Err(invalid_expire("setex")));
    h.expect("PSETEX {t}d 0 v", Err(invalid_expire("psetex")));
    h.expect("SET {t}d v PX 1", ok());
    h.expect("GETEX {t}d PX 0", Err(invalid_expire("getex")));
    h.advance(1);
    h.expect("GET {t}d", at_deadline(nil(), v()));
    h.advance(1);
    h.expect("GET {t}d", nil());

    // Active expiry removes what has expired, and DBSIZE then counts the live keys.
    h.expect("PSETEX x 10 v", ok());
    h.expect("PSETEX y 11 v", ok());
    h.advance(10);
    h.step(Op::ActiveExpire);
    h.advance(2);
    h.step(Op::ActiveExpire);
    h.expect("DBSIZE", int(2)); // {t}a and {t}c
    assert_eq!(h.client.command(&["MGET", "x", "{t}a"]), Err(Error::CrossSlot));
}
