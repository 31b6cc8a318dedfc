//! Multi-key costs: one tagged MGET/MSET against ten single calls, atomic cross-slot MSET over
//! 2, 4 and 8 slots, and a closure transaction against the same work as separate calls.
//!
//! Run: `cargo bench --bench multi_key`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slotstore::{key_slot, Cluster};
use std::hint::black_box;
use std::time::Duration;

fn tagged_batches(c: &mut Criterion) {
    let cluster = Cluster::builder().primaries(3).build().unwrap();
    let client = cluster.client();
    let keys: Vec<String> = (0..10).map(|i| format!("{{user42}}:field{i}")).collect();
    let pairs: Vec<(&str, &str)> =
        keys.iter().map(|k| (k.as_str(), "0123456789abcdef0123456789abcdef")).collect();
    client.mset(&pairs).unwrap();

    let mut g = c.benchmark_group("10 keys in one tag");
    g.throughput(Throughput::Elements(10));
    g.bench_function("mget", |b| b.iter(|| black_box(client.mget(&keys).unwrap())));
    g.bench_function("10x get", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(client.get(k).unwrap());
            }
        })
    });
    g.bench_function("mset", |b| b.iter(|| client.mset(&pairs).unwrap()));
    g.bench_function("10x set", |b| {
        b.iter(|| {
            for (k, v) in &pairs {
                client.set(k, v).unwrap();
            }
        })
    });
    g.finish();
}

/// Keys in `n` distinct slots spread over the primaries.
fn keys_in_slots(n: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut i = 0;
    while keys.len() < n {
        let k = format!("acct:{i}");
        if seen.insert(key_slot(&k)) {
            keys.push(k);
        }
        i += 1;
    }
    keys
}

fn cross_slot(c: &mut Criterion) {
    let cluster = Cluster::builder().primaries(3).allow_cross_slot(true).build().unwrap();
    let client = cluster.client();
    let mut g = c.benchmark_group("cross-slot atomic mset");
    for n in [1usize, 2, 4, 8] {
        let keys = keys_in_slots(n);
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("slots", n), &pairs, |b, pairs| {
            b.iter(|| client.mset(pairs).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("nonatomic split, slots", n), &pairs, |b, pairs| {
            b.iter(|| client.mset_nonatomic(pairs).unwrap())
        });
    }
    g.finish();
}

fn closure_transaction(c: &mut Criterion) {
    let cluster = Cluster::builder().primaries(3).build().unwrap();
    let client = cluster.client();
    client.set("{acct}:a", "1000000000").unwrap();
    client.set("{acct}:b", "0").unwrap();
    let mut g = c.benchmark_group("transfer between two tagged keys");
    g.bench_function("closure transaction", |b| {
        b.iter(|| {
            client
                .transaction(&["{acct}:a", "{acct}:b"], |tx| {
                    tx.incr_by("{acct}:a", -1)?;
                    tx.incr_by("{acct}:b", 1)
                })
                .unwrap()
        })
    });
    g.bench_function("two separate incr_by", |b| {
        b.iter(|| {
            client.incr_by("{acct}:a", -1).unwrap();
            client.incr_by("{acct}:b", 1).unwrap()
        })
    });
    let mut session = client.session();
    g.bench_function("MULTI/EXEC session", |b| {
        b.iter(|| {
            session.command(&["MULTI"]).unwrap();
            session.command(&["DECRBY", "{acct}:a", "1"]).unwrap();
            session.command(&["INCRBY", "{acct}:b", "1"]).unwrap();
            session.command(&["EXEC"]).unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = tagged_batches, cross_slot, closure_transaction
}
criterion_main!(benches);
