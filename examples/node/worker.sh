#!/usr/bin/env bash
# Starts one pull worker over every tasks module of the app: the files named tasks.js and
# the files in directories named tasks/, found under src/. Arguments go to `skiff worker`
# (e.g. --queues reports,billing --concurrency 4).
set -euo pipefail
cd "$(dirname "$0")"
if [ -f .env ]; then
  set -a && source .env && set +a
fi

modules=$(find src -type f \( -name tasks.js -o -path '*/tasks/*.js' \) | sort | xargs)

echo "Discovered tasks modules:"
for module in $modules; do
  echo "  * ${module}"
done

# shellcheck disable=SC2086 # one word per module
exec node_modules/.bin/skiff worker $modules "$@"
