#!/usr/bin/env bash
# Times every console page and the summary endpoints on a store of the
# demo's year at SCALE (default 42, about 10,000,000 events), each once
# cold — the server just started and the kernel's page cache dropped (run
# as root) — and once warm:
#
#   scripts/summary-cold.sh            # the store is built once in DATA
#
# DATA (default /var/tmp/usagelog-summary-$SCALE) keeps the store between
# runs; building it takes about 70 s.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${SCALE:-42}
data=${DATA:-/var/tmp/usagelog-summary-$scale}
addr=127.0.0.1:${PORT:-18095}
bin=$(mktemp -d)/usagelog
go build -o "$bin" ./cmd/usagelog
serve() { "$bin" serve --data "$data" --addr "$addr" "$@" >"$data.log" 2>&1 & echo $!; }
wait_up() { for _ in $(seq 1500); do curl -sf -o /dev/null "http://$addr/healthz" && return; sleep 0.2; done; echo "serve did not start" >&2; exit 1; }
if [ ! -f "$data/usagelog.db" ]; then
  mkdir -p "$data"
  pid=$(serve --demo --demo-scale "$scale"); wait_up; kill "$pid"; wait "$pid" 2>/dev/null || true
  grep 'demo:' "$data.log"
  echo 'correct horse battery' | "$bin" members create --data "$data" --email bench@example.com --role admin --password-stdin >/dev/null
fi
token=$("$bin" keys create --data "$data" --name summary-cold --scope LOGS_READ 2>/dev/null)
jar=$(mktemp)
signin() {
  csrf=$(curl -s -c "$jar" "http://$addr/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "next=/" \
    --data-urlencode "email=bench@example.com" --data-urlencode "password=correct horse battery" "http://$addr/login"
}
time_one() { curl -s -b "$jar" -H "Authorization: Bearer $token" -o /dev/null -w '%{http_code} %{time_total}s' "http://$addr$1"; }
for path in '/?period=24h' '/?period=7d' '/?period=30d' '/?period=90d' '/logs' '/logs?period=90d' '/export/api-usage' '/licenses' \
  '/api/v1/summary?period=90d' '/api/v1/summary?period=90d&tz=Asia/Kathmandu' '/api/v1/summary?period=90d&client=Data+Team' \
  '/api/v1/logs/facets?period=90d'; do
  sync; echo 3 >/proc/sys/vm/drop_caches
  pid=$(serve); wait_up; signin
  echo "$path  cold $(time_one "$path")  warm $(time_one "$path")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
