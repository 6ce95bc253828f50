# Sourced by the peers' scripts (scripts/ejabberd/, scripts/prosody/).
#
# install_without_service PKG: installs Debian package PKG when it is
# missing without letting its system service start (a policy-rc.d that
# denies starts, only while installing, unless one is there already), then
# makes sure the packaged service is neither enabled nor running: the
# scripts run their own private instances.
install_without_service() {
    local pkg=$1 made_policy=0
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >&2
        if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    fi
    systemctl disable "$pkg" >/dev/null 2>&1 || true
    systemctl stop "$pkg" >/dev/null 2>&1 || true
}

# stop_pid PID: SIGTERM (both servers stop gracefully on it), up to
# STOP_TIMEOUT (default 30) seconds for it to go, then SIGKILL and 5 s more.
stop_pid() {
    local pid=$1 deadline
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + ${STOP_TIMEOUT:-30}))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "graceful stop timed out; killing $pid" >&2
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    fi
}
