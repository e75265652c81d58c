#!/usr/bin/env bash
# A private PostgreSQL server for the team server's tests (issue 10): a real server, never a mock and
# never the machine's shared service.
#
#   tools/pg_test_server.sh start   install PostgreSQL from Debian packages if missing, initdb once,
#                                   start (or reuse the running one); prints the connection URL
#   tools/pg_test_server.sh url     prints the URL of the running server (fails if it is stopped)
#   tools/pg_test_server.sh status  exit 0 when running
#   tools/pg_test_server.sh stop    stops it (the data directory stays for a fast next start)
#   tools/pg_test_server.sh clean   stops it and removes .pgtest/
#
# Everything lives in <repo>/.pgtest/ (git-ignored): data/, sock/ (the unix socket), log, and a
# lock that serialises concurrent starts (several `make test` may run at once in one tree).
# The server runs as an unprivileged user: `wattprint-pg` (a system user created on first use) when
# this script runs as root, the calling user otherwise. It listens on NO TCP address: only on a
# unix socket in .pgtest/sock/ (mode 0700) named after a private port (WATTPRINT_TEST_PG_PORT,
# default 54329), so it can neither clash with nor be reached through a system PostgreSQL.
# Local connections use `trust` authentication: the socket directory's mode is the access control,
# and the databases hold throwaway test data only.
# Durability is switched off (fsync, synchronous_commit, full_page_writes): a crash loses test data
# only, and CREATE/DROP DATABASE per test gets several times faster.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE="${WATTPRINT_TEST_PG_DIR:-$ROOT/.pgtest}"
DATA="$BASE/data"
SOCK="$BASE/sock"
LOG="$BASE/postgres.log"
PORT="${WATTPRINT_TEST_PG_PORT:-54329}"
SUPERUSER="wattprint"
SYSTEM_USER="wattprint-pg"

die() { echo "pg_test_server: $*" >&2; exit 1; }

# The highest installed major version's bin directory, or nothing.
find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return; fi
    done
    # not a Debian layout (e.g. a source build on PATH)
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
    fi
}

install_postgres() {
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and this is not root: install it \
(sudo apt-get install -y --no-install-recommends postgresql) and run again"
    echo "pg_test_server: installing PostgreSQL from Debian packages" >&2
    # The Debian package's post-install creates and starts a system cluster; keep it from
    # starting one (policy-rc.d 101 = "action forbidden") unless a policy already exists.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; added_policy=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2 || {
        [[ $added_policy -eq 1 ]] && rm -f "$policy"; die "apt-get install postgresql failed"; }
    [[ $added_policy -eq 1 ]] && rm -f "$policy"
    return 0
}

# Runs a command as the server's unprivileged user.
as_server_user() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$SYSTEM_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_system_user() {
    [[ $(id -u) -eq 0 ]] || return 0
    id -u "$SYSTEM_USER" >/dev/null 2>&1 && return 0
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SYSTEM_USER"
}

url() {
    # psycopg takes a socket directory as the host; the port names the socket file.
    echo "postgresql+psycopg://$SUPERUSER@/postgres?host=$SOCK&port=$PORT"
}

is_running() {
    local bindir=$1
    [[ -f "$DATA/PG_VERSION" ]] && as_server_user "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# The port the running server was started with (its socket file's name), so `url` and a
# re-run of `start` never disagree with it.
running_port() {
    local pidfile="$DATA/postmaster.pid"
    [[ -r $pidfile ]] && sed -n 4p "$pidfile"
}

start() {
    mkdir -p "$BASE"
    exec 9>"$BASE/lock"
    flock 9
    local bindir
    bindir="$(find_bindir)"
    if [[ -z $bindir ]]; then install_postgres; bindir="$(find_bindir)"; fi
    [[ -n $bindir ]] || die "no initdb/pg_ctl found under /usr/lib/postgresql/*/bin after installing"
    local sock_path="$SOCK/.s.PGSQL.$PORT"
    (( ${#sock_path} < 100 )) || die "socket path too long for a unix socket ($sock_path): set \
WATTPRINT_TEST_PG_DIR to a shorter directory"
    ensure_system_user
    if is_running "$bindir"; then
        PORT="$(running_port)"
        url
        return 0
    fi
    mkdir -p "$SOCK"
    chmod 700 "$BASE" "$SOCK"
    if [[ $(id -u) -eq 0 ]]; then chown -R "$SYSTEM_USER": "$BASE"; fi
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        rm -rf "$DATA"
        as_server_user "$bindir/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$BASE/initdb.log" 2>&1 \
            || die "initdb failed: see $BASE/initdb.log"
    fi
    # -c settings on the command line: the data directory's own files stay as initdb wrote them.
    # 9>&-: the server must not inherit the lock, or it would hold it for its whole life.
    as_server_user "$bindir/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s start -o "\
-c listen_addresses='' -c port=$PORT -c unix_socket_directories='$SOCK' -c unix_socket_permissions=0700 \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c wal_level=minimal -c max_wal_senders=0 \
-c max_connections=100 -c shared_buffers=128MB -c checkpoint_timeout=30min -c max_wal_size=2GB" 9>&- \
        || { tail -20 "$LOG" >&2 2>/dev/null; die "pg_ctl start failed: see $LOG"; }
    url
}

stop() {
    local bindir
    bindir="$(find_bindir)"
    [[ -n $bindir ]] || return 0
    if is_running "$bindir"; then
        as_server_user "$bindir/pg_ctl" -D "$DATA" -m fast -w -s stop
    fi
}

case "${1:-}" in
    start) start ;;
    url)
        bindir="$(find_bindir)"
        [[ -n $bindir ]] && is_running "$bindir" || die "not running: run tools/pg_test_server.sh start"
        PORT="$(running_port)"
        url ;;
    status)
        bindir="$(find_bindir)"
        [[ -n $bindir ]] && is_running "$bindir" ;;
    stop) stop ;;
    clean) stop; rm -rf "$BASE" ;;
    *) die "usage: $0 start|url|status|stop|clean" ;;
esac
