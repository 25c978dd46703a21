#!/usr/bin/env bash
# Runs every example of examples/ the way its platform would: each one is copied to a
# temporary directory, installed there with npm from its own package.json (with skiff from
# this repository), type-checked, and tested by its suite in tests/examples/. Expects the
# local server (or Upstash) in UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN:
#
#   bash scripts/with_services.sh bash scripts/examples_tests.sh              # all
#   bash scripts/with_services.sh bash scripts/examples_tests.sh cloudflare   # some
#
# Exits 1 when any step fails, after running the others, and names the failed ones.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bin=$ROOT/node_modules/.bin
EXAMPLES=(cloudflare)

if [[ -z "${UPSTASH_REDIS_REST_URL:-}" || -z "${UPSTASH_REDIS_REST_TOKEN:-}" ]]; then
  echo "examples_tests: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set" \
    "(bash scripts/with_services.sh bash scripts/examples_tests.sh)" >&2
  exit 2
fi
chosen=("$@")
[[ ${#chosen[@]} -eq 0 ]] && chosen=("${EXAMPLES[@]}")
for name in "${chosen[@]}"; do
  [[ " ${EXAMPLES[*]} " == *" $name "* ]] ||
    { echo "examples_tests: unknown example '$name' (${EXAMPLES[*]})" >&2 && exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/skiff-examples.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export SKIFF_EXAMPLES_WORK=$WORK
failed=()

step() {
  local name=$1
  shift
  echo "== examples_tests: $name"
  local started=${EPOCHREALTIME/./}
  if "$@"; then
    echo "== examples_tests: $name passed ($(((${EPOCHREALTIME/./} - started) / 1000)) ms)"
  else
    echo "== examples_tests: $name FAILED" >&2
    failed+=("$name")
  fi
}

# How the examples get skiff: the one place to change. Sets SKIFF_SPEC to what
# `npm install` is given in place of the registry's `skiff` (today: a tarball packed from
# a fresh build of this repository).
obtain_skiff() {
  node scripts/build.mjs >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2 && return 1; }
  local tarball
  tarball=$(npm pack --pack-destination "$WORK" --silent) || return 1
  SKIFF_SPEC="$WORK/$tarball"
}

npm_install() {
  npm install --no-audit --no-fund --prefer-offline --loglevel=error "$@"
}

# Copies examples/$1 (without what a user's install or build leaves there) to $WORK/$1 and
# installs it: its package.json's dependencies, with skiff as obtain_skiff() gives it.
# Development dependencies are left out where the test stands in for them (wrangler).
install_example() {
  local name=$1 dir=$WORK/$1
  mkdir -p "$dir"
  tar -C "examples/$name" --exclude=node_modules --exclude=.build -cf - . | tar -C "$dir" -xf -
  case $name in
    cloudflare) (cd "$dir" && npm_install --omit=dev "$SKIFF_SPEC") ;;
    *) (cd "$dir" && npm_install "$SKIFF_SPEC") ;;
  esac >"$dir.install.log" 2>&1 || { cat "$dir.install.log" >&2 && return 1; }
}

install_all() {
  local pids=() status=0 pid name
  for name in "${chosen[@]}"; do
    install_example "$name" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

typecheck() {
  "$bin/tsc" -p "$WORK/$1"
}

step "obtain skiff" obtain_skiff && step install install_all
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "examples_tests: FAILED: ${failed[*]} (no example ran)" >&2
  exit 1
fi

for name in "${chosen[@]}"; do
  case $name in
    cloudflare)
      step "cloudflare types" typecheck cloudflare
      step "cloudflare" node --test --test-reporter=spec tests/examples/cloudflare-test.mjs
      ;;
  esac
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "examples_tests: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "examples_tests: all passed (${chosen[*]})"
