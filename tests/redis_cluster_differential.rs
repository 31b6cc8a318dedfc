//! The same redis-rs commands through the in-process connection and through `ClusterClient`
//! on a real Redis Cluster (`SLOTSTORE_REDIS_CLUSTER`, see `.ci/redis-cluster.sh`), every reply
//! compared: values exactly (unordered replies sorted), errors by kind, code and text. Skipped
//! with a message when no cluster is named; a failure when `SLOTSTORE_REQUIRE_REDIS=1`.
#![cfg(feature = "redis")]

use slotstore::redis::{self, ConnectionLike, RedisResult, Value};
use slotstore::Cluster;

/// What a reply looks like for comparison.
#[derive(Debug, PartialEq)]
enum Seen {
    Value(Value),
    Error { kind: String, code: Option<String>, detail: Option<String> },
}

fn seen(r: RedisResult<Value>, unordered: bool) -> Seen {
    match r {
        Ok(Value::Array(mut items)) if unordered => {
            items.sort_by_key(|v| format!("{v:?}"));
            Seen::Value(Value::Array(items))
        }
        Ok(v) => Seen::Value(v),
        Err(e) => Seen::Error {
            kind: format!("{:?}", e.kind()),
            code: e.code().map(str::to_owned),
            detail: e.detail().map(str::to_owned),
        },
    }
}

/// The script: each command's words, and whether its reply is unordered.
fn script() -> Vec<(Vec<&'static str>, bool)> {
    let ordered = |w: &[&'static str]| (w.to_vec(), false);
    let unordered = |w: &[&'static str]| (w.to_vec(), true);
    vec![
        ordered(&["FLUSHALL"]),
        ordered(&["SET", "a", "1"]),
        ordered(&["SET", "b", "x", "NX"]),
        ordered(&["SET", "b", "y", "XX", "GET"]),
        ordered(&["GET", "a"]),
        ordered(&["GET", "nope"]),
        ordered(&["INCR", "a"]),
        ordered(&["INCR", "b"]),
        ordered(&["INCRBYFLOAT", "f", "1.1"]),
        ordered(&["INCRBYFLOAT", "f", "abc"]),
        ordered(&["APPEND", "b", "zz"]),
        ordered(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]),
        ordered(&["MGET", "d", "nope", "a", "c", "b"]),
        ordered(&["EXISTS", "a", "b", "nope", "a"]),
        ordered(&["TOUCH", "a", "b", "nope"]),
        ordered(&["DEL", "a", "nope", "b"]),
        ordered(&["UNLINK", "c", "d"]),
        ordered(&["MSET", "{t}a", "1", "{t}b"]),
        ordered(&["MGET"]),
        ordered(&["GET"]),
        ordered(&["NOSUCHCMD", "x"]),
        ordered(&["SET", "k", "v", "EX", "0"]),
        ordered(&["SET", "k", "v", "EX", "100"]),
        ordered(&["EXPIRE", "k", "50", "GT"]),
        ordered(&["PERSIST", "k"]),
        ordered(&["TTL", "k"]),
        ordered(&["TYPE", "k"]),
        ordered(&["RENAME", "k", "k2"]),
        ordered(&["RENAME", "{r}k", "{r}k2"]),
        ordered(&["LPUSH", "l", "a", "b", "c"]),
        ordered(&["LRANGE", "l", "0", "-1"]),
        ordered(&["LPOP", "l", "2"]),
        ordered(&["LPUSH", "k", "x"]),
        ordered(&["LINDEX", "l", "notanumber"]),
        ordered(&["RPOPLPUSH", "l", "l2"]),
        ordered(&["RPOPLPUSH", "{l}1", "{l}2"]),
        ordered(&["HSET", "h", "f", "1", "g", "2"]),
        ordered(&["HGETALL", "h"]),
        ordered(&["HINCRBY", "h", "f", "x"]),
        ordered(&["HMGET", "h", "f", "nope"]),
        ordered(&["HSET", "h", "f"]),
        ordered(&["SADD", "s", "a", "b", "c"]),
        unordered(&["SMEMBERS", "s"]),
        ordered(&["SADD", "s2", "c"]),
        ordered(&["SINTER", "s", "s2"]),
        ordered(&["SADD", "{s}1", "a", "b"]),
        ordered(&["SADD", "{s}2", "b"]),
        unordered(&["SUNION", "{s}1", "{s}2"]),
        ordered(&["SINTERCARD", "2", "{s}1", "{s}2"]),
        ordered(&["ZADD", "z", "1", "a", "2.5", "b"]),
        ordered(&["ZADD", "z", "x", "a"]),
        ordered(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ordered(&["ZSCORE", "z", "b"]),
        ordered(&["ZINCRBY", "z", "0.1", "b"]),
        ordered(&["ZRANGEBYSCORE", "z", "(1", "+inf"]),
        ordered(&["ZPOPMIN", "z"]),
        ordered(&["ZUNIONSTORE", "out", "2", "z", "s"]),
        ordered(&["BLPOP", "empty", "0.01"]),
        ordered(&["BLPOP", "empty", "nope"]),
        ordered(&["DBSIZE"]),
        unordered(&["KEYS", "*"]),
        ordered(&["PING"]),
        ordered(&["ECHO", "hi"]),
        ordered(&["CLUSTER", "KEYSLOT", "user:{42}"]),
        ordered(&["SCAN", "0"]),
        ordered(&["SET", "g", "hello"]),
        ordered(&["GETEX", "g", "PX", "100000"]),
        ordered(&["SETRANGE", "g", "-1", "x"]),
        ordered(&["GETDEL", "g"]),
        ordered(&["LPUSH", "{m}l", "a"]),
        ordered(&["LSET", "{m}l", "5", "x"]),
        ordered(&["LMOVE", "{m}l", "other", "LEFT", "LEFT"]),
        ordered(&["COPY", "{m}l", "{m}l2"]),
        ordered(&["COPY", "{m}l", "elsewhere"]),
        ordered(&["ZADD", "z", "NX", "XX", "1", "a"]),
        ordered(&["HINCRBYFLOAT", "h2", "f", "1.5"]),
        ordered(&["SPOP", "nope", "2"]),
        ordered(&["STRLEN", "nope"]),
        ordered(&["EXPIRETIME", "nope"]),
        ordered(&["DEL"]),
        ordered(&["MSET", "a"]),
        ordered(&["SMOVE", "s", "s2", "a"]),
        ordered(&["SDIFFSTORE", "{s}3", "{s}1", "{s}2"]),
        ordered(&["ZRANGESTORE", "z2", "z", "0", "-1"]),
        ordered(&["FLUSHALL"]),
        ordered(&["DBSIZE"]),
    ]
}

#[test]
fn in_process_replies_match_a_real_redis_cluster() {
    let Ok(seed) = std::env::var("SLOTSTORE_REDIS_CLUSTER") else {
        assert!(
            std::env::var("SLOTSTORE_REQUIRE_REDIS").as_deref() != Ok("1"),
            "SLOTSTORE_REQUIRE_REDIS=1 but SLOTSTORE_REDIS_CLUSTER is not set"
        );
        println!("redis-rs differential: skipped, SLOTSTORE_REDIS_CLUSTER is not set");
        return;
    };
    let real = redis::cluster::ClusterClient::new(vec![format!("redis://{seed}/")]).unwrap();
    let mut real = real.get_connection().unwrap();
    let cluster = Cluster::builder().primaries(3).replicas(1).build().unwrap();
    let mut local = cluster.redis_connection();
    let script = script();
    for (words, unordered) in &script {
        let mut cmd = redis::cmd(words[0]);
        for w in &words[1..] {
            cmd.arg(*w);
        }
        let want = seen(real.req_command(&cmd), *unordered);
        let got = seen(local.req_command(&cmd), *unordered);
        assert_eq!(got, want, "{words:?}");
    }
    println!("redis-rs differential: {} commands, every reply identical", script.len());
}
