#!/usr/bin/python3
"""Pictures from the side-by-side benchmark.

    scripts/bench-plot.py RESULTS_DIR [--out docs/perf]

RESULTS_DIR is what scripts/bench-vs-ejabberd.sh leaves (it prints the path
at the end): one JSON line per server and workload in <server>-<workload>.json,
as confab-bench prints it. Writes, for each step workload found (rooms, dm,
bigroom), <workload>.png: p99 latency against the offered rate (deliveries
or, for dm, messages per second), one line per server, a hollow marker for a
saturated step (delivered under 90 % of offered, p99 over 100 ms, or a
loss); and memory.png: server RSS per idle connection, one bar per server
and idle workload. Prints the files it wrote.

The drawing is gnuplot's (Debian's gnuplot-nox, installed when missing):
python3-matplotlib cannot be installed beside the project's Boost 1.81 on
Debian 12 (matplotlib -> fonttools -> scipy -> pythran -> libboost-dev 1.74,
which conflicts with libboost1.81-dev).
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

STEP_WORKLOADS = {
    "rooms": ("Group rooms of 50: p99 latency against offered deliveries/s", "offered deliveries per second"),
    "dm": ("Direct messages: p99 latency against offered messages/s", "offered messages per second"),
    "bigroom": ("One room of many members: p99 latency against offered deliveries/s", "offered deliveries per second"),
}
SERVERS = ("confab", "ejabberd", "prosody")
COLOURS = {"confab": "#1f6feb", "ejabberd": "#d1242f", "prosody": "#8250df"}


def need_gnuplot():
    if subprocess.run(["sh", "-c", "command -v gnuplot"], stdout=subprocess.DEVNULL).returncode == 0:
        return
    print("installing gnuplot-nox", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", "gnuplot-nox"], check=True,
                   env=env, stdout=sys.stderr)


def load(results):
    """{workload: {server: run}} from RESULTS_DIR/<server>-<workload>.json."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(results, "*-*.json"))):
        server, workload = os.path.basename(path)[:-len(".json")].split("-", 1)
        if server not in SERVERS:
            continue
        with open(path) as f:
            text = f.read().strip()
        if not text:
            continue
        try:
            runs.setdefault(workload, {})[server] = json.loads(text)
        except ValueError:
            print("skipping %s: not JSON" % path, file=sys.stderr)
    return runs


def machine_note(runs):
    for by_server in runs.values():
        for run in by_server.values():
            m = run.get("machine") or {}
            if m:
                return "%s cores, %s; each server on one core, the bench on another" % (
                    m.get("nproc"), (m.get("cpu") or "").strip())
    return ""


def quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def draw(path, height, title, settings, plots, note):
    """One PNG by gnuplot: the settings, the machine note at the bottom, the plots."""
    script = ["set terminal pngcairo size 900,%d font 'DejaVu Sans,10'" % height, "set output %s" % quote(path),
              "set title %s" % quote(title), "set bmargin 6"] + settings + [
        "set label %s at screen 0.01, screen 0.045 font ',8' tc rgb '#666666'" % quote(note),
        "plot " + ", ".join(plots)]
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)


def plot_steps(workload, by_server, out, note, tmp):
    title, xlabel = STEP_WORKLOADS[workload]
    plots = []
    for server in SERVERS:
        steps = ((by_server.get(server) or {}).get("steps")) or []
        steps = [s for s in steps if s.get("offered_deliveries_per_s") and s.get("p99_ms") is not None]
        if not steps:
            continue
        data = os.path.join(tmp, "%s-%s.dat" % (workload, server))
        with open(data, "w") as f:
            # x, y, then y again for the saturated steps only (hollow markers).
            # x is the offered rate (open loop): a saturated step delivers
            # less than it was offered, and plotting what it delivered would
            # draw the curve backwards.
            for s in steps:
                y = max(s["p99_ms"], 0.1)
                f.write("%g %g %s\n" % (s["offered_deliveries_per_s"], y, ("%g" % y) if s.get("saturated") else "NaN"))
        c = COLOURS[server]
        plots.append("%s using 1:2 with linespoints pt 7 ps 0.9 lw 2 lc rgb %s title %s" % (quote(data), quote(c),
                                                                                            quote(server)))
        plots.append("%s using 1:3 with points pt 7 ps 0.9 lc rgb 'white' notitle" % quote(data))
        plots.append("%s using 1:3 with points pt 6 ps 0.9 lw 2 lc rgb %s notitle" % (quote(data), quote(c)))
    if not plots:
        return None
    path = os.path.join(out, "%s.png" % workload)
    draw(path, 540, title, [
        "set logscale xy",
        "set xlabel %s" % quote(xlabel + " (log)"),
        "set ylabel 'p99 latency, ms (log)'",
        "set grid xtics ytics mxtics mytics lc rgb '#dddddd'",
        "set key top left box opaque title 'hollow: saturated step'",
        "set format x '%.0s%c'",
        "set arrow from graph 0, first 100 to graph 1, first 100 nohead dt 3 lc rgb '#888888'",
        "set label 'p99 100 ms' at graph 0.99, first 100 right offset 0,0.6 tc rgb '#666666'",
    ], plots, note)
    return path


def idle_order(name):
    digits = "".join(c for c in name if c.isdigit())
    return int(digits) if digits else 0


def plot_memory(runs, out, note, tmp):
    idle = sorted((w for w in runs if w.startswith("idle")), key=idle_order)
    present = [s for s in SERVERS if any(runs[w].get(s, {}).get("rss_per_conn_kib") is not None for w in idle)]
    if not present:
        return None
    data = os.path.join(tmp, "memory.dat")
    with open(data, "w") as f:
        for w in idle:
            conns = next((runs[w][s].get("connections") for s in present if runs[w].get(s)), None)
            label = ("%s connections" % format(conns, ",")) if conns else w
            cells = []
            for s in present:
                v = (runs[w].get(s) or {}).get("rss_per_conn_kib")
                cells.append("NaN" if v is None else "%.1f" % v)
            f.write("%s %s\n" % (quote(label), " ".join(cells)))
    path = os.path.join(out, "memory.png")
    plots = []
    for i, s in enumerate(present):
        plots.append("%s using %d:xtic(1) title %s lc rgb %s" % (quote(data), i + 2, quote(s), quote(COLOURS[s])))
    n = len(present)
    for i, s in enumerate(present):
        offset = (i - (n - 1) / 2) / (n + 1)  # bar i of a cluster with gap 1
        plots.append("%s using ($0 + %g):%d:(sprintf('%%.1f', $%d)) with labels offset 0,0.7 font ',8' notitle"
                     % (quote(data), offset, i + 2, i + 2))
    draw(path, 480, "Server memory per authenticated idle connection (lower is better)", [
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.9 border -1",
        "set boxwidth 0.8 relative",
        "set yrange [0:*]",
        "set offsets 0, 0, graph 0.12, 0",
        "set ylabel 'RSS per connection, KiB'",
        "set grid ytics lc rgb '#dddddd'",
        "set key top left",
    ], plots, note)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the directory scripts/bench-vs-ejabberd.sh printed")
    ap.add_argument("--note", default="Confab stores every message before its ack (--durability as run: fsync by default); "
                    "ejabberd and Prosody store nothing.", help="a second line under each picture")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "perf"))
    args = ap.parse_args()
    runs = load(args.results)
    if not runs:
        sys.exit("no <server>-<workload>.json in %s" % args.results)
    need_gnuplot()
    os.makedirs(args.out, exist_ok=True)
    note = machine_note(runs) + ("\n" + args.note if args.note else "")
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for workload in STEP_WORKLOADS:
            if workload in runs:
                p = plot_steps(workload, runs[workload], args.out, note, tmp)
                if p:
                    written.append(p)
        p = plot_memory(runs, args.out, note, tmp)
        if p:
            written.append(p)
    if not written:
        sys.exit("nothing to plot in %s" % args.results)
    for p in written:
        print(os.path.normpath(p))


if __name__ == "__main__":
    main()
