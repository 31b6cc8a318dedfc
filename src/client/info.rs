//! `INFO` and `CONFIG`: the store's statistics and run-time settings, by Redis's words.

use super::Client;
use crate::config::{parse_memory, EvictionPolicy};
use crate::error::Error;
use crate::glob::Glob;
use crate::node::NodeStats;
use crate::reply::Reply;
use std::fmt::Write as _;

/// Statistics of every primary and their total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// One entry per primary, in id order.
    pub nodes: Vec<NodeStats>,
    /// The sum over the primaries.
    pub total: NodeStats,
    /// Pub/sub: active channels, patterns, shard channels, and messages dropped by full
    /// subscriber queues.
    pub pubsub: super::PubSubStats,
}

fn human(bytes: usize) -> String {
    let b = bytes as f64;
    match bytes {
        0..=1023 => format!("{bytes}B"),
        1024..=1_048_575 => format!("{:.2}K", b / 1024.0),
        1_048_576..=1_073_741_823 => format!("{:.2}M", b / 1_048_576.0),
        _ => format!("{:.2}G", b / 1_073_741_824.0),
    }
}

impl Client {
    /// Statistics of every primary and their total: hits, misses, evictions, expired keys,
    /// redirects, keys, memory and commands by name.
    pub fn stats(&self) -> ClusterStats {
        let nodes: Vec<NodeStats> = self.registry.primaries().iter().map(|n| n.snapshot()).collect();
        let mut total = NodeStats::default();
        nodes.iter().for_each(|n| total.absorb(n));
        ClusterStats { nodes, total, pubsub: self.pubsub_stats() }
    }

    /// Bytes the primaries hold together: keys, values, TTL index and table overhead.
    pub fn memory_used(&self) -> usize {
        self.registry.primaries().iter().map(|n| n.memory_used()).sum()
    }

    /// Sets the memory budget (None: unlimited) and policy, as `CONFIG SET maxmemory` and
    /// `maxmemory-policy` do. Nodes recount what they hold and, over a lower budget, evict
    /// down to it now by the policy (as Redis does when `CONFIG SET` lowers `maxmemory`);
    /// under `noeviction` they refuse growing writes instead.
    pub fn set_max_memory(&self, limit: Option<usize>, policy: EvictionPolicy) {
        self.registry.budget.set(limit, policy);
        for n in self.registry.primaries() {
            n.recount();
            // Nothing evictable (noeviction, or a volatile policy without TTLs) is not an
            // error here: the next growing write is refused, as in Redis.
            let _ = n.make_room(None);
        }
    }

    /// `INFO [section...]`.
    pub(crate) fn info(&self, a: &[&[u8]]) -> Result<Reply, Error> {
        let wanted: Vec<String> =
            a[1..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
        let all = wanted.is_empty()
            || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
        let show = |name: &str| all || wanted.iter().any(|w| w == name);
        let stats = self.stats();
        let t = &stats.total;
        let budget = &self.registry.budget;
        let mut out = String::new();
        if show("server") {
            let _ = write!(
                out,
                "# Server\r\nslotstore_version:{}\r\nredis_mode:cluster\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            );
        }
        if show("clients") {
            let _ = write!(out, "# Clients\r\nblocked_clients:{}\r\n\r\n", t.blocked_clients);
        }
        if show("memory") {
            let limit = budget.limit().unwrap_or(0);
            let _ = write!(
                out,
                "# Memory\r\nused_memory:{}\r\nused_memory_human:{}\r\nmaxmemory:{limit}\r\n\
                 maxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\r\n",
                t.memory,
                human(t.memory),
                human(limit),
                budget.policy()
            );
        }
        if show("stats") {
            let processed: u64 = t.commands.values().sum();
            let _ = write!(
                out,
                "# Stats\r\ntotal_commands_processed:{processed}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\n\
                 keyspace_hits:{}\r\nkeyspace_misses:{}\r\nredirects:{}\r\n\
                 ask_redirects:{}\r\ntryagain_redirects:{}\r\n",
                t.expired, t.evictions, t.hits, t.misses, t.redirects, t.asks, t.try_agains
            );
            let p = &stats.pubsub;
            let _ = write!(
                out,
                "pubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\n\
                 pubsub_dropped_messages:{}\r\n\r\n",
                p.channels, p.patterns, p.shard_channels, p.dropped
            );
        }
        if show("commandstats") {
            out.push_str("# Commandstats\r\n");
            for (name, calls) in &t.commands {
                let _ = write!(out, "cmdstat_{name}:calls={calls}\r\n");
            }
            out.push_str("\r\n");
        }
        if show("replication") {
            out.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
        }
        if show("cluster") {
            out.push_str("# Cluster\r\ncluster_enabled:1\r\n\r\n");
        }
        if show("keyspace") {
            out.push_str("# Keyspace\r\n");
            if t.keys > 0 {
                let _ = write!(out, "db0:keys={},expires=0,avg_ttl=0\r\n", t.keys);
            }
        }
        while out.ends_with("\r\n\r\n") {
            out.truncate(out.len() - 2);
        }
        Ok(Reply::bulk(out))
    }

    /// `CONFIG GET pattern... | SET name value... | RESETSTAT`.
    pub(crate) fn config(&self, a: &[&[u8]]) -> Result<Reply, Error> {
        let budget = &self.registry.budget;
        let sub = String::from_utf8_lossy(a[1]).to_ascii_lowercase();
        match sub.as_str() {
            "get" if a.len() >= 3 => {
                let params = [
                    ("maxmemory", budget.limit().unwrap_or(0).to_string()),
                    ("maxmemory-policy", budget.policy().to_string()),
                    (
                        "notify-keyspace-events",
                        crate::keyspace::events::format_flags(self.hub().notify_flags()),
                    ),
                ];
                let mut out = Vec::new();
                for (name, value) in params {
                    if a[2..].iter().any(|p| Glob::new(&p.to_ascii_lowercase()).matches(name.as_bytes()))
                    {
                        out.push(Reply::bulk(name));
                        out.push(Reply::bulk(value));
                    }
                }
                Ok(Reply::Array(out))
            }
            "set" if a.len() >= 4 && a.len() % 2 == 0 => {
                // Validate every pair before applying any, as Redis 7 does.
                let (mut limit, mut policy) = (budget.limit(), budget.policy());
                let mut notify = self.hub().notify_flags();
                for pair in a[2..].chunks_exact(2) {
                    let name = String::from_utf8_lossy(pair[0]).to_ascii_lowercase();
                    let fail = |why: &str| {
                        Error::Command(format!(
                            "CONFIG SET failed (possibly related to argument '{name}') - {why}"
                        ))
                    };
                    match name.as_str() {
                        "maxmemory" => {
                            let v = parse_memory(pair[1])
                                .ok_or_else(|| fail("argument must be a memory value"))?;
                            limit = (v > 0).then_some(v);
                        }
                        "maxmemory-policy" => {
                            policy = String::from_utf8_lossy(pair[1]).parse().map_err(|_| {
                                fail(
                                    "argument(s) must be one of the following: volatile-lru, volatile-lfu, \
                                     volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, \
                                     noeviction",
                                )
                            })?;
                        }
                        "notify-keyspace-events" => {
                            notify =
                                crate::keyspace::events::parse_flags(pair[1]).map_err(|e| fail(&e))?;
                        }
                        _ => {
                            return Err(Error::Command(format!(
                                "Unknown option or number of arguments for CONFIG SET - '{name}'"
                            )))
                        }
                    }
                }
                if (limit, policy) != (budget.limit(), budget.policy()) {
                    self.set_max_memory(limit, policy);
                }
                self.hub().set_notify_flags(notify);
                Ok(Reply::ok())
            }
            "resetstat" if a.len() == 2 => {
                for n in self.registry.primaries() {
                    n.stats.reset();
                }
                Ok(Reply::ok())
            }
            "get" | "set" | "resetstat" => Err(Error::arity(&format!("config|{sub}"))),
            _ => Err(Error::Command(format!(
                "unknown subcommand '{}'. Try CONFIG HELP.",
                String::from_utf8_lossy(a[1])
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values() {
        assert_eq!(parse_memory(b"100"), Some(100));
        assert_eq!(parse_memory(b"10mb"), Some(10 << 20));
        assert_eq!(parse_memory(b"1GB"), Some(1 << 30));
        assert_eq!(parse_memory(b"2k"), Some(2000));
        assert_eq!(parse_memory(b"-5"), None);
        assert_eq!(parse_memory(b"abc"), None);
        assert_eq!(parse_memory(b"5xb"), None);
    }
}
