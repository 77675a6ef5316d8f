#!/usr/bin/env bash
# Installs and starts a local PostgreSQL server for the test suite; prints its URL.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 || true
for _ in $(seq 1 30); do
  if su postgres -c "pg_isready -q -h 127.0.0.1"; then break; fi
  sleep 1
done
su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'digestbot'\"" >&2
echo "postgresql+asyncpg://postgres:digestbot@127.0.0.1:5432/postgres"
