//! The chat service the data types exist for, on a 3-primary store. Everything about one room
//! lives under the room's hash tag, so it lives in one slot on one primary and multi-key
//! commands on it are legal:
//!
//! - `chat:{room42}:log`     list: the room's last 100 messages (RPUSH + LTRIM)
//! - `chat:{room42}:inbox`   list: new messages waiting for the delivery thread (BLPOP)
//! - `chat:{room42}:members` set: who is in the room
//! - `chat:{room42}:unread`  hash: unread counter per member
//! - `chat:{room42}:board`   sorted set: messages sent per member (the leaderboard)
//!
//! A delivery thread blocks on `BLPOP chat:{room42}:inbox`; each message wakes it, and it bumps
//! the unread counter of every other member and the sender's score.
//!
//! Then the real-time path: each message is appended to the room's log and published on the
//! room's shard channel `chat:{room42}:live` (`SPUBLISH`), which hashes to the room's slot.
//! Three members' threads hold sharded subscriptions and print what they see while the room's
//! slot moves between primaries twice; every member gets every message, in each sender's order.
//!
//! Run with `cargo run --release --example chat`.

use slotstore::{key_slot, Bytes, Client, Cluster, Error};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const LOG: &str = "chat:{room42}:log";
const INBOX: &str = "chat:{room42}:inbox";
const MEMBERS: &str = "chat:{room42}:members";
const UNREAD: &str = "chat:{room42}:unread";
const BOARD: &str = "chat:{room42}:board";
const LIVE: &str = "chat:{room42}:live";

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Posts a message: kept in the log (the last 100), queued for delivery.
fn post(c: &Client, from: &str, body: &str) -> Result<(), Error> {
    let line = format!("{from}: {body}");
    c.rpush(LOG, &[&line])?;
    c.command(&["LTRIM", LOG, "-100", "-1"])?;
    c.rpush(INBOX, &[format!("{from}|{}|{body}", nanos())])?;
    Ok(())
}

/// Nanoseconds since the first call (to measure how long a message waits for delivery).
fn nanos() -> u128 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos()
}

/// What the delivery thread did.
#[derive(Default)]
struct Delivered {
    messages: usize,
    /// Push-to-wake latencies, in microseconds.
    latencies_us: Vec<f64>,
}

/// The delivery thread: blocked on BLPOP until a message arrives; bumps every other member's
/// unread counter and the sender's score. Stops when `stop` is set and the inbox is idle.
fn deliver(c: Client, stop: Arc<AtomicBool>, verbose_first: usize) -> Result<Delivered, Error> {
    let mut done = Delivered::default();
    loop {
        let Some((_, msg)) = c.blpop(&[INBOX], Duration::from_millis(200))? else {
            if stop.load(Ordering::Acquire) {
                return Ok(done);
            }
            continue;
        };
        let woke = nanos();
        let msg = text(&msg);
        let mut parts = msg.splitn(3, '|');
        let (from, sent, body) =
            (parts.next().unwrap_or(""), parts.next().unwrap_or("0"), parts.next().unwrap_or(""));
        let sent: u128 = sent.parse().unwrap_or(woke);
        done.latencies_us.push((woke.saturating_sub(sent)) as f64 / 1000.0);
        for member in c.smembers(MEMBERS)? {
            if &member[..] != from.as_bytes() {
                c.hincr_by(UNREAD, &member, 1)?;
            }
        }
        c.zincr_by(BOARD, 1.0, from)?;
        done.messages += 1;
        if done.messages <= verbose_first {
            println!(
                "  [delivery] woke after {:>6.1} us for {from}: {body:?}",
                done.latencies_us.last().copied().unwrap_or(0.0)
            );
        }
    }
}

fn show_unread(c: &Client) -> Result<(), Error> {
    let mut unread: Vec<(String, String)> =
        c.hgetall(UNREAD)?.iter().map(|(f, v)| (text(f), text(v))).collect();
    unread.sort();
    let shown: Vec<String> = unread.iter().map(|(f, v)| format!("{f}={v}")).collect();
    println!("unread: {}", shown.join(" "));
    Ok(())
}

fn show_board(c: &Client) -> Result<(), Error> {
    let top = c.zrevrange(BOARD, 0, 2)?;
    let shown: Vec<String> = top.iter().map(|(m, s)| format!("{} ({s})", text(m))).collect();
    println!("leaderboard top 3: {}", shown.join(", "));
    Ok(())
}

fn main() -> Result<(), Error> {
    let cluster = Cluster::builder().primaries(3).build()?;
    let client = cluster.client();
    nanos();

    println!("== Room 42: every key shares the tag {{room42}}, so one slot on one primary ==");
    for key in [LOG, INBOX, MEMBERS, UNREAD, BOARD] {
        let slot = key_slot(key);
        println!("{key:<24} slot {slot:>5} on {:?}", cluster.slot_owner(slot).expect("slot assigned"));
    }

    println!("\n== Members join (a set) ==");
    let people = ["alice", "bob", "carol", "dave"];
    client.sadd(MEMBERS, &people)?;
    client.sadd(MEMBERS, &["alice"])?; // already in: a set keeps one
    let mut members: Vec<String> = client.smembers(MEMBERS)?.iter().map(text).collect();
    members.sort();
    println!("members ({}): {}", client.scard(MEMBERS)?, members.join(", "));

    println!("\n== The delivery thread blocks on BLPOP {INBOX} ==");
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (c, stop) = (client.clone(), Arc::clone(&stop));
        thread::spawn(move || deliver(c, stop, 8))
    };
    thread::sleep(Duration::from_millis(50));
    println!("(inbox length {} while it waits)", client.llen(INBOX)?);

    let script = [
        ("alice", "hi all"),
        ("bob", "hey alice"),
        ("carol", "who's up for lunch?"),
        ("alice", "me"),
        ("alice", "12:30?"),
        ("dave", "count me in"),
        ("bob", "same"),
        ("alice", "see you there"),
    ];
    for (from, body) in script {
        post(&client, from, body)?;
        thread::sleep(Duration::from_millis(20)); // let the consumer block again each time
    }
    thread::sleep(Duration::from_millis(50));
    println!("\nlog (a list, oldest first):");
    for line in client.lrange(LOG, 0, -1)? {
        println!("  {}", text(&line));
    }
    show_unread(&client)?;
    show_board(&client)?;

    println!("\n== bob reads the last 3 messages and clears his counter ==");
    for line in client.lrange(LOG, -3, -1)? {
        println!("  {}", text(&line));
    }
    client.hset(UNREAD, &[("bob", "0")])?;
    show_unread(&client)?;

    println!("\n== dave leaves ==");
    client.srem(MEMBERS, &["dave"])?;
    client.hdel(UNREAD, &["dave"])?;
    println!(
        "dave is member: {}, members left: {}",
        client.sismember(MEMBERS, "dave")?,
        client.scard(MEMBERS)?
    );

    println!("\n== A burst: 3 threads post 2000 messages each; the delivery thread drains the inbox ==");
    let started = Instant::now();
    let senders: Vec<_> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|who| {
            let c = client.clone();
            thread::spawn(move || -> Result<(), Error> {
                for i in 0..2000 {
                    post(&c, who, &format!("burst {i}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender thread")?;
    }
    let posted = started.elapsed();
    while client.llen(INBOX)? > 0 {
        thread::sleep(Duration::from_millis(1));
    }
    let drained = started.elapsed();
    stop.store(true, Ordering::Release);
    let delivered = consumer.join().expect("delivery thread")?;
    println!(
        "6000 posts in {posted:.1?} ({:.0} posts/s, each RPUSH + LTRIM + RPUSH); inbox drained after {drained:.1?}",
        6000.0 / posted.as_secs_f64()
    );
    let mut lat = delivered.latencies_us.clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    println!(
        "delivered {} messages; push-to-delivery wait (queueing behind the burst included): median {:.1} us, p99 {:.1} us, max {:.1} us",
        delivered.messages,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "log kept {} messages (LTRIM -100 -1); last: {}",
        client.llen(LOG)?,
        text(&client.lrange(LOG, -1, -1)?[0])
    );
    show_unread(&client)?;
    show_board(&client)?;
    let busy = client.zrange_by_score(BOARD, 2003.0, f64::INFINITY)?;
    let busy: Vec<String> = busy.iter().map(|(m, s)| format!("{} ({s})", text(m))).collect();
    println!("ZRANGEBYSCORE board 2003 +inf: {}", busy.join(", "));

    // Everything checks out: 8 + 6000 messages, each counted once.
    let total: f64 = client.zrange(BOARD, 0, -1)?.iter().map(|(_, s)| s).sum();
    assert_eq!(delivered.messages, 6008);
    assert_eq!(total, 6008.0);

    println!("\n== Types are enforced, and a room's keys stay together ==");
    for words in [
        &["TYPE", LOG][..],
        &["TYPE", MEMBERS],
        &["TYPE", UNREAD],
        &["TYPE", BOARD],
        &["GET", LOG],
        &["SUNION", MEMBERS, "chat:{room42}:none"],
        &["SUNION", MEMBERS, "chat:{room7}:members"],
    ] {
        let shown = match client.command(words) {
            Ok(r) => r.to_string(),
            Err(e) => format!("(error) {e}"),
        };
        println!("> {}\n{shown}", words.join(" "));
    }
    live_room(&cluster, &client)?;
    println!("\nmemory used by the store: {} bytes", client.memory_used());
    Ok(())
}

/// Says something in the room: appended to its log, then pushed to everyone listening on the
/// room's shard channel. Returns how many listeners it reached.
fn say(c: &Client, from: &str, body: &str) -> Result<usize, Error> {
    let line = format!("{from}: {body}");
    c.rpush(LOG, &[&line])?;
    c.spublish(LIVE, &line)
}

/// The real-time path: three listeners, two talkers, and the room's slot moved twice while
/// they talk.
fn live_room(cluster: &Cluster, client: &Client) -> Result<(), Error> {
    const EACH: usize = 200;
    println!(
        "\n== Live: SPUBLISH on {LIVE} (slot {}), 3 listeners, the slot moves twice ==",
        key_slot(LIVE)
    );
    let listeners: Vec<_> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|who| {
            let sub = client.ssubscribe(&[LIVE])?;
            Ok(thread::spawn(move || {
                let mut seen: Vec<String> = Vec::new();
                for msg in &sub {
                    let line = text(&msg.payload);
                    if seen.len() < 2 {
                        println!("  [{who} sees] {line}");
                    }
                    if line == "host: bye" {
                        break;
                    }
                    seen.push(line);
                }
                (who, seen)
            }))
        })
        .collect::<Result<_, Error>>()?;
    let talkers: Vec<_> = ["dave", "erin"]
        .into_iter()
        .map(|who| {
            let c = client.clone();
            thread::spawn(move || -> Result<(), Error> {
                for i in 0..EACH {
                    assert_eq!(say(&c, who, &format!("line {i}"))?, 3, "every listener reached");
                    if i % 20 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let slot = key_slot(LIVE);
    for _ in 0..2 {
        thread::sleep(Duration::from_millis(5));
        let from = cluster.slot_owner(slot).expect("served");
        let to = cluster.primaries().into_iter().find(|p| *p != from).expect("another primary");
        let started = Instant::now();
        cluster.migrate_slot(slot, to)?;
        println!(
            "  room's slot moved {from:?} -> {to:?} in {:.1?} while they talked",
            started.elapsed()
        );
    }
    for t in talkers {
        t.join().expect("talker")?;
    }
    say(client, "host", "bye")?;
    for l in listeners {
        let (who, seen) = l.join().expect("listener");
        for talker in ["dave", "erin"] {
            let mine: Vec<&String> = seen.iter().filter(|l| l.starts_with(talker)).collect();
            let in_order = mine.iter().enumerate().all(|(i, l)| **l == format!("{talker}: line {i}"));
            assert!(mine.len() == EACH && in_order, "{who} missed or reordered {talker}'s lines");
        }
        println!("  {who} got all {} lines, each talker's in order", seen.len());
    }
    println!("  log holds {} lines; PUBSUB SHARDNUMSUB now: {}", client.llen(LOG)?, {
        client.command(&["PUBSUB", "SHARDNUMSUB", LIVE])?.to_string().replace('\n', " ")
    });
    Ok(())
}
