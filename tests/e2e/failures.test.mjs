// When things go wrong: a job that raises, a pool worker that dies, a run cancelled
// half way. The run completes (or stops) cleanly, says what happened, shows what it
// measured, and leaves no worker behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, workersLeft } from './harness.mjs';

const s = suite({ page: true });

const small = { io_ms: 30, cpu_ms: 60, bg_ms: 20, tokens: 2, work: 'sleep' };

test('a job that raises and a worker that dies each end one request as a 500; the rest complete', async () => {
  for (const variant of ['full_async', 'sync_def', 'background']) {
    const config = { ...small, variant, requests: 6, concurrency: 6 };
    const { predicted, measured } = await s.page.evaluate(
      (c) => window.loopscope.run(c, { faults: { raise_in: [1], crash_in: [3] } }), config)
      .catch((e) => { throw new Error(`${e.message}\n${s.log.join('\n')}`); });
    const status = measured.requests.map((r) => r.status);
    assert.deepEqual(status, [200, 500, 200, 500, 200, 200], variant);
    assert.deepEqual(predicted.requests.map((r) => r.status), status, `${variant}: the model predicts them`);
    assert.equal(measured.stats.failed, 2);
    assert.match(measured.requests[1].error, /^ValueError/);
    assert.match(measured.requests[3].error, /the pool thread running the job died/);
    for (const r of measured.requests) {
      if (r.status === 200) assert.equal(r.response.prediction, r.request.feature_value * 2, `${variant} ${r.id}`);
      else assert.equal(r.response, null);
    }
    const errorsLogged = measured.console.filter((l) => l.line.startsWith('ERROR:')).map((l) => l.request);
    assert.deepEqual(errorsLogged.sort(), [1, 3]);
    if (variant === 'background') {
      assert.equal(measured.requests[1].background_done_ms, null, 'a request that raised runs no log task');
      assert.ok(measured.requests[0].background_done_ms > 0);
    }
    // The dead worker was replaced and every worker, the replacement too, is gone.
    assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
    assert.deepEqual(await workersLeft(s.browser), []);
  }
});

test('faults are checked like any other option', async () => {
  const refusal = (config, options) => s.page.evaluate(([c, o]) => window.loopscope.run(c, o)
    .then(() => 'resolved', (e) => e.message), [config, options]);
  assert.match(await refusal({ variant: 'async_io', requests: 2 }, { faults: { raise_in: [0] } }),
    /faults fail a threadpool job, and async_io runs none/);
  assert.match(await refusal({ variant: 'full_async', requests: 2 }, { faults: { crash_in: [2] } }),
    /faults.crash_in names request 2, but the run has 2/);
  assert.match(await refusal({ variant: 'full_async', requests: 2 }, { fault: {} }), /unknown option 'fault'/);
});

test('a console run can be cancelled, and says what it measured so far', async () => {
  const outcome = s.page.evaluate(() => window.loopscope.run({
    variant: 'blocking', requests: 10, io_ms: 100, cpu_ms: 200, bg_ms: 20,
  }).then(() => ({ resolved: true }), (e) => ({ message: e.message, partial: e.partial, predicted: e.predicted })));
  await s.page.waitForFunction(() => window.loopscope.isRunning());
  await s.page.waitForTimeout(700); // about two requests in
  assert.equal(await s.page.evaluate(() => window.loopscope.cancel()), true);
  const { message, partial, predicted } = await outcome;
  assert.match(message, /^the run was cancelled \d\.\d s in: \d+ of 10 requests answered$/);
  assert.ok(partial.cut_short.answered >= 1 && partial.cut_short.answered < 10, JSON.stringify(partial.cut_short));
  assert.equal(partial.requests.length, partial.cut_short.answered);
  assert.equal(predicted.requests.length, 10);
  assert.equal(await s.page.evaluate(() => window.loopscope.isRunning()), false);
  assert.equal(await s.page.evaluate(() => window.loopscope.cancel()), false, 'nothing left to cancel');
  assert.deepEqual(await workersLeft(s.browser), []);
});

test('the page cancels a long run from its button or Esc, and draws it cut short', async () => {
  const p = await s.browser.newPage({ viewport: { width: 1280, height: 900 } });
  try {
    await p.goto(`${s.server.url}#variant=blocking&requests=10&concurrency=10&io_ms=100&cpu_ms=200&bg_ms=20&tokens=40&work=sleep&scale=1`);
    await p.waitForFunction(() => window.loopscope?.ready === true);
    assert.equal(await p.isHidden('#cancel'), true, 'no Cancel before a run');
    await p.click('[data-run="blocking"]');
    await p.waitForFunction(() => document.body.dataset.running === 'true');
    assert.equal(await p.isVisible('#cancel'), true);
    await p.waitForTimeout(700);
    await p.click('#cancel');
    await p.waitForFunction(() => document.body.dataset.running === 'false');
    assert.match(await p.textContent('#status'), /^Cancelled POST \/predict_blocking .* in, in the tutorial's time \(.* of the run as played\): what it measured so far is drawn, cut short/);
    assert.match(await p.textContent('figure[data-variant="blocking"] figcaption'), /cancelled .* in \(the tutorial's time\): \d+ of 10 requests answered/);
    assert.equal(await p.isHidden('#cancel'), true);
    // Esc does the same, from anywhere on the page.
    await p.click('[data-run="blocking"]');
    await p.waitForFunction(() => document.body.dataset.running === 'true');
    await p.waitForTimeout(400);
    await p.keyboard.press('Escape');
    await p.waitForFunction(() => document.body.dataset.running === 'false');
    assert.match(await p.textContent('#status'), /^Cancelled/);
    assert.deepEqual(await workersLeft(s.browser), []);
  } finally {
    await p.close();
  }
});
