//! Connection and server commands that need no keys: PING, ECHO, WAIT.

use super::{Keyless, Spec};
use crate::error::Error;
use crate::reply::Reply;

/// `PING [message]`.
pub(crate) fn ping(a: &[&[u8]]) -> Result<Reply, Error> {
    match a {
        [_] => Ok(Reply::Simple("PONG".into())),
        [_, msg] => Ok(Reply::bulk(msg)),
        _ => Err(Error::arity("ping")),
    }
}

/// `ECHO message`.
pub(crate) fn echo(a: &[&[u8]]) -> Result<Reply, Error> {
    Ok(Reply::bulk(a[1]))
}

/// The commands of this family.
pub(crate) static COMMANDS: &[Spec] = &[
    Spec::keyless("ping", -1, Keyless::Ping),
    Spec::keyless("echo", 2, Keyless::Echo),
    Spec::keyless("cluster", -2, Keyless::Cluster),
    Spec::keyless("unwatch", 1, Keyless::Unwatch),
    Spec::keyless("info", -1, Keyless::Info),
    Spec::keyless("config", -2, Keyless::Config),
    Spec::keyless("multi", 1, Keyless::NeedsSession),
    Spec::keyless("exec", 1, Keyless::NeedsSession),
    Spec::keyless("discard", 1, Keyless::NeedsSession),
    Spec::keyless("watch", -2, Keyless::NeedsSession),
    Spec::keyless("readonly", 1, Keyless::NeedsSession),
    Spec::keyless("readwrite", 1, Keyless::NeedsSession),
    Spec::keyless("wait", 3, Keyless::Wait),
    Spec::keyless("asking", 1, Keyless::NeedsSession),
    Spec::keyless("migrate", -6, Keyless::Migrate),
];

/// `WAIT numreplicas timeout`: the count and the timeout (None: wait forever).
pub(crate) fn parse_wait(a: &[&[u8]]) -> Result<(usize, Option<std::time::Duration>), Error> {
    let n = super::args::int(a[1])?;
    let timeout = super::args::int(a[2])?;
    if n < 0 {
        return Err(Error::msg("value is out of range, must be positive"));
    }
    if timeout < 0 {
        return Err(Error::msg("timeout is negative"));
    }
    let timeout = (timeout > 0).then(|| std::time::Duration::from_millis(timeout as u64));
    Ok((n as usize, timeout))
}
