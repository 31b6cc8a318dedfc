//! Command replies (level 0), shaped as RESP3 types and displayed as redis-cli shows them.

use crate::bytes::Bytes;
use crate::error::Error;
use std::fmt::{self, Write as _};

/// The reply of one command.
///
/// `Display` prints what redis-cli prints for the same reply: `(nil)`, `(integer) 3`, `"kim"`,
/// `OK`, numbered array lines.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use slotstore::Reply;
/// let client = slotstore::Cluster::builder().build()?.client();
/// assert_eq!(client.command(&["SET", "k", "kim"])?, Reply::ok());
/// let r = client.command(&["GET", "k"])?;
/// assert_eq!(r.to_string(), "\"kim\"");
/// assert_eq!(client.command(&["INCR", "n"])?.to_string(), "(integer) 1");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// A missing value: `(nil)`.
    Nil,
    /// An integer: `(integer) 3`.
    Int(i64),
    /// A binary-safe string.
    Bulk(Bytes),
    /// A status such as `OK` or `PONG`.
    Simple(String),
    /// An ordered list of replies.
    Array(Vec<Reply>),
    /// A floating-point number (RESP3 double).
    Double(f64),
    /// Field/value pairs (RESP3 map), in order.
    Map(Vec<(Reply, Reply)>),
    /// An error carried inside another reply, as in the results of `EXEC`.
    Error(Error),
    /// An unordered collection (RESP3 set, `~`; an array in RESP2).
    Set(Vec<Reply>),
    /// An out-of-band message to a connection (RESP3 push, `>`; an array in RESP2), as
    /// pub/sub messages are delivered.
    Push(Vec<Reply>),
    /// A boolean (RESP3 `#t`/`#f`; the integers 1 and 0 in RESP2).
    Bool(bool),
    /// A floating-point number in the exact text Redis writes for it: a RESP3 double (`,`)
    /// whose digits are the ones a RESP2 client gets as a bulk string. Redis 7.0 writes a
    /// score to 17 significant digits (`0.10000000000000001`) and a coordinate to 17 decimals
    /// (`13.36138933897018433`); a RESP3 client gets those bytes, not a re-rounding of them.
    DoubleText(Bytes),
    /// Text meant for people (RESP3 verbatim string `=` in the `txt` format, as `INFO`,
    /// `CLIENT LIST` and `CLUSTER NODES` answer; a bulk string in RESP2).
    Verbatim(Bytes),
}

impl Reply {
    /// The `OK` status reply.
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// A bulk reply holding a copy of `bytes`.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from(bytes.as_ref()))
    }

    /// The integer, if this is [`Reply::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The bytes of a bulk or simple-string reply.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The elements, if this is [`Reply::Array`].
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(a) => Some(a),
            _ => None,
        }
    }

    /// True for [`Reply::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Nil)
    }

    fn format(&self, out: &mut String, prefix: &str) {
        match self {
            Reply::Nil => out.push_str("(nil)\n"),
            Reply::Int(n) => {
                let _ = writeln!(out, "(integer) {n}");
            }
            Reply::Bulk(b) => {
                push_repr(out, b);
                out.push('\n');
            }
            Reply::Simple(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Reply::Double(d) => {
                let _ = writeln!(out, "(double) {d}");
            }
            Reply::DoubleText(text) => {
                let _ = writeln!(out, "(double) {}", String::from_utf8_lossy(text));
            }
            Reply::Error(e) => {
                let _ = writeln!(out, "(error) {e}");
            }
            Reply::Bool(b) => {
                let _ = writeln!(out, "({b})");
            }
            Reply::Verbatim(text) => {
                out.push_str(&String::from_utf8_lossy(text));
                out.push('\n');
            }
            Reply::Set(items) | Reply::Push(items) if items.is_empty() => {
                out.push_str("(empty array)\n")
            }
            Reply::Set(items) | Reply::Push(items) => Reply::format_items(items, out, prefix),
            Reply::Array(items) if items.is_empty() => out.push_str("(empty array)\n"),
            Reply::Map(items) if items.is_empty() => out.push_str("(empty hash)\n"),
            Reply::Array(items) => Reply::format_items(items, out, prefix),
            Reply::Map(pairs) => {
                let width = digits(pairs.len());
                let inner = format!("{prefix}{}", " ".repeat(width + 2));
                for (i, (k, v)) in pairs.iter().enumerate() {
                    let lead = if i == 0 { "" } else { prefix };
                    let _ = write!(out, "{lead}{:>width$}# ", i + 1);
                    k.format(out, &inner);
                    out.pop();
                    out.push_str(" => ");
                    v.format(out, &inner);
                }
            }
        }
    }
}

impl Reply {
    /// Numbered lines, as redis-cli prints an array.
    fn format_items(items: &[Reply], out: &mut String, prefix: &str) {
        let width = digits(items.len());
        let inner = format!("{prefix}{}", " ".repeat(width + 2));
        for (i, item) in items.iter().enumerate() {
            let lead = if i == 0 { "" } else { prefix };
            let _ = write!(out, "{lead}{:>width$}) ", i + 1);
            item.format(out, &inner);
        }
    }
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Quotes bytes as redis-cli does (`sdscatrepr`; `MONITOR` quotes words so too).
pub(crate) fn push_repr(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.format(&mut out, "");
        if out.ends_with('\n') {
            out.pop();
        }
        f.write_str(&out)
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Self {
        Reply::Int(n)
    }
}

impl From<Bytes> for Reply {
    fn from(b: Bytes) -> Self {
        Reply::Bulk(b)
    }
}

impl From<Option<Bytes>> for Reply {
    fn from(b: Option<Bytes>) -> Self {
        b.map_or(Reply::Nil, Reply::Bulk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_redis_cli() {
        assert_eq!(Reply::Nil.to_string(), "(nil)");
        assert_eq!(Reply::Int(3).to_string(), "(integer) 3");
        assert_eq!(Reply::bulk("a\"b\n\x01").to_string(), "\"a\\\"b\\n\\x01\"");
        assert_eq!(Reply::ok().to_string(), "OK");
        assert_eq!(Reply::Array(vec![]).to_string(), "(empty array)");
        let nested =
            Reply::Array(vec![Reply::Array(vec![Reply::Int(0), Reply::Int(5460)]), Reply::bulk("x")]);
        assert_eq!(nested.to_string(), "1) 1) (integer) 0\n   2) (integer) 5460\n2) \"x\"");
        let ten = Reply::Array((0..10).map(Reply::Int).collect());
        assert!(ten.to_string().starts_with(" 1) (integer) 0\n 2)"));
        assert!(ten.to_string().ends_with("\n10) (integer) 9"));
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(map.to_string(), "1# \"a\" => (integer) 1");
    }
}
