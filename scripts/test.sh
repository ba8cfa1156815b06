#!/usr/bin/env bash
# Installs what usagelog's tests need on a Debian machine (run as root) and
# runs every test: formatting, go vet, and the race-enabled test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: missing $*; run as root so it can install them" >&2
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v go >/dev/null || { echo "scripts/test.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
# The race detector needs cgo, and so a C compiler.
command -v gcc >/dev/null || apt_install gcc libc6-dev
# LibreOffice opens the CSV and XLSX exports as an independent client.
command -v soffice >/dev/null || apt_install libreoffice-calc-nogui
# The release script zips the Windows binary.
command -v zip >/dev/null || apt_install zip
# The console's tests drive Debian's Chromium headless (chromedp).
command -v chromium >/dev/null || apt_install chromium
# PostgreSQL for the metadata store's conformance suite: the machine's own
# server when it answers, else Debian's, installed and started here.
pg_dsn=${USAGELOG_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
pg_up() { psql "$pg_dsn" -qAtc 'SELECT 1' >/dev/null 2>&1; }
command -v psql >/dev/null || apt_install postgresql
if ! pg_up; then
  command -v pg_lsclusters >/dev/null || apt_install postgresql
  pg_lsclusters -h | while read -r ver name _; do pg_ctlcluster "$ver" "$name" start || true; done
  if ! pg_up; then
    # A fresh Debian cluster wants a password over TCP: give postgres one.
    su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'usagelog-test'\"" >/dev/null
    pg_dsn="postgres://postgres:usagelog-test@127.0.0.1:5432/postgres?sslmode=disable"
  fi
  pg_up || { echo "scripts/test.sh: PostgreSQL does not answer at $pg_dsn" >&2; exit 1; }
fi
export USAGELOG_TEST_POSTGRES=$pg_dsn

# ClickHouse for the event store's conformance suite: Debian's (18.16),
# started here when it does not answer.
ch_up() { clickhouse-client --query 'SELECT 1' >/dev/null 2>&1; }
command -v clickhouse-client >/dev/null || apt_install clickhouse-server clickhouse-client
if ! ch_up; then
  command -v clickhouse-server >/dev/null || apt_install clickhouse-server clickhouse-client
  (clickhouse-server --config-file=/etc/clickhouse-server/config.xml >/tmp/usagelog-clickhouse.log 2>&1 &)
  for _ in $(seq 120); do ch_up && break; sleep 0.5; done
  ch_up || { echo "scripts/test.sh: ClickHouse did not start (see /tmp/usagelog-clickhouse.log)" >&2; exit 1; }
fi
export USAGELOG_TEST_CLICKHOUSE=${USAGELOG_TEST_CLICKHOUSE:-127.0.0.1:9000}

# A ClickHouse cluster for the cluster's conformance and fault tests:
# ZooKeeper and two shards of two replicas on loopback, Debian's packages
# (installed when missing), data on a journaled image. The fault tests stop
# and start its nodes through the same script.
USAGELOG_TEST_CLICKHOUSE_CLUSTER=$(scripts/clickhouse-cluster.sh up | tail -1)
export USAGELOG_TEST_CLICKHOUSE_CLUSTER

# MinIO for the S3 file store: built once with the Go toolchain (a few
# minutes; the binary stays in GOPATH/bin) and started on loopback.
export USAGELOG_TEST_S3=${USAGELOG_TEST_S3:-s3://usagelog:usagelog-test-secret@127.0.0.1:9100/usagelog-test?secure=false}
s3_up() { curl -sf http://127.0.0.1:9100/minio/health/live >/dev/null 2>&1; }
command -v curl >/dev/null || apt_install curl ca-certificates
if ! s3_up; then
  minio=$(go env GOPATH)/bin/minio
  # Pinned: the version these tests were last run against.
  [ -x "$minio" ] || go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
  s3_data=$(mktemp -d /tmp/usagelog-minio.XXXXXX)
  (MINIO_ROOT_USER=usagelog MINIO_ROOT_PASSWORD=usagelog-test-secret "$minio" server --quiet \
    --address 127.0.0.1:9100 --console-address 127.0.0.1:9101 "$s3_data" >/tmp/usagelog-minio.log 2>&1 &)
  for _ in $(seq 120); do s3_up && break; sleep 0.5; done
  s3_up || { echo "scripts/test.sh: MinIO did not start (see /tmp/usagelog-minio.log)" >&2; exit 1; }
fi

# Mailpit, a real SMTP server with an API, which the alert email tests
# start and read the messages from. Pinned.
USAGELOG_TEST_MAILPIT=$(go env GOPATH)/bin/mailpit
[ -x "$USAGELOG_TEST_MAILPIT" ] || go install github.com/axllent/mailpit@v1.33.1
export USAGELOG_TEST_MAILPIT

# Dex, the OpenID Connect provider the SSO tests sign in through: built
# once (scripts/dex.sh, about 3 minutes cold) and started by the tests.
USAGELOG_TEST_DEX=$(scripts/dex.sh)
export USAGELOG_TEST_DEX

# An OpenTelemetry Collector (OTLP receiver, otlphttp exporter, release
# v0.165.0) that the OTLP ingest test sends spans through: built once
# (scripts/otelcol.sh, a few minutes cold).
USAGELOG_TEST_OTELCOL=$(scripts/otelcol.sh)
export USAGELOG_TEST_OTELCOL

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== the API description as linters and generators read it"
# Redocly CLI and Spectral run with npx (Node.js and npm: the machine's, or
# Debian's); ogen and oapi-codegen with go run, all at pinned versions.
command -v npx >/dev/null || apt_install nodejs npm
scripts/openapi-check.sh
echo "== go test -race"
go test -race -count=1 -timeout 30m ./...
echo "== go vet and go test, pure-Go SQLite (what builds without a C compiler use)"
go vet -tags purego ./internal/sqlite/
go test -tags purego -count=1 ./internal/sqlite/ ./internal/httpapi/
echo "== go test (tests too slow for the race detector)"
go test -count=1 -run 'SheetLimit' ./internal/export/
# The console in Chromium on about 2,400,000 demo events, from the summaries.
go test -count=1 -run 'ConsoleAtScale' -v ./internal/cli/

echo "== go test -fuzz (security-relevant parsers, briefly)"
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report its own deadline as a failure ("context deadline exceeded",
# go.dev/issue/75804, fixed in 1.27) on a loaded machine; it did here once.
go test -run '^$' -fuzz '^FuzzSafeNext$' -fuzztime 150000x ./internal/console/
