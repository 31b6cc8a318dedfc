//! slotstore's replies and errors as redis-rs values and errors, shaped as a Redis server's
//! RESP2 replies (redis-rs's default protocol), so `FromRedisValue` reads them as it reads a
//! socket's.

use crate::command::zsets::format_score;
use crate::error::Error;
use crate::reply::Reply;
use redis::{RedisError, Value};

/// A reply as the value redis-rs parses from the same reply on a socket: `OK` is
/// [`Value::Okay`], doubles are bulk strings in Redis's `%.17g` form, maps are flat arrays
/// (RESP2), sets and pushes arrays, booleans 1 and 0, verbatim text bulk strings, errors inside arrays (the results of `EXEC`) are [`Value::ServerError`].
pub(crate) fn value(reply: Reply) -> Value {
    match reply {
        Reply::Nil => Value::Nil,
        Reply::Int(n) => Value::Int(n),
        Reply::Bulk(b) => Value::BulkString(b.to_vec()),
        Reply::Simple(s) if s == "OK" => Value::Okay,
        Reply::Simple(s) => Value::SimpleString(s),
        // RESP2 has no sets or pushes: arrays, as a server sends them.
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            Value::Array(items.into_iter().map(value).collect())
        }
        Reply::Bool(b) => Value::Int(i64::from(b)),
        Reply::Verbatim(text) | Reply::DoubleText(text) => Value::BulkString(text.to_vec()),
        Reply::Double(d) => Value::BulkString(format_score(d).into_bytes()),
        Reply::Map(pairs) => {
            Value::Array(pairs.into_iter().flat_map(|(k, v)| [value(k), value(v)]).collect())
        }
        Reply::Error(e) => server_error(&e),
    }
}

/// An error reply as redis-rs parses it from a socket (code first: `MOVED`, `ASK`,
/// `TRYAGAIN`, `CLUSTERDOWN`, `CROSSSLOT`, `WRONGTYPE`, `EXECABORT`, `ERR`, ...), so its
/// `kind()`, `code()` and `detail()` are the ones a real server's reply gives.
pub(crate) fn server_error(e: &Error) -> Value {
    parse_error_line(&e.to_string())
}

/// The redis-rs error for a slotstore error.
pub(crate) fn error(e: &Error) -> RedisError {
    match server_error(e).extract_error() {
        Err(err) => err,
        Ok(_) => unreachable!("an error line parses as an error"),
    }
}

/// Parses `-<text>\r\n` with redis-rs's own parser; a line break inside the text becomes a
/// space, as Redis does before it sends an error.
fn parse_error_line(text: &str) -> Value {
    let mut line = Vec::with_capacity(text.len() + 3);
    line.push(b'-');
    line.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    line.extend_from_slice(b"\r\n");
    match redis::parse_redis_value(&line) {
        Ok(v @ Value::ServerError(_)) => v,
        // Never: an error line always parses; keep the text rather than panic.
        _ => Value::SimpleString(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ClusterDownReason;
    use redis::{ErrorKind, ServerErrorKind};

    #[test]
    fn errors_keep_their_redis_kind() {
        let kinds = [
            (Error::CrossSlot, ErrorKind::Server(ServerErrorKind::CrossSlot)),
            (Error::TryAgain, ErrorKind::Server(ServerErrorKind::TryAgain)),
            (
                Error::ClusterDown(ClusterDownReason::Unbound),
                ErrorKind::Server(ServerErrorKind::ClusterDown),
            ),
            (Error::ExecAbort, ErrorKind::Server(ServerErrorKind::ExecAbort)),
            (Error::syntax(), ErrorKind::Server(ServerErrorKind::ResponseError)),
            (Error::WrongType, ErrorKind::Extension),
            (Error::OutOfMemory, ErrorKind::Extension),
        ];
        for (e, kind) in kinds {
            let err = error(&e);
            assert_eq!(err.kind(), kind, "{e}");
            assert_eq!(err.code(), Some(e.code()), "{e}");
        }
        let wrong = error(&Error::WrongType);
        assert_eq!(wrong.detail(), Some("Operation against a key holding the wrong kind of value"));
        let moved = error(&Error::Moved { slot: 3999, node: crate::ids::NodeId(1) });
        assert_eq!(moved.kind(), ErrorKind::Server(ServerErrorKind::Moved));
        assert_eq!(moved.redirect_node(), Some(("127.0.0.1:30002", 3999)));
        let multi_line = error(&Error::msg("a\r\nb"));
        assert_eq!(multi_line.detail(), Some("a  b"));
    }

    #[test]
    fn replies_take_resp2_shapes() {
        assert_eq!(value(Reply::ok()), Value::Okay);
        assert_eq!(value(Reply::Simple("PONG".into())), Value::SimpleString("PONG".into()));
        assert_eq!(value(Reply::Double(1.5)), Value::BulkString(b"1.5".to_vec()));
        assert_eq!(value(Reply::Double(0.1)), Value::BulkString(b"0.10000000000000001".to_vec()));
        let map = Reply::Map(vec![(Reply::bulk("f"), Reply::Int(1))]);
        assert_eq!(value(map), Value::Array(vec![Value::BulkString(b"f".to_vec()), Value::Int(1)]));
        let exec = value(Reply::Array(vec![Reply::Int(1), Reply::Error(Error::WrongType)]));
        let Value::Array(items) = exec else { panic!("array") };
        assert!(matches!(&items[1], Value::ServerError(e) if e.code() == "WRONGTYPE"));
    }
}
