//! Slot migration costs.
//!
//! - `migrate/<mode>/replicas=R`: keys per second moved. One slot holds N = 20 000 string keys
//!   (`{mig}:<i>`, 16-byte values; one hash tag, so one slot) on a 2-primary store with R = 0
//!   or 1 replica per primary; each iteration moves the slot to the other primary (so it goes
//!   back and forth, the store is built once) and is timed alone. Modes:
//!   - `atomic`: `Cluster::migrate_slot`; the table changes hands under the slot's lock. It
//!     is O(1) without replicas; with one, the target's replica gets a copy of the table
//!     (copied under the lock, applied later by the replica's thread, not waited for).
//!   - `step(10)` / `step(100)`: `begin_migration(KeyByKey)`, `step(n)` until the source is
//!     empty, `finish()`. Each step waits until both sides' replicas have applied it, so with
//!     replicas the batch size sets the pace. (For scale: `redis-cli --cluster reshard` on
//!     this machine moved about 19k keys/s at pipeline 10 and 40k keys/s at pipeline 100.)
//!   - `finish`: `begin_migration(KeyByKey)` then `finish()` at once (batches of 256 keys).
//!
//!   Criterion reports elements/s: keys moved per second.
//! - `latency on a moving slot` (a table on stderr, not a criterion measurement): one thread
//!   alternates GET and SET on random keys of the slot for a second, timing each command,
//!   while the main thread moves that slot back and forth, atomically or key-by-key with
//!   `step(100)`, either `paced` (10 ms between moves) or `back-to-back` (no pause); `steady`
//!   is the same loop with nothing moving. Printed: p50, p99, p99.9 and max per command,
//!   commands run, moves made, and errors (a default client must see none). It runs whatever
//!   filter is given to `cargo bench`.
//!
//! Run: `cargo bench --bench migration` (about a minute on 2 cores).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use slotstore::{key_slot, Client, Cluster, Error, MigrationMode, NodeId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 20_000;
const VALUE: &str = "value-0123456789";

fn key(i: usize) -> String {
    format!("{{mig}}:{i:06}")
}

/// A 2-primary store whose `{mig}` slot holds `N` keys.
struct Store {
    cluster: Cluster,
    client: Client,
    slot: u16,
}

impl Store {
    fn new(replicas: usize) -> Store {
        let cluster = Cluster::builder()
            .primaries(2)
            .replicas(replicas)
            // No failover under a loaded machine: a busy replica thread is not a dead one.
            .node_timeout(Duration::from_secs(10))
            .build()
            .expect("builds");
        let client = cluster.client();
        for i in 0..N {
            client.set(key(i), VALUE).expect("set");
        }
        let store = Store { cluster, client, slot: key_slot("{mig}") };
        store.settle(replicas);
        store
    }

    /// The primary that does not own the slot: where the next move goes.
    fn other(&self) -> NodeId {
        let owner = self.cluster.slot_owner(self.slot).expect("slot served");
        self.cluster.primaries().into_iter().find(|&p| p != owner).expect("two primaries")
    }

    /// Moves the slot to the other primary as `mode` says.
    fn move_slot(&self, mode: Mode) -> Result<(), Error> {
        let to = self.other();
        let kbk = || self.cluster.begin_migration(self.slot, to, MigrationMode::KeyByKey);
        match mode {
            Mode::Atomic => self.cluster.migrate_slot(self.slot, to),
            Mode::Steps(n) => {
                let mut m = kbk()?;
                while m.step(n)?.keys_left > 0 {}
                m.finish().map(drop)
            }
            Mode::Finish => kbk()?.finish().map(drop),
        }
    }

    /// Waits until the owner's replicas have applied everything sent so far (the table
    /// copies atomic moves queue included), so one benchmark's backlog does not slow the
    /// next. Rewrites a key with its own value: the key count stays `N`.
    fn settle(&self, replicas: usize) {
        if replicas > 0 {
            self.client.set(key(0), VALUE).expect("set");
            let acked = self.client.wait(replicas, Duration::from_secs(30)).expect("wait");
            assert_eq!(acked, replicas, "replicas did not catch up");
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Atomic,
    Steps(usize),
    Finish,
}

impl Mode {
    fn name(self) -> String {
        match self {
            Mode::Atomic => "atomic".into(),
            Mode::Steps(n) => format!("step({n})"),
            Mode::Finish => "finish".into(),
        }
    }
}

fn keys_per_second(c: &mut Criterion) {
    let mut g = c.benchmark_group("migrate");
    g.throughput(Throughput::Elements(N as u64));
    // Flat: ten samples of equal size, so a slow mode runs ten moves, not fifty-five.
    g.sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    for replicas in [0, 1] {
        let store = Store::new(replicas);
        for mode in [Mode::Atomic, Mode::Steps(10), Mode::Steps(100), Mode::Finish] {
            g.bench_function(BenchmarkId::new(mode.name(), format!("replicas={replicas}")), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        store.move_slot(mode).expect("slot moves");
                        total += started.elapsed();
                    }
                    total
                })
            });
            store.settle(replicas);
            assert_eq!(store.client.count_keys_in_slot(store.slot), N, "keys lost in {mode:?}");
        }
    }
    g.finish();
}

/// Per-command latencies of one run, in nanoseconds.
struct Latencies {
    ns: Vec<u32>,
    errors: Vec<Error>,
}

impl Latencies {
    fn at(&self, q: f64) -> Duration {
        let i = ((self.ns.len() as f64 * q) as usize).min(self.ns.len().saturating_sub(1));
        Duration::from_nanos(self.ns.get(i).copied().unwrap_or(0).into())
    }
}

/// One thread runs GET/SET on random keys of the slot for `run`, timing each command, while
/// the calling thread moves the slot back and forth (`Some((mode, pause between moves))`) or
/// waits (`None`). Returns the latencies, sorted, and the moves made.
fn run_with_mover(store: &Store, mover: Option<(Mode, Duration)>, run: Duration) -> (Latencies, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (client, stop) = (store.client.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut out = Latencies { ns: Vec::with_capacity(1 << 20), errors: Vec::new() };
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            while !stop.load(Ordering::Relaxed) {
                // xorshift: a cheap spread over the slot's keys, the same in every run.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = key(x as usize % N);
                let started = Instant::now();
                let r = if x & 1 == 0 { client.get(&k).map(drop) } else { client.set(&k, VALUE) };
                out.ns.push(u32::try_from(started.elapsed().as_nanos()).unwrap_or(u32::MAX));
                if let Err(e) = r {
                    out.errors.push(e);
                }
            }
            out.ns.sort_unstable();
            out
        })
    };
    let deadline = Instant::now() + run;
    let mut moves = 0;
    match mover {
        None => std::thread::sleep(run),
        Some((mode, pause)) => {
            while Instant::now() < deadline {
                store.move_slot(mode).expect("slot moves");
                moves += 1;
                std::thread::sleep(pause);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    (worker.join().expect("worker thread"), moves)
}

fn latency_on_moving_slot(_: &mut Criterion) {
    let run = Duration::from_secs(1);
    let paced = Duration::from_millis(10);
    eprintln!("\nlatency on a moving slot ({N} keys, GET/SET from one thread, {run:?} per row)");
    eprintln!(
        "{:<9} {:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}",
        "replicas", "mover", "p50", "p99", "p99.9", "max", "commands", "moves", "errors"
    );
    let movers = [
        None,
        Some((Mode::Atomic, paced)),
        Some((Mode::Atomic, Duration::ZERO)),
        Some((Mode::Steps(100), paced)),
        Some((Mode::Steps(100), Duration::ZERO)),
    ];
    for replicas in [0, 1] {
        let store = Store::new(replicas);
        for mover in movers {
            let (l, moves) = run_with_mover(&store, mover, run);
            let name = match mover {
                None => "steady".to_string(),
                Some((mode, pause)) if pause.is_zero() => format!("{} back-to-back", mode.name()),
                Some((mode, _)) => format!("{} paced", mode.name()),
            };
            eprintln!(
                "{replicas:<9} {name:<24} {:>9.1?} {:>9.1?} {:>9.1?} {:>9.1?} {:>9} {moves:>6} {:>6}",
                l.at(0.5),
                l.at(0.99),
                l.at(0.999),
                l.at(1.0),
                l.ns.len(),
                l.errors.len()
            );
            if let Some(e) = l.errors.first() {
                eprintln!("  first error: {e}");
            }
            store.settle(replicas);
        }
    }
    eprintln!();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = keys_per_second, latency_on_moving_slot
}
criterion_main!(benches);
