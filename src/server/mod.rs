//! The RESP server (level 5, feature `server`): every node of a [`Cluster`] on a TCP port of
//! its own, answering as that node does in Redis Cluster.
//!
//! - `resp`: the request parser and reply encoder (RESP2 and RESP3); `resp3`: the shapes
//!   RESP3 gives some replies (maps, sets, doubles, score pairs);
//! - `conn`: one connection: its read/execute/write loop, backpressure, limits, and the
//!   per-connection state Redis keeps (protocol, auth, name, `MULTI`/`WATCH`, `ASKING`,
//!   `READONLY`); pushes (pub/sub) enter through its push channel;
//! - `pubsub`: a connection's subscriptions: subscribe mode, message frames, the pub/sub
//!   output-buffer limit, `sunsubscribe` when a shard channel's slot leaves the node;
//! - `stats`: what `INFO commandstats` and `INFO cpu` report; `monitor`: `MONITOR`'s lines;
//!   `help`: the container commands' `HELP`;
//! - `admin`: the connection and server commands (`HELLO`, `CLIENT`, `COMMAND`, `CONFIG`,
//!   `INFO`, the node-local `CLUSTER` subcommands);
//! - this file: [`ServerConfig`], [`Server`], the listeners, and the watcher that closes a
//!   killed node's port and opens it again when the node restarts.
//!
//! Commands run in place on the connection's task: they are in-memory and short. The server
//! calls the client and the control plane like any user.

mod admin;
mod conn;
mod help;
mod monitor;
mod pubsub;
mod resp;
mod resp3;
mod stats;

use crate::client::Client;
use crate::cluster::Cluster;
use crate::error::Error;
use crate::ids::NodeId;
use crate::topology::NodeAddr;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// How a [`Cluster`] is served: where, and with which limits.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use slotstore::{Cluster, ServerConfig};
/// let cluster = Cluster::builder().primaries(3).replicas(1).build()?;
/// // Ephemeral ports (the default): what tests use.
/// let server = cluster.serve(ServerConfig::default().bind("127.0.0.1"))?;
/// assert_eq!(server.addresses().len(), 6);
/// server.shutdown();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub(crate) bind: String,
    pub(crate) port: u16,
    pub(crate) announce_ip: Option<String>,
    pub(crate) announce_hostname: Option<String>,
    pub(crate) requirepass: Option<String>,
    pub(crate) maxclients: usize,
    pub(crate) timeout: Duration,
    pub(crate) proto_max_bulk_len: usize,
    pub(crate) client_query_buffer_limit: usize,
    pub(crate) threads: usize,
}

impl Default for ServerConfig {
    /// `127.0.0.1`, ephemeral ports, no password, 10000 clients, no idle timeout, Redis's
    /// protocol limits (512 MB bulk strings, 1 GB query buffer).
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1".into(),
            port: 0,
            announce_ip: None,
            announce_hostname: None,
            requirepass: None,
            maxclients: 10_000,
            timeout: Duration::ZERO,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            threads: 0,
        }
    }
}

impl ServerConfig {
    /// The address every node listens on (default `127.0.0.1`).
    #[must_use]
    pub fn bind(mut self, addr: &str) -> Self {
        self.bind = addr.into();
        self
    }

    /// The base port: node `i` (primaries first, then each primary's replicas) listens on
    /// `port + i`, as `redis-cli --cluster create` lays six nodes out. 0 (the default): an
    /// ephemeral port per node.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The IP address announced to clients in `CLUSTER SLOTS`/`NODES`/`SHARDS`, `MOVED` and
    /// `ASK` (Redis's `cluster-announce-ip`); default: the bind address, or `127.0.0.1` when
    /// binding every interface.
    #[must_use]
    pub fn announce_ip(mut self, ip: &str) -> Self {
        self.announce_ip = Some(ip.into());
        self
    }

    /// A hostname announced beside the IP (Redis's `cluster-announce-hostname`).
    #[must_use]
    pub fn announce_hostname(mut self, host: &str) -> Self {
        self.announce_hostname = Some(host.into());
        self
    }

    /// The password of the `default` user (Redis's `requirepass`): until `AUTH`, commands
    /// answer `NOAUTH`.
    #[must_use]
    pub fn requirepass(mut self, password: &str) -> Self {
        self.requirepass = Some(password.into());
        self
    }

    /// The most connections at once over all nodes (Redis's `maxclients`, default 10000);
    /// one more gets `-ERR max number of clients reached`.
    #[must_use]
    pub fn maxclients(mut self, n: usize) -> Self {
        self.maxclients = n;
        self
    }

    /// Closes a connection idle this long (Redis's `timeout`; zero, the default: never).
    #[must_use]
    pub fn timeout(mut self, idle: Duration) -> Self {
        self.timeout = idle;
        self
    }

    /// The longest bulk string a request may carry (Redis's `proto-max-bulk-len`, 512 MB).
    #[must_use]
    pub fn proto_max_bulk_len(mut self, bytes: usize) -> Self {
        self.proto_max_bulk_len = bytes;
        self
    }

    /// The most unparsed input a connection may hold (Redis's `client-query-buffer-limit`,
    /// 1 GB); past it the connection is closed.
    #[must_use]
    pub fn client_query_buffer_limit(mut self, bytes: usize) -> Self {
        self.client_query_buffer_limit = bytes;
        self
    }

    /// Runtime worker threads (0, the default: one per core).
    #[must_use]
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }
}

/// Settings `CONFIG SET` may change while serving.
pub(crate) struct Params {
    pub(crate) requirepass: Option<String>,
    pub(crate) maxclients: usize,
    pub(crate) timeout: Duration,
    pub(crate) proto_max_bulk_len: usize,
    pub(crate) client_query_buffer_limit: usize,
    /// Everything else `CONFIG SET` accepted (tooling sets encoding thresholds and the like),
    /// echoed back by `CONFIG GET`.
    pub(crate) other: std::collections::BTreeMap<String, String>,
}

/// What one connection shows in `CLIENT LIST` and how it is killed.
pub(crate) struct ClientEntry {
    pub(crate) id: u64,
    /// The node the connection talks to (closed with it).
    pub(crate) node: NodeId,
    /// Commands it ran (its own counter: connections share no counter on the hot path).
    pub(crate) commands: AtomicU64,
    pub(crate) addr: SocketAddr,
    pub(crate) laddr: SocketAddr,
    pub(crate) created: Instant,
    pub(crate) meta: Mutex<ClientMeta>,
    /// Closes the connection: `CLIENT KILL`, or its node was killed.
    pub(crate) kill: Notify,
    /// Set while the connection waits in a blocking command, for `CLIENT UNBLOCK`.
    pub(crate) unblock: Mutex<Option<Arc<Unblock>>>,
}

/// How `CLIENT UNBLOCK` reaches a connection waiting in a blocking command.
pub(crate) struct Unblock {
    /// Wakes the waiting command (the same notification a serving write uses).
    pub(crate) wake: Arc<Notify>,
    /// 0 until `CLIENT UNBLOCK` asks; then `UNBLOCK_TIMEOUT` or `UNBLOCK_ERROR`.
    pub(crate) how: std::sync::atomic::AtomicU8,
}

/// `CLIENT UNBLOCK id TIMEOUT` (the default): answered as if its timeout passed.
pub(crate) const UNBLOCK_TIMEOUT: u8 = 1;
/// `CLIENT UNBLOCK id ERROR`: answered `UNBLOCKED client unblocked via CLIENT UNBLOCK`.
pub(crate) const UNBLOCK_ERROR: u8 = 2;

/// The limits a connection reads on every batch, without a lock.
pub(crate) struct HotLimits {
    pub(crate) proto_max_bulk_len: AtomicUsize,
    pub(crate) client_query_buffer_limit: AtomicUsize,
    /// Idle timeout, milliseconds (0: none).
    pub(crate) timeout_ms: AtomicU64,
    /// `slowlog-log-slower-than` (microseconds; negative: no slow log) and `slowlog-max-len`.
    pub(crate) slowlog_slower_than: std::sync::atomic::AtomicI64,
    pub(crate) slowlog_max_len: AtomicUsize,
}

/// The parts of a [`ClientEntry`] that change.
#[derive(Default)]
pub(crate) struct ClientMeta {
    pub(crate) name: String,
    pub(crate) lib_name: String,
    pub(crate) lib_ver: String,
    pub(crate) last_cmd: String,
    pub(crate) last_active: Option<Instant>,
    pub(crate) resp: u8,
    /// Redis's flag letters (`P` subscribed, `x` in `MULTI`, `b` blocked, `r` `READONLY`);
    /// empty for none (`N`).
    pub(crate) flags: String,
    /// Commands queued since `MULTI`; -1 outside a transaction.
    pub(crate) multi: i64,
    /// Channels, patterns and shard channels subscribed.
    pub(crate) subs: (usize, usize, usize),
    /// Bytes read and not yet run (the running command's included), and the room left in
    /// the read buffer.
    pub(crate) qbuf: usize,
    pub(crate) qbuf_free: usize,
}

/// State every connection and listener shares.
pub(crate) struct Shared {
    pub(crate) cluster: Cluster,
    pub(crate) client: Client,
    pub(crate) params: Mutex<Params>,
    /// Copies of the limits in `params`, read by connections on every batch.
    pub(crate) hot: HotLimits,
    pub(crate) clients: Mutex<HashMap<u64, Arc<ClientEntry>>>,
    next_client: AtomicU64,
    pub(crate) connected: AtomicUsize,
    pub(crate) total_connections: AtomicU64,
    pub(crate) rejected_connections: AtomicU64,
    /// `CLIENT PAUSE`: until when, and whether every command waits (`ALL`) or only those
    /// that write (`WRITE`); `paused` is the flag every request reads first.
    pub(crate) pause: Mutex<Option<(Instant, bool)>>,
    pub(crate) paused: std::sync::atomic::AtomicBool,
    /// Woken by `CLIENT UNPAUSE`.
    pub(crate) unpaused: Notify,
    /// Each node's `INFO errorstats` (errors are rare: a lock per one is cheap),
    /// `commandstats` (added by each connection once per batch of requests), closed
    /// connections' command counts and slow log.
    pub(crate) counters: Mutex<HashMap<NodeId, stats::NodeCounters>>,
    /// Connections in `MONITOR` mode, and how many (read by every command).
    pub(crate) monitors: Mutex<monitor::Monitors>,
    pub(crate) monitoring: AtomicUsize,
    pub(crate) started: Instant,
    /// The address each node listens on (kept across a kill and restart).
    pub(crate) ports: Mutex<HashMap<NodeId, SocketAddr>>,
    /// Where nodes added later (`add_primary`) listen and how they are announced.
    bind_ip: IpAddr,
    base_port: u16,
    announced_ip: String,
    announced_hostname: Option<String>,
}

impl Shared {
    pub(crate) fn next_client_id(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }

    /// Commands `node`'s port ran since the start (or `CONFIG RESETSTAT` there).
    pub(crate) fn commands(&self, node: NodeId) -> u64 {
        let open: u64 = self
            .clients
            .lock()
            .values()
            .filter(|c| c.node == node)
            .map(|c| c.commands.load(Ordering::Relaxed))
            .sum();
        open + self.counters.lock().get(&node).map_or(0, |c| c.commands_closed)
    }

    /// Pauses the server's clients until `until`: every command (`all`) or those that
    /// write. A pause already on is extended, and widened to all commands, never shortened.
    pub(crate) fn pause_clients(&self, until: Instant, all: bool) {
        let mut p = self.pause.lock();
        let (until, all) = match *p {
            Some((u, a)) => (u.max(until), a || all),
            None => (until, all),
        };
        *p = Some((until, all));
        self.paused.store(true, Ordering::Release);
    }

    /// Ends a pause (`CLIENT UNPAUSE`, or its time is up) and wakes the postponed.
    pub(crate) fn unpause_clients(&self) {
        *self.pause.lock() = None;
        self.paused.store(false, Ordering::Release);
        self.unpaused.notify_waiters();
    }

    /// Until when a command must wait for a pause (None: it runs now); `writes` tells
    /// whether it writes (asked only under a `WRITE` pause).
    pub(crate) fn postponed_until(&self, writes: impl FnOnce() -> bool) -> Option<Instant> {
        if !self.paused.load(Ordering::Acquire) {
            return None;
        }
        let (until, all) = (*self.pause.lock())?;
        if Instant::now() >= until {
            self.unpause_clients();
            return None;
        }
        (all || writes()).then_some(until)
    }

    /// One more (`true`) or one fewer blocked connection on `node`'s port.
    pub(crate) fn count_blocked(&self, node: NodeId, more: bool) {
        self.counters(node, |c| {
            c.blocked = if more { c.blocked + 1 } else { c.blocked.saturating_sub(1) }
        });
    }

    /// Runs `f` on `node`'s counters.
    pub(crate) fn counters<R>(&self, node: NodeId, f: impl FnOnce(&mut stats::NodeCounters) -> R) -> R {
        f(self.counters.lock().entry(node).or_default())
    }

    /// Copies the limits of `p` where connections read them.
    pub(crate) fn publish_limits(&self, p: &Params) {
        self.hot.proto_max_bulk_len.store(p.proto_max_bulk_len, Ordering::Relaxed);
        self.hot.client_query_buffer_limit.store(p.client_query_buffer_limit, Ordering::Relaxed);
        let ms = u64::try_from(p.timeout.as_millis()).unwrap_or(u64::MAX);
        self.hot.timeout_ms.store(ms, Ordering::Relaxed);
        let set = |name: &str| p.other.get(name).and_then(|v| v.parse::<i64>().ok());
        let slower = set("slowlog-log-slower-than").unwrap_or(10_000);
        self.hot.slowlog_slower_than.store(slower, Ordering::Relaxed);
        let max_len = set("slowlog-max-len").unwrap_or(128).max(0) as usize;
        self.hot.slowlog_max_len.store(max_len, Ordering::Relaxed);
    }

    /// The port node `id` listens on, if it is served.
    pub(crate) fn port_of(&self, id: NodeId) -> Option<SocketAddr> {
        self.ports.lock().get(&id).copied()
    }

    /// The address announced for a node listening on `local`.
    fn announced(&self, local: SocketAddr) -> NodeAddr {
        let mut a = NodeAddr::new(self.announced_ip.clone(), local.port());
        a.hostname = self.announced_hostname.clone();
        a
    }

    /// Where `id` is announced now.
    pub(crate) fn addr_of(&self, id: NodeId) -> NodeAddr {
        self.client.topology().addr(id)
    }
}

/// A running server: every node of a cluster listening on its own port.
///
/// Dropping it (or [`Server::shutdown`]) closes every port and connection; the [`Cluster`]
/// keeps its data and can be served again.
pub struct Server {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addresses", &self.addresses()).finish()
    }
}

impl Cluster {
    /// Serves every node (primaries first, then each primary's replicas) on a TCP port of
    /// its own, speaking RESP2 and RESP3, and publishes the real addresses into the topology
    /// so `CLUSTER SLOTS`, `NODES`, `SHARDS`, `MOVED` and `ASK` name ports clients can reach.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{Cluster, ServerConfig};
    /// let cluster = Cluster::builder().primaries(3).replicas(1).build()?;
    /// let server = cluster.serve(ServerConfig::default().bind("127.0.0.1").port(7001))?;
    /// for (node, addr) in server.addresses() {
    ///     println!("{node} {addr}"); // 7001..7006
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR` with the reason when an address does not parse, a port cannot be bound, or the
    /// runtime cannot start. Nothing is left listening then.
    pub fn serve(&self, config: ServerConfig) -> Result<Server, Error> {
        let io = |what: &str, e: std::io::Error| Error::Command(format!("{what}: {e}"));
        let ip: IpAddr = config
            .bind
            .parse()
            .map_err(|_| Error::Command(format!("Invalid bind address '{}'", config.bind)))?;
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if config.threads > 0 {
            builder.worker_threads(config.threads);
        }
        let runtime = builder
            .enable_all()
            .thread_name("slotstore-server")
            .build()
            .map_err(|e| io("cannot start the server runtime", e))?;
        let client = self.client();
        let nodes: Vec<NodeId> = client.topology().nodes().iter().map(|n| n.id).collect();
        // Bind every port before announcing anything: a failure leaves nothing behind.
        let mut listeners = Vec::new();
        for (i, &id) in nodes.iter().enumerate() {
            let port = if config.port == 0 {
                0
            } else {
                u16::try_from(usize::from(config.port) + i)
                    .map_err(|_| Error::msg("Invalid TCP port: the nodes' ports pass 65535"))?
            };
            let std = std::net::TcpListener::bind(SocketAddr::new(ip, port))
                .map_err(|e| io(&format!("cannot listen on {ip}:{port}"), e))?;
            std.set_nonblocking(true).map_err(|e| io("cannot listen", e))?;
            let local = std.local_addr().map_err(|e| io("cannot listen", e))?;
            listeners.push((id, std, local));
        }
        let announced_ip = config.announce_ip.clone().unwrap_or_else(|| {
            if ip.is_unspecified() {
                "127.0.0.1".into()
            } else {
                ip.to_string()
            }
        });
        let ports = listeners.iter().map(|(id, _, local)| (*id, *local)).collect();
        let shared = Arc::new(Shared {
            cluster: self.clone(),
            client,
            params: Mutex::new(Params {
                requirepass: config.requirepass.clone(),
                maxclients: config.maxclients,
                timeout: config.timeout,
                proto_max_bulk_len: config.proto_max_bulk_len,
                client_query_buffer_limit: config.client_query_buffer_limit,
                other: Default::default(),
            }),
            hot: HotLimits {
                proto_max_bulk_len: AtomicUsize::new(config.proto_max_bulk_len),
                client_query_buffer_limit: AtomicUsize::new(config.client_query_buffer_limit),
                timeout_ms: AtomicU64::new(
                    u64::try_from(config.timeout.as_millis()).unwrap_or(u64::MAX),
                ),
                slowlog_slower_than: std::sync::atomic::AtomicI64::new(10_000),
                slowlog_max_len: AtomicUsize::new(128),
            },
            clients: Mutex::new(HashMap::new()),
            next_client: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
            counters: Mutex::new(HashMap::new()),
            pause: Mutex::new(None),
            paused: std::sync::atomic::AtomicBool::new(false),
            unpaused: Notify::new(),
            monitors: Mutex::new(Vec::new()),
            monitoring: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            started: Instant::now(),
            ports: Mutex::new(ports),
            bind_ip: ip,
            base_port: config.port,
            announced_ip,
            announced_hostname: config.announce_hostname.clone(),
        });
        let addrs: Vec<(NodeId, NodeAddr)> =
            listeners.iter().map(|(id, _, local)| (*id, shared.announced(*local))).collect();
        shared.client.announce(&addrs);
        let (stop, stop_rx) = watch::channel(false);
        {
            let _guard = runtime.enter();
            let mut open = HashMap::new();
            for (id, std, _) in listeners {
                let l = tokio::net::TcpListener::from_std(std).map_err(|e| io("cannot listen", e))?;
                open.insert(id, runtime.spawn(accept_loop(shared.clone(), id, l, stop_rx.clone())));
            }
            runtime.spawn(watch_nodes(shared.clone(), open, stop_rx));
        }
        Ok(Server { shared, runtime: Some(runtime), stop })
    }
}

impl Server {
    /// Every node served and the address it listens on, in node order: primaries first,
    /// then each primary's replicas, then nodes added later (`add_primary`, which get a port
    /// within milliseconds).
    pub fn addresses(&self) -> Vec<(NodeId, SocketAddr)> {
        let mut all: Vec<(NodeId, SocketAddr)> =
            self.shared.ports.lock().iter().map(|(id, a)| (*id, *a)).collect();
        all.sort_by_key(|(id, _)| *id);
        all
    }

    /// The cluster served.
    pub fn cluster(&self) -> &Cluster {
        &self.shared.cluster
    }

    /// Closes every port and connection and stops the server's threads. The cluster keeps
    /// its data; its topology names the symbolic addresses again. Dropping the server does
    /// the same.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if self.runtime.is_none() {
            return;
        }
        self.stop.send_replace(true);
        // The ports close: the topology goes back to the symbolic addresses.
        let served: Vec<(NodeId, NodeAddr)> =
            self.shared.ports.lock().keys().map(|id| (*id, NodeAddr::symbolic(*id))).collect();
        self.shared.client.announce(&served);
        if let Some(rt) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                // Inside another runtime (an async test) blocking is not allowed.
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Accepts connections for node `id` until the server stops or the watcher aborts it.
async fn accept_loop(
    shared: Arc<Shared>,
    id: NodeId,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(conn::run(shared.clone(), id, stream, peer));
            }
            // Out of descriptors and the like: back off a little instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// How often the watcher looks for killed, restarted, added and removed nodes.
const WATCH_EVERY: Duration = Duration::from_millis(5);

/// Keeps the ports in step with the nodes: closes the port and connections of a node that
/// was killed (or removed) and listens again on the same port when it is restarted; gives a
/// node added later (`add_primary`) a port of its own (`base + index`, or ephemeral) and
/// announces it.
async fn watch_nodes(
    shared: Arc<Shared>,
    mut open: HashMap<NodeId, tokio::task::JoinHandle<()>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let t = shared.client.topology();
        // Nodes added since: bind and announce them.
        let known: Vec<NodeId> = shared.ports.lock().keys().copied().collect();
        let mut added = Vec::new();
        for n in t.nodes().iter().filter(|n| !known.contains(&n.id)) {
            let port = match shared.base_port {
                0 => Some(0),
                base => u16::try_from(usize::from(base) + n.id.index()).ok(),
            };
            let Some(port) = port else { continue };
            let Ok(l) = tokio::net::TcpListener::bind(SocketAddr::new(shared.bind_ip, port)).await
            else {
                continue;
            };
            let Ok(local) = l.local_addr() else { continue };
            shared.ports.lock().insert(n.id, local);
            added.push((n.id, shared.announced(local)));
            open.insert(n.id, tokio::spawn(accept_loop(shared.clone(), n.id, l, stop.clone())));
        }
        if !added.is_empty() {
            shared.client.announce(&added);
        }
        let ports: Vec<(NodeId, SocketAddr)> =
            shared.ports.lock().iter().map(|(k, v)| (*k, *v)).collect();
        for (id, addr) in ports {
            let removed = t.node(id).is_none();
            let down = removed || shared.client.node_is_down(id);
            let listening = open.contains_key(&id);
            if down && listening {
                if let Some(task) = open.remove(&id) {
                    task.abort();
                }
                // Its connections close with it.
                for c in shared.clients.lock().values().filter(|c| c.node == id) {
                    c.kill.notify_one();
                }
                if removed {
                    shared.ports.lock().remove(&id);
                }
            } else if !down && !listening {
                // The old socket is closed; the port is ours again (SO_REUSEADDR).
                if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
                    open.insert(id, tokio::spawn(accept_loop(shared.clone(), id, l, stop.clone())));
                }
            }
        }
    }
}
