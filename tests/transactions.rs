//! MULTI/EXEC/WATCH sessions, closure transactions, and the opt-in cross-slot mode.

use slotstore::{key_slot, Cluster, Error, Reply};
use std::sync::atomic::{AtomicUsize, Ordering};

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn cluster(cross: bool) -> Cluster {
    Cluster::builder().primaries(3).allow_cross_slot(cross).build().unwrap()
}

fn int(v: Option<slotstore::Bytes>) -> i64 {
    v.map_or(0, |b| std::str::from_utf8(&b).unwrap().parse().unwrap())
}

#[test]
fn multi_exec_follows_redis_rules() {
    let client = cluster(false).client();
    let mut s = client.session();
    let mut run = |cmd: &str| s.command(&words(cmd));
    assert_eq!(run("EXEC").unwrap_err().to_string(), "ERR EXEC without MULTI");
    assert_eq!(run("DISCARD").unwrap_err().to_string(), "ERR DISCARD without MULTI");
    assert_eq!(run("MULTI").unwrap(), Reply::ok());
    assert_eq!(run("MULTI").unwrap_err().to_string(), "ERR MULTI calls can not be nested");
    assert_eq!(run("WATCH {u}a").unwrap_err().to_string(), "ERR WATCH inside MULTI is not allowed");
    assert_eq!(run("INCR {u}a").unwrap(), Reply::Simple("QUEUED".into()));
    assert_eq!(run("SET {u}b x").unwrap().to_string(), "QUEUED");
    assert_eq!(run("INCR {u}b").unwrap().to_string(), "QUEUED");
    assert_eq!(run("PING").unwrap().to_string(), "QUEUED");
    // A runtime error is that command's reply; nothing rolls back.
    let r = run("EXEC").unwrap();
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::Int(1),
            Reply::ok(),
            Reply::Error(Error::Command("value is not an integer or out of range".into())),
            Reply::Simple("PONG".into()),
        ])
    );
    // A queue-time error discards the whole transaction.
    run("MULTI").unwrap();
    run("INCR {u}a").unwrap();
    assert_eq!(
        run("SET {u}a").unwrap_err().to_string(),
        "ERR wrong number of arguments for 'set' command"
    );
    assert!(run("NOSUCH x").is_err());
    assert_eq!(run("EXEC").unwrap_err(), Error::ExecAbort);
    assert_eq!(client.get("{u}a").unwrap().unwrap(), "1");
    // DISCARD drops the queue.
    run("MULTI").unwrap();
    run("INCR {u}a").unwrap();
    assert_eq!(run("DISCARD").unwrap(), Reply::ok());
    assert_eq!(client.get("{u}a").unwrap().unwrap(), "1");
}

#[test]
fn transactions_keep_to_one_slot_by_default() {
    let client = cluster(false).client();
    client.set("a", "1").unwrap();
    let mut s = client.session();
    s.command(&["MULTI"]).unwrap();
    assert_eq!(s.command(&["MSET", "a", "2", "b", "2"]), Err(Error::CrossSlot));
    assert_eq!(s.command(&["EXEC"]), Err(Error::ExecAbort));
    // Each command alone is fine, but together they span slots: EXEC refuses.
    s.command(&["MULTI"]).unwrap();
    s.command(&["SET", "a", "3"]).unwrap();
    s.command(&["SET", "b", "3"]).unwrap();
    assert_eq!(s.command(&["EXEC"]), Err(Error::CrossSlot));
    assert_eq!(client.get("a").unwrap().unwrap(), "1");
    assert_eq!(client.get("b").unwrap(), None);
    // Keyless commands that span the store are refused inside MULTI.
    s.command(&["MULTI"]).unwrap();
    assert!(s.command(&["DBSIZE"]).unwrap_err().to_string().starts_with("ERR Command not allowed"));
    assert_eq!(s.command(&["DISCARD"]).unwrap(), Reply::ok());
    // The plain client has no connection state.
    assert!(client.command(&["MULTI"]).unwrap_err().to_string().contains("session"));
    assert_eq!(client.command(&["UNWATCH"]).unwrap(), Reply::ok());
    assert_eq!(client.transaction(&["a", "b"], |_| Ok(())), Err(Error::CrossSlot));
}

#[test]
fn watch_aborts_exec_when_a_watched_key_changes() {
    let client = cluster(false).client();
    let other = client.clone();
    let mut s = client.session();
    // Changed by another client.
    s.command(&["WATCH", "{w}k"]).unwrap();
    other.set("{w}k", "x").unwrap();
    s.command(&["MULTI"]).unwrap();
    s.command(&["SET", "{w}k", "mine"]).unwrap();
    assert_eq!(s.command(&["EXEC"]).unwrap(), Reply::Nil);
    assert_eq!(client.get("{w}k").unwrap().unwrap(), "x");
    // Changed by this session itself, as Redis counts it.
    s.command(&["WATCH", "{w}k"]).unwrap();
    s.command(&["SET", "{w}k", "y"]).unwrap();
    s.command(&["MULTI"]).unwrap();
    s.command(&["GET", "{w}k"]).unwrap();
    assert_eq!(s.command(&["EXEC"]).unwrap(), Reply::Nil);
    // A write to another key of the same slot is no conflict.
    s.command(&["WATCH", "{w}k"]).unwrap();
    other.set("{w}other", "z").unwrap();
    s.command(&["MULTI"]).unwrap();
    s.command(&["GET", "{w}k"]).unwrap();
    assert_eq!(s.command(&["EXEC"]).unwrap(), Reply::Array(vec![Reply::bulk("y")]));
    // UNWATCH forgets; EXEC unwatches too.
    s.command(&["WATCH", "{w}k"]).unwrap();
    s.command(&["UNWATCH"]).unwrap();
    other.set("{w}k", "again").unwrap();
    s.command(&["MULTI"]).unwrap();
    s.command(&["GET", "{w}k"]).unwrap();
    assert_eq!(s.command(&["EXEC"]).unwrap(), Reply::Array(vec![Reply::bulk("again")]));
    // Deleting or flushing a watched key is a change.
    s.command(&["WATCH", "{w}k"]).unwrap();
    client.command(&["FLUSHALL"]).unwrap();
    s.command(&["MULTI"]).unwrap();
    s.command(&["SET", "{w}k", "1"]).unwrap();
    assert_eq!(s.command(&["EXEC"]).unwrap(), Reply::Nil);
}

/// Optimistic increments with WATCH from many threads: every conflict is detected, so the
/// counter ends exactly at the number of successful EXECs.
#[test]
fn watch_conflicts_are_detected_every_time() {
    let c = cluster(false);
    let successes = AtomicUsize::new(0);
    let aborts = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (client, successes, aborts) = (c.client(), &successes, &aborts);
            scope.spawn(move || {
                let mut s = client.session();
                for _ in 0..500 {
                    loop {
                        s.command(&["WATCH", "{c}n"]).unwrap();
                        let n = int(client.get("{c}n").unwrap());
                        s.command(&["MULTI"]).unwrap();
                        s.command(&["SET", "{c}n", &(n + 1).to_string()]).unwrap();
                        if s.command(&["EXEC"]).unwrap() == Reply::Nil {
                            aborts.fetch_add(1, Ordering::Relaxed);
                        } else {
                            successes.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(successes.load(Ordering::Relaxed), 2000);
    assert_eq!(int(c.client().get("{c}n").unwrap()), 2000);
}

#[test]
fn closure_transactions_read_their_writes_and_stay_in_declared_slots() {
    let client = cluster(false).client();
    let r = client.transaction(&["{t}a", "{t}b"], |tx| {
        tx.set("{t}a", "5")?;
        assert_eq!(tx.get("{t}a")?.unwrap(), "5");
        tx.incr_by("{t}a", 2)?;
        tx.command(&["APPEND", "{t}b", "xy"])?;
        assert!(tx.get("other").is_err(), "an undeclared slot is refused");
        tx.exists(&["{t}a", "{t}b", "{t}c"])
    });
    assert_eq!(r, Ok(2));
    assert_eq!(client.get("{t}a").unwrap().unwrap(), "7");
    assert_eq!(client.get("{t}b").unwrap().unwrap(), "xy");
}

/// With `allow_cross_slot`, transfers between keys on different primaries conserve the total
/// under concurrent load, and readers never see money in flight.
#[test]
fn cross_slot_transfers_conserve_the_total() {
    let c = cluster(true);
    let accounts: Vec<String> = (0..6).map(|i| format!("acct:{i}")).collect();
    let owners: std::collections::HashSet<_> =
        accounts.iter().map(|a| c.slot_owner(key_slot(a)).unwrap()).collect();
    assert!(owners.len() >= 2, "accounts span primaries");
    let client = c.client();
    for a in &accounts {
        client.set(a, "1000").unwrap();
    }
    let writers_left = AtomicUsize::new(3);
    std::thread::scope(|scope| {
        for t in 0..3usize {
            let (client, accounts, writers_left) = (c.client(), &accounts, &writers_left);
            scope.spawn(move || {
                let mut s = client.session();
                for i in 0..1500usize {
                    let from = &accounts[(i + t) % accounts.len()];
                    let to = &accounts[(i * 7 + t + 1) % accounts.len()];
                    if from == to {
                        continue;
                    }
                    match i % 3 {
                        0 => {
                            client
                                .transaction(&[from, to], |tx| {
                                    tx.incr_by(from, -3)?;
                                    tx.incr_by(to, 3)
                                })
                                .unwrap();
                        }
                        1 => {
                            s.command(&["MULTI"]).unwrap();
                            s.command(&["DECRBY", from, "2"]).unwrap();
                            s.command(&["INCRBY", to, "2"]).unwrap();
                            let r = s.command(&["EXEC"]).unwrap();
                            assert_eq!(r.as_array().unwrap().len(), 2);
                        }
                        _ => {
                            // One cross-slot MSET moves a value pair atomically.
                            client
                                .transaction(&[from, to], |tx| {
                                    let f = int(tx.get(from)?);
                                    let t = int(tx.get(to)?);
                                    tx.command(&[
                                        "MSET",
                                        from,
                                        &(f - 1).to_string(),
                                        to,
                                        &(t + 1).to_string(),
                                    ])
                                })
                                .unwrap();
                        }
                    }
                }
                writers_left.fetch_sub(1, Ordering::Release);
            });
        }
        let (client, accounts, writers_left) = (c.client(), &accounts, &writers_left);
        scope.spawn(move || {
            let mut reads = 0;
            while writers_left.load(Ordering::Acquire) > 0 || reads < 200 {
                let total: i64 = client.mget(accounts).unwrap().into_iter().map(int).sum();
                assert_eq!(total, 6000, "a reader saw money in flight");
                reads += 1;
            }
        });
    });
    let total: i64 = accounts.iter().map(|a| int(client.get(a).unwrap())).sum();
    assert_eq!(total, 6000);
}

#[test]
fn cross_slot_commands_are_atomic_and_split_helpers_are_not() {
    let atomic = cluster(true).client();
    atomic.mset(&[("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(
        atomic.command(&["MGET", "a", "b"]).unwrap(),
        Reply::Array(vec![Reply::bulk("1"), Reply::bulk("2")])
    );
    assert_eq!(atomic.del(&["a", "b", "c"]).unwrap(), 2);

    let strict = cluster(false).client();
    strict.mset_nonatomic(&[("a", "1"), ("b", "2"), ("{a}x", "3")]).unwrap();
    assert_eq!(
        strict.mget_nonatomic(&["b", "a", "nope", "{a}x"]).unwrap(),
        vec![Some("2".into()), Some("1".into()), None, Some("3".into())]
    );
    assert_eq!(strict.del_nonatomic(&["a", "b", "nope"]).unwrap(), 2);
    assert_eq!(strict.mget(&["a", "b"]), Err(Error::CrossSlot));
}

/// Cases of Redis's own `unit/multi` and `unit/type/set` suites: `FLUSHALL` modifies only the
/// watched keys that held something; an `SMOVE` of a member the destination has leaves it
/// unmodified; over the memory budget a write that may grow memory is refused as it is queued
/// (`OOM`), so `EXEC` aborts and `DISCARD` still works.
#[test]
fn watch_and_queueing_as_redis_on_flushall_smove_and_oom() {
    let client = cluster(false).client();
    let mut s = client.session();
    let mut run = |cmd: &str| s.command(&words(cmd));
    run("WATCH {f}absent").unwrap();
    client.command(&["FLUSHALL"]).unwrap();
    run("MULTI").unwrap();
    run("PING").unwrap();
    assert_eq!(run("EXEC").unwrap(), Reply::Array(vec![Reply::Simple("PONG".into())]));
    client.set("{f}x", "1").unwrap();
    run("WATCH {f}x").unwrap();
    client.command(&["FLUSHALL"]).unwrap();
    run("MULTI").unwrap();
    run("PING").unwrap();
    assert_eq!(run("EXEC").unwrap(), Reply::Nil, "a flushed key that existed is modified");

    client.command(&["SADD", "{f}src", "a", "b"]).unwrap();
    client.command(&["SADD", "{f}dst", "a"]).unwrap();
    run("WATCH {f}dst").unwrap();
    run("MULTI").unwrap();
    run("SADD {f}dst c").unwrap();
    assert_eq!(client.command(&["SMOVE", "{f}src", "{f}dst", "a"]).unwrap(), Reply::Int(1));
    assert_eq!(run("EXEC").unwrap(), Reply::Array(vec![Reply::Int(1)]));
    assert_eq!(client.command(&["SCARD", "{f}dst"]).unwrap(), Reply::Int(2));

    client.set_max_memory(Some(1), slotstore::EvictionPolicy::NoEviction);
    run("MULTI").unwrap();
    assert_eq!(run("SET {f}y 1"), Err(Error::OutOfMemory));
    assert_eq!(run("DISCARD").unwrap(), Reply::ok());
    run("MULTI").unwrap();
    assert_eq!(run("GET {f}x").unwrap(), Reply::Simple("QUEUED".into()), "reads queue");
    assert_eq!(run("LPUSH {f}l v"), Err(Error::OutOfMemory));
    let abort = run("EXEC").unwrap_err().to_string();
    assert!(abort.starts_with("EXECABORT"), "{abort}");
    client.set_max_memory(None, slotstore::EvictionPolicy::NoEviction);
    assert_eq!(client.command(&["EXISTS", "{f}y", "{f}l"]).unwrap(), Reply::Int(0));

    // Over the budget by the time of EXEC: a transaction with a growing write is refused
    // whole (Redis's tests "EXEC with at least one use-memory command should fail" and
    // "EXEC with only read commands should not be rejected when OOM").
    client.set("{f}x", "value").unwrap();
    for (queue, allowed) in [(&["SET {f}z 1", "GET {f}x"][..], false), (&["GET {f}x", "PING"], true)] {
        run("MULTI").unwrap();
        for cmd in queue {
            assert_eq!(run(cmd).unwrap(), Reply::Simple("QUEUED".into()));
        }
        client.set_max_memory(Some(1), slotstore::EvictionPolicy::NoEviction);
        let r = run("EXEC");
        client.set_max_memory(None, slotstore::EvictionPolicy::NoEviction);
        if allowed {
            assert_eq!(
                r.unwrap(),
                Reply::Array(vec![Reply::bulk("value"), Reply::Simple("PONG".into())])
            );
        } else {
            assert_eq!(
                r.unwrap_err().to_string(),
                "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > \
                 'maxmemory'."
            );
        }
    }
    assert_eq!(client.command(&["EXISTS", "{f}z"]).unwrap(), Reply::Int(0), "nothing of it ran");
}
