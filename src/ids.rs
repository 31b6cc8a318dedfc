//! Node identifiers (level 0).

use std::fmt;

/// Identifies one node (a primary or a replica) of a [`Cluster`](crate::Cluster).
///
/// Displays as a 40-character hex name, the shape of a Redis Cluster node ID, so that
/// `CLUSTER NODES` and `MOVED` replies look as they do against a real cluster. Its symbolic
/// address ([`NodeId::addr`]) opens no socket.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// let cluster = slotstore::Cluster::builder().primaries(2).build()?;
/// let id = cluster.primaries()[1];
/// assert_eq!(id.to_string().len(), 40);
/// assert_eq!(id.addr(), "127.0.0.1:30002");
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's index in the cluster, in creation order, starting at 0.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The symbolic `host:port` shown in `MOVED`/`ASK` errors and `CLUSTER` replies: ports
    /// count up from 30001 as in Redis's `create-cluster` script.
    pub fn addr(self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The symbolic port of [`NodeId::addr`].
    pub fn port(self) -> u16 {
        30001u16.wrapping_add(self.0 as u16)
    }

    /// The node a 40-character hex name (as [`Display`](fmt::Display) prints it) names;
    /// None for any other text.
    pub(crate) fn parse(name: &[u8]) -> Option<NodeId> {
        if name.len() != 40 || !name.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let n = u64::from_str_radix(std::str::from_utf8(name).ok()?, 16).ok()?;
        u32::try_from(n.checked_sub(1)?).ok().map(NodeId)
    }

    /// The node a symbolic `host:port` address ([`NodeId::addr`]) names.
    pub(crate) fn from_port(port: u16) -> Option<NodeId> {
        port.checked_sub(30001).map(|i| NodeId(u32::from(i)))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:040x}", u64::from(self.0) + 1)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.0)
    }
}
