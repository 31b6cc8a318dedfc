//! The in-process subscriber's sink: a bounded queue with a condition variable.
//!
//! Policy when full: **drop newest**. A message that would pass either bound (messages or
//! bytes, see [`Limits`]) is refused and counted; what is already queued stays, in order, so
//! a slow reader sees a gap, never a reordering, and memory stays bounded whatever the
//! publishers do.

use super::{Kind, Limits, Message, Sink};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

/// Bytes charged per queued message besides its channel, pattern and payload: the queue
/// slot and the shared buffers' headers.
pub(crate) const MESSAGE_OVERHEAD: usize = 64;

/// Looks at an empty queue before a reader parks.
const SPINS: usize = 4;

struct State {
    queue: VecDeque<Message>,
    /// Sum of the queued messages' [`Message::cost`].
    bytes: usize,
    /// No more messages will come (the subscription holds no names and asked to stop).
    closed: bool,
}

/// A bounded queue of messages that a [`Subscription`](crate::Subscription) reads.
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    limits: Limits,
    dropped: AtomicU64,
}

impl Queue {
    pub(crate) fn new(limits: Limits) -> Queue {
        Queue {
            state: Mutex::new(State { queue: VecDeque::new(), bytes: 0, closed: false }),
            ready: Condvar::new(),
            limits,
            dropped: AtomicU64::new(0),
        }
    }

    /// Messages this queue refused because it was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Bytes waiting, as charged against the byte limit.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// Marks the queue closed (or open again): a reader waiting on an empty closed queue
    /// returns None instead of waiting forever.
    pub(crate) fn set_closed(&self, closed: bool) {
        self.state.lock().closed = closed;
        if closed {
            self.ready.notify_all();
        }
    }

    fn pop(state: &mut State) -> Option<Message> {
        let msg = state.queue.pop_front()?;
        state.bytes -= msg.cost();
        Some(msg)
    }

    /// The next message without waiting.
    pub(crate) fn try_recv(&self) -> Option<Message> {
        Self::pop(&mut self.state.lock())
    }

    /// The next message, waiting until `deadline` (None: for ever); None at the deadline or
    /// once the queue is closed and empty.
    pub(crate) fn recv_until(&self, deadline: Option<Instant>) -> Option<Message> {
        // A message stream usually has the next message a moment away: look again a few
        // times, letting other threads run, before parking (a wake-up costs the publisher a
        // system call and the reader a context switch).
        for _ in 0..SPINS {
            if let Some(msg) = self.try_recv() {
                return Some(msg);
            }
            std::thread::yield_now();
        }
        let mut state = self.state.lock();
        loop {
            if let Some(msg) = Self::pop(&mut state) {
                return Some(msg);
            }
            if state.closed {
                return None;
            }
            match deadline {
                Some(d) => {
                    if self.ready.wait_until(&mut state, d).timed_out() {
                        return Self::pop(&mut state);
                    }
                }
                None => self.ready.wait(&mut state),
            }
        }
    }

    /// [`Queue::recv_until`] with a timeout.
    #[cfg(test)]
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Option<Message> {
        self.recv_until(Instant::now().checked_add(timeout))
    }
}

impl Sink for Queue {
    fn deliver(&self, _kind: Kind, msg: &Message) -> bool {
        let cost = msg.cost();
        let mut state = self.state.lock();
        if state.queue.len() >= self.limits.messages || state.bytes + cost > self.limits.bytes {
            drop(state);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        // A reader waits only on an empty queue (it looks under this lock first), so only
        // the first message into an empty queue needs to wake anyone: a reader that lags
        // costs its publishers no wake-ups.
        let was_empty = state.queue.is_empty();
        state.queue.push_back(msg.clone());
        state.bytes += cost;
        drop(state);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::Bytes;

    fn msg(payload: &str) -> Message {
        Message { channel: Bytes::from("c"), pattern: None, payload: Bytes::from(payload) }
    }

    #[test]
    fn full_queues_drop_the_newest_and_count_it() {
        let q = Queue::new(Limits { messages: 3, bytes: usize::MAX });
        for i in 0..10 {
            assert_eq!(q.deliver(Kind::Channel, &msg(&i.to_string())), i < 3);
        }
        assert_eq!((q.len(), q.dropped()), (3, 7));
        let got: Vec<Bytes> = std::iter::from_fn(|| q.try_recv()).map(|m| m.payload).collect();
        assert_eq!(got, ["0", "1", "2"].map(Bytes::from));
        assert_eq!(q.bytes(), 0);
        // Bytes bound: two messages of cost 1 + 4 + 64 fit in 140 bytes, a third does not.
        let q = Queue::new(Limits { messages: usize::MAX, bytes: 140 });
        let m = msg("abcd");
        assert_eq!(m.cost(), 69);
        assert!(q.deliver(Kind::Channel, &m) && q.deliver(Kind::Channel, &m));
        assert!(!q.deliver(Kind::Channel, &m));
        assert_eq!((q.bytes(), q.dropped()), (138, 1));
    }

    #[test]
    fn a_closed_empty_queue_ends_a_wait() {
        let q = std::sync::Arc::new(Queue::new(Limits::default()));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.recv_until(None));
        q.set_closed(true);
        assert_eq!(t.join().unwrap(), None);
        assert_eq!(q.recv_timeout(Duration::from_millis(1)), None);
    }
}
