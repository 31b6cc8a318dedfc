//! # slotstore
//!
//! Redis Cluster inside one process. Keys hash into the 16384 CRC16 slots of Redis Cluster
//! (hash tags included), primaries own slots and each runs a thread of its own, and commands
//! speak Redis: the same words, the same replies, the same errors (`CROSSSLOT`, `WRONGTYPE`,
//! `MOVED`, `CLUSTERDOWN`, ...).
//!
//! ```
//! # fn main() -> Result<(), slotstore::Error> {
//! use slotstore::{key_slot, Cluster, Error, Reply};
//! use std::time::Duration;
//!
//! let cluster = Cluster::builder().primaries(3).build()?;
//! let client = cluster.client();
//!
//! // Typed methods: the fast path.
//! client.set("user:{42}:name", "kim")?;
//! client.set_ex("session:{42}", "token", Duration::from_secs(60))?;
//! assert_eq!(client.incr_by("user:{42}:visits", 1)?, 1);
//!
//! // Hash tags keep a user's keys in one slot, so multi-key commands work on them...
//! let names = client.mget(&["user:{42}:name", "user:{42}:visits"])?;
//! assert_eq!(names[0].as_deref(), Some(&b"kim"[..]));
//! // ...and keys in different slots are refused, as Redis Cluster refuses them.
//! assert_eq!(client.mget(&["a", "b"]), Err(Error::CrossSlot));
//!
//! // Every command by its Redis words.
//! assert_eq!(client.command(&["TTL", "session:{42}"])?, Reply::Int(60));
//! assert_eq!(client.command(&["CLUSTER", "KEYSLOT", "foo"])?, Reply::Int(12182));
//! assert_eq!(key_slot("foo"), 12182);
//! # Ok(()) }
//! ```
//!
//! ## Layout
//! Imports go down only (see DESIGN.md):
//! - level 0: [`slot`](key_slot), `error`, `reply`, `bytes`, `clock`, `config`, `ids`, `glob`;
//! - level 1: `keyspace` — one table per slot: values, expiry;
//! - level 2: `command/` — Redis words to typed commands, one file per family;
//!   `topology` — immutable snapshots of nodes, slot owners and open migrations (with the
//!   keys each has moved); `events` — what a topology change published; `detector` — failure
//!   detection and failover decisions as a state machine on the cluster's clock;
//!   `replication` — the effects a primary streams to its replicas; `migration` — the
//!   `ASK`/`TRYAGAIN`/`MOVED` rules a command meets on a moving slot; `rebalance` — the
//!   rebalance planner; `rng` — the crate's PRNG;
//! - level 3: `node/` — per-slot locks, replication streams, failure detection and failover,
//!   the slot mover (atomic and key-by-key), scaling, and the only place threads are spawned;
//!   `pubsub/` — the store-wide hub of channels, patterns and shard channels, the `Sink`
//!   subscribers (in-process queues, server connections) receive through, keyspace events;
//! - level 4: `cluster` (control plane: migrations, rebalance, faults, events), `chaos`
//!   (seeded faults for tests) and `client` (routing, redirects, typed methods,
//!   `CLUSTER SETSLOT`/`MIGRATE`). Every topology change goes through one publish point,
//!   `Registry::publish` (in `node/registry.rs`), which swaps in the next epoch and emits
//!   its events; crate layers react to it through `Registry::on_publish`;
//! - level 5: `server/` (feature `server`, on by default) — every node on a TCP port of its
//!   own speaking RESP2/RESP3 ([`Cluster::serve`], the `slotstore-server` binary); with the
//!   feature `redis`, `bridge` (the redis-rs connection, `Cluster::redis_connection`) and
//!   `admin`, which use only the public client paths; this file, docs and re-exports only.
#![warn(missing_docs)]

#[cfg(feature = "redis")]
pub mod admin;
#[cfg(feature = "redis")]
mod bridge;
mod bytes;
mod chaos;
mod client;
mod clock;
mod cluster;
mod command;
mod config;
mod detector;
mod error;
mod events;
mod glob;
mod ids;
mod keyspace;
mod migration;
mod node;
mod pubsub;
mod rebalance;
mod replication;
mod reply;
mod rng;
#[cfg(feature = "server")]
mod server;
mod slot;
mod topology;

#[cfg(feature = "redis")]
pub use bridge::RedisConnection;
pub use bytes::Bytes;
pub use chaos::{Chaos, ChaosStep, Fault};
pub use client::{
    Client, ClusterStats, PubSubStats, Session, Subscription, SubscriptionIntoIter, SubscriptionIter,
    Transaction,
};
pub use clock::Clock;
pub use cluster::{Balance, Cluster, ClusterBuilder, Migration, RebalanceProgress};
pub use command::bitmaps::{BitOp, BitUnit, BitfieldOp, BitfieldType, Overflow};
pub use command::geo::{GeoBy, GeoFrom, GeoMatch, GeoUnit};
pub use config::{parse_memory, EvictionPolicy, FailoverMode, MigrationMode, ReadFrom};
pub use error::{ClusterDownReason, Error};
pub use events::Event;
pub use ids::NodeId;
pub use keyspace::list::ListEnd;
pub use keyspace::stream::{StreamEntry, StreamId};
pub use migration::MigrationProgress;
pub use node::NodeStats;
pub use pubsub::Message;
pub use reply::Reply;
#[cfg(feature = "server")]
pub use server::{Server, ServerConfig};
pub use slot::{crc16, hash_tag, key_slot, SLOT_COUNT};
pub use topology::{NodeAddr, NodeInfo, Role, Topology};

/// The redis-rs crate slotstore is built against (feature `redis`), with its cluster support
/// on: name it as `slotstore::redis` so application code and slotstore agree on one version.
/// See [`Cluster::redis_connection`] and [`admin`].
#[cfg(feature = "redis")]
pub use redis;

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
