//! Configuration values (level 0): what the builder collects, and the policy enums.

use crate::clock::Clock;
use crate::error::Error;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Parses a memory amount as Redis's configuration does: plain bytes, or a number with
/// `k`/`m`/`g` (powers of 1000) or `kb`/`mb`/`gb` (powers of 1024), in any case. None for
/// anything else, negative numbers included, and for amounts past `usize`.
///
/// ```
/// assert_eq!(slotstore::parse_memory("64mb"), Some(64 << 20));
/// assert_eq!(slotstore::parse_memory("2k"), Some(2000));
/// assert_eq!(slotstore::parse_memory("-5"), None);
/// ```
pub fn parse_memory(text: impl AsRef<[u8]>) -> Option<usize> {
    let s = std::str::from_utf8(text.as_ref()).ok()?.to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul).and_then(|n| usize::try_from(n).ok())
}

/// What to do when a write would take memory past `max_memory`: Redis's eight
/// `maxmemory-policy` values, with the same names and meanings.
///
/// ```
/// use slotstore::EvictionPolicy;
/// let p: EvictionPolicy = "allkeys-lru".parse().unwrap();
/// assert_eq!(p, EvictionPolicy::AllKeysLru);
/// assert_eq!(p.to_string(), "allkeys-lru");
/// assert!("lru".parse::<EvictionPolicy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EvictionPolicy {
    /// Refuse writes with `OOM` once the budget is used (Redis's default).
    #[default]
    NoEviction,
    /// Evict the least recently used key among all keys.
    AllKeysLru,
    /// Evict the least frequently used key among all keys.
    AllKeysLfu,
    /// Evict a random key.
    AllKeysRandom,
    /// Evict the least recently used key among keys with a TTL.
    VolatileLru,
    /// Evict the least frequently used key among keys with a TTL.
    VolatileLfu,
    /// Evict a random key among keys with a TTL.
    VolatileRandom,
    /// Evict the key with a TTL that expires soonest.
    VolatileTtl,
}

impl EvictionPolicy {
    /// All policies, in Redis's documentation order.
    pub const ALL: [EvictionPolicy; 8] = [
        EvictionPolicy::NoEviction,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::AllKeysLfu,
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileLfu,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
    ];

    /// The Redis name, as in `CONFIG SET maxmemory-policy`.
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::AllKeysLfu => "allkeys-lfu",
            EvictionPolicy::AllKeysRandom => "allkeys-random",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EvictionPolicy {
    type Err = Error;

    /// Parses a Redis policy name, case-insensitively.
    ///
    /// # Errors
    /// `ERR` naming the value when it is not one of the eight policies.
    fn from_str(s: &str) -> Result<Self, Error> {
        EvictionPolicy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::Command(format!("Invalid maxmemory-policy '{s}'")))
    }
}

/// How a slot moves between primaries. [`Cluster::migrate_slot`](crate::Cluster::migrate_slot)
/// is the atomic mode; the key-by-key mode's step-wise handle is not built yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MigrationMode {
    /// The slot's table moves in one step under the slot's lock (in the spirit of Valkey 9
    /// atomic slot migration): no `ASK`, no `TRYAGAIN`.
    #[default]
    Atomic,
    /// Redis's classic MIGRATING/IMPORTING flow: keys move in batches, clients see `ASK` and
    /// `TRYAGAIN`.
    KeyByKey,
}

/// Where a [`Client`](crate::Client) sends reads, in the spirit of ioredis `scaleReads` and
/// redis-rs `read_routing_strategy`.
///
/// Replicas apply the primary's stream asynchronously, so **a read from a replica may be
/// stale**: it may miss the caller's own latest write (use [`Client::wait`](crate::Client::wait)
/// first if that matters). Writes always go to the primary. A read that finds no usable
/// replica (none, failed, or still in its first full sync) is served by the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReadFrom {
    /// Every read on the slot's primary: always fresh (the default).
    #[default]
    Primary,
    /// Reads on a replica of the slot's primary (the first live one).
    Replica,
    /// Reads on a replica, spread over the live ones; the primary if none is usable.
    PreferReplica,
    /// Reads spread over the primary and its live replicas in turn.
    RoundRobin,
}

/// How [`Cluster::failover`](crate::Cluster::failover) promotes a replica, as
/// `CLUSTER FAILOVER [FORCE|TAKEOVER]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailoverMode {
    /// Lossless: the primary's writes are paused, the replica catches up to the primary's
    /// offset, then the roles swap. Needs a live primary.
    #[default]
    Default,
    /// Promotes at once with whatever the replica has applied (plus what is already on its
    /// stream); works with a dead primary. Writes the replica had not received are lost.
    Force,
    /// As `Force`. In Redis it also skips the vote of the other primaries; slotstore has no
    /// vote (one process decides), so the two behave alike.
    Takeover,
}

/// Everything the builder collects. Validated by `Config::validate`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub primaries: usize,
    pub replicas: usize,
    pub node_timeout: Duration,
    pub allow_cross_slot: bool,
    pub max_memory: Option<usize>,
    pub eviction_policy: EvictionPolicy,
    pub require_full_coverage: bool,
    pub clock: Clock,
    /// How often each node thread runs its periodic work (Redis's `hz` 10 is 100 ms).
    pub cron_interval: Duration,
    /// How long a keyed command keeps retrying a slot whose shard is failing over; None:
    /// twice `node_timeout`.
    pub retry_budget: Option<Duration>,
    /// Bounds of each in-process subscriber's queue: messages, bytes.
    pub subscriber_queue: (usize, usize),
}

/// Upper bound on nodes, so node handles live in a fixed array the hot path reads without locks.
pub(crate) const MAX_NODES: usize = 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            primaries: 1,
            replicas: 0,
            node_timeout: Duration::from_millis(200),
            allow_cross_slot: false,
            max_memory: None,
            eviction_policy: EvictionPolicy::NoEviction,
            require_full_coverage: true,
            clock: Clock::system(),
            cron_interval: Duration::from_millis(100),
            retry_budget: None,
            // As `pubsub::Limits::default()`: 32 MiB is Redis's hard pub/sub buffer limit.
            subscriber_queue: (100_000, 32 << 20),
        }
    }
}

impl Config {
    /// The retry budget in force: the configured one, else twice the node timeout.
    pub(crate) fn retry_budget(&self) -> Duration {
        self.retry_budget.unwrap_or(self.node_timeout * 2)
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.primaries == 0 {
            return Err(Error::msg("a cluster needs at least one primary"));
        }
        if self.primaries > crate::slot::SLOTS {
            return Err(Error::msg("more primaries than hash slots"));
        }
        if self.primaries * (1 + self.replicas) > MAX_NODES {
            return Err(Error::Command(format!("a cluster holds at most {MAX_NODES} nodes")));
        }
        if self.node_timeout < Duration::from_millis(4) {
            return Err(Error::msg("node timeout must be at least 4 ms"));
        }
        if self.cron_interval.is_zero() {
            return Err(Error::msg("cron interval must be positive"));
        }
        Ok(())
    }
}
