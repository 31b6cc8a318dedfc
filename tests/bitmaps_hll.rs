//! Bitmaps and HyperLogLogs change large strings in place when no one else holds them: a
//! value handed out earlier, or a replica's copy, never sees a later change.

use slotstore::{Cluster, ReadFrom, Reply};

#[test]
fn setbit_in_place_leaves_earlier_readers_and_replicas_their_values() {
    let cluster = Cluster::builder().replicas(1).build().unwrap();
    let c = cluster.client();
    assert_eq!(c.setbit("flags", 8_000_000, true), Ok(false));
    let before = c.get("flags").unwrap().unwrap();
    assert_eq!(before.len(), 1_000_001);
    for bit in [7, 8_000_000, 12_345] {
        c.setbit("flags", bit, bit != 8_000_000).unwrap();
    }
    assert_eq!(before[0], 0, "a value handed out before is not changed under its reader");
    assert_eq!(before[1_000_000], 0x80);
    let now = c.get("flags").unwrap().unwrap();
    assert_eq!((now[0], now[1_000_000], now[12_345 / 8]), (1, 0, 0x40));
    assert_eq!(c.bitcount("flags", None), Ok(2));
    // The replica follows every flip.
    assert_eq!(c.command(&["WAIT", "1", "5000"]), Ok(Reply::Int(1)));
    let replica = cluster.replicas_of(cluster.primaries()[0])[0];
    // A replica serves reads to a reader that asked for replica reads (READONLY).
    let reader = c.clone().read_from(ReadFrom::Replica);
    for (bit, want) in [(7, 1), (8_000_000, 0), (12_345, 1), (12_346, 0)] {
        let got = reader.command_at(replica, false, &["GETBIT", "flags", &bit.to_string()]).unwrap();
        assert_eq!(got, Reply::Int(want), "bit {bit} on the replica");
    }
    assert!(c.memory_used() > 1_000_000);
}

#[test]
fn dense_hll_updates_in_place_without_touching_earlier_copies() {
    let cluster = Cluster::builder().build().unwrap();
    let c = cluster.client();
    let many: Vec<String> = (0..5000).map(|i| format!("visitor-{i}")).collect();
    c.pfadd("hll", &many).unwrap();
    let before = c.get("hll").unwrap().unwrap();
    assert_eq!(before[4], 0, "dense after 5000 elements");
    let count = c.pfcount(&["hll"]).unwrap();
    assert!((4900..=5100).contains(&count), "{count}");
    let cached = c.get("hll").unwrap().unwrap();
    assert_eq!(cached[15] & 0x80, 0, "PFCOUNT cached the count");
    assert!(!c.pfadd("hll", &["visitor-1"]).unwrap(), "no register grows");
    assert_eq!(c.get("hll").unwrap().unwrap(), cached, "and nothing was written");
    let more: Vec<String> = (5000..6000).map(|i| format!("visitor-{i}")).collect();
    assert!(c.pfadd("hll", &more).unwrap());
    let after = c.get("hll").unwrap().unwrap();
    assert_ne!(after, cached);
    assert_eq!(after[15] & 0x80, 0x80, "the cached count is stale now");
    assert_eq!(cached[15] & 0x80, 0, "the copy handed out before is unchanged");
    assert!(c.pfcount(&["hll"]).unwrap() > count);
}
