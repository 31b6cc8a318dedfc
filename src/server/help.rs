//! `<COMMAND> HELP` for the container commands: the subcommands slotstore-server answers, in
//! the layout Redis uses (a usage line, then each subcommand's syntax and an indented line
//! saying what it does, `HELP` last), as simple strings.

use crate::reply::Reply;

/// (syntax, what it does) of each subcommand of a container command, `HELP` excluded.
type Subcommands = &'static [(&'static str, &'static str)];

const CLIENT: Subcommands = &[
    ("GETNAME", "Return the name of this connection."),
    ("GETREDIR", "Return the client id tracking invalidations are redirected to (-1: none)."),
    ("ID", "Return this connection's id."),
    ("INFO", "Return information about this connection."),
    ("KILL <ip:port>", "Close the connection from <ip:port>."),
    ("KILL <option> <value> [<option> <value> [...]]", "Close the connections matching every option:"),
    ("     * ID <client-id>", "       The connection with this id."),
    ("     * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "       Connections of this type."),
    ("     * USER <username>", "       Connections of this user."),
    ("     * ADDR <ip:port> | LADDR <ip:port>", "       The connection from, or to, this address."),
    ("     * SKIPME (YES|NO)", "       Leave the asking connection open (YES, the default)."),
    ("LIST [TYPE <type>] [ID <id> [<id> ...]]", "List connections, all or those matching."),
    ("NO-EVICT (ON|OFF)", "Accepted, with no effect: no connection is evicted."),
    ("NO-TOUCH (ON|OFF)", "Accepted, with no effect."),
    (
        "PAUSE <timeout> [WRITE|ALL]",
        "Hold clients' commands (all, or those that write) for <timeout> ms.",
    ),
    ("REPLY (ON|OFF|SKIP)", "Send replies, send none, or skip the next command's."),
    ("SETINFO (LIB-NAME|LIB-VER) <value>", "Record the client library's name or version."),
    ("SETNAME <name>", "Name this connection."),
    (
        "UNBLOCK <client-id> [TIMEOUT|ERROR]",
        "Answer a connection blocked in a command, as a timeout or an error.",
    ),
    ("UNPAUSE", "End a pause."),
];

const CLUSTER: Subcommands = &[
    ("COUNTKEYSINSLOT <slot>", "Return the number of keys in <slot>."),
    ("COUNT-FAILURE-REPORTS <node-id>", "Return the failure reports about <node-id>."),
    ("FAILOVER [FORCE|TAKEOVER]", "Promote this replica to primary of its shard."),
    ("GETKEYSINSLOT <slot> <count>", "Return up to <count> key names in <slot>."),
    ("INFO", "Return the cluster's state and counters."),
    ("KEYSLOT <key>", "Return the hash slot of <key>."),
    ("LINKS", "Return this node's links to the other nodes."),
    ("MYID", "Return this node's id."),
    ("MYSHARDID", "Return this node's shard id."),
    ("NODES", "Return the cluster's nodes, one line each."),
    ("REPLICAS <node-id>", "Return the replicas of <node-id>."),
    ("SAVECONFIG", "Accepted: the cluster's configuration lives in the process."),
    (
        "SETSLOT <slot> (IMPORTING|MIGRATING|STABLE|NODE) [<node-id>]",
        "Change <slot>'s state, as a migration does.",
    ),
    ("SHARDS", "Return the cluster's shards, their slots and nodes."),
    ("SLAVES <node-id>", "Return the replicas of <node-id> (the old name of REPLICAS)."),
    ("SLOTS", "Return the cluster's slot ranges and the nodes serving them."),
];

const COMMAND: Subcommands = &[
    ("(no subcommand)", "Return details about every command."),
    ("COUNT", "Return the number of commands."),
    ("DOCS [<command-name> ...]", "Return documentation details about commands."),
    ("GETKEYS <full-command>", "Return the keys of a full command."),
    ("INFO [<command-name> ...]", "Return details about the commands named, or all."),
    ("LIST", "Return the command names."),
];

const CONFIG: Subcommands = &[
    (
        "GET <pattern> [<pattern> ...]",
        "Return the parameters matching the glob-like patterns, and their values.",
    ),
    ("SET <directive> <value> [<directive> <value> ...]", "Set parameters."),
    ("RESETSTAT", "Reset the statistics INFO reports."),
    ("REWRITE", "Refused: the server runs without a configuration file."),
];

const MEMORY: Subcommands =
    &[("USAGE <key> [SAMPLES <count>]", "Return the bytes <key> and its value take.")];

const OBJECT: Subcommands = &[
    ("ENCODING <key>", "Return how <key>'s value is stored."),
    ("FREQ <key>", "Return <key>'s access frequency (an LFU policy tracks it)."),
    ("IDLETIME <key>", "Return the seconds since <key> was last used (any policy but LFU)."),
    ("REFCOUNT <key>", "Return the number of references to <key>'s value."),
];

const PUBSUB: Subcommands = &[
    ("CHANNELS [<pattern>]", "Return the active channels matching <pattern> (all without one)."),
    ("NUMPAT", "Return the number of patterns subscribed."),
    ("NUMSUB [<channel> ...]", "Return the number of subscribers of each channel."),
    ("SHARDCHANNELS [<pattern>]", "Return the active shard channels matching <pattern>."),
    ("SHARDNUMSUB [<shardchannel> ...]", "Return the number of subscribers of each shard channel."),
];

const SLOWLOG: Subcommands = &[
    ("GET [<count>]", "Return the newest <count> entries of the slow log (default 10, -1: all)."),
    (
        "    Each entry is made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port, client name",
    ),
    ("LEN", "Return the number of entries in the slow log."),
    ("RESET", "Empty the slow log."),
];

const XGROUP: Subcommands = &[
    (
        "CREATE <key> <groupname> <id|$> [MKSTREAM] [ENTRIESREAD <n>]",
        "Create a consumer group reading after <id> ($: the last entry).",
    ),
    ("CREATECONSUMER <key> <groupname> <consumer>", "Create a consumer in a group."),
    ("DELCONSUMER <key> <groupname> <consumer>", "Delete a consumer and its pending entries."),
    ("DESTROY <key> <groupname>", "Delete a consumer group."),
    ("SETID <key> <groupname> <id|$> [ENTRIESREAD <n>]", "Set the group's last delivered ID."),
];

const XINFO: Subcommands = &[
    ("CONSUMERS <key> <groupname>", "Return the consumers of a group."),
    ("GROUPS <key>", "Return the consumer groups of a stream."),
    (
        "STREAM <key> [FULL [COUNT <count>]]",
        "Return information about a stream (FULL: with its entries and groups).",
    ),
];

/// True if `sub` (lowercase) is a subcommand of container command `name` (lowercase); None
/// for a command without a subcommand table here.
pub(crate) fn has_subcommand(name: &[u8], sub: &str) -> Option<bool> {
    let subs = subcommands(name)?;
    // A subcommand is the first word of its syntax (option rows are indented).
    Some(
        sub == "help"
            || subs
                .iter()
                .any(|(syntax, _)| syntax.split(' ').next() == Some(sub.to_ascii_uppercase().as_str())),
    )
}

/// The subcommands of container command `name` (lowercase); None for other commands.
fn subcommands(name: &[u8]) -> Option<Subcommands> {
    Some(match name {
        b"client" => CLIENT,
        b"cluster" => CLUSTER,
        b"command" => COMMAND,
        b"config" => CONFIG,
        b"memory" => MEMORY,
        b"object" => OBJECT,
        b"pubsub" => PUBSUB,
        b"slowlog" => SLOWLOG,
        b"xgroup" => XGROUP,
        b"xinfo" => XINFO,
        _ => return None,
    })
}

/// `HELP`'s reply for container command `name` (lowercase); None for other commands.
pub(crate) fn help(name: &[u8]) -> Option<Reply> {
    let subs = subcommands(name)?;
    let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
    let mut lines = vec![format!("{upper} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")];
    for (syntax, what) in subs.iter().chain(&[("HELP", "Print this help.")]) {
        lines.push((*syntax).to_string());
        // Option lines come indented already; a subcommand's description is indented here.
        lines.push(if what.starts_with(' ') { (*what).to_string() } else { format!("    {what}") });
    }
    Some(Reply::Array(lines.into_iter().map(Reply::Simple).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_the_subcommands_with_help_last() {
        let Some(Reply::Array(lines)) = help(b"xgroup") else { panic!("xgroup has help") };
        assert_eq!(
            lines[0],
            Reply::Simple("XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
        );
        assert_eq!(lines.len(), 1 + 2 * (XGROUP.len() + 1));
        assert_eq!(lines[lines.len() - 2], Reply::Simple("HELP".into()));
        assert_eq!(lines[lines.len() - 1], Reply::Simple("    Print this help.".into()));
        assert!(help(b"get").is_none());
    }
}
