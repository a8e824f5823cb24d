#!/usr/bin/env python3
"""ProcessPoolExecutor from an asyncio loop: per-call overhead, dispatch order, result path.

    python3 scripts/calibrate/procpool_bench.py -p 4 --start fork,spawn -r 3
    python3 scripts/calibrate/procpool_bench.py --report results/procpool-<stem>.jsonl

Per run (a fresh pool of P workers, warmed up so that every worker process exists):
  seq     `calls` trivial jobs (pywork.noop(5.0): returns its float argument at once), one
          after another: `await loop.run_in_executor(pool, noop, x)`; the round trip per call
          (ms), and how many selector polls (loop iterations) each call spanned.
  burst   `calls` trivial jobs submitted at once (asyncio.gather): total time / calls.
  order   J jobs of `job-ms` pure-Python CPU time (pywork.predict_py, CPU-time mode) submitted
          at once: each job's index, worker pid, start and end (ms since submit), and when the
          awaiting coroutine resumed: dispatch order (FIFO?) and result latency
          (job end -> coroutine resumed).
Every run waits for a quiet machine first (--wait-quiet) and records other_cpu_cores_during
(machine busy CPU minus this process tree's CPU). Results: results/procpool-<stem>.jsonl.
"""

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pywork  # noqa: E402
from gil_bench import HZ, cpu_stat, pct, wait_quiet  # noqa: E402

pc = time.perf_counter


def tree_cpu_s():
    """CPU seconds of this process and its children (the pool workers), live ones included."""
    own = sum(os.times()[:2])
    kids = 0
    me = os.getpid()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
                if int(f[1]) == me:
                    kids += int(f[11]) + int(f[12])
            except (OSError, IndexError, ValueError):
                pass
    return own + kids / HZ


async def bench(pool, args):
    loop = asyncio.get_running_loop()
    polls = [0]
    sel = loop._selector
    orig = sel.select

    def select(timeout=None):
        polls[0] += 1
        return orig(timeout)

    sel.select = select
    # warm-up: every worker exists and has imported pywork
    await asyncio.gather(*(loop.run_in_executor(pool, pywork.predict_py, 0.0, 0, 20.0) for _ in range(args.procs)))
    for _ in range(20):
        await loop.run_in_executor(pool, pywork.noop, 5.0)

    seq, seq_polls = [], []
    for _ in range(args.calls):
        p0, t0 = polls[0], pc()
        await loop.run_in_executor(pool, pywork.noop, 5.0)
        seq.append((pc() - t0) * 1000)
        seq_polls.append(polls[0] - p0)

    t0 = pc()
    await asyncio.gather(*(loop.run_in_executor(pool, pywork.noop, 5.0) for _ in range(args.calls)))
    burst_ms = (pc() - t0) * 1000

    resumed = {}

    async def job(i):
        r = await loop.run_in_executor(pool, pywork.predict_py, float(i), 0, args.job_ms)
        resumed[i] = pc()
        return r

    t0 = pc()
    res = await asyncio.gather(*(job(i) for i in range(args.jobs)))
    order = []
    for i, (_, info) in enumerate(res):
        order.append({"i": i, "pid": info["pid"], "start_ms": round((info["t0"] - t0) * 1000, 3),
                      "end_ms": round((info["t1"] - t0) * 1000, 3), "cpu_ms": info["cpu_ms"],
                      "resumed_ms": round((resumed[i] - t0) * 1000, 3)})
    sel.select = orig
    return {"seq_ms": [round(x, 4) for x in seq], "seq_polls": seq_polls, "burst_total_ms": round(burst_ms, 3),
            "order": order}


def run(args, start):
    ctx = multiprocessing.get_context(start)
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.procs, mp_context=ctx) as pool:
        b0, _ = cpu_stat()
        c0, w0 = tree_cpu_s(), time.time()
        out = asyncio.run(bench(pool, args))
        b1, _ = cpu_stat()
        c1, w1 = tree_cpu_s(), time.time()
    out["other_cpu_cores_during"] = round(max(0.0, ((b1 - b0) / HZ - (c1 - c0)) / max(1e-3, w1 - w0)), 2)
    return out


def report(paths):
    rows = [json.loads(x) for p in paths for x in open(p)]
    print("| start | P | run | other cores | seq trivial call med / p90 / max (ms) | polls per call (median) "
          "| burst: ms per call | jobs: dispatch order by start | result latency med / max (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["seq_ms"]
        o = r["order"]
        by_start = [j["i"] for j in sorted(o, key=lambda j: j["start_ms"])]
        lat = [j["resumed_ms"] - j["end_ms"] for j in o]
        print(f"| {r['start']} | {r['procs']} | {r['repeat']} | {r['other_cpu_cores_during']} | "
              f"{statistics.median(s):.3f} / {pct(s, 0.9):.3f} / {max(s):.3f} | {statistics.median(r['seq_polls'])} | "
              f"{r['burst_total_ms'] / r['calls']:.3f} | {' '.join(map(str, by_start))} | "
              f"{statistics.median(lat):.2f} / {max(lat):.2f} |")
    print("\njobs (start..end ms, pid as A/B/C/D by first appearance), per run:")
    for r in rows:
        o = r["order"]
        num = {}
        for j in sorted(o, key=lambda j: j["start_ms"]):
            num.setdefault(j["pid"], chr(ord("A") + len(num)))
        print(f"  {r['start']} #{r['repeat']}: " + ", ".join(
            f"{j['i']}:{num[j['pid']]} {j['start_ms']:.0f}..{j['end_ms']:.0f}→{j['resumed_ms']:.0f}" for j in o))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-p", "--procs", type=int, default=4)
    p.add_argument("--start", default="fork,spawn")
    p.add_argument("-r", "--repeats", type=int, default=3)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--jobs", type=int, default=12)
    p.add_argument("--job-ms", type=float, default=50.0)
    p.add_argument("--wait-quiet", type=float, default=30.0)
    p.add_argument("--out", default=None)
    p.add_argument("--report", nargs="+")
    args = p.parse_args()
    if args.report:
        return report(args.report)
    path = os.path.join(HERE, "results", (args.out or time.strftime("procpool-%Y%m%d-%H%M%S")) + ".jsonl")
    with open(path, "a") as f:
        for start in args.start.split(","):
            for rep in range(args.repeats):
                quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else None
                la = open("/proc/loadavg").read().split()[:3]
                out = run(args, start)
                row = {"start": start, "procs": args.procs, "repeat": rep, "calls": args.calls, "jobs": args.jobs,
                       "job_ms": args.job_ms, "loadavg_before": la, "quiet_cores_before": quiet, **out}
                f.write(json.dumps(row) + "\n")
                f.flush()
                s = out["seq_ms"]
                print(f"  {start} #{rep}: trivial call median {statistics.median(s):.3f} ms, burst "
                      f"{out['burst_total_ms'] / args.calls:.3f} ms/call, other {out['other_cpu_cores_during']}",
                      file=sys.stderr)
    print(f"results: {os.path.relpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
