//! Lists: command semantics and Redis's exact error texts, blocked callers under concurrency
//! (wake-up, FIFO order, no element lost or duplicated, timeouts, slot migration, BLMOVE
//! chains).
//!
//! Expected replies are written as redis-cli prints them (`Reply`'s `Display`), copied from
//! redis-server 7.0.15. The random comparison against a real redis-server lives in
//! `tests/differential_redis.rs`.

use slotstore::{key_slot, Client, Cluster, Reply};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs a command given as space-separated words; the reply or error as redis-cli shows it.
fn cli(c: &Client, line: &str) -> String {
    match c.command(&line.split_whitespace().collect::<Vec<_>>()) {
        Ok(r) => r.to_string(),
        Err(e) => format!("(error) {e}"),
    }
}

/// Runs each `command => expected` line of `script` and checks the replies.
fn check(c: &Client, script: &str) {
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (cmd, want) = line.split_once(" => ").unwrap_or_else(|| panic!("no ' => ' in {line}"));
        assert_eq!(cli(c, cmd).replace('\n', "|"), want, "{cmd}");
    }
}

fn store() -> Client {
    Cluster::builder().primaries(3).build().unwrap().client()
}

/// The list at `key` with its TTL state, to check that a refused command changed nothing.
fn snapshot(c: &Client, key: &str) -> (String, String) {
    (cli(c, &format!("LRANGE {key} 0 -1")), cli(c, &format!("TTL {key}")))
}

#[test]
fn pushes_pops_and_ranges() {
    let c = store();
    check(
        &c,
        r#"
        RPUSH l a b c => (integer) 3
        LPUSH l y z => (integer) 5
        LRANGE l 0 -1 => 1) "z"|2) "y"|3) "a"|4) "b"|5) "c"
        LPUSHX nokey x => (integer) 0
        EXISTS nokey => (integer) 0
        RPUSHX l d => (integer) 6
        LLEN l => (integer) 6
        LLEN nokey => (integer) 0
        LINDEX l 0 => "z"
        LINDEX l -1 => "d"
        LINDEX l 6 => (nil)
        LINDEX l -7 => (nil)
        LINDEX nokey abc => (nil)
        LRANGE l -100 1 => 1) "z"|2) "y"
        LRANGE l 3 100 => 1) "b"|2) "c"|3) "d"
        LRANGE l 3 1 => (empty array)
        LRANGE l -1 -2 => (empty array)
        LRANGE l 9223372036854775807 -9223372036854775808 => (empty array)
        LRANGE nokey 0 -1 => (empty array)
        LPOP l => "z"
        RPOP l => "d"
        LPOP l 0 => (empty array)
        LPOP l 2 => 1) "y"|2) "a"
        RPOP l 1 => 1) "c"
        RPOP l 5 => 1) "b"
        EXISTS l => (integer) 0
        LPOP l => (nil)
        LPOP l 0 => (nil)
        RPOP nokey 3 => (nil)
        "#,
    );
}

#[test]
fn set_insert_rem_trim_pos() {
    let c = store();
    check(
        &c,
        r#"
        RPUSH l a b c => (integer) 3
        LSET l -2 x => OK
        LSET l 0 A => OK
        LRANGE l 0 -1 => 1) "A"|2) "x"|3) "c"
        LINSERT l BEFORE x b => (integer) 4
        LINSERT l after c d => (integer) 5
        LINSERT l before nothere q => (integer) -1
        LINSERT nokey before a b => (integer) 0
        LRANGE l 0 -1 => 1) "A"|2) "b"|3) "x"|4) "c"|5) "d"
        DEL l => (integer) 1
        RPUSH r a b a c a b a => (integer) 7
        LREM r -2 a => (integer) 2
        LRANGE r 0 -1 => 1) "a"|2) "b"|3) "a"|4) "c"|5) "b"
        LREM r 0 b => (integer) 2
        LREM r 1 a => (integer) 1
        LREM r 1 zz => (integer) 0
        LREM nokey 1 a => (integer) 0
        LRANGE r 0 -1 => 1) "a"|2) "c"
        LREM r 0 a => (integer) 1
        LREM r 0 c => (integer) 1
        EXISTS r => (integer) 0
        RPUSH t 0 1 2 3 4 5 => (integer) 6
        LTRIM t 1 -2 => OK
        LRANGE t 0 -1 => 1) "1"|2) "2"|3) "3"|4) "4"
        LTRIM t -1 100 => OK
        LRANGE t 0 -1 => 1) "4"
        LTRIM t 5 10 => OK
        EXISTS t => (integer) 0
        LTRIM nokey 0 1 => OK
        RPUSH p a b c a b c a => (integer) 7
        LPOS p a => (integer) 0
        LPOS p a RANK 2 => (integer) 3
        LPOS p a rank -1 => (integer) 6
        LPOS p a RANK -2 COUNT 0 => 1) (integer) 3|2) (integer) 0
        LPOS p a COUNT 0 => 1) (integer) 0|2) (integer) 3|3) (integer) 6
        LPOS p a COUNT 2 MAXLEN 4 => 1) (integer) 0|2) (integer) 3
        LPOS p c RANK -1 MAXLEN 2 => (integer) 5
        LPOS p c RANK -1 MAXLEN 1 => (nil)
        LPOS p z => (nil)
        LPOS p z COUNT 1 => (empty array)
        LPOS p a RANK 5 => (nil)
        LPOS p a RANK 1 RANK 2 => (integer) 3
        LPOS p a RANK 9223372036854775807 => (nil)
        LPOS p a RANK -9223372036854775808 COUNT 2 => 1) (integer) 6|2) (integer) 3|3) (integer) 0
        LPOS nokey a => (nil)
        LPOS nokey a COUNT 0 => (empty array)
        "#,
    );
}

#[test]
fn move_and_multi_pop() {
    let c = store();
    check(
        &c,
        r#"
        RPUSH {t}a 1 2 3 => (integer) 3
        LMOVE {t}a {t}b LEFT RIGHT => "1"
        LMOVE {t}a {t}b right left => "3"
        LRANGE {t}b 0 -1 => 1) "3"|2) "1"
        RPOPLPUSH {t}a {t}b => "2"
        EXISTS {t}a => (integer) 0
        LRANGE {t}b 0 -1 => 1) "2"|2) "3"|3) "1"
        LMOVE {t}b {t}b LEFT RIGHT => "2"
        LRANGE {t}b 0 -1 => 1) "3"|2) "1"|3) "2"
        LMOVE {t}none {t}b LEFT LEFT => (nil)
        RPOPLPUSH {t}none {t}b => (nil)
        LMPOP 2 {t}none {t}b RIGHT COUNT 2 => 1) "{t}b"|2) 1) "2"|   2) "1"
        LMPOP 2 {t}none {t}b left count 5 => 1) "{t}b"|2) 1) "3"
        LMPOP 2 {t}none {t}b LEFT => (nil)
        EXISTS {t}b => (integer) 0
        RPUSH {t}c x => (integer) 1
        BLMPOP 0 2 {t}none {t}c LEFT COUNT 3 => 1) "{t}c"|2) 1) "x"
        RPUSH {t}c x y => (integer) 2
        BLPOP {t}none {t}c 0 => 1) "{t}c"|2) "x"
        BRPOP {t}c 0 => 1) "{t}c"|2) "y"
        RPUSH {t}d 1 2 => (integer) 2
        BRPOPLPUSH {t}d {t}e 0 => "2"
        BLMOVE {t}d {t}e LEFT LEFT 0 => "1"
        LRANGE {t}e 0 -1 => 1) "1"|2) "2"
        "#,
    );
}

/// Pushes and moves keep the TTL of a list changed in place; an emptied list is deleted (and
/// with it its TTL); a one-element rotation keeps the key.
#[test]
fn ttl_is_kept_by_list_writes() {
    let c = store();
    check(
        &c,
        r#"
        RPUSH {t}l a => (integer) 1
        EXPIRE {t}l 100 => (integer) 1
        RPUSH {t}l b => (integer) 2
        LMOVE {t}l {t}l LEFT RIGHT => "a"
        LSET {t}l 0 c => OK
        LINSERT {t}l AFTER c d => (integer) 3
        LREM {t}l 1 d => (integer) 1
        LTRIM {t}l 0 -1 => OK
        TTL {t}l => (integer) 100
        LPOP {t}l 2 => 1) "c"|2) "a"
        TTL {t}l => (integer) -2
        RPUSH {t}l x => (integer) 1
        TTL {t}l => (integer) -1
        EXPIRE {t}l 100 => (integer) 1
        LMOVE {t}l {t}l LEFT LEFT => "x"
        TTL {t}l => (integer) 100
        RPUSH {t}d q => (integer) 1
        EXPIRE {t}d 50 => (integer) 1
        LMOVE {t}l {t}d LEFT LEFT => "x"
        TTL {t}d => (integer) 50
        EXISTS {t}l => (integer) 0
        "#,
    );
}

#[test]
fn wrong_type_everywhere() {
    let c = store();
    c.set("{t}s", "v").unwrap();
    c.rpush("{t}l", &["a"]).unwrap();
    let wrong = "(error) WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in [
        "LPUSH {t}s x",
        "RPUSH {t}s x",
        "LPUSHX {t}s x",
        "RPUSHX {t}s x",
        "LPOP {t}s",
        "RPOP {t}s 0",
        "LLEN {t}s",
        "LINDEX {t}s 0",
        "LINDEX {t}s abc",
        "LRANGE {t}s 0 -1",
        "LSET {t}s 0 x",
        "LSET {t}s abc x",
        "LREM {t}s 0 x",
        "LTRIM {t}s 0 1",
        "LINSERT {t}s BEFORE a b",
        "LPOS {t}s a",
        "LMOVE {t}s {t}l LEFT LEFT",
        "LMOVE {t}l {t}s LEFT LEFT",
        "RPOPLPUSH {t}l {t}s",
        "LMPOP 2 {t}s {t}l LEFT",
        "BLPOP {t}s {t}l 0",
        "BRPOP {t}none {t}s 0.01",
        "BLMOVE {t}s {t}l LEFT LEFT 0",
        "BLMOVE {t}l {t}s LEFT LEFT 0",
        "BRPOPLPUSH {t}l {t}s 0",
        "BLMPOP 0 1 {t}s LEFT",
    ] {
        assert_eq!(cli(&c, cmd), wrong, "{cmd}");
    }
    // A key after the first non-empty list is never looked at; a missing source never
    // checks the destination.
    check(
        &c,
        r#"
        LMPOP 2 {t}l {t}s LEFT => 1) "{t}l"|2) 1) "a"
        LMOVE {t}none {t}s LEFT LEFT => (nil)
        GET {t}s => "v"
        "#,
    );
}

/// Bad input answers Redis's exact text and changes nothing.
#[test]
fn bad_input_changes_nothing() {
    let c = store();
    c.rpush("{t}l", &["a", "b", "c"]).unwrap();
    c.command(&["EXPIRE", "{t}l", "1000"]).unwrap();
    let before = snapshot(&c, "{t}l");
    let arity = |name: &str| format!("(error) ERR wrong number of arguments for '{name}' command");
    let not_int = "(error) ERR value is not an integer or out of range";
    let syntax = "(error) ERR syntax error";
    let cases: Vec<(&str, String)> = vec![
        ("LPUSH {t}l", arity("lpush")),
        ("RPUSHX {t}l", arity("rpushx")),
        ("LPOP", arity("lpop")),
        ("LPOP {t}l 1 2", arity("lpop")),
        ("RPOP {t}l 1 2", arity("rpop")),
        ("LRANGE {t}l 0", arity("lrange")),
        ("LINDEX {t}l", arity("lindex")),
        ("LSET {t}l 0", arity("lset")),
        ("LINSERT {t}l BEFORE a", arity("linsert")),
        ("LREM {t}l 0", arity("lrem")),
        ("LTRIM {t}l 0", arity("ltrim")),
        ("LPOS {t}l", arity("lpos")),
        ("LMOVE {t}l {t}m LEFT", arity("lmove")),
        ("RPOPLPUSH {t}l", arity("rpoplpush")),
        ("LMPOP 1 {t}l", arity("lmpop")),
        ("BLPOP {t}l", arity("blpop")),
        ("BRPOPLPUSH {t}l {t}m", arity("brpoplpush")),
        ("BLMOVE {t}l {t}m LEFT LEFT", arity("blmove")),
        ("BLMPOP 0 1 {t}l", arity("blmpop")),
        ("LPOP {t}l -1", "(error) ERR value is out of range, must be positive".into()),
        ("LPOP {t}l abc", "(error) ERR value is out of range, must be positive".into()),
        ("LRANGE {t}l a 1", not_int.into()),
        ("LRANGE {t}l 0 1.5", not_int.into()),
        ("LINDEX {t}l x", not_int.into()),
        ("LSET {t}l x v", not_int.into()),
        ("LSET {t}l 3 v", "(error) ERR index out of range".into()),
        ("LSET {t}l -4 v", "(error) ERR index out of range".into()),
        ("LSET {t}nokey 0 v", "(error) ERR no such key".into()),
        ("LSET {t}nokey abc v", "(error) ERR no such key".into()),
        ("LREM {t}l x a", not_int.into()),
        ("LTRIM {t}l 0 x", not_int.into()),
        ("LTRIM {t}l 01 2", not_int.into()),
        ("LINSERT {t}l MIDDLE a b", syntax.into()),
        ("LINSERT {t}nokey MIDDLE a b", syntax.into()),
        ("LPOS {t}l a FOO 1", syntax.into()),
        ("LPOS {t}l a RANK", syntax.into()),
        ("LPOS {t}l a COUNT 1 MAXLEN", syntax.into()),
        ("LPOS {t}l a RANK abc", not_int.into()),
        ("LPOS {t}l a RANK 0", "(error) ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into()),
        ("LPOS {t}nokey a RANK 0 FOO", "(error) ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into()),
        ("LPOS {t}l a COUNT -1", "(error) ERR COUNT can't be negative".into()),
        ("LPOS {t}l a COUNT abc", "(error) ERR COUNT can't be negative".into()),
        ("LPOS {t}l a MAXLEN -1", "(error) ERR MAXLEN can't be negative".into()),
        ("LMOVE {t}l {t}m UP LEFT", syntax.into()),
        ("LMOVE {t}l {t}m LEFT DOWN", syntax.into()),
        ("LMPOP 0 {t}l LEFT", "(error) ERR numkeys should be greater than 0".into()),
        ("LMPOP abc {t}l LEFT", "(error) ERR numkeys should be greater than 0".into()),
        ("LMPOP -1 {t}l LEFT", "(error) ERR numkeys should be greater than 0".into()),
        ("LMPOP 9223372036854775808 {t}l LEFT", "(error) ERR numkeys should be greater than 0".into()),
        ("LMPOP 2 {t}l {t}LEFT", syntax.into()),
        ("LMPOP 3 {t}l LEFT", syntax.into()),
        ("LMPOP 9223372036854775807 {t}l LEFT", syntax.into()),
        ("LMPOP 1 {t}l UP", syntax.into()),
        ("LMPOP 1 {t}l LEFT COUNT 0", "(error) ERR count should be greater than 0".into()),
        ("LMPOP 1 {t}l LEFT COUNT abc", "(error) ERR count should be greater than 0".into()),
        ("LMPOP 1 {t}l LEFT COUNT 1 COUNT 2", syntax.into()),
        ("LMPOP 1 {t}l LEFT COUNT", syntax.into()),
        ("LMPOP 1 {t}l LEFT FOO", syntax.into()),
        ("BLPOP {t}l abc", "(error) ERR timeout is not a float or out of range".into()),
        ("BLPOP {t}l -1", "(error) ERR timeout is negative".into()),
        ("BLPOP {t}l 0x10x", "(error) ERR timeout is not a float or out of range".into()),
        ("BRPOPLPUSH {t}l {t}m abc", "(error) ERR timeout is not a float or out of range".into()),
        ("BLMOVE {t}l {t}m LEFT LEFT abc", "(error) ERR timeout is not a float or out of range".into()),
        // Redis checks the directions before the timeout...
        ("BLMOVE {t}l {t}m LEFT UP abc", syntax.into()),
        // ...and BLMPOP's numkeys, direction and count too.
        ("BLMPOP abc 1 {t}l LEFT", "(error) ERR timeout is not a float or out of range".into()),
        ("BLMPOP 0 0 {t}l LEFT", "(error) ERR numkeys should be greater than 0".into()),
        ("BLMPOP abc 1 {t}l UP", syntax.into()),
        ("BLMPOP abc 2 {t}l {t}LEFT", syntax.into()),
        ("BLMPOP abc 3 {t}l LEFT", syntax.into()),
        ("BLMPOP abc 1 {t}l LEFT COUNT 0", "(error) ERR count should be greater than 0".into()),
        ("BLMPOP -1 1 {t}l LEFT", "(error) ERR timeout is negative".into()),
    ];
    for (cmd, want) in &cases {
        assert_eq!(&cli(&c, cmd), want, "{cmd}");
        assert_eq!(snapshot(&c, "{t}l"), before, "{cmd} changed the list");
        assert_eq!(cli(&c, "EXISTS {t}m {t}nokey"), "(integer) 0", "{cmd}");
    }
}

/// Keys of multi-key list commands must share a slot; `CROSSSLOT` comes before any other
/// error, as in Redis Cluster.
#[test]
fn cross_slot_is_refused_first() {
    let c = store();
    assert_ne!(key_slot("a"), key_slot("b"));
    c.rpush("a", &["1"]).unwrap();
    let cross = "(error) CROSSSLOT Keys in request don't hash to the same slot";
    for cmd in [
        "LMOVE a b LEFT LEFT",
        "LMOVE a b UP LEFT",
        "RPOPLPUSH a b",
        "LMPOP 2 a b LEFT",
        "LMPOP 2 a b UP",
        "BLPOP a b 0",
        "BLPOP a b abc",
        "BRPOP a b 0",
        "BLMOVE a b LEFT LEFT 0",
        "BLMOVE a b UP LEFT abc",
        "BRPOPLPUSH a b 0",
        "BLMPOP 0 2 a b LEFT",
        "BLMPOP abc 2 a b UP",
    ] {
        assert_eq!(cli(&c, cmd), cross, "{cmd}");
    }
    assert_eq!(c.lrange("a", 0, -1).unwrap(), ["1"]);
}

/// Elements of any size and lists of any length, across the packed and deque forms.
#[test]
fn large_lists_and_elements() {
    let c = store();
    let big = "x".repeat(1000);
    for i in 0..300 {
        let v = if i % 50 == 0 { big.clone() } else { i.to_string() };
        c.rpush("l", &[v]).unwrap();
    }
    assert_eq!(c.llen("l"), Ok(300));
    assert_eq!(c.lindex("l", 150).unwrap().unwrap(), big.as_str());
    assert_eq!(c.lindex("l", -1).unwrap().unwrap(), "299");
    assert_eq!(c.lrem("l", 0, &big), Ok(6));
    c.ltrim("l", 10, 19).unwrap();
    let want: Vec<String> = (11..21).map(|i| i.to_string()).collect();
    assert_eq!(c.lrange("l", 0, -1).unwrap(), want.iter().map(String::as_str).collect::<Vec<_>>());
    c.lset("l", 0, &big).unwrap();
    assert_eq!(c.lpos("l", &big), Ok(Some(0)));
    assert_eq!(c.lpop_count("l", 100).unwrap().len(), 10);
    assert_eq!(c.exists(&["l"]), Ok(0));
}

/// Only a list command that changes its key counts as a change for `WATCH`: refused and
/// no-op commands do not (Redis signals a key modified only when it changed), `LTRIM`
/// always does. Inside `MULTI`, blocking commands run once and answer nil instead of waiting.
#[test]
fn watch_sees_only_real_changes_and_multi_never_blocks() {
    let c = store();
    let mut s = c.session();
    let mut run = |line: &str| match s.command(&line.split_whitespace().collect::<Vec<_>>()) {
        Ok(r) => r.to_string().replace('\n', "|"),
        Err(e) => format!("(error) {e}"),
    };
    for (cmd, want) in [
        ("SET {t}s v", "OK"),
        ("RPUSH {t}l a b", "(integer) 2"),
        ("WATCH {t}s {t}l", "OK"),
        ("LPUSH {t}s x", "(error) WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("LREM {t}l 1 zz", "(integer) 0"),
        ("LINSERT {t}l before zz q", "(integer) -1"),
        ("LSET {t}l 5 x", "(error) ERR index out of range"),
        ("LPOP {t}l 0", "(empty array)"),
        ("LPUSHX {t}nokey a", "(integer) 0"),
        ("LMOVE {t}nokey {t}l left left", "(nil)"),
        ("MULTI", "OK"),
        ("GET {t}s", "QUEUED"),
        ("EXEC", "1) \"v\""),
        ("WATCH {t}l", "OK"),
        ("LTRIM {t}l 0 -1", "OK"),
        ("MULTI", "OK"),
        ("GET {t}s", "QUEUED"),
        ("EXEC", "(nil)"),
        ("MULTI", "OK"),
        ("BLPOP {t}nokey 0", "QUEUED"),
        ("RPUSH {t}nokey x", "QUEUED"),
        ("BLPOP {t}nokey 0", "QUEUED"),
        ("BLMOVE {t}nokey {t}l LEFT LEFT 0", "QUEUED"),
        ("EXEC", "1) (nil)|2) (integer) 1|3) 1) \"{t}nokey\"|   2) \"x\"|4) (nil)"),
    ] {
        assert_eq!(run(cmd), want, "{cmd}");
    }
}

// ----- blocked callers -----

/// A blocked caller wakes as soon as another thread pushes.
#[test]
fn blpop_wakes_on_push_from_another_thread() {
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let (waiter, pusher) = (cluster.client(), cluster.client());
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let got = waiter.blpop(&["queue"], Duration::from_secs(20));
        tx.send(Instant::now()).unwrap();
        got
    });
    until_blocked(&pusher, 1);
    assert!(cli(&pusher, "INFO clients").contains("blocked_clients:1"));
    let pushed = Instant::now();
    assert_eq!(pusher.rpush("queue", &["job"]), Ok(1));
    let woke = rx.recv_timeout(Duration::from_secs(10)).expect("the waiter woke");
    assert!(woke.duration_since(pushed) < Duration::from_secs(2), "{:?}", woke - pushed);
    let (key, v) = t.join().unwrap().unwrap().unwrap();
    assert_eq!((&*key, &*v), (&b"queue"[..], &b"job"[..]));
    assert_eq!(pusher.exists(&["queue"]), Ok(0), "the element went to the waiter only");
    assert_eq!(blocked(&pusher), 0);
}

/// Callers blocked now in the whole cluster (`blocked_clients` of `INFO clients`).
fn blocked(c: &Client) -> usize {
    c.stats().total.blocked_clients
}

/// Waits until exactly `n` callers are blocked.
fn until_blocked(c: &Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while blocked(c) != n {
        assert!(Instant::now() < deadline, "{} callers blocked, not {n}", blocked(c));
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Starts a thread that runs the blocking command `cmd` and sends its reply; returns once
/// the caller is blocked (one more caller in `blocked_clients`).
fn spawn_waiter(c: &Client, cmd: String, tx: &mpsc::Sender<(usize, String)>, id: usize) {
    let before = blocked(c);
    let (c2, tx) = (c.clone(), tx.clone());
    std::thread::spawn(move || {
        let r = cli(&c2, &cmd);
        tx.send((id, r)).unwrap();
    });
    until_blocked(c, before + 1);
}

/// Callers blocked on one key are served in the order they blocked, whether the elements
/// come in one push or one by one, and BLPOP/BRPOP/BLMPOP wait in one queue.
#[test]
fn blocked_callers_are_served_in_arrival_order() {
    let c = store();
    for round in 0..2 {
        let key = format!("{{fifo}}{round}");
        let (tx, rx) = mpsc::channel();
        let cmds = [
            format!("BLPOP {key} 20"),
            format!("BRPOP {key} 20"),
            format!("BLMPOP 20 1 {key} LEFT COUNT 2"),
            format!("BLPOP {{fifo}}other {key} 20"),
        ];
        for (id, cmd) in cmds.iter().enumerate() {
            spawn_waiter(&c, cmd.clone(), &tx, id);
        }
        if round == 0 {
            // One push serves them all in turn: the first takes the head, the second the
            // tail, the third two from the head, the fourth what is left.
            assert_eq!(cli(&c, &format!("RPUSH {key} e0 e1 e2 e3 e4")), "(integer) 5");
        } else {
            for i in 0..5 {
                c.rpush(&key, &[format!("e{i}")]).unwrap();
                // Each push serves the first waiter in line, under the push's lock.
                until_blocked(&c, 3usize.saturating_sub(i));
            }
        }
        let mut got: Vec<(usize, String)> =
            (0..4).map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap()).collect();
        got.sort();
        let want_first = [
            format!("1) \"{key}\"|2) \"e0\""),
            format!("1) \"{key}\"|2) \"e4\""),
            format!("1) \"{key}\"|2) 1) \"e1\"|   2) \"e2\""),
            format!("1) \"{key}\"|2) \"e3\""),
        ];
        let want_each = [
            format!("1) \"{key}\"|2) \"e0\""),
            format!("1) \"{key}\"|2) \"e1\""),
            format!("1) \"{key}\"|2) 1) \"e2\""),
            format!("1) \"{key}\"|2) \"e3\""),
        ];
        let want = if round == 0 { &want_first } else { &want_each };
        for (id, reply) in got {
            assert_eq!(reply.replace('\n', "|"), want[id], "round {round}, waiter {id}");
        }
        let left = if round == 0 { "(empty array)" } else { "1) \"e4\"" };
        assert_eq!(cli(&c, &format!("LRANGE {key} 0 -1")), left);
    }
}

/// Many consumers blocked on two lists, many producers: every element is received exactly
/// once.
#[test]
fn no_element_is_lost_or_duplicated() {
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let keys = ["{q}a", "{q}b"];
    const PRODUCERS: usize = 2;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: usize = 1500;
    let received: Vec<Vec<String>> = std::thread::scope(|s| {
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|n| {
                let c = cluster.client();
                s.spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        let item = if n % 2 == 0 {
                            c.blpop(&keys, Duration::from_secs(30)).unwrap().map(|(_, v)| v)
                        } else {
                            c.brpop(&keys, Duration::from_secs(30)).unwrap().map(|(_, v)| v)
                        };
                        let item = String::from_utf8(item.expect("no timeout").to_vec()).unwrap();
                        if item == "stop" {
                            return got;
                        }
                        got.push(item);
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let c = cluster.client();
                s.spawn(move || {
                    let mut i = 0;
                    while i < PER_PRODUCER {
                        let batch: Vec<String> =
                            (i..(i + 1 + i % 3).min(PER_PRODUCER)).map(|j| format!("{p}:{j}")).collect();
                        i += batch.len();
                        let key = keys[i % 2];
                        if i % 4 == 0 {
                            c.lpush(key, &batch).unwrap();
                        } else {
                            let mut words = vec!["RPUSH", key];
                            words.extend(batch.iter().map(String::as_str));
                            c.command(&words).unwrap();
                        }
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        // Stop only once everything is taken, so no consumer leaves elements behind.
        let c = cluster.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.llen(keys[0]).unwrap() + c.llen(keys[1]).unwrap() > 0 {
            assert!(Instant::now() < deadline, "consumers stalled");
            std::thread::sleep(Duration::from_millis(5));
        }
        c.rpush(keys[0], &["stop"; CONSUMERS]).unwrap();
        consumers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = BTreeMap::new();
    for item in received.iter().flatten() {
        *seen.entry(item.clone()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), PRODUCERS * PER_PRODUCER, "lost elements");
    assert!(seen.values().all(|&n| n == 1), "duplicated elements");
    assert_eq!(cluster.client().dbsize(), 0);
}

/// A blocked caller times out with nil, and leaves no trace: a later push stays in the list.
#[test]
fn blocked_caller_times_out_with_nil() {
    let c = store();
    let start = Instant::now();
    assert_eq!(cli(&c, "BLPOP nokey 0.1"), "(nil)");
    assert_eq!(cli(&c, "BLMPOP 0.05 2 {t}a {t}b LEFT"), "(nil)");
    assert_eq!(cli(&c, "BLMOVE {t}a {t}b LEFT LEFT 0.05"), "(nil)");
    assert_eq!(c.brpop(&["nokey"], Duration::from_millis(50)), Ok(None));
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(c.rpush("nokey", &["x"]), Ok(1));
    assert_eq!(c.llen("nokey"), Ok(1));
}

/// A caller timing out while a push arrives either gets the element or leaves it in the list:
/// never both, never neither.
#[test]
fn timeout_racing_a_push_loses_nothing() {
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let (waiter, pusher) = (cluster.client(), cluster.client());
    for i in 0..150u64 {
        let key = format!("race{}", i % 7);
        let w = waiter.clone();
        let k = key.clone();
        let t = std::thread::spawn(move || w.blpop(&[k], Duration::from_micros(500 + i * 20)).unwrap());
        std::thread::sleep(Duration::from_micros(i * 13 % 900));
        pusher.rpush(&key, &["v"]).unwrap();
        let got = t.join().unwrap();
        let left = pusher.lpop_count(&key, 10).unwrap();
        assert_eq!(usize::from(got.is_some()) + left.len(), 1, "iteration {i}: {got:?} and {left:?}");
    }
}

/// A caller blocked on a key whose slot moves to another primary is still served by a push
/// after the move, and one that times out after the move leaves no trace behind.
#[test]
fn blocked_caller_survives_slot_migration() {
    let cluster = Cluster::builder().primaries(2).build().unwrap();
    let c = cluster.client();
    let slot = key_slot("moving");
    let from = cluster.slot_owner(slot).unwrap();
    let to = cluster.primaries().into_iter().find(|p| *p != from).unwrap();
    let (tx, rx) = mpsc::channel();
    spawn_waiter(&c, "BLPOP moving 20".into(), &tx, 0);
    spawn_waiter(&c, "BRPOP {moving}x moving 0.5".into(), &tx, 1);
    cluster.migrate_slot(slot, to).unwrap();
    assert_eq!(cluster.slot_owner(slot), Some(to));
    assert_eq!(c.rpush("moving", &["after-the-move"]), Ok(1));
    let (id, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((id, reply.replace('\n', "|")), (0, "1) \"moving\"|2) \"after-the-move\"".into()));
    let (id, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((id, reply.as_str()), (1, "(nil)"));
    // Move it back and forth: nobody is left queued to take this one.
    cluster.migrate_slot(slot, from).unwrap();
    assert_eq!(c.rpush("moving", &["stays"]), Ok(1));
    assert_eq!(c.lrange("moving", 0, -1).unwrap(), ["stays"]);
}

/// BLMOVE callers chain: a push to the first list travels through every blocked mover to the
/// last waiter, in one write.
#[test]
fn blmove_chains() {
    let c = store();
    let (tx, rx) = mpsc::channel();
    spawn_waiter(&c, "BLPOP {c}4 20".into(), &tx, 3);
    spawn_waiter(&c, "BRPOPLPUSH {c}3 {c}4 20".into(), &tx, 2);
    spawn_waiter(&c, "BLMOVE {c}2 {c}3 RIGHT LEFT 20".into(), &tx, 1);
    spawn_waiter(&c, "BLMOVE {c}1 {c}2 LEFT RIGHT 20".into(), &tx, 0);
    assert_eq!(c.rpush("{c}1", &["hop"]), Ok(1));
    let mut got: Vec<(usize, String)> =
        (0..4).map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap()).collect();
    got.sort();
    let replies: Vec<String> = got.into_iter().map(|(_, r)| r.replace('\n', "|")).collect();
    assert_eq!(replies, ["\"hop\"", "\"hop\"", "\"hop\"", "1) \"{c}4\"|2) \"hop\""]);
    assert_eq!(c.exists(&["{c}1", "{c}2", "{c}3", "{c}4"]), Ok(0));
}

/// A blocked caller is served only by a list: a string stored at its key does not wake it,
/// a later push does. A BLMOVE whose destination became a string gets WRONGTYPE and the
/// element stays in the source, as in Redis.
#[test]
fn blocked_callers_and_other_types() {
    let c = store();
    let (tx, rx) = mpsc::channel();
    spawn_waiter(&c, "BLPOP {w}a 20".into(), &tx, 0);
    c.set("{w}a", "str").unwrap();
    c.command(&["DEL", "{w}a"]).unwrap();
    assert_eq!(blocked(&c), 1, "not served by a string");
    assert!(rx.try_recv().is_err(), "not served by a string");
    c.rpush("{w}a", &["x"]).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(20)).unwrap().1.replace('\n', "|"),
        "1) \"{w}a\"|2) \"x\""
    );

    spawn_waiter(&c, "BLMOVE {w}b {w}d LEFT LEFT 20".into(), &tx, 1);
    c.set("{w}d", "str").unwrap();
    c.rpush("{w}b", &["y"]).unwrap();
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(reply, "(error) WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.lrange("{w}b", 0, -1).unwrap(), ["y"]);
}

/// A key signalled ready serves only the callers waiting for its type, as Redis does: a
/// transaction that pushes to a list and then replaces it with a string wakes no `BLPOP`
/// (Redis's own test "BLPOP, LPUSH + DEL + SET should not awake blocked client"), a list wakes
/// no `BZPOPMIN`, and a consumer-group reader whose stream became a string is told it is gone.
#[test]
fn a_ready_key_serves_only_callers_waiting_for_its_type() {
    let c = store();
    let (tx, rx) = mpsc::channel();
    spawn_waiter(&c, "BLPOP {r}l 20".into(), &tx, 0);
    spawn_waiter(&c, "BZPOPMIN {r}l 20".into(), &tx, 1);
    let mut s = c.session();
    for line in ["MULTI", "LPUSH {r}l a", "DEL {r}l", "SET {r}l foo", "EXEC"] {
        s.command(&line.split(' ').collect::<Vec<_>>()).unwrap();
    }
    assert_eq!(blocked(&c), 2, "a string serves neither");
    assert!(rx.try_recv().is_err());
    c.command(&["DEL", "{r}l"]).unwrap();
    c.rpush("{r}l", &["b"]).unwrap();
    let (id, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((id, reply.replace('\n', "|")), (0, "1) \"{r}l\"|2) \"b\"".to_string()));
    assert_eq!(blocked(&c), 1, "the list served BLPOP, not BZPOPMIN");
    c.command(&["DEL", "{r}l"]).unwrap();
    c.zadd("{r}l", &[(1.0, "m")]).unwrap();
    let (id, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((id, reply.replace('\n', "|")), (1, "1) \"{r}l\"|2) \"m\"|3) \"1\"".to_string()));

    c.command(&["XGROUP", "CREATE", "{r}s", "g", "$", "MKSTREAM"]).unwrap();
    spawn_waiter(&c, "XREADGROUP GROUP g c BLOCK 20000 STREAMS {r}s >".into(), &tx, 2);
    spawn_waiter(&c, "XREAD BLOCK 20000 STREAMS {r}s $".into(), &tx, 3);
    c.command(&["DEL", "{r}s"]).unwrap();
    c.set("{r}s", "str").unwrap();
    let (id, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((id, reply.as_str()), (2, "(error) UNBLOCKED the stream key no longer exists"));
    assert_eq!(blocked(&c), 1, "XREAD waits on");
    c.command(&["DEL", "{r}s"]).unwrap();
    c.command(&["XADD", "{r}s", "1-1", "f", "v"]).unwrap();
    let (id, _) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(id, 3);
}

/// A caller blocked on several keys is served from the key that became ready, whatever its
/// other keys hold, as Redis serves it: a first key that became a string meanwhile does not
/// answer `WRONGTYPE`, and of two keys a transaction fills, the one signalled first serves
/// (also for `BLMPOP`, `BZPOPMIN` and multi-stream `XREAD`).
#[test]
fn a_caller_on_several_keys_is_served_from_the_ready_key() {
    let c = store();
    let (tx, rx) = mpsc::channel();
    let exec = |lines: &[&str]| {
        let mut s = c.session();
        for line in ["MULTI"].iter().chain(lines).chain(&["EXEC"]) {
            s.command(&line.split(' ').collect::<Vec<_>>()).unwrap();
        }
    };
    spawn_waiter(&c, "BLPOP {n}a {n}b 20".into(), &tx, 0);
    exec(&["LPUSH {n}a x", "SET {n}a str", "LPUSH {n}b y"]);
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(reply.replace('\n', "|"), "1) \"{n}b\"|2) \"y\"");
    c.command(&["DEL", "{n}a", "{n}b"]).unwrap();

    spawn_waiter(&c, "BLMPOP 20 2 {n}a {n}b LEFT COUNT 5".into(), &tx, 1);
    exec(&["RPUSH {n}b 1 2", "RPUSH {n}a 3"]);
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(reply.replace('\n', "|"), "1) \"{n}b\"|2) 1) \"1\"|   2) \"2\"");
    assert_eq!(c.lrange("{n}a", 0, -1).unwrap(), ["3"]);

    spawn_waiter(&c, "BZPOPMIN {n}z1 {n}z2 20".into(), &tx, 2);
    exec(&["ZADD {n}z2 2 m", "ZADD {n}z1 1 k"]);
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(reply.replace('\n', "|"), "1) \"{n}z2\"|2) \"m\"|3) \"2\"");

    spawn_waiter(&c, "XREAD BLOCK 20000 STREAMS {n}s1 {n}s2 $ $".into(), &tx, 3);
    exec(&["XADD {n}s2 1-1 f v", "XADD {n}s1 1-1 f v"]);
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(reply.contains("{n}s2") && !reply.contains("{n}s1"), "{reply}");
}

/// A caller naming one key twice (`BLPOP a b b a`) is served once, a list made by
/// `SORT ... STORE` serves a caller blocked on it, and `FLUSHALL` tells a consumer-group
/// reader its stream is gone (Redis's tests "BLPOP with same key multiple times should work",
/// "BLPOP when result key is created by SORT..STORE", "Blocking XREADGROUP: flushed DB").
#[test]
fn repeated_keys_sort_store_and_flushall_with_blocked_callers() {
    let c = store();
    let (tx, rx) = mpsc::channel();
    spawn_waiter(&c, "BLPOP {q}a {q}b {q}b {q}a 20".into(), &tx, 0);
    c.rpush("{q}b", &["x", "y"]).unwrap();
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(reply.replace('\n', "|"), "1) \"{q}b\"|2) \"x\"");
    assert_eq!(c.lrange("{q}b", 0, -1).unwrap(), ["y"], "served once");

    spawn_waiter(&c, "BLPOP {q}dst 20".into(), &tx, 1);
    c.rpush("{q}src", &["3", "1", "2"]).unwrap();
    assert_eq!(c.command(&["SORT", "{q}src", "STORE", "{q}dst"]).unwrap(), Reply::Int(3));
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(reply.replace('\n', "|"), "1) \"{q}dst\"|2) \"1\"");
    assert_eq!(c.lrange("{q}dst", 0, -1).unwrap(), ["2", "3"]);

    c.command(&["XGROUP", "CREATE", "{q}s", "g", "$", "MKSTREAM"]).unwrap();
    spawn_waiter(&c, "XREADGROUP GROUP g c BLOCK 20000 STREAMS {q}s >".into(), &tx, 2);
    c.command(&["FLUSHALL"]).unwrap();
    let (_, reply) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(reply, "(error) UNBLOCKED the stream key no longer exists");
    assert_eq!(blocked(&c), 0);
}
