#!/usr/bin/env bash
# Starts a second ClickHouse server (run as root) whose data lives on a
# journaled ext4 image, loop-mounted, and prints its address for
# USAGELOG_TEST_CLICKHOUSE:
#
#   USAGELOG_TEST_CLICKHOUSE=$(scripts/clickhouse-journaled.sh) scripts/bench.sh
#
# For measuring on a machine whose root filesystem is ext4 without a
# journal. There the kernel, to create a file, reads past every inode
# deleted in the last minutes; ClickHouse writes two files a column for each
# insert and deletes parts after merges, and its inserts run about three
# times slower than on a journaled filesystem (docs/deploy.md). No
# deployment puts ClickHouse there; the test suite runs on either.
set -euo pipefail
dir=${USAGELOG_CH_JOURNALED_DIR:-/var/tmp/usagelog-clickhouse}
port=${USAGELOG_CH_JOURNALED_PORT:-9002}
up() { clickhouse-client --port "$port" --query 'SELECT 1' >/dev/null 2>&1; }
if up; then
  echo "127.0.0.1:$port"
  exit 0
fi
mkdir -p "$dir/mnt"
if ! mountpoint -q "$dir/mnt"; then
  if [ ! -f "$dir/fs.img" ]; then
    truncate -s 16G "$dir/fs.img"
    mkfs.ext4 -q -F "$dir/fs.img"
  fi
  # discard: what ClickHouse deletes is given back to the filesystem the
  # image lives on.
  mount -o loop,discard "$dir/fs.img" "$dir/mnt"
fi
root=$dir/mnt
mkdir -p "$root/data/tmp" "$root/log"
# Debian's config with the paths and ports moved; users.xml beside it, as
# the config names it relative to itself.
sed -e "s#/var/lib/clickhouse/#$root/data/#g" -e "s#/var/log/clickhouse-server/#$root/log/#g" \
  -e "s#<tcp_port>9000<#<tcp_port>$port<#" -e "s#<http_port>8123<#<http_port>$((port + 10000))<#" \
  -e "s#<interserver_http_port>9009<#<interserver_http_port>$((port + 10001))<#" \
  /etc/clickhouse-server/config.xml >"$root/config.xml"
cp /etc/clickhouse-server/users.xml "$root/users.xml"
# Detached, its output to the log: $(…) around this script is not held
# open by the server.
(cd "$root" && exec clickhouse-server --config-file="$root/config.xml") >"$root/log/stdout.log" 2>&1 </dev/null &
for _ in $(seq 120); do up && break; sleep 0.5; done
up || { echo "scripts/clickhouse-journaled.sh: ClickHouse did not start (see $root/log)" >&2; exit 1; }
echo "127.0.0.1:$port"
