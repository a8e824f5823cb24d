// Runs too big to draw a lane each: the JS API's summary and columns, the page's merged
// lanes, and zooming and panning the time axis. Functional checks only: how fast and how
// fluid is measured by `make bench` (BENCHMARKS.md), not asserted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, openPage } from './harness.mjs';

const s = suite({ page: true });
const simulate = (config, options) => s.page.evaluate(([c, o]) => window.loopscope.simulate(c, o), [config, options]);

test('simulate gives a summary of a million requests, and columns that are the rows', async () => {
  const sum = await simulate({ variant: 'full_async', requests: 1000000, concurrency: 1000, io_ms: 5, cpu_ms: 10, tokens: 40 }, { summary: true });
  assert.equal(sum.answered, 1000000);
  assert.equal(sum.histogram.reduce((a, [, n]) => a + n, 0), 1000000, 'every request in a bucket');
  assert.ok(sum.latency_ms.p50 > 0 && sum.latency_ms.p99 >= sum.latency_ms.p50);
  // Columns hold what the rows hold.
  const config = { variant: 'background', requests: 40, concurrency: 7, io_ms: 5, cpu_ms: 10, tokens: 3 };
  const rows = await simulate(config);
  const cols = await s.page.evaluate((c) => {
    const r = window.loopscope.simulate(c, { columns: true });
    const q = r.requests;
    const arrays = ['id', 'sent_ms', 'accepted_ms', 'responded_ms', 'latency_ms', 'status', 'background_done_ms', 'phase_offsets', 'phase_kind', 'phase_on', 'phase_start_ms', 'phase_end_ms']
      .every((k) => ArrayBuffer.isView(q[k]));
    const asRows = Array.from({ length: q.length }, (_, i) => ({
      id: q.id[i], sent_ms: q.sent_ms[i], responded_ms: q.responded_ms[i], status: q.status[i],
      background_done_ms: Number.isNaN(q.background_done_ms[i]) ? null : q.background_done_ms[i],
      phases: Array.from({ length: q.phase_offsets[i + 1] - q.phase_offsets[i] }, (_, k) => {
        const j = q.phase_offsets[i] + k;
        return { kind: q.phase_kinds[q.phase_kind[j]], on: q.places[q.phase_on[j]], start_ms: q.phase_start_ms[j], end_ms: q.phase_end_ms[j] };
      }),
    }));
    return { arrays, asRows, stats: r.stats, stalls: r.loop_stalls.length };
  }, config);
  assert.ok(cols.arrays, 'typed arrays');
  assert.deepEqual(cols.stats, rows.stats);
  assert.equal(cols.stalls, rows.loop_stalls.length);
  assert.deepEqual(cols.asRows, rows.requests.map((q) => ({
    id: q.id, sent_ms: q.sent_ms, responded_ms: q.responded_ms, status: q.status, background_done_ms: q.background_done_ms,
    phases: q.phases.map((p) => ({ kind: p.kind, on: p.on, start_ms: p.start_ms, end_ms: p.end_ms })),
  })));
  // Options are read as strictly as configs.
  const refusal = (o) => s.page.evaluate((o) => { try { window.loopscope.simulate({ variant: 'async_io' }, o); return 'accepted'; } catch (e) { return e.message; } }, o);
  assert.match(await refusal({ sumary: true }), /unknown option 'sumary': simulate takes summary and columns/);
  assert.match(await refusal({ summary: 'yes' }), /summary must be true or false, got 'yes' \(a string\)/);
  assert.match(await refusal({ summary: true, columns: true }), /do not go together/);
});

/** The tooltip's text with the pointer `up` px above the bottom of a timeline's canvas,
 * half way across (the canvas grows and shrinks with its lanes: measured each time). */
async function hover(page, variant, up) {
  const canvas = page.locator(`figure[data-variant="${variant}"] canvas`);
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height - up);
  return page.textContent('#tooltip');
}

test('lanes past the rows merge; zooming in on a stream gives each request its lane again', async () => {
  // ab -n 3000 -c 10 against full_async: a stream, the model alone (nothing is run).
  const hash = '#variant=full_async&requests=3000&concurrency=10&io_ms=50&cpu_ms=100&bg_ms=10&tokens=40&work=sleep&scale=1&show=full_async';
  const { page, log } = await openPage(s.browser, s.server.url + hash);
  try {
    const canvas = page.locator('figure[data-variant="full_async"] canvas');
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    // Low in the lanes: a merged row, saying how many of its requests did what.
    const merged = await hover(page, 'full_async', 20);
    assert.match(merged, /^requests \d+–\d+ \(\d+ merged in this row\) at [\d.]+ ms: .*\(predicted\); zoom in to see each/, merged);
    const reset = page.locator('figure[data-variant="full_async"] button.zoom', { hasText: 'Whole run' });
    assert.equal(await reset.isDisabled(), true, 'not zoomed yet');
    // The wheel zooms about the pointer (twice as close a notch) until the window holds
    // few enough requests for a lane each: about 25 of the 3000, some 7 notches in.
    let single = merged;
    for (let notch = 0; notch < 16 && !/^request \d+: /.test(single); notch++) {
      await page.mouse.move(box.x + box.width / 2, box.y + 40);
      await page.mouse.wheel(0, -300);
      await page.waitForTimeout(30);
      single = await hover(page, 'full_async', 21);
    }
    assert.equal(await reset.isDisabled(), false);
    assert.match(single, /^request \d+: /, `a lane each once zoomed in: ${single}`);
    // A drag pans: dragging left by 40 % of the plot shows a window later by about that.
    const windowOf = async () => (await page.getAttribute('figure[data-variant="full_async"]', 'data-window')).split(' ').map(Number);
    const [from, to] = await windowOf();
    await page.mouse.move(box.x + box.width * 0.7, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.3, box.y + 40, { steps: 5 });
    await page.mouse.up();
    const [from2, to2] = await windowOf();
    assert.ok(Math.abs(to2 - from2 - (to - from)) < 1e-6, 'the same span');
    const moved = (from2 - from) / (to - from);
    assert.ok(moved > 0.3 && moved < 0.5, `panned by ${moved} of the window`);
    // The keyboard: 0 shows the whole run, + zooms in, − out.
    await canvas.focus();
    await page.keyboard.press('0');
    assert.equal(await reset.isDisabled(), true);
    await page.keyboard.press('+');
    assert.equal(await reset.isDisabled(), false);
    await page.keyboard.press('-');
    assert.equal(await reset.isDisabled(), true, 'back out to the whole run');
    assert.deepEqual(log.filter((l) => l.includes('error')), []);
  } finally {
    await page.close();
  }
});
