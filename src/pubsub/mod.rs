//! Pub/sub (level 3): the store-wide hub of channels, patterns and shard channels, and the
//! sinks subscribers read from.
//!
//! One [`Hub`] serves the whole store, as Redis Cluster 7.0 broadcasts classic `PUBLISH` to
//! every node: a message reaches every subscriber wherever it subscribed. Shard channels
//! (`SSUBSCRIBE`/`SPUBLISH`) live in their own namespace of the same hub; the client checks
//! that a shard channel's slot is served before it publishes or subscribes, and because the
//! hub does not hang off a node, an in-process sharded subscription follows its slot across
//! migrations and failovers without losing a message.
//!
//! # Delivery
//! Each subscriber is a [`Sink`] registered under the names it subscribed to. `publish` looks
//! the channel and every pattern up under read locks and hands the message to each matching
//! sink, on the publisher's thread; a sink must not block (it queues, or drops and says so).
//! Messages from one publisher on one channel reach each sink in publish order.
//!
//! - In process, a [`Subscription`](crate::Subscription) reads a [`queue::Queue`]: a bounded
//!   queue with a condition variable.
//! - A network connection (the server) implements [`Sink`] itself: it appends the encoded
//!   frame to its bounded output and wakes its task. Its subscription state (what it is
//!   subscribed to, the counts Redis confirms with) is a [`Subscriber`], the same as in
//!   process.
//!
//! # Slow subscribers
//! Memory never grows without bound: a sink that is full refuses the message (`deliver`
//! returns false), the hub counts it in [`Hub::dropped`] (`INFO stats`,
//! [`ClusterStats::pubsub`](crate::ClusterStats)) and the publisher goes on. The in-process
//! queue's policy is *drop newest*: what is queued stays, in order; what does not fit is
//! dropped and counted on the subscription too.

#[allow(dead_code)] // the server's connections use it
pub(crate) mod outbox;
pub(crate) mod queue;

use crate::bytes::Bytes;
use crate::glob::Glob;
use crate::keyspace::events::{self, KeyEvent};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// A message as a subscriber receives it.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use std::time::Duration;
/// let client = slotstore::Cluster::builder().build()?.client();
/// let sub = client.psubscribe(&["room:*"])?;
/// assert_eq!(client.publish("room:1", "hi")?, 1);
/// let msg = sub.recv_timeout(Duration::from_secs(1)).unwrap();
/// assert_eq!((&*msg.channel, msg.pattern.as_deref(), &*msg.payload), (&b"room:1"[..], Some(&b"room:*"[..]), &b"hi"[..]));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: Bytes,
    /// The pattern that matched, for a pattern subscription (`pmessage`); None otherwise.
    pub pattern: Option<Bytes>,
    /// What was published.
    pub payload: Bytes,
}

impl Message {
    /// Bytes a queued message is charged against a subscriber's byte limit: its channel,
    /// pattern and payload, plus [`queue::MESSAGE_OVERHEAD`] for the queue slot and shared
    /// buffers' headers. Payloads are shared between subscribers, but each queue pays for
    /// what it keeps alive, as each Redis client's output buffer does.
    pub(crate) fn cost(&self) -> usize {
        self.channel.len()
            + self.pattern.as_ref().map_or(0, |p| p.len())
            + self.payload.len()
            + queue::MESSAGE_OVERHEAD
    }
}

/// Which kind of subscription a message or a confirmation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// `SUBSCRIBE` / `message`.
    Channel,
    /// `PSUBSCRIBE` / `pmessage`.
    Pattern,
    /// `SSUBSCRIBE` / `smessage`.
    Shard,
}

impl Kind {
    /// The first word of a message frame of this kind, as Redis sends it.
    #[allow(dead_code)] // the server's frames use it
    pub(crate) fn message_word(self) -> &'static str {
        match self {
            Kind::Channel => "message",
            Kind::Pattern => "pmessage",
            Kind::Shard => "smessage",
        }
    }

    /// The confirmation words of (un)subscribing, as Redis sends them.
    #[allow(dead_code)] // the server's frames use it
    pub(crate) fn confirm_words(self) -> (&'static str, &'static str) {
        match self {
            Kind::Channel => ("subscribe", "unsubscribe"),
            Kind::Pattern => ("psubscribe", "punsubscribe"),
            Kind::Shard => ("ssubscribe", "sunsubscribe"),
        }
    }
}

/// Where the hub delivers one subscriber's messages.
///
/// `deliver` runs on the publisher's thread, under the hub's read locks (and, for keyspace
/// notifications, under the written slot's lock): it must never block or call back into the
/// store. Queue the message (cloning it is three reference-count bumps) and wake the reader,
/// or refuse it.
pub(crate) trait Sink: Send + Sync {
    /// Takes `msg` of `kind`; false if the sink is full (or closed) and dropped it.
    fn deliver(&self, kind: Kind, msg: &Message) -> bool;

    /// Slot owners changed (a migration, a failover): a sink holding shard channels may
    /// want to look at where their slots are served now. Called under the control plane's
    /// locks, so it must only flag and wake. In process nothing needs doing: the hub is
    /// store-wide.
    fn slots_changed(&self) {}
}

/// One registration: a subscriber's id and its sink.
#[derive(Clone)]
struct Entry {
    id: u64,
    sink: Arc<dyn Sink>,
}

/// The subscribers of one pattern.
struct PatternSubs {
    glob: Glob,
    subs: Vec<Entry>,
}

/// Bounds of each in-process subscriber's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Messages queued at most.
    pub(crate) messages: usize,
    /// Bytes queued at most (see [`Message::cost`]).
    pub(crate) bytes: usize,
}

impl Default for Limits {
    /// 100 000 messages or 32 MiB, whichever comes first (32 MiB is Redis's hard
    /// `client-output-buffer-limit` for pub/sub clients).
    fn default() -> Limits {
        Limits { messages: 100_000, bytes: 32 << 20 }
    }
}

/// The store's channels, patterns and shard channels, and its keyspace notification
/// setting.
#[derive(Default)]
pub(crate) struct Hub {
    channels: RwLock<HashMap<Bytes, Vec<Entry>>>,
    patterns: RwLock<HashMap<Bytes, PatternSubs>>,
    shards: RwLock<HashMap<Bytes, Vec<Entry>>>,
    /// Registrations of every kind: a publish into an empty hub (most keyspace events) stops
    /// at this load.
    registrations: AtomicUsize,
    /// `notify-keyspace-events`, as set.
    notify: AtomicU32,
    /// Messages sinks refused (full queues), since start.
    dropped: AtomicU64,
    next_id: AtomicU64,
    /// In-process queue bounds, read when a subscription is made.
    limits: Mutex<Limits>,
}

/// What (un)subscribing one name confirms: the name (None when `UNSUBSCRIBE` without names
/// found nothing to drop, as Redis answers a nil channel) and the subscriber's count after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Confirm {
    pub(crate) name: Option<Bytes>,
    pub(crate) count: usize,
}

impl Hub {
    /// A hub whose in-process queues have `limits`.
    pub(crate) fn new(limits: Limits) -> Hub {
        let hub = Hub::default();
        *hub.limits.lock() = limits;
        hub
    }

    /// The in-process queue bounds.
    pub(crate) fn limits(&self) -> Limits {
        *self.limits.lock()
    }

    /// `notify-keyspace-events` as set.
    pub(crate) fn notify_flags(&self) -> u32 {
        self.notify.load(Ordering::Relaxed)
    }

    /// The flags writes record events under (0: off). One relaxed load per write.
    #[inline]
    pub(crate) fn notify_effective(&self) -> u32 {
        events::effective(self.notify.load(Ordering::Relaxed))
    }

    /// Sets `notify-keyspace-events`.
    pub(crate) fn set_notify_flags(&self, flags: u32) {
        self.notify.store(flags, Ordering::Relaxed);
    }

    /// Messages refused by full sinks since start.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// A fresh subscriber id.
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn send(&self, e: &Entry, kind: Kind, msg: &Message) {
        if !e.sink.deliver(kind, msg) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `PUBLISH`: delivers to the channel's subscribers, then to every matching pattern's;
    /// returns the receivers as Redis counts them (one per channel subscriber plus one per
    /// matching pattern subscription, whether or not a full queue then dropped it).
    pub(crate) fn publish(&self, channel: &[u8], payload: &Bytes) -> usize {
        if self.registrations.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let channel = Bytes::from(channel);
        let mut receivers = 0;
        {
            let channels = self.channels.read();
            if let Some(subs) = channels.get(&*channel) {
                let msg = Message { channel: channel.clone(), pattern: None, payload: payload.clone() };
                for e in subs {
                    self.send(e, Kind::Channel, &msg);
                }
                receivers += subs.len();
            }
        }
        let patterns = self.patterns.read();
        for (pattern, p) in patterns.iter() {
            if p.glob.matches(&channel) {
                let msg = Message {
                    channel: channel.clone(),
                    pattern: Some(pattern.clone()),
                    payload: payload.clone(),
                };
                for e in &p.subs {
                    self.send(e, Kind::Pattern, &msg);
                }
                receivers += p.subs.len();
            }
        }
        receivers
    }

    /// `SPUBLISH`: delivers to the shard channel's subscribers; returns how many.
    pub(crate) fn spublish(&self, channel: &[u8], payload: &Bytes) -> usize {
        if self.registrations.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let shards = self.shards.read();
        let Some(subs) = shards.get(channel) else { return 0 };
        let msg = Message { channel: Bytes::from(channel), pattern: None, payload: payload.clone() };
        for e in subs {
            self.send(e, Kind::Shard, &msg);
        }
        subs.len()
    }

    /// Publishes keyspace events (`__keyspace@0__:<key>` with the event as payload, and
    /// `__keyevent@0__:<event>` with the key), as the `flags` in force say.
    pub(crate) fn publish_events(&self, flags: u32, evs: Vec<KeyEvent>) {
        if self.registrations.load(Ordering::Acquire) == 0 {
            return;
        }
        for ev in evs {
            if flags & ev.class == 0 {
                continue;
            }
            if flags & events::KEYSPACE != 0 {
                let mut ch = b"__keyspace@0__:".to_vec();
                ch.extend_from_slice(&ev.key);
                self.publish(&ch, &Bytes::from(ev.name));
            }
            if flags & events::KEYEVENT != 0 {
                let ch = format!("__keyevent@0__:{}", ev.name);
                self.publish(ch.as_bytes(), &Bytes::from(&*ev.key));
            }
        }
    }

    /// Tells every sink holding a shard channel that slot owners changed.
    pub(crate) fn slots_changed(&self) {
        let shards = self.shards.read();
        let mut told: Vec<u64> = Vec::new();
        for e in shards.values().flatten() {
            if !told.contains(&e.id) {
                told.push(e.id);
                e.sink.slots_changed();
            }
        }
    }

    /// `PUBSUB CHANNELS [pattern]` (or `SHARDCHANNELS` for `Kind::Shard`): active names,
    /// sorted.
    pub(crate) fn active(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let glob = pattern.map(Glob::new);
        let keep = |name: &Bytes| glob.as_ref().map_or(true, |g| g.matches(name));
        let mut out: Vec<Bytes> = match kind {
            Kind::Shard => self.shards.read().keys().filter(|n| keep(n)).cloned().collect(),
            Kind::Channel => self.channels.read().keys().filter(|n| keep(n)).cloned().collect(),
            Kind::Pattern => self.patterns.read().keys().filter(|n| keep(n)).cloned().collect(),
        };
        out.sort();
        out
    }

    /// `PUBSUB NUMSUB` (or `SHARDNUMSUB`): subscribers of one name.
    pub(crate) fn numsub(&self, kind: Kind, name: &[u8]) -> usize {
        match kind {
            Kind::Channel => self.channels.read().get(name).map_or(0, Vec::len),
            Kind::Shard => self.shards.read().get(name).map_or(0, Vec::len),
            Kind::Pattern => self.patterns.read().get(name).map_or(0, |p| p.subs.len()),
        }
    }

    /// `PUBSUB NUMPAT`: distinct patterns subscribed to (Redis 7.0 counts patterns, not
    /// pattern subscriptions).
    pub(crate) fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    /// Adds `e` under `name`; false if it was there.
    fn add(&self, kind: Kind, name: &Bytes, e: &Entry) -> bool {
        let added = match kind {
            Kind::Channel | Kind::Shard => {
                let mut map =
                    if kind == Kind::Channel { self.channels.write() } else { self.shards.write() };
                let subs = map.entry(name.clone()).or_default();
                let fresh = !subs.iter().any(|x| x.id == e.id);
                if fresh {
                    subs.push(e.clone());
                }
                fresh
            }
            Kind::Pattern => {
                let mut map = self.patterns.write();
                let p = map
                    .entry(name.clone())
                    .or_insert_with(|| PatternSubs { glob: Glob::new(name), subs: Vec::new() });
                let fresh = !p.subs.iter().any(|x| x.id == e.id);
                if fresh {
                    p.subs.push(e.clone());
                }
                fresh
            }
        };
        if added {
            self.registrations.fetch_add(1, Ordering::AcqRel);
        }
        added
    }

    /// Removes subscriber `id` from `name`; false if it was not there.
    fn remove(&self, kind: Kind, name: &[u8], id: u64) -> bool {
        fn take(subs: &mut Vec<Entry>, id: u64) -> bool {
            let before = subs.len();
            subs.retain(|x| x.id != id);
            subs.len() != before
        }
        let removed = match kind {
            Kind::Channel | Kind::Shard => {
                let mut map =
                    if kind == Kind::Channel { self.channels.write() } else { self.shards.write() };
                let Some(subs) = map.get_mut(name) else { return false };
                let removed = take(subs, id);
                if subs.is_empty() {
                    map.remove(name);
                }
                removed
            }
            Kind::Pattern => {
                let mut map = self.patterns.write();
                let Some(p) = map.get_mut(name) else { return false };
                let removed = take(&mut p.subs, id);
                if p.subs.is_empty() {
                    map.remove(name);
                }
                removed
            }
        };
        if removed {
            self.registrations.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    /// Registered channels, patterns and shard channels (distinct names of each).
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (self.channels.read().len(), self.patterns.read().len(), self.shards.read().len())
    }
}

/// What one subscriber is subscribed to.
#[derive(Default)]
struct Subs {
    channels: BTreeSet<Bytes>,
    /// In subscription order, as Redis lists a client's patterns.
    patterns: Vec<Bytes>,
    shards: BTreeSet<Bytes>,
}

impl Subs {
    /// The count Redis confirms with: channels and patterns together, or shard channels.
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shards.len(),
        }
    }

    fn has(&self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.contains(name),
            Kind::Pattern => self.patterns.iter().any(|p| **p == *name),
            Kind::Shard => self.shards.contains(name),
        }
    }

    fn names(&self, kind: Kind) -> Vec<Bytes> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Pattern => self.patterns.clone(),
            Kind::Shard => self.shards.iter().cloned().collect(),
        }
    }

    fn insert(&mut self, kind: Kind, name: Bytes) {
        match kind {
            Kind::Channel => {
                self.channels.insert(name);
            }
            Kind::Pattern => self.patterns.push(name),
            Kind::Shard => {
                self.shards.insert(name);
            }
        }
    }

    fn take(&mut self, kind: Kind, name: &[u8]) {
        match kind {
            Kind::Channel => {
                self.channels.remove(name);
            }
            Kind::Pattern => self.patterns.retain(|p| **p != *name),
            Kind::Shard => {
                self.shards.remove(name);
            }
        }
    }
}

/// One subscriber's registrations in the hub: an in-process subscription or a connection.
/// Dropping it unsubscribes from everything.
pub(crate) struct Subscriber {
    hub: Arc<Hub>,
    entry: Entry,
    subs: Mutex<Subs>,
}

impl Subscriber {
    /// A subscriber of `hub` delivering into `sink`, subscribed to nothing yet.
    pub(crate) fn new(hub: Arc<Hub>, sink: Arc<dyn Sink>) -> Subscriber {
        let id = hub.next_id();
        Subscriber { hub, entry: Entry { id, sink }, subs: Mutex::default() }
    }

    /// The hub this subscriber belongs to.
    #[allow(dead_code)] // the server's connections use it
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Subscribes to `names` of `kind`; one confirmation per name, in order, as Redis sends
    /// them (a repeated name is confirmed again and counted once).
    pub(crate) fn subscribe(&self, kind: Kind, names: &[Bytes]) -> Vec<Confirm> {
        let mut subs = self.subs.lock();
        names
            .iter()
            .map(|name| {
                if !subs.has(kind, name) {
                    self.hub.add(kind, name, &self.entry);
                    subs.insert(kind, name.clone());
                }
                Confirm { name: Some(name.clone()), count: subs.count(kind) }
            })
            .collect()
    }

    /// Unsubscribes from `names` of `kind`, or from every name of `kind` when `names` is
    /// empty; one confirmation per name (a single nil one if there was nothing to drop).
    pub(crate) fn unsubscribe(&self, kind: Kind, names: &[Bytes]) -> Vec<Confirm> {
        let mut subs = self.subs.lock();
        let names = if names.is_empty() { subs.names(kind) } else { names.to_vec() };
        if names.is_empty() {
            return vec![Confirm { name: None, count: subs.count(kind) }];
        }
        names
            .into_iter()
            .map(|name| {
                if subs.has(kind, &name) {
                    self.hub.remove(kind, &name, self.entry.id);
                    subs.take(kind, &name);
                }
                Confirm { name: Some(name), count: subs.count(kind) }
            })
            .collect()
    }

    /// Channels and patterns subscribed (what `SUBSCRIBE`'s confirmation counts).
    pub(crate) fn count(&self) -> usize {
        self.subs.lock().count(Kind::Channel)
    }

    /// Channels, patterns and shard channels subscribed, each apart (`CLIENT LIST`'s `sub`,
    /// `psub` and `ssub`).
    #[cfg(feature = "server")]
    pub(crate) fn counts_apart(&self) -> (usize, usize, usize) {
        let s = self.subs.lock();
        (s.channels.len(), s.patterns.len(), s.shards.len())
    }

    /// Shard channels subscribed.
    pub(crate) fn shard_count(&self) -> usize {
        self.subs.lock().count(Kind::Shard)
    }

    /// The names of `kind` subscribed now.
    pub(crate) fn names(&self, kind: Kind) -> Vec<Bytes> {
        self.subs.lock().names(kind)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let subs = std::mem::take(&mut *self.subs.lock());
        for (kind, names) in [
            (Kind::Channel, subs.channels.into_iter().collect::<Vec<_>>()),
            (Kind::Pattern, subs.patterns),
            (Kind::Shard, subs.shards.into_iter().collect()),
        ] {
            for name in names {
                self.hub.remove(kind, &name, self.entry.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that keeps everything, for counting.
    #[derive(Default)]
    struct Keep(Mutex<Vec<(Kind, Message)>>);

    impl Sink for Keep {
        fn deliver(&self, kind: Kind, msg: &Message) -> bool {
            self.0.lock().push((kind, msg.clone()));
            true
        }
    }

    fn b(s: &str) -> Bytes {
        Bytes::from(s)
    }

    #[test]
    fn receivers_count_channels_and_each_matching_pattern() {
        let hub = Arc::new(Hub::default());
        let (k1, k2) = (Arc::new(Keep::default()), Arc::new(Keep::default()));
        let s1 = Subscriber::new(hub.clone(), k1.clone());
        let s2 = Subscriber::new(hub.clone(), k2.clone());
        s1.subscribe(Kind::Channel, &[b("news"), b("news")]);
        s1.subscribe(Kind::Pattern, &[b("n*"), b("*s")]);
        s2.subscribe(Kind::Pattern, &[b("n*")]);
        // s1: the channel and two patterns; s2: one pattern.
        assert_eq!(hub.publish(b"news", &b("x")), 4);
        assert_eq!(k1.0.lock().len(), 3);
        assert_eq!(
            k1.0.lock()[0],
            (Kind::Channel, Message { channel: b("news"), pattern: None, payload: b("x") })
        );
        assert_eq!(k2.0.lock().len(), 1);
        assert_eq!(hub.publish(b"other", &b("x")), 0);
        assert_eq!(hub.numpat(), 2);
        assert_eq!(hub.numsub(Kind::Channel, b"news"), 1);
        assert_eq!(s1.count(), 3);
        drop(s1);
        assert_eq!(hub.publish(b"news", &b("x")), 1);
        assert_eq!(hub.numpat(), 1);
        assert_eq!(hub.active(Kind::Channel, None), Vec::<Bytes>::new());
        assert_eq!(hub.registrations.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn confirmations_count_as_redis_does() {
        let hub = Arc::new(Hub::default());
        let s = Subscriber::new(hub.clone(), Arc::new(Keep::default()));
        let counts = |c: Vec<Confirm>| c.into_iter().map(|c| c.count).collect::<Vec<_>>();
        assert_eq!(counts(s.subscribe(Kind::Channel, &[b("a"), b("b")])), [1, 2]);
        assert_eq!(counts(s.subscribe(Kind::Pattern, &[b("p*")])), [3]);
        // Shard channels count apart from the others.
        assert_eq!(counts(s.subscribe(Kind::Shard, &[b("x"), b("y")])), [1, 2]);
        assert_eq!(counts(s.unsubscribe(Kind::Channel, &[])), [2, 1]);
        assert_eq!(s.unsubscribe(Kind::Channel, &[]), vec![Confirm { name: None, count: 1 }]);
        assert_eq!(counts(s.unsubscribe(Kind::Shard, &[b("zz")])), [2]);
        assert_eq!(counts(s.unsubscribe(Kind::Pattern, &[])), [0]);
    }
}
