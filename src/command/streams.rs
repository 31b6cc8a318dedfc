//! Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD (with BLOCK, served
//! like the list pops), XSETID, and consumer groups: XGROUP, XREADGROUP, XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM, XINFO. Argument rules, error texts and reply shapes are Redis 7.0's.

use super::args::{int, is, parse_i64};
use super::{KeySpec, Spec, ONE_KEY};
use crate::bytes::Bytes;
use crate::error::Error;
use crate::keyspace::events::STREAM;
use crate::keyspace::stream::{
    Consumer, Entry as StreamEntry, Group, Nack, StreamId, StreamValue, Trim,
};
use crate::keyspace::{Db, Entry, Lookup, Now, Value, View};
use crate::reply::Reply;

fn invalid_id() -> Error {
    Error::msg("Invalid stream ID specified as stream command argument")
}

/// Redis's `string2ull`: a strict integer, else what `strtoull` reads of the whole text.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses an ID as Redis's `streamGenericParseIDOrReply`: `-`/`+` (unless `strict`), `ms`
/// (sequence `missing_seq`) or `ms-seq`, and `ms-*` when `star` (then the second value is
/// false: no sequence given).
fn parse_id_ext(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    star: bool,
) -> Result<(StreamId, bool), Error> {
    if arg.len() > 127 || (strict && (arg == b"-" || arg == b"+")) {
        return Err(invalid_id());
    }
    match arg {
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms).ok_or_else(invalid_id)?;
    match seq {
        Some(b"*") if star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, string2ull(s).ok_or_else(invalid_id)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    parse_id_ext(arg, missing_seq, false, false).map(|(id, _)| id)
}

fn parse_strict_id(arg: &[u8]) -> Result<StreamId, Error> {
    parse_id_ext(arg, 0, true, false).map(|(id, _)| id)
}

/// A range end: `(id` is exclusive (strict ID after the parenthesis).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id_ext(&arg[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

fn start_of(arg: &[u8]) -> Result<StreamId, Error> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        id.next().ok_or_else(|| Error::msg("invalid start ID for the interval"))
    } else {
        Ok(id)
    }
}

fn end_of(arg: &[u8]) -> Result<StreamId, Error> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        id.prev().ok_or_else(|| Error::msg("invalid end ID for the interval"))
    } else {
        Ok(id)
    }
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(Bytes::from(id.to_string()))
}

fn entry_reply((id, fields): StreamEntry) -> Reply {
    let flat = fields.into_iter().flat_map(|(f, v)| [Reply::Bulk(f), Reply::Bulk(v)]).collect();
    Reply::Array(vec![id_reply(id), Reply::Array(flat)])
}

fn entries_reply(entries: Vec<StreamEntry>) -> Reply {
    Reply::Array(entries.into_iter().map(entry_reply).collect())
}

fn as_stream(entry: &Entry) -> Result<&StreamValue, Error> {
    match &entry.value {
        Value::Stream(s) => Ok(s),
        _ => Err(Error::WrongType),
    }
}

fn stream_of<'t>(
    t: &'t impl Lookup,
    now: &Now<'_>,
    key: &[u8],
) -> Result<Option<&'t StreamValue>, Error> {
    t.entry(key, now).map(as_stream).transpose()
}

fn stream_mut<'t>(
    t: &'t mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
) -> Result<Option<&'t mut StreamValue>, Error> {
    match t.get_mut(key, now) {
        None => Ok(None),
        Some(Entry { value: Value::Stream(s), .. }) => Ok(Some(s)),
        Some(_) => Err(Error::WrongType),
    }
}

/// Checks the type without touching the key (as Redis's `lookupKeyWrite` then `checkType`).
fn peek_stream<'t>(t: &'t Db<'_>, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t StreamValue>, Error> {
    super::hashes::peek(t, now, key).map(as_stream).transpose()
}

/// Trimming options of `XADD`/`XTRIM`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TrimArgs {
    pub(crate) how: Option<Trim>,
    pub(crate) approx: bool,
    /// 0: no limit.
    pub(crate) limit: u64,
}

/// What `XADD` was asked for.
#[derive(Debug, Clone, Copy, Default)]
struct AddArgs {
    trim: TrimArgs,
    nomkstream: bool,
    /// The explicit ID, and whether its sequence was given (`ms-*` gives none).
    id: Option<(StreamId, bool)>,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`: returns the arguments and the index of the ID
/// (XADD) or the end.
fn parse_add_or_trim(a: &[&[u8]], xadd: bool) -> Result<(AddArgs, usize), Error> {
    let mut args = AddArgs::default();
    let mut limit_given = false;
    let mut limit: i64 = 0;
    let mut i = 2;
    let conflict =
        || Error::msg("syntax error, MAXLEN and MINID options at the same time are not compatible");
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = a[i];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if args.trim.how.is_some() {
                return Err(conflict());
            }
            // An optional `~` (approximate) or `=` (exact) before the threshold.
            args.trim.approx = more >= 2 && a[i + 1] == b"~";
            if more >= 2 && (a[i + 1] == b"~" || a[i + 1] == b"=") {
                i += 1;
            }
            args.trim.how = Some(if is(opt, "maxlen") {
                let n = int(a[i + 1])?;
                if n < 0 {
                    return Err(Error::msg("The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_strict_id(a[i + 1])?)
            });
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            limit = int(a[i + 1])?;
            if limit < 0 {
                return Err(Error::msg("The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            args.nomkstream = true;
        } else if xadd {
            args.id = Some(parse_id_ext(opt, 0, true, true)?);
            break;
        } else {
            return Err(Error::syntax());
        }
        i += 1;
    }
    if limit != 0 && args.trim.how.is_none() {
        return Err(Error::msg(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && args.trim.how.is_none() {
        return Err(Error::msg("syntax error, XTRIM must be called with a trimming strategy"));
    }
    if limit_given {
        if !args.trim.approx {
            return Err(Error::msg("syntax error, LIMIT cannot be used without the special ~ option"));
        }
        args.trim.limit = limit as u64;
    } else {
        args.trim.limit = if args.trim.approx { 10_000 } else { 0 };
    }
    Ok((args, i))
}

/// `XADD` with its options parsed: appends `fields` at `id` (None: `*`), creating the
/// stream unless `nomkstream`, then trims; returns the new ID, or None when the key is
/// missing and `nomkstream`.
fn xadd(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    args: &AddArgs,
    fields: &[(&[u8], &[u8])],
) -> Result<Option<StreamId>, Error> {
    if let Some((id, true)) = args.id {
        if id == StreamId::MIN {
            return Err(Error::msg("The ID specified in XADD must be greater than 0-0"));
        }
    }
    let exists = peek_stream(t, now, key)?.is_some();
    if !exists {
        if args.nomkstream {
            return Ok(None);
        }
        t.insert(key, Value::Stream(Box::new(StreamValue::new())), None);
    }
    let s = stream_mut(t, now, key)?.expect("exists");
    if s.last_id == StreamId::MAX {
        return Err(Error::msg(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let too_small =
        || Error::msg("The ID specified in XADD is equal or smaller than the target stream top item");
    let id = match args.id {
        Some((id, true)) => id,
        Some((id, false)) if s.last_id.ms == id.ms => {
            StreamId::new(id.ms, s.last_id.seq.checked_add(1).ok_or_else(too_small)?)
        }
        Some((id, false)) => id,
        None => {
            let ms = now.ms();
            if ms > s.last_id.ms {
                StreamId::new(ms, 0)
            } else {
                s.last_id.next().ok_or_else(too_small)?
            }
        }
    };
    if id <= s.last_id {
        return Err(too_small());
    }
    s.append(id, fields);
    now.notify(STREAM, "xadd", key);
    if let Some(how) = args.trim.how {
        if s.trim(how, args.trim.approx, args.trim.limit) > 0 {
            now.notify(STREAM, "xtrim", key);
        }
    }
    t.signal_ready(key);
    Ok(Some(id))
}

/// `XADD key id field value ...` for typed callers: appends at `id` (None: an ID from the
/// clock) and returns the ID.
///
/// # Errors
/// Redis's ID errors; `WRONGTYPE`.
pub(crate) fn xadd_typed(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    id: Option<StreamId>,
    fields: &[(&[u8], &[u8])],
    trim: TrimArgs,
) -> Result<StreamId, Error> {
    let args = AddArgs { trim, nomkstream: false, id: id.map(|id| (id, true)) };
    Ok(xadd(t, now, key, &args, fields)?.expect("created when missing"))
}

/// `XRANGE`/`XREVRANGE` for typed callers: live entries from `start` to `end` (inclusive),
/// at most `count` (0: all).
pub(crate) fn xrange(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: usize,
) -> Result<Vec<StreamEntry>, Error> {
    Ok(stream_of(t, now, key)?.map_or_else(Vec::new, |s| s.range(start, end, rev, count)))
}

/// `XLEN`.
pub(crate) fn xlen(t: &impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<u64, Error> {
    Ok(stream_of(t, now, key)?.map_or(0, StreamValue::len))
}

/// `XACK` for typed callers.
pub(crate) fn xack(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    group: &[u8],
    ids: &[StreamId],
) -> Result<usize, Error> {
    let has_group = peek_stream(t, now, key)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        return Ok(0);
    }
    let s = stream_mut(t, now, key)?.expect("exists");
    let g = s.groups.get_mut(group).expect("exists");
    let mut acked = 0;
    for id in ids {
        if let Some(nack) = g.pel.remove(id) {
            if let Some(c) = g.consumers.get_mut(&nack.consumer) {
                c.pel.remove(id);
            }
            acked += 1;
        }
    }
    Ok(acked)
}

/// A spec that never takes more memory (no `denyoom` in Redis): it runs even over budget.
const fn no_growth(spec: Spec) -> Spec {
    Spec { grows: false, ..spec }
}

/// The commands of this family. Which of them may grow memory follows Redis's `denyoom`
/// (`XGROUP` is one spec: its subcommands that free memory must run over budget, so none is
/// refused).
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("xadd", -5, ONE_KEY, xadd_cmd),
    Spec::read("xlen", 2, ONE_KEY, xlen_cmd),
    Spec::read("xrange", -4, ONE_KEY, xrange_cmd),
    Spec::read("xrevrange", -4, ONE_KEY, xrevrange_cmd),
    Spec::shrink("xdel", -3, ONE_KEY, xdel_cmd),
    Spec::shrink("xtrim", -4, ONE_KEY, xtrim_cmd),
    no_growth(Spec::blocking(
        "xread",
        -4,
        KeySpec::Custom(xread_keys),
        xread_cmd,
        super::TimeoutArg::Stream,
    )),
    no_growth(Spec::blocking(
        "xreadgroup",
        -7,
        KeySpec::Custom(xread_keys),
        xread_cmd,
        super::TimeoutArg::Stream,
    )),
    Spec::write("xsetid", -3, ONE_KEY, xsetid_cmd),
    Spec::shrink("xgroup", -2, KeySpec::Custom(xgroup_keys), xgroup_cmd),
    Spec::shrink("xack", -4, ONE_KEY, xack_cmd),
    Spec::read("xpending", -3, ONE_KEY, xpending_cmd),
    Spec::shrink("xclaim", -6, ONE_KEY, xclaim_cmd),
    Spec::shrink("xautoclaim", -6, ONE_KEY, xautoclaim_cmd),
    Spec::read("xinfo", -2, KeySpec::Custom(xinfo_keys), xinfo_cmd),
];

// ----- handlers -----

fn xadd_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (args, idpos) = parse_add_or_trim(a, true)?;
    let fields_at = idpos + 1;
    if a.len() < fields_at + 2 || (a.len() - fields_at) % 2 == 1 {
        return Err(Error::arity("xadd"));
    }
    let fields: Vec<(&[u8], &[u8])> = a[fields_at..].chunks_exact(2).map(|p| (p[0], p[1])).collect();
    Ok(xadd(t, now, a[1], &args, &fields)?.map_or(Reply::Nil, id_reply))
}

fn xlen_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(xlen(t, now, a[1])? as i64))
}

fn xrange_generic(t: &View<'_>, now: &Now<'_>, a: &[&[u8]], rev: bool) -> Result<Reply, Error> {
    let (start_arg, end_arg) = if rev { (a[3], a[2]) } else { (a[2], a[3]) };
    let start = start_of(start_arg)?;
    let end = end_of(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < a.len() {
        if is(a[j], "count") && j + 1 < a.len() {
            count = int(a[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(Error::syntax());
        }
    }
    let Some(s) = stream_of(t, now, a[1])? else { return Ok(Reply::Array(Vec::new())) };
    if count == 0 {
        return Ok(Reply::Nil);
    }
    Ok(entries_reply(s.range(start, end, rev, count.max(0) as usize)))
}

fn xrange_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    xrange_generic(t, now, a, false)
}

fn xrevrange_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    xrange_generic(t, now, a, true)
}

fn xdel_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let Some(s) = peek_stream(t, now, a[1])? else { return Ok(Reply::Int(0)) };
    let ids = a[2..].iter().map(|x| parse_strict_id(x)).collect::<Result<Vec<_>, _>>()?;
    if !ids.iter().any(|id| s.get(*id).is_some()) {
        return Ok(Reply::Int(0));
    }
    let s = stream_mut(t, now, a[1])?.expect("exists");
    let deleted = s.xdel(&ids);
    if deleted > 0 {
        now.notify(STREAM, "xdel", a[1]);
    }
    Ok(Reply::Int(deleted as i64))
}

fn xtrim_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let (args, _) = parse_add_or_trim(a, false)?;
    if peek_stream(t, now, a[1])?.is_none() {
        return Ok(Reply::Int(0));
    }
    let how = args.trim.how.expect("XTRIM has a strategy");
    let s = stream_mut(t, now, a[1])?.expect("exists");
    let deleted = s.trim(how, args.trim.approx, args.trim.limit);
    if deleted > 0 {
        now.notify(STREAM, "xtrim", a[1]);
    }
    Ok(Reply::Int(deleted as i64))
}

fn xsetid_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let id = parse_strict_id(a[2])?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - 1 - i;
        if is(a[i], "entriesadded") && more > 0 {
            entries_added = int(a[i + 1])?;
            if entries_added < 0 {
                return Err(Error::msg("entries_added must be positive"));
            }
            i += 2;
        } else if is(a[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_strict_id(a[i + 1])?;
            if id < max_xdel {
                return Err(Error::msg(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(Error::syntax());
        }
    }
    let Some(s) = peek_stream(t, now, a[1])? else { return Err(Error::msg("no such key")) };
    if s.len() > 0 {
        let max = s.edge(false).unwrap_or(StreamId::MIN);
        if id < max {
            return Err(Error::msg(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return Err(Error::msg(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    let s = stream_mut(t, now, a[1])?.expect("exists");
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if max_xdel != StreamId::MIN {
        s.max_deleted = max_xdel;
    }
    now.notify(STREAM, "xsetid", a[1]);
    Ok(Reply::ok())
}

// ----- XREAD / XREADGROUP -----

/// The keys of `XREAD`/`XREADGROUP`: the first half of the words after `STREAMS`.
fn xread_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    let Some(at) = (1..a.len()).find(|&i| is(a[i], "streams")) else { return Ok(Vec::new()) };
    let n = (a.len() - at - 1) / 2;
    Ok((at + 1..at + 1 + n).collect())
}

/// The parsed options of `XREAD`/`XREADGROUP`.
struct ReadArgs<'a> {
    /// The caller blocked and is being served now (the words carry [`PINNED`]).
    pinned: bool,
    block: Option<i64>,
    count: i64,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    streams_at: usize,
    n: usize,
}

fn parse_read<'a>(a: &[&'a [u8]]) -> Result<ReadArgs<'a>, Error> {
    let xreadgroup = a[0].len() == 10;
    let mut r = ReadArgs {
        pinned: false,
        block: None,
        count: 0,
        noack: false,
        group: None,
        streams_at: 0,
        n: 0,
    };
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        let o = a[i];
        if o == PINNED {
            r.pinned = true;
        } else if is(o, "block") && more > 0 {
            i += 1;
            let ms = parse_i64(a[i])
                .ok_or_else(|| Error::msg("timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Error::msg("timeout is negative"));
            }
            r.block = Some(ms);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int(a[i])?.max(0);
        } else if is(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let rest = a.len() - r.streams_at;
            if rest % 2 != 0 {
                return Err(Error::msg(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.n = rest / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(Error::msg(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((a[i + 1], a[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return Err(Error::msg(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(Error::syntax());
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(Error::syntax());
    }
    if xreadgroup && r.group.is_none() {
        return Err(Error::msg("Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// The timeout of `XREAD`/`XREADGROUP`: none without `BLOCK` (try once), forever for
/// `BLOCK 0`.
pub(crate) fn block_timeout(a: &[&[u8]]) -> Result<Option<std::time::Duration>, Error> {
    let r = parse_read(a)?;
    Ok(match r.block {
        None => Some(std::time::Duration::ZERO),
        Some(0) => None,
        Some(ms) => Some(std::time::Duration::from_millis(ms as u64)),
    })
}

/// Before a caller blocks: `$` becomes the stream's last ID now (new entries are what it
/// waits for), and a read without `COUNT` takes at most 1000 entries when served, as Redis.
pub(crate) fn pin_ids(t: &mut Db<'_>, now: &Now<'_>, words: &mut Vec<Box<[u8]>>) {
    let a: Vec<&[u8]> = words.iter().map(|w| &**w).collect();
    let Ok(r) = parse_read(&a) else { return };
    let mut pinned: Vec<(usize, Box<[u8]>)> = Vec::new();
    for k in 0..r.n {
        let at = r.streams_at + r.n + k;
        if a[at] == b"$" {
            let key = a[r.streams_at + k];
            let last = stream_of(&*t, now, key).ok().flatten().map_or(StreamId::MIN, |s| s.last_id);
            pinned.push((at, last.to_string().into_bytes().into_boxed_slice()));
        }
    }
    let has_count = a[..r.streams_at].iter().any(|w| is(w, "count"));
    for (at, id) in pinned {
        words[at] = id;
    }
    if !has_count {
        words.insert(1, Box::from(&b"1000"[..]));
        words.insert(1, Box::from(&b"COUNT"[..]));
    }
    words.insert(1, Box::from(PINNED));
}

/// The word [`pin_ids`] adds: a blocked caller's retries answer as Redis answers a served
/// blocked client (a group destroyed meanwhile is its own error).
const PINNED: &[u8] = b"\0pinned";

fn nogroup_read(key: &[u8], group: &[u8]) -> Error {
    Error::Coded(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// What one stream of a read asks for.
enum Want {
    /// Entries after this ID (XREAD, or `>` resolved to the group's last ID).
    After(StreamId),
    /// `>`: new entries for the group.
    New,
    /// The consumer's own pending entries after this ID (XREADGROUP with an ID).
    History(StreamId),
}

/// `XREAD`/`XREADGROUP`, tried once: `Ok(None)` when nothing can be served (the caller
/// blocks if it asked to).
fn xread_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Option<Reply>, Error> {
    let r = parse_read(a)?;
    let xreadgroup = r.group.is_some();
    let mut wants = Vec::with_capacity(r.n);
    for k in 0..r.n {
        let key = a[r.streams_at + k];
        let arg = a[r.streams_at + r.n + k];
        let s = match stream_of(&*t, now, key) {
            // A blocked group reader's stream replaced by another type is gone, as Redis
            // tells it (`UNBLOCKED`); anyone else's `WRONGTYPE` stands.
            Err(Error::WrongType) if r.pinned && xreadgroup => None,
            s => s?,
        };
        if let Some((group, _)) = r.group {
            if r.pinned && s.is_none() {
                return Err(Error::Coded("UNBLOCKED the stream key no longer exists".into()));
            }
            if !s.is_some_and(|s| s.groups.contains_key(group)) {
                if r.pinned {
                    return Err(Error::Coded(
                        "NOGROUP the consumer group this client was blocked on no longer exists".into(),
                    ));
                }
                return Err(nogroup_read(key, group));
            }
        }
        if arg == b"$" {
            if xreadgroup {
                return Err(Error::msg(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            wants.push(Want::After(s.map_or(StreamId::MIN, |s| s.last_id)));
            continue;
        }
        if arg == b">" {
            if !xreadgroup {
                return Err(Error::msg(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            wants.push(Want::New);
            continue;
        }
        let id = parse_strict_id(arg)?;
        wants.push(if xreadgroup { Want::History(id) } else { Want::After(id) });
    }
    let count = r.count as usize;
    let mut out = Vec::new();
    for (k, want) in wants.into_iter().enumerate() {
        let key = a[r.streams_at + k];
        let Some(s) = stream_of(&*t, now, key)? else { continue };
        let reply = match (want, r.group) {
            (Want::After(gt), None) => {
                let max = if s.len() > 0 { s.edge(false) } else { None };
                if !max.is_some_and(|m| m > gt) {
                    continue;
                }
                let Some(start) = gt.next() else { continue };
                entries_reply(s.range(start, StreamId::MAX, false, count))
            }
            (Want::New, Some((group, consumer))) => {
                let last = s.groups[group].last_id;
                let max = if s.len() > 0 { s.edge(false) } else { None };
                if !max.is_some_and(|m| m > last) {
                    continue;
                }
                let created = !s.groups[group].consumers.contains_key(consumer);
                let s = stream_mut(t, now, key)?.expect("exists");
                let read = entries_reply(read_new(s, group, consumer, last, count, r.noack, now.ms()));
                consumer_created(now, key, created);
                read
            }
            (Want::History(gt), Some((group, consumer))) => {
                let created = !s.groups[group].consumers.contains_key(consumer);
                let s = stream_mut(t, now, key)?.expect("exists");
                let read = read_history(s, group, consumer, gt, count, now.ms());
                consumer_created(now, key, created);
                read
            }
            _ => unreachable!("wants match the command"),
        };
        out.push(Reply::Array(vec![Reply::Bulk(Bytes::copy_from(key)), reply]));
    }
    Ok((!out.is_empty()).then_some(Reply::Array(out)))
}

/// Records the `xgroup-createconsumer` event of a command that created a consumer.
fn consumer_created(now: &Now<'_>, key: &[u8], created: bool) {
    if created {
        now.notify(STREAM, "xgroup-createconsumer", key);
    }
}

/// Looks a consumer up (refreshing its seen time) or creates it.
fn consumer_mut<'g>(g: &'g mut Group, name: &[u8], now_ms: u64) -> &'g mut Consumer {
    if !g.consumers.contains_key(name) {
        g.consumers.insert(Bytes::copy_from(name), Consumer::default());
    }
    let c = g.consumers.get_mut(name).expect("present");
    c.seen_time = now_ms;
    c
}

/// Serves new entries to a group's consumer (Redis's `streamReplyWithRange` with a group).
fn read_new(
    s: &mut StreamValue,
    group: &[u8],
    consumer: &[u8],
    last: StreamId,
    count: usize,
    noack: bool,
    now_ms: u64,
) -> Vec<StreamEntry> {
    let start = last.next().unwrap_or(StreamId::MAX);
    let entries = s.range(start, StreamId::MAX, false, count);
    // What the read counter needs from the stream, before the group is borrowed.
    let counters: Vec<(bool, i64)> = entries
        .iter()
        .map(|(id, _)| (s.range_has_tombstones(*id, None), s.distance_from_first(*id)))
        .collect();
    let added = s.entries_added;
    let g = s.groups.get_mut(group).expect("checked");
    consumer_mut(g, consumer, now_ms);
    let cname = g.consumers.get_key_value(consumer).expect("created").0.clone();
    for ((id, _), (tombstones, distance)) in entries.iter().zip(counters) {
        if *id > g.last_id {
            if g.entries_read != -1 && !tombstones {
                g.entries_read += 1;
            } else if added > 0 {
                g.entries_read = distance;
            }
            g.last_id = *id;
        }
        if !noack {
            if let Some(old) = g.pel.get(id).map(|n| n.consumer.clone()) {
                if let Some(c) = g.consumers.get_mut(&old) {
                    c.pel.remove(id);
                }
            }
            g.pel
                .insert(*id, Nack { consumer: cname.clone(), delivery_time: now_ms, delivery_count: 1 });
            g.consumers.get_mut(consumer).expect("created").pel.insert(*id);
        }
    }
    entries
}

/// `XREADGROUP GROUP group consumer [COUNT count] [NOACK] STREAMS key >` without `BLOCK`,
/// for typed callers: the entries no consumer of the group was given yet.
///
/// # Errors
/// `NOGROUP ...` if the key or the group is missing; `WRONGTYPE`.
pub(crate) fn xreadgroup_new(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    count: usize,
    noack: bool,
) -> Result<Vec<StreamEntry>, Error> {
    let s = stream_of(&*t, now, key)?;
    let Some(g) = s.and_then(|s| s.groups.get(group)) else { return Err(nogroup_read(key, group)) };
    let last = g.last_id;
    let s = s.expect("has the group");
    if !(s.len() > 0 && s.edge(false).is_some_and(|m| m > last)) {
        return Ok(Vec::new());
    }
    let s = stream_mut(t, now, key)?.expect("exists");
    Ok(read_new(s, group, consumer, last, count, noack, now.ms()))
}

/// Serves a consumer's own pending entries after `gt` (Redis's
/// `streamReplyWithRangeFromConsumerPEL`): an entry deleted since is its ID and nil.
fn read_history(
    s: &mut StreamValue,
    group: &[u8],
    consumer: &[u8],
    gt: StreamId,
    count: usize,
    now_ms: u64,
) -> Reply {
    let mut g = s.groups.remove(group).expect("checked");
    let c = consumer_mut(&mut g, consumer, now_ms);
    let out = match gt.next() {
        None => Vec::new(),
        Some(start) => {
            let ids: Vec<StreamId> = c
                .pel
                .range(start..)
                .take(if count == 0 { usize::MAX } else { count })
                .copied()
                .collect();
            ids.into_iter()
                .map(|id| match s.get(id) {
                    Some(e) => {
                        if let Some(n) = g.pel.get_mut(&id) {
                            n.delivery_time = now_ms;
                            n.delivery_count += 1;
                        }
                        entry_reply(e)
                    }
                    None => Reply::Array(vec![id_reply(id), Reply::Nil]),
                })
                .collect()
        }
    };
    s.groups.insert(Bytes::copy_from(group), g);
    Reply::Array(out)
}

// ----- consumer groups -----

fn subcommand_error(a: &[&[u8]]) -> Error {
    Error::Command(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(a[1]),
        String::from_utf8_lossy(a[0]).to_ascii_uppercase()
    ))
}

/// Checks a container command's subcommand and arity as Redis's command table does, and
/// gives its key (the third word).
fn container_keys(a: &[&[u8]], container: &str, subs: &[(&str, i32)]) -> Result<Vec<usize>, Error> {
    let Some(&(name, arity)) = subs.iter().find(|(n, _)| is(a[1], n)) else {
        return Err(Error::Command(format!(
            "unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(a[1]),
            container.to_ascii_uppercase()
        )));
    };
    let ok =
        if arity >= 0 { a.len() == arity as usize } else { a.len() >= arity.unsigned_abs() as usize };
    if !ok {
        return Err(Error::Command(format!(
            "wrong number of arguments for '{container}|{name}' command"
        )));
    }
    Ok(if a.len() > 2 { vec![2] } else { Vec::new() })
}

fn xgroup_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    let subs =
        [("create", -5), ("createconsumer", 5), ("delconsumer", 5), ("destroy", 4), ("setid", -5)];
    container_keys(a, "xgroup", &subs)
}

fn xinfo_keys(a: &[&[u8]]) -> Result<Vec<usize>, Error> {
    container_keys(a, "xinfo", &[("consumers", 4), ("groups", 3), ("stream", -3)])
}

fn nogroup_key(group: &[u8], key: &[u8]) -> Error {
    Error::Coded(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn xgroup_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let sub = a[1];
    let (key, group) = (a[2], a[3]);
    let create = is(sub, "create");
    let mut mkstream = false;
    let mut entries_read: i64 = -1;
    let mut i = 5;
    while i < a.len() {
        if create && is(a[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || is(sub, "setid")) && is(a[i], "entriesread") && i + 1 < a.len() {
            entries_read = int(a[i + 1])?;
            if entries_read < 0 && entries_read != -1 {
                return Err(Error::msg("value for ENTRIESREAD must be positive or -1"));
            }
            i += 2;
        } else {
            return Err(subcommand_error(a));
        }
    }
    let s = peek_stream(t, now, key)?;
    if !mkstream {
        let Some(s) = s else {
            return Err(Error::msg(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        };
        if !s.groups.contains_key(group)
            && (is(sub, "setid") || is(sub, "createconsumer") || is(sub, "delconsumer"))
        {
            return Err(nogroup_key(group, key));
        }
    }
    if create && (5..=8).contains(&a.len()) {
        let id =
            if a[4] == b"$" { s.map_or(StreamId::MIN, |s| s.last_id) } else { parse_strict_id(a[4])? };
        if s.is_some_and(|s| s.groups.contains_key(group)) {
            return Err(Error::Coded("BUSYGROUP Consumer Group name already exists".into()));
        }
        if s.is_none() {
            t.insert(key, Value::Stream(Box::default()), None);
        }
        let s = stream_mut(t, now, key)?.expect("exists");
        s.groups
            .insert(Bytes::copy_from(group), Group { last_id: id, entries_read, ..Group::default() });
        now.notify(STREAM, "xgroup-create", key);
        return Ok(Reply::ok());
    }
    if is(sub, "setid") && (a.len() == 5 || a.len() == 7) {
        let s = stream_mut(t, now, key)?.expect("exists");
        let id = if a[4] == b"$" { s.last_id } else { parse_id(a[4], 0)? };
        let g = s.groups.get_mut(group).expect("checked");
        g.last_id = id;
        g.entries_read = entries_read;
        now.notify(STREAM, "xgroup-setid", key);
        return Ok(Reply::ok());
    }
    if is(sub, "destroy") && a.len() == 4 {
        if !s.is_some_and(|s| s.groups.contains_key(group)) {
            return Ok(Reply::Int(0));
        }
        let s = stream_mut(t, now, key)?.expect("exists");
        s.groups.remove(group);
        now.notify(STREAM, "xgroup-destroy", key);
        t.signal_ready(key);
        return Ok(Reply::Int(1));
    }
    if is(sub, "createconsumer") && a.len() == 5 {
        if s.is_some_and(|s| s.groups[group].consumers.contains_key(a[4])) {
            return Ok(Reply::Int(0));
        }
        let s = stream_mut(t, now, key)?.expect("exists");
        let g = s.groups.get_mut(group).expect("checked");
        g.consumers
            .insert(Bytes::copy_from(a[4]), Consumer { seen_time: now.ms(), ..Consumer::default() });
        now.notify(STREAM, "xgroup-createconsumer", key);
        return Ok(Reply::Int(1));
    }
    if is(sub, "delconsumer") && a.len() == 5 {
        if !s.is_some_and(|s| s.groups[group].consumers.contains_key(a[4])) {
            return Ok(Reply::Int(0));
        }
        let s = stream_mut(t, now, key)?.expect("exists");
        let g = s.groups.get_mut(group).expect("checked");
        let c = g.consumers.remove(a[4]).expect("checked");
        for id in &c.pel {
            g.pel.remove(id);
        }
        now.notify(STREAM, "xgroup-delconsumer", key);
        return Ok(Reply::Int(c.pel.len() as i64));
    }
    Err(subcommand_error(a))
}

fn xack_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let has_group = peek_stream(t, now, a[1])?.is_some_and(|s| s.groups.contains_key(a[2]));
    if !has_group {
        return Ok(Reply::Int(0));
    }
    let ids = a[3..].iter().map(|x| parse_strict_id(x)).collect::<Result<Vec<_>, _>>()?;
    let pending = peek_stream(t, now, a[1])?
        .is_some_and(|s| ids.iter().any(|id| s.groups[a[2]].pel.contains_key(id)));
    if !pending {
        return Ok(Reply::Int(0));
    }
    Ok(Reply::Int(xack(t, now, a[1], a[2], &ids)? as i64))
}

fn nogroup_any(key: &[u8], group: &[u8]) -> Error {
    Error::Coded(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn xpending_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    if a.len() != 3 && !(6..=9).contains(&a.len()) {
        return Err(Error::syntax());
    }
    let mut range = None;
    let mut minidle = 0i64;
    if a.len() >= 6 {
        let mut at = 3;
        if is(a[3], "idle") {
            minidle = int(a[4])?;
            if a.len() < 8 {
                return Err(Error::syntax());
            }
            at += 2;
        }
        let count = int(a[at + 2])?.max(0);
        let start = start_of(a[at])?;
        let end = end_of(a[at + 1])?;
        let consumer = a.get(at + 3).copied();
        range = Some((start, end, count, consumer));
    }
    let s = stream_of(t, now, a[1])?;
    let Some(g) = s.and_then(|s| s.groups.get(a[2])) else { return Err(nogroup_any(a[1], a[2])) };
    let Some((start, end, mut count, consumer)) = range else {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::Nil]));
        }
        let first = *g.pel.keys().next().expect("not empty");
        let last = *g.pel.keys().next_back().expect("not empty");
        let per: Vec<Reply> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| {
                Reply::Array(vec![
                    Reply::Bulk(n.clone()),
                    Reply::Bulk(Bytes::from(c.pel.len().to_string())),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(per),
        ]));
    };
    let ids: Vec<StreamId> = match consumer {
        Some(c) => match g.consumers.get(c) {
            Some(c) => c.pel.iter().copied().collect(),
            None => return Ok(Reply::Array(Vec::new())),
        },
        None => g.pel.keys().copied().collect(),
    };
    let now_ms = now.ms() as i64;
    let mut out = Vec::new();
    for id in ids.into_iter().filter(|id| *id >= start) {
        if count == 0 || id > end {
            break;
        }
        let n = &g.pel[&id];
        let idle = now_ms - n.delivery_time as i64;
        if minidle != 0 && idle < minidle {
            continue;
        }
        count -= 1;
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::Bulk(n.consumer.clone()),
            Reply::Int(idle.max(0)),
            Reply::Int(n.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

fn xclaim_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let s = stream_of(&*t, now, a[1])?;
    if !s.is_some_and(|s| s.groups.contains_key(a[2])) {
        return Err(nogroup_any(a[1], a[2]));
    }
    let minidle =
        parse_i64(a[4]).ok_or_else(|| Error::msg("Invalid min-idle-time argument for XCLAIM"))?.max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < a.len() {
        match parse_strict_id(a[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now_ms = now.ms() as i64;
    let (mut force, mut justid) = (false, false);
    let mut delivery: i64 = -1;
    let mut retrycount: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = a[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let v =
                parse_i64(a[j]).ok_or_else(|| Error::msg("Invalid IDLE option argument for XCLAIM"))?;
            delivery = now_ms.wrapping_sub(v);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery =
                parse_i64(a[j]).ok_or_else(|| Error::msg("Invalid TIME option argument for XCLAIM"))?;
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retrycount = parse_i64(a[j])
                .ok_or_else(|| Error::msg("Invalid RETRYCOUNT option argument for XCLAIM"))?;
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(a[j])?;
        } else {
            return Err(Error::Command(format!(
                "Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    if delivery == -1 || delivery < 0 || delivery > now_ms {
        delivery = now_ms;
    }
    let s = stream_mut(t, now, a[1])?.expect("exists");
    let mut g = s.groups.remove(a[2]).expect("checked");
    if last_id > g.last_id {
        g.last_id = last_id;
    }
    let name = Bytes::copy_from(a[3]);
    let mut out = Vec::new();
    let mut have_consumer = false;
    for id in ids {
        let entry = s.get(id);
        if entry.is_none() {
            if let Some(n) = g.pel.remove(&id) {
                if let Some(c) = g.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
            }
            continue;
        }
        if force && !g.pel.contains_key(&id) {
            // An owner-less NACK (Redis's `consumer == NULL`): an empty name no consumer has.
            g.pel.insert(
                id,
                Nack {
                    consumer: Bytes::from(Vec::new()),
                    delivery_time: now_ms as u64,
                    delivery_count: 1,
                },
            );
        }
        let Some(n) = g.pel.get(&id) else { continue };
        let (old, delivered) = (n.consumer.clone(), n.delivery_time as i64);
        let owned = !old.is_empty() || g.consumers.contains_key(&old);
        if owned && minidle != 0 && now_ms - delivered < minidle {
            continue;
        }
        if !have_consumer {
            let created = !g.consumers.contains_key(&name[..]);
            consumer_mut(&mut g, &name, now_ms as u64);
            consumer_created(now, a[1], created);
            have_consumer = true;
        }
        if old != name {
            if let Some(c) = g.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        let n = g.pel.get_mut(&id).expect("present");
        n.delivery_time = delivery as u64;
        if retrycount >= 0 {
            n.delivery_count = retrycount as u64;
        } else if !justid {
            n.delivery_count += 1;
        }
        n.consumer = name.clone();
        g.consumers.get_mut(&name).expect("created").pel.insert(id);
        out.push(if justid { id_reply(id) } else { entry_reply(entry.expect("exists")) });
    }
    s.groups.insert(Bytes::copy_from(a[2]), g);
    Ok(Reply::Array(out))
}

fn xautoclaim_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let minidle = parse_i64(a[4])
        .ok_or_else(|| Error::msg("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = start_of(a[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(a[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = parse_i64(a[j + 1])
                .filter(|c| (1..=max).contains(c))
                .ok_or_else(|| Error::msg("COUNT must be > 0"))?;
            j += 1;
        } else if is(a[j], "justid") {
            justid = true;
        } else {
            return Err(Error::syntax());
        }
        j += 1;
    }
    let s = stream_of(&*t, now, a[1])?;
    if !s.is_some_and(|s| s.groups.contains_key(a[2])) {
        return Err(nogroup_any(a[1], a[2]));
    }
    let now_ms = now.ms() as i64;
    let s = stream_mut(t, now, a[1])?.expect("exists");
    let mut g = s.groups.remove(a[2]).expect("checked");
    let name = Bytes::copy_from(a[3]);
    let mut attempts = count * 10;
    let ids: Vec<StreamId> = g.pel.range(start..).map(|(id, _)| *id).collect();
    let mut at = 0;
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut have_consumer = false;
    while attempts > 0 && count > 0 && at < ids.len() {
        attempts -= 1;
        let id = ids[at];
        at += 1;
        let Some(entry) = s.get(id) else {
            let n = g.pel.remove(&id).expect("listed");
            if let Some(c) = g.consumers.get_mut(&n.consumer) {
                c.pel.remove(&id);
            }
            deleted.push(id_reply(id));
            count -= 1;
            continue;
        };
        let n = &g.pel[&id];
        if minidle != 0 && now_ms - (n.delivery_time as i64) < minidle {
            continue;
        }
        if !have_consumer {
            let created = !g.consumers.contains_key(&name[..]);
            consumer_mut(&mut g, &name, now_ms as u64);
            consumer_created(now, a[1], created);
            have_consumer = true;
        }
        let old = g.pel[&id].consumer.clone();
        if old != name {
            if let Some(c) = g.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        let n = g.pel.get_mut(&id).expect("present");
        n.delivery_time = now_ms as u64;
        if !justid {
            n.delivery_count += 1;
        }
        n.consumer = name.clone();
        g.consumers.get_mut(&name).expect("created").pel.insert(id);
        claimed.push(if justid { id_reply(id) } else { entry_reply(entry) });
        count -= 1;
    }
    let next = ids.get(at).copied().unwrap_or(StreamId::MIN);
    s.groups.insert(Bytes::copy_from(a[2]), g);
    Ok(Reply::Array(vec![id_reply(next), Reply::Array(claimed), Reply::Array(deleted)]))
}

fn xinfo_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let key = a[2];
    let Some(s) = stream_of(t, now, key)? else { return Err(Error::msg("no such key")) };
    let bulk = |s: &str| Reply::bulk(s);
    if is(a[1], "consumers") {
        let Some(g) = s.groups.get(a[3]) else { return Err(nogroup_key(a[3], key)) };
        let now_ms = now.ms() as i64;
        return Ok(Reply::Array(
            g.consumers
                .iter()
                .map(|(n, c)| {
                    Reply::Array(vec![
                        bulk("name"),
                        Reply::Bulk(n.clone()),
                        bulk("pending"),
                        Reply::Int(c.pel.len() as i64),
                        bulk("idle"),
                        Reply::Int((now_ms - c.seen_time as i64).max(0)),
                    ])
                })
                .collect(),
        ));
    }
    if is(a[1], "groups") {
        return Ok(Reply::Array(
            s.groups
                .iter()
                .map(|(n, g)| {
                    Reply::Array(vec![
                        bulk("name"),
                        Reply::Bulk(n.clone()),
                        bulk("consumers"),
                        Reply::Int(g.consumers.len() as i64),
                        bulk("pending"),
                        Reply::Int(g.pel.len() as i64),
                        bulk("last-delivered-id"),
                        id_reply(g.last_id),
                        bulk("entries-read"),
                        if g.entries_read != -1 { Reply::Int(g.entries_read) } else { Reply::Nil },
                        bulk("lag"),
                        lag(s, g),
                    ])
                })
                .collect(),
        ));
    }
    // STREAM [FULL [COUNT n]]
    let opts = &a[3..];
    let full = match opts.len() {
        0 => None,
        1 | 3 if is(opts[0], "full") => {
            if opts.len() == 3 && !is(opts[1], "count") {
                return Err(subcommand_error(a));
            }
            let count = if opts.len() == 3 { int(opts[2])? } else { 10 };
            Some(if count < 0 { 10 } else { count as usize })
        }
        _ => return Err(subcommand_error(a)),
    };
    let mut out = vec![
        bulk("length"),
        Reply::Int(s.len() as i64),
        bulk("radix-tree-keys"),
        Reply::Int(s.node_count() as i64),
        bulk("radix-tree-nodes"),
        Reply::Int(s.node_count() as i64 + 1),
        bulk("last-generated-id"),
        id_reply(s.last_id),
        bulk("max-deleted-entry-id"),
        id_reply(s.max_deleted),
        bulk("entries-added"),
        Reply::Int(s.entries_added as i64),
        bulk("recorded-first-entry-id"),
        id_reply(s.first_id),
    ];
    let Some(count) = full else {
        let entry = |id: Option<StreamId>| id.and_then(|id| s.get(id)).map_or(Reply::Nil, entry_reply);
        out.extend([
            bulk("groups"),
            Reply::Int(s.groups.len() as i64),
            bulk("first-entry"),
            entry(s.edge(true)),
            bulk("last-entry"),
            entry(s.edge(false)),
        ]);
        return Ok(Reply::Array(out));
    };
    let limit = |n: usize| if count == 0 { n } else { n.min(count) };
    out.extend([bulk("entries"), entries_reply(s.range(StreamId::MIN, StreamId::MAX, false, count))]);
    let groups = s.groups.iter().map(|(name, g)| {
        let pel = g.pel.iter().take(limit(g.pel.len())).map(|(id, n)| {
            Reply::Array(vec![
                id_reply(*id),
                Reply::Bulk(n.consumer.clone()),
                Reply::Int(n.delivery_time as i64),
                Reply::Int(n.delivery_count as i64),
            ])
        });
        let consumers = g.consumers.iter().map(|(cname, c)| {
            let pending = c.pel.iter().take(limit(c.pel.len())).map(|id| {
                let n = &g.pel[id];
                Reply::Array(vec![
                    id_reply(*id),
                    Reply::Int(n.delivery_time as i64),
                    Reply::Int(n.delivery_count as i64),
                ])
            });
            Reply::Array(vec![
                bulk("name"),
                Reply::Bulk(cname.clone()),
                bulk("seen-time"),
                Reply::Int(c.seen_time as i64),
                bulk("pel-count"),
                Reply::Int(c.pel.len() as i64),
                bulk("pending"),
                Reply::Array(pending.collect()),
            ])
        });
        Reply::Array(vec![
            bulk("name"),
            Reply::Bulk(name.clone()),
            bulk("last-delivered-id"),
            id_reply(g.last_id),
            bulk("entries-read"),
            if g.entries_read != -1 { Reply::Int(g.entries_read) } else { Reply::Nil },
            bulk("lag"),
            lag(s, g),
            bulk("pel-count"),
            Reply::Int(g.pel.len() as i64),
            bulk("pending"),
            Reply::Array(pel.collect()),
            bulk("consumers"),
            Reply::Array(consumers.collect()),
        ])
    });
    out.extend([bulk("groups"), Reply::Array(groups.collect())]);
    Ok(Reply::Array(out))
}

/// Redis's `streamReplyWithCGLag`.
fn lag(s: &StreamValue, g: &Group) -> Reply {
    if s.entries_added == 0 {
        return Reply::Int(0);
    }
    if g.entries_read != -1 && !s.range_has_tombstones(g.last_id, None) {
        return Reply::Int(s.entries_added as i64 - g.entries_read);
    }
    let read = s.distance_from_first(g.last_id);
    if read != -1 {
        Reply::Int(s.entries_added as i64 - read)
    } else {
        Reply::Nil
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis() {
        assert_eq!(parse_id(b"5", 7), Ok(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"5-3", 7), Ok(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"+5-03", 0), Ok(StreamId::new(5, 3)), "strtoull reads these");
        assert_eq!(parse_id(b"-", 0), Ok(StreamId::MIN));
        assert_eq!(parse_strict_id(b"-"), Err(invalid_id()));
        assert_eq!(parse_id(b"-1", 0), Err(invalid_id()));
        assert_eq!(parse_id(b"18446744073709551616", 0), Err(invalid_id()));
        assert_eq!(parse_id_ext(b"5-*", 0, true, true), Ok((StreamId::new(5, 0), false)));
        assert_eq!(parse_id(b"5-*", 0), Err(invalid_id()));
    }
}
