// Inside the event loop: the model's queues through the JS API (loopState, iterations),
// the page's panel at a moment, and a step through the loop's iterations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, suite } from './harness.mjs';

const s = suite({ page: true });

test('loopState gives asyncio\'s timers and anyio\'s tokens at each moment', async () => {
  const config = { variant: 'full_async', requests: 10, concurrency: 10, io_ms: 100, cpu_ms: 200, tokens: 4 };
  const rows = await s.page.evaluate((c) => [50, 150, 350, 550, 750].map((t) => {
    const st = window.loopscope.loopState(c, t);
    return {
      t,
      timers: st.timers.filter((x) => x.request !== null).length,
      borrowed: st.pool.borrowed,
      waiting: st.pool.waiting.length,
      ready: Array.isArray(st.ready),
    };
  }), config);
  assert.deepEqual(rows.map((r) => [r.t, r.borrowed, r.waiting]), [[50, 0, 0], [150, 4, 6], [350, 4, 2], [550, 2, 0], [750, 0, 0]]);
  assert.deepEqual(rows.slice(0, 4).map((r) => r.timers), [10, 0, 0, 0]);
  assert.ok(rows.every((r) => r.ready));
  const iterations = await s.page.evaluate((c) => window.loopscope.iterations(c), config);
  assert.ok(iterations.length > 5);
  assert.match(iterations[0].ran[0].what, /^read request 0/);
  assert.equal(iterations[0].ran[0].kind, 'read');
});

test('loopState refuses bad input with a sentence naming it', async () => {
  const errors = await s.page.evaluate(() => {
    const msg = (f) => { try { f(); return 'answered'; } catch (e) { return e.message; } };
    return [
      msg(() => window.loopscope.loopState({ variant: 'full_async' }, 'soon')),
      msg(() => window.loopscope.loopState({ variant: 'full_async', workers: 2 }, 10, 5)),
      msg(() => window.loopscope.iterations({ variant: 'sync_def', requests: 5000 })),
    ];
  });
  assert.match(errors[0], /loopState takes a time in ms, got 'soon' \(a string\)/);
  assert.match(errors[1], /worker must be from 0 to 1, got 5/);
  assert.match(errors[2], /requests must be at most 2000 to trace/);
});

test('the panel says why the 41st request waits, and ] steps one iteration of the loop', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab&preset=threadpool-exhausted&show=sync_def`);
  try {
    await page.selectOption('#code-variant', 'sync_def');
    // The prediction at a moment: all 40 tokens lent, req 40 first in line.
    await page.check('#t-model');
    await page.evaluate(() => window.loopscope.seek(100));
    const pool = await page.locator('#inside-parts .part', { hasText: 'Threadpool' }).textContent();
    assert.match(pool, /all 40 tokens lent; 1 waiting for one/);
    assert.match(pool, /lent to req 0–39/);
    assert.match(pool, /in line for a token, first come first served: req 40/);
    assert.match(await page.textContent('#inside-note'), /the model's loop at/);
    // An iteration at a time: what it polled, the timers it found due, what it ran.
    await page.evaluate(() => window.loopscope.seek(0));
    await page.locator('body').press(']');
    await page.waitForSelector('#inside-iteration:not([hidden])');
    const first = await page.textContent('#inside-iteration');
    await page.click('#i-next');
    const second = await page.textContent('#inside-iteration');
    assert.notEqual(first, second);
    assert.match(second, /^Iteration \d+ at /);
    assert.match(second, /1\. /);
    await page.click('#i-prev');
    assert.equal(await page.textContent('#inside-iteration'), first);
    // Moving the clock elsewhere leaves the iteration for the moment.
    await page.evaluate(() => window.loopscope.seek(1500));
    assert.equal(await page.isHidden('#inside-iteration'), true);
  } finally {
    await page.close();
  }
});
