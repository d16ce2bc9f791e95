#!/usr/bin/env bash
# The project's Kafka broker: start|stop|status. Single node, KRaft (combined broker and
# controller, no ZooKeeper), from the Maven Central jars in $LAMBDA_TOOLS_DIR/jars/kafka, in its own
# JVM. With LAMBDA_KAFKA_BOOTSTRAP set, the broker is someone else's: only the topic is ensured.
source "$(dirname "$0")/common.sh"

KAFKA_DIR="$LAMBDA_HOME/kafka"
CONF="$KAFKA_DIR/server.properties"
JARS="$LAMBDA_TOOLS_DIR/jars/kafka"
KAFKA_LOG="$LOG_DIR/kafka.log"

KAFKA_JAVA=(java -Xms256m "-Xmx${LAMBDA_KAFKA_HEAP:-768m}" -XX:+UseG1GC
  "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" -cp "$JARS/*")
kafka_java() { "${KAFKA_JAVA[@]}" "$@"; }

write_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat > "$CONF" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$LAMBDA_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$LAMBDA_KAFKA_PORT,CONTROLLER://127.0.0.1:$LAMBDA_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$LAMBDA_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=$LAMBDA_KAFKA_PARTITIONS
# Topics are created on purpose (below), so a wrong topic name fails instead of appearing.
auto.create.topics.enable=false
# Single node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
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
  [ -f "$KAFKA_DIR/data/meta.properties" ] && return 0
  [ -f "$KAFKA_DIR/cluster_id" ] || kafka_java kafka.tools.StorageTool random-uuid > "$KAFKA_DIR/cluster_id"
  log "formatting Kafka storage in $KAFKA_DIR/data"
  kafka_java kafka.tools.StorageTool format --cluster-id "$(cat "$KAFKA_DIR/cluster_id")" \
    --standalone --ignore-formatted --config "$CONF" >>"$KAFKA_LOG" 2>&1 \
    || { tail -20 "$KAFKA_LOG"; die "formatting Kafka storage failed"; }
}

ensure_topic() {
  "$VENV_SPARK/bin/python" "$REPO/include/scripts/kafka_topic.py" \
    || die "topic $LAMBDA_KAFKA_TOPIC could not be ensured (see $KAFKA_LOG)"
}

start() {
  if [ "$LAMBDA_KAFKA_MANAGED" != 1 ]; then ensure_topic; return; fi
  [ -d "$JARS" ] || die "Kafka jars missing: run include/scripts/setup.sh jars"
  if ! pid_alive kafka; then
    port_in_use 127.0.0.1 "$LAMBDA_KAFKA_PORT" && die "port $LAMBDA_KAFKA_PORT is taken by another program; set LAMBDA_KAFKA_PORT"
    write_config
    format_storage
    log "starting Kafka (KRaft) on 127.0.0.1:$LAMBDA_KAFKA_PORT"
    start_bg kafka "$KAFKA_LOG" "${KAFKA_JAVA[@]}" kafka.Kafka "$CONF"
  fi
  wait_port 127.0.0.1 "$LAMBDA_KAFKA_PORT" 90 Kafka
  ensure_topic
}

stop() { [ "$LAMBDA_KAFKA_MANAGED" = 1 ] && { pid_alive kafka && log "stopping Kafka"; stop_pid kafka 60; } || true; }

status() {
  if "$VENV_SPARK/bin/python" "$REPO/include/scripts/kafka_topic.py" --check >/dev/null 2>&1; then
    echo "kafka: up ($LAMBDA_KAFKA_BOOTSTRAP, topic $LAMBDA_KAFKA_TOPIC)"
  else
    echo "kafka: down ($LAMBDA_KAFKA_BOOTSTRAP)"; return 1
  fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) die "usage: kafka.sh start|stop|status" ;;
esac
