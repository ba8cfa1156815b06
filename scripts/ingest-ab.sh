#!/usr/bin/env bash
# Times HTTP ingest into ClickHouse with the rollups and without them
# (BenchmarkIngestHTTPClickHouse), for the build of REV and for the working
# tree, interleaved round by round so that both see the same machine, and
# prints each configuration's runs and median in ms a body.
#   scripts/ingest-ab.sh REV [ROUNDS] [CLIENTS] [SHAPE]
# ROUNDS defaults to 6, CLIENTS to 1 (or 4), SHAPE to demo (or spread).
# ClickHouse: USAGELOG_TEST_CLICKHOUSE (default 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/ingest-ab.sh REV [ROUNDS] [CLIENTS] [SHAPE]}
rounds=${2:-6} clients=${3:-1} shape=${4:-demo}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/old" "$rev"
(cd "$work/old" && go test -c -o "$work/old.test" ./internal/httpapi/)
go test -c -o "$work/new.test" ./internal/httpapi/
for _ in $(seq "$rounds"); do
  for build in old new; do
    for rollups in on off; do
      "$work/$build.test" -test.run '^$' -test.benchtime 30x \
        -test.bench "BenchmarkIngestHTTPClickHouse/shape=$shape/clients=$clients/rollups=$rollups\$" |
        awk -v c="$build rollups=$rollups" '/ns\/op/ { printf "%s %.1f\n", c, $3 / 1e6 }'
    done
  done
done | tee "$work/runs" >&2
for k in "old rollups=on" "old rollups=off" "new rollups=on" "new rollups=off"; do
  grep "^$k " "$work/runs" | cut -d' ' -f3 | sort -n |
    awk -v k="$k" '{ v[NR] = $1; all = all " " $1 }
      END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%-16s median %6.1f ms a body (%s )\n", k, m, all }'
done
