#!/usr/bin/env bash
# The project's Kafka: start|stop|status|kill-broker I|start-broker I. LAMBDA_KAFKA_BROKERS
# nodes (1 by default), KRaft (each a combined broker and controller, no ZooKeeper), from the
# Maven Central jars in $LAMBDA_TOOLS_DIR/jars/kafka, each in its own JVM. With
# LAMBDA_KAFKA_BOOTSTRAP set, the brokers are someone else's: only the topic is ensured.
source "$(dirname "$0")/common.sh"

KAFKA_DIR="$LAMBDA_HOME/kafka"
JARS="$LAMBDA_TOOLS_DIR/jars/kafka"
N="$LAMBDA_KAFKA_BROKERS"

KAFKA_JAVA=(java -Xms256m "-Xmx${LAMBDA_KAFKA_HEAP:-768m}" -XX:+UseG1GC
  "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" -cp "$JARS/*")
kafka_java() { "${KAFKA_JAVA[@]}" "$@"; }

# Broker i (1..N): one node alone keeps the names it always had (kafka.pid, kafka/data);
# with several, each has its own: kafka-i.pid, kafka/broker-i.
name_of() { [ "$N" = 1 ] && echo kafka || echo "kafka-$1"; }
dir_of() { [ "$N" = 1 ] && echo "$KAFKA_DIR" || echo "$KAFKA_DIR/broker-$1"; }
port_of() { echo $((LAMBDA_KAFKA_PORT + 10 * ($1 - 1))); }
controller_port_of() { echo $((LAMBDA_KAFKA_CONTROLLER_PORT + 10 * ($1 - 1))); }
log_of() { echo "$LOG_DIR/$(name_of "$1").log"; }

write_config() {
  local i="$1" dir port cport quorum voters="" j
  dir="$(dir_of "$i")" port="$(port_of "$i")" cport="$(controller_port_of "$i")"
  mkdir -p "$dir/data"
  if [ "$N" = 1 ]; then
    quorum="controller.quorum.bootstrap.servers=127.0.0.1:$cport"
  else  # a static quorum: every node is a voter
    for ((j = 1; j <= N; j++)); do voters+="${voters:+,}$j@127.0.0.1:$(controller_port_of "$j")"; done
    quorum="controller.quorum.voters=$voters"
  fi
  local internal=$((N < 3 ? N : 3)) internal_isr=$((N < 2 ? N : 2))
  cat > "$dir/server.properties" <<CONF
process.roles=broker,controller
node.id=$i
$quorum
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=$LAMBDA_KAFKA_PARTITIONS
# Topics are created on purpose (below), so a wrong topic name fails instead of appearing.
auto.create.topics.enable=false
default.replication.factor=$LAMBDA_KAFKA_REPLICATION_FACTOR
min.insync.replicas=$LAMBDA_KAFKA_MIN_INSYNC_REPLICAS
# Internal topics: as many replicas as there are brokers, up to 3.
offsets.topic.replication.factor=$internal
transaction.state.log.replication.factor=$internal
transaction.state.log.min.isr=$internal_isr
share.coordinator.state.topic.replication.factor=$internal
share.coordinator.state.topic.min.isr=$internal_isr
group.initial.rebalance.delay.ms=0
log.retention.hours=${LAMBDA_KAFKA_RETENTION_HOURS:-168}
CONF
  cat > "$KAFKA_DIR/log4j2.properties" <<'CONF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
CONF
}

format_storage() {
  local i="$1" dir mode=()
  dir="$(dir_of "$i")"
  [ -f "$dir/data/meta.properties" ] && return 0
  [ -f "$KAFKA_DIR/cluster_id" ] || kafka_java kafka.tools.StorageTool random-uuid > "$KAFKA_DIR/cluster_id"
  [ "$N" = 1 ] && mode=(--standalone)
  log "formatting Kafka storage in $dir/data"
  kafka_java kafka.tools.StorageTool format --cluster-id "$(cat "$KAFKA_DIR/cluster_id")" \
    "${mode[@]}" --ignore-formatted --config "$dir/server.properties" >>"$(log_of "$i")" 2>&1 \
    || { tail -20 "$(log_of "$i")"; die "formatting Kafka storage failed"; }
}

ensure_topic() {
  "$VENV_SPARK/bin/python" "$REPO/include/scripts/kafka_topic.py" \
    || die "topic $LAMBDA_KAFKA_TOPIC could not be ensured (see $LOG_DIR/kafka*.log)"
}

start_broker() {
  local i="$1" port
  [ "$i" -ge 1 ] && [ "$i" -le "$N" ] || die "no broker $i (LAMBDA_KAFKA_BROKERS=$N)"
  pid_alive "$(name_of "$i")" && return 0
  port="$(port_of "$i")"
  port_in_use 127.0.0.1 "$port" && die "port $port is taken by another program; set LAMBDA_KAFKA_PORT"
  mkdir -p "$KAFKA_DIR"
  write_config "$i"
  format_storage "$i"
  log "starting Kafka broker $i of $N (KRaft) on 127.0.0.1:$port"
  start_bg "$(name_of "$i")" "$(log_of "$i")" "${KAFKA_JAVA[@]}" kafka.Kafka "$(dir_of "$i")/server.properties"
}

start() {
  if [ "$LAMBDA_KAFKA_MANAGED" != 1 ]; then ensure_topic; return; fi
  [ -d "$JARS" ] || die "Kafka jars missing: run include/scripts/setup.sh jars"
  for ((i = 1; i <= N; i++)); do start_broker "$i"; done
  for ((i = 1; i <= N; i++)); do wait_port 127.0.0.1 "$(port_of "$i")" 90 "Kafka broker $i"; done
  ensure_topic
}

stop() {
  [ "$LAMBDA_KAFKA_MANAGED" = 1 ] || return 0
  # All at once: a node stopping alone waits for a controller quorum its peers no longer form.
  for ((i = 1; i <= N; i++)); do
    pid_alive "$(name_of "$i")" && kill -TERM "$(cat "$RUN_DIR/$(name_of "$i").pid")" 2>/dev/null || true
  done
  for ((i = N; i >= 1; i--)); do
    pid_alive "$(name_of "$i")" && log "stopping Kafka broker $i"
    stop_pid "$(name_of "$i")" 60
  done
}

status() {
  if "$VENV_SPARK/bin/python" "$REPO/include/scripts/kafka_topic.py" --check >/dev/null 2>&1; then
    echo "kafka: up ($LAMBDA_KAFKA_BOOTSTRAP, topic $LAMBDA_KAFKA_TOPIC)"
  else
    echo "kafka: down ($LAMBDA_KAFKA_BOOTSTRAP)"; return 1
  fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  # One broker of several, for fault tests: kill -9 (as a lost machine), and back.
  kill-broker) kill -KILL "$(cat "$RUN_DIR/$(name_of "$2").pid")"; rm -f "$RUN_DIR/$(name_of "$2").pid" ;;
  start-broker) start_broker "$2"; wait_port 127.0.0.1 "$(port_of "$2")" 90 "Kafka broker $2" ;;
  *) die "usage: kafka.sh start|stop|status|kill-broker I|start-broker I" ;;
esac
