#!/usr/bin/python3
"""Bad input over WebSocket and HTTP: the right close code or error, the server
keeps serving (/healthz), and nothing is stored (the history is unchanged)."""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from websocket import ABNF  # noqa: E402

from harness import ConfabTestCase, HOST, main, raw_http  # noqa: E402

FRAME_LIMIT = 64 * 1024


def padded_frame(size, **fields):
    """A JSON object of exactly `size` bytes (UTF-8), padded in a `pad` field."""
    obj = dict(fields)
    obj["pad"] = ""
    base = len(json.dumps(obj, separators=(",", ":")).encode())
    obj["pad"] = "x" * (size - base)
    text = json.dumps(obj, separators=(",", ":"))
    assert len(text.encode()) == size
    return text


class BadInputTest(ConfabTestCase):
    fixture = None

    def setUp(self):
        super().setUp()
        cls = type(self)
        if cls.fixture is None:
            owner = self.new_user()
            room = self.create_room(owner.token)["id"]
            for body in ("first", "second \U0001F600", "third"):
                self.post(owner.token, room, body)
            cls.fixture = (owner, room, self.all_messages(owner.token, room))
        self.owner, self.room, self.baseline = cls.fixture

    def assert_unchanged(self):
        """The server answers, authenticates and stored nothing new."""
        self.assert_healthy()
        self.assertEqual(self.all_messages(self.owner.token, self.room), self.baseline,
                         "bad input changed the history")
        ws = self.connect(self.owner.token)
        self.assertEqual(ws.ok("ping"), {})
        self.assertEqual(ws.ok("history", room=self.room)["messages"], self.baseline)
        ws.close()

    def authed(self):
        return self.connect(self.owner.token)

    # -- WebSocket frames that close the socket --

    def test_not_json_closes_1007(self):
        for text in ("hello", "{\"op\":\"send\"", "{'op':'ping'}", "{\"op\":\"ping\",\"id\":1}}", "nul\u0000"):
            with self.subTest(text=text):
                ws = self.authed()
                ws.send_text(text)
                self.assertEqual(ws.expect_close(), 1007)
        self.assert_unchanged()

    def test_json_not_object_closes_1007(self):
        send = {"op": "send", "id": 1, "room": self.room, "body": "array", "client_msg_id": "arr"}
        for text in (json.dumps([send]), "[]", "\"str\"", "42", "null", "true"):
            with self.subTest(text=text[:40]):
                ws = self.authed()
                mark = len(ws.frames)
                ws.send_text(text)
                self.assertEqual(ws.expect_close(), 1007)
                self.assertFalse([f for f in ws.frames[mark:] if f.get("op") == "ok"], ws.frames)
        self.assert_unchanged()

    def test_invalid_utf8_closes_1007(self):
        frame = b'{"op":"send","id":1,"room":"' + self.room.encode() + b'","body":"\xff\xfe","client_msg_id":"u8"}'
        ws = self.authed()
        ws.send_bytes_as_text(frame)
        self.assertEqual(ws.expect_close(), 1007)
        self.assert_unchanged()

    def test_not_json_before_auth(self):
        ws = self.connect()
        ws.send_text("not json at all")
        self.assertIn(ws.expect_close(), (1007, 4401))
        self.assert_unchanged()

    def test_frame_over_limit_closes_1009(self):
        ws = self.authed()
        ws.send_obj({"op": "send", "id": 1, "room": self.room, "body": "a" * (FRAME_LIMIT + 100),
                     "client_msg_id": "huge"})
        self.assertEqual(ws.expect_close(timeout=10), 1009)
        ws = self.authed()
        mark = len(ws.frames)
        ws.send_text(padded_frame(FRAME_LIMIT + 1, op="ping", id=1))
        self.assertEqual(ws.expect_close(timeout=10), 1009)
        self.assertFalse([f for f in ws.frames[mark:] if f.get("op") == "ok"], ws.frames)
        self.assert_unchanged()

    def test_frame_at_limit_is_accepted(self):
        ws = self.authed()
        ws.send_text(padded_frame(FRAME_LIMIT, op="ping", id=7))
        r = ws.wait_reply(7)
        self.assertEqual(r["op"], "ok", r)
        self.assertEqual(ws.ok("ping"), {})

    def test_fragmented_message_over_limit_closes_1009(self):
        ws = self.authed()
        part = "x" * 30000
        ws.ws.send_frame(ABNF.create_frame('{"op":"ping","id":1,"pad":"' + part, ABNF.OPCODE_TEXT, 0))
        ws.ws.send_frame(ABNF.create_frame(part, ABNF.OPCODE_CONT, 0))
        try:
            ws.ws.send_frame(ABNF.create_frame(part + '"}', ABNF.OPCODE_CONT, 1))
        except OSError:
            pass  # the server may already have closed
        self.assertEqual(ws.expect_close(timeout=10), 1009)
        self.assert_unchanged()

    def test_fragmented_message_under_limit_is_one_request(self):
        ws = self.authed()
        ws.ws.send_frame(ABNF.create_frame('{"op":"pi', ABNF.OPCODE_TEXT, 0))
        ws.ws.send_frame(ABNF.create_frame('ng","id":', ABNF.OPCODE_CONT, 0))
        ws.ws.send_frame(ABNF.create_frame('31}', ABNF.OPCODE_CONT, 1))
        self.assertEqual(ws.wait_reply(31)["op"], "ok")

    def test_frame_over_limit_before_auth_closes_1009(self):
        ws = self.connect()
        ws.send_text(padded_frame(FRAME_LIMIT + 1000, op="auth", id=1, token=self.owner.token))
        self.assertEqual(ws.expect_close(timeout=10), 1009)
        self.assert_unchanged()

    def test_client_vanishes_mid_frame(self):
        ws = self.authed()
        # header of a 1000-byte masked text frame, then only 10 bytes, then gone
        ws.ws.sock.sendall(bytes([0x81, 0x80 | 126, 0x03, 0xE8, 1, 2, 3, 4]) + b"0123456789")
        ws.ws.sock.shutdown(socket.SHUT_RDWR)
        ws.close()
        self.assert_unchanged()

    # -- WebSocket requests that get an error and keep the socket --

    def test_bad_requests_keep_socket_and_store_nothing(self):
        ws = self.authed()
        bad = [
            ("send", {"room": self.room, "client_msg_id": "b1"}, "invalid_request"),
            ("send", {"room": self.room, "body": "", "client_msg_id": "b2"}, "invalid_request"),
            ("send", {"room": self.room, "body": 12, "client_msg_id": "b3"}, "invalid_request"),
            ("send", {"room": self.room, "body": "x"}, "invalid_request"),
            ("send", {"room": self.room, "body": "x", "client_msg_id": 9}, "invalid_request"),
            ("send", {"room": self.room, "body": "a" * 8001, "client_msg_id": "b6"}, "too_large"),
            ("send", {"room": "r_ffffffffffffffff", "body": "x", "client_msg_id": "b7"}, "not_found"),
            ("send", {"room": "../../etc", "body": "x", "client_msg_id": "b8"}, ("not_found", "invalid_request")),
            ("send", {"room": self.room, "body": "x", "client_msg_id": "b9", "reply_to": -1}, "invalid_request"),
            ("history", {"room": self.room, "limit": 0}, "invalid_request"),
            ("history", {"room": self.room, "limit": 1000}, "invalid_request"),
            ("bogus", {}, "unknown_op"),
        ]
        for op, fields, code in bad:
            with self.subTest(op=op, fields=repr(fields)[:60]):
                r = ws.error(op, **fields)
                self.assertIn(r["code"], code if isinstance(code, tuple) else (code,))
        self.assertFalse(ws.closed)
        self.assertEqual(ws.events("message"), [])
        self.assert_unchanged()

    def test_unknown_fields_are_ignored(self):
        owner = self.new_user()
        room = self.create_room(owner.token)["id"]
        ws = self.connect(owner.token)
        ack = ws.ok("send", room=room, body="extra", client_msg_id="e1", shiny=True, nested={"a": [1]})
        self.assertEqual(ack["seq"], 1)
        self.assertEqual(ws.ok("ping", whatever="x"), {})
        st, _, body = self.api("POST", "/api/v1/rooms/%s/messages" % room,
                               {"body": "extra http", "colour": "blue"}, token=owner.token)
        self.assertEqual(st, 201, body)
        self.assertNotIn("shiny", self.all_messages(owner.token, room)[0])

    # -- HTTP --

    def test_bad_http_bodies_store_nothing(self):
        path = "/api/v1/rooms/%s/messages" % self.room
        t = self.owner.token
        self.assert_error(self.api("POST", path, raw_body="{\"body\":", token=t), 400, "invalid_request")
        self.assert_error(self.api("POST", path, raw_body="[{\"body\":\"x\"}]", token=t), 400, "invalid_request")
        self.assert_error(self.api("POST", path, raw_body=b"{\"body\":\"\xff\"}", token=t), 400, "invalid_request")
        self.assert_error(self.api("POST", path, {"body": 3}, token=t), 400, "invalid_request")
        self.assert_error(self.api("POST", path, {"body": "a" * 8001}, token=t), 413, "too_large")
        self.assert_error(self.api("POST", path, {"body": "x", "pad": "p" * (1024 * 1024 + 1)}, token=t),
                          413, "too_large")
        self.assert_error(self.api("GET", path + "?limit=0", token=t), 400, "invalid_request")
        self.assert_error(self.api("GET", path + "?limit=201", token=t), 400, "invalid_request")
        st, _, body = self.api("POST", "/api/v1/rooms/%s/messages" % "r_%00zz", {"body": "x"}, token=t)
        self.assertIn(st, (400, 404), body)
        self.assert_unchanged()

    def test_garbage_http(self):
        for data in (b"GARBAGE\r\n\r\n",
                     b"GET / HTTP/9.9\r\n\r\n",
                     b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 100000 + b"\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),
                     b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"user"):
            with self.subTest(data=data[:30]):
                raw_http(self.server.port, data, timeout=3)
        self.assert_unchanged()

    def test_bad_websocket_upgrades(self):
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        for hdrs in ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\n"
                     "Sec-WebSocket-Key: %s\r\n" % key,
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"):
            with self.subTest(headers=hdrs[:60]):
                resp = raw_http(self.server.port, ("GET /ws HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (HOST, hdrs)).encode(),
                                timeout=3)
                self.assertFalse(resp.startswith(b"HTTP/1.1 101"), resp[:200])
        self.assert_unchanged()

    def test_many_unauthenticated_sockets_then_normal_service(self):
        socks = [self.connect() for _ in range(20)]
        for i, ws in enumerate(socks):
            ws.send_obj({"op": "ping", "id": i})
        for ws in socks:
            self.assertEqual(ws.expect_close(), 4401)
        self.assert_unchanged()


if __name__ == "__main__":
    main()
