#!/usr/bin/python3
"""Files: streamed binary upload and download (20 MiB round trip, SHA-256 and
ETag), bounded server memory while a 25 MiB upload streams, byte ranges and
If-None-Match, access errors (401/403/404), --max-file-size (Content-Length and
chunked) and --user-quota (413, nothing kept), content type from the bytes,
Content-Disposition and nosniff, thumbnails (PNG, JPEG, GIF, WebP made with
PIL), `send` with `file_id` over WebSocket and HTTP, files across a restart.

Needs Debian's python3-pil (apt-get install python3-pil) besides
python3-websocket.
"""

import hashlib
import http.client
import io
import json
import os
import re
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import HOST, ConfabTestCase, RestartCase, main, poll, raw_http  # noqa: E402

from PIL import Image, ImageDraw  # noqa: E402

MiB = 1024 * 1024
MISSING_ROOM = "r_0000000000000000"
MISSING_FILE = "f_0000000000000000"
# Shaped like a file id of this version, naming a node that does not exist.
MISSING_FILE_OF_NO_NODE = "f_ffffffff0000000000000000"
FILE_ID_RE = re.compile(r"^f_[0-9a-f]{24}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
BIG_IO_TIMEOUT_S = 60.0
THUMB_DEADLINE_S = 20.0
PIECE = 64 * 1024


# -- HTTP helpers for raw (non-JSON) bodies ---------------------------------------

def _parse_json(raw):
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


class UploadResult:
    def __init__(self, status, headers, raw, sent, stopped_early):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body = _parse_json(raw)
        self.sent = sent                    # body bytes handed to the socket
        self.stopped_early = stopped_early  # the answer came before the whole body was sent

    def as_resp(self):
        """(status, headers, parsed body), the shape ConfabTestCase.assert_* take."""
        return self.status, self.headers, self.body

    def __repr__(self):
        return "UploadResult(%s, %r, sent=%d)" % (self.status, self.body if not isinstance(self.body, str)
                                                  else self.body[:200], self.sent)


def upload(port, token, room, data, name="file.bin", content_type="application/octet-stream",
           chunked=False, content_length=None, piece=PIECE, timeout=BIG_IO_TIMEOUT_S):
    """POST /api/v1/rooms/{room}/files with http.client, the body streamed in
    `piece`-byte pieces (with Content-Length, or Transfer-Encoding: chunked).

    `data` is bytes, or an int n for n bytes of a fixed pattern produced on
    the fly. Before each piece the socket is checked for an early answer
    (401/403/413...); the rest of the body is then not sent."""
    total = data if isinstance(data, int) else len(data)
    view = None if isinstance(data, int) else memoryview(data)
    pattern = (b"0123456789abcdef" * (piece // 16 + 1))[:piece]
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    hdrs = {}
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    if name is not None:
        hdrs["X-Filename"] = name.encode("utf-8")
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    else:
        hdrs["Content-Length"] = str(total if content_length is None else content_length)
    state = {"sent": 0, "early": False}

    def pieces():
        for off in range(0, total, piece):
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if readable:
                state["early"] = True
                return
            n = min(piece, total - off)
            yield view[off:off + n] if view is not None else pattern[:n]
            state["sent"] = off + n

    try:
        try:
            conn.request("POST", "/api/v1/rooms/%s/files" % room, body=pieces(), headers=hdrs,
                         encode_chunked=chunked)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            # the server answered and stopped reading: its answer is still readable
            state["early"] = True
        try:
            resp = conn.getresponse()
            raw = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            raise AssertionError("upload of %d bytes (%s): the server closed the connection without an "
                                 "HTTP answer after %d body bytes were sent (%r)"
                                 % (total, "chunked" if chunked else "Content-Length: %s" % hdrs["Content-Length"],
                                    state["sent"], e))
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return UploadResult(resp.status, headers, raw, state["sent"], state["early"])
    finally:
        conn.close()


def fetch(port, path, token=None, headers=None, method="GET", timeout=BIG_IO_TIMEOUT_S):
    """One request; (status, lower-case headers, raw body bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    try:
        conn.request(method, path, headers=hdrs)
        resp = conn.getresponse()
        chunks = []
        for _ in range(100000):
            b = resp.read(1 << 20)
            if not b:
                break
            chunks.append(b)
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, b"".join(chunks)
    finally:
        conn.close()


def as_json(resp):
    st, h, raw = resp
    return st, h, _parse_json(raw)


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class RssSampler(threading.Thread):
    """Reads VmRSS of `pid` every `interval` s until stop(); keeps the peak."""

    def __init__(self, pid, interval=0.005, max_s=120.0):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.max_s = max_s
        self.peak = 0
        self.samples = 0
        self.error = None
        self._stop_ev = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.max_s
        try:
            for _ in range(int(self.max_s / self.interval) + 2):
                v = vm_rss_kib(self.pid)
                self.samples += 1
                self.peak = max(self.peak, v)
                if self._stop_ev.wait(self.interval) or time.monotonic() > deadline:
                    break
        except Exception as e:  # reported by the test
            self.error = e

    def stop(self):
        self._stop_ev.set()
        self.join(timeout=10)


def huge_png(width, height):
    """A valid 1-bit grey PNG of width x height, all black: a small file of
    a huge image (the classic pixel flood)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    z = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    rows = row * 1000
    idat = b"".join(z.compress(rows) for _ in range(height // 1000)) + z.compress(row * (height % 1000)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def image_bytes(fmt, w, h):
    """A w x h image in `fmt` (PNG, JPEG, GIF, WEBP): a gradient with a box."""
    grad = Image.linear_gradient("L").resize((w, h))
    img = Image.merge("RGB", (grad, grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grad.rotate(90).resize((w, h))))
    ImageDraw.Draw(img).rectangle([w // 4, h // 4, w // 2, h // 2], fill=(200, 30, 60))
    buf = io.BytesIO()
    if fmt == "GIF":
        img = img.convert("P")
    img.save(buf, format=fmt)
    return buf.getvalue()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# -- base class -------------------------------------------------------------------

class FilesCase(ConfabTestCase):

    def up(self, token, room, data, server=None, **kw):
        return upload(self.srv(server).port, token, room, data, **kw)

    def up_ok(self, token, room, data, server=None, **kw):
        r = self.up(token, room, data, server=server, **kw)
        self.assertEqual(r.status, 201, "upload of %s bytes: %r" % (data if isinstance(data, int) else len(data), r))
        f = r.body["file"]
        self.assertRegex(f["id"], FILE_ID_RE)
        self.assertRegex(f["sha256"], SHA_RE)
        self.assertEqual(f["size"], data if isinstance(data, int) else len(data), f)
        return f

    def get(self, token, path, server=None, headers=None):
        return fetch(self.srv(server).port, path, token=token, headers=headers)

    def download(self, token, fid, server=None, headers=None):
        return self.get(token, "/api/v1/files/%s" % fid, server=server, headers=headers)

    def info(self, token, fid, server=None):
        st, _, raw = self.get(token, "/api/v1/files/%s/info" % fid, server=server)
        self.assertEqual(st, 200, raw[:300])
        return json.loads(raw)["file"]

    def room_with_member(self):
        a = self.new_user()
        b = self.new_user()
        rid = self.create_room(a.token)["id"]
        self.join(b.token, rid)
        return a, b, rid


# -- the main feature, default limits ------------------------------------------------

class FilesTest(FilesCase):

    def test_binary_round_trip_20mib(self):
        a, b, rid = self.room_with_member()
        data = os.urandom(20 * MiB)
        digest = sha256_hex(data)
        r = self.up(a.token, rid, data, name="blob.bin", content_type="application/octet-stream")
        self.assertEqual(r.status, 201, r)
        self.assertFalse(r.stopped_early)
        self.assertEqual(r.sent, len(data))
        f = r.body["file"]
        self.assertRegex(f["id"], FILE_ID_RE)
        self.assertEqual(f["name"], "blob.bin")
        self.assertEqual(f["size"], len(data))
        self.assertEqual(f["sha256"], digest)
        self.assertIsInstance(f["content_type"], str)
        # another member downloads it
        st, h, got = self.download(b.token, f["id"])
        self.assertEqual(st, 200, got[:300])
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data, "downloaded bytes differ from the uploaded ones")
        self.assertEqual(sha256_hex(got), f["sha256"])
        self.assertEqual(h.get("etag"), '"%s"' % digest)
        self.assertEqual(h.get("content-length"), str(len(data)))
        self.assertEqual(h.get("accept-ranges"), "bytes")
        self.assertEqual(h.get("x-content-type-options"), "nosniff")
        self.assertTrue(h.get("content-type", "").startswith(f["content_type"]), (h, f))
        self.assertIn("content-disposition", h)
        self.assertEqual(self.info(b.token, f["id"]), f)

    def test_binary_round_trip_chunked(self):
        # no Content-Length: Transfer-Encoding: chunked, odd-sized pieces
        a, b, rid = self.room_with_member()
        data = os.urandom(5 * MiB + 777)
        r = self.up(a.token, rid, data, name="chunked.bin", chunked=True, piece=100003)
        self.assertEqual(r.status, 201, r)
        f = r.body["file"]
        self.assertEqual((f["size"], f["sha256"]), (len(data), sha256_hex(data)))
        st, h, got = self.download(b.token, f["id"])
        self.assertEqual(st, 200, got[:300])
        self.assertTrue(got == data, "downloaded bytes differ from the uploaded ones")
        self.assertEqual(h.get("etag"), '"%s"' % f["sha256"])

    def test_ranges_and_etag(self):
        a, b, rid = self.room_with_member()
        data = os.urandom(600 * 1024)  # over two chunks of 256 KiB
        size = len(data)
        f = self.up_ok(a.token, rid, data)
        etag = '"%s"' % sha256_hex(data)
        cases = [("bytes=0-99", 0, 99),
                 ("bytes=100-", 100, size - 1),
                 ("bytes=-50", size - 50, size - 1),
                 ("bytes=262100-262200", 262100, 262200),        # across a chunk boundary
                 ("bytes=%d-%d" % (size - 10, size + 1000), size - 10, size - 1),  # end clamped
                 ("bytes=0-0", 0, 0)]
        for rng, first, last in cases:
            with self.subTest(range=rng):
                st, h, got = self.download(b.token, f["id"], headers={"Range": rng})
                self.assertEqual(st, 206, got[:200])
                self.assertEqual(h.get("content-range"), "bytes %d-%d/%d" % (first, last, size))
                self.assertEqual(h.get("content-length"), str(last - first + 1))
                self.assertTrue(got == data[first:last + 1], "range %s: wrong bytes" % rng)
        for rng in ("bytes=%d-" % size, "bytes=%d-%d" % (size + 10, size + 20)):
            with self.subTest(range=rng):
                st, h, got = self.download(b.token, f["id"], headers={"Range": rng})
                self.assertEqual(st, 416, got[:200])
                self.assertEqual(h.get("content-range"), "bytes */%d" % size)
        # several ranges: the whole file
        st, h, got = self.download(b.token, f["id"], headers={"Range": "bytes=0-9,20-29"})
        self.assertEqual(st, 200)
        self.assertTrue(got == data)
        # If-None-Match with the ETag: 304 and nothing after the head
        st, h, got = self.download(b.token, f["id"], headers={"If-None-Match": etag})
        self.assertEqual(st, 304, got[:200])
        req = ("GET /api/v1/files/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
               "If-None-Match: %s\r\nConnection: close\r\n\r\n" % (f["id"], HOST, b.token, etag)).encode()
        out = raw_http(self.server.port, req, timeout=5)
        head, sep, rest = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 304"), out[:300])
        self.assertEqual(sep, b"\r\n\r\n", out[:300])
        self.assertEqual(rest, b"", "304 answer carries a body")
        # another ETag: the whole file
        st, h, got = self.download(b.token, f["id"], headers={"If-None-Match": '"%s"' % ("0" * 64)})
        self.assertEqual(st, 200)
        self.assertTrue(got == data)

    def test_access_errors(self):
        a, b, rid = self.room_with_member()
        c = self.new_user()  # not a member
        priv = self.create_room(a.token, "private")["id"]
        f = self.up_ok(a.token, rid, b"members only\n", name="m.txt", content_type="text/plain")
        # 401: no token or a bad one, for upload and for every read
        for token in (None, "not-a-token"):
            with self.subTest(token=token):
                self.assert_error(self.up(token, rid, b"x" * 1000).as_resp(), 401, "unauthorized")
                self.assert_error(self.up(token, MISSING_ROOM, b"x" * 1000).as_resp(), 401, "unauthorized")
                for suffix in ("", "/info", "/thumbnail"):
                    self.assert_error(as_json(self.get(token, "/api/v1/files/%s%s" % (f["id"], suffix))),
                                      401, "unauthorized")
                self.assert_error(as_json(self.get(token, "/api/v1/files/%s" % MISSING_FILE)), 401, "unauthorized")
        # 403: non-members, public and private rooms
        for room in (rid, priv):
            with self.subTest(room=room):
                r = self.up(c.token, room, b"y" * 5000, name="intruder.bin")
                self.assert_error(r.as_resp(), 403, "forbidden")
        for suffix in ("", "/info", "/thumbnail"):
            with self.subTest(read=suffix):
                self.assert_error(as_json(self.get(c.token, "/api/v1/files/%s%s" % (f["id"], suffix))),
                                  403, "forbidden")
        # 404: unknown file, unknown room
        for suffix in ("", "/info", "/thumbnail"):
            for missing in (MISSING_FILE, MISSING_FILE_OF_NO_NODE):
                with self.subTest(missing=missing + suffix):
                    self.assert_error(as_json(self.get(a.token, "/api/v1/files/%s%s" % (missing, suffix))),
                                      404, "not_found")
        self.assert_error(self.up(a.token, MISSING_ROOM, b"z" * 1000).as_resp(), 404, "not_found")
        # X-Filename is required
        self.assert_error(self.up(a.token, rid, b"nameless", name=None).as_resp(), 400, "invalid_request")
        # a member who leaves loses access
        st, _, _ = self.download(b.token, f["id"])
        self.assertEqual(st, 200)
        self.assertEqual(self.api("POST", "/api/v1/rooms/%s/leave" % rid, token=b.token)[0], 204)
        self.assert_error(as_json(self.download(b.token, f["id"])), 403, "forbidden")
        # the owner still downloads the one real file
        st, _, got = self.download(a.token, f["id"])
        self.assertEqual((st, got), (200, b"members only\n"))

    def test_html_is_attachment_with_nosniff(self):
        a, _, rid = self.room_with_member()
        html = b"<html><script>alert(1)</script></html>"
        r = self.up(a.token, rid, html, name='pa"ge/../x\\y.html', content_type="text/html")
        self.assertEqual(r.status, 201, r)
        f = r.body["file"]
        # quotes and path separators become "_"
        self.assertEqual(f["name"], "pa_ge_.._x_y.html")
        self.assertEqual(f["content_type"], "text/html", f)
        st, h, got = self.download(a.token, f["id"])
        self.assertEqual(st, 200)
        self.assertEqual(got, html)
        cd = h.get("content-disposition", "")
        self.assertTrue(cd.lower().startswith("attachment"), cd)
        self.assertIn('filename="pa_ge_.._x_y.html"', cd)
        self.assertEqual(h.get("x-content-type-options"), "nosniff")
        # the same bytes declared as plain text or as a PNG are still no inline HTML
        for declared in ("text/plain", "image/png", "application/octet-stream"):
            with self.subTest(declared=declared):
                f2 = self.up_ok(a.token, rid, html, name="p.html", content_type=declared)
                st, h, _ = self.download(a.token, f2["id"])
                self.assertEqual(st, 200)
                self.assertTrue(h.get("content-disposition", "").lower().startswith("attachment"), (declared, h))
                self.assertEqual(h.get("x-content-type-options"), "nosniff")
                self.assertEqual(f2["content_type"], "text/html", f2)
        # a non-ASCII name is in filename* (UTF-8, percent-encoded)
        name = "r\u00e9sum\u00e9 \u65e5\u672c.txt"
        f3 = self.up_ok(a.token, rid, b"plain words\n", name=name, content_type="text/plain")
        self.assertEqual(f3["name"], name)
        st, h, _ = self.download(a.token, f3["id"])
        cd = h.get("content-disposition", "")
        self.assertTrue(cd.lower().startswith("inline"), cd)  # plain text is inline
        m = re.search(r"filename\*=UTF-8''([^;\s]+)", cd, re.I)
        self.assertIsNotNone(m, cd)
        self.assertEqual(urllib.parse.unquote(m.group(1), encoding="utf-8", errors="strict"), name)

    def test_content_type_comes_from_the_bytes(self):
        a, _, rid = self.room_with_member()
        text = b"this is plain text and not a picture\n" * 20
        fake = self.up_ok(a.token, rid, text, name="fake.png", content_type="image/png")
        self.assertNotEqual(fake["content_type"], "image/png", fake)
        self.assertEqual(fake["content_type"].split(";")[0].strip(), "text/plain", fake)
        st, h, got = self.download(a.token, fake["id"])
        self.assertEqual(st, 200)
        self.assertEqual(got, text)
        self.assertFalse(h.get("content-type", "").startswith("image/"), h)
        # a real PNG declared as something else is image/png
        png = image_bytes("PNG", 40, 30)
        real = self.up_ok(a.token, rid, png, name="real.bin", content_type="application/octet-stream")
        self.assertEqual(real["content_type"], "image/png", real)
        st, h, got = self.download(a.token, real["id"])
        self.assertTrue(h.get("content-type", "").startswith("image/png"), h)
        self.assertTrue(h.get("content-disposition", "").lower().startswith("inline"), h)
        self.assertEqual(got, png)
        jpeg = image_bytes("JPEG", 40, 30)
        self.assertEqual(self.up_ok(a.token, rid, jpeg, name="j", content_type="text/plain")["content_type"],
                         "image/jpeg")
        # the upload answer's type is the one served and stored
        self.assertEqual(self.info(a.token, fake["id"])["content_type"], fake["content_type"])

    def wait_thumbnail(self, token, fid):
        def ready():
            st, h, raw = self.get(token, "/api/v1/files/%s/thumbnail" % fid)
            if st == 200:
                return h, raw
            self.assert_error(as_json((st, h, raw)), 404, "not_found")
            return None
        return poll(ready, "thumbnail of %s" % fid, timeout=THUMB_DEADLINE_S, interval=0.05)

    def test_thumbnails(self):
        a, b, rid = self.room_with_member()
        # a non-image and a fake image first: the images after them get their
        # thumbnails, these never do
        plain = self.up_ok(a.token, rid, b"no picture here\n" * 100, name="notes.txt", content_type="text/plain")
        fake = self.up_ok(a.token, rid, b"still no picture\n" * 100, name="fake.png", content_type="image/png")
        images = [("PNG", "image/png", 800, 600), ("JPEG", "image/jpeg", 300, 1000),
                  ("GIF", "image/gif", 64, 400), ("WEBP", "image/webp", 500, 500),
                  ("PNG", "image/png", 200, 150)]  # smaller than 320: never enlarged
        uploaded = []
        for fmt, ctype, w, h in images:
            data = image_bytes(fmt, w, h)
            f = self.up_ok(a.token, rid, data, name="pic.%s" % fmt.lower(), content_type=ctype)
            self.assertEqual(f["content_type"], ctype, f)
            uploaded.append((fmt, w, h, f))
        for fmt, w, h, f in uploaded:
            with self.subTest(image="%s %dx%d" % (fmt, w, h)):
                hdrs, raw = self.wait_thumbnail(b.token, f["id"])
                self.assertTrue(hdrs.get("content-type", "").startswith("image/jpeg"), hdrs)
                thumb = Image.open(io.BytesIO(raw))
                self.assertEqual(thumb.format, "JPEG")
                tw, th = thumb.size
                longest = min(320, max(w, h))
                self.assertEqual(max(tw, th), longest, (tw, th))
                if w >= h:
                    self.assertEqual(tw, longest)
                    self.assertLessEqual(abs(th - h * longest / w), 1.0, (tw, th))
                else:
                    self.assertEqual(th, longest)
                    self.assertLessEqual(abs(tw - w * longest / h), 1.0, (tw, th))
                info = self.info(b.token, f["id"])
                self.assertEqual((info.get("width"), info.get("height"), info.get("thumbnail")), (w, h, True), info)
                for k in ("id", "name", "size", "content_type", "sha256"):
                    self.assertEqual(info[k], f[k])
        for f in (plain, fake):
            with self.subTest(non_image=f["name"]):
                self.assert_error(as_json(self.get(b.token, "/api/v1/files/%s/thumbnail" % f["id"])),
                                  404, "not_found")
                info = self.info(b.token, f["id"])
                self.assertNotEqual(info.get("thumbnail"), True, info)
                self.assertNotIn("width", info)

    def test_pixel_flood_is_stored_but_never_decoded(self):
        a, b, rid = self.room_with_member()
        big = huge_png(40000, 40000)
        self.assertLess(len(big), 400 * 1024)
        flood = self.up_ok(a.token, rid, big, name="flood.png", content_type="image/png")
        self.assertEqual(flood["content_type"], "image/png")
        # the thumbnailer takes images in order: once the next one has its
        # thumbnail, the flood was looked at
        small = self.up_ok(a.token, rid, image_bytes("PNG", 30, 20), name="small.png", content_type="image/png")
        self.wait_thumbnail(b.token, small["id"])
        info = self.info(b.token, flood["id"])
        self.assertNotEqual(info.get("thumbnail"), True, info)
        self.assertNotIn("width", info)
        self.assert_error(as_json(self.get(b.token, "/api/v1/files/%s/thumbnail" % flood["id"])), 404, "not_found")
        # the file itself is stored whole
        st, _, raw = self.get(b.token, "/api/v1/files/" + flood["id"])
        self.assertEqual((st, raw), (200, big))
        self.assert_healthy()

    def test_send_with_file_over_ws_and_http(self):
        a, b, rid = self.room_with_member()
        other = self.create_room(a.token)["id"]
        f = self.up_ok(a.token, rid, b"%PDF-1.4 not really\n" + os.urandom(3000), name="doc.pdf",
                       content_type="application/pdf")
        g = self.up_ok(a.token, other, b"elsewhere", name="e.txt", content_type="text/plain")
        expect = {k: f[k] for k in ("id", "name", "size", "content_type")}
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        # WS send, empty body
        ack = wa.ok("send", room=rid, body="", client_msg_id="file-1", file_id=f["id"])
        self.assertEqual(ack["seq"], 1, ack)
        for ws in (wa, wb):
            ev = ws.wait_event("message", lambda d: d["room"] == rid and d["seq"] == 1)
            self.assertEqual(ev["msg_id"], ack["msg_id"])
            self.assertIn("file", ev, ev)
            self.assertEqual({k: ev["file"].get(k) for k in expect}, expect, ev)
        # WS send without a body field, and with a body
        ack2 = wa.ok("send", room=rid, client_msg_id="file-2", file_id=f["id"])
        ack3 = wa.ok("send", room=rid, body="see attached", client_msg_id="file-3", file_id=f["id"])
        ev3 = wb.wait_event("message", lambda d: d["room"] == rid and d["seq"] == ack3["seq"])
        self.assertEqual(ev3["body"], "see attached")
        self.assertEqual({k: ev3["file"].get(k) for k in expect}, expect)
        # HTTP send, no body
        st, _, body = self.api("POST", "/api/v1/rooms/%s/messages" % rid,
                               {"client_msg_id": "file-4", "file_id": f["id"]}, token=b.token)
        self.assertEqual(st, 201, body)
        m4 = body["message"]
        self.assertEqual({k: m4["file"].get(k) for k in expect}, expect, m4)
        self.assertEqual(m4["from"], b.username)
        ev4 = wa.wait_event("message", lambda d: d["room"] == rid and d["seq"] == m4["seq"])
        self.assertEqual({k: ev4["file"].get(k) for k in expect}, expect)
        st, _, body = self.api("POST", "/api/v1/rooms/%s/messages" % rid,
                               {"body": "", "client_msg_id": "file-5", "file_id": f["id"]}, token=a.token)
        self.assertEqual(st, 201, body)
        # a file of another room, an unknown file: invalid_request, over both
        for fid in (g["id"], MISSING_FILE):
            with self.subTest(file_id=fid):
                err = wa.error("send", room=rid, body="x", client_msg_id="bad-" + fid, file_id=fid)
                self.assertEqual(err["code"], "invalid_request", err)
                err = wb.error("send", room=rid, body="", client_msg_id="bad2-" + fid, file_id=fid)
                self.assertEqual(err["code"], "invalid_request", err)
                self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % rid,
                                           {"body": "x", "file_id": fid}, token=a.token), 400, "invalid_request")
        # without file_id an empty body is still refused
        self.assertEqual(wa.error("send", room=rid, body="", client_msg_id="empty")["code"], "invalid_request")
        # history: five messages, each with the file
        hist = self.all_messages(b.token, rid)
        self.assertEqual([m["seq"] for m in hist], [1, 2, 3, 4, 5])
        self.assertEqual([m["msg_id"] for m in hist[:3]], [ack["msg_id"], ack2["msg_id"], ack3["msg_id"]])
        for m in hist:
            self.assertIn("file", m, m)
            self.assertEqual({k: m["file"].get(k) for k in expect}, expect, m)
        hist_ws = wb.ok("history", room=rid)["messages"]
        self.assertEqual(hist_ws, hist)
        # the file in the other room still works there
        ack_o = wa.ok("send", room=other, body="", client_msg_id="o-1", file_id=g["id"])
        self.assertEqual(ack_o["seq"], 1)


# -- memory while a large upload streams --------------------------------------------

class UploadMemoryTest(FilesCase):

    def test_rss_stays_flat_during_25mib_upload(self):
        a = self.new_user()
        rid = self.create_room(a.token)["id"]
        pid = self.server.proc.pid
        # warm up the upload path once (libmagic, threads), then measure
        self.up_ok(a.token, rid, os.urandom(512 * 1024))
        data = os.urandom(25 * MiB)
        before = vm_rss_kib(pid)
        sampler = RssSampler(pid)
        sampler.start()
        try:
            r = self.up(a.token, rid, data, name="big.bin", piece=PIECE)
        finally:
            sampler.stop()
        self.assertIsNone(sampler.error)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["file"]["sha256"], sha256_hex(data))
        self.assertGreaterEqual(sampler.samples, 5, "too few RSS samples")
        growth_mib = (sampler.peak - before) / 1024.0
        self.assertLess(growth_mib, 12.0,
                        "server RSS grew by %.1f MiB (from %.1f to peak %.1f MiB, %d samples) while a 25 MiB "
                        "file was uploaded" % (growth_mib, before / 1024.0, sampler.peak / 1024.0, sampler.samples))
        st, _, got = self.download(a.token, r.body["file"]["id"])
        self.assertEqual(st, 200)
        self.assertTrue(got == data)


# -- --max-file-size ----------------------------------------------------------------

class MaxFileSizeTest(FilesCase):
    server_args = ("--max-file-size", "1M", "--user-quota", "1M")

    def assert_nothing_kept(self, user, rid):
        """A refused upload left nothing: the whole quota (1 MiB, the file
        limit too) is still free, and nothing shows in the room."""
        self.assertEqual(self.all_messages(user.token, rid), [])
        self.assertEqual(self.my_rooms(user.token)[rid]["last_seq"], 0)
        f = self.up_ok(user.token, rid, os.urandom(MiB), name="exact.bin")
        st, _, got = self.download(user.token, f["id"])
        self.assertEqual((st, len(got)), (200, MiB))
        # and the quota does count stored files
        self.assert_error(self.up(user.token, rid, b"1").as_resp(), 413, "quota_exceeded")

    def test_content_length_over_limit(self):
        a = self.new_user()
        rid = self.create_room(a.token)["id"]
        r = self.up(a.token, rid, MiB + 1)
        self.assert_error(r.as_resp(), 413, "too_large")
        self.assert_nothing_kept(a, rid)

    def test_refused_from_the_header_before_any_byte(self):
        a = self.new_user()
        rid = self.create_room(a.token)["id"]
        # a 10 GiB Content-Length and no body at all: the answer must come anyway
        req = ("POST /api/v1/rooms/%s/files HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
               "X-Filename: huge.bin\r\nContent-Type: application/octet-stream\r\n"
               "Content-Length: %d\r\n\r\n" % (rid, HOST, a.token, 10 * 1024 * MiB)).encode()
        out = raw_http(self.server.port, req, timeout=10)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"),
                        "headers with Content-Length: 10 GiB, no body: expected an immediate 413 too_large, "
                        "got %r" % out[:300])
        self.assertIn(b'"too_large"', out)
        self.assert_nothing_kept(a, rid)

    def test_chunked_upload_streaming_past_limit(self):
        a = self.new_user()
        rid = self.create_room(a.token)["id"]
        r = self.up(a.token, rid, 32 * MiB, name="endless.bin", chunked=True)
        self.assert_error(r.as_resp(), 413, "too_large")
        self.assertLess(r.sent, 16 * MiB, "the server read far past the 1 MiB limit before refusing")
        self.assert_nothing_kept(a, rid)

    def test_uploads_at_the_limit(self):
        a = self.new_user()
        b = self.new_user()
        rid = self.create_room(a.token)["id"]
        self.join(b.token, rid)
        data = os.urandom(MiB)
        f = self.up_ok(a.token, rid, data, chunked=True, name="chunked.bin")
        self.assertEqual(f["sha256"], sha256_hex(data))
        st, _, got = self.download(a.token, f["id"])
        self.assertTrue(st == 200 and got == data)
        f2 = self.up_ok(b.token, rid, data, name="cl.bin")
        self.assertEqual(f2["sha256"], f["sha256"])
        self.assertNotEqual(f2["id"], f["id"])


# -- --user-quota --------------------------------------------------------------------

class UserQuotaTest(FilesCase):
    server_args = ("--user-quota", "3M")

    def test_quota_exceeded(self):
        a, b, rid = self.room_with_member()
        other = self.create_room(a.token)["id"]
        first = self.up_ok(a.token, rid, os.urandom(2 * MiB), name="one.bin")
        self.assert_error(self.up(a.token, rid, os.urandom(2 * MiB), name="two.bin").as_resp(),
                          413, "quota_exceeded")
        # chunked: found out while streaming
        self.assert_error(self.up(a.token, rid, 2 * MiB, name="two-chunked.bin", chunked=True).as_resp(),
                          413, "quota_exceeded")
        # per user, across rooms: the refused uploads counted nothing, 1 MiB is left exactly
        self.up_ok(a.token, other, os.urandom(MiB), name="rest.bin")
        self.assert_error(self.up(a.token, rid, b"!", name="one-more.bin").as_resp(), 413, "quota_exceeded")
        self.assert_error(self.up(a.token, other, b"!", name="one-more.bin", chunked=True).as_resp(),
                          413, "quota_exceeded")
        # another user has a quota of his own
        self.up_ok(b.token, rid, os.urandom(2 * MiB), name="bs.bin")
        # and the first file is intact
        st, _, got = self.download(b.token, first["id"])
        self.assertEqual((st, sha256_hex(got)), (200, first["sha256"]))


# -- restart -------------------------------------------------------------------------

class FilesRestartTest(RestartCase, FilesCase):

    def test_files_survive_restart(self):
        s1 = self.start()
        a = self.new_user(server=s1)
        rid = self.create_room(a.token, server=s1)["id"]
        data = os.urandom(3 * MiB + 12345)
        f = self.up_ok(a.token, rid, data, server=s1, name="keep.bin")
        png = image_bytes("PNG", 640, 480)
        p = self.up_ok(a.token, rid, png, server=s1, name="keep.png", content_type="image/png")
        self.poll_thumb(a.token, p["id"], s1)
        m = self.post(a.token, rid, "", server=s1, file_id=f["id"])
        info_f = self.info(a.token, f["id"], server=s1)
        info_p = self.info(a.token, p["id"], server=s1)
        self.assertEqual(s1.terminate(), 0, s1.stderr_text()[-2000:])

        s2 = self.start()
        st, h, got = self.download(a.token, f["id"], server=s2)
        self.assertEqual(st, 200, got[:300])
        self.assertTrue(got == data, "file changed across the restart")
        self.assertEqual(h.get("etag"), '"%s"' % sha256_hex(data))
        st, h, got = self.download(a.token, f["id"], server=s2, headers={"Range": "bytes=-100"})
        self.assertEqual(st, 206)
        self.assertEqual(got, data[-100:])
        self.assertEqual(self.info(a.token, f["id"], server=s2), info_f)
        self.assertEqual(self.info(a.token, p["id"], server=s2), info_p)
        st, _, raw = self.get(a.token, "/api/v1/files/%s/thumbnail" % p["id"], server=s2)
        self.assertEqual(st, 200)
        self.assertEqual(Image.open(io.BytesIO(raw)).size, (320, 240))
        hist = self.all_messages(a.token, rid, server=s2)
        self.assertEqual(hist, [m])
        self.assertEqual(hist[0]["file"]["id"], f["id"])
        # a new upload after the restart gets a new id and works
        g = self.up_ok(a.token, rid, b"after", server=s2, name="after.txt", content_type="text/plain")
        self.assertNotIn(g["id"], (f["id"], p["id"]))
        s2.stop()

    def poll_thumb(self, token, fid, server):
        def ready():
            st, _, _ = self.get(token, "/api/v1/files/%s/thumbnail" % fid, server=server)
            self.assertIn(st, (200, 404))
            return st == 200
        poll(ready, "thumbnail of %s" % fid, timeout=THUMB_DEADLINE_S, interval=0.05)


if __name__ == "__main__":
    main()
