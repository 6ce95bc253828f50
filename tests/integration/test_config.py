#!/usr/bin/python3
"""Start-up: ready line, admin token line, flags, CONFAB_* environment,
--config file and precedence, bad flags and data dirs (exit 2, one line),
SIGTERM (exit 0, open sockets closed with 4000)."""

import os
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ADMIN_RE, ConfabTestCase, READY_RE, Server, free_port, main,  # noqa: E402
                     run_confabd)


class TempDirCase(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="confab-it-cfg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, args=(), **kw):
        kw.setdefault("data_dir", os.path.join(self.tmp, "data"))
        s = Server(args, **kw)
        self.addCleanup(s.cleanup)
        return s.start()

    def healthz(self, s):
        st, _, body = s.http("GET", "/healthz")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["status"], "ok")
        return body


class ReadyLineTest(TempDirCase):

    def test_ready_line_and_admin_token(self):
        s = self.start()
        ready = [i for i, l in enumerate(s.stdout_lines) if READY_RE.match(l)]
        self.assertEqual(len(ready), 1, s.stdout_lines)
        self.assertGreater(s.port, 0)
        self.assertNotEqual(s.port, 8080)
        self.assertEqual(s.cluster_port, 0)
        self.assertTrue(s.node)
        admin = [i for i, l in enumerate(s.stdout_lines) if ADMIN_RE.match(l)]
        self.assertEqual(len(admin), 1, "no `confabd admin-token=` line: %s" % s.stdout_lines)
        self.assertLess(admin[0], ready[0], "the admin token must be printed before the ready line")
        self.assertGreaterEqual(len(s.admin_token), 16)
        # accepting clients as soon as the line is out: no retry here
        self.assertEqual(self.healthz(s)["node"], s.node)
        s.stop()

    def test_given_admin_token_is_not_printed(self):
        token = "adm-" + "0123456789abcdef"
        s = self.start(["--admin-token", token])
        self.assertFalse([l for l in s.stdout_lines if ADMIN_RE.match(l)], s.stdout_lines)
        self.assertFalse([l for l in s.stdout_lines if token in l], "the given admin token was printed")
        s.stop()

    def test_admin_tokens_differ_between_nodes(self):
        s1 = self.start(data_dir=os.path.join(self.tmp, "d1"))
        s2 = self.start(data_dir=os.path.join(self.tmp, "d2"))
        self.assertNotEqual(s1.admin_token, s2.admin_token)
        self.assertNotEqual(s1.port, s2.port)
        s1.stop()
        s2.stop()

    def test_node_id_flag(self):
        s = self.start(["--node-id", "node-alpha"])
        self.assertEqual(s.node, "node-alpha")
        self.assertEqual(self.healthz(s)["node"], "node-alpha")
        s.stop()

    def test_data_dir_is_created_with_secret(self):
        data = os.path.join(self.tmp, "nested", "deeper", "data")
        s = self.start(data_dir=data)
        self.assertTrue(os.path.isdir(data))
        secret = os.path.join(data, "secret")
        self.assertTrue(os.path.isfile(secret), os.listdir(data))
        self.assertGreater(os.path.getsize(secret), 0)
        self.assertEqual(os.stat(secret).st_mode & 0o777, 0o600, "the secret must be readable by its owner only")
        s.stop()

    def test_secret_file_flag(self):
        secret = os.path.join(self.tmp, "my-secret")
        s = self.start(["--secret-file", secret])
        self.assertTrue(os.path.isfile(secret))
        self.assertFalse(os.path.exists(os.path.join(s.data_dir, "secret")))
        s.stop()


class EnvAndConfigTest(TempDirCase):

    def test_env_http_port(self):
        port = free_port()
        s = self.start(http_port=None, env={"CONFAB_HTTP_PORT": str(port)})
        self.assertEqual(s.port, port)
        self.healthz(s)
        s.stop()

    def test_env_node_id_and_data_dir(self):
        data = os.path.join(self.tmp, "from-env")
        s = self.start(data_dir=False, env={"CONFAB_NODE_ID": "env-node", "CONFAB_DATA_DIR": data})
        self.assertEqual(s.node, "env-node")
        self.assertTrue(os.path.isfile(os.path.join(data, "secret")))
        s.stop()

    def test_config_file(self):
        port = free_port()
        cfg = os.path.join(self.tmp, "confabd.conf")
        data = os.path.join(self.tmp, "cfg-data")
        with open(cfg, "w") as f:
            f.write("http-port = %d\nnode-id = cfg-node\ndata-dir = %s\n" % (port, data))
        s = self.start(["--config", cfg], http_port=None, data_dir=False)
        self.assertEqual(s.port, port)
        self.assertEqual(s.node, "cfg-node")
        self.assertTrue(os.path.isfile(os.path.join(data, "secret")))
        self.assertEqual(self.healthz(s)["node"], "cfg-node")
        s.stop()

    def test_config_file_limits_apply(self):
        cfg = os.path.join(self.tmp, "limits.conf")
        with open(cfg, "w") as f:
            f.write("auth-timeout-ms = 300\n")
        s = self.start(["--config", cfg])
        ws = s.ws()
        try:
            self.assertEqual(ws.expect_close(timeout=5), 4408)
        finally:
            ws.close()
        s.stop()

    def test_precedence_command_line_env_config(self):
        cfg = os.path.join(self.tmp, "prec.conf")
        with open(cfg, "w") as f:
            f.write("node-id = from-config\n")
        s = self.start(["--config", cfg], env={"CONFAB_NODE_ID": "from-env"},
                       data_dir=os.path.join(self.tmp, "p1"))
        self.assertEqual(s.node, "from-env")
        s.stop()
        s = self.start(["--config", cfg, "--node-id", "from-cli"], env={"CONFAB_NODE_ID": "from-env"},
                       data_dir=os.path.join(self.tmp, "p2"))
        self.assertEqual(s.node, "from-cli")
        s.stop()
        s = self.start(["--config", cfg], data_dir=os.path.join(self.tmp, "p3"))
        self.assertEqual(s.node, "from-config")
        s.stop()

    def test_config_file_via_env(self):
        cfg = os.path.join(self.tmp, "env.conf")
        with open(cfg, "w") as f:
            f.write("node-id = via-env-config\n")
        s = self.start(env={"CONFAB_CONFIG": cfg})
        self.assertEqual(s.node, "via-env-config")
        s.stop()


class BadStartTest(TempDirCase):

    def assert_exit2(self, args, env=None, data_dir=True, http_port=True):
        full = ["--http-port", "0"] if http_port else []
        if data_dir:
            full += ["--data-dir", os.path.join(self.tmp, "data")]
        full += args
        rc, out, err = run_confabd(full, env=env)
        self.assertEqual(rc, 2, "confabd %s: rc=%s stdout=%r stderr=%r" % (" ".join(args), rc, out, err))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr, got %r" % err)
        self.assertTrue(lines[0].strip())
        self.assertNotIn("confabd ready", out)
        return lines[0]

    def test_bad_flags(self):
        cases = [["--no-such-flag"], ["--http-port", "abc"], ["--http-port", "70000"],
                 ["--log-level", "loud"], ["--rate-per-s", "0"], ["--max-frame", "x"],
                 ["--admin-token", "short"], ["--max-file-size", "12Q"], ["--io-threads", "0"],
                 ["--data-dir"], ["stray-positional"], ["--replication", "0"], ["--replication", "8"]]
        for args in cases:
            with self.subTest(args=args):
                self.assert_exit2(args)

    def test_bad_env_value(self):
        self.assert_exit2([], env={"CONFAB_HTTP_PORT": "not-a-port"}, http_port=False)
        self.assert_exit2([], env={"CONFAB_RATE_BURST": "lots"})

    def test_data_dir_under_regular_file(self):
        f = os.path.join(self.tmp, "plain-file")
        with open(f, "w") as fh:
            fh.write("x")
        rc, out, err = run_confabd(["--http-port", "0", "--data-dir", os.path.join(f, "data")])
        self.assertEqual(rc, 2, "rc=%s stdout=%r stderr=%r" % (rc, out, err))
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertNotIn("confabd ready", out)

    def test_data_dir_is_a_regular_file(self):
        f = os.path.join(self.tmp, "plain-file")
        with open(f, "w") as fh:
            fh.write("x")
        rc, out, err = run_confabd(["--http-port", "0", "--data-dir", f])
        self.assertEqual(rc, 2, "rc=%s stdout=%r stderr=%r" % (rc, out, err))
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_data_dir_in_use_by_another_node(self):
        data = os.path.join(self.tmp, "shared")
        s = self.start(data_dir=data)
        rc, out, err = run_confabd(["--http-port", "0", "--data-dir", data])
        self.assertEqual(rc, 2, "second node on a locked data dir: rc=%s stdout=%r stderr=%r" % (rc, out, err))
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.healthz(s)
        s.stop()

    def test_config_file_problems(self):
        self.assert_exit2(["--config", os.path.join(self.tmp, "missing.conf")])
        cfg = os.path.join(self.tmp, "unknown-key.conf")
        with open(cfg, "w") as f:
            f.write("no-such-key = 1\n")
        self.assert_exit2(["--config", cfg])
        cfg = os.path.join(self.tmp, "bad-value.conf")
        with open(cfg, "w") as f:
            f.write("rate-burst = lots\n")
        self.assert_exit2(["--config", cfg])


class ShutdownTest(ConfabTestCase):
    start_server = False

    def test_sigterm_closes_sockets_with_4000_and_exits_0(self):
        s = Server()
        self.addCleanup(s.cleanup)
        s.start()
        a = self.new_user(server=s)
        b = self.new_user(server=s)
        rid = self.create_room(a.token, server=s)["id"]
        self.join(b.token, rid, server=s)
        wa = self.connect(a.token, server=s)
        wb = self.connect(b.token, server=s)
        wa2 = self.connect(a.token, server=s)
        ack = wa.ok("send", room=rid, body="last words", client_msg_id="bye")
        wb.wait_event("message", lambda d: d["seq"] == ack["seq"])
        s.proc.send_signal(signal.SIGTERM)
        for name, ws in (("a", wa), ("b", wb), ("a2", wa2)):
            with self.subTest(client=name):
                self.assertEqual(ws.expect_close(timeout=15), 4000)
        self.assertEqual(s.terminate(), 0, s.stderr_text()[-3000:])

    def test_sigint_behaves_like_sigterm(self):
        s = Server()
        self.addCleanup(s.cleanup)
        s.start()
        a = self.new_user(server=s)
        ws = self.connect(a.token, server=s)
        s.proc.send_signal(signal.SIGINT)
        self.assertEqual(ws.expect_close(timeout=15), 4000)
        self.assertEqual(s.terminate(), 0, s.stderr_text()[-3000:])

    def test_sigterm_when_idle_exits_0(self):
        s = Server()
        self.addCleanup(s.cleanup)
        s.start()
        self.assertEqual(s.terminate(), 0, s.stderr_text()[-3000:])


if __name__ == "__main__":
    main()
