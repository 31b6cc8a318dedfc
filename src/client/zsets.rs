//! Typed methods for sorted sets: the same semantics as the `Z*` commands, without parsing
//! words or formatting scores. Scores come back as `f64`, members as [`Bytes`].

use super::Client;
use crate::bytes::Bytes;
use crate::command::zsets::{self, Aggregate, Limit, RangeBy, SetOp, ZaddFlags};
use crate::error::Error;
use crate::keyspace::zset::ScoreRange;
use crate::slot::key_slot;

/// A score range's ends as typed callers give them: NaN has no place in an order.
fn score_range(min: f64, max: f64) -> Result<ScoreRange, Error> {
    if min.is_nan() || max.is_nan() {
        return Err(Error::msg("min or max is not a float"));
    }
    Ok(ScoreRange::inclusive(min, max))
}

impl Client {
    /// `ZADD key score member ...`: adds members or updates their scores; returns how many
    /// members were added (not counting updated ones).
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// assert_eq!(client.zadd("board", &[(10.0, "kim"), (7.5, "lee")])?, 2);
    /// assert_eq!(client.zadd("board", &[(12.0, "kim")])?, 0);
    /// assert_eq!(client.zscore("board", "kim")?, Some(12.0));
    /// let top = client.zrange_by_score("board", 8.0, f64::INFINITY)?;
    /// assert_eq!(top, vec![(slotstore::Bytes::from("kim"), 12.0)]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `ERR value is not a valid float` for a NaN
    /// score (nothing is added then); `CLUSTERDOWN` if the key's slot is not served.
    pub fn zadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[(f64, M)],
    ) -> Result<usize, Error> {
        let key = key.as_ref();
        let pairs: Vec<(f64, &[u8])> = members.iter().map(|(s, m)| (*s, m.as_ref())).collect();
        let r = self.write(key_slot(key), &[key], |t, now| {
            zsets::zadd(t, now, key, &pairs, ZaddFlags::default())
        })??;
        Ok(r.added)
    }

    /// `ZINCRBY key delta member`: adds `delta` to the score of `member` (added with score
    /// `delta` if absent) and returns the new score.
    ///
    /// # Errors
    /// `ERR resulting score is not a number (NaN)` when adding infinities of opposite signs;
    /// `ERR value is not a valid float` for a NaN `delta`; `WRONGTYPE`.
    pub fn zincr_by(
        &self,
        key: impl AsRef<[u8]>,
        delta: f64,
        member: impl AsRef<[u8]>,
    ) -> Result<f64, Error> {
        let (key, member) = (key.as_ref(), member.as_ref());
        self.write(key_slot(key), &[key], |t, now| zsets::zincr_by(t, now, key, delta, member))?
    }

    /// `ZSCORE key member`: the score of `member`, if the set holds it.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zscore(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<f64>, Error> {
        let (key, member) = (key.as_ref(), member.as_ref());
        self.read(key_slot(key), &[key], |t, now| zsets::zscore(t, now, key, member))?
    }

    /// `ZMSCORE key member ...`: the score of each member, None where absent.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zmscore<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<f64>>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| {
            members.iter().map(|m| zsets::zscore(t, now, key, m.as_ref())).collect()
        })?
    }

    /// `ZRANK key member`: the 0-based position of `member` by ascending score.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zrank(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<Option<usize>, Error> {
        let (key, member) = (key.as_ref(), member.as_ref());
        self.read(key_slot(key), &[key], |t, now| zsets::zrank(t, now, key, member, false))?
    }

    /// `ZREVRANK key member`: the 0-based position of `member` by descending score.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zrevrank(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<Option<usize>, Error> {
        let (key, member) = (key.as_ref(), member.as_ref());
        self.read(key_slot(key), &[key], |t, now| zsets::zrank(t, now, key, member, true))?
    }

    /// `ZREM key member ...`: removes members; returns how many were there. Removing the last
    /// member deletes the key.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zrem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<usize, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| zsets::zrem(t, now, key, members))?
    }

    /// `ZCARD key`: how many members the set has (0 if the key does not exist).
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zcard(&self, key: impl AsRef<[u8]>) -> Result<usize, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| zsets::zcard(t, now, key))?
    }

    /// `ZCOUNT key min max`: how many members score within `min..=max` (infinities allowed).
    ///
    /// # Errors
    /// `ERR min or max is not a float` for a NaN end; `WRONGTYPE`.
    pub fn zcount(&self, key: impl AsRef<[u8]>, min: f64, max: f64) -> Result<usize, Error> {
        let key = key.as_ref();
        let r = score_range(min, max)?;
        self.read(key_slot(key), &[key], |t, now| zsets::zcount(t, now, key, &r))?
    }

    /// `ZRANGE key start stop WITHSCORES`: members at ranks `start..=stop` by ascending score,
    /// with their scores; negative ranks count from the end (-1 is the last).
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zrange(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Bytes, f64)>, Error> {
        self.zrange_with(key.as_ref(), &RangeBy::Rank(start, stop), false, Limit::NONE)
    }

    /// `ZREVRANGE key start stop WITHSCORES`: as [`zrange`](Client::zrange), by descending
    /// score.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zrevrange(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Bytes, f64)>, Error> {
        self.zrange_with(key.as_ref(), &RangeBy::Rank(start, stop), true, Limit::NONE)
    }

    /// `ZRANGEBYSCORE key min max WITHSCORES`: members scoring within `min..=max`, ascending,
    /// with their scores. Use infinities for open ends.
    ///
    /// # Errors
    /// `ERR min or max is not a float` for a NaN end; `WRONGTYPE`.
    pub fn zrange_by_score(
        &self,
        key: impl AsRef<[u8]>,
        min: f64,
        max: f64,
    ) -> Result<Vec<(Bytes, f64)>, Error> {
        self.zrange_with(key.as_ref(), &RangeBy::Score(score_range(min, max)?), false, Limit::NONE)
    }

    /// `ZREVRANGEBYSCORE key max min WITHSCORES`: members scoring within `min..=max`,
    /// descending, with their scores.
    ///
    /// # Errors
    /// `ERR min or max is not a float` for a NaN end; `WRONGTYPE`.
    pub fn zrevrange_by_score(
        &self,
        key: impl AsRef<[u8]>,
        max: f64,
        min: f64,
    ) -> Result<Vec<(Bytes, f64)>, Error> {
        self.zrange_with(key.as_ref(), &RangeBy::Score(score_range(min, max)?), true, Limit::NONE)
    }

    fn zrange_with(
        &self,
        key: &[u8],
        by: &RangeBy,
        rev: bool,
        limit: Limit,
    ) -> Result<Vec<(Bytes, f64)>, Error> {
        self.read(key_slot(key), &[key], |t, now| zsets::zrange(t, now, key, by, rev, limit))?
    }

    /// `ZPOPMIN key count`: removes and returns up to `count` members with the lowest scores,
    /// lowest first. Emptying the set deletes the key.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zpop_min(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<(Bytes, f64)>, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| zsets::zpop(t, now, key, count, false))?
    }

    /// `ZPOPMAX key count`: removes and returns up to `count` members with the highest scores,
    /// highest first. Emptying the set deletes the key.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zpop_max(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<(Bytes, f64)>, Error> {
        let key = key.as_ref();
        self.write(key_slot(key), &[key], |t, now| zsets::zpop(t, now, key, count, true))?
    }

    /// `ZREMRANGEBYSCORE key min max`: removes the members scoring within `min..=max`;
    /// returns how many.
    ///
    /// # Errors
    /// `ERR min or max is not a float` for a NaN end; `WRONGTYPE`.
    pub fn zrem_range_by_score(
        &self,
        key: impl AsRef<[u8]>,
        min: f64,
        max: f64,
    ) -> Result<usize, Error> {
        let key = key.as_ref();
        let by = RangeBy::Score(score_range(min, max)?);
        self.write(key_slot(key), &[key], |t, now| zsets::zremrange(t, now, key, &by))?
    }

    /// `ZREMRANGEBYRANK key start stop`: removes the members at ranks `start..=stop`
    /// (negative ranks count from the end); returns how many.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if its slot is not served.
    pub fn zrem_range_by_rank(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<usize, Error> {
        let key = key.as_ref();
        let by = RangeBy::Rank(start, stop);
        self.write(key_slot(key), &[key], |t, now| zsets::zremrange(t, now, key, &by))?
    }

    /// `ZUNIONSTORE dst numkeys key ...`: stores at `dst` every member of `keys` with the sum
    /// of its scores; returns the stored set's size. `dst` loses its TTL, and is deleted if
    /// the union is empty. All keys, `dst` included, must share a slot.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if an input is not a sorted set.
    pub fn zunion_store<K: AsRef<[u8]>>(
        &self,
        dst: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize, Error> {
        self.zcombine_store(dst.as_ref(), keys, SetOp::Union)
    }

    /// `ZINTERSTORE dst numkeys key ...`: stores at `dst` the members found in every one of
    /// `keys`, with the sum of their scores; returns the stored set's size. `dst` loses its
    /// TTL, and is deleted if the intersection is empty. All keys must share a slot.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if an input is not a sorted set.
    pub fn zinter_store<K: AsRef<[u8]>>(
        &self,
        dst: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<usize, Error> {
        self.zcombine_store(dst.as_ref(), keys, SetOp::Inter)
    }

    fn zcombine_store<K: AsRef<[u8]>>(&self, dst: &[u8], keys: &[K], op: SetOp) -> Result<usize, Error> {
        if keys.is_empty() {
            let name = if op == SetOp::Union { "zunionstore" } else { "zinterstore" };
            return Err(Error::Command(format!("at least 1 input key is needed for '{name}' command")));
        }
        let inputs: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        let mut all = inputs.clone();
        all.push(dst);
        let stored = self
            .write_keys(&all, |t, now| zsets::zstore(t, now, dst, &inputs, &[], Aggregate::Sum, op))?;
        stored.unwrap_or(Ok(0))
    }
}
