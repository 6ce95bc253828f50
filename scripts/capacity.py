#!/usr/bin/python3
"""The capacity model of docs/CAPACITY.md, from measured costs.

    scripts/capacity.py --results DIR [--replication FILE] [--disk FILE]
                        [--write docs/CAPACITY.md]

--results      the directory scripts/bench-vs-ejabberd.sh left (confab-*.json)
--replication  the JSON line scripts/measure_replication.py printed (its last
               line), for the cost of a replicated write and its bytes
--disk         a JSON object {"bytes_per_message": N, "index_bytes_per_message": N}
               (scripts/capacity.py --measure-disk prints one)
--write        replace the text between the markers
               <!-- capacity:begin --> and <!-- capacity:end --> of that file
               with the tables; without it they are printed.
--measure-disk starts a confabd, stores 400,000 messages through confab-bench,
               stops it and prints the bytes per message of its RocksDB and of
               its search index (du of the directories after a clean stop).

Every cost comes from those files; the mix of users and the node size are
assumptions, stated at the top of the tables and changeable with flags.
"""

import argparse
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure_cluster import ready_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"


def load_results(results):
    runs = {}
    for path in glob.glob(os.path.join(results, "confab-*.json")):
        name = os.path.basename(path)[len("confab-"):-len(".json")]
        text = open(path).read().strip()
        if text:
            runs[name] = json.loads(text)
    return runs


def step_near(run, fraction):
    """The step whose delivered rate is nearest `fraction` of the knee's: the
    cost per delivery where a node planned with headroom would run (it
    falls as the rate rises, because writes batch)."""
    knee = run.get("knee") or {}
    steps = [s for s in run.get("steps") or [] if not s.get("saturated") and s.get("server_us_per_delivery")]
    if not knee or not steps:
        raise SystemExit("no knee in the %s run" % run.get("workload"))
    target = fraction * knee["delivered_per_s"]
    return min(steps, key=lambda s: abs(s["delivered_per_s"] - target)), knee


def costs(args):
    runs = load_results(args.results)
    for need in ("rooms", "dm"):
        if need not in runs:
            raise SystemExit("%s: no confab-%s.json" % (args.results, need))
    idle = max((r for n, r in runs.items() if n.startswith("idle")), key=lambda r: r.get("connections", 0),
               default=None)
    if idle is None:
        raise SystemExit("%s: no idle run" % args.results)
    rooms_step, rooms_knee = step_near(runs["rooms"], args.headroom)
    dm_step, dm_knee = step_near(runs["dm"], args.headroom)
    c = {
        "machine": runs["rooms"].get("machine", {}),
        "us_per_room_delivery": rooms_step["server_us_per_delivery"],
        "rooms_step_per_s": rooms_step["delivered_per_s"],
        "rooms_knee_per_s": rooms_knee["delivered_per_s"],
        "us_per_dm": dm_step["server_us_per_delivery"],
        "dm_step_per_s": dm_step["delivered_per_s"],
        "dm_knee_per_s": dm_knee["delivered_per_s"],
        "kib_per_connection": idle["rss_per_conn_kib"],
        "idle_connections": idle["connections"],
        "us_per_login": 1e6 / idle["logins_per_s"] if idle.get("logins_per_s") else None,
        "logins_per_s": idle.get("logins_per_s"),
    }
    if args.replication:
        lines = [x for x in open(args.replication).read().splitlines() if x.startswith("{")]
        rep = json.loads(lines[-1])["throughput"]
        one, three = rep.get("rooms/N=1"), rep.get("rooms/N=3")
        dm1, dm3 = rep.get("dm/N=1"), rep.get("dm/N=3")
        if one and three and "others_us_per_message" in three:
            # nodes 2 and 3 hold copies only: their CPU per message is the
            # followers' share; node 1's extra is the owner's share.
            c["us_per_follower_write"] = (three["others_us_per_message"] - one["others_us_per_message"]) / 2
            c["us_owner_extra_per_write"] = three["owner_us_per_message"] - one["owner_us_per_message"]
            c["bytes_per_replica"] = (three["bytes_per_message"] - one["bytes_per_message"]) / 2
        if dm1 and dm3 and "others_us_per_message" in dm3:
            c["us_per_follower_write_dm"] = (dm3["others_us_per_message"] - dm1["others_us_per_message"]) / 2
    if args.disk:
        c.update(json.loads(open(args.disk).read()))
    return c


def model(c, a):
    """Nodes for a.users concurrent users of the stated mix."""
    users = a.users
    room_msgs = users * a.room_msgs_per_hour / 3600
    dm_msgs = users * a.dm_msgs_per_hour / 3600
    online_per_room = a.room_members * a.online_fraction
    big_share = a.big_room_share
    deliveries_per_room_msg = (1 - big_share) * online_per_room + big_share * a.big_room_members * a.online_fraction
    room_deliveries = room_msgs * deliveries_per_room_msg * (1 + a.typing_events_per_message)
    presence_deliveries = users * a.presence_changes_per_hour / 3600 * a.watchers
    writes = room_msgs + dm_msgs
    r = a.copies

    # CPU seconds per second (cores of this machine's kind).
    cpu = {
        "room deliveries (messages, typing)": room_deliveries * c["us_per_room_delivery"] / 1e6,
        "direct messages": dm_msgs * c["us_per_dm"] / 1e6,
        "presence events": presence_deliveries * c["us_per_room_delivery"] / 1e6,
    }
    if r > 1:
        follower = c.get("us_per_follower_write")
        owner = c.get("us_owner_extra_per_write")
        if follower is None or owner is None:
            raise SystemExit("--replication FILE is needed for --copies > 1")
        cpu["replication (owner's extra, %d followers)" % (r - 1)] = writes * (owner + (r - 1) * follower) / 1e6
    # Cross-node: with n nodes, a room message goes once to every other node
    # with online members (at most n - 1), a dm to the partner's node.
    cores_needed = sum(cpu.values())
    node_cores = a.node_cores * a.core_speed * a.scaling * a.utilisation
    nodes_cpu = cores_needed / node_cores

    conns_per_node = min(a.max_connections, a.node_fds - 2000)
    nodes_conns = users / conns_per_node
    mem_per_node_gib = a.node_ram_gib * 0.5  # half for connections, the rest for RocksDB, caches, the OS
    nodes_mem = users * c["kib_per_connection"] / (1024 * 1024) / mem_per_node_gib
    per_day = writes * 86400
    disk = None
    if "bytes_per_message" in c:
        disk = per_day * r * (c["bytes_per_message"] + c.get("index_bytes_per_message", 0))
    net_out = room_deliveries * a.frame_bytes + dm_msgs * 2 * a.frame_bytes
    net_repl = writes * (r - 1) * c.get("bytes_per_replica", 0)

    limits = {"CPU": nodes_cpu, "connections (file descriptors)": nodes_conns, "memory": nodes_mem}
    if disk is not None:
        # history kept `retention_days`, disks filled to 80 %
        limits["disk (%d days of history)" % a.retention_days] = disk * a.retention_days / (a.node_disk_tb * 1e12 * 0.8)
    first = max(limits, key=limits.get)
    # at least the copies; one spare node per `copies` so that a failure leaves enough
    nodes = max(a.copies, math.ceil(max(limits.values()) * ((1 + 1 / a.copies) if a.spare else 1)))
    # a failed node's users log in again on the others within a.relogin_s
    login_cores = users / nodes / a.relogin_s * (c["us_per_login"] or 0) / 1e6
    return {
        "room_msgs": room_msgs, "dm_msgs": dm_msgs, "room_deliveries": room_deliveries,
        "presence_deliveries": presence_deliveries, "writes": writes, "cpu": cpu, "cores_needed": cores_needed,
        "node_cores_effective": node_cores, "limits": limits, "first": first, "nodes": nodes,
        "conns_per_node": conns_per_node, "login_cores": login_cores, "disk_per_day": disk,
        "net_out": net_out, "net_repl": net_repl,
    }


def fmt(x, digits=0):
    if x is None:
        return "-"
    if digits == 0:
        return format(int(round(x)), ",")
    return format(round(x, digits), ",.%df" % digits)


def tables(c, a, m):
    out = []
    mach = c.get("machine") or {}
    out.append("Generated by `scripts/capacity.py` from the runs named below; edit the flags, not these tables.\n")
    out.append("### Measured costs (one core of this machine: %s cores, %s)\n" % (
        mach.get("nproc", "?"), (mach.get("cpu") or "?").strip()))
    out.append("| cost | value | from |")
    out.append("| --- | --- | --- |")
    out.append("| CPU per room delivery | %s us | rooms step at %s/s (knee %s/s) |" % (
        fmt(c["us_per_room_delivery"], 1), fmt(c["rooms_step_per_s"]), fmt(c["rooms_knee_per_s"])))
    out.append("| CPU per direct message | %s us | dm step at %s/s (knee %s/s) |" % (
        fmt(c["us_per_dm"], 1), fmt(c["dm_step_per_s"]), fmt(c["dm_knee_per_s"])))
    out.append("| CPU per login (token) | %s us | idle run, %s logins/s on one core |" % (
        fmt(c["us_per_login"], 1), fmt(c["logins_per_s"])))
    out.append("| memory per idle connection | %s KiB | idle run of %s connections |" % (
        fmt(c["kib_per_connection"], 1), fmt(c["idle_connections"])))
    if "us_per_follower_write" in c:
        out.append("| CPU per replicated write, each follower | %s us | measure_replication.py, rooms, N = 3 against 1 |"
                   % fmt(c["us_per_follower_write"], 1))
        out.append("| CPU per replicated write, owner's extra | %s us | the same |" % fmt(c["us_owner_extra_per_write"], 1))
        out.append("| bytes per write per follower | %s | the same (node 1's cluster sockets) |" % fmt(c["bytes_per_replica"]))
    if "bytes_per_message" in c:
        out.append("| disk per stored message (RocksDB, an upper bound: most still in the write-ahead log) | %s bytes | `--measure-disk` (%s messages, 100-byte bodies) |" % (
            fmt(c["bytes_per_message"]), fmt(c.get("messages"))))
        out.append("| disk per stored message (search index) | %s bytes | `--measure-disk` |"
                   % fmt(c.get("index_bytes_per_message")))
    out.append("")
    out.append("### The mix (assumptions)\n")
    out.append("| | |")
    out.append("| --- | --- |")
    out.append("| concurrent users, one connection each | %s |" % fmt(a.users))
    out.append("| room messages per user per peak hour | %s, in rooms of %s members, %d %% of them online |" % (
        fmt(a.room_msgs_per_hour, 1), fmt(a.room_members), int(a.online_fraction * 100)))
    out.append("| of which in big rooms | %d %%, rooms of %s members |" % (int(a.big_room_share * 100),
                                                                      fmt(a.big_room_members)))
    out.append("| typing events per message, to the same members | %s |" % fmt(a.typing_events_per_message, 1))
    out.append("| direct messages per user per peak hour | %s |" % fmt(a.dm_msgs_per_hour, 1))
    out.append("| presence changes per user per hour, watchers each | %s, %s |" % (
        fmt(a.presence_changes_per_hour, 1), fmt(a.watchers)))
    out.append("| copies of each room (`--replication`) | %d |" % a.copies)
    out.append("| node | %d cores at %s x this machine's core, %d GiB, %s TB of disk, %s open files; planned at %d %% CPU, %d %% parallel efficiency |" % (
        a.node_cores, fmt(a.core_speed, 1), a.node_ram_gib, fmt(a.node_disk_tb, 1), fmt(a.node_fds),
        int(a.utilisation * 100), int(a.scaling * 100)))
    out.append("| connections per node (`--max-connections`) | %s (measured here up to 19,000 on one node) |" % fmt(a.max_connections))
    out.append("| history kept | %s days |" % fmt(a.retention_days))
    out.append("")
    out.append("### The load and the nodes it needs\n")
    out.append("| | |")
    out.append("| --- | --- |")
    out.append("| room messages/s, deliveries/s | %s, %s |" % (fmt(m["room_msgs"]), fmt(m["room_deliveries"])))
    out.append("| direct messages/s | %s |" % fmt(m["dm_msgs"]))
    out.append("| presence deliveries/s | %s |" % fmt(m["presence_deliveries"]))
    for k, v in m["cpu"].items():
        out.append("| cores for %s | %s |" % (k, fmt(v, 1)))
    out.append("| cores in all (this machine's) | %s |" % fmt(m["cores_needed"], 1))
    out.append("| one node's usable cores | %s |" % fmt(m["node_cores_effective"], 1))
    for k, v in m["limits"].items():
        out.append("| nodes by %s | %s |" % (k, fmt(v, 1)))
    out.append("| **first bottleneck** | **%s** |" % m["first"])
    out.append("| **nodes** | **%d**%s |" % (m["nodes"], " (with one spare per %d for failures)" % a.copies
                                             if a.spare else ""))
    out.append("| connections per node | at most %s |" % fmt(m["conns_per_node"]))
    out.append("| cores the other nodes need, together, for one failed node's users to log in again within %d s | %s |" % (
        a.relogin_s, fmt(m["login_cores"], 1)))
    if m["disk_per_day"] is not None:
        out.append("| disk per day, all copies | %s GB (%s GB a node) |" % (
            fmt(m["disk_per_day"] / 1e9, 1), fmt(m["disk_per_day"] / 1e9 / m["nodes"], 1)))
    out.append("| client traffic out, all nodes | %s MB/s |" % fmt(m["net_out"] / 1e6, 1))
    if m["net_repl"]:
        out.append("| replication traffic, all nodes | %s MB/s |" % fmt(m["net_repl"] / 1e6, 1))
    return "\n".join(out) + "\n"


def measure_disk(messages):
    """Bytes per stored message: a confabd, `messages` stored, a clean stop."""
    bench = os.path.join(ROOT, "build", "bin", "confab-bench")
    confabd = os.path.join(ROOT, "build", "bin", "confabd")
    tmp = tempfile.mkdtemp(prefix="confab-disk-")
    try:
        token = "capacity-admin-token-0001"
        p = subprocess.Popen([confabd, "--bind", "127.0.0.1", "--http-port", "0", "--data-dir",
                              os.path.join(tmp, "data"), "--admin-token", token, "--log-level", "warn",
                              "--rate-per-s", "1000000", "--rate-burst", "1000000"],
                             stdout=subprocess.PIPE, text=True)
        port = ready_port(p)
        if port is None:
            raise SystemExit("confabd did not start")
        subprocess.run([bench, "--url", "http://127.0.0.1:%d" % port, "--admin-token", token, "--workload",
                        "history", "--history-messages", str(messages), "--history-clients", "1", "--duration",
                        "1"], check=True, capture_output=True, timeout=900)
        # the search index catches up at its own pace: wait until its size stops moving
        search = os.path.join(tmp, "data", "search")
        last = -1
        for _ in range(120):
            size = du(search)
            if size == last:
                break
            last = size
            time.sleep(1)  # bounded: 120 polls
        p.terminate()
        p.wait(timeout=60)
        total = du(os.path.join(tmp, "data"))
        index = du(search)
        files = du(os.path.join(tmp, "data", "files"))
        # An upper bound: RocksDB keeps its write-ahead logs (*.log) until
        # every column family has flushed, so at the stop most messages are
        # still in the logs (about 710 bytes each, uncompressed) and the rest
        # in compressed table files (*.sst); a node that has run for a while
        # holds nearly all of its history in table files.
        wal = du(os.path.join(tmp, "data"), lambda n: n.endswith(".log") and n[:1].isdigit())
        sst = du(os.path.join(tmp, "data"), lambda n: n.endswith(".sst"))
        return {"bytes_per_message": (total - index - files) / messages,
                "index_bytes_per_message": index / messages, "wal_bytes_at_stop": wal, "sst_bytes": sst,
                "messages": messages}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def du(path, which=lambda name: True):
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            if not which(n):
                continue
            try:
                total += os.path.getsize(os.path.join(dirpath, n))
            except OSError:
                pass
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results")
    ap.add_argument("--replication", help="measure_replication.py's output")
    ap.add_argument("--disk", help="--measure-disk's output")
    ap.add_argument("--write")
    ap.add_argument("--measure-disk", type=int, nargs="?", const=400000, metavar="MESSAGES")
    ap.add_argument("--headroom", type=float, default=0.5, help="costs at this fraction of the knee")
    ap.add_argument("--users", type=float, default=1e6)
    ap.add_argument("--room-msgs-per-hour", type=float, default=6)
    ap.add_argument("--room-members", type=float, default=50)
    ap.add_argument("--online-fraction", type=float, default=0.5)
    ap.add_argument("--big-room-share", type=float, default=0.01)
    ap.add_argument("--big-room-members", type=float, default=5000)
    ap.add_argument("--typing-events-per-message", type=float, default=1)
    ap.add_argument("--dm-msgs-per-hour", type=float, default=6)
    ap.add_argument("--presence-changes-per-hour", type=float, default=2)
    ap.add_argument("--watchers", type=float, default=20)
    ap.add_argument("--copies", type=int, default=3, help="--replication of the cluster")
    ap.add_argument("--node-cores", type=int, default=32)
    ap.add_argument("--core-speed", type=float, default=1.0, help="a node's core against this machine's")
    ap.add_argument("--node-ram-gib", type=int, default=128)
    ap.add_argument("--node-disk-tb", type=float, default=4)
    ap.add_argument("--retention-days", type=float, default=90, help="history kept on the nodes")
    ap.add_argument("--node-fds", type=int, default=1048576, help="LimitNOFILE of the node")
    ap.add_argument("--max-connections", type=int, default=200000, help="--max-connections of each node")
    ap.add_argument("--utilisation", type=float, default=0.6)
    ap.add_argument("--scaling", type=float, default=0.7, help="parallel efficiency over the node's cores")
    ap.add_argument("--relogin-s", type=float, default=60)
    ap.add_argument("--no-spare", dest="spare", action="store_false", help="no spare nodes for failures")
    ap.add_argument("--frame-bytes", type=float, default=350, help="a message event on the wire")
    a = ap.parse_args()
    if a.measure_disk:
        print(json.dumps(measure_disk(a.measure_disk)))
        return
    if not a.results:
        ap.error("--results is required")
    c = costs(a)
    text = tables(c, a, model(c, a))
    if not a.write:
        sys.stdout.write(text)
        return
    doc = open(a.write).read()
    if BEGIN not in doc or END not in doc:
        raise SystemExit("%s has no %s ... %s markers" % (a.write, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(a.write, "w") as f:
        f.write(head + BEGIN + "\n" + text + END + tail)
    print("wrote %s" % a.write)


if __name__ == "__main__":
    main()
