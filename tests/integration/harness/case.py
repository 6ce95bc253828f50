"""The test case base classes, users, polling with a deadline, and shared cases."""

import os
import shutil
import socket
import tempfile
import threading
import time
import unittest
import uuid

from .common import *  # noqa: F401,F403
from .rest import *  # noqa: F401,F403
from .ws import *  # noqa: F401,F403
from .process import *  # noqa: F401,F403

class User:
    def __init__(self, username, password, token, user, login):
        self.username = username
        self.password = password
        self.token = token
        self.user = user
        self.id = user["id"]
        self.login = login

    def __repr__(self):
        return "User(%s)" % self.username


class ConfabTestCase(unittest.TestCase):
    """Starts one server per class (flags in `server_args`); helpers for users,
    rooms, messages and WebSocket clients, which are closed after each test."""

    server_args = ()
    server_env = None
    server = None
    start_server = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.start_server:
            cls.server = Server(cls.server_args, env=cls.server_env).start()

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server is not None:
                cls.server.stop()
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self._clients = []
        self.addCleanup(self._close_clients)

    def _close_clients(self):
        for c in self._clients:
            c.close()

    # -- plumbing --

    def srv(self, server=None):
        return server or self.server

    def api(self, method, path, body=None, token=None, server=None, **kw):
        return self.srv(server).http(method, path, body=body, token=token, **kw)

    def assert_error(self, resp, status, code=None):
        st, _, body = resp
        self.assertEqual(st, status, "expected %s %s, got %s %r" % (status, code, st, body))
        self.assertIsInstance(body, dict, "error body is not JSON: %r" % (body,))
        self.assertIn("error", body, body)
        err = body["error"]
        self.assertIsInstance(err, dict, body)
        self.assertIsInstance(err.get("code"), str, body)
        self.assertIsInstance(err.get("message"), str, body)
        if code is not None:
            self.assertEqual(err["code"], code, body)
        return err

    def assert_status(self, resp, status):
        self.assertEqual(resp[0], status, "expected %s, got %s %r" % (status, resp[0], resp[2]))
        return resp[2]

    def assert_healthy(self, server=None):
        s = self.srv(server)
        st, _, body = s.http("GET", "/healthz")
        self.assertEqual(st, 200, body)
        self.assertEqual(body.get("status"), "ok", body)
        self.assertEqual(body.get("node"), s.node, body)

    def connect(self, token=None, server=None, **kw):
        """A WebSocket client, authenticated when `token` is given."""
        c = self.srv(server).ws(**kw)
        self._clients.append(c)
        if token is not None:
            c.auth(token)
        return c

    # -- accounts --

    def register(self, username=None, password=None, display_name=None, server=None):
        username = username or unique()
        password = password or ("pw-" + uuid.uuid4().hex[:12])
        body = {"username": username, "password": password}
        if display_name is not None:
            body["display_name"] = display_name
        # A node whose cores are busy (ctest -j2 beside the nemesis) answers
        # 503 with retry_after_ms, as PROTOCOL.md section 10 says, and stores
        # nothing: retry as a client would, within a bound.
        deadline = time.monotonic() + 90
        while True:
            resp = self.api("POST", "/api/v1/register", body, server=server)
            if resp[0] != 503 or time.monotonic() > deadline:
                break
            time.sleep(min(5.0, (resp[2] or {}).get("error", {}).get("retry_after_ms", 500) / 1000.0))
        self.assertEqual(resp[0], 201, "register %s: %s %r" % (username, resp[0], resp[2]))
        return username, password, resp[2]["user"]

    def login(self, username, password, server=None):
        resp = self.api("POST", "/api/v1/login", {"username": username, "password": password},
                        server=server)
        self.assertEqual(resp[0], 200, "login %s: %s %r" % (username, resp[0], resp[2]))
        return resp[2]

    def new_user(self, display_name=None, server=None):
        username, password, user = self.register(display_name=display_name, server=server)
        login = self.login(username, password, server=server)
        return User(username, password, login["token"], user, login)

    # -- rooms and messages --

    def create_room(self, token, visibility="public", name=None, topic=None, server=None):
        body = {"name": name or ("room " + uuid.uuid4().hex[:8]), "visibility": visibility}
        if topic is not None:
            body["topic"] = topic
        resp = self.api("POST", "/api/v1/rooms", body, token=token, server=server)
        self.assertEqual(resp[0], 201, "create room: %s %r" % (resp[0], resp[2]))
        return resp[2]["room"]

    def join(self, token, rid, server=None):
        resp = self.api("POST", "/api/v1/rooms/%s/join" % rid, token=token, server=server)
        self.assertEqual(resp[0], 200, "join %s: %s %r" % (rid, resp[0], resp[2]))
        return resp[2]["room"]

    def invite(self, token, rid, username, server=None):
        resp = self.api("POST", "/api/v1/rooms/%s/invite" % rid, {"username": username},
                        token=token, server=server)
        self.assertEqual(resp[0], 204, "invite %s: %s %r" % (username, resp[0], resp[2]))

    # Server flags under which fill_slow_socket() trips the slow-consumer close.
    SLOW_CONSUMER_ARGS = ("--max-outbound", "65536", "--rate-per-s", "1000", "--rate-burst", "1000")

    def fill_slow_socket(self):
        """A socket that asks for far more than it reads, on a server started
        with SLOW_CONSUMER_ARGS. Returns (slow, watcher, sender): the slow
        socket (not read), a watcher session of the same room that has seen
        the node work through the slow socket's queries, and the slow socket's
        user."""
        a = self.new_user()
        b = self.new_user()
        watcher = self.new_user()
        room = self.create_room(a.token)["id"]
        self.join(b.token, room)
        self.join(watcher.token, room)
        for i in range(16):
            self.post((a, b)[i % 2].token, room, ("%02d" % i) * 3500)
        w = self.connect(watcher.token)
        # each reply (8 messages of 7000 characters, ~57 KB) is under the
        # outbound limit, but 150 of them (~8.5 MB) are far more than the
        # kernel buffers hold while the client reads nothing (a fixed 256 KiB
        # receive buffer stops autotuning, yet stays above the loopback MSS)
        ws = self.connect(a.token, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 262144),))
        for _ in range(150):
            ws.send_obj({"op": "history", "id": ws.new_id(), "room": room, "limit": 8})
        # a barrier that does not read the slow socket (a server may ignore
        # its later frames once it decided to close it): the same page, asked
        # afterwards by another session, comes back once the node has worked
        # through the queries asked before it
        for _ in range(3):
            self.assertEqual(len(w.ok("history", room=room, limit=8)["messages"]), 8)
        return ws, w, a

    def post(self, token, rid, body, client_msg_id=None, server=None, **extra):
        req = {"body": body}
        if client_msg_id is not None:
            req["client_msg_id"] = client_msg_id
        req.update(extra)
        resp = self.api("POST", "/api/v1/rooms/%s/messages" % rid, req, token=token, server=server)
        self.assertEqual(resp[0], 201, "post to %s: %s %r" % (rid, resp[0], resp[2]))
        return resp[2]["message"]

    def history(self, token, rid, server=None, **params):
        q = "&".join("%s=%s" % (k, v) for k, v in params.items())
        path = "/api/v1/rooms/%s/messages" % rid + ("?" + q if q else "")
        resp = self.api("GET", path, token=token, server=server)
        self.assertEqual(resp[0], 200, "history %s: %s %r" % (path, resp[0], resp[2]))
        return resp[2]

    def all_messages(self, token, rid, server=None):
        """The whole history of a small room (up to 200 messages)."""
        return self.history(token, rid, server=server, limit=200)["messages"]

    def members(self, token, rid, server=None):
        resp = self.api("GET", "/api/v1/rooms/%s/members" % rid, token=token, server=server)
        self.assertEqual(resp[0], 200, "members %s: %s %r" % (rid, resp[0], resp[2]))
        return {m["user"]["username"]: m for m in resp[2]["members"]}

    def public_directory(self, token, server=None, limit=500):
        """Every public room, read page by page (ascending ids, `after` the last)."""
        rooms, after = [], ""
        for _ in range(1000):
            path = "/api/v1/rooms/public?limit=%d" % limit + ("&after=%s" % after if after else "")
            resp = self.api("GET", path, token=token, server=server)
            self.assertEqual(resp[0], 200, resp)
            page = resp[2]["rooms"]
            rooms += page
            if len(page) < limit:
                return rooms
            after = page[-1]["id"]
        self.fail("the public directory did not end")

    def my_rooms(self, token, server=None):
        resp = self.api("GET", "/api/v1/rooms", token=token, server=server)
        self.assertEqual(resp[0], 200, resp)
        return {r["id"]: r for r in resp[2]["rooms"]}

    def assert_message_shape(self, m):
        for f in ("room", "seq", "msg_id", "from", "ts"):
            self.assertIn(f, m, m)
        self.assertIsInstance(m["seq"], int, m)
        self.assertIsInstance(m["ts"], int, m)
        self.assertRegex(m["msg_id"], MSG_ID_RE)


def poll(fn, what, timeout=5.0, interval=0.02):
    """Call fn() until it returns a true value (returned) or the deadline
    passes (AssertionError naming `what`). For state that is visible only by
    asking, never for events a socket delivers."""
    deadline = time.monotonic() + timeout
    ev = threading.Event()
    for _ in range(int(timeout / interval) + 2):
        v = fn()
        if v:
            return v
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ev.wait(min(interval, left))
    raise AssertionError("timed out after %ss waiting until: %s" % (timeout, what))


def seed_ten(case, token, rid):
    """Post messages 1..10 ("m1".."m10") into a fresh room over HTTP."""
    for i in range(1, 11):
        m = case.post(token, rid, "m%d" % i)
        case.assertEqual(m["seq"], i, "seq of message %d" % i)


# History semantics of docs/PROTOCOL.md over a room holding seqs 1..10:
# (params, expected seqs, expected has_more)
HISTORY_CASES = [
    ({}, list(range(1, 11)), False),
    ({"limit": 3}, [8, 9, 10], True),
    ({"limit": 10}, list(range(1, 11)), False),
    ({"limit": 200}, list(range(1, 11)), False),
    ({"limit": 1}, [10], True),
    ({"before": 5, "limit": 2}, [3, 4], True),
    ({"before": 3, "limit": 5}, [1, 2], False),
    ({"before": 3, "limit": 2}, [1, 2], False),
    ({"before": 1}, [], False),
    ({"before": 11, "limit": 10}, list(range(1, 11)), False),
    ({"before": 100, "limit": 3}, [8, 9, 10], True),
    ({"after": 7, "limit": 2}, [8, 9], True),
    ({"after": 8, "limit": 5}, [9, 10], False),
    ({"after": 8, "limit": 2}, [9, 10], False),
    ({"after": 0, "limit": 3}, [1, 2, 3], True),
    ({"after": 10}, [], False),
    ({"after": 2, "before": 8, "limit": 3}, [3, 4, 5], True),
    ({"after": 2, "before": 6, "limit": 3}, [3, 4, 5], False),
    ({"after": 2, "before": 6}, [3, 4, 5], False),
    ({"after": 5, "before": 6}, [], False),
]


def ack_fields(ack):
    """The fields of a send ack the contract defines: (room, seq, msg_id, ts)."""
    return (ack.get("room"), ack.get("seq"), ack.get("msg_id"), ack.get("ts"))


def main():
    unittest.main(verbosity=2)


class RestartCase:
    """Mixed in before ConfabTestCase (or a subclass) by tests that stop a node
    and start another on the same data dir: each test gets a fresh data dir,
    and start() starts a node on it (cleaned up with the test)."""

    start_server = False

    def setUp(self):
        super().setUp()
        tmp = tempfile.mkdtemp(prefix="confab-it-restart-")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.data_dir = os.path.join(tmp, "data")

    def start(self):
        s = Server(data_dir=self.data_dir)
        self.addCleanup(s.cleanup)
        return s.start()


# -- clusters -------------------------------------------------------------------
