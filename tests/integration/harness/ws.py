"""A WebSocket client of PROTOCOL.md section 3, with deadlines on every read."""

import collections
import json
import socket
import struct
import time

import websocket
from websocket import ABNF

from .common import *  # noqa: F401,F403
from .rest import *  # noqa: F401,F403

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
