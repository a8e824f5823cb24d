#!/usr/bin/env python3
"""Measure real FastAPI/uvicorn on the tutorial's endpoints.

    python3 scripts/calibrate/run.py --quick          # the brief's scenarios a-h, 1 repeat
    python3 scripts/calibrate/run.py                  # all scenarios, 3 repeats
    python3 scripts/calibrate/run.py --only e,f -r 5 --conn both
    python3 scripts/calibrate/run.py --scenario x:async_io:n=12:c=6:io=25:cpu=50

GIL / process pool / --workers study (docs/calibration/gil-processes-workers.md; additive, the
scenarios above are unchanged and still the default set):
    python3 scripts/calibrate/run.py --only g1,g2,g4,g8,s1,s2,s4,s8 -r 3 --wait-quiet 60
    python3 scripts/calibrate/run.py --only p1,p4,p8 -r 3 --wait-quiet 60 [--mp-start spawn]
    python3 scripts/calibrate/run.py --only w2n8,w2n16,w4n8,w4n16 --conn both -r 3 --wait-quiet 60
    python3 scripts/calibrate/run.py --scenario x:procpool:n=8:c=8:io=30:cpu=50:p=4:w=1
  New variants: full_async_py, sync_py (pure-Python CPU work holding the GIL), procpool,
  blocking_pid (see app.py). Scenario keys w= (uvicorn --workers), p= (process pool size).
  --py-mode cpu|iters picks how a pure-Python prediction of cpu ms is defined (app.py).
  gpw_report.py prints the tables of the note from the JSONL files.

Creates scripts/calibrate/.venv (idempotently: reinstalls only when requirements.txt
changes) and re-executes itself inside it. For every run: a fresh uvicorn subprocess
(asyncio loop, h11, access log on, as `uvicorn app:app` runs by default), wait until it
answers, warm it up (2 GET /health, 1 POST /noop: builds the middleware stack), run
load.py in its own process, stop the server. Writes one JSON line per run to
scripts/calibrate/results/<out>.jsonl and prints a table.
"""

import argparse
import hashlib
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
VPY = os.path.join(VENV, "bin", "python")
REQS = os.path.join(HERE, "requirements.txt")
RESULTS = os.path.join(HERE, "results")

PATHS = {
    "sync_def": "/predict_sync",
    "blocking": "/predict_blocking",
    "async_io": "/predict_async_io",
    "full_async": "/predict_full_async",
    "background": "/predict_with_background",
    "noop": "/noop",
    # GIL / process pool / workers study
    "full_async_py": "/predict_full_async_py",
    "sync_py": "/predict_sync_py",
    "procpool": "/predict_procpool",
    "blocking_pid": "/predict_blocking_pid",
}


def ensure_venv():
    """Create the venv and install requirements.txt if needed, then re-exec inside it."""
    want = hashlib.sha256(open(REQS, "rb").read()).hexdigest()
    stamp = os.path.join(VENV, ".requirements.sha256")
    have = open(stamp).read().strip() if os.path.exists(stamp) else None
    if not os.path.exists(VPY):
        print(f"creating {VENV}", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    if have != want:
        subprocess.check_call([VPY, "-m", "pip", "install", "-q", "-r", REQS])
        with open(stamp, "w") as f:
            f.write(want + "\n")
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(VPY, [VPY, os.path.abspath(__file__)] + sys.argv[1:])


# name: (variant, N, C, tokens, io, cpu, bg)
BRIEF = {
    "a": ("sync_def", 5, 5, 1, 30, 30, 0),
    "b": ("sync_def", 7, 7, 3, 20, 45, 0),
    "c": ("full_async", 9, 9, 4, 30, 50, 0),
    "d": ("async_io", 12, 6, 40, 25, 50, 0),
    "e": ("async_io", 120, 60, 40, 25, 50, 0),
    "f": ("async_io", 90, 45, 40, 20, 40, 0),
    "g": ("blocking", 10, 10, 40, 20, 30, 0),
    "h": ("background", 4, 2, 2, 50, 100, 1000),
}
# (i) scenarios that separate hypotheses about how reads and wake-ups fall into iterations
EXTRA = {
    "i1": ("async_io", 20, 10, 40, 25, 50, 0),
    "i2": ("async_io", 40, 20, 40, 25, 50, 0),
    "i3": ("async_io", 60, 30, 40, 25, 50, 0),
    "i4": ("async_io", 24, 6, 40, 5, 50, 0),
    "i5": ("async_io", 12, 6, 40, 60, 20, 0),
    "i6": ("full_async", 40, 40, 40, 50, 100, 0),
    "i7": ("full_async", 30, 10, 3, 10, 20, 0),
    "i8": ("sync_def", 12, 6, 2, 10, 20, 0),
}
# per-request loop overhead: sequential requests (C=1) and a burst, trivial body
OVERHEAD = {
    "o1": ("noop", 200, 1, 40, 0, 0, 0),
    "o2": ("noop", 200, 10, 40, 0, 0, 0),
    "o3": ("async_io", 50, 1, 40, 5, 5, 0),
    "o4": ("full_async", 50, 1, 40, 5, 5, 0),
    "o5": ("sync_def", 50, 1, 40, 5, 5, 0),
    "o6": ("noop", 100, 100, 40, 10, 0, 0),
}


# GIL: N requests at once, io 30, cpu 50 of pure-Python work, 40 tokens
GIL = {f"g{n}": ("full_async_py", n, n, 40, 30, 50, 0) for n in (1, 2, 4, 8)}
GIL.update({f"s{n}": ("sync_py", n, n, 40, 30, 50, 0) for n in (1, 2, 4, 8)})
# process pool of 4 (OPTS), io 30, cpu 50 pure-Python work in the child processes
PROC = {f"p{n}": ("procpool", n, n, 40, 30, 50, 0) for n in (1, 4, 8)}
# uvicorn --workers W, the blocking endpoint (io 20, cpu 30), N requests at once
WORKERS = {f"w{w}n{n}": ("blocking_pid", n, n, 40, 20, 30, 0) for w in (2, 4) for n in (8, 16)}
# extra per-scenario options: workers (uvicorn --workers), procs (process pool size)
OPTS = {**{k: {"procs": 4} for k in PROC}, **{k: {"workers": int(k[1])} for k in WORKERS}}


def parse_scenario(text):
    """name:variant:n=..:c=..:t=..:io=..:cpu=..:bg=.."""
    parts = text.split(":")
    name, variant = parts[0], parts[1]
    kv = dict(p.split("=") for p in parts[2:])
    if "w" in kv or "p" in kv:
        OPTS[name] = {"workers": int(kv.get("w", 1)), "procs": int(kv.get("p", 0))}
    return name, (
        variant,
        int(kv.get("n", 10)),
        int(kv.get("c", 10)),
        int(kv.get("t", kv.get("tokens", 40))),
        float(kv.get("io", 500)),
        float(kv.get("cpu", 1000)),
        float(kv.get("bg", 200)),
    )


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_call(port, method, path, body=None, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def start_server(port, env_extra, log_path, nice, workers=1):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in env_extra.items()})
    cmd = [VPY, "-m", "uvicorn", "app:app", "--app-dir", HERE, "--host", "127.0.0.1",
           "--port", str(port), "--loop", "asyncio", "--http", "h11"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    log = open(log_path, "w")
    pre = (lambda: os.nice(nice)) if nice else None
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=pre)
    deadline = time.time() + 20
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early, see {log_path}")
        try:
            # with --workers, every worker must have finished its startup (one line each)
            if http_call(port, "GET", "/health", timeout=1.0)[0] == 200 and (
                    workers <= 1 or open(log_path).read().count("Application startup complete") >= workers):
                break
        except OSError:
            pass
        if time.time() > deadline:
            stop_server(proc)
            raise RuntimeError("server did not answer within 20 s")
        time.sleep(0.05)
    # warm-up: one more GET and one POST through the same stack as the endpoints
    http_call(port, "GET", "/health")
    http_call(port, "POST", "/noop", json.dumps({"item_id": 0, "feature_value": 0.0}))
    return proc, log


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tree_cpu(pid):
    """utime+stime jiffies of a process and all its live descendants (uvicorn --workers
    children, process-pool workers), so other_cpu_cores_during does not count them."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
                parent[int(d)] = int(f[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in tree:
                tree.add(c)
                todo.append(c)
    return sum(proc_cpu(p) for p in tree)


def cpu_stat():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f))
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def proc_cpu(pid):
    """utime+stime jiffies of one process."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except OSError:
        return 0


def wait_quiet(limit_s, threshold=0.25):
    """Wait (at most limit_s) until the machine's CPU use over 1 s is below `threshold` cores."""
    ncpu = os.cpu_count() or 1
    t_end = time.time() + limit_s
    while True:
        b0, t0 = cpu_stat()
        time.sleep(1.0)
        b1, t1 = cpu_stat()
        cores = ncpu * (b1 - b0) / max(1, t1 - t0)
        if cores < threshold or time.time() > t_end:
            return round(cores, 2)


def run_once(name, sc, conn, rep, args):
    variant, n, c, tokens, io, cpu, bg = sc
    opts = OPTS.get(name, {})
    workers, procs = opts.get("workers", 1), opts.get("procs", 0)
    port = free_port()
    env = {
        "LOOPSCOPE_PROCS": procs,
        "LOOPSCOPE_MP_START": args.mp_start,
        "LOOPSCOPE_PY_MODE": args.py_mode,
        "LOOPSCOPE_IO_MS": io,
        "LOOPSCOPE_CPU_MS": cpu,
        "LOOPSCOPE_BG_MS": bg,
        "LOOPSCOPE_TOKENS": tokens,
        "LOOPSCOPE_PRINT": 0 if args.no_print else 1,
        "LOOPSCOPE_TRACE": args.trace,
    }
    os.makedirs(os.path.join(RESULTS, "logs"), exist_ok=True)  # gitignored
    log_path = os.path.join(RESULTS, "logs", "last-server.log")
    quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else None
    loadavg = open("/proc/loadavg").read().split()[:3]
    proc, log = start_server(port, env, log_path, args.nice, workers)
    try:
        timeout = 10 + 3 * n * (io + cpu + bg) / 1000
        cmd = [VPY, os.path.join(HERE, "load.py"), "--port", str(port), "--path", PATHS[variant],
               "-n", str(n), "-c", str(c), "--conn", conn, "--timeout", str(timeout)]
        pre = (lambda: os.nice(args.nice)) if args.nice else None
        b0, tot0 = cpu_stat()
        s0 = tree_cpu(proc.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, preexec_fn=pre)
        b1, tot1 = cpu_stat()
        s1 = tree_cpu(proc.pid)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        hz = os.sysconf("SC_CLK_TCK")
        ncpu = os.cpu_count() or 1
        wall = (tot1 - tot0) / ncpu / hz  # seconds
        ours = (s1 - s0) / hz + (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime)
        other_cores = max(0.0, ((b1 - b0) / hz - ours) / wall) if wall > 0 else None
        if out.returncode != 0:
            raise RuntimeError(f"load.py failed: {out.stderr[-2000:]}")
        load = json.loads(out.stdout)
        trace = None
        if args.trace:
            time.sleep(bg / 1000 + 0.05)  # let background logs finish
            trace = json.loads(http_call(port, "GET", "/trace", timeout=30)[1])
    finally:
        stop_server(proc)
        log.close()
    reqs = load["requests"]
    answers = sorted(r["answered"] for r in reqs)
    bad = [r["i"] for r in reqs if r["status"] != 200 or not body_ok(r)]
    row = {
        "scenario": name, "variant": variant, "requests": n, "concurrency": c, "tokens": tokens,
        "io_ms": io, "cpu_ms": cpu, "bg_ms": bg, "conn": conn, "repeat": rep,
        "workers": workers, "procs": procs, "mp_start": args.mp_start if procs else None,
        "py_mode": args.py_mode if variant.endswith("_py") or variant == "procpool" else None,
        "print": not args.no_print, "trace": args.trace, "nice": args.nice,
        "loadavg_before": loadavg, "quiet_cores_before": quiet,
        "other_cpu_cores_during": None if other_cores is None else round(other_cores, 2), "error": load["error"], "bad_answers": bad,
        "makespan_ms": answers[-1] if answers else None,
        "answers_sorted_ms": answers,
        "per_request": [{k: r[k] for k in ("i", "client", "sent", "connect", "answered", "status", "body")} for r in reqs],
        "t0_abs": load["t0_abs"],
        "versions": VERSIONS,
    }
    if trace is not None:
        row["server_trace"] = trace
    return row


def body_ok(r):
    try:
        b = json.loads(r["body"])
    except ValueError:
        return False
    i = r["i"]
    return b.get("item_id") == 123 + i and abs(b.get("prediction", 0) - 2 * (5.0 + i / 2)) < 1e-9


def versions():
    import importlib.metadata as md
    v = {p: md.version(p) for p in ("fastapi", "starlette", "uvicorn", "anyio", "h11", "pydantic")}
    v["python"] = sys.version.split()[0]
    return v


def fmt_range(xs):
    lo, hi = min(xs), max(xs)
    return f"{lo:.0f}" if round(lo) == round(hi) else f"{lo:.0f}-{hi:.0f}"


def table(rows):
    groups = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["conn"]), []).append(r)
    out = [f"{'scen':5} {'variant':10} {'N':>4} {'C':>3} {'T':>3} {'io':>4} {'cpu':>4} {'bg':>5} {'conn':9} "
           f"{'first':>9} {'median':>11} {'makespan':>11} {'max gap (after answer k)':>26}"]
    for (name, conn), rs in groups.items():
        r0 = rs[0]
        firsts = [r["answers_sorted_ms"][0] for r in rs]
        meds = [r["answers_sorted_ms"][len(r["answers_sorted_ms"]) // 2] for r in rs]
        mk = [r["makespan_ms"] for r in rs]
        gaps = []
        for r in rs:
            a = r["answers_sorted_ms"]
            g = max(((a[k + 1] - a[k], k + 1) for k in range(len(a) - 1)), default=(0, 0))
            gaps.append(f"{g[0]:.0f}@{g[1]}")
        err = " ERR" if any(r["error"] or r["bad_answers"] for r in rs) else ""
        out.append(f"{name:5} {r0['variant']:10} {r0['requests']:>4} {r0['concurrency']:>3} {r0['tokens']:>3} "
                   f"{r0['io_ms']:>4.0f} {r0['cpu_ms']:>4.0f} {r0['bg_ms']:>5.0f} {conn:9} {fmt_range(firsts):>9} "
                   f"{fmt_range(meds):>11} {fmt_range(mk):>11} {' '.join(gaps):>26}{err}")
    return "\n".join(out)


def main():
    ensure_venv()
    global VERSIONS
    VERSIONS = versions()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the brief's scenarios a-h, 1 repeat")
    p.add_argument("--only", help="comma-separated scenario names (a-h, i1-i8, o1-o6)")
    p.add_argument("--scenario", action="append", default=[], help="name:variant:n=:c=:t=:io=:cpu=:bg=")
    p.add_argument("-r", "--repeats", type=int, default=None, help="default 3 (1 with --quick)")
    p.add_argument("--conn", choices=["keepalive", "new", "httpx", "both", "all"], default="keepalive",
                   help="both = keepalive+new; all = keepalive+new+httpx")
    p.add_argument("--no-print", action="store_true", help="drop the tutorial's prints")
    p.add_argument("--trace", type=int, nargs="?", const=2, default=0,
                   help="record server-side timestamps (adds loop work): 1 = loop polls + endpoint marks, "
                        "2 (default when given) = also uvicorn read/task/resp/done marks")
    p.add_argument("--nice", type=int, default=0, help="niceness for server and load (e.g. -5)")
    p.add_argument("--wait-quiet", type=float, default=0.0,
                   help="before each run, wait up to this many seconds for the machine to be idle")
    p.add_argument("--out", default=None, help="results file stem (default: a timestamp)")
    p.add_argument("--mp-start", default="fork", choices=["fork", "spawn", "forkserver"],
                   help="start method of the process pool (procpool scenarios)")
    p.add_argument("--py-mode", default="cpu", choices=["cpu", "iters"],
                   help="pure-Python prediction: cpu ms of thread CPU time, or a calibrated iteration count")
    args = p.parse_args()
    allsc = {**BRIEF, **EXTRA, **OVERHEAD}
    if args.scenario:
        chosen = dict(parse_scenario(s) for s in args.scenario)
    elif args.only:
        chosen = {k: {**allsc, **GIL, **PROC, **WORKERS}[k] for k in args.only.split(",")}
    elif args.quick:
        chosen = dict(BRIEF)
    else:
        chosen = allsc
    reps = args.repeats or (1 if args.quick else 3)
    conns = {"both": ["keepalive", "new"], "all": ["keepalive", "new", "httpx"]}.get(args.conn, [args.conn])
    os.makedirs(RESULTS, exist_ok=True)
    stem = args.out or time.strftime("run-%Y%m%d-%H%M%S")
    path = os.path.join(RESULTS, stem + ".jsonl")
    rows = []
    with open(path, "a") as f:
        for name, sc in chosen.items():
            for conn in conns:
                for rep in range(reps):
                    row = run_once(name, sc, conn, rep, args)
                    rows.append(row)
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    a = row["answers_sorted_ms"]
                    print(f"  {name} {conn} #{rep}: first {a[0]:.1f} last {a[-1]:.1f} ms"
                          f"{'  ERROR ' + str(row['error']) if row['error'] else ''}"
                          f"{'  BAD ' + str(row['bad_answers'][:5]) if row['bad_answers'] else ''}",
                          file=sys.stderr)
    print(f"# {VERSIONS}  results: {os.path.relpath(path)}")
    print(table(rows))


VERSIONS = {}

if __name__ == "__main__":
    main()
