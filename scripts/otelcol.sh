#!/usr/bin/env bash
# Builds an OpenTelemetry Collector (the OTLP receiver and the OTLP/HTTP
# exporter, every module at release v0.165.0) once from the Go module proxy
# and prints the binary's path: the OTLP ingest test sends spans through
# it. Its source is scripts/otelcol/main.go.txt (not a package of this
# module: its dependencies stay out of usagelog's go.mod). A few minutes
# cold on 2 cores, then cached in $CACHE.
set -euo pipefail
cd "$(dirname "$0")"
release=v0.165.0 core=v1.71.0
cache=${CACHE:-/var/tmp/usagelog-otelcol}
bin=$cache/otelcol-$release-$(sha256sum otelcol/main.go.txt | cut -c1-12)
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp otelcol/main.go.txt "$work/main.go"
  (
    cd "$work"
    printf 'module otelcol-usagelog\n\ngo 1.26.8\n' > go.mod
    export GOFLAGS=-mod=mod
    go get "go.opentelemetry.io/collector/otelcol@$release" "go.opentelemetry.io/collector/receiver/otlpreceiver@$release" \
      "go.opentelemetry.io/collector/exporter/otlphttpexporter@$release" "go.opentelemetry.io/collector/service@$release" \
      "go.opentelemetry.io/collector/confmap@$core" "go.opentelemetry.io/collector/confmap/provider/fileprovider@$core" \
      "go.opentelemetry.io/collector/confmap/provider/envprovider@$core"
    go mod tidy
    go build -o "$bin.tmp" .
  ) >&2
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
