#!/usr/bin/env bash
# Browser suite: the dashboard in a real headless Chromium (tests/dashboard/browser.ts),
# served by `skiff dashboard` against the local server. Installs what is missing first:
# Debian's chromium (with apt-get, when root) and puppeteer-core from npm into .tmp/browser/
# (outside the package's node_modules; npm's cache makes later installs quick). Screenshots
# go to $SKIFF_ARTIFACTS (default .tmp/artifacts/), which is kept.
#
# Uses the local server in UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN when set (as
# scripts/test.sh sets them); otherwise starts its own services and stops them at the end.
#
#   bash scripts/browser_tests.sh
set -uo pipefail
source "$(dirname "$0")/_services.sh"

PUPPETEER_VERSION=25.16.0

ensure_chromium() {
  local bin
  for bin in chromium chromium-browser; do
    command -v "$bin" >/dev/null && { CHROMIUM=$(command -v "$bin"); return 0; }
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "skiff: installing chromium from Debian's packages..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1
  fi
  command -v chromium >/dev/null && CHROMIUM=$(command -v chromium)
}

ensure_puppeteer() {
  local dir="$SKIFF_ROOT/.tmp/browser"
  PUPPETEER="$dir/node_modules/puppeteer-core"
  if [ "$(node -p "try{require('$PUPPETEER/package.json').version}catch{''}" 2>/dev/null)" = "$PUPPETEER_VERSION" ]; then
    return 0
  fi
  echo "skiff: installing puppeteer-core $PUPPETEER_VERSION into .tmp/browser/..."
  mkdir -p "$dir"
  echo '{ "private": true }' >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error \
    "puppeteer-core@$PUPPETEER_VERSION") >/dev/null
}

cd "$SKIFF_ROOT" || exit 1
if [[ -z "${UPSTASH_REDIS_REST_URL:-}" || -z "${UPSTASH_REDIS_REST_TOKEN:-}" ]]; then
  skiff_init
  ensure_redis_server ||
    die "redis-server is needed: install it (Debian: apt-get install redis-server), then run this again."
  start_services
fi
ensure_chromium ||
  die "Chromium is needed for the browser suite: install it (Debian: apt-get install chromium), then run this again."
ensure_puppeteer ||
  die "npm could not install puppeteer-core: check that the npm registry is reachable, then run this again."

export SKIFF_CHROMIUM="$CHROMIUM" SKIFF_PUPPETEER="$PUPPETEER"
export SKIFF_ARTIFACTS="${SKIFF_ARTIFACTS:-$SKIFF_ROOT/.tmp/artifacts}"
"$DENO" test --allow-all tests/dashboard/browser.ts
status=$?
echo "browser_tests: screenshots in $SKIFF_ARTIFACTS"
exit $status
