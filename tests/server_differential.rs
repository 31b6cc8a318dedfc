//! Byte-level differential of the server: the same request bytes (multibulk and inline,
//! pipelined) to redis-server 7.0 (the oracle named by SLOTSTORE_REDIS_ADDR, as
//! tests/differential_redis.rs uses it) and to slotstore-server (one primary owning every
//! slot, so no redirect), raw replies compared byte for byte, in RESP2 and in RESP3.
//!
//! Keys live under the tag `{bdiff}` and are deleted before and after; nothing else is
//! touched, so this runs beside the other differential tests against one server.
#![cfg(feature = "server")]

mod common;

use slotstore::{Cluster, ServerConfig};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Reads exactly one RESP reply (any type, nested) and returns its raw bytes.
fn read_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<u8> {
    fn fill(s: &mut TcpStream, buf: &mut Vec<u8>, need: usize) {
        let mut chunk = [0u8; 4096];
        while buf.len() < need {
            let n = s.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed early");
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    fn line_end(s: &mut TcpStream, buf: &mut Vec<u8>, from: usize) -> usize {
        loop {
            if let Some(i) = buf[from..].windows(2).position(|w| w == b"\r\n") {
                return from + i + 2;
            }
            let len = buf.len();
            fill(s, buf, len + 1);
        }
    }
    fn one(s: &mut TcpStream, buf: &mut Vec<u8>, at: usize) -> usize {
        fill(s, buf, at + 1);
        let end = line_end(s, buf, at);
        let n: i64 =
            std::str::from_utf8(&buf[at + 1..end - 2]).ok().and_then(|t| t.parse().ok()).unwrap_or(0);
        match buf[at] {
            b'$' | b'=' | b'!' if n >= 0 => {
                fill(s, buf, end + n as usize + 2);
                end + n as usize + 2
            }
            b'*' | b'~' | b'>' if n > 0 => (0..n).fold(end, |p, _| one(s, buf, p)),
            b'%' | b'|' if n > 0 => (0..2 * n).fold(end, |p, _| one(s, buf, p)),
            _ => end,
        }
    }
    let end = one(s, buf, 0);
    buf.drain(..end).collect()
}

fn bulk_cmd(words: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The requests: multibulk unless given as an inline line (ending in "\r\n").
fn requests() -> Vec<Vec<u8>> {
    let words: &[&[&[u8]]] = &[
        &[
            b"DEL",
            b"{bdiff}s",
            b"{bdiff}l",
            b"{bdiff}h",
            b"{bdiff}z",
            b"{bdiff}set",
            b"{bdiff}n",
            b"{bdiff}e",
            b"{bdiff}bin",
            b"{bdiff}x",
            b"{bdiff}geo",
            b"{bdiff}s1",
            b"{bdiff}s2",
        ],
        &[b"SET", b"{bdiff}s", b"hello"],
        &[b"GET", b"{bdiff}s"],
        &[b"GET", b"{bdiff}missing"],
        &[b"APPEND", b"{bdiff}s", b" world"],
        &[b"STRLEN", b"{bdiff}s"],
        &[b"GETRANGE", b"{bdiff}s", b"0", b"4"],
        &[b"INCR", b"{bdiff}n"],
        &[b"INCRBY", b"{bdiff}n", b"-10"],
        &[b"INCR", b"{bdiff}s"],
        &[b"SET", b"{bdiff}e", b""],
        &[b"GET", b"{bdiff}e"],
        &[b"SET", b"{bdiff}bin", b"a\r\nb\x00c"],
        &[b"GET", b"{bdiff}bin"],
        &[b"MSET", b"{bdiff}a", b"1", b"{bdiff}b", b"2"],
        &[b"MGET", b"{bdiff}a", b"{bdiff}b", b"{bdiff}c"],
        &[b"RPUSH", b"{bdiff}l", b"a", b"b", b"c", b"d"],
        &[b"LRANGE", b"{bdiff}l", b"0", b"-1"],
        &[b"SORT", b"{bdiff}l", b"ALPHA", b"DESC", b"LIMIT", b"1", b"2"],
        &[b"SORT", b"{bdiff}l"],
        &[b"LPOP", b"{bdiff}l"],
        &[b"LPOP", b"{bdiff}l", b"2"],
        &[b"LPOP", b"{bdiff}nolist", b"2"],
        &[b"LLEN", b"{bdiff}l"],
        &[b"LRANGE", b"{bdiff}nolist", b"0", b"-1"],
        &[b"HSET", b"{bdiff}h", b"f1", b"v1"],
        &[b"HGET", b"{bdiff}h", b"f1"],
        &[b"HGETALL", b"{bdiff}h"],
        &[b"HGETALL", b"{bdiff}nohash"],
        &[b"HINCRBY", b"{bdiff}h", b"n", b"5"],
        &[b"HMGET", b"{bdiff}h", b"f1", b"nope"],
        &[b"SADD", b"{bdiff}set", b"x"],
        &[b"SMEMBERS", b"{bdiff}set"],
        &[b"SISMEMBER", b"{bdiff}set", b"x"],
        &[b"SMEMBERS", b"{bdiff}noset"],
        &[b"ZADD", b"{bdiff}z", b"1.5", b"a"],
        &[b"ZADD", b"{bdiff}z", b"3", b"b"],
        &[b"ZSCORE", b"{bdiff}z", b"a"],
        &[b"ZSCORE", b"{bdiff}z", b"nope"],
        &[b"ZRANGE", b"{bdiff}z", b"0", b"-1"],
        &[b"ZRANGE", b"{bdiff}z", b"0", b"-1", b"WITHSCORES"],
        &[b"ZINCRBY", b"{bdiff}z", b"1", b"a"],
        &[b"ZMSCORE", b"{bdiff}z", b"a", b"nope"],
        &[b"ZPOPMIN", b"{bdiff}z"],
        &[b"ZCARD", b"{bdiff}z"],
        &[b"SPOP", b"{bdiff}set", b"1"],
        &[b"SADD", b"{bdiff}set", b"x"],
        &[b"SRANDMEMBER", b"{bdiff}set", b"1"],
        &[b"ZADD", b"{bdiff}z", b"2", b"c"],
        &[b"ZRANGEBYSCORE", b"{bdiff}z", b"0", b"5", b"WITHSCORES"],
        &[b"ZREVRANGE", b"{bdiff}z", b"0", b"-1", b"WITHSCORES"],
        &[b"ZPOPMAX", b"{bdiff}z", b"1"],
        &[b"ZMPOP", b"1", b"{bdiff}z", b"MIN"],
        &[b"ZRANK", b"{bdiff}z", b"a"],
        // RESP3 doubles carry Redis 7.0's digits: 17 significant for a score.
        &[b"ZADD", b"{bdiff}z", b"0.1", b"tenth"],
        &[b"ZSCORE", b"{bdiff}z", b"tenth"],
        &[b"XADD", b"{bdiff}x", b"1-1", b"f", b"v"],
        &[b"XADD", b"{bdiff}x", b"2-1", b"g", b"w"],
        &[b"XGROUP", b"CREATE", b"{bdiff}x", b"grp", b"0"],
        &[b"XINFO", b"STREAM", b"{bdiff}x"],
        // Before any consumer exists: a consumer's reply holds times, which differ.
        &[b"XINFO", b"STREAM", b"{bdiff}x", b"FULL"],
        &[b"XREADGROUP", b"GROUP", b"grp", b"c1", b"COUNT", b"1", b"STREAMS", b"{bdiff}x", b">"],
        &[b"XREAD", b"STREAMS", b"{bdiff}x", b"{bdiff}nox", b"0", b"0"],
        &[b"XREAD", b"STREAMS", b"{bdiff}nox", b"0"],
        &[b"XINFO", b"GROUPS", b"{bdiff}x"],
        &[
            b"GEOADD",
            b"{bdiff}geo",
            b"13.361389",
            b"38.115556",
            b"Palermo",
            b"15.087269",
            b"37.502669",
            b"Catania",
        ],
        &[b"GEOPOS", b"{bdiff}geo", b"Palermo", b"nowhere"],
        &[
            b"GEOSEARCH",
            b"{bdiff}geo",
            b"FROMLONLAT",
            b"15",
            b"37",
            b"BYRADIUS",
            b"200",
            b"km",
            b"WITHCOORD",
            b"WITHDIST",
        ],
        &[b"GEORADIUS", b"{bdiff}geo", b"15", b"37", b"200", b"km", b"WITHCOORD", b"ASC"],
        &[b"GEODIST", b"{bdiff}geo", b"Palermo", b"Catania"],
        &[b"SET", b"{bdiff}s1", b"ohmytext"],
        &[b"SET", b"{bdiff}s2", b"mynewtext"],
        &[b"LCS", b"{bdiff}s1", b"{bdiff}s2"],
        &[b"LCS", b"{bdiff}s1", b"{bdiff}s2", b"IDX", b"MINMATCHLEN", b"4", b"WITHMATCHLEN"],
        &[b"TYPE", b"{bdiff}s"],
        &[b"TYPE", b"{bdiff}missing"],
        &[b"EXISTS", b"{bdiff}s", b"{bdiff}missing", b"{bdiff}s"],
        &[b"TTL", b"{bdiff}s"],
        &[b"PTTL", b"{bdiff}missing"],
        &[b"EXPIRE", b"{bdiff}s", b"1000"],
        &[b"PERSIST", b"{bdiff}s"],
        &[b"GET"],
        &[b"SET", b"{bdiff}s", b"v", b"XX", b"NX"],
        &[b"LPUSH", b"{bdiff}s", b"x"],
        &[b"NOSUCHCMD", b"a", b"b"],
        &[b"PING"],
        &[b"PING", b"hi"],
        &[b"ECHO", b"echo"],
        &[b"MULTI"],
        &[b"INCR", b"{bdiff}n"],
        &[b"SELECT", b"0"],
        &[b"CLIENT", b"GETNAME"],
        &[b"GET", b"{bdiff}n"],
        &[b"HGETALL", b"{bdiff}h"],
        &[b"ZSCORE", b"{bdiff}z", b"a"],
        &[b"SMEMBERS", b"{bdiff}set"],
        // Each reply inside EXEC writes its nil as its command does: `*-1` or `$-1`.
        &[b"GEOPOS", b"{bdiff}geo", b"nowhere"],
        &[b"XREAD", b"STREAMS", b"{bdiff}nox", b"0"],
        &[b"LPOP", b"{bdiff}nolist", b"2"],
        &[b"BLMOVE", b"{bdiff}nolist", b"{bdiff}nolist2", b"LEFT", b"LEFT", b"0"],
        &[b"EXEC"],
        &[b"DISCARD"],
        &[b"BLPOP", b"{bdiff}nolist", b"0.01"],
        &[b"BLMOVE", b"{bdiff}nolist", b"{bdiff}nolist2", b"LEFT", b"LEFT", b"0.01"],
        &[b"XREAD", b"BLOCK", b"10", b"STREAMS", b"{bdiff}nox", b"$"],
        &[
            b"DEL",
            b"{bdiff}s",
            b"{bdiff}l",
            b"{bdiff}h",
            b"{bdiff}z",
            b"{bdiff}set",
            b"{bdiff}n",
            b"{bdiff}e",
            b"{bdiff}bin",
            b"{bdiff}a",
            b"{bdiff}b",
            b"{bdiff}x",
            b"{bdiff}geo",
            b"{bdiff}s1",
            b"{bdiff}s2",
        ],
    ];
    let mut out: Vec<Vec<u8>> = words.iter().map(|w| bulk_cmd(w)).collect();
    // Inline requests, as redis-cli and telnet send them.
    out.insert(1, b"PING\r\n".to_vec());
    out.insert(2, b"ECHO \"a b\\x41\"\r\n".to_vec());
    out.insert(3, b"SET {bdiff}s 'it\\'s'\r\n".to_vec());
    out
}

/// Sends every request on one connection, pipelined in one write after an optional
/// `HELLO 3` (whose reply names the server and is not compared), and returns the replies.
fn run(addr: &str, resp3: bool) -> Vec<Vec<u8>> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    if resp3 {
        s.write_all(&bulk_cmd(&[b"HELLO", b"3"])).unwrap();
        read_reply(&mut s, &mut buf);
    }
    let reqs = requests();
    s.write_all(&reqs.concat()).unwrap();
    reqs.iter().map(|_| read_reply(&mut s, &mut buf)).collect()
}

/// The RESP2 and RESP3 comparisons share redis-server and its `{bdiff}` keys: one at a time.
static SHARED_KEYS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn compare(resp3: bool) {
    let Some((redis_addr, _)) = common::redis_from_env() else { return };
    let _one_at_a_time = SHARED_KEYS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cluster = Cluster::builder().primaries(1).build().unwrap();
    let server = cluster.serve(ServerConfig::default()).unwrap();
    let ours = run(&server.addresses()[0].1.to_string(), resp3);
    let theirs = run(&redis_addr, resp3);
    let reqs = requests();
    let mut diffs = Vec::new();
    for ((req, a), b) in reqs.iter().zip(&ours).zip(&theirs) {
        if a != b {
            diffs.push(format!(
                "{}\n  slotstore: {:?}\n  redis:     {:?}",
                String::from_utf8_lossy(req).escape_debug(),
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(b)
            ));
        }
    }
    assert!(diffs.is_empty(), "{} of {} replies differ:\n{}", diffs.len(), reqs.len(), diffs.join("\n"));
}

#[test]
fn resp2_replies_are_redis_bytes() {
    compare(false);
}

#[test]
fn resp3_replies_are_redis_bytes() {
    compare(true);
}

/// Protocol errors: the same bytes get the same error line, then both close.
#[test]
fn protocol_errors_are_redis_bytes() {
    let Some((redis_addr, _)) = common::redis_from_env() else { return };
    let cluster = Cluster::builder().primaries(1).build().unwrap();
    let server = cluster.serve(ServerConfig::default()).unwrap();
    let ours = server.addresses()[0].1.to_string();
    let inputs: &[&[u8]] = &[
        b"*1\r\n$-5\r\n",
        b"*3x\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
        b"SET \"a b\r\n",
        b"*1\r\n$999999999999\r\n",
    ];
    for input in inputs {
        let answer = |addr: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(input).unwrap();
            let mut all = Vec::new();
            let _ = s.read_to_end(&mut all);
            all
        };
        assert_eq!(
            String::from_utf8_lossy(&answer(&ours)),
            String::from_utf8_lossy(&answer(&redis_addr)),
            "{}",
            String::from_utf8_lossy(input).escape_debug()
        );
    }
}
