// The chat app's Redis Cluster setup, against slotstore-server instead of six redis-server
// containers. Start the cluster, then run this:
//
//   cargo run --release --bin slotstore-server -- --primaries 3 --replicas 1 --port 7001
//   cd examples/chat-ioredis && npm install && node chat.js
//
// The ioredis configuration is the one the app used with Docker, minus the natMap it needed
// there: slotstore-server announces 127.0.0.1 and the ports it listens on, so the addresses in
// CLUSTER SLOTS are the ones this process can reach.
const Redis = require('ioredis');

const seeds = (process.env.REDIS_SEEDS || '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003')
  .split(',')
  .map((s) => {
    const [host, port] = s.split(':');
    return { host, port: Number(port) };
  });

const redis = new Redis.Cluster(seeds, {
  scaleReads: 'slave',
  redisOptions: { password: process.env.REDIS_PASSWORD || undefined },
  // natMap: { ... }   <- not needed any more
});

async function main() {
  const room = 'chat:{room42}';
  const members = ['ana', 'ben', 'kim'];
  await redis.del(`${room}:log`, `${room}:members`, `${room}:unread`, `${room}:board`);
  await redis.sadd(`${room}:members`, ...members);
  for (let i = 0; i < 9; i += 1) {
    const from = members[i % members.length];
    const text = `message ${i} from ${from}`;
    // One slot for the whole room (its hash tag), so MULTI is legal in a cluster.
    const tx = redis.multi();
    tx.rpush(`${room}:log`, text);
    tx.ltrim(`${room}:log`, -100, -1);
    for (const m of members) if (m !== from) tx.hincrby(`${room}:unread`, m, 1);
    tx.zincrby(`${room}:board`, 1, from);
    await tx.exec();
  }
  // A cache entry, as the app's cache module stored them.
  await redis.set('cache:user:42', JSON.stringify({ name: 'kim' }), 'EX', 60);

  // Reads go to replicas (scaleReads: 'slave'): they follow their primaries within
  // milliseconds, so wait for the last write to be there.
  let log = [];
  for (let tries = 0; tries < 100 && log.length < 9; tries += 1) {
    log = await redis.lrange(`${room}:log`, 0, -1);
    if (log.length < 9) await new Promise((r) => setTimeout(r, 10));
  }
  console.log('last messages:', log.slice(-3));
  console.log('unread:', await redis.hgetall(`${room}:unread`));
  console.log('board:', await redis.zrevrange(`${room}:board`, 0, -1, 'WITHSCORES'));
  console.log('cache:', await redis.get('cache:user:42'));
  const nodes = redis.nodes('all').map((n) => `${n.options.host}:${n.options.port}`);
  console.log('connected to', nodes.sort().join(' '));
  await redis.quit();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
