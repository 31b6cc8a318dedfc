//! The hot path: `GET` and `SET` on 1M preloaded keys, slotstore beside the maps a Rust service
//! would otherwise use.
//!
//! Keys are 16 bytes (`key:000000000042`), values 32 bytes. Every group is one operation, one
//! thread count and one key distribution (`get threads=2 dist=zipf0.99`), and holds one line
//! per store, so criterion's throughput lines compare directly:
//! - `slotstore`: `Client::get` / `Client::set` on `Cluster::builder().primaries(3)`;
//! - `dashmap`: `DashMap<Box<[u8]>, Arc<[u8]>>` with its default hasher (what users write);
//! - `dashmap_ahash`: the same with ahash, the hasher slotstore uses (hashing cost set aside);
//! - `mutex_hashmap`: `parking_lot::Mutex<HashMap<Box<[u8]>, Arc<[u8]>, ahash::RandomState>>`;
//! - `quick_cache`: `quick_cache::sync::Cache<Box<[u8]>, Arc<[u8]>>` (its default hasher, ahash),
//!   sized so nothing is evicted: the cache a service would pick instead of a map.
//!
//! The `get16` and `set16` groups take the same key streams 16 keys at a time: slotstore's
//! `get_many`/`set_many` (`slotstore_batch`) beside 16 single calls on every store, the
//! comparison a caller who can batch makes.
//!
//! Every GET hands back an owned value the caller may keep: the maps clone the stored `Arc`
//! out; slotstore copies the 32-byte value into the `Bytes` it returns, which holds up to
//! `Bytes::INLINE` bytes in place (no allocation, no reference count). A SET allocates the
//! value, and the maps allocate the owned key their `insert` needs.
//!
//! The `read` groups are GET without a copy: the value's length read in place, through
//! slotstore's `get_with` and the maps' borrowing `get` (a dashmap `Ref`, a locked `&Arc`).
//! quick_cache has no borrowing read, so its line there clones as in `get`.
//!
//! One iteration is a batch of [`BATCH`] operations per thread; `Throughput::Elements` is the
//! operations of all threads together, so elements/s is the store's total throughput. The key
//! streams (uniform, or Zipf with s = 0.99 over the 1M keys, hot keys scattered by a random
//! permutation) are generated before anything is timed, one stream per thread, read
//! sequentially. The 2-thread cases time, with `iter_custom`, the wall clock from a barrier
//! that releases both threads to the end of the slower one.
//!
//! Run: `cargo bench --bench hot_path` (about 9 minutes on 2 cores);
//! one group: `cargo bench --bench hot_path -- 'get threads=2 dist=zipf0.99'`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
// std's black_box, not criterion 0.5's: without its `real_blackbox` feature, criterion's is a
// volatile copy of the whole value, which for a 40-byte `Bytes` took longer than the GET itself.
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Keys preloaded into every store.
const KEYS: usize = 1_000_000;
/// Length of every value.
const VALUE_LEN: usize = 32;
/// Operations per thread in one timed iteration.
const BATCH: usize = 100_000;
/// Keys in each pregenerated stream (a power of two); batches walk it and wrap around.
const STREAM: usize = 1 << 20;

type Key = [u8; 16];

/// The `i`th key: `key:` and 12 decimal digits.
fn key(i: usize) -> Key {
    let mut k = *b"key:000000000000";
    let mut n = i;
    for b in k[4..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn value(seed: u8) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    for (i, b) in v.iter_mut().enumerate() {
        *b = b'a' + (i as u8 + seed) % 26;
    }
    v
}

/// SplitMix64: a small, good, seedable generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 for n = 1M).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Zipf over ranks 0..n with exponent `s`: P(rank k) ∝ 1 / (k + 1)^s. Exact, by inverting the
/// cumulative distribution with a binary search; built once, used only outside the timing.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                total += 1.0 / (k as f64).powf(s);
                total
            })
            .collect();
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut SplitMix64) -> usize {
        let u = rng.next_f64();
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1)
    }
}

#[derive(Clone, Copy)]
enum Dist {
    Uniform,
    Zipf,
}

impl Dist {
    fn name(self) -> &'static str {
        match self {
            Dist::Uniform => "uniform",
            Dist::Zipf => "zipf0.99",
        }
    }
}

/// One pregenerated key stream per thread.
fn streams(dist: Dist, threads: usize, zipf: &Zipf, rank_to_key: &[u32]) -> Vec<Vec<Key>> {
    (0..threads)
        .map(|t| {
            let mut rng = SplitMix64(0xC0FF_EE00 + t as u64 * 7919);
            (0..STREAM)
                .map(|_| match dist {
                    Dist::Uniform => key(rng.below(KEYS)),
                    Dist::Zipf => key(rank_to_key[zipf.sample(&mut rng)] as usize),
                })
                .collect()
        })
        .collect()
}

/// Keys per call in the batched groups.
const GROUP: usize = 16;

/// What every store under test offers.
trait Store: Sync {
    /// GET: true if the key was found; the value is cloned out and dropped.
    fn get(&self, key: &[u8]) -> bool;
    /// SET: stores a copy of `value` at `key`.
    fn set(&self, key: &[u8], value: &[u8]);
    /// GET without a copy: true if the key was found; the value's length is read in place.
    fn read(&self, key: &[u8]) -> bool {
        self.get(key)
    }
    /// GET of [`GROUP`] keys: how many were found. One at a time unless the store batches.
    fn get_group(&self, keys: &[Key]) -> usize {
        keys.iter().map(|k| usize::from(self.get(k))).sum()
    }
    /// SET of [`GROUP`] keys to `value`.
    fn set_group(&self, keys: &[Key], value: &[u8]) {
        keys.iter().for_each(|k| self.set(k, value));
    }
}

/// slotstore's batched calls: `get_many` and `set_many` of a group of keys.
struct Batched(slotstore::Client);

impl Store for Batched {
    fn get(&self, key: &[u8]) -> bool {
        self.0.get(key).expect("served").is_some()
    }
    fn set(&self, key: &[u8], value: &[u8]) {
        self.0.set(key, value).expect("served");
    }
    #[inline]
    fn get_group(&self, keys: &[Key]) -> usize {
        black_box(self.0.get_many(keys).expect("served")).iter().filter(|v| v.is_some()).count()
    }
    #[inline]
    fn set_group(&self, keys: &[Key], value: &[u8]) {
        let mut pairs = [([0u8; 16], value); GROUP];
        for (p, k) in pairs.iter_mut().zip(keys) {
            p.0 = *k;
        }
        self.0.set_many(&pairs[..keys.len()]).expect("served");
    }
}

type QuickCache = quick_cache::sync::Cache<Box<[u8]>, Arc<[u8]>>;

impl Store for QuickCache {
    #[inline]
    fn get(&self, key: &[u8]) -> bool {
        black_box(QuickCache::get(self, key)).is_some()
    }
    #[inline]
    fn set(&self, key: &[u8], value: &[u8]) {
        self.insert(Box::from(key), Arc::from(value));
    }
}

impl Store for slotstore::Client {
    #[inline]
    fn get(&self, key: &[u8]) -> bool {
        black_box(slotstore::Client::get(self, key).expect("served")).is_some()
    }
    #[inline]
    fn read(&self, key: &[u8]) -> bool {
        black_box(self.get_with(key, <[u8]>::len).expect("served")).is_some()
    }
    #[inline]
    fn set(&self, key: &[u8], value: &[u8]) {
        slotstore::Client::set(self, key, value).expect("served");
    }
}

impl<S: std::hash::BuildHasher + Clone + Send + Sync> Store for DashMap<Box<[u8]>, Arc<[u8]>, S> {
    #[inline]
    fn get(&self, key: &[u8]) -> bool {
        black_box(DashMap::get(self, key).map(|r| r.value().clone())).is_some()
    }
    #[inline]
    fn read(&self, key: &[u8]) -> bool {
        black_box(DashMap::get(self, key).map(|r| r.value().len())).is_some()
    }
    #[inline]
    fn set(&self, key: &[u8], value: &[u8]) {
        self.insert(Box::from(key), Arc::from(value));
    }
}

type MutexMap = Mutex<HashMap<Box<[u8]>, Arc<[u8]>, ahash::RandomState>>;

impl Store for MutexMap {
    #[inline]
    fn get(&self, key: &[u8]) -> bool {
        let v = self.lock().get(key).cloned();
        black_box(v).is_some()
    }
    #[inline]
    fn read(&self, key: &[u8]) -> bool {
        let n = self.lock().get(key).map(|v| v.len());
        black_box(n).is_some()
    }
    #[inline]
    fn set(&self, key: &[u8], value: &[u8]) {
        let (key, value): (Box<[u8]>, Arc<[u8]>) = (Box::from(key), Arc::from(value));
        self.lock().insert(key, value);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Get,
    /// GET without a copy ([`Store::read`]).
    Read,
    Set,
    /// GET in groups of [`GROUP`] keys.
    GetGroup,
    /// SET in groups of [`GROUP`] keys.
    SetGroup,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Read => "read",
            Op::Set => "set",
            Op::GetGroup => "get16",
            Op::SetGroup => "set16",
        }
    }
}

/// Runs `n` operations from `stream`, starting at `start` and wrapping.
#[inline(never)]
fn run<S: Store>(store: &S, op: Op, stream: &[Key], start: usize, n: usize) {
    let mask = stream.len() - 1;
    match op {
        Op::Get => {
            let mut hits = 0;
            for i in start..start + n {
                hits += usize::from(store.get(&stream[i & mask]));
            }
            assert_eq!(hits, n, "every key is preloaded");
        }
        Op::Read => {
            let mut hits = 0;
            for i in start..start + n {
                hits += usize::from(store.read(&stream[i & mask]));
            }
            assert_eq!(hits, n, "every key is preloaded");
        }
        Op::Set => {
            let v = value(start as u8);
            for i in start..start + n {
                store.set(&stream[i & mask], &v);
            }
        }
        // Batches are multiples of GROUP and so is the stream: groups never wrap.
        Op::GetGroup => {
            let mut hits = 0;
            for i in (start..start + n).step_by(GROUP) {
                let at = i & mask;
                hits += store.get_group(&stream[at..at + GROUP]);
            }
            assert_eq!(hits, n, "every key is preloaded");
        }
        Op::SetGroup => {
            let v = value(start as u8);
            for i in (start..start + n).step_by(GROUP) {
                let at = i & mask;
                store.set_group(&stream[at..at + GROUP], &v);
            }
        }
    }
}

/// Wall time of `iters` batches on each of `streams.len()` threads (1: the calling thread).
/// `cursor` moves through the streams from one call to the next, so batches do not repeat.
fn timed<S: Store>(store: &S, op: Op, streams: &[Vec<Key>], cursor: &mut usize, iters: u64) -> Duration {
    let n = BATCH * iters as usize;
    let start = *cursor;
    *cursor = (start + n) % STREAM;
    if streams.len() == 1 {
        let t = Instant::now();
        run(store, op, &streams[0], start, n);
        return t.elapsed();
    }
    let barrier = Barrier::new(streams.len() + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = streams
            .iter()
            .map(|stream| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    run(store, op, stream, start, n);
                })
            })
            .collect();
        barrier.wait();
        let t = Instant::now();
        for w in workers {
            w.join().expect("worker");
        }
        t.elapsed()
    })
}

fn preload<S: Store>(store: &S) {
    let v = value(0);
    for i in 0..KEYS {
        store.set(&key(i), &v);
    }
}

fn bench_hot_path(c: &mut Criterion) {
    let cluster = slotstore::Cluster::builder().primaries(3).build().expect("cluster");
    let slotstore = cluster.client();
    let dashmap: DashMap<Box<[u8]>, Arc<[u8]>> = DashMap::new();
    let dashmap_ahash: DashMap<Box<[u8]>, Arc<[u8]>, ahash::RandomState> =
        DashMap::with_hasher(ahash::RandomState::new());
    let mutex_map: MutexMap = Mutex::new(HashMap::with_hasher(ahash::RandomState::new()));
    let quick_cache = QuickCache::new(2 * KEYS);
    preload(&slotstore);
    preload(&quick_cache);
    preload(&dashmap);
    preload(&dashmap_ahash);
    preload(&mutex_map);
    assert_eq!(slotstore.dbsize(), KEYS);
    assert_eq!((dashmap.len(), dashmap_ahash.len(), mutex_map.lock().len()), (KEYS, KEYS, KEYS));
    assert_eq!(quick_cache.len(), KEYS, "quick_cache kept every key");
    let batched = Batched(cluster.client());

    let zipf = Zipf::new(KEYS, 0.99);
    let mut rank_to_key: Vec<u32> = (0..KEYS as u32).collect();
    let mut rng = SplitMix64(42);
    for i in (1..KEYS).rev() {
        rank_to_key.swap(i, rng.below(i + 1));
    }

    for op in [Op::Get, Op::Read, Op::Set, Op::GetGroup, Op::SetGroup] {
        for threads in [1, 2] {
            for dist in [Dist::Uniform, Dist::Zipf] {
                let streams = streams(dist, threads, &zipf, &rank_to_key);
                let mut g =
                    c.benchmark_group(format!("{} threads={threads} dist={}", op.name(), dist.name()));
                g.throughput(Throughput::Elements((BATCH * threads) as u64));
                let mut cursor = 0;
                if matches!(op, Op::GetGroup | Op::SetGroup) {
                    g.bench_function(BenchmarkId::from_parameter("slotstore_batch"), |b| {
                        b.iter_custom(|iters| timed(&batched, op, &streams, &mut cursor, iters))
                    });
                }
                g.bench_function(BenchmarkId::from_parameter("slotstore"), |b| {
                    b.iter_custom(|iters| timed(&slotstore, op, &streams, &mut cursor, iters))
                });
                g.bench_function(BenchmarkId::from_parameter("dashmap"), |b| {
                    b.iter_custom(|iters| timed(&dashmap, op, &streams, &mut cursor, iters))
                });
                g.bench_function(BenchmarkId::from_parameter("dashmap_ahash"), |b| {
                    b.iter_custom(|iters| timed(&dashmap_ahash, op, &streams, &mut cursor, iters))
                });
                g.bench_function(BenchmarkId::from_parameter("quick_cache"), |b| {
                    b.iter_custom(|iters| timed(&quick_cache, op, &streams, &mut cursor, iters))
                });
                g.bench_function(BenchmarkId::from_parameter("mutex_hashmap"), |b| {
                    b.iter_custom(|iters| timed(&mutex_map, op, &streams, &mut cursor, iters))
                });
                g.finish();
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots();
    targets = bench_hot_path
}
criterion_main!(benches);
