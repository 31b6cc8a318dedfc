//! Reading the commands redis-rs packs (RESP arrays of bulk strings) back into words.
//!
//! redis-rs's sync `ConnectionLike` hands a connection the bytes it would write to a socket;
//! the in-process connection reads them back here instead of sending them anywhere.

use redis::{ErrorKind, RedisError, RedisResult};

/// The commands in `bytes`, each a list of words borrowed from `bytes`.
///
/// # Errors
/// `ErrorKind::Client` for bytes that are not a sequence of RESP arrays of bulk strings (what
/// redis-rs's `Cmd` and `Pipeline` always produce).
pub(crate) fn parse_commands(bytes: &[u8]) -> RedisResult<Vec<Vec<&[u8]>>> {
    let mut commands = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (count, next) = header(bytes, at, b'*')?;
        at = next;
        let mut words = Vec::with_capacity(count);
        for _ in 0..count {
            let (len, next) = header(bytes, at, b'$')?;
            let end = next.checked_add(len).filter(|&e| e + 2 <= bytes.len()).ok_or_else(bad)?;
            if &bytes[end..end + 2] != b"\r\n" {
                return Err(bad());
            }
            words.push(&bytes[next..end]);
            at = end + 2;
        }
        commands.push(words);
    }
    Ok(commands)
}

/// Reads `<tag><decimal>\r\n` at `at`: the number and the offset after the line.
fn header(bytes: &[u8], at: usize, tag: u8) -> RedisResult<(usize, usize)> {
    if bytes.get(at) != Some(&tag) {
        return Err(bad());
    }
    let line_end = bytes[at..].windows(2).position(|w| w == b"\r\n").ok_or_else(bad)? + at;
    let digits = std::str::from_utf8(&bytes[at + 1..line_end]).map_err(|_| bad())?;
    let n = digits.parse::<usize>().map_err(|_| bad())?;
    Ok((n, line_end + 2))
}

fn bad() -> RedisError {
    RedisError::from((ErrorKind::Client, "slotstore: not a packed Redis command"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_redis_rs_packs() {
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg("k").arg(&b"a\r\nb"[..]).cmd("GET").arg("k").cmd("PING");
        let packed = pipe.get_packed_pipeline();
        let cmds = parse_commands(&packed).unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![&b"SET"[..], b"k", b"a\r\nb"]);
        assert_eq!(cmds[1], vec![&b"GET"[..], b"k"]);
        assert_eq!(cmds[2], vec![&b"PING"[..]]);
        let one = redis::cmd("ECHO").arg("").get_packed_command();
        assert_eq!(parse_commands(&one).unwrap(), vec![vec![&b"ECHO"[..], b""]]);
    }

    #[test]
    fn refuses_what_is_not_a_command() {
        for bytes in [&b"+OK\r\n"[..], b"*1\r\n$5\r\nab\r\n", b"*1\r\n$2\r\nabcd", b"*x\r\n"] {
            let err = parse_commands(bytes).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Client, "{bytes:?}");
        }
    }
}
