//! Keyspace notifications (level 1): Redis's event classes (`notify-keyspace-events`) and the
//! events a command records while it runs.
//!
//! A command that changes a key calls [`Now::notify`](super::Now::notify) with the event's
//! class and Redis's name for it (`"set"`, `"del"`, `"lpush"`, ...). With notifications off
//! (the default) that is one test of a plain integer the node copied into the command's
//! [`Now`](super::Now) from a relaxed atomic, so the write path pays nothing else. With them
//! on, the event is kept in the `Now` and the node publishes it, under the slot's lock, when
//! the command is done (see `node`), so a key's events come out in the order of its writes.

/// `K`: publish on `__keyspace@0__:<key>` (the event name as payload).
pub(crate) const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@0__:<event>` (the key as payload).
pub(crate) const KEYEVENT: u32 = 1 << 1;
/// `g`: commands of no type (`DEL`, `EXPIRE`, `RENAME`, `PERSIST`, ...).
pub(crate) const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub(crate) const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub(crate) const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub(crate) const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub(crate) const HASH: u32 = 1 << 6;
/// `z`: sorted-set commands.
pub(crate) const ZSET: u32 = 1 << 7;
/// `x`: a key removed because its TTL passed (`expired`).
pub(crate) const EXPIRED: u32 = 1 << 8;
/// `e`: a key removed to stay under `maxmemory` (`evicted`).
pub(crate) const EVICTED: u32 = 1 << 9;
/// `t`: stream commands (accepted; slotstore has no streams yet).
pub(crate) const STREAM: u32 = 1 << 10;
/// `m`: key misses (accepted, not emitted: reads record no events).
pub(crate) const KEY_MISS: u32 = 1 << 11;
/// `d`: module key types (accepted; there are no modules).
pub(crate) const MODULE: u32 = 1 << 12;
/// `n`: a key created (`new`).
pub(crate) const NEW: u32 = 1 << 13;
/// `A`: Redis's alias for `g$lshzxetd`.
pub(crate) const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The letters `CONFIG SET notify-keyspace-events` accepts, as Redis's error text lists them.
const VALID: &str = "Ag$lshzxeKEtmdn";

/// One event a command caused: its class bit, Redis's name for it, and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyEvent {
    /// The class bit (one of the constants above).
    pub(crate) class: u32,
    /// Redis's event name (`"set"`, `"expired"`, ...).
    pub(crate) name: &'static str,
    /// The key.
    pub(crate) key: Box<[u8]>,
}

/// Parses `notify-keyspace-events` letters into flags, as Redis does.
///
/// # Errors
/// Redis's text for a letter that names no class (the caller wraps it in `CONFIG SET`'s
/// error).
pub(crate) fn parse_flags(letters: &[u8]) -> Result<u32, String> {
    let mut flags = 0;
    for &c in letters {
        flags |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return Err(format!("Invalid event class character. Use '{VALID}'.")),
        };
    }
    Ok(flags)
}

/// The flags as `CONFIG GET` shows them: `A` when every class of the alias is on (Redis 7.0
/// then leaves `n` out of the text, though it stays on), else the class letters in Redis's
/// order; then `K`, `E`, `m`.
pub(crate) fn format_flags(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        let classes = [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ];
        out.extend(classes.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, c)| *c));
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    out
}

/// The flags a command records events under: only when some class is on and at least one
/// of `K`/`E` says where to publish them (Redis publishes nothing otherwise); 0 means off.
pub(crate) fn effective(flags: u32) -> u32 {
    if flags & (KEYSPACE | KEYEVENT) == 0 || flags & !(KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        // Pairs observed on redis-server 7.0.15 (CONFIG SET, then CONFIG GET).
        for (set, get) in [
            ("KEA", "AKE"),
            ("Kgx$lshzetdnm", "AKm"),
            ("n", "n"),
            ("An", "A"),
            ("KEgn", "gnKE"),
            ("Kd", "dK"),
            ("$gK", "g$K"),
            ("Exg", "gxE"),
            ("KEgxlshz$et", "g$lshzxetKE"),
            ("mnK", "nKm"),
            ("", ""),
        ] {
            assert_eq!(format_flags(parse_flags(set.as_bytes()).unwrap()), get, "{set}");
        }
        assert_eq!(
            parse_flags(b"Kq").unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
    }

    #[test]
    fn nothing_is_recorded_without_a_destination_or_a_class() {
        assert_eq!(effective(parse_flags(b"g$").unwrap()), 0);
        assert_eq!(effective(parse_flags(b"KE").unwrap()), 0);
        assert_ne!(effective(parse_flags(b"Eg").unwrap()), 0);
    }
}
