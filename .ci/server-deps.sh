# What the slotstore-server client tests (tests/server_clients.rs) need on a clean machine:
# redis-cli and redis-benchmark (Debian's redis-tools; redis-server for the differential
# tests), redis-py, and ioredis installed into tests/clients/node. Safe to run twice.
#
# Sourced by .ci/run (`source .ci/server-deps.sh`): it then exports
# SLOTSTORE_REQUIRE_CLIENTS=1, so a client that is missing fails its test instead of skipping.
# Run with bash to install only.
_slotstore_deps_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_slotstore_sudo=""
[ "$(id -u)" -ne 0 ] && _slotstore_sudo="sudo"
if ! command -v redis-cli >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1 \
  || ! command -v redis-benchmark >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1 \
  || ! command -v npm >/dev/null 2>&1; then
  $_slotstore_sudo apt-get update -qq
  $_slotstore_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    redis-server redis-tools nodejs npm >/dev/null
fi
if ! python3 -c 'import redis.cluster' >/dev/null 2>&1; then
  python3 -m pip install -q redis 2>/dev/null \
    || python3 -m pip install -q --break-system-packages redis 2>/dev/null \
    || $_slotstore_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-redis >/dev/null
fi
if [ ! -d "$_slotstore_deps_root/tests/clients/node/node_modules/ioredis" ]; then
  (cd "$_slotstore_deps_root/tests/clients/node" && npm install --no-audit --no-fund --silent)
fi
export SLOTSTORE_REQUIRE_CLIENTS=1
