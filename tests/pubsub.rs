//! Pub/sub in process: ordering, no loss under concurrent publishers, Redis's receiver
//! counts, slow subscribers, sharded subscriptions across a migration and a failover, and the
//! `PUBLISH`/`SPUBLISH`/`PUBSUB` commands.

use slotstore::{key_slot, Bytes, Cluster, Error, FailoverMode, Message, Reply};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn recv(sub: &slotstore::Subscription) -> Message {
    sub.recv_timeout(WAIT).expect("a message within the timeout")
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn one_publisher_s_messages_arrive_in_order() {
    let client = Cluster::builder().primaries(3).build().unwrap().client();
    let sub = client.subscribe(&["room:1"]).unwrap();
    let publisher = {
        let client = client.clone();
        std::thread::spawn(move || {
            for i in 0..20_000u32 {
                assert_eq!(client.publish("room:1", i.to_string()).unwrap(), 1);
            }
        })
    };
    for i in 0..20_000u32 {
        let m = recv(&sub);
        assert_eq!(
            (text(&m.channel), text(&m.payload), m.pattern),
            ("room:1".into(), i.to_string(), None)
        );
    }
    publisher.join().unwrap();
    assert_eq!(sub.try_recv(), None);
    assert_eq!(sub.dropped(), 0);
}

#[test]
fn live_subscribers_lose_nothing_under_concurrent_publishers() {
    const PUBLISHERS: u32 = 4;
    const EACH: u32 = 5_000;
    let client = Cluster::builder().primaries(2).build().unwrap().client();
    let subs: Vec<_> = (0..3).map(|_| client.subscribe(&["news"]).unwrap()).collect();
    let readers: Vec<_> = subs
        .into_iter()
        .map(|sub| {
            std::thread::spawn(move || {
                let mut next = vec![0u32; PUBLISHERS as usize];
                for _ in 0..PUBLISHERS * EACH {
                    let m = sub.recv_timeout(WAIT).expect("no message lost");
                    let s = text(&m.payload);
                    let (p, i) = s.split_once(':').unwrap();
                    let (p, i): (usize, u32) = (p.parse().unwrap(), i.parse().unwrap());
                    // Each publisher's messages arrive in its order, none skipped.
                    assert_eq!(i, next[p], "publisher {p}");
                    next[p] += 1;
                }
                assert_eq!(sub.dropped(), 0);
                next
            })
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    assert_eq!(client.publish("news", format!("{p}:{i}")).unwrap(), 3);
                }
            })
        })
        .collect();
    publishers.into_iter().for_each(|p| p.join().unwrap());
    for r in readers {
        assert_eq!(r.join().unwrap(), vec![EACH; PUBLISHERS as usize]);
    }
    assert_eq!(client.stats().pubsub.dropped, 0);
}

#[test]
fn pattern_and_channel_deliveries_are_counted_as_redis_counts_them() {
    let client = Cluster::builder().primaries(3).build().unwrap().client();
    let a = client.subscribe(&["news.tech", "news.art"]).unwrap();
    a.psubscribe(&["news.*", "*.tech"]).unwrap();
    let b = client.psubscribe(&["news.*"]).unwrap();
    let c = client.psubscribe(&["n[aeiou]ws.t?ch", "x*"]).unwrap();
    // a: the channel and both patterns; b: one pattern; c: one pattern.
    assert_eq!(client.publish("news.tech", "1").unwrap(), 5);
    // a: the channel and news.*; b: news.*.
    assert_eq!(client.publish("news.art", "2").unwrap(), 3);
    assert_eq!(client.publish("old.tech", "3").unwrap(), 1);
    assert_eq!(client.publish("nothing", "4").unwrap(), 0);
    let got = |s: &slotstore::Subscription| -> Vec<(String, Option<String>, String)> {
        s.try_iter()
            .map(|m| (text(&m.channel), m.pattern.as_ref().map(text), text(&m.payload)))
            .collect()
    };
    let mut ga = got(&a);
    // The channel's message comes before the pattern ones; patterns in any order.
    assert_eq!(ga[0], ("news.tech".into(), None, "1".into()));
    ga[1..3].sort();
    assert_eq!(
        ga,
        vec![
            ("news.tech".into(), None, "1".into()),
            ("news.tech".into(), Some("*.tech".into()), "1".into()),
            ("news.tech".into(), Some("news.*".into()), "1".into()),
            ("news.art".into(), None, "2".into()),
            ("news.art".into(), Some("news.*".into()), "2".into()),
            ("old.tech".into(), Some("*.tech".into()), "3".into()),
        ]
    );
    assert_eq!(
        got(&b),
        vec![
            ("news.tech".into(), Some("news.*".into()), "1".into()),
            ("news.art".into(), Some("news.*".into()), "2".into())
        ]
    );
    assert_eq!(got(&c), vec![("news.tech".into(), Some("n[aeiou]ws.t?ch".into()), "1".into())]);
    // Subscribing twice counts once; unsubscribing one pattern stops only its copies.
    a.psubscribe(&["news.*"]).unwrap();
    assert_eq!(client.publish("news.tech", "5").unwrap(), 5);
    a.punsubscribe(&["news.*"]);
    assert_eq!(client.publish("news.tech", "6").unwrap(), 4);
    drop(b);
    assert_eq!(client.publish("news.tech", "7").unwrap(), 3);
    a.unsubscribe_all();
    assert_eq!(client.publish("news.tech", "8").unwrap(), 1);
    // What was queued stays readable, then recv ends instead of waiting for ever.
    assert_eq!(a.try_iter().count(), 2 + 3 + 2);
    assert_eq!(a.recv(), None);
    assert!(a.channels().is_empty() && a.patterns().is_empty());
}

#[test]
fn a_subscriber_that_never_reads_stays_bounded_and_counts_its_drops() {
    let cluster = Cluster::builder().subscriber_queue(100, usize::MAX).build().unwrap();
    let client = cluster.client();
    let slow = client.subscribe(&["firehose"]).unwrap();
    let fast = client.subscribe(&["firehose"]).unwrap();
    let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let read = read.clone();
        std::thread::spawn(move || {
            (0..1000)
                .map(|_| {
                    let m = text(&fast.recv_timeout(WAIT).unwrap().payload);
                    read.fetch_add(1, Ordering::Release);
                    m
                })
                .collect::<Vec<_>>()
        })
    };
    let payload = vec![b'x'; 64];
    for i in 0..1000usize {
        // The fast reader is never more than 50 behind, so its queue of 100 never fills.
        let deadline = Instant::now() + WAIT;
        while i >= 50 && read.load(Ordering::Acquire) < i - 50 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let mut p = payload.clone();
        p[..4].copy_from_slice(format!("{i:04}").as_bytes());
        assert_eq!(client.publish("firehose", &p).unwrap(), 2, "both count as receivers");
    }
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 1000);
    assert!(got.iter().enumerate().all(|(i, p)| p.starts_with(&format!("{i:04}"))));
    // The slow one holds exactly its first 100 messages; the other 900 were dropped.
    assert_eq!((slow.pending(), slow.dropped()), (100, 900));
    assert_eq!(client.stats().pubsub.dropped, 900);
    let kept: Vec<String> = slow.try_iter().map(|m| text(&m.payload)[..4].to_string()).collect();
    assert_eq!(kept, (0..100).map(|i| format!("{i:04}")).collect::<Vec<_>>());
    let info = client.command(&["INFO", "stats"]).unwrap().to_string();
    assert!(info.contains("pubsub_dropped_messages:900"), "{info}");
}

#[test]
fn a_byte_bound_caps_big_messages() {
    // Each message costs its channel (1), payload (1000) and 64 bytes of bookkeeping.
    let cluster = Cluster::builder().subscriber_queue(usize::MAX, 10 * 1065).build().unwrap();
    let client = cluster.client();
    let sub = client.subscribe(&["c"]).unwrap();
    for _ in 0..25 {
        client.publish("c", [b'p'; 1000]).unwrap();
    }
    assert_eq!((sub.pending(), sub.dropped()), (10, 15));
}

/// Publishes sequence numbers on a shard channel from another thread until stopped; returns
/// the numbers `spublish` acknowledged.
fn spublisher(
    client: slotstore::Client,
    channel: &'static str,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<u32>> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(n) = client.spublish(channel, i.to_string()) {
                assert_eq!(n, 1);
                acked.push(i);
            }
            i += 1;
        }
        acked
    })
}

/// Reads `n` more messages into `got`.
fn more(sub: &slotstore::Subscription, got: &mut Vec<u32>, n: usize) {
    for _ in 0..n {
        got.push(text(&recv(sub).payload).parse().unwrap());
    }
}

#[test]
fn a_sharded_subscription_follows_its_slot_across_a_move_and_a_failover() {
    let cluster = Cluster::builder()
        .primaries(2)
        .replicas(1)
        .node_timeout(Duration::from_millis(40))
        .retry_budget(Duration::from_secs(5))
        .build()
        .unwrap();
    let client = cluster.client();
    const CH: &str = "{room:7}:chat";
    let slot = key_slot(CH);
    let sub = client.ssubscribe(&[CH, "{room:7}:typing"]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = spublisher(client.clone(), CH, stop.clone());
    let mut got = Vec::new();
    more(&sub, &mut got, 20);
    // Move the slot while messages flow.
    let owner = cluster.slot_owner(slot).unwrap();
    let other = cluster.primaries().into_iter().find(|p| *p != owner).unwrap();
    cluster.migrate_slot(slot, other).unwrap();
    more(&sub, &mut got, 20);
    // Fail its new owner over by hand, then crash the promoted replica.
    let replica = cluster.replicas_of(other)[0];
    cluster.failover(replica, FailoverMode::Default).unwrap();
    assert_eq!(cluster.slot_owner(slot), Some(replica));
    more(&sub, &mut got, 20);
    cluster.kill_node(replica).unwrap();
    let deadline = Instant::now() + WAIT;
    while cluster.slot_owner(slot) == Some(replica) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_ne!(cluster.slot_owner(slot), Some(replica), "the crashed primary was replaced");
    more(&sub, &mut got, 20);
    stop.store(true, Ordering::Relaxed);
    let acked = publisher.join().unwrap();
    while let Some(m) = sub.recv_timeout(Duration::from_millis(200)) {
        got.push(text(&m.payload).parse().unwrap());
    }
    // Every acknowledged message arrived, once, in order; nothing else did.
    assert!(acked.len() >= 80, "publishes went on: {}", acked.len());
    assert_eq!(got, acked);
    assert_eq!(sub.dropped(), 0);
}

#[test]
fn shard_channels_need_one_served_slot() {
    let cluster =
        Cluster::builder().primaries(2).retry_budget(Duration::from_millis(50)).build().unwrap();
    let client = cluster.client();
    assert_eq!(client.ssubscribe(&["a", "b"]).unwrap_err(), Error::CrossSlot);
    assert_eq!(
        client.command(&["SPUBLISH", "a"]).unwrap_err().to_string(),
        "ERR wrong number of arguments for 'spublish' command"
    );
    let sub = client.ssubscribe(&["{t}a", "{t}b"]).unwrap();
    assert_eq!(sub.ssubscribe(&["x", "y"]).unwrap_err(), Error::CrossSlot);
    assert_eq!(sub.shard_channels().len(), 2);
    // With the slot's primary gone (no replica), the slot is not served.
    let owner = cluster.slot_owner(key_slot("{t}")).unwrap();
    cluster.kill_node(owner).unwrap();
    assert!(matches!(client.spublish("{t}a", "x"), Err(Error::ClusterDown(_))));
    assert!(matches!(client.ssubscribe(&["{t}a"]), Err(Error::ClusterDown(_))));
    // Classic pub/sub needs no slot.
    let classic = client.subscribe(&["{t}a"]).unwrap();
    assert_eq!(client.publish("{t}a", "x").unwrap(), 1);
    assert_eq!(text(&recv(&classic).payload), "x");
}

#[test]
fn a_raw_client_sees_moved_for_a_shard_channel() {
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let raw = cluster.client().follow_redirects(false);
    let slot = key_slot("ch");
    let other = cluster.primaries().into_iter().find(|p| Some(*p) != cluster.slot_owner(slot)).unwrap();
    cluster.migrate_slot(slot, other).unwrap();
    assert!(matches!(raw.spublish("ch", "x"), Err(Error::Moved { node, .. }) if node == other));
    assert_eq!(raw.spublish("ch", "x"), Ok(0));
    // A command sent to the node that does not serve the slot gets MOVED, as from Redis.
    let owner = cluster.slot_owner(slot).unwrap();
    let wrong = cluster.primaries().into_iter().find(|p| *p != owner).unwrap();
    let err = cluster.client().command_at(wrong, false, &["SPUBLISH", "ch", "x"]).unwrap_err();
    assert!(matches!(err, Error::Moved { node, .. } if node == owner), "{err}");
    assert_eq!(cluster.client().command_at(owner, false, &["SPUBLISH", "ch", "x"]), Ok(Reply::Int(0)));
}

#[test]
fn pubsub_commands_answer_as_redis() {
    let client = Cluster::builder().primaries(3).build().unwrap().client();
    let s1 = client.subscribe(&["a", "b"]).unwrap();
    let s2 = client.subscribe(&["b"]).unwrap();
    let p = client.psubscribe(&["x*", "y*"]).unwrap();
    let p2 = client.psubscribe(&["x*"]).unwrap();
    let sh = client.ssubscribe(&["{s}1", "{s}2"]).unwrap();
    let bulks = |v: &[&str]| Reply::Array(v.iter().map(|s| Reply::Bulk(Bytes::from(*s))).collect());
    assert_eq!(client.command(&["PUBSUB", "CHANNELS"]).unwrap(), bulks(&["a", "b"]));
    assert_eq!(client.command(&["pubsub", "channels", "[b-z]"]).unwrap(), bulks(&["b"]));
    assert_eq!(
        client.command(&["PUBSUB", "NUMSUB", "a", "b", "c"]).unwrap(),
        Reply::Array(vec![
            Reply::Bulk(Bytes::from("a")),
            Reply::Int(1),
            Reply::Bulk(Bytes::from("b")),
            Reply::Int(2),
            Reply::Bulk(Bytes::from("c")),
            Reply::Int(0),
        ])
    );
    assert_eq!(client.command(&["PUBSUB", "NUMSUB"]).unwrap(), Reply::Array(vec![]));
    // Distinct patterns, as Redis 7.0 counts them.
    assert_eq!(client.command(&["PUBSUB", "NUMPAT"]).unwrap(), Reply::Int(2));
    assert_eq!(client.command(&["PUBSUB", "SHARDCHANNELS"]).unwrap(), bulks(&["{s}1", "{s}2"]));
    assert_eq!(
        client.command(&["PUBSUB", "SHARDNUMSUB", "{s}1", "a"]).unwrap(),
        Reply::Array(vec![
            Reply::Bulk(Bytes::from("{s}1")),
            Reply::Int(1),
            Reply::Bulk(Bytes::from("a")),
            Reply::Int(0)
        ])
    );
    assert_eq!(client.command(&["PUBLISH", "xa", "m"]).unwrap(), Reply::Int(2));
    assert_eq!(client.command(&["PUBLISH", "b", "m"]).unwrap(), Reply::Int(2));
    assert_eq!(client.command(&["SPUBLISH", "{s}1", "m"]).unwrap(), Reply::Int(1));
    assert_eq!(client.command(&["SPUBLISH", "{s}3", "m"]).unwrap(), Reply::Int(0));
    assert_eq!(
        client.command(&["PUBSUB", "FOO"]).unwrap_err().to_string(),
        "ERR unknown subcommand 'FOO'. Try PUBSUB HELP."
    );
    assert!(client
        .command(&["SUBSCRIBE", "a"])
        .unwrap_err()
        .to_string()
        .starts_with("ERR 'subscribe' needs a subscriber"));
    let stats = client.stats().pubsub;
    assert_eq!((stats.channels, stats.patterns, stats.shard_channels), (2, 2, 2));
    let info = client.command(&["INFO", "stats"]).unwrap().to_string();
    assert!(
        info.contains("pubsub_channels:2")
            && info.contains("pubsub_patterns:2")
            && info.contains("pubsubshard_channels:2"),
        "{info}"
    );
    drop((s1, s2, p, p2, sh));
    assert_eq!(client.command(&["PUBSUB", "CHANNELS"]).unwrap(), Reply::Array(vec![]));
    assert_eq!(client.command(&["PUBSUB", "NUMPAT"]).unwrap(), Reply::Int(0));
}

#[test]
fn subscriptions_iterate_until_they_hold_nothing() {
    let client = Cluster::builder().build().unwrap().client();
    let sub = Arc::new(client.subscribe(&["it"]).unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (sub, got) = (sub.clone(), got.clone());
        std::thread::spawn(move || {
            for m in sub.iter() {
                got.lock().unwrap().push(text(&m.payload));
            }
        })
    };
    for i in 0..5 {
        client.publish("it", i.to_string()).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    while got.lock().unwrap().len() < 5 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    sub.unsubscribe(&["it"]);
    reader.join().unwrap();
    assert_eq!(*got.lock().unwrap(), ["0", "1", "2", "3", "4"]);
}
