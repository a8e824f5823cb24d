#!/usr/bin/env python3
"""Which `uvicorn --workers W` worker accepts a new connection when the workers are idle?

    python3 scripts/calibrate/accept_probe.py -w 2,4 -n 40 -r 3 [--gap-ms 0,5,50]

Starts uvicorn app:app --workers W (plain asyncio + h11, like run.py), waits for every
worker's "Application startup complete", then makes `n` requests GET /pid one after
another, each on a NEW connection (Connection: close), with `gap-ms` between the end of one
and the start of the next. Nothing is in flight when a connection arrives, so every worker
is idle in epoll_wait: the sequence of pids shows whom the kernel's wake-up + the accept
race favour (the same worker every time, in turn, or at random). Output: per run the pid
sequence as letters (A = first pid seen), counts, and the number of switches between
consecutive requests; JSON lines in results/accept-<stem>.jsonl. Records load like run.py.
"""

import argparse
import json
import os
import socket
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import VPY, free_port, start_server, stop_server, wait_quiet, cpu_stat, tree_cpu, RESULTS  # noqa: E402


def get_pid(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["pid"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-w", "--workers", default="2,4")
    p.add_argument("-n", type=int, default=40)
    p.add_argument("-r", "--repeats", type=int, default=3)
    p.add_argument("--gap-ms", default="0,5,50")
    p.add_argument("--wait-quiet", type=float, default=60.0)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    path = os.path.join(RESULTS, (a.out or time.strftime("accept-%Y%m%d-%H%M%S")) + ".jsonl")
    os.makedirs(os.path.join(RESULTS, "logs"), exist_ok=True)
    with open(path, "a") as f:
        for w in map(int, a.workers.split(",")):
            for gap in map(float, a.gap_ms.split(",")):
                for rep in range(a.repeats):
                    quiet = wait_quiet(a.wait_quiet) if a.wait_quiet else None
                    port = free_port()
                    env = {"LOOPSCOPE_PRINT": 0}
                    proc, log = start_server(port, env, os.path.join(RESULTS, "logs", "last-server.log"), 0, w)
                    try:
                        time.sleep(0.3)
                        b0, _ = cpu_stat()
                        c0, w0 = tree_cpu(proc.pid), time.time()
                        pids = []
                        for _ in range(a.n):
                            pids.append(get_pid(port))
                            if gap:
                                time.sleep(gap / 1000)
                        b1, _ = cpu_stat()
                        c1, w1 = tree_cpu(proc.pid), time.time()
                    finally:
                        stop_server(proc)
                        log.close()
                    hz = os.sysconf("SC_CLK_TCK")
                    other = round(max(0.0, ((b1 - b0) - (c1 - c0)) / hz / max(1e-3, w1 - w0)), 2)
                    num = {}
                    for x in pids:
                        num.setdefault(x, chr(ord("A") + len(num)))
                    seq = "".join(num[x] for x in pids)
                    switches = sum(1 for i in range(1, len(seq)) if seq[i] != seq[i - 1])
                    cnt = Counter(seq)
                    row = {"workers": w, "gap_ms": gap, "repeat": rep, "n": a.n, "seq": seq, "pids": pids,
                           "switches": switches, "quiet_cores_before": quiet, "other_cpu_cores_during": other}
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    print(f"| {w} | {gap:.0f} | {rep} | {other} | {' '.join(f'{k}:{cnt[k]}' for k in sorted(cnt))} "
                          f"| {switches} | {seq} |")
    print(f"results: {os.path.relpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
