#!/usr/bin/env bash
# Builds the committed tree the way Heroku's Node buildpack does and runs its Procfile.
#
#   1. a fresh clone of HEAD; `npm ci`; `npm run build`; dev dependencies pruned;
#   2. the Procfile's `release` (migrations) against a database of its own;
#   3. its `web` and `worker` against the local Nylas sandbox (started from this checkout);
#   4. a one-off backfill dyno queues tomorrow for every grant; the worker sends; a one-off
#      import dyno brings three users in from standard input, and a second one nothing new;
#   5. /healthz and /metrics answer; SIGTERM stops web and worker with exit 0.
#
# Needs Postgres and Redis up (scripts/services.sh) and this checkout's node_modules (for the
# sandbox). Prints one line a step; exits non-zero naming the step that failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

step() { printf 'deploy-check: %s\n' "$*"; }
die() { printf 'deploy-check: FAILED: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d)
app="$work/app"
db="reminders_deploy_$$"
pg="${TEST_DATABASE_URL:-postgresql://postgres:postgres@127.0.0.1:5432/reminders_test}"
pg_base="${pg%/*}"
pids=()

cleanup() {
  # Each process runs in a session of its own (setsid): the whole group goes, npm's and tsx's
  # children included.
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg_base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "${KEEP:-}" ]; then step "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Waits until a command succeeds (each try bounded), or fails after N tries.
wait_for() {
  local what=$1 tries=$2
  shift 2
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what"
}

procfile_cmd() { sed -n "s/^$1:[[:space:]]*//p" "$app/Procfile"; }

step "fresh clone of $(git rev-parse --short HEAD) in $app"
git clone -q "$root" "$app"
cd "$app"

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error >"$work/ci.log" 2>&1 || { tail -20 "$work/ci.log"; die "npm ci"; }
step "npm run build"
npm run build >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; die "npm run build"; }
step "npm prune --omit=dev"
npm prune --omit=dev --no-audit --no-fund --loglevel=error >"$work/prune.log" 2>&1 || die "prune"
for dev in tsx vitest eslint pino-pretty playwright-core; do
  [ ! -e "node_modules/$dev" ] || die "dev dependency $dev survived the prune"
done
node_version=$(node_modules/.bin/node --version)
step "slug: $(du -sh node_modules | cut -f1) of node_modules, Node $node_version"

sandbox_port=$(free_port)
web_port=$(free_port)
export NODE_ENV=development LOG_LEVEL=info
export DATABASE_URL="$pg_base/$db"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export QUEUE_PREFIX="deploy$$"
export NYLAS_API_URI="http://127.0.0.1:$sandbox_port" NYLAS_API_KEY=nyk_sandbox_key
export BULL_BOARD_USER=ops BULL_BOARD_PASSWORD="deploy-check-$$"
export PORT="$web_port" PUBLIC_URL="http://localhost:$web_port"
export SCHEDULER_EVERY_MS=600000

step "sandbox on :$sandbox_port (from the source checkout)"
(cd "$root" && exec setsid npm run --silent sandbox -- --port "$sandbox_port" --grants 12) >"$work/sandbox.log" 2>&1 &
pids+=($!)
wait_for "sandbox did not start (see $work/sandbox.log)" 120 \
  curl -fsS -H "Authorization: Bearer $NYLAS_API_KEY" "$NYLAS_API_URI/v3/grants?limit=1"

psql "$pg_base/postgres" -qc "CREATE DATABASE $db" >/dev/null
step "release: $(procfile_cmd release)"
bash -c "$(procfile_cmd release)" >"$work/release.log" 2>&1 || { cat "$work/release.log"; die "release"; }

step "web: $(procfile_cmd web)"
setsid bash -c "exec $(procfile_cmd web)" >"$work/web.log" 2>&1 &
web_pid=$!
pids+=("$web_pid")
step "worker: $(procfile_cmd worker)"
setsid bash -c "exec $(procfile_cmd worker)" >"$work/worker.log" 2>&1 &
worker_pid=$!
pids+=("$worker_pid")
wait_for "web did not become healthy (see $work/web.log)" 120 curl -fsS "http://127.0.0.1:$web_port/healthz"

step "one-off dynos: grants sync, then a backfill of tomorrow for every grant"
node_modules/.bin/node dist/jobs/grants-sync.js >"$work/sync.log" 2>&1 || { tail -5 "$work/sync.log"; die "grants sync"; }
tomorrow=$(node_modules/.bin/node -e 'console.log(new Date(Date.now()+86400e3).toISOString().slice(0,10))')
node_modules/.bin/node dist/jobs/backfill.js --all --date "$tomorrow" --wait --timeout-s 240 >"$work/backfill.log" 2>&1 ||
  { tail -20 "$work/backfill.log"; die "backfill (the worker did not finish the runs)"; }
sent=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM reminders WHERE status = 'sent'")
[ "$sent" -gt 0 ] || die "the worker sent no reminder"
step "worker sent $sent reminders"

step "one-off dyno: grants:import from standard input, twice"
b64() { printf '%s' "$1" | base64 | tr '+/' '-_' | tr -d '=\n'; }
{
  echo "provider,email,refresh_token,imap_password,time_zone"
  echo "google,import-a$$@deploy.test,sbx-rt.google.$(b64 "import-a$$@deploy.test").deploycheck,,Europe/Paris"
  echo "microsoft,import-b$$@deploy.test,sbx-rt.microsoft.$(b64 "import-b$$@deploy.test").deploycheck,,"
  echo "imap,import-c$$@deploy.test,,deploy-check-password-$$,"
} >"$work/import.csv"
import_once() { node_modules/.bin/node dist/jobs/grants-import.js - <"$work/import.csv" >"$1" 2>&1; }
import_once "$work/import1.log" || { tail -20 "$work/import1.log"; die "grants:import"; }
imported=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM grants WHERE email LIKE 'import-_$$@deploy.test' AND status = 'valid'")
[ "$imported" = 3 ] || { tail -20 "$work/import1.log"; die "grants:import stored $imported grants, not 3"; }
import_once "$work/import2.log" || { tail -20 "$work/import2.log"; die "grants:import (again)"; }
grep -q "nothing new" "$work/import2.log" || { tail -20 "$work/import2.log"; die "a second import created grants"; }
! grep -q "deploy-check-password-$$\|deploycheck" "$work/import1.log" "$work/import2.log" ||
  die "a credential of the import file appeared in its output"
step "imported 3 grants; the second run created none"

metrics=$(curl -fsS -u "$BULL_BOARD_USER:$BULL_BOARD_PASSWORD" "http://127.0.0.1:$web_port/metrics" || true)
if [ -n "$metrics" ]; then
  step "/metrics: $(printf '%s\n' "$metrics" | grep -c '^[a-z]') samples"
else
  die "/metrics did not answer"
fi

step "SIGTERM to web and worker"
kill -TERM "$web_pid" "$worker_pid"
web_rc=0; worker_rc=0
wait "$web_pid" || web_rc=$?
wait "$worker_pid" || worker_rc=$?
[ "$web_rc" = 0 ] || { tail -5 "$work/web.log"; die "web exited $web_rc"; }
[ "$worker_rc" = 0 ] || { tail -5 "$work/worker.log"; die "worker exited $worker_rc"; }
if grep -h '"level":[56]0' "$work/web.log" "$work/worker.log" >/dev/null; then
  grep -h '"level":[56]0' "$work/web.log" "$work/worker.log" | head -5
  die "error lines in the web or worker log"
fi
redis-cli -u "$REDIS_URL" --scan --pattern "$QUEUE_PREFIX:*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
step "passed: built as Heroku builds, release, web and worker ran on Node $node_version"
