//! A hot slot moves between primaries under live writes: what writers feel, and what a raw
//! client sees, in both migration modes.
//!
//! A 3-primary, 1-replica-each store holds one hot hash tag, `{hot}`: a counter, 1000 keys
//! the writers overwrite and 10 000 keys no one writes. Two writer threads INCR
//! `{hot}:counter` and SET `{hot}:k:<i>` as fast as they can, timing every command. The
//! tag's slot then moves round the primaries:
//!
//! - **atomic** (`Cluster::migrate_slot`): the slot's table changes hands under the slot's
//!   lock, so a writer waits for the move and never sees a redirect. Shown: the longest
//!   single command (the stall) and p99, against the same writers with nothing moving.
//! - **key-by-key** (`begin_migration`, `step(200)` until the source is empty, `finish`):
//!   Redis's MIGRATING/IMPORTING flow. Between steps a raw client (`follow_redirects(false)`)
//!   probes the slot and counts the `ASK`, `TRYAGAIN` and `MOVED` it is answered; one `ASK`
//!   is followed by hand (`ASKING` + `GET` on the target, via `command_at`). The writers' default
//!   clients follow all of it on their own.
//!
//! At the end the counter must equal the INCRs acknowledged, and every key must live on
//! exactly one primary.
//!
//! Run: `cargo run --release --example live_migration`

use slotstore::{key_slot, Cluster, Error, MigrationMode, NodeId};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const WRITERS: usize = 2;
const KEYS: usize = 1_000;
const BULK: usize = 10_000;
const COUNTER: &str = "{hot}:counter";

/// What the writers did in one phase.
#[derive(Default)]
struct Report {
    incrs: u64,
    /// How long the phase ran.
    elapsed: Duration,
    /// Nanoseconds per command (u32: a few MB for a phase, enough up to 4 s per command).
    latencies: Vec<u32>,
    errors: Vec<Error>,
}

impl Report {
    /// The slowest command (after [`Report::row`] sorted them).
    fn max(&self) -> Duration {
        Duration::from_nanos(self.latencies.last().copied().unwrap_or(0).into())
    }

    /// `duration, commands, p50, p99, max, errors` as one table row.
    fn row(&mut self, phase: &str) -> String {
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
            Duration::from_nanos(self.latencies[i].into())
        };
        format!(
            "{phase:<12} {:>8.0?} {:>9} {:>10.1?} {:>10.1?} {:>10.1?} {:>6}",
            self.elapsed,
            self.latencies.len(),
            at(0.5),
            at(0.99),
            self.max(),
            self.errors.len()
        )
    }
}

/// Runs `phase` while the writers write, and returns what they saw.
fn under_load(cluster: &Cluster, phase: impl FnOnce() -> Result<(), Error>) -> Result<Report, Error> {
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<JoinHandle<Report>> = (0..WRITERS)
        .map(|w| {
            let (client, stop) = (cluster.client(), stop.clone());
            std::thread::spawn(move || {
                let mut r = Report::default();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    // Alternate the two commands so both meet every state of the slot.
                    let result = if n % 2 == 0 {
                        client.incr_by(COUNTER, 1).map(|_| r.incrs += 1)
                    } else {
                        let i = (n / 2 * WRITERS + w) % KEYS;
                        client.set(format!("{{hot}}:k:{i}"), n.to_string())
                    };
                    let took = started.elapsed().as_nanos();
                    r.latencies.push(u32::try_from(took).unwrap_or(u32::MAX));
                    if let Err(e) = result {
                        r.errors.push(e);
                    }
                    n += 1;
                }
                r
            })
        })
        .collect();
    let started = Instant::now();
    let outcome = phase();
    stop.store(true, Ordering::Relaxed);
    let mut total = Report { elapsed: started.elapsed(), ..Report::default() };
    for w in writers {
        let r = w.join().expect("writer thread panicked");
        total.incrs += r.incrs;
        total.latencies.extend(r.latencies);
        total.errors.extend(r.errors);
    }
    outcome.map(|()| total)
}

/// The primary after `node` in id order, round the ring.
fn next_primary(cluster: &Cluster, node: NodeId) -> NodeId {
    let ps = cluster.primaries();
    let at = ps.iter().position(|&p| p == node).expect("a primary");
    ps[(at + 1) % ps.len()]
}

/// Redirects a raw client met, by code: how many, and the first one's text.
type Seen = BTreeMap<&'static str, (u64, String)>;

fn note(seen: &mut Seen, e: &Error) {
    seen.entry(e.code()).or_insert_with(|| (0, e.to_string())).0 += 1;
}

fn main() -> Result<(), Error> {
    let cluster = Cluster::builder().primaries(3).replicas(1).build()?;
    let client = cluster.client();
    let slot = key_slot(COUNTER);
    let bulk = |i: usize| format!("{{hot}}:bulk:{i}");
    for i in 0..BULK {
        client.set(bulk(i), i.to_string())?;
    }
    for i in 0..KEYS {
        client.set(format!("{{hot}}:k:{i}"), "0")?;
    }
    let home = cluster.slot_owner(slot).expect("served");
    println!("slot {slot} holds {} keys, on {}", client.count_keys_in_slot(slot), home.addr());
    // The nodes' redirect counters (every client's, default and raw): all, ASKs, TRYAGAINs.
    let redirects_now = || {
        let t = client.stats().total;
        [t.redirects, t.asks, t.try_agains]
    };
    println!(
        "\n{:<12} {:>8} {:>9} {:>10} {:>10} {:>10} {:>6}",
        "phase", "took", "commands", "p50", "p99", "max", "errors"
    );

    // The baseline: the same writers with nothing moving.
    let mut steady = under_load(&cluster, || {
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    })?;
    println!("{}", steady.row("steady"));

    // Atomic: 30 moves, 10 ms apart; each command waits out at most one move.
    let before = redirects_now();
    let mut slowest_move = Duration::ZERO;
    let mut atomic = under_load(&cluster, || {
        for _ in 0..30 {
            let to = next_primary(&cluster, cluster.slot_owner(slot).expect("served"));
            let started = Instant::now();
            cluster.migrate_slot(slot, to)?;
            slowest_move = slowest_move.max(started.elapsed());
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    })?;
    println!("{}", atomic.row("atomic"));
    let atomic_redirects = redirects_now()[0] - before[0];

    // Key-by-key: 3 moves of 200 keys a step, probed by a raw client between steps.
    let raw = cluster.client().follow_redirects(false);
    let mut seen = Seen::new();
    let mut asked_by_hand = None;
    let before = redirects_now();
    let mut key_by_key = under_load(&cluster, || {
        for _ in 0..3 {
            let from = cluster.slot_owner(slot).expect("served");
            let to = next_primary(&cluster, from);
            let mut m = cluster.begin_migration(slot, to, MigrationMode::KeyByKey)?;
            // The target serves only callers sent there by ASK: an unasked GET is sent home.
            if let Err(e) = raw.command_at(to, false, &["GET", COUNTER]) {
                note(&mut seen, &e);
            }
            while m.step(200)?.keys_left > 0 {
                // A sample spread over the bulk keys: some moved by now, some not.
                let sample: Vec<String> = (0..BULK).step_by(BULK / 16).map(bulk).collect();
                for key in &sample {
                    match raw.get(key) {
                        Ok(_) => {}
                        Err(e @ Error::Ask { node, .. }) => {
                            note(&mut seen, &e);
                            // What a cluster client does with ASK: ASKING, then the command,
                            // once, on the node named.
                            let got = raw.command_at(node, true, &["GET", key])?;
                            let i = key.rsplit(':').next().expect("{hot}:bulk:<i>");
                            assert_eq!(got.as_bytes(), Some(i.as_bytes()), "{key} moved intact");
                            asked_by_hand.get_or_insert((key.clone(), e, got));
                        }
                        Err(e) => note(&mut seen, &e),
                    }
                }
                // One command on keys split between the sides cannot run anywhere yet.
                if let Err(e) = raw.mget(&sample) {
                    note(&mut seen, &e);
                }
            }
            m.finish()?;
            // The raw client's slot map still names the old owner: one MOVED updates it.
            if let Err(e) = raw.get(COUNTER) {
                note(&mut seen, &e);
            }
        }
        Ok(())
    })?;
    println!("{}", key_by_key.row("key-by-key"));
    let kbk: Vec<u64> = redirects_now().iter().zip(before).map(|(now, was)| now - was).collect();

    // On 2 busy cores the steady max is scheduler noise; what atomic adds on top is the wait
    // for one move (the table, and its copy for the target's replica, change hands under the
    // slot's lock).
    println!(
        "\natomic: longest single command {:?} (steady: {:?}); slowest migrate_slot call {:?}; \
         slot-moved-away retries followed by the writers {atomic_redirects}",
        atomic.max(),
        steady.max(),
        slowest_move
    );
    println!("key-by-key: the raw client between steps saw");
    for (code, (count, example)) in &seen {
        println!("  {code:<9} x{count:<5} e.g. {example}");
    }
    if let Some((key, ask, got)) = &asked_by_hand {
        let value = String::from_utf8_lossy(got.as_bytes().unwrap_or_default());
        println!("  by hand: GET {key} -> {ask}; ASKING + GET there -> {value:?}");
    }
    let raw = |code| seen.get(code).map_or(0, |(n, _)| *n);
    let raw_all: u64 = ["ASK", "TRYAGAIN", "MOVED"].into_iter().map(raw).sum();
    println!(
        "key-by-key: ClusterStats redirects rose by {} (ASK {}, TRYAGAIN {}); the raw client's \
         share {raw_all} (ASK {}, TRYAGAIN {}); the writers' default clients followed the rest",
        kbk[0],
        kbk[1],
        kbk[2],
        raw("ASK"),
        raw("TRYAGAIN")
    );
    println!("per primary (ClusterStats::nodes, since start):");
    for n in client.stats().nodes {
        let addr = n.node.map(NodeId::addr).unwrap_or_default();
        println!(
            "  {addr} redirects {:>7} (ASK {:>7}, TRYAGAIN {:>4}), keys {:>6}",
            n.redirects, n.asks, n.try_agains, n.keys
        );
    }

    // Nothing lost, nothing doubled.
    let errors: Vec<&Error> =
        [&steady, &atomic, &key_by_key].iter().flat_map(|r| r.errors.iter()).collect();
    assert!(errors.is_empty(), "writers saw errors: {errors:?}");
    let incrs = steady.incrs + atomic.incrs + key_by_key.incrs;
    let counter = client.get(COUNTER)?.expect("the counter exists");
    println!("\ncounter {} after {incrs} INCRs", String::from_utf8_lossy(&counter));
    assert_eq!(counter.as_ref(), incrs.to_string().as_bytes(), "INCRs lost or doubled");
    let owner = cluster.slot_owner(slot).expect("served");
    for p in cluster.primaries() {
        let want = if p == owner { BULK + KEYS + 1 } else { 0 };
        assert_eq!(cluster.node_key_count(p)?, want, "keys on {}", p.addr());
    }
    assert_eq!(client.count_keys_in_slot(slot), BULK + KEYS + 1);
    println!("all {} keys on {} and on no other primary", BULK + KEYS + 1, owner.addr());
    Ok(())
}
