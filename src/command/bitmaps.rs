//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, with Redis 7.0's ranges, limits, overflow rules and error texts.
//!
//! Bit 0 is the most significant bit of the first byte, as in Redis. A bitmap is a plain
//! string value: `GET` reads its bytes, and it replicates, migrates and is accounted as any
//! string.

use super::args::{int, is, parse_i64};
use super::hashes::peek;
use super::strings::as_string;
use super::{KeySpec, Spec, ONE_KEY};
use crate::error::Error;
use crate::keyspace::{Db, Lookup, Now, Str, Value, View};
use crate::reply::Reply;

/// Redis's `proto-max-bulk-len` (512 MB): bit offsets must address a byte below it.
const MAX_BYTES: u64 = 512 * 1024 * 1024;

/// The unit of a `BITCOUNT`/`BITPOS` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BitUnit {
    /// Indexes count bytes (the default).
    #[default]
    Byte,
    /// Indexes count bits.
    Bit,
}

/// A `BITOP` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// Bitwise AND of every source.
    And,
    /// Bitwise OR of every source.
    Or,
    /// Bitwise XOR of every source.
    Xor,
    /// Bitwise NOT of one source.
    Not,
}

/// What a `BITFIELD` write does when a value does not fit its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wrap around, as integers of that width do (the default).
    #[default]
    Wrap,
    /// Saturate at the type's minimum or maximum.
    Sat,
    /// Refuse the write and answer nil for it.
    Fail,
}

/// An integer type of `BITFIELD`: signed up to 64 bits (`i1`..`i64`), unsigned up to 63
/// (`u1`..`u63`), as Redis allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitfieldType {
    signed: bool,
    bits: u32,
}

impl BitfieldType {
    /// `i<bits>`.
    ///
    /// # Errors
    /// Redis's `ERR Invalid bitfield type...` unless `1 <= bits <= 64`.
    pub fn signed(bits: u32) -> Result<BitfieldType, Error> {
        if (1..=64).contains(&bits) {
            Ok(BitfieldType { signed: true, bits })
        } else {
            Err(bad_type())
        }
    }

    /// `u<bits>`.
    ///
    /// # Errors
    /// Redis's `ERR Invalid bitfield type...` unless `1 <= bits <= 63`.
    pub fn unsigned(bits: u32) -> Result<BitfieldType, Error> {
        if (1..=63).contains(&bits) {
            Ok(BitfieldType { signed: false, bits })
        } else {
            Err(bad_type())
        }
    }

    /// Parses `i8`, `u16`, ... as Redis does (lowercase `i`/`u`, a width without sign or
    /// leading zeros).
    fn parse(arg: &[u8]) -> Result<BitfieldType, Error> {
        match arg.split_first() {
            Some((b'i', w)) => BitfieldType::signed(width(w)?),
            Some((b'u', w)) => BitfieldType::unsigned(width(w)?),
            _ => Err(bad_type()),
        }
    }
}

fn width(w: &[u8]) -> Result<u32, Error> {
    parse_i64(w).filter(|b| (1..=64).contains(b)).map(|b| b as u32).ok_or_else(bad_type)
}

fn bad_type() -> Error {
    Error::msg(
        "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    )
}

fn bad_offset() -> Error {
    Error::msg("bit offset is not an integer or out of range")
}

/// One `BITFIELD` operation. Offsets are in bits; Redis's `#n` form is `n` times the type's
/// width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitfieldOp {
    /// `GET type offset`: the field's value.
    Get(BitfieldType, u64),
    /// `SET type offset value`: stores `value`, answers the old value.
    Set(BitfieldType, u64, i64),
    /// `INCRBY type offset increment`: adds, answers the new value.
    IncrBy(BitfieldType, u64, i64),
    /// `OVERFLOW WRAP|SAT|FAIL` for the writes that follow.
    Overflow(Overflow),
}

/// A bit offset as Redis's `getBitOffsetFromArgument`: an integer (or `#n` times `bits` when
/// `bits` is given), at least 0, addressing a byte below 512 MB.
fn parse_offset(arg: &[u8], bits: Option<u32>) -> Result<u64, Error> {
    let (hash, digits) = match (arg.first(), bits) {
        (Some(b'#'), Some(b)) => (Some(b), &arg[1..]),
        _ => (None, arg),
    };
    let mut n = parse_i64(digits).ok_or_else(bad_offset)?;
    if let Some(b) = hash {
        // As Redis's C multiplication: wraps (and is then refused as negative or too far).
        n = n.wrapping_mul(i64::from(b));
    }
    check_offset(n)
}

fn check_offset(n: i64) -> Result<u64, Error> {
    if n < 0 || (n as u64 >> 3) >= MAX_BYTES {
        return Err(bad_offset());
    }
    Ok(n as u64)
}

/// The string at `key` for a bit command that reads it; None if missing.
fn bytes_of<'t>(t: &'t impl Lookup, now: &Now<'_>, key: &[u8]) -> Result<Option<&'t [u8]>, Error> {
    t.entry(key, now).map(|e| as_string(e).map(|s| &s[..])).transpose()
}

/// The string at `key` for a bit command that writes it, padded with zero bytes to address
/// bit `maxbit` (Redis's `lookupStringForBitCommand`): a copy to change, and whether it
/// differs from what is stored (created or grown).
fn bytes_for_write(
    t: &Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    maxbit: u64,
) -> Result<(Vec<u8>, bool), Error> {
    let need = (maxbit >> 3) as usize + 1;
    match peek(t, now, key) {
        None => Ok((vec![0; need], true)),
        Some(e) => {
            let mut v = as_string(e)?.to_vec();
            let grown = v.len() < need;
            if grown {
                v.resize(need, 0);
            }
            Ok((v, grown))
        }
    }
}

/// Runs `f` on the bytes of the string at `key` in place, if no one else shares them (None:
/// the caller copies). The length does not change, so neither does the key's cost.
fn in_place<R>(t: &mut Db<'_>, now: &Now<'_>, key: &[u8], f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
    match &mut t.get_mut(key, now)?.value {
        Value::Str(s) => s.as_mut_slice().map(f),
        _ => None,
    }
}

/// Stores a bitmap changed by a bit command, keeping the key's TTL.
fn store(t: &mut Db<'_>, key: &[u8], bytes: Vec<u8>) {
    t.replace_value(key, Value::Str(Str::from(bytes)));
}

/// `SETBIT`: sets the bit at `offset` (below 2^32) to `on`, growing the string with zero
/// bytes as needed; returns the old bit.
///
/// # Errors
/// `ERR bit offset is not an integer or out of range` past 2^32 - 1; `WRONGTYPE`.
pub(crate) fn setbit(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    offset: u64,
    on: bool,
) -> Result<bool, Error> {
    check_offset(i64::try_from(offset).map_err(|_| bad_offset())?)?;
    let (byte, mask) = ((offset >> 3) as usize, 1u8 << (7 - (offset & 7)));
    // Within the string: flip the bit in place (no copy of a large bitmap), or change
    // nothing at all when it already has the value.
    if let Some(e) = peek(t, now, key) {
        let s = as_string(e)?;
        if byte < s.len() {
            let old = s[byte] & mask != 0;
            if old == on {
                return Ok(old);
            }
            let flipped = in_place(t, now, key, |b| b[byte] ^= mask);
            if flipped.is_some() {
                return Ok(old);
            }
        }
    }
    let (mut v, grown) = bytes_for_write(t, now, key, offset)?;
    let old = v[byte] & mask != 0;
    if grown || old != on {
        if on {
            v[byte] |= mask;
        } else {
            v[byte] &= !mask;
        }
        store(t, key, v);
    }
    Ok(old)
}

/// `GETBIT`: the bit at `offset` (0 past the end or for a missing key).
///
/// # Errors
/// `WRONGTYPE`.
pub(crate) fn getbit(t: &impl Lookup, now: &Now<'_>, key: &[u8], offset: u64) -> Result<bool, Error> {
    let Some(s) = bytes_of(t, now, key)? else { return Ok(false) };
    let byte = offset >> 3;
    Ok(byte < s.len() as u64 && s[byte as usize] & (1 << (7 - (offset & 7))) != 0)
}

/// A range of a `BITCOUNT`/`BITPOS` resolved to bytes: `start..=end` and the masks of the
/// bits outside the range in the first and last byte (bit ranges only).
struct Resolved {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Redis's range arithmetic for `BITCOUNT`/`BITPOS`: negative indexes from the end, clamped,
/// bit indexes turned into bytes with edge masks.
fn resolve(len: i64, mut start: i64, mut end: i64, unit: BitUnit) -> Resolved {
    let total = if unit == BitUnit::Bit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0, 0);
    if unit == BitUnit::Bit && start <= end {
        first_mask = !((1u32 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u32 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Resolved { start, end, first_mask, last_mask }
}

fn popcount(s: &[u8]) -> i64 {
    s.iter().map(|b| i64::from(b.count_ones())).sum()
}

/// `BITCOUNT`: the set bits of the string, or of `range` (start, end, unit) with Redis's
/// negative indexes.
///
/// # Errors
/// `WRONGTYPE`.
pub(crate) fn bitcount(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    range: Option<(i64, i64, BitUnit)>,
) -> Result<i64, Error> {
    let Some(s) = bytes_of(t, now, key)? else { return Ok(0) };
    Ok(count_range(s, range))
}

fn count_range(s: &[u8], range: Option<(i64, i64, BitUnit)>) -> i64 {
    let r = match range {
        Some((start, end, _)) if start < 0 && end < 0 && start > end => return 0,
        Some((start, end, unit)) => resolve(s.len() as i64, start, end, unit),
        None => Resolved { start: 0, end: s.len() as i64 - 1, first_mask: 0, last_mask: 0 },
    };
    if r.start > r.end {
        return 0;
    }
    let (start, end) = (r.start as usize, r.end as usize);
    let mut count = popcount(&s[start..=end]);
    // The bits of the edge bytes outside a bit range were counted: take them off.
    count -= i64::from((s[start] & r.first_mask).count_ones());
    count -= i64::from((s[end] & r.last_mask).count_ones());
    count
}

/// Redis's `redisBitpos`: the first bit equal to `bit` in `s`; for a 1 not found, -1; for a 0
/// not found, the bit just past `s` (the string reads as padded with zeros).
fn first_bit(s: &[u8], bit: bool) -> i64 {
    for (i, &b) in s.iter().enumerate() {
        let b = if bit { b } else { !b };
        if b != 0 {
            return i as i64 * 8 + i64::from(b.leading_zeros());
        }
    }
    if bit {
        -1
    } else {
        s.len() as i64 * 8
    }
}

/// `BITPOS`: the first bit equal to `bit` in the string, or within `start` and `end` (in
/// `unit`s, negative from the end). -1 if there is none; looking for a 0 without an `end`
/// finds the first bit past the string.
///
/// # Errors
/// `WRONGTYPE`.
pub(crate) fn bitpos(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    bit: bool,
    start: Option<i64>,
    end: Option<i64>,
    unit: BitUnit,
) -> Result<i64, Error> {
    let Some(s) = bytes_of(t, now, key)? else { return Ok(if bit { -1 } else { 0 }) };
    Ok(find_range(s, bit, start, end, unit))
}

fn find_range(p: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, unit: BitUnit) -> i64 {
    let len = p.len() as i64;
    let end_given = end.is_some();
    let r = match start {
        Some(start) => {
            let end = end.unwrap_or(if unit == BitUnit::Bit { (len << 3) + 7 } else { len - 1 });
            resolve(len, start, end, unit)
        }
        None => Resolved { start: 0, end: len - 1, first_mask: 0, last_mask: 0 },
    };
    let Resolved { mut start, end, first_mask, last_mask } = r;
    if start > end {
        return -1;
    }
    let mut bytes = end - start + 1;
    // Redis's scan: the masked first byte, the whole bytes, the masked last byte.
    let edge = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    let pos = 'found: {
        if first_mask != 0 {
            let mut tmp = edge(p[start as usize], first_mask);
            if last_mask != 0 && bytes == 1 {
                tmp = edge(tmp, last_mask);
            }
            let pos = first_bit(&[tmp], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            bytes -= 1;
        }
        let whole = bytes - i64::from(last_mask != 0);
        if whole > 0 {
            let pos = first_bit(&p[start as usize..(start + whole) as usize], bit);
            if bytes == whole || (pos != -1 && pos != whole << 3) {
                break 'found pos;
            }
            start += whole;
            bytes -= whole;
        }
        first_bit(&[edge(p[end as usize], last_mask)], bit)
    };
    // With an explicit end, the bits right of the range are not zero padding.
    if end_given && !bit && pos == bytes << 3 {
        return -1;
    }
    if pos == -1 {
        -1
    } else {
        pos + (start << 3)
    }
}

/// `BITOP`: combines the strings at `srcs` (missing keys read as empty, shorter strings as
/// padded with zeros) into `dst`, replacing its value and TTL; an empty result deletes `dst`.
/// Returns the result's length.
///
/// # Errors
/// `ERR BITOP NOT must be called with a single source key.`; `WRONGTYPE` if a source is not a
/// string.
pub(crate) fn bitop<K: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    op: BitOp,
    dst: &[u8],
    srcs: &[K],
) -> Result<usize, Error> {
    if op == BitOp::Not && srcs.len() != 1 {
        return Err(Error::msg("BITOP NOT must be called with a single source key."));
    }
    let mut sources = Vec::with_capacity(srcs.len());
    for k in srcs {
        sources.push(bytes_of(t, now, k.as_ref())?.unwrap_or(&[]));
    }
    let maxlen = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    if maxlen == 0 {
        t.remove(dst);
        return Ok(0);
    }
    let at = |s: &[u8], j: usize| s.get(j).copied().unwrap_or(0);
    let out: Vec<u8> = (0..maxlen)
        .map(|j| {
            let first = at(sources[0], j);
            let rest = sources[1..].iter().map(|s| at(s, j));
            match op {
                BitOp::And => rest.fold(first, |a, b| a & b),
                BitOp::Or => rest.fold(first, |a, b| a | b),
                BitOp::Xor => rest.fold(first, |a, b| a ^ b),
                BitOp::Not => !first,
            }
        })
        .collect();
    t.insert(dst, Value::Str(Str::from(out)), None);
    Ok(maxlen)
}

fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |v, j| {
        let o = offset + j;
        let byte = p.get((o >> 3) as usize).copied().unwrap_or(0);
        (v << 1) | u64::from((byte >> (7 - (o & 7))) & 1)
    })
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        v | (-1i64 << bits)
    } else {
        v
    }
}

fn set_unsigned(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let bit = (value >> (u64::from(bits) - 1 - j)) & 1;
        let o = offset + j;
        let shift = 7 - (o & 7);
        let b = &mut p[(o >> 3) as usize];
        *b = (*b & !(1 << shift)) | ((bit as u8) << shift);
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: None if `value + incr` fits, else the value the
/// overflow policy gives (None's twin for `Fail` is `Some(None)`).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<Option<u64>> {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        })
    } else if incr < 0 && incr < minincr {
        Some(match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(0),
            Overflow::Fail => None,
        })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, shaped as [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<Option<i64>> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        })
    } else if value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(min),
            Overflow::Fail => None,
        })
    } else {
        None
    }
}

/// `BITFIELD`: runs `ops` in order on the string at `key` (created or grown with zero bytes
/// as far as the writes reach); one answer per GET/SET/INCRBY, None where `OVERFLOW FAIL`
/// refused a write.
///
/// # Errors
/// `ERR bit offset is not an integer or out of range` past 2^32 bits; `WRONGTYPE`.
pub(crate) fn bitfield(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    ops: &[BitfieldOp],
) -> Result<Vec<Option<i64>>, Error> {
    let mut highest = None::<u64>;
    for op in ops {
        match *op {
            BitfieldOp::Get(_, offset) => {
                check_offset(i64::try_from(offset).map_err(|_| bad_offset())?)?;
            }
            BitfieldOp::Set(ty, offset, _) | BitfieldOp::IncrBy(ty, offset, _) => {
                check_offset(i64::try_from(offset).map_err(|_| bad_offset())?)?;
                let last = offset + u64::from(ty.bits) - 1;
                highest = Some(highest.map_or(last, |h| h.max(last)));
            }
            BitfieldOp::Overflow(_) => {}
        }
    }
    let Some(highest) = highest else {
        // Only reads: a missing key reads as zeros and is not created.
        let s = bytes_of(t, now, key)?.unwrap_or(&[]);
        let gets = ops.iter().filter_map(|op| match *op {
            BitfieldOp::Get(ty, off) => Some(Some(get_field(s, ty, off))),
            _ => None,
        });
        return Ok(gets.collect());
    };
    let (mut v, grown) = bytes_for_write(t, now, key, highest)?;
    let (out, changed) = run_fields(&mut v, ops);
    if grown || changed {
        store(t, key, v);
    }
    Ok(out)
}

/// `BITFIELD_RO`: [`bitfield`] with GETs only.
pub(crate) fn bitfield_ro(
    t: &impl Lookup,
    now: &Now<'_>,
    key: &[u8],
    ops: &[(BitfieldType, u64)],
) -> Result<Vec<i64>, Error> {
    let s = bytes_of(t, now, key)?.unwrap_or(&[]);
    Ok(ops.iter().map(|&(ty, off)| get_field(s, ty, off)).collect())
}

/// The field of type `ty` at bit `off` (bits past the string read as zeros).
fn get_field(p: &[u8], ty: BitfieldType, off: u64) -> i64 {
    if ty.signed {
        get_signed(p, off, ty.bits)
    } else {
        get_unsigned(p, off, ty.bits) as i64
    }
}

/// Runs the operations on `p` (long enough for every write); returns the answers and
/// whether a write changed a value.
fn run_fields(p: &mut [u8], ops: &[BitfieldOp]) -> (Vec<Option<i64>>, bool) {
    let mut ow = Overflow::Wrap;
    let mut out = Vec::with_capacity(ops.len());
    let mut changed = false;
    for op in ops {
        match *op {
            BitfieldOp::Overflow(o) => ow = o,
            BitfieldOp::Get(ty, off) => out.push(Some(get_field(p, ty, off))),
            BitfieldOp::Set(ty, off, n) | BitfieldOp::IncrBy(ty, off, n) => {
                let incr = matches!(op, BitfieldOp::IncrBy(..));
                if ty.signed {
                    let old = get_signed(p, off, ty.bits);
                    let new = if incr {
                        signed_overflow(old, n, ty.bits, ow).unwrap_or(Some(old.wrapping_add(n)))
                    } else {
                        signed_overflow(n, 0, ty.bits, ow).unwrap_or(Some(n))
                    };
                    match new {
                        Some(new) => {
                            out.push(Some(if incr { new } else { old }));
                            set_unsigned(p, off, ty.bits, new as u64);
                            changed |= new != old;
                        }
                        None => out.push(None),
                    }
                } else {
                    let old = get_unsigned(p, off, ty.bits);
                    let new = if incr {
                        unsigned_overflow(old, n, ty.bits, ow)
                            .unwrap_or(Some(old.wrapping_add(n as u64)))
                    } else {
                        unsigned_overflow(n as u64, 0, ty.bits, ow).unwrap_or(Some(n as u64))
                    };
                    match new {
                        Some(new) => {
                            out.push(Some(if incr { new as i64 } else { old as i64 }));
                            set_unsigned(p, off, ty.bits, new);
                            changed |= new != old;
                        }
                        None => out.push(None),
                    }
                }
            }
        }
    }
    (out, changed)
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("setbit", 4, ONE_KEY, setbit_cmd),
    Spec::read("getbit", 3, ONE_KEY, getbit_cmd),
    Spec::read("bitcount", -2, ONE_KEY, bitcount_cmd),
    Spec::read("bitpos", -3, ONE_KEY, bitpos_cmd),
    Spec::write("bitop", -4, KeySpec::Range { first: 2, last: -1, step: 1 }, bitop_cmd),
    Spec::write("bitfield", -2, ONE_KEY, bitfield_cmd),
    Spec::read("bitfield_ro", -2, ONE_KEY, bitfield_ro_cmd),
];

// ----- handlers -----

fn setbit_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let offset = parse_offset(a[2], None)?;
    let on = match parse_i64(a[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(Error::msg("bit is not an integer or out of range")),
    };
    Ok(Reply::Int(setbit(t, now, a[1], offset, on)?.into()))
}

fn getbit_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let offset = parse_offset(a[2], None)?;
    Ok(Reply::Int(getbit(t, now, a[1], offset)?.into()))
}

fn unit(arg: &[u8]) -> Result<BitUnit, Error> {
    if is(arg, "bit") {
        Ok(BitUnit::Bit)
    } else if is(arg, "byte") {
        Ok(BitUnit::Byte)
    } else {
        Err(Error::syntax())
    }
}

fn bitcount_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    // As Redis: the key is looked up before the arguments are read.
    let Some(s) = bytes_of(t, now, a[1])? else { return Ok(Reply::Int(0)) };
    let range = match a.len() {
        2 => None,
        4 | 5 => {
            let (start, end) = (int(a[2])?, int(a[3])?);
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let u = if a.len() == 5 { unit(a[4])? } else { BitUnit::Byte };
            Some((start, end, u))
        }
        _ => return Err(Error::syntax()),
    };
    Ok(Reply::Int(count_range(s, range)))
}

fn bitpos_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let bit = match int(a[2])? {
        0 => false,
        1 => true,
        _ => return Err(Error::msg("The bit argument must be 1 or 0.")),
    };
    let Some(s) = bytes_of(t, now, a[1])? else { return Ok(Reply::Int(if bit { -1 } else { 0 })) };
    let (start, end, u) = match a.len() {
        3 => (None, None, BitUnit::Byte),
        4..=6 => {
            let start = int(a[3])?;
            let u = if a.len() == 6 { unit(a[5])? } else { BitUnit::Byte };
            let end = if a.len() >= 5 { Some(int(a[4])?) } else { None };
            (Some(start), end, u)
        }
        _ => return Err(Error::syntax()),
    };
    Ok(Reply::Int(find_range(s, bit, start, end, u)))
}

fn bitop_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let op = [("and", BitOp::And), ("or", BitOp::Or), ("xor", BitOp::Xor), ("not", BitOp::Not)]
        .into_iter()
        .find(|(name, _)| is(a[1], name))
        .map(|(_, op)| op)
        .ok_or_else(Error::syntax)?;
    Ok(Reply::Int(bitop(t, now, op, a[2], &a[3..])? as i64))
}

/// Parses `BITFIELD`'s operations from index 2, as Redis: syntax, type, offset and value of
/// each in order, the first bad one answering its error.
fn parse_fields(a: &[&[u8]]) -> Result<Vec<BitfieldOp>, Error> {
    let mut ops = Vec::new();
    let mut j = 2;
    while j < a.len() {
        let rem = a.len() - j - 1;
        let sub = a[j];
        let write = if is(sub, "get") && rem >= 2 {
            false
        } else if (is(sub, "set") || is(sub, "incrby")) && rem >= 3 {
            true
        } else if is(sub, "overflow") && rem >= 1 {
            let w = a[j + 1];
            let o = if is(w, "wrap") {
                Overflow::Wrap
            } else if is(w, "sat") {
                Overflow::Sat
            } else if is(w, "fail") {
                Overflow::Fail
            } else {
                return Err(Error::msg("Invalid OVERFLOW type specified"));
            };
            ops.push(BitfieldOp::Overflow(o));
            j += 2;
            continue;
        } else {
            return Err(Error::syntax());
        };
        let ty = BitfieldType::parse(a[j + 1])?;
        let offset = parse_offset(a[j + 2], Some(ty.bits))?;
        if write {
            let n = int(a[j + 3])?;
            ops.push(if is(sub, "set") {
                BitfieldOp::Set(ty, offset, n)
            } else {
                BitfieldOp::IncrBy(ty, offset, n)
            });
            j += 4;
        } else {
            ops.push(BitfieldOp::Get(ty, offset));
            j += 3;
        }
    }
    Ok(ops)
}

fn fields_reply(out: Vec<Option<i64>>) -> Reply {
    Reply::Array(out.into_iter().map(|v| v.map_or(Reply::Nil, Reply::Int)).collect())
}

fn bitfield_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(fields_reply(bitfield(t, now, a[1], &parse_fields(a)?)?))
}

fn bitfield_ro_cmd(t: &View<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    let ops = parse_fields(a)?;
    let gets: Vec<(BitfieldType, u64)> = ops
        .iter()
        .filter_map(|op| match *op {
            BitfieldOp::Get(ty, off) => Some(Ok((ty, off))),
            BitfieldOp::Overflow(_) => None,
            _ => Some(Err(())),
        })
        .collect::<Result<_, ()>>()
        .map_err(|()| Error::msg("BITFIELD_RO only supports the GET subcommand"))?;
    let out = bitfield_ro(t, now, a[1], &gets)?;
    Ok(Reply::Array(out.into_iter().map(Reply::Int).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_stop_at_512_megabytes() {
        assert_eq!(parse_offset(b"4294967295", None), Ok(4294967295));
        assert_eq!(parse_offset(b"4294967296", None), Err(bad_offset()));
        assert_eq!(parse_offset(b"-1", None), Err(bad_offset()));
        assert_eq!(parse_offset(b"#3", None), Err(bad_offset()), "# only in BITFIELD");
        assert_eq!(parse_offset(b"#3", Some(8)), Ok(24));
        // Redis's multiplication wraps: 2^61 * 8 is 0.
        assert_eq!(parse_offset(b"#2305843009213693952", Some(8)), Ok(0));
    }

    #[test]
    fn bitpos_and_bitcount_as_the_redis_docs() {
        let s = [0xff, 0xf0, 0x00];
        assert_eq!(find_range(&s, false, None, None, BitUnit::Byte), 12);
        assert_eq!(find_range(&[0, 0xff, 0xf0], true, Some(2), None, BitUnit::Byte), 16);
        assert_eq!(find_range(&[0, 0xff, 0xf0], true, Some(2), Some(-1), BitUnit::Byte), 16);
        assert_eq!(find_range(&[0, 0xff, 0xf0], true, Some(7), Some(15), BitUnit::Bit), 8);
        assert_eq!(find_range(&[0, 0, 0], true, None, None, BitUnit::Byte), -1);
        assert_eq!(find_range(&[0xff; 3], false, Some(0), Some(-1), BitUnit::Byte), -1);
        assert_eq!(find_range(&[0xff; 3], false, Some(0), None, BitUnit::Byte), 24);
        assert_eq!(count_range(b"foobar", None), 26);
        assert_eq!(count_range(b"foobar", Some((1, 1, BitUnit::Byte))), 6);
        assert_eq!(count_range(b"foobar", Some((5, 30, BitUnit::Bit))), 17);
    }

    #[test]
    fn bitfield_overflow_policies() {
        let u8t = BitfieldType::unsigned(8).unwrap();
        let i8t = BitfieldType::signed(8).unwrap();
        let mut p = [0u8; 2];
        let (out, changed) = run_fields(
            &mut p,
            &[
                BitfieldOp::IncrBy(u8t, 0, 300),
                BitfieldOp::Overflow(Overflow::Sat),
                BitfieldOp::IncrBy(i8t, 8, -200),
                BitfieldOp::Overflow(Overflow::Fail),
                BitfieldOp::IncrBy(i8t, 8, -1),
                BitfieldOp::Set(u8t, 0, 7),
            ],
        );
        assert_eq!(out, vec![Some(44), Some(-128), None, Some(44)]);
        assert!(changed);
        assert_eq!(p, [7, 0x80]);
        assert!(BitfieldType::unsigned(64).is_err());
        assert!(BitfieldType::signed(64).is_ok());
        assert_eq!(BitfieldType::parse(b"u08"), Err(bad_type()));
    }
}
