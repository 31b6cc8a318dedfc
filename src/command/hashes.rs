//! Hash commands: HSET and its kin, field counters, HRANDFIELD and HSCAN.
//!
//! Also the parts `SSCAN`/`SRANDMEMBER` share with them: cursors, scan options and random
//! counts, parsed with Redis's rules and texts.

use super::args::{int, is, parse_i64};
use super::long_double::LongDouble;
use super::{Spec, ONE_KEY};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::glob::Glob;
use crate::keyspace::events::{GENERIC, HASH};
use crate::keyspace::hash::{Elem, HashValue};
use crate::keyspace::{Db, Entry, Lookup, Now, Table, Value, View};
use crate::reply::Reply;

/// The hash in `entry`, or `WRONGTYPE`.
pub(crate) fn as_hash(entry: &Entry) -> Result<&HashValue, Error> {
    match &entry.value {
        Value::Hash(h) => Ok(h),
        _ => Err(Error::WrongType),
    }
}

/// The hash at `key`, if any.
fn hash<'t>(t: &'t impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t HashValue>, Error> {
    t.entry(key, now).map(as_hash).transpose()
}

/// The live entry at `key`, looked at by a write command before it changes anything: no hit
/// counted, no access stamped, no `WATCH` touched, as Redis's `lookupKeyWrite`. A write that
/// turns out to change nothing (`HDEL` of absent fields, `SADD` of members already there)
/// then signals no one, as in Redis.
pub(crate) fn peek<'t>(t: &'t Db<'_>, now: &Now<'_>, key: &[u8]) -> Option<&'t Entry> {
    t.table_ref(key).get_raw(key).filter(|e| Table::is_live(e, now))
}

/// The hash at `key`, for a write command's checks (see [`peek`]).
fn hash_peek<'t>(t: &'t Db<'_>, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t HashValue>, Error> {
    peek(t, now, key).map(as_hash).transpose()
}

/// The hash at `key` for writing, if any. Changing it in place keeps the key's TTL.
fn hash_mut<'t>(
    t: &'t mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
) -> Result<Option<&'t mut HashValue>, Error> {
    match t.get_mut(key, now) {
        None => Ok(None),
        Some(Entry { value: Value::Hash(h), .. }) => Ok(Some(h)),
        Some(_) => Err(Error::WrongType),
    }
}

/// `HSET`: sets every pair (a later pair wins over an earlier one with the same field);
/// returns how many fields are new.
///
/// No pairs change nothing (and store no empty hash).
///
/// # Errors
/// `WRONGTYPE`.
pub(crate) fn hset(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    pairs: &[(&[u8], &[u8])],
) -> Result<usize, Error> {
    let added = store(t, now, key, pairs)?;
    if !pairs.is_empty() {
        now.notify(HASH, "hset", key);
    }
    Ok(added)
}

/// [`hset`] without its keyspace event (the counters send their own).
fn store(t: &mut Db<'_>, now: &Now<'_>, key: &[u8], pairs: &[(&[u8], &[u8])]) -> Result<usize, Error> {
    if pairs.is_empty() {
        return Ok(0);
    }
    let insert = |h: &mut HashValue| pairs.iter().filter(|(f, v)| h.insert(f, v)).count();
    match hash_mut(t, now, key)? {
        Some(h) => Ok(insert(h)),
        None => {
            let mut h = HashValue::new();
            let added = insert(&mut h);
            t.insert(key, Value::Hash(Box::new(h)), None);
            Ok(added)
        }
    }
}

/// `HSETNX`: sets `field` only if it does not exist; true if set.
pub(crate) fn hsetnx(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    field: &[u8],
    value: &[u8],
) -> Result<bool, Error> {
    if hash_peek(t, now, key)?.is_some_and(|h| h.contains(field)) {
        return Ok(false);
    }
    hset(t, now, key, &[(field, value)]).map(|_| true)
}

/// `HGET`.
pub(crate) fn hget(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    field: &[u8],
) -> Result<Option<Bytes>, Error> {
    Ok(hash(t, now, key)?.and_then(|h| h.get(field)).map(Elem::to_bytes))
}

/// `HMGET`: the value of each field, None where missing.
pub(crate) fn hmget<F: AsRef<[u8]>>(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    fields: &[F],
) -> Result<Vec<Option<Bytes>>, Error> {
    let h = hash(t, now, key)?;
    Ok(fields.iter().map(|f| h.and_then(|h| h.get(f.as_ref())).map(Elem::to_bytes)).collect())
}

/// `HGETALL`: every field and value (insertion order while the hash is small).
pub(crate) fn hgetall(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Vec<(Bytes, Bytes)>, Error> {
    let Some(h) = hash(t, now, key)? else { return Ok(Vec::new()) };
    Ok(h.iter().map(|(f, v)| (f.to_bytes(), v.to_bytes())).collect())
}

/// `HKEYS`.
pub(crate) fn hkeys(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Vec<Bytes>, Error> {
    let Some(h) = hash(t, now, key)? else { return Ok(Vec::new()) };
    Ok(h.iter().map(|(f, _)| f.to_bytes()).collect())
}

/// `HVALS`.
pub(crate) fn hvals(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Vec<Bytes>, Error> {
    let Some(h) = hash(t, now, key)? else { return Ok(Vec::new()) };
    Ok(h.iter().map(|(_, v)| v.to_bytes()).collect())
}

/// `HDEL`: removes the fields, and the key once the hash is empty; returns how many existed.
pub(crate) fn hdel<F: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    fields: &[F],
) -> Result<usize, Error> {
    let Some(h) = hash_peek(t, now, key)? else { return Ok(0) };
    if !fields.iter().any(|f| h.contains(f.as_ref())) {
        return Ok(0);
    }
    let h = hash_mut(t, now, key)?.expect("checked above");
    let removed = fields.iter().filter(|f| h.remove(f.as_ref())).count();
    now.notify(HASH, "hdel", key);
    if h.is_empty() {
        t.remove(key);
        now.notify(GENERIC, "del", key);
    }
    Ok(removed)
}

/// `HEXISTS`.
pub(crate) fn hexists(t: &impl Lookup, now: &Now<'_>, key: &[u8], field: &[u8]) -> Result<bool, Error> {
    Ok(hash(t, now, key)?.is_some_and(|h| h.contains(field)))
}

/// `HLEN`.
pub(crate) fn hlen(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<usize, Error> {
    Ok(hash(t, now, key)?.map_or(0, HashValue::len))
}

/// `HSTRLEN`: the length of the field's value, 0 if missing.
pub(crate) fn hstrlen(t: &impl Lookup, now: &Now<'_>, key: &[u8], field: &[u8]) -> Result<usize, Error> {
    Ok(hash(t, now, key)?.and_then(|h| h.get(field)).map_or(0, Elem::len))
}

/// Stores `value` at `field` of the hash at `key`, creating the hash if missing.
fn put(t: &mut Db<'_>, now: &Now<'_>, key: &[u8], field: &[u8], value: &[u8]) -> Result<(), Error> {
    store(t, now, key, &[(field, value)]).map(drop)
}

/// `HINCRBY`: adds `delta` to the integer at `field` (0 if missing).
///
/// # Errors
/// `WRONGTYPE`; `ERR hash value is not an integer`; `ERR increment or decrement would
/// overflow`.
pub(crate) fn hincrby(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    field: &[u8],
    delta: i64,
) -> Result<i64, Error> {
    let current = match hash_peek(t, now, key)?.and_then(|h| h.get(field)) {
        Some(v) => {
            parse_i64(v.bytes(&mut [0; 20])).ok_or_else(|| Error::msg("hash value is not an integer"))?
        }
        None => 0,
    };
    let next = current.checked_add(delta).ok_or_else(Error::overflow)?;
    put(t, now, key, field, next.to_string().as_bytes())?;
    now.notify(HASH, "hincrby", key);
    Ok(next)
}

/// `HINCRBYFLOAT`: adds `delta` to the number at `field` (0 if missing); returns the new
/// value as Redis prints it.
///
/// # Errors
/// `ERR value is NaN or Infinity` for such a `delta`; `WRONGTYPE`; `ERR hash value is not a
/// float`; `ERR increment would produce NaN or Infinity`.
pub(crate) fn hincrbyfloat(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    field: &[u8],
    delta: LongDouble,
) -> Result<Bytes, Error> {
    if !delta.is_finite() {
        return Err(Error::msg("value is NaN or Infinity"));
    }
    let current = match hash_peek(t, now, key)?.and_then(|h| h.get(field)) {
        Some(v) => LongDouble::parse(v.bytes(&mut [0; 20]))
            .ok_or_else(|| Error::msg("hash value is not a float"))?,
        None => LongDouble::from_f64(0.0),
    };
    let next = current.add(delta);
    if !next.is_finite() {
        return Err(Error::msg("increment would produce NaN or Infinity"));
    }
    let text = Bytes::from(next.to_human());
    put(t, now, key, field, &text)?;
    now.notify(HASH, "hincrbyfloat", key);
    Ok(text)
}

/// Most elements a random pick with repeats answers: Redis builds any number (and dies of a
/// count near `LONG_MIN`); this store refuses past a reply it can hold.
pub(crate) const MAX_RANDOM_REPEATS: u64 = 1 << 24;

/// The count of `HRANDFIELD`/`SRANDMEMBER`, as Redis reads it (`-LONG_MAX..=LONG_MAX`).
pub(crate) fn random_count(arg: &[u8]) -> Result<i64, Error> {
    let n = int(arg)?;
    if n == i64::MIN {
        return Err(Error::msg(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(n)
}

/// How a random count reads: how many picks, and whether they are distinct. Repeats past
/// [`MAX_RANDOM_REPEATS`] are refused.
pub(crate) fn random_picks(count: i64) -> Result<(usize, bool), Error> {
    if count >= 0 {
        return Ok((usize::try_from(count).unwrap_or(usize::MAX), true));
    }
    if count.unsigned_abs() > MAX_RANDOM_REPEATS {
        return Err(Error::msg("value is out of range"));
    }
    Ok((count.unsigned_abs() as usize, false))
}

/// `HRANDFIELD key count`: distinct fields for a positive count (the whole hash if it covers
/// it), `-count` fields with repeats for a negative one.
///
/// # Errors
/// `WRONGTYPE`; `ERR value is out of range` for more than [`MAX_RANDOM_REPEATS`] repeats.
pub(crate) fn hrandfield(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    count: i64,
) -> Result<Vec<(Bytes, Bytes)>, Error> {
    let Some(h) = hash(t, now, key)? else { return Ok(Vec::new()) };
    let (n, distinct) = random_picks(count)?;
    Ok(h.random_pairs(n, distinct).into_iter().map(|(f, v)| (f.to_bytes(), v.to_bytes())).collect())
}

// ----- scans, shared with SSCAN -----

/// Parses a scan cursor as Redis's `strtoul`: decimal, an optional sign (`-1` wraps to
/// 2^64 - 1), no leading space, nothing after; the empty string is 0.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, Error> {
    let invalid = || Error::msg("invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// The options of `HSCAN`/`SSCAN` after the cursor: `MATCH pattern`, `COUNT count`.
pub(crate) struct ElementScan {
    pub(crate) count: usize,
    pattern: Option<Glob>,
}

impl ElementScan {
    /// Parses the options as Redis's `scanGenericCommand`.
    pub(crate) fn parse(opts: &[&[u8]]) -> Result<ElementScan, Error> {
        let mut scan = ElementScan { count: 10, pattern: None };
        let mut i = 0;
        while i < opts.len() {
            if is(opts[i], "count") && i + 1 < opts.len() {
                let n = int(opts[i + 1])?;
                if n < 1 {
                    return Err(Error::syntax());
                }
                scan.count = usize::try_from(n).unwrap_or(usize::MAX);
            } else if is(opts[i], "match") && i + 1 < opts.len() {
                let g = Glob::new(opts[i + 1]);
                scan.pattern = (!g.matches_all()).then_some(g);
            } else {
                return Err(Error::syntax());
            }
            i += 2;
        }
        Ok(scan)
    }

    /// True if the bytes `m` pass `MATCH`.
    pub(crate) fn matches(&self, m: &[u8]) -> bool {
        self.pattern.as_ref().map_or(true, |g| g.matches(m))
    }

    /// True if `e` passes `MATCH`.
    pub(crate) fn accepts(&self, e: Elem<'_>) -> bool {
        self.pattern.as_ref().map_or(true, |g| g.matches(e.bytes(&mut [0; 20])))
    }
}

/// The reply of a scan step: the next cursor and the elements.
pub(crate) fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(items)])
}

/// `HSCAN`: one step from `cursor`, fields then values, matched on fields.
pub(crate) fn hscan(h: &HashValue, cursor: u64, scan: &ElementScan) -> Reply {
    let mut out = Vec::new();
    let next = h.scan(cursor, scan.count, |f, v| {
        if scan.accepts(f) {
            out.push(Reply::Bulk(f.to_bytes()));
            out.push(Reply::Bulk(v.to_bytes()));
        }
    });
    scan_reply(next, out)
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("hset", -4, ONE_KEY, hset_cmd),
    Spec::write("hmset", -4, ONE_KEY, hmset_cmd),
    Spec::write("hsetnx", 4, ONE_KEY, hsetnx_cmd),
    Spec::read("hget", 3, ONE_KEY, hget_cmd),
    Spec::read("hmget", -3, ONE_KEY, hmget_cmd),
    Spec::read("hgetall", 2, ONE_KEY, hgetall_cmd),
    Spec::read("hkeys", 2, ONE_KEY, hkeys_cmd),
    Spec::read("hvals", 2, ONE_KEY, hvals_cmd),
    Spec::shrink("hdel", -3, ONE_KEY, hdel_cmd),
    Spec::read("hexists", 3, ONE_KEY, hexists_cmd),
    Spec::read("hlen", 2, ONE_KEY, hlen_cmd),
    Spec::read("hstrlen", 3, ONE_KEY, hstrlen_cmd),
    Spec::write("hincrby", 4, ONE_KEY, hincrby_cmd),
    Spec::write("hincrbyfloat", 4, ONE_KEY, hincrbyfloat_cmd),
    Spec::read("hrandfield", -2, ONE_KEY, hrandfield_cmd),
    Spec::read("hscan", -3, ONE_KEY, hscan_cmd),
];

// ----- handlers -----

/// A field and its value, borrowed from the command words.
type Pair<'a> = (&'a [u8], &'a [u8]);

/// The field/value pairs of `HSET`/`HMSET` from index 2; an odd count is an arity error.
fn pairs<'a>(a: &[&'a [u8]], command: &str) -> Result<Vec<Pair<'a>>, Error> {
    if a.len() % 2 == 1 {
        return Err(Error::arity(command));
    }
    Ok(a[2..].chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

fn bulks(items: Vec<Bytes>) -> Reply {
    Reply::Array(items.into_iter().map(Reply::Bulk).collect())
}

fn flat_pairs(pairs: Vec<(Bytes, Bytes)>) -> Reply {
    Reply::Array(pairs.into_iter().flat_map(|(f, v)| [Reply::Bulk(f), Reply::Bulk(v)]).collect())
}

pub(crate) fn hset_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let pairs = pairs(a, "hset")?;
    Ok(Reply::Int(hset(t, now, a[1], &pairs)? as i64))
}

pub(crate) fn hmset_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let pairs = pairs(a, "hmset")?;
    hset(t, now, a[1], &pairs)?;
    Ok(Reply::ok())
}

pub(crate) fn hsetnx_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(hsetnx(t, now, a[1], a[2], a[3])?.into()))
}

pub(crate) fn hget_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(hget(t, now, a[1], a[2])?.into())
}

pub(crate) fn hmget_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Array(hmget(t, now, a[1], &a[2..])?.into_iter().map(Reply::from).collect()))
}

/// `HGETALL` answers RESP2's flat array (field, value, ...), as `redis-cli` shows it.
pub(crate) fn hgetall_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(flat_pairs(hgetall(t, now, a[1])?))
}

pub(crate) fn hkeys_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(bulks(hkeys(t, now, a[1])?))
}

pub(crate) fn hvals_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(bulks(hvals(t, now, a[1])?))
}

pub(crate) fn hdel_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(hdel(t, now, a[1], &a[2..])? as i64))
}

pub(crate) fn hexists_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(hexists(t, now, a[1], a[2])?.into()))
}

pub(crate) fn hlen_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(hlen(t, now, a[1])? as i64))
}

pub(crate) fn hstrlen_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(hstrlen(t, now, a[1], a[2])? as i64))
}

pub(crate) fn hincrby_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let delta = int(a[3])?;
    Ok(Reply::Int(hincrby(t, now, a[1], a[2], delta)?))
}

pub(crate) fn hincrbyfloat_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let delta = LongDouble::parse(a[3]).ok_or_else(Error::not_float)?;
    Ok(Reply::Bulk(hincrbyfloat(t, now, a[1], a[2], delta)?))
}

/// `HRANDFIELD key [count [WITHVALUES]]`, checked in Redis's order: the count, the syntax, the
/// `WITHVALUES` range, then the key.
pub(crate) fn hrandfield_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    if a.len() == 2 {
        let Some(h) = hash(t, now, a[1])? else { return Ok(Reply::Nil) };
        return Ok(h
            .random_pairs(1, true)
            .first()
            .map_or(Reply::Nil, |(f, _)| Reply::Bulk(f.to_bytes())));
    }
    let count = random_count(a[2])?;
    let with_values = match a.len() {
        3 => false,
        4 if is(a[3], "withvalues") => true,
        _ => return Err(Error::syntax()),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(Error::msg("value is out of range"));
    }
    let pairs = hrandfield(t, now, a[1], count)?;
    Ok(if with_values {
        flat_pairs(pairs)
    } else {
        Reply::Array(pairs.into_iter().map(|(f, _)| Reply::Bulk(f)).collect())
    })
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`, checked in Redis's order: the cursor,
/// the key (a missing key answers an empty scan whatever the options), then the options.
pub(crate) fn hscan_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let cursor = parse_cursor(a[2])?;
    let Some(h) = hash(t, now, a[1])? else { return Ok(scan_reply(0, Vec::new())) };
    let scan = ElementScan::parse(&a[3..])?;
    Ok(hscan(h, cursor, &scan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::command::WriteFn;
    use crate::keyspace::{Str, Table};

    fn run(t: &mut Table, clock: &Clock, f: WriteFn, words: &str) -> Result<Reply, String> {
        let a: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        f(&mut Db::One(t), &Now::new(clock), &a).map_err(|e| e.to_string())
    }

    fn read(t: &Table, clock: &Clock, f: crate::command::ReadFn, words: &str) -> Result<Reply, String> {
        let a: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        f(&View::One(t), &Now::new(clock), &a).map_err(|e| e.to_string())
    }

    fn strs(r: Reply) -> Vec<String> {
        r.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_bytes().map_or("(nil)".into(), |b| String::from_utf8_lossy(b).into()))
            .collect()
    }

    #[test]
    fn hset_family() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        assert_eq!(run(&mut t, &clock, hset_cmd, "hset h a 1 b 2 a 3"), Ok(Reply::Int(2)));
        assert_eq!(read(&t, &clock, hget_cmd, "hget h a"), Ok(Reply::bulk("3")));
        assert_eq!(run(&mut t, &clock, hmset_cmd, "hmset h c 4"), Ok(Reply::ok()));
        assert_eq!(run(&mut t, &clock, hsetnx_cmd, "hsetnx h c 5"), Ok(Reply::Int(0)));
        assert_eq!(run(&mut t, &clock, hsetnx_cmd, "hsetnx h d 5"), Ok(Reply::Int(1)));
        assert_eq!(run(&mut t, &clock, hsetnx_cmd, "hsetnx new d 5"), Ok(Reply::Int(1)));
        assert_eq!(
            strs(read(&t, &clock, hgetall_cmd, "hgetall h").unwrap()),
            ["a", "3", "b", "2", "c", "4", "d", "5"]
        );
        assert_eq!(strs(read(&t, &clock, hmget_cmd, "hmget h a zz d").unwrap()), ["3", "(nil)", "5"]);
        assert_eq!(strs(read(&t, &clock, hmget_cmd, "hmget nokey a").unwrap()), ["(nil)"]);
        assert_eq!(strs(read(&t, &clock, hkeys_cmd, "hkeys h").unwrap()), ["a", "b", "c", "d"]);
        assert_eq!(strs(read(&t, &clock, hvals_cmd, "hvals h").unwrap()), ["3", "2", "4", "5"]);
        assert_eq!(read(&t, &clock, hlen_cmd, "hlen h"), Ok(Reply::Int(4)));
        assert_eq!(read(&t, &clock, hstrlen_cmd, "hstrlen h a"), Ok(Reply::Int(1)));
        assert_eq!(read(&t, &clock, hstrlen_cmd, "hstrlen h zz"), Ok(Reply::Int(0)));
        assert_eq!(read(&t, &clock, hexists_cmd, "hexists h a"), Ok(Reply::Int(1)));
        assert_eq!(read(&t, &clock, hexists_cmd, "hexists nokey a"), Ok(Reply::Int(0)));
        assert_eq!(run(&mut t, &clock, hdel_cmd, "hdel h a b zz"), Ok(Reply::Int(2)));
        assert_eq!(run(&mut t, &clock, hdel_cmd, "hdel h c d"), Ok(Reply::Int(2)));
        assert!(!t.contains(b"h", &Now::new(&clock)), "an emptied hash is deleted");
        assert_eq!(run(&mut t, &clock, hdel_cmd, "hdel h c"), Ok(Reply::Int(0)));
        let odd = Err("ERR wrong number of arguments for 'hset' command".to_string());
        assert_eq!(run(&mut t, &clock, hset_cmd, "hset h a 1 b"), odd);
        assert!(!t.contains(b"h", &Now::new(&clock)));
    }

    #[test]
    fn counters() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        assert_eq!(run(&mut t, &clock, hincrby_cmd, "hincrby h n 5"), Ok(Reply::Int(5)));
        assert_eq!(run(&mut t, &clock, hincrby_cmd, "hincrby h n -7"), Ok(Reply::Int(-2)));
        assert_eq!(
            run(&mut t, &clock, hincrby_cmd, "hincrby h n abc"),
            Err("ERR value is not an integer or out of range".into())
        );
        run(&mut t, &clock, hset_cmd, "hset h max 9223372036854775807").unwrap();
        assert_eq!(
            run(&mut t, &clock, hincrby_cmd, "hincrby h max 1"),
            Err("ERR increment or decrement would overflow".into())
        );
        assert_eq!(
            run(&mut t, &clock, hincrby_cmd, "hincrby h n -9223372036854775807"),
            Err("ERR increment or decrement would overflow".into())
        );
        run(&mut t, &clock, hset_cmd, "hset h s foo f 1.5").unwrap();
        assert_eq!(
            run(&mut t, &clock, hincrby_cmd, "hincrby h s 1"),
            Err("ERR hash value is not an integer".into())
        );
        assert_eq!(
            run(&mut t, &clock, hincrby_cmd, "hincrby h f 1"),
            Err("ERR hash value is not an integer".into())
        );
        assert_eq!(
            run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h f 0.25"),
            Ok(Reply::bulk("1.75"))
        );
        assert_eq!(
            run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h y 5.0e3"),
            Ok(Reply::bulk("5000"))
        );
        assert_eq!(
            run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h n 10e-1"),
            Ok(Reply::bulk("-1"))
        );
        assert_eq!(
            run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h s 1"),
            Err("ERR hash value is not a float".into())
        );
        assert_eq!(
            run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h f nan"),
            Err("ERR value is not a valid float".into())
        );
        assert_eq!(
            run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h f inf"),
            Err("ERR value is NaN or Infinity".into())
        );
        // Redis adds in long double: twice 1.7e308 is no overflow there, 1e4932 twice is.
        run(&mut t, &clock, hset_cmd, "hset h big 1.7e308").unwrap();
        let sum = run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h big 1.7e308").unwrap();
        assert!(sum.as_bytes().unwrap().starts_with(b"3400000000000000000062735560503951935905404"));
        run(&mut t, &clock, hset_cmd, "hset h big 1e4932").unwrap();
        assert_eq!(
            run(&mut t, &clock, hincrbyfloat_cmd, "hincrbyfloat h big 1e4932"),
            Err("ERR increment would produce NaN or Infinity".into())
        );
        // Argument errors come before the type check, as in Redis.
        t.insert(b"str", Value::Str(Str::from("x")), None);
        assert_eq!(
            run(&mut t, &clock, hincrby_cmd, "hincrby str f abc"),
            Err("ERR value is not an integer or out of range".into())
        );
        assert_eq!(
            run(&mut t, &clock, hincrby_cmd, "hincrby str f 1"),
            Err(Error::WrongType.to_string())
        );
    }

    #[test]
    fn writes_keep_the_ttl() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, hset_cmd, "hset h a 1 b 2").unwrap();
        t.set_expire(b"h", Some(5000));
        run(&mut t, &clock, hset_cmd, "hset h c 3").unwrap();
        run(&mut t, &clock, hincrby_cmd, "hincrby h a 3").unwrap();
        run(&mut t, &clock, hdel_cmd, "hdel h b").unwrap();
        assert_eq!(t.get(b"h", &Now::new(&clock)).and_then(Entry::expire_at), Some(5000));
        clock.set(5001);
        assert_eq!(read(&t, &clock, hlen_cmd, "hlen h"), Ok(Reply::Int(0)));
        assert_eq!(run(&mut t, &clock, hincrby_cmd, "hincrby h a 1"), Ok(Reply::Int(1)));
        assert_eq!(t.get(b"h", &Now::new(&clock)).and_then(Entry::expire_at), None);
    }

    #[test]
    fn hrandfield_counts() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, hset_cmd, "hset h a 1 b 2 c 3").unwrap();
        let one = read(&t, &clock, hrandfield_cmd, "hrandfield h").unwrap();
        assert!(["a", "b", "c"].iter().any(|f| one == Reply::bulk(f)));
        assert_eq!(read(&t, &clock, hrandfield_cmd, "hrandfield nokey"), Ok(Reply::Nil));
        assert_eq!(
            strs(read(&t, &clock, hrandfield_cmd, "hrandfield h 10 WITHVALUES").unwrap()),
            ["a", "1", "b", "2", "c", "3"]
        );
        assert_eq!(strs(read(&t, &clock, hrandfield_cmd, "hrandfield h 2").unwrap()).len(), 2);
        let repeats = strs(read(&t, &clock, hrandfield_cmd, "hrandfield h -7 withvalues").unwrap());
        assert_eq!(repeats.len(), 14);
        for pair in repeats.chunks(2) {
            assert_eq!((pair[0].as_bytes()[0] - b'a' + b'1') as char, pair[1].chars().next().unwrap());
        }
        assert_eq!(read(&t, &clock, hrandfield_cmd, "hrandfield h 0"), Ok(Reply::Array(vec![])));
        assert_eq!(read(&t, &clock, hrandfield_cmd, "hrandfield nokey -5"), Ok(Reply::Array(vec![])));
        for (words, err) in [
            ("hrandfield h abc", "ERR value is not an integer or out of range"),
            ("hrandfield h 1 foo", "ERR syntax error"),
            ("hrandfield h 1 withvalues x", "ERR syntax error"),
            (
                "hrandfield h -9223372036854775808",
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            ("hrandfield h -4611686018427387904 withvalues", "ERR value is out of range"),
            ("hrandfield h 4611686018427387904 withvalues", "ERR value is out of range"),
            ("hrandfield h -100000000", "ERR value is out of range"),
        ] {
            assert_eq!(read(&t, &clock, hrandfield_cmd, words), Err(err.to_string()), "{words}");
        }
        assert_eq!(
            strs(
                read(&t, &clock, hrandfield_cmd, "hrandfield h 4611686018427387903 withvalues").unwrap()
            )
            .len(),
            6
        );
    }

    #[test]
    fn cursors_parse_as_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b"-"[..], b"+", b"abc", b" 1", b"1x", b"18446744073709551616"] {
            assert_eq!(parse_cursor(bad), Err(Error::msg("invalid cursor")));
        }
    }

    #[test]
    fn hscan_small_and_large() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, hset_cmd, "hset h b 1 a 2 c 3").unwrap();
        let r = read(&t, &clock, hscan_cmd, "hscan h 0 COUNT 1 MATCH a*").unwrap();
        assert_eq!(r, scan_reply(0, vec![Reply::bulk("a"), Reply::bulk("2")]));
        assert_eq!(read(&t, &clock, hscan_cmd, "hscan h 0 count 0"), Err("ERR syntax error".into()));
        assert_eq!(read(&t, &clock, hscan_cmd, "hscan h 0 match"), Err("ERR syntax error".into()));
        assert_eq!(
            read(&t, &clock, hscan_cmd, "hscan h 0 count x"),
            Err("ERR value is not an integer or out of range".into())
        );
        assert_eq!(read(&t, &clock, hscan_cmd, "hscan nokey 0 count x"), Ok(scan_reply(0, vec![])));
        assert_eq!(read(&t, &clock, hscan_cmd, "hscan nokey x"), Err("ERR invalid cursor".into()));

        let words: Vec<String> = (0..500).flat_map(|i| [format!("f{i}"), format!("v{i}")]).collect();
        let mut a: Vec<&[u8]> = vec![b"hset", b"big"];
        a.extend(words.iter().map(|w| w.as_bytes()));
        hset_cmd(&mut Db::One(&mut t), &Now::new(&clock), &a).unwrap();
        let mut seen = std::collections::HashMap::new();
        let mut cursor = "0".to_string();
        let mut steps = 0;
        loop {
            let r = read(&t, &clock, hscan_cmd, &format!("hscan big {cursor} COUNT 20")).unwrap();
            let parts = r.as_array().unwrap();
            cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
            let items = strs(parts[1].clone());
            for p in items.chunks(2) {
                seen.insert(p[0].clone(), p[1].clone());
            }
            steps += 1;
            if cursor == "0" {
                break;
            }
        }
        assert!(steps > 5, "a large hash is scanned in steps");
        assert_eq!(seen.len(), 500);
        assert!(seen.iter().all(|(f, v)| f[1..] == v[1..]));
    }
}
