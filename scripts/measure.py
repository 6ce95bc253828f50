#!/usr/bin/python3
"""Rough first figures for one node (not a test, not a benchmark: the Python
client is likely the bottleneck; confab-bench will replace this).

1. messages/s through one room with two clients: A sends N messages with a
   window of outstanding acks, B counts the message events; both read all
   their frames.
2. RSS per idle authenticated connection: VmRSS of confabd before and after
   opening C connections (each authenticated, its user in one room).

Usage: scripts/measure.py [--messages N] [--connections C] [--confabd PATH]
Only 127.0.0.1 is used; every loop is bounded.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import websocket


def http(port, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


def user(port, name):
    http(port, "POST", "/api/v1/register", {"username": name, "password": "password-" + name})
    return http(port, "POST", "/api/v1/login", {"username": name, "password": "password-" + name})["token"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(port, token):
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=30)
    ws.send(json.dumps({"op": "auth", "id": 1, "token": token}))
    reply = json.loads(ws.recv())
    assert reply["op"] == "ok", reply
    return ws


def throughput(port, n, window):
    ta, tb = user(port, "bench_a"), user(port, "bench_b")
    room = http(port, "POST", "/api/v1/rooms", {"name": "bench", "visibility": "public"}, ta)["room"]["id"]
    http(port, "POST", f"/api/v1/rooms/{room}/join", None, tb)
    a, b = connect(port, ta), connect(port, tb)
    acked = threading.Semaphore(window)
    got_b = [0]
    done_b = threading.Event()
    deadline = time.time() + 300

    def read_a():
        seen_events = 0
        while seen_events < n and time.time() < deadline:
            m = json.loads(a.recv())
            if m["op"] == "ok":
                acked.release()
            elif m["op"] == "message":
                seen_events += 1

    def read_b():
        while got_b[0] < n and time.time() < deadline:
            if json.loads(b.recv())["op"] == "message":
                got_b[0] += 1
        done_b.set()

    threads = [threading.Thread(target=read_a, daemon=True), threading.Thread(target=read_b, daemon=True)]
    for t in threads:
        t.start()
    start = time.time()
    for i in range(n):
        if not acked.acquire(timeout=30):
            break
        a.send(json.dumps({"op": "send", "id": i + 2, "room": room, "body": "x" * 100, "client_msg_id": str(i)}))
    done_b.wait(timeout=max(0, deadline - time.time()))
    elapsed = time.time() - start
    return got_b[0], elapsed


def idle_connections(port, pid, count):
    tokens = [user(port, f"idle_{i}") for i in range(10)]
    room = http(port, "POST", "/api/v1/rooms", {"name": "idle", "visibility": "public"}, tokens[0])["room"]["id"]
    for t in tokens[1:]:
        http(port, "POST", f"/api/v1/rooms/{room}/join", None, t)
    before = rss_kib(pid)
    socks = []
    start = time.time()
    for i in range(count):
        socks.append(connect(port, tokens[i % len(tokens)]))
    connect_s = time.time() - start
    # Let the node settle: wait until RSS stops growing (bounded).
    last, settle_deadline = -1, time.time() + 5
    while time.time() < settle_deadline:
        cur = rss_kib(pid)
        if cur == last:
            break
        last = cur
        time.sleep(0.2)
    after = rss_kib(pid)
    for s in socks:
        s.close()
    return before, after, connect_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--confabd", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "confabd"))
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([args.confabd, "--http-port", "0", "--data-dir", data, "--log-level", "warn",
                                 "--rate-per-s", "1000000", "--rate-burst", "1000000",
                                 "--login-ip-attempts", "1000000"],
                                stdout=subprocess.PIPE, text=True)
        try:
            port = None
            for _ in range(10):
                line = proc.stdout.readline()
                if line.startswith("confabd ready"):
                    port = int(line.split("http=")[1].split()[0])
                    break
            if port is None:
                sys.exit("confabd did not start")
            cpu0, self0 = cpu_s(proc.pid), time.process_time()
            got, secs = throughput(port, args.messages, args.window)
            server_cpu, client_cpu = cpu_s(proc.pid) - cpu0, time.process_time() - self0
            print(f"one room, two clients: {got}/{args.messages} delivered to B in {secs:.2f} s = "
                  f"{got / secs:.0f} messages/s ({2 * got / secs:.0f} deliveries/s incl. the sender's echo); "
                  f"server CPU {server_cpu:.2f} s ({1e6 * server_cpu / max(1, 2 * got):.1f} us per delivery), "
                  f"client CPU {client_cpu:.2f} s")
            before, after, connect_s = idle_connections(port, proc.pid, args.connections)
            print(f"{args.connections} idle authenticated connections: RSS {before} KiB -> {after} KiB, "
                  f"{(after - before) / args.connections:.1f} KiB per connection; "
                  f"connect+auth {args.connections / connect_s:.0f}/s")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
