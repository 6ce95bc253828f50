#!/usr/bin/python3
"""confabctl, the admin command line, against real nodes: tables and --json of
`nodes`, `actors` (filters), `room`, `user`; `kick` (the socket closes with
4003); errors (refused token: exit 1, unreachable node: exit 1, bad command
line: exit 2); the token from CONFAB_ADMIN_TOKEN; https:// with --ca-file;
`drain` of a node of a 2-node cluster (it exits 0, its room is served by the
other node with its full history).

The binary is $CONFABCTL, else `confabctl` beside $CONFABD (both are built
into the same bin dir)."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HOST, Cluster, ConfabTestCase, TlsServerCase, clean_env, free_port, main, poll  # noqa: E402

CONFABCTL = os.environ.get("CONFABCTL") or os.path.join(os.path.dirname(harness.CONFABD), "confabctl")
TOKEN = "ctl-test-admin-token-0123456789"
CTL_S = 30.0          # one confabctl run (its own timeouts are 10 s)
DRAIN_EXIT_S = 30.0   # a drained node hands its rooms over and exits
EVENT_S = 10.0


def ctl(args, url=None, token=TOKEN, env=None, timeout=CTL_S):
    """Run confabctl with `args` (after --url/--token unless those are None):
    (rc, stdout, stderr). No CONFAB_* variable of the caller leaks in."""
    cmd = [CONFABCTL]
    if url is not None:
        cmd += ["--url", url]
    if token is not None:
        cmd += ["--token", token]
    p = subprocess.run(cmd + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=clean_env(env), timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def url_of(server):
    return "http://%s:%d" % (HOST, server.port)


def table_rows(text):
    """A confabctl table as a list of rows (columns split on runs of 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def field_lines(text):
    """`key: value` lines of confabctl as a dict (top level only)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s+(.*)$", line)
        if m:
            out.setdefault(m.group(1), m.group(2).strip())
    return out


class CtlCase(ConfabTestCase):
    server_args = ("--admin-token", TOKEN)

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(CONFABCTL):
            raise AssertionError("confabctl not found at %s (build it, or set CONFABCTL)" % CONFABCTL)
        super().setUpClass()

    def ctl(self, *args, **kw):
        if "url" not in kw:
            kw["url"] = url_of(self.server)
        return ctl(args, **kw)

    def ok(self, *args, **kw):
        rc, out, err = self.ctl(*args, **kw)
        self.assertEqual(rc, 0, "confabctl %s: rc=%s stdout=%r stderr=%r" % (" ".join(args), rc, out, err))
        return out

    def fails(self, rc_expected, *args, **kw):
        rc, out, err = self.ctl(*args, **kw)
        self.assertEqual(rc, rc_expected, "confabctl %s: rc=%s stdout=%r stderr=%r"
                         % (" ".join(args), rc, out, err))
        return out, err

    def ok_json(self, *args, **kw):
        out = self.ok("--json", *args, **kw)
        try:
            return json.loads(out)
        except ValueError as e:
            self.fail("confabctl --json %s printed no JSON (%s): %r" % (" ".join(args), e, out))

    def live_room(self):
        """A user and a room with one message (so its actor is active now)."""
        u = self.new_user()
        room = self.create_room(u.token)
        self.post(u.token, room["id"], "hello")
        return u, room["id"]

    def session_of(self, username):
        """The session ids of `username` as the admin API lists them."""
        st, _, body = self.api("GET", "/admin/api/v1/users/%s" % username, token=TOKEN)
        self.assertEqual(st, 200, body)
        return [s["id"] for s in body["sessions"]]


class NodesAndErrorsTest(CtlCase):

    def test_nodes_table(self):
        out = self.ok("nodes")
        rows = table_rows(out)
        self.assertEqual(rows[0], ["ID", "STATUS", "ADDRESS", "HTTP", "ROOMS", "SESSIONS", "PRESENCES", "UPTIME"],
                         out)
        mine = [r for r in rows[1:] if r[0] == self.server.node]
        self.assertEqual(len(mine), 1, out)
        self.assertEqual(mine[0][1], "up", out)
        self.assertEqual(len(mine[0]), 8, out)
        self.assertRegex(mine[0][7], r"^\d+(s|m\d\ds|h\d\dm|d\d\dh)$", out)

    def test_nodes_json_matches_http(self):
        got = self.ok_json("nodes")
        st, _, want = self.api("GET", "/admin/api/v1/nodes", token=TOKEN)
        self.assertEqual(st, 200, want)
        self.assertEqual(set(got), set(want), got)
        self.assertEqual(len(got["nodes"]), len(want["nodes"]), got)
        for g, w in zip(got["nodes"], want["nodes"]):
            self.assertEqual(set(g), set(w), g)
            # counters and uptime move between the two calls; identity does not
            for k in ("id", "address", "http", "status"):
                self.assertEqual(g.get(k), w.get(k), (g, w))

    def test_bad_token_is_refused(self):
        rc, out, err = self.ctl("nodes", token="not-the-admin-token-at-all")
        self.assertEqual(rc, 1, err)
        self.assertIn("unauthorized", err)
        self.assertEqual(out, "")

    def test_user_token_is_refused(self):
        u = self.new_user()
        out, err = self.fails(1, "nodes", token=u.token)
        self.assertIn("unauthorized", err)
        self.assertEqual(out, "")

    def test_token_and_url_from_environment(self):
        out = self.ok("nodes", url=None, token=None,
                      env={"CONFAB_ADMIN_TOKEN": TOKEN, "CONFAB_URL": url_of(self.server)})
        self.assertIn(self.server.node, out)

    def test_flags_win_over_environment(self):
        out = self.ok("nodes", env={"CONFAB_ADMIN_TOKEN": "wrong-token-wrong-token",
                                    "CONFAB_URL": "http://%s:%d" % (HOST, free_port())})
        self.assertIn(self.server.node, out)

    def test_unreachable_node(self):
        port = free_port()  # nothing listens on it
        out, err = self.fails(1, "nodes", url="http://%s:%d" % (HOST, port))
        self.assertIn("cannot reach http://%s:%d" % (HOST, port), err)
        self.assertEqual(out, "")

    def test_usage_errors_exit_2(self):
        for args, kw in ((["frobnicate"], {}), ([], {}), (["room"], {}), (["kick"], {}), (["drain"], {}), (["remove"], {}),
                         (["user"], {}), (["nodes", "extra"], {}), (["actors", "--limit", "many"], {}),
                         (["nodes"], {"token": None}), (["nodes"], {"url": "ftp://%s:1" % HOST})):
            rc, out, err = self.ctl(*args, **kw)
            self.assertEqual(rc, 2, "confabctl %s %s: rc=%s stderr=%r" % (args, kw, rc, err))
            self.assertIn("usage: confabctl", err, (args, err))
            self.assertEqual(out, "", (args, out))

    def test_help(self):
        out = self.ok("--help", token=None)
        for cmd in ("nodes", "actors", "room", "user", "kick", "drain", "remove"):
            self.assertIn(cmd, out)


class RoomAndActorsTest(CtlCase):

    def test_room_shows_last_seq(self):
        u, rid = self.live_room()
        self.post(u.token, rid, "two")
        self.post(u.token, rid, "three")
        out = self.ok("room", rid)
        fields = field_lines(out)
        self.assertEqual(fields.get("room"), rid, out)
        self.assertEqual(fields.get("last_seq"), "3", out)
        self.assertEqual(fields.get("owner"), self.server.node, out)
        self.assertEqual(self.ok_json("room", rid)["last_seq"], 3)

    def test_unknown_room(self):
        out, err = self.fails(1, "room", "r_00000000000000ff")
        self.assertIn("not_found", err)
        self.assertEqual(out, "")

    def test_values_are_percent_encoded(self):
        # "../nodes" must reach /rooms/..%2Fnodes, never the nodes listing
        out, err = self.fails(1, "room", "../nodes")
        self.assertEqual(out, "")
        # a query value cannot smuggle in another parameter (kind=gremlin would be a 400)
        found = self.ok_json("actors", "--q", "zz&kind=gremlin")
        self.assertEqual((found["actors"], found["total"]), ([], 0), found)

    def test_actors_lists_live_room(self):
        _, rid = self.live_room()
        out = self.ok("actors", "--kind", "room", "--limit", "1000")
        rows = table_rows(out)
        self.assertEqual(rows[0], ["NODE", "KIND", "ID", "MAILBOX", "PROCESSED", "LAST-ACTIVE", "DETAIL"], out)
        mine = [r for r in rows[1:-1] if len(r) > 2 and r[2] == rid]
        self.assertEqual(len(mine), 1, out)
        self.assertEqual(mine[0][:2], [self.server.node, "room"], out)
        self.assertRegex(rows[-1][0], r"^\d+ of \d+ actors", out)

    def test_actors_filters(self):
        _, rid = self.live_room()
        rooms = self.ok_json("actors", "--kind", "room", "--limit", "1000")
        self.assertIn(rid, [a["id"] for a in rooms["actors"]], rooms)
        self.assertTrue(all(a["kind"] == "room" for a in rooms["actors"]), rooms)
        everything = self.ok_json("actors", "--node", self.server.node, "--limit", "1000")
        self.assertTrue(all(a["node"] == self.server.node for a in everything["actors"]), everything)
        kinds = {a["kind"] for a in everything["actors"]}
        self.assertIn("room", kinds, everything)
        self.assertGreater(len(kinds), 1, everything)
        # q: case-insensitive substring of id or detail
        found = self.ok_json("actors", "--q", rid.upper(), "--limit", "1000")
        self.assertIn(rid, [a["id"] for a in found["actors"]], found)
        self.assertTrue(all(rid in (a["id"] + " " + a.get("detail", "")).lower() for a in found["actors"]), found)
        self.assertEqual(found["total"], len(found["actors"]), found)
        page = self.ok_json("actors", "--limit", "1", "--offset", "1", "--sort", "id")
        self.assertEqual((len(page["actors"]), page["offset"], page["limit"]), (1, 1, 1), page)
        self.assertGreaterEqual(page["total"], 2, page)

    def test_actors_unknown_node_and_bad_kind(self):
        out, err = self.fails(1, "actors", "--node", "no-such-node")
        self.assertIn("not_found", err)
        out, err = self.fails(1, "actors", "--kind", "gremlin")
        self.assertIn("invalid_request", err)


class UsersAndKickTest(CtlCase):

    def test_user_shows_websocket_session(self):
        u = self.new_user()
        ws = self.connect(u.token)
        sid = ws.auth_data["session"]
        out = self.ok("user", u.username)
        fields = field_lines(out)
        self.assertEqual(fields.get("username"), u.username, out)
        self.assertEqual(fields.get("id"), u.id, out)
        rows = [r for r in table_rows(out) if r and r[0] == sid]
        self.assertEqual(len(rows), 1, out)
        self.assertEqual(rows[0][1], self.server.node, out)
        answer = self.ok_json("user", u.username)
        self.assertEqual([s["id"] for s in answer["sessions"]], [sid], answer)
        self.assertEqual(answer["user"]["username"], u.username, answer)

    def test_unknown_user(self):
        out, err = self.fails(1, "user", "nobody-" + harness.unique())
        self.assertIn("not_found", err)
        self.assertEqual(out, "")

    def test_kick_closes_socket_with_4003(self):
        u = self.new_user()
        ws = self.connect(u.token)
        keep = self.connect(u.token)
        sid = ws.auth_data["session"]
        out = self.ok("kick", sid)
        self.assertEqual(out.strip(), "kicked session %s" % sid)
        self.assertEqual(ws.expect_close(timeout=EVENT_S), 4003)
        # only that session: the user's other one stays
        poll(lambda: self.session_of(u.username) == [keep.auth_data["session"]],
             "only the other session is listed after the kick", timeout=EVENT_S)

    def test_kick_unknown_session(self):
        out, err = self.fails(1, "kick", "s_00000000000000ff")
        self.assertIn("not_found", err)
        self.assertEqual(out, "")


class HttpsTest(CtlCase, TlsServerCase):

    def https(self):
        return "https://%s:%d" % (HOST, self.server.port)

    def test_https_with_ca_file(self):
        out = self.ok("--ca-file", self.cert, "nodes", url=self.https())
        self.assertIn(self.server.node, out)

    def test_untrusted_certificate_is_refused(self):
        out, err = self.fails(1, "nodes", url=self.https())
        self.assertIn("cannot reach", err)
        self.assertIn("certificate", err)
        self.assertEqual(out, "")


class DrainTest(CtlCase):
    start_server = False

    def test_drain_hands_rooms_over_and_exits(self):
        cluster = Cluster(2, admin_token=TOKEN).start()
        self.addCleanup(cluster.stop)
        cluster.wait_converged()
        n1, n2 = cluster.node(1), cluster.node(2)
        u = self.new_user(server=n1)
        rid = self.create_room(u.token, server=n1)["id"]
        bodies = ["m%d" % i for i in range(1, 21)]
        for b in bodies:
            self.post(u.token, rid, b, server=n1)
        owner = cluster.room_owner(rid)
        drained, other = (n1, n2) if owner == n1.node else (n2, n1)
        ws = self.connect(u.token, server=drained)

        # an unknown node is refused and changes nothing
        out, err = self.fails(1, "drain", "no-such-node", url=url_of(other))
        self.assertIn("not_found", err)

        out = self.ok("drain", drained.node, url=url_of(other))
        self.assertEqual(out.strip(), "node %s is draining" % drained.node)
        self.assertEqual(ws.expect_close(timeout=DRAIN_EXIT_S), 4000)
        poll(lambda: not drained.running(), "drained node %s exits" % drained.node, timeout=DRAIN_EXIT_S)
        self.assertEqual(drained.terminate(), 0, drained.stderr_text()[-3000:])

        # the room lives on at the other node, whole
        poll(lambda: cluster.room_owner(rid, server=other) == other.node,
             "room %s owned by %s" % (rid, other.node), timeout=EVENT_S)
        msgs = self.all_messages(u.token, rid, server=other)
        self.assertEqual([m["body"] for m in msgs], bodies)
        self.assertEqual([m["seq"] for m in msgs], list(range(1, 21)))
        self.assertEqual(self.post(u.token, rid, "after", server=other)["seq"], 21)

        # the last live node has nobody to hand its rooms to
        out, err = self.fails(1, "drain", other.node, url=url_of(other))
        self.assertIn("conflict", err)
        self.assertTrue(other.running())


if __name__ == "__main__":
    main()
