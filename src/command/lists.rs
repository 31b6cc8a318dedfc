//! List commands: pushes and pops at both ends, indexes and ranges, `LPOS`, `LMOVE`/`LMPOP`,
//! and the blocking `BLPOP` family.
//!
//! Each command checks its arguments in the order Redis 7.0 does, so that of two bad
//! arguments the same error wins. A write looks at its key before asking for it mutably, and
//! asks only when it will change it: asking marks the key modified for `WATCH`, and Redis
//! marks a key only when a command changed it (not on `WRONGTYPE`, `LREM` without a match,
//! `LPOP key 0`, ...). A command that empties a list deletes the key; a list changed in place
//! keeps its TTL.

use super::args::{at_least_one, int, is, parse_i64};
use super::{KeySpec, Spec, TimeoutArg, ALL_BUT_LAST, ONE_KEY, TWO_KEYS};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::keyspace::events::{GENERIC, LIST};
use crate::keyspace::list::{ListEnd, ListValue};
use crate::keyspace::{Db, Entry, Lookup, Now, Table, Value, View};
use crate::reply::Reply;
use crate::slot::key_slot;

/// The list in `entry`, or `WRONGTYPE`.
pub(crate) fn as_list(entry: &Entry) -> Result<&ListValue, Error> {
    match &entry.value {
        Value::List(l) => Ok(l),
        _ => Err(Error::WrongType),
    }
}

/// The list at `key` for a read command (counted as a keyspace hit or miss).
fn list<'a>(t: &'a impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Option<&'a ListValue>, Error> {
    t.entry(key, now).map(as_list).transpose()
}

/// The live list at `key` for a write command to decide what to do, without counting a
/// keyspace hit or miss and without marking the key modified (Redis's `lookupKeyWrite`).
fn peek<'a>(db: &'a Db<'_>, now: &Now<'_>, key: &[u8]) -> Result<Option<&'a ListValue>, Error> {
    match db.table_ref(key).get_raw(key) {
        Some(e) if Table::is_live(e, now) => as_list(e).map(Some),
        _ => Ok(None),
    }
}

/// The list at `key`, to change it now. Checked with [`peek`] first, so that `WRONGTYPE`
/// leaves the key unmarked.
fn list_mut<'a>(
    db: &'a mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
) -> Result<Option<&'a mut ListValue>, Error> {
    if peek(db, now, key)?.is_none() {
        return Ok(None);
    }
    match db.get_mut(key, now).map(|e| &mut e.value) {
        Some(Value::List(l)) => Ok(Some(l)),
        _ => Ok(None),
    }
}

/// Deletes `key` if the command just emptied its list, as Redis never stores an empty list.
fn delete_if_empty(db: &mut Db<'_>, now: &Now<'_>, key: &[u8], empty: bool) {
    if empty {
        db.remove(key);
        now.notify(GENERIC, "del", key);
    }
}

/// Redis's keyspace event for a push at `end`.
fn push_event(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Left => "lpush",
        ListEnd::Right => "rpush",
    }
}

/// Redis's keyspace event for a pop from `end`.
fn pop_event(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Left => "lpop",
        ListEnd::Right => "rpop",
    }
}

/// The position of Redis index `index` (negative counts from the tail) in a list of `len`.
fn position(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { index + len as i64 } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// Redis's inclusive `start stop` (negative from the tail) as the range `from..to` of a list
/// of `len`, clamped as `LRANGE` and `LTRIM` clamp; `0..0` when nothing is in range.
fn span(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return (0, 0);
    }
    (start as usize, stop.min(len - 1) as usize + 1)
}

fn array(items: Vec<Bytes>) -> Reply {
    Reply::Array(items.into_iter().map(Reply::Bulk).collect())
}

// ----- typed functions: what the handlers and the client's typed methods share -----

/// `LPUSH`/`RPUSH` (and with `only_if_exists`, `LPUSHX`/`RPUSHX`): adds `values` one by one
/// at `end` and returns the list's length (0 when `only_if_exists` finds no key).
pub(crate) fn push<V: AsRef<[u8]>>(
    db: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    end: ListEnd,
    values: &[V],
    only_if_exists: bool,
) -> Result<usize, Error> {
    let len = match list_mut(db, now, key)? {
        Some(l) => {
            for v in values {
                l.push(end, v.as_ref());
            }
            l.len()
        }
        None if only_if_exists || values.is_empty() => return Ok(0),
        None => {
            let mut l = ListValue::new();
            for v in values {
                l.push(end, v.as_ref());
            }
            let len = l.len();
            db.insert(key, Value::List(Box::new(l)), None);
            len
        }
    };
    if !values.is_empty() {
        db.signal_ready(key);
        now.notify(LIST, push_event(end), key);
    }
    Ok(len)
}

/// `LPOP`/`RPOP` without a count: the element removed from `end`, None if there is no key.
pub(crate) fn pop(
    db: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    end: ListEnd,
) -> Result<Option<Bytes>, Error> {
    let Some(l) = list_mut(db, now, key)? else { return Ok(None) };
    let v = l.pop(end);
    let empty = l.is_empty();
    now.notify(LIST, pop_event(end), key);
    delete_if_empty(db, now, key, empty);
    Ok(v)
}

/// `LPOP`/`RPOP` with a count: up to `count` elements removed from `end`, in the order popped;
/// None if there is no key (Redis's null array). A count of 0 changes nothing.
pub(crate) fn pop_count(
    db: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    end: ListEnd,
    count: usize,
) -> Result<Option<Vec<Bytes>>, Error> {
    if peek(db, now, key)?.is_none() {
        return Ok(None);
    }
    if count == 0 {
        return Ok(Some(Vec::new()));
    }
    let Some(l) = list_mut(db, now, key)? else { return Ok(None) };
    let n = count.min(l.len());
    let popped: Vec<Bytes> = (0..n).filter_map(|_| l.pop(end)).collect();
    let empty = l.is_empty();
    now.notify(LIST, pop_event(end), key);
    delete_if_empty(db, now, key, empty);
    Ok(Some(popped))
}

/// `LLEN`: 0 if there is no key.
pub(crate) fn len(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<usize, Error> {
    Ok(list(t, now, key)?.map_or(0, ListValue::len))
}

/// `LRANGE` with Redis's clamping of negative and out-of-range indexes.
pub(crate) fn range(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    start: i64,
    stop: i64,
) -> Result<Vec<Bytes>, Error> {
    let Some(l) = list(t, now, key)? else { return Ok(Vec::new()) };
    let (from, to) = span(start, stop, l.len());
    Ok(l.range(from, to))
}

/// `LINDEX`: the element at `index` (negative from the tail).
pub(crate) fn index(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    index: i64,
) -> Result<Option<Bytes>, Error> {
    let Some(l) = list(t, now, key)? else { return Ok(None) };
    Ok(position(index, l.len()).and_then(|i| l.get(i)))
}

/// `LSET`: replaces the element at `index`.
///
/// # Errors
/// `ERR no such key`; `WRONGTYPE`; `ERR index out of range`.
pub(crate) fn set(
    db: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    index: i64,
    value: &[u8],
) -> Result<(), Error> {
    let l = peek(db, now, key)?.ok_or_else(|| Error::msg("no such key"))?;
    let i = position(index, l.len()).ok_or_else(|| Error::msg("index out of range"))?;
    if let Some(l) = list_mut(db, now, key)? {
        l.set(i, value);
        now.notify(LIST, "lset", key);
    }
    Ok(())
}

/// `LREM`: removes the first `count` elements equal to `value` from the head (`count > 0`),
/// from the tail (`count < 0`), or all of them (`count == 0`); returns how many.
pub(crate) fn rem(
    db: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    count: i64,
    value: &[u8],
) -> Result<usize, Error> {
    let Some(l) = peek(db, now, key)? else { return Ok(0) };
    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
    let mut doomed: Vec<usize> = if count >= 0 {
        l.iter().enumerate().filter(|(_, v)| *v == value).map(|(i, _)| i).take(limit).collect()
    } else {
        let last = l.len() - 1;
        l.iter()
            .rev()
            .enumerate()
            .filter(|(_, v)| *v == value)
            .map(|(i, _)| last - i)
            .take(limit)
            .collect()
    };
    if doomed.is_empty() {
        return Ok(0);
    }
    doomed.sort_unstable();
    let Some(l) = list_mut(db, now, key)? else { return Ok(0) };
    l.remove_indexes(&doomed);
    let empty = l.is_empty();
    now.notify(LIST, "lrem", key);
    delete_if_empty(db, now, key, empty);
    Ok(doomed.len())
}

/// `LTRIM`: keeps the elements from `start` to `stop` (inclusive, Redis's clamping), deleting
/// the key if none are left. Redis counts a trim as a change even when it removes nothing.
pub(crate) fn trim(
    db: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    start: i64,
    stop: i64,
) -> Result<(), Error> {
    let Some(l) = list_mut(db, now, key)? else { return Ok(()) };
    let (from, to) = span(start, stop, l.len());
    l.trim(from, to);
    let empty = l.is_empty();
    now.notify(LIST, "ltrim", key);
    delete_if_empty(db, now, key, empty);
    Ok(())
}

/// `LINSERT`: inserts `value` before (or after) the first element equal to `pivot`. Returns
/// the new length, -1 if `pivot` is not there, 0 if there is no key.
pub(crate) fn insert(
    db: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    before: bool,
    pivot: &[u8],
    value: &[u8],
) -> Result<i64, Error> {
    let Some(l) = peek(db, now, key)? else { return Ok(0) };
    let Some(at) = l.iter().position(|v| v == pivot) else { return Ok(-1) };
    let Some(l) = list_mut(db, now, key)? else { return Ok(0) };
    l.insert(if before { at } else { at + 1 }, value);
    let len = l.len();
    db.signal_ready(key);
    now.notify(LIST, "linsert", key);
    Ok(len as i64)
}

/// The options of `LPOS`, with Redis's defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PosOptions {
    /// `RANK`: which match to start from; negative counts matches from the tail. Never 0.
    pub(crate) rank: i64,
    /// `COUNT`: how many matches to return, 0 for all; None answers one match, not an array.
    pub(crate) count: Option<u64>,
    /// `MAXLEN`: compare at most this many elements, 0 for all.
    pub(crate) maxlen: u64,
}

impl Default for PosOptions {
    fn default() -> Self {
        PosOptions { rank: 1, count: None, maxlen: 0 }
    }
}

/// `LPOS`: the indexes of elements equal to `value` (at most one without `COUNT`), in the
/// order found; empty if there is no key.
pub(crate) fn pos(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    value: &[u8],
    o: &PosOptions,
) -> Result<Vec<i64>, Error> {
    let Some(l) = list(t, now, key)? else { return Ok(Vec::new()) };
    Ok(if o.rank < 0 {
        let last = l.len() as i64 - 1;
        pos_in(l.iter().rev(), value, o).into_iter().map(|i| last - i).collect()
    } else {
        pos_in(l.iter(), value, o)
    })
}

/// Redis's `LPOS` loop over `items` (already in search order): the search-order indexes of
/// the matches to answer. The rank arithmetic wraps as Redis 7.0's `long` arithmetic does, so
/// `RANK -9223372036854775808` answers what Redis 7.0 answers (every match from the tail,
/// `COUNT` ignored).
fn pos_in<'a>(items: impl Iterator<Item = &'a [u8]>, value: &[u8], o: &PosOptions) -> Vec<i64> {
    let rank = if o.rank < 0 { o.rank.wrapping_neg() } else { o.rank };
    let count = o.count.map(|c| c.min(i64::MAX as u64) as i64);
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for (index, v) in items.enumerate() {
        if o.maxlen != 0 && index as u64 >= o.maxlen {
            break;
        }
        if v != value {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(index as i64);
            match count {
                None => break,
                Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
                Some(_) => {}
            }
        }
    }
    found
}

/// `LMOVE`: pops from `from` of `src` and pushes at `to` of `dst` (which may be `src`: a
/// rotation). None if `src` does not exist.
///
/// # Errors
/// `WRONGTYPE` if `src`, or (when `src` exists) `dst`, holds another type.
pub(crate) fn lmove(
    db: &mut Db<'_>,
    now: &Now<'_>,
    src: &[u8],
    dst: &[u8],
    from: ListEnd,
    to: ListEnd,
) -> Result<Option<Bytes>, Error> {
    if peek(db, now, src)?.is_none() {
        return Ok(None);
    }
    peek(db, now, dst)?;
    let Some(l) = list_mut(db, now, src)? else { return Ok(None) };
    let v = l.pop(from).expect("a stored list is never empty");
    if src == dst {
        // Pushed back before the emptiness check, so a one-element rotation keeps the key
        // and its TTL, as in Redis.
        l.push_bytes(to, v.clone());
        now.notify(LIST, push_event(to), dst);
        now.notify(LIST, pop_event(from), src);
    } else {
        let empty = l.is_empty();
        match list_mut(db, now, dst)? {
            Some(d) => d.push_bytes(to, v.clone()),
            None => {
                let mut d = ListValue::new();
                d.push_bytes(to, v.clone());
                db.insert(dst, Value::List(Box::new(d)), None);
            }
        }
        // Redis's order: the push on the destination, the pop on the source, its deletion.
        now.notify(LIST, push_event(to), dst);
        now.notify(LIST, pop_event(from), src);
        delete_if_empty(db, now, src, empty);
    }
    db.signal_ready(dst);
    Ok(Some(v))
}

/// `LMPOP`: pops up to `count` elements from `end` of the first of `keys` that holds a list;
/// returns that key and the elements, None if no key holds one.
///
/// # Errors
/// `WRONGTYPE` if a key before the first list holds another type.
pub(crate) fn mpop<K: AsRef<[u8]>>(
    db: &mut Db<'_>,
    now: &Now<'_>,
    keys: &[K],
    end: ListEnd,
    count: usize,
) -> Result<Option<(Bytes, Vec<Bytes>)>, Error> {
    for key in keys {
        let key = key.as_ref();
        if let Some(popped) = pop_count(db, now, key, end, count.max(1))? {
            return Ok(Some((Bytes::copy_from(key), popped)));
        }
    }
    Ok(None)
}

// ----- argument parsing -----

/// `LEFT` or `RIGHT`, case-insensitively; else `ERR syntax error`.
fn list_end(arg: &[u8]) -> Result<ListEnd, Error> {
    if is(arg, "left") {
        Ok(ListEnd::Left)
    } else if is(arg, "right") {
        Ok(ListEnd::Right)
    } else {
        Err(Error::syntax())
    }
}

/// An integer from 0 up, else `msg` (for a non-integer too), as Redis's
/// `getPositiveLongFromObjectOrReply`.
fn non_negative(arg: &[u8], msg: &str) -> Result<u64, Error> {
    parse_i64(arg).filter(|&n| n >= 0).map(|n| n as u64).ok_or_else(|| Error::msg(msg))
}

/// A parsed `LMPOP`/`BLMPOP`: where its keys are, the end to pop from, and the count.
struct Mpop {
    keys: std::ops::Range<usize>,
    end: ListEnd,
    count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]` with `numkeys` at `at`, in Redis's order:
/// numkeys, that the direction is there, the direction, the options.
fn parse_mpop(a: &[&[u8]], at: usize) -> Result<Mpop, Error> {
    let numkeys = at_least_one(a[at], "numkeys should be greater than 0")?;
    let dir = at.checked_add(numkeys).and_then(|i| i.checked_add(1)).filter(|&i| i < a.len());
    let dir = dir.ok_or_else(Error::syntax)?;
    let end = list_end(a[dir])?;
    let mut count = None;
    let mut j = dir + 1;
    while j < a.len() {
        if count.is_none() && is(a[j], "count") && j + 1 < a.len() {
            count = Some(at_least_one(a[j + 1], "count should be greater than 0")?);
            j += 2;
        } else {
            return Err(Error::syntax());
        }
    }
    Ok(Mpop { keys: at + 1..dir, end, count: count.unwrap_or(1) })
}

/// True if every argument at `ixs` hashes to one slot.
fn one_slot(a: &[&[u8]], ixs: impl IntoIterator<Item = usize>) -> bool {
    let mut slots = ixs.into_iter().map(|i| key_slot(a[i]));
    let first = slots.next();
    slots.all(|s| Some(s) == first)
}

/// Keys of `[B]LMPOP` with `numkeys` at `at`, as Redis Cluster finds them: none for a bad
/// numkeys (then the command's own error), none when numkeys claims more arguments than there
/// are (a syntax error). With `check_rest`, once the keys are known to share a slot (else
/// `CROSSSLOT` comes first, as in Redis Cluster), the rest is checked too, so a bad direction
/// or count is reported before the client parses `BLMPOP`'s timeout, in Redis's order.
fn mpop_keys(a: &[&[u8]], at: usize, check_rest: bool) -> Result<Vec<usize>, Error> {
    let Some(numkeys) = a.get(at) else { return Ok(Vec::new()) };
    let numkeys = at_least_one(numkeys, "numkeys should be greater than 0")?;
    if numkeys > a.len() - at - 1 {
        return Err(Error::syntax());
    }
    let keys: Vec<usize> = (at + 1..at + 1 + numkeys).collect();
    if check_rest && one_slot(a, keys.iter().copied()) {
        parse_mpop(a, at)?;
    }
    Ok(keys)
}

fn lmpop_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    mpop_keys(a, 1, false)
}

fn blmpop_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    mpop_keys(a, 2, true)
}

/// Keys of `BLMOVE src dst from to timeout`. Custom only so that a bad `LEFT`/`RIGHT` is
/// reported before the client parses the timeout, as Redis checks them first (and after
/// `CROSSSLOT`, as Redis Cluster does).
fn blmove_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    if a.len() < 5 {
        // Not the arity of BLMOVE: the keys there are, for whoever checks arity after keys.
        return Ok((1..a.len().min(3)).collect());
    }
    if one_slot(a, [1, 2]) {
        list_end(a[3])?;
        list_end(a[4])?;
    }
    Ok(vec![1, 2])
}

/// A spec that never takes more memory (no `denyoom` in Redis): it runs even over budget.
const fn no_growth(spec: Spec) -> Spec {
    Spec { grows: false, ..spec }
}

/// The commands of this family. Which of them may grow memory follows Redis's `denyoom`.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("lpush", -3, ONE_KEY, lpush_cmd),
    Spec::write("rpush", -3, ONE_KEY, rpush_cmd),
    Spec::write("lpushx", -3, ONE_KEY, lpushx_cmd),
    Spec::write("rpushx", -3, ONE_KEY, rpushx_cmd),
    Spec::write("linsert", 5, ONE_KEY, linsert_cmd),
    Spec::write("lset", 4, ONE_KEY, lset_cmd),
    Spec::shrink("lpop", -2, ONE_KEY, lpop_cmd),
    Spec::shrink("rpop", -2, ONE_KEY, rpop_cmd),
    Spec::shrink("lrem", 4, ONE_KEY, lrem_cmd),
    Spec::shrink("ltrim", 4, ONE_KEY, ltrim_cmd),
    Spec::read("llen", 2, ONE_KEY, llen_cmd),
    Spec::read("lindex", 3, ONE_KEY, lindex_cmd),
    Spec::read("lrange", 4, ONE_KEY, lrange_cmd),
    Spec::read("lpos", -3, ONE_KEY, lpos_cmd),
    Spec::write("lmove", 5, TWO_KEYS, lmove_cmd),
    Spec::write("rpoplpush", 3, TWO_KEYS, rpoplpush_cmd),
    Spec::shrink("lmpop", -4, KeySpec::Custom(lmpop_keys), lmpop_cmd),
    no_growth(Spec::blocking("blpop", -3, ALL_BUT_LAST, blpop_cmd, TimeoutArg::Last)),
    no_growth(Spec::blocking("brpop", -3, ALL_BUT_LAST, brpop_cmd, TimeoutArg::Last)),
    Spec::blocking("blmove", 6, KeySpec::Custom(blmove_keys), blmove_cmd, TimeoutArg::Last),
    Spec::blocking("brpoplpush", 4, TWO_KEYS, brpoplpush_cmd, TimeoutArg::Last),
    no_growth(Spec::blocking("blmpop", -5, KeySpec::Custom(blmpop_keys), blmpop_cmd, TimeoutArg::At(1))),
];

// ----- handlers -----

fn push_generic(
    db: &mut Db<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
    end: ListEnd,
    x: bool,
) -> Result<Reply, Error> {
    Ok(Reply::Int(push(db, now, a[1], end, &a[2..], x)? as i64))
}

pub(crate) fn lpush_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    push_generic(db, now, a, ListEnd::Left, false)
}

pub(crate) fn rpush_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    push_generic(db, now, a, ListEnd::Right, false)
}

pub(crate) fn lpushx_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    push_generic(db, now, a, ListEnd::Left, true)
}

pub(crate) fn rpushx_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    push_generic(db, now, a, ListEnd::Right, true)
}

/// `LPOP key [count]`: Redis's arity is -2 and it refuses more than one count itself; the
/// count is checked before the key is looked up.
fn pop_generic(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]], end: ListEnd) -> Result<Reply, Error> {
    if a.len() > 3 {
        return Err(Error::arity(if end == ListEnd::Left { "lpop" } else { "rpop" }));
    }
    match a.get(2) {
        None => Ok(pop(db, now, a[1], end)?.into()),
        Some(count) => {
            let count = non_negative(count, "value is out of range, must be positive")?;
            Ok(pop_count(db, now, a[1], end, count as usize)?.map_or(Reply::Nil, array))
        }
    }
}

pub(crate) fn lpop_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    pop_generic(db, now, a, ListEnd::Left)
}

pub(crate) fn rpop_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    pop_generic(db, now, a, ListEnd::Right)
}

pub(crate) fn llen_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(len(t, now, a[1])? as i64))
}

/// `LINDEX`: a missing key answers nil and a wrong type `WRONGTYPE` before the index is parsed.
pub(crate) fn lindex_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let Some(l) = list(t, now, a[1])? else { return Ok(Reply::Nil) };
    let i = int(a[2])?;
    Ok(position(i, l.len()).and_then(|i| l.get(i)).into())
}

/// `LRANGE`: the indexes are parsed before the key is looked up.
pub(crate) fn lrange_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (start, stop) = (int(a[2])?, int(a[3])?);
    Ok(array(range(t, now, a[1], start, stop)?))
}

/// `LSET`: the key (`ERR no such key`, `WRONGTYPE`) is checked before the index is parsed.
pub(crate) fn lset_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    if peek(db, now, a[1])?.is_none() {
        return Err(Error::msg("no such key"));
    }
    set(db, now, a[1], int(a[2])?, a[3])?;
    Ok(Reply::ok())
}

pub(crate) fn lrem_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let count = int(a[2])?;
    Ok(Reply::Int(rem(db, now, a[1], count, a[3])? as i64))
}

pub(crate) fn ltrim_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (start, stop) = (int(a[2])?, int(a[3])?);
    trim(db, now, a[1], start, stop)?;
    Ok(Reply::ok())
}

/// `LINSERT key BEFORE|AFTER pivot element`: the position word is checked first.
pub(crate) fn linsert_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let before = if is(a[2], "after") {
        false
    } else if is(a[2], "before") {
        true
    } else {
        return Err(Error::syntax());
    };
    Ok(Reply::Int(insert(db, now, a[1], before, a[3], a[4])?))
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`: options are checked in
/// order (a bad value stops at once), all before the key is looked up.
pub(crate) fn lpos_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let mut o = PosOptions::default();
    let mut j = 3;
    while j < a.len() {
        let value = a.get(j + 1).copied();
        match value {
            Some(v) if is(a[j], "rank") => {
                o.rank = int(v)?;
                if o.rank == 0 {
                    return Err(Error::msg(
                        "RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                         or use negative to start from the end of the list",
                    ));
                }
            }
            Some(v) if is(a[j], "count") => o.count = Some(non_negative(v, "COUNT can't be negative")?),
            Some(v) if is(a[j], "maxlen") => o.maxlen = non_negative(v, "MAXLEN can't be negative")?,
            _ => return Err(Error::syntax()),
        }
        j += 2;
    }
    let found = pos(t, now, a[1], a[2], &o)?;
    Ok(match o.count {
        Some(_) => Reply::Array(found.into_iter().map(Reply::Int).collect()),
        None => found.first().map_or(Reply::Nil, |&i| Reply::Int(i)),
    })
}

/// `LMOVE src dst LEFT|RIGHT LEFT|RIGHT`.
pub(crate) fn lmove_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (from, to) = (list_end(a[3])?, list_end(a[4])?);
    Ok(lmove(db, now, a[1], a[2], from, to)?.into())
}

pub(crate) fn rpoplpush_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(lmove(db, now, a[1], a[2], ListEnd::Right, ListEnd::Left)?.into())
}

/// The `[B]LMPOP` reply: the key and the elements popped from it.
fn mpop_reply((key, popped): (Bytes, Vec<Bytes>)) -> Reply {
    Reply::Array(vec![Reply::Bulk(key), array(popped)])
}

/// `LMPOP numkeys key... LEFT|RIGHT [COUNT count]`.
pub(crate) fn lmpop_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let m = parse_mpop(a, 1)?;
    Ok(mpop(db, now, &a[m.keys], m.end, m.count)?.map_or(Reply::Nil, mpop_reply))
}

// ----- blocking handlers: `Ok(None)` means every key is empty and the caller waits -----

fn bpop_generic(
    db: &mut Db<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
    end: ListEnd,
) -> Result<Option<Reply>, Error> {
    let popped = mpop(db, now, &a[1..a.len() - 1], end, 1)?;
    Ok(popped.map(|(key, mut vs)| Reply::Array(vec![Reply::Bulk(key), Reply::Bulk(vs.remove(0))])))
}

/// `BLPOP key... timeout`: the first element of the first non-empty list, as `[key, element]`.
pub(crate) fn blpop_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    bpop_generic(db, now, a, ListEnd::Left)
}

/// `BRPOP key... timeout`.
pub(crate) fn brpop_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    bpop_generic(db, now, a, ListEnd::Right)
}

/// `BLMOVE src dst LEFT|RIGHT LEFT|RIGHT timeout`.
pub(crate) fn blmove_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    let (from, to) = (list_end(a[3])?, list_end(a[4])?);
    Ok(lmove(db, now, a[1], a[2], from, to)?.map(Reply::Bulk))
}

/// `BRPOPLPUSH src dst timeout`.
pub(crate) fn brpoplpush_cmd(
    db: &mut Db<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
) -> Result<Option<Reply>, Error> {
    Ok(lmove(db, now, a[1], a[2], ListEnd::Right, ListEnd::Left)?.map(Reply::Bulk))
}

/// `BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT count]`.
pub(crate) fn blmpop_cmd(db: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    let m = parse_mpop(a, 2)?;
    Ok(mpop(db, now, &a[m.keys], m.end, m.count)?.map(mpop_reply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    fn run(t: &mut Table, f: crate::command::WriteFn, words: &str) -> Result<Reply, String> {
        let clock = Clock::manual(1_000_000);
        let a: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        f(&mut Db::One(t), &Now::new(&clock), &a).map_err(|e| e.to_string())
    }

    #[test]
    fn indexes_and_spans_clamp_as_redis() {
        assert_eq!(position(0, 3), Some(0));
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(-3, 3), Some(0));
        assert_eq!(position(-4, 3), None);
        assert_eq!(position(3, 3), None);
        assert_eq!(position(i64::MIN, 3), None);
        assert_eq!(position(i64::MAX, 3), None);
        assert_eq!(position(0, 0), None);
        assert_eq!(span(0, -1, 5), (0, 5));
        assert_eq!(span(-100, 1, 5), (0, 2));
        assert_eq!(span(3, 100, 5), (3, 5));
        assert_eq!(span(3, 1, 5), (0, 0));
        assert_eq!(span(-1, -2, 5), (0, 0));
        assert_eq!(span(5, 10, 5), (0, 0));
        assert_eq!(span(i64::MIN, i64::MAX, 5), (0, 5));
        assert_eq!(span(i64::MAX, i64::MIN, 5), (0, 0));
        assert_eq!(span(0, -1, 0), (0, 0));
    }

    #[test]
    fn lpos_rank_arithmetic_wraps_as_redis_7_0() {
        let items: Vec<&[u8]> = vec![b"a", b"b", b"a", b"a"];
        let at = |rank, count| {
            let o = PosOptions { rank, count, maxlen: 0 };
            pos_in(items.iter().copied(), b"a", &o)
        };
        assert_eq!(at(1, None), [0]);
        assert_eq!(at(2, Some(0)), [2, 3]);
        assert_eq!(at(1, Some(2)), [0, 2]);
        assert_eq!(at(4, Some(0)), Vec::<i64>::new());
        // -LONG_MIN stays LONG_MIN: every match counts, and COUNT never stops the search.
        assert_eq!(at(i64::MIN, None), [0]);
        assert_eq!(at(i64::MIN, Some(1)), [0, 2, 3]);
        assert_eq!(at(i64::MAX, Some(0)), Vec::<i64>::new());
    }

    #[test]
    fn mpop_keys_follow_redis_cluster() {
        let words = |s: &'static str| s.split(' ').map(str::as_bytes).collect::<Vec<&[u8]>>();
        let err = |r: Result<Vec<usize>, Error>| r.unwrap_err().to_string();
        assert_eq!(lmpop_keys(&words("lmpop 2 {t}a {t}b LEFT")), Ok(vec![2, 3]));
        assert_eq!(err(lmpop_keys(&words("lmpop 0 a LEFT"))), "ERR numkeys should be greater than 0");
        assert_eq!(err(lmpop_keys(&words("lmpop 3 a LEFT"))), "ERR syntax error");
        // The direction is the handler's to check for LMPOP, the key spec's for BLMPOP.
        assert_eq!(lmpop_keys(&words("lmpop 1 a UP")), Ok(vec![2]));
        assert_eq!(err(blmpop_keys(&words("blmpop 0 1 a UP"))), "ERR syntax error");
        assert_eq!(
            err(blmpop_keys(&words("blmpop x 1 a LEFT COUNT 0"))),
            "ERR count should be greater than 0"
        );
        // Keys in different slots: CROSSSLOT comes first, from the caller.
        assert_eq!(blmpop_keys(&words("blmpop 0 2 a b UP")), Ok(vec![3, 4]));
        assert_eq!(blmove_keys(&words("blmove a b UP LEFT 0")), Ok(vec![1, 2]));
        assert_eq!(err(blmove_keys(&words("blmove {t}a {t}b LEFT UP 0"))), "ERR syntax error");
        assert_eq!(blmove_keys(&words("blmove a")), Ok(vec![1]));
    }

    #[test]
    fn emptied_lists_are_deleted() {
        let mut t = Table::new();
        assert_eq!(run(&mut t, rpush_cmd, "rpush k a b c"), Ok(Reply::Int(3)));
        assert_eq!(run(&mut t, lrem_cmd, "lrem k 0 b"), Ok(Reply::Int(1)));
        assert_eq!(run(&mut t, ltrim_cmd, "ltrim k 1 1"), Ok(Reply::ok()));
        assert_eq!(t.len(), 1);
        assert_eq!(run(&mut t, lrem_cmd, "lrem k -5 c"), Ok(Reply::Int(1)));
        assert_eq!(t.len(), 0);
        assert_eq!(run(&mut t, lpushx_cmd, "lpushx k a"), Ok(Reply::Int(0)));
        assert_eq!(t.len(), 0);
        let clock = Clock::manual(1);
        let mut db = Db::One(&mut t);
        assert_eq!(push::<&str>(&mut db, &Now::new(&clock), b"k", ListEnd::Left, &[], false), Ok(0));
        assert_eq!(t.len(), 0, "no empty list is ever stored");
    }
}
