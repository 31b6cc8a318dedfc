//! Pub/sub on a connection: `(P|S)SUBSCRIBE`, `(P|S)UNSUBSCRIBE`, subscribe mode, message
//! frames, the output-buffer limit, and `sunsubscribe` when a shard channel's slot leaves the
//! node.
//!
//! A subscribed connection registers an [`Outbox`] in the store's hub: publishers append to
//! it and wake the connection's task through a `Notify`; the task drains it and writes the
//! frames (RESP2 arrays in subscribe mode, RESP3 pushes). The outbox applies
//! `client-output-buffer-limit pubsub` (Redis's default `32mb 8mb 60`): a subscriber that does
//! not read is disconnected, as Redis disconnects it, instead of growing.
//!
//! Shard channels are served by the slot's primary and its replicas. A connection remembers,
//! per slot it holds shard channels of, which primary served it when it subscribed; when slot
//! owners change (the hub calls the outbox's `slots_changed`) it drops the channels of every
//! slot this node no longer serves for that primary (moved to another shard, or failed over)
//! and sends Redis's `sunsubscribe` frames, so the client re-subscribes where the slot is now.

use super::conn::Conn;
use super::resp::{self, Nil};
use crate::bytes::Bytes;
use crate::error::{ClusterDownReason, Error};
use crate::ids::NodeId;
use crate::pubsub::outbox::{Outbox, OutputLimit};
use crate::pubsub::{Confirm, Kind, Subscriber};
use crate::reply::Reply;
use crate::slot::key_slot;
use std::collections::HashMap;
use std::sync::Arc;

/// A connection's pub/sub state, made at its first subscription.
pub(crate) struct PubSub {
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
    subscriber: Subscriber,
    /// Slot -> the primary that served it when its shard channels were subscribed here.
    shard_slots: HashMap<u16, NodeId>,
}

impl PubSub {
    /// Channels, patterns and shard channels subscribed, each apart.
    pub(crate) fn counts_apart(&self) -> (usize, usize, usize) {
        self.subscriber.counts_apart()
    }

    /// Channels and patterns, and shard channels, subscribed.
    fn counts(&self) -> (usize, usize) {
        (self.subscriber.count(), self.subscriber.shard_count())
    }
}

/// Is `name` one of the (un)subscribe commands?
pub(crate) fn is_pubsub_word(name: &[u8]) -> bool {
    matches!(
        name,
        b"subscribe"
            | b"psubscribe"
            | b"ssubscribe"
            | b"unsubscribe"
            | b"punsubscribe"
            | b"sunsubscribe"
    )
}

/// The pub/sub part of `client-output-buffer-limit` as configured (Redis's default if unset).
fn output_limit(conn: &Conn) -> OutputLimit {
    let p = conn.shared.params.lock();
    let Some(v) = p.other.get("client-output-buffer-limit") else { return OutputLimit::default() };
    let words: Vec<&str> = v.split_whitespace().collect();
    words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("pubsub"))
        .and_then(|i| words.get(i + 1..i + 4))
        .and_then(|w| OutputLimit::parse(w[0].as_bytes(), w[1].as_bytes(), w[2].as_bytes()))
        .unwrap_or_default()
}

impl Conn {
    /// True while a RESP2 connection is in subscribe mode (holds a subscription): only the
    /// (un)subscribe commands, `PING`, `QUIT` and `RESET` may run.
    pub(crate) fn in_subscribe_mode(&self) -> bool {
        self.proto < 3 && self.pubsub.as_ref().is_some_and(|p| p.counts() != (0, 0))
    }

    /// The wake-up of this connection's subscriptions, if it has any.
    pub(crate) fn pubsub_wake(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.pubsub.as_ref().map(|p| p.wake.clone())
    }

    fn pubsub_state(&mut self) -> &mut PubSub {
        if self.pubsub.is_none() {
            let wake = Arc::new(tokio::sync::Notify::new());
            let w = wake.clone();
            let entry = self.entry.clone();
            let outbox = Arc::new(Outbox::new(
                output_limit(self),
                Box::new(move || w.notify_one()),
                // A client over the limit may have the task stuck writing to it: kill it.
                Box::new(move || entry.kill.notify_one()),
            ));
            let hub = self.shared.client.hub().clone();
            let subscriber = Subscriber::new(hub, outbox.clone());
            self.pubsub = Some(PubSub { outbox, wake, subscriber, shard_slots: HashMap::new() });
        }
        self.pubsub.as_mut().expect("made above")
    }

    /// Appends one confirmation frame per `Confirm`.
    fn confirm(&self, out: &mut Vec<u8>, word: &str, confirms: Vec<Confirm>) {
        for c in confirms {
            let frame = Reply::Push(vec![
                Reply::bulk(word),
                c.name.map_or(Reply::Nil, Reply::Bulk),
                Reply::Int(c.count as i64),
            ]);
            self.emit(out, &Ok(frame), Nil::Bulk);
        }
    }

    /// `PING` in RESP2 subscribe mode: `["pong", message or ""]`, as Redis answers it.
    pub(crate) fn subscribed_ping(&self, args: &[&[u8]], out: &mut Vec<u8>) {
        let r = match args {
            [_] => Ok(Reply::Array(vec![Reply::bulk("pong"), Reply::bulk("")])),
            [_, msg] => Ok(Reply::Array(vec![Reply::bulk("pong"), Reply::bulk(msg)])),
            _ => Err(Error::arity("ping")),
        };
        self.emit(out, &r, Nil::Bulk);
    }

    /// Redis's refusal of other commands in RESP2 subscribe mode.
    pub(crate) fn refuse_in_subscribe_mode(&self, name: &[u8], out: &mut Vec<u8>) {
        let mut e = b"ERR Can't execute '".to_vec();
        e.extend_from_slice(name);
        e.extend_from_slice(
            b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        );
        resp::push_error_text(out, &e);
    }

    /// Where this node stands for `slot`: Ok(the primary serving it) if this node is that
    /// primary or one of its replicas; else the redirect Redis gives.
    fn serves(&self, slot: u16) -> Result<NodeId, Error> {
        let t = self.shared.client.topology();
        let owner = t.slot_owner(slot).ok_or(Error::ClusterDown(ClusterDownReason::Unbound))?;
        if owner == self.node || t.replicas_of(owner).contains(&self.node) {
            Ok(owner)
        } else {
            Err(Error::Moved { slot, node: owner })
        }
    }

    /// `(P|S)SUBSCRIBE` and `(P|S)UNSUBSCRIBE`.
    pub(crate) fn pubsub_command(&mut self, name: &[u8], args: &[&[u8]], out: &mut Vec<u8>) {
        let (kind, subscribe) = match name {
            b"subscribe" => (Kind::Channel, true),
            b"psubscribe" => (Kind::Pattern, true),
            b"ssubscribe" => (Kind::Shard, true),
            b"unsubscribe" => (Kind::Channel, false),
            b"punsubscribe" => (Kind::Pattern, false),
            _ => (Kind::Shard, false),
        };
        let names: Vec<Bytes> = args[1..].iter().map(|a| Bytes::from(*a)).collect();
        let (sub_word, unsub_word) = kind.confirm_words();
        if subscribe && names.is_empty() {
            self.emit(out, &Err(Error::arity(sub_word)), Nil::Bulk);
            return;
        }
        let mut served_by = None;
        if kind == Kind::Shard && !names.is_empty() {
            let slot = key_slot(&names[0]);
            if names.iter().any(|n| key_slot(n) != slot) {
                self.emit(out, &Err(Error::CrossSlot), Nil::Bulk);
                return;
            }
            if subscribe {
                match self.serves(slot) {
                    Ok(owner) => served_by = Some((slot, owner)),
                    Err(e) => {
                        self.emit(out, &Err(e), Nil::Bulk);
                        return;
                    }
                }
            }
        }
        if !subscribe && self.pubsub.is_none() {
            // Nothing subscribed: Redis still confirms, with a nil name when none was given.
            let confirms = if names.is_empty() {
                vec![Confirm { name: None, count: 0 }]
            } else {
                names.into_iter().map(|n| Confirm { name: Some(n), count: 0 }).collect()
            };
            self.confirm(out, unsub_word, confirms);
            return;
        }
        let state = self.pubsub_state();
        let confirms = if subscribe {
            if let Some((slot, owner)) = served_by {
                state.shard_slots.entry(slot).or_insert(owner);
            }
            state.subscriber.subscribe(kind, &names)
        } else {
            state.subscriber.unsubscribe(kind, &names)
        };
        if kind == Kind::Shard && !subscribe {
            let held: Vec<u16> = state.subscriber.names(Kind::Shard).iter().map(key_slot).collect();
            state.shard_slots.retain(|s, _| held.contains(s));
        }
        self.confirm(out, if subscribe { sub_word } else { unsub_word }, confirms);
    }

    /// Writes the messages waiting in the outbox, and `sunsubscribe` frames for shard
    /// channels whose slot this node no longer serves. False if the outbox overflowed: the
    /// connection must close.
    pub(crate) fn drain_pubsub(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(state) = self.pubsub.as_ref() else { return true };
        if state.outbox.overflowed() {
            return false;
        }
        let msgs = state.outbox.drain();
        let recheck = state.outbox.take_recheck();
        for (kind, m) in msgs {
            let mut items = vec![Reply::bulk(kind.message_word())];
            if let Some(p) = m.pattern {
                items.push(Reply::Bulk(p));
            }
            items.push(Reply::Bulk(m.channel));
            items.push(Reply::Bulk(m.payload));
            self.emit(out, &Ok(Reply::Push(items)), Nil::Bulk);
        }
        if recheck {
            self.recheck_shards(out);
        }
        true
    }

    /// Drops the shard channels of slots this node no longer serves for the primary that
    /// served them at subscription, with Redis's `sunsubscribe` frames.
    fn recheck_shards(&mut self, out: &mut Vec<u8>) {
        let Some(state) = self.pubsub.as_ref() else { return };
        let mut gone = Vec::new();
        let mut promoted = Vec::new();
        for (&slot, &owner) in &state.shard_slots {
            match self.serves(slot) {
                Ok(now) if now == owner => {}
                // This node took its shard over: it serves the slot itself now.
                Ok(now) if now == self.node => promoted.push(slot),
                _ => gone.push(slot),
            }
        }
        let node = self.node;
        let state = self.pubsub.as_mut().expect("checked");
        for slot in promoted {
            state.shard_slots.insert(slot, node);
        }
        if gone.is_empty() {
            return;
        }
        let names: Vec<Bytes> = state
            .subscriber
            .names(Kind::Shard)
            .into_iter()
            .filter(|n| gone.contains(&key_slot(n)))
            .collect();
        state.shard_slots.retain(|s, _| !gone.contains(s));
        if names.is_empty() {
            return;
        }
        let confirms = state.subscriber.unsubscribe(Kind::Shard, &names);
        self.confirm(out, "sunsubscribe", confirms);
    }
}
