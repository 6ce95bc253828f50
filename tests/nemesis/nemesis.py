#!/usr/bin/python3
"""Nemesis: five confabd nodes in network namespaces, clients sending to every
room through every node, and a seeded schedule of faults (kill -9, SIGSTOP,
partitions, clients cut off, a node replaced); then a final heal, a quiet
period and the checker (checker.py). docs/RELIABILITY.md says what it checks.

  tests/nemesis/nemesis.py --seconds 180 --seed 42 --out report.json

Exit 0: no violation; 1: a violation (each printed with its room, seqs and
the fault before it); 2: the harness itself failed. Needs root (ip netns,
nftables). Everything it makes is removed at the end, also on failure.
"""

import argparse
import collections
import http.client
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid

import websocket

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import checker  # noqa: E402
import netlab  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CONFABD = os.environ.get("CONFABD") or os.path.join(ROOT, "build", "bin", "confabd")
CONFABCTL = os.environ.get("CONFABCTL") or os.path.join(os.path.dirname(CONFABD), "confabctl")
os.environ["CONFABCTL"] = CONFABCTL
import harness  # noqa: E402  (after CONFABCTL is set: it makes the certificates)

HTTP_PORT, CLUSTER_PORT = 8080, 7070
REQUEST_TIMEOUT_S = 8.0
KINDS = ("kill", "pause", "partition", "bridge", "isolate", "replace", "combo")
IMPAIRED_BY = {"kill", "pause", "isolate", "replace"}


# -- the schedule: pure and seeded ------------------------------------------------

def schedule(seed, seconds, slots=5, kinds=KINDS):
    """[{kind, slots, duration, heal}] filling `seconds`: every kind once in a
    seeded order, then seeded random kinds. Slots are positions 0..slots-1
    (a replaced node keeps its slot), so a seed names the same run."""
    rng = random.Random(seed)
    pool = tuple(kinds)
    kinds = list(pool)
    rng.shuffle(kinds)
    steps, t = [], 0.0
    while t < seconds:
        kind = kinds.pop(0) if kinds else rng.choice(pool)
        order = list(range(slots))
        rng.shuffle(order)
        if kind == "partition":
            parts = [order[:2]]                       # the minority
        elif kind == "bridge":
            parts = [order[:1], order[1:2]]           # A and B; the rest talk to both
        elif kind == "combo":
            a, b = rng.sample(["kill", "pause", "isolate", "partition1"], 2)
            parts = [[a, order[0]], [b, order[1]]]
        else:
            parts = [order[:1]]
        step = {"kind": kind, "slots": parts, "duration": round(rng.uniform(5, 12), 1),
                "heal": round(rng.uniform(6, 12), 1)}
        steps.append(step)
        t += step["duration"] + step["heal"]
    return steps


# -- HTTP ----------------------------------------------------------------------

class Outcome(Exception):
    pass


def call(addr, method, path, body=None, token=None, timeout=REQUEST_TIMEOUT_S):
    """(status, json body). Raises Outcome("error", why) when the request was
    certainly not delivered (connect failed) and Outcome("timeout", why) when
    it may have been (no answer)."""
    conn = http.client.HTTPConnection(addr, HTTP_PORT, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as e:
            raise Outcome("error", "connect: %s" % (e,))
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise Outcome("timeout", "%s: %s" % (type(e).__name__, e))
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, None
    finally:
        conn.close()


class Ws:
    """A WebSocket session on one node. request() returns the reply to one
    request; `message` events read meanwhile go to `seen` ([room, seq,
    body, t])."""

    def __init__(self, addr, token, seen, clock):
        self.seen, self.clock, self.n = seen, clock, 0
        try:
            self.ws = websocket.create_connection("ws://%s:%d/ws" % (addr, HTTP_PORT), timeout=REQUEST_TIMEOUT_S)
        except (OSError, websocket.WebSocketException) as e:
            raise Outcome("error", "connect: %s" % (e,))
        try:
            r = self.request({"op": "auth", "token": token})
        except Outcome as e:
            self.close()
            raise Outcome("error", "auth: %s" % (e.args[1],))   # the send itself was not made
        if r.get("op") != "ok":
            self.close()
            raise Outcome("error", "auth: %r" % (r,))

    def request(self, obj):
        self.n += 1
        obj["id"] = self.n
        deadline = time.monotonic() + REQUEST_TIMEOUT_S
        try:
            self.ws.send(json.dumps(obj))
            for _ in range(100000):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.ws.settimeout(left)
                m = json.loads(self.ws.recv())
                if m.get("id") == self.n:
                    return m
                if m.get("op") == "message" and isinstance(m.get("data"), dict):
                    d = m["data"]
                    self.seen.append([d.get("room"), d.get("seq"), d.get("body"), round(self.clock(), 3)])
        except (OSError, ValueError, websocket.WebSocketException) as e:
            raise Outcome("timeout", "%s: %s" % (type(e).__name__, e))
        raise Outcome("timeout", "no reply in %ss" % REQUEST_TIMEOUT_S)

    def close(self):
        try:
            self.ws.close(timeout=1)
        except (OSError, websocket.WebSocketException):
            pass


def must(addr, method, path, body=None, token=None, want=(200, 201, 204), tries=20):
    """A set-up call retried (bounded) until it answers one of `want`."""
    last = None
    for i in range(tries):
        try:
            st, data = call(addr, method, path, body, token)
            if st in want:
                return data
            last = (st, data)
        except Outcome as e:
            last = e.args
        threading.Event().wait(min(0.1 * (i + 1), 1.0))
    raise RuntimeError("%s %s on %s: %r" % (method, path, addr, last))


# -- the cluster -------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="confab-nemesis-")
        self.lab = None
        self.slots = []            # current Node of each slot
        self.retired = []          # removed nodes
        self.next_k = 1
        self.admin_token = "adm-" + uuid.uuid4().hex
        self.t0 = None
        self.faults = []
        self.lock = threading.Lock()
        self.ops = []
        self.churn = []
        self.seen = []             # message events the WebSocket clients got
        self.crashed = []          # client threads that died
        self.node_crashes = []     # nodes that died with no fault on them

    def now(self):
        return time.monotonic() - self.t0 if self.t0 else 0.0

    def log(self, fmt, *a):
        print("[%7.1fs] %s" % (self.now(), fmt % a), flush=True)

    # nodes

    def node_args(self, k):
        node_id = "n%d" % k
        cert, key = self.ca.node(node_id, hosts=(self.lab.addr(k),))
        return ["--http-port", str(HTTP_PORT), "--cluster-port", str(CLUSTER_PORT),
                "--secret-file", self.secret, "--admin-token-file", self.token_file,
                "--cluster-ca", self.ca.ca, "--cluster-cert", cert, "--cluster-key", key,
                "--replication", "3", "--durability", self.args.durability,
                "--login-ip-attempts", "100000", "--register-per-min", "100000", "--rooms-per-min", "100000",
                "--invites-per-min", "100000", "--dms-per-min", "100000",
                "--rate-per-s", "10000", "--rate-burst", "10000", "--log-level", self.args.log_level]

    def seeds(self, but=None):
        return ["%s:%d" % (n.addr, CLUSTER_PORT) for n in self.slots if n is not but and n.running()]

    def new_node(self):
        k = self.next_k
        self.next_k += 1
        self.lab.add_host(k)
        data = os.path.join(self.tmp, "n%d" % k)
        os.makedirs(data)
        node = netlab.Node(self.lab, k, data, self.node_args(k), self.tmp)
        node.start(CONFABD, self.seeds())
        return node

    def setup(self):
        self.lab = netlab.Lab()
        self.secret = harness.write_secret(os.path.join(self.tmp, "secret"))
        self.token_file = os.path.join(self.tmp, "admin-token")
        with open(self.token_file, "w") as f:
            f.write(self.admin_token + "\n")
        self.ca = harness.ClusterCA(os.path.join(self.tmp, "certs"))
        for _ in range(self.args.nodes):
            self.slots.append(self.new_node())
        self.wait_converged(60)

    def views(self):
        want = {n.id for n in self.slots}
        out = {}
        for n in self.slots:
            try:
                st, data = call(n.addr, "GET", "/admin/api/v1/nodes", token=self.admin_token, timeout=3)
                out[n.id] = {e["id"]: e["status"] for e in data["nodes"]} if st == 200 else st
            except (Outcome, KeyError, TypeError) as e:
                out[n.id] = str(e)
        done = all(isinstance(v, dict) and {i for i, s in v.items() if s == "up"} >= want for v in out.values())
        return done, out

    def wait_converged(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            done, views = self.views()
            if done:
                return views
            if time.monotonic() > deadline:
                raise RuntimeError("nodes did not converge in %ss: %r" % (timeout, views))
            threading.Event().wait(0.2)

    # the workload

    def setup_workload(self):
        a = self.args
        rng = random.Random(a.seed)
        self.users = []
        for i in range(a.users):
            node = self.slots[i % len(self.slots)]
            name = "nem%d_%s" % (i, uuid.uuid4().hex[:6])
            # 409: a retry after a first try that timed out but was made
            # (seen under load); the name is this run's own, and the login
            # below checks the password.
            must(node.addr, "POST", "/api/v1/register", {"username": name, "password": "password-" + name},
                 want=(201, 409))
            tok = must(node.addr, "POST", "/api/v1/login", {"username": name, "password": "password-" + name})
            # every third user sends over a WebSocket, the others over HTTP
            self.users.append({"name": name, "token": tok["token"], "home": i % len(self.slots), "targets": [],
                               "ws_client": i % 3 == 0})
        self.rooms = []
        for r in range(a.rooms):
            members = rng.sample(range(len(self.users)), 4)
            owner = self.users[members[0]]
            room = must(self.slots[owner["home"]].addr, "POST", "/api/v1/rooms",
                        {"name": "nemesis %d" % r, "visibility": "public"}, owner["token"])["room"]["id"]
            for m in members[1:]:
                must(self.slots[self.users[m]["home"]].addr, "POST", "/api/v1/rooms/%s/join" % room,
                     token=self.users[m]["token"])
            for m in members:
                self.users[m]["targets"].append(room)
            outsiders = [u for u in range(len(self.users)) if u not in members]
            self.rooms.append({"id": room, "members": members, "visitor": rng.choice(outsiders)})
        for d in range(a.dms):
            x, y = rng.sample(range(len(self.users)), 2)
            ux, uy = self.users[x], self.users[y]
            room = must(self.slots[ux["home"]].addr, "POST", "/api/v1/dm", {"username": uy["name"]},
                        ux["token"])["room"]["id"]
            if room not in ux["targets"]:
                ux["targets"].append(room)
                uy["targets"].append(room)
                self.rooms.append({"id": room, "members": [x, y], "visitor": None})
        for u in self.users:
            rng.shuffle(u["targets"])
        self.log("%d users, %d rooms and DMs", len(self.users), len(self.rooms))

    def attempt(self, node, method, path, body, token):
        t0 = self.now()
        rec = {"node": node.id, "t0": round(t0, 3)}
        try:
            st, data = call(node.addr, method, path, body, token)
            if st in (200, 201, 204):
                rec["outcome"] = "ok"
                if path.endswith("/messages"):
                    seq = data.get("message", {}).get("seq") if isinstance(data, dict) else None
                    if not isinstance(seq, int):
                        raise Outcome("timeout", "201 without a message seq: %r" % (data,))
                    rec["seq"] = seq
            else:
                rec.update(outcome="error", status=st,
                           code=(data or {}).get("error", {}).get("code") if isinstance(data, dict) else None)
        except Outcome as e:
            rec.update(outcome=e.args[0], detail=e.args[1][:120])
        rec["t1"] = round(self.now(), 3)
        return rec

    def ws_attempt(self, u, node, room, key, body):
        """One send over the user's WebSocket to `node` (connected first if
        it is on another node or broke); recorded like attempt()."""
        t0 = self.now()
        rec = {"node": node.id, "t0": round(t0, 3), "via": "ws"}
        try:
            if u.get("ws_node") is not node:
                if u.get("ws"):
                    u["ws"].close()
                u["ws"], u["ws_node"] = None, None
                u["ws"], u["ws_node"] = Ws(node.addr, u["token"], self.seen, self.now), node
            r = u["ws"].request({"op": "send", "room": room, "body": body, "client_msg_id": key})
            if r.get("op") == "ok":
                seq = r.get("data", {}).get("seq") if isinstance(r.get("data"), dict) else None
                if not isinstance(seq, int):
                    raise Outcome("timeout", "ok without a seq: %r" % (r,))
                rec.update(outcome="ok", seq=seq)
            else:
                rec.update(outcome="error", code=r.get("code"))
        except Outcome as e:
            rec.update(outcome=e.args[0], detail=e.args[1][:120])
            if u.get("ws"):
                u["ws"].close()
            u["ws"], u["ws_node"] = None, None
        rec["t1"] = round(self.now(), 3)
        return rec

    def client(self, ui, stop):
        try:
            self.client_loop(ui, stop)
        except Exception as e:   # a dead client would only lower the load: it is a finding
            with self.lock:
                self.crashed.append("client %d: %s: %s" % (ui, type(e).__name__, e))

    def client_loop(self, ui, stop):
        u = self.users[ui]
        rng = random.Random("%s-%d" % (self.args.seed, ui))
        visits = [r for r in self.rooms if r["visitor"] == ui]
        inside = {r["id"]: False for r in visits}
        n = 0
        while not stop.is_set() and u["targets"]:
            n += 1
            if visits and n % 10 == 0:
                r = rng.choice(visits)["id"]
                what = "leave" if inside[r] else "join"
                rec = self.attempt(self.slots[u["home"]], "POST", "/api/v1/rooms/%s/%s" % (r, what), None,
                                   u["token"])
                if rec["outcome"] == "ok":
                    inside[r] = not inside[r]
                elif what == "leave" and rec.get("status") == 403:
                    # an earlier leave without an answer (or with a 503:
                    # docs/RELIABILITY.md finding 4) took effect after all
                    inside[r] = False
                with self.lock:
                    self.churn.append(dict(rec, room=r, user=u["name"], op=what))
                continue
            room = u["targets"][n % len(u["targets"])]
            key = "%s-%d" % (u["name"], n)
            op = {"key": key, "room": room, "user": u["name"], "attempts": []}
            with self.lock:
                self.ops.append(op)
            # As PROTOCOL.md section 6 asks of a client: an error or no
            # answer is retried with the same client_msg_id, through the
            # next node, until acknowledged (or a definite refusal); a send
            # is given up only after --give-up-s, also when the run stops.
            started = time.monotonic()
            for i in range(1000):
                node = self.slots[(u["home"] + i) % len(self.slots)]
                # the body names the attempt, so a stored message tells which one it was
                body = "%s #%d" % (key, i)
                if u["ws_client"]:
                    rec = self.ws_attempt(u, node, room, key, body)
                else:
                    rec = self.attempt(node, "POST", "/api/v1/rooms/%s/messages" % room,
                                       {"body": body, "client_msg_id": key}, u["token"])
                op["attempts"].append(rec)
                # 403 and 404 are retried too: a node that just joined may not
                # know the room yet; only a malformed request is final
                if rec["outcome"] == "ok" or rec.get("status") == 400 or rec.get("code") == "invalid_request":
                    break
                if time.monotonic() - started > self.args.give_up_s:
                    break
                threading.Event().wait(min(0.1 * (i + 1), 1.0))
            stop.wait(self.args.think_ms / 1000.0)

    # faults

    def do(self, kind, slot, on):
        """Start (on) or heal one simple fault on slot `slot`."""
        node = self.slots[slot]
        others = [n for i, n in enumerate(self.slots) if i != slot]
        if kind == "kill":
            node.kill() if on else node.start(CONFABD, self.seeds(but=node))
        elif kind == "pause":
            node.pause() if on else node.resume()
        elif kind == "isolate":
            self.lab.block(node.k, [self.lab.client_addr]) if on else self.lab.unblock(node.k)
        elif kind == "partition1":
            if on:
                self.lab.block(node.k, [n.addr for n in others])
                for n in others:
                    self.lab.block(n.k, [node.addr])
            else:
                for n in self.slots:
                    self.lab.unblock(n.k)
        else:
            raise ValueError(kind)

    def crashed_nodes(self):
        """Nodes that ended though no fault stopped them: each is a
        violation (with its log's end), and is started again so that the
        run goes on."""
        for n in list(self.slots):
            rc = n.died()
            if rc is None:
                continue
            self.log("NODE %s DIED (exit %s) with no fault on it", n.id, rc)
            self.node_crashes.append({"rule": "node_crashed", "room": None, "seqs": [], "fault": _last_fault(self),
                                      "detail": "%s ended with %s at %.1fs; cwd %s.%d.cwd; log ends:\n%s"
                                                % (n.id, rc, self.now(), n.id, n.incarnation, n.log_tail(8))})
            n.start(CONFABD, self.seeds(but=n))

    def fault(self, step):
        self.crashed_nodes()
        kind, parts = step["kind"], step["slots"]
        rec = {"kind": kind, "start": round(self.now(), 3)}
        heal = []
        if kind in ("kill", "pause", "isolate"):
            self.do(kind, parts[0][0], True)
            heal = [(kind, parts[0][0])]
            names = [self.slots[parts[0][0]].id]
            impaired = names
        elif kind == "combo":
            for (k, s) in parts:
                self.do(k, s, True)
            heal = [(k, s) for k, s in parts]
            names = ["%s:%s" % (k, self.slots[s].id) for k, s in parts]
            impaired = [self.slots[s].id for _, s in parts]
        elif kind in ("partition", "bridge"):
            if kind == "partition":
                side = [self.slots[s] for s in parts[0]]
                rest = [n for n in self.slots if n not in side]
                pairs = [(a, b) for a in side for b in rest]
                impaired = [n.id for n in side]
            else:
                a, b = self.slots[parts[0][0]], self.slots[parts[1][0]]
                pairs = [(a, b)]
                impaired = []
            for a, b in pairs:
                self.lab.block(a.k, [b.addr])
                self.lab.block(b.k, [a.addr])
            names = [self.slots[s].id for p in parts for s in p]
            heal = [("unblock", None)]
        elif kind == "replace":
            slot = parts[0][0]
            old = self.slots[slot]
            names = impaired = [old.id]
            old.kill()
            peer = next(n for n in self.slots if n is not old and n.running() and not n.paused)
            must(peer.addr, "POST", "/admin/api/v1/nodes/%s/remove" % old.id, token=self.admin_token,
                 want=(202,))
            self.retired.append(old)
            self.slots[slot] = self.new_node()
            names = [old.id, "->", self.slots[slot].id]
        rec.update(nodes=names, impaired=impaired)
        self.log("fault %s %s for %.1fs", kind, " ".join(names), step["duration"])
        stop = threading.Event()
        stop.wait(step["duration"])
        for k, s in heal:
            if k == "unblock":
                for n in self.slots:
                    self.lab.unblock(n.k)
            else:
                self.do(k, s, False)
        rec["end"] = round(self.now(), 3)
        self.faults.append(rec)
        self.log("healed %s; quiet for %.1fs", kind, step["heal"])

    def heal_all(self):
        self.crashed_nodes()
        for n in self.slots:
            if n.paused:
                n.resume()
            if self.lab and not self.lab.closed:
                self.lab.unblock(n.k)
        for n in self.slots:
            if not n.running():
                n.start(CONFABD, self.seeds(but=n))

    # the end

    def read_history(self, node, room, token):
        msgs, after = [], 0
        for _ in range(10000):
            st, data = call(node.addr, "GET", "/api/v1/rooms/%s/messages?after=%d&limit=200" % (room, after),
                            token=token)
            if st != 200:
                return "%s %s" % (st, (data or {}).get("error", {}).get("code") if isinstance(data, dict) else data)
            msgs += data["messages"]
            if not data["has_more"] or not data["messages"]:
                return msgs
            after = data["messages"][-1]["seq"]
        return "more than 2,000,000 messages"

    def settled(self, read, timeout=60):
        """{room: {node: read(node, room, token) or error}}, each room re-read
        until every node answers and all answers agree (or `timeout`): a copy
        that is still catching up is given time, a lasting difference is
        reported by the checker."""
        out = {}
        deadline = time.monotonic() + timeout
        for r in self.rooms:
            token = self.users[r["members"][0]]["token"]
            for _ in range(1000):
                views = {}
                for n in self.slots:
                    try:
                        views[n.id] = read(n, r["id"], token)
                    except Outcome as e:
                        views[n.id] = "%s: %s" % e.args
                lists = [json.dumps(v, sort_keys=True) for v in views.values() if isinstance(v, list)]
                if (len(lists) == len(views) and len(set(lists)) == 1) or time.monotonic() > deadline:
                    break
                threading.Event().wait(0.3)
            out[r["id"]] = views
        return out

    def histories(self):
        return self.settled(self.read_history)

    def read_members(self, node, room, token):
        st, data = call(node.addr, "GET", "/api/v1/rooms/%s/members" % room, token=token)
        if st != 200 or not isinstance(data, dict):
            return "%s %r" % (st, data)
        return sorted(m["user"]["username"] for m in data["members"])

    def members(self):
        return self.settled(self.read_members)

    def close(self):
        # a second SIGTERM must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for n in self.slots + self.retired:
            try:
                rc = n.terminate()
                if rc not in (0, None) and n not in self.retired:
                    self.log("%s exited %s on SIGTERM", n.id, rc)
            except Exception as e:   # cleanup goes on whatever one node does
                self.log("stopping %s: %s", n.id, e)
        if self.lab:
            self.lab.close()


def _last_fault(run):
    return "%s at %.1fs" % (run.faults[-1]["kind"], run.faults[-1]["start"]) if run.faults else "no fault yet"


def commit():
    """The checkout's commit, with "+dirty" when files differ from it."""
    try:
        head = netlab.sh("git", "-C", ROOT, "rev-parse", "--short", "HEAD").strip()
        dirty = netlab.sh("git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no").strip()
        return head + ("+dirty" if dirty else "")
    except (RuntimeError, OSError):
        return "unknown"


def table(rows, cols):
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols] if rows else [len(c) for c in cols]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    for r in rows:
        lines.append("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(cols, widths)))
    return "\n".join(lines)


def fmt(x, pct=False):
    if x is None:
        return "-"
    return "%.0f%%" % (100 * x) if pct else "%.2f" % x


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=None, help="schedule seed (default: random, printed)")
    p.add_argument("--seconds", type=float, default=180, help="time under faults")
    p.add_argument("--min-faults", type=int, default=0, help="fail unless at least this many faults ran")
    p.add_argument("--min-kinds", type=int, default=0, help="fail unless this many kinds of fault ran")
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--users", type=int, default=15)
    p.add_argument("--rooms", type=int, default=24)
    p.add_argument("--dms", type=int, default=6)
    p.add_argument("--give-up-s", type=float, default=60, help="a send is retried this long at most")
    p.add_argument("--think-ms", type=float, default=40, help="pause of each client between sends")
    p.add_argument("--quiet", type=float, default=20, help="seconds of workload after the final heal")
    p.add_argument("--durability", default="fsync")
    p.add_argument("--kinds", default=",".join(KINDS), help="fault kinds to draw from (comma-separated)")
    p.add_argument("--log-level", default="info", help="confabd --log-level")
    p.add_argument("--out", help="write the report (JSON) here")
    p.add_argument("--keep", action="store_true", help="keep data dirs and logs")
    a = p.parse_args()
    unknown = sorted(set(a.kinds.split(",")) - set(KINDS))
    if unknown:
        p.error("unknown fault kind(s) %s; known: %s" % (",".join(unknown), ",".join(KINDS)))
    if a.nodes < 3:
        p.error("--nodes must be at least 3 (a partition cuts off two nodes)")
    if a.seed is None and os.environ.get("CONFAB_NEMESIS_SEED"):
        a.seed = int(os.environ["CONFAB_NEMESIS_SEED"])
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    print("nemesis seed %d (replay: --seed %d --seconds %g --nodes %d --kinds %s)"
          % (a.seed, a.seed, a.seconds, a.nodes, a.kinds), flush=True)
    steps = schedule(a.seed, a.seconds, a.nodes, a.kinds.split(","))
    stale = netlab.remove_stale()
    if stale:
        print("removed namespaces left by dead runs %s" % stale)

    def on_signal(sig, _frame):
        raise SystemExit("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    run = Run(a)
    report, violations = None, []
    try:
        run.setup()
        run.setup_workload()
        run.t0 = time.monotonic()
        stop = threading.Event()
        clients = [threading.Thread(target=run.client, args=(i, stop), daemon=True) for i in range(len(run.users))]
        for t in clients:
            t.start()
        for step in steps:
            run.fault(step)
            threading.Event().wait(step["heal"])
        run.heal_all()
        final_heal = run.now()
        run.faults.append({"kind": "final heal", "nodes": [], "impaired": [], "start": final_heal,
                           "end": final_heal})
        run.log("final heal; workload goes on for %.0fs", a.quiet)
        stop.wait(a.quiet)
        stop.set()
        stop_by = time.monotonic() + a.give_up_s + 30   # a send started just before its give-up ends by then
        for t in clients:
            t.join(timeout=max(0.1, stop_by - time.monotonic()))
        if any(t.is_alive() for t in clients):
            raise RuntimeError("client threads still running %.0fs after the stop" % (a.give_up_s + 30))
        end = run.now()
        with run.lock:
            ops = [dict(o, attempts=list(o["attempts"])) for o in run.ops]
        run.log("workload stopped: %d sends; waiting for the nodes to agree", len(ops))
        try:
            run.wait_converged(60)
        except RuntimeError as e:
            violations.append({"rule": "not_converged", "room": None, "seqs": [], "detail": str(e),
                               "fault": "final heal"})
        hist = run.histories()
        for u in run.users:
            if u.get("ws"):
                u["ws"].close()
        v, stats = checker.check(ops, hist, run.faults, list(run.seen))
        violations += v
        run.crashed_nodes()
        violations += run.node_crashes
        violations += [{"rule": "client_crashed", "room": None, "seqs": [], "detail": c, "fault": None}
                       for c in run.crashed]
        violations += checker.check_members(list(run.churn), run.members(), run.faults)
        faults = [f for f in run.faults if f["kind"] != "final heal"]
        avail = checker.availability(ops, faults)
        recov = checker.recovery(ops, run.faults, end)
        kinds = {f["kind"] for f in faults}
        if len(kinds) < a.min_kinds:
            violations.append({"rule": "too_few_fault_kinds", "room": None, "seqs": [], "fault": None,
                               "detail": "%d kinds of fault ran, %d asked" % (len(kinds), a.min_kinds)})
        if len(faults) < a.min_faults:
            violations.append({"rule": "too_few_faults", "room": None, "seqs": [], "fault": None,
                               "detail": "%d faults ran, %d asked" % (len(faults), a.min_faults)})
        report = {"seed": a.seed, "seconds": a.seconds, "confabd": CONFABD, "commit": commit(),
                  "faults": run.faults, "stats": stats, "availability": avail, "recovery": recov, "violations": violations,
                  "churn": {"ok": sum(1 for c in run.churn if c["outcome"] == "ok"), "all": len(run.churn),
                            "failed": dict(collections.Counter("%s %s %s %s" % (c["op"], c["outcome"], c.get("status"),
                                                                                c.get("code"))
                                                               for c in run.churn if c["outcome"] != "ok"))}}
        rows = []
        for f, av, rc in zip(faults + [run.faults[-1]], avail + [{}], recov):
            rows.append({"fault": av.get("fault") or rc["fault"], "writes": av.get("attempts", ""),
                         "ok": fmt(av.get("availability"), True) if av else "",
                         "heal->write p50 s": fmt(rc["p50_s"]), "max s": fmt(rc["max_s"]),
                         "rooms unwritten": rc["rooms_not_written"]})
        print(table(rows, ["fault", "writes", "ok", "heal->write p50 s", "max s", "rooms unwritten"]))
        print("sends %(sends)d, acknowledged %(acked)d, stored %(stored)d, attempts %(attempts)s, "
              "message events seen %(events_seen)d" % stats)
        ws_sends = sum(1 for o in ops if o["attempts"] and o["attempts"][0].get("via") == "ws")
        print("sends over WebSocket %d, over HTTP %d" % (ws_sends, len(ops) - ws_sends))
        report["ws_sends"] = ws_sends
        print("fault kinds: %d (%s); joins/leaves ok %d of %d; failed: %s"
              % (len(kinds), ", ".join(sorted(kinds)), report["churn"]["ok"], report["churn"]["all"],
                 report["churn"]["failed"]))
        if violations and not a.keep:
            with open(os.path.join(run.tmp, "ops.json"), "w") as f:
                json.dump({"ops": ops, "histories": hist, "faults": run.faults, "seen": run.seen}, f)
    except BaseException as e:
        print("nemesis harness failed: %s" % (e,), file=sys.stderr)
        for n in run.slots:
            print("--- %s ---\n%s" % (n.id, n.log_tail(15)), file=sys.stderr)
        run.close()
        raise SystemExit(2)
    finally:
        if report is not None and a.out:
            with open(a.out, "w") as f:
                json.dump(report, f, indent=1)
    run.close()
    for v in violations:
        print("VIOLATION %s room=%s seqs=%s after [%s]: %s" % (v["rule"], v["room"], v["seqs"], v["fault"],
                                                              v["detail"]))
    if violations:
        for n in run.slots + run.retired:
            print("--- end of %s's log ---\n%s" % (n.id, n.log_tail(10)))
        print("kept %s (node logs, ops.json)" % run.tmp)
        print("nemesis seed %d: %d violations" % (a.seed, len(violations)))
        return 1
    if not a.keep:
        shutil.rmtree(run.tmp, ignore_errors=True)
    print("nemesis seed %d: no violation" % a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
