"""Shared helpers for the Confab integration tests.

Each test file starts real `confabd` processes on free loopback ports (port 0,
the ready line tells the real port) and drives them over HTTP and WebSocket.
Only the Python standard library and Debian's python3-websocket are used.

Nothing here sleeps to wait for something: every wait reads a socket or a pipe
with a deadline, and every loop is bounded in count and in time. The only
timed waits are poll() (state that is visible only by asking, re-asked at a
short interval until a deadline) and WSClient.idle() (a delay the server itself
prescribes, such as retry_after_ms).

The binary is $CONFABD, else /work/main/build/bin/confabd; cluster
certificates are made with $CONFABCTL, else confabctl beside it.
"""

import atexit
import collections
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import websocket
from websocket import ABNF

CONFABD = os.environ.get("CONFABD") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin", "confabd"))
CONFABCTL = os.environ.get("CONFABCTL") or os.path.join(os.path.dirname(CONFABD), "confabctl")
HOST = "127.0.0.1"

READY_RE = re.compile(r"^confabd ready node=(\S+) http=(\d+) cluster=(\d+)\s*$")
ADMIN_RE = re.compile(r"^confabd admin-token=(\S+)\s*$")

START_DEADLINE_S = 20.0
STOP_DEADLINE_S = 20.0
IO_TIMEOUT_S = 10.0

USER_ID_RE = re.compile(r"^u_[0-9a-f]{16}$")
ROOM_ID_RE = re.compile(r"^r_[0-9a-f]{16}$")
DM_ID_RE = re.compile(r"^d_[0-9a-f]{16}$")
MSG_ID_RE = re.compile(r"^m_[0-9a-f]{16}$")

# Flags every test server gets unless the test sets them itself. The contract's
# default of 60 login attempts per address per minute would otherwise trip over
# the many logins a test class does from 127.0.0.1.
DEFAULT_FLAGS = (
    ("--bind", HOST),
    ("--login-ip-attempts", "100000"),
    ("--register-per-min", "100000"),
    ("--rooms-per-min", "100000"),
    ("--invites-per-min", "100000"),
    ("--dms-per-min", "100000"),
)

_live_servers = set()


def now_ms():
    return int(time.time() * 1000)


def clean_env(extra=None):
    """The caller's environment without any CONFAB_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFAB_")}
    if extra:
        env.update(extra)
    return env


def free_port():
    """A loopback port that was free a moment ago (for env/config file tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def unique(prefix="u"):
    """A fresh valid username: [a-z0-9_.-], 3-32 characters."""
    return (prefix + uuid.uuid4().hex[:14])[:32]


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
            if self._reader:
                self._reader.join(timeout=STOP_DEADLINE_S)
                if not self._reader.is_alive():
                    self.proc.stdout.close()
            if self._stderr:
                self._stderr.close()
                self._stderr = None
            _live_servers.discard(self)
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
        if self._reader is not None:
            self._reader.join(timeout=STOP_DEADLINE_S)
            if not self._reader.is_alive():
                self.proc.stdout.close()
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        _live_servers.discard(self)
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

def http_request(port, method, path, body=None, token=None, headers=None, raw_body=None,
                 ssl_context=None, timeout=IO_TIMEOUT_S):
    """One request on a fresh connection: (status, headers, body).

    `body` is JSON-encoded (UTF-8, no ASCII escaping); `raw_body` is sent as is.
    headers: dict with lower-case names. body: parsed JSON, else the text, else
    None when empty.
    """
    if ssl_context is not None:
        conn = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=ssl_context)
    else:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    hdrs = {}
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    elif raw_body is not None:
        data = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if headers:
        hdrs.update(headers)
    try:
        try:
            conn.request(method, path, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # the server may answer (413) and close before reading the whole
            # body; its answer is still readable
            pass
        resp = conn.getresponse()
        raw = resp.read()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
        status = resp.status
    finally:
        conn.close()
    parsed = None
    if raw:
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            parsed = raw.decode("utf-8", "replace")
    return status, resp_headers, parsed


def raw_http(port, data, timeout=IO_TIMEOUT_S, ssl_context=None):
    """Send raw bytes on a fresh connection and read until the peer closes or
    the deadline passes; returns the bytes received (possibly empty)."""
    deadline = time.monotonic() + timeout
    s = socket.create_connection((HOST, port), timeout=timeout)
    if ssl_context is not None:
        s = ssl_context.wrap_socket(s, server_hostname=HOST)
    out = b""
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        for _ in range(100000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and _complete_http(out):
                break
    finally:
        s.close()
    return out


def _complete_http(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if m:
        return len(rest) >= int(m.group(1))
    return False


# -- WebSocket -------------------------------------------------------------------

class Closed(Exception):
    """The server closed the socket: `code` is its close code, None if the TCP
    connection dropped without a close frame."""

    def __init__(self, code, reason=b""):
        super().__init__("websocket closed: code=%r reason=%r" % (code, reason))
        self.code = code
        self.reason = reason


class WSClient:
    """A WebSocket client of /ws.

    Replies (frames with op ok/error and an id) are kept by id; everything
    else is an event, buffered in `pending` until a wait_event() takes it and
    recorded forever in `all_events`.
    """

    def __init__(self, port, ssl_context=None, timeout=IO_TIMEOUT_S, sockopt=(), path="/ws"):
        scheme = "wss" if ssl_context is not None else "ws"
        sslopt = {"context": ssl_context} if ssl_context is not None else None
        self.ws = websocket.create_connection("%s://%s:%d%s" % (scheme, HOST, port, path),
                                              timeout=timeout, sslopt=sslopt,
                                              sockopt=tuple(sockopt))
        self.pending = []
        self.all_events = []
        self.frames = []          # every parsed frame, in order
        self.replies = {}
        self.reply_counts = collections.Counter()
        self.close_code = None
        self.closed = False
        self._frag = None
        self._next_id = 0
        self.auth_data = None

    # -- sending --

    def new_id(self):
        self._next_id += 1
        return self._next_id

    def send_text(self, text):
        self.ws.send(text, opcode=ABNF.OPCODE_TEXT)

    def send_bytes_as_text(self, data):
        """A text frame with arbitrary (possibly invalid UTF-8) payload."""
        self.ws.send_frame(ABNF.create_frame(data, ABNF.OPCODE_TEXT))

    def send_obj(self, obj, ascii=False):
        self.send_text(json.dumps(obj, ensure_ascii=ascii, separators=(",", ":")))

    # -- receiving --

    def _read_frame(self, deadline):
        """The next complete data frame's payload (bytes); handles control frames."""
        if self.closed:
            raise Closed(self.close_code)
        for _ in range(1000000):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame before the deadline")
            try:
                self.ws.sock.settimeout(left)
                frame = self.ws.recv_frame()
            except websocket.WebSocketTimeoutException:
                raise TimeoutError("no frame before the deadline")
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError, AttributeError):
                self.closed = True
                raise Closed(None)
            op = frame.opcode
            if op in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
                if frame.fin:
                    return frame.data
                self._frag = bytearray(frame.data)
            elif op == ABNF.OPCODE_CONT:
                if self._frag is None:
                    raise AssertionError("continuation frame without a start")
                self._frag += frame.data
                if frame.fin:
                    data, self._frag = bytes(self._frag), None
                    return data
            elif op == ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005
                self.close_code = code
                self.closed = True
                try:
                    self.ws.send(frame.data[:2], ABNF.OPCODE_CLOSE)
                except Exception:
                    pass
                self._shutdown()
                raise Closed(code, frame.data[2:])
            elif op == ABNF.OPCODE_PING:
                try:
                    self.ws.pong(frame.data)
                except Exception:
                    pass
        raise AssertionError("frame loop bound reached")

    def _recv_msg(self, deadline):
        data = self._read_frame(deadline)
        try:
            msg = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError("server sent a frame that is not JSON: %r (%s)" % (data[:200], e))
        if not isinstance(msg, dict):
            raise AssertionError("server sent a frame that is not an object: %r" % (msg,))
        self.frames.append(msg)
        if msg.get("op") in ("ok", "error") and "id" in msg:
            rid = msg["id"]
            key = _id_key(rid)
            self.reply_counts[key] += 1
            self.replies.setdefault(key, []).append(msg)
        else:
            self.pending.append(msg)
            self.all_events.append(msg)
        return msg

    def wait_reply(self, rid, timeout=IO_TIMEOUT_S):
        key = _id_key(rid)
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            if self.replies.get(key):
                return self.replies[key].pop(0)
            try:
                self._recv_msg(deadline)
            except TimeoutError:
                raise AssertionError("no reply with id %r within %ss; frames seen: %s"
                                     % (rid, timeout, _short(self.frames[-10:])))
            except Closed as c:
                raise AssertionError("socket closed (code %r) while waiting for reply %r; frames: %s"
                                     % (c.code, rid, _short(self.frames[-10:])))
        raise AssertionError("reply loop bound reached")

    def request(self, op, timeout=IO_TIMEOUT_S, **fields):
        """Send {op, id, **fields} with a fresh id and return the whole reply."""
        rid = self.new_id()
        msg = {"op": op, "id": rid}
        msg.update(fields)
        self.send_obj(msg)
        return self.wait_reply(rid, timeout)

    def ok(self, op, **fields):
        """request() that must succeed: returns the reply's data."""
        r = self.request(op, **fields)
        if r.get("op") != "ok":
            raise AssertionError("%s %s: expected ok, got %s" % (op, _short(fields), _short(r)))
        return r.get("data")

    def error(self, op, **fields):
        """request() that must fail: returns the whole error reply."""
        r = self.request(op, **fields)
        if r.get("op") != "error":
            raise AssertionError("%s %s: expected an error, got %s" % (op, _short(fields), _short(r)))
        return r

    def auth(self, token):
        self.auth_data = self.ok("auth", token=token)
        return self.auth_data

    def wait_event(self, op, pred=None, timeout=5.0):
        """Take the first buffered or arriving event `op` whose data satisfies pred."""
        def match(m):
            return m.get("op") == op and (pred is None or pred(m.get("data")))
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            for i, m in enumerate(self.pending):
                if match(m):
                    del self.pending[i]
                    return m.get("data")
            try:
                self._recv_msg(deadline)
            except TimeoutError:
                raise AssertionError("no %r event matching within %ss; events seen: %s"
                                     % (op, timeout, _short(self.all_events[-10:])))
            except Closed as c:
                raise AssertionError("socket closed (code %r) while waiting for %r event; events: %s"
                                     % (c.code, op, _short(self.all_events[-10:])))
        raise AssertionError("event loop bound reached")

    def events(self, op, pred=None):
        """Every event `op` received so far (consumed or not) matching pred."""
        return [m.get("data") for m in self.all_events
                if m.get("op") == op and (pred is None or pred(m.get("data")))]

    def expect_close(self, timeout=5.0):
        """Read (and keep) frames until the server closes; returns the close code
        (None when the TCP connection dropped without a close frame)."""
        return self.expect_close_reason(timeout)[0]

    def expect_close_reason(self, timeout=5.0):
        """expect_close(), returning (code, reason bytes)."""
        deadline = time.monotonic() + timeout
        for _ in range(1000000):
            try:
                self._recv_msg(deadline)
            except Closed as c:
                return c.code, c.reason
            except TimeoutError:
                raise AssertionError("socket not closed within %ss; frames: %s"
                                     % (timeout, _short(self.frames[-10:])))
            except AssertionError:
                # a non-JSON data frame: keep reading for the close
                continue
        raise AssertionError("close loop bound reached")

    def idle(self, seconds):
        """Keep reading (and buffering) frames for `seconds`: only for waits the
        protocol itself prescribes, such as a server-given retry_after_ms."""
        deadline = time.monotonic() + seconds
        for _ in range(100000):
            try:
                self._recv_msg(deadline)
            except TimeoutError:
                return

    def _shutdown(self):
        try:
            self.ws.shutdown()
        except Exception:
            pass

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.ws.close(timeout=2)
            except Exception:
                pass
        self._shutdown()

    def drop(self, how="reset"):
        """End the connection abruptly, without a WebSocket close frame:
        "reset" closes the raw socket with SO_LINGER 0 (the peer gets a TCP
        RST), "shutdown" shuts the raw socket down both ways (a bare FIN)."""
        sock = self.ws.sock
        self.closed = True
        if sock is None:
            return
        try:
            if how == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif how == "shutdown":
                sock.shutdown(socket.SHUT_RDWR)
            else:
                raise ValueError("drop(how=%r)" % (how,))
        finally:
            sock.close()
            self.ws.sock = None


def _id_key(rid):
    # ids are numbers or strings; 1 and "1" are different ids
    return (type(rid).__name__ if not isinstance(rid, bool) else "bool", json.dumps(rid))


def _short(x, n=600):
    s = json.dumps(x, ensure_ascii=True, default=str)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def retry_after_ms(reply):
    """retry_after_ms of a WS rate_limited error (top level, or inside data)."""
    if "retry_after_ms" in reply:
        return reply["retry_after_ms"]
    data = reply.get("data")
    if isinstance(data, dict):
        return data.get("retry_after_ms")
    return None


def room_id(x):
    """A room reference in a reply or event: a room id string or a room object."""
    return x["id"] if isinstance(x, dict) else x


# -- users and test base class ---------------------------------------------------

class User:
    def __init__(self, username, password, token, user, login):
        self.username = username
        self.password = password
        self.token = token
        self.user = user
        self.id = user["id"]
        self.login = login

    def __repr__(self):
        return "User(%s)" % self.username


class ConfabTestCase(unittest.TestCase):
    """Starts one server per class (flags in `server_args`); helpers for users,
    rooms, messages and WebSocket clients, which are closed after each test."""

    server_args = ()
    server_env = None
    server = None
    start_server = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.start_server:
            cls.server = Server(cls.server_args, env=cls.server_env).start()

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server is not None:
                cls.server.stop()
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self._clients = []
        self.addCleanup(self._close_clients)

    def _close_clients(self):
        for c in self._clients:
            c.close()

    # -- plumbing --

    def srv(self, server=None):
        return server or self.server

    def api(self, method, path, body=None, token=None, server=None, **kw):
        return self.srv(server).http(method, path, body=body, token=token, **kw)

    def assert_error(self, resp, status, code=None):
        st, _, body = resp
        self.assertEqual(st, status, "expected %s %s, got %s %r" % (status, code, st, body))
        self.assertIsInstance(body, dict, "error body is not JSON: %r" % (body,))
        self.assertIn("error", body, body)
        err = body["error"]
        self.assertIsInstance(err, dict, body)
        self.assertIsInstance(err.get("code"), str, body)
        self.assertIsInstance(err.get("message"), str, body)
        if code is not None:
            self.assertEqual(err["code"], code, body)
        return err

    def assert_status(self, resp, status):
        self.assertEqual(resp[0], status, "expected %s, got %s %r" % (status, resp[0], resp[2]))
        return resp[2]

    def assert_healthy(self, server=None):
        s = self.srv(server)
        st, _, body = s.http("GET", "/healthz")
        self.assertEqual(st, 200, body)
        self.assertEqual(body.get("status"), "ok", body)
        self.assertEqual(body.get("node"), s.node, body)

    def connect(self, token=None, server=None, **kw):
        """A WebSocket client, authenticated when `token` is given."""
        c = self.srv(server).ws(**kw)
        self._clients.append(c)
        if token is not None:
            c.auth(token)
        return c

    # -- accounts --

    def register(self, username=None, password=None, display_name=None, server=None):
        username = username or unique()
        password = password or ("pw-" + uuid.uuid4().hex[:12])
        body = {"username": username, "password": password}
        if display_name is not None:
            body["display_name"] = display_name
        resp = self.api("POST", "/api/v1/register", body, server=server)
        self.assertEqual(resp[0], 201, "register %s: %s %r" % (username, resp[0], resp[2]))
        return username, password, resp[2]["user"]

    def login(self, username, password, server=None):
        resp = self.api("POST", "/api/v1/login", {"username": username, "password": password},
                        server=server)
        self.assertEqual(resp[0], 200, "login %s: %s %r" % (username, resp[0], resp[2]))
        return resp[2]

    def new_user(self, display_name=None, server=None):
        username, password, user = self.register(display_name=display_name, server=server)
        login = self.login(username, password, server=server)
        return User(username, password, login["token"], user, login)

    # -- rooms and messages --

    def create_room(self, token, visibility="public", name=None, topic=None, server=None):
        body = {"name": name or ("room " + uuid.uuid4().hex[:8]), "visibility": visibility}
        if topic is not None:
            body["topic"] = topic
        resp = self.api("POST", "/api/v1/rooms", body, token=token, server=server)
        self.assertEqual(resp[0], 201, "create room: %s %r" % (resp[0], resp[2]))
        return resp[2]["room"]

    def join(self, token, rid, server=None):
        resp = self.api("POST", "/api/v1/rooms/%s/join" % rid, token=token, server=server)
        self.assertEqual(resp[0], 200, "join %s: %s %r" % (rid, resp[0], resp[2]))
        return resp[2]["room"]

    def invite(self, token, rid, username, server=None):
        resp = self.api("POST", "/api/v1/rooms/%s/invite" % rid, {"username": username},
                        token=token, server=server)
        self.assertEqual(resp[0], 204, "invite %s: %s %r" % (username, resp[0], resp[2]))

    # Server flags under which fill_slow_socket() trips the slow-consumer close.
    SLOW_CONSUMER_ARGS = ("--max-outbound", "65536", "--rate-per-s", "1000", "--rate-burst", "1000")

    def fill_slow_socket(self):
        """A socket that asks for far more than it reads, on a server started
        with SLOW_CONSUMER_ARGS. Returns (slow, watcher, sender): the slow
        socket (not read), a watcher session of the same room that has seen
        the node work through the slow socket's queries, and the slow socket's
        user."""
        a = self.new_user()
        b = self.new_user()
        watcher = self.new_user()
        room = self.create_room(a.token)["id"]
        self.join(b.token, room)
        self.join(watcher.token, room)
        for i in range(16):
            self.post((a, b)[i % 2].token, room, ("%02d" % i) * 3500)
        w = self.connect(watcher.token)
        # each reply (8 messages of 7000 characters, ~57 KB) is under the
        # outbound limit, but 150 of them (~8.5 MB) are far more than the
        # kernel buffers hold while the client reads nothing (a fixed 256 KiB
        # receive buffer stops autotuning, yet stays above the loopback MSS)
        ws = self.connect(a.token, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 262144),))
        for _ in range(150):
            ws.send_obj({"op": "history", "id": ws.new_id(), "room": room, "limit": 8})
        # a barrier that does not read the slow socket (a server may ignore
        # its later frames once it decided to close it): the same page, asked
        # afterwards by another session, comes back once the node has worked
        # through the queries asked before it
        for _ in range(3):
            self.assertEqual(len(w.ok("history", room=room, limit=8)["messages"]), 8)
        return ws, w, a

    def post(self, token, rid, body, client_msg_id=None, server=None, **extra):
        req = {"body": body}
        if client_msg_id is not None:
            req["client_msg_id"] = client_msg_id
        req.update(extra)
        resp = self.api("POST", "/api/v1/rooms/%s/messages" % rid, req, token=token, server=server)
        self.assertEqual(resp[0], 201, "post to %s: %s %r" % (rid, resp[0], resp[2]))
        return resp[2]["message"]

    def history(self, token, rid, server=None, **params):
        q = "&".join("%s=%s" % (k, v) for k, v in params.items())
        path = "/api/v1/rooms/%s/messages" % rid + ("?" + q if q else "")
        resp = self.api("GET", path, token=token, server=server)
        self.assertEqual(resp[0], 200, "history %s: %s %r" % (path, resp[0], resp[2]))
        return resp[2]

    def all_messages(self, token, rid, server=None):
        """The whole history of a small room (up to 200 messages)."""
        return self.history(token, rid, server=server, limit=200)["messages"]

    def members(self, token, rid, server=None):
        resp = self.api("GET", "/api/v1/rooms/%s/members" % rid, token=token, server=server)
        self.assertEqual(resp[0], 200, "members %s: %s %r" % (rid, resp[0], resp[2]))
        return {m["user"]["username"]: m for m in resp[2]["members"]}

    def public_directory(self, token, server=None, limit=500):
        """Every public room, read page by page (ascending ids, `after` the last)."""
        rooms, after = [], ""
        for _ in range(1000):
            path = "/api/v1/rooms/public?limit=%d" % limit + ("&after=%s" % after if after else "")
            resp = self.api("GET", path, token=token, server=server)
            self.assertEqual(resp[0], 200, resp)
            page = resp[2]["rooms"]
            rooms += page
            if len(page) < limit:
                return rooms
            after = page[-1]["id"]
        self.fail("the public directory did not end")

    def my_rooms(self, token, server=None):
        resp = self.api("GET", "/api/v1/rooms", token=token, server=server)
        self.assertEqual(resp[0], 200, resp)
        return {r["id"]: r for r in resp[2]["rooms"]}

    def assert_message_shape(self, m):
        for f in ("room", "seq", "msg_id", "from", "ts"):
            self.assertIn(f, m, m)
        self.assertIsInstance(m["seq"], int, m)
        self.assertIsInstance(m["ts"], int, m)
        self.assertRegex(m["msg_id"], MSG_ID_RE)


def poll(fn, what, timeout=5.0, interval=0.02):
    """Call fn() until it returns a true value (returned) or the deadline
    passes (AssertionError naming `what`). For state that is visible only by
    asking, never for events a socket delivers."""
    deadline = time.monotonic() + timeout
    ev = threading.Event()
    for _ in range(int(timeout / interval) + 2):
        v = fn()
        if v:
            return v
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ev.wait(min(interval, left))
    raise AssertionError("timed out after %ss waiting until: %s" % (timeout, what))


def seed_ten(case, token, rid):
    """Post messages 1..10 ("m1".."m10") into a fresh room over HTTP."""
    for i in range(1, 11):
        m = case.post(token, rid, "m%d" % i)
        case.assertEqual(m["seq"], i, "seq of message %d" % i)


# History semantics of docs/PROTOCOL.md over a room holding seqs 1..10:
# (params, expected seqs, expected has_more)
HISTORY_CASES = [
    ({}, list(range(1, 11)), False),
    ({"limit": 3}, [8, 9, 10], True),
    ({"limit": 10}, list(range(1, 11)), False),
    ({"limit": 200}, list(range(1, 11)), False),
    ({"limit": 1}, [10], True),
    ({"before": 5, "limit": 2}, [3, 4], True),
    ({"before": 3, "limit": 5}, [1, 2], False),
    ({"before": 3, "limit": 2}, [1, 2], False),
    ({"before": 1}, [], False),
    ({"before": 11, "limit": 10}, list(range(1, 11)), False),
    ({"before": 100, "limit": 3}, [8, 9, 10], True),
    ({"after": 7, "limit": 2}, [8, 9], True),
    ({"after": 8, "limit": 5}, [9, 10], False),
    ({"after": 8, "limit": 2}, [9, 10], False),
    ({"after": 0, "limit": 3}, [1, 2, 3], True),
    ({"after": 10}, [], False),
    ({"after": 2, "before": 8, "limit": 3}, [3, 4, 5], True),
    ({"after": 2, "before": 6, "limit": 3}, [3, 4, 5], False),
    ({"after": 2, "before": 6}, [3, 4, 5], False),
    ({"after": 5, "before": 6}, [], False),
]


def ack_fields(ack):
    """The fields of a send ack the contract defines: (room, seq, msg_id, ts)."""
    return (ack.get("room"), ack.get("seq"), ack.get("msg_id"), ack.get("ts"))


def main():
    unittest.main(verbosity=2)


class RestartCase:
    """Mixed in before ConfabTestCase (or a subclass) by tests that stop a node
    and start another on the same data dir: each test gets a fresh data dir,
    and start() starts a node on it (cleaned up with the test)."""

    start_server = False

    def setUp(self):
        super().setUp()
        tmp = tempfile.mkdtemp(prefix="confab-it-restart-")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.data_dir = os.path.join(tmp, "data")

    def start(self):
        s = Server(data_dir=self.data_dir)
        self.addCleanup(s.cleanup)
        return s.start()


# -- clusters -------------------------------------------------------------------

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
