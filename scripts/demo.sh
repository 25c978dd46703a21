#!/usr/bin/env bash
# The demo: a shop's background jobs sent to actors, with retries, a delay and a dead
# letter, processed by a pull worker. Messages live in a private redis-server behind the
# local Upstash REST server; with no redis-server to be had, in memory.
set -uo pipefail
source "$(dirname "$0")/_services.sh"
skiff_init

if ensure_redis_server; then
  start_services
  echo "skiff: Redis on ${SKIFF_TEST_REDIS_URL#redis://}, local REST server on $UPSTASH_REDIS_REST_URL"
else
  echo "skiff: no redis-server here (install it with: apt-get install redis-server); the demo runs in memory"
fi
"$DENO" run --allow-all examples/demo.ts
