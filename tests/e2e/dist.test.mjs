// The file a teacher carries: dist/loopscope.html (`make dist`; scripts/test.sh builds
// it before these tests), opened by a file:// URL with the network off. It loads
// nothing but itself, says that it is not cross-origin isolated (so blocking steps
// spin), and runs the endpoints within the same fidelity bounds as the served page.
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

// From a file, time.sleep spins: full_async runs its predictions one at a time (tokens 1),
// so no more threads spin at once than a 2-core machine with one core busy can run (six
// spinning at once shared the cores and woke up to 24 ms late; the page warns of it).
const fromFile = { blocking: {}, full_async: { tokens: 1 } };

for (const variant of ['blocking', 'full_async']) {
  test(`${variant} runs from the file within the fidelity bounds`, async () => {
    const { measured, fidelity } = await run({ ...small, ...fromFile[variant], variant });
    const detail = JSON.stringify({ checks: fidelity.checks, warnings: measured.measurement.warnings }, null, 1);
    for (const c of fidelity.checks) {
      assert.ok(c.ok, `${c.name}: expected ${c.expected}, measured ${c.measured}, tolerance ${c.tolerance}\n${detail}`);
    }
    assert.ok(fidelity.ok);
    assert.equal(measured.measurement.cross_origin_isolated, false);
    assert.equal(measured.measurement.loop_block_method, 'spin', 'without isolation a blocking step spins');
    assert.equal(measured.requests.length, small.requests);
    assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
    assert.deepEqual(await workersLeft(s.browser), []);
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
    assert.match(message, /not cross-origin isolated .*the timelines show the model's prediction/, JSON.stringify(config));
  }
  assert.equal(await s.page.evaluate(() => window.loopscope.liveWorkers()), 0);
});

test('nothing but the file itself was loaded', () => {
  assert.ok(s.requests.includes(pathToFileURL(file).href), `the file's own load is seen: ${s.requests}`);
  const others = s.requests.filter((u) => !u.startsWith('blob:') && !u.startsWith('data:') && u !== pathToFileURL(file).href);
  assert.deepEqual(others, []);
});
