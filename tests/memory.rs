//! Memory accounting against a counting allocator, `max_memory` with every eviction policy,
//! statistics, and the introspection commands.

use slotstore::{Cluster, Error, EvictionPolicy, Reply};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// Counts live heap bytes, as the allocator was asked for them.
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

/// glibc's real footprint of an allocation of `n` bytes, as the store estimates it; the
/// counting allocator sees requested sizes, so the comparison adds the same rounding.
fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Runs `fill` on a fresh one-primary store and compares the heap it grew by (requested
/// bytes) with what the store says it holds. The store also counts malloc's rounding and
/// headers, which a counting allocator cannot see, so the comparison allows for it.
fn check_accounting(name: &str, per_alloc_overhead: f64, fill: impl Fn(&slotstore::Client)) {
    let cluster = Cluster::builder().cron_interval(Duration::from_secs(3600)).build().unwrap();
    let client = cluster.client();
    let before_store = client.memory_used() as isize;
    let before = live();
    fill(&client);
    let grown = (live() - before) as f64;
    let said = (client.memory_used() as isize - before_store) as f64;
    let ratio = said / (grown * per_alloc_overhead);
    println!("{name}: heap grew {grown} B, store says {said} B, ratio {ratio:.3}");
    assert!((0.85..=1.15).contains(&ratio), "{name}: accounting off by more than 15% ({ratio:.3})");
}

// One test drives every type so no other test's allocations run concurrently in this
// binary's global counter while measuring.
#[test]
fn accounting_tracks_real_heap_growth() {
    // Requested bytes exclude malloc's header and rounding (~16 bytes on small blocks);
    // the store counts them. Compare against requested bytes scaled by that overhead.
    check_accounting("strings", 1.18, |c| {
        for i in 0..50_000 {
            c.set(format!("key:{i:012}"), [b'v'; 32]).unwrap();
        }
    });
    check_accounting("strings with ttl", 1.18, |c| {
        for i in 0..20_000 {
            c.set_ex(format!("key:{i:012}"), [b'v'; 32], Duration::from_secs(100)).unwrap();
        }
    });
    check_accounting("lists", 1.0, |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["RPUSH", &format!("list:{i}"), &format!("element-{j:08}")]).unwrap();
            }
        }
    });
    check_accounting("hashes", 1.0, |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["HSET", &format!("hash:{i}"), &format!("field-{j}"), "value-value"])
                    .unwrap();
            }
        }
    });
    check_accounting("sets", 1.0, |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["SADD", &format!("set:{i}"), &format!("member-{j:08}")]).unwrap();
            }
        }
    });
    check_accounting("sorted sets", 1.0, |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["ZADD", &format!("zset:{i}"), &j.to_string(), &format!("member-{j:08}")])
                    .unwrap();
            }
        }
    });
}
