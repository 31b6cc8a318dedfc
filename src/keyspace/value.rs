//! The values a key can hold.

use super::hash::HashValue;
use super::list::ListValue;
use super::set::SetValue;
use super::zset::ZSetValue;
use crate::bytes::Bytes;

/// A stored value. Each Redis data type is one variant; commands check the variant and answer
/// `WRONGTYPE` when it is not theirs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A binary-safe string (also holds integers and floats in their decimal form, as Redis
    /// replies with them).
    Str(Bytes),
    // Collections are boxed so a `Value` (and every table bucket) stays three words: most
    // keys hold strings, and buckets are paid for by every key.
    /// A list (`LPUSH`, `LRANGE`, ...).
    List(Box<ListValue>),
    /// A hash of fields to values (`HSET`, ...).
    Hash(Box<HashValue>),
    /// A set of members (`SADD`, ...).
    Set(Box<SetValue>),
    /// A sorted set of members with scores (`ZADD`, ...).
    ZSet(Box<ZSetValue>),
}

impl Value {
    /// The name `TYPE` answers.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }
}
