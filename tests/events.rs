//! `Cluster::events`: every topology change, in publish order, with the right ids and
//! epochs; a subscriber that stops reading stays bounded and is cut off.

use slotstore::{key_slot, Clock, Cluster, Event, MigrationMode};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_millis(50);

fn cluster() -> Cluster {
    Cluster::builder()
        .primaries(2)
        .replicas(1)
        .node_timeout(TIMEOUT)
        .clock(Clock::manual(1_700_000_000_000))
        .build()
        .unwrap()
}

/// The epoch an event names, if it names one.
fn epoch(e: &Event) -> Option<u64> {
    match *e {
        Event::SlotMoved { epoch, .. }
        | Event::MigrationStarted { epoch, .. }
        | Event::MigrationStep { epoch, .. }
        | Event::MigrationFinished { epoch, .. }
        | Event::MigrationAborted { epoch, .. }
        | Event::Promoted { epoch, .. } => Some(epoch),
        _ => None,
    }
}

#[test]
fn migrate_kill_and_promotion_arrive_in_order_with_their_ids() {
    let c = cluster();
    let client = c.client();
    let (a, b) = (c.primaries()[0], c.primaries()[1]);
    let rb = c.replicas_of(b)[0];
    for i in 0..10 {
        client.set(format!("{{ev}}:{i}"), "v").unwrap();
    }
    let slot = key_slot("{ev}");
    let from = c.slot_owner(slot).unwrap();
    let to = if from == a { b } else { a };
    let events = c.events();
    let other = c.events();
    let e0 = c.topology().epoch();

    // An atomic move, a key-by-key one back, a kill of the primary that holds it, a restart.
    c.migrate_slot(slot, to).unwrap();
    let mut m = c.begin_migration(slot, from, MigrationMode::KeyByKey).unwrap();
    m.step(4).unwrap();
    m.finish().unwrap();
    c.migrate_slot(slot, b).ok();
    assert_eq!(c.slot_owner(slot), Some(b));
    let moves: Vec<Event> = events.try_iter().collect();
    c.kill_node(b).unwrap();
    c.clock().advance(TIMEOUT + Duration::from_millis(1));
    let failed = events.recv_timeout(Duration::from_secs(10)).unwrap();
    let promoted = events.recv_timeout(Duration::from_secs(10)).unwrap();
    c.restart_node(b).unwrap();
    let restarted = events.recv_timeout(Duration::from_secs(10)).unwrap();

    let e = |n: u64| e0 + n;
    let mut want = vec![
        Event::SlotMoved { slot, from, to, epoch: e(1) },
        Event::MigrationStarted { slot, from: to, to: from, epoch: e(2) },
        Event::MigrationStep { slot, from: to, to: from, batch: 4, keys_moved: 4, epoch: e(3) },
        Event::MigrationStep { slot, from: to, to: from, batch: 6, keys_moved: 10, epoch: e(4) },
        Event::MigrationFinished { slot, from: to, to: from, keys_moved: 10, epoch: e(5) },
        Event::SlotMoved { slot, from: to, to: from, epoch: e(5) },
    ];
    if from != b {
        want.push(Event::SlotMoved { slot, from, to: b, epoch: e(6) });
    }
    assert_eq!(moves, want);
    let last = epoch(moves.last().unwrap()).unwrap();
    assert_eq!(failed, Event::NodeFailed { node: b });
    assert_eq!(promoted, Event::Promoted { node: rb, replaced: b, epoch: last + 1 });
    assert_eq!(restarted, Event::NodeRestarted { node: b });
    assert_eq!(c.topology().node(rb).unwrap().config_epoch, last + 1);
    assert_eq!(
        client.get("{ev}:3").unwrap().as_deref(),
        Some(&b"v"[..]),
        "the promoted replica serves it"
    );

    // Every subscriber saw the same events in the same order; epochs never go back.
    let seen: Vec<Event> = other.try_iter().collect();
    let mut all = moves.clone();
    all.extend([failed, promoted, restarted]);
    assert_eq!(seen, all);
    let epochs: Vec<u64> = all.iter().filter_map(epoch).collect();
    assert!(epochs.windows(2).all(|w| w[0] <= w[1]), "{epochs:?}");
}

#[test]
fn aborts_recoveries_and_scaling_are_reported() {
    let c = cluster();
    let events = c.events();
    let slot = key_slot("{ab}");
    let from = c.slot_owner(slot).unwrap();
    let to = c.primaries().into_iter().find(|p| *p != from).unwrap();
    c.client().set("{ab}:k", "v").unwrap();
    let mut m = c.begin_migration(slot, to, MigrationMode::KeyByKey).unwrap();
    m.step(1).unwrap();
    m.abort().unwrap();
    let got: Vec<Event> = events.try_iter().collect();
    assert!(matches!(got[0], Event::MigrationStarted { slot: s, .. } if s == slot), "{got:?}");
    assert!(matches!(got[1], Event::MigrationStep { keys_moved: 1, .. }), "{got:?}");
    assert!(
        matches!(got[2], Event::MigrationAborted { slot: s, from: f, to: t, keys_returned: 1, .. } if s == slot && f == from && t == to),
        "{got:?}"
    );
    // A paused primary (no clock time passes) comes back without an event; one failed
    // over while hung reports the failover.
    let (p, r) = (c.primaries()[0], c.replicas_of(c.primaries()[0])[0]);
    c.pause_node(p).unwrap();
    c.resume_node(p).unwrap();
    assert_eq!(events.try_recv().ok(), None);
    let added = c.add_primary(0).unwrap();
    assert_eq!(events.try_recv().ok(), Some(Event::PrimaryAdded { node: added }));
    c.remove_primary(added).unwrap();
    assert_eq!(events.try_recv().ok(), Some(Event::PrimaryRemoved { node: added }));
    c.pause_node(p).unwrap();
    c.clock().advance(TIMEOUT + Duration::from_millis(1));
    assert_eq!(events.recv_timeout(Duration::from_secs(10)).ok(), Some(Event::NodeFailed { node: p }));
    assert!(
        matches!(events.recv_timeout(Duration::from_secs(10)), Ok(Event::Promoted { node, replaced, .. }) if node == r && replaced == p)
    );
    c.resume_node(p).unwrap();
}

#[test]
fn an_unread_subscriber_stays_bounded_and_is_cut_off() {
    let c = Cluster::builder().primaries(2).build().unwrap();
    assert_eq!(c.events().capacity(), Some(4096), "the default bound");
    let slow = c.events_with_capacity(16);
    let reader = c.events();
    let slot = key_slot("x");
    let (a, b) = (c.primaries()[0], c.primaries()[1]);
    let other = |c: &Cluster| if c.slot_owner(slot) == Some(a) { b } else { a };
    for _ in 0..100 {
        c.migrate_slot(slot, other(&c)).unwrap();
        assert!(slow.len() <= 16, "bounded: {}", slow.len());
    }
    // The reader got all 100 moves; the slow one holds the first 16, then sees the end.
    assert_eq!(reader.try_iter().count(), 100);
    let kept: Vec<Event> = slow.try_iter().collect();
    assert_eq!(kept.len(), 16);
    assert!(matches!(kept[0], Event::SlotMoved { .. }));
    assert!(slow.recv_timeout(Duration::from_millis(10)).unwrap_err().is_disconnected());
    // A new subscription starts afresh.
    let again = c.events_with_capacity(16);
    c.migrate_slot(slot, other(&c)).unwrap();
    assert_eq!(again.try_iter().count(), 1);
}
