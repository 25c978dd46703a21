#!/usr/bin/env bash
# Runs every test: fmt, lint, type check and the Deno suites (`deno task ok`), then the
# runtime smoke suites (Node from dist/, Bun, workerd through Miniflare) and, alongside them,
# the package suite (the packed tarball installed on Node and Bun, the consumer type-check
# matrix, JSR's file list, doc lint, sizes), against a private redis-server and the local
# Upstash REST server. Installs what is missing first; the package suite installs its
# consumers' dependencies with npm, from npm's cache when it has them.
set -uo pipefail
source "$(dirname "$0")/_services.sh"
skiff_init
ensure_redis_server ||
  die "redis-server is needed for the tests: install it (Debian: apt-get install redis-server), then run this again."
start_services
# A second private Redis for the cost tests: INFO commandstats counts every client's
# commands, so it must see nothing but the operation being measured.
start_redis cost
export SKIFF_COST_REDIS_URL="$REDIS_URL"
echo "skiff: Redis on ${SKIFF_TEST_REDIS_URL#redis://}, local REST server on $UPSTASH_REDIS_REST_URL"

logs="$SKIFF_TMP/logs"
mkdir -p "$logs"
failed=()
run_stage() {
  local name=$1
  shift
  echo "== $name"
  if "$@" 2>&1 | tee "$logs/$name.log"; then :; else failed+=("$name"); fi
}

# One build of dist/ for the whole run: the Node benchmark check in the Deno stage and the
# runtime suites both use it (SKIFF_BUILT=1 tells them it is done).
run_stage build node scripts/build.mjs
if [ ${#failed[@]} -eq 0 ]; then export SKIFF_BUILT=1; fi
run_stage deno "$DENO" task ok
run_stage runtimes bash scripts/runtime_tests.sh

# One closing line for the whole run, summed from each runner's own summary.
passed=0
fails=0
while read -r p f; do
  passed=$((passed + p))
  fails=$((fails + f))
done < <(
  sed 's/\x1b\[[0-9;]*m//g' "$logs"/*.log | sed -nE \
    -e 's/^ok \| ([0-9]+) passed \| ([0-9]+) failed.*/\1 \2/p' \
    -e 's/^FAILED \| ([0-9]+) passed \| ([0-9]+) failed.*/\1 \2/p' \
    -e 's/^(#|ℹ) pass ([0-9]+)$/\2 0/p' -e 's/^(#|ℹ) fail ([0-9]+)$/0 \2/p' \
    -e 's/^ *([0-9]+) pass$/\1 0/p' -e 's/^ *([0-9]+) fail$/0 \1/p'
)
if [ ${#failed[@]} -gt 0 ]; then
  echo "skiff: failing stages: ${failed[*]}"
  echo "local server log:" && tail -n 20 "$SKIFF_TMP/local.log"
  [ "$fails" -gt 0 ] || fails=${#failed[@]}
fi
echo "tests: $passed passed, $fails failed"
[ ${#failed[@]} -eq 0 ]
