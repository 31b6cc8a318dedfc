// ioredis Cluster against slotstore-server, configured as the chat app configured it
// (three seed nodes, scaleReads: 'slave', no natMap), driven by tests/server_clients.rs.
//
// argv: key file (one key per slot, one per line), then the seed ports.
// stdin commands, one per line: write | get KEY | load | stop. Each answers one line.
const fs = require('fs');
const readline = require('readline');
const Redis = require('ioredis');

const keys = fs.readFileSync(process.argv[2], 'utf8').split('\n');
const seeds = process.argv.slice(3).map((port) => ({ host: '127.0.0.1', port: Number(port) }));
const cluster = new Redis.Cluster(seeds, { scaleReads: 'slave' });
const primary = new Redis.Cluster(seeds);
const load = { stop: false, acked: 0, errors: 0, done: null };

async function writer() {
  let n = 0;
  while (!load.stop) {
    try {
      await cluster.set(`{load}:${n}`, n);
      load.acked = n + 1;
      n += 1;
    } catch (e) {
      // A failover in progress: retry the same write.
      load.errors += 1;
      process.stderr.write(`ioredis load: ${e}\n`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function handle(cmd) {
  if (cmd[0] === 'write') {
    for (let i = 0; i < keys.length; i += 500) {
      await Promise.all(keys.slice(i, i + 500).map((k) => cluster.set(k, k)));
    }
    const deadline = Date.now() + 10000;
    for (let i = 0; i < keys.length; i += 7) {
      while ((await cluster.get(keys[i])) !== keys[i]) {
        if (Date.now() > deadline) return `fail read ${keys[i]}`;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    return 'ok write';
  }
  if (cmd[0] === 'get') return `ok ${await primary.get(cmd[1])}`;
  if (cmd[0] === 'load') {
    load.done = writer();
    return 'loading';
  }
  if (cmd[0] === 'stop') {
    load.stop = true;
    await load.done;
    for (let n = 0; n < load.acked; n += 1) {
      const v = await primary.get(`{load}:${n}`);
      if (v !== String(n)) return `fail load {load}:${n} is ${v}`;
    }
    setTimeout(() => process.exit(0), 10);
    return `ok load ${load.acked} ${load.errors}`;
  }
  return `fail unknown ${cmd[0]}`;
}

cluster.on('ready', () => {
  console.log('ready');
  const rl = readline.createInterface({ input: process.stdin });
  const queue = [];
  let busy = false;
  const next = async () => {
    if (busy || queue.length === 0) return;
    busy = true;
    const line = queue.shift();
    try {
      console.log(await handle(line.trim().split(/\s+/)));
    } catch (e) {
      console.log(`fail ${e}`);
    }
    busy = false;
    next();
  };
  rl.on('line', (line) => {
    queue.push(line);
    next();
  });
});
