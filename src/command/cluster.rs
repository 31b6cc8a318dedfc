//! `CLUSTER` subcommands: parsed here, answered from a [`Topology`] in Redis 7's reply shapes.

use super::args::int;
use crate::error::Error;
use crate::ids::NodeId;
use crate::reply::Reply;
use crate::slot::{key_slot, SLOT_COUNT};
use crate::topology::{Role, Topology};

/// A parsed `CLUSTER` subcommand.
#[derive(Debug, PartialEq)]
pub(crate) enum ClusterCmd {
    KeySlot(u16),
    CountKeysInSlot(u16),
    GetKeysInSlot(u16, usize),
    Shards,
    Slots,
    Nodes,
    Info,
    /// `CLUSTER SETSLOT <slot> ...`, for the node the command is sent to.
    SetSlot(u16, SetSlot),
}

/// The action of `CLUSTER SETSLOT`.
#[derive(Debug, PartialEq, Clone, Copy)]
pub(crate) enum SetSlot {
    /// Sent to the target: it will import the slot from this node.
    Importing(NodeId),
    /// Sent to the owner: it will migrate the slot to this node.
    Migrating(NodeId),
    /// The slot belongs to this node from now on.
    Node(NodeId),
    /// Clears the migrating and importing states.
    Stable,
}

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH ..] [KEYS ...]`.
#[derive(Debug, PartialEq)]
pub(crate) struct Migrate<'a> {
    /// The target's host, as announced (or `127.0.0.1` for a store not served).
    pub(crate) host: String,
    /// The target's port: announced, or symbolic for a store not served.
    pub(crate) port: u16,
    pub(crate) keys: Vec<&'a [u8]>,
    pub(crate) copy: bool,
    pub(crate) replace: bool,
}

/// Parses `MIGRATE`'s words (arity already checked: at least 6).
pub(crate) fn parse_migrate<'a>(a: &[&'a [u8]]) -> Result<Migrate<'a>, Error> {
    let port = int(a[2])?;
    let db = int(a[4])?;
    int(a[5])?;
    let (mut copy, mut replace, mut keys) = (false, false, None);
    let mut i = 6;
    while i < a.len() {
        match a[i].to_ascii_lowercase().as_slice() {
            b"copy" => copy = true,
            b"replace" => replace = true,
            b"auth" if i + 1 < a.len() => i += 1,
            b"auth2" if i + 2 < a.len() => i += 2,
            b"keys" => {
                if !a[3].is_empty() {
                    return Err(Error::msg(
                        "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                    ));
                }
                keys = Some(a[i + 1..].to_vec());
                break;
            }
            _ => return Err(Error::syntax()),
        }
        i += 1;
    }
    if db != 0 {
        return Err(Error::msg("Invalid DB index in cluster mode"));
    }
    let port = u16::try_from(port).map_err(|_| Error::msg("Invalid TCP port"))?;
    let host = String::from_utf8_lossy(a[1]).into_owned();
    Ok(Migrate { host, port, keys: keys.unwrap_or_else(|| vec![a[3]]), copy, replace })
}

/// Parses `CLUSTER <subcommand> ...` (the words from `CLUSTER` on).
pub(crate) fn parse(a: &[&[u8]]) -> Result<ClusterCmd, Error> {
    let sub = String::from_utf8_lossy(a[1]).to_ascii_lowercase();
    let arity = |n: usize| {
        if a.len() == n {
            Ok(())
        } else {
            Err(Error::arity(&format!("cluster|{sub}")))
        }
    };
    match sub.as_str() {
        "keyslot" => arity(3).map(|_| ClusterCmd::KeySlot(key_slot(a[2]))),
        "countkeysinslot" => {
            arity(3)?;
            Ok(ClusterCmd::CountKeysInSlot(parse_slot(a[2])?))
        }
        "getkeysinslot" => {
            arity(4)?;
            let (slot, count) = (int(a[2])?, int(a[3])?);
            if !(0..i64::from(SLOT_COUNT)).contains(&slot) || count < 0 {
                return Err(Error::msg("Invalid slot or number of keys"));
            }
            Ok(ClusterCmd::GetKeysInSlot(slot as u16, count as usize))
        }
        "shards" => arity(2).map(|_| ClusterCmd::Shards),
        "slots" => arity(2).map(|_| ClusterCmd::Slots),
        "nodes" => arity(2).map(|_| ClusterCmd::Nodes),
        "info" => arity(2).map(|_| ClusterCmd::Info),
        "setslot" => {
            let bad = || {
                Error::msg("Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP.")
            };
            if a.len() < 4 {
                return Err(Error::arity("cluster|setslot"));
            }
            let slot = parse_slot(a[2])?;
            let node = || {
                let name = a.get(4).ok_or_else(bad)?;
                NodeId::parse(name).ok_or_else(|| {
                    Error::Command(format!("I don't know about node {}", String::from_utf8_lossy(name)))
                })
            };
            let action = match (a[3].to_ascii_lowercase().as_slice(), a.len()) {
                (b"importing", 5) => SetSlot::Importing(node()?),
                (b"migrating", 5) => SetSlot::Migrating(node()?),
                (b"node", 5) => SetSlot::Node(node()?),
                (b"stable", 4) => SetSlot::Stable,
                _ => return Err(bad()),
            };
            Ok(ClusterCmd::SetSlot(slot, action))
        }
        _ => Err(Error::Command(format!(
            "unknown subcommand '{}'. Try CLUSTER HELP.",
            String::from_utf8_lossy(a[1])
        ))),
    }
}

/// A slot number argument, or `ERR Invalid or out of range slot`.
pub(crate) fn parse_slot(arg: &[u8]) -> Result<u16, Error> {
    match super::args::parse_i64(arg) {
        Some(s) if (0..i64::from(SLOT_COUNT)).contains(&s) => Ok(s as u16),
        _ => Err(Error::invalid_slot()),
    }
}

/// One node of a `CLUSTER SLOTS` range: ip, port, id, and the hostname metadata if announced.
fn node_entry(t: &Topology, id: NodeId) -> Reply {
    let addr = t.addr(id);
    let meta = match addr.hostname {
        Some(h) => vec![Reply::bulk("hostname"), Reply::bulk(h)],
        None => vec![],
    };
    Reply::Array(vec![
        Reply::bulk(&addr.ip),
        Reply::Int(i64::from(addr.port)),
        Reply::bulk(id.to_string()),
        Reply::Array(meta),
    ])
}

/// `CLUSTER SLOTS`: one entry per contiguous range, primary first, then its replicas.
pub(crate) fn slots(t: &Topology) -> Reply {
    let mut ranges: Vec<(u16, u16, NodeId)> = t
        .primaries()
        .into_iter()
        .flat_map(|p| t.slot_ranges(p).into_iter().map(move |(s, e)| (s, e, p)))
        .collect();
    ranges.sort_unstable();
    Reply::Array(
        ranges
            .into_iter()
            .map(|(start, end, p)| {
                let mut entry = vec![Reply::Int(start.into()), Reply::Int(end.into()), node_entry(t, p)];
                let live = t.replicas_of(p).into_iter().filter(|r| !failed(t, *r));
                entry.extend(live.map(|r| node_entry(t, r)));
                Reply::Array(entry)
            })
            .collect(),
    )
}

fn failed(t: &Topology, id: NodeId) -> bool {
    t.node(id).is_some_and(|n| n.failed)
}

/// `CLUSTER SHARDS`: per shard, its slot ranges and its nodes.
pub(crate) fn shards(t: &Topology, offset: impl Fn(NodeId) -> u64) -> Reply {
    let node = |id: NodeId, role: &str| {
        let pair = |k: &str, v: Reply| (Reply::bulk(k), v);
        let addr = t.addr(id);
        let mut fields = vec![
            pair("id", Reply::bulk(id.to_string())),
            pair("port", Reply::Int(i64::from(addr.port))),
            pair("ip", Reply::bulk(&addr.ip)),
            pair("endpoint", Reply::bulk(&addr.ip)),
        ];
        if let Some(h) = &addr.hostname {
            fields.push(pair("hostname", Reply::bulk(h)));
        }
        fields.extend([
            pair("role", Reply::bulk(role)),
            pair("replication-offset", Reply::Int(offset(id) as i64)),
            pair("health", Reply::bulk(if failed(t, id) { "fail" } else { "online" })),
        ]);
        Reply::Map(fields)
    };
    Reply::Array(
        t.primaries()
            .into_iter()
            .map(|p| {
                let slots = t
                    .slot_ranges(p)
                    .into_iter()
                    .flat_map(|(s, e)| [Reply::Int(s.into()), Reply::Int(e.into())])
                    .collect();
                let mut nodes = vec![node(p, "master")];
                nodes.extend(t.replicas_of(p).into_iter().map(|r| node(r, "replica")));
                Reply::Map(vec![
                    (Reply::bulk("slots"), Reply::Array(slots)),
                    (Reply::bulk("nodes"), Reply::Array(nodes)),
                ])
            })
            .collect(),
    )
}

/// True if every slot has a live owner (`cluster_state:ok` under full coverage).
pub(crate) fn state_ok(t: &Topology) -> bool {
    (0..SLOT_COUNT).all(|s| t.slot_owner(s).is_some_and(|o| !failed(t, o)))
}

/// `CLUSTER NODES`: Redis's text format, one line per node: id, address, flags (`master` /
/// `slave`, `fail`), primary, ping/pong times (0 here), config epoch, link state, slots.
/// Replication offsets are not part of Redis's format; `CLUSTER SHARDS` shows them.
/// `CLUSTER NODES` as node `myself` answers it: its line carries the `myself` flag, as
/// Lettuce, redis-benchmark and `redis-cli --cluster` need.
pub(crate) fn nodes_as(t: &Topology, myself: Option<NodeId>) -> Reply {
    let mut out = String::new();
    for n in t.nodes() {
        let (flags, primary) = match n.role {
            Role::Primary => ("master", "-".to_string()),
            Role::Replica { of } => ("slave", of.to_string()),
        };
        let me = if myself == Some(n.id) { "myself," } else { "" };
        let fail = if n.failed { ",fail" } else { "" };
        let link = if n.failed { "disconnected" } else { "connected" };
        let host = n.addr.hostname.as_ref().map(|h| format!(",{h}")).unwrap_or_default();
        out.push_str(&format!(
            "{} {}:{}@{}{host} {me}{flags}{fail} {primary} 0 0 {} {link}",
            n.id, n.addr.ip, n.addr.port, n.addr.bus_port, n.config_epoch
        ));
        for (s, e) in t.slot_ranges(n.id) {
            if s == e {
                out.push_str(&format!(" {s}"));
            } else {
                out.push_str(&format!(" {s}-{e}"));
            }
        }
        // Open key-by-key migrations, as Redis lists them on the two primaries' lines.
        for s in t.migrating_slots() {
            match t.migration(s) {
                Some((from, to)) if from == n.id => out.push_str(&format!(" [{s}->-{to}]")),
                Some((from, to)) if to == n.id => out.push_str(&format!(" [{s}-<-{from}]")),
                _ => {}
            }
        }
        out.push('\n');
    }
    Reply::bulk(out)
}

/// `CLUSTER INFO`: the first fields of Redis's reply.
pub(crate) fn info(t: &Topology, state_ok: bool) -> Reply {
    let assigned = t.slots_assigned();
    let failed_slots =
        (0..SLOT_COUNT).filter(|&s| t.slot_owner(s).is_some_and(|o| failed(t, o))).count();
    let size = t.primaries().iter().filter(|p| !t.slot_ranges(**p).is_empty()).count();
    let text = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\n\
         cluster_slots_pfail:0\r\ncluster_slots_fail:{failed_slots}\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{size}\r\ncluster_current_epoch:{}\r\n",
        if state_ok { "ok" } else { "fail" },
        assigned - failed_slots,
        t.nodes().len(),
        t.epoch(),
    );
    Reply::bulk(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn parse_errors_are_redis_errors() {
        assert_eq!(parse(&words("cluster keyslot foo")), Ok(ClusterCmd::KeySlot(12182)));
        assert_eq!(
            parse(&words("cluster keyslot")).unwrap_err().to_string(),
            "ERR wrong number of arguments for 'cluster|keyslot' command"
        );
        assert_eq!(
            parse(&words("cluster countkeysinslot 16384")).unwrap_err().to_string(),
            "ERR Invalid or out of range slot"
        );
        assert_eq!(
            parse(&words("cluster getkeysinslot 1 -1")).unwrap_err().to_string(),
            "ERR Invalid slot or number of keys"
        );
        assert_eq!(
            parse(&words("cluster bogus")).unwrap_err().to_string(),
            "ERR unknown subcommand 'bogus'. Try CLUSTER HELP."
        );
    }

    #[test]
    fn slots_reply_shape() {
        let t = Topology::initial(3, 0);
        let r = slots(&t);
        let first = &r.as_array().unwrap()[0];
        assert_eq!(first.as_array().unwrap()[0], Reply::Int(0));
        assert_eq!(first.as_array().unwrap()[1], Reply::Int(5460));
        let text = nodes_as(&t, None);
        let line = String::from_utf8(text.as_bytes().unwrap().to_vec()).unwrap();
        assert!(line.lines().next().unwrap().ends_with("master - 0 0 1 connected 0-5460"));
    }
}
