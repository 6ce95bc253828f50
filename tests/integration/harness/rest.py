"""HTTP to a node: one request a connection, or raw bytes for the edge tests."""

import http.client
import json
import re
import socket
import time

from .common import *  # noqa: F401,F403

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
