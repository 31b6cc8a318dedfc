//! Byte-level differential of pub/sub over RESP: the same requests on a subscriber and a
//! publisher connection to redis-server 7.0 (SLOTSTORE_REDIS_ADDR, as the other differential
//! tests) and to slotstore-server (one primary owning every slot), every frame compared byte
//! for byte: confirmations and their counts, message frames, errors and `PING` in subscribe
//! mode, leaving it, and RESP3 pushes with other commands between them.
//!
//! Channels live under the tag `{pdiff}`, which no other test uses.
#![cfg(feature = "server")]

mod common;
mod server_common;

use server_common::Raw;
use slotstore::{Cluster, ServerConfig};
use std::net::ToSocketAddrs;

/// One step: which connection sends (0 subscriber, 1 publisher; None: nothing is sent), the
/// request, and how many frames to read from each connection after it.
type Step = (Option<usize>, &'static [&'static str], [usize; 2]);

const RESP2: &[Step] = &[
    (Some(0), &["SUBSCRIBE", "{pdiff}a", "{pdiff}b"], [2, 0]),
    (Some(0), &["PSUBSCRIBE", "{pdiff}*"], [1, 0]),
    (Some(0), &["GET", "{pdiff}k"], [1, 0]),
    (Some(0), &["PING"], [1, 0]),
    (Some(0), &["PING", "hi"], [1, 0]),
    (Some(0), &["SUBSCRIBE"], [1, 0]),
    (Some(1), &["PUBLISH", "{pdiff}a", "hello"], [2, 1]),
    (Some(1), &["PUBLISH", "{pdiff}zz", "p-only"], [1, 1]),
    (Some(1), &["PUBSUB", "NUMSUB", "{pdiff}a", "{pdiff}b", "{pdiff}c"], [0, 1]),
    // One match only: Redis lists channels in its dict's order.
    (Some(1), &["PUBSUB", "CHANNELS", "{pdiff}a*"], [0, 1]),
    (Some(0), &["UNSUBSCRIBE", "{pdiff}a", "{pdiff}nope"], [2, 0]),
    (Some(0), &["PUNSUBSCRIBE"], [1, 0]),
    (Some(0), &["UNSUBSCRIBE", "{pdiff}b"], [1, 0]),
    (Some(0), &["UNSUBSCRIBE"], [1, 0]),
    (Some(0), &["PING"], [1, 0]),
    (Some(0), &["SSUBSCRIBE", "{pdiff}s1", "{pdiff}s2"], [2, 0]),
    (Some(0), &["SET", "{pdiff}k", "v"], [1, 0]),
    (Some(1), &["SPUBLISH", "{pdiff}s1", "shard"], [1, 1]),
    (Some(1), &["PUBSUB", "SHARDNUMSUB", "{pdiff}s1"], [0, 1]),
    (Some(0), &["SUNSUBSCRIBE", "{pdiff}s2"], [1, 0]),
    (Some(0), &["SUNSUBSCRIBE", "{pdiff}s1"], [1, 0]),
    (Some(0), &["SUNSUBSCRIBE"], [1, 0]),
    (Some(0), &["GET", "{pdiff}k"], [1, 0]),
    (Some(0), &["DEL", "{pdiff}k"], [1, 0]),
];

const RESP3: &[Step] = &[
    (Some(0), &["SUBSCRIBE", "{pdiff}a"], [1, 0]),
    (Some(0), &["SET", "{pdiff}k", "v"], [1, 0]),
    (Some(1), &["PUBLISH", "{pdiff}a", "hello"], [1, 1]),
    (Some(0), &["GET", "{pdiff}k"], [1, 0]),
    (Some(0), &["PING"], [1, 0]),
    (Some(0), &["PSUBSCRIBE", "{pdiff}*"], [1, 0]),
    (Some(1), &["PUBLISH", "{pdiff}a", "two"], [2, 1]),
    (Some(0), &["UNSUBSCRIBE", "{pdiff}a"], [1, 0]),
    (Some(0), &["PUNSUBSCRIBE", "{pdiff}*"], [1, 0]),
    (Some(0), &["UNSUBSCRIBE"], [1, 0]),
    (Some(0), &["DEL", "{pdiff}k"], [1, 0]),
];

fn run(addr: std::net::SocketAddr, resp3: bool, steps: &[Step]) -> Vec<String> {
    let mut conns = [Raw::connect(addr), Raw::connect(addr)];
    if resp3 {
        // HELLO's reply names the server: not compared.
        conns[0].cmd(&["HELLO", "3"]);
    }
    let mut log = Vec::new();
    for (who, words, reads) in steps {
        if let Some(i) = who {
            let mut out = format!("*{}\r\n", words.len());
            for w in *words {
                out.push_str(&format!("${}\r\n{w}\r\n", w.len()));
            }
            conns[*i].send(out.as_bytes());
        }
        // The sender's reply first, so a publisher's count comes before the frames it caused.
        let order: Vec<usize> = match who {
            Some(1) => vec![1, 0],
            _ => vec![0, 1],
        };
        for c in order {
            for _ in 0..reads[c] {
                log.push(format!("{words:?} conn{c}: {}", conns[c].reply()));
            }
        }
    }
    log
}

#[test]
fn pubsub_frames_match_redis_byte_for_byte() {
    let Some((addr, _)) = common::redis_from_env() else { return };
    let oracle = addr.to_socket_addrs().unwrap().next().unwrap();
    let cluster = Cluster::builder().primaries(1).build().unwrap();
    let server = cluster.serve(ServerConfig::default()).unwrap();
    let ours = server.addresses()[0].1;
    for (resp3, steps) in [(false, RESP2), (true, RESP3)] {
        let want = run(oracle, resp3, steps);
        let got = run(ours, resp3, steps);
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(g, w, "RESP{}", if resp3 { 3 } else { 2 });
        }
        assert_eq!(got.len(), want.len());
    }
}
