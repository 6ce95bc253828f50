#!/usr/bin/python3
"""Limits at the edge (PROTOCOL.md sections 3 and 10), against real nodes:
a logout, a password change or the expiry of a token closes its open
sockets with 4401 (on every node, within 1 s); every GET route answers HEAD;
an X-Filename that is not UTF-8 or is over 255 bytes is 400 and stores
nothing; the pages' CSP allows connections to the page's own origin only;
HTTPS answers carry HSTS; --admin-token-file keeps the token off the
command line; --max-connections (503) and --max-connections-per-ip (429)
hold, counted in /metrics; a request without a token sends a route that
needs one at most 64 KiB of body (401 before the rest is read);
registrations are limited per address (--register-per-min, 429) and, when
password hashing is saturated, get 503 with retry_after_ms while logins go
first and keep working; a socket whose session is behind stops reading
(--max-inbound-frames) and loses nothing."""

import http.client
import json
import os
import socket
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (HOST, ClusterCase, ConfabTestCase, Server, TlsServerCase, main, poll, run_confabd,  # noqa: E402
                     unique)

REVOKE_S = 1.0 + 0.5   # the contract's 1 s, plus the time to read the close


class RevocationTest(ConfabTestCase):
    server_args = ("--token-ttl-s", "60")

    def two_sockets(self):
        """A user with two tokens and a socket on each: (user, t1, ws1, t2, ws2)."""
        u = self.new_user()
        t1, t2 = u.token, self.login(u.username, u.password)["token"]
        return u, t1, self.connect(t1), t2, self.connect(t2)

    def assert_closed_4401(self, ws):
        start = time.monotonic()
        code, reason = ws.expect_close_reason(timeout=REVOKE_S)
        self.assertEqual(code, 4401, reason)
        self.assertLess(time.monotonic() - start, REVOKE_S)

    def test_logout_closes_that_tokens_sockets_only(self):
        u, t1, ws1, t2, ws2 = self.two_sockets()
        ws1b = self.connect(t1)
        self.assert_status(self.api("POST", "/api/v1/logout", token=t1), 204)
        self.assert_closed_4401(ws1)
        self.assert_closed_4401(ws1b)
        ws2.ok("ping")
        # and the revoked token opens no new socket
        ws3 = self.srv().ws()
        self.addCleanup(ws3.close)
        ws3.error("auth", token=t1)
        self.assertEqual(ws3.expect_close(), 4401)

    def test_password_change_closes_every_other_tokens_sockets(self):
        u, t1, ws1, t2, ws2 = self.two_sockets()
        self.assert_status(self.api("POST", "/api/v1/me/password",
                                    {"old_password": u.password, "new_password": "a new password 1"}, token=t2), 204)
        self.assert_closed_4401(ws1)
        ws2.ok("ping")  # the token that changed the password stays


class ExpiryTest(ConfabTestCase):
    server_args = ("--token-ttl-s", "3")

    def test_a_socket_closes_when_its_token_expires(self):
        u = self.new_user()
        ws = self.connect(u.token)
        # the token was issued at login, before the socket opened
        left = u.login["expires_at"] / 1000.0 - time.time()
        self.assertLess(left, 3.5)
        code, reason = ws.expect_close_reason(timeout=left + 2.0)
        self.assertEqual(code, 4401, reason)
        # JWT's exp is in whole seconds: the token ends at the second
        self.assertGreaterEqual(time.time() + 0.05, u.login["expires_at"] // 1000)


class ClusterRevocationTest(ClusterCase):
    cluster_size = 3

    def test_logout_on_one_node_closes_the_sockets_on_every_node(self):
        n1, n2, n3 = self.nodes()
        u = self.new_user(server=n1)
        other = self.login(u.username, u.password, server=n1)["token"]
        sockets = [self.connect(u.token, server=s) for s in (n1, n2, n3)]
        keep = self.connect(other, server=n3)
        self.assert_status(self.api("POST", "/api/v1/logout", token=u.token, server=n2), 204)
        start = time.monotonic()
        for ws in sockets:
            code, reason = ws.expect_close_reason(timeout=REVOKE_S)
            self.assertEqual(code, 4401, reason)
        self.assertLess(time.monotonic() - start, REVOKE_S)
        keep.ok("ping")

    def test_password_change_on_one_node_closes_older_tokens_everywhere(self):
        n1, n2, n3 = self.nodes()
        u = self.new_user(server=n1)
        newer = self.login(u.username, u.password, server=n3)["token"]
        old_sockets = [self.connect(u.token, server=s) for s in (n2, n3)]
        keep = self.connect(newer, server=n2)
        self.assert_status(self.api("POST", "/api/v1/me/password",
                                    {"old_password": u.password, "new_password": "another pw 123"}, token=newer,
                                    server=n1), 204)
        for ws in old_sockets:
            self.assertEqual(ws.expect_close(timeout=REVOKE_S), 4401)
        keep.ok("ping")


def raw(server, method, path, token=None, headers=None, body=None):
    """(status, headers, body bytes) of one request on a fresh connection."""
    conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
    try:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class HeadAndHeadersTest(ConfabTestCase):

    def setUp(self):
        super().setUp()
        self.u = self.new_user()
        self.rid = self.create_room(self.u.token)["id"]
        self.post(self.u.token, self.rid, "hello")
        status, _, body = raw(self.server, "POST", "/api/v1/rooms/%s/files" % self.rid, token=self.u.token,
                              headers={"X-Filename": "a.txt", "Content-Type": "text/plain"}, body=b"0123456789" * 100)
        self.assertEqual(status, 201, body)
        self.file_id = __import__("json").loads(body)["file"]["id"]

    def test_every_get_route_answers_head(self):
        admin = self.server.admin_token
        routes = [("/healthz", None), ("/", None), ("/client/app.js", None), ("/admin", None),
                  ("/api/v1/me", self.u.token), ("/api/v1/rooms", self.u.token), ("/api/v1/rooms/public", self.u.token),
                  ("/api/v1/rooms/%s/messages" % self.rid, self.u.token),
                  ("/api/v1/rooms/%s/members" % self.rid, self.u.token),
                  ("/api/v1/users/" + self.u.username, self.u.token),
                  ("/api/v1/files/" + self.file_id, self.u.token),
                  ("/api/v1/files/%s/info" % self.file_id, self.u.token),
                  ("/admin/api/v1/nodes", admin), ("/admin/api/v1/users/" + self.u.username, admin)]
        for path, token in routes:
            g_status, g_headers, g_body = raw(self.server, "GET", path, token=token)
            h_status, h_headers, h_body = raw(self.server, "HEAD", path, token=token)
            self.assertEqual(h_status, g_status, path)
            self.assertIn(g_status, (200, 204), path)
            self.assertEqual(h_body, b"", path)
            self.assertEqual(h_headers.get("content-type"), g_headers.get("content-type"), path)
            if path != "/admin/api/v1/nodes":  # uptime moves between the two calls
                self.assertEqual(int(h_headers["content-length"]), len(g_body), path)
        # /metrics moves between two calls: a length, no body
        status, headers, body = raw(self.server, "HEAD", "/metrics")
        self.assertEqual((status, body), (200, b""))
        self.assertGreater(int(headers["content-length"]), 100)
        # a HEAD with no token is refused as the GET is
        self.assertEqual(raw(self.server, "HEAD", "/api/v1/me")[:1], (401,))
        # the connection goes on after a HEAD: two on one connection
        conn = http.client.HTTPConnection(HOST, self.server.port, timeout=10)
        try:
            for _ in range(2):
                conn.request("HEAD", "/healthz")
                r = conn.getresponse()
                self.assertEqual((r.status, r.read()), (200, b""))
        finally:
            conn.close()

    def test_x_filename_must_be_utf8_of_at_most_255_bytes(self):
        path = "/api/v1/rooms/%s/files" % self.rid
        before = self.assert_status(self.api("GET", "/api/v1/rooms/%s/messages" % self.rid, token=self.u.token), 200)
        # http.client sends header text as Latin-1: each char below is one raw byte
        for name in ("bad\xff\xfe.txt", "overlong\xc0\xaf.txt", "surrogate\xed\xa0\x80.txt", "cut\xe2\x82",
                     "a" * 256, "\xc3\xa9" * 128):
            status, _, body = raw(self.server, "POST", path, token=self.u.token,
                                  headers={"X-Filename": name, "Content-Type": "text/plain"}, body=b"x" * 10)
            self.assertEqual(status, 400, (name, body))
            self.assertIn(b'"invalid_request"', body)
        # 255 bytes of UTF-8 are fine (an e-acute is two bytes)
        status, _, body = raw(self.server, "POST", path, token=self.u.token,
                              headers={"X-Filename": "\xc3\xa9" * 127 + "a", "Content-Type": "text/plain"},
                              body=b"x" * 10)
        self.assertEqual(status, 201, body)
        self.assertEqual(__import__("json").loads(body)["file"]["name"], "\u00e9" * 127 + "a")
        self.assert_healthy()
        after = self.assert_status(self.api("GET", "/api/v1/rooms/%s/messages" % self.rid, token=self.u.token), 200)
        self.assertEqual(after, before)

    def test_pages_may_connect_to_their_own_origin_only(self):
        for path in ("/", "/admin"):
            status, headers, _ = raw(self.server, "GET", path)
            self.assertEqual(status, 200)
            csp = headers["content-security-policy"]
            self.assertIn("connect-src 'self';", csp)
            self.assertNotIn("ws:", csp)
            self.assertNotIn("wss:", csp)
        # plain HTTP: no HSTS
        self.assertNotIn("strict-transport-security", raw(self.server, "GET", "/healthz")[1])


class HstsTest(TlsServerCase):
    server_args = ()
    server_env = None

    def test_https_answers_carry_hsts(self):
        for path in ("/healthz", "/", "/nope"):
            status, headers, _ = self.server.http("GET", path)
            self.assertEqual(headers.get("strict-transport-security"), "max-age=31536000", path)


class AdminTokenFileTest(ConfabTestCase):
    start_server = False

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="confab-it-token-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.file = os.path.join(self.tmp, "admin-token")
        self.token = "file-token-" + unique("t")
        with open(self.file, "w") as f:
            f.write(self.token + "\n")

    def test_token_from_a_file_is_used_and_not_on_the_command_line(self):
        s = Server(["--admin-token-file", self.file])
        self.addCleanup(s.cleanup)
        s.start()
        self.assertEqual(s.http("GET", "/admin/api/v1/nodes", token=self.token)[0], 200)
        self.assertEqual(s.http("GET", "/admin/api/v1/nodes", token="wrong-token-0123456789")[0], 401)
        with open("/proc/%d/cmdline" % s.proc.pid, "rb") as f:
            self.assertNotIn(self.token.encode(), f.read())
        self.assertNotIn("admin-token=", "".join(s.stdout_lines))

    def test_bad_token_files_fail_the_start(self):
        for args, pattern in ((["--admin-token-file", os.path.join(self.tmp, "missing")], "cannot read"),
                              (["--admin-token-file", self.file, "--admin-token", "x" * 20], "exclude")):
            rc, out, err = run_confabd(args + ["--data-dir", os.path.join(self.tmp, "d"), "--http-port", "0"])
            self.assertEqual(rc, 2, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(pattern, err)


def tcp_from(source, port, timeout=10):
    """A TCP connection to the node from loopback address `source`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((HOST, port))
    return s


def answer_of(sock, request, timeout=10):
    """Send `request` (bytes) and read the answer until the server closes or
    the whole announced body is there: (status, body as JSON or None)."""
    sock.sendall(request)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if length and len(rest) >= length[0]:
                status = int(head.split(b" ")[1])
                return status, json.loads(rest[:length[0]]) if length[0] else None
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    raise AssertionError("no whole answer: %r" % data[:300])


GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


class ConnectionLimitTest(ConfabTestCase):
    server_args = ("--max-connections", "3", "--max-connections-per-ip", "2")

    def test_connections_per_node_and_per_address(self):
        port = self.server.port
        held = [tcp_from("127.0.0.1", port), tcp_from("127.0.0.1", port)]
        self.addCleanup(lambda: [s.close() for s in held])
        # a third from the same address: 429, then closed
        with tcp_from("127.0.0.1", port) as s:
            status, body = answer_of(s, GET_HEALTHZ)
            self.assertEqual(status, 429)
            self.assertEqual(body["error"]["code"], "rate_limited")
            self.assertGreater(body["error"]["retry_after_ms"], 0)
        # a WebSocket upgrade is refused the same way
        with tcp_from("127.0.0.1", port) as s:
            status, _ = answer_of(s, b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            self.assertEqual(status, 429)
        # another address still gets in (and holds the last place)...
        other = tcp_from("127.0.0.2", port)
        held.append(other)
        self.assertEqual(answer_of(other, GET_HEALTHZ)[0], 200)
        # ...after which the node is full for everyone: 503
        with tcp_from("127.0.0.3", port) as s:
            status, body = answer_of(s, GET_HEALTHZ)
            self.assertEqual(status, 503)
            self.assertEqual(body["error"]["code"], "unavailable")
        # places come back when connections close
        for s in held:
            s.close()
        held.clear()

        def metrics():
            try:
                status, _, text = self.server.http("GET", "/metrics")
            except OSError:
                return None
            return text if status == 200 else None

        text = poll(metrics, "a place for /metrics once the held connections closed", timeout=10, interval=0.05)
        counts = {}
        for line in text.splitlines():
            if line.startswith("confab_connections_refused_total{"):
                counts[line.split('"')[1]] = float(line.split()[-1])
        self.assertEqual(counts, {"node": 1.0, "address": 2.0})  # 429 twice (GET, upgrade), 503 once
        self.assert_healthy()


class TokenlessBodyTest(ConfabTestCase):

    def test_a_big_body_without_a_token_is_refused_unread(self):
        port = self.server.port
        # only the header goes out: the answer comes before any body byte
        with tcp_from("127.0.0.1", port) as s:
            status, body = answer_of(s, b"POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                        b"Content-Length: 900000\r\n\r\n")
            self.assertEqual(status, 401)
            self.assertEqual(body["error"]["code"], "unauthorized")
        # chunked, past 64 KiB: 401 too
        with tcp_from("127.0.0.1", port) as s:
            chunk = b"x" * 32768
            req = b"POST /api/v1/me HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            for _ in range(3):
                req += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            try:
                status, body = answer_of(s, req)
            except (BrokenPipeError, ConnectionResetError):
                raise AssertionError("the node reset the connection instead of answering 401")
            self.assertEqual(status, 401)
        # a bearer token this cluster did not sign counts as none: 401 unread
        u = self.new_user()
        head, payload, _ = u.token.split(".")
        for bogus in ("x" * 40, head + "." + payload + ".AAAA", u.token[:-2]):
            with tcp_from("127.0.0.1", port) as s:
                status, body = answer_of(s, b"POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                            b"Authorization: Bearer %s\r\nContent-Length: 900000\r\n\r\n" % bogus.encode())
                self.assertEqual(status, 401, bogus)
                self.assertEqual(body["error"]["code"], "unauthorized")
        # a body under 64 KiB without a token is read and refused as before
        status, _, body = self.server.http("POST", "/api/v1/rooms", raw_body="x" * 1000)
        self.assertEqual(status, 401)
        # with a token, the usual 1 MiB limit: 413 past it
        status, _, body = self.server.http("POST", "/api/v1/rooms", raw_body="x" * (1024 * 1024 + 10), token=u.token)
        self.assertEqual(status, 413)
        # register and login need no token: a large body there is not 401
        status, _, body = self.server.http("POST", "/api/v1/register", raw_body="{" + " " * 100000 + "}")
        self.assertEqual(status, 400)
        self.assert_healthy()


def register_from(source, port, username, password="password-123", timeout=10):
    """POST /api/v1/register from loopback address `source`: (status, body)."""
    body = json.dumps({"username": username, "password": password}).encode()
    with tcp_from(source, port, timeout) as s:
        return answer_of(s, b"POST /api/v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body, timeout)


class RegisterPerAddressTest(ConfabTestCase):
    server_args = ("--register-per-min", "3")

    def test_registrations_per_address_per_minute(self):
        port = self.server.port
        for _ in range(3):
            self.assertEqual(register_from("127.0.0.1", port, unique("r"))[0], 201)
        status, body = register_from("127.0.0.1", port, unique("r"))
        self.assertEqual(status, 429, body)
        self.assertEqual(body["error"]["code"], "rate_limited")
        self.assertGreater(body["error"]["retry_after_ms"], 1000)
        self.assertLessEqual(body["error"]["retry_after_ms"], 60000)
        # a bad request counts too, and another address is not affected
        self.assertEqual(register_from("127.0.0.1", port, "x")[0], 429)
        self.assertEqual(register_from("127.0.0.5", port, unique("r"))[0], 201)
        self.assert_healthy()


class PerUserLimitsTest(ConfabTestCase):
    server_args = ("--rooms-per-min", "3", "--invites-per-min", "2", "--dms-per-min", "2")

    def assert_limited(self, resp):
        err = self.assert_error(resp, 429, "rate_limited")
        self.assertGreater(err["retry_after_ms"], 1000)
        self.assertLessEqual(err["retry_after_ms"], 60000)

    def test_room_creation_per_user(self):
        u, v = self.new_user(), self.new_user()
        for _ in range(3):
            self.create_room(u.token, "private")
        self.assert_limited(self.api("POST", "/api/v1/rooms", {"name": "one too many", "visibility": "public"},
                                     token=u.token))
        self.assertEqual(len(self.my_rooms(u.token)), 3)  # nothing made
        self.create_room(v.token)  # another user is not affected

    def test_invites_per_user(self):
        u = self.new_user()
        room = self.create_room(u.token, "private")
        others = [self.new_user() for _ in range(3)]
        for o in others[:2]:
            self.invite(u.token, room["id"], o.username)
        self.assert_limited(self.api("POST", "/api/v1/rooms/%s/invite" % room["id"],
                                     {"username": others[2].username}, token=u.token))
        # the third was not invited: joining the private room is refused
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/join" % room["id"], token=others[2].token), 403)
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/join" % room["id"], token=others[0].token), 200)

    def test_direct_rooms_per_user(self):
        u = self.new_user()
        others = [self.new_user() for _ in range(3)]
        for o in others[:2]:
            self.assert_status(self.api("POST", "/api/v1/dm", {"username": o.username}, token=u.token), 200)
        self.assert_limited(self.api("POST", "/api/v1/dm", {"username": others[2].username}, token=u.token))
        self.assertEqual(len(self.my_rooms(u.token)), 2)
        # the other side may still open it
        self.assert_status(self.api("POST", "/api/v1/dm", {"username": u.username}, token=others[2].token), 200)
        self.assert_healthy()


class RegistrationFloodTest(ConfabTestCase):
    server_args = ("--register-per-min", "100000", "--login-ip-attempts", "100000")

    def test_a_flood_of_registrations_gets_503_and_logins_keep_working(self):
        port = self.server.port
        u = self.new_user()
        results = []
        lock = threading.Lock()

        def register(i):
            try:
                # A queued registration hashes at idle CPU priority: on a busy
                # machine (ctest runs the nemesis beside it) it may take well
                # over 10 s. This test checks the answers, not their speed.
                r = register_from("127.0.0.%d" % (2 + i % 200), port, unique("f"), timeout=90)
            except Exception as e:  # noqa: BLE001 (recorded and asserted on below)
                r = ("error", repr(e))
            with lock:
                results.append(r)

        threads = [threading.Thread(target=register, args=(i,), daemon=True) for i in range(120)]
        for t in threads:
            t.start()
        # while the hashers are busy, logins still succeed, ahead of the queue
        logins = []
        for _ in range(5):
            start = time.monotonic()
            r = self.api("POST", "/api/v1/login", {"username": u.username, "password": u.password})
            logins.append((r[0], time.monotonic() - start))
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(len(results), 120, "registrations still running")
        statuses = [r[0] for r in results]
        self.assertEqual([st for st, _ in logins], [200] * 5)
        self.assertEqual(set(statuses) - {201, 503}, set(), [r for r in results if r[0] not in (201, 503)][:5])
        refused = [body for st, body in results if st == 503]
        self.assertTrue(refused, "no registration was refused: the queue is unbounded")
        for body in refused:
            self.assertEqual(body["error"]["code"], "unavailable")
            self.assertGreater(body["error"]["retry_after_ms"], 0)
        # the queue was bounded, not empty: some got through. How many depends
        # on the machine: a registration whose hash has not finished 7 s
        # after it arrived gets 503 too, and under a full ctest -j2 only 17
        # of 120 made it once (30 on a quiet machine).
        made = sum(1 for st in statuses if st == 201)
        self.assertGreaterEqual(made, 1)
        self.assert_healthy()


class PublicDirectoryPagesTest(ClusterCase):
    cluster_size = 2

    def test_pages_of_the_public_directory_cover_every_node_in_id_order(self):
        s1, s2 = self.nodes()
        u = self.new_user(server=s1)
        made = {self.create_room(u.token, "public", server=s)["id"] for s in (s1, s2, s1, s2, s1, s2, s1)}
        self.create_room(u.token, "private", server=s1)
        for server in (s1, s2):
            seen = self.public_directory(u.token, server=server, limit=3)
            ids = [r["id"] for r in seen]
            self.assertEqual(ids, sorted(set(ids)), "pages overlap or are out of order")
            self.assertTrue(made <= set(ids), made - set(ids))
            self.assertTrue(all(r["visibility"] == "public" for r in seen))
        # the default page is 100; a limit must be 1-500
        self.assertEqual(len(self.assert_status(self.api("GET", "/api/v1/rooms/public", token=u.token, server=s1),
                                                200)["rooms"]), len(made))
        for bad in ("0", "501", "x", "-1"):
            self.assert_error(self.api("GET", "/api/v1/rooms/public?limit=" + bad, token=u.token, server=s1),
                              400, "invalid_request")


class InboundBackpressureTest(ConfabTestCase):
    server_args = ("--max-inbound-frames", "8", "--rate-per-s", "1000000", "--rate-burst", "1000000")

    def read_pauses(self):
        status, _, text = self.server.http("GET", "/metrics")
        self.assertEqual(status, 200)
        for line in text.splitlines():
            if line.startswith("confab_ws_read_pauses_total "):
                return float(line.split()[-1])
        self.fail("no confab_ws_read_pauses_total in /metrics")

    def test_a_burst_of_frames_pauses_reading_and_every_frame_is_answered_in_order(self):
        from websocket import ABNF
        u = self.new_user()
        ws = self.connect(u.token)
        before = self.read_pauses()
        # 3,000 frames in one write: the socket reads far faster than the
        # session handles them, so it must stop reading, more than once.
        ids = [ws.new_id() for _ in range(3000)]
        burst = b"".join(ABNF.create_frame(json.dumps({"op": "ping", "id": i}), ABNF.OPCODE_TEXT).format()
                         for i in ids)
        ws.ws.sock.sendall(burst)
        for i in ids:
            self.assertEqual(ws.wait_reply(i, timeout=30)["op"], "ok")
        wanted = set(ids)
        order = [f["id"] for f in ws.frames if f.get("op") == "ok" and f.get("id") in wanted]
        self.assertEqual(order, ids)
        self.assertGreater(self.read_pauses() - before, 0)
        ws.ok("ping")
        self.assert_healthy()


if __name__ == "__main__":
    main()
