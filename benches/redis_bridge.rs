//! The same small workloads through redis-rs's `ConnectionLike`, four ways:
//!
//! - `native Client::command`: slotstore's own command path, the baseline;
//! - `in-process redis_connection`: `cluster.redis_connection()`, no socket;
//! - `slotstore-server`: redis-rs's `ClusterClient` over loopback to `cluster.serve(..)`
//!   (feature `server`);
//! - `real Redis Cluster`: redis-rs's `ClusterClient` over loopback, when
//!   `SLOTSTORE_REDIS_CLUSTER` names a node (`.ci/redis-cluster.sh start`).
//!
//! Workloads: one `GET`; and a mix per iteration of `SET`, `GET`, `INCR` on keys spread over
//! the slots and one 10-key cross-slot `MGET` (split by slot on every path). Every cluster has 3
//! primaries and 3 replicas.
//!
//! Run: `cargo bench --features redis --bench redis_bridge -- --warm-up-time 1 --measurement-time 2`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use slotstore::redis::{self, Commands, ConnectionLike};
use slotstore::{Client, Cluster};
use std::hint::black_box;

const KEYS: usize = 1000;
const VALUE: &str = "0123456789abcdef";

/// A workload: its name, slotstore's native form and the redis-rs form.
trait Work {
    const NAME: &'static str;
    fn native(client: &Client, keys: &[String], i: &mut usize);
    fn redis<C: ConnectionLike>(con: &mut C, keys: &[String], i: &mut usize);
}

struct Get;

impl Work for Get {
    const NAME: &'static str = "GET";

    fn native(client: &Client, keys: &[String], i: &mut usize) {
        *i += 1;
        black_box(client.command(&["GET", keys[*i % KEYS].as_str()]).unwrap());
    }

    fn redis<C: ConnectionLike>(con: &mut C, keys: &[String], i: &mut usize) {
        *i += 1;
        black_box(con.get::<_, Option<Vec<u8>>>(&keys[*i % KEYS]).unwrap());
    }
}

struct Mix;

impl Work for Mix {
    const NAME: &'static str = "SET+GET+INCR+10-key MGET";

    fn native(client: &Client, keys: &[String], i: &mut usize) {
        *i += 1;
        let k = keys[*i % KEYS].as_str();
        client.command(&["SET", k, VALUE]).unwrap();
        black_box(client.command(&["GET", k]).unwrap());
        black_box(client.command(&["INCR", "bench:n"]).unwrap());
        black_box(client.mget_nonatomic(&keys[(*i * 10) % (KEYS - 10)..][..10]).unwrap());
    }

    fn redis<C: ConnectionLike>(con: &mut C, keys: &[String], i: &mut usize) {
        *i += 1;
        let k = &keys[*i % KEYS];
        let _: () = con.set(k, VALUE).unwrap();
        black_box(con.get::<_, Option<Vec<u8>>>(k).unwrap());
        black_box(con.incr::<_, _, i64>("bench:n", 1).unwrap());
        black_box(con.mget::<_, Vec<Option<Vec<u8>>>>(&keys[(*i * 10) % (KEYS - 10)..][..10]).unwrap());
    }
}

/// Everything the workloads run against, set up once.
struct Targets {
    client: Client,
    in_process: slotstore::RedisConnection,
    server: Option<redis::cluster::ClusterConnection>,
    real: Option<redis::cluster::ClusterConnection>,
}

fn run<W: Work>(c: &mut Criterion, t: &mut Targets, keys: &[String]) {
    let mut g = c.benchmark_group(W::NAME);
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("native Client::command", |b| b.iter(|| W::native(&t.client, keys, &mut i)));
    g.bench_function("in-process redis_connection", |b| {
        b.iter(|| W::redis(&mut t.in_process, keys, &mut i))
    });
    if let Some(con) = t.server.as_mut() {
        g.bench_function("slotstore-server (loopback)", |b| b.iter(|| W::redis(con, keys, &mut i)));
    }
    if let Some(con) = t.real.as_mut() {
        g.bench_function("real Redis Cluster (loopback)", |b| b.iter(|| W::redis(con, keys, &mut i)));
    }
    g.finish();
}

fn cluster() -> Cluster {
    Cluster::builder().primaries(3).replicas(1).build().unwrap()
}

fn same_workloads(c: &mut Criterion) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench:{i}")).collect();
    let local = cluster();
    #[cfg(feature = "server")]
    let served = cluster();
    #[cfg(feature = "server")]
    let server = served.serve(slotstore::ServerConfig::default()).unwrap();
    #[cfg(feature = "server")]
    let server_con = {
        let seeds: Vec<String> =
            server.addresses().iter().map(|(_, a)| format!("redis://{a}/")).collect();
        Some(redis::cluster::ClusterClient::new(seeds).unwrap().get_connection().unwrap())
    };
    #[cfg(not(feature = "server"))]
    let server_con = None;
    let real = match std::env::var("SLOTSTORE_REDIS_CLUSTER") {
        Ok(seed) => {
            let client = redis::cluster::ClusterClient::new(vec![format!("redis://{seed}/")]).unwrap();
            Some(client.get_connection().unwrap())
        }
        Err(_) => {
            println!("real Redis Cluster: skipped, SLOTSTORE_REDIS_CLUSTER is not set");
            None
        }
    };
    let mut t = Targets {
        client: local.client(),
        in_process: local.redis_connection(),
        server: server_con,
        real,
    };
    // Every key exists on every target, so GET finds a value everywhere.
    let mut i = 0;
    for _ in 0..KEYS {
        Mix::native(&t.client, &keys, &mut i);
        for con in t.server.iter_mut().chain(t.real.iter_mut()) {
            Mix::redis(con, &keys, &mut i);
        }
    }
    run::<Get>(c, &mut t, &keys);
    run::<Mix>(c, &mut t, &keys);
    #[cfg(feature = "server")]
    server.shutdown();
}

criterion_group!(benches, same_workloads);
criterion_main!(benches);
