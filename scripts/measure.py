#!/usr/bin/python3
"""Rough first figures for one node (not a test, not a benchmark: the Python
client is likely the bottleneck). Messages/s and memory per connection are
measured properly by confab-bench (docs/PERFORMANCE.md); presence fan-out and
file speed are still only here.

1. messages/s through one room with two clients: A sends N messages with a
   window of outstanding acks, B counts the message events; both read all
   their frames.
2. RSS per idle authenticated connection: VmRSS of confabd before and after
   opening C connections (each authenticated, its user in one room).
3. Presence fan-out: W sessions watch one user and X sessions do not; the
   user changes status once; count the presence events each side gets.
4. Memory per presence actor: VmRSS before and after one session watches P
   offline users (each watch activates that user's presence actor).
5. Files: upload and download of a 25 MiB file over loopback, MiB/s each, and
   the peak RSS growth of the node during the upload (sampled every 5 ms).
6. Logins under a registration flood: F threads (in a child process, niced,
   as if on other machines) register new users as fast as the node answers
   (each from its own 127.0.0.x, so the per-address limit does not stop
   them); once registrations get 503 for a full queue, one client logs in L
   times, one after the other; login latency p50/p99/max, and how the
   registrations were answered.

Usage: scripts/measure.py [--messages N] [--connections C] [--confabd PATH]
Only 127.0.0.1 is used; every loop is bounded.
"""
import argparse
import concurrent.futures
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


def throughput(port, n, window, name="bench"):
    """A sends n messages to B in their own room; (delivered to B, start, end)."""
    ta, tb = user(port, f"{name}_a"), user(port, f"{name}_b")
    room = http(port, "POST", "/api/v1/rooms", {"name": "bench", "visibility": "public"}, ta)["room"]["id"]
    http(port, "POST", f"/api/v1/rooms/{room}/join", None, tb)
    return pump(connect(port, ta), connect(port, tb), room, n, window)


def pump(a, b, room, n, window):
    """Socket a sends n messages to `room` (at most `window` unacked) while
    socket b counts them arriving; (delivered to b, start, end)."""
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
    return got_b[0], start, time.time()


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


def drain_count(socks, op, deadline):
    """Counts frames with `op` over all sockets, each read until it has been
    quiet for 1 s (bounded by `deadline`). All are read at once: a socket left
    unread for 20 s misses the server's ping and is dropped as dead."""
    def one(s):
        n = 0
        s.settimeout(1.0)
        while time.time() < deadline:
            try:
                if json.loads(s.recv()).get("op") == op:
                    n += 1
            except websocket.WebSocketTimeoutException:
                break
        return n
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(socks), 256)) as pool:
        return sum(pool.map(one, socks))


def presence_fanout(port, watchers, others):
    target = user(port, "pres_target")
    tokens = [user(port, f"pres_w{i}") for i in range(10)]
    watching, idle = [], []
    for i in range(watchers):
        s = connect(port, tokens[i % len(tokens)])
        s.send(json.dumps({"op": "watch", "id": 2, "users": ["pres_target"]}))
        assert json.loads(s.recv())["op"] == "ok"
        watching.append(s)
    for i in range(others):
        idle.append(connect(port, tokens[i % len(tokens)]))
    t = connect(port, target)
    deadline = time.time() + 120
    drain_count(watching + idle, "presence", deadline)  # the target coming online
    start = time.time()
    t.send(json.dumps({"op": "presence", "id": 2, "status": "away"}))
    got_watchers = drain_count(watching, "presence", deadline)
    elapsed = time.time() - start
    got_others = drain_count(idle, "presence", deadline)
    for s in watching + idle + [t]:
        s.close()
    return got_watchers, got_others, elapsed


def presence_memory(port, pid, count):
    names = [f"pm_{i}" for i in range(count)]
    for n in names:
        http(port, "POST", "/api/v1/register", {"username": n, "password": "password-" + n})
    s = connect(port, user(port, "pm_watcher"))
    time.sleep(0.5)  # settle after the registrations (a measurement, not a test)
    before = rss_kib(pid)
    for i in range(0, count, 500):
        s.send(json.dumps({"op": "watch", "id": 2, "users": names[i:i + 500]}))
        reply = json.loads(s.recv())
        assert reply["op"] == "ok" and len(reply["data"]["presence"]) == len(names[i:i + 500]), reply
    time.sleep(0.5)
    after = rss_kib(pid)
    s.close()
    return before, after


def files(port, pid, mib, label):
    import hashlib
    import http.client as httpc
    tok = user(port, "files_" + label)
    room = http(port, "POST", "/api/v1/rooms", {"name": "files", "visibility": "private"}, tok)["room"]["id"]
    data = os.urandom(mib * 1024 * 1024)
    peak = [rss_kib(pid)]
    base = peak[0]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = httpc.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.time()
    conn.putrequest("POST", f"/api/v1/rooms/{room}/files")
    for k, v in (("Authorization", "Bearer " + tok), ("X-Filename", "big.bin"),
                 ("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))):
        conn.putheader(k, v)
    conn.endheaders()
    view = memoryview(data)
    for i in range(0, len(data), 1 << 20):
        conn.send(view[i:i + (1 << 20)])
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    up_s = time.time() - start
    sampling.set()
    sampler.join()
    assert resp.status == 201, answer
    start = time.time()
    conn.putrequest("GET", f"/api/v1/files/{answer['file']['id']}")
    conn.putheader("Authorization", "Bearer " + tok)
    conn.endheaders()
    resp = conn.getresponse()
    got = resp.read()
    down_s = time.time() - start
    assert hashlib.sha256(got).hexdigest() == answer["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    conn.close()
    return mib / up_s, mib / down_s, (peak[0] - base) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--presences", type=int, default=2000)
    ap.add_argument("--file-mib", type=int, default=25)
    ap.add_argument("--flooders", type=int, default=64)
    ap.add_argument("--logins", type=int, default=200)
    ap.add_argument("--only", choices=["room", "idle", "presence", "files", "logins"], default=None)
    ap.add_argument("--confabd", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "confabd"))
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([args.confabd, "--http-port", "0", "--data-dir", data, "--log-level", "warn",
                                 "--rate-per-s", "1000000", "--rate-burst", "1000000",
                                 "--login-ip-attempts", "1000000", "--register-per-min", "1000000"],
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
            if args.only in (None, "room"):
                report_room(port, proc.pid, args)
            if args.only in (None, "idle"):
                report_idle(port, proc.pid, args)
            if args.only in (None, "presence"):
                got_w, got_o, secs = presence_fanout(port, args.watchers, 100)
                print(f"presence change with {args.watchers} watchers: {got_w} events to watchers "
                      f"({got_w / max(1, args.watchers):.2f} per watcher, all within {secs:.2f} s), "
                      f"{got_o} to 100 sessions that do not watch")
                before, after = presence_memory(port, proc.pid, args.presences)
                print(f"{args.presences} presence actors (one watcher each): RSS {before} KiB -> {after} KiB, "
                      f"{1024 * (after - before) / args.presences:.0f} bytes per presence actor")
            if args.only in (None, "logins"):
                report_logins(port, args.flooders, args.logins)
            if args.only in (None, "files"):
                # The first upload also pays for first-use allocations (arenas,
                # RocksDB's blob writer); the second shows the steady cost.
                for label in ("first", "second"):
                    up, down, growth = files(port, proc.pid, args.file_mib, label)
                    print(f"{args.file_mib} MiB file over loopback ({label}): upload {up:.0f} MiB/s, "
                          f"download {down:.0f} MiB/s, peak RSS growth during the upload {growth:.1f} MiB")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def report_room(port, pid, args):
    cpu0, self0 = cpu_s(pid), time.process_time()
    got, start, end = throughput(port, args.messages, args.window)
    secs = end - start
    server_cpu, client_cpu = cpu_s(pid) - cpu0, time.process_time() - self0
    print(f"one room, two clients: {got}/{args.messages} delivered to B in {secs:.2f} s = "
          f"{got / secs:.0f} messages/s ({2 * got / secs:.0f} deliveries/s incl. the sender's echo); "
          f"server CPU {server_cpu:.2f} s ({1e6 * server_cpu / max(1, 2 * got):.1f} us per delivery), "
          f"client CPU {client_cpu:.2f} s")


def flood_registrations(port, flooders, stop, answers):
    """Runs in its own process (so the measuring client never waits for this
    one's GIL), niced so that, as a flood from other machines would, it takes
    CPU from the node only when the node leaves some: F threads register new
    users until `stop` is set; `answers` gets the count of each status."""
    import http.client as httpc
    os.nice(10)
    counts = {}
    lock = threading.Lock()

    def flood(i):
        n = 0
        while not stop.is_set() and n < 100000:
            n += 1
            conn = httpc.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(f"127.0.0.{2 + i % 250}", 0))
            body = json.dumps({"username": f"fl{i}x{n}", "password": "password-flood"})
            try:
                conn.request("POST", "/api/v1/register", body=body)
                status = conn.getresponse().status
            except (OSError, httpc.HTTPException):
                status = "error"
            finally:
                conn.close()
            with lock:
                counts[status] = counts.get(status, 0) + 1

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(flooders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    answers.put(counts)


def report_logins(port, flooders, logins):
    import multiprocessing
    user(port, "flood_login")
    ctx = multiprocessing.get_context("fork")
    stop, answers = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=flood_registrations, args=(port, flooders, stop, answers))
    child.start()
    # the flood is on once registrations are refused for a full queue
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            http(port, "POST", "/api/v1/register", {"username": f"probe{int(time.time() * 1e6)}",
                                                     "password": "password-probe"})
        except urllib.error.HTTPError as e:
            if e.code == 503:
                break
    times = []
    for _ in range(logins):
        start = time.time()
        http(port, "POST", "/api/v1/login", {"username": "flood_login", "password": "password-flood_login"})
        times.append(time.time() - start)
    stop.set()
    counts = answers.get(timeout=150)
    child.join(timeout=30)
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1000  # noqa: E731
    print(f"{logins} logins during a flood of registrations from {flooders} threads: p50 {pct(0.5):.0f} ms, "
          f"p99 {pct(0.99):.0f} ms, max {times[-1] * 1000:.0f} ms; registrations answered {dict(sorted(counts.items(), key=str))}")


def report_idle(port, pid, args):
    before, after, connect_s = idle_connections(port, pid, args.connections)
    print(f"{args.connections} idle authenticated connections: RSS {before} KiB -> {after} KiB, "
          f"{(after - before) / args.connections:.1f} KiB per connection; "
          f"connect+auth {args.connections / connect_s:.0f}/s")


if __name__ == "__main__":
    main()
