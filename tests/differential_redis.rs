//! Differential test: random string and key command sequences run against a real
//! `redis-server` (the oracle) and against slotstore's `Client::command`, comparing every reply.
//!
//! Environment:
//! - `SLOTSTORE_REDIS_ADDR`: where redis-server listens (default `127.0.0.1:6399`). Start one
//!   with `redis-server --port 6399 --save '' --appendonly no --daemonize yes`. The test runs
//!   `FLUSHALL` on it.
//! - `SLOTSTORE_REQUIRE_REDIS=1`: fail instead of skipping when nothing listens there.
//! - `SLOTSTORE_DIFF_SEED`: replay a run (the seed is printed at the start of every run).
//! - `SLOTSTORE_DIFF_STEPS`: how many random commands to run (default 5000).
//!
//! All keys share the hash tag `{t}`, so multi-key commands are legal in the cluster; cross-slot
//! refusals are checked separately against slotstore alone, since a standalone Redis has none.
//!
//! Time: both sides read the wall clock. Expiry times are drawn from a lattice (whole units of
//! 10^6 s, plus one second per step) so that `GT`/`LT` comparisons never depend on which
//! millisecond a command ran in, keys never expire by accident during a run, and `TTL`-like
//! replies are compared with a small tolerance. Keys that expire on purpose are given 1 ms and
//! the test sleeps past it before the next command.

use slotstore::{Cluster, Reply};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ----- a tiny blocking RESP2 client -----

/// A reply as compared: the value, or the error text.
type Outcome = Result<Reply, String>;

struct Redis {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Redis {
    fn connect(addr: SocketAddr) -> io::Result<Redis> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let writer = stream.try_clone()?;
        Ok(Redis { reader: BufReader::new(stream), writer })
    }

    /// Sends one command as a RESP array of bulk strings and reads its reply.
    fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Outcome> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out)?;
        self.read_reply()
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated RESP line"));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read_reply(&mut self) -> io::Result<Outcome> {
        let line = self.read_line()?;
        let (kind, rest) = line.split_first().ok_or_else(|| bad("empty RESP line"))?;
        let text = String::from_utf8_lossy(rest).into_owned();
        let number = || text.parse::<i64>().map_err(|_| bad("bad RESP length or integer"));
        Ok(match kind {
            b'+' => Ok(Reply::Simple(text)),
            b'-' => Err(text),
            b':' => Ok(Reply::Int(number()?)),
            b'$' => match number()? {
                -1 => Ok(Reply::Nil),
                n if n >= 0 => {
                    let mut buf = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut buf)?;
                    buf.truncate(n as usize);
                    Ok(Reply::bulk(buf))
                }
                _ => return Err(bad("bad bulk length")),
            },
            b'*' => match number()? {
                -1 => Ok(Reply::Nil),
                n if n >= 0 => {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        match self.read_reply()? {
                            Ok(r) => items.push(r),
                            Err(e) => return Err(bad(&format!("error inside an array: {e}"))),
                        }
                    }
                    Ok(Reply::Array(items))
                }
                _ => return Err(bad("bad array length")),
            },
            _ => return Err(bad("unknown RESP type")),
        })
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

// ----- a seeded RNG (splitmix64) -----

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
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

/// `INCRBYFLOAT` increments: exact binary fractions (their decimal text is exact in both a
/// double and Redis's long double) and malformed numbers.
const FLOATS: &[&str] = &[
    "0.5", "1", "-1.5", "2", "10", "-0.5", "0", "3.0", "1e2", "+2.5", ".5", "5.", "1.5e1", "-0.25",
    "0x10", "0x1p1", "abc", "", "nan", "inf", "-inf", "+inf", " 1", "1 ", "1e5000", "1.5.5", "--1",
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
        let w = *self.rng.pick(words);
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
        let ms = *self.rng.pick(&[1000, 100_000, self.base_ms - 1_000_000_000, self.base_ms / 2]);
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
        let n = *self.rng.pick(&[0, 1, 1, 2, 2, 3, 4]);
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
        let n = *self.rng.pick(&[0, 0, 1, 1, 1, 2]);
        (0..n)
            .map(|_| {
                let f = *self.rng.pick(&["nx", "xx", "gt", "lt", "gt", "lt", "xx", "nx", "foo"]);
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
                let name = *self.rng.pick(&["incr", "decr", "incrby", "decrby"]);
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
                let (name, unit, absolute) = *self.rng.pick(&[
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
        let &(name, arity) = self.rng.pick(ARITY);
        let argc = if arity > 0 {
            let wrong: Vec<usize> = (1..=arity as usize + 2).filter(|&n| n != arity as usize).collect();
            *self.rng.pick(&wrong)
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
            return true; // not a hex float: refused by both (or too long for this check)
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

// ----- comparison -----

/// How far apart two time replies may be (they are read a moment apart).
fn tolerance(args: &[Vec<u8>]) -> i64 {
    let name = args[0].to_ascii_lowercase();
    match &name[..] {
        b"ttl" | b"expiretime" => 1,
        b"pttl" | b"pexpiretime" => 250,
        _ => 0,
    }
}

fn same(args: &[Vec<u8>], redis: &Outcome, ours: &Outcome) -> bool {
    match (redis, ours) {
        (Ok(Reply::Int(a)), Ok(Reply::Int(b))) if *a >= 0 && *b >= 0 => (a - b).abs() <= tolerance(args),
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => {
            let code = |e: &str| e.split(' ').next().unwrap_or("").to_string();
            if matches!(code(a).as_str(), "ERR" | "WRONGTYPE") {
                a == b
            } else {
                code(a) == code(b)
            }
        }
        _ => false,
    }
}

fn show_args(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| Reply::bulk(a).to_string()).collect::<Vec<_>>().join(" ")
}

fn show(o: &Outcome) -> String {
    match o {
        Ok(r) => format!("{r:?}"),
        Err(e) => format!("(error) {e}"),
    }
}

/// Runs one command on the oracle; a broken connection fails the test.
fn oracle(r: &mut Redis, args: &[Vec<u8>]) -> Outcome {
    r.command(args).unwrap_or_else(|e| panic!("redis-server failed: {e}"))
}

fn fail(seed: u64, step: i64, args: &[Vec<u8>], r: &Outcome, o: &Outcome, history: &[String]) -> ! {
    let mut msg = String::new();
    let _ = writeln!(msg, "slotstore differs from redis-server");
    let _ =
        writeln!(msg, "  replay:    SLOTSTORE_DIFF_SEED={seed} cargo test --test differential_redis");
    let _ = writeln!(msg, "  step:      {step}");
    let _ = writeln!(msg, "  command:   {}", show_args(args));
    let _ = writeln!(msg, "  redis:     {}", show(r));
    let _ = writeln!(msg, "  slotstore: {}", show(o));
    let _ = writeln!(msg, "  previous commands (oldest first):");
    for h in history.iter().rev().take(25).rev() {
        let _ = writeln!(msg, "    {h}");
    }
    panic!("{msg}");
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

fn default_seed() -> u64 {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
}

fn redis_addr() -> Option<(String, Redis)> {
    let addr = std::env::var("SLOTSTORE_REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6399".into());
    let required = std::env::var("SLOTSTORE_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    let connected = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unresolvable address"))
        .and_then(Redis::connect);
    match connected {
        Ok(r) => Some((addr, r)),
        Err(e) if required => {
            panic!("no redis-server at {addr} ({e}) and SLOTSTORE_REQUIRE_REDIS=1")
        }
        Err(e) => {
            eprintln!(
                "skipped: no redis-server at {addr} ({e}); start one with \
                 `redis-server --port 6399 --save '' --appendonly no --daemonize yes` \
                 or set SLOTSTORE_REDIS_ADDR"
            );
            None
        }
    }
}

#[test]
fn strings_and_keys_match_redis() {
    let Some((addr, mut redis)) = redis_addr() else {
        return;
    };
    let seed = std::env::var("SLOTSTORE_DIFF_SEED")
        .ok()
        .map(|s| s.trim().parse::<u64>().expect("SLOTSTORE_DIFF_SEED must be a u64"))
        .unwrap_or_else(default_seed);
    let steps: i64 = std::env::var("SLOTSTORE_DIFF_STEPS")
        .ok()
        .map(|s| s.trim().parse().expect("SLOTSTORE_DIFF_STEPS must be an integer"))
        .unwrap_or(5000);
    eprintln!("differential_redis: redis at {addr}, SLOTSTORE_DIFF_SEED={seed}, {steps} steps");

    let cluster = Cluster::builder().primaries(3).build().expect("cluster");
    let client = cluster.client();
    assert_eq!(oracle(&mut redis, &[b"FLUSHALL".to_vec()]), Ok(Reply::ok()));
    assert_eq!(client.command(&["FLUSHALL"]), Ok(Reply::ok()));

    let mut gen = Gen { rng: Rng(seed), step: 0, sleep_after: false, base_ms: now_ms() / 1000 * 1000 };
    let mut history: Vec<String> = Vec::new();
    // Per command: (runs, error replies), printed at the end to show what was covered.
    let mut stats: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let started = Instant::now();
    for step in 0..steps {
        gen.step = step;
        let args = gen.command(&mut |key| match oracle(&mut redis, &[b"GET".to_vec(), key.to_vec()]) {
            Ok(Reply::Bulk(b)) => Some(b.to_vec()),
            _ => None,
        });
        let r = oracle(&mut redis, &args);
        let o = client.command(&args).map_err(|e| e.to_string());
        if !same(&args, &r, &o) {
            fail(seed, step, &args, &r, &o, &history);
        }
        let entry = stats.entry(String::from_utf8_lossy(&args[0]).to_ascii_lowercase()).or_default();
        entry.0 += 1;
        entry.1 += u32::from(r.is_err());
        history.push(format!("#{step}: {} -> {}", show_args(&args), show(&r)));
        if gen.sleep_after {
            std::thread::sleep(Duration::from_millis(3));
        }

        // Every so often, and at the end, compare the whole keyspace.
        if step % 250 == 249 || step == steps - 1 {
            for k in 0..KEYS {
                let key = format!("{{t}}k{k}").into_bytes();
                for name in ["GET", "PTTL", "TYPE"] {
                    let args = vec![name.as_bytes().to_vec(), key.clone()];
                    let r = oracle(&mut redis, &args);
                    let o = client.command(&args).map_err(|e| e.to_string());
                    if !same(&args, &r, &o) {
                        fail(seed, step, &args, &r, &o, &history);
                    }
                }
            }
        }
    }
    let covered: Vec<String> =
        stats.iter().map(|(n, (runs, errs))| format!("{n} {runs}/{errs}")).collect();
    eprintln!("differential_redis: commands run/errors: {}", covered.join(", "));
    eprintln!("differential_redis: {steps} steps matched in {:?}", started.elapsed());
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
