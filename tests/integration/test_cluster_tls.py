#!/usr/bin/python3
"""The cluster port admits only cluster members (PROTOCOL.md section 5),
against real nodes on loopback.

Hostile peers, each against a 3-node cluster with a live room and users: a
plain TCP client announcing a 4 GiB BASP payload (40 sockets: the node's RSS
grows less than 20 MiB and it keeps serving), a plain CAF client (no handle),
TLS clients with no certificate and with one from another CA (refused in the
handshake and logged with their address), a CAF peer with a valid
certificate but not the cluster secret (it reaches only the gate, which does
nothing for it), and a node whose certificate comes from another CA (it
cannot join and says why). After each, the members, the accounts and the
histories are unchanged. Bad start-ups (missing, mismatched and expired
files) exit 2 with one line, and confabctl cert makes keys of mode 0600.

$CONFAB_TEST_PEER is the hostile CAF peer (tests/integration/cluster_peer.cpp),
else confab-test-peer beside $CONFABD."""

import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (HOST, ClusterCA, ClusterCase, ConfabTestCase, Server, confabctl_cert, free_port,  # noqa: E402
                     main, poll, run_confabd)

PEER = os.environ.get("CONFAB_TEST_PEER") or os.path.join(os.path.dirname(harness.CONFABD), "confab-test-peer")
MIB = 1024 * 1024
CLOSE_S = 10.0


def rss_bytes(server):
    with open("/proc/%d/status" % server.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % server.proc.pid)


def metric(server, name):
    status, _, text = server.http("GET", "/metrics")
    assert status == 200, status
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


def wait_closed(sock, timeout=CLOSE_S):
    """Read until the server closes `sock`; the bytes it sent first."""
    got = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return got
        except socket.timeout:
            continue
        if not chunk:
            return got
        got += chunk
    raise AssertionError("the cluster port kept the socket open for %ss" % timeout)


def tls_refused(port, cafile=None, cert=None):
    """A TLS client (trusting `cafile`, presenting `cert`=(pem, key) if
    given) at the cluster port: returns (local port, what ended it). Raises
    if the server sent any application data (a BASP handshake)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    raw = socket.create_connection((HOST, port), timeout=CLOSE_S)
    local = raw.getsockname()[1]
    with ctx.wrap_socket(raw, do_handshake_on_connect=False) as s:
        try:
            # TLS 1.3: the client may finish before the server has checked
            # its certificate; the refusal then comes on the first read.
            s.do_handshake()
            data = s.recv(1024)
            if data:
                raise AssertionError("the cluster port sent %d bytes to an unauthenticated peer" % len(data))
            return local, "closed"
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            return local, str(e)


def warn_lines(server, pattern):
    return [line for line in server.stderr_text().splitlines() if re.search(pattern, line)]


class HostilePeerTest(ClusterCase):
    """Attacks on n1's cluster port; after each, nothing changed."""

    cluster_size = 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="confab-it-hostile-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.other_ca = ClusterCA(os.path.join(cls.tmp, "other-ca"))

    def setUp(self):
        super().setUp()
        n1, n2, n3 = self.nodes()
        self.alice = self.new_user(server=n1)
        self.bob = self.new_user(server=n2)
        self.rid = self.create_room(self.alice.token, server=n1)["id"]
        self.join(self.bob.token, self.rid, server=n3)
        for i in range(5):
            self.post(self.alice.token, self.rid, "before %d" % i, server=n2)
        self.before = self.snapshot()

    def snapshot(self):
        """What an attack must not change: members as each node sees them,
        the room's history through each node, who the users are."""
        views = {s.node: self.cluster.statuses(s) for s in self.nodes()}
        histories = [[(m["seq"], m["from"], m.get("body")) for m in self.full_history(self.alice.token, self.rid, server=s)]
                     for s in self.nodes()]
        users = {u.username: self.assert_status(self.api("GET", "/api/v1/users/" + u.username, token=self.alice.token),
                                                200)["user"]["id"]
                 for u in (self.alice, self.bob)}
        return views, histories, users

    def assert_unchanged(self):
        views, histories, users = self.snapshot()
        self.assertEqual(views, self.before[0])
        self.assertEqual(histories, self.before[1])
        for h in histories:
            self.assertEqual([m[0] for m in h], list(range(1, 6)))
        self.assertEqual(users, self.before[2])
        # the users' passwords still work, and no other user appeared
        self.login(self.alice.username, self.alice.password, server=self.cluster.node(3))
        for name in ("intruder", "attacker", "admin"):
            self.assert_error(self.api("GET", "/api/v1/users/" + name, token=self.alice.token), 404)
        # and the cluster still chats across nodes
        ws = self.connect(self.bob.token, server=self.cluster.node(3))
        seq = self.post(self.alice.token, self.rid, "after", server=self.cluster.node(1))["seq"]
        ws.wait_event("message", lambda d: d.get("room") == self.rid and d.get("seq") == seq, timeout=10)

    def test_basp_header_announcing_4_gib_costs_no_memory(self):
        n1 = self.cluster.node(1)
        port = n1.cluster_port
        refused_before = metric(n1, "confab_cluster_tls_refused_total")
        rss_before = rss_bytes(n1)
        # a BASP header: direct message, payload of 0xffffffff bytes, version 3
        header = struct.pack(">BxxBIQQQ", 2, 0, 0xFFFFFFFF, 3, 0, 1)
        self.assertEqual(len(header), 32)
        socks = []
        try:
            for _ in range(40):
                s = socket.create_connection((HOST, port), timeout=CLOSE_S)
                s.sendall(header + b"\0" * 4096)
                socks.append(s)
            for s in socks:
                got = wait_closed(s)
                self.assertEqual(got, b"", "the cluster port answered a plain TCP peer")
        finally:
            for s in socks:
                s.close()
        grew = rss_bytes(n1) - rss_before
        self.assertLess(grew, 20 * MIB, "RSS grew %.1f MiB" % (grew / MIB))
        poll(lambda: metric(n1, "confab_cluster_tls_refused_total") >= refused_before + 40,
             "every socket counted as refused", timeout=5)
        # logged with the address, once for the forty (same address, same reason)
        lines = warn_lines(n1, r"refused TLS peer 127\.0\.0\.1:\d+ in the handshake: wrong version number")
        self.assertEqual(len(lines), 1, lines)
        self.assert_healthy(n1)
        self.assert_unchanged()

    def test_plain_caf_client_gets_no_handle(self):
        n1 = self.cluster.node(1)
        p = subprocess.run([PEER, "plain", HOST, str(n1.cluster_port)], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("connect: no handle", p.stdout)
        self.assertNotIn("connect: handle", p.stdout)
        self.assert_unchanged()

    def test_tls_client_without_certificate_is_refused_and_logged(self):
        n1 = self.cluster.node(1)
        local, why = tls_refused(n1.cluster_port, cafile=self.cluster.ca.ca)
        lines = poll(lambda: warn_lines(n1, r"refused TLS peer 127\.0\.0\.1:%d in the handshake" % local),
                     "the refusal logged with the peer's address", timeout=5)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], "did not return a certificate")
        self.assert_unchanged()

    def test_tls_client_with_another_cas_certificate_is_refused_and_logged(self):
        n1 = self.cluster.node(1)
        local, why = tls_refused(n1.cluster_port, cafile=self.cluster.ca.ca, cert=self.other_ca.node("attacker"))
        lines = poll(lambda: warn_lines(n1, r"refused TLS peer 127\.0\.0\.1:%d in the handshake" % local),
                     "the refusal logged with the peer's address", timeout=5)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], "certificate verify failed.*not from this cluster's CA")
        self.assert_unchanged()

    def test_peer_with_a_cluster_certificate_but_not_the_secret_reaches_only_the_gate(self):
        n1 = self.cluster.node(1)
        cert, key = self.cluster.ca.node("intruder")
        p = subprocess.run([PEER, "tls", HOST, str(n1.cluster_port), self.cluster.ca.ca, cert, key],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        steps = dict(line.split(": ", 1) for line in p.stdout.splitlines() if ": " in line)
        self.assertEqual(steps.get("connect"), "handle", p.stdout)
        # the gate knows no sync and no drain, and admits no made-up proof
        for step in ("sync", "drain", "hello"):
            self.assertTrue(steps.get(step, "").startswith("refused"), "%s: %r" % (step, p.stdout))
        self.assertIn("refused node intruder", n1.stderr_text())
        self.assert_unchanged()

    def test_node_with_a_certificate_of_another_ca_cannot_join_and_says_why(self):
        n1 = self.cluster.node(1)
        d = os.path.join(self.tmp, "stranger")
        cert, key = self.other_ca.node("stranger")
        stranger = Server(["--node-id", "stranger", "--cluster-port", str(free_port()),
                           "--secret-file", self.cluster.secret_file, "--admin-token", self.cluster.admin_token,
                           "--seeds", "%s:%d" % (HOST, n1.cluster_port),
                           "--cluster-ca", self.other_ca.ca, "--cluster-cert", cert, "--cluster-key", key],
                          data_dir=os.path.join(d, "data"))
        self.addCleanup(stranger.cleanup)
        stranger.spawn()
        why = r"refused TLS peer 127\.0\.0\.1:%d in the handshake: certificate verify failed" % n1.cluster_port
        poll(lambda: warn_lines(stranger, why), "the stranger says why it cannot join", timeout=20, interval=0.1)
        self.assertEqual(sorted(self.cluster.statuses(n1)), ["n1", "n2", "n3"])
        self.assert_unchanged()


class StartupTest(ConfabTestCase):
    """A node with --cluster-port and no usable certificate, key or CA exits
    2 with one line."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="confab-it-certs-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.ca = ClusterCA(os.path.join(cls.tmp, "ca"))
        cls.cert, cls.key = cls.ca.node("n1")
        cls.other = ClusterCA(os.path.join(cls.tmp, "other"))

    def start_fails(self, ca, cert, key, pattern):
        d = tempfile.mkdtemp(dir=self.tmp)
        rc, out, err = run_confabd(["--data-dir", os.path.join(d, "data"), "--http-port", "0",
                                    "--cluster-port", str(free_port()), "--cluster-ca", ca, "--cluster-cert", cert,
                                    "--cluster-key", key])
        self.assertEqual(rc, 2, err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], pattern)
        self.assertNotIn("confabd ready", out)

    def test_missing_key(self):
        self.start_fails(self.ca.ca, self.cert, os.path.join(self.tmp, "nope.key"),
                         r"^confabd: cannot read cluster key .*nope\.key: No such file")

    def test_key_of_another_certificate(self):
        _, other_key = self.ca.node("n2")
        self.start_fails(self.ca.ca, self.cert, other_key, r"^confabd: cluster key .* is not the key of the cluster "
                                                           r"certificate")

    def test_certificate_of_another_ca(self):
        self.start_fails(self.ca.ca, self.other.node("n1")[0], self.other.node("n1")[1],
                         r"^confabd: cluster certificate .* is not signed by the cluster CA")

    def test_expired_certificate(self):
        d = tempfile.mkdtemp(dir=self.tmp)
        db = os.path.join(d, "db")
        os.makedirs(db)
        open(os.path.join(db, "index"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("01\n")
        conf = os.path.join(d, "ca.cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index\nnew_certs_dir = %s\nserial = %s/serial\n"
                    "default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n" % (db, db, db))
        key, csr, cert = (os.path.join(d, n) for n in ("n.key", "n.csr", "n.pem"))
        for cmd in (["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", key, "-out", csr, "-subj", "/CN=n1"],
                    ["openssl", "ca", "-batch", "-config", conf, "-cert", self.ca.ca, "-keyfile",
                     os.path.join(self.ca.dir, "ca.key"), "-in", csr, "-out", cert,
                     "-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]):
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.start_fails(self.ca.ca, cert, key, r"^confabd: cluster certificate .* expired on Jan  2 00:00:00 2020")

    def test_missing_ca_under_the_data_dir_by_default(self):
        d = tempfile.mkdtemp(dir=self.tmp)
        rc, out, err = run_confabd(["--data-dir", os.path.join(d, "data"), "--http-port", "0",
                                    "--cluster-port", str(free_port())])
        self.assertEqual(rc, 2, err)
        self.assertRegex(err.strip(), r"^confabd: cannot read cluster CA .*/data/cluster/ca\.pem: No such file")

    def test_cluster_port_listens_on_cluster_bind_only(self):
        """--bind is for clients; the cluster port is on --cluster-bind."""
        d = tempfile.mkdtemp(dir=self.tmp)
        s = Server(["--cluster-port", str(free_port()), "--cluster-bind", "127.0.0.2", "--cluster-ca", self.ca.ca,
                    "--cluster-cert", self.cert, "--cluster-key", self.key],
                   data_dir=os.path.join(d, "data"))
        self.addCleanup(s.cleanup)
        s.start()
        self.assertGreater(s.cluster_port, 0)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((HOST, s.cluster_port), timeout=CLOSE_S).close()
        socket.create_connection(("127.0.0.2", s.cluster_port), timeout=CLOSE_S).close()
        # the client port stays on --bind
        self.assertEqual(s.http("GET", "/healthz")[0], 200)

    def test_cert_keys_are_private_and_never_overwritten(self):
        d = os.path.join(self.tmp, "fresh")
        ca = ClusterCA(d)
        cert, key = ca.node("n7", hosts=("127.0.0.1", "node7.example"))
        for f in (os.path.join(d, "ca.key"), key):
            self.assertEqual(os.stat(f).st_mode & 0o777, 0o600, f)
        text = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-text"], capture_output=True, text=True,
                              timeout=30).stdout
        self.assertIn("DNS:n7", text)
        self.assertIn("IP Address:127.0.0.1", text)
        self.assertIn("DNS:node7.example", text)
        self.assertIn("TLS Web Client Authentication", text)
        verify = subprocess.run(["openssl", "verify", "-CAfile", ca.ca, cert], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        with self.assertRaisesRegex(AssertionError, "exists already"):
            confabctl_cert("ca", "--dir", d)
        with self.assertRaisesRegex(AssertionError, "exists already"):
            confabctl_cert("node", "--dir", d, "--node-id", "n7")


if __name__ == "__main__":
    main()
