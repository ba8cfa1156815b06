#!/usr/bin/env bash
# Prints usagelog's speed figures. The logs benchmark builds a store of
# USAGELOG_BENCH_EVENTS events (default 10,000,000) once, in the temp
# directory, and reuses it on later runs. COUNT repeats each benchmark, for
# benchstat: COUNT=10 scripts/bench.sh > new.txt; benchstat old.txt new.txt
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-3}
export USAGELOG_BENCH_EVENTS=${USAGELOG_BENCH_EVENTS:-10000000}
# The same bodies plain and gzipped (as the ingest client sends them).
go test -run '^$' -bench 'IngestHTTP$|IngestHTTPGzip' -benchtime 20x -count "$count" ./internal/httpapi/
# The same into ClickHouse (USAGELOG_TEST_CLICKHOUSE, default 127.0.0.1:9000),
# from one client and from four, with the rollups' views and without them.
# Where the root filesystem is ext4 without a journal, ClickHouse's inserts
# measure the filesystem: run
# USAGELOG_TEST_CLICKHOUSE=$(scripts/clickhouse-journaled.sh) scripts/bench.sh
go test -run '^$' -bench 'IngestHTTPClickHouse' -benchtime 20x -count "$count" ./internal/httpapi/
# OpenTelemetry in: protobuf bodies of 1,000 spans beside NDJSON bodies of the
# same calls, from one client and from eight, into SQLite and ClickHouse, and
# into ClickHouse without its rollup views; with the CPU this process and
# the rest (the ClickHouse server) spend a span.
go test -run '^$' -bench 'BenchmarkOTLP$' -benchtime 100x -count "$count" ./internal/httpapi/
go test -run '^$' -bench 'BenchmarkMap$' -count "$count" ./internal/otlp/
go test -run '^$' -bench 'Append$' -benchtime 40x -count "$count" ./internal/sqlite/
# --durability full against normal: what syncing every commit costs.
go test -run '^$' -bench 'AppendDurability' -benchtime 40x -count "$count" ./internal/sqlite/
# Retention: removing a tenth of a store while a client ingests.
USAGELOG_BENCH_PURGE_EVENTS=${USAGELOG_BENCH_PURGE_EVENTS:-10000000} \
  go test -run '^$' -bench 'BenchmarkPurge$' -benchtime 1x -count 1 -timeout 60m ./internal/sqlite/
go test -run '^$' -bench 'DecodeNDJSON' -count "$count" ./internal/ingest/
go test -run '^$' -bench 'LogsFirstPage' -benchtime 200x -count "$count" -timeout 60m ./internal/sqlite/
# Arrival order: a store of USAGELOG_BENCH_ORDER_EVENTS (default 10,000,000) built in time
# order and in random time order: ingest, the full api-usage export, the first page, size.
USAGELOG_BENCH_ORDER_EVENTS=${USAGELOG_BENCH_ORDER_EVENTS:-10000000} \
  go test -run '^$' -bench 'ArrivalOrder' -benchtime 1x -count 1 -timeout 90m ./internal/sqlite/
# The write path: USAGELOG_BENCH_WRITE_EVENTS (10,000,000) more events into a store of
# USAGELOG_BENCH_WRITE_BASE (10,000,000), in time order and in random order: acknowledged
# events/s, the longest append, the merge after the last, reads while events wait, this
# tree beside the release before arrivals.
scripts/write-path-ab.sh
# What each index of the arrivals costs an append: USAGELOG_BENCH_WRITE_BASE (1,000,000)
# events appended into a store of as many with no merge, in both orders, with
# the arrivals' id index, time index or both dropped, or a time index in days.
go test -run '^$' -bench 'ArrivalIndexes' -benchtime 1x -count 1 -timeout 60m ./internal/sqlite/
# The merge alone by the size of its step: USAGELOG_BENCH_WRITE_EVENTS (1,000,000) arrivals
# in random order into a store of USAGELOG_BENCH_WRITE_BASE (1,000,000), merged in steps
# of each of USAGELOG_BENCH_MERGE_STEPS (5000 40000 200000), with 64 MiB and 1 GiB caches.
go test -run '^$' -bench 'MergeSteps' -benchtime 1x -count 1 -timeout 60m ./internal/sqlite/
# `usagelog ingest FILE` of USAGELOG_BENCH_INGEST_EVENTS (1,000,000) in both orders,
# transactions of 5,000 events against the default.
go test -run '^$' -bench 'IngestFile' -benchtime 1x -count 1 -timeout 60m ./internal/cli/
# The same on ClickHouse (USAGELOG_BENCH_CH_ORDER_EVENTS, default 1,000,000).
go test -run '^$' -bench 'ArrivalOrderClickHouse' -benchtime 1x -count "$count" -timeout 60m ./internal/clickhouse/
# Summaries: every period, a quarter-hour zone, one client and the facets,
# on the demo's year at scale 42 (about 10,000,000 events, built once in the
# temp directory) and on the ClickHouse store of 50,000,000 below.
# Every period, unfiltered and filtered by one client, one collection and
# 5xx, with the facets, and the first logs page of the same (the console's
# and the API's reads); on ClickHouse the demo-shaped store of 50,000,000
# events (built once through Append, about 22 minutes) and what the
# Licenses page loads.
USAGELOG_BENCH_SUMMARY_SCALE=${USAGELOG_BENCH_SUMMARY_SCALE:-42} \
  go test -run '^$' -bench 'BenchmarkSummary$|BenchmarkLogsPeriods' -benchtime 20x -count "$count" -timeout 60m ./internal/sqlite/
# A pass of 1,000 alert rules on the same store.
USAGELOG_BENCH_SUMMARY_SCALE=${USAGELOG_BENCH_SUMMARY_SCALE:-42} \
  go test -run '^$' -bench 'BenchmarkAlerts$' -benchtime 5x -count "$count" -timeout 60m ./internal/sqlite/
# Erasing one member's 10,000 calls from that store (it keeps them: each
# run stores a new member's first).
USAGELOG_BENCH_SUMMARY_SCALE=${USAGELOG_BENCH_SUMMARY_SCALE:-42} \
  go test -run '^$' -bench 'BenchmarkErase$' -benchtime 3x -count "$count" -timeout 60m ./internal/sqlite/
USAGELOG_BENCH_CH_EVENTS=${USAGELOG_BENCH_CH_EVENTS:-50000000} \
  go test -run '^$' -bench 'SummaryClickHouse|LogsFirstPageClickHouse|LicensesClickHouse' -benchtime 20x -count "$count" -timeout 90m ./internal/clickhouse/
USAGELOG_BENCH_CH_EVENTS=${USAGELOG_BENCH_CH_EVENTS:-50000000} \
  go test -run '^$' -bench 'AlertsClickHouse' -benchtime 5x -count "$count" -timeout 90m ./internal/clickhouse/
# Every console page end to end over HTTP (overview and logs of every
# period, the logs filtered, the export pages, Licenses) on both stores
# above, the console's clock at the demo data's end.
USAGELOG_BENCH_CONSOLE_EVENTS="sqlite:${TMPDIR:-/tmp}/usagelog-bench-summary-${USAGELOG_BENCH_SUMMARY_SCALE:-42}.db" \
  go test -run '^$' -bench 'ConsolePages' -benchtime 20x -count "$count" ./internal/console/
USAGELOG_BENCH_CONSOLE_EVENTS="clickhouse://${USAGELOG_TEST_CLICKHOUSE:-127.0.0.1:9000}/usagelog_demo_${USAGELOG_BENCH_CH_EVENTS:-50000000}" \
  go test -run '^$' -bench 'ConsolePages' -benchtime 20x -count "$count" ./internal/console/
# Exports: writers from memory (CSV, XLSX beside excelize, NDJSON), the
# peak heap of 2,000,000-row exports, and SQLite to file end to end.
go test -run '^$' -bench 'CSV|XLSX|JSON' -benchtime 3x -count "$count" ./internal/export/
go test -run '^$' -bench 'ExportMemory' -benchtime 1x -count "$count" ./internal/export/
go test -run '^$' -bench 'BenchmarkExport$' -benchtime 2x -count "$count" -timeout 60m ./internal/sqlite/
# Usage reports: a year of 5,000,000 syncs and 1,000,000 observations
# (built once in the temp directory, about a minute).
go test -run '^$' -bench 'UsageReports' -benchtime 1x -count "$count" -timeout 60m ./internal/sqlite/
# Export jobs: the same export directly and as a job.
go test -run '^$' -bench 'JobOverhead' -benchtime 5x -count "$count" ./internal/jobs/
# What recording export.create adds to a synchronous export.
go test -run '^$' -bench 'ExportAudit' -benchtime 200x -count "$count" ./internal/httpapi/
# ClickHouse (USAGELOG_TEST_CLICKHOUSE): the 1,000,000-row api-usage
# export (a store filled once by ClickHouse itself).
go test -run '^$' -bench 'ExportClickHouse' -benchtime 3x -count "$count" -timeout 60m ./internal/clickhouse/
# Retention on ClickHouse: a tenth of USAGELOG_BENCH_CH_PURGE_EVENTS (10,000,000) by mutations while a client ingests.
go test -run '^$' -bench 'PurgeClickHouse' -benchtime 1x -count 1 -timeout 60m ./internal/clickhouse/
# The same export end to end, beside clickhouse-client writing the same CSV.
ROUNDS=$count scripts/export-bench.sh
# Capture: the middleware's cost a request (-benchmem: allocations), and
# the gateway at 5,000 requests/s in one process, with lost calls counted.
go test -run '^$' -bench 'Handler' -benchmem -count "$count" ./capture/
# The gateway's forwarding: net/http's transport beside its own.
go test -run '^$' -bench 'Transport' -count "$count" ./internal/gateway/
USAGELOG_BENCH_GATEWAY_REQUESTS=${USAGELOG_BENCH_GATEWAY_REQUESTS:-100000} \
  go test -run '^$' -bench 'GatewayLoad' -benchtime 1x -count 1 -timeout 60m ./internal/gateway/
# The gateway as its own process, as deployed: scripts/gateway-bench.sh.
