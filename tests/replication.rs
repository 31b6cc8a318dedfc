//! Replication, WAIT, replica reads, failure detection, failover and fault injection.

use slotstore::{
    key_slot, Client, Clock, Cluster, Error, EvictionPolicy, FailoverMode, NodeId, ReadFrom, Reply, Role,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(50);

/// A generous retry budget: on a loaded machine detection may take longer than the default
/// (twice the node timeout), and these tests want the command to outlast the failover.
fn cluster(primaries: usize, replicas: usize) -> Cluster {
    Cluster::builder()
        .primaries(primaries)
        .replicas(replicas)
        .node_timeout(TIMEOUT)
        .retry_budget(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Waits until the failure detector has marked `node` failed.
fn until_failed(c: &Cluster, node: NodeId) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !c.topology().node(node).unwrap().failed {
        assert!(Instant::now() < deadline, "{node:?} never marked failed");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until `count` reaches `n` (writes done by a writer thread).
fn until_count(count: &AtomicU64, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while count.load(Ordering::Relaxed) < n {
        assert!(Instant::now() < deadline, "the writers stalled at {count:?}");
        std::thread::yield_now();
    }
}

/// Waits until every live replica has applied everything its primary sent.
fn settle(c: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let t = c.topology();
        let behind = t.primaries().into_iter().any(|p| {
            let want = c.replication_offset(p).unwrap();
            t.replicas_of(p).into_iter().filter(|r| !t.node(*r).unwrap().failed).any(|r| {
                c.replication_offset(r).unwrap() < want
                    || c.slot_digest(r, t.slot_ranges(p)[0].0).is_err()
            })
        });
        if !behind {
            return;
        }
        assert!(Instant::now() < deadline, "replicas did not catch up");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every replica's digest equals its primary's, slot by slot. On a starved machine the
/// failure detector may fail a node over while this looks: then it looks again at the new
/// topology.
fn assert_converged(c: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let t = loop {
        settle(c);
        let t = c.topology();
        let held = t.primaries().into_iter().all(|p| {
            t.slot_ranges(p)
                .into_iter()
                .all(|(start, end)| (start..=end).all(|s| c.slot_digest(p, s).is_ok()))
        });
        if held || Instant::now() > deadline || c.topology().epoch() == t.epoch() {
            break t;
        }
    };
    for p in t.primaries() {
        for (start, end) in t.slot_ranges(p) {
            for slot in start..=end {
                let want = c.slot_digest(p, slot).unwrap();
                for r in t.replicas_of(p) {
                    if !t.node(r).unwrap().failed {
                        assert_eq!(c.slot_digest(r, slot).unwrap(), want, "replica {r:?} slot {slot}");
                    }
                }
            }
        }
    }
}

fn primary_of(c: &Cluster, key: &str) -> NodeId {
    c.slot_owner(key_slot(key)).unwrap()
}

#[test]
fn replicas_converge_after_writes_expiries_deletes() {
    let clock = Clock::manual(1_000_000);
    let c = Cluster::builder()
        .primaries(2)
        .replicas(2)
        .node_timeout(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap();
    let client = c.client();
    for i in 0..300 {
        let k = format!("k{i}");
        match i % 6 {
            0 => client.set(&k, "v").unwrap(),
            1 => client.set_ex(&k, "ttl", Duration::from_millis(100 + i)).unwrap(),
            2 => drop(client.incr_by(&k, i as i64).unwrap()),
            3 => drop(client.command(&["RPUSH", &k, "a", "b", "c"]).unwrap()),
            4 => drop(client.command(&["HSET", &k, "f", "1", "g", "2"]).unwrap()),
            _ => drop(client.command(&["SADD", &k, "x", "y"]).unwrap()),
        }
    }
    for i in (0..300).step_by(7) {
        client.del(&[format!("k{i}")]).unwrap();
    }
    client.command(&["LPOP", "k3"]).unwrap();
    client.command(&["PEXPIRE", "k4", "50"]).unwrap();
    assert_converged(&c);
    // Replicas hide logically expired keys but keep them until the primary deletes them.
    clock.advance(Duration::from_millis(250));
    assert!(c.run_active_expiry() > 0);
    assert_converged(&c);
    let keys: usize = c.primaries().iter().map(|p| c.node_key_count(*p).unwrap()).sum();
    let replica_keys: usize =
        c.primaries().iter().map(|p| c.node_key_count(c.replicas_of(*p)[0]).unwrap()).sum();
    assert_eq!(keys, replica_keys);
    client.flush_all();
    assert_converged(&c);
    assert_eq!(c.node_key_count(c.replicas_of(c.primaries()[0])[1]).unwrap(), 0);
}

#[test]
fn evictions_replicate_as_deletes() {
    let c = Cluster::builder()
        .primaries(1)
        .replicas(1)
        .node_timeout(Duration::from_secs(10))
        .max_memory(256 << 10)
        .eviction_policy(EvictionPolicy::AllKeysLru)
        .build()
        .unwrap();
    let client = c.client();
    for i in 0..4000 {
        client.set(format!("key:{i}"), [b'x'; 100]).unwrap();
    }
    assert!(client.stats().total.evictions > 0, "the budget forced evictions");
    assert_converged(&c);
    let (p, r) = (c.primaries()[0], c.replicas_of(c.primaries()[0])[0]);
    assert_eq!(c.node_key_count(p).unwrap(), c.node_key_count(r).unwrap());
}

#[test]
fn wait_acked_writes_survive_primary_kill() {
    let c = cluster(3, 2);
    let client = c.client();
    for round in 0..3 {
        for i in 0..100 {
            client.set(format!("{{r{round}}}k{i}"), format!("v{i}")).unwrap();
        }
        assert_eq!(client.wait(2, Duration::from_secs(2)).unwrap(), 2);
        let victim = primary_of(&c, &format!("{{r{round}}}k0"));
        c.kill_node(victim).unwrap();
        for i in 0..100 {
            let got = client.get(format!("{{r{round}}}k{i}")).unwrap();
            assert_eq!(got.as_deref(), Some(format!("v{i}").as_bytes()), "round {round} key {i}");
        }
        assert_ne!(
            primary_of(&c, &format!("{{r{round}}}k0")),
            victim,
            "round {round}: {:#?}",
            c.topology()
        );
        c.restart_node(victim).unwrap();
        assert_converged(&c);
    }
    // WAIT answers for this thread's last write: make one on a live primary.
    client.set("{r0}k0", "again").unwrap();
    assert_eq!(client.command(&["WAIT", "2", "1000"]).unwrap().as_int(), Some(2));
}

#[test]
fn killed_primary_slots_are_served_after_promotion() {
    let c = cluster(3, 1);
    let client = c.client();
    let old = c.primaries()[1];
    let replica = c.replicas_of(old)[0];
    let epoch = c.topology().epoch();
    client.set("foo", "bar").unwrap(); // slot 12182: primary 2
    c.kill_node(old).unwrap();
    let start = Instant::now();
    let key = (0..).map(|i| format!("k{i}")).find(|k| primary_of(&c, k) == old).unwrap();
    client.set(&key, "after").unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    let t = c.topology();
    assert!(t.epoch() > epoch);
    assert_eq!(t.slot_owner(key_slot(&key)), Some(replica));
    assert_eq!(t.node(replica).unwrap().role, Role::Primary);
    assert_eq!(t.node(replica).unwrap().config_epoch, t.epoch());
    assert!(t.node(old).unwrap().failed);
    assert_eq!(t.node(old).unwrap().role, Role::Replica { of: replica });
    assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b"after"[..]));
    let nodes = client.command(&["CLUSTER", "NODES"]).unwrap().to_string();
    assert!(nodes.contains("slave,fail"), "{nodes}");
    let shards = client.command(&["CLUSTER", "SHARDS"]).unwrap();
    assert!(format!("{shards:?}").contains("fail"));
}

#[test]
fn restarted_node_full_syncs_and_serves_replica_reads() {
    // A long node timeout: pausing the primary below must not trigger a failover.
    let c = Cluster::builder()
        .primaries(1)
        .replicas(1)
        .node_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let client = c.client();
    let (p, r) = (c.primaries()[0], c.replicas_of(c.primaries()[0])[0]);
    for i in 0..200 {
        client.set(format!("a{i}"), "1").unwrap();
    }
    c.kill_node(r).unwrap();
    assert!(c.slot_digest(r, key_slot("a1")).is_err(), "a crashed node holds nothing");
    for i in 0..200 {
        client.set(format!("b{i}"), "2").unwrap();
    }
    c.restart_node(r).unwrap();
    assert_eq!(c.topology().node(r).unwrap().role, Role::Replica { of: p });
    assert_converged(&c);
    assert_eq!(c.node_key_count(r).unwrap(), 400);
    // With the primary hung, only a replica can answer.
    c.pause_node(p).unwrap();
    let reader = c.client_with(ReadFrom::Replica);
    assert_eq!(reader.get("b7").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(reader.command(&["GET", "a9"]).unwrap(), Reply::bulk("1"));
    let mut s = client.session();
    s.command(&["READONLY"]).unwrap();
    assert_eq!(s.command(&["EXISTS", "a1"]).unwrap().as_int(), Some(1));
    s.command(&["READWRITE"]).unwrap();
    c.resume_node(p).unwrap();
    assert_eq!(client.get("a1").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn paused_primary_is_failed_over_and_rejoins_as_replica() {
    let c = cluster(1, 1);
    let client = c.client();
    let (p, r) = (c.primaries()[0], c.replicas_of(c.primaries()[0])[0]);
    client.set("k", "1").unwrap();
    client.wait(1, Duration::from_secs(1)).unwrap();
    c.pause_node(p).unwrap();
    // This write waits on the hung primary's lock, then runs on the promoted replica.
    client.set("k", "2").unwrap();
    assert_eq!(c.primaries(), vec![r]);
    c.resume_node(p).unwrap();
    let t = c.topology();
    assert_eq!(t.node(p).unwrap().role, Role::Replica { of: r });
    assert!(!t.node(p).unwrap().failed);
    assert_converged(&c);
    assert_eq!(client.get("k").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn manual_failover_is_lossless_under_writes() {
    let c = Cluster::builder()
        .primaries(1)
        .replicas(2)
        .node_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let client = c.client();
    let (p, r) = (c.primaries()[0], c.replicas_of(c.primaries()[0])[0]);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let writer = {
        let (client, stop, count) = (client.clone(), stop.clone(), count.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                client.set(format!("w{n}"), n.to_string()).unwrap();
                n += 1;
                count.store(n, Ordering::Relaxed);
            }
            n
        })
    };
    // Writes before, during and after the failover.
    until_count(&count, 200);
    c.failover(r, FailoverMode::Default).unwrap();
    until_count(&count, count.load(Ordering::Relaxed) + 200);
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert_eq!(c.primaries(), vec![r]);
    let t = c.topology();
    assert_eq!(t.node(p).unwrap().role, Role::Replica { of: r });
    for n in 0..written {
        assert_eq!(client.get(format!("w{n}")).unwrap().as_deref(), Some(n.to_string().as_bytes()));
    }
    assert_converged(&c);
    // And back, by force.
    c.failover(p, FailoverMode::Force).unwrap();
    assert_eq!(c.primaries(), vec![p]);
    assert_converged(&c);
}

#[test]
fn concurrent_writers_during_failover_see_success_or_clusterdown() {
    // The default retry budget: a writer may see CLUSTERDOWN if the failover outlasts it.
    let c = Cluster::builder().primaries(3).replicas(1).node_timeout(TIMEOUT).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (client, stop, count) = (c.client(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                let (mut ok, mut errors) = (0u64, Vec::new());
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    match client.incr_by(format!("w{w}:{}", i % 50), 1) {
                        Ok(_) => ok += 1,
                        Err(e) => errors.push(e),
                    }
                    i += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                (ok, errors)
            })
        })
        .collect();
    until_count(&count, 300);
    let events = c.events();
    let victim = c.primaries()[0];
    c.kill_node(victim).unwrap();
    // The writers run through the failover and for a while after it.
    let promoted = events
        .iter()
        .find(|e| matches!(e, slotstore::Event::Promoted { replaced, .. } if *replaced == victim));
    assert!(promoted.is_some(), "no promotion");
    until_count(&count, count.load(Ordering::Relaxed) + 300);
    stop.store(true, Ordering::Relaxed);
    let client = c.client();
    // On an overloaded machine a starved replica may have been taken for dead too; the
    // detector clears that once it answers again. Wait for full coverage before reading.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !client.command(&["CLUSTER", "INFO"]).unwrap().to_string().contains("cluster_state:ok") {
        assert!(Instant::now() < deadline, "the cluster did not recover");
        std::thread::sleep(Duration::from_millis(5));
    }
    for (w, h) in writers.into_iter().enumerate() {
        let (ok, errors) = h.join().unwrap();
        assert!(ok > 0);
        assert!(errors.iter().all(|e| matches!(e, Error::ClusterDown(_))), "{errors:?}");
        let stored: i64 = (0..50)
            .map(|i| {
                client
                    .get(format!("w{w}:{i}"))
                    .unwrap()
                    .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap())
            })
            .sum();
        // Writes acknowledged by the killed primary but not yet replicated may be lost
        // (replication is asynchronous, as in Redis); nothing is invented.
        assert!(stored as u64 <= ok);
    }
    assert_converged(&c);
}

#[test]
fn a_dead_shard_takes_the_cluster_down_until_restarted() {
    for full in [true, false] {
        let c = Cluster::builder()
            .primaries(2)
            .replicas(1)
            .node_timeout(TIMEOUT)
            // The dead shard's slots are refused at once once it is known dead; the budget
            // only covers a live shard a starved machine made look dead for a moment.
            .retry_budget(Duration::from_secs(5))
            .require_full_coverage(full)
            .build()
            .unwrap();
        let client = c.client();
        let p = c.primaries()[0];
        let r = c.replicas_of(p)[0];
        c.kill_node(r).unwrap();
        c.kill_node(p).unwrap();
        until_failed(&c, p);
        let dead_key = (0..).map(|i| format!("k{i}")).find(|k| primary_of(&c, k) == p).unwrap();
        let live_key = (0..).map(|i| format!("k{i}")).find(|k| primary_of(&c, k) != p).unwrap();
        // Once the shard is known dead, refused at once.
        let err = client.set(&dead_key, "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            if full { "CLUSTERDOWN The cluster is down" } else { "CLUSTERDOWN Hash slot not served" }
        );
        // The routes follow the published topology a moment later: allow that moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        let live = loop {
            let r = client.set(&live_key, "x");
            if r.is_err() == full || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        match live {
            Err(e) if full => assert_eq!(e.to_string(), "CLUSTERDOWN The cluster is down"),
            other => assert!(other.is_ok() && !full, "{other:?}"),
        }
        let info = client.command(&["CLUSTER", "INFO"]).unwrap().to_string();
        assert!(info.contains("cluster_state:fail"), "{info}");
        c.restart_node(p).unwrap();
        client.set(&dead_key, "back").unwrap();
        client.set(&live_key, "y").unwrap();
        c.restart_node(r).unwrap();
        assert_converged(&c);
    }
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let c = cluster(1, 1);
    let stranger = Cluster::builder().primaries(5).build().unwrap().primaries()[4];
    let (p, r) = (c.primaries()[0], c.replicas_of(c.primaries()[0])[0]);
    let before = c.topology();
    let unknown = format!("ERR Unknown node {stranger}");
    assert_eq!(c.kill_node(stranger).unwrap_err().to_string(), unknown);
    assert_eq!(c.pause_node(stranger).unwrap_err().to_string(), unknown);
    assert_eq!(c.restart_node(stranger).unwrap_err().to_string(), unknown);
    assert_eq!(c.failover(stranger, FailoverMode::Force).unwrap_err().to_string(), unknown);
    assert_eq!(c.slot_digest(stranger, 0).unwrap_err().to_string(), unknown);
    assert_eq!(
        c.failover(p, FailoverMode::Default).unwrap_err().to_string(),
        "ERR You should send CLUSTER FAILOVER to a replica"
    );
    assert!(c.restart_node(r).unwrap_err().to_string().starts_with("ERR"));
    assert!(c.resume_node(r).unwrap_err().to_string().starts_with("ERR"));
    assert_eq!(c.slot_digest(p, 16384).unwrap_err().to_string(), "ERR Invalid or out of range slot");
    let client = c.client();
    assert_eq!(
        client.command(&["WAIT", "-1", "0"]).unwrap_err().to_string(),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(client.command(&["WAIT", "1", "-1"]).unwrap_err().to_string(), "ERR timeout is negative");
    assert_eq!(
        client.command(&["WAIT", "x", "0"]).unwrap_err().to_string(),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(*c.topology(), *before);
    // A lossless failover needs a live primary.
    c.kill_node(p).unwrap();
    let e = c.failover(r, FailoverMode::Default);
    // The detector may have promoted the replica already; either way nothing is lost.
    if let Err(e) = e {
        assert!(e.to_string().starts_with("ERR"), "{e}");
    }
    assert!(Cluster::builder().node_timeout(Duration::ZERO).build().is_err());
}

#[allow(dead_code)]
fn _client_is_send_sync(c: Client) -> impl Send + Sync {
    c
}

#[test]
fn migrated_slots_follow_the_replication_streams() {
    let c = Cluster::builder()
        .primaries(2)
        .replicas(1)
        .node_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let client = c.client();
    client.set("foo", "bar").unwrap();
    let slot = key_slot("foo");
    let (from, to) = (
        c.slot_owner(slot).unwrap(),
        *c.primaries().iter().find(|p| Some(**p) != c.slot_owner(slot)).unwrap(),
    );
    c.migrate_slot(slot, to).unwrap();
    client.set("foo", "baz").unwrap();
    assert_converged(&c);
    let (old_replica, new_replica) = (c.replicas_of(from)[0], c.replicas_of(to)[0]);
    assert!(c.slot_digest(old_replica, slot).is_err(), "the source's replica dropped the slot");
    assert_eq!(c.slot_digest(new_replica, slot).unwrap(), c.slot_digest(to, slot).unwrap());
    for mode in [ReadFrom::PreferReplica, ReadFrom::RoundRobin, ReadFrom::Replica] {
        let reader = c.client_with(mode);
        for _ in 0..3 {
            assert_eq!(reader.get("foo").unwrap().as_deref(), Some(&b"baz"[..]));
        }
    }
}

#[test]
fn without_replicas_a_killed_primary_is_down_until_restarted() {
    let c = Cluster::builder().primaries(2).node_timeout(TIMEOUT).build().unwrap();
    let client = c.client();
    let p = c.primaries()[0];
    let key = (0..).map(|i| format!("k{i}")).find(|k| primary_of(&c, k) == p).unwrap();
    client.set(&key, "v").unwrap();
    c.kill_node(p).unwrap();
    assert!(matches!(client.get(&key), Err(Error::ClusterDown(_))));
    c.restart_node(p).unwrap();
    assert_eq!(client.get(&key).unwrap(), None, "a restarted node comes back empty");
    client.set(&key, "again").unwrap();
}

#[test]
fn session_wait_counts_the_sessions_own_last_write() {
    let c = Cluster::builder()
        .primaries(1)
        .replicas(2)
        .node_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let client = c.client();
    let (mut writer, mut idle) = (client.session(), client.session());
    writer.command(&["SET", "k", "v"]).unwrap();
    assert_eq!(writer.command(&["WAIT", "2", "1000"]).unwrap(), Reply::Int(2));
    assert_eq!(idle.command(&["WAIT", "0", "0"]).unwrap(), Reply::Int(0), "no write of its own");
    writer.command(&["MULTI"]).unwrap();
    writer.command(&["INCR", "n"]).unwrap();
    writer.command(&["EXEC"]).unwrap();
    assert_eq!(writer.command(&["WAIT", "2", "1000"]).unwrap(), Reply::Int(2));
    assert_eq!(
        writer.command(&["WAIT", "-1", "0"]).unwrap_err().to_string(),
        "ERR value is out of range, must be positive"
    );
}

/// Waits until the failure detector has run `n` more rounds.
fn rounds(c: &Cluster, n: u64) {
    let (start, deadline) = (c.detector_rounds(), Instant::now() + Duration::from_secs(20));
    while c.detector_rounds() < start + n {
        assert!(Instant::now() < deadline, "the failure detector stopped");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// With a manual clock, a hung or crashed primary is failed over only once the clock has
/// moved past `node_timeout`, however many detector rounds pass first; then promptly.
#[test]
fn a_manual_clock_decides_when_a_silent_primary_fails_over() {
    for crash in [false, true] {
        let clock = Clock::manual(1_700_000_000_000);
        let c = Cluster::builder()
            .primaries(2)
            .replicas(1)
            .node_timeout(TIMEOUT)
            .clock(clock.clone())
            .build()
            .unwrap();
        let client = c.client();
        let p = c.primaries()[0];
        let r = c.replicas_of(p)[0];
        let key = (0..).map(|i| format!("k{i}")).find(|k| primary_of(&c, k) == p).unwrap();
        client.set(&key, "v").unwrap();
        assert_eq!(client.wait(1, Duration::from_secs(5)).unwrap(), 1);
        let events = c.events();
        if crash {
            c.kill_node(p).unwrap();
        } else {
            c.pause_node(p).unwrap();
        }
        // Many rounds (each a quarter of the timeout in real time): no clock time passes.
        rounds(&c, 40);
        clock.advance(TIMEOUT);
        rounds(&c, 10);
        assert_eq!(c.primaries(), vec![p, c.primaries()[1]], "exactly node_timeout is not past it");
        assert!(!c.topology().node(p).unwrap().failed);
        assert_eq!(events.try_recv(), Err(crossbeam_channel::TryRecvError::Empty));
        clock.advance(Duration::from_millis(1));
        let started = Instant::now();
        let failed = events.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(failed, slotstore::Event::NodeFailed { node: p });
        let promoted = events.recv_timeout(Duration::from_secs(10)).unwrap();
        let epoch = c.topology().node(r).unwrap().config_epoch;
        assert_eq!(promoted, slotstore::Event::Promoted { node: r, replaced: p, epoch });
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b"v"[..]));
        if !crash {
            c.resume_node(p).unwrap();
            assert_eq!(c.topology().node(p).unwrap().role, Role::Replica { of: r });
        }
    }
}

/// WAIT after a write on a primary whose replicas are all down answers 0, also when the
/// caller's previous write (on another shard) was acknowledged: the write is numbered on
/// the promoted primary even before any replica is attached to it.
#[test]
fn wait_answers_for_the_last_write_after_a_failover_left_no_replica() {
    let clock = Clock::manual(1_700_000_000_000);
    let c = Cluster::builder()
        .primaries(2)
        .replicas(1)
        .node_timeout(TIMEOUT)
        .clock(clock.clone())
        .build()
        .unwrap();
    let client = c.client();
    let (a, b) = (c.primaries()[0], c.primaries()[1]);
    let key_a = (0..).map(|i| format!("a{i}")).find(|k| primary_of(&c, k) == a).unwrap();
    let key_b = (0..).map(|i| format!("b{i}")).find(|k| primary_of(&c, k) == b).unwrap();
    let events = c.events();
    c.kill_node(a).unwrap();
    clock.advance(TIMEOUT + Duration::from_millis(1));
    assert!(events
        .iter()
        .any(|e| matches!(e, slotstore::Event::Promoted { replaced, .. } if replaced == a)));
    client.set(&key_b, "1").unwrap();
    assert_eq!(client.wait(1, Duration::from_secs(5)).unwrap(), 1);
    // The promoted replica of `a` has no replica: its old primary is down.
    client.set(&key_a, "1").unwrap();
    assert_eq!(client.wait(1, Duration::from_millis(100)).unwrap(), 0);
    c.restart_node(a).unwrap();
    assert_eq!(client.wait(1, Duration::from_secs(5)).unwrap(), 1, "the full sync carries it");
}
