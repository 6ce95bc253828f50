#!/usr/bin/env bash
# Run a private, loopback-only Prosody 0.12 (Debian package) for load tests.
#
#   prosody.sh start    DIR PORT        render config into DIR, start, wait for /ws, print the pid
#   prosody.sh register DIR PORT PREFIX COUNT PASSWORD   create PREFIX0..PREFIX{COUNT-1}@localhost
#   prosody.sh pid      DIR             print the server pid (for RSS/CPU sampling)
#   prosody.sh stop     DIR             SIGTERM (graceful), bounded wait, then SIGKILL
#
# Environment knobs (all optional):
#   TASKSET="taskset -c 0"   command prefix for the server (CPU pinning)
#   NOFILE=20000             open-files limit for the server
#   START_TIMEOUT=60         seconds to wait for the /ws listener
#   STOP_TIMEOUT=30          seconds to wait for a graceful stop before SIGKILL
#   PRESENCE_BROADCAST="moderator, participant, visitor"   MUC roles whose presence
#                            is broadcast (muc_room_default_presence_broadcast);
#                            "moderator": only the room creator's (a join still
#                            costs O(occupants) CPU, but sends O(1) presences)
#   GC_MODE=generational     Lua GC mode (gc option); incremental = Prosody's default
#
# Everything (config, accounts, logs, pid file) lives in DIR, so runs never
# touch /etc/prosody or /var/lib/prosody.  The server runs as the prosody
# user, in the foreground of its own session.  Must run as root.
# register writes Prosody's internal_plain account files directly
# (DIR/data/localhost/accounts/NAME.dat, via Prosody's own util.datamanager),
# so it works whether or not the server is running; PORT is unused there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/debian-service.sh
. "$HERE/../lib/debian-service.sh"
PR_USER=prosody
PR_SRC=/usr/lib/prosody          # Debian: Prosody's Lua sources and C modules
LUA=/usr/bin/lua5.4              # the interpreter /usr/bin/prosody runs under
HOST=localhost

die() { echo "prosody.sh: $*" >&2; exit 1; }

# Install the Debian package if missing, without letting its own service run.
ensure_installed() {
    install_without_service prosody
    local sys_pid=""
    [ -s /run/prosody/prosody.pid ] && sys_pid=$(cat /run/prosody/prosody.pid 2>/dev/null || true)
    if [ -n "$sys_pid" ] && kill -0 "$sys_pid" 2>/dev/null; then
        echo "prosody.sh: warning: system prosody (pid $sys_pid) is running; stopping it" >&2
        kill -TERM "$sys_pid" 2>/dev/null || true
        local deadline=$((SECONDS + 15))
        while kill -0 "$sys_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    fi
}

# Absolute run dir; refuse empty or relative surprises.
absdir() { [ -n "${1:-}" ] || die "DIR missing"; mkdir -p "$1"; (cd "$1" && pwd); }

server_pid() {   # prints pid if DIR's server is alive, else fails
    local dir=$1 pid
    [ -s "$dir/prosody.pid" ] || return 1
    pid=$(cat "$dir/prosody.pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# Is something accepting TCP connections on 127.0.0.1:PORT?
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# "moderator, participant, visitor" -> "moderator = true; participant = true; visitor = true;"
broadcast_roles() {
    local list=${PRESENCE_BROADCAST:-moderator, participant, visitor} out="" r
    for r in ${list//,/ }; do
        [[ "$r" =~ ^(moderator|participant|visitor|none)$ ]] || die "PRESENCE_BROADCAST: unknown role '$r'"
        out+="$r = true; "
    done
    echo "${out% }"
}

cmd_start() {
    local dir port
    dir=$(absdir "${1:-}"); port=${2:?PORT missing}
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number"
    ensure_installed
    if server_pid "$dir" >/dev/null; then die "already running in $dir (pid $(server_pid "$dir"))"; fi
    port_open "$port" && die "port $port already in use"

    mkdir -p "$dir/data" "$dir/log" "$dir/certs"   # certs: empty (no TLS)
    rm -f "$dir/prosody.pid"
    local roles gc_mode=${GC_MODE:-generational}
    roles=$(broadcast_roles)
    [[ "$gc_mode" =~ ^(generational|incremental)$ ]] || die "GC_MODE: generational or incremental"
    sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@PRESENCE_BROADCAST@|$roles|g" \
        -e "s|@GC_MODE@|$gc_mode|g" \
        "$HERE/prosody.cfg.lua.in" > "$dir/prosody.cfg.lua"
    chown -R "$PR_USER:$PR_USER" "$dir"

    # ulimit is raised here (as root) and inherited through setpriv, which,
    # unlike su/runuser, does not go through PAM/pam_limits.  setsid, taskset,
    # setpriv and env all exec, so the pid is the Lua process itself and
    # TASKSET applies to it.  -F: foreground (mod_posix writes the pid file).
    ulimit -n "${NOFILE:-20000}"
    # shellcheck disable=SC2086
    setsid ${TASKSET:-} setpriv --reuid="$PR_USER" --regid="$PR_USER" --init-groups \
        env -i HOME="$dir" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        "$LUA" /usr/bin/prosody -F --config "$dir/prosody.cfg.lua" \
        </dev/null >"$dir/log/prosody.out" 2>&1 &
    local child=$!

    # Bounded wait: pid file written and the HTTP listener accepting.
    local deadline=$((SECONDS + ${START_TIMEOUT:-60})) pid=""
    while [ $SECONDS -lt $deadline ]; do
        pid=$(server_pid "$dir" || true)
        if [ -n "$pid" ] && port_open "$port"; then
            echo "$pid"
            return 0
        fi
        if ! kill -0 "$child" 2>/dev/null; then
            tail -n 30 "$dir/log/prosody.out" "$dir/log/prosody.log" >&2 2>/dev/null || true
            die "prosody exited during startup (see $dir/log)"
        fi
        sleep 0.1   # poll interval, bounded by the deadline
    done
    kill -TERM "$child" 2>/dev/null || true
    die "prosody did not open 127.0.0.1:$port within ${START_TIMEOUT:-60}s (see $dir/log)"
}

# Bulk registration: Prosody's internal_plain provider keeps one keyval
# "accounts" item per user, {password = saslprep(pw)}, which the internal
# storage driver stores as DATA/<encoded host>/accounts/<encoded user>.dat
# ("return { [\"password\"] = \"...\"; };").  One Lua process writes them all
# with Prosody's own datamanager (path encoding, serialisation, atomic
# rename), as the prosody user, so nothing is re-implemented here.  The
# driver reads the file at every login (no cache), so a running server sees
# new accounts at once.  Existing accounts are left alone (re-runs are fine).
cmd_register() {
    local dir prefix count password
    dir=$(absdir "${1:-}"); prefix=${3:?PREFIX missing}
    count=${4:?COUNT missing}; password=${5:?PASSWORD missing}
    [ -s "$dir/prosody.cfg.lua" ] || die "no config in $dir (run start first)"
    [[ "$prefix$password" =~ ^[A-Za-z0-9_.-]+$ ]] || die "PREFIX/PASSWORD: use [A-Za-z0-9_.-] only"
    [[ "$count" =~ ^[0-9]+$ ]] || die "COUNT must be a number"
    mkdir -p "$dir/data"
    chown "$PR_USER:$PR_USER" "$dir/data"
    umask 027   # as Prosody's own (mod_posix) umask: files 0640
    timeout "${REGISTER_TIMEOUT:-300}" setpriv --reuid="$PR_USER" --regid="$PR_USER" --init-groups \
        env -i PATH=/usr/bin:/bin DATA="$dir/data" HOST="$HOST" PREFIX="$prefix" COUNT="$count" PASSWORD="$password" \
        "$LUA" -e "
            package.path = '$PR_SRC/?.lua;' .. package.path
            package.cpath = '$PR_SRC/?.so;' .. package.cpath
            local dm = require 'util.datamanager'
            local sp = require 'util.encodings'.stringprep
            local lfs = require 'lfs'
            local host, prefix = os.getenv('HOST'), os.getenv('PREFIX')
            local count, pw = tonumber(os.getenv('COUNT')), sp.saslprep(os.getenv('PASSWORD'))
            dm.set_data_path(os.getenv('DATA'))
            local ok, existed, failed = 0, 0, 0
            for i = 0, count - 1 do
                local user = sp.nodeprep(prefix .. i)   -- as the server sees the JID's local part
                if not user then
                    failed = failed + 1
                elseif lfs.attributes(dm.getpath(user, host, 'accounts')) then
                    existed = existed + 1
                elseif dm.store(user, host, 'accounts', { password = pw }) then
                    ok = ok + 1
                else
                    failed = failed + 1
                end
            end
            print(('registered=%d existed=%d failed=%d'):format(ok, existed, failed))
            os.exit(failed == 0 and 0 or 1)"
}

cmd_stop() {
    local dir pid
    dir=$(absdir "${1:-}")
    pid=$(server_pid "$dir") || { echo "not running"; return 0; }
    stop_pid "$pid"
    rm -f "$dir/prosody.pid"
    echo "stopped"
}

case "${1:-}" in
    start)    shift; cmd_start "$@" ;;
    register) shift; cmd_register "$@" ;;
    pid)      shift; server_pid "$(absdir "${1:-}")" || die "not running" ;;
    stop)     shift; cmd_stop "$@" ;;
    *) sed -n '2,28p' "$0" >&2; exit 2 ;;
esac
