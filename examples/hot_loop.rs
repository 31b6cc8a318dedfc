//! A tight loop of GETs or SETs, for profilers: slotstore beside dashmap with ahash, the same
//! keys (16 bytes, `key:000000000042`), 32-byte values and a pregenerated uniform key stream.
//! The criterion groups of `benches/hot_path.rs` measure throughput; this loop is what
//! `perf record` and callgrind look at.
//!
//! ```text
//! cargo build --release --example hot_loop
//! target/release/examples/hot_loop slotstore get 1000000 3000000   # store op keys ops
//! ```
//!
//! `store` is `slotstore` or `dashmap`; `op` is `get` (an owned copy of the value), `read`
//! (its length, read in place: `get_with`, dashmap's `Ref`) or `set`. Each of five rounds
//! runs `ops` operations and prints nanoseconds per operation. Instructions per operation,
//! without the setup: run callgrind at two values of `ops` and divide the difference of the
//! totals by five times the difference of `ops`, e.g.
//!
//! ```text
//! valgrind --tool=callgrind target/release/examples/hot_loop slotstore get 10000 200000
//! valgrind --tool=callgrind target/release/examples/hot_loop slotstore get 10000 400000
//! ```

use dashmap::DashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const ROUNDS: usize = 5;

/// The `i`th key: `key:` and 12 decimal digits.
fn key(i: usize) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    let mut n = i;
    for b in k[4..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// One GET, read or SET on a store.
trait Store {
    fn get(&self, key: &[u8]) -> bool;
    fn read(&self, key: &[u8]) -> bool;
    fn set(&self, key: &[u8], value: &[u8]);
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

impl Store for DashMap<Box<[u8]>, Arc<[u8]>, ahash::RandomState> {
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

fn run(store: &impl Store, op: &str, keys: usize, ops: usize) {
    let value = [b'v'; 32];
    for i in 0..keys {
        store.set(&key(i), &value);
    }
    // xorshift64: a uniform stream of 2^20 keys, generated before anything is timed.
    let mut x = 0x1234_5678_9abc_def0u64;
    let stream: Vec<[u8; 16]> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            key((x % keys as u64) as usize)
        })
        .collect();
    let mask = stream.len() - 1;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut hits = 0;
        for i in 0..ops {
            let k = &stream[i & mask];
            match op {
                "get" => hits += usize::from(store.get(k)),
                "read" => hits += usize::from(store.read(k)),
                _ => store.set(k, &value),
            }
        }
        let ns = t.elapsed().as_nanos() as f64 / ops as f64;
        println!("{op} {ns:.1} ns/op ({hits} hits)");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let (store, op) = (arg(1, "slotstore"), arg(2, "get"));
    let keys: usize = arg(3, "1000000").parse().expect("keys: a number");
    let ops: usize = arg(4, "3000000").parse().expect("ops: a number");
    assert!(matches!(op.as_str(), "get" | "read" | "set"), "op: get, read or set");
    match store.as_str() {
        "slotstore" => {
            let cluster = slotstore::Cluster::builder().primaries(3).build().expect("cluster");
            run(&cluster.client(), &op, keys, ops);
        }
        "dashmap" => run(&DashMap::with_hasher(ahash::RandomState::new()), &op, keys, ops),
        _ => panic!("store: slotstore or dashmap"),
    }
}
