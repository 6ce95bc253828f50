#!/usr/bin/python3
"""The admin API of confabd (notes/admin-contract.md, PROTOCOL.md section 4):
the admin token on every call (none, a wrong one and a user's token are 401),
`GET /admin` (the console page, no token), `nodes` (fields, counters, actor
counts by kind), `actors` (live room, session and presence actors, filters,
sorting, paging, 400/404), room and user details, users made in bulk (`POST
users`: order kept, tokens and the shared password work, 400 for any bad entry
and 409 for a taken name with none of the list created), `kick` (204, close
4003, 404, 405) and `drain` on a 2-node cluster (202, close 4000, exit 0, rooms
served whole by the survivor, 409 for the last node, 404 unknown node)."""

import html.parser
import os
import re
import sys
import threading
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HOST, Cluster, ConfabTestCase, main, now_ms, poll, unique  # noqa: E402

TOKEN = "admin-test-token-" + uuid.uuid4().hex
EVENT_S = 10.0           # something the server does by itself (presence, close, cleanup)
DRAIN_EXIT_S = 30.0      # a drained node hands its rooms over and exits
UNKNOWN_ROOM = "r_00000000000000ff"
UNKNOWN_SESSION = "s_000000000000000000000000"

ALL_KINDS = {"room", "session", "presence", "hub", "room_manager", "presence_manager", "account", "reader",
             "http_frontend", "node"}
NODE_STATUSES = {"up", "suspect", "draining", "down"}
NODE_COUNTERS = ("rooms", "sessions", "presences", "uptime_ms", "room_events", "remote_copies", "messages")


def cmid():
    return "c-" + uuid.uuid4().hex


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def q(path, **params):
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def local_remote(ws):
    """host:port of the client side of a WebSocket: what the server calls its remote."""
    host, port = ws.ws.sock.getsockname()[:2]
    return "%s:%d" % (host, port)


def wait_value(get, pred, what, timeout=EVENT_S):
    """poll() get() until pred(value): returns that value; the failure names
    the last value seen."""
    last = []

    def probe():
        last[:] = [get()]
        return pred(last[0])
    try:
        poll(probe, what, timeout=timeout, interval=0.05)
    except AssertionError as e:
        raise AssertionError("%s; last value: %r" % (e, last[0] if last else None))
    return last[0]


class AdminCase(ConfabTestCase):
    server_args = ("--admin-token", TOKEN)

    def admin(self, method, path, token=TOKEN, server=None, **kw):
        return self.api(method, path, token=token, server=server, **kw)

    def admin_ok(self, path, server=None):
        st, _, body = self.admin("GET", path, server=server)
        self.assertEqual(st, 200, "GET %s: %s %r" % (path, st, body))
        self.assertIsInstance(body, dict, body)
        return body

    def node_entry(self, server=None):
        s = self.srv(server)
        body = self.admin_ok("/admin/api/v1/nodes", server=s)
        mine = [n for n in body["nodes"] if n.get("id") == s.node]
        self.assertEqual(len(mine), 1, "node %s listed %d times: %r" % (s.node, len(mine), body))
        return mine[0]

    def actors(self, server=None, **params):
        params.setdefault("limit", 1000)
        body = self.admin_ok(q("/admin/api/v1/actors", **params), server=server)
        for f in ("actors", "total", "offset", "limit"):
            self.assertIn(f, body, body)
        self.assertIsInstance(body["actors"], list, body)
        return body

    def actor(self, actor_id, kind, server=None):
        """The one actor `actor_id` of `kind` (None if not listed)."""
        found = [a for a in self.actors(server=server, kind=kind)["actors"] if a.get("id") == actor_id]
        self.assertLessEqual(len(found), 1, "actor %s listed twice: %r" % (actor_id, found))
        return found[0] if found else None

    def user_detail(self, username, server=None):
        return self.admin_ok("/admin/api/v1/users/%s" % username, server=server)

    def room_detail(self, rid, server=None):
        return self.admin_ok("/admin/api/v1/rooms/%s" % rid, server=server)

    def session_ids(self, username, server=None):
        return sorted(s.get("id") for s in self.user_detail(username, server=server)["sessions"])

    def assert_actor_shape(self, a, server=None):
        s = self.srv(server)
        for f in ("id", "kind", "node", "detail"):
            self.assertIsInstance(a.get(f), str, "actor field %s: %r" % (f, a))
        for f in ("mailbox", "processed", "since", "last_active"):
            self.assertTrue(is_int(a.get(f)), "actor field %s is not an integer: %r" % (f, a))
        self.assertIn(a["kind"], ALL_KINDS, a)
        self.assertEqual(a["node"], s.node, a)
        self.assertGreaterEqual(a["mailbox"], 0, a)
        self.assertGreaterEqual(a["processed"], 0, a)
        # ms since the epoch, not in the future, not before the test run began
        self.assertLessEqual(a["since"], now_ms() + 1000, a)
        self.assertGreater(a["since"], now_ms() - 3600 * 1000, a)
        self.assertLessEqual(a["since"], a["last_active"], a)
        self.assertLessEqual(a["last_active"], now_ms() + 1000, a)
        self.assertNotIn("\n", a["detail"], a)

    def live_room(self, members=1, messages=1):
        """An owner, (members-1) other members and a room with `messages` messages."""
        owner = self.new_user()
        rid = self.create_room(owner.token)["id"]
        others = []
        for _ in range(members - 1):
            u = self.new_user()
            self.join(u.token, rid)
            others.append(u)
        for i in range(messages):
            self.post(owner.token, rid, "hello %d" % i)
        return owner, others, rid


# -- authentication and the console page ------------------------------------------------------

class AuthTest(AdminCase):

    def test_every_admin_call_needs_the_admin_token(self):
        owner, _, rid = self.live_room()
        ws = self.connect(owner.token)
        sid = ws.auth_data["session"]
        # a valid body where the call takes one: the 401 is about the token
        new_name = unique("bulk")
        calls = [("GET", "/admin/api/v1/nodes", None),
                 ("GET", "/admin/api/v1/actors", None),
                 ("GET", "/admin/api/v1/actors?kind=room&limit=5", None),
                 ("GET", "/admin/api/v1/rooms/%s" % rid, None),
                 ("GET", "/admin/api/v1/users/%s" % owner.username, None),
                 ("POST", "/admin/api/v1/users", {"usernames": [new_name], "password": "bulk-" + uuid.uuid4().hex}),
                 ("POST", "/admin/api/v1/sessions/%s/kick" % sid, None),
                 ("POST", "/admin/api/v1/nodes/%s/drain" % self.server.node, None)]
        bad_tokens = {"no token": None, "wrong token": "wrong-" + uuid.uuid4().hex,
                      "admin token with a suffix": TOKEN + "x", "admin token cut short": TOKEN[:-1],
                      "user token": owner.token}
        for method, path, body in calls:
            for label, token in bad_tokens.items():
                with self.subTest(call="%s %s" % (method, path), token=label):
                    self.assert_error(self.admin(method, path, token=token, body=body), 401, "unauthorized")
            with self.subTest(call="%s %s" % (method, path), token="Basic scheme"):
                self.assert_error(self.admin(method, path, token=None, body=body,
                                             headers={"authorization": "Basic " + TOKEN}), 401, "unauthorized")
        # the refused kick, drain and user creation did nothing
        self.assertEqual(ws.ok("ping"), {})
        self.assertFalse(ws.closed)
        self.assertTrue(self.server.running())
        self.assertEqual(self.node_entry()["status"], "up")
        self.assert_error(self.admin("GET", "/admin/api/v1/users/%s" % new_name), 404, "not_found")

    def test_console_page_without_token(self):
        st, headers, body = self.admin("GET", "/admin", token=None)
        self.assertEqual(st, 200, "GET /admin: %s %r" % (st, body))
        self.assertRegex(headers.get("content-type", ""), r"^text/html\b", headers)
        self.assertIsInstance(body, str, body)
        self.assertRegex(body, r"(?i)<html\b", body[:500])
        # the page's own scripts and style sheets (resolved against /admin) are served
        refs = AssetRefs()
        refs.feed(body)
        local = []
        for ref in refs.refs:
            url = urllib.parse.urlsplit(urllib.parse.urljoin("http://%s/admin" % HOST, ref))
            if url.netloc == HOST and url.scheme == "http":
                local.append(url.path + ("?" + url.query if url.query else ""))
        self.assertTrue(local, "the page loads no script or style sheet of its own: %r" % refs.refs)
        for path in local:
            with self.subTest(asset=path):
                st, h, asset = self.admin("GET", path, token=None)
                self.assertEqual(st, 200, "asset %s of /admin: %s %r" % (path, st, asset))
                ctype = h.get("content-type", "")
                if path.split("?")[0].endswith(".js"):
                    self.assertRegex(ctype, r"^(text|application)/javascript\b", (path, h))
                elif path.split("?")[0].endswith(".css"):
                    self.assertRegex(ctype, r"^text/css\b", (path, h))

    def test_admin_api_unknown_path(self):
        self.assert_error(self.admin("GET", "/admin/api/v1/gremlins"), 404, "not_found")


class AssetRefs(html.parser.HTMLParser):
    """src of <script> and href of <link rel=stylesheet> of a page."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"])
        elif tag == "link" and a.get("href") and "stylesheet" in (a.get("rel") or "").lower():
            self.refs.append(a["href"])


# -- nodes ----------------------------------------------------------------------------------

class NodesTest(AdminCase):

    def setUp(self):
        super().setUp()
        # sessions of earlier tests are gone before this one counts
        poll(lambda: self.node_entry()["sessions"] == 0, "no session left from earlier tests", timeout=EVENT_S)

    def test_fields_and_types(self):
        body = self.admin_ok("/admin/api/v1/nodes")
        self.assertIsInstance(body.get("nodes"), list, body)
        self.assertEqual(len(body["nodes"]), 1, body)
        n = body["nodes"][0]
        self.assertEqual(n.get("id"), self.server.node, n)
        self.assertEqual(n.get("status"), "up", n)
        self.assertIsInstance(n.get("address"), str, n)
        self.assertIsInstance(n.get("http"), str, n)
        self.assertIn(str(self.server.port), n["http"], n)
        for f in NODE_COUNTERS:
            self.assertTrue(is_int(n.get(f)), "node field %s is not an integer: %r" % (f, n))
            self.assertGreaterEqual(n[f], 0, n)
        actors = n.get("actors")
        self.assertIsInstance(actors, dict, n)
        for kind in ("room", "session", "presence"):
            self.assertIn(kind, actors, n)
        for kind, count in actors.items():
            self.assertIn(kind, ALL_KINDS, n)
            self.assertTrue(is_int(count) and count >= 0, n)
        # core actors of a running node
        self.assertTrue(set(actors) - {"room", "session", "presence"}, "no core actor kinds: %r" % n)
        self.assertTrue(any(actors[k] > 0 for k in actors if k not in ("room", "session", "presence")), n)

    def test_actor_counts_match_the_actor_list(self):
        owner, _, rid = self.live_room()
        self.connect(owner.token)

        def consistent():
            n = self.node_entry()
            listed = {}
            for a in self.actors(node=self.server.node)["actors"]:
                listed[a["kind"]] = listed.get(a["kind"], 0) + 1
            counts = {k: v for k, v in n["actors"].items() if v}
            return counts == listed, (counts, listed)

        counts, listed = wait_value(consistent, lambda r: r[0], "actor counts of nodes == kinds of the actors list")[1]
        self.assertGreaterEqual(counts.get("room", 0), 1, counts)
        self.assertGreaterEqual(counts.get("session", 0), 1, counts)
        self.assertGreaterEqual(counts.get("presence", 0), 1, counts)

    def test_session_and_presence_counts(self):
        before = self.node_entry()
        u = self.new_user()
        ws1 = self.connect(u.token)
        self.connect(u.token)
        poll(lambda: self.node_entry()["sessions"] == before["sessions"] + 2, "sessions +2 with two sockets",
             timeout=EVENT_S)
        n = wait_value(self.node_entry, lambda e: e["actors"]["session"] == before["actors"]["session"] + 2,
                       "session actors +2")
        self.assertGreaterEqual(n["presences"], 1, n)
        self.assertGreaterEqual(n["actors"]["presence"], 1, n)
        ws1.close()
        poll(lambda: self.node_entry()["sessions"] == before["sessions"] + 1, "sessions -1 after a close",
             timeout=EVENT_S)
        poll(lambda: self.node_entry()["actors"]["session"] == before["actors"]["session"] + 1,
             "session actors -1 after a close", timeout=EVENT_S)

    def test_rooms_and_messages_counters(self):
        before = self.node_entry()
        owner, others, rid = self.live_room(members=2, messages=0)
        ws = self.connect(others[0].token)
        for i in range(3):
            self.post(owner.token, rid, "http %d" % i)
        for i in range(2):
            ws.ok("send", room=rid, body="ws %d" % i, client_msg_id=cmid())
        n = wait_value(self.node_entry, lambda e: e["messages"] == before["messages"] + 5,
                       "messages counter +5 after 5 sends (before: %d)" % before["messages"])
        self.assertGreaterEqual(n["rooms"], 1, n)
        self.assertGreaterEqual(n["actors"]["room"], 1, n)
        self.assertGreaterEqual(n["room_events"], before["room_events"] + 5, n)
        self.assertGreaterEqual(n["uptime_ms"], before["uptime_ms"], n)
        # a counter: never down, and idle reads leave it alone
        self.assertEqual(self.node_entry()["messages"], n["messages"])
        poll(lambda: self.node_entry()["uptime_ms"] > n["uptime_ms"], "uptime_ms rises", timeout=EVENT_S)


# -- actors ---------------------------------------------------------------------------------

class ActorsTest(AdminCase):

    def test_live_room_actor(self):
        owner, others, rid = self.live_room(members=2, messages=3)
        a = self.actor(rid, "room")
        self.assertIsNotNone(a, "room %s not among the room actors" % rid)
        self.assert_actor_shape(a)
        self.assertEqual(a["kind"], "room", a)
        self.assertGreater(a["processed"], 0, a)
        self.assertRegex(a["detail"], r"\bmembers[=: ]+2\b", a)
        self.assertRegex(a["detail"], r"\bseq[=: ]+3\b", a)

    def test_session_actor(self):
        u = self.new_user()
        ws = self.connect(u.token)
        sid = ws.auth_data["session"]
        a = self.actor(sid, "session")
        self.assertIsNotNone(a, "session %s not among the session actors" % sid)
        self.assert_actor_shape(a)
        self.assertEqual(a["kind"], "session", a)
        self.assertIn(u.username, a["detail"], a)
        self.assertRegex(a["detail"], r"(^|\s)remote=%s(\s|$)" % re.escape(local_remote(ws)), a)
        ws.close()
        poll(lambda: self.actor(sid, "session") is None, "the session actor ends with its socket",
             timeout=EVENT_S)

    def test_presence_actor(self):
        u = self.new_user()
        self.connect(u.token)
        a = poll(lambda: self.actor(u.id, "presence"), "a presence actor for %s" % u.id, timeout=EVENT_S)
        self.assert_actor_shape(a)
        self.assertEqual(a["kind"], "presence", a)
        self.assertIn(u.username, a["detail"], a)
        self.assertRegex(a["detail"], r"\bonline\b", a)

    def test_filters(self):
        owner, _, rid = self.live_room()
        ws = self.connect(owner.token)
        sid = ws.auth_data["session"]
        every = self.actors()
        self.assertEqual(every["total"], len(every["actors"]), every)
        self.assertGreater(len({a["kind"] for a in every["actors"]}), 1, every)
        for a in every["actors"]:
            self.assert_actor_shape(a)
        ids = [(a["kind"], a["id"]) for a in every["actors"]]
        self.assertEqual(len(ids), len(set(ids)), "an actor listed twice: %r" % ids)

        mine = self.actors(node=self.server.node)
        self.assertTrue(mine["actors"], mine)
        self.assertTrue(all(a["node"] == self.server.node for a in mine["actors"]), mine)

        for kind in ("room", "session", "presence"):
            with self.subTest(kind=kind):
                body = self.actors(kind=kind)
                self.assertTrue(body["actors"], "no %s actor listed: %r" % (kind, body))
                self.assertTrue(all(a["kind"] == kind for a in body["actors"]), body)
                self.assertEqual(body["total"], len(body["actors"]), body)

        # q: case-insensitive substring of id or detail
        found = self.actors(q=rid.upper())
        self.assertIn(rid, [a["id"] for a in found["actors"]], found)
        self.assertTrue(all(rid in (a["id"] + " " + a["detail"]).lower() for a in found["actors"]), found)
        self.assertEqual(found["total"], len(found["actors"]), found)
        by_user = self.actors(q=owner.username.upper())
        kinds = {(a["kind"], a["id"]) for a in by_user["actors"]}
        self.assertIn(("session", sid), kinds, by_user)
        self.assertIn(("presence", owner.id), kinds, by_user)
        self.assertTrue(all(owner.username in (a["id"] + " " + a["detail"]).lower() for a in by_user["actors"]),
                        by_user)
        none = self.actors(q="zz-no-such-actor-" + uuid.uuid4().hex)
        self.assertEqual((none["actors"], none["total"]), ([], 0), none)
        both = self.actors(kind="session", q=owner.username)
        self.assertEqual([a["id"] for a in both["actors"]], [sid], both)

    def test_sorting(self):
        owner, others, rid = self.live_room(members=2, messages=4)
        self.connect(owner.token)
        self.connect(others[0].token)
        orders = {"mailbox": lambda a: -a["mailbox"], "processed": lambda a: -a["processed"],
                  "last_active": lambda a: -a["last_active"], "since": lambda a: -a["since"],
                  "id": lambda a: a["id"]}
        default = self.actors()["actors"]
        values = [a["mailbox"] for a in default]
        self.assertEqual(values, sorted(values, reverse=True), "default order is not by mailbox, descending")
        for sort, key in orders.items():
            with self.subTest(sort=sort):
                got = self.actors(sort=sort)["actors"]
                self.assertGreater(len(got), 3, got)
                keys = [key(a) for a in got]
                self.assertEqual(keys, sorted(keys), "sort=%s: order %r" % (sort, [(a["id"], a[sort]) for a in got]))

    def test_paging(self):
        self.live_room(members=2, messages=1)
        default = self.admin_ok("/admin/api/v1/actors")
        self.assertEqual((default["offset"], default["limit"]), (0, 100), default)
        one = self.actors(kind="room", limit=1)
        self.assertEqual((len(one["actors"]), one["limit"]), (1, 1), one)
        self.assertGreaterEqual(one["total"], 1, one)
        # the set of actors may change between two calls (a session ending
        # late): the whole walk is retried until one sees a stable set
        problems = wait_value(self.paging_problems, lambda p: p == [], "paging is consistent with the full list")
        self.assertEqual(problems, [])

    def paging_problems(self):
        """Everything wrong with paging through the actors sorted by id (empty: all fine)."""
        problems = []
        full = self.actors(sort="id")
        total = full["total"]
        ids = [a["id"] for a in full["actors"]]
        if total < 4:
            problems.append("only %d actors" % total)
        if (full["offset"], full["limit"]) != (0, 1000) or total != len(ids):
            problems.append("full list: offset %r limit %r total %r for %d actors"
                            % (full["offset"], full["limit"], total, len(ids)))
        if ids != sorted(ids):
            problems.append("sort=id not ascending: %r" % ids)
        page = self.actors(sort="id", limit=2, offset=1)
        if (page["offset"], page["limit"], page["total"]) != (1, 2, total):
            problems.append("limit=2 offset=1 echoes %r" % ((page["offset"], page["limit"], page["total"]),))
        if [a["id"] for a in page["actors"]] != ids[1:3]:
            problems.append("limit=2 offset=1 gives %r, not %r" % ([a["id"] for a in page["actors"]], ids[1:3]))
        walked = []
        for offset in range(0, total + 3, 3):
            p = self.actors(sort="id", limit=3, offset=offset)
            if p["total"] != total or len(p["actors"]) > 3:
                problems.append("page at %d: total %r, %d actors" % (offset, p["total"], len(p["actors"])))
            walked += [a["id"] for a in p["actors"]]
        if walked != ids:
            problems.append("pages of 3 give %r, the full list %r" % (walked, ids))
        last = self.actors(sort="id", limit=5, offset=max(total - 1, 0))
        if [a["id"] for a in last["actors"]] != ids[-1:]:
            problems.append("offset=total-1 gives %r" % [a["id"] for a in last["actors"]])
        past = self.actors(sort="id", limit=5, offset=total + 10)
        if (past["actors"], past["total"]) != ([], total):
            problems.append("offset past the end gives %r total %r" % (past["actors"], past["total"]))
        return problems

    def test_bad_parameters(self):
        for params in ({"kind": "gremlin"}, {"kind": "Room"}, {"kind": "node"}, {"sort": "size"}, {"sort": "mailbox desc"},
                       {"limit": "0"}, {"limit": "1001"}, {"limit": "-1"}, {"limit": "many"}, {"limit": ""},
                       {"offset": "-1"}, {"offset": "x"}):
            with self.subTest(params=params):
                self.assert_error(self.admin("GET", q("/admin/api/v1/actors", **params)), 400, "invalid_request")
        for params in ({"limit": "1"}, {"limit": "1000"}, {"offset": "0"}, {"sort": "id", "kind": "reader"}):
            with self.subTest(params=params):
                st, _, body = self.admin("GET", q("/admin/api/v1/actors", **params))
                self.assertEqual(st, 200, body)

    def test_unknown_node(self):
        self.assert_error(self.admin("GET", q("/admin/api/v1/actors", node="no-such-node")), 404, "not_found")
        self.assert_error(self.admin("GET", q("/admin/api/v1/actors", node="no-such-node", kind="room")),
                          404, "not_found")


# -- room and user details ------------------------------------------------------------------------

class RoomDetailTest(AdminCase):

    def test_room_detail(self):
        owner, others, rid = self.live_room(members=3, messages=0)
        wa = self.connect(owner.token)
        for i in range(2):
            self.post(others[0].token, rid, "http %d" % i)
        wa.ok("send", room=rid, body="ws", client_msg_id=cmid())
        d = wait_value(lambda: self.room_detail(rid), lambda r: r.get("online_members") == 1,
                       "online_members == 1 with one member online")
        self.assertEqual(d["room"], rid, d)
        self.assertEqual(d["kind"], "room", d)
        self.assertEqual(d["visibility"], "public", d)
        self.assertIsInstance(d["name"], str, d)
        self.assertEqual(d["owner"], self.server.node, d)
        self.assertEqual(d["replicas"], [], d)
        self.assertEqual(d["members"], 3, d)
        self.assertEqual(d["last_seq"], 3, d)
        self.assertTrue(is_int(d["mailbox"]) and d["mailbox"] >= 0, d)

        # another member comes online, then goes
        wb = self.connect(others[1].token)
        poll(lambda: self.room_detail(rid)["online_members"] == 2, "online_members == 2 with two online",
             timeout=EVENT_S)
        wb.close()
        poll(lambda: self.room_detail(rid)["online_members"] == 1, "online_members == 1 after a close",
             timeout=EVENT_S)
        wa.ok("send", room=rid, body="ws 2", client_msg_id=cmid())
        self.assertEqual(self.room_detail(rid)["last_seq"], 4)
        # a member who leaves is no longer counted
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/leave" % rid, token=others[0].token), 204)
        poll(lambda: self.room_detail(rid)["members"] == 2, "members == 2 after a leave", timeout=EVENT_S)

    def test_private_and_direct_rooms(self):
        a, b = self.new_user(), self.new_user()
        rid = self.create_room(a.token, visibility="private")["id"]
        d = self.room_detail(rid)
        self.assertEqual((d["room"], d["visibility"], d["members"], d["last_seq"]), (rid, "private", 1, 0), d)
        st, _, body = self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token)
        self.assertEqual(st, 200, body)
        dm = body["room"]["id"]
        d = self.room_detail(dm)
        self.assertEqual((d["room"], d["kind"], d["members"]), (dm, "dm", 2), d)

    def test_unknown_room(self):
        self.assert_error(self.admin("GET", "/admin/api/v1/rooms/%s" % UNKNOWN_ROOM), 404, "not_found")
        self.assert_error(self.admin("GET", "/admin/api/v1/rooms/not-a-room-id"), 404, "not_found")


class UserDetailTest(AdminCase):

    def test_user_with_sessions_then_offline(self):
        u = self.new_user()
        ws1 = self.connect(u.token)
        ws2 = self.connect(u.token)
        t0 = now_ms()
        d = self.user_detail(u.username)
        self.assertEqual(d["user"]["id"], u.id, d)
        self.assertEqual(d["user"]["username"], u.username, d)
        self.assertIsInstance(d["user"]["display_name"], str, d)
        self.assertNotIn("password", str(d["user"]).lower(), d)
        self.assertEqual(d["presence"]["status"], "online", d)
        want = {ws1.auth_data["session"]: local_remote(ws1), ws2.auth_data["session"]: local_remote(ws2)}
        self.assertEqual(sorted(s["id"] for s in d["sessions"]), sorted(want), d)
        for s in d["sessions"]:
            self.assertEqual(s["node"], self.server.node, s)
            self.assertEqual(s["remote"], want[s["id"]], s)
            self.assertRegex(s["remote"], r"^127\.0\.0\.1:\d+$", s)
            self.assertTrue(is_int(s["since"]), s)
            self.assertLessEqual(s["since"], t0 + 1000, s)
            self.assertGreater(s["since"], t0 - 60 * 1000, s)

        ws1.close()
        poll(lambda: self.session_ids(u.username) == [ws2.auth_data["session"]], "one session after a close",
             timeout=EVENT_S)
        self.assertEqual(self.user_detail(u.username)["presence"]["status"], "online")
        ws2.close()
        d = wait_value(lambda: self.user_detail(u.username),
                       lambda x: x["sessions"] == [] and x["presence"]["status"] == "offline",
                       "offline and no session after the last close")
        if "last_seen" in d["presence"]:
            self.assertTrue(is_int(d["presence"]["last_seen"]), d)
            self.assertGreaterEqual(d["presence"]["last_seen"], t0 - 1000, d)

    def test_user_never_connected(self):
        u = self.new_user()
        d = self.user_detail(u.username)
        self.assertEqual(d["user"]["username"], u.username, d)
        self.assertEqual(d["sessions"], [], d)
        self.assertEqual(d["presence"]["status"], "offline", d)

    def test_unknown_user(self):
        self.assert_error(self.admin("GET", "/admin/api/v1/users/%s" % unique("nobody")), 404, "not_found")


# -- users in bulk ----------------------------------------------------------------------------

TOKEN_TTL_MS = 604800 * 1000     # the default --token-ttl-s (7 days)
MAX_BULK_USERS = 10000


def bulk_password():
    return "bulk-pw-" + uuid.uuid4().hex[:12]


class AddUsersTest(AdminCase):
    """POST /admin/api/v1/users: many users with one password, each with a
    token, all or none."""

    def add_users(self, usernames, password, **kw):
        return self.admin("POST", "/admin/api/v1/users", body={"usernames": usernames, "password": password}, **kw)

    def add_users_ok(self, usernames, password):
        # 10,000 accounts in one request take ~2 s here alone, but several
        # times that when the nemesis run shares the two cores (a full ctest
        # -j2 timed out at the default 10 s once): the test is about what the
        # answer says, not how fast it comes.
        st, _, body = self.add_users(usernames, password, timeout=120)
        self.assertEqual(st, 201, "POST /admin/api/v1/users %d names: %s %r" % (len(usernames), st, body))
        self.assertIsInstance(body, dict, body)
        self.assertIsInstance(body.get("users"), list, body)
        self.assertEqual(len(body["users"]), len(usernames), "one entry per name")
        return body["users"]

    def assert_absent(self, username):
        """No such user: the admin API does not know it and it cannot log in."""
        self.assert_error(self.admin("GET", "/admin/api/v1/users/%s" % username), 404, "not_found")

    def assert_cannot_login(self, username, password):
        self.assert_error(self.api("POST", "/api/v1/login", {"username": username, "password": password}),
                          401, "invalid_credentials")

    def test_created_users_work(self):
        names = [unique("bulk") for _ in range(5)]
        pw = bulk_password()
        before = now_ms()
        made = self.add_users_ok(names, pw)
        after = now_ms()
        self.assertEqual([m["user"]["username"] for m in made], names, "entries in the order given")
        ids = [m["user"]["id"] for m in made]
        self.assertEqual(len(set(ids)), len(ids), ids)
        self.assertEqual(len({m["token"] for m in made}), len(made), "tokens differ")
        for m in made:
            self.assertEqual(set(m), {"user", "token", "expires_at"}, m)
            self.assertRegex(m["user"]["id"], harness.USER_ID_RE, m)
            self.assertIsInstance(m["user"]["display_name"], str, m)
            self.assertEqual(m["user"]["display_name"], m["user"]["username"], m)
            self.assertNotIn("password", str(m).lower(), m)
            self.assertIsInstance(m["token"], str, m)
            self.assertGreater(len(m["token"]), 10, m)
            self.assertTrue(is_int(m["expires_at"]), m)
            self.assertGreaterEqual(m["expires_at"], before + TOKEN_TTL_MS - 60000, m)
            self.assertLessEqual(m["expires_at"], after + TOKEN_TTL_MS + 60000, m)

        for m in made:
            name, uid, token = m["user"]["username"], m["user"]["id"], m["token"]
            with self.subTest(user=name):
                # the token works over HTTP and for WebSocket auth
                me = self.assert_status(self.api("GET", "/api/v1/me", token=token), 200)
                self.assertEqual((me["user"]["id"], me["user"]["username"]), (uid, name), me)
                ws = self.connect(token)
                self.assertEqual(ws.auth_data["user"]["id"], uid, ws.auth_data)
                self.assertEqual(ws.auth_data["user"]["username"], name, ws.auth_data)
                self.assertEqual(ws.ok("ping"), {})
                # the admin API knows the user
                d = self.user_detail(name)
                self.assertEqual((d["user"]["id"], d["user"]["username"]), (uid, name), d)
                self.assertEqual([s["id"] for s in d["sessions"]], [ws.auth_data["session"]], d)

        # the shared password logs them in (first and last: one hash check each)
        for m in (made[0], made[-1]):
            login = self.login(m["user"]["username"], pw)
            self.assertEqual(login["user"]["id"], m["user"]["id"], login)
            self.assertNotEqual(login["token"], m["token"])
            self.assert_status(self.api("GET", "/api/v1/me", token=login["token"]), 200)
        self.assert_cannot_login(names[1], pw + "x")

        # they are ordinary users: a room of bulk users carries messages
        a, b = made[0]["token"], made[1]["token"]
        rid = self.create_room(a)["id"]
        self.join(b, rid)
        wb = self.connect(b)
        msg = self.post(a, rid, "from a bulk user")
        got = wb.wait_event("message", lambda d: d.get("room") == rid and d.get("seq") == msg["seq"],
                            timeout=EVENT_S)
        self.assertEqual(got.get("body"), "from a bulk user", got)

        # and the names are taken for ordinary registration
        for name in (names[0], names[-1]):
            self.assert_error(self.api("POST", "/api/v1/register", {"username": name, "password": "12345678"}),
                              409, "username_taken")

    def test_edges_accepted(self):
        tail = uuid.uuid4().hex
        for names, pw in ((["x" + tail[:2]], "12345678"),
                          ([("y" + tail)[:32], "a_b.c-" + tail[:6], "9" + tail[:5]], "p" * 256),
                          ([unique("emoji")], "\U0001F600" * 8)):
            with self.subTest(names=names, password_chars=len(pw)):
                made = self.add_users_ok(names, pw)
                self.assertEqual([m["user"]["username"] for m in made], names)
                self.login(names[-1], pw)

    def test_ten_thousand_at_once(self):
        prefix = "k" + uuid.uuid4().hex[:8] + "_"
        names = ["%s%05d" % (prefix, i) for i in range(MAX_BULK_USERS)]
        pw = bulk_password()
        made = self.add_users_ok(names, pw)
        self.assertEqual([m["user"]["username"] for m in made], names)
        self.assertEqual(len({m["user"]["id"] for m in made}), MAX_BULK_USERS)
        self.assertEqual(len({m["token"] for m in made}), MAX_BULK_USERS)
        for m in (made[0], made[len(made) // 2], made[-1]):
            me = self.assert_status(self.api("GET", "/api/v1/me", token=m["token"]), 200)
            self.assertEqual(me["user"]["id"], m["user"]["id"], me)
        self.login(names[-1], pw)

    def test_invalid_requests(self):
        pw = bulk_password()

        def fresh(n=2):
            return [unique("ok") for _ in range(n)]

        cases = []      # (label, body, valid names in it that must not be created)
        for bad in ("ab", "a" * 33, "Abc" + uuid.uuid4().hex[:6], "ab c" + uuid.uuid4().hex[:6], "ab!c", "",
                    "\u00e9mile" + uuid.uuid4().hex[:4], "abc/def", " abc", "ab\u0000c"):
            good = fresh()
            cases.append(("bad name %r last" % bad, {"usernames": good + [bad], "password": pw}, good))
            good = fresh()
            cases.append(("bad name %r first" % bad, {"usernames": [bad] + good, "password": pw}, good))
        for bad in (123, None, True, ["abc"], {"name": "abc"}):
            good = fresh()
            cases.append(("non-string name %r" % (bad,), {"usernames": good + [bad], "password": pw}, good))
        for bad_pw in ("1234567", "\U0001F600" * 7, "x" * 257, ""):
            good = fresh()
            cases.append(("password of %d characters" % len(bad_pw), {"usernames": good, "password": bad_pw}, good))
        for bad_pw in (12345678, None, ["12345678"]):
            good = fresh()
            cases.append(("password %r" % (bad_pw,), {"usernames": good, "password": bad_pw}, good))
        good = fresh()
        cases.append(("no password", {"usernames": good}, good))
        good = fresh(3)
        cases.append(("duplicate name", {"usernames": good + [good[1]], "password": pw}, good))
        cases.append(("empty list", {"usernames": [], "password": pw}, []))
        for bad_list in (None, "abc" + uuid.uuid4().hex[:6], {"a": "abc"}, 5):
            cases.append(("usernames %r" % (bad_list,), {"usernames": bad_list, "password": pw}, []))
        cases.append(("no usernames", {"password": pw}, []))
        prefix = "t" + uuid.uuid4().hex[:8] + "_"
        many = ["%s%05d" % (prefix, i) for i in range(MAX_BULK_USERS + 1)]
        cases.append(("%d names" % len(many), {"usernames": many, "password": pw}, [many[0], many[-1]]))

        for label, body, good in cases:
            with self.subTest(case=label):
                self.assert_error(self.admin("POST", "/admin/api/v1/users", body=body), 400, "invalid_request")
                for name in good:
                    self.assert_absent(name)
        for raw in ("not json", "[1,2]", "\"str\"", "{\"usernames\":", ""):
            with self.subTest(raw=raw):
                self.assert_error(self.admin("POST", "/admin/api/v1/users", raw_body=raw), 400, "invalid_request")
        # none of the refused lists left a name behind: each can still be made
        names = cases[0][2]
        made = self.add_users_ok(names, pw)
        self.assertEqual([m["user"]["username"] for m in made], names)

    def test_taken_name_creates_none(self):
        taken, taken_pw, _ = self.register()
        fresh = [unique("fresh") for _ in range(3)]
        pw = bulk_password()
        err = self.assert_error(self.add_users([fresh[0], taken, fresh[1], fresh[2]], pw), 409, "username_taken")
        self.assertTrue(err["message"])
        for name in fresh:
            self.assert_absent(name)
            self.assert_cannot_login(name, pw)
        # the existing user keeps its password
        self.login(taken, taken_pw)
        self.assert_cannot_login(taken, pw)
        # a refused name is free: ordinary registration and another bulk call take it
        name, npw, _ = self.register(username=fresh[0])
        self.login(name, npw)
        made = self.add_users_ok(fresh[1:], pw)
        self.assertEqual([m["user"]["username"] for m in made], fresh[1:])
        self.login(fresh[2], pw)

    def test_name_of_an_earlier_bulk_call_is_taken(self):
        pw = bulk_password()
        first = [unique("first") for _ in range(2)]
        made = self.add_users_ok(first, pw)
        late = unique("late")
        self.assert_error(self.add_users([late, first[1]], bulk_password()), 409, "username_taken")
        self.assert_absent(late)
        # the earlier user still logs in with its own password and token
        self.login(first[1], pw)
        self.assert_status(self.api("GET", "/api/v1/me", token=made[1]["token"]), 200)

    def test_concurrent_calls_sharing_a_name(self):
        shared = unique("shared")
        lists = [[unique("conc"), shared], [unique("conc"), shared]]
        pw = bulk_password()
        results = [None, None]

        def call(i):
            try:
                results[i] = self.add_users(lists[i], pw)
            except Exception as e:     # reported below
                results[i] = e

        threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=harness.IO_TIMEOUT_S + 5)
        self.assertFalse(any(t.is_alive() for t in threads), "a call did not return")
        for r in results:
            self.assertIsInstance(r, tuple, "a call failed: %r" % (r,))
        statuses = sorted(r[0] for r in results)
        self.assertEqual(statuses, [201, 409], [(r[0], r[2]) for r in results])
        won = 0 if results[0][0] == 201 else 1
        self.assert_error(results[1 - won], 409, "username_taken")
        self.assertEqual([m["user"]["username"] for m in results[won][2]["users"]], lists[won])
        self.user_detail(lists[won][0])
        self.assert_absent(lists[1 - won][0])

    def test_wrong_method(self):
        for method in ("GET", "PUT", "DELETE"):
            with self.subTest(method=method):
                self.assert_error(self.admin(method, "/admin/api/v1/users"), 405)


# -- kick -----------------------------------------------------------------------------------

class KickTest(AdminCase):

    def kick(self, sid, method="POST"):
        return self.admin(method, "/admin/api/v1/sessions/%s/kick" % sid)

    def test_kick(self):
        u = self.new_user()
        ws = self.connect(u.token)
        keep = self.connect(u.token)
        sid, kept = ws.auth_data["session"], keep.auth_data["session"]
        st, _, body = self.kick(sid)
        self.assertEqual(st, 204, body)
        self.assertIsNone(body, "204 with a body")
        code, reason = ws.expect_close_reason(EVENT_S)
        self.assertEqual(code, 4003, reason)
        self.assertEqual(reason, b"kicked")
        # only that session: the user's other one goes on
        self.assertEqual(keep.ok("ping"), {})
        poll(lambda: self.session_ids(u.username) == [kept], "only the other session is listed after the kick",
             timeout=EVENT_S)
        self.assert_error(self.kick(sid), 404, "not_found")
        # the user may come back
        again = self.connect(u.token)
        self.assertEqual(again.ok("ping"), {})
        st, _, body = self.kick(kept)
        self.assertEqual(st, 204, body)
        self.assertEqual(keep.expect_close(timeout=EVENT_S), 4003)
        poll(lambda: self.session_ids(u.username) == [again.auth_data["session"]], "the new session stays",
             timeout=EVENT_S)
        self.assertEqual(again.ok("ping"), {})

    def test_kick_last_session_makes_user_offline(self):
        u = self.new_user()
        ws = self.connect(u.token)
        self.assertEqual(self.kick(ws.auth_data["session"])[0], 204)
        self.assertEqual(ws.expect_close(timeout=EVENT_S), 4003)
        wait_value(lambda: self.user_detail(u.username),
                   lambda d: d["sessions"] == [] and d["presence"]["status"] == "offline",
                   "no session and offline after the kick")

    def test_unknown_session_and_wrong_method(self):
        self.assert_error(self.kick(UNKNOWN_SESSION), 404, "not_found")
        self.assert_error(self.kick("not-a-session"), 404, "not_found")
        u = self.new_user()
        ws = self.connect(u.token)
        sid = ws.auth_data["session"]
        for method in ("GET", "PUT", "DELETE"):
            with self.subTest(method=method):
                self.assert_error(self.kick(sid, method=method), 405)
        self.assert_error(self.admin("GET", "/admin/api/v1/nodes/%s/drain" % self.server.node), 405)
        self.assert_error(self.admin("POST", "/admin/api/v1/nodes"), 405)
        # none of them kicked anything
        self.assertEqual(ws.ok("ping"), {})
        self.assertEqual(self.session_ids(u.username), [sid])


# -- drain ----------------------------------------------------------------------------------

class DrainTest(AdminCase):
    start_server = False

    def test_drain_single_node_is_conflict(self):
        s = harness.Server(["--admin-token", TOKEN])
        self.addCleanup(s.cleanup)
        s.start()
        self.assert_error(self.admin("POST", "/admin/api/v1/nodes/%s/drain" % s.node, server=s), 409, "conflict")
        self.assert_error(self.admin("POST", "/admin/api/v1/nodes/no-such-node/drain", server=s), 404, "not_found")
        self.assertTrue(s.running())
        self.assert_healthy(s)
        s.stop()

    def test_drain_asked_through_the_other_node(self):
        # any node answers for the whole cluster: the survivor relays the drain
        self.drain_hands_rooms_over_and_exits(through_survivor=True)

    def test_drain_asked_through_the_node_itself(self):
        self.drain_hands_rooms_over_and_exits(through_survivor=False)

    def drain_hands_rooms_over_and_exits(self, through_survivor):
        cluster = Cluster(2, admin_token=TOKEN).start()
        self.addCleanup(cluster.stop, False)
        cluster.wait_converged()
        n1, n2 = cluster.node(1), cluster.node(2)
        u = self.new_user(server=n1)
        v = self.new_user(server=n2)
        rooms = []
        for i in range(8):
            rid = self.create_room(u.token, server=(n1, n2)[i % 2])["id"]
            self.join(v.token, rid, server=n1)
            rooms.append(rid)
        owners = {rid: cluster.room_owner(rid, server=n1) for rid in rooms}
        self.assertTrue(set(owners.values()) <= {n1.node, n2.node}, owners)
        drained = n1 if list(owners.values()).count(n1.node) >= list(owners.values()).count(n2.node) else n2
        survivor = n2 if drained is n1 else n1
        held = [rid for rid in rooms if owners[rid] == drained.node]
        self.assertTrue(held, "no room on %s: %r" % (drained.node, owners))
        bodies = {}
        for rid in rooms:
            bodies[rid] = []
            for i in range(6):
                b = "%s m%d" % (rid, i + 1)
                self.post((u, v)[i % 2].token, rid, b, server=(n1, n2)[i % 3 % 2])
                bodies[rid].append(b)
        # any node answers for the whole cluster: the survivor lists the
        # other node's live rooms and their owner
        remote_rooms = self.actors(server=survivor, kind="room", node=drained.node)
        self.assertTrue(all(a["node"] == drained.node for a in remote_rooms["actors"]), remote_rooms)
        self.assertLessEqual(set(held), {a["id"] for a in remote_rooms["actors"]}, remote_rooms)
        for rid in held:
            self.assertEqual(self.room_detail(rid, server=survivor)["owner"], drained.node)
        ws_drained = self.connect(u.token, server=drained)
        ws_drained2 = self.connect(v.token, server=drained)
        ws_survivor = self.connect(v.token, server=survivor)

        # an unknown node is refused and changes nothing
        self.assert_error(self.admin("POST", "/admin/api/v1/nodes/no-such-node/drain", server=survivor),
                          404, "not_found")
        self.assertTrue(drained.running())

        st, _, body = self.admin("POST", "/admin/api/v1/nodes/%s/drain" % drained.node,
                                 server=survivor if through_survivor else drained)
        self.assertEqual(st, 202, body)
        self.assertEqual(body, {"node": drained.node, "status": "draining"})
        self.assertEqual(ws_drained.expect_close(timeout=DRAIN_EXIT_S), 4000)
        self.assertEqual(ws_drained2.expect_close(timeout=DRAIN_EXIT_S), 4000)
        poll(lambda: drained.exited(), "drained node %s exits" % drained.node, timeout=DRAIN_EXIT_S)
        self.assertEqual(drained.terminate(), 0, "exit code of the drained node; stderr:\n%s"
                         % drained.stderr_text()[-3000:])

        # the survivor lists the drained node as no longer live
        def gone():
            table = cluster.node_table(survivor)
            st = table.get(drained.node, {}).get("status")
            return (st in (None, "down", "draining")), table
        poll(lambda: gone()[0], "%s lists %s as not live" % (survivor.node, drained.node), timeout=EVENT_S)
        table = cluster.node_table(survivor)
        self.assertEqual(table[survivor.node]["status"], "up", table)

        # every room it held is served by the survivor, whole and gapless
        for rid in rooms:
            with self.subTest(room=rid, held_by_drained=rid in held):
                poll(lambda rid=rid: cluster.room_owner(rid, server=survivor) == survivor.node,
                     "room %s owned by %s" % (rid, survivor.node), timeout=EVENT_S)
                msgs = self.all_messages(u.token, rid, server=survivor)
                self.assertEqual([m["seq"] for m in msgs], list(range(1, 7)))
                self.assertEqual([m["body"] for m in msgs], bodies[rid])
                self.assertEqual(self.room_detail(rid, server=survivor)["last_seq"], 6)
                m = self.post(u.token, rid, "after drain", server=survivor)
                self.assertEqual(m["seq"], 7)
                ws_survivor.wait_event("message", lambda d, rid=rid: d.get("room") == rid and d.get("seq") == 7,
                                       timeout=EVENT_S)
        self.assertEqual(ws_survivor.ok("ping"), {}, "the drain closed a socket of the survivor")
        rooms_alive = {a["id"] for a in self.actors(server=survivor, kind="room", node=survivor.node)["actors"]}
        self.assertTrue(set(held) <= rooms_alive, "held rooms %r not live on %s: %r" % (held, survivor.node,
                                                                                         rooms_alive))

        # the drained node: 409 while listed (it is down), 404 once forgotten
        st, _, body = self.admin("POST", "/admin/api/v1/nodes/%s/drain" % drained.node, server=survivor)
        if drained.node in cluster.node_table(survivor):
            self.assert_error((st, {}, body), 409, "conflict")
        else:
            self.assert_error((st, {}, body), 404, "not_found")
        # the last live node has nobody to hand its rooms to
        self.assert_error(self.admin("POST", "/admin/api/v1/nodes/%s/drain" % survivor.node, server=survivor),
                          409, "conflict")
        self.assertTrue(survivor.running())
        self.assert_healthy(survivor)
        self.assertEqual(ws_survivor.ok("ping"), {})


if __name__ == "__main__":
    main()
