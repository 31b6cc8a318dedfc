//! The same small workload (per iteration: `SET`, `GET`, `INCR` on keys spread over the
//! slots, then one 10-key cross-slot `MGET`) through redis-rs's `ConnectionLike`:
//!
//! - `native Client::command`: slotstore's own command path, the baseline;
//! - `in-process redis_connection`: `cluster.redis_connection()`, no socket;
//! - `slotstore-server`: redis-rs's `ClusterClient` over loopback to `cluster.serve(..)`
//!   (feature `server`);
//! - `real Redis Cluster`: redis-rs's `ClusterClient` over loopback, when
//!   `SLOTSTORE_REDIS_CLUSTER` names a node (`.ci/redis-cluster.sh start`).
//!
//! Run: `cargo bench --features redis --bench redis_bridge -- --warm-up-time 1 --measurement-time 2`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use slotstore::redis::{self, Commands, ConnectionLike};
use slotstore::Cluster;

const KEYS: usize = 1000;

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("bench:{i}")).collect()
}

/// One iteration: 4 commands, the last one split by slot.
fn workload<C: ConnectionLike>(con: &mut C, keys: &[String], i: &mut usize) {
    let k = &keys[*i % KEYS];
    *i += 1;
    let _: () = con.set(k, "0123456789abcdef").unwrap();
    black_box(con.get::<_, Option<Vec<u8>>>(k).unwrap());
    black_box(con.incr::<_, _, i64>("bench:n", 1).unwrap());
    let batch = &keys[(*i * 10) % (KEYS - 10)..][..10];
    black_box(con.mget::<_, Vec<Option<Vec<u8>>>>(batch).unwrap());
}

fn same_workload(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("SET+GET+INCR+10-key MGET");
    g.throughput(Throughput::Elements(1));

    let cluster = Cluster::builder().primaries(3).replicas(1).build().unwrap();
    let client = cluster.client();
    let mut i = 0;
    g.bench_function("native Client::command", |b| {
        b.iter(|| {
            let k = &keys[i % KEYS];
            i += 1;
            client.command(&["SET", k.as_str(), "0123456789abcdef"]).unwrap();
            black_box(client.command(&["GET", k.as_str()]).unwrap());
            black_box(client.command(&["INCR", "bench:n"]).unwrap());
            let batch = &keys[(i * 10) % (KEYS - 10)..][..10];
            black_box(client.mget_nonatomic(batch).unwrap());
        })
    });

    let mut con = cluster.redis_connection();
    let mut i = 0;
    g.bench_function("in-process redis_connection", |b| b.iter(|| workload(&mut con, &keys, &mut i)));

    #[cfg(feature = "server")]
    let server = {
        let served = Cluster::builder().primaries(3).replicas(1).build().unwrap();
        let server = served.serve(slotstore::ServerConfig::default()).unwrap();
        let seeds: Vec<String> =
            server.addresses().iter().map(|(_, a)| format!("redis://{a}/")).collect();
        let client = redis::cluster::ClusterClient::new(seeds).unwrap();
        let mut con = client.get_connection().unwrap();
        let mut i = 0;
        g.bench_function("slotstore-server (loopback)", |b| {
            b.iter(|| workload(&mut con, &keys, &mut i))
        });
        (served, server)
    };

    match std::env::var("SLOTSTORE_REDIS_CLUSTER") {
        Ok(seed) => {
            let client = redis::cluster::ClusterClient::new(vec![format!("redis://{seed}/")]).unwrap();
            let mut con = client.get_connection().unwrap();
            let mut i = 0;
            g.bench_function("real Redis Cluster (loopback)", |b| {
                b.iter(|| workload(&mut con, &keys, &mut i))
            });
        }
        Err(_) => println!("real Redis Cluster: skipped, SLOTSTORE_REDIS_CLUSTER is not set"),
    }
    g.finish();
    #[cfg(feature = "server")]
    server.1.shutdown();
}

criterion_group!(benches, same_workload);
criterion_main!(benches);
