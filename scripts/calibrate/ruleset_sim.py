#!/usr/bin/env python3
"""A discrete-event model of the tutorial's app on uvicorn (h11) + FastAPI + asyncio's
selector loop, implementing the rule set R1-R13 of docs/calibration/asyncio-uvicorn.md, and a
comparison of its answer times against the measured runs in results/final-*.jsonl.

    python3 scripts/calibrate/ruleset_sim.py --seeds 20          # fit report (clean runs only)
    python3 scripts/calibrate/ruleset_sim.py --one async_io 120 60 40 25 50 0 --log 200
    python3 scripts/calibrate/ruleset_sim.py --one async_io 12 6 40 25 50 0 --seed 3

Pure stdlib; no server is started. What it models:
  R1-R4  asyncio BaseEventLoop._run_once at callback granularity: poll (timeout 0 if
         anything is ready, else ceil-to-ms epoll timeout), I/O callbacks appended, then
         due timers, then run exactly the callbacks ready at that moment.
  R5-R7  uvicorn h11: one read callback per readable connection -> create_task (first
         step next iteration); new connections: accept -> _accept_connection2 task ->
         connection_made/add_reader -> read 3 iterations later; send() never yields.
  R8-R9  FastAPI: an async endpoint runs in its task's steps (no extra yields); a def
         endpoint and its response validation each go through run_sync.
  R10-R11 anyio run_sync: checkpoint yield, acquire (yield, or FIFO wait), submit; the
         thread's end -> call_soon_threadsafe(_report_result) -> wakeup next iteration;
         CapacityLimiter release hands the token to the first waiter.
  R12    an ab-like client (load.py): t=0 burst, next request after each answer.
  R13    loop CPU costs (COSTS), slower right after the loop slept >= 1 ms.
--seeds N adds N jittered runs (costs x lognormal(0, 0.15), kernel latencies uniform):
the branch a run takes (see the notes, "which requests overlap") depends on sub-ms timing.
"""

import argparse
import glob
import heapq
import json
import math
import os
import statistics
from collections import deque

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- costs in ms (measured with `run.py --trace` on the project's 2-core machine, load < 0.5).
# Loop CPU costs are the "hot" ones (measured inside big batches). R13: after the loop
# thread slept >= idle_deep ms (epoll wait or time.sleep), its work runs slower by a factor
# 1 + cold_a * exp(-(time since it woke) / cold_tau), and the very first request step of
# a run costs first_step more (first call of the endpoint in this process, cold caches).
COSTS = dict(
    # client (load.py, raw asyncio protocol) and kernel (R12)
    net=0.02,  # a write on loopback becomes readable at the peer
    first_gap=0.15,  # the client's t=0 burst: first write at 0.01 ms, the next after this pause,
    send_gap=0.015,  #   then one write every 15 us
    new_base=0.3,  # new-connection burst: request k written at new_base + C*new_per_conn + k*new_gap
    new_per_conn=0.065,
    new_gap=0.025,
    ans_lat=0.22,  # server writes the response -> client records the answer (client idle >= idle_deep)
    react=0.25,  # server writes the response -> client has written its next request (idem)
    ans_lat_hot=0.02,  # the same when the client was busy less than idle_deep ago
    react_hot=0.04,
    conn_client=0.31,  # new-connection mode, later requests: connect() -> request written
    # asyncio loop (R1-R4)
    wake_idle=0.22,  # an fd becomes ready while the loop sleeps in epoll_wait (>= idle_deep) -> select returns
    wake_hot=0.03,  # the same after a short wait
    wake_thread=0.22,  # a worker thread's call_soon_threadsafe wakes the sleeping loop (self-pipe)
    thread_wake_warm=0,  # 1: a wake-up by a worker thread does not make the loop's work slow (R13)
    timeout_slack=0.17,  # epoll_wait(ceil_ms(timeout)) returns this much after its timeout
    poll0=0.008,  # select(0) and the iteration's bookkeeping
    handle=0.002,  # per callback run
    idle_deep=1.0,  # a sleep at least this long makes the loop's work slow again
    cold_a=2.5,
    cold_tau=2.0,
    first_step=0.3,
    # uvicorn h11 (R5-R7)
    read=0.035,  # _read_ready -> data_received: h11 parse, scope, create_task
    accept=0.03,  # _accept_connection: per accepted socket (+ create_task of _accept_connection2)
    accept2=0.05,  # _accept_connection2 step: make the transport (schedules connection_made, add_reader)
    conn_made=0.02,  # H11Protocol.connection_made
    # Starlette/FastAPI (R8-R9)
    step1=0.09,  # first task step: middleware, routing, body(), validation, endpoint up to its first await
    timer_cb=0.005,  # _set_result_unless_cancelled -> set_result -> call_soon(wakeup)
    wake=0.015,  # a task resuming after its future (plus the endpoint's print)
    sleep_over=0.16,  # time.sleep(x) lasts x + this
    resp_write=0.17,  # async endpoint returned -> response body written: validate, serialize,
    resp_tail=0.03,  #   JSONResponse, access log, h11 send + transport.write; then the tail
    resp_write_def=0.12,  # def endpoint (validation already done in a thread)
    # anyio (R10-R11)
    rs_enter=0.01,  # run_sync: up to its checkpoint
    rs_acq=0.01,  # CapacityLimiter.acquire_on_behalf_of
    rs_submit=0.02,  # future, idle worker pop, queue.put
    rs_exit=0.015,  # release (+ notify next waiter)
    thread_new=0.15,  # WorkerThread.start() on the loop when no idle worker
    thread_lat=0.20,  # queue.put -> the worker thread runs the function (wake-up + GIL)
    ts_lat=0.02,  # function returns -> call_soon_threadsafe has appended _report_result
    report=0.01,  # _report_result on the loop
    validate_thr=0.03,  # field.validate in a worker thread (def endpoints with response_model)
    tick_phase=37.0,  # uvicorn main_loop: asyncio.sleep(0.1) ticks, phase vs t0
    tick=0.02,
)
# jitter for --seeds: multiplicative on every loop cost, and uniform ranges for the kernel
JITTER = dict(cost_sigma=0.15, timeout_slack=(0.12, 0.25), wake_idle=(0.17, 0.27), react=(0.15, 0.35))


class Future:
    __slots__ = ("loop", "done", "result", "callbacks")

    def __init__(self, loop):
        self.loop, self.done, self.result, self.callbacks = loop, False, None, []

    def set_result(self, value=None):  # futures.py: __schedule_callbacks -> call_soon each
        self.done, self.result = True, value
        for cb in self.callbacks:
            self.loop.call_soon(cb, self)
        self.callbacks = []

    def add_done_callback(self, cb):
        if self.done:
            self.loop.call_soon(cb, self)
        else:
            self.callbacks.append(cb)


class Loop:
    """asyncio BaseEventLoop._run_once (R1-R4), with simulated time and CPU costs."""

    def __init__(self, K, rng=None):
        self.K, self.rng = K, rng
        self.now = 0.0
        self.ready = deque()
        self.timers = []  # (when, seq, fn, args)
        self.ext = []  # (t, seq, fn, args): call_soon_threadsafe from worker threads
        self.seq = 0
        self.sockets = {}  # conn -> arrival times of unread requests
        self.pending_accept = []  # conns whose SYN reached the listening socket
        self.arrivals = []  # (t, seq, conn, kind) bytes in flight towards the server
        self.selfpipe = False
        self.woke = 0.0  # when the loop thread last woke from a sleep >= idle_deep
        self.first_step_done = False
        self.log = None  # print iterations up to this time (ms)

    def j(self, ms):  # cost jitter
        if self.rng is None or ms == 0:
            return ms
        return ms * self.rng.lognormvariate(0.0, JITTER["cost_sigma"])

    def u(self, name):  # a kernel latency: fixed, or uniform in its jitter range
        if self.rng is None:
            return self.K[name]
        lo, hi = JITTER[name]
        return self.rng.uniform(lo, hi)

    # scheduling
    def call_soon(self, fn, *args):
        self.ready.append((fn, args))

    def call_later(self, delay, fn, *args):
        self.seq += 1
        heapq.heappush(self.timers, (self.now + delay, self.seq, fn, args))

    def threadsafe_at(self, t, fn, *args):
        self.seq += 1
        heapq.heappush(self.ext, (t, self.seq, fn, args))

    def arrive(self, t, conn, kind):
        self.seq += 1
        heapq.heappush(self.arrivals, (t, self.seq, conn, kind))

    # time
    def cpu(self, ms, kind=None):
        """Python work on the loop thread (R13: slower right after a long sleep)."""
        K = self.K
        factor = 1.0 + K["cold_a"] * math.exp(-(self.now - self.woke) / K["cold_tau"])
        ms = self.j(ms) * factor
        if kind == "step1" and not self.first_step_done:
            self.first_step_done = True
            ms += self.j(K["first_step"])
        self.advance(ms)

    def block(self, ms):
        """time.sleep on the loop thread."""
        self.advance(ms + self.K["sleep_over"])
        if ms >= self.K["idle_deep"]:
            self.woke = self.now

    def advance(self, ms):
        self.now += ms
        self._deliver_ext()

    def _deliver_ext(self):
        while self.ext and self.ext[0][0] <= self.now:
            t, _, fn, args = heapq.heappop(self.ext)
            self.ready.append((fn, args))  # call_soon_threadsafe appends to _ready ...
            self.selfpipe = True  # ... and writes a byte to the self-pipe

    def _land_arrivals(self):
        while self.arrivals and self.arrivals[0][0] <= self.now:
            t, _, conn, kind = heapq.heappop(self.arrivals)
            if kind == "syn":
                self.pending_accept.append(conn)
            else:
                self.sockets.setdefault(conn, []).append(t)

    def _next_external(self):
        cands = [a[0] for a in self.arrivals if a[3] == "syn" or a[2].registered]
        if self.ext:
            cands.append(self.ext[0][0])
        return min(cands) if cands else math.inf

    def _have_io(self):
        return self.selfpipe or self.pending_accept or any(c.registered and ts for c, ts in self.sockets.items())

    def run_once(self):
        K = self.K
        # R1: the poll: timeout 0 if anything is ready, else until the first timer
        self._deliver_ext()
        self._land_arrivals()
        if self.ready or self._have_io():
            self.advance(K["poll0"])
        else:
            start = self.now
            t_ext = self._next_external()
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - self.now)
                # selectors.EpollSelector.select: math.ceil(timeout * 1e3) * 1e-3
                t_timeout = self.now + math.ceil(timeout - 1e-9) + self.u("timeout_slack")
            else:
                t_timeout = math.inf
            idle_from = start if self.now > 0 else -1e9  # the server idled before t=0
            deep = lambda t: t - idle_from >= K["idle_deep"]
            by_thread = bool(self.ext) and self.ext[0][0] <= t_ext
            if by_thread:  # the self-pipe byte written by a worker thread of this process
                wake = K["wake_thread"]
            else:
                wake = self.u("wake_idle") if deep(t_ext) else K["wake_hot"]
            if t_ext + wake >= t_timeout:
                by_thread = False
            if t_ext + wake < t_timeout:
                self.now = max(start, t_ext) + wake
            else:
                self.now = t_timeout
            if self.now == math.inf:
                return False
            if deep(self.now) and not (by_thread and K["thread_wake_warm"]):
                self.woke = self.now
            self._deliver_ext()
            self._land_arrivals()
        # R2: _process_events appends one callback per ready fd
        if self.selfpipe:
            self.selfpipe = False
            self.ready.append((self.cpu, (K["handle"],)))  # _read_from_self
        if self.pending_accept:
            conns, self.pending_accept = self.pending_accept, []
            self.ready.append((self._accept, (conns,)))
        for c in sorted((c for c, ts in self.sockets.items() if c.registered and ts),
                        key=lambda c: self.sockets[c][0]):
            n = len(self.sockets[c])
            self.sockets[c] = []
            self.ready.append((c.read_ready, (n,)))
        # R3: timers due before now + clock resolution (1 ns) join the ready queue
        end = self.now + 1e-6
        while self.timers and self.timers[0][0] < end:
            _, _, fn, args = heapq.heappop(self.timers)
            self.ready.append((fn, args))
        # R4: run only what is ready now; what they schedule runs next iteration
        if self.log is not None and self.now <= self.log:
            names = [getattr(fn, "__name__", "?") for fn, _ in self.ready]
            summ = {}
            for nm in names:
                summ[nm] = summ.get(nm, 0) + 1
            t_start = self.now
            print(f"  poll {t_start:9.3f}  ready {len(self.ready):3d}: " + ", ".join(f"{k}x{v}" for k, v in summ.items()))
        for _ in range(len(self.ready)):
            fn, args = self.ready.popleft()
            self.cpu(K["handle"])
            fn(*args)
        return True

    def _accept(self, conns):  # selector_events._accept_connection
        for c in conns:
            self.cpu(self.K["accept"])
            Task(self, c.accept2()).start()


class Limiter:  # anyio CapacityLimiter (asyncio backend)
    def __init__(self, total):
        self.total, self.borrowers, self.waiters = total, set(), deque()

    def available(self):
        return not self.waiters and len(self.borrowers) < self.total

    def release(self, who):
        self.borrowers.discard(who)
        if self.waiters and len(self.borrowers) < self.total:
            nxt, fut = self.waiters.popleft()
            self.borrowers.add(nxt)
            fut.set_result()  # asyncio.Event.set -> waiter's future -> call_soon(wakeup)


class Task:
    """asyncio.Task: create_task -> call_soon(step); a step runs until a suspending op."""

    def __init__(self, loop, gen):
        self.loop, self.gen, self.value = loop, gen, None

    def start(self):
        self.loop.call_soon(self.step)

    def wakeup(self, fut):  # Task.__wakeup calls __step directly (same callback)
        self.value = fut.result
        self.step()

    def step(self):
        loop = self.loop
        while True:
            try:
                op = self.gen.send(self.value)
            except StopIteration:
                return
            self.value = None
            kind = op[0]
            if kind == "cpu":
                loop.cpu(*op[1:])
            elif kind == "block":  # time.sleep on the loop thread
                loop.block(op[1])
            elif kind == "sleep0":  # asyncio.sleep(0): bare yield -> call_soon(step)
                loop.call_soon(self.step)
                return
            elif kind == "sleep":  # asyncio.sleep(d): call_later + future
                fut = Future(loop)
                loop.call_later(op[1], self._timer_fired, fut)
                fut.add_done_callback(self.wakeup)
                return
            elif kind == "await":
                fut = op[1]
                if fut.done:
                    self.value = fut.result
                    continue
                fut.add_done_callback(self.wakeup)
                return
            elif kind == "call":  # run a plain function inline (e.g. the response write)
                self.value = op[1]()
            else:
                raise ValueError(kind)

    def _timer_fired(self, fut):  # futures._set_result_unless_cancelled
        self.loop.cpu(self.loop.K["timer_cb"])
        fut.set_result()


class Server:
    def __init__(self, loop, variant, tokens, io, cpu, bg, on_response):
        self.loop, self.variant = loop, variant
        self.io, self.cpu, self.bg = io, cpu, bg
        self.limiter = Limiter(tokens)
        self.idle_workers = 0
        self.on_response = on_response

    def run_sync(self, who, ms):
        """anyio.to_thread.run_sync (R10, R11): 3 steps before the thread, 2 after it."""
        K, loop = self.loop.K, self.loop
        yield ("cpu", K["rs_enter"])
        yield ("sleep0",)  # await cls.checkpoint()
        yield ("cpu", K["rs_acq"])
        if self.limiter.available():
            self.limiter.borrowers.add(who)
            yield ("sleep0",)  # cancel_shielded_checkpoint()
        else:
            fut = Future(loop)
            self.limiter.waiters.append((who, fut))  # FIFO
            yield ("await", fut)
        yield ("cpu", K["rs_submit"])
        if self.idle_workers:
            self.idle_workers -= 1
        else:
            yield ("cpu", K["thread_new"])
        fut = Future(loop)
        end = loop.now + K["thread_lat"] + ms
        loop.threadsafe_at(end + K["ts_lat"], self._report, fut)
        yield ("await", fut)
        yield ("cpu", K["rs_exit"], "rs")
        self.limiter.release(who)

    def _report(self, fut):  # WorkerThread._report_result, on the loop
        self.loop.cpu(self.loop.K["report"])
        self.idle_workers += 1
        fut.set_result()

    def respond(self, req, write, tail):
        yield ("cpu", write, "resp")
        yield ("call", lambda: self.on_response(req, self.loop.now))
        yield ("cpu", tail)

    def handle(self, req):
        """The request's task (R8, R9): one generator per variant."""
        K, io, cpu = self.loop.K, self.io, self.cpu
        so = K["sleep_over"]
        yield ("cpu", K["step1"], "step1")
        v = self.variant
        if v == "sync_def":
            yield from self.run_sync(req, io + cpu + 2 * so)  # the endpoint in a thread
            yield from self.run_sync(req, K["validate_thr"])  # serialize_response: validate in a thread
            yield from self.respond(req, K["resp_write_def"], K["resp_tail"])
        elif v == "blocking":
            yield ("block", io)
            yield ("block", cpu)
            yield from self.respond(req, K["resp_write"], K["resp_tail"])
        elif v == "async_io":
            yield ("sleep", io)
            yield ("cpu", K["wake"])
            yield ("block", cpu)
            yield from self.respond(req, K["resp_write"], K["resp_tail"])
        elif v in ("full_async", "background"):
            yield ("sleep", io)
            yield ("cpu", K["wake"])
            yield from self.run_sync(req, cpu + so)
            yield from self.respond(req, K["resp_write"], K["resp_tail"])
            if v == "background":  # Response.__call__ awaits self.background after the body
                yield from self.run_sync(("bg", req), self.bg + so)
        elif v == "noop":
            if io > 0:
                yield ("sleep", io)
                yield ("cpu", K["wake"])
            yield from self.respond(req, K["resp_write"], K["resp_tail"])
        else:
            raise ValueError(v)


class Conn:
    """One client connection as the server sees it (uvicorn H11Protocol)."""

    def __init__(self, sim, cid, registered):
        self.sim, self.cid, self.registered = sim, cid, registered

    def read_ready(self, n):  # _read_ready -> data_received -> handle_events -> create_task
        loop = self.sim.loop
        for _ in range(n):
            loop.cpu(loop.K["read"], "read")
            req = self.sim.pending_req.pop(self)
            Task(loop, self.sim.server.handle(req)).start()

    def accept2(self):  # selector_events._accept_connection2
        K, loop = self.sim.loop.K, self.sim.loop
        yield ("cpu", K["accept2"])
        # _SelectorSocketTransport.__init__: call_soon(connection_made), call_soon(_add_reader), waiter
        loop.call_soon(loop.cpu, K["conn_made"])
        loop.call_soon(self._add_reader)
        fut = Future(loop)
        loop.call_soon(fut.set_result)
        yield ("await", fut)

    def _add_reader(self):
        self.registered = True


class Sim:
    def __init__(self, variant, n, c, tokens, io, cpu, bg, conn="keepalive", K=None, seed=None):
        import random

        self.K = dict(COSTS, **(K or {}))
        self.rng = random.Random(seed) if seed is not None else None
        self.loop = Loop(self.K, self.rng)
        self.n, self.c, self.mode = n, c, conn
        self.server = Server(self.loop, variant, tokens, io, cpu, bg, self.on_response)
        self.next_i = 0
        self.answers = {}
        self.pending_req = {}
        self.conn_of = {}
        self.client_busy_until = 0.0
        self.conns = [Conn(self, k, registered=(conn == "keepalive")) for k in range(c)]

    def send(self, cid, t, first=False):
        if self.next_i >= self.n:
            return
        i = self.next_i
        self.next_i += 1
        K, loop = self.K, self.loop
        if self.mode == "keepalive":
            conn = self.conns[cid]
            self.pending_req[conn] = i
            loop.arrive(t + K["net"], conn, "data")
        else:
            conn = Conn(self, cid, registered=False)
            self.pending_req[conn] = i
            if first:  # all connects at ~0, writes once the client has set up every connection
                loop.arrive(0.003 * cid + K["net"], conn, "syn")
                loop.arrive(t + K["net"], conn, "data")
            else:
                loop.arrive(t + K["net"], conn, "syn")
                loop.arrive(t + K["conn_client"] + K["net"], conn, "data")
        self.conn_of[i] = cid

    def on_response(self, i, t_write):
        """R12: the client records the answer and sends its next request."""
        K = self.K
        cold = t_write - self.client_busy_until >= K["idle_deep"]
        ans = K["ans_lat"] if cold else K["ans_lat_hot"]
        react = (self.loop.u("react") if cold else K["react_hot"])
        self.answers[i] = t_write + ans
        self.client_busy_until = max(self.client_busy_until, t_write + react)
        self.send(self.conn_of[i], t_write + react)

    def tick(self):  # uvicorn Server.main_loop: await asyncio.sleep(0.1); on_tick
        def fire():
            self.loop.cpu(self.K["tick"])
            if len(self.answers) < self.n:
                self.loop.call_later(100.0, fire)
        phase = self.K["tick_phase"] if self.rng is None else self.rng.uniform(0, 100)
        self.loop.call_later(phase, fire)

    def run(self):
        self.tick()
        K = self.K
        for k in range(self.c):  # R12: the t=0 burst as load.py sends it
            if self.mode == "keepalive":
                t = 0.01 if k == 0 else K["first_gap"] + K["send_gap"] * k
            else:
                t = K["new_base"] + self.c * K["new_per_conn"] + K["new_gap"] * k
            self.send(k, t, first=True)
            self.client_busy_until = t
        guard = 0
        while len(self.answers) < self.n:
            if not self.loop.run_once():
                break
            guard += 1
            if guard > 10_000_000:
                raise RuntimeError("no progress")
        return sorted(self.answers.values())


def simulate(variant, n, c, tokens, io, cpu, bg, conn="keepalive", K=None, seed=None):
    return Sim(variant, n, c, tokens, io, cpu, bg, conn, K, seed).run()


# ---- comparison with measurements


def load_runs(patterns, max_other=0.3):
    """Measured runs, without traced runs, failed runs, and runs during which other
    processes used more than max_other cores (the other engineer's builds)."""
    rows = []
    for p in patterns:
        for f in sorted(glob.glob(p)):
            for line in open(f):
                r = json.loads(line)
                if r.get("trace") or r.get("error") or r.get("bad_answers"):
                    continue
                other = r.get("other_cpu_cores_during")
                if max_other is not None and other is not None and other > max_other:
                    continue
                rows.append(r)
    return rows


def within(sim, real):
    return abs(sim - real) <= max(0.03 * real, 6.0)


def worst(sim, real):
    """(largest |sim-real| over sorted answers, its 1-based rank, all within tolerance?)"""
    errs = [s - r for s, r in zip(sim, real)]
    k = max(range(len(errs)), key=lambda k: abs(errs[k]))
    return errs[k], k + 1, all(within(s, r) for s, r in zip(sim, real))


def gap_at(a, c):
    """Gap between the C-th and (C+1)-th answer: ~cpu when the second round's fetches
    overlapped the first round's predictions, ~io+cpu when they did not."""
    return a[c] - a[c - 1] if len(a) > c else None


def compare(rows, conns, K=None, seeds=0, verbose=False):
    groups = {}
    for r in rows:
        if r["conn"] not in conns:
            continue
        key = (r["variant"], r["requests"], r["concurrency"], r["tokens"], r["io_ms"], r["cpu_ms"], r["bg_ms"], r["conn"])
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in sorted(groups.items(), key=lambda kv: (kv[1][0]["scenario"], kv[0][7])):
        variant, n, c, tokens, io, cpu, bg, conn = key
        sim = simulate(variant, n, c, tokens, io, cpu, bg, conn, K)
        reals = [r["answers_sorted_ms"] for r in rs]
        med = [statistics.median(a[k] for a in reals) for k in range(n)]
        e_med, at_med, ok_med = worst(sim, med)
        per_run = [worst(sim, a) for a in reals]
        e_any = max(abs(w[0]) for w in per_run)
        ok_runs = sum(w[2] for w in per_run)
        row = dict(scenario=",".join(sorted(set(r["scenario"] for r in rs))), key=key, runs=len(rs),
                   sim_first=sim[0], sim_last=sim[-1], real_first=med[0], real_last=med[-1],
                   err_med=e_med, at_med=at_med, ok_med=ok_med, err_any=e_any, ok_runs=ok_runs,
                   gap_real=[round(gap_at(a, c)) if gap_at(a, c) else None for a in reals],
                   gap_sim=round(gap_at(sim, c)) if gap_at(sim, c) else None)
        if seeds:
            sims = [simulate(variant, n, c, tokens, io, cpu, bg, conn, K, seed) for seed in range(seeds)]
            # every real run against its best-matching seeded simulation
            best = [min((abs(worst(s, a)[0]) for s in sims)) for a in reals]
            row["err_best_seed"] = max(best)
            row["ok_best_seed"] = sum(any(worst(s, a)[2] for s in sims) for a in reals)
            row["gap_seeds"] = sorted(round(gap_at(s, c)) for s in sims if gap_at(s, c))
        out.append(row)
        if verbose:
            print(key, "\n  sim ", [round(x, 1) for x in sim], "\n  real", [round(x, 1) for x in med])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", nargs="*", default=[os.path.join(HERE, "results", "final-*.jsonl")])
    p.add_argument("--conn", default="keepalive,new")
    p.add_argument("--max-other", type=float, default=0.3,
                   help="skip runs during which other processes used more cores than this")
    p.add_argument("--one", nargs=7, metavar=("VARIANT", "N", "C", "T", "IO", "CPU", "BG"))
    p.add_argument("--mode", default="keepalive", help="with --one: keepalive or new")
    p.add_argument("--seeds", type=int, default=0, help="also run this many jittered simulations")
    p.add_argument("--seed", type=int, default=None, help="with --one: one jittered run")
    p.add_argument("--log", type=float, default=None, help="with --one: print the iterations up to this time")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--json", help="write the comparison here")
    p.add_argument("--set", action="append", default=[], help="override a cost: name=ms")
    a = p.parse_args()
    K = {k: float(v) for k, v in (s.split("=") for s in a.set)}
    if a.one:
        v, n, c, t, io, cpu, bg = a.one
        sim = Sim(v, int(n), int(c), int(t), float(io), float(cpu), float(bg), a.mode, K, a.seed)
        sim.loop.log = a.log
        ans = sim.run()
        print([round(x, 1) for x in ans])
        return
    rows = load_runs(a.results, a.max_other)
    res = compare(rows, a.conn.split(","), K, a.seeds, a.verbose)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    print("tolerance per answer: max(3% of the real time, 6 ms). err = sim - real, sorted answers.")
    print(f"{'scen':5} {'variant':10} {'conn':9} {'runs':>4} {'first sim/real':>14} {'last sim/real':>16} "
          f"{'worst vs median':>17} {'ok':>3} {'worst any run':>13} {'runs ok':>7}"
          + (f" {'best seed':>9} {'ok':>5}" if a.seeds else "") + "  gap@C real | sim" + (" | seeds" if a.seeds else ""))
    for r in res:
        line = (f"{r['scenario']:5} {r['key'][0]:10} {r['key'][7]:9} {r['runs']:>4} "
                f"{r['sim_first']:6.1f}/{r['real_first']:<7.1f} {r['sim_last']:7.1f}/{r['real_last']:<8.1f} "
                f"{r['err_med']:+7.1f} (#{r['at_med']:<3}) {'yes' if r['ok_med'] else 'NO':>4} {r['err_any']:10.1f}   "
                f"{r['ok_runs']:>3}/{r['runs']:<3}")
        if a.seeds:
            line += f" {r['err_best_seed']:9.1f} {r['ok_best_seed']:>2}/{r['runs']:<2}"
        line += f"  {r['gap_real']} | {r['gap_sim']}"
        if a.seeds:
            line += f" | {r['gap_seeds']}"
        print(line)


if __name__ == "__main__":
    main()
