//! HyperLogLog on string values, bit-compatible with Redis 7: the same 16-byte header
//! (`HYLL`, encoding, cached cardinality with its validity bit), the same sparse opcodes
//! (ZERO, XZERO, VAL) and 6-bit dense registers, MurmurHash64A with Redis's seed, the same
//! sparse-to-dense promotion (3000 bytes, `hll-sparse-max-bytes`'s default) and Ertl's
//! improved estimator as Redis computes it. A `GET` of a key reads the bytes redis-server
//! would hold, and a string made by redis-server works here.
//!
//! Everything works on the string's bytes, so an HLL replicates, migrates and is accounted
//! as the string it is.

/// Header bytes: magic, encoding, 3 unused, 8 of cached cardinality.
pub(crate) const HDR: usize = 16;
const P: u32 = 14;
const Q: u32 = 64 - P;
/// Registers: 2^14.
pub(crate) const REGISTERS: usize = 1 << P;
const REGISTER_MAX: u8 = 63;
/// Bytes of a dense HLL: the header and 16384 registers of 6 bits.
pub(crate) const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Redis's `hll-sparse-max-bytes` default: a sparse HLL that would grow past it turns dense.
const SPARSE_MAX_BYTES: usize = 3000;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The representation is corrupt (Redis's `INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt;

/// Redis's MurmurHash64A (endian-neutral variant).
pub(crate) fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the length of its `000..1` pattern.
fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// True if `v` is a string Redis takes for an HLL: long enough, `HYLL`, a known encoding,
/// and a dense one of exactly the dense size.
pub(crate) fn is_valid(v: &[u8]) -> bool {
    v.len() >= HDR && &v[..4] == b"HYLL" && v[4] <= SPARSE && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

/// A new, empty HLL: sparse, one XZERO opcode covering every register.
pub(crate) fn new_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push(l as u8);
}

fn val_op(value: u8, len: usize) -> u8 {
    ((value - 1) << 2) | (len as u8 - 1) | 0x80
}

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}
fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}
fn zero_len(b: u8) -> usize {
    usize::from(b & 0x3f) + 1
}
/// The length of the XZERO opcode at `p` (a missing second byte reads as the zero byte
/// that ends every Redis string).
fn xzero_len(v: &[u8], p: usize) -> usize {
    ((usize::from(v[p] & 0x3f) << 8) | usize::from(v.get(p + 1).copied().unwrap_or(0))) + 1
}
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
fn val_len(b: u8) -> usize {
    usize::from(b & 0x3) + 1
}

/// Marks the cached cardinality stale (its most significant bit), as Redis does: the other
/// bytes keep the old count.
pub(crate) fn invalidate(v: &mut [u8]) {
    v[15] |= 0x80;
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u16::from(REGISTER_MAX)) as u8
}

fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u16::from(val);
    regs[byte] &= !((u16::from(REGISTER_MAX) << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !((u16::from(REGISTER_MAX) >> (8 - fb)) as u8);
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// Raises dense register `i` to `count`; true if it grew.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// Walks a sparse HLL's opcodes, calling `f(first register, run length, value)` for every
/// run (zeros included), as Redis reads them with the bounds checks of its fix for
/// CVE-2025-32023 (in the Debian 7.0.15 this is tested against): a run past the last
/// register, or runs that do not cover exactly 16384 registers, are corruption.
fn walk(v: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let (mut idx, mut p) = (0usize, HDR);
    while p < v.len() {
        let b = v[p];
        let (len, val, op) = if is_zero(b) {
            (zero_len(b), 0, 1)
        } else if is_xzero(b) {
            (xzero_len(v, p), 0, 2)
        } else {
            (val_len(b), val_value(b), 1)
        };
        if len + idx > REGISTERS {
            return Err(Corrupt);
        }
        f(idx, len, val);
        idx += len;
        p += op;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Turns a sparse HLL dense in place (the header, cached count included, is kept).
pub(crate) fn sparse_to_dense(v: &mut Vec<u8>) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&v[..HDR]);
    dense[4] = DENSE;
    walk(v, |idx, len, val| {
        if val != 0 {
            for i in idx..idx + len {
                dense_put(&mut dense[HDR..], i, val);
            }
        }
    })?;
    *v = dense;
    Ok(())
}

/// Raises register `index` of a sparse HLL to `count`, splitting and merging opcodes as
/// Redis's `hllSparseSet` does, promoting to dense when a value passes 32 or the string
/// would pass 3000 bytes. True if a register grew.
fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    let start = HDR;
    let mut end = v.len();
    let (mut p, mut first, mut span) = (start, 0usize, 0usize);
    let mut prev = None;
    while p < end {
        let b = v[p];
        let oplen;
        if is_zero(b) {
            span = zero_len(b);
            oplen = 1;
        } else if is_val(b) {
            span = val_len(b);
            oplen = 1;
        } else {
            span = xzero_len(v, p);
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let b = v[p];
    let (zero, xzero, val) = (is_zero(b), is_xzero(b), is_val(b));
    let runlen = if zero {
        zero_len(b)
    } else if xzero {
        xzero_len(v, p)
    } else {
        val_len(b)
    };
    let mut simple = false;
    if val {
        if val_value(b) >= count {
            return Ok(false);
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            simple = true;
        }
    }
    if !simple && zero && runlen == 1 {
        v[p] = val_op(count, 1);
        simple = true;
    }
    if !simple {
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let zeros = |seq: &mut Vec<u8>, len: usize| {
            if len > ZERO_MAX_LEN {
                push_xzero(seq, len);
            } else {
                seq.push((len - 1) as u8);
            }
        };
        if zero || xzero {
            if index != first {
                zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                zeros(&mut seq, last - index);
            }
        } else {
            let cur = val_value(b);
            if index != first {
                seq.push(val_op(cur, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(cur, last - index));
            }
        }
        let oldlen = if xzero { 2 } else { 1 };
        if seq.len() > oldlen && v.len() + seq.len() - oldlen > SPARSE_MAX_BYTES {
            return promote(v, index, count);
        }
        if p + oldlen <= v.len() {
            v.splice(p..p + oldlen, seq);
        } else {
            // A corrupt string ending in half an XZERO opcode. Redis writes the new opcodes
            // over its one byte and grows the string by their length less two, so the last
            // byte written falls off the end; the same here, byte for byte.
            let len = v.len() + seq.len() - oldlen;
            v.truncate(p);
            v.extend_from_slice(&seq);
            v.truncate(len);
        }
        end = v.len();
    }
    // Merge adjacent VAL opcodes of one value, scanning up to 5 opcodes from `prev`.
    let mut p = prev.unwrap_or(start);
    let mut scan = 5;
    while p < end && scan > 0 {
        scan -= 1;
        if is_xzero(v[p]) {
            p += 2;
            continue;
        } else if is_zero(v[p]) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val(v[p + 1]) {
            let (v1, v2) = (val_value(v[p]), val_value(v[p + 1]));
            let len = val_len(v[p]) + val_len(v[p + 1]);
            if v1 == v2 && len <= VAL_MAX_LEN {
                v[p + 1] = val_op(v1, len);
                v.remove(p);
                end -= 1;
                continue;
            }
        }
        p += 1;
    }
    invalidate(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    sparse_to_dense(v)?;
    Ok(dense_set(&mut v[HDR..], index, count))
}

/// Adds one element; true if a register grew. `v` must be valid ([`is_valid`]).
pub(crate) fn add(v: &mut Vec<u8>, ele: &[u8]) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    set(v, index, count)
}

/// Raises register `index` to `count` in either encoding.
fn set(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if v[4] == DENSE {
        Ok(dense_set(&mut v[HDR..], index, count))
    } else {
        sparse_set(v, index, count)
    }
}

/// True for a dense HLL (its registers change in place, its size never does).
pub(crate) fn is_dense(v: &[u8]) -> bool {
    v[4] == DENSE
}

/// True if adding `ele` to a dense HLL would raise a register.
pub(crate) fn dense_would_grow(v: &[u8], ele: &[u8]) -> bool {
    let (index, count) = pattern(ele);
    count > dense_get(&v[HDR..], index)
}

/// Adds `ele` to a dense HLL in place; true if a register grew.
pub(crate) fn dense_add(v: &mut [u8], ele: &[u8]) -> bool {
    let (index, count) = pattern(ele);
    dense_set(&mut v[HDR..], index, count)
}

/// Raises every register of `max` to the HLL's (Redis's `hllMerge`).
pub(crate) fn merge_into(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&v[HDR..], i));
        }
        return Ok(());
    }
    walk(v, |i, len, val| {
        if val != 0 {
            for m in &mut max[i..i + len] {
                *m = (*m).max(val);
            }
        }
    })
}

/// Writes merged registers into an HLL (PFMERGE's destination), as Redis sets them one by
/// one (a sparse destination may turn dense on the way).
pub(crate) fn store_max(v: &mut Vec<u8>, max: &[u8; REGISTERS]) {
    for (j, &m) in max.iter().enumerate() {
        if m != 0 {
            // As Redis, a corrupt destination is not reported here (it was merged first).
            let _ = set(v, j, m);
        }
    }
    invalidate(v);
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        // `powf`, not `x * x`: Redis calls libm's pow here, and so does `powf`.
        z -= (1.0 - x).powf(2.0) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The estimate from a register histogram (Ertl's estimator, as Redis's `hllCount`).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    // llroundl: halves away from zero, as `f64::round`.
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of a valid HLL.
pub(crate) fn count(v: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    if v[4] == DENSE {
        for i in 0..REGISTERS {
            histo[usize::from(dense_get(&v[HDR..], i))] += 1;
        }
    } else {
        walk(v, |_, len, val| histo[usize::from(val)] += len as u32)?;
    }
    Ok(estimate(&histo))
}

/// The estimate of merged registers (multi-key `PFCOUNT`).
pub(crate) fn count_registers(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in max {
        histo[usize::from(r & 63)] += 1;
    }
    estimate(&histo)
}

/// The cached cardinality, if valid.
pub(crate) fn cached(v: &[u8]) -> Option<u64> {
    (v[15] & 0x80 == 0).then(|| u64::from_le_bytes(v[8..16].try_into().expect("8 bytes")))
}

/// Stores `card` as the cached cardinality.
pub(crate) fn cache(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sparse string cut in the middle of its last XZERO opcode (a corrupt value a client
    /// wrote) takes a PFADD as Redis's `hllSparseSet` does, without a panic: the new opcodes
    /// replace the half opcode, and the string grows by their length less two.
    #[test]
    fn set_on_a_half_xzero_at_the_end() {
        for index in [0, 1, 100, 16_000, 16_128] {
            let mut v = new_sparse();
            v.truncate(v.len() - 1);
            let before = v.len();
            assert_eq!(set(&mut v, index, 3), Ok(true), "index {index}");
            assert_eq!(&v[..HDR - 1], &new_sparse()[..HDR - 1], "header kept");
            // Zeros before (1 or 2 bytes, or none), the value, zeros after: less one byte.
            let seq = usize::from(index != 0) * if index > ZERO_MAX_LEN { 2 } else { 1 }
                + 1
                + if 16_128 - index > ZERO_MAX_LEN { 2 } else { usize::from(16_128 != index) };
            assert_eq!(v.len(), before - 1 + seq - 1, "index {index}");
        }
    }

    #[test]
    fn registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i * 7 % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i * 7 % 64) as u8, "{i}");
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        assert_eq!(sparse.len(), HDR + 2, "one XZERO opcode covers 16384 registers");
        assert_eq!(count(&sparse), Ok(0));
        let mut dense = sparse.clone();
        sparse_to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_SIZE);
        for i in 0..700u32 {
            let e = i.to_string();
            add(&mut sparse, e.as_bytes()).unwrap();
            add(&mut dense, e.as_bytes()).unwrap();
        }
        assert_eq!(sparse[4], SPARSE, "700 elements stay sparse");
        assert_eq!(count(&sparse), count(&dense));
        let n = count(&dense).unwrap();
        assert!((680..=720).contains(&n), "{n}");
        let mut promoted = sparse.clone();
        sparse_to_dense(&mut promoted).unwrap();
        assert_eq!(promoted[HDR..], dense[HDR..]);
        // Corruption is found, not trusted.
        let mut bad = new_sparse();
        bad.truncate(HDR + 1);
        assert_eq!(count(&bad), Err(Corrupt));
        assert_eq!(sparse_to_dense(&mut bad), Err(Corrupt));
    }
}
