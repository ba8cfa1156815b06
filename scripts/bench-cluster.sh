#!/usr/bin/env bash
# Benchmarks usagelog on the loopback ClickHouse cluster
# (scripts/clickhouse-cluster.sh: two shards of two replicas), run as root:
#
#   scripts/bench-cluster.sh [EVENTS]    # default 300,000,000
#
# 1. fills the cluster's database usagelog_cluster_demo_EVENTS, once (later
#    runs reuse it), with EVENTS API calls shaped as the demo generator's,
#    which ClickHouse generates itself on each shard (its share of them)
#    (INSERT … SELECT … FROM numbers(), 10,000,000 at a time, so the views
#    fill the rollups), and says its bytes a call on disk;
# 2. times the summary and facets of every period, unfiltered and filtered
#    by a client, a collection and 5xx, the first logs page of every period
#    the same ways, and a full day's api-usage CSV (BenchmarkClusterDemo);
# 3. times every console page end to end on it (BenchmarkConsolePages);
# 4. times HTTP ingest into one server (on a journaled image,
#    scripts/clickhouse-journaled.sh) and into the cluster, side by side
#    (BenchmarkIngestHTTPClickHouseCluster);
# 5. says what that ingest costs the servers: the CPU seconds of every
#    ClickHouse server and ZooKeeper for 100 bodies of 10,000 calls.
#
# The cluster's image (USAGELOG_CH_CLUSTER_SIZE, default 64G, made on the
# first `up`) must hold the events: step 1 prints their bytes a call.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-300000000}
dsn=$(scripts/clickhouse-cluster.sh up | tail -1)
export USAGELOG_TEST_CLICKHOUSE_CLUSTER=$dsn
echo "== the cluster's demo store ($events calls) and its reads"
USAGELOG_BENCH_CLUSTER_EVENTS=$events go test -run '^$' -bench 'BenchmarkClusterDemo' -benchtime 10x -timeout 12h -v ./internal/clickhouse/
echo "== every console page"
USAGELOG_BENCH_CONSOLE_EVENTS=${dsn//\{db\}/usagelog_cluster_demo_$events} \
  go test -run '^$' -bench ConsolePages -benchtime 10x -count 2 ./internal/console/
echo "== HTTP ingest, one server and the cluster"
USAGELOG_TEST_CLICKHOUSE=$(scripts/clickhouse-journaled.sh) \
  go test -run '^$' -bench IngestHTTPClickHouseCluster -benchtime 20x -count 3 ./internal/httpapi/
echo "== what ingest costs the servers: CPU of every ClickHouse server and ZooKeeper"
# A run of 101 bodies less a run of 1 (which holds the store's creation):
# the servers' CPU seconds for 100 bodies of 10,000 calls.
servers_cpu() {
  local t=0 p f
  for p in $(pgrep -f 'clickhouse-server|zookeeper'); do
    read -ra f < "/proc/$p/stat"
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
go test -c -o "${TMPDIR:-/tmp}/usagelog-httpapi.test" ./internal/httpapi/
for clients in 1 4; do
  for store in server cluster; do
    declare -A cs=()
    for n in 1 101; do
      before=$(servers_cpu)
      (cd internal/httpapi && USAGELOG_TEST_CLICKHOUSE=$(../../scripts/clickhouse-journaled.sh) \
        "${TMPDIR:-/tmp}/usagelog-httpapi.test" -test.run '^$' -test.bench "IngestHTTPClickHouseCluster/clients=$clients/store=$store\$" -test.benchtime ${n}x | grep '^Benchmark')
      cs[$n]=$(( $(servers_cpu) - before ))
    done
    echo "clients=$clients store=$store: the servers' CPU for 100 bodies: $(awk -v t=$((cs[101] - cs[1])) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }') s"
  done
done
