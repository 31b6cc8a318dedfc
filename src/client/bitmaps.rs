//! Typed methods for bitmaps (bit operations on string values).

use super::Client;
use crate::command::bitmaps::{self, BitOp, BitUnit, BitfieldOp};
use crate::error::Error;
use crate::slot::key_slot;

impl Client {
    /// `SETBIT`: sets the bit at `offset` (bit 0 is the most significant bit of the first
    /// byte) and returns the old bit. The string grows with zero bytes as needed; the key
    /// keeps its TTL.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// assert!(!client.setbit("seen:2024-06-01", 7, true)?);
    /// assert!(client.getbit("seen:2024-06-01", 7)?);
    /// assert_eq!(client.get("seen:2024-06-01")?.as_deref(), Some(&[1u8][..]));
    /// assert_eq!(client.bitcount("seen:2024-06-01", None)?, 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR bit offset is not an integer or out of range` for an offset of 2^32 or more (a
    /// 512 MB string, Redis's limit); `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn setbit(&self, key: impl AsRef<[u8]>, offset: u64, on: bool) -> Result<bool, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| bitmaps::setbit(t, now, key, offset, on))?
    }

    /// `GETBIT`: the bit at `offset` (false past the end of the string or for a missing key).
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| bitmaps::getbit(t, now, key, offset))?
    }

    /// `BITCOUNT`: the number of set bits, in the whole string or in `range` (start and end,
    /// inclusive, negative from the end, in bytes or bits as Redis reads them).
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn bitcount(
        &self,
        key: impl AsRef<[u8]>,
        range: Option<(i64, i64, BitUnit)>,
    ) -> Result<u64, Error> {
        let key = key.as_ref();
        let n = self.read(key_slot(key), &[key], |t, now| bitmaps::bitcount(t, now, key, range))??;
        Ok(n as u64)
    }

    /// `BITPOS`: the position of the first bit equal to `bit`, in the whole string or from
    /// `start` (to `end`, if given), in `unit`s; -1 if there is none. Looking for a clear bit
    /// without an `end` finds the first bit past the string, as Redis does.
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn bitpos(
        &self,
        key: impl AsRef<[u8]>,
        bit: bool,
        start: Option<i64>,
        end: Option<i64>,
        unit: BitUnit,
    ) -> Result<i64, Error> {
        let key = key.as_ref();
        let end = start.and(end);
        self.read(key_slot(key), &[key], |t, now| bitmaps::bitpos(t, now, key, bit, start, end, unit))?
    }

    /// `BITOP`: combines the strings at `srcs` into `dst` (replacing its value and TTL; an
    /// empty result deletes it) and returns the result's length in bytes.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::BitOp;
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// client.set("{u}a", [0xf0u8])?;
    /// client.set("{u}b", [0x3cu8])?;
    /// assert_eq!(client.bitop(BitOp::And, "{u}both", &["{u}a", "{u}b"])?, 1);
    /// assert_eq!(client.get("{u}both")?.as_deref(), Some(&[0x30u8][..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `ERR BITOP NOT must be called with a single source
    /// key.`; `WRONGTYPE` if a source is not a string; `ERR wrong number of arguments for
    /// 'bitop' command` without sources.
    pub fn bitop<K: AsRef<[u8]>>(
        &self,
        op: BitOp,
        dst: impl AsRef<[u8]>,
        srcs: &[K],
    ) -> Result<usize, Error> {
        if srcs.is_empty() {
            return Err(Error::arity("bitop"));
        }
        let dst = dst.as_ref();
        let mut keys: Vec<&[u8]> = vec![dst];
        keys.extend(srcs.iter().map(AsRef::as_ref));
        let n = self.write_keys(&keys, |t, now| bitmaps::bitop(t, now, op, dst, srcs))?;
        n.expect("at least one key")
    }

    /// `BITFIELD`: runs `ops` in order; one answer per get, set (the old value) or increment
    /// (the new value), None where [`Overflow::Fail`](crate::Overflow::Fail) refused a write.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{BitfieldOp as Op, BitfieldType, Overflow};
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// let u8 = BitfieldType::unsigned(8)?;
    /// let got = client.bitfield("counters", &[
    ///     Op::IncrBy(u8, 0, 200),
    ///     Op::Overflow(Overflow::Sat),
    ///     Op::IncrBy(u8, 0, 100),
    ///     Op::Overflow(Overflow::Fail),
    ///     Op::IncrBy(u8, 0, 1),
    ///     Op::Get(u8, 0),
    /// ])?;
    /// assert_eq!(got, vec![Some(200), Some(255), None, Some(255)]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR bit offset is not an integer or out of range` for fields past 2^32 bits;
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn bitfield(
        &self,
        key: impl AsRef<[u8]>,
        ops: &[BitfieldOp],
    ) -> Result<Vec<Option<i64>>, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| bitmaps::bitfield(t, now, key, ops))?
    }
}
