# Shared by scripts/kafka/kafka.sh and scripts/zookeeper/zookeeper.sh (sourced): servers run
# from the jars Maven Central publishes, fetched once into .cache/ (ignored, never committed),
# started in the background, watched for their owner, stopped.

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed; $2"
}

# fetch_jars <pom> <libs> <what>: copies the pom's dependencies into <libs>, once. The
# marker is written last, so an interrupted copy is redone rather than trusted.
fetch_jars() {
  local pom="$1" libs="$2" what="$3"
  [ -f "$libs/.complete" ] && return 0
  need java "$what needs Java 17 or newer (apt-get install openjdk-17-jre-headless)."
  need mvn "fetching the jars of $what needs Maven (apt-get install maven)."
  rm -rf "$libs"
  mkdir -p "$libs"
  local log="$libs/../fetch.log"
  mvn -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$libs" >"$log" 2>&1 ||
    die "mvn could not fetch $what into $libs (is Maven Central reachable?); last lines of $log:
$(tail -n 30 "$log")"
  touch "$libs/.complete"
}

# Alive and not a zombie: a killed server may linger as one until its new parent reaps it.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
  [ "$state" != "Z" ]
}

# watch_owner <owner-pid> <server-pid> <dir>: a watchdog for a throwaway server. Once the
# owner (a test runner) is gone, it kills the server and deletes <dir>; a server stopped
# or killed on purpose while its owner lives is left to the owner.
watch_owner() {
  nohup bash -c '
    while kill -0 "$0" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done
    kill -0 "$0" 2>/dev/null && exit 0
    kill -9 "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null; do sleep 0.1; done
    rm -rf "$2"
  ' "$1" "$2" "$3" >/dev/null 2>&1 </dev/null &
}

# stop_server <pid-file> <signal>: signals the server, gives it 10 s, then SIGKILL; returns
# once it is gone, and removes the pid file.
stop_server() {
  local file="$1" signal="$2" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if alive "$pid"; then
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.05; done
  fi
  rm -f "$file"
}
