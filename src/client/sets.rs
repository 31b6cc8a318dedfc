//! Typed methods for sets.

use super::Client;
use crate::bytes::Bytes;
use crate::command::sets::{self, SetOp};
use crate::error::Error;
use crate::keyspace::{Now, View};
use crate::slot::key_slot;

impl Client {
    /// `SADD`: adds the members; returns how many are new. The key keeps its TTL.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// assert_eq!(client.sadd("tags", &["rust", "redis", "rust"])?, 2);
    /// assert!(client.sismember("tags", "redis")?);
    /// assert_eq!(client.scard("tags")?, 2);
    /// # Ok(()) }
    /// ```
    ///
    /// No members change nothing: no empty set is stored.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn sadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| sets::sadd(t, now, key, members))?
    }

    /// `SREM`: removes the members, and the key once the set is empty; returns how many were
    /// members.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn srem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| sets::srem(t, now, key, members))?
    }

    /// `SMEMBERS`: every member; ascending while every member is an integer (up to 512 of
    /// them), insertion order while the set is small, no particular order past that.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| sets::smembers(t, now, key))?
    }

    /// `SISMEMBER`: true if `member` is in the set.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool, Error> {
        let (key, member) = (key.as_ref(), member.as_ref());
        self.read(key_slot(key), &[key], |t, now| sets::sismember(t, now, key, member))?
    }

    /// `SMISMEMBER`: for each of `members`, whether it is in the set.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn smismember<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<bool>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| sets::smismember(t, now, key, members))?
    }

    /// `SCARD`: the number of members (0 for a missing key).
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn scard(&self, key: impl AsRef<[u8]>) -> Result<usize, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| sets::scard(t, now, key))?
    }

    /// `SPOP key`: removes and returns a random member.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn spop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| sets::spop_one(t, now, key))?
    }

    /// `SPOP key count`: removes and returns up to `count` random members.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn spop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| sets::spop(t, now, key, count))?
    }

    /// `SRANDMEMBER key count`: for a positive `count`, up to `count` distinct random members
    /// (the whole set when `count` covers it); for a negative one, `-count` members that may
    /// repeat.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `ERR value is out of range` for more than
    /// 2^24 repeats; `CLUSTERDOWN` if the slot is not served.
    pub fn srandmember(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| sets::srandmember(t, now, key, count))?
    }

    /// `SMOVE`: moves `member` from `src` to `dst` (sharing a slot); false if it was not in
    /// `src`.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if `src` exists and either key holds
    /// another type; `CLUSTERDOWN` if the slot is not served.
    pub fn smove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<bool, Error> {
        let (src, dst, member) = (src.as_ref(), dst.as_ref(), member.as_ref());
        let moved = self.write_keys(&[src, dst], |t, now| sets::smove(t, now, src, dst, member))?;
        moved.expect("two keys")
    }

    /// Runs a read over the sets at `keys`: under one slot's lock, or every slot's in
    /// cross-slot mode. No keys is the arity error of `command`, as Redis gives it.
    fn read_sets<K: AsRef<[u8]>, R>(
        &self,
        command: &str,
        keys: &[K],
        f: impl FnOnce(&View<'_>, &Now<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        match self.slots_of(keys)?.as_slice() {
            [] => Err(Error::arity(command)),
            [slot] => self.read(*slot, keys, |t, now| f(t, now))?,
            slots => self.write_many(slots, keys, |t, now| f(&t.view(), now))?,
        }
    }

    fn set_combine<K: AsRef<[u8]>>(
        &self,
        op: SetOp,
        command: &str,
        keys: &[K],
    ) -> Result<Vec<Bytes>, Error> {
        self.read_sets(command, keys, |t, now| sets::combine(t, now, op, keys))
    }

    fn set_combine_store<K: AsRef<[u8]>>(
        &self,
        op: SetOp,
        command: &str,
        dst: &[u8],
        keys: &[K],
    ) -> Result<usize, Error> {
        if keys.is_empty() {
            return Err(Error::arity(command));
        }
        let all: Vec<&[u8]> = std::iter::once(dst).chain(keys.iter().map(AsRef::as_ref)).collect();
        let stored = self.write_keys(&all, |t, now| sets::combine_store(t, now, op, dst, keys))?;
        stored.expect("keys given")
    }

    /// `SINTER`: the members of every set at `keys` (sharing a slot); a missing key is an
    /// empty set.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if any key holds another type;
    /// `ERR wrong number of arguments for 'sinter' command` if `keys` is empty.
    pub fn sinter<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>, Error> {
        self.set_combine(SetOp::Inter, "sinter", keys)
    }

    /// `SUNION`: the members of any set at `keys` (sharing a slot).
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if any key holds another type;
    /// `ERR wrong number of arguments for 'sunion' command` if `keys` is empty.
    pub fn sunion<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>, Error> {
        self.set_combine(SetOp::Union, "sunion", keys)
    }

    /// `SDIFF`: the members of the first set in none of the others (all sharing a slot).
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if any key holds another type;
    /// `ERR wrong number of arguments for 'sdiff' command` if `keys` is empty.
    pub fn sdiff<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>, Error> {
        self.set_combine(SetOp::Diff, "sdiff", keys)
    }

    /// `SINTERSTORE`: stores the intersection at `dst` (replacing any value and TTL there;
    /// deleting `dst` if the result is empty) and returns its size.
    ///
    /// # Errors
    /// `CROSSSLOT` if `dst` and `keys` span slots; `WRONGTYPE` if a source holds another type;
    /// `ERR wrong number of arguments for 'sinterstore' command` if `keys` is empty.
    pub fn sinterstore<K: AsRef<[u8]>>(
        &self,
        dst: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize, Error> {
        self.set_combine_store(SetOp::Inter, "sinterstore", dst.as_ref(), keys)
    }

    /// `SUNIONSTORE`: as [`sinterstore`](Client::sinterstore), for the union.
    ///
    /// # Errors
    /// `CROSSSLOT` if `dst` and `keys` span slots; `WRONGTYPE` if a source holds another type;
    /// `ERR wrong number of arguments for 'sunionstore' command` if `keys` is empty.
    pub fn sunionstore<K: AsRef<[u8]>>(
        &self,
        dst: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize, Error> {
        self.set_combine_store(SetOp::Union, "sunionstore", dst.as_ref(), keys)
    }

    /// `SDIFFSTORE`: as [`sinterstore`](Client::sinterstore), for the difference.
    ///
    /// # Errors
    /// `CROSSSLOT` if `dst` and `keys` span slots; `WRONGTYPE` if a source holds another type;
    /// `ERR wrong number of arguments for 'sdiffstore' command` if `keys` is empty.
    pub fn sdiffstore<K: AsRef<[u8]>>(&self, dst: impl AsRef<[u8]>, keys: &[K]) -> Result<usize, Error> {
        self.set_combine_store(SetOp::Diff, "sdiffstore", dst.as_ref(), keys)
    }

    /// `SINTERCARD`: the size of the intersection of the sets at `keys`, counting no further
    /// than `limit` (0: no limit).
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if any key holds another type;
    /// `ERR numkeys should be greater than 0` if `keys` is empty.
    pub fn sintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: usize) -> Result<usize, Error> {
        if keys.is_empty() {
            return Err(Error::msg("numkeys should be greater than 0"));
        }
        self.read_sets("sintercard", keys, |t, now| sets::sintercard(t, now, keys, limit))
    }
}
