#!/usr/bin/python3
"""Verify XMPP-over-WebSocket (RFC 7395) against ejabberd and dump every frame.

Usage: /usr/bin/python3 xmpp_probe.py PORT [--prefix u] [--password pw]
                                      [--users 3] [--room bench0] [--timing 20] [--quiet]
                                      [--no-initial-presence]

Users PREFIX0..PREFIX{users-1} must already be registered.  Steps:
connect, <open/>, SASL PLAIN, stream restart, bind, session (if required),
initial presence, join ROOM@conference.localhost (nick = username, maxstanzas=0)
one after another, each sends one groupchat message and every occupant must
receive all of them, then user0 sends a 1:1 chat to user1's bare JID, then
everybody closes cleanly.  Finally times --timing connect+auth+bind cycles.
Needs the Debian python3-websocket module (websocket-client 1.2.3).
"""
import argparse
import base64
import sys
import time
import xml.etree.ElementTree as ET

import websocket

DOMAIN = "localhost"
MUC = "conference.localhost"
NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_CLIENT = "jabber:client"

QUIET = False


def log(who, arrow, frame):
    if not QUIET:
        print(f"{who:>4} {arrow} {frame}")


class Client:
    def __init__(self, port, user, password, timeout=5.0):
        self.user, self.password, self.port = user, password, port
        self.timeout = timeout
        self.ws = None
        self.jid = None

    # -- framing ---------------------------------------------------------
    def send(self, frame):
        log(self.user, "->", frame)
        self.ws.send(frame)

    def recv(self):
        frame = self.ws.recv()          # one WebSocket text message = one element
        log(self.user, "<-", frame)
        return frame, ET.fromstring(frame)

    def expect(self, tag):
        frame, el = self.recv()
        if el.tag != tag:
            raise RuntimeError(f"{self.user}: expected {tag}, got {frame}")
        return el

    def open_stream(self):
        self.send(f'<open xmlns="{NS_FRAMING}" to="{DOMAIN}" version="1.0"/>')
        self.expect(f"{{{NS_FRAMING}}}open")
        return self.expect("{http://etherx.jabber.org/streams}features")

    # -- session setup ---------------------------------------------------
    def connect(self):
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/ws", subprotocols=["xmpp"],
            timeout=self.timeout)
        feats = self.open_stream()
        mechs = [m.text for m in feats.iter(f"{{{NS_SASL}}}mechanism")]
        assert "PLAIN" in mechs, mechs
        token = base64.b64encode(f"\0{self.user}\0{self.password}".encode()).decode()
        self.send(f'<auth xmlns="{NS_SASL}" mechanism="PLAIN">{token}</auth>')
        self.expect(f"{{{NS_SASL}}}success")
        feats = self.open_stream()                      # stream restart after SASL
        self.send(f'<iq xmlns="{NS_CLIENT}" type="set" id="bind1">'
                  f'<bind xmlns="{NS_BIND}"><resource>bench</resource></bind></iq>')
        iq = self.expect(f"{{{NS_CLIENT}}}iq")
        assert iq.get("type") == "result", ET.tostring(iq)
        self.jid = iq.find(f"{{{NS_BIND}}}bind/{{{NS_BIND}}}jid").text
        sess = feats.find(f"{{{NS_SESSION}}}session")
        if sess is not None and sess.find(f"{{{NS_SESSION}}}optional") is None:
            self.send(f'<iq xmlns="{NS_CLIENT}" type="set" id="sess1">'
                      f'<session xmlns="{NS_SESSION}"/></iq>')
            self.expect(f"{{{NS_CLIENT}}}iq")
        return self

    def close(self):
        self.send(f'<close xmlns="{NS_FRAMING}"/>')
        try:
            while True:                     # drain until the server's <close/>
                frame, el = self.recv()
                if el.tag == f"{{{NS_FRAMING}}}close":
                    break
        finally:
            self.ws.close()

    # -- stanzas ---------------------------------------------------------
    def read_until(self, pred, what, limit=1000):
        """Read stanzas until pred(el) is true; return everything read."""
        got = []
        for _ in range(limit):
            _, el = self.recv()
            got.append(el)
            if pred(el):
                return got
        raise RuntimeError(f"{self.user}: no {what} within {limit} stanzas")


def is_self_presence(el):
    x = el.find(f"{{{NS_MUC_USER}}}x")
    return (el.tag == f"{{{NS_CLIENT}}}presence" and x is not None and
            any(s.get("code") == "110" for s in x.findall(f"{{{NS_MUC_USER}}}status")))


def main():
    global QUIET
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--prefix", default="u")
    ap.add_argument("--password", default="pw")
    ap.add_argument("--users", type=int, default=3)
    ap.add_argument("--room", default="bench0")
    ap.add_argument("--timing", type=int, default=20)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--no-initial-presence", action="store_true",
                    help="skip the initial <presence/> (checks it is optional)")
    a = ap.parse_args()
    QUIET = a.quiet
    room = f"{a.room}@{MUC}"
    clients = []

    # 1. connect + auth + bind + initial presence
    for i in range(a.users):
        c = Client(a.port, f"{a.prefix}{i}", a.password).connect()
        if not a.no_initial_presence:
            c.send(f'<presence xmlns="{NS_CLIENT}"/>')
        clients.append(c)

    # 2. join the room one after another; count presences each side sees
    for i, c in enumerate(clients):
        print(f"--- {c.user} joins {room}")
        c.send(f'<presence xmlns="{NS_CLIENT}" to="{room}/{c.user}">'
               f'<x xmlns="{NS_MUC}"><history maxstanzas="0"/></x></presence>')
        got = c.read_until(is_self_presence, "self-presence (110)")
        pres = [e for e in got if e.tag == f"{{{NS_CLIENT}}}presence"]
        occ = [e for e in pres if e.find(f"{{{NS_MUC_USER}}}x") is not None]
        print(f"SUMMARY join {c.user}: {len(pres)} presence stanzas before/incl. self "
              f"({len(occ)} with muc#user, {len(pres) - len(occ)} other) "
              f"from {i} existing occupants")
        # Existing occupants: does each of them get one presence for the joiner?
        for old in clients[:i]:
            old.ws.settimeout(0.5)
            n = 0
            try:
                while True:
                    _, el = old.recv()
                    n += el.tag == f"{{{NS_CLIENT}}}presence"
            except websocket.WebSocketTimeoutException:
                pass
            old.ws.settimeout(old.timeout)
            print(f"SUMMARY   existing occupant {old.user} got {n} presence(s) for {c.user}")

    # 3. everyone sends one groupchat message; everyone must see all of them
    for c in clients:
        c.send(f'<message xmlns="{NS_CLIENT}" to="{room}" type="groupchat" id="m-{c.user}">'
               f'<body>hello from {c.user}</body></message>')
    for c in clients:
        seen = set()
        c.read_until(lambda el: el.tag == f"{{{NS_CLIENT}}}message" and
                     el.get("type") == "groupchat" and
                     not seen.add(el.findtext(f"{{{NS_CLIENT}}}body")) and
                     len(seen) == len(clients), "all groupchat messages")
        print(f"SUMMARY {c.user} received all {len(seen)} groupchat messages")

    # 4. 1:1 chat to the bare JID
    if len(clients) >= 2:
        a0, a1 = clients[0], clients[1]
        a0.send(f'<message xmlns="{NS_CLIENT}" to="{a1.user}@{DOMAIN}" type="chat" id="c1">'
                f'<body>direct hello</body></message>')
        a1.read_until(lambda el: el.tag == f"{{{NS_CLIENT}}}message" and
                      el.get("type") == "chat", "chat message")
        print(f"SUMMARY {a1.user} received the 1:1 chat message")

    # 5. clean close (leaving the room is implied by going offline)
    for c in reversed(clients):
        c.close()
    print("SUMMARY all streams closed cleanly")

    # 6. timing of connect+auth+bind (fresh socket each time)
    if a.timing:
        QUIET = True
        ts = []
        for k in range(a.timing):
            t0 = time.perf_counter()
            c = Client(a.port, f"{a.prefix}{k % max(a.users, 1)}", a.password).connect()
            ts.append(time.perf_counter() - t0)
            c.close()
        ts.sort()
        print(f"SUMMARY connect+auth+bind over {len(ts)} runs: "
              f"min {ts[0]*1e3:.2f} ms, median {ts[len(ts)//2]*1e3:.2f} ms, max {ts[-1]*1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
