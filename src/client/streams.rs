//! Typed methods for streams.

use super::Client;
use crate::bytes::Bytes;
use crate::command::streams::{self, TrimArgs};
use crate::error::Error;
use crate::keyspace::stream::{StreamEntry, StreamId, Trim};
use crate::reply::Reply;
use crate::slot::key_slot;
use std::time::Duration;

/// The entries of a stream reply (`XRANGE`'s shape) as typed entries.
fn entries(r: &Reply) -> Vec<StreamEntry> {
    let parse_id = |b: &[u8]| {
        let s = std::str::from_utf8(b).ok()?;
        let (ms, seq) = s.split_once('-')?;
        Some(StreamId::new(ms.parse().ok()?, seq.parse().ok()?))
    };
    r.as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            let e = e.as_array()?;
            let id = parse_id(e.first()?.as_bytes()?)?;
            let fields = e.get(1)?.as_array().unwrap_or_default();
            let pairs = fields
                .chunks_exact(2)
                .filter_map(|p| {
                    Some((Bytes::copy_from(p[0].as_bytes()?), Bytes::copy_from(p[1].as_bytes()?)))
                })
                .collect();
            Some((id, pairs))
        })
        .collect()
}

impl Client {
    /// `XADD`: appends an entry with `fields` at `id` (None: an ID from the clock, as `*`)
    /// and returns its ID; creates the stream if missing.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::StreamId;
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// let id = client.xadd("chat:{1}", Some(StreamId::new(1, 0)), &[("user", "kim"), ("text", "hi")])?;
    /// assert_eq!(id.to_string(), "1-0");
    /// client.xadd("chat:{1}", None, &[("user", "lee"), ("text", "hey")])?;
    /// assert_eq!(client.xlen("chat:{1}")?, 2);
    /// let all = client.xrange("chat:{1}", StreamId::MIN, StreamId::MAX, None)?;
    /// assert_eq!(&all[0].1[1].1[..], b"hi");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR The ID specified in XADD is equal or smaller than the target stream top item`;
    /// `ERR The ID specified in XADD must be greater than 0-0`; `WRONGTYPE`; `CLUSTERDOWN`.
    pub fn xadd<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        id: Option<StreamId>,
        fields: &[(F, V)],
    ) -> Result<StreamId, Error> {
        self.xadd_trim(key, id, fields, None)
    }

    /// `XADD ... MAXLEN = max`: [`xadd`](Client::xadd), then trims the stream to its `max`
    /// newest entries (exactly) if given.
    ///
    /// # Errors
    /// As [`xadd`](Client::xadd).
    pub fn xadd_trim<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        id: Option<StreamId>,
        fields: &[(F, V)],
        max_len: Option<u64>,
    ) -> Result<StreamId, Error> {
        let key = key.as_ref();
        let fields: Vec<(&[u8], &[u8])> = fields.iter().map(|(f, v)| (f.as_ref(), v.as_ref())).collect();
        let trim = TrimArgs { how: max_len.map(Trim::MaxLen), approx: false, limit: 0 };
        self.write(key_slot(key), &[key], |t, now| streams::xadd_typed(t, now, key, id, &fields, trim))?
    }

    /// `XLEN`: the number of entries.
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn xlen(&self, key: impl AsRef<[u8]>) -> Result<u64, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| streams::xlen(t, now, key))?
    }

    /// `XRANGE`: the entries from `start` to `end` (inclusive), at most `count`.
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn xrange(
        &self,
        key: impl AsRef<[u8]>,
        start: StreamId,
        end: StreamId,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>, Error> {
        let key = key.as_ref();
        let count = count.unwrap_or(0);
        self.read(key_slot(key), &[key], |t, now| {
            streams::xrange(t, now, key, start, end, false, count)
        })?
    }

    /// `XREVRANGE`: as [`xrange`](Client::xrange), newest first.
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn xrevrange(
        &self,
        key: impl AsRef<[u8]>,
        end: StreamId,
        start: StreamId,
        count: Option<usize>,
    ) -> Result<Vec<StreamEntry>, Error> {
        let key = key.as_ref();
        let count = count.unwrap_or(0);
        self.read(key_slot(key), &[key], |t, now| streams::xrange(t, now, key, start, end, true, count))?
    }

    /// `XREAD [COUNT count] [BLOCK ms] STREAMS key id`: entries of one stream after `after`
    /// (None: only entries added from now on, as `$`), waiting up to `block` for some if
    /// there are none (`Duration::ZERO` waits forever, as `BLOCK 0`). Empty if none came.
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn xread(
        &self,
        key: impl AsRef<[u8]>,
        after: Option<StreamId>,
        count: Option<usize>,
        block: Option<Duration>,
    ) -> Result<Vec<StreamEntry>, Error> {
        let after = after.map_or_else(|| "$".to_string(), |id| id.to_string());
        self.read_stream(vec![b"XREAD".to_vec()], key.as_ref(), after, count, block)
    }

    /// `XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] STREAMS key >`: entries no
    /// consumer of `group` was given yet, now pending for `consumer` until acknowledged
    /// ([`xack`](Client::xack)); waits up to `block` as [`xread`](Client::xread).
    ///
    /// # Errors
    /// `NOGROUP ...` if the key or the group is missing; `WRONGTYPE`; `CLUSTERDOWN`.
    pub fn xread_group(
        &self,
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        key: impl AsRef<[u8]>,
        count: Option<usize>,
        block: Option<Duration>,
    ) -> Result<Vec<StreamEntry>, Error> {
        let (group, consumer, key) = (group.as_ref(), consumer.as_ref(), key.as_ref());
        if block.is_none() {
            // The common poll: straight to the stream, no command words.
            let count = count.unwrap_or(0);
            return self.write_shrink(key_slot(key), &[key], |t, now| {
                streams::xreadgroup_new(t, now, key, group, consumer, count, false)
            })?;
        }
        let head = vec![b"XREADGROUP".to_vec(), b"GROUP".to_vec(), group.to_vec(), consumer.to_vec()];
        self.read_stream(head, key, ">".into(), count, block)
    }

    fn read_stream(
        &self,
        mut words: Vec<Vec<u8>>,
        key: &[u8],
        id: String,
        count: Option<usize>,
        block: Option<Duration>,
    ) -> Result<Vec<StreamEntry>, Error> {
        if let Some(c) = count {
            words.extend([b"COUNT".to_vec(), c.to_string().into_bytes()]);
        }
        if let Some(b) = block {
            words.extend([b"BLOCK".to_vec(), b.as_millis().to_string().into_bytes()]);
        }
        words.extend([b"STREAMS".to_vec(), key.to_vec(), id.into_bytes()]);
        let reply = self.command(&words)?;
        Ok(reply
            .as_array()
            .and_then(|streams| streams.first())
            .and_then(|s| s.as_array())
            .and_then(|s| s.get(1))
            .map(entries)
            .unwrap_or_default())
    }

    /// `XGROUP CREATE key group id [MKSTREAM]`: a consumer group that delivers entries after
    /// `id` (None: after the last entry, as `$`).
    ///
    /// # Errors
    /// `BUSYGROUP Consumer Group name already exists`; `ERR The XGROUP subcommand requires
    /// the key to exist...` without `mkstream`; `WRONGTYPE`.
    pub fn xgroup_create(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        id: Option<StreamId>,
        mkstream: bool,
    ) -> Result<(), Error> {
        let id = id.map_or_else(|| "$".to_string(), |id| id.to_string());
        let mut words: Vec<&[u8]> =
            vec![b"XGROUP", b"CREATE", key.as_ref(), group.as_ref(), id.as_bytes()];
        if mkstream {
            words.push(b"MKSTREAM");
        }
        self.command(&words).map(drop)
    }

    /// `XACK`: acknowledges entries pending in `group`; returns how many were pending.
    ///
    /// # Errors
    /// `WRONGTYPE`; `CLUSTERDOWN` if the slot is not served.
    pub fn xack(
        &self,
        key: impl AsRef<[u8]>,
        group: impl AsRef<[u8]>,
        ids: &[StreamId],
    ) -> Result<usize, Error> {
        let (key, group) = (key.as_ref(), group.as_ref());
        // Acknowledging frees memory: it runs over budget, as Redis runs XACK.
        self.write_shrink(key_slot(key), &[key], |t, now| streams::xack(t, now, key, group, ids))?
    }
}
