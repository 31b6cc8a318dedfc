//! Bytes of heap per key: slotstore beside `DashMap` and `Mutex<HashMap>`, 1M keys of 16 bytes
//! with 32-byte values.
//!
//! A counting global allocator wraps `System` and keeps the live bytes requested, the live
//! allocations, the live bytes glibc's `malloc_usable_size` reports (what the chunks really
//! hold, rounding included) and the peak of the requested bytes. Each store is built and loaded
//! alone, measured, and dropped before the next. Not a criterion bench: it prints one table.
//!
//! Run: `cargo bench --bench memory`.

use dashmap::DashMap;
use parking_lot::Mutex;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

const KEYS: usize = 1_000_000;
const VALUE_LEN: usize = 32;
/// glibc's per-chunk header, added to each live allocation for the "heap" column.
const MALLOC_HEADER: usize = 8;

extern "C" {
    /// glibc: the usable size of a block from `malloc`/`posix_memalign`.
    fn malloc_usable_size(ptr: *mut u8) -> usize;
}

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static USABLE: AtomicUsize = AtomicUsize::new(0);

struct Counting;

impl Counting {
    fn added(size: usize, ptr: *mut u8) {
        let live = LIVE.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: `ptr` was just returned by the system allocator.
        USABLE.fetch_add(unsafe { malloc_usable_size(ptr) }, Relaxed);
    }

    fn removed(size: usize, ptr: *mut u8) {
        LIVE.fetch_sub(size, Relaxed);
        // SAFETY: `ptr` is live, from the system allocator.
        USABLE.fetch_sub(unsafe { malloc_usable_size(ptr) }, Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            COUNT.fetch_add(1, Relaxed);
            Counting::added(layout.size(), p);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            COUNT.fetch_add(1, Relaxed);
            Counting::added(layout.size(), p);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        COUNT.fetch_sub(1, Relaxed);
        Counting::removed(layout.size(), ptr);
        System.dealloc(ptr, layout);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_usable = malloc_usable_size(ptr);
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            USABLE.fetch_sub(old_usable, Relaxed);
            Counting::added(new_size, p);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Clone, Copy)]
struct Snapshot {
    live: usize,
    count: usize,
    usable: usize,
}

fn snapshot() -> Snapshot {
    Snapshot { live: LIVE.load(Relaxed), count: COUNT.load(Relaxed), usable: USABLE.load(Relaxed) }
}

/// The `i`th key: `key:` and 12 decimal digits (as in the hot_path bench).
fn key(i: usize) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    let mut n = i;
    for b in k[4..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

type MutexMap = Mutex<HashMap<Box<[u8]>, Arc<[u8]>, ahash::RandomState>>;

const VALUE: [u8; VALUE_LEN] = *b"0123456789abcdef0123456789abcdef";

/// Heap per key of the store `load` builds and fills; the store is dropped on return.
fn measure<S>(name: &str, load: impl FnOnce() -> S) {
    let before = snapshot();
    PEAK.store(before.live, Relaxed);
    let store = load();
    let after = snapshot();
    let peak = PEAK.load(Relaxed) - before.live;
    let per = |x: usize| x as f64 / KEYS as f64;
    let (live, count, usable) =
        (after.live - before.live, after.count - before.count, after.usable - before.usable);
    println!(
        "{name:<34} {:>9.1} {:>9.2} {:>12.1} {:>10.1} {:>10.1}",
        per(live),
        per(count),
        per(usable + MALLOC_HEADER * count),
        per(peak),
        live as f64 / (1 << 20) as f64,
    );
    drop(store);
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    println!("{KEYS} keys of 16 bytes, values of {VALUE_LEN} bytes; figures per key unless noted");
    println!(
        "{:<34} {:>9} {:>9} {:>12} {:>10} {:>10}",
        "store", "requested", "allocs", "heap(+hdr)", "peak", "total MiB"
    );

    measure("slotstore empty (3 primaries)", || {
        slotstore::Cluster::builder().primaries(3).build().expect("cluster")
    });
    measure("slotstore (3 primaries)", || {
        let cluster = slotstore::Cluster::builder().primaries(3).build().expect("cluster");
        let client = cluster.client();
        for i in 0..KEYS {
            client.set(key(i), VALUE).expect("served");
        }
        assert_eq!(client.dbsize(), KEYS);
        cluster
    });
    measure("slotstore (1 primary)", || {
        let cluster = slotstore::Cluster::builder().primaries(1).build().expect("cluster");
        let client = cluster.client();
        for i in 0..KEYS {
            client.set(key(i), VALUE).expect("served");
        }
        cluster
    });
    measure("dashmap", || {
        let map: DashMap<Box<[u8]>, Arc<[u8]>> = DashMap::new();
        for i in 0..KEYS {
            map.insert(Box::from(&key(i)[..]), Arc::from(&VALUE[..]));
        }
        map
    });
    measure("Mutex<HashMap> (ahash)", || {
        let map: MutexMap = Mutex::new(HashMap::with_hasher(ahash::RandomState::new()));
        for i in 0..KEYS {
            map.lock().insert(Box::from(&key(i)[..]), Arc::from(&VALUE[..]));
        }
        map
    });
    println!();
    println!("requested: live bytes asked of the allocator; allocs: live allocations;");
    println!("heap(+hdr): malloc_usable_size + 8-byte chunk header per allocation (glibc);");
    println!("peak: highest requested bytes while loading (table resizes).");
}
