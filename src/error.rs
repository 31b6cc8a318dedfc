//! The crate's error type (level 0). `Display` is Redis's own error text, code first.

use crate::ids::NodeId;
use std::fmt;

/// Why a slot cannot be served (the three `CLUSTERDOWN` texts of Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterDownReason {
    /// No primary owns the slot: `CLUSTERDOWN Hash slot not served`.
    Unbound,
    /// The cluster state is FAIL: `CLUSTERDOWN The cluster is down`.
    Down,
    /// The cluster is FAIL but serves reads: `CLUSTERDOWN The cluster is down and only accepts
    /// read commands`.
    ReadOnly,
}

/// An error from a command or a control-plane call.
///
/// `Display` prints Redis's error reply without the leading `-`, so it starts with the Redis
/// error code (`ERR`, `WRONGTYPE`, `CROSSSLOT`, `MOVED`, ...) and code written against a real
/// Redis Cluster can match on the same text.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// let client = slotstore::Cluster::builder().primaries(3).build()?.client();
/// let err = client.command(&["MGET", "a", "b"]).unwrap_err();
/// assert_eq!(err, slotstore::Error::CrossSlot);
/// assert_eq!(err.to_string(), "CROSSSLOT Keys in request don't hash to the same slot");
/// assert_eq!(err.code(), "CROSSSLOT");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A malformed or refused command: wrong arity, syntax, a non-integer, an unknown command or
    /// node, a bad option. Holds the text after `ERR `.
    Command(String),
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    WrongType,
    /// `CROSSSLOT Keys in request don't hash to the same slot`.
    CrossSlot,
    /// `MOVED <slot> <addr>`: the slot is served by another node.
    Moved {
        /// The key's slot.
        slot: u16,
        /// The node that serves it now.
        node: NodeId,
    },
    /// `ASK <slot> <addr>`: retry this one command on `node` after `ASKING`.
    Ask {
        /// The key's slot.
        slot: u16,
        /// The node importing the slot.
        node: NodeId,
    },
    /// `TRYAGAIN Multiple keys request during rehashing of slot`.
    TryAgain,
    /// `CLUSTERDOWN ...`: the slot has no serving primary, or the cluster is down.
    ClusterDown(ClusterDownReason),
    /// `OOM command not allowed when used memory > 'maxmemory'.`
    OutOfMemory,
    /// `EXECABORT Transaction discarded because of previous errors.`: a command queued after
    /// `MULTI` was refused, so `EXEC` runs nothing.
    ExecAbort,
    /// An error reply with a code of its own, held whole, code first (the HyperLogLog
    /// `WRONGTYPE Key is not a valid HyperLogLog string value.`, `INVALIDOBJ Corrupted HLL
    /// object detected`, the streams' `NOGROUP ...` and `BUSYGROUP ...`).
    Coded(String),
}

impl Error {
    /// The Redis error code: the first word of [`Display`](fmt::Display).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Command(_) => "ERR",
            Error::WrongType => "WRONGTYPE",
            Error::CrossSlot => "CROSSSLOT",
            Error::Moved { .. } => "MOVED",
            Error::Ask { .. } => "ASK",
            Error::TryAgain => "TRYAGAIN",
            Error::ClusterDown(_) => "CLUSTERDOWN",
            Error::OutOfMemory => "OOM",
            Error::ExecAbort => "EXECABORT",
            Error::Coded(text) => ["WRONGTYPE", "INVALIDOBJ", "NOGROUP", "BUSYGROUP", "UNBLOCKED"]
                .into_iter()
                .find(|c| text.starts_with(c))
                .unwrap_or("ERR"),
        }
    }

    /// True for errors a client may retry after a short wait (`TRYAGAIN`, `CLUSTERDOWN`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::TryAgain | Error::ClusterDown(_))
    }

    pub(crate) fn msg(text: impl Into<String>) -> Self {
        Error::Command(text.into())
    }

    pub(crate) fn syntax() -> Self {
        Error::msg("syntax error")
    }

    pub(crate) fn not_integer() -> Self {
        Error::msg("value is not an integer or out of range")
    }

    pub(crate) fn not_float() -> Self {
        Error::msg("value is not a valid float")
    }

    pub(crate) fn overflow() -> Self {
        Error::msg("increment or decrement would overflow")
    }

    pub(crate) fn arity(command: &str) -> Self {
        Error::Command(format!(
            "wrong number of arguments for '{}' command",
            command.to_ascii_lowercase()
        ))
    }

    pub(crate) fn invalid_expire(command: &str) -> Self {
        Error::Command(format!("invalid expire time in '{command}' command"))
    }

    pub(crate) fn string_too_long() -> Self {
        Error::msg("string exceeds maximum allowed size (proto-max-bulk-len)")
    }

    pub(crate) fn invalid_slot() -> Self {
        Error::msg("Invalid or out of range slot")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Command(m) => write!(f, "ERR {m}"),
            Error::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            Error::CrossSlot => f.write_str("CROSSSLOT Keys in request don't hash to the same slot"),
            Error::Moved { slot, node } => write!(f, "MOVED {slot} {}", node.addr()),
            Error::Ask { slot, node } => write!(f, "ASK {slot} {}", node.addr()),
            Error::TryAgain => f.write_str("TRYAGAIN Multiple keys request during rehashing of slot"),
            Error::ClusterDown(ClusterDownReason::Unbound) => {
                f.write_str("CLUSTERDOWN Hash slot not served")
            }
            Error::ClusterDown(ClusterDownReason::Down) => {
                f.write_str("CLUSTERDOWN The cluster is down")
            }
            Error::ClusterDown(ClusterDownReason::ReadOnly) => {
                f.write_str("CLUSTERDOWN The cluster is down and only accepts read commands")
            }
            Error::OutOfMemory => f.write_str("OOM command not allowed when used memory > 'maxmemory'."),
            Error::ExecAbort => {
                f.write_str("EXECABORT Transaction discarded because of previous errors.")
            }
            Error::Coded(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_redis_texts() {
        assert_eq!(Error::arity("SET").to_string(), "ERR wrong number of arguments for 'set' command");
        assert_eq!(Error::not_integer().to_string(), "ERR value is not an integer or out of range");
        assert_eq!(
            Error::Moved { slot: 3999, node: NodeId(2) }.to_string(),
            "MOVED 3999 127.0.0.1:30003"
        );
        assert_eq!(Error::OutOfMemory.code(), "OOM");
        assert!(Error::TryAgain.is_retryable());
        assert!(!Error::WrongType.is_retryable());
    }
}
