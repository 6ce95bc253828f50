#!/usr/bin/python3
"""Presence (status op, watch, direct-room partners, last_seen, abrupt drops,
HTTP views), typing indicators, read markers and unread counts."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ConfabTestCase, RestartCase, main, now_ms, poll, room_id, unique  # noqa: E402

MISSING_ROOM = "r_0000000000000000"
STATUSES = ("online", "away", "dnd", "offline")


def cmid():
    return "c-" + uuid.uuid4().hex


def statuses_of(ws, username):
    """Every presence status `ws` has received for `username`, in order."""
    return [d["status"] for d in ws.events("presence", lambda d: d.get("user") == username)]


def wait_presence(ws, username, status, timeout=5.0):
    return ws.wait_event("presence", lambda d: d.get("user") == username and d.get("status") == status,
                         timeout=timeout)


def typing_of(ws, rid, username):
    """Every typing `active` value `ws` has received for `username` in `rid`."""
    return [d["active"] for d in ws.events("typing", lambda d: d.get("room") == rid and d.get("user") == username)]


class PresenceCase(ConfabTestCase):

    def dm(self, token, username, server=None):
        resp = self.api("POST", "/api/v1/dm", {"username": username}, token=token, server=server)
        return self.assert_status(resp, 200)["room"]["id"]

    def user_presence(self, token, username, server=None):
        resp = self.api("GET", "/api/v1/users/%s" % username, token=token, server=server)
        body = self.assert_status(resp, 200)
        self.assertEqual(body["user"]["username"], username, body)
        return body["presence"]

    def assert_last_seen(self, presence, lo_ms, hi_ms=None):
        hi_ms = now_ms() + 2000 if hi_ms is None else hi_ms
        ls = presence.get("last_seen")
        self.assertIsInstance(ls, int, "offline presence without an integer last_seen: %r" % (presence,))
        self.assertGreaterEqual(ls, lo_ms - 2000, "last_seen %r earlier than the session's end" % (presence,))
        self.assertLessEqual(ls, hi_ms, "last_seen %r in the future" % (presence,))


class PresenceTest(PresenceCase):

    def test_three_users_two_sessions_each(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        e = self.new_user()
        # a and b are direct-room partners; c only shares a room with a and
        # has its own partner e (whose status change is the later event).
        self.dm(a.token, b.username)
        self.dm(c.token, e.username)
        shared = self.create_room(a.token)["id"]
        self.join(c.token, shared)
        b1, b2 = self.connect(b.token), self.connect(b.token)
        c1, c2 = self.connect(c.token), self.connect(c.token)
        e1 = self.connect(e.token)
        for ws in (c1, c2):
            wait_presence(ws, e.username, "online")
        w = c1.ok("watch", users=[a.username])
        self.assertEqual(set(w["presence"]), {a.username}, w)
        self.assertEqual(w["presence"][a.username]["status"], "offline", w)
        self.assertIsNone(w["presence"][a.username].get("last_seen"),
                          "last_seen for a user who never had a session: %r" % (w,))
        watchers = (("DM partner session 1", b1), ("DM partner session 2", b2), ("watching session", c1))

        def step(expected):
            for name, ws in watchers:
                with self.subTest(receiver=name, status=expected):
                    ev = wait_presence(ws, a.username, expected)
                    self.assertEqual(set(ev) - {"last_seen"}, {"user", "status"}, ev)

        a1 = self.connect(a.token)
        step("online")
        a2 = self.connect(a.token)            # a second session: no change, no event
        self.assertEqual(a1.ok("presence", status="away"), {})
        step("away")
        self.assertEqual(a2.ok("presence", status="dnd"), {})
        step("dnd")
        self.assertEqual(a1.ok("presence", status="online"), {})
        step("online")
        self.assertEqual(a2.ok("presence", status="online"), {})   # unchanged: no event
        a1.close()                            # first of two sessions: still there
        self.assertEqual(a2.ok("presence", status="away"), {})
        step("away")
        t_close = now_ms()
        a2.close()                            # the last session
        step("offline")
        for name, ws in watchers:
            with self.subTest(receiver=name):
                self.assertEqual(statuses_of(ws, a.username), ["online", "away", "dnd", "online", "away", "offline"],
                                 "presence events of %s seen by %s" % (a.username, name))
                offline = ws.events("presence", lambda d: d.get("user") == a.username and d["status"] == "offline")
                self.assert_last_seen(offline[0], t_close)
        # c2 neither watches a nor is a's partner: the later status change of
        # c's partner e reaches it, nothing about a ever did
        self.assertEqual(e1.ok("presence", status="dnd"), {})
        wait_presence(c2, e.username, "dnd")
        self.assertEqual(statuses_of(c2, a.username), [],
                         "a session that neither watches nor is a partner got presence events")

    def test_dm_created_while_online_makes_partners(self):
        a = self.new_user()
        b = self.new_user()
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        self.dm(a.token, b.username)
        # barrier: the DM's first message reaches both sides
        ack = wa.ok("send", room=self.dm(b.token, a.username), body="hi", client_msg_id=cmid())
        wb.wait_event("message", lambda d: d["seq"] == ack["seq"])
        wb.ok("presence", status="away")
        wait_presence(wa, b.username, "away")
        wa.ok("presence", status="dnd")
        wait_presence(wb, a.username, "dnd")

    def test_chosen_status_outlives_a_new_session(self):
        a = self.new_user()
        w = self.new_user()
        ww = self.connect(w.token)
        ww.ok("watch", users=[a.username])
        a1 = self.connect(a.token)
        wait_presence(ww, a.username, "online")
        a1.ok("presence", status="away")
        wait_presence(ww, a.username, "away")
        self.connect(a.token)                 # another session: still away
        poll(lambda: self.user_presence(w.token, a.username)["status"] == "away", "a is still away")
        a1.ok("presence", status="dnd")       # the later event
        wait_presence(ww, a.username, "dnd")
        self.assertEqual(statuses_of(ww, a.username), ["online", "away", "dnd"],
                         "a new session must not reset a chosen status")

    def test_bad_status_is_invalid_request(self):
        a = self.new_user()
        b = self.new_user()
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        wb.ok("watch", users=[a.username])
        for bad in ("offline", "busy", "", "AWAY", 5, None, ["away"]):
            with self.subTest(status=bad):
                self.assertEqual(wa.error("presence", status=bad)["code"], "invalid_request")
        self.assertEqual(wa.error("presence")["code"], "invalid_request")
        # nothing changed: the next real change is the first event b sees
        wa.ok("presence", status="away")
        wait_presence(wb, a.username, "away")
        self.assertEqual(statuses_of(wb, a.username), ["away"])
        self.assertEqual(wa.ok("ping"), {})

    def test_http_views_carry_presence(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()          # never connects
        d = self.new_user()          # connects, then leaves
        rid = self.create_room(a.token)["id"]
        for u in (b, c, d):
            self.join(u.token, rid)
        wd = self.connect(d.token)
        t_d = now_ms()
        wd.close()
        wa = self.connect(a.token)
        self.connect(b.token)
        wa.ok("presence", status="dnd")

        def status_is(username, status):
            return lambda: self.user_presence(c.token, username)["status"] == status

        poll(status_is(a.username, "dnd"), "GET /users/a says dnd")
        poll(status_is(d.username, "offline"), "GET /users/d says offline")
        poll(status_is(b.username, "online"), "GET /users/b says online")
        never = self.user_presence(a.token, c.username)
        self.assertEqual(never["status"], "offline")
        self.assertIsNone(never.get("last_seen"), never)
        self.assert_last_seen(self.user_presence(a.token, d.username), t_d)
        expected = {a.username: "dnd", b.username: "online", c.username: "offline", d.username: "offline"}
        members = self.members(c.token, rid)
        got = {name: m["presence"]["status"] for name, m in members.items()}
        self.assertEqual(got, expected, "presence in the member list")
        self.assert_last_seen(members[d.username]["presence"], t_d)
        self.assertIsNone(members[c.username]["presence"].get("last_seen"))
        wa.ok("presence", status="away")
        poll(status_is(a.username, "away"), "GET /users/a says away")
        poll(lambda: self.members(b.token, rid)[a.username]["presence"]["status"] == "away",
             "members list says a is away")
        t_a = now_ms()
        wa.close()
        poll(status_is(a.username, "offline"), "GET /users/a says offline after its last session")
        self.assert_last_seen(self.user_presence(b.token, a.username), t_a)
        # a new session starts online again: away/dnd ended with the last session
        self.connect(a.token)
        poll(status_is(a.username, "online"), "GET /users/a says online after reconnecting")


class WatchTest(PresenceCase):

    def test_watch_answers_current_presence(self):
        on, aw, dn, never, gone = (self.new_user() for _ in range(5))
        w = self.new_user()
        self.connect(on.token)
        waw = self.connect(aw.token)
        waw.ok("presence", status="away")
        wdn = self.connect(dn.token)
        wdn.ok("presence", status="dnd")
        wg = self.connect(gone.token)
        t_g = now_ms()
        wg.close()
        poll(lambda: self.user_presence(w.token, gone.username)["status"] == "offline", "gone is offline")
        poll(lambda: self.user_presence(w.token, dn.username)["status"] == "dnd", "dn is dnd")
        poll(lambda: self.user_presence(w.token, aw.username)["status"] == "away", "aw is away")
        ww = self.connect(w.token)
        ghost = unique("ghost")
        names = [on.username, aw.username, ghost, dn.username, never.username, gone.username, "NOT a name!"]
        res = ww.ok("watch", users=names)["presence"]
        self.assertEqual(set(res), {on.username, aw.username, dn.username, never.username, gone.username},
                         "watch must answer the known users and leave out unknown names: %r" % (res,))
        self.assertEqual({k: v["status"] for k, v in res.items()},
                         {on.username: "online", aw.username: "away", dn.username: "dnd",
                          never.username: "offline", gone.username: "offline"})
        self.assertIsNone(res[never.username].get("last_seen"), res)
        self.assert_last_seen(res[gone.username], t_g)
        self.assertEqual(ww.ok("watch", users=[])["presence"], {})
        self.assertEqual(ww.ok("watch", users=[ghost])["presence"], {})

    def test_watch_subscribes_the_session_once(self):
        x = self.new_user()
        y = self.new_user()
        w = self.new_user()
        wx = self.connect(x.token)
        wy = self.connect(y.token)
        w1 = self.connect(w.token)
        w2 = self.connect(w.token)            # same user, does not watch
        # x twice in one call and once more in a second call
        self.assertEqual(w1.ok("watch", users=[x.username, x.username])["presence"][x.username]["status"], "online")
        self.assertEqual(set(w1.ok("watch", users=[x.username, y.username])["presence"]), {x.username, y.username})
        wx.ok("presence", status="away")
        wait_presence(w1, x.username, "away")
        wy.ok("presence", status="dnd")       # the later event
        wait_presence(w1, y.username, "dnd")
        self.assertEqual(statuses_of(w1, x.username), ["away"], "a watched change must arrive exactly once")
        # the other session of the watcher did not subscribe
        w2.ok("watch", users=[y.username])
        wy.ok("presence", status="online")
        wait_presence(w2, y.username, "online")
        self.assertEqual(statuses_of(w2, x.username), [], "watch subscribed another session of the user")

    def test_watch_bad_requests(self):
        w = self.new_user()
        ww = self.connect(w.token)
        for users in ("alice", 5, None, {"a": 1}):
            with self.subTest(users=users):
                self.assertEqual(ww.error("watch", users=users)["code"], "invalid_request")
        self.assertEqual(ww.error("watch")["code"], "invalid_request")
        self.assertEqual(ww.ok("watch", users=[unique("g") for _ in range(500)])["presence"], {})
        # the docs limit watch to 500 names without naming the error: a
        # malformed request (invalid_request) or a size limit (too_large)
        self.assertIn(ww.error("watch", users=[unique("g") for _ in range(501)])["code"],
                      ("invalid_request", "too_large"), "watch is limited to 500 names")
        self.assertEqual(ww.ok("ping"), {})


class AbruptDropTest(PresenceCase):
    """A session that vanishes without a close frame ends; its user goes
    offline (pings detect a silent peer within 20 s; deadline 35 s)."""

    def watched(self):
        v = self.new_user()
        w = self.new_user()
        ww = self.connect(w.token)
        ww.ok("watch", users=[v.username])
        wv = self.connect(v.token)
        wait_presence(ww, v.username, "online")
        return v, ww, wv

    def expect_offline(self, ww, v, t0_ms, t0):
        ev = wait_presence(ww, v.username, "offline", timeout=35)
        elapsed = time.monotonic() - t0
        self.assertLessEqual(elapsed, 30.0, "offline only %.1f s after the socket vanished" % elapsed)
        self.assert_last_seen(ev, t0_ms)
        self.assertEqual(statuses_of(ww, v.username), ["online", "offline"])
        return elapsed

    def test_reset_and_half_closed_sockets(self):
        for how in ("reset", "shutdown"):
            with self.subTest(how=how):
                v, ww, wv = self.watched()
                t0_ms, t0 = now_ms(), time.monotonic()
                wv.drop(how)
                self.expect_offline(ww, v, t0_ms, t0)
                # the user can come back
                self.connect(v.token)
                wait_presence(ww, v.username, "online")

    def test_unresponsive_socket(self):
        # the client keeps its TCP connection but never reads again, so it
        # never answers a ping: to the server it is a peer that vanished
        v, ww, wv = self.watched()
        self.assertEqual(wv.ok("ping"), {})
        t0_ms, t0 = now_ms(), time.monotonic()
        self.expect_offline(ww, v, t0_ms, t0)
        self.assert_status(self.api("GET", "/healthz"), 200)


class TypingTest(PresenceCase):
    server_args = ("--typing-timeout-ms", "1000")
    TIMEOUT_S = 1.0

    def setUp(self):
        super().setUp()
        self.a = self.new_user()
        self.b = self.new_user()
        self.c = self.new_user()
        self.rid = self.create_room(self.a.token)["id"]
        for u in (self.b, self.c):
            self.join(u.token, self.rid)

    def test_typing_reaches_other_members_only(self):
        a, b, c, rid = self.a, self.b, self.c, self.rid
        outsider = self.new_user()
        other = self.create_room(outsider.token)["id"]
        self.join(a.token, other)
        a1, a2 = self.connect(a.token), self.connect(a.token)
        b1, b2 = self.connect(b.token), self.connect(b.token)
        c1 = self.connect(c.token)
        o1 = self.connect(outsider.token)
        self.assertEqual(a1.ok("typing", room=rid, active=True), {})
        for name, ws in (("b session 1", b1), ("b session 2", b2), ("c", c1)):
            with self.subTest(receiver=name):
                ev = ws.wait_event("typing", lambda d: d["room"] == rid and d["user"] == a.username)
                self.assertEqual(ev, {"room": rid, "user": a.username, "active": True})
        # later events: b types, a's sessions see that; a message in the other
        # room reaches the outsider
        self.assertEqual(b1.ok("typing", room=rid, active=True), {})
        for ws in (a1, a2):
            ev = ws.wait_event("typing", lambda d: d["room"] == rid and d["user"] == b.username)
            self.assertTrue(ev["active"])
        m = a1.ok("send", room=other, body="mark", client_msg_id=cmid())
        o1.wait_event("message", lambda d: d["room"] == other and d["seq"] == m["seq"])
        self.assertEqual(typing_of(a1, rid, a.username), [], "the typer's own session got its typing event")
        self.assertEqual(typing_of(a2, rid, a.username), [], "the typer's other session got its typing event")
        self.assertEqual(typing_of(b1, rid, b.username), [])
        self.assertEqual(typing_of(b2, rid, b.username), [])
        self.assertEqual(o1.events("typing"), [], "a non-member got a typing event")
        b1.ok("typing", room=rid, active=False)
        a1.ok("typing", room=rid, active=False)
        c1.wait_event("typing", lambda d: d["user"] == a.username and not d["active"])

    def test_refresh_emits_one_event_and_timeout_ends_it(self):
        a, b, c, rid = self.a, self.b, self.c, self.rid
        a1 = self.connect(a.token)
        b1, b2 = self.connect(b.token), self.connect(b.token)
        c1 = self.connect(c.token)
        a1.ok("typing", room=rid, active=True)
        # refresh every ~200 ms for ~2 s, twice the timeout
        for _ in range(10):
            b1.idle(0.2)                      # paces the refreshes; b1 keeps reading
            self.assertEqual(a1.ok("typing", room=rid, active=True), {})
        t_last = time.monotonic()
        self.assertEqual(typing_of(b1, rid, a.username), [True],
                         "refreshes while typing must emit nothing, and must keep the state alive")
        ev = b1.wait_event("typing", lambda d: d["user"] == a.username and d["active"] is False,
                           timeout=self.TIMEOUT_S + 2.0)
        elapsed = time.monotonic() - t_last
        self.assertEqual(ev, {"room": rid, "user": a.username, "active": False})
        self.assertGreaterEqual(elapsed, self.TIMEOUT_S - 0.25,
                                "typing ended %.2f s after the last refresh (timeout %.1f s)" % (elapsed, self.TIMEOUT_S))
        for ws in (b2, c1):
            ws.wait_event("typing", lambda d: d["user"] == a.username and d["active"] is False, timeout=2.0)
        # later event: a message; nothing more about a's typing came before it
        m = a1.ok("send", room=rid, body="done typing", client_msg_id=cmid())
        for name, ws in (("b1", b1), ("b2", b2), ("c1", c1)):
            with self.subTest(receiver=name):
                ws.wait_event("message", lambda d: d["room"] == rid and d["seq"] == m["seq"])
                self.assertEqual(typing_of(ws, rid, a.username), [True, False])

    def test_active_false_ends_at_once(self):
        a, b, rid = self.a, self.b, self.rid
        a1 = self.connect(a.token)
        b1 = self.connect(b.token)
        # not typing: active=false is accepted and emits nothing
        self.assertEqual(a1.ok("typing", room=rid, active=False), {})
        a1.ok("typing", room=rid, active=True)
        ev = b1.wait_event("typing", lambda d: d["user"] == a.username)
        self.assertTrue(ev["active"], "the first typing event must be active=true: %r" % (ev,))
        t0 = time.monotonic()
        a1.ok("typing", room=rid, active=False)
        b1.wait_event("typing", lambda d: d["user"] == a.username and d["active"] is False, timeout=2.0)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 0.7, "active=false took %.2f s: it must end typing at once, "
                                      "not at the %.1f s timeout" % (elapsed, self.TIMEOUT_S))
        # a new typing state, left to time out: exactly one more true/false pair
        a1.ok("typing", room=rid, active=True)
        b1.wait_event("typing", lambda d: d["user"] == a.username and d["active"] is True)
        b1.wait_event("typing", lambda d: d["user"] == a.username and d["active"] is False,
                      timeout=self.TIMEOUT_S + 2.0)
        m = a1.ok("send", room=rid, body="mark", client_msg_id=cmid())
        b1.wait_event("message", lambda d: d["seq"] == m["seq"])
        self.assertEqual(typing_of(b1, rid, a.username), [True, False, True, False])

    def test_typing_errors_and_dm(self):
        a, b, rid = self.a, self.b, self.rid
        outsider = self.new_user()
        wo = self.connect(outsider.token)
        self.assertEqual(wo.error("typing", room=rid, active=True)["code"], "not_member")
        self.assertIn(wo.error("typing", room=MISSING_ROOM, active=True)["code"], ("not_found", "not_member"))
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        for fields in ({}, {"room": rid}, {"active": True}, {"room": 5, "active": True},
                       {"room": rid, "active": "yes"}):
            with self.subTest(fields=fields):
                self.assertEqual(wa.error("typing", **fields)["code"], "invalid_request")
        # a direct room works the same way
        dm = self.dm(a.token, b.username)
        wa.ok("typing", room=dm, active=True)
        self.assertEqual(wb.wait_event("typing", lambda d: d["room"] == dm),
                         {"room": dm, "user": a.username, "active": True})
        wa.ok("typing", room=dm, active=False)
        wb.wait_event("typing", lambda d: d["room"] == dm and d["active"] is False)
        self.assertEqual(wo.ok("ping"), {})

    def test_typing_is_never_stored(self):
        a, b, rid = self.a, self.b, self.rid
        self.post(a.token, rid, "before")
        before = self.all_messages(b.token, rid)
        seq_before = self.my_rooms(b.token)[rid]["last_seq"]
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        wa.ok("typing", room=rid, active=True)
        wb.wait_event("typing", lambda d: d["user"] == a.username and d["active"])
        wa.ok("typing", room=rid, active=True)
        wa.ok("typing", room=rid, active=False)
        wb.wait_event("typing", lambda d: d["user"] == a.username and not d["active"])
        self.assertEqual(self.all_messages(b.token, rid), before)
        self.assertEqual(wb.ok("history", room=rid)["messages"], before)
        self.assertEqual(self.my_rooms(b.token)[rid]["last_seq"], seq_before)
        self.assertEqual(wb.events("message"), [])
        # a new session of b is not told of a typing state that has ended
        wb2 = self.connect(b.token)
        m = wa.ok("send", room=rid, body="after", client_msg_id=cmid())
        self.assertEqual(m["seq"], seq_before + 1, "typing consumed a seq")
        wb2.wait_event("message", lambda d: d["seq"] == m["seq"])
        self.assertEqual(wb2.events("typing"), [])


class ReadMarkerTest(PresenceCase):

    def setUp(self):
        super().setUp()
        self.a = self.new_user()
        self.b = self.new_user()
        self.rid = self.create_room(self.b.token)["id"]
        self.join(self.a.token, self.rid)
        for i in range(1, 6):
            self.post(self.b.token, self.rid, "m%d" % i)

    def counters(self, entry):
        return (entry["last_seq"], entry["last_read"], entry["unread"])

    def auth_counters(self, token):
        ws = self.connect(token)
        rooms = {room_id(r["room"]): r for r in ws.auth_data["rooms"]}
        return self.counters(rooms[self.rid])

    def expect_unread(self, ws, last_read):
        ev = ws.wait_event("unread", lambda d: d["room"] == self.rid and d["last_read"] == last_read)
        self.assertEqual(set(ev), {"room", "last_seq", "last_read", "unread"}, ev)
        self.assertEqual(ev["unread"], ev["last_seq"] - ev["last_read"], ev)
        return ev

    def unread_marks(self, ws):
        return [d["last_read"] for d in ws.events("unread", lambda d: d["room"] == self.rid)]

    def test_read_moves_marker_and_unread(self):
        a, b, rid = self.a, self.b, self.rid
        self.assertEqual(self.counters(self.my_rooms(a.token)[rid]), (5, 0, 5))
        a1, a2 = self.connect(a.token), self.connect(a.token)
        b1 = self.connect(b.token)
        b_before = self.counters(self.my_rooms(b.token)[rid])
        r = a1.ok("read", room=rid, seq=3)
        self.assertEqual((room_id(r["room"]), r["last_read"], r["unread"]), (rid, 3, 2))
        for name, ws in (("reading session", a1), ("other session", a2)):
            with self.subTest(receiver=name):
                self.assertEqual(self.expect_unread(ws, 3), {"room": rid, "last_seq": 5, "last_read": 3, "unread": 2})
        self.assertEqual(self.counters(self.my_rooms(a.token)[rid]), (5, 3, 2))
        self.assertEqual(self.auth_counters(a.token), (5, 3, 2))
        # b's marker is b's own
        self.assertEqual(self.counters(self.my_rooms(b.token)[rid]), b_before)
        # a lower seq, and the same seq, leave the marker where it is
        r = a1.ok("read", room=rid, seq=2)
        self.assertEqual((r["last_read"], r["unread"]), (3, 2), "the read marker moved backwards")
        r = a2.ok("read", room=rid, seq=3)
        self.assertEqual((r["last_read"], r["unread"]), (3, 2))
        r = a1.ok("read", room=rid, seq=0)
        self.assertEqual((r["last_read"], r["unread"]), (3, 2))
        self.assertEqual(self.counters(self.my_rooms(a.token)[rid]), (5, 3, 2))
        # the marker moves again: the sessions' next unread event is this one
        r = a2.ok("read", room=rid, seq=4)
        self.assertEqual((r["last_read"], r["unread"]), (4, 1))
        for ws in (a1, a2):
            self.expect_unread(ws, 4)
            self.assertEqual(self.unread_marks(ws), [3, 4], "unread events although the marker did not move")
        # above the last seq: clamped to it
        r = a1.ok("read", room=rid, seq=1000)
        self.assertEqual((room_id(r["room"]), r["last_read"], r["unread"]), (rid, 5, 0))
        self.assertEqual(self.expect_unread(a2, 5), {"room": rid, "last_seq": 5, "last_read": 5, "unread": 0})
        self.assertEqual(self.counters(self.my_rooms(a.token)[rid]), (5, 5, 0))
        # new messages count again
        self.post(b.token, rid, "m6")
        self.post(b.token, rid, "m7")
        self.assertEqual(self.counters(self.my_rooms(a.token)[rid]), (7, 5, 2))
        self.assertEqual(self.auth_counters(a.token), (7, 5, 2))
        # b's session got none of a's unread events: a's message is the later event
        m = a1.ok("send", room=rid, body="mark", client_msg_id=cmid())
        b1.wait_event("message", lambda d: d["room"] == rid and d["seq"] == m["seq"])
        self.assertEqual(b1.events("unread"), [], "another user's session got unread events")

    def test_read_errors(self):
        a, rid = self.a, self.rid
        outsider = self.new_user()
        wo = self.connect(outsider.token)
        self.assertEqual(wo.error("read", room=rid, seq=1)["code"], "not_member")
        self.assertIn(wo.error("read", room=MISSING_ROOM, seq=1)["code"], ("not_found", "not_member"))
        wa = self.connect(a.token)
        for fields in ({}, {"room": rid}, {"seq": 1}, {"room": rid, "seq": "3"}, {"room": 5, "seq": 1}):
            with self.subTest(fields=fields):
                self.assertEqual(wa.error("read", **fields)["code"], "invalid_request")
        self.assertEqual(self.counters(self.my_rooms(a.token)[rid]), (5, 0, 5))
        self.assertEqual(wa.events("unread"), [])


class ReadMarkerRestartTest(RestartCase, PresenceCase):

    def test_marker_and_last_seen_survive_restart(self):
        s1 = self.start()
        a = self.new_user(server=s1)
        b = self.new_user(server=s1)
        rid = self.create_room(b.token, server=s1)["id"]
        self.join(a.token, rid, server=s1)
        for i in range(5):
            self.post(b.token, rid, "m%d" % i, server=s1)
        wa = self.connect(a.token, server=s1)
        r = wa.ok("read", room=rid, seq=3)
        self.assertEqual((r["last_read"], r["unread"]), (3, 2))
        wa.close()
        seen = poll(lambda: (lambda p: p if p["status"] == "offline" else None)(
            self.user_presence(b.token, a.username, server=s1)), "a is offline", timeout=5)
        self.assertIsInstance(seen.get("last_seen"), int, seen)
        self.assertEqual(s1.terminate(), 0)

        s2 = self.start()
        entry = self.my_rooms(a.token, server=s2)[rid]
        self.assertEqual((entry["last_seq"], entry["last_read"], entry["unread"]), (5, 3, 2))
        after = self.user_presence(b.token, a.username, server=s2)
        self.assertEqual((after["status"], after.get("last_seen")), ("offline", seen["last_seen"]),
                         "last_seen was not persisted")
        wa = self.connect(a.token, server=s2)
        rooms = {room_id(r["room"]): r for r in wa.auth_data["rooms"]}
        self.assertEqual((rooms[rid]["last_seq"], rooms[rid]["last_read"], rooms[rid]["unread"]), (5, 3, 2))
        r = wa.ok("read", room=rid, seq=1)
        self.assertEqual((r["last_read"], r["unread"]), (3, 2), "the marker moved backwards after a restart")
        r = wa.ok("read", room=rid, seq=4)
        self.assertEqual((r["last_read"], r["unread"]), (4, 1))
        self.assertEqual(s2.terminate(), 0)


if __name__ == "__main__":
    main()
