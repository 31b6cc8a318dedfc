//! Live slot migration: the redirect rules of key-by-key mode, clients that follow them,
//! stress under traffic in both modes, failover of either side mid-migration, scaling out
//! and in, memory refusal and bad input.

use slotstore::{
    key_slot, Balance, Client, Cluster, Error, EvictionPolicy, MigrationMode, NodeId, Reply,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cluster for tests that kill or hang nodes: failures are detected within 50 ms.
fn failing_cluster(primaries: usize, replicas: usize) -> Cluster {
    cluster_with(primaries, replicas, Duration::from_millis(50))
}

/// A cluster for tests that kill no node. Its node timeout is long on purpose: with 50 ms, a
/// loaded machine that left a primary's thread unscheduled that long had it failed over,
/// and the writes its replica had not yet applied were lost, as asynchronous replication
/// loses them in Redis; tests that check every write must not meet that by chance.
fn cluster(primaries: usize, replicas: usize) -> Cluster {
    cluster_with(primaries, replicas, Duration::from_secs(10))
}

fn cluster_with(primaries: usize, replicas: usize, node_timeout: Duration) -> Cluster {
    Cluster::builder()
        .primaries(primaries)
        .replicas(replicas)
        .node_timeout(node_timeout)
        .retry_budget(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A primary other than the current owner of `slot`.
fn other_than_owner(c: &Cluster, slot: u16) -> NodeId {
    let owner = c.slot_owner(slot).unwrap();
    c.primaries().into_iter().find(|p| *p != owner).unwrap()
}

/// Waits until `n` callers are blocked (`blocked_clients` of `INFO clients`).
fn until_blocked(c: &Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.stats().total.blocked_clients != n {
        assert!(Instant::now() < deadline, "never {n} blocked callers");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until every live replica has applied everything its primary sent, then checks
/// that each replica's digest of every slot its primary owns equals the primary's.
fn assert_replicas_converged(c: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(10);
    'again: loop {
        assert!(Instant::now() < deadline, "replicas did not converge");
        let t = c.topology();
        for p in t.primaries() {
            for r in t.replicas_of(p) {
                if t.node(r).unwrap().failed {
                    continue;
                }
                for (start, end) in t.slot_ranges(p) {
                    for slot in start..=end {
                        if c.slot_digest(r, slot).ok() != Some(c.slot_digest(p, slot).unwrap()) {
                            std::thread::sleep(Duration::from_millis(5));
                            continue 'again;
                        }
                    }
                }
            }
        }
        return;
    }
}

fn keys_of(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{{{tag}}}:k{i}")).collect()
}

#[test]
fn key_by_key_follows_redis_redirect_rules() {
    let c = cluster(2, 0);
    let client = c.client();
    let raw = c.client().follow_redirects(false);
    let keys = keys_of("m", 10);
    for k in &keys {
        client.set(k, "old").unwrap();
    }
    let slot = key_slot(&keys[0]);
    let (from, to) = (c.slot_owner(slot).unwrap(), other_than_owner(&c, slot));
    let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
    assert_eq!(c.topology().migration(slot), Some((from, to)));
    let p = m.step(4).unwrap();
    assert_eq!((p.keys_moved, p.keys_left, p.done), (4, 6, false));
    let moved: Vec<&String> = keys.iter().filter(|k| raw.get(k).is_err()).collect();
    assert_eq!(moved.len(), 4, "four keys answer ASK");
    let stayed: Vec<&String> = keys.iter().filter(|k| raw.get(k).is_ok()).collect();
    assert_eq!(stayed.len(), 6);

    // A moved key: ASK with the target's address; the source still serves the others.
    let err = raw.get(moved[0]).unwrap_err();
    assert_eq!(err, Error::Ask { slot, node: to });
    assert_eq!(err.to_string(), format!("ASK {slot} {}", to.addr()));
    // A new key goes to the target too, even for a write.
    assert!(matches!(raw.set("{m}:new", "v"), Err(Error::Ask { .. })));
    // Keys split across the two sides: TRYAGAIN, nothing written.
    let split = raw.command(&["MSET", moved[0].as_str(), "x", stayed[0].as_str(), "x"]).unwrap_err();
    assert_eq!(split, Error::TryAgain);
    assert_eq!(split.to_string(), "TRYAGAIN Multiple keys request during rehashing of slot");
    assert_eq!(raw.get(stayed[0]).unwrap().as_deref(), Some(&b"old"[..]));
    // All on the source: served there.
    assert_eq!(
        raw.command(&["MGET", stayed[0].as_str(), stayed[1].as_str()])
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The target serves only asked callers; asked, it serves moved keys and creates new ones.
    let on_target = |asking: bool, args: &[&str]| raw.command_at(to, asking, args);
    assert_eq!(on_target(false, &["GET", moved[0]]), Err(Error::Moved { slot, node: from }));
    assert_eq!(on_target(true, &["GET", moved[0]]), Ok(Reply::bulk("old")));
    assert_eq!(on_target(true, &["SET", "{m}:new", "v"]), Ok(Reply::ok()));
    // Asked with several keys, one of them missing: TRYAGAIN.
    assert_eq!(on_target(true, &["MGET", moved[0], "{m}:missing"]), Err(Error::TryAgain));
    assert!(on_target(true, &["MGET", moved[0], moved[1]]).is_ok());

    // The default client follows all of it and sees only answers.
    for k in &keys {
        assert_eq!(client.get(k).unwrap().as_deref(), Some(&b"old"[..]));
    }
    assert_eq!(client.get("{m}:new").unwrap().as_deref(), Some(&b"v"[..]));
    client.set("{m}:newer", "w").unwrap();
    assert_eq!(c.node_key_count(to).unwrap(), 6, "4 moved + 2 created on the target");

    let done = m.finish().unwrap();
    assert!(done.done);
    assert_eq!(c.slot_owner(slot), Some(to));
    assert_eq!(c.topology().migration(slot), None);
    assert_eq!(c.node_key_count(from).unwrap(), 0);
    // The raw client's map still names the source: one MOVED, then it knows.
    assert_eq!(raw.get(&keys[0]), Err(Error::Moved { slot, node: to }));
    assert_eq!(raw.get(&keys[0]).unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(client.dbsize(), 12);
    let stats = c.client().stats().total;
    assert!(stats.asks >= 4 && stats.try_agains >= 2, "{stats:?}");
    assert!(stats.redirects >= stats.asks + stats.try_agains + 2, "MOVEDs counted too: {stats:?}");
    let info = client.command(&["INFO", "stats"]).unwrap().to_string();
    assert!(info.contains(&format!("ask_redirects:{}", stats.asks)), "{info}");
}

#[test]
fn split_multi_key_commands_wait_for_the_mover_with_a_default_client() {
    let c = cluster(2, 0);
    let client = c.client();
    let keys = keys_of("split", 200);
    for k in &keys {
        client.set(k, "1").unwrap();
    }
    let slot = key_slot(&keys[0]);
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    m.step(100).unwrap();
    let stats = c.client();
    let stepper = std::thread::spawn(move || {
        // Finish only once the MGET below has met the split (a TRYAGAIN it retries).
        let deadline = Instant::now() + Duration::from_secs(20);
        while stats.stats().total.try_agains == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        m.finish().unwrap()
    });
    // Most of these span both sides until the mover is done: TRYAGAIN is retried inside.
    let all: Vec<&str> = keys.iter().map(String::as_str).collect();
    let vals = client.mget(&all).unwrap();
    assert!(vals.iter().all(|v| v.as_deref() == Some(&b"1"[..])));
    assert_eq!(client.del(&all).unwrap(), 200);
    assert!(stepper.join().unwrap().done);
    assert_eq!(client.dbsize(), 0);
}

/// Writers INCR counters and SET keys in two slots that move back and forth, in both modes,
/// with replicas on. At the end every counter is exact, no key is held twice, replicas
/// match, and no command returned an error.
#[test]
fn stress_both_modes_with_replicas() {
    let c = cluster(3, 1);
    let client = c.client();
    let tags = ["a", "b"];
    let slots: Vec<u16> = tags.iter().map(|t| key_slot(format!("{{{t}}}"))).collect();
    for t in tags {
        for k in keys_of(t, 300) {
            client.set(k, "seed").unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let incrs = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (client, stop, incrs) = (c.client(), stop.clone(), incrs.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let tag = tags[(i % 2) as usize];
                    client.incr_by(format!("{{{tag}}}:counter"), 1).expect("INCR never fails");
                    incrs.fetch_add(1, Ordering::Relaxed);
                    let k = format!("{{{tag}}}:k{}", (i * 7 + w) % 400);
                    client.set(&k, format!("w{w}:{i}")).expect("SET never fails");
                    let got = client.get(&k).expect("GET never fails");
                    assert!(got.is_some(), "a key just written is readable");
                    client
                        .mset(&[(format!("{{{tag}}}:x"), "1"), (format!("{{{tag}}}:y"), "2")])
                        .expect("MSET never fails");
                    i += 1;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0;
    while Instant::now() < deadline {
        for &slot in &slots {
            let to = other_than_owner(&c, slot);
            if rounds % 2 == 0 {
                c.migrate_slot(slot, to).unwrap();
            } else {
                let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
                while m.step(37).unwrap().keys_left > 0 {}
                m.finish().unwrap();
            }
        }
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writers.into_iter().for_each(|w| w.join().unwrap());
    assert!(rounds >= 4, "the slots moved several times ({rounds} rounds)");
    let total: i64 = tags
        .iter()
        .map(|t| {
            let v = client.get(format!("{{{t}}}:counter")).unwrap().expect("counted");
            std::str::from_utf8(&v).unwrap().parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(total as u64, incrs.load(Ordering::Relaxed), "every INCR counted exactly once");
    // Keys: 300 seeded + up to 100 more per tag, plus counter, x and y; each on one primary.
    let expected: usize = tags
        .iter()
        .map(|t| (0..400).filter(|i| client.get(format!("{{{t}}}:k{i}")).unwrap().is_some()).count() + 3)
        .sum();
    assert_eq!(client.dbsize(), expected, "no key is held by two primaries");
    for &slot in &slots {
        // Only the owner holds a table for the slot: no importing leftovers anywhere.
        let owner = c.slot_owner(slot).unwrap();
        assert_eq!(c.topology().migration(slot), None);
        for p in c.primaries().into_iter().filter(|p| *p != owner) {
            assert!(c.slot_digest(p, slot).is_err(), "{p} still holds slot {slot}");
        }
    }
    assert_replicas_converged(&c);
}

/// Kills the source or the target of a key-by-key migration at several points; the
/// migration carries over to the promoted replica and finishes with every key reachable
/// exactly once and every value intact.
#[test]
fn migration_survives_failover_of_either_side() {
    for (victim_is_source, moved_before_kill) in [(true, 0), (true, 40), (false, 40), (false, 100)] {
        let c = failing_cluster(2, 1);
        let client = c.client();
        let keys = keys_of("f", 100);
        for (i, k) in keys.iter().enumerate() {
            client.set(k, i.to_string()).unwrap();
        }
        let slot = key_slot(&keys[0]);
        let (from, to) = (c.slot_owner(slot).unwrap(), other_than_owner(&c, slot));
        let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
        if moved_before_kill > 0 {
            m.step(moved_before_kill).unwrap();
        }
        // Written through ASK onto the target (or onto the source), before the crash.
        client.set("{f}:late", "x").unwrap();
        assert_eq!(client.wait(1, Duration::from_secs(2)).unwrap(), 1);
        let victim = if victim_is_source { from } else { to };
        c.kill_node(victim).unwrap();
        // Commands ride out the failover; keys on both sides stay reachable.
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(client.get(k).unwrap().as_deref(), Some(i.to_string().as_bytes()), "{k}");
        }
        let (new_from, new_to) = c.topology().migration(slot).expect("the migration carries over");
        assert_ne!(if victim_is_source { new_from } else { new_to }, victim);
        let done = m.finish().unwrap();
        assert!(done.done);
        assert_eq!(c.slot_owner(slot), Some(new_to));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(client.get(k).unwrap().as_deref(), Some(i.to_string().as_bytes()));
        }
        assert_eq!(client.get("{f}:late").unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(client.dbsize(), 101, "each key exactly once (victim {victim_is_source})");
        assert_eq!(c.node_key_count(new_to).unwrap(), 101);
    }
}

#[test]
fn abort_brings_every_key_home() {
    let c = cluster(2, 1);
    let client = c.client();
    let keys = keys_of("ab", 50);
    for k in &keys {
        client.set(k, "v0").unwrap();
    }
    let slot = key_slot(&keys[0]);
    let from = c.slot_owner(slot).unwrap();
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    m.step(30).unwrap();
    // Changed on the target after the move, and created there: the rollback keeps both.
    client.set(&keys[0], "v1").unwrap();
    client.set("{ab}:new", "n").unwrap();
    let p = m.abort().unwrap();
    assert!(p.done);
    assert_eq!(c.slot_owner(slot), Some(from));
    assert_eq!(c.topology().migration(slot), None);
    assert_eq!(c.node_key_count(from).unwrap(), 51);
    assert_eq!(client.get(&keys[0]).unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(client.get("{ab}:new").unwrap().as_deref(), Some(&b"n"[..]));
    assert!(m.abort().is_err(), "a second abort is refused");
    assert_replicas_converged(&c);
    // The slot can move again.
    c.migrate_slot(slot, other_than_owner(&c, slot)).unwrap();
    assert_eq!(client.dbsize(), 51);
}

/// A caller blocked on the source before a key-by-key migration waits on the target from
/// then on (keys the source lacks are created there), so a push during the migration serves
/// it; an abort brings waiters back.
#[test]
fn callers_blocked_on_a_moving_slot_are_served_where_their_keys_appear() {
    let c = cluster(2, 0);
    let client = c.client();
    let slot = key_slot("{q}");
    let blpop = |key: &'static str| {
        let client = c.client();
        std::thread::spawn(move || client.command(&["BLPOP", key, "5"]))
    };
    let waiter = blpop("{q}:list");
    until_blocked(&client, 1);
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    // The list does not exist on the source: the push creates it on the target.
    client.command(&["RPUSH", "{q}:list", "job"]).unwrap();
    let got = waiter.join().unwrap().unwrap();
    assert_eq!(got, Reply::Array(vec![Reply::bulk("{q}:list"), Reply::bulk("job")]));
    // A caller blocked during the migration waits on the target; after an abort, on the
    // source again, where the next push serves it.
    let waiter = blpop("{q}:later");
    until_blocked(&client, 1);
    m.abort().unwrap();
    client.command(&["RPUSH", "{q}:later", "x"]).unwrap();
    assert_eq!(
        waiter.join().unwrap().unwrap(),
        Reply::Array(vec![Reply::bulk("{q}:later"), Reply::bulk("x")])
    );
    // And one blocked during a migration times out cleanly.
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    assert_eq!(client.command(&["BLPOP", "{q}:none", "0.05"]).unwrap(), Reply::Nil);
    m.finish().unwrap();
    assert_eq!(client.dbsize(), 0);
}

#[test]
fn watch_sees_a_moved_key_as_modified() {
    let c = cluster(2, 0);
    let client = c.client();
    client.set("{w}:k", "1").unwrap();
    let slot = key_slot("{w}");
    let mut session = client.session();
    session.command(&["WATCH", "{w}:k"]).unwrap();
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    m.step(10).unwrap();
    session.command(&["MULTI"]).unwrap();
    session.command(&["SET", "{w}:k", "2"]).unwrap();
    assert_eq!(session.command(&["EXEC"]).unwrap(), Reply::Nil);
    m.finish().unwrap();
    assert_eq!(client.get("{w}:k").unwrap().as_deref(), Some(&b"1"[..]));
    client.set("{w}:src", "1").unwrap();
    // WATCH of a key the source lacks during a migration watches it on the target, where a
    // write by another client lands: EXEC sees that change.
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    session.command(&["WATCH", "{w}:fresh"]).unwrap();
    client.set("{w}:fresh", "theirs").unwrap();
    session.command(&["MULTI"]).unwrap();
    session.command(&["SET", "{w}:fresh", "mine"]).unwrap();
    assert_eq!(session.command(&["EXEC"]).unwrap(), Reply::Nil);
    assert_eq!(client.get("{w}:fresh").unwrap().as_deref(), Some(&b"theirs"[..]));
    // Unchanged, the same transaction commits on the target.
    session.command(&["WATCH", "{w}:fresh"]).unwrap();
    session.command(&["MULTI"]).unwrap();
    session.command(&["SET", "{w}:fresh", "mine"]).unwrap();
    assert!(matches!(session.command(&["EXEC"]).unwrap(), Reply::Array(_)));
    assert_eq!(client.get("{w}:fresh").unwrap().as_deref(), Some(&b"mine"[..]));
    // A key watched on the source, deleted there and created again on the target (the
    // source lacks it now, so the write is asked there): EXEC sees the change.
    session.command(&["WATCH", "{w}:src"]).unwrap();
    client.del(&["{w}:src"]).unwrap();
    client.set("{w}:src", "theirs").unwrap();
    session.command(&["MULTI"]).unwrap();
    session.command(&["SET", "{w}:src", "mine"]).unwrap();
    assert_eq!(session.command(&["EXEC"]).unwrap(), Reply::Nil);
    assert_eq!(client.get("{w}:src").unwrap().as_deref(), Some(&b"theirs"[..]));
    // ASKING before a malformed command answers the arity error (no panic).
    session.command(&["ASKING"]).unwrap();
    assert_eq!(
        session.command(&["SINTERCARD"]).unwrap_err().to_string(),
        "ERR wrong number of arguments for 'sintercard' command"
    );
    m.abort().unwrap();
    // Without a move in between, the transaction runs on the new owner.
    session.command(&["WATCH", "{w}:k"]).unwrap();
    session.command(&["MULTI"]).unwrap();
    session.command(&["SET", "{w}:k", "3"]).unwrap();
    assert!(matches!(session.command(&["EXEC"]).unwrap(), Reply::Array(_)));
    assert_eq!(client.get("{w}:k").unwrap().as_deref(), Some(&b"3"[..]));
}

#[test]
fn scale_out_rebalance_and_scale_in_keep_every_key() {
    let c = cluster(2, 1);
    let client = c.client();
    for i in 0..3000 {
        client.set(format!("key:{i}"), i.to_string()).unwrap();
    }
    let new = c.add_primary(1).unwrap();
    assert_eq!(c.primaries().len(), 3);
    assert_eq!(c.replicas_of(new).len(), 1);
    let mut seen = Vec::new();
    let report = c.rebalance_with(Balance::Keys, |p| seen.push(p.slots_moved)).unwrap();
    assert!(report.slots_moved > 0 && report.slots_moved == report.slots_planned);
    assert_eq!(seen.len(), report.slots_moved + 1, "progress after each move");
    let counts: Vec<usize> = c.primaries().iter().map(|p| c.node_key_count(*p).unwrap()).collect();
    for n in &counts {
        assert!((900..=1100).contains(n), "about a third each: {counts:?}");
    }
    assert_replicas_converged(&c);
    let old = c.primaries()[0];
    c.remove_primary(old).unwrap();
    assert_eq!(c.primaries().len(), 2);
    assert!(c.topology().node(old).is_none());
    assert!(matches!(c.node_key_count(old), Err(Error::Command(_))));
    assert_eq!(c.topology().slots_assigned(), 16384);
    for i in 0..3000 {
        assert_eq!(client.get(format!("key:{i}")).unwrap().as_deref(), Some(i.to_string().as_bytes()));
    }
    assert_eq!(client.dbsize(), 3000);
    assert_replicas_converged(&c);
    // An empty store balances slots.
    let empty = cluster(2, 0);
    let extra = empty.add_primary(0).unwrap();
    empty.rebalance().unwrap();
    let slots = empty.topology().slot_ranges(extra).iter().map(|(s, e)| e - s + 1).sum::<u16>();
    assert!((5400..=5500).contains(&slots), "{slots}");
}

/// Two primaries under a 4 MiB `noeviction` budget, the second (returned) filled to its
/// 2 MiB share with 16 KiB values in its own slots (their keys returned too).
fn full_target() -> (Cluster, NodeId, Vec<String>) {
    let c = Cluster::builder()
        .primaries(2)
        .max_memory(4 << 20)
        .eviction_policy(EvictionPolicy::NoEviction)
        .build()
        .unwrap();
    let client = c.client();
    let big = vec![b'x'; 16 << 10];
    let target = c.primaries()[1];
    let mut filled = Vec::new();
    for n in 0.. {
        let k = format!("fill:{n}");
        if c.slot_owner(key_slot(&k)) == Some(target) {
            match client.set(&k, &big) {
                Ok(()) => filled.push(k),
                Err(Error::OutOfMemory) => break,
                Err(e) => panic!("filling the target: {e}"),
            }
        }
    }
    (c, target, filled)
}

#[test]
fn the_target_refuses_a_slot_it_has_no_memory_for() {
    let (c, target, _) = full_target();
    let client = c.client();
    let big = vec![b'x'; 16 << 10];
    let slot = key_slot("{heavy}");
    assert_ne!(c.slot_owner(slot), Some(target));
    let before_target = c.node_key_count(target).unwrap();
    // A slot of the other primary holding 1 MiB does not fit there any more.
    let mut stored = 0;
    for i in 0..64 {
        if client.set(format!("{{heavy}}:{i}"), &big).is_ok() {
            stored += 1;
        }
    }
    assert_eq!(stored, 64, "the source had room");
    let keys_before = client.dbsize();
    assert_eq!(c.migrate_slot(slot, target), Err(Error::OutOfMemory));
    assert_ne!(c.slot_owner(slot), Some(target));
    let mut m = c.begin_migration(slot, target, MigrationMode::KeyByKey).unwrap();
    assert_eq!(m.finish(), Err(Error::OutOfMemory));
    // Rolled back: the source owns the slot, stable, with every key.
    assert_eq!(c.topology().migration(slot), None);
    assert_ne!(c.slot_owner(slot), Some(target));
    assert_eq!(c.node_key_count(target).unwrap(), before_target);
    assert_eq!(client.dbsize(), keys_before);
    assert_eq!(client.count_keys_in_slot(slot), stored);
}

#[test]
fn key_by_key_steps_count_each_keys_record_against_the_targets_budget() {
    let (c, target, filled) = full_target();
    let client = c.client();
    let slot = key_slot("{small}");
    assert_ne!(c.slot_owner(slot), Some(target));
    // About 115 KB of room on the target.
    for k in &filled[..7] {
        assert_eq!(client.del(&[k]).unwrap(), 1);
    }
    // About 280 KB of keys whose strings live inside their nodes (no heap of their own).
    let value = [b'v'; 60];
    for i in 0..2000 {
        client.set(format!("{{small}}:{i}"), value).unwrap();
    }
    let mut m = c.begin_migration(slot, target, MigrationMode::KeyByKey).unwrap();
    assert_eq!(m.step(2000), Err(Error::OutOfMemory), "their nodes do not fit");
    assert_eq!(client.count_keys_in_slot(slot), 2000, "none moved");
    assert_eq!(c.node_key_count(target).unwrap(), filled.len() - 7);
    m.abort().unwrap();
    assert_eq!(c.topology().migration(slot), None);
    assert_ne!(c.slot_owner(slot), Some(target));
    assert_eq!(client.count_keys_in_slot(slot), 2000);
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let c = cluster(2, 1);
    let client = c.client();
    client.set("k", "v").unwrap();
    let slot = key_slot("k");
    let owner = c.slot_owner(slot).unwrap();
    let other = other_than_owner(&c, slot);
    let replica = c.replicas_of(other)[0];
    let text = |r: Result<slotstore::Migration, Error>| r.unwrap_err().to_string();
    assert_eq!(
        text(c.begin_migration(16384, other, MigrationMode::KeyByKey)),
        "ERR Invalid or out of range slot"
    );
    assert_eq!(
        c.migrate_slot(16384, other).unwrap_err().to_string(),
        "ERR Invalid or out of range slot"
    );
    assert_eq!(
        text(c.begin_migration(slot, owner, MigrationMode::KeyByKey)),
        format!("ERR Node {owner} already owns hash slot {slot}")
    );
    assert_eq!(
        text(c.begin_migration(slot, replica, MigrationMode::KeyByKey)),
        "ERR Target node is not a master"
    );
    assert_eq!(
        text(c.begin_migration(slot, replica, MigrationMode::Atomic)),
        "ERR Target node is not a master"
    );
    // A node that left the cluster is unknown.
    let gone = c.add_primary(0).unwrap();
    c.remove_primary(gone).unwrap();
    let epoch = c.topology().epoch();
    assert_eq!(
        text(c.begin_migration(slot, gone, MigrationMode::KeyByKey)),
        format!("ERR Unknown node {gone}")
    );
    assert_eq!(c.topology().epoch(), epoch, "nothing changed");
    let mut m = c.begin_migration(slot, other, MigrationMode::KeyByKey).unwrap();
    assert_eq!(
        text(c.begin_migration(slot, other, MigrationMode::KeyByKey)),
        format!("ERR Slot {slot} is already migrating")
    );
    assert_eq!(
        c.migrate_slot(slot, other).unwrap_err().to_string(),
        format!("ERR Slot {slot} is already migrating")
    );
    m.finish().unwrap();
    assert!(m.abort().is_err());
    assert!(m.step(10).unwrap().done, "a finished migration's step does nothing");
    assert_eq!(client.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(c.slot_owner(slot), Some(other));
}

#[test]
fn atomic_mode_through_the_handle_and_no_redirects_for_a_raw_client() {
    let c = cluster(2, 0);
    let client = c.client();
    let raw = c.client().follow_redirects(false);
    client.set("{t}:a", "1").unwrap();
    let slot = key_slot("{t}");
    let to = other_than_owner(&c, slot);
    let mut m = c.begin_migration(slot, to, MigrationMode::Atomic).unwrap();
    // Nothing moves before the first step; no ASK in atomic mode.
    assert_eq!(raw.get("{t}:missing").unwrap(), None);
    let p = m.step(1).unwrap();
    assert!(p.done);
    assert_eq!(p.keys_moved, 1);
    assert_eq!(c.slot_owner(slot), Some(to));
    assert!(matches!(raw.get("{t}:a"), Err(Error::Moved { .. })));
    assert_eq!(raw.get("{t}:a").unwrap().as_deref(), Some(&b"1"[..]));
}

/// The `redis-cli --cluster reshard` flow, by commands: SETSLOT IMPORTING on the target,
/// MIGRATING on the source, GETKEYSINSLOT + MIGRATE until empty, SETSLOT NODE on both.
#[test]
fn setslot_and_migrate_commands_move_a_slot_as_redis_cli_does() {
    let c = cluster(2, 0);
    let client = c.client();
    for i in 0..25 {
        client.set(format!("{{r}}:{i}"), i.to_string()).unwrap();
    }
    let slot = key_slot("{r}");
    let (src, dst) = (c.slot_owner(slot).unwrap(), other_than_owner(&c, slot));
    let s = slot.to_string();
    let (src_id, dst_id) = (src.to_string(), dst.to_string());
    let at = |node, args: &[&str]| client.command_at(node, false, args);
    // The wrong order is refused and changes nothing.
    let wrong = at(src, &["CLUSTER", "SETSLOT", &s, "MIGRATING", &dst_id]).unwrap_err();
    assert!(
        wrong.to_string().starts_with(&format!("ERR Slot {slot} is not IMPORTING on node {dst}")),
        "{wrong}"
    );
    assert_eq!(
        at(src, &["CLUSTER", "SETSLOT", &s, "IMPORTING", &src_id]).unwrap_err().to_string(),
        format!("ERR I'm already the owner of hash slot {slot}")
    );
    assert_eq!(
        at(dst, &["CLUSTER", "SETSLOT", &s, "MIGRATING", &src_id]).unwrap_err().to_string(),
        format!("ERR I'm not the owner of hash slot {slot}")
    );
    assert_eq!(
        at(dst, &["CLUSTER", "SETSLOT", &s, "IMPORTING", "nope"]).unwrap_err().to_string(),
        "ERR I don't know about node nope"
    );
    assert_eq!(
        at(dst, &["CLUSTER", "SETSLOT", &s, "SIDEWAYS", &src_id]).unwrap_err().to_string(),
        "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP."
    );
    assert!(client.command(&["CLUSTER", "SETSLOT", &s, "STABLE"]).is_err(), "SETSLOT needs a node");
    assert_eq!(c.topology().migration(slot), None);

    at(dst, &["CLUSTER", "SETSLOT", &s, "IMPORTING", &src_id]).unwrap();
    at(src, &["CLUSTER", "SETSLOT", &s, "MIGRATING", &dst_id]).unwrap();
    assert_eq!(c.topology().migration(slot), Some((src, dst)));
    let nodes = client.command(&["CLUSTER", "NODES"]).unwrap().to_string();
    assert!(
        nodes.contains(&format!("[{slot}->-{dst}]")) && nodes.contains(&format!("[{slot}-<-{src}]"))
    );
    // SETSLOT NODE while the source still holds keys is refused.
    let early = at(dst, &["CLUSTER", "SETSLOT", &s, "NODE", &dst_id]).unwrap_err();
    assert!(early.to_string().starts_with("ERR Can't assign hashslot"), "{early}");
    let port = dst.port().to_string();
    assert_eq!(
        client.command(&["MIGRATE", "127.0.0.1", &port, "{r}:0", "0", "1000"]).unwrap(),
        Reply::ok()
    );
    // COUNTKEYSINSLOT answers from the node it is sent to, as in Redis.
    let count = |node| at(node, &["CLUSTER", "COUNTKEYSINSLOT", &s]).unwrap();
    assert_eq!((count(src), count(dst)), (Reply::Int(24), Reply::Int(1)));
    loop {
        let batch = at(src, &["CLUSTER", "GETKEYSINSLOT", &s, "10"]).unwrap();
        let keys: Vec<String> = batch
            .as_array()
            .unwrap()
            .iter()
            .map(|k| String::from_utf8(k.as_bytes().unwrap().to_vec()).unwrap())
            .collect();
        if keys.is_empty() {
            break;
        }
        let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "60000", "REPLACE", "KEYS"];
        args.extend(keys.iter().map(String::as_str));
        assert_eq!(client.command(&args).unwrap(), Reply::ok());
        // Traffic keeps working in between.
        assert_eq!(client.get("{r}:3").unwrap().as_deref(), Some(&b"3"[..]));
    }
    assert_eq!(
        client.command(&["MIGRATE", "127.0.0.1", &port, "{r}:0", "0", "1000"]).unwrap(),
        Reply::Simple("NOKEY".into())
    );
    at(dst, &["CLUSTER", "SETSLOT", &s, "NODE", &dst_id]).unwrap();
    at(src, &["CLUSTER", "SETSLOT", &s, "NODE", &dst_id]).unwrap();
    assert_eq!(c.slot_owner(slot), Some(dst));
    assert_eq!(c.node_key_count(dst).unwrap(), 25);
    assert_eq!(client.get("{r}:24").unwrap().as_deref(), Some(&b"24"[..]));
    // MIGRATE to a node that does not import the slot is refused.
    let refused = client.command(&["MIGRATE", "127.0.0.1", &src.port().to_string(), "{r}:1", "0", "10"]);
    assert!(refused
        .unwrap_err()
        .to_string()
        .starts_with("ERR Target instance replied with error: MOVED"));
    // STABLE rolls an open migration back.
    at(src, &["CLUSTER", "SETSLOT", &s, "IMPORTING", &dst_id]).unwrap();
    at(dst, &["CLUSTER", "SETSLOT", &s, "MIGRATING", &src_id]).unwrap();
    client.command(&["MIGRATE", "127.0.0.1", &src.port().to_string(), "{r}:1", "0", "10"]).unwrap();
    // A session's ASKING sends its next command to the importing side.
    let mut session = client.session();
    session.command(&["ASKING"]).unwrap();
    assert_eq!(session.command(&["GET", "{r}:1"]).unwrap(), Reply::bulk("1"));
    at(dst, &["CLUSTER", "SETSLOT", &s, "STABLE"]).unwrap();
    assert_eq!(c.topology().migration(slot), None);
    assert_eq!(c.node_key_count(dst).unwrap(), 25);
    assert_eq!(client.get("{r}:1").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn keys_sees_both_sides_and_a_dead_target_gives_an_error_not_a_hang() {
    let c = Cluster::builder().primaries(2).retry_budget(Duration::from_millis(200)).build().unwrap();
    let client = c.client();
    for i in 0..20 {
        client.set(format!("{{d}}:{i}"), "v").unwrap();
    }
    let slot = key_slot("{d}");
    let to = other_than_owner(&c, slot);
    let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
    m.step(10).unwrap();
    let mut listed = client.command(&["KEYS", "{d}:*"]).unwrap().as_array().unwrap().to_vec();
    listed.sort_by_key(|r| r.to_string());
    listed.dedup();
    assert_eq!(listed.len(), 20, "KEYS lists moved and unmoved keys once");
    // Without replicas nothing replaces a crashed target: asked commands give up after the
    // retry budget with CLUSTERDOWN instead of bouncing between the two nodes forever.
    c.kill_node(to).unwrap();
    let started = Instant::now();
    let moved = (0..20).map(|i| format!("{{d}}:{i}")).find(|k| client.get(k).is_err()).unwrap();
    assert!(matches!(client.get(&moved), Err(Error::ClusterDown(_))));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Keys still on the source keep working; the migration can be rolled back.
    assert_eq!(client.dbsize(), 10);
    m.abort().unwrap();
    assert_eq!(c.topology().migration(slot), None);
    assert_eq!(client.get("{d}:new").unwrap(), None);
}

/// A mover that moves one big slot back and forth without pause (each move copies the slot
/// for the target's replica under the slot's lock) must not starve a default client into an
/// error: following a move spends no retry budget.
#[test]
fn back_to_back_atomic_moves_never_fail_a_default_client() {
    let c = Cluster::builder().primaries(2).replicas(1).build().unwrap();
    let client = c.client();
    for i in 0..50_000 {
        client.set(format!("{{mig}}:{i}"), "v").unwrap();
    }
    let slot = key_slot("{mig}");
    let (a, b) = (c.primaries()[0], c.primaries()[1]);
    let stop = Arc::new(AtomicBool::new(false));
    let mover = {
        let (c, stop) = (c.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut moves = 0;
            while !stop.load(Ordering::Relaxed) {
                let to = if c.slot_owner(slot) == Some(a) { b } else { a };
                c.migrate_slot(slot, to).unwrap();
                moves += 1;
            }
            moves
        })
    };
    let end = Instant::now() + Duration::from_secs(2);
    let mut writes = 0;
    while Instant::now() < end {
        client.set("{mig}:0", writes.to_string()).expect("a default client never sees an error");
        writes += 1;
    }
    stop.store(true, Ordering::Relaxed);
    assert!(mover.join().unwrap() > 10);
    assert_eq!(client.get("{mig}:0").unwrap().as_deref(), Some((writes - 1).to_string().as_bytes()));
}

/// Moving a big collection key locks its slot only: commands on other slots of the same two
/// primaries keep completing while the key (and its copy for the target's replica) moves.
#[test]
fn a_big_key_moves_without_stalling_other_slots() {
    let c = cluster(2, 1);
    let client = c.client();
    let fields: Vec<(String, String)> =
        (0..100_000).map(|i| (format!("f{i}"), "v".repeat(16))).collect();
    for chunk in fields.chunks(10_000) {
        client.hset("{big}:h", chunk).unwrap();
    }
    let slot = key_slot("{big}");
    let (from, to) = (c.slot_owner(slot).unwrap(), other_than_owner(&c, slot));
    // Keys of other slots on the same two primaries.
    let others: Vec<String> = (0..)
        .map(|i| format!("other:{i}"))
        .filter(|k| key_slot(k) != slot)
        .filter(|k| [Some(from), Some(to)].contains(&c.slot_owner(key_slot(k))))
        .take(64)
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (done, started) = (Arc::new(AtomicU64::new(0)), Instant::now());
    let worker = {
        let (client, stop, done) = (c.client(), stop.clone(), done.clone());
        std::thread::spawn(move || {
            let mut stamps = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for k in &others {
                    client.set(k, "x").unwrap();
                    stamps.push(started.elapsed());
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            stamps
        })
    };
    while done.load(Ordering::Relaxed) == 0 {
        std::thread::yield_now();
    }
    // Back and forth three times: a starved worker thread cannot miss all three windows.
    let mut windows = Vec::new();
    for target in [to, from, to] {
        let mut m = c.begin_migration(slot, target, MigrationMode::KeyByKey).unwrap();
        let t0 = started.elapsed();
        let p = m.finish().unwrap();
        windows.push((t0, started.elapsed()));
        assert!(p.done && p.keys_moved == 1);
    }
    stop.store(true, Ordering::Relaxed);
    let stamps = worker.join().unwrap();
    assert_eq!(client.hlen("{big}:h").unwrap(), 100_000);
    let during = stamps.iter().filter(|t| windows.iter().any(|(t0, t1)| *t > t0 && *t < t1)).count();
    eprintln!("{during} commands on other slots during the moves {windows:?}");
    assert!(during > 0, "other slots kept working while the big key moved");
    assert_replicas_converged(&c);
}

/// A crash of the source in the middle of `finish` (from another thread, at any point of a
/// batch): the mover waits out the failover and completes on the promoted replica, every key
/// once. (A crash of the target is covered between steps above: one in the middle of a batch,
/// before the target's replicas have it, can lose that batch, as in Redis.)
#[test]
fn a_source_crash_during_finish_is_ridden_out() {
    let mut mid_migration = false;
    for _ in 0..5 {
        let c = failing_cluster(2, 1);
        let client = c.client();
        let keys = keys_of("mid", 3000);
        for (i, k) in keys.iter().enumerate() {
            client.set(k, i.to_string()).unwrap();
        }
        assert_eq!(client.wait(1, Duration::from_secs(2)).unwrap(), 1);
        let slot = key_slot(&keys[0]);
        let (from, to) = (c.slot_owner(slot).unwrap(), other_than_owner(&c, slot));
        let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
        // Small steps, so the mover is still at work when the crash comes.
        let mover = std::thread::spawn(move || {
            while m.step(10)?.keys_left > 0 {}
            m.finish()
        });
        while c.node_key_count(to).unwrap() == 0 {
            std::thread::yield_now();
        }
        let left = c.migration(slot).map(|m| m.progress().keys_left);
        c.kill_node(from).unwrap();
        let done = mover.join().unwrap().expect("finish rides out the failover");
        assert!(done.done);
        assert_ne!(c.slot_owner(slot), Some(from));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(client.get(k).unwrap().as_deref(), Some(i.to_string().as_bytes()), "{k}");
        }
        assert_eq!(client.dbsize(), 3000, "each key once");
        assert_replicas_converged(&c);
        // A loaded machine may let the mover finish before the crash: then try again.
        if left.is_some_and(|n| n > 0) {
            mid_migration = true;
            break;
        }
    }
    assert!(mid_migration, "the crash never landed in the middle of the migration");
}

/// SCAN walks both sides of a slot in a key-by-key migration: every key present for the
/// whole scan is returned, though keys move between the calls.
#[test]
fn scan_sees_every_key_while_the_slot_moves() {
    let c = cluster(2, 0);
    let client = c.client();
    let keys = keys_of("sc", 300);
    for k in &keys {
        client.set(k, "v").unwrap();
    }
    let slot = key_slot(&keys[0]);
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    m.step(100).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let r = client.command(&["SCAN", &cursor, "MATCH", "{sc}:*", "COUNT", "20"]).unwrap();
        let parts = r.as_array().unwrap();
        cursor = parts[0].to_string().trim_matches('"').to_string();
        for k in parts[1].as_array().unwrap() {
            seen.insert(k.as_bytes().unwrap().to_vec());
        }
        // Keys keep moving between the calls.
        m.step(7).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300, "every key of the moving slot is returned");
    m.finish().unwrap();
}

/// A shard added with a replica to a store built without any gets failure detection too:
/// killing its primary promotes the replica, with the keys the shard took over.
#[test]
fn an_added_shard_fails_over() {
    let c = Cluster::builder()
        .primaries(2)
        .node_timeout(Duration::from_millis(50))
        .retry_budget(Duration::from_secs(5))
        .build()
        .unwrap();
    let client = c.client();
    for i in 0..600 {
        client.set(format!("key:{i}"), i.to_string()).unwrap();
    }
    let new = c.add_primary(1).unwrap();
    c.rebalance().unwrap();
    let moved = c.node_key_count(new).unwrap();
    assert!(moved > 100, "{moved}");
    // The replica got each slot as it arrived; wait until it has applied them all.
    assert_replicas_converged(&c);
    let replica = c.replicas_of(new)[0];
    c.kill_node(new).unwrap();
    for i in 0..600 {
        assert_eq!(client.get(format!("key:{i}")).unwrap().as_deref(), Some(i.to_string().as_bytes()));
    }
    assert!(c.primaries().contains(&replica));
    assert_eq!(c.node_key_count(replica).unwrap(), moved);
}

/// A BLMOVE blocked on the source whose destination list exists there stays on the source
/// during a key-by-key migration (moving it would create a second destination list on the
/// target) and is served after the handover with both lists together. That serve is a write
/// like any other: the target's replicas have it once the handover returns, not only after
/// the slot's next write.
#[test]
fn a_blocked_blmove_keeps_its_destination_whole() {
    let c = cluster(2, 1);
    let client = c.client();
    client.command(&["RPUSH", "{b}:dst", "a"]).unwrap();
    let waiter = {
        let client = c.client();
        std::thread::spawn(move || {
            client.command(&["BLMOVE", "{b}:src", "{b}:dst", "LEFT", "RIGHT", "5"])
        })
    };
    until_blocked(&client, 1);
    let slot = key_slot("{b}");
    let mut m = c.begin_migration(slot, other_than_owner(&c, slot), MigrationMode::KeyByKey).unwrap();
    client.command(&["LPUSH", "{b}:src", "x"]).unwrap();
    m.finish().unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), Reply::bulk("x"));
    let dst = client.command(&["LRANGE", "{b}:dst", "0", "-1"]).unwrap();
    assert_eq!(dst, Reply::Array(vec![Reply::bulk("a"), Reply::bulk("x")]));
    assert_eq!(client.dbsize(), 1);
    assert_replicas_converged(&c);
}

/// A side that hangs (holding its slot locks) mid-migration does not wedge the mover: it
/// waits for a cell lock a bounded time, lets go of the control lock, and the failover that
/// replaces the hung node lets it finish.
#[test]
fn a_hung_side_is_failed_over_and_the_migration_finishes() {
    for hang_source in [true, false] {
        let c = failing_cluster(2, 1);
        let client = c.client();
        let keys = keys_of("hang", 200);
        for k in &keys {
            client.set(k, "v").unwrap();
        }
        let slot = key_slot(&keys[0]);
        let (from, to) = (c.slot_owner(slot).unwrap(), other_than_owner(&c, slot));
        let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
        m.step(50).unwrap();
        c.pause_node(if hang_source { from } else { to }).unwrap();
        let p = m.finish().expect("the failover of the hung side lets the migration finish");
        assert!(p.done);
        for k in &keys {
            assert_eq!(client.get(k).unwrap().as_deref(), Some(&b"v"[..]), "{k}");
        }
        assert_eq!(client.dbsize(), 200);
    }
}

/// `ASKING` right before `MULTI` covers the transaction: a raw client's session runs it on
/// the target; without it, EXEC answers the redirect.
#[test]
fn asking_before_multi_covers_the_transaction() {
    let c = cluster(2, 0);
    let client = c.client();
    client.set("{ax}:a", "1").unwrap();
    client.set("{ax}:b", "2").unwrap();
    let slot = key_slot("{ax}");
    let to = other_than_owner(&c, slot);
    let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
    m.step(10).unwrap();
    let raw = c.client().follow_redirects(false);
    let mut s = raw.session();
    let tx = |s: &mut slotstore::Session| {
        s.command(&["MULTI"]).unwrap();
        s.command(&["INCR", "{ax}:a"]).unwrap();
        s.command(&["INCR", "{ax}:b"]).unwrap();
        s.command(&["EXEC"])
    };
    assert_eq!(tx(&mut s), Err(Error::Ask { slot, node: to }));
    s.command(&["ASKING"]).unwrap();
    assert_eq!(tx(&mut s).unwrap(), Reply::Array(vec![Reply::Int(2), Reply::Int(3)]));
    // One-shot: the next transaction is redirected again.
    assert!(matches!(tx(&mut s), Err(Error::Ask { .. })));
    m.finish().unwrap();
    assert_eq!(client.get("{ax}:b").unwrap().as_deref(), Some(&b"3"[..]));
}
