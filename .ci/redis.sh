#!/usr/bin/env bash
# Installs and starts a local Redis server for the test suite; prints its URL.
set -euo pipefail
port=${REDIS_TEST_PORT:-6390}
if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
fi
if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --save '' --appendonly no \
    --dir /tmp --logfile "/tmp/redis-test-$port.log" >&2
fi
for _ in $(seq 1 30); do
  if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then break; fi
  sleep 1
done
redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null
echo "redis://127.0.0.1:$port/0"
