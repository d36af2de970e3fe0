#!/usr/bin/env bash
# Makes a Postgres server available for the tests and prints its URL on stdout.
#
#   scripts/postgres.sh          print a URL (starting a private server if need be)
#   scripts/postgres.sh stop     stop the private server, if it runs
#
# 1. DATABASE_URL already set and reachable: use it.
# 2. A server on 127.0.0.1:5432 accepting user postgres: use it.
# 3. Otherwise (or with GANTRY_PRIVATE_POSTGRES=1) a private cluster in GANTRY_PG_DIR (default .gantry/pg at the
#    repository's root, git-ignored and outside target/, so `cargo clean` never deletes it under a live server) on
#    port GANTRY_PG_PORT (55432). When initdb is missing it installs Debian's postgresql package, as root only, after
#    saying so. When this call started the server and GANTRY_PG_STARTED names a file, it writes the stop command
#    there, so that the caller can stop what it started (scripts/test does, on exit).
# Every action is announced on stderr before it is taken.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "postgres.sh: $*" >&2; }

dir="${GANTRY_PG_DIR:-$PWD/.gantry/pg}"
port="${GANTRY_PG_PORT:-55432}"
url="postgres://postgres@127.0.0.1:$port/postgres"

find_bin() {
  command -v "$1" 2>/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}
# initdb refuses to run as root: run the private cluster as the postgres user then.
as_owner() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }

if [ "${1:-}" = stop ]; then
  pg_ctl=$(find_bin pg_ctl)
  if [ -n "$pg_ctl" ] && [ -f "$dir/data/postmaster.pid" ]; then
    log "stopping the private Postgres on port $port (data in $dir)"
    as_owner "'$pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null"
  fi
  exit 0
fi

reachable() { pg_isready -q -d "$1" >/dev/null 2>&1 || psql "$1" -qAtc 'select 1' >/dev/null 2>&1; }

if [ -n "${DATABASE_URL:-}" ] && reachable "$DATABASE_URL"; then
  echo "$DATABASE_URL"; exit 0
fi
default_url="postgres://postgres@127.0.0.1:5432/postgres"
if [ -z "${GANTRY_PRIVATE_POSTGRES:-}" ] && command -v psql >/dev/null 2>&1 && reachable "$default_url"; then
  echo "$default_url"; exit 0
fi

if [ -z "$(find_bin initdb)" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "no Postgres found and not root: install one (apt-get install postgresql) or set DATABASE_URL"
    exit 1
  fi
  log "no Postgres found: installing Debian's postgresql package (apt-get update; apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
fi
initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
if [ ! -f "$dir/data/PG_VERSION" ]; then
  log "creating a private Postgres cluster in $dir"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { log "creating the system user postgres to own it"; useradd -r postgres; }
    chown -R postgres "$dir"
  fi
  as_owner "'$initdb' -D '$dir/data' -U postgres -A trust >/dev/null"
fi
if ! reachable "$url"; then
  log "starting the private Postgres on port $port (data in $dir; 'scripts/postgres.sh stop' stops it)"
  as_owner "'$pg_ctl' -D '$dir/data' -l '$dir/log' -o '-p $port -k /tmp -c listen_addresses=127.0.0.1' -w start >/dev/null"
  if [ -n "${GANTRY_PG_STARTED:-}" ]; then
    echo "GANTRY_PG_DIR='$dir' GANTRY_PG_PORT='$port' scripts/postgres.sh stop" >"$GANTRY_PG_STARTED"
  fi
fi
echo "$url"
