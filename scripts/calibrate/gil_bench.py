#!/usr/bin/env python3
"""GIL measurements with pure-Python CPU work (pywork.burn: float arithmetic, holds the GIL).

    python3 scripts/calibrate/gil_bench.py threads   --n 1,2,4,8 --work-ms 100 -r 5
    python3 scripts/calibrate/gil_bench.py heartbeat --k 0,1,2,4 --period-ms 1 --dur-ms 1000 -r 3
    python3 scripts/calibrate/gil_bench.py convoy    --k 0,1,2 --calls 300 -r 3
    python3 scripts/calibrate/gil_bench.py report results/gil-<stem>.jsonl
    python3 scripts/calibrate/gil_bench.py simulate results/gil-threads.jsonl [--p-back 0.7,0.8,0.9]

threads   N threads, each `work-ms` of pure-Python work (calibrated alone, this process),
          released together by an Event: each thread's finish time, and the stretches
          ("slices") it ran without a gap > 0.5 ms (pywork.burn_traced), so the GIL's
          time slices, hand-off order and hand-off latency can be read off.
heartbeat an asyncio loop in the main thread with a call_later(period) chain while K
          threads burn continuously: each beat's lateness = when it ran - when it was due
          (loop.time()), plus the CPU threads' slices during the window.
convoy    a thread making `calls` short GIL-releasing syscalls (select.select([], [], [], 0),
          back to back) while K threads burn: the time per call (does the thread get the GIL
          straight back after its syscall? bpo-7946).

simulate  the candidate rule for the model, against a `threads` results file: slices of
          5.05 ms, 0.1 ms hand-off; at each hand-off the GIL goes back to the thread that held
          it before the current holder with probability p_back, else to a uniformly random
          other runnable thread (p_back = 0: random; round-robin shown for comparison).
          Prints the mean sorted finish times (400 seeds) next to the measured ones.

Every run: --wait-quiet (default 30 s) waits for the machine to be idle first (run.py's
wait_quiet), and the run records the load average and `other_cpu_cores_during` (the
machine's busy CPU from /proc/stat minus this process's own CPU, in cores). Results go to
scripts/calibrate/results/gil-<stem>.jsonl, one JSON line per run; `report` prints tables.
Run with the calibration venv's python (or any CPython 3.11: stdlib only + pywork.py).
"""

import argparse
import asyncio
import json
import os
import select
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pywork  # noqa: E402

RESULTS = os.path.join(HERE, "results")
pc = time.perf_counter
HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def cpu_stat():
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f))
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def wait_quiet(limit_s, threshold=0.25):
    """Wait (at most limit_s) until the machine's CPU use over 1 s is below `threshold` cores."""
    t_end = time.time() + limit_s
    while True:
        b0, t0 = cpu_stat()
        time.sleep(1.0)
        b1, t1 = cpu_stat()
        cores = NCPU * (b1 - b0) / max(1, t1 - t0)
        if cores < threshold or time.time() > t_end:
            return round(cores, 2)


class LoadMon:
    """other_cpu_cores_during: machine busy time minus this process's CPU, over the run."""

    def __enter__(self):
        self.b0, self.tot0 = cpu_stat()
        self.own0 = sum(os.times()[:2])
        self.w0 = time.time()
        return self

    def __exit__(self, *exc):
        b1, tot1 = cpu_stat()
        own1 = sum(os.times()[:2])
        wall = max(1e-3, time.time() - self.w0)
        busy = (b1 - self.b0) / HZ
        self.other = round(max(0.0, (busy - (own1 - self.own0)) / wall), 2)
        return False


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


# --- threads ------------------------------------------------------------------------------


def run_threads(n, iters, cpu_ms=None):
    go = threading.Event()
    out = [None] * n

    def body(i):
        go.wait()
        c0 = time.thread_time()
        sl = pywork.burn_traced(iters, cpu_ms=cpu_ms)
        out[i] = {"slices": sl, "end": pc(), "cpu": time.thread_time() - c0}

    ths = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    time.sleep(0.02)
    t0 = pc()
    go.set()
    for t in ths:
        t.join()
    res = []
    for i, o in enumerate(out):
        res.append({
            "thread": i,
            "finish_ms": round((o["end"] - t0) * 1000, 3),
            "thread_cpu_ms": round(o["cpu"] * 1000, 3),
            "iters": sum(k for _, _, k in o["slices"]),
            "slices_ms": [(round((a - t0) * 1000, 3), round((b - t0) * 1000, 3), k) for a, b, k in o["slices"]],
        })
    return res


def analyze_slices(threads):
    """Merge all threads' slices into one timeline: hand-off order, slice lengths, gaps."""
    ev = sorted((s[0], s[1], t["thread"]) for t in threads for s in t["slices_ms"])
    lens = [b - a for a, b, _ in ev]
    inner = [b - a for k, (a, b, _) in enumerate(ev) if 0 < k < len(ev) - 1]
    handoff = [ev[k + 1][0] - ev[k][1] for k in range(len(ev) - 1)]
    order = [th for _, _, th in ev]
    # classify each hand-off X -> Y (Y != X): "back" = Y held the GIL just before X (ping-pong);
    # "fifo" = Y is the thread that has waited longest (its last slice ended earliest, or it has
    # not run yet); "other" otherwise. With 2 runnable threads every hand-off is back and fifo.
    last_end = {t["thread"]: -1.0 for t in threads}  # -1: not run yet
    cls = {"back": 0, "fifo": 0, "both": 0, "other": 0}
    finished = {t["thread"]: t["slices_ms"][-1][1] for t in threads}
    for k in range(1, len(ev)):
        a, b, y = ev[k]
        x = ev[k - 1][2]
        last_end[x] = ev[k - 1][1]
        if y == x:
            continue
        waiting = [t for t in last_end if t != x and finished[t] >= a]
        prev = ev[k - 2][2] if k >= 2 else None
        fifo = min(waiting, key=lambda t: last_end[t]) if waiting else None
        is_back, is_fifo = (y == prev and prev != x), (y == fifo)
        cls["both" if is_back and is_fifo else "back" if is_back else "fifo" if is_fifo else "other"] += 1
    return {"n_slices": len(ev), "slice_len_ms": lens, "inner_slice_len_ms": inner,
            "handoff_gap_ms": handoff, "order": order, "handoff_class": cls}


def cmd_threads(args, out):
    for n in args.n:
        for rep in range(args.repeats):
            quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else None
            la = open("/proc/loadavg").read().split()[:3]
            ipm = pywork.calibrate()  # right before the run: this VM's speed drifts
            iters = int(ipm * args.work_ms)
            with LoadMon() as lm:
                res = run_threads(n, iters, args.work_ms if args.work == "cpu" else None)
            a = analyze_slices(res)
            row = {"bench": "threads", "work": args.work, "n": n, "work_ms": args.work_ms, "iters": iters,
                   "iters_per_ms": round(ipm),
                   "repeat": rep, "switchinterval_s": sys.getswitchinterval(), "loadavg_before": la,
                   "quiet_cores_before": quiet, "other_cpu_cores_during": lm.other, "threads": res, "analysis": a}
            out.write(json.dumps(row) + "\n")
            out.flush()
            fins = sorted(t["finish_ms"] for t in res)
            inner = a["inner_slice_len_ms"]
            print(f"  threads n={n} #{rep}: finish {fins[0]:.1f}..{fins[-1]:.1f} ms  slices {a['n_slices']} "
                  f"median inner slice {statistics.median(inner) if inner else float('nan'):.2f}  "
                  f"other {lm.other}", file=sys.stderr)


# --- heartbeat ----------------------------------------------------------------------------


def run_heartbeat(k, period_s, dur_s, iters_chunk):
    stop = threading.Event()
    slices = [None] * k

    def burner(i):
        sl = []
        while not stop.is_set():
            sl.extend(pywork.burn_traced(iters_chunk))
        slices[i] = sl

    ths = [threading.Thread(target=burner, args=(i,)) for i in range(k)]
    for t in ths:
        t.start()
    time.sleep(0.03)  # let the burners settle into the GIL rotation

    async def main():
        loop = asyncio.get_running_loop()
        beats = []
        done = loop.create_future()
        t_end = loop.time() + dur_s

        def beat(when):
            now = loop.time()
            beats.append((when, now, pc()))
            if now >= t_end:
                done.set_result(None)
                return
            loop.call_at(now + period_s, beat, now + period_s)

        first = loop.time() + period_s
        loop.call_at(first, beat, first)
        await done
        return beats

    t0 = pc()
    beats = asyncio.run(main())
    stop.set()
    for t in ths:
        t.join()
    late = [round((now - when) * 1000, 3) for when, now, _ in beats]
    gaps = [round((beats[i + 1][2] - beats[i][2]) * 1000, 3) for i in range(len(beats) - 1)]
    return {
        "lateness_ms": late,
        "beat_gap_ms": gaps,
        "slices_ms": [[(round((a - t0) * 1000, 3), round((b - t0) * 1000, 3)) for a, b, _ in (s or [])] for s in slices],
        "beats_ms": [round((p - t0) * 1000, 3) for _, _, p in beats],
    }


def cmd_heartbeat(args, out):
    ipm = pywork.calibrate()
    for k in args.k:
        for rep in range(args.repeats):
            quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else None
            la = open("/proc/loadavg").read().split()[:3]
            with LoadMon() as lm:
                res = run_heartbeat(k, args.period_ms / 1000, args.dur_ms / 1000, int(ipm * 20))
            late = res["lateness_ms"]
            row = {"bench": "heartbeat", "k": k, "period_ms": args.period_ms, "dur_ms": args.dur_ms, "repeat": rep,
                   "switchinterval_s": sys.getswitchinterval(), "loadavg_before": la, "quiet_cores_before": quiet,
                   "other_cpu_cores_during": lm.other, **res}
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"  heartbeat k={k} #{rep}: beats {len(late)} lateness median {statistics.median(late):.2f} "
                  f"p90 {pct(late, 0.9):.2f} max {max(late):.2f} ms  gap median "
                  f"{statistics.median(res['beat_gap_ms']):.2f}  other {lm.other}", file=sys.stderr)


# --- convoy -------------------------------------------------------------------------------


def run_convoy(k, calls, iters_chunk):
    stop = threading.Event()

    def burner():
        while not stop.is_set():
            pywork.burn(iters_chunk)

    ths = [threading.Thread(target=burner) for _ in range(k)]
    for t in ths:
        t.start()
    time.sleep(0.03)
    per = []
    got = {}

    def io_thread():
        for _ in range(calls):
            a = pc()
            select.select([], [], [], 0)  # releases the GIL around the syscall
            per.append((pc() - a) * 1000)
        got["end"] = pc()

    t = threading.Thread(target=io_thread)
    t0 = pc()
    t.start()
    t.join()
    stop.set()
    for th in ths:
        th.join()
    return {"per_call_ms": [round(x, 4) for x in per], "total_ms": round((got["end"] - t0) * 1000, 3)}


def cmd_convoy(args, out):
    ipm = pywork.calibrate()
    for k in args.k:
        for rep in range(args.repeats):
            quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else None
            la = open("/proc/loadavg").read().split()[:3]
            with LoadMon() as lm:
                res = run_convoy(k, args.calls, int(ipm * 1))
            per = res["per_call_ms"]
            slow = sum(1 for x in per if x > 1.0)
            row = {"bench": "convoy", "k": k, "calls": args.calls, "repeat": rep, "loadavg_before": la,
                   "quiet_cores_before": quiet, "other_cpu_cores_during": lm.other, **res}
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"  convoy k={k} #{rep}: {args.calls} calls in {res['total_ms']:.1f} ms; median "
                  f"{statistics.median(per):.4f} ms, {slow} calls > 1 ms (max {max(per):.2f})  other {lm.other}",
                  file=sys.stderr)


# --- report -------------------------------------------------------------------------------


def fmt(xs, d=1):
    if not xs:
        return "-"
    return f"{min(xs):.{d}f} / {statistics.median(xs):.{d}f} / {max(xs):.{d}f}"


def cmd_report(args):
    rows = [json.loads(x) for p in args.files for x in open(p)]
    th = [r for r in rows if r["bench"] == "threads"]
    if th:
        print("## threads: N threads x W ms of pure-Python work, started together")
        print("| work | N | W | run | other cores | finish times, sorted (ms) | slices | inner slice min/med/max (ms) "
              "| hand-off gap med/max (ms) | kiter/ms per thread min-max | hand-offs back/fifo/both/other | order (first 16 slices) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in th:
            a = r["analysis"]
            fins = sorted(t["finish_ms"] for t in r["threads"])
            hg = a["handoff_gap_ms"]
            c = analyze_slices(r["threads"])["handoff_class"]
            hc = f"{c['back']}/{c['fifo']}/{c['both']}/{c['other']}"
            rates = [t["iters"] / max(1e-6, sum(s[1] - s[0] for s in t["slices_ms"])) / 1000 for t in r["threads"]]
            print(f"| {r.get('work', 'iters')} | {r['n']} | {r['work_ms']:.0f} | {r['repeat']} | {r['other_cpu_cores_during']} | "
                  f"{', '.join(f'{x:.0f}' for x in fins)} | {a['n_slices']} | {fmt(a['inner_slice_len_ms'], 2)} | "
                  f"{(statistics.median(hg) if hg else 0):.2f} / {(max(hg) if hg else 0):.2f} | "
                  f"{min(rates):.1f}-{max(rates):.1f} | {hc} | {''.join(str(x) for x in a['order'][:16])} |")
    hb = [r for r in rows if r["bench"] == "heartbeat"]
    if hb:
        print("\n## heartbeat: call_later chain on the loop while K threads burn")
        print("| K | period | run | other cores | beats in window | lateness med / p90 / max (ms) "
              "| beat-to-beat med (ms) | share of beats late > 1 ms |")
        print("|---|---|---|---|---|---|---|---|")
        for r in hb:
            late = r["lateness_ms"]
            print(f"| {r['k']} | {r['period_ms']} | {r['repeat']} | {r['other_cpu_cores_during']} | {len(late)} | "
                  f"{statistics.median(late):.2f} / {pct(late, 0.9):.2f} / {max(late):.2f} | "
                  f"{statistics.median(r['beat_gap_ms']):.2f} | {sum(1 for x in late if x > 1) / len(late):.0%} |")
    cv = [r for r in rows if r["bench"] == "convoy"]
    if cv:
        print("\n## convoy: a thread making short GIL-releasing syscalls while K threads burn")
        print("| K | calls | run | other cores | total (ms) | per call median (ms) | calls > 1 ms | per slow call median (ms) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in cv:
            per = r["per_call_ms"]
            slow = [x for x in per if x > 1.0]
            print(f"| {r['k']} | {r['calls']} | {r['repeat']} | {r['other_cpu_cores_during']} | {r['total_ms']:.1f} | "
                  f"{statistics.median(per):.4f} | {len(slow)} | {(statistics.median(slow) if slow else 0):.2f} |")


def sim_threads(n, w, p_back, seed, slice_ms=5.05, gap=0.1, rr=False):
    import random

    rnd = random.Random(seed)
    rem = [w] * n
    t = 0.0
    fin = [None] * n
    cur, prev = rnd.randrange(n), None
    while True:
        run = min(slice_ms, rem[cur])
        t += run
        rem[cur] -= run
        if rem[cur] <= 1e-9:
            fin[cur] = t
        alive = [i for i in range(n) if rem[i] > 1e-9]
        if not alive:
            return sorted(fin)
        others = [i for i in alive if i != cur]
        if not others:
            continue
        if rr:
            nxt = (cur + 1) % n
            while rem[nxt] <= 1e-9:
                nxt = (nxt + 1) % n
        elif prev in others and rnd.random() < p_back:
            nxt = prev
        else:
            nxt = rnd.choice(others)
        t += gap
        prev, cur = cur, nxt


def cmd_simulate(args):
    rows = [json.loads(x) for p in args.files for x in open(p)]
    rows = [r for r in rows if r["bench"] == "threads" and r.get("work", "iters") == args.work]
    for n in sorted({r["n"] for r in rows if r["n"] > 2}):
        real = [sorted(t["finish_ms"] for t in r["threads"]) for r in rows if r["n"] == n]
        w = rows[0]["work_ms"]
        rm = [statistics.mean(x[i] for x in real) for i in range(n)]
        print(f"N={n}, W={w:.0f} ({len(real)} runs, work={args.work}): measured mean sorted finish "
              f"{[round(x) for x in rm]}, first finisher {min(x[0] for x in real):.0f}-{max(x[0] for x in real):.0f}")
        cands = [("round-robin", 0.0, True)] + [(f"p_back={p}", p, False) for p in args.p_back]
        for label, pb, rr in cands:
            ss = [sim_threads(n, w, pb, seed, rr=rr) for seed in range(400)]
            sm = [statistics.mean(x[i] for x in ss) for i in range(n)]
            firsts = sorted(x[0] for x in ss)
            print(f"  {label:12} {[round(x) for x in sm]}  max |diff| {max(abs(a - b) for a, b in zip(sm, rm)):.0f} ms, "
                  f"first finisher p10-p90 {firsts[40]:.0f}-{firsts[360]:.0f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    for name in ("threads", "heartbeat", "convoy"):
        q = sub.add_parser(name)
        q.add_argument("-r", "--repeats", type=int, default=3)
        q.add_argument("--wait-quiet", type=float, default=30.0)
        q.add_argument("--out", default=None, help="results file stem (default gil-<timestamp>)")
        if name == "threads":
            q.add_argument("--n", type=ints, default=[1, 2, 4, 8])
            q.add_argument("--work-ms", type=float, default=100.0)
            q.add_argument("--work", choices=["cpu", "iters"], default="cpu",
                           help="cpu: each thread runs until it used work-ms of thread CPU time (immune to "
                                "the VM's speed swings); iters: a fixed iteration count calibrated to work-ms "
                                "alone right before the run")
        elif name == "heartbeat":
            q.add_argument("--k", type=ints, default=[0, 1, 2, 4])
            q.add_argument("--period-ms", type=float, default=1.0)
            q.add_argument("--dur-ms", type=float, default=1000.0)
        else:
            q.add_argument("--k", type=ints, default=[0, 1, 2])
            q.add_argument("--calls", type=int, default=300)
    q = sub.add_parser("report")
    q.add_argument("files", nargs="+")
    q = sub.add_parser("simulate")
    q.add_argument("files", nargs="+")
    q.add_argument("--p-back", type=lambda s: [float(x) for x in s.split(",")], default=[0.0, 0.5, 0.7, 0.8, 0.9, 1.0])
    q.add_argument("--work", choices=["cpu", "iters"], default="cpu")
    args = p.parse_args()
    if args.cmd == "report":
        return cmd_report(args)
    if args.cmd == "simulate":
        return cmd_simulate(args)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, (args.out or time.strftime("gil-%Y%m%d-%H%M%S")) + ".jsonl")
    with open(path, "a") as out:
        {"threads": cmd_threads, "heartbeat": cmd_heartbeat, "convoy": cmd_convoy}[args.cmd](args, out)
    print(f"results: {os.path.relpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
