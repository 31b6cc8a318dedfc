//! A primary dies under load: what the writer sees, the promotion, and which writes survived.
//!
//! A 3-primary, 1-replica-each store takes a steady stream of writes from one thread. Every
//! 100th write is followed by `WAIT 1`, so the writer knows which writes a replica holds.
//! Then a primary is killed. The writer keeps going; its commands for the dead shard retry
//! while the failure detector promotes the replica, so it sees a stall, not an error.
//!
//! Run: `cargo run --release --example failover`

use slotstore::{key_slot, Cluster, Error, Role};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `CLUSTER NODES` as text.
fn nodes(cluster: &Cluster) -> Result<String, Error> {
    let reply = cluster.client().command(&["CLUSTER", "NODES"])?;
    Ok(String::from_utf8_lossy(reply.as_bytes().unwrap_or_default()).into_owned())
}

fn main() -> Result<(), Error> {
    let node_timeout = Duration::from_millis(100);
    let cluster = Cluster::builder().primaries(3).replicas(1).node_timeout(node_timeout).build()?;
    println!("before:\n{}", nodes(&cluster)?);

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, stop) = (cluster.client(), stop.clone());
        std::thread::spawn(move || {
            let (mut acked_by_replica, mut written, mut errors) = (0u64, 0u64, Vec::new());
            let mut slowest = Duration::ZERO;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match client.set(format!("key:{i}"), i.to_string()) {
                    Ok(()) => written = i + 1,
                    Err(e) => errors.push((i, e)),
                }
                slowest = slowest.max(started.elapsed());
                if i % 100 == 99 && client.wait(1, Duration::from_millis(500)).unwrap_or(0) >= 1 {
                    acked_by_replica = i + 1;
                }
                i += 1;
            }
            (written, acked_by_replica, errors, slowest)
        })
    };

    std::thread::sleep(Duration::from_millis(300));
    let victim = cluster.slot_owner(key_slot("key:0")).expect("served");
    let heir = cluster.replicas_of(victim)[0];
    let killed_at = Instant::now();
    cluster.kill_node(victim)?;
    println!("killed primary {} (index {})", victim, victim.index());
    while cluster.topology().node(heir).map(|n| n.role) != Some(Role::Primary) {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "replica {} (index {}) promoted after {:?} (node_timeout {:?}), epoch {}",
        heir,
        heir.index(),
        killed_at.elapsed(),
        node_timeout,
        cluster.topology().epoch()
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (written, acked, errors, slowest) = writer.join().expect("writer");

    println!("writer: {written} writes, slowest single write {slowest:?}, {} errors", errors.len());
    for (i, e) in errors.iter().take(5) {
        println!("  write {i}: {e}");
    }
    let client = cluster.client();
    let lost_acked =
        (0..acked).filter(|i| client.get(format!("key:{i}")).ok().flatten().is_none()).count();
    let lost_any =
        (0..written).filter(|i| client.get(format!("key:{i}")).ok().flatten().is_none()).count();
    println!("writes acknowledged by WAIT 1: {acked}; of them lost: {lost_acked}");
    println!("writes acknowledged by the primary only, lost with it: {}", lost_any - lost_acked);
    println!("after:\n{}", nodes(&cluster)?);
    assert_eq!(lost_acked, 0, "a write a replica acknowledged was lost");
    Ok(())
}
