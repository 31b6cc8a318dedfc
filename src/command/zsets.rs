//! Sorted set commands: `ZADD` and its options, scores and ranks, ranges by rank, score and
//! lexicographic order (`ZRANGESTORE` too), removals, pops (`ZMPOP`, and the blocking
//! `BZPOPMIN`/`BZPOPMAX`/`BZMPOP`), random members, unions, intersections and differences
//! (`*STORE` forms, `ZINTERCARD`), `ZSCAN`.
//!
//! Replies are Redis 7.0's in RESP2: scores are bulk strings printed with `%.17g` (`0.1` is
//! `"0.10000000000000001"`, see [`format_score`]), `WITHSCORES` replies are flat arrays.
//!
//! A write that would leave a set as it was never takes it mutably: each looks at the set
//! read-only first, so `WATCH` sees exactly the modifications Redis signals.

use super::args::{int, is, parse_f64};
use super::hashes::{parse_cursor, ElementScan};
use super::{KeySpec, Spec, TimeoutArg, ALL_BUT_LAST, ONE_KEY};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::keyspace::events::{GENERIC, ZSET};
use crate::keyspace::set::SetValue;
use crate::keyspace::zset::{LexBound, LexRange, Member, Rng, ScoreRange, ZSetValue};
use crate::keyspace::{Db, Entry, Lookup, Now, Value, View};
use crate::reply::Reply;
use std::collections::{HashMap, HashSet};
use std::ops::Range;

// ----- scores: parsing and formatting -----

/// Formats a score as Redis 7.0 replies with it: C's `%.17g` (17 significant digits, trailing
/// zeros dropped, exponent form below 1e-4 and from 1e17 on), `inf` and `-inf`.
pub(crate) fn format_score(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's exact formatting rounds half to even, as glibc's printf does.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent digits");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if v < 0.0 {
        out.push('-');
    }
    let push_trimmed = |out: &mut String, frac: &[u8]| {
        let keep = frac.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
        if keep > 0 {
            out.push('.');
            out.extend(frac[..keep].iter().map(|&d| d as char));
        }
    };
    if (-4..17).contains(&exp) {
        if exp >= 0 {
            let point = exp as usize + 1;
            out.extend(digits[..point].iter().map(|&d| d as char));
            push_trimmed(&mut out, &digits[point..]);
        } else {
            out.push('0');
            let mut frac = vec![b'0'; (-exp - 1) as usize];
            frac.extend_from_slice(&digits);
            push_trimmed(&mut out, &frac);
        }
    } else {
        out.push(digits[0] as char);
        push_trimmed(&mut out, &digits[1..]);
        out.push_str(&format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()));
    }
    out
}

/// A score as a bulk reply.
fn score_reply(v: f64) -> Reply {
    Reply::Bulk(Bytes::from(format_score(v)))
}

/// A score as `ZSCAN` shows it for a compact set: Redis reads it back from the listpack, which
/// keeps integral scores within ±2^62 as integers (`1e17` shows as `100000000000000000`).
fn compact_score_text(v: f64) -> String {
    const LIMIT: f64 = 4_611_686_018_427_387_904.0; // (double)(LLONG_MAX / 2)
    if (-LIMIT..=LIMIT).contains(&v) && v == v.trunc() {
        (v as i64).to_string()
    } else {
        format_score(v)
    }
}

/// Parses a score as Redis's `string2d` does (`strtod` on the whole argument): as
/// [`parse_f64`], and a non-zero value too small for a double (`1e-400`) is refused.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    let v = parse_f64(arg)?;
    if v == 0.0 && has_nonzero_mantissa(arg) {
        return None; // strtod reports ERANGE for an underflow to zero
    }
    Some(v)
}

/// True if the digits before the exponent of a float literal are not all zeros.
fn has_nonzero_mantissa(arg: &[u8]) -> bool {
    let s = match arg {
        [b'-' | b'+', rest @ ..] => rest,
        _ => arg,
    };
    let (digits, exp): (&[u8], &[u8]) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (rest, b"pP"),
        _ => (s, b"eE"),
    };
    digits.iter().take_while(|c| !exp.contains(c)).any(|&c| c.is_ascii_alphanumeric() && c != b'0')
}

/// [`parse_score`] with Redis's error.
fn score_arg(arg: &[u8]) -> Result<f64, Error> {
    parse_score(arg).ok_or_else(Error::not_float)
}

fn nan_error() -> Error {
    Error::msg("resulting score is not a number (NaN)")
}

/// A range end as Redis's `zslParseRange` reads it: plain `strtod`, so leading spaces are
/// skipped, an empty string is 0, overflow is infinite and underflow is 0; only a trailing
/// byte or NaN is refused. Parsing stops at a NUL byte, as C does.
fn parse_range_float(arg: &[u8]) -> Option<f64> {
    let arg = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    if arg.is_empty() {
        return Some(0.0);
    }
    let start = arg.iter().position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let s = &arg[start..];
    parse_f64(s).or_else(|| std::str::from_utf8(s).ok()?.parse::<f64>().ok().filter(|v| !v.is_nan()))
}

/// Parses `min max` of a score range (`(` marks an exclusive end).
pub(crate) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
    let bound = |a: &[u8]| match a {
        [b'(', rest @ ..] => parse_range_float(rest).map(|v| (v, true)),
        _ => parse_range_float(a).map(|v| (v, false)),
    };
    match (bound(min), bound(max)) {
        (Some((min, min_exclusive)), Some((max, max_exclusive))) => {
            Ok(ScoreRange { min, min_exclusive, max, max_exclusive })
        }
        _ => Err(Error::msg("min or max is not a float")),
    }
}

/// One end of a lexicographic range, as Redis's `zslParseLexRangeItem`.
fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    // `+` and `-` must end there; C sees a NUL byte as the end too.
    let alone = arg.get(1).map_or(true, |&b| b == 0);
    match arg.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Exclusive(Bytes::copy_from(&arg[1..]))),
        b'[' => Some(LexBound::Inclusive(Bytes::copy_from(&arg[1..]))),
        _ => None,
    }
}

/// Parses `min max` of a lexicographic range.
pub(crate) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Error> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(Error::msg("min or max not valid string range item")),
    }
}

// ----- looking sets up -----

/// The sorted set in `entry`, or `WRONGTYPE`.
fn as_zset(entry: &Entry) -> Result<&ZSetValue, Error> {
    match &entry.value {
        Value::ZSet(z) => Ok(z),
        _ => Err(Error::WrongType),
    }
}

/// The sorted set at `key`, if any; `WRONGTYPE` for another type.
fn zset<'a>(t: &'a impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Option<&'a ZSetValue>, Error> {
    t.entry(key, now).map(as_zset).transpose()
}

/// The sorted set at `key` for changing it; the caller has seen it exists and is a set.
fn zset_mut<'a>(t: &'a mut Db<'_>, now: &Now<'_>, key: &[u8]) -> &'a mut ZSetValue {
    match t.get_mut(key, now).map(|e| &mut e.value) {
        Some(Value::ZSet(z)) => z,
        _ => unreachable!("checked before"),
    }
}

/// Deletes `key` if its set has been emptied, as Redis deletes empty sets.
fn drop_if_empty(t: &mut Db<'_>, now: &Now<'_>, key: &[u8]) {
    if matches!(zset(&*t, now, key), Ok(Some(z)) if z.is_empty()) {
        t.remove(key);
        now.notify(GENERIC, "del", key);
    }
}

/// Member/score pairs as a flat reply, scores included if `withscores`.
fn pairs_reply(pairs: Vec<(Bytes, f64)>, withscores: bool) -> Reply {
    let mut out = Vec::with_capacity(pairs.len() * (1 + usize::from(withscores)));
    for (m, s) in pairs {
        out.push(Reply::Bulk(m));
        if withscores {
            out.push(score_reply(s));
        }
    }
    Reply::Array(out)
}

// ----- ZADD, ZINCRBY -----

/// The options of `ZADD`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ZaddFlags {
    /// Only add new members.
    pub(crate) nx: bool,
    /// Only update existing members.
    pub(crate) xx: bool,
    /// Only update to a greater score.
    pub(crate) gt: bool,
    /// Only update to a lower score.
    pub(crate) lt: bool,
    /// Count changed members too in the reply.
    pub(crate) ch: bool,
    /// Add the score to the current one (`ZINCRBY`).
    pub(crate) incr: bool,
}

impl ZaddFlags {
    /// Redis's compatibility checks, in its order, for `pairs` score/member pairs.
    fn check(&self, pairs: usize) -> Result<(), Error> {
        if self.nx && self.xx {
            return Err(Error::msg("XX and NX options at the same time are not compatible"));
        }
        if [self.gt, self.lt, self.nx].iter().filter(|&&set| set).count() > 1 {
            return Err(Error::msg("GT, LT, and/or NX options at the same time are not compatible"));
        }
        if self.incr && pairs > 1 {
            return Err(Error::msg("INCR option supports a single increment-element pair"));
        }
        Ok(())
    }
}

/// What `ZADD` did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Zadded {
    /// New members.
    pub(crate) added: usize,
    /// Members whose score changed.
    pub(crate) updated: usize,
    /// Pairs not skipped by `NX`/`XX`/`GT`/`LT`.
    pub(crate) processed: usize,
    /// The score of the last processed pair (the reply of `INCR`).
    pub(crate) score: f64,
}

/// What one score/member pair does to a set (Redis's `zsetAdd`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Skipped by an option.
    Skip,
    /// Processed, but the score stays.
    Same(f64),
    /// The member's score becomes this.
    Update(f64),
    /// The member is added with this score.
    Add(f64),
}

fn zadd_step(current: Option<f64>, score: f64, f: &ZaddFlags) -> Result<Step, Error> {
    let Some(cur) = current else {
        return Ok(if f.xx { Step::Skip } else { Step::Add(score) });
    };
    if f.nx {
        return Ok(Step::Skip);
    }
    let score = if f.incr { score + cur } else { score };
    if score.is_nan() {
        return Err(nan_error());
    }
    if (f.lt && score >= cur) || (f.gt && score <= cur) {
        return Ok(Step::Skip);
    }
    Ok(if score == cur { Step::Same(score) } else { Step::Update(score) })
}

/// `ZADD`: applies score/member `pairs` to the set at `key` (created if missing, unless
/// `XX`). The flags must have passed Redis's compatibility checks; a NaN score is refused.
pub(crate) fn zadd(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    pairs: &[(f64, &[u8])],
    f: ZaddFlags,
) -> Result<Zadded, Error> {
    let r = zadd_quiet(t, now, key, pairs, f)?;
    if r.added + r.updated > 0 {
        now.notify(ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    Ok(r)
}

/// [`zadd`] without its keyspace event.
fn zadd_quiet(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    pairs: &[(f64, &[u8])],
    f: ZaddFlags,
) -> Result<Zadded, Error> {
    if pairs.iter().any(|(s, _)| s.is_nan()) {
        return Err(Error::not_float());
    }
    let mut r = Zadded::default();
    match zset(&*t, now, key)? {
        // Nothing to add must not leave an empty set behind (typed callers can ask for it).
        None if f.xx || pairs.is_empty() => return Ok(r),
        None => {
            let mut z = ZSetValue::for_first_member(pairs.first().map_or(0, |(_, m)| m.len()));
            apply_zadd(&mut z, pairs, &f, &mut r)?;
            t.insert(key, Value::ZSet(Box::new(z)), None);
            t.signal_ready(key);
            return Ok(r);
        }
        Some(z) => {
            // Until a pair changes the set, each sees it as it was: try them read-only, and
            // take the set mutably only if one will change it.
            let mut changes = false;
            for &(score, member) in pairs {
                match zadd_step(z.score(member), score, &f)? {
                    Step::Skip => {}
                    Step::Same(s) => {
                        r.processed += 1;
                        r.score = s;
                    }
                    Step::Update(_) | Step::Add(_) => {
                        changes = true;
                        break;
                    }
                }
            }
            if !changes {
                return Ok(r);
            }
            r = Zadded::default();
        }
    }
    apply_zadd(zset_mut(t, now, key), pairs, &f, &mut r)?;
    if r.added > 0 {
        t.signal_ready(key);
    }
    Ok(r)
}

fn apply_zadd(
    z: &mut ZSetValue,
    pairs: &[(f64, &[u8])],
    f: &ZaddFlags,
    r: &mut Zadded,
) -> Result<(), Error> {
    for &(score, member) in pairs {
        match zadd_step(z.score(member), score, f)? {
            Step::Skip => continue,
            Step::Same(s) => r.score = s,
            Step::Update(s) => {
                z.insert(member, s);
                r.updated += 1;
                r.score = s;
            }
            Step::Add(s) => {
                z.insert(member, s);
                r.added += 1;
                r.score = s;
            }
        }
        r.processed += 1;
    }
    Ok(())
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...`, and `ZINCRBY key increment
/// member`, which Redis parses with the same code (so `ZINCRBY k nx m` is a syntax error).
fn zadd_generic(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]], incr: bool) -> Result<Reply, Error> {
    let mut f = ZaddFlags { incr, ..ZaddFlags::default() };
    let mut i = 2;
    while i < a.len() {
        let o = a[i];
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            f.ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &a[i..];
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(Error::syntax());
    }
    f.check(rest.len() / 2)?;
    // Every score is checked before anything changes.
    let pairs: Vec<(f64, &[u8])> =
        rest.chunks(2).map(|p| Ok((score_arg(p[0])?, p[1]))).collect::<Result<_, Error>>()?;
    let r = zadd(t, now, a[1], &pairs, f)?;
    Ok(if f.incr {
        if r.processed > 0 {
            score_reply(r.score)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int((if f.ch { r.added + r.updated } else { r.added }) as i64)
    })
}

fn zadd_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    zadd_generic(t, now, a, false)
}

fn zincrby_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    zadd_generic(t, now, a, true)
}

/// `ZINCRBY`: adds `delta` to the score of `member` (0 if absent) and returns the new score.
pub(crate) fn zincr_by(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    delta: f64,
    member: &[u8],
) -> Result<f64, Error> {
    let f = ZaddFlags { incr: true, ..ZaddFlags::default() };
    Ok(zadd(t, now, key, &[(delta, member)], f)?.score)
}

// ----- single members -----

/// `ZREM`: removes `members`; returns how many were there. An emptied set is deleted.
pub(crate) fn zrem<M: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    members: &[M],
) -> Result<usize, Error> {
    let Some(z) = zset(&*t, now, key)? else { return Ok(0) };
    if !members.iter().any(|m| z.score(m.as_ref()).is_some()) {
        return Ok(0);
    }
    let z = zset_mut(t, now, key);
    let removed = members.iter().filter(|m| z.remove(m.as_ref()).is_some()).count();
    now.notify(ZSET, "zrem", key);
    drop_if_empty(t, now, key);
    Ok(removed)
}

/// `ZSCORE`.
pub(crate) fn zscore(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    member: &[u8],
) -> Result<Option<f64>, Error> {
    Ok(zset(t, now, key)?.and_then(|z| z.score(member)))
}

/// `ZCARD`.
pub(crate) fn zcard(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<usize, Error> {
    Ok(zset(t, now, key)?.map_or(0, ZSetValue::len))
}

/// `ZRANK` (or `ZREVRANK` if `rev`): the 0-based position of `member`.
pub(crate) fn zrank(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    member: &[u8],
    rev: bool,
) -> Result<Option<usize>, Error> {
    let Some(z) = zset(t, now, key)? else { return Ok(None) };
    Ok(z.rank(member).map(|r| if rev { z.len() - 1 - r } else { r }))
}

fn zrem_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(zrem(t, now, a[1], &a[2..])? as i64))
}

fn zscore_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(zscore(t, now, a[1], a[2])?.map_or(Reply::Nil, score_reply))
}

fn zmscore_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let z = zset(t, now, a[1])?;
    let scores = a[2..].iter().map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, score_reply));
    Ok(Reply::Array(scores.collect()))
}

fn zcard_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(zcard(t, now, a[1])? as i64))
}

fn zrank_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(zrank(t, now, a[1], a[2], false)?.map_or(Reply::Nil, |r| Reply::Int(r as i64)))
}

fn zrevrank_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(zrank(t, now, a[1], a[2], true)?.map_or(Reply::Nil, |r| Reply::Int(r as i64)))
}

// ----- ranges -----

/// What a range selects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RangeBy {
    /// Ranks `start..=stop`, negative ones counted from the end (counted from the other end
    /// when reversed, as `ZREVRANGE`).
    Rank(i64, i64),
    /// Scores.
    Score(ScoreRange),
    /// Members, for sets whose members share a score.
    Lex(LexRange),
}

/// `LIMIT offset count` of score and lex ranges, with Redis's quirks: a negative offset
/// selects nothing, a negative count everything.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limit {
    pub(crate) offset: i64,
    pub(crate) count: i64,
}

impl Limit {
    /// No limit.
    pub(crate) const NONE: Limit = Limit { offset: 0, count: -1 };
}

/// Redis's clamping of rank indexes: the ranks selected, or None when empty.
fn clamp_ranks(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// The ranks `by` selects in `z`, and in which direction to walk them.
fn select(z: &ZSetValue, by: &RangeBy, rev: bool, limit: Limit) -> Range<usize> {
    let len = z.len();
    let found = match by {
        RangeBy::Rank(start, stop) => {
            let Some((start, stop)) = clamp_ranks(*start, *stop, len) else { return 0..0 };
            return if rev { len - 1 - stop..len - start } else { start..stop + 1 };
        }
        RangeBy::Score(r) => z.score_ranks(r),
        RangeBy::Lex(r) => return select_lex(z, r, rev, limit),
    };
    // As Redis: an offset at or past the set's length answers at once; a negative one skips
    // every element.
    if limit.offset < 0 || (limit.offset > 0 && limit.offset as u64 >= len as u64) {
        return 0..0;
    }
    let skip = (limit.offset as usize).min(found.len());
    let rest = found.len() - skip;
    let take = if limit.count < 0 { rest } else { (limit.count as u64).min(rest as u64) as usize };
    if rev {
        found.end - skip - take..found.end - skip
    } else {
        found.start + skip..found.start + skip + take
    }
}

/// A lexicographic selection, walked as Redis walks it: from the first member in range (the
/// last one if `rev`), `offset` steps without looking, then on while members stay on the
/// near side of the far end. Over members sharing one score this is the run in range; over
/// mixed scores it reproduces Redis's listpack answer.
fn select_lex(z: &ZSetValue, r: &LexRange, rev: bool, limit: Limit) -> Range<usize> {
    let run = z.lex_ranks(r, rev);
    if run.is_empty() || limit.offset < 0 {
        return 0..0;
    }
    let offset = limit.offset as u64;
    let most = if limit.count < 0 { usize::MAX } else { limit.count as usize };
    if rev {
        let Some(pos) = (run.end as u64 - 1).checked_sub(offset) else { return 0..0 };
        let pos = pos as usize;
        let n = z.range(0..pos + 1, true).take(most).take_while(|(m, _)| r.gte_min(m)).count();
        pos + 1 - n..pos + 1
    } else {
        let pos = run.start as u64 + offset;
        if pos >= z.len() as u64 {
            return 0..0;
        }
        let pos = pos as usize;
        let n = z.range(pos..z.len(), false).take(most).take_while(|(m, _)| r.lte_max(m)).count();
        pos..pos + n
    }
}

/// `ZRANGE` and friends: the members `by` selects, with their scores, in reply order.
pub(crate) fn zrange(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    by: &RangeBy,
    rev: bool,
    limit: Limit,
) -> Result<Vec<(Bytes, f64)>, Error> {
    let Some(z) = zset(t, now, key)? else { return Ok(Vec::new()) };
    Ok(z.range(select(z, by, rev, limit), rev).map(|(m, s)| (m.to_bytes(), s)).collect())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed `ZRANGE`-family command.
struct RangeCmd {
    by: RangeBy,
    rev: bool,
    limit: Limit,
    withscores: bool,
}

/// Parses Redis's `zrangeGenericCommand` arguments from `a[first]` (the source key) on.
/// `kind`/`rev` are fixed by the command's name (`ZREVRANGEBYSCORE`) or `Auto`/None for
/// `ZRANGE`, which takes them as options. `store` (`ZRANGESTORE`) refuses `WITHSCORES`.
fn parse_range(
    a: &[&[u8]],
    first: usize,
    mut kind: Kind,
    rev: Option<bool>,
    store: bool,
) -> Result<RangeCmd, Error> {
    let mut rev_set = rev;
    let (mut withscores, mut limit) = (false, None);
    let mut j = first + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = a[j];
        if !store && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && left >= 2 {
            limit = Some(Limit { offset: int(a[j + 1])?, count: int(a[j + 2])? });
            j += 2;
        } else if rev_set.is_none() && is(o, "rev") {
            rev_set = Some(true);
        } else if kind == Kind::Auto && is(o, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && is(o, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(Error::syntax());
        }
        j += 1;
    }
    let rev = rev_set.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    // Redis only notices a LIMIT whose count is not -1.
    let limit = limit.unwrap_or(Limit::NONE);
    if limit.count != -1 && kind == Kind::Rank {
        return Err(Error::msg(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(Error::msg("syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    // Reversed score and lex ranges are given max first.
    let (lo, hi) = if rev && kind != Kind::Rank {
        (a[first + 2], a[first + 1])
    } else {
        (a[first + 1], a[first + 2])
    };
    let by = match kind {
        Kind::Score => RangeBy::Score(parse_score_range(lo, hi)?),
        Kind::Lex => RangeBy::Lex(parse_lex_range(lo, hi)?),
        _ => RangeBy::Rank(int(lo)?, int(hi)?),
    };
    Ok(RangeCmd { by, rev, limit, withscores })
}

fn range_generic(
    t: &View<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
    kind: Kind,
    rev: Option<bool>,
) -> Result<Reply, Error> {
    let c = parse_range(a, 1, kind, rev, false)?;
    let pairs = zrange(t, now, a[1], &c.by, c.rev, c.limit)?;
    Ok(pairs_reply(pairs, c.withscores))
}

fn zrange_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    range_generic(t, now, a, Kind::Auto, None)
}

fn zrevrange_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    range_generic(t, now, a, Kind::Rank, Some(true))
}

fn zrangebyscore_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    range_generic(t, now, a, Kind::Score, Some(false))
}

fn zrevrangebyscore_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    range_generic(t, now, a, Kind::Score, Some(true))
}

fn zrangebylex_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    range_generic(t, now, a, Kind::Lex, Some(false))
}

fn zrevrangebylex_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    range_generic(t, now, a, Kind::Lex, Some(true))
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`.
fn zrangestore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let c = parse_range(a, 2, Kind::Auto, None, true)?;
    let pairs = zrange(&*t, now, a[2], &c.by, c.rev, c.limit)?;
    Ok(Reply::Int(store(t, now, a[1], pairs, "zrangestore") as i64))
}

/// `ZCOUNT`: members with scores in `r`.
pub(crate) fn zcount(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    r: &ScoreRange,
) -> Result<usize, Error> {
    Ok(zset(t, now, key)?.map_or(0, |z| z.score_ranks(r).len()))
}

fn zcount_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let r = parse_score_range(a[2], a[3])?;
    Ok(Reply::Int(zcount(t, now, a[1], &r)? as i64))
}

fn zlexcount_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let r = parse_lex_range(a[2], a[3])?;
    Ok(Reply::Int(zset(t, now, a[1])?.map_or(0, |z| z.lex_ranks(&r, false).len()) as i64))
}

/// `ZREMRANGEBYRANK`/`BYSCORE`/`BYLEX`: removes what `by` selects (walking up); returns how
/// many. An emptied set is deleted.
pub(crate) fn zremrange(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    by: &RangeBy,
) -> Result<usize, Error> {
    let Some(z) = zset(&*t, now, key)? else { return Ok(0) };
    let ranks = select(z, by, false, Limit::NONE);
    if ranks.is_empty() {
        return Ok(0);
    }
    let removed = zset_mut(t, now, key).remove_ranks(ranks).len();
    let event = match by {
        RangeBy::Rank(..) => "zremrangebyrank",
        RangeBy::Score(_) => "zremrangebyscore",
        RangeBy::Lex(_) => "zremrangebylex",
    };
    now.notify(ZSET, event, key);
    drop_if_empty(t, now, key);
    Ok(removed)
}

fn zremrangebyrank_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let by = RangeBy::Rank(int(a[2])?, int(a[3])?);
    Ok(Reply::Int(zremrange(t, now, a[1], &by)? as i64))
}

fn zremrangebyscore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let by = RangeBy::Score(parse_score_range(a[2], a[3])?);
    Ok(Reply::Int(zremrange(t, now, a[1], &by)? as i64))
}

fn zremrangebylex_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let by = RangeBy::Lex(parse_lex_range(a[2], a[3])?);
    Ok(Reply::Int(zremrange(t, now, a[1], &by)? as i64))
}

// ----- pops -----

/// `ZPOPMIN` (or `ZPOPMAX` if `max`): removes and returns up to `count` members, lowest
/// (highest) first. An emptied set is deleted.
pub(crate) fn zpop(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    count: usize,
    max: bool,
) -> Result<Vec<(Bytes, f64)>, Error> {
    let Some(z) = zset(&*t, now, key)? else { return Ok(Vec::new()) };
    let (len, n) = (z.len(), count.min(z.len()));
    if n == 0 {
        return Ok(Vec::new());
    }
    let z = zset_mut(t, now, key);
    let popped = if max {
        let mut v = z.remove_ranks(len - n..len);
        v.reverse();
        v
    } else {
        z.remove_ranks(0..n)
    };
    now.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    drop_if_empty(t, now, key);
    Ok(popped)
}

/// `getPositiveLongFromObjectOrReply` with its message for both a non-integer and a
/// negative value.
fn positive_count(arg: &[u8]) -> Result<usize, Error> {
    match super::args::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(Error::msg("value is out of range, must be positive")),
    }
}

fn zpop_generic(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]], max: bool) -> Result<Reply, Error> {
    if a.len() > 3 {
        return Err(Error::syntax());
    }
    let count = match a.get(2) {
        Some(c) => positive_count(c)?,
        None => 1,
    };
    Ok(pairs_reply(zpop(t, now, a[1], count, max)?, true))
}

fn zpopmin_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    zpop_generic(t, now, a, false)
}

fn zpopmax_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    zpop_generic(t, now, a, true)
}

/// `BZPOPMIN`/`BZPOPMAX` tried once: pops from the first non-empty set among the keys, or
/// None to block. A key of another type before it is `WRONGTYPE`.
fn bzpop(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]], max: bool) -> Result<Option<Reply>, Error> {
    for &key in &a[1..a.len() - 1] {
        if zset(&*t, now, key)?.map_or(true, ZSetValue::is_empty) {
            continue;
        }
        if let Some((m, s)) = zpop(t, now, key, 1, max)?.pop() {
            return Ok(Some(Reply::Array(vec![Reply::bulk(key), Reply::Bulk(m), score_reply(s)])));
        }
    }
    Ok(None)
}

fn bzpopmin_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    bzpop(t, now, a, false)
}

fn bzpopmax_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    bzpop(t, now, a, true)
}

/// A parsed `ZMPOP`/`BZMPOP`: the keys' positions, which end, how many.
struct Mpop {
    keys: Range<usize>,
    max: bool,
    count: usize,
}

/// Parses `numkeys key... MIN|MAX [COUNT count]` from `a[at]`, as Redis's
/// `zmpopGenericCommand`, every check in its order.
fn parse_mpop(a: &[&[u8]], at: usize) -> Result<Mpop, Error> {
    let numkeys = super::args::at_least_one(a[at], "numkeys should be greater than 0")? as u64;
    let where_at = (at as u64 + numkeys + 1).min(a.len() as u64) as usize;
    let max = match a.get(where_at) {
        Some(w) if is(w, "min") => false,
        Some(w) if is(w, "max") => true,
        _ => return Err(Error::syntax()),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        if count.is_none() && is(a[j], "count") && j + 1 < a.len() {
            match super::args::parse_i64(a[j + 1]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(Error::msg("count should be greater than 0")),
            }
            j += 2;
        } else {
            return Err(Error::syntax());
        }
    }
    Ok(Mpop { keys: at + 1..where_at, max, count: count.unwrap_or(1) })
}

fn zmpop_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    Ok(parse_mpop(a, 1)?.keys.collect())
}

fn bzmpop_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    Ok(parse_mpop(a, 2)?.keys.collect())
}

/// `ZMPOP`/`BZMPOP` tried once: pops from the first set among the keys that exists (a key of
/// another type there is `WRONGTYPE`); None if none does.
fn mpop(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]], at: usize) -> Result<Option<Reply>, Error> {
    let p = parse_mpop(a, at)?;
    for &key in &a[p.keys] {
        if zset(&*t, now, key)?.map_or(true, ZSetValue::is_empty) {
            continue;
        }
        let popped = zpop(t, now, key, p.count, p.max)?;
        let items = popped.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), score_reply(s)]));
        return Ok(Some(Reply::Array(vec![Reply::bulk(key), Reply::Array(items.collect())])));
    }
    Ok(None)
}

fn zmpop_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(mpop(t, now, a, 1)?.unwrap_or(Reply::Nil))
}

fn bzmpop_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    mpop(t, now, a, 2)
}

// ----- ZRANDMEMBER -----

/// `ZRANDMEMBER key count`: `count` distinct members (all of them, highest first, if the set
/// is not larger), or with a negative count that many members drawn with repeats.
pub(crate) fn zrandmember(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    count: i64,
) -> Result<Vec<(Bytes, f64)>, Error> {
    let Some(z) = zset(t, now, key)? else { return Ok(Vec::new()) };
    let (len, n) = (z.len(), count.unsigned_abs());
    let mut rng = Rng::new();
    let at = |r: usize| z.get(r).map(|(m, s)| (m.to_bytes(), s)).expect("rank in range");
    if n == 0 || len == 0 {
        return Ok(Vec::new());
    }
    if count < 0 || n == 1 {
        // Draw by draw, without a preallocation a huge count could not get.
        return Ok((0..n).map(|_| at(rng.below(len as u64) as usize)).collect());
    }
    if n >= len as u64 {
        // Redis iterates the whole set from its tail here.
        return Ok(z.range(0..len, true).map(|(m, s)| (m.to_bytes(), s)).collect());
    }
    let n = n as usize;
    let ranks: Vec<usize> = if n * 3 > len {
        // A partial Fisher-Yates shuffle of every rank.
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..n {
            let j = i + rng.below((len - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(n);
        all
    } else {
        // Few of many: draw until `n` distinct ranks are found.
        let mut seen = HashSet::with_capacity(n);
        let mut picked = Vec::with_capacity(n);
        while picked.len() < n {
            let r = rng.below(len as u64) as usize;
            if seen.insert(r) {
                picked.push(r);
            }
        }
        picked
    };
    Ok(ranks.into_iter().map(at).collect())
}

fn zrandmember_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    if a.len() < 3 {
        let z = zset(t, now, a[1])?;
        let mut rng = Rng::new();
        return Ok(match z {
            Some(z) if !z.is_empty() => {
                Reply::Bulk(z.get(rng.below(z.len() as u64) as usize).expect("in range").0.to_bytes())
            }
            _ => Reply::Nil,
        });
    }
    let count = int(a[2])?;
    if count == i64::MIN {
        return Err(Error::msg(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match a {
        [_, _, _] => false,
        [_, _, _, w] if is(w, "withscores") => true,
        _ => return Err(Error::syntax()),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(Error::msg("value is out of range"));
    }
    Ok(pairs_reply(zrandmember(t, now, a[1], count)?, withscores))
}

// ----- unions, intersections, differences -----

/// How `ZUNIONSTORE`/`ZINTERSTORE` combine the scores of a member found in several inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Aggregate {
    /// Add them (the default).
    #[default]
    Sum,
    /// Keep the lowest.
    Min,
    /// Keep the highest.
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: `inf + -inf` sums to 0, not NaN.
    fn apply(self, target: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *target += v;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if v < *target {
                    *target = v;
                }
            }
            Aggregate::Max => {
                if v > *target {
                    *target = v;
                }
            }
        }
    }
}

/// Which combination of the inputs (`Union`, `Inter`, `Diff`: for `Diff`, the members of
/// the first input and of no other, scores from the first).
pub(crate) use super::sets::SetOp;

/// One input: a sorted set, a plain set (every member scores 1), or a missing key.
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    Sorted(&'a ZSetValue),
    Plain(&'a SetValue),
}

impl<'a> Source<'a> {
    fn of(t: &'a impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Source<'a>, Error> {
        match t.entry(key, now) {
            None => Ok(Source::Missing),
            Some(e) => match &e.value {
                Value::ZSet(z) => Ok(Source::Sorted(z)),
                Value::Set(s) => Ok(Source::Plain(s)),
                _ => Err(Error::WrongType),
            },
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Sorted(z) => z.len(),
            Source::Plain(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Sorted(z) => z.score(member),
            Source::Plain(s) => s.contains(member).then_some(1.0),
        }
    }

    /// Every member with its score; a sorted set from its highest (Redis's iterators start at
    /// the tail).
    fn for_each(&self, mut f: impl FnMut(Member<'_>, f64)) {
        match self {
            Source::Missing => {}
            Source::Sorted(z) => {
                for (m, s) in z.range(0..z.len(), true) {
                    f(m, s);
                }
            }
            Source::Plain(s) => {
                let mut buf = [0; 20];
                for e in s.iter() {
                    f(Member(e.bytes(&mut buf)), 1.0);
                }
            }
        }
    }
}

/// The inputs' combination: `weights` (one per key, default 1) scale each input's scores,
/// `aggregate` merges a member's scores. Members with their scores, unordered.
fn combine(
    t: &impl Lookup,
    now: &Now<'_>,
    keys: &[&[u8]],
    weights: &[f64],
    aggregate: Aggregate,
    op: SetOp,
) -> Result<Vec<(Bytes, f64)>, Error> {
    let mut src: Vec<(Source<'_>, f64)> = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        src.push((Source::of(t, now, k)?, weights.get(i).copied().unwrap_or(1.0)));
    }
    // Smallest first, as Redis sorts them (stably, as glibc's merge sort does); the order of
    // a sum's terms can change its last bits.
    if op != SetOp::Diff {
        src.sort_by_key(|(s, _)| s.len());
    }
    let weigh = |w: f64, s: f64| {
        let v = w * s;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut out = Vec::new();
    match op {
        SetOp::Union => {
            let mut acc: HashMap<Bytes, f64> =
                HashMap::with_capacity(src.last().map_or(0, |(s, _)| s.len()));
            for (s, w) in &src {
                s.for_each(|m, score| {
                    let v = weigh(*w, score);
                    match acc.get_mut(m.as_slice()) {
                        Some(cur) => aggregate.apply(cur, v),
                        None => {
                            acc.insert(m.to_bytes(), v);
                        }
                    }
                });
            }
            out.extend(acc);
        }
        SetOp::Inter => {
            let (first, w0) = src[0];
            first.for_each(|m, score| {
                let mut acc = weigh(w0, score);
                for (s, w) in &src[1..] {
                    match s.score(&m) {
                        // Unlike the first term, Redis leaves these unchecked for NaN.
                        Some(v) => aggregate.apply(&mut acc, v * w),
                        None => return,
                    }
                }
                out.push((m.to_bytes(), acc));
            });
        }
        SetOp::Diff => {
            let (first, _) = src[0];
            first.for_each(|m, score| {
                if src[1..].iter().all(|(s, _)| s.score(&m).is_none()) {
                    out.push((m.to_bytes(), score));
                }
            });
        }
    }
    Ok(out)
}

/// Stores `pairs` at `dst` (replacing its value and TTL) or deletes `dst` if there are none;
/// returns the stored set's size.
/// `event` names the store in keyspace notifications (`del` when an existing `dst` goes).
fn store(
    t: &mut Db<'_>,
    now: &Now<'_>,
    dst: &[u8],
    pairs: Vec<(Bytes, f64)>,
    event: &'static str,
) -> usize {
    if pairs.is_empty() {
        if t.remove(dst).is_some() {
            now.notify(GENERIC, "del", dst);
        }
        return 0;
    }
    let n = pairs.len();
    t.insert(dst, Value::ZSet(Box::new(ZSetValue::from_entries(pairs))), None);
    t.signal_ready(dst);
    now.notify(ZSET, event, dst);
    n
}

/// `ZUNIONSTORE`/`ZINTERSTORE`/`ZDIFFSTORE`: stores the combination of `keys` at `dst`;
/// returns its size.
pub(crate) fn zstore(
    t: &mut Db<'_>,
    now: &Now<'_>,
    dst: &[u8],
    keys: &[&[u8]],
    weights: &[f64],
    aggregate: Aggregate,
    op: SetOp,
) -> Result<usize, Error> {
    let pairs = combine(&*t, now, keys, weights, aggregate, op)?;
    let event = match op {
        SetOp::Union => "zunionstore",
        SetOp::Inter => "zinterstore",
        SetOp::Diff => "zdiffstore",
    };
    Ok(store(t, now, dst, pairs, event))
}

/// Reads `numkeys` at `a[at]`, as `zunionInterDiffGenericCommand` checks it.
fn numkeys(a: &[&[u8]], at: usize, name: &str) -> Result<usize, Error> {
    let n = int(a[at])?;
    if n < 1 {
        return Err(Error::Command(format!("at least 1 input key is needed for '{name}' command")));
    }
    if n as u64 > (a.len() - at - 1) as u64 {
        return Err(Error::syntax());
    }
    Ok(n as usize)
}

fn store_keys(a: &[&[u8]], name: &str) -> Result<Vec<usize>, Error> {
    let n = numkeys(a, 2, name)?;
    Ok(std::iter::once(1).chain(3..3 + n).collect())
}

fn zunionstore_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    store_keys(a, "zunionstore")
}

fn zinterstore_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    store_keys(a, "zinterstore")
}

fn zdiffstore_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    store_keys(a, "zdiffstore")
}

fn read_keys(a: &[&[u8]], name: &str) -> Result<Vec<usize>, Error> {
    let n = numkeys(a, 1, name)?;
    Ok((2..2 + n).collect())
}

fn zunion_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    read_keys(a, "zunion")
}

fn zinter_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    read_keys(a, "zinter")
}

fn zdiff_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    read_keys(a, "zdiff")
}

/// A parsed union/intersection/difference: inputs, options.
struct Combine<'a> {
    keys: Vec<&'a [u8]>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
}

/// Parses `numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` from
/// `a[at]`. As Redis, the inputs' types are checked before the options are parsed.
fn parse_combine<'a>(
    t: &impl Lookup,
    now: &Now<'_>,
    a: &[&'a [u8]],
    at: usize,
    name: &str,
    op: SetOp,
    store: bool,
) -> Result<Combine<'a>, Error> {
    let n = numkeys(a, at, name)?;
    let keys = a[at + 1..at + 1 + n].to_vec();
    for k in &keys {
        Source::of(t, now, k)?;
    }
    let mut c = Combine { keys, weights: Vec::new(), aggregate: Aggregate::Sum, withscores: false };
    let mut j = at + 1 + n;
    while j < a.len() {
        let left = a.len() - j;
        if op != SetOp::Diff && left > n && is(a[j], "weights") {
            c.weights = a[j + 1..j + 1 + n]
                .iter()
                .map(|w| parse_score(w).ok_or_else(|| Error::msg("weight value is not a float")))
                .collect::<Result<_, _>>()?;
            j += 1 + n;
        } else if op != SetOp::Diff && left >= 2 && is(a[j], "aggregate") {
            let f = a[j + 1];
            c.aggregate = if is(f, "sum") {
                Aggregate::Sum
            } else if is(f, "min") {
                Aggregate::Min
            } else if is(f, "max") {
                Aggregate::Max
            } else {
                return Err(Error::syntax());
            };
            j += 2;
        } else if !store && is(a[j], "withscores") {
            c.withscores = true;
            j += 1;
        } else {
            return Err(Error::syntax());
        }
    }
    Ok(c)
}

fn store_generic(
    t: &mut Db<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
    name: &str,
    op: SetOp,
) -> Result<Reply, Error> {
    let c = parse_combine(&*t, now, a, 2, name, op, true)?;
    Ok(Reply::Int(zstore(t, now, a[1], &c.keys, &c.weights, c.aggregate, op)? as i64))
}

fn zunionstore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    store_generic(t, now, a, "zunionstore", SetOp::Union)
}

fn zinterstore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    store_generic(t, now, a, "zinterstore", SetOp::Inter)
}

fn zdiffstore_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    store_generic(t, now, a, "zdiffstore", SetOp::Diff)
}

fn combine_generic(
    t: &View<'_>,
    now: &Now<'_>,
    a: &[&[u8]],
    name: &str,
    op: SetOp,
) -> Result<Reply, Error> {
    let c = parse_combine(t, now, a, 1, name, op, false)?;
    let mut pairs = combine(t, now, &c.keys, &c.weights, c.aggregate, op)?;
    // Redis answers from the skip list it built, so a `-0` stays `-0` here (a stored result
    // may become compact, which keeps it as `0`).
    pairs.sort_unstable_by(|(m1, s1), (m2, s2)| {
        s1.partial_cmp(s2).unwrap_or(std::cmp::Ordering::Equal).then_with(|| m1.cmp(m2))
    });
    Ok(pairs_reply(pairs, c.withscores))
}

fn zunion_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    combine_generic(t, now, a, "zunion", SetOp::Union)
}

fn zinter_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    combine_generic(t, now, a, "zinter", SetOp::Inter)
}

fn zdiff_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    combine_generic(t, now, a, "zdiff", SetOp::Diff)
}

/// `ZINTERCARD numkeys key... [LIMIT limit]`: the size of the intersection, counting stops at
/// `limit` (0: no limit).
fn zintercard_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let n = numkeys(a, 1, "zintercard")?;
    let keys = &a[2..2 + n];
    for k in keys {
        Source::of(t, now, k)?;
    }
    let mut limit = 0usize;
    let mut j = 2 + n;
    while j < a.len() {
        if a.len() - j >= 2 && is(a[j], "limit") {
            limit = match super::args::parse_i64(a[j + 1]) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err(Error::msg("LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(Error::syntax());
        }
    }
    let mut src = keys.iter().map(|k| Source::of(t, now, k)).collect::<Result<Vec<_>, _>>()?;
    src.sort_by_key(Source::len);
    let mut found = 0usize;
    let mut stop = false;
    src[0].for_each(|m, _| {
        if !stop && src[1..].iter().all(|s| s.score(&m).is_some()) {
            found += 1;
            stop = limit > 0 && found >= limit;
        }
    });
    Ok(Reply::Int(found as i64))
}

fn zintercard_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    read_keys(a, "zintercard")
}

// ----- ZSCAN -----

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`. A compact set answers whole in one reply
/// with cursor 0, as Redis answers for a listpack. A large one is walked in the order of a
/// process-wide hash of its members, so a member present for the whole scan is returned at
/// least once however the set changes between calls; the cursor is one past the hash where
/// the next call resumes.
fn zscan_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let cursor = parse_cursor(a[2])?;
    let Some(z) = zset(t, now, a[1])? else {
        return Ok(Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]));
    };
    // The options are read once the key exists, as Redis reads them.
    let scan = ElementScan::parse(&a[3..])?;
    let count = scan.count;
    let accepts = |m: &[u8]| scan.matches(m);
    let mut out = Vec::new();
    let mut push = |m: Member<'_>, text: String| {
        if accepts(&m) {
            out.push(Reply::Bulk(m.to_bytes()));
            out.push(Reply::Bulk(Bytes::from(text)));
        }
    };
    // A compact set is seen whole, with cursor 0, as Redis scans a listpack.
    let next = match z.scan(cursor, count, |m, s| push(m, format_score(s))) {
        Some(next) => next,
        None => {
            for (m, s) in z.iter() {
                push(m, compact_score_text(s));
            }
            0
        }
    };
    Ok(Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(out)]))
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("zadd", -4, ONE_KEY, zadd_cmd),
    Spec::write("zincrby", 4, ONE_KEY, zincrby_cmd),
    Spec::write("zrem", -3, ONE_KEY, zrem_cmd),
    Spec::read("zscore", 3, ONE_KEY, zscore_cmd),
    Spec::read("zmscore", -3, ONE_KEY, zmscore_cmd),
    Spec::read("zcard", 2, ONE_KEY, zcard_cmd),
    Spec::read("zcount", 4, ONE_KEY, zcount_cmd),
    Spec::read("zlexcount", 4, ONE_KEY, zlexcount_cmd),
    Spec::read("zrank", 3, ONE_KEY, zrank_cmd),
    Spec::read("zrevrank", 3, ONE_KEY, zrevrank_cmd),
    Spec::read("zrange", -4, ONE_KEY, zrange_cmd),
    Spec::read("zrevrange", -4, ONE_KEY, zrevrange_cmd),
    Spec::read("zrangebyscore", -4, ONE_KEY, zrangebyscore_cmd),
    Spec::read("zrevrangebyscore", -4, ONE_KEY, zrevrangebyscore_cmd),
    Spec::read("zrangebylex", -4, ONE_KEY, zrangebylex_cmd),
    Spec::read("zrevrangebylex", -4, ONE_KEY, zrevrangebylex_cmd),
    Spec::write("zrangestore", -5, super::TWO_KEYS, zrangestore_cmd),
    Spec::write("zremrangebyrank", 4, ONE_KEY, zremrangebyrank_cmd),
    Spec::write("zremrangebyscore", 4, ONE_KEY, zremrangebyscore_cmd),
    Spec::write("zremrangebylex", 4, ONE_KEY, zremrangebylex_cmd),
    Spec::write("zpopmin", -2, ONE_KEY, zpopmin_cmd),
    Spec::write("zpopmax", -2, ONE_KEY, zpopmax_cmd),
    Spec::blocking("bzpopmin", -3, ALL_BUT_LAST, bzpopmin_cmd, TimeoutArg::Last),
    Spec::blocking("bzpopmax", -3, ALL_BUT_LAST, bzpopmax_cmd, TimeoutArg::Last),
    Spec::read("zrandmember", -2, ONE_KEY, zrandmember_cmd),
    Spec::write("zunionstore", -4, KeySpec::Custom(zunionstore_keys), zunionstore_cmd),
    Spec::write("zinterstore", -4, KeySpec::Custom(zinterstore_keys), zinterstore_cmd),
    Spec::write("zdiffstore", -4, KeySpec::Custom(zdiffstore_keys), zdiffstore_cmd),
    Spec::read("zunion", -3, KeySpec::Custom(zunion_keys), zunion_cmd),
    Spec::read("zinter", -3, KeySpec::Custom(zinter_keys), zinter_cmd),
    Spec::read("zdiff", -3, KeySpec::Custom(zdiff_keys), zdiff_cmd),
    Spec::read("zintercard", -3, KeySpec::Custom(zintercard_keys), zintercard_cmd),
    Spec::write("zmpop", -4, KeySpec::Custom(zmpop_keys), zmpop_cmd),
    Spec::blocking("bzmpop", -5, KeySpec::Custom(bzmpop_keys), bzmpop_cmd, TimeoutArg::At(1)),
    Spec::read("zscan", -3, ONE_KEY, zscan_cmd),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::keyspace::Table;

    /// Runs `args` (a command line) on `t` as the client would, by the table's handler.
    fn run(t: &mut Table, now: &Now<'_>, line: &str) -> Result<Reply, Error> {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let spec = super::super::lookup(words[0]).expect("known command");
        spec.check_arity(words.len())?;
        spec.keys(&words)?;
        match spec.handler {
            super::super::Handler::Read(f) => f(&View::One(t), now, &words),
            super::super::Handler::Write(f) => f(&mut Db::One(t), now, &words),
            super::super::Handler::Blocking(f, _) => {
                Ok(f(&mut Db::One(t), now, &words)?.unwrap_or(Reply::Nil))
            }
            super::super::Handler::Keyless(_) => unreachable!(),
        }
    }

    /// The reply as redis-cli's `--no-raw` would print it, lines joined by `|`.
    fn show(r: Result<Reply, Error>) -> String {
        match r {
            Ok(Reply::Array(items)) => {
                items.into_iter().map(|i| show(Ok(i))).collect::<Vec<_>>().join("|")
            }
            Ok(Reply::Bulk(b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(Reply::Int(n)) => n.to_string(),
            Ok(Reply::Nil) => "nil".into(),
            Ok(other) => other.to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn formats_scores_as_percent_17g() {
        let cases = [
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0"),
            (-0.0, "-0"),
            (3.0, "3"),
            (-2.25, "-2.25"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (1e300, "1.0000000000000001e+300"),
            // A subnormal, and a tie at the 17th digit (rounds to even).
            ("9.9999999999999694e-311".parse().unwrap(), "9.9999999999999694e-311"),
            (1_234_567_890_123_456.2, "1234567890123456.2"),
            (-1e-5, "-1.0000000000000001e-05"),
        ];
        for (v, want) in cases {
            assert_eq!(format_score(v), want, "{v:e}");
        }
        assert_eq!(compact_score_text(1e17), "100000000000000000");
        assert_eq!(compact_score_text(-0.0), "0");
        assert_eq!(compact_score_text(0.1), "0.10000000000000001");
        assert_eq!(compact_score_text(1e300), "1.0000000000000001e+300");
        assert_eq!(compact_score_text(f64::INFINITY), "inf");
    }

    #[test]
    fn parses_scores_and_ranges_as_redis() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"-0"), Some(-0.0));
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        assert_eq!(parse_score(b"1e-310"), Some(1e-310), "subnormals are kept");
        for bad in [&b"nan"[..], b"abc", b"", b" 1", b"1 ", b"1e-400", b"1e400", b"0x1p-2000"] {
            assert_eq!(parse_score(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let r = parse_score_range(b"(1", b"+inf").unwrap();
        assert_eq!((r.min, r.min_exclusive, r.max, r.max_exclusive), (1.0, true, f64::INFINITY, false));
        // strtod's leniency: empty is 0, leading spaces, overflow to infinity.
        let r = parse_score_range(b"", b" 1e5000").unwrap();
        assert_eq!((r.min, r.max), (0.0, f64::INFINITY));
        assert_eq!(parse_score_range(b"(", b"1").unwrap().min, 0.0);
        for (lo, hi) in
            [(&b"(x"[..], &b"1"[..]), (b"[1", b"2"), (b"1", b"nan"), (b" ", b"1"), (b"1 ", b"2")]
        {
            assert_eq!(
                parse_score_range(lo, hi).unwrap_err().to_string(),
                "ERR min or max is not a float"
            );
        }
        assert_eq!(
            parse_lex_range(b"-", b"+").unwrap(),
            LexRange { min: LexBound::Min, max: LexBound::Max }
        );
        assert!(parse_lex_range(b"a", b"+").is_err());
        assert!(parse_lex_range(b"+a", b"+").is_err());
        assert!(parse_lex_range(b"", b"+").is_err());
        assert_eq!(parse_lex_range(b"(", b"[").unwrap().min, LexBound::Exclusive(Bytes::from("")));
        assert_eq!(parse_cursor(b"").unwrap(), 0);
        assert_eq!(parse_cursor(b"-1").unwrap(), u64::MAX);
        assert!(parse_cursor(b"x").is_err());
        assert!(parse_cursor(b"-").is_err());
        assert!(parse_cursor(b"99999999999999999999").is_err());
    }

    #[test]
    fn commands_answer_as_redis() {
        let clock = Clock::manual(1_000_000);
        let now = Now::new(&clock);
        let mut t = Table::new();
        let mut r = |line: &str| show(run(&mut t, &now, line));
        assert_eq!(r("ZADD z 1 a 2 b 3 c 4 d"), "4");
        assert_eq!(r("ZADD z NX XX 1 a"), "ERR XX and NX options at the same time are not compatible");
        assert_eq!(
            r("ZADD z GT LT 1 a"),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
        assert_eq!(r("ZADD z GT LT"), "ERR syntax error");
        assert_eq!(r("ZADD z INCR 1 a 2 b"), "ERR INCR option supports a single increment-element pair");
        assert_eq!(r("ZADD z foo 1 a"), "ERR syntax error");
        assert_eq!(r("ZADD z nan a"), "ERR value is not a valid float");
        assert_eq!(r("ZADD z 1"), "ERR wrong number of arguments for 'zadd' command");
        assert_eq!(r("ZADD z CH GT 0 a 5 b 9 e"), "2");
        assert_eq!(r("ZADD z INCR NX 1 a"), "nil");
        assert_eq!(r("ZADD z INCR 1.5 a"), "2.5");
        assert_eq!(r("ZINCRBY z -inf a"), "-inf");
        assert_eq!(r("ZINCRBY z +inf a"), "ERR resulting score is not a number (NaN)");
        assert_eq!(r("ZINCRBY z nx a"), "ERR syntax error");
        assert_eq!(r("ZRANGE z 0 -1 WITHSCORES"), "a|-inf|c|3|d|4|b|5|e|9");
        assert_eq!(r("ZRANGE z 0 -1 REV"), "e|b|d|c|a");
        assert_eq!(r("ZRANGE z (3 +inf BYSCORE LIMIT 1 2"), "b|e");
        assert_eq!(r("ZRANGE z +inf (3 BYSCORE REV LIMIT 0 1 WITHSCORES"), "e|9");
        assert_eq!(
            r("ZRANGE z 0 -1 LIMIT 0 1"),
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        );
        assert_eq!(r("ZRANGE z 0 -1 LIMIT 0 -1"), "a|c|d|b|e");
        assert_eq!(
            r("ZRANGE z - + BYLEX WITHSCORES"),
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
        );
        assert_eq!(r("ZRANGE z 0 -1 REV REV"), "ERR syntax error");
        assert_eq!(r("ZRANGE z 0 -1 BYSCORE BYLEX"), "ERR syntax error");
        assert_eq!(r("ZRANGE z (x 2 BYSCORE"), "ERR min or max is not a float");
        assert_eq!(r("ZRANGE z a b"), "ERR value is not an integer or out of range");
        assert_eq!(r("ZRANGEBYSCORE z -inf +inf LIMIT 0"), "ERR syntax error");
        assert_eq!(r("ZRANGEBYSCORE z 0 5 LIMIT -1 2"), "");
        assert_eq!(r("ZRANGEBYSCORE z 0 5 LIMIT 1 -1"), "d|b");
        assert_eq!(r("ZREVRANGEBYSCORE z 5 0 WITHSCORES"), "b|5|d|4|c|3");
        assert_eq!(r("ZREVRANGE z 0 1"), "e|b");
        assert_eq!(r("ZREVRANGE z 0 1 REV"), "ERR syntax error");
        assert_eq!(r("ZRANK z d"), "2");
        assert_eq!(r("ZREVRANK z d"), "2");
        assert_eq!(r("ZRANK z nope"), "nil");
        assert_eq!(r("ZCOUNT z (3 5"), "2");
        assert_eq!(r("ZCOUNT z x 5"), "ERR min or max is not a float");
        assert_eq!(r("ZMSCORE z a nope e"), "-inf|nil|9");
        assert_eq!(r("ZMSCORE nokey a b"), "nil|nil");
        assert_eq!(r("ZCARD z"), "5");
        assert_eq!(r("ZPOPMIN z -1"), "ERR value is out of range, must be positive");
        assert_eq!(r("ZPOPMIN z 1 2"), "ERR syntax error");
        assert_eq!(r("ZPOPMIN z 0"), "");
        assert_eq!(r("ZPOPMIN z"), "a|-inf");
        assert_eq!(r("ZPOPMAX z 2"), "e|9|b|5");
        assert_eq!(r("ZREM z c d x"), "2");
        assert_eq!(r("EXISTS z"), "0");
        assert_eq!(r("ZADD l 0 a 0 b 0 c 0 d"), "4");
        assert_eq!(r("ZRANGEBYLEX l [b (d"), "b|c");
        assert_eq!(r("ZREVRANGEBYLEX l + (b LIMIT 1 5"), "c");
        assert_eq!(r("ZRANGEBYLEX l a b"), "ERR min or max not valid string range item");
        assert_eq!(r("ZLEXCOUNT l - +"), "4");
        assert_eq!(r("ZREMRANGEBYLEX l [a (c"), "2");
        assert_eq!(r("ZREMRANGEBYRANK l 0 0"), "1");
        assert_eq!(r("ZREMRANGEBYSCORE l -inf +inf"), "1");
        assert_eq!(r("EXISTS l"), "0");
        assert_eq!(r("SET s x"), "OK");
        for line in [
            "ZADD s 1 a",
            "ZSCORE s a",
            "ZRANGE s 0 -1",
            "ZPOPMIN s",
            "ZCARD s",
            "ZREM s a",
            "ZSCAN s 0",
        ] {
            assert_eq!(
                r(line),
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                "{line}"
            );
        }
        assert_eq!(r("ZADD s nan a"), "ERR value is not a valid float", "parsing comes first");
        assert_eq!(
            r("ZRANDMEMBER z -9223372036854775808"),
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
        );
        assert_eq!(r("ZRANDMEMBER z 9223372036854775807 WITHSCORES"), "ERR value is out of range");
        assert_eq!(r("ZRANDMEMBER z 1 foo"), "ERR syntax error");
        assert_eq!(r("ZRANDMEMBER nokey"), "nil");
        assert_eq!(r("ZRANDMEMBER nokey 3"), "");
    }

    #[test]
    fn unions_and_intersections() {
        let clock = Clock::manual(1_000_000);
        let now = Now::new(&clock);
        let mut t = Table::new();
        // A plain set takes part with every member scoring 1.
        let mut st = SetValue::new();
        st.insert(b"x");
        st.insert(b"q");
        t.insert(b"st", Value::Set(Box::new(st)), None);
        let mut r = |line: &str| show(run(&mut t, &now, line));
        r("ZADD a 1 x 2 y");
        r("ZADD b 3 x 4 z");
        assert_eq!(
            r("ZUNIONSTORE d 0 a"),
            "ERR at least 1 input key is needed for 'zunionstore' command"
        );
        assert_eq!(r("ZUNIONSTORE d abc a"), "ERR value is not an integer or out of range");
        assert_eq!(r("ZUNIONSTORE d 3 a b"), "ERR syntax error");
        assert_eq!(r("ZUNIONSTORE d 2 a b WEIGHTS 1"), "ERR syntax error");
        assert_eq!(r("ZUNIONSTORE d 2 a b WEIGHTS 1 x"), "ERR weight value is not a float");
        assert_eq!(r("ZUNIONSTORE d 2 a b AGGREGATE foo"), "ERR syntax error");
        assert_eq!(r("ZUNIONSTORE d 2 a b WITHSCORES"), "ERR syntax error");
        assert_eq!(r("ZUNIONSTORE d 2 a b"), "3");
        assert_eq!(r("ZRANGE d 0 -1 WITHSCORES"), "y|2|x|4|z|4");
        assert_eq!(r("ZUNIONSTORE d 2 a b WEIGHTS inf -inf"), "3");
        assert_eq!(r("ZRANGE d 0 -1 WITHSCORES"), "z|-inf|x|0|y|inf");
        assert_eq!(r("ZUNIONSTORE d 2 a b AGGREGATE MAX WEIGHTS 1 2"), "3");
        assert_eq!(r("ZRANGE d 0 -1 WITHSCORES"), "y|2|x|6|z|8");
        assert_eq!(r("ZINTERSTORE d 2 a b AGGREGATE MIN"), "1");
        assert_eq!(r("ZRANGE d 0 -1 WITHSCORES"), "x|1");
        assert_eq!(r("ZINTERSTORE d 2 a nokey"), "0");
        assert_eq!(r("EXISTS d"), "0");
        assert_eq!(r("ZUNION 2 a b WITHSCORES"), "y|2|x|4|z|4");
        assert_eq!(r("ZDIFF 2 a b WITHSCORES"), "y|2");
        assert_eq!(r("ZDIFF 2 a b WEIGHTS 1 2"), "ERR syntax error");
        assert_eq!(r("ZDIFFSTORE d 1 a"), "2");
        assert_eq!(r("ZUNIONSTORE d 2 a st"), "3");
        assert_eq!(r("ZRANGE d 0 -1 WITHSCORES"), "q|1|x|2|y|2");
        assert_eq!(r("ZINTERSTORE d 2 a st WEIGHTS 2 3"), "1");
        assert_eq!(r("ZRANGE d 0 -1 WITHSCORES"), "x|5");
        r("SET s v");
        assert_eq!(
            r("ZUNIONSTORE d 2 a s WEIGHTS x"),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        // Sums run smallest input first: 1 + 1 + 1e16, not 1e16 + 1 + 1.
        r("ZADD A 1e16 m 1 p 2 q");
        r("ZADD B 1 m");
        r("ZADD C 1 m");
        assert_eq!(r("ZUNIONSTORE d 3 A B C"), "3");
        assert_eq!(r("ZSCORE d m"), "10000000000000002");
        assert_eq!(r("ZRANGESTORE d a 0 0"), "1");
        assert_eq!(r("ZRANGE d 0 -1"), "x");
        assert_eq!(r("ZRANGESTORE d a 0 -1 WITHSCORES"), "ERR syntax error");
        assert_eq!(r("ZINTERCARD 2 a b"), "1");
        assert_eq!(r("ZINTERCARD 2 a b LIMIT -1"), "ERR LIMIT can't be negative");
        assert_eq!(r("ZINTERCARD 0 a"), "ERR at least 1 input key is needed for 'zintercard' command");
        assert_eq!(r("ZINTERCARD 1 A LIMIT 2"), "2");
        assert_eq!(r("ZMPOP 0 a MIN"), "ERR numkeys should be greater than 0");
        assert_eq!(r("ZMPOP 2 a MIN"), "ERR syntax error");
        assert_eq!(r("ZMPOP 1 a MIN COUNT 0"), "ERR count should be greater than 0");
        assert_eq!(r("ZMPOP 1 a MIN COUNT 1 COUNT 1"), "ERR syntax error");
        assert_eq!(r("ZMPOP 1 nokey MIN"), "nil");
        assert_eq!(r("ZMPOP 2 nokey a MAX COUNT 5"), "a|y|2|x|1");
        assert_eq!(
            r("ZMPOP 2 s a MIN"),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
    }

    #[test]
    fn zscan_compact_and_large() {
        let clock = Clock::manual(1_000_000);
        let now = Now::new(&clock);
        let mut t = Table::new();
        let mut r = |line: &str| show(run(&mut t, &now, line));
        r("ZADD sm 0.1 p -0 n 1e17 e");
        assert_eq!(r("ZSCAN sm 0"), "0|n|0|p|0.10000000000000001|e|100000000000000000");
        assert_eq!(r("ZSCAN sm 0 MATCH p*"), "0|p|0.10000000000000001");
        assert_eq!(r("ZSCAN sm 0 COUNT 0"), "ERR syntax error");
        assert_eq!(r("ZSCAN sm x"), "ERR invalid cursor");
        assert_eq!(r("ZSCAN nokey 0 foo"), "0|");
        for i in 0..300 {
            r(&format!("ZADD big {i} m{i}"));
        }
        let mut seen = HashSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let out = r(&format!("ZSCAN big {cursor} COUNT 7"));
            let mut parts = out.split('|');
            cursor = parts.next().unwrap().to_string();
            // A page may be empty (the cursor still moves on): `show` then
            // leaves one empty field after the cursor.
            let rest: Vec<&str> = parts.filter(|p| !p.is_empty()).collect();
            for pair in rest.chunks(2) {
                assert_eq!(format!("m{}", pair[1]), pair[0]);
                seen.insert(pair[0].to_string());
            }
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
        assert!(calls > 10, "{calls}");
    }
}
