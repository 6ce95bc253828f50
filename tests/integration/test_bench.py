#!/usr/bin/python3
"""Smoke tests of confab-bench (docs/PERFORMANCE.md), so that the tool does not
rot: each workload (rooms, dm, bigroom, idle, history) runs briefly against a
real confabd and its JSON line reports a clean run (nothing lost, duplicated,
reordered or refused, every send acked, latencies and server readings
present); a server that refuses sends (the default rate limit) makes it report
loss and exit 1; bad flags exit 2, a non-loopback server 1.

The binary is $CONFAB_BENCH, else confab-bench beside $CONFABD."""

import json
import math
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HOST, ConfabTestCase, clean_env, main  # noqa: E402

CONFAB_BENCH = os.environ.get("CONFAB_BENCH") or os.path.join(os.path.dirname(os.path.abspath(harness.CONFABD)),
                                                              "confab-bench")
TOKEN = "bench-admin-" + uuid.uuid4().hex
BENCH_TIMEOUT_S = 60.0     # one short bench run: set-up, warm-up, a step, its drain
SETUP_TIMEOUT_S = 20       # --setup-timeout: connecting, joining, waiting for a quiet server
FLAGS_TIMEOUT_S = 20.0     # a run that stops at its flags or its URL
# bench loads exceed the default per-session send limit (20/s, burst 50)
UNLIMITED = ("--rate-per-s", "100000", "--rate-burst", "100000")
STEP_CLEAN = ("lost", "duplicates", "out_of_order", "errors")


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def run_bench(args, timeout=BENCH_TIMEOUT_S):
    """Run confab-bench with `args`: (rc, stdout, stderr). A run still going
    after `timeout` is killed and fails the test."""
    if not os.path.exists(CONFAB_BENCH):
        raise AssertionError("confab-bench binary not found at %s (set CONFAB_BENCH)" % CONFAB_BENCH)
    try:
        p = subprocess.run([CONFAB_BENCH] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=clean_env(), timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("confab-bench %s still running after %ss; stdout=%r stderr=%r"
                             % (" ".join(args), timeout, e.stdout, e.stderr))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class BenchCase(ConfabTestCase):
    server_args = ("--admin-token", TOKEN) + UNLIMITED

    def bench(self, workload, *args, expect_rc=0):
        """Run a workload against the class's server; returns the JSON object
        of the last stdout line (exit code `expect_rc` asserted)."""
        cmd = ["--url", "http://%s:%d" % (HOST, self.server.port), "--admin-token", TOKEN,
               "--server-pid", str(self.server.proc.pid), "--setup-timeout", str(SETUP_TIMEOUT_S),
               "--workload", workload] + list(args)
        rc, out, err = run_bench(cmd)
        what = "confab-bench %s\nstdout:\n%s\nstderr:\n%s" % (" ".join(cmd), out[-4000:], err[-3000:])
        self.assertEqual(rc, expect_rc, "exit code of " + what)
        lines = out.strip().splitlines()
        self.assertTrue(lines, "no output: " + what)
        try:
            result = json.loads(lines[-1])
        except ValueError as e:
            raise AssertionError("last stdout line is not JSON (%s): %s" % (e, what))
        self.assertIsInstance(result, dict, what)
        self.assertEqual(result.get("workload"), workload, what)
        self.assertEqual(result.get("protocol"), "confab", what)
        self.assert_healthy()
        return result

    def steps(self, result, count=1):
        steps = result.get("steps")
        self.assertIsInstance(steps, list, result)
        self.assertEqual(len(steps), count, "steps of %r" % (result,))
        for s in steps:
            self.assertIsInstance(s, dict, result)
        return steps

    def assert_clean_step(self, s, fanout=None):
        """A step where every send was acked and delivered once, in order;
        `fanout`: deliveries expected per send."""
        for f in STEP_CLEAN:
            self.assertEqual(s.get(f), 0, "%s in step %r" % (f, s))
        self.assertTrue(is_number(s.get("sent")) and s["sent"] > 0, s)
        self.assertTrue(is_number(s.get("expected")) and s["expected"] > 0, s)
        self.assertEqual(s.get("received"), s["expected"], s)
        if fanout is not None:
            self.assertEqual(s["expected"], s["sent"] * fanout, s)
        for f in ("acked_per_s", "p50_ms", "server_rss_kib"):
            self.assertTrue(is_number(s.get(f)) and s[f] > 0, "%s in step %r" % (f, s))
        for f in ("p90_ms", "p99_ms", "max_ms"):
            self.assertTrue(is_number(s.get(f)) and s[f] >= s["p50_ms"], "%s in step %r" % (f, s))
        self.assertEqual(s.get("completeness"), 1.0, s)


class WorkloadsTest(BenchCase):
    """Each workload, briefly, against a server that limits nothing."""

    STEP_ARGS = ("--duration", "1", "--warmup", "0.3", "--drain", "10")

    def test_rooms(self):
        r = self.bench("rooms", "--rooms", "2", "--members", "3", "--rate", "30", *self.STEP_ARGS)
        self.assertEqual((r.get("rooms"), r.get("members"), r.get("connections")), (2, 3, 6), r)
        for s in self.steps(r):
            self.assert_clean_step(s, fanout=3)      # each member, the sender too, gets each message

    def test_dm(self):
        r = self.bench("dm", "--pairs", "3", "--rate", "30", *self.STEP_ARGS)
        self.assertEqual((r.get("pairs"), r.get("connections")), (3, 6), r)
        for s in self.steps(r):
            self.assert_clean_step(s, fanout=1)

    def test_bigroom(self):
        r = self.bench("bigroom", "--members", "10", "--rate", "20", *self.STEP_ARGS)
        self.assertEqual((r.get("rooms"), r.get("members"), r.get("connections")), (1, 10, 10), r)
        for s in self.steps(r):
            self.assert_clean_step(s, fanout=10)

    def test_listed_rates_make_one_step_each(self):
        r = self.bench("rooms", "--rooms", "1", "--members", "2", "--rate", "10,20", "--duration", "0.5",
                       "--warmup", "0", "--drain", "10")
        steps = self.steps(r, count=2)
        for s in steps:
            self.assert_clean_step(s, fanout=2)
        self.assertLess(steps[0]["offered_per_s"], steps[1]["offered_per_s"], steps)

    def test_idle(self):
        r = self.bench("idle", "--connections", "20", "--members", "5", "--duration", "0.5")
        self.assertEqual(r.get("connections"), 20, r)
        self.assertTrue(is_number(r.get("logins_per_s")) and r["logins_per_s"] > 0, r)
        self.assertTrue(is_number(r.get("rss_per_conn_kib")), r)
        self.assertTrue(is_number(r.get("server_rss_kib")) and r["server_rss_kib"] > 0, r)
        self.assertEqual(r.get("failures"), 0, r)

    def test_history(self):
        r = self.bench("history", "--history-messages", "300", "--history-clients", "5", "--duration", "1")
        self.assertEqual(r.get("filled"), 300, r)
        self.assertEqual(r.get("connections"), 6, r)       # the writer and 5 readers
        for s in self.steps(r):
            self.assert_clean_step(s)
            # the room holds 300 messages: every page is full
            self.assertEqual(s.get("messages_per_page"), 50, s)


class LossTest(BenchCase):
    """The default per-session rate limit (20/s, burst 50) refuses most of 200
    sends/s: the tool must see it."""

    server_args = ("--admin-token", TOKEN)

    def test_refused_sends_are_reported_as_loss(self):
        r = self.bench("rooms", "--rooms", "1", "--members", "2", "--rate", "200", "--duration", "1",
                       "--warmup", "0", "--drain", "2", expect_rc=1)
        steps = self.steps(r)
        for s in steps:
            self.assertGreater(s.get("lost", 0), 0, s)
            self.assertLess(s["received"], s["expected"], s)
            self.assertTrue(s.get("saturated"), s)
        # the refusals themselves (error replies to sends) are counted
        self.assertTrue(any(s.get("errors", 0) > 0 for s in steps),
                        "no step counts the rate_limited replies as errors: %r" % (steps,))


class FlagsTest(ConfabTestCase):
    """Runs that stop before any load: no server needed."""

    start_server = False

    def assert_run(self, args, rc, stream_re=None, stderr=True):
        got, out, err = run_bench(args, timeout=FLAGS_TIMEOUT_S)
        self.assertEqual(got, rc, "confab-bench %s: rc=%s stdout=%r stderr=%r" % (" ".join(args), got, out, err))
        if stream_re is not None:
            self.assertRegex(err if stderr else out, stream_re)
        return out, err

    def test_help(self):
        out, _ = self.assert_run(["--help"], 0, r"--workload", stderr=False)
        for flag in ("--url", "--admin-token", "--rate", "--duration", "--server-pid"):
            self.assertIn(flag, out)

    def test_bad_flags_exit_2(self):
        for args in (["--no-such-flag"], ["--rooms", "many"], ["--duration"], ["--protocol", "irc"]):
            with self.subTest(args=args):
                self.assert_run(args + ["--admin-token", TOKEN], 2, r"\S")

    def test_non_loopback_url_exits_1(self):
        for url in ("http://10.1.2.3:1", "http://192.0.2.1:8080"):
            with self.subTest(url=url):
                self.assert_run(["--url", url, "--admin-token", TOKEN, "--workload", "idle", "--connections", "1"],
                                1, r"(?i)loopback")

    def test_confab_protocol_needs_admin_token(self):
        self.assert_run(["--url", "http://%s:%d" % (HOST, harness.free_port()), "--workload", "idle",
                         "--connections", "1"], 2, r"--admin-token")


if __name__ == "__main__":
    main()
