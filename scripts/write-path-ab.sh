#!/usr/bin/env bash
# Times the SQLite write path (BenchmarkWritePath) for the build of REV and
# for the working tree, one after the other, each with a base store of its
# own, and prints both: the release before arrivals (c94af45, the default)
# stored every event at once, so its merge-after-s is 0 and it has no
# events waiting.
#   scripts/write-path-ab.sh [REV]
# Sizes: USAGELOG_BENCH_WRITE_BASE and USAGELOG_BENCH_WRITE_EVENTS
# (default 10,000,000 each, as issue #41 asks; each base is built once in
# $TMPDIR/usagelog-write-ab-{old,new}, about 3 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-c94af45}
export USAGELOG_BENCH_WRITE_BASE=${USAGELOG_BENCH_WRITE_BASE:-10000000}
export USAGELOG_BENCH_WRITE_EVENTS=${USAGELOG_BENCH_WRITE_EVENTS:-$USAGELOG_BENCH_WRITE_BASE}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/old" "$rev"
# The benchmark is this tree's; the old build has no merge to wait for.
sed 's/sqlite.Config{Path: tmp, ManualMerge: true}/sqlite.Config{Path: tmp}/; s/s\.Merge(ctx)/mergeShim(s)/g; s/s\.MergeStatus(ctx)/mergeShim(s)/g' \
  internal/sqlite/writepath_bench_test.go > "$work/old/internal/sqlite/writepath_bench_test.go"
cat > "$work/old/internal/sqlite/writepath_shim_test.go" <<'GO'
package sqlite_test

import "github.com/usagelog/usagelog/internal/sqlite"

// mergeShim stands for Merge and MergeStatus, which this build does not
// have: it stores every event at once.
func mergeShim(*sqlite.Store) (int64, error) { return 0, nil }
GO
tmp=${TMPDIR:-/tmp}
for build in old new; do
  dir=$work/old
  [ "$build" = new ] && dir=.
  mkdir -p "$tmp/usagelog-write-ab-$build"
  echo "== $build" >&2
  (cd "$dir" && TMPDIR="$tmp/usagelog-write-ab-$build" go test -run '^$' -bench 'BenchmarkWritePath' -benchtime 1x -timeout 180m ./internal/sqlite/) |
    sed -n "s/^BenchmarkWritePath/$build: BenchmarkWritePath/p"
done
