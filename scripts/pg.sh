#!/usr/bin/env bash
# A private PostgreSQL server for a test run (docs/team.md, "Tests").
#
#   scripts/pg.sh install      install Debian's `postgresql` package when it is missing (root)
#   scripts/pg.sh start DIR    initdb in DIR, start on a free 127.0.0.1 port, print the URL
#   scripts/pg.sh start DIR tls   the same with TLS on (ssl = on): a test CA in DIR/tls/ca.crt
#                              signed the server's certificate (for IP 127.0.0.1 only)
#   scripts/pg.sh stop DIR     stop the server started in DIR, by its pid
#
# As root (CI) the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
# The role `keywheel` is a superuser with a random password (tests create one database each);
# the server listens on 127.0.0.1 only, and its socket lives in DIR.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  return 1
}

install() {
  if bindir >/dev/null; then return; fi
  if [ "$(id -u)" != 0 ]; then
    die "PostgreSQL is not installed; install it with \`sudo apt-get install -y postgresql\` (or set KEYWHEEL_TEST_PG_URL to a server you can create databases on)"
  fi
  echo "pg.sh: installing PostgreSQL (apt-get install -y postgresql)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; } \
    || die "could not install PostgreSQL with apt-get"
  bindir >/dev/null || die "PostgreSQL was installed but initdb is not in /usr/lib/postgresql/*/bin"
}

# Runs a command as the server's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A throwaway CA and a server certificate it signed, for 127.0.0.1 (docs/team.md, "Tests").
make_tls() {
  local t=$1/tls
  command -v openssl >/dev/null || die "openssl is needed for a TLS test server (apt-get install -y openssl)"
  mkdir -p "$t"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=keywheel test CA" -keyout "$t/ca.key" -out "$t/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$t/ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
    -days 2 -extfile "$t/ext" -out "$t/server.crt" 2>/dev/null
  chmod 600 "$t/server.key"
}

start() {
  local dir=$1 tls=${2:-} bin port password ssl=""
  bin=$(bindir) || die "PostgreSQL is not installed; run \`scripts/pg.sh install\` as root"
  mkdir -p "$dir"
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  printf '%s\n' "$password" >"$dir/pwfile"
  if [ "$tls" = tls ]; then
    make_tls "$dir"
    ssl="-c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key"
  fi
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; fi
  chmod 700 "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U keywheel --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed in $dir/data"; }
  rm -f "$dir/pwfile"
  port=$(free_port)
  # fsync off: a test server's data is thrown away; 300 connections: 24 processes × a pool each.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 $ssl" \
    start >/dev/null \
    || { cat "$dir/server.log" >&2; die "the PostgreSQL server did not start (log: $dir/server.log)"; }
  head -n 1 "$dir/data/postmaster.pid" >"$dir/pid"
  echo "postgres://keywheel:$password@127.0.0.1:$port/postgres"
}

stop() {
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  # SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, the server exits.
  kill -INT "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) [ $# = 2 ] || { [ $# = 3 ] && [ "$3" = tls ]; } || die "usage: pg.sh start DIR [tls]"; start "$2" "${3:-}" ;;
  stop) [ $# = 2 ] || die "usage: pg.sh stop DIR"; stop "$2" ;;
  *) die "usage: pg.sh install | start DIR [tls] | stop DIR" ;;
esac
