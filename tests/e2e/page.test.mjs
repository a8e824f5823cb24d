// The page as a person uses it: buttons, timelines, numbers, console, presets, errors.
// Served by `loopscope serve`, driven in Debian's Chromium by playwright-core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { artifacts, openPage, suite, workersLeft } from './harness.mjs';

const s = suite();
mkdirSync(artifacts, { recursive: true });

const small = '#variant=async_io&requests=6&concurrency=6&io_ms=40&cpu_ms=80&bg_ms=20&tokens=40&work=sleep&scale=1';
const VARIANTS = ['sync_def', 'blocking', 'async_io', 'full_async', 'background'];

async function waitIdle(page, timeout = 60000) {
  await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout, polling: 100 });
}

async function click(page, selector) {
  await page.click(selector);
  await page.waitForFunction(() => document.body.dataset.running === 'true' || document.querySelector('#status.error'),
    null, { timeout: 10000, polling: 20 }).catch(() => {});
  await waitIdle(page);
}

/** Pixels of one timeline's canvas: how many are not white, and how many are the solid
 * stall vermilion inside the event-loop lane (y 22–48 css px). */
function canvasStats(page, variant) {
  return page.evaluate((v) => {
    const canvas = document.querySelector(`figure[data-variant="${v}"] canvas`);
    const ctx = canvas.getContext('2d');
    const dpr = canvas.width / canvas.clientWidth;
    const all = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 0; i < all.length; i += 4) if (all[i] < 240 || all[i + 1] < 240 || all[i + 2] < 240) inked++;
    const lane = ctx.getImageData(0, Math.round(30 * dpr), canvas.width, Math.round(10 * dpr)).data;
    let stall = 0;
    for (let i = 0; i < lane.length; i += 4) {
      if (Math.abs(lane[i] - 0xd5) < 12 && Math.abs(lane[i + 1] - 0x5e) < 12 && lane[i + 2] < 20) stall++;
    }
    return { inked, stall, width: canvas.width, height: canvas.height };
  }, variant);
}

test('every variant button runs, and the page shows numbers, timeline and console', async () => {
  const { page, log } = await openPage(s.browser, s.server.url + small);
  try {
    const firstTimeline = await page.evaluate(() => performance.getEntriesByName('loopscope-first-timeline')[0]?.startTime);
    assert.ok(firstTimeline > 0, 'the first timeline is drawn on load');
    console.log(`# time to first timeline: ${firstTimeline.toFixed(0)} ms after navigation start`);
    // Before any run, rows hold the model's numbers alone, and are not marked finished.
    assert.equal(await page.$$eval('[data-testid="stats"] tr[data-variant]', (trs) => trs.length), 0);
    assert.equal(await page.$$eval('[data-testid="stats"] tr[data-model-only]', (trs) => trs.length), 5);
    for (const v of VARIANTS) {
      await click(page, `[data-run="${v}"]`);
      const status = await page.textContent('#status');
      assert.match(status, /^Done/, `${v}: ${status}\n${log.join('\n')}`);
      // The stats row: every number present, measured within the runtime's bounds of the model.
      const row = await page.$$eval(`[data-testid="stats"] tr[data-variant="${v}"] td[data-metric]`, (tds) =>
        Object.fromEntries(tds.map((td) => [td.dataset.metric, {
          measured: td.dataset.measured, predicted: td.dataset.predicted, text: td.textContent,
          ok: td.dataset.ok, says: td.title,
        }])));
      for (const metric of ['makespan_ms', 'throughput_rps', 'p50_ms', 'p95_ms', 'max_ms', 'loop_stall_total_ms',
        'loop_stall_max_ms', 'probe_stall_total_ms']) {
        assert.ok(row[metric], `${v}: ${metric} column`);
        assert.notEqual(row[metric].measured, '', `${v}: ${metric} measured`);
        assert.notEqual(row[metric].predicted, '', `${v}: ${metric} predicted`);
        assert.ok(!Number.isNaN(Number(row[metric].measured)), `${v}: ${metric} = ${row[metric].measured}`);
      }
      // Measured within the fidelity bounds of the model (src/core/model/fidelity.rs,
      // widened by the timer lateness measured on this machine; the cell says by how much).
      for (const metric of ['makespan_ms', 'loop_stall_total_ms', 'probe_stall_total_ms']) {
        assert.equal(row[metric].ok, 'true', `${v}: ${row[metric].says}`);
      }
      // The timeline: drawn, with red stall blocks exactly where the loop is blocked.
      const c = await canvasStats(page, v);
      assert.ok(c.inked > 2000, `${v}: the canvas is not blank (${c.inked} inked pixels)`);
      if (v === 'blocking' || v === 'async_io') assert.ok(c.stall > 200, `${v}: red stall blocks (${c.stall} px)`);
      if (v === 'full_async' || v === 'sync_def' || v === 'background') assert.equal(c.stall, 0, `${v}: no stall block`);
    }
    // The console, for the background endpoint: "Sending response" before the task's lines.
    await page.selectOption('#code-variant', 'background');
    const lines = await page.$$eval('#console-lines li', (lis) => lis.map((li) => li.textContent));
    assert.ok(lines.length >= 6 * 7, `console has the background run's lines (${lines.length})`);
    for (let r = 0; r < 6; r++) {
      const of = (text) => lines.findIndex((l) => l.includes(`req ${r}`) && l.includes(text));
      const order = ['Received prediction request with background task.', 'Fetching external data async for item',
        'Starting model prediction (in thread pool)...', 'Sending response (background task pending).',
        '--- Background Task Started ---', 'Logging Request:', '--- Background Task Finished ---'].map(of);
      assert.ok(order.every((i) => i >= 0), `request ${r}: every line present ${order}`);
      assert.deepEqual([...order].sort((a, b) => a - b), order, `request ${r}: tutorial order`);
    }
    // The code panel lights nothing once the run is over, and shows Python by default.
    assert.equal(await page.$$eval('#code-lines li.lit', (l) => l.length), 0);
    assert.match(await page.textContent('#code-lines'), /background_tasks\.add_task/);
    await page.click('#code-lang');
    assert.match(await page.textContent('#code-lines'), /pub async fn predict_with_background_task/);
    // Exports are offered once something was measured.
    assert.equal(await page.isDisabled('#export-csv'), false);
    const saved = async (button) => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
      return { name: download.suggestedFilename(), body: readFileSync(await download.path()) };
    };
    const csv = await saved('#export-csv');
    assert.equal(csv.name, 'loopscope-requests.csv');
    const rows = csv.body.toString().trim().split('\r\n');
    assert.match(rows[0], /^variant,source,id,.*,time_scale$/);
    assert.equal(rows.length, 1 + 5 * 2 * 6, 'a row per request, predicted and measured, for five runs');
    const json = await saved('#export-json');
    const doc = JSON.parse(json.body.toString());
    assert.deepEqual(doc.runs.map((r) => r.variant), VARIANTS);
    assert.ok(doc.runs.every((r) => r.measured.source === 'measured' && r.predicted.source === 'predicted'));
    const png = await saved('#export-png');
    assert.equal(png.name, 'loopscope-timelines.png');
    assert.deepEqual([...png.body.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.equal(await page.evaluate(() => window.loopscope.liveWorkers()), 0);
    assert.deepEqual(await workersLeft(s.browser), [], 'five runs leave no worker behind');
  } finally {
    await page.close();
  }
});

test('the code panel lights the lines requests are in while a run goes', async () => {
  const { page } = await openPage(s.browser, s.server.url +
    '#variant=blocking&requests=4&concurrency=4&io_ms=200&cpu_ms=400&bg_ms=20&tokens=40&work=sleep&scale=1');
  try {
    await page.click('[data-run="blocking"]');
    await page.waitForFunction(() => document.querySelectorAll('#code-lines li.lit').length > 0, null,
      { timeout: 5000, polling: 20 });
    const lit = await page.$$eval('#code-lines li.lit', (lis) => lis.map((li) => li.textContent));
    assert.ok(lit.some((l) => /\d+ (running|waiting)/.test(l)), `a count badge: ${lit}`);
    await waitIdle(page);
  } finally {
    await page.close();
  }
});

test('a def endpoint lights its fetch, its prediction and its response validation in turn', async () => {
  // One token, two requests: request 0 fetches and predicts in the pool, then its return
  // value waits for the token (held by request 1's endpoint) to be validated.
  const { page } = await openPage(s.browser, s.server.url +
    '#variant=sync_def&requests=2&concurrency=2&io_ms=300&cpu_ms=300&bg_ms=20&tokens=1&work=sleep&scale=1');
  try {
    await page.click('[data-run="sync_def"]');
    await page.waitForFunction(() => document.body.dataset.running === 'true');
    const seen = await page.evaluate(async () => {
      const seen = new Set();
      while (document.body.dataset.running === 'true') {
        for (const li of document.querySelectorAll('#code-lines li.lit')) seen.add(li.textContent);
        await new Promise((r) => setTimeout(r, 15));
      }
      return [...seen];
    });
    for (const line of ['= fetch_external_data(', '= run_model_prediction(', 'response_model=PredictionResponse']) {
      assert.ok(seen.some((l) => l.includes(line)), `${line} lit at some point: ${seen.join(' | ')}`);
    }
    await waitIdle(page);
  } finally {
    await page.close();
  }
});

test('a run started from the console shows on the page and holds its buttons', async () => {
  const { page } = await openPage(s.browser, s.server.url + small);
  try {
    const done = page.evaluate(() => window.loopscope.run({ variant: 'full_async', requests: 3, io_ms: 150, cpu_ms: 150 }));
    await page.waitForFunction(() => document.body.dataset.running === 'true');
    assert.equal(await page.isDisabled('[data-run="all"]'), true);
    assert.match(await page.textContent('#status'), /console/);
    const { measured } = await done;
    assert.equal(measured.requests.length, 3);
    await waitIdle(page);
    assert.equal(await page.isDisabled('[data-run="all"]'), false);
    assert.match(await page.textContent('#status'), /console's run is over/);
  } finally {
    await page.close();
  }
});

test('a preset link reproduces its config', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    await page.click('[data-preset="threadpool-exhausted"]');
    assert.equal(await page.getAttribute('[data-preset="threadpool-exhausted"]', 'aria-pressed'), 'true');
    assert.match(await page.textContent('#preset-explanation'), /\S+\. \S.*\./);
    const hash = await page.evaluate(() => location.hash);
    assert.match(hash, /preset=threadpool-exhausted/);
    const values = async (p) => p.$$eval('#settings input, #settings select', (els) => els.map((e) => `${e.name}=${e.value}`));
    const expected = await values(page);
    assert.ok(expected.includes('requests=41') && expected.includes('tokens=40'), expected.join());
    const { page: other } = await openPage(s.browser, s.server.url + hash);
    try {
      assert.deepEqual(await values(other), expected);
      assert.equal(await other.getAttribute('[data-preset="threadpool-exhausted"]', 'aria-pressed'), 'true');
    } finally {
      await other.close();
    }
  } finally {
    await page.close();
  }
});

test('an invalid input shows its message beside the field and disables the buttons', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    await page.fill('#f-requests', 'abc');
    assert.match(await page.textContent('#e-requests'), /requests/);
    assert.equal(await page.getAttribute('#f-requests', 'aria-invalid'), 'true');
    for (const v of [...VARIANTS, 'all']) assert.equal(await page.isDisabled(`[data-run="${v}"]`), true, v);
    await page.fill('#f-concurrency', '0');
    assert.match(await page.textContent('#e-concurrency'), /concurrency/);
    await page.fill('#f-requests', '10');
    await page.fill('#f-concurrency', '10');
    assert.equal(await page.textContent('#e-requests'), '');
    assert.equal(await page.isDisabled('[data-run="all"]'), false);
    await page.fill('#f-scale', '5');
    assert.match(await page.textContent('#e-scale'), /time scale/);
    assert.equal(await page.isDisabled('[data-run="all"]'), true);
    await page.fill('#f-scale', '0.2');
    assert.equal(await page.isDisabled('[data-run="all"]'), false);
  } finally {
    await page.close();
  }
});

test('a timeline can be explored from the keyboard', async () => {
  const { page } = await openPage(s.browser, s.server.url + small);
  try {
    await page.focus('figure[data-variant="async_io"] canvas');
    await page.keyboard.press('ArrowRight');
    const tip = await page.textContent('#tooltip');
    assert.match(tip, /request \d+: .* ms/);
    assert.equal(await page.isHidden('#tooltip'), false);
    await page.keyboard.press('Escape');
    assert.equal(await page.isHidden('#tooltip'), true);
  } finally {
    await page.close();
  }
});

test('Run all five on the tutorial preset at 0.2× (screenshot saved)', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    await page.click('[data-preset="tutorial"]');
    await click(page, '[data-run="all"]');
    const rows = await page.$$eval('[data-testid="stats"] tr[data-variant]', (trs) => trs.map((tr) => {
      const cell = tr.querySelector('[data-metric="makespan_ms"]');
      return [tr.dataset.variant, { ms: Number(cell.dataset.measured), predicted: Number(cell.dataset.predicted), ok: cell.dataset.ok, says: cell.title }];
    }));
    assert.deepEqual(rows.map((r) => r[0]), VARIANTS);
    const got = Object.fromEntries(rows);
    const ms = Object.fromEntries(rows.map(([v, r]) => [v, r.ms]));
    // 0.2× the tutorial: 0.3 s, 3 s, 2.1 s, 0.3 s, 0.3 s, each within the fidelity bounds.
    assert.ok(ms.blocking > ms.async_io && ms.async_io > ms.full_async, JSON.stringify(ms));
    for (const [v, expected] of [['sync_def', 300], ['blocking', 3000], ['async_io', 2100], ['full_async', 300], ['background', 300]]) {
      assert.equal(got[v].predicted, expected, v);
      assert.equal(got[v].ok, 'true', `${v}: ${got[v].says}`);
    }
    // The Lab's one sentence, from these runs: every route, the loop's blocked time for
    // the two that held it, and the rule.
    const said = await page.textContent('#lab-takeaway');
    assert.ok(await page.isVisible('#lab-takeaway'), 'the takeaway is shown');
    assert.match(said, /^Measured, last answer: \/predict_sync [\d.]+ s; \/predict_blocking [\d.]+ s, loop blocked [\d.]+ s; \/predict_async_io [\d.]+ s, loop blocked/, said);
    assert.match(said, /the Lesson's step 8\)\.$/, said);
    await page.screenshot({ path: `${artifacts}/run-all-five.png`, fullPage: true });
    // The part the README shows: the legend, the replay controls and the five timelines.
    await page.locator('#results').screenshot({ path: `${artifacts}/run-all-five-timelines.png` });
  } finally {
    await page.close();
  }
});

test('on a phone-sized screen the page still works', async () => {
  const page = await s.browser.newPage({ viewport: { width: 390, height: 844 } });
  try {
    await page.goto(s.server.url + small);
    await page.waitForFunction(() => window.loopscope?.ready === true);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no sideways scrolling of the page (${overflow}px)`);
    const width = await page.evaluate(() => document.querySelector('figure canvas').clientWidth);
    assert.ok(width > 250 && width <= 390, `the timeline fits (${width}px)`);
    await page.screenshot({ path: `${artifacts}/phone.png`, fullPage: true });
  } finally {
    await page.close();
  }
});
