#!/usr/bin/env python3
"""Inspect results/*.jsonl: per-run answers, and for --trace runs the loop's iterations.

    python3 scripts/calibrate/analyze.py results/X.jsonl                 # summary per run
    python3 scripts/calibrate/analyze.py results/X.jsonl --iters e:keepalive:0 [--until 400]

An iteration is shown from its select() return to the next select() call: its length is
the time spent running callbacks; "ev" = I/O events the poll returned, "rdy" = callbacks
already ready before the poll. Marks (start/io_start/io_end/cpu_start/...) are placed in
the iteration during which they happened; "sent"/"answered" come from the client.
"""

import argparse
import bisect
import json


def load(path):
    return [json.loads(line) for line in open(path)]


def summary(rows):
    for r in rows:
        a = r["answers_sorted_ms"]
        C = r["concurrency"]
        gaps = [round(a[k + 1] - a[k]) for k in range(len(a) - 1)]
        print(f"{r['scenario']} {r['conn']} #{r['repeat']}: first {a[0]:.1f} last {a[-1]:.1f} "
              f"answers around C: {[round(x) for x in a[max(0, C - 3):C + 3]]} max gap {max(gaps, default=0)}")


def iters(r, until):
    t0 = r["t0_abs"]
    tr = r["server_trace"]
    its = [(s - t0, e - t0, ev, rdy) for s, e, ev, rdy in tr["iterations"]]
    marks = sorted((t - t0, what, item) for t, what, item in tr["marks"])
    client = []
    for p in r["per_request"]:
        client.append(((p["sent"]) / 1000, "SENT", p["i"] + 123))
        client.append(((p["answered"]) / 1000, "ANSWERED", p["i"] + 123))
    allm = sorted(marks + client)
    returns = [e for _, e, _, _ in its]
    for k, (s, e, ev, rdy) in enumerate(its):
        if e * 1000 < -5:
            continue
        if e * 1000 > until:
            break
        nxt = its[k + 1][0] if k + 1 < len(its) else float("inf")
        inside = [m for m in allm if e <= m[0] < nxt]
        busy = (nxt - e) * 1000
        wait = (e - s) * 1000
        summ = {}
        for t, what, item in inside:
            summ.setdefault(what, []).append(item - 123)
        desc = " ".join(f"{w}:{_compact(v)}" for w, v in summ.items())
        print(f"it{k:5d} poll {s*1000:9.2f} (+{wait:6.2f}) ev={ev:3d} rdy={rdy:3d} run {busy:8.2f} ms | {desc}")


def _compact(v):
    if len(v) <= 6:
        return ",".join(map(str, v))
    return f"{v[0]}..{v[-1]}(#{len(v)})"


def table(rows, max_other):
    """Per scenario x conn: clean runs only (other processes used <= max_other cores)."""
    groups = {}
    for r in rows:
        if r.get("trace") or r.get("error"):
            continue
        groups.setdefault((r["scenario"], r["conn"]), []).append(r)
    print(f"{'scen':5} {'variant':10} {'N/C/T io/cpu/bg':22} {'conn':9} {'clean':>5} {'first':>11} {'last (makespan)':>16} "
          f"{'answers C, C+1 (gap) per run'}")
    for (name, conn), rs in groups.items():
        clean = [r for r in rs if (r.get("other_cpu_cores_during") or 0) <= max_other]
        use = clean or rs
        r0 = use[0]
        C = r0["concurrency"]
        firsts = [r["answers_sorted_ms"][0] for r in use]
        lasts = [r["makespan_ms"] for r in use]
        gaps = []
        for r in use:
            a = r["answers_sorted_ms"]
            if len(a) > C:
                gaps.append(f"{a[C-1]:.0f},{a[C]:.0f}({a[C]-a[C-1]:.0f})")
        desc = f"{r0['requests']}/{C}/{r0['tokens']} {r0['io_ms']:.0f}/{r0['cpu_ms']:.0f}/{r0['bg_ms']:.0f}"
        print(f"{name:5} {r0['variant']:10} {desc:22} {conn:9} {len(clean):>2}/{len(rs):<2} "
              f"{min(firsts):5.1f}-{max(firsts):<5.1f} {min(lasts):7.1f}-{max(lasts):<8.1f} {' '.join(gaps)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("path", nargs="+")
    p.add_argument("--table", action="store_true", help="per scenario: clean runs, first, makespan, gap at C")
    p.add_argument("--max-other", type=float, default=0.3)
    p.add_argument("--iters", help="scenario:conn:repeat of a --trace run")
    p.add_argument("--until", type=float, default=400.0, help="ms")
    a = p.parse_args()
    rows = [r for pth in a.path for r in load(pth)]
    if a.table:
        table(rows, a.max_other)
    elif a.iters:
        name, conn, rep = a.iters.split(":")
        r = next(r for r in rows if r["scenario"] == name and r["conn"] == conn and r["repeat"] == int(rep))
        iters(r, a.until)
    else:
        summary(rows)


if __name__ == "__main__":
    main()
