//! RESP3 reply shapes. The command layer answers in RESP2's shapes (flat arrays, numbers as
//! strings); a connection that said `HELLO 3` gets what Redis 7.0 sends it instead: maps for
//! `HGETALL`, `XREAD`/`XREADGROUP`, the `XINFO` replies and `LCS ... IDX`, sets for
//! `SMEMBERS`, the set algebra and `SPOP` with a count, doubles for scores and coordinates,
//! `[member, score]` pairs for `WITHSCORES` and `[field, value]` pairs for
//! `HRANDFIELD ... WITHVALUES`.

use crate::reply::Reply;

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

fn has_word(args: &[&[u8]], word: &str) -> bool {
    args.iter().skip(1).any(|a| is(a, word))
}

/// A number as a RESP3 double, in the digits the command layer wrote for RESP2 (Redis 7.0
/// writes the same digits in both protocols); anything that is not a number stays as it is.
fn double(r: Reply) -> Reply {
    match r {
        Reply::Bulk(b) if std::str::from_utf8(&b).ok().and_then(parse_score).is_some() => {
            Reply::DoubleText(b)
        }
        r => r,
    }
}

fn parse_score(s: &str) -> Option<f64> {
    match s {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// An array reply of an even length as its consecutive pairs, through `f`; any other reply
/// as it is.
fn by_pairs(r: Reply, f: impl Fn(Vec<(Reply, Reply)>) -> Reply) -> Reply {
    match r {
        Reply::Array(items) if items.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            f(out)
        }
        other => other,
    }
}

/// `[k1, v1, k2, v2, ...]` as the map `{k1: v1, k2: v2, ...}`.
fn map(r: Reply) -> Reply {
    by_pairs(r, Reply::Map)
}

/// Each element of an array reply through `f`.
fn each(r: Reply, f: impl Fn(Reply) -> Reply) -> Reply {
    match r {
        Reply::Array(items) => Reply::Array(items.into_iter().map(f).collect()),
        other => other,
    }
}

/// The value at `key` of a map reply through `f`.
fn at_key(r: Reply, key: &str, f: impl Fn(Reply) -> Reply) -> Reply {
    match r {
        Reply::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| match &k {
                    Reply::Bulk(b) if is(b, key) => (k, f(v)),
                    _ => (k, v),
                })
                .collect(),
        ),
        other => other,
    }
}

/// `XINFO STREAM key FULL`: the stream, each of its groups and each group's consumers as maps.
fn full_stream_info(r: Reply) -> Reply {
    let consumers = |c: Reply| each(c, map);
    let group = |g: Reply| at_key(map(g), "consumers", consumers);
    at_key(map(r), "groups", |g| each(g, group))
}

/// A `[longitude, latitude]` pair as two doubles.
fn coordinates(r: Reply) -> Reply {
    each(r, double)
}

/// One result of a geo search `WITHCOORD`: its coordinates come last, as a pair.
fn geo_result(r: Reply) -> Reply {
    match r {
        Reply::Array(mut items) if matches!(items.last(), Some(Reply::Array(_))) => {
            let last = items.pop().expect("checked");
            items.push(coordinates(last));
            Reply::Array(items)
        }
        other => other,
    }
}

/// `[m1, s1, m2, s2, ...]` as `[[m1, d1], [m2, d2], ...]`.
fn pairs(r: Reply) -> Reply {
    by_pairs(r, |p| Reply::Array(p.into_iter().map(|(m, s)| Reply::Array(vec![m, double(s)])).collect()))
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
        b"hgetall" => map(r),
        // `[[stream, entries], ...]` as `{stream: entries, ...}`; a timeout's nil stays.
        b"xread" | b"xreadgroup" => match r {
            Reply::Array(streams)
                if streams.iter().all(|s| matches!(s, Reply::Array(kv) if kv.len() == 2)) =>
            {
                let flat = streams.into_iter().flat_map(|s| match s {
                    Reply::Array(kv) => kv,
                    other => vec![other],
                });
                map(Reply::Array(flat.collect()))
            }
            other => other,
        },
        b"xinfo" => match args.get(1) {
            Some(sub) if is(sub, "stream") && args.get(3).is_some_and(|a| is(a, "full")) => {
                full_stream_info(r)
            }
            Some(sub) if is(sub, "stream") => map(r),
            Some(sub) if is(sub, "groups") || is(sub, "consumers") => each(r, map),
            _ => r,
        },
        b"lcs" if has_word(args, "idx") => map(r),
        b"geopos" => each(r, coordinates),
        b"geosearch"
        | b"georadius"
        | b"georadius_ro"
        | b"georadiusbymember"
        | b"georadiusbymember_ro"
            if has_word(args, "withcoord") =>
        {
            each(r, geo_result)
        }
        b"smembers" | b"sinter" | b"sunion" | b"sdiff" => match r {
            Reply::Array(items) => Reply::Set(items),
            other => other,
        },
        b"spop" if args.len() > 2 => match r {
            Reply::Array(items) => Reply::Set(items),
            other => other,
        },
        b"hrandfield" if has_word(args, "withvalues") => {
            by_pairs(r, |p| Reply::Array(p.into_iter().map(|(f, v)| Reply::Array(vec![f, v])).collect()))
        }
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
            Reply::Array(vec![Reply::Array(vec![Reply::bulk("a"), text("1.5")])])
        );
        assert_eq!(shape(b"zrange", &[b"ZRANGE", b"z", b"0", b"-1"], flat.clone()), flat);
        assert_eq!(
            shape(b"hgetall", &[b"HGETALL", b"h"], flat),
            Reply::Map(vec![(Reply::bulk("a"), Reply::bulk("1.5"))])
        );
        assert_eq!(shape(b"zscore", &[], Reply::bulk("inf")), text("inf"));
        assert_eq!(shape(b"zscore", &[], Reply::Nil), Reply::Nil);
    }

    fn text(s: &str) -> Reply {
        Reply::DoubleText(crate::Bytes::copy_from(s.as_bytes()))
    }

    fn array(items: &[Reply]) -> Reply {
        Reply::Array(items.to_vec())
    }

    /// The digits stay as the command layer wrote them: Redis 7.0 sends a score's 17
    /// significant digits and a coordinate's 17 decimals, not the shortest round trip.
    #[test]
    fn doubles_keep_redis_digits() {
        let score = shape(b"zscore", &[b"ZSCORE", b"z", b"m"], Reply::bulk("0.10000000000000001"));
        assert_eq!(score, text("0.10000000000000001"));
        let pos =
            array(&[array(&[Reply::bulk("13.36138933897018433"), Reply::bulk("38.1")]), Reply::Nil]);
        assert_eq!(
            shape(b"geopos", &[b"GEOPOS", b"g", b"a", b"b"], pos),
            array(&[array(&[text("13.36138933897018433"), text("38.1")]), Reply::Nil])
        );
        let found = array(&[array(&[
            Reply::bulk("a"),
            Reply::bulk("1.5"),
            array(&[Reply::bulk("1"), Reply::bulk("2")]),
        ])]);
        let args: &[&[u8]] = &[
            b"GEOSEARCH",
            b"g",
            b"FROMLONLAT",
            b"1",
            b"2",
            b"BYRADIUS",
            b"9",
            b"km",
            b"WITHDIST",
            b"WITHCOORD",
        ];
        // The distance stays a string, as Redis sends it in both protocols.
        assert_eq!(
            shape(b"geosearch", args, found.clone()),
            array(&[array(&[Reply::bulk("a"), Reply::bulk("1.5"), array(&[text("1"), text("2")])])])
        );
        assert_eq!(shape(b"geosearch", &args[..8], found.clone()), found, "no WITHCOORD, no change");
    }

    #[test]
    fn stream_replies_are_maps() {
        let entries =
            array(&[array(&[Reply::bulk("1-1"), array(&[Reply::bulk("f"), Reply::bulk("v")])])]);
        let read = array(&[array(&[Reply::bulk("s"), entries.clone()])]);
        assert_eq!(
            shape(b"xread", &[b"XREAD", b"STREAMS", b"s", b"0"], read),
            Reply::Map(vec![(Reply::bulk("s"), entries)])
        );
        assert_eq!(shape(b"xreadgroup", &[], Reply::Nil), Reply::Nil, "a timeout stays nil");
        let consumer =
            array(&[Reply::bulk("name"), Reply::bulk("c"), Reply::bulk("pel-count"), Reply::Int(0)]);
        let group = array(&[
            Reply::bulk("name"),
            Reply::bulk("g"),
            Reply::bulk("consumers"),
            array(&[consumer]),
        ]);
        let full =
            array(&[Reply::bulk("length"), Reply::Int(1), Reply::bulk("groups"), array(&[group])]);
        let consumer = Reply::Map(vec![
            (Reply::bulk("name"), Reply::bulk("c")),
            (Reply::bulk("pel-count"), Reply::Int(0)),
        ]);
        let group = Reply::Map(vec![
            (Reply::bulk("name"), Reply::bulk("g")),
            (Reply::bulk("consumers"), array(&[consumer])),
        ]);
        assert_eq!(
            shape(b"xinfo", &[b"XINFO", b"STREAM", b"s", b"FULL"], full),
            Reply::Map(vec![
                (Reply::bulk("length"), Reply::Int(1)),
                (Reply::bulk("groups"), array(&[group]))
            ])
        );
        let groups = array(&[array(&[Reply::bulk("name"), Reply::bulk("g")])]);
        assert_eq!(
            shape(b"xinfo", &[b"XINFO", b"GROUPS", b"s"], groups),
            array(&[Reply::Map(vec![(Reply::bulk("name"), Reply::bulk("g"))])])
        );
    }
}
