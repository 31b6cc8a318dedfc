//! The conformance suite: written once, generic over the connection, run the same way against
//! slotstore in process (`cluster.redis_connection()`), a real Redis Cluster through redis-rs's
//! `ClusterClient`, and slotstore-server through `ClusterClient`. Every assertion goes through
//! [`Checks`], so each mode prints how many shared assertions it passed; the count is the same
//! in every mode (no assertion depends on the mode).
//!
//! The sync part runs on `redis::ConnectionLike`; pipelines and transactions run on
//! `redis::aio::ConnectionLike`, because redis-rs's sync cluster connection does not pipeline
//! (its async one does, on one slot). Faults are driven through `slotstore::admin`.

#![allow(dead_code)]

use redis::aio::ConnectionLike as AsyncConnectionLike;
use redis::{Commands, ConnectionLike, ErrorKind, RedisError, ServerErrorKind};
use slotstore::admin::ClusterAdmin;
use slotstore::{key_slot, redis};
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the suite runs against.
pub trait Target: Sync {
    /// A sync connection.
    type Con: ConnectionLike + Send;
    /// An async connection (tokio).
    type Async: AsyncConnectionLike + Send + 'static;
    /// The mode's name, printed with the count.
    fn name(&self) -> &'static str;
    /// A new sync connection.
    fn connect(&self) -> Self::Con;
    /// A new async connection, made on `rt`.
    fn connect_async(&self, rt: &tokio::runtime::Runtime) -> Self::Async;
    /// The control plane.
    fn admin(&self) -> &dyn ClusterAdmin;
}

/// Counts assertions; each one panics with its description when it fails.
#[derive(Default)]
pub struct Checks {
    n: AtomicUsize,
}

impl Checks {
    pub fn eq<T: PartialEq + Debug>(&self, got: T, want: T, what: &str) {
        assert_eq!(got, want, "{what}");
        self.n.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ok(&self, cond: bool, what: &str) {
        assert!(cond, "{what}");
        self.n.fetch_add(1, Ordering::Relaxed);
    }

    /// `err` is a server error with `code` (and, for the codes redis-rs knows, that kind).
    pub fn error(&self, err: &RedisError, code: &str, what: &str) {
        assert_eq!(err.code(), Some(code), "{what}: {err:?}");
        if let Some(kind) = known_kind(code) {
            assert_eq!(err.kind(), ErrorKind::Server(kind), "{what}: {err:?}");
        }
        self.n.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> usize {
        self.n.load(Ordering::Relaxed)
    }
}

fn known_kind(code: &str) -> Option<ServerErrorKind> {
    Some(match code {
        "ERR" => ServerErrorKind::ResponseError,
        "CROSSSLOT" => ServerErrorKind::CrossSlot,
        "EXECABORT" => ServerErrorKind::ExecAbort,
        "MOVED" => ServerErrorKind::Moved,
        "ASK" => ServerErrorKind::Ask,
        "TRYAGAIN" => ServerErrorKind::TryAgain,
        "CLUSTERDOWN" => ServerErrorKind::ClusterDown,
        _ => return None,
    })
}

/// Runs every section against `t` and returns the number of assertions that passed.
pub fn run_all<T: Target>(t: &T) -> usize {
    let c = Checks::default();
    let mut con = t.connect();
    let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("FLUSHALL");
    strings(&c, &mut con);
    lists(&c, &mut con);
    hashes(&c, &mut con);
    sets(&c, &mut con);
    zsets(&c, &mut con);
    ttl(&c, &mut con);
    tags_and_cross_slot(&c, &mut con);
    keyspace(&c, &mut con);
    blocking(&c, t, &mut con);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut acon = t.connect_async(&rt);
    rt.block_on(pipelines_and_transactions(&c, &mut acon));
    let (waiter, pusher) = (t.connect_async(&rt), t.connect_async(&rt));
    rt.block_on(async_blocking(&c, waiter, pusher));
    pubsub(&c);
    reshard_during_writes(&c, t);
    failover_during_writes(&c, t);
    let n = c.count();
    println!("conformance [{}]: {n} shared assertions passed", t.name());
    n
}

fn strings<C: ConnectionLike>(c: &Checks, con: &mut C) {
    let _: () = con.set("s:a", "hello").unwrap();
    c.eq(con.get::<_, String>("s:a").unwrap(), "hello".into(), "GET after SET");
    c.eq(con.get::<_, Option<String>>("s:missing").unwrap(), None, "GET missing");
    c.eq(con.append::<_, _, i64>("s:a", " world").unwrap(), 11, "APPEND length");
    c.eq(con.strlen::<_, i64>("s:a").unwrap(), 11, "STRLEN");
    c.eq(con.getrange::<_, String>("s:a", 0, 4).unwrap(), "hello".into(), "GETRANGE");
    c.eq(con.setrange::<_, _, i64>("s:a", 6, "WORLD").unwrap(), 11, "SETRANGE");
    c.eq(con.get::<_, String>("s:a").unwrap(), "hello WORLD".into(), "GET after SETRANGE");
    let nx: Option<String> = redis::cmd("SET").arg("s:a").arg("x").arg("NX").query(con).unwrap();
    c.eq(nx, None, "SET NX on an existing key");
    let xx: String = redis::cmd("SET").arg("s:a").arg("y").arg("XX").arg("GET").query(con).unwrap();
    c.eq(xx, "hello WORLD".into(), "SET XX GET returns the old value");
    c.eq(con.incr::<_, _, i64>("s:n", 5).unwrap(), 5, "INCRBY on a missing key");
    c.eq(con.decr::<_, _, i64>("s:n", 2).unwrap(), 3, "DECRBY");
    c.eq(con.incr::<_, _, f64>("s:f", 1.5).unwrap(), 1.5, "INCRBYFLOAT");
    c.eq(con.incr::<_, _, String>("s:f", 2.0).unwrap(), "3.5".into(), "INCRBYFLOAT's text");
    let err = con.incr::<_, _, i64>("s:a", 1).unwrap_err();
    c.error(&err, "ERR", "INCR on a non-integer");
    c.eq(err.detail(), Some("value is not an integer or out of range"), "INCR error text");
    let err = con.lpush::<_, _, i64>("s:a", "x").unwrap_err();
    c.error(&err, "WRONGTYPE", "LPUSH on a string");
    c.eq(con.get_del::<_, String>("s:a").unwrap(), "y".into(), "GETDEL");
    c.eq(con.exists::<_, bool>("s:a").unwrap(), false, "GETDEL deleted");
    let err = redis::cmd("NOSUCHCOMMAND").query::<()>(con).unwrap_err();
    c.error(&err, "ERR", "unknown command");
    let err = redis::cmd("GET").query::<()>(con).unwrap_err();
    c.ok(err.code().is_some() || err.kind() == ErrorKind::Client, "GET without a key is refused");
}

fn lists<C: ConnectionLike>(c: &Checks, con: &mut C) {
    c.eq(con.rpush::<_, _, i64>("l:{q}", &["a", "b", "c"]).unwrap(), 3, "RPUSH");
    c.eq(con.lpush::<_, _, i64>("l:{q}", "z").unwrap(), 4, "LPUSH");
    c.eq(con.lrange::<_, Vec<String>>("l:{q}", 0, -1).unwrap(), s(&["z", "a", "b", "c"]), "LRANGE");
    c.eq(con.llen::<_, i64>("l:{q}").unwrap(), 4, "LLEN");
    c.eq(con.lindex::<_, String>("l:{q}", -1).unwrap(), "c".into(), "LINDEX");
    let _: () = con.lset("l:{q}", 1, "A").unwrap();
    c.eq(
        con.lpop::<_, Vec<String>>("l:{q}", std::num::NonZeroUsize::new(2)).unwrap(),
        s(&["z", "A"]),
        "LPOP count",
    );
    c.eq(con.rpop::<_, String>("l:{q}", None).unwrap(), "c".into(), "RPOP");
    let moved: String =
        redis::cmd("LMOVE").arg("l:{q}").arg("l2:{q}").arg("LEFT").arg("RIGHT").query(con).unwrap();
    c.eq(moved, "b".into(), "LMOVE within a tag");
    c.eq(con.exists::<_, bool>("l:{q}").unwrap(), false, "an emptied list is gone");
    let _: i64 = con.rpush("l:{q}", &["x", "y", "x", "z", "x"]).unwrap();
    c.eq(con.lrem::<_, _, i64>("l:{q}", 2, "x").unwrap(), 2, "LREM count");
    let _: () = con.ltrim("l:{q}", 0, 1).unwrap();
    c.eq(con.lrange::<_, Vec<String>>("l:{q}", 0, -1).unwrap(), s(&["y", "z"]), "LTRIM");
    c.eq(con.linsert_before::<_, _, _, i64>("l:{q}", "z", "m").unwrap(), 3, "LINSERT");
    let pos: Option<i64> = redis::cmd("LPOS").arg("l:{q}").arg("z").query(con).unwrap();
    c.eq(pos, Some(2), "LPOS");
    let err =
        con.set::<_, _, ()>("l:{q}", 1).and_then(|_| con.lpush::<_, _, i64>("l:{q}", 1)).unwrap_err();
    c.error(&err, "WRONGTYPE", "LPUSH after SET replaced the list");
}

fn hashes<C: ConnectionLike>(c: &Checks, con: &mut C) {
    let pairs: Result<(), _> = con.hset_multiple("h", &[("f1", "1"), ("f2", "2")]);
    c.ok(pairs.is_ok(), "HSET pairs");
    c.eq(con.hset::<_, _, _, i64>("h", "f3", "x").unwrap(), 1, "HSET new field");
    c.eq(con.hget::<_, _, String>("h", "f1").unwrap(), "1".into(), "HGET");
    c.eq(con.hget::<_, _, Option<String>>("h", "nope").unwrap(), None, "HGET missing field");
    let all: HashMap<String, String> = con.hgetall("h").unwrap();
    let want: HashMap<String, String> = [("f1", "1"), ("f2", "2"), ("f3", "x")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    c.eq(all, want, "HGETALL");
    c.eq(con.hincr::<_, _, _, i64>("h", "f1", 10).unwrap(), 11, "HINCRBY");
    c.eq(con.hincr::<_, _, _, f64>("h", "f2", 0.5).unwrap(), 2.5, "HINCRBYFLOAT");
    c.eq(con.hexists::<_, _, bool>("h", "f3").unwrap(), true, "HEXISTS");
    c.eq(con.hdel::<_, _, i64>("h", &["f3", "zz"]).unwrap(), 1, "HDEL");
    c.eq(con.hlen::<_, i64>("h").unwrap(), 2, "HLEN");
    let mut keys: Vec<String> = con.hkeys("h").unwrap();
    keys.sort();
    c.eq(keys, s(&["f1", "f2"]), "HKEYS");
    let vals: Vec<Option<String>> = redis::cmd("HMGET").arg("h").arg("f1").arg("no").query(con).unwrap();
    c.eq(vals, vec![Some("11".into()), None], "HMGET");
    c.eq(con.hset_nx::<_, _, _, bool>("h", "f1", "0").unwrap(), false, "HSETNX existing");
    let err = con.hincr::<_, _, _, i64>("h", "f2", 1).unwrap_err();
    c.error(&err, "ERR", "HINCRBY on a float field");
}

fn sets<C: ConnectionLike>(c: &Checks, con: &mut C) {
    c.eq(con.sadd::<_, _, i64>("set:{g}1", &["a", "b", "c"]).unwrap(), 3, "SADD");
    c.eq(con.sadd::<_, _, i64>("set:{g}1", "a").unwrap(), 0, "SADD existing");
    let _: i64 = con.sadd("set:{g}2", &["b", "c", "d"]).unwrap();
    c.eq(con.scard::<_, i64>("set:{g}1").unwrap(), 3, "SCARD");
    c.eq(con.sismember::<_, _, bool>("set:{g}1", "b").unwrap(), true, "SISMEMBER");
    c.eq(sorted(con.smembers("set:{g}1").unwrap()), s(&["a", "b", "c"]), "SMEMBERS");
    c.eq(sorted(con.sinter(&["set:{g}1", "set:{g}2"]).unwrap()), s(&["b", "c"]), "SINTER");
    c.eq(sorted(con.sunion(&["set:{g}1", "set:{g}2"]).unwrap()), s(&["a", "b", "c", "d"]), "SUNION");
    c.eq(sorted(con.sdiff(&["set:{g}1", "set:{g}2"]).unwrap()), s(&["a"]), "SDIFF");
    c.eq(con.sinterstore::<_, _, i64>("set:{g}3", &["set:{g}1", "set:{g}2"]).unwrap(), 2, "SINTERSTORE");
    c.eq(con.smove::<_, _, _, bool>("set:{g}1", "set:{g}2", "a").unwrap(), true, "SMOVE");
    c.eq(con.srem::<_, _, i64>("set:{g}2", &["a", "b"]).unwrap(), 2, "SREM");
    let mi: Vec<bool> = redis::cmd("SMISMEMBER").arg("set:{g}2").arg("c").arg("a").query(con).unwrap();
    c.eq(mi, vec![true, false], "SMISMEMBER");
}

fn zsets<C: ConnectionLike>(c: &Checks, con: &mut C) {
    c.eq(
        con.zadd_multiple::<_, _, _, i64>("z:{r}", &[(1.5, "a"), (2.0, "b"), (3.0, "c")]).unwrap(),
        3,
        "ZADD",
    );
    c.eq(con.zscore::<_, _, f64>("z:{r}", "a").unwrap(), 1.5, "ZSCORE");
    c.eq(con.zscore::<_, _, String>("z:{r}", "a").unwrap(), "1.5".into(), "ZSCORE text");
    c.eq(
        con.zincr::<_, _, _, String>("z:{r}", "a", 0.1).unwrap(),
        "1.6000000000000001".into(),
        "ZINCRBY %.17g",
    );
    let ws: Vec<(String, f64)> = con.zrange_withscores("z:{r}", 0, -1).unwrap();
    c.eq(ws, vec![("a".into(), 0.1 + 1.5), ("b".into(), 2.0), ("c".into(), 3.0)], "ZRANGE WITHSCORES");
    c.eq(con.zrank::<_, _, i64>("z:{r}", "c").unwrap(), 2, "ZRANK");
    c.eq(con.zcount::<_, _, _, i64>("z:{r}", 2, "+inf").unwrap(), 2, "ZCOUNT");
    c.eq(
        con.zrangebyscore::<_, _, _, Vec<String>>("z:{r}", "(1.6", 3).unwrap(),
        s(&["b", "c"]),
        "ZRANGEBYSCORE",
    );
    c.eq(con.zrem::<_, _, i64>("z:{r}", "b").unwrap(), 1, "ZREM");
    c.eq(con.zcard::<_, i64>("z:{r}").unwrap(), 2, "ZCARD");
    let popped: Vec<(String, f64)> = con.zpopmin("z:{r}", 1).unwrap();
    c.eq(popped, vec![("a".into(), 0.1 + 1.5)], "ZPOPMIN");
    let _: i64 = con.zadd("z2:{r}", "c", 10).unwrap();
    let n: i64 =
        redis::cmd("ZUNIONSTORE").arg("z3:{r}").arg(2).arg("z:{r}").arg("z2:{r}").query(con).unwrap();
    c.eq(n, 1, "ZUNIONSTORE within a tag");
    c.eq(con.zscore::<_, _, f64>("z3:{r}", "c").unwrap(), 13.0, "ZUNIONSTORE sums");
}

fn ttl<C: ConnectionLike>(c: &Checks, con: &mut C) {
    let _: () = con.set_ex("t:a", "v", 100).unwrap();
    let left: i64 = con.ttl("t:a").unwrap();
    c.ok((95..=100).contains(&left), "TTL after SET EX 100");
    c.eq(con.ttl::<_, i64>("t:missing").unwrap(), -2, "TTL of a missing key");
    let _: () = con.set("t:b", "v").unwrap();
    c.eq(con.ttl::<_, i64>("t:b").unwrap(), -1, "TTL without expiry");
    c.eq(con.pexpire::<_, bool>("t:b", 50_000).unwrap(), true, "PEXPIRE");
    let p: i64 = con.pttl("t:b").unwrap();
    c.ok((45_000..=50_000).contains(&p), "PTTL after PEXPIRE");
    c.eq(con.persist::<_, bool>("t:b").unwrap(), true, "PERSIST");
    c.eq(con.ttl::<_, i64>("t:b").unwrap(), -1, "TTL after PERSIST");
    let nx: bool = redis::cmd("EXPIRE").arg("t:a").arg(10).arg("NX").query(con).unwrap();
    c.eq(nx, false, "EXPIRE NX on a volatile key");
    let _: () = con.pset_ex("t:c", "v", 30).unwrap();
    let gone =
        wait_until(Duration::from_secs(5), || con.get::<_, Option<String>>("t:c").unwrap().is_none());
    c.ok(gone, "a key with PX 30 expires");
    c.eq(con.exists::<_, bool>("t:c").unwrap(), false, "EXISTS after expiry");
}

fn tags_and_cross_slot<C: ConnectionLike>(c: &Checks, con: &mut C) {
    let slot: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg("foo").query(con).unwrap();
    c.eq(slot, 12182, "CLUSTER KEYSLOT");
    let tagged: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg("user:{42}:name").query(con).unwrap();
    c.eq(tagged as u16, key_slot("{42}"), "a hash tag picks the slot");
    // Split by slot on both sides: one command per slot, replies merged.
    let keys = ["x:a", "x:b", "x:c", "x:d"];
    c.ok(keys.iter().map(key_slot).collect::<HashSet<_>>().len() > 1, "the keys span slots");
    let _: () = con.mset(&[("x:a", "1"), ("x:b", "2"), ("x:c", "3")]).unwrap();
    let vals: Vec<Option<String>> = con.mget(&keys).unwrap();
    c.eq(
        vals,
        vec![Some("1".into()), Some("2".into()), Some("3".into()), None],
        "cross-slot MGET in key order",
    );
    c.eq(con.exists::<_, i64>(&keys).unwrap(), 3, "cross-slot EXISTS sums");
    c.eq(redis::cmd("TOUCH").arg(&keys).query::<i64>(con).unwrap(), 3, "cross-slot TOUCH sums");
    c.eq(con.del::<_, i64>(&["x:a", "x:b"]).unwrap(), 2, "cross-slot DEL sums");
    c.eq(con.unlink::<_, i64>(&["x:c", "x:d"]).unwrap(), 1, "cross-slot UNLINK sums");
    // Same tag: one slot, one command.
    let _: () = con.mset(&[("{u}a", "1"), ("{u}b", "2")]).unwrap();
    c.eq(con.mget::<_, Vec<String>>(&["{u}a", "{u}b"]).unwrap(), s(&["1", "2"]), "MGET within a tag");
    // Refused across slots on both sides.
    let _: i64 = con.sadd("cs:a", "1").unwrap();
    let _: i64 = con.sadd("cs:b", "2").unwrap();
    let err = con.sunion::<_, Vec<String>>(&["cs:a", "cs:b"]).unwrap_err();
    c.error(&err, "CROSSSLOT", "SUNION across slots");
    c.eq(err.detail(), Some("Keys in request don't hash to the same slot"), "CROSSSLOT text");
    let err = con.rename::<_, _, ()>("cs:a", "cs:c").unwrap_err();
    c.error(&err, "CROSSSLOT", "RENAME across slots");
    let err = redis::cmd("LMOVE")
        .arg("cs:l1")
        .arg("cs:l2")
        .arg("LEFT")
        .arg("LEFT")
        .query::<Option<String>>(con);
    c.error(&err.unwrap_err(), "CROSSSLOT", "LMOVE across slots");
    let err = con.sinterstore::<_, _, i64>("cs:d", &["cs:a", "cs:b"]).unwrap_err();
    c.error(&err, "CROSSSLOT", "SINTERSTORE across slots");
    c.eq(con.exists::<_, bool>("cs:c").unwrap(), false, "a refused RENAME changed nothing");
    // SORT in a cluster: no option that reads other keys, STORE within the slot only.
    let _: i64 = con.rpush("{srt}l", &["3", "1", "2"]).unwrap();
    let err = redis::cmd("SORT").arg("{srt}l").arg("BY").arg("w_*").query::<Vec<String>>(con);
    c.eq(
        err.unwrap_err().detail(),
        Some("BY option of SORT denied in Cluster mode."),
        "SORT BY a pattern is refused",
    );
    let err = redis::cmd("SORT_RO").arg("{srt}l").arg("GET").arg("#").query::<Vec<String>>(con);
    c.eq(err.unwrap_err().detail(), Some("GET option of SORT denied in Cluster mode."), "SORT GET");
    let err = redis::cmd("SORT").arg("{srt}l").arg("STORE").arg("cs:d").query::<i64>(con);
    c.error(&err.unwrap_err(), "CROSSSLOT", "SORT STORE across slots");
    let sorted: Vec<String> = redis::cmd("SORT").arg("{srt}l").arg("DESC").query(con).unwrap();
    c.eq(sorted, s(&["3", "2", "1"]), "SORT DESC");
    let n: i64 = redis::cmd("SORT")
        .arg("{srt}l")
        .arg("BY")
        .arg("x")
        .arg("STORE")
        .arg("{srt}d")
        .query(con)
        .unwrap();
    c.eq(n, 3, "SORT BY a constant STORE");
    c.eq(con.lrange::<_, Vec<String>>("{srt}d", 0, -1).unwrap(), s(&["3", "1", "2"]), "in list order");
    let err = redis::cmd("MOVE").arg("{srt}l").arg(1).query::<i64>(con).unwrap_err();
    c.eq(err.detail(), Some("MOVE is not allowed in cluster mode"), "MOVE is refused");
    let _: () = con.set("{srt}a", "ohmytext").unwrap();
    let _: () = con.set("{srt}b", "mynewtext").unwrap();
    let lcs: String = redis::cmd("LCS").arg("{srt}a").arg("{srt}b").query(con).unwrap();
    c.eq(lcs, "mytext".into(), "LCS");
    let err = redis::cmd("LCS").arg("{srt}a").arg("cs:a").query::<String>(con).unwrap_err();
    c.error(&err, "CROSSSLOT", "LCS across slots");
}

fn keyspace<C: ConnectionLike>(c: &Checks, con: &mut C) {
    let _: () = redis::cmd("FLUSHALL").query(con).unwrap();
    c.eq(redis::cmd("DBSIZE").query::<i64>(con).unwrap(), 0, "DBSIZE after FLUSHALL");
    let pairs: Vec<(String, i64)> = (0..50).map(|i| (format!("ks:{i}"), i)).collect();
    let _: () = con.mset(&pairs).unwrap();
    c.eq(redis::cmd("DBSIZE").query::<i64>(con).unwrap(), 50, "DBSIZE sums every primary");
    let keys: Vec<String> = con.keys("ks:1*").unwrap();
    let want: Vec<String> =
        (0..50).map(|i| format!("ks:{i}")).filter(|k| k.starts_with("ks:1")).collect();
    c.eq(sorted(keys), sorted(want), "KEYS combines every primary");
    c.eq(redis::cmd("PING").query::<String>(con).unwrap(), "PONG".into(), "PING");
    let info: HashMap<String, String> = redis::cmd("INFO").arg("server").query(con).unwrap();
    c.eq(info.len(), 3, "INFO answers per primary");
    c.ok(info.values().all(|text| text.contains("# Server")), "INFO server section");
    c.eq(redis::cmd("TYPE").arg("ks:1").query::<String>(con).unwrap(), "string".into(), "TYPE");
    let err = redis::cmd("SCAN").arg(0).query::<(u64, Vec<String>)>(con).unwrap_err();
    c.eq(err.kind(), ErrorKind::Client, "SCAN cannot be routed by a cluster connection");
    let _: () = redis::cmd("FLUSHALL").query(con).unwrap();
    c.eq(redis::cmd("DBSIZE").query::<i64>(con).unwrap(), 0, "FLUSHALL reaches every primary");
}

fn blocking<T: Target>(c: &Checks, t: &T, con: &mut T::Con) {
    let start = Instant::now();
    let r: Option<(String, String)> = con.blpop("b:{q}", 0.1).unwrap();
    c.eq(r, None, "BLPOP on an empty list times out with nil");
    c.ok(start.elapsed() >= Duration::from_millis(80), "BLPOP waited for its timeout");
    let _: i64 = con.rpush("b:{q}", "now").unwrap();
    let r: Option<(String, String)> = con.blpop("b:{q}", 1.0).unwrap();
    c.eq(r, Some(("b:{q}".into(), "now".into())), "BLPOP with data answers at once");
    // Woken by another connection's push.
    let start = Instant::now();
    let got = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let mut mine = t.connect();
            mine.brpop::<_, Option<(String, String)>>("b:{q}2", 5.0).unwrap()
        });
        let mut pusher = t.connect();
        let _: i64 = pusher.lpush("b:{q}2", "late").unwrap();
        waiter.join().unwrap()
    });
    c.eq(got, Some(("b:{q}2".into(), "late".into())), "BRPOP woken by another connection's LPUSH");
    c.ok(start.elapsed() < Duration::from_secs(5), "BRPOP returned before its timeout");
    let _: i64 = con.rpush("b:{q}3", &["1", "2"]).unwrap();
    let moved: String = redis::cmd("BLMOVE")
        .arg("b:{q}3")
        .arg("b:{q}4")
        .arg("RIGHT")
        .arg("LEFT")
        .arg(1)
        .query(con)
        .unwrap();
    c.eq(moved, "2".into(), "BLMOVE within a tag");
    let _: i64 = con.zadd("bz:{q}", "m", 4).unwrap();
    let z: Option<(String, String, f64)> =
        redis::cmd("BZPOPMIN").arg("bz:{q}").arg(1).query(con).unwrap();
    c.eq(z, Some(("bz:{q}".into(), "m".into(), 4.0)), "BZPOPMIN");
}

async fn pipelines_and_transactions<A: AsyncConnectionLike + Send>(c: &Checks, con: &mut A) {
    // A pipeline on one slot, not atomic.
    let (a, b, n): (String, Option<String>, i64) = redis::pipe()
        .set("p:{t}a", "1")
        .ignore()
        .get("p:{t}a")
        .get("p:{t}missing")
        .incr("p:{t}n", 3)
        .query_async(con)
        .await
        .unwrap();
    c.eq((a, b, n), ("1".into(), None, 3), "pipeline on one slot");
    // Atomic: MULTI/EXEC on one slot.
    let (x, y, z): (i64, i64, String) = redis::pipe()
        .atomic()
        .incr("p:{t}c", 1)
        .incr("p:{t}c", 1)
        .get("p:{t}a")
        .query_async(con)
        .await
        .unwrap();
    c.eq((x, y, z), (1, 2, "1".into()), "atomic pipeline");
    // An error inside EXEC is that command's reply; the others ran.
    let err = redis::pipe()
        .atomic()
        .incr("p:{t}c", 1)
        .lpush("p:{t}a", "x")
        .query_async::<(i64, i64)>(con)
        .await
        .unwrap_err();
    let failed: Vec<(usize, String)> =
        err.into_server_errors().unwrap().iter().map(|(i, e)| (*i, e.code().to_owned())).collect();
    c.eq(
        failed,
        vec![(1, "WRONGTYPE".to_owned())],
        "a failing command inside EXEC is that command's error",
    );
    let cval: i64 = redis::cmd("GET").arg("p:{t}c").query_async(con).await.unwrap();
    c.eq(cval, 3, "the rest of the transaction ran");
    // A command refused while queueing aborts the transaction: nothing runs.
    let err = redis::pipe()
        .atomic()
        .incr("p:{t}c", 1)
        .cmd("GET")
        .query_async::<(i64, String)>(con)
        .await
        .unwrap_err();
    c.eq(err.kind(), ErrorKind::Server(ServerErrorKind::ExecAbort), "EXECABORT after a refused command");
    let cval: i64 = redis::cmd("GET").arg("p:{t}c").query_async(con).await.unwrap();
    c.eq(cval, 3, "an aborted transaction ran nothing");
    // Keys in two slots: refused before anything runs.
    let err = redis::pipe()
        .set("p:one", "1")
        .set("p:two", "2")
        .query_async::<((), ())>(con)
        .await
        .unwrap_err();
    c.eq(err.kind(), ErrorKind::Server(ServerErrorKind::CrossSlot), "a pipeline across slots");
    let exists: i64 = redis::cmd("EXISTS").arg("p:one").arg("p:two").query_async(con).await.unwrap();
    c.eq(exists, 0, "a refused pipeline ran nothing");
    // Single commands, async.
    let _: () = redis::cmd("MSET").arg("p:a").arg(1).arg("p:b").arg(2).query_async(con).await.unwrap();
    let v: Vec<i64> = redis::cmd("MGET").arg("p:a").arg("p:b").query_async(con).await.unwrap();
    c.eq(v, vec![1, 2], "async cross-slot MSET/MGET");
    let err =
        redis::cmd("SUNION").arg("p:a").arg("p:b").query_async::<Vec<String>>(con).await.unwrap_err();
    c.error(&err, "CROSSSLOT", "async CROSSSLOT");
}

async fn async_blocking<A: AsyncConnectionLike + Send + 'static>(
    c: &Checks,
    mut waiter: A,
    mut pusher: A,
) {
    let start = Instant::now();
    let wait = tokio::spawn(async move {
        redis::cmd("BLPOP")
            .arg("ab:{q}")
            .arg(5)
            .query_async::<Option<(String, String)>>(&mut waiter)
            .await
            .unwrap()
    });
    // The runtime keeps running other tasks while BLPOP waits.
    let n: i64 = redis::cmd("RPUSH").arg("ab:{q}").arg("v").query_async(&mut pusher).await.unwrap();
    c.eq(n >= 0, true, "RPUSH while another task blocks");
    let got = wait.await.unwrap();
    c.eq(got, Some(("ab:{q}".into(), "v".into())), "async BLPOP woken by another task");
    c.ok(start.elapsed() < Duration::from_secs(5), "async BLPOP returned before its timeout");
}

fn pubsub(_c: &Checks) {
    println!("conformance: pub/sub skipped (not in this build yet)");
}

/// Keys written with acknowledgement while the control plane moves the slot or fails the
/// shard over; afterwards every acknowledged write must read back.
fn writes_during<T: Target>(t: &T, tag: &str, fault: impl FnOnce()) -> (usize, Vec<String>) {
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    let started = AtomicUsize::new(0);
    let mut errors = Vec::new();
    /// Stops the writer even if the fault panics, so the scope can end.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    std::thread::scope(|scope| {
        let _stop = StopOnDrop(&stop);
        let writer = scope.spawn(|| {
            let mut con = t.connect();
            let mut errors = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Acquire) {
                let key = format!("{{{tag}}}:{i}");
                match con.set::<_, _, ()>(&key, i) {
                    Ok(()) => acked.lock().unwrap().push(key),
                    Err(e) => errors.push(format!("{key}: {e}")),
                }
                started.fetch_add(1, Ordering::Release);
                i += 1;
            }
            errors
        });
        // The fault starts once writes flow and ends with writes still flowing after it.
        wait_until(Duration::from_secs(10), || started.load(Ordering::Acquire) >= 20);
        fault();
        let after = started.load(Ordering::Acquire);
        wait_until(Duration::from_secs(30), || started.load(Ordering::Acquire) >= after + 20);
        stop.store(true, Ordering::Release);
        errors = writer.join().unwrap();
    });
    let acked = acked.into_inner().unwrap();
    (acked.len(), {
        let mut con = t.connect();
        acked
            .iter()
            .filter(|k| {
                let i: usize = k.rsplit(':').next().unwrap().parse().unwrap();
                con.get::<_, Option<usize>>(k.as_str()).unwrap() != Some(i)
            })
            .cloned()
            .chain(errors)
            .collect()
    })
}

fn reshard_during_writes<T: Target>(c: &Checks, t: &T) {
    let admin = t.admin();
    let tag = "mv";
    let slot = key_slot(format!("{{{tag}}}"));
    let layout = admin.topology().unwrap();
    let from = layout.owner(slot).expect("slot served").primary.id.clone();
    let to =
        layout.shards.iter().find(|s| s.primary.id != from).expect("another primary").primary.id.clone();
    let (acked, lost) = writes_during(t, tag, || admin.move_slot(slot, &to).unwrap());
    c.ok(acked >= 40, "writes were acknowledged around the move");
    c.eq(lost, Vec::<String>::new(), "no acknowledged write lost or failed while the slot moved");
    c.eq(
        admin.topology().unwrap().owner(slot).map(|s| s.primary.id.clone()),
        Some(to),
        "the target owns the slot",
    );
}

fn failover_during_writes<T: Target>(c: &Checks, t: &T) {
    let admin = t.admin();
    let tag = "fo";
    let slot = key_slot(format!("{{{tag}}}"));
    let layout = admin.topology().unwrap();
    let shard = layout.owner(slot).expect("slot served").clone();
    c.ok(!shard.replicas.is_empty(), "the shard has a replica");
    let mut promoted = String::new();
    let (acked, lost) = writes_during(t, tag, || promoted = admin.failover(&shard.primary.id).unwrap());
    c.ok(acked >= 40, "writes were acknowledged around the failover");
    c.eq(lost, Vec::<String>::new(), "no acknowledged write lost or failed in the failover");
    c.ok(shard.replicas.iter().any(|r| r.id == promoted), "a replica of the shard was promoted");
    let after = admin.topology().unwrap();
    c.eq(
        after.owner(slot).map(|s| s.primary.id.clone()),
        Some(promoted),
        "the promoted replica serves the slot",
    );
}

/// Polls `f` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|x| x.to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
