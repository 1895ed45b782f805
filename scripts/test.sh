#!/usr/bin/env bash
# The README's test command: installs what the project needs, makes sure Postgres and Redis
# are up, then runs the whole suite against them (`npm test`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_redis
ensure_postgres
ensure_chromium
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm test
