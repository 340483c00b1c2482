# Sourced by scripts/test (bash 5.1+).
#
# pg_cluster_start: starts a throwaway PostgreSQL cluster (Debian's `postgresql` package) in a new
# temporary directory — its own data directory, listening only on a unix socket in that
# directory (no TCP port), fsync off — and sets PG_CLUSTER_URL to a libpq connection string for
# its `postgres` superuser (trust authentication; nothing else can reach the socket's directory).
# initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user (created by
# the package) through runuser, on a directory that user owns.
# pg_cluster_stop: stops it (fast shutdown) and removes the directory; safe to call twice.
PG_CLUSTER_DIR=""
PG_CLUSTER_URL=""
PG_CLUSTER_BIN=""

_pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_cluster_start() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "!! PostgreSQL's server programs are not installed (apt package postgresql)" >&2
    return 1
  fi
  PG_CLUSTER_BIN=$bin
  PG_CLUSTER_DIR=$(mktemp -d /tmp/latchkey-pg.XXXXXX)
  chmod 700 "$PG_CLUSTER_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_CLUSTER_DIR"
  _pg_as "$bin/initdb" -D "$PG_CLUSTER_DIR/data" -U postgres -A trust -E UTF8 --no-locale \
    >"$PG_CLUSTER_DIR/initdb.log" 2>&1 || { cat "$PG_CLUSTER_DIR/initdb.log" >&2; return 1; }
  _pg_as "$bin/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/server.log" -w -t 60 \
    -o "-k $PG_CLUSTER_DIR -c listen_addresses='' -c fsync=off -c max_connections=400" start \
    >/dev/null || { cat "$PG_CLUSTER_DIR/server.log" >&2; return 1; }
  PG_CLUSTER_URL="host=$PG_CLUSTER_DIR user=postgres dbname=postgres"
}

pg_cluster_stop() {
  [ -n "$PG_CLUSTER_DIR" ] || return 0
  _pg_as "$PG_CLUSTER_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_CLUSTER_DIR"
  PG_CLUSTER_DIR=""
}
