//! `max_memory` and the eviction policies, statistics, INFO/CONFIG/OBJECT/MEMORY.

use slotstore::{Clock, Cluster, Error, EvictionPolicy, Reply};
use std::time::Duration;

/// Large enough that per-slot table overhead (16384 tables) is a small part of it.
const BUDGET: usize = 8 << 20;

fn store(policy: EvictionPolicy) -> Cluster {
    Cluster::builder().primaries(3).max_memory(BUDGET).eviction_policy(policy).build().unwrap()
}

/// A store of `primaries` under `policy` on a manual clock, for policies that read the time.
fn clocked_store(primaries: usize, policy: EvictionPolicy) -> (Clock, slotstore::Client) {
    let clock = Clock::manual(1_700_000_000_000);
    let client = Cluster::builder()
        .primaries(primaries)
        .max_memory(BUDGET)
        .eviction_policy(policy)
        .clock(clock.clone())
        .build()
        .unwrap()
        .client();
    (clock, client)
}

/// The policies that evict only keys with a TTL.
const VOLATILE: [EvictionPolicy; 4] = [
    EvictionPolicy::VolatileLru,
    EvictionPolicy::VolatileLfu,
    EvictionPolicy::VolatileRandom,
    EvictionPolicy::VolatileTtl,
];

/// Slack above the budget: each node may overshoot by the write that crossed it.
const SLACK: usize = 64 << 10;

#[test]
fn every_evicting_policy_stays_within_budget() {
    for policy in EvictionPolicy::ALL.into_iter().filter(|p| *p != EvictionPolicy::NoEviction) {
        let c = store(policy);
        let client = c.client();
        for i in 0..24_000u32 {
            let key = format!("key:{i}");
            if i % 2 == 0 {
                client.set_ex(&key, [b'x'; 1000], Duration::from_secs(3600 + u64::from(i))).unwrap();
            } else if policy == EvictionPolicy::VolatileTtl
                || policy == EvictionPolicy::VolatileLru
                || policy == EvictionPolicy::VolatileLfu
                || policy == EvictionPolicy::VolatileRandom
            {
                // Volatile policies can only evict keys with a TTL: keep the rest few.
                if i % 50 == 1 {
                    client.set(&key, [b'p'; 1000]).unwrap();
                }
            } else {
                client.set(&key, [b'y'; 1000]).unwrap();
            }
        }
        let used = client.memory_used();
        let stats = client.stats();
        assert!(used <= BUDGET + SLACK, "{policy}: {used} bytes over a {BUDGET} budget");
        assert!(stats.total.evictions > 0, "{policy}: nothing evicted");
        assert_eq!(stats.total.keys, client.dbsize());
    }
}

#[test]
fn volatile_policies_never_evict_keys_without_ttl() {
    for policy in VOLATILE {
        let client = store(policy).client();
        let persistent: Vec<String> = (0..500).map(|i| format!("keep:{i}")).collect();
        for k in &persistent {
            client.set(k, [b'k'; 1000]).unwrap();
        }
        let mut refused = false;
        for i in 0..30_000 {
            match client.set_ex(format!("tmp:{i}"), [b't'; 1000], Duration::from_secs(1000)) {
                Ok(()) => {}
                Err(Error::OutOfMemory) => {
                    refused = true;
                    break;
                }
                Err(e) => panic!("{policy}: {e}"),
            }
        }
        assert!(client.stats().total.evictions > 0, "{policy}");
        assert_eq!(client.exists(&persistent[..1]).unwrap(), 1);
        for k in &persistent {
            assert!(client.get(k).unwrap().is_some(), "{policy} evicted {k}, which has no TTL");
        }
        let _ = refused;
        // Once only keys without TTL are left, a volatile policy has nothing to evict: OOM.
        client.command(&["FLUSHALL"]).unwrap();
        let mut oom = false;
        for i in 0..30_000 {
            if client.set(format!("p:{i}"), [b'p'; 1000]) == Err(Error::OutOfMemory) {
                oom = true;
                break;
            }
        }
        assert!(oom, "{policy}: a volatile policy with no TTL keys must refuse writes");
    }
}

#[test]
fn volatile_ttl_evicts_the_soonest_to_expire() {
    let client = Cluster::builder().primaries(3).build().unwrap().client();
    for i in 0..20_000u64 {
        client.set_ex(format!("k:{i}"), [b'x'; 1000], Duration::from_secs(100_000 - i)).unwrap();
    }
    // Shrink the budget under the data: eviction picks among all keys at once.
    client.set_max_memory(Some(BUDGET), EvictionPolicy::VolatileTtl);
    client.set_ex("trigger", "x", Duration::from_secs(10)).unwrap();
    // Later keys expire sooner, so they go first; the earliest ones survive.
    let early = (0..500).filter(|i| client.get(format!("k:{i}")).unwrap().is_some()).count();
    let late = (19_500..20_000).filter(|i| client.get(format!("k:{i}")).unwrap().is_some()).count();
    assert!(early >= 490 && late < early * 8 / 10, "early {early}, late {late}");
}

#[test]
fn noeviction_refuses_writes_and_keeps_serving_reads() {
    let client = store(EvictionPolicy::NoEviction).client();
    let mut written = 0;
    let (err, full) = loop {
        let key = format!("k:{written}");
        match client.set(&key, [b'x'; 1000]) {
            Ok(()) => written += 1,
            Err(e) => break (e, key),
        }
    };
    assert_eq!(err, Error::OutOfMemory);
    assert_eq!(err.to_string(), "OOM command not allowed when used memory > 'maxmemory'.");
    // The budget is shared by slots held: the full node refuses every growing write.
    assert_eq!(client.command(&["SET", &full, "v"]), Err(Error::OutOfMemory));
    assert_eq!(client.command(&["APPEND", &full, "more"]), Err(Error::OutOfMemory));
    assert_eq!(client.get(&full).unwrap(), None);
    // Reads, deletes and TTL changes still run.
    assert_eq!(client.get("k:0").unwrap().unwrap().len(), 1000);
    assert_eq!(client.command(&["DEL", "k:1"]).unwrap(), Reply::Int(1));
    assert_eq!(client.command(&["EXPIRE", "k:2", "100"]).unwrap(), Reply::Int(1));
    assert_eq!(client.stats().total.evictions, 0);
    assert!(client.dbsize() >= written - 1);
}

#[test]
fn lru_and_lfu_keep_what_is_used() {
    for policy in [EvictionPolicy::AllKeysLru, EvictionPolicy::AllKeysLfu] {
        let (clock, client) = clocked_store(3, policy);
        let hot: Vec<String> = (0..200).map(|i| format!("hot:{i}")).collect();
        for k in &hot {
            client.set(k, [b'h'; 1000]).unwrap();
        }
        for i in 0..24_000 {
            client.set(format!("cold:{i}"), [b'c'; 1000]).unwrap();
            if i % 20 == 0 {
                // Touch the hot set regularly; LRU needs the clock to move between touches.
                clock.advance(Duration::from_millis(1));
                for k in &hot {
                    client.get(k).unwrap();
                }
            }
        }
        let kept = hot.iter().filter(|k| client.get(k).unwrap().is_some()).count();
        assert!(kept >= 180, "{policy} kept only {kept} of 200 hot keys");
    }
}

#[test]
fn config_set_changes_the_budget_and_refuses_bad_values() {
    let client = Cluster::builder().primaries(2).build().unwrap().client();
    let get = |p: &str| client.command(&["CONFIG", "GET", p]).unwrap();
    assert_eq!(get("maxmemory"), Reply::Array(vec![Reply::bulk("maxmemory"), Reply::bulk("0")]));
    for (args, text) in [
        (
            vec!["CONFIG", "SET", "maxmemory", "abc"],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
        ),
        (
            vec!["CONFIG", "SET", "maxmemory", "-5"],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
        ),
        (
            vec!["CONFIG", "SET", "maxmemory-policy", "lru"],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
        ),
        (vec!["CONFIG", "SET", "nosuch", "1"], "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
        (vec!["CONFIG", "SET", "maxmemory"], "ERR wrong number of arguments for 'config|set' command"),
        (vec!["CONFIG", "BOGUS"], "ERR unknown subcommand 'BOGUS'. Try CONFIG HELP."),
    ] {
        assert_eq!(client.command(&args).unwrap_err().to_string(), text);
    }
    // A bad pair makes the whole CONFIG SET fail: nothing changes.
    assert!(client.command(&["CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy", "nope"]).is_err());
    assert_eq!(get("maxmemory"), Reply::Array(vec![Reply::bulk("maxmemory"), Reply::bulk("0")]));
    assert_eq!(
        client
            .command(&["CONFIG", "SET", "maxmemory", "8mb", "maxmemory-policy", "allkeys-lru"])
            .unwrap(),
        Reply::ok()
    );
    assert_eq!(get("maxmemory*").as_array().unwrap().len(), 4);
    assert_eq!(get("maxmemory-policy").as_array().unwrap()[1], Reply::bulk("allkeys-lru"));
    for i in 0..24_000 {
        client.set(format!("k{i}"), [b'v'; 1000]).unwrap();
    }
    assert!(client.memory_used() <= (8 << 20) + SLACK);
    assert!("lru".parse::<EvictionPolicy>().is_err());
}

#[test]
fn stats_info_and_introspection() {
    let clock = Clock::manual(1_000_000);
    let c = Cluster::builder().primaries(3).clock(clock.clone()).build().unwrap();
    let client = c.client();
    client.set("a", "1").unwrap();
    client.get("a").unwrap();
    client.get("missing").unwrap();
    client.command(&["GET", "a"]).unwrap();
    let s = client.stats();
    assert_eq!((s.total.hits, s.total.misses), (2, 1));
    assert_eq!(s.total.commands.get("get"), Some(&3));
    assert_eq!(s.total.commands.get("set"), Some(&1));
    assert_eq!(s.nodes.len(), 3);
    assert!((s.total.hit_ratio() - 2.0 / 3.0).abs() < 1e-9);
    let info = client.command(&["INFO"]).unwrap();
    let text = String::from_utf8(info.as_bytes().unwrap().to_vec()).unwrap();
    for field in [
        "# Memory",
        "used_memory:",
        "maxmemory_policy:noeviction",
        "keyspace_hits:2",
        "keyspace_misses:1",
        "db0:keys=1",
        "role:master",
    ] {
        assert!(text.contains(field), "INFO lacks {field}:\n{text}");
    }
    let stats_only = client.command(&["INFO", "stats"]).unwrap();
    assert!(!String::from_utf8_lossy(stats_only.as_bytes().unwrap()).contains("# Memory"));
    // OBJECT and MEMORY USAGE.
    assert_eq!(client.command(&["OBJECT", "ENCODING", "a"]).unwrap(), Reply::bulk("int"));
    client.set("s", "hello").unwrap();
    assert_eq!(client.command(&["OBJECT", "ENCODING", "s"]).unwrap(), Reply::bulk("embstr"));
    assert_eq!(client.command(&["OBJECT", "ENCODING", "nope"]).unwrap(), Reply::Nil);
    assert!(client
        .command(&["OBJECT", "FREQ", "a"])
        .unwrap_err()
        .to_string()
        .starts_with("ERR An LFU maxmemory policy is not selected"));
    let usage = client.command(&["MEMORY", "USAGE", "s"]).unwrap().as_int().unwrap();
    assert!((50..500).contains(&usage), "{usage}");
    assert_eq!(client.command(&["MEMORY", "USAGE", "nope"]).unwrap(), Reply::Nil);
    // Idle time is tracked under every non-LFU policy, as in Redis: here noeviction.
    client.set("idle", "v").unwrap();
    clock.advance(Duration::from_secs(3));
    assert_eq!(client.command(&["OBJECT", "IDLETIME", "idle"]).unwrap(), Reply::Int(3));
    // Asking about a key is no access (Redis's LOOKUP_NOTOUCH), though it counts as a hit.
    let hits = client.stats().total.hits;
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "TYPE", "EXISTS", "OBJECT", "MEMORY"] {
        let words: &[&str] = match cmd {
            "OBJECT" => &["OBJECT", "ENCODING", "idle"],
            "MEMORY" => &["MEMORY", "USAGE", "idle"],
            _ => &[cmd, "idle"],
        };
        client.command(words).unwrap();
        assert_eq!(client.command(&["OBJECT", "IDLETIME", "idle"]).unwrap(), Reply::Int(3), "{cmd}");
    }
    // As redis-server counts them: all but MEMORY USAGE (and each IDLETIME asked here).
    assert_eq!(client.stats().total.hits, hits + 7 + 8, "counted as hits");
    client.get("idle").unwrap();
    assert_eq!(
        client.command(&["OBJECT", "IDLETIME", "idle"]).unwrap(),
        Reply::Int(0),
        "a read touches"
    );
    // Idle time follows the clock under an LRU policy; frequency grows under LFU.
    client.command(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]).unwrap();
    client.get("s").unwrap();
    clock.advance(Duration::from_secs(7));
    assert_eq!(client.command(&["OBJECT", "IDLETIME", "s"]).unwrap(), Reply::Int(7));
    client.command(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]).unwrap();
    client.set("f", "v").unwrap();
    for _ in 0..1000 {
        client.get("f").unwrap();
    }
    let freq = client.command(&["OBJECT", "FREQ", "f"]).unwrap().as_int().unwrap();
    assert!(freq > 5, "{freq}");
    assert!(client.command(&["OBJECT", "IDLETIME", "f"]).is_err());
    client.command(&["CONFIG", "RESETSTAT"]).unwrap();
    assert_eq!(client.stats().total.hits, 0);
}

/// A write is an access: overwriting a key resets its idle time (as Redis's new object does),
/// and a key moved by a migration keeps its age, so eviction does not take it for the
/// coldest key.
#[test]
fn idle_time_resets_on_overwrite_and_survives_a_migration() {
    let clock = Clock::manual(1_700_000_000_000);
    let c = Cluster::builder().primaries(2).clock(clock.clone()).build().unwrap();
    let client = c.client();
    let idle = |k: &str| client.command(&["OBJECT", "IDLETIME", k]).unwrap();
    client.set("{m}:a", "1").unwrap();
    clock.advance(Duration::from_secs(10));
    assert_eq!(idle("{m}:a"), Reply::Int(10));
    client.set("{m}:a", "2").unwrap();
    assert_eq!(idle("{m}:a"), Reply::Int(0), "an overwrite is an access");
    clock.advance(Duration::from_secs(5));
    let slot = slotstore::key_slot("{m}");
    let to = *c.primaries().iter().find(|p| c.slot_owner(slot) != Some(**p)).unwrap();
    let mut m = c.begin_migration(slot, to, slotstore::MigrationMode::KeyByKey).unwrap();
    m.finish().unwrap();
    assert_eq!(c.slot_owner(slot), Some(to));
    assert_eq!(idle("{m}:a"), Reply::Int(5), "the moved key kept its stamp");
}

/// A store whose keys all share one hash tag, so one slot of 16384 holds every key, still
/// finds a key to evict on every write at the budget: eviction samples random slots first,
/// and must not answer `OOM` while evictable keys exist just because its samples missed them.
#[test]
fn keys_all_in_one_slot_are_still_evicted() {
    for policy in [EvictionPolicy::AllKeysLru, EvictionPolicy::AllKeysLfu, EvictionPolicy::AllKeysRandom]
    {
        let (_clock, client) = clocked_store(1, policy);
        for i in 0..20_000u32 {
            if let Err(e) = client.set(format!("{{one}}:{i}"), [b'v'; 1000]) {
                panic!("{policy}: write {i} refused with {e} while every key is evictable");
            }
        }
        assert!(client.stats().total.evictions > 10_000, "{policy}: too few evictions");
        assert!(client.exists(&["{one}:19999"]).unwrap() == 1, "{policy}: the last write is kept");
    }
}

/// Writes that all go to one hash tag's slot still evict the coldest keys of every other
/// slot: eviction samples the written slot only some of the time, so keys nobody touches
/// elsewhere do not outlive the ones being written.
/// Writes 3,000 keys of 1 KB named `old` and a number, moves the clock ten minutes on (older
/// for LRU, decayed counters for LFU), runs `then`, writes 16,000 more named `new` and a
/// number (the clock moving 10 ms every hundred), and counts the old keys left.
fn old_keys_left(
    client: &slotstore::Client,
    clock: &Clock,
    old: &str,
    new: &str,
    then: impl FnOnce(),
) -> usize {
    for i in 0..3_000u32 {
        client.set(format!("{old}{i}"), [b'o'; 1000]).unwrap();
    }
    clock.advance(Duration::from_secs(600));
    then();
    for i in 0..16_000u32 {
        client.set(format!("{new}{i}"), [b'n'; 1000]).unwrap();
        if i % 100 == 0 {
            clock.advance(Duration::from_millis(10));
        }
    }
    (0..3_000u32).filter(|i| client.exists(&[format!("{old}{i}")]).unwrap() == 1).count()
}

#[test]
fn writes_to_one_tag_still_evict_cold_keys_elsewhere() {
    for policy in [EvictionPolicy::AllKeysLru, EvictionPolicy::AllKeysLfu] {
        let (clock, client) = clocked_store(1, policy);
        let old_left = old_keys_left(&client, &clock, "old:", "{tag}:", || {});
        assert!(client.stats().total.evictions > 8_000, "{policy}: too few evictions");
        assert!(old_left < 300, "{policy}: {old_left} of 3000 cold keys outlived the tagged writes");
    }
}

/// Keys written before any budget, all under one tag, are still found and evicted once a
/// budget is set and writes to another tag push past it: eviction looks where keys are, and
/// that record covers the keys that came before the budget.
#[test]
fn keys_written_before_the_budget_are_evicted_after_it() {
    for policy in [EvictionPolicy::AllKeysLru, EvictionPolicy::AllKeysLfu] {
        let clock = Clock::manual(1_700_000_000_000);
        let client = Cluster::builder().primaries(1).clock(clock.clone()).build().unwrap().client();
        let budget = || client.set_max_memory(Some(BUDGET), policy);
        let old_left = old_keys_left(&client, &clock, "{old}:", "{new}:", budget);
        assert!(old_left < 300, "{policy}: {old_left} of 3000 keys from before the budget survived");
    }
}

/// Writes 1000-byte keys without a TTL (`{prefix}:0`, `{prefix}:1`, ...) until the budget
/// refuses one, and asserts it refused one, and only once none of `ttl_keys` was left.
fn write_until_refused_only_without_ttl_keys(
    client: &slotstore::Client,
    policy: EvictionPolicy,
    prefix: &str,
    ttl_keys: &[String],
) {
    for i in 0..12_000u32 {
        match client.set(format!("{prefix}:{i}"), [b'p'; 1000]) {
            Ok(()) => {}
            Err(Error::OutOfMemory) => {
                let left =
                    ttl_keys.iter().filter(|k| client.exists(&[k.as_str()]).unwrap() == 1).count();
                assert_eq!(left, 0, "{policy}: write {i} refused while {left} keys with a TTL exist");
                return;
            }
            Err(e) => panic!("{policy}: {e}"),
        }
    }
    panic!("{policy}: the budget never refused a write");
}

/// Under a volatile policy, keys with a TTL that all share one tag are found and evicted even
/// when thousands of other slots hold only keys without one: a write is refused (`OOM`) only
/// once no key has a TTL left, however the keys are spread.
#[test]
fn volatile_keys_under_one_tag_are_found_among_many_filled_slots() {
    for policy in VOLATILE {
        let (_clock, client) = clocked_store(1, policy);
        let ttl_keys: Vec<String> = (0..3_000).map(|i| format!("{{ttl}}:{i}")).collect();
        for k in &ttl_keys {
            client.set_ex(k, [b't'; 1000], Duration::from_secs(3600)).unwrap();
        }
        // Keys without a TTL, over most of the 16384 slots, until the budget refuses one.
        write_until_refused_only_without_ttl_keys(&client, policy, "plain", &ttl_keys);
    }
}

/// Under a volatile policy, a few keys with a TTL among many without one in the same slot
/// are still found and evicted: eviction samples keys with a TTL (as Redis samples its
/// `expires` dict), not the slot's keys at large.
#[test]
fn volatile_keys_sparse_in_a_slot_are_found() {
    for policy in VOLATILE {
        let (_clock, client) = clocked_store(1, policy);
        // One slot: 3,000 keys without a TTL and, among them, 60 with one.
        let ttl_keys: Vec<String> = (0..60).map(|i| format!("{{mix}}:ttl:{i}")).collect();
        for i in 0..3_000u32 {
            client.set(format!("{{mix}}:plain:{i}"), [b'p'; 1000]).unwrap();
            if i % 50 == 0 {
                client
                    .set_ex(&ttl_keys[(i / 50) as usize], [b't'; 1000], Duration::from_secs(3600))
                    .unwrap();
            }
        }
        write_until_refused_only_without_ttl_keys(&client, policy, "other", &ttl_keys);
    }
}
