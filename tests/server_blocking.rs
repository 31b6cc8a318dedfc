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

#[test]
fn blocked_connections_cost_memory_not_threads() {
    let (cluster, server) = serve(1, 0, ServerConfig::default());
    let addr = first(&server);
    let before = threads();
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
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = probe.cmd(&["INFO", "clients"]);
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            break;
        }
        assert!(Instant::now() < deadline, "{info}");
        std::thread::sleep(Duration::from_millis(10));
    }
    if let (Some(before), Some(now)) = (before, threads()) {
        assert!(now < before + 20, "{n} blocked connections took threads: {before} -> {now}");
    }
    // A hung-up waiter is taken off the queue: the first push goes to the next one.
    drop(waiting.remove(0));
    let store = cluster.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = probe.cmd(&["INFO", "clients"]);
        if info.contains(&format!("blocked_clients:{}\r\n", n - 1)) {
            break;
        }
        assert!(Instant::now() < deadline, "{info}");
        std::thread::sleep(Duration::from_millis(5));
    }
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
