#!/usr/bin/python3
"""Multi-node cluster: membership views converge (admin API), any node serves
any user and room (chat, direct rooms, presence, token revocation across
nodes), a fourth node joins while clients send (no acknowledged message lost,
gapless and identical history through every node), SIGKILL of a node (down
within 10 s, its rooms `unavailable`, the others' rooms served, full history
after the restart) and a node with another secret is refused.

Nodes are n1..nN (harness.Cluster): one secret file, one admin token, n1
without seeds, every other node seeding from n1."""

import collections
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (HOST, ClusterCase, Server, free_port, main, poll, retry_after_ms,  # noqa: E402
                     write_secret)

EVENT_S = 10.0          # an event that crosses nodes
REVOKE_S = 3.0          # the contract: within 1 s; some slack for the polling itself
DOWN_S = 10.0           # the contract: a killed node is down within 10 s

# Error codes of a send that no retry can fix.
PERMANENT = {"invalid_request", "not_member", "forbidden", "unauthorized", "not_found", "too_large",
             "unknown_op", "conflict"}


def cmid():
    return "c-" + uuid.uuid4().hex


def key(m):
    """The fields of a message that must be identical through every node and client."""
    return (m.get("room"), m.get("seq"), m.get("msg_id"), m.get("from"), m.get("ts"), m.get("body"),
            m.get("client_msg_id"), m.get("thread"), m.get("edited_at"), json.dumps(m.get("reactions")),
            json.dumps(m.get("thread_summary"), sort_keys=True))


def count(x):
    """`members` of the room admin view: a number (or, tolerated, a list)."""
    return len(x) if isinstance(x, list) else x


def wait_presence(ws, username, status, timeout=EVENT_S):
    return ws.wait_event("presence", lambda d: d.get("user") == username and d.get("status") == status,
                         timeout=timeout)


def statuses_of(ws, username):
    return [d["status"] for d in ws.events("presence", lambda d: d.get("user") == username)]


def raw_get(port, path, token, headers=None):
    """GET with the body as bytes: (status, headers, body)."""
    import http.client
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers or {}, Authorization="Bearer " + token))
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


class Sender:
    """One WebSocket session that sends and retries until acknowledged.

    A send that times out or fails with a transient error (`unavailable`,
    `rate_limited`, anything not in PERMANENT) is retried with the same
    client_msg_id, which must yield the same message; `rate_limited` waits the
    server's retry_after_ms, other errors back off briefly. A closed socket
    fails the test (the contract closes sockets only for the listed reasons).
    """

    def __init__(self, case, ws, label, attempt_s=5.0):
        self.case = case
        self.ws = ws
        self.label = label
        self.attempt_s = attempt_s   # how long one attempt waits for its answer
        self.requests = {}       # request id -> (room, client_msg_id)
        self.retries = 0

    def send(self, rid, body, client_msg_id, deadline_s=30.0, **extra):
        return self.request("send", rid, client_msg_id, deadline_s, dict(extra, body=body,
                                                                         client_msg_id=client_msg_id))

    def change(self, op, rid, what, deadline_s=30.0, **fields):
        """An edit or a reaction, retried like a send (doing it again
        changes nothing more): its ok data. KNOWN BUG (notes of issue 20):
        while a room is handed off, a request can reach an empty room
        actor on the new owner and get not_found "no such room"; seen once
        for a reaction in a fresh clone, so changes retry it too."""
        return self.request(op, rid, None, deadline_s, fields, transient=("not_found",))

    def request(self, op, rid, client_msg_id, deadline_s, fields, transient=()):
        deadline = time.monotonic() + deadline_s
        backoff = 0.05
        last = None
        for attempt in range(10000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            req = self.ws.new_id()
            if client_msg_id is not None:
                self.requests[req] = (rid, client_msg_id)
            self.ws.send_obj(dict(fields, op=op, id=req, room=rid))
            try:
                r = self.ws.wait_reply(req, timeout=min(self.attempt_s, left))
            except AssertionError as e:
                if self.ws.closed:
                    raise AssertionError("%s: socket closed while sending to %s: %s" % (self.label, rid, e))
                last = "no reply within %s s" % self.attempt_s
                self.retries += 1
                continue
            if r.get("op") == "ok":
                return r["data"]
            last = r
            code = r.get("code")
            if code in PERMANENT and code not in transient:
                raise AssertionError("%s: %s %s to %s refused: %r" % (self.label, op, client_msg_id, rid, r))
            self.retries += 1
            wait = retry_after_ms(r)
            if code == "rate_limited" and isinstance(wait, (int, float)):
                self.ws.idle(min(max(wait, 1), 5000) / 1000.0)
            else:
                self.ws.idle(backoff)         # client retry back-off
                backoff = min(backoff * 2, 1.0)
        raise AssertionError("%s: %s %s to %s not acknowledged within %ss (%d retries); last answer: %r"
                             % (self.label, op, client_msg_id, rid, deadline_s, self.retries, last))

    def drain(self, deadline_s=15.0):
        """A ping answered ok (waiting out rate_limited answers): every reply
        the server sent before it has been read."""
        deadline = time.monotonic() + deadline_s
        for _ in range(1000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r = self.ws.request("ping", timeout=left)
            if r.get("op") == "ok":
                return
            wait = retry_after_ms(r)
            if r.get("code") != "rate_limited" or not isinstance(wait, (int, float)):
                raise AssertionError("%s: ping answered %r" % (self.label, r))
            self.ws.idle(min(max(wait, 1), 5000) / 1000.0)
        raise AssertionError("%s: no ok answer to a ping within %ss" % (self.label, deadline_s))

    def late_acks(self):
        """Every ok reply to a send that was not taken (a retried attempt
        answered late): [(room, client_msg_id, data)]."""
        out = []
        for req, (rid, c) in self.requests.items():
            for r in self.ws.replies.get(("int", str(req)), []):
                if r.get("op") == "ok":
                    out.append((rid, c, r.get("data")))
        return out


class ClusterBase(ClusterCase):

    def history_via(self, token, rid, server, timeout=10.0):
        """The whole history of a room through `server`, once it answers 200
        (a room may be unavailable for a moment while it moves)."""
        path = "/api/v1/rooms/%s/messages?limit=1" % rid
        last = []

        def readable():
            resp = self.api("GET", path, token=token, server=server)
            last[:] = [resp[0], resp[2]]
            return resp[0] == 200

        try:
            poll(readable, "history of %s readable through %s" % (rid, server.node), timeout=timeout)
        except AssertionError as e:
            raise AssertionError("%s; last answer: %r" % (e, last))
        return self.full_history(token, rid, server=server)

    def dm(self, token, username, server):
        room = self.assert_status(self.api("POST", "/api/v1/dm", {"username": username}, token=token,
                                           server=server), 200)["room"]
        return room

    def presence_via(self, token, username, server):
        body = self.assert_status(self.api("GET", "/api/v1/users/%s" % username, token=token, server=server), 200)
        return body["presence"]


class ClusterTest(ClusterBase):
    """Read-only cases sharing one 3-node cluster."""

    def test_nodes_converge(self):
        nodes = self.nodes()
        ids = self.cluster.ids()
        self.assertEqual(ids, ["n1", "n2", "n3"])
        addresses = {}
        for s in nodes:
            with self.subTest(observer=s.node):
                self.assert_healthy(s)
                table = self.cluster.node_table(s)
                self.assertEqual(sorted(table), ids, "node list of %s: %r" % (s.node, table))
                for nid, n in table.items():
                    self.assertEqual(n.get("status"), "up", n)
                    self.assertIsInstance(n.get("address"), str, n)
                    self.assertTrue(n["address"], n)
                    for f in ("rooms", "sessions", "presences", "uptime_ms"):
                        self.assertIsInstance(n.get(f), int, "%s of %s: %r" % (f, nid, n))
                        self.assertNotIsInstance(n.get(f), bool, n)
                        self.assertGreaterEqual(n[f], 0, n)
                addresses[s.node] = {nid: n["address"] for nid, n in table.items()}
        for s in nodes[1:]:
            self.assertEqual(addresses[s.node], addresses[nodes[0].node],
                             "nodes disagree on the members' addresses")
        for spec in self.cluster.specs:
            self.assertTrue(addresses["n1"][spec.node_id].endswith(":%d" % spec.cluster_port),
                            "address of %s is %r, its cluster port is %d"
                            % (spec.node_id, addresses["n1"][spec.node_id], spec.cluster_port))
        self.assertEqual(len(set(addresses["n1"].values())), 3, addresses)

        # the list covers the whole cluster: a session on n2 shows in every view
        u = self.new_user(server=nodes[1])
        self.connect(u.token, server=nodes[1])
        poll(lambda: all(self.cluster.node_table(s)["n2"]["sessions"] >= 1 for s in nodes),
             "every node counts the session open on n2", timeout=10)

        # the admin API wants the admin token, on every node
        rid = self.create_room(u.token, server=nodes[1])["id"]
        for s in nodes:
            for path in ("/admin/api/v1/nodes", "/admin/api/v1/rooms/%s" % rid):
                with self.subTest(node=s.node, path=path):
                    self.assert_error(s.http("GET", path), 401, "unauthorized")
                    self.assert_error(s.http("GET", path, token="wrong-" + uuid.uuid4().hex), 401, "unauthorized")
                    self.assert_error(s.http("GET", path, token=u.token), 401, "unauthorized")

    def test_edits_deletes_and_reactions_across_nodes(self):
        n1, n2, n3 = self.nodes()
        a, b = self.new_user(server=n1), self.new_user(server=n2)
        rid = self.create_room(a.token, server=n1)["id"]
        self.join(b.token, rid, server=n2)
        wb = self.connect(b.token, server=n2)
        status, _, up = self.api("POST", "/api/v1/rooms/%s/files" % rid, raw_body=b"notes on n2",
                                 headers={"Content-Type": "text/plain", "X-Filename": "n.txt"}, token=a.token,
                                 server=n2)
        self.assertEqual(status, 201, up)
        fid = up["file"]["id"]
        m1 = self.post(a.token, rid, "draft", server=n3)
        m2 = self.post(a.token, rid, "with a file", server=n1, file_id=fid)
        path = "/api/v1/rooms/%s/messages/%%d" % rid
        self.assert_status(self.api("PATCH", path % m1["seq"], {"body": "final"}, token=a.token, server=n3), 200)
        wb.ok("react", room=rid, seq=m1["seq"], emoji="ok", active=True)
        self.assert_status(self.api("DELETE", path % m2["seq"], token=a.token, server=n2), 204)
        wb.wait_event("message_update", lambda d: d.get("deleted"), timeout=EVENT_S)
        # a thread on m1: replies through two nodes, one deleted through a third
        r1 = self.post(b.token, rid, "reply one", server=n2, thread=m1["seq"])
        r2 = wb.ok("send", room=rid, body="reply two", client_msg_id=cmid(), thread=r1["seq"])
        r3 = self.post(a.token, rid, "reply three", server=n3, thread=m1["seq"])
        self.assert_status(self.api("DELETE", path % r3["seq"], token=a.token, server=n1), 204)
        for s in (n1, n2, n3):
            with self.subTest(node=s.node):
                h = self.history_via(b.token, rid, s)
                self.assertEqual((h[0]["body"], h[0]["reactions"][0]["users"]), ("final", [b.username]))
                self.assertEqual(h[0]["thread_summary"], {"replies": 2, "last_ts": r2["ts"],
                                                          "participants": [b.username]})
                self.assertTrue(h[1]["deleted"])
                self.assertNotIn("file", h[1])
                self.assert_error(self.api("GET", "/api/v1/files/%s" % fid, token=a.token, server=s), 404)
                t = self.assert_status(self.api("GET", "/api/v1/rooms/%s/threads/%d" % (rid, m1["seq"]),
                                                token=a.token, server=s), 200)
                self.assertEqual([(x["seq"], x.get("deleted", False)) for x in t["messages"]],
                                 [(r1["seq"], False), (r2["seq"], False), (r3["seq"], True)])

    def test_search_across_nodes(self):
        n1, n2, n3 = self.nodes()
        a, b = self.new_user(server=n1), self.new_user(server=n2)
        word = "w" + uuid.uuid4().hex[:10]
        rooms = [self.create_room(a.token, server=(n1, n2, n3)[i % 3])["id"] for i in range(6)]
        sent = []
        for i, rid in enumerate(rooms):
            self.join(b.token, rid, server=n3)
            sent.append((rid, self.post(a.token, rid, "%s number %d" % (word, i), server=(n1, n2, n3)[i % 3])["seq"]))
        self.assertGreater(len({self.cluster.room_owner(rid) for rid in rooms}), 1, "all rooms on one node")
        path = "/api/v1/search?q=%s&limit=4" % word
        for s in (n1, n2, n3):
            with self.subTest(node=s.node):
                seen, before = [], ""
                for _ in range(5):
                    page = self.assert_status(self.api("GET", path + before, token=b.token, server=s), 200)
                    seen += [(r["message"]["room"], r["message"]["seq"]) for r in page["results"]]
                    if "next" not in page:
                        break
                    before = "&before=" + page["next"]
                self.assertEqual(seen, list(reversed(sent)), "each hit once, newest first")
        # b leaves one room (through another node): its message is no longer found anywhere
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/leave" % rooms[0], token=b.token, server=n1), 204)
        for s in (n1, n2, n3):
            page = self.assert_status(self.api("GET", path.replace("limit=4", "limit=50"), token=b.token,
                                               server=s), 200)
            self.assertEqual([r["message"]["room"] for r in page["results"]], list(reversed(rooms[1:])))

    def test_chat_across_nodes(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        b = self.new_user(server=n2)
        c = self.new_user(server=n3)
        rid = self.create_room(a.token, server=n1)["id"]
        wa = self.connect(a.token, server=n1)
        self.join(b.token, rid, server=n2)
        self.join(c.token, rid, server=n3)
        for u in (b, c):
            ev = wa.wait_event("member", lambda d, u=u: d.get("room") == rid and d.get("action") == "joined"
                               and d.get("user") == u.username, timeout=EVENT_S)
            self.assertEqual(ev["user"], u.username)
        self.assertEqual(set(self.members(c.token, rid, server=n2)), {a.username, b.username, c.username})
        wb = self.connect(b.token, server=n2)
        wc = self.connect(c.token, server=n3)
        clients = (("a@n1", a, wa), ("b@n2", b, wb), ("c@n3", c, wc))

        # five rounds, each client sending without waiting for its acks
        sent = {}      # (client label, request id) -> (client_msg_id, body)
        for i in range(5):
            for label, u, ws in clients:
                req = ws.new_id()
                c_id = cmid()
                body = "round %d from %s" % (i, label)
                sent[(label, req)] = (c_id, body, u.username)
                ws.send_obj({"op": "send", "id": req, "room": rid, "body": body, "client_msg_id": c_id})
        acks = {}
        for (label, req), (c_id, body, sender) in sent.items():
            ws = dict((lbl, w) for lbl, _, w in clients)[label]
            r = ws.wait_reply(req, timeout=EVENT_S)
            self.assertEqual(r.get("op"), "ok", "send from %s: %r" % (label, r))
            self.assertEqual(r["data"]["room"], rid, r)
            acks[r["data"]["seq"]] = (r["data"], c_id, body, sender)
        self.assertEqual(sorted(acks), list(range(1, 16)), "acked seqs are not 1..15 exactly once")

        # every client gets every message, in seq order
        seen = {}
        for label, _, ws in clients:
            with self.subTest(receiver=label):
                for seq in range(1, 16):
                    ws.wait_event("message", lambda d, seq=seq: d.get("room") == rid and d.get("seq") == seq,
                                  timeout=EVENT_S)
                got = ws.events("message", lambda d: d.get("room") == rid)
                self.assertEqual([m["seq"] for m in got], list(range(1, 16)),
                                 "message events of %s are not the seqs 1..15 in order" % label)
                seen[label] = [key(m) for m in got]
        self.assertEqual(seen["b@n2"], seen["a@n1"], "clients on n1 and n2 saw different messages")
        self.assertEqual(seen["c@n3"], seen["a@n1"], "clients on n1 and n3 saw different messages")
        for k in seen["a@n1"]:
            ack, c_id, body, sender = acks[k[1]]
            self.assertEqual(k[:7], (rid, ack["seq"], ack["msg_id"], sender, ack["ts"], body, c_id))

        # history through every node, over HTTP and WebSocket, is the same
        for s in (n1, n2, n3):
            with self.subTest(history_via=s.node):
                msgs = self.full_history(a.token, rid, server=s)
                self.assertEqual([key(m) for m in msgs], seen["a@n1"])
        for label, _, ws in clients:
            with self.subTest(ws_history=label):
                h = ws.ok("history", room=rid, limit=200)
                self.assertEqual([key(m) for m in h["messages"]], seen["a@n1"])
                self.assertFalse(h["has_more"])

        # the room's admin view is the same from every node
        views = [self.cluster.room_admin(rid, server=s) for s in (n1, n2, n3)]
        for v in views:
            self.assertEqual(v.get("room"), rid, v)
            self.assertIn(v.get("owner"), self.cluster.ids(), v)
            self.assertEqual(v.get("owner"), views[0]["owner"], "nodes disagree on the owner: %r" % (views,))
            self.assertEqual(v.get("last_seq"), 15, v)
            self.assertEqual(count(v.get("members")), 3, v)

    def test_dm_across_nodes(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        b = self.new_user(server=n3)
        room = self.dm(a.token, b.username, n1)
        self.assertEqual(room.get("kind"), "dm", room)
        dm = room["id"]
        self.assertEqual(self.dm(b.token, a.username, n3)["id"], dm, "the two sides got different direct rooms")
        self.assertEqual(self.dm(b.token, a.username, n2)["id"], dm)
        wa = self.connect(a.token, server=n1)
        wb = self.connect(b.token, server=n3)
        for u, other in ((a, b), (b, a)):
            poll(lambda u=u, other=other: self.presence_via(other.token, u.username, n2)["status"] != "offline",
                 "%s shows online" % u.username, timeout=EVENT_S)

        ack = wa.ok("send", room=dm, body="hello from n1", client_msg_id=cmid())
        self.assertEqual(ack["seq"], 1)
        for ws in (wa, wb):
            m = ws.wait_event("message", lambda d: d.get("room") == dm and d.get("seq") == 1, timeout=EVENT_S)
            self.assertEqual((m["from"], m["body"], m["msg_id"]), (a.username, "hello from n1", ack["msg_id"]))
        n = wb.wait_event("notification", lambda d: d.get("room") == dm and d.get("seq") == 1, timeout=EVENT_S)
        self.assertEqual((n.get("from"), n.get("reason"), n.get("preview")), (a.username, "dm", "hello from n1"))

        back = wb.ok("send", room=dm, body="hello from n3", client_msg_id=cmid())
        self.assertEqual(back["seq"], 2)
        for ws in (wa, wb):
            m = ws.wait_event("message", lambda d: d.get("room") == dm and d.get("seq") == 2, timeout=EVENT_S)
            self.assertEqual((m["from"], m["body"]), (b.username, "hello from n3"))
        n = wa.wait_event("notification", lambda d: d.get("room") == dm and d.get("seq") == 2, timeout=EVENT_S)
        self.assertEqual((n.get("from"), n.get("reason"), n.get("preview")), (b.username, "dm", "hello from n3"))
        self.assertEqual(wa.events("notification", lambda d: d.get("room") == dm and d.get("seq") == 1), [],
                         "the sender was notified of its own direct message")

        # an HTTP post through the third node reaches both
        third = self.post(a.token, dm, "via n2", client_msg_id=cmid(), server=n2)
        self.assertEqual(third["seq"], 3)
        for ws in (wa, wb):
            ws.wait_event("message", lambda d: d.get("room") == dm and d.get("seq") == 3, timeout=EVENT_S)
        for s in (n1, n2, n3):
            self.assertEqual([(m["seq"], m["from"], m["body"]) for m in self.full_history(b.token, dm, server=s)],
                             [(1, a.username, "hello from n1"), (2, b.username, "hello from n3"),
                              (3, a.username, "via n2")], "history of the direct room through %s" % s.node)

    def test_files_across_nodes(self):
        """A file uploaded through one node, to a room another node serves, is
        downloaded (whole and ranges) and attached through every node."""
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        rid = self.create_room(a.token, server=n2)["id"]
        data = bytes((i * 7) % 251 for i in range(600 * 1024))  # three chunks
        status, _, body = n3.http("POST", "/api/v1/rooms/%s/files" % rid, token=a.token, raw_body=data,
                                  headers={"x-filename": "data.bin", "content-type": "application/octet-stream"})
        self.assertEqual(status, 201, body)
        fid = body["file"]["id"]
        for s in (n1, n2, n3):
            status, headers, got = raw_get(s.port, "/api/v1/files/" + fid, a.token)
            self.assertEqual((status, len(got)), (200, len(data)), "download through %s" % s.node)
            self.assertEqual(got, data, "download through %s" % s.node)
            status, _, got = raw_get(s.port, "/api/v1/files/" + fid, a.token, {"Range": "bytes=262000-524999"})
            self.assertEqual((status, got), (206, data[262000:525000]), "range through %s" % s.node)
        message = self.post(a.token, rid, "attached", client_msg_id=cmid(), server=n1, file_id=fid)
        self.assertEqual(message["file"]["id"], fid)
        other = self.create_room(a.token, server=n1)["id"]
        status, _, err = n2.http("POST", "/api/v1/rooms/%s/messages" % other, {"body": "x", "file_id": fid},
                                 token=a.token)
        self.assertEqual((status, err["error"]["code"]), (400, "invalid_request"), "a file of another room")
        stranger = self.new_user(server=n2)
        status, _, _ = raw_get(n1.port, "/api/v1/files/" + fid, stranger.token)
        self.assertEqual(status, 403, "a non-member downloads a file through another node")

    def test_presence_across_nodes(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        b = self.new_user(server=n2)
        wa = self.connect(a.token, server=n1)
        w = wa.ok("watch", users=[b.username])
        self.assertEqual(w["presence"][b.username]["status"], "offline", w)

        wb3 = self.connect(b.token, server=n3)
        wait_presence(wa, b.username, "online")
        poll(lambda: self.presence_via(a.token, b.username, n2)["status"] == "online",
             "GET /users/b through n2 says online", timeout=EVENT_S)
        # a second session on another node; a status change through it is the
        # barrier that shows the presence counts it
        wb2 = self.connect(b.token, server=n2)
        wb2.ok("presence", status="dnd")
        wait_presence(wa, b.username, "dnd")
        # the session on n3 ends: b still has one on n2, so b stays dnd
        wb3.close()
        wb2.ok("presence", status="away")
        wait_presence(wa, b.username, "away")
        # the last session ends
        t_close = int(time.time() * 1000)
        wb2.close()
        ev = wait_presence(wa, b.username, "offline")
        self.assertEqual(statuses_of(wa, b.username), ["online", "dnd", "away", "offline"],
                         "presence of b as seen from n1 (b online while any session is open anywhere)")
        self.assertIsInstance(ev.get("last_seen"), int, ev)
        self.assertGreaterEqual(ev["last_seen"], t_close - 2000, ev)
        for s in (n1, n2, n3):
            poll(lambda s=s: self.presence_via(a.token, b.username, s)["status"] == "offline",
                 "GET /users/b through %s says offline" % s.node, timeout=EVENT_S)

    def test_tokens_and_logout_across_nodes(self):
        nodes = self.nodes()
        n1, n2, n3 = nodes
        u = self.new_user(server=n1)
        t3 = self.login(u.username, u.password, server=n3)["token"]
        keep = self.login(u.username, u.password, server=n2)["token"]
        # a token issued by any node works on every node, over HTTP and WebSocket
        for tok, issuer in ((u.token, "n1"), (t3, "n3"), (keep, "n2")):
            for s in nodes:
                with self.subTest(issued_by=issuer, used_on=s.node):
                    me = self.assert_status(self.api("GET", "/api/v1/me", token=tok, server=s), 200)
                    self.assertEqual(me["user"]["username"], u.username)
                    ws = self.connect(tok, server=s)
                    self.assertEqual(ws.auth_data["user"]["username"], u.username)
                    ws.close()

        # t3 (issued by n3) logged out through n2: dead on every node
        self.assert_status(self.api("POST", "/api/v1/logout", token=t3, server=n2), 204)
        t0 = time.monotonic()
        for s in nodes:
            poll(lambda s=s: self.api("GET", "/api/v1/me", token=t3, server=s)[0] == 401,
                 "the logged-out token fails on %s" % s.node, timeout=max(0.5, REVOKE_S - (time.monotonic() - t0)))
        for s in nodes:
            with self.subTest(revoked_on=s.node):
                self.assert_error(self.api("GET", "/api/v1/me", token=t3, server=s), 401, "unauthorized")
                self.assert_error(self.api("GET", "/api/v1/rooms", token=t3, server=s), 401, "unauthorized")
                ws = self.connect(server=s)
                ws.send_obj({"op": "auth", "id": 1, "token": t3})
                self.assertEqual(ws.expect_close(), 4401)
                self.assertEqual([f.get("code") for f in ws.frames if f.get("op") == "error"], ["unauthorized"],
                                 ws.frames)
                self.assertFalse([f for f in ws.frames if f.get("op") == "ok"], ws.frames)
        # the user's other tokens are unaffected
        for s in nodes:
            for tok in (u.token, keep):
                self.assert_status(self.api("GET", "/api/v1/me", token=tok, server=s), 200)
            self.connect(keep, server=s)


class NodeJoinTest(ClusterBase):
    """A fourth node joins while three sessions (one per node) keep sending
    to 12 rooms, and editing, reacting to and replying in the thread of
    earlier messages; afterwards every acknowledged message is in its room's
    history, gapless, once, identical through every node, with every
    acknowledged edit, reaction and thread reply."""

    ROOMS = 12
    MAX_DURING = 360           # messages sent while the fourth node joins, at most

    def test_fourth_node_joins_while_clients_send(self):
        n1, n2, n3 = self.nodes()
        users = [self.new_user(server=s) for s in (n1, n2, n3)]
        rooms = [self.create_room(users[0].token, server=(n1, n2, n3)[i % 3])["id"] for i in range(self.ROOMS)]
        for u, s in zip(users[1:], (n2, n3)):
            for rid in rooms:
                self.join(u.token, rid, server=s)
        senders = [Sender(self, self.connect(u.token, server=s), "%s@%s" % (u.username, s.node))
                   for u, s in zip(users, (n1, n2, n3))]
        acked = {rid: {} for rid in rooms}      # room -> client_msg_id -> (ack, body, username)
        by_seq = {rid: {} for rid in rooms}     # room -> seq -> client_msg_id
        counter = [0]

        edits = {}          # (room, seq) -> the newest acknowledged body
        reacted = {}        # (room, seq) -> the usernames that reacted
        threads = {}        # room -> seqs of the replies to its first message

        def send(sender, rid, phase, **extra):
            i = counter[0]
            counter[0] += 1
            c_id = "j%d-%s" % (i, uuid.uuid4().hex[:12])
            body = "%s #%d from %s" % (phase, i, sender.label)
            ack = sender.send(rid, body, c_id, **extra)
            self.assertEqual(ack.get("room"), rid, ack)
            seq = ack.get("seq")
            self.assertIsInstance(seq, int, ack)
            other = by_seq[rid].get(seq)
            self.assertIsNone(other, "seq %d of %s acknowledged for two messages: %s and %s"
                              % (seq, rid, other, c_id))
            by_seq[rid][seq] = c_id
            acked[rid][c_id] = (ack, body, sender.label.split("@")[0])
            if "thread" in extra:
                threads.setdefault(rid, []).append(seq)

        def change(k, i):
            """In room k: an edit of the newest message of the session that
            sends there, a reaction to the first message or a reply in its
            thread from another session."""
            rid = rooms[k]
            sender = senders[k % 3] if i % 3 == 0 else senders[(k + 1) % 3]
            me = sender.label.split("@")[0]
            if i % 3 == 0:
                mine = [a["seq"] for a, _, frm in acked[rid].values() if frm == me]
                if mine:
                    body = "edited #%d by %s" % (i, me)
                    sender.change("edit", rid, "edit", seq=max(mine), body=body)
                    edits[(rid, max(mine))] = body
            elif i % 3 == 1:
                sender.change("react", rid, "react", seq=1, emoji="+1", active=True)
                reacted.setdefault((rid, 1), set()).add(me)
            else:
                send(sender, rid, "reply", thread=1)

        for i, rid in enumerate(rooms):
            send(senders[i % 3], rid, "before")

        n4 = self.cluster.add_node(wait=False)
        converged = False
        next_check = 0.0
        for i in range(self.MAX_DURING):
            send(senders[i % 3], rooms[i % self.ROOMS], "during")
            change((i * 5) % self.ROOMS, i)
            if n4.exited():
                self.cluster.wait_ready(4)      # raises with its output
            if n4.ready() and time.monotonic() >= next_check:
                next_check = time.monotonic() + 0.25
                if self.cluster.converged():
                    converged = True
                    break
        for sender in senders:
            sender.drain()                 # reads late answers to retried sends
        self.cluster.wait_ready(4)
        if not converged:
            self.cluster.wait_converged()
        n4 = self.cluster.node(4)
        self.assertEqual(n4.node, "n4")

        # after the join: a fresh session on each node, the new one included,
        # sends to every room (fresh: the earlier ones may have sat unread
        # while the join completed)
        after = [Sender(self, self.connect(u.token, server=s), "%s@%s" % (u.username, s.node))
                 for u, s in zip(users + users[:1], self.nodes())]
        for sender in after:
            for rid in rooms:
                send(sender, rid, "after")
        for sender in after:
            sender.drain()
        senders += after

        # a late answer to a retried attempt names the same message
        for sender in senders:
            for rid, c_id, data in sender.late_acks():
                self.assertEqual((data.get("seq"), data.get("msg_id")),
                                 (acked[rid][c_id][0]["seq"], acked[rid][c_id][0]["msg_id"]),
                                 "a retry of %s in %s got another message (%s)" % (c_id, rid, sender.label))

        # every node agrees on each room's owner
        nodes = self.nodes()
        def owners(rid):
            try:
                return {self.cluster.room_owner(rid, server=s) for s in nodes}
            except (AssertionError, OSError):
                return set()

        for rid in rooms:
            poll(lambda rid=rid: len(owners(rid)) == 1, "every node names the same owner of %s" % rid, timeout=10)
            self.assertIn(self.cluster.room_owner(rid), self.cluster.ids())

        # the history of every room through every node, with the changes
        for rid in rooms:
            expected = sorted(((a["seq"], a["msg_id"], frm, edits.get((rid, a["seq"]), body), c_id)
                               for c_id, (a, body, frm) in acked[rid].items()))
            first = None
            for s in nodes:
                with self.subTest(room=rid, via=s.node):
                    msgs = self.history_via(users[1].token, rid, s)
                    seqs = [m["seq"] for m in msgs]
                    self.assertEqual(seqs, list(range(1, len(msgs) + 1)), "seqs of %s through %s are not gapless"
                                     % (rid, s.node))
                    dup = [c for c, k in collections.Counter(m.get("client_msg_id") for m in msgs).items() if k > 1]
                    self.assertEqual(dup, [], "messages stored twice in %s" % rid)
                    got = [(m["seq"], m["msg_id"], m["from"], m.get("body"), m.get("client_msg_id")) for m in msgs]
                    missing = sorted(set(expected) - set(got))
                    self.assertEqual(missing, [], "acknowledged messages missing from %s through %s" % (rid, s.node))
                    self.assertEqual(got, expected, "history of %s through %s" % (rid, s.node))
                    replies = threads.get(rid, [])
                    self.assertEqual([m["seq"] for m in msgs if m.get("thread") == 1], replies)
                    self.assertEqual(msgs[0].get("thread_summary", {}).get("replies", 0), len(replies))
                    who = {u for r in msgs[0].get("reactions", []) for u in r["users"]}
                    self.assertEqual(who, reacted.get((rid, 1), set()), "reactions in %s" % rid)
                    if first is None:
                        first = [key(m) for m in msgs]
                    else:
                        self.assertEqual([key(m) for m in msgs], first, "history of %s differs between nodes" % rid)


class NodeJoinOneCopyTest(NodeJoinTest):
    """The same with one copy a room: the rooms the fourth node wins move to
    it by handoff."""

    cluster_args = ("--replication", "1")


class NodeCrashTest(ClusterBase):
    """With one copy a room (--replication 1): SIGKILL of n3: its sockets
    drop, n1 and n2 list it down within 10 s and keep serving their rooms,
    its rooms are `unavailable`; after the restart (same data dir, id, ports,
    seeds) its rooms serve their full history. (With the default of three
    copies they stay writable: test_replication.py.)"""

    cluster_args = ("--replication", "1")

    def test_kill9_and_restart(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        b = self.new_user(server=n2)
        owned = {i: [] for i in self.cluster.ids()}
        for i in range(60):
            rid = self.create_room(a.token, server=(n1, n2, n3)[i % 3])["id"]
            owner = self.cluster.room_owner(rid)
            self.assertIn(owner, owned)
            owned[owner].append(rid)
            if all(owned.values()):
                break
        self.assertTrue(all(owned.values()), "60 rooms and a node owns none: %r" % owned)
        dead = owned["n3"][0]
        live = {"n1": owned["n1"][0], "n2": owned["n2"][0]}
        rooms = [dead, live["n1"], live["n2"]]
        before = {}
        for rid in rooms:
            self.join(b.token, rid, server=n2)
            for j in range(4):
                m = self.post((a, b)[j % 2].token, rid, "before %d" % j, client_msg_id=cmid(),
                              server=(n1, n2, n3)[j % 3])
                self.assertEqual(m["seq"], j + 1)
            before[rid] = [key(m) for m in self.full_history(a.token, rid, server=n1)]
            self.assertEqual(len(before[rid]), 4)
        # sessions on a survivor and on the victim (a socket that is not read
        # for 20 s may be dropped as unresponsive: each is used well before)
        wa = self.connect(a.token, server=n1)
        wb3 = self.connect(b.token, server=n3)

        t_kill = time.monotonic()
        self.cluster.kill9(3)
        wb3.expect_close(timeout=5)          # any close, or a bare TCP drop
        # down within 10 s on both survivors (one more second for the asking)
        self.cluster.wait_statuses({"n1": "up", "n2": "up", "n3": "down"}, observers=[n1, n2],
                                   timeout=max(0.5, DOWN_S + 1.0 - (time.monotonic() - t_kill)))
        self.assertEqual(wa.ok("ping"), {}, "a session on a surviving node")

        # the survivors keep serving the rooms they own
        for owner, rid in sorted(live.items()):
            with self.subTest(room_owned_by=owner):
                self.assertEqual(self.post(a.token, rid, "during n1", client_msg_id=cmid(), server=n1)["seq"], 5)
                self.assertEqual(self.post(b.token, rid, "during n2", client_msg_id=cmid(), server=n2)["seq"], 6)
                ack = wa.ok("send", room=rid, body="during ws", client_msg_id=cmid())
                self.assertEqual(ack["seq"], 7)
                for seq in (5, 6, 7):
                    wa.wait_event("message", lambda d, rid=rid, seq=seq: d.get("room") == rid and d.get("seq") == seq,
                                  timeout=EVENT_S)
                h1 = self.full_history(b.token, rid, server=n1)
                h2 = self.full_history(a.token, rid, server=n2)
                self.assertEqual([m["seq"] for m in h1], list(range(1, 8)))
                self.assertEqual([key(m) for m in h1][:4], before[rid])
                self.assertEqual([key(m) for m in h2], [key(m) for m in h1])

        # the dead node's room answers `unavailable` through both survivors
        for s in (n1, n2):
            with self.subTest(dead_room_via=s.node):
                self.assert_error(self.api("GET", "/api/v1/rooms/%s/messages" % dead, token=a.token, server=s),
                                  503, "unavailable")
                self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % dead,
                                           {"body": "lost?", "client_msg_id": cmid()}, token=b.token, server=s),
                                  503, "unavailable")
        self.assertEqual(wa.error("send", room=dead, body="lost?", client_msg_id=cmid())["code"], "unavailable")
        self.assertEqual(wa.ok("ping"), {}, "the error closed the socket")

        # a session that starts while n3 is down cannot see n3's room yet...
        wb2 = self.connect(b.token, server=n2)

        # the killed node stays listed (down) in the admin view
        table = self.cluster.node_table(n1)
        self.assertEqual(table["n3"]["status"], "down", table)

        # restart with the same data dir, node id, ports and seeds
        n3 = self.cluster.restart(3)
        self.assertEqual(n3.port, self.cluster.specs[2].http_port)
        self.cluster.wait_converged()
        nodes = self.nodes()
        for s in nodes:
            with self.subTest(dead_room_after_restart_via=s.node):
                self.assertEqual([key(m) for m in self.history_via(a.token, dead, s)], before[dead],
                                 "history of the restarted node's room through %s" % s.node)
        # fresh sessions: the earlier one on n1 sat unread through the restart
        wa = self.connect(a.token, server=self.cluster.node(1))
        wb3 = self.connect(b.token, server=n3)
        self.assertEqual(self.post(b.token, dead, "after restart", client_msg_id=cmid(), server=n3)["seq"], 5)
        self.assertEqual(wa.ok("send", room=dead, body="after restart ws", client_msg_id=cmid())["seq"], 6)
        # ...and gets its events once n3 is back, without reconnecting
        for ws in (wa, wb3, wb2):
            for seq in (5, 6):
                ws.wait_event("message", lambda d, seq=seq: d.get("room") == dead and d.get("seq") == seq,
                              timeout=EVENT_S)
        # the live rooms go on, and reach a session on the restarted node
        for owner, rid in sorted(live.items()):
            ack = wa.ok("send", room=rid, body="after restart", client_msg_id=cmid())
            self.assertEqual(ack["seq"], 8)
            wb3.wait_event("message", lambda d, rid=rid: d.get("room") == rid and d.get("seq") == 8, timeout=EVENT_S)
            views = [[key(m) for m in self.full_history(a.token, rid, server=s)] for s in nodes]
            self.assertEqual([k[1] for k in views[0]], list(range(1, 9)))
            for v in views[1:]:
                self.assertEqual(v, views[0], "history of %s differs between nodes" % rid)


class WrongSecretTest(ClusterBase):
    """A node started with another secret and seeds pointing at the cluster
    is never admitted and says so on stderr."""

    cluster_size = 2

    def test_node_with_another_secret_is_refused(self):
        n1, n2 = self.nodes()
        tmp = tempfile.mkdtemp(prefix="confab-it-intruder-")
        self.addCleanup(shutil.rmtree, tmp, True)
        seeds = ",".join("%s:%d" % (HOST, spec.cluster_port) for spec in self.cluster.specs)
        # a certificate of the cluster's own CA: only the secret differs
        bad = Server(["--node-id", "intruder", "--cluster-port", str(free_port()),
                      "--secret-file", write_secret(os.path.join(tmp, "other-secret")),
                      "--admin-token", self.cluster.admin_token, "--seeds", seeds] + self.cluster.ca.args("intruder"),
                     data_dir=os.path.join(tmp, "data"))
        self.addCleanup(bad.cleanup)
        bad.spawn()
        members = ["n1", "n2"]
        refused = re.compile(r"refused|secret", re.IGNORECASE)

        def not_admitted():
            for s in (n1, n2):
                table = self.cluster.node_table(s)
                self.assertEqual(sorted(table), members, "%s lists the node with the wrong secret: %r"
                                 % (s.node, table))

        # watch the members' views until the intruder's refusal is logged
        def refusal_logged():
            not_admitted()
            return any(refused.search(line) for line in bad.stderr_text().splitlines())

        try:
            poll(refusal_logged, "the node with another secret logs its refusal", timeout=20, interval=0.1)
        except AssertionError as e:
            raise AssertionError("%s; its stderr:\n%s" % (e, bad.stderr_text()[-3000:]))

        # whether it then runs alone or gives up, it never becomes a member
        try:
            poll(lambda: bad.ready() or bad.exited(), "the intruder is ready or gone", timeout=8)
        except AssertionError:
            pass
        not_admitted()
        self.cluster.wait_statuses({"n1": "up", "n2": "up"}, timeout=5)
        if bad.ready() and bad.running():
            own = {i: n.get("status") for i, n in self.cluster.node_table(bad).items()}
            self.assertFalse([i for i in members if own.get(i) == "up"],
                             "the refused node thinks it is in the cluster: %r" % own)
        # the cluster still works
        u = self.new_user(server=n1)
        self.assert_status(self.api("GET", "/api/v1/me", token=u.token, server=n2), 200)


if __name__ == "__main__":
    main()
