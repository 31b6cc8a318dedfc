//! Pub/sub against a real `redis-server` 7.0 (the oracle): the same subscriptions on both
//! sides, then `PUBLISH`/`SPUBLISH` receiver counts, the messages subscribers get, `PUBSUB`
//! replies and errors, `notify-keyspace-events` as `CONFIG GET` shows it, and the keyspace
//! events of the same command sequence, compared.
//!
//! The oracle is a standalone server, so it counts every subscriber as slotstore's store-wide
//! hub does. Environment as `tests/common/mod.rs` says (`SLOTSTORE_REDIS_ADDR`, skipped when
//! unset). Channel names carry this file's tags so tests sharing the server do not meet them.

mod common;

use common::{redis_from_env, Outcome, Redis};
use slotstore::{Bytes, Cluster, Reply, Subscription};

fn oracle(addr: &str) -> Redis {
    Redis::connect(addr).expect("a second connection to the oracle")
}

/// A message frame as Redis sends it: (channel, pattern, payload).
fn frame(o: Outcome) -> (String, Option<String>, String) {
    let Ok(Reply::Array(items)) = o else { panic!("not a message frame: {o:?}") };
    let s = |r: &Reply| match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk: {other:?}"),
    };
    match items.as_slice() {
        [kind, ch, payload] if s(kind) == "message" || s(kind) == "smessage" => {
            (s(ch), None, s(payload))
        }
        [kind, pat, ch, payload] if s(kind) == "pmessage" => (s(ch), Some(s(pat)), s(payload)),
        _ => panic!("not a message frame: {items:?}"),
    }
}

fn ours(sub: &Subscription) -> Vec<(String, Option<String>, String)> {
    let t = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    sub.try_iter().map(|m| (t(&m.channel), m.pattern.as_ref().map(t), t(&m.payload))).collect()
}

/// Subscribes on the oracle and reads the confirmations, which must count as `counts`.
fn subscribe(r: &mut Redis, cmd: &str, names: &[&str], counts: &[i64]) {
    let mut args = vec![cmd];
    args.extend_from_slice(names);
    r.send(&args).unwrap();
    for (name, count) in names.iter().zip(counts) {
        let want = Reply::Array(vec![
            Reply::Bulk(Bytes::from(cmd.to_ascii_lowercase())),
            Reply::Bulk(Bytes::from(*name)),
            Reply::Int(*count),
        ]);
        assert_eq!(r.read().unwrap(), Ok(want), "{cmd} {name}");
    }
}

fn sorted(o: Outcome) -> Outcome {
    o.map(|r| match r {
        Reply::Array(mut v) => {
            v.sort_by_key(|r| r.to_string());
            Reply::Array(v)
        }
        r => r,
    })
}

#[test]
fn counts_messages_and_pubsub_replies_match_redis() {
    let Some((addr, mut redis)) = redis_from_env() else { return };
    let client = Cluster::builder().primaries(3).build().unwrap().client();
    let ch = |s: &str| format!("{{diff-pubsub}}{s}");
    let (news, art, tech) = (ch("news.art"), ch("news.tech"), ch("old.tech"));
    let (p_news, p_tech) = (ch("news.*"), "*{diff-pubsub}*.tech".to_string());

    // The same subscribers on both sides.
    let mut r1 = oracle(&addr);
    subscribe(&mut r1, "SUBSCRIBE", &[&art, &news, &art], &[1, 2, 2]);
    subscribe(&mut r1, "PSUBSCRIBE", &[&p_news, &p_tech], &[3, 4]);
    let s1 = client.subscribe(&[&art, &news, &art]).unwrap();
    s1.psubscribe(&[&p_news, &p_tech]).unwrap();
    let mut r2 = oracle(&addr);
    subscribe(&mut r2, "PSUBSCRIBE", &[&p_news], &[1]);
    let s2 = client.psubscribe(&[&p_news]).unwrap();
    let mut r3 = oracle(&addr);
    subscribe(&mut r3, "SSUBSCRIBE", &[&ch("shard:1"), &ch("shard:2")], &[1, 2]);
    let s3 = client.ssubscribe(&[&ch("shard:1"), &ch("shard:2")]).unwrap();

    let mut compare = |args: &[&str]| {
        let want = redis.command(args).unwrap();
        let got = client.command(args).map_err(|e| e.to_string());
        assert_eq!(sorted(got), sorted(want), "{args:?}");
    };
    for c in [&art, &news, &tech, &ch("nobody")] {
        compare(&["PUBLISH", c, "hello"]);
    }
    compare(&["SPUBLISH", &ch("shard:1"), "s-hello"]);
    compare(&["SPUBLISH", &ch("shard:3"), "nobody"]);
    compare(&["PUBSUB", "NUMSUB", &art, &news, &tech]);
    compare(&["PUBSUB", "SHARDNUMSUB", &ch("shard:1"), &ch("shard:9")]);
    compare(&["PUBSUB", "CHANNELS", "{diff-pubsub}*"]);
    compare(&["PUBSUB", "CHANNELS", "{diff-pubsub}news.t*"]);
    compare(&["PUBSUB", "SHARDCHANNELS", "{diff-pubsub}*"]);
    compare(&["PUBSUB", "NUMSUB"]);
    compare(&["PUBSUB", "HELP"]);
    for bad in [
        &["PUBSUB", "NUMPAT", "x"][..],
        &["PUBSUB", "CHANNELS", "a", "b"],
        &["PUBSUB", "NOPE"],
        &["PUBSUB"],
        &["PUBLISH", "a"],
        &["SPUBLISH", "a"],
    ] {
        compare(bad);
    }

    // The messages each subscriber got, frame by frame (patterns of one channel in any
    // order: Redis walks a dict).
    let read = |r: &mut Redis, n: usize| {
        let mut v: Vec<_> = (0..n).map(|_| frame(r.read().unwrap())).collect();
        v.sort();
        v
    };
    let mut o1 = ours(&s1);
    o1.sort();
    assert_eq!(read(&mut r1, o1.len()), o1);
    let mut o2 = ours(&s2);
    o2.sort();
    assert_eq!(read(&mut r2, o2.len()), o2);
    assert_eq!(read(&mut r3, 1), ours(&s3));
    assert_eq!(
        o1.len(),
        6,
        "art: channel and news.*; news.tech: channel and both patterns; old.tech: one"
    );

    // Unsubscribing: confirmations count down the same way.
    r1.send(&["UNSUBSCRIBE", &news]).unwrap();
    let want =
        Reply::Array(vec![Reply::bulk("unsubscribe"), Reply::bulk(news.as_bytes()), Reply::Int(3)]);
    assert_eq!(r1.read().unwrap(), Ok(want));
    s1.unsubscribe(&[&news]);
    compare(&["PUBLISH", &news, "after"]);
    compare(&["PUBSUB", "NUMSUB", &news]);
}

#[test]
fn keyspace_events_match_redis() {
    let Some((addr, mut redis)) = redis_from_env() else { return };
    let client = Cluster::builder().primaries(3).build().unwrap().client();
    // How CONFIG GET shows the flags.
    for flags in ["KEA", "Kgx$lshzetdnm", "KEgn", "Exg", "KEgxlshz$et", "mnK", "K$", ""] {
        let set = ["CONFIG", "SET", "notify-keyspace-events", flags];
        assert_eq!(client.command(&set).map_err(|e| e.to_string()), redis.command(&set).unwrap());
        let get = ["CONFIG", "GET", "notify-keyspace-events"];
        assert_eq!(
            client.command(&get).map_err(|e| e.to_string()),
            redis.command(&get).unwrap(),
            "{flags}"
        );
    }
    let bad = ["CONFIG", "SET", "notify-keyspace-events", "KEq"];
    assert_eq!(client.command(&bad).map_err(|e| e.to_string()), redis.command(&bad).unwrap());

    let set = ["CONFIG", "SET", "notify-keyspace-events", "KA"];
    client.command(&set).unwrap();
    let _ = redis.command(&set).unwrap();
    let keys = ["s", "n", "l", "dst", "h", "set", "z", "r1", "r2"].map(|k| format!("{{diff-ks}}{k}"));
    let channels: Vec<String> = keys.iter().map(|k| format!("__keyspace@0__:{k}")).collect();
    let mut sub_redis = oracle(&addr);
    let counts: Vec<i64> = (1..=channels.len() as i64).collect();
    let names: Vec<&str> = channels.iter().map(String::as_str).collect();
    subscribe(&mut sub_redis, "SUBSCRIBE", &names, &counts);
    let sub = client.subscribe(&names).unwrap();
    let k = |i: usize| keys[i].as_str();
    let del: Vec<&str> = std::iter::once("DEL").chain(keys.iter().map(String::as_str)).collect();
    let _ = redis.command(&del).unwrap();
    let script: Vec<Vec<&str>> = vec![
        vec!["SET", k(0), "v"],
        vec!["SET", k(0), "v", "EX", "100"],
        vec!["SET", k(0), "v", "NX"],
        vec!["APPEND", k(0), "x"],
        vec!["SETRANGE", k(0), "0", "y"],
        vec!["PERSIST", k(0)],
        vec!["EXPIRE", k(0), "100"],
        vec!["PERSIST", k(0)],
        vec!["GETEX", k(0), "PX", "100000"],
        vec!["GETDEL", k(0)],
        vec!["INCR", k(1)],
        vec!["INCRBYFLOAT", k(1), "1.5"],
        vec!["EXPIRE", k(1), "-1"],
        vec!["RPUSH", k(2), "a", "b", "c"],
        vec!["LPUSH", k(2), "z"],
        vec!["LSET", k(2), "0", "y"],
        vec!["LINSERT", k(2), "BEFORE", "a", "q"],
        vec!["LREM", k(2), "0", "q"],
        vec!["LTRIM", k(2), "0", "1"],
        vec!["LMOVE", k(2), k(3), "LEFT", "RIGHT"],
        vec!["RPOP", k(2)],
        vec!["HSET", k(4), "f", "1", "g", "2"],
        vec!["HSETNX", k(4), "f", "1"],
        vec!["HINCRBY", k(4), "f", "2"],
        vec!["HINCRBYFLOAT", k(4), "f", "0.5"],
        vec!["HDEL", k(4), "f", "g"],
        vec!["SADD", k(5), "a", "b", "c"],
        vec!["SADD", k(5), "a"],
        vec!["SREM", k(5), "a"],
        vec!["SMOVE", k(5), k(8), "b"],
        vec!["SPOP", k(5)],
        vec!["SINTERSTORE", k(7), k(8), k(5)],
        vec!["ZADD", k(6), "1", "a", "2", "b", "3", "c"],
        vec!["ZINCRBY", k(6), "1", "a"],
        vec!["ZREM", k(6), "a"],
        vec!["ZREMRANGEBYSCORE", k(6), "0", "2"],
        vec!["ZPOPMAX", k(6)],
        vec!["SET", k(7), "v"],
        vec!["RENAME", k(7), k(8)],
        vec!["COPY", k(8), k(7)],
        vec!["DEL", k(7), k(8), k(3)],
    ];
    let mut want = Vec::new();
    for cmd in &script {
        let r = redis.command(cmd).unwrap();
        assert_eq!(client.command(cmd).map_err(|e| e.to_string()), r, "{cmd:?}");
        // Each command's events arrive on the oracle before its reply; read what is there.
        sub_redis.send(&["PING", "mark"]).unwrap();
        while let Some(f) = frame_or_pong(sub_redis.read().unwrap()) {
            want.push(f);
        }
    }
    let got = ours(&sub);
    assert_eq!(got, want);
    assert!(got.len() > 40, "{}", got.len());
    let off = ["CONFIG", "SET", "notify-keyspace-events", ""];
    let _ = redis.command(&off).unwrap();
}

/// A message frame, or None for the `PING mark` reply that ends a batch.
fn frame_or_pong(o: Outcome) -> Option<(String, Option<String>, String)> {
    match &o {
        Ok(Reply::Array(items)) if items.first() == Some(&Reply::bulk("pong")) => None,
        _ => Some(frame(o)),
    }
}
