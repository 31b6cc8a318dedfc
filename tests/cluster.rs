//! Integration tests: slots, topology, routing, CROSSSLOT, expiry, SCAN/KEYS, bad input.

use slotstore::{key_slot, Clock, Cluster, Error, Reply, SLOT_COUNT};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn cluster(primaries: usize) -> Cluster {
    Cluster::builder().primaries(primaries).build().unwrap()
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn run(c: &slotstore::Client, s: &str) -> Result<Reply, Error> {
    c.command(&words(s))
}

/// 5000 keys with the slot redis-server 7.0.15 gave each (`CLUSTER KEYSLOT`).
#[test]
fn key_slot_matches_real_redis() {
    let data = include_str!("data/keyslot-redis-7.0.15.tsv");
    let client = cluster(1).client();
    let mut n = 0;
    for line in data.lines().filter(|l| !l.starts_with('#')) {
        let (hex, slot) = line.split_once('\t').unwrap();
        let key: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let slot: u16 = slot.trim().parse().unwrap();
        assert_eq!(key_slot(&key), slot, "key {hex}");
        let reply = client.command(&[&b"CLUSTER"[..], b"KEYSLOT", &key]).unwrap();
        assert_eq!(reply, Reply::Int(slot.into()));
        n += 1;
    }
    assert_eq!(n, 5000);
}

#[test]
fn topology_views_have_redis_shapes() {
    let c = cluster(3);
    let p = c.primaries();
    assert_eq!(p.len(), 3);
    assert_eq!(c.slot_owner(0), Some(p[0]));
    assert_eq!(c.slot_owner(5460), Some(p[0]));
    assert_eq!(c.slot_owner(5461), Some(p[1]));
    assert_eq!(c.slot_owner(10923), Some(p[2]));
    assert_eq!(c.slot_owner(SLOT_COUNT), None);
    assert!(c.replicas_of(p[0]).is_empty());

    let client = c.client();
    let slots = run(&client, "CLUSTER SLOTS").unwrap();
    let ranges: Vec<(i64, i64)> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_array().unwrap();
            (r[0].as_int().unwrap(), r[1].as_int().unwrap())
        })
        .collect();
    assert_eq!(ranges, vec![(0, 5460), (5461, 10922), (10923, 16383)]);

    let nodes = run(&client, "CLUSTER NODES").unwrap();
    let text = String::from_utf8(nodes.as_bytes().unwrap().to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with(&p[1].to_string()));
    assert!(lines[1].contains(" master - "));
    assert!(lines[1].ends_with(" connected 5461-10922"));

    let shards = run(&client, "CLUSTER SHARDS").unwrap();
    assert_eq!(shards.as_array().unwrap().len(), 3);
    let info = run(&client, "CLUSTER INFO").unwrap();
    let info = String::from_utf8(info.as_bytes().unwrap().to_vec()).unwrap();
    assert!(info.starts_with("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"));
}

#[test]
fn multi_key_commands_refuse_cross_slot_before_any_effect() {
    let client = cluster(3).client();
    assert_ne!(key_slot("a"), key_slot("b"));
    run(&client, "SET a old").unwrap();
    for cmd in [
        "MSET a 1 b 2",
        "MSETNX a 1 b 2",
        "MGET a b",
        "DEL a b",
        "UNLINK a b",
        "EXISTS a b",
        "TOUCH a b",
    ] {
        assert_eq!(run(&client, cmd), Err(Error::CrossSlot), "{cmd}");
    }
    assert_eq!(run(&client, "GET a").unwrap(), Reply::bulk("old"));
    assert_eq!(run(&client, "EXISTS b").unwrap(), Reply::Int(0));
    assert_eq!(client.mset(&[("a", "1"), ("b", "2")]), Err(Error::CrossSlot));
    assert_eq!(client.del(&["a", "b"]), Err(Error::CrossSlot));
    assert_eq!(client.get("a").unwrap().unwrap(), "old");

    // The same keys under one tag are fine, and atomic per slot.
    client.mset(&[("{u}a", "1"), ("{u}b", "2")]).unwrap();
    assert_eq!(
        client.mget(&["{u}a", "{u}b", "{u}c"]).unwrap(),
        vec![Some("1".into()), Some("2".into()), None]
    );
    assert_eq!(run(&client, "DEL {u}a {u}b {u}c").unwrap(), Reply::Int(2));
}

#[test]
fn ttl_follows_a_manual_clock() {
    let clock = Clock::manual(1_000_000);
    let c = Cluster::builder().primaries(3).clock(clock.clone()).build().unwrap();
    let client = c.client();
    client.set_ex("k", "v", Duration::from_millis(1500)).unwrap();
    run(&client, "SET p v").unwrap();
    assert_eq!(run(&client, "PTTL k").unwrap(), Reply::Int(1500));
    assert_eq!(run(&client, "TTL k").unwrap(), Reply::Int(2), "rounded as Redis rounds");
    assert_eq!(run(&client, "PEXPIRETIME k").unwrap(), Reply::Int(1_001_500));
    assert_eq!(run(&client, "TTL p").unwrap(), Reply::Int(-1));
    assert_eq!(run(&client, "TTL missing").unwrap(), Reply::Int(-2));
    clock.advance(Duration::from_millis(1499));
    assert_eq!(client.get("k").unwrap().unwrap(), "v");
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        client.get("k").unwrap().unwrap(),
        "v",
        "alive through its deadline's millisecond, as in Redis"
    );
    assert_eq!(run(&client, "PTTL k").unwrap(), Reply::Int(0));
    clock.advance(Duration::from_millis(1));
    assert_eq!(client.get("k").unwrap(), None);
    assert_eq!(run(&client, "EXISTS k").unwrap(), Reply::Int(0));

    // Active expiry removes keys nobody reads.
    for i in 0..100 {
        client.set_ex(format!("t{i}"), "v", Duration::from_secs(10)).unwrap();
    }
    assert_eq!(client.dbsize(), 101);
    clock.advance(Duration::from_secs(10));
    assert_eq!(c.run_active_expiry(), 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(c.run_active_expiry(), 100);
    assert_eq!(client.dbsize(), 1);
}

#[test]
fn node_threads_expire_keys_on_their_own() {
    let clock = Clock::manual(5_000);
    let c = Cluster::builder()
        .primaries(2)
        .clock(clock.clone())
        .cron_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    let client = c.client();
    for i in 0..1000 {
        client.set_ex(format!("k{i}"), "v", Duration::from_millis(100)).unwrap();
    }
    client.set("keep", "v").unwrap();
    clock.advance(Duration::from_millis(101));
    let start = Instant::now();
    while client.dbsize() > 1 {
        assert!(start.elapsed() < Duration::from_secs(10), "node threads did not expire keys");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(client.get("keep").unwrap().unwrap(), "v");
}

#[test]
fn scan_visits_every_key_once_and_keys_matches() {
    let client = cluster(3).client();
    let all: HashSet<String> = (0..2000).map(|i| format!("key:{i}")).collect();
    for k in &all {
        client.set(k, "v").unwrap();
    }
    for count in ["1", "10", "1000"] {
        let mut seen = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let r = client.command(&["SCAN", &cursor, "COUNT", count]).unwrap();
            let r = r.as_array().unwrap();
            cursor = String::from_utf8(r[0].as_bytes().unwrap().to_vec()).unwrap();
            seen.extend(
                r[1].as_array()
                    .unwrap()
                    .iter()
                    .map(|k| String::from_utf8(k.as_bytes().unwrap().to_vec()).unwrap()),
            );
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), all.len(), "COUNT {count}: no duplicates without changes");
        assert_eq!(seen.into_iter().collect::<HashSet<_>>(), all);
    }
    let r = run(&client, "SCAN 0 MATCH key:1?? COUNT 100000").unwrap();
    assert_eq!(r.as_array().unwrap()[1].as_array().unwrap().len(), 100);
    let r = run(&client, "SCAN 0 TYPE hash COUNT 100000").unwrap();
    assert!(r.as_array().unwrap()[1].as_array().unwrap().is_empty());
    assert_eq!(run(&client, "KEYS key:1??").unwrap().as_array().unwrap().len(), 100);
    assert_eq!(run(&client, "KEYS *").unwrap().as_array().unwrap().len(), 2000);
    assert_eq!(run(&client, "SCAN abc").unwrap_err().to_string(), "ERR invalid cursor");
    assert_eq!(run(&client, "SCAN 0 COUNT 0").unwrap_err().to_string(), "ERR syntax error");
}

/// Keys present for the whole scan are returned even while others come and go.
#[test]
fn scan_survives_concurrent_changes() {
    let c = cluster(3);
    let client = c.client();
    let stable: HashSet<String> = (0..3000).map(|i| format!("stable:{i}")).collect();
    for k in &stable {
        client.set(k, "v").unwrap();
    }
    let churn = c.client();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                churn.set(format!("churn:{}", i % 5000), "x").unwrap();
                churn.del(&[format!("churn:{}", (i * 7) % 5000)]).unwrap();
                i += 1;
            }
        });
        let mut seen = HashSet::new();
        let mut cursor = "0".to_string();
        loop {
            let r = client.command(&["SCAN", &cursor, "COUNT", "50"]).unwrap();
            let r = r.as_array().unwrap();
            cursor = String::from_utf8(r[0].as_bytes().unwrap().to_vec()).unwrap();
            for k in r[1].as_array().unwrap() {
                seen.insert(String::from_utf8(k.as_bytes().unwrap().to_vec()).unwrap());
            }
            if cursor == "0" {
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(stable.is_subset(&seen));
    });
}

#[test]
fn keyless_commands() {
    let client = cluster(3).client();
    assert_eq!(run(&client, "PING").unwrap().to_string(), "PONG");
    assert_eq!(run(&client, "PING hi").unwrap(), Reply::bulk("hi"));
    assert_eq!(run(&client, "ECHO hi").unwrap(), Reply::bulk("hi"));
    for i in 0..50 {
        client.set(format!("k{i}"), "v").unwrap();
    }
    assert_eq!(run(&client, "DBSIZE").unwrap(), Reply::Int(50));
    let slot = key_slot("k1");
    let n = run(&client, &format!("CLUSTER COUNTKEYSINSLOT {slot}")).unwrap().as_int().unwrap();
    assert!(n >= 1);
    let keys = run(&client, &format!("CLUSTER GETKEYSINSLOT {slot} 10")).unwrap();
    assert!(keys.as_array().unwrap().contains(&Reply::bulk("k1")));
    assert_eq!(run(&client, "FLUSHALL bogus").unwrap_err().to_string(), "ERR syntax error");
    assert_eq!(run(&client, "DBSIZE").unwrap(), Reply::Int(50));
    assert_eq!(run(&client, "FLUSHALL").unwrap(), Reply::ok());
    assert_eq!(run(&client, "DBSIZE").unwrap(), Reply::Int(0));
}

/// Malformed commands get Redis's errors, never panic, and never change stored data.
#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let client = cluster(3).client();
    client.set("k", "v").unwrap();
    client.set_ex("t", "v", Duration::from_secs(100)).unwrap();
    client.set("n", "10").unwrap();
    let cases = [
        ("GET", "ERR wrong number of arguments for 'get' command"),
        ("GET k extra", "ERR wrong number of arguments for 'get' command"),
        ("SET k", "ERR wrong number of arguments for 'set' command"),
        ("SET k v BOGUS", "ERR syntax error"),
        ("SET k v EX 0", "ERR invalid expire time in 'set' command"),
        ("SET k v EX -5", "ERR invalid expire time in 'set' command"),
        ("SET k v EX abc", "ERR value is not an integer or out of range"),
        ("SET k v NX XX", "ERR syntax error"),
        ("SET k v EX 10 PX 10", "ERR syntax error"),
        ("SET k v KEEPTTL EX 10", "ERR syntax error"),
        ("INCR k", "ERR value is not an integer or out of range"),
        ("INCRBY n x", "ERR value is not an integer or out of range"),
        ("INCRBY n 9223372036854775807", "ERR increment or decrement would overflow"),
        ("INCRBYFLOAT n abc", "ERR value is not a valid float"),
        ("EXPIRE t 10 NX XX", "ERR NX and XX, GT or LT options at the same time are not compatible"),
        ("EXPIRE t 10 GT LT", "ERR GT and LT options at the same time are not compatible"),
        ("EXPIRE t 10 FOO", "ERR Unsupported option FOO"),
        ("SETRANGE k -1 x", "ERR offset is out of range"),
        ("MSET a", "ERR wrong number of arguments for 'mset' command"),
        ("MSET {x}a 1 {x}b", "ERR wrong number of arguments for 'mset' command"),
        ("CLUSTER COUNTKEYSINSLOT 16384", "ERR Invalid or out of range slot"),
        ("CLUSTER COUNTKEYSINSLOT x", "ERR Invalid or out of range slot"),
        ("CLUSTER NOPE", "ERR unknown subcommand 'NOPE'. Try CLUSTER HELP."),
        ("NOPE a b", "ERR unknown command 'NOPE', with args beginning with: 'a' 'b' "),
    ];
    for (cmd, text) in cases {
        assert_eq!(run(&client, cmd).unwrap_err().to_string(), text, "{cmd}");
    }
    assert!(client.command::<&str>(&[]).is_err());
    assert_eq!(client.get("k").unwrap().unwrap(), "v");
    assert_eq!(client.get("n").unwrap().unwrap(), "10");
    assert!(client.ttl("t").unwrap().is_some());
    assert_eq!(client.dbsize(), 3);
}

/// Random words, random arities: the store answers every one and keeps its data.
#[test]
fn random_words_never_panic() {
    let client = cluster(3).client();
    client.set("sentinel", "kept").unwrap();
    let vocab = [
        "SET",
        "GET",
        "INCR",
        "EXPIRE",
        "MSET",
        "SCAN",
        "CLUSTER",
        "KEYSLOT",
        "GETKEYSINSLOT",
        "EX",
        "PX",
        "NX",
        "GETEX",
        "SETRANGE",
        "GETRANGE",
        "-1",
        "0",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "nan",
        "inf",
        "",
        "k",
        "{k}",
        "PERSIST",
        "KEEPTTL",
        "GET",
        "TYPE",
        "MATCH",
        "COUNT",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (x % 6) as usize;
        let cmd: Vec<&str> =
            (0..n).map(|i| vocab[((x >> (i * 5 + 3)) % vocab.len() as u64) as usize]).collect();
        let _ = client.command(&cmd);
    }
    assert_eq!(client.get("sentinel").unwrap().unwrap(), "kept");
}
