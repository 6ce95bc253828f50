#!/usr/bin/python3
"""A Python end-to-end encryption client for e2ee.test.mjs: the format of
docs/E2EE.md as tests/integration/harness/e2ee.py implements it (Debian's
python3-cryptography), driven over stdin and stdout, one JSON object a line
each way, so that the browser test can check that the web client (WebCrypto)
and an independent implementation read each other.

Usage: e2ee_peer.py PORT. Requests (each answered with {"ok": result} or
{"error": text}):
  {"op": "device", "user", "token"}            -> {"device_id"}: a new device, published
  {"op": "send", "device", "room", "body", "image"?: base64, "forge"?: "tamper"|"signature"}
                                                -> the stored message
  {"op": "read", "device", "room"}             -> [{"seq", "from", "body"?, "file"?: base64, "error"?}]
  {"op": "safety", "token", "a", "b"}          -> the safety number of users a and b
"""

import base64
import http.client
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from harness import e2ee  # noqa: E402
from harness.rest import http_request  # noqa: E402

PORT = int(sys.argv[1])
devices = {}  # device_id -> (Device, token)


def api(method, path, token, body=None, **kw):
    status, _, data = http_request(PORT, method, "/api/v1" + path, body=body, token=token, **kw)
    if status >= 300:
        raise RuntimeError("%s %s: %s %r" % (method, path, status, data))
    return data


def verified_devices(token, username):
    """{device_id: (identity, signing)} of the devices whose signature verifies."""
    out = {}
    for entry in api("GET", "/keys/%s" % username, token)["devices"]:
        keys = e2ee.verify_device(username, entry)
        if keys is not None:
            out[entry["device_id"]] = keys
    return out


def recipients(token, room):
    out = {}
    for m in api("GET", "/rooms/%s/members" % room, token)["members"]:
        name = m["user"]["username"]
        for device_id, (ik, _) in verified_devices(token, name).items():
            out["%s:%s" % (name, device_id)] = ik
    return out


def op_device(req):
    d = e2ee.Device(req["user"])
    api("PUT", "/keys/devices/%s" % d.device_id, req["token"], d.published())
    devices[d.device_id] = (d, req["token"])
    return {"device_id": d.device_id}


def op_send(req):
    d, token = devices[req["device"]]
    room, cmid = req["room"], "py-" + uuid.uuid4().hex
    fields = {"client_msg_id": cmid}
    file_entry = None
    if req.get("image"):
        sealed, file_entry = e2ee.encrypt_file(base64.b64decode(req["image"]), "from-python.png", "image/png")
        up = api("POST", "/rooms/%s/files" % room, token, raw_body=sealed,
                 headers={"Content-Type": "application/octet-stream", "X-Filename": "encrypted.bin",
                          "X-Encrypted": "1"})
        fields["file_id"] = file_entry["id"] = up["file"]["id"]
    env = e2ee.encrypt(d, room, cmid, req["body"], recipients(token, room), file=file_entry)
    if req.get("forge") == "tamper":  # one payload byte flipped after signing
        raw = bytearray(e2ee.unb64(env["payload"]))
        raw[0] ^= 1
        env["payload"] = e2ee.b64(bytes(raw))
    elif req.get("forge") == "signature":  # signed by a key that is not the device's
        env = e2ee.encrypt(e2ee.Device(d.username, d.device_id), room, cmid, req["body"], recipients(token, room))
    fields["e2ee"] = env
    return api("POST", "/rooms/%s/messages" % room, token, fields)["message"]


def op_read(req):
    d, token = devices[req["device"]]
    out = []
    messages = api("GET", "/rooms/%s/messages?limit=200" % req["room"], token)["messages"]
    signing = {}
    for m in messages:
        row = {"seq": m["seq"], "from": m["from"]}
        try:
            if m["from"] not in signing:
                signing[m["from"]] = verified_devices(token, m["from"])
            sender = signing[m["from"]].get(m.get("e2ee", {}).get("sender_device"))
            if sender is None:
                raise e2ee.Undecryptable("unknown sender device")
            plain = e2ee.decrypt(d, m, sender[1])
            row["body"] = plain["body"]
            if "file" in plain:
                data = download(token, m["file"]["id"])
                row["file"] = base64.b64encode(e2ee.decrypt_file(data, plain["file"])).decode()
        except e2ee.Undecryptable as err:
            row["error"] = str(err)
        out.append(row)
    return out


def download(token, file_id):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    try:
        conn.request("GET", "/api/v1/files/%s" % file_id, headers={"Authorization": "Bearer " + token})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError("GET file %s: %s" % (file_id, resp.status))
        return resp.read()
    finally:
        conn.close()


def op_safety(req):
    token = req["token"]
    lists = [api("GET", "/keys/%s" % u, token)["devices"] for u in (req["a"], req["b"])]
    return e2ee.safety_number(req["a"], lists[0], req["b"], lists[1])


OPS = {"device": op_device, "send": op_send, "read": op_read, "safety": op_safety}


def main():
    for _ in range(10000):
        line = sys.stdin.readline()
        if not line:
            return
        req = json.loads(line)
        try:
            reply = {"ok": OPS[req["op"]](req)}
        except Exception as err:  # noqa: BLE001 - every failure goes back to the test as text
            reply = {"error": "%s: %s" % (type(err).__name__, err)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
