//! RESP3 reply shapes. The command layer answers in RESP2's shapes (flat arrays, scores as
//! strings); a connection that said `HELLO 3` gets what Redis 7.0 sends it instead: maps for
//! `HGETALL`, sets for `SMEMBERS` and the set algebra, doubles for scores, and
//! `[member, score]` pairs for `WITHSCORES` replies.

use crate::reply::Reply;

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

fn has_word(args: &[&[u8]], word: &str) -> bool {
    args.iter().skip(1).any(|a| is(a, word))
}

/// A score as a RESP3 double; anything that is not a number stays as it is.
fn double(r: Reply) -> Reply {
    match &r {
        Reply::Bulk(b) => match std::str::from_utf8(b).ok().and_then(parse_score) {
            Some(d) => Reply::Double(d),
            None => r,
        },
        _ => r,
    }
}

fn parse_score(s: &str) -> Option<f64> {
    match s {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// `[m1, s1, m2, s2, ...]` as `[[m1, d1], [m2, d2], ...]`.
fn pairs(r: Reply) -> Reply {
    match r {
        Reply::Array(items) if items.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                out.push(Reply::Array(vec![m, double(s)]));
            }
            Reply::Array(out)
        }
        other => other,
    }
}

/// `[m, s]` as `[m, d]`.
fn member_score(r: Reply) -> Reply {
    match r {
        Reply::Array(mut items) if items.len() == 2 => {
            let s = items.pop().expect("two");
            items.push(double(s));
            Reply::Array(items)
        }
        other => other,
    }
}

/// The reply of command `name` (lowercase) with `args` as Redis 7.0 shapes it in RESP3.
pub(crate) fn shape(name: &[u8], args: &[&[u8]], r: Reply) -> Reply {
    match name {
        b"hgetall" => match r {
            Reply::Array(items) if items.len() % 2 == 0 => {
                let mut out = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    out.push((k, v));
                }
                Reply::Map(out)
            }
            other => other,
        },
        b"smembers" | b"sinter" | b"sunion" | b"sdiff" => match r {
            Reply::Array(items) => Reply::Set(items),
            other => other,
        },
        b"zscore" | b"zincrby" => double(r),
        b"zadd" if has_word(args, "incr") => double(r),
        b"zmscore" => match r {
            Reply::Array(items) => Reply::Array(items.into_iter().map(double).collect()),
            other => other,
        },
        b"zrange" | b"zrangebyscore" | b"zrevrange" | b"zrevrangebyscore" | b"zunion" | b"zinter"
        | b"zdiff" | b"zrandmember"
            if has_word(args, "withscores") =>
        {
            pairs(r)
        }
        b"zpopmin" | b"zpopmax" if args.len() > 2 => pairs(r),
        b"zpopmin" | b"zpopmax" => member_score(r),
        b"bzpopmin" | b"bzpopmax" => match r {
            Reply::Array(mut items) if items.len() == 3 => {
                let s = items.pop().expect("three");
                items.push(double(s));
                Reply::Array(items)
            }
            other => other,
        },
        b"zmpop" | b"bzmpop" => match r {
            Reply::Array(mut items) if items.len() == 2 => {
                let elements = items.pop().expect("two");
                let elements = match elements {
                    Reply::Array(e) => Reply::Array(e.into_iter().map(member_score).collect()),
                    other => other,
                };
                items.push(elements);
                Reply::Array(items)
            }
            other => other,
        },
        _ => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_as_redis_7() {
        let flat = Reply::Array(vec![Reply::bulk("a"), Reply::bulk("1.5")]);
        assert_eq!(
            shape(b"zrange", &[b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"], flat.clone()),
            Reply::Array(vec![Reply::Array(vec![Reply::bulk("a"), Reply::Double(1.5)])])
        );
        assert_eq!(shape(b"zrange", &[b"ZRANGE", b"z", b"0", b"-1"], flat.clone()), flat);
        assert_eq!(
            shape(b"hgetall", &[b"HGETALL", b"h"], flat),
            Reply::Map(vec![(Reply::bulk("a"), Reply::bulk("1.5"))])
        );
        assert_eq!(shape(b"zscore", &[], Reply::bulk("inf")), Reply::Double(f64::INFINITY));
        assert_eq!(shape(b"zscore", &[], Reply::Nil), Reply::Nil);
    }
}
