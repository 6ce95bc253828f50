"""Clusters of confabd processes: certificates, node specs, convergence."""

import http.client
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from .common import *  # noqa: F401,F403
from .rest import *  # noqa: F401,F403
from .ws import *  # noqa: F401,F403
from .process import *  # noqa: F401,F403
from .case import *  # noqa: F401,F403

CLUSTER_CONVERGE_S = 30.0


def write_secret(path, secret=None):
    """A cluster secret file at `path`: one line, `secret` or 64 random hex
    characters, readable by its owner only. Returns the path."""
    secret = secret or (uuid.uuid4().hex + uuid.uuid4().hex)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


def confabctl_cert(*args):
    """Run `confabctl cert ARGS...`; its stdout, or AssertionError with its stderr."""
    p = subprocess.run([CONFABCTL, "cert"] + list(args), capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("confabctl cert %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p.stdout


class ClusterCA:
    """A cluster CA in `dir` (made by confabctl cert ca) and node certificates
    signed by it, made on first use."""

    def __init__(self, dir):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        confabctl_cert("ca", "--dir", dir)
        self.ca = os.path.join(dir, "ca.pem")

    def node(self, node_id, hosts=(HOST,)):
        """(cert, key) of `node_id`, made if missing."""
        cert, key = os.path.join(self.dir, node_id + ".pem"), os.path.join(self.dir, node_id + ".key")
        if not os.path.exists(cert):
            args = ["node", "--dir", self.dir, "--node-id", node_id]
            for h in hosts:
                args += ["--host", h]
            confabctl_cert(*args)
        return cert, key

    def args(self, node_id):
        """The --cluster-ca/--cluster-cert/--cluster-key flags of `node_id`."""
        cert, key = self.node(node_id)
        return ["--cluster-ca", self.ca, "--cluster-cert", cert, "--cluster-key", key]


class NodeSpec:
    """What a cluster node is started with; kept so that a restart reuses the
    node id, data dir, seeds and both ports."""

    def __init__(self, node_id, data_dir, seeds):
        self.node_id = node_id
        self.data_dir = data_dir
        self.seeds = seeds
        self.cluster_port = None
        self.http_port = 0          # 0 until the first ready line, then its port

    def __repr__(self):
        return "NodeSpec(%s cluster=%s http=%s seeds=%r)" % (self.node_id, self.cluster_port, self.http_port,
                                                             self.seeds)


class Cluster:
    """N confabd nodes on loopback sharing one secret file and one admin token.

    Node k (1-based) has node id "n<k>", its own data dir under one temporary
    dir, a cluster port from free_port() and HTTP port 0 (later restarts reuse
    the port it got). Node 1 has no seeds; every later node seeds from node 1.
    start() starts the nodes one after the other, each waited for (ready line);
    wait_converged() waits until every running node lists every node as up.
    """

    def __init__(self, size=3, args=(), admin_token=None, secret=None):
        self.size = size
        self.args = list(args)
        self.tmp = tempfile.mkdtemp(prefix="confab-it-cluster-")
        self.secret_file = write_secret(os.path.join(self.tmp, "secret"), secret)
        self.ca = ClusterCA(os.path.join(self.tmp, "certs"))
        self.admin_token = admin_token or ("adm-" + uuid.uuid4().hex)
        self.specs = []
        self.servers = []      # current Server of each node, index k-1
        self._old = []         # earlier incarnations (killed, failed starts)

    # -- nodes --

    def start(self):
        try:
            for _ in range(self.size):
                self.add_node()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def node(self, k):
        """The current Server of node k (1-based)."""
        return self.servers[k - 1]

    def ids(self):
        return [spec.node_id for spec in self.specs]

    def running(self):
        return [s for s in self.servers if s is not None and s.running()]

    def seed_list(self):
        """The --seeds value of every node but the first: node 1's cluster port."""
        return "%s:%d" % (HOST, self.specs[0].cluster_port)

    def node_args(self, spec):
        args = ["--node-id", spec.node_id, "--cluster-port", str(spec.cluster_port),
                "--secret-file", self.secret_file, "--admin-token", self.admin_token] + self.ca.args(spec.node_id)
        if spec.seeds:
            args += ["--seeds", spec.seeds]
        return args + self.args

    def _server(self, spec):
        return Server(self.node_args(spec), data_dir=spec.data_dir, http_port=spec.http_port)

    def add_node(self, wait=True):
        """Start node n<len+1> (seeding from node 1 unless it is node 1). With
        wait=False the process is only spawned: call wait_ready(k) later."""
        k = len(self.specs) + 1
        node_id = "n%d" % k
        spec = NodeSpec(node_id, os.path.join(self.tmp, node_id, "data"), self.seed_list() if k > 1 else "")
        self.specs.append(spec)
        self.servers.append(None)
        for attempt in range(3):
            spec.cluster_port = free_port()
            s = self._server(spec)
            self.servers[k - 1] = s
            s.spawn()
            if not wait:
                return s
            try:
                return self.wait_ready(k)
            except ServerError as e:
                # a start-up failure is retried on another cluster port (the
                # free_port() one may have been taken meanwhile); a node that
                # hangs is not
                self._old.append(s)
                s.cleanup()
                if not e.died or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def wait_ready(self, k, timeout=START_DEADLINE_S):
        """Wait for node k's ready line and check it names the node and ports
        it was given; remembers its HTTP port for restarts."""
        spec, s = self.specs[k - 1], self.servers[k - 1]
        s.wait_ready(timeout)
        if s.node != spec.node_id or s.cluster_port != spec.cluster_port or \
                (spec.http_port and s.port != spec.http_port):
            raise ServerError("ready line of %r says node=%s http=%s cluster=%s"
                              % (spec, s.node, s.port, s.cluster_port))
        spec.http_port = s.port
        return s

    def kill9(self, k):
        return self.node(k).kill9()

    def restart(self, k):
        """Start node k again (after kill9/terminate) with the same node id,
        data dir, ports and seeds; waits for its ready line."""
        old = self.node(k)
        if old is not None and old.running():
            raise AssertionError("node %d is still running" % k)
        self._old.append(old)
        self.servers[k - 1] = self._server(self.specs[k - 1])
        self.servers[k - 1].spawn()
        return self.wait_ready(k)

    def stop(self, check=True):
        """SIGTERM every running node at once, wait for all; with check, a node
        that does not exit 0 is an error. Removes every temporary dir."""
        live = self.running()
        for s in live:
            try:
                s.proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
        failures = []
        for s in live:
            try:
                rc = s._wait()
            except ServerError as e:
                failures.append(str(e))
                continue
            if rc != 0:
                failures.append("node %s exited with %s after SIGTERM (expected 0); stderr:\n%s"
                                % (s.node, rc, s.stderr_text()[-3000:]))
        for s in self.servers + self._old:
            if s is not None:
                s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if check and failures:
            raise ServerError("\n".join(failures))

    # -- admin API --

    def admin(self, server, path):
        """GET an admin path of `server` with the cluster's admin token."""
        return server.http("GET", path, token=self.admin_token)

    def node_table(self, server):
        """{id: node entry} of GET /admin/api/v1/nodes on `server` (200 asserted)."""
        st, _, body = self.admin(server, "/admin/api/v1/nodes")
        if st != 200 or not isinstance(body, dict) or not isinstance(body.get("nodes"), list):
            raise AssertionError("GET /admin/api/v1/nodes on %s: %s %r" % (server.node, st, body))
        table = {}
        for n in body["nodes"]:
            if not isinstance(n, dict) or "id" not in n:
                raise AssertionError("node entry without an id on %s: %r" % (server.node, body))
            if n["id"] in table:
                raise AssertionError("node %r listed twice on %s: %r" % (n["id"], server.node, body))
            table[n["id"]] = n
        return table

    def statuses(self, server):
        """{id: status} as `server` sees the cluster."""
        return {i: n.get("status") for i, n in self.node_table(server).items()}

    def views_are(self, expected, observers=None):
        """One look: (whether every observer lists exactly `expected`, {observer
        id: its {id: status} view or the error asking it})."""
        observers = list(observers) if observers is not None else self.running()
        views = {}
        for i, s in enumerate(observers):
            if not s.ready():
                views["observer %d" % i] = "not ready"
                continue
            try:
                views[s.node] = self.statuses(s)
            except (OSError, http.client.HTTPException, AssertionError) as e:
                views[s.node] = "error: %s" % (e,)
        return all(v == expected for v in views.values()), views

    def wait_statuses(self, expected, observers=None, timeout=CLUSTER_CONVERGE_S, interval=0.1):
        """Poll until every observer (default: every running node) lists
        exactly the nodes of `expected` ({id: status}) with those statuses;
        returns {observer id: view}. A listed node not in `expected` keeps the
        wait going (and is named in the failure)."""
        observers = list(observers) if observers is not None else self.running()
        deadline = time.monotonic() + timeout
        ev = threading.Event()
        last = {}
        for _ in range(int(timeout / interval) + 2):
            done, last = self.views_are(expected, observers)
            if done:
                return last
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ev.wait(min(interval, left))
        raise AssertionError("timed out after %ss waiting until nodes %s list %r; last views: %r"
                             % (timeout, [s.node for s in observers], expected, last))

    def wait_converged(self, timeout=CLUSTER_CONVERGE_S):
        """Every node of the cluster runs and lists every node as up."""
        missing = [spec.node_id for spec, s in zip(self.specs, self.servers) if s is None or not s.running()]
        if missing:
            raise AssertionError("cluster nodes not running: %s" % missing)
        return self.wait_statuses({i: "up" for i in self.ids()}, self.running(), timeout)

    def converged(self):
        """One look: whether every node runs and every running node lists every
        node of the cluster as up."""
        if len(self.running()) != len(self.specs):
            return False
        return self.views_are({i: "up" for i in self.ids()}, self.running())[0]

    def room_admin(self, rid, server=None):
        """GET /admin/api/v1/rooms/{rid} (200 asserted)."""
        server = server or self.node(1)
        st, _, body = self.admin(server, "/admin/api/v1/rooms/%s" % rid)
        if st != 200 or not isinstance(body, dict):
            raise AssertionError("GET /admin/api/v1/rooms/%s on %s: %s %r" % (rid, server.node, st, body))
        return body

    def room_owner(self, rid, server=None):
        return self.room_admin(rid, server)["owner"]


class ClusterCase(ConfabTestCase):
    """One Cluster of `cluster_size` nodes per class (`cluster`); `server` is
    node 1. Each test starts once every node lists every node as up."""

    start_server = False
    cluster_size = 3
    cluster_args = ()
    cluster = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = Cluster(cls.cluster_size, args=cls.cluster_args).start()
        cls.server = cls.cluster.node(1)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.cluster is not None:
                cls.server = None
                cls.cluster.stop()
        finally:
            cls.cluster = None
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.cluster.wait_converged()

    def run(self, result=None):
        # a failed test prints the end of every node's stderr (the nodes are
        # still running: the cluster ends with the class)
        counted = (lambda r: len(r.failures) + len(r.errors)) if result is not None else (lambda r: 0)
        before = counted(result)
        out = super().run(result)
        if result is not None and counted(result) > before and self.cluster is not None:
            for s in self.cluster.servers + self.cluster._old:
                if s is not None:
                    sys.stderr.write("\n--- stderr of node %s (%s) ---\n%s\n"
                                     % (s.node, "running" if s.running() else "ended: %s" % s.returncode,
                                        s.stderr_text()[-3000:]))
        return out

    def nodes(self):
        """The current Server of every node, in order."""
        return list(self.cluster.servers)

    def full_history(self, token, rid, server=None):
        """Every message of a room, paging with after= (200 per page)."""
        msgs = []
        after = 0
        for _ in range(10000):
            page = self.history(token, rid, server=server, after=after, limit=200)
            msgs += page["messages"]
            if not page["has_more"] or not page["messages"]:
                return msgs
            after = page["messages"][-1]["seq"]
        raise AssertionError("history paging bound reached")


class TlsServerCase(ConfabTestCase):
    """A test class whose one server speaks TLS with a fresh self-signed
    certificate: cls.cert, cls.key, cls.ctx (a client context that trusts it)
    and cls.server, started with server_args (and server_env) plus the TLS
    flags."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="confab-it-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.cert, cls.key = make_cert(cls.tmp)
        cls.ctx = ssl.create_default_context(cafile=cls.cert)
        cls.server = Server(list(cls.server_args) + ["--tls-cert", cls.cert, "--tls-key", cls.key],
                            env=cls.server_env, ssl_context=cls.ctx).start()


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl failed: %s" % p.stderr.decode(errors="replace"))
    return cert, key
