//! The differential test of the data types built on strings and sorted sets (bitmaps and
//! BITFIELD, INCRBYFLOAT/HINCRBYFLOAT in long double, HyperLogLog, geo): random command
//! sequences run against a real `redis-server` 7.0.15 (the oracle) and slotstore's
//! `Client::command` side by side, every reply compared byte for byte (errors by their text).
//!
//! Environment as in `tests/differential_redis.rs` (see `tests/common/mod.rs`):
//! `SLOTSTORE_REDIS_ADDR` names the server (unset: skipped), `SLOTSTORE_REQUIRE_REDIS=1` makes
//! a missing server a failure, `SLOTSTORE_DIFF_SEED` replays a run, `SLOTSTORE_DIFF_STEPS` sets
//! the number of random commands per test.

mod common;

use common::{Diff, Rng};

/// A random integer argument: small, near a limit, or malformed.
fn any_int(rng: &mut Rng, lo: i64, hi: i64) -> String {
    match rng.below(20) {
        0 => rng.pick(&["abc", "", "1.5", "+1", "01", "-0", " 1"]).to_string(),
        1 => {
            rng.pick(&["9223372036854775807", "-9223372036854775808", "9223372036854775808"]).to_string()
        }
        _ => rng.range(lo, hi).to_string(),
    }
}

// ----- bitmaps -----

const BIT_KEYS: &[&str] = &["{t}b0", "{t}b1", "{t}b2", "{t}b3"];

fn bit_key(rng: &mut Rng) -> String {
    if rng.chance(5) {
        "{t}list".into()
    } else if rng.chance(5) {
        "{t}missing".into()
    } else {
        rng.pick(BIT_KEYS).into()
    }
}

/// A bit offset; `huge` allows the last valid one (a 512 MB string if written).
fn bit_offset(rng: &mut Rng, huge: bool) -> String {
    match rng.below(30) {
        0 if huge => rng.pick(&["4294967295", "4294967296", "-1", "abc", "", "#1", "1.0"]).to_string(),
        0 => rng.pick(&["4294967296", "-1", "abc", "", "#1", "1.0", "99999999999"]).to_string(),
        1 => rng.range(0, 2000).to_string(),
        _ => rng.range(0, 80).to_string(),
    }
}

fn field_type(rng: &mut Rng) -> String {
    match rng.below(25) {
        0 => rng
            .pick(&["u64", "i65", "i0", "u0", "x8", "I8", "U8", "i", "u08", "i-1", "i+8", ""])
            .to_string(),
        1..=3 => rng.pick(&["i64", "u63", "i63", "i1", "u1", "i32", "u32"]).to_string(),
        n => format!("{}{}", if n % 2 == 0 { "i" } else { "u" }, rng.range(1, 16)),
    }
}

fn field_offset(rng: &mut Rng, huge: bool) -> String {
    match rng.below(12) {
        0 => format!("#{}", rng.range(0, 8)),
        1 if huge => {
            rng.pick(&["4294967295", "4294967232", "#536870911", "#67108863", "#536870912"]).to_string()
        }
        1 => rng
            .pick(&[
                "-1",
                "#-1",
                "abc",
                "4294967296",
                "#9223372036854775807",
                "#2305843009213693952",
                "##1",
                "#",
            ])
            .to_string(),
        _ => rng.range(0, 80).to_string(),
    }
}

fn field_value(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => any_int(rng, -300, 300),
        1 => rng
            .pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "4611686018427387904",
                "-4611686018427387905",
            ])
            .to_string(),
        2 => (rng.next() as i64).to_string(),
        _ => rng.range(-300, 300).to_string(),
    }
}

fn bitfield_command(rng: &mut Rng, ro: bool) -> Vec<String> {
    let mut a = vec![if ro { "BITFIELD_RO" } else { "BITFIELD" }.to_string(), bit_key(rng)];
    for _ in 0..rng.below(5) {
        match rng.below(if ro { 12 } else { 10 }) {
            0..=2 => a.extend(["GET".into(), field_type(rng), field_offset(rng, true)]),
            3..=5 => {
                a.extend(["INCRBY".into(), field_type(rng), field_offset(rng, false), field_value(rng)])
            }
            6..=7 => {
                a.extend(["SET".into(), field_type(rng), field_offset(rng, false), field_value(rng)])
            }
            8 => a.extend([
                "OVERFLOW".into(),
                rng.pick(&["WRAP", "SAT", "FAIL", "fail", "sat", "bad"]).into(),
            ]),
            _ => a.extend(["GET".into(), field_type(rng), field_offset(rng, true)]),
        }
    }
    if rng.chance(3) {
        // A truncated or unknown subcommand.
        a.push(rng.pick(&["GET", "SET", "INCRBY", "OVERFLOW", "FOO"]).into());
        if rng.chance(50) {
            a.push("u8".into());
        }
    }
    a
}

fn range_args(rng: &mut Rng, a: &mut Vec<String>, max_args: usize) {
    let n = rng.below(max_args + 1);
    for i in 0..n {
        if i < 2 {
            a.push(any_int(rng, -40, 40));
        } else {
            a.push(rng.pick(&["BIT", "BYTE", "bit", "byte", "bits"]).into());
        }
    }
}

fn bitmap_command(rng: &mut Rng) -> Vec<String> {
    let k = bit_key(rng);
    let s = |x: &str| x.to_string();
    match rng.below(22) {
        0..=3 => vec![
            s("SETBIT"),
            k,
            bit_offset(rng, false),
            rng.pick(&["0", "1", "1", "0", "0", "1", "1", "0", "2", "-1", "x", "01"]).into(),
        ],
        4..=5 => vec![s("GETBIT"), k, bit_offset(rng, true)],
        6..=7 => {
            let mut a = vec![s("BITCOUNT"), k];
            range_args(rng, &mut a, 3);
            a
        }
        8..=10 => {
            let mut a = vec![s("BITPOS"), k, rng.pick(&["0", "1", "1", "0", "2", "x"]).into()];
            range_args(rng, &mut a, 3);
            a
        }
        11..=12 => {
            let op = rng.pick(&["AND", "OR", "XOR", "NOT", "and", "not", "nand"]);
            let mut a = vec![s("BITOP"), s(op), bit_key(rng)];
            let lo = i64::from(!rng.chance(3));
            for _ in 0..rng.range(lo, 3) {
                a.push(bit_key(rng));
            }
            a
        }
        13..=16 => bitfield_command(rng, false),
        17 => bitfield_command(rng, true),
        18 => {
            let v = rng.pick(&[
                "",
                "\u{ff}\u{f0}\u{0}",
                "foobar",
                "12345",
                "-1",
                "\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}",
            ]);
            vec![s("SET"), k, s(v)]
        }
        19 => vec![s("APPEND"), k, s("\u{1}\u{80}")],
        20 => vec![s("DEL"), k],
        _ => vec![s("GET"), k],
    }
}

#[test]
fn bitmaps() {
    let Some(mut d) = Diff::start("bitmaps", 4000) else { return };
    let mut rng = d.rng();
    d.check(&["RPUSH", "{t}list", "x"]);
    for step in 0..d.steps {
        d.step = step;
        let args = bitmap_command(&mut rng);
        d.check(&args);
        if step % 200 == 199 {
            for k in BIT_KEYS {
                d.check(&["GET", k]);
            }
        }
    }
    for k in BIT_KEYS {
        d.check(&["GET", k]);
    }
    // The last addressable bit reads (writing it would build a 512 MB string on each side);
    // one past it is refused.
    d.check(&["SETBIT", "{t}b0", "4294967296", "1"]);
    d.check(&["GETBIT", "{t}b0", "4294967295"]);
    d.check(&["BITFIELD", "{t}b0", "GET", "u8", "4294967288", "INCRBY", "i8", "4294967289", "3"]);
    d.check(&["BITFIELD_RO", "{t}b0", "GET", "i64", "4294967232", "GET", "u2", "4294967295"]);
    d.finish();
}

// ----- INCRBYFLOAT / HINCRBYFLOAT in long double -----

/// A random number as text: short decimals (the common case, where long double digits show),
/// long mantissas, exponents near the format's limits, hex floats, and malformed numbers.
fn float_text(rng: &mut Rng) -> String {
    let sign = rng.pick(&["", "", "", "-", "+"]);
    match rng.below(16) {
        0..=5 => format!("{sign}{}.{}", rng.range(0, 100_000), rng.range(0, 999)),
        6 => format!("{sign}{}", rng.range(0, 1_000_000)),
        7 => format!("{sign}0.{:0>17}", rng.next() % 100_000_000_000_000_000),
        8 => format!("{sign}{}e{}", rng.range(1, 99), rng.range(-4960, 4940)),
        9 => format!("{sign}{}e{}", rng.range(1, 999), rng.range(-30, 30)),
        10 => format!("{sign}0x{:x}p{}", rng.next() >> rng.below(60), rng.range(-100, 100)),
        11 => format!("{sign}{}.{}e{}", rng.next(), rng.next(), rng.range(-40, 40)),
        12 => format!("{sign}{}", (rng.next() as f64 / 7.0)),
        13 => rng
            .pick(&["1e4932", "-1e4932", "1.18e4932", "1e-4950", "3.6e-4951", "1e-4952", "0x1p-16445"])
            .into(),
        14 => rng
            .pick(&[
                "inf", "-inf", "Infinity", "nan", "", " 1", "1 ", "1e", "0x", ".", "1e+", "abc",
                "1.5.5", "0x1p",
            ])
            .into(),
        _ => format!(
            "{sign}{}",
            rng.pick(&["0.1", "0.2", "0.3", "1.1", "2.675", "1e-17", "5e-18", "0.000003814697265625"])
        ),
    }
}

fn float_command(rng: &mut Rng) -> Vec<String> {
    let key = rng.pick(&["{t}f0", "{t}f1", "{t}f2", "{t}f0", "{t}f1", "{t}f2", "{t}h"]).to_string();
    let field = rng.pick(&["a", "b", "c"]).to_string();
    let s = |x: &str| x.to_string();
    match rng.below(10) {
        0 => vec![s("SET"), rng.pick(&["{t}f0", "{t}f1", "{t}f2"]).into(), float_text(rng)],
        1 => vec![s("HSET"), s("{t}h"), field, float_text(rng)],
        2..=5 => vec![s("INCRBYFLOAT"), key, float_text(rng)],
        6..=8 => {
            vec![s("HINCRBYFLOAT"), rng.pick(&["{t}h", "{t}h", "{t}f0"]).into(), field, float_text(rng)]
        }
        _ => vec![s("GET"), key],
    }
}

#[test]
fn incrbyfloat() {
    let Some(mut d) = Diff::start("incrbyfloat", 4000) else { return };
    let mut rng = d.rng();
    d.check(&["HSET", "{t}h", "a", "1"]);
    for step in 0..d.steps {
        d.step = step;
        let args = float_command(&mut rng);
        d.check(&args);
    }
    d.check(&["HGETALL", "{t}h"]);
    d.finish();
}

// ----- HyperLogLog -----

const HLL_KEYS: &[&str] = &["{t}h0", "{t}h1", "{t}h2", "{t}h3"];

fn hll_command(rng: &mut Rng) -> Vec<String> {
    let k = if rng.chance(4) { "{t}str".to_string() } else { rng.pick(HLL_KEYS).to_string() };
    let s = |x: &str| x.to_string();
    match rng.below(12) {
        0..=4 => {
            // Small batches keep keys sparse a while; large ones push them dense.
            let (n, pool) =
                if rng.chance(30) { (rng.range(50, 400), 60_000) } else { (rng.range(0, 8), 3000) };
            let mut a = vec![s("PFADD"), k];
            for _ in 0..n {
                a.push(format!("e{}", rng.range(0, pool)));
            }
            a
        }
        5..=7 => {
            let mut a = vec![s("PFCOUNT"), k];
            for _ in 0..rng.below(3) {
                a.push(rng.pick(HLL_KEYS).into());
            }
            a
        }
        8 => {
            let mut a = vec![s("PFMERGE"), rng.pick(HLL_KEYS).into()];
            for _ in 0..rng.below(3) {
                a.push(if rng.chance(10) { "{t}str".into() } else { rng.pick(HLL_KEYS).into() });
            }
            a
        }
        9 => vec![s("DEL"), rng.pick(HLL_KEYS).into()],
        _ => vec![s("GET"), rng.pick(HLL_KEYS).into()],
    }
}

#[test]
fn hyperloglog() {
    let Some(mut d) = Diff::start("hyperloglog", 3000) else { return };
    let mut rng = d.rng();
    d.check(&["SET", "{t}str", "not an hll"]);
    d.check(&["RPUSH", "{t}list", "x"]);
    d.check(&["PFADD", "{t}list", "a"]);
    d.check(&["PFCOUNT", "{t}list"]);
    for step in 0..d.steps {
        d.step = step;
        let args = hll_command(&mut rng);
        d.check(&args);
        if step % 500 == 499 {
            // A Redis-made HLL, and corrupt copies of it, as strings on both sides.
            let k = rng.pick(HLL_KEYS);
            if let Ok(slotstore::Reply::Bulk(bytes)) = d.oracle(&["GET", k]) {
                let mut bad = bytes.to_vec();
                d.check(&[b"SET".as_slice(), b"{t}copy", &bytes]);
                d.check(&["PFCOUNT", "{t}copy", k]);
                d.check(&["PFADD", "{t}copy", "new-element"]);
                d.check(&["GET", "{t}copy"]);
                let at = 16 + rng.below(bad.len().saturating_sub(16).max(1));
                if at < bad.len() {
                    bad[at] ^= 0x55;
                }
                if rng.chance(50) {
                    bad.truncate(bad.len() - 1);
                }
                d.check(&[b"SET".as_slice(), b"{t}bad", &bad]);
                d.check(&["PFCOUNT", "{t}bad"]);
                d.check(&["PFADD", "{t}bad", "x", "y", "z"]);
                d.check(&["GET", "{t}bad"]);
                d.check(&["PFCOUNT", "{t}bad", "{t}h0"]);
                d.check(&["PFMERGE", "{t}h3", "{t}bad"]);
                d.check(&["GET", "{t}bad"]);
            }
        }
    }
    for k in HLL_KEYS {
        d.check(&["PFCOUNT", k]);
        d.check(&["GET", k]);
    }
    d.finish();
}

// ----- geo -----

const GEO_KEYS: &[&str] = &["{t}g0", "{t}g1"];
const UNITS: &[&str] = &["m", "km", "ft", "mi", "KM", "M"];

fn geo_member(rng: &mut Rng) -> String {
    format!("m{}", rng.below(40))
}

/// A longitude and latitude: mostly in a cluster around Sicily (so searches find members),
/// some anywhere on the map, some at or past the limits, some malformed.
fn lon_lat(rng: &mut Rng) -> (String, String) {
    let f = |rng: &mut Rng, lo: f64, hi: f64| {
        lo + (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    };
    match rng.below(20) {
        0 => (
            rng.pick(&["180", "-180", "180.0000001", "-181", "abc", "inf", "1e400", "0x10", ""]).into(),
            rng.pick(&["85.05112878", "-85.05112878", "85.06", "-90", "0", "nan"]).into(),
        ),
        1..=5 => (format!("{:.6}", f(rng, -180.0, 180.0)), format!("{:.6}", f(rng, -85.0, 85.0))),
        6 => (format!("{}", f(rng, 170.0, 180.0)), format!("{}", f(rng, 80.0, 85.05))),
        _ => (format!("{:.7}", f(rng, 12.0, 16.0)), format!("{:.7}", f(rng, 36.5, 39.5))),
    }
}

fn geo_options(rng: &mut Rng, a: &mut Vec<String>, store: bool) {
    for _ in 0..rng.below(4) {
        match rng.below(10) {
            0 => a.push("WITHDIST".into()),
            1 => a.push("WITHCOORD".into()),
            2 => a.push("WITHHASH".into()),
            3 => a.push(rng.pick(&["ASC", "DESC", "asc"]).into()),
            4..=5 => {
                a.push("COUNT".into());
                a.push(rng.pick(&["1", "2", "3", "5", "10", "0", "-1", "x"]).into());
                if rng.chance(40) {
                    a.push("ANY".into());
                }
            }
            6 if store => {
                a.push(rng.pick(&["STORE", "STOREDIST"]).into());
                a.push("{t}dst".into());
            }
            7 if rng.chance(20) => a.push(rng.pick(&["ANY", "FOO"]).into()),
            _ => {}
        }
    }
}

fn radius(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => rng.pick(&["0", "-1", "abc", "20000", "1e9"]).into(),
        1..=2 => format!("{}", rng.range(1000, 20000)),
        _ => format!("{}", rng.range(1, 400)),
    }
}

fn geo_command(rng: &mut Rng) -> Vec<String> {
    let k = if rng.chance(4) { "{t}str".to_string() } else { rng.pick(GEO_KEYS).to_string() };
    let s = |x: &str| x.to_string();
    match rng.below(20) {
        0..=4 => {
            let mut a = vec![s("GEOADD"), k];
            for _ in 0..rng.below(2) {
                a.push(rng.pick(&["NX", "XX", "CH", "ch"]).into());
            }
            for _ in 0..rng.range(1, 4) {
                let (lon, lat) = lon_lat(rng);
                a.extend([lon, lat, geo_member(rng)]);
            }
            if rng.chance(3) {
                a.pop();
            }
            a
        }
        5 => {
            let mut a = vec![s("GEOPOS"), k];
            a.extend((0..rng.range(1, 4)).map(|_| geo_member(rng)));
            a
        }
        6 => {
            let mut a = vec![s("GEODIST"), k, geo_member(rng), geo_member(rng)];
            if rng.chance(70) {
                a.push(rng.pick(UNITS).into());
            }
            if rng.chance(5) {
                a.push("km".into());
            }
            a
        }
        7 => {
            let mut a = vec![s("GEOHASH"), k];
            a.extend((0..rng.range(1, 4)).map(|_| geo_member(rng)));
            a
        }
        8..=12 => {
            let store = rng.chance(25);
            let mut a =
                if store { vec![s("GEOSEARCHSTORE"), s("{t}dst"), k] } else { vec![s("GEOSEARCH"), k] };
            if rng.chance(50) {
                a.extend([s("FROMMEMBER"), geo_member(rng)]);
            } else {
                let (lon, lat) = lon_lat(rng);
                a.extend([s("FROMLONLAT"), lon, lat]);
            }
            if rng.chance(50) {
                a.extend([s("BYRADIUS"), radius(rng), rng.pick(UNITS).into()]);
            } else {
                a.extend([s("BYBOX"), radius(rng), radius(rng), rng.pick(UNITS).into()]);
            }
            geo_options(rng, &mut a, false);
            if store && rng.chance(30) {
                a.push("STOREDIST".into());
            }
            if rng.chance(5) {
                a.remove(2 + usize::from(store));
            }
            a
        }
        13..=15 => {
            let ro = rng.chance(40);
            let mut a = vec![s(if ro { "GEORADIUS_RO" } else { "GEORADIUS" }), k];
            let (lon, lat) = lon_lat(rng);
            a.extend([lon, lat, radius(rng), rng.pick(UNITS).into()]);
            geo_options(rng, &mut a, !ro);
            a
        }
        16..=17 => {
            let ro = rng.chance(40);
            let mut a = vec![s(if ro { "GEORADIUSBYMEMBER_RO" } else { "GEORADIUSBYMEMBER" }), k];
            a.extend([geo_member(rng), radius(rng), rng.pick(UNITS).into()]);
            geo_options(rng, &mut a, !ro);
            a
        }
        18 => vec![s("ZRANGE"), s("{t}dst"), s("0"), s("-1"), s("WITHSCORES")],
        _ => vec![s("ZREM"), rng.pick(GEO_KEYS).into(), geo_member(rng)],
    }
}

#[test]
fn geo() {
    let Some(mut d) = Diff::start("geo", 4000) else { return };
    let mut rng = d.rng();
    d.check(&["SET", "{t}str", "x"]);
    d.check(&[
        "GEOADD",
        "{t}g0",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    d.check(&["GEODIST", "{t}g0", "Palermo", "Catania", "km"]);
    d.check(&["GEORADIUS", "{t}g0", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"]);
    let (mut searches, mut found) = (0, 0);
    for step in 0..d.steps {
        d.step = step;
        let args = geo_command(&mut rng);
        let reply = d.compare(&args);
        if args[0].starts_with("GEORADIUS") || args[0] == "GEOSEARCH" {
            searches += 1;
            found += usize::from(matches!(reply, Ok(slotstore::Reply::Array(ref v)) if !v.is_empty()));
        }
    }
    eprintln!("geo: {found} of {searches} searches found members");
    assert!(d.steps < 500 || found * 5 > searches, "the generator must make searches that find members");
    for k in GEO_KEYS {
        d.check(&["ZRANGE", k, "0", "-1", "WITHSCORES"]);
    }
    d.finish();
}

// ----- streams -----

const STREAM_KEYS: &[&str] = &["{t}s0", "{t}s1"];
const GROUPS: &[&str] = &["g1", "g2"];
const CONSUMERS: &[&str] = &["alice", "bob", "carol"];

/// Runs a command on both sides and compares after `mask` blanks what depends on the clock
/// (idle times) or on Redis's radix tree internals.
fn check_masked(d: &mut Diff, args: &[String], mask: fn(&mut slotstore::Reply)) {
    let mut want = d.oracle(args);
    let words = d.retag(args);
    let mut got = d.client.command(&words).map_err(|e| e.to_string());
    if let Ok(r) = want.as_mut() {
        mask(r);
    }
    if let Ok(r) = got.as_mut() {
        mask(r);
    }
    assert_eq!(want, got, "step {} seed {}: {:?}", d.step, d.seed, args);
}

/// XPENDING's extended form and XINFO CONSUMERS: idle times zeroed.
fn mask_idle(r: &mut slotstore::Reply) {
    use slotstore::Reply;
    if let Reply::Array(items) = r {
        for item in items {
            if let Reply::Array(f) = item {
                if f.len() == 4 && matches!(f[2], Reply::Int(_)) {
                    f[2] = Reply::Int(0); // XPENDING: id, consumer, idle, deliveries
                }
                if f.len() == 6 && f[4] == Reply::bulk("idle") {
                    f[5] = Reply::Int(0);
                }
            }
        }
    }
}

/// XINFO STREAM: the radix tree's node count is Redis's own.
fn mask_nodes(r: &mut slotstore::Reply) {
    if let slotstore::Reply::Array(f) = r {
        if f.len() > 5 {
            f[5] = slotstore::Reply::Int(0);
        }
    }
}

/// XINFO STREAM FULL: the node count and every delivery or seen time zeroed.
fn mask_full(r: &mut slotstore::Reply) {
    use slotstore::Reply;
    fn walk(r: &mut Reply) {
        let Reply::Array(items) = r else { return };
        let is_id = |r: &Reply| r.as_bytes().is_some_and(|b| b.contains(&b'-'));
        match items.len() {
            4 if is_id(&items[0]) && matches!(items[2], Reply::Int(_)) => items[2] = Reply::Int(0),
            3 if is_id(&items[0]) && matches!(items[1], Reply::Int(_)) => items[1] = Reply::Int(0),
            _ => {}
        }
        for i in 0..items.len() {
            if items[i] == Reply::bulk("seen-time") && i + 1 < items.len() {
                items[i + 1] = Reply::Int(0);
            }
            walk(&mut items[i]);
        }
    }
    mask_nodes(r);
    walk(r);
}

struct StreamGen {
    rng: Rng,
    ms: u64,
}

impl StreamGen {
    fn id(&mut self) -> String {
        let rng = &mut self.rng;
        match rng.below(20) {
            0 => rng
                .pick(&["abc", "-1", "0-0", "+", "-", "1-2-3", "18446744073709551616", "0", "5-x"])
                .into(),
            1..=3 => format!("{}-{}", self.ms.saturating_sub(rng.below(40) as u64), rng.below(3)),
            4 => format!("{}", self.ms.saturating_sub(rng.below(40) as u64)),
            _ => format!("{}-{}", self.ms.saturating_sub(rng.below(40) as u64), rng.below(4)),
        }
    }

    fn new_id(&mut self) -> String {
        self.ms += 1 + self.rng.below(2) as u64;
        match self.rng.below(12) {
            0 => format!("{}-*", self.ms),
            1 => format!("{}", self.ms),
            2 => self.id(),
            _ => format!("{}-{}", self.ms, self.rng.below(3)),
        }
    }

    fn range_id(&mut self) -> String {
        match self.rng.below(6) {
            0 => "-".into(),
            1 => "+".into(),
            2 => format!("({}", self.id()),
            _ => self.id(),
        }
    }

    fn trim(&mut self, a: &mut Vec<String>) {
        let rng = &mut self.rng;
        if rng.chance(50) {
            a.push("MAXLEN".into());
        } else {
            a.push("MINID".into());
        }
        let maxlen = a.last().is_some_and(|w| w == "MAXLEN");
        if rng.chance(50) {
            a.push(rng.pick(&["~", "=", "~"]).into());
        }
        a.push(if maxlen {
            rng.pick(&["0", "1", "5", "50", "150", "-1", "x"]).into()
        } else {
            self.id()
        });
        if self.rng.chance(20) {
            a.push("LIMIT".into());
            a.push(self.rng.pick(&["0", "10", "100", "200", "-1"]).into());
        }
    }

    fn command(&mut self) -> Vec<String> {
        let s = |x: &str| x.to_string();
        let k = if self.rng.chance(3) { s("{t}str") } else { self.rng.pick(STREAM_KEYS).to_string() };
        let g = self.rng.pick(GROUPS).to_string();
        let c = self.rng.pick(CONSUMERS).to_string();
        match self.rng.below(40) {
            0..=11 => {
                let mut a = vec![s("XADD"), k];
                if self.rng.chance(5) {
                    a.push("NOMKSTREAM".into());
                }
                if self.rng.chance(15) {
                    self.trim(&mut a);
                }
                a.push(self.new_id());
                for _ in 0..self.rng.range(1, 3) {
                    a.push(format!("f{}", self.rng.below(3)));
                    a.push(format!("v{}", self.rng.below(100)));
                }
                if self.rng.chance(3) {
                    a.pop();
                }
                a
            }
            12 => vec![s("XLEN"), k],
            13..=15 => {
                let rev = self.rng.chance(40);
                let mut a = vec![
                    s(if rev { "XREVRANGE" } else { "XRANGE" }),
                    k,
                    self.range_id(),
                    self.range_id(),
                ];
                if self.rng.chance(40) {
                    a.push("COUNT".into());
                    a.push(self.rng.pick(&["0", "1", "3", "-1", "x"]).into());
                }
                a
            }
            16 => {
                let mut a = vec![s("XDEL"), k];
                for _ in 0..self.rng.range(1, 3) {
                    a.push(self.id());
                }
                a
            }
            17 => {
                let mut a = vec![s("XTRIM"), k];
                self.trim(&mut a);
                a
            }
            18..=19 => {
                let mut a = vec![s("XREAD")];
                if self.rng.chance(50) {
                    a.push("COUNT".into());
                    a.push(self.rng.pick(&["1", "2", "5", "0"]).into());
                }
                a.push("STREAMS".into());
                let n = self.rng.range(1, 2) as usize;
                let keys: Vec<String> = (0..n).map(|i| STREAM_KEYS[i].to_string()).collect();
                a.extend(keys);
                for _ in 0..n {
                    let id = if self.rng.chance(20) { s("$") } else { self.id() };
                    a.push(id);
                }
                a
            }
            20..=22 => {
                let sub = self.rng.below(10);
                match sub {
                    0..=3 => {
                        let mut a = vec![
                            s("XGROUP"),
                            s("CREATE"),
                            k,
                            g,
                            if self.rng.chance(30) { s("$") } else { self.id() },
                        ];
                        if self.rng.chance(50) {
                            a.push("MKSTREAM".into());
                        }
                        if self.rng.chance(20) {
                            a.push("ENTRIESREAD".into());
                            a.push(self.rng.pick(&["0", "3", "-1", "-2"]).into());
                        }
                        a
                    }
                    4 => vec![
                        s("XGROUP"),
                        s("SETID"),
                        k,
                        g,
                        if self.rng.chance(30) { s("$") } else { self.id() },
                    ],
                    5 => vec![s("XGROUP"), s("DESTROY"), k, g],
                    6 => vec![s("XGROUP"), s("CREATECONSUMER"), k, g, c],
                    7 => vec![s("XGROUP"), s("DELCONSUMER"), k, g, c],
                    8 => vec![s("XGROUP"), s("NOSUCH"), k, g],
                    _ => vec![s("XGROUP"), s("CREATE"), k],
                }
            }
            23..=28 => {
                let mut a = vec![s("XREADGROUP"), s("GROUP"), g, c];
                if self.rng.chance(50) {
                    a.push("COUNT".into());
                    a.push(self.rng.pick(&["1", "2", "5"]).into());
                }
                if self.rng.chance(15) {
                    a.push("NOACK".into());
                }
                a.extend([s("STREAMS"), k]);
                a.push(if self.rng.chance(70) {
                    s(">")
                } else {
                    self.rng.pick(&["0", "0-0", "$"]).into()
                });
                a
            }
            29..=30 => {
                let mut a = vec![s("XACK"), k, g];
                for _ in 0..self.rng.range(1, 3) {
                    a.push(self.id());
                }
                a
            }
            31 => vec![s("XPENDING"), k, g],
            32 => {
                let mut a = vec![
                    s("XPENDING"),
                    k,
                    g,
                    self.range_id(),
                    self.range_id(),
                    self.rng.pick(&["1", "5", "100"]).into(),
                ];
                if self.rng.chance(40) {
                    a.push(c);
                }
                a
            }
            33..=34 => {
                let mut a = vec![s("XCLAIM"), k, g, c, s("0")];
                for _ in 0..self.rng.range(1, 3) {
                    a.push(self.id());
                }
                if self.rng.chance(30) {
                    a.push("JUSTID".into());
                }
                if self.rng.chance(20) {
                    a.push("FORCE".into());
                }
                if self.rng.chance(20) {
                    a.extend([s("RETRYCOUNT"), s("7")]);
                }
                if self.rng.chance(10) {
                    a.extend([s("LASTID"), self.id()]);
                }
                a
            }
            35 => {
                let mut a = vec![s("XAUTOCLAIM"), k, g, c, s("0"), self.range_id()];
                if self.rng.chance(50) {
                    a.extend([s("COUNT"), self.rng.pick(&["1", "2", "10", "0"]).into()]);
                }
                if self.rng.chance(30) {
                    a.push("JUSTID".into());
                }
                a
            }
            36 => vec![s("XINFO"), s("GROUPS"), k],
            37 => vec![s("XSETID"), k, self.id()],
            _ => vec![s("XINFO"), s("CONSUMERS"), k, g],
        }
    }
}

#[test]
fn streams() {
    let Some(mut d) = Diff::start("streams", 4000) else { return };
    let mut gen = StreamGen { rng: d.rng(), ms: 1 };
    d.check(&["SET", "{t}str", "x"]);
    for step in 0..d.steps {
        d.step = step;
        let args = gen.command();
        match (args[0].as_str(), args.get(1).map(String::as_str)) {
            ("XPENDING", _) | ("XINFO", Some("CONSUMERS")) => check_masked(&mut d, &args, mask_idle),
            _ => d.check(&args),
        }
        if step % 100 == 99 {
            for k in STREAM_KEYS {
                let info = vec!["XINFO".to_string(), "STREAM".to_string(), k.to_string()];
                check_masked(&mut d, &info, mask_nodes);
                let full: Vec<String> =
                    ["XINFO", "STREAM", k, "FULL", "COUNT", "3"].iter().map(|s| s.to_string()).collect();
                check_masked(&mut d, &full, mask_full);
                let full: Vec<String> =
                    ["XINFO", "STREAM", k, "FULL"].iter().map(|s| s.to_string()).collect();
                check_masked(&mut d, &full, mask_full);
                d.check(&["XRANGE", k, "-", "+"]);
                d.check(&["XINFO", "GROUPS", k]);
            }
        }
    }
    d.finish();
}
