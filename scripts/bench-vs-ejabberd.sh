#!/usr/bin/env bash
# Confab, ejabberd and Prosody side by side: the same workloads, driven by
# the same client (confab-bench, pinned to CPU 1) against each server in turn
# (pinned to CPU 0), a fresh server for every workload. Prints each result,
# the ratios Confab / ejabberd and Confab / Prosody, and ends with one JSON line:
#   {"workloads": {...}, "confab": {...}, "ejabberd": {...}, "ratio": {...},
#    "prosody": {...}, "ratio_prosody": {...}}
# ("ratio" is Confab / ejabberd, "ratio_prosody" Confab / Prosody.)
#
#   scripts/bench-vs-ejabberd.sh [--quick] [--only confab,ejabberd,prosody] [--out DIR]
#                                [--workloads rooms,dm] [--durability fsync|wal]
#                                [--replication N]
#
# --quick runs smaller workloads with short steps (about 5 minutes for all
# three servers); --only runs some servers (a comma list, default all three);
# --workloads picks some; --durability is confabd's (default fsync);
# --replication is confabd's (its default: 3, one copy on a lone node). Every
# server listens on 127.0.0.1 only. ejabberd and Prosody come from Debian
# (scripts/ejabberd/, scripts/prosody/); neither runs history (the bench's
# XMPP mode has none). docs/PERFORMANCE.md explains the method.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
only=""
out=""
pick=""
durability=fsync
replication=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --out) out=$2; shift ;;
    --workloads) pick=$2; shift ;;
    --durability) durability=$2; shift ;;
    --replication) replication=$2; shift ;;
    *) echo "usage: $0 [--quick] [--only confab,ejabberd,prosody] [--out DIR] [--workloads a,b] [--durability fsync|wal] [--replication N]" >&2
       exit 2 ;;
  esac
  shift
done
# --only: one server or a comma list; empty means all three.
IFS=, read -r -a only_list <<<"$only"
for s in "${only_list[@]}"; do
  [[ $s == confab || $s == ejabberd || $s == prosody ]] || { echo "unknown server $s (confab, ejabberd, prosody)" >&2; exit 2; }
done
wanted() { [[ -z $only || ",$only," == *",$1,"* ]]; }
out=${out:-$(mktemp -d /tmp/confab-vs-ejabberd.XXXXXX)}
mkdir -p "$out"

scripts/deps.sh >&2
TARGETS="confabd confab-bench" scripts/build.sh >&2
bench=$root/build/bin/confab-bench
confabd=$root/build/bin/confabd

# Workloads: name and confab-bench flags. Steps are open loop; a max search
# stops at the first saturated step (delivered < 90 % of offered, p99 over
# 100 ms, or a lost message).
if [[ $quick == 1 ]]; then
  step="--duration 3 --warmup 1 --drain 10 --max-steps 8"
  names=(idle rooms dm bigroom)
  # bigroom has 500 members here (1,000 before Prosody joined: filling a room
  # costs n^2 presences, which took Prosody about a minute at 1,000) and
  # starts at 20 sends/s, the same 10,000 offered deliveries/s as before.
  declare -A flags=(
    [idle]="--workload idle --connections 2000 --members 50 --duration 3"
    [rooms]="--workload rooms --rooms 20 --members 50 --rate max --start-rate 100 --factor 1.6 $step"
    [dm]="--workload dm --pairs 200 --rate max --start-rate 1000 --factor 1.6 $step"
    [bigroom]="--workload bigroom --members 500 --rate max --start-rate 20 --factor 1.6 $step"
  )
  xmpp_users=2000   # the most any quick workload logs in
else
  step="--duration 10 --warmup 3 --drain 20 --max-steps 12"
  names=(idle5k idle10k idle19k rooms dm bigroom history)
  declare -A flags=(
    [idle5k]="--workload idle --connections 5000 --members 50 --duration 10"
    [idle10k]="--workload idle --connections 10000 --members 50 --duration 10"
    [idle19k]="--workload idle --connections 19000 --members 50 --duration 10"
    [rooms]="--workload rooms --rooms 100 --members 50 --rate max --start-rate 200 --factor 1.4 ${step/--max-steps 12/--max-steps 16}"
    [dm]="--workload dm --pairs 1000 --rate max --start-rate 2000 --factor 1.4 $step"
    [bigroom]="--workload bigroom --members 5000 --rate max --start-rate 2 --factor 1.4 ${step/--max-steps 12/--max-steps 15}"
    [history]="--workload history --history-messages 100000 --history-clients 1000 --duration 10"
  )
  xmpp_users=20000
fi
if [[ -n $pick ]]; then
  IFS=, read -r -a names <<<"$pick"
  for n in "${names[@]}"; do
    [[ -n ${flags[$n]:-} ]] || { echo "unknown workload $n" >&2; exit 2; }
  done
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    if port_free "$p" && port_free $((p + 1)); then echo "$p"; return; fi
  done
  echo "no free port near $1" >&2; exit 1
}

# One workload against a fresh confabd: one actor thread and one Asio thread
# on CPU 0, --durability as given (fsync: group commit), logs at warning, the
# per-session rate limit lifted (the load is the point).
run_confab() {
  local name=$1 dir=$out/confab-$name port token pid
  rm -rf "$dir"; mkdir -p "$dir"
  port=$(pick_port 18600)
  token=bench-admin-token-$RANDOM$RANDOM
  (ulimit -n 20000 2>/dev/null || true
   exec taskset -c 0 "$confabd" --bind 127.0.0.1 --http-port "$port" --data-dir "$dir/data" --admin-token "$token" \
     --actor-threads 1 --io-threads 1 --log-level warn --rate-per-s 1000000 --rate-burst 1000000 \
     --durability "$durability" --replication "$replication" \
     >"$dir/stdout" 2>"$dir/stderr") &
  pid=$!
  # Its ready line, or its exit, or 60 s.
  if ! timeout 60 grep -m1 -q '^confabd ready' <(tail -n +1 -F --pid="$pid" "$dir/stdout" 2>/dev/null); then
    echo "confabd did not start: $(cat "$dir/stderr")" >&2
    kill -KILL "$pid" 2>/dev/null || true
    return 1
  fi
  taskset -c 1 "$bench" --url "http://127.0.0.1:$port" --admin-token "$token" --server-pid "$pid" \
    --label confab ${flags[$name]} | tee "$dir/bench.out" >&2 || true
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep '^{' "$dir/bench.out" | tail -1 >"$out/confab-$name.json" || true
}

# The same workload against a fresh ejabberd (scripts/ejabberd/), its users
# registered in bulk first.
run_ejabberd() {
  local name=$1 dir=$out/ejabberd-$name port pid users
  rm -rf "$dir"; mkdir -p "$dir"
  port=$(pick_port 15600)
  TASKSET="taskset -c 0" scripts/ejabberd/ejabberd.sh start "$dir" "$port" >"$dir/start.out"
  pid=$(scripts/ejabberd/ejabberd.sh pid "$dir")
  users=$xmpp_users
  scripts/ejabberd/ejabberd.sh register "$dir" "$port" u "$users" bench-password >"$dir/register.out"
  taskset -c 1 "$bench" --protocol xmpp --url "http://127.0.0.1:$port" --password bench-password --prefix u \
    --server-pid "$pid" --label ejabberd ${flags[$name]} | tee "$dir/bench.out" >&2 || true
  scripts/ejabberd/ejabberd.sh stop "$dir" >/dev/null 2>&1 || true
  grep '^{' "$dir/bench.out" | tail -1 >"$out/ejabberd-$name.json" || true
}

# The same workload against a fresh Prosody (scripts/prosody/): one Lua
# process on CPU 0, its accounts written in bulk first. Rooms of more than
# 1,000 members get ejabberd's treatment of them (max_users_presence 1000):
# no occupant's presence is broadcast but the creator's. Prosody has no such
# threshold, and filling a room of 5,000 would otherwise take it some 25
# million presences. Even so each join still builds every occupant's
# presence before dropping it (O(n) CPU a join: 1,200 joins took 17 s here,
# so 5,000 may take 5 minutes), so such a run gets 900 s for its setup. The
# stop after the bench is bounded at 10 s: Prosody is still broadcasting the
# departures of the bench's occupants by then, and nothing it keeps outlives
# the run.
run_prosody() {
  local name=$1 dir=$out/prosody-$name port pid members presence="moderator, participant, visitor" extra=""
  rm -rf "$dir"; mkdir -p "$dir"
  port=$(pick_port 16600)
  members=$(sed -n 's/.*--members \([0-9]*\).*/\1/p' <<<"${flags[$name]}")
  if [[ ${members:-0} -gt 1000 ]]; then
    presence=moderator
    extra="--setup-timeout 900"
    echo "prosody $name: rooms of $members, presence broadcast only for the room's creator (as ejabberd above 1,000)" >&2
  fi
  pid=$(TASKSET="taskset -c 0" PRESENCE_BROADCAST="$presence" scripts/prosody/prosody.sh start "$dir" "$port" 2>"$dir/start.err") \
    || { echo "prosody did not start: $(cat "$dir/start.err")" >&2; return 1; }
  scripts/prosody/prosody.sh register "$dir" "$port" u "$xmpp_users" bench-password >"$dir/register.out"
  taskset -c 1 "$bench" --protocol xmpp --url "http://127.0.0.1:$port" --password bench-password --prefix u \
    --server-pid "$pid" --label prosody ${flags[$name]} $extra | tee "$dir/bench.out" >&2 || true
  STOP_TIMEOUT=10 scripts/prosody/prosody.sh stop "$dir" >/dev/null 2>&1 || true
  grep '^{' "$dir/bench.out" | tail -1 >"$out/prosody-$name.json" || true
}

echo "machine: $(nproc) cores, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" >&2
for name in "${names[@]}"; do
  for xmpp in ejabberd prosody; do
    wanted "$xmpp" || continue
    if [[ $name == history* ]]; then
      echo "== $xmpp $name: not run (the XMPP mode has no history call; see docs/PERFORMANCE.md)" >&2
    else
      echo "== $xmpp $name" >&2
      "run_$xmpp" "$name"
    fi
  done
  if wanted confab; then
    echo "== confab $name" >&2
    run_confab "$name"
  fi
done

# The summary: one row per workload and server, the ratios, and the JSON line.
workloads_json=$(for n in "${names[@]}"; do printf '%s\t%s\n' "$n" "${flags[$n]}"; done)
OUT="$out" NAMES="${names[*]}" WORKLOADS="$workloads_json" /usr/bin/python3 - <<'EOF'
import json, os, sys

out, names = os.environ["OUT"], os.environ["NAMES"].split()
workloads = dict(line.split("\t", 1) for line in os.environ["WORKLOADS"].splitlines() if line)

def load(server, name):
    try:
        with open(os.path.join(out, "%s-%s.json" % (server, name))) as f:
            return json.loads(f.read().strip() or "null")
    except (OSError, ValueError):
        return None

def summary(r):
    """The figures compared: the knee of a step search, or the idle readings."""
    if not r:
        return None
    if r["workload"] == "idle":
        return {k: r.get(k) for k in ("connections", "connect_per_s", "logins_per_s", "rss_per_conn_kib",
                                      "server_rss_kib")}
    k = r.get("knee") or {}
    last = (r.get("steps") or [{}])[-1]
    return {"delivered_per_s": k.get("delivered_per_s"), "offered_per_s": k.get("offered_per_s"),
            "p50_ms": k.get("p50_ms"), "p99_ms": k.get("p99_ms"), "p999_ms": k.get("p999_ms"),
            "max_ms": k.get("max_ms"), "server_us_per_delivery": k.get("server_us_per_delivery"),
            "client_bound": k.get("client_bound"), "lost": k.get("lost"),
            "saturated_at_delivered_per_s": last.get("delivered_per_s") if last.get("saturated") else None,
            "rss_per_conn_kib": k.get("rss_per_conn_kib")}

def ratio(a, b):
    if not a or not b:
        return None
    out = {}
    for key, va in a.items():
        vb = b.get(key)
        if isinstance(va, (int, float)) and not isinstance(va, bool) and isinstance(vb, (int, float)) and vb:
            out[key] = round(va / vb, 3)
    return out

confab = {n: summary(load("confab", n)) for n in names}
ejabberd = {n: summary(load("ejabberd", n)) for n in names}
prosody = {n: summary(load("prosody", n)) for n in names}
ratios = {n: ratio(confab[n], ejabberd[n]) for n in names}
ratios_prosody = {n: ratio(confab[n], prosody[n]) for n in names}

cols = ("delivered_per_s", "p99_ms", "server_us_per_delivery", "rss_per_conn_kib", "logins_per_s")
print("%-10s %-9s %14s %9s %10s %12s %10s" % ("workload", "server", "delivered/s", "p99 ms", "us/deliv",
                                            "KiB/conn", "logins/s"))
for n in names:
    for label, s in (("confab", confab[n]), ("ejabberd", ejabberd[n]), ("ratio", ratios[n]),
                     ("prosody", prosody[n]), ("ratio_pro", ratios_prosody[n])):
        if s is None:
            print("%-10s %-9s %s" % (n, label, "not run"))
            continue
        cells = []
        for c in cols:
            v = s.get(c)
            cells.append("-" if v is None else ("%.2f" % v if isinstance(v, float) else str(v)))
        print("%-10s %-9s %14s %9s %10s %12s %10s" % (n, label, *cells))
print("ratio = confab / ejabberd, ratio_pro = confab / prosody", file=sys.stderr)
print(json.dumps({"workloads": workloads, "confab": confab, "ejabberd": ejabberd, "ratio": ratios,
                  "prosody": prosody, "ratio_prosody": ratios_prosody}))
EOF
echo "raw results: $out (pictures: scripts/bench-plot.py $out)" >&2
