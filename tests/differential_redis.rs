//! The differential test: random command sequences over all five data types (strings with
//! keys and expiry, lists, hashes, sets, sorted sets) and across them (RENAME, COPY, TYPE,
//! WRONGTYPE), run against a real `redis-server` (the oracle) and slotstore's `Client::command`
//! side by side, every reply compared. Unordered replies are compared as sets, random picks by
//! how many, errors by their full text (slotstore's errors claim Redis's text), scans over a
//! whole scan (the cursors themselves differ by design).
//!
//! Environment (see `tests/common/mod.rs`): `SLOTSTORE_REDIS_ADDR` names the server (unset:
//! skipped, no default address); `SLOTSTORE_REQUIRE_REDIS=1` makes a missing server a failure;
//! `SLOTSTORE_DIFF_SEED` replays a run (the seed is printed); `SLOTSTORE_DIFF_STEPS` sets the
//! number of random commands per test. Each test keeps its keys under its own hash tag
//! (`{diff-<test>}`) and deletes only those: the tests run in parallel against one server.
//!
//! Where slotstore differs from Redis on purpose, the generators steer around it: scores only
//! where a double gives Redis's digits (`INCRBYFLOAT` on stored values is steered the same way
//! here, though slotstore now computes it in long double as Redis: `tests/differential_types.rs`
//! tests arbitrary decimals);
//! lex ranges on mixed-score sorted sets only while Redis keeps them as a listpack (otherwise
//! the answer depends on its skip list's shape); random picks compared by count.
//!
//! Time (strings): both sides read the wall clock. Expiry times are drawn from a lattice (whole
//! units of 10^6 s, plus one second per step) so that `GT`/`LT` comparisons never depend on
//! which millisecond a command ran in, keys never expire by accident during a run, and
//! `TTL`-like replies are compared with a small tolerance. Keys that expire on purpose are
//! given 1 ms and the test sleeps past it before the next command.

mod common;

use common::{Diff, Rng};
use slotstore::{Cluster, Reply};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Compares everything a reader can see of `keys` (written with the placeholder tag `{t}`):
/// type, TTL and whole contents.
fn compare_keys(d: &mut Diff, keys: &[String]) {
    for key in keys {
        d.check(&["PTTL", key]);
        let content: &[&str] = match d.compare(&["TYPE", key]) {
            Ok(Reply::Simple(t)) if t == "string" => &["GET"],
            Ok(Reply::Simple(t)) if t == "list" => &["LRANGE", "0", "-1"],
            Ok(Reply::Simple(t)) if t == "hash" => &["HGETALL"],
            Ok(Reply::Simple(t)) if t == "set" => &["SMEMBERS"],
            Ok(Reply::Simple(t)) if t == "zset" => &["ZRANGE", "0", "-1", "WITHSCORES"],
            _ => continue,
        };
        let mut args = vec![content[0], key.as_str()];
        args.extend(&content[1..]);
        d.check(&args);
    }
}

// ----- command generation -----

const KEYS: usize = 8;

/// Strings stored as values: numbers of every kind Redis parses or refuses, binary, empty.
const VALUES: &[&str] = &[
    "",
    "v",
    "hello",
    "world",
    "0",
    "1",
    "-1",
    "7",
    "10",
    "-7",
    "42",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "1.5",
    "-2.5",
    "0.5",
    "3.0",
    "1e3",
    "2E2",
    "abc",
    " 1",
    "1 ",
    "01",
    "+1",
    "-0",
    "inf",
    "-inf",
    "nan",
    "0x1A",
    "0X1p4",
    "1e5000",
    ".5",
    "5.",
    "\u{0}\u{ff}bin",
    "a\r\nb",
];

/// Integer arguments (increments, offsets, indexes).
const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "5",
    "-5",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "abc",
    "1.5",
    "",
    "01",
    "+1",
    " 1",
    "-0",
];

/// `INCRBYFLOAT` increments: exact binary fractions, decimals a double cannot hold (slotstore
/// adds in long double as Redis does, so `0.1` gives Redis's digits too; random decimals are
/// `tests/differential_types.rs`'s) and malformed numbers.
const FLOATS: &[&str] = &[
    "0.5", "1", "-1.5", "2", "10", "-0.5", "0", "3.0", "1e2", "+2.5", ".5", "5.", "1.5e1", "-0.25",
    "0x10", "0x1p1", "abc", "", "nan", "inf", "-inf", "+inf", " 1", "1 ", "1e5000", "1.5.5", "--1",
    "0.1", "1.1", "-2.675", "1e-3",
];

/// Expire values that are not valid: Redis refuses them one way or another (or accepts some
/// for `EXPIRE`, where negative times delete).
const BAD_TIMES: &[&str] = &[
    "0",
    "-1",
    "-100",
    "abc",
    "",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "9223372036854775",
    "-9223372036854775",
    "+5",
    "01",
];

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Seconds,
    Millis,
}

struct Gen {
    rng: Rng,
    step: i64,
    /// Set by a command that gives a key 1 ms to live: the runner sleeps past it.
    sleep_after: bool,
    /// Wall clock at the start of the run, in whole seconds (ms).
    base_ms: i64,
}

impl Gen {
    fn key(&mut self) -> Vec<u8> {
        format!("{{t}}k{}", self.rng.below(KEYS)).into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        if self.rng.chance(15) {
            let n = self.rng.below(6);
            (0..n).map(|_| b'a' + self.rng.below(26) as u8).collect()
        } else {
            self.rng.pick(VALUES).as_bytes().to_vec()
        }
    }

    /// A command or option name in random case.
    fn word(&mut self, w: &str) -> Vec<u8> {
        match self.rng.below(10) {
            0..=5 => w.to_ascii_uppercase().into_bytes(),
            6..=7 => w.to_ascii_lowercase().into_bytes(),
            _ => {
                w.bytes()
                    .map(|b| {
                        if self.rng.chance(50) {
                            b.to_ascii_lowercase()
                        } else {
                            b.to_ascii_uppercase()
                        }
                    })
                    .collect()
            }
        }
    }

    /// One of `words`, in random case.
    fn word_of(&mut self, words: &[&str]) -> Vec<u8> {
        let w = self.rng.pick(words);
        self.word(w)
    }

    fn int(&mut self) -> Vec<u8> {
        if self.rng.chance(70) {
            self.rng.range(-20, 20).to_string().into_bytes()
        } else {
            self.rng.pick(INTS).as_bytes().to_vec()
        }
    }

    /// A relative time on the lattice: k * 10^6 s plus one second per step, k in 1..=3.
    fn rel_time(&mut self, unit: Unit) -> i64 {
        let k = self.rng.range(1, 3);
        match unit {
            Unit::Seconds => k * 1_000_000 + self.step,
            Unit::Millis => k * 1_000_000_000 + self.step * 1000,
        }
    }

    /// An absolute time on the lattice, half a unit away from every relative time.
    fn abs_time(&mut self, unit: Unit) -> i64 {
        let k = self.rng.range(1, 3);
        let ms = self.base_ms + k * 1_000_000_000 + 500_000_000 + self.step * 1000;
        match unit {
            Unit::Seconds => ms / 1000,
            Unit::Millis => ms,
        }
    }

    /// An absolute time already past.
    fn past_time(&mut self, unit: Unit) -> i64 {
        let ms = self.rng.pick(&[1000, 100_000, self.base_ms - 1_000_000_000, self.base_ms / 2]);
        match unit {
            Unit::Seconds => ms / 1000,
            Unit::Millis => ms,
        }
    }

    /// The argument of a `SET`/`GETEX` expire option or a `SETEX`.
    fn expire_value(&mut self, unit: Unit, absolute: bool) -> Vec<u8> {
        let v = match self.rng.below(100) {
            0..=74 if absolute => self.abs_time(unit),
            0..=74 => self.rel_time(unit),
            75..=84 if absolute => self.past_time(unit),
            75..=84 => self.rng.range(-3, 0),
            _ => return self.rng.pick(BAD_TIMES).as_bytes().to_vec(),
        };
        v.to_string().into_bytes()
    }

    /// The options of `SET` (`set` true) or `GETEX`: mostly legal combinations, sometimes
    /// repeated, conflicting, dangling or unknown ones.
    fn expire_options(&mut self, set: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let n = self.rng.pick(&[0, 1, 1, 2, 2, 3, 4]);
        for _ in 0..n {
            let choice = self.rng.below(if set { 16 } else { 11 });
            match choice {
                0..=1 => {
                    let unit = if self.rng.chance(50) { Unit::Seconds } else { Unit::Millis };
                    out.push(self.word(if unit == Unit::Seconds { "ex" } else { "px" }));
                    out.push(self.expire_value(unit, false));
                }
                2..=3 => {
                    let unit = if self.rng.chance(50) { Unit::Seconds } else { Unit::Millis };
                    out.push(self.word(if unit == Unit::Seconds { "exat" } else { "pxat" }));
                    out.push(self.expire_value(unit, true));
                }
                4 => out.push(self.word(if set { "keepttl" } else { "persist" })),
                5 => out.push(self.word_of(&["ex", "px", "exat", "pxat"])), // dangling or eats the next option
                6 => out.push(self.word_of(&["foo", "exx", "p", "e", "keep"])),
                7 => out.push(self.word(if set { "persist" } else { "keepttl" })),
                8 => out.push(self.word_of(&["nx", "xx", "get"])),
                9..=10 => {}
                11..=12 => out.push(self.word("nx")),
                13 => out.push(self.word("xx")),
                _ => out.push(self.word("get")),
            }
        }
        out
    }

    /// `EXPIRE` family flags.
    fn expire_flags(&mut self) -> Vec<Vec<u8>> {
        let n = self.rng.pick(&[0, 0, 1, 1, 1, 2]);
        (0..n)
            .map(|_| {
                let f = self.rng.pick(&["nx", "xx", "gt", "lt", "gt", "lt", "xx", "nx", "foo"]);
                self.word(f)
            })
            .collect()
    }

    fn keys(&mut self, min: usize) -> Vec<Vec<u8>> {
        let n = min + self.rng.below(4);
        (0..n).map(|_| self.key()).collect()
    }

    /// One random command. `peek` asks the oracle for a key's value (for `INCRBYFLOAT`,
    /// which is only run where a double gives Redis's long double digits).
    fn command(&mut self, peek: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>) -> Vec<Vec<u8>> {
        let c = |name: &str, g: &mut Gen| vec![g.word(name)];
        self.sleep_after = false;
        let kind = self.rng.below(100);
        let mut a;
        match kind {
            0..=11 => {
                a = c("set", self);
                a.push(self.key());
                a.push(self.value());
                a.extend(self.expire_options(true));
            }
            12..=17 => {
                a = c("get", self);
                a.push(self.key());
            }
            18..=19 => {
                a = c("getdel", self);
                a.push(self.key());
            }
            20..=23 => {
                a = c("getex", self);
                a.push(self.key());
                a.extend(self.expire_options(false));
            }
            24 => {
                a = c("getset", self);
                a.push(self.key());
                a.push(self.value());
            }
            25 => {
                a = c("setnx", self);
                a.push(self.key());
                a.push(self.value());
            }
            26..=27 => {
                let secs = self.rng.chance(50);
                a = c(if secs { "setex" } else { "psetex" }, self);
                a.push(self.key());
                a.push(self.expire_value(if secs { Unit::Seconds } else { Unit::Millis }, false));
                a.push(self.value());
            }
            28..=30 => {
                a = c("append", self);
                a.push(self.key());
                a.push(self.value());
            }
            31 => {
                a = c("strlen", self);
                a.push(self.key());
            }
            32..=33 => {
                a = c(if self.rng.chance(80) { "getrange" } else { "substr" }, self);
                a.push(self.key());
                a.push(self.int());
                a.push(self.int());
            }
            34..=35 => {
                a = c("setrange", self);
                a.push(self.key());
                let offset = match self.rng.below(10) {
                    0 => self
                        .rng
                        .pick(&["-1", "abc", "536870912", "9223372036854775807", "536870911"])
                        .to_string(),
                    _ => self.rng.range(0, 12).to_string(),
                };
                // 536870911 plus one byte is exactly the limit: keep it for the empty value.
                let value = if offset == "536870911" { Vec::new() } else { self.value() };
                a.push(offset.into_bytes());
                a.push(value);
            }
            36..=41 => {
                let name = self.rng.pick(&["incr", "decr", "incrby", "decrby"]);
                a = c(name, self);
                a.push(self.key());
                if name.ends_with("by") {
                    a.push(self.int());
                }
            }
            42..=45 => {
                let key = self.key();
                if let Some(v) = peek(&key) {
                    if !float_exact(&v) {
                        // Redis computes in long double; overwrite with an exact number first.
                        a = c("set", self);
                        a.push(key);
                        a.push(self.rng.range(-10, 10).to_string().into_bytes());
                        return a;
                    }
                }
                a = c("incrbyfloat", self);
                a.push(key);
                a.push(self.rng.pick(FLOATS).as_bytes().to_vec());
            }
            46..=48 => {
                a = c("mget", self);
                a.extend(self.keys(1));
            }
            49..=51 => {
                a = c(if self.rng.chance(60) { "mset" } else { "msetnx" }, self);
                for _ in 0..1 + self.rng.below(3) {
                    a.push(self.key());
                    a.push(self.value());
                }
                if self.rng.chance(10) {
                    a.push(self.key()); // odd: wrong number of arguments
                }
            }
            52..=54 => {
                a = c(if self.rng.chance(70) { "del" } else { "unlink" }, self);
                a.extend(self.keys(1));
            }
            55..=57 => {
                a = c(if self.rng.chance(70) { "exists" } else { "touch" }, self);
                a.extend(self.keys(1));
            }
            58..=59 => {
                a = c("type", self);
                a.push(self.key());
            }
            60..=71 => {
                let (name, unit, absolute) = self.rng.pick(&[
                    ("expire", Unit::Seconds, false),
                    ("pexpire", Unit::Millis, false),
                    ("expireat", Unit::Seconds, true),
                    ("pexpireat", Unit::Millis, true),
                ]);
                a = c(name, self);
                a.push(self.key());
                let when = match self.rng.below(100) {
                    0..=69 if absolute => self.abs_time(unit).to_string(),
                    0..=69 => self.rel_time(unit).to_string(),
                    70..=79 if absolute => self.past_time(unit).to_string(),
                    70..=79 => self.rng.range(-3, 0).to_string(),
                    _ => self.rng.pick(BAD_TIMES).to_string(),
                };
                a.push(when.into_bytes());
                a.extend(self.expire_flags());
            }
            72..=81 => {
                a = vec![self.word_of(&["ttl", "pttl", "expiretime", "pexpiretime"])];
                a.push(self.key());
            }
            82..=84 => {
                a = c("persist", self);
                a.push(self.key());
            }
            85..=93 => a = self.wrong_arity(),
            94..=95 => {
                a = vec![self.rng.pick(&["foo", "GETT", "sett", "expir"]).as_bytes().to_vec()];
                for _ in 0..self.rng.below(3) {
                    a.push(self.key());
                }
            }
            _ => a = self.expire_soon(),
        }
        a
    }

    /// A command with a wrong number of arguments.
    fn wrong_arity(&mut self) -> Vec<Vec<u8>> {
        const ARITY: &[(&str, i32)] = &[
            ("get", 2),
            ("set", -3),
            ("setnx", 3),
            ("setex", 4),
            ("psetex", 4),
            ("getdel", 2),
            ("getex", -2),
            ("getset", 3),
            ("append", 3),
            ("strlen", 2),
            ("getrange", 4),
            ("substr", 4),
            ("setrange", 4),
            ("incr", 2),
            ("decr", 2),
            ("incrby", 3),
            ("decrby", 3),
            ("incrbyfloat", 3),
            ("mget", -2),
            ("mset", -3),
            ("msetnx", -3),
            ("del", -2),
            ("unlink", -2),
            ("exists", -2),
            ("touch", -2),
            ("type", 2),
            ("expire", -3),
            ("pexpire", -3),
            ("expireat", -3),
            ("pexpireat", -3),
            ("ttl", 2),
            ("pttl", 2),
            ("expiretime", 2),
            ("pexpiretime", 2),
            ("persist", 2),
        ];
        let (name, arity) = self.rng.pick(ARITY);
        let argc = if arity > 0 {
            let wrong: Vec<usize> = (1..=arity as usize + 2).filter(|&n| n != arity as usize).collect();
            self.rng.pick(&wrong)
        } else {
            1 + self.rng.below(arity.unsigned_abs() as usize - 1)
        };
        let mut a = vec![self.word(name)];
        for _ in 1..argc {
            a.push(self.key());
        }
        a
    }

    /// A command that gives a key 1 ms to live; the runner sleeps past it afterwards.
    fn expire_soon(&mut self) -> Vec<Vec<u8>> {
        let key = self.key();
        self.sleep_after = true;
        match self.rng.below(4) {
            0 => vec![self.word("set"), key, self.value(), self.word("px"), b"1".to_vec()],
            1 => vec![self.word("psetex"), key, b"1".to_vec(), self.value()],
            2 => vec![self.word("pexpire"), key, b"1".to_vec()],
            _ => vec![self.word("getex"), key, self.word("px"), b"1".to_vec()],
        }
    }
}

/// True if `INCRBYFLOAT` on this stored value gives the same digits with a double as with
/// Redis's long double: text that is no number, a literal infinity, a small multiple of 1/4,
/// or a large integer a double holds exactly (a hex float of at most 13 digits from 2^80 to
/// 2^900, where small increments vanish in both). Not: `1e3000` (a long double, not a
/// double), `1e-5000` (too small even for a long double: Redis refuses, a double reads 0).
fn float_exact(v: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(v) else { return true };
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let (mantissa, exp) = hex.split_once(['p', 'P']).unwrap_or((hex, "0"));
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        let (Ok(m), Ok(e)) = (u64::from_str_radix(&digits, 16), exp.parse::<i32>()) else {
            // Not a hex float: refused by both. But a mantissa too long for a u64 is a number
            // both read, one this check cannot vouch for (`0X9223372036854775806` is 4.3e22).
            let long_mantissa = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit());
            return !long_mantissa;
        };
        let frac = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i32);
        let e = e - 4 * frac;
        let x = m as f64 * 2f64.powi(e);
        let small = x < (1u64 << 40) as f64 && (x * 4.0).fract() == 0.0;
        let huge = digits.len() <= 13 && x >= 2f64.powi(80) && x < 2f64.powi(900);
        return m == 0 || small || huge;
    }
    let Ok(x) = s.parse::<f64>() else { return true };
    if x.is_infinite() {
        return ["inf", "infinity"].iter().any(|w| body.eq_ignore_ascii_case(w));
    }
    if x == 0.0 {
        let mantissa = body.split(['e', 'E']).next().unwrap_or("");
        return !mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    }
    x.abs() < (1u64 << 40) as f64 && (x * 4.0).fract() == 0.0
}

// ----- strings and keys -----

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

#[test]
fn strings_and_keys() {
    let Some(mut d) = Diff::start("strings_and_keys", 5000) else { return };
    let mut gen = Gen { rng: d.rng(), step: 0, sleep_after: false, base_ms: now_ms() / 1000 * 1000 };
    let keys: Vec<String> = (0..KEYS).map(|k| format!("{{t}}k{k}")).collect();
    for step in 0..d.steps {
        d.step = step;
        gen.step = step as i64;
        let args = gen.command(&mut |key| match d.oracle(&[b"GET".as_slice(), key]) {
            Ok(Reply::Bulk(b)) => Some(b.to_vec()),
            _ => None,
        });
        d.check(&args);
        if gen.sleep_after {
            std::thread::sleep(Duration::from_millis(3));
        }
        // Every so often, and at the end, compare the whole keyspace.
        if step % 250 == 249 || step + 1 == d.steps {
            compare_keys(&mut d, &keys);
        }
    }
    d.finish();
}

/// What a standalone Redis cannot check: commands whose keys span slots are refused whole.
#[test]
fn cross_slot_commands_are_refused() {
    let client = Cluster::builder().primaries(3).build().expect("cluster").client();
    client.command(&["SET", "{a}x", "1"]).unwrap();
    let crossslot = "CROSSSLOT Keys in request don't hash to the same slot";
    for args in [
        &["MGET", "{a}x", "{b}y"][..],
        &["MSET", "{a}x", "2", "{b}y", "2"],
        &["MSETNX", "{a}z", "2", "{b}y", "2"],
        &["DEL", "{a}x", "{b}y"],
        &["UNLINK", "{a}x", "{b}y"],
        &["EXISTS", "{a}x", "{b}y"],
        &["TOUCH", "{b}y", "{a}x"],
        &["RENAME", "{a}x", "{b}y"],
        &["COPY", "{a}x", "{b}y"],
        &["LMOVE", "{a}x", "{b}y", "LEFT", "LEFT"],
        &["SUNION", "{a}x", "{b}y"],
        &["ZUNIONSTORE", "{a}d", "2", "{a}x", "{b}y"],
    ] {
        let err = client.command(args).expect_err("cross-slot command must fail");
        assert_eq!(err.to_string(), crossslot, "{args:?}");
    }
    // Nothing ran: the value, and the absence of the other keys, are unchanged.
    assert_eq!(client.command(&["GET", "{a}x"]), Ok(Reply::bulk("1")));
    assert_eq!(client.command(&["EXISTS", "{b}y"]), Ok(Reply::Int(0)));
    assert_eq!(client.command(&["EXISTS", "{a}z"]), Ok(Reply::Int(0)));
    // The same keys under one tag are fine.
    assert_eq!(client.command(&["MSET", "{a}x", "3", "{a}y", "4"]), Ok(Reply::ok()));
    assert_eq!(client.command(&["DEL", "{a}x", "{a}y"]), Ok(Reply::Int(2)));
}

// ----- lists -----

const LIST_KEYS: &[&str] = &["{t}a", "{t}b", "{t}c", "{t}s"];

/// One random list command over three lists and a string: every list command, with options,
/// blocking forms with short timeouts, bad numbers, bad options and wrong arity.
fn list_command(rng: &mut Rng) -> Vec<String> {
    let k = rng.pick(LIST_KEYS);
    let k2 = rng.pick(LIST_KEYS);
    let long = "L".repeat(70);
    let v = match rng.below(8) {
        0 => long,
        1 => String::new(),
        n => ["a", "b", "c", "1", "22", "-3"][n - 2].to_string(),
    };
    let i = rng.range(-6, 5);
    let j = rng.range(-6, 5);
    let bad_int = rng.pick(&["abc", "1.5", "", "9223372036854775808", " 1", "0x10"]);
    let end = rng.pick(&["LEFT", "RIGHT", "left", "Right"]);
    let end2 = rng.pick(&["LEFT", "RIGHT", "left", "right"]);
    let line = match rng.below(34) {
        0..=3 => format!("RPUSH {k} {v} {v}x"),
        4..=5 => format!("LPUSH {k} {v}"),
        6 => format!("{} {k} {v} b", rng.pick(&["LPUSHX", "RPUSHX"])),
        7 => format!("LPOP {k}"),
        8 => format!("RPOP {k} {}", rng.below(4)),
        9 => format!("LRANGE {k} {i} {j}"),
        10 => format!("LINDEX {k} {i}"),
        11 => format!("LSET {k} {i} {v}"),
        12 => format!("LREM {k} {i} {v}"),
        13 => format!("LTRIM {k} {i} {}", j + 8),
        14 => format!("LINSERT {k} {} {v} new", rng.pick(&["BEFORE", "AFTER", "after"])),
        15 => format!(
            "LPOS {k} {v} RANK {} COUNT {} MAXLEN {}",
            if i == 0 { 1 } else { i },
            rng.below(3),
            rng.below(5)
        ),
        16 => format!("LMOVE {k} {k2} {end} {end2}"),
        17 => format!("LMPOP 2 {k} {k2} {end} COUNT {}", 1 + rng.below(3)),
        18 => format!("LLEN {k}"),
        19 => format!("BLMOVE {k} {k2} {end} {end2} 0.001"),
        20 => format!("{} {k} {k2} 0.001", rng.pick(&["BLPOP", "BRPOP"])),
        21 => format!("BLMPOP 0.001 2 {k} {k2} {end} COUNT 2"),
        22 => format!("RPOPLPUSH {k} {k2}"),
        23 => format!("LPOS {k} {v}"),
        // Bad numbers.
        24 => match rng.below(8) {
            0 => format!("LRANGE {k} {bad_int} 1"),
            1 => format!("LINDEX {k} {bad_int}"),
            2 => format!("LSET {k} {bad_int} x"),
            3 => format!("LTRIM {k} 0 {bad_int}"),
            4 => format!("LREM {k} {bad_int} a"),
            5 => format!("{} {k} {}", rng.pick(&["LPOP", "RPOP"]), rng.pick(&["-1", "0", "abc"])),
            6 => format!("LMPOP {bad_int} {k} LEFT"),
            _ => format!("BLPOP {k} {}", rng.pick(&["-1", "abc", "nan", "inf", "-0.01"])),
        },
        // Bad options.
        25 => match rng.below(9) {
            0 => format!("LPOS {k} a RANK 0"),
            1 => format!("LPOS {k} a COUNT -1"),
            2 => format!("LPOS {k} a MAXLEN -1"),
            3 => format!("LPOS {k} a FOO 1"),
            4 => format!("LPOS {k} a RANK"),
            5 => format!("LINSERT {k} MIDDLE a b"),
            6 => format!("LMOVE {k} {k2} UP {end2}"),
            // A count above the keys given makes Redis Cluster take the options for keys and
            // answer CROSSSLOT, as slotstore does; a standalone Redis says syntax error.
            7 => format!("LMPOP {} {k} {}", rng.pick(&["0", "-1"]), rng.pick(&["LEFT", "SIDEWAYS"])),
            _ => format!("LMPOP 1 {k} {end} COUNT {}", rng.pick(&["0", "-1", "abc", "1 COUNT 2", ""])),
        },
        // Wrong arity.
        26 => rng
            .pick(&[
                "LPUSH {t}a",
                "RPUSH",
                "LPOP",
                "LPOP {t}a 1 2",
                "LRANGE {t}a 0",
                "LINDEX {t}a",
                "LSET {t}a 0",
                "LREM {t}a 0",
                "LTRIM {t}a 0",
                "LINSERT {t}a BEFORE a",
                "LLEN",
                "LMOVE {t}a {t}b LEFT",
                "RPOPLPUSH {t}a",
                "LMPOP 1",
                "BLPOP {t}a",
                "BLMOVE {t}a {t}b LEFT LEFT",
                "LPOS {t}a",
            ])
            .to_string(),
        27 => format!("{} {k}", rng.pick(&["TYPE", "EXISTS", "DEL"])),
        28 => "SET {t}s str".to_string(),
        29 => {
            // Grow a list past the compact thresholds.
            let n = 100 + rng.below(100);
            let mut w = format!("RPUSH {k}");
            for x in 0..n {
                w.push_str(&format!(" e{}", x % 7));
            }
            w
        }
        30 => format!("LRANGE {k} 0 -1"),
        31 => format!("LINSERT {k} BEFORE {v} {}", "x".repeat(rng.below(80))),
        _ => format!("{} {k} 0 {v}", rng.pick(&["LSET", "LREM"])),
    };
    line.split(' ').map(String::from).collect()
}

#[test]
fn lists() {
    let Some(mut d) = Diff::start("lists", 4000) else { return };
    let mut rng = d.rng();
    d.check(&["SET", "{t}s", "str"]);
    let keys: Vec<String> = LIST_KEYS.iter().map(|k| k.to_string()).collect();
    for step in 0..d.steps {
        d.step = step;
        let args = list_command(&mut rng);
        d.check(&args);
        if step % 500 == 499 {
            compare_keys(&mut d, &keys);
        }
    }
    compare_keys(&mut d, &keys);
    d.finish();
}

/// Edge cases of lists (extreme indexes, counts and timeouts), side by side with Redis.
#[test]
fn list_edge_cases() {
    let Some(mut d) = Diff::start("list_edge_cases", 0) else { return };
    let script = r"
        RPUSH {t}l a b c a b c a
        LPOS {t}l a RANK -9223372036854775808
        LPOS {t}l a RANK -9223372036854775808 COUNT 1
        LPOS {t}l b RANK -1 COUNT 0 MAXLEN 3
        LPOS {t}l a COUNT 0 MAXLEN 0
        LPOS {t}l a RANK 9223372036854775807 COUNT 0
        LPOS {t}l a COUNT 9223372036854775807
        LRANGE {t}l -9223372036854775808 9223372036854775807
        LINDEX {t}l -9223372036854775808
        LINDEX {t}l 9223372036854775807
        LTRIM {t}l -9223372036854775808 -5
        LRANGE {t}l 0 -1
        LREM {t}l -9223372036854775808 a
        LPOP {t}l 9223372036854775807
        LPOP {t}l 9223372036854775808
        LMPOP 1 {t}l LEFT COUNT 9223372036854775807
        LMPOP 1 {t}l LEFT COUNT 9223372036854775808
        BLPOP {t}l 0.0001
        BLPOP {t}l 1e-5
        BLPOP {t}l +0.001
        BLPOP {t}l 0x1p-20
        BLPOP {t}l nan
        BLPOP {t}l -0.01
        RPUSH {t}x 1
        LINSERT {t}x before 1 0
        LINSERT {t}x AFTER 1 2
        LINSERT {t}x before 9 9
        LRANGE {t}x 0 -1
        LMOVE {t}x {t}x RIGHT LEFT
        LRANGE {t}x 0 -1
        LSET {t}x -3 first
        LSET {t}x 3 out
        LRANGE {t}x 0 -1
        RPUSHX {t}x a b
        LPUSHX {t}none a b
        LREM {t}x 0 a
        LREM {t}x -1 b
        LRANGE {t}x 0 -1
    ";
    for (step, line) in script.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        d.step = step;
        let words: Vec<&str> = line.split(' ').collect();
        d.check(&words);
    }
    d.finish();
}

// ----- hashes and sets -----

const HASH_SET_KEYS: &[&str] =
    &["{t}h1", "{t}h2", "{t}s1", "{t}s2", "{t}s3", "{t}str", "{t}none", "{t}dst"];

fn hashes_or_sets(test: &'static str, sets: bool) {
    let Some(mut d) = Diff::start(test, 4000) else { return };
    let mut rng = d.rng();
    let keys: Vec<String> = HASH_SET_KEYS.iter().map(|k| k.to_string()).collect();
    for step in 0..d.steps {
        d.step = step;
        let args = hash_or_set_command(&mut rng, sets);
        d.check(&args);
        if step % 500 == 499 {
            compare_keys(&mut d, &keys);
        }
    }
    compare_keys(&mut d, &keys);
    d.finish();
}

#[test]
fn hashes() {
    hashes_or_sets("hashes", false);
}

#[test]
fn sets() {
    hashes_or_sets("sets", true);
}

// ----- sorted sets -----

/// True while Redis keeps `key` compact (not a skip list): then its answer to a lex range over
/// mixed scores is the deterministic listpack scan.
fn redis_compact(d: &mut Diff, key: &str) -> bool {
    let enc = d.oracle(&["OBJECT", "ENCODING", key]);
    !matches!(enc, Ok(Reply::Bulk(ref e)) if &e[..] == b"skiplist")
}

#[test]
fn zsets() {
    let Some(mut d) = Diff::start("zsets", 4000) else { return };
    let mut rng = d.rng();
    d.check(&["SET", "{t}s", "v"]);
    let mut large_steps = 0;
    for step in 0..d.steps {
        d.step = step;
        // Mixed-score sets take lex ranges only while Redis keeps them as a listpack.
        let compact: Vec<&'static str> =
            SETS.iter().copied().filter(|k| redis_compact(&mut d, k)).collect();
        large_steps += usize::from(compact.len() < SETS.len());
        let pick_lex = move |rng: &mut Rng| {
            if rng.chance(50) || compact.is_empty() {
                "{t}lex"
            } else {
                compact[rng.below(compact.len())]
            }
        };
        let args = generate(&mut rng, &pick_lex);
        d.check(&args);
    }
    eprintln!("zsets: a skip-list set existed during {large_steps} of {} steps", d.steps);
    let keys: Vec<String> =
        SETS.iter().chain(&["{t}d", "{t}lex", "{t}s", "{t}set"]).map(|k| k.to_string()).collect();
    compare_keys(&mut d, &keys);
    d.finish();
}

// ----- every type across the keyspace commands -----

const MIXED_KEYS: &[&str] = &["{t}k0", "{t}k1", "{t}k2", "{t}k3", "{t}k4", "{t}k5"];

/// One random command over keys of every type: creating a key of some type, the keyspace
/// commands that work on every type (RENAME, RENAMENX, COPY, TYPE, DEL, EXISTS, EXPIRE, TTL),
/// and reads and writes of each type on keys of any type (`WRONGTYPE`).
fn mixed_command(rng: &mut Rng) -> Vec<String> {
    let k = rng.pick(MIXED_KEYS);
    let k2 = rng.pick(MIXED_KEYS);
    let m = rng.pick(&["a", "b", "c", "1", "2"]);
    let line = match rng.below(30) {
        0 => format!("SET {k} {m}"),
        1 => format!("RPUSH {k} {m} x"),
        2 => format!("HSET {k} f{m} {m}"),
        3 => format!("SADD {k} {m} x"),
        4 => format!("ZADD {k} {} {m}", rng.range(-3, 3)),
        5 => format!("SADD {k} {}", (0..600).map(|i| i.to_string()).collect::<Vec<_>>().join(" ")),
        6..=8 => format!("RENAME {k} {k2}"),
        9..=10 => format!("RENAMENX {k} {k2}"),
        11..=13 => {
            // Not `DB 1`: Redis Cluster refuses another database, as slotstore does.
            let opt = rng.pick(&[
                "",
                " REPLACE",
                " replace",
                " DB 0",
                " DB 0 REPLACE",
                " FOO",
                " DB",
                " DB -1",
                " DB 16",
                " DB abc",
                " DB 2147483648",
                " DB 0 FOO",
            ]);
            format!("COPY {k} {k2}{opt}")
        }
        14 => format!("{} {k}", rng.pick(&["TYPE", "TYPE", "OBJECT FREQ"])),
        15 => format!("{} {k} {k2}", rng.pick(&["DEL", "EXISTS", "UNLINK", "TOUCH"])),
        16 => format!("EXPIRE {k} {}", rng.pick(&["1000000", "2000000", "-1"])),
        17 => format!("{} {k}", rng.pick(&["TTL", "PERSIST"])),
        18 => {
            format!("{} {k}", rng.pick(&["GET", "STRLEN", "LLEN", "HLEN", "SCARD", "ZCARD", "HGETALL"]))
        }
        19 => format!("{} {k} 0 -1", rng.pick(&["LRANGE", "ZRANGE", "GETRANGE"])),
        20 => format!(
            "{} {k} {m}",
            rng.pick(&["APPEND", "LPUSH", "SADD", "SISMEMBER", "HGET", "ZSCORE", "LPOS"])
        ),
        21 => format!("{} {k}", rng.pick(&["INCR", "SMEMBERS", "HKEYS", "LPOP", "ZPOPMIN"])),
        22 => format!("{} {k} {k2}", rng.pick(&["SUNION", "SINTER", "SDIFF", "RPOPLPUSH", "MGET"])),
        23 => format!("SUNIONSTORE {k} {k2} {}", rng.pick(MIXED_KEYS)),
        24 => {
            format!("{} {k} 2 {k2} {}", rng.pick(&["ZUNIONSTORE", "ZINTERSTORE"]), rng.pick(MIXED_KEYS))
        }
        25 => format!("LMOVE {k} {k2} LEFT RIGHT"),
        26 => format!("SMOVE {k} {k2} {m}"),
        27 => format!("SINTERCARD 2 {k} {k2}"),
        28 => format!(
            "{} {k} 1",
            rng.pick(&["INCRBY", "LINDEX", "HSTRLEN", "HINCRBY", "ZINCRBY", "SRANDMEMBER"])
        ),
        _ => format!("RENAME {k} {k}"),
    };
    line.split_whitespace().map(String::from).collect()
}

#[test]
fn keys_across_types() {
    let Some(mut d) = Diff::start("keys_across_types", 3000) else { return };
    let mut rng = d.rng();
    let keys: Vec<String> = MIXED_KEYS.iter().map(|k| k.to_string()).collect();
    for step in 0..d.steps {
        d.step = step;
        let args = mixed_command(&mut rng);
        d.check(&args);
        if step % 250 == 249 {
            compare_keys(&mut d, &keys);
        }
    }
    compare_keys(&mut d, &keys);
    d.finish();
}

// ----- hash and set command generation -----

/// One random hash command (`sets` false) or set command (`sets` true), over a few keys of
/// both kinds and a string (so `WRONGTYPE` comes up), now and then growing a key past the
/// compact thresholds.
fn hash_or_set_command(r: &mut Rng, sets: bool) -> Vec<String> {
    let k = |name: &str| format!("{{t}}{name}");
    let hash_keys = [k("h1"), k("h2"), k("s1"), k("str")];
    let set_keys = [k("s1"), k("s2"), k("s3"), k("h1"), k("str"), k("none")];
    let long = "L".repeat(70);
    let fields = ["f0", "f1", "f2", "f3", "f4", "f5", "10", "-3", long.as_str()];
    let values = ["1", "-7", "abc", "2.5", "9223372036854775807", "007", long.as_str(), ""];
    let members =
        ["1", "2", "3", "17", "-4", "007", "a", "b", "c", "d", long.as_str(), "9223372036854775808"];
    let counts = ["0", "1", "2", "100", "-3", "abc", "-9223372036854775808", "9223372036854775807"];
    let mut w: Vec<String> = Vec::new();
    let push = |w: &mut Vec<String>, s: &str| w.push(s.to_string());
    let hk = r.pick(&hash_keys);
    let sk = r.pick(&set_keys);
    // Branches 0..=14 are hash commands, 15..=30 set commands, 31..=35 either.
    let branch = if sets {
        15 + r.below(21)
    } else {
        let b = r.below(20);
        if b < 15 {
            b
        } else {
            b + 16
        }
    };
    match branch {
        0..=3 => {
            push(&mut w, r.pick(&["HSET", "HMSET"]));
            w.push(hk);
            for _ in 0..1 + r.below(4) {
                w.push(r.pick(&fields).to_string());
                w.push(r.pick(&values).to_string());
            }
            if r.below(10) == 0 {
                w.pop();
            }
        }
        4 => w.extend(["HSETNX".into(), hk, r.pick(&fields).into(), r.pick(&values).into()]),
        5 => w.extend(["HGET".into(), hk, r.pick(&fields).into()]),
        6 => {
            w.extend(["HMGET".into(), hk]);
            w.extend((0..1 + r.below(3)).map(|_| r.pick(&fields).to_string()));
        }
        7 => w.extend([r.pick(&["HGETALL", "HKEYS", "HVALS", "HLEN"]).into(), hk]),
        8 => {
            w.extend(["HDEL".into(), hk]);
            w.extend((0..1 + r.below(3)).map(|_| r.pick(&fields).to_string()));
        }
        9 => w.extend([r.pick(&["HEXISTS", "HSTRLEN"]).into(), hk, r.pick(&fields).into()]),
        10 | 11 => w.extend([
            "HINCRBY".into(),
            hk,
            r.pick(&fields).into(),
            r.pick(&["1", "-5", "100", "abc", "9223372036854775807", "1.5"]).into(),
        ]),
        // Fields only small numbers reach: past 2^53 Redis's long double and a double part.
        12 => w.extend([
            "HINCRBYFLOAT".into(),
            hk,
            r.pick(&["fl0", "fl1", "g5", "f9"]).into(),
            r.pick(&["0.5", "-1.25", "3", "nan", "inf", "abc", "1e3", "-0.75"]).into(),
        ]),
        13 => {
            w.extend(["HRANDFIELD".into(), hk]);
            if r.below(4) > 0 {
                w.push(r.pick(&counts).into());
                if r.below(2) == 0 {
                    w.push(r.pick(&["WITHVALUES", "withvalues", "foo"]).into());
                }
            }
        }
        14 => {
            // A scan from 0: other cursors name positions each store picks its own way.
            w.extend(["HSCAN".into(), hk, r.pick(&["0", "0", "x"]).into()]);
            if r.below(2) == 0 {
                w.extend(["MATCH".into(), r.pick(&["f*", "*", "1?", "[a-f]*"]).into()]);
            }
            if r.below(2) == 0 {
                w.extend(["COUNT".into(), r.pick(&["1", "3", "0", "x"]).into()]);
            }
        }
        15..=18 => {
            w.extend([r.pick(&["SADD", "SREM"]).into(), sk]);
            w.extend((0..r.below(4)).map(|_| r.pick(&members).to_string()));
        }
        19 => w.extend([r.pick(&["SMEMBERS", "SCARD"]).into(), sk]),
        20 => w.extend(["SISMEMBER".into(), sk, r.pick(&members).into()]),
        21 => {
            w.extend(["SMISMEMBER".into(), sk]);
            w.extend((0..r.below(4)).map(|_| r.pick(&members).to_string()));
        }
        22 => {
            w.extend(["SPOP".into(), sk]);
            // Counts that cover the set, so both sides pop the same members.
            w.push(r.pick(&["1000", "-1", "abc", "0"]).into());
        }
        23 => {
            w.extend(["SRANDMEMBER".into(), sk]);
            if r.below(4) > 0 {
                w.push(r.pick(&counts).into());
            }
        }
        24 => w.extend(["SMOVE".into(), sk, r.pick(&set_keys), r.pick(&members).into()]),
        25..=28 => {
            w.push(
                r.pick(&["SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
                    .into(),
            );
            if w[0].ends_with("STORE") {
                w.push(r.pick(&[k("s1"), k("s2"), k("s3"), k("dst"), k("str")]));
            }
            w.extend((0..1 + r.below(3)).map(|_| r.pick(&set_keys)));
        }
        29 => {
            let n = 1 + r.below(3);
            w.extend([
                "SINTERCARD".into(),
                r.pick(&[n.to_string(), n.to_string(), "0".into(), "9".into()]),
            ]);
            w.extend((0..n).map(|_| r.pick(&set_keys)));
            if r.below(2) == 0 {
                w.extend(["LIMIT".into(), r.pick(&["0", "1", "2", "-1", "x"]).into()]);
            }
        }
        30 => {
            w.extend(["SSCAN".into(), sk, r.pick(&["0", "0", "x"]).into()]);
            if r.below(2) == 0 {
                w.extend(["MATCH".into(), r.pick(&["1*", "*", "[a-c]"]).into()]);
            }
            if r.below(2) == 0 {
                w.extend(["COUNT".into(), r.pick(&["2", "0"]).into()]);
            }
        }
        31 => w.extend(["TYPE".into(), r.pick(&[hk, sk])]),
        32 => w.extend(["SET".into(), k("str"), "x".into()]),
        33 => w.extend(["DEL".into(), r.pick(&[hk, sk])]),
        34 => {
            // Too few arguments.
            let cmd = r.pick(&[
                "HSET",
                "HGET",
                "HDEL",
                "HINCRBY",
                "SADD",
                "SMOVE",
                "SINTERCARD",
                "SREM",
                "HRANDFIELD",
            ]);
            w.extend([cmd.to_string()]);
            if r.below(2) == 0 {
                w.push(k("h1"));
            }
        }
        _ => {
            // Grow a key past the compact thresholds now and then.
            let big = r.below(2) == 0;
            if big {
                w.extend(["SADD".into(), sk]);
                w.extend((0..140).map(|i| format!("{}{i}", r.pick(&["", "m"]))));
            } else {
                w.extend(["HSET".into(), hk]);
                w.extend((0..140).flat_map(|i| [format!("g{i}"), i.to_string()]));
            }
        }
    }
    w
}

// ----- sorted set command generation -----

const SETS: &[&str] = &["{t}a", "{t}b", "{t}c"];
const SCORES: &[&str] = &[
    "0", "1", "2", "3", "-1", "1.5", "-2.5", "0.1", "10", "inf", "-inf", "+inf", "-0", "1e17", "0x10",
    "1e-5", "nan", "abc", "", " 1", "1e-400", "(1",
];
const RANGE_ENDS: &[&str] = &[
    "-inf", "+inf", "0", "(0", "1", "(1", "2.5", "(2.5", "10", "(10", "-1", "(x", "[1", "", "(",
    "1e5000", " 1", "nan", "inf",
];
const LEX_ENDS: &[&str] = &["-", "+", "[a", "(a", "[c", "(c", "[m1", "(h", "[", "(", "a", "", "+x"];
const Z_INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "3",
    "5",
    "100",
    "-100",
    "abc",
    "9223372036854775807",
    "-9223372036854775808",
];

fn member(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => "x".repeat(70),
        1..=3 => format!("m{}", rng.below(200)),
        _ => ["a", "b", "c", "d", "e", "f", "g", "h"][rng.below(8)].to_string(),
    }
}

/// One random sorted set command (words). Lex commands go to `{t}lex`, whose members all
/// score 0, unless `lex_ok` says a mixed set is compact in Redis (then its answer is the
/// deterministic listpack scan).
fn generate(rng: &mut Rng, lex_key: &dyn Fn(&mut Rng) -> &'static str) -> Vec<String> {
    let key = |rng: &mut Rng| match rng.below(20) {
        0 => "{t}s".to_string(),
        1 => "{t}set".to_string(),
        _ => rng.pick(SETS).to_string(),
    };
    let mut w: Vec<String> = Vec::new();
    let s = |x: &str| x.to_string();
    match rng.below(30) {
        0..=5 => {
            let k = key(rng);
            let lex = rng.chance(15);
            w.push(s("ZADD"));
            w.push(if lex { s("{t}lex") } else { k });
            for o in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                if rng.chance(12) {
                    w.push(s(o));
                }
            }
            let n = if rng.chance(5) { 50 + rng.below(120) } else { 1 + rng.below(3) };
            for _ in 0..n {
                w.push(if lex {
                    s("0")
                } else if rng.chance(97) {
                    s(rng.pick(&SCORES[..16]))
                } else {
                    s(rng.pick(SCORES))
                });
                w.push(member(rng));
            }
            if rng.chance(3) {
                w.pop();
            }
        }
        6 => {
            w = vec![s("ZINCRBY"), key(rng), s(rng.pick(SCORES)), member(rng)];
        }
        7 => {
            w = vec![s("ZREM"), key(rng), member(rng), member(rng)];
        }
        8 => {
            let cmd = rng.pick(&["ZSCORE", "ZRANK", "ZREVRANK"]);
            w = vec![s(cmd), key(rng), member(rng)];
        }
        9 => {
            w = vec![s("ZMSCORE"), key(rng), member(rng), member(rng)];
        }
        10 => {
            w = vec![s("ZCARD"), key(rng)];
        }
        11 => {
            w = vec![s("ZCOUNT"), key(rng), s(rng.pick(RANGE_ENDS)), s(rng.pick(RANGE_ENDS))];
        }
        12 => {
            w = vec![s("ZLEXCOUNT"), s(lex_key(rng)), s(rng.pick(LEX_ENDS)), s(rng.pick(LEX_ENDS))];
        }
        13..=16 => {
            let by = rng.below(3);
            let k = if by == 2 { s(lex_key(rng)) } else { key(rng) };
            w = vec![s("ZRANGE"), k];
            match by {
                0 => {
                    w.push(s(rng.pick(Z_INTS)));
                    w.push(s(rng.pick(Z_INTS)));
                }
                1 => {
                    w.push(s(rng.pick(RANGE_ENDS)));
                    w.push(s(rng.pick(RANGE_ENDS)));
                    w.push(s("BYSCORE"));
                }
                _ => {
                    w.push(s(rng.pick(LEX_ENDS)));
                    w.push(s(rng.pick(LEX_ENDS)));
                    w.push(s("BYLEX"));
                }
            }
            if rng.chance(40) {
                w.push(s("REV"));
            }
            if rng.chance(30) {
                w.extend([s("LIMIT"), s(rng.pick(Z_INTS)), s(rng.pick(Z_INTS))]);
            }
            if rng.chance(40) {
                w.push(s("WITHSCORES"));
            }
            if rng.chance(5) {
                let i = 4 + rng.below(w.len() - 3);
                w.insert(i.min(w.len()), s(rng.pick(&["REV", "BYSCORE", "LIMIT", "junk"])));
            }
        }
        17 => {
            let cmd = rng.pick(&["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]);
            w = vec![s(cmd), key(rng), s(rng.pick(RANGE_ENDS)), s(rng.pick(RANGE_ENDS))];
            if rng.chance(50) {
                w.push(s("WITHSCORES"));
            }
            if rng.chance(40) {
                w.extend([s("LIMIT"), s(rng.pick(Z_INTS)), s(rng.pick(Z_INTS))]);
            }
        }
        18 => {
            let cmd = rng.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]);
            w = vec![s(cmd), s(lex_key(rng)), s(rng.pick(LEX_ENDS)), s(rng.pick(LEX_ENDS))];
            if rng.chance(40) {
                w.extend([s("LIMIT"), s(rng.pick(Z_INTS)), s(rng.pick(Z_INTS))]);
            }
        }
        19 => {
            w = vec![s("ZREVRANGE"), key(rng), s(rng.pick(Z_INTS)), s(rng.pick(Z_INTS))];
            if rng.chance(50) {
                w.push(s("WITHSCORES"));
            }
        }
        20 => {
            w = vec![s(rng.pick(&["ZPOPMIN", "ZPOPMAX"])), key(rng)];
            if rng.chance(60) {
                w.push(s(rng.pick(Z_INTS)));
            }
        }
        21 => {
            let k = key(rng);
            w = match rng.below(3) {
                0 => vec![s("ZREMRANGEBYRANK"), k, s(rng.pick(Z_INTS)), s(rng.pick(Z_INTS))],
                1 => vec![s("ZREMRANGEBYSCORE"), k, s(rng.pick(RANGE_ENDS)), s(rng.pick(RANGE_ENDS))],
                _ => vec![
                    s("ZREMRANGEBYLEX"),
                    s(lex_key(rng)),
                    s(rng.pick(LEX_ENDS)),
                    s(rng.pick(LEX_ENDS)),
                ],
            };
        }
        22..=24 => {
            let store = rng.chance(60);
            let cmd = if store {
                rng.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
            } else {
                rng.pick(&["ZUNION", "ZINTER", "ZDIFF"])
            };
            w.push(s(cmd));
            if store {
                w.push(s(rng.pick(&["{t}d", "{t}a", "{t}d"])));
            }
            let n = 1 + rng.below(3);
            // A wrong count only where Redis Cluster would not refuse it as CROSSSLOT first
            // (options taken for keys).
            w.push(if rng.chance(3) { s(rng.pick(&["0", "-1", "abc", "100"])) } else { n.to_string() });
            for _ in 0..n {
                w.push(if rng.chance(5) { s("{t}missing") } else { key(rng) });
            }
            if rng.chance(40) {
                w.push(s("WEIGHTS"));
                for _ in 0..n {
                    w.push(s(rng.pick(&["1", "2", "0", "-1", "0.5", "inf", "-inf", "x"])));
                }
            }
            if rng.chance(40) {
                w.extend([s("AGGREGATE"), s(rng.pick(&["SUM", "MIN", "MAX", "avg"]))]);
            }
            if !store && rng.chance(60) {
                w.push(s("WITHSCORES"));
            }
        }
        25 => {
            w = match rng.below(3) {
                0 => {
                    let mut w = vec![s("ZRANGESTORE"), s("{t}d")];
                    match rng.below(3) {
                        0 => w.extend([key(rng), s(rng.pick(Z_INTS)), s(rng.pick(Z_INTS))]),
                        1 => w.extend([
                            key(rng),
                            s(rng.pick(RANGE_ENDS)),
                            s(rng.pick(RANGE_ENDS)),
                            s("BYSCORE"),
                        ]),
                        _ => w.extend([
                            s(lex_key(rng)),
                            s(rng.pick(LEX_ENDS)),
                            s(rng.pick(LEX_ENDS)),
                            s("BYLEX"),
                        ]),
                    }
                    if rng.chance(30) {
                        w.push(s("REV"));
                    }
                    if rng.chance(30) {
                        w.extend([s("LIMIT"), s(rng.pick(Z_INTS)), s(rng.pick(Z_INTS))]);
                    }
                    if rng.chance(5) {
                        w.push(s("WITHSCORES"));
                    }
                    w
                }
                1 => {
                    let mut w = vec![s("ZINTERCARD"), s("2"), key(rng), key(rng)];
                    if rng.chance(50) {
                        w.extend([s("LIMIT"), s(rng.pick(Z_INTS))]);
                    }
                    w
                }
                _ => {
                    let mut w = vec![
                        s("ZMPOP"),
                        s("2"),
                        key(rng),
                        key(rng),
                        s(rng.pick(&["MIN", "MAX", "max", "foo"])),
                    ];
                    if rng.chance(50) {
                        w.extend([s("COUNT"), s(rng.pick(Z_INTS))]);
                    }
                    w
                }
            };
        }
        26 => {
            // Only the deterministic answers: none, or all members (count >= size).
            w = vec![s("ZRANDMEMBER"), key(rng), s(rng.pick(&["0", "1000"]))];
            if rng.chance(50) {
                w.push(s("WITHSCORES"));
            }
        }
        27 => {
            w = if rng.chance(50) {
                vec![s(rng.pick(&["BZPOPMIN", "BZPOPMAX"])), key(rng), s("0.01")]
            } else {
                vec![
                    s("BZMPOP"),
                    s("0.01"),
                    s("2"),
                    key(rng),
                    key(rng),
                    s(rng.pick(&["MIN", "MAX"])),
                    s("COUNT"),
                    s("2"),
                ]
            };
        }
        28 => {
            w = if rng.chance(50) {
                vec![s("SADD"), s("{t}set"), member(rng), member(rng), s(rng.pick(&["1", "2", "-5"]))]
            } else {
                vec![s(rng.pick(&["TYPE", "EXISTS", "TTL"])), s(rng.pick(&["{t}d", "{t}a", "{t}lex"]))]
            };
        }
        _ => {
            w = vec![s("ZSCAN"), key(rng), s(rng.pick(&["0", "x"]))];
            if rng.chance(30) {
                w.extend([s("MATCH"), s(rng.pick(&["*", "m*", "[a-c]", "x*"]))]);
            }
            if rng.chance(20) {
                w.extend([s("COUNT"), s(rng.pick(Z_INTS))]);
            }
        }
    }
    w
}

// ----- LCS -----

/// `LCS` of random strings over three letters (so they share long runs and many equally long
/// subsequences, where the walk back through the table decides which one is answered), with
/// every option, then its errors.
#[test]
fn lcs() {
    let Some(mut d) = Diff::start("lcs", 600) else { return };
    let mut rng = d.rng();
    let text = |rng: &mut Rng| -> String {
        let n = rng.below(24);
        (0..n).map(|_| char::from(b'a' + rng.below(3) as u8)).collect()
    };
    for step in 0..d.steps {
        d.step = step;
        let (x, y) = (text(&mut rng), text(&mut rng));
        d.check(&["SET", "{t}x", &x]);
        d.check(&["SET", "{t}y", &y]);
        let mut args: Vec<String> = vec!["LCS".into(), "{t}x".into(), "{t}y".into()];
        match rng.below(4) {
            0 => {}
            1 => args.push("LEN".into()),
            _ => {
                args.push("IDX".into());
                if rng.chance(50) {
                    args.extend(["MINMATCHLEN".into(), rng.range(-1, 4).to_string()]);
                }
                if rng.chance(50) {
                    args.push("WITHMATCHLEN".into());
                }
            }
        }
        d.check(&args);
    }
    d.check(&["RPUSH", "{t}list", "a"]);
    // A table past proto-max-bulk-len (4 bytes per cell) is refused before it is built.
    let long = "ab".repeat(6000);
    d.check(&["SET", "{t}long", &long]);
    d.check(&["LCS", "{t}long", "{t}long", "LEN"]);
    for args in [
        &["LCS", "{t}x", "{t}nokey"][..],
        &["LCS", "{t}nokey", "{t}nokey2", "IDX"],
        &["LCS", "{t}x", "{t}list"],
        &["LCS", "{t}list", "{t}nokey", "LEN"],
        &["LCS", "{t}x", "{t}y", "LEN", "IDX"],
        &["LCS", "{t}x", "{t}y", "IDX", "MINMATCHLEN"],
        &["LCS", "{t}x", "{t}y", "MINMATCHLEN", "two"],
        &["LCS", "{t}x", "{t}y", "SOMETHING"],
        &["LCS", "{t}x"],
    ] {
        d.check(args);
    }
    d.finish();
}

// ----- SORT -----

/// `SORT` and `SORT_RO` of random lists, sets and sorted sets (numbers, words, and elements
/// that are not numbers), with every option a cluster allows, `STORE` included, then the
/// errors. `BY` with a pattern and `GET` are refused by a cluster and run by a standalone
/// Redis: `sort_refuses_what_a_cluster_refuses` checks those. A set's own order is Redis's
/// layout, so `BY` a constant on a set is left out.
#[test]
fn sort() {
    let Some(mut d) = Diff::start("sort", 600) else { return };
    let mut rng = d.rng();
    // `3\0x`: a number to `strtod` (3), and equal to `3` for `ALPHA`'s `strcoll`, which then
    // keeps the elements' order: only a list's is the same in both (Redis takes a set's or
    // sorted set's elements in its hash table's order), so with `ALPHA` only in lists.
    let element = |rng: &mut Rng, nul: bool| -> String {
        match rng.below(10) {
            0..=4 => rng.range(-20, 20).to_string(),
            5 => format!("{}.5", rng.range(-3, 3)),
            6 if nul && rng.chance(20) => "3\u{0}x".into(),
            6 => rng.pick(&["1e3", " 7", "0x10", "inf", "-inf", ""]).to_string(),
            _ => rng.pick(&["a", "b", "apple", "B", "zz", "10a"]).to_string(),
        }
    };
    for step in 0..d.steps {
        d.step = step;
        d.check(&["DEL", "{t}l", "{t}s", "{t}z"]);
        let n = rng.below(12);
        let kind = rng.below(3);
        let alpha = rng.chance(50);
        let elements: Vec<String> = (0..n).map(|_| element(&mut rng, !alpha || kind == 0)).collect();
        let key = ["{t}l", "{t}s", "{t}z"][kind];
        if n > 0 {
            let mut add: Vec<String> = vec![["RPUSH", "SADD", "ZADD"][kind].into(), key.into()];
            for (i, e) in elements.iter().enumerate() {
                if kind == 2 {
                    add.push((i % 4).to_string());
                }
                add.push(e.clone());
            }
            d.check(&add);
        }
        let mut args: Vec<String> = vec![rng.pick(&["SORT", "SORT", "SORT_RO"]).into(), key.into()];
        if rng.chance(20) && kind != 1 {
            args.extend(["BY".into(), "nosort".into()]);
        }
        if rng.chance(40) {
            args.extend(["LIMIT".into(), rng.range(-2, 8).to_string(), rng.range(-2, 8).to_string()]);
        }
        if rng.chance(40) {
            args.push(rng.pick(&["ASC", "DESC"]).into());
        }
        if alpha {
            args.push("ALPHA".into());
        }
        let store = args[0] == "SORT" && rng.chance(30);
        if store {
            args.extend(["STORE".into(), "{t}dst".into()]);
        }
        d.check(&args);
        if store {
            d.check(&["LRANGE", "{t}dst", "0", "-1"]);
            d.check(&["EXISTS", "{t}dst"]);
        }
    }
    d.check(&["SET", "{t}str", "x"]);
    for args in [
        &["SORT", "{t}str"][..],
        &["SORT", "{t}nokey", "STORE", "{t}dst"],
        &["SORT", "{t}l", "LIMIT", "1"],
        &["SORT", "{t}l", "LIMIT", "x", "1"],
        &["SORT", "{t}l", "DESCENDING"],
        &["SORT_RO", "{t}l", "STORE", "{t}dst"],
        &["SORT"],
    ] {
        d.check(args);
    }
    d.finish();
}

/// What a standalone Redis cannot check: a cluster refuses `BY` with a pattern and `GET`
/// (their keys could be in any slot), with Redis Cluster's own words, and a `STORE` to
/// another slot.
#[test]
fn sort_refuses_what_a_cluster_refuses() {
    let client = Cluster::builder().primaries(3).build().expect("cluster").client();
    client.command(&["RPUSH", "{a}l", "2", "1"]).unwrap();
    let refused = |args: &[&str]| client.command(args).expect_err("refused").to_string();
    assert_eq!(refused(&["SORT", "{a}l", "BY", "w_*"]), "ERR BY option of SORT denied in Cluster mode.");
    assert_eq!(
        refused(&["SORT_RO", "{a}l", "GET", "#"]),
        "ERR GET option of SORT denied in Cluster mode."
    );
    assert_eq!(
        refused(&["SORT", "{a}l", "STORE", "{b}d"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    // A constant BY keeps the list's order; the same store in the key's slot is fine.
    assert_eq!(client.command(&["SORT", "{a}l", "BY", "nosort", "STORE", "{a}d"]), Ok(Reply::Int(2)));
    assert_eq!(
        client.command(&["LRANGE", "{a}d", "0", "-1"]),
        Ok(Reply::Array(vec![Reply::bulk("2"), Reply::bulk("1")]))
    );
}
