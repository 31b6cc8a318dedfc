#!/usr/bin/env bash
# A real Redis Cluster for slotstore's conformance suite (tests/conformance_redis.rs):
# 3 primaries and 3 replicas from Debian's redis-server on 127.0.0.1, ports BASE..BASE+5.
#
#   .ci/redis-cluster.sh start   # prints SLOTSTORE_REDIS_CLUSTER=127.0.0.1:BASE when ready
#   .ci/redis-cluster.sh stop
#
# BASE is $SLOTSTORE_REDIS_CLUSTER_PORT (default 7300). Node files live in a temporary
# directory that `stop` removes.
set -euo pipefail

BASE="${SLOTSTORE_REDIS_CLUSTER_PORT:-7300}"
DIR="${TMPDIR:-/tmp}/slotstore-redis-cluster-$BASE"
PORTS=$(seq "$BASE" $((BASE + 5)))

stop() {
  for port in $PORTS; do
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  # Wait until every port is closed, so a following start does not meet a dying node.
  for port in $PORTS; do
    for _ in $(seq 1 100); do
      redis-cli -p "$port" ping >/dev/null 2>&1 || break
      sleep 0.1
    done
  done
  rm -rf "$DIR"
}

wait_for() { # wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s
  local tries=$(($1 * 10)); shift
  for _ in $(seq 1 "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis-cluster.sh: timed out waiting for: $*" >&2
  return 1
}

cluster_ok() { # every node sees the cluster state ok and all 16384 slots assigned
  for port in $PORTS; do
    local info
    info=$(redis-cli -p "$port" cluster info) || return 1
    grep -q '^cluster_state:ok' <<<"$info" || return 1
    grep -q '^cluster_slots_ok:16384' <<<"$info" || return 1
  done
}

replicas_synced() { # every replica's link to its primary is up
  local replicas=0
  for port in $PORTS; do
    local info
    info=$(redis-cli -p "$port" info replication) || return 1
    if grep -q '^role:slave' <<<"$info"; then
      grep -q '^master_link_status:up' <<<"$info" || return 1
      replicas=$((replicas + 1))
    fi
  done
  [ "$replicas" -eq 3 ]
}

start() {
  command -v redis-server >/dev/null || { echo "redis-cluster.sh: redis-server not installed" >&2; exit 1; }
  stop
  mkdir -p "$DIR"
  for port in $PORTS; do
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file "$DIR/nodes-$port.conf" \
      --cluster-node-timeout 2000 --dir "$DIR" --logfile "$DIR/$port.log" \
      --pidfile "$DIR/$port.pid" >/dev/null
  done
  for port in $PORTS; do
    wait_for 10 redis-cli -p "$port" ping
  done
  local addrs=()
  for port in $PORTS; do addrs+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log"
  wait_for 30 cluster_ok
  wait_for 30 replicas_synced
  echo "SLOTSTORE_REDIS_CLUSTER=127.0.0.1:$BASE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
