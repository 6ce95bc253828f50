#!/usr/bin/python3
"""confabd's log (notes/admin-contract.md): with `--log-level trace` (text and
`--log-format json`) traffic full of secrets -- a password, wrong passwords,
user tokens over HTTP and WebSocket, a token-looking string in a bad auth,
message bodies, a malformed JSON body holding the password, a password change,
admin calls -- leaves none of them in stderr or stdout. JSON lines are objects
with ts, level, thread and msg; an HTTP request's lines carry its `req=` id
(access line: method, path, status); a WebSocket session's lines carry its
`session=s_...` id (opened from the remote, authenticated as the user, closed);
`--log-level warn` keeps info lines out.

The server's stderr goes to a file (harness.Server); the whole of it is read
after the server has stopped."""

import json
import os
import re
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ConfabTestCase, Server, main, unique  # noqa: E402

EVENT_S = 10.0
ACCESS_RE = re.compile(r"\breq=([0-9a-f]{16})\b.*\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/\S*) (\d{3})\b")
REQ_RE = re.compile(r"\breq=(\S+)")
SESSION_RE = re.compile(r"\bsession=(s_[0-9a-zA-Z]+)\b")
ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# the --log-level names, and spdlog's own names for two of them
LEVELS = {"trace", "debug", "info", "warn", "warning", "error", "critical"}


def hexid():
    return uuid.uuid4().hex


class Secrets:
    """Everything that must never be logged, each unique to this run."""

    def __init__(self):
        tag = hexid()[:10]
        self.password = "Pw-7f3a9c1e-secret-" + tag
        self.new_password = "NewPw-c0ffee42-" + tag
        self.wrong_passwords = ["Wrong-9d8e7f-%d-%s" % (i, tag) for i in range(3)]
        self.admin_token = "admtok-5e6f7a8b-" + hexid()
        self.wrong_admin_token = "admtok-wrong-0a1b2c-" + hexid()
        self.markers = ["BODYMARK-%d-%s" % (i, hexid()[:12]) for i in range(6)]
        self.tokens = []          # user tokens, filled in as they are issued
        self.fake_token = None    # a token-looking string that is not a token

    def all(self):
        out = {"password": self.password, "new password": self.new_password,
               "admin token": self.admin_token, "wrong admin token": self.wrong_admin_token}
        for i, p in enumerate(self.wrong_passwords):
            out["wrong password %d" % i] = p
        for i, m in enumerate(self.markers):
            out["body marker %d" % i] = m
        for i, t in enumerate(self.tokens):
            out["user token %d" % i] = t
            # the signature alone (a token cut at its last dot is still a leak)
            tail = t.rsplit(".", 1)[-1]
            if len(tail) >= 16:
                out["user token %d signature" % i] = tail
        if self.fake_token:
            out["fake token"] = self.fake_token
            out["fake token signature"] = self.fake_token.rsplit(".", 1)[-1]
        return out


def lookalike(token):
    """A string shaped like `token` (same parts, same alphabet) that is not a valid token."""
    parts = token.split(".")
    sig = parts[-1]
    forged = "".join("A" if c != "A" else "B" for c in sig[:8]) + sig[8:][::-1]
    return ".".join(parts[:-1] + [forged]) if len(parts) > 1 else "tok_" + hexid() + hexid()


class LogCase(ConfabTestCase):
    start_server = False
    log_args = ()

    def start_logged(self, *extra):
        s = Server(["--admin-token", self.secrets.admin_token] + list(self.log_args) + list(extra))
        self.addCleanup(s.cleanup)
        return s.start()

    def setUp(self):
        super().setUp()
        self.secrets = Secrets()

    def traffic(self, s):
        """Everything with a secret in it, against server `s`. Returns what the
        log checks need: the sessions (id, remote, username) and the requests."""
        sec = self.secrets
        self.websockets = 4       # ws, bad, junk, kicked below
        username = unique("logs")
        st, _, body = s.http("POST", "/api/v1/register", {"username": username, "password": sec.password})
        self.assertEqual(st, 201, body)
        for p in sec.wrong_passwords:
            st, _, body = s.http("POST", "/api/v1/login", {"username": username, "password": p})
            self.assertEqual(st, 401, body)
        st, _, login = s.http("POST", "/api/v1/login", {"username": username, "password": sec.password})
        self.assertEqual(st, 200, login)
        token = login["token"]
        sec.tokens.append(token)
        sec.fake_token = lookalike(token)

        # the token over HTTP
        st, _, me = s.http("GET", "/api/v1/me", token=token)
        self.assertEqual(st, 200, me)
        st, _, room = s.http("POST", "/api/v1/rooms", {"name": "logs room", "visibility": "public"}, token=token)
        self.assertEqual(st, 201, room)
        rid = room["room"]["id"]
        st, _, body = s.http("POST", "/api/v1/rooms/%s/messages" % rid, {"body": "http " + sec.markers[0]},
                             token=token)
        self.assertEqual(st, 201, body)
        st, _, body = s.http("GET", "/api/v1/rooms/%s/messages" % rid, token=token)
        self.assertEqual(st, 200, body)
        # a token-looking string over HTTP
        st, _, body = s.http("GET", "/api/v1/me", token=sec.fake_token)
        self.assertEqual(st, 401, body)

        # the token over WebSocket, and message bodies
        ws = s.ws()
        self._clients.append(ws)
        ws.auth(token)
        sessions = [(ws.auth_data["session"], "%s:%d" % ws.ws.sock.getsockname()[:2], username)]
        for m in sec.markers[1:3]:
            ws.ok("send", room=rid, body="ws " + m, client_msg_id="c-" + hexid())
        ws.wait_event("message", lambda d: sec.markers[2] in (d.get("body") or ""))
        self.assertEqual(ws.error("frobnicate", body=sec.markers[3])["code"], "unknown_op")

        # a bad WebSocket auth with a token-looking string
        bad = s.ws()
        self._clients.append(bad)
        r = bad.request("auth", token=sec.fake_token)
        self.assertEqual(r.get("op"), "error", r)
        try:
            bad.expect_close(timeout=EVENT_S)
        except AssertionError:
            pass       # the contract does not say whether a bad token closes the socket

        # malformed JSON with the password in it, over HTTP and WebSocket
        raw = '{"username": "%s", "password": "%s"' % (username, sec.password)
        st, _, body = s.http("POST", "/api/v1/login", raw_body=raw)
        self.assertEqual(st, 400, body)
        st, _, body = s.http("POST", "/api/v1/rooms/%s/messages" % rid, raw_body='{"body": "%s"' % sec.markers[4],
                             token=token)
        self.assertEqual(st, 400, body)
        junk = s.ws()
        self._clients.append(junk)
        junk.auth(token)
        sessions.append((junk.auth_data["session"], "%s:%d" % junk.ws.sock.getsockname()[:2], username))
        junk.send_text('{"op":"send","room":"%s","body":"%s' % (rid, sec.markers[5]))
        self.assertEqual(junk.expect_close(timeout=EVENT_S), 1007)

        # password change: wrong old password, then the right one
        st, _, body = s.http("POST", "/api/v1/me/password",
                             {"old_password": sec.wrong_passwords[0], "new_password": sec.new_password}, token=token)
        self.assertIn(st, (400, 401, 403), body)
        st, _, body = s.http("POST", "/api/v1/me/password",
                             {"old_password": sec.password, "new_password": sec.new_password}, token=token)
        self.assertEqual(st, 204, body)
        st, _, login2 = s.http("POST", "/api/v1/login", {"username": username, "password": sec.new_password})
        self.assertEqual(st, 200, login2)
        token2 = login2["token"]
        sec.tokens.append(token2)

        # admin calls with the admin token (and a wrong one)
        for path in ("/admin/api/v1/nodes", "/admin/api/v1/actors?limit=1000", "/admin/api/v1/users/" + username,
                     "/admin/api/v1/rooms/" + rid):
            st, _, body = s.http("GET", path, token=sec.admin_token)
            self.assertEqual(st, 200, (path, body))
        st, _, body = s.http("GET", "/admin/api/v1/nodes", token=sec.wrong_admin_token)
        self.assertEqual(st, 401, body)
        st, _, body = s.http("GET", "/admin/api/v1/nodes", token=token2)
        self.assertEqual(st, 401, body)
        kicked = s.ws()
        self._clients.append(kicked)
        kicked.auth(token2)
        sessions.append((kicked.auth_data["session"], "%s:%d" % kicked.ws.sock.getsockname()[:2], username))
        st, _, body = s.http("POST", "/admin/api/v1/sessions/%s/kick" % kicked.auth_data["session"],
                             token=sec.admin_token)
        self.assertEqual(st, 204, body)
        self.assertEqual(kicked.expect_close(timeout=EVENT_S), 4003)

        # the first WebSocket ends normally, then the new token logs out
        ws.close()
        st, _, body = s.http("POST", "/api/v1/logout", token=token2)
        self.assertEqual(st, 204, body)
        st, _, body = s.http("GET", "/api/v1/me", token=token2)
        self.assertEqual(st, 401, body)
        return sessions

    def stopped_output(self, s):
        """Stop `s` (SIGTERM, exit 0) and return (stdout lines, stderr lines)."""
        rc = s.terminate()
        err = s.stderr_text()
        self.assertEqual(rc, 0, err[-3000:])
        return list(s.stdout_lines), err.splitlines()

    def assert_no_secret(self, out_lines, err_lines):
        for stream, lines in (("stdout", out_lines), ("stderr", err_lines)):
            text = "\n".join(lines)
            for what, secret in self.secrets.all().items():
                with self.subTest(stream=stream, secret=what):
                    hits = [ln for ln in lines if secret in ln]
                    self.assertFalse(hits, "%s (%r) appears in %s:\n%s" % (what, secret, stream, "\n".join(hits[:5])))
                    self.assertNotIn(secret, text)
        # the admin token was given: it is never printed
        self.assertFalse([ln for ln in out_lines if ln.startswith("confabd admin-token=")], out_lines)

    def assert_requests_tagged(self, msgs):
        """Access lines carry req ids; each request's id is its own; every req=
        line belongs to a request that has an access line."""
        access = {}
        for m in msgs:
            a = ACCESS_RE.search(m)
            if a:
                self.assertNotIn(a.group(1), access, "two access lines with req=%s:\n%s\n%s"
                                 % (a.group(1), access.get(a.group(1)), m))
                access[a.group(1)] = (a.group(2), a.group(3).split("?")[0], int(a.group(4)), m)
        seen = {(method, path, status) for method, path, status, _ in access.values()}
        for want in (("POST", "/api/v1/register", 201), ("POST", "/api/v1/login", 401),
                     ("POST", "/api/v1/login", 200), ("POST", "/api/v1/login", 400), ("GET", "/api/v1/me", 200),
                     ("GET", "/api/v1/me", 401), ("POST", "/api/v1/me/password", 204),
                     ("POST", "/api/v1/logout", 204), ("GET", "/admin/api/v1/nodes", 200),
                     ("GET", "/admin/api/v1/nodes", 401)):
            self.assertIn(want, seen, "no access line for %s %s %s; access lines:\n%s"
                          % (want + ("\n".join(v[3] for v in access.values()),)))
        logins_401 = [k for k, v in access.items() if v[:3] == ("POST", "/api/v1/login", 401)]
        self.assertEqual(len(logins_401), len(self.secrets.wrong_passwords), logins_401)
        # every req= line belongs to a request with an access line, except
        # WebSocket upgrades (they become sessions and log session= lines)
        upgrades = set()
        for m in msgs:
            r = REQ_RE.search(m)
            if r and re.search(r"(?i)websocket", m) and r.group(1) not in access:
                upgrades.add(r.group(1))
        self.assertEqual(len(upgrades), self.websockets, "WebSocket upgrade requests: %r" % upgrades)
        for m in msgs:
            r = REQ_RE.search(m)
            if r:
                self.assertRegex(r.group(1), r"^[0-9a-f]{16}$", m)
                self.assertTrue(r.group(1) in access or r.group(1) in upgrades,
                                "a req= line of a request without an access line: %s" % m)

    def assert_sessions_tagged(self, msgs, sessions):
        for sid, remote, username in sessions:
            with self.subTest(session=sid):
                mine = [(i, m) for i, m in enumerate(msgs) if re.search(r"\bsession=%s\b" % re.escape(sid), m)]
                self.assertTrue(mine, "no line with session=%s" % sid)
                opened = [i for i, m in mine if remote in m and re.search(r"(?i)\bopen", m)]
                authed = [i for i, m in mine if username in m and re.search(r"(?i)\bauth", m)]
                closed = [i for i, m in mine if re.search(r"(?i)\b(clos|end)", m)]
                self.assertTrue(opened, "no 'opened from %s' line of %s:\n%s" % (remote, sid, mine))
                self.assertTrue(authed, "no 'authenticated as %s' line of %s:\n%s" % (username, sid, mine))
                self.assertTrue(closed, "no 'closed' line of %s:\n%s" % (sid, mine))
                self.assertLess(min(opened), min(authed), mine)
                self.assertLess(min(authed), max(closed), mine)
        # sessions ids are the ones the auth replies named, never anything else
        ids = {s for s, _, _ in sessions}
        for m in msgs:
            for sid in SESSION_RE.findall(m):
                self.assertRegex(sid, r"^s_[0-9a-f]+$", m)
        self.assertEqual(len(ids), len(sessions))


class TextLogTest(LogCase):
    log_args = ("--log-level", "trace")

    def test_trace_logs_no_secret_and_tags_requests_and_sessions(self):
        s = self.start_logged()
        sessions = self.traffic(s)
        out, err = self.stopped_output(s)
        self.assertGreater(len(err), 20, "a trace log of all that traffic has %d lines" % len(err))
        self.assert_no_secret(out, err)
        self.assert_requests_tagged(err)
        self.assert_sessions_tagged(err, sessions)


class JsonLogTest(LogCase):
    log_args = ("--log-level", "trace", "--log-format", "json")

    def parse(self, err_lines):
        msgs = []
        for i, line in enumerate(err_lines):
            with self.subTest(line=i):
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    self.fail("stderr line %d is not JSON (%s): %r" % (i, e, line))
                self.assertIsInstance(obj, dict, line)
                self.assertRegex(obj.get("ts", ""), ISO_MS_UTC, line)
                self.assertIn(obj.get("level"), LEVELS, line)
                self.assertIsInstance(obj.get("msg"), str, line)
                self.assertTrue(isinstance(obj.get("thread"), int) and not isinstance(obj["thread"], bool), line)
                msgs.append(obj.get("msg"))
        return msgs

    def test_json_lines_no_secret_and_tags(self):
        s = self.start_logged()
        sessions = self.traffic(s)
        out, err = self.stopped_output(s)
        self.assertGreater(len(err), 20, "a trace log of all that traffic has %d lines" % len(err))
        # every line, blank ones included, is one JSON object
        msgs = self.parse(err)
        self.assert_no_secret(out, err)
        self.assert_requests_tagged(msgs)
        self.assert_sessions_tagged(msgs, sessions)


class LevelTest(LogCase):
    log_args = ("--log-format", "json", "--log-level", "warn")

    def test_warn_level_keeps_info_out(self):
        s = self.start_logged()
        u = unique("lvl")
        st, _, body = s.http("POST", "/api/v1/register", {"username": u, "password": self.secrets.password})
        self.assertEqual(st, 201, body)
        st, _, body = s.http("POST", "/api/v1/login", {"username": u, "password": self.secrets.password})
        self.assertEqual(st, 200, body)
        ws = s.ws()
        self._clients.append(ws)
        ws.auth(body["token"])
        self.assertEqual(ws.ok("ping"), {})
        ws.close()
        out, err = self.stopped_output(s)
        for line in err:
            obj = json.loads(line)
            self.assertIn(obj["level"], {"warn", "warning", "error", "critical"}, line)
        self.assertFalse([ln for ln in err if "req=" in ln and ACCESS_RE.search(ln)], err)


if __name__ == "__main__":
    main()
