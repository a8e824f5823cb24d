// What a new user hit, each reproduced: several server workers run after run with no
// panic, a huge simulate refused with a sentence (the page's wasm never traps), and a
// link's good values kept beside a bad one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite } from './harness.mjs';

const s = suite({ page: true });

/** What went wrong in the page or its workers, from its console. */
const troubles = () => s.log.filter((l) => /panicked|unreachable|RuntimeError|recursively or after being dropped|\[pageerror\]/.test(l));

async function waitIdle(page, timeout = 120000) {
  await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout, polling: 100 });
}

test('four server workers, run after run: no panic and no failed run', async () => {
  // The workers preset's blocking endpoint (at its time scale 0.5), with 40 requests
  // rather than its 16, through the JS API.
  const config = { variant: 'blocking', workers: 4, requests: 40, concurrency: 8, io_ms: 50, cpu_ms: 75, tokens: 40 };
  for (let i = 0; i < 12; i++) {
    const outcome = await s.page.evaluate((c) => window.loopscope.run(c).then(
      (r) => ({ ok: true, answered: r.measured.requests.length }), (e) => ({ ok: false, message: e.message })), config);
    assert.ok(outcome.ok, `run ${i + 1}: ${outcome.message}\n${troubles().join('\n')}`);
    assert.equal(outcome.answered, 40);
  }
  // The page's own "Run all" on the preset, six times over.
  await s.page.click('[data-preset="workers"]');
  for (let i = 0; i < 6; i++) {
    await s.page.click('[data-run="all"]');
    await s.page.waitForFunction(() => document.body.dataset.running === 'true', null, { timeout: 10000, polling: 20 }).catch(() => {});
    await waitIdle(s.page);
    const status = await s.page.textContent('#status');
    assert.match(status, /^Done/, `Run all ${i + 1}: ${status}\n${troubles().join('\n')}`);
  }
  assert.deepEqual(troubles(), []);
  assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
});

test('a huge simulate is refused with a sentence, and the page still answers afterwards', async () => {
  const huge = await s.page.evaluate(() => {
    try {
      window.loopscope.simulate({ variant: 'full_async', requests: 1e7 }, { summary: true });
      return 'answered';
    } catch (e) {
      return { message: e.message, problems: e.problems };
    }
  });
  assert.notEqual(huge, 'answered');
  assert.match(huge.message, /concurrency must be a whole number from 1 to 1000000 for a summary/);
  assert.deepEqual(huge.problems.map((p) => p.field), ['concurrency']);
  // Two million from a thousand clients is answered.
  const big = await s.page.evaluate(() => window.loopscope.simulate(
    { variant: 'blocking', requests: 2e6, concurrency: 1000, io_ms: 1, cpu_ms: 1 }, { summary: true }).answered);
  assert.equal(big, 2e6);
  // And everything still works.
  assert.deepEqual(await s.page.evaluate(() => window.loopscope.problems({ variant: 'sync_def', requests: 3 })), []);
  const makespan = await s.page.evaluate(() => window.loopscope.simulate({ variant: 'sync_def', requests: 3 }).stats.makespan_ms);
  assert.equal(makespan, 1500);
  assert.deepEqual(troubles(), []);
});
