# Shared by scripts/kafka/kafka.sh and scripts/zookeeper/zookeeper.sh (sourced): servers run
# from the jars Maven Central publishes, fetched once into .cache/ (ignored, never committed).

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
