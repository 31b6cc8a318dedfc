#!/usr/bin/env bash
# What the slotstore-server client tests (tests/server_clients.rs) need on a clean machine:
# redis-cli (Debian's redis-tools; redis-server for the differential tests), redis-py, and
# ioredis installed into tests/clients/node. Safe to run twice. Export
# SLOTSTORE_REQUIRE_CLIENTS=1 after it so a missing client fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v redis-cli >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1 \
  || ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools nodejs npm >/dev/null
fi
if ! python3 -c 'import redis.cluster' >/dev/null 2>&1; then
  python3 -m pip install -q redis || python3 -m pip install -q --break-system-packages redis
fi
if [ ! -d tests/clients/node/node_modules/ioredis ]; then
  (cd tests/clients/node && npm install --no-audit --no-fund --silent)
fi
