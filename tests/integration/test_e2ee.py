#!/usr/bin/python3
"""End-to-end encryption through a real server (PROTOCOL.md section 7,
docs/E2EE.md): Python devices (harness/e2ee.py, python3-cryptography)
exchange encrypted messages in an encrypted room and DM; each recipient
device decrypts from the event and from history, a tampered or forged
message is undecryptable, and the plaintext never reaches the server's
data directory or its debug log. The devices find each other's keys in the
key directory, and a change of a user's devices is a `keys` event to their
DM partners and the members of their encrypted rooms."""

import hashlib
import http.client
import io
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import HOST, ConfabTestCase, main, poll, unique  # noqa: E402
from harness import e2ee  # noqa: E402

from PIL import Image  # noqa: E402


class E2eeBase(ConfabTestCase):
    server_args = ("--log-level", "debug")

    def setUp(self):
        super().setUp()
        self.secrets = []

    def secret(self, what):
        """A plaintext that must never reach the server: unique, and long
        enough that it cannot appear by chance."""
        s = "%s %s" % (what, uuid.uuid4().hex + uuid.uuid4().hex)
        self.secrets.append(s)
        return s

    def publish(self, user, device):
        self.assert_status(self.api("PUT", "/api/v1/keys/devices/%s" % device.device_id, device.published(),
                                    token=user.token), 204)

    def devices_of(self, *pairs):
        """Every device of `pairs` (user, device) published, then read back
        from the key directory by another user and verified: the
        recipients of a message, {"user:device": identity_key}."""
        for u, d in pairs:
            self.publish(u, d)
        reader = pairs[0][0]
        out = {}
        for username in sorted({d.username for _, d in pairs}):
            listed = self.assert_status(self.api("GET", "/api/v1/keys/%s" % username, token=reader.token),
                                        200)["devices"]
            for entry in listed:
                keys = e2ee.verify_device(username, entry)
                self.assertIsNotNone(keys, "a published device does not verify: %r" % entry)
                out["%s:%s" % (username, entry["device_id"])] = keys[0]
        self.assertEqual(set(out), {d.key_id for _, d in pairs})
        return out

    def encrypted_room(self, owner, *members):
        room = self.assert_status(self.api("POST", "/api/v1/rooms",
                                           {"name": "sealed", "visibility": "private", "encrypted": True},
                                           token=owner.token), 201)["room"]["id"]
        for m in members:
            self.assert_status(self.api("POST", "/api/v1/rooms/%s/invite" % room, {"username": m.username},
                                        token=owner.token), 204)
            self.join(m.token, room)
        return room

    def send(self, user, device, room, body, recipients, file=None, file_id=None):
        cmid = unique("c")
        sealed = e2ee.encrypt(device, room, cmid, body, recipients, file=file)
        fields = {"e2ee": sealed, "client_msg_id": cmid}
        if file_id is not None:
            fields["file_id"] = file_id
        return self.assert_status(self.api("POST", "/api/v1/rooms/%s/messages" % room, fields, token=user.token),
                                  201)["message"]

    def upload(self, user, room, data, encrypted="1", content_type="application/octet-stream"):
        """POST /rooms/{room}/files: (status, body); X-Encrypted as given
        (None: no such header)."""
        headers = {"Content-Type": content_type, "X-Filename": "encrypted.bin"}
        if encrypted is not None:
            headers["X-Encrypted"] = encrypted
        status, _, body = self.api("POST", "/api/v1/rooms/%s/files" % room, raw_body=data, headers=headers,
                                   token=user.token)
        return status, body

    def download(self, user, path):
        """GET path: (status, raw bytes)."""
        conn = http.client.HTTPConnection(HOST, self.server.port, timeout=10)
        try:
            conn.request("GET", path, headers={"Authorization": "Bearer " + user.token})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


class E2eeTest(E2eeBase):

    def test_three_members_one_on_two_devices(self):
        ann, bob, cat = self.new_user(), self.new_user(), self.new_user()
        ann1 = e2ee.Device(ann.username)
        bob1, bob2 = e2ee.Device(bob.username), e2ee.Device(bob.username)
        cat1 = e2ee.Device(cat.username)
        everyone = [(ann, ann1), (bob, bob1), (bob, bob2), (cat, cat1)]
        room = self.encrypted_room(ann, bob, cat)
        sockets = {d.key_id: self.connect(u.token) for u, d in everyone}
        recipients = self.devices_of(*everyone)
        text = self.secret("hello from ann")
        sent = self.send(ann, ann1, room, text, recipients)
        self.assertNotIn("body", sent)
        history = self.all_messages(cat.token, room)
        self.assertEqual(len(history), 1)
        for u, d in everyone:
            with self.subTest(device=d.key_id):
                ev = sockets[d.key_id].wait_event("message", lambda m: m.get("room") == room and m.get("seq") == 1)
                self.assertEqual(e2ee.decrypt(d, ev, ann1.signing_public())["body"], text)
                self.assertEqual(e2ee.decrypt(d, history[0], ann1.signing_public())["body"], text)
        # An answer from bob's second device, that his first reads too.
        reply = self.secret("bob answers")
        self.send(bob, bob2, room, reply, recipients)
        last = self.all_messages(ann.token, room)[-1]
        for d in (ann1, bob1, cat1):
            self.assertEqual(e2ee.decrypt(d, last, bob2.signing_public())["body"], reply)

    def test_a_device_that_is_not_a_recipient_reads_nothing(self):
        ann, bob = self.new_user(), self.new_user()
        ann1, bob1 = e2ee.Device(ann.username), e2ee.Device(bob.username)
        dm = self.assert_status(self.api("POST", "/api/v1/dm", {"username": bob.username, "encrypted": True},
                                         token=ann.token), 200)["room"]["id"]
        self.send(ann, ann1, dm, self.secret("before bob's new device"),
                  self.devices_of((ann, ann1), (bob, bob1)))
        bob_new = e2ee.Device(bob.username)
        m = self.all_messages(bob.token, dm)[0]
        self.assertEqual(e2ee.decrypt(bob1, m, ann1.signing_public())["body"][:6], "before")
        with self.assertRaises(e2ee.Undecryptable):
            e2ee.decrypt(bob_new, m, ann1.signing_public())

    def test_tampered_or_forged_messages_are_undecryptable(self):
        ann, bob = self.new_user(), self.new_user()
        ann1, bob1 = e2ee.Device(ann.username), e2ee.Device(bob.username)
        room = self.encrypted_room(ann, bob)
        self.send(ann, ann1, room, self.secret("genuine"), self.devices_of((ann, ann1), (bob, bob1)))
        good = self.all_messages(bob.token, room)[0]
        self.assertEqual(e2ee.decrypt(bob1, good, ann1.signing_public())["body"][:7], "genuine")

        def altered(member, value):
            m = dict(good, e2ee=dict(good["e2ee"]))
            m["e2ee"][member] = value
            return m

        payload = bytearray(e2ee.unb64(good["e2ee"]["payload"]))
        payload[0] ^= 1
        wrap = bytearray(e2ee.unb64(good["e2ee"]["ciphertexts"][bob1.key_id]))
        wrap[-1] ^= 1
        cases = {
            "a flipped payload bit": altered("payload", e2ee.b64(bytes(payload))),
            "a flipped wrap bit": altered("ciphertexts", dict(good["e2ee"]["ciphertexts"],
                                                              **{bob1.key_id: e2ee.b64(bytes(wrap))})),
            "another room": dict(good, room="r_" + "0" * 16),
            "another sender": dict(good, **{"from": bob.username}),
            "not base64": altered("nonce", "%%%"),
        }
        for what, m in cases.items():
            with self.subTest(what=what), self.assertRaises(e2ee.Undecryptable):
                e2ee.decrypt(bob1, m, ann1.signing_public())
        # Signed by a key that is not the sender device's published one.
        with self.assertRaises(e2ee.Undecryptable):
            e2ee.decrypt(bob1, good, e2ee.Device(ann.username).signing_public())
        # The server accepts any well-formed object; a forgery is the
        # clients' to refuse, and it is stored as sent.
        mallory = e2ee.Device(ann.username, device_id=ann1.device_id)
        self.send(ann, mallory, room, self.secret("forged"), self.devices_of((ann, ann1), (bob, bob1)))
        forged = self.all_messages(bob.token, room)[-1]
        with self.assertRaises(e2ee.Undecryptable):
            e2ee.decrypt(bob1, forged, ann1.signing_public())

def png_bytes(w=400, h=300):
    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


class EncryptedFileTest(E2eeBase):
    """X-Encrypted uploads: stored as they come, no thumbnail, and the only
    files an encrypted room takes."""

    def test_an_encrypted_image_round_trip(self):
        ann, bob = self.new_user(), self.new_user()
        ann1, bob1 = e2ee.Device(ann.username), e2ee.Device(bob.username)
        room = self.encrypted_room(ann, bob)
        recipients = self.devices_of((ann, ann1), (bob, bob1))
        png = png_bytes()
        sealed, entry = e2ee.encrypt_file(png, "cat.png", "image/png")
        # The declared type is the client's to hide: the server serves
        # ciphertext as octet-stream whatever it is told.
        status, up = self.upload(ann, room, sealed, content_type="image/png")
        self.assertEqual(status, 201, up)
        f = up["file"]
        self.assertEqual((f["size"], f["content_type"], f["sha256"], f.get("encrypted")),
                         (len(sealed), "application/octet-stream", hashlib.sha256(sealed).hexdigest(), True))
        m = self.send(ann, ann1, room, self.secret("a picture"), recipients, file=entry, file_id=f["id"])
        self.assertEqual(m["file"]["id"], f["id"])
        self.assertTrue(m["file"]["encrypted"])
        got = self.all_messages(bob.token, room)[-1]
        plain = e2ee.decrypt(bob1, got, ann1.signing_public())
        status, raw = self.download(bob, "/api/v1/files/%s" % got["file"]["id"])
        self.assertEqual(status, 200)
        self.assertEqual(raw, sealed, "the server changed the bytes")
        self.assertEqual(e2ee.decrypt_file(raw, plain["file"]), png)
        # Altered bytes are refused by the receiver, never shown.
        with self.assertRaises(e2ee.Undecryptable):
            e2ee.decrypt_file(raw[:-1] + bytes([raw[-1] ^ 1]), plain["file"])

    def test_no_thumbnail_of_an_encrypted_file(self):
        ann = self.new_user()
        room = self.assert_status(self.api("POST", "/api/v1/rooms",
                                           {"name": "sealed", "visibility": "private", "encrypted": True},
                                           token=ann.token), 201)["room"]["id"]
        plain_room = self.create_room(ann.token, name="plain")["id"]
        png = png_bytes()
        # A real PNG flagged encrypted: only the flag keeps it from a thumbnail.
        status, flagged = self.upload(ann, room, png, content_type="image/png")
        self.assertEqual(status, 201, flagged)
        self.assertEqual(flagged["file"]["content_type"], "application/octet-stream")
        status, control = self.upload(ann, plain_room, png, encrypted=None, content_type="image/png")
        self.assertEqual(status, 201, control)
        self.assertEqual(control["file"]["content_type"], "image/png")
        self.assertNotIn("encrypted", control["file"])
        # The control uploaded later gets its thumbnail: the flagged one
        # would have had it by then.
        poll(lambda: self.download(ann, "/api/v1/files/%s/thumbnail" % control["file"]["id"])[0] == 200,
             "thumbnail of the control", timeout=20)
        self.assertEqual(self.download(ann, "/api/v1/files/%s/thumbnail" % flagged["file"]["id"])[0], 404)
        info = self.assert_status(self.api("GET", "/api/v1/files/%s/info" % flagged["file"]["id"],
                                           token=ann.token), 200)
        self.assertNotIn("thumbnail", info["file"])
        self.assertTrue(info["file"]["encrypted"])

    def test_files_must_match_the_room(self):
        ann, bob = self.new_user(), self.new_user()
        ann1, bob1 = e2ee.Device(ann.username), e2ee.Device(bob.username)
        room = self.encrypted_room(ann, bob)
        recipients = self.devices_of((ann, ann1), (bob, bob1))
        plain_room = self.create_room(ann.token, name="plain")["id"]
        status, plain_file = self.upload(ann, room, b"not encrypted", encrypted=None)
        self.assertEqual(status, 201, plain_file)
        status, zero = self.upload(ann, room, b"not encrypted either", encrypted="0")
        self.assertEqual(status, 201, zero)
        self.assertNotIn("encrypted", zero["file"])
        status, sealed_file = self.upload(ann, plain_room, b"sealed bytes")
        self.assertEqual(status, 201, sealed_file)
        for fid in (plain_file["file"]["id"], zero["file"]["id"]):
            cmid = unique("c")
            sealed = e2ee.encrypt(ann1, room, cmid, self.secret("with a plain file"), recipients)
            self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % room,
                                       {"e2ee": sealed, "client_msg_id": cmid, "file_id": fid}, token=ann.token),
                              400, "invalid_request")
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % plain_room,
                                   {"body": "see this", "client_msg_id": unique("c"),
                                    "file_id": sealed_file["file"]["id"]}, token=ann.token), 400, "invalid_request")
        self.assertEqual(self.all_messages(ann.token, room), [])
        self.assertEqual(self.all_messages(ann.token, plain_room), [])
        for bad in ("yes", "true", "2", "01"):
            with self.subTest(header=bad):
                status, body = self.upload(ann, room, b"x", encrypted=bad)
                self.assertEqual((status, body["error"]["code"]), (400, "invalid_request"), body)
        self.assert_healthy()


class PlaintextTest(E2eeBase):
    """After a run, no body sent to an encrypted room is anywhere in the
    node's data directory (RocksDB files and WAL) or its debug-level log."""

    def test_plaintext_never_reaches_the_server(self):
        ann, bob = self.new_user(), self.new_user()
        ann1, bob1 = e2ee.Device(ann.username), e2ee.Device(bob.username)
        room = self.encrypted_room(ann, bob)
        recipients = self.devices_of((ann, ann1), (bob, bob1))
        for i in range(20):
            self.send(ann, ann1, room, self.secret("note %d" % i), recipients)
        self.assert_error(self.api("POST", "/api/v1/rooms/%s/messages" % room,
                                   {"body": self.secret("refused plaintext"), "client_msg_id": unique("c")},
                                   token=ann.token), 400, "invalid_request")
        self.assertEqual(len(self.all_messages(bob.token, room)), 20)
        # The control: a plain room's body is in the same files, so the
        # search below would find a leak.
        plain_room = self.create_room(ann.token, name="plain")["id"]
        control = "control %s" % uuid.uuid4().hex
        self.post(ann.token, plain_room, control)
        # Stopped, not removed: the files stay until the class ends.
        self.assertEqual(self.server.terminate(), 0)
        found = self.grep(self.server.data_dir, [control])
        self.assertTrue(found, "the control body is not in the data dir: the search cannot see bodies")
        self.assertTrue(any("debug" in line.lower() for line in self.server.stdout_lines)
                        or self.grep(self.server.log_dir, ["debug"]), "no debug lines: the log is not at debug level")
        leaks = self.grep(self.server.data_dir, self.secrets) + self.grep(self.server.log_dir, self.secrets)
        leaks += [("stdout", n) for n in self.secrets for line in self.server.stdout_lines if n in line]
        self.assertEqual(leaks, [], "plaintext of an encrypted room on the server")

    @staticmethod
    def grep(top, needles):
        """(file, needle) for each needle found in any file under top."""
        hits = []
        raw = [n.encode() for n in needles]
        for d, _, files in os.walk(top):
            for name in files:
                path = os.path.join(d, name)
                with open(path, "rb") as f:
                    data = f.read()
                hits += [(path, n) for n in raw if n in data]
        return hits



class KeyDirectoryTest(E2eeBase):
    """PUT/DELETE /api/v1/keys/devices/{device_id}, GET /api/v1/keys/{username}."""

    def keys(self, token, username):
        return self.assert_status(self.api("GET", "/api/v1/keys/%s" % username, token=token), 200)["devices"]

    def test_publish_replace_list_delete(self):
        ann, bob = self.new_user(), self.new_user()
        self.assertEqual(self.keys(bob.token, ann.username), [])
        d1, d2 = e2ee.Device(ann.username, "b" * 32), e2ee.Device(ann.username, "a" * 32)
        self.publish(ann, d1)
        self.publish(ann, d2)
        listed = self.keys(bob.token, ann.username)
        self.assertEqual([d["device_id"] for d in listed], [d2.device_id, d1.device_id], "not by device_id")
        for entry, dev in zip(listed, (d2, d1)):
            self.assertEqual({k: entry[k] for k in ("identity_key", "signing_key", "signature")}, dev.published())
            self.assertIsInstance(entry["updated_at"], int)
            self.assertIsNotNone(e2ee.verify_device(ann.username, entry))
        # A device published again replaces its keys.
        d1b = e2ee.Device(ann.username, d1.device_id)
        self.publish(ann, d1b)
        listed = self.keys(ann.token, ann.username)
        self.assertEqual(len(listed), 2)
        self.assertEqual(listed[1]["identity_key"], d1b.published()["identity_key"])
        # Without the optional signing key.
        bare = {"identity_key": d2.published()["identity_key"]}
        self.assert_status(self.api("PUT", "/api/v1/keys/devices/c1", bare, token=ann.token), 204)
        entry = [d for d in self.keys(bob.token, ann.username) if d["device_id"] == "c1"][0]
        self.assertNotIn("signing_key", entry)
        self.assertNotIn("signature", entry)
        self.assert_status(self.api("DELETE", "/api/v1/keys/devices/c1", token=ann.token), 204)
        self.assert_error(self.api("DELETE", "/api/v1/keys/devices/c1", token=ann.token), 404, "not_found")
        self.assertEqual([d["device_id"] for d in self.keys(bob.token, ann.username)], [d2.device_id, d1.device_id])
        # Bob's devices are his own: deleting ann's device id as bob finds none.
        self.assert_error(self.api("DELETE", "/api/v1/keys/devices/%s" % d1.device_id, token=bob.token),
                          404, "not_found")
        self.assertEqual(len(self.keys(bob.token, ann.username)), 2)

    def test_a_device_change_is_a_keys_event(self):
        ann, bob, cat, dan, eve = (self.new_user() for _ in range(5))
        # bob: ann's DM partner (a plain DM); cat: with ann in an encrypted
        # room; dan: with ann in a plain private room only, and with cat in
        # an encrypted room; eve: in no room with ann.
        self.assert_status(self.api("POST", "/api/v1/dm", {"username": bob.username}, token=ann.token), 200)
        self.encrypted_room(ann, cat)
        plain = self.assert_status(self.api("POST", "/api/v1/rooms", {"name": "plain", "visibility": "private"},
                                            token=ann.token), 201)["room"]["id"]
        self.assert_status(self.api("POST", "/api/v1/rooms/%s/invite" % plain, {"username": dan.username},
                                    token=ann.token), 204)
        self.join(dan.token, plain)
        self.encrypted_room(cat, dan)
        socks = {u.username: self.connect(u.token) for u in (ann, bob, cat, dan, eve)}
        dev = e2ee.Device(ann.username)
        self.publish(ann, dev)

        def of_ann(n):
            return lambda d: d.get("user") == ann.username and len(d.get("devices", [])) == n
        for u in (ann, bob, cat):
            with self.subTest(user=u.username):
                ev = socks[u.username].wait_event("keys", of_ann(1))
                self.assertEqual(ev["devices"][0]["device_id"], dev.device_id)
                self.assertIsNotNone(e2ee.verify_device(ann.username, ev["devices"][0]))
        # The event of cat's change is the proof that dan's and eve's sockets
        # had time to get one for ann's: dan gets cat's (their encrypted
        # room), and nothing of ann's.
        self.publish(cat, e2ee.Device(cat.username))
        socks[dan.username].wait_event("keys", lambda d: d.get("user") == cat.username)
        self.assertEqual(socks[dan.username].events("keys", lambda d: d.get("user") == ann.username), [])
        socks[eve.username].ok("ping")
        self.assertEqual(socks[eve.username].events("keys"), [])
        # A deleted device is a keys event too, with the list left.
        self.assert_status(self.api("DELETE", "/api/v1/keys/devices/%s" % dev.device_id, token=ann.token), 204)
        for u in (bob, cat):
            self.assertEqual(socks[u.username].wait_event("keys", of_ann(0))["devices"], [])
        # A failed change (no such device) is no event: cat's next change
        # reaches ann after it, and ann saw two of her own.
        self.assert_error(self.api("DELETE", "/api/v1/keys/devices/%s" % dev.device_id, token=ann.token),
                          404, "not_found")
        self.publish(cat, e2ee.Device(cat.username))
        socks[ann.username].wait_event("keys", lambda d: d.get("user") == cat.username and len(d["devices"]) == 2)
        self.assertEqual(len(socks[ann.username].events("keys", lambda d: d.get("user") == ann.username)), 2)

    def test_bad_requests_store_nothing(self):
        ann = self.new_user()
        good = e2ee.Device(ann.username).published()
        ik, sk, sig = good["identity_key"], good["signing_key"], good["signature"]
        short = e2ee.b64(b"x" * 31)
        bad = [({}, "d"), ({"identity_key": 5}, "d"), ({"identity_key": short}, "d"),
               ({"identity_key": "not base64 at all, no" + "=" * 23}, "d"),
               ({"identity_key": ik.rstrip("=")}, "d"), ({"identity_key": ik[:-1] + "A"}, "d"),
               ({"identity_key": " " + ik[1:]}, "d"),
               ({"identity_key": ik, "signing_key": sk}, "d"), ({"identity_key": ik, "signature": sig}, "d"),
               ({"identity_key": ik, "signing_key": short, "signature": sig}, "d"),
               ({"identity_key": ik, "signing_key": sk, "signature": e2ee.b64(b"s" * 63)}, "d"),
               (good, "x" * 65), (good, "a.b"), (good, "%C3%A9")]
        for body, device in bad:
            with self.subTest(body=repr(body)[:50], device=device):
                self.assert_error(self.api("PUT", "/api/v1/keys/devices/%s" % device, body, token=ann.token),
                                  400, "invalid_request")
        for raw in ("[]", "nope"):
            self.assert_error(self.api("PUT", "/api/v1/keys/devices/d", raw_body=raw, token=ann.token),
                              400, "invalid_request")
        self.assertEqual(self.keys(ann.token, ann.username), [])
        self.assert_error(self.api("PUT", "/api/v1/keys/devices/d", good), 401, "unauthorized")
        self.assert_error(self.api("GET", "/api/v1/keys/%s" % ann.username), 401, "unauthorized")
        self.assert_error(self.api("GET", "/api/v1/keys/%s" % unique("ghost"), token=ann.token), 404, "not_found")
        self.assertEqual(self.keys(ann.token, ann.username), [])

    def test_at_most_32_devices(self):
        ann = self.new_user()
        keys = e2ee.Device(ann.username).published()
        for i in range(32):
            self.assert_status(self.api("PUT", "/api/v1/keys/devices/d%02d" % i, keys, token=ann.token), 204)
        self.assert_error(self.api("PUT", "/api/v1/keys/devices/d99", keys, token=ann.token), 400, "invalid_request")
        self.assert_status(self.api("PUT", "/api/v1/keys/devices/d05", keys, token=ann.token), 204)
        self.assertEqual(len(self.keys(ann.token, ann.username)), 32)


class FormatTest(ConfabTestCase):
    """The parts of the format that need no server."""
    start_server = False

    def test_device_keys_are_self_signed(self):
        d = e2ee.Device("ann")
        entry = dict(d.published(), device_id=d.device_id)
        self.assertEqual(e2ee.verify_device("ann", entry), (d.identity_public(), d.signing_public()))
        self.assertIsNone(e2ee.verify_device("bob", entry), "a device published under another name")
        other = e2ee.Device("ann")
        self.assertIsNone(e2ee.verify_device("ann", dict(entry, identity_key=e2ee.b64(other.identity_public()))))

    def test_safety_numbers(self):
        a = [dict(e2ee.Device("ann").published(), device_id="d1")]
        b = [dict(e2ee.Device("bob").published(), device_id=x) for x in ("d2", "d3")]
        n = e2ee.safety_number("ann", a, "bob", b)
        self.assertEqual(n, e2ee.safety_number("bob", b, "ann", a), "differs between the two sides")
        self.assertRegex(n, r"^(\d{5} ){11}\d{5}$")
        self.assertEqual(n, e2ee.safety_number("ann", a, "bob", list(reversed(b))), "depends on list order")
        b2 = b + [dict(e2ee.Device("bob").published(), device_id="d4")]
        self.assertNotEqual(n, e2ee.safety_number("ann", a, "bob", b2), "a new device left it unchanged")

    def test_files(self):
        data = os.urandom(70000)
        blob, entry = e2ee.encrypt_file(data, "photo.png", "image/png")
        self.assertNotIn(data[:64], blob)
        self.assertEqual(e2ee.decrypt_file(blob, entry), data)
        with self.assertRaises(e2ee.Undecryptable):
            e2ee.decrypt_file(blob[:-1] + bytes([blob[-1] ^ 1]), entry)


if __name__ == "__main__":
    main()
