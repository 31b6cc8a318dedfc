//! A network connection's sink: the messages a subscribed connection has not written yet,
//! bounded as Redis bounds a pub/sub client's output buffer.
//!
//! `client-output-buffer-limit pubsub <hard> <soft> <seconds>` (Redis's default `32mb 8mb
//! 60`): a subscriber whose pending output passes `hard`, or stays above `soft` for `seconds`,
//! is disconnected. The outbox applies that rule each time a message arrives, as Redis does
//! when it appends to a client's buffer: past the limit it refuses every further message and
//! reports [`Outbox::overflowed`]; its connection sees that on its next wake-up and closes.
//!
//! Delivery never blocks the publisher: `deliver` appends under a short lock and calls the
//! connection's wake function (a `tokio::sync::Notify` in the server) when the outbox turns
//! non-empty. The connection takes everything with [`Outbox::drain`] and encodes it.

use super::{Kind, Message, Sink};
use crate::config::parse_memory;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Redis's `client-output-buffer-limit` for one client class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutputLimit {
    /// Disconnect at once past this many bytes (0: no hard limit).
    pub(crate) hard: usize,
    /// Disconnect after `soft_for` above this many bytes (0: no soft limit).
    pub(crate) soft: usize,
    pub(crate) soft_for: Duration,
}

impl Default for OutputLimit {
    /// Redis's default for pub/sub clients: `32mb 8mb 60`.
    fn default() -> OutputLimit {
        OutputLimit { hard: 32 << 20, soft: 8 << 20, soft_for: Duration::from_secs(60) }
    }
}

impl OutputLimit {
    /// Parses the three values after `pubsub` in `client-output-buffer-limit` (bytes or
    /// `kb`/`mb`/`gb` units, as Redis's memory values; seconds).
    #[allow(dead_code)] // the server's CONFIG SET uses it
    pub(crate) fn parse(hard: &[u8], soft: &[u8], secs: &[u8]) -> Option<OutputLimit> {
        let secs = std::str::from_utf8(secs).ok()?.parse::<u64>().ok()?;
        Some(OutputLimit {
            hard: parse_memory(hard)?,
            soft: parse_memory(soft)?,
            soft_for: Duration::from_secs(secs),
        })
    }
}

struct State {
    queue: VecDeque<(Kind, Message)>,
    bytes: usize,
    /// Since when the outbox has been above the soft limit.
    soft_since: Option<Instant>,
    overflowed: bool,
}

/// A subscribed connection's pending messages.
pub(crate) struct Outbox {
    /// Slot owners changed since the connection last looked (see [`Sink::slots_changed`]).
    recheck: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
    limit: OutputLimit,
    wake: Box<dyn Fn() + Send + Sync>,
    /// Called once when the limit is passed (the server kills the connection, which may be
    /// stuck writing to a client that does not read).
    on_overflow: Box<dyn Fn() + Send + Sync>,
}

impl Outbox {
    /// An empty outbox under `limit`; `wake` is called when it turns non-empty or overflows,
    /// `on_overflow` once when it overflows.
    pub(crate) fn new(
        limit: OutputLimit,
        wake: Box<dyn Fn() + Send + Sync>,
        on_overflow: Box<dyn Fn() + Send + Sync>,
    ) -> Outbox {
        Outbox {
            recheck: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                bytes: 0,
                soft_since: None,
                overflowed: false,
            }),
            limit,
            wake,
            on_overflow,
        }
    }

    /// True (once) if slot owners changed since the last call.
    pub(crate) fn take_recheck(&self) -> bool {
        self.recheck.swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    /// True once the limit was passed: the connection must close.
    pub(crate) fn overflowed(&self) -> bool {
        self.state.lock().overflowed
    }

    /// Takes every pending message, in delivery order.
    pub(crate) fn drain(&self) -> Vec<(Kind, Message)> {
        let mut s = self.state.lock();
        s.bytes = 0;
        s.soft_since = None;
        s.queue.drain(..).collect()
    }

    /// Bytes pending.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// [`Sink::deliver`] at time `now`.
    fn deliver_at(&self, kind: Kind, msg: &Message, now: Instant) -> bool {
        let mut s = self.state.lock();
        if s.overflowed {
            return false;
        }
        let bytes = s.bytes + msg.cost();
        let l = self.limit;
        let over_hard = l.hard > 0 && bytes > l.hard;
        let over_soft = l.soft > 0 && bytes > l.soft;
        let soft_expired = match (over_soft, s.soft_since) {
            (true, Some(since)) => now.duration_since(since) >= l.soft_for,
            (true, None) => {
                s.soft_since = Some(now);
                l.soft_for.is_zero()
            }
            (false, _) => {
                s.soft_since = None;
                false
            }
        };
        if over_hard || soft_expired {
            s.overflowed = true;
            s.queue.clear();
            s.bytes = 0;
            drop(s);
            (self.on_overflow)();
            (self.wake)();
            return false;
        }
        let was_empty = s.queue.is_empty();
        s.queue.push_back((kind, msg.clone()));
        s.bytes = bytes;
        drop(s);
        if was_empty {
            (self.wake)();
        }
        true
    }
}

impl Sink for Outbox {
    fn deliver(&self, kind: Kind, msg: &Message) -> bool {
        self.deliver_at(kind, msg, Instant::now())
    }

    fn slots_changed(&self) {
        self.recheck.store(true, std::sync::atomic::Ordering::Release);
        (self.wake)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::Bytes;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn msg(n: usize) -> Message {
        // cost: 1 + n + 64
        Message { channel: Bytes::from("c"), pattern: None, payload: Bytes::from(vec![b'x'; n]) }
    }

    fn outbox(limit: OutputLimit) -> (Outbox, Arc<AtomicUsize>) {
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        (
            Outbox::new(
                limit,
                Box::new(move || {
                    w.fetch_add(1, Ordering::Relaxed);
                }),
                Box::new(|| {}),
            ),
            woken,
        )
    }

    #[test]
    fn the_hard_limit_closes_at_once() {
        let (o, woken) = outbox(OutputLimit { hard: 1000, soft: 0, soft_for: Duration::ZERO });
        let t = Instant::now();
        // Each message costs 200 bytes: five fill the limit exactly.
        for _ in 0..5 {
            assert!(o.deliver_at(Kind::Channel, &msg(135), t));
        }
        assert_eq!((o.bytes(), woken.load(Ordering::Relaxed)), (1000, 1));
        assert!(!o.deliver_at(Kind::Channel, &msg(135), t), "the sixth passes 1000 bytes");
        assert!(o.overflowed());
        assert_eq!(woken.load(Ordering::Relaxed), 2);
        assert!(!o.deliver_at(Kind::Channel, &msg(1), t), "refuses everything after");
        assert!(o.drain().is_empty());
    }

    #[test]
    fn the_soft_limit_closes_only_if_it_lasts() {
        let l = OutputLimit { hard: 0, soft: 500, soft_for: Duration::from_secs(60) };
        let (o, _) = outbox(l);
        let t = Instant::now();
        for _ in 0..4 {
            assert!(o.deliver_at(Kind::Shard, &msg(135), t));
        }
        // Above soft (800 > 500) since t, for under 60 s: kept.
        assert!(o.deliver_at(Kind::Shard, &msg(135), t + Duration::from_secs(59)));
        // Drained meanwhile: the clock starts again.
        assert_eq!(o.drain().len(), 5);
        for _ in 0..4 {
            assert!(o.deliver_at(Kind::Shard, &msg(135), t + Duration::from_secs(61)));
        }
        assert!(o.deliver_at(Kind::Shard, &msg(135), t + Duration::from_secs(100)));
        assert!(!o.deliver_at(Kind::Shard, &msg(135), t + Duration::from_secs(121)));
        assert!(o.overflowed());
    }

    #[test]
    fn limits_parse_as_redis_writes_them() {
        assert_eq!(OutputLimit::parse(b"32mb", b"8mb", b"60"), Some(OutputLimit::default()));
        assert_eq!(
            OutputLimit::parse(b"0", b"1k", b"5"),
            Some(OutputLimit { hard: 0, soft: 1000, soft_for: Duration::from_secs(5) })
        );
        assert_eq!(OutputLimit::parse(b"x", b"1", b"1"), None);
    }
}
