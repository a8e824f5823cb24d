// The background task's database: `log_prediction_details` writes each request and its
// response to IndexedDB from the pool worker that runs it, after the response; the page
// shows the rows, keeps them across reloads, clears them, and, where IndexedDB fails,
// keeps them in memory and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, suite } from './harness.mjs';

const s = suite();

const N = 7;
const link = `#variant=background&requests=${N}&concurrency=3&io_ms=20&cpu_ms=30&bg_ms=60&tokens=2&work=sleep&scale=1`;

async function clickRun(page, selector) {
  await page.click(selector);
  await page.waitForFunction(() => document.body.dataset.running === 'true', null, { timeout: 10000, polling: 20 });
  await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 60000, polling: 100 });
}

const tableRows = (page) => page.$$eval('[data-testid="prediction-log"] tr', (trs) =>
  trs.map((tr) => ({ request: Number(tr.dataset.request), stored: tr.dataset.stored, text: tr.textContent })));

test('N background requests add exactly N rows, each written after its response and within its task', async () => {
  const { page, log } = await openPage(s.browser, s.server.url + link);
  try {
    await page.evaluate(() => window.loopscope.clearPredictionLog());
    assert.deepEqual(await page.evaluate(() => window.loopscope.predictionLog()), []);
    const { measured } = await page.evaluate((n) => window.loopscope.run({
      variant: 'background', requests: n, concurrency: 3, io_ms: 20, cpu_ms: 30, bg_ms: 60, tokens: 2, work: 'sleep',
    }), N).catch((e) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
    const rows = await page.evaluate(() => window.loopscope.predictionLog());
    assert.equal(rows.length, N, JSON.stringify(rows));
    assert.deepEqual(rows.map((r) => r.request_id).sort((a, b) => a - b), [...Array(N).keys()]);
    const newestFirst = rows.map((r) => r.written_abs_ms);
    assert.deepEqual(newestFirst, [...newestFirst].sort((a, b) => b - a), 'newest first');
    for (const row of rows) {
      const r = measured.requests[row.request_id];
      assert.equal(row.stored, true, JSON.stringify(row));
      assert.equal(row.variant, 'background');
      assert.match(row.run, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d console$/);
      assert.deepEqual(row.request, r.request, 'the request it logs is the one sent');
      assert.deepEqual(row.response, r.response, 'and the response, the one answered');
      assert.ok(row.written_ms >= r.responded_ms,
        `request ${r.id}: written at ${row.written_ms} ms, before its response at ${r.responded_ms} ms`);
      assert.ok(row.written_ms <= r.background_done_ms,
        `request ${r.id}: written at ${row.written_ms} ms, after its task ended at ${r.background_done_ms} ms`);
    }
    // The report carries the same rows.
    assert.deepEqual(measured.logged.map((e) => e.request_id).sort(), rows.map((e) => e.request_id).sort());
    // A run of another endpoint logs nothing.
    await page.evaluate(() => window.loopscope.run({ variant: 'full_async', requests: 3, io_ms: 10, cpu_ms: 10 }));
    assert.equal((await page.evaluate(() => window.loopscope.predictionLog())).length, N);
  } finally {
    await page.close();
  }
});

test('the page shows the log, keeps it across a reload, exports it, and Clear empties it', async () => {
  const { page, log } = await openPage(s.browser, s.server.url + link);
  try {
    await page.evaluate(() => window.loopscope.clearPredictionLog());
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="prediction-log"] tr').length === 0);
    assert.equal(await page.isDisabled('#log-clear'), true, 'nothing to clear');
    await clickRun(page, '[data-run="background"]');
    assert.match(await page.textContent('#status'), /^Done/, log.join('\n'));
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="prediction-log"] tr').length === n, N);
    const shown = await tableRows(page);
    assert.deepEqual(shown.map((r) => r.request).sort((a, b) => a - b), [...Array(N).keys()]);
    assert.ok(shown.every((r) => r.stored === 'true'));
    assert.deepEqual(shown.map((r) => r.request),
      (await page.evaluate(() => window.loopscope.predictionLog())).map((r) => r.request_id),
      'the table is in the log\'s order, newest first, as rows come in');
    assert.match(shown[0].text, /\/predict_with_background/);
    assert.match(shown[0].text, /page/, 'the run is named');
    assert.match(await page.textContent('#log-count'), new RegExp(`^${N} rows`));
    assert.equal(await page.isHidden('#log-problem'), true);

    await page.reload();
    await page.waitForFunction(() => window.loopscope?.ready === true);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="prediction-log"] tr').length === n, N,
      { timeout: 10000 });
    assert.deepEqual(await tableRows(page), shown, 'the same rows, in the same order, after a reload');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#log-export')]);
    assert.equal(download.suggestedFilename(), 'loopscope-prediction-log.jsonl');
    const text = await (async () => {
      const chunks = [];
      for await (const c of await download.createReadStream()) chunks.push(c);
      return Buffer.concat(chunks).toString('utf8');
    })();
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, N);
    assert.deepEqual(lines.map((l) => l.request_id), shown.map((r) => r.request), 'exported newest first');

    page.once('dialog', (d) => d.accept());
    await page.click('#log-clear');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="prediction-log"] tr').length === 0);
    assert.deepEqual(await page.evaluate(() => window.loopscope.predictionLog()), []);
    assert.match(await page.textContent('#log-count'), /No rows yet/);
  } finally {
    await page.close();
  }
});

test('with IndexedDB unavailable the run completes, the rows are kept in memory, and the page says so', async () => {
  const context = await s.browser.newContext({ viewport: { width: 1280, height: 720 } });
  // As in a private window that refuses storage: opening a database throws.
  await context.addInitScript(() => {
    IDBFactory.prototype.open = () => {
      throw new DOMException('The user denied permission to access the database.', 'SecurityError');
    };
  });
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  try {
    await page.goto(s.server.url + link);
    await page.waitForFunction(() => window.loopscope?.ready === true);
    await page.waitForFunction(() => !document.querySelector('#log-problem').hidden, null, { timeout: 5000 });
    assert.match(await page.textContent('#log-problem'), /SecurityError.*kept in this page's memory only/);
    await clickRun(page, '[data-run="background"]');
    assert.match(await page.textContent('#status'), /^Done/, log.join('\n'));
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="prediction-log"] tr').length === n, N);
    assert.ok((await tableRows(page)).every((r) => r.stored === 'false' && /memory only/.test(r.text)));
    assert.match(await page.textContent('#log-problem'),
      new RegExp(`^${N} rows could not be written to IndexedDB \\(.*SecurityError.*\\): they are kept in this page's memory only, and a reload loses them\\. Export to keep them\\.$`));
    const rows = await page.evaluate(() => window.loopscope.predictionLog());
    assert.equal(rows.length, N);
    assert.ok(rows.every((r) => r.stored === false && /SecurityError/.test(r.error)), JSON.stringify(rows[0]));
  } finally {
    await context.close();
  }
});
