#!/usr/bin/env bash
# The cluster test's HDFS: start|stop|status|format. One NameNode and one DataNode, each in its
# own JVM, from the Maven Central jars in $LAMBDA_TOOLS_DIR/jars/hdfs (setup.sh cluster). Binds
# 127.0.0.1 only; configuration, metadata and blocks live under $LAMBDA_HOME/hdfs.
source "$(dirname "$0")/common.sh"

NN_PORT="$LAMBDA_HDFS_NAMENODE_PORT"
NN_HTTP_PORT="$LAMBDA_HDFS_NAMENODE_HTTP_PORT"
DN_PORT="$LAMBDA_HDFS_DATANODE_PORT"
DN_HTTP_PORT="$LAMBDA_HDFS_DATANODE_HTTP_PORT"
DN_IPC_PORT="$LAMBDA_HDFS_DATANODE_IPC_PORT"
REPLICATION="$LAMBDA_HDFS_REPLICATION"
HDFS_URI="hdfs://127.0.0.1:$NN_PORT"
HDFS_DIR="$LAMBDA_HOME/hdfs"
CONF_DIR="$HDFS_DIR/conf"
JARS="$LAMBDA_TOOLS_DIR/jars/hdfs"

# The conf folder first on the classpath: Hadoop reads core-site.xml and hdfs-site.xml from there.
# hadoop.home.dir stands in for HADOOP_HOME, which nothing here sets.
HDFS_JAVA=(java -Xms64m -Xmx256m -Djava.net.preferIPv4Stack=true
  "-Dhadoop.home.dir=$HDFS_DIR" "-Dhadoop.log.dir=$LOG_DIR"
  "-Dlog4j.configuration=file:$CONF_DIR/log4j.properties" -cp "$CONF_DIR:$JARS/*")

prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }

write_config() {
  # The Maven jars leave out the web UI's pages; the HTTP servers (JMX, WebHDFS) need only their
  # folders on the classpath.
  mkdir -p "$CONF_DIR/webapps/hdfs" "$CONF_DIR/webapps/datanode" "$HDFS_DIR/tmp"
  { echo '<configuration>'
    prop fs.defaultFS "$HDFS_URI"
    prop hadoop.tmp.dir "$HDFS_DIR/tmp"
    echo '</configuration>'; } > "$CONF_DIR/core-site.xml"
  { echo '<configuration>'
    prop dfs.namenode.name.dir "file://$HDFS_DIR/name"
    prop dfs.datanode.data.dir "file://$HDFS_DIR/data"
    # The DataNode sets its folder to this mode: blocks readable by this user only.
    prop dfs.datanode.data.dir.perm 700
    prop dfs.replication "$REPLICATION"
    prop dfs.namenode.rpc-address "127.0.0.1:$NN_PORT"
    prop dfs.namenode.rpc-bind-host 127.0.0.1
    prop dfs.namenode.servicerpc-bind-host 127.0.0.1
    prop dfs.namenode.http-address "127.0.0.1:$NN_HTTP_PORT"
    prop dfs.namenode.http-bind-host 127.0.0.1
    prop dfs.datanode.address "127.0.0.1:$DN_PORT"
    prop dfs.datanode.http.address "127.0.0.1:$DN_HTTP_PORT"
    prop dfs.datanode.ipc.address "127.0.0.1:$DN_IPC_PORT"
    # Loopback: the NameNode need not resolve the DataNode's address to a host name.
    prop dfs.namenode.datanode.registration.ip-hostname-check false
    # Spark runs as any user and writes anywhere: a test cluster, no permission checks.
    prop dfs.permissions.enabled false
    # Out of safe mode as soon as the blocks are reported, not 30 s later.
    prop dfs.namenode.safemode.extension 0
    echo '</configuration>'; } > "$CONF_DIR/hdfs-site.xml"
  cat > "$CONF_DIR/log4j.properties" <<'CONF'
log4j.rootLogger=WARN,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=[%d{ISO8601}] %p %m (%c{1})%n
# The NameNode's start and stop; the DataNode's INFO has two lines per block written: not kept.
log4j.logger.org.apache.hadoop.hdfs.server.namenode.NameNode=INFO
# The readiness polls ask a starting DataNode for what it does not know yet: no stack traces.
log4j.logger.org.apache.hadoop.jmx.JMXJsonServlet=FATAL
# Hadoop's own libraries are absent on purpose: the Java implementations serve.
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
CONF
}

format() {
  [ -f "$HDFS_DIR/name/current/VERSION" ] && return 0
  [ -d "$JARS" ] || die "HDFS jars missing: run include/scripts/setup.sh cluster"
  write_config
  log "formatting the HDFS NameNode in $HDFS_DIR/name"
  # Blocks of an earlier namespace would stop the DataNode (its cluster id no longer matches).
  rm -rf "$HDFS_DIR/data"
  "${HDFS_JAVA[@]}" org.apache.hadoop.hdfs.server.namenode.NameNode -format -nonInteractive \
    >>"$LOG_DIR/hdfs-namenode.log" 2>&1 || { tail -20 "$LOG_DIR/hdfs-namenode.log"; die "formatting HDFS failed"; }
}

# hdfs_state: "FSState NumLiveDataNodes DataNodeActor" from the daemons' JMX servlets (the
# actor is RUNNING once this DataNode has registered; a restarted one counts only then, while
# the NameNode still lists its predecessor as live). Fails while the NameNode does not answer.
hdfs_state() {
  "$PYTHON_BOOT" - "$NN_HTTP_PORT" "$DN_HTTP_PORT" 2>/dev/null <<'PY'
import json, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
def bean(port, query):
    url = f"http://127.0.0.1:{port}/jmx?{query}"
    return json.load(opener.open(url, timeout=3))["beans"][0]
nn = bean(sys.argv[1], "qry=Hadoop:service=NameNode,name=FSNamesystemState")
try:
    dn = bean(sys.argv[2], "get=Hadoop:service=DataNode,name=DataNodeInfo::BPServiceActorInfo")
    actors = json.loads(dn["BPServiceActorInfo"])
    actor = actors[0]["ActorState"] if actors else "none"
except (OSError, IndexError, KeyError, TypeError, ValueError):
    actor = "down"
print(nn["FSState"], nn["NumLiveDataNodes"], actor)
PY
}

# free_ports NAME PORTS...: a daemon that is not running needs its ports free.
free_ports() {
  local name="$1" port; shift
  pid_alive "$name" && return 0
  for port; do port_in_use 127.0.0.1 "$port" && die "port $port is taken; set LAMBDA_HDFS_*_PORT"; done
  return 0
}

# start_daemon NAME CLASS PORT: start one daemon unless it runs, then wait until it opens PORT;
# fails at once if it exits.
start_daemon() {
  local name="$1" class="$2" port="$3" i
  if ! pid_alive "$name"; then
    log "starting the HDFS ${name#hdfs-} (127.0.0.1:$port)"
    start_bg "$name" "$LOG_DIR/$name.log" "${HDFS_JAVA[@]}" "$class"
  fi
  for ((i = 0; i < 180; i++)); do
    port_in_use 127.0.0.1 "$port" && return 0
    pid_alive "$name" || die "the HDFS ${name#hdfs-} exited (see $LOG_DIR/$name.log)"
    sleep 0.5
  done
  die "the HDFS ${name#hdfs-} did not open 127.0.0.1:$port within 90s (see $LOG_DIR/$name.log)"
}

start() {
  [ -d "$JARS" ] || die "HDFS jars missing: run include/scripts/setup.sh cluster"
  free_ports hdfs-namenode "$NN_PORT" "$NN_HTTP_PORT"
  free_ports hdfs-datanode "$DN_PORT" "$DN_HTTP_PORT" "$DN_IPC_PORT"
  pid_alive hdfs-namenode && pid_alive hdfs-datanode || write_config
  format
  start_daemon hdfs-namenode org.apache.hadoop.hdfs.server.namenode.NameNode "$NN_PORT"
  start_daemon hdfs-datanode org.apache.hadoop.hdfs.server.datanode.DataNode "$DN_PORT"
  # Ready when the DataNode has registered and the NameNode has left safe mode.
  local i state=""
  for ((i = 0; i < 180; i++)); do
    state="$(hdfs_state)" || state=""
    case "$state" in "Operational "[1-9]*" RUNNING") echo "$HDFS_URI"; return 0 ;; esac
    pid_alive hdfs-namenode || die "the HDFS NameNode exited (see $LOG_DIR/hdfs-namenode.log)"
    pid_alive hdfs-datanode || die "the HDFS DataNode exited (see $LOG_DIR/hdfs-datanode.log)"
    sleep 0.5
  done
  die "HDFS not ready within 90s (state: ${state:-no answer}; see $LOG_DIR/hdfs-*.log)"
}

stop() {
  local name
  for name in hdfs-datanode hdfs-namenode; do
    pid_alive "$name" && log "stopping the HDFS ${name#hdfs-}"; stop_pid "$name" 30
  done
}

status() {
  local state fs live
  if pid_alive hdfs-namenode && state="$(hdfs_state)"; then
    read -r fs live _ <<<"$state"
    echo "hdfs: up ($HDFS_URI, $live live datanodes$([ "$fs" = Operational ] || echo ", in safe mode"))"
  else
    echo "hdfs: down ($HDFS_URI)"; return 1
  fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; format) format ;;
  *) die "usage: hdfs.sh start|stop|status|format" ;;
esac
