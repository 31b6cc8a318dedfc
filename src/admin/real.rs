//! [`ClusterAdmin`] for a real Redis/Valkey Cluster, over plain redis-rs connections to its
//! nodes (the commands `redis-cli --cluster` sends).

use super::{client_error, ClusterAdmin, Layout, Node, Shard};
use redis::{Connection, ConnectionLike, RedisResult, Value};
use std::time::{Duration, Instant};

/// Drives a real cluster's control plane: `CLUSTER SHARDS` for the layout,
/// `CLUSTER SETSLOT`/`MIGRATE` to move a slot, `CLUSTER FAILOVER` on a replica.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use slotstore::admin::{ClusterAdmin, RedisClusterAdmin};
/// let admin = RedisClusterAdmin::new(["127.0.0.1:7300"]);
/// let layout = admin.topology()?;
/// let to = layout.shards[1].primary.id.clone();
/// admin.move_slot(0, &to)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisClusterAdmin {
    seeds: Vec<String>,
    timeout: Duration,
}

impl RedisClusterAdmin {
    /// An admin for the cluster that the nodes at `seeds` (`host:port`) belong to. It
    /// connects on each call, to whichever seed answers first.
    pub fn new<S: Into<String>>(seeds: impl IntoIterator<Item = S>) -> RedisClusterAdmin {
        RedisClusterAdmin {
            seeds: seeds.into_iter().map(Into::into).collect(),
            timeout: Duration::from_secs(15),
        }
    }

    /// How long [`ClusterAdmin::failover`] and the checks after a move wait (default 15 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> RedisClusterAdmin {
        self.timeout = timeout;
        self
    }

    fn connect(&self, addr: &str) -> RedisResult<Connection> {
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        client.get_connection_with_timeout(Duration::from_secs(2))
    }

    fn any_seed(&self) -> RedisResult<Connection> {
        let mut last = None;
        for seed in &self.seeds {
            match self.connect(seed) {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| client_error("slotstore: no seed node", "")))
    }

    /// Waits until `check` holds, polling; an error names `what`.
    fn wait_until(
        &self,
        what: &'static str,
        mut check: impl FnMut() -> RedisResult<bool>,
    ) -> RedisResult<()> {
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            if check()? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(client_error("slotstore: timed out waiting", what));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

impl RedisClusterAdmin {
    /// True if every node of `layout` reports `primary` as the primary serving `slot` (or,
    /// for a slotless shard, as a primary at all).
    fn all_agree(&self, layout: &Layout, slot: Option<u16>, primary: &str) -> RedisResult<bool> {
        for shard in &layout.shards {
            for node in std::iter::once(&shard.primary).chain(&shard.replicas) {
                let mut con = self.connect(&node.addr)?;
                let reply = con.req_command(redis::cmd("CLUSTER").arg("SHARDS"))?.extract_error()?;
                let seen = parse_shards(&reply)?;
                let ok = match slot {
                    Some(slot) => seen.owner(slot).is_some_and(|s| s.primary.id == primary),
                    None => seen.primaries().iter().any(|p| p.id == primary),
                };
                if !ok {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// `ROLE`'s first word on the node at `addr`: `master` or `slave`.
fn role(con: &mut Connection) -> RedisResult<String> {
    let v: Vec<Value> = redis::cmd("ROLE").query(con)?;
    match v.first() {
        Some(Value::BulkString(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
        Some(Value::SimpleString(s)) => Ok(s.clone()),
        _ => Err(client_error("slotstore: unexpected ROLE reply", format!("{v:?}"))),
    }
}

impl ClusterAdmin for RedisClusterAdmin {
    fn topology(&self) -> RedisResult<Layout> {
        let mut con = self.any_seed()?;
        let reply = con.req_command(redis::cmd("CLUSTER").arg("SHARDS"))?.extract_error()?;
        parse_shards(&reply)
    }

    fn move_slot(&self, slot: u16, to: &str) -> RedisResult<()> {
        let layout = self.topology()?;
        let source = layout
            .owner(slot)
            .ok_or_else(|| client_error("slotstore: slot not served", slot.to_string()))?
            .primary
            .clone();
        if source.id == to {
            return Ok(());
        }
        let target =
            layout.primaries().into_iter().find(|p| p.id == to).cloned().ok_or_else(|| {
                client_error("slotstore: not a primary of this cluster", to.to_owned())
            })?;
        let (host, port) = target
            .addr
            .rsplit_once(':')
            .ok_or_else(|| client_error("slotstore: bad node address", target.addr.clone()))?;
        self.wait_until("every node to agree on the slot's owner", || {
            self.all_agree(&layout, Some(slot), &source.id)
        })?;
        let mut src = self.connect(&source.addr)?;
        let mut dst = self.connect(&target.addr)?;
        let setslot = |con: &mut Connection, state: &str, id: &str| -> RedisResult<()> {
            redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg(state).arg(id).query(con)
        };
        // The order redis-cli uses: the target imports before the source migrates, so no key
        // is ever asked for on a target that would refuse it.
        setslot(&mut dst, "IMPORTING", &source.id)?;
        setslot(&mut src, "MIGRATING", &target.id)?;
        loop {
            let keys: Vec<Vec<u8>> =
                redis::cmd("CLUSTER").arg("GETKEYSINSLOT").arg(slot).arg(100).query(&mut src)?;
            if keys.is_empty() {
                break;
            }
            let mut migrate = redis::cmd("MIGRATE");
            migrate.arg(host).arg(port).arg("").arg(0).arg(10_000).arg("KEYS");
            for k in &keys {
                migrate.arg(k);
            }
            let _: Value = migrate.query(&mut src)?;
        }
        // The target first (it owns the slot from now on), then the source (it stops
        // answering ASK and answers MOVED), then every other primary, as redis-cli does.
        setslot(&mut dst, "NODE", &target.id)?;
        setslot(&mut src, "NODE", &target.id)?;
        for p in layout.primaries() {
            if p.id != source.id && p.id != target.id {
                let mut con = self.connect(&p.addr)?;
                setslot(&mut con, "NODE", &target.id)?;
            }
        }
        // Replicas learn the owner by gossip: wait until every node names the target.
        self.wait_until("every node to see the slot's new owner", || {
            self.all_agree(&layout, Some(slot), &target.id)
        })
    }

    fn failover(&self, primary: &str) -> RedisResult<String> {
        let layout = self.topology()?;
        let shard = layout.shards.iter().find(|s| s.primary.id == primary).ok_or_else(|| {
            client_error("slotstore: not a primary of this cluster", primary.to_owned())
        })?;
        let replica =
            shard.replicas.first().cloned().ok_or_else(|| {
                client_error("slotstore: the shard has no replica", primary.to_owned())
            })?;
        let slot = shard.slots.first().map(|r| r.0);
        // A change just made (a failover a moment ago) may still be spreading by gossip; a
        // failover started before every node agrees on the shard can lose its election.
        self.wait_until("every node to agree on the shard's primary", || {
            self.all_agree(&layout, slot, &shard.primary.id)
        })?;
        let mut new = self.connect(&replica.addr)?;
        let mut old = self.connect(&shard.primary.addr)?;
        // A replica still syncing refuses a manual failover; it is ready once its link is up.
        self.wait_until("replica link up before CLUSTER FAILOVER", || {
            let info: String = redis::cmd("INFO").arg("replication").query(&mut new)?;
            Ok(info.contains("master_link_status:up"))
        })?;
        let _: () = redis::cmd("CLUSTER").arg("FAILOVER").query(&mut new)?;
        self.wait_until("the replica to become primary", || Ok(role(&mut new)? == "master"))?;
        self.wait_until("the old primary to follow the new one", || Ok(role(&mut old)? == "slave"))?;
        // Every node learns the new epoch by gossip: wait until all of them name the new
        // primary for the shard, so a topology read anywhere afterwards agrees.
        self.wait_until("every node to see the new primary", || {
            self.all_agree(&layout, slot, &replica.id)
        })?;
        Ok(replica.id)
    }
}

/// Reads `CLUSTER SHARDS` (RESP2: flat field/value arrays): per shard its `slots` (start,
/// end pairs) and `nodes` (each with `id`, `ip`, `port`, `role`, `health`).
fn parse_shards(reply: &Value) -> RedisResult<Layout> {
    let bad = |what: &str| client_error("slotstore: unexpected CLUSTER SHARDS reply", what.to_owned());
    let Value::Array(shards) = reply else { return Err(bad("not an array")) };
    let mut layout = Layout::default();
    for shard in shards {
        let fields = pairs(shard).ok_or_else(|| bad("shard"))?;
        let mut slots = Vec::new();
        if let Some(Value::Array(bounds)) = field(&fields, "slots") {
            for pair in bounds.chunks(2) {
                match (pair.first().and_then(int), pair.get(1).and_then(int)) {
                    (Some(a), Some(b)) => slots.push((a as u16, b as u16)),
                    _ => return Err(bad("slots")),
                }
            }
        }
        let Some(Value::Array(nodes)) = field(&fields, "nodes") else { return Err(bad("nodes")) };
        let mut primary = None;
        let mut replicas = Vec::new();
        for n in nodes {
            let f = pairs(n).ok_or_else(|| bad("node"))?;
            let text = |name: &str| field(&f, name).and_then(string);
            let (Some(id), Some(role)) = (text("id"), text("role")) else { return Err(bad("node id")) };
            let ip = text("ip").or_else(|| text("endpoint")).unwrap_or_else(|| "127.0.0.1".into());
            let port = field(&f, "port").and_then(int).ok_or_else(|| bad("node port"))?;
            // Redis 7.0 reports a replica whose replication offset it has not heard of yet
            // (a fresh cluster without writes) as `loading`: it is up all the same.
            if text("health").is_some_and(|h| h.starts_with("fail")) {
                continue;
            }
            let node = Node { id, addr: format!("{ip}:{port}") };
            if role == "master" {
                primary = Some(node);
            } else {
                replicas.push(node);
            }
        }
        if let Some(primary) = primary {
            layout.shards.push(Shard { primary, replicas, slots });
        }
    }
    layout.sort();
    Ok(layout)
}

/// A RESP2 map (flat array) or RESP3 map as name/value pairs.
fn pairs(v: &Value) -> Option<Vec<(String, &Value)>> {
    match v {
        Value::Array(items) => items.chunks(2).map(|kv| Some((string(&kv[0])?, kv.get(1)?))).collect(),
        Value::Map(items) => items.iter().map(|(k, v)| Some((string(k)?, v))).collect(),
        _ => None,
    }
}

fn field<'v>(fields: &[(String, &'v Value)], name: &str) -> Option<&'v Value> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => string(other)?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn node(id: &str, port: i64, role: &str, health: &str) -> Value {
        Value::Array(vec![
            bulk("id"),
            bulk(id),
            bulk("port"),
            Value::Int(port),
            bulk("ip"),
            bulk("127.0.0.1"),
            bulk("role"),
            bulk(role),
            bulk("health"),
            bulk(health),
        ])
    }

    #[test]
    fn reads_cluster_shards() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Int(5461), Value::Int(10922)]),
                bulk("nodes"),
                Value::Array(vec![
                    node("b", 7301, "master", "online"),
                    node("e", 7304, "replica", "online"),
                ]),
            ]),
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![
                    Value::Int(0),
                    Value::Int(5460),
                    Value::Int(16383),
                    Value::Int(16383),
                ]),
                bulk("nodes"),
                Value::Array(vec![
                    node("a", 7300, "master", "online"),
                    node("d", 7303, "replica", "failed"),
                ]),
            ]),
        ]);
        let layout = parse_shards(&reply).unwrap();
        assert_eq!(layout.shards.len(), 2);
        assert_eq!(layout.shards[0].primary, Node { id: "a".into(), addr: "127.0.0.1:7300".into() });
        assert_eq!(layout.shards[0].slots, vec![(0, 5460), (16383, 16383)]);
        assert!(layout.shards[0].replicas.is_empty(), "a failed replica is left out");
        assert_eq!(layout.owner(16383).unwrap().primary.id, "a");
        assert_eq!(layout.owner(6000).unwrap().primary.id, "b");
        assert_eq!(layout.shard_of("e").unwrap().primary.id, "b");
        assert!(parse_shards(&Value::Int(1)).is_err());
    }
}
