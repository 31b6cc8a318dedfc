//! The same application code on slotstore and on a real Redis/Valkey Cluster (feature
//! `redis`): [`RedisConnection`], an in-process connection that implements redis-rs's
//! `ConnectionLike` (sync) and `aio::ConnectionLike` (async), and behaves as redis-rs's cluster
//! connection does where that connection behaves in a particular way.
//!
//! Level 5 beside `lib.rs`: it only calls the public [`Client`] and [`Session`] paths, so the
//! native typed API's hot path does not change with this feature.

mod aio;
mod convert;
mod resp;

use crate::client::{Client, Session};
use crate::cluster::Cluster;
use crate::command::{lookup, Handler};
use crate::error::Error;
use crate::reply::Reply;
use crate::slot::key_slot;
use redis::{Cmd, ErrorKind, RedisError, RedisResult, ServerErrorKind, Value};

pub(crate) use convert::error as redis_error;

/// An in-process connection to a [`Cluster`] for code written against redis-rs: it implements
/// [`redis::ConnectionLike`] and [`redis::aio::ConnectionLike`], so `redis::cmd(..).query`,
/// `redis::Commands`, `redis::pipe()` and async code on tokio run against slotstore with no
/// socket, and against `redis::cluster::ClusterClient` in production.
///
/// Commands run through the cluster's [`Client`] (which follows `MOVED` and `ASK` and retries
/// `TRYAGAIN`, so none of them reaches the caller) and one [`Session`] (so `MULTI`/`EXEC`,
/// `WATCH` and `ASKING` keep their per-connection state). Where redis-rs's cluster connection
/// does something of its own, this connection does the same, so the code sees the same
/// replies in both places:
///
/// - `MGET`, `MSET`, `DEL`, `EXISTS`, `UNLINK` and `TOUCH` whose keys span slots are split
///   into one command per slot and their replies merged (`MGET` in key order, the counts
///   summed, `MSET` `OK` once every part succeeded). As on a real cluster the parts run one
///   after another, not atomically; the first failing part's error is the reply. With
///   [`allow_cross_slot`](crate::ClusterBuilder::allow_cross_slot) they run atomically
///   instead, with the same replies.
/// - Keyless commands redis-rs sends to every primary (`DBSIZE`, `FLUSHALL`, `KEYS`, `PING`)
///   answer for the whole cluster, as redis-rs's aggregation does. `INFO`, whose replies
///   redis-rs keeps apart, is a map of each primary's address to slotstore's (whole-store)
///   `INFO` text.
/// - `SCAN`, which redis-rs's cluster connection cannot route, is refused with its client
///   error (`This command cannot be safely routed in cluster mode`), as are the split
///   commands given no key.
/// - A pipeline's keyed commands must share one slot, as redis-rs's async cluster
///   connection requires (else `CROSSSLOT` `Received crossed slots in pipeline`, and nothing
///   runs). An atomic pipeline is `MULTI`/`EXEC` on that slot.
/// - Errors are the [`redis::RedisError`]s a socket's error reply gives (`kind()`, `code()`,
///   `detail()`), e.g. `ErrorKind::Server(ServerErrorKind::CrossSlot)`; `WRONGTYPE` and `OOM`
///   are extension errors with their code, as redis-rs parses them.
///
/// Blocking commands (`BLPOP`, ...) block the calling thread; on tokio the async side runs
/// them on the blocking pool, so they never stall the runtime.
///
/// Cloning gives a new connection (a fresh session) to the same cluster.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use slotstore::redis::{self, Commands};
///
/// let cluster = slotstore::Cluster::builder().primaries(3).build()?;
/// let mut con = cluster.redis_connection();
/// let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con)?;
/// let v: String = con.get("k")?;
/// assert_eq!(v, "v");
/// // Keys in different slots: split by slot, as redis-rs's cluster connection does.
/// let _: () = con.mset(&[("a", 1), ("b", 2), ("c", 3)])?;
/// let vs: Vec<i64> = con.mget(&["a", "b", "c"])?;
/// assert_eq!(vs, vec![1, 2, 3]);
/// // Commands a real cluster refuses across slots are refused here too.
/// let err = con.sunion::<_, Vec<String>>(&["a", "b"]).unwrap_err();
/// assert_eq!(err.code(), Some("CROSSSLOT"));
/// # Ok(()) }
/// ```
pub struct RedisConnection {
    client: Client,
    session: Session,
}

impl Cluster {
    /// A new in-process connection for code written against redis-rs (feature `redis`); see
    /// [`RedisConnection`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use slotstore::redis::{self, ConnectionLike};
    /// let cluster = slotstore::Cluster::builder().primaries(3).build()?;
    /// let mut con = cluster.redis_connection();
    /// let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con)?;
    /// assert!(con.check_connection());
    /// # Ok(()) }
    /// ```
    pub fn redis_connection(&self) -> RedisConnection {
        RedisConnection::new(self.client())
    }
}

impl Clone for RedisConnection {
    fn clone(&self) -> Self {
        RedisConnection::new(self.client.clone())
    }
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("in_transaction", &self.session.in_transaction())
            .finish()
    }
}

/// How redis-rs's cluster connection routes a command this connection treats specially.
enum Route {
    /// One command per slot; replies merged by the policy.
    Split { pairs: bool, merge: Merge },
    /// redis-rs cannot route it in cluster mode (`SCAN`).
    Unroutable,
    /// Sent to every primary, the replies kept apart by node address (`INFO`).
    PerPrimary,
    /// As one command.
    Plain,
}

/// redis-rs's `ResponsePolicy` for the split commands.
#[derive(Clone, Copy)]
enum Merge {
    /// `MGET`: the values, back in key order.
    Combine,
    /// `DEL`, `EXISTS`, `UNLINK`, `TOUCH`: the counts summed.
    Sum,
    /// `MSET`: `OK` once every part succeeded.
    AllSucceeded,
}

fn route(name: &[u8]) -> Route {
    let split = |pairs, merge| Route::Split { pairs, merge };
    // Compared in place: this runs on every command, so no uppercase copy.
    let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
    if is("MGET") {
        split(false, Merge::Combine)
    } else if is("DEL") || is("EXISTS") || is("UNLINK") || is("TOUCH") {
        split(false, Merge::Sum)
    } else if is("MSET") {
        split(true, Merge::AllSucceeded)
    } else if is("SCAN") {
        Route::Unroutable
    } else if is("INFO") {
        Route::PerPrimary
    } else {
        Route::Plain
    }
}

impl RedisConnection {
    fn new(client: Client) -> RedisConnection {
        RedisConnection { session: client.session(), client }
    }

    /// One command as redis-rs's cluster connection runs it: split by slot where it splits,
    /// refused where it cannot route.
    fn request(&mut self, args: &[&[u8]]) -> RedisResult<Value> {
        let Some(name) = args.first() else {
            return Err(RedisError::from((ErrorKind::Client, "empty command")));
        };
        if self.session.in_transaction() {
            return Ok(self.run(args));
        }
        match route(name) {
            Route::Unroutable => Err(unroutable()),
            Route::PerPrimary => Ok(self.per_primary(args)),
            // No key at all: redis-rs finds no slot to route to and refuses it itself.
            Route::Split { .. } if args.len() == 1 => Err(unroutable()),
            Route::Split { pairs, merge } if !self.client.allows_cross_slot() => {
                Ok(self.split(args, pairs, merge))
            }
            _ => Ok(self.run(args)),
        }
    }

    /// One command through the session; an error becomes the error value a socket gives.
    fn run(&mut self, args: &[&[u8]]) -> Value {
        match self.session.command(args) {
            Ok(reply) => convert::value(reply),
            Err(e) => convert::server_error(&e),
        }
    }

    /// A command redis-rs sends to every primary without merging the replies: a map of node
    /// address to reply. slotstore answers for the whole store, so each primary's entry
    /// holds that one answer.
    fn per_primary(&mut self, args: &[&[u8]]) -> Value {
        match self.run(args) {
            e @ Value::ServerError(_) => e,
            reply => {
                let t = self.client.topology();
                let entry = |p| (Value::BulkString(t.addr(p).to_string().into_bytes()), reply.clone());
                Value::Map(t.primaries().into_iter().map(entry).collect())
            }
        }
    }

    /// A multi-key command split by slot, as redis-rs's `MultiSlot` routing splits it.
    fn split(&mut self, args: &[&[u8]], pairs: bool, merge: Merge) -> Value {
        let step = if pairs { 2 } else { 1 };
        let rest = &args[1..];
        // An odd MSET: not splittable; the command's own error answers.
        if rest.is_empty() || rest.len() % step != 0 {
            return self.run(args);
        }
        // Slots in first-seen order, each with the positions (in units of `step`) of its keys.
        let mut groups: Vec<(u16, Vec<usize>)> = Vec::new();
        for (i, unit) in rest.chunks(step).enumerate() {
            let slot = key_slot(unit[0]);
            match groups.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, at)) => at.push(i),
                None => groups.push((slot, vec![i])),
            }
        }
        if groups.len() == 1 {
            return self.run(args);
        }
        let units = rest.len() / step;
        let mut values = vec![Value::Nil; units];
        let mut sum = 0i64;
        let mut first_error = None;
        for (_, at) in &groups {
            let mut part: Vec<&[u8]> = Vec::with_capacity(1 + at.len() * step);
            part.push(args[0]);
            for &i in at {
                part.extend_from_slice(&rest[i * step..(i + 1) * step]);
            }
            match (self.run(&part), merge) {
                (e @ Value::ServerError(_), _) => {
                    first_error.get_or_insert(e);
                }
                (Value::Array(items), Merge::Combine) if items.len() == at.len() => {
                    for (&i, v) in at.iter().zip(items) {
                        values[i] = v;
                    }
                }
                (Value::Int(n), Merge::Sum) => sum += n,
                (Value::Okay, Merge::AllSucceeded) => {}
                (other, _) => {
                    first_error.get_or_insert(Value::ServerError(unexpected(&other)));
                }
            }
        }
        if let Some(e) = first_error {
            return e;
        }
        match merge {
            Merge::Combine => Value::Array(values),
            Merge::Sum => Value::Int(sum),
            Merge::AllSucceeded => Value::Okay,
        }
    }

    /// A pipeline as redis-rs's async cluster connection sends it: every keyed command on one
    /// slot, then the commands in order on one connection. `offset` and `count` select the
    /// replies the caller reads (for an atomic pipeline, only `EXEC`'s); an error queued
    /// inside `MULTI` makes the whole transaction fail with `EXECABORT`, as redis-rs reports
    /// it.
    fn pipeline(
        &mut self,
        commands: &[Vec<&[u8]>],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        pipeline_slot(commands)?;
        let mut replies: Vec<Value> = commands.iter().map(|c| self.run(c)).collect();
        if offset > 0 {
            // The replies before `offset` are MULTI's OK and the QUEUED of each command.
            if let Some(Value::ServerError(_)) =
                replies[..offset].iter().find(|v| matches!(v, Value::ServerError(_)))
            {
                return Err(convert::error(&Error::ExecAbort));
            }
        }
        if offset + count > replies.len() {
            return Err(RedisError::from((
                ErrorKind::Client,
                "slotstore: pipeline reply count out of range",
            )));
        }
        replies.truncate(offset + count);
        Ok(replies.split_off(offset))
    }

    /// True if `args` is `WAIT` outside a transaction (it waits for replicas).
    fn waits(&self, args: &[&[u8]]) -> bool {
        !self.session.in_transaction() && args.first().is_some_and(|n| n.eq_ignore_ascii_case(b"WAIT"))
    }

    /// True if `args` is a blocking command outside a transaction (run off the async runtime).
    fn blocks(&self, args: &[&[u8]]) -> bool {
        !self.session.in_transaction()
            && args
                .first()
                .and_then(|n| lookup(n))
                .is_some_and(|s| matches!(s.handler, Handler::Blocking(..)))
    }
}

/// The one slot of a pipeline's keyed commands; commands whose keys span slots (which
/// redis-rs routes to several nodes) and keyless commands do not choose it.
///
/// # Errors
/// `CROSSSLOT` `Received crossed slots in pipeline`, as redis-rs's async cluster connection
/// raises before sending anything.
fn pipeline_slot(commands: &[Vec<&[u8]>]) -> RedisResult<Option<u16>> {
    let mut chosen = None;
    for args in commands {
        let Some(spec) = args.first().and_then(|n| lookup(n)) else { continue };
        if spec.check_arity(args.len()).is_err() {
            continue;
        }
        let Ok(Some(slot)) = spec.slot(args) else { continue };
        match chosen {
            None => chosen = Some(slot),
            Some(s) if s != slot => {
                return Err(RedisError::from((
                    ErrorKind::Server(ServerErrorKind::CrossSlot),
                    "Received crossed slots in pipeline",
                )));
            }
            Some(_) => {}
        }
    }
    Ok(chosen)
}

fn unroutable() -> RedisError {
    RedisError::from((ErrorKind::Client, "This command cannot be safely routed in cluster mode"))
}

fn unexpected(v: &Value) -> redis::ServerError {
    match convert::server_error(&Error::Command(format!(
        "slotstore: unexpected reply in a split command: {v:?}"
    ))) {
        Value::ServerError(e) => e,
        _ => unreachable!("an error line parses as an error"),
    }
}

/// The words of a `Cmd`; None if it has a cursor argument (only `SCAN`-style iterators
/// use one), whose value only its packed form shows.
fn words(cmd: &Cmd) -> Option<Vec<&[u8]>> {
    cmd.args_iter()
        .map(|a| match a {
            redis::Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect()
}

impl redis::ConnectionLike for RedisConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let mut commands = resp::parse_commands(cmd)?;
        match commands.len() {
            1 => {
                let args = commands.pop().expect("one command");
                self.request(&args).and_then(Value::extract_error)
            }
            // A packed `MULTI ... EXEC` sent as one request: a transaction pipeline.
            n if n > 1 => {
                let mut replies = self.pipeline(&commands, n - 1, 1)?;
                replies.pop().expect("one reply").extract_error()
            }
            _ => Err(RedisError::from((ErrorKind::Client, "empty command"))),
        }
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match words(cmd) {
            Some(args) => self.request(&args).and_then(Value::extract_error),
            None => self.req_packed_command(&cmd.get_packed_command()),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let commands = resp::parse_commands(cmd)?;
        self.pipeline(&commands, offset, count)
    }

    fn get_db(&self) -> i64 {
        0
    }

    fn check_connection(&mut self) -> bool {
        matches!(self.session.command(&["PING"]), Ok(Reply::Simple(ref s)) if s == "PONG")
    }

    fn is_open(&self) -> bool {
        true
    }
}
