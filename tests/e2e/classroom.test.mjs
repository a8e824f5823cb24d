// The teacher's pace: a finished run (or the model alone) replayed, paused and stepped,
// with the code panel, the console and the numbers at the moment shown; and what makes
// the page a classroom's: presets that say which is on, the explainer, the fitted view
// remembered in the link, and a projector mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { artifacts, openPage, suite } from './harness.mjs';

const s = suite();
mkdirSync(artifacts, { recursive: true });

// async_io, three requests at once, fetch 100 ms, predict 200 ms on the loop, at 1×:
// worked by hand from the model, 0–100 all fetch; 100–300 request 0 predicts while 1
// and 2 wait for the loop at the fetch's await; 300–500 1 predicts, 2 waits; 0 answered.
const KNOWN = '#variant=async_io&requests=3&concurrency=3&io_ms=100&cpu_ms=200&bg_ms=50&tokens=40&work=sleep&scale=1';
const FETCH = 'data = await fetch_external_data_async(request.item_id)';
const PREDICT = 'prediction = run_model_prediction(request.feature_value)';

/** The lines of the code panel with requests in them: { text: count }. */
function lit(page) {
  return page.$$eval('[data-testid="code"] [data-line]', (lis) => Object.fromEntries(lis
    .filter((li) => Number(li.dataset.count) > 0)
    .map((li) => [li.querySelector('code').textContent.trim(), Number(li.dataset.count)])));
}

test('seek and the scrubber light each line with the requests in it at that moment', async () => {
  const { page } = await openPage(s.browser, s.server.url + KNOWN);
  try {
    // Nothing measured: the model's prediction is what replays.
    assert.equal(await page.$$eval('[data-testid="code"] [data-line]', (l) => l.every((li) => li.dataset.count === '0')), true);
    await page.evaluate(() => window.loopscope.seek(50));
    assert.deepEqual(await lit(page), { [FETCH]: 3 });
    await page.evaluate(() => window.loopscope.seek(150));
    assert.deepEqual(await lit(page), { [FETCH]: 2, [PREDICT]: 1 });
    // The scrubber does the same, on its input event, in ms on the report's clock.
    await page.$eval('input[data-testid="scrubber"]', (el) => {
      el.value = '350';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    assert.deepEqual(await lit(page), { [FETCH]: 1, [PREDICT]: 1 });
    assert.equal(await page.inputValue('input[data-testid="scrubber"]'), '350');
    // The console: lines up to then, the latest marked, the rest in the future.
    const lines = await page.$$eval('[data-testid="console"] [data-t]', (lis) => lis.map((li) => ({
      t: Number(li.dataset.t), future: li.hasAttribute('data-future'), latest: li.classList.contains('latest'),
    })));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.equal(l.future, l.t > 350, JSON.stringify(l));
    const latest = lines.filter((l) => l.latest);
    assert.equal(latest.length, 1);
    assert.equal(latest[0].t, Math.max(...lines.filter((l) => l.t <= 350).map((l) => l.t)));
    // The numbers so far: one of three answered at 300 ms.
    const requests = await page.textContent('[data-testid="stats"] tr[data-model-only="async_io"] td[data-metric="requests"]');
    assert.equal(requests, '1 of 3 so far');
    // All answered: no line lit.
    await page.evaluate(() => window.loopscope.seek(800));
    assert.deepEqual(await lit(page), {});
    const err = await page.evaluate(() => { try { window.loopscope.seek('soon'); return 'ok'; } catch (e) { return e.message; } });
    assert.match(err, /seek takes a time in ms/);
  } finally {
    await page.close();
  }
});

test('clicking a console line replays from it; keys play, pause and step', async () => {
  const { page } = await openPage(s.browser, s.server.url + KNOWN);
  try {
    // A line printed at a moment of its own (the next line was printed later).
    const ts = await page.$$eval('[data-testid="console"] [data-t]', (lis) => lis.map((li) => Number(li.dataset.t)));
    const i = ts.findIndex((t, k) => k > 0 && t < ts[k + 1]);
    const t = ts[i];
    const line = `[data-testid="console"] [data-t]:nth-child(${i + 1})`;
    await page.click(line);
    assert.equal(Number(await page.inputValue('input[data-testid="scrubber"]')), t);
    assert.equal(await page.$eval(line, (li) => li.classList.contains('latest')), true);
    // `.` steps to the next moment something happened, `,` back.
    await page.focus('body');
    await page.keyboard.press('.');
    const next = Number(await page.inputValue('input[data-testid="scrubber"]'));
    assert.ok(next > t, `${next} after ${t}`);
    await page.keyboard.press(',');
    assert.equal(Number(await page.inputValue('input[data-testid="scrubber"]')), t);
    // Space plays: the time moves on; space again pauses it.
    await page.keyboard.press(' ');
    assert.equal(await page.getAttribute('#t-play', 'aria-pressed'), 'true');
    await page.waitForTimeout(300);
    await page.keyboard.press(' ');
    assert.equal(await page.getAttribute('#t-play', 'aria-pressed'), 'false');
    const played = Number(await page.inputValue('input[data-testid="scrubber"]'));
    assert.ok(played > t + 100, `played from ${t} to ${played}`);
    // A click on a bar of a timeline moves there too: the last lane's prediction,
    // 500–700 ms, starts at 500.
    const canvas = 'figure[data-variant="async_io"] canvas';
    const box = await (await page.$(canvas)).boundingBox();
    const at = await page.evaluate((c) => {
      const canvas = document.querySelector(c);
      return { w: canvas.clientWidth, h: canvas.clientHeight };
    }, canvas);
    // The timeline is fitted to its own run, 700 ms (× 1.03); the plot starts after the
    // lane labels.
    const gutter = 12 * 6.8; const plot = at.w - gutter - 12; const span = 700 * 1.03;
    await page.click(canvas, { position: { x: gutter + (600 / span) * plot, y: at.h - 6 - 12 * 0.4 } });
    assert.equal(Number(await page.inputValue('input[data-testid="scrubber"]')), 500, `canvas ${JSON.stringify(box)}`);
    // And from the keyboard: a bar focused with the arrows, Enter replays from it.
    await page.focus(canvas);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    assert.equal(Number(await page.inputValue('input[data-testid="scrubber"]')), 0, 'the first bar starts at 0');
  } finally {
    await page.close();
  }
});

test('a measured run replays on one clock, model or measurement', async () => {
  const { page } = await openPage(s.browser, s.server.url + '#variant=async_io&requests=3&concurrency=3&io_ms=40&cpu_ms=80&bg_ms=20&tokens=40&work=sleep&scale=1');
  try {
    await page.click('[data-run="all"]');
    await page.waitForFunction(() => document.body.dataset.running === 'true');
    await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 60000 });
    const max = Number(await page.getAttribute('input[data-testid="scrubber"]', 'max'));
    assert.ok(max >= 280, `the clock spans the longest run, blocking's 360 ms (got ${max})`);
    // Half way through the async_io run's second prediction (the measured one).
    await page.selectOption('#code-variant', 'async_io');
    await page.evaluate(() => window.loopscope.seek(150));
    const measured = await lit(page);
    assert.equal(Object.values(measured).reduce((a, b) => a + b, 0), 2, JSON.stringify(measured));
    await page.check('#t-model');
    await page.evaluate(() => window.loopscope.seek(150));
    assert.deepEqual(await lit(page), { [FETCH]: 1, [PREDICT]: 1 });
  } finally {
    await page.close();
  }
});

test('presets say which is on, the explainer opens once, every timeline is fitted and the overview lines them up', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    await page.click('[data-preset="blocking-async"]');
    assert.equal(await page.getAttribute('[data-preset="blocking-async"]', 'aria-pressed'), 'true');
    assert.equal(await page.getAttribute('[data-preset="tutorial"]', 'aria-pressed'), 'false');
    assert.equal(await page.$eval('[data-preset="blocking-async"]', (b) => b.classList.contains('active')), true);
    // First visit: open. Closed by the reader: closed on the next visit.
    assert.equal(await page.$eval('#explainer', (d) => d.open), true);
    await page.click('#explainer summary');
    assert.equal(await page.$eval('#explainer', (d) => d.open), false);
    // Each timeline's window is its own run; the overview puts them on one axis.
    const windows = await page.$$eval('figure[data-variant]:not([hidden])', (fs) => fs.map((f) => Number(f.dataset.window.split(' ')[1])));
    assert.ok(Math.max(...windows) > 5 * Math.min(...windows), `fitted: ${windows}`);
    assert.equal(await page.isVisible('#overview'), true);
    // The details' toggle event (which keeps the choice) comes a task after the click.
    await page.waitForFunction(() => Object.keys(localStorage).some((k) => /explainer/.test(k)));
    await page.reload();
    await page.waitForFunction(() => window.loopscope?.ready === true);
    assert.equal(await page.$eval('#explainer', (d) => d.open), false);
  } finally {
    await page.close();
  }
});

test('Present mode: the form hidden, text at least 20 px (screenshot at 1920×1080 saved)', async () => {
  const page = await s.browser.newPage({ viewport: { width: 1920, height: 1080 } });
  try {
    await page.goto(`${s.server.url}?present=1#variant=async_io&requests=10&concurrency=10&io_ms=500&cpu_ms=1000&bg_ms=200&tokens=40&work=sleep&scale=0.2&preset=tutorial`);
    await page.waitForFunction(() => window.loopscope?.ready === true);
    assert.equal(await page.$eval('body', (b) => b.classList.contains('present')), true);
    assert.equal(await page.isHidden('#settings'), true);
    assert.equal(await page.getAttribute('#present', 'aria-pressed'), 'true');
    // Every visible element that holds words of its own: none under 20 px.
    const small = () => page.evaluate(() => [...document.querySelectorAll('body *')].flatMap((el) => {
      const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join('');
      if (!own || !el.getClientRects().length || el.closest('.visually-hidden')) return [];
      const px = parseFloat(getComputedStyle(el).fontSize);
      return px < 20 ? [`<${el.tagName.toLowerCase()} class="${el.className}"> ${px}px "${own.slice(0, 30)}"`] : [];
    }));
    assert.deepEqual(await small(), []);
    await page.click('[data-run="all"]');
    await page.waitForFunction(() => document.body.dataset.running === 'true');
    await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 60000 });
    await page.evaluate(() => window.loopscope.seek(400));
    assert.deepEqual(await small(), [], 'after a run too: captions, checks, console and log rows');
    // Nothing is cut off: no button's words run past its edge.
    const clipped = await page.$$eval('button', (bs) => bs.filter((b) => b.getClientRects().length
      && (b.scrollWidth > b.clientWidth + 1)).map((b) => b.textContent.trim().slice(0, 40)));
    assert.deepEqual(clipped, []);
    await page.evaluate(() => document.getElementById('results').scrollIntoView());
    await page.screenshot({ path: `${artifacts}/present.png` });
    // Leaving Present mode brings the form back, and the address says so.
    await page.click('#present');
    assert.equal(await page.isVisible('#settings'), true);
    assert.doesNotMatch(await page.evaluate(() => location.search), /present/);
  } finally {
    await page.close();
  }
});
