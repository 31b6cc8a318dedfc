//! Views over the tables a command may touch: one slot's table (the common case), or several
//! slots' tables for an atomic cross-slot command. Commands see one keyspace either way; each
//! key is looked up in its own slot's table.

use super::{Entry, Now, Table, Value, PREFETCH_RUN};
use crate::slot::key_slot;

/// The tables a writing command holds, borrowed mutably.
pub(crate) enum Db<'a> {
    /// One slot: every key of the command hashes here.
    One(&'a mut Table),
    /// Several slots, sorted by slot number.
    Many(Vec<(u16, &'a mut Table)>),
}

/// The tables a reading command holds.
pub(crate) enum View<'a> {
    /// One slot.
    One(&'a Table),
    /// Several slots, sorted by slot number.
    Many(Vec<(u16, &'a Table)>),
}

fn find<T>(tables: &[(u16, T)], key: &[u8]) -> usize {
    let slot = key_slot(key);
    tables
        .binary_search_by_key(&slot, |(s, _)| *s)
        .unwrap_or_else(|_| panic!("slot {slot} is not held by this command"))
}

impl<'a> View<'a> {
    /// The table `key` lives in.
    pub(crate) fn table(&self, key: &[u8]) -> &'a Table {
        match self {
            View::One(t) => t,
            View::Many(v) => v[find(v, key)].1,
        }
    }

    /// See [`Table::get`].
    pub(crate) fn get(&self, key: &[u8], now: &Now<'_>) -> Option<&'a Entry> {
        self.table(key).get(key, now)
    }

    /// See [`Table::peek`].
    pub(crate) fn peek(&self, key: &[u8], now: &Now<'_>) -> Option<&'a Entry> {
        self.table(key).peek(key, now)
    }

    /// The live entries at `keys`, in order, looked up [`PREFETCH_RUN`] at a time with their
    /// memory loads started first (see [`Table::prefetch`]).
    pub(crate) fn get_each<K: AsRef<[u8]>, R>(
        &self,
        keys: &[K],
        now: &Now<'_>,
        mut f: impl FnMut(Option<&'a Entry>) -> R,
    ) -> Vec<R> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(PREFETCH_RUN) {
            match self {
                View::One(t) => t.prefetch(chunk.iter().map(AsRef::as_ref)),
                View::Many(_) => {
                    chunk.iter().for_each(|k| self.table(k.as_ref()).prefetch([k.as_ref()]))
                }
            }
            out.extend(chunk.iter().map(|k| f(self.get(k.as_ref(), now))));
        }
        out
    }
}

impl<'a> Db<'a> {
    /// The table `key` lives in.
    pub(crate) fn table(&mut self, key: &[u8]) -> &mut Table {
        match self {
            Db::One(t) => t,
            Db::Many(v) => {
                let i = find(v, key);
                v[i].1
            }
        }
    }

    /// A read-only view of the same tables.
    pub(crate) fn view(&self) -> View<'_> {
        match self {
            Db::One(t) => View::One(t),
            Db::Many(v) => View::Many(v.iter().map(|(s, t)| (*s, &**t)).collect()),
        }
    }

    /// The table `key` lives in, shared.
    pub(crate) fn table_ref(&self, key: &[u8]) -> &Table {
        match self {
            Db::One(t) => t,
            Db::Many(v) => v[find(v, key)].1,
        }
    }

    /// See [`Table::get`].
    pub(crate) fn get(&self, key: &[u8], now: &Now<'_>) -> Option<&Entry> {
        self.table_ref(key).get(key, now)
    }

    /// See [`Table::get_mut`].
    pub(crate) fn get_mut(&mut self, key: &[u8], now: &Now<'_>) -> Option<&mut Entry> {
        self.table(key).get_mut(key, now)
    }

    /// See [`Table::contains`].
    pub(crate) fn contains(&self, key: &[u8], now: &Now<'_>) -> bool {
        self.table_ref(key).contains(key, now)
    }

    /// See [`Table::prefetch`].
    pub(crate) fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        match self {
            Db::One(t) => t.prefetch(keys),
            Db::Many(_) => keys.into_iter().for_each(|k| self.table_ref(k).prefetch([k])),
        }
    }

    /// See [`Table::insert`].
    pub(crate) fn insert(&mut self, key: &[u8], value: Value, expire_at: Option<u64>) {
        self.table(key).insert(key, value, expire_at)
    }

    /// See [`Table::replace_value`].
    pub(crate) fn replace_value(&mut self, key: &[u8], value: Value) {
        self.table(key).replace_value(key, value)
    }

    /// See [`Table::set_expire`].
    pub(crate) fn set_expire(&mut self, key: &[u8], expire_at: Option<u64>) -> bool {
        self.table(key).set_expire(key, expire_at)
    }

    /// See [`Table::signal_ready`].
    pub(crate) fn signal_ready(&mut self, key: &[u8]) {
        self.table(key).signal_ready(key)
    }

    /// See [`Table::remove`].
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.table(key).remove(key)
    }
}

/// Reading keys, from a [`View`] or a [`Db`] alike, so read logic is written once.
pub(crate) trait Lookup {
    /// The live entry at `key`; see [`Table::get`].
    fn entry(&self, key: &[u8], now: &Now<'_>) -> Option<&Entry>;
}

impl Lookup for View<'_> {
    fn entry(&self, key: &[u8], now: &Now<'_>) -> Option<&Entry> {
        self.get(key, now)
    }
}

/// One table, as the one-key paths hold it: no view to pick the table from.
impl Lookup for Table {
    #[inline(always)]
    fn entry(&self, key: &[u8], now: &Now<'_>) -> Option<&Entry> {
        self.get(key, now)
    }
}

impl Lookup for Db<'_> {
    fn entry(&self, key: &[u8], now: &Now<'_>) -> Option<&Entry> {
        self.get(key, now)
    }
}
