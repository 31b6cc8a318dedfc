//! A 3-primary store: hash tags keep a user's keys in one slot, a CROSSSLOT error when they
//! don't, TTLs, a live slot move, and the topology as CLUSTER SHARDS / NODES show it.
//!
//! Run with `cargo run --release --example quickstart`.

use slotstore::{key_slot, Cluster, Error, Reply};
use std::time::Duration;

fn show(client: &slotstore::Client, words: &[&str]) {
    let reply = client.command(words);
    let shown = match &reply {
        Ok(r) => r.to_string(),
        Err(e) => format!("(error) {e}"),
    };
    println!("> {}\n{}", words.join(" "), shown);
}

fn main() -> Result<(), Error> {
    let cluster = Cluster::builder().primaries(3).build()?;
    let client = cluster.client();

    println!("== A user's keys share the tag {{42}}, so they share a slot ==");
    for key in ["user:{42}:name", "user:{42}:email", "user:{42}:visits"] {
        let slot = key_slot(key);
        println!("{key:<20} slot {slot:>5} on {:?}", cluster.slot_owner(slot).expect("assigned"));
    }
    client.mset(&[("user:{42}:name", "kim"), ("user:{42}:email", "kim@example.com")])?;
    client.incr_by("user:{42}:visits", 1)?;
    show(&client, &["MGET", "user:{42}:name", "user:{42}:email", "user:{42}:visits"]);

    println!("\n== Keys without a shared tag land in different slots ==");
    println!("user:1 slot {}, user:2 slot {}", key_slot("user:1"), key_slot("user:2"));
    show(&client, &["MSET", "user:1", "a", "user:2", "b"]);
    assert_eq!(client.mget(&["user:1", "user:2"]), Err(Error::CrossSlot));

    println!("\n== Redis semantics, Redis errors ==");
    show(&client, &["SET", "session:{42}", "token", "EX", "60", "NX"]);
    show(&client, &["TTL", "session:{42}"]);
    show(&client, &["INCR", "user:{42}:name"]);
    show(&client, &["SET", "k", "v", "EX", "0"]);
    client.set_ex("flash", "gone soon", Duration::from_millis(50))?;
    std::thread::sleep(Duration::from_millis(60));
    println!("flash after 60 ms: {:?}", client.get("flash")?);

    println!("\n== Move the user's slot to another primary while it holds data ==");
    let slot = key_slot("user:{42}:name");
    let from = cluster.slot_owner(slot).expect("assigned");
    let to = cluster.primaries().into_iter().find(|p| *p != from).expect("3 primaries");
    cluster.migrate_slot(slot, to)?;
    println!(
        "slot {slot}: {from:?} -> {:?} (epoch {})",
        cluster.slot_owner(slot).unwrap(),
        cluster.topology().epoch()
    );
    assert_eq!(client.get("user:{42}:name")?.as_deref(), Some(&b"kim"[..]));
    show(&client, &["GET", "user:{42}:name"]);

    println!("\n== Topology ==");
    println!("> CLUSTER NODES");
    if let Ok(Reply::Bulk(text)) = client.command(&["CLUSTER", "NODES"]) {
        print!("{}", String::from_utf8_lossy(&text));
    }
    show(&client, &["CLUSTER", "SLOTS"]);
    Ok(())
}
