//! The in-process redis-rs connection beyond what the shared conformance suite can ask of a
//! real cluster: sync pipelines, per-connection `MULTI`/`WATCH` state, the cross-slot mode,
//! the async side on a current-thread runtime.
#![cfg(feature = "redis")]

use slotstore::redis::{self, Commands, ConnectionLike, ErrorKind, ServerErrorKind};
use slotstore::{key_slot, Cluster};
use std::time::Duration;

fn cluster() -> Cluster {
    Cluster::builder().primaries(3).build().unwrap()
}

#[test]
fn sync_pipelines_run_on_one_slot() {
    let cluster = cluster();
    let mut con = cluster.redis_connection();
    let (a, n): (String, i64) =
        redis::pipe().set("{p}a", "1").ignore().get("{p}a").incr("{p}n", 2).query(&mut con).unwrap();
    assert_eq!((a, n), ("1".to_owned(), 2));
    let (x, y): (i64, i64) =
        redis::pipe().atomic().incr("{p}n", 1).incr("{p}n", 1).query(&mut con).unwrap();
    assert_eq!((x, y), (3, 4));
    // Across slots: refused before anything runs, as redis-rs's async cluster connection does.
    let err = redis::pipe().set("a", 1).set("b", 2).query::<((), ())>(&mut con).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server(ServerErrorKind::CrossSlot));
    assert_eq!(con.exists::<_, i64>(&["a", "b"]).unwrap(), 0);
    // A command refused while queued aborts the transaction.
    let err =
        redis::pipe().atomic().incr("{p}n", 1).cmd("NOPE").query::<(i64, ())>(&mut con).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server(ServerErrorKind::ExecAbort));
    assert_eq!(con.get::<_, i64>("{p}n").unwrap(), 4);
    // Keyless commands in a pipeline do not choose its slot.
    let (pong, v): (String, i64) = redis::pipe().cmd("PING").get("{p}n").query(&mut con).unwrap();
    assert_eq!((pong.as_str(), v), ("PONG", 4));
}

#[test]
fn multi_exec_and_watch_keep_connection_state() {
    let cluster = cluster();
    let mut con = cluster.redis_connection();
    let mut other = con.clone();
    let _: () = redis::cmd("WATCH").arg("{w}k").query(&mut con).unwrap();
    let _: () = other.set("{w}k", "changed").unwrap();
    let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
    let queued: String = redis::cmd("SET").arg("{w}k").arg("mine").query(&mut con).unwrap();
    assert_eq!(queued, "QUEUED");
    let exec: Option<Vec<String>> = redis::cmd("EXEC").query(&mut con).unwrap();
    assert_eq!(exec, None, "a watched key changed: EXEC runs nothing");
    assert_eq!(con.get::<_, String>("{w}k").unwrap(), "changed");
    // A clone is another connection: it is not inside this one's MULTI.
    let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
    assert_eq!(other.get::<_, String>("{w}k").unwrap(), "changed");
    let _: () = redis::cmd("INCR").arg("{w}n").query(&mut con).unwrap_or(());
    let exec: Vec<i64> = redis::cmd("EXEC").query(&mut con).unwrap();
    assert_eq!(exec, vec![1]);
    let err = redis::cmd("EXEC").query::<()>(&mut con).unwrap_err();
    assert_eq!(err.detail(), Some("EXEC without MULTI"));
}

#[test]
fn split_commands_merge_as_redis_rs_merges_them() {
    let cluster = cluster();
    let mut con = cluster.redis_connection();
    assert_ne!(key_slot("a"), key_slot("b"));
    // MSET across slots: not atomic, as on a real cluster; both parts ran.
    let _: () = con.mset(&[("a", "1"), ("b", "2")]).unwrap();
    let got: Vec<Option<i64>> = con.mget(&["b", "a", "zz"]).unwrap();
    assert_eq!(got, vec![Some(2), Some(1), None]);
    // An odd MSET is not split: the command itself answers, as a Redis Cluster node does
    // (its slot check comes before MSET's own argument count check).
    let err = redis::cmd("MSET").arg("a").arg("1").arg("b").query::<()>(&mut con).unwrap_err();
    assert_eq!(err.code(), Some("CROSSSLOT"));
    let err = redis::cmd("MSET").arg("{t}a").arg("1").arg("{t}b").query::<()>(&mut con).unwrap_err();
    assert_eq!(err.detail(), Some("wrong number of arguments for 'mset' command"));
    // SCAN cannot be routed by redis-rs's cluster connection: refused the same way.
    let err = redis::cmd("SCAN").arg(0).query::<(u64, Vec<String>)>(&mut con).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Client);
    // INFO: a map of node address to text, as redis-rs's cluster connection answers.
    let info: std::collections::HashMap<String, String> = redis::cmd("INFO").query(&mut con).unwrap();
    assert_eq!(info.len(), 3);
    assert!(info.values().all(|text| text.contains("# Server")));
    assert!(con.check_connection());
    assert!(con.is_open());
}

#[test]
fn cross_slot_mode_runs_multi_key_commands_atomically_with_the_same_replies() {
    let cluster = Cluster::builder().primaries(3).allow_cross_slot(true).build().unwrap();
    let mut con = cluster.redis_connection();
    let _: () = con.mset(&[("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(con.mget::<_, Vec<i64>>(&["a", "b"]).unwrap(), vec![1, 2]);
    assert_eq!(con.del::<_, i64>(&["a", "b", "c"]).unwrap(), 2);
    // What a real cluster refuses works here: the one thing that does not carry over.
    let _: i64 = con.sadd("s1", "x").unwrap();
    let _: i64 = con.sadd("s2", "y").unwrap();
    let mut u: Vec<String> = con.sunion(&["s1", "s2"]).unwrap();
    u.sort();
    assert_eq!(u, vec!["x", "y"]);
}

#[test]
fn async_blocking_pop_does_not_stall_a_current_thread_runtime() {
    let cluster = cluster();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut waiter = cluster.redis_connection();
        let mut pusher = cluster.redis_connection();
        let wait = tokio::spawn(async move {
            redis::cmd("BLPOP")
                .arg("q")
                .arg(5)
                .query_async::<Option<(String, String)>>(&mut waiter)
                .await
        });
        // On one thread, this push can only run while BLPOP waits off the runtime.
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let _: i64 =
                    redis::cmd("RPUSH").arg("q").arg("v").query_async(&mut pusher).await.unwrap();
                if wait.is_finished() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        let got = wait.await.unwrap().unwrap();
        assert_eq!(got, Some(("q".to_owned(), "v".to_owned())));
    });
}

#[test]
fn async_wait_counts_this_connections_write_on_a_multi_thread_runtime() {
    let cluster = Cluster::builder().primaries(1).replicas(1).build().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let mut con = cluster.redis_connection();
        let _: () = redis::cmd("SET").arg("k").arg("v").query_async(&mut con).await.unwrap();
        let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query_async(&mut con).await.unwrap();
        assert_eq!(acked, 1, "the replica acknowledged this connection's write");
    });
}

#[test]
fn cluster_admin_reports_layout_and_refuses_bad_targets() {
    use slotstore::admin::ClusterAdmin;
    let cluster = Cluster::builder().primaries(3).replicas(1).build().unwrap();
    let admin: &dyn ClusterAdmin = &cluster;
    let layout = admin.topology().unwrap();
    assert_eq!(layout.shards.len(), 3);
    assert_eq!(layout.shards[0].slots, vec![(0, 5460)]);
    assert!(layout.shards.iter().all(|s| s.replicas.len() == 1));
    let replica = layout.shards[0].replicas[0].id.clone();
    assert_eq!(layout.shard_of(&replica).unwrap().primary, layout.shards[0].primary);
    // Unknown ids and replicas are refused with Redis's errors; nothing changes.
    let err = admin.move_slot(0, "0123456789012345678901234567890123456789").unwrap_err();
    assert_eq!(err.code(), Some("ERR"));
    let err = admin.move_slot(0, &replica).unwrap_err();
    assert_eq!(err.code(), Some("ERR"), "{err}");
    let err = admin.failover(&replica).unwrap_err();
    assert_eq!(err.detail(), Some("You should send CLUSTER FAILOVER to a replica"));
    assert_eq!(admin.topology().unwrap(), layout);
    // Moving a slot to its owner is nothing to do.
    admin.move_slot(0, &layout.shards[0].primary.id).unwrap();
    // A real move and a real failover show in the layout.
    let to = layout.shards[1].primary.id.clone();
    admin.move_slot(0, &to).unwrap();
    assert_eq!(admin.topology().unwrap().owner(0).unwrap().primary.id, to);
    let promoted = admin.failover(&to).unwrap();
    let after = admin.topology().unwrap();
    assert_eq!(after.owner(0).unwrap().primary.id, promoted);
    assert_eq!(after.owner(6000).unwrap().primary.id, promoted);
    assert_eq!(after.shard_of(&to).unwrap().primary.id, promoted, "the old primary follows");
}
