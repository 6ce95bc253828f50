#!/usr/bin/python3
"""Durability: an acknowledged message survives SIGKILL; seqs continue without
a gap after restart; client_msg_id deduplication survives restart; everything
else (accounts, tokens, rooms, members, revocations) survives a restart."""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ConfabTestCase, RestartCase, ack_fields, main  # noqa: E402


class DurabilityTest(RestartCase, ConfabTestCase):

    def test_acked_messages_survive_sigkill(self):
        s1 = self.start()
        a = self.new_user(server=s1)
        b = self.new_user(server=s1)
        rid = self.create_room(a.token, server=s1)["id"]
        self.join(b.token, rid, server=s1)
        ws = self.connect(a.token, server=s1)
        first = ws.ok("send", room=rid, body="before the crash", client_msg_id="dur-1")
        self.assertEqual(first["seq"], 1)
        ack = ws.ok("send", room=rid, body="acked then killed \U0001F4A5", client_msg_id="dur-2")
        s1.kill9()
        self.assertEqual(ack["seq"], 2)

        s2 = self.start()
        msgs = self.all_messages(a.token, rid, server=s2)
        self.assertEqual([m["seq"] for m in msgs], [1, 2])
        last = msgs[-1]
        self.assertEqual((last["seq"], last["msg_id"], last["ts"], last["body"], last["from"],
                          last["client_msg_id"]),
                         (ack["seq"], ack["msg_id"], ack["ts"], "acked then killed \U0001F4A5", a.username, "dur-2"))
        wa = self.connect(a.token, server=s2)
        wb = self.connect(b.token, server=s2)
        # a retry of the acked message after the restart is still deduplicated
        retry = wa.ok("send", room=rid, body="acked then killed \U0001F4A5", client_msg_id="dur-2")
        self.assertEqual(ack_fields(retry), ack_fields(ack))
        # the next message continues the sequence without a gap
        nxt = wa.ok("send", room=rid, body="after restart", client_msg_id="dur-3")
        self.assertEqual(nxt["seq"], 3)
        wb.wait_event("message", lambda d: d["room"] == rid and d["seq"] == 3)
        self.assertEqual(wb.events("message", lambda d: d["seq"] == 2), [],
                         "the deduplicated retry produced a message event")
        self.assertEqual([m["seq"] for m in self.all_messages(b.token, rid, server=s2)], [1, 2, 3])
        s2.stop()

    def test_pipelined_acks_survive_sigkill(self):
        s1 = self.start()
        a = self.new_user(server=s1)
        rid = self.create_room(a.token, server=s1)["id"]
        ws = self.connect(a.token, server=s1)
        ids = {}
        for i in range(30):
            req = ws.new_id()
            ids[req] = "p-%d" % i
            ws.send_obj({"op": "send", "id": req, "room": rid, "body": "pipelined %d" % i,
                         "client_msg_id": ids[req]})
        tenth = list(ids)[9]
        r10 = ws.wait_reply(tenth)
        s1.kill9()
        self.assertEqual(r10["op"], "ok", r10)
        acks = {ids[tenth]: r10["data"]}
        # collect every other ack the server managed to send before it died
        try:
            ws.expect_close(timeout=5)
        except AssertionError:
            pass
        for req, c in ids.items():
            for r in ws.replies.get(("int", str(req)), []):
                if r["op"] == "ok":
                    acks[c] = r["data"]
        self.assertGreaterEqual(len(acks), 10)

        s2 = self.start()
        msgs = self.all_messages(a.token, rid, server=s2)
        seqs = [m["seq"] for m in msgs]
        self.assertEqual(seqs, list(range(1, len(msgs) + 1)), "history has a gap after the crash")
        by_cmid = {m["client_msg_id"]: m for m in msgs}
        for c, ack in acks.items():
            self.assertIn(c, by_cmid, "acknowledged message %s lost in the crash" % c)
            self.assertEqual((by_cmid[c]["seq"], by_cmid[c]["msg_id"], by_cmid[c]["ts"]),
                             (ack["seq"], ack["msg_id"], ack["ts"]))
        wa = self.connect(a.token, server=s2)
        nxt = wa.ok("send", room=rid, body="next", client_msg_id="after")
        self.assertEqual(nxt["seq"], len(msgs) + 1)
        s2.stop()

    def test_state_survives_graceful_restart(self):
        s1 = self.start()
        a = self.new_user(server=s1)
        b = self.new_user(server=s1)
        c = self.new_user(server=s1)
        pub = self.create_room(a.token, "public", name="pub-room", server=s1)["id"]
        priv = self.create_room(a.token, "private", name="priv-room", server=s1)["id"]
        self.join(b.token, pub, server=s1)
        self.invite(a.token, priv, c.username, server=s1)
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token,
                                         server=s1), 200)["room"]["id"]
        self.post(a.token, pub, "public hello", server=s1)
        self.post(b.token, dm, "dm hello", server=s1)
        self.assert_status(self.api("PATCH", "/api/v1/me", {"display_name": "Persisted", "status_text": "zzz"},
                                    token=a.token, server=s1), 200)
        new_pw = "pw-" + uuid.uuid4().hex[:10]
        self.assert_status(self.api("POST", "/api/v1/me/password",
                                    {"old_password": b.password, "new_password": new_pw},
                                    token=b.token, server=s1), 204)
        dead = self.login(c.username, c.password, server=s1)["token"]
        self.assert_status(self.api("POST", "/api/v1/logout", token=dead, server=s1), 204)
        self.assertEqual(s1.terminate(), 0, s1.stderr_text()[-2000:])

        s2 = self.start()
        # tokens issued before the restart still work; the revoked one does not
        me = self.assert_status(self.api("GET", "/api/v1/me", token=a.token, server=s2), 200)["user"]
        self.assertEqual((me["display_name"], me["status_text"]), ("Persisted", "zzz"))
        self.assert_error(self.api("GET", "/api/v1/me", token=dead, server=s2), 401, "unauthorized")
        self.assert_status(self.api("GET", "/api/v1/me", token=c.token, server=s2), 200)
        # passwords
        self.login(b.username, new_pw, server=s2)
        self.assert_error(self.api("POST", "/api/v1/login", {"username": b.username, "password": b.password},
                                   server=s2), 401, "invalid_credentials")
        self.assert_error(self.api("POST", "/api/v1/register",
                                   {"username": a.username, "password": "12345678"}, server=s2),
                          409, "username_taken")
        # rooms, membership, roles, directory, invitations
        mine = self.my_rooms(a.token, server=s2)
        self.assertEqual(set(mine), {pub, priv, dm})
        self.assertEqual(mine[pub]["last_seq"], 1)
        self.assertEqual(mine[dm]["kind"], "dm")
        members = self.members(a.token, pub, server=s2)
        self.assertEqual({k: v["role"] for k, v in members.items()}, {a.username: "owner", b.username: "member"})
        directory = {r["id"] for r in self.assert_status(
            self.api("GET", "/api/v1/rooms/public", token=b.token, server=s2), 200)["rooms"]}
        self.assertIn(pub, directory)
        self.assertNotIn(priv, directory)
        self.join(c.token, priv, server=s2)
        again = self.assert_status(self.api("POST", "/api/v1/dm", {"username": a.username}, token=b.token,
                                            server=s2), 200)["room"]["id"]
        self.assertEqual(again, dm)
        self.assertEqual([m["body"] for m in self.all_messages(a.token, dm, server=s2)], ["dm hello"])
        self.assertEqual(self.post(a.token, pub, "second", server=s2)["seq"], 2)
        s2.stop()


if __name__ == "__main__":
    main()
