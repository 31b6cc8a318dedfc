#!/usr/bin/env bash
# redis-benchmark --cluster against slotstore-server and against a real 3-primary Redis
# Cluster on loopback, side by side: 50 clients, SET and GET, without and with -P 16.
#
#   scripts/bench-cluster.sh [requests]   (default 200000 per unpipelined run, 10x pipelined)
#
# Ports: slotstore on 7121-7123, Redis on 7131-7133 (override with SLOTSTORE_PORT/REDIS_PORT).
# Prints requests per second for each and the slotstore/Redis ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
SPORT=${SLOTSTORE_PORT:-7121}
RPORT=${REDIS_PORT:-7131}
WORK=$(mktemp -d)
SERVER_PID=""

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  for i in 0 1 2; do redis-cli -p $((RPORT + i)) shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --quiet --bin slotstore-server
"${CARGO_TARGET_DIR:-target}/release/slotstore-server" --primaries 3 --replicas 0 --port "$SPORT" >"$WORK/slotstore.out" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [ "$(wc -l <"$WORK/slotstore.out")" -ge 3 ] && break
  sleep 0.1
done

for i in 0 1 2; do
  p=$((RPORT + i))
  mkdir -p "$WORK/r$p"
  redis-server --port "$p" --cluster-enabled yes --cluster-config-file "$WORK/r$p/nodes.conf" \
    --dir "$WORK/r$p" --save '' --appendonly no --daemonize yes --logfile "$WORK/r$p/log" >/dev/null
done
for i in 0 1 2; do
  for _ in $(seq 1 100); do redis-cli -p $((RPORT + i)) ping >/dev/null 2>&1 && break; sleep 0.05; done
done
redis-cli --cluster create 127.0.0.1:$RPORT 127.0.0.1:$((RPORT + 1)) 127.0.0.1:$((RPORT + 2)) \
  --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 1 200); do
  ok=0
  for i in 0 1 2; do
    redis-cli -p $((RPORT + i)) cluster info | grep -q 'cluster_state:ok' && ok=$((ok + 1))
  done
  [ "$ok" -eq 3 ] && break
  sleep 0.1
done

# One redis-benchmark run; prints "SET rps" and "GET rps" lines. Pipelined runs send 10x
# the requests, so each lasts long enough to measure.
bench() {
  local n=$N
  [ -n "$2" ] && n=$((N * 10))
  redis-benchmark --cluster -p "$1" -c 50 -n "$n" -t set,get -q $2 2>/dev/null |
    tr '\r' '\n' | grep -E '^(SET|GET): [0-9.]+ requests per second' |
    sed -E 's/^(SET|GET): ([0-9.]+).*/\1 \2/'
}

printf '%-10s %-6s %14s %14s %7s\n' pipeline cmd slotstore redis ratio
for P in "" "-P 16"; do
  s=$(bench "$SPORT" "$P")
  r=$(bench "$RPORT" "$P")
  for cmd in SET GET; do
    sv=$(echo "$s" | awk -v c=$cmd '$1==c {print $2}')
    rv=$(echo "$r" | awk -v c=$cmd '$1==c {print $2}')
    ratio=$(awk -v a="$sv" -v b="$rv" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '%-10s %-6s %14s %14s %7s\n' "${P:-none}" "$cmd" "$sv" "$rv" "$ratio"
  done
done
