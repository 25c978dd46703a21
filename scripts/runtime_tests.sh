#!/usr/bin/env bash
# Runtime suites: builds dist/, then runs the node, bun and workerd smoke suites (workerd also
# runs the push delivery and dashboard suites of tests/workerd/), the
# type check of dist/'s declarations by a Node TypeScript consumer, and the package suite
# (tests/package/: the `npm pack` tarball installed into fresh projects on Node and Bun, the
# consumer type-check matrix, JSR's file list, doc lint, sizes) and the examples suite
# (scripts/examples_tests.sh: each example of examples/ run as its platform runs it) and the
# browser suite (scripts/browser_tests.sh: the dashboard in headless Chromium). Those three run
# in the background while the others run, from one tarball packed from the one build.
# Expects a
# local server (or Upstash) in UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.
#
#   scripts/runtime_tests.sh                 # all: build, node, bun, workerd, types, package, examples, browser
#   scripts/runtime_tests.sh node types      # some (the build always runs, unless SKIFF_BUILT=1)
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
[[ ${#suites[@]} -eq 0 ]] && suites=(node bun workerd types package examples browser)
failed=()
for suite in "${suites[@]}"; do
  if [[ ! $suite =~ ^(node|bun|workerd|types|package|examples|browser)$ ]]; then
    echo "runtime_tests: unknown suite '$suite' (node, bun, workerd, types, package, examples, browser)" >&2
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

# scripts/test.sh builds dist/ once, before every stage, and says so with SKIFF_BUILT=1.
if [[ ${SKIFF_BUILT:-} == 1 ]]; then
  echo "== runtime_tests: build: dist/ already built by this run"
else
  step build node scripts/build.mjs
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "runtime_tests: the build failed; no suite ran" >&2
  exit 1
fi

# The package suite: one tarball from this build, installed by each test file into
# projects of its own; its files run in parallel with each other and with the suites below.
# The package and examples suites run in the background, against one tarball packed from the
# one build, while the others run in the foreground; their logs are shown when they end.
package_dir=""
tarball=""
background=()
declare -A background_pid
pack_once() {
  [[ -n $tarball ]] && return 0
  package_dir=$(mktemp -d "${TMPDIR:-/tmp}/skiff-package.XXXXXX")
  local tgz
  tgz=$(npm pack --silent --pack-destination "$package_dir") || return 1
  tarball="$package_dir/$tgz"
}
start_background() {
  local name=$1
  shift
  if ! pack_once; then
    echo "== runtime_tests: $name FAILED (npm pack)" >&2
    failed+=("$name")
    return
  fi
  echo "== runtime_tests: $name started in the background ($(basename "$tarball"))"
  SKIFF_TARBALL="$tarball" "$@" >"$package_dir/$name.log" 2>&1 &
  background_pid[$name]=$!
  background+=("$name")
}
finish_background() {
  local name started status
  for name in "${background[@]}"; do
    started=${EPOCHREALTIME/./}
    wait "${background_pid[$name]}"
    status=$?
    echo "== runtime_tests: $name"
    cat "$package_dir/$name.log"
    if [[ $status -eq 0 ]]; then
      echo "== runtime_tests: $name passed (waited $(((${EPOCHREALTIME/./} - started) / 1000)) ms after the other suites)"
    else
      echo "== runtime_tests: $name FAILED" >&2
      failed+=("$name")
    fi
  done
  background=()
  [[ -n $package_dir ]] && rm -rf "$package_dir"
}
trap 'for p in "${background_pid[@]}"; do kill "$p" 2>/dev/null; done; [[ -n $package_dir ]] && rm -rf "$package_dir"' EXIT

for suite in "${suites[@]}"; do
  case $suite in
    package)
      start_background package node --test --test-reporter=spec --test-concurrency=3 tests/package/
      ;;
    examples) start_background examples bash scripts/examples_tests.sh ;;
    browser) start_background browser bash scripts/browser_tests.sh ;;
  esac
done

for suite in "${suites[@]}"; do
  case $suite in
    package | examples | browser) ;;
    node) step node node --test --test-reporter=spec tests/runtime/node/ ;;
    bun) step bun "$bin/bun" test tests/runtime/bun ;;
    workerd) step workerd node --test --test-reporter=spec tests/runtime/workerd/ tests/workerd/ ;;
    types) step types check_types ;;
  esac
done

finish_background

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "runtime_tests: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "runtime_tests: all passed (${suites[*]})"
