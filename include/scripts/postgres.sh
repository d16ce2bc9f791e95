#!/usr/bin/env bash
# The project's PostgreSQL: start|stop|status|schema. With LAMBDA_PG_HOST set, the server is
# someone else's: only the schema is applied. Otherwise a private cluster is created on
# loopback (port LAMBDA_PG_PORT), run as the `postgres` OS user when we are root (PostgreSQL
# refuses to run as root).
source "$(dirname "$0")/common.sh"

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
# The cluster's folder (data, socket, server log). As root the server runs as `postgres`, which
# may not be able to reach a checkout inside a private folder (mktemp -d is mode 700): then the
# cluster lives in a folder of postgres's own, named after this state folder.
PG_BASE="$LAMBDA_HOME/pg"
PG_LOG="$LOG_DIR/postgres.log"
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 \
  && ! runuser -u postgres -- test -x "$LAMBDA_HOME" 2>/dev/null; then
  PG_BASE="$(getent passwd postgres | cut -d: -f6)/lambda-$(printf %s "$LAMBDA_HOME" | sha1sum | cut -c1-12)"
  PG_LOG="$PG_BASE/postgres.log"
fi
PG_DATA="${LAMBDA_PG_DATA:-$PG_BASE/data}"
PG_SOCK="$PG_BASE/run"

# From / : the postgres user may not be able to enter the caller's folder (psql and pg_ctl
# otherwise print "could not change directory ... Permission denied").
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
superuser_psql() { as_pg "$PG_BIN/psql" -h "$PG_SOCK" -p "$LAMBDA_PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
# psql as LAMBDA_PG_ROLE (the owner by default); the password reaches psql's environment only.
app_psql() {
  local login password
  { read -r login; read -r password; } < <("$PYTHON_BOOT" -m telemetry.pg_roles login) \
    || die "no PostgreSQL password for role ${LAMBDA_PG_ROLE:-owner} (see above)"
  PGOPTIONS="-c client_min_messages=warning" PGPASSWORD="$password" psql -h "$LAMBDA_PG_HOST" -p "$LAMBDA_PG_PORT" \
    -U "$login" -X -q -v ON_ERROR_STOP=1 "$@"
}
# The roles' names and password verifiers, then the SQL that creates or updates them (stdin only).
roles_sql() { "$PYTHON_BOOT" -m telemetry.pg_roles psql-vars && cat "$REPO/sql/roles/cluster.sql"; }

init_cluster() {
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  [ -n "$PG_BIN" ] || die "no PostgreSQL server installed: run include/scripts/setup.sh postgres"
  mkdir -p "$PG_DATA" "$PG_SOCK"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$PG_BASE" "$PG_DATA"
    runuser -u postgres -- test -w "$PG_DATA" \
      || die "the postgres OS user cannot write $PG_DATA; set LAMBDA_PG_DATA to a folder it can"
  fi
  log "creating a PostgreSQL cluster in $PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 || { cat "$LOG_DIR/initdb.log"; die "initdb failed"; }
  cat >> "$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $LAMBDA_PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
CONF
}

# Clusters made before results needed durable commits had synchronous_commit = off: a crash
# could lose commits the speed layer had already checkpointed past. Back to the default (on).
durable_commits() {
  grep -q '^synchronous_commit = off' "$PG_DATA/postgresql.conf" 2>/dev/null || return 0
  as_pg sed -i '/^synchronous_commit = off$/d' "$PG_DATA/postgresql.conf"
}

# Who may connect, rewritten on every start (so a cluster made with --auth-local=trust is fixed):
# over the socket, only the OS user running the server, as the superuser (peer); the project's
# roles over TCP on loopback with their passwords. The socket's folder is that user's alone.
local_access() {
  local os_user
  if [ "$(id -u)" = 0 ]; then os_user=postgres; else os_user="$(id -un)"; fi
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<HBA
# Written by include/scripts/postgres.sh at every start: edits here are replaced.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer map=cluster_owner
host    all       all       127.0.0.1/32   scram-sha-256
host    all       all       ::1/128        scram-sha-256
HBA
  as_pg tee "$PG_DATA/pg_ident.conf" >/dev/null <<IDENT
# Written by include/scripts/postgres.sh: the server's OS user is the superuser over the socket.
cluster_owner   $os_user   postgres
IDENT
  grep -q '^unix_socket_permissions' "$PG_DATA/postgresql.conf" \
    || echo "unix_socket_permissions = 0700" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  as_pg chmod 700 "$PG_SOCK"
}

start() {
  if [ "$LAMBDA_PG_MANAGED" != 1 ]; then schema; return; fi
  init_cluster
  durable_commits
  local_access
  mkdir -p "$(dirname "$PG_LOG")"; touch "$PG_LOG"; [ "$(id -u)" = 0 ] && chown postgres "$PG_LOG"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    port_in_use 127.0.0.1 "$LAMBDA_PG_PORT" && die "port $LAMBDA_PG_PORT is taken by another program; set LAMBDA_PG_PORT"
    log "starting PostgreSQL on 127.0.0.1:$LAMBDA_PG_PORT"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null \
      || { tail -20 "$PG_LOG"; die "PostgreSQL did not start"; }
  else
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null  # pg_hba.conf may have changed
  fi
  # Roles (passwords re-set from their files) and databases, idempotently.
  roles_sql | superuser_psql -d postgres -f - || die "creating the roles failed"
  schema
}

# The tables as the owner, then each role's privileges (sql/schema/900_roles_grants.sql).
schema() {
  local f names missing
  read -ra names < <("$PYTHON_BOOT" -m telemetry.pg_roles names) || die "bad role names"
  missing="$(LAMBDA_PG_ROLE=owner app_psql -d "$LAMBDA_PG_DB" -tA "${names[@]}" <<'SQL'
SELECT string_agg(r, ' ') FROM unnest(ARRAY[:'speed_role', :'batch_role', :'airflow_role',
  :'reader_role', :'metadata_role']) AS r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)
SQL
)" || die "PostgreSQL at $LAMBDA_PG_HOST:$LAMBDA_PG_PORT refused the owner role $LAMBDA_PG_USER"
  [ -z "$missing" ] || die "missing PostgreSQL roles: $missing; an administrator creates them with" \
    "'bash include/scripts/postgres.sh roles-sql | psql -h $LAMBDA_PG_HOST -p $LAMBDA_PG_PORT -U <admin> -d postgres'"
  for f in "$REPO"/sql/schema/*.sql; do
    LAMBDA_PG_ROLE=owner app_psql -d "$LAMBDA_PG_DB" "${names[@]}" -f "$f" >/dev/null \
      || die "applying $f failed"
  done
}

stop() {
  [ "$LAMBDA_PG_MANAGED" = 1 ] || return 0
  [ -f "$PG_DATA/PG_VERSION" ] || return 0
  if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
  fi
}

# crash: stop the server the way a power cut would (no checkpoint, recovery at the next start);
# the chaos tests use it.
crash() {
  [ "$LAMBDA_PG_MANAGED" = 1 ] || die "crash needs the project's own cluster"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null
}

# destroy: stop the cluster and delete it (make test starts from an empty one).
destroy() {
  stop
  [ "$LAMBDA_PG_MANAGED" = 1 ] && rm -rf "$PG_BASE" "$PG_DATA"
  return 0
}

status() {
  if app_psql -d "$LAMBDA_PG_DB" -c 'SELECT 1' >/dev/null 2>&1; then
    echo "postgres: up ($LAMBDA_PG_HOST:$LAMBDA_PG_PORT/$LAMBDA_PG_DB)"
  else
    echo "postgres: down ($LAMBDA_PG_HOST:$LAMBDA_PG_PORT)"; return 1
  fi
}

# roles-sql: what an administrator of someone else's server runs to create the roles (docs/scaling.md).
[ "${1:-}" = roles-sql ] && { roles_sql; exit; }

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; schema) schema ;; destroy) destroy ;; crash) crash ;;
  psql) shift; app_psql -d "$LAMBDA_PG_DB" "$@" ;;
  *) die "usage: postgres.sh start|stop|status|schema|destroy|crash|psql" ;;
esac
