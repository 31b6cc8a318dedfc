//! Data-type throughput, slotstore beside a real redis-server over loopback, and memory per
//! element of each collection type, small (compact form) and large.
//!
//! Workloads, each a batch of 100 commands on one key:
//! - `LPUSH`: 100 pushes of a 16-byte element, then `DEL` (so the list stays small);
//! - `LRANGE`: 100 × `LRANGE key 0 9` on a 100-element list (the last ten messages);
//! - `HSET` / `HGET`: 100 fields of a 100-field hash, 16-byte values;
//! - `ZADD` / `ZRANGEBYSCORE`: 100 × `ZADD` on a 1000-member set (scores change), 100 ×
//!   `ZRANGEBYSCORE key a a+10` (about 10 members each).
//!
//! slotstore runs them through its typed methods on the caller's thread; redis-server gets the
//! same 100 commands in one pipelined write over one loopback connection (a minimal RESP client
//! below), the fairest Redis can do from one client. Redis comes from `SLOTSTORE_REDIS_ADDR`
//! (e.g. `redis-server --port 6405 --save '' --appendonly no --daemonize yes` and
//! `SLOTSTORE_REDIS_ADDR=127.0.0.1:6405`); unset, only slotstore is measured. The bench writes
//! only keys under the tag `{bench-dt}` there and deletes them at the end.
//!
//! After the criterion groups it prints a ratio table (its own timing loop, about 0.3 s per
//! cell) and a memory table: `client.memory_used()` before and after loading, per element.
//!
//! Run: `SLOTSTORE_REDIS_ADDR=127.0.0.1:6405 cargo bench --bench datatypes`.

use criterion::{BenchmarkId, Criterion, Throughput};
use slotstore::{Client, Cluster};
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BATCH: usize = 100;

// ----- a minimal pipelined RESP client -----

struct Redis {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    out: Vec<u8>,
    queued: usize,
    line: Vec<u8>,
}

impl Redis {
    fn connect(addr: &str) -> std::io::Result<Redis> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let writer = stream.try_clone()?;
        Ok(Redis {
            reader: BufReader::with_capacity(1 << 16, stream),
            writer,
            out: Vec::new(),
            queued: 0,
            line: Vec::new(),
        })
    }

    /// Queues a command.
    fn push<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            let a = a.as_ref();
            self.out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
        self.queued += 1;
    }

    /// Sends what was queued in one write and reads every reply; returns how many bulk
    /// strings and integers came back (so the replies are looked at).
    fn flush(&mut self) -> usize {
        self.writer.write_all(&self.out).expect("write to redis-server");
        self.out.clear();
        let mut items = 0;
        for _ in 0..std::mem::take(&mut self.queued) {
            items += self.read();
        }
        items
    }

    fn read(&mut self) -> usize {
        self.line.clear();
        self.reader.read_until(b'\n', &mut self.line).expect("read from redis-server");
        let n =
            || std::str::from_utf8(&self.line[1..self.line.len() - 2]).unwrap().parse::<i64>().unwrap();
        match self.line[0] {
            b'+' | b':' => 1,
            b'-' => panic!("redis-server error: {}", String::from_utf8_lossy(&self.line)),
            b'$' => {
                let len = n();
                if len >= 0 {
                    let mut buf = vec![0; len as usize + 2];
                    self.reader.read_exact(&mut buf).expect("bulk");
                }
                1
            }
            b'*' => {
                let len = n();
                (0..len.max(0)).map(|_| self.read()).sum()
            }
            other => panic!("unexpected RESP type {other}"),
        }
    }

    fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> usize {
        self.push(args);
        self.flush()
    }

    /// Runs one command whose reply is an integer and returns it.
    fn int<A: AsRef<[u8]>>(&mut self, args: &[A]) -> i64 {
        self.push(args);
        self.writer.write_all(&self.out).expect("write to redis-server");
        self.out.clear();
        self.queued = 0;
        self.line.clear();
        self.reader.read_until(b'\n', &mut self.line).expect("read from redis-server");
        assert_eq!(self.line[0], b':', "{}", String::from_utf8_lossy(&self.line));
        std::str::from_utf8(&self.line[1..self.line.len() - 2]).unwrap().parse().unwrap()
    }
}

fn redis_from_env() -> Option<Redis> {
    let Ok(addr) = std::env::var("SLOTSTORE_REDIS_ADDR") else {
        println!("SLOTSTORE_REDIS_ADDR is not set: the Redis side is skipped, slotstore only");
        return None;
    };
    match Redis::connect(&addr) {
        Ok(r) => Some(r),
        Err(e) => {
            println!("no redis-server at {addr} ({e}): the Redis side is skipped, slotstore only");
            None
        }
    }
}

// ----- the workloads -----

const LIST: &str = "{bench-dt}list";
const PUSHED: &str = "{bench-dt}pushed";
const HASH: &str = "{bench-dt}hash";
const ZSET: &str = "{bench-dt}zset";

/// The words the workloads use, made once so that no batch spends its time formatting.
struct Words {
    elements: Vec<String>,
    fields: Vec<String>,
    scores: Vec<String>,
}

fn words() -> &'static Words {
    static WORDS: std::sync::OnceLock<Words> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| Words {
        elements: (0..2000).map(|i| format!("element-{i:08}")).collect(),
        fields: (0..100).map(|i| format!("field-{i}")).collect(),
        scores: (0..1000).map(|i| i.to_string()).collect(),
    })
}

/// A 16-byte element.
fn element(i: usize) -> String {
    format!("element-{i:08}")
}

fn field(i: usize) -> String {
    format!("field-{i}")
}

/// Loads the keys the read workloads use, on both sides.
fn setup(c: &Client, r: Option<&mut Redis>) {
    let elems: Vec<String> = (0..100).map(element).collect();
    c.del(&[LIST, HASH, ZSET, PUSHED]).unwrap();
    c.rpush(LIST, &elems).unwrap();
    let pairs: Vec<(String, String)> = (0..100).map(|i| (field(i), element(i))).collect();
    c.hset(HASH, &pairs).unwrap();
    let members: Vec<(f64, String)> = (0..1000).map(|i| (i as f64, element(i))).collect();
    c.zadd(ZSET, &members).unwrap();
    if let Some(r) = r {
        r.command(&["DEL", LIST, HASH, ZSET, PUSHED]);
        let mut a = vec!["RPUSH".to_string(), LIST.into()];
        a.extend(elems);
        r.command(&a);
        let mut a = vec!["HSET".to_string(), HASH.into()];
        a.extend(pairs.into_iter().flat_map(|(f, v)| [f, v]));
        r.command(&a);
        let mut a = vec!["ZADD".to_string(), ZSET.into()];
        a.extend(members.into_iter().flat_map(|(s, m)| [s.to_string(), m]));
        r.command(&a);
    }
}

#[derive(Clone, Copy)]
enum Work {
    Lpush,
    Lrange,
    Hset,
    Hget,
    Zadd,
    ZrangeByScore,
}

const WORKS: [(Work, &str); 6] = [
    (Work::Lpush, "LPUSH"),
    (Work::Lrange, "LRANGE 0 9"),
    (Work::Hset, "HSET"),
    (Work::Hget, "HGET"),
    (Work::Zadd, "ZADD"),
    (Work::ZrangeByScore, "ZRANGEBYSCORE"),
];

/// One batch on slotstore; `round` varies the scores and ranges.
fn run_slotstore(c: &Client, work: Work, round: usize) -> usize {
    let w = words();
    let mut n = 0;
    match work {
        Work::Lpush => {
            for i in 0..BATCH {
                n += c.lpush(PUSHED, &[&w.elements[i]]).unwrap();
            }
            c.del(&[PUSHED]).unwrap();
        }
        Work::Lrange => {
            for _ in 0..BATCH {
                n += c.lrange(LIST, 0, 9).unwrap().len();
            }
        }
        Work::Hset => {
            for i in 0..BATCH {
                n += c.hset(HASH, &[(&w.fields[i], &w.elements[(round + i) % 2000])]).unwrap();
            }
        }
        Work::Hget => {
            for i in 0..BATCH {
                n += usize::from(c.hget(HASH, &w.fields[i]).unwrap().is_some());
            }
        }
        Work::Zadd => {
            for i in 0..BATCH {
                let m = (round * 7 + i * 13) % 1000;
                n += c.zadd(ZSET, &[(((round + i) % 1000) as f64, &w.elements[m])]).unwrap();
            }
        }
        Work::ZrangeByScore => {
            for i in 0..BATCH {
                let lo = ((round + i * 37) % 990) as f64;
                n += c.zrange_by_score(ZSET, lo, lo + 10.0).unwrap().len();
            }
        }
    }
    n
}

/// The batch as command words, handed one command at a time to `send`.
fn batch_words(work: Work, round: usize, mut send: impl FnMut(&[&str])) {
    let w = words();
    match work {
        Work::Lpush => {
            for i in 0..BATCH {
                send(&["LPUSH", PUSHED, &w.elements[i]]);
            }
            send(&["DEL", PUSHED]);
        }
        Work::Lrange => {
            for _ in 0..BATCH {
                send(&["LRANGE", LIST, "0", "9"]);
            }
        }
        Work::Hset => {
            for i in 0..BATCH {
                send(&["HSET", HASH, &w.fields[i], &w.elements[(round + i) % 2000]]);
            }
        }
        Work::Hget => {
            for i in 0..BATCH {
                send(&["HGET", HASH, &w.fields[i]]);
            }
        }
        Work::Zadd => {
            for i in 0..BATCH {
                let m = (round * 7 + i * 13) % 1000;
                send(&["ZADD", ZSET, &w.scores[(round + i) % 1000], &w.elements[m]]);
            }
        }
        Work::ZrangeByScore => {
            for i in 0..BATCH {
                let lo = (round + i * 37) % 990;
                send(&["ZRANGEBYSCORE", ZSET, &w.scores[lo], &w.scores[lo + 10]]);
            }
        }
    }
}

/// The same batch, pipelined to redis-server.
fn run_redis(r: &mut Redis, work: Work, round: usize) -> usize {
    batch_words(work, round, |args| r.push(args));
    r.flush()
}

/// The same batch through slotstore's `Client::command` (Redis words parsed on each call).
fn run_slotstore_command(c: &Client, work: Work, round: usize) -> usize {
    let mut n = 0;
    batch_words(work, round, |args| n += usize::from(c.command(args).is_ok()));
    n
}

fn criterion_groups(c: &mut Criterion, client: &Client, redis: &mut Option<Redis>) {
    for (work, name) in WORKS {
        let mut g = c.benchmark_group(format!("datatypes/{name}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        let mut round = 0;
        g.bench_function(BenchmarkId::new("slotstore", BATCH), |b| {
            b.iter(|| {
                round += 1;
                black_box(run_slotstore(client, work, round))
            })
        });
        if let Some(r) = redis.as_mut() {
            g.bench_function(BenchmarkId::new("redis-pipelined", BATCH), |b| {
                b.iter(|| {
                    round += 1;
                    black_box(run_redis(r, work, round))
                })
            });
        }
        g.finish();
    }
}

/// Commands per second of `f` (one batch of `BATCH` commands per call), over about `dur`.
fn rate(dur: Duration, mut f: impl FnMut(usize) -> usize) -> f64 {
    let mut round = 0;
    for _ in 0..20 {
        round += 1;
        black_box(f(round));
    }
    let start = Instant::now();
    let mut batches = 0u64;
    while start.elapsed() < dur {
        round += 1;
        black_box(f(round));
        batches += 1;
    }
    (batches * BATCH as u64) as f64 / start.elapsed().as_secs_f64()
}

fn ratio_table(client: &Client, redis: &mut Option<Redis>) {
    println!("\nthroughput, one thread, batches of {BATCH} commands on one key (commands/s)");
    println!(
        "{:<14} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "workload", "typed", "command()", "redis pipe", "typed/r", "command/r"
    );
    let dur = Duration::from_millis(300);
    for (work, name) in WORKS {
        let typed = rate(dur, |round| run_slotstore(client, work, round));
        let words = rate(dur, |round| run_slotstore_command(client, work, round));
        match redis.as_mut() {
            Some(r) => {
                let theirs = rate(dur, |round| run_redis(r, work, round));
                println!(
                    "{name:<14} {typed:>12.0} {words:>12.0} {theirs:>12.0} {:>9.1}x {:>9.1}x",
                    typed / theirs,
                    words / theirs
                );
            }
            None => {
                println!("{name:<14} {typed:>12.0} {words:>12.0} {:>12} {:>10} {:>10}", "-", "-", "-")
            }
        }
    }
}

// ----- memory per element -----

/// Loads `keys` collections of `size` elements of one type with `load`, and returns slotstore's
/// bytes per element (by `memory_used` before and after) and, with a server, Redis's (the sum
/// of `MEMORY USAGE` over the keys, `SAMPLES 0`: exact).
fn per_element(kind: &str, keys: usize, size: usize, redis: &mut Option<Redis>) -> (f64, Option<f64>) {
    let cluster = Cluster::builder().primaries(3).build().expect("cluster");
    let c = cluster.client();
    let before = c.memory_used();
    let mut redis_bytes = 0usize;
    for k in 0..keys {
        let key = format!("{{bench-dt}}mem:{kind}:{k}");
        let mut words: Vec<String> = Vec::with_capacity(2 * size + 2);
        match kind {
            "list" => {
                let elems: Vec<String> = (0..size).map(element).collect();
                c.rpush(&key, &elems).unwrap();
                words.extend(["RPUSH".into(), key.clone()]);
                words.extend(elems);
            }
            "hash" => {
                let pairs: Vec<(String, String)> = (0..size).map(|i| (field(i), element(i))).collect();
                c.hset(&key, &pairs).unwrap();
                words.extend(["HSET".into(), key.clone()]);
                words.extend(pairs.into_iter().flat_map(|(f, v)| [f, v]));
            }
            "set" => {
                let members: Vec<String> = (0..size).map(element).collect();
                c.sadd(&key, &members).unwrap();
                words.extend(["SADD".into(), key.clone()]);
                words.extend(members);
            }
            "set (ints)" => {
                let members: Vec<String> = (0..size).map(|i| (i * 3).to_string()).collect();
                c.sadd(&key, &members).unwrap();
                words.extend(["SADD".into(), key.clone()]);
                words.extend(members);
            }
            _ => {
                let members: Vec<(f64, String)> =
                    (0..size).map(|i| (i as f64 * 1.5, element(i))).collect();
                c.zadd(&key, &members).unwrap();
                words.extend(["ZADD".into(), key.clone()]);
                words.extend(members.into_iter().flat_map(|(s, m)| [s.to_string(), m]));
            }
        }
        if let Some(r) = redis.as_mut() {
            r.command(&words);
            redis_bytes += r.int(&["MEMORY", "USAGE", &key, "SAMPLES", "0"]) as usize;
            r.command(&["DEL", &key]);
        }
    }
    let elements = (keys * size) as f64;
    let ours = (c.memory_used() - before) as f64 / elements;
    (ours, redis.as_ref().map(|_| redis_bytes as f64 / elements))
}

fn memory_table(redis: &mut Option<Redis>) {
    println!("\nmemory per element (bytes; 16-byte elements/values, hash fields ~8 bytes, zset scores)");
    println!("{:<12} {:>7} {:>12} {:>11} {:>11}", "type", "size", "keys", "slotstore", "redis");
    for kind in ["list", "hash", "set", "set (ints)", "zset"] {
        for (keys, size) in [(2000, 16), (5, 20_000)] {
            let (ours, theirs) = per_element(kind, keys, size, redis);
            let theirs = theirs.map_or("-".to_string(), |b| format!("{b:.1}"));
            println!("{kind:<12} {size:>7} {keys:>12} {ours:>11.1} {theirs:>11}");
        }
    }
}

fn main() {
    let mut redis = redis_from_env();
    let cluster = Cluster::builder().primaries(3).build().expect("cluster");
    let client = cluster.client();
    setup(&client, redis.as_mut());

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .sample_size(20)
        .configure_from_args();
    criterion_groups(&mut c, &client, &mut redis);
    c.final_summary();

    setup(&client, redis.as_mut());
    ratio_table(&client, &mut redis);
    memory_table(&mut redis);
    if let Some(r) = redis.as_mut() {
        r.command(&["DEL", LIST, HASH, ZSET, PUSHED]);
    }
}
