//! `SORT` and `SORT_RO`, as Redis 7.0 runs them in a cluster.
//!
//! A cluster refuses the options that read other keys (`BY` with a pattern, `GET`): their keys
//! could live in any slot. What is left sorts the elements of a list, set or sorted set, as
//! numbers or (`ALPHA`) as strings, takes a `LIMIT`, and returns them or (`STORE`) replaces a
//! key in the same slot with them as a list.

use super::args::{int, is, parse_f64};
use super::{KeySpec, Spec, ONE_KEY};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::keyspace::events::{GENERIC, LIST};
use crate::keyspace::list::{ListEnd, ListValue};
use crate::keyspace::{Db, Lookup, Now, Value, View};
use crate::reply::Reply;
use std::cmp::Ordering;

/// What the options ask for.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// `BY` a constant (no `*`): keep the elements' own order.
    dont_sort: bool,
    /// `LIMIT offset count` (count -1: to the end).
    limit: (i64, i64),
    store: Option<&'a [u8]>,
}

/// Parses the options from argument 2 on, as Redis's `sortCommandGeneric` does (with the
/// cluster's refusals), before the key is looked at.
fn options<'a>(a: &[&'a [u8]], read_only: bool) -> Result<Options<'a>, Error> {
    let mut o = Options { desc: false, alpha: false, dont_sort: false, limit: (0, -1), store: None };
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        match a[j] {
            w if is(w, "asc") => o.desc = false,
            w if is(w, "desc") => o.desc = true,
            w if is(w, "alpha") => o.alpha = true,
            w if is(w, "limit") && left >= 2 => {
                o.limit = (int(a[j + 1])?, int(a[j + 2])?);
                j += 2;
            }
            w if is(w, "store") && !read_only && left >= 1 => {
                o.store = Some(a[j + 1]);
                j += 1;
            }
            w if is(w, "by") && left >= 1 => {
                if a[j + 1].contains(&b'*') {
                    return Err(Error::msg("BY option of SORT denied in Cluster mode."));
                }
                o.dont_sort = true;
                j += 1;
            }
            w if is(w, "get") && left >= 1 => {
                return Err(Error::msg("GET option of SORT denied in Cluster mode."));
            }
            _ => return Err(Error::syntax()),
        }
        j += 1;
    }
    Ok(o)
}

/// An element's numeric weight as C's `strtod` reads a C string: it ends at the first NUL,
/// nothing at all is 0, leading spaces are skipped, anything left over (or a NaN, or an
/// overflow) is an error.
fn weight(e: &[u8]) -> Option<f64> {
    let e = c_string(e);
    if e.is_empty() {
        return Some(0.0);
    }
    let start = e.iter().position(|b| !b" \t\n\x0B\x0C\r".contains(b))?;
    parse_f64(&e[start..])
}

/// `e` as C reads it: up to its first NUL.
fn c_string(e: &[u8]) -> &[u8] {
    &e[..e.iter().position(|&b| b == 0).unwrap_or(e.len())]
}

/// The elements `a` (a `SORT` or `SORT_RO`) answers with, and where to store them.
///
/// # Errors
/// Syntax and cluster refusals of the options, `WRONGTYPE`, an element that is not a number
/// (without `ALPHA`), a bad `LIMIT`.
fn sorted<'a>(
    t: &impl Lookup,
    now: &Now<'_>,
    a: &[&'a [u8]],
    read_only: bool,
) -> Result<(Vec<Bytes>, Option<&'a [u8]>), Error> {
    let mut o = options(a, read_only)?;
    let (mut elements, ordered): (Vec<Bytes>, bool) = match t.entry(a[1], now).map(|e| &e.value) {
        None => (Vec::new(), true),
        Some(Value::List(l)) => (l.iter().map(Bytes::copy_from).collect(), true),
        Some(Value::Set(s)) => (s.iter().map(|e| e.to_bytes()).collect(), false),
        Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| Bytes::copy_from(m.0)).collect(), true),
        Some(_) => return Err(Error::WrongType),
    };
    // A set has no order of its own to keep: stored, it is sorted as strings, so the stored
    // list does not depend on how the set happens to be laid out.
    if o.dont_sort && !ordered && o.store.is_some() {
        (o.dont_sort, o.alpha) = (false, true);
    }
    if o.dont_sort {
        // A list's or sorted set's own order, from the other end for `DESC`; a set's as is.
        if o.desc && ordered {
            elements.reverse();
        }
    } else if o.alpha {
        // Redis compares with `strcoll` (a C string: up to a NUL) when it replies and byte by
        // byte when it stores; elements equal to `strcoll` keep their order (glibc's sort is
        // a merge sort for arrays this size).
        let whole = o.store.is_some();
        elements.sort_by(|x, y| {
            let ord = if whole { x.cmp(y) } else { c_string(x).cmp(c_string(y)) };
            if o.desc {
                ord.reverse()
            } else {
                ord
            }
        });
    } else {
        let weights: Option<Vec<f64>> = elements.iter().map(|e| weight(e)).collect();
        let weights =
            weights.ok_or_else(|| Error::msg("One or more scores can't be converted into double"))?;
        let mut by: Vec<(f64, Bytes)> = weights.into_iter().zip(elements).collect();
        // Equal weights fall back to the strings, so the order is always the same.
        let cmp = |x: &(f64, Bytes), y: &(f64, Bytes)| {
            x.0.partial_cmp(&y.0).unwrap_or(Ordering::Equal).then_with(|| x.1.cmp(&y.1))
        };
        by.sort_unstable_by(|x, y| if o.desc { cmp(y, x) } else { cmp(x, y) });
        elements = by.into_iter().map(|(_, e)| e).collect();
    }
    // Redis's clamping of `LIMIT offset count` to the elements there are.
    let n = elements.len() as i64;
    let (offset, count) = o.limit;
    let mut start = offset.clamp(0, n);
    let count = count.clamp(-1, n);
    let mut end = if count < 0 { n - 1 } else { start + count - 1 };
    if start >= n {
        (start, end) = (n - 1, n - 2);
    }
    end = end.min(n - 1);
    let taken =
        if end >= start { elements.drain(start as usize..=end as usize).collect() } else { Vec::new() };
    Ok((taken, o.store))
}

/// `SORT key [BY constant] [LIMIT offset count] [ASC|DESC] [ALPHA] [STORE destination]`.
pub(crate) fn sort_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (elements, store) = sorted(t, now, a, false)?;
    let Some(dst) = store else {
        return Ok(Reply::Array(elements.into_iter().map(Reply::Bulk).collect()));
    };
    let n = elements.len();
    let existed = t.remove(dst).is_some();
    if n > 0 {
        let mut list = ListValue::new();
        elements.into_iter().for_each(|e| list.push_bytes(ListEnd::Right, e));
        t.insert(dst, Value::List(Box::new(list)), None);
        // A caller blocked on the destination (`BLPOP`) is served by the new list.
        t.signal_ready(dst);
        now.notify(LIST, "sortstore", dst);
    } else if existed {
        now.notify(GENERIC, "del", dst);
    }
    Ok(Reply::Int(n as i64))
}

/// `SORT_RO`: `SORT` without `STORE`.
pub(crate) fn sort_ro_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (elements, _) = sorted(t, now, a, true)?;
    Ok(Reply::Array(elements.into_iter().map(Reply::Bulk).collect()))
}

/// The keys of `SORT`: the sorted key and the last `STORE` destination (Redis's
/// `sortGetKeys`, which skips the arguments of `LIMIT`, `GET` and `BY`).
fn sort_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    let mut keys = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < a.len() {
        match a[i] {
            w if is(w, "limit") => i += 2,
            w if is(w, "get") || is(w, "by") => i += 1,
            w if is(w, "store") && i + 1 < a.len() => store = Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    keys.extend(store);
    Ok(keys)
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("sort", -2, KeySpec::Custom(sort_keys), sort_cmd),
    Spec::read("sort_ro", -2, ONE_KEY, sort_ro_cmd),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_read_as_strtod_reads() {
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b" \t1.5"), Some(1.5));
        assert_eq!(weight(b"2\x00junk"), Some(2.0), "a C string ends at its NUL");
        assert_eq!(weight(b"   "), None, "spaces alone convert nothing");
        assert_eq!(weight(b"1 "), None);
        assert_eq!(weight(b"nan"), None);
        assert_eq!(weight(b"1e400"), None, "overflow");
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn keys_are_the_source_and_the_last_store() {
        let a: Vec<&[u8]> =
            vec![b"SORT", b"k", b"LIMIT", b"store", b"1", b"STORE", b"d1", b"store", b"d2"];
        assert_eq!(sort_keys(&a), Ok(vec![1, 8]));
        let a: Vec<&[u8]> = vec![b"SORT", b"k", b"BY", b"store"];
        assert_eq!(sort_keys(&a), Ok(vec![1]));
    }
}
