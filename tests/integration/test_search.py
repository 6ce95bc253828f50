#!/usr/bin/python3
"""Search (PROTOCOL.md section 9) through a real server: whole words of any
script with case and accents folded, the last word as a prefix, quoted
phrases in order, newest first with a cursor, only rooms the caller is a
member of now and never encrypted ones, edits found by their new text and
deletes not at all, bad queries refused, and the index kept across a clean
restart and rebuilt after a kill -9."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ConfabTestCase, RestartCase, Server, main, unique  # noqa: E402
from harness import e2ee  # noqa: E402


def search_path(q, **params):
    return "/api/v1/search?" + urllib.parse.urlencode(dict(params, q=q))


class SearchBase(ConfabTestCase):

    def search(self, token, q, server=None, **params):
        return self.assert_status(self.api("GET", search_path(q, **params), token=token, server=server), 200)

    def found(self, token, q, server=None, **params):
        """(room, seq) of every hit, newest first."""
        return [(r["message"]["room"], r["message"]["seq"]) for r in self.search(token, q, server, **params)["results"]]


class SearchTest(SearchBase):

    def test_words_prefixes_phrases_and_folding(self):
        a = self.new_user()
        rid = self.create_room(a.token, name="words")["id"]
        texts = ["The quick brown fox", "Café crème à Paris", "Καλημέρα κόσμε", "Привет, мир!",
                 "我们明天在北京见面", "Die Straße ist naß", "nothing to see"]
        seqs = [self.post(a.token, rid, t)["seq"] for t in texts]
        cases = {
            "quick": [0], "QUICK": [0], "qui": [0], "quick fox": [0], "fox quick": [0], "uick": [],
            "quick cat": [], '"brown fox"': [0], '"fox brown"': [], "cafe": [1], "CAFÉ creme": [1],
            "crème": [1], "a paris": [1], "καλημερα": [2], "ΚΌΣΜΕ": [2], "привет": [3], "МИР": [3],
            "北京": [4], "straße": [5], "nass": [], "see": [6], "s": [5, 6],
        }
        for q, want in cases.items():
            with self.subTest(q=q):
                hits = self.found(a.token, q)
                self.assertEqual(hits, [(rid, seqs[i]) for i in sorted(want, reverse=True)])
        r = self.search(a.token, "fox")["results"][0]
        self.assertEqual((r["room_name"], r["message"]["body"], r["message"]["from"]),
                         ("words", texts[0], a.username))
        self.assertNotIn("next", self.search(a.token, "fox"))

    def test_newest_first_with_a_cursor_across_rooms(self):
        a = self.new_user()
        rooms = [self.create_room(a.token, name="r%d" % i)["id"] for i in range(3)]
        sent = []
        for i in range(25):
            rid = rooms[i % 3]
            sent.append((rid, self.post(a.token, rid, "paging word %d" % i)["seq"]))
        seen, before = [], None
        for _ in range(10):
            params = {"limit": 10}
            if before:
                params["before"] = before
            page = self.search(a.token, "paging", **params)
            seen += [(r["message"]["room"], r["message"]["seq"]) for r in page["results"]]
            before = page.get("next")
            if not before:
                break
            self.assertEqual(len(page["results"]), 10)
        self.assertEqual(seen, list(reversed(sent)))
        self.assertEqual(self.found(a.token, "paging", room=rooms[1]), [x for x in reversed(sent) if x[0] == rooms[1]])

    def test_members_now_only_and_never_encrypted_rooms(self):
        a, b = self.new_user(), self.new_user()
        shared = self.create_room(a.token, name="shared")["id"]
        private = self.create_room(a.token, name="private", visibility="private")["id"]
        self.join(b.token, shared)
        s1 = self.post(a.token, shared, "secret plans")["seq"]
        self.post(a.token, private, "secret plans")
        self.assertEqual(self.found(b.token, "secret"), [(shared, s1)])
        self.assertEqual(self.found(b.token, "secret", room=private), [])
        self.assertEqual(len(self.found(a.token, "secret")), 2)
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/leave" % shared, token=b.token), 204)
        self.assertEqual(self.found(b.token, "secret"), [])
        # an encrypted room has no body to index: its ciphertext is not found
        c, d = self.new_user(), self.new_user()
        dev = e2ee.Device(c.username)
        enc = self.assert_status(self.api("POST", "/api/v1/dm", {"username": d.username, "encrypted": True},
                                          token=c.token), 200)["room"]["id"]
        env = e2ee.encrypt(dev, enc, "c-enc", "encrypted secret", {dev.key_id: dev.identity_public()})
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/messages" % enc,
                                    {"e2ee": env, "client_msg_id": "c-enc"}, token=c.token), 201)
        self.assertEqual(self.found(c.token, "encrypted"), [])
        self.assertEqual(self.found(c.token, "secret"), [])
        self.assertEqual(self.found(c.token, env["payload"][:12]), [])

    def test_edits_deletes_and_threads(self):
        a = self.new_user()
        rid = self.create_room(a.token, name="changes")["id"]
        s1 = self.post(a.token, rid, "teh typo")["seq"]
        s2 = self.post(a.token, rid, "doomed message")["seq"]
        s3 = self.post(a.token, rid, "a reply in a thread", thread=s1)["seq"]
        self.assertEqual(self.found(a.token, "typo"), [(rid, s1)])
        self.assert_status(self.api("PATCH", "/api/v1/rooms/%s/messages/%d" % (rid, s1), {"body": "the fixed"},
                                    token=a.token), 200)
        self.assertEqual(self.found(a.token, "typo"), [])
        hit = self.search(a.token, "fixed")["results"]
        self.assertEqual([(h["message"]["seq"], h["message"]["body"]) for h in hit], [(s1, "the fixed")])
        self.assertEqual(hit[0]["message"]["thread_summary"]["replies"], 1)
        self.assertNotIn("thread_replies", hit[0]["message"])
        self.assertEqual(self.found(a.token, "doomed"), [(rid, s2)])
        self.assert_status(self.api("DELETE", "/api/v1/rooms/%s/messages/%d" % (rid, s2), token=a.token), 204)
        self.assertEqual(self.found(a.token, "doomed"), [])
        self.assertEqual(self.found(a.token, "reply thread"), [(rid, s3)])

    def test_bad_queries(self):
        a = self.new_user()
        for path in ("/api/v1/search", "/api/v1/search?q=", search_path("x", limit=0), search_path("x", limit=51),
                     search_path("x", limit="ten"), search_path("x" * 501), search_path("?! ..."),
                     search_path("x", before=""), search_path("x", room="r" * 201)):
            with self.subTest(path=path):
                self.assert_error(self.api("GET", path, token=a.token), 400, "invalid_request")
        self.assert_error(self.api("GET", search_path("x")), 401, "unauthorized")
        self.assertEqual(self.api("HEAD", search_path("x"), token=a.token)[0], 200)
        self.assert_healthy()


class SearchOffTest(SearchBase):
    server_args = ("--search", "false")

    def test_search_off_is_503_and_chat_works(self):
        a = self.new_user()
        rid = self.create_room(a.token, name="off")["id"]
        self.post(a.token, rid, "not indexed")
        self.assert_error(self.api("GET", search_path("indexed"), token=a.token), 503, "unavailable")
        self.assertEqual(len(self.all_messages(a.token, rid)), 1)
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "search")))


class SearchRestartTest(RestartCase, SearchBase):

    def test_the_index_survives_a_restart_and_is_rebuilt_after_a_crash(self):
        self.server = self.start()
        a = self.new_user()
        rid = self.create_room(a.token, name="durable")["id"]
        s1 = self.post(a.token, rid, "persistent words")["seq"]
        s2 = self.post(a.token, rid, "more persistent words")["seq"]
        self.assert_status(self.api("PATCH", "/api/v1/rooms/%s/messages/%d" % (rid, s1), {"body": "changed"},
                                    token=a.token), 200)
        self.assertEqual(self.server.terminate(), 0)
        self.server = self.start()
        self.assertEqual(self.found(a.token, "persistent"), [(rid, s2)])
        s3 = self.post(a.token, rid, "persistent after restart")["seq"]
        self.assert_status(self.api("DELETE", "/api/v1/rooms/%s/messages/%d" % (rid, s2), token=a.token), 204)
        self.server.kill9()
        self.server = self.start()
        self.assertIn("search index built", self.server.stderr_text())
        self.assertEqual(self.found(a.token, "persistent"), [(rid, s3)])
        self.assertEqual(self.found(a.token, "changed"), [(rid, s1)])


    def test_a_run_without_search_makes_the_index_rebuild(self):
        self.server = self.start()
        a = self.new_user()
        rid = self.create_room(a.token, name="gap")["id"]
        s1 = self.post(a.token, rid, "alpha words")["seq"]
        self.assertEqual(self.found(a.token, "alpha"), [(rid, s1)])
        self.assertEqual(self.server.terminate(), 0)
        # a run with search off: a delete and a new message the index never hears of
        off = Server(("--search", "false"), data_dir=self.data_dir)
        self.addCleanup(off.cleanup)
        self.server = off.start()
        self.assert_status(self.api("DELETE", "/api/v1/rooms/%s/messages/%d" % (rid, s1), token=a.token), 204)
        s2 = self.post(a.token, rid, "alpha again")["seq"]
        self.assertEqual(self.server.terminate(), 0)
        self.server = self.start()
        self.assertEqual(self.found(a.token, "alpha"), [(rid, s2)])


if __name__ == "__main__":
    main()
