#!/usr/bin/env bash
# Runs every example of examples/ the way its platform would: each one is copied to a
# temporary directory, installed there with npm from its own package.json (with skiff from
# this repository), type-checked, and tested by its suite in tests/examples/. Expects the
# local server (or Upstash) in UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN:
#
#   bash scripts/with_services.sh bash scripts/examples_tests.sh              # all
#   bash scripts/with_services.sh bash scripts/examples_tests.sh cloudflare   # some
#   SKIFF_TARBALL=skiff-0.1.0.tgz bash scripts/with_services.sh ...          # a given package
#
# Exits 1 when any step fails, after running the others, and names the failed ones.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bin=$ROOT/node_modules/.bin
EXAMPLES=(cloudflare deno-deploy node bun vercel error-reporting rollbar-workers express)

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

# A fixed place inside the repository (ignored by git and by deno), so that Deno's type-check
# cache, keyed by the files' paths, is reused from one run to the next.
WORK=$ROOT/.tmp/examples
rm -rf "$WORK" && mkdir -p "$WORK"
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
# `npm install` is given in place of the registry's `skiff`: the tarball named by
# SKIFF_TARBALL when it is set, else a tarball packed from a fresh build of this repository.
obtain_skiff() {
  if [[ -n "${SKIFF_TARBALL:-}" ]]; then
    SKIFF_SPEC=$(realpath "$SKIFF_TARBALL")
    return
  fi
  node scripts/build.mjs >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2 && return 1; }
  local tarball
  tarball=$(npm pack --pack-destination "$WORK" --silent) || return 1
  SKIFF_SPEC="$WORK/$tarball"
}

npm_install() {
  npm install --no-audit --no-fund --prefer-offline --loglevel=error "$@"
}

# Deno resolves @skiff/skiff from JSR, which the tests cannot reach: the copy's deno.json is
# rewritten to map it (and each subpath) to this repository's source, with the repository's
# own import map and node_modules for the npm packages.
map_skiff_for_deno() {
  local dir=$1
  node --input-type=module - "$ROOT" "$dir" <<'JS'
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
const [root, dir] = process.argv.slice(2);
const repo = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const own = JSON.parse(readFileSync(join(dir, "deno.json"), "utf8"));
const imports = { ...repo.imports };
for (const [name, target] of Object.entries(own.imports ?? {})) {
  if (!name.startsWith("@skiff/skiff")) imports[name] ??= target;
}
for (const [subpath, source] of Object.entries(repo.exports)) {
  const name = subpath === "." ? "@skiff/skiff" : `@skiff/skiff/${subpath.slice(2)}`;
  imports[name] = pathToFileURL(join(root, source)).href;
}
const config = { ...own, imports, nodeModulesDir: "manual" };
writeFileSync(join(dir, "deno.json"), JSON.stringify(config, null, 2) + "\n");
JS
  ln -s "$ROOT/node_modules" "$dir/node_modules"
}

# Copies examples/$1 (without what a user's install or build leaves there) to $WORK/$1 and
# installs it: its package.json's dependencies, with skiff as obtain_skiff() gives it.
# Development dependencies are left out where the test stands in for them (wrangler).
install_example() {
  local name=$1 dir=$WORK/$1
  mkdir -p "$dir"
  [[ $name == _skiff ]] ||
    tar -C "examples/$name" --exclude=node_modules --exclude=.build --exclude=.env -cf - . |
    tar -C "$dir" -xf -
  case $name in
    _skiff) (cd "$dir" && echo '{"private":true}' >package.json && npm_install "$SKIFF_SPEC") ;;
    cloudflare | rollbar-workers) (cd "$dir" && npm_install --omit=dev "$SKIFF_SPEC") ;;
    deno-deploy) map_skiff_for_deno "$dir" ;;
    *) (cd "$dir" && npm_install "$SKIFF_SPEC") ;;
  esac >"$dir.install.log" 2>&1 || { cat "$dir.install.log" >&2 && return 1; }
}

install_all() {
  local pids=() status=0 pid name
  # _skiff: skiff alone, which the suites read queue counts with.
  for name in _skiff "${chosen[@]}"; do
    install_example "$name" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

typecheck() {
  "$bin/tsc" -p "$WORK/$1"
}

deno_check() {
  (cd "$WORK/$1" && "$bin/deno" check --quiet main.ts)
}

step "obtain skiff" obtain_skiff && step install install_all
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "examples_tests: FAILED: ${failed[*]} (no example ran)" >&2
  exit 1
fi

# The type checks run one after the other in the background while the suites run (these
# mostly wait on processes and Redis); each one's output is shown at the end.
typecheck_all() {
  local name
  for name in "${chosen[@]}"; do
    if [[ $name == deno-deploy ]]; then deno_check "$name"; else typecheck "$name"; fi \
      >"$WORK/$name.types.log" 2>&1
    echo $? >"$WORK/$name.types.status"
  done
}
typecheck_all &
types_pid=$!

# Each example's suites: tests/examples/<name>-test.mjs and tests/examples/<name>-*-test.mjs.
for name in "${chosen[@]}"; do
  suites=(tests/examples/"$name"-test.mjs)
  for extra in tests/examples/"$name"-*-test.mjs; do [[ -e $extra ]] && suites+=("$extra"); done
  step "$name" node --test --test-concurrency=1 --test-reporter=spec "${suites[@]}"
done

wait "$types_pid"
for name in "${chosen[@]}"; do
  echo "== examples_tests: $name types"
  cat "$WORK/$name.types.log"
  if [[ "$(cat "$WORK/$name.types.status" 2>/dev/null)" == 0 ]]; then
    echo "== examples_tests: $name types passed"
  else
    echo "== examples_tests: $name types FAILED" >&2
    failed+=("$name types")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "examples_tests: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "examples_tests: all passed (${chosen[*]})"
