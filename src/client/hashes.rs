//! Typed methods for hashes.

use super::Client;
use crate::bytes::Bytes;
use crate::command::hashes;
use crate::command::long_double::LongDouble;
use crate::error::Error;
use crate::slot::key_slot;

impl Client {
    /// `HSET`: sets each field to its value (a later pair wins over an earlier one with the
    /// same field); returns how many fields are new. The key keeps its TTL.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// assert_eq!(client.hset("user:1", &[("name", "kim"), ("lang", "rust")])?, 2);
    /// assert_eq!(client.hget("user:1", "name")?.as_deref(), Some(&b"kim"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// No pairs change nothing: no empty hash is stored.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(F, V)],
    ) -> Result<usize, Error> {
        let key = key.as_ref();
        let pairs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(f, v)| (f.as_ref(), v.as_ref())).collect();
        self.write(key_slot(key), &[key], |t, now| hashes::hset(t, now, key, &pairs))?
    }

    /// `HSETNX`: sets `field` only if it does not exist; true if it was set.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hset_nx(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool, Error> {
        let (key, field, value) = (key.as_ref(), field.as_ref(), value.as_ref());
        self.write(key_slot(key), &[key], |t, now| hashes::hsetnx(t, now, key, field, value))?
    }

    /// `HGET`: the value of `field`.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let (key, field) = (key.as_ref(), field.as_ref());
        self.read(key_slot(key), &[key], |t, now| hashes::hget(t, now, key, field))?
    }

    /// `HMGET`: the value of each field, None where missing (all None for a missing key).
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hmget<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[F],
    ) -> Result<Vec<Option<Bytes>>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| hashes::hmget(t, now, key, fields))?
    }

    /// `HGETALL`: every field and value; insertion order while the hash is small (up to 128
    /// fields of at most 64 bytes), no particular order past that.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| hashes::hgetall(t, now, key))?
    }

    /// `HKEYS`: every field, in [`hgetall`](Client::hgetall)'s order.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hkeys(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| hashes::hkeys(t, now, key))?
    }

    /// `HVALS`: every value, in [`hgetall`](Client::hgetall)'s order.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hvals(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| hashes::hvals(t, now, key))?
    }

    /// `HDEL`: removes the fields, and the key once no field is left; returns how many
    /// existed.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<usize, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| hashes::hdel(t, now, key, fields))?
    }

    /// `HEXISTS`: true if `field` exists.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool, Error> {
        let (key, field) = (key.as_ref(), field.as_ref());
        self.read(key_slot(key), &[key], |t, now| hashes::hexists(t, now, key, field))?
    }

    /// `HLEN`: the number of fields (0 for a missing key).
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hlen(&self, key: impl AsRef<[u8]>) -> Result<usize, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| hashes::hlen(t, now, key))?
    }

    /// `HSTRLEN`: the length of the value of `field` (0 if missing).
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn hstrlen(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<usize, Error> {
        let (key, field) = (key.as_ref(), field.as_ref());
        self.read(key_slot(key), &[key], |t, now| hashes::hstrlen(t, now, key, field))?
    }

    /// `HINCRBY`: adds `delta` to the integer at `field` (0 if missing) and returns the
    /// result.
    ///
    /// # Errors
    /// `ERR hash value is not an integer` if the field holds something else; `ERR increment or
    /// decrement would overflow`; `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn hincr_by(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        delta: i64,
    ) -> Result<i64, Error> {
        let (key, field) = (key.as_ref(), field.as_ref());
        self.write(key_slot(key), &[key], |t, now| hashes::hincrby(t, now, key, field, delta))?
    }

    /// `HINCRBYFLOAT`: adds `delta` to the number at `field` (0 if missing) and returns the
    /// result.
    ///
    /// # Errors
    /// `ERR value is NaN or Infinity` for such a `delta`; `ERR hash value is not a float` if
    /// the field holds something else; `ERR increment would produce NaN or Infinity`;
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn hincr_by_float(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        delta: f64,
    ) -> Result<f64, Error> {
        let (key, field) = (key.as_ref(), field.as_ref());
        // As a Redis client sends it: the double's shortest text, read as a long double.
        let delta = LongDouble::parse(crate::command::args::format_f64(delta).as_bytes())
            .unwrap_or_else(|| LongDouble::from_f64(f64::INFINITY));
        let text = self
            .write(key_slot(key), &[key], |t, now| hashes::hincrbyfloat(t, now, key, field, delta))??;
        LongDouble::parse(&text).map(LongDouble::to_f64).ok_or_else(Error::not_float)
    }

    /// `HRANDFIELD key count WITHVALUES`: for a positive `count`, up to `count` distinct random
    /// pairs (the whole hash when `count` covers it); for a negative one, `-count` pairs that
    /// may repeat.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `ERR value is out of range` for more than
    /// 2^24 repeats; `CLUSTERDOWN` if the slot is not served.
    pub fn hrandfield(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<(Bytes, Bytes)>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| hashes::hrandfield(t, now, key, count))?
    }
}
