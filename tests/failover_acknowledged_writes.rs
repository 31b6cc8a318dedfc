//! A manual (lossless) failover under a writer: every acknowledged write must be on the new
//! primary. Found by the redis-rs conformance suite: a writer routed to the old primary before
//! the failover could get that node's lock only after it, demoted, had loaded its new
//! primary's copy, and write there (about 6 runs in 100 lost one acknowledged write). Long:
//! `cargo test --release --test failover_acknowledged_writes -- --ignored`.

use slotstore::{key_slot, Cluster, FailoverMode};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[test]
#[ignore = "150 failovers under load: run with --release --ignored"]
fn no_acknowledged_write_is_lost_in_a_manual_failover() {
    let mut failed = Vec::new();
    for run in 0..150 {
        let cluster = Cluster::builder().primaries(3).replicas(1).build().unwrap();
        let client = cluster.client();
        let primary = cluster.slot_owner(key_slot("{fo}")).unwrap();
        let replica = cluster.replicas_of(primary)[0];
        let stop = AtomicBool::new(false);
        let written = AtomicUsize::new(0);
        let acked = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0usize;
                while !stop.load(Ordering::Acquire) {
                    if client.set(format!("{{fo}}:{i}"), i.to_string()).is_ok() {
                        acked.lock().unwrap().push(i);
                    }
                    written.fetch_add(1, Ordering::Release);
                    i += 1;
                }
            });
            let wait_for = |n: usize| {
                let deadline = Instant::now() + Duration::from_secs(10);
                while written.load(Ordering::Acquire) < n && Instant::now() < deadline {
                    std::thread::yield_now();
                }
            };
            wait_for(20);
            cluster.failover(replica, FailoverMode::Default).unwrap();
            wait_for(written.load(Ordering::Acquire) + 20);
            stop.store(true, Ordering::Release);
        });
        for i in acked.into_inner().unwrap() {
            let key = format!("{{fo}}:{i}");
            // A read may meet the failover's last moments: retry a transient error.
            let deadline = Instant::now() + Duration::from_secs(2);
            let got = loop {
                match client.get(&key) {
                    Ok(v) => break v,
                    Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
                    Err(e) => panic!("run {run}: GET {key}: {e}"),
                }
            };
            if got.as_deref() != Some(i.to_string().as_bytes()) {
                failed.push((run, key));
            }
        }
    }
    assert_eq!(failed, Vec::new(), "acknowledged writes lost");
}
