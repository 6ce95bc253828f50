#!/usr/bin/python3
"""Replicated rooms (PROTOCOL.md section 6), three real nodes with
`--replication 3`: every room is on all three. Clients on every node send to
many rooms, with retries that keep their client_msg_id; the owner of half
the rooms is killed (SIGKILL) mid-stream. Then every acknowledged message is
in its room's history exactly once, under the seq its ack gave, the history
is gapless and the same through each survivor, and each of the dead node's
rooms took a first write again within the contract's 5 s (measured from the
kill; printed). The node restarts, catches up, and serves the same
histories. A paused owner (SIGSTOP for longer than the others need to take
its rooms, then SIGCONT) forks nothing.

Nodes are n1..n3 (harness.Cluster)."""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CONFABCTL, HOST, ClusterCase, main  # noqa: E402
from test_cluster import Sender, cmid, key, raw_get  # noqa: E402
from test_files import image_bytes, sha256_hex  # noqa: E402
from harness import poll  # noqa: E402

FAILOVER_S = 5.0        # the contract: writable again within 5 s


class ReplicationBase(ClusterCase):
    cluster_size = 3
    cluster_args = ("--replication", "3")

    def copies(self, rid, server):
        """The room's copy set (owner and replicas) as `server` names it, sorted."""
        admin = self.cluster.room_admin(rid, server=server)
        return sorted([admin["owner"]] + admin["replicas"])

    def rooms_owned(self, token, plan):
        """Rooms made through the nodes in `plan` (a list of node numbers):
        the creator owns each. Returns [(room id, owner id)]."""
        out = []
        for k in plan:
            rid = self.create_room(token, server=self.cluster.node(k))["id"]
            out.append((rid, "n%d" % k))
        return out

    def post_each(self, token, rooms, acked, label, server, count=3):
        """`count` messages into each room through `server`, each acknowledged,
        recorded in acked[room][client_msg_id] = seq."""
        for rid in rooms:
            for i in range(count):
                c = cmid()
                acked[rid][c] = self.post(token, rid, "%s %d" % (label, i), client_msg_id=c, server=server)["seq"]

    def check_histories(self, token, rooms, acked, servers):
        """Every acknowledged message once, under its acked seq; gapless; the
        same through every server. Returns the histories through the first."""
        out = {}
        for rid in rooms:
            views = [[key(m) for m in self.full_history(token, rid, server=s)] for s in servers]
            for s, v in zip(servers[1:], views[1:]):
                self.assertEqual(v, views[0], "history of %s differs through %s" % (rid, s.node))
            seqs = [k[1] for k in views[0]]
            self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "history of %s has a gap" % rid)
            ids = [k[6] for k in views[0]]
            self.assertEqual(len(ids), len(set(ids)), "a client_msg_id twice in %s" % rid)
            by_id = {k[6]: k[1] for k in views[0]}
            for c, seq in acked.get(rid, {}).items():
                self.assertIn(c, by_id, "acknowledged %s lost from %s" % (c, rid))
                self.assertEqual(by_id[c], seq, "acknowledged %s moved in %s" % (c, rid))
            out[rid] = views[0]
        return out


class KillOwnerTest(ReplicationBase):

    def test_kill9_owner_mid_stream(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        # half the rooms are made (and so owned) by n3
        rooms = self.rooms_owned(a.token, [3, 3, 3, 1, 2, 3, 1, 2])
        for rid, owner in rooms:
            self.assertEqual(self.cluster.room_owner(rid, server=n1), owner)
        victim_rooms = [rid for rid, owner in rooms if owner == "n3"]
        all_rooms = [rid for rid, _ in rooms]

        acked = {rid: {} for rid in all_rooms}
        first_after = {}          # room -> seconds from the kill to its first ack after it
        lock = threading.Lock()
        killed = threading.Event()
        t_kill = [0.0]
        errors = []

        def run(sender, label, count):
            try:
                for i in range(count):
                    rid = all_rooms[i % len(all_rooms)]
                    c = cmid()
                    try:
                        ack = sender.send(rid, "%s %d" % (label, i), c, deadline_s=30.0)
                    except AssertionError:
                        if label == "n3":
                            return        # the victim's socket dies with it
                        raise
                    with lock:
                        acked[rid][c] = ack["seq"]
                        if killed.is_set() and rid not in first_after:
                            first_after[rid] = time.monotonic() - t_kill[0]
            except BaseException as e:   # noqa: B902 -- reported by the main thread
                errors.append((label, e))

        # sessions on the survivors that start before the kill (and so told
        # the old owner, not the new one, that they want its rooms' events)
        watchers = [self.connect(a.token, server=s) for s in (n1, n2)]
        senders = []
        for k, s in ((1, n1), (2, n2), (3, n3)):
            ws = self.connect(a.token, server=s)
            # a client that hears nothing for a second asks again (same
            # client_msg_id): a request that was on its way to the killed
            # node is never answered by it
            senders.append((Sender(self, ws, "n%d" % k, attempt_s=1.0), "n%d" % k))
        threads = [threading.Thread(target=run, args=(snd, label, 160)) for snd, label in senders]
        for t in threads:
            t.start()
        # mid-stream: once 60 messages are acknowledged
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                done = sum(len(v) for v in acked.values())
            if done >= 60:
                break
            time.sleep(0.01)
        t_kill[0] = time.monotonic()
        killed.set()
        self.cluster.kill9(3)
        for t in threads:
            t.join(timeout=120)
        self.assertFalse(any(t.is_alive() for t in threads), "a sender did not finish")
        self.assertEqual(errors, [])

        for rid in victim_rooms:
            self.assertIn(rid, first_after, "no write to %s after the kill" % rid)
        times = sorted(first_after[rid] for rid in victim_rooms)
        sys.stderr.write("\nfailover: first write to each of n3's %d rooms after its kill: p50 %.2f s, max %.2f s\n"
                         % (len(times), times[len(times) // 2], times[-1]))
        self.assertLessEqual(times[-1], FAILOVER_S, "a room of the dead node took longer than 5 s: %r" % times)

        survivors = [n1, n2]
        before = self.check_histories(a.token, all_rooms, acked, survivors)
        # the rooms moved to a survivor, and their events reach sessions on
        # both survivors
        for rid in victim_rooms:
            admin = self.cluster.room_admin(rid, server=n1)
            self.assertIn(admin["owner"], ("n1", "n2"))
            self.assertEqual(sorted([admin["owner"]] + admin["replicas"]), ["n1", "n2", "n3"])
            self.assertGreaterEqual(admin["epoch"], 2, "a new owner serves in a new epoch")
            c = cmid()
            acked[rid][c] = self.post(a.token, rid, "after the failover", client_msg_id=c, server=n2)["seq"]
            for ws in watchers:
                ws.wait_event("message", lambda d, rid=rid, c=c: d.get("room") == rid and d.get("client_msg_id") == c,
                              timeout=10)
        before = self.check_histories(a.token, all_rooms, acked, survivors)

        # n3 comes back: it catches up and serves the one history
        n3 = self.cluster.restart(3)
        self.cluster.wait_converged()
        after = self.check_histories(a.token, all_rooms, acked, [n3, n1, n2])
        self.assertEqual(after, before)
        for rid in all_rooms:
            m = self.post(a.token, rid, "after the restart", client_msg_id=cmid(), server=n3)
            self.assertEqual(m["seq"], len(before[rid]) + 1)


class PausedOwnerTest(ReplicationBase):

    def test_sigstop_owner_forks_nothing(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        rooms = self.rooms_owned(a.token, [3, 3, 1])
        all_rooms = [rid for rid, _ in rooms]
        acked = {rid: {} for rid in all_rooms}
        self.post_each(a.token, all_rooms, acked, "before", n1)
        ws3 = self.connect(a.token, server=n3)
        paused = Sender(self, ws3, "n3")
        victim = self.cluster.node(3)
        victim.proc.send_signal(signal.SIGSTOP)
        try:
            # a send to the paused node: sent now, read after it wakes up
            stale = {}
            for rid in all_rooms:
                c = cmid()
                req = ws3.new_id()
                ws3.send_obj({"op": "send", "id": req, "room": rid, "body": "while paused", "client_msg_id": c})
                stale[req] = (rid, c)
            s1 = Sender(self, self.connect(a.token, server=n1), "n1")
            s2 = Sender(self, self.connect(a.token, server=n2), "n2")
            t0 = time.monotonic()
            for i in range(6):
                for rid in all_rooms:
                    c = cmid()
                    acked[rid][c] = (s1, s2)[i % 2].send(rid, "paused %d" % i, c, deadline_s=30.0)["seq"]
            # at least 10 s paused, as the issue asks
            while time.monotonic() - t0 < 10.0:
                s1.ws.idle(0.2)
        finally:
            victim.proc.send_signal(signal.SIGCONT)
        # the paused node's answers: an ok is an acknowledged message like any
        # other, an error is `unavailable` (and the retry below writes it once)
        outcomes = []
        for req, (rid, c) in stale.items():
            r = ws3.wait_reply(req, timeout=30)
            if r.get("op") == "ok":
                acked[rid][c] = r["data"]["seq"]
            else:
                self.assertEqual(r.get("code"), "unavailable", r)
            outcomes.append(r.get("op") if r.get("op") == "ok" else r.get("code"))
        sys.stderr.write("\nsends made to the paused owner, answered after SIGCONT: %r\n" % outcomes)
        for rid in all_rooms:
            c = cmid()
            acked[rid][c] = paused.send(rid, "after waking", c, deadline_s=30.0)["seq"]
        self.cluster.wait_converged()
        self.check_histories(a.token, all_rooms, acked, [n1, n2, n3])


class DrainTest(ReplicationBase):

    def test_drained_owner_leaves_its_rooms_with_the_others(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        rooms = self.rooms_owned(a.token, [3, 3, 3, 1])
        all_rooms = [rid for rid, _ in rooms]
        acked = {rid: {} for rid in all_rooms}
        self.post_each(a.token, all_rooms, acked, "before", n2)
        st, _, body = n1.http("POST", "/admin/api/v1/nodes/n3/drain", token=self.cluster.admin_token)
        self.assertEqual(st, 202, body)
        victim = self.cluster.node(3)
        deadline = time.monotonic() + 30
        while victim.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(victim.running(), "the drained node did not exit")
        self.assertEqual(victim.terminate(), 0, victim.stderr_text()[-2000:])
        for rid in all_rooms:
            c = cmid()
            acked[rid][c] = self.post(a.token, rid, "after the drain", client_msg_id=c, server=n1)["seq"]
            self.assertIn(self.cluster.room_owner(rid, server=n2), ("n1", "n2"))
        self.check_histories(a.token, all_rooms, acked, [n1, n2])


class DeposedOwnerTest(ReplicationBase):
    """Found by the nemesis (docs/RELIABILITY.md): an owner that is paused,
    deposed and later takes its rooms again must not serve them from the
    room actors of its old epoch. Those kept the last seq they had assigned,
    so the first write after the retake reused a seq that the next owner had
    acknowledged meanwhile and overwrote that message."""

    # the old room actors must not be passivated before the retake
    cluster_args = ("--replication", "3", "--room-idle-ms", "300000")

    def test_retaken_rooms_forget_their_old_epoch(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        rooms = [rid for rid, _ in self.rooms_owned(a.token, [1, 1, 1])]
        acked = {rid: {} for rid in rooms}
        self.post_each(a.token, rooms, acked, "first epoch", n1)     # room actors on n1 at seq 3
        victim = self.cluster.node(1)
        victim.proc.send_signal(signal.SIGSTOP)
        try:
            self.cluster.wait_statuses({"n1": "down", "n2": "up", "n3": "up"}, [n2, n3])
            s2 = Sender(self, self.connect(a.token, server=n2), "n2", attempt_s=1.0)
            for rid in rooms:
                for i in range(3):
                    c = cmid()
                    acked[rid][c] = s2.send(rid, "second epoch %d" % i, c, deadline_s=30.0)["seq"]
        finally:
            victim.proc.send_signal(signal.SIGCONT)
        self.cluster.wait_converged()
        # n1 takes its rooms again when n3 is removed (it is their first
        # live copy and shrinks their sets), with no write in between
        self.cluster.kill9(3)
        self.cluster.wait_statuses({"n1": "up", "n2": "up", "n3": "down"}, [n1, n2])
        st, _, body = n2.http("POST", "/admin/api/v1/nodes/n3/remove", token=self.cluster.admin_token)
        self.assertEqual(st, 202, body)
        poll(lambda: all(self.cluster.room_admin(rid, n2)["owner"] == "n1" and
                         sorted(self.cluster.room_admin(rid, n2)["replicas"]) == ["n2"] for rid in rooms),
             "n1 owns its rooms again, with n2 as their other copy", timeout=60, interval=0.2)
        s1 = Sender(self, self.connect(a.token, server=n1), "n1", attempt_s=1.0)
        for rid in rooms:
            c = cmid()
            acked[rid][c] = s1.send(rid, "third epoch", c, deadline_s=30.0)["seq"]
            self.assertEqual(acked[rid][c], 7, "the first write after the retake follows seq 6 in %s" % rid)
        self.check_histories(a.token, rooms, acked, [n1, n2])


class RestartWhileDownTest(ReplicationBase):
    """Found by the scale run (docs/RELIABILITY.md): a node restarted while
    another was down did not list that node (admission named only live
    members) and, as owner, moved its copies to n4 without a remove. Now
    the restarted node lists it down, and no copy set changes."""

    cluster_size = 4

    def test_restarted_node_lists_a_member_that_is_down(self):
        n1, n2, n3, n4 = self.nodes()
        a = self.new_user(server=n1)
        rooms = []
        for _ in range(40):     # rooms n3 owns with a copy on n2 (two in three of them)
            rid = self.rooms_owned(a.token, [3])[0][0]
            if "n2" in self.copies(rid, n1):
                rooms.append(rid)
            if len(rooms) == 3:
                break
        self.assertEqual(len(rooms), 3, "rooms owned by n3 with a copy on n2")
        acked = {rid: {} for rid in rooms}
        self.post_each(a.token, rooms, acked, "before", n1, count=1)
        before = {rid: self.copies(rid, n1) for rid in rooms}
        self.cluster.kill9(2)
        self.cluster.wait_statuses({"n1": "up", "n2": "down", "n3": "up", "n4": "up"}, [n1, n3, n4])
        self.cluster.kill9(3)
        n3 = self.cluster.restart(3)
        # it met n1 and n4 in this life, and lists n2 as down (not absent)
        self.cluster.wait_statuses({"n1": "up", "n2": "down", "n3": "up", "n4": "up"}, [n1, n3, n4])
        s3 = Sender(self, self.connect(a.token, server=n3), "n3", attempt_s=1.0)
        for rid in rooms:
            c = cmid()
            acked[rid][c] = s3.send(rid, "n2 down, n3 restarted", c, deadline_s=30.0)["seq"]
        n2 = self.cluster.restart(2)
        self.cluster.wait_converged()
        for rid in rooms:
            self.assertEqual(self.copies(rid, n2), before[rid], "copy set of %s changed with no remove" % rid)
        self.check_histories(a.token, rooms, acked, [n1, n2, n3, n4])


class RemoveTest(ReplicationBase):
    """Four nodes, three copies a room: a node killed for good and removed
    (`confabctl remove`) is replaced in every copy set it was in by a live
    node, which copies the room; the rooms then survive the loss of one more
    of their old copies."""

    cluster_size = 4
    REPAIR_S = 60.0     # every copy set whole again (a few rooms, idle cluster)

    def ctl(self, server, *args):
        p = subprocess.run([CONFABCTL, "--url", "http://%s:%d" % (HOST, server.port),
                            "--token", self.cluster.admin_token] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def test_remove_restores_three_copies(self):
        n1, n2, n3, n4 = self.nodes()
        a = self.new_user(server=n1)
        rooms = [rid for rid, _ in self.rooms_owned(a.token, [4, 4, 1, 2, 3, 4, 1, 2, 3, 4])]
        self.copies_before = {rid: self.copies(rid, n1) for rid in rooms}
        # at least one room whose new copy will be n1 (its set is n2, n3, n4;
        # each room n4 makes has that set with probability 1/3)
        for _ in range(40):
            if any(c == ["n2", "n3", "n4"] for c in self.copies_before.values()):
                break
            rid = self.rooms_owned(a.token, [4])[0][0]
            rooms.append(rid)
            self.copies_before[rid] = self.copies(rid, n1)
        acked = {rid: {} for rid in rooms}
        self.post_each(a.token, rooms, acked, "before", n1)
        had_n4 = [rid for rid in rooms if "n4" in self.copies_before[rid]]
        self.assertGreaterEqual(len(had_n4), 4, "n4 holds a copy of the rooms it made")

        self.cluster.kill9(4)
        self.cluster.wait_statuses({"n1": "up", "n2": "up", "n3": "up", "n4": "down"},
                                   [n1, n2, n3])
        # refusals first: a live node, this node, an unknown one
        rc, out, err = self.ctl(n1, "remove", "n2")
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("conflict", err)
        rc, out, err = self.ctl(n1, "remove", "n1")
        self.assertEqual(rc, 1, (out, err))
        rc, out, err = self.ctl(n1, "remove", "no-such-node")
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("not_found", err)
        t0 = time.monotonic()
        rc, out, err = self.ctl(n1, "remove", "n4")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), "node n4 is removed")
        # the HTTP route answers the same for a node already removed
        st, _, body = n2.http("POST", "/admin/api/v1/nodes/n4/remove", token=self.cluster.admin_token)
        self.assertEqual(st, 202, body)
        self.assertEqual(body, {"node": "n4", "status": "removed"})
        self.cluster.wait_statuses({"n1": "up", "n2": "up", "n3": "up"}, [n1, n2, n3])

        # every room that had a copy on n4 gets one on the node that had none
        deadline = time.monotonic() + self.REPAIR_S
        pending = list(had_n4)
        while pending and time.monotonic() < deadline:
            pending = [rid for rid in pending if self.copies(rid, n1) != ["n1", "n2", "n3"]]
            if pending:
                threading.Event().wait(0.1)
        self.assertEqual(pending, [], "copy sets still without a third live copy after %.0f s" % self.REPAIR_S)
        sys.stderr.write("\nremove: %d rooms had a copy on n4; all had three live copies %.2f s after remove\n"
                         % (len(had_n4), time.monotonic() - t0))
        for rid in rooms:
            self.assertEqual(self.copies(rid, n2), ["n1", "n2", "n3"], rid)
        self.post_each(a.token, rooms, acked, "after remove", n2, count=1)
        self.check_histories(a.token, rooms, acked, [n1, n2, n3])

        # the new copies hold the rooms: n2 dies and rooms take writes on n1
        # and n3; then n3 dies and n2 comes back: those writes are now only
        # on n1, which is the new copy of each room that n1 was not a copy
        # of before (n2 catches up from it)
        before_n1 = [rid for rid in had_n4 if "n1" not in self.copies_before[rid]]
        self.assertTrue(before_n1, "some rooms got their new copy on n1")
        self.cluster.kill9(2)
        s3 = Sender(self, self.connect(a.token, server=n3), "n3", attempt_s=1.0)
        for rid in rooms:
            c = cmid()
            acked[rid][c] = s3.send(rid, "after n2 died", c, deadline_s=30.0)["seq"]
        self.check_histories(a.token, rooms, acked, [n1, n3])
        self.cluster.kill9(3)
        n2 = self.cluster.restart(2)
        self.cluster.wait_statuses({"n1": "up", "n2": "up", "n3": "down"}, [n1])
        # it never met n3 in this life, and lists it down (n1's admission answer)
        self.cluster.wait_statuses({"n1": "up", "n2": "up", "n3": "down"}, [n2])
        s1 = Sender(self, self.connect(a.token, server=n1), "n1", attempt_s=1.0)
        for rid in rooms:
            c = cmid()
            acked[rid][c] = s1.send(rid, "after n3 died", c, deadline_s=30.0)["seq"]
        self.check_histories(a.token, rooms, acked, [n1, n2])

        # the removal is remembered: by n2, restarted since (its disk), and
        # by a node that joins now (its admission answer); for a node it
        # never heard of, remove would answer 404
        for s in (n2, self.cluster.add_node()):
            st, _, body = s.http("POST", "/admin/api/v1/nodes/n4/remove", token=self.cluster.admin_token)
            self.assertEqual((st, body), (202, {"node": "n4", "status": "removed"}), "through %s" % s.node)


class FilesTest(ReplicationBase):
    """Three nodes, three copies: a file uploaded through a node (its home)
    is stored on a majority before the upload is answered; after the home
    is killed, the file (whole, ranges, info, thumbnail) comes from a copy
    through every survivor, and a message can still attach it."""

    def test_upload_survives_the_loss_of_its_home(self):
        n1, n2, n3 = self.nodes()
        a = self.new_user(server=n1)
        rid = self.create_room(a.token, server=n1)["id"]
        data = os.urandom(3 * 256 * 1024 + 4321)  # four chunks
        files = {}
        for name, body, ctype in (("data.bin", data, "application/octet-stream"),
                                  ("pic.png", image_bytes("PNG", 640, 480), "image/png")):
            st, _, got = n3.http("POST", "/api/v1/rooms/%s/files" % rid, token=a.token, raw_body=body,
                                 headers={"x-filename": name, "content-type": ctype})
            self.assertEqual(st, 201, got)
            self.assertEqual(got["file"]["sha256"], sha256_hex(body))
            files[name] = (got["file"], body)
        pic = files["pic.png"][0]
        # every copy makes its own thumbnail: wait for the home's
        poll(lambda: raw_get(n3.port, "/api/v1/files/%s/thumbnail" % pic["id"], a.token)[0] == 200,
             "thumbnail on the home", timeout=30)

        self.cluster.kill9(3)
        self.cluster.wait_statuses({"n1": "up", "n2": "up", "n3": "down"}, [n1, n2])
        for s in (n1, n2):
            for name, (f, body) in files.items():
                st, h, got = raw_get(s.port, "/api/v1/files/" + f["id"], a.token)
                self.assertEqual(st, 200, "download of %s through %s after its home died: %r" % (name, s.node, got[:200]))
                self.assertTrue(got == body, "%s changed through %s" % (name, s.node))
                st, _, got = raw_get(s.port, "/api/v1/files/" + f["id"], a.token, {"Range": "bytes=100-524999"})
                self.assertEqual((st, got), (206, body[100:525000]))
                st, _, got = raw_get(s.port, "/api/v1/files/%s/info" % f["id"], a.token)
                self.assertEqual(st, 200)
            poll(lambda s=s: raw_get(s.port, "/api/v1/files/%s/thumbnail" % pic["id"], a.token)[0] == 200,
                 "thumbnail of the image through %s" % s.node, timeout=30)
        m = self.post(a.token, rid, "attached after the loss", client_msg_id=cmid(), server=n1,
                      file_id=files["data.bin"][0]["id"])
        self.assertEqual(m["file"]["id"], files["data.bin"][0]["id"])
        # a stranger still gets 403, an unknown id 404
        stranger = self.new_user(server=n2)
        self.assertEqual(raw_get(n1.port, "/api/v1/files/" + pic["id"], stranger.token)[0], 403)
        unknown = pic["id"][:-4] + ("0000" if not pic["id"].endswith("0000") else "1111")
        self.assertIn(raw_get(n1.port, "/api/v1/files/" + unknown, a.token)[0], (404, 503))

        # with only one node of three left, an upload cannot reach a majority
        self.cluster.kill9(2)
        self.cluster.wait_statuses({"n1": "up", "n2": "down", "n3": "down"}, [n1])
        st, _, got = n1.http("POST", "/api/v1/rooms/%s/files" % rid, token=a.token, raw_body=b"alone",
                             headers={"x-filename": "alone.txt", "content-type": "text/plain"})
        self.assertEqual((st, got.get("error", {}).get("code")), (503, "unavailable"), got)


def _fnv(data, h):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def _mix(h):
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 31)


def rendezvous_top(rid, nodes, n):
    """The first n of the room's rendezvous order (written from the hash
    cluster/rendezvous.cpp documents: FNV-1a over the key, a NUL, the node,
    then splitmix64's finaliser), as an oracle independent of the server."""
    key = ("room/" + rid).encode()
    base = _fnv(b"\0", _fnv(key, 0xcbf29ce484222325))
    ranked = sorted(nodes, key=lambda node: (-_mix(_fnv(node.encode(), base)), node))
    return sorted(ranked[:n])


class JoinTest(ReplicationBase):
    """A cluster started with one node and --replication 3 grows: each
    joining node takes its place in the rooms' copy sets (one copy, then
    two, then three; a fourth node replaces the copy that ranks last in
    the rooms it ranks in, the rooms' owner included), and the new copies
    hold the rooms: histories stay one and the same, and the rooms survive
    losing a node they were made on."""

    cluster_size = 1
    SETTLE_S = 60.0

    def wait_sets(self, rooms, want, server, what):
        t0 = time.monotonic()
        deadline = t0 + self.SETTLE_S
        pending = list(rooms)
        while pending and time.monotonic() < deadline:
            pending = [rid for rid in pending if self.copies(rid, server) != want(rid)]
            if pending:
                threading.Event().wait(0.1)
        if pending:
            logs = ["%s: %s" % (s.node, line) for s in self.nodes() for line in s.stderr_text().splitlines()
                    if pending[0] in line and " GET " not in line and " POST " not in line][-40:]
            self.fail("%s: copy sets not as wanted after %.0f s: %r\n%s"
                      % (what, self.SETTLE_S, {r: self.copies(r, server) for r in pending[:3]}, "\n".join(logs)))
        sys.stderr.write("\njoin: %s: %d rooms settled in %.2f s\n" % (what, len(rooms), time.monotonic() - t0))

    def test_joining_nodes_take_their_place_in_copy_sets(self):
        n1 = self.cluster.node(1)
        a = self.new_user(server=n1)
        rooms = [self.create_room(a.token, server=n1)["id"] for _ in range(12)]
        b = self.new_user(server=n1)
        for rid in rooms:
            self.join(b.token, rid, server=n1)
        acked = {rid: {} for rid in rooms}
        self.post_each(a.token, rooms, acked, "alone", n1, count=2)
        for rid in rooms:
            self.assertEqual(self.copies(rid, n1), ["n1"])

        n2 = self.cluster.add_node()
        self.cluster.wait_converged()
        self.wait_sets(rooms, lambda rid: ["n1", "n2"], n1, "second node")
        self.post_each(a.token, rooms, acked, "two", n2, count=1)
        n3 = self.cluster.add_node()
        self.cluster.wait_converged()
        self.wait_sets(rooms, lambda rid: ["n1", "n2", "n3"], n2, "third node")
        self.post_each(a.token, rooms, acked, "three", n3, count=1)
        self.check_histories(a.token, rooms, acked, [n1, n2, n3])

        # a fourth node: each room settles on the first three of its
        # rendezvous order over four
        n4 = self.cluster.add_node()
        self.cluster.wait_converged()
        four = ["n1", "n2", "n3", "n4"]
        self.wait_sets(rooms, lambda rid: rendezvous_top(rid, four, 3), n4, "fourth node")
        joined = [rid for rid in rooms if "n4" in rendezvous_top(rid, four, 3)]
        self.assertTrue(joined, "n4 ranks among the first three of some rooms")
        # the owner (n1, which made every room) left some sets: handed over
        left_n1 = [rid for rid in rooms if "n1" not in rendezvous_top(rid, four, 3)]
        sys.stderr.write("join: n4 joined %d of %d rooms; n1 handed over %d\n"
                         % (len(joined), len(rooms), len(left_n1)))
        self.post_each(a.token, rooms, acked, "four", n1, count=1)
        self.check_histories(a.token, rooms, acked, [n1, n2, n3, n4])
        # a node that left a set deleted its copy: a later leave is seen
        # through every node (a stale copy would list the room for good).
        # Reads serve what each node has (PROTOCOL.md section 6): a copy
        # that has not yet applied the leave, or not yet heard that it left
        # the set, may list the room for a moment, so this waits for it.
        ws = self.connect(b.token, server=n4)
        for rid in rooms:
            ws.ok("leave", room=rid)
        t0 = time.monotonic()
        for s in (n1, n2, n3, n4):
            poll(lambda s=s: not set(self.my_rooms(b.token, server=s)) & set(rooms),
                 "rooms left are no longer listed through %s" % s.node, timeout=self.SETTLE_S)
        sys.stderr.write("join: left rooms unlisted through every node %.2f s after the leaves\n"
                         % (time.monotonic() - t0))

        # the new copies hold the rooms: n1 (where every room was made) dies
        # and every room still takes writes, with its whole history
        self.cluster.kill9(1)
        self.cluster.wait_statuses({"n1": "down", "n2": "up", "n3": "up", "n4": "up"}, [n2, n3, n4])
        s4 = Sender(self, self.connect(a.token, server=n4), "n4", attempt_s=1.0)
        for rid in rooms:
            c = cmid()
            acked[rid][c] = s4.send(rid, "after n1 died", c, deadline_s=30.0)["seq"]
        self.check_histories(a.token, rooms, acked, [n2, n3, n4])


if __name__ == "__main__":
    main()
