"""The tutorial's app (shared/seed/tutorial.md), compact, for calibration runs.

Durations and tokens come from the environment (milliseconds):
  LOOPSCOPE_IO_MS (fetch sleep, default 500), LOOPSCOPE_CPU_MS (prediction sleep,
  default 1000), LOOPSCOPE_BG_MS (background log sleep, default 200),
  LOOPSCOPE_TOKENS (threadpool tokens, default 40),
  LOOPSCOPE_PRINT (1 = keep the tutorial's prints, the default; 0 = drop them),
  LOOPSCOPE_TRACE (1 = record each loop poll and the endpoint's marks, 2 = also wrap
  uvicorn's h11 protocol (read/task/resp/done marks); served by GET /trace; off by
  default because it adds loop work).

Added for the GIL / process-pool / --workers study (docs/calibration/gil-processes-workers.md); the
tutorial's endpoints above are unchanged:
  LOOPSCOPE_PY_MODE (cpu = each pure-Python prediction runs until its thread used CPU_MS of
  CPU time, the default; iters = a fixed iteration count, LOOPSCOPE_PY_ITERS_PER_MS * CPU_MS,
  calibrated at import when not given), LOOPSCOPE_PROCS (P > 0: a module-level
  ProcessPoolExecutor(max_workers=P) created at startup and warmed up),
  LOOPSCOPE_MP_START (fork, the 3.11 default on Linux, or spawn / forkserver).
  POST /predict_full_async_py  full_async with the prediction as pure-Python CPU work
                               (await asyncio.sleep(io); await run_in_threadpool(predict_py))
  POST /predict_sync_py        a `def` endpoint: time.sleep(io), then pure-Python predict
  POST /predict_procpool       await asyncio.sleep(io); await loop.run_in_executor(POOL, predict_py)
  POST /predict_blocking_pid   the `blocking` variant (time.sleep(io), time.sleep(cpu) in async def)
  GET /pid                     {"pid": os.getpid()} (accept_probe.py)
  Their `metadata` is JSON: {"pid": the uvicorn worker's pid, "job": {pid, cpu_ms, iters, t0, t1}}
  (t0/t1: perf_counter of the prediction, comparable with load.py's t0_abs).

Run: uvicorn app:app --app-dir scripts/calibrate   (plain uvicorn: asyncio loop + h11)
"""

import asyncio
import json
import os
import time
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import BackgroundTasks, FastAPI
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

IO = float(os.environ.get("LOOPSCOPE_IO_MS", "500")) / 1000
CPU = float(os.environ.get("LOOPSCOPE_CPU_MS", "1000")) / 1000
BG = float(os.environ.get("LOOPSCOPE_BG_MS", "200")) / 1000
TOKENS = int(os.environ.get("LOOPSCOPE_TOKENS", "40"))
PRINT = os.environ.get("LOOPSCOPE_PRINT", "1") != "0"
TRACE_LEVEL = int(os.environ.get("LOOPSCOPE_TRACE", "0"))
TRACE = TRACE_LEVEL > 0

say = print if PRINT else (lambda *a, **k: None)
_trace: list = []


def mark(what: str, item_id: int) -> None:
    """Server-side timestamp (perf_counter is CLOCK_MONOTONIC: comparable across processes)."""
    if TRACE:
        _trace.append((time.perf_counter(), what, item_id))


@asynccontextmanager
async def lifespan(app):
    anyio.to_thread.current_default_thread_limiter().total_tokens = TOKENS
    if PROCS > 0:
        _start_pool()
    if TRACE:
        _install_loop_trace()
        if TRACE_LEVEL >= 2:
            _install_uvicorn_trace()
    yield
    if POOL is not None:
        POOL.shutdown(wait=True)


app = FastAPI(lifespan=lifespan)


class PredictionRequest(BaseModel):
    item_id: int
    feature_value: float


class PredictionResponse(BaseModel):
    item_id: int
    metadata: str
    prediction: float


def run_model_prediction(data_point: float, item_id: int = -1) -> float:
    say("Starting model prediction...")
    mark("cpu_start", item_id)
    time.sleep(CPU)
    mark("cpu_end", item_id)
    say("Finished model prediction.")
    return data_point * 2


def fetch_external_data(item_id: int) -> dict:
    say(f"Fetching external data for item {item_id}...")
    mark("io_start", item_id)
    time.sleep(IO)
    mark("io_end", item_id)
    say("Finished fetching external data.")
    return {"item_id": item_id, "metadata": "some_fetched_value"}


async def fetch_external_data_async(item_id: int) -> dict:
    say(f"Fetching external data async for item {item_id}...")
    mark("io_start", item_id)
    await asyncio.sleep(IO)
    mark("io_end", item_id)
    say("Finished fetching external data async.")
    return {"item_id": item_id, "metadata": "some_fetched_value_async"}


def log_prediction_details(request_data: dict, response_data: dict):
    say("\n--- Background Task Started ---")
    say(f"Logging Request: {request_data}")
    say(f"Logging Response: {response_data}")
    mark("bg_start", request_data["item_id"])
    time.sleep(BG)
    mark("bg_end", request_data["item_id"])
    say("--- Background Task Finished ---\n")


def answer(ext: dict, pred: float) -> PredictionResponse:
    say("Sending response.")
    return PredictionResponse(item_id=ext["item_id"], metadata=ext["metadata"], prediction=pred)


@app.post("/predict_sync", response_model=PredictionResponse)
def predict_synchronously(request: PredictionRequest):  # Step 1: `def` -> threadpool
    say("Received prediction request.")
    mark("start", request.item_id)
    ext = fetch_external_data(request.item_id)
    return answer(ext, run_model_prediction(request.feature_value, request.item_id))


@app.post("/predict_blocking", response_model=PredictionResponse)
async def predict_blocking(request: PredictionRequest):  # Step 1 as the text describes it
    say("Received prediction request.")
    mark("start", request.item_id)
    ext = fetch_external_data(request.item_id)  # blocks the loop
    return answer(ext, run_model_prediction(request.feature_value, request.item_id))


@app.post("/predict_async_io", response_model=PredictionResponse)
async def predict_with_async_io(request: PredictionRequest):  # Step 2
    say("Received async I/O prediction request.")
    mark("start", request.item_id)
    ext = await fetch_external_data_async(request.item_id)
    return answer(ext, run_model_prediction(request.feature_value, request.item_id))  # blocks


@app.post("/predict_full_async", response_model=PredictionResponse)
async def predict_fully_asynchronous(request: PredictionRequest):  # Step 3
    say("Received full async prediction request.")
    mark("start", request.item_id)
    ext = await fetch_external_data_async(request.item_id)
    pred = await run_in_threadpool(run_model_prediction, request.feature_value, request.item_id)
    return answer(ext, pred)


@app.post("/predict_with_background", response_model=PredictionResponse)
async def predict_with_background_task(request: PredictionRequest, background_tasks: BackgroundTasks):  # Step 4
    say("Received prediction request with background task.")
    mark("start", request.item_id)
    ext = await fetch_external_data_async(request.item_id)
    pred = await run_in_threadpool(run_model_prediction, request.feature_value, request.item_id)
    response = PredictionResponse(item_id=ext["item_id"], metadata=ext["metadata"], prediction=pred)
    # The tutorial calls .dict(); model_dump() is its pydantic-2 spelling (no deprecation warning).
    background_tasks.add_task(log_prediction_details, request.model_dump(), response.model_dump())
    say("Sending response (background task pending).")
    return response


# --- calibration helpers (not in the tutorial) ---------------------------------------


@app.post("/noop", response_model=PredictionResponse)
async def noop(request: PredictionRequest):
    """Same HTTP/validation path as the tutorial's endpoints, body does nothing (io>0: one asyncio.sleep)."""
    mark("start", request.item_id)
    if IO > 0:
        await asyncio.sleep(IO)
    return PredictionResponse(item_id=request.item_id, metadata="noop", prediction=request.feature_value * 2)


# --- pure-Python CPU work, the process pool, worker pids ---------------------------------

import pywork  # noqa: E402  (scripts/calibrate/pywork.py; --app-dir puts it on sys.path)

PY_MODE = os.environ.get("LOOPSCOPE_PY_MODE", "cpu")
PROCS = int(os.environ.get("LOOPSCOPE_PROCS", "0"))
MP_START = os.environ.get("LOOPSCOPE_MP_START", "fork")
PY_IPM = float(os.environ.get("LOOPSCOPE_PY_ITERS_PER_MS", "0")) or (pywork.calibrate() if PY_MODE == "iters" else 0.0)
PY_ITERS = int(PY_IPM * CPU * 1000)
POOL = None


def _py_args():
    return (PY_ITERS, None) if PY_MODE == "iters" else (0, CPU * 1000)


def _start_pool():
    import concurrent.futures
    import multiprocessing

    global POOL
    POOL = concurrent.futures.ProcessPoolExecutor(max_workers=PROCS, mp_context=multiprocessing.get_context(MP_START))
    # warm up: P overlapping 30 ms jobs, so every worker process exists (spawn starts them one
    # per submit while none is idle) and has imported pywork before the first request
    futs = [POOL.submit(pywork.predict_py, 0.0, 0, 30.0) for _ in range(PROCS)]
    for f in futs:
        f.result()


def run_model_prediction_py(data_point: float, item_id: int = -1):
    say("Starting model prediction...")
    mark("cpu_start", item_id)
    pred, info = pywork.predict_py(data_point, *_py_args())
    mark("cpu_end", item_id)
    say("Finished model prediction.")
    return pred, info


def answer_job(ext: dict, pred: float, info: dict) -> PredictionResponse:
    say("Sending response.")
    meta = json.dumps({"pid": os.getpid(), "job": info, "fetch": ext["metadata"]})
    return PredictionResponse(item_id=ext["item_id"], metadata=meta, prediction=pred)


@app.post("/predict_full_async_py", response_model=PredictionResponse)
async def predict_full_async_py(request: PredictionRequest):
    say("Received full async prediction request.")
    mark("start", request.item_id)
    ext = await fetch_external_data_async(request.item_id)
    pred, info = await run_in_threadpool(run_model_prediction_py, request.feature_value, request.item_id)
    return answer_job(ext, pred, info)


@app.post("/predict_sync_py", response_model=PredictionResponse)
def predict_sync_py(request: PredictionRequest):
    say("Received prediction request.")
    mark("start", request.item_id)
    ext = fetch_external_data(request.item_id)
    pred, info = run_model_prediction_py(request.feature_value, request.item_id)
    return answer_job(ext, pred, info)


@app.post("/predict_procpool", response_model=PredictionResponse)
async def predict_procpool(request: PredictionRequest):
    say("Received process-pool prediction request.")
    mark("start", request.item_id)
    ext = await fetch_external_data_async(request.item_id)
    loop = asyncio.get_running_loop()
    mark("cpu_start", request.item_id)
    pred, info = await loop.run_in_executor(POOL, pywork.predict_py, request.feature_value, *_py_args())
    mark("cpu_end", request.item_id)
    return answer_job(ext, pred, info)


@app.post("/predict_blocking_pid", response_model=PredictionResponse)
async def predict_blocking_pid(request: PredictionRequest):
    say("Received prediction request.")
    mark("start", request.item_id)
    t0 = time.perf_counter()
    ext = fetch_external_data(request.item_id)  # blocks the loop
    pred = run_model_prediction(request.feature_value, request.item_id)  # blocks the loop
    return answer_job(ext, pred, {"pid": os.getpid(), "t0": t0, "t1": time.perf_counter()})


@app.get("/pid")
async def pid():
    """Which worker process answered (uvicorn --workers study)."""
    return {"pid": os.getpid()}


@app.get("/health")
async def health():
    return {"ok": True}


@app.get("/trace")
async def trace():
    return {"marks": _trace, "iterations": _iters}


_iters: list = []


def _install_loop_trace() -> None:
    """Record each selector poll: (called, returned, events, callbacks already ready)."""
    loop = asyncio.get_running_loop()
    sel = loop._selector
    orig = sel.select

    def select(timeout=None):
        t0 = time.perf_counter()
        ready_before = len(loop._ready)
        ev = orig(timeout)
        _iters.append((t0, time.perf_counter(), len(ev), ready_before))
        return ev

    sel.select = select


def _install_uvicorn_trace() -> None:
    """Marks in uvicorn's h11 protocol: read (data_received entry/exit), task (first step of
    run_asgi), resp (http.response.start sent), done (last body chunk sent)."""
    import re

    from uvicorn.protocols.http import h11_impl

    item = re.compile(rb"\"item_id\": ?(\d+)")
    P, Cy = h11_impl.H11Protocol, h11_impl.RequestResponseCycle
    orig_dr, orig_run, orig_send = P.data_received, Cy.run_asgi, Cy.send

    def data_received(self, data):
        m = item.search(data)
        i = int(m.group(1)) if m else -1
        mark("read_in", i)
        orig_dr(self, data)
        mark("read_out", i)

    async def run_asgi(self, app):
        m = item.search(bytes(self.body))
        self._lid = int(m.group(1)) if m else -1
        mark("task", self._lid)
        try:
            return await orig_run(self, app)
        finally:
            mark("task_end", self._lid)

    async def send(self, message):
        i = getattr(self, "_lid", -1)
        if message["type"] == "http.response.start":
            mark("resp", i)
        await orig_send(self, message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            mark("done", i)

    P.data_received, Cy.run_asgi, Cy.send = data_received, run_asgi, send
