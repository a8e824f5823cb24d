// Past the tutorial, measured in the browser against the model: pure-Python work on a
// real GIL, a process pool, a task queue, several server workers sharing one accept
// queue, and FastAPI's per-request overhead. Each within the fidelity bounds of its
// prediction (src/core/fidelity.rs), and each showing what makes it what it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, workersLeft } from './harness.mjs';

const s = suite({ page: true });

async function run(config) {
  try {
    return await s.page.evaluate((c) => window.loopscope.run(c), config);
  } catch (e) {
    throw new Error(`${e.message}\npage log:\n${s.log.slice(-20).join('\n')}`);
  }
}

function withinBounds({ fidelity, measured }) {
  const detail = JSON.stringify({ reference: fidelity.reference, checks: fidelity.checks, warnings: measured.measurement.warnings }, null, 1);
  for (const c of fidelity.checks) assert.ok(c.ok, `${c.says}\n${detail}`);
  assert.ok(fidelity.ok);
}

const answers = (r) => r.requests.map((q) => q.responded_ms);
const phases = (r, kind, on) => r.requests.flatMap((q) => q.phases.filter((p) => p.kind === kind && p.on === on));

test('pure-Python predictions in the threadpool take turns on a real GIL: no parallelism', async () => {
  const config = { variant: 'full_async', requests: 4, concurrency: 4, io_ms: 30, cpu_ms: 50, tokens: 40, work: 'python_cpu' };
  const result = await run(config);
  withinBounds(result);
  const { measured, predicted } = result;
  assert.equal(measured.measurement.gil, true, 'a real GIL was taken');
  // The model's closed form: every answer at io + N·cpu, the loop waiting its turn.
  assert.deepEqual(answers(predicted), [230, 230, 230, 230]);
  assert.ok(Math.max(...answers(measured)) >= 225, answers(measured).join());
  // Each prediction computed in slices: it waited for the GIL between them.
  assert.ok(phases(measured, 'gil_wait', 'pool').length >= 4, 'threads waited for the GIL');
  // The model's loop waits for its GIL when a result comes back while a thread computes:
  // lag with no blocking call. A real run usually shows it too, but not in every order
  // the machine can produce (the GIL may be free the moment the loop wakes), so the run
  // is held only to reporting its waits, a list even when empty.
  assert.ok(predicted.loop_gil_waits.length >= 1 && predicted.stats.loop_gil_wait_total_ms > 0,
    'the event loop waits for its GIL in the model');
  assert.ok(Array.isArray(measured.loop_gil_waits), 'the run reports its loop GIL waits');
  assert.equal(measured.stats.loop_stall_total_ms, 0, 'and no stall: nothing blocked the loop');
  // The same with time.sleep: the threads overlap, all four answer at io + cpu.
  // (Within the bounds of its own prediction, io + cpu = 80 ms, which this machine's
  // measured lateness widens: no fixed limit that a busy machine could miss.)
  const sleep = await run({ ...config, work: 'sleep' });
  withinBounds(sleep);
  assert.deepEqual(answers(sleep.predicted), [80, 80, 80, 80]);
  assert.ok(Math.max(...answers(sleep.measured)) < Math.max(...answers(measured)) - 100,
    `${answers(sleep.measured).join()} vs ${answers(measured).join()}`);
  assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
  assert.deepEqual(await workersLeft(s.browser), []);
});

test('a process pool runs the predictions P at a time, in processes of their own', async () => {
  const config = { variant: 'process_pool', requests: 6, concurrency: 6, io_ms: 30, cpu_ms: 50, processes: 2, pickle_ms: 2, work: 'python_cpu' };
  const result = await run(config);
  withinBounds(result);
  const { measured } = result;
  assert.equal(measured.measurement.process_workers, 2);
  assert.equal(measured.measurement.pool_workers, 0, 'run_in_executor takes no threadpool token');
  assert.equal(phases(measured, 'cpu', 'process').length, 6);
  assert.equal(phases(measured, 'gil_wait', 'pool').length, 0);
  // Three rounds of two: io + 3·(pickling + cpu), as predicted; measured within the
  // bounds above, and never sooner than three rounds.
  assert.equal(Math.max(...answers(result.predicted)), 30 + 3 * 52);
  const sorted = answers(measured).sort((a, b) => a - b);
  assert.ok(sorted[5] > 2.9 * 52 + 30, sorted.join());
  assert.ok(phases(measured, 'queued', 'process').length >= 4, 'the later ones waited for a free process');
});

test('a task queue frees the tokens background tasks hold', async () => {
  // The example, the log shortened: 4 requests from 2 clients, tokens 2.
  const config = { requests: 4, concurrency: 2, tokens: 2, io_ms: 50, cpu_ms: 100, bg_ms: 300 };
  const bg = await run({ ...config, variant: 'background' });
  const tq = await run({ ...config, variant: 'task_queue', queue_workers: 2 });
  withinBounds(bg);
  withinBounds(tq);
  const second = (r) => answers(r).sort((a, b) => a - b)[2];
  assert.deepEqual([second(bg.predicted), second(tq.predicted)], [550, 300]);
  assert.ok(second(tq.measured) < second(bg.measured) - 150, `${second(tq.measured)} vs ${second(bg.measured)}`);
  // The log jobs ran in the queue workers, after their answers, and each request says when.
  assert.equal(tq.measured.measurement.queue_workers, 2);
  assert.equal(phases(tq.measured, 'background', 'queue').length, 4);
  for (const q of tq.measured.requests) {
    assert.ok(q.background_done_ms >= q.responded_ms + 300 - 1, `request ${q.id}`);
  }
  assert.equal(phases(tq.measured, 'background', 'pool').length, 0);
  assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
  assert.deepEqual(await workersLeft(s.browser), []);
});

test('with several server workers, the one that takes a burst has a thread for each request', async () => {
  // The first idle worker takes all 8; its limiter (40 tokens) lets all 8 jobs run at once.
  const burst = await run({ variant: 'full_async', requests: 8, concurrency: 8, workers: 2, io_ms: 20, cpu_ms: 40 });
  withinBounds(burst);
  assert.deepEqual(answers(burst.predicted), Array(8).fill(60));
  assert.equal(burst.measured.measurement.pool_workers, 2 * 8, 'each worker has a thread per request');
  assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
  assert.deepEqual(await workersLeft(s.browser), []);
});

test('several server workers share one accept queue: a burst lands on one of them', async () => {
  const burst = await run({ variant: 'blocking', requests: 6, concurrency: 6, workers: 3, io_ms: 20, cpu_ms: 30 });
  withinBounds(burst);
  assert.match(burst.fidelity.reference, /which server worker accepted each request/);
  const took = new Set(burst.measured.requests.map((q) => q.worker ?? 0));
  assert.equal(took.size, 1, `one worker took the whole burst: ${[...took]}`);
  assert.ok(Math.max(...answers(burst.measured)) >= 6 * 50 - 5, 'one after another, as on one worker');
  // A stream spreads: a client's next connection finds a blocked worker and goes elsewhere.
  const stream = await run({ variant: 'blocking', requests: 16, concurrency: 4, workers: 3, io_ms: 20, cpu_ms: 30 });
  withinBounds(stream);
  assert.ok(new Set(stream.measured.requests.map((q) => q.worker ?? 0)).size >= 2);
  // Sooner than one worker would answer them (16 × 50 ms), as predicted; measured
  // within the bounds of that prediction.
  assert.ok(Math.max(...answers(stream.predicted)) < 16 * 50 * 0.7, answers(stream.predicted).join());
  assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
  assert.deepEqual(await workersLeft(s.browser), []);
});

test("FastAPI's per-request overhead is spent on the loop, as the model charges it", async () => {
  const result = await run({ variant: 'async_io', requests: 6, concurrency: 3, io_ms: 25, cpu_ms: 50, overhead_ms: 2 });
  withinBounds(result);
  // Request 3, sent as request 0 is answered, arrives while the loop runs request 1's
  // prediction, and is read only after it: a blocked loop reads nothing. (After request
  // 2's too, in the model; here when their fetch timers, started 0.1 ms apart by the
  // overhead on a warm loop, come due in one poll, which a wake-up 0.1 ms late decides:
  // real uvicorn has the same two outcomes, R1 of docs/calibration/asyncio-uvicorn.md.)
  const r3 = result.measured.requests[3];
  assert.ok(r3.accepted_ms > result.measured.requests[1].responded_ms - 5, `${r3.accepted_ms}`);
});

test('the page: presets past the tutorial show what they compare, and the link keeps it', async () => {
  const { openPage } = await import('./harness.mjs');
  const { page, log } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    const visible = () => page.$$eval('figure[data-variant]', (fs) => fs.filter((f) => !f.hidden).map((f) => f.dataset.variant));
    assert.deepEqual(await visible(), ['sync_def', 'blocking', 'async_io', 'full_async', 'background']);
    assert.match(await page.textContent('[data-run="all"]'), /^Run all five/);
    await page.click('[data-preset="background-load"]');
    assert.deepEqual(await visible(), ['full_async', 'background', 'task_queue']);
    assert.match(await page.textContent('[data-run="all"]'), /^Run all three/);
    assert.equal(await page.isVisible('[data-run="task_queue"]'), true);
    assert.equal(await page.isVisible('[data-run="blocking"]'), false);
    let hash = await page.evaluate(() => location.hash);
    assert.match(hash, /&queue_workers=10/);
    assert.match(hash, /&show=full_async\.background\.task_queue/);
    // The reader adds an endpoint: shown, and in the link.
    await page.check('[data-show="sync_def"]');
    assert.deepEqual(await visible(), ['sync_def', 'full_async', 'background', 'task_queue']);
    hash = await page.evaluate(() => location.hash);
    assert.match(hash, /&show=sync_def\.full_async\.background\.task_queue/);
    // The new fields are read by the same rules as the others.
    await page.fill('#f-processes', '0');
    assert.match(await page.textContent('#e-processes'), /^processes must be a whole number from 1 to 16 in a browser run/);
    assert.equal(await page.isDisabled('[data-run="task_queue"]'), true);
    await page.fill('#f-processes', '4');
    assert.equal(await page.textContent('#e-processes'), '');
    // The model: ideal, or as measured on real FastAPI.
    const models = await page.$$eval('#f-overhead_ms option', (os) => os.map((o) => o.textContent));
    assert.equal(models.length, 2);
    assert.match(models[0], /^ideal/);
    assert.match(models[1], /^as measured on FastAPI \d/);
    // The legend names only what the timelines can show: no GIL or process colours
    // for the tutorial's sleeps, both once the work is pure Python with a process pool.
    const legend = () => page.$$eval('#legend [data-swatch]', (lis) => lis.map((l) => l.dataset.swatch)
      .filter((s) => ['gil-wait', 'loop-gil', 'cpu-process'].includes(s)).length);
    assert.equal(await legend(), 0);
    // CPU-bound Python: run the process pool from its button, and its numbers come.
    await page.click('[data-preset="cpu-python"]');
    assert.equal(await legend(), 3);
    assert.equal(await page.inputValue('#f-work'), 'python_cpu');
    await page.click('[data-run="process_pool"]');
    await page.waitForFunction(() => document.body.dataset.running === 'true', null, { timeout: 10000 });
    await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 60000 });
    assert.match(await page.textContent('#status'), /^Done/, log.join('\n'));
    assert.ok(await page.$('[data-testid="stats"] tr[data-variant="process_pool"] td[data-metric="makespan_ms"][data-measured]'));
    // The pool is sized to this machine's cores (at most the preset's four), and says so.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const processes = Math.min(4, cores);
    assert.match(await page.textContent('[data-testid="code"]'), new RegExp(`ProcessPoolExecutor\\(max_workers=${processes}\\)`));
    if (processes < 4) assert.match(await page.textContent('#preset-explanation'), new RegExp(`the pool here has ${processes} processes`));
  } finally {
    await page.close();
  }
});
