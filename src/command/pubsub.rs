//! Pub/sub commands: `PUBLISH`, `SPUBLISH`, `PUBSUB ...`, and the subscribe family, which
//! only a connection can hold (in process they are `Client::subscribe` and its siblings).
//!
//! The table records arity and key positions: `SPUBLISH`'s channel and `SSUBSCRIBE`'s and
//! `SUNSUBSCRIBE`'s channels hash to slots like keys (so a connection can answer `CROSSSLOT`
//! and `MOVED` for them before anything runs); `PUBLISH` and the classic family have none.

use super::{Handler, KeySpec, Keyless, Spec, ALL_KEYS, NO_KEYS, ONE_KEY};
use crate::error::Error;

const fn pubsub(name: &'static str, arity: i32, keys: KeySpec, k: Keyless) -> Spec {
    Spec { name, arity, keys, handler: Handler::Keyless(k), grows: false }
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    pubsub("publish", 3, NO_KEYS, Keyless::Publish),
    pubsub("spublish", 3, ONE_KEY, Keyless::SPublish),
    pubsub("pubsub", -2, NO_KEYS, Keyless::PubSub),
    pubsub("subscribe", -2, NO_KEYS, Keyless::NeedsSubscriber),
    pubsub("psubscribe", -2, NO_KEYS, Keyless::NeedsSubscriber),
    pubsub("ssubscribe", -2, ALL_KEYS, Keyless::NeedsSubscriber),
    pubsub("unsubscribe", -1, NO_KEYS, Keyless::NeedsSubscriber),
    pubsub("punsubscribe", -1, NO_KEYS, Keyless::NeedsSubscriber),
    pubsub("sunsubscribe", -1, ALL_KEYS, Keyless::NeedsSubscriber),
];

/// A parsed `PUBSUB` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PubSubCmd<'a> {
    /// `CHANNELS [pattern]`, or `SHARDCHANNELS [pattern]` when `shard`.
    Channels { shard: bool, pattern: Option<&'a [u8]> },
    /// `NUMSUB [channel...]`, or `SHARDNUMSUB` when `shard`.
    NumSub { shard: bool, channels: &'a [&'a [u8]] },
    /// `NUMPAT`.
    NumPat,
    /// `HELP`.
    Help,
}

/// Redis's `PUBSUB HELP` text.
pub(crate) const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// Parses `PUBSUB <subcommand> ...` with Redis 7.0's errors.
///
/// # Errors
/// `ERR unknown subcommand`, and the arity errors Redis gives (`NUMPAT` and `HELP` have a
/// fixed arity; `CHANNELS` takes at most a pattern).
pub(crate) fn parse<'a>(a: &'a [&'a [u8]]) -> Result<PubSubCmd<'a>, Error> {
    let sub = String::from_utf8_lossy(a[1]).to_ascii_lowercase();
    let argc = a.len();
    match sub.as_str() {
        "channels" | "shardchannels" if argc <= 3 => {
            Ok(PubSubCmd::Channels { shard: sub.starts_with('s'), pattern: a.get(2).copied() })
        }
        "channels" | "shardchannels" => Err(Error::Command(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(a[1])
        ))),
        "numsub" | "shardnumsub" => {
            Ok(PubSubCmd::NumSub { shard: sub.starts_with('s'), channels: &a[2..] })
        }
        "numpat" if argc == 2 => Ok(PubSubCmd::NumPat),
        "help" if argc == 2 => Ok(PubSubCmd::Help),
        "numpat" | "help" => Err(Error::arity(&format!("pubsub|{sub}"))),
        _ => Err(Error::Command(format!(
            "unknown subcommand '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(a[1])
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn errors_are_redis_s() {
        // Texts observed on redis-server 7.0.15.
        let err = |s: &str| parse(&words(s)).unwrap_err().to_string();
        assert_eq!(err("pubsub numpat x"), "ERR wrong number of arguments for 'pubsub|numpat' command");
        assert_eq!(
            err("pubsub channels a b"),
            "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP."
        );
        assert_eq!(err("pubsub foo"), "ERR unknown subcommand 'foo'. Try PUBSUB HELP.");
        assert_eq!(parse(&words("pubsub NUMPAT")), Ok(PubSubCmd::NumPat));
        assert_eq!(
            parse(&words("pubsub shardchannels x*")),
            Ok(PubSubCmd::Channels { shard: true, pattern: Some(b"x*") })
        );
    }
}
