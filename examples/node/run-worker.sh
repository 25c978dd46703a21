#!/usr/bin/env bash
# Runs worker.sh (arguments are passed on) and, when it exits with code 3 (Redis could not
# be reached at startup), runs it again after a pause that doubles each time: 1 s, 2 s,
# 4 s, ... up to a minute. Any other exit code ends this script with that code. SIGTERM
# and SIGINT are passed on to the worker, which stops gracefully (for `docker stop`).
#
#   SKIFF_RETRY_DELAY_MS=1000 SKIFF_RETRY_MAX_DELAY_MS=60000 ./run-worker.sh --queues reports
set -uo pipefail
cd "$(dirname "$0")"

delay=${SKIFF_RETRY_DELAY_MS:-1000}
max=${SKIFF_RETRY_MAX_DELAY_MS:-60000}
child=""
stopping=""
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT

while true; do
  ./worker.sh "$@" &
  child=$!
  wait "$child"
  status=$?
  # A trapped signal interrupts `wait`: wait again for the worker's own exit code.
  if [ -n "$stopping" ]; then
    wait "$child"
    exit $?
  fi
  child=""
  if [ "$status" -ne 3 ]; then
    exit "$status"
  fi
  seconds=$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))
  echo "Connection error encountered on startup. Retrying in ${seconds} second(s)..."
  sleep "$seconds" &
  wait $!
  [ -n "$stopping" ] && exit 143
  delay=$((delay * 2 > max ? max : delay * 2))
done
