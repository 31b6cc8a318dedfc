//! Real Redis Cluster clients against slotstore-server: redis-cli, redis-rs (sync and async),
//! redis-py and ioredis (scripts under tests/clients/). A tool that is missing is skipped
//! with a message, unless SLOTSTORE_REQUIRE_CLIENTS=1 (then its absence fails the test).
#![cfg(feature = "server")]

use redis::cluster::ClusterClientBuilder;
use redis::Commands;
use slotstore::{key_slot, Cluster, MigrationMode, Server, ServerConfig};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cluster_3x1() -> (Cluster, Server) {
    let cluster = Cluster::builder()
        .primaries(3)
        .replicas(1)
        .node_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let server = cluster.serve(ServerConfig::default()).unwrap();
    (cluster, server)
}

fn urls(server: &Server) -> Vec<String> {
    server.addresses().iter().take(3).map(|(_, a)| format!("redis://{a}")).collect()
}

/// One key per slot: `k{<tag>}` whose tag hashes to that slot.
fn key_per_slot() -> Vec<String> {
    let mut keys = vec![String::new(); 16384];
    let mut left = 16384;
    let mut i = 0u64;
    while left > 0 {
        let tag = format!("{i}");
        let slot = usize::from(key_slot(&tag));
        if keys[slot].is_empty() {
            keys[slot] = format!("k{{{tag}}}");
            left -= 1;
        }
        i += 1;
    }
    keys
}

fn require_clients() -> bool {
    std::env::var("SLOTSTORE_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// True if `tool --version` runs; else prints why the test is skipped (or fails when clients
/// are required).
fn have(tool: &str, args: &[&str]) -> bool {
    let ok = Command::new(tool).args(args).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!require_clients(), "{tool} is required (SLOTSTORE_REQUIRE_CLIENTS=1) but missing");
        eprintln!("skipped: {tool} is not installed");
    }
    ok
}

#[test]
fn redis_cli_follows_moved_and_cluster_check_passes() {
    if !have("redis-cli", &["--version"]) {
        return;
    }
    let (_cluster, server) = cluster_3x1();
    let port = server.addresses()[0].1.port().to_string();
    let cli = |args: &[&str]| {
        let o = Command::new("redis-cli").args(["-p", &port]).args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    // foo lives on the third primary: -c follows the MOVED there.
    assert_eq!(cli(&["-c", "set", "foo", "bar"]), "OK");
    assert_eq!(cli(&["-c", "get", "foo"]), "bar");
    let third = server.addresses()[2].1.port();
    assert_eq!(cli(&["get", "foo"]), format!("MOVED 12182 127.0.0.1:{third}"));
    let check = Command::new("redis-cli")
        .args(["--cluster", "check", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{out}");
    assert!(out.contains("[OK] All nodes agree about slots configuration."), "{out}");
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    assert!(!out.contains("[ERR]") && !out.contains("[WARNING]"), "{out}");
}

#[test]
fn redis_rs_sync_cluster_client_routes_reads_replicas_and_follows_moves() {
    let (cluster, server) = cluster_3x1();
    let client = ClusterClientBuilder::new(urls(&server))
        .read_routing_strategy(redis::cluster_read_routing::RandomReplicaStrategy)
        .build()
        .unwrap();
    let mut con = client.get_connection().unwrap();
    let keys = key_per_slot();
    for k in &keys {
        let _: () = con.set(k, k).unwrap();
    }
    // Every write is on its slot's primary.
    let store = cluster.client();
    for k in keys.iter().step_by(97) {
        assert_eq!(store.get(k).unwrap().as_deref(), Some(k.as_bytes()));
    }
    // Reads go to replicas (READONLY on each replica connection): they converge.
    store.wait(1, Duration::from_secs(2)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    for k in keys.iter().step_by(13) {
        loop {
            let v: Option<String> = con.get(k).unwrap();
            if v.as_deref() == Some(k.as_str()) {
                break;
            }
            assert!(Instant::now() < deadline, "replica never showed {k}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // A slot moves: the client follows MOVED and keeps its value.
    let k = &keys[100];
    let slot = key_slot(k);
    let to = cluster.primaries().into_iter().find(|p| Some(*p) != cluster.slot_owner(slot)).unwrap();
    cluster.migrate_slot(slot, to).unwrap();
    let mut primary_con =
        ClusterClientBuilder::new(urls(&server)).build().unwrap().get_connection().unwrap();
    let _: () = primary_con.set(k, "after").unwrap();
    let v: String = primary_con.get(k).unwrap();
    assert_eq!(v, "after");
    assert_eq!(store.get(k).unwrap().as_deref(), Some(&b"after"[..]));
}

#[test]
fn redis_rs_rides_out_key_by_key_migration_and_failover() {
    let (cluster, server) = cluster_3x1();
    let client = ClusterClientBuilder::new(urls(&server))
        .retries(30)
        .min_retry_wait(5)
        .max_retry_wait(200)
        .build()
        .unwrap();
    let mut con = client.get_connection().unwrap();
    // Keys that share one slot, so the migration's ASK/TRYAGAIN meet the writer.
    let slot = key_slot("{mig}");
    let from = cluster.slot_owner(slot).unwrap();
    let to = cluster.primaries().into_iter().find(|p| *p != from).unwrap();
    for i in 0..200 {
        let _: () = con.set(format!("{{mig}}:{i}"), i).unwrap();
    }
    let mut m = cluster.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
    let mut round = 0;
    while m.progress().keys_left > 0 {
        m.step(10).unwrap();
        for i in 0..200 {
            let key = format!("{{mig}}:{i}");
            let v: i64 = con.get(&key).unwrap();
            assert_eq!(v, i + round, "{key}");
            let _: () = con.set(&key, i + round + 1).unwrap();
        }
        round += 1;
        let _: () = con.set(format!("{{mig}}:new{round}"), round).unwrap();
    }
    m.finish().unwrap();
    assert_eq!(cluster.slot_owner(slot), Some(to));
    let v: i64 = con.get("{mig}:0").unwrap();
    assert_eq!(v, round);
    // A failover while writing: the client reconnects to the promoted replica.
    let store = cluster.client();
    store.wait(1, Duration::from_secs(2)).unwrap();
    cluster.kill_node(to).unwrap();
    // The killed node's port refuses connections, as a crashed Redis does. redis-rs's sync
    // connection reconnects to the same address instead of reloading the slots, so the loop
    // does what an application does: on an error, a new connection (which reads the slots
    // from a live seed and finds the promoted replica).
    let deadline = Instant::now() + Duration::from_secs(10);
    for i in 0..200 {
        let key = format!("{{mig}}:{i}");
        let v: i64 = loop {
            match con.get(&key) {
                Ok(v) => break v,
                Err(e) => {
                    assert!(Instant::now() < deadline, "no failover: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                    if let Ok(fresh) = client.get_connection() {
                        con = fresh;
                    }
                }
            }
        };
        assert_eq!(v, i + round);
    }
    assert_ne!(cluster.slot_owner(slot), Some(to));
    let _: () = con.set("{mig}:after", 1).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rs_async_cluster_client_writes_across_slots() {
    let (cluster, server) = cluster_3x1();
    let client = ClusterClientBuilder::new(urls(&server)).build().unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    let keys = key_per_slot();
    for k in keys.iter().step_by(7) {
        let _: () = redis::cmd("SET").arg(k).arg(k).query_async(&mut con).await.unwrap();
    }
    for k in keys.iter().step_by(7) {
        let v: String = redis::cmd("GET").arg(k).query_async(&mut con).await.unwrap();
        assert_eq!(&v, k);
    }
    let k = &keys[7 * 10];
    let slot = key_slot(k);
    let to = cluster.primaries().into_iter().find(|p| Some(*p) != cluster.slot_owner(slot)).unwrap();
    cluster.migrate_slot(slot, to).unwrap();
    let v: String = redis::cmd("GET").arg(k).query_async(&mut con).await.unwrap();
    assert_eq!(&v, k);
    let n: i64 = redis::cmd("INCR").arg("{c}n").query_async(&mut con).await.unwrap();
    assert_eq!(n, 1);
    drop(server);
}

/// Drives a client script (tests/clients/...) through its phases over stdin/stdout.
struct Script {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Script {
    fn start(program: &str, args: &[String]) -> Script {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Script { child, out }
    }

    /// Sends one command line and returns the script's answer line.
    fn ask(&mut self, line: &str) -> String {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        self.read()
    }

    fn read(&mut self) -> String {
        let mut answer = String::new();
        self.out.read_line(&mut answer).unwrap();
        answer.trim().to_string()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scenario every scripted client goes through: connect with three seeds, write one key
/// per slot, read them back (from replicas where the client is configured so), follow a
/// MOVED after `migrate_slot`, then keep writing through a key-by-key migration and a
/// failover, and find every acknowledged write.
fn scripted_scenario(program: &str, script: &str) {
    let (cluster, server) = cluster_3x1();
    let dir = std::env::temp_dir().join(format!("slotstore-keys-{}-{program}", std::process::id()));
    std::fs::write(&dir, key_per_slot().join("\n")).unwrap();
    let seeds: Vec<String> =
        server.addresses().iter().take(3).map(|(_, a)| a.port().to_string()).collect();
    let mut args = vec![script.to_string(), dir.display().to_string()];
    args.extend(seeds);
    let mut s = Script::start(program, &args);
    assert_eq!(s.read(), "ready");
    assert_eq!(s.ask("write"), "ok write");
    // A MOVED after an atomic migration.
    let key = "k{42}";
    let slot = key_slot(key);
    let owner = cluster.slot_owner(slot).unwrap();
    let to = cluster.primaries().into_iter().find(|p| *p != owner).unwrap();
    cluster.migrate_slot(slot, to).unwrap();
    assert_eq!(s.ask(&format!("get {key}")), format!("ok {key}"));
    // Writes during a key-by-key migration of the load's slot, then a failover.
    let load_slot = key_slot("{load}");
    let from = cluster.slot_owner(load_slot).unwrap();
    let to = cluster.primaries().into_iter().find(|p| *p != from).unwrap();
    {
        let stdin = s.child.stdin.as_mut().unwrap();
        writeln!(stdin, "load").unwrap();
        stdin.flush().unwrap();
    }
    assert_eq!(s.read(), "loading");
    let store = cluster.client();
    let wait_writes = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.count_keys_in_slot(load_slot) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    wait_writes(50);
    let mut m = cluster.begin_migration(load_slot, to, MigrationMode::KeyByKey).unwrap();
    while m.progress().keys_left > 0 {
        m.step(5).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    m.finish().unwrap();
    store.wait(1, Duration::from_secs(2)).unwrap();
    cluster.kill_node(to).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.slot_owner(load_slot) == Some(to) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = store.count_keys_in_slot(load_slot);
    wait_writes(before + 50);
    let answer = s.ask("stop");
    assert!(answer.starts_with("ok load"), "{answer}");
    let _ = std::fs::remove_file(&dir);
}

#[test]
fn redis_py_cluster_client() {
    if !have("python3", &["-c", "import redis.cluster"]) {
        return;
    }
    scripted_scenario(
        "python3",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/redis_py_cluster.py"),
    );
}

#[test]
fn ioredis_cluster_as_the_chat_app_configured_it() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/node");
    if !have("node", &["-e", &format!("require('{dir}/node_modules/ioredis')")]) {
        return;
    }
    scripted_scenario("node", &format!("{dir}/ioredis_cluster.js"));
}

#[test]
fn redis_cli_reshard_moves_slots_with_their_keys() {
    if !have("redis-cli", &["--version"]) {
        return;
    }
    let (cluster, server) = cluster_3x1();
    let store = cluster.client();
    let keys = key_per_slot();
    for k in &keys[..200] {
        store.set(k, k).unwrap();
    }
    let (from, to) = (cluster.primaries()[0], cluster.primaries()[1]);
    let out = Command::new("redis-cli")
        .args(["--cluster", "reshard", &server.addresses()[0].1.to_string()])
        .args(["--cluster-from", &from.to_string(), "--cluster-to", &to.to_string()])
        .args(["--cluster-slots", "100", "--cluster-yes"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // CLUSTER SETSLOT IMPORTING/MIGRATING, GETKEYSINSLOT, MIGRATE ... KEYS, SETSLOT NODE.
    for slot in 0..100u16 {
        assert_eq!(cluster.slot_owner(slot), Some(to), "slot {slot}");
    }
    assert_eq!(cluster.slot_owner(100), Some(from));
    for k in &keys[..200] {
        assert_eq!(store.get(k).unwrap().as_deref(), Some(k.as_bytes()), "{k}");
    }
    let check = Command::new("redis-cli")
        .args(["--cluster", "check", &server.addresses()[1].1.to_string()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("[OK] All 16384 slots covered.") && !out.contains("[ERR]"), "{out}");
}

#[test]
fn redis_benchmark_cluster_runs_against_the_server() {
    if !have("redis-benchmark", &["--version"]) {
        return;
    }
    let (cluster, server) = cluster_3x1();
    let port = server.addresses()[0].1.port().to_string();
    let out = Command::new("redis-benchmark")
        .args(["--cluster", "-p", &port, "-c", "10", "-n", "2000", "-t", "set,get", "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    assert!(out.status.success(), "{text}");
    for cmd in ["SET", "GET"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{cmd}: ")) && l.contains("requests per second")),
            "{text}"
        );
    }
    // It wrote on every primary, through the cluster's routing.
    for p in cluster.primaries() {
        assert!(cluster.node_key_count(p).unwrap() > 0);
    }
}
