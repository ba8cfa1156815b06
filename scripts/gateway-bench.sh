#!/usr/bin/env bash
# Measures the recording gateway as deployed: the trivial upstream, the
# gateway (recording into a fresh SQLite store) and the load generator run
# as three processes on loopback. It prints the latency through the gateway
# and straight at the upstream at RATE requests/s, then stops the gateway
# (SIGTERM: it flushes) and counts the calls stored, which must equal
# REQUESTS. The load generator and the upstream get one processor each so
# that on a small machine their Go runtimes do not crowd the gateway's.
#   REQUESTS=1000000 RATE=5000 scripts/gateway-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${REQUESTS:-1000000}
rate=${RATE:-5000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/usagelog" ./cmd/usagelog
go build -o "$work/loadgen" ./cmd/usagelog-loadgen
token=$("$work/usagelog" clients create --data "$work/data" --name load --collection Orders 2>/dev/null)
GOMAXPROCS=1 "$work/loadgen" -upstream 127.0.0.1:19700 &
"$work/usagelog" gateway --data "$work/data" --listen 127.0.0.1:19701 --upstream http://127.0.0.1:19700 \
  --collection Orders --rate-limit 0 --log-level warn &
gw=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:19701/ && break; sleep 0.1; done
GOMAXPROCS=1 "$work/loadgen" -via http://127.0.0.1:19701/orders -direct http://127.0.0.1:19700/orders \
  -token "$token" -rate "$rate" -n "$requests"
kill -TERM "$gw"
wait "$gw"
# Every api_request in this store came through the gateway (one refused
# probe above, without a token, included).
stored=$("$work/usagelog" export api-logs --data "$work/data" --out - 2>/dev/null | tail -n +2 | grep -c ',Orders,/orders/')
echo "stored: $stored of $requests proxied calls; lost: $((requests - stored))"
