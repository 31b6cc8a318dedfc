//! Batched reads and writes (`get_many`, `set_many`, and `mget_nonatomic`/`mset_nonatomic`,
//! which are them): the same answers as one-key commands, and per-key linearizability while
//! slots move and shards fail over under them.

use slotstore::{key_slot, Clock, Cluster, FailoverMode, MigrationMode, NodeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// SplitMix64, for reproducible key and operation choices.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// Random batches against a model: a batch reads what the one-key commands read (None for
/// missing keys and for keys of another type), a key given twice in a `set_many` ends with
/// its last value, and expired keys read as missing.
#[test]
fn batches_answer_as_one_key_commands_do() {
    let clock = Clock::manual(1_700_000_000_000);
    let c = Cluster::builder().primaries(3).clock(clock.clone()).build().unwrap();
    let client = c.client();
    let mut model: HashMap<String, String> = HashMap::new();
    let mut rng = Rng(7);
    // A list among the strings: batches read it as missing, as MGET does.
    client.rpush("list", &["x"]).unwrap();
    for round in 0..300 {
        let n = 1 + rng.below(40) as usize;
        // Keys drawn from a small space, so batches repeat keys and share slots.
        let keys: Vec<String> = (0..n).map(|_| format!("k{}", rng.below(200))).collect();
        if rng.below(2) == 0 {
            let pairs: Vec<(String, String)> =
                keys.iter().enumerate().map(|(i, k)| (k.clone(), format!("{round}.{i}"))).collect();
            client.set_many(&pairs).unwrap();
            for (k, v) in pairs {
                model.insert(k, v);
            }
        } else {
            let mut asked = keys.clone();
            asked.push("list".into());
            let got = client.get_many(&asked).unwrap();
            let singles: Vec<Option<String>> = asked
                .iter()
                .map(|k| client.get(k).ok().flatten().map(|v| v.as_str().unwrap().to_owned()))
                .collect();
            let want: Vec<Option<String>> = asked.iter().map(|k| model.get(k).cloned()).collect();
            let got: Vec<Option<String>> =
                got.into_iter().map(|v| v.map(|v| v.as_str().unwrap().to_owned())).collect();
            assert_eq!(got, want, "round {round}");
            assert_eq!(singles, want, "round {round}: the one-key path agrees");
        }
    }
    assert_eq!(client.dbsize(), model.len() + 1);

    // A key whose TTL has passed reads as missing in a batch and is deleted.
    client.set_ex("short", "v", Duration::from_millis(10)).unwrap();
    assert_eq!(client.get_many(&["short"]).unwrap(), vec![Some("v".into())]);
    clock.advance(Duration::from_millis(11));
    assert_eq!(client.get_many(&["short", "k1"]).unwrap()[0], None);
    assert_eq!(client.dbsize(), model.len() + 1, "the expired key is gone");
    // A batch overwrites a TTL as SET does.
    client.set_ex("ttl", "v", Duration::from_secs(10)).unwrap();
    client.set_many(&[("ttl", "w")]).unwrap();
    assert_eq!(client.ttl("ttl").unwrap(), None);

    // Hits and misses are counted where they happened.
    let before = client.stats().total;
    client.get_many(&["k1", "k2", "nope:1", "nope:2"]).unwrap();
    let after = client.stats().total;
    let present = ["k1", "k2"].iter().filter(|k| model.contains_key(**k)).count() as u64;
    assert_eq!(after.hits - before.hits, present);
    assert_eq!(after.misses - before.misses, 4 - present);
}

/// Writers store increasing round numbers in their own keys with `set_many`; readers read
/// every key with `get_many` and check that no key ever goes back, no key is ever missing,
/// and no read is older than a round its writer had finished before the read began. All
/// while the keys' slots move (atomically and key by key) and a shard fails over. At the end
/// every key holds its writer's last round and replicas match their primaries.
#[test]
fn batches_stay_linearizable_per_key_through_moves_and_failovers() {
    const WRITERS: usize = 2;
    const KEYS_PER_WRITER: usize = 64;
    let c = Cluster::builder()
        .primaries(3)
        .replicas(1)
        // Failovers here are the lossless `CLUSTER FAILOVER` below; a short node timeout
        // would let a loaded machine's scheduling stall fail a primary over and lose the
        // writes its replica had not applied yet, which this test would report.
        .node_timeout(Duration::from_secs(10))
        .retry_budget(Duration::from_secs(5))
        .build()
        .unwrap();
    let keys: Vec<Vec<String>> =
        (0..WRITERS).map(|w| (0..KEYS_PER_WRITER).map(|i| format!("w{w}:key{i}")).collect()).collect();
    let client = c.client();
    for ks in &keys {
        let pairs: Vec<(&str, &str)> = ks.iter().map(|k| (k.as_str(), "0")).collect();
        client.set_many(&pairs).unwrap();
    }
    let done: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (client, done, stop, keys) = (c.client(), done.clone(), stop.clone(), keys[w].clone());
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let v = round.to_string();
                    let pairs: Vec<(&str, &str)> =
                        keys.iter().map(|k| (k.as_str(), v.as_str())).collect();
                    client.set_many(&pairs).expect("set_many rides out moves and failovers");
                    done[w].store(round, Ordering::SeqCst);
                }
                round
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (client, done, stop, keys) = (c.client(), done.clone(), stop.clone(), keys.clone());
            std::thread::spawn(move || {
                let all: Vec<&str> = keys.iter().flatten().map(String::as_str).collect();
                let mut seen = vec![0u64; all.len()];
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let floor: Vec<u64> = done.iter().map(|d| d.load(Ordering::SeqCst)).collect();
                    let got = client.get_many(&all).expect("get_many rides out moves and failovers");
                    for (i, v) in got.into_iter().enumerate() {
                        let v: u64 = v.expect("no key goes missing").as_str().unwrap().parse().unwrap();
                        let w = i / KEYS_PER_WRITER;
                        assert!(
                            v >= floor[w],
                            "{}: read {v}, older than finished round {}",
                            all[i],
                            floor[w]
                        );
                        assert!(v >= seen[i], "{}: read {v} after {}", all[i], seen[i]);
                        seen[i] = v;
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();

    // Move the slots of some keys back and forth, both ways, and fail a shard over.
    let slots: Vec<u16> = keys.iter().flat_map(|ks| ks.iter().take(6)).map(key_slot).collect();
    let other = |slot: u16| -> NodeId {
        let owner = c.slot_owner(slot).unwrap();
        c.primaries().into_iter().find(|p| *p != owner).unwrap()
    };
    for round in 0..4 {
        for &slot in &slots {
            let to = other(slot);
            if round % 2 == 0 {
                c.migrate_slot(slot, to).unwrap();
            } else {
                let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
                while m.step(1).unwrap().keys_left > 0 {}
                m.finish().unwrap();
            }
        }
        if round == 1 {
            let primary = c.slot_owner(slots[0]).unwrap();
            let replica = c.replicas_of(primary)[0];
            c.failover(replica, FailoverMode::Default).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let last: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    for r in readers {
        assert!(r.join().unwrap() > 0, "readers read while the slots moved");
    }
    for (w, ks) in keys.iter().enumerate() {
        let got = client.get_many(ks).unwrap();
        assert!(got.iter().all(|v| v.as_ref().and_then(|v| v.as_str()) == Some(&last[w].to_string())));
    }
    assert_eq!(client.dbsize(), WRITERS * KEYS_PER_WRITER, "each key held once");
    // Replicas converge on their primaries: the batch writes were replicated.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    'converge: loop {
        assert!(std::time::Instant::now() < deadline, "replicas did not converge");
        for &slot in &slots {
            let p = c.slot_owner(slot).unwrap();
            for r in c.replicas_of(p) {
                if c.slot_digest(r, slot).ok() != Some(c.slot_digest(p, slot).unwrap()) {
                    std::thread::sleep(Duration::from_millis(5));
                    continue 'converge;
                }
            }
        }
        break;
    }
}
