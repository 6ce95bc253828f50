#!/usr/bin/python3
"""Notifications (dm, mention, invite) to every session of the user, and the
offline push webhook (--push-webhook): payload, no POST for a user with an
open session, retries with backoff, giving up, chat unaffected by a failing
or unreachable receiver."""

import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import HOST, ConfabTestCase, free_port, main, poll, run_confabd  # noqa: E402

FIELDS = ("room", "seq", "from", "reason", "preview")


def cmid():
    return "c-" + uuid.uuid4().hex


class Receiver:
    """A webhook receiver on 127.0.0.1 (port 0) in a thread. Records every
    request; answers each POST with the next status planned for its user
    (`plan[username]`, a list), else `always.get(username, 200)`, after
    holding the answer `stall.get(username, 0)` seconds (a slow receiver)."""

    def __init__(self):
        self.cv = threading.Condition()
        self.requests = []
        self.plan = {}
        self.always = {}
        self.stall = {}
        self._stop = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer._handle(self)

            do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://%s:%d/hook" % (HOST, self.port)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    @staticmethod
    def _read_body(h):
        n = h.headers.get("Content-Length")
        if n is not None:
            return h.rfile.read(int(n))
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            for _ in range(100000):
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    h.rfile.readline()
                    break
                out += h.rfile.read(size)
                h.rfile.readline()
            return out
        return b""

    def _handle(self, h):
        raw = self._read_body(h)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            body = None
        user = body.get("user") if isinstance(body, dict) else None
        with self.cv:
            planned = self.plan.get(user)
            status = planned.pop(0) if planned else self.always.get(user, 200)
            self.requests.append({"method": h.command, "path": h.path, "headers": dict(h.headers),
                                  "raw": raw, "json": body, "user": user, "status": status,
                                  "t": time.monotonic()})
            self.cv.notify_all()
        hold = self.stall.get(user, 0)
        if hold:
            self._stop.wait(hold)       # simulates a slow receiver
        data = b"ok" if status < 300 else b"failed"
        h.send_response(status)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def of(self, username):
        with self.cv:
            return [r for r in self.requests if r["user"] == username]

    def wait_for(self, username, count=1, timeout=10.0):
        """The requests for `username` once there are at least `count`."""
        deadline = time.monotonic() + timeout
        with self.cv:
            for _ in range(100000):
                got = [r for r in self.requests if r["user"] == username]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cv.wait(left)
            raise AssertionError("webhook: %d of %d POSTs for %s within %ss; all requests: %r"
                                 % (len(got), count, username, timeout,
                                    [(r["user"], r["status"], r["raw"][:200]) for r in self.requests]))

    def assert_quiet(self, username, count, seconds):
        """No request beyond `count` for `username` during `seconds`: only
        for a delay the server prescribes itself (its retry backoff)."""
        deadline = time.monotonic() + seconds
        with self.cv:
            for _ in range(100000):
                got = [r for r in self.requests if r["user"] == username]
                if len(got) > count:
                    raise AssertionError("webhook: %d POSTs for %s, expected %d: %r"
                                         % (len(got), username, count, [r["raw"][:200] for r in got]))
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cv.wait(left)


class NotificationCase(ConfabTestCase):

    def dm(self, token, username):
        resp = self.api("POST", "/api/v1/dm", {"username": username}, token=token)
        return self.assert_status(resp, 200)["room"]["id"]

    def assert_notification(self, n, room, seq, sender, reason, preview):
        self.assertIsInstance(n, dict, n)
        got = {k: n.get(k) for k in FIELDS}
        self.assertEqual(got, {"room": room, "seq": seq, "from": sender, "reason": reason, "preview": preview},
                         "notification %r" % (n,))

    def notes(self, ws, pred=None):
        return ws.events("notification", pred)

    def status(self, token, username):
        resp = self.api("GET", "/api/v1/users/%s" % username, token=token)
        return self.assert_status(resp, 200)["presence"]["status"]

    def settle(self, *users):
        """Wait until each user's first session counts for presence (the
        user shows online), so that notifications routed by presence find it.
        test_notification_right_after_auth covers the moment before."""
        for u in users:
            poll(lambda: self.status(u.token, u.username) != "offline", "%s shows online" % u.username)


class NotificationTest(NotificationCase):

    def test_dm_notifies_every_session_of_the_other_member(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        dm = self.dm(a.token, b.username)
        a1, a2 = self.connect(a.token), self.connect(a.token)
        b1, b2 = self.connect(b.token), self.connect(b.token)
        c1 = self.connect(c.token)
        self.settle(a, b, c)
        ack = a1.ok("send", room=dm, body="hello b", client_msg_id=cmid())
        self.assertEqual(ack["seq"], 1)
        for name, ws in (("b session 1", b1), ("b session 2", b2)):
            with self.subTest(receiver=name):
                n = ws.wait_event("notification", lambda d: d.get("seq") == 1)
                self.assert_notification(n, dm, 1, a.username, "dm", "hello b")
        # one per message, HTTP sends too
        self.post(a.token, dm, "second")
        for ws in (b1, b2):
            n = ws.wait_event("notification", lambda d: d.get("seq") == 2)
            self.assert_notification(n, dm, 2, a.username, "dm", "second")
        # the answer notifies a, never b
        back = b1.ok("send", room=dm, body="hi a", client_msg_id=cmid())
        for name, ws in (("a session 1", a1), ("a session 2", a2)):
            with self.subTest(receiver=name):
                n = ws.wait_event("notification", lambda d: d.get("seq") == back["seq"])
                self.assert_notification(n, dm, 3, b.username, "dm", "hi a")
                self.assertEqual([x["seq"] for x in self.notes(ws)], [3], "the sender was notified of its own DM")
        for ws in (b1, b2):
            ws.wait_event("message", lambda d: d["room"] == dm and d["seq"] == 3)
            self.assertEqual([x["seq"] for x in self.notes(ws)], [1, 2])
        # an outsider gets nothing: its first notification is a later invite
        priv = self.create_room(a.token, "private", name="later")["id"]
        self.invite(a.token, priv, c.username)
        n = c1.wait_event("notification")
        self.assertEqual((n["room"], n["reason"]), (priv, "invite"), "a non-member was notified of a DM")

    def test_preview_is_the_first_100_characters(self):
        a = self.new_user()
        b = self.new_user()
        dm = self.dm(a.token, b.username)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        self.settle(b)
        cases = [("\u00fc" * 60 + "x" * 60, "\u00fc" * 60 + "x" * 40),
                 ("y" * 100, "y" * 100),
                 ("short \U0001F44B", "short \U0001F44B"),
                 ("\U0001F600" * 150, "\U0001F600" * 100)]
        for body, preview in cases:
            with self.subTest(body=body[:10]):
                ack = wa.ok("send", room=dm, body=body, client_msg_id=cmid())
                n = wb.wait_event("notification", lambda d: d.get("seq") == ack["seq"])
                self.assert_notification(n, dm, ack["seq"], a.username, "dm", preview)

    def test_mentions(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        d = self.new_user()          # not a member of the room
        rid = self.create_room(a.token)["id"]
        self.join(b.token, rid)
        self.join(c.token, rid)
        a1 = self.connect(a.token)
        b1, b2 = self.connect(b.token), self.connect(b.token)
        c1 = self.connect(c.token)
        d1 = self.connect(d.token)
        self.settle(a, b, c, d)
        body = "hi @%s and @%s and @%s" % (b.username, d.username, a.username)
        first = a1.ok("send", room=rid, body=body, client_msg_id=cmid())
        for name, ws in (("b session 1", b1), ("b session 2", b2)):
            with self.subTest(receiver=name):
                n = ws.wait_event("notification", lambda x: x.get("seq") == first["seq"])
                self.assert_notification(n, rid, first["seq"], a.username, "mention", body)
        # later events: c mentions a; b mentions c
        second = c1.ok("send", room=rid, body="@%s look" % a.username, client_msg_id=cmid())
        n = a1.wait_event("notification", lambda x: x.get("seq") == second["seq"])
        self.assert_notification(n, rid, second["seq"], c.username, "mention", "@%s look" % a.username)
        self.assertEqual([x["seq"] for x in self.notes(a1)], [second["seq"]],
                         "a sender was notified of mentioning itself")
        third = b1.ok("send", room=rid, body="@%s ping" % c.username, client_msg_id=cmid())
        n = c1.wait_event("notification", lambda x: x.get("seq") == third["seq"])
        self.assert_notification(n, rid, third["seq"], b.username, "mention", "@%s ping" % c.username)
        self.assertEqual([x["seq"] for x in self.notes(c1)], [third["seq"]],
                         "a member who was not mentioned got a notification")
        for ws in (b1, b2):
            ws.wait_event("message", lambda x: x["room"] == rid and x["seq"] == third["seq"])
            self.assertEqual([x["seq"] for x in self.notes(ws)], [first["seq"]])
        # d was named but is not a member: its first notification is a later DM
        dm = self.dm(b.token, d.username)
        self.post(b.token, dm, "psst")
        n = d1.wait_event("notification")
        self.assert_notification(n, dm, 1, b.username, "dm", "psst")
        self.assertEqual(len(self.notes(d1)), 1, "a non-member was notified of a mention")

    def test_invite_notification(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        name = "Secret plans " + uuid.uuid4().hex[:6]
        rid = self.create_room(a.token, "private", name=name)["id"]
        a1 = self.connect(a.token)
        b1, b2 = self.connect(b.token), self.connect(b.token)
        c1 = self.connect(c.token)
        self.settle(a, b, c)
        self.invite(a.token, rid, b.username)
        for label, ws in (("b session 1", b1), ("b session 2", b2)):
            with self.subTest(receiver=label):
                n = ws.wait_event("notification", lambda d: d.get("room") == rid)
                self.assert_notification(n, rid, 0, a.username, "invite", name)
                ev = ws.wait_event("member", lambda d: d["room"] == rid and d["action"] == "invited")
                self.assertEqual(ev["user"], b.username)
        b1.ok("join", room=rid)
        a1.wait_event("member", lambda d: d["room"] == rid and d["action"] == "joined")
        self.assertEqual(self.notes(a1), [], "the inviter was notified")
        # inviting a member again changes nothing: no second notification
        self.invite(a.token, rid, b.username)
        self.invite(a.token, rid, c.username)
        n = c1.wait_event("notification", lambda d: d.get("room") == rid)
        self.assert_notification(n, rid, 0, a.username, "invite", name)
        m = a1.ok("send", room=rid, body="after the invites", client_msg_id=cmid())
        for ws in (b1, b2):
            ws.wait_event("message", lambda d: d["room"] == rid and d["seq"] == m["seq"])
            self.assertEqual(len(self.notes(ws, lambda d: d.get("reason") == "invite")), 1,
                             "re-inviting a member notified it again")


class WebhookCase(NotificationCase):
    push_args = ("--push-retries", "3", "--push-backoff-ms", "100")

    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        cls.server_args = ("--push-webhook", cls.receiver.url) + cls.push_args
        try:
            super().setUpClass()
        except BaseException:
            cls.receiver.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.close()


class WebhookTest(WebhookCase):

    def assert_post(self, req, username, room, seq, sender, reason, preview):
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["path"], "/hook")
        ctype = {k.lower(): v for k, v in req["headers"].items()}.get("content-type", "")
        self.assertTrue(ctype.startswith("application/json"), "Content-Type %r" % ctype)
        body = req["json"]
        self.assertIsInstance(body, dict, "webhook body is not a JSON object: %r" % (req["raw"][:300],))
        self.assertEqual(body.get("user"), username, body)
        self.assert_notification(body.get("notification"), room, seq, sender, reason, preview)

    def test_offline_dm_is_posted(self):
        a = self.new_user()
        c = self.new_user()          # never opens a session
        d = self.new_user()          # opens one and closes it
        wd = self.connect(d.token)
        wd.close()
        poll(lambda: self.api("GET", "/api/v1/users/%s" % d.username, token=a.token)[2]["presence"]["status"]
             == "offline", "d is offline")
        dm_c = self.dm(a.token, c.username)
        dm_d = self.dm(a.token, d.username)
        wa = self.connect(a.token)
        ack = wa.ok("send", room=dm_c, body="hello c", client_msg_id=cmid())
        self.assert_post(self.receiver.wait_for(c.username)[0], c.username, dm_c, ack["seq"], a.username,
                         "dm", "hello c")
        m = self.post(a.token, dm_d, "hello d")
        self.assert_post(self.receiver.wait_for(d.username)[0], d.username, dm_d, m["seq"], a.username,
                         "dm", "hello d")
        self.assertEqual(len(self.receiver.of(c.username)), 1, "a 2xx answer must not be retried")
        self.assertEqual(self.receiver.of(a.username), [], "the sender was pushed")

    def test_user_with_open_session_is_not_posted(self):
        a = self.new_user()
        b = self.new_user()          # online
        c = self.new_user()          # offline
        dm_b = self.dm(a.token, b.username)
        dm_c = self.dm(a.token, c.username)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        self.settle(b)
        ack = wa.ok("send", room=dm_b, body="you are here", client_msg_id=cmid())
        n = wb.wait_event("notification", lambda d: d.get("room") == dm_b)
        self.assert_notification(n, dm_b, ack["seq"], a.username, "dm", "you are here")
        wa.ok("send", room=dm_c, body="you are not", client_msg_id=cmid())
        self.receiver.wait_for(c.username)
        self.assertEqual(self.receiver.of(b.username), [], "a user with an open session was pushed")

    def test_notification_right_after_auth(self):
        # Once its auth reply is in, the session is open: a DM sent at that
        # moment must reach it as an event, and must not be pushed. The window
        # is short, so this repeats it with the recipient's first session.
        a = self.new_user()
        b = self.new_user()
        dm = self.dm(a.token, b.username)
        wa = self.connect(a.token)
        missed = []
        for i in range(30):
            wb = self.connect(b.token)
            ack = wa.ok("send", room=dm, body="right away %d" % i, client_msg_id=cmid())
            wb.wait_event("message", lambda d: d["room"] == dm and d["seq"] == ack["seq"])
            try:
                wb.wait_event("notification", lambda d: d.get("seq") == ack["seq"], timeout=2.0)
            except AssertionError:
                missed.append(ack["seq"])
            wb.close()
            poll(lambda: self.status(a.token, b.username) == "offline", "b offline again")
        # later event: a push for b, now offline, comes after any wrong one
        m = self.post(a.token, dm, "now offline")
        posts = self.receiver.wait_for(b.username)
        self.assertEqual(missed, [], "DMs sent right after the auth reply of the recipient's only session "
                                     "got no notification event; POSTed as offline: %r"
                                     % [p["json"]["notification"]["seq"] for p in posts])
        self.assertEqual([p["json"]["notification"]["seq"] for p in posts], [m["seq"]])

    def test_mention_and_invite_are_posted(self):
        a = self.new_user()
        x = self.new_user()
        y = self.new_user()
        rid = self.create_room(a.token)["id"]
        self.join(x.token, rid)
        body = "ping @%s" % x.username
        m = self.post(a.token, rid, body)
        self.assert_post(self.receiver.wait_for(x.username)[0], x.username, rid, m["seq"], a.username,
                         "mention", body)
        name = "Plans " + uuid.uuid4().hex[:6]
        priv = self.create_room(a.token, "private", name=name)["id"]
        self.invite(a.token, priv, y.username)
        self.assert_post(self.receiver.wait_for(y.username)[0], y.username, priv, 0, a.username, "invite", name)

    def test_retries_until_success(self):
        a = self.new_user()
        u = self.new_user()
        v = self.new_user()
        self.receiver.plan[u.username] = [500, 500, 200]
        dm = self.dm(a.token, u.username)
        m = self.post(a.token, dm, "retry me")
        reqs = self.receiver.wait_for(u.username, 3)
        for r in reqs:
            self.assert_post(r, u.username, dm, m["seq"], a.username, "dm", "retry me")
        self.assertEqual([r["status"] for r in reqs], [500, 500, 200])
        self.assertEqual(reqs[1]["json"], reqs[0]["json"])
        self.assertEqual(reqs[2]["json"], reqs[0]["json"])
        gap1, gap2 = reqs[1]["t"] - reqs[0]["t"], reqs[2]["t"] - reqs[1]["t"]
        self.assertGreaterEqual(gap1, 0.09, "first retry after %.3f s (backoff 100 ms)" % gap1)
        self.assertGreaterEqual(gap2, 0.18, "second retry after %.3f s (backoff doubles to 200 ms)" % gap2)
        # success ends it: not even after the next backoff (400 ms) ...
        self.receiver.assert_quiet(u.username, 3, 0.9)
        # ... and a later push for someone else arrives alone
        self.post(a.token, self.dm(a.token, v.username), "next")
        self.receiver.wait_for(v.username)
        self.assertEqual(len(self.receiver.of(u.username)), 3)

    def test_failing_receiver_gives_up_and_chat_keeps_working(self):
        a = self.new_user()
        b = self.new_user()
        x = self.new_user()          # offline; its receiver always fails, slowly
        y = self.new_user()          # offline; its receiver works
        self.receiver.always[x.username] = 500
        self.receiver.stall[x.username] = 0.5
        rid = self.create_room(a.token)["id"]
        self.join(b.token, rid)
        dm_x = self.dm(a.token, x.username)
        dm_b = self.dm(a.token, b.username)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        self.settle(b)
        wa.ok("send", room=dm_x, body="are you there", client_msg_id=cmid())
        self.receiver.wait_for(x.username, 1)
        # while the pushes for x fail and wait, chat goes on
        for i in range(3):
            t0 = time.monotonic()
            ack = wa.ok("send", room=rid, body="meanwhile %d" % i, client_msg_id=cmid())
            self.assertLess(time.monotonic() - t0, 1.5, "a send was slow while the webhook failed")
            wb.wait_event("message", lambda d: d["room"] == rid and d["seq"] == ack["seq"], timeout=2.0)
        ack = wa.ok("send", room=dm_b, body="online dm", client_msg_id=cmid())
        n = wb.wait_event("notification", lambda d: d.get("room") == dm_b, timeout=2.0)
        self.assert_notification(n, dm_b, ack["seq"], a.username, "dm", "online dm")
        self.assertLess(len(self.receiver.of(x.username)), 4, "chat was checked only after the retries ended")
        # --push-retries 3: four attempts in all, the same notification each time
        reqs = self.receiver.wait_for(x.username, 4, timeout=15)
        self.assertTrue(all(r["json"] == reqs[0]["json"] for r in reqs), [r["raw"] for r in reqs])
        self.assertEqual(reqs[0]["json"]["notification"]["preview"], "are you there")
        # then nothing more, not even after twice the next backoff (800 ms) ...
        self.receiver.assert_quiet(x.username, 4, 2.0)
        # ... and the pusher still works for others
        m = self.post(a.token, self.dm(a.token, y.username), "for y")
        self.assertEqual(self.receiver.wait_for(y.username)[0]["json"]["notification"]["seq"], m["seq"])
        self.assertEqual(len(self.receiver.of(x.username)), 4)
        self.assertEqual(wa.ok("ping"), {})


class UnreachableWebhookTest(NotificationCase):
    """The webhook points at a closed port: chat is not affected."""

    @classmethod
    def setUpClass(cls):
        cls.server_args = ("--push-webhook", "http://%s:%d/hook" % (HOST, free_port()),
                           "--push-retries", "2", "--push-backoff-ms", "100")
        super().setUpClass()

    def test_chat_keeps_working(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()          # offline: every DM to c is pushed and fails
        dm_c = self.dm(a.token, c.username)
        dm_b = self.dm(a.token, b.username)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        self.settle(b)
        acks = []
        for i in range(5):
            t0 = time.monotonic()
            acks.append(wa.ok("send", room=dm_c, body="offline %d" % i, client_msg_id=cmid()))
            self.assertLess(time.monotonic() - t0, 1.5, "a send was slow while the webhook is unreachable")
            t0 = time.monotonic()
            ack = wa.ok("send", room=dm_b, body="online %d" % i, client_msg_id=cmid())
            self.assertLess(time.monotonic() - t0, 1.5)
            wb.wait_event("message", lambda d: d["room"] == dm_b and d["seq"] == ack["seq"], timeout=2.0)
            wb.wait_event("notification", lambda d: d.get("room") == dm_b and d["seq"] == ack["seq"], timeout=2.0)
        self.assertEqual([x["seq"] for x in acks], [1, 2, 3, 4, 5])
        wc = self.connect(c.token)
        self.assertEqual([m["body"] for m in wc.ok("history", room=dm_c)["messages"]],
                         ["offline %d" % i for i in range(5)])
        self.assert_healthy()


class WebhookFlagTest(unittest.TestCase):

    def test_only_http_urls(self):
        tmp = tempfile.mkdtemp(prefix="confab-it-push-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for url in ("https://127.0.0.1:1/hook", "ftp://127.0.0.1/hook", "not a url"):
            with self.subTest(url=url):
                rc, out, err = run_confabd(["--http-port", "0", "--data-dir", os.path.join(tmp, "data"),
                                            "--bind", HOST, "--push-webhook", url])
                self.assertEqual(rc, 2, "--push-webhook %s: rc=%s stdout=%r stderr=%r" % (url, rc, out, err))
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertNotIn("confabd ready", out)


if __name__ == "__main__":
    main()
