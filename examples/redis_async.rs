//! Async application code on tokio, written once against `redis::aio::ConnectionLike`, run on
//! slotstore in process and, when `SLOTSTORE_REDIS_CLUSTER=host:port` names a node of a real
//! Redis/Valkey Cluster, on that cluster through redis-rs's `ClusterClient`.
//!
//! ```sh
//! cargo run --features redis --example redis_async
//! .ci/redis-cluster.sh start && SLOTSTORE_REDIS_CLUSTER=127.0.0.1:7300 \
//!     cargo run --features redis --example redis_async
//! ```

use slotstore::redis::{self, aio::ConnectionLike, AsyncCommands, RedisResult};
use std::time::Duration;

/// The application: a visit counter and a small job queue, keyed by user with a hash tag so a
/// user's keys share a slot (one atomic pipeline touches them together).
async fn app<C: ConnectionLike + AsyncCommands + Clone + Send + 'static>(mut con: C) -> RedisResult<()> {
    let user = "user:{42}";
    let (visits, _): (i64, ()) = redis::pipe()
        .atomic()
        .incr(format!("{user}:visits"), 1)
        .expire(format!("{user}:visits"), 3600)
        .ignore()
        .set(format!("{user}:last"), "now")
        .query_async(&mut con)
        .await?;
    println!("visits: {visits}");

    // A worker task blocks on the queue; the runtime keeps serving others meanwhile.
    let mut worker = con.clone();
    let job =
        tokio::spawn(async move { worker.blpop::<_, Option<(String, String)>>("jobs:{42}", 5.0).await });
    let _: i64 = con.rpush("jobs:{42}", "resize-avatar").await?;
    let (queue, task) = job.await.expect("worker task")?.expect("a job within 5 s");
    println!("worker took {task:?} from {queue}");

    // Keys in different slots: redis-rs's cluster connection splits MGET by slot, so does
    // slotstore's.
    let _: () = con.mset(&[("a", 1), ("b", 2)]).await?;
    let ab: Vec<i64> = con.mget(&["a", "b"]).await?;
    println!("a, b = {ab:?}");
    let _: i64 =
        con.del(&[format!("{user}:visits"), format!("{user}:last"), "a".into(), "b".into()]).await?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = slotstore::Cluster::builder().primaries(3).replicas(1).build()?;
    println!("== slotstore, in process");
    app(cluster.redis_connection()).await?;

    if let Ok(seed) = std::env::var("SLOTSTORE_REDIS_CLUSTER") {
        println!("== real cluster at {seed}");
        let client = redis::cluster::ClusterClient::builder(vec![format!("redis://{seed}/")])
            .connection_timeout(Duration::from_secs(2))
            .build()?;
        app(client.get_async_connection().await?).await?;
    }
    Ok(())
}
