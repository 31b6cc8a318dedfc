//! Typed methods for HyperLogLog.

use super::Client;
use crate::command::hyperloglog;
use crate::error::Error;
use crate::slot::key_slot;

impl Client {
    /// `PFADD`: adds the elements to the HyperLogLog at `key` (created if missing); true if
    /// the key was created or its estimate may have changed. The value is a string with
    /// Redis's exact bytes, so `GET` and `SET` move it to and from a real Redis.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// assert!(client.pfadd("visitors", &["ann", "bob", "cy"])?);
    /// assert!(!client.pfadd("visitors", &["bob"])?);
    /// assert_eq!(client.pfcount(&["visitors"])?, 3);
    /// assert_eq!(&client.get("visitors")?.unwrap()[..4], b"HYLL");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `WRONGTYPE Key is not a valid HyperLogLog string value.` for a string that is no
    /// HLL; `INVALIDOBJ Corrupted HLL object detected`; `WRONGTYPE`; `CLUSTERDOWN`.
    pub fn pfadd<E: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, elements: &[E]) -> Result<bool, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| hyperloglog::pfadd(t, now, key, elements))?
    }

    /// `PFCOUNT`: the estimated number of distinct elements added to the HLL at the one key
    /// given, or to the union of the HLLs at several keys (missing keys count as empty).
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; the errors of [`pfadd`](Client::pfadd); `ERR wrong
    /// number of arguments for 'pfcount' command` without keys.
    pub fn pfcount<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        let n = self.write_keys_as(keys, false, |t, now| hyperloglog::pfcount(t, now, keys))?;
        n.ok_or_else(|| Error::arity("pfcount"))?
    }

    /// `PFMERGE`: merges the HLLs at `srcs` into the one at `dst` (created if missing).
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; the errors of [`pfadd`](Client::pfadd).
    pub fn pfmerge<K: AsRef<[u8]>>(&self, dst: impl AsRef<[u8]>, srcs: &[K]) -> Result<(), Error> {
        let dst = dst.as_ref();
        let mut keys: Vec<&[u8]> = vec![dst];
        keys.extend(srcs.iter().map(AsRef::as_ref));
        let done = self.write_keys(&keys, |t, now| hyperloglog::pfmerge(t, now, dst, srcs))?;
        done.expect("at least one key")
    }
}
