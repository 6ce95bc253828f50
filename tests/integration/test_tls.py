#!/usr/bin/python3
"""TLS: --tls-cert/--tls-key serve HTTPS and WSS with a self-signed cert."""

import os
import shutil
import ssl
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import TlsServerCase, http_request, main, make_cert, raw_http, run_confabd  # noqa: E402


class TlsTest(TlsServerCase):

    def test_https_healthz(self):
        self.assert_healthy()

    def test_certificate_is_verified(self):
        # a context that does not trust the cert refuses the server
        strict = ssl.create_default_context()
        with self.assertRaises(ssl.SSLError):
            http_request(self.server.port, "GET", "/healthz", ssl_context=strict)

    def test_plain_http_is_not_served(self):
        resp = raw_http(self.server.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", timeout=3)
        self.assertNotIn(b'"status":"ok"', resp.replace(b" ", b""))
        self.assert_healthy()

    def test_https_api_and_wss(self):
        a = self.new_user()
        b = self.new_user()
        rid = self.create_room(a.token)["id"]
        self.join(b.token, rid)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        self.assertTrue(wa.ws.is_ssl())
        self.assertEqual(wa.auth_data["user"]["username"], a.username)
        self.assertEqual(wa.auth_data["node"], self.server.node)
        ack = wa.ok("send", room=rid, body="secure \U0001F512", client_msg_id="tls-1")
        self.assertEqual(ack["seq"], 1)
        ev = wb.wait_event("message", lambda d: d["room"] == rid)
        self.assertEqual((ev["seq"], ev["body"], ev["from"]), (1, "secure \U0001F512", a.username))
        self.assertEqual([m["body"] for m in self.all_messages(b.token, rid)], ["secure \U0001F512"])
        self.assertEqual(wb.ok("ping"), {})

    def test_wss_auth_rules_hold(self):
        ws = self.connect()
        ws.send_obj({"op": "ping", "id": 1})
        self.assertEqual(ws.expect_close(), 4401)


class TlsFlagsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="confab-it-tlsflags-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def assert_exit2(self, args):
        rc, out, err = run_confabd(["--http-port", "0", "--data-dir", os.path.join(self.tmp, "data")] + args)
        self.assertEqual(rc, 2, "rc=%s stdout=%r stderr=%r" % (rc, out, err))
        self.assertEqual(len(err.strip().splitlines()), 1, "expected one line on stderr: %r" % err)
        self.assertNotIn("confabd ready", out)

    def test_missing_cert_files(self):
        missing = os.path.join(self.tmp, "nope.pem")
        self.assert_exit2(["--tls-cert", missing, "--tls-key", missing])

    def test_cert_without_key(self):
        cert, _ = make_cert(self.tmp)
        self.assert_exit2(["--tls-cert", cert])

    def test_garbage_pem(self):
        bad = os.path.join(self.tmp, "bad.pem")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        self.assert_exit2(["--tls-cert", bad, "--tls-key", bad])


if __name__ == "__main__":
    main()
