#!/usr/bin/python3
"""Scale run (issue 17, "Beyond five nodes"). For each N of --sizes (4,8,16),
N nodes on loopback with small thread pools (harness.Cluster, seeds from n1):

1. convergence: until every node lists every node up, from the last ready
   line and from the first start;
2. R rooms made through every node in turn: owners within +-20 % of R/N,
   copies (owner + replicas) within +-20 % of 3R/N, sets on rendezvous order;
3. one message into each room of a sample;
4. SIGKILL of two nodes (not n1) at once: failover (kill to an ack through a
   survivor, retried with the same client_msg_id) timed on probe rooms; every
   room of theirs that kept a majority of copies takes a write; time until
   every survivor lists both down. Rooms with two of three copies killed ack
   nothing, and take writes once the second killed node is restarted;
5. every room written to, read through survivors: each ack once at its seq,
   gapless, nothing unsent, nothing stored that only got errors; no copy set
   changed (no node was removed).

Prints a table, writes --out JSON, exits 1 on any failed check (named). Every
wait has a deadline and every loop a bound; nothing sleeps to wait.
"""

import argparse
import collections
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import HOST, Cluster, ServerError  # noqa: E402
from test_replication import rendezvous_top  # noqa: E402  (Python oracle of cluster/rendezvous.cpp)

# R: under rendezvous hashing a node's share of R keys is Binomial(R, 1/N),
# relative sd sqrt((N-1)/R): 5.0 % for N=16 and R=6000. The +-20 % bound is
# then 4 sd; the largest of 16 deviations is typically about 2 sd (10 %), and
# the chance that any node falls outside by luck is 16 * P(|Z| > 4) = 0.1 %
# (R=4000: 3.3 sd, 1.7 %). In Confab the node that makes a room draws ids
# until it owns one, so owners follow where creations are sent (every node in
# turn here: exactly R/N); the other two copies follow the hash (copies per
# node: sd about 2.3 % of 3R/N at N=16).
ROOMS = 6000
SPREAD = 0.20
CONVERGE_S = 60.0       # deadline for membership views (start, kill, restart)
WRITABLE_S = 60.0       # deadline for a room to take a write again
ATTEMPT_S = 1.0         # a send not answered by then is sent again (as test_replication's clients)
NODE_ARGS = ("--actor-threads", "1", "--io-threads", "1", "--rate-per-s", "1000000", "--rate-burst", "1000000")


class Check(Exception):
    """A failed check that ends this size's run; `rooms` are quoted from the logs."""

    def __init__(self, what, rooms=()):
        super().__init__(what)
        self.rooms = list(rooms)


_local = threading.local()


def call(port, method, path, body=None, token=None, timeout=harness.IO_TIMEOUT_S):
    """One request on this thread's keep-alive connection to `port`:
    (status, parsed body). A reused connection the server had closed is
    reopened once; timeouts and other errors are raised."""
    conns = _local.__dict__.setdefault("conns", {})
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Content-Type": "application/json"} if data else {}
    if token:
        hdrs["Authorization"] = "Bearer " + token
    for attempt in (0, 1):
        reused = port in conns
        conn = conns.get(port) or http.client.HTTPConnection(HOST, port, timeout=timeout)
        conns[port] = conn
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
        except BaseException as e:
            conn.close()
            conns.pop(port, None)
            if reused and attempt == 0 and isinstance(e, (ConnectionResetError, BrokenPipeError)):
                continue
            raise
        if resp.will_close:
            conns.pop(port, None).close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode("utf-8", "replace")
    raise AssertionError("unreachable")


def pmap(fn, items, threads):
    """[fn(item)] on `threads` threads, in order; the first exception is raised."""
    ex = ThreadPoolExecutor(max(1, threads))
    try:
        return list(ex.map(fn, items))
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def err_text(status, body):
    e = body.get("error") if isinstance(body, dict) else None
    return "%s %s" % (status, e.get("message") if isinstance(e, dict) else body)


def r3(x):
    return None if x is None else round(x, 3)


class ScaleRun:
    def __init__(self, n, args):
        self.n, self.args = n, args
        self.rng = random.Random(args.seed * 1000 + n)
        self.res = {"nodes": n, "rooms": args.rooms, "failures": []}
        self.cluster = None
        self.sends = {}                        # client_msg_id -> {room, seq, attempts: [[outcome, node, detail]]}
        self.by_room = collections.defaultdict(list)
        self.pause = threading.Event()         # never set: an interruptible wait between retries

    # -- clients and checks --------------------------------------------------

    def send(self, rid, cmid, label, via, deadline, attempts=1000, attempt_s=ATTEMPT_S):
        """Send into `rid` through the servers `via` in turn, with the same
        client_msg_id, until acknowledged, `attempts` made or `deadline`
        passed; the acked seq or None. Every attempt is recorded, and its
        number is in the body, so a stored message names its attempt."""
        rec = self.sends.get(cmid)
        if rec is None:
            rec = self.sends[cmid] = {"room": rid, "seq": None, "attempts": []}
            self.by_room[rid].append(cmid)
        for i in range(attempts):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s = via[(hash(cmid) + i) % len(via)]
            body = {"body": "%s #%d" % (label, len(rec["attempts"])), "client_msg_id": cmid}
            try:
                st, b = call(s.port, "POST", "/api/v1/rooms/%s/messages" % rid, body, self.token[rid],
                             timeout=min(attempt_s, max(left, 0.05)))
            except (OSError, http.client.HTTPException) as e:
                rec["attempts"].append(["timeout", s.node, repr(e)])
            else:
                if st == 201:
                    rec["seq"] = b["message"]["seq"]
                    rec["attempts"].append(["ok", s.node, rec["seq"]])
                    return rec["seq"]
                rec["attempts"].append(["error", s.node, err_text(st, b)])
            self.pause.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return None

    def last_attempts(self, rid):
        return self.sends[self.by_room[rid][-1]]["attempts"][-3:]

    def history(self, rid, server):
        msgs, after = [], 0
        for _ in range(100):
            st, b = call(server.port, "GET", "/api/v1/rooms/%s/messages?after=%d&limit=200" % (rid, after),
                         token=self.token[rid])
            if st != 200:
                raise Check("history of %s through %s: %s" % (rid, server.node, err_text(st, b)), [rid])
            msgs += b["messages"]
            if not b["has_more"] or not b["messages"]:
                return msgs
            after = b["messages"][-1]["seq"]
        raise Check("history of %s: paging bound reached" % rid, [rid])

    def placements(self, rooms, via):
        """{room: (owner, [owner] + replicas)} from the admin room endpoint."""
        def ask(i):
            rid, s = rooms[i], via[i % len(via)]
            st, b = call(s.port, "GET", "/admin/api/v1/rooms/%s" % rid, token=self.cluster.admin_token)
            if st != 200:
                raise Check("GET /admin/api/v1/rooms/%s on %s: %s" % (rid, s.node, err_text(st, b)), [rid])
            return rid, (b["owner"], [b["owner"]] + list(b["replicas"]))

        return dict(pmap(ask, range(len(rooms)), self.args.threads))

    def fail(self, what, rooms=()):
        """Record a failed check; quote what the nodes logged of its first rooms."""
        print("CHECK FAILED (N=%d): %s" % (self.n, what), flush=True)
        self.res["failures"].append(what)
        for rid in list(rooms)[:3]:
            for s in self.cluster.servers + self.cluster._old:
                for ln in ([ln for ln in s.stderr_text().splitlines() if rid in ln][-6:] if s else []):
                    print("  [%s] %s" % (s.node, ln[:300]))

    # -- the run -------------------------------------------------------------

    def run(self):
        try:
            self.start()
            self.make_rooms()
            self.placement()
            self.pre_kill_writes()
            self.kill_two()
            self.restart_one()
            self.check_histories()
            now = self.placements(list(self.by_room), self.survivors)
            moved = [r for r in self.by_room if sorted(now[r][1]) != sorted(self.copies[r])]
            self.res["copy_sets_changed"] = len(moved)
            if moved:   # PROTOCOL section 6: only a remove (or a new member) changes a copy set
                self.fail("%d copy sets changed with no node removed, e.g. %s" % (len(moved), [
                    "%s %s -> %s (owner %s)" % (r, self.copies[r], now[r][1], now[r][0]) for r in moved[:3]]), moved)
            self.res["warn_error_lines"] = {s.node: sum(1 for ln in s.stderr_text().splitlines()
                                                        if "] [warning] " in ln or "] [error] " in ln)
                                            for s in self.cluster.servers + self.cluster._old if s}
            try:
                self.cluster.stop(check=True)
            except ServerError as e:
                self.fail("clean shutdown: %s" % str(e)[:2000])
        except Check as e:
            self.fail(str(e), e.rooms)
        except Exception:       # noqa: B902 -- an unexpected error ends this size, not the run
            self.fail("unexpected error: %s" % traceback.format_exc()[-2000:])
        finally:
            if self.cluster is not None:
                self.cluster.stop(check=False)     # every node and every temporary dir
        return self.res

    def start(self):
        t0 = time.monotonic()
        self.cluster = Cluster(self.n, args=NODE_ARGS)
        self.cluster.start()                       # one after another, each waited for
        t_ready = time.monotonic()
        try:
            self.cluster.wait_converged(timeout=CONVERGE_S)
        except AssertionError as e:
            raise Check("no convergence within %.0f s: %s" % (CONVERGE_S, str(e)[:1500]))
        t = time.monotonic()
        self.res.update(converge_s=r3(t - t_ready), start_to_converged_s=r3(t - t0))
        print("N=%d: converged %.2f s after the last ready line, %.2f s after the first start"
              % (self.n, t - t_ready, t - t0), flush=True)
        self.nodes = list(self.cluster.servers)
        self.users = []                            # four, made and logged in through different nodes
        for i in range(4):
            name, pw = harness.unique("sc"), "pw-" + uuid.uuid4().hex[:12]
            st, b = call(self.nodes[i % self.n].port, "POST", "/api/v1/register", {"username": name, "password": pw})
            if st == 201:
                st, b = call(self.nodes[(i + 1) % self.n].port, "POST", "/api/v1/login",
                             {"username": name, "password": pw})
            if st != 200:
                raise Check("register or log in user %d: %s" % (i, err_text(st, b)))
            self.users.append(b["token"])

    def make_rooms(self):
        """Room i through node i mod N (which then owns it), by user i mod 4."""
        deadline = time.monotonic() + self.args.create_s
        self.token, self.creator = {}, {}

        def make(i):
            if time.monotonic() > deadline:
                raise Check("making %d rooms took longer than %.0f s" % (self.args.rooms, self.args.create_s))
            s, tok = self.nodes[i % self.n], self.users[i % len(self.users)]
            st, b = call(s.port, "POST", "/api/v1/rooms", {"name": "scale-%d" % i, "visibility": "private"}, tok)
            if st != 201:
                raise Check("create room %d through %s: %s" % (i, s.node, err_text(st, b)))
            return b["room"]["id"], tok, s.node

        t0 = time.monotonic()
        for rid, tok, node in pmap(make, range(self.args.rooms), self.args.threads):
            self.token[rid], self.creator[rid] = tok, node
        self.rooms = list(self.token)
        t = time.monotonic() - t0
        self.res.update(create_s=round(t, 2), create_per_s=round(len(self.rooms) / t, 1))
        print("N=%d: %d rooms made in %.1f s (%.0f/s)" % (self.n, len(self.rooms), t, len(self.rooms) / t), flush=True)

    def placement(self):
        self.owner, self.copies = {}, {}
        for rid, (owner, copies) in self.placements(self.rooms, self.nodes).items():
            self.owner[rid], self.copies[rid] = owner, copies
        ids, r, reps = self.cluster.ids(), len(self.rooms), min(3, self.n)
        owned = collections.Counter(self.owner.values())
        held = collections.Counter(c for cs in self.copies.values() for c in cs)
        share = {i: owned[i] * self.n / r for i in ids}             # 1.0: exactly R/N
        cshare = {i: held[i] * self.n / (r * reps) for i in ids}    # 1.0: exactly 3R/N
        self.res.update(owned=dict(owned), copies_per_node=dict(held),
                        owner_share_min=r3(min(share.values())), owner_share_max=r3(max(share.values())),
                        copy_share_min=r3(min(cshare.values())), copy_share_max=r3(max(cshare.values())))
        print("N=%d: owners per node %d..%d (R/N=%.0f; exact by design: a node makes ids it owns), "
              "copies per node %d..%d (3R/N=%.0f)"
              % (self.n, min(owned[i] for i in ids), max(owned.values()), r / self.n,
                 min(held[i] for i in ids), max(held.values()), r * reps / self.n), flush=True)
        for what, sh in (("owners", share), ("copies", cshare)):
            bad = {i: r3(v) for i, v in sh.items() if abs(v - 1) > SPREAD}
            if bad:
                self.fail("spread: %s per node outside +-20 %% of the mean (share of the mean): %r" % (what, bad))
        odd = [rid for rid in self.rooms
               if self.owner[rid] != self.creator[rid] or sorted(self.copies[rid]) != rendezvous_top(rid, ids, reps)]
        self.res["placement_mismatches"] = len(odd)
        if odd:
            self.fail("placement: %d rooms not owned by their creator or not on the first %d of their rendezvous "
                      "order, e.g. %s" % (len(odd), reps, [(x, self.creator[x], self.copies[x]) for x in odd[:3]]), odd)
        self.victims = sorted(ids[1:], key=lambda i: (-owned[i], int(i[1:])))[:2]
        self.res["victims"] = self.victims

    def pre_kill_writes(self):
        self.sample = self.rng.sample(self.rooms, min(self.args.sample, len(self.rooms)))
        deadline = time.monotonic() + WRITABLE_S

        def one(i):
            rid = self.sample[i]
            if self.send(rid, "pre-" + uuid.uuid4().hex, "pre", [self.nodes[i % self.n]], deadline) is None:
                raise Check("send to %s before the kill not acknowledged within %.0f s: %r"
                            % (rid, WRITABLE_S, self.last_attempts(rid)), [rid])

        pmap(one, range(len(self.sample)), self.args.threads)

    def kill_two(self):
        c, victims = self.cluster, self.victims
        self.survivors = [s for s in self.nodes if s.node not in victims]
        live = {r: sum(x not in victims for x in self.copies[r]) for r in self.rooms}
        self.majority = {r for r in self.rooms if 2 * live[r] > len(self.copies[r])}
        theirs = [r for r in self.rooms if r in self.majority and self.owner[r] in victims]
        per = [[r for r in self.sample if self.owner[r] == v and r in self.majority] for v in victims]
        probes = [r for pair in zip(*per) for r in pair][:self.args.probes]     # alternating between the two
        self.res.update(rooms_of_killed=sum(self.owner[r] in victims for r in self.rooms),
                        rooms_without_majority=len(self.rooms) - len(self.majority))
        print("N=%d: killing %s (owners of %d rooms; %d rooms keep a majority of their copies, %d do not)"
              % (self.n, ",".join(victims), self.res["rooms_of_killed"], len(self.majority),
                 self.res["rooms_without_majority"]), flush=True)
        down = {}

        def watch_down():
            try:
                c.wait_statuses({i: ("down" if i in victims else "up") for i in c.ids()}, self.survivors,
                                timeout=CONVERGE_S)
                down["s"] = time.monotonic() - t_kill
            except AssertionError as e:
                down["error"] = str(e)[:1500]

        for v in victims:                          # both at once, then reaped
            c.node(int(v[1:])).proc.kill()
        t_kill = time.monotonic()
        for v in victims:
            c.kill9(int(v[1:]))
        watcher = threading.Thread(target=watch_down, daemon=True)
        watcher.start()
        deadline, first = t_kill + WRITABLE_S, {}

        def write(rid):
            if self.send(rid, "post-" + uuid.uuid4().hex, "post", self.survivors, deadline) is not None:
                first[rid] = time.monotonic() - t_kill

        pmap(write, probes, len(probes))           # one client per probe: the failover time itself
        rest = [r for r in dict.fromkeys(theirs + [r for r in self.sample if r in self.majority]) if r not in first]
        pmap(write, rest, self.args.threads)       # then every other room of theirs, and the sample
        watcher.join(timeout=CONVERGE_S + 5)
        pt = sorted(first[r] for r in probes if r in first)
        self.res.update(probes=len(probes), failover_max_s=r3(pt[-1]) if pt else None,
                        failover_p50_s=r3(pt[len(pt) // 2]) if pt else None, down_detect_s=r3(down.get("s")),
                        all_rooms_of_killed_writable_s=r3(max([first.get(r, 0) for r in theirs] or [0])))
        print("N=%d: failover (%d probes) p50 %s s, max %s s; all %d rooms of theirs that kept a majority writable "
              "after %s s; both down on every survivor after %s s"
              % (self.n, len(pt), self.res["failover_p50_s"], self.res["failover_max_s"], len(theirs),
                 self.res["all_rooms_of_killed_writable_s"], self.res["down_detect_s"]), flush=True)
        if "error" in down:
            self.fail("down detection: %s" % down["error"])
        stuck = [r for r in theirs + rest if r not in first]
        if stuck:
            self.fail("%d rooms with a majority of live copies not writable within %.0f s of the kill, e.g. %s: %r"
                      % (len(stuck), WRITABLE_S, stuck[0], self.last_attempts(stuck[0])), stuck)
        # rooms without a majority: one attempt each on a few, answered (not timed out by us); no ack allowed
        self.qprobe = [r for r in self.sample if r not in self.majority][:16]
        far = time.monotonic() + 3 * harness.IO_TIMEOUT_S
        seqs = pmap(lambda r: self.send(r, "nq-" + uuid.uuid4().hex, "nq", self.survivors, far, attempts=1,
                                        attempt_s=far - time.monotonic()), self.qprobe, len(self.qprobe))
        acked = [(r, seq) for r, seq in zip(self.qprobe, seqs) if seq is not None]
        self.res["no_majority_probed"] = len(self.qprobe)
        if acked:
            self.fail("rooms with 2 of their 3 copies killed acknowledged a write (room, seq): %s" % acked,
                      [r for r, _ in acked])

    def restart_one(self):
        """The second killed node comes back: the rooms without a majority (of
        the sample, and every one the killed nodes owned) take writes again;
        the probes of step 4 are retried with their client_msg_id."""
        c, (gone, back_id) = self.cluster, self.victims
        t0 = time.monotonic()
        back = c.restart(int(back_id[1:]))
        want, seen = {i: ("down" if i == gone else "up") for i in c.ids()}, {}

        def rejoined():     # survivors list it up; it lists every live node up
            ok, seen["views"] = c.views_are(want, self.survivors)
            try:
                mine = seen["views"][back_id] = c.statuses(back)
            except (OSError, http.client.HTTPException, AssertionError):
                return False
            return ok and all(mine.get(i) == "up" for i, st in want.items() if st == "up")

        try:
            harness.poll(rejoined, "%s rejoined" % back_id, timeout=CONVERGE_S, interval=0.1)
        except AssertionError:
            raise Check("%s not rejoined within %.0f s: views %r" % (back_id, CONVERGE_S, seen.get("views")))
        self.res["restarted_node_lists_%s_as" % gone] = seen["views"][back_id].get(gone, "absent")
        sample = set(self.sample)
        todo = [r for r in self.rooms if r not in self.majority and (self.owner[r] in self.victims or r in sample)]
        deadline, ok, qset = time.monotonic() + WRITABLE_S, {}, set(self.qprobe)

        def retry(rid):
            cm = self.by_room[rid][-1] if rid in qset else "back-" + uuid.uuid4().hex
            if self.send(rid, cm, "back", self.survivors, deadline) is not None:
                ok[rid] = time.monotonic() - t0

        pmap(retry, todo, self.args.threads)
        self.res.update(rooms_after_restart=len(todo), restart_writable_s=r3(max(ok.values() or [0])))
        print("N=%d: %s restarted: %d/%d rooms without a majority writable again, the last %s s after the restart"
              % (self.n, back_id, len(ok), len(todo), self.res["restart_writable_s"]), flush=True)
        stuck = [r for r in todo if r not in ok]
        if stuck:
            self.fail("%d rooms not writable within %.0f s of restarting %s, e.g. %s: %r"
                      % (len(stuck), WRITABLE_S, back_id, stuck[0], self.last_attempts(stuck[0])), stuck)

    def check_histories(self):
        # through every running node, the restarted one included
        rooms, sample = list(self.by_room), set(self.sample)
        via = [s for s in self.cluster.servers if s is not None and s.running()]
        problems, after_error = collections.defaultdict(list), []

        def check(i):
            rid = rooms[i]
            views = [self.history(rid, via[(i + j) % len(via)]) for j in range(2 if rid in sample else 1)]
            if views[-1] != views[0]:
                problems["histories differing between two survivors"].append(rid)
            msgs = views[0]
            if [m["seq"] for m in msgs] != list(range(1, len(msgs) + 1)):
                problems["a seq gap or reorder"].append(rid)
            cms = [m.get("client_msg_id") for m in msgs]
            if len(set(cms)) != len(cms):
                problems["a message stored twice"].append(rid)
            if any(self.sends.get(cm, {}).get("room") != rid for cm in cms):
                problems["a message no client sent"].append(rid)
            stored = {m.get("client_msg_id"): m for m in msgs}
            for cm in self.by_room[rid]:
                rec, m = self.sends[cm], stored.get(cm)
                if rec["seq"] is not None and m is None:
                    problems["an acknowledged message lost"].append(rid)
                elif rec["seq"] is not None and m["seq"] != rec["seq"]:
                    problems["an acknowledged message at another seq"].append(rid)
                elif m is not None and rec["seq"] is None and all(a[0] == "error" for a in rec["attempts"]):
                    problems["a send answered only with errors stored"].append(rid)
                if m is not None:   # the attempt that stored it: answered with an error?
                    n = int(m.get("body", "#-1").rsplit("#", 1)[-1])
                    if 0 <= n < len(rec["attempts"]) and rec["attempts"][n][0] == "error":
                        after_error.append((rid, m["seq"], rec["attempts"][n][2], "acked to a retry: seq %s"
                                            % rec["seq"]))

        pmap(check, range(len(rooms)), self.args.threads)
        self.res.update(rooms_checked=len(rooms), acked=sum(r["seq"] is not None for r in self.sends.values()),
                        lost=len(problems["an acknowledged message lost"]), stored_after_error_answer=len(after_error))
        if after_error:     # allowed (a retry with its client_msg_id was acknowledged), but not "stores nothing"
            print("N=%d: %d messages stored by an attempt answered with an error, e.g. %r"
                  % (self.n, len(after_error), after_error[:3]), flush=True)
        for what, rids in problems.items():
            if rids:
                self.fail("%s in %d rooms, e.g. %s: %r" % (what, len(rids), rids[0],
                                                          {cm: self.sends[cm] for cm in self.by_room[rids[0]]}), rids)


def main():
    # ctest's timeout or a Ctrl-C: every size's cluster is stopped (finally)
    signal.signal(signal.SIGTERM, lambda sig, _frame: sys.exit("signal %d" % sig))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4,8,16", help="cluster sizes, comma-separated (default 4,8,16)")
    ap.add_argument("--rooms", type=int, default=ROOMS, help="rooms per cluster (default %d)" % ROOMS)
    ap.add_argument("--sample", type=int, default=1000, help="rooms that get a message before the kill")
    ap.add_argument("--probes", type=int, default=32, help="rooms of the killed nodes timed, one client each")
    ap.add_argument("--threads", type=int, default=16, help="client threads for bulk requests (default 16)")
    ap.add_argument("--create-s", type=float, default=180.0, help="deadline for making the rooms")
    ap.add_argument("--seed", type=int, default=1, help="seeds the sample")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if any(n < 4 for n in sizes):
        ap.error("sizes must be at least 4 (two nodes are killed; n1 and one more stay)")
    results = []
    for n in sizes:
        results.append(ScaleRun(n, args).run())
        if args.out:      # after every size, so a later hang leaves the earlier ones
            with open(args.out, "w") as f:
                json.dump({"seed": args.seed, "sizes": results}, f, indent=1)
    fmt = "%4s %8s %11s %12s %12s %9s %9s %8s %9s %5s  %s"
    print("\n" + fmt % ("N", "conv s", "start-conv", "owner/(R/N)", "copy/(3R/N)", "fail p50", "fail max",
                        "down s", "restart s", "lost", "result"))
    for r in results:
        g = lambda k: "-" if r.get(k) is None else r[k]  # noqa: E731
        print(fmt % (r["nodes"], g("converge_s"), g("start_to_converged_s"),
                     "%s..%s" % (g("owner_share_min"), g("owner_share_max")),
                     "%s..%s" % (g("copy_share_min"), g("copy_share_max")), g("failover_p50_s"), g("failover_max_s"),
                     g("down_detect_s"), g("restart_writable_s"), g("lost"), "FAIL" if r["failures"] else "ok"))
    failed = [(r["nodes"], f) for r in results for f in r["failures"]]
    for n, f in failed:
        print("FAIL N=%d: %s" % (n, f[:600]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
