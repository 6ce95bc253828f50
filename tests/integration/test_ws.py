#!/usr/bin/python3
"""WebSocket /ws: auth, send/ack/message fan-out, idempotent retries, history,
join/leave/invite with member events, ping, errors, limits, rate limiting."""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ConfabTestCase, HISTORY_CASES, MSG_ID_RE, ack_fields, main,  # noqa: E402
                     now_ms, retry_after_ms, room_id, seed_ten)

MISSING_ROOM = "r_0000000000000000"


def cmid():
    return "c-" + uuid.uuid4().hex


class WsAuthTest(ConfabTestCase):

    def test_auth_ok_data(self):
        a = self.new_user()
        b = self.new_user()
        busy = self.create_room(a.token)
        quiet = self.create_room(b.token, "private")
        self.join(b.token, busy["id"])
        self.post(a.token, busy["id"], "one")
        self.post(a.token, busy["id"], "two")
        ws = self.connect()
        data = ws.auth(b.token)
        self.assertEqual(data["user"]["id"], b.id)
        self.assertEqual(data["user"]["username"], b.username)
        self.assertIsInstance(data["session"], str)
        self.assertTrue(data["session"])
        self.assertEqual(data["node"], self.server.node)
        rooms = {room_id(r["room"]): r for r in data["rooms"]}
        self.assertEqual(set(rooms), {busy["id"], quiet["id"]})
        self.assertEqual((rooms[busy["id"]]["last_seq"], rooms[busy["id"]]["last_read"],
                          rooms[busy["id"]]["unread"]), (2, 0, 2))
        self.assertEqual((rooms[quiet["id"]]["last_seq"], rooms[quiet["id"]]["last_read"],
                          rooms[quiet["id"]]["unread"]), (0, 0, 0))
        # the reply carries the request's id and nothing else came first
        self.assertEqual(ws.frames[0]["op"], "ok")
        self.assertEqual(ws.frames[0]["id"], 1)

    def test_sessions_are_distinct(self):
        a = self.new_user()
        s1 = self.connect(a.token).auth_data["session"]
        s2 = self.connect(a.token).auth_data["session"]
        self.assertNotEqual(s1, s2)

    def test_first_frame_not_auth(self):
        a = self.new_user()
        for first in ({"op": "ping", "id": 1},
                      {"op": "send", "id": 1, "room": MISSING_ROOM, "body": "x", "client_msg_id": "c"},
                      {"op": "history", "id": 1, "room": MISSING_ROOM}):
            with self.subTest(op=first["op"]):
                ws = self.connect()
                ws.send_obj(first)
                code = ws.expect_close()
                errors = [f for f in ws.frames if f.get("op") == "error"]
                self.assertEqual(len(errors), 1, ws.frames)
                self.assertEqual(errors[0]["code"], "unauthorized")
                self.assertEqual(errors[0]["id"], 1)
                self.assertIsInstance(errors[0]["message"], str)
                self.assertEqual(code, 4401)
                self.assertFalse([f for f in ws.frames if f.get("op") == "ok"])
        # the server still serves and the token still works
        self.connect(a.token)

    def test_bad_tokens_close_4401(self):
        a = self.new_user()
        mid = len(a.token) // 2
        if a.token[mid] == ".":
            mid += 1
        flipped = a.token[:mid] + ("A" if a.token[mid] != "A" else "B") + a.token[mid + 1:]
        for frame in ({"op": "auth", "id": 1, "token": "garbage"},
                      {"op": "auth", "id": 1, "token": flipped},
                      {"op": "auth", "id": 1, "token": ""},
                      {"op": "auth", "id": 1},
                      {"op": "auth", "id": 1, "token": 42}):
            with self.subTest(frame=repr(frame)[:60]):
                ws = self.connect()
                ws.send_obj(frame)
                self.assertEqual(ws.expect_close(), 4401)
                self.assertFalse([f for f in ws.frames if f.get("op") == "ok"], ws.frames)

    def test_auth_token_via_second_connection_still_fine(self):
        a = self.new_user()
        ws1 = self.connect(a.token)
        ws2 = self.connect(a.token)
        self.assertEqual(ws1.ok("ping"), {})
        self.assertEqual(ws2.ok("ping"), {})


class WsAuthTimeoutTest(ConfabTestCase):
    server_args = ("--auth-timeout-ms", "500")

    def test_silent_socket_closed_4408(self):
        ws = self.connect()
        t0 = now_ms()
        self.assertEqual(ws.expect_close(timeout=5), 4408)
        self.assertGreaterEqual(now_ms() - t0, 400, "closed well before --auth-timeout-ms")
        self.assertFalse([f for f in ws.frames if f.get("op") == "ok"], ws.frames)

    def test_authenticated_socket_outlives_the_timeout(self):
        a = self.new_user()
        authed = self.connect(a.token)
        silent = self.connect()
        # the silent socket opened after the authenticated one: once it is
        # closed, the authenticated socket has lived past the timeout too
        self.assertEqual(silent.expect_close(timeout=5), 4408)
        self.assertEqual(authed.ok("ping"), {})
        self.assertFalse(authed.closed)


class WsMessagingTest(ConfabTestCase):

    def expect_message(self, ws, seq, rid):
        return ws.wait_event("message", lambda d: d["room"] == rid and d["seq"] == seq)

    def test_send_ack_and_fanout(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        self.join(b.token, rid)
        a_token2 = self.login(a.username, a.password)["token"]
        a1 = self.connect(a.token)
        a2 = self.connect(a.token)
        a3 = self.connect(a_token2)
        b1 = self.connect(b.token)
        c1 = self.connect(c.token)
        t0 = now_ms()
        ack = a1.ok("send", room=rid, body="hello all", client_msg_id="first")
        self.assertEqual(ack["room"], rid)
        self.assertEqual(ack["seq"], 1)
        self.assertRegex(ack["msg_id"], MSG_ID_RE)
        self.assertIsInstance(ack["ts"], int)
        self.assertGreaterEqual(ack["ts"], t0 - 5000)
        self.assertLessEqual(ack["ts"], now_ms() + 5000)
        expected = {"room": rid, "seq": 1, "msg_id": ack["msg_id"], "from": a.username,
                    "ts": ack["ts"], "body": "hello all", "client_msg_id": "first"}
        for name, ws in (("sending session", a1), ("same token, other socket", a2),
                         ("other login of the sender", a3), ("other member", b1)):
            with self.subTest(receiver=name):
                ev = self.expect_message(ws, 1, rid)
                for k, v in expected.items():
                    self.assertEqual(ev.get(k), v, "field %s of %s" % (k, ev))
        # the events carry no id
        for ws in (a1, b1):
            for m in ws.all_events:
                self.assertNotIn("id", m)
        # the non-member got nothing: it joins, then sees the next message only
        joined = c1.ok("join", room=rid)["room"]
        self.assertEqual((joined["id"], joined["name"], joined["kind"]), (rid, room["name"], "room"))
        ack2 = a1.ok("send", room=rid, body="welcome", client_msg_id="second")
        self.assertEqual(ack2["seq"], 2)
        self.expect_message(c1, 2, rid)
        self.assertEqual(c1.events("message", lambda d: d["seq"] == 1), [],
                         "a non-member received a message of the room")
        # history agrees with the events
        hist = a1.ok("history", room=rid)
        self.assertEqual([m["seq"] for m in hist["messages"]], [1, 2])
        for k, v in expected.items():
            self.assertEqual(hist["messages"][0].get(k), v)

    def test_seqs_are_gapless_and_ordered(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        self.join(b.token, rid)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        seqs = []
        for i in range(3):
            seqs.append(wa.ok("send", room=rid, body="n%d" % i, client_msg_id=cmid())["seq"])
        self.assertEqual(seqs, [1, 2, 3])
        seqs.append(wb.ok("send", room=rid, body="from b", client_msg_id=cmid())["seq"])
        self.assertEqual(seqs[3], 4)
        for ws in (wa, wb):
            self.expect_message(ws, 4, rid)
            got = [d["seq"] for d in ws.events("message", lambda d: d["room"] == rid)]
            self.assertEqual(got, [1, 2, 3, 4], "events out of order or missing")

    def test_pipelined_sends_get_distinct_consecutive_seqs(self):
        a = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        ws = self.connect(a.token)
        ids = []
        for i in range(10):
            rid_ = ws.new_id()
            ids.append(rid_)
            ws.send_obj({"op": "send", "id": rid_, "room": rid, "body": "p%d" % i, "client_msg_id": cmid()})
        acks = [ws.wait_reply(i) for i in ids]
        self.assertTrue(all(r["op"] == "ok" for r in acks), acks)
        self.assertEqual(sorted(r["data"]["seq"] for r in acks), list(range(1, 11)))
        self.assertEqual([m["seq"] for m in self.all_messages(a.token, rid)], list(range(1, 11)))

    def test_idempotent_retry(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        self.join(b.token, rid)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        first = wa.ok("send", room=rid, body="only once", client_msg_id="retry-me")
        again = wa.ok("send", room=rid, body="only once", client_msg_id="retry-me")
        self.assertEqual(ack_fields(again), ack_fields(first))
        # a retry from another session of the same user is deduplicated too
        wa2 = self.connect(a.token)
        third = wa2.ok("send", room=rid, body="only once", client_msg_id="retry-me")
        self.assertEqual((third["seq"], third["msg_id"]), (first["seq"], first["msg_id"]))
        # barrier: the next message's event comes after any duplicate would have
        nxt = wa.ok("send", room=rid, body="next", client_msg_id="next-one")
        self.assertEqual(nxt["seq"], first["seq"] + 1)
        for ws in (wa, wb):
            self.expect_message(ws, nxt["seq"], rid)
            self.assertEqual(len(ws.events("message", lambda d: d["seq"] == first["seq"])), 1)
            self.assertEqual(len(ws.events("message", lambda d: d["room"] == rid)), 2)
        self.assertEqual([m["body"] for m in self.all_messages(a.token, rid)], ["only once", "next"])

    def test_client_msg_id_scope(self):
        a = self.new_user()
        b = self.new_user()
        r1 = self.create_room(a.token)["id"]
        r2 = self.create_room(a.token)["id"]
        self.join(b.token, r1)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        x = wa.ok("send", room=r1, body="a in r1", client_msg_id="same")
        y = wa.ok("send", room=r2, body="a in r2", client_msg_id="same")
        z = wb.ok("send", room=r1, body="b in r1", client_msg_id="same")
        self.assertEqual((x["seq"], y["seq"], z["seq"]), (1, 1, 2))
        self.assertNotEqual(x["msg_id"], z["msg_id"])
        self.assertEqual([m["body"] for m in self.all_messages(a.token, r1)], ["a in r1", "b in r1"])

    def test_history_semantics(self):
        a = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        seed_ten(self, a.token, rid)
        ws = self.connect(a.token)
        for params, seqs, more in HISTORY_CASES:
            with self.subTest(params=params):
                data = ws.ok("history", room=rid, **params)
                self.assertEqual([m["seq"] for m in data["messages"]], seqs)
                self.assertEqual([m["body"] for m in data["messages"]], ["m%d" % s for s in seqs])
                self.assertIs(data["has_more"], more)
        http_all = self.all_messages(a.token, rid)
        self.assertEqual(ws.ok("history", room=rid)["messages"], http_all)

    def test_history_errors(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        seed_ten(self, a.token, rid)
        ws = self.connect(a.token)
        for params in ({"limit": 0}, {"limit": 201}, {"limit": "5"}, {"limit": -1}, {"before": "3"},
                       {"after": [1]}, {"limit": 1.5}):
            with self.subTest(params=params):
                self.assertEqual(ws.error("history", room=rid, **params)["code"], "invalid_request")
        self.assertEqual(ws.error("history")["code"], "invalid_request")
        self.assertEqual(ws.error("history", room=5)["code"], "invalid_request")
        self.assertEqual(len(ws.ok("history", room=rid, limit=200)["messages"]), 10)
        wb = self.connect(b.token)
        self.assertEqual(wb.error("history", room=rid)["code"], "not_member")
        self.assertEqual(wb.error("history", room=MISSING_ROOM)["code"], "not_found")

    def test_reconnect_with_after_misses_nothing(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        self.join(b.token, rid)
        wb = self.connect(b.token)
        wa = self.connect(a.token)
        wa.ok("send", room=rid, body="seen", client_msg_id=cmid())
        last = self.expect_message(wb, 1, rid)["seq"]
        wb.close()
        for i in range(3):
            wa.ok("send", room=rid, body="missed %d" % i, client_msg_id=cmid())
        wb2 = self.connect(b.token)
        entry = [r for r in wb2.auth_data["rooms"] if room_id(r["room"]) == rid][0]
        self.assertEqual(entry["last_seq"], 4)
        data = wb2.ok("history", room=rid, after=last)
        self.assertEqual([m["body"] for m in data["messages"]], ["missed 0", "missed 1", "missed 2"])
        self.assertIs(data["has_more"], False)

    def test_reply_to(self):
        a = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        ws = self.connect(a.token)
        q = ws.ok("send", room=rid, body="question", client_msg_id=cmid())
        r = ws.ok("send", room=rid, body="answer", client_msg_id=cmid(), reply_to=q["seq"])
        ev = self.expect_message(ws, r["seq"], rid)
        self.assertEqual(ev["reply_to"], q["seq"])
        self.assertEqual(ws.error("send", room=rid, body="x", client_msg_id=cmid(), reply_to=99)["code"],
                         "invalid_request")


class WsMembershipTest(ConfabTestCase):

    def test_join_and_leave_via_ws(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        data = wb.ok("join", room=rid)
        self.assertEqual((data["room"]["id"], data["room"]["name"], data["room"]["visibility"]),
                         (rid, room["name"], "public"))
        ev = wa.wait_event("member", lambda d: d["room"] == rid and d["action"] == "joined")
        self.assertEqual(ev["user"], b.username)
        self.assertEqual(self.members(a.token, rid)[b.username]["role"], "member")
        # the joined session gets the room's messages from now on
        s1 = wa.ok("send", room=rid, body="hi b", client_msg_id=cmid())
        self.assertEqual(wb.wait_event("message", lambda d: d["room"] == rid)["seq"], s1["seq"])
        self.assertEqual(wb.ok("leave", room=rid), {})
        ev = wa.wait_event("member", lambda d: d["room"] == rid and d["action"] == "left")
        self.assertEqual(ev["user"], b.username)
        self.assertNotIn(b.username, self.members(a.token, rid))
        self.assertEqual(wb.error("send", room=rid, body="x", client_msg_id=cmid())["code"], "not_member")
        self.assertEqual(wb.error("leave", room=rid)["code"], "not_member")
        # messages while away are not delivered; after rejoining they are
        away = wa.ok("send", room=rid, body="while away", client_msg_id=cmid())
        wb.ok("join", room=rid)
        back = wa.ok("send", room=rid, body="welcome back", client_msg_id=cmid())
        wb.wait_event("message", lambda d: d["seq"] == back["seq"])
        self.assertEqual(wb.events("message", lambda d: d["seq"] == away["seq"]), [],
                         "a session got a message of a room its user had left")

    def test_http_join_and_leave_reach_open_sessions(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        rid = room["id"]
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        self.join(b.token, rid)
        ev = wa.wait_event("member", lambda d: d["room"] == rid and d["action"] == "joined")
        self.assertEqual(ev["user"], b.username)
        m = wa.ok("send", room=rid, body="to the new member", client_msg_id=cmid())
        self.assertEqual(wb.wait_event("message", lambda d: d["room"] == rid)["seq"], m["seq"])
        self.assertEqual(self.api("POST", "/api/v1/rooms/%s/leave" % rid, token=b.token)[0], 204)
        ev = wa.wait_event("member", lambda d: d["room"] == rid and d["action"] == "left")
        self.assertEqual(ev["user"], b.username)
        away = wa.ok("send", room=rid, body="gone", client_msg_id=cmid())
        # barrier through another room both are in
        other = self.create_room(a.token)["id"]
        wb.ok("join", room=other)
        mark = wa.ok("send", room=other, body="mark", client_msg_id=cmid())
        wb.wait_event("message", lambda d: d["room"] == other and d["seq"] == mark["seq"])
        self.assertEqual(wb.events("message", lambda d: d["room"] == rid and d["seq"] == away["seq"]), [])

    def test_invite_events(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        room = self.create_room(a.token, "private")
        rid = room["id"]
        self.invite(a.token, rid, b.username)
        wb_join = self.connect(b.token)
        wb_join.ok("join", room=rid)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        wc = self.connect(c.token)
        self.assertEqual(wc.error("join", room=rid)["code"], "forbidden")
        self.invite(a.token, rid, c.username)
        for name, ws in (("member a", wa), ("member b", wb), ("invitee c", wc)):
            with self.subTest(receiver=name):
                ev = ws.wait_event("member", lambda d: d["room"] == rid and d["action"] == "invited")
                self.assertEqual(ev["user"], c.username)
        self.assertEqual(wc.ok("join", room=rid)["room"]["id"], rid)
        ev = wa.wait_event("member", lambda d: d["room"] == rid and d["action"] == "joined")
        self.assertEqual(ev["user"], c.username)
        m = wa.ok("send", room=rid, body="hi c", client_msg_id=cmid())
        self.assertEqual(wc.wait_event("message", lambda d: d["room"] == rid)["seq"], m["seq"])

    def test_membership_errors(self):
        a = self.new_user()
        b = self.new_user()
        priv = self.create_room(a.token, "private")["id"]
        pub = self.create_room(a.token)["id"]
        wb = self.connect(b.token)
        self.assertEqual(wb.error("join", room=priv)["code"], "forbidden")
        self.assertEqual(wb.error("join", room=MISSING_ROOM)["code"], "not_found")
        self.assertEqual(wb.error("leave", room=pub)["code"], "not_member")
        self.assertEqual(wb.error("leave", room=MISSING_ROOM)["code"], "not_found")
        self.assertEqual(wb.error("send", room=pub, body="x", client_msg_id=cmid())["code"], "not_member")
        self.assertEqual(wb.error("send", room=priv, body="x", client_msg_id=cmid())["code"], "not_member")
        self.assertEqual(wb.error("send", room=MISSING_ROOM, body="x", client_msg_id=cmid())["code"], "not_found")
        for op in ("join", "leave"):
            self.assertEqual(wb.error(op)["code"], "invalid_request")
            self.assertEqual(wb.error(op, room=17)["code"], "invalid_request")
        self.assertNotIn(b.username, self.members(a.token, priv))
        self.assertEqual(self.all_messages(a.token, pub), [])
        self.assertEqual(wb.ok("ping"), {})

    def test_direct_room_over_ws(self):
        a = self.new_user()
        b = self.new_user()
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token), 200)["room"]
        ack = wa.ok("send", room=dm["id"], body="just us", client_msg_id=cmid())
        self.assertEqual(ack["seq"], 1)
        ev = wb.wait_event("message", lambda d: d["room"] == dm["id"])
        self.assertEqual((ev["seq"], ev["body"], ev["from"]), (1, "just us", a.username))
        self.assertEqual(wb.error("leave", room=dm["id"])["code"], "forbidden")
        self.assertEqual(set(self.members(a.token, dm["id"])), {a.username, b.username})


class WsRequestsTest(ConfabTestCase):

    def test_ping(self):
        a = self.new_user()
        ws = self.connect(a.token)
        rid = ws.new_id()
        ws.send_obj({"op": "ping", "id": rid})
        r = ws.wait_reply(rid)
        self.assertEqual((r["op"], r["id"], r["data"]), ("ok", rid, {}))

    def test_ids_numbers_and_strings(self):
        a = self.new_user()
        ws = self.connect(a.token)
        for rid in ("abc", "", 0, 123456789012, -5, "\u00e9\U0001F600"):
            with self.subTest(id=rid):
                ws.send_obj({"op": "ping", "id": rid})
                r = ws.wait_reply(rid)
                self.assertEqual(r["op"], "ok")
                self.assertEqual(r["id"], rid)
                self.assertEqual(type(r["id"]), type(rid))

    def test_exactly_one_reply_per_request(self):
        a = self.new_user()
        room = self.create_room(a.token)["id"]
        ws = self.connect(a.token)
        sent = []
        for i in range(6):
            rid = ws.new_id()
            sent.append(rid)
            if i % 3 == 0:
                ws.send_obj({"op": "ping", "id": rid})
            elif i % 3 == 1:
                ws.send_obj({"op": "send", "id": rid, "room": room, "body": "b%d" % i, "client_msg_id": cmid()})
            else:
                ws.send_obj({"op": "no_such_op", "id": rid})
        for rid in sent:
            ws.wait_reply(rid)
        ws.ok("ping")  # barrier: any duplicate would have come before this reply
        for rid in sent:
            self.assertEqual(ws.reply_counts[("int", str(rid))], 1, "replies to id %s" % rid)

    def test_unknown_op(self):
        a = self.new_user()
        ws = self.connect(a.token)
        r = ws.request("frobnicate", room=MISSING_ROOM)
        self.assertEqual(r["op"], "error")
        self.assertEqual(r["code"], "unknown_op")
        self.assertIsInstance(r["message"], str)
        self.assertEqual(ws.ok("ping"), {})

    def test_second_auth_does_not_close(self):
        # a second auth on an authenticated socket gets one reply and no close
        a = self.new_user()
        ws = self.connect(a.token)
        ws.request("auth", token=a.token)
        self.assertEqual(ws.ok("ping"), {})

    def test_invalid_requests(self):
        a = self.new_user()
        room = self.create_room(a.token)["id"]
        ws = self.connect(a.token)
        bad_sends = [
            {"room": room, "client_msg_id": cmid()},                         # no body
            {"room": room, "body": "", "client_msg_id": cmid()},             # empty body
            {"room": room, "body": 5, "client_msg_id": cmid()},              # body not a string
            {"room": room, "body": None, "client_msg_id": cmid()},
            {"room": room, "body": {"t": "x"}, "client_msg_id": cmid()},
            {"room": room, "body": "x"},                                     # no client_msg_id
            {"room": room, "body": "x", "client_msg_id": ""},
            {"room": room, "body": "x", "client_msg_id": "c" * 129},
            {"room": room, "body": "x", "client_msg_id": 17},
            {"body": "x", "client_msg_id": cmid()},                          # no room
            {"room": 5, "body": "x", "client_msg_id": cmid()},
            {"room": [room], "body": "x", "client_msg_id": cmid()},
            {"room": room, "body": "x", "client_msg_id": cmid(), "reply_to": "1"},
        ]
        for fields in bad_sends:
            with self.subTest(fields=repr(fields)[:70]):
                r = ws.error("send", **fields)
                self.assertEqual(r["code"], "invalid_request")
                self.assertIsInstance(r["message"], str)
        self.assertEqual(self.all_messages(a.token, room), [], "an invalid send stored a message")
        self.assertEqual(ws.events("message"), [])
        ok = ws.ok("send", room=room, body="x", client_msg_id="c" * 128)
        self.assertEqual(ok["seq"], 1)

    def test_requests_without_usable_id(self):
        a = self.new_user()
        ws = self.connect(a.token)
        cases = [({"op": "ping"}, None), ({"op": "ping", "id": None}, None),
                 ({"op": "ping", "id": {"x": 1}}, None), ({"op": "ping", "id": [1]}, None),
                 ({"op": "ping", "id": True}, None), ({"id": 77}, 77), ({"id": "no-op"}, "no-op"),
                 ({"op": 5, "id": 78}, 78)]
        for frame, echoed in cases:
            with self.subTest(frame=frame):
                ws.send_obj(frame)
                r = ws.wait_reply(echoed)
                self.assertEqual(r["op"], "error")
                self.assertEqual(r["code"], "invalid_request")
                self.assertIn("id", r)
                self.assertEqual(r["id"], echoed)
        self.assertEqual(ws.ok("ping"), {})

    def test_body_length_limit_in_code_points(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)["id"]
        self.join(b.token, room)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        for body in ("a" * 8001, "\U0001F600" * 8001, "\u00e9" * 8001):
            with self.subTest(chars=len(body), first=body[0]):
                self.assertEqual(wa.error("send", room=room, body=body, client_msg_id=cmid())["code"], "too_large")
        self.assertEqual(self.all_messages(a.token, room), [])
        big = "\U0001F600" * 8000
        ack = wa.ok("send", room=room, body=big, client_msg_id=cmid())
        self.assertEqual(ack["seq"], 1)
        ev = wb.wait_event("message", lambda d: d["seq"] == 1)
        self.assertEqual(ev["body"], big)
        self.assertEqual(wa.ok("history", room=room)["messages"][0]["body"], big)
        self.assertEqual(self.all_messages(a.token, room)[0]["body"], big)
        ack = wa.ok("send", room=room, body="a" * 8000, client_msg_id=cmid())
        self.assertEqual(ack["seq"], 2)

    def test_unicode_round_trip(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)["id"]
        self.join(b.token, room)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        bodies = [
            "family \U0001F469\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 flag \U0001F1FA\U0001F1E6 \U0001F600",
            "rtl \u200F\u202E\u05E9\u05DC\u05D5\u05DD\u202C \u200E \u0627\u0644\u0633\u0644\u0627\u0645",
            "nul a\u0000b\u0000",
            "\u0000",
            "quote \" backslash \\ slash / newline \n tab \t cr \r bell \u0007 esc \u001b",
            "seps \u2028 \u2029 nbsp \u00a0 bom \ufeff zw \u200b\u200c\u200d",
            "edges \ud7ff \ue000 \ufffd \uffff \U00010000 \U0010FFFD",
            "combining e\u0301 \u0915\u094D\u0937 \u1100\u1161\u11A8",
            "html </script><b>&amp;</b>",
            " padded  ",
        ]
        acks = []
        for i, body in enumerate(bodies):
            ascii_escaped = i % 2 == 1
            rid = wa.new_id()
            wa.send_obj({"op": "send", "id": rid, "room": room, "body": body, "client_msg_id": "u%d" % i},
                        ascii=ascii_escaped)
            r = wa.wait_reply(rid)
            self.assertEqual(r["op"], "ok", (body, r))
            acks.append(r["data"])
        self.assertEqual([x["seq"] for x in acks], list(range(1, len(bodies) + 1)))
        for seq, body in enumerate(bodies, 1):
            with self.subTest(body=body):
                self.assertEqual(wb.wait_event("message", lambda d: d["seq"] == seq)["body"], body)
                self.assertEqual(wa.wait_event("message", lambda d: d["seq"] == seq)["body"], body)
        self.assertEqual([m["body"] for m in wa.ok("history", room=room, limit=200)["messages"]], bodies)
        self.assertEqual([m["body"] for m in self.all_messages(b.token, room)], bodies)
        # client_msg_id with non-ASCII content round-trips and deduplicates
        x = wa.ok("send", room=room, body="k", client_msg_id="\U0001F511-\u00e9")
        y = wa.ok("send", room=room, body="k", client_msg_id="\U0001F511-\u00e9")
        self.assertEqual(ack_fields(x), ack_fields(y))
        ev = wb.wait_event("message", lambda d: d["seq"] == x["seq"])
        self.assertEqual(ev["client_msg_id"], "\U0001F511-\u00e9")


class WsLargeReplyTest(ConfabTestCase):
    """Default limits: the largest legal history page must reach a client that
    reads it, even though it is bigger than the default outbound limit."""

    def test_full_page_of_longest_messages(self):
        users = [self.new_user() for _ in range(4)]
        room = self.create_room(users[0].token)["id"]
        for u in users[1:]:
            self.join(u.token, room)
        body = "\U0001F600" * 8000  # the longest body: 32,000 bytes of UTF-8
        # four senders: HTTP posting is rate-limited per user (bursts of 50)
        for i in range(200):
            self.post(users[i % 4].token, room, body)
        ws = self.connect(users[0].token)
        r = ws.request("history", room=room, limit=200, timeout=30)
        self.assertEqual(r["op"], "ok", "history limit=200 of 8000-character messages: %s"
                         % (r if r.get("op") == "error" else "closed"))
        self.assertEqual([m["seq"] for m in r["data"]["messages"]], list(range(1, 201)))
        self.assertTrue(all(m["body"] == body for m in r["data"]["messages"]))
        self.assertEqual(ws.ok("ping"), {})


class WsRateLimitTest(ConfabTestCase):
    server_args = ("--rate-per-s", "5", "--rate-burst", "5")

    def pipeline(self, ws, frames):
        ids = []
        for f in frames:
            rid = ws.new_id()
            ids.append(rid)
            f = dict(f)
            f["id"] = rid
            ws.send_obj(f)
        return [ws.wait_reply(rid) for rid in ids]

    def test_burst_then_rate_limited(self):
        a = self.new_user()
        ws = self.connect(a.token)
        replies = self.pipeline(ws, [{"op": "ping"}] * 20)
        self.assertTrue(all(r["op"] == "ok" for r in replies[:5]), replies[:5])
        limited = [r for r in replies if r["op"] == "error"]
        self.assertGreaterEqual(len(limited), 1, "20 requests at once with a burst of 5 were all accepted")
        for r in limited:
            self.assertEqual(r["code"], "rate_limited", r)
            ra = retry_after_ms(r)
            self.assertIsInstance(ra, int, r)
            self.assertGreater(ra, 0, r)
            self.assertLessEqual(ra, 1000, r)  # one token at 5/s takes 200 ms
        self.assertFalse(ws.closed, "rate limiting must not close the socket")
        # once the advised time has passed, requests work again
        wait = max(retry_after_ms(r) for r in limited)
        for _ in range(5):
            ws.idle(wait / 1000.0)
            r = ws.request("ping")
            if r["op"] == "ok":
                break
            wait = retry_after_ms(r)
        self.assertEqual(r["op"], "ok", r)

    def test_rate_limited_sends_store_nothing(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)["id"]
        self.join(b.token, room)
        wb = self.connect(b.token)
        wa = self.connect(a.token)
        cmids = [cmid() for _ in range(20)]
        replies = self.pipeline(wa, [{"op": "send", "room": room, "body": "r%d" % i, "client_msg_id": c}
                                     for i, c in enumerate(cmids)])
        ok = [(c, r["data"]) for c, r in zip(cmids, replies) if r["op"] == "ok"]
        limited = [r for r in replies if r["op"] == "error"]
        self.assertGreaterEqual(len(ok), 5)
        self.assertGreaterEqual(len(limited), 1)
        self.assertTrue(all(r["code"] == "rate_limited" for r in limited), limited)
        self.assertEqual(sorted(d["seq"] for _, d in ok), list(range(1, len(ok) + 1)))
        stored = self.all_messages(a.token, room)
        self.assertEqual(len(stored), len(ok), "a rate-limited send was stored")
        self.assertEqual({m["client_msg_id"] for m in stored}, {c for c, _ in ok})
        wb.wait_event("message", lambda d: d["seq"] == len(ok))
        self.assertEqual(len(wb.events("message")), len(ok))


class WsSlowConsumerTest(ConfabTestCase):
    # a small outbound limit, and a high request rate so that one socket can
    # ask for many pages at once
    server_args = ConfabTestCase.SLOW_CONSUMER_ARGS

    def test_slow_consumer_closed_1008(self):
        ws, w, a = self.fill_slow_socket()
        self.assertEqual(ws.expect_close(timeout=30), 1008)
        self.assert_healthy()
        self.connect(a.token).ok("ping")
        self.assertEqual(w.ok("ping"), {}, "the slow consumer's close affected another session")


if __name__ == "__main__":
    main()
