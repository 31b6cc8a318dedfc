//! Pub/sub for Rust callers: `publish`/`spublish`, subscriptions, and the `PUBLISH`,
//! `SPUBLISH` and `PUBSUB` commands.
//!
//! Every subscription of the store meets in one hub (see `pubsub`): a classic `PUBLISH`
//! reaches every subscriber, as Redis Cluster 7.0 broadcasts it to every node. A shard
//! channel hashes to a slot like a key (`{tags}` count); publishing or subscribing to it
//! needs its slot served (`CLUSTERDOWN` otherwise), and one `SSUBSCRIBE` takes channels of
//! one slot (`CROSSSLOT` otherwise). Because the hub belongs to the store and not to a node,
//! an in-process sharded subscription follows its slot across migrations and failovers: no
//! message published after `spublish` returned is lost.

use super::Client;
use crate::bytes::Bytes;
use crate::command::pubsub::{self as cmd, PubSubCmd};
use crate::error::Error;
use crate::pubsub::queue::Queue;
use crate::pubsub::{Hub, Kind, Message, Subscriber};
use crate::reply::Reply;
use crate::slot::key_slot;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pub/sub counts of the store, in [`ClusterStats::pubsub`](crate::ClusterStats) and
/// `INFO stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PubSubStats {
    /// Channels with at least one subscriber (`pubsub_channels`).
    pub channels: usize,
    /// Distinct patterns subscribed to (`pubsub_patterns`).
    pub patterns: usize,
    /// Shard channels with at least one subscriber (`pubsubshard_channels`).
    pub shard_channels: usize,
    /// Messages dropped because a subscriber's queue was full, since the store started
    /// (`pubsub_dropped_messages`; slotstore's own, Redis disconnects such clients).
    pub dropped: u64,
}

/// A subscriber's end: messages of the channels, patterns and shard channels it subscribed
/// to, in a bounded queue.
///
/// Made by [`Client::subscribe`], [`Client::psubscribe`] or [`Client::ssubscribe`]; one
/// subscription can hold all three kinds (see [`Subscription::subscribe`] and siblings), as
/// one Redis connection can. Dropping it unsubscribes from everything.
///
/// Messages wait in a queue bounded by
/// [`ClusterBuilder::subscriber_queue`](crate::ClusterBuilder::subscriber_queue); when it is
/// full, newer messages are dropped (and counted in [`Subscription::dropped`]) while the
/// queued ones stay in order. A reader that keeps up loses nothing.
///
/// ```
/// # fn main() -> Result<(), slotstore::Error> {
/// use std::time::Duration;
/// let client = slotstore::Cluster::builder().primaries(3).build()?.client();
/// let sub = client.subscribe(&["room:1"])?;
/// assert_eq!(client.publish("room:1", "hi")?, 1);
/// let msg = sub.recv_timeout(Duration::from_secs(1)).unwrap();
/// assert_eq!((&*msg.channel, &*msg.payload), (&b"room:1"[..], &b"hi"[..]));
/// assert_eq!(msg.pattern, None);
/// drop(sub);
/// assert_eq!(client.publish("room:1", "anyone?")?, 0);
/// # Ok(()) }
/// ```
pub struct Subscription {
    queue: Arc<Queue>,
    subscriber: Subscriber,
    client: Client,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channels", &self.subscriber.names(Kind::Channel))
            .field("patterns", &self.subscriber.names(Kind::Pattern))
            .field("shard_channels", &self.subscriber.names(Kind::Shard))
            .field("pending", &self.queue.len())
            .field("dropped", &self.queue.dropped())
            .finish()
    }
}

fn names<A: AsRef<[u8]>>(names: &[A]) -> Vec<Bytes> {
    names.iter().map(|n| Bytes::from(n.as_ref())).collect()
}

impl Subscription {
    fn new(client: &Client) -> Subscription {
        let hub = client.hub().clone();
        let queue = Arc::new(Queue::new(hub.limits()));
        let subscriber = Subscriber::new(hub, queue.clone());
        Subscription { queue, subscriber, client: client.clone() }
    }

    /// The next message, waiting for one. None once this subscription holds no channel,
    /// pattern or shard channel any more and its queue is empty (it would wait for ever).
    pub fn recv(&self) -> Option<Message> {
        self.queue.recv_until(None)
    }

    /// The next message if one is queued, without waiting.
    pub fn try_recv(&self) -> Option<Message> {
        self.queue.try_recv()
    }

    /// The next message, waiting up to `timeout`; None if none came.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Message> {
        self.queue.recv_until(Instant::now().checked_add(timeout))
    }

    /// A blocking iterator over the messages (each `next` is a [`recv`](Subscription::recv)).
    pub fn iter(&self) -> Iter<'_> {
        Iter { sub: self }
    }

    /// An iterator over the messages queued now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Message> + '_ {
        std::iter::from_fn(|| self.try_recv())
    }

    /// Messages waiting to be read.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Messages this subscription's full queue dropped since it was made.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// The channels subscribed to now, sorted.
    pub fn channels(&self) -> Vec<Bytes> {
        self.subscriber.names(Kind::Channel)
    }

    /// The patterns subscribed to now, in subscription order.
    pub fn patterns(&self) -> Vec<Bytes> {
        self.subscriber.names(Kind::Pattern)
    }

    /// The shard channels subscribed to now, sorted.
    pub fn shard_channels(&self) -> Vec<Bytes> {
        self.subscriber.names(Kind::Shard)
    }

    /// Reopens the queue after names were added, or closes it when none are left.
    fn refresh(&self) {
        let empty = self.subscriber.count() == 0 && self.subscriber.shard_count() == 0;
        self.queue.set_closed(empty);
    }

    /// `SUBSCRIBE`: adds channels to this subscription.
    ///
    /// # Errors
    /// `ERR wrong number of arguments` for no channels.
    pub fn subscribe<A: AsRef<[u8]>>(&self, channels: &[A]) -> Result<(), Error> {
        if channels.is_empty() {
            return Err(Error::arity("subscribe"));
        }
        self.subscriber.subscribe(Kind::Channel, &names(channels));
        self.refresh();
        Ok(())
    }

    /// `PSUBSCRIBE`: adds Redis glob patterns (`*`, `?`, `[a-z]`, `\x`) to this subscription.
    ///
    /// # Errors
    /// `ERR wrong number of arguments` for no patterns.
    pub fn psubscribe<A: AsRef<[u8]>>(&self, patterns: &[A]) -> Result<(), Error> {
        if patterns.is_empty() {
            return Err(Error::arity("psubscribe"));
        }
        self.subscriber.subscribe(Kind::Pattern, &names(patterns));
        self.refresh();
        Ok(())
    }

    /// `SSUBSCRIBE`: adds shard channels, which must all hash to one slot, to this
    /// subscription.
    ///
    /// # Errors
    /// `ERR wrong number of arguments` for no channels; `CROSSSLOT` if they span slots;
    /// `CLUSTERDOWN` if their slot is not served. Nothing is subscribed on error.
    pub fn ssubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) -> Result<(), Error> {
        self.client.check_shard_channels("ssubscribe", channels)?;
        self.subscriber.subscribe(Kind::Shard, &names(channels));
        self.refresh();
        Ok(())
    }

    /// `UNSUBSCRIBE`: drops these channels, or every channel when `channels` is empty.
    pub fn unsubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        self.subscriber.unsubscribe(Kind::Channel, &names(channels));
        self.refresh();
    }

    /// `PUNSUBSCRIBE`: drops these patterns, or every pattern when `patterns` is empty.
    pub fn punsubscribe<A: AsRef<[u8]>>(&self, patterns: &[A]) {
        self.subscriber.unsubscribe(Kind::Pattern, &names(patterns));
        self.refresh();
    }

    /// `SUNSUBSCRIBE`: drops these shard channels, or every one when `channels` is empty.
    pub fn sunsubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        self.subscriber.unsubscribe(Kind::Shard, &names(channels));
        self.refresh();
    }

    /// Drops every channel, pattern and shard channel: later publishes no longer reach this
    /// subscription; what is queued can still be read, then `recv` returns None.
    pub fn unsubscribe_all(&self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            self.subscriber.unsubscribe(kind, &[]);
        }
        self.refresh();
    }
}

/// A blocking iterator over a [`Subscription`]'s messages, from [`Subscription::iter`]; it
/// ends when [`recv`](Subscription::recv) returns None.
#[derive(Debug)]
pub struct Iter<'a> {
    sub: &'a Subscription,
}

impl Iterator for Iter<'_> {
    type Item = Message;
    fn next(&mut self) -> Option<Message> {
        self.sub.recv()
    }
}

impl<'a> IntoIterator for &'a Subscription {
    type Item = Message;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// An owning blocking iterator over a [`Subscription`]'s messages.
#[derive(Debug)]
pub struct IntoIter {
    sub: Subscription,
}

impl Iterator for IntoIter {
    type Item = Message;
    fn next(&mut self) -> Option<Message> {
        self.sub.recv()
    }
}

impl IntoIterator for Subscription {
    type Item = Message;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter { sub: self }
    }
}

impl Client {
    /// The store's pub/sub hub.
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.registry.budget.hub
    }

    /// The one slot of `channels`, checked served where this client sends commands: as
    /// `SSUBSCRIBE`/`SPUBLISH` are checked in Redis Cluster.
    fn check_shard_channels<A: AsRef<[u8]>>(&self, name: &str, channels: &[A]) -> Result<u16, Error> {
        let Some(first) = channels.first() else { return Err(Error::arity(name)) };
        let slot = key_slot(first.as_ref());
        if channels.iter().any(|c| key_slot(c.as_ref()) != slot) {
            return Err(Error::CrossSlot);
        }
        let none: &[&[u8]] = &[];
        self.read_cmd(slot, usize::MAX, none, |_, _| ())?;
        Ok(slot)
    }

    /// `SUBSCRIBE`: a subscription to `channels`.
    ///
    /// # Errors
    /// `ERR wrong number of arguments` for no channels.
    pub fn subscribe<A: AsRef<[u8]>>(&self, channels: &[A]) -> Result<Subscription, Error> {
        let sub = Subscription::new(self);
        sub.subscribe(channels)?;
        Ok(sub)
    }

    /// `PSUBSCRIBE`: a subscription to Redis glob `patterns`; its messages carry the
    /// pattern that matched.
    ///
    /// # Errors
    /// `ERR wrong number of arguments` for no patterns.
    pub fn psubscribe<A: AsRef<[u8]>>(&self, patterns: &[A]) -> Result<Subscription, Error> {
        let sub = Subscription::new(self);
        sub.psubscribe(patterns)?;
        Ok(sub)
    }

    /// `SSUBSCRIBE`: a subscription to shard `channels`, which must hash to one slot.
    ///
    /// ```
    /// # fn main() -> Result<(), slotstore::Error> {
    /// use slotstore::{key_slot, Cluster};
    /// use std::time::Duration;
    /// let cluster = Cluster::builder().primaries(2).build()?;
    /// let client = cluster.client();
    /// let sub = client.ssubscribe(&["{room:1}:chat"])?;
    /// // The subscription follows its slot when it moves.
    /// let slot = key_slot("{room:1}:chat");
    /// let other = cluster.primaries().into_iter().find(|p| Some(*p) != cluster.slot_owner(slot)).unwrap();
    /// cluster.migrate_slot(slot, other)?;
    /// assert_eq!(client.spublish("{room:1}:chat", "still here")?, 1);
    /// assert_eq!(&*sub.recv_timeout(Duration::from_secs(1)).unwrap().payload, b"still here");
    /// assert!(client.ssubscribe(&["a", "b"]).is_err()); // CROSSSLOT
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `ERR wrong number of arguments` for no channels; `CROSSSLOT` if they span slots;
    /// `CLUSTERDOWN` if their slot is not served.
    pub fn ssubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) -> Result<Subscription, Error> {
        let sub = Subscription::new(self);
        sub.ssubscribe(channels)?;
        Ok(sub)
    }

    /// `PUBLISH`: sends `payload` to every subscriber of `channel` and of every pattern that
    /// matches it, store-wide; returns the receivers as Redis counts them (one per channel
    /// subscriber plus one per matching pattern subscription).
    ///
    /// # Errors
    /// None today; the `Result` leaves room for a limit on publishers.
    pub fn publish(&self, channel: impl AsRef<[u8]>, payload: impl AsRef<[u8]>) -> Result<usize, Error> {
        Ok(self.hub().publish(channel.as_ref(), &Bytes::from(payload.as_ref())))
    }

    /// `SPUBLISH`: sends `payload` to the subscribers of shard channel `channel`; returns
    /// how many. Runs under the channel's slot lock on the primary serving it, so a publish
    /// is ordered with the slot's moves.
    ///
    /// # Errors
    /// `CLUSTERDOWN` if the channel's slot is not served; for a raw client
    /// ([`Client::follow_redirects`]) the redirect.
    pub fn spublish(
        &self,
        channel: impl AsRef<[u8]>,
        payload: impl AsRef<[u8]>,
    ) -> Result<usize, Error> {
        let (channel, payload) = (channel.as_ref(), Bytes::from(payload.as_ref()));
        let none: &[&[u8]] = &[];
        let hub = self.hub();
        const SPUBLISH: usize = crate::command::const_id("spublish");
        self.read_cmd(key_slot(channel), SPUBLISH, none, |_, _| hub.spublish(channel, &payload))
    }

    /// Pub/sub counts: active channels, patterns and shard channels, and dropped messages.
    pub fn pubsub_stats(&self) -> PubSubStats {
        let (channels, patterns, shard_channels) = self.hub().counts();
        PubSubStats { channels, patterns, shard_channels, dropped: self.hub().dropped() }
    }

    /// `PUBLISH`, `SPUBLISH`, `PUBSUB ...` by their words.
    pub(crate) fn pubsub_command(
        &self,
        k: crate::command::Keyless,
        a: &[&[u8]],
    ) -> Result<Reply, Error> {
        use crate::command::Keyless;
        let hub = self.hub();
        match k {
            Keyless::Publish => Ok(Reply::Int(self.publish(a[1], a[2])? as i64)),
            Keyless::SPublish => Ok(Reply::Int(self.spublish(a[1], a[2])? as i64)),
            Keyless::PubSub => Ok(match cmd::parse(a)? {
                PubSubCmd::Channels { shard, pattern } => {
                    let kind = if shard { Kind::Shard } else { Kind::Channel };
                    Reply::Array(hub.active(kind, pattern).into_iter().map(Reply::Bulk).collect())
                }
                PubSubCmd::NumSub { shard, channels } => {
                    let kind = if shard { Kind::Shard } else { Kind::Channel };
                    let mut out = Vec::with_capacity(channels.len() * 2);
                    for c in channels {
                        out.push(Reply::bulk(c));
                        out.push(Reply::Int(hub.numsub(kind, c) as i64));
                    }
                    Reply::Array(out)
                }
                PubSubCmd::NumPat => Reply::Int(hub.numpat() as i64),
                PubSubCmd::Help => {
                    Reply::Array(cmd::HELP.iter().map(|l| Reply::Simple((*l).into())).collect())
                }
            }),
            _ => Err(Error::Command(format!(
                "'{}' needs a subscriber: use Client::subscribe, psubscribe or ssubscribe in process",
                String::from_utf8_lossy(a[0]).to_ascii_lowercase()
            ))),
        }
    }
}
