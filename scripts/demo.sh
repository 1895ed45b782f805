#!/usr/bin/env bash
# The README's first command: one complete nightly batch against the local Nylas sandbox.
# Needs only Node and Redis (started or installed here when missing); without DATABASE_URL
# the demo keeps its data in an embedded Postgres (PGlite).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_redis
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run demo -- "$@"
