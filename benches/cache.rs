//! slotstore as a cache beside moka and quick_cache: hit ratio and throughput on the same key
//! streams at the same capacity.
//!
//! Capacity: the same bytes for all. slotstore gets a `max_memory` budget (its accounting is
//! within 15% of the real heap, `tests/memory.rs`); moka and quick_cache get as many entries
//! as fit in that many bytes of real heap, measured here with a counting allocator. Each
//! access is cache-aside: `get`, and on a miss `insert`.
//!
//! Streams over 1M keys: Zipf s=0.9, Zipf s=0.99, Zipf 0.99 mixed with one-off scans
//! (a quarter of the accesses are keys that never repeat), and Zipf 0.99 with the keys under
//! hash tags: all under one (`{t}:000000000042`: one slot holds them all, so one node, with its
//! share of the budget), or spread over 100 (`{42}000000000042`, the tag the key modulo 100).
//! The other caches see keys of the same length.
//!
//! Run: `cargo bench --bench cache`. Hit ratios print first, then criterion's throughput.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slotstore::{Cluster, EvictionPolicy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Counts live heap bytes, to give every cache the same real memory.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const UNIVERSE: usize = 1_000_000;
/// The byte budget every cache gets.
const BUDGET: usize = 32 << 20;
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
        let one_tag = z99.iter().map(|k| k | ONE_TAG).collect();
        let tags = z99.iter().map(|k| k | TAGS).collect();
        vec![
            ("zipf0.9", zipf_stream(0.9, STREAM, 2)),
            ("zipf0.99", z99),
            ("zipf0.99+scans", mixed),
            ("zipf0.99 one tag", one_tag),
            ("zipf0.99 100 tags", tags),
        ]
    })
}

/// Marks a stream's key as one under a single tag, or under one of 100 (see the module's docs).
const ONE_TAG: u64 = 1 << 63;
const TAGS: u64 = 1 << 62;

fn key(k: u64) -> [u8; 16] {
    let n = k & !(ONE_TAG | TAGS);
    let mut b = match k & (ONE_TAG | TAGS) {
        ONE_TAG => *b"{t}:000000000000",
        TAGS => {
            let mut b = *b"{00}000000000000";
            b[1] = b'0' + (n % 100 / 10) as u8;
            b[2] = b'0' + (n % 10) as u8;
            b
        }
        _ => *b"key:000000000000",
    };
    let mut n = n;
    for d in b[4..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    b
}

/// Real heap bytes per entry of a cache filled with `n` entries by `fill`.
fn heap_per_entry<C>(n: usize, make: impl Fn() -> C, fill: impl Fn(&C, u64)) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    let cache = make();
    for k in 0..n as u64 {
        fill(&cache, k * 7919);
    }
    let bytes = (LIVE.load(Ordering::Relaxed) - before) as usize;
    drop(cache);
    bytes / n
}

trait CacheAside {
    /// One access; true on a hit.
    fn access(&self, k: u64) -> bool;
    /// Entries held now.
    fn len(&self) -> usize;
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
    fn len(&self) -> usize {
        self.0.dbsize()
    }
}

/// moka and quick_cache share a `get`/`insert` shape: one cache-aside impl for both.
macro_rules! cache_aside {
    ($name:ident, $cache:ty, |$c:ident| $len:expr) => {
        struct $name($cache);
        impl CacheAside for $name {
            fn len(&self) -> usize {
                let $c = &self.0;
                $len
            }
            fn access(&self, k: u64) -> bool {
                let key = key(k);
                if self.0.get(&key).is_some() {
                    return true;
                }
                self.0.insert(key, std::sync::Arc::from(&VALUE[..]));
                false
            }
        }
    };
}

cache_aside!(Moka, moka::sync::Cache<[u8; 16], std::sync::Arc<[u8]>>, |c| {
    c.run_pending_tasks();
    c.entry_count() as usize
});
cache_aside!(Quick, quick_cache::sync::Cache<[u8; 16], std::sync::Arc<[u8]>>, |c| c.len());

fn contenders() -> Vec<(String, Box<dyn CacheAside>)> {
    const PROBE: usize = 100_000;
    let moka_entry = heap_per_entry(
        PROBE,
        || moka::sync::Cache::<[u8; 16], std::sync::Arc<[u8]>>::new(u64::MAX),
        |c, k| c.insert(key(k), std::sync::Arc::from(&VALUE[..])),
    );
    let quick_entry = heap_per_entry(
        PROBE,
        || quick_cache::sync::Cache::<[u8; 16], std::sync::Arc<[u8]>>::new(PROBE * 2),
        |c, k| c.insert(key(k), std::sync::Arc::from(&VALUE[..])),
    );
    let slot = |p| {
        let c = Cluster::builder().primaries(3).max_memory(BUDGET).eviction_policy(p).build().unwrap();
        Box::new(Slot(c.client())) as Box<dyn CacheAside>
    };
    let (moka_cap, quick_cap) = (BUDGET / moka_entry, BUDGET / quick_entry);
    vec![
        ("slotstore allkeys-lfu".into(), slot(EvictionPolicy::AllKeysLfu)),
        ("slotstore allkeys-lru".into(), slot(EvictionPolicy::AllKeysLru)),
        (format!("moka ({moka_cap} entries)"), Box::new(Moka(moka::sync::Cache::new(moka_cap as u64)))),
        (
            format!("quick_cache ({quick_cap} entries)"),
            Box::new(Quick(quick_cache::sync::Cache::new(quick_cap))),
        ),
    ]
}

fn hit_ratios_and_throughput(c: &mut Criterion) {
    println!("budget: {BUDGET} bytes each");
    for (name, stream) in streams() {
        let mut g = c.benchmark_group(format!("cache-aside {name}"));
        g.throughput(Throughput::Elements(100_000));
        for (store, cache) in contenders() {
            // Warm with the first half, measure the hit ratio on the second.
            let (warm, rest) = stream.split_at(stream.len() / 2);
            warm.iter().for_each(|&k| {
                cache.access(k);
            });
            let hits = rest.iter().filter(|&&k| cache.access(k)).count();
            let ratio = 100.0 * hits as f64 / rest.len() as f64;
            println!("hit ratio {name:<15} {store:<30} {ratio:.2}%  ({} entries held)", cache.len());
            let mut pos = 0;
            g.bench_function(BenchmarkId::from_parameter(&store), |b| {
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
