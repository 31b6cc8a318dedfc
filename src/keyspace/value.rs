//! The values a key can hold.

use super::hash::HashValue;
use super::list::ListValue;
use super::set::SetValue;
use super::stream::StreamValue;
use super::zset::ZSetValue;
use crate::bytes::Bytes;

/// A stored value. Each Redis data type is one variant; commands check the variant and answer
/// `WRONGTYPE` when it is not theirs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A binary-safe string (also holds integers and floats in their decimal form, as Redis
    /// replies with them).
    Str(Str),
    // Collections are boxed so a `Value` (and every record) stays as small as an inline
    // string: most keys hold strings, and records are paid for by every key.
    /// A list (`LPUSH`, `LRANGE`, ...).
    List(Box<ListValue>),
    /// A hash of fields to values (`HSET`, ...).
    Hash(Box<HashValue>),
    /// A set of members (`SADD`, ...).
    Set(Box<SetValue>),
    /// A sorted set of members with scores (`ZADD`, ...).
    ZSet(Box<ZSetValue>),
    /// A stream of entries with consumer groups (`XADD`, ...).
    Stream(Box<StreamValue>),
}

/// Strings up to this many bytes live inside the key's record (with the 22-byte inline key and
/// the entry's other fields, a record is 120 bytes: a 128-byte malloc chunk with its header).
pub(crate) const INLINE_STR: usize = 78;
// A GET of an inline string too long for `Bytes` to hold in place reuses the caller thread's
// spare buffer (`Bytes::copy_reusing`).
const _: () = assert!(INLINE_STR <= crate::bytes::SPARE_MAX);
const _: () = assert!(INLINE_STR >= Bytes::INLINE);

/// A string value. Short strings live inline in the record that holds their key, as Redis
/// embeds strings of up to 44 bytes in their object: reading one touches no other cache line
/// (a shared buffer's reference count is one more miss on a cold key), storing one allocates
/// nothing, and the key costs no separate allocation. Longer strings are shared, so `GET`
/// hands them back with a reference-count bump.
#[derive(Clone)]
pub(crate) enum Str {
    Inline { len: u8, buf: [u8; INLINE_STR] },
    Shared(Bytes),
}

impl Str {
    /// Copies `bytes` into a new string.
    #[inline]
    pub(crate) fn new(bytes: &[u8]) -> Str {
        if bytes.len() <= INLINE_STR {
            let mut buf = [0; INLINE_STR];
            crate::bytes::copy_short(&mut buf, bytes);
            Str::Inline { len: bytes.len() as u8, buf }
        } else {
            Str::Shared(Bytes::copy_from(bytes))
        }
    }

    /// The string as a [`Bytes`] to hand out: a reference-count bump for a shared string, a
    /// small copy for an inline one.
    #[inline(always)]
    pub(crate) fn to_bytes(&self) -> Bytes {
        match self {
            Str::Inline { len, buf } if usize::from(*len) <= Bytes::INLINE => {
                let head = buf[..Bytes::INLINE].try_into().expect("INLINE_STR >= Bytes::INLINE");
                Bytes::inline_prefix(head, usize::from(*len))
            }
            Str::Inline { .. } => Bytes::copy_reusing(self),
            Str::Shared(b) => b.clone(),
        }
    }

    /// True if the bytes live outside the record.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Str::Shared(_))
    }

    /// The bytes to change in place (same length), if no one else holds them: bit commands
    /// flip a bit of a large bitmap without copying it.
    pub(crate) fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        match self {
            Str::Inline { len, buf } => Some(&mut buf[..usize::from(*len)]),
            Str::Shared(b) => b.get_mut(),
        }
    }
}

impl std::ops::Deref for Str {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Str::Inline { len, buf } => &buf[..usize::from(*len)],
            Str::Shared(b) => b,
        }
    }
}

impl From<Bytes> for Str {
    fn from(b: Bytes) -> Str {
        if b.len() <= INLINE_STR {
            Str::new(&b)
        } else {
            Str::Shared(b)
        }
    }
}

impl From<&[u8]> for Str {
    fn from(b: &[u8]) -> Str {
        Str::new(b)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s.as_bytes())
    }
}

impl From<Vec<u8>> for Str {
    fn from(v: Vec<u8>) -> Str {
        if v.len() <= INLINE_STR {
            Str::new(&v)
        } else {
            Str::Shared(Bytes::from(v))
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str::from(s.into_bytes())
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The same text whichever form holds the bytes: digests compare replicas by it.
        write!(f, "b\"{}\"", self.escape_ascii())
    }
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
            Value::Stream(_) => "stream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length an inline string takes copies exactly its bytes, and leaves the rest of the
    /// buffer zero (so two equal strings are equal buffers).
    #[test]
    fn short_copies_are_exact_at_every_length() {
        let src: Vec<u8> = (1..=INLINE_STR as u8 + 1).collect();
        for n in 0..=INLINE_STR {
            let s = Str::new(&src[..n]);
            assert_eq!(&*s, &src[..n], "length {n}");
            let Str::Inline { buf, .. } = &s else { panic!("length {n} not inline") };
            assert!(buf[n..].iter().all(|&b| b == 0), "length {n}: tail not zero");
        }
        assert!(Str::new(&src).is_shared());
    }
}
