// The file a teacher carries: dist/loopscope.html (`make dist`; scripts/test.sh builds
// it before these tests), opened by a file:// URL with the network off. It loads
// nothing but itself, says that it is not cross-origin isolated (so a blocking step on
// the event loop spins, and pool threads play their sleeps on timers), and runs the
// endpoints within the same fidelity bounds as the served page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchBrowser, root, workersLeft } from './harness.mjs';

const file = path.join(root, 'dist/loopscope.html');
const s = {};

before(async () => {
  assert.ok(existsSync(file), `${file} is missing: run \`make dist\` (scripts/test.sh does)`);
  s.browser = await launchBrowser();
  s.context = await s.browser.newContext({ viewport: { width: 1280, height: 720 } });
  await s.context.setOffline(true);
  s.page = await s.context.newPage();
  s.log = [];
  s.requests = [];
  s.page.on('console', (m) => s.log.push(`[${m.type()}] ${m.text()}`));
  s.page.on('pageerror', (e) => s.log.push(`[pageerror] ${e.message}`));
  s.context.on('request', (r) => s.requests.push(r.url()));
  await s.page.goto(pathToFileURL(file).href);
  await s.page.waitForFunction(() => window.loopscope?.ready === true, null, { timeout: 20000 })
    .catch((e) => { throw new Error(`${e.message}\n${s.log.join('\n')}`); });
});

after(async () => {
  await s.browser?.close();
});

async function run(config) {
  try {
    return await s.page.evaluate((c) => window.loopscope.run(c), config);
  } catch (e) {
    throw new Error(`${e.message}\npage log:\n${s.log.join('\n')}`);
  }
}

test('the file loads from file:// offline and says blocking steps spin', async () => {
  console.log(`# dist/loopscope.html: ${(statSync(file).size / 1024).toFixed(0)} KiB`);
  assert.equal(await s.page.evaluate(() => window.crossOriginIsolated), false);
  assert.equal(await s.page.isVisible('#isolation'), true);
  assert.match(await s.page.textContent('#isolation'), /not cross-origin isolated.*spins/);
  // The page drew its timelines (the model's) on load.
  const first = await s.page.evaluate(() => performance.getEntriesByName('loopscope-first-timeline')[0]?.startTime);
  assert.ok(first > 0, 'the first timeline is drawn on load');
  console.log(`# file:// first timeline: ${first.toFixed(0)} ms after navigation start`);
});

const small = { requests: 6, concurrency: 6, io_ms: 40, cpu_ms: 80, bg_ms: 20, tokens: 40, work: 'sleep' };

for (const variant of ['blocking', 'full_async']) {
  test(`${variant} runs from the file within the fidelity bounds`, async () => {
    const { measured, fidelity } = await run({ ...small, variant });
    const detail = JSON.stringify({ checks: fidelity.checks, warnings: measured.measurement.warnings }, null, 1);
    for (const c of fidelity.checks) {
      assert.ok(c.ok, `${c.name}: expected ${c.expected}, measured ${c.measured}, tolerance ${c.tolerance}\n${detail}`);
    }
    assert.ok(fidelity.ok);
    assert.equal(measured.measurement.cross_origin_isolated, false);
    assert.equal(measured.measurement.loop_block_method, 'spin', 'without isolation a blocking step on the loop spins');
    assert.equal(measured.requests.length, small.requests);
    assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
    assert.deepEqual(await workersLeft(s.browser), []);
  });
}

// The tutorial's settings at 0.2×, as a class runs them from the file: ten pool threads
// sleep at once on two cores. Each plays its job on timers (only a loop spins), so each
// of the six runs holds within the page's own bounds.
const tutorial = { requests: 10, concurrency: 10, io_ms: 100, cpu_ms: 200, bg_ms: 40, tokens: 40, work: 'sleep' };
for (const variant of ['sync_def', 'full_async', 'background']) {
  test(`the tutorial at 0.2× from the file: ${variant}, twice, within the page's bounds`, async () => {
    for (let i = 0; i < 2; i++) {
      const { measured, fidelity } = await run({ ...tutorial, variant });
      const detail = JSON.stringify({ checks: fidelity.checks, warnings: measured.measurement.warnings }, null, 1);
      for (const c of fidelity.checks) assert.ok(c.ok, `run ${i + 1}: ${c.says}\n${detail}`);
      assert.equal(measured.stats.loop_stall_total_ms, 0, 'nothing blocks the loop');
    }
  });
}

test('the background task logs from the file too', async () => {
  await s.page.evaluate(() => window.loopscope.clearPredictionLog());
  await run({ ...small, variant: 'background', requests: 3, concurrency: 3 });
  const rows = await s.page.evaluate(() => window.loopscope.predictionLog());
  assert.equal(rows.length, 3, JSON.stringify(rows));
  console.log(`# file:// log rows stored in IndexedDB: ${rows.filter((r) => r.stored).length} of 3` +
    `${rows[0].error ? ` (${rows[0].error})` : ''}`);
});

test('from a file, what needs a SharedArrayBuffer says so and leaves the model', async () => {
  for (const config of [
    { variant: 'full_async', requests: 2, work: 'python_cpu' },
    { variant: 'blocking', requests: 2, workers: 2 },
  ]) {
    const message = await s.page.evaluate((c) => window.loopscope.run(c).then(() => 'ran', (e) => e.message), config);
    assert.match(message, /not cross-origin isolated .*the timelines show the prediction/, JSON.stringify(config));
  }
  assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
});

test('nothing but the file itself was loaded', () => {
  assert.ok(s.requests.includes(pathToFileURL(file).href), `the file's own load is seen: ${s.requests}`);
  const others = s.requests.filter((u) => !u.startsWith('blob:') && !u.startsWith('data:') && u !== pathToFileURL(file).href);
  assert.deepEqual(others, []);
});
