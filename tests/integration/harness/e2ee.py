"""The end-to-end encryption format of docs/E2EE.md, as a client writes and
reads it: device keys, one encrypted message (content key, per-device
wraps, signature), encrypted files and safety numbers. Written from that
document alone with Debian's python3-cryptography, so that the server (which
never decrypts) and the web client (WebCrypto) are checked against an
independent implementation of the same bytes."""

import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALG = "confab-x25519-aes256gcm-ed25519-v1"
RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Undecryptable(Exception):
    """What a client shows as "this message can't be decrypted on this
    device": never text."""


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    if not isinstance(text, str):
        raise Undecryptable("not base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as e:
        raise Undecryptable("bad base64: %s" % e)


def _z(*parts):
    """parts joined with a zero byte after each (the separators of E2EE.md)."""
    out = b""
    for p in parts:
        out += (p.encode() if isinstance(p, str) else p) + b"\x00"
    return out


class Device:
    """One device of a user: a random device_id, an X25519 identity key and
    an Ed25519 signing key."""

    def __init__(self, username, device_id=None):
        self.username = username
        self.device_id = device_id or os.urandom(16).hex()
        self.identity = X25519PrivateKey.generate()
        self.signing = Ed25519PrivateKey.generate()

    @property
    def key_id(self):
        return "%s:%s" % (self.username, self.device_id)

    def identity_public(self):
        return self.identity.public_key().public_bytes(*RAW)

    def signing_public(self):
        return self.signing.public_key().public_bytes(*RAW)

    def published(self):
        """The body of PUT /api/v1/keys/devices/{device_id}."""
        ik = self.identity_public()
        sig = self.signing.sign(_z("confab-device-v1", self.username, self.device_id) + ik)
        return {"identity_key": b64(ik), "signing_key": b64(self.signing_public()), "signature": b64(sig)}


def verify_device(username, entry):
    """A device of the key directory ({device_id, identity_key, signing_key,
    signature}) whose self-signature verifies: (identity_key, signing_key)
    raw; None for one a client must ignore."""
    try:
        ik, sk, sig = unb64(entry["identity_key"]), unb64(entry["signing_key"]), unb64(entry["signature"])
        Ed25519PublicKey.from_public_bytes(sk).verify(sig, _z("confab-device-v1", username, entry["device_id"]) + ik)
        X25519PublicKey.from_public_bytes(ik)
        return ik, sk
    except (KeyError, TypeError, ValueError, InvalidSignature, Undecryptable):
        return None


def _payload_aad(room_id, sender_username, sender_device):
    return _z("confab-e2ee-v1", room_id, sender_username) + sender_device.encode()


def _signed_bytes(room_id, client_msg_id, sender_device, ephemeral, nonce, payload, wraps):
    out = _z("confab-e2ee-v1", room_id, client_msg_id, ALG, sender_device) + ephemeral + nonce + payload
    for key in sorted(wraps, key=lambda k: k.encode()):
        out += key.encode() + b"\x00" + wraps[key]
    return out


def _kek(shared, ephemeral_public, recipient_ik, room_id, key_id):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_ik,
                info=_z("confab-wrap-v1", room_id) + key_id.encode()).derive(shared)


def encrypt(sender, room_id, client_msg_id, body, recipients, file=None):
    """The e2ee object of a send. recipients: {"user:device": identity_key
    raw} (every device of every member, the sender's own included)."""
    plain = {"v": 1, "body": body}
    if file is not None:
        plain["file"] = file
    text = json.dumps(plain, ensure_ascii=False).encode()
    text += b" " * (-len(text) % 16)
    ck, nonce = os.urandom(32), os.urandom(12)
    payload = AESGCM(ck).encrypt(nonce, text, _payload_aad(room_id, sender.username, sender.device_id))
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(*RAW)
    wraps = {}
    for key_id, ik in recipients.items():
        kek = _kek(eph.exchange(X25519PublicKey.from_public_bytes(ik)), eph_pub, ik, room_id, key_id)
        n = os.urandom(12)
        wraps[key_id] = n + AESGCM(kek).encrypt(n, ck, b"")
    sig = sender.signing.sign(_signed_bytes(room_id, client_msg_id, sender.device_id, eph_pub, nonce, payload, wraps))
    return {"alg": ALG, "sender_device": sender.device_id, "ciphertexts": {k: b64(w) for k, w in wraps.items()},
            "ephemeral": b64(eph_pub), "nonce": b64(nonce), "payload": b64(payload), "signature": b64(sig)}


def decrypt(me, message, sender_signing_key):
    """The plaintext object ({"v", "body", "file"?}) of a message (as
    history or an event gives it) for device `me`; Undecryptable when this
    device has no entry, or any tag or the signature does not verify.
    sender_signing_key: the raw Ed25519 key the sender device published."""
    e = message.get("e2ee")
    if not isinstance(e, dict) or e.get("alg") != ALG or not isinstance(e.get("ciphertexts"), dict):
        raise Undecryptable("not this scheme")
    room_id, sender, cmid = message["room"], message["from"], message.get("client_msg_id", "")
    wraps = {k: unb64(v) for k, v in e["ciphertexts"].items()}
    eph_pub, nonce, payload = unb64(e.get("ephemeral")), unb64(e.get("nonce")), unb64(e.get("payload"))
    try:
        Ed25519PublicKey.from_public_bytes(sender_signing_key).verify(
            unb64(e.get("signature")),
            _signed_bytes(room_id, cmid, e.get("sender_device", ""), eph_pub, nonce, payload, wraps))
    except (InvalidSignature, ValueError) as err:
        raise Undecryptable("bad signature: %r" % err)
    wrap = wraps.get(me.key_id)
    if wrap is None or len(wrap) != 60:
        raise Undecryptable("no entry for this device")
    try:
        shared = me.identity.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        ck = AESGCM(_kek(shared, eph_pub, me.identity_public(), room_id, me.key_id)).decrypt(wrap[:12], wrap[12:], b"")
        text = AESGCM(ck).decrypt(nonce, payload, _payload_aad(room_id, sender, e["sender_device"]))
        return json.loads(text.decode())
    except (InvalidTag, ValueError) as err:
        raise Undecryptable("bad ciphertext: %r" % err)


def encrypt_file(data, name, content_type):
    """(ciphertext to upload with X-Encrypted: 1, the message's file entry)."""
    key, iv = os.urandom(32), os.urandom(12)
    entry = {"name": name, "type": content_type, "size": len(data), "key": b64(key), "iv": b64(iv),
             "sha256": hashlib.sha256(data).hexdigest()}
    return AESGCM(key).encrypt(iv, data, b""), entry


def decrypt_file(ciphertext, entry):
    try:
        data = AESGCM(unb64(entry["key"])).decrypt(unb64(entry["iv"]), ciphertext, b"")
    except InvalidTag as err:
        raise Undecryptable("bad file: %r" % err)
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise Undecryptable("file hash differs")
    return data


def safety_number(user_a, devices_a, user_b, devices_b):
    """60 digits in 12 groups, the same from both sides. devices_*: the key
    directory's device lists ({device_id, identity_key, signing_key?})."""
    def part(user, devices):
        out = user.encode() + b"\x00"
        for d in sorted(devices, key=lambda d: d["device_id"].encode()):
            out += d["device_id"].encode() + unb64(d["identity_key"]) + unb64(d.get("signing_key", ""))
        return out
    (ua, da), (ub, db) = sorted([(user_a, devices_a), (user_b, devices_b)], key=lambda p: p[0].encode())
    digest = hashlib.sha512(b"confab-safety-v1\x00" + part(ua, da) + part(ub, db)).digest()
    return " ".join("%05d" % (int.from_bytes(digest[i:i + 5], "big") % 100000) for i in range(0, 60, 5))
