//! Model-based test of live migration: proptest interleaves writes and reads on a tagged slot
//! with key-by-key steps, finishes, aborts and atomic moves of that slot, on a store with a
//! default client (redirects followed) and a raw one (redirects shown). After every operation
//! the default client must read exactly what a plain map says, the raw client may only ever be
//! redirected with the error the migration state allows, and every key must live on exactly
//! one primary.
//!
//! Run: `cargo test --test migration_model` (`PROPTEST_CASES=2000` for a longer run).

use proptest::prelude::*;
use slotstore::{key_slot, Cluster, Error, Migration, MigrationMode, NodeId};
use std::collections::BTreeMap;

/// Keys of the moving slot (one tag) and one key elsewhere.
const KEYS: [&str; 6] = ["{m}a", "{m}b", "{m}c", "{m}d", "{m}e", "z"];

#[derive(Debug, Clone)]
enum Op {
    Set(usize, u8),
    Incr(usize),
    Del(usize),
    MSet(usize, usize, u8),
    Get(usize),
    Begin,
    Step(usize),
    Finish,
    Abort,
    Atomic,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..KEYS.len();
    prop_oneof![
        3 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
        2 => k.clone().prop_map(Op::Incr),
        1 => k.clone().prop_map(Op::Del),
        2 => (0..5usize, 0..5usize, any::<u8>()).prop_map(|(a, b, v)| Op::MSet(a, b, v)),
        2 => k.prop_map(Op::Get),
        2 => Just(Op::Begin),
        3 => (1..4usize).prop_map(Op::Step),
        1 => Just(Op::Finish),
        1 => Just(Op::Abort),
        1 => Just(Op::Atomic),
    ]
}

struct Harness {
    cluster: Cluster,
    model: BTreeMap<&'static str, String>,
    migration: Option<Migration>,
    slot: u16,
}

impl Harness {
    fn other_primary(&self) -> NodeId {
        let owner = self.cluster.slot_owner(self.slot).expect("owned");
        self.cluster.primaries().into_iter().find(|p| *p != owner).expect("two primaries")
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let client = self.cluster.client();
        match *op {
            Op::Set(k, v) => {
                client.set(KEYS[k], v.to_string()).expect("SET");
                self.model.insert(KEYS[k], v.to_string());
            }
            Op::Incr(k) => {
                let n = client.incr_by(KEYS[k], 1).expect("INCR on integers");
                let want = self.model.get(KEYS[k]).map_or(0, |v| v.parse::<i64>().unwrap()) + 1;
                prop_assert_eq!(n, want);
                self.model.insert(KEYS[k], n.to_string());
            }
            Op::Del(k) => {
                let n = client.del(&[KEYS[k]]).expect("DEL");
                prop_assert_eq!(n, usize::from(self.model.remove(KEYS[k]).is_some()));
            }
            Op::MSet(a, b, v) => {
                // Two keys of the moving slot: split across the sides, a default client waits
                // for the mover, so only run it when no key-by-key migration is open.
                if self.migration.is_none() {
                    client.mset(&[(KEYS[a], v.to_string()), (KEYS[b], v.to_string())]).expect("MSET");
                    self.model.insert(KEYS[a], v.to_string());
                    self.model.insert(KEYS[b], v.to_string());
                }
            }
            Op::Get(k) => {
                let got = client.get(KEYS[k]).expect("GET");
                let got = got.map(|b| String::from_utf8(b.to_vec()).unwrap());
                prop_assert_eq!(got.as_deref(), self.model.get(KEYS[k]).map(String::as_str));
            }
            Op::Begin => {
                if self.migration.is_none() {
                    let to = self.other_primary();
                    let m = self.cluster.begin_migration(self.slot, to, MigrationMode::KeyByKey);
                    self.migration = Some(m.expect("begin"));
                } else {
                    let again = self.cluster.begin_migration(
                        self.slot,
                        self.other_primary(),
                        MigrationMode::KeyByKey,
                    );
                    prop_assert!(again.is_err(), "a second migration of a moving slot is refused");
                }
            }
            Op::Step(n) => {
                if let Some(m) = self.migration.as_mut() {
                    m.step(n).expect("step");
                }
            }
            Op::Finish => {
                if let Some(mut m) = self.migration.take() {
                    let to = m.progress().to;
                    prop_assert!(m.finish().expect("finish").done);
                    prop_assert_eq!(self.cluster.slot_owner(self.slot), Some(to));
                }
            }
            Op::Abort => {
                if let Some(mut m) = self.migration.take() {
                    let from = m.progress().from;
                    m.abort().expect("abort");
                    prop_assert_eq!(self.cluster.slot_owner(self.slot), Some(from));
                }
            }
            Op::Atomic => {
                let r = self.cluster.migrate_slot(self.slot, self.other_primary());
                prop_assert_eq!(
                    r.is_err(),
                    self.migration.is_some(),
                    "atomic moves wait for key-by-key ones"
                );
            }
        }
        self.check()
    }

    /// Every key reads as the model says through a default client; a raw client is served
    /// or redirected as the migration state allows; no key is stored twice.
    fn check(&self) -> Result<(), TestCaseError> {
        let client = self.cluster.client();
        let raw = self.cluster.client().follow_redirects(false);
        for k in KEYS {
            let got = client.get(k).expect("GET").map(|b| String::from_utf8(b.to_vec()).unwrap());
            prop_assert_eq!(got.as_deref(), self.model.get(k).map(String::as_str), "{}", k);
            match raw.get(k) {
                Ok(v) => prop_assert_eq!(v.is_some(), self.model.contains_key(k)),
                Err(Error::Ask { node, .. }) => {
                    prop_assert!(self.migration.is_some() && key_slot(k) == self.slot, "ASK for {}", k);
                    prop_assert_eq!(Some(node), self.migration.as_ref().map(|m| m.progress().to));
                }
                // The raw client's map learns the new owner from this; the next read is served.
                Err(Error::Moved { .. }) => prop_assert!(raw.get(k).is_ok() || self.migration.is_some()),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
        prop_assert_eq!(client.dbsize(), self.model.len(), "each key on exactly one primary");
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn migrations_never_lose_or_duplicate_a_key(ops in proptest::collection::vec(op(), 1..50)) {
        let cluster = Cluster::builder().primaries(2).build().expect("builds");
        let slot = key_slot("{m}");
        let mut h = Harness { cluster, model: BTreeMap::new(), migration: None, slot };
        for op in &ops {
            h.run(op)?;
        }
        if let Some(mut m) = h.migration.take() {
            m.finish().expect("finish");
        }
        h.check()?;
    }
}
