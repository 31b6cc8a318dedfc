//! String commands: GET, SET and its options, counters, ranges, MGET/MSET.

use super::args::{int, is, parse_i64};
use super::long_double::LongDouble;
use super::{Spec, ALL_KEYS, KEY_VALUE_PAIRS, ONE_KEY, TWO_KEYS};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::keyspace::events as ev;
use crate::keyspace::{Db, Entry, Lookup, Now, Str, Value, View};
use crate::reply::Reply;

/// Redis's `proto-max-bulk-len`: the largest string a command may build.
const MAX_STRING: u64 = 512 * 1024 * 1024;

/// The string in `entry`, or `WRONGTYPE`.
pub(crate) fn as_string(entry: &Entry) -> Result<&Str, Error> {
    match &entry.value {
        Value::Str(b) => Ok(b),
        _ => Err(Error::WrongType),
    }
}

/// The string in `entry`, or None for another type (what `MGET` answers for it).
pub(crate) fn string_or_none(entry: &Entry) -> Option<Bytes> {
    match &entry.value {
        Value::Str(s) => Some(s.to_bytes()),
        _ => None,
    }
}

/// The string stored at `key`, if any.
#[inline(always)]
pub(crate) fn get(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Option<Bytes>, Error> {
    string(t.entry(key, now))
}

/// [`get`]'s answer for the live entry a lookup found, if any.
#[inline(always)]
pub(crate) fn string(entry: Option<&Entry>) -> Result<Option<Bytes>, Error> {
    entry.map(|e| as_string(e).map(Str::to_bytes)).transpose()
}

/// `f` of the string stored at `key`, if any, read in place. `f` sits in a cell because a read
/// that meets a redirect runs again on another node: the first run that finds the key takes it.
pub(crate) fn get_with<R>(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    f: &std::cell::Cell<Option<impl FnOnce(&[u8]) -> R>>,
) -> Result<Option<R>, Error> {
    string_with(t.entry(key, now), f)
}

/// [`get_with`]'s answer for the live entry a lookup found, if any.
#[inline]
pub(crate) fn string_with<R>(
    entry: Option<&Entry>,
    f: &std::cell::Cell<Option<impl FnOnce(&[u8]) -> R>>,
) -> Result<Option<R>, Error> {
    let Some(e) = entry else { return Ok(None) };
    let s = as_string(e)?;
    Ok(f.take().map(|f| f(s)))
}

/// What `SET` does with the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Expiry {
    /// Remove any TTL (plain `SET`).
    #[default]
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// `EX`/`PX`: this many milliseconds from now (> 0).
    In(u64),
    /// `EXAT`/`PXAT`: this Unix time in milliseconds (> 0).
    At(u64),
}

impl Expiry {
    /// The absolute deadline, or `ERR invalid expire time` if it overflows.
    fn deadline(self, now: &Now<'_>, command: &str) -> Result<Option<u64>, Error> {
        match self {
            Expiry::Clear | Expiry::Keep => Ok(None),
            Expiry::In(ms) => now
                .ms()
                .checked_add(ms)
                .filter(|&at| at <= i64::MAX as u64)
                .map(Some)
                .ok_or_else(|| Error::invalid_expire(command)),
            Expiry::At(at) => Ok(Some(at)),
        }
    }
}

/// The options of `SET`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SetOptions {
    /// `NX`: only if the key does not exist.
    pub(crate) nx: bool,
    /// `XX`: only if the key exists.
    pub(crate) xx: bool,
    /// `GET`: answer the old value.
    pub(crate) get: bool,
    pub(crate) expiry: Expiry,
}

/// `SET`: returns whether the value was stored and, with `GET`, the old value.
pub(crate) fn set(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    value: Str,
    o: &SetOptions,
    command: &str,
) -> Result<(bool, Option<Bytes>), Error> {
    let deadline = o.expiry.deadline(now, command)?;
    let old = if o.get { get(t, now, key)? } else { None };
    if o.nx || o.xx || o.expiry == Expiry::Keep {
        // An existence check, not a write: `contains` leaves WATCH versions alone.
        let exists = t.contains(key, now);
        if (o.nx && exists) || (o.xx && !exists) {
            return Ok((false, old));
        }
        if exists && o.expiry == Expiry::Keep {
            t.replace_value(key, Value::Str(value));
            now.notify(ev::STRING, "set", key);
            return Ok((true, old));
        }
    }
    // As Redis, a key lives through its deadline's millisecond and is gone after it.
    match deadline {
        Some(at) if at < now.ms() => {
            t.remove(key);
            now.notify(ev::STRING, "set", key);
            now.notify(ev::GENERIC, "del", key);
        }
        _ => {
            t.insert(key, Value::Str(value), deadline);
            now.notify(ev::STRING, "set", key);
            if deadline.is_some() {
                now.notify(ev::GENERIC, "expire", key);
            }
        }
    }
    Ok((true, old))
}

/// `INCRBY`: adds `delta` to the integer at `key` (0 if missing), keeping its TTL.
pub(crate) fn incr_by(t: &mut Db<'_>, now: &Now<'_>, key: &[u8], delta: i64) -> Result<i64, Error> {
    let current = match t.get_mut(key, now) {
        Some(e) => parse_i64(as_string(e)?).ok_or_else(Error::not_integer)?,
        None => 0,
    };
    let next = current.checked_add(delta).ok_or_else(Error::overflow)?;
    t.replace_value(key, Value::Str(Str::from(next.to_string())));
    now.notify(ev::STRING, "incrby", key);
    Ok(next)
}

/// `INCRBYFLOAT`: adds `delta` to the number at `key`, keeping its TTL. Both are read and
/// added as Redis does, in x87 `long double` (see [`LongDouble`]), and the result is stored
/// and answered as Redis prints it.
pub(crate) fn incr_by_float(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    delta: &[u8],
) -> Result<Bytes, Error> {
    let current = match t.get_mut(key, now) {
        Some(e) => LongDouble::parse(as_string(e)?).ok_or_else(Error::not_float)?,
        None => LongDouble::from_f64(0.0),
    };
    let next = current.add(LongDouble::parse(delta).ok_or_else(Error::not_float)?);
    if !next.is_finite() {
        return Err(Error::msg("increment would produce NaN or Infinity"));
    }
    let text = Bytes::from(next.to_human());
    t.replace_value(key, Value::Str(Str::new(&text)));
    now.notify(ev::STRING, "incrbyfloat", key);
    Ok(text)
}

/// `APPEND`: returns the new length.
pub(crate) fn append(t: &mut Db<'_>, now: &Now<'_>, key: &[u8], tail: &[u8]) -> Result<usize, Error> {
    let joined = match t.get_mut(key, now) {
        Some(e) => {
            let s = as_string(e)?;
            check_length(s.len() as u64, tail.len() as u64)?;
            [&s[..], tail].concat()
        }
        None => tail.to_vec(),
    };
    let len = joined.len();
    t.replace_value(key, Value::Str(Str::from(joined)));
    now.notify(ev::STRING, "append", key);
    Ok(len)
}

fn check_length(offset: u64, len: u64) -> Result<(), Error> {
    if offset + len > MAX_STRING {
        return Err(Error::string_too_long());
    }
    Ok(())
}

/// `GETRANGE` with Redis's clamping of negative and out-of-range indexes.
pub(crate) fn get_range(s: &[u8], start: i64, end: i64) -> &[u8] {
    let len = s.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return &[];
    }
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { (len + end).max(0) } else { end.min(len - 1) };
    if start > end {
        return &[];
    }
    &s[start as usize..=end as usize]
}

/// `MSET`: stores every pair, clearing their TTLs.
pub(crate) fn mset(t: &mut Db<'_>, now: &Now<'_>, pairs: &[(&[u8], &[u8])]) {
    for chunk in pairs.chunks(crate::keyspace::PREFETCH_RUN) {
        t.prefetch(chunk.iter().map(|(k, _)| *k));
        for (k, v) in chunk {
            t.insert(k, Value::Str(Str::new(v)), None);
            now.notify(ev::STRING, "set", k);
        }
    }
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::read("get", 2, ONE_KEY, get_cmd),
    Spec::write("set", -3, ONE_KEY, set_cmd),
    Spec::write("setnx", 3, ONE_KEY, setnx_cmd),
    Spec::write("setex", 4, ONE_KEY, setex_cmd),
    Spec::write("psetex", 4, ONE_KEY, psetex_cmd),
    Spec::shrink("getdel", 2, ONE_KEY, getdel_cmd),
    Spec::write("getex", -2, ONE_KEY, getex_cmd),
    Spec::write("getset", 3, ONE_KEY, getset_cmd),
    Spec::write("append", 3, ONE_KEY, append_cmd),
    Spec::read("strlen", 2, ONE_KEY, strlen_cmd),
    Spec::read("getrange", 4, ONE_KEY, getrange_cmd),
    Spec::read("substr", 4, ONE_KEY, getrange_cmd),
    Spec::write("setrange", 4, ONE_KEY, setrange_cmd),
    Spec::read("lcs", -3, TWO_KEYS, lcs_cmd),
    Spec::write("incr", 2, ONE_KEY, incr_cmd),
    Spec::write("decr", 2, ONE_KEY, decr_cmd),
    Spec::write("incrby", 3, ONE_KEY, incrby_cmd),
    Spec::write("decrby", 3, ONE_KEY, decrby_cmd),
    Spec::write("incrbyfloat", 3, ONE_KEY, incrbyfloat_cmd),
    Spec::read("mget", -2, ALL_KEYS, mget_cmd),
    Spec::write("mset", -3, KEY_VALUE_PAIRS, mset_cmd),
    Spec::write("msetnx", -3, KEY_VALUE_PAIRS, msetnx_cmd),
];

// ----- handlers -----

pub(crate) fn get_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(get(t, now, a[1])?.into())
}

/// An expire option of `SET` or `GETEX` as given: its value is checked only when the command
/// needs it (`GETEX` on a missing key answers nil whatever the value).
#[derive(Clone, Copy)]
struct ExpireArg<'a> {
    value: &'a [u8],
    /// `EX`/`EXAT`: the value is in seconds.
    secs: bool,
    /// `EXAT`/`PXAT`: the value is a Unix time.
    absolute: bool,
}

impl ExpireArg<'_> {
    /// The value as an [`Expiry`], as Redis's `getExpireMillisecondsOrReply`: an integer,
    /// positive, not overflowing once in milliseconds.
    fn expiry(self, command: &str) -> Result<Expiry, Error> {
        let n = int(self.value)?;
        if n <= 0 || (self.secs && n > i64::MAX / 1000) {
            return Err(Error::invalid_expire(command));
        }
        let ms = if self.secs { n as u64 * 1000 } else { n as u64 };
        Ok(if self.absolute { Expiry::At(ms) } else { Expiry::In(ms) })
    }
}

/// The options of `SET` (from index 3) or `GETEX` (from index 2), parsed as Redis's
/// `parseExtendedStringArgumentsOrReply`: syntax only. `NX`/`XX`/`GET`/`KEEPTTL` belong to
/// `SET`, `PERSIST` to `GETEX`; repeating an option is allowed (the last expire value wins),
/// combining conflicting ones is a syntax error. Returns the options (with `Expiry::Keep` for
/// `KEEPTTL`), `PERSIST`, and the expire option to check later.
fn parse_expiry_options<'a>(
    a: &[&'a [u8]],
    set: bool,
) -> Result<(SetOptions, bool, Option<ExpireArg<'a>>), Error> {
    let mut o = SetOptions::default();
    let (mut keep, mut persist) = (false, false);
    let mut expire: Option<ExpireArg<'a>> = None;
    let mut i = if set { 3 } else { 2 };
    while i < a.len() {
        let opt = a[i];
        let next = a.get(i + 1).copied();
        if set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if set && is(opt, "get") {
            o.get = true;
        } else if set && is(opt, "keepttl") && expire.is_none() {
            keep = true;
        } else if !set && is(opt, "persist") && expire.is_none() {
            persist = true;
        } else if let Some((secs, absolute)) = expiry_unit(opt) {
            // Only the same unit may be given again.
            let other_unit = expire.is_some_and(|e| (e.secs, e.absolute) != (secs, absolute));
            let Some(value) = next.filter(|_| !keep && !persist && !other_unit) else {
                return Err(Error::syntax());
            };
            expire = Some(ExpireArg { value, secs, absolute });
            i += 1;
        } else {
            return Err(Error::syntax());
        }
        i += 1;
    }
    if keep {
        o.expiry = Expiry::Keep;
    }
    Ok((o, persist, expire))
}

/// `EX`, `PX`, `EXAT`, `PXAT` -> (in seconds, absolute).
fn expiry_unit(opt: &[u8]) -> Option<(bool, bool)> {
    [("ex", true, false), ("px", false, false), ("exat", true, true), ("pxat", false, true)]
        .into_iter()
        .find(|(name, ..)| is(opt, name))
        .map(|(_, secs, abs)| (secs, abs))
}

pub(crate) fn set_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (mut o, _, expire) = parse_expiry_options(a, true)?;
    if let Some(e) = expire {
        o.expiry = e.expiry("set")?;
    }
    let (stored, old) = set(t, now, a[1], Str::new(a[2]), &o, "set")?;
    Ok(if o.get {
        old.into()
    } else if stored {
        Reply::ok()
    } else {
        Reply::Nil
    })
}

pub(crate) fn setnx_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let o = SetOptions { nx: true, ..SetOptions::default() };
    let (stored, _) = set(t, now, a[1], Str::new(a[2]), &o, "setnx")?;
    Ok(Reply::Int(stored.into()))
}

fn setex_generic(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]], secs: bool) -> Result<Reply, Error> {
    let command = if secs { "setex" } else { "psetex" };
    let n = int(a[2])?;
    if n <= 0 || (secs && n > i64::MAX / 1000) {
        return Err(Error::invalid_expire(command));
    }
    let ms = if secs { n as u64 * 1000 } else { n as u64 };
    let o = SetOptions { expiry: Expiry::In(ms), ..SetOptions::default() };
    set(t, now, a[1], Str::new(a[3]), &o, command)?;
    Ok(Reply::ok())
}

pub(crate) fn setex_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    setex_generic(t, now, a, true)
}

pub(crate) fn psetex_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    setex_generic(t, now, a, false)
}

pub(crate) fn getdel_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let old = get(t, now, a[1])?;
    if old.is_some() {
        t.remove(a[1]);
        now.notify(ev::GENERIC, "del", a[1]);
    }
    Ok(old.into())
}

pub(crate) fn getex_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (_, persist, expire) = parse_expiry_options(a, false)?;
    // As Redis: a missing key answers nil before the expire value is looked at.
    let Some(value) = get(t, now, a[1])? else { return Ok(Reply::Nil) };
    let expiry = match expire {
        Some(e) => e.expiry("getex")?,
        None => Expiry::Keep,
    };
    match expiry.deadline(now, "getex")? {
        Some(at) if at <= now.ms() => {
            t.remove(a[1]);
            now.notify(ev::GENERIC, "del", a[1]);
        }
        Some(at) => {
            t.set_expire(a[1], Some(at));
            now.notify(ev::GENERIC, "expire", a[1]);
        }
        None if persist => {
            if t.get(a[1], now).and_then(Entry::expire_at).is_some() {
                now.notify(ev::GENERIC, "persist", a[1]);
            }
            t.set_expire(a[1], None);
        }
        None => {}
    }
    Ok(Reply::Bulk(value))
}

pub(crate) fn getset_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let old = get(t, now, a[1])?;
    t.insert(a[1], Value::Str(Str::new(a[2])), None);
    now.notify(ev::STRING, "set", a[1]);
    Ok(old.into())
}

pub(crate) fn append_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(append(t, now, a[1], a[2])? as i64))
}

pub(crate) fn strlen_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(get(t, now, a[1])?.map_or(0, |s| s.len()) as i64))
}

pub(crate) fn getrange_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (start, end) = (int(a[2])?, int(a[3])?);
    let s = get(t, now, a[1])?.unwrap_or_else(|| Bytes::from(""));
    Ok(Reply::bulk(get_range(&s, start, end)))
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
/// subsequence of two strings (a missing key is the empty string), its length, or the
/// matching ranges, as Redis 7.0 answers.
pub(crate) fn lcs_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    // Both keys are looked up before either's type is judged, as Redis does.
    let (x, y) = match (get(t, now, a[1]), get(t, now, a[2])) {
        (Ok(x), Ok(y)) => (x.unwrap_or_else(|| Bytes::from("")), y.unwrap_or_else(|| Bytes::from(""))),
        _ => return Err(Error::msg("The specified keys must contain string values")),
    };
    let (mut len, mut idx, mut with_len, mut min_len) = (false, false, false, 0);
    let mut i = 3;
    while i < a.len() {
        match a[i] {
            o if is(o, "idx") => idx = true,
            o if is(o, "len") => len = true,
            o if is(o, "withmatchlen") => with_len = true,
            o if is(o, "minmatchlen") && i + 1 < a.len() => {
                min_len = int(a[i + 1])?.max(0) as u64;
                i += 1;
            }
            _ => return Err(Error::syntax()),
        }
        i += 1;
    }
    if len && idx {
        return Err(Error::msg("If you want both the length and indexes, please just use IDX."));
    }
    let table = LcsTable::new(&x, &y)?;
    if len {
        return Ok(Reply::Int(i64::from(table.len())));
    }
    let (common, ranges) = table.walk();
    if !idx {
        return Ok(Reply::bulk(common));
    }
    let pair = |s: usize, e: usize| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
    let matches = ranges
        .into_iter()
        .filter(|r| min_len == 0 || r.len() >= min_len)
        .map(|r| {
            let mut m = vec![pair(r.x, r.x + r.n - 1), pair(r.y, r.y + r.n - 1)];
            if with_len {
                m.push(Reply::Int(r.n as i64));
            }
            Reply::Array(m)
        })
        .collect();
    Ok(Reply::Array(vec![
        Reply::bulk("matches"),
        Reply::Array(matches),
        Reply::bulk("len"),
        Reply::Int(i64::from(table.len())),
    ]))
}

/// One run of `LCS ... IDX`: `n` bytes matching from `x` in the first string and `y` in the
/// second.
struct LcsRange {
    x: usize,
    y: usize,
    n: usize,
}

impl LcsRange {
    fn len(&self) -> u64 {
        self.n as u64
    }
}

/// The dynamic-programming table of `LCS`: at `(i, j)`, the length of the longest common
/// subsequence of the first `i` bytes of `x` and the first `j` of `y`.
struct LcsTable<'a> {
    x: &'a [u8],
    y: &'a [u8],
    cells: Vec<u32>,
}

impl<'a> LcsTable<'a> {
    /// Fills the table. Redis's limit stands: a table larger than `proto-max-bulk-len` is
    /// refused before anything is allocated, and an allocation that fails is an error, not
    /// an abort.
    ///
    /// # Errors
    /// Redis's "Insufficient memory" errors.
    fn new(x: &'a [u8], y: &'a [u8]) -> Result<LcsTable<'a>, Error> {
        let width = y.len() + 1;
        let size = (x.len() as u64 + 1) * width as u64;
        if size * 4 > MAX_STRING {
            return Err(Error::msg(
                "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ));
        }
        let mut cells = Vec::new();
        cells.try_reserve_exact(size as usize).map_err(|_| {
            Error::msg("Insufficient memory, failed allocating transient memory for LCS")
        })?;
        cells.resize(width, 0);
        for &xb in x {
            let row = cells.len() - width;
            cells.push(0);
            for (j, &yb) in y.iter().enumerate() {
                let v = if xb == yb {
                    cells[row + j] + 1
                } else {
                    cells[row + j + 1].max(cells[cells.len() - 1])
                };
                cells.push(v);
            }
        }
        Ok(LcsTable { x, y, cells })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * (self.y.len() + 1) + j]
    }

    /// The length of the longest common subsequence.
    fn len(&self) -> u32 {
        self.at(self.x.len(), self.y.len())
    }

    /// The subsequence, and its runs of consecutive matches from the strings' ends back, as
    /// Redis walks the table: on a mismatch it steps back in the first string only when that
    /// keeps a longer subsequence, else in the second.
    fn walk(&self) -> (Vec<u8>, Vec<LcsRange>) {
        let mut common = vec![0; self.len() as usize];
        let mut left = common.len();
        let mut ranges = Vec::new();
        let mut run: Option<LcsRange> = None;
        let (mut i, mut j) = (self.x.len(), self.y.len());
        while i > 0 && j > 0 {
            if self.x[i - 1] == self.y[j - 1] {
                left -= 1;
                common[left] = self.x[i - 1];
                i -= 1;
                j -= 1;
                // Matches on the diagonal extend the run backwards.
                let r = run.get_or_insert(LcsRange { x: i, y: j, n: 0 });
                (r.x, r.y, r.n) = (i, j, r.n + 1);
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                ranges.extend(run.take());
            }
        }
        ranges.extend(run.take());
        (common, ranges)
    }
}

pub(crate) fn setrange_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let offset = int(a[2])?;
    if offset < 0 {
        return Err(Error::msg("offset is out of range"));
    }
    let (offset, patch) = (offset as u64, a[3]);
    let old = match t.get_mut(a[1], now) {
        Some(e) => Some(as_string(e)?.clone()),
        None => None,
    };
    if patch.is_empty() {
        return Ok(Reply::Int(old.map_or(0, |s| s.len() as i64)));
    }
    check_length(offset, patch.len() as u64)?;
    let offset = offset as usize;
    let mut s = old.map(|s| s.to_vec()).unwrap_or_default();
    if s.len() < offset + patch.len() {
        s.resize(offset + patch.len(), 0);
    }
    s[offset..offset + patch.len()].copy_from_slice(patch);
    let len = s.len();
    t.replace_value(a[1], Value::Str(Str::from(s)));
    now.notify(ev::STRING, "setrange", a[1]);
    Ok(Reply::Int(len as i64))
}

pub(crate) fn incr_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(incr_by(t, now, a[1], 1)?))
}

pub(crate) fn decr_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(incr_by(t, now, a[1], -1)?))
}

pub(crate) fn incrby_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let delta = int(a[2])?;
    Ok(Reply::Int(incr_by(t, now, a[1], delta)?))
}

pub(crate) fn decrby_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let delta = int(a[2])?;
    if delta == i64::MIN {
        return Err(Error::msg("decrement would overflow"));
    }
    Ok(Reply::Int(incr_by(t, now, a[1], -delta)?))
}

pub(crate) fn incrbyfloat_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Bulk(incr_by_float(t, now, a[1], a[2])?))
}

pub(crate) fn mget_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Array(t.get_each(&a[1..], now, |e| e.and_then(string_or_none).into())))
}

/// A key and its value, borrowed from the command words.
type Pair<'a> = (&'a [u8], &'a [u8]);

fn pairs<'a>(a: &[&'a [u8]], command: &str) -> Result<Vec<Pair<'a>>, Error> {
    if a.len() % 2 == 0 {
        return Err(Error::arity(command));
    }
    Ok(a[1..].chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

pub(crate) fn mset_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    mset(t, now, &pairs(a, "mset")?);
    Ok(Reply::ok())
}

pub(crate) fn msetnx_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let pairs = pairs(a, "msetnx")?;
    if pairs.iter().any(|(k, _)| t.contains(k, now)) {
        return Ok(Reply::Int(0));
    }
    mset(t, now, &pairs);
    Ok(Reply::Int(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::keyspace::Table;

    fn run(
        t: &mut Table,
        clock: &Clock,
        f: crate::command::WriteFn,
        words: &str,
    ) -> Result<Reply, String> {
        let a: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        f(&mut Db::One(t), &Now::new(clock), &a).map_err(|e| e.to_string())
    }

    #[test]
    fn expire_options_parse_as_redis() {
        let clock = Clock::manual(1_000_000);
        let mut t = Table::new();
        // The same expire option again: the last value wins.
        assert_eq!(run(&mut t, &clock, set_cmd, "set k v EX 10 ex 20"), Ok(Reply::ok()));
        assert_eq!(t.get(b"k", &Now::new(&clock)).and_then(Entry::expire_at), Some(1_020_000));
        assert_eq!(run(&mut t, &clock, set_cmd, "set k v NX NX GET"), Ok(Reply::bulk("v")));
        // Another unit, or KEEPTTL, with it: a syntax error.
        for bad in ["set k v EX 10 PX 20", "set k v KEEPTTL EX 1", "set k v EX 1 KEEPTTL", "set k v EX"]
        {
            assert_eq!(run(&mut t, &clock, set_cmd, bad), Err("ERR syntax error".into()), "{bad}");
        }
        // Syntax first, then the value.
        assert_eq!(run(&mut t, &clock, set_cmd, "set k v EX abc FOO"), Err("ERR syntax error".into()));
        assert_eq!(
            run(&mut t, &clock, set_cmd, "set k v EX 0"),
            Err("ERR invalid expire time in 'set' command".into())
        );
        // GETEX: a missing key answers nil whatever the value; an existing one checks it.
        assert_eq!(run(&mut t, &clock, getex_cmd, "getex nokey EX abc"), Ok(Reply::Nil));
        assert_eq!(run(&mut t, &clock, getex_cmd, "getex nokey PX -1"), Ok(Reply::Nil));
        assert_eq!(
            run(&mut t, &clock, getex_cmd, "getex nokey PX 1 PERSIST"),
            Err("ERR syntax error".into())
        );
        assert_eq!(
            run(&mut t, &clock, getex_cmd, "getex k EX -1"),
            Err("ERR invalid expire time in 'getex' command".into())
        );
        assert_eq!(run(&mut t, &clock, getex_cmd, "getex k PX 5 PX 7"), Ok(Reply::bulk("v")));
        assert_eq!(t.get(b"k", &Now::new(&clock)).and_then(Entry::expire_at), Some(1_000_007));
    }

    #[test]
    fn getrange_clamps_like_redis() {
        let s = b"This is a string";
        assert_eq!(get_range(s, 0, 3), b"This");
        assert_eq!(get_range(s, -3, -1), b"ing");
        assert_eq!(get_range(s, 0, -1), s);
        assert_eq!(get_range(s, 10, 100), b"string");
        assert_eq!(get_range(s, 5, 3), b"");
        assert_eq!(get_range(s, -1, -5), b"");
        assert_eq!(get_range(s, -100, 3), b"This");
        assert_eq!(get_range(b"", 0, -1), b"");
    }
}
