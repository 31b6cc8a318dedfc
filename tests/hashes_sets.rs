//! Hashes and sets through the public API: Redis's replies and errors, encoding conversions
//! that change nothing visible, TTLs, slots, and concurrent writers. The random comparison
//! against a real redis-server lives in `tests/differential_redis.rs`.

use slotstore::{Bytes, Client, Clock, Cluster, Error, Reply};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Barrier;

fn client() -> Client {
    Cluster::builder().primaries(3).build().unwrap().client()
}

fn run(c: &Client, s: &str) -> Result<Reply, Error> {
    c.command(&s.split_whitespace().collect::<Vec<_>>())
}

fn ok(c: &Client, s: &str) -> Reply {
    run(c, s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(c: &Client, s: &str) -> String {
    match run(c, s) {
        Ok(r) => panic!("{s}: expected an error, got {r}"),
        Err(e) => e.to_string(),
    }
}

fn int(c: &Client, s: &str) -> i64 {
    ok(c, s).as_int().unwrap_or_else(|| panic!("{s}: not an integer"))
}

fn text(r: &Reply) -> String {
    String::from_utf8(r.as_bytes().expect("bulk").to_vec()).unwrap()
}

fn strings(r: &Reply) -> Vec<String> {
    r.as_array().expect("array").iter().map(text).collect()
}

fn sorted(r: &Reply) -> BTreeSet<String> {
    strings(r).into_iter().collect()
}

/// A flat field/value array as a map.
fn pairs(r: &Reply) -> BTreeMap<String, String> {
    let flat = strings(r);
    assert_eq!(flat.len() % 2, 0);
    flat.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()
}

/// Every element of a full `HSCAN`/`SSCAN`, and how many calls it took.
fn full_scan(c: &Client, cmd: &str, key: &str, opts: &str) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let (mut all, mut calls) = (Vec::new(), 0);
    loop {
        let r = ok(c, &format!("{cmd} {key} {cursor} {opts}"));
        let parts = r.as_array().unwrap();
        cursor = text(&parts[0]);
        all.extend(strings(&parts[1]));
        calls += 1;
        if cursor == "0" {
            return (all, calls);
        }
        assert!(calls < 10_000, "scan does not end");
    }
}

fn encoding(c: &Client, key: &str) -> String {
    text(&ok(c, &format!("OBJECT ENCODING {key}")))
}

/// Everything a reader can see of a hash, compared across an encoding change.
fn hash_view(c: &Client, key: &str, fields: &[String]) -> (i64, BTreeMap<String, String>, Vec<String>) {
    let all = pairs(&ok(c, &format!("HGETALL {key}")));
    let (scanned, _) = full_scan(c, "HSCAN", key, "COUNT 7");
    let scanned: BTreeMap<String, String> =
        scanned.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    assert_eq!(all, scanned, "HSCAN sees what HGETALL sees");
    let mut words = vec!["HMGET".to_string(), key.to_string()];
    words.extend(fields.iter().cloned());
    let got = c.command(&words).unwrap();
    let hmget =
        got.as_array().unwrap().iter().map(|r| r.as_bytes().map_or("-".into(), |_| text(r))).collect();
    let random = pairs(&ok(c, &format!("HRANDFIELD {key} 100000 WITHVALUES")));
    assert_eq!(random, all, "a count covering the hash answers all of it");
    assert_eq!(sorted(&ok(c, &format!("HKEYS {key}"))), all.keys().cloned().collect());
    (int(c, &format!("HLEN {key}")), all, hmget)
}

/// Everything a reader can see of a set.
fn set_view(c: &Client, key: &str, probes: &[String]) -> (i64, BTreeSet<String>, Vec<i64>) {
    let members = sorted(&ok(c, &format!("SMEMBERS {key}")));
    let (scanned, _) = full_scan(c, "SSCAN", key, "COUNT 5");
    assert_eq!(scanned.into_iter().collect::<BTreeSet<_>>(), members);
    assert_eq!(sorted(&ok(c, &format!("SRANDMEMBER {key} 100000"))), members);
    assert_eq!(sorted(&ok(c, &format!("SUNION {key} {key}"))), members);
    assert_eq!(sorted(&ok(c, &format!("SINTER {key} {key}"))), members);
    let mut words = vec!["SMISMEMBER".to_string(), key.to_string()];
    words.extend(probes.iter().cloned());
    let flags =
        c.command(&words).unwrap().as_array().unwrap().iter().map(|r| r.as_int().unwrap()).collect();
    (int(c, &format!("SCARD {key}")), members, flags)
}

#[test]
fn hash_commands_answer_as_redis() {
    let c = client();
    assert_eq!(int(&c, "HSET h b 1 a 2 c 3"), 3);
    assert_eq!(int(&c, "HSET h b 9 d 4"), 1);
    assert_eq!(
        strings(&ok(&c, "HGETALL h")),
        ["b", "9", "a", "2", "c", "3", "d", "4"],
        "listpack order"
    );
    assert_eq!(ok(&c, "HMSET h e 5"), Reply::ok());
    assert_eq!(int(&c, "HSETNX h e 6"), 0);
    assert_eq!(ok(&c, "HGET h e"), Reply::bulk("5"));
    assert_eq!(ok(&c, "HGET h nope"), Reply::Nil);
    assert_eq!(ok(&c, "HGET nokey f"), Reply::Nil);
    assert_eq!(ok(&c, "HMGET nokey a b"), Reply::Array(vec![Reply::Nil, Reply::Nil]));
    assert_eq!(strings(&ok(&c, "HKEYS h")), ["b", "a", "c", "d", "e"]);
    assert_eq!(strings(&ok(&c, "HVALS h")), ["9", "2", "3", "4", "5"]);
    assert_eq!(int(&c, "HLEN h"), 5);
    assert_eq!(int(&c, "HSTRLEN h b"), 1);
    assert_eq!(int(&c, "HEXISTS h z"), 0);
    assert_eq!(int(&c, "HINCRBY h a 40"), 42);
    assert_eq!(ok(&c, "HINCRBYFLOAT h a 0.5"), Reply::bulk("42.5"));
    assert_eq!(ok(&c, "HINCRBYFLOAT h f 5.0e3"), Reply::bulk("5000"));
    assert_eq!(ok(&c, "HGETALL nokey"), Reply::Array(vec![]));
    assert_eq!(int(&c, "HDEL h a b c d e f zz"), 6);
    assert_eq!(int(&c, "EXISTS h"), 0, "the emptied hash is gone");
    assert_eq!(ok(&c, "HRANDFIELD h"), Reply::Nil);
    assert_eq!(ok(&c, "HSCAN h 0"), Reply::Array(vec![Reply::bulk("0"), Reply::Array(vec![])]));
}

#[test]
fn set_commands_answer_as_redis() {
    let c = client();
    assert_eq!(int(&c, "SADD {s}a 3 1 2 2"), 3);
    assert_eq!(strings(&ok(&c, "SMEMBERS {s}a")), ["1", "2", "3"], "an intset is sorted");
    assert_eq!(int(&c, "SADD {s}a x"), 1);
    assert_eq!(int(&c, "SADD {s}b 2 3 4 y x"), 5);
    assert_eq!(sorted(&ok(&c, "SINTER {s}a {s}b")), BTreeSet::from(["2", "3", "x"].map(String::from)));
    assert_eq!(sorted(&ok(&c, "SDIFF {s}a {s}b")), BTreeSet::from(["1".to_string()]));
    assert_eq!(sorted(&ok(&c, "SUNION {s}a {s}b {s}none")).len(), 6);
    assert_eq!(int(&c, "SINTERCARD 2 {s}a {s}b"), 3);
    assert_eq!(int(&c, "SINTERCARD 2 {s}a {s}b LIMIT 1"), 1);
    assert_eq!(int(&c, "SINTERSTORE {s}i {s}a {s}b"), 3);
    assert_eq!(int(&c, "SUNIONSTORE {s}u {s}a {s}b"), 6);
    assert_eq!(int(&c, "SDIFFSTORE {s}d {s}b {s}a"), 2);
    assert_eq!(sorted(&ok(&c, "SMEMBERS {s}d")), BTreeSet::from(["4", "y"].map(String::from)));
    assert_eq!(int(&c, "SDIFFSTORE {s}d {s}a {s}a"), 0);
    assert_eq!(int(&c, "EXISTS {s}d"), 0, "an empty result deletes the destination");
    assert_eq!(int(&c, "SMOVE {s}a {s}new 1"), 1);
    assert_eq!(int(&c, "SMOVE {s}a {s}new 1"), 0);
    assert_eq!(int(&c, "SISMEMBER {s}new 1"), 1);
    assert_eq!(int(&c, "SMOVE {s}new {s}a 1"), 1);
    assert_eq!(int(&c, "EXISTS {s}new"), 0, "SMOVE deletes the emptied source");
    assert_eq!(
        ok(&c, "SMISMEMBER {s}a 1 9 x"),
        Reply::Array(vec![Reply::Int(1), Reply::Int(0), Reply::Int(1)])
    );
    assert_eq!(int(&c, "SREM {s}a 1 2 nope"), 2);
    assert_eq!(int(&c, "SCARD {s}a"), 2);
    let popped = sorted(&ok(&c, "SPOP {s}a 5"));
    assert_eq!(popped, BTreeSet::from(["3", "x"].map(String::from)));
    assert_eq!(int(&c, "EXISTS {s}a"), 0);
    assert_eq!(ok(&c, "SPOP {s}a"), Reply::Nil);
    assert_eq!(ok(&c, "SRANDMEMBER {s}a"), Reply::Nil);
    assert_eq!(ok(&c, "SRANDMEMBER {s}a 3"), Reply::Array(vec![]));
    assert_eq!(strings(&ok(&c, "SRANDMEMBER {s}b -7")).len(), 7);
}

#[test]
fn typed_methods_match_the_commands() {
    let c = client();
    assert_eq!(c.hset("user:{1}", &[("name", "kim"), ("visits", "1")]).unwrap(), 2);
    assert_eq!(c.hset("user:{1}", &[("name", "lee")]).unwrap(), 0);
    assert_eq!(c.hget("user:{1}", "name").unwrap().as_deref(), Some(&b"lee"[..]));
    assert_eq!(c.hincr_by("user:{1}", "visits", 41).unwrap(), 42);
    assert_eq!(c.hincr_by_float("user:{1}", "score", 1.5).unwrap(), 1.5);
    assert_eq!(c.hlen("user:{1}").unwrap(), 3);
    assert!(c.hexists("user:{1}", "score").unwrap());
    assert_eq!(c.hstrlen("user:{1}", "name").unwrap(), 3);
    assert!(!c.hset_nx("user:{1}", "name", "x").unwrap());
    let all: Vec<(Bytes, Bytes)> = c.hgetall("user:{1}").unwrap();
    assert_eq!(all[0], (Bytes::from("name"), Bytes::from("lee")));
    assert_eq!(c.hkeys("user:{1}").unwrap().len(), 3);
    assert_eq!(c.hvals("user:{1}").unwrap()[1], "42");
    assert_eq!(c.hmget("user:{1}", &["name", "nope"]).unwrap(), vec![Some(Bytes::from("lee")), None]);
    assert_eq!(c.hrandfield("user:{1}", -5).unwrap().len(), 5);
    assert_eq!(c.hdel("user:{1}", &["name", "visits", "score"]).unwrap(), 3);
    assert_eq!(c.exists(&["user:{1}"]).unwrap(), 0);
    // Nothing to add changes nothing, and stores no empty collection.
    assert_eq!(c.hset("h", &[] as &[(&str, &str)]).unwrap(), 0);
    assert_eq!(c.sadd("s", &[] as &[&str]).unwrap(), 0);
    assert_eq!(c.exists(&["h"]).unwrap() + c.exists(&["s"]).unwrap(), 0);

    assert_eq!(c.sadd("{t}a", &["1", "2", "3"]).unwrap(), 3);
    assert_eq!(c.sadd("{t}b", &["2", "3", "4"]).unwrap(), 3);
    assert!(c.sismember("{t}a", "2").unwrap());
    assert_eq!(c.smismember("{t}a", &["1", "9"]).unwrap(), vec![true, false]);
    assert_eq!(c.scard("{t}a").unwrap(), 3);
    assert_eq!(c.smembers("{t}a").unwrap(), vec![Bytes::from("1"), "2".into(), "3".into()]);
    let mut inter = c.sinter(&["{t}a", "{t}b"]).unwrap();
    inter.sort();
    assert_eq!(inter, vec![Bytes::from("2"), "3".into()]);
    assert_eq!(c.sunion(&["{t}a", "{t}b"]).unwrap().len(), 4);
    assert_eq!(c.sdiff(&["{t}a", "{t}b"]).unwrap(), vec![Bytes::from("1")]);
    assert_eq!(c.sintercard(&["{t}a", "{t}b"], 1).unwrap(), 1);
    assert_eq!(c.sinterstore("{t}i", &["{t}a", "{t}b"]).unwrap(), 2);
    assert_eq!(c.sunionstore("{t}u", &["{t}a", "{t}b"]).unwrap(), 4);
    assert_eq!(c.sdiffstore("{t}d", &["{t}a", "{t}b"]).unwrap(), 1);
    assert!(c.smove("{t}a", "{t}b", "1").unwrap());
    assert_eq!(c.srandmember("{t}b", 10).unwrap().len(), 4);
    assert_eq!(c.srem("{t}b", &["1", "2"]).unwrap(), 2);
    assert!(c.spop("{t}b").unwrap().is_some());
    assert_eq!(c.spop_count("{t}b", 10).unwrap().len(), 1);
    assert_eq!(c.scard("{t}b").unwrap(), 0);
    assert_eq!(c.sinter(&["a", "b"]), Err(Error::CrossSlot));
    assert_eq!(c.sinterstore("x", &["{t}a"]), Err(Error::CrossSlot));
    assert_eq!(c.smove("{t}a", "b", "1"), Err(Error::CrossSlot));
    assert_eq!(
        c.sinter(&[] as &[&str]).unwrap_err().to_string(),
        "ERR wrong number of arguments for 'sinter' command"
    );
    c.set("{t}str", "x").unwrap();
    assert_eq!(c.sinter(&["{t}nope", "{t}str"]), Err(Error::WrongType));
    assert_eq!(c.hget("{t}str", "f"), Err(Error::WrongType));
    assert_eq!(c.sadd("{t}str", &["m"]), Err(Error::WrongType));
}

#[test]
fn wrong_types_are_refused_everywhere() {
    let c = client();
    ok(&c, "SET {k}str v");
    ok(&c, "HSET {k}h f v");
    ok(&c, "SADD {k}s m");
    for cmd in [
        "HSET {k}str f v",
        "HGET {k}str f",
        "HMGET {k}str f",
        "HGETALL {k}str",
        "HDEL {k}str f",
        "HLEN {k}str",
        "HSTRLEN {k}str f",
        "HEXISTS {k}str f",
        "HINCRBY {k}str f 1",
        "HINCRBYFLOAT {k}str f 1",
        "HRANDFIELD {k}str",
        "HRANDFIELD {k}str 1",
        "HSCAN {k}str 0",
        "HKEYS {k}s",
        "SADD {k}h m",
        "SREM {k}str m",
        "SMEMBERS {k}h",
        "SISMEMBER {k}str m",
        "SMISMEMBER {k}str m",
        "SCARD {k}str",
        "SPOP {k}str",
        "SPOP {k}str 0",
        "SRANDMEMBER {k}str 2",
        "SSCAN {k}str 0",
        "SINTER {k}nokey {k}str",
        "SUNION {k}s {k}h",
        "SDIFF {k}nokey {k}h",
        "SINTERSTORE {k}dst {k}nokey {k}str",
        "SINTERCARD 2 {k}nokey {k}str",
        "SMOVE {k}s {k}str m",
        "SMOVE {k}str {k}s m",
        "GET {k}h",
    ] {
        assert_eq!(run(&c, cmd), Err(Error::WrongType), "{cmd}");
    }
    assert_eq!(int(&c, "SMOVE {k}nokey {k}str m"), 0, "a missing source answers 0 first");
    assert_eq!(int(&c, "EXISTS {k}dst"), 0);
    assert_eq!(text(&ok(&c, "GET {k}str")), "v");
}

#[test]
fn bad_input_gets_redis_text_and_changes_nothing() {
    let c = client();
    ok(&c, "HSET h f 1 g x");
    ok(&c, "SADD {s}a 1 2 3");
    ok(&c, "SADD {s}b 2 3");
    let before = (pairs(&ok(&c, "HGETALL h")), sorted(&ok(&c, "SMEMBERS {s}a")), c.dbsize());
    let cases: &[(&str, &str)] = &[
        ("HSET h", "ERR wrong number of arguments for 'hset' command"),
        ("HSET h f", "ERR wrong number of arguments for 'hset' command"),
        ("HSET h a 1 b", "ERR wrong number of arguments for 'hset' command"),
        ("HMSET h a 1 b", "ERR wrong number of arguments for 'hmset' command"),
        ("HSETNX h f", "ERR wrong number of arguments for 'hsetnx' command"),
        ("HGET h", "ERR wrong number of arguments for 'hget' command"),
        ("HDEL h", "ERR wrong number of arguments for 'hdel' command"),
        ("HGETALL h x", "ERR wrong number of arguments for 'hgetall' command"),
        ("HINCRBY h f", "ERR wrong number of arguments for 'hincrby' command"),
        ("HINCRBY h f abc", "ERR value is not an integer or out of range"),
        ("HINCRBY h f 1.5", "ERR value is not an integer or out of range"),
        ("HINCRBY h g 1", "ERR hash value is not an integer"),
        ("HINCRBY h f 9223372036854775807", "ERR increment or decrement would overflow"),
        ("HINCRBYFLOAT h f nan", "ERR value is not a valid float"),
        ("HINCRBYFLOAT h f abc", "ERR value is not a valid float"),
        ("HINCRBYFLOAT h f inf", "ERR value is NaN or Infinity"),
        ("HINCRBYFLOAT h g 1", "ERR hash value is not a float"),
        ("HRANDFIELD h abc", "ERR value is not an integer or out of range"),
        ("HRANDFIELD h 1 foo", "ERR syntax error"),
        ("HRANDFIELD h 1 WITHVALUES x", "ERR syntax error"),
        (
            "HRANDFIELD h -9223372036854775808",
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ),
        ("HRANDFIELD h -4611686018427387904 WITHVALUES", "ERR value is out of range"),
        ("HSCAN h abc", "ERR invalid cursor"),
        ("HSCAN h 0 COUNT 0", "ERR syntax error"),
        ("HSCAN h 0 COUNT x", "ERR value is not an integer or out of range"),
        ("HSCAN h 0 MATCH", "ERR syntax error"),
        ("SADD {s}a", "ERR wrong number of arguments for 'sadd' command"),
        ("SMISMEMBER {s}a", "ERR wrong number of arguments for 'smismember' command"),
        ("SPOP {s}a -1", "ERR value is out of range, must be positive"),
        ("SPOP {s}a abc", "ERR value is out of range, must be positive"),
        ("SPOP {s}a 1 2", "ERR syntax error"),
        ("SRANDMEMBER {s}a 1 2", "ERR syntax error"),
        ("SRANDMEMBER {s}a x", "ERR value is not an integer or out of range"),
        ("SMOVE {s}a {s}b", "ERR wrong number of arguments for 'smove' command"),
        ("SINTERSTORE {s}a", "ERR wrong number of arguments for 'sinterstore' command"),
        ("SINTERCARD 1", "ERR wrong number of arguments for 'sintercard' command"),
        ("SINTERCARD 0 {s}a", "ERR numkeys should be greater than 0"),
        ("SINTERCARD -1 {s}a", "ERR numkeys should be greater than 0"),
        ("SINTERCARD abc {s}a", "ERR numkeys should be greater than 0"),
        ("SINTERCARD 3 {s}a {s}b", "ERR Number of keys can't be greater than number of args"),
        ("SINTERCARD 2 {s}a {s}b LIMIT -1", "ERR LIMIT can't be negative"),
        ("SINTERCARD 2 {s}a {s}b LIMIT x", "ERR LIMIT can't be negative"),
        ("SINTERCARD 2 {s}a {s}b LIMIT", "ERR syntax error"),
        ("SINTERCARD 2 {s}a {s}b FOO 1", "ERR syntax error"),
        ("SSCAN {s}a 0 TYPE string", "ERR syntax error"),
        ("SSCAN {s}a 1x", "ERR invalid cursor"),
    ];
    for (cmd, want) in cases {
        assert_eq!(err(&c, cmd), *want, "{cmd}");
    }
    let after = (pairs(&ok(&c, "HGETALL h")), sorted(&ok(&c, "SMEMBERS {s}a")), c.dbsize());
    assert_eq!(before, after);
}

#[test]
fn multi_key_commands_need_one_slot() {
    let c = client();
    for cmd in [
        "SINTER a b",
        "SUNION a b",
        "SDIFF a b",
        "SINTERSTORE dst a",
        "SUNIONSTORE dst a",
        "SDIFFSTORE a b",
        "SMOVE a b m",
        "SINTERCARD 2 a b",
        "SINTERCARD 2 a b LIMIT -1",
    ] {
        assert_eq!(run(&c, cmd), Err(Error::CrossSlot), "{cmd}");
    }
    // A bad numkeys is the command's own error: there are no keys to route by.
    assert_eq!(err(&c, "SINTERCARD 3 a b"), "ERR Number of keys can't be greater than number of args");
    // The destination counts: the same tag everywhere is fine.
    ok(&c, "SADD {x}a 1");
    assert_eq!(int(&c, "SINTERCARD 2 {x}a {x}a LIMIT 0"), 1);
    assert_eq!(int(&c, "SUNIONSTORE {x}dst {x}a"), 1);

    // Cross-slot mode runs them atomically over every slot.
    let cross = Cluster::builder().primaries(3).allow_cross_slot(true).build().unwrap().client();
    cross.sadd("a", &["1", "2"]).unwrap();
    cross.sadd("b", &["2", "3"]).unwrap();
    assert_eq!(cross.sinter(&["a", "b"]).unwrap(), vec![Bytes::from("2")]);
    assert_eq!(cross.sunionstore("c", &["a", "b"]).unwrap(), 3);
    assert_eq!(int(&cross, "SINTERCARD 2 a c"), 2);
    assert_eq!(sorted(&ok(&cross, "SDIFF c a")), BTreeSet::from(["3".to_string()]));
    assert!(cross.smove("a", "b", "1").unwrap());
}

#[test]
fn writes_keep_ttls_and_stores_drop_them() {
    let clock = Clock::manual(1_000_000);
    let c = Cluster::builder().clock(clock.clone()).build().unwrap().client();
    ok(&c, "HSET h a 1");
    ok(&c, "SADD {s}s 1 2");
    ok(&c, "SADD {s}dst x");
    for key in ["h", "{s}s", "{s}dst"] {
        ok(&c, &format!("EXPIRE {key} 100"));
    }
    ok(&c, "HSET h b 2");
    ok(&c, "HINCRBY h a 1");
    ok(&c, "HINCRBYFLOAT h a 1");
    ok(&c, "HDEL h b");
    ok(&c, "SADD {s}s 3");
    ok(&c, "SREM {s}s 3");
    ok(&c, "SPOP {s}s 0");
    assert_eq!(int(&c, "TTL h"), 100);
    assert_eq!(int(&c, "TTL {s}s"), 100);
    assert_eq!(int(&c, "SUNIONSTORE {s}dst {s}s"), 2);
    assert_eq!(int(&c, "TTL {s}dst"), -1, "a STORE destination loses its TTL");
    clock.advance(std::time::Duration::from_secs(101));
    assert_eq!(int(&c, "HLEN h"), 0);
    assert_eq!(int(&c, "HSET h a 1"), 1, "an expired hash starts over");
    assert_eq!(int(&c, "TTL h"), -1);
    assert_eq!(int(&c, "SCARD {s}s"), 0);
}

/// As in Redis, only a write that changes something fails a `WATCH`.
#[test]
fn writes_that_change_nothing_leave_watchers_alone() {
    let c = client();
    ok(&c, "SADD {w}s a");
    ok(&c, "HSET {w}h f v");
    let mut session = c.session();
    let watch_and_exec = |session: &mut slotstore::Session, between: &dyn Fn()| {
        session.command(&["WATCH", "{w}s", "{w}h", "{w}t"]).unwrap();
        between();
        session.command(&["MULTI"]).unwrap();
        session.command(&["SCARD", "{w}s"]).unwrap();
        session.command(&["EXEC"]).unwrap()
    };
    let untouched = watch_and_exec(&mut session, &|| {
        for cmd in [
            "SADD {w}s a",
            "SREM {w}s zz",
            "SPOP {w}s 0",
            "SMOVE {w}s {w}t zz",
            "HDEL {w}h zz",
            "HSETNX {w}h f x",
            "SINTERSTORE {w}t {w}none",
        ] {
            ok(&c, cmd);
        }
        assert_eq!(err(&c, "HINCRBY {w}h f 1"), "ERR hash value is not an integer");
    });
    assert_eq!(untouched, Reply::Array(vec![Reply::Int(1)]));
    for change in
        ["SADD {w}s b", "SREM {w}s a", "HDEL {w}h f", "SMOVE {w}s {w}t a", "SUNIONSTORE {w}t {w}s"]
    {
        ok(&c, "SADD {w}s a");
        ok(&c, "HSET {w}h f v");
        let aborted = watch_and_exec(&mut session, &|| {
            ok(&c, change);
        });
        assert_eq!(aborted, Reply::Nil, "{change}");
    }
}

#[test]
fn hash_encodings_convert_at_the_thresholds_and_answer_the_same() {
    let c = client();
    let fields: Vec<String> = (0..128).map(|i| format!("field:{i}")).collect();
    let mut probe = fields.clone();
    probe.push("missing".into());
    for (i, f) in fields.iter().enumerate() {
        ok(&c, &format!("HSET h {f} v{i}"));
    }
    assert_eq!(encoding(&c, "h"), "listpack");
    let (_, calls) = full_scan(&c, "HSCAN", "h", "COUNT 1");
    assert_eq!(calls, 1, "a listpack is scanned in one call");
    let small = hash_view(&c, "h", &probe);

    // The 129th field converts; taking it away again changes nothing visible.
    ok(&c, "HSET h extra 1");
    assert_eq!(encoding(&c, "h"), "hashtable");
    let (_, calls) = full_scan(&c, "HSCAN", "h", "COUNT 10");
    assert!(calls > 1, "a table is scanned in steps");
    ok(&c, "HDEL h extra");
    assert_eq!(hash_view(&c, "h", &probe), small);

    // A value over 64 bytes converts too.
    ok(&c, "HSET g f 1");
    ok(&c, &format!("HSET g long {}", "x".repeat(64)));
    assert_eq!(encoding(&c, "g"), "listpack");
    let before = hash_view(&c, "g", &["f".into(), "long".into()]);
    ok(&c, &format!("HSET g long {}", "x".repeat(65)));
    assert_eq!(encoding(&c, "g"), "hashtable");
    ok(&c, &format!("HSET g long {}", "x".repeat(64)));
    assert_eq!(hash_view(&c, "g", &["f".into(), "long".into()]), before);
    // Counters work the same on both.
    assert_eq!(int(&c, "HINCRBY g f 41"), 42);
    assert_eq!(int(&c, "HINCRBY h counter 5"), 5);
}

#[test]
fn set_encodings_convert_at_the_thresholds_and_answer_the_same() {
    let c = client();
    let ints: Vec<String> = (0..512).map(|i| (i * 7 - 1000).to_string()).collect();
    let mut probe = ints.clone();
    probe.extend(["5".to_string(), "-1000".into(), "x".into(), "007".into()]);
    for chunk in ints.chunks(100) {
        let mut words = vec!["SADD".to_string(), "{s}i".to_string()];
        words.extend(chunk.iter().cloned());
        c.command(&words).unwrap();
    }
    assert_eq!(encoding(&c, "{s}i"), "intset");
    let members = strings(&ok(&c, "SMEMBERS {s}i"));
    let mut ascending = ints.clone();
    ascending.sort_by_key(|m| m.parse::<i64>().unwrap());
    assert_eq!(members, ascending, "an intset answers in ascending order");
    let small = set_view(&c, "{s}i", &probe);
    ok(&c, "SADD {s}i 100000");
    assert_eq!(encoding(&c, "{s}i"), "hashtable", "513 integers");
    ok(&c, "SREM {s}i 100000");
    assert_eq!(set_view(&c, "{s}i", &probe), small);
    assert_eq!(int(&c, "SINTERSTORE {s}copy {s}i {s}i"), 512);
    assert_eq!(encoding(&c, "{s}copy"), "intset", "a stored result takes the smallest encoding");

    // An intset with a string becomes a listpack while small, then a table.
    let words: Vec<String> = (0..128).map(|i| format!("m{i}")).collect();
    ok(&c, "SADD {s}p 100001 100002 100003");
    ok(&c, "SADD {s}p m0");
    assert_eq!(encoding(&c, "{s}p"), "listpack");
    for w in &words[1..125] {
        ok(&c, &format!("SADD {{s}}p {w}"));
    }
    assert_eq!(int(&c, "SCARD {s}p"), 128);
    assert_eq!(encoding(&c, "{s}p"), "listpack");
    let probe: Vec<String> = words.iter().cloned().chain(["100001".to_string(), "4".into()]).collect();
    let small = set_view(&c, "{s}p", &probe);
    ok(&c, "SADD {s}p one-more");
    assert_eq!(encoding(&c, "{s}p"), "hashtable");
    ok(&c, "SREM {s}p one-more");
    assert_eq!(set_view(&c, "{s}p", &probe), small);

    ok(&c, &format!("SADD {{s}}l a {}", "y".repeat(64)));
    assert_eq!(encoding(&c, "{s}l"), "listpack");
    ok(&c, &format!("SADD {{s}}l {}", "y".repeat(65)));
    assert_eq!(encoding(&c, "{s}l"), "hashtable");

    // Set algebra across encodings.
    assert_eq!(int(&c, "SINTERCARD 3 {s}i {s}p {s}l"), 0);
    assert_eq!(sorted(&ok(&c, "SINTER {s}i {s}p")), BTreeSet::new());
    ok(&c, "SADD {s}p -1000");
    assert_eq!(sorted(&ok(&c, "SINTER {s}p {s}i")), BTreeSet::from(["-1000".to_string()]));
    assert_eq!(int(&c, "SDIFFSTORE {s}d {s}i {s}p"), 511);
    assert_eq!(int(&c, "SUNIONSTORE {s}u {s}i {s}p {s}l"), 512 + 128 + 3);
}

#[test]
fn scans_return_every_stable_element_while_the_collection_changes() {
    let c = client();
    let stable: Vec<String> = (0..600).map(|i| format!("stable:{i}")).collect();
    for chunk in stable.chunks(100) {
        let mut h = vec!["HSET".to_string(), "h".into()];
        let mut s = vec!["SADD".to_string(), "s".into()];
        for m in chunk {
            h.extend([m.clone(), "v".into()]);
            s.push(m.clone());
        }
        c.command(&h).unwrap();
        c.command(&s).unwrap();
    }
    for (cmd, key, step) in [("HSCAN", "h", 2), ("SSCAN", "s", 1)] {
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let r = ok(&c, &format!("{cmd} {key} {cursor} COUNT 20"));
            let parts = r.as_array().unwrap();
            cursor = text(&parts[0]);
            seen.extend(strings(&parts[1]).into_iter().step_by(step));
            calls += 1;
            // Churn between calls: the table grows and shrinks under the cursor.
            let churn: Vec<String> = (0..400).map(|i| format!("churn:{calls}:{i}")).collect();
            if calls % 4 == 1 {
                c.command(&[&["SADD".to_string(), "s".into()][..], &churn].concat()).unwrap();
                let h: Vec<String> = churn.iter().flat_map(|m| [m.clone(), "x".into()]).collect();
                c.command(&[&["HSET".to_string(), "h".into()][..], &h].concat()).unwrap();
            } else if calls % 4 == 3 {
                let old: Vec<String> = (0..400).map(|i| format!("churn:{}:{i}", calls - 2)).collect();
                c.command(&[&["SREM".to_string(), "s".into()][..], &old].concat()).unwrap();
                c.command(&[&["HDEL".to_string(), "h".into()][..], &old].concat()).unwrap();
            }
            if cursor == "0" {
                break;
            }
        }
        for m in &stable {
            assert!(seen.contains(m), "{cmd} missed {m}");
        }
    }
}

#[test]
fn concurrent_writers_are_exact() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000;
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (c, barrier) = (cluster.client(), &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..ROUNDS {
                    let field = format!("f{}", i % 8);
                    if i % 2 == 0 {
                        c.hincr_by("{c}counters", &field, 1).unwrap();
                    } else {
                        c.command(&["HINCRBY", "{c}counters", &field, "1"]).unwrap();
                    }
                    let member = format!("t{t}:{i}");
                    c.sadd("{c}members", &[&member]).unwrap();
                    // Remove every third member again, some by command.
                    if i % 3 == 0 {
                        if i % 2 == 0 {
                            assert_eq!(c.srem("{c}members", &[&member]).unwrap(), 1);
                        } else {
                            assert_eq!(
                                c.command(&["SREM", "{c}members", &member]).unwrap(),
                                Reply::Int(1)
                            );
                        }
                    }
                    if i % 500 == 0 {
                        // Readers run alongside: a scan and the algebra see whole states.
                        c.command(&["SSCAN", "{c}members", "0"]).unwrap();
                        c.command(&["SINTERCARD", "1", "{c}members"]).unwrap();
                    }
                }
            });
        }
    });
    let c = cluster.client();
    let total: i64 = c
        .hgetall("{c}counters")
        .unwrap()
        .iter()
        .map(|(_, v)| std::str::from_utf8(v).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, (THREADS * ROUNDS) as i64);
    assert_eq!(c.hlen("{c}counters").unwrap(), 8);
    let kept: BTreeSet<String> = (0..THREADS)
        .flat_map(|t| (0..ROUNDS).filter(|i| i % 3 != 0).map(move |i| format!("t{t}:{i}")))
        .collect();
    let members: BTreeSet<String> =
        c.smembers("{c}members").unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect();
    assert_eq!(members, kept);
    assert_eq!(c.scard("{c}members").unwrap(), kept.len());
}
