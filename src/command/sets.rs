//! Set commands: SADD and its kin, random picks and pops, SMOVE, the algebra (SINTER, SUNION,
//! SDIFF, their STORE forms, SINTERCARD) and SSCAN.

use super::args::{at_least_one, is, parse_i64};
use super::hashes::{parse_cursor, peek, random_count, random_picks, scan_reply, ElementScan};
use super::{KeySpec, Spec, ALL_KEYS, ONE_KEY, TWO_KEYS};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::keyspace::events::{GENERIC, SET};
use crate::keyspace::hash::Elem;
use crate::keyspace::set::SetValue;
use crate::keyspace::{Db, Entry, Lookup, Now, Value, View};
use crate::reply::Reply;

/// The set in `entry`, or `WRONGTYPE`.
pub(crate) fn as_set(entry: &Entry) -> Result<&SetValue, Error> {
    match &entry.value {
        Value::Set(s) => Ok(s),
        _ => Err(Error::WrongType),
    }
}

/// The set at `key`, if any.
fn set<'t>(t: &'t impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t SetValue>, Error> {
    t.entry(key, now).map(as_set).transpose()
}

/// The set at `key`, for a write command's checks (see [`peek`]).
fn set_peek<'t>(t: &'t Db<'_>, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t SetValue>, Error> {
    peek(t, now, key).map(as_set).transpose()
}

/// The set at `key` for writing, if any. Changing it in place keeps the key's TTL.
fn set_mut<'t>(t: &'t mut Db<'_>, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t mut SetValue>, Error> {
    match t.get_mut(key, now) {
        None => Ok(None),
        Some(Entry { value: Value::Set(s), .. }) => Ok(Some(s)),
        Some(_) => Err(Error::WrongType),
    }
}

/// The sets at `keys` (None where missing) as `get` finds them, every key's type checked
/// first, as Redis does.
fn sets<'t, K: AsRef<[u8]>>(
    keys: &[K],
    get: impl Fn(&[u8]) -> Option<&'t Entry>,
) -> Result<Vec<Option<&'t SetValue>>, Error> {
    keys.iter().map(|k| get(k.as_ref()).map(as_set).transpose()).collect()
}

fn to_bytes(elems: Vec<Elem<'_>>) -> Vec<Bytes> {
    elems.into_iter().map(Elem::to_bytes).collect()
}

/// `SADD`: returns how many members are new.
///
/// No members change nothing (and store no empty set).
///
/// # Errors
/// `WRONGTYPE`.
pub(crate) fn sadd<M: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    members: &[M],
) -> Result<usize, Error> {
    if members.is_empty() {
        return Ok(0);
    }
    if set_peek(t, now, key)?.is_some_and(|s| members.iter().all(|m| s.contains(m.as_ref()))) {
        return Ok(0);
    }
    let add = |s: &mut SetValue| members.iter().filter(|m| s.insert(m.as_ref())).count();
    let added = match set_mut(t, now, key)? {
        Some(s) => add(s),
        None => {
            let mut s = SetValue::new();
            let added = add(&mut s);
            t.insert(key, Value::Set(Box::new(s)), None);
            added
        }
    };
    if added > 0 {
        now.notify(SET, "sadd", key);
    }
    Ok(added)
}

/// `SREM`: removes the members, and the key once the set is empty; returns how many existed.
pub(crate) fn srem<M: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    members: &[M],
) -> Result<usize, Error> {
    let Some(s) = set_peek(t, now, key)? else { return Ok(0) };
    if !members.iter().any(|m| s.contains(m.as_ref())) {
        return Ok(0);
    }
    let s = set_mut(t, now, key)?.expect("checked above");
    let removed = members.iter().filter(|m| s.remove(m.as_ref())).count();
    now.notify(SET, "srem", key);
    if s.is_empty() {
        t.remove(key);
        now.notify(GENERIC, "del", key);
    }
    Ok(removed)
}

/// `SMEMBERS`: ascending for a set of integers, insertion order for a small one, no
/// particular order past that.
pub(crate) fn smembers(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Vec<Bytes>, Error> {
    Ok(set(t, now, key)?.map_or_else(Vec::new, |s| s.iter().map(Elem::to_bytes).collect()))
}

/// `SISMEMBER`.
pub(crate) fn sismember(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    member: &[u8],
) -> Result<bool, Error> {
    Ok(set(t, now, key)?.is_some_and(|s| s.contains(member)))
}

/// `SMISMEMBER`: membership of each member.
pub(crate) fn smismember<M: AsRef<[u8]>>(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    members: &[M],
) -> Result<Vec<bool>, Error> {
    let s = set(t, now, key)?;
    Ok(members.iter().map(|m| s.is_some_and(|s| s.contains(m.as_ref()))).collect())
}

/// `SCARD`.
pub(crate) fn scard(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<usize, Error> {
    Ok(set(t, now, key)?.map_or(0, SetValue::len))
}

/// `SPOP key count`: removes and returns `count` random members (the whole set, deleting the
/// key, when `count` covers it).
pub(crate) fn spop(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    count: usize,
) -> Result<Vec<Bytes>, Error> {
    // The type is checked even for a count of 0.
    if set_peek(t, now, key)?.is_none() || count == 0 {
        return Ok(Vec::new());
    }
    let s = set_mut(t, now, key)?.expect("checked above");
    now.notify(SET, "spop", key);
    if count >= s.len() {
        let all = s.iter().map(Elem::to_bytes).collect();
        t.remove(key);
        now.notify(GENERIC, "del", key);
        return Ok(all);
    }
    Ok((0..count).filter_map(|_| s.pop_random()).collect())
}

/// `SRANDMEMBER key count`: distinct members for a positive count (the whole set if it
/// covers it), `-count` members with repeats for a negative one.
///
/// # Errors
/// `WRONGTYPE`; `ERR value is out of range` for more repeats than this store answers.
pub(crate) fn srandmember(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    count: i64,
) -> Result<Vec<Bytes>, Error> {
    let Some(s) = set(t, now, key)? else { return Ok(Vec::new()) };
    let (n, distinct) = random_picks(count)?;
    Ok(to_bytes(s.random_members(n, distinct)))
}

/// `SMOVE`: moves `member` from `src` to `dst`; false if it is not in `src`. A missing `src`
/// answers false before `dst`'s type is looked at, as in Redis.
pub(crate) fn smove(
    t: &mut Db<'_>,
    now: &Now<'_>,
    src: &[u8],
    dst: &[u8],
    member: &[u8],
) -> Result<bool, Error> {
    let Some(from) = set_peek(t, now, src)? else { return Ok(false) };
    let dst_exists = set_peek(t, now, dst)?.is_some();
    // Same key: a no-op answering membership; not a member: nothing moves.
    if src == dst || !from.contains(member) {
        return Ok(from.contains(member));
    }
    let s = set_mut(t, now, src)?.expect("checked above");
    s.remove(member);
    now.notify(SET, "srem", src);
    if s.is_empty() {
        t.remove(src);
        now.notify(GENERIC, "del", src);
    }
    if dst_exists {
        // A member the destination has already leaves it unmodified: no write to it, so a
        // WATCH on it stays clean (as Redis 7.0 signals the destination only on an add).
        if !set_peek(t, now, dst)?.expect("checked above").contains(member) {
            set_mut(t, now, dst)?.expect("checked above").insert(member);
            now.notify(SET, "sadd", dst);
        }
    } else {
        sadd(t, now, dst, &[member])?;
    }
    Ok(true)
}

/// The members common to every set, walking the smallest, up to `limit` of them (0: all).
fn inter<'s>(sets: &[Option<&'s SetValue>], limit: usize) -> Vec<Elem<'s>> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&SetValue>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("a set command names a key");
    let common = first.iter().filter(|&e| rest.iter().all(|s| s.contains_elem(e)));
    if limit == 0 {
        common.collect()
    } else {
        common.take(limit).collect()
    }
}

/// Every member of any set.
fn union(sets: &[Option<&SetValue>]) -> SetValue {
    sets.iter().flatten().flat_map(|s| s.iter()).collect()
}

/// The members of the first set in none of the others.
fn diff<'s>(sets: &[Option<&'s SetValue>]) -> Vec<Elem<'s>> {
    let Some(Some(first)) = sets.first() else { return Vec::new() };
    let rest: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
    first.iter().filter(|&e| !rest.iter().any(|s| s.contains_elem(e))).collect()
}

/// The set operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Inter,
    Union,
    Diff,
}

/// `SINTER`, `SUNION`, `SDIFF` over `keys` (sharing a slot).
///
/// # Errors
/// `WRONGTYPE` if any key, even one after a missing key, holds another type.
pub(crate) fn combine<K: AsRef<[u8]>>(
    t: &impl Lookup,
    now: &Now<'_>,
    op: SetOp,
    keys: &[K],
) -> Result<Vec<Bytes>, Error> {
    let sets = sets(keys, |k| t.entry(k, now))?;
    Ok(match op {
        SetOp::Inter => to_bytes(inter(&sets, 0)),
        SetOp::Union => union(&sets).iter().map(Elem::to_bytes).collect(),
        SetOp::Diff => to_bytes(diff(&sets)),
    })
}

/// `SINTERSTORE`, `SUNIONSTORE`, `SDIFFSTORE`: stores the result at `dst`, replacing any value
/// and TTL there, or deletes `dst` when the result is empty; returns its size.
pub(crate) fn combine_store<K: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    op: SetOp,
    dst: &[u8],
    keys: &[K],
) -> Result<usize, Error> {
    let result: SetValue = {
        // Sources are read as a write reads them (no hits counted), as Redis does.
        let db: &Db<'_> = t;
        let sets = sets(keys, |k| peek(db, now, k))?;
        match op {
            SetOp::Inter => inter(&sets, 0).into_iter().collect(),
            SetOp::Union => union(&sets),
            SetOp::Diff => diff(&sets).into_iter().collect(),
        }
    };
    let n = result.len();
    let existed = t.remove(dst).is_some();
    if n > 0 {
        t.insert(dst, Value::Set(Box::new(result)), None);
        let event = match op {
            SetOp::Inter => "sinterstore",
            SetOp::Union => "sunionstore",
            SetOp::Diff => "sdiffstore",
        };
        now.notify(SET, event, dst);
    } else if existed {
        now.notify(GENERIC, "del", dst);
    }
    Ok(n)
}

/// `SINTERCARD`: the size of the intersection, counting no further than `limit` (0: no limit).
pub(crate) fn sintercard<K: AsRef<[u8]>>(
    t: &impl Lookup,
    now: &Now<'_>,
    keys: &[K],
    limit: usize,
) -> Result<usize, Error> {
    Ok(inter(&sets(keys, |k| t.entry(k, now))?, limit).len())
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("sadd", -3, ONE_KEY, sadd_cmd),
    Spec::shrink("srem", -3, ONE_KEY, srem_cmd),
    Spec::read("smembers", 2, ONE_KEY, smembers_cmd),
    Spec::read("sismember", 3, ONE_KEY, sismember_cmd),
    Spec::read("smismember", -3, ONE_KEY, smismember_cmd),
    Spec::read("scard", 2, ONE_KEY, scard_cmd),
    Spec::shrink("spop", -2, ONE_KEY, spop_cmd),
    Spec::read("srandmember", -2, ONE_KEY, srandmember_cmd),
    Spec::shrink("smove", 4, TWO_KEYS, smove_cmd),
    Spec::read("sinter", -2, ALL_KEYS, sinter_cmd),
    Spec::read("sunion", -2, ALL_KEYS, sunion_cmd),
    Spec::read("sdiff", -2, ALL_KEYS, sdiff_cmd),
    Spec::write("sinterstore", -3, ALL_KEYS, sinterstore_cmd),
    Spec::write("sunionstore", -3, ALL_KEYS, sunionstore_cmd),
    Spec::write("sdiffstore", -3, ALL_KEYS, sdiffstore_cmd),
    Spec::read("sintercard", -3, KeySpec::Custom(sintercard_keys), sintercard_cmd),
    Spec::read("sscan", -3, ONE_KEY, sscan_cmd),
];

// ----- handlers -----

fn bulks(items: Vec<Bytes>) -> Reply {
    Reply::Array(items.into_iter().map(Reply::Bulk).collect())
}

pub(crate) fn sadd_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(sadd(t, now, a[1], &a[2..])? as i64))
}

pub(crate) fn srem_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(srem(t, now, a[1], &a[2..])? as i64))
}

pub(crate) fn smembers_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(bulks(smembers(t, now, a[1])?))
}

pub(crate) fn sismember_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(sismember(t, now, a[1], a[2])?.into()))
}

pub(crate) fn smismember_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let found = smismember(t, now, a[1], &a[2..])?;
    Ok(Reply::Array(found.into_iter().map(|b| Reply::Int(b.into())).collect()))
}

pub(crate) fn scard_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(scard(t, now, a[1])? as i64))
}

/// `SPOP key [count]`: the count is checked before the key, and any text that is not a
/// non-negative integer gets Redis's one error for it.
pub(crate) fn spop_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    match a.len() {
        2 => Ok(spop_one(t, now, a[1])?.into()),
        3 => {
            let count = parse_i64(a[2])
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Error::msg("value is out of range, must be positive"))?;
            Ok(bulks(spop(t, now, a[1], count)?))
        }
        _ => Err(Error::syntax()),
    }
}

/// `SPOP key`: one random member, removed.
pub(crate) fn spop_one(t: &mut Db<'_>, now: &Now<'_>, key: &[u8]) -> Result<Option<Bytes>, Error> {
    if set_peek(t, now, key)?.is_none() {
        return Ok(None);
    }
    let s = set_mut(t, now, key)?.expect("checked above");
    let m = s.pop_random();
    now.notify(SET, "spop", key);
    if s.is_empty() {
        t.remove(key);
        now.notify(GENERIC, "del", key);
    }
    Ok(m)
}

pub(crate) fn srandmember_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    match a.len() {
        2 => {
            let Some(s) = set(t, now, a[1])? else { return Ok(Reply::Nil) };
            Ok(s.random_members(1, true).first().map_or(Reply::Nil, |e| Reply::Bulk(e.to_bytes())))
        }
        3 => {
            let count = random_count(a[2])?;
            Ok(bulks(srandmember(t, now, a[1], count)?))
        }
        _ => Err(Error::syntax()),
    }
}

pub(crate) fn smove_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(smove(t, now, a[1], a[2], a[3])?.into()))
}

pub(crate) fn sinter_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(bulks(combine(t, now, SetOp::Inter, &a[1..])?))
}

pub(crate) fn sunion_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(bulks(combine(t, now, SetOp::Union, &a[1..])?))
}

pub(crate) fn sdiff_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(bulks(combine(t, now, SetOp::Diff, &a[1..])?))
}

pub(crate) fn sinterstore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(combine_store(t, now, SetOp::Inter, a[1], &a[2..])? as i64))
}

pub(crate) fn sunionstore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(combine_store(t, now, SetOp::Union, a[1], &a[2..])? as i64))
}

pub(crate) fn sdiffstore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(combine_store(t, now, SetOp::Diff, a[1], &a[2..])? as i64))
}

/// The `numkeys` of `SINTERCARD numkeys key... [LIMIT limit]`, with Redis's errors: a
/// non-integer or non-positive count, or more keys than arguments.
fn numkeys(a: &[&[u8]]) -> Result<usize, Error> {
    let n = at_least_one(a[1], "numkeys should be greater than 0")?;
    if n > a.len() - 2 {
        return Err(Error::msg("Number of keys can't be greater than number of args"));
    }
    Ok(n)
}

/// Key positions of `SINTERCARD`: its keys move with `numkeys`.
fn sintercard_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    Ok((2..2 + numkeys(a)?).collect())
}

/// `SINTERCARD numkeys key... [LIMIT limit]`: `LIMIT` may repeat (the last wins); 0 means
/// no limit.
pub(crate) fn sintercard_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let n = numkeys(a)?;
    let mut limit = 0;
    let mut i = 2 + n;
    while i < a.len() {
        if is(a[i], "limit") && i + 1 < a.len() {
            limit = parse_i64(a[i + 1])
                .and_then(|l| usize::try_from(l).ok())
                .ok_or_else(|| Error::msg("LIMIT can't be negative"))?;
            i += 2;
        } else {
            return Err(Error::syntax());
        }
    }
    Ok(Reply::Int(sintercard(t, now, &a[2..2 + n], limit)? as i64))
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`, checked in Redis's order: the cursor,
/// the key (a missing key answers an empty scan whatever the options), then the options.
pub(crate) fn sscan_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let cursor = parse_cursor(a[2])?;
    let Some(s) = set(t, now, a[1])? else { return Ok(scan_reply(0, Vec::new())) };
    let scan = ElementScan::parse(&a[3..])?;
    let mut out = Vec::new();
    let next = s.scan(cursor, scan.count, |m| {
        if scan.accepts(m) {
            out.push(Reply::Bulk(m.to_bytes()));
        }
    });
    Ok(scan_reply(next, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::command::{lookup, ReadFn, WriteFn};
    use crate::keyspace::{Str, Table};
    use std::collections::BTreeSet;

    fn words(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    fn run(t: &mut Table, clock: &Clock, f: WriteFn, s: &str) -> Result<Reply, String> {
        f(&mut Db::One(t), &Now::new(clock), &words(s)).map_err(|e| e.to_string())
    }

    fn read(t: &Table, clock: &Clock, f: ReadFn, s: &str) -> Result<Reply, String> {
        f(&View::One(t), &Now::new(clock), &words(s)).map_err(|e| e.to_string())
    }

    fn members(r: Reply) -> BTreeSet<String> {
        r.as_array()
            .unwrap()
            .iter()
            .map(|x| String::from_utf8(x.as_bytes().unwrap().to_vec()).unwrap())
            .collect()
    }

    fn set_of(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn basics() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        assert_eq!(run(&mut t, &clock, sadd_cmd, "sadd s 3 1 2 1"), Ok(Reply::Int(3)));
        let sorted: Vec<Reply> = ["1", "2", "3"].iter().map(Reply::bulk).collect();
        assert_eq!(read(&t, &clock, smembers_cmd, "smembers s"), Ok(Reply::Array(sorted)));
        assert_eq!(run(&mut t, &clock, sadd_cmd, "sadd s a"), Ok(Reply::Int(1)));
        assert_eq!(read(&t, &clock, scard_cmd, "scard s"), Ok(Reply::Int(4)));
        assert_eq!(read(&t, &clock, sismember_cmd, "sismember s a"), Ok(Reply::Int(1)));
        assert_eq!(read(&t, &clock, sismember_cmd, "sismember s 9"), Ok(Reply::Int(0)));
        assert_eq!(
            read(&t, &clock, smismember_cmd, "smismember s a zz 1"),
            Ok(Reply::Array(vec![Reply::Int(1), Reply::Int(0), Reply::Int(1)]))
        );
        assert_eq!(
            read(&t, &clock, smismember_cmd, "smismember nokey a"),
            Ok(Reply::Array(vec![Reply::Int(0)]))
        );
        assert_eq!(run(&mut t, &clock, srem_cmd, "srem s a 1 zz"), Ok(Reply::Int(2)));
        assert_eq!(run(&mut t, &clock, srem_cmd, "srem s 2 3"), Ok(Reply::Int(2)));
        assert!(!t.contains(b"s", &Now::new(&clock)), "an emptied set is deleted");
        assert_eq!(read(&t, &clock, smembers_cmd, "smembers s"), Ok(Reply::Array(vec![])));
    }

    #[test]
    fn spop_and_srandmember() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, sadd_cmd, "sadd s a b c d e").unwrap();
        t.set_expire(b"s", Some(9000));
        let two = members(run(&mut t, &clock, spop_cmd, "spop s 2").unwrap());
        assert_eq!(two.len(), 2);
        assert_eq!(read(&t, &clock, scard_cmd, "scard s"), Ok(Reply::Int(3)));
        assert_eq!(t.get(b"s", &Now::new(&clock)).and_then(Entry::expire_at), Some(9000));
        let one = run(&mut t, &clock, spop_cmd, "spop s").unwrap();
        assert!(!two.contains(std::str::from_utf8(one.as_bytes().unwrap()).unwrap()));
        assert_eq!(run(&mut t, &clock, spop_cmd, "spop s 0"), Ok(Reply::Array(vec![])));
        let rest = members(run(&mut t, &clock, spop_cmd, "spop s 10").unwrap());
        assert_eq!(rest.len(), 2);
        assert!(!t.contains(b"s", &Now::new(&clock)));
        assert_eq!(run(&mut t, &clock, spop_cmd, "spop s"), Ok(Reply::Nil));
        assert_eq!(run(&mut t, &clock, spop_cmd, "spop s 3"), Ok(Reply::Array(vec![])));
        for bad in ["spop s -1", "spop s abc"] {
            assert_eq!(
                run(&mut t, &clock, spop_cmd, bad),
                Err("ERR value is out of range, must be positive".into())
            );
        }
        assert_eq!(run(&mut t, &clock, spop_cmd, "spop s 1 2"), Err("ERR syntax error".into()));

        run(&mut t, &clock, sadd_cmd, "sadd r 1 2 3").unwrap();
        assert_eq!(
            members(read(&t, &clock, srandmember_cmd, "srandmember r 5").unwrap()),
            set_of(&["1", "2", "3"])
        );
        assert_eq!(
            read(&t, &clock, srandmember_cmd, "srandmember r -5").unwrap().as_array().unwrap().len(),
            5
        );
        assert_eq!(read(&t, &clock, srandmember_cmd, "srandmember nokey"), Ok(Reply::Nil));
        assert_eq!(read(&t, &clock, srandmember_cmd, "srandmember nokey 3"), Ok(Reply::Array(vec![])));
        assert_eq!(
            read(&t, &clock, srandmember_cmd, "srandmember r 1 2"),
            Err("ERR syntax error".into())
        );
        assert_eq!(
            read(&t, &clock, srandmember_cmd, "srandmember r -9223372036854775808"),
            Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into())
        );
    }

    #[test]
    fn algebra_checks_every_type_and_stores() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, sadd_cmd, "sadd a 1 2 3 x").unwrap();
        run(&mut t, &clock, sadd_cmd, "sadd b 2 3 4 x y").unwrap();
        t.insert(b"str", Value::Str(Str::from("v")), None);
        assert_eq!(
            members(read(&t, &clock, sinter_cmd, "sinter a b").unwrap()),
            set_of(&["2", "3", "x"])
        );
        assert_eq!(members(read(&t, &clock, sunion_cmd, "sunion a b nokey").unwrap()).len(), 6);
        assert_eq!(members(read(&t, &clock, sdiff_cmd, "sdiff a b").unwrap()), set_of(&["1"]));
        assert_eq!(members(read(&t, &clock, sdiff_cmd, "sdiff a nokey").unwrap()).len(), 4);
        assert_eq!(read(&t, &clock, sinter_cmd, "sinter a nokey"), Ok(Reply::Array(vec![])));
        for cmd in ["sinter nokey str", "sunion nokey str", "sdiff nokey str", "sinter a str"] {
            let f = match lookup(cmd.split(' ').next().unwrap().as_bytes()).unwrap().handler {
                crate::command::Handler::Read(f) => f,
                _ => unreachable!(),
            };
            assert_eq!(read(&t, &clock, f, cmd), Err(Error::WrongType.to_string()), "{cmd}");
        }
        assert_eq!(
            run(&mut t, &clock, sinterstore_cmd, "sinterstore d nokey str"),
            Err(Error::WrongType.to_string())
        );

        // STORE overwrites any type and drops the TTL; an empty result deletes the destination.
        t.set_expire(b"str", Some(50_000));
        assert_eq!(run(&mut t, &clock, sunionstore_cmd, "sunionstore str a b"), Ok(Reply::Int(6)));
        assert_eq!(t.get(b"str", &Now::new(&clock)).and_then(Entry::expire_at), None);
        assert_eq!(run(&mut t, &clock, sinterstore_cmd, "sinterstore str a nokey"), Ok(Reply::Int(0)));
        assert!(!t.contains(b"str", &Now::new(&clock)));
        assert_eq!(run(&mut t, &clock, sdiffstore_cmd, "sdiffstore a a b"), Ok(Reply::Int(1)));
        assert_eq!(members(read(&t, &clock, smembers_cmd, "smembers a").unwrap()), set_of(&["1"]));
    }

    #[test]
    fn smove_as_redis() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, sadd_cmd, "sadd s a b").unwrap();
        t.insert(b"str", Value::Str(Str::from("v")), None);
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove nokey str a"), Ok(Reply::Int(0)));
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove s str a"), Err(Error::WrongType.to_string()));
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove str s a"), Err(Error::WrongType.to_string()));
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove s s a"), Ok(Reply::Int(1)));
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove s s zz"), Ok(Reply::Int(0)));
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove s d zz"), Ok(Reply::Int(0)));
        assert!(!t.contains(b"d", &Now::new(&clock)));
        run(&mut t, &clock, sadd_cmd, "sadd d z").unwrap();
        t.set_expire(b"d", Some(7000));
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove s d a"), Ok(Reply::Int(1)));
        assert_eq!(run(&mut t, &clock, smove_cmd, "smove s d b"), Ok(Reply::Int(1)));
        assert!(!t.contains(b"s", &Now::new(&clock)));
        assert_eq!(
            members(read(&t, &clock, smembers_cmd, "smembers d").unwrap()),
            set_of(&["a", "b", "z"])
        );
        assert_eq!(t.get(b"d", &Now::new(&clock)).and_then(Entry::expire_at), Some(7000));
    }

    #[test]
    fn sintercard_arguments() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, sadd_cmd, "sadd a 1 2 3 4").unwrap();
        run(&mut t, &clock, sadd_cmd, "sadd b 2 3 4 5").unwrap();
        assert_eq!(read(&t, &clock, sintercard_cmd, "sintercard 2 a b"), Ok(Reply::Int(3)));
        assert_eq!(read(&t, &clock, sintercard_cmd, "sintercard 2 a b LIMIT 2"), Ok(Reply::Int(2)));
        assert_eq!(read(&t, &clock, sintercard_cmd, "sintercard 2 a b limit 0"), Ok(Reply::Int(3)));
        assert_eq!(
            read(&t, &clock, sintercard_cmd, "sintercard 2 a b LIMIT 1 LIMIT 5"),
            Ok(Reply::Int(3))
        );
        assert_eq!(read(&t, &clock, sintercard_cmd, "sintercard 2 a LIMIT"), Ok(Reply::Int(0)));
        for (cmd, err) in [
            ("sintercard 0 a", "ERR numkeys should be greater than 0"),
            ("sintercard -1 a", "ERR numkeys should be greater than 0"),
            ("sintercard abc a", "ERR numkeys should be greater than 0"),
            ("sintercard 3 a b", "ERR Number of keys can't be greater than number of args"),
            ("sintercard 1 a LIMIT -1", "ERR LIMIT can't be negative"),
            ("sintercard 1 a LIMIT abc", "ERR LIMIT can't be negative"),
            ("sintercard 1 a LIMIT", "ERR syntax error"),
            ("sintercard 1 a b", "ERR syntax error"),
        ] {
            assert_eq!(read(&t, &clock, sintercard_cmd, cmd), Err(err.to_string()), "{cmd}");
        }
        let spec = lookup(b"sintercard").unwrap();
        assert_eq!(spec.keys(&words("sintercard 2 a b LIMIT 1")).unwrap(), vec![&b"a"[..], b"b"]);
        assert_eq!(
            spec.keys(&words("sintercard 9 a")).unwrap_err().to_string(),
            "ERR Number of keys can't be greater than number of args"
        );
        assert_eq!(spec.slot(&words("sintercard 2 a b")), Err(Error::CrossSlot));
        assert_eq!(
            lookup(b"sinterstore").unwrap().slot(&words("sinterstore d a")),
            Err(Error::CrossSlot)
        );
        assert_eq!(
            lookup(b"smove").unwrap().slot(&words("smove {x}a {x}b m")).map(|s| s.is_some()),
            Ok(true)
        );
    }

    #[test]
    fn sscan_small_and_large() {
        let clock = Clock::manual(1000);
        let mut t = Table::new();
        run(&mut t, &clock, sadd_cmd, "sadd s a b c").unwrap();
        let r = read(&t, &clock, sscan_cmd, "sscan s 0 MATCH b COUNT 1").unwrap();
        assert_eq!(r, scan_reply(0, vec![Reply::bulk("b")]));
        assert_eq!(read(&t, &clock, sscan_cmd, "sscan s 0 type string"), Err("ERR syntax error".into()));
        assert_eq!(read(&t, &clock, sscan_cmd, "sscan nokey 0 count abc"), Ok(scan_reply(0, vec![])));
        let big: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
        let mut a: Vec<&[u8]> = vec![b"sadd", b"big"];
        a.extend(big.iter().map(|m| m.as_bytes()));
        sadd_cmd(&mut Db::One(&mut t), &Now::new(&clock), &a).unwrap();
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        loop {
            let r = read(&t, &clock, sscan_cmd, &format!("sscan big {cursor} MATCH m1*")).unwrap();
            let parts = r.as_array().unwrap();
            cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
            seen.extend(members(parts[1].clone()));
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 111);
    }
}
