#!/usr/bin/env bash
# Runs the SQL that the ClickHouse event store sends on a current ClickHouse
# release. CI's server is Debian's 18.16 and no current server installs
# here, so: the store's tests run against 18.16 with query logging on, and
# every distinct statement they sent is replayed, over a table of the same
# schema filled with events of every kind, in the engine of ClickHouse's
# current release as chDB ships it (npm @chdb/lib-linux-x64-gnu, a 180 MB
# download kept in $CACHE). Not replayed: INSERTs, whose rows travel apart
# from their text, and the queries that send external data (batch_ids).
# Needs root (it turns on log_queries in /etc/clickhouse-server/users.d for
# the run) and the services of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${CACHE:-/var/tmp/usagelog-chdb}
version=${CHDB_VERSION:-26.7.3-stable.1}
mkdir -p "$cache"
lib=$cache/$version/package/libchdb.so
if [ ! -f "$lib" ]; then
  (cd "$cache" && npm pack --silent "@chdb/lib-linux-x64-gnu@$version" >/dev/null &&
    mkdir -p "$version" && tar xzf chdb-lib-linux-x64-gnu-"$version".tgz -C "$version")
fi
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f /etc/clickhouse-server/users.d/usagelog-log-queries.xml' EXIT
gcc -O1 -o "$work/replay" scripts/chdb/replay.c -ldl

mkdir -p /etc/clickhouse-server/users.d
echo '<yandex><profiles><default><log_queries>1</log_queries></default></profiles></yandex>' \
  >/etc/clickhouse-server/users.d/usagelog-log-queries.xml
for _ in $(seq 30); do
  [ "$(clickhouse-client --query "SELECT value FROM system.settings WHERE name = 'log_queries'")" = 1 ] && break
  sleep 1
done
start=$(clickhouse-client --query 'SELECT now()')
USAGELOG_TEST_CLICKHOUSE=${USAGELOG_TEST_CLICKHOUSE:-127.0.0.1:9000} go test -count=1 ./internal/clickhouse/ ./internal/cli/
sleep 8 # query_log is written every 7.5 s
clickhouse-client --query 'SYSTEM FLUSH LOGS'
clickhouse-client --query "SELECT DISTINCT replaceRegexpAll(query, '[\\n\\r\\t]+', ' ') FROM system.query_log
  WHERE type = 1 AND event_time >= toDateTime('$start') AND match(query, '^ *SELECT')
    AND query NOT LIKE '%system.%' AND query NOT LIKE '%batch_ids%' AND query NOT LIKE '%currentDatabase%'
    AND query LIKE '%FROM %' FORMAT TSVRaw" >"$work/selects.sql"
{
  echo "CREATE DATABASE IF NOT EXISTS u"
  echo "USE u"
  for f in internal/clickhouse/migrations/*.sql; do grep -v '^\s*--' "$f" | sed 's/{database}/u/g' | tr '\n' ' '; echo; done
  echo "CREATE TABLE IF NOT EXISTS schema_migrations (version Int64, applied_ms Int64) ENGINE = MergeTree() ORDER BY version"
  echo "INSERT INTO events (workspace_id, kind, id, time_ms, method, url, endpoint, status, community, client,
    member_id, member_name, ip, user_agent, timing_ms, client_class, usage_type, user_id, user_email, feature,
    integration, system1, outcome, integration_updated_ms, system, email, username, interaction, service_account)
    SELECT 1 + number % 2, 1 + number % 4, concat('e', toString(number)), 1767225600000 + number * 60000, 'GET',
    concat('/a/', toString(number % 50)), '/a/{id}', [200, 404, 500][number % 3 + 1], 'Support', 'Cursor IDE',
    concat('m-', toString(number % 30)), concat('Member ', toString(number % 30)), '198.51.100.7', 'curl/8',
    number % 900, 'mcp', ['mcp', 'other'][number % 2 + 1], 'u1', 'u1@example.com', 'chat', 'jira', 'Jira',
    'synced', 1767225600000, 'Jira', ' A@x.com ', 'a', 'read', number % 2 FROM numbers(20000)" | tr '\n' ' '
  echo
  cat "$work/selects.sql"
  # chDB's library aborts as it exits while a Buffer table exists (a libc++
  # bounds check in its shutdown, after every statement has run), so the
  # replay drops them last.
  for t in incoming series hours calls totals timing_days days values; do echo "DROP TABLE rollup_${t}_buffer"; done
} >"$work/replay.sql"
echo "replaying $(wc -l <"$work/selects.sql") distinct SELECTs in chDB $version"
# chDB 26.7 has also crashed (SIGSEGV) on exit after every statement had
# run, since the rollups of migrations 035-056; what counts is that each
# statement printed OK.
"$work/replay" "$lib" "$work/data" <"$work/replay.sql" >"$work/out" 2>/dev/null || true
if grep -q '^ERROR' "$work/out" || [ "$(grep -c '^OK' "$work/out")" != "$(wc -l <"$work/replay.sql")" ]; then
  grep '^ERROR' "$work/out"
  echo "scripts/clickhouse-current-sql.sh: $(grep -c '^OK' "$work/out") of $(wc -l <"$work/replay.sql") statements ran" >&2
  exit 1
fi
echo "all ran: $(grep -c '^OK' "$work/out") statements; the engine: $(echo 'SELECT version()' | "$work/replay" "$lib" "$work/v" 2>/dev/null | cut -f3)"
