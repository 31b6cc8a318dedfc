//! Replication and failover costs.
//!
//! - `set replicas=N`: `Client::set` throughput on 3 primaries with 0, 1 and 2 replicas each
//!   (one writer thread; 16-byte keys over 100k distinct keys, 32-byte values). With replicas
//!   every write also clones its effect into each replica's stream, and the replica threads
//!   apply them on the same 2 cores.
//! - `lag replicas=N`: after a burst of 10k SETs, the time until every replica has applied
//!   the last one (`WAIT N` on the writer thread): how far replicas trail under load.
//! - `kill to first write node_timeout=T`: a 1x1 store with 10k keys; the time from
//!   `kill_node(primary)` to the first successful SET on the dead primary's slot (failure
//!   detection after `T`, promotion, the client's retry backoff).
//!
//! Run: `cargo bench --bench replication` (about a minute on 2 cores).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slotstore::{Client, Cluster};
use std::time::{Duration, Instant};

const KEYS: usize = 100_000;
const BATCH: usize = 10_000;

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("key:{i:012}")).collect()
}

fn store(replicas: usize) -> (Cluster, Client) {
    let cluster = Cluster::builder()
        .primaries(3)
        .replicas(replicas)
        .node_timeout(Duration::from_secs(10))
        .build()
        .expect("builds");
    let client = cluster.client();
    (cluster, client)
}

fn set_throughput(c: &mut Criterion) {
    let keys = keys();
    let value = [b'v'; 32];
    let mut g = c.benchmark_group("set");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for replicas in [0, 1, 2] {
        let (_cluster, client) = store(replicas);
        let mut at = 0usize;
        g.bench_function(BenchmarkId::new("replicas", replicas), |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    client.set(&keys[at % KEYS], value).expect("set");
                    at += 1;
                }
            })
        });
        if replicas > 0 {
            // Let the replicas drain before the next store is built.
            client.wait(3 * replicas, Duration::from_secs(30)).expect("wait");
        }
    }
    g.finish();
}

fn lag(c: &mut Criterion) {
    let keys = keys();
    let value = [b'v'; 32];
    let mut g = c.benchmark_group("lag");
    g.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for replicas in [1, 2] {
        let (cluster, client) = store(replicas);
        // One shard's replicas: the burst goes to keys of one primary, so WAIT covers it.
        let p = cluster.primaries()[0];
        let own: Vec<&String> =
            keys.iter().filter(|k| cluster.slot_owner(slotstore::key_slot(k)) == Some(p)).collect();
        let mut at = 0usize;
        g.bench_function(BenchmarkId::new("replicas", replicas), |b| {
            b.iter_custom(|iters| {
                let mut waited = Duration::ZERO;
                for _ in 0..iters {
                    for _ in 0..BATCH {
                        client.set(own[at % own.len()], value).expect("set");
                        at += 1;
                    }
                    let start = Instant::now();
                    let acked = client.wait(replicas, Duration::from_secs(30)).expect("wait");
                    assert_eq!(acked, replicas);
                    waited += start.elapsed();
                }
                waited
            })
        });
    }
    g.finish();
}

fn kill_to_first_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("kill to first write");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_millis(500));
    for ms in [50u64, 200] {
        g.bench_function(BenchmarkId::new("node_timeout", format!("{ms}ms")), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let cluster = Cluster::builder()
                        .primaries(1)
                        .replicas(1)
                        .node_timeout(Duration::from_millis(ms))
                        .retry_budget(Duration::from_secs(10))
                        .build()
                        .expect("builds");
                    let client = cluster.client();
                    for i in 0..BATCH {
                        client.set(format!("key:{i}"), "v").expect("set");
                    }
                    client.wait(1, Duration::from_secs(10)).expect("wait");
                    let start = Instant::now();
                    cluster.kill_node(cluster.primaries()[0]).expect("kill");
                    client.set("key:0", "after").expect("served after failover");
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, set_throughput, lag, kill_to_first_write);
criterion_main!(benches);
