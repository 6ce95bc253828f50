#!/usr/bin/python3
"""GET /metrics (notes/admin-contract.md): the Prometheus text format, checked
by `promtool check metrics` (Debian package prometheus; lint problems fail it
too) and by a strict parser here (HELP/TYPE, sample lines, histograms with
cumulative buckets up to +Inf, _sum, _count); every metric of the contract with
its type; the counters move with the traffic that should move them (messages
in and delivered, send acks, RocksDB writes, rate limits, error codes, slow
consumers) and the gauges follow open sockets; no label value names a user,
room or session."""

import json
import math
import os
import re
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Cluster, ConfabTestCase, main, poll, retry_after_ms  # noqa: E402

PROMTOOL = os.environ.get("PROMTOOL") or "/usr/bin/promtool"
TOKEN = "metrics-test-admin-" + uuid.uuid4().hex
EVENT_S = 10.0

# name -> (type, label name or None, label values the contract defines or None)
CONTRACT = {
    "confab_open_connections": ("gauge", "kind", {"http", "websocket"}),
    "confab_sessions": ("gauge", None, None),
    "confab_active_rooms": ("gauge", None, None),
    "confab_active_presences": ("gauge", None, None),
    "confab_messages_in_total": ("counter", None, None),
    "confab_messages_delivered_total": ("counter", None, None),
    "confab_send_ack_seconds": ("histogram", None, None),
    "confab_rocksdb_write_seconds": ("histogram", None, None),
    "confab_replication_lag_seconds": ("histogram", None, None),
    "confab_mailbox_max": ("gauge", "kind", None),
    "confab_disk_free_bytes": ("gauge", None, None),
    "confab_disk_size_bytes": ("gauge", None, None),
    "confab_handoffs_total": ("counter", "direction", {"out", "in"}),
    "confab_slow_consumer_disconnects_total": ("counter", None, None),
    "confab_rate_limited_total": ("counter", "surface", {"ws", "http"}),
    "confab_errors_total": ("counter", "code", None),
    "confab_webhook_dropped_total": ("counter", None, None),
    "confab_cluster_members": ("gauge", "status", {"up", "suspect", "draining", "down"}),
}
# label values that must be there whatever happened
REQUIRED_LABELS = {
    "confab_open_connections": {"http", "websocket"},
    "confab_rate_limited_total": {"ws", "http"},
    "confab_handoffs_total": {"out", "in"},
    "confab_cluster_members": {"up"},
}

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def cmid():
    return "c-" + uuid.uuid4().hex


# -- strict parser of the text format 0.0.4 --------------------------------------------------

class ParseError(AssertionError):
    pass


def parse_value(text, where):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.match(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$", text):
        raise ParseError("%s: bad value %r" % (where, text))
    return float(text)


def parse_labels(text, where):
    """`a="x",b="y"` (text between the braces) -> dict; escapes \\\\, \\" and \\n."""
    labels = {}
    i, n = 0, len(text)
    for _ in range(n + 1):
        if i >= n:
            return labels
        m = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(text, i)
        if not m:
            raise ParseError("%s: bad label name at %r" % (where, text[i:]))
        name = m.group(0)
        i = m.end()
        if text[i:i + 2] != '="':
            raise ParseError("%s: label %s without =\"" % (where, name))
        i += 2
        value = []
        for _ in range(n + 1):
            if i >= n:
                raise ParseError("%s: unterminated value of label %s" % (where, name))
            c = text[i]
            if c == "\\":
                if i + 1 >= n or text[i + 1] not in '\\"n':
                    raise ParseError("%s: bad escape in label %s" % (where, name))
                value.append({"\\": "\\", '"': '"', "n": "\n"}[text[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ParseError("%s: newline in label %s" % (where, name))
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ParseError("%s: label %s twice" % (where, name))
        labels[name] = "".join(value)
        if i < n:
            if text[i] != ",":
                raise ParseError("%s: expected , after label %s, got %r" % (where, name, text[i:]))
            i += 1
    raise ParseError("%s: label loop bound" % where)


def family_of(sample_name, families):
    """The family a sample name belongs to (histogram suffixes included)."""
    if sample_name in families and families[sample_name]["type"] not in ("histogram", "summary"):
        return sample_name
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[:-len(suffix)]
            if base in families and families[base]["type"] == "histogram":
                return base
            if base in families and families[base]["type"] == "summary" and suffix != "_bucket":
                return base
    if sample_name in families:
        return sample_name
    return None


def parse_exposition(text):
    """Strictly parse Prometheus text format: {family: {type, help, samples:
    [(sample name, labels, value)]}}. Raises ParseError on anything off."""
    if not text.endswith("\n"):
        raise ParseError("the exposition does not end with a newline")
    families = {}
    order = []            # families in the order their samples appear
    seen_series = set()
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d %r" % (lineno, line)
        if line.strip() == "":
            continue
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (\S+)(?: (.*))?$", line)
            if not m:
                continue      # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3)
            if not METRIC_NAME.match(name):
                raise ParseError("%s: bad metric name" % where)
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            if fam["samples"]:
                raise ParseError("%s: %s after the family's samples" % (where, kind))
            if kind == "HELP":
                if fam["help"] is not None:
                    raise ParseError("%s: second HELP" % where)
                if not rest:
                    raise ParseError("%s: empty HELP" % where)
                fam["help"] = rest
            else:
                if fam["type"] is not None:
                    raise ParseError("%s: second TYPE" % where)
                if rest not in TYPES:
                    raise ParseError("%s: unknown type" % where)
                fam["type"] = rest
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)( -?\d+)?$", line)
        if not m:
            raise ParseError("%s: not a sample line" % where)
        sname, labels_text, value_text = m.group(1), m.group(3), m.group(4)
        labels = parse_labels(labels_text or "", where)
        value = parse_value(value_text, where)
        fname = family_of(sname, families)
        if fname is None or families[fname]["type"] is None:
            raise ParseError("%s: sample without a TYPE line before it" % where)
        if fname != current:
            if fname in order:
                raise ParseError("%s: samples of %s are not together" % (where, fname))
            order.append(fname)
            current = fname
        key = (sname, tuple(sorted(labels.items())))
        if key in seen_series:
            raise ParseError("%s: the same series twice" % where)
        seen_series.add(key)
        families[fname]["samples"].append((sname, labels, value))
    for name, fam in families.items():
        if fam["type"] is None:
            raise ParseError("family %s has HELP but no TYPE" % name)
        if fam["type"] == "counter":
            for sname, labels, value in fam["samples"]:
                if not (value >= 0) or math.isinf(value):
                    raise ParseError("counter %s%r has value %r" % (sname, labels, value))
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    groups = {}
    for sname, labels, value in samples:
        if sname == name + "_bucket":
            if "le" not in labels:
                raise ParseError("%s_bucket without le: %r" % (name, labels))
            rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})["buckets"].append(
                (parse_value(labels["le"], "le of %s" % name), value))
        elif sname in (name + "_sum", name + "_count"):
            if "le" in labels:
                raise ParseError("%s with an le label" % sname)
            rest = tuple(sorted(labels.items()))
            g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
            g["sum" if sname.endswith("_sum") else "count"] = value
        else:
            raise ParseError("histogram %s has a sample %s" % (name, sname))
    if not groups:
        raise ParseError("histogram %s has no samples" % name)
    for rest, g in groups.items():
        les = [le for le, _ in g["buckets"]]
        if not les or les[-1] != math.inf:
            raise ParseError("histogram %s%r: last bucket is not le=\"+Inf\": %r" % (name, rest, les))
        if les != sorted(les) or len(set(les)) != len(les):
            raise ParseError("histogram %s%r: buckets not in increasing le order: %r" % (name, rest, les))
        counts = [c for _, c in g["buckets"]]
        if any(c < 0 or c != int(c) for c in counts):
            raise ParseError("histogram %s%r: bucket counts not whole numbers >= 0: %r" % (name, rest, counts))
        if counts != sorted(counts):
            raise ParseError("histogram %s%r: buckets not cumulative: %r" % (name, rest, counts))
        if g["sum"] is None or g["count"] is None:
            raise ParseError("histogram %s%r: _sum or _count missing" % (name, rest))
        if g["count"] != counts[-1]:
            raise ParseError("histogram %s%r: _count %r != +Inf bucket %r" % (name, rest, g["count"], counts[-1]))
        if g["sum"] < 0 or (g["count"] == 0 and g["sum"] != 0):
            raise ParseError("histogram %s%r: _sum %r with _count %r" % (name, rest, g["sum"], g["count"]))


# -- tests ------------------------------------------------------------------------------------

class MetricsCase(ConfabTestCase):
    # small rate limits so that a burst is refused
    server_args = ("--admin-token", TOKEN, "--rate-per-s", "5", "--rate-burst", "5")

    def scrape_text(self):
        st, headers, body = self.api("GET", "/metrics")
        self.assertEqual(st, 200, body)
        self.assertRegex(headers.get("content-type", ""), r"^text/plain\b", headers)
        self.assertIsInstance(body, str, "the exposition parsed as JSON? %r" % (body,))
        return body

    def scrape(self):
        text = self.scrape_text()
        try:
            return parse_exposition(text)
        except ParseError as e:
            self.fail("%s\n--- exposition ---\n%s" % (e, text))

    def value(self, families, name, **labels):
        """The value of one series (sample name, exact label set)."""
        fam = families.get(family_name(name))
        self.assertIsNotNone(fam, "metric %s missing" % name)
        found = [v for sname, ls, v in fam["samples"] if sname == name and ls == labels]
        self.assertEqual(len(found), 1, "series %s%r: %r" % (name, labels, fam["samples"]))
        return found[0]

    def get(self, name, **labels):
        return self.value(self.scrape(), name, **labels)

    def value_or_zero(self, families, name, **labels):
        """For counters with a label per code: a series not yet created is 0."""
        fam = families.get(family_name(name))
        self.assertIsNotNone(fam, "metric %s missing" % name)
        found = [v for sname, ls, v in fam["samples"] if sname == name and ls == labels]
        self.assertLessEqual(len(found), 1)
        return found[0] if found else 0

    def wait_metric(self, name, want, labels=None, timeout=EVENT_S, zero_if_absent=False):
        """Poll /metrics until the series equals `want`; returns the families."""
        labels = labels or {}
        last = []

        def probe():
            fams = self.scrape()
            v = (self.value_or_zero if zero_if_absent else self.value)(fams, name, **labels)
            last[:] = [v]
            return fams if v == want else None
        try:
            return poll(probe, "%s%r == %r" % (name, labels, want), timeout=timeout, interval=0.05)
        except AssertionError as e:
            raise AssertionError("%s; last value %r" % (e, last[0] if last else None))

    def pipeline(self, ws, frames):
        ids = []
        for f in frames:
            rid = ws.new_id()
            ids.append(rid)
            f = dict(f, id=rid)
            ws.send_obj(f)
        return [ws.wait_reply(rid) for rid in ids]


def family_name(sample_name):
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name[:-len(suffix)]
        if sample_name.endswith(suffix) and CONTRACT.get(base, ("",))[0] == "histogram":
            return base
    return sample_name


class ExpositionTest(MetricsCase):

    def traffic(self):
        """Some of everything: register, login (also a wrong password), a room,
        WebSocket sends, a rate-limited burst, an unknown op, a 404."""
        a, b = self.new_user(), self.new_user()
        st, _, _ = self.api("POST", "/api/v1/login", {"username": a.username, "password": "wrong-password-1"})
        self.assertEqual(st, 401)
        rid = self.create_room(a.token)["id"]
        self.join(b.token, rid)
        wa = self.connect(a.token)
        wb = self.connect(b.token)
        for i in range(3):
            wa.ok("send", room=rid, body="hello %d" % i, client_msg_id=cmid())
        wb.wait_event("message", lambda d: d["seq"] == 3)
        burst = self.pipeline(wb, [{"op": "ping"}] * 15)
        self.assertTrue(any(r.get("code") == "rate_limited" for r in burst), burst)
        self.assertTrue(all(isinstance(retry_after_ms(r), int) for r in burst if r["op"] == "error"), burst)
        self.assertEqual(wa.error("frobnicate")["code"], "unknown_op")
        self.assert_error(self.api("GET", "/api/v1/rooms/r_00000000000000ff/messages", token=a.token), 404,
                          "not_found")
        return a, b, rid, [wa, wb]

    def test_promtool_accepts_the_exposition(self):
        if not os.path.exists(PROMTOOL):
            self.fail("promtool not found at %s: install Debian's prometheus package (scripts/deps.sh --test)"
                      % PROMTOOL)
        self.traffic()
        text = self.scrape_text()
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode("utf-8"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, "promtool check metrics exit %d:\n%s\n--- exposition ---\n%s"
                         % (p.returncode, p.stdout.decode("utf-8", "replace"), text))

    def test_strict_parse_and_contract_names(self):
        self.traffic()
        fams = self.scrape()
        for name, (mtype, label, values) in sorted(CONTRACT.items()):
            with self.subTest(metric=name):
                self.assertIn(name, fams, "metric %s missing; have %s" % (name, sorted(fams)))
                fam = fams[name]
                self.assertEqual(fam["type"], mtype, name)
                self.assertTrue(fam["help"], "metric %s has no HELP" % name)
                self.assertTrue(fam["samples"], "metric %s has no sample" % name)
                for sname, labels, value in fam["samples"]:
                    names = set(labels) - {"le"}
                    self.assertEqual(names, {label} if label else set(),
                                     "labels of %s: %r" % (sname, labels))
                    if values is not None:
                        self.assertIn(labels[label], values, "%s%r" % (sname, labels))
                    if mtype == "gauge":
                        self.assertGreaterEqual(value, 0, "%s%r" % (sname, labels))
                present = {labels.get(label) for _, labels, _ in fam["samples"]} if label else set()
                self.assertLessEqual(REQUIRED_LABELS.get(name, set()), present, name)
        # every error code label is an error code: a short snake_case word
        for _, labels, _ in fams["confab_errors_total"]["samples"]:
            self.assertRegex(labels["code"], r"^[a-z][a-z_]{2,39}$", labels)
        codes = {labels["code"] for _, labels, _ in fams["confab_errors_total"]["samples"]}
        self.assertLessEqual({"unknown_op", "not_found", "invalid_credentials", "rate_limited"}, codes)
        # the traffic moved these
        self.assertGreaterEqual(self.value(fams, "confab_messages_in_total"), 3)
        self.assertGreaterEqual(self.value(fams, "confab_messages_delivered_total"), 6)
        self.assertGreaterEqual(self.value(fams, "confab_send_ack_seconds_count"), 3)
        self.assertGreater(self.value(fams, "confab_send_ack_seconds_sum"), 0)
        self.assertGreater(self.value(fams, "confab_rocksdb_write_seconds_count"), 0)
        self.assertGreaterEqual(self.value(fams, "confab_rate_limited_total", surface="ws"), 1)
        self.assertGreaterEqual(self.value(fams, "confab_errors_total", code="unknown_op"), 1)
        self.assertGreaterEqual(self.value(fams, "confab_errors_total", code="not_found"), 1)
        self.assertGreaterEqual(self.value(fams, "confab_errors_total", code="invalid_credentials"), 1)
        self.assertGreaterEqual(self.value(fams, "confab_open_connections", kind="http"), 1)

    def test_no_label_names_a_user_room_or_session(self):
        a, b, rid, clients = self.traffic()
        dm = self.api("POST", "/api/v1/dm", {"username": b.username}, token=a.token)[2]["room"]["id"]
        self.post(a.token, dm, "hi")
        secret = {a.id, b.id, a.username, b.username, rid, dm, a.token, b.token}
        secret |= {c.auth_data["session"] for c in clients}
        text = self.scrape_text()
        fams = parse_exposition(text)
        for name, fam in fams.items():
            for sname, labels, _ in fam["samples"]:
                for k, v in labels.items():
                    for s in secret:
                        self.assertNotIn(s, v, "label %s of %s names %r" % (k, sname, s))
        # nor anywhere else in the exposition (HELP texts, names)
        for s in secret:
            self.assertNotIn(s, text)
        # a label with an unbounded value set would be a series per user or room
        series = sum(len(f["samples"]) for f in fams.values())
        self.assertLess(series, 400, "%d series" % series)

    def test_no_token_needed(self):
        st, _, _ = self.api("GET", "/metrics", token=None)
        self.assertEqual(st, 200)
        # and an admin token changes nothing about the answer's shape
        st, _, body = self.api("GET", "/metrics", token=TOKEN)
        self.assertEqual(st, 200)
        parse_exposition(body)


class CountersTest(MetricsCase):

    def test_messages_in_delivered_and_acks(self):
        a, b = self.new_user(), self.new_user()
        rid = self.create_room(a.token)["id"]
        self.join(b.token, rid)
        wa1 = self.connect(a.token)
        wa2 = self.connect(a.token)
        wb = self.connect(b.token)
        before = self.scrape()
        m_in = self.value(before, "confab_messages_in_total")
        delivered = self.value(before, "confab_messages_delivered_total")
        acks = self.value(before, "confab_send_ack_seconds_count")
        writes = self.value(before, "confab_rocksdb_write_seconds_count")
        # three sends over WebSocket (within the burst of 5), one over HTTP
        for i in range(3):
            wa1.ok("send", room=rid, body="ws %d" % i, client_msg_id=cmid())
        self.post(b.token, rid, "http")
        for ws in (wa1, wa2, wb):
            for seq in range(1, 5):
                ws.wait_event("message", lambda d, seq=seq: d["room"] == rid and d["seq"] == seq)
        # 4 messages, each written to the 3 sessions of the room's members
        fams = self.wait_metric("confab_messages_delivered_total", delivered + 12)
        self.assertEqual(self.value(fams, "confab_messages_in_total"), m_in + 4)
        self.assertEqual(self.value(fams, "confab_send_ack_seconds_count"), acks + 4)
        self.assertGreater(self.value(fams, "confab_rocksdb_write_seconds_count"), writes)
        self.assertGreater(self.value(fams, "confab_rocksdb_write_seconds_count"), 0)
        # a session of a non-member gets nothing, so counts nothing
        outsider = self.connect(self.new_user().token)
        wa1.ok("send", room=rid, body="ws again", client_msg_id=cmid())
        for ws in (wa1, wa2, wb):
            ws.wait_event("message", lambda d: d["room"] == rid and d["seq"] == 5)
        fams = self.wait_metric("confab_messages_delivered_total", delivered + 15)
        self.assertEqual(self.value(fams, "confab_messages_in_total"), m_in + 5)
        self.assertEqual(outsider.ok("ping"), {})
        # a duplicate send (same client_msg_id) stores nothing new
        c = cmid()
        wb.ok("send", room=rid, body="once", client_msg_id=c)
        wb.ok("send", room=rid, body="once", client_msg_id=c)
        fams = self.wait_metric("confab_messages_in_total", m_in + 6)
        self.assertEqual(self.value(fams, "confab_messages_in_total"), m_in + 6)

    def test_connection_and_session_gauges(self):
        poll(lambda: self.get("confab_open_connections", kind="websocket") == 0, "no socket left from earlier",
             timeout=EVENT_S)
        self.wait_metric("confab_sessions", 0)
        u, v = self.new_user(), self.new_user()
        rid = self.create_room(u.token)["id"]
        self.post(u.token, rid, "make the room active")
        clients = [self.connect(u.token), self.connect(u.token), self.connect(v.token)]
        fams = self.wait_metric("confab_open_connections", 3, {"kind": "websocket"})
        self.assertEqual(self.value(fams, "confab_sessions"), 3)
        self.assertGreaterEqual(self.value(fams, "confab_active_presences"), 2)
        self.assertGreaterEqual(self.value(fams, "confab_active_rooms"), 1)
        self.assertGreaterEqual(self.value(fams, "confab_open_connections", kind="http"), 1)
        # an unauthenticated socket is an open connection too
        raw = self.connect()
        self.wait_metric("confab_open_connections", 4, {"kind": "websocket"})
        raw.close()
        self.wait_metric("confab_open_connections", 3, {"kind": "websocket"})
        clients[0].close()
        fams = self.wait_metric("confab_open_connections", 2, {"kind": "websocket"})
        self.wait_metric("confab_sessions", 2)
        for c in clients[1:]:
            c.close()
        self.wait_metric("confab_open_connections", 0, {"kind": "websocket"})
        self.wait_metric("confab_sessions", 0)

    def test_rate_limited_ws_and_http(self):
        before = self.scrape()
        ws_before = self.value(before, "confab_rate_limited_total", surface="ws")
        http_before = self.value(before, "confab_rate_limited_total", surface="http")
        err_before = self.value_or_zero(before, "confab_errors_total", code="rate_limited")
        u = self.new_user()
        ws = self.connect(u.token)
        replies = self.pipeline(ws, [{"op": "ping"}] * 20)
        limited = [r for r in replies if r["op"] == "error"]
        self.assertTrue(limited, "20 pings at once with a burst of 5 were all accepted")
        self.assertTrue(all(r["code"] == "rate_limited" for r in limited), limited)
        fams = self.wait_metric("confab_rate_limited_total", ws_before + len(limited), {"surface": "ws"})
        self.assertEqual(self.value(fams, "confab_rate_limited_total", surface="http"), http_before)
        # HTTP sends of one user beyond the burst
        rid = self.create_room(u.token)["id"]
        refused = 0
        for i in range(12):
            st, _, body = self.api("POST", "/api/v1/rooms/%s/messages" % rid, {"body": "b%d" % i}, token=u.token)
            self.assertIn(st, (201, 429), body)
            refused += st == 429
        self.assertGreater(refused, 0, "12 HTTP posts at once with a burst of 5 were all accepted")
        fams = self.wait_metric("confab_rate_limited_total", http_before + refused, {"surface": "http"})
        self.assertEqual(self.value(fams, "confab_rate_limited_total", surface="ws"), ws_before + len(limited))
        self.assertEqual(self.value_or_zero(fams, "confab_errors_total", code="rate_limited"),
                         err_before + len(limited) + refused)

    def test_error_codes(self):
        before = self.scrape()
        codes = ("unknown_op", "not_found", "invalid_credentials", "unauthorized", "not_member", "invalid_request")
        base = {c: self.value_or_zero(before, "confab_errors_total", code=c) for c in codes}
        u, other = self.new_user(), self.new_user()
        private = self.create_room(other.token, visibility="private")["id"]
        ws = self.connect(u.token)
        self.assertEqual(ws.error("frobnicate")["code"], "unknown_op")
        self.assertEqual(ws.error("frobnicate")["code"], "unknown_op")
        self.assertIn(ws.error("send", room=private, body="x", client_msg_id=cmid())["code"],
                      ("not_member", "forbidden"))
        self.assert_error(self.api("GET", "/api/v1/no-such-call", token=u.token), 404, "not_found")
        self.assert_error(self.api("POST", "/api/v1/login", {"username": u.username, "password": "nope-nope-1"}),
                          401, "invalid_credentials")
        self.assert_error(self.api("GET", "/api/v1/me", token="not-a-token"), 401, "unauthorized")
        self.assert_error(self.api("POST", "/api/v1/rooms", raw_body="{not json", token=u.token), 400,
                          "invalid_request")
        fams = self.wait_metric("confab_errors_total", base["unknown_op"] + 2, {"code": "unknown_op"},
                                zero_if_absent=True)
        self.assertEqual(self.value_or_zero(fams, "confab_errors_total", code="not_found"), base["not_found"] + 1)
        self.assertEqual(self.value_or_zero(fams, "confab_errors_total", code="invalid_credentials"),
                         base["invalid_credentials"] + 1)
        self.assertEqual(self.value_or_zero(fams, "confab_errors_total", code="unauthorized"),
                         base["unauthorized"] + 1)
        self.assertEqual(self.value_or_zero(fams, "confab_errors_total", code="invalid_request"),
                         base["invalid_request"] + 1)

    def test_cluster_members_single_node(self):
        fams = self.scrape()
        self.assertEqual(self.value(fams, "confab_cluster_members", status="up"), 1)
        for _, labels, v in fams["confab_cluster_members"]["samples"]:
            if labels["status"] != "up":
                self.assertEqual(v, 0, labels)
        self.assertEqual(self.value(fams, "confab_handoffs_total", direction="out"), 0)
        self.assertEqual(self.value(fams, "confab_handoffs_total", direction="in"), 0)
        self.assertEqual(self.value(fams, "confab_webhook_dropped_total"), 0)


class SlowConsumerTest(MetricsCase):
    server_args = MetricsCase.SLOW_CONSUMER_ARGS

    def test_slow_consumer_is_counted(self):
        before = self.get("confab_slow_consumer_disconnects_total")
        ws, w, _ = self.fill_slow_socket()
        self.assertEqual(ws.expect_close(timeout=30), 1008)
        self.wait_metric("confab_slow_consumer_disconnects_total", before + 1)
        self.assertEqual(w.ok("ping"), {})


class ClusterMetricsTest(MetricsCase):
    """Two nodes: each counts both members up; after one is drained the
    survivor counts the rooms it took over and one member up."""
    start_server = False

    def scrape_of(self, server):
        st, _, body = server.http("GET", "/metrics")
        self.assertEqual(st, 200, body)
        try:
            return parse_exposition(body)
        except ParseError as e:
            self.fail("%s on %s\n%s" % (e, server.node, body))

    def test_members_and_handoffs(self):
        # handoffs move rooms of one copy (replicated rooms change owners by
        # epochs instead: test_replication.py)
        cluster = Cluster(2, args=("--replication", "1"), admin_token=TOKEN).start()
        self.addCleanup(cluster.stop, False)
        cluster.wait_converged()
        n1, n2 = cluster.node(1), cluster.node(2)
        for s in (n1, n2):
            fams = self.scrape_of(s)
            self.assertEqual(self.value(fams, "confab_cluster_members", status="up"), 2, s.node)
            self.assertEqual(self.value(fams, "confab_handoffs_total", direction="in"), 0, s.node)
        u = self.new_user(server=n1)
        rooms = [self.create_room(u.token, server=n1)["id"] for _ in range(6)]
        for rid in rooms:
            self.post(u.token, rid, "hello", server=n1)
        owners = {rid: cluster.room_owner(rid) for rid in rooms}
        drained = n1 if list(owners.values()).count(n1.node) >= 3 else n2
        survivor = n2 if drained is n1 else n1
        held = [rid for rid in rooms if owners[rid] == drained.node]
        self.assertTrue(held, owners)
        in_before = self.value(self.scrape_of(survivor), "confab_handoffs_total", direction="in")
        st, _, body = survivor.http("POST", "/admin/api/v1/nodes/%s/drain" % drained.node, token=TOKEN)
        self.assertEqual(st, 202, body)
        poll(lambda: drained.exited(), "the drained node exits", timeout=30)
        self.assertEqual(drained.terminate(), 0, drained.stderr_text()[-3000:])
        for rid in held:
            poll(lambda rid=rid: cluster.room_owner(rid, server=survivor) == survivor.node,
                 "room %s taken over" % rid, timeout=EVENT_S)

        def settled():
            fams = self.scrape_of(survivor)
            up = self.value(fams, "confab_cluster_members", status="up")
            handed = self.value(fams, "confab_handoffs_total", direction="in") - in_before
            return fams if up == 1 and handed == len(held) else None
        fams = poll(settled, "survivor counts 1 member up and %d rooms taken over" % len(held), timeout=EVENT_S)
        self.assertEqual(self.value(fams, "confab_handoffs_total", direction="out"), 0)
        others = sum(v for _, ls, v in fams["confab_cluster_members"]["samples"] if ls["status"] != "up")
        self.assertLessEqual(others, 1, fams["confab_cluster_members"])
        # the rooms it took over are held here now: their messages count here
        m_in = self.value(fams, "confab_messages_in_total")
        for rid in held:
            self.post(u.token, rid, "after", server=survivor)
        self.wait_metric_on(survivor, "confab_messages_in_total", m_in + len(held))

    def test_replication_lag_is_observed_by_owners(self):
        cluster = Cluster(2, args=("--replication", "2"), admin_token=TOKEN).start()
        self.addCleanup(cluster.stop, False)
        cluster.wait_converged()
        nodes = [cluster.node(1), cluster.node(2)]
        before = {s.node: self.value(self.scrape_of(s), "confab_replication_lag_seconds_count") for s in nodes}
        u = self.new_user(server=nodes[0])
        rid = self.create_room(u.token, server=nodes[0])["id"]
        for i in range(5):
            self.post(u.token, rid, "replicated %d" % i, server=nodes[0])
        owner = next(s for s in nodes if s.node == cluster.room_owner(rid))
        follower = next(s for s in nodes if s is not owner)
        fams = self.scrape_of(owner)
        # each acknowledged write waited for the follower: at least one round trip per message
        self.assertGreaterEqual(self.value(fams, "confab_replication_lag_seconds_count") - before[owner.node], 5)
        self.assertGreater(self.value(fams, "confab_replication_lag_seconds_sum"), 0)
        # a follower sends no log entries for this room
        self.assertEqual(self.value(self.scrape_of(follower), "confab_replication_lag_seconds_count"),
                         before[follower.node])

    def wait_metric_on(self, server, name, want):
        last = []

        def probe():
            last[:] = [self.value(self.scrape_of(server), name)]
            return last[0] == want
        try:
            poll(probe, "%s == %r on %s" % (name, want, server.node), timeout=EVENT_S, interval=0.05)
        except AssertionError as e:
            raise AssertionError("%s; last value %r" % (e, last[0] if last else None))


class DashboardAndAlertsTest(MetricsCase):
    """docs/grafana/confab.json and docs/prometheus/alerts.yml: the rules pass
    `promtool check rules` and their unit tests (each alert fires on the
    series that should fire it, and not before its `for`), and every metric
    either names is in a live node's /metrics with a sample."""

    DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")

    def promtool(self, *args):
        if not os.path.exists(PROMTOOL):
            self.fail("promtool not found at %s: install Debian's prometheus package (scripts/deps.sh --test)"
                      % PROMTOOL)
        p = subprocess.run([PROMTOOL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                           cwd=os.path.join(self.DOCS, "prometheus"))
        self.assertEqual(p.returncode, 0, "promtool %s:\n%s" % (" ".join(args), p.stdout.decode("utf-8", "replace")))

    def test_rules_check_and_their_unit_tests_pass(self):
        self.promtool("check", "rules", "alerts.yml")
        self.promtool("test", "rules", "alerts_test.yml")

    def named_metrics(self):
        with open(os.path.join(self.DOCS, "grafana", "confab.json")) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        self.assertGreaterEqual(len(exprs), 12, "the dashboard lost its panels")
        with open(os.path.join(self.DOCS, "prometheus", "alerts.yml")) as f:
            exprs.append(f.read())
        names = set()
        for e in exprs:
            for n in re.findall(r"\bconfab_[a-z0-9_]+", e):
                names.add(re.sub(r"_(bucket|sum|count)$", "", n))
        return names

    def test_every_metric_they_name_is_exposed(self):
        self.traffic_light()
        text = self.scrape_text()
        exposed = set(re.findall(r"^# TYPE (confab_[a-z0-9_]+) ", text, re.M))
        names = self.named_metrics()
        for want in ("confab_send_ack_seconds", "confab_replication_lag_seconds", "confab_disk_free_bytes",
                     "confab_mailbox_max", "confab_messages_delivered_total", "confab_handoffs_total"):
            self.assertIn(want, names, "the dashboard and alerts should use %s" % want)
        self.assertEqual(sorted(names - exposed), [], "named in docs/grafana or docs/prometheus, not in /metrics")
        for n in names:
            self.assertRegex(text, r"(?m)^%s(_bucket|_count)?(\{[^}]*\})? " % re.escape(n), "%s has no sample" % n)
        free = self.get("confab_disk_free_bytes")
        size = self.get("confab_disk_size_bytes")
        self.assertTrue(0 < free <= size, (free, size))
        fams = self.scrape()
        kinds = {ls.get("kind") for _, ls, _ in fams["confab_mailbox_max"]["samples"]}
        self.assertIn("hub", kinds)

    def traffic_light(self):
        a = self.new_user()
        ws = self.connect(a.token)
        rid = self.create_room(a.token)["id"]
        ws.ok("send", room=rid, body="dashboard", client_msg_id=cmid())


class ParserTest(ConfabTestCase):
    """The parser itself refuses what it must (so that its passing means something)."""
    start_server = False

    GOOD = ("# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"1\"} 3\n"
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n")

    def test_good(self):
        fams = parse_exposition(self.GOOD)
        self.assertEqual(fams["x_total"]["samples"], [("x_total", {"a": "1"}, 3.0)])
        self.assertEqual(fams["h"]["type"], "histogram")

    def test_bad(self):
        bad = [
            self.GOOD.replace("h_count 2", "h_count 3"),                       # count != +Inf bucket
            self.GOOD.replace("h_bucket{le=\"0.1\"} 1", "h_bucket{le=\"0.1\"} 5"),  # not cumulative
            self.GOOD.replace("h_bucket{le=\"+Inf\"} 2\n", ""),                # no +Inf
            self.GOOD.replace("h_sum 0.3\n", ""),                              # no _sum
            self.GOOD.replace("# TYPE x_total counter\n", ""),                 # no TYPE
            self.GOOD.replace("x_total{a=\"1\"} 3", "x_total{a=\"1\"} -3"),    # negative counter
            self.GOOD.replace("x_total{a=\"1\"} 3", "x_total{a=1} 3"),         # unquoted label
            self.GOOD.replace("x_total{a=\"1\"} 3", "x_total{a=\"1\"} three"),  # bad value
            self.GOOD + "x_total{a=\"2\"} 1\n",                                # family split
            self.GOOD.replace("x_total{a=\"1\"} 3\n", "x_total{a=\"1\"} 3\nx_total{a=\"1\"} 4\n"),  # duplicate
            self.GOOD[:-1],                                                    # no final newline
        ]
        for text in bad:
            with self.subTest(text=text):
                with self.assertRaises(ParseError):
                    parse_exposition(text)


if __name__ == "__main__":
    main()
