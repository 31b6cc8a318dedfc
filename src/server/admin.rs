//! Connection and server commands a network connection needs: `HELLO`, `AUTH`, `SELECT`,
//! `CLIENT`, `RESET`, `TIME`, `COMMAND`, `CONFIG`, `INFO`, `RANDOMKEY`, `ROLE`, `FUNCTION`/
//! `SCRIPT FLUSH`, and the `CLUSTER` subcommands that depend on the node asked (`MYID`,
//! `REPLICAS`, `LINKS`, `FAILOVER`), with Redis 7.0's replies and error texts.

use super::conn::{Conn, ReplyMode, Step};
use super::resp::{self, Nil};
use crate::client::{command_docs, command_keys};
use crate::config::{parse_memory, FailoverMode};
use crate::error::Error;
use crate::ids::NodeId;
use crate::reply::Reply;
use crate::topology::Role;
use crate::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The Redis version the server reports: clients gate features on it, and the replies
/// follow Redis 7.0.
pub(crate) const REDIS_VERSION: &str = "7.0.15";

/// Commands the server answers itself (not in the store's command table), for `COMMAND`:
/// name, arity, flags.
const SERVER_COMMANDS: &[(&str, i32, &[&str])] = &[
    ("hello", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"]),
    ("auth", -2, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"]),
    ("select", 2, &["loading", "stale", "fast"]),
    ("client", -2, &["noscript", "loading", "stale"]),
    ("quit", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"]),
    ("reset", 1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"]),
    ("time", 1, &["loading", "stale", "fast"]),
    ("command", -1, &["loading", "stale"]),
    ("randomkey", 1, &["readonly"]),
    ("lastsave", 1, &["loading", "stale", "fast"]),
    ("role", 1, &["noscript", "loading", "stale", "fast"]),
    ("function", -2, &["noscript"]),
    ("script", -2, &["noscript"]),
    ("replicaof", 3, &["admin", "noscript", "stale", "no_async_loading"]),
    ("slaveof", 3, &["admin", "noscript", "stale", "no_async_loading"]),
    ("failover", -1, &["admin", "noscript", "stale"]),
    ("monitor", 1, &["admin", "noscript", "loading", "stale"]),
    ("slowlog", -2, &[]),
];

/// True if the server answers command `name` (lowercase) itself.
pub(crate) fn is_server_command(name: &str) -> bool {
    SERVER_COMMANDS.iter().any(|(n, ..)| *n == name)
}

fn lower(a: &[u8]) -> String {
    String::from_utf8_lossy(a).to_ascii_lowercase()
}

fn arity_err(name: &str) -> Error {
    Error::Command(format!("wrong number of arguments for '{name}' command"))
}

fn unknown_sub(cmd: &str, sub: &[u8]) -> Error {
    Error::Command(format!(
        "unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd.to_ascii_uppercase()
    ))
}

fn bulk_str(s: &str) -> Reply {
    Reply::bulk(s)
}

fn status(s: &str) -> Reply {
    Reply::Simple(s.into())
}

/// Parameters `CONFIG SET` accepts and stores without acting on them: what clients, test
/// suites and tools set (encoding thresholds, persistence, logging). Name and default.
const ACCEPTED: &[(&str, &str)] = &[
    ("appendonly", "no"),
    ("save", ""),
    ("appendfsync", "everysec"),
    ("databases", "1"),
    ("hz", "10"),
    ("loglevel", "notice"),
    ("dir", "/tmp"),
    ("dbfilename", "dump.rdb"),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("latency-monitor-threshold", "0"),
    ("maxmemory-samples", "5"),
    ("lfu-log-factor", "10"),
    ("lfu-decay-time", "1"),
    ("list-max-listpack-size", "-2"),
    ("list-max-ziplist-size", "-2"),
    ("list-compress-depth", "0"),
    ("hash-max-listpack-entries", "128"),
    ("hash-max-listpack-value", "64"),
    ("hash-max-ziplist-entries", "128"),
    ("hash-max-ziplist-value", "64"),
    ("set-max-intset-entries", "512"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
    ("zset-max-ziplist-entries", "128"),
    ("zset-max-ziplist-value", "64"),
    ("stream-node-max-bytes", "4096"),
    ("stream-node-max-entries", "100"),
    ("activerehashing", "yes"),
    ("activedefrag", "no"),
    ("lazyfree-lazy-eviction", "no"),
    ("lazyfree-lazy-expire", "no"),
    ("lazyfree-lazy-server-del", "no"),
    ("lazyfree-lazy-user-del", "no"),
    ("lazyfree-lazy-user-flush", "no"),
    ("busy-reply-threshold", "5000"),
    ("lua-time-limit", "5000"),
    ("tcp-keepalive", "300"),
    ("close-on-replica-write", "yes"),
    ("replica-read-only", "yes"),
    ("slave-read-only", "yes"),
    ("repl-diskless-sync", "yes"),
    ("cluster-allow-reads-when-down", "no"),
    ("cluster-allow-replica-migration", "yes"),
    ("cluster-preferred-endpoint-type", "ip"),
    ("min-replicas-to-write", "0"),
    ("min-replicas-max-lag", "10"),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    ("tracking-table-max-keys", "1000000"),
    ("enable-debug-command", "no"),
    ("enable-module-command", "no"),
    ("protected-mode", "no"),
];

/// A refusal: Redis's `ERR ...` ([`Error`]) or a reply with its own code (`WRONGPASS`,
/// `NOPROTO`, `READONLY`), full text.
pub(crate) enum Fail {
    Err(Error),
    Coded(String),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Err(e)
    }
}

type Res = Result<Reply, Fail>;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

impl Conn {
    fn emit_res(&self, out: &mut Vec<u8>, r: Res) {
        match r {
            Ok(reply) => self.emit(out, &Ok(reply), Nil::Bulk),
            Err(Fail::Err(e)) => self.emit(out, &Err(e), Nil::Bulk),
            Err(Fail::Coded(text)) => {
                self.count_error(&text);
                if !self.muted {
                    resp::push_error_text(out, text.as_bytes());
                }
            }
        }
    }

    /// Runs a connection or server command; None to hand it to the session (the store's
    /// own command table).
    pub(crate) fn admin(&mut self, name: &[u8], a: &[&[u8]], out: &mut Vec<u8>) -> Option<Step> {
        if name == b"cluster" {
            return self.cluster(a, out);
        }
        let r = self.admin_reply(name, a)?;
        self.emit_res(out, r);
        if std::mem::take(&mut self.close_after_reply) {
            return Some(Step::Close);
        }
        Some(Step::Done)
    }

    /// The reply of a server command queued in a transaction, run at `EXEC`: an error is
    /// that command's reply, as for any command inside `EXEC`.
    pub(crate) fn queued_admin(&mut self, a: &[&[u8]]) -> Reply {
        let name = a[0].to_ascii_lowercase();
        match self.admin_reply(&name, a) {
            Some(Ok(r)) => r,
            Some(Err(Fail::Err(e))) => Reply::Error(e),
            Some(Err(Fail::Coded(text))) => Reply::Error(Error::Command(text)),
            None => Reply::Error(Error::msg("Command not allowed inside a transaction")),
        }
    }

    /// A connection or server command's reply; None for the ones the session answers.
    fn admin_reply(&mut self, name: &[u8], a: &[&[u8]]) -> Option<Res> {
        let r: Res = match name {
            b"hello" => self.hello(a),
            b"auth" => self.auth(a),
            b"select" => match a.len() {
                2 => match std::str::from_utf8(a[1]).ok().and_then(|s| s.parse::<i64>().ok()) {
                    Some(0) => Ok(Reply::ok()),
                    Some(_) => Err(Error::msg("SELECT is not allowed in cluster mode").into()),
                    None => Err(Error::msg("invalid DB index").into()),
                },
                _ => Err(arity_err("select").into()),
            },
            b"client" => self.client_cmd(a),
            b"reset" if a.len() == 1 => {
                self.reset();
                Ok(status("RESET"))
            }
            b"reset" => Err(arity_err("reset").into()),
            b"time" if a.len() == 1 => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                Ok(Reply::Array(vec![
                    bulk_str(&now.as_secs().to_string()),
                    bulk_str(&now.subsec_micros().to_string()),
                ]))
            }
            b"time" => Err(arity_err("time").into()),
            b"lastsave" => {
                let started = SystemTime::now() - self.shared.started.elapsed();
                Ok(Reply::Int(started.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64))
            }
            b"command" => command(a).map_err(Fail::from),
            b"config" => self.config(a),
            b"slowlog" => self.slowlog(a),
            b"info" => {
                // This connection's counters since its batch began count too.
                self.publish();
                Ok(Reply::Verbatim(Bytes::from(self.info(a).into_bytes())))
            }
            b"randomkey" if a.len() == 1 => {
                Ok(self.shared.client.random_key_at(self.node).map_or(Reply::Nil, Reply::Bulk))
            }
            b"randomkey" => Err(arity_err("randomkey").into()),
            b"role" => Ok(self.role_reply()),
            b"function" | b"script" => {
                let cmd = String::from_utf8_lossy(name).to_ascii_uppercase();
                match a.get(1).map(|s| lower(s)) {
                    // Nothing to flush: slotstore runs no scripts.
                    Some(sub) if sub == "flush" && a.len() <= 3 => Ok(Reply::ok()),
                    Some(_) => Err(unknown_sub(&cmd, a[1]).into()),
                    None => Err(arity_err(&cmd.to_ascii_lowercase()).into()),
                }
            }
            // Replication is the cluster's own business: Redis Cluster refuses both.
            b"replicaof" | b"slaveof" if a.len() == 3 => {
                Err(Error::msg("REPLICAOF not allowed in cluster mode.").into())
            }
            b"replicaof" | b"slaveof" => Err(arity_err(&lower(name)).into()),
            b"failover" => Err(Error::msg(
                "FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.",
            )
            .into()),
            b"flushall" | b"flushdb" => match self.role() {
                Role::Replica { .. } => {
                    Err(Fail::Coded("READONLY You can't write against a read only replica.".into()))
                }
                Role::Primary => return None,
            },
            _ => return None,
        };
        Some(r)
    }

    /// This connection's node's role now.
    pub(crate) fn role(&self) -> Role {
        self.shared.client.topology().node(self.node).map_or(Role::Primary, |n| n.role)
    }

    fn reset(&mut self) {
        // Unsubscribes from everything (the subscriber leaves the hub when dropped), and
        // leaves MONITOR mode.
        self.pubsub = None;
        self.shared.unmonitor(self.entry.id);
        self.session = self.shared.client.at_node(self.node).session();
        self.queued.clear();
        self.server_queued.clear();
        self.queued_nil.clear();
        self.queued_names.clear();
        self.proto = 2;
        self.reply_mode = ReplyMode::On;
        self.authed = self.shared.params.lock().requirepass.is_none();
        let mut m = self.entry.meta.lock();
        m.name.clear();
        m.resp = 2;
        m.flags.clear();
    }

    fn password_ok(&self, user: &[u8], pass: &[u8]) -> bool {
        let required = self.shared.params.lock().requirepass.clone();
        user == b"default" && required.as_deref().map_or(true, |p| p.as_bytes() == pass)
    }

    /// `AUTH [user] password`.
    fn auth(&mut self, a: &[&[u8]]) -> Res {
        let (user, pass): (&[u8], &[u8]) = match a.len() {
            2 => (b"default", a[1]),
            3 => (a[1], a[2]),
            _ => return Err(arity_err("auth").into()),
        };
        if a.len() == 2 && self.shared.params.lock().requirepass.is_none() {
            return Err(Error::msg(
                "AUTH <password> called without any password configured for the default user. Are you \
                 sure your configuration is correct?",
            )
            .into());
        }
        if self.password_ok(user, pass) {
            self.authed = true;
            Ok(Reply::ok())
        } else {
            Err(Fail::Coded(WRONGPASS.into()))
        }
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
    fn hello(&mut self, a: &[&[u8]]) -> Res {
        let mut proto = self.proto;
        if a.len() >= 2 {
            proto = match std::str::from_utf8(a[1]).ok().and_then(|s| s.parse::<i64>().ok()) {
                Some(v @ 2..=3) => v as u8,
                Some(_) => return Err(Fail::Coded("NOPROTO unsupported protocol version".into())),
                None => {
                    return Err(Error::msg("Protocol version is not an integer or out of range").into())
                }
            };
        }
        let (mut auth, mut setname) = (None, None);
        let mut i = 2;
        while i < a.len() {
            let more = a.len() - i - 1;
            match lower(a[i]).as_str() {
                "auth" if more >= 2 => {
                    auth = Some((a[i + 1], a[i + 2]));
                    i += 3;
                }
                "setname" if more >= 1 => {
                    setname = Some(a[i + 1]);
                    i += 2;
                }
                _ => {
                    return Err(Error::Command(format!(
                        "Syntax error in HELLO option '{}'",
                        String::from_utf8_lossy(a[i])
                    ))
                    .into())
                }
            }
        }
        if let Some((user, pass)) = auth {
            if !self.password_ok(user, pass) {
                return Err(Fail::Coded(WRONGPASS.into()));
            }
            self.authed = true;
        }
        if !self.authed {
            return Err(Fail::Coded(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO \
                 <proto> AUTH <user> <pass> option can be used to authenticate the client and select the \
                 RESP protocol version at the same time"
                    .into(),
            ));
        }
        if let Some(name) = setname {
            check_name(name)?;
            self.entry.meta.lock().name = String::from_utf8_lossy(name).into_owned();
        }
        self.proto = proto;
        self.entry.meta.lock().resp = proto;
        let role = match self.role() {
            Role::Primary => "master",
            Role::Replica { .. } => "replica",
        };
        Ok(Reply::Map(vec![
            (bulk_str("server"), bulk_str("redis")),
            (bulk_str("version"), bulk_str(REDIS_VERSION)),
            (bulk_str("proto"), Reply::Int(i64::from(proto))),
            (bulk_str("id"), Reply::Int(self.entry.id as i64)),
            (bulk_str("mode"), bulk_str("cluster")),
            (bulk_str("role"), bulk_str(role)),
            (bulk_str("modules"), Reply::Array(vec![])),
        ]))
    }

    /// `ROLE`: `master offset [replicas]` or `slave ip port state offset`.
    fn role_reply(&self) -> Reply {
        let t = self.shared.client.topology();
        let offset = |id: NodeId| self.shared.cluster.replication_offset(id).unwrap_or(0) as i64;
        match self.role() {
            Role::Primary => Reply::Array(vec![
                bulk_str("master"),
                Reply::Int(offset(self.node)),
                Reply::Array(
                    t.replicas_of(self.node)
                        .into_iter()
                        .map(|r| {
                            let addr = t.addr(r);
                            Reply::Array(vec![
                                bulk_str(&addr.ip),
                                bulk_str(&addr.port.to_string()),
                                bulk_str(&offset(r).to_string()),
                            ])
                        })
                        .collect(),
                ),
            ]),
            Role::Replica { of } => {
                let addr = t.addr(of);
                Reply::Array(vec![
                    bulk_str("slave"),
                    bulk_str(&addr.ip),
                    Reply::Int(i64::from(addr.port)),
                    bulk_str("connected"),
                    Reply::Int(offset(self.node)),
                ])
            }
        }
    }

    /// One `CLIENT LIST` line. `running` is the asking connection's running command (its
    /// `argv-mem`), for its own line.
    fn client_line(&self, e: &super::ClientEntry, running: Option<&[&[u8]]>) -> String {
        let m = e.meta.lock();
        let idle = m.last_active.map_or(e.created.elapsed(), |t| t.elapsed()).as_secs();
        let flags = if m.flags.is_empty() { "N" } else { m.flags.as_str() };
        // During `EXEC`, the running command is `EXEC` (Redis's `argv-mem` then).
        let running = if self.exec_running.is_some() { Some(&[&b"exec"[..]][..]) } else { running };
        let argv_mem: usize =
            running.filter(|_| e.id == self.entry.id).map_or(0, |a| a.iter().map(|w| w.len()).sum());
        let (sub, psub, ssub) = m.subs;
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={idle} flags={flags} db=0 sub={sub} \
             psub={psub} ssub={ssub} multi={} qbuf={} qbuf-free={} argv-mem={argv_mem} multi-mem=0 \
             rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 \
             resp={} lib-name={} lib-ver={}",
            e.id,
            e.addr,
            e.laddr,
            m.name,
            e.created.elapsed().as_secs(),
            m.multi,
            m.qbuf,
            m.qbuf_free,
            if m.last_cmd.is_empty() { "NULL" } else { &m.last_cmd },
            m.resp,
            m.lib_name,
            m.lib_ver,
        )
    }

    /// `CLIENT ID|SETNAME|GETNAME|LIST|INFO|KILL|SETINFO|NO-EVICT|NO-TOUCH|REPLY`.
    fn client_cmd(&mut self, a: &[&[u8]]) -> Res {
        if a.len() < 2 {
            return Err(arity_err("client").into());
        }
        let sub = lower(a[1]);
        let arity =
            |ok: bool| if ok { Ok(()) } else { Err(Fail::Err(arity_err(&format!("client|{sub}")))) };
        match sub.as_str() {
            "id" => {
                arity(a.len() == 2)?;
                Ok(Reply::Int(self.entry.id as i64))
            }
            "setname" => {
                arity(a.len() == 3)?;
                check_name(a[2])?;
                self.entry.meta.lock().name = String::from_utf8_lossy(a[2]).into_owned();
                Ok(Reply::ok())
            }
            "getname" => {
                arity(a.len() == 2)?;
                let name = self.entry.meta.lock().name.clone();
                Ok(if name.is_empty() { Reply::Nil } else { bulk_str(&name) })
            }
            "info" => {
                arity(a.len() == 2)?;
                // This connection's line shows it as it is now, running this command.
                self.publish();
                Ok(Reply::Verbatim(Bytes::from(
                    format!("{}\n", self.client_line(&self.entry, Some(a))).into_bytes(),
                )))
            }
            "list" => {
                let mut ids: Option<Vec<u64>> = None;
                let mut kind = None;
                let mut i = 2;
                while i < a.len() {
                    match lower(a[i]).as_str() {
                        "type" if i + 1 < a.len() => {
                            kind = Some(client_type(&String::from_utf8_lossy(a[i + 1]))?);
                            i += 2;
                        }
                        "id" if i + 1 < a.len() => {
                            let mut list = Vec::new();
                            for w in &a[i + 1..] {
                                match std::str::from_utf8(w).ok().and_then(|s| s.parse::<u64>().ok()) {
                                    Some(id) if id > 0 => list.push(id),
                                    _ => return Err(Error::msg("Invalid client ID").into()),
                                }
                            }
                            ids = Some(list);
                            i = a.len();
                        }
                        _ => return Err(Error::syntax().into()),
                    }
                }
                self.publish();
                let mut entries: Vec<_> = self.shared.clients.lock().values().cloned().collect();
                entries.sort_by_key(|e| e.id);
                let mut text = String::new();
                for e in entries {
                    if ids.as_ref().map_or(true, |ids| ids.contains(&e.id))
                        && kind.map_or(true, |k| k == type_of(&e))
                    {
                        text.push_str(&self.client_line(&e, Some(a)));
                        text.push('\n');
                    }
                }
                Ok(Reply::Verbatim(Bytes::from(text.into_bytes())))
            }
            "kill" => self.client_kill(a),
            "unblock" => {
                arity(a.len() == 3 || a.len() == 4)?;
                let how = match a.get(3).map(|w| lower(w)) {
                    None => super::UNBLOCK_TIMEOUT,
                    Some(w) if w == "timeout" => super::UNBLOCK_TIMEOUT,
                    Some(w) if w == "error" => super::UNBLOCK_ERROR,
                    Some(_) => {
                        return Err(Error::msg("CLIENT UNBLOCK reason should be TIMEOUT or ERROR").into())
                    }
                };
                let id = crate::bytes::parse_i64(a[2]).ok_or_else(Error::not_integer)?;
                let target = self.shared.clients.lock().get(&(id as u64)).cloned();
                let unblock = target.and_then(|t| t.unblock.lock().clone());
                // Only a caller still waiting, and only once: a second UNBLOCK answers 0.
                let asked = unblock.is_some_and(|u| {
                    let first =
                        u.how.compare_exchange(0, how, Ordering::AcqRel, Ordering::Acquire).is_ok();
                    if first {
                        u.wake.notify_one();
                    }
                    first
                });
                Ok(Reply::Int(i64::from(asked)))
            }
            "setinfo" => {
                arity(a.len() == 4)?;
                let value = String::from_utf8_lossy(a[3]).into_owned();
                match lower(a[2]).as_str() {
                    "lib-name" | "lib-ver" if value.bytes().any(|c| c <= b' ' || c > b'~') => {
                        Err(Error::Command(format!(
                            "{} cannot contain spaces, newlines or special characters.",
                            String::from_utf8_lossy(a[2]).to_ascii_lowercase()
                        ))
                        .into())
                    }
                    "lib-name" => {
                        self.entry.meta.lock().lib_name = value;
                        Ok(Reply::ok())
                    }
                    "lib-ver" => {
                        self.entry.meta.lock().lib_ver = value;
                        Ok(Reply::ok())
                    }
                    _ => Err(Error::Command(format!(
                        "Unrecognized option '{}'",
                        String::from_utf8_lossy(a[2])
                    ))
                    .into()),
                }
            }
            "no-evict" | "no-touch" => {
                arity(a.len() == 3)?;
                match lower(a[2]).as_str() {
                    "on" | "off" => Ok(Reply::ok()),
                    _ => Err(Error::syntax().into()),
                }
            }
            "reply" => {
                arity(a.len() == 3)?;
                match lower(a[2]).as_str() {
                    "on" => {
                        self.reply_mode = ReplyMode::On;
                        self.muted = false;
                        Ok(Reply::ok())
                    }
                    "off" => {
                        self.reply_mode = ReplyMode::Off;
                        self.muted = true;
                        Ok(Reply::ok())
                    }
                    "skip" => {
                        // Skips the reply of the next command, not this one's (none).
                        self.reply_mode = ReplyMode::Skip;
                        self.muted = true;
                        Ok(Reply::ok())
                    }
                    _ => Err(Error::syntax().into()),
                }
            }
            "getredir" => Ok(Reply::Int(-1)),
            "pause" => {
                arity(a.len() == 3 || a.len() == 4)?;
                let all = match a.get(3).map(|w| lower(w)) {
                    None => true,
                    Some(m) if m == "all" => true,
                    Some(m) if m == "write" => false,
                    Some(_) => return Err(Error::msg("CLIENT PAUSE mode must be WRITE or ALL").into()),
                };
                let ms = crate::bytes::parse_i64(a[2])
                    .ok_or_else(|| Error::msg("timeout is not an integer or out of range"))?;
                if ms < 0 {
                    return Err(Error::msg("timeout is negative").into());
                }
                let until = std::time::Instant::now() + Duration::from_millis(ms as u64);
                self.shared.pause_clients(until, all);
                Ok(Reply::ok())
            }
            "unpause" => {
                arity(a.len() == 2)?;
                self.shared.unpause_clients();
                Ok(Reply::ok())
            }
            _ => Err(unknown_sub("CLIENT", a[1]).into()),
        }
    }

    /// `CLIENT KILL addr` (old form) or `CLIENT KILL filter value ...`.
    fn client_kill(&mut self, a: &[&[u8]]) -> Res {
        if a.len() < 3 {
            return Err(arity_err("client|kill").into());
        }
        let entries: Vec<_> = self.shared.clients.lock().values().cloned().collect();
        if a.len() == 3 {
            let addr = String::from_utf8_lossy(a[2]);
            return match entries.iter().find(|e| e.addr.to_string() == addr) {
                // The old form may name the asking connection itself.
                Some(e) if e.id == self.entry.id => {
                    self.close_after_reply = true;
                    Ok(Reply::ok())
                }
                Some(e) => {
                    e.kill.notify_one();
                    Ok(Reply::ok())
                }
                None => Err(Error::msg("No such client").into()),
            };
        }
        // Options in pairs, each checked as Redis checks it, in order; an option without
        // its value is a syntax error.
        let mut skipme = true;
        let mut filters: Vec<(String, String)> = Vec::new();
        for pair in a[2..].chunks(2) {
            let [k, v] = pair else { return Err(Error::syntax().into()) };
            let (k, v) = (lower(k), String::from_utf8_lossy(v).into_owned());
            match k.as_str() {
                "skipme" => match v.to_ascii_lowercase().as_str() {
                    "yes" => skipme = true,
                    "no" => skipme = false,
                    _ => return Err(Error::syntax().into()),
                },
                "id" => {
                    if v.parse::<i64>().ok().filter(|id| *id > 0).is_none() {
                        return Err(Error::msg("client-id should be greater than 0").into());
                    }
                    filters.push((k, v));
                }
                "type" => {
                    client_type(&v)?;
                    filters.push((k, v));
                }
                "user" if v != "default" => {
                    return Err(Error::Command(format!("No such user '{v}'")).into());
                }
                "addr" | "laddr" | "user" | "maxage" => filters.push((k, v)),
                _ => return Err(Error::syntax().into()),
            }
        }
        let mut killed = 0;
        for e in entries {
            if skipme && e.id == self.entry.id {
                continue;
            }
            let matches = filters.iter().all(|(k, v)| match k.as_str() {
                "id" => e.id.to_string() == *v,
                "addr" => e.addr.to_string() == *v,
                "laddr" => e.laddr.to_string() == *v,
                "user" => v == "default",
                "type" => client_type(v).is_ok_and(|t| t == type_of(&e)),
                "maxage" => v.parse::<u64>().is_ok_and(|age| e.created.elapsed().as_secs() >= age),
                _ => false,
            });
            if matches && e.id == self.entry.id {
                self.close_after_reply = true;
                killed += 1;
            } else if matches {
                e.kill.notify_one();
                killed += 1;
            }
        }
        Ok(Reply::Int(killed))
    }

    /// `SLOWLOG GET [count] | LEN | RESET`, of this node.
    fn slowlog(&mut self, a: &[&[u8]]) -> Res {
        if a.len() < 2 {
            return Err(arity_err("slowlog").into());
        }
        let sub = lower(a[1]);
        let arity = |n: usize| {
            if a.len() == n {
                Ok(())
            } else {
                Err(Fail::Err(arity_err(&format!("slowlog|{sub}"))))
            }
        };
        match sub.as_str() {
            "len" => arity(2)
                .map(|()| Reply::Int(self.shared.counters(self.node, |c| c.slowlog.len()) as i64)),
            "reset" => arity(2).map(|()| {
                self.shared.counters(self.node, |c| c.slowlog.reset());
                Reply::ok()
            }),
            "get" if a.len() <= 3 => {
                let count = match a.get(2) {
                    None => Some(10),
                    Some(n) => match crate::bytes::parse_i64(n) {
                        Some(-1) => None,
                        Some(n) if n >= 0 => Some(n as usize),
                        _ => {
                            return Err(Error::msg("count should be greater than or equal to -1").into())
                        }
                    },
                };
                Ok(self.shared.counters(self.node, |c| c.slowlog.get(count)))
            }
            _ => Err(Error::Command(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                String::from_utf8_lossy(a[1])
            ))
            .into()),
        }
    }

    /// `CONFIG GET|SET|RESETSTAT|REWRITE`.
    fn config(&mut self, a: &[&[u8]]) -> Res {
        if a.len() < 2 {
            return Err(arity_err("config").into());
        }
        let sub = lower(a[1]);
        match sub.as_str() {
            "get" => {
                if a.len() < 3 {
                    return Err(arity_err("config|get").into());
                }
                let params = self.config_params();
                let mut pairs = Vec::new();
                for (name, value) in &params {
                    let wanted = a[2..].iter().any(|p| {
                        crate::glob::Glob::new(&p.to_ascii_lowercase()).matches(name.as_bytes())
                    });
                    if wanted {
                        pairs.push((bulk_str(name), bulk_str(value)));
                    }
                }
                Ok(Reply::Map(pairs))
            }
            "set" => {
                if a.len() < 4 || a.len() % 2 != 0 {
                    return Err(arity_err("config|set").into());
                }
                self.config_set(&a[2..])
            }
            "resetstat" => {
                self.shared.client.command(&["CONFIG", "RESETSTAT"])?;
                // This node's counters, as a Redis Cluster node resets its own (the slow
                // log stays, as in Redis).
                self.shared.counters(self.node, |c| {
                    c.commands_closed = 0;
                    c.errors.clear();
                    c.commands.clear();
                });
                self.stats.clear();
                for c in self.shared.clients.lock().values().filter(|c| c.node == self.node) {
                    c.commands.store(0, Ordering::Relaxed);
                }
                Ok(Reply::ok())
            }
            "rewrite" => Err(Error::msg("The server is running without a config file").into()),
            _ => Err(unknown_sub("CONFIG", a[1]).into()),
        }
    }

    /// Every parameter `CONFIG GET` knows, with its value now.
    fn config_params(&self) -> Vec<(String, String)> {
        let stats = self.shared.client.command(&["CONFIG", "GET", "*"]).ok();
        let mut out: Vec<(String, String)> = Vec::new();
        if let Some(Reply::Array(items)) = stats {
            for pair in items.chunks(2) {
                if let [Reply::Bulk(k), Reply::Bulk(v)] = pair {
                    out.push((String::from_utf8_lossy(k).into(), String::from_utf8_lossy(v).into()));
                }
            }
        }
        let p = self.shared.params.lock();
        let addr = self.shared.addr_of(self.node);
        let local = self.shared.port_of(self.node);
        out.extend([
            ("requirepass".into(), p.requirepass.clone().unwrap_or_default()),
            ("maxclients".into(), p.maxclients.to_string()),
            ("timeout".into(), p.timeout.as_secs().to_string()),
            ("proto-max-bulk-len".into(), p.proto_max_bulk_len.to_string()),
            ("client-query-buffer-limit".into(), p.client_query_buffer_limit.to_string()),
            ("port".into(), local.map_or(addr.port, |l| l.port()).to_string()),
            ("bind".into(), local.map(|l| l.ip().to_string()).unwrap_or_default()),
            ("cluster-enabled".into(), "yes".into()),
            ("cluster-announce-ip".into(), addr.ip.clone()),
            ("cluster-announce-hostname".into(), addr.hostname.clone().unwrap_or_default()),
            ("cluster-announce-port".into(), addr.port.to_string()),
            ("cluster-require-full-coverage".into(), "yes".into()),
        ]);
        for (name, default) in ACCEPTED {
            let v = p.other.get(*name).cloned().unwrap_or_else(|| (*default).to_string());
            out.push(((*name).to_string(), v));
        }
        out
    }

    /// `CONFIG SET name value [name value ...]`: all checked before any applies.
    fn config_set(&mut self, pairs: &[&[u8]]) -> Res {
        let fail = |name: &str, why: &str| {
            Fail::Err(Error::Command(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - {why}"
            )))
        };
        let mut store = Vec::new();
        let mut memory: Vec<&[u8]> = vec![b"CONFIG", b"SET"];
        let mut p = self.shared.params.lock();
        let (mut pass, mut maxclients, mut timeout, mut bulk, mut qbuf) = (
            p.requirepass.clone(),
            p.maxclients,
            p.timeout,
            p.proto_max_bulk_len,
            p.client_query_buffer_limit,
        );
        for pair in pairs.chunks(2) {
            let name = lower(pair[0]);
            let value = String::from_utf8_lossy(pair[1]).into_owned();
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| fail(&name, "argument couldn't be parsed into an integer"))
            };
            let mem =
                || parse_memory(&value).ok_or_else(|| fail(&name, "argument must be a memory value"));
            match name.as_str() {
                "maxmemory" | "maxmemory-policy" | "notify-keyspace-events" => {
                    memory.extend([pair[0], pair[1]])
                }
                "requirepass" => pass = (!value.is_empty()).then_some(value),
                "maxclients" => maxclients = number()? as usize,
                "timeout" => timeout = Duration::from_secs(number()?),
                "proto-max-bulk-len" => bulk = mem()?,
                "client-query-buffer-limit" => qbuf = mem()?,
                // Read by every connection (see `HotLimits`): checked here.
                "slowlog-log-slower-than" | "slowlog-max-len" => {
                    let n = value
                        .parse::<i64>()
                        .map_err(|_| fail(&name, "argument couldn't be parsed into an integer"))?;
                    let min = if name == "slowlog-max-len" { 0 } else { -1 };
                    if n < min {
                        let why = format!("argument must be between {min} and {} inclusive", i64::MAX);
                        return Err(fail(&name, &why));
                    }
                    store.push((name, value))
                }
                _ if ACCEPTED.iter().any(|(n, _)| *n == name) => store.push((name, value)),
                _ => {
                    return Err(Error::Command(format!(
                        "Unknown option or number of arguments for CONFIG SET - '{}'",
                        String::from_utf8_lossy(pair[0])
                    ))
                    .into())
                }
            }
        }
        if memory.len() > 2 {
            self.shared.client.command(&memory)?;
        }
        p.requirepass = pass;
        p.maxclients = maxclients;
        p.timeout = timeout;
        p.proto_max_bulk_len = bulk;
        p.client_query_buffer_limit = qbuf;
        p.other.extend(store);
        self.shared.publish_limits(&p);
        Ok(Reply::ok())
    }

    /// `INFO [section ...]`, for this node.
    fn info(&self, a: &[&[u8]]) -> String {
        let wanted: Vec<String> = a[1..].iter().map(|s| lower(s)).collect();
        let all = wanted.is_empty()
            || wanted.iter().any(|w| matches!(w.as_str(), "all" | "everything" | "default"));
        let show = |name: &str| all || wanted.iter().any(|w| w == name);
        let shared = &self.shared;
        let client = &shared.client;
        let stats = client.node_stats(self.node).unwrap_or_default();
        let t = client.topology();
        let local = shared.port_of(self.node).map_or(0, |l| l.port());
        let mut out = String::new();
        let uptime = shared.started.elapsed().as_secs();
        if show("server") {
            let _ = write!(
                out,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n\
                 redis_build_id:0\r\nredis_mode:cluster\r\nos:{}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\n\
                 process_id:{}\r\nrun_id:{}\r\ntcp_port:{local}\r\nuptime_in_seconds:{uptime}\r\n\
                 uptime_in_days:{}\r\nhz:10\r\nexecutable:slotstore-server\r\nconfig_file:\r\n\
                 slotstore_version:{}\r\n\r\n",
                std::env::consts::OS,
                usize::BITS,
                std::process::id(),
                self.node,
                uptime / 86400,
                env!("CARGO_PKG_VERSION"),
            );
        }
        if show("clients") {
            let p = shared.params.lock();
            let _ = write!(
                out,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
                 client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n\
                 blocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n\r\n",
                shared.clients.lock().values().filter(|c| c.node == self.node).count(),
                p.maxclients,
                shared.counters(self.node, |c| c.blocked),
            );
        }
        if show("memory") {
            let limits = client.command(&["CONFIG", "GET", "maxmemory", "maxmemory-policy"]).ok();
            let (mut limit, mut policy) = (String::from("0"), String::from("noeviction"));
            if let Some(Reply::Array(items)) = limits {
                for pair in items.chunks(2) {
                    if let [Reply::Bulk(k), Reply::Bulk(v)] = pair {
                        let v = String::from_utf8_lossy(v).into_owned();
                        match &k[..] {
                            b"maxmemory" => limit = v,
                            _ => policy = v,
                        }
                    }
                }
            }
            let _ = write!(
                out,
                "# Memory\r\nused_memory:{0}\r\nused_memory_human:{1}\r\nused_memory_peak:{0}\r\n\
                 used_memory_peak_human:{1}\r\nmaxmemory:{limit}\r\nmaxmemory_policy:{policy}\r\n\
                 mem_allocator:libc\r\n\r\n",
                stats.memory,
                human(stats.memory),
            );
        }
        if show("persistence") {
            out.push_str(
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\n\
                 rdb_bgsave_in_progress:0\r\nrdb_last_bgsave_status:ok\r\naof_enabled:0\r\n\
                 aof_rewrite_in_progress:0\r\n\r\n",
            );
        }
        if show("stats") {
            let pubsub = client.pubsub_stats();
            let _ = write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:0\r\nrejected_connections:{}\r\nexpired_keys:{}\r\n\
                 evicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\n\
                 pubsub_patterns:{}\r\npubsubshard_channels:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\n\r\n",
                shared.total_connections.load(Ordering::Relaxed),
                shared.commands(self.node),
                shared.rejected_connections.load(Ordering::Relaxed),
                stats.expired,
                stats.evictions,
                stats.hits,
                stats.misses,
                pubsub.channels,
                pubsub.patterns,
                pubsub.shard_channels,
                shared.counters(self.node, |c| c.errors.values().sum::<u64>()),
            );
        }
        if show("replication") {
            let offset = |id: NodeId| shared.cluster.replication_offset(id).unwrap_or(0);
            match self.role() {
                Role::Primary => {
                    let replicas = t.replicas_of(self.node);
                    let _ = write!(
                        out,
                        "# Replication\r\nrole:master\r\nconnected_slaves:{}\r\n",
                        replicas.len()
                    );
                    for (i, r) in replicas.iter().enumerate() {
                        let addr = t.addr(*r);
                        let _ = write!(
                            out,
                            "slave{i}:ip={},port={},state=online,offset={},lag=0\r\n",
                            addr.ip,
                            addr.port,
                            offset(*r)
                        );
                    }
                    let _ = write!(
                        out,
                        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_repl_offset:{}\r\n\r\n",
                        self.node,
                        offset(self.node)
                    );
                }
                Role::Replica { of } => {
                    let addr = t.addr(of);
                    let _ = write!(
                        out,
                        "# Replication\r\nrole:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\n\
                         master_link_status:up\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\n\
                         slave_read_repl_offset:{2}\r\nslave_repl_offset:{2}\r\nslave_priority:100\r\n\
                         slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n\
                         master_failover_state:no-failover\r\nmaster_replid:{of}\r\nmaster_repl_offset:{2}\r\n\r\n",
                        addr.ip,
                        addr.port,
                        offset(self.node)
                    );
                }
            }
        }
        if show("cpu") {
            super::stats::write_cpu(&mut out);
        }
        // Not in the default set, as in Redis: with `INFO all`, `everything` or by name.
        if wanted.iter().any(|w| matches!(w.as_str(), "all" | "everything" | "commandstats")) {
            shared.counters(self.node, |c| super::stats::write_commandstats(&mut out, &c.commands));
        }
        if show("errorstats") {
            out.push_str("# Errorstats\r\n");
            shared.counters(self.node, |c| {
                for (code, n) in &c.errors {
                    let _ = write!(out, "errorstat_{code}:count={n}\r\n");
                }
            });
            out.push_str("\r\n");
        }
        if show("cluster") {
            out.push_str("# Cluster\r\ncluster_enabled:1\r\n\r\n");
        }
        if show("keyspace") {
            out.push_str("# Keyspace\r\n");
            if stats.keys > 0 {
                let _ = write!(out, "db0:keys={},expires=0,avg_ttl=0\r\n", stats.keys);
            }
        }
        while out.ends_with("\r\n\r\n") {
            out.truncate(out.len() - 2);
        }
        out
    }

    /// The `CLUSTER` subcommands that depend on the node asked; None for the others (the
    /// session answers them on a client pinned to this node).
    fn cluster(&mut self, a: &[&[u8]], out: &mut Vec<u8>) -> Option<Step> {
        let sub = a.get(1).map(|s| lower(s))?;
        let t = self.shared.client.topology();
        let arity = |n: usize| {
            if a.len() == n {
                Ok(())
            } else {
                Err(Fail::Err(arity_err(&format!("cluster|{sub}"))))
            }
        };
        let r: Res = match sub.as_str() {
            "myid" => arity(2).map(|()| bulk_str(&self.node.to_string())),
            "replicas" | "slaves" => arity(3).and_then(|()| {
                let id =
                    t.nodes().iter().find(|n| n.id.to_string().as_bytes() == a[2]).ok_or_else(|| {
                        Fail::Err(Error::Command(format!(
                            "Unknown node {}",
                            String::from_utf8_lossy(a[2])
                        )))
                    })?;
                if id.role != Role::Primary {
                    return Err(Error::msg("The specified node is not a master").into());
                }
                let lines = self.shared.client.command(&["CLUSTER", "NODES"])?;
                let text = String::from_utf8_lossy(lines.as_bytes().unwrap_or_default()).into_owned();
                let of = id.id.to_string();
                Ok(Reply::Array(
                    text.lines()
                        .filter(|l| l.split(' ').nth(3) == Some(of.as_str()))
                        .map(|l| bulk_str(&format!("{l}\n")))
                        .collect(),
                ))
            }),
            "links" => arity(2).map(|()| {
                let mut links = Vec::new();
                for n in t.nodes().iter().filter(|n| n.id != self.node && !n.failed) {
                    for dir in ["to", "from"] {
                        links.push(Reply::Map(vec![
                            (bulk_str("direction"), bulk_str(dir)),
                            (bulk_str("node"), bulk_str(&n.id.to_string())),
                            (bulk_str("create-time"), Reply::Int(0)),
                            (bulk_str("events"), bulk_str(if dir == "to" { "rw" } else { "r" })),
                            (bulk_str("send-buffer-allocated"), Reply::Int(0)),
                            (bulk_str("send-buffer-used"), Reply::Int(0)),
                        ]));
                    }
                }
                Reply::Array(links)
            }),
            "failover" => {
                let mode = match a.get(2).map(|m| lower(m)).as_deref() {
                    None => FailoverMode::Default,
                    Some("force") if a.len() == 3 => FailoverMode::Force,
                    Some("takeover") if a.len() == 3 => FailoverMode::Takeover,
                    _ => {
                        self.emit(out, &Err(Error::syntax()), Nil::Bulk);
                        return Some(Step::Done);
                    }
                };
                if self.role() == Role::Primary {
                    Err(Error::msg("You should send CLUSTER FAILOVER to a replica").into())
                } else {
                    // A failover waits for the replica to catch up: off the runtime's threads.
                    let client = self.shared.client.clone();
                    let node = self.node;
                    return Some(Step::Wait(
                        Box::pin(async move {
                            tokio::task::spawn_blocking(move || client.failover_at(node, mode))
                                .await
                                .unwrap_or_else(|_| Err(Error::msg("failover failed")))
                                .map(|()| Reply::ok())
                        }),
                        Nil::Bulk,
                    ));
                }
            }
            "count-failure-reports" => arity(3).map(|()| Reply::Int(0)),
            "saveconfig" => arity(2).map(|()| Reply::ok()),
            "myshardid" => arity(2).map(|()| {
                let shard = t.node(self.node).map_or(0, |n| n.shard);
                bulk_str(&format!("{:040x}", shard + 1))
            }),
            "info" | "nodes" => {
                let r = self.session.command(a);
                r.map(|reply| match reply {
                    Reply::Bulk(b) => Reply::Verbatim(b),
                    other => other,
                })
                .map_err(Fail::from)
            }
            _ => return None,
        };
        self.emit_res(out, r);
        Some(Step::Done)
    }
}

fn human(bytes: usize) -> String {
    let b = bytes as f64;
    match bytes {
        0..=1023 => format!("{bytes}B"),
        1024..=1_048_575 => format!("{:.2}K", b / 1024.0),
        1_048_576..=1_073_741_823 => format!("{:.2}M", b / 1_048_576.0),
        _ => format!("{:.2}G", b / 1_073_741_824.0),
    }
}

/// A client name: no spaces, newlines or other special characters.
fn check_name(name: &[u8]) -> Result<(), Fail> {
    if name.iter().any(|c| !(b'!'..=b'~').contains(c)) {
        return Err(
            Error::msg("Client names cannot contain spaces, newlines or special characters.").into()
        );
    }
    Ok(())
}

/// One `COMMAND` entry: name, arity, flags, first key, last key, step, ACL categories, tips,
/// key specs, subcommands.
fn entry(name: &str, arity: i32, flags: &[&str], keys: (usize, isize, usize)) -> Reply {
    let category = if flags.contains(&"write") {
        "@write"
    } else if flags.contains(&"readonly") {
        "@read"
    } else {
        "@connection"
    };
    Reply::Array(vec![
        bulk_str(name),
        Reply::Int(i64::from(arity)),
        Reply::Set(flags.iter().map(|f| status(f)).collect()),
        Reply::Int(keys.0 as i64),
        Reply::Int(keys.1 as i64),
        Reply::Int(keys.2 as i64),
        Reply::Set(vec![status(category)]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

/// Every command `COMMAND` lists: the store's table, then the server's own.
fn all_entries() -> Vec<(String, Reply)> {
    let mut out: Vec<(String, Reply)> = command_docs()
        .into_iter()
        .map(|d| {
            // Movable keys: Redis reports the first key it can, slotstore reports none and
            // `movablekeys`, so clients ask `COMMAND GETKEYS`.
            let keys = d.keys.unwrap_or((0, 0, 0));
            (d.name.to_string(), entry(d.name, d.arity, &d.flags, keys))
        })
        .collect();
    for (name, arity, flags) in SERVER_COMMANDS {
        if !out.iter().any(|(n, _)| n == name) {
            out.push(((*name).to_string(), entry(name, *arity, flags, (0, 0, 0))));
        }
    }
    out
}

/// `COMMAND [COUNT | INFO name... | DOCS name... | LIST | GETKEYS command args...]`.
fn command(a: &[&[u8]]) -> Result<Reply, Error> {
    let entries = all_entries();
    let Some(sub) = a.get(1).map(|s| lower(s)) else {
        return Ok(Reply::Array(entries.into_iter().map(|(_, e)| e).collect()));
    };
    let find = |name: &[u8]| {
        let name = lower(name);
        entries.iter().find(|(n, _)| *n == name).map(|(_, e)| e.clone())
    };
    match sub.as_str() {
        "count" if a.len() == 2 => Ok(Reply::Int(entries.len() as i64)),
        "list" => Ok(Reply::Array(entries.iter().map(|(n, _)| bulk_str(n)).collect())),
        "info" if a.len() == 2 => Ok(Reply::Array(entries.into_iter().map(|(_, e)| e).collect())),
        "info" => Ok(Reply::Array(a[2..].iter().map(|n| find(n).unwrap_or(Reply::Nil)).collect())),
        "docs" => {
            let names: Vec<String> = if a.len() == 2 {
                entries.iter().map(|(n, _)| n.clone()).collect()
            } else {
                a[2..].iter().map(|n| lower(n)).filter(|n| entries.iter().any(|(e, _)| e == n)).collect()
            };
            Ok(Reply::Map(
                names
                    .into_iter()
                    .map(|n| {
                        let doc = Reply::Map(vec![
                            (bulk_str("summary"), bulk_str("")),
                            (bulk_str("since"), bulk_str("1.0.0")),
                            (bulk_str("group"), bulk_str("generic")),
                        ]);
                        (bulk_str(&n), doc)
                    })
                    .collect(),
            ))
        }
        "getkeys" if a.len() >= 3 => {
            Ok(Reply::Array(command_keys(&a[2..])?.into_iter().map(Reply::bulk).collect()))
        }
        "count" | "getkeys" => Err(arity_err(&format!("command|{sub}"))),
        _ => Err(unknown_sub("COMMAND", a[1])),
    }
}

/// The kinds of client `CLIENT LIST TYPE` and `CLIENT KILL TYPE` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    /// A replica's or primary's replication link: slotstore's replication runs in process,
    /// so no connection is one.
    Link,
    PubSub,
}

/// A client type by Redis's name.
fn client_type(name: &str) -> Result<ClientType, Fail> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Ok(ClientType::Normal),
        "master" | "replica" | "slave" => Ok(ClientType::Link),
        "pubsub" => Ok(ClientType::PubSub),
        _ => Err(Error::Command(format!("Unknown client type '{name}'")).into()),
    }
}

/// The type of the client `e` is: subscribed connections are `pubsub`.
fn type_of(e: &super::ClientEntry) -> ClientType {
    if e.meta.lock().flags.contains('P') {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}
