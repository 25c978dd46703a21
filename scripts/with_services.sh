#!/usr/bin/env bash
# Runs one command with the test services up: a private redis-server, the local Upstash REST
# server in front of it, and a second private Redis for cost measurements. Everything it
# started stops when the command ends. For running one test file while working:
#
#   bash scripts/with_services.sh node_modules/.bin/deno test -A tests/cost_test.ts
set -uo pipefail
source "$(dirname "$0")/_services.sh"
skiff_init
ensure_redis_server ||
  die "redis-server is needed: install it (Debian: apt-get install redis-server), then run this again."
start_services
start_redis cost
export SKIFF_COST_REDIS_URL="$REDIS_URL"
"$@"
