//! Stream throughput: `XADD` of a 2-field entry, and `XREADGROUP ... COUNT 10` with and
//! without acknowledging, through the typed methods on the caller's thread. Bytes per entry
//! are measured in `tests/streams.rs` (`bytes_per_stream_entry`); the README sets both beside
//! redis-server (`redis-benchmark -P 100`).
//!
//! Run: `cargo bench --bench streams`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use slotstore::{Cluster, StreamId};
use std::hint::black_box;

fn streams(c: &mut Criterion) {
    let cluster = Cluster::builder().build().expect("cluster");
    let client = cluster.client();
    let mut g = c.benchmark_group("streams");
    g.throughput(Throughput::Elements(100));
    let mut next = 1u64;
    g.bench_function("xadd x100", |b| {
        b.iter(|| {
            for _ in 0..100 {
                next += 1;
                let id = StreamId::new(next, 0);
                black_box(
                    client.xadd("{bench}s", Some(id), &[("user", "u1234"), ("event", "click")]).unwrap(),
                );
            }
            // Keep the stream from growing without bound across samples.
            if next % 100_000 < 100 {
                client.command(&["XTRIM", "{bench}s", "MAXLEN", "1000"]).unwrap();
            }
        })
    });
    for i in 0..10_000u64 {
        client
            .xadd("{bench}r", Some(StreamId::new(i + 1, 0)), &[("user", "u1234"), ("event", "click")])
            .unwrap();
    }
    client.xgroup_create("{bench}r", "g", Some(StreamId::MIN), false).unwrap();
    g.throughput(Throughput::Elements(1000));
    g.bench_function("xreadgroup count 10 + xack, 1000 entries", |b| {
        b.iter(|| {
            client.command(&["XGROUP", "SETID", "{bench}r", "g", "0"]).unwrap();
            for _ in 0..100 {
                let got = client.xread_group("g", "c", "{bench}r", Some(10), None).unwrap();
                let ids: Vec<StreamId> = got.iter().map(|e| e.0).collect();
                black_box(client.xack("{bench}r", "g", &ids).unwrap());
            }
        })
    });
    g.bench_function("xreadgroup count 10 noack (command words), 1000 entries", |b| {
        b.iter(|| {
            client.command(&["XGROUP", "SETID", "{bench}r", "g", "0"]).unwrap();
            for _ in 0..100 {
                let args = [
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c",
                    "COUNT",
                    "10",
                    "NOACK",
                    "STREAMS",
                    "{bench}r",
                    ">",
                ];
                black_box(client.command(&args).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, streams);
criterion_main!(benches);
