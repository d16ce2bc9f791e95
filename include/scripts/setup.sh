#!/usr/bin/env bash
# Idempotent set-up of everything the product needs on this machine: Python environments,
# JVM jars from Maven Central, the PostgreSQL server and Prometheus packages. Re-runs do
# nothing when the pinned inputs have not changed (stamp files), so later runs work offline.
source "$(dirname "$0")/common.sh"

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required: $2"; }
need java "install a Java 17+ JDK (Debian: apt-get install openjdk-17-jdk-headless)"
need mvn "install Maven (Debian: apt-get install maven)"
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
[ "${java_major:-0}" -ge 17 ] || die "Java 17+ is required, found ${java_major:-none}"
"$PYTHON_BOOT" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11+ is required ($PYTHON_BOOT)"

# stamp_ok NAME FILES...: true when FILES have not changed since the last successful step.
stamp_ok() {
  local name="$1"; shift
  local want; want="$(cat "$@" | sha256sum | cut -c1-16)"
  [ -f "$LAMBDA_TOOLS_DIR/stamps/$name" ] && [ "$(cat "$LAMBDA_TOOLS_DIR/stamps/$name")" = "$want" ]
}
stamp_write() {
  local name="$1"; shift
  mkdir -p "$LAMBDA_TOOLS_DIR/stamps"
  cat "$@" | sha256sum | cut -c1-16 > "$LAMBDA_TOOLS_DIR/stamps/$name"
}

# uv installs the Python environments: Airflow's ~150 pinned packages in 5 s where pip took
# 70 s here. It lives in a small environment of its own, made with pip.
UV_VERSION=0.13.8
UV="$LAMBDA_TOOLS_DIR/venv/uv/bin/uv"
ensure_uv() {
  [ -x "$UV" ] && [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" = "$UV_VERSION" ] && return 0
  log "installing uv $UV_VERSION (it installs the Python environments)"
  "$PYTHON_BOOT" -m venv "$LAMBDA_TOOLS_DIR/venv/uv"
  "$LAMBDA_TOOLS_DIR/venv/uv/bin/python" -m pip install -q "uv==$UV_VERSION"
}

# make_venv VENV REQUIREMENTS CONSTRAINTS [MORE_REQUIREMENTS...]
make_venv() {
  local venv="$1" reqs="$2" constraints="$3" name; name="venv-$(basename "$venv")"; shift 3
  local more=() r; for r in "$@"; do more+=(-r "$r"); done
  if [ -x "$venv/bin/python" ] && stamp_ok "$name" "$reqs" "$constraints" "$@"; then return 0; fi
  ensure_uv
  log "installing Python environment $venv (from $reqs $*)"
  [ -x "$venv/bin/python" ] || "$UV" venv -q --seed --python "$PYTHON_BOOT" "$venv"
  # pip's certificate setting (a registry behind a TLS-inspecting proxy) holds for uv too.
  if [ -n "${PIP_CERT:-}" ] && [ -z "${SSL_CERT_FILE:-}" ]; then export SSL_CERT_FILE="$PIP_CERT"; fi
  # From uv's cache alone first: the registry answers pyspark's sdist revalidation as modified,
  # so online uv rebuilds it every time (30 s); a cold cache fails fast and goes online.
  "$UV" pip install -q --offline --python "$venv/bin/python" -r "$reqs" "${more[@]}" -c "$constraints" 2>/dev/null \
    || "$UV" pip install -q --python "$venv/bin/python" -r "$reqs" "${more[@]}" -c "$constraints"
  # The project's packages (telemetry, simulator) are importable without installing them.
  local site; site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  printf '%s\n%s\n' "$REPO/spark_apps" "$REPO/include" > "$site/lambda_telemetry.pth"
  stamp_write "$name" "$reqs" "$constraints" "$@"
}

fetch_jars() {
  local name="$1" pom="$REPO/include/jvm/$1/pom.xml" dest="$LAMBDA_TOOLS_DIR/jars/$1"; shift
  if [ -d "$dest" ] && stamp_ok "jars-$name" "$pom"; then return 0; fi
  log "fetching $name jars from Maven Central into $dest"
  rm -rf "$dest"; mkdir -p "$dest"
  # Maven 3.8 prints colour resets even with -B -q: strip them (pipefail keeps mvn's status).
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dest" "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
  stamp_write "jars-$name" "$pom"
}

install_postgres() {
  [ "$LAMBDA_PG_MANAGED" = 1 ] || return 0
  if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then return 0; fi
  command -v apt-get >/dev/null || die "no PostgreSQL server found; install it or set LAMBDA_PG_HOST"
  log "installing the PostgreSQL server from the OS packages"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql postgresql-client
}

# The dashboard's chart library (requirements/npm: echarts, locked), from the npm registry into
# $LAMBDA_TOOLS_DIR/npm; the plugin serves it, so the page never needs the internet.
npm_assets() {
  local dir="$LAMBDA_TOOLS_DIR/npm" inputs=("$REPO/requirements/npm/package.json" "$REPO/requirements/npm/package-lock.json")
  if [ -f "$dir/node_modules/echarts/dist/echarts.min.js" ] && stamp_ok npm "${inputs[@]}"; then return 0; fi
  command -v npm >/dev/null || die "npm not found: install Node.js (the dashboard's chart library comes from the npm registry)"
  log "installing the dashboard's chart library from the npm registry (echarts)"
  mkdir -p "$dir"
  cp "${inputs[@]}" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --silent) || die "npm ci failed in $dir"
  stamp_write npm "${inputs[@]}"
}

# Headless Chromium for the dashboard's browser test, from the OS packages (Playwright's own
# browser download is not used: Playwright drives this one).
install_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  command -v apt-get >/dev/null || { log "warning: no /usr/bin/chromium and no apt-get: the browser test will fail"; return 0; }
  log "installing Chromium from the OS packages (the dashboard's browser test)"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
}

# A class-data-sharing archive of the Spark driver's classes (include/jvm/cds_training.py,
# used by telemetry/submit_args.py): each spark-submit starts seconds faster. Written once,
# again when pyspark, the JDK or the training run change. Optional: a failure only warns.
spark_cds() {
  local dir="$LAMBDA_TOOLS_DIR/jvm" training="$REPO/include/jvm/cds_training.py"
  local archive="$dir/spark-cds.jsa" jdk="$dir/jdk-version" logfile="$dir/cds-training.log"
  mkdir -p "$dir"
  java -version 2>&1 | head -2 > "$jdk"
  local inputs=("$REPO/requirements/spark-constraints.txt" "$training" "$jdk")
  if [ -f "$archive" ] && stamp_ok spark-cds "${inputs[@]}"; then return 0; fi
  log "recording the Spark driver's classes for a faster start (class-data sharing, once)"
  rm -rf "$archive" "$dir/cds-work"
  if ( eval "$("$VENV_SPARK/bin/python" -m telemetry.submit_args spark-env)"
       "$VENV_SPARK/bin/spark-submit" --master "local[2]" --conf spark.ui.enabled=false \
         --driver-java-options "-XX:ArchiveClassesAtExit=$archive" "$training" "$dir/cds-work"
     ) >"$logfile" 2>&1 && [ -s "$archive" ]; then
    stamp_write spark-cds "${inputs[@]}"
  else
    rm -f "$archive"
    log "warning: no class-data-sharing archive (see $logfile); Spark starts without it"
  fi
  rm -rf "$dir/cds-work"
}

# Prometheus (include/scripts/prometheus.sh) from Debian's package, unpacked into
# $LAMBDA_TOOLS_DIR rather than installed: no root, no system-wide service.
PROMETHEUS_VERSION="2.42.0+ds-5+deb12u1"
# Alertmanager (alertmanager.sh) built from its Go module, pinned: Debian's package reads its
# notification templates from /usr/share/prometheus/alertmanager only (unpacked elsewhere it
# starts but cannot send), and v0.28+ need their UI built with npm first.
ALERTMANAGER_VERSION="v0.27.0"

# install_deb PACKAGE VERSION FOLDER: the package's files unpacked into FOLDER.
install_deb() {
  local package="$1" version="$2" dest="$3" tmp deb sudo=""
  command -v apt-get >/dev/null || die "apt-get not found: $package comes from Debian's package"
  log "installing $package $version from Debian's package into $dest"
  [ "$(id -u)" = 0 ] || sudo="sudo"
  tmp="$(mktemp -d)"
  # An old package index may not list the pinned version: refresh it once and try again.
  (cd "$tmp" && apt-get download -q "$package=$version") \
    || { $sudo apt-get update -q && (cd "$tmp" && apt-get download -q "$package=$version"); } \
    || { rm -rf "$tmp"; die "apt-get download $package=$version failed"; }
  deb="$(ls "$tmp/${package}"_*.deb)"
  rm -rf "$dest"
  mkdir -p "$dest"
  dpkg-deb -x "$deb" "$dest"
  rm -rf "$tmp"
}

install_alertmanager() {
  local dest="$LAMBDA_TOOLS_DIR/alertmanager" tool
  [ -x "$ALERTMANAGER" ] && [ -x "$AMTOOL" ] \
    && [ "$(cat "$dest/version" 2>/dev/null)" = "$ALERTMANAGER_VERSION" ] && return 0
  command -v go >/dev/null \
    || die "go not found: Alertmanager is built from its Go module (Go 1.21 or newer)"
  log "building Alertmanager $ALERTMANAGER_VERSION from its Go module into $dest (about a minute, once)"
  rm -rf "$dest"
  for tool in alertmanager amtool; do
    GOBIN="$dest/bin" GOFLAGS=-buildvcs=false \
      go install "github.com/prometheus/alertmanager/cmd/$tool@$ALERTMANAGER_VERSION" \
      || die "go install $tool@$ALERTMANAGER_VERSION failed"
  done
  echo "$ALERTMANAGER_VERSION" > "$dest/version"
}

install_prometheus() {
  if ! { [ -x "$PROMETHEUS" ] && [ -x "$PROMTOOL" ] \
    && "$PROMETHEUS" --version 2>&1 | grep -qF "revision: $PROMETHEUS_VERSION" \
    && "$PROMTOOL" --version 2>&1 | grep -qF "revision: $PROMETHEUS_VERSION"; }; then
    install_deb prometheus "$PROMETHEUS_VERSION" "$LAMBDA_TOOLS_DIR/prometheus"
    "$PROMETHEUS" --version >/dev/null 2>&1 || die "the unpacked $PROMETHEUS does not run"
  fi
  install_alertmanager
}

what="${1:-all}"
case "$what" in
  all|base|spark|cds|airflow|jars|postgres|prometheus|dashboard|cluster) ;;
  *) die "usage: setup.sh [all|base|spark|cds|airflow|jars|postgres|prometheus|dashboard|cluster] (base: all but cds; cluster: the HDFS jars, only on its own)" ;;
esac
# Is a step part of this call? `base` is everything but the class-data-sharing archive (make
# test records that while its services start).
want() { [ "$what" = "$1" ] || [ "$what" = all ] || { [ "$what" = base ] && [ "$1" != cds ]; }; }

# The developer's Spark environment also has the benchmark's and the soak's tools
# (requirements/bench.txt); the images install requirements/spark.txt only.
if want spark || want cds; then
  make_venv "$VENV_SPARK" "$REPO/requirements/spark.txt" "$REPO/requirements/spark-constraints.txt" "$REPO/requirements/bench.txt"
fi
# The archive's ~70 s run needs nothing below: it overlaps them, joined at the end.
if want cds; then
  if [ "$what" = all ]; then spark_cds & cds_pid=$!; else spark_cds; fi
fi
if want airflow; then
  make_venv "$VENV_AIRFLOW" "$REPO/requirements/airflow.txt" "$REPO/requirements/airflow-constraints.txt"
fi
if want jars; then
  fetch_jars kafka
  # Only what pyspark lacks: the Kafka source, its Kafka client and pool, the JDBC driver.
  fetch_jars spark -DincludeArtifactIds=spark-sql-kafka-0-10_2.13,spark-token-provider-kafka-0-10_2.13,kafka-clients,commons-pool2,postgresql
  # The batch jobs' OpenLineage listener (one shaded jar), kept apart from the speed layer's.
  fetch_jars lineage -DincludeArtifactIds=openlineage-spark_2.13
fi
if want postgres; then install_postgres; fi
if want prometheus; then install_prometheus; fi
# The HDFS daemons (include/scripts/hdfs.sh) only for the cluster test: never part of all or base.
if [ "$what" = cluster ]; then fetch_jars hdfs; fi
if want dashboard; then npm_assets; install_chromium; fi
# Joined before set-up ends: the archive exists (or was warned about) when anything starts.
if [ -n "${cds_pid:-}" ]; then wait "$cds_pid"; fi
