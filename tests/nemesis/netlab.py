"""A small network of our own: one Linux bridge in the root namespace and, for
each node, a network namespace joined to it by a veth pair. Faults are
nftables drop rules inside the node namespaces and signals to the processes.

Addresses are 10.X.Y.0/24 with X.Y taken from this process's pid (a subnet no
route of this machine uses); the bridge is .1 (the clients' address), node
n<k> is .(10+k). Names carry the pid: namespaces `confab-nem-<pid>-n<k>`,
interfaces `cnb<tag>` (bridge) and `cnv<tag>n<k>` (the root end of node k's
veth), tag = pid in hex, at most 5 digits. Everything made is removed by
close(), also after a failure; remove_stale() removes what a run that died
without closing left (its pid no longer running).
"""

import ipaddress
import os
import re
import resource
import signal
import subprocess
import threading
import time

NS_PREFIX = "confab-nem-"
NS_RE = re.compile(r"^confab-nem-(\d+)-n\d+$")


def sh(*args, check=True, input=None, timeout=20):
    """Run a command; its stdout. Raises with stderr when check fails (a
    command that hangs past `timeout` fails too; without check: "")."""
    try:
        p = subprocess.run(list(args), capture_output=True, text=True, input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        if check:
            raise RuntimeError("%s did not finish in %ss" % (" ".join(args), timeout))
        return ""
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p.stdout


def _tag(pid):
    return "%x" % (pid & 0xfffff)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _netns_list():
    return [line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.strip()]


def _delete_ns(ns):
    for pid in sh("ip", "netns", "pids", ns, check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    sh("ip", "netns", "del", ns, check=False)


def remove_stale():
    """Remove namespaces and links of nemesis runs whose process is gone
    (a bridge with no live run's namespaces too: a run that died setting up)."""
    dead, live_tags = set(), {_tag(os.getpid())}
    for ns in _netns_list():
        m = NS_RE.match(ns)
        if m and not _alive(int(m.group(1))):
            dead.add(int(m.group(1)))
            _delete_ns(ns)
        elif m:
            live_tags.add(_tag(int(m.group(1))))
    for line in sh("ip", "-o", "link", "show").splitlines():
        name = line.split(":")[1].strip().split("@")[0] if line.count(":") >= 2 else ""
        m = re.match(r"^cn[bv]([0-9a-f]+?)(n\d+)?$", name)
        if m and m.group(1) not in live_tags:
            sh("ip", "link", "del", name, check=False)
    return sorted(dead)


def _used_networks():
    nets = []
    for line in sh("ip", "-o", "-4", "addr", "show").splitlines() + sh("ip", "-4", "route").splitlines():
        for word in line.split():
            try:
                nets.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                pass
    return nets


class Lab:
    def __init__(self):
        self.pid = os.getpid()
        self.tag = _tag(self.pid)
        self.bridge = "cnb" + self.tag
        self.namespaces = []
        self.links = []
        self.closed = False
        used = _used_networks()
        for i in range(256):
            x = 200 + (self.pid + i) % 50
            y = (self.pid // 50 + i) % 256
            net = ipaddress.ip_network("10.%d.%d.0/24" % (x, y))
            if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
                self.net = net
                break
        else:
            raise RuntimeError("no free 10.x.y.0/24 subnet")
        self.client_addr = str(self.net.network_address + 1)
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", "%s/24" % self.client_addr, "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")

    def ns(self, k):
        return "%s%d-n%d" % (NS_PREFIX, self.pid, k)

    def addr(self, k):
        return str(self.net.network_address + 10 + k)

    def add_host(self, k):
        """Namespace of node k with its veth on the bridge and its address."""
        ns, root_end = self.ns(k), "cnv%sn%d" % (self.tag, k)
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "link", "add", root_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.links.append(root_end)
        sh("ip", "link", "set", root_end, "master", self.bridge)
        sh("ip", "link", "set", root_end, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", "%s/24" % self.addr(k), "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        # the table faults fill; empty means no fault
        sh("ip", "netns", "exec", ns, "nft", "-f", "-", input=(
            "table inet nemesis {\n"
            "  set blocked { type ipv4_addr; }\n"
            "  chain in { type filter hook input priority 0; ip saddr @blocked drop; }\n"
            "  chain out { type filter hook output priority 0; ip daddr @blocked drop; }\n"
            "}\n"))
        return ns

    def block(self, k, addrs):
        """Node k drops every packet from or to `addrs` (added to what it drops)."""
        if addrs:
            sh("ip", "netns", "exec", self.ns(k), "nft", "add", "element", "inet", "nemesis", "blocked",
               "{ %s }" % ", ".join(addrs))

    def unblock(self, k):
        sh("ip", "netns", "exec", self.ns(k), "nft", "flush", "set", "inet", "nemesis", "blocked")

    def blocked(self, k):
        out = sh("ip", "netns", "exec", self.ns(k), "nft", "list", "set", "inet", "nemesis", "blocked")
        return sorted(re.findall(r"\d+\.\d+\.\d+\.\d+", out))

    def close(self):
        if self.closed:
            return
        self.closed = True
        for ns in self.namespaces:
            try:
                _delete_ns(ns)
            except (RuntimeError, OSError):
                pass   # the rest is removed all the same
        for link in self.links + [self.bridge]:
            sh("ip", "link", "del", link, check=False)


READY_RE = re.compile(r"^confabd ready node=(\S+) http=(\d+) cluster=(\d+)\s*$")


class Node:
    """One confabd process inside a namespace (kept over restarts)."""

    def __init__(self, lab, k, data_dir, args, log_dir):
        self.lab, self.k, self.id = lab, k, "n%d" % k
        self.addr = lab.addr(k)
        self.data_dir, self.args, self.log_dir = data_dir, list(args), log_dir
        self.proc = None
        self.incarnation = 0
        self.paused = False

    def start(self, confabd, seeds, timeout=30.0):
        self.incarnation += 1
        log = open(os.path.join(self.log_dir, "%s.%d.log" % (self.id, self.incarnation)), "wb")
        cmd = ["ip", "netns", "exec", self.lab.ns(self.k), confabd, "--data-dir", self.data_dir,
               "--node-id", self.id, "--bind", self.addr, "--cluster-bind", self.addr] + self.args
        if seeds:
            cmd += ["--seeds", ",".join(seeds)]
        # a crash leaves a core file in the node's own directory (core_pattern "core")
        cwd = os.path.join(self.log_dir, "%s.%d.cwd" % (self.id, self.incarnation))
        os.makedirs(cwd, exist_ok=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=cwd,
                                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (-1, -1)))
        log.close()
        self.stopped_by_us = False
        ready = threading.Event()
        lines = []

        def pump(out=self.proc.stdout):
            for raw in out:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                lines.append(line)
                if READY_RE.match(line):
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("%s did not start (rc %s): %s\n%s" % (self.id, self.proc.returncode, lines,
                                                                          self.log_tail()))
        self.paused = False
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def died(self):
        """The exit code of a process that ended although nothing stopped it
        (a crash), else None."""
        if self.proc is None or self.stopped_by_us or self.proc.poll() is None:
            return None
        return self.proc.returncode

    def kill(self):
        self.stopped_by_us = True
        if self.proc is not None:
            if self.paused:
                self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=20)
        self.paused = False

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.signal(signal.SIGCONT)
        self.paused = False

    def terminate(self, timeout=20.0):
        """SIGTERM; the exit code (SIGKILL after `timeout`)."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.stopped_by_us = True
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return "killed after SIGTERM timeout"

    def log_tail(self, n=40):
        path = os.path.join(self.log_dir, "%s.%d.log" % (self.id, self.incarnation))
        try:
            with open(path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""
