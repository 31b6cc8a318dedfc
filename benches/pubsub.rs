//! Pub/sub fan-out in process: one publisher, 1, 10 and 100 subscribers, 64-byte messages.
//!
//! - `publish subscribers=N`: `Client::publish` on one channel, the subscribers' queues drained
//!   by the same thread after every 1000 publishes (inside the timed region), so a sample is
//!   the whole cost of a message reaching N queues and being read back, with no reader thread
//!   competing for the 2 cores. Throughput is in published messages; deliveries are N times
//!   that.
//! - `publish+readers subscribers=N`: the same with a reader thread per subscriber blocked in
//!   `recv` (wake-ups included), for 1 and 10 subscribers; the publisher waits after every
//!   1000 messages until every reader has them, so no queue fills and nothing is dropped.
//!
//! Run: `cargo bench --bench pubsub` (about 20 s; `-- --warm-up-time 1 --measurement-time 2`
//! for a quick look).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slotstore::{Client, Cluster, Subscription};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: u64 = 1000;

fn store() -> Client {
    Cluster::builder().primaries(3).build().expect("builds").client()
}

fn fan_out(c: &mut Criterion) {
    let payload = [b'm'; 64];
    let mut g = c.benchmark_group("publish");
    g.throughput(Throughput::Elements(1));
    for n in [1usize, 10, 100] {
        let client = store();
        let subs: Vec<Subscription> =
            (0..n).map(|_| client.subscribe(&["room:1"]).expect("sub")).collect();
        g.bench_function(BenchmarkId::new("subscribers", n), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let k = left.min(BATCH);
                    for _ in 0..k {
                        client.publish("room:1", payload).expect("publish");
                    }
                    for s in &subs {
                        assert_eq!(s.try_iter().count() as u64, k);
                    }
                    left -= k;
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn with_readers(c: &mut Criterion) {
    let payload = [b'm'; 64];
    let mut g = c.benchmark_group("publish+readers");
    g.throughput(Throughput::Elements(1));
    for n in [1usize, 10] {
        let client = store();
        let read: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
        let readers: Vec<_> = (0..n)
            .map(|i| {
                let sub = client.subscribe(&["room:1"]).expect("sub");
                let read = read.clone();
                std::thread::spawn(move || {
                    while sub.recv_timeout(Duration::from_secs(30)).is_some() {
                        read[i].fetch_add(1, Ordering::Release);
                    }
                })
            })
            .collect();
        let mut sent = 0u64;
        g.bench_function(BenchmarkId::new("subscribers", n), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    client.publish("room:1", payload).expect("publish");
                    sent += 1;
                    if i % BATCH == BATCH - 1 || i == iters - 1 {
                        while read.iter().any(|r| r.load(Ordering::Acquire) < sent) {
                            std::thread::yield_now();
                        }
                    }
                }
                start.elapsed()
            })
        });
        assert_eq!(client.stats().pubsub.dropped, 0);
        drop(client);
        // Readers end at their timeout once nothing more comes; do not wait for them.
        drop(readers);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3));
    targets = fan_out, with_readers
}
criterion_main!(benches);
