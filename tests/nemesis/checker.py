"""The nemesis checker: a pure function from what the clients recorded and
what the nodes serve at the end to a list of violations and a few measures.

Inputs (plain dicts and lists, as the run writes them to JSON):

- ops: one entry per logical send, {"key", "room", "user", "attempts":
  [{"node", "t0", "t1", "outcome": "ok"|"error"|"timeout", "seq"?,
  "status"?, "code"?}]}. `key` is the send's client_msg_id; attempt i sends
  the body "<key> #<i>", so a stored message names the send and the attempt
  it came from.
- histories: {room: {node: [message] or "error text"}}, each room read through
  every node after the final heal.
- faults: [{"kind", "nodes", "impaired", "start", "end"}] in time order
  (times in seconds since the run began, like t0/t1).

The rules (docs/RELIABILITY.md):
1. every node serves a room's history, and all serve the same one;
2. its seqs are 1..n with no gap;
3. every message is a send some client made (its body is a known key, from
   that key's user), and no send is stored twice;
4. a send acknowledged (ok with seq S) is stored, once, at S; all its acks
   name the same S;
5. a send whose every attempt got an error (none ok, none timed out) is not
   stored; one with a timeout may be stored or not (rule 3 keeps it to once);
6. a message event a client got is in the final history at its seq;
7. real-time order: a send that began after another was acknowledged (or
   after a client was shown a message) is stored at a higher seq.

A violation names the fault before the send began; a lost acknowledged
send names the first fault that was on at or began after its ack.
"""

import bisect


def fault_before(faults, t):
    """The last fault that began at or before time t (a dict) or None."""
    starts = [f["start"] for f in faults]
    i = bisect.bisect_right(starts, t)
    return faults[i - 1] if i else None


def fault_after(faults, t):
    """The first fault still on at time t or begun after it, or None."""
    return next((f for f in faults if f["end"] >= t), None)


def _fault_name(f):
    if f is None:
        return "no fault yet"
    return "%s %s at %.1fs-%.1fs" % (f["kind"], ",".join(f["nodes"]), f["start"], f["end"])


def _row(m):
    """What must be identical about a stored message on every node."""
    return (m.get("seq"), m.get("msg_id"), m.get("from"), m.get("body"), m.get("client_msg_id"))


def check(ops, histories, faults, seen=()):
    """Returns (violations, stats). A violation is a dict with "rule", "room",
    "seqs", "detail" and "fault" (the fault that preceded it). `seen`: the
    `message` events WebSocket clients got, [room, seq, body, t] each; rule 6
    says each is in the final history at that seq (a copy serves only what
    is committed, so no client sees a message that is later removed)."""
    violations = []
    by_key = {op["key"]: op for op in ops}
    ops_of_room = {}
    for op in ops:
        ops_of_room.setdefault(op["room"], []).append(op)

    def report(rule, room, seqs, detail, t=None, after=False):
        f = None if t is None else fault_after(faults, t) if after else fault_before(faults, t)
        violations.append({"rule": rule, "room": room, "seqs": sorted(seqs), "detail": detail,
                           "fault": _fault_name(f)})

    def first_t(op):
        return min((a["t0"] for a in op["attempts"]), default=None)

    def t_at(msgs, seq):
        """When the send stored at `seq` began (for blaming a fork or gap)."""
        for m in msgs:
            if m.get("seq") == seq and m.get("client_msg_id") in by_key:
                return first_t(by_key[m["client_msg_id"]])
        return None

    stored = 0
    for room in sorted(set(histories) | set(ops_of_room)):
        views = histories.get(room, {})
        if not views:
            report("unreadable", room, [], "no node served this room's history")
            continue
        # rule 1: readable and identical through every node
        good = {n: v for n, v in views.items() if isinstance(v, list)}
        for n, v in sorted(views.items()):
            if not isinstance(v, list):
                report("unreadable", room, [], "node %s: %s" % (n, v))
        if not good:
            continue
        nodes = sorted(good)
        ref_node, ref = nodes[0], good[nodes[0]]
        for n in nodes[1:]:
            a, b = [_row(m) for m in ref], [_row(m) for m in good[n]]
            if a != b:
                diff = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
                where = diff[0] if diff else min(len(a), len(b))
                seqs = [r[0] for r in (a[where:where + 1] + b[where:where + 1]) if r[0] is not None]
                report("fork", room, seqs, "node %s has %d messages, node %s has %d; first difference at "
                       "position %d: %r vs %r" % (ref_node, len(a), n, len(b), where,
                                                  a[where] if where < len(a) else None,
                                                  b[where] if where < len(b) else None),
                       t_at(ref + good[n], seqs[0]) if seqs else None)
        # rule 2: gapless from 1
        seqs = [m.get("seq") for m in ref]
        if seqs != list(range(1, len(seqs) + 1)):
            bad = [s for i, s in enumerate(seqs) if s != i + 1][:5]
            report("gap", room, bad, "seqs are not 1..%d: %s" % (len(seqs), seqs[:3] + ["..."] + seqs[-3:]
                                                                 if len(seqs) > 6 else seqs), t_at(ref, bad[0]))
        # rule 3: every message a known send, stored once
        at = {}
        by_attempt = {}
        for m in ref:
            key = m.get("client_msg_id")
            op = by_key.get(key)
            if op is None or op["room"] != room:
                report("phantom", room, [m.get("seq")], "message %r was sent by no client" % (_row(m),))
                continue
            body, n = str(m.get("body")), None
            if body.startswith(key + " #") and body[len(key) + 2:].isdigit():
                n = int(body[len(key) + 2:])
            if m.get("from") != op["user"] or n is None or n >= len(op["attempts"]):
                report("phantom", room, [m.get("seq")], "message %r does not match send %s by %s"
                       % (_row(m), key, op["user"]), first_t(op))
            at.setdefault(key, []).append(m.get("seq"))
            by_attempt[key] = n
        stored += len(ref)
        for key, where in sorted(at.items()):
            if len(where) > 1:
                report("duplicate", room, where, "send %s is stored %d times" % (key, len(where)),
                       first_t(by_key[key]))
        # rules 4 and 5
        for op in ops_of_room.get(room, []):
            acked = sorted({a["seq"] for a in op["attempts"] if a["outcome"] == "ok"})
            where = at.get(op["key"], [])
            if acked:
                t_ack = min(a["t1"] for a in op["attempts"] if a["outcome"] == "ok")
                if len(acked) > 1:
                    report("two_acks", room, acked, "send %s was acknowledged at different seqs" % op["key"], t_ack)
                if not where:
                    report("lost", room, acked, "acknowledged send %s (by %s) is not stored" % (op["key"], op["user"]),
                           t_ack, after=True)
                elif where[0] != acked[0]:
                    report("moved", room, acked + where, "send %s acknowledged at seq %d is stored at seq %s"
                           % (op["key"], acked[0], where), t_ack)
            elif where and op["attempts"] and all(a["outcome"] == "error" for a in op["attempts"]):
                codes = sorted({"%s %s" % (a.get("status"), a.get("code")) for a in op["attempts"]})
                n = by_attempt.get(op["key"])
                which = op["attempts"][n] if n is not None and n < len(op["attempts"]) else {}
                report("stored_after_error", room, where, "send %s got only errors (%s) and is stored, by its "
                       "attempt #%s (through %s, answered %s %s)" % (op["key"], ", ".join(codes), n, which.get("node"),
                                                                   which.get("status"), which.get("code")),
                       which.get("t0", first_t(op)))
        # rule 7: real-time order. Sweep the room's acks and shown events
        # against the starts of its stored sends, in time order.
        stored_at = {key: where[0] for key, where in at.items()}
        marks = []
        for op in ops_of_room.get(room, []):
            for a in op["attempts"]:
                if a["outcome"] == "ok":
                    marks.append((a["t1"], 0, a["seq"], op["key"]))
            if op["key"] in stored_at and op["attempts"]:
                marks.append((first_t(op), 1, stored_at[op["key"]], op["key"]))
        for r, seq, _body, t in seen:
            if r == room:
                marks.append((t, 0, seq, None))
        marks.sort(key=lambda x: (x[0], x[1]))
        top, top_key = 0, None
        for t, kind, seq, key in marks:
            if kind == 0 and seq > top:
                top, top_key = seq, key
            elif kind == 1 and seq <= top:
                report("reordered", room, [seq, top], "send %s began at %.3fs, after seq %d (%s) was acknowledged "
                       "or shown, yet is stored at seq %d" % (key, t, top, top_key or "a pushed event", seq), t)
    # rule 6: what clients were shown stays
    final = {room: {m.get("seq"): m.get("body") for m in next(v for v in views.values() if isinstance(v, list))}
             for room, views in histories.items() if any(isinstance(v, list) for v in views.values())}
    for room, seq, body, t in seen:
        if room in final and final[room].get(seq) != body:
            report("seen_then_changed", room, [seq], "a client was shown %r at seq %d; the history has %r there"
                   % (body, seq, final[room].get(seq)), t)
    outcomes = {}
    for op in ops:
        for a in op["attempts"]:
            outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
    stats = {"rooms": len(histories), "sends": len(ops), "stored": stored, "events_seen": len(seen),
             "acked": sum(1 for op in ops if any(a["outcome"] == "ok" for a in op["attempts"])),
             "attempts": outcomes}
    return violations, stats


def availability(ops, faults):
    """Per fault: attempts that began while it was on, to nodes it did not
    impair, and the share of them acknowledged (the majority side's view)."""
    rows = []
    attempts = sorted((a for op in ops for a in op["attempts"]), key=lambda a: a["t0"])
    t0s = [a["t0"] for a in attempts]
    for f in faults:
        lo, hi = bisect.bisect_left(t0s, f["start"]), bisect.bisect_left(t0s, f["end"])
        mine = [a for a in attempts[lo:hi] if a["node"] not in f["impaired"]]
        ok = sum(1 for a in mine if a["outcome"] == "ok")
        rows.append({"fault": _fault_name(f), "kind": f["kind"], "attempts": len(mine), "ok": ok,
                     "availability": (ok / len(mine)) if mine else None})
    return rows


def recovery(ops, faults, end_of_run):
    """Per fault: for every room, the time from the heal (fault end) to the
    first acknowledged write that began after it, before the next fault (or
    end_of_run). Returns rows with p50/max over rooms and rooms not written."""
    rows = []
    oks = {}
    for op in ops:
        for a in op["attempts"]:
            if a["outcome"] == "ok":
                oks.setdefault(op["room"], []).append((a["t0"], a["t1"]))
    rooms = sorted({op["room"] for op in ops})
    for i, f in enumerate(faults):
        heal = f["end"]
        until = faults[i + 1]["start"] if i + 1 < len(faults) else end_of_run
        times, missing = [], []
        for r in rooms:
            after = [t1 for t0, t1 in oks.get(r, []) if heal <= t0 < until]
            if after:
                times.append(min(after) - heal)
            else:
                missing.append(r)
        times.sort()
        rows.append({"fault": _fault_name(f), "kind": f["kind"],
                     "p50_s": times[len(times) // 2] if times else None,
                     "max_s": times[-1] if times else None,
                     "rooms_not_written": len(missing)})
    return rows


def check_members(churn, members, faults):
    """Joins and leaves. `churn`: [{room, user, op: "join"|"leave", outcome,
    t0, t1}]; `members`: {room: {node: sorted usernames or "error text"}}.
    Every node lists the same members (`members_differ`); a user whose last
    join or leave was acknowledged, with no attempt after it, is in or out
    accordingly (`membership`)."""
    violations = []

    def report(rule, room, detail, t=None):
        violations.append({"rule": rule, "room": room, "seqs": [], "detail": detail,
                           "fault": _fault_name(fault_before(faults, t) if t is not None else None)})

    for room, views in sorted(members.items()):
        lists = {n: v for n, v in views.items() if isinstance(v, list)}
        for n, v in sorted(views.items()):
            if not isinstance(v, list):
                report("unreadable", room, "members through node %s: %s" % (n, v))
        if len({tuple(v) for v in lists.values()}) > 1:
            report("members_differ", room, "member lists differ: %r" % (lists,))
    last = {}
    for c in sorted(churn, key=lambda c: c["t0"]):
        last.setdefault((c["room"], c["user"]), []).append(c)
    for (room, user), ops in sorted(last.items()):
        # a timed-out join or leave may still take effect after a later one
        if ops[-1]["outcome"] != "ok" or room not in members or any(c["outcome"] == "timeout" for c in ops):
            continue
        lists = [v for v in members[room].values() if isinstance(v, list)]
        if not lists:
            continue
        want = ops[-1]["op"] == "join"
        if (user in lists[0]) != want:
            report("membership", room, "%s's last %s was acknowledged, but the member list %s it"
                   % (user, ops[-1]["op"], "lacks" if want else "has"), ops[-1]["t1"])
    return violations

