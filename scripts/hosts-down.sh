#!/usr/bin/env bash
# `npm run hosts:down`: this checkout's test hosts and pebble, and those of each of its test lanes
# (scripts/test-lanes.ts: .boxship-test/lanes/N), never another checkout's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/test-hosts.sh down
npx tsx scripts/pebble-stop.ts
for dir in .boxship-test/lanes/*/; do
  [[ -d "$dir" ]] || continue
  lane="$(basename "$dir")"
  echo "[hosts-down] lane $lane" >&2
  BOXSHIP_TEST_LANE="$lane" bash scripts/test-hosts.sh down
  BOXSHIP_TEST_LANE="$lane" npx tsx scripts/pebble-stop.ts
done
