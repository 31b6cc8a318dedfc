//! Sorted sets through the public API: typed methods, commands and their Redis error texts,
//! threads racing on one set, and a blocked `BZPOPMIN` woken by another thread. The random
//! comparison against a real redis-server lives in `tests/differential_redis.rs`.

use slotstore::{Bytes, Client, Cluster, Error, Reply};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

fn client() -> slotstore::Client {
    Cluster::builder().primaries(3).build().expect("cluster").client()
}

fn b(s: &str) -> Bytes {
    Bytes::from(s)
}

/// Runs a command line split on spaces.
fn run(c: &slotstore::Client, line: &str) -> Result<Reply, Error> {
    let words: Vec<&str> = line.split(' ').collect();
    c.command(&words)
}

/// A reply flattened to text, one item per `|`, errors as their text.
fn show(r: Result<Reply, Error>) -> String {
    fn flat(r: &Reply, out: &mut Vec<String>) {
        match r {
            Reply::Array(items) => items.iter().for_each(|i| flat(i, out)),
            Reply::Bulk(b) => out.push(String::from_utf8_lossy(b).into_owned()),
            Reply::Int(n) => out.push(n.to_string()),
            Reply::Nil => out.push("nil".into()),
            other => out.push(other.to_string()),
        }
    }
    match r {
        Ok(r) => {
            let mut out = Vec::new();
            flat(&r, &mut out);
            out.join("|")
        }
        Err(e) => e.to_string(),
    }
}

#[test]
fn typed_methods() {
    let c = client();
    assert_eq!(c.zadd("z", &[(1.0, "a"), (2.0, "b"), (3.0, "c")]).unwrap(), 3);
    assert_eq!(c.zadd("z", &[(2.5, "a"), (4.0, "d")]).unwrap(), 1);
    assert_eq!(c.zcard("z").unwrap(), 4);
    assert_eq!(c.zscore("z", "a").unwrap(), Some(2.5));
    assert_eq!(c.zscore("z", "x").unwrap(), None);
    assert_eq!(c.zmscore("z", &["a", "x"]).unwrap(), vec![Some(2.5), None]);
    assert_eq!(c.zrank("z", "a").unwrap(), Some(1));
    assert_eq!(c.zrevrank("z", "a").unwrap(), Some(2));
    assert_eq!(c.zincr_by("z", 0.5, "a").unwrap(), 3.0);
    assert_eq!(c.zincr_by("z", 1.0, "new").unwrap(), 1.0);
    assert_eq!(c.zrange("z", 0, 1).unwrap(), vec![(b("new"), 1.0), (b("b"), 2.0)]);
    assert_eq!(c.zrevrange("z", 0, 0).unwrap(), vec![(b("d"), 4.0)]);
    assert_eq!(c.zrange("z", -2, -1).unwrap(), vec![(b("c"), 3.0), (b("d"), 4.0)]);
    assert_eq!(
        c.zrange_by_score("z", 2.0, 3.0).unwrap(),
        vec![(b("b"), 2.0), (b("a"), 3.0), (b("c"), 3.0)]
    );
    assert_eq!(c.zrevrange_by_score("z", f64::INFINITY, 3.5).unwrap(), vec![(b("d"), 4.0)]);
    assert_eq!(c.zcount("z", f64::NEG_INFINITY, 2.0).unwrap(), 2);
    assert_eq!(c.zpop_min("z", 1).unwrap(), vec![(b("new"), 1.0)]);
    assert_eq!(c.zpop_max("z", 2).unwrap(), vec![(b("d"), 4.0), (b("c"), 3.0)]);
    assert_eq!(c.zrem("z", &["a", "x"]).unwrap(), 1);
    assert_eq!(c.zrem_range_by_rank("z", 0, -1).unwrap(), 1);
    assert_eq!(c.exists(&["z"]).unwrap(), 0, "an emptied set deletes its key");
    assert_eq!(c.zpop_min("z", 5).unwrap(), vec![]);
    assert_eq!(c.zincr_by("z", f64::INFINITY, "m").unwrap(), f64::INFINITY);
    assert_eq!(
        c.zincr_by("z", f64::NEG_INFINITY, "m").unwrap_err().to_string(),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(
        c.zadd("z", &[(f64::NAN, "x")]).unwrap_err().to_string(),
        "ERR value is not a valid float"
    );
    assert_eq!(
        c.zrange_by_score("z", f64::NAN, 1.0).unwrap_err().to_string(),
        "ERR min or max is not a float"
    );
    let nothing: [(f64, &str); 0] = [];
    assert_eq!(c.zadd("empty", &nothing).unwrap(), 0);
    assert_eq!(c.exists(&["empty"]).unwrap(), 0, "no empty set is stored");
    c.set("s", "v").unwrap();
    assert_eq!(c.zadd("s", &[(1.0, "a")]), Err(Error::WrongType));
    assert_eq!(c.zscore("s", "a"), Err(Error::WrongType));
    assert_eq!(c.zpop_min("s", 1), Err(Error::WrongType));
}

#[test]
fn unions_store_in_one_slot() {
    let c = client();
    c.zadd("{u}a", &[(1.0, "x"), (2.0, "y")]).unwrap();
    c.zadd("{u}b", &[(3.0, "x"), (4.0, "z")]).unwrap();
    assert_eq!(c.zunion_store("{u}d", &["{u}a", "{u}b"]).unwrap(), 3);
    assert_eq!(c.zrange("{u}d", 0, -1).unwrap(), vec![(b("y"), 2.0), (b("x"), 4.0), (b("z"), 4.0)]);
    assert_eq!(c.zinter_store("{u}d", &["{u}a", "{u}b"]).unwrap(), 1);
    assert_eq!(c.zrange("{u}d", 0, -1).unwrap(), vec![(b("x"), 4.0)]);
    assert_eq!(c.zunion_store("{u}d", &["{u}a", "other"]), Err(Error::CrossSlot));
    assert_eq!(
        run(&c, "ZUNIONSTORE d 2 {u}a {u}b"),
        Err(Error::CrossSlot),
        "the destination is a key too"
    );
    assert_eq!(
        show(run(&c, "ZUNIONSTORE {u}d 0 {u}a")),
        "ERR at least 1 input key is needed for 'zunionstore' command"
    );
    assert_eq!(show(run(&c, "ZINTERSTORE {u}d 3 {u}a {u}b")), "ERR syntax error");
    assert_eq!(show(run(&c, "ZINTERSTORE {u}d x {u}a")), "ERR value is not an integer or out of range");
    // An empty result deletes the destination.
    assert_eq!(show(run(&c, "ZINTERSTORE {u}d 2 {u}a {u}missing")), "0");
    assert_eq!(c.exists(&["{u}d"]).unwrap(), 0);
}

#[test]
fn ttls_kept_by_writes_and_dropped_by_stores() {
    let c = client();
    c.zadd("{t}z", &[(1.0, "a"), (2.0, "b")]).unwrap();
    assert!(c.expire("{t}z", Duration::from_secs(100)).unwrap());
    c.zadd("{t}z", &[(3.0, "c")]).unwrap();
    c.zincr_by("{t}z", 1.0, "a").unwrap();
    c.zrem("{t}z", &["b"]).unwrap();
    c.zpop_min("{t}z", 1).unwrap();
    assert!(c.ttl("{t}z").unwrap().is_some(), "writes keep the TTL");
    c.zadd("{t}d", &[(1.0, "x")]).unwrap();
    assert!(c.expire("{t}d", Duration::from_secs(100)).unwrap());
    assert_eq!(show(run(&c, "ZUNIONSTORE {t}d 1 {t}z")), "1");
    assert_eq!(c.ttl("{t}d").unwrap(), None, "a stored destination loses its TTL");
    assert_eq!(show(run(&c, "ZRANGESTORE {t}d {t}z 0 -1")), "1");
    assert_eq!(c.zrange("{t}d", 0, -1).unwrap(), vec![(b("c"), 3.0)]);
}

/// Each bad command answers Redis's exact text and changes nothing.
#[test]
fn bad_input_changes_nothing() {
    let c = client();
    assert_eq!(show(run(&c, "ZADD k 1 a 2 b")), "2");
    let cases = [
        ("ZADD k nan a", "ERR value is not a valid float"),
        ("ZADD k abc a", "ERR value is not a valid float"),
        ("ZADD k 1 x nan y", "ERR value is not a valid float"),
        ("ZADD k NX XX 1 a", "ERR XX and NX options at the same time are not compatible"),
        ("ZADD k GT LT 1 a", "ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("ZADD k NX GT 1 a", "ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("ZADD k GT LT", "ERR syntax error"),
        ("ZADD k FOO 1 a", "ERR syntax error"),
        ("ZADD k 1 a 2", "ERR syntax error"),
        ("ZADD k INCR 1 a 2 b", "ERR INCR option supports a single increment-element pair"),
        ("ZADD k 1", "ERR wrong number of arguments for 'zadd' command"),
        ("ZADD k", "ERR wrong number of arguments for 'zadd' command"),
        ("ZINCRBY k nan a", "ERR value is not a valid float"),
        ("ZINCRBY k 1", "ERR wrong number of arguments for 'zincrby' command"),
        ("ZRANGEBYSCORE k (x 1", "ERR min or max is not a float"),
        ("ZRANGEBYSCORE k [a 1", "ERR min or max is not a float"),
        ("ZREMRANGEBYSCORE k (x 1", "ERR min or max is not a float"),
        ("ZREMRANGEBYSCORE k 1 nan", "ERR min or max is not a float"),
        ("ZREMRANGEBYLEX k a b", "ERR min or max not valid string range item"),
        ("ZREMRANGEBYRANK k 0 x", "ERR value is not an integer or out of range"),
        ("ZCOUNT k 1 abc", "ERR min or max is not a float"),
        (
            "ZRANGE k 0 -1 LIMIT 0 1",
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        ("ZRANGE k 0 -1 BOGUS", "ERR syntax error"),
        ("ZPOPMIN k -1", "ERR value is out of range, must be positive"),
        ("ZPOPMAX k 1 2", "ERR syntax error"),
        ("ZREM k", "ERR wrong number of arguments for 'zrem' command"),
        ("ZSCAN k x", "ERR invalid cursor"),
        ("ZSCAN k 0 COUNT 0", "ERR syntax error"),
        ("ZUNIONSTORE k 2 k", "ERR syntax error"),
        ("ZUNIONSTORE k 1 k WEIGHTS x", "ERR weight value is not a float"),
        ("ZUNIONSTORE k 1 k AGGREGATE avg", "ERR syntax error"),
        ("BZPOPMIN k -1", "ERR timeout is negative"),
        ("BZPOPMIN k abc", "ERR timeout is not a float or out of range"),
    ];
    for (line, want) in cases {
        assert_eq!(show(run(&c, line)), want, "{line}");
        assert_eq!(show(run(&c, "ZRANGE k 0 -1 WITHSCORES")), "a|1|b|2", "after {line}");
    }
    c.set("s", "v").unwrap();
    for line in ["ZADD s 1 a", "ZINCRBY s 1 a", "ZREM s a", "ZRANGE s 0 -1", "ZCARD s", "BZPOPMIN s 1"] {
        assert_eq!(run(&c, line), Err(Error::WrongType), "{line}");
    }
    assert_eq!(c.get("s").unwrap().as_deref(), Some(&b"v"[..]));
}

/// Threads add to the same members at once: every increment lands (integers, so the sums are
/// exact whatever the order).
#[test]
fn concurrent_increments_are_exact() {
    let c = client();
    let threads = 4;
    let rounds = 500;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (c, barrier) = (c.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for i in 0..rounds {
                    let member = format!("m{}", i % 10);
                    c.zincr_by("race", 1.0, &member).unwrap();
                    let words = ["ZINCRBY", "race", "2", member.as_str()];
                    c.command(&words).unwrap();
                    // Keep the set large enough to use the skip list part of the time.
                    if t == 0 {
                        c.zadd("race", &[(-(i as f64), format!("filler{i}"))]).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Each member got `rounds / 10` rounds from each thread, of 1 + 2.
    let want = (threads * rounds / 10 * 3) as f64;
    for i in 0..10 {
        assert_eq!(c.zscore("race", format!("m{i}")).unwrap(), Some(want));
    }
    assert_eq!(c.zcard("race").unwrap(), 10 + rounds);
    let top = c.zrevrange("race", 0, 9).unwrap();
    assert!(top.iter().all(|(_, s)| *s == want));
}

/// Waits until `n` callers are blocked (`blocked_clients` of `INFO clients`).
fn until_blocked(c: &Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.stats().total.blocked_clients != n {
        assert!(Instant::now() < deadline, "never {n} blocked callers");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn bzpopmin_is_woken_by_zadd_from_another_thread() {
    let c = client();
    let waiter = {
        let c = c.clone();
        thread::spawn(move || {
            let start = Instant::now();
            let r = c.command(&["BZPOPMIN", "{q}missing", "{q}jobs", "5"]);
            (r, start.elapsed())
        })
    };
    until_blocked(&c, 1);
    assert_eq!(c.zadd("{q}jobs", &[(2.0, "b"), (1.0, "a")]).unwrap(), 2);
    let (r, waited) = waiter.join().unwrap();
    assert_eq!(show(r), "{q}jobs|a|1");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    assert_eq!(c.zrange("{q}jobs", 0, -1).unwrap(), vec![(b("b"), 2.0)]);
    // Served at once when a set has members; the last one deletes the key.
    assert_eq!(show(run(&c, "BZPOPMAX {q}jobs 0")), "{q}jobs|b|2");
    assert_eq!(c.exists(&["{q}jobs"]).unwrap(), 0);
    // Times out with a nil reply.
    let start = Instant::now();
    assert_eq!(run(&c, "BZPOPMIN {q}jobs 0.05"), Ok(Reply::Nil));
    assert!(start.elapsed() >= Duration::from_millis(40));
    assert_eq!(run(&c, "BZPOPMIN a b 1"), Err(Error::CrossSlot));
    // BZMPOP wakes the same way, and pops up to COUNT.
    let waiter = {
        let c = c.clone();
        thread::spawn(move || c.command(&["BZMPOP", "5", "1", "{q}jobs", "MAX", "COUNT", "2"]))
    };
    until_blocked(&c, 1);
    c.zadd("{q}jobs", &[(1.0, "a"), (2.0, "b"), (3.0, "c")]).unwrap();
    assert_eq!(show(waiter.join().unwrap()), "{q}jobs|c|3|b|2");
    assert_eq!(show(run(&c, "BZMPOP 0 0 {q}jobs MIN")), "ERR numkeys should be greater than 0");
}

#[test]
fn large_sets_rank_and_range() {
    let c = client();
    let members: Vec<(f64, String)> =
        (0..5000).map(|i| (f64::from(i % 100), format!("m{i:05}"))).collect();
    assert_eq!(c.zadd("big", &members).unwrap(), 5000);
    // Ties at one score order by member bytes.
    assert_eq!(c.zrank("big", "m00100").unwrap(), Some(1));
    assert_eq!(c.zrank("big", "m04999").unwrap(), Some(4999));
    assert_eq!(c.zcount("big", 10.0, 19.0).unwrap(), 500);
    let page =
        c.command(&["ZRANGEBYSCORE", "big", "(98", "+inf", "LIMIT", "10", "2", "WITHSCORES"]).unwrap();
    assert_eq!(show(Ok(page)), "m01099|99|m01199|99");
    assert_eq!(show(run(&c, "ZREMRANGEBYSCORE big -inf (50")), "2500");
    assert_eq!(c.zrange("big", 0, 0).unwrap(), vec![(b("m00050"), 50.0)]);
    assert_eq!(show(run(&c, "ZRANDMEMBER big 3")).split('|').count(), 3);
    assert_eq!(show(run(&c, "ZRANDMEMBER big -3 WITHSCORES")).split('|').count(), 6);
}
