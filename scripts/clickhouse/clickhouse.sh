#!/bin/sh
# A throwaway ClickHouse server for tests: Debian's clickhouse-server (18.16) run in the
# background with its own config, data and logs under one directory, listening on
# 127.0.0.1 only. Nothing under /etc or /var is used, so several servers can run side by
# side and a test can kill and restart one on the same data.
#
#   clickhouse.sh install                          apt-get the server if it is missing
#   clickhouse.sh start <dir> <http-port> [<pw>]   tcp port is http-port+1; password may
#                                                  also come from CLICKHOUSE_PASSWORD; with
#                                                  CLICKHOUSE_TLS_CERT and _KEY (PEM files)
#                                                  HTTPS listens on http-port+2 as well
#   clickhouse.sh stop <dir>                       SIGTERM, wait
#   clickhouse.sh kill <dir>                       SIGKILL, wait
#
# With CLICKHOUSE_OWNER_PID set, a watchdog stops the server once that process is gone,
# so a test runner leaves no server behind even when it dies without cleaning up (bun
# test runs no exit hooks); with CLICKHOUSE_REMOVE_DIR_WITH_OWNER=1 it then removes <dir>.
#
# A replica of a one-shard cluster (scripts/zookeeper/zookeeper.sh runs the ZooKeeper),
# when all of these are set; without them the server stands alone:
#   CLICKHOUSE_ZOOKEEPER_PORT     ZooKeeper on 127.0.0.1:<port>
#   CLICKHOUSE_CLUSTER_NAME       the cluster's name in remote_servers (ON CLUSTER <name>)
#   CLICKHOUSE_CLUSTER_REPLICAS   every replica's native address, "host:tcp-port,host:tcp-port"
#   CLICKHOUSE_REPLICA_NAME       this replica's {replica} macro ({shard} is 01)
#   CLICKHOUSE_INTERSERVER_PORT   where this replica serves its parts to the others
# Every replica must be started with the same password: remote_servers names the user
# default and that password for each of them.
set -eu

SERVER=${CLICKHOUSE_SERVER:-clickhouse-server}
START_TIMEOUT_S=${CLICKHOUSE_START_TIMEOUT_S:-30}

die() {
  echo "clickhouse.sh: $*" >&2
  exit 1
}

# GET or POST a URL with whichever HTTP client the machine has; prints the body.
http() { # url [post-body]
  if command -v curl >/dev/null 2>&1; then
    if [ $# -gt 1 ]; then curl -sS --fail-with-body --max-time 10 --data-binary "$2" "$1"; else curl -sS --fail --max-time 2 "$1"; fi
  elif command -v wget >/dev/null 2>&1; then
    if [ $# -gt 1 ]; then wget -q -O - --timeout=10 --post-data="$2" "$1"; else wget -q -O - --timeout=2 "$1"; fi
  else
    die "neither curl nor wget is installed; one is needed to talk to the server"
  fi
}

install_server() {
  command -v "$SERVER" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$SERVER is not installed and apt-get is not available to install it"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be empty on a fresh machine; update only when the package is unknown.
  if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
    apt-get update -qq || die "apt-get update failed"
  fi
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null || die "apt-get install clickhouse-server clickhouse-client failed"
  command -v "$SERVER" >/dev/null 2>&1 || die "apt-get installed clickhouse-server but $SERVER is still not on PATH"
}

xml_escape() {
  printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'
}

tls_config() { # http-port
  [ -n "${CLICKHOUSE_TLS_CERT:-}" ] || return 0
  cat <<EOF
  <https_port>$(($1 + 2))</https_port>
  <openSSL>
    <server>
      <certificateFile>$(xml_escape "$CLICKHOUSE_TLS_CERT")</certificateFile>
      <privateKeyFile>$(xml_escape "$CLICKHOUSE_TLS_KEY")</privateKeyFile>
      <verificationMode>none</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>
EOF
}

# The replication settings of config.xml (see the header), or nothing at all for a lone
# server, whose config stays byte for byte what it was (hence the leading newline here).
# interserver_http_host is pinned to 127.0.0.1: by default a replica announces its
# hostname, which need not resolve to the loopback address it listens on.
cluster_config() { # password
  [ -n "${CLICKHOUSE_ZOOKEEPER_PORT:-}" ] || return 0
  cat <<EOF

  <zookeeper>
    <node><host>127.0.0.1</host><port>$CLICKHOUSE_ZOOKEEPER_PORT</port></node>
  </zookeeper>
  <remote_servers>
    <$CLICKHOUSE_CLUSTER_NAME>
      <shard>
        <internal_replication>true</internal_replication>
EOF
  for address in $(printf '%s' "$CLICKHOUSE_CLUSTER_REPLICAS" | tr ',' ' '); do
    printf '        <replica><host>%s</host><port>%s</port><user>default</user><password>%s</password></replica>\n' \
      "$(xml_escape "${address%:*}")" "${address##*:}" "$(xml_escape "$1")"
  done
  cat <<EOF
      </shard>
    </$CLICKHOUSE_CLUSTER_NAME>
  </remote_servers>
  <macros>
    <shard>01</shard>
    <replica>$(xml_escape "$CLICKHOUSE_REPLICA_NAME")</replica>
  </macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <interserver_http_port>$CLICKHOUSE_INTERSERVER_PORT</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
EOF
}

check_cluster_env() {
  set -- "${CLICKHOUSE_ZOOKEEPER_PORT:-}" "${CLICKHOUSE_CLUSTER_NAME:-}" "${CLICKHOUSE_CLUSTER_REPLICAS:-}" "${CLICKHOUSE_REPLICA_NAME:-}" "${CLICKHOUSE_INTERSERVER_PORT:-}"
  [ -n "$1$2$3$4$5" ] || return 0
  [ -n "$1" ] && [ -n "$2" ] && [ -n "$3" ] && [ -n "$4" ] && [ -n "$5" ] ||
    die "a replica needs all of CLICKHOUSE_ZOOKEEPER_PORT, CLICKHOUSE_CLUSTER_NAME, CLICKHOUSE_CLUSTER_REPLICAS, CLICKHOUSE_REPLICA_NAME and CLICKHOUSE_INTERSERVER_PORT (only some are set)"
  printf '%s' "$2" | grep -Eq '^[A-Za-z_][A-Za-z0-9_]*$' || die "CLICKHOUSE_CLUSTER_NAME '$2' is not a plain identifier (it is an XML element name and appears in ON CLUSTER)"
  for address in $(printf '%s' "$3" | tr ',' ' '); do
    printf '%s' "$address" | grep -Eq '^[^:]+:[0-9]+$' || die "CLICKHOUSE_CLUSTER_REPLICAS: '$address' is not host:tcp-port (expected e.g. 127.0.0.1:9001,127.0.0.1:9011)"
  done
}

write_config() { # dir http-port tcp-port password
  dir=$1
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/logs"
  cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>$dir/logs/server.log</log>
    <errorlog>$dir/logs/server.err.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$2</http_port>
  <tcp_port>$3</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <!-- Old servers have no session_timezone setting: pin the server's zone instead. -->
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
$(tls_config "$2")$(cluster_config "$4")
</yandex>
EOF
  # A replica's config.xml holds the password (remote_servers), like users.xml.
  [ -z "${CLICKHOUSE_ZOOKEEPER_PORT:-}" ] || chmod 600 "$dir/config.xml"
  hash=$(printf '%s' "$4" | sha256sum | cut -d' ' -f1)
  # The default profile keeps the server's default settings (18.16 refuses LowCardinality
  # columns with them: Igloo must find that out and do without). igloo_reader is the query
  # user Igloo's README asks for: the server holds it to reading (readonly = 1: no writes,
  # SET, temporary tables or table functions), to the igloo database, and to the default
  # limits of Igloo's queries. igloo_experimental is allowed LowCardinality columns, as an
  # operator may choose. Same password for all.
  cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
    </default>
    <experimental>
      <max_memory_usage>4000000000</max_memory_usage>
      <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
    </experimental>
    <igloo_reader>
      <readonly>1</readonly>
      <max_execution_time>30</max_execution_time>
      <max_memory_usage>1073741824</max_memory_usage>
      <max_result_rows>1000000</max_result_rows>
      <max_result_bytes>268435456</max_result_bytes>
      <result_overflow_mode>throw</result_overflow_mode>
    </igloo_reader>
  </profiles>
  <users>
$(user_xml default default "$hash")
$(user_xml igloo_reader igloo_reader "$hash" '<allow_databases><database>igloo</database></allow_databases>')
$(user_xml igloo_experimental experimental "$hash")
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
  chmod 600 "$dir/users.xml"
}

# One <users> entry: a user (name, profile, password hash, extra XML) that may connect
# from loopback only.
user_xml() { # name profile hash [extra]
  printf '    <%s>\n' "$1"
  printf '      <password_sha256_hex>%s</password_sha256_hex>\n' "$(xml_escape "$3")"
  printf '      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\n'
  printf '      <profile>%s</profile>\n      <quota>default</quota>\n' "$2"
  [ -z "${4:-}" ] || printf '      %s\n' "$4"
  printf '    </%s>\n' "$1"
}

# Alive and not a zombie: once this script has exited, the server is reparented, and a
# killed server may linger as a zombie until its new parent reaps it.
alive() { # pid
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
  [ "$state" != "Z" ]
}

running_pid() { # dir -> prints the pid if that process is alive
  [ -f "$1/server.pid" ] || return 1
  pid=$(cat "$1/server.pid")
  [ -n "$pid" ] && alive "$pid" && echo "$pid"
}

start_server() { # dir http-port [password]
  [ $# -ge 2 ] || die "usage: clickhouse.sh start <dir> <http-port> [<password>]"
  dir=$(mkdir -p "$1" && cd "$1" && pwd)
  port=$2
  password=${3:-${CLICKHOUSE_PASSWORD:-}}
  command -v "$SERVER" >/dev/null 2>&1 || die "$SERVER is not installed: run 'clickhouse.sh install' first"
  if pid=$(running_pid "$dir"); then die "a server (pid $pid) is already running in $dir"; fi
  if [ -n "${CLICKHOUSE_TLS_CERT:-}${CLICKHOUSE_TLS_KEY:-}" ]; then
    [ -r "${CLICKHOUSE_TLS_CERT:-}" ] && [ -r "${CLICKHOUSE_TLS_KEY:-}" ] || die "CLICKHOUSE_TLS_CERT and CLICKHOUSE_TLS_KEY must both name readable PEM files"
  fi
  check_cluster_env
  write_config "$dir" "$port" $((port + 1)) "$password"
  nohup "$SERVER" --config-file="$dir/config.xml" >>"$dir/logs/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/server.pid"
  if [ -n "${CLICKHOUSE_OWNER_PID:-}" ]; then
    owner=$CLICKHOUSE_OWNER_PID
    remove=${CLICKHOUSE_REMOVE_DIR_WITH_OWNER:-}
    (
      while alive "$owner" && alive "$pid"; do sleep 1; done
      alive "$owner" && exit 0 # the server was stopped or killed on purpose
      stop_server "$dir" TERM
      if [ "$remove" = 1 ]; then rm -rf "$dir"; fi
    ) >/dev/null 2>&1 </dev/null &
  fi
  deadline=$(($(date +%s) + START_TIMEOUT_S))
  until [ "$(http "http://127.0.0.1:$port/ping" 2>/dev/null || true)" = "Ok." ]; do
    if ! alive "$pid" || [ "$(date +%s)" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null || true
      echo "clickhouse.sh: the server in $dir did not answer http://127.0.0.1:$port/ping within ${START_TIMEOUT_S}s" >&2
      echo "--- $dir/logs/stdout.log (tail)" >&2
      tail -n 20 "$dir/logs/stdout.log" >&2 2>/dev/null || true
      echo "--- $dir/logs/server.err.log (tail)" >&2
      tail -n 30 "$dir/logs/server.err.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.05
  done
  # Credentials as URL parameters: every server version knows them (18.16 has no
  # X-ClickHouse-Key header). They show in this short-lived curl's argv; test use only.
  http "http://127.0.0.1:$port/?user=default&password=$(urlencode "$password")" "CREATE DATABASE IF NOT EXISTS igloo" >/dev/null ||
    die "the server in $dir started but CREATE DATABASE igloo failed (see $dir/logs/server.err.log)"
  echo "$pid"
}

urlencode() {
  printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n' | sed 's/\(..\)/%\1/g'
}

stop_server() { # dir signal
  [ $# -ge 1 ] || die "usage: clickhouse.sh stop|kill <dir>"
  dir=$1
  signal=$2
  pid=$(running_pid "$dir") || { rm -f "$dir/server.pid"; return 0; }
  kill "-$signal" "$pid" 2>/dev/null || true
  # SIGTERM lets the server finish running queries (it waits a few seconds for them);
  # after 30 s it gets SIGKILL, and after 40 s we give up loudly.
  i=0
  while alive "$pid"; do
    i=$((i + 1))
    [ "$i" -eq 600 ] && kill -9 "$pid" 2>/dev/null
    [ "$i" -ge 800 ] && die "the server (pid $pid) in $dir does not exit"
    sleep 0.05
  done
  rm -f "$dir/server.pid"
}

case "${1:-}" in
  install) install_server ;;
  start) shift; start_server "$@" ;;
  stop) stop_server "${2:-}" TERM ;;
  kill) stop_server "${2:-}" KILL ;;
  *) die "usage: clickhouse.sh install | start <dir> <http-port> [<password>] | stop <dir> | kill <dir>" ;;
esac
