//! Concurrency: many threads, many iterations, invariants checked at the end.

use slotstore::{key_slot, Cluster, NodeId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

const THREADS: usize = 4;

#[test]
fn concurrent_increments_are_exact() {
    let c = Cluster::builder().primaries(3).build().unwrap();
    let keys: Vec<String> = (0..16).map(|i| format!("counter:{i}")).collect();
    let per_thread = 5_000;
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (client, keys, barrier) = (c.client(), &keys, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..per_thread {
                    let k = &keys[(i * 7 + t) % keys.len()];
                    if i % 2 == 0 {
                        client.incr_by(k, 1).unwrap();
                    } else {
                        client.command(&["INCR", k]).unwrap();
                    }
                }
            });
        }
    });
    let client = c.client();
    let total: i64 = keys
        .iter()
        .map(|k| std::str::from_utf8(&client.get(k).unwrap().unwrap()).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, (THREADS * per_thread) as i64);
}

/// A same-slot MSET is atomic: a concurrent MGET never sees half of one.
#[test]
fn same_slot_mset_is_never_seen_half_done() {
    let c = Cluster::builder().primaries(3).build().unwrap();
    let keys = ["{pair}a", "{pair}b", "{pair}c"];
    c.client().mset(&keys.map(|k| (k, "0"))).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..2 {
            let (client, done) = (c.client(), &done);
            s.spawn(move || {
                for i in 0..20_000u64 {
                    let v = (i * 2 + w).to_string();
                    if i % 2 == 0 {
                        client.mset(&keys.map(|k| (k, v.as_str()))).unwrap();
                    } else {
                        client.command(&["MSET", keys[0], &v, keys[1], &v, keys[2], &v]).unwrap();
                    }
                }
                done.store(true, Ordering::Relaxed);
            });
        }
        for _ in 0..2 {
            let (client, done) = (c.client(), &done);
            s.spawn(move || {
                let mut reads = 0;
                while !done.load(Ordering::Relaxed) || reads < 1000 {
                    let vs = client.mget(&keys).unwrap();
                    assert!(vs.iter().all(|v| v == &vs[0]), "torn MSET: {vs:?}");
                    reads += 1;
                }
            });
        }
    });
}

/// Values are written whole: a reader never sees a mix of two writes to one key.
#[test]
fn concurrent_set_get_see_whole_values() {
    let c = Cluster::builder().primaries(2).build().unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let client = c.client();
            s.spawn(move || {
                for i in 0..20_000usize {
                    let k = format!("k{}", i % 64);
                    if (i + t) % 3 == 0 {
                        let byte = b'a' + (i % 26) as u8;
                        client.set(&k, vec![byte; 100 + i % 50]).unwrap();
                    } else if let Some(v) = client.get(&k).unwrap() {
                        assert!(v.iter().all(|b| *b == v[0]), "mixed value");
                    }
                }
            });
        }
    });
}

/// Slots move back and forth between primaries while writers increment keys in them: no
/// increment is lost, no caller sees an error, and each key ends on exactly one primary.
#[test]
fn atomic_migration_under_load_loses_nothing() {
    let c = Cluster::builder().primaries(3).build().unwrap();
    let keys: Vec<String> = (0..12).map(|i| format!("{{hot{}}}:n", i % 4)).collect();
    let slots: Vec<u16> = (0..4).map(|i| key_slot(format!("hot{i}"))).collect();
    let primaries = c.primaries();
    let per_thread = 3_000;
    let barrier = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (client, keys, barrier) = (c.client(), &keys, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..per_thread {
                    client.incr_by(&keys[(i + t) % keys.len()], 1).unwrap();
                }
            });
        }
        let (c, slots, barrier, primaries) = (&c, &slots, &barrier, &primaries);
        s.spawn(move || {
            barrier.wait();
            for round in 0..200 {
                let slot = slots[round % slots.len()];
                let owner = c.slot_owner(slot).unwrap();
                let to: NodeId =
                    primaries[(primaries.iter().position(|p| *p == owner).unwrap() + 1) % 3];
                c.migrate_slot(slot, to).unwrap();
            }
        });
    });
    let client = c.client();
    let total: i64 = keys
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .map(|k| std::str::from_utf8(&client.get(k).unwrap().unwrap()).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, (THREADS * per_thread) as i64);
    let on_nodes: usize = primaries.iter().map(|p| c.node_key_count(*p).unwrap()).sum();
    assert_eq!(on_nodes, 12 / 3, "each distinct key is held once");
    assert_eq!(client.dbsize(), 4);
    assert!(c.topology().epoch() > 200);
}

#[test]
fn migrate_slot_refuses_bad_requests_and_changes_nothing() {
    let c = Cluster::builder().primaries(2).build().unwrap();
    let client = c.client();
    client.set("foo", "bar").unwrap();
    let slot = key_slot("foo");
    let owner = c.slot_owner(slot).unwrap();
    let epoch = c.topology().epoch();
    assert_eq!(
        c.migrate_slot(16384, owner).unwrap_err().to_string(),
        "ERR Invalid or out of range slot"
    );
    assert!(c.migrate_slot(slot, owner).unwrap_err().to_string().starts_with("ERR"));
    let other = Cluster::builder().primaries(4).build().unwrap();
    let unknown = other.primaries()[3];
    assert_eq!(
        c.migrate_slot(slot, unknown).unwrap_err().to_string(),
        format!("ERR Unknown node {unknown}")
    );
    assert_eq!(c.topology().epoch(), epoch);
    assert_eq!(c.slot_owner(slot), Some(owner));
    assert_eq!(client.get("foo").unwrap().unwrap(), "bar");
}
