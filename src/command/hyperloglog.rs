//! HyperLogLog commands: PFADD, PFCOUNT (one key, or the union of many), PFMERGE, on string
//! values laid out exactly as Redis lays them out (see `keyspace::hyperloglog`).

use super::hashes::peek;
use super::{Spec, ALL_KEYS, ONE_KEY};
use crate::error::Error;
use crate::keyspace::hyperloglog::{self as hll, Corrupt, REGISTERS};
use crate::keyspace::{Db, Entry, Now, Str, Value};
use crate::reply::Reply;

fn not_hll() -> Error {
    Error::Coded("WRONGTYPE Key is not a valid HyperLogLog string value.".into())
}

fn corrupt(_: Corrupt) -> Error {
    Error::Coded("INVALIDOBJ Corrupted HLL object detected".into())
}

/// The HLL bytes of `entry`: `WRONGTYPE` for another type, the HyperLogLog `WRONGTYPE` for a
/// string that is no HLL.
fn hll_bytes(entry: &Entry) -> Result<&[u8], Error> {
    let s = super::strings::as_string(entry)?;
    if hll::is_valid(s) {
        Ok(s)
    } else {
        Err(not_hll())
    }
}

/// Stores changed HLL bytes, keeping the key's TTL.
fn store(t: &mut Db<'_>, key: &[u8], v: Vec<u8>) {
    t.replace_value(key, Value::Str(Str::from(v)));
}

/// `PFADD`: adds the elements; true if the key was created or a register changed.
///
/// # Errors
/// `WRONGTYPE` for another type or a string that is no HLL; `INVALIDOBJ` for a corrupt one.
pub(crate) fn pfadd<E: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    key: &[u8],
    elements: &[E],
) -> Result<bool, Error> {
    // A dense HLL changes in place: no copy of its 12 KB when no one else holds it, and no
    // write at all when no register grows.
    if let Some(e) = peek(t, now, key) {
        let s = hll_bytes(e)?;
        if hll::is_dense(s) {
            if !elements.iter().any(|x| hll::dense_would_grow(s, x.as_ref())) {
                return Ok(false);
            }
            let done = match &mut t.get_mut(key, now).expect("live").value {
                Value::Str(s) => s.as_mut_slice().map(|v| {
                    for x in elements {
                        hll::dense_add(v, x.as_ref());
                    }
                    hll::invalidate(v);
                }),
                _ => None,
            };
            if done.is_some() {
                return Ok(true);
            }
        }
    }
    let (mut v, created) = match peek(t, now, key) {
        None => (hll::new_sparse(), true),
        Some(e) => (hll_bytes(e)?.to_vec(), false),
    };
    let mut updated = created;
    for ele in elements {
        match hll::add(&mut v, ele.as_ref()) {
            Ok(grew) => updated |= grew,
            Err(c) => {
                // Redis changed the string in place up to the corrupt spot.
                if updated {
                    store(t, key, v);
                }
                return Err(corrupt(c));
            }
        }
    }
    if updated {
        hll::invalidate(&mut v);
        store(t, key, v);
    }
    Ok(updated)
}

/// `PFCOUNT`: the estimated cardinality of one HLL (cached in its header, as Redis does, so
/// the stored bytes may change), or of the union of several (nothing stored). Missing keys
/// count as empty.
///
/// # Errors
/// `WRONGTYPE` for another type or a string that is no HLL; `INVALIDOBJ` for a corrupt one.
pub(crate) fn pfcount<K: AsRef<[u8]>>(t: &mut Db<'_>, now: &Now<'_>, keys: &[K]) -> Result<u64, Error> {
    if let [key] = keys {
        let key = key.as_ref();
        let Some(e) = t.get(key, now) else { return Ok(0) };
        let s = hll_bytes(e)?;
        if let Some(card) = hll::cached(s) {
            return Ok(card);
        }
        let card = hll::count(s).map_err(corrupt)?;
        let mut v = s.to_vec();
        hll::cache(&mut v, card);
        store(t, key, v);
        return Ok(card);
    }
    let mut max = Box::new([0u8; REGISTERS]);
    for key in keys {
        let Some(e) = t.get(key.as_ref(), now) else { continue };
        hll::merge_into(&mut max, hll_bytes(e)?).map_err(corrupt)?;
    }
    Ok(hll::count_registers(&max))
}

/// `PFMERGE`: merges the HLLs at `srcs` (and `dst` itself) into `dst`, created if missing;
/// dense if any input is dense.
///
/// # Errors
/// `WRONGTYPE` for another type or a string that is no HLL; `INVALIDOBJ` for a corrupt one.
pub(crate) fn pfmerge<K: AsRef<[u8]>>(
    t: &mut Db<'_>,
    now: &Now<'_>,
    dst: &[u8],
    srcs: &[K],
) -> Result<(), Error> {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut dense = false;
    for key in std::iter::once(dst).chain(srcs.iter().map(AsRef::as_ref)) {
        let Some(e) = t.get(key, now) else { continue };
        let s = hll_bytes(e)?;
        dense |= s[4] == 0;
        hll::merge_into(&mut max, s).map_err(corrupt)?;
    }
    let mut v = match peek(t, now, dst) {
        None => hll::new_sparse(),
        Some(e) => hll_bytes(e)?.to_vec(),
    };
    if dense {
        hll::sparse_to_dense(&mut v).map_err(corrupt)?;
    }
    hll::store_max(&mut v, &max);
    store(t, dst, v);
    Ok(())
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::write("pfadd", -2, ONE_KEY, pfadd_cmd),
    // A write: counting one key caches the count in the key's bytes, as in Redis. It never
    // grows memory.
    Spec::shrink("pfcount", -2, ALL_KEYS, pfcount_cmd),
    Spec::write("pfmerge", -2, ALL_KEYS, pfmerge_cmd),
];

// ----- handlers -----

fn pfadd_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(pfadd(t, now, a[1], &a[2..])?.into()))
}

fn pfcount_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::Int(pfcount(t, now, &a[1..])? as i64))
}

fn pfmerge_cmd(t: &mut Db<'_>, now: &Now<'_>, a: &[&[u8]]) -> Result<Reply, Error> {
    pfmerge(t, now, a[1], &a[2..])?;
    Ok(Reply::ok())
}
