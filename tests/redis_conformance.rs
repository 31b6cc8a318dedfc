//! The conformance suite (`tests/conformance/mod.rs`) in each mode, with the count of shared
//! assertions printed per mode:
//!
//! - in process: `cluster.redis_connection()` and `Cluster` as the admin;
//! - a real Redis Cluster: redis-rs's `ClusterClient` and `RedisClusterAdmin`, when
//!   `SLOTSTORE_REDIS_CLUSTER` names one of its nodes (`.ci/redis-cluster.sh start` starts 3
//!   primaries and 3 replicas on 127.0.0.1:7300-7305 and prints the line to export); skipped
//!   with a message otherwise, a failure if `SLOTSTORE_REQUIRE_REDIS=1`. The suite moves a slot
//!   and fails a shard over: run it on a throwaway cluster;
//! - slotstore-server (feature `server`): redis-rs's `ClusterClient` against
//!   `cluster.serve(ServerConfig::default())` on ephemeral loopback ports, with the served
//!   `Cluster` as the admin.
#![cfg(feature = "redis")]

mod conformance;

use conformance::{run_all, Target};
use slotstore::admin::{ClusterAdmin, RedisClusterAdmin};
use slotstore::redis::{self, cluster::ClusterClient};
use slotstore::{Cluster, RedisConnection};

struct InProcess {
    cluster: Cluster,
}

impl Target for InProcess {
    type Con = RedisConnection;
    type Async = RedisConnection;

    fn name(&self) -> &'static str {
        "in process"
    }

    fn connect(&self) -> RedisConnection {
        self.cluster.redis_connection()
    }

    fn connect_async(&self, _rt: &tokio::runtime::Runtime) -> RedisConnection {
        self.cluster.redis_connection()
    }

    fn admin(&self) -> &dyn ClusterAdmin {
        &self.cluster
    }
}

/// A cluster reached over TCP through redis-rs's `ClusterClient`.
pub struct OverTcp {
    name: &'static str,
    client: ClusterClient,
    admin: Box<dyn ClusterAdmin + Sync>,
}

impl Target for OverTcp {
    type Con = redis::cluster::ClusterConnection;
    type Async = redis::cluster_async::ClusterConnection;

    fn name(&self) -> &'static str {
        self.name
    }

    fn connect(&self) -> Self::Con {
        self.client.get_connection().expect("cluster connection")
    }

    fn connect_async(&self, rt: &tokio::runtime::Runtime) -> Self::Async {
        rt.block_on(self.client.get_async_connection()).expect("async cluster connection")
    }

    fn admin(&self) -> &dyn ClusterAdmin {
        &*self.admin
    }
}

#[test]
fn conformance_in_process() {
    let cluster = Cluster::builder().primaries(3).replicas(1).build().unwrap();
    let n = run_all(&InProcess { cluster });
    assert!(n > 100, "{n} assertions");
}

#[test]
fn conformance_real_redis_cluster() {
    let Ok(seed) = std::env::var("SLOTSTORE_REDIS_CLUSTER") else {
        assert!(
            std::env::var("SLOTSTORE_REQUIRE_REDIS").as_deref() != Ok("1"),
            "SLOTSTORE_REQUIRE_REDIS=1 but SLOTSTORE_REDIS_CLUSTER is not set (.ci/redis-cluster.sh start)"
        );
        println!(
            "conformance [real Redis Cluster]: skipped, SLOTSTORE_REDIS_CLUSTER is not set \
             (start one with .ci/redis-cluster.sh start)"
        );
        return;
    };
    let client = ClusterClient::new(vec![format!("redis://{seed}/")]).expect("cluster client");
    let admin = Box::new(RedisClusterAdmin::new([seed]));
    let n = run_all(&OverTcp { name: "real Redis Cluster", client, admin });
    assert!(n > 100, "{n} assertions");
}

#[cfg(feature = "server")]
#[test]
fn conformance_slotstore_server() {
    let cluster = Cluster::builder().primaries(3).replicas(1).build().unwrap();
    let server = cluster.serve(slotstore::ServerConfig::default()).unwrap();
    let seeds: Vec<String> = server.addresses().iter().map(|(_, a)| format!("redis://{a}/")).collect();
    let client = ClusterClient::new(seeds).expect("cluster client");
    let n = run_all(&OverTcp { name: "slotstore-server", client, admin: Box::new(cluster.clone()) });
    assert!(n > 100, "{n} assertions");
    server.shutdown();
}

/// slotstore-server driven as a real cluster is driven: the admin speaks RESP to the nodes.
#[cfg(feature = "server")]
#[test]
fn conformance_slotstore_server_admin_over_resp() {
    let cluster = Cluster::builder().primaries(3).replicas(1).build().unwrap();
    let server = cluster.serve(slotstore::ServerConfig::default()).unwrap();
    let addrs: Vec<String> = server.addresses().iter().map(|(_, a)| a.to_string()).collect();
    let client =
        ClusterClient::new(addrs.iter().map(|a| format!("redis://{a}/")).collect::<Vec<_>>()).unwrap();
    let admin = Box::new(RedisClusterAdmin::new(addrs));
    let n = run_all(&OverTcp { name: "slotstore-server, admin over RESP", client, admin });
    assert!(n > 100, "{n} assertions");
    server.shutdown();
}
