#!/usr/bin/env bash
# A local cluster on loopback, each node with its own data dir and ports.
#
#   scripts/cluster.sh up N    starts N nodes (node 1 first, the others join through it)
#   scripts/cluster.sh add     starts one more node, which joins the running cluster
#   scripts/cluster.sh status  lists the members as node 1 sees them
#   scripts/cluster.sh down    stops every node (SIGTERM; sockets close with 4000)
#
# Node i listens on HTTP port $CONFAB_HTTP_BASE+i and cluster port
# $CONFAB_CLUSTER_BASE+i (defaults 8080 and 9080, so node 1 is 8081/9081).
# Everything lives under $CONFAB_CLUSTER_DIR (default ./cluster-data): the shared
# secret, the admin token, the cluster CA and node certificates (certs/, made by
# confabctl cert on first use; node links are mutual TLS), one data dir, log and
# pid file per node. Data is kept across down/up; delete the directory to start
# afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CONFAB_CLUSTER_DIR:-./cluster-data}
http_base=${CONFAB_HTTP_BASE:-8080}
cluster_base=${CONFAB_CLUSTER_BASE:-9080}
bin=build/bin/confabd
ctl=build/bin/confabctl

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

running() { [[ -f "$dir/n$1.pid" ]] && kill -0 "$(cat "$dir/n$1.pid")" 2>/dev/null; }

# Starts node $1 and waits (bounded) for its ready line.
start_node() {
  local i=$1 seeds=()
  if running "$i"; then
    echo "node n$i is already running (pid $(cat "$dir/n$i.pid"))"
    return
  fi
  [[ $i -gt 1 ]] && seeds=(--seeds "127.0.0.1:$((cluster_base + 1))")
  [[ -f "$dir/certs/n$i.pem" ]] || "$ctl" cert node --dir "$dir/certs" --node-id "n$i" --host 127.0.0.1 >/dev/null
  : >"$dir/n$i.log"
  "$bin" --bind 127.0.0.1 --cluster-bind 127.0.0.1 --node-id "n$i" --data-dir "$dir/n$i" \
    --http-port $((http_base + i)) --cluster-port $((cluster_base + i)) "${seeds[@]}" \
    --cluster-ca "$dir/certs/ca.pem" --cluster-cert "$dir/certs/n$i.pem" --cluster-key "$dir/certs/n$i.key" \
    --secret-file "$dir/secret" --admin-token-file "$dir/admin-token" >"$dir/n$i.log" 2>&1 &
  echo $! >"$dir/n$i.pid"
  for _ in $(seq 1 600); do
    if grep -q '^confabd ready ' "$dir/n$i.log"; then
      echo "n$i: http://127.0.0.1:$((http_base + i))/  (cluster port $((cluster_base + i)), log $dir/n$i.log)"
      return
    fi
    if ! running "$i"; then
      echo "node n$i failed to start:" >&2
      tail -n 20 "$dir/n$i.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "node n$i did not become ready within 60 s; see $dir/n$i.log" >&2
  exit 1
}

# Highest node number that has a data dir.
last_node() {
  local n=0
  for d in "$dir"/n*/; do
    [[ -d $d ]] || continue
    d=${d%/}
    n=$(( ${d##*/n} > n ? ${d##*/n} : n ))
  done
  echo "$n"
}

prepare() {
  scripts/deps.sh
  scripts/build.sh
  mkdir -p "$dir"
  [[ -f "$dir/secret" ]] || (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$dir/secret" && echo >>"$dir/secret")
  [[ -f "$dir/admin-token" ]] || (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$dir/admin-token")
  # The cluster CA signs each node's certificate; a real deployment keeps
  # certs/ca.key off the nodes (docs/OPERATIONS.md).
  [[ -f "$dir/certs/ca.pem" ]] || "$ctl" cert ca --dir "$dir/certs" >/dev/null
}

case "${1:-}" in
  up)
    n=${2:-3}
    [[ $n =~ ^[1-9][0-9]*$ ]] || usage
    prepare
    for i in $(seq 1 "$n"); do start_node "$i"; done
    echo "admin token: $(cat "$dir/admin-token")"
    echo "grow it by one node: scripts/cluster.sh add"
    ;;
  add)
    prepare
    running 1 || { echo "node n1 is not running: scripts/cluster.sh up N first" >&2; exit 1; }
    start_node $(( $(last_node) + 1 ))
    ;;
  status)
    # the token goes through a pipe, not the command line that ps shows
    printf "Authorization: Bearer %s\n" "$(cat "$dir/admin-token")" |
      curl -fsS -H @- "http://127.0.0.1:$((http_base + 1))/admin/api/v1/nodes"
    echo
    ;;
  down)
    for f in "$dir"/n*.pid; do
      [[ -f $f ]] || continue
      pid=$(cat "$f")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$f"
    done
    echo "cluster stopped (data kept in $dir)"
    ;;
  *) usage ;;
esac
