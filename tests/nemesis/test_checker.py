"""Unit tests of the nemesis checker: each rule it enforces fails on a
history that breaks it, and a correct history passes."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

FAULTS = [{"kind": "kill", "nodes": ["n2"], "impaired": ["n2"], "start": 10.0, "end": 20.0},
          {"kind": "partition", "nodes": ["n4", "n5"], "impaired": ["n4", "n5"], "start": 30.0, "end": 40.0}]


def op(key, room="r1", user="alice", outcomes=(("ok", 1),), t0=1.0, node="n1"):
    attempts = []
    for i, (outcome, seq) in enumerate(outcomes):
        a = {"node": node, "t0": t0 + i, "t1": t0 + i + 0.5, "outcome": outcome}
        if outcome == "ok":
            a["seq"] = seq
        elif outcome == "error":
            a.update(status=503, code="unavailable")
        attempts.append(a)
    return {"key": key, "room": room, "user": user, "attempts": attempts}


def msg(seq, key, room="r1", user="alice", attempt=0):
    return {"room": room, "seq": seq, "msg_id": "m_%016x" % seq, "from": user, "body": "%s #%d" % (key, attempt),
            "client_msg_id": key}


def everywhere(msgs, room="r1", nodes=("n1", "n2", "n3")):
    return {room: {n: [dict(m) for m in msgs] for n in nodes}}


class CheckerTest(unittest.TestCase):
    def rules(self, ops, histories):
        violations, _ = checker.check(ops, histories, FAULTS)
        return sorted(v["rule"] for v in violations), violations

    def test_correct_history_passes(self):
        ops = [op("k1", outcomes=[("ok", 1)]), op("k2", outcomes=[("timeout", None), ("ok", 2)], t0=3.0),
               op("k3", outcomes=[("timeout", None)], t0=6.0), op("k4", outcomes=[("error", None)], t0=8.0),
               op("k5", outcomes=[("error", None), ("ok", 4)], t0=8.5)]
        hist = everywhere([msg(1, "k1"), msg(2, "k2"), msg(3, "k3"), msg(4, "k5", attempt=1)])
        rules, _ = self.rules(ops, hist)
        self.assertEqual(rules, [])

    def test_lost_ack_reported_with_fault(self):
        ops = [op("k1", outcomes=[("ok", 1)]), op("k2", outcomes=[("ok", 2)], t0=2.0)]
        rules, v = self.rules(ops, everywhere([msg(1, "k1")]))
        self.assertEqual(rules, ["lost"])
        self.assertEqual(v[0]["seqs"], [2])
        self.assertIn("kill n2", v[0]["fault"])      # the first fault after the ack
        ops = [op("k1", outcomes=[("ok", 1)]), op("k2", outcomes=[("ok", 2)], t0=25.0)]
        self.assertIn("partition", self.rules(ops, everywhere([msg(1, "k1")]))[1][0]["fault"])

    def test_ack_at_other_seq(self):
        ops = [op("k1", outcomes=[("ok", 1)]), op("k2", outcomes=[("ok", 1)], t0=1.2)]
        rules, _ = self.rules(ops, everywhere([msg(1, "k1"), msg(2, "k2")]))
        self.assertEqual(rules, ["moved"])

    def test_real_time_order(self):
        # k2 began (t=5) after k1's ack (t=1.5) but is stored before it
        ops = [op("k1", outcomes=[("timeout", None)], t0=1.0), op("k2", outcomes=[("timeout", None)], t0=5.0)]
        ops[0]["attempts"][0].update(outcome="ok", seq=2)
        rules, v = self.rules(ops, everywhere([msg(1, "k2"), msg(2, "k1")]))
        self.assertIn("reordered", rules)
        # concurrent sends may land in either order
        ops = [op("k1", outcomes=[("ok", 2)], t0=1.0), op("k2", outcomes=[("ok", 1)], t0=1.2)]
        self.assertEqual(self.rules(ops, everywhere([msg(1, "k2"), msg(2, "k1")]))[0], [])
        # a shown event orders too
        ops = [op("k1", outcomes=[("timeout", None)], t0=1.0), op("k2", outcomes=[("timeout", None)], t0=5.0)]
        bad, _ = checker.check(ops, everywhere([msg(1, "k2"), msg(2, "k1")]), FAULTS, seen=[["r1", 2, "k1 #0", 3.0]])
        self.assertEqual([x["rule"] for x in bad], ["reordered"])

    def test_stored_message_names_its_attempt(self):
        ops = [op("k1", outcomes=[("error", None), ("error", None)], t0=31.0)]
        _, v = self.rules(ops, everywhere([msg(1, "k1", attempt=1)]))
        self.assertIn("attempt #1", v[0]["detail"])
        rules, _ = self.rules([op("k1")], everywhere([msg(1, "k1", attempt=3)]))   # no such attempt
        self.assertEqual(rules, ["phantom"])

    def test_two_acks_at_different_seqs(self):
        ops = [op("k1", outcomes=[("ok", 1), ("ok", 2)])]
        rules, _ = self.rules(ops, everywhere([msg(1, "k1")]))
        self.assertEqual(rules, ["two_acks"])

    def test_duplicate(self):
        ops = [op("k1", outcomes=[("timeout", None), ("timeout", None)])]
        rules, v = self.rules(ops, everywhere([msg(1, "k1"), msg(2, "k1")]))
        self.assertEqual(rules, ["duplicate"])
        self.assertEqual(v[0]["seqs"], [1, 2])

    def test_phantom(self):
        ops = [op("k1")]
        rules, _ = self.rules(ops, everywhere([msg(1, "k1"), msg(2, "nobody-sent-this")]))
        self.assertEqual(rules, ["phantom"])
        rules, _ = self.rules([op("k1", user="bob")], everywhere([msg(1, "k1")]))
        self.assertEqual(rules, ["phantom"])

    def test_stored_after_error(self):
        ops = [op("k1", outcomes=[("error", None), ("error", None)], t0=31.0)]
        rules, v = self.rules(ops, everywhere([msg(1, "k1")]))
        self.assertEqual(rules, ["stored_after_error"])
        self.assertIn("partition", v[0]["fault"])

    def test_gap(self):
        ops = [op("k1"), op("k2", outcomes=[("ok", 3)])]
        rules, _ = self.rules(ops, everywhere([msg(1, "k1"), msg(3, "k2")]))
        self.assertEqual(rules, ["gap"])

    def test_fork_between_nodes(self):
        ops = [op("k1"), op("k2", outcomes=[("timeout", None)]), op("k3", outcomes=[("timeout", None)])]
        hist = {"r1": {"n1": [msg(1, "k1"), msg(2, "k2")], "n2": [msg(1, "k1"), msg(2, "k3")]}}
        rules, v = self.rules(ops, hist)
        self.assertEqual(rules, ["fork"])
        self.assertEqual(v[0]["seqs"], [2, 2])
        hist = {"r1": {"n1": [msg(1, "k1")], "n2": [msg(1, "k1"), msg(2, "k3")]}}
        self.assertEqual(self.rules(ops, hist)[0], ["fork"])

    def test_unreadable_node(self):
        ops = [op("k1")]
        hist = everywhere([msg(1, "k1")])
        hist["r1"]["n3"] = "503 unavailable"
        self.assertEqual(self.rules(ops, hist)[0], ["unreadable"])
        self.assertEqual(self.rules(ops + [op("k9", room="r2")], everywhere([msg(1, "k1")]))[0], ["unreadable"])

    def test_seen_event_must_stay(self):
        ops = [op("k1"), op("k2", outcomes=[("timeout", None)]), op("k3", outcomes=[("ok", 2)])]
        hist = everywhere([msg(1, "k1"), msg(2, "k3")])
        ok, _ = checker.check(ops, hist, FAULTS, seen=[["r1", 1, "k1 #0", 3.0], ["r1", 2, "k3 #0", 4.0]])
        self.assertEqual(ok, [])
        bad, _ = checker.check(ops, hist, FAULTS, seen=[["r1", 2, "k2 #0", 12.0]])
        self.assertEqual([v["rule"] for v in bad], ["seen_then_changed"])
        self.assertIn("kill n2", bad[0]["fault"])

    def test_members(self):
        churn = [{"room": "r1", "user": "v", "op": "join", "outcome": "ok", "t0": 1.0, "t1": 1.1},
                 {"room": "r1", "user": "v", "op": "leave", "outcome": "ok", "t0": 11.0, "t1": 11.1},
                 {"room": "r2", "user": "w", "op": "join", "outcome": "ok", "t0": 2.0, "t1": 2.1},
                 {"room": "r2", "user": "w", "op": "leave", "outcome": "timeout", "t0": 3.0, "t1": 9.0}]
        good = {"r1": {"n1": ["a", "b"], "n2": ["a", "b"]}, "r2": {"n1": ["a"], "n2": ["a"]}}
        self.assertEqual(checker.check_members(churn, good, FAULTS), [])
        bad = {"r1": {"n1": ["a", "b", "v"], "n2": ["a", "b", "v"]}, "r2": {"n1": ["a"], "n2": ["a", "w"]}}
        v = checker.check_members(churn, bad, FAULTS)
        self.assertEqual(sorted(x["rule"] for x in v), ["members_differ", "membership"])
        self.assertIn("kill n2", [x for x in v if x["rule"] == "membership"][0]["fault"])

    def test_availability_counts_only_unimpaired_nodes(self):
        ops = [op("a", outcomes=[("ok", 1)], t0=11.0, node="n1"),
               op("b", outcomes=[("error", None)], t0=12.0, node="n2"),
               op("c", outcomes=[("timeout", None)], t0=13.0, node="n3")]
        rows = checker.availability(ops, FAULTS)
        self.assertEqual((rows[0]["attempts"], rows[0]["ok"]), (2, 1))
        self.assertEqual(rows[1]["attempts"], 0)

    def test_recovery_per_room(self):
        ops = [op("a", room="r1", outcomes=[("ok", 1)], t0=21.0), op("b", room="r2", outcomes=[("ok", 1)], t0=24.0)]
        rows = checker.recovery(ops, FAULTS, 50.0)
        self.assertEqual(rows[0]["rooms_not_written"], 0)
        self.assertAlmostEqual(rows[0]["max_s"], 4.5)
        self.assertEqual(rows[1]["rooms_not_written"], 2)


if __name__ == "__main__":
    unittest.main()
