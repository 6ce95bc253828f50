#!/usr/bin/python3
"""Edits, deletes and reactions (PROTOCOL.md section 8) through a real
server, over the WebSocket (`edit`, `delete`, `react`) and HTTP (PATCH and
DELETE /rooms/{room}/messages/{seq}, PUT and DELETE .../reactions/{emoji}):
who may, what every member's sessions get
(`message_update`, once), what history returns after each change, a deleted
message's body, file and e2ee gone (its file 404), unread counts untouched,
encrypted rooms editing with a new e2ee object, bad requests refused with
nothing changed, and the changes durable across a restart. Threads: `send`
with `thread`, the root's thread_summary through replies, edits and
deletes of replies, GET /rooms/{room}/threads/{seq} paging."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ConfabTestCase, RestartCase, main, unique  # noqa: E402
from harness import e2ee  # noqa: E402


def path(rid, seq):
    return "/api/v1/rooms/%s/messages/%s" % (rid, seq)


def thread_path(rid, seq, query=""):
    return "/api/v1/rooms/%s/threads/%s%s" % (rid, seq, query)


class EditBase(ConfabTestCase):

    def room_of_two(self):
        a, b = self.new_user(), self.new_user()
        rid = self.create_room(a.token, name="edits")["id"]
        self.join(b.token, rid)
        return a, b, rid

    def message(self, token, rid, seq):
        return [m for m in self.all_messages(token, rid) if m["seq"] == seq][0]


class EditTest(EditBase):

    def test_the_sender_edits_and_every_session_hears_it_once(self):
        a, b, rid = self.room_of_two()
        a_ws, a_other, b_ws = self.connect(a.token), self.connect(a.token), self.connect(b.token)
        sent = a_ws.ok("send", room=rid, body="helo wrold", client_msg_id=unique("c"))
        self.post(a.token, rid, "second")
        ok = a_ws.ok("edit", room=rid, seq=sent["seq"], body="hello world")
        self.assertEqual((ok["room"], ok["seq"]), (rid, sent["seq"]))
        self.assertIsInstance(ok["edited_at"], int)
        for ws in (a_ws, a_other, b_ws):
            ev = ws.wait_event("message_update", lambda m: m["seq"] == sent["seq"])
            self.assertEqual((ev["body"], ev["msg_id"], ev["from"], ev["edited_at"]),
                             ("hello world", sent["msg_id"], a.username, ok["edited_at"]))
        m = self.message(b.token, rid, sent["seq"])
        self.assertEqual((m["body"], m["edited_at"], m["ts"]), ("hello world", ok["edited_at"], sent["ts"]))
        # over HTTP, the whole message back
        r = self.assert_status(self.api("PATCH", path(rid, sent["seq"]), {"body": "hello, world"}, token=a.token),
                               200)["message"]
        self.assertEqual((r["seq"], r["body"]), (sent["seq"], "hello, world"))
        self.assertGreaterEqual(r["edited_at"], ok["edited_at"])
        for ws in (a_other, b_ws):
            ws.wait_event("message_update", lambda m: m["body"] == "hello, world")
        # the order and the count of messages did not change
        self.assertEqual([x["body"] for x in self.all_messages(b.token, rid)], ["hello, world", "second"])
        a_ws.ok("ping")
        self.assertEqual(len(a_other.events("message_update")), 2, "each change is pushed once")

    def test_who_may_edit_and_bad_edits_change_nothing(self):
        a, b, rid = self.room_of_two()
        c = self.new_user()
        seq = self.post(a.token, rid, "original")["seq"]
        ws = self.connect(b.token)
        self.assertEqual(ws.error("edit", room=rid, seq=seq, body="mine now")["code"], "forbidden")
        self.assert_error(self.api("PATCH", path(rid, seq), {"body": "x"}, token=b.token), 403, "forbidden")
        self.assert_error(self.api("PATCH", path(rid, seq), {"body": "x"}, token=c.token), 403)
        self.assertEqual(self.connect(c.token).error("edit", room=rid, seq=seq, body="x")["code"], "not_member")
        self.assert_error(self.api("PATCH", path(rid, seq), {"body": "x"}), 401, "unauthorized")
        self.assert_error(self.api("PATCH", path(rid, 99), {"body": "x"}, token=a.token), 404, "not_found")
        self.assert_error(self.api("PATCH", path("r_0000000000000000", 1), {"body": "x"}, token=a.token), 404)
        for bad in ({}, {"body": ""}, {"body": 5}, {"body": "x", "e2ee": {"alg": "a"}}, {"e2ee": {"alg": "a"}}):
            with self.subTest(body=bad):
                self.assert_error(self.api("PATCH", path(rid, seq), bad, token=a.token), 400, "invalid_request")
        for s in ("0", "x", "-1", "01", "1.5", "99999999999999999999"):
            with self.subTest(seq=s):
                self.assert_error(self.api("PATCH", path(rid, s), {"body": "x"}, token=a.token), 400, "invalid_request")
        self.assert_error(self.api("PATCH", path(rid, seq), {"body": "y" * 8001}, token=a.token), 413, "too_large")
        mine = self.connect(a.token)
        for fields in ({"seq": seq}, {"seq": 0, "body": "x"}, {"seq": "1", "body": "x"}, {"body": "x"}):
            with self.subTest(ws=fields):
                self.assertEqual(mine.error("edit", room=rid, **fields)["code"], "invalid_request")
        # a plain room takes no e2ee edit
        sealed = e2ee.encrypt(e2ee.Device(a.username), rid, "c1", "x", {})
        sealed["ciphertexts"] = {"%s:d" % a.username: "AAAA"}
        self.assert_error(self.api("PATCH", path(rid, seq), {"e2ee": sealed}, token=a.token), 400, "invalid_request")
        m = self.message(a.token, rid, seq)
        self.assertEqual(m["body"], "original")
        self.assertNotIn("edited_at", m)
        self.assertEqual(ws.events("message_update"), [])
        self.assert_healthy()

    def test_edits_and_deletes_do_not_change_unread_counts(self):
        a, b, rid = self.room_of_two()
        seqs = [self.post(a.token, rid, "m%d" % i)["seq"] for i in range(3)]

        def unread():
            rooms = self.assert_status(self.api("GET", "/api/v1/rooms", token=b.token), 200)["rooms"]
            return [r["unread"] for r in rooms if r["id"] == rid][0]
        self.assertEqual(unread(), 3)
        self.assert_status(self.api("PATCH", path(rid, seqs[0]), {"body": "changed"}, token=a.token), 200)
        self.assert_status(self.api("DELETE", path(rid, seqs[1]), token=a.token), 204)
        self.assertEqual(unread(), 3)


class DeleteTest(EditBase):

    def test_delete_removes_body_and_file_everywhere(self):
        a, b, rid = self.room_of_two()
        b_ws = self.connect(b.token)
        status, _, up = self.api("POST", "/api/v1/rooms/%s/files" % rid, raw_body=b"attached bytes",
                                 headers={"Content-Type": "text/plain", "X-Filename": "notes.txt"}, token=a.token)
        self.assertEqual(status, 201, up)
        fid = up["file"]["id"]
        m = self.post(a.token, rid, "see the notes", file_id=fid)
        self.assert_status(self.api("GET", "/api/v1/files/%s/info" % fid, token=b.token), 200)
        ok = self.connect(a.token).ok("delete", room=rid, seq=m["seq"])
        self.assertEqual(ok, {"room": rid, "seq": m["seq"]})
        ev = b_ws.wait_event("message_update", lambda x: x["seq"] == m["seq"])
        for shown in (ev, self.message(b.token, rid, m["seq"])):
            self.assertTrue(shown["deleted"])
            for gone in ("body", "file", "e2ee"):
                self.assertNotIn(gone, shown)
            self.assertEqual((shown["msg_id"], shown["from"]), (m["msg_id"], a.username))
        for suffix in ("", "/info"):
            self.assert_error(self.api("GET", "/api/v1/files/%s%s" % (fid, suffix), token=a.token), 404, "not_found")
        # a deleted message cannot be edited; deleting it again changes nothing
        self.assert_error(self.api("PATCH", path(rid, m["seq"]), {"body": "back"}, token=a.token), 400,
                          "invalid_request")
        self.assert_status(self.api("DELETE", path(rid, m["seq"]), token=a.token), 204)
        b_ws.ok("ping")
        self.assertEqual(len(b_ws.events("message_update")), 1)
        self.assertTrue(self.message(a.token, rid, m["seq"])["deleted"])

    def test_sender_or_owner_only(self):
        a, b, rid = self.room_of_two()  # a owns the room
        c = self.new_user()
        self.join(c.token, rid)
        by_b = self.post(b.token, rid, "from b")["seq"]
        by_a = self.post(a.token, rid, "from a")["seq"]
        self.assert_error(self.api("DELETE", path(rid, by_b), token=c.token), 403, "forbidden")
        self.assert_error(self.api("DELETE", path(rid, by_a), token=b.token), 403, "forbidden")
        self.assert_status(self.api("DELETE", path(rid, by_b), token=a.token), 204)  # the owner
        self.assert_status(self.api("DELETE", path(rid, by_a), token=a.token), 204)  # the sender
        self.assertEqual([m.get("deleted") for m in self.all_messages(c.token, rid)], [True, True])
        self.assert_error(self.api("DELETE", path(rid, 3), token=a.token), 404, "not_found")


class ReactionTest(EditBase):

    def reactions(self, token, rid, seq):
        return self.message(token, rid, seq).get("reactions")

    def test_react_is_idempotent_and_pushed_once_per_change(self):
        a, b, rid = self.room_of_two()
        seq = self.post(a.token, rid, "react to me")["seq"]
        a_ws, b_ws = self.connect(a.token), self.connect(b.token)
        self.assertEqual(b_ws.ok("react", room=rid, seq=seq, emoji="\U0001F44D", active=True), {"room": rid, "seq": seq})
        b_ws.ok("react", room=rid, seq=seq, emoji="\U0001F44D", active=True)  # twice: nothing changes
        a_ws.ok("react", room=rid, seq=seq, emoji="\U0001F44D", active=True)
        self.assert_status(self.api("PUT", "/api/v1/rooms/%s/messages/%d/reactions/%s" % (rid, seq, "%2B1"),
                                    token=a.token), 204)
        want = [{"emoji": "\U0001F44D", "count": 2, "users": [b.username, a.username]},
                {"emoji": "+1", "count": 1, "users": [a.username]}]
        self.assertEqual(self.reactions(b.token, rid, seq), want)
        ev = b_ws.wait_event("message_update", lambda m: len(m.get("reactions", [])) == 2)
        self.assertEqual(ev["reactions"], want)
        b_ws.ok("ping")
        self.assertEqual(len(b_ws.events("message_update")), 3, "the repeated reaction was pushed")
        # removing: twice changes nothing; the last user takes the emoji away
        for _ in range(2):
            b_ws.ok("react", room=rid, seq=seq, emoji="\U0001F44D", active=False)
        self.assert_status(self.api("DELETE", "/api/v1/rooms/%s/messages/%d/reactions/%s" % (rid, seq, "%2B1"),
                                    token=a.token), 204)
        self.assertEqual(self.reactions(a.token, rid, seq), [{"emoji": "\U0001F44D", "count": 1,
                                                              "users": [a.username]}])
        a_ws.ok("react", room=rid, seq=seq, emoji="\U0001F44D", active=False)
        self.assertIsNone(self.reactions(a.token, rid, seq))

    def test_at_most_20_names_but_every_reaction_counted(self):
        a, _, rid = self.room_of_two()
        seq = self.post(a.token, rid, "popular")["seq"]
        users = [self.new_user() for _ in range(22)]
        for u in users:
            self.join(u.token, rid)
            self.assert_status(self.api("PUT", "/api/v1/rooms/%s/messages/%d/reactions/%s" % (rid, seq, "%F0%9F%8E%89"),
                                        token=u.token), 204)
        r = self.reactions(a.token, rid, seq)
        self.assertEqual(r[0]["count"], 22)
        self.assertEqual(r[0]["users"], [u.username for u in users[:20]])
        # the 21st can still take theirs back: the server keeps them all
        self.assert_status(self.api("DELETE", "/api/v1/rooms/%s/messages/%d/reactions/%s" % (rid, seq, "%F0%9F%8E%89"),
                                    token=users[20].token), 204)
        self.assertEqual(self.reactions(a.token, rid, seq)[0]["count"], 21)

    def test_bad_reactions_change_nothing(self):
        a, b, rid = self.room_of_two()
        c = self.new_user()
        seq = self.post(a.token, rid, "x")["seq"]
        ws = self.connect(b.token)
        for fields in ({"emoji": "", "active": True}, {"emoji": "x" * 33, "active": True}, {"emoji": 5, "active": True},
                       {"emoji": "y", "active": "yes"}, {"emoji": "y"}, {"active": True}):
            with self.subTest(fields=fields):
                self.assertEqual(ws.error("react", room=rid, seq=seq, **fields)["code"], "invalid_request")
        self.assertEqual(ws.error("react", room=rid, seq=99, emoji="y", active=True)["code"], "not_found")
        self.assertEqual(self.connect(c.token).error("react", room=rid, seq=seq, emoji="y", active=True)["code"],
                         "not_member")
        self.assert_error(self.api("PUT", "/api/v1/rooms/%s/messages/%d/reactions/%s" % (rid, seq, "%FF"),
                                   token=b.token), 400, "invalid_request")
        self.assert_status(self.api("DELETE", path(rid, seq), token=a.token), 204)
        self.assertEqual(ws.error("react", room=rid, seq=seq, emoji="y", active=True)["code"], "invalid_request")
        self.assertIsNone(self.reactions(a.token, rid, seq))
        self.assert_healthy()


class EncryptedEditTest(EditBase):

    def test_an_encrypted_room_edits_with_a_new_e2ee_object(self):
        a, b = self.new_user(), self.new_user()
        dev_a, dev_b = e2ee.Device(a.username), e2ee.Device(b.username)
        room = self.assert_status(self.api("POST", "/api/v1/dm", {"username": b.username, "encrypted": True},
                                           token=a.token), 200)["room"]["id"]
        recipients = {dev_a.key_id: dev_a.identity_public(), dev_b.key_id: dev_b.identity_public()}
        cmid = unique("c")
        sent = self.assert_status(self.api("POST", "/api/v1/rooms/%s/messages" % room,
                                           {"e2ee": e2ee.encrypt(dev_a, room, cmid, "first", recipients),
                                            "client_msg_id": cmid}, token=a.token), 201)["message"]
        self.assert_error(self.api("PATCH", path(room, sent["seq"]), {"body": "in the clear"}, token=a.token),
                          400, "invalid_request")
        edited = self.assert_status(self.api(
            "PATCH", path(room, sent["seq"]), {"e2ee": e2ee.encrypt(dev_a, room, cmid, "second", recipients)},
            token=a.token), 200)["message"]
        self.assertNotIn("body", edited)
        got = self.message(b.token, room, sent["seq"])
        self.assertIn("edited_at", got)
        self.assertEqual(e2ee.decrypt(dev_b, got, dev_a.signing_public())["body"], "second")
        self.assert_status(self.api("DELETE", path(room, sent["seq"]), token=b.token), 403)
        self.assert_status(self.api("DELETE", path(room, sent["seq"]), token=a.token), 204)
        self.assertNotIn("e2ee", self.message(b.token, room, sent["seq"]))


class ThreadTest(EditBase):

    def thread(self, token, rid, seq, query=""):
        return self.assert_status(self.api("GET", thread_path(rid, seq, query), token=token), 200)

    def test_replies_make_a_summary_and_are_pushed(self):
        a, b, rid = self.room_of_two()
        a_ws, b_ws = self.connect(a.token), self.connect(b.token)
        root = a_ws.ok("send", room=rid, body="a question", client_msg_id=unique("c"))
        r1 = b_ws.ok("send", room=rid, body="an answer", client_msg_id=unique("c"), thread=root["seq"])
        self.assertEqual(r1["seq"], root["seq"] + 1, "a reply takes the room's next seq")
        for ws in (a_ws, b_ws):
            m = ws.wait_event("message", lambda m: m["seq"] == r1["seq"])
            self.assertEqual((m["thread"], m["body"], m["from"]), (root["seq"], "an answer", b.username))
            u = ws.wait_event("message_update", lambda m: m["seq"] == root["seq"])
            self.assertEqual(u["thread_summary"], {"replies": 1, "last_ts": r1["ts"],
                                                   "participants": [b.username]})
            self.assertNotIn("thread_replies", u)
        # a reply to a reply goes to the same root; over HTTP too
        r2 = self.post(a.token, rid, "thanks", thread=r1["seq"])
        self.assertEqual(r2["thread"], root["seq"])
        r3 = self.post(b.token, rid, "np", thread=root["seq"])
        m = self.message(b.token, rid, root["seq"])
        self.assertEqual(m["thread_summary"], {"replies": 3, "last_ts": r3["ts"],
                                               "participants": [b.username, a.username]})
        self.assertNotIn("thread_replies", m)
        # history has every message, replies in seq order with their thread
        self.assertEqual([(x["body"], x.get("thread")) for x in self.all_messages(a.token, rid)],
                         [("a question", None), ("an answer", root["seq"]), ("thanks", root["seq"]),
                          ("np", root["seq"])])
        page = self.thread(b.token, rid, root["seq"])
        self.assertEqual(page["root"]["seq"], root["seq"])
        self.assertEqual(page["root"]["thread_summary"]["replies"], 3)
        self.assertEqual([x["body"] for x in page["messages"]], ["an answer", "thanks", "np"])
        self.assertFalse(page["has_more"])
        # the page of a reply is its root's
        self.assertEqual(self.thread(a.token, rid, r2["seq"])["root"]["seq"], root["seq"])
        # a thread reply counts as unread like any message (b read nothing)
        rooms = self.assert_status(self.api("GET", "/api/v1/rooms", token=b.token), 200)["rooms"]
        self.assertEqual([r["unread"] for r in rooms if r["id"] == rid][0], 4)
        a_ws.ok("ping")
        self.assertEqual(len([u for u in a_ws.events("message_update") if u["seq"] == root["seq"]]), 3,
                         "the root is pushed once per reply")

    def test_thread_pages(self):
        a, b, rid = self.room_of_two()
        root = self.post(a.token, rid, "root")["seq"]
        replies = [self.post(b.token if i % 2 else a.token, rid, "r%d" % i, thread=root)["seq"] for i in range(7)]
        self.post(a.token, rid, "not in the thread")
        seen, after = [], None
        for _ in range(10):
            q = "?limit=3" + ("&after=%d" % after if after else "")
            page = self.thread(b.token, rid, root, q)
            seen += [x["seq"] for x in page["messages"]]
            if not page["has_more"]:
                break
            self.assertEqual(len(page["messages"]), 3)
            after = page["messages"][-1]["seq"]
        self.assertEqual(seen, replies)
        empty = self.thread(a.token, rid, replies[-1] + 1)
        self.assertEqual((empty["messages"], empty["has_more"]), ([], False))
        self.assertNotIn("thread_summary", empty["root"])
        # who may read, and bad requests
        c = self.new_user()
        self.assert_error(self.api("GET", thread_path(rid, root), token=c.token), 403)
        self.assert_error(self.api("GET", thread_path(rid, root)), 401, "unauthorized")
        self.assert_error(self.api("GET", thread_path(rid, 999), token=a.token), 404, "not_found")
        self.assert_error(self.api("GET", thread_path("r_0000000000000000", 1), token=a.token), 404)
        for q in ("?limit=0", "?limit=x", "?after=-1", "?before=3"):
            with self.subTest(query=q):
                self.assert_error(self.api("GET", thread_path(rid, root, q), token=a.token), 400, "invalid_request")
        for s in ("0", "x", "01"):
            with self.subTest(seq=s):
                self.assert_error(self.api("GET", thread_path(rid, s), token=a.token), 400, "invalid_request")
        self.assertEqual(self.api("HEAD", thread_path(rid, root), token=a.token)[0], 200)

    def test_summary_through_edits_and_deletes_of_replies(self):
        a, b, rid = self.room_of_two()
        c = self.new_user()
        self.join(c.token, rid)
        root = self.post(a.token, rid, "root")["seq"]
        r1 = self.post(b.token, rid, "one", thread=root)
        r2 = self.post(c.token, rid, "two", thread=root)
        r3 = self.post(b.token, rid, "three", thread=root)
        self.assert_status(self.api("PATCH", path(rid, r1["seq"]), {"body": "one!"}, token=b.token), 200)
        summary = self.message(a.token, rid, root)["thread_summary"]
        self.assertEqual(summary, {"replies": 3, "last_ts": r3["ts"], "participants": [b.username, c.username]})
        ws = self.connect(a.token)
        # the newest reply goes: last_ts falls back, c still takes part
        self.assert_status(self.api("DELETE", path(rid, r3["seq"]), token=b.token), 204)
        u = ws.wait_event("message_update", lambda m: m["seq"] == root)
        self.assertEqual(u["thread_summary"], {"replies": 2, "last_ts": r2["ts"],
                                               "participants": [b.username, c.username]})
        # c's only reply goes: c no longer takes part
        self.assert_status(self.api("DELETE", path(rid, r2["seq"]), token=a.token), 204)  # the owner
        self.assertEqual(self.message(b.token, rid, root)["thread_summary"],
                         {"replies": 1, "last_ts": r1["ts"], "participants": [b.username]})
        page = self.thread(c.token, rid, root)
        self.assertEqual([(x["seq"], x.get("deleted", False), x.get("body")) for x in page["messages"]],
                         [(r1["seq"], False, "one!"), (r2["seq"], True, None), (r3["seq"], True, None)])
        # the last one goes: no summary; deleting twice changes nothing
        self.assert_status(self.api("DELETE", path(rid, r1["seq"]), token=b.token), 204)
        self.assert_status(self.api("DELETE", path(rid, r1["seq"]), token=b.token), 204)
        self.assertNotIn("thread_summary", self.message(a.token, rid, root))
        # a new reply counts from what is left
        r4 = self.post(c.token, rid, "four", thread=root)
        self.assertEqual(self.message(a.token, rid, root)["thread_summary"],
                         {"replies": 1, "last_ts": r4["ts"], "participants": [c.username]})
        # reactions and an edit of the root keep its summary
        self.assert_status(self.api("PUT", path(rid, root) + "/reactions/%F0%9F%91%8D", token=b.token), 204)
        self.assert_status(self.api("PATCH", path(rid, root), {"body": "root!"}, token=a.token), 200)
        m = self.message(a.token, rid, root)
        self.assertEqual((m["body"], m["thread_summary"]["replies"], m["reactions"][0]["count"]), ("root!", 1, 1))

    def test_bad_threads_store_nothing(self):
        a, b, rid = self.room_of_two()
        root = self.post(a.token, rid, "root")["seq"]
        gone = self.post(a.token, rid, "gone")["seq"]
        self.assert_status(self.api("DELETE", path(rid, gone), token=a.token), 204)
        other = self.create_room(a.token, name="other")["id"]
        ws = self.connect(b.token)
        for bad in (99, 0, -1, "1", True, 1.5, gone):
            with self.subTest(thread=bad):
                self.assertEqual(ws.error("send", room=rid, body="x", client_msg_id=unique("c"),
                                          thread=bad)["code"], "invalid_request")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % rid, {"body": "x", "thread": 99},
                                   token=b.token), 400, "invalid_request")
        self.assertEqual(ws.error("send", room=other, body="x", client_msg_id=unique("c"),
                                  thread=1)["code"], "not_member")
        self.assertEqual(len(self.all_messages(a.token, rid)), 2)
        self.assertNotIn("thread_summary", self.message(a.token, rid, root))
        # a retried reply (same client_msg_id) is one reply
        cmid = unique("c")
        first = ws.ok("send", room=rid, body="once", client_msg_id=cmid, thread=root)
        again = ws.ok("send", room=rid, body="once", client_msg_id=cmid, thread=root)
        self.assertEqual(first["seq"], again["seq"])
        self.assertEqual(self.message(a.token, rid, root)["thread_summary"]["replies"], 1)
        self.assert_healthy()


class DurableEditTest(RestartCase, EditBase):

    def test_edits_and_deletes_survive_a_restart(self):
        self.server = self.start()
        a, b, rid = self.room_of_two()
        s1 = self.post(a.token, rid, "to edit")["seq"]
        s2 = self.post(a.token, rid, "to delete")["seq"]
        self.assert_status(self.api("PATCH", path(rid, s1), {"body": "edited"}, token=a.token), 200)
        self.assert_status(self.api("DELETE", path(rid, s2), token=a.token), 204)
        self.assertEqual(self.server.terminate(), 0)
        self.server = self.start()
        history = self.all_messages(b.token, rid)
        self.assertEqual(history[0]["body"], "edited")
        self.assertTrue(history[1]["deleted"])
        self.assertNotIn("body", history[1])

    def test_threads_survive_a_restart(self):
        self.server = self.start()
        a, b, rid = self.room_of_two()
        root = self.post(a.token, rid, "root")["seq"]
        r = [self.post(b.token, rid, "r%d" % i, thread=root)["seq"] for i in range(3)]
        self.assert_status(self.api("DELETE", path(rid, r[2]), token=b.token), 204)
        self.assertEqual(self.server.terminate(), 0)
        self.server = self.start()
        page = self.assert_status(self.api("GET", thread_path(rid, root), token=a.token), 200)
        self.assertEqual(page["root"]["thread_summary"]["replies"], 2)
        self.assertEqual([x["seq"] for x in page["messages"]], r)


if __name__ == "__main__":
    main()
