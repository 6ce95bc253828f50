"""confabd processes: start-up runs, servers with their ready line and logs, stopping, leftovers."""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from .common import *  # noqa: F401,F403
from .rest import *  # noqa: F401,F403
from .ws import *  # noqa: F401,F403


_live_servers = set()


def run_confabd(args, env=None, timeout=START_DEADLINE_S):
    """Run confabd expecting it to exit by itself (start-up failures):
    (rc, stdout, stderr). A process that prints its ready line instead is
    stopped at once and reported with rc "started"; one still running after
    `timeout` is killed and the test fails."""
    p = subprocess.Popen([CONFABD] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(env))
    out, err = [], []
    started = threading.Event()

    def pump(stream, sink, watch):
        for line in stream:
            sink.append(line)
            if watch and READY_RE.match(line.decode("utf-8", "replace").rstrip("\r\n")):
                started.set()

    threads = [threading.Thread(target=pump, args=(p.stdout, out, True), daemon=True),
               threading.Thread(target=pump, args=(p.stderr, err, False), daemon=True)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    rc = None
    for _ in range(int(timeout / 0.05) + 2):
        try:
            rc = p.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        if started.is_set():
            p.kill()
            p.wait()
            rc = "started"
            break
        if time.monotonic() > deadline:
            break
    if rc is None:
        p.kill()
        p.wait()
    for t in threads:
        t.join(timeout=5)
    p.stdout.close()
    p.stderr.close()
    text_out = b"".join(out).decode("utf-8", "replace")
    text_err = b"".join(err).decode("utf-8", "replace")
    if rc is None:
        raise AssertionError("confabd %r still running after %ss; stdout=%r stderr=%r"
                             % (args, timeout, text_out, text_err))
    return rc, text_out, text_err


class ServerError(AssertionError):
    died = False      # wait_ready(): the process ended before its ready line


class Server:
    """One confabd process.

    `data_dir=None` makes a fresh temporary data dir removed at cleanup();
    a given data_dir is left alone (durability tests restart on it).
    `http_port=None` / `data_dir=False` leave those flags off the command line.
    """

    def __init__(self, args=(), data_dir=None, env=None, http_port=0,
                 ssl_context=None, default_flags=True):
        self.args = list(args)
        self.env = dict(env or {})
        self.http_port_flag = http_port
        self.ssl_context = ssl_context
        self._dirs = []
        self.log_dir = tempfile.mkdtemp(prefix="confab-it-log-")
        self._dirs.append(self.log_dir)
        if data_dir is None:
            d = tempfile.mkdtemp(prefix="confab-it-data-")
            self._dirs.append(d)
            data_dir = os.path.join(d, "data")
        self.data_dir = data_dir
        if default_flags:
            for flag, value in DEFAULT_FLAGS:
                if flag not in self.args:
                    self.args += [flag, value]
        self.proc = None
        self.node = None
        self.port = None
        self.cluster_port = None
        self.admin_token = None
        self.stdout_lines = []
        self.returncode = None
        self._cv = threading.Condition()
        self._eof = False
        self._reader = None
        self._stderr_path = os.path.join(self.log_dir, "stderr.log")
        self._stderr = None

    # -- process control --------------------------------------------------

    def command(self):
        cmd = [CONFABD]
        if self.http_port_flag is not None:
            cmd += ["--http-port", str(self.http_port_flag)]
        if self.data_dir:
            cmd += ["--data-dir", self.data_dir]
        return cmd + self.args

    def start(self):
        """spawn() and wait_ready(): the started server (ServerError if it died
        or timed out before its ready line)."""
        return self.spawn().wait_ready()

    def spawn(self):
        """Start the process and return at once; wait_ready() waits for its
        ready line, ready() tells whether it has printed it."""
        if not os.path.exists(CONFABD):
            raise ServerError("confabd binary not found at %s (set CONFABD)" % CONFABD)
        self._stderr = open(self._stderr_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=clean_env(self.env))
        _live_servers.add(self)
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        return self

    def ready(self):
        """Whether the ready line has been printed."""
        with self._cv:
            return self.port is not None

    def exited(self):
        """Whether the process was started and has ended (stdout closed or reaped)."""
        if self.proc is None:
            return False
        with self._cv:
            if self._eof:
                return True
        return self.proc.poll() is not None

    def wait_ready(self, timeout=START_DEADLINE_S):
        deadline = time.monotonic() + timeout
        with self._cv:
            while self.port is None and not self._eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)
        if self.port is None:
            died = self._eof or self.proc.poll() is not None
            if not died:
                self.proc.kill()
            rc = self.proc.wait(timeout=STOP_DEADLINE_S)
            err = ServerError("confabd %s before its ready line (rc=%s)\ncmd: %s\nstdout:\n%s\nstderr:\n%s"
                              % ("died" if died else "timed out", rc, " ".join(self.command()),
                                 "\n".join(self.stdout_lines[-20:]), self.stderr_text()[-4000:]))
            err.died = died
            raise err
        return self

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._cv:
                self.stdout_lines.append(line)
                m = ADMIN_RE.match(line)
                if m and self.port is None:
                    self.admin_token = m.group(1)
                m = READY_RE.match(line)
                if m and self.port is None:
                    self.node = m.group(1)
                    self.port = int(m.group(2))
                    self.cluster_port = int(m.group(3))
                self._cv.notify_all()
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    def _release(self):
        """Joins the stdout reader, closes the pipes and forgets the process."""
        if self._reader is not None:
            self._reader.join(timeout=STOP_DEADLINE_S)
            if not self._reader.is_alive():
                self.proc.stdout.close()
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        _live_servers.discard(self)

    def stderr_text(self):
        if self._stderr:
            self._stderr.flush()
        try:
            with open(self._stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _wait(self):
        try:
            self.returncode = self.proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait(timeout=STOP_DEADLINE_S)
            raise ServerError("confabd did not exit within %ss of the signal; stderr:\n%s"
                              % (STOP_DEADLINE_S, self.stderr_text()[-4000:]))
        finally:
            self._release()
        return self.returncode

    def terminate(self):
        """SIGTERM and wait; returns the exit code (no assertion)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self._wait()

    def stop(self):
        """SIGTERM, wait, assert exit code 0, remove temporary dirs."""
        try:
            rc = self.terminate()
            if rc is not None and rc != 0:
                raise ServerError("confabd exited with %s after SIGTERM (expected 0); stderr:\n%s"
                                  % (rc, self.stderr_text()[-4000:]))
        finally:
            self.cleanup()

    def kill9(self):
        """SIGKILL, wait; the data dir is kept."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self._wait()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                pass
        self._release()
        for d in self._dirs:
            shutil.rmtree(d, ignore_errors=True)
        self._dirs = []

    # -- clients ------------------------------------------------------------

    def http(self, method, path, body=None, token=None, **kw):
        return http_request(self.port, method, path, body=body, token=token,
                            ssl_context=self.ssl_context, **kw)

    def ws(self, **kw):
        return WSClient(self.port, ssl_context=self.ssl_context, **kw)


@atexit.register
def _kill_leftovers():
    for s in list(_live_servers):
        s.cleanup()


# -- HTTP ---------------------------------------------------------------------
