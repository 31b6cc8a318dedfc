//! `slotstore-server`: a Redis Cluster for local development in one process, every node on
//! its own port, reachable by any Redis client without Docker or NAT maps.
//!
//! ```sh
//! slotstore-server --primaries 3 --replicas 1 --port 7001   # nodes on 7001..7006
//! ```

use clap::Parser;
use slotstore::{parse_memory, Cluster, EvictionPolicy, Role, ServerConfig};
use std::time::Duration;

/// A Redis Cluster in one process: every node (primaries first, then each primary's
/// replicas) listens on its own port.
#[derive(Parser, Debug)]
#[command(name = "slotstore-server", version, about)]
struct Args {
    /// Primaries (shards).
    #[arg(long, default_value_t = 3)]
    primaries: usize,
    /// Replicas per primary.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Base port: node i listens on port + i (0: ephemeral ports).
    #[arg(long, default_value_t = 7001)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// IP address announced to clients (CLUSTER SLOTS, NODES, SHARDS, MOVED, ASK).
    #[arg(long)]
    announce_ip: Option<String>,
    /// Hostname announced beside the IP.
    #[arg(long)]
    announce_hostname: Option<String>,
    /// Password of the default user.
    #[arg(long)]
    requirepass: Option<String>,
    /// Memory budget: bytes or 64mb, 1gb... (0: unlimited).
    #[arg(long)]
    maxmemory: Option<String>,
    /// Eviction policy: noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru,
    /// volatile-lfu, volatile-random, volatile-ttl.
    #[arg(long, default_value = "noeviction")]
    maxmemory_policy: String,
    /// Failure detection timeout, milliseconds.
    #[arg(long, default_value_t = 2000)]
    node_timeout: u64,
    /// Most client connections at once.
    #[arg(long, default_value_t = 10_000)]
    maxclients: usize,
    /// Close connections idle this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    timeout: u64,
    /// Runtime worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("slotstore-server: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let policy: EvictionPolicy = args
        .maxmemory_policy
        .parse()
        .map_err(|_| format!("unknown --maxmemory-policy '{}'", args.maxmemory_policy))?;
    let mut builder = Cluster::builder()
        .primaries(args.primaries)
        .replicas(args.replicas)
        .node_timeout(Duration::from_millis(args.node_timeout))
        .eviction_policy(policy);
    if let Some(m) = &args.maxmemory {
        let bytes =
            parse_memory(m).ok_or_else(|| format!("--maxmemory '{m}' is not a memory amount"))?;
        if bytes > 0 {
            builder = builder.max_memory(bytes);
        }
    }
    let cluster = builder.build().map_err(|e| e.to_string())?;
    let mut config = ServerConfig::default()
        .bind(&args.bind)
        .port(args.port)
        .maxclients(args.maxclients)
        .timeout(Duration::from_secs(args.timeout))
        .threads(args.threads);
    if let Some(ip) = &args.announce_ip {
        config = config.announce_ip(ip);
    }
    if let Some(host) = &args.announce_hostname {
        config = config.announce_hostname(host);
    }
    if let Some(pw) = &args.requirepass {
        config = config.requirepass(pw);
    }
    let server = cluster.serve(config).map_err(|e| e.to_string())?;
    // Every port accepts once serve returns (they are bound and listening): say where.
    let t = cluster.topology();
    for (node, _) in server.addresses() {
        let info = t.node(node).expect("served nodes are in the topology");
        let (role, slots) = match info.role {
            Role::Primary => {
                let ranges: Vec<String> = t
                    .slot_ranges(node)
                    .iter()
                    .map(|(s, e)| if s == e { s.to_string() } else { format!("{s}-{e}") })
                    .collect();
                ("master", ranges.join(","))
            }
            Role::Replica { of } => ("replica", format!("of {of}")),
        };
        println!("{node} {role} {} {slots}", info.addr);
    }
    wait_for_signal();
    server.shutdown();
    Ok(())
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("signal runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}
