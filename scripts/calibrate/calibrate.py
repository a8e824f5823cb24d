#!/usr/bin/env python3
"""`make calibrate`: the model against real FastAPI, answer by answer.

    python3 scripts/calibrate/calibrate.py            # default: 10 scenarios x 3 clean repeats
    python3 scripts/calibrate/calibrate.py --quick    # 1 repeat each, no retries (about 1 min)
    python3 scripts/calibrate/calibrate.py --only a,e --repeats 5
    python3 scripts/calibrate/calibrate.py --from results/final-ai.jsonl   # no measuring:
                                                      # fit and report earlier runs

What it does:
1. Finds a Python >= 3.11 (FastAPI 0.165, pinned in requirements.txt, requires 3.11):
   the `python3` that runs this script if it is recent enough, else pyenv's 3.11.7
   (/root/.pyenv/versions/3.11.7/bin/python3), else python3.13/3.12/3.11 on PATH. It
   makes or reuses scripts/calibrate/.venv with fastapi, uvicorn and httpx at the
   versions pinned in requirements.txt; when the venv already has exactly those
   versions nothing is installed (a check of ~0.1 s), else `pip install -r` from PyPI.
   Then it re-executes itself inside the venv.
2. Runs the tutorial's endpoints (app.py: every endpoint with response_model, as the
   tutorial has) on real uvicorn (`--loop asyncio --http h11`, one worker, access log
   and the tutorial's prints on), each scenario `--repeats` times (default 3), one fresh
   server per run (run.py's run_once: it waits for a quiet machine first and records the
   CPU other processes used during the run), round after round over the scenarios. A run
   is clean when other processes used at most 0.25 cores during it and every answer was
   a correct 200; an unclean run is repeated (up to 2 x `--repeats` extra runs per
   scenario, within `--budget` seconds; a scenario with no clean run is reported as
   loaded and left out of the fit).
3. Runs the model (`loopscope simulate ... --json`) for each scenario: the ideal model
   (`--overhead-ms 0`) and every overhead on a grid (0 to 3 ms in 0.05 steps), compares
   every answer (sorted answers: the k-th real answer, the median over the clean
   repeats, against the model's k-th), and fits the one overhead that minimises the
   worst per-answer error over all scenarios, measured against the goal: |model - real|
   / max(3 % of real, 6 ms) (ties: more answers within the goal, then the smaller sum
   of squares).
4. Writes results/calibration.json (machine readable; the raw runs are in
   results/calibrate-<time>.jsonl, git-ignored) and the table between
   `<!-- calibrate:begin -->` and `<!-- calibrate:end -->` in BENCHMARKS.md.

The client (load.py, `--conn keepalive`): each of the C clients opens its keep-alive
connection, and the server accepts it, BEFORE t = 0; at t = 0 the C first requests are C
write() calls, and each client writes its next request from the callback that completed
its previous answer. That is what the model's clients stand for: one request per
connection *in flight*, the first C sent at once, the next one as the answer arrives,
with no connection set-up in the request's time. A new connection per request (plain
`ab`, `--conn new`) adds uvicorn's accept path (3 more loop iterations before the
request is read) and changes which branch scenario e takes; those numbers are in
docs/calibration/asyncio-uvicorn.md (sections 0, 5 and 9), and `--conn new` measures them.

Exit status: 0 when it ran (whether or not the goal was met: a miss is a finding, and
the table says where and why); 2 with one line on stderr when it could not run (no
Python >= 3.11, no network to PyPI, no model binary, a server that would not start).
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(HERE, ".venv")
VPY = os.path.join(VENV, "bin", "python")
REQS = os.path.join(HERE, "requirements.txt")
RESULTS = os.path.join(HERE, "results")
OUT_JSON = os.path.join(RESULTS, "calibration.json")
BENCH = os.path.join(ROOT, "BENCHMARKS.md")
BEGIN, END = "<!-- calibrate:begin -->", "<!-- calibrate:end -->"
SECTION = "## The model against real FastAPI"
PYENV_311 = "/root/.pyenv/versions/3.11.7/bin/python3"
MIN_PY = (3, 11)  # fastapi 0.165.0: Requires-Python >=3.11

GOAL_PCT, GOAL_MS = 3.0, 6.0
CLEAN_OTHER_CORES = 0.25
GRID = [round(0.05 * i, 2) for i in range(61)]  # 0 .. 3 ms

# name: (variant, N, C, tokens, io, cpu, bg, what it is for); names as in the notes
# (asyncio-uvicorn.md), so each row can be read beside the earlier study.
SCENARIOS = {
    "a": ("sync_def", 5, 5, 1, 30, 30, 0, "a def endpoint, one token: the validation hop queues"),
    "b": ("sync_def", 7, 7, 3, 20, 45, 0, "a def endpoint, three tokens"),
    "c": ("full_async", 9, 9, 4, 30, 50, 0, "await + run_in_threadpool, four tokens"),
    "d": ("async_io", 12, 6, 40, 25, 50, 0, "async fetch, blocking predict, closed loop"),
    "e": ("async_io", 120, 60, 40, 25, 50, 0, "the issue's closed loop"),
    "f": ("async_io", 90, 45, 40, 20, 40, 0, "the issue's second closed loop"),
    "g": ("blocking", 10, 10, 40, 20, 30, 0, "time.sleep inside async def"),
    "h": ("background", 4, 2, 2, 50, 100, 1000, "a heavy background log holds the tokens"),
    "i7": ("full_async", 30, 10, 3, 10, 20, 0, "threadpool-bound closed loop"),
    "i8": ("sync_def", 12, 6, 2, 10, 20, 0, "def endpoint, two tokens, closed loop"),
}


class Fail(Exception):
    """A reason the calibration could not run (one line)."""


# ---------------------------------------------------------------- Python and venv


def py_version(exe):
    try:
        out = subprocess.run([exe, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    try:
        return tuple(int(x) for x in out.stdout.strip().split("."))
    except ValueError:
        return None


def find_python():
    """(path, version, why) of the Python to build the venv with."""
    tried = []
    here = tuple(sys.version_info[:3])
    if here >= MIN_PY:
        return sys.executable, here, "the python3 running this script"
    tried.append("%s (%s)" % (sys.executable, ".".join(map(str, here))))
    cands = [(PYENV_311, "pyenv's 3.11.7")]
    for name in ("python3.13", "python3.12", "python3.11"):
        p = shutil.which(name)
        if p:
            cands.append((p, name + " on PATH"))
    root = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    for p in sorted(glob.glob(os.path.join(root, "versions", "3.1[1-9]*", "bin", "python3")), reverse=True):
        cands.append((p, "pyenv " + p.split(os.sep)[-3]))
    for p, why in cands:
        if not os.path.exists(p):
            continue
        v = py_version(p)
        if v and v >= MIN_PY:
            return p, v, why + " (python3 on PATH is %s, too old)" % ".".join(map(str, here))
        tried.append("%s (%s)" % (p, ".".join(map(str, v)) if v else "does not run"))
    raise Fail("no Python >= %d.%d found (FastAPI 0.165 needs it); tried %s"
               % (MIN_PY[0], MIN_PY[1], ", ".join(tried)))


def pins():
    want = {}
    for line in open(REQS):
        line = line.split("#")[0].strip()
        if "==" in line:
            k, v = line.split("==", 1)
            want[k.strip().lower()] = v.strip()
    return want


def venv_versions():
    """{package: version} in the venv for the pinned packages, or None if the venv does not run."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {'python': '%%d.%%d.%%d' %% sys.version_info[:3]}\n"
            "for p in %r:\n"
            "    try: out[p] = m.version(p)\n"
            "    except m.PackageNotFoundError: out[p] = None\n"
            "print(json.dumps(out))\n") % (sorted(pins()),)
    try:
        out = subprocess.run([VPY, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout)
    except ValueError:
        return None


def ensure_venv():
    """Make or reuse .venv with the pinned packages; returns a sentence on what it did."""
    want = pins()
    have = venv_versions() if os.path.exists(VPY) else None
    if have is not None and tuple(int(x) for x in have["python"].split(".")) < MIN_PY:
        have = None  # a venv on a too-old Python: rebuild it
    said = []
    if have is None:
        base, v, why = find_python()
        print("calibrate: creating %s with %s %s (%s)" % (os.path.relpath(VENV), base,
              ".".join(map(str, v)), why), file=sys.stderr)
        r = subprocess.run([base, "-m", "venv", "--clear", VENV], capture_output=True, text=True)
        if r.returncode != 0:
            raise Fail("could not create the venv with %s: %s" % (base, last_line(r.stderr)))
        said.append("created .venv with %s %s (%s)" % (base, ".".join(map(str, v)), why))
        have = venv_versions() or {"python": ".".join(map(str, v))}
    else:
        said.append("reused .venv (Python %s)" % have["python"])
    missing = {k: v for k, v in want.items() if have.get(k) != v}
    if missing:
        print("calibrate: installing %s from PyPI" % ", ".join("%s==%s" % kv for kv in sorted(missing.items())),
              file=sys.stderr)
        r = subprocess.run([VPY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", REQS],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Fail("could not install requirements.txt from PyPI (no network?): %s"
                       % last_line(r.stderr or r.stdout))
        have = venv_versions() or {}
        still = {k: v for k, v in want.items() if have.get(k) != v}
        if still:
            raise Fail("after pip install the venv still lacks %s" % still)
        said.append("installed the pins")
    else:
        said.append("the pinned versions were present, nothing installed")
    # run.py's own idempotence stamp, so `run.py` does not reinstall what we just checked
    with open(os.path.join(VENV, ".requirements.sha256"), "w") as f:
        f.write(hashlib.sha256(open(REQS, "rb").read()).hexdigest() + "\n")
    return "; ".join(said)


def last_line(text):
    lines = [x.strip() for x in (text or "").strip().splitlines() if x.strip()]
    return lines[-1] if lines else "(no output)"


# ---------------------------------------------------------------- the model


def find_model(arg):
    cands = [arg] if arg else []
    if not arg:
        if os.environ.get("LOOPSCOPE_MODEL"):
            cands.append(os.environ["LOOPSCOPE_MODEL"])
        cands.append(os.path.join(ROOT, "target", "release", "loopscope"))
    for p in cands:
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            h = subprocess.run([p, "simulate", "--help"], capture_output=True, text=True)
            if "--overhead-ms" not in h.stdout:
                raise Fail("%s has no --overhead-ms: rebuild it (cargo build --release)" % p)
            return p
    raise Fail("no model binary (%s): run `cargo build --release` or pass --model PATH"
               % " or ".join(c for c in cands if c))


MODEL_CACHE = {}


def model_answers(binary, sc, overhead):
    variant, n, c, tokens, io, cpu, bg = sc[:7]
    key = (variant, n, c, tokens, io, cpu, bg, overhead)
    if key in MODEL_CACHE:
        return MODEL_CACHE[key]
    cmd = [binary, "simulate", "--variant", variant, "-n", str(n), "-c", str(c), "--io-ms", str(io),
           "--cpu-ms", str(cpu), "--bg-ms", str(bg if bg > 0 else 200),  # bg only matters for background
           "--tokens", str(tokens), "--overhead-ms", str(overhead), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise Fail("the model refused %s: %s" % (" ".join(cmd[1:]), last_line(out.stderr)))
    rep = json.loads(out.stdout)
    ans = sorted(q["responded_ms"] for q in rep["requests"])
    MODEL_CACHE[key] = ans
    return ans


# ---------------------------------------------------------------- comparison


def tol(real):
    return max(GOAL_PCT / 100.0 * real, GOAL_MS)


def compare(model, real):
    errs = [m - r for m, r in zip(model, real)]
    ratios = [abs(e) / tol(r) for e, r in zip(errs, real)]
    k = max(range(len(errs)), key=lambda i: ratios[i])
    kms = max(range(len(errs)), key=lambda i: abs(errs[i]))
    kpct = max(range(len(errs)), key=lambda i: abs(errs[i]) / real[i])
    return {
        "makespan_ms": round(model[-1], 3),
        "makespan_err_ms": round(model[-1] - real[-1], 2),
        "makespan_err_pct": round(100.0 * (model[-1] - real[-1]) / real[-1], 2),
        "within": sum(1 for x in ratios if x <= 1.0),
        "of": len(real),
        "worst_ratio": round(ratios[k], 3),
        "worst_ratio_at": k + 1,
        "worst_ms": round(errs[kms], 2),
        "worst_ms_at": kms + 1,
        "worst_pct": round(100.0 * errs[kpct] / real[kpct], 2),
        "worst_pct_at": kpct + 1,
        "sumsq_ratio": sum(x * x for x in ratios),
        "answers_ms": [round(x, 3) for x in model],
        "errors_ms": [round(e, 2) for e in errs],
    }


def fit(binary, scen):
    """Grid search of the overhead; scen: {name: {"sc":..., "real": [...]}}."""
    grid = []
    for o in GRID:
        worst, within, total, sumsq, sw, worst_ms = 0.0, 0, 0, 0.0, 0, 0.0
        for s in scen.values():
            c = compare(model_answers(binary, s["sc"], o), s["real"])
            worst = max(worst, c["worst_ratio"])
            worst_ms = max(worst_ms, abs(c["worst_ms"]))
            within += c["within"]
            total += c["of"]
            sumsq += c["sumsq_ratio"]
            sw += c["within"] == c["of"]
        grid.append({"overhead_ms": o, "worst_ratio": round(worst, 3), "worst_abs_ms": round(worst_ms, 2),
                     "answers_within": within, "answers": total, "scenarios_within": sw,
                     "sumsq_ratio": round(sumsq, 2)})
    best = min(grid, key=lambda g: (g["worst_ratio"], -g["answers_within"], g["sumsq_ratio"]))
    return best["overhead_ms"], grid


# ---------------------------------------------------------------- measuring


def measure(names, args, raw_path):
    import run as harness  # the earlier study's harness (inside the venv)

    harness.VERSIONS = harness.versions()
    hargs = argparse.Namespace(mp_start="fork", py_mode="cpu", no_print=False, trace=0, nice=0,
                               wait_quiet=args.wait_quiet)
    t_start = time.time()
    rows = []
    extra_max = 0 if args.quick else 2 * args.repeats  # retries of unclean runs, within the budget
    clean = dict.fromkeys(names, 0)
    attempts = dict.fromkeys(names, 0)

    def wanted(name, over):
        if clean[name] >= args.repeats or attempts[name] >= args.repeats + extra_max:
            return False
        return attempts[name] < args.repeats or not over  # retries only within the budget

    # Round after round over the scenarios (not all runs of one, then the next), so a burst of
    # someone else's work spoils a run of several scenarios rather than every run of one.
    with open(raw_path, "a") as f:
        while True:
            todo = [nm for nm in names if wanted(nm, time.time() - t_start > args.budget)]
            if not todo:
                break
            for name in todo:
                over = time.time() - t_start > args.budget
                if not wanted(name, over):
                    continue
                # past the budget, wait only briefly for a quiet machine, so a busy one cannot
                # stretch the run much beyond it
                hargs.wait_quiet = min(args.wait_quiet, 2.0) if over else args.wait_quiet
                try:
                    row = harness.run_once(name, SCENARIOS[name][:7], args.conn, attempts[name], hargs)
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    text = str(e).strip()
                    raise Fail("scenario %s: %s" % (name, text.splitlines()[-1] if text else repr(e)))
                row["calibrate_clean"] = is_clean(row)
                rows.append(row)
                f.write(json.dumps(row) + "\n")
                f.flush()
                attempts[name] += 1
                clean[name] += row["calibrate_clean"]
                a = row["answers_sorted_ms"]
                print("  %-3s #%d: first %7.1f  last %7.1f ms  other cores %.2f%s" % (
                    name, attempts[name], a[0] if a else float("nan"), a[-1] if a else float("nan"),
                    row["other_cpu_cores_during"] or 0.0, "" if row["calibrate_clean"] else "  (not clean)"),
                    file=sys.stderr)
    return rows, harness.VERSIONS, time.time() - t_start


def is_clean(row):
    return (not row.get("error") and not row.get("bad_answers") and not row.get("trace")
            and len(row.get("answers_sorted_ms") or []) == row["requests"]
            and (row.get("other_cpu_cores_during") or 0.0) <= CLEAN_OTHER_CORES)


def rows_from(paths, names, conn):
    rows = []
    for p in paths:
        for line in open(p):
            r = json.loads(line)
            name = r.get("scenario")
            if name not in names or r.get("conn") != conn:
                continue
            sc = SCENARIOS[name]
            if (r["variant"], r["requests"], r["concurrency"], r["tokens"], r["io_ms"], r["cpu_ms"],
                    r["bg_ms"]) != tuple(sc[:7]) or r.get("workers", 1) != 1:
                continue
            r["calibrate_clean"] = is_clean(r)
            rows.append(r)
    return rows


# ---------------------------------------------------------------- the report


def gap_at_c(a, c):
    return round(a[c] - a[c - 1], 1) if len(a) > c else None


def analyse(rows, binary, names):
    scen = {}
    for name in names:
        rs = [r for r in rows if r["scenario"] == name]
        if not rs:
            continue
        clean = [r for r in rs if r["calibrate_clean"]]
        use = clean or [r for r in rs if len(r.get("answers_sorted_ms") or []) == r["requests"]]
        if not use:
            continue
        sc = SCENARIOS[name]
        real = [statistics.median(x) for x in zip(*[r["answers_sorted_ms"] for r in use])]
        mk = [r["makespan_ms"] for r in use]
        scen[name] = {
            "sc": sc[:7], "real": real, "loaded": not clean,
            "runs": [{"repeat": r["repeat"], "clean": r["calibrate_clean"],
                      "other_cpu_cores_during": r.get("other_cpu_cores_during"),
                      "makespan_ms": r["makespan_ms"], "first_ms": r["answers_sorted_ms"][0],
                      "gap_at_c_ms": gap_at_c(r["answers_sorted_ms"], sc[2])} for r in rs],
            "makespan": {"median": round(statistics.median(mk), 2), "min": min(mk), "max": max(mk)},
        }
    if not scen:
        raise Fail("no usable runs")
    clean = {k: v for k, v in scen.items() if not v["loaded"]}
    best, grid = fit(binary, clean or scen)  # a scenario with no clean run does not steer the fit
    out = []
    for name, s in scen.items():
        variant, n, c, tokens, io, cpu, bg = s["sc"]
        ideal = compare(model_answers(binary, s["sc"], 0.0), s["real"])
        cal = compare(model_answers(binary, s["sc"], best), s["real"])
        for d in (ideal, cal):
            d.pop("sumsq_ratio")
        out.append({
            "name": name, "variant": variant, "requests": n, "concurrency": c, "tokens": tokens,
            "io_ms": io, "cpu_ms": cpu, "bg_ms": bg, "what": SCENARIOS[name][7],
            "clean_runs": sum(1 for r in s["runs"] if r["clean"]), "runs": s["runs"],
            "loaded": s["loaded"],
            "real_makespan_ms": s["makespan"],
            "real_answers_ms": [round(x, 3) for x in s["real"]],
            "real_gap_at_c_ms": gap_at_c(s["real"], c),
            "ideal": dict(ideal, overhead_ms=0.0, gap_at_c_ms=gap_at_c(ideal["answers_ms"], c)),
            "calibrated": dict(cal, overhead_ms=best, gap_at_c_ms=gap_at_c(cal["answers_ms"], c)),
        })
    return best, grid, out


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(), "system": platform.system()}


def describe(s):
    v, n, c = s["variant"], s["requests"], s["concurrency"]
    who = "%d at once" % n if n == c else "%d from %d clients" % (n, c)
    parts = [who]
    if s["tokens"] != 40:
        parts.append("%d token%s" % (s["tokens"], "" if s["tokens"] == 1 else "s"))
    parts.append("io %g, cpu %g" % (s["io_ms"], s["cpu_ms"]))
    if v == "background":
        parts.append("bg %g" % s["bg_ms"])
    return "%s: `%s`, %s" % (s["name"], v, ", ".join(parts))


def sg(x, unit):
    """A signed number for the table: +1.2 ms, −3.4 %."""
    return ("%+.1f %s" % (x, unit)).replace("-", "−")


def worst_cell(d):
    if d["worst_ms_at"] == d["worst_pct_at"]:
        return "%s, %s (#%d)" % (sg(d["worst_ms"], "ms"), sg(d["worst_pct"], "%"), d["worst_ms_at"])
    return "%s (#%d), %s (#%d)" % (sg(d["worst_ms"], "ms"), d["worst_ms_at"], sg(d["worst_pct"], "%"),
                                   d["worst_pct_at"])


def runs_within(d):
    return d["within"] == d["of"]


def bad_answers(d, real):
    return [k for k in range(len(real)) if abs(d["errors_ms"][k]) > tol(real[k])]


def span(ks):
    """'#3', '#3–#7' or '12 answers between #3 and #40' (ks 0-based, sorted)."""
    if len(ks) == 1:
        return "#%d" % (ks[0] + 1)
    if ks[-1] - ks[0] + 1 == len(ks):
        return "#%d–#%d" % (ks[0] + 1, ks[-1] + 1)
    return "%d answers between #%d and #%d" % (len(ks), ks[0] + 1, ks[-1] + 1)


def explain(s, best):
    """One clause on a scenario the calibrated model misses: which answers, by how much,
    and the rule of the earlier study (docs/calibration/asyncio-uvicorn.md) that accounts for it."""
    cal, real = s["calibrated"], s["real_answers_ms"]
    errs = cal["errors_ms"]
    bad = bad_answers(cal, real)
    if not bad:
        return None
    v, n, c, io, cpu = s["variant"], s["requests"], s["concurrency"], s["io_ms"], s["cpu_ms"]
    k = cal["worst_ratio_at"] - 1
    head = "**%s** misses %s of %d: the model is %s by up to %.1f ms (%.1f %%, #%d)" % (
        s["name"], span(bad), n, "early" if errs[k] < 0 else "late", abs(errs[k]),
        100.0 * abs(errs[k]) / real[k], k + 1)
    why = []
    early = [x for x in bad if x < c]
    if v in ("async_io", "full_async", "background") and early and errs[early[0]] > 0 and c >= 10:
        why.append(
            "its first answers are late because the model charges %.2f ms (15 %% of the overhead) at each of "
            "the %d first steps, %.0f ms back to back before the first fetch timer is handled, where real "
            "uvicorn spends ≈ 0.13 ms on each (read and first step, §8: ≈ %.0f ms)"
            % (best * 0.15, c, c * best * 0.15, 0.13 * c))
    br = branch(s)
    if br and any(x >= c for x in bad):
        why.append("from #%d on it is the branch of scenario e: %s; %s" % (c + 1, br, BRANCH_WHY))
    if v in ("full_async", "background", "sync_def") and s["tokens"] < n and errs[k] < 0:
        rounds = -(-n // s["tokens"])
        if v == "full_async" and rounds > 2:
            t = s["tokens"]
            spread = lambda xs: sorted(xs[i + t - 1] - xs[i] for i in range(0, len(xs) - t + 1, t))[(len(xs) // t) // 2]
            rs, ms = spread(real), spread(cal["answers_ms"])
            why.append(
                "each round's %d answers (%d tokens, %g ms predictions) come within %.1f ms of each other in the "
                "real runs and %.1f ms in the model: the model charges every answer the same %.2f ms on the loop, "
                "and each delays what waits behind it on the loop, where real uvicorn spends ≈ 0.9 ms on an "
                "answer right after its loop slept and ≈ 0.3 ms on one that follows another (R13): the model's "
                "first answer of a round comes early, its last late" % (t, t, cpu, rs, ms, best * 0.85))
        else:
            why.append(
                "the threadpool's hops cost real anyio more than the overhead gives them (the worker's "
                "wake-up ≈ 0.2 ms, time.sleep's overshoot ≈ 0.16 ms, the self-pipe wake-up ≈ 0.22 ms; "
                "R10, R11, R13)")
    if v in ("async_io", "blocking") and not why:
        rs, ms = spacing(real), spacing(cal["answers_ms"])
        why.append(
            "successive answers come %.2f ms apart in the real runs and %.2f in the model (cpu %g): right "
            "after a blocking call real uvicorn spends ≈ 0.9 ms on an answer (R13) and each time.sleep "
            "overshoots by ≈ 0.16 ms, while a first step costs ≈ 0.13 ms; an overhead split half and half "
            "between the two cannot match both" % (rs, ms, cpu))
    if not why:
        d = per_answer_drift(s)
        if d is not None and abs(d) > 0.05:
            why.append("the error drifts by %+.2f ms per answer" % d)
    return head + ("; " + "; ".join(why) if why else "") + "."


BRANCH_WHY = ("with keep-alive clients the next round's first request is read in the poll that pops the "
              "first round's last fetch timers, which epoll's rounding of the timeout up to a whole ms "
              "splits over two polls, so its fetch overlaps the predictions (R1, R2, R4; §0, §7)")


def branch(s):
    """For a closed-loop async_io scenario whose real runs and model take different branches at
    answer C+1 (notes §0: overlap, gap ≈ cpu; or one batch, gap ≈ io + cpu), a clause saying so."""
    v, n, c, io, cpu = s["variant"], s["requests"], s["concurrency"], s["io_ms"], s["cpu_ms"]
    mg = s["calibrated"]["gap_at_c_ms"]
    if v != "async_io" or n <= c or mg is None:
        return None
    runs = [r["gap_at_c_ms"] for r in s["runs"] if r["clean"] and r["gap_at_c_ms"] is not None] or \
           [r["gap_at_c_ms"] for r in s["runs"] if r["gap_at_c_ms"] is not None]
    overlap = sum(1 for g in runs if g < cpu + io / 2)
    if not runs or (overlap * 2 >= len(runs)) == (mg < cpu + io / 2):
        return None  # most real runs took the model's branch
    k = c  # 0-based index of answer C+1
    e = s["calibrated"]["errors_ms"][k]
    return ("#%d came %s ms after #%d in the real runs (%d of %d in the overlap branch, ≈ cpu), %.0f ms in "
            "the model (%s ms at #%d, %s %%)" % (c + 1, "/".join("%.0f" % g for g in runs), c, overlap,
                                                len(runs), mg, sg(e, "").strip(), c + 1,
                                                sg(100.0 * e / s["real_answers_ms"][k], "").strip()))


def spacing(a):
    """The median gap between successive answers that are at least 1 ms apart (one blocking
    prediction each, in async_io and blocking)."""
    gaps = [y - x for x, y in zip(a, a[1:]) if y - x >= 1.0]
    return statistics.median(gaps) if gaps else 0.0


def per_answer_drift(s):
    """Least-squares slope of the calibrated error over the answers (ms per answer)."""
    e = s["calibrated"]["errors_ms"]
    if len(e) < 4:
        return None
    xs = list(range(len(e)))
    mx, my = statistics.mean(xs), statistics.mean(e)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, e)) / den if den else None


def markdown(res):
    best = res["fit"]["overhead_ms"]
    sc = res["scenarios"]
    v = res["versions"]
    m = res["machine"]
    si = sum(runs_within(s["ideal"]) for s in sc)
    sk = sum(runs_within(s["calibrated"]) for s in sc)
    ai = sum(s["ideal"]["within"] for s in sc)
    ak = sum(s["calibrated"]["within"] for s in sc)
    at = sum(s["ideal"]["of"] for s in sc)
    took = res.get("measuring_s")
    L = []
    L.append("Real uvicorn and FastAPI against the model (`loopscope simulate`), answer by answer. Reproduce with")
    L.append("")
    L.append("    make calibrate    # python3 scripts/calibrate/calibrate.py; --quick: one run per scenario")
    L.append("")
    L.append("Measured %s%s on the project's machine (%s, %d cores, Linux %s): Python %s, FastAPI %s, "
             "Starlette %s, uvicorn %s (`--loop asyncio --http h11`, one worker, access log on), anyio %s, "
             "h11 %s, pydantic %s. The server is the tutorial's app (`scripts/calibrate/app.py`: every "
             "endpoint with `response_model`, its prints on), a fresh one per run. The clients %s. "
             "Each scenario ran until it had %d clean run%s (other processes used at most %.2f cores "
             "meanwhile); the real k-th answer is the median over the clean runs of each run's k-th "
             "answer (sorted), and the model's k-th answer is held against it. The goal: every answer "
             "within max(%g %%, %g ms). Every number is in `scripts/calibrate/results/calibration.json`."
             % (res["date"], "" if took is None else " (%.0f s of measuring)" % took, m["cpu"], m["cores"],
                m["kernel"], v.get("python"), v.get("fastapi"), v.get("starlette"), v.get("uvicorn"),
                v.get("anyio"), v.get("h11"), v.get("pydantic"),
                "hold keep-alive connections opened before t = 0 and send the first C requests at once, "
                "each next one as its client's answer arrives: one request per connection in flight, as "
                "the model's clients are (a new connection per request, plain `ab`, is measured in "
                "docs/calibration/asyncio-uvicorn.md)" if res["client"] == "keepalive" else
                "open a new connection per request (`--conn new`)",
                res["repeats"], "" if res["repeats"] == 1 else "s", CLEAN_OTHER_CORES, GOAL_PCT, GOAL_MS))
    L.append("")
    L.append("**Fitted overhead: %.2f ms per request** (`--overhead-ms`, FastAPI's loop cost per request, "
             "charged 15 %% at its first step and 85 %% at its answer, the shares real uvicorn spends there, "
             "and a third of that on a loop that did such work last instead of waiting in its poll or "
             "blocking, as real answers cost ≈ 0.3 ms back to back and ≈ 0.9 ms right after the loop slept; "
             "docs/calibration/asyncio-uvicorn.md §8, R13. The fitted total is more than those parts: it "
             "also stands in for what the model does not charge on its own, each threadpool trip (≈ 0.6 ms) and "
             "each awaited timer, R1, R10): of 0–3 ms in steps of 0.05, the value "
             "whose worst answer, over every scenario, is the smallest measured in goals "
             "(|model − real| / max(3 %%, 6 ms)). Within the goal: the ideal model (`--overhead-ms 0`) "
             "**%d of %d scenarios, %d of %d answers**; calibrated **%d of %d scenarios, %d of %d answers**."
             % (best, si, len(sc), ai, at, sk, len(sc), ak, at)
             + ("" if not any(s["loaded"] for s in sc) else
                " %s had no clean run (someone else's work kept the machine busy): %s shown on all %s "
                "runs and left out of the fit." % (", ".join(s["name"] for s in sc if s["loaded"]),
                                                  "it is" if sum(s["loaded"] for s in sc) == 1 else "they are",
                                                  "its" if sum(s["loaded"] for s in sc) == 1 else "their")))
    L.append("")
    L.append("| scenario | clean runs | real makespan: median (range), ms | ideal model: makespan (error) | "
             "ideal: answers within | ideal: worst answer | calibrated: makespan (error) | calibrated: answers "
             "within | calibrated: worst answer |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for s in sc:
        rm = s["real_makespan_ms"]
        row = [describe(s), "%d%s" % (s["clean_runs"], " (none clean: all runs, loaded)" if s["loaded"] else ""),
               "%.1f (%.1f–%.1f)" % (rm["median"], rm["min"], rm["max"])]
        for d in (s["ideal"], s["calibrated"]):
            row += ["%.1f (%s, %s)" % (d["makespan_ms"], sg(d["makespan_err_ms"], "ms"), sg(d["makespan_err_pct"], "%")),
                    "%s%d / %d" % ("**all** " if runs_within(d) else "", d["within"], d["of"]),
                    worst_cell(d)]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("Errors are model − real (negative: the model answers early); io and cpu in ms. \"Worst answer\": "
             "the largest error in ms and the largest in %, each with its answer's rank k among the sorted "
             "answers. Scenario names are those of the notes (a–h, i7, i8), so each row can be read beside "
             "the rule-set fit there.")
    L.append("")
    misses = [x for x in (explain(s, best) for s in sc) if x]
    quiet = ["%s: %s" % (s["name"], branch(s)) for s in sc
             if branch(s) and not any(x >= s["concurrency"] for x in bad_answers(s["calibrated"], s["real_answers_ms"]))]
    also = ("" if not quiet else " The branch of scenario e also shows where the answers stay within the goal "
            "(by then 3 %% of an answer is more than a whole prediction): %s; %s." % ("; ".join(quiet), BRANCH_WHY))
    if misses:
        L.append("**What is left** (R1–R13 and § are the rules and sections of docs/calibration/asyncio-uvicorn.md). "
                 "With `--overhead-ms %.2f`, %d of %d scenarios miss the goal. %s One "
                 "overhead per request, split between a request's first step and its answer as real "
                 "uvicorn splits it (≈ 0.13 and ≈ 0.9 ms, §8, R13) and cheaper on a warm loop, cannot close "
                 "these gaps: every thread "
                 "job and every awaited timer carries a cost of its own in real FastAPI (R1, R10), "
                 "which the model does not charge.%s"
                 % (best, len(misses), len(sc), " ".join(misses), also))
    else:
        L.append("**What is left.** With `--overhead-ms %.2f` every answer of every scenario is within the goal.%s"
                 % (best, also))
    return "\n".join(L)


def write_benchmarks(md):
    text = open(BENCH).read()
    block = BEGIN + "\n" + md + "\n" + END
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        i, j = text.index(BEGIN), text.index(END) + len(END)
        text = text[:i] + block + text[j:]
    else:
        text = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + block + "\n"
    with open(BENCH, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", "-r", type=int, default=3, help="clean runs per scenario (default 3)")
    p.add_argument("--quick", action="store_true", help="1 run per scenario, no retries")
    p.add_argument("--only", help="comma-separated scenario names (default: all of %s)" % ",".join(SCENARIOS))
    p.add_argument("--conn", choices=["keepalive", "new"], default="keepalive",
                   help="the client (default keepalive: see above)")
    p.add_argument("--wait-quiet", type=float, default=15.0,
                   help="before each run, wait up to this many seconds for an idle machine (default 15)")
    p.add_argument("--budget", type=float, default=360.0,
                   help="seconds of measuring after which unclean runs are no longer retried and the wait "
                        "for a quiet machine drops to 2 s (default 360)")
    p.add_argument("--model", help="the loopscope binary (default: $LOOPSCOPE_MODEL, else target/release/loopscope)")
    p.add_argument("--from", dest="from_", nargs="+", metavar="JSONL",
                   help="analyse these run.py/calibrate JSONL files instead of measuring")
    p.add_argument("--no-benchmarks", action="store_true", help="do not touch BENCHMARKS.md")
    p.add_argument("--out", default=OUT_JSON, help="the JSON results (default results/calibration.json)")
    p.add_argument("--debug", action="store_true", help="a traceback instead of one line on failure")
    a = p.parse_args(argv)
    if a.quick:
        a.repeats = 1
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    return a


def main(argv):
    args = parse_args(argv)
    names = list(SCENARIOS) if not args.only else [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = [x for x in names if x not in SCENARIOS]
    if unknown:
        raise Fail("unknown scenario %s (known: %s)" % (", ".join(unknown), ", ".join(SCENARIOS)))
    binary = os.path.abspath(find_model(args.model))
    inside = os.path.realpath(sys.prefix) == os.path.realpath(VENV)
    if not inside:
        how = ensure_venv()
        print("calibrate: %s" % how, file=sys.stderr)
        env = dict(os.environ, LOOPSCOPE_CALIBRATE_VENV=how)
        os.execve(VPY, [VPY, os.path.abspath(__file__)] + argv, env)
    sys.path.insert(0, HERE)
    os.makedirs(RESULTS, exist_ok=True)
    print("calibrate: Python %s (%s), model %s" % (platform.python_version(), sys.executable, binary),
          file=sys.stderr)
    started = datetime.datetime.now().astimezone()
    if args.from_:
        rows = rows_from(args.from_, names, args.conn)
        if not rows:
            raise Fail("no runs of %s (%s) in %s" % (",".join(names), args.conn, " ".join(args.from_)))
        versions = rows[0].get("versions") or {}
        raw = " ".join(os.path.relpath(p, ROOT) for p in args.from_)
        took = None
    else:
        raw_path = os.path.join(RESULTS, started.strftime("calibrate-%Y%m%d-%H%M%S.jsonl"))
        rows, versions, took = measure(names, args, raw_path)
        raw = os.path.relpath(raw_path, ROOT)
    best, grid, scen = analyse(rows, binary, names)
    res = {
        "generated": started.isoformat(timespec="seconds"),
        "date": started.strftime("%Y-%m-%d"),
        "command": "python3 scripts/calibrate/calibrate.py" + ("" if not argv else " " + " ".join(argv)),
        "venv": os.environ.get("LOOPSCOPE_CALIBRATE_VENV"),
        "python": {"executable": sys.executable, "version": platform.python_version()},
        "versions": versions,
        "machine": machine(),
        "model": {"binary": binary, "binary_name": os.path.relpath(binary, ROOT) if binary.startswith(ROOT)
                  else binary, "sha256": hashlib.sha256(open(binary, "rb").read()).hexdigest()},
        "client": args.conn,
        "repeats": args.repeats,
        "clean_if_other_cpu_cores_at_most": CLEAN_OTHER_CORES,
        "measuring_s": None if took is None else round(took, 1),
        "raw": raw,
        "goal": {"pct": GOAL_PCT, "ms": GOAL_MS, "rule": "|model - real| <= max(pct % of real, ms) per sorted answer"},
        "fit": {"overhead_ms": best,
                "criterion": "minimise the worst |model - real| / max(3 % of real, 6 ms) over every answer of "
                             "every scenario; ties: more answers within, then the smaller sum of squares",
                "grid": grid},
        "summary": {
            kind: {"scenarios_within": sum(s[kind]["within"] == s[kind]["of"] for s in scen),
                   "scenarios": len(scen),
                   "answers_within": sum(s[kind]["within"] for s in scen),
                   "answers": sum(s[kind]["of"] for s in scen),
                   "worst_ratio": max(s[kind]["worst_ratio"] for s in scen)}
            for kind in ("ideal", "calibrated")},
        "scenarios": scen,
    }
    md = markdown(res)
    res["markdown"] = md
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
        f.write("\n")
    if not args.no_benchmarks:
        write_benchmarks(md)
    s = res["summary"]
    print("calibrate: fitted overhead %.2f ms; within max(3 %%, 6 ms): ideal %d/%d scenarios (%d/%d answers), "
          "calibrated %d/%d (%d/%d)%s; %s%s" % (
              best, s["ideal"]["scenarios_within"], s["ideal"]["scenarios"], s["ideal"]["answers_within"],
              s["ideal"]["answers"], s["calibrated"]["scenarios_within"], s["calibrated"]["scenarios"],
              s["calibrated"]["answers_within"], s["calibrated"]["answers"],
              "" if took is None else "; measured in %.0f s" % took,
              os.path.relpath(args.out, ROOT), "" if args.no_benchmarks else ", BENCHMARKS.md"))
    return 0


if __name__ == "__main__":
    debug = "--debug" in sys.argv[1:]
    try:
        sys.exit(main(sys.argv[1:]))
    except Fail as e:
        if debug:
            traceback.print_exc()
        print("calibrate: could not run: %s" % e, file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("calibrate: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # anything unexpected: still one line (with --debug, the traceback)
        if debug:
            traceback.print_exc()
        print("calibrate: could not run: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(2)
