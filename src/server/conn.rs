//! One connection: read, parse, run in place, write; and the state Redis keeps per client.
//!
//! The loop reads what the socket has, runs every complete request in it (pipelining), and
//! writes the replies in one go before it reads again. A client that does not read its
//! replies therefore stops being read (backpressure): its memory stays at one read buffer
//! and at most [`OUT_FLUSH`] of pending replies, where Redis 7.0 lets the output grow.
//!
//! Pub/sub messages reach a connection through its subscriber's outbox (`server::pubsub`),
//! `MONITOR` lines through its push channel (`Conn::push_tx`); the loop writes both between
//! requests.

use super::resp::{self, Args, Frame, Limits, Nil, Parser};
use super::stats::{full_name, write_full_name, CommandStats, Outcome};
use super::{ClientEntry, ClientMeta, Shared, Unblock, UNBLOCK_ERROR};
use crate::client::{is_blocking_command, BlockStart, Client, Session};
use crate::error::Error;
use crate::ids::NodeId;
use crate::reply::Reply;
use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Server commands a transaction queues and runs at `EXEC` (Redis queues them too).
const QUEUED_HERE: &[&[u8]] = &[
    b"client",
    b"info",
    b"time",
    b"config",
    b"command",
    b"lastsave",
    b"role",
    b"randomkey",
    b"select",
    b"slowlog",
];

/// Pending replies past this size are written before more requests run.
pub(crate) const OUT_FLUSH: usize = 64 * 1024;

/// Pipelined requests of one kind (see [`Batched`]) served as one batch at most: as many keys
/// as the CPU overlaps well (see `node/batch.rs`).
const BATCH: usize = 32;

/// A request a run of pipelined ones is batched for: `GET key`, `SET key value`, or another
/// single-key write (`INCR k`, `HSET k f v`, ...: one command per run, by its index in the
/// command table and its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batched {
    Get,
    Set,
    Write { id: usize, name: &'static str },
}

impl Batched {
    fn name(self) -> &'static str {
        match self {
            Batched::Get => "get",
            Batched::Set => "set",
            Batched::Write { name, .. } => name,
        }
    }
}

/// `MONITOR` lines waiting to be written to a monitor at most: one that reads slower than
/// the server runs commands is closed past this, as Redis closes a monitor past its output
/// buffer limit, instead of growing without bound.
pub(crate) const MONITOR_LINES: usize = 100_000;

/// The smallest read.
const READ_CHUNK: usize = 16 * 1024;

/// The largest single reservation for a big bulk string (it is read in pieces of this).
const READ_MAX: usize = 4 << 20;

/// A reply that is not ready yet (a blocking pop, `WAIT`, a manual failover).
pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<Reply, Error>> + Send>>;

/// What running one request asks of the loop.
pub(crate) enum Step {
    /// The reply, if any, is in the output buffer.
    Done,
    /// Write the output, then close (`QUIT`, a protocol error).
    Close,
    /// Write the output, wait for this reply, then go on, its nils written as the `Nil` says.
    Wait(Pending, Nil),
}

/// A command this connection is blocked in: its statistics name, words, and the time it
/// ran before it blocked.
struct BlockedCall {
    name: String,
    words: Vec<Vec<u8>>,
    usec: u64,
}

/// `CLIENT REPLY` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyMode {
    On,
    Off,
    /// Skip the next command's reply.
    Skip,
}

/// The per-connection state Redis keeps.
pub(crate) struct Conn {
    pub(crate) shared: Arc<Shared>,
    pub(crate) entry: Arc<ClientEntry>,
    /// The node this connection talks to.
    pub(crate) node: NodeId,
    /// `MULTI`/`WATCH`/`ASKING`/`READONLY`, on a client pinned to `node`.
    pub(crate) session: Session,
    /// RESP version: 2 or 3 (`HELLO`).
    pub(crate) proto: u8,
    pub(crate) authed: bool,
    pub(crate) reply_mode: ReplyMode,
    /// Replies of this command are dropped (`CLIENT REPLY OFF|SKIP`).
    pub(crate) muted: bool,
    /// This command's reply is the one `CLIENT REPLY SKIP` skips.
    skipped: bool,
    /// One entry per command queued since `MULTI`: its words under RESP3 (to shape
    /// `EXEC`'s replies), else empty.
    pub(crate) queued: Vec<Vec<Vec<u8>>>,
    /// Server commands queued since `MULTI` (their place in the transaction, their words),
    /// run at `EXEC`.
    pub(crate) server_queued: Vec<(usize, Vec<Vec<u8>>)>,
    /// How each of the session's commands queued since `MULTI` writes a nil (`EXEC` writes
    /// each reply as its command would).
    pub(crate) queued_nil: Vec<Nil>,
    pub(crate) parser: Parser,
    /// Where `MONITOR` lines for this connection are sent: at most [`MONITOR_LINES`]
    /// waiting, past which the monitor is closed (see `Shared::feed_monitors`).
    push_tx: mpsc::Sender<Reply>,
    /// Commands run since the last [`Conn::publish`].
    commands: u64,
    /// The last command's lowercase name.
    last_cmd: Vec<u8>,
    /// `INFO commandstats` counters since the last [`Conn::publish`].
    pub(crate) stats: CommandStats,
    /// How the running command's error reply counts, if it answered one (set where error
    /// replies are counted, [`Conn::count_errors`]).
    reply_error: Cell<Option<Outcome>>,
    /// The running command was queued by `MULTI`: `EXEC` counts it.
    queued_now: bool,
    /// Bytes read and not yet run, the running command's included, and the read buffer's
    /// room (`CLIENT LIST`'s `qbuf`, `qbuf-free`), as of the running command.
    pub(crate) qbuf: (usize, usize),
    /// The running command's statistics name (reused: no allocation per command).
    stat_name: String,
    /// When the running command began: when the previous one ended, or when this batch of
    /// requests (or the wait before it) did. One clock read per command, not two: the
    /// second showed in the server's profile (5% of its time in `clock_gettime`). A
    /// command's time thus includes parsing it, which Redis's does not.
    pub(crate) started: Instant,
    /// `CLIENT KILL` named this connection: it closes once its reply is written (a kill
    /// notified to itself could close it first).
    pub(crate) close_after_reply: bool,
    /// While `EXEC` runs the server commands it queued: how many commands it holds (the
    /// connection still shows as in `MULTI`, as Redis shows it during `EXEC`).
    pub(crate) exec_running: Option<usize>,
    /// The statistics names of the commands queued since `MULTI`, in order.
    pub(crate) queued_names: Vec<Option<String>>,
    /// The statistics name of the command this connection is blocked in.
    blocked: Option<BlockedCall>,
    /// Subscriptions, from the first `(P|S)SUBSCRIBE` on (see `server::pubsub`).
    pub(crate) pubsub: Option<super::pubsub::PubSub>,
    /// The command the last request named, as the client spelled it (up to 16 bytes) and
    /// the table's entry for it: [`Conn::batchable`] asks of every request, and a pipeline
    /// names one command again and again.
    last_spec: ([u8; 16], usize, Option<(usize, &'static crate::command::Spec)>),
}

impl Conn {
    /// The command table's entry for `name`, remembered for the next request.
    fn spec_of(&mut self, name: &[u8]) -> Option<(usize, &'static crate::command::Spec)> {
        let (buf, len, spec) = &mut self.last_spec;
        if *len == name.len() && buf.get(..name.len()) == Some(name) {
            return *spec;
        }
        *spec = crate::command::lookup_id(name);
        match buf.get_mut(..name.len()) {
            Some(b) => {
                b.copy_from_slice(name);
                *len = name.len();
            }
            None => *len = usize::MAX,
        }
        *spec
    }

    pub(crate) fn limits(&self) -> Limits {
        let max_bulk = self.shared.hot.proto_max_bulk_len.load(Ordering::Relaxed);
        Limits { max_bulk, authed: self.authed }
    }

    /// Appends `r` as this connection's protocol encodes it, unless replies are muted.
    /// Counts an error reply under its code (the first word of its text), as Redis's
    /// `INFO errorstats` does, whether or not the client reads replies.
    pub(crate) fn count_error(&self, text: &str) {
        let code = text.split(' ').next().unwrap_or_default();
        self.shared.counters(self.node, |c| *c.errors.entry(code.to_string()).or_insert(0) += 1);
    }

    /// Counts the error replies in `r`: itself, or those among `EXEC`'s replies.
    fn count_errors(&self, r: &Result<Reply, Error>) {
        match r {
            Err(e) => {
                let text = e.to_string();
                self.note_error_reply(&text);
                self.count_error(&text);
            }
            Ok(Reply::Array(items)) => self.count_nested_errors(items),
            Ok(_) => {}
        }
    }

    /// Remembers how the running command's error reply `text` counts in its statistics.
    pub(crate) fn note_error_reply(&self, text: &str) {
        self.reply_error.set(Some(Outcome::of_error(text)));
    }

    /// Counts the errors among a transaction's replies.
    fn count_nested_errors(&self, items: &[Reply]) {
        for item in items {
            if let Reply::Error(e) = item {
                self.count_error(&e.to_string());
            }
        }
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>, r: &Result<Reply, Error>, nil: Nil) {
        self.count_errors(r);
        // Pub/sub frames (messages and (un)subscribe confirmations, pushes in both protocols)
        // reach a client that turned replies off, as Redis sends them past `CLIENT REPLY`.
        if self.muted && !matches!(r, Ok(Reply::Push(_))) {
            return;
        }
        let addr = |id: NodeId| self.shared.addr_of(id);
        match r {
            Ok(reply) => resp::encode(out, reply, self.proto, nil, &addr),
            Err(e) => resp::push_error(out, e, &addr),
        }
    }

    /// Runs one request (`args` not empty), appending its reply to `out`.
    fn execute(&mut self, args: &[&[u8]], out: &mut Vec<u8>) -> Step {
        self.muted = self.reply_mode != ReplyMode::On;
        self.skipped = self.reply_mode == ReplyMode::Skip;
        if self.skipped {
            self.reply_mode = ReplyMode::On;
        }
        let mut name = [0u8; 24];
        let lower = match name.get_mut(..args[0].len()) {
            Some(n) => {
                n.copy_from_slice(args[0]);
                n.make_ascii_lowercase();
                &*n
            }
            None => &b"\xff"[..],
        };
        // `CLIENT LIST`'s `cmd`: the full name (`client|list`), as Redis shows it.
        let named = write_full_name(&mut self.stat_name, lower, args);
        let shown = if named { self.stat_name.as_bytes() } else { lower };
        if self.last_cmd != shown {
            self.last_cmd.clear();
            self.last_cmd.extend_from_slice(shown);
        }
        self.reply_error.set(None);
        self.queued_now = false;
        let step = self.dispatch(lower, args, out);
        // Counted once run, as Redis counts it: `INFO` does not count itself.
        self.commands += 1;
        let usec = self.lap();
        if named {
            let outcome = match self.reply_error.get() {
                _ if self.queued_now => Outcome::Uncounted,
                Some(o) => o,
                None => Outcome::Ran,
            };
            self.stats.record(&self.stat_name, outcome, usec);
            let waits = matches!(step, Step::Wait(..));
            if !waits {
                self.log_if_slow(&self.stat_name, outcome, usec, args);
            }
            // Monitors see what ran (a queued command when EXEC runs it).
            if self.shared.monitored()
                && matches!(outcome, Outcome::Ran | Outcome::Failed)
                && super::monitor::shown(&self.stat_name)
            {
                self.shared.feed_monitors(self.node, self.entry.addr, args);
            }
            // A blocked command's call counts now; an error it is answered with later
            // counts as its failure then, and it is logged as slow then (Redis's
            // `updateStatsOnUnblock`), with the time it ran, not the time it waited.
            if waits {
                let words = args.iter().map(|a| a.to_vec()).collect();
                self.blocked = Some(BlockedCall { name: self.stat_name.clone(), words, usec });
            }
        }
        self.muted = false;
        step
    }

    /// Logs a command that ran for at least `slowlog-log-slower-than` in the node's slow
    /// log (all but `EXEC`, whose commands are logged one by one, as Redis logs them).
    fn log_if_slow(&self, name: &str, outcome: Outcome, usec: u64, args: &[&[u8]]) {
        let slower = self.shared.hot.slowlog_slower_than.load(Ordering::Relaxed);
        let slow = slower >= 0 && usec >= slower as u64;
        if slow && matches!(outcome, Outcome::Ran | Outcome::Failed) && name != "exec" {
            let max_len = self.shared.hot.slowlog_max_len.load(Ordering::Relaxed);
            let name = self.entry.meta.lock().name.clone();
            let peer = self.entry.addr.to_string();
            self.shared.counters(self.node, |c| c.slowlog.push(max_len, usec, args, peer, name));
        }
    }

    /// True if queued commands' words are kept for `EXEC`'s monitor lines and slow log
    /// entries (RESP3 keeps them anyway, for its reply shapes).
    fn keep_queued_words(&self) -> bool {
        self.shared.monitored() || self.shared.hot.slowlog_slower_than.load(Ordering::Relaxed) == 0
    }

    /// Microseconds since [`Conn::started`], which moves to now.
    fn lap(&mut self) -> u64 {
        let now = Instant::now();
        let usec = now.duration_since(self.started).as_micros() as u64;
        self.started = now;
        usec
    }

    /// Counts a blocked command once answered (see [`Conn::execute`]).
    fn count_unblocked(&mut self, r: &Result<Reply, Error>) {
        let Some(b) = self.blocked.take() else { return };
        let mut outcome = Outcome::Ran;
        if let Err(e) = r {
            outcome = Outcome::of_error(&e.to_string());
            if outcome != Outcome::Uncounted {
                self.stats.record_failed_later(&b.name);
            }
        }
        let words: Vec<&[u8]> = b.words.iter().map(Vec::as_slice).collect();
        self.log_if_slow(&b.name, outcome, b.usec, &words);
    }

    /// True if command `args` writes, as `CLIENT PAUSE WRITE` counts it (Redis's write and
    /// may-replicate commands): the store's writes and blocking commands, `FLUSHALL`,
    /// `PUBLISH`, and an `EXEC` whose transaction holds one.
    fn writes(&self, args: &[&[u8]]) -> bool {
        let name = args[0].to_ascii_lowercase();
        let writer = |name: &[u8]| {
            matches!(name, b"flushall" | b"flushdb" | b"publish" | b"spublish" | b"pfcount")
                || crate::command::lookup(name).is_some_and(|s| {
                    matches!(
                        s.handler,
                        crate::command::Handler::Write(_) | crate::command::Handler::Blocking(..)
                    )
                })
        };
        match name.as_slice() {
            b"exec" => self
                .queued_names
                .iter()
                .flatten()
                .any(|n| writer(n.split('|').next().unwrap_or_default().as_bytes())),
            _ => writer(&name),
        }
    }

    /// The batch a request of `args` may join: `GET key`, `SET key value` or another
    /// single-key write, on a connection that would run it with nothing around it
    /// (authenticated, not subscribed, replies on, no transaction). A run of such pipelined
    /// requests is served as one batch ([`Conn::execute_batch`]).
    fn batchable(&mut self, args: &Args, buf: &[u8]) -> Option<Batched> {
        // Under `CLIENT PAUSE` every request takes the one-by-one path, which waits.
        let plain = !self.shared.paused.load(Ordering::Relaxed)
            && self.authed
            && self.reply_mode == ReplyMode::On
            && !self.in_subscribe_mode()
            && !self.session.in_transaction();
        let name = args.get(0, buf).filter(|_| plain)?;
        match args.len() {
            2 if name.eq_ignore_ascii_case(b"get") => Some(Batched::Get),
            3 if name.eq_ignore_ascii_case(b"set") => Some(Batched::Set),
            // A write, and not a container (`XGROUP CREATE`): its statistics and `CLIENT
            // LIST` name are per subcommand, and its `HELP` is the server's.
            n if n >= 2 => {
                let (id, spec) = self.spec_of(name)?;
                let write = matches!(spec.handler, crate::command::Handler::Write(_));
                if !write || super::stats::is_container(spec.name) {
                    return None;
                }
                args.with_slices(buf, |words| spec.only_key(words).is_some())
                    .then_some(Batched::Write { id, name: spec.name })
            }
            _ => None,
        }
    }

    /// Runs pipelined requests of one kind together, their keys' memory misses overlapped
    /// (see `Client::get_pipelined`, `Client::set_pipelined`, `Client::write_pipelined`),
    /// appending the replies in request order: the same bytes, counts, monitor lines and slow
    /// log as running them one by one.
    fn execute_batch(&mut self, kind: Batched, requests: &[&[&[u8]]], out: &mut Vec<u8>) {
        // A lone request takes the one-key path: nothing to overlap.
        let batch = match kind {
            _ if requests.len() < 2 => None,
            Batched::Get => {
                let keys: Vec<&[u8]> = requests.iter().map(|r| r[1]).collect();
                self.session.get_pipelined(&keys)
            }
            Batched::Set => {
                let pairs: Vec<[&[u8]; 2]> = requests.iter().map(|r| [r[1], r[2]]).collect();
                self.session.set_pipelined(&pairs)
            }
            Batched::Write { .. } => self.session.write_pipelined(requests),
        };
        let Some(replies) = batch else {
            for request in requests {
                self.execute(request, out);
            }
            return;
        };
        let usec = self.lap();
        let name = kind.name();
        self.commands += requests.len() as u64;
        if self.last_cmd != name.as_bytes() {
            self.last_cmd.clear();
            self.last_cmd.extend_from_slice(name.as_bytes());
        }
        // Each request's outcome, once: counted, and (if it ran) shown to monitors and
        // logged if slow, with the batch's time shared out.
        let outcomes: Vec<Outcome> = replies
            .iter()
            .map(|r| r.as_ref().map_or_else(|e| Outcome::of_error(&e.to_string()), |_| Outcome::Ran))
            .collect();
        let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count() as u64;
        let (total, rejected) = (requests.len() as u64, count(Outcome::Rejected));
        let failed = total - rejected - count(Outcome::Ran);
        self.stats.record_many(name, total - rejected, failed, rejected, usec);
        let monitored = self.shared.monitored() && super::monitor::shown(name);
        for (request, &o) in requests.iter().zip(&outcomes) {
            if matches!(o, Outcome::Ran | Outcome::Failed) {
                if monitored {
                    self.shared.feed_monitors(self.node, self.entry.addr, request);
                }
                self.log_if_slow(name, o, usec / total, request);
            }
        }
        for (request, mut r) in requests.iter().zip(replies) {
            if self.proto >= 3 {
                r = r.map(|reply| super::resp3::shape(name.as_bytes(), request, reply));
            }
            self.emit(out, &r, nil_of(name.as_bytes(), request));
        }
    }

    /// Publishes what this connection did since the last call (a batch of requests): the
    /// command count, the last command, the time and the state `CLIENT LIST` shows, for
    /// `INFO` and `CLIENT LIST`. Once per batch, not per command, so pipelined requests
    /// touch no shared counter.
    pub(crate) fn publish(&mut self) {
        if !self.stats.is_empty() {
            self.shared.counters(self.node, |c| self.stats.drain_into(&mut c.commands));
        }
        let commands = std::mem::take(&mut self.commands);
        if commands > 0 {
            self.entry.commands.fetch_add(commands, Ordering::Relaxed);
        }
        let mut m = self.entry.meta.lock();
        m.last_active = Some(Instant::now());
        if m.last_cmd.as_bytes() != self.last_cmd.as_slice() {
            m.last_cmd = String::from_utf8_lossy(&self.last_cmd).into_owned();
        }
        self.describe(&mut m, false);
    }

    /// Writes this connection's state as `CLIENT LIST` shows it into `m`.
    fn describe(&self, m: &mut ClientMeta, blocked: bool) {
        m.subs = self.pubsub.as_ref().map_or((0, 0, 0), |p| p.counts_apart());
        let in_multi = self.session.in_transaction() || self.exec_running.is_some();
        m.multi = match self.exec_running {
            Some(n) => n as i64,
            None if in_multi => self.queued.len() as i64,
            None => -1,
        };
        m.flags.clear();
        // Redis's letters, in its order.
        for (on, letter) in [
            (m.subs != (0, 0, 0), 'P'),
            (in_multi, 'x'),
            (blocked, 'b'),
            (self.session.reads_replicas(), 'r'),
        ] {
            if on {
                m.flags.push(letter);
            }
        }
        (m.qbuf, m.qbuf_free) = self.qbuf;
    }

    /// Shows this connection as blocked (or no longer) in `CLIENT LIST`.
    fn show_blocked(&self, blocked: bool) {
        self.describe(&mut self.entry.meta.lock(), blocked);
    }

    /// Routes one request: connection and server commands here (`admin`), blocking commands
    /// and `WAIT` to an async wait, everything else to the session. Pub/sub (`SUBSCRIBE` &
    /// co) belongs here too, before the session: a subscribed RESP2 connection may only send
    /// the (un)subscribe commands, `PING`, `QUIT` and `RESET`, and its messages go out
    /// through its subscriber's outbox.
    fn dispatch(&mut self, name: &[u8], args: &[&[u8]], out: &mut Vec<u8>) -> Step {
        if !self.authed && !matches!(name, b"auth" | b"hello" | b"quit" | b"reset") {
            self.note_error_reply("NOAUTH");
            resp::push_error_text(out, b"NOAUTH Authentication required.");
            return Step::Done;
        }
        if self.in_subscribe_mode() {
            match name {
                _ if super::pubsub::is_pubsub_word(name) => {}
                b"ping" => {
                    self.subscribed_ping(args, out);
                    return Step::Done;
                }
                b"quit" | b"reset" => {}
                _ => {
                    self.refuse_in_subscribe_mode(name, out);
                    return Step::Done;
                }
            }
        }
        // `<container> HELP` (Redis answers `HELP` with more words by the arity error).
        if args.len() >= 2 && args[1].eq_ignore_ascii_case(b"help") && !self.session.in_transaction() {
            if let Some(help) = super::help::help(name) {
                let r = match args.len() {
                    2 => Ok(help),
                    _ => Err(Error::Command(format!(
                        "wrong number of arguments for '{}|help' command",
                        String::from_utf8_lossy(name)
                    ))),
                };
                self.emit(out, &r, Nil::Bulk);
                return Step::Done;
            }
        }
        if super::pubsub::is_pubsub_word(name) && !self.session.in_transaction() {
            self.pubsub_command(name, args, out);
            return Step::Done;
        }
        if self.session.in_transaction()
            && !matches!(name, b"exec" | b"discard" | b"multi" | b"watch" | b"quit" | b"reset")
        {
            // Server commands are queued here and run at EXEC, in their place among the
            // session's replies, as Redis queues them.
            if QUEUED_HERE.contains(&name) {
                self.queued_now = true;
                self.queued_names.push(full_name(name, args));
                self.server_queued.push((self.queued.len(), args.iter().map(|a| a.to_vec()).collect()));
                self.queued.push(Vec::new());
                self.emit(out, &Ok(Reply::Simple("QUEUED".into())), Nil::Bulk);
                return Step::Done;
            }
            let r = self.session.command(args);
            // Remember what was queued, so EXEC's replies get their RESP3 shapes.
            if matches!(&r, Ok(Reply::Simple(s)) if s == "QUEUED") {
                // The words, for RESP3's shapes and for monitors, when EXEC runs it.
                let keep = self.proto >= 3 || self.keep_queued_words();
                let words = if keep { args.iter().map(|a| a.to_vec()).collect() } else { Vec::new() };
                self.queued.push(words);
                self.queued_nil.push(nil_of(name, args));
                self.queued_now = true;
                self.queued_names.push(full_name(name, args));
            }
            self.emit(out, &r, Nil::Bulk);
            return Step::Done;
        }
        match name {
            b"quit" => {
                self.emit(out, &Ok(Reply::ok()), Nil::Bulk);
                return Step::Close;
            }
            b"hello" | b"auth" | b"select" | b"client" | b"reset" | b"time" | b"command" | b"config"
            | b"info" | b"randomkey" | b"function" | b"script" | b"lastsave" | b"role" | b"cluster"
            | b"flushall" | b"flushdb" | b"replicaof" | b"slaveof" | b"failover" | b"slowlog" => {
                if let Some(step) = self.admin(name, args, out) {
                    return step;
                }
            }
            b"wait" => return self.wait(args, out),
            b"monitor" if args.len() == 1 => {
                self.shared.monitor(self.entry.clone(), self.node, self.push_tx.clone());
                self.emit(out, &Ok(Reply::ok()), Nil::Bulk);
                return Step::Done;
            }
            _ if is_blocking_command(name) => return self.blocking(name, args, out),
            _ => {}
        }
        let session_word = matches!(
            name,
            b"multi"
                | b"exec"
                | b"discard"
                | b"watch"
                | b"unwatch"
                | b"readonly"
                | b"readwrite"
                | b"asking"
        );
        let plain = if session_word { None } else { self.session.command_plain(args) };
        let mut r = plain.unwrap_or_else(|| self.session.command(args));
        if self.proto >= 3 {
            r = r.map(|reply| super::resp3::shape(name, args, reply));
        }
        if matches!(name, b"exec" | b"discard") || (name == b"multi" && r.is_ok()) {
            let queued = std::mem::take(&mut self.queued);
            let server_queued = std::mem::take(&mut self.server_queued);
            let mut nils = std::mem::take(&mut self.queued_nil);
            let names = std::mem::take(&mut self.queued_names);
            if let (b"exec", Ok(Reply::Array(items))) = (name, &mut r) {
                if self.proto >= 3 {
                    // `items` holds the session's replies only: skip the server's places.
                    let session_words = queued.iter().filter(|w| !w.is_empty());
                    for (item, words) in items.iter_mut().zip(session_words) {
                        let a: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
                        let lower = words[0].to_ascii_lowercase();
                        let reply = std::mem::replace(item, Reply::Nil);
                        *item = super::resp3::shape(&lower, &a, reply);
                    }
                }
                self.exec_running = Some(queued.len());
                let server_words: Vec<(usize, Vec<Vec<u8>>)> =
                    if self.keep_queued_words() { server_queued.clone() } else { Vec::new() };
                for (at, words) in server_queued {
                    let a: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
                    let reply = self.queued_admin(&a);
                    items.insert(at.min(items.len()), reply);
                    nils.insert(at.min(nils.len()), Nil::Bulk);
                }
                self.exec_running = None;
                self.count_nested_errors(items);
                // Each command EXEC ran is a call of its own, failed if it answered an
                // error; their time is EXEC's, which runs them as one step. Monitors see
                // them, in order, before the EXEC, and a slow log logging every command
                // logs them.
                let monitored = self.shared.monitored();
                for (i, (name, item)) in names.iter().zip(items.iter()).enumerate() {
                    let outcome = match item {
                        Reply::Error(e) => Outcome::of_error(&e.to_string()),
                        _ => Outcome::Ran,
                    };
                    let Some(name) = name else { continue };
                    self.stats.record(name, outcome, 0);
                    let words = match queued.get(i).filter(|w| !w.is_empty()) {
                        Some(w) => w,
                        None => match server_words.iter().find(|(at, _)| *at == i) {
                            Some((_, w)) => w,
                            None => continue,
                        },
                    };
                    let a: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
                    self.log_if_slow(name, outcome, 0, &a);
                    if monitored && outcome != Outcome::Uncounted && super::monitor::shown(name) {
                        self.shared.feed_monitors(self.node, self.entry.addr, &a);
                    }
                }
                if !self.muted {
                    let addr = |id: NodeId| self.shared.addr_of(id);
                    resp::encode_each(out, items, &nils, self.proto, &addr);
                }
                // A queued CLIENT KILL that named this connection.
                if std::mem::take(&mut self.close_after_reply) {
                    return Step::Close;
                }
                return Step::Done;
            }
        }
        self.emit(out, &r, nil_of(name, args));
        Step::Done
    }

    /// A blocking command (`BLPOP` and friends): run at once if it can be served, else
    /// waited for on this connection's task. The waiter is woken by the write that serves
    /// it; no thread is held, so 10,000 blocked connections cost memory, not threads.
    fn blocking(&mut self, name: &[u8], args: &[&[u8]], out: &mut Vec<u8>) -> Step {
        // All of them answer a timeout with the null array (`XREAD`/`XREADGROUP` with `BLOCK`).
        let nil = Nil::Array;
        let notify = Arc::new(tokio::sync::Notify::new());
        let wake = {
            let notify = notify.clone();
            Arc::new(move || notify.notify_one()) as crate::node::Wake
        };
        let client = self.session.client().clone();
        let (slot, id, rx, timeout) = match client.block_async(args, wake) {
            BlockStart::Done(r) => {
                let r = if self.proto >= 3 { r.map(|x| super::resp3::shape(name, args, x)) } else { r };
                self.emit(out, &r, nil);
                return Step::Done;
            }
            BlockStart::Waiting { slot, id, rx, timeout } => (slot, id, rx, timeout),
        };
        let shared = self.shared.clone();
        shared.count_blocked(self.node, true);
        let unblock = Arc::new(Unblock { wake: notify.clone(), how: AtomicU8::new(0) });
        *self.entry.unblock.lock() = Some(unblock.clone());
        // Takes the waiter off its queue if this future is dropped first (the client hung
        // up, was killed, or the server stops), and `CLIENT UNBLOCK`'s handle off the entry.
        let entry = self.entry.clone();
        let guard = CancelOnDrop { client: client.clone(), slot, id, done: false, shared, entry };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let resp3 = self.proto >= 3;
        let name = name.to_vec();
        let words: Vec<Vec<u8>> =
            if resp3 { args.iter().map(|a| a.to_vec()).collect() } else { Vec::new() };
        let shaped = move |r: Result<Reply, Error>| {
            if !resp3 {
                return r;
            }
            let a: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
            r.map(|x| super::resp3::shape(&name, &a, x))
        };
        Step::Wait(
            Box::pin(async move {
                let mut guard = guard;
                let r = async {
                    let gone = || Err(Error::ClusterDown(crate::error::ClusterDownReason::Down));
                    loop {
                        match rx.try_recv() {
                            Ok(r) => {
                                guard.done = true;
                                return r;
                            }
                            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                                guard.done = true;
                                return gone();
                            }
                            Err(crossbeam_channel::TryRecvError::Empty) => {}
                        }
                        if unblock.how.load(Ordering::Acquire) != 0 {
                            break;
                        }
                        let timer = async {
                            match deadline {
                                Some(d) => tokio::time::sleep_until(d).await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            _ = notify.notified() => continue,
                            _ = timer => break,
                        }
                    }
                    // Timed out, or `CLIENT UNBLOCK`: a reply that raced it is taken, not
                    // cancelled.
                    loop {
                        if let Ok(r) = rx.try_recv() {
                            guard.done = true;
                            return r;
                        }
                        if client.block_cancel(slot, id) {
                            guard.done = true;
                            return match unblock.how.load(Ordering::Acquire) {
                                UNBLOCK_ERROR => Err(Error::Coded(
                                    "UNBLOCKED client unblocked via CLIENT UNBLOCK".into(),
                                )),
                                _ => Ok(Reply::Nil),
                            };
                        }
                        // Served meanwhile (the reply is on its way) or moving with its slot.
                        tokio::select! {
                            _ = notify.notified() => {}
                            _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                        }
                    }
                };
                shaped(r.await)
            }),
            nil,
        )
    }

    /// `WAIT numreplicas timeout`, waited for without holding a thread.
    fn wait(&mut self, args: &[&[u8]], out: &mut Vec<u8>) -> Step {
        if self.session.in_transaction() || args.len() != 3 {
            let r = self.session.command(args);
            self.emit(out, &r, Nil::Bulk);
            return Step::Done;
        }
        let parse = |a: &[u8]| {
            std::str::from_utf8(a)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| Error::msg("value is not an integer or out of range"))
        };
        let parsed = parse(args[1]).and_then(|n| {
            let t =
                parse(args[2]).map_err(|_| Error::msg("timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(Error::msg("timeout is negative"));
            }
            Ok((n.max(0) as usize, t as u64))
        });
        let (n, timeout_ms) = match parsed {
            Ok(p) => p,
            Err(e) => {
                self.emit(out, &Err(e), Nil::Bulk);
                return Step::Done;
            }
        };
        let write = self.session.last_write();
        let client = self.session.client().clone();
        let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
        // A blocked client, as Redis counts it, that `CLIENT UNBLOCK` can end.
        let unblock =
            Arc::new(Unblock { wake: Arc::new(tokio::sync::Notify::new()), how: AtomicU8::new(0) });
        *self.entry.unblock.lock() = Some(unblock.clone());
        self.shared.count_blocked(self.node, true);
        let done = WaitDone { shared: self.shared.clone(), entry: self.entry.clone() };
        Step::Wait(
            Box::pin(async move {
                let _done = done;
                loop {
                    let acked = client.acked(write, n);
                    let how = unblock.how.load(Ordering::Acquire);
                    if how == UNBLOCK_ERROR {
                        return Err(Error::Coded(
                            "UNBLOCKED client unblocked via CLIENT UNBLOCK".into(),
                        ));
                    }
                    if acked >= n || how != 0 || deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(Reply::Int(acked as i64));
                    }
                    // Replicas apply within microseconds to milliseconds: poll on a timer,
                    // which holds no thread.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }),
            Nil::Bulk,
        )
    }
}

/// How command `name` (lowercase) with `args` writes a nil in RESP2, as Redis 7.0 does.
fn nil_of(name: &[u8], args: &[&[u8]]) -> Nil {
    match name {
        b"exec" | b"lmpop" | b"zmpop" | b"xread" | b"xreadgroup" => Nil::Array,
        // The blocking pops run inside `MULTI` without blocking; `BLMOVE` answers `$-1` there.
        b"blpop" | b"brpop" | b"bzpopmin" | b"bzpopmax" | b"blmpop" | b"bzmpop" => Nil::Array,
        b"lpop" | b"rpop" if args.len() == 3 => Nil::Array,
        b"geopos" => Nil::ArrayInside,
        _ => Nil::Bulk,
    }
}

/// Serves one connection to node `node` until it closes, the node is killed, the client is
/// killed, or the server stops.
pub(crate) async fn run(shared: Arc<Shared>, node: NodeId, mut stream: TcpStream, peer: SocketAddr) {
    shared.total_connections.fetch_add(1, Ordering::Relaxed);
    let maxclients = shared.params.lock().maxclients;
    if shared.connected.fetch_add(1, Ordering::AcqRel) >= maxclients {
        shared.connected.fetch_sub(1, Ordering::AcqRel);
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        return;
    }
    let id = shared.next_client_id();
    let laddr = stream.local_addr().unwrap_or(peer);
    let entry = Arc::new(ClientEntry {
        id,
        node,
        commands: AtomicU64::new(0),
        addr: peer,
        laddr,
        created: Instant::now(),
        meta: parking_lot::Mutex::new(ClientMeta { resp: 2, multi: -1, ..ClientMeta::default() }),
        kill: tokio::sync::Notify::new(),
        unblock: parking_lot::Mutex::new(None),
    });
    shared.clients.lock().insert(id, entry.clone());
    // A node killed while this connection was being accepted: its watcher may have
    // missed this entry.
    if shared.client.node_is_down(node) {
        entry.kill.notify_one();
    }
    let (push_tx, mut push_rx) = mpsc::channel(MONITOR_LINES);
    let authed = shared.params.lock().requirepass.is_none();
    let mut conn = Conn {
        session: shared.client.at_node(node).session(),
        shared: shared.clone(),
        entry: entry.clone(),
        node,
        proto: 2,
        authed,
        reply_mode: ReplyMode::On,
        muted: false,
        skipped: false,
        queued: Vec::new(),
        server_queued: Vec::new(),
        queued_nil: Vec::new(),
        parser: Parser::default(),
        push_tx,
        commands: 0,
        last_cmd: Vec::new(),
        stats: CommandStats::default(),
        reply_error: Cell::new(None),
        queued_now: false,
        queued_names: Vec::new(),
        blocked: None,
        close_after_reply: false,
        exec_running: None,
        stat_name: String::new(),
        qbuf: (0, 0),
        started: Instant::now(),
        pubsub: None,
        last_spec: ([0; 16], usize::MAX, None),
    };
    let (mut rd, mut wr) = stream.split();
    let mut inbuf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    'conn: loop {
        // Run every complete request the buffer holds.
        conn.started = Instant::now();
        let mut limits = conn.limits();
        // Pipelined requests of one kind waiting to run as one batch: their kind and (where
        // each starts in `inbuf`, the request). Run before anything else runs or is written.
        let mut batch: (Option<Batched>, Vec<(usize, Frame)>) = (None, Vec::new());
        let flush = |conn: &mut Conn,
                     (kind, pending): &mut (Option<Batched>, Vec<(usize, Frame)>),
                     inbuf: &[u8],
                     out: &mut Vec<u8>| {
            let Some(kind) = kind.take() else { return };
            // Every request's words in one list, a few allocations per batch.
            let mut words: Vec<&[u8]> = Vec::with_capacity(pending.len() * 4);
            let mut spans = Vec::with_capacity(pending.len());
            for (base, f) in pending.iter() {
                let start = words.len();
                words.extend(
                    (0..f.args.len()).map(|i| f.args.get(i, &inbuf[*base..]).unwrap_or_default()),
                );
                spans.push(start..words.len());
            }
            let requests: Vec<&[&[u8]]> = spans.into_iter().map(|r| &words[r]).collect();
            conn.execute_batch(kind, &requests, out);
            pending.drain(..).for_each(|(_, f)| conn.parser.recycle(f.args));
        };
        loop {
            let parsed = conn.parser.parse(&inbuf[start..], limits);
            let kind = match &parsed {
                Ok(Some(f)) => conn.batchable(&f.args, &inbuf[start..]),
                _ => None,
            };
            if kind.is_none() || kind != batch.0 {
                flush(&mut conn, &mut batch, &inbuf, &mut out);
            }
            let frame = match parsed {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(text) => {
                    let mut e = b"ERR Protocol error: ".to_vec();
                    e.extend_from_slice(&text);
                    resp::push_error_text(&mut out, &e);
                    let _ = write_out(&mut wr, &out, &entry).await;
                    break 'conn;
                }
            };
            let base = start;
            start += frame.len;
            if frame.args.is_empty() {
                continue;
            }
            if kind.is_some() {
                batch.0 = kind;
                batch.1.push((base, frame));
                if batch.1.len() < BATCH {
                    continue;
                }
                flush(&mut conn, &mut batch, &inbuf, &mut out);
                if out.len() >= OUT_FLUSH {
                    if !write_out(&mut wr, &out, &entry).await {
                        break 'conn;
                    }
                    out.clear();
                }
                continue;
            }
            // `CLIENT PAUSE`: the request waits, with the replies before it written, until
            // the pause ends (or the client goes). Looked at only while a pause is on: the
            // waiter's registration is a few hundred instructions every request would pay.
            let mut held = false;
            while shared.paused.load(Ordering::Acquire) {
                // Registered before the pause is read, so an UNPAUSE between is not missed.
                let unpaused = shared.unpaused.notified();
                tokio::pin!(unpaused);
                unpaused.as_mut().enable();
                let writes = || conn.writes(&frame.args.slices(&inbuf[base..]));
                let Some(until) = shared.postponed_until(writes) else {
                    break;
                };
                held = true;
                if !write_out(&mut wr, &out, &entry).await {
                    break 'conn;
                }
                out.clear();
                // Shown blocked (`b`, and in `blocked_clients`) meanwhile, as Redis shows a
                // postponed client.
                conn.qbuf = (inbuf.len() - base, inbuf.capacity() - inbuf.len());
                conn.publish();
                conn.show_blocked(true);
                let _blocked = BlockedCount::new(&shared, conn.node);
                tokio::select! {
                    _ = &mut unpaused => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                    n = read_more(&mut rd, &mut inbuf, 512) => {
                        let limit = shared.hot.client_query_buffer_limit.load(Ordering::Relaxed);
                        if n == 0 || inbuf.len() > limit {
                            break 'conn;
                        }
                    }
                    _ = entry.kill.notified() => break 'conn,
                }
            }
            if held {
                conn.show_blocked(false);
            }
            conn.qbuf = (inbuf.len() - base, inbuf.capacity() - inbuf.len());
            let step = frame.args.with_slices(&inbuf[base..], |args| conn.execute(args, &mut out));
            conn.parser.recycle(frame.args);
            // AUTH/HELLO may have changed what the next request may be.
            limits.authed = conn.authed;
            match step {
                Step::Done => {}
                Step::Close => {
                    let _ = write_out(&mut wr, &out, &entry).await;
                    break 'conn;
                }
                Step::Wait(mut pending, nil) => {
                    // `CLIENT REPLY OFF|SKIP` covers the reply that comes later, too.
                    let muted = conn.reply_mode == ReplyMode::Off || conn.skipped;
                    conn.publish();
                    conn.show_blocked(true);
                    if !write_out(&mut wr, &out, &entry).await {
                        break 'conn;
                    }
                    // A blocked connection keeps no buffers: thousands of them cost a few
                    // hundred bytes each, not two read-sized buffers.
                    out = Vec::new();
                    if start == inbuf.len() {
                        inbuf = Vec::new();
                        start = 0;
                    }
                    // Wait for the reply; a client that hangs up meanwhile is let go.
                    let r = loop {
                        tokio::select! {
                            r = &mut pending => break r,
                            n = read_more(&mut rd, &mut inbuf, 512) => {
                                let limit = shared.hot.client_query_buffer_limit.load(Ordering::Relaxed);
                                if n == 0 || inbuf.len() > limit {
                                    break 'conn;
                                }
                            }
                            _ = entry.kill.notified() => break 'conn,
                        }
                    };
                    conn.muted = muted;
                    conn.emit(&mut out, &r, nil);
                    conn.muted = false;
                    conn.count_unblocked(&r);
                    conn.show_blocked(false);
                    conn.started = Instant::now();
                }
            }
            if out.len() >= OUT_FLUSH {
                if !write_out(&mut wr, &out, &entry).await {
                    break 'conn;
                }
                out.clear();
            }
        }
        conn.qbuf = (inbuf.len() - start, inbuf.capacity() - inbuf.len());
        conn.publish();
        if !out.is_empty() {
            if !write_out(&mut wr, &out, &entry).await {
                break;
            }
            out.clear();
            // A huge reply leaves a huge buffer behind: give it back.
            if out.capacity() > 4 * OUT_FLUSH {
                out = Vec::with_capacity(READ_CHUNK);
            }
        }
        // Keep the unparsed tail at the front of the buffer.
        if start == inbuf.len() {
            inbuf.clear();
            if inbuf.capacity() > READ_MAX {
                inbuf = Vec::with_capacity(READ_CHUNK);
            }
        } else if start > 0 {
            inbuf.drain(..start);
        }
        start = 0;
        let limit = shared.hot.client_query_buffer_limit.load(Ordering::Relaxed);
        let idle = Duration::from_millis(shared.hot.timeout_ms.load(Ordering::Relaxed));
        if inbuf.len() > limit {
            // Redis closes a client past client-query-buffer-limit without a reply.
            break;
        }
        let want = conn.parser.need().map_or(READ_CHUNK, |n| n.saturating_sub(inbuf.len()));
        let want = want.clamp(READ_CHUNK, READ_MAX);
        let idle_timer = async {
            // A subscriber waits for messages, not requests: Redis never times it out.
            if idle.is_zero() || conn.pubsub.is_some() {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(idle).await
            }
        };
        let pubsub_wake = conn.pubsub_wake();
        let messages = async {
            match &pubsub_wake {
                Some(w) => w.notified().await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            n = read_more(&mut rd, &mut inbuf, want) => {
                // Past client-query-buffer-limit: closed before anything in it runs, as Redis
                // checks after each read.
                if n == 0 || inbuf.len() > limit {
                    break;
                }
            }
            push = push_rx.recv() => {
                if let Some(p) = push {
                    conn.emit(&mut out, &Ok(p), Nil::Bulk);
                }
            }
            _ = entry.kill.notified() => break,
            _ = idle_timer => break,
            _ = messages => {
                // Over client-output-buffer-limit pubsub: closed, as Redis closes it.
                if !conn.drain_pubsub(&mut out) {
                    break;
                }
            }
        }
    }
    conn.publish();
    drop(conn);
    if shared.monitored() {
        shared.unmonitor(id);
    }
    shared.clients.lock().remove(&id);
    shared.counters(node, |c| c.commands_closed += entry.commands.load(Ordering::Relaxed));
    shared.connected.fetch_sub(1, Ordering::AcqRel);
}

/// One more blocked client in `INFO`, while it lives.
struct BlockedCount<'a>(&'a Shared, NodeId);

impl<'a> BlockedCount<'a> {
    fn new(shared: &'a Shared, node: NodeId) -> BlockedCount<'a> {
        shared.count_blocked(node, true);
        BlockedCount(shared, node)
    }
}

impl Drop for BlockedCount<'_> {
    fn drop(&mut self) {
        self.0.count_blocked(self.1, false);
    }
}

/// A `WAIT` that ended (or was dropped): no longer blocked, no longer unblockable.
struct WaitDone {
    shared: Arc<Shared>,
    entry: Arc<ClientEntry>,
}

impl Drop for WaitDone {
    fn drop(&mut self) {
        self.shared.count_blocked(self.entry.node, false);
        *self.entry.unblock.lock() = None;
    }
}

/// A blocked command's waiter, taken off its queue unless it was answered.
struct CancelOnDrop {
    client: Client,
    slot: u16,
    id: u64,
    done: bool,
    shared: Arc<Shared>,
    entry: Arc<ClientEntry>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.client.block_cancel(self.slot, self.id);
        }
        self.shared.count_blocked(self.entry.node, false);
        *self.entry.unblock.lock() = None;
    }
}

/// Writes `out`; false if the peer is gone or the connection is killed meanwhile (a client
/// that does not read must not keep a killed connection, or its node's, alive).
async fn write_out(wr: &mut tokio::net::tcp::WriteHalf<'_>, out: &[u8], entry: &ClientEntry) -> bool {
    tokio::select! {
        r = wr.write_all(out) => r.is_ok(),
        _ = entry.kill.notified() => false,
    }
}

/// Reads at least one byte into the spare room of `buf` (growing it by `want`); 0 at the end
/// of the stream or on an error.
async fn read_more(rd: &mut tokio::net::tcp::ReadHalf<'_>, buf: &mut Vec<u8>, want: usize) -> usize {
    buf.reserve(want);
    rd.read_buf(buf).await.unwrap_or(0)
}
