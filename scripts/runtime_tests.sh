#!/usr/bin/env bash
# Runtime suites: builds dist/, then runs the node, bun and workerd smoke suites (workerd also
# runs the push delivery suite of tests/workerd/) and the
# type check of dist/'s declarations by a Node TypeScript consumer. Expects a local server
# (or Upstash) in UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.
#
#   scripts/runtime_tests.sh                 # all: build, node, bun, workerd, types
#   scripts/runtime_tests.sh node types      # some (the build always runs)
#
# Exits 1 when any suite fails, after running the others, and names the failed ones.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${UPSTASH_REDIS_REST_URL:-}" || -z "${UPSTASH_REDIS_REST_TOKEN:-}" ]]; then
  echo "runtime_tests: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set" \
    "(start redis-server and 'skiff local', or run scripts/test.sh)" >&2
  exit 2
fi

bin=node_modules/.bin
suites=("$@")
[[ ${#suites[@]} -eq 0 ]] && suites=(node bun workerd types)
failed=()
for suite in "${suites[@]}"; do
  if [[ ! $suite =~ ^(node|bun|workerd|types)$ ]]; then
    echo "runtime_tests: unknown suite '$suite' (node, bun, workerd, types)" >&2
    exit 2
  fi
done

step() {
  local name=$1
  shift
  echo "== runtime_tests: $name"
  local started=${EPOCHREALTIME/./}
  if "$@"; then
    echo "== runtime_tests: $name passed ($(((${EPOCHREALTIME/./} - started) / 1000)) ms)"
  else
    echo "== runtime_tests: $name FAILED" >&2
    failed+=("$name")
  fi
}

# A Node TypeScript consumer type-checks dist/'s declarations: the hand-written
# consumer.mjs, and a generated module importing every export that exists, so that a new
# entry is covered as soon as deno.json lists it. The generated file lives in .tmp/ (inside
# the package, for the self-reference) only while tsc runs.
check_types() {
  local dir=.tmp/runtime-types-$$
  mkdir -p "$dir"
  node --input-type=module -e '
    import { existsSync, readFileSync } from "node:fs";
    const { exports } = JSON.parse(readFileSync("deno.json", "utf8"));
    let i = 0;
    for (const [subpath, source] of Object.entries(exports)) {
      if (!existsSync(source)) continue;
      const name = subpath === "." ? "skiff" : `skiff/${subpath.slice(2)}`;
      console.log(`export * as e${i++} from "${name}";`);
    }' >"$dir/every_export.mts"
  "$bin/tsc" --noEmit --allowJs --checkJs --strict --skipLibCheck false \
    --target es2022 --module nodenext --moduleResolution nodenext \
    tests/runtime/node/consumer.mjs "$dir/every_export.mts"
  local status=$?
  rm -rf "$dir"
  return $status
}

step build node scripts/build.mjs
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "runtime_tests: the build failed; no suite ran" >&2
  exit 1
fi

for suite in "${suites[@]}"; do
  case $suite in
    node) step node node --test --test-reporter=spec tests/runtime/node/ ;;
    bun) step bun "$bin/bun" test tests/runtime/bun ;;
    workerd) step workerd node --test --test-reporter=spec tests/runtime/workerd/ tests/workerd/ ;;
    types) step types check_types ;;
  esac
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "runtime_tests: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "runtime_tests: all passed (${suites[*]})"
