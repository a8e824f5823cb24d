"""Pure-Python CPU work that holds the GIL (the "python_cpu" prediction), and its calibration.

    burn(iters)                 a loop of float arithmetic: never releases the GIL except when
                                the interpreter's eval breaker asks it to (every switch interval)
    calibrate(ms=20, reps=5)    iterations per ms on this machine, alone (best of `reps` runs)
    burn_traced(iters, chunk)   the same work in chunks, recording (start, end, iters) of every
                                stretch it ran without a gap > gap_ms: the GIL slices it got;
                                cpu_ms=W instead runs until the thread used W ms of CPU time
                                (time.thread_time), immune to this VM's speed swings
    burn_cpu(cpu_ms)            the same loop until the thread used cpu_ms of CPU time
    predict_py(x, iters|cpu_ms) the tutorial's run_model_prediction written as pure Python:
                                returns (x * 2, info) with pid, thread-CPU ms, start/end stamps

Shared by app.py (the FastAPI endpoints), gil_bench.py and procpool_bench.py. Importable
from a ProcessPoolExecutor worker (spawn or fork): no side effects at import.
Timestamps are time.perf_counter() (CLOCK_MONOTONIC on Linux: comparable across processes).
"""

import os
import time

pc = time.perf_counter


def burn(iters: int) -> float:
    x = 0.0
    for _ in range(iters):
        x = x * 0.999999 + 1.0
    return x


def calibrate(ms: float = 20.0, reps: int = 5) -> float:
    """Iterations per millisecond (the fastest of `reps` runs of ~`ms` each)."""
    n = 20000
    t0 = pc()
    burn(n)
    dt = pc() - t0
    n = max(1000, int(n * (ms / 1000) / max(dt, 1e-6)))
    best = None
    for _ in range(reps):
        t0 = pc()
        burn(n)
        dt = pc() - t0
        best = dt if best is None else min(best, dt)
    return n / (best * 1000)


def burn_traced(iters: int, chunk: int = 2000, gap_ms: float = 0.5, cpu_ms: float = None):
    """Run `iters` iterations in chunks of `chunk` (or, with cpu_ms, chunks until this thread
    has used cpu_ms of CPU time: time.thread_time()). Return a list of (start, end, iters)
    stretches (perf_counter seconds) during which no gap longer than gap_ms occurred between
    two consecutive clock reads; a gap means the thread did not hold the GIL (or the CPU)."""
    gap = gap_ms / 1000
    slices = []
    c_end = None if cpu_ms is None else time.thread_time() + cpu_ms / 1000
    t_start = t_last = pc()
    done = d0 = 0
    x = 0.0
    while (done < iters) if c_end is None else (time.thread_time() < c_end):
        k = chunk if c_end is not None else min(chunk, iters - done)
        for _ in range(k):
            x = x * 0.999999 + 1.0
        done += k
        t = pc()
        if t - t_last > gap:  # resumed after a gap: close the previous stretch
            slices.append((t_start, t_last, done - k - d0))
            t_start = t_last = t
            d0 = done
            continue
        t_last = t
    slices.append((t_start, t_last, done - d0))
    return slices


def burn_cpu(cpu_ms: float, chunk: int = 2000) -> int:
    """Pure-Python work until this thread has used cpu_ms of CPU time; returns the iterations.
    time.thread_time() does not release the GIL, so this holds it exactly like burn()."""
    c_end = time.thread_time() + cpu_ms / 1000
    x = 0.0
    n = 0
    while time.thread_time() < c_end:
        for _ in range(chunk):
            x = x * 0.999999 + 1.0
        n += chunk
    return n


def predict_py(data_point: float, iters: int = 0, cpu_ms: float = None):
    """run_model_prediction as pure-Python CPU work: (prediction, info). With cpu_ms, the work
    is "cpu_ms of this thread's CPU time" (burn_cpu); otherwise `iters` iterations (burn)."""
    t0 = pc()
    c0 = time.thread_time()
    if cpu_ms is not None:
        iters = burn_cpu(cpu_ms)
    else:
        burn(iters)
    c1 = time.thread_time()
    t1 = pc()
    return data_point * 2, {"pid": os.getpid(), "cpu_ms": round((c1 - c0) * 1000, 3), "iters": iters,
                            "t0": t0, "t1": t1}


def noop(x=None):
    """A trivial job (process-pool round-trip overhead)."""
    return x
