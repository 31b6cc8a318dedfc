//! Typed methods for lists.

use super::Client;
use crate::bytes::Bytes;
use crate::command::lists;
use crate::error::Error;
use crate::keyspace::list::ListEnd;
use crate::reply::Reply;
use crate::slot::key_slot;
use std::time::Duration;

/// `LEFT` or `RIGHT`, as the blocking commands' words take it.
fn end_word(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Left => "LEFT",
        ListEnd::Right => "RIGHT",
    }
}

/// A timeout as the blocking commands' argument: seconds, exactly; 0 waits forever. Longer
/// than ~31 years also waits forever, rather than being refused as out of range.
fn timeout_word(timeout: Duration) -> String {
    if timeout.as_secs() >= 1_000_000_000 {
        return "0".into();
    }
    format!("{}.{:09}", timeout.as_secs(), timeout.subsec_nanos())
}

/// A bulk reply's bytes.
fn bulk(r: Reply) -> Option<Bytes> {
    match r {
        Reply::Bulk(b) => Some(b),
        _ => None,
    }
}

impl Client {
    fn push_typed<V: AsRef<[u8]>>(
        &self,
        key: &[u8],
        end: ListEnd,
        values: &[V],
        only_if_exists: bool,
        command: &str,
    ) -> Result<usize, Error> {
        if values.is_empty() {
            return Err(Error::arity(command));
        }
        self.write(key_slot(key), &[key], |t, now| {
            lists::push(t, now, key, end, values, only_if_exists)
        })?
    }

    /// `LPUSH`: adds `values` at the head, one after the other (so the last ends up first),
    /// creating the list if needed; returns its length. The key keeps its TTL.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let client = slotstore::Cluster::builder().build()?.client();
    /// assert_eq!(client.lpush("jobs", &["b", "a"])?, 2);
    /// assert_eq!(client.rpush("jobs", &["c"])?, 3);
    /// assert_eq!(client.lrange("jobs", 0, -1)?, ["a", "b", "c"]);
    /// assert_eq!(client.lpop("jobs")?.as_deref(), Some(&b"a"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `ERR wrong number of arguments for 'lpush'
    /// command` if `values` is empty (as `LPUSH key` is); `CLUSTERDOWN` if the slot is not
    /// served; `OOM` over the memory budget.
    pub fn lpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize, Error> {
        self.push_typed(key.as_ref(), ListEnd::Left, values, false, "lpush")
    }

    /// `RPUSH`: adds `values` at the tail, in order, creating the list if needed; returns its
    /// length. The key keeps its TTL.
    ///
    /// # Errors
    /// As [`lpush`](Client::lpush).
    pub fn rpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize, Error> {
        self.push_typed(key.as_ref(), ListEnd::Right, values, false, "rpush")
    }

    /// `LPUSHX`: as [`lpush`](Client::lpush), only if the list exists; returns its length, 0
    /// if there is no key (then nothing is created).
    ///
    /// # Errors
    /// As [`lpush`](Client::lpush).
    pub fn lpushx<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize, Error> {
        self.push_typed(key.as_ref(), ListEnd::Left, values, true, "lpushx")
    }

    /// `RPUSHX`: as [`rpush`](Client::rpush), only if the list exists; 0 if there is no key.
    ///
    /// # Errors
    /// As [`lpush`](Client::lpush).
    pub fn rpushx<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize, Error> {
        self.push_typed(key.as_ref(), ListEnd::Right, values, true, "rpushx")
    }

    /// `LPOP`: removes and returns the head; None if there is no key. Removing the last
    /// element deletes the key.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn lpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        self.write_shrink(key_slot(key), &[key], |t, now| lists::pop(t, now, key, ListEnd::Left))?
    }

    /// `RPOP`: removes and returns the tail; None if there is no key.
    ///
    /// # Errors
    /// As [`lpop`](Client::lpop).
    pub fn rpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        self.write_shrink(key_slot(key), &[key], |t, now| lists::pop(t, now, key, ListEnd::Right))?
    }

    /// `LPOP key count`: removes up to `count` elements from the head, in the order removed;
    /// empty if there is no key (where Redis answers a null array).
    ///
    /// # Errors
    /// As [`lpop`](Client::lpop).
    pub fn lpop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        let popped = self.write_shrink(key_slot(key), &[key], |t, now| {
            lists::pop_count(t, now, key, ListEnd::Left, count)
        })??;
        Ok(popped.unwrap_or_default())
    }

    /// `RPOP key count`: removes up to `count` elements from the tail, in the order removed
    /// (tail first); empty if there is no key.
    ///
    /// # Errors
    /// As [`lpop`](Client::lpop).
    pub fn rpop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        let popped = self.write_shrink(key_slot(key), &[key], |t, now| {
            lists::pop_count(t, now, key, ListEnd::Right, count)
        })??;
        Ok(popped.unwrap_or_default())
    }

    /// `LLEN`: the list's length, 0 if there is no key.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type; `CLUSTERDOWN` if the slot is not served.
    pub fn llen(&self, key: impl AsRef<[u8]>) -> Result<usize, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| lists::len(t, now, key))?
    }

    /// `LRANGE`: the elements from `start` to `stop`, both included; negative indexes count
    /// from the tail (-1 is the last), and out-of-range indexes are clamped as Redis clamps
    /// them (`0, -1` is the whole list).
    ///
    /// # Errors
    /// As [`llen`](Client::llen).
    pub fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Bytes>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| lists::range(t, now, key, start, stop))?
    }

    /// `LINDEX`: the element at `index` (negative from the tail); None if out of range or
    /// there is no key.
    ///
    /// # Errors
    /// As [`llen`](Client::llen).
    pub fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        self.read(key_slot(key), &[key], |t, now| lists::index(t, now, key, index))?
    }

    /// `LSET`: replaces the element at `index` (negative from the tail).
    ///
    /// # Errors
    /// `ERR no such key`; `ERR index out of range`; `WRONGTYPE`; `CLUSTERDOWN`; `OOM`.
    pub fn lset(&self, key: impl AsRef<[u8]>, index: i64, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.write(key_slot(key), &[key], |t, now| lists::set(t, now, key, index, value))?
    }

    /// `LREM`: removes elements equal to `value`: the first `count` from the head if `count`
    /// is positive, the first `-count` from the tail if negative, all if 0. Returns how many.
    ///
    /// # Errors
    /// As [`lpop`](Client::lpop).
    pub fn lrem(
        &self,
        key: impl AsRef<[u8]>,
        count: i64,
        value: impl AsRef<[u8]>,
    ) -> Result<usize, Error> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.write_shrink(key_slot(key), &[key], |t, now| lists::rem(t, now, key, count, value))?
    }

    /// `LTRIM`: keeps only the elements from `start` to `stop` (as [`lrange`](Client::lrange)
    /// selects them); the key is deleted if none are left.
    ///
    /// # Errors
    /// As [`lpop`](Client::lpop).
    pub fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<(), Error> {
        let key = key.as_ref();
        self.write_shrink(key_slot(key), &[key], |t, now| lists::trim(t, now, key, start, stop))?
    }

    /// `LPOS key value`: the index of the first element equal to `value`; None if there is
    /// none.
    ///
    /// # Errors
    /// As [`llen`](Client::llen).
    pub fn lpos(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<usize>, Error> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let o = lists::PosOptions::default();
        let found = self.read(key_slot(key), &[key], |t, now| lists::pos(t, now, key, value, &o))??;
        Ok(found.first().map(|&i| i as usize))
    }

    /// `LMOVE`: pops an element from the `from` end of `src`, pushes it at the `to` end of
    /// `dst` (which may be `src`, rotating it) and returns it; None if `src` does not exist.
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys are in different slots (nothing moves); `WRONGTYPE` if either
    /// key holds another type; `CLUSTERDOWN`; `OOM`.
    pub fn lmove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        from: ListEnd,
        to: ListEnd,
    ) -> Result<Option<Bytes>, Error> {
        let (src, dst) = (src.as_ref(), dst.as_ref());
        let slot = key_slot(src);
        if key_slot(dst) != slot {
            // The command path knows whether the cluster runs cross-slot commands.
            let words: [&[u8]; 5] =
                [b"LMOVE", src, dst, end_word(from).as_bytes(), end_word(to).as_bytes()];
            return self.command(&words).map(bulk);
        }
        self.write(slot, &[src, dst], |t, now| lists::lmove(t, now, src, dst, from, to))?
    }

    /// `BLPOP`: pops the head of the first non-empty list among `keys` (which must share a
    /// slot) and returns `(key, element)`; if all are empty, waits until another caller pushes
    /// to one of them, at most `timeout` (zero waits forever, as in Redis), and returns None
    /// if none did. Callers blocked on a key are served in the order they blocked.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use std::time::Duration;
    /// let cluster = slotstore::Cluster::builder().build()?;
    /// let (client, producer) = (cluster.client(), cluster.client());
    /// let worker = std::thread::spawn(move || client.blpop(&["jobs"], Duration::from_secs(5)));
    /// producer.rpush("jobs", &["job-1"])?;
    /// let (key, job) = worker.join().unwrap()?.expect("pushed before the timeout");
    /// assert_eq!((&*key, &*job), (&b"jobs"[..], &b"job-1"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots; `WRONGTYPE` if a key before the first non-empty
    /// list holds another type; `ERR wrong number of arguments for 'blpop' command` if `keys`
    /// is empty; `CLUSTERDOWN` if the slot is not served, or its node went away while waiting.
    pub fn blpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        timeout: Duration,
    ) -> Result<Option<(Bytes, Bytes)>, Error> {
        self.bpop(b"BLPOP", keys, timeout)
    }

    /// `BRPOP`: as [`blpop`](Client::blpop), popping the tail.
    ///
    /// # Errors
    /// As [`blpop`](Client::blpop).
    pub fn brpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        timeout: Duration,
    ) -> Result<Option<(Bytes, Bytes)>, Error> {
        self.bpop(b"BRPOP", keys, timeout)
    }

    /// The blocking commands go through [`Client::command`]: their waiting lives there, and a
    /// call that may wait has no use for the few hundred nanoseconds parsing costs.
    fn bpop<K: AsRef<[u8]>>(
        &self,
        name: &[u8],
        keys: &[K],
        timeout: Duration,
    ) -> Result<Option<(Bytes, Bytes)>, Error> {
        let timeout = timeout_word(timeout);
        let mut words: Vec<&[u8]> = Vec::with_capacity(keys.len() + 2);
        words.push(name);
        words.extend(keys.iter().map(AsRef::as_ref));
        words.push(timeout.as_bytes());
        match self.command(&words)? {
            Reply::Array(kv) => {
                let mut kv = kv.into_iter().filter_map(bulk);
                Ok(kv.next().zip(kv.next()))
            }
            _ => Ok(None),
        }
    }

    /// `BLMOVE`: as [`lmove`](Client::lmove), but if `src` is empty waits until another caller
    /// pushes to it, at most `timeout` (zero waits forever); None if nothing came.
    ///
    /// # Errors
    /// As [`lmove`](Client::lmove); `CLUSTERDOWN` if the slot's node went away while waiting.
    pub fn blmove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        from: ListEnd,
        to: ListEnd,
        timeout: Duration,
    ) -> Result<Option<Bytes>, Error> {
        let timeout = timeout_word(timeout);
        let words: [&[u8]; 6] = [
            b"BLMOVE",
            src.as_ref(),
            dst.as_ref(),
            end_word(from).as_bytes(),
            end_word(to).as_bytes(),
            timeout.as_bytes(),
        ];
        self.command(&words).map(bulk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;

    #[test]
    fn timeouts_as_words() {
        assert_eq!(timeout_word(Duration::ZERO), "0.000000000");
        assert_eq!(timeout_word(Duration::from_millis(1500)), "1.500000000");
        assert_eq!(timeout_word(Duration::from_nanos(1)), "0.000000001");
        assert_eq!(timeout_word(Duration::MAX), "0");
    }

    #[test]
    fn typed_methods_match_the_commands() {
        let c = Cluster::builder().build().unwrap().client();
        assert_eq!(c.rpush("l", &["a", "b", "c"]), Ok(3));
        assert_eq!(c.lpushx("l", &["z"]), Ok(4));
        assert_eq!(c.rpushx("nokey", &["z"]), Ok(0));
        assert_eq!(c.command(&["EXISTS", "nokey"]), Ok(Reply::Int(0)));
        assert_eq!(
            c.lpush::<&str>("l", &[]).unwrap_err().to_string(),
            "ERR wrong number of arguments for 'lpush' command"
        );
        assert_eq!(c.lindex("l", -1).unwrap().as_deref(), Some(&b"c"[..]));
        assert_eq!(c.lpos("l", "b"), Ok(Some(2)));
        assert_eq!(
            c.lmove("l", "l", ListEnd::Left, ListEnd::Right).unwrap().as_deref(),
            Some(&b"z"[..])
        );
        assert_eq!(c.lrange("l", 0, -1).unwrap(), ["a", "b", "c", "z"]);
        assert_eq!(c.lmove("l", "x", ListEnd::Right, ListEnd::Left), Err(Error::CrossSlot));
        assert_eq!(c.lset("l", 9, "x").unwrap_err().to_string(), "ERR index out of range");
        assert_eq!(c.lset("nokey", 0, "x").unwrap_err().to_string(), "ERR no such key");
        assert_eq!(c.lrem("l", 0, "b"), Ok(1));
        assert_eq!(c.rpop_count("l", 2).unwrap(), ["z", "c"]);
        assert_eq!(c.lpop_count("nokey", 2).unwrap(), Vec::<Bytes>::new());
        c.ltrim("l", 1, 0).unwrap();
        assert_eq!(c.llen("l"), Ok(0));
        c.set("s", "v").unwrap();
        assert_eq!(c.lpop("s"), Err(Error::WrongType));
        assert_eq!(c.blpop(&["s"], Duration::from_millis(1)), Err(Error::WrongType));
        assert_eq!(c.blpop(&["a", "b"], Duration::from_millis(1)), Err(Error::CrossSlot));
        assert_eq!(c.brpop(&["{t}a", "{t}b"], Duration::from_millis(5)), Ok(None));
        c.rpush("{t}b", &["1", "2"]).unwrap();
        let got = c.brpop(&["{t}a", "{t}b"], Duration::ZERO).unwrap().unwrap();
        assert_eq!((&*got.0, &*got.1), (&b"{t}b"[..], &b"2"[..]));
        let moved = c.blmove("{t}b", "{t}c", ListEnd::Left, ListEnd::Right, Duration::ZERO);
        assert_eq!(moved.unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(
            c.blmove("{t}b", "{t}c", ListEnd::Left, ListEnd::Right, Duration::from_millis(5)),
            Ok(None)
        );
    }
}
