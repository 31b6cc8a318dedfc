//! Closure transactions: the in-process answer to Lua `EVAL` with declared keys.

use super::{run_locked, Client};
use crate::bytes::Bytes;
use crate::command::keys as keys_cmd;
use crate::command::{lookup, strings, unknown_command, Handler};
use crate::error::Error;
use crate::keyspace::{Db, Now, Str, Value};
use crate::reply::Reply;
use crate::slot::key_slot;

/// The keyspace as a [`Client::transaction`] closure sees it: every declared key's slot is
/// locked for the closure's whole run, so what it reads and writes is atomic to every other
/// caller, and it reads its own writes.
///
/// Like a Redis script, a transaction does not roll back: if the closure returns an error
/// after some writes, those writes stay. Check first, then write.
pub struct Transaction<'t, 'db> {
    db: &'t mut Db<'db>,
    now: &'t Now<'t>,
    slots: &'t [u16],
}

impl std::fmt::Debug for Transaction<'_, '_> {
    /// The slots the transaction holds locked, not their data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").field("slots", &self.slots).finish()
    }
}

impl Client {
    /// Runs `f` atomically over the slots of `keys`: their locks are taken (in ascending slot
    /// order) before `f` starts and released after it returns. `f` may touch only keys in
    /// those slots. Returns what `f` returns.
    ///
    /// The keys must share one slot unless the cluster allows cross-slot commands
    /// ([`allow_cross_slot`](crate::ClusterBuilder::allow_cross_slot)); then they may be on
    /// any primaries.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// let client = slotstore::Cluster::builder().primaries(3).build()?.client();
    /// client.set("{acct}:alice", "100")?;
    /// // Move 30 from alice to bob unless alice is short: no other caller sees a half move.
    /// let moved = client.transaction(&["{acct}:alice", "{acct}:bob"], |tx| {
    ///     let alice: i64 = tx.get("{acct}:alice")?.map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap());
    ///     if alice < 30 {
    ///         return Ok(false);
    ///     }
    ///     tx.incr_by("{acct}:alice", -30)?;
    ///     tx.incr_by("{acct}:bob", 30)?;
    ///     Ok(true)
    /// })?;
    /// assert!(moved);
    /// assert_eq!(client.get("{acct}:bob")?.as_deref(), Some(&b"30"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `CROSSSLOT` if the keys span slots and the cluster does not allow it; whatever `f`
    /// returns; `CLUSTERDOWN` if a slot is not served.
    pub fn transaction<K, R>(
        &self,
        keys: &[K],
        f: impl FnOnce(&mut Transaction<'_, '_>) -> Result<R, Error>,
    ) -> Result<R, Error>
    where
        K: AsRef<[u8]>,
    {
        let slots = self.slots_of(keys)?;
        if slots.is_empty() {
            return Err(Error::msg("a transaction needs at least one key"));
        }
        self.write_many(&slots, keys, |db, now| f(&mut Transaction { db, now, slots: &slots }))?
    }
}

impl Transaction<'_, '_> {
    fn check(&self, key: &[u8]) -> Result<(), Error> {
        if self.slots.binary_search(&key_slot(key)).is_ok() {
            Ok(())
        } else {
            Err(Error::Command(format!(
                "key '{}' is in slot {}, which this transaction did not declare",
                String::from_utf8_lossy(key),
                key_slot(key)
            )))
        }
    }

    /// Runs one command by its Redis words on the locked slots.
    ///
    /// # Errors
    /// As [`Client::command`]; `ERR` for a key whose slot was not declared, and for
    /// keyless commands other than `PING`/`ECHO`.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, Error> {
        let args: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        let spec = args.first().and_then(|n| lookup(n)).ok_or_else(|| unknown_command(&args))?;
        spec.check_arity(args.len())?;
        if !matches!(spec.handler, Handler::Keyless(_)) {
            for key in spec.keys(&args)? {
                self.check(key)?;
            }
        }
        run_locked(spec, self.db, self.now, &args)
    }

    /// `GET`.
    ///
    /// # Errors
    /// `WRONGTYPE`; `ERR` for an undeclared key.
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        self.check(key)?;
        strings::get(&*self.db, self.now, key)
    }

    /// `SET` (no options): replaces the value and any TTL.
    ///
    /// # Errors
    /// `ERR` for an undeclared key.
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let key = key.as_ref();
        self.check(key)?;
        self.db.insert(key, Value::Str(Str::new(value.as_ref())), None);
        Ok(())
    }

    /// `INCRBY`.
    ///
    /// # Errors
    /// As [`Client::incr_by`]; `ERR` for an undeclared key.
    pub fn incr_by(&mut self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64, Error> {
        let key = key.as_ref();
        self.check(key)?;
        strings::incr_by(self.db, self.now, key, delta)
    }

    /// `DEL`: how many of `keys` existed.
    ///
    /// # Errors
    /// `ERR` for an undeclared key (nothing is deleted then).
    pub fn del<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<usize, Error> {
        for k in keys {
            self.check(k.as_ref())?;
        }
        Ok(keys_cmd::del(self.db, self.now, keys))
    }

    /// `EXISTS`: how many of `keys` exist.
    ///
    /// # Errors
    /// `ERR` for an undeclared key.
    pub fn exists<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<usize, Error> {
        for k in keys {
            self.check(k.as_ref())?;
        }
        Ok(keys.iter().filter(|k| self.db.contains(k.as_ref(), self.now)).count())
    }
}
