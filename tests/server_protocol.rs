//! slotstore-server at the byte level: the connection protocol, the cluster face with real
//! addresses, limits and hostile input. A small raw RESP client reads replies exactly.
#![cfg(feature = "server")]

use slotstore::{key_slot, ServerConfig};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod server_common;

use server_common::{first, serve, Raw};

#[test]
fn ports_follow_the_redis_cli_layout_and_announce_real_addresses() {
    let (cluster, server) = serve(3, 1, ServerConfig::default());
    let addrs = server.addresses();
    assert_eq!(addrs.len(), 6);
    // Primaries first, then each primary's replicas.
    assert_eq!(addrs.iter().take(3).map(|(id, _)| *id).collect::<Vec<_>>(), cluster.primaries());
    let t = cluster.topology();
    for (id, addr) in &addrs {
        assert_eq!(t.node(*id).unwrap().addr.port, addr.port());
        assert_eq!(t.node(*id).unwrap().addr.ip, "127.0.0.1");
    }
    // MOVED names the owner's real port; NODES marks the node asked; SLOTS matches.
    let mut c = Raw::connect(first(&server));
    let owner = cluster.slot_owner(key_slot("foo")).unwrap();
    let owner_port = addrs.iter().find(|(id, _)| *id == owner).unwrap().1.port();
    assert_eq!(c.cmd(&["GET", "foo"]), format!("-MOVED 12182 127.0.0.1:{owner_port}\r\n"));
    let nodes = c.cmd(&["CLUSTER", "NODES"]);
    let me = cluster.primaries()[0];
    assert!(nodes.contains(&format!("{me} 127.0.0.1:{}@", first(&server).port())), "{nodes}");
    assert!(nodes.contains("myself,master"), "{nodes}");
    assert_eq!(nodes.matches("myself").count(), 1);
    let slots = c.cmd(&["CLUSTER", "SLOTS"]);
    assert!(slots.contains(&format!(":{}\r\n${}\r\n{me}", first(&server).port(), 40)), "{slots}");
    assert_eq!(c.cmd(&["CLUSTER", "MYID"]), format!("$40\r\n{me}\r\n"));
    let info = c.cmd(&["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_state:ok\r\n"), "{info}");
    drop(server);
}

#[test]
fn a_fixed_base_port_gives_node_i_port_plus_i() {
    let base = 7230;
    let Ok((_, server)) = std::panic::catch_unwind(|| serve(2, 1, ServerConfig::default().port(base)))
    else {
        eprintln!("skipped: ports {base}.. are taken");
        return;
    };
    let ports: Vec<u16> = server.addresses().iter().map(|(_, a)| a.port()).collect();
    assert_eq!(ports, vec![base, base + 1, base + 2, base + 3]);
}

#[test]
fn connection_commands_and_protocols() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let mut c = Raw::connect(first(&server));
    // Inline commands and pipelining.
    c.send(b"PING\r\nECHO \"a b\"\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(c.reply(), "+PONG\r\n");
    assert_eq!(c.reply(), "$3\r\na b\r\n");
    assert_eq!(c.reply(), "+PONG\r\n");
    assert_eq!(c.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SELECT", "1"]), "-ERR SELECT is not allowed in cluster mode\r\n");
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "chat"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), "$4\r\nchat\r\n");
    assert_eq!(
        c.cmd(&["CLIENT", "SETNAME", "a b"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-rs"]), "+OK\r\n");
    let id = c.cmd(&["CLIENT", "ID"]);
    assert!(id.starts_with(':'));
    let list = c.cmd(&["CLIENT", "LIST"]);
    assert!(list.contains("name=chat") && list.contains("lib-name=redis-rs"), "{list}");
    // RESP3.
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), "{hello}");
    assert!(hello.contains("$4\r\nmode\r\n$7\r\ncluster\r\n"), "{hello}");
    assert_eq!(c.cmd(&["GET", "missing"]), "_\r\n");
    assert_eq!(c.cmd(&["HELLO", "4"]), "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(c.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(c.cmd(&["GET", "missing"]), "$-1\r\n");
    // Transactions and WATCH on the connection.
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["INCR", "n"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n:1\r\n");
    assert_eq!(c.cmd(&["WATCH", "n"]), "+OK\r\n");
    let mut other = Raw::connect(first(&server));
    assert_eq!(other.cmd(&["INCR", "n"]), ":2\r\n");
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["INCR", "n"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*-1\r\n");
    // CLIENT REPLY OFF: nothing comes back until ON.
    c.send(b"CLIENT REPLY OFF\r\nSET x 1\r\nCLIENT REPLY ON\r\n");
    assert_eq!(c.reply(), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "x"]), "$1\r\n1\r\n");
    // SKIP drops the next reply, one that comes later included.
    c.send(b"CLIENT REPLY SKIP\r\nBLPOP nolist 0.01\r\nPING\r\n");
    assert_eq!(c.reply(), "+PONG\r\n");
    let time = c.cmd(&["TIME"]);
    assert!(time.starts_with("*2\r\n$10\r\n"), "{time}");
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(c.cmd(&["QUIT"]), "+OK\r\n");
    assert!(c.closed());
}

#[test]
fn requirepass_answers_noauth_until_auth() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default().requirepass("s3cret"));
    let mut c = Raw::connect(first(&server));
    assert_eq!(c.cmd(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd(&["AUTH", "nope"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), "$-1\r\n");
    let mut h = Raw::connect(first(&server));
    let hello = h.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "x"]);
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    // Unauthenticated clients may not send big requests.
    let mut u = Raw::connect(first(&server));
    u.send(b"*20\r\n");
    assert_eq!(u.reply(), "-ERR Protocol error: unauthenticated multibulk length\r\n");
    assert!(u.closed());
}

#[test]
fn command_config_and_info_as_clients_read_them() {
    let (_cluster, server) = serve(3, 1, ServerConfig::default());
    let mut c = Raw::connect(first(&server));
    let get = c.cmd(&["COMMAND", "INFO", "get", "mset", "zunionstore", "nosuch"]);
    assert!(get.starts_with("*4\r\n*10\r\n$3\r\nget\r\n:2\r\n"), "{get}");
    assert!(get.contains("$4\r\nmset\r\n:-3\r\n"), "{get}");
    // MSET: keys from 1 to the last, step 2.
    assert!(get.contains(":1\r\n:-1\r\n:2\r\n"), "{get}");
    assert!(get.contains("movablekeys"), "{get}");
    assert!(get.ends_with("$-1\r\n"), "{get}");
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b"]),
        "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    let count = c.cmd(&["COMMAND", "COUNT"]);
    let n: i64 = count[1..count.len() - 2].parse().unwrap();
    assert!(n > 100, "{count}");
    let all = c.cmd(&["CONFIG", "GET", "*"]);
    assert!(
        all.contains("$9\r\nmaxmemory\r\n") && all.contains("$15\r\ncluster-enabled\r\n$3\r\nyes\r\n")
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "64"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hash-max-listpack-entries"]),
        "*2\r\n$25\r\nhash-max-listpack-entries\r\n$2\r\n64\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "no-such-thing", "1"]),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'no-such-thing'\r\n"
    );
    let info = c.cmd(&["INFO"]);
    for field in [
        "redis_version:",
        "connected_clients:",
        "used_memory:",
        "loading:0\r\n",
        "role:master\r\n",
        "cluster_enabled:1\r\n",
        "# Keyspace",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
    assert!(!info.contains("# Commandstats"));
    // A key of the first primary's slots (0-5460), set once: counted there.
    let key = (0..).map(|i| format!("k{i}")).find(|k| key_slot(k) <= 5460).unwrap();
    assert_eq!(c.cmd(&["SET", &key, "v"]), "+OK\r\n");
    let stats = c.cmd(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    let replica = server.addresses()[3].1;
    let mut r = Raw::connect(replica);
    let info = r.cmd(&["INFO", "replication"]);
    assert!(info.contains("role:slave\r\n"), "{info}");
}

#[test]
fn keyless_commands_answer_for_the_node_asked() {
    let (cluster, server) = serve(3, 1, ServerConfig::default());
    let store = cluster.client();
    for i in 0..300 {
        store.set(format!("key:{i}"), "v").unwrap();
    }
    let mut total = 0;
    for (i, (id, addr)) in server.addresses().iter().take(3).enumerate() {
        let mut c = Raw::connect(*addr);
        let n = c.cmd(&["DBSIZE"]);
        let n: usize = n[1..n.len() - 2].parse().unwrap();
        assert_eq!(n, cluster.node_key_count(*id).unwrap(), "node {i}");
        total += n;
        let keys = c.cmd(&["KEYS", "*"]);
        assert!(keys.starts_with(&format!("*{n}\r\n")), "{keys}");
        // A whole SCAN of this node visits its keys only, each once.
        let (mut cursor, mut seen) = (String::from("0"), std::collections::BTreeSet::new());
        loop {
            let r = c.cmd(&["SCAN", &cursor, "COUNT", "50"]);
            let lines: Vec<&str> = r.split("\r\n").collect();
            cursor = lines[2].to_string();
            for key in lines.iter().skip(5).step_by(2).filter(|l| l.starts_with("key:")) {
                assert!(seen.insert(key.to_string()), "{key} twice");
            }
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), n, "node {i}");
    }
    assert_eq!(total, 300);
    // A replica serves reads of its primary's slots after READONLY, MOVED before it.
    store.wait(1, Duration::from_secs(2)).unwrap();
    let (primary, replica) = (server.addresses()[0], server.addresses()[3]);
    let key = (0..300)
        .map(|i| format!("key:{i}"))
        .find(|k| cluster.slot_owner(key_slot(k)) == Some(primary.0))
        .unwrap();
    let mut r = Raw::connect(replica.1);
    let moved = r.cmd(&["GET", &key]);
    assert_eq!(moved, format!("-MOVED {} 127.0.0.1:{}\r\n", key_slot(&key), primary.1.port()));
    assert_eq!(r.cmd(&["READONLY"]), "+OK\r\n");
    assert_eq!(r.cmd(&["GET", &key]), "$1\r\nv\r\n");
    let write = r.cmd(&["SET", &key, "w"]);
    assert!(write.starts_with("-MOVED"), "{write}");
    assert_eq!(r.cmd(&["FLUSHALL"]), "-READONLY You can't write against a read only replica.\r\n");
}

#[test]
fn a_killed_nodes_port_closes_and_reopens_on_restart() {
    let (cluster, server) = serve(2, 1, ServerConfig::default());
    let (victim, addr) = server.addresses()[2];
    let mut c = Raw::connect(addr);
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    cluster.kill_node(victim).unwrap();
    assert!(c.closed(), "the connection closes with the node");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the port still accepts");
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.restart_node(victim).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(s) = TcpStream::connect(addr) {
            drop(s);
            break;
        }
        assert!(Instant::now() < deadline, "the port did not come back");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut c = Raw::connect(addr);
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn cluster_failover_on_a_replicas_port() {
    let (cluster, server) = serve(1, 1, ServerConfig::default());
    let (old, primary_addr) = server.addresses()[0];
    let (replica, replica_addr) = server.addresses()[1];
    let mut p = Raw::connect(primary_addr);
    assert_eq!(p.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(
        p.cmd(&["CLUSTER", "FAILOVER"]),
        "-ERR You should send CLUSTER FAILOVER to a replica\r\n"
    );
    let mut r = Raw::connect(replica_addr);
    assert_eq!(r.cmd(&["CLUSTER", "FAILOVER"]), "+OK\r\n");
    assert_eq!(cluster.primaries(), vec![replica]);
    assert_eq!(r.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    let moved = p.cmd(&["GET", "k"]);
    assert_eq!(moved, format!("-MOVED {} 127.0.0.1:{}\r\n", key_slot("k"), replica_addr.port()));
    let _ = old;
}

#[test]
fn protocol_errors_answer_and_close() {
    let (cluster, server) = serve(1, 0, ServerConfig::default());
    cluster.client().set("safe", "1").unwrap();
    let cases: &[(&[u8], &str)] = &[
        (b"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*3x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*99999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"),
        (b"SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
    ];
    for (input, want) in cases {
        let mut c = Raw::connect(first(&server));
        c.send(input);
        assert_eq!(&c.reply(), want, "{}", String::from_utf8_lossy(input));
        assert!(c.closed());
    }
    let mut c = Raw::connect(first(&server));
    c.send(&vec![b'a'; 70 * 1024]);
    assert_eq!(c.reply(), "-ERR Protocol error: too big inline request\r\n");
    assert!(c.closed());
    // Garbage from one client disturbs no other, and nothing is lost.
    let mut g = Raw::connect(first(&server));
    g.send(&(0..=255u8).cycle().take(100_000).collect::<Vec<u8>>());
    let mut ok = Raw::connect(first(&server));
    assert_eq!(ok.cmd(&["GET", "safe"]), "$1\r\n1\r\n");
    // An absurd but valid bulk length waits for its bytes and allocates nothing up front.
    let mut big = Raw::connect(first(&server));
    big.send(b"*2\r\n$3\r\nGET\r\n$536870912\r\nab");
    assert_eq!(ok.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn maxclients_and_idle_timeout() {
    let (_cluster, server) =
        serve(1, 0, ServerConfig::default().maxclients(3).timeout(Duration::from_secs(1)));
    let mut conns: Vec<Raw> = (0..3).map(|_| Raw::connect(first(&server))).collect();
    for c in &mut conns {
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    }
    let mut extra = Raw::connect(first(&server));
    assert_eq!(extra.reply(), "-ERR max number of clients reached\r\n");
    assert!(extra.closed());
    // Idle for more than the timeout: closed by the server.
    let started = Instant::now();
    assert!(conns[0].closed());
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[test]
fn thousands_of_connections_and_a_client_that_never_reads() {
    let (cluster, server) = serve(1, 0, ServerConfig::default());
    let addr = first(&server);
    let mut many: Vec<Raw> = (0..2000).map(|_| Raw::connect(addr)).collect();
    for c in many.iter_mut().step_by(50) {
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    }
    drop(many);
    // A client that pipelines big replies and never reads them: the server stops reading it
    // (backpressure) and keeps serving others.
    cluster.client().set("big", vec![b'x'; 64 * 1024]).unwrap();
    let hog = TcpStream::connect(addr).unwrap();
    hog.set_nonblocking(true).unwrap();
    let request = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(1000);
    let mut sent = 0usize;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match (&hog).write(&request) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    // The hog's writes stopped being accepted long before its replies could all be held.
    assert!(sent < 256 << 20, "sent {sent}");
    let mut ok = Raw::connect(addr);
    assert_eq!(ok.cmd(&["STRLEN", "big"]), ":65536\r\n");
    // Killing the hog works even while the server waits to write to it.
    let hog_addr = hog.local_addr().unwrap().to_string();
    // Under load the server may not have taken the hog's connection off its accept queue
    // yet (the kernel buffered what it wrote): wait until the server lists it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok.cmd(&["CLIENT", "LIST"]).contains(&format!("addr={hog_addr} ")) {
        assert!(Instant::now() < deadline, "the server never listed the hog");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ok.cmd(&["CLIENT", "KILL", "ADDR", &hog_addr]), ":1\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = ok.cmd(&["INFO", "clients"]);
        if info.contains("connected_clients:1\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{info}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn announced_ip_and_hostname_agree_everywhere() {
    let config = ServerConfig::default().announce_ip("10.9.8.7").announce_hostname("cache.local");
    let (cluster, server) = serve(2, 1, config);
    let mut c = Raw::connect(first(&server));
    let ports: Vec<u16> = server.addresses().iter().map(|(_, a)| a.port()).collect();
    let slots = c.cmd(&["CLUSTER", "SLOTS"]);
    assert!(slots.contains(&format!("$8\r\n10.9.8.7\r\n:{}\r\n", ports[0])), "{slots}");
    assert!(slots.contains("$8\r\nhostname\r\n$11\r\ncache.local\r\n"), "{slots}");
    let nodes = c.cmd(&["CLUSTER", "NODES"]);
    assert!(
        nodes.contains(&format!("10.9.8.7:{}@{},cache.local myself,master", ports[0], ports[0] + 10000)),
        "{nodes}"
    );
    let shards = c.cmd(&["CLUSTER", "SHARDS"]);
    assert!(shards.contains("$2\r\nip\r\n$8\r\n10.9.8.7\r\n"), "{shards}");
    let other = cluster.slot_owner(key_slot("foo")).unwrap();
    let port = server.addresses().iter().find(|(id, _)| *id == other).unwrap().1.port();
    if other != server.addresses()[0].0 {
        assert_eq!(c.cmd(&["GET", "foo"]), format!("-MOVED 12182 10.9.8.7:{port}\r\n"));
    }
    assert!(!slots.contains("127.0.0.1") && !nodes.contains("127.0.0.1"));
}

#[test]
fn client_kill_closes_the_connection_named() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let mut a = Raw::connect(first(&server));
    let mut b = Raw::connect(first(&server));
    let id = b.cmd(&["CLIENT", "ID"]);
    let id = id[1..id.len() - 2].to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    assert!(b.closed());
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &id]), ":0\r\n");
    assert_eq!(a.cmd(&["CLIENT", "KILL", "1.2.3.4:5"]), "-ERR No such client\r\n");
    assert_eq!(a.cmd(&["PING"]), "+PONG\r\n");
    // Redis's errors, option by option (Redis's Tcl unit/introspection).
    for (words, error) in [
        (&["CLIENT", "KILL"][..], "-ERR wrong number of arguments for 'client|kill' command"),
        (&["CLIENT", "KILL", "ID", "10", "wrong_arg"], "-ERR syntax error"),
        (&["CLIENT", "KILL", "ID", "str"], "-ERR client-id should be greater than 0"),
        (&["CLIENT", "KILL", "ID", "0"], "-ERR client-id should be greater than 0"),
        (&["CLIENT", "KILL", "TYPE", "wrong_type"], "-ERR Unknown client type 'wrong_type'"),
        (&["CLIENT", "KILL", "USER", "wrong_user"], "-ERR No such user 'wrong_user'"),
        (&["CLIENT", "KILL", "SKIPME", "yes_or_no"], "-ERR syntax error"),
    ] {
        assert_eq!(a.cmd(words), format!("{error}\r\n"), "{words:?}");
    }
}

/// `CLIENT LIST`/`INFO` show a connection as Redis does: the running command by its full
/// name and its bytes (`qbuf`, `argv-mem`), subscriptions (`sub`, `psub`, flag `P`), a
/// transaction (`multi`, flag `x`), a blocked command (flag `b`), `READONLY` (flag `r`);
/// `TYPE pubsub` lists the subscribed and `KILL TYPE pubsub` closes them.
#[test]
fn client_list_shows_each_connection_as_it_is() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let mut c = Raw::connect(first(&server));
    let info = c.cmd(&["CLIENT", "INFO"]);
    // 26 bytes: the request itself, `*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n`.
    assert!(info.contains(" flags=N ") && info.contains(" multi=-1 qbuf=26 "), "{info}");
    assert!(info.contains(" argv-mem=10 ") && info.contains(" cmd=client|info "), "{info}");
    let mut sub = Raw::connect(first(&server));
    sub.cmd(&["SUBSCRIBE", "a", "b"]);
    sub.reply();
    sub.cmd(&["PSUBSCRIBE", "p*"]);
    let mut blocked = Raw::connect(first(&server));
    blocked.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\n{l}l\r\n$1\r\n0\r\n");
    let line_of = |list: &str, cmd: &str| {
        list.lines().find(|l| l.contains(&format!(" cmd={cmd} "))).map(str::to_string)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let list = c.cmd(&["CLIENT", "LIST"]);
        if line_of(&list, "blpop").is_some_and(|l| l.contains(" flags=b ")) {
            break list;
        }
        assert!(Instant::now() < deadline, "the BLPOP never showed as blocked: {list}");
        std::thread::sleep(Duration::from_millis(2));
    };
    let subscribed = line_of(&list, "psubscribe").unwrap_or_else(|| panic!("{list}"));
    assert!(subscribed.contains(" flags=P ") && subscribed.contains(" sub=2 psub=1 ssub=0 "), "{list}");
    // Inside MULTI, CLIENT INFO runs at EXEC, which shows as the running command.
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(c.cmd(&["CLIENT", "INFO"]), "+QUEUED\r\n");
    let replies = c.cmd(&["EXEC"]);
    assert!(replies.contains(" flags=x ") && replies.contains(" multi=2 "), "{replies}");
    assert!(replies.contains(" argv-mem=4 ") && replies.contains(" cmd=exec "), "{replies}");
    let pubsub = c.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(pubsub.matches("id=").count(), 1, "{pubsub}");
    assert!(c.cmd(&["CLIENT", "LIST", "TYPE", "normal"]).contains(" cmd=blpop "));
    assert_eq!(c.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]), ":1\r\n");
    assert!(sub.closed());
    c.cmd(&["READONLY"]);
    assert!(c.cmd(&["CLIENT", "INFO"]).contains(" flags=r "));
}

#[test]
fn a_primary_added_later_gets_a_port_and_is_announced() {
    let (cluster, server) = serve(2, 0, ServerConfig::default());
    let added = cluster.add_primary(0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let addr = loop {
        if let Some((_, a)) = server.addresses().into_iter().find(|(id, _)| *id == added) {
            break a;
        }
        assert!(Instant::now() < deadline, "no port for the new primary");
        std::thread::sleep(Duration::from_millis(5));
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while cluster.topology().node(added).unwrap().addr.port != addr.port() {
        assert!(Instant::now() < deadline, "not announced");
        std::thread::sleep(Duration::from_millis(5));
    }
    let slot = key_slot("foo");
    cluster.migrate_slot(slot, added).unwrap();
    let mut c = Raw::connect(first(&server));
    assert_eq!(c.cmd(&["GET", "foo"]), format!("-MOVED {slot} 127.0.0.1:{}\r\n", addr.port()));
    let mut n = Raw::connect(addr);
    assert_eq!(n.cmd(&["SET", "foo", "bar"]), "+OK\r\n");
    assert!(n.cmd(&["CLUSTER", "NODES"]).contains(&format!("127.0.0.1:{}@", addr.port())));
}

#[test]
fn shutdown_closes_every_port_and_the_cluster_keeps_its_data() {
    let (cluster, server) = serve(2, 1, ServerConfig::default());
    let addrs = server.addresses();
    let owner = cluster.slot_owner(key_slot("{a}k")).unwrap();
    let mut c = Raw::connect(addrs.iter().find(|(id, _)| *id == owner).unwrap().1);
    assert_eq!(c.cmd(&["SET", "{a}k", "v"]), "+OK\r\n");
    server.shutdown();
    assert!(c.closed());
    // Back to the symbolic addresses of a store that is not served.
    let t = cluster.topology();
    assert!(t.nodes().iter().all(|n| n.addr == slotstore::NodeAddr::symbolic(n.id)));
    for (_, a) in addrs {
        assert!(TcpStream::connect(a).is_err(), "{a} still accepts");
    }
    // Served again, on fresh ports, with the same data.
    let server = cluster.serve(ServerConfig::default()).unwrap();
    let addr = server.addresses().into_iter().find(|(id, _)| *id == owner).unwrap().1;
    assert_eq!(Raw::connect(addr).cmd(&["GET", "{a}k"]), "$1\r\nv\r\n");
}

#[test]
fn the_binary_prints_its_nodes_and_stops_on_sigterm() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_slotstore-server"))
        .args(["--primaries", "2", "--replicas", "1", "--port", "0", "--node-timeout", "500"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..4 {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        lines.push(l.trim().to_string());
    }
    // "<id> <role> <ip:port> <slots>", primaries first.
    assert!(lines[0].contains(" master 127.0.0.1:") && lines[0].ends_with(" 0-8191"), "{lines:?}");
    assert!(lines[3].contains(" replica 127.0.0.1:"), "{lines:?}");
    let addr: SocketAddr = lines[1].split(' ').nth(2).unwrap().parse().unwrap();
    let mut c = Raw::connect(addr);
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    if !killed.is_ok_and(|s| s.success()) {
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("skipped the SIGTERM check: no kill command");
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
    assert!(c.closed());
}

#[test]
fn ask_asking_wait_replicas_and_config_over_resp() {
    let (cluster, server) = serve(2, 1, ServerConfig::default());
    let addrs = server.addresses();
    let port_of = |id| addrs.iter().find(|(n, _)| *n == id).unwrap().1;
    let slot = key_slot("{m}");
    let from = cluster.slot_owner(slot).unwrap();
    let to = cluster.primaries().into_iter().find(|p| *p != from).unwrap();
    let mut src = Raw::connect(port_of(from));
    assert_eq!(src.cmd(&["SET", "{m}old", "1"]), "+OK\r\n");
    // WAIT for the replica, without holding a thread.
    assert_eq!(src.cmd(&["WAIT", "1", "2000"]), ":1\r\n");
    let mut m = cluster.begin_migration(slot, to, slotstore::MigrationMode::KeyByKey).unwrap();
    // A key the source lacks: ASK to the target's real address.
    assert_eq!(src.cmd(&["GET", "{m}new"]), format!("-ASK {slot} 127.0.0.1:{}\r\n", port_of(to).port()));
    let mut dst = Raw::connect(port_of(to));
    assert!(dst.cmd(&["SET", "{m}new", "2"]).starts_with("-MOVED"));
    assert_eq!(dst.cmd(&["ASKING"]), "+OK\r\n");
    assert_eq!(dst.cmd(&["SET", "{m}new", "2"]), "+OK\r\n");
    m.finish().unwrap();
    assert_eq!(dst.cmd(&["GET", "{m}new"]), "$1\r\n2\r\n");
    assert_eq!(dst.cmd(&["GET", "{m}old"]), "$1\r\n1\r\n");
    // CLUSTER REPLICAS lists the replica's NODES line.
    let replica = cluster.replicas_of(from)[0];
    let replicas = src.cmd(&["CLUSTER", "REPLICAS", &from.to_string()]);
    assert!(replicas.starts_with("*1\r\n") && replicas.contains(&replica.to_string()), "{replicas}");
    assert_eq!(src.cmd(&["CLUSTER", "REPLICAS", "nope"]), "-ERR Unknown node nope\r\n");
    // RANDOMKEY answers for the node asked.
    let random = dst.cmd(&["RANDOMKEY"]);
    assert!(random == "$6\r\n{m}new\r\n" || random == "$6\r\n{m}old\r\n", "{random}");
    assert_eq!(src.cmd(&["RANDOMKEY"]), "$-1\r\n");
    // CONFIG SET maxmemory reaches the store.
    assert_eq!(
        src.cmd(&["CONFIG", "SET", "maxmemory", "64mb", "maxmemory-policy", "allkeys-lru"]),
        "+OK\r\n"
    );
    assert_eq!(
        src.cmd(&["CONFIG", "GET", "maxmemory"]),
        format!("*2\r\n$9\r\nmaxmemory\r\n$8\r\n{}\r\n", 64 << 20)
    );
    assert!(src.cmd(&["INFO", "memory"]).contains("maxmemory_policy:allkeys-lru\r\n"));
}

#[test]
fn query_buffer_and_bulk_limits_set_at_run_time() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let mut admin = Raw::connect(first(&server));
    assert_eq!(admin.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]), "+OK\r\n");
    let mut c = Raw::connect(first(&server));
    c.send(b"*2\r\n$4\r\nECHO\r\n$2000000\r\n");
    assert_eq!(c.reply(), "-ERR Protocol error: invalid bulk length\r\n");
    assert!(c.closed());
    // A request past the query buffer limit closes the connection, without a reply.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "512mb"]), "+OK\r\n");
    assert_eq!(admin.cmd(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]), "+OK\r\n");
    let mut q = Raw::connect(first(&server));
    q.send(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < 3_000_000 {
        if q.r_write(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(q.closed());
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
}

/// The calls `INFO commandstats` counts for command `name` on `c`'s node (0 with no line).
fn cmdstat_calls(c: &mut Raw, name: &str) -> u64 {
    let info = c.cmd(&["INFO", "commandstats"]);
    let tag = format!("cmdstat_{name}:calls=");
    let Some(at) = info.find(&tag) else { return 0 };
    info[at + tag.len()..].split(',').next().unwrap().parse().unwrap()
}

/// Pipelined `GET`s are served as batches: the same bytes, in the same order, as the same
/// requests sent one at a time (strings, nil, `WRONGTYPE`, `MOVED` for keys another node
/// owns, inline requests among them), in RESP2 and RESP3, and each counts as one `get`.
#[test]
fn pipelined_gets_answer_as_single_gets_do() {
    let (cluster, server) = serve(3, 0, ServerConfig::default());
    let client = cluster.client();
    for i in 0..150 {
        client.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
    client.del(&["k7"]).unwrap();
    client.rpush("k7", &["a list"]).unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    let encode = |k: &str| format!("*2\r\n$3\r\nGET\r\n${}\r\n{k}\r\n", k.len());
    for proto in ["2", "3"] {
        let mut one = Raw::connect(first(&server));
        let mut pipe = Raw::connect(first(&server));
        assert!(one.cmd(&["HELLO", proto]).starts_with(if proto == "2" { "*" } else { "%" }));
        pipe.cmd(&["HELLO", proto]);
        let calls = |c: &mut Raw| cmdstat_calls(c, "get");
        let start = calls(&mut one);
        let singles: Vec<String> = keys.iter().map(|k| one.cmd(&["GET", k])).collect();
        let before = calls(&mut one);
        // One write: every request is in the server's buffer at once. An inline GET and a
        // PING in the middle cut the run of GETs.
        let mut request: String = keys[..100].iter().map(|k| encode(k)).collect();
        request.push_str("GET k100\r\n*1\r\n$4\r\nPING\r\n");
        request.extend(keys[101..].iter().map(|k| encode(k)));
        pipe.send(request.as_bytes());
        let mut piped: Vec<String> = (0..101).map(|_| pipe.reply()).collect();
        assert_eq!(pipe.reply(), "+PONG\r\n");
        piped.extend((101..keys.len()).map(|_| pipe.reply()));
        assert_eq!(piped, singles, "RESP{proto}");
        assert_eq!(calls(&mut one) - before, before - start, "counted as one by one");
        // The run covered every kind of answer.
        assert!(singles.iter().any(|r| r.starts_with('$') && r.contains("\r\nv")), "no value");
        for kind in ["-WRONGTYPE", "-MOVED"] {
            assert!(singles.iter().any(|r| r.starts_with(kind)), "no {kind:?} in RESP{proto}");
        }
        let nil = if proto == "2" { "$-1\r\n" } else { "_\r\n" };
        assert!(singles.iter().any(|r| r == nil), "no nil in RESP{proto}");
    }
}

/// Pipelined `SET`s are served as batches: the same replies, in the same order, as the same
/// requests sent one at a time (`OK`, `MOVED` for keys another node owns), in RESP2 and
/// RESP3; a run of `GET`s between them reads what the `SET`s before it wrote, a key set
/// twice in one run keeps its last value, a `SET` over a list replaces it, a watcher of a
/// key the batch writes has its transaction aborted, and each counts as one `set`.
#[test]
fn pipelined_sets_write_as_single_sets_do() {
    let (cluster, server) = serve(3, 0, ServerConfig::default());
    let (id, addr) = server.addresses()[0];
    let client = cluster.client();
    let keys: Vec<String> = (0..120).map(|i| format!("s{i}")).collect();
    let mine: Vec<&String> =
        keys.iter().filter(|k| cluster.slot_owner(key_slot(k)) == Some(id)).collect();
    let list = mine[3].clone();
    let set =
        |k: &str, v: &str| format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len());
    let get = |k: &str| format!("*2\r\n$3\r\nGET\r\n${}\r\n{k}\r\n", k.len());
    for proto in ["2", "3"] {
        for k in &keys {
            client.del(&[k]).unwrap();
        }
        client.rpush(&list, &["a list"]).unwrap();
        let mut one = Raw::connect(addr);
        let mut pipe = Raw::connect(addr);
        let mut watcher = Raw::connect(addr);
        one.cmd(&["HELLO", proto]);
        pipe.cmd(&["HELLO", proto]);
        assert_eq!(watcher.cmd(&["WATCH", mine[0]]), "+OK\r\n");
        let calls = |c: &mut Raw| cmdstat_calls(c, "set");
        let start = calls(&mut one);
        let singles: Vec<String> = keys.iter().map(|k| one.cmd(&["SET", k, "one"])).collect();
        let before = calls(&mut one);
        for k in &keys {
            client.del(&[k]).unwrap();
        }
        client.rpush(&list, &["a list"]).unwrap();
        // One write: SETs, a run of GETs of keys just set, the rest of the SETs, and the
        // first key of this node set once more in the last run.
        let mut request: String = keys[..60].iter().map(|k| set(k, &format!("v-{k}"))).collect();
        request.extend(mine[..4].iter().map(|k| get(k)));
        request.extend(keys[60..].iter().map(|k| set(k, &format!("v-{k}"))));
        request.push_str(&set(mine[0], "last"));
        pipe.send(request.as_bytes());
        let mut piped: Vec<String> = (0..60).map(|_| pipe.reply()).collect();
        let read: Vec<String> = (0..4).map(|_| pipe.reply()).collect();
        piped.extend((60..keys.len()).map(|_| pipe.reply()));
        assert_eq!(pipe.reply(), "+OK\r\n");
        assert_eq!(piped, singles, "RESP{proto}");
        assert_eq!(calls(&mut one) - before, before - start + 1, "counted as one by one");
        assert!(
            singles.iter().any(|r| r == "+OK\r\n") && singles.iter().any(|r| r.starts_with("-MOVED"))
        );
        for (k, r) in mine.iter().zip(&read) {
            let v = format!("v-{k}");
            let want =
                if keys[..60].contains(k) { format!("${}\r\n{v}\r\n", v.len()) } else { r.clone() };
            assert_eq!(*r, want, "GET {k} after its SET");
        }
        for k in &keys {
            let want = match cluster.slot_owner(key_slot(k)) {
                _ if k == mine[0] => Some("last".to_string()),
                Some(owner) if owner == id => Some(format!("v-{k}")),
                _ => None,
            };
            assert_eq!(
                client.get(k).unwrap().map(|v| String::from_utf8(v.to_vec()).unwrap()),
                want,
                "{k}"
            );
        }
        assert_eq!(one.cmd(&["TYPE", &list]), "+string\r\n");
        watcher.cmd(&["MULTI"]);
        watcher.cmd(&["GET", mine[0]]);
        assert_eq!(watcher.cmd(&["EXEC"]), "*-1\r\n", "WATCH saw the batch");
    }
}

/// Pipelined single-key writes (`INCR`, `HSET`, `LPUSH`, `EXPIRE`, `DEL`, ...) are served as
/// batches, one command per run: the replies, in order, and the state they leave are those of
/// the same requests sent one at a time (values, `WRONGTYPE`, a bad integer, `MOVED` for keys
/// another node owns, an arity error, an inline request among them), in RESP2 and RESP3, and
/// each counts as one call.
#[test]
fn pipelined_writes_answer_as_single_writes_do() {
    let (cluster, server) = serve(3, 0, ServerConfig::default());
    let (id, addr) = server.addresses()[0];
    let client = cluster.client();
    let keys: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    let inline =
        (0..).map(|i| format!("in{i}")).find(|k| cluster.slot_owner(key_slot(k)) == Some(id)).unwrap();
    let mut script: Vec<Vec<String>> = Vec::new();
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    for round in 0..2 {
        script.extend(keys.iter().map(|k| words(&["INCR", k])));
        script.extend(
            keys.iter().map(|k| words(&["HSET", &format!("h{k}"), "f", &round.to_string(), "g", "x"])),
        );
        script.extend(keys.iter().map(|k| words(&["LPUSH", &format!("l{k}"), "a", "b"])));
    }
    script.extend(keys.iter().map(|k| words(&["INCR", &format!("l{k}")])));
    script.extend(keys.iter().map(|k| words(&["INCRBY", k, "x"])));
    script.push(words(&["INCR"]));
    script.extend(keys.iter().map(|k| words(&["EXPIRE", &format!("h{k}"), "100"])));
    script.extend(keys[..30].iter().map(|k| words(&["DEL", k])));
    let encode = |w: &[String]| {
        let mut e = format!("*{}\r\n", w.len());
        w.iter().for_each(|a| e.push_str(&format!("${}\r\n{a}\r\n", a.len())));
        e
    };
    let reset = || {
        for k in &keys {
            for key in [k.clone(), format!("h{k}"), format!("l{k}")] {
                client.del(&[key]).unwrap();
            }
        }
    };
    let state = || -> Vec<String> {
        let mut c = Raw::connect(addr);
        keys.iter()
            .flat_map(|k| [k.clone(), format!("h{k}"), format!("l{k}")])
            .map(|k| {
                let kind = c.cmd(&["TYPE", &k]);
                let value = match kind.as_str() {
                    "+string\r\n" => c.cmd(&["GET", &k]),
                    "+hash\r\n" => c.cmd(&["HGETALL", &k]),
                    "+list\r\n" => c.cmd(&["LRANGE", &k, "0", "-1"]),
                    _ => String::new(),
                };
                let ttl = c.cmd(&["TTL", &k]);
                format!("{kind} {value} {}", ttl.starts_with(":-") || ttl.starts_with('-'))
            })
            .collect()
    };
    let calls = cmdstat_calls;
    for proto in ["2", "3"] {
        reset();
        let mut one = Raw::connect(addr);
        one.cmd(&["HELLO", proto]);
        let before = (calls(&mut one, "incr"), calls(&mut one, "hset"));
        let singles: Vec<String> =
            script.iter().map(|w| one.cmd(&w.iter().map(String::as_str).collect::<Vec<_>>())).collect();
        let after = (calls(&mut one, "incr"), calls(&mut one, "hset"));
        let after_singles = state();
        reset();
        let mut pipe = Raw::connect(addr);
        pipe.cmd(&["HELLO", proto]);
        let mut request: String = script.iter().map(|w| encode(w)).collect();
        // An inline request in the middle of the first run of INCRs.
        let at = request.match_indices("*2\r\n$4\r\nINCR").nth(10).unwrap().0;
        request.insert_str(at, &format!("INCR {inline}\r\n"));
        pipe.send(request.as_bytes());
        let mut piped: Vec<String> = (0..script.len() + 1).map(|_| pipe.reply()).collect();
        assert_eq!(piped.remove(10), ":1\r\n");
        assert_eq!(piped, singles, "RESP{proto}");
        client.del(&[&inline]).unwrap();
        assert_eq!(state(), after_singles, "the same state, RESP{proto}");
        let counted = (calls(&mut one, "incr"), calls(&mut one, "hset"));
        assert_eq!(
            (counted.0 - after.0 - 1, counted.1 - after.1),
            (after.0 - before.0, after.1 - before.1)
        );
        for kind in ["-WRONGTYPE", "-MOVED", "-ERR value is not an integer", "-ERR wrong number"] {
            assert!(singles.iter().any(|r| r.starts_with(kind)), "no {kind:?} in RESP{proto}");
        }
    }
    // A container's single-key writes keep their statistics per subcommand.
    let mut c = Raw::connect(addr);
    let streams: Vec<String> = (0..)
        .map(|i| format!("s{i}"))
        .filter(|k| cluster.slot_owner(key_slot(k)) == Some(id))
        .take(3)
        .collect();
    let request: String =
        streams.iter().map(|k| encode(&words(&["XGROUP", "CREATE", k, "g", "$", "MKSTREAM"]))).collect();
    c.send(request.as_bytes());
    assert!((0..3).all(|_| c.reply() == "+OK\r\n"));
    assert!(c.cmd(&["INFO", "commandstats"]).contains("cmdstat_xgroup|create:calls=3,"));
}

/// A pipeline of pushes to a list a `BLPOP` waits on serves the waiter after the first push,
/// before the next one runs, as Redis does: the waiter gets the first value and the pushes
/// answer 1, 1, 2, ... (batched, every push ran before the waiter was served: it got the
/// last value and the pushes answered 1 to 5).
#[test]
fn pipelined_pushes_serve_a_blocked_caller_in_order() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let mut waiter = Raw::connect(first(&server));
    let mut c = Raw::connect(first(&server));
    waiter.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.cmd(&["INFO", "clients"]).contains("blocked_clients:1\r\n") {
        assert!(Instant::now() < deadline, "the BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(2));
    }
    let pushes: String =
        (0..5).map(|i| format!("*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$2\r\nv{i}\r\n")).collect();
    c.send(pushes.as_bytes());
    let replies: Vec<String> = (0..5).map(|_| c.reply()).collect();
    assert_eq!(replies, [":1\r\n", ":1\r\n", ":2\r\n", ":3\r\n", ":4\r\n"]);
    assert_eq!(waiter.reply(), "*2\r\n$1\r\nq\r\n$2\r\nv0\r\n");
}

/// Under a memory budget a pipeline of `SET`s is checked request by request, as Redis checks
/// `maxmemory` before each command: the `SET` that crosses the budget runs, the ones after it
/// get `OOM`.
#[test]
fn pipelined_sets_meet_the_budget_one_by_one() {
    let (cluster, server) = serve(1, 0, ServerConfig::default());
    let mut c = Raw::connect(first(&server));
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]), "+OK\r\n");
    let limit = cluster.memory_used() + 100;
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]), "+OK\r\n");
    let value = "x".repeat(1000);
    let request: String = (0..8)
        .map(|i| format!("*3\r\n$3\r\nSET\r\n$2\r\nb{i}\r\n${}\r\n{value}\r\n", value.len()))
        .collect();
    c.send(request.as_bytes());
    let replies: Vec<String> = (0..8).map(|_| c.reply()).collect();
    assert_eq!(replies[0], "+OK\r\n");
    for r in &replies[1..] {
        assert_eq!(r, "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    }
}

/// What Redis Cluster refuses because replication and databases are the cluster's business,
/// refused in its words (checked against a real Redis Cluster); and `MOVE`, a write, is
/// redirected by its key first, as any write is.
#[test]
fn commands_a_cluster_refuses() {
    let (cluster, server) = serve(3, 1, ServerConfig::default());
    let (id, addr) = server.addresses()[0];
    let mut c = Raw::connect(addr);
    assert_eq!(c.cmd(&["REPLICAOF", "no", "one"]), "-ERR REPLICAOF not allowed in cluster mode.\r\n");
    assert_eq!(c.cmd(&["SLAVEOF", "127.0.0.1", "1"]), "-ERR REPLICAOF not allowed in cluster mode.\r\n");
    assert_eq!(
        c.cmd(&["REPLICAOF", "no"]),
        "-ERR wrong number of arguments for 'replicaof' command\r\n"
    );
    assert_eq!(
        c.cmd(&["FAILOVER"]),
        "-ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.\r\n"
    );
    let here =
        (0..).map(|i| format!("k{i}")).find(|k| cluster.slot_owner(key_slot(k)) == Some(id)).unwrap();
    let there =
        (0..).map(|i| format!("k{i}")).find(|k| cluster.slot_owner(key_slot(k)) != Some(id)).unwrap();
    assert_eq!(c.cmd(&["MOVE", &here, "1"]), "-ERR MOVE is not allowed in cluster mode\r\n");
    assert!(c.cmd(&["MOVE", &there, "1"]).starts_with("-MOVED "), "redirected by its key first");
}

/// `INFO errorstats` counts error replies by code, those inside `EXEC` too, with
/// `total_error_replies` in `INFO stats`, as redis-server counts the same requests; `CONFIG
/// RESETSTAT` clears them.
#[test]
fn error_replies_are_counted_by_code() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let mut c = Raw::connect(server.addresses()[0].1);
    assert_eq!(c.cmd(&["SET", "{e}s", "x"]), "+OK\r\n");
    assert!(c.cmd(&["GET"]).starts_with("-ERR"));
    assert!(c.cmd(&["LPUSH", "{e}s", "x"]).starts_with("-WRONGTYPE"));
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "{e}s"]);
    assert!(c.cmd(&["EXEC"]).contains("-ERR value is not an integer"));
    let stats = c.cmd(&["INFO", "errorstats"]);
    assert!(
        stats.contains("# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n"),
        "{stats}"
    );
    assert!(c.cmd(&["INFO", "stats"]).contains("total_error_replies:3\r\n"));
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    assert!(!c.cmd(&["INFO", "errorstats"]).contains("errorstat_"));
}

/// `INFO commandstats`: calls, rejected calls (a redirect, the arity) and failed calls (an
/// error while running), per subcommand for container commands, counted as redis-server
/// 7.0.15 counts the same requests (checked by hand against it): commands inside `EXEC` are
/// calls of their own, an aborted `EXEC` fails, a queued command is counted when it runs,
/// a blocked command counts when it blocks and fails if it is answered with an error,
/// pipelined `GET`s (served as one batch) count one by one, and an unknown command makes
/// no line. `CONFIG RESETSTAT` clears them; `INFO cpu` reports the process's CPU time.
#[test]
fn commands_are_counted_as_redis_counts_them() {
    let (cluster, server) = serve(2, 0, ServerConfig::default());
    let (id, addr) = server.addresses()[0];
    let here = |p: &str| {
        (0..).map(|i| format!("{p}{i}")).find(|k| cluster.slot_owner(key_slot(k)) == Some(id)).unwrap()
    };
    let there =
        (0..).map(|i| format!("t{i}")).find(|k| cluster.slot_owner(key_slot(k)) != Some(id)).unwrap();
    let (s, l) = (here("s"), here("l"));
    let mut c = Raw::connect(addr);
    assert_eq!(c.cmd(&["SET", &s, "x"]), "+OK\r\n");
    assert!(c.cmd(&["GET"]).starts_with("-ERR wrong number"));
    assert!(c.cmd(&["GET", &there]).starts_with("-MOVED"));
    assert!(c.cmd(&["LPUSH", &s, "x"]).starts_with("-WRONGTYPE"));
    assert!(c.cmd(&["NOSUCH"]).starts_with("-ERR unknown command"));
    assert!(c.cmd(&["CONFIG", "GET", "maxmemory"]).starts_with("*2"));
    assert!(c.cmd(&["CONFIG", "NOSUCH"]).starts_with("-ERR unknown subcommand"));
    // A transaction whose INCR fails, and one aborted by a queued arity error.
    for (words, reply) in
        [(&["MULTI"][..], "+OK"), (&["INCR", &s], "+QUEUED"), (&["GET", &s], "+QUEUED")]
    {
        assert!(c.cmd(words).starts_with(reply));
    }
    assert!(c.cmd(&["EXEC"]).contains("-ERR value is not an integer"));
    c.cmd(&["MULTI"]);
    assert!(c.cmd(&["GET"]).starts_with("-ERR wrong number"));
    assert!(c.cmd(&["EXEC"]).starts_with("-EXECABORT"));
    // A blocking pop that times out, and one unblocked with an error.
    assert_eq!(c.cmd(&["BLPOP", &l, "0.01"]), "*-1\r\n");
    let mut other = Raw::connect(addr);
    let my_id = c.cmd(&["CLIENT", "ID"]);
    c.send(format!("*3\r\n$5\r\nBLPOP\r\n${}\r\n{l}\r\n$1\r\n0\r\n", l.len()).as_bytes());
    let my_id = my_id.trim_start_matches(':').trim();
    let deadline = Instant::now() + Duration::from_secs(10);
    while other.cmd(&["CLIENT", "UNBLOCK", my_id, "ERROR"]) != ":1\r\n" {
        assert!(Instant::now() < deadline, "the BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(c.reply().starts_with("-UNBLOCKED"));
    // Three pipelined GETs, then INFO in the same pipeline: it sees them.
    let get = format!("*2\r\n$3\r\nGET\r\n${}\r\n{s}\r\n", s.len());
    c.send(format!("{get}{get}{get}*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n").as_bytes());
    for _ in 0..3 {
        assert_eq!(c.reply(), "$1\r\nx\r\n");
    }
    let stats = c.reply();
    let line = |name: &str| {
        let prefix = format!("cmdstat_{name}:");
        let l =
            stats.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{name}: {stats}"));
        // calls=N,usec=N,usec_per_call=F,rejected_calls=N,failed_calls=N
        let field = |f: &str| l.split([':', ',']).find_map(|kv| kv.strip_prefix(f)).unwrap().to_string();
        (field("calls="), field("rejected_calls="), field("failed_calls="))
    };
    let n = |a: u32, b: u32, c: u32| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(line("set"), n(1, 0, 0));
    // GET: 1 inside EXEC + 3 pipelined; rejected: the arity twice, the MOVED once.
    assert_eq!(line("get"), n(4, 3, 0));
    assert_eq!(line("lpush"), n(1, 0, 1));
    assert_eq!(line("incr"), n(1, 0, 1));
    assert_eq!(line("exec"), n(2, 0, 1));
    assert_eq!(line("multi"), n(2, 0, 0));
    assert_eq!(line("blpop"), n(2, 0, 1));
    assert_eq!(line("config|get"), n(1, 0, 0));
    assert!(!stats.contains("nosuch"), "{stats}");
    assert!(stats.contains("usec_per_call="), "{stats}");
    let cpu = c.cmd(&["INFO", "cpu"]);
    let user: f64 = cpu
        .lines()
        .find_map(|l| l.strip_prefix("used_cpu_user:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{cpu}"));
    assert!(user > 0.0, "the server has run for a while: {cpu}");
    assert!(!c.cmd(&["INFO"]).contains("# Commandstats"), "not in the default sections");
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    assert!(!c.cmd(&["INFO", "commandstats"]).contains("cmdstat_get"));
}

/// `MONITOR` shows what other connections run, in Redis's line format and order: the client's
/// own words (quoted, escaped), commands `EXEC` runs before the `EXEC`, pipelined `GET`s one
/// by one, passwords as `(redacted)`; not what was refused before running, nor
/// administrative commands. `RESET` ends it.
#[test]
fn monitor_shows_what_runs() {
    let (_cluster, server) = serve(2, 0, ServerConfig::default());
    let mut mon = Raw::connect(first(&server));
    assert_eq!(mon.cmd(&["MONITOR"]), "+OK\r\n");
    let mut c = Raw::connect(first(&server));
    assert_eq!(c.cmd(&["set", "k", "a \"b\"\n"]), "+OK\r\n");
    assert!(c.cmd(&["GET"]).starts_with("-ERR wrong number"));
    c.cmd(&["CONFIG", "GET", "maxmemory"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "n"]);
    c.cmd(&["TIME"]);
    c.cmd(&["EXEC"]);
    c.send(b"get k\r\nGET n\r\n");
    c.reply();
    c.reply();
    assert!(c.cmd(&["AUTH", "secret"]).starts_with("-ERR"));
    let addr = c.cmd(&["CLIENT", "INFO"]);
    let addr = addr.split(" addr=").nth(1).and_then(|r| r.split(' ').next()).unwrap().to_string();
    let expected = [
        r#""set" "k" "a \"b\"\n""#,
        r#""MULTI""#,
        r#""INCR" "n""#,
        r#""TIME""#,
        r#""EXEC""#,
        r#""get" "k""#,
        r#""GET" "n""#,
        r#""AUTH" "(redacted)""#,
        r#""CLIENT" "INFO""#,
    ];
    for words in expected {
        let line = mon.line();
        let (head, rest) = line.split_once("] ").unwrap_or_else(|| panic!("{line}"));
        // +<seconds>.<6 digits> [0 <address>
        let (stamp, who) = head.split_once(" [0 ").unwrap();
        let (secs, micros) = stamp.trim_start_matches('+').split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
        assert_eq!(who, addr);
        assert_eq!(rest, format!("{words}\r\n"));
    }
    // A node's monitor sees that node's commands only.
    let (_, other_port) = server.addresses()[1];
    let mut elsewhere = Raw::connect(other_port);
    elsewhere.cmd(&["PING"]);
    assert_eq!(mon.cmd(&["RESET"]), "+RESET\r\n");
    c.cmd(&["SET", "after", "reset"]);
    assert_eq!(mon.cmd(&["PING"]), "+PONG\r\n", "no more lines after RESET");
}

/// `<container> HELP` lists the subcommands, `HELP` last, as Redis lays it out; `HELP` with
/// more words is the arity error Redis gives (Redis's Tcl unit/type/stream).
#[test]
fn container_commands_answer_help() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let mut c = Raw::connect(first(&server));
    for name in
        ["XGROUP", "XINFO", "OBJECT", "CLIENT", "CONFIG", "CLUSTER", "COMMAND", "MEMORY", "PUBSUB"]
    {
        let help = c.cmd(&[name, "help"]);
        assert!(
            help.contains(&format!(
                "+{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
            )),
            "{help}"
        );
        assert!(help.ends_with("+HELP\r\n+    Print this help.\r\n"), "{help}");
        assert_eq!(
            c.cmd(&[name, "HELP", "xxx"]),
            format!("-ERR wrong number of arguments for '{}|help' command\r\n", name.to_lowercase())
        );
    }
    assert!(c.cmd(&["XINFO", "HELP"]).contains("+STREAM <key> [FULL [COUNT <count>]]\r\n"));
}

/// `SLOWLOG`: with `slowlog-log-slower-than 0` every command that ran is logged, newest
/// first, with Redis's entry shape (id, unix time, microseconds, words, client address,
/// client name), words past 32 and bytes past 128 shortened as Redis shortens them, passwords
/// redacted; `slowlog-max-len` bounds it; `EXEC`'s commands are logged, `EXEC` is not; a
/// negative threshold logs nothing. Each node keeps its own log and its own `INFO`
/// counters, `blocked_clients` included.
#[test]
fn slowlog_logs_what_ran_slower_than_the_threshold() {
    let (_cluster, server) = serve(2, 0, ServerConfig::default());
    let mut c = Raw::connect(first(&server));
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), ":0\r\n", "10 ms by default: nothing here is that slow");
    assert_eq!(c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "logger"]), "+OK\r\n");
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut words = vec!["SADD", "{s}set"];
    words.extend(many.iter().map(String::as_str));
    c.cmd(&words);
    let long = "A".repeat(130);
    c.cmd(&["SADD", "{s}set", &long]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "{s}n"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["AUTH", "x"]);
    let log = c.cmd(&["SLOWLOG", "GET", "5"]);
    let entries: Vec<&str> = log.split("*6\r\n").skip(1).collect();
    assert_eq!(entries.len(), 5, "{log}");
    assert!(entries[0].contains("$4\r\nAUTH\r\n$10\r\n(redacted)\r\n"), "{log}");
    assert!(
        entries[1].contains("*2\r\n$4\r\nINCR\r\n$4\r\n{s}n\r\n"),
        "EXEC's command, not EXEC: {log}"
    );
    assert!(entries[2].contains("$5\r\nMULTI\r\n"), "{log}");
    assert!(
        entries[3].contains(&format!("${}\r\n{}... (2 more bytes)\r\n", 128 + 18, &long[..128])),
        "{log}"
    );
    assert!(
        entries[4].contains("$23\r\n... (11 more arguments)\r\n") && entries[4].contains("*32\r\n"),
        "{log}"
    );
    assert!(entries[0].ends_with("$6\r\nlogger\r\n"), "the client's name last: {log}");
    // Pipelined SETs and GETs, served as batches, are logged one by one too.
    let (set, get) =
        ("*3\r\n$3\r\nSET\r\n$4\r\n{s}k\r\n$1\r\nv\r\n", "*2\r\n$3\r\nGET\r\n$4\r\n{s}k\r\n");
    c.send(format!("{set}{set}{set}{get}{get}{get}").as_bytes());
    let replies: Vec<String> = (0..6).map(|_| c.reply()).collect();
    assert_eq!(replies, [&["+OK\r\n"; 3][..], &["$1\r\nv\r\n"; 3][..]].concat());
    let log = c.cmd(&["SLOWLOG", "GET", "6"]);
    assert_eq!(log.matches("*2\r\n$3\r\nGET\r\n$4\r\n{s}k\r\n").count(), 3, "{log}");
    assert_eq!(log.matches("*3\r\n$3\r\nSET\r\n$4\r\n{s}k\r\n$1\r\nv\r\n").count(), 3, "{log}");
    assert_eq!(c.cmd(&["SLOWLOG", "GET", "-2"]), "-ERR count should be greater than or equal to -1\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "slowlog-max-len", "3"]), "+OK\r\n");
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), ":3\r\n");
    // The other node's port has a log and counters of its own.
    let mut other = Raw::connect(server.addresses()[1].1);
    assert_eq!(other.cmd(&["SLOWLOG", "LEN"]), ":0\r\n", "logged once it has run");
    assert_eq!(other.cmd(&["SLOWLOG", "LEN"]), ":1\r\n", "the threshold is server-wide");
    assert!(!other.cmd(&["INFO", "commandstats"]).contains("cmdstat_sadd"));
    assert!(other.cmd(&["INFO", "stats"]).contains("total_commands_processed:3\r\n"));
    // A WAIT that cannot be met (no replicas) blocks on its node only.
    let mut waiter = Raw::connect(first(&server));
    let id = waiter.cmd(&["CLIENT", "ID"]);
    waiter.send(b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.cmd(&["INFO", "clients"]).contains("blocked_clients:1\r\n") {
        assert!(Instant::now() < deadline, "the WAIT never blocked");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(other.cmd(&["INFO", "clients"]).contains("blocked_clients:0\r\n"));
    assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", id.trim_start_matches(':').trim()]), ":1\r\n");
    assert_eq!(waiter.reply(), ":0\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), "+OK\r\n");
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), ":0\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-2"]),
        "-ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument \
         must be between -1 and 9223372036854775807 inclusive\r\n"
    );
}

/// `CLIENT PAUSE ms WRITE` holds writes (shown blocked) while reads go on, until `CLIENT
/// UNPAUSE`; `ALL` holds every command until its time is up, `UNPAUSE` included; bad
/// arguments get Redis's errors.
#[test]
fn client_pause_holds_commands_until_unpaused() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let addr = first(&server);
    let (mut admin, mut writer, mut reader) =
        (Raw::connect(addr), Raw::connect(addr), Raw::connect(addr));
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]), "+OK\r\n");
    writer.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !admin
        .cmd(&["CLIENT", "LIST"])
        .lines()
        .any(|l| l.contains(" flags=b ") && l.contains(" qbuf=27 "))
    {
        assert!(Instant::now() < deadline, "the SET never showed as postponed");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(reader.cmd(&["GET", "k"]), "$-1\r\n", "reads run, the write waits");
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(writer.reply(), "+OK\r\n");
    assert_eq!(reader.cmd(&["GET", "k"]), "$1\r\nv\r\n");

    let started = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "300"]), "+OK\r\n");
    assert_eq!(reader.cmd(&["GET", "k"]), "$1\r\nv\r\n", "answered once the pause is over");
    assert!(started.elapsed() >= Duration::from_millis(300), "ALL held the read");
    for (words, error) in [
        (&["CLIENT", "PAUSE", "10", "NOW"][..], "-ERR CLIENT PAUSE mode must be WRITE or ALL"),
        (&["CLIENT", "PAUSE", "-1"], "-ERR timeout is negative"),
        (&["CLIENT", "PAUSE", "x"], "-ERR timeout is not an integer or out of range"),
        (&["CLIENT", "PAUSE"], "-ERR wrong number of arguments for 'client|pause' command"),
    ] {
        assert_eq!(admin.cmd(words), format!("{error}\r\n"), "{words:?}");
    }
}

/// A monitor that stops reading is closed once `MONITOR` lines pile up for it (as Redis
/// closes a client past its output buffer limit), instead of the server holding them all;
/// the connection whose commands it watched goes on.
#[test]
fn a_monitor_that_does_not_read_is_closed() {
    let (_cluster, server) = serve(1, 0, ServerConfig::default());
    let addr = first(&server);
    let mut mon = Raw::connect(addr);
    assert_eq!(mon.cmd(&["MONITOR"]), "+OK\r\n");
    let mut c = Raw::connect(addr);
    // Well past the lines a monitor may have waiting plus what the sockets buffer.
    let batch = "PING\r\n".repeat(10_000);
    let mut sent = 0;
    let mut closed = false;
    while sent < 2_000_000 && !closed {
        c.send(batch.as_bytes());
        for _ in 0..10_000 {
            assert_eq!(c.line(), "+PONG\r\n");
        }
        sent += 10_000;
        closed = sent % 200_000 == 0 && c.cmd(&["CLIENT", "LIST"]).matches("id=").count() == 1;
    }
    assert!(closed, "the monitor is still open after {sent} commands");
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
}
