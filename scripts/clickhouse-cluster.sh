#!/usr/bin/env bash
# A ClickHouse cluster on loopback for usagelog's cluster tests and
# benchmarks (run as root): ZooKeeper and four clickhouse-server processes
# from Debian's packages (installed when missing), two shards of two
# replicas, each node with its own ports, data folder and macros, all on a
# journaled ext4 image (as scripts/clickhouse-journaled.sh, for the same
# reason).
#
#   scripts/clickhouse-cluster.sh up     # starts what is not running, drops what killed test runs left; last line: the --events DSN
#   scripts/clickhouse-cluster.sh down   # stops the nodes and ZooKeeper
#   scripts/clickhouse-cluster.sh stop N | start N   # one node (1-4), for the fault tests
#   scripts/clickhouse-cluster.sh stop zk | start zk
#   scripts/clickhouse-cluster.sh restart  # every node, ZooKeeper left as it is
#
# Node N listens on 127.0.0.1:920N (native), 820N (HTTP) and 921N
# (replication); shard 1 is nodes 1 and 2, shard 2 nodes 3 and 4; the
# cluster's name is usagelog. The DSN has {db} where the database name goes.
set -euo pipefail
dir=${USAGELOG_CH_CLUSTER_DIR:-/var/tmp/usagelog-cluster}
size=${USAGELOG_CH_CLUSTER_SIZE:-64G}
zk_port=2281
root=$dir/mnt

native_port() { echo $((9200 + $1)); }
node_up() { clickhouse-client --port "$(native_port "$1")" --query 'SELECT 1' >/dev/null 2>&1; }
# zk_up asks srvr, not ruok: ZooKeeper opens its port and answers ruok
# while it still loads its database, and a ClickHouse node that reaches it
# then, loading replicated tables, exits ("not currently serving").
zk_up() { (exec 3<>/dev/tcp/127.0.0.1/$zk_port && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null | grep -q '^Mode: '; }

install_missing() {
  local missing=()
  command -v clickhouse-server >/dev/null || missing+=(clickhouse-server clickhouse-client)
  [ -x /usr/share/zookeeper/bin/zkServer.sh ] || missing+=(zookeeper)
  command -v java >/dev/null || missing+=(default-jre-headless)
  [ ${#missing[@]} = 0 ] && return
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

mount_image() {
  mkdir -p "$root"
  mountpoint -q "$root" && return
  if [ ! -f "$dir/fs.img" ]; then
    truncate -s "$size" "$dir/fs.img"
    mkfs.ext4 -q -F "$dir/fs.img"
  fi
  # discard: what ClickHouse deletes (a dropped test database) is given
  # back to the filesystem the image lives on, not kept by the image.
  mount -o loop,discard "$dir/fs.img" "$root"
}

start_zk() {
  zk_up && return
  mkdir -p "$root/zk/conf" "$root/zk/data" "$root/zk/log"
  cat >"$root/zk/conf/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$root/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr
maxClientCnxns=0
EOF
  cp /etc/zookeeper/conf_example/log4j.properties "$root/zk/conf/"
  (cd "$root/zk" && ZOOCFGDIR=$root/zk/conf ZOO_LOG_DIR=$root/zk/log ZOOPIDFILE=$root/zk/pid \
    /usr/share/zookeeper/bin/zkServer.sh start "$root/zk/conf/zoo.cfg") >"$root/zk/log/start.log" 2>&1 </dev/null
  for _ in $(seq 120); do zk_up && return; sleep 0.5; done
  echo "scripts/clickhouse-cluster.sh: ZooKeeper did not start (see $root/zk/log)" >&2
  exit 1
}

stop_zk() {
  [ -f "$root/zk/pid" ] || return 0
  ZOOCFGDIR=$root/zk/conf ZOOPIDFILE=$root/zk/pid /usr/share/zookeeper/bin/zkServer.sh stop "$root/zk/conf/zoo.cfg" >/dev/null 2>&1 || true
  for _ in $(seq 60); do zk_up || return 0; sleep 0.5; done
}

# config writes node $1's configuration: Debian's server config with its
# paths and ports moved, and config.d/cluster.xml with the cluster, the
# ZooKeeper and the node's macros.
config() {
  local n=$1 node=$root/node$1
  local shard=$(((n + 1) / 2)) replica=$(((n + 1) % 2 + 1))
  mkdir -p "$node/data/tmp" "$node/log" "$node/config.d"
  sed -e "s#/var/lib/clickhouse/#$node/data/#g" -e "s#/var/log/clickhouse-server/#$node/log/#g" \
    -e "s#<tcp_port>9000<#<tcp_port>$((9200 + n))<#" -e "s#<http_port>8123<#<http_port>$((8200 + n))<#" \
    -e "s#<interserver_http_port>9009<#<interserver_http_port>$((9210 + n))<#" \
    -e '/<zookeeper incl=/d' -e '/<macros incl=/d' \
    /etc/clickhouse-server/config.xml >"$node/config.xml"
  cp /etc/clickhouse-server/users.xml "$node/users.xml"
  # usagelog wants each shard's replicas taken in order, by reads and
  # inserts alike (docs/deploy.md).
  mkdir -p "$node/users.d"
  cat >"$node/users.d/usagelog.xml" <<EOF
<yandex><profiles><default><load_balancing>in_order</load_balancing></default></profiles></yandex>
EOF
  local shards=""
  for s in 1 2; do
    shards+="<shard><internal_replication>true</internal_replication>"
    for r in 1 2; do
      shards+="<replica><host>127.0.0.1</host><port>$((9200 + 2 * (s - 1) + r))</port></replica>"
    done
    shards+="</shard>"
  done
  cat >"$node/config.d/cluster.xml" <<EOF
<yandex>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <remote_servers><usagelog>$shards</usagelog></remote_servers>
  <zookeeper><node><host>127.0.0.1</host><port>$zk_port</port></node><session_timeout_ms>10000</session_timeout_ms></zookeeper>
  <macros><shard>$shard</shard><replica>$replica</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
EOF
}

start_node() {
  local n=$1
  node_up "$n" && return
  config "$n"
  # Where this start's errors begin in the error log (last_error).
  stat -c %s "$root/node$n/log/clickhouse-server.err.log" >"$root/node$n/log/start.offset" 2>/dev/null || echo 0 >"$root/node$n/log/start.offset"
  # Detached, its output to the log: whoever reads this script's output
  # (a test, $(…)) is not held open by the server.
  (cd "$root/node$n" && exec setsid clickhouse-server --config-file="$root/node$n/config.xml") \
    >"$root/node$n/log/stdout.log" 2>&1 </dev/null &
}

# wait_node waits for node $1 to answer. A node loads every table it holds
# before it listens, and a machine that kept databases of earlier runs
# (a test run cut short leaves its own) takes a while; a node whose process
# has gone is reported at once. Either way the end of its log goes to
# stderr, so that a CI log says why.
wait_node() {
  local n=$1 deadline=$((SECONDS + ${USAGELOG_CH_CLUSTER_START_SECONDS:-600})) tries=0
  while [ $SECONDS -lt $deadline ]; do
    node_up "$n" && return
    if [ -z "$(node_pid "$n")" ]; then
      sleep 1
      node_up "$n" && return
      [ -n "$(node_pid "$n")" ] && continue
      # A node that lost ZooKeeper while it loaded its tables exits; the
      # next start, with ZooKeeper serving, loads them. Twice at most, so a
      # node that cannot start is still reported.
      if [ $tries -lt 2 ] && zk_up; then
        tries=$((tries + 1))
        echo "scripts/clickhouse-cluster.sh: node $n exited while starting; starting it again ($tries/2):" >&2
        last_error "$n" >&2
        start_node "$n"
        continue
      fi
      fail_node "$n" "exited"
    fi
    sleep 0.5
  done
  fail_node "$n" "did not answer within ${USAGELOG_CH_CLUSTER_START_SECONDS:-600} s"
}

# last_error prints the error lines node $1 logged since its last start:
# the exceptions' messages, which their stack traces push out of a short
# tail.
last_error() {
  local log=$root/node$1/log offset
  offset=$(cat "$log/start.offset" 2>/dev/null || echo 0)
  tail -c +$((offset + 1)) "$log/clickhouse-server.err.log" 2>/dev/null | grep -h '<Error>' | tail -n 3 | cut -c1-1000
}

fail_node() {
  local n=$1 log=$root/node$1/log
  {
    echo "scripts/clickhouse-cluster.sh: node $n $2 (its log: $log)"
    echo "--- its last error"
    last_error "$n"
    for f in "$log/stdout.log" "$log/clickhouse-server.err.log"; do
      [ -s "$f" ] && { echo "--- last lines of $f"; tail -n 15 "$f"; }
    done
    echo "--- free space"
    df -h "$root" 2>&1 | tail -n 1
  } >&2
  exit 1
}

# node_pid is node $1's server process, found by its configuration file.
node_pid() { pgrep -f -- "--config-file=$root/node$1/config.xml" | head -1; }

stop_node() {
  local pid
  pid=$(node_pid "$1")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

# sweep drops, on every node, the databases of test runs that were cut
# short (usagelog_test_PID_N whose process PID is gone): a run drops its
# own as each test ends, but a killed one cannot, and every table a node
# holds is loaded again at each start.
sweep() {
  local n db pid
  for n in 1 2 3 4; do
    for db in $(clickhouse-client --port "$(native_port "$n")" --query \
      "SELECT name FROM system.databases WHERE match(name, '^usagelog_test_[0-9]+_[0-9]+$')"); do
      pid=${db#usagelog_test_}
      pid=${pid%%_*}
      kill -0 "$pid" 2>/dev/null && continue
      clickhouse-client --port "$(native_port "$n")" --query "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 ||
        echo "scripts/clickhouse-cluster.sh: could not drop $db on node $n" >&2
    done
  done
}

dsn() {
  echo "clickhouse://127.0.0.1:9201,127.0.0.1:9202,127.0.0.1:9203,127.0.0.1:9204/{db}?cluster=usagelog"
}

case ${1:-} in
up)
  install_missing
  mount_image
  start_zk
  for n in 1 2 3 4; do start_node "$n"; done
  for n in 1 2 3 4; do wait_node "$n"; done
  # Each node reaches ZooKeeper before the DSN is handed out.
  for n in 1 2 3 4; do
    for _ in $(seq 120); do
      clickhouse-client --port "$(native_port "$n")" --query "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1 && break
      sleep 0.5
    done
  done
  sweep
  dsn
  ;;
down)
  for n in 1 2 3 4; do stop_node "$n"; done
  stop_zk
  ;;
restart)
  # After ZooKeeper comes back, ClickHouse 18.16's DDL worker may have
  # stopped on a node ("DDLWorker: Unexpected error, will terminate" in
  # its log), and ON CLUSTER queries then wait for that node for ever;
  # a restart starts it again.
  for n in 1 2 3 4; do stop_node "$n"; done
  for n in 1 2 3 4; do start_node "$n"; done
  for n in 1 2 3 4; do wait_node "$n"; done
  ;;
stop)
  case ${2:-} in
  zk) stop_zk ;;
  [1-4]) stop_node "$2" ;;
  *) echo "usage: $0 stop 1-4|zk" >&2; exit 2 ;;
  esac
  ;;
start)
  case ${2:-} in
  zk) start_zk ;;
  [1-4]) start_node "$2"; wait_node "$2" ;;
  *) echo "usage: $0 start 1-4|zk" >&2; exit 2 ;;
  esac
  ;;
*)
  echo "usage: $0 up|down|restart|stop N|start N" >&2
  exit 2
  ;;
esac
