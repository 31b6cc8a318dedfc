//! Streams beyond the differential test: blocked readers (XREAD and XREADGROUP, woken by
//! XADD, in arrival order, timing out, following their slot across a migration), streams
//! moving with key-by-key migrations and replicating to replicas, and their memory.

use slotstore::{key_slot, Client, Cluster, MigrationMode, Reply, StreamId};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn cmd(c: &Client, words: &str) -> Result<Reply, String> {
    let a: Vec<&str> = words.split(' ').collect();
    c.command(&a).map_err(|e| e.to_string())
}

/// Waits until `n` callers are blocked in the whole cluster (`blocked_clients`).
fn until_blocked(c: &Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.stats().total.blocked_clients != n {
        assert!(
            Instant::now() < deadline,
            "{} callers blocked, not {n}",
            c.stats().total.blocked_clients
        );
        std::thread::yield_now();
    }
}

/// Starts a thread that runs the blocking command `words` and sends its reply; returns once
/// the caller is blocked (one more caller in `blocked_clients`).
fn spawn_reader(c: &Client, words: &str, tx: &mpsc::Sender<(usize, Result<Reply, String>)>, id: usize) {
    let before = c.stats().total.blocked_clients;
    let (c2, tx, words) = (c.clone(), tx.clone(), words.to_string());
    std::thread::spawn(move || {
        let r = cmd(&c2, &words);
        tx.send((id, r)).unwrap();
    });
    until_blocked(c, before + 1);
}

fn ids_of(r: &Reply) -> Vec<String> {
    // [[key, [[id, fields]...]]...] -> ids of the first stream.
    r.as_array()
        .and_then(|s| s.first())
        .and_then(|s| s.as_array())
        .and_then(|s| s.get(1))
        .and_then(|e| e.as_array())
        .map(|es| {
            es.iter()
                .filter_map(|e| {
                    e.as_array()?.first()?.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn xread_block_wakes_on_xadd_with_only_new_entries() {
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let (reader, writer) = (cluster.client(), cluster.client());
    writer.xadd("log", Some(StreamId::new(1, 0)), &[("a", "old")]).unwrap();
    let t = std::thread::spawn(move || {
        let got = reader.xread("log", None, None, Some(Duration::from_secs(20)));
        (Instant::now(), got)
    });
    until_blocked(&writer, 1);
    let added = Instant::now();
    let id = writer.xadd("log", Some(StreamId::new(2, 0)), &[("a", "new")]).unwrap();
    let (woke, got) = t.join().unwrap();
    assert!(woke.duration_since(added) < Duration::from_secs(2));
    let got = got.unwrap();
    assert_eq!(got.len(), 1, "`$` means entries added after the call: {got:?}");
    assert_eq!(got[0].0, id);
    assert_eq!(&got[0].1[0].1[..], b"new");
    // Without BLOCK nothing waits.
    assert_eq!(cmd(&writer, "XREAD STREAMS log $"), Ok(Reply::Nil));
    assert_eq!(
        cmd(&writer, "XREAD COUNT 1 STREAMS log 0"),
        Ok(cmd(&writer, "XREAD COUNT 1 STREAMS log 0-0").unwrap())
    );
}

#[test]
fn blocked_group_readers_are_served_in_arrival_order() {
    let cluster = Cluster::builder().build().unwrap();
    let c = cluster.client();
    c.xgroup_create("jobs", "workers", None, true).unwrap();
    let (tx, rx) = mpsc::channel();
    for (id, name) in ["w0", "w1", "w2"].iter().enumerate() {
        spawn_reader(
            &c,
            &format!("XREADGROUP GROUP workers {name} COUNT 1 BLOCK 20000 STREAMS jobs >"),
            &tx,
            id,
        );
    }
    for i in 1..=3 {
        c.xadd("jobs", Some(StreamId::new(i, 0)), &[("job", i.to_string())]).unwrap();
    }
    let mut got: Vec<(usize, Vec<String>)> = (0..3)
        .map(|_| {
            let (id, r) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
            (id, ids_of(&r.unwrap()))
        })
        .collect();
    got.sort();
    assert_eq!(got, vec![(0, vec!["1-0".into()]), (1, vec!["2-0".into()]), (2, vec!["3-0".into()])]);
    // Each delivery is pending for its reader until acknowledged.
    assert_eq!(
        cmd(&c, "XPENDING jobs workers").unwrap().to_string(),
        "1) (integer) 3\n2) \"1-0\"\n3) \"3-0\"\n4) 1) 1) \"w0\"\n      2) \"1\"\n   2) 1) \"w1\"\n      2) \"1\"\n   3) 1) \"w2\"\n      2) \"1\""
    );
    assert_eq!(c.xack("jobs", "workers", &[StreamId::new(1, 0), StreamId::new(2, 0)]), Ok(2));
}

#[test]
fn blocked_readers_time_out_with_nil() {
    let cluster = Cluster::builder().build().unwrap();
    let c = cluster.client();
    let start = Instant::now();
    assert_eq!(cmd(&c, "XREAD BLOCK 100 STREAMS nothing $"), Ok(Reply::Nil));
    c.xgroup_create("q", "g", None, true).unwrap();
    assert_eq!(cmd(&c, "XREADGROUP GROUP g c BLOCK 50 STREAMS q >"), Ok(Reply::Nil));
    assert!(c.xread("q", None, None, Some(Duration::from_millis(50))).unwrap().is_empty());
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(5), "{waited:?}");
    // Nothing is left waiting: a later entry stays unread by anyone.
    c.xadd("q", None, &[("k", "v")]).unwrap();
    assert_eq!(cmd(&c, "XPENDING q g").unwrap().as_array().unwrap()[0], Reply::Int(0));
    assert_eq!(
        cmd(&c, "XREAD BLOCK abc STREAMS q $"),
        Err("ERR timeout is not an integer or out of range".into())
    );
    assert_eq!(cmd(&c, "XREAD BLOCK -1 STREAMS q $"), Err("ERR timeout is negative".into()));
}

#[test]
fn blocked_reader_follows_its_slot_across_a_migration() {
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let c = cluster.client();
    c.xadd("feed", Some(StreamId::new(1, 0)), &[("n", "1")]).unwrap();
    c.xgroup_create("feed", "g", None, false).unwrap();
    let slot = key_slot("feed");
    let from = cluster.slot_owner(slot).unwrap();
    let to = cluster.primaries().into_iter().find(|p| *p != from).unwrap();
    let (tx, rx) = mpsc::channel();
    spawn_reader(&c, "XREAD BLOCK 20000 STREAMS feed $", &tx, 0);
    spawn_reader(&c, "XREADGROUP GROUP g c1 BLOCK 20000 STREAMS feed >", &tx, 1);
    cluster.migrate_slot(slot, to).unwrap();
    assert_eq!(cluster.slot_owner(slot), Some(to));
    c.xadd("feed", Some(StreamId::new(2, 0)), &[("n", "2")]).unwrap();
    let mut got: Vec<(usize, Vec<String>)> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap())
        .map(|(i, r)| (i, ids_of(&r.unwrap())))
        .collect();
    got.sort();
    assert_eq!(got, vec![(0, vec!["2-0".into()]), (1, vec!["2-0".into()])]);
    // The stream and its group moved whole.
    assert_eq!(c.xlen("feed"), Ok(2));
    assert_eq!(cmd(&c, "XINFO GROUPS feed").unwrap().as_array().unwrap().len(), 1);
}

#[test]
fn streams_move_key_by_key_and_replicate() {
    let cluster = Cluster::builder().primaries(2).replicas(1).build().unwrap();
    let c = cluster.client();
    for i in 1..=300 {
        c.xadd("{s}log", Some(StreamId::new(i, 0)), &[("i", i.to_string())]).unwrap();
    }
    c.xgroup_create("{s}log", "g", Some(StreamId::MIN), false).unwrap();
    assert_eq!(c.xread_group("g", "c", "{s}log", Some(10), None).unwrap().len(), 10);
    let before = cmd(&c, "XINFO STREAM {s}log").unwrap();
    let pending = cmd(&c, "XPENDING {s}log g").unwrap();
    let slot = key_slot("{s}log");
    let from = cluster.slot_owner(slot).unwrap();
    let to = cluster.primaries().into_iter().find(|p| *p != from).unwrap();
    let mut m = cluster.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
    m.finish().unwrap();
    assert_eq!(cluster.slot_owner(slot), Some(to));
    assert_eq!(cmd(&c, "XINFO STREAM {s}log").unwrap(), before);
    assert_eq!(cmd(&c, "XPENDING {s}log g").unwrap(), pending);
    assert_eq!(cmd(&c, "TYPE {s}log"), Ok(Reply::Simple("stream".into())));
    assert_eq!(cmd(&c, "OBJECT ENCODING {s}log"), Ok(Reply::bulk("stream")));
    // The replicas hold the same stream: read it from the replica once it caught up.
    assert_eq!(cmd(&c, "WAIT 1 5000"), Ok(Reply::Int(1)));
    let replica = cluster.replicas_of(to)[0];
    // A replica serves reads to a reader that asked for replica reads (READONLY).
    let reader = c.clone().read_from(slotstore::ReadFrom::Replica);
    let r = reader.command_at(replica, false, &["XRANGE", "{s}log", "299", "+"]).unwrap();
    assert_eq!(r.as_array().map(<[Reply]>::len), Some(2));
}

/// What an entry costs: a stream of 100 000 small entries, measured by the store's own
/// accounting (redis-server 7.0.15's `MEMORY USAGE` for the same stream, written in the
/// README, is the comparison).
#[test]
fn bytes_per_stream_entry() {
    let cluster = Cluster::builder().build().unwrap();
    let c = cluster.client();
    c.xadd("warm", None, &[("f", "v")]).unwrap();
    let base = c.memory_used();
    let n = 100_000u64;
    for i in 1..=n {
        c.xadd(
            "m",
            Some(StreamId::new(1_700_000_000_000 + i, 0)),
            &[("user", "u1234"), ("event", "click")],
        )
        .unwrap();
    }
    let per = (c.memory_used() - base) as f64 / n as f64;
    eprintln!("streams: {per:.1} bytes per entry (2 fields, 19 bytes of fields and values)");
    assert!(per < 30.0, "{per}: entries with the same field names store them once per node");
    let usage = cmd(&c, "MEMORY USAGE m").unwrap().as_int().unwrap() as f64;
    assert!((usage / n as f64 - per).abs() < 5.0, "MEMORY USAGE agrees: {usage}");
}

#[test]
fn a_destroyed_group_unblocks_its_readers_with_redis_error() {
    let cluster = Cluster::builder().build().unwrap();
    let c = cluster.client();
    c.xgroup_create("q", "g", None, true).unwrap();
    let (tx, rx) = mpsc::channel();
    spawn_reader(&c, "XREADGROUP GROUP g c BLOCK 20000 STREAMS q >", &tx, 0);
    assert_eq!(cmd(&c, "XGROUP DESTROY q g"), Ok(Reply::Int(1)));
    let (_, r) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(r, Err("NOGROUP the consumer group this client was blocked on no longer exists".into()));
    // Before blocking, a missing group is the usual error.
    assert_eq!(
        cmd(&c, "XREADGROUP GROUP g c BLOCK 10 STREAMS q >"),
        Err("NOGROUP No such key 'q' or consumer group 'g' in XREADGROUP with GROUP option".into())
    );
}

/// Over the memory budget (noeviction), what adds entries is refused with OOM, as Redis's
/// `denyoom` commands are, and what reads, acknowledges or deletes still runs.
#[test]
fn over_budget_streams_refuse_growth_only() {
    let cluster = Cluster::builder().max_memory(200_000).build().unwrap();
    let c = cluster.client();
    c.xgroup_create("s", "g", Some(StreamId::MIN), true).unwrap();
    let mut i = 0u64;
    let err = loop {
        i += 1;
        match c.xadd("s", Some(StreamId::new(i, 0)), &[("payload", "x".repeat(200))]) {
            Ok(_) => assert!(i < 100_000, "the budget never filled"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.to_string(), "OOM command not allowed when used memory > 'maxmemory'.");
    let got = c.xread_group("g", "c", "s", Some(5), None).unwrap();
    assert_eq!(got.len(), 5, "XREADGROUP has no denyoom");
    assert_eq!(c.xack("s", "g", &[got[0].0]), Ok(1));
    assert_eq!(cmd(&c, "XRANGE s - + COUNT 1").map(|r| r.as_array().map(<[Reply]>::len)), Ok(Some(1)));
    assert_eq!(cmd(&c, "XTRIM s MAXLEN 10").map(|r| r.as_int().is_some()), Ok(true));
    assert!(c.xadd("s", None, &[("after", "trim")]).is_ok(), "room again after trimming");
}
