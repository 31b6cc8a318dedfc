//! Keyspace notifications: `notify-keyspace-events`, Redis's event names per command, and
//! `expired`/`evicted` when keys actually go.

use slotstore::{Clock, Cluster, EvictionPolicy, Reply, Subscription};
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The keyspace-channel events queued so far, as (key, event), and checks that each has its
/// keyevent twin (`E` is on in these tests).
fn events(sub: &Subscription) -> Vec<(String, String)> {
    let msgs: Vec<_> = sub.try_iter().collect();
    let mut space = Vec::new();
    let mut event = Vec::new();
    for m in msgs {
        let ch = text(&m.channel);
        if let Some(key) = ch.strip_prefix("__keyspace@0__:") {
            space.push((key.to_string(), text(&m.payload)));
        } else if let Some(name) = ch.strip_prefix("__keyevent@0__:") {
            event.push((text(&m.payload), name.to_string()));
        } else {
            panic!("unexpected channel {ch}");
        }
    }
    assert_eq!(space, event, "every keyspace event has its keyevent twin");
    space
}

fn ev(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, e)| (k.to_string(), e.to_string())).collect()
}

fn setup(flags: &str) -> (Cluster, slotstore::Client, Subscription) {
    let cluster = Cluster::builder().primaries(3).build().unwrap();
    let client = cluster.client();
    assert_eq!(
        client.command(&["CONFIG", "SET", "notify-keyspace-events", flags]).unwrap(),
        Reply::ok()
    );
    let sub = client.psubscribe(&["__key*__:*"]).unwrap();
    (cluster, client, sub)
}

fn run(client: &slotstore::Client, cmd: &str) {
    let words: Vec<&str> = cmd.split(' ').collect();
    client.command(&words).unwrap_or_else(|e| panic!("{cmd}: {e}"));
}

#[test]
fn strings_and_generic_commands_notify_with_redis_s_names() {
    let (_c, client, sub) = setup("KEA");
    run(&client, "SET k v");
    assert_eq!(events(&sub), ev(&[("k", "set")]));
    run(&client, "SET k v EX 100");
    assert_eq!(events(&sub), ev(&[("k", "set"), ("k", "expire")]));
    run(&client, "SET k v NX");
    assert_eq!(events(&sub), ev(&[]), "a SET that stores nothing says nothing");
    run(&client, "INCR n");
    run(&client, "DECRBY n 5");
    run(&client, "INCRBYFLOAT n 1.5");
    run(&client, "APPEND k w");
    run(&client, "SETRANGE k 0 x");
    assert_eq!(
        events(&sub),
        ev(&[
            ("n", "incrby"),
            ("n", "incrby"),
            ("n", "incrbyfloat"),
            ("k", "append"),
            ("k", "setrange")
        ])
    );
    run(&client, "PERSIST k");
    run(&client, "PERSIST k");
    run(&client, "EXPIRE k 100");
    run(&client, "MSET {t}a 1 {t}b 2");
    run(&client, "RENAME {t}a {t}c");
    run(&client, "GETDEL {t}b");
    run(&client, "DEL k");
    run(&client, "DEL k");
    assert_eq!(
        events(&sub),
        ev(&[
            ("k", "persist"),
            ("k", "expire"),
            ("{t}a", "set"),
            ("{t}b", "set"),
            ("{t}a", "rename_from"),
            ("{t}c", "rename_to"),
            ("{t}b", "del"),
            ("k", "del"),
        ])
    );
    // An expire in the past deletes the key: `del`, as in Redis.
    run(&client, "EXPIRE n -1");
    assert_eq!(events(&sub), ev(&[("n", "del")]));
    // The typed methods notify as the commands do.
    client.set("typed", "v").unwrap();
    client.incr_by("typed:n", 2).unwrap();
    client.del(&["typed"]).unwrap();
    assert_eq!(events(&sub), ev(&[("typed", "set"), ("typed:n", "incrby"), ("typed", "del")]));
}

#[test]
fn collections_notify_and_say_del_when_emptied() {
    let (_c, client, sub) = setup("KEA");
    run(&client, "RPUSH l a b");
    run(&client, "LPUSH l z");
    run(&client, "LSET l 0 y");
    run(&client, "LPOP l");
    run(&client, "RPOP l 2");
    assert_eq!(
        events(&sub),
        ev(&[("l", "rpush"), ("l", "lpush"), ("l", "lset"), ("l", "lpop"), ("l", "rpop"), ("l", "del")])
    );
    run(&client, "RPUSH {q}src a");
    run(&client, "LMOVE {q}src {q}dst LEFT RIGHT");
    assert_eq!(
        events(&sub),
        ev(&[("{q}src", "rpush"), ("{q}dst", "rpush"), ("{q}src", "lpop"), ("{q}src", "del")])
    );
    run(&client, "HSET h f 1 g 2");
    run(&client, "HINCRBY h f 5");
    run(&client, "HDEL h f");
    run(&client, "HDEL h g");
    assert_eq!(
        events(&sub),
        ev(&[("h", "hset"), ("h", "hincrby"), ("h", "hdel"), ("h", "hdel"), ("h", "del")])
    );
    run(&client, "SADD s a b");
    run(&client, "SADD s a");
    run(&client, "SREM s a b");
    assert_eq!(events(&sub), ev(&[("s", "sadd"), ("s", "srem"), ("s", "del")]));
    run(&client, "ZADD z 1 a 2 b");
    run(&client, "ZADD z 1 a");
    run(&client, "ZINCRBY z 3 a");
    run(&client, "ZREM z a");
    run(&client, "ZPOPMIN z");
    assert_eq!(
        events(&sub),
        ev(&[("z", "zadd"), ("z", "zincr"), ("z", "zrem"), ("z", "zpopmin"), ("z", "del")])
    );
    run(&client, "ZADD {u}a 1 x");
    run(&client, "ZUNIONSTORE {u}b 1 {u}a");
    run(&client, "SADD {u}c 1");
    run(&client, "SINTERSTORE {u}d {u}c {u}none");
    assert_eq!(events(&sub), ev(&[("{u}a", "zadd"), ("{u}b", "zunionstore"), ("{u}c", "sadd")]));
}

#[test]
fn flags_choose_classes_and_channels() {
    let (_c, client, sub) = setup("K$");
    run(&client, "SET k v");
    run(&client, "DEL k");
    run(&client, "RPUSH l a");
    let got: Vec<(String, String)> =
        sub.try_iter().map(|m| (text(&m.channel), text(&m.payload))).collect();
    assert_eq!(got, vec![("__keyspace@0__:k".to_string(), "set".to_string())]);
    // Classes without a destination (no K, no E) publish nothing; nor does "" (off).
    for flags in ["g$lshz", ""] {
        run(&client, &format!("CONFIG SET notify-keyspace-events {flags}"));
        run(&client, "SET k v");
        run(&client, "DEL k");
        assert_eq!(sub.try_recv(), None);
    }
    assert_eq!(
        client.command(&["CONFIG", "GET", "notify-keyspace-events"]).unwrap().to_string(),
        "1) \"notify-keyspace-events\"\n2) \"\""
    );
    run(&client, "CONFIG SET notify-keyspace-events KEgx$lshzetd");
    assert_eq!(
        client.command(&["CONFIG", "GET", "notify*"]).unwrap().to_string(),
        "1) \"notify-keyspace-events\"\n2) \"AKE\""
    );
    assert_eq!(
        client.command(&["CONFIG", "SET", "notify-keyspace-events", "KEq"]).unwrap_err().to_string(),
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event \
         class character. Use 'Ag$lshzxeKEtmdn'."
    );
}

#[test]
fn expired_keys_notify_when_actually_removed_lazily_or_actively() {
    let clock = Clock::manual(1_000_000);
    let cluster = Cluster::builder().primaries(2).clock(clock.clone()).build().unwrap();
    let client = cluster.client();
    run(&client, "CONFIG SET notify-keyspace-events Ex");
    let sub = client.subscribe(&["__keyevent@0__:expired"]).unwrap();
    client.set_ex("active", "v", Duration::from_millis(100)).unwrap();
    client.set_ex("lazy", "v", Duration::from_millis(100)).unwrap();
    clock.advance(Duration::from_millis(50));
    assert_eq!(cluster.run_active_expiry(), 0);
    assert_eq!(sub.try_recv(), None, "nothing expired yet");
    clock.advance(Duration::from_millis(100));
    // A read meets the expired key and removes it.
    assert_eq!(client.get("lazy").unwrap(), None);
    assert_eq!(sub.try_iter().map(|m| text(&m.payload)).collect::<Vec<_>>(), ["lazy"]);
    // A write meets one and removes it before it runs.
    client.set_ex("write", "v", Duration::from_millis(100)).unwrap();
    clock.advance(Duration::from_millis(200));
    run(&client, "APPEND write x");
    // Active expiry removes the rest.
    assert_eq!(cluster.run_active_expiry(), 1);
    assert_eq!(sub.try_iter().map(|m| text(&m.payload)).collect::<Vec<_>>(), ["write", "active"]);
    assert_eq!(client.stats().total.expired, 2);
}

#[test]
fn evicted_keys_notify_once_each() {
    let cluster = Cluster::builder()
        .primaries(1)
        .max_memory(2 << 20)
        .eviction_policy(EvictionPolicy::AllKeysLru)
        .build()
        .unwrap();
    let client = cluster.client();
    run(&client, "CONFIG SET notify-keyspace-events Ee");
    let sub = client.subscribe(&["__keyevent@0__:evicted"]).unwrap();
    for i in 0..8000 {
        client.set(format!("key:{i}"), [b'v'; 500]).unwrap();
    }
    let evicted: Vec<String> = sub.try_iter().map(|m| text(&m.payload)).collect();
    let stats = client.stats();
    assert!(stats.total.evictions > 1000, "{}", stats.total.evictions);
    assert_eq!(evicted.len() as u64, stats.total.evictions);
    // Each named key is gone, and no key is named twice.
    let distinct: std::collections::HashSet<&String> = evicted.iter().collect();
    assert_eq!(distinct.len(), evicted.len());
    assert!(evicted.iter().all(|k| client.get(k).unwrap().is_none()));
    assert_eq!(client.dbsize() as u64 + stats.total.evictions, 8000);
}

#[test]
fn cross_slot_writes_notify_every_key() {
    let cluster = Cluster::builder().primaries(3).allow_cross_slot(true).build().unwrap();
    let client = cluster.client();
    run(&client, "CONFIG SET notify-keyspace-events KEA");
    let sub = client.psubscribe(&["__keyspace@0__:*"]).unwrap();
    run(&client, "MSET a 1 b 2 c 3");
    let mut got: Vec<(String, String)> = sub
        .try_iter()
        .map(|m| (text(&m.channel)["__keyspace@0__:".len()..].to_string(), text(&m.payload)))
        .collect();
    got.sort();
    assert_eq!(got, ev(&[("a", "set"), ("b", "set"), ("c", "set")]));
}

/// Streams notify as Redis 7.0 does (its test "Keyspace notifications: stream events test",
/// plus XDEL, XTRIM, XSETID and the group subcommands): a consumer is announced when a
/// command creates it, not when it exists already.
#[test]
fn streams_notify_with_redis_s_names() {
    let (_c, client, sub) = setup("KEt");
    run(&client, "XGROUP CREATE s g $ MKSTREAM");
    run(&client, "XGROUP CREATECONSUMER s g Bob");
    run(&client, "XADD s 1-1 f A");
    run(&client, "XREADGROUP GROUP g Alice STREAMS s >");
    run(&client, "XCLAIM s g Mike 0 1-1 FORCE");
    run(&client, "XGROUP DELCONSUMER s g Lee");
    run(&client, "XAUTOCLAIM s g Bob 0 1-1");
    run(&client, "XGROUP DELCONSUMER s g Bob");
    let stream = |names: &[&'static str]| names.iter().map(|n| ("s", *n)).collect::<Vec<_>>();
    assert_eq!(
        events(&sub),
        ev(&stream(&[
            "xgroup-create",
            "xgroup-createconsumer",
            "xadd",
            "xgroup-createconsumer",
            "xgroup-createconsumer",
            "xgroup-delconsumer",
        ]))
    );
    run(&client, "XADD s MAXLEN 1 2-1 f B");
    run(&client, "XDEL s 9-9");
    run(&client, "XDEL s 2-1");
    run(&client, "XADD s 3-1 f C");
    run(&client, "XTRIM s MAXLEN 0");
    run(&client, "XSETID s 5-0");
    run(&client, "XGROUP SETID s g $");
    run(&client, "XGROUP DESTROY s g");
    assert_eq!(
        events(&sub),
        ev(&stream(&[
            "xadd",
            "xtrim",
            "xdel",
            "xadd",
            "xtrim",
            "xsetid",
            "xgroup-setid",
            "xgroup-destroy",
        ]))
    );
}

/// Lowering the budget evicts at once, as Redis evicts when `CONFIG SET maxmemory` goes below
/// what it holds (its test "Keyspace notifications: evicted events"): the key is gone and
/// its `evicted` event published before any other command runs.
#[test]
fn a_lower_budget_evicts_at_once() {
    let cluster =
        Cluster::builder().primaries(1).eviction_policy(EvictionPolicy::AllKeysLru).build().unwrap();
    let client = cluster.client();
    run(&client, "CONFIG SET notify-keyspace-events Ee");
    let sub = client.subscribe(&["__keyevent@0__:evicted"]).unwrap();
    run(&client, "SET foo bar");
    client.set_max_memory(Some(1), EvictionPolicy::AllKeysLru);
    let evicted: Vec<String> = sub.try_iter().map(|m| text(&m.payload)).collect();
    assert_eq!(evicted, ["foo"]);
    assert_eq!(client.stats().total.evictions, 1);
    client.set_max_memory(None, EvictionPolicy::NoEviction);
    assert_eq!(client.dbsize(), 0);
}

/// `n`: a `new` event where a command adds a key, before the command's own event for it, and
/// none for a key written again (Redis's test "Keyspace notifications: new key test"); a
/// replica applying the write publishes nothing more.
#[test]
fn new_keys_notify_once_before_their_command_s_event() {
    let cluster = Cluster::builder().primaries(2).replicas(1).build().unwrap();
    let client = cluster.client();
    run(&client, "CONFIG SET notify-keyspace-events KEn$");
    let sub = client.psubscribe(&["__key*__:*"]).unwrap();
    run(&client, "SET foo bar");
    run(&client, "SET foo baz");
    run(&client, "MSET {m}a 1 {m}b 2 {m}a 3");
    run(&client, "DEL foo");
    run(&client, "SET foo again");
    client.wait(1, std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(
        events(&sub),
        ev(&[
            ("foo", "new"),
            ("foo", "set"),
            ("foo", "set"),
            ("{m}a", "new"),
            ("{m}a", "set"),
            ("{m}b", "new"),
            ("{m}b", "set"),
            ("{m}a", "set"),
            ("foo", "new"),
            ("foo", "set"),
        ])
    );
}
