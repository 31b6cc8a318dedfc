//! What a node's port reports about the commands it served: `INFO commandstats` (per
//! command, its calls, their time, and the calls rejected before running or failed while
//! running), `INFO errorstats`, `SLOWLOG`; and `INFO cpu`, the process's CPU time.
//!
//! Each node keeps its own, as each Redis Cluster node does ([`NodeCounters`]). A connection
//! counts commands into a [`CommandStats`] of its own and adds it to its node's once per
//! batch of requests (as it publishes its command count), so pipelined requests touch no
//! shared counter; `INFO` first adds the asking connection's, so a pipeline sees its own
//! earlier commands.

use crate::reply::Reply;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;

/// One node's counters.
#[derive(Debug, Default)]
pub(crate) struct NodeCounters {
    /// Error replies by code (`ERR`, `WRONGTYPE`, `MOVED`, ...): `INFO errorstats`.
    pub(crate) errors: BTreeMap<String, u64>,
    /// `INFO commandstats`, by command name.
    pub(crate) commands: BTreeMap<String, CommandStat>,
    /// Commands run by this node's connections that have closed (open ones count their own).
    pub(crate) commands_closed: u64,
    pub(crate) slowlog: Slowlog,
    /// Connections waiting in a blocking command, `WAIT` or a `CLIENT PAUSE`
    /// (`blocked_clients`).
    pub(crate) blocked: usize,
}

/// Words of a command a slow log entry keeps, at most (the last one then says how many
/// more there were), and bytes of each word (Redis's `SLOWLOG_ENTRY_MAX_ARGC`/`_STRING`).
const SLOW_ARGS: usize = 32;
const SLOW_BYTES: usize = 128;

/// One `SLOWLOG GET` entry.
#[derive(Debug, Clone)]
struct SlowEntry {
    id: u64,
    /// Unix seconds when it was logged.
    time: u64,
    usec: u64,
    words: Vec<Vec<u8>>,
    peer: String,
    name: String,
}

/// A node's slow log: the commands that took at least `slowlog-log-slower-than`
/// microseconds, newest first, at most `slowlog-max-len` of them.
#[derive(Debug, Default)]
pub(crate) struct Slowlog {
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

impl Slowlog {
    /// Logs command `args` that took `usec`, run by the client at `peer` named `name`,
    /// keeping at most `max_len` entries. Passwords are logged as `(redacted)`, long words
    /// and long commands shortened as Redis shortens them.
    pub(crate) fn push(
        &mut self,
        max_len: usize,
        usec: u64,
        args: &[&[u8]],
        peer: String,
        name: String,
    ) {
        let secret = super::monitor::redacted(args);
        let mut words: Vec<Vec<u8>> = Vec::with_capacity(args.len().min(SLOW_ARGS));
        for (i, (arg, secret)) in args.iter().zip(secret).enumerate() {
            if args.len() > SLOW_ARGS && i == SLOW_ARGS - 1 {
                words.push(format!("... ({} more arguments)", args.len() - i).into_bytes());
                break;
            }
            words.push(match arg.len() {
                _ if secret => b"(redacted)".to_vec(),
                n if n > SLOW_BYTES => {
                    let mut w = arg[..SLOW_BYTES].to_vec();
                    w.extend_from_slice(format!("... ({} more bytes)", n - SLOW_BYTES).as_bytes());
                    w
                }
                _ => arg.to_vec(),
            });
        }
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.entries.push_front(SlowEntry { id: self.next_id, time, usec, words, peer, name });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }

    /// Entries logged now (a lowered `slowlog-max-len` trims at the next entry, as in
    /// Redis).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn reset(&mut self) {
        self.entries.clear();
    }

    /// `SLOWLOG GET`'s reply: the newest `count` entries (all if None).
    pub(crate) fn get(&self, count: Option<usize>) -> Reply {
        let entry = |e: &SlowEntry| {
            Reply::Array(vec![
                Reply::Int(e.id as i64),
                Reply::Int(e.time as i64),
                Reply::Int(e.usec as i64),
                Reply::Array(e.words.iter().map(Reply::bulk).collect()),
                Reply::bulk(&e.peer),
                Reply::bulk(&e.name),
            ])
        };
        Reply::Array(self.entries.iter().take(count.unwrap_or(usize::MAX)).map(entry).collect())
    }
}

/// One command's counters, as Redis's `cmdstat_<name>` line shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CommandStat {
    /// Calls that ran (failed ones included).
    pub(crate) calls: u64,
    /// Microseconds spent running them.
    pub(crate) usec: u64,
    /// Refused before running: a redirect, `CROSSSLOT`, the arity, `OOM`, `NOAUTH` ...
    pub(crate) rejected: u64,
    /// Ran and answered an error.
    pub(crate) failed: u64,
}

impl CommandStat {
    fn absorb(&mut self, o: &CommandStat) {
        self.calls += o.calls;
        self.usec += o.usec;
        self.rejected += o.rejected;
        self.failed += o.failed;
    }
}

/// How a command's reply counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It ran and answered.
    Ran,
    /// It ran and answered an error.
    Failed,
    /// It was refused before running.
    Rejected,
    /// Not counted: an unknown command or subcommand (Redis has no entry to count it under),
    /// or a command queued by `MULTI`, counted when `EXEC` runs it.
    Uncounted,
}

impl Outcome {
    /// The outcome of a command that answered the error `text`. Redis refuses a command
    /// before it runs when the cluster sends it elsewhere or cannot serve it, for its arity,
    /// for memory, for authentication and on a read-only replica; every other error comes
    /// from running it.
    pub(crate) fn of_error(text: &str) -> Outcome {
        let code = text.split(' ').next().unwrap_or_default();
        match code {
            "MOVED" | "ASK" | "TRYAGAIN" | "CROSSSLOT" | "CLUSTERDOWN" | "OOM" | "NOAUTH" | "NOPERM"
            | "READONLY" | "LOADING" | "MASTERDOWN" => Outcome::Rejected,
            "ERR" if text.starts_with("ERR wrong number of arguments") => Outcome::Rejected,
            // `EXEC` refused for memory (Redis's `rejectCommand` of a transaction).
            "EXECABORT" if text.contains("because of: OOM") => Outcome::Rejected,
            "ERR"
                if text.starts_with("ERR unknown command")
                    || text.starts_with("ERR unknown subcommand") =>
            {
                Outcome::Uncounted
            }
            _ => Outcome::Failed,
        }
    }
}

/// Redis 7.0's container commands: their statistics are kept per subcommand
/// (`cmdstat_config|get`).
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module",
    "object", "pubsub", "script", "slowlog", "xgroup", "xinfo",
];

/// True for a container command (its statistics and `CLIENT LIST` name are per subcommand).
pub(crate) fn is_container(name: &str) -> bool {
    CONTAINERS.contains(&name)
}

/// The name a command's statistics go under: `lower` (the command's lowercase name), or
/// `container|subcommand`. None for a name no statistics line could show.
pub(crate) fn full_name(lower: &[u8], args: &[&[u8]]) -> Option<String> {
    let mut name = String::new();
    write_full_name(&mut name, lower, args).then_some(name)
}

/// [`full_name`] into `out` (cleared first), which a connection reuses: no allocation per
/// command. False, `out` unspecified, for a name no statistics line could show.
pub(crate) fn write_full_name(out: &mut String, lower: &[u8], args: &[&[u8]]) -> bool {
    out.clear();
    let Some(name) = std::str::from_utf8(lower).ok().filter(|n| {
        n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }) else {
        return false;
    };
    out.push_str(name);
    match args.get(1) {
        // Per subcommand where the subcommands are known here (see `server::help`); a
        // container without a table counts under its own name.
        Some(sub) if CONTAINERS.contains(&name) && super::help::has_subcommand(lower, "").is_some() => {
            // The client's word: only a plain one makes a line (and `record` keeps a new
            // name only if it is a subcommand).
            let plain = !sub.is_empty()
                && sub.len() <= 32
                && sub.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
            if !plain {
                return false;
            }
            out.push('|');
            out.extend(sub.iter().map(|b| char::from(b.to_ascii_lowercase())));
            true
        }
        _ => true,
    }
}

/// True if `name` (a [`full_name`]) names a command (and subcommand) the server has: only
/// these get a line, so clients' words cannot grow the statistics without bound.
fn known(name: &str) -> bool {
    let (cmd, sub) = match name.split_once('|') {
        Some((cmd, sub)) => (cmd, Some(sub)),
        None => (name, None),
    };
    let command =
        crate::command::lookup(cmd.as_bytes()).is_some() || super::admin::is_server_command(cmd);
    command && sub.map_or(true, |sub| super::help::has_subcommand(cmd.as_bytes(), sub) == Some(true))
}

/// Counters by command name.
#[derive(Debug, Default)]
pub(crate) struct CommandStats {
    // ahash: a lookup per command, where std's SipHash showed in the server's profile.
    by_name: HashMap<String, CommandStat, ahash::RandomState>,
}

impl CommandStats {
    /// Counts one command under `name` (see [`full_name`]) that took `usec` to answer.
    pub(crate) fn record(&mut self, name: &str, outcome: Outcome, usec: u64) {
        let stat = match self.by_name.get_mut(name) {
            Some(s) => s,
            None if outcome == Outcome::Uncounted || !known(name) => return,
            None => self.by_name.entry(name.to_string()).or_default(),
        };
        match outcome {
            Outcome::Ran => {
                stat.calls += 1;
                stat.usec += usec;
            }
            Outcome::Failed => {
                stat.calls += 1;
                stat.usec += usec;
                stat.failed += 1;
            }
            Outcome::Rejected => stat.rejected += 1,
            Outcome::Uncounted => {}
        }
    }

    /// Counts `n` calls of `name` that ran in `usec` together (a batch of pipelined `GET`s).
    pub(crate) fn record_many(&mut self, name: &str, n: u64, failed: u64, rejected: u64, usec: u64) {
        let stat = self.by_name.entry(name.to_string()).or_default();
        stat.calls += n;
        stat.failed += failed;
        stat.rejected += rejected;
        stat.usec += usec;
    }

    /// A blocked command that answered an error when it was served: it was counted as a
    /// call when it blocked.
    pub(crate) fn record_failed_later(&mut self, name: &str) {
        self.by_name.entry(name.to_string()).or_default().failed += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Moves these counters into the server's `total`.
    pub(crate) fn drain_into(&mut self, total: &mut BTreeMap<String, CommandStat>) {
        for (name, stat) in self.by_name.drain() {
            total.entry(name).or_default().absorb(&stat);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_name.clear();
    }
}

/// The `# Commandstats` section of `INFO`, Redis's lines.
pub(crate) fn write_commandstats(out: &mut String, total: &BTreeMap<String, CommandStat>) {
    out.push_str("# Commandstats\r\n");
    for (name, s) in total {
        let per_call = if s.calls == 0 { 0.0 } else { s.usec as f64 / s.calls as f64 };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            s.calls, s.usec, s.rejected, s.failed
        );
    }
    out.push_str("\r\n");
}

/// The `# CPU` section of `INFO`: the process's system and user CPU seconds, and its
/// children's (`getrusage`, as Redis reads them). Redis also reports its main thread's;
/// slotstore has no main thread that serves, so those lines are left out.
pub(crate) fn write_cpu(out: &mut String) {
    let (sys, user) = rusage(libc::RUSAGE_SELF);
    let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
    let _ = write!(
        out,
        "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n\
         used_cpu_sys_children:{csys:.6}\r\nused_cpu_user_children:{cuser:.6}\r\n\r\n"
    );
}

/// System and user CPU seconds of `who`.
fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: `getrusage` only writes the struct it is given, which is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`; `who` is one of the two values above.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_stime), secs(ru.ru_utime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_rejections_or_failures_as_redis_counts_them() {
        assert_eq!(Outcome::of_error("MOVED 12 127.0.0.1:7001"), Outcome::Rejected);
        assert_eq!(
            Outcome::of_error("CROSSSLOT Keys in request don't hash to the same slot"),
            Outcome::Rejected
        );
        assert_eq!(
            Outcome::of_error("ERR wrong number of arguments for 'get' command"),
            Outcome::Rejected
        );
        assert_eq!(Outcome::of_error("WRONGTYPE Operation against a key"), Outcome::Failed);
        assert_eq!(Outcome::of_error("ERR syntax error"), Outcome::Failed);
        assert_eq!(
            Outcome::of_error("ERR unknown command 'x', with args beginning with: "),
            Outcome::Uncounted
        );
    }

    #[test]
    fn containers_count_per_subcommand_and_odd_words_make_no_line() {
        assert_eq!(full_name(b"config", &[b"CONFIG", b"GeT"]).as_deref(), Some("config|get"));
        assert_eq!(full_name(b"get", &[b"GET", b"k"]).as_deref(), Some("get"));
        assert_eq!(full_name(b"config", &[b"CONFIG"]).as_deref(), Some("config"));
        assert_eq!(full_name(b"config", &[b"CONFIG", b"a\r\nb"]), None);
        assert_eq!(full_name(b"\xff", &[b"\xff"]), None);
    }

    #[test]
    fn only_commands_and_subcommands_the_server_has_get_a_line() {
        let mut s = CommandStats::default();
        for name in ["get", "config|get", "client|list", "multi", "monitor", "slowlog|len", "subscribe"]
        {
            s.record(name, Outcome::Rejected, 0);
        }
        // A client's words: an arity error of `MEMORY foo`, an unknown command refused
        // before authentication.
        s.record("memory|foo", Outcome::Rejected, 0);
        s.record("nosuch", Outcome::Rejected, 0);
        let mut total = BTreeMap::new();
        s.drain_into(&mut total);
        let names: Vec<&str> = total.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["client|list", "config|get", "get", "monitor", "multi", "slowlog|len", "subscribe"]
        );
    }

    #[test]
    fn counters_add_up_and_drain() {
        let mut s = CommandStats::default();
        s.record("get", Outcome::Ran, 3);
        s.record("get", Outcome::Failed, 5);
        s.record("get", Outcome::Rejected, 100);
        s.record("nosuch", Outcome::Uncounted, 1);
        let mut total = BTreeMap::new();
        s.drain_into(&mut total);
        assert!(s.is_empty());
        assert_eq!(total.len(), 1);
        assert_eq!(total["get"], CommandStat { calls: 2, usec: 8, rejected: 1, failed: 1 });
        let mut out = String::new();
        write_commandstats(&mut out, &total);
        assert!(out.contains(
            "cmdstat_get:calls=2,usec=8,usec_per_call=4.00,rejected_calls=1,failed_calls=1\r\n"
        ));
    }
}
