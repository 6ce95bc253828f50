#!/usr/bin/python3
"""Rough cluster figures on this machine (not a test; confab-bench measures
one node, docs/PERFORMANCE.md). Starts its own nodes on 127.0.0.1 in a
temporary directory.

1. fanout: node-to-node event copies per room message, for a room on node 1
   whose members are online on 1, 2 or 3 nodes (and with 30 members online on
   one other node): the room node's `remote_copies` counter over the messages.
2. handoff: 3 nodes, R rooms with a few messages each; a client keeps sending
   to every room (acked, retried with the same client_msg_id) while node 4
   joins. Reports how many rooms moved, how long each was unavailable (from
   the nodes' "handed off ... in N ms" log lines: fence to drop), the slowest
   acknowledged send during the join, and checks every room's history.
3. throughput: P client processes, each with a sender and a receiver in its
   own room, send N messages each (window of unacked sends); all on one node,
   then spread over a 3-node cluster (client i on node i % 3, its room owned
   there). The machine has 2 cores shared by servers and clients.
4. crossnode: 3 nodes; P client processes, each with a sender on one node, a
   receiver on another and a room owned by the third, so that every message
   crosses two node links (send to the owner, event to the receiver's hub).
5. formation: time from starting node 1 until 3 nodes list each other as up
   (median of 3 runs).

Nodes get a cluster CA and certificates (confabctl cert, beside confabd);
--plain starts them without (for a build from before mutual TLS).

Usage: scripts/measure_cluster.py [--only fanout|handoff|throughput|crossnode|formation] [--plain]
"""
import argparse
import atexit
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import measure  # noqa: E402
from measure import http, user, connect  # noqa: E402

ADMIN = "measure-admin-token-0123456789"
FAST = ["--rate-per-s", "1000000", "--rate-burst", "1000000", "--login-ip-attempts", "1000000",
        "--login-user-failures", "1000000", "--register-per-min", "1000000"]


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PLAIN = False  # --plain: nodes of a build without cluster TLS


def ready_port(p, timeout=60):
    """The HTTP port of confabd process `p` (stdout a pipe, text) from its
    ready line; None when it exits or the timeout passes first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = p.stdout.readline()
        if line.startswith("confabd ready"):
            return int(line.split("http=")[1].split()[0])
        if not line and p.poll() is not None:
            return None
    return None


class Nodes:
    def __init__(self, confabd, root):
        self.confabd, self.root = confabd, root
        self.secret = os.path.join(root, "secret")
        with open(self.secret, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        self.certs = os.path.join(root, "certs")
        self.ctl = os.path.join(os.path.dirname(confabd), "confabctl")
        if not PLAIN:
            subprocess.run([self.ctl, "cert", "ca", "--dir", self.certs], check=True, stdout=subprocess.DEVNULL)
        self.procs, self.http, self.cluster, self.logs = [], [], [], []
        self.extra = []  # more flags for every node
        atexit.register(self.kill)  # no node outlives the script, even on an error

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()

    def start(self, seed=True):
        i = len(self.procs) + 1
        cport = free_port()
        args = [self.confabd, "--node-id", f"n{i}", "--http-port", "0", "--cluster-port", str(cport),
                "--data-dir", os.path.join(self.root, f"n{i}"), "--secret-file", self.secret,
                "--admin-token", ADMIN, "--log-level", "info"] + FAST + self.extra
        if seed and self.cluster:
            args += ["--seeds", f"127.0.0.1:{self.cluster[0]}"]
        if not PLAIN:
            subprocess.run([self.ctl, "cert", "node", "--dir", self.certs, "--node-id", f"n{i}"], check=True,
                           stdout=subprocess.DEVNULL)
            args += ["--cluster-ca", f"{self.certs}/ca.pem", "--cluster-cert", f"{self.certs}/n{i}.pem",
                     "--cluster-key", f"{self.certs}/n{i}.key"]
        log = open(os.path.join(self.root, f"n{i}.log"), "w")
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        port = ready_port(p)
        if port is None:
            sys.exit(f"node n{i} did not start")
        self.procs.append(p)
        self.http.append(port)
        self.cluster.append(cport)
        self.logs.append(log.name)
        return port

    def nodes(self, k=0):
        req = __import__("urllib.request").request.Request(
            f"http://127.0.0.1:{self.http[k]}/admin/api/v1/nodes", headers={"Authorization": "Bearer " + ADMIN})
        with __import__("urllib.request").request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())["nodes"]

    def start_up(self, n):
        """Starts n nodes (the first is every other's seed) and waits until all list n up."""
        for _ in range(n):
            self.start()
        self.wait_up(n)
        return self

    def wait_up(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(sum(1 for x in self.nodes(k) if x["status"] == "up") == n for k in range(len(self.procs))):
                return
            time.sleep(0.05)
        sys.exit(f"cluster did not converge on {n} nodes")

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=30)


def counters(nodes, node_id):
    return next(x for x in nodes.nodes() if x["id"] == node_id)


def fanout(confabd):
    with tempfile.TemporaryDirectory() as root:
        c = Nodes(confabd, root).start_up(3)
        owner = user(c.http[0], "fan_owner")
        room = http(c.http[0], "POST", "/api/v1/rooms", {"name": "fan", "visibility": "public"}, owner)["room"]["id"]
        tokens = []
        for i in range(32):
            t = user(c.http[i % 3], f"fan_{i}")
            http(c.http[i % 3], "POST", f"/api/v1/rooms/{room}/join", None, t)
            tokens.append(t)
        sender = connect(c.http[0], owner)
        msg_id = [10]

        def burst(n):
            for _ in range(n):
                msg_id[0] += 1
                sender.send(json.dumps({"op": "send", "id": msg_id[0], "room": room, "body": "x" * 100,
                                        "client_msg_id": f"f{msg_id[0]}"}))
            acks = 0
            while acks < n:
                if json.loads(sender.recv())["op"] == "ok":
                    acks += 1

        def measure(label, online, n=200):
            socks = [connect(c.http[k], tok) for k, tok in online]
            # A node whose last member went offline stops getting events when
            # its hub's answer to the next event arrives: warm up first.
            burst(20)
            before = counters(c, "n1")
            burst(n)
            after = counters(c, "n1")
            copies = after["remote_copies"] - before["remote_copies"]
            events = after["room_events"] - before["room_events"]
            print(f"  {label}: {copies / events:.2f} node-to-node copies per room message "
                  f"({copies} copies for {events} events)")
            for s in socks:
                s.close()

        print("fan-out (room on n1):")
        measure("members online on n1 only", [])
        measure("members online on n1 and n2", [(1, tokens[1])])
        measure("members online on n1, n2 and n3", [(1, tokens[1]), (2, tokens[2])])
        measure("members online on n1 and 33 sessions on n2", [(1, tokens[i]) for i in range(1, 32, 3)] * 3)
        c.stop()


def handoff(confabd, rooms_n, per_room):
    with tempfile.TemporaryDirectory() as root:
        c = Nodes(confabd, root).start_up(3)
        tok = user(c.http[0], "mover")
        rooms = [http(c.http[i % 3], "POST", "/api/v1/rooms", {"name": f"m{i}", "visibility": "public"}, tok)
                 ["room"]["id"] for i in range(rooms_n)]
        ws = connect(c.http[1], tok)
        acked = {r: [] for r in rooms}
        slowest = [0.0]
        rid = [100]

        def send(room, cmid):
            for _ in range(200):
                rid[0] += 1
                t0 = time.time()
                ws.send(json.dumps({"op": "send", "id": rid[0], "room": room, "body": cmid, "client_msg_id": cmid}))
                while True:
                    m = json.loads(ws.recv())
                    if m.get("id") == rid[0]:
                        break
                if m["op"] == "ok":
                    slowest[0] = max(slowest[0], time.time() - t0)
                    acked[room].append(m["data"]["seq"])
                    return
            sys.exit(f"send to {room} never acknowledged")

        for k in range(per_room):
            for r in rooms:
                send(r, f"pre-{k}-{r}")
        slowest[0] = 0.0
        joiner = threading.Thread(target=lambda: (c.start(), c.wait_up(4)))
        joiner.start()
        k = 0
        while joiner.is_alive() or k < 3:
            for r in rooms:
                send(r, f"during-{k}-{r}")
            k += 1
        joiner.join()
        for r in rooms:
            send(r, f"after-{r}")
        times = []
        for log in c.logs:
            with open(log) as f:
                times += [int(x) for x in re.findall(r"handed off to node \S+ in (\d+) ms", f.read())]
        bad = 0
        for r in rooms:
            msgs = http(c.http[3], "GET", f"/api/v1/rooms/{r}/messages?limit=200", None, tok)["messages"]
            seqs = [m["seq"] for m in msgs]
            if seqs != list(range(1, len(seqs) + 1)) or sorted(set(acked[r])) != seqs:
                bad += 1
        print(f"handoff: node 4 joined while one client sent to {rooms_n} rooms; {len(times)} rooms moved "
              f"({100 * len(times) / rooms_n:.0f}%); unavailable per moved room p50 "
              f"{statistics.median(times) if times else 0:.0f} ms, max {max(times) if times else 0} ms; "
              f"slowest acknowledged send during the join {1000 * slowest[0]:.0f} ms; "
              f"rooms with a gap, loss or duplicate: {bad}")
        c.stop()


def client(args):
    port, idx, n, window = args
    return measure.throughput(port, n, window, name=f"tp{idx}_{port}")


def throughput(confabd, procs, n, window):
    for nodes_n in (1, 3):
        with tempfile.TemporaryDirectory() as root:
            c = Nodes(confabd, root).start_up(nodes_n)
            with multiprocessing.Pool(procs) as pool:
                res = pool.map(client, [(c.http[i % nodes_n], i, n, window) for i in range(procs)])
            got = sum(r[0] for r in res)
            secs = max(r[2] for r in res) - min(r[1] for r in res)
            print(f"throughput, {nodes_n} node(s), {procs} client processes: {got} messages in {secs:.2f} s = "
                  f"{got / secs:.0f} messages/s delivered")
            c.stop()


def crossnode_client(args):
    """Sender on node a, receiver on node b, a room owned by node c (a node
    makes the rooms created through it its own)."""
    ports, ids, idx, n, window = args
    a_port, b_port, c_port = ports[idx % 3], ports[(idx + 1) % 3], ports[(idx + 2) % 3]
    ta, tb = user(a_port, f"x{idx}_a"), user(b_port, f"x{idx}_b")
    room = http(c_port, "POST", "/api/v1/rooms", {"name": f"x{idx}", "visibility": "public"}, ta)["room"]["id"]
    req = __import__("urllib.request").request.Request(
        f"http://127.0.0.1:{a_port}/admin/api/v1/rooms/{room}", headers={"Authorization": "Bearer " + ADMIN})
    with __import__("urllib.request").request.urlopen(req, timeout=10) as r:
        owner = json.loads(r.read())["owner"]
    if owner != ids[(idx + 2) % 3]:
        raise SystemExit(f"room {room} is owned by {owner}, not {ids[(idx + 2) % 3]}")
    http(b_port, "POST", f"/api/v1/rooms/{room}/join", None, tb)
    return measure.pump(connect(a_port, ta), connect(b_port, tb), room, n, window)


def crossnode(confabd, procs, n, window):
    with tempfile.TemporaryDirectory() as root:
        c = Nodes(confabd, root).start_up(3)
        ids = [f"n{i + 1}" for i in range(3)]

        def cpu_s():  # user + system time of the three nodes
            total = 0
            for p in c.procs:
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            return total / os.sysconf("SC_CLK_TCK")

        before = cpu_s()
        with multiprocessing.Pool(procs) as pool:
            res = pool.map(crossnode_client, [(c.http, ids, i, n, window) for i in range(procs)])
        cpu = cpu_s() - before
        got = sum(r[0] for r in res)
        secs = max(r[2] for r in res) - min(r[1] for r in res)
        print(f"crossnode{' (plain)' if PLAIN else ' (mutual TLS)'}, 3 nodes, {procs} client processes: {got} "
              f"messages in {secs:.2f} s = {got / secs:.0f} messages/s delivered across two node links each; "
              f"{cpu * 1e6 / max(got, 1):.0f} us of node CPU per message (set-up included)")
        c.stop()


def formation(confabd, runs=3):
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as root:
            start = time.time()
            c = Nodes(confabd, root).start_up(3)
            times.append(time.time() - start)
            c.stop()
    print(f"formation{' (plain)' if PLAIN else ' (mutual TLS)'}: 3 nodes up and converged in "
          f"{statistics.median(times) * 1000:.0f} ms (median of {runs}: "
          f"{', '.join(f'{t * 1000:.0f}' for t in times)} ms)")


def main():
    global PLAIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["fanout", "handoff", "throughput", "crossnode", "formation"])
    ap.add_argument("--plain", action="store_true", help="no cluster certificates (a build before mutual TLS)")
    ap.add_argument("--rooms", type=int, default=60)
    ap.add_argument("--per-room", type=int, default=5)
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--confabd", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "confabd"))
    args = ap.parse_args()
    PLAIN = args.plain
    if args.only in (None, "fanout"):
        fanout(args.confabd)
    if args.only in (None, "handoff"):
        handoff(args.confabd, args.rooms, args.per_room)
    if args.only in (None, "throughput"):
        throughput(args.confabd, args.procs, args.messages, args.window)
    if args.only in (None, "crossnode"):
        crossnode(args.confabd, args.procs, args.messages, args.window)
    if args.only in (None, "formation"):
        formation(args.confabd)


if __name__ == "__main__":
    main()
