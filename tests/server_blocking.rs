//! slotstore-server's blocking commands hold no thread: in a test binary of its own, so the
//! thread count it checks is not moved by other tests running beside it.
#![cfg(feature = "server")]

mod server_common;

use server_common::{first, serve, Raw};
use slotstore::ServerConfig;
use std::time::{Duration, Instant};

/// Threads of this process now (Linux), to show blocked connections hold none.
fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok())
}

/// Resident memory of this process now, KiB (Linux): both ends of every connection live
/// here, so it counts the test's sockets too.
fn rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|n| n.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Waits until `n` connections are blocked (`INFO clients`), for at most `timeout`.
fn until_blocked(probe: &mut Raw, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let info = probe.cmd(&["INFO", "clients"]);
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(Instant::now() < deadline, "{info}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn blocked_connections_cost_memory_not_threads() {
    let (cluster, server) = serve(1, 0, ServerConfig::default());
    let addr = first(&server);
    let before = threads();
    let rss_before = rss();
    let n = 1000;
    let mut waiting: Vec<Raw> = (0..n)
        .map(|_| {
            let mut c = Raw::connect(addr);
            c.send(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nqueue\r\n$1\r\n0\r\n");
            c
        })
        .collect();
    // Every one is queued: INFO counts them.
    let mut probe = Raw::connect(addr);
    until_blocked(&mut probe, n, Duration::from_secs(20));
    eprintln!("{n} blocked connections: resident memory {:?} KiB -> {:?} KiB", rss_before, rss());
    if let (Some(before), Some(now)) = (before, threads()) {
        assert!(now < before + 20, "{n} blocked connections took threads: {before} -> {now}");
    }
    // A hung-up waiter is taken off the queue: the first push goes to the next one.
    drop(waiting.remove(0));
    let store = cluster.client();
    until_blocked(&mut probe, n - 1, Duration::from_secs(10));
    for i in 0..n - 1 {
        // Each push is served at once: the list holds one element for an instant.
        assert_eq!(probe.cmd(&["RPUSH", "queue", &i.to_string()]), ":1\r\n");
    }
    // Every waiter got exactly one element, each element went to one waiter.
    let mut got: Vec<usize> = waiting
        .iter_mut()
        .map(|c| {
            let r = c.reply();
            assert!(r.starts_with("*2\r\n$5\r\nqueue\r\n"), "{r}");
            r.rsplit("\r\n").nth(1).unwrap().parse().unwrap()
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..n - 1).collect::<Vec<_>>());
    assert_eq!(store.command(&["LLEN", "queue"]).unwrap().as_int(), Some(0));
    // A timeout answers RESP2's null array.
    let mut t = Raw::connect(addr);
    assert_eq!(t.cmd(&["BLPOP", "empty", "0.05"]), "*-1\r\n");
    t.cmd(&["HELLO", "3"]);
    assert_eq!(t.cmd(&["BLPOP", "empty", "0.05"]), "_\r\n");
}

/// Threads and resident memory of another process (Linux).
fn proc_status(pid: u32) -> Option<(usize, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|n| n.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("Threads:")?, field("VmRSS:")?))
}

/// 10,000 connections blocked in BLPOP on a slotstore-server process: its thread count does
/// not move and its memory grows by a few KiB per connection. Long (10,000 sockets): run with
/// `cargo test --test server_blocking -- --ignored --nocapture`.
#[test]
#[ignore]
fn ten_thousand_blocked_connections_in_a_server_process() {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_slotstore-server"))
        .args(["--primaries", "1", "--replicas", "0", "--port", "0", "--maxclients", "20000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line.split(' ').nth(2).unwrap().parse().unwrap();
    let pid = child.id();
    let (threads_before, rss_before) = proc_status(pid).unwrap();
    let n = 10_000;
    let mut conns: Vec<TcpStream> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n").unwrap();
        conns.push(s);
    }
    let mut probe = Raw::connect(addr);
    until_blocked(&mut probe, n, Duration::from_secs(60));
    let (threads, rss) = proc_status(pid).unwrap();
    eprintln!(
        "{n} blocked: threads {threads_before} -> {threads}, resident {rss_before} KiB -> {rss} KiB \
         ({:.1} KiB per connection)",
        (rss - rss_before) as f64 / n as f64
    );
    assert!(threads <= threads_before + 4, "threads {threads_before} -> {threads}");
    drop(conns);
    let _ = child.kill();
    let _ = child.wait();
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]` answers a waiting blocking command as its timeout
/// would, or with Redis's `UNBLOCKED` error, once; a connection not waiting answers 0.
#[test]
fn client_unblock_answers_a_waiting_command() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let addr = first(&server);
    let mut waiter = Raw::connect(addr);
    let mut probe = Raw::connect(addr);
    let id = waiter.cmd(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end();
    assert_eq!(probe.cmd(&["CLIENT", "UNBLOCK", id]), ":0\r\n", "not waiting");
    waiter.send(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nqueue\r\n$1\r\n0\r\n");
    until_blocked(&mut probe, 1, Duration::from_secs(20));
    assert_eq!(probe.cmd(&["CLIENT", "UNBLOCK", id]), ":1\r\n");
    assert_eq!(waiter.reply(), "*-1\r\n", "as its timeout would");
    until_blocked(&mut probe, 0, Duration::from_secs(20));
    waiter.send(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nqueue\r\n$1\r\n0\r\n");
    until_blocked(&mut probe, 1, Duration::from_secs(20));
    assert_eq!(probe.cmd(&["CLIENT", "UNBLOCK", id, "ERROR"]), ":1\r\n");
    assert_eq!(waiter.reply(), "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    assert_eq!(probe.cmd(&["CLIENT", "UNBLOCK", id, "ERROR"]), ":0\r\n", "once");
    assert_eq!(
        probe.cmd(&["CLIENT", "UNBLOCK", id, "LATER"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
    // The queue lost its waiter: a push stays in the list.
    assert_eq!(probe.cmd(&["RPUSH", "queue", "x"]), ":1\r\n");
    assert_eq!(waiter.cmd(&["LPOP", "queue"]), "$1\r\nx\r\n");
    // WAIT for a replica that does not exist (no timeout) is a blocked client too: it is
    // answered with the replicas that acknowledged (none), or the error.
    for (how, reply) in
        [("TIMEOUT", ":0\r\n"), ("ERROR", "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")]
    {
        waiter.send(b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n");
        until_blocked(&mut probe, 1, Duration::from_secs(20));
        assert_eq!(probe.cmd(&["CLIENT", "UNBLOCK", id, how]), ":1\r\n");
        assert_eq!(waiter.reply(), reply);
        until_blocked(&mut probe, 0, Duration::from_secs(20));
    }
}
