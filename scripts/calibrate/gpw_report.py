#!/usr/bin/env python3
"""Tables for the GIL / process-pool / --workers study (docs/calibration/gil-processes-workers.md).

    python3 scripts/calibrate/gpw_report.py results/gpw-gil.jsonl [more.jsonl ...] [--detail]

Reads run.py's JSONL rows for the variants full_async_py, sync_py, procpool, blocking_pid
(their response metadata carries the worker pid and the prediction's start/end stamps) and
prints, per run: the load, every answer's time (sorted), the model's closed form, and
  - for pure-Python / process-pool runs: when each prediction started and ended (ms since
    t0, from the job's perf_counter stamps) and its CPU ms;
  - for --workers runs: which worker (pid, numbered in order of first appearance) served
    each request, in the order the requests were sent, and how many each worker served.
"""

import argparse
import json
import math
import statistics
from collections import Counter


def model(r):
    v, n, io, cpu, tok = r["variant"], r["requests"], r["io_ms"], r["cpu_ms"], r["tokens"]
    if v == "full_async_py":
        return f"io+N*cpu = {io + n * cpu:.0f}"
    if v == "sync_py":
        return f"io+N*cpu = {io + n * cpu:.0f} (io overlaps)"
    if v == "procpool":
        p = r.get("procs") or 1
        return f"io+ceil(N/P)*cpu = {io + math.ceil(n / p) * cpu:.0f}; 2 cores: io+N*cpu/2 = {io + n * cpu / 2:.0f}"
    if v == "blocking_pid":
        w = r.get("workers") or 1
        return f"ceil(N/W)*(io+cpu) = {math.ceil(n / w) * (io + cpu):.0f}"
    return ""


def meta(req):
    try:
        return json.loads(json.loads(req["body"])["metadata"])
    except (ValueError, KeyError, TypeError):
        return {}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--detail", action="store_true", help="per-request job start/end or worker sequence")
    p.add_argument("--clean-max", type=float, default=0.25,
                   help="runs with other_cpu_cores_during above this are marked * and left out of the median")
    a = p.parse_args()
    rows = [json.loads(x) for f in a.files for x in open(f)]
    rows = [r for r in rows if r["variant"] in ("full_async_py", "sync_py", "procpool", "blocking_pid")]
    groups = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["conn"], r.get("mp_start")), []).append(r)
    for (name, conn, mp), rs in groups.items():
        r0 = rs[0]
        extra = f", workers {r0.get('workers')}" if (r0.get("workers") or 1) > 1 else ""
        extra += f", procs {r0.get('procs')} ({mp})" if r0.get("procs") else ""
        print(f"\n### {name}: {r0['variant']}, N={r0['requests']} at once, io {r0['io_ms']:.0f}, "
              f"cpu {r0['cpu_ms']:.0f}, tokens {r0['tokens']}{extra}, {conn} — model: {model(r0)}")
        if r0["variant"] == "blocking_pid":
            print("| run | other cores | answers sorted (ms) | requests per worker | worker of request 0..N-1 (in send order) |")
            print("|---|---|---|---|---|")
        else:
            print("| run | other cores | answers sorted (ms) | spread last-first | predictions start..end (ms, sorted by start) | job CPU ms |")
            print("|---|---|---|---|---|---|")
        for r in rs:
            ans = r["answers_sorted_ms"]
            reqs = sorted(r["per_request"], key=lambda q: q["i"])
            oc = r["other_cpu_cores_during"]
            oc = f"{oc}" if oc is not None and oc <= a.clean_max else f"{oc} *"
            err = " ERR" if r["error"] or r["bad_answers"] else ""
            if r0["variant"] == "blocking_pid":
                pids = [meta(q).get("pid") for q in reqs]
                num = {}
                for pid in pids:
                    num.setdefault(pid, len(num))
                seq = "".join(chr(ord("A") + num[x]) for x in pids)
                cnt = Counter(seq)
                print(f"| {r['repeat']} | {oc} | {', '.join(f'{x:.0f}' for x in ans)}{err} | "
                      f"{' '.join(f'{k}:{cnt[k]}' for k in sorted(cnt))} | {seq} |")
            else:
                t0 = r["t0_abs"]
                jobs = sorted((meta(q).get("job") or {} for q in reqs), key=lambda j: j.get("t0", 0))
                se = ", ".join(f"{(j['t0'] - t0) * 1000:.0f}..{(j['t1'] - t0) * 1000:.0f}" for j in jobs if "t0" in j)
                cpu = [j.get("cpu_ms", 0) for j in jobs]
                print(f"| {r['repeat']} | {oc} | {', '.join(f'{x:.0f}' for x in ans)}{err} | {ans[-1] - ans[0]:.0f} | "
                      f"{se} | {min(cpu):.0f}-{max(cpu):.0f} |")
        clean = [r for r in rs if (r["other_cpu_cores_during"] or 0) <= a.clean_max]
        if clean:
            k = len(clean[0]["answers_sorted_ms"])
            med = [statistics.median(r["answers_sorted_ms"][i] for r in clean) for i in range(k)]
            print(f"| median of {len(clean)} clean | | {', '.join(f'{x:.0f}' for x in med)} | | | |")


if __name__ == "__main__":
    main()
