#!/usr/bin/env bash
# Makes a Postgres server available for the tests and prints its URL on stdout.
#
# 1. DATABASE_URL already set and reachable: use it.
# 2. A server on 127.0.0.1:5432 accepting user postgres: use it.
# 3. Otherwise (or with GANTRY_PRIVATE_POSTGRES=1) start a private cluster under target/pg (installing the server from Debian's packages if initdb is
#    missing) on port 55432, and leave it running for the next call.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "postgres.sh: $*" >&2; }

reachable() { pg_isready -q -d "$1" >/dev/null 2>&1 || psql "$1" -qAtc 'select 1' >/dev/null 2>&1; }

if [ -n "${DATABASE_URL:-}" ] && reachable "$DATABASE_URL"; then
  echo "$DATABASE_URL"; exit 0
fi
default_url="postgres://postgres@127.0.0.1:5432/postgres"
if [ -z "${GANTRY_PRIVATE_POSTGRES:-}" ] && command -v psql >/dev/null 2>&1 && reachable "$default_url"; then
  echo "$default_url"; exit 0
fi

find_bin() {
  command -v "$1" 2>/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}
if [ -z "$(find_bin initdb)" ]; then
  log "no Postgres found; installing it from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
fi
initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
dir="$PWD/target/pg"; port=55432
# initdb refuses to run as root: run the private cluster as the postgres user then.
as_owner() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
url="postgres://postgres@127.0.0.1:$port/postgres"
if [ ! -f "$dir/data/PG_VERSION" ]; then
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then id postgres >/dev/null 2>&1 || useradd -r postgres; chown -R postgres "$dir"; fi
  as_owner "$initdb -D '$dir/data' -U postgres -A trust >/dev/null"
fi
if ! reachable "$url"; then
  log "starting a private cluster on port $port"
  as_owner "$pg_ctl -D '$dir/data' -l '$dir/log' -o '-p $port -k /tmp -c listen_addresses=127.0.0.1' -w start >/dev/null"
fi
echo "$url"
