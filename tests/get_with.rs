//! `Client::get_with`, the borrowing `GET`: the same answers as `get` on every path a read can
//! take (a stable slot, a key-by-key migration, a replica, an expired key), and `f` runs once
//! for a found key and never for a missing one or a redirect.

use slotstore::{key_slot, Clock, Cluster, Error, MigrationMode, ReadFrom};
use std::cell::Cell;
use std::time::Duration;

/// `get_with` of `key` through `client`, as an owned string, counting the runs of `f`.
fn read(client: &slotstore::Client, key: &str, runs: &Cell<usize>) -> Result<Option<String>, Error> {
    client.get_with(key, |v| {
        runs.set(runs.get() + 1);
        String::from_utf8(v.to_vec()).unwrap()
    })
}

#[test]
fn answers_as_get_does() {
    let clock = Clock::manual(1_700_000_000_000);
    let c = Cluster::builder().primaries(3).clock(clock.clone()).build().unwrap();
    let client = c.client();
    let runs = Cell::new(0);
    client.set("a", "alpha").unwrap();
    client.rpush("list", &["x"]).unwrap();
    assert_eq!(read(&client, "a", &runs), Ok(Some("alpha".into())));
    assert_eq!(runs.get(), 1);
    assert_eq!(read(&client, "missing", &runs), Ok(None));
    assert_eq!(read(&client, "list", &runs), Err(Error::WrongType));
    assert_eq!(client.get("list"), Err(Error::WrongType));
    assert_eq!(runs.get(), 1, "f runs only for a string found");

    // An expired key reads as missing and is counted as a miss, as GET counts it.
    client.expire("a", Duration::from_millis(10)).unwrap();
    clock.advance(Duration::from_millis(11));
    let before = client.stats().total;
    assert_eq!(read(&client, "a", &runs), Ok(None));
    let after = client.stats().total;
    assert_eq!((after.misses - before.misses, after.hits - before.hits), (1, 0));
    assert_eq!(after.commands["get"] - before.commands["get"], 1, "counted as a GET");
    assert_eq!(runs.get(), 1);
}

#[test]
fn follows_a_key_by_key_migration_and_reads_replicas() {
    let c = Cluster::builder().primaries(2).replicas(1).build().unwrap();
    let client = c.client();
    let raw = c.client().follow_redirects(false);
    let keys: Vec<String> = (0..10).map(|i| format!("{{m}}:k{i}")).collect();
    for k in &keys {
        client.set(k, k).unwrap();
    }
    let slot = key_slot(&keys[0]);
    let from = c.slot_owner(slot).unwrap();
    let to = c.primaries().into_iter().find(|p| *p != from).unwrap();
    let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
    m.step(4).unwrap();

    let runs = Cell::new(0);
    let mut asks = 0;
    for k in &keys {
        assert_eq!(read(&client, k, &runs), Ok(Some(k.clone())), "the default client follows ASK");
        match read(&raw, k, &runs) {
            Ok(v) => assert_eq!(v, Some(k.clone())),
            Err(e) => {
                assert_eq!(e, Error::Ask { slot, node: to });
                asks += 1;
            }
        }
    }
    assert_eq!(asks, 4, "a raw client meets ASK for each moved key");
    assert_eq!(runs.get(), 10 + 6, "once per answer, never for a redirect");

    m.finish().unwrap();
    // A write to the slot's new owner, so WAIT covers what the migration wrote there before it.
    client.set("{m}:last", "x").unwrap();
    assert_eq!(client.wait(1, Duration::from_secs(10)).unwrap(), 1);
    let replica = c.client_with(ReadFrom::Replica);
    for k in &keys {
        assert_eq!(read(&client, k, &runs), Ok(Some(k.clone())));
        assert_eq!(read(&replica, k, &runs), Ok(Some(k.clone())));
    }
    assert_eq!(raw.get_with(&keys[0], |v| v.len()), Err(Error::Moved { slot, node: to }));
}
