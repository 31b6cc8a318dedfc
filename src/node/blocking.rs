//! Callers blocked on keys (`BLPOP` and friends): queued per slot in arrival order and served
//! by the write that makes one of their keys ready, under that write's lock, so the first
//! caller to block is the first served and no wakeup is lost.

use crate::error::Error;
use crate::keyspace::{Db, Now, Table};
use crate::reply::Reply;
use crossbeam_channel::{Receiver, Sender};
use std::collections::{HashMap, VecDeque};

/// What a blocked caller waits for: which ready keys it is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitsFor {
    /// A list (`BLPOP`, `BLMOVE`, ...).
    List,
    /// A sorted set (`BZPOPMIN`, `BZMPOP`, ...).
    ZSet,
    /// New entries of a stream (`XREAD`).
    Stream,
    /// New entries for a consumer group (`XREADGROUP`): told, too, when the stream is gone.
    Group,
}

impl WaitsFor {
    /// True if a caller waiting for this is tried when its key, now holding a value of type
    /// `kind` (as `TYPE` names it; None: no live value), is signalled ready. As Redis: a key
    /// serves the callers waiting for its type only, and a group reader also learns that its
    /// stream was deleted or replaced (`UNBLOCKED`); everyone else stays blocked.
    fn tried_on(self, kind: Option<&str>) -> bool {
        match self {
            WaitsFor::List => kind == Some("list"),
            WaitsFor::ZSet => kind == Some("zset"),
            WaitsFor::Stream => kind == Some("stream"),
            WaitsFor::Group => true,
        }
    }
}

/// A blocked caller's command, tried over all its keys (None) or, woken by a key that became
/// ready, over that key: `None` if it still cannot be served, else its reply.
pub(crate) type Retry =
    Box<dyn FnMut(&mut Db<'_>, &Now<'_>, Option<&[u8]>) -> Option<Result<Reply, Error>> + Send>;

/// What a blocked caller runs when one of its keys is ready.
pub(crate) struct Serve {
    /// Which keys serve it (a key a transaction pushed to and then replaced with a string
    /// wakes no `BLPOP` with `WRONGTYPE`).
    pub(crate) waits_for: WaitsFor,
    /// The command, tried again.
    pub(crate) run: Retry,
}

/// Called after a blocked caller's reply is sent, so a caller that waits without a thread
/// (an async task) learns it is there; the channel still carries the reply.
pub(crate) type Wake = std::sync::Arc<dyn Fn() + Send + Sync>;

/// The result of trying a blocking command.
pub(crate) enum Blocking {
    /// It ran at once.
    Done(Result<Reply, Error>),
    /// It waits; its reply arrives on this channel.
    Waiting(Receiver<Result<Reply, Error>>),
}

struct Waiter {
    keys: Vec<Box<[u8]>>,
    serve: Serve,
    tx: Sender<Result<Reply, Error>>,
    wake: Option<Wake>,
}

impl Waiter {
    /// Hands the caller its reply and wakes it if it waits asynchronously.
    fn answer(self, reply: Result<Reply, Error>) {
        // The caller may have just timed out; then the reply is dropped with its channel, as
        // Redis drops a reply to a closed connection.
        let _ = self.tx.send(reply);
        if let Some(wake) = self.wake {
            wake();
        }
    }
}

/// The blocked callers of one slot. Moves with the slot's table.
#[derive(Default)]
pub(crate) struct Blocked {
    queues: HashMap<Box<[u8]>, VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
}

impl Blocked {
    /// Queues a caller on `keys` and returns where its reply will arrive.
    pub(crate) fn add(
        &mut self,
        id: u64,
        keys: Vec<Box<[u8]>>,
        serve: Serve,
        table: &mut Table,
        wake: Option<Wake>,
    ) -> Receiver<Result<Reply, Error>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        for k in &keys {
            self.queues.entry(k.clone()).or_default().push_back(id);
            table.block_on(k);
        }
        self.waiters.insert(id, Waiter { keys, serve, tx, wake });
        rx
    }

    /// Takes a caller off every queue; None if it is not here (served, or never queued).
    fn take(&mut self, id: u64, table: &mut Table) -> Option<Waiter> {
        let w = self.waiters.remove(&id)?;
        for k in &w.keys {
            if let Some(q) = self.queues.get_mut(k) {
                q.retain(|x| *x != id);
                if q.is_empty() {
                    self.queues.remove(k);
                }
            }
            table.unblock(k);
        }
        Some(w)
    }

    /// Removes a caller that gave up waiting; false if it was already served.
    pub(crate) fn cancel(&mut self, id: u64, table: &mut Table) -> bool {
        self.take(id, table).is_some()
    }

    /// Serves callers on the keys writes signalled ready, first come first served, until
    /// each key can serve no one more. Serving may signal more keys (`BLMOVE` pushes).
    pub(crate) fn serve(&mut self, table: &mut Table, now: &Now<'_>) {
        loop {
            let ready = table.take_ready();
            if ready.is_empty() {
                return;
            }
            for key in ready {
                let kind =
                    table.get_raw(&key).filter(|e| Table::is_live(e, now)).map(|e| e.value.type_name());
                let queue: Vec<u64> =
                    self.queues.get(&key).map(|q| q.iter().copied().collect()).unwrap_or_default();
                for id in queue {
                    // Served already, from this queue or (a key named twice) an earlier place.
                    let Some(w) = self.waiters.get_mut(&id) else { continue };
                    if !w.serve.waits_for.tried_on(kind) {
                        continue;
                    }
                    let Some(reply) = (w.serve.run)(&mut Db::One(table), now, Some(&key)) else {
                        break;
                    };
                    if let Some(w) = self.take(id, table) {
                        w.answer(reply);
                    }
                }
            }
        }
    }

    /// Answers every caller with `err` (the slot went away with its node).
    pub(crate) fn fail_all(self, err: &Error) {
        for (_, w) in self.waiters {
            w.answer(Err(err.clone()));
        }
    }

    /// Takes `other`'s callers into these queues, ordered by id (arrival order), registering
    /// their keys on `table` and signalling the keys it can serve now.
    pub(crate) fn absorb(&mut self, other: Blocked, table: &mut Table) {
        for (id, w) in other.waiters {
            for k in &w.keys {
                let q = self.queues.entry(k.clone()).or_default();
                q.push_back(id);
                q.make_contiguous().sort_unstable();
                table.block_on(k);
                table.signal_ready(k);
            }
            self.waiters.insert(id, w);
        }
    }

    /// Takes out the callers none of whose keys holds a live value in `table` (what they
    /// wait for can only appear elsewhere), releasing their keys here.
    pub(crate) fn take_waiting_for_absent(&mut self, table: &mut Table, now: &Now<'_>) -> Blocked {
        let absent = |k: &[u8]| !table.get_raw(k).is_some_and(|e| Table::is_live(e, now));
        let ids: Vec<u64> = self
            .waiters
            .iter()
            .filter(|(_, w)| w.keys.iter().all(|k| absent(k)))
            .map(|(id, _)| *id)
            .collect();
        let mut out = Blocked::default();
        for id in ids {
            if let Some(w) = self.take(id, table) {
                for k in &w.keys {
                    out.queues.entry(k.clone()).or_default().push_back(id);
                }
                out.waiters.insert(id, w);
            }
        }
        out
    }

    /// Callers waiting here.
    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
}
