#!/usr/bin/python3
"""Replicated rooms on a 3-node loopback cluster (docs/PERFORMANCE.md,
"Replication"; not a test). Starts its own nodes on 127.0.0.1 in a temporary
directory, with cluster TLS, `--durability wal` (as the other tables) and the
rate limits lifted.

1. throughput: for --replication 1, 2 and 3, confab-bench's rooms and dm
   workloads at fixed rates against node 1 (its users and rooms are made
   there, so node 1 owns every room and the others hold the copies); the
   deliveries/s and p99 of each step, and their ratio to N = 1.
2. wire: bytes node 1 sent to the other nodes over its cluster links (the
   kernel's tcp_info bytes_acked of its sockets, from `ss`) per message sent,
   for each N; the part per replica is (bytes(N) - bytes(1)) / (N - 1).
3. failover: N = 3; R rooms made through node 3 (so it owns them), a message
   in each; node 3 is killed (SIGKILL); one thread per room sends through
   node 1 from then on (HTTP, 1 s timeout, a retry every 20 ms with the same
   client_msg_id) until it is acknowledged: time from the kill, p50 and max.
4. catch-up: N = 3; node 3 is killed; confab-bench sends M messages into
   rooms node 1 owns (made while node 3 is down: it is in their copy sets
   all the same); node 3 starts again: time from its ready line until its
   copies took their last entry (confab_replica_entries_in_total stops
   moving).

Usage: scripts/measure_replication.py [--only throughput|failover|catchup]
       [--rooms-rates 1000,2000] [--dm-rates 1000,2000] [--failover-rooms 30]
       [--catchup-messages 100000] [--durability wal|fsync] [--workloads rooms,dm]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import measure_cluster as mc  # noqa: E402
from measure import cpu_s  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bin", "confab-bench")
WARMUP_S = 2  # seconds of unmeasured load at the first rate before the steps


DURABILITY = "wal"  # --durability of the nodes (option --durability)


def nodes(confabd, root, n_copies):
    c = mc.Nodes(confabd, root)
    c.extra = ["--replication", str(n_copies), "--durability", DURABILITY, "--rooms-per-min", "1000000",
               "--dms-per-min", "1000000"]
    return c.start_up(3)


def bench(port, pid, workload, rates, extra=(), duration=5):
    args = [BENCH, "--url", f"http://127.0.0.1:{port}", "--admin-token", mc.ADMIN, "--server-pid", str(pid),
            "--workload", workload, "--rate", rates, "--duration", str(duration), "--warmup", str(WARMUP_S),
            "--drain", "10"] + list(extra)
    out = subprocess.run(args, capture_output=True, text=True, timeout=900)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not line:
        sys.exit("confab-bench failed:\n" + out.stdout[-2000:] + out.stderr[-2000:])
    return json.loads(line[-1])


def cluster_bytes(pid, cluster_ports):
    """Bytes the process `pid` sent (and the peer acknowledged) on its TCP
    sockets to or from the cluster ports."""
    out = subprocess.run(["ss", "-tinpH"], capture_output=True, text=True).stdout
    total = 0
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if f"pid={pid}," not in line:
            continue
        if not any(f":{p} " in line + " " for p in cluster_ports):
            continue
        info = lines[i + 1] if i + 1 < len(lines) else ""
        m = re.search(r"bytes_acked:(\d+)", info)
        if m:
            total += int(m.group(1))
    return total


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def throughput(confabd, rooms_rates, dm_rates, workloads):
    rows = {}
    # a fresh cluster for every workload and N
    for workload, rates, extra in (("rooms", rooms_rates, ["--rooms", "20", "--members", "5"]),
                                   ("dm", dm_rates, ["--pairs", "100"])):
        if workload not in workloads:
            continue
        for n_copies in (1, 2, 3):
            with tempfile.TemporaryDirectory() as root:
                c = nodes(confabd, root, n_copies)
                pid = c.procs[0].pid
                before = cluster_bytes(pid, c.cluster)
                cpu_before = [cpu_s(p.pid) for p in c.procs]
                out = bench(c.http[0], pid, workload, rates, extra)
                cpu = [cpu_s(p.pid) - b for p, b in zip(c.procs, cpu_before)]
                sent_bytes = cluster_bytes(pid, c.cluster) - before
                # the warm-up's sends count too: they crossed the same links
                sent = sum(s["sent"] for s in out["steps"]) + WARMUP_S * int(rates.split(",")[0])
                rows[(workload, n_copies)] = {"steps": [(s["offered_per_s"], s["delivered_per_s"], s["p99_ms"],
                                                         s["lost"], s["errors"], s["acked_per_s"])
                                                        for s in out["steps"]],
                                              "bytes_per_message": sent_bytes / max(sent, 1),
                                              # CPU of node 1 (the owner, which serves every session)
                                              # and of the others (copies only) per message sent
                                              "owner_us_per_message": 1e6 * cpu[0] / max(sent, 1),
                                              "others_us_per_message": 1e6 * sum(cpu[1:]) / max(sent, 1)}
                c.stop()
    print("\n== throughput and p99 through node 1 of 3, by --replication ==")
    for workload in workloads:
        base = rows[(workload, 1)]
        for n_copies in (1, 2, 3):
            r = rows[(workload, n_copies)]
            for i, (offered, delivered, p99, lost, errors, acked) in enumerate(r["steps"]):
                b = base["steps"][i]
                print(f"{workload:5} N={n_copies} offered {offered:7.0f}/s delivered {delivered:8.0f}/s "
                      f"({delivered / max(b[1], 1):.2f}x N=1) p99 {p99:7.2f} ms ({p99 / max(b[2], 0.001):.2f}x N=1) "
                      f"lost {lost} (error replies {errors}, acked {acked:.0f}/s)")
        for n_copies in (1, 2, 3):
            per = rows[(workload, n_copies)]["bytes_per_message"]
            extra = "" if n_copies == 1 else \
                f", per replica {(per - base['bytes_per_message']) / (n_copies - 1):.0f}"
            print(f"{workload:5} N={n_copies} node 1 -> other nodes: {per:.0f} bytes per message sent{extra}")
        for n_copies in (1, 2, 3):
            r = rows[(workload, n_copies)]
            per_copy = "" if n_copies == 1 else \
                f", per copy on a follower {(r['others_us_per_message'] - base['others_us_per_message']) / (n_copies - 1):.0f} us"
            print(f"{workload:5} N={n_copies} CPU per message sent: node 1 {r['owner_us_per_message']:.0f} us, "
                  f"nodes 2 and 3 {r['others_us_per_message']:.0f} us{per_copy}")
    return rows


def post(port, token, rid, body, client_msg_id, timeout=1.0):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/rooms/{rid}/messages", method="POST",
                                 data=json.dumps({"body": body, "client_msg_id": client_msg_id}).encode())
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def failover(confabd, rooms_n):
    with tempfile.TemporaryDirectory() as root:
        c = nodes(confabd, root, 3)
        token = mc.user(c.http[0], "fo" + uuid.uuid4().hex[:8])
        rooms = []
        for _ in range(rooms_n):
            rid = mc.http(c.http[2], "POST", "/api/v1/rooms", {"name": "fo", "visibility": "public"}, token)["room"]["id"]
            assert post(c.http[2], token, rid, "before", "c-" + uuid.uuid4().hex, timeout=10) == 201
            rooms.append(rid)
        times = {}
        t_kill = time.monotonic()
        c.procs[2].kill()

        def writer(rid):
            cm = "c-" + uuid.uuid4().hex
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if post(c.http[0], token, rid, "after", cm) == 201:
                    times[rid] = time.monotonic() - t_kill
                    return
                time.sleep(0.02)

        threads = [threading.Thread(target=writer, args=(rid,)) for rid in rooms]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        c.kill()
    got = sorted(times.values())
    print(f"\n== failover: {len(got)} of {rooms_n} rooms of the killed node written again through node 1 ==")
    if got:
        print(f"time from SIGKILL to the first acknowledged write: p50 {statistics.median(got):.2f} s, "
              f"max {got[-1]:.2f} s")
    return got


def catchup(confabd, messages):
    with tempfile.TemporaryDirectory() as root:
        c = nodes(confabd, root, 3)
        c.procs[2].kill()
        c.procs[2].wait()
        rate = 5000
        duration = max(1, messages // rate)
        out = bench(c.http[0], c.procs[0].pid, "rooms", str(rate), ["--rooms", "20", "--members", "2"],
                    duration=duration)
        sent = sum(s["sent"] for s in out["steps"])
        # node 3 again, same id, data dir and ports
        c.procs.pop()
        port3, cport3 = c.http.pop(), c.cluster.pop()
        c.logs.pop()
        t0 = time.monotonic()
        port = restart_node3(c, port3, cport3)
        ready = time.monotonic() - t0
        t_ready = time.monotonic()
        # done once the count has not moved for 2 s (and covers the messages)
        deadline = t_ready + 300
        taken, last_change = 0.0, t_ready
        while time.monotonic() < deadline:
            now_taken = metric(port, "confab_replica_entries_in_total")
            if now_taken != taken:
                taken, last_change = now_taken, time.monotonic()
            elif taken >= sent and time.monotonic() - last_change > 2.0:
                break
            time.sleep(0.02)
        took = last_change - t_ready
        c.kill()
    print(f"\n== catch-up: node 3 was down while {sent} messages were sent into 20 rooms ==")
    print(f"restart to ready {ready:.2f} s; ready to the last entry taken {took:.2f} s "
          f"({taken:.0f} entries: the messages, the warm-up's, joins and epochs)")
    return took


def restart_node3(c, http_port, cluster_port):
    """Starts n3 again with its data dir and ports (Nodes.start picks new ones)."""
    args = [c.confabd, "--node-id", "n3", "--http-port", str(http_port), "--cluster-port", str(cluster_port),
            "--data-dir", os.path.join(c.root, "n3"), "--secret-file", c.secret, "--admin-token", mc.ADMIN,
            "--seeds", f"127.0.0.1:{c.cluster[0]}", "--cluster-ca", f"{c.certs}/ca.pem",
            "--cluster-cert", f"{c.certs}/n3.pem", "--cluster-key", f"{c.certs}/n3.key"] + mc.FAST + c.extra
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stdout.readline()
        if line.startswith("confabd ready"):
            c.procs.append(p)
            c.http.append(http_port)
            c.cluster.append(cluster_port)
            return http_port
        if not line and p.poll() is not None:
            break
    sys.exit("node n3 did not start again")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["throughput", "failover", "catchup"])
    ap.add_argument("--rooms-rates", default="1000,2000")
    ap.add_argument("--dm-rates", default="1000,2000")
    ap.add_argument("--failover-rooms", type=int, default=30)
    ap.add_argument("--catchup-messages", type=int, default=100000)
    ap.add_argument("--durability", choices=["wal", "fsync"], default="wal")
    ap.add_argument("--workloads", default="rooms,dm", help="throughput: rooms, dm or both")
    ap.add_argument("--confabd", default=os.path.join(ROOT, "build", "bin", "confabd"))
    args = ap.parse_args()
    global DURABILITY
    DURABILITY = args.durability
    result = {}
    if args.only in (None, "throughput"):
        rows = throughput(args.confabd, args.rooms_rates, args.dm_rates, args.workloads.split(","))
        result["throughput"] = {f"{w}/N={n}": r for (w, n), r in rows.items()}
    if args.only in (None, "failover"):
        result["failover_s"] = failover(args.confabd, args.failover_rooms)
    if args.only in (None, "catchup"):
        result["catchup_s"] = catchup(args.confabd, args.catchup_messages)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
