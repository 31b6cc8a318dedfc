//! Random words for the bitmap, HyperLogLog, geo, stream and float commands: whatever comes
//! in, the store answers (a reply or Redis's error) and never panics, and a key keeps a type
//! its commands can read.

mod common;

use common::Rng;
use slotstore::Cluster;

const WORDS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "64",
    "100",
    "-100",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1.5",
    "-0.5",
    "1e400",
    "inf",
    "-inf",
    "nan",
    "",
    " ",
    "abc",
    "#3",
    "#-1",
    "i8",
    "u8",
    "i64",
    "u63",
    "u64",
    "i0",
    "GET",
    "SET",
    "INCRBY",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "BIT",
    "BYTE",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "m",
    "km",
    "ft",
    "mi",
    "FROMMEMBER",
    "FROMLONLAT",
    "BYRADIUS",
    "BYBOX",
    "ASC",
    "DESC",
    "COUNT",
    "ANY",
    "WITHCOORD",
    "WITHDIST",
    "WITHHASH",
    "STORE",
    "STOREDIST",
    "NX",
    "XX",
    "CH",
    "*",
    "$",
    ">",
    "-",
    "+",
    "(1",
    "1-1",
    "1-*",
    "0-0",
    "5-5",
    "MAXLEN",
    "MINID",
    "~",
    "=",
    "LIMIT",
    "NOMKSTREAM",
    "STREAMS",
    "GROUP",
    "NOACK",
    "BLOCK",
    "MKSTREAM",
    "ENTRIESREAD",
    "CREATE",
    "SETID",
    "DESTROY",
    "CREATECONSUMER",
    "DELCONSUMER",
    "FULL",
    "JUSTID",
    "FORCE",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "LASTID",
    "ENTRIESADDED",
    "MAXDELETEDID",
    "{f}a",
    "{f}b",
    "{f}c",
    "g",
    "c",
    "13.36",
    "38.11",
    "HYLL",
    "0x1p-16445",
];

const COMMANDS: &[&str] = &[
    "SETBIT",
    "GETBIT",
    "BITCOUNT",
    "BITPOS",
    "BITOP",
    "BITFIELD",
    "BITFIELD_RO",
    "PFADD",
    "PFCOUNT",
    "PFMERGE",
    "GEOADD",
    "GEOPOS",
    "GEODIST",
    "GEOHASH",
    "GEOSEARCH",
    "GEOSEARCHSTORE",
    "GEORADIUS",
    "GEORADIUS_RO",
    "GEORADIUSBYMEMBER",
    "GEORADIUSBYMEMBER_RO",
    "XADD",
    "XLEN",
    "XRANGE",
    "XREVRANGE",
    "XDEL",
    "XTRIM",
    "XREAD",
    "XREADGROUP",
    "XGROUP",
    "XACK",
    "XPENDING",
    "XCLAIM",
    "XAUTOCLAIM",
    "XINFO",
    "XSETID",
    "INCRBYFLOAT",
    "HINCRBYFLOAT",
    "SET",
    "GET",
    "DEL",
    "TYPE",
];

#[test]
fn random_words_never_panic() {
    let cluster = Cluster::builder().build().unwrap();
    let c = cluster.client();
    let mut rng = Rng(common::seed());
    let steps = common::steps(20_000);
    for _ in 0..steps {
        let name = rng.pick(COMMANDS);
        let mut words = vec![name.to_string()];
        if !matches!(name, "XREAD" | "XREADGROUP" | "XGROUP" | "XINFO" | "BITOP") || rng.chance(30) {
            words.push(rng.pick(&["{f}a", "{f}b", "{f}c"]).to_string());
        }
        for _ in 0..rng.below(9) {
            words.push(rng.pick(WORDS).to_string());
        }
        // BLOCK waits: keep the fuzz from sleeping on it.
        if let Some(i) = words.iter().position(|w| w == "BLOCK") {
            if i + 1 < words.len() {
                words[i + 1] = "1".into();
            }
        }
        let _ = c.command(&words);
    }
}
