#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, no ZooKeeper) for tests and benchmarks,
# run from the jars Maven Central publishes: Debian packages neither Kafka nor Redpanda.
#
#   kafka.sh fetch                          copy the broker's jars into .cache/kafka/<version>/libs
#   kafka.sh start <dir> <port> [<ctrl>]    format <dir>, start a broker on 127.0.0.1:<port>
#                                           (controller on <ctrl>, default <port>+1), wait until
#                                           it answers a metadata request; a <dir> that holds
#                                           a broker's data already is started again as it is
#                                           (tests restart a broker they killed)
#   kafka.sh stop <dir>                     stop the broker started in <dir>
#
# With IGLOO_KAFKA_OWNER_PID set, the broker is a throwaway one: `start` also leaves a
# watchdog that, once that process is gone, kills the broker and deletes <dir>. Test
# runners need it: `bun test` runs no exit handlers, and a SIGKILLed runner none at all.
# Needs Java 17+ and Maven; the jars are fetched once and never committed (.cache/ is ignored).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
libs="$repo/.cache/kafka/$version/libs"

# die, need, fetch_jars, alive, watch_owner, stop_server
. "$repo/scripts/lib/javaServer.sh"

fetch() {
  fetch_jars "$pom" "$libs" "org.apache.kafka:kafka_2.13:$version"
}

java_cp() {
  java -Xmx256m -cp "$libs/*" "$@"
}

# Sends a Metadata v4 request (all topics) and succeeds when the answer lists a broker:
# the port being open is not enough, a KRaft broker listens before it has registered.
answers_metadata() {
  local port="$1" bytes
  bytes="$(
    timeout 2 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
      # size 23 | api key 3 | version 4 | correlation id 1 | client id "kafka.sh" | topics null | no auto-create
      printf "\x00\x00\x00\x17\x00\x03\x00\x04\x00\x00\x00\x01\x00\x08kafka.sh\xff\xff\xff\xff\x00" >&3
      od -An -tu1 -N16 <&3
    ' "$port" 2>/dev/null
  )" || return 1
  # size(4) correlation id(4) throttle(4) broker count(4): the last byte of the count.
  set -- $bytes
  [ "$#" -eq 16 ] && [ "${16}" -ge 1 ]
}

start() {
  local dir="$1" port="$2" ctrl="${3:-$(($2 + 1))}"
  need java "the Kafka broker needs Java 17 or newer (apt-get install openjdk-17-jre-headless)."
  fetch
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/kafka.pid" ] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
    die "a broker started in $dir is already running (pid $(cat "$dir/kafka.pid"))"
  fi
  if [ -f "$dir/data/meta.properties" ]; then
    restarting=1
  else
    restarting=0
  fi
  [ "$restarting" = 1 ] || cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctrl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
# One broker: internal topics cannot have more replicas than that.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests create and join many groups: do not wait for more members to show up.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  if [ "$restarting" = 0 ]; then
    local id
    id="$(java_cp kafka.tools.StorageTool random-uuid)" || die "StorageTool random-uuid failed"
    java_cp kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
      die "StorageTool format failed: $(tail -n 20 "$dir/format.log")"
  fi

  # Small heap: a test broker holds little, and the machine runs tests beside it.
  nohup java -Xms256m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true \
    -cp "$libs/*" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/kafka.pid"
  if [ -n "${IGLOO_KAFKA_OWNER_PID:-}" ]; then watch_owner "$IGLOO_KAFKA_OWNER_PID" "$pid" "$dir"; fi

  local deadline=$((SECONDS + ${IGLOO_KAFKA_START_TIMEOUT:-90}))
  until answers_metadata "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      die "the broker exited during startup; last lines of $dir/kafka.log:
$(tail -n 40 "$dir/kafka.log")"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null || true
      die "the broker did not answer a metadata request on 127.0.0.1:$port in time; last lines of $dir/kafka.log:
$(tail -n 40 "$dir/kafka.log")"
    fi
    sleep 0.2
  done
}

case "${1:-}" in
  fetch) fetch ;;
  start)
    [ "$#" -ge 3 ] || die "usage: kafka.sh start <dir> <port> [<controller-port>]"
    start "$2" "$3" "${4:-}"
    ;;
  stop)
    [ "$#" -eq 2 ] || die "usage: kafka.sh stop <dir>"
    # A controlled shutdown takes a few seconds; past 10 s, nothing is worth waiting for.
    stop_server "$2/kafka.pid" TERM
    ;;
  *) die "usage: kafka.sh fetch | start <dir> <port> [<controller-port>] | stop <dir>" ;;
esac
