# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, start a private
# redis-server and the local Upstash REST server in a temporary directory, and stop
# exactly what was started. Never touches a Redis it did not start.
# shellcheck shell=bash

SKIFF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SKIFF_TMP=""
SKIFF_PIDS=()
DENO="$SKIFF_ROOT/node_modules/.bin/deno"

# Enters the repository, arranges for everything started to stop on any exit, and
# installs the toolchain when it is missing.
skiff_init() {
  cd "$SKIFF_ROOT" || exit 1
  trap 'stop_services' EXIT
  trap 'stop_services; exit 130' INT TERM
  ensure_node_modules
}

die() {
  echo "skiff: $*" >&2
  exit 1
}

ensure_node_modules() {
  command -v node >/dev/null && command -v npm >/dev/null ||
    die "Node.js 20 or later with npm is needed: install them, then run this again."
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js 20 or later is needed (found $(node --version)): upgrade it, then run this again."
  # A node_modules that is a link belongs to another checkout: installing through it would
  # empty that checkout's packages, so it is used as it is.
  if [ -L "$SKIFF_ROOT/node_modules" ]; then
    [ -x "$DENO" ] || die "node_modules links to packages without Deno: run npm ci where they live."
  elif [ ! -x "$DENO" ] || [ "$SKIFF_ROOT/package-lock.json" -nt "$SKIFF_ROOT/node_modules/.package-lock.json" ]; then
    echo "skiff: installing the toolchain (npm ci)..."
    (cd "$SKIFF_ROOT" && npm ci --no-audit --no-fund --loglevel=error) ||
      die "npm ci failed: check that the npm registry is reachable, then run this again."
  fi
  "$DENO" --version >/dev/null 2>&1 || die "the Deno binary from npm does not run on this machine."
}

# Installs Debian's redis-server when it is missing and we are root; returns 1 when there
# is none and none can be installed.
ensure_redis_server() {
  command -v redis-server >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "skiff: installing redis-server from Debian's packages..."
    # RUNLEVEL=1 keeps the package from starting a system-wide Redis of its own.
    (apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null 2>&1
  fi
  command -v redis-server >/dev/null
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

stop_services() {
  local pid
  for pid in "${SKIFF_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SKIFF_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  SKIFF_PIDS=()
  [ -n "$SKIFF_TMP" ] && rm -rf "$SKIFF_TMP"
  SKIFF_TMP=""
}

# Waits until a log file holds a line matching a pattern, or the process dies.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3 what=$4
  for _ in $(seq 1 200); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "$what did not start."; }
    sleep 0.05
  done
  cat "$file" >&2
  die "$what did not start within 10 seconds."
}

# Starts a redis-server named $1 in the temporary directory; sets REDIS_URL.
start_redis() {
  local name=$1 port
  port=$(free_port)
  mkdir -p "$SKIFF_TMP/$name"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$SKIFF_TMP/$name" --logfile "$SKIFF_TMP/$name/redis.log" --daemonize no &
  SKIFF_PIDS+=($!)
  wait_for_line "$SKIFF_TMP/$name/redis.log" "Ready to accept connections" "$!" "redis-server"
  REDIS_URL="redis://127.0.0.1:$port"
}

# Starts redis-server and skiff local; exports SKIFF_TEST_REDIS_URL,
# UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.
start_services() {
  SKIFF_TMP=$(mktemp -d "${TMPDIR:-/tmp}/skiff.XXXXXX")
  start_redis main
  export SKIFF_TEST_REDIS_URL="$REDIS_URL"

  export UPSTASH_REDIS_REST_TOKEN="local-$(node -p 'crypto.randomUUID()')"
  SKIFF_LOCAL_TOKEN="$UPSTASH_REDIS_REST_TOKEN" "$DENO" run --allow-all "$SKIFF_ROOT/src/cli/main.ts" \
    local --redis "$SKIFF_TEST_REDIS_URL" --port 0 >"$SKIFF_TMP/local.log" 2>&1 &
  SKIFF_PIDS+=($!)
  wait_for_line "$SKIFF_TMP/local.log" "listening on" "$!" "skiff local"
  UPSTASH_REDIS_REST_URL=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$SKIFF_TMP/local.log" | head -n 1)
  export UPSTASH_REDIS_REST_URL
}
