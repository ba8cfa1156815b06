#!/usr/bin/env bash
# The 1,000,000-row api-usage CSV export end to end, side by side with
# clickhouse-client writing the same rows and columns, ROUNDS times
# (default 5), interleaved: usagelog export --events clickhouse://… against
# clickhouse-client --query "SELECT … FORMAT CSVWithNames". Wall seconds,
# CPU seconds (user + system) and peak RSS of each run, then the medians.
# USAGELOG_TEST_CLICKHOUSE names the server (default 127.0.0.1:9000); the
# store usagelog_bench_1000000 is the one BenchmarkExportClickHouse fills.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${USAGELOG_TEST_CLICKHOUSE:-127.0.0.1:9000}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/usagelog" ./cmd/usagelog
USAGELOG_TEST_CLICKHOUSE=$server go test -run '^$' -bench 'ExportClickHouse' -benchtime 1x ./internal/clickhouse/ >/dev/null
host=${server%:*} port=${server##*:}
query="SELECT id, community, member_name, time_ms, ip, url, concat(client_class, user_agent)
  FROM usagelog_bench_1000000.events FINAL WHERE workspace_id = 1 AND kind = 1
  ORDER BY time_ms DESC, id DESC FORMAT CSVWithNames"
measure() { # name command...: one line of wall, cpu, rss
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>&1
  read -r wall user sys rss <"$work/time"
  printf '%-17s %5.2f s wall  %5.2f s cpu  %4d MB\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" $((rss / 1024)) | tee -a "$work/times-$name"
}
for _ in $(seq "$rounds"); do
  measure usagelog "$work/usagelog" export api-usage --quiet --events "clickhouse://$server/usagelog_bench_1000000" \
    --data "$work/data" --tz UTC --out "$work/usagelog.csv"
  measure clickhouse-client sh -c 'clickhouse-client --host "$1" --port "$2" --query "$3" > "$4"' _ "$host" "$port" "$query" "$work/client.csv"
done
echo "medians:"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for name in usagelog clickhouse-client; do
  printf '%-17s %s s wall  %s s cpu\n' "$name" "$(awk '{print $2}' "$work/times-$name" | median)" "$(awk '{print $5}' "$work/times-$name" | median)"
done
echo "rows: usagelog $(($(wc -l <"$work/usagelog.csv") - 1)), clickhouse-client $(($(wc -l <"$work/client.csv") - 1))"
