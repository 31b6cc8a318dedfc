//! Memory accounting against a counting allocator that sees what glibc really holds.

use slotstore::Cluster;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// Counts the live heap as glibc really holds it: each block's usable size plus its header.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

extern "C" {
    fn malloc_usable_size(ptr: *mut std::ffi::c_void) -> usize;
}

fn footprint(ptr: *mut u8) -> isize {
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: `ptr` came from the system allocator (glibc malloc) and is live.
    (unsafe { malloc_usable_size(ptr.cast()) } + 8) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        LIVE.fetch_add(footprint(p), Ordering::Relaxed);
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(footprint(ptr), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = footprint(ptr);
        let p = System.realloc(ptr, layout, new_size);
        LIVE.fetch_add(footprint(p) - old, Ordering::Relaxed);
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Runs `fill` on a fresh one-primary store and compares the heap it grew by with what the
/// store says it holds.
fn check_accounting(name: &str, fill: impl Fn(&slotstore::Client)) {
    let cluster = Cluster::builder().cron_interval(Duration::from_secs(3600)).build().unwrap();
    let client = cluster.client();
    let before_store = client.memory_used() as isize;
    let before = live();
    fill(&client);
    let grown = (live() - before) as f64;
    let said = (client.memory_used() as isize - before_store) as f64;
    let ratio = said / grown;
    println!("{name}: heap grew {grown} B, store says {said} B, ratio {ratio:.3}");
    assert!((0.85..=1.15).contains(&ratio), "{name}: accounting off by more than 15% ({ratio:.3})");
}

// One test drives every type so no other test's allocations run concurrently in this
// binary's global counter while measuring.
#[test]
fn accounting_tracks_real_heap_growth() {
    check_accounting("strings", |c| {
        for i in 0..50_000 {
            c.set(format!("key:{i:012}"), [b'v'; 32]).unwrap();
        }
    });
    check_accounting("strings with ttl", |c| {
        for i in 0..20_000 {
            c.set_ex(format!("key:{i:012}"), [b'v'; 32], Duration::from_secs(100)).unwrap();
        }
    });
    check_accounting("lists", |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["RPUSH", &format!("list:{i}"), &format!("element-{j:08}")]).unwrap();
            }
        }
    });
    check_accounting("hashes", |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["HSET", &format!("hash:{i}"), &format!("field-{j}"), "value-value"])
                    .unwrap();
            }
        }
    });
    check_accounting("sets", |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["SADD", &format!("set:{i}"), &format!("member-{j:08}")]).unwrap();
            }
        }
    });
    check_accounting("sorted sets", |c| {
        for i in 0..2_000 {
            for j in 0..50 {
                c.command(&["ZADD", &format!("zset:{i}"), &j.to_string(), &format!("member-{j:08}")])
                    .unwrap();
            }
        }
    });
    // Large collections: hash tables and skip lists, with elements short enough to sit inline
    // in the table and long enough to need their own allocation.
    check_accounting("large hashes", |c| {
        for i in 0..5 {
            for j in 0..5_000 {
                let value = if j % 2 == 0 { "v" } else { "a-value-long-enough-for-its-own-block" };
                c.command(&["HSET", &format!("bighash:{i}"), &format!("field-{j}"), value]).unwrap();
            }
        }
    });
    check_accounting("large sets", |c| {
        for i in 0..5 {
            for j in 0..5_000 {
                let member = if j % 2 == 0 { j.to_string() } else { format!("a-long-member-{j:040}") };
                c.command(&["SADD", &format!("bigset:{i}"), &member]).unwrap();
            }
        }
    });
    check_accounting("large sorted sets", |c| {
        for i in 0..5 {
            for j in 0..5_000 {
                let member = if j % 2 == 0 { j.to_string() } else { format!("a-long-member-{j:040}") };
                c.command(&["ZADD", &format!("bigzset:{i}"), &j.to_string(), &member]).unwrap();
            }
        }
    });
    check_accounting("streams", |c| {
        for i in 0..20 {
            for j in 1..=5_000u64 {
                let id = slotstore::StreamId::new(j, 0);
                c.xadd(format!("stream:{i}"), Some(id), &[("user", "u1234"), ("event", "click")])
                    .unwrap();
            }
        }
    });
    check_accounting("stream groups", |c| {
        for i in 0..20 {
            let key = format!("stream:{i}");
            for j in 1..=1_000u64 {
                c.xadd(&key, Some(slotstore::StreamId::new(j, 0)), &[("f", "v")]).unwrap();
            }
            c.xgroup_create(&key, "g", Some(slotstore::StreamId::MIN), false).unwrap();
            for consumer in ["a", "b"] {
                c.xread_group("g", consumer, &key, Some(400), None).unwrap();
            }
        }
    });
}
