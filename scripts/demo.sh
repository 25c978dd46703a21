#!/usr/bin/env bash
# The demo: starts a private redis-server and the local Upstash REST server, then runs
# the example against them. Installs what is missing first.
set -uo pipefail
source "$(dirname "$0")/_services.sh"
cd "$SKIFF_ROOT" || exit 1

trap 'stop_services' EXIT
trap 'stop_services; exit 130' INT TERM

ensure_node_modules
ensure_redis_server ||
  die "redis-server is needed for this demo: install it (Debian: apt-get install redis-server), then run this again."
start_services
echo "skiff: Redis on ${SKIFF_TEST_REDIS_URL#redis://}, local REST server on $UPSTASH_REDIS_REST_URL"
"$DENO" run --allow-all examples/local_roundtrip.ts
