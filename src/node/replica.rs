//! Replication on the node side: a primary numbers the effects of each write and sends them to
//! its replicas' streams; a replica's thread applies its stream in order and publishes the
//! offset it reached. The node thread's loop lives here too (heartbeats, stream, expiry,
//! pause).

use super::Node;
use crate::error::{ClusterDownReason, Error};
use crate::ids::NodeId;
use crate::keyspace::Table;
use crate::replication::{self, Batch, Message};
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

thread_local! {
    /// The primary and replication offset of the last replicated write made on this thread:
    /// what `WAIT` waits for. A thread is the in-process analogue of a Redis connection.
    static LAST_WRITE: Cell<Option<(NodeId, u64)>> = const { Cell::new(None) };
}

/// The last replicated write made on the calling thread: its primary and offset.
pub(crate) fn last_write() -> Option<(NodeId, u64)> {
    LAST_WRITE.with(Cell::get)
}

/// The primary side's stream state, under one mutex so offsets and channel order agree.
#[derive(Default)]
pub(crate) struct Outbound {
    /// The offset of the last batch sent.
    pub(crate) offset: u64,
    /// One stream per attached replica.
    pub(crate) streams: Vec<(NodeId, Sender<Message>)>,
}

/// A node's replication and liveness state.
#[derive(Default)]
pub(crate) struct Repl {
    pub(crate) out: Mutex<Outbound>,
    replica: AtomicBool,
    /// The offset of the last batch applied (replica), published once its full sync is done.
    applied: AtomicU64,
    /// The replica finished its full sync: its tables and offset are usable.
    synced: AtomicBool,
    /// Crashed: its thread is gone and its tables dropped.
    dead: AtomicBool,
    /// Hung on purpose (`pause_node`).
    paused: AtomicBool,
    /// When the node's thread last showed it was alive, by the cluster's clock (ms).
    heartbeat: AtomicU64,
    /// Heartbeats so far: the failure detector watches it move (see `detector`).
    beats: AtomicU64,
    /// The node thread's control channel.
    control: Mutex<Option<Sender<Control>>>,
}

impl Repl {
    #[inline]
    pub(crate) fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    pub(crate) fn set_replica(&self, on: bool) {
        self.replica.store(on, Ordering::Release);
        if on {
            self.synced.store(false, Ordering::Release);
            self.applied.store(0, Ordering::Release);
        }
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    pub(crate) fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub(crate) fn set_dead(&self, dead: bool) {
        self.dead.store(dead, Ordering::Release);
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// The primary's offset: the last batch it sent.
    pub(crate) fn offset(&self) -> u64 {
        self.out.lock().offset
    }

    /// The offset a node reports: sent (primary) or applied (replica).
    pub(crate) fn reported_offset(&self) -> u64 {
        if self.is_replica() {
            self.applied()
        } else {
            self.offset()
        }
    }

    /// A heartbeat at clock time `now_ms`.
    pub(crate) fn beat(&self, now_ms: u64) {
        self.heartbeat.store(now_ms, Ordering::Release);
        self.beats.fetch_add(1, Ordering::AcqRel);
    }

    /// The heartbeat count and the clock time of the last one.
    pub(crate) fn heartbeat(&self) -> (u64, u64) {
        let beats = self.beats.load(Ordering::Acquire);
        (beats, self.heartbeat.load(Ordering::Acquire))
    }

    pub(crate) fn set_control(&self, tx: Option<Sender<Control>>) {
        *self.control.lock() = tx;
    }

    /// Sends a message to the node's thread; false if it has none.
    pub(crate) fn send(&self, c: Control) -> bool {
        self.control.lock().as_ref().is_some_and(|tx| tx.send(c).is_ok())
    }
}

/// Messages to a node's thread.
pub(crate) enum Control {
    Stop,
    /// Apply this stream from now on (a full sync starts on it).
    Follow(Receiver<Message>),
    /// Apply everything already on the stream, stop following, answer.
    Promote(Sender<u64>),
    /// Hang: hold every held slot's lock and stop the heartbeat until `Resume`.
    Pause,
    Resume,
    /// While paused: drop every table (the shard failed over), answer.
    Demote(Sender<()>),
}

impl Node {
    /// Streams what the write just made to `slot`'s table to every replica, numbered with
    /// the next offset. Runs under the slot's lock, so a slot's effects enter every stream in
    /// the order they happened.
    #[cold]
    pub(super) fn replicate(&self, slot: u16, table: &mut Table) {
        let (cleared, keys) = table.take_dirty();
        let effects = replication::effects(table, cleared, keys);
        let mut out = self.repl.out.lock();
        out.offset += 1;
        let batch = Arc::new(Batch { slot, offset: out.offset, effects });
        // A stream whose replica is gone (killed, re-pointed) is dropped here.
        out.streams.retain(|(_, tx)| tx.send(Message::Batch(batch.clone())).is_ok());
        LAST_WRITE.with(|w| w.set(Some((self.id, batch.offset))));
    }

    /// Takes every table this node holds (crash, demotion, full-sync reset); callers blocked
    /// here get `CLUSTERDOWN`.
    pub(crate) fn drop_tables(&self) {
        for slot in self.held_slots() {
            self.drop_table(usize::from(slot));
        }
    }

    /// Takes the node down (its thread already stopped): dead, no control channel, every
    /// table dropped (blocked callers get `CLUSTERDOWN`), its replicas' streams closed.
    pub(super) fn go_down(&self) {
        self.repl.set_dead(true);
        self.repl.set_control(None);
        self.drop_tables();
        self.repl.out.lock().streams.clear();
    }

    pub(super) fn drop_table(&self, slot: usize) {
        self.let_go(slot, &mut self.cells[slot].0.write());
    }

    /// Lets go of `slot`, whose cell the caller holds write-locked: the table leaves the
    /// cell (and the node's accounting) and callers blocked on it get `CLUSTERDOWN` (the
    /// one place a node gives a slot up without handing it to another node: crash,
    /// demotion, full-sync reset, failover).
    pub(super) fn let_go(&self, slot: usize, cell: &mut Option<Table>) {
        if let Some(t) = cell.take() {
            self.lose(slot, &t);
        }
        if let Some(b) = self.take_blocked(slot) {
            b.fail_all(&Error::ClusterDown(ClusterDownReason::Down));
        }
    }

    /// Applies one stream message (replica side).
    fn apply(&self, msg: Message, last: &mut u64) {
        match msg {
            Message::Reset => {
                self.repl.synced.store(false, Ordering::Release);
                *last = 0;
                self.drop_tables();
            }
            Message::Load { slot, table } => {
                let slot = usize::from(slot);
                let mut cell = self.cells[slot].0.write();
                if let Some(old) = cell.take() {
                    self.lose(slot, &old);
                }
                self.gain(slot, &cell, &table);
                *cell = Some(table);
            }
            Message::Synced { offset } => {
                *last = (*last).max(offset);
                self.repl.applied.store(*last, Ordering::Release);
                self.repl.synced.store(true, Ordering::Release);
            }
            Message::Batch(b) => {
                // A slot not loaded yet skips its effects: its snapshot, taken later under
                // the slot's lock, already contains them.
                self.write(usize::from(b.slot), |t, _| {
                    b.effects.iter().for_each(|e| replication::apply(t, e));
                });
                *last = (*last).max(b.offset);
                if self.repl.is_synced() {
                    self.repl.applied.store(*last, Ordering::Release);
                }
            }
            Message::Drop { slot } => self.drop_table(usize::from(slot)),
        }
    }
}

/// How long a replica keeps polling its stream after the last message before it parks.
/// While it polls, the primary's sends find no parked receiver to wake: a wakeup is a
/// syscall of several microseconds, which would otherwise be paid by every write.
const POLL_WINDOW: Duration = Duration::from_millis(5);
/// The pause between polls: the lag a busy replica adds, and its cost when idle-but-polling.
const POLL_PAUSE: Duration = Duration::from_micros(50);

/// What the thread does after a control message.
enum Next {
    Go,
    Exit,
}

fn control(
    node: &Node,
    c: Control,
    rx: &Receiver<Control>,
    stream: &mut Option<Receiver<Message>>,
    last: &mut u64,
) -> Next {
    match c {
        Control::Stop => return Next::Exit,
        Control::Follow(r) => {
            *stream = Some(r);
            *last = 0;
        }
        Control::Promote(ack) => {
            if let Some(r) = stream.take() {
                while let Ok(m) = r.try_recv() {
                    node.apply(m, last);
                }
            }
            let _ = ack.send((*last).max(node.repl.applied()));
        }
        Control::Pause => {
            if !paused(node, rx, stream) {
                return Next::Exit;
            }
        }
        Control::Resume => {}
        Control::Demote(ack) => {
            node.drop_tables();
            let _ = ack.send(());
        }
    }
    Next::Go
}

/// Applies what is queued on the stream (up to a bound, to look at the clock between);
/// true if something was. A closed stream (the primary is gone) is dropped: the replica
/// keeps its data and waits to be promoted or re-pointed.
fn drain(node: &Node, stream: &mut Option<Receiver<Message>>, last: &mut u64) -> bool {
    let mut got = false;
    for _ in 0..4096 {
        match stream.as_ref().map(Receiver::try_recv) {
            Some(Ok(m)) => {
                node.apply(m, last);
                got = true;
            }
            Some(Err(crossbeam_channel::TryRecvError::Disconnected)) => {
                *stream = None;
                break;
            }
            _ => break,
        }
    }
    got
}

/// The node thread: heartbeat every `tick`, the replication stream as it arrives, active
/// expiry every `interval` (primaries only), and the control messages.
pub(super) fn run(node: &Node, rx: &Receiver<Control>, interval: Duration, tick: Duration) {
    // Redis spends at most ~25% of each cron tick on active expiry.
    let budget = interval / 4;
    let mut stream: Option<Receiver<Message>> = None;
    let mut last = 0u64;
    let mut next_cron = Instant::now() + interval;
    let mut poll_until = Instant::now();
    loop {
        node.repl.beat(node.clock.now_ms());
        if stream.is_some() && Instant::now() < poll_until {
            // Busy: poll instead of parking (see `POLL_WINDOW`).
            if drain(node, &mut stream, &mut last) {
                poll_until = Instant::now() + POLL_WINDOW;
            }
            if let Ok(c) = rx.try_recv() {
                if let Next::Exit = control(node, c, rx, &mut stream, &mut last) {
                    return;
                }
            }
            std::thread::sleep(POLL_PAUSE);
        } else {
            let never = crossbeam_channel::never();
            let s = stream.as_ref().unwrap_or(&never);
            crossbeam_channel::select! {
                recv(rx) -> c => {
                    let Ok(c) = c else { return };
                    if let Next::Exit = control(node, c, rx, &mut stream, &mut last) {
                        return;
                    }
                }
                recv(s) -> m => match m {
                    Ok(m) => {
                        node.apply(m, &mut last);
                        drain(node, &mut stream, &mut last);
                        poll_until = Instant::now() + POLL_WINDOW;
                    }
                    Err(_) => stream = None,
                },
                default(tick) => {}
            }
        }
        node.clock.refresh_coarse();
        if Instant::now() >= next_cron {
            node.active_expire_cycle(budget);
            next_cron = Instant::now() + interval;
        }
    }
}

/// A hung node: holds every held slot's write lock (callers routed here wait) and stamps no
/// heartbeat, until `Resume` (true) or `Stop` (false). `Demote` drops the tables, so waiting
/// callers find the slot gone and follow the new route.
fn paused(node: &Node, rx: &Receiver<Control>, stream: &mut Option<Receiver<Message>>) -> bool {
    let mut guards: Vec<_> =
        node.held_slots().into_iter().map(|s| (s, node.cells[usize::from(s)].0.write())).collect();
    // Hung from here: `pause_node` returns once every lock is held.
    node.repl.paused.store(true, Ordering::Release);
    let resumed = loop {
        match rx.recv() {
            Err(_) | Ok(Control::Stop) => break false,
            Ok(Control::Resume) => break true,
            Ok(Control::Follow(r)) => *stream = Some(r),
            Ok(Control::Demote(ack)) => {
                for (slot, g) in &mut guards {
                    node.let_go(usize::from(*slot), g);
                }
                // Let the callers waiting here go: they find the slots gone and follow the
                // new routes. The node itself stays hung.
                guards.clear();
                let _ = ack.send(());
            }
            Ok(Control::Promote(ack)) => {
                let _ = ack.send(node.repl.applied());
            }
            Ok(Control::Pause) => {}
        }
    };
    drop(guards);
    node.repl.paused.store(false, Ordering::Release);
    resumed
}
