#!/usr/bin/env bash
# A real standalone Apache ZooKeeper for tests of replicated ClickHouse: 18.16's
# Replicated*MergeTree tables and ON CLUSTER DDL coordinate through ZooKeeper (ClickHouse
# Keeper came years later), and Debian packages no ZooKeeper we could pin, so it runs from
# the jars Maven Central publishes, like scripts/kafka/kafka.sh.
#
#   zookeeper.sh fetch                copy ZooKeeper's jars into .cache/zookeeper/<version>/libs
#   zookeeper.sh start <dir> <port>   start a server on 127.0.0.1:<port> with its data in
#                                     <dir>, wait until it serves; a <dir> that holds a
#                                     server's data already is started again on that data
#                                     (tests restart a ZooKeeper they killed)
#   zookeeper.sh stop <dir>           stop the server started in <dir> (SIGTERM, then SIGKILL)
#   zookeeper.sh kill <dir>           SIGKILL it, as a crash would, and wait until it is gone
#
# With IGLOO_ZOOKEEPER_OWNER_PID set, the server is a throwaway one: `start` also leaves a
# watchdog that, once that process is gone, kills the server and deletes <dir>. Test
# runners need it: `bun test` runs no exit handlers, and a SIGKILLed runner none at all.
# Needs Java (run here on 17) and Maven; the jars are fetched once and never committed
# (.cache/ is ignored).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"
version="$(sed -n 's:.*<zookeeper.version>\(.*\)</zookeeper.version>.*:\1:p' "$pom")"
libs="$repo/.cache/zookeeper/$version/libs"

# die, need, fetch_jars, alive, watch_owner, stop_server
. "$repo/scripts/lib/javaServer.sh"

fetch() {
  fetch_jars "$pom" "$libs" "org.apache.zookeeper:zookeeper:$version"
}

# Asks the four-letter word `srvr`: `ruok` answers "imok" as soon as the port is open, but
# until the server has loaded its data `srvr` says "not currently serving requests", and
# a client connecting then is turned away.
serving() {
  local port="$1" answer
  answer="$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1; printf srvr >&3; cat <&3' "$port" 2>/dev/null)" || return 1
  case "$answer" in *"Mode: standalone"*) return 0 ;; *) return 1 ;; esac
}

start() {
  local dir="$1" port="$2"
  need java "ZooKeeper needs Java (apt-get install openjdk-17-jre-headless)."
  fetch
  mkdir -p "$dir/data"
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/zookeeper.pid" ] && alive "$(cat "$dir/zookeeper.pid")"; then
    die "a ZooKeeper started in $dir is already running (pid $(cat "$dir/zookeeper.pid"))"
  fi
  # Written on every start: the data directory alone decides what the server holds.
  # Sessions last at most 5 s (ClickHouse asks for 30): a replica killed with -9 keeps its
  # ephemeral is_active node until its session expires, and a replica restarted before
  # then refuses to replicate ("appears to be already active") and retries 10 s later;
  # an ALTER of a replicated table sent while that node is there waits for the dead
  # replica (up to replication_alter_columns_timeout, 60 s), holding the DDL queue.
  # admin.enableServer=false: the admin server would take port 8080 on every interface.
  # The four-letter words are how `start` (and a curious human, `echo srvr | nc`) asks.
  cat >"$dir/zoo.cfg" <<EOF
tickTime=500
maxSessionTimeout=5000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,stat,mntr,cons
EOF

  # Small heap: a test server holds a few hundred znodes, and the machine runs tests beside it.
  nohup java -Xms32m -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true \
    -cp "$libs/*" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >>"$dir/zookeeper.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/zookeeper.pid"
  if [ -n "${IGLOO_ZOOKEEPER_OWNER_PID:-}" ]; then watch_owner "$IGLOO_ZOOKEEPER_OWNER_PID" "$pid" "$dir"; fi

  local deadline=$((SECONDS + ${IGLOO_ZOOKEEPER_START_TIMEOUT:-60}))
  until serving "$port"; do
    if ! alive "$pid"; then
      die "ZooKeeper exited during startup; last lines of $dir/zookeeper.log:
$(tail -n 40 "$dir/zookeeper.log")"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null || true
      die "ZooKeeper did not serve on 127.0.0.1:$port in time (is the port taken?); last lines of $dir/zookeeper.log:
$(tail -n 40 "$dir/zookeeper.log")"
    fi
    sleep 0.1
  done
}

case "${1:-}" in
  fetch) fetch ;;
  start)
    [ "$#" -eq 3 ] || die "usage: zookeeper.sh start <dir> <port>"
    start "$2" "$3"
    ;;
  stop)
    [ "$#" -eq 2 ] || die "usage: zookeeper.sh stop <dir>"
    stop_server "$2/zookeeper.pid" TERM
    ;;
  kill)
    [ "$#" -eq 2 ] || die "usage: zookeeper.sh kill <dir>"
    stop_server "$2/zookeeper.pid" KILL
    ;;
  *) die "usage: zookeeper.sh fetch | start <dir> <port> | stop <dir> | kill <dir>" ;;
esac
