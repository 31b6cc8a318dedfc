//! Shared by the differential tests (`mod common;`): a tiny blocking RESP2 client for a real
//! `redis-server` (the oracle), the environment rules, a seeded RNG, and the side-by-side runner
//! that sends every command to both and compares the replies.
//!
//! Environment:
//! - `SLOTSTORE_REDIS_ADDR`: where redis-server 7 listens (e.g. `127.0.0.1:6399`). Unset: the
//!   differential tests print `skipped: set SLOTSTORE_REDIS_ADDR` and pass. There is no default
//!   address. Start one with `redis-server --port 6399 --save '' --appendonly no --daemonize yes`.
//! - `SLOTSTORE_REQUIRE_REDIS=1`: fail instead of skipping when the address is unset or nothing
//!   answers there (CI sets it).
//! - `SLOTSTORE_DIFF_SEED`: replay a run (every test prints its seed when it starts), or
//!   `random` to draw a fresh seed. Unset, every run uses the same fixed seed.
//! - `SLOTSTORE_DIFF_STEPS`: how many random commands each test runs (each has its default).
//!
//! Each test keeps its keys under a hash tag of its own (`{diff-lists}`, ...) and deletes only
//! those keys on the server, before and after (also when it fails): no `FLUSHALL`, so the tests
//! run in parallel against one server.

#![allow(dead_code)] // each test binary uses a different part of this module

use slotstore::{Client, Cluster, Reply};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ----- a tiny blocking RESP2 client -----

/// A reply as compared: the value, or the error text.
pub type Outcome = Result<Reply, String>;

pub struct Redis {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl Redis {
    pub fn connect(addr: &str) -> io::Result<Redis> {
        let sock = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unresolvable address"))?;
        let stream = TcpStream::connect_timeout(&sock, Duration::from_millis(500))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let writer = stream.try_clone()?;
        Ok(Redis { reader: BufReader::new(stream), writer })
    }

    /// Sends one command as a RESP array of bulk strings and reads its reply.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Outcome> {
        self.send(args)?;
        self.read_reply()
    }

    /// Reads one more reply or pushed frame (a subscriber's confirmations and messages).
    pub fn read(&mut self) -> io::Result<Outcome> {
        self.read_reply()
    }

    /// Sends a command without reading its reply (`SUBSCRIBE` answers one frame per name).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out)
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

/// The oracle named by `SLOTSTORE_REDIS_ADDR`, or `None` (after saying why) when the test is to
/// be skipped. Panics instead when `SLOTSTORE_REQUIRE_REDIS=1`.
pub fn redis_from_env() -> Option<(String, Redis)> {
    let required = std::env::var("SLOTSTORE_REQUIRE_REDIS").is_ok_and(|v| v.trim() == "1");
    let Ok(addr) = std::env::var("SLOTSTORE_REDIS_ADDR") else {
        assert!(!required, "SLOTSTORE_REQUIRE_REDIS=1 but SLOTSTORE_REDIS_ADDR is not set");
        eprintln!("skipped: set SLOTSTORE_REDIS_ADDR");
        return None;
    };
    match Redis::connect(&addr) {
        Ok(r) => Some((addr, r)),
        Err(e) if required => panic!("no redis-server at {addr} ({e}) and SLOTSTORE_REQUIRE_REDIS=1"),
        Err(e) => {
            eprintln!("skipped: no redis-server at SLOTSTORE_REDIS_ADDR={addr} ({e})");
            None
        }
    }
}

// ----- a seeded RNG (splitmix64) -----

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

/// The seed of a run that names none. Fixed, so `cargo test` (and CI) replays the same
/// sequences every time: a new failure comes from a change, not from the draw.
pub const DEFAULT_SEED: u64 = 0x5107_5702_e000_0016;

/// `SLOTSTORE_DIFF_SEED`: a number replays that run, `random` draws a fresh seed from the
/// clock (to explore new sequences); unset, [`DEFAULT_SEED`].
pub fn seed() -> u64 {
    match std::env::var("SLOTSTORE_DIFF_SEED") {
        Err(_) => DEFAULT_SEED,
        Ok(s) if s.trim() == "random" => {
            let t = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
            t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
        }
        Ok(s) => s.trim().parse().expect("SLOTSTORE_DIFF_SEED must be a u64 or `random`"),
    }
}

/// `SLOTSTORE_DIFF_STEPS`, or `default`.
pub fn steps(default: usize) -> usize {
    std::env::var("SLOTSTORE_DIFF_STEPS")
        .ok()
        .map_or(default, |s| s.trim().parse().expect("SLOTSTORE_DIFF_STEPS must be an integer"))
}

// ----- comparison -----

fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

/// How far apart two time replies may be (they are read a moment apart).
fn tolerance(cmd: &str) -> i64 {
    match cmd {
        "TTL" | "EXPIRETIME" => 1,
        "PTTL" | "PEXPIRETIME" => 250,
        _ => 0,
    }
}

fn sort_items(items: &mut [Reply]) {
    items
        .sort_by(|a, b| a.as_bytes().cmp(&b.as_bytes()).then_with(|| a.to_string().cmp(&b.to_string())));
}

/// Flat `[k1, v1, k2, v2, ...]` as sorted pairs.
fn sorted_pairs(items: Vec<Reply>) -> Reply {
    let mut pairs: Vec<Reply> = items.chunks(2).map(|p| Reply::Array(p.to_vec())).collect();
    pairs.sort_by_key(|p| p.to_string());
    Reply::Array(pairs)
}

/// A reply with what Redis leaves open taken out: the order of unordered collections (compared
/// as sets), and which elements a random pick chose (only how many).
pub fn normalize<A: AsRef<[u8]>>(args: &[A], outcome: Outcome) -> Outcome {
    let reply = outcome?;
    let cmd = upper(args[0].as_ref());
    let random = matches!(cmd.as_str(), "SRANDMEMBER" | "HRANDFIELD" | "ZRANDMEMBER" | "SPOP");
    let Reply::Array(mut items) = reply else {
        if random && args.len() == 2 {
            // A single random pick: only whether there was one.
            return Ok(Reply::Simple(if reply.is_nil() { "nil" } else { "one" }.into()));
        }
        return Ok(reply);
    };
    let with_pairs = args.len() > 3 && !matches!(cmd.as_str(), "SPOP" | "SRANDMEMBER");
    if random {
        let count = args.get(2).and_then(|c| std::str::from_utf8(c.as_ref()).ok()?.parse::<i64>().ok());
        let per_pick = if with_pairs { 2 } else { 1 };
        let picks = (items.len() / per_pick) as i64;
        // Picks short of the whole collection (or with repeats): only how many.
        if count.is_some_and(|c| c < 0 || (c == picks && cmd != "SPOP")) {
            return Ok(Reply::Int(items.len() as i64));
        }
    }
    match cmd.as_str() {
        "HGETALL" => Ok(sorted_pairs(items)),
        "HRANDFIELD" | "ZRANDMEMBER" if with_pairs => Ok(sorted_pairs(items)),
        "HKEYS" | "HVALS" | "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" | "SPOP" | "SRANDMEMBER"
        | "HRANDFIELD" | "ZRANDMEMBER" => {
            sort_items(&mut items);
            Ok(Reply::Array(items))
        }
        _ => Ok(Reply::Array(items)),
    }
}

/// True when the two normalized outcomes count as the same reply: values equal (time replies
/// within a tolerance), errors equal in full text (slotstore claims Redis's error text).
pub fn same<A: AsRef<[u8]>>(args: &[A], redis: &Outcome, ours: &Outcome) -> bool {
    let cmd = upper(args[0].as_ref());
    match (redis, ours) {
        (Ok(Reply::Int(a)), Ok(Reply::Int(b))) if *a >= 0 && *b >= 0 => (a - b).abs() <= tolerance(&cmd),
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}

/// True for the scan commands, which are compared over a whole scan.
fn is_scan<A: AsRef<[u8]>>(args: &[A]) -> bool {
    matches!(upper(args[0].as_ref()).as_str(), "HSCAN" | "SSCAN" | "ZSCAN") && args.len() >= 3
}

/// A whole scan from the command's cursor, run with `send`: every element seen (field/value
/// or member/score pairs for `HSCAN`/`ZSCAN`), sorted, without repeats; an error as is. The
/// cursors themselves differ by design (each store numbers its own positions).
fn whole_scan(args: &[Vec<u8>], mut send: impl FnMut(&[Vec<u8>]) -> Outcome) -> Outcome {
    let pairs = upper(&args[0]) != "SSCAN";
    let mut w = args.to_vec();
    let mut seen = BTreeSet::new();
    for _ in 0..100_000 {
        let r = send(&w)?;
        let parts = r.as_array().expect("scan reply is an array").to_vec();
        let items = parts[1].as_array().expect("scan items are an array");
        if pairs {
            seen.extend(items.chunks(2).map(|p| format!("{}={}", p[0], p[1])));
        } else {
            seen.extend(items.iter().map(|m| m.to_string()));
        }
        w[2] = parts[0].as_bytes().expect("scan cursor").to_vec();
        if w[2] == b"0" {
            return Ok(Reply::Array(seen.into_iter().map(Reply::bulk).collect()));
        }
    }
    panic!("scan does not end: {}", show_args(args));
}

pub fn show_args<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter().map(|a| Reply::bulk(a.as_ref()).to_string()).collect::<Vec<_>>().join(" ")
}

pub fn show(o: &Outcome) -> String {
    match o {
        Ok(r) => format!("{r:?}"),
        Err(e) => format!("(error) {e}"),
    }
}

// ----- the side-by-side runner -----

/// One differential test: an oracle, a fresh 3-primary slotstore, a seed, and the record of
/// what ran. Keys are written with the placeholder tag `{t}`; `check` puts the test's own tag
/// in its place. Dropping it deletes the test's keys on the server.
pub struct Diff {
    pub redis: Redis,
    pub client: Client,
    _cluster: Cluster,
    pub test: &'static str,
    pub tag: String,
    pub seed: u64,
    pub steps: usize,
    pub step: usize,
    history: Vec<String>,
    /// Per command: (runs, error replies).
    stats: BTreeMap<String, (u32, u32)>,
    started: Instant,
}

impl Diff {
    /// Connects to the oracle (or returns `None`: skipped), picks the seed and the number of
    /// steps, and deletes what an earlier run of this test may have left under its tag.
    pub fn start(test: &'static str, default_steps: usize) -> Option<Diff> {
        let (addr, redis) = redis_from_env()?;
        let seed = seed();
        let steps = steps(default_steps);
        let cluster = Cluster::builder().primaries(3).build().expect("cluster");
        let client = cluster.client();
        let tag = format!("{{diff-{test}}}");
        eprintln!(
            "{test}: redis at {addr}, SLOTSTORE_DIFF_SEED={seed}, {steps} steps, keys under {tag}"
        );
        let mut d = Diff {
            redis,
            client,
            _cluster: cluster,
            test,
            tag,
            seed,
            steps,
            step: 0,
            history: Vec::new(),
            stats: BTreeMap::new(),
            started: Instant::now(),
        };
        d.cleanup();
        Some(d)
    }

    /// A fresh RNG from the seed.
    pub fn rng(&self) -> Rng {
        Rng(self.seed)
    }

    /// `args` with the placeholder tag `{t}` at the start of an argument replaced by this
    /// test's tag.
    pub fn retag<A: AsRef<[u8]>>(&self, args: &[A]) -> Vec<Vec<u8>> {
        args.iter()
            .map(|a| {
                let a = a.as_ref();
                match a.strip_prefix(b"{t}") {
                    Some(rest) => [self.tag.as_bytes(), rest].concat(),
                    None => a.to_vec(),
                }
            })
            .collect()
    }

    /// Runs a command on the oracle only (for a generator's questions, e.g. an encoding).
    pub fn oracle<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Outcome {
        let args = self.retag(args);
        self.redis.command(&args).unwrap_or_else(|e| panic!("redis-server failed: {e}"))
    }

    /// Runs a command on both sides and fails the test if the replies differ.
    pub fn check<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let _ = self.compare(args);
    }

    /// As `check`, and returns Redis's reply (not normalized).
    pub fn compare<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Outcome {
        let args = self.retag(args);
        let redis = &mut self.redis;
        let client = &self.client;
        let mut on_redis =
            |w: &[Vec<u8>]| redis.command(w).unwrap_or_else(|e| panic!("redis-server failed: {e}"));
        let on_ours = |w: &[Vec<u8>]| client.command(w).map_err(|e| e.to_string());
        let (raw, want, got) = if is_scan(&args) {
            let want = whole_scan(&args, &mut on_redis);
            (want.clone(), want, whole_scan(&args, on_ours))
        } else {
            let raw = on_redis(&args);
            (raw.clone(), normalize(&args, raw), normalize(&args, on_ours(&args)))
        };
        if !same(&args, &want, &got) {
            self.fail(&args, &want, &got);
        }
        let entry = self.stats.entry(upper(&args[0])).or_default();
        entry.0 += 1;
        entry.1 += u32::from(raw.is_err());
        self.history.push(format!("#{}: {} -> {}", self.step, show_args(&args), show(&raw)));
        if self.history.len() > 200 {
            self.history.drain(..100);
        }
        raw
    }

    fn fail(&mut self, args: &[Vec<u8>], want: &Outcome, got: &Outcome) -> ! {
        let mut msg = String::new();
        let _ = writeln!(msg, "slotstore differs from redis-server ({})", self.test);
        let _ = writeln!(
            msg,
            "  replay:    SLOTSTORE_DIFF_SEED={} cargo test --test differential_redis {}",
            self.seed, self.test
        );
        let _ = writeln!(msg, "  step:      {}", self.step);
        let _ = writeln!(msg, "  command:   {}", show_args(args));
        let _ = writeln!(msg, "  redis:     {}", show(want));
        let _ = writeln!(msg, "  slotstore: {}", show(got));
        let _ = writeln!(msg, "  previous commands (oldest first):");
        for h in self.history.iter().rev().take(25).rev() {
            let _ = writeln!(msg, "    {h}");
        }
        panic!("{msg}");
    }

    /// Prints what was covered: commands run, errors among them, time taken.
    pub fn finish(&self) {
        let total: u32 = self.stats.values().map(|s| s.0).sum();
        let errors: u32 = self.stats.values().map(|s| s.1).sum();
        let covered: Vec<String> = self
            .stats
            .iter()
            .map(|(n, (runs, errs))| format!("{} {runs}/{errs}", n.to_lowercase()))
            .collect();
        eprintln!("{}: commands run/errors: {}", self.test, covered.join(", "));
        eprintln!(
            "{}: {total} commands ({errors} error replies) matched in {:?} (seed {})",
            self.test,
            self.started.elapsed(),
            self.seed
        );
    }

    /// Deletes this test's keys (and only them) on the server.
    fn cleanup(&mut self) {
        let pattern = format!("*{}*", self.tag);
        let mut cursor = b"0".to_vec();
        loop {
            let args: [&[u8]; 6] = [b"SCAN", &cursor, b"MATCH", pattern.as_bytes(), b"COUNT", b"1000"];
            // Never panics: this runs in `drop`, maybe while a failed test unwinds (and the
            // connection may be out of step after a timeout).
            let Ok(Ok(Reply::Array(parts))) = self.redis.command(&args) else { return };
            let (Some(next), Some(Reply::Array(found))) = (parts.first(), parts.get(1)) else { return };
            let keys: Vec<Vec<u8>> =
                found.iter().filter_map(|k| k.as_bytes().map(<[u8]>::to_vec)).collect();
            if !keys.is_empty() {
                let mut del = vec![b"DEL".to_vec()];
                del.extend(keys);
                let _ = self.redis.command(&del);
            }
            let Some(next) = next.as_bytes() else { return };
            cursor = next.to_vec();
            if cursor == b"0" {
                return;
            }
        }
    }
}

impl Drop for Diff {
    fn drop(&mut self) {
        self.cleanup();
    }
}
