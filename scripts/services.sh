#!/usr/bin/env bash
# Makes sure the local services the project needs are up: Redis always, Postgres when asked.
# Starts them when installed but stopped; installs them from Debian's packages when missing
# (as root), or says in one line what to do. Sourced by demo.sh and test.sh, and runnable:
#   bash scripts/services.sh redis postgres
set -euo pipefail

say() { printf '%s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  if [ "$(id -u)" != "0" ]; then
    say "missing: $* — install it (e.g. sudo apt-get install -y $*) and run this again"
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

redis_up() { have redis-cli && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

ensure_redis() {
  redis_up && return 0
  have redis-server || apt_install redis-server
  mkdir -p /tmp/redis-data
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp/redis-data --logfile /tmp/redis-data/redis.log
  for _ in $(seq 1 50); do redis_up && { say "redis: started on 127.0.0.1:6379"; return 0; }; sleep 0.2; done
  say "redis: could not start (see /tmp/redis-data/redis.log)"
  exit 1
}

pg_up() { have pg_isready && pg_isready -q -h 127.0.0.1 -p 5432; }

ensure_postgres() {
  pg_up && return 0
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
  fi
  have pg_isready || apt_install postgresql-client
  if have pg_lsclusters && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
    local ver
    ver=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main start
  else
    say "postgres: installed but no cluster found; create one with pg_createcluster and run this again"
    exit 1
  fi
  for _ in $(seq 1 75); do
    if pg_up; then
      # A fresh Debian cluster only lets `postgres` in over the socket: give it the password
      # the project's default URLs use (trust-auth servers ignore it).
      if [ "$(id -u)" = "0" ]; then su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true; fi
      say "postgres: started on 127.0.0.1:5432"
      return 0
    fi
    sleep 0.2
  done
  say "postgres: could not start"
  exit 1
}

# Debian's Chromium for the browser tests (driven by playwright-core; never a browser download).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  apt_install chromium
  [ -x /usr/bin/chromium ] || { say "chromium: installed but /usr/bin/chromium is missing"; exit 1; }
  say "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  for svc in "$@"; do "ensure_$svc"; done
fi
