//! slotstore as a cache beside moka and quick_cache: hit ratio and throughput on the same key
//! streams at the same capacity.
//!
//! Capacity: slotstore gets a `max_memory` budget; moka and quick_cache get the number of
//! entries that budget holds in slotstore (its bytes per entry, measured first), so all three
//! keep about as many entries. Each access is cache-aside: `get`, and on a miss `insert`.
//!
//! Streams over 1M keys: Zipf s=0.9, Zipf s=0.99, and Zipf 0.99 mixed with one-off scans
//! (a quarter of the accesses are keys that never repeat).
//!
//! Run: `cargo bench --bench cache`. Hit ratios print first, then criterion's throughput.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slotstore::{Cluster, EvictionPolicy};
use std::sync::OnceLock;
use std::time::Duration;

const UNIVERSE: usize = 1_000_000;
const CAPACITY: usize = 100_000;
const STREAM: usize = 2_000_000;
const VALUE: [u8; 64] = [b'v'; 64];

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf(s) over `n` ranks by inverting a precomputed CDF; ranks are scattered over the key
/// space by a multiplicative hash so hot keys do not share slots.
fn zipf_stream(s: f64, len: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(UNIVERSE);
    let mut total = 0.0;
    for k in 1..=UNIVERSE {
        total += 1.0 / (k as f64).powf(s);
        cdf.push(total);
    }
    let mut rng = Rng(seed);
    (0..len)
        .map(|_| {
            let u = rng.unit() * total;
            let rank = cdf.partition_point(|c| *c < u) as u64;
            rank.wrapping_mul(0x9E37_79B9_7F4A_7C15) % UNIVERSE as u64
        })
        .collect()
}

fn streams() -> &'static Vec<(&'static str, Vec<u64>)> {
    static S: OnceLock<Vec<(&'static str, Vec<u64>)>> = OnceLock::new();
    S.get_or_init(|| {
        let z99 = zipf_stream(0.99, STREAM, 3);
        let mut scan_id = UNIVERSE as u64;
        let mut rng = Rng(4);
        let mixed = z99
            .iter()
            .map(|&k| {
                if rng.next() % 4 == 0 {
                    scan_id += 1;
                    scan_id
                } else {
                    k
                }
            })
            .collect();
        vec![("zipf0.9", zipf_stream(0.9, STREAM, 2)), ("zipf0.99", z99), ("zipf0.99+scans", mixed)]
    })
}

fn key(k: u64) -> [u8; 16] {
    let mut b = *b"key:000000000000";
    let mut n = k;
    for d in b[4..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    b
}

/// slotstore's bytes per entry at `CAPACITY` entries, as `memory_used` counts them.
fn bytes_per_entry() -> usize {
    let client = Cluster::builder().primaries(3).build().unwrap().client();
    for k in 0..CAPACITY as u64 {
        client.set(key(k * 7919), VALUE).unwrap();
    }
    client.memory_used() / CAPACITY
}

trait CacheAside {
    /// One access; true on a hit.
    fn access(&self, k: u64) -> bool;
}

struct Slot(slotstore::Client);
impl CacheAside for Slot {
    fn access(&self, k: u64) -> bool {
        let key = key(k);
        if self.0.get(key).unwrap().is_some() {
            return true;
        }
        self.0.set(key, VALUE).unwrap();
        false
    }
}

struct Moka(moka::sync::Cache<[u8; 16], std::sync::Arc<[u8]>>);
impl CacheAside for Moka {
    fn access(&self, k: u64) -> bool {
        let key = key(k);
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.insert(key, std::sync::Arc::from(&VALUE[..]));
        false
    }
}

struct Quick(quick_cache::sync::Cache<[u8; 16], std::sync::Arc<[u8]>>);
impl CacheAside for Quick {
    fn access(&self, k: u64) -> bool {
        let key = key(k);
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.insert(key, std::sync::Arc::from(&VALUE[..]));
        false
    }
}

fn contenders(budget: usize) -> Vec<(&'static str, Box<dyn CacheAside>)> {
    let slot = |p| {
        let c = Cluster::builder().primaries(3).max_memory(budget).eviction_policy(p).build().unwrap();
        Box::new(Slot(c.client())) as Box<dyn CacheAside>
    };
    vec![
        ("slotstore allkeys-lfu", slot(EvictionPolicy::AllKeysLfu)),
        ("slotstore allkeys-lru", slot(EvictionPolicy::AllKeysLru)),
        ("moka", Box::new(Moka(moka::sync::Cache::new(CAPACITY as u64)))),
        ("quick_cache", Box::new(Quick(quick_cache::sync::Cache::new(CAPACITY)))),
    ]
}

fn hit_ratios_and_throughput(c: &mut Criterion) {
    let budget = bytes_per_entry() * CAPACITY;
    println!("capacity: {CAPACITY} entries = {budget} bytes of slotstore budget");
    for (name, stream) in streams() {
        let mut g = c.benchmark_group(format!("cache-aside {name}"));
        g.throughput(Throughput::Elements(100_000));
        for (store, cache) in contenders(budget) {
            // Warm with the first half, measure the hit ratio on the second.
            let (warm, rest) = stream.split_at(stream.len() / 2);
            warm.iter().for_each(|&k| {
                cache.access(k);
            });
            let hits = rest.iter().filter(|&&k| cache.access(k)).count();
            println!("hit ratio {name:<15} {store:<22} {:.2}%", 100.0 * hits as f64 / rest.len() as f64);
            let mut pos = 0;
            g.bench_function(BenchmarkId::from_parameter(store), |b| {
                b.iter(|| {
                    for _ in 0..100_000 {
                        black_box(cache.access(rest[pos % rest.len()]));
                        pos += 1;
                    }
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = hit_ratios_and_throughput
}
criterion_main!(benches);
