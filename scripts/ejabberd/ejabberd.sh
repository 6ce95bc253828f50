#!/usr/bin/env bash
# Run a private, loopback-only ejabberd 23.01 (Debian package) for load tests.
#
#   ejabberd.sh start    DIR PORT        render config into DIR, start, wait for /ws, print beam pid
#   ejabberd.sh register DIR PORT PREFIX COUNT PASSWORD   register PREFIX0..PREFIX{COUNT-1}@localhost
#   ejabberd.sh pid      DIR             print the beam.smp pid (for RSS/CPU sampling)
#   ejabberd.sh stop     DIR             SIGTERM (graceful), bounded wait, then SIGKILL
#   ejabberd.sh eval     DIR PORT EXPR   run an Erlang expression on a hidden node
#                                        (server node name bound to N), e.g.
#     'io:format("~p~n", [rpc:call(N, mod_muc_admin, get_room_occupants_number, [<<"bench0">>, <<"conference.localhost">>])])'
#
# Environment knobs (all optional):
#   TASKSET="taskset -c 0"   command prefix for the server (CPU pinning)
#   NOFILE=20000             open-files limit for the server
#   DIST_PORT=PORT+1         Erlang distribution port (127.0.0.1 only, no epmd)
#   START_TIMEOUT=60         seconds to wait for the /ws listener
#   STOP_TIMEOUT=30          seconds to wait for a graceful stop before SIGKILL
#   MAX_USERS_PRESENCE=1000  mod_muc max_users_presence (rooms above this are "overcrowded")
#   PRESENCE_BROADCAST="moderator, participant, visitor"   room option presence_broadcast
#
# Everything (config, mnesia, logs, cookie, pid file) lives in DIR, so runs
# never touch /etc/ejabberd or /var/lib/ejabberd.  Must run as root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/debian-service.sh
. "$HERE/../lib/debian-service.sh"
EJ_USER=ejabberd
ERL_LIBS_DIR=/usr/lib/x86_64-linux-gnu     # where Debian puts ejabberd-23.01/ebin
NODE=ejbench@localhost                      # private node; no epmd is used

die() { echo "ejabberd.sh: $*" >&2; exit 1; }

# Install the Debian package if missing, without letting its own service run.
ensure_installed() {
    install_without_service ejabberd
    if pgrep -u "$EJ_USER" -f 'beam.*-mnesia dir "/var/lib/ejabberd"' >/dev/null; then
        echo "ejabberd.sh: warning: system ejabberd is running; stopping it" >&2
        timeout 30 ejabberdctl stop >/dev/null 2>&1 || true
    fi
}

# Absolute run dir; refuse empty or relative surprises.
absdir() { [ -n "${1:-}" ] || die "DIR missing"; mkdir -p "$1"; (cd "$1" && pwd); }

beam_pid() {   # prints pid if DIR's server is alive, else fails
    local dir=$1 pid
    [ -s "$dir/ejabberd.pid" ] || return 1
    pid=$(cat "$dir/ejabberd.pid")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# Is something accepting TCP connections on 127.0.0.1:PORT?
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

cmd_start() {
    local dir port
    dir=$(absdir "${1:-}"); port=${2:?PORT missing}
    local dport=${DIST_PORT:-$((port + 1))}
    ensure_installed
    if beam_pid "$dir" >/dev/null; then die "already running in $dir (pid $(beam_pid "$dir"))"; fi
    port_open "$port" && die "port $port already in use"

    mkdir -p "$dir/db" "$dir/log"
    printf 'passwd:\n  storage_type: ram_copies\n' > "$dir/db/ejabberd.schema"
    rm -f "$dir/ejabberd.pid"
    sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" \
        -e "s|@MAX_USERS_PRESENCE@|${MAX_USERS_PRESENCE:-1000}|g" \
        -e "s|@PRESENCE_BROADCAST@|${PRESENCE_BROADCAST:-moderator, participant, visitor}|g" \
        "$HERE/ejabberd.yml.in" > "$dir/ejabberd.yml"
    # Private cookie in DIR (HOME=DIR makes erl read $DIR/.erlang.cookie).
    if [ ! -s "$dir/.erlang.cookie" ]; then
        head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/.erlang.cookie"
    fi
    chown -R "$EJ_USER:$EJ_USER" "$dir"
    chmod 400 "$dir/.erlang.cookie"

    # ulimit is raised here (as root) and inherited through setpriv, which,
    # unlike su/runuser, does not go through PAM/pam_limits.  erl -> erlexec
    # -> beam.smp all exec, so TASKSET applies to the VM itself.
    ulimit -n "${NOFILE:-20000}"
    # shellcheck disable=SC2086
    setsid ${TASKSET:-} setpriv --reuid="$EJ_USER" --regid="$EJ_USER" --init-groups \
        env -i HOME="$dir" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
            ERL_LIBS="$ERL_LIBS_DIR" \
            EJABBERD_CONFIG_PATH="$dir/ejabberd.yml" \
            EJABBERD_LOG_PATH="$dir/log/ejabberd.log" \
            EJABBERD_PID_PATH="$dir/ejabberd.pid" \
            ERL_CRASH_DUMP="$dir/log/erl_crash.dump" ERL_CRASH_DUMP_BYTES=0 \
            ERL_MAX_PORTS=32000 ERL_MAX_ETS_TABLES=1400 \
        /usr/bin/erl -sname "$NODE" -noinput -noshell \
            +K true +P 250000 \
            -start_epmd false -erl_epmd_port "$dport" \
            -kernel inet_dist_use_interface '{127,0,0,1}' \
            -mnesia dir "\"$dir/db\"" \
            -s ejabberd \
        </dev/null >"$dir/log/erl.out" 2>&1 &

    # Bounded wait: pid file written and the HTTP listener accepting.
    local deadline=$((SECONDS + ${START_TIMEOUT:-60})) pid=""
    while [ $SECONDS -lt $deadline ]; do
        pid=$(beam_pid "$dir" || true)
        if [ -n "$pid" ] && port_open "$port"; then
            # The Debian default keeps 'passwd' as disc_only_copies (dets, a
            # disk read per login).  Make it RAM-only.  ejabberd 23.01 ignores
            # ejabberd.schema when it first creates a table, so convert at
            # runtime; the schema file keeps it ram_copies on later restarts.
            # Consequence: users do not survive a restart -> re-run register.
            remote_eval "$dir" "$dport" "
                case rpc:call(N, mnesia, table_info, [passwd, storage_type]) of
                    ram_copies -> ok;
                    _ -> {atomic, ok} = rpc:call(N, mnesia, change_table_copy_type,
                                                 [passwd, N, ram_copies])
                end" >&2 || die "could not switch passwd to ram_copies"
            echo "$pid"
            return 0
        fi
        if ! kill -0 $! 2>/dev/null; then
            tail -n 30 "$dir/log/erl.out" "$dir/log/"*.log >&2 2>/dev/null || true
            die "ejabberd exited during startup (see $dir/log)"
        fi
        sleep 0.1   # poll interval, bounded by the deadline
    done
    die "ejabberd did not open 127.0.0.1:$port within ${START_TIMEOUT:-60}s (see $dir/log)"
}

# Run an Erlang expression on a throwaway hidden node connected to DIR's server.
# The expression sees the server node name in variable N.
remote_eval() {
    local dir=$1 dport=$2 expr=$3
    # shellcheck disable=SC2016
    timeout "${EVAL_TIMEOUT:-300}" setpriv --reuid="$EJ_USER" --regid="$EJ_USER" --init-groups \
        env -i HOME="$dir" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        /usr/bin/erl -sname "ctl$$@localhost" -hidden -noinput -noshell \
            -start_epmd false -erl_epmd_port "$dport" -dist_listen false \
            -eval "N = '$NODE', case net_adm:ping(N) of pong -> ok; pang -> io:format(\"cannot reach ~p~n\", [N]), halt(2) end, $expr, halt(0)."
}

cmd_register() {
    local dir port prefix count password
    dir=$(absdir "${1:-}"); port=${2:?PORT missing}; prefix=${3:?PREFIX missing}
    count=${4:?COUNT missing}; password=${5:?PASSWORD missing}
    local dport=${DIST_PORT:-$((port + 1))}
    beam_pid "$dir" >/dev/null || die "not running in $dir"
    [[ "$prefix$password" =~ ^[A-Za-z0-9_.-]+$ ]] || die "PREFIX/PASSWORD: use [A-Za-z0-9_.-] only"
    [[ "$count" =~ ^[0-9]+$ ]] || die "COUNT must be a number"
    # One Erlang VM, one rpc: the loop runs inside the server, split over
    # 4 processes.  try_register returns ok or {error, exists} (re-runs are fine).
    remote_eval "$dir" "$dport" "
        P = <<\"$password\">>, Pre = <<\"$prefix\">>, C = $count, W = 4,
        Job = fun(K) -> lists:foldl(fun(I, {Ok, Ex, Er}) ->
                  U = <<Pre/binary, (integer_to_binary(I))/binary>>,
                  case ejabberd_auth:try_register(U, <<\"localhost\">>, P) of
                      ok -> {Ok + 1, Ex, Er};
                      {error, exists} -> {Ok, Ex + 1, Er};
                      _ -> {Ok, Ex, Er + 1}
                  end end, {0, 0, 0}, lists:seq(K, C - 1, W)) end,
        Run = fun() -> Self = self(),
                  [spawn_link(fun() -> Self ! {r, Job(K)} end) || K <- lists:seq(0, W - 1)],
                  lists:foldl(fun(_, {A, B, D}) -> receive {r, {X, Y, Z}} -> {A + X, B + Y, D + Z} end end,
                              {0, 0, 0}, lists:seq(1, W)) end,
        {Ok, Ex, Er} = rpc:call(N, erlang, apply, [Run, []], infinity),
        io:format(\"registered=~p existed=~p failed=~p~n\", [Ok, Ex, Er]),
        case Er of 0 -> ok; _ -> halt(1) end"
}

cmd_stop() {
    local dir pid
    dir=$(absdir "${1:-}")
    pid=$(beam_pid "$dir") || { echo "not running"; return 0; }
    stop_pid "$pid"
    rm -f "$dir/ejabberd.pid"
    echo "stopped"
}

case "${1:-}" in
    start)    shift; cmd_start "$@" ;;
    register) shift; cmd_register "$@" ;;
    pid)      shift; beam_pid "$(absdir "${1:-}")" || die "not running" ;;
    stop)     shift; cmd_stop "$@" ;;
    eval)     shift; d=$(absdir "${1:-}"); p=${2:?PORT missing}
              remote_eval "$d" "${DIST_PORT:-$((p + 1))}" "${3:?EXPR missing}" ;;
    *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
