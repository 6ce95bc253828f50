#!/usr/bin/python3
"""Rooms over HTTP: create, list, public directory, join, invite, leave,
members, direct rooms, history and send."""

import hashlib
import os
import sys
import uuid
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ConfabTestCase, DM_ID_RE, HISTORY_CASES, ROOM_ID_RE, main, now_ms,  # noqa: E402
                     poll, seed_ten, unique)

MISSING_ROOM = "r_0000000000000000"


class RoomLifecycleTest(ConfabTestCase):

    def test_create_public_room(self):
        u = self.new_user()
        before = now_ms()
        resp = self.api("POST", "/api/v1/rooms",
                        {"name": "General \U0001F4AC", "topic": "all things", "visibility": "public"},
                        token=u.token)
        room = self.assert_status(resp, 201)["room"]
        self.assertRegex(room["id"], ROOM_ID_RE)
        self.assertEqual(room["name"], "General \U0001F4AC")
        self.assertEqual(room["topic"], "all things")
        self.assertEqual(room["visibility"], "public")
        self.assertEqual(room["kind"], "room")
        self.assertIs(room["encrypted"], False)
        self.assertIsInstance(room["created_at"], int)
        self.assertGreaterEqual(room["created_at"], before - 5000)
        self.assertLessEqual(room["created_at"], now_ms() + 5000)
        members = self.members(u.token, room["id"])
        self.assertEqual(set(members), {u.username})
        self.assertEqual(members[u.username]["role"], "owner")
        self.assertEqual(members[u.username]["user"]["id"], u.id)

    def test_create_private_room_and_defaults(self):
        u = self.new_user()
        room = self.assert_status(self.api("POST", "/api/v1/rooms", {"name": "secret", "visibility": "private"},
                                           token=u.token), 201)["room"]
        self.assertEqual(room["visibility"], "private")
        self.assertEqual(room["kind"], "room")
        self.assertIsInstance(room["topic"], str)
        self.assertIn(room["id"], self.my_rooms(u.token))

    def test_room_ids_differ(self):
        u = self.new_user()
        a = self.create_room(u.token, name="same")
        b = self.create_room(u.token, name="same")
        self.assertNotEqual(a["id"], b["id"])

    def test_create_room_validation(self):
        u = self.new_user()
        bad = [{"visibility": "public"}, {"name": "", "visibility": "public"},
               {"name": "n" * 101, "visibility": "public"}, {"name": 5, "visibility": "public"},
               {"name": "x", "visibility": "secret"}, {"name": "x"}, {"name": "x", "visibility": 1},
               {"name": "x", "visibility": "public", "topic": "t" * 501},
               {"name": "x", "visibility": "public", "topic": 7},
               {"name": "x", "visibility": "public", "encrypted": True},
               {"name": "x", "visibility": "private", "encrypted": "yes"},
               {"name": "x", "visibility": "private", "encrypted": 1}]
        before = set(self.my_rooms(u.token))
        for body in bad:
            with self.subTest(body=repr(body)[:60]):
                self.assert_error(self.api("POST", "/api/v1/rooms", body, token=u.token),
                                  400, "invalid_request")
        for raw in ("[]", "nope"):
            self.assert_error(self.api("POST", "/api/v1/rooms", raw_body=raw, token=u.token),
                              400, "invalid_request")
        self.assertEqual(set(self.my_rooms(u.token)), before, "a refused create made a room")
        ok = self.assert_status(self.api("POST", "/api/v1/rooms",
                                         {"name": "\u00e9" * 100, "topic": "t" * 500, "visibility": "public"},
                                         token=u.token), 201)["room"]
        self.assertEqual(ok["name"], "\u00e9" * 100)
        self.assertEqual(ok["topic"], "t" * 500)

    def test_list_my_rooms_with_counters(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        other = self.create_room(a.token)
        rooms_b = self.my_rooms(b.token)
        self.assertNotIn(room["id"], rooms_b)
        self.join(b.token, room["id"])
        listed = self.my_rooms(b.token)[room["id"]]
        self.assertEqual((listed["last_seq"], listed["last_read"], listed["unread"]), (0, 0, 0))
        self.assertEqual(listed["name"], room["name"])
        self.assertEqual(listed["visibility"], "public")
        self.assertEqual(listed["kind"], "room")
        self.post(a.token, room["id"], "one")
        self.post(a.token, room["id"], "two")
        listed = self.my_rooms(b.token)
        self.assertEqual((listed[room["id"]]["last_seq"], listed[room["id"]]["last_read"],
                          listed[room["id"]]["unread"]), (2, 0, 2))
        self.assertNotIn(other["id"], listed)
        self.assertEqual(self.my_rooms(a.token)[room["id"]]["last_seq"], 2)

    def test_public_directory(self):
        u = self.new_user()
        v = self.new_user()
        pub = self.create_room(u.token, "public")
        priv = self.create_room(u.token, "private")
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": v.username}, token=u.token), 200)["room"]
        body = {"rooms": self.public_directory(v.token)}
        ids = {r["id"]: r for r in body["rooms"]}
        self.assertIn(pub["id"], ids, "public room missing from the directory")
        self.assertNotIn(priv["id"], ids, "private room listed in the public directory")
        self.assertNotIn(dm["id"], ids, "direct room listed in the public directory")
        self.assertEqual(ids[pub["id"]]["name"], pub["name"])
        for r in body["rooms"]:
            self.assertEqual(r["visibility"], "public", r)

    def test_join_public_room(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        resp = self.api("POST", "/api/v1/rooms/%s/join" % room["id"], token=b.token)
        joined = self.assert_status(resp, 200)["room"]
        self.assertEqual(joined["id"], room["id"])
        self.assertEqual(joined["name"], room["name"])
        members = self.members(a.token, room["id"])
        self.assertEqual(set(members), {a.username, b.username})
        self.assertEqual(members[b.username]["role"], "member")
        self.assertEqual(members[a.username]["role"], "owner")
        self.assertIn(room["id"], self.my_rooms(b.token))
        # joining again changes nothing
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/join" % room["id"], token=b.token), 200)
        self.assertEqual(len(self.assert_status(self.api("GET", "/api/v1/rooms/%s/members" % room["id"],
                                                          token=a.token), 200)["members"]), 2)

    def test_join_unknown_room_is_404(self):
        u = self.new_user()
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/join" % MISSING_ROOM, token=u.token),
                          404, "not_found")

    def test_private_room_needs_invite(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token, "private")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/join" % room["id"], token=b.token),
                          403, "forbidden")
        self.assertNotIn(b.username, self.members(a.token, room["id"]))
        self.assertNotIn(room["id"], self.my_rooms(b.token))
        st, _, body = self.api("POST", "/api/v1/rooms/%s/invite" % room["id"], {"username": b.username},
                               token=a.token)
        self.assertEqual(st, 204, body)
        self.assertIsNone(body)
        joined = self.join(b.token, room["id"])
        self.assertEqual(joined["id"], room["id"])
        members = self.members(a.token, room["id"])
        self.assertEqual(members[b.username]["role"], "member")
        self.post(b.token, room["id"], "hello from the invitee")

    def test_invite_rules(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        room = self.create_room(a.token, "private")
        # non-members may not invite
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/invite" % room["id"], {"username": c.username},
                                   token=b.token), 403, "forbidden")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/join" % room["id"], token=c.token),
                          403, "forbidden")
        # unknown user, unknown room, bad body
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/invite" % room["id"], {"username": unique("ghost")},
                                   token=a.token), 404, "not_found")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/invite" % MISSING_ROOM, {"username": b.username},
                                   token=a.token), 404, "not_found")
        for body in ({}, {"username": 5}):
            self.assert_error(self.api("POST", "/api/v1/rooms/%s/invite" % room["id"], body, token=a.token),
                              400, "invalid_request")
        # an invited member may invite in turn
        self.invite(a.token, room["id"], b.username)
        self.join(b.token, room["id"])
        self.invite(b.token, room["id"], c.username)
        self.join(c.token, room["id"])
        # inviting a member changes nothing
        self.invite(a.token, room["id"], c.username)
        members = self.members(a.token, room["id"])
        self.assertEqual(set(members), {a.username, b.username, c.username})
        self.assertEqual(members[a.username]["role"], "owner")

    def test_leave(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        self.join(b.token, room["id"])
        self.post(b.token, room["id"], "before leaving")
        st, _, body = self.api("POST", "/api/v1/rooms/%s/leave" % room["id"], token=b.token)
        self.assertEqual(st, 204, body)
        self.assertIsNone(body)
        self.assertEqual(set(self.members(a.token, room["id"])), {a.username})
        self.assertNotIn(room["id"], self.my_rooms(b.token))
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % room["id"], {"body": "x"},
                                   token=b.token), 403, "forbidden")
        # leaving again: not a member
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/leave" % room["id"], token=b.token),
                          403, "forbidden")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/leave" % MISSING_ROOM, token=b.token),
                          404, "not_found")
        # a public room can be joined again
        self.join(b.token, room["id"])
        self.assertIn(b.username, self.members(a.token, room["id"]))
        self.assertEqual([m["body"] for m in self.all_messages(b.token, room["id"])], ["before leaving"])

    def test_members_shape_and_access(self):
        a = self.new_user(display_name="Alpha")
        b = self.new_user()
        room = self.create_room(a.token, "private")
        body = self.assert_status(self.api("GET", "/api/v1/rooms/%s/members" % room["id"], token=a.token), 200)
        self.assertEqual(len(body["members"]), 1)
        m = body["members"][0]
        self.assertEqual(m["user"]["id"], a.id)
        self.assertEqual(m["user"]["username"], a.username)
        self.assertEqual(m["user"]["display_name"], "Alpha")
        self.assertEqual(m["role"], "owner")
        self.assertIn(m["presence"]["status"], ("online", "away", "dnd", "offline"))
        self.assert_error(self.api("GET", "/api/v1/rooms/%s/members" % room["id"], token=b.token),
                          403, "forbidden")
        self.assert_error(self.api("GET", "/api/v1/rooms/%s/members" % MISSING_ROOM, token=a.token),
                          404, "not_found")


class BigRoomTest(ConfabTestCase):
    """Above --member-events-max members a room sends each join, leave and
    invite only to the user concerned, and a member_summary a second to the
    members (docs/PROTOCOL.md, "Big rooms"); the member list pages."""
    server_args = ("--member-events-max", "3", "--invites-per-min", "1000")

    def users(self, n):
        """n users made at once (one password hash), each with a token."""
        names = ["big%s%d" % (uuid.uuid4().hex[:8], i) for i in range(n)]
        st, _, body = self.api("POST", "/admin/api/v1/users", {"usernames": names, "password": "big-room-pass"},
                               token=self.server.admin_token, timeout=60)
        self.assertEqual(st, 201, body)
        return [SimpleNamespace(username=u["user"]["username"], token=u["token"]) for u in body["users"]]

    def test_member_events_become_summaries(self):
        owner = self.new_user()
        room = self.create_room(owner.token)["id"]
        watcher = self.connect(owner.token)
        # Up to the threshold every member hears each join.
        small = self.users(2)
        for u in small:
            self.join(u.token, room)
            watcher.wait_event("member", lambda d, u=u: d["user"] == u.username and d["action"] == "joined")
        # The fourth member makes it big: no member event to the others for
        # it or the joins after it, one summary a second naming them in order.
        big = self.users(4)
        socks = {}
        for u in big:
            socks[u.username] = self.connect(u.token)
            self.join(u.token, room)
            # the joiner's own sessions still get theirs
            socks[u.username].wait_event("member", lambda d, u=u: d["user"] == u.username)
        named = []
        for _ in range(10):
            s = watcher.wait_event("member_summary", timeout=5)
            self.assertEqual(s["room"], room)
            named += [(c["user"], c["action"]) for c in s["changes"]]
            self.assertEqual(s["more"], 0)
            if len(named) >= len(big):
                break
        self.assertEqual(named, [(u.username, "joined") for u in big])
        self.assertEqual(s["members"], 1 + len(small) + len(big))
        self.assertEqual([d["user"] for d in watcher.events("member")], [u.username for u in small])
        # a member's own socket sees others only through summaries
        first = socks[big[0].username]
        self.assertEqual([d["user"] for d in first.events("member")], [big[0].username])
        # a leave: the leaver hears it, the others in the next summary
        leaver = big[-1]
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/leave" % room, token=leaver.token), 204)
        socks[leaver.username].wait_event("member", lambda d: d["action"] == "left")
        s = watcher.wait_event("member_summary", lambda d: d["changes"][0]["action"] == "left", timeout=5)
        self.assertEqual(s["changes"], [{"user": leaver.username, "action": "left"}])
        self.assertEqual(s["members"], len(small) + len(big))
        # an invite into a big private room reaches the invitee as before
        private = self.create_room(owner.token, "private")["id"]
        for u in big[:3]:
            self.invite(owner.token, private, u.username)
        invitee = self.users(1)[0]
        isock = self.connect(invitee.token)
        self.invite(owner.token, private, invitee.username)
        isock.wait_event("member", lambda d: d["room"] == private and d["action"] == "invited")
        isock.wait_event("notification", lambda d: d["room"] == private and d["reason"] == "invite")
        changes = []
        for _ in range(10):
            s = watcher.wait_event("member_summary", lambda d: d["room"] == private, timeout=5)
            changes += s["changes"]
            if {"user": invitee.username, "action": "invited"} in changes:
                break
        # the third invite made it big (owner and three invited): it and the fourth
        self.assertEqual(changes, [{"user": big[2].username, "action": "invited"},
                                   {"user": invitee.username, "action": "invited"}])
        self.assertEqual(s["members"], 1)  # the invited are not members yet

    def test_many_changes_in_one_second_are_counted(self):
        owner = self.new_user()
        room = self.create_room(owner.token)["id"]
        for u in self.users(2):  # three members: not big yet
            self.join(u.token, room)
        watcher = self.connect(owner.token)
        joiners = self.users(120)
        for u in joiners:
            self.join(u.token, room)
        listed, more = [], 0
        for _ in range(60):
            s = watcher.wait_event("member_summary", timeout=5)
            listed += s["changes"]
            more += s["more"]
            self.assertLessEqual(len(s["changes"]), 50)
            if len(listed) + more >= len(joiners):
                break
        self.assertEqual(len(listed) + more, len(joiners))
        self.assertEqual(s["members"], 3 + len(joiners))
        self.assertEqual(watcher.events("member"), [])

    def test_members_page_by_username(self):
        owner = self.new_user()
        room = self.create_room(owner.token)["id"]
        users = self.users(6)
        for u in users:
            self.join(u.token, room)
        names = sorted([owner.username] + [u.username for u in users])
        path = "/api/v1/rooms/%s/members" % room
        everyone = self.assert_status(self.api("GET", path, token=owner.token), 200)
        self.assertEqual(sorted(m["user"]["username"] for m in everyone["members"]), names)
        self.assertNotIn("next", everyone)
        seen, after = [], None
        for _ in range(10):
            q = "?limit=3" + ("&after=" + after if after else "")
            page = self.assert_status(self.api("GET", path + q, token=owner.token), 200)
            self.assertLessEqual(len(page["members"]), 3)
            seen += [m["user"]["username"] for m in page["members"]]
            for m in page["members"]:
                self.assertIn(m["presence"]["status"], ("online", "away", "dnd", "offline"))
            after = page.get("next")
            if not after:
                break
            self.assertEqual(after, seen[-1])
        self.assertEqual(seen, names)
        for bad in ("?limit=0", "?limit=1001", "?limit=x"):
            self.assert_error(self.api("GET", path + bad, token=owner.token), 400, "invalid_request")
        outsider = self.users(1)[0]
        self.assert_error(self.api("GET", path + "?limit=2", token=outsider.token), 403, "forbidden")


class EncryptedRoomTest(ConfabTestCase):
    """`encrypted` on rooms and DMs (PROTOCOL.md sections 2 and 7): private
    only, fixed at creation, shown wherever the room is."""

    def test_encrypted_private_room(self):
        u = self.new_user()
        v = self.new_user()
        room = self.assert_status(self.api("POST", "/api/v1/rooms",
                                           {"name": "vault", "visibility": "private", "encrypted": True},
                                           token=u.token), 201)["room"]
        self.assertIs(room["encrypted"], True)
        self.assertEqual(room["visibility"], "private")
        self.assertIs(self.my_rooms(u.token)[room["id"]]["encrypted"], True)
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/invite" % room["id"], {"username": v.username},
                                    token=u.token), 204)
        joined = self.assert_status(self.api("POST", "/api/v1/rooms/%s/join" % room["id"], token=v.token), 200)
        self.assertIs(joined["room"]["encrypted"], True)
        plain = self.assert_status(self.api("POST", "/api/v1/rooms",
                                            {"name": "open", "visibility": "private", "encrypted": False},
                                            token=u.token), 201)["room"]
        self.assertIs(plain["encrypted"], False)

    def test_encrypted_dm_is_fixed_at_creation(self):
        a, b, c = self.new_user(), self.new_user(), self.new_user()
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username, "encrypted": True},
                                         token=a.token), 200)["room"]
        self.assertIs(dm["encrypted"], True)
        again = self.assert_status(self.api("POST", "/api/v1/dm", {"username": a.username, "encrypted": False},
                                            token=b.token), 200)["room"]
        self.assertEqual(again["id"], dm["id"])
        self.assertIs(again["encrypted"], True, "a later call changed an encrypted DM")
        self.assertIs(self.my_rooms(b.token)[dm["id"]]["encrypted"], True)
        plain = self.assert_status(self.api("POST", "/api/v1/dm", {"username": c.username}, token=a.token),
                                   200)["room"]
        self.assertIs(plain["encrypted"], False)
        later = self.assert_status(self.api("POST", "/api/v1/dm", {"username": a.username, "encrypted": True},
                                            token=c.token), 200)["room"]
        self.assertIs(later["encrypted"], False, "a later call encrypted a plain DM")
        for bad in ("yes", 1, [True]):
            self.assert_error(self.api("POST", "/api/v1/dm", {"username": c.username, "encrypted": bad},
                                       token=b.token), 400, "invalid_request")
        bc = "d_" + hashlib.sha256(":".join(sorted([b.id, c.id])).encode()).hexdigest()[:16]
        self.assertNotIn(bc, self.my_rooms(b.token), "a refused call made a DM")

    @staticmethod
    def sealed(*devices, **extra):
        """An e2ee object of the contract's shape (opaque to the server),
        with members of a scheme's own that must pass unchanged."""
        e = {"alg": "confab-x25519-aes256gcm-ed25519-v1", "sender_device": "dev1",
             "ciphertexts": {d: "QUJDRA==" for d in devices}, "payload": "c2VjcmV0", "v": [1, {"x": None}]}
        e.update(extra)
        return e

    def test_encrypted_room_takes_e2ee_and_no_body(self):
        u, v = self.new_user(), self.new_user()
        room = self.assert_status(self.api("POST", "/api/v1/rooms",
                                           {"name": "vault", "visibility": "private", "encrypted": True},
                                           token=u.token), 201)["room"]["id"]
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/invite" % room, {"username": v.username},
                                    token=u.token), 204)
        self.join(v.token, room)
        msgs = "/api/v1/rooms/%s/messages" % room
        e2ee = self.sealed(u.username + ":dev1", v.username + ":dev9")
        for bad in ({"body": "plain words"}, {"body": "x", "e2ee": e2ee}, {"e2ee": "not an object"},
                    {"e2ee": {k: w for k, w in e2ee.items() if k != "ciphertexts"}},
                    {"e2ee": dict(e2ee, alg=7)}, {"e2ee": dict(e2ee, ciphertexts={"a:b": 1})}):
            with self.subTest(body=repr(bad)[:60]):
                self.assert_error(self.api("POST", msgs, dict(bad, client_msg_id=unique("c")), token=u.token),
                                  400, "invalid_request")
        self.assert_error(self.api("POST", msgs, {"e2ee": dict(e2ee, payload="x" * 49152),
                                                  "client_msg_id": unique("c")}, token=u.token), 413, "too_large")
        self.assertEqual(self.all_messages(v.token, room), [], "a refused send was stored")
        ws_v = self.connect(v.token)
        ws_u = self.connect(u.token)
        err = ws_u.error("send", room=room, body="plain words", client_msg_id=unique("c"))
        self.assertEqual(err["code"], "invalid_request", err)
        sent = self.assert_status(self.api("POST", msgs, {"e2ee": e2ee, "client_msg_id": unique("c")},
                                           token=u.token), 201)["message"]
        self.assertEqual(sent["e2ee"], e2ee)
        self.assertNotIn("body", sent)
        ack = ws_u.ok("send", room=room, e2ee=e2ee, client_msg_id=unique("c"))
        self.assertEqual(ack["seq"], 2)
        for seq in (1, 2):
            ev = ws_v.wait_event("message", lambda d, seq=seq: d.get("room") == room and d.get("seq") == seq)
            self.assertEqual(ev["e2ee"], e2ee)
            self.assertNotIn("body", ev)
        history = self.all_messages(v.token, room)
        self.assertEqual([m["seq"] for m in history], [1, 2])
        for m in history:
            self.assertEqual(m["e2ee"], e2ee)
            self.assertNotIn("body", m)

    def test_plain_room_refuses_e2ee(self):
        u = self.new_user()
        room = self.create_room(u.token, name="open")["id"]
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % room,
                                   {"e2ee": self.sealed(u.username + ":d"), "client_msg_id": unique("c")},
                                   token=u.token), 400, "invalid_request")
        self.assertEqual(self.all_messages(u.token, room), [])

    def test_encrypted_dm_notification_has_no_preview(self):
        a, b = self.new_user(), self.new_user()
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username, "encrypted": True},
                                         token=a.token), 200)["room"]["id"]
        ws_b = self.connect(b.token)
        poll(lambda: self.assert_status(self.api("GET", "/api/v1/users/%s" % b.username, token=a.token),
                                        200)["presence"]["status"] != "offline", "b shows online")
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/messages" % dm,
                                    {"e2ee": self.sealed(b.username + ":d"), "client_msg_id": unique("c")},
                                    token=a.token), 201)
        n = ws_b.wait_event("notification", lambda d: d.get("room") == dm)
        self.assertEqual((n["seq"], n["from"], n["reason"]), (1, a.username, "dm"))
        self.assertNotIn("preview", n)


class DirectRoomTest(ConfabTestCase):

    def test_dm_is_one_room_from_both_sides(self):
        a = self.new_user()
        b = self.new_user()
        r1 = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token), 200)["room"]
        r2 = self.assert_status(self.api("POST", "/api/v1/dm", {"username": a.username}, token=b.token), 200)["room"]
        r3 = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token), 200)["room"]
        self.assertEqual(r1["id"], r2["id"])
        self.assertEqual(r1["id"], r3["id"])
        self.assertEqual(r1["kind"], "dm")
        self.assertRegex(r1["id"], DM_ID_RE)
        expected = "d_" + hashlib.sha256(":".join(sorted([a.id, b.id])).encode()).hexdigest()[:16]
        self.assertEqual(r1["id"], expected)
        self.assertIn(r1["id"], self.my_rooms(a.token))
        self.assertIn(r1["id"], self.my_rooms(b.token))
        self.assertEqual(self.my_rooms(a.token)[r1["id"]]["kind"], "dm")
        self.assertEqual(set(self.members(a.token, r1["id"])), {a.username, b.username})
        m = self.post(a.token, r1["id"], "psst")
        self.assertEqual(m["seq"], 1)
        self.assertEqual([x["body"] for x in self.all_messages(b.token, r1["id"])], ["psst"])
        self.assertEqual(self.my_rooms(b.token)[r1["id"]]["unread"], 1)

    def test_dm_is_closed_to_others(self):
        a = self.new_user()
        b = self.new_user()
        c = self.new_user()
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token), 200)["room"]
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/join" % dm["id"], token=c.token), 403, "forbidden")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % dm["id"], {"body": "hi"},
                                   token=c.token), 403, "forbidden")
        self.assert_error(self.api("GET", "/api/v1/rooms/%s/messages" % dm["id"], token=c.token),
                          403, "forbidden")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/invite" % dm["id"], {"username": c.username},
                                   token=a.token), 403, "forbidden")
        self.assertEqual(set(self.members(a.token, dm["id"])), {a.username, b.username})

    def test_dm_leave_refused(self):
        a = self.new_user()
        b = self.new_user()
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token), 200)["room"]
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/leave" % dm["id"], token=a.token), 403, "forbidden")
        self.assertEqual(set(self.members(b.token, dm["id"])), {a.username, b.username})
        self.assertIn(dm["id"], self.my_rooms(a.token))

    def test_dm_bad_requests(self):
        a = self.new_user()
        self.assert_error(self.api("POST", "/api/v1/dm", {"username": unique("ghost")}, token=a.token),
                          404, "not_found")
        for body in ({}, {"username": 3}):
            self.assert_error(self.api("POST", "/api/v1/dm", body, token=a.token), 400, "invalid_request")


class MessagesHttpTest(ConfabTestCase):

    def test_send_returns_201_message(self):
        a = self.new_user()
        room = self.create_room(a.token)
        before = now_ms()
        resp = self.api("POST", "/api/v1/rooms/%s/messages" % room["id"],
                        {"body": "hello", "client_msg_id": "c-1"}, token=a.token)
        m = self.assert_status(resp, 201)["message"]
        self.assert_message_shape(m)
        self.assertEqual(m["room"], room["id"])
        self.assertEqual(m["seq"], 1)
        self.assertEqual(m["from"], a.username)
        self.assertEqual(m["body"], "hello")
        self.assertEqual(m["client_msg_id"], "c-1")
        self.assertGreaterEqual(m["ts"], before - 5000)
        self.assertLessEqual(m["ts"], now_ms() + 5000)
        m2 = self.post(a.token, room["id"], "again")
        self.assertEqual(m2["seq"], 2)
        self.assertNotEqual(m2["msg_id"], m["msg_id"])
        self.assertGreaterEqual(m2["ts"], m["ts"])
        hist = self.history(a.token, room["id"])
        self.assertEqual(hist["messages"], [m, m2])
        self.assertIs(hist["has_more"], False)

    def test_send_with_same_client_msg_id_is_deduplicated(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        self.join(b.token, room["id"])
        first = self.post(a.token, room["id"], "once", client_msg_id="dup-1")
        st, _, body = self.api("POST", "/api/v1/rooms/%s/messages" % room["id"],
                               {"body": "once", "client_msg_id": "dup-1"}, token=a.token)
        self.assertIn(st, (200, 201), body)
        self.assertEqual(body["message"]["seq"], first["seq"])
        self.assertEqual(body["message"]["msg_id"], first["msg_id"])
        # another user may use the same client_msg_id
        other = self.post(b.token, room["id"], "mine", client_msg_id="dup-1")
        self.assertEqual(other["seq"], 2)
        self.assertEqual([m["seq"] for m in self.all_messages(a.token, room["id"])], [1, 2])

    def test_non_member_and_unknown_room(self):
        a = self.new_user()
        b = self.new_user()
        pub = self.create_room(a.token, "public")
        priv = self.create_room(a.token, "private")
        self.post(a.token, pub["id"], "members only")
        for room in (pub, priv):
            with self.subTest(visibility=room["visibility"]):
                self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % room["id"],
                                           {"body": "intruder"}, token=b.token), 403, "forbidden")
                self.assert_error(self.api("GET", "/api/v1/rooms/%s/messages" % room["id"], token=b.token),
                                  403, "forbidden")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % MISSING_ROOM, {"body": "x"},
                                   token=a.token), 404, "not_found")
        self.assert_error(self.api("GET", "/api/v1/rooms/%s/messages" % MISSING_ROOM, token=a.token),
                          404, "not_found")
        self.assertEqual([m["body"] for m in self.all_messages(a.token, pub["id"])], ["members only"])
        self.assertEqual(self.all_messages(a.token, priv["id"]), [])

    def test_send_validation(self):
        a = self.new_user()
        room = self.create_room(a.token)
        path = "/api/v1/rooms/%s/messages" % room["id"]
        for body in ({}, {"body": ""}, {"body": 5}, {"body": None}, {"body": ["x"]},
                     {"body": "x", "client_msg_id": 5}, {"body": "x", "client_msg_id": ""},
                     {"body": "x", "client_msg_id": "c" * 129}, {"body": "x", "reply_to": "one"},
                     {"body": "x", "reply_to": 99}):
            with self.subTest(body=repr(body)[:60]):
                self.assert_error(self.api("POST", path, body, token=a.token), 400, "invalid_request")
        self.assert_error(self.api("POST", path, {"body": "a" * 8001}, token=a.token), 413, "too_large")
        self.assert_error(self.api("POST", path, {"body": "\U0001F600" * 8001}, token=a.token),
                          413, "too_large")
        for raw in ("{", "[]", "\"body\""):
            self.assert_error(self.api("POST", path, raw_body=raw, token=a.token), 400, "invalid_request")
        self.assertEqual(self.all_messages(a.token, room["id"]), [], "a refused send stored something")
        m = self.post(a.token, room["id"], "\U0001F600" * 8000)
        self.assertEqual(m["body"], "\U0001F600" * 8000)
        self.assertEqual(m["seq"], 1)
        m = self.post(a.token, room["id"], "x", client_msg_id="c" * 128)
        self.assertEqual(m["client_msg_id"], "c" * 128)

    def test_reply_to(self):
        a = self.new_user()
        room = self.create_room(a.token)
        first = self.post(a.token, room["id"], "question")
        reply = self.post(a.token, room["id"], "answer", reply_to=first["seq"])
        self.assertEqual(reply["reply_to"], 1)
        hist = self.all_messages(a.token, room["id"])
        self.assertEqual(hist[1]["reply_to"], 1)
        self.assertNotIn("reply_to", hist[0])

    def test_history_default_limit_is_50(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        self.join(b.token, room["id"])
        # two senders: HTTP posting is rate-limited per user (bursts of 50)
        for i in range(55):
            self.post((a, b)[i % 2].token, room["id"], "n%d" % (i + 1))
        hist = self.history(a.token, room["id"])
        self.assertEqual([m["seq"] for m in hist["messages"]], list(range(6, 56)))
        self.assertIs(hist["has_more"], True)
        self.assertEqual(hist["messages"][0]["body"], "n6")
        older = self.history(a.token, room["id"], before=6)
        self.assertEqual([m["seq"] for m in older["messages"]], [1, 2, 3, 4, 5])
        self.assertIs(older["has_more"], False)

    def test_history_semantics(self):
        a = self.new_user()
        room = self.create_room(a.token)
        seed_ten(self, a.token, room["id"])
        for params, seqs, more in HISTORY_CASES:
            with self.subTest(params=params):
                hist = self.history(a.token, room["id"], **params)
                self.assertEqual([m["seq"] for m in hist["messages"]], seqs)
                self.assertEqual([m["body"] for m in hist["messages"]], ["m%d" % s for s in seqs])
                self.assertIs(hist["has_more"], more)

    def test_history_limit_bounds(self):
        a = self.new_user()
        room = self.create_room(a.token)
        seed_ten(self, a.token, room["id"])
        path = "/api/v1/rooms/%s/messages" % room["id"]
        for q in ("limit=0", "limit=201", "limit=-1", "limit=abc", "before=x", "after=1.5"):
            with self.subTest(query=q):
                self.assert_error(self.api("GET", path + "?" + q, token=a.token), 400, "invalid_request")
        self.assertEqual(len(self.history(a.token, room["id"], limit=200)["messages"]), 10)
        self.assertEqual(len(self.history(a.token, room["id"], limit=1)["messages"]), 1)

    def test_empty_room_history(self):
        a = self.new_user()
        room = self.create_room(a.token)
        hist = self.history(a.token, room["id"])
        self.assertEqual(hist["messages"], [])
        self.assertIs(hist["has_more"], False)

    def test_members_see_same_order(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)
        self.join(b.token, room["id"])
        for i in range(6):
            self.post((a, b)[i % 2].token, room["id"], "t%d" % i, client_msg_id=uuid.uuid4().hex)
        ha = self.all_messages(a.token, room["id"])
        hb = self.all_messages(b.token, room["id"])
        self.assertEqual(ha, hb)
        self.assertEqual([m["seq"] for m in ha], [1, 2, 3, 4, 5, 6])
        self.assertEqual([m["from"] for m in ha], [a.username, b.username] * 3)


class HttpSendRateLimitTest(ConfabTestCase):
    server_args = ("--rate-per-s", "5", "--rate-burst", "5")

    def test_http_posts_are_rate_limited_per_user(self):
        a = self.new_user()
        b = self.new_user()
        room = self.create_room(a.token)["id"]
        self.join(b.token, room)
        path = "/api/v1/rooms/%s/messages" % room
        statuses = []
        limited = None
        for i in range(15):
            resp = self.api("POST", path, {"body": "burst %d" % i, "client_msg_id": "rl-%d" % i}, token=a.token)
            statuses.append(resp[0])
            if resp[0] == 429:
                limited = resp
        self.assertEqual(statuses[:5], [201] * 5, statuses)
        self.assertIsNotNone(limited, "15 posts at once with a burst of 5 were all accepted: %s" % statuses)
        self.assertTrue(all(st in (201, 429) for st in statuses), statuses)
        err = self.assert_error(limited, 429, "rate_limited")
        self.assertIsInstance(err.get("retry_after_ms"), int, err)
        self.assertGreater(err["retry_after_ms"], 0)
        self.assertLessEqual(err["retry_after_ms"], 1000)
        self.assertIn("retry-after", limited[1])
        stored = self.all_messages(a.token, room)
        self.assertEqual(len(stored), statuses.count(201), "a rate-limited post was stored")
        self.assertEqual([m["seq"] for m in stored], list(range(1, len(stored) + 1)))
        # per user: another member posts at once
        self.post(b.token, room, "not limited")

    def test_history_reads_are_not_posts(self):
        a = self.new_user()
        room = self.create_room(a.token)["id"]
        self.post(a.token, room, "one")
        for _ in range(8):
            self.history(a.token, room)


if __name__ == "__main__":
    main()
