//! `MONITOR`: every command the server runs, as one line to each monitoring connection, in
//! Redis's format: `+<unix seconds>.<micros> [0 <client address>] "word" "word"`.
//!
//! A command is fed once it has run (failed or not), in the order the connection ran it:
//! those an `EXEC` runs come before the `EXEC`; commands refused before running (a redirect,
//! the arity), unknown ones and administrative ones (`CONFIG`, `CLIENT LIST`, `CLUSTER
//! SETSLOT`, ...) are not fed; passwords show as `(redacted)`. With no monitor, a command
//! pays one relaxed load.

use super::{ClientEntry, Shared};
use crate::ids::NodeId;
use crate::reply::Reply;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The monitoring connections: (the client, the node whose port it is on, where its lines
/// go). A monitor sees its node's commands, as each Redis Cluster node's `MONITOR` does.
pub(crate) type Monitors = Vec<(Arc<ClientEntry>, NodeId, mpsc::Sender<Reply>)>;

/// Redis 7.0's administrative commands (`CMD_ADMIN`), by statistics name, that slotstore
/// has: MONITOR never shows them.
const ADMIN: &[&str] = &[
    "client|kill",
    "client|list",
    "client|no-evict",
    "client|pause",
    "client|unblock",
    "client|unpause",
    "config|get",
    "config|resetstat",
    "config|rewrite",
    "config|set",
    "failover",
    "monitor",
    "replicaof",
    "slaveof",
    "save",
    "bgsave",
    "shutdown",
];

/// The `CLUSTER` subcommands Redis marks administrative.
const ADMIN_CLUSTER: &[&str] = &[
    "addslots",
    "addslotsrange",
    "bumpepoch",
    "count-failure-reports",
    "delslots",
    "delslotsrange",
    "failover",
    "flushslots",
    "forget",
    "meet",
    "replicas",
    "replicate",
    "reset",
    "saveconfig",
    "set-config-epoch",
    "setslot",
    "slaves",
];

/// True if a command with statistics name `name` is shown to monitors.
pub(crate) fn shown(name: &str) -> bool {
    match name.strip_prefix("cluster|") {
        Some(sub) => !ADMIN_CLUSTER.contains(&sub),
        None => !ADMIN.contains(&name),
    }
}

impl Shared {
    /// True if some connection is monitoring (one relaxed load).
    #[inline]
    pub(crate) fn monitored(&self) -> bool {
        self.monitoring.load(Ordering::Relaxed) > 0
    }

    /// Makes connection `client`, on `node`'s port, a monitor; its lines go to `tx`. Twice
    /// is once.
    pub(crate) fn monitor(&self, client: Arc<ClientEntry>, node: NodeId, tx: mpsc::Sender<Reply>) {
        let mut m = self.monitors.lock();
        if !m.iter().any(|(c, ..)| c.id == client.id) {
            m.push((client, node, tx));
            self.monitoring.store(m.len(), Ordering::Relaxed);
        }
    }

    /// Connection `id` monitors no more (it closed, or sent `RESET`).
    pub(crate) fn unmonitor(&self, id: u64) {
        let mut m = self.monitors.lock();
        m.retain(|(c, ..)| c.id != id);
        self.monitoring.store(m.len(), Ordering::Relaxed);
    }

    /// Sends the line of command `args`, run on `node` by the client at `addr`, to the
    /// node's monitors.
    pub(crate) fn feed_monitors(&self, node: NodeId, addr: SocketAddr, args: &[&[u8]]) {
        let line = Reply::Simple(line(SystemTime::now(), addr, args));
        let mut m = self.monitors.lock();
        // A monitor whose connection is gone is dropped here too, and one that lets
        // `MONITOR_LINES` wait is closed.
        m.retain(|(client, on, tx)| {
            *on != node
                || match tx.try_send(line.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        client.kill.notify_one();
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
        });
        self.monitoring.store(m.len(), Ordering::Relaxed);
    }
}

/// A command's monitor line, without the leading `+` and the line end the encoder adds.
fn line(at: SystemTime, addr: SocketAddr, args: &[&[u8]]) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = format!("{}.{:06} [0 {addr}]", since.as_secs(), since.subsec_micros());
    let secret = redacted(args);
    for (arg, secret) in args.iter().zip(secret) {
        out.push(' ');
        if secret {
            out.push_str("\"(redacted)\"");
        } else {
            crate::reply::push_repr(&mut out, arg);
        }
    }
    out
}

/// Which words of `args` are passwords (Redis's `redactClientCommandArgument`): every word
/// of `AUTH`, the two after `HELLO`'s `AUTH`, `MIGRATE`'s `AUTH` password and `AUTH2` user
/// and password, the value of `CONFIG SET requirepass|masterauth`.
pub(crate) fn redacted(args: &[&[u8]]) -> Vec<bool> {
    let is = |i: usize, word: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()));
    let mut secret = vec![false; args.len()];
    if is(0, "auth") {
        secret[1..].iter_mut().for_each(|s| *s = true);
    } else if is(0, "hello") {
        // HELLO [protover [AUTH username password] [SETNAME name]]
        for i in (2..args.len()).filter(|&i| is(i, "auth")) {
            secret.iter_mut().skip(i + 1).take(2).for_each(|s| *s = true);
        }
    } else if is(0, "config") && is(1, "set") {
        for i in (2..args.len()).step_by(2) {
            if is(i, "requirepass") || is(i, "masterauth") {
                secret.iter_mut().skip(i + 1).take(1).for_each(|s| *s = true);
            }
        }
    } else if is(0, "migrate") {
        // MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS ...]
        let mut i = 6;
        while i < args.len() {
            let n = if is(i, "auth") {
                1
            } else if is(i, "auth2") {
                2
            } else if is(i, "keys") {
                break;
            } else {
                0
            };
            secret.iter_mut().skip(i + 1).take(n).for_each(|s| *s = true);
            i += 1 + n;
        }
    }
    secret
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn words(line: &str) -> Vec<&str> {
        line.split_once("] ").map_or(vec![], |(_, w)| w.split(' ').collect())
    }

    #[test]
    fn lines_are_redis_lines() {
        let at = UNIX_EPOCH + Duration::from_micros(1_339_518_083_107_412);
        let addr: SocketAddr = "127.0.0.1:60866".parse().unwrap();
        assert_eq!(
            line(at, addr, &[b"set", b"k", b"a \"b\"\n\x01\xff"]),
            r#"1339518083.107412 [0 127.0.0.1:60866] "set" "k" "a \"b\"\n\x01\xff""#
        );
    }

    #[test]
    fn passwords_are_redacted() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let l = |a: &[&[u8]]| line(UNIX_EPOCH, addr, a);
        assert_eq!(words(&l(&[b"auth", b"u", b"p"])), ["\"auth\"", "\"(redacted)\"", "\"(redacted)\""]);
        assert_eq!(
            words(&l(&[b"HELLO", b"2", b"AUTH", b"u", b"p", b"SETNAME", b"n"])),
            [
                "\"HELLO\"",
                "\"2\"",
                "\"AUTH\"",
                "\"(redacted)\"",
                "\"(redacted)\"",
                "\"SETNAME\"",
                "\"n\""
            ]
        );
        let m = l(&[b"migrate", b"h", b"1", b"key", b"9", b"5000", b"AUTH2", b"u", b"p"]);
        assert!(m.ends_with(r#""5000" "AUTH2" "(redacted)" "(redacted)""#), "{m}");
        let m = l(&[b"migrate", b"h", b"1", b"key", b"9", b"5000", b"AUTH", b"p", b"KEYS", b"a"]);
        assert!(m.ends_with(r#""AUTH" "(redacted)" "KEYS" "a""#), "{m}");
    }

    #[test]
    fn administrative_commands_are_not_shown() {
        assert!(shown("set") && shown("client|info") && shown("cluster|info"));
        assert!(!shown("config|set") && !shown("cluster|setslot") && !shown("client|list"));
    }
}
