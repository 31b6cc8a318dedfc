//! Pub/sub over RESP: subscribe mode (RESP2) and pushes (RESP3), Redis's confirmation frames
//! and counts, message frames, `MOVED`/`CROSSSLOT` for shard channels, `sunsubscribe` when a
//! shard channel's slot moves away or its shard fails over, and the output-buffer limit.

mod server_common;

use server_common::{serve, Raw};
use slotstore::{key_slot, FailoverMode, NodeId, Server, ServerConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr_of(server: &Server, node: NodeId) -> SocketAddr {
    server.addresses().into_iter().find(|(id, _)| *id == node).expect("served").1
}

/// RESP for a command.
fn req(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len());
    for w in words {
        out.push_str(&format!("${}\r\n{w}\r\n", w.len()));
    }
    out.into_bytes()
}

/// A RESP2 (or, with `push`, RESP3 push) frame of bulk strings and a final integer.
fn frame(push: bool, words: &[&str], n: Option<i64>) -> String {
    let len = words.len() + usize::from(n.is_some());
    let mut out = format!("{}{len}\r\n", if push { '>' } else { '*' });
    for w in words {
        out.push_str(&format!("${}\r\n{w}\r\n", w.len()));
    }
    if let Some(n) = n {
        out.push_str(&format!(":{n}\r\n"));
    }
    out
}

#[test]
fn resp2_subscribe_mode_confirms_counts_and_refuses_other_commands() {
    let (_cluster, server) = serve(2, 0, ServerConfig::default());
    let a = server.addresses()[0].1;
    let mut sub = Raw::connect(a);
    let mut publisher = Raw::connect(server.addresses()[1].1);
    sub.send(&req(&["SUBSCRIBE", "news", "art"]));
    assert_eq!(sub.reply(), frame(false, &["subscribe", "news"], Some(1)));
    assert_eq!(sub.reply(), frame(false, &["subscribe", "art"], Some(2)));
    assert_eq!(sub.cmd(&["PSUBSCRIBE", "n*"]), frame(false, &["psubscribe", "n*"], Some(3)));
    assert_eq!(
        sub.cmd(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(sub.cmd(&["PING"]), frame(false, &["pong", ""], None));
    assert_eq!(sub.cmd(&["PING", "hi"]), frame(false, &["pong", "hi"], None));
    // PUBLISH on another node reaches it (Redis Cluster broadcasts); two receivers here:
    // the channel and the pattern.
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "hello"]), ":2\r\n");
    assert_eq!(sub.reply(), frame(false, &["message", "news", "hello"], None));
    assert_eq!(sub.reply(), frame(false, &["pmessage", "n*", "news", "hello"], None));
    assert_eq!(
        publisher.cmd(&["PUBSUB", "NUMSUB", "news", "x"]),
        "*4\r\n$4\r\nnews\r\n:1\r\n$1\r\nx\r\n:0\r\n"
    );
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), ":1\r\n");
    sub.send(&req(&["UNSUBSCRIBE"]));
    let mut got = vec![sub.reply(), sub.reply()];
    got.sort();
    assert_eq!(
        got,
        vec![
            frame(false, &["unsubscribe", "art"], Some(2)),
            frame(false, &["unsubscribe", "news"], Some(1))
        ]
    );
    assert_eq!(sub.cmd(&["PUNSUBSCRIBE"]), frame(false, &["punsubscribe", "n*"], Some(0)));
    // Out of subscribe mode: commands run again; a bare UNSUBSCRIBE confirms a nil channel.
    assert_eq!(sub.cmd(&["UNSUBSCRIBE"]), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(sub.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(sub.cmd(&["SUBSCRIBE"]), "-ERR wrong number of arguments for 'subscribe' command\r\n");
    // RESET leaves subscribe mode and drops every subscription.
    sub.cmd(&["SUBSCRIBE", "x"]);
    assert_eq!(sub.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(publisher.cmd(&["PUBLISH", "x", "gone"]), ":0\r\n");
    assert_eq!(sub.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn resp3_pushes_and_other_commands_allowed() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let a = server.addresses()[0].1;
    let mut sub = Raw::connect(a);
    let mut publisher = Raw::connect(a);
    assert!(sub.cmd(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(sub.cmd(&["SUBSCRIBE", "c"]), frame(true, &["subscribe", "c"], Some(1)));
    assert_eq!(sub.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(sub.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(publisher.cmd(&["PUBLISH", "c", "m"]), ":1\r\n");
    assert_eq!(sub.reply(), frame(true, &["message", "c", "m"], None));
    assert_eq!(sub.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(sub.cmd(&["UNSUBSCRIBE", "c"]), frame(true, &["unsubscribe", "c"], Some(0)));
}

#[test]
fn shard_channels_follow_slot_ownership() {
    let (cluster, server) = serve(2, 1, ServerConfig::default());
    let ch = "{room}:chat";
    let slot = key_slot(ch);
    let owner = cluster.slot_owner(slot).unwrap();
    let other = cluster.primaries().into_iter().find(|p| *p != owner).unwrap();
    // The wrong node redirects; channels of two slots are refused.
    let mut wrong = Raw::connect(addr_of(&server, other));
    assert_eq!(wrong.cmd(&["SSUBSCRIBE", ch]), format!("-MOVED {slot} {}\r\n", addr_of(&server, owner)));
    assert_eq!(
        wrong.cmd(&["SSUBSCRIBE", "a", "b"]),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert_eq!(
        wrong.cmd(&["SPUBLISH", ch, "x"]),
        format!("-MOVED {slot} {}\r\n", addr_of(&server, owner))
    );
    // The owner and its replica serve it; SPUBLISH at the owner reaches both.
    let mut at_owner = Raw::connect(addr_of(&server, owner));
    at_owner.send(&req(&["SSUBSCRIBE", ch, "{room}:typing"]));
    assert_eq!(at_owner.reply(), frame(false, &["ssubscribe", ch], Some(1)));
    assert_eq!(at_owner.reply(), frame(false, &["ssubscribe", "{room}:typing"], Some(2)));
    let replica = cluster.replicas_of(owner)[0];
    let mut at_replica = Raw::connect(addr_of(&server, replica));
    assert_eq!(at_replica.cmd(&["SSUBSCRIBE", ch]), frame(false, &["ssubscribe", ch], Some(1)));
    let mut publisher = Raw::connect(addr_of(&server, owner));
    assert_eq!(publisher.cmd(&["SPUBLISH", ch, "one"]), ":2\r\n");
    assert_eq!(at_owner.reply(), frame(false, &["smessage", ch, "one"], None));
    assert_eq!(at_replica.reply(), frame(false, &["smessage", ch, "one"], None));
    assert_eq!(
        publisher.cmd(&["PUBSUB", "SHARDNUMSUB", ch]),
        format!("*2\r\n${}\r\n{ch}\r\n:2\r\n", ch.len())
    );

    // The slot moves to the other shard: both subscribers are told, as Redis tells them.
    cluster.migrate_slot(slot, other).unwrap();
    assert_eq!(at_owner.reply(), frame(false, &["sunsubscribe", ch], Some(1)));
    assert_eq!(at_owner.reply(), frame(false, &["sunsubscribe", "{room}:typing"], Some(0)));
    assert_eq!(at_replica.reply(), frame(false, &["sunsubscribe", ch], Some(0)));
    // Out of subscribe mode, both may run commands; re-subscribing at the new owner works.
    assert_eq!(at_owner.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(
        at_owner.cmd(&["SSUBSCRIBE", ch]),
        format!("-MOVED {slot} {}\r\n", addr_of(&server, other))
    );
    let mut at_new = Raw::connect(addr_of(&server, other));
    assert_eq!(at_new.cmd(&["SSUBSCRIBE", ch]), frame(false, &["ssubscribe", ch], Some(1)));
    let mut publisher = Raw::connect(addr_of(&server, other));
    assert_eq!(publisher.cmd(&["SPUBLISH", ch, "two"]), ":1\r\n");
    assert_eq!(at_new.reply(), frame(false, &["smessage", ch, "two"], None));

    // A failover of the new owner's shard: the demoted primary's subscriber is told; a
    // subscriber on the promoted replica keeps its channel.
    let new_replica = cluster.replicas_of(other)[0];
    let mut at_new_replica = Raw::connect(addr_of(&server, new_replica));
    assert_eq!(at_new_replica.cmd(&["SSUBSCRIBE", ch]), frame(false, &["ssubscribe", ch], Some(1)));
    cluster.failover(new_replica, FailoverMode::Default).unwrap();
    assert_eq!(at_new.reply(), frame(false, &["sunsubscribe", ch], Some(0)));
    let mut publisher = Raw::connect(addr_of(&server, new_replica));
    assert_eq!(publisher.cmd(&["SPUBLISH", ch, "three"]), ":1\r\n");
    assert_eq!(at_new_replica.reply(), frame(false, &["smessage", ch, "three"], None));
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_past_the_output_limit() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let a = server.addresses()[0].1;
    let mut admin = Raw::connect(a);
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 0 0"]),
        "+OK\r\n"
    );
    let mut slow = Raw::connect(a);
    assert_eq!(slow.cmd(&["SUBSCRIBE", "firehose"]), frame(false, &["subscribe", "firehose"], Some(1)));
    let mut fast = Raw::connect(a);
    assert_eq!(fast.cmd(&["SUBSCRIBE", "firehose"]), frame(false, &["subscribe", "firehose"], Some(1)));
    let payload = "x".repeat(4096);
    // Far more than the socket buffers and the limit hold; the fast one keeps reading.
    let started = Instant::now();
    let mut published = 0;
    let mut fast_got = 0;
    while published < 20_000 && started.elapsed() < Duration::from_secs(20) {
        let n: i64 = admin.cmd(&["PUBLISH", "firehose", &payload])[1..].trim().parse().unwrap();
        published += 1;
        assert!(n >= 1);
        assert_eq!(fast.reply(), frame(false, &["message", "firehose", &payload], None));
        fast_got += 1;
        if n == 1 {
            break; // the slow subscriber is gone
        }
    }
    assert_eq!(fast_got, published);
    assert!(published < 20_000, "the slow subscriber was never disconnected");
    // It is closed: reading drains what was sent, then meets the end.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = false;
    while Instant::now() < deadline {
        if slow.closed() {
            closed = true;
            break;
        }
    }
    assert!(closed);
    assert_eq!(admin.cmd(&["PUBSUB", "NUMSUB", "firehose"]), "*2\r\n$8\r\nfirehose\r\n:1\r\n");
}

#[test]
fn redis_rs_subscribes_and_receives() {
    let (_cluster, server) = serve(2, 0, ServerConfig::default());
    let url = |a: SocketAddr| format!("redis://{a}/");
    let client = redis::Client::open(url(server.addresses()[0].1)).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut ps = con.as_pubsub();
    ps.subscribe("rs:news").unwrap();
    ps.psubscribe("rs:*").unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut other = redis::Client::open(url(server.addresses()[1].1)).unwrap().get_connection().unwrap();
    let n: i64 = redis::cmd("PUBLISH").arg("rs:news").arg("hi").query(&mut other).unwrap();
    assert_eq!(n, 2);
    let m = ps.get_message().unwrap();
    assert_eq!(
        (m.get_channel_name(), m.get_payload::<String>().unwrap()),
        ("rs:news", "hi".to_string())
    );
    assert!(!m.from_pattern());
    let m = ps.get_message().unwrap();
    assert_eq!(m.get_pattern::<String>().unwrap(), "rs:*");
    ps.unsubscribe("rs:news").unwrap();
    ps.punsubscribe("rs:*").unwrap();
}

/// Messages per second from one pipelining publisher to `subs` subscriber connections at
/// `addr` (each message reaching every subscriber), 64-byte payloads.
fn fan_out(addr: SocketAddr, subs: usize, msgs: usize) -> f64 {
    use std::io::{Read, Write};
    let ch = "bench:fanout";
    let payload = "p".repeat(64);
    let frame_len = frame(false, &["message", ch, &payload], None).len();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let readers: Vec<_> = (0..subs)
        .map(|_| {
            let ready = ready_tx.clone();
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream.write_all(&req(&["SUBSCRIBE", ch])).unwrap();
                let mut confirm = vec![0u8; frame(false, &["subscribe", ch], Some(1)).len()];
                stream.read_exact(&mut confirm).unwrap();
                ready.send(()).unwrap();
                let mut left = frame_len * msgs;
                let mut buf = vec![0u8; 64 << 10];
                while left > 0 {
                    let n = stream.read(&mut buf).unwrap();
                    assert!(n > 0);
                    left -= n.min(left);
                }
            })
        })
        .collect();
    (0..subs).for_each(|_| ready_rx.recv().unwrap());
    let mut publisher = std::net::TcpStream::connect(addr).unwrap();
    let request = req(&["PUBLISH", ch, &payload]);
    let reply_len = format!(":{subs}\r\n").len();
    let started = Instant::now();
    let mut sent = 0;
    let mut buf = vec![0u8; 64 << 10];
    while sent < msgs {
        let batch = (msgs - sent).min(100);
        let mut out = Vec::with_capacity(request.len() * batch);
        (0..batch).for_each(|_| out.extend_from_slice(&request));
        publisher.write_all(&out).unwrap();
        let mut left = reply_len * batch;
        while left > 0 {
            let n = publisher.read(&mut buf).unwrap();
            assert!(n > 0);
            left -= n.min(left);
        }
        sent += batch;
    }
    readers.into_iter().for_each(|r| r.join().unwrap());
    msgs as f64 / started.elapsed().as_secs_f64()
}

/// Prints fan-out figures for the README, for slotstore-server and (with
/// SLOTSTORE_REDIS_ADDR) redis-server: `cargo test --release --test server_pubsub -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn fan_out_over_resp() {
    let (_cluster, server) = serve(3, 0, ServerConfig::default());
    let ours = server.addresses()[0].1;
    let redis: Option<SocketAddr> = std::env::var("SLOTSTORE_REDIS_ADDR")
        .ok()
        .and_then(|a| std::net::ToSocketAddrs::to_socket_addrs(&a).ok()?.next());
    for subs in [1, 10, 100] {
        let msgs = 200_000 / subs.max(1);
        let s = fan_out(ours, subs, msgs);
        let r = redis.map(|a| fan_out(a, subs, msgs));
        println!(
            "subscribers={subs}: slotstore-server {:.0} msg/s ({:.0} deliveries/s); redis-server {}",
            s,
            s * subs as f64,
            r.map_or("not run".into(), |r| format!(
                "{r:.0} msg/s ({:.0} deliveries/s)",
                r * subs as f64
            ))
        );
    }
}

#[test]
fn keyspace_notifications_reach_resp_subscribers() {
    let (cluster, server) = serve(3, 0, ServerConfig::default());
    let mut admin = Raw::connect(server.addresses()[0].1);
    assert_eq!(admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]), "+OK\r\n");
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
    );
    let mut sub = Raw::connect(server.addresses()[1].1);
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "__keyevent@0__:set"]),
        frame(false, &["subscribe", "__keyevent@0__:set"], Some(1))
    );
    // The key lives wherever its slot does; the event reaches a subscriber on any node.
    let owner = cluster.slot_owner(key_slot("k")).unwrap();
    let mut writer = Raw::connect(addr_of(&server, owner));
    assert_eq!(writer.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(sub.reply(), frame(false, &["message", "__keyevent@0__:set", "k"], None));
}

/// Keyspace events of pipelined writes leave in the requests' order, as each request's would
/// run alone: pipelines of SETs and of INCRs over keys in many slots (which a batch would
/// serve slot by slot).
#[test]
fn keyspace_events_of_a_pipeline_keep_its_order() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let a = server.addresses()[0].1;
    let mut writer = Raw::connect(a);
    assert_eq!(writer.cmd(&["CONFIG", "SET", "notify-keyspace-events", "E$"]), "+OK\r\n");
    let mut sub = Raw::connect(a);
    for event in ["set", "incrby"] {
        let channel = format!("__keyevent@0__:{event}");
        assert_eq!(sub.cmd(&["SUBSCRIBE", &channel]), frame(false, &["subscribe", &channel], Some(1)));
        let keys: Vec<String> = (0..40).map(|i| format!("e{event}{i}")).collect();
        let request: Vec<u8> = keys
            .iter()
            .flat_map(|k| if event == "set" { req(&["SET", k, "1"]) } else { req(&["INCR", k]) })
            .collect();
        writer.send(&request);
        for _ in &keys {
            writer.reply();
        }
        for k in &keys {
            assert_eq!(sub.reply(), frame(false, &["message", &channel, k], None), "{event}");
        }
        sub.cmd(&["UNSUBSCRIBE", &channel]);
    }
}

/// Pub/sub frames reach a client that turned replies off, in both protocols, as Redis sends
/// them past `CLIENT REPLY` (its test "PubSub messages with CLIENT REPLY OFF"); the reply
/// to an ordinary command stays silent.
#[test]
fn pubsub_frames_pass_client_reply_off() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let a = server.addresses()[0].1;
    let mut publisher = Raw::connect(a);
    for push in [false, true] {
        let mut sub = Raw::connect(a);
        if push {
            sub.cmd(&["HELLO", "3"]);
        }
        sub.send(&req(&["CLIENT", "REPLY", "OFF"]));
        sub.send(&req(&["SUBSCRIBE", "ch"]));
        assert_eq!(sub.reply(), frame(push, &["subscribe", "ch"], Some(1)));
        assert_eq!(publisher.cmd(&["PUBLISH", "ch", "hello"]), ":1\r\n");
        assert_eq!(sub.reply(), frame(push, &["message", "ch", "hello"], None));
        sub.send(&req(&["UNSUBSCRIBE", "ch"]));
        assert_eq!(sub.reply(), frame(push, &["unsubscribe", "ch"], Some(0)));
        // Still off for replies: the ECHO is silent, the ON that follows is answered.
        sub.send(&req(&["ECHO", "silent"]));
        assert_eq!(sub.cmd(&["CLIENT", "REPLY", "ON"]), "+OK\r\n");
    }
}
