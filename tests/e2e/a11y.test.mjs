// Accessibility, checked by a library: axe-core (WCAG 2 A and AA, and its best
// practices) finds no violation in the Lab after "Run all five", in Present mode, and
// in the Lesson's steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { openPage, suite } from './harness.mjs';

const s = suite();
const axe = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const small = 'variant=async_io&requests=6&concurrency=6&io_ms=40&cpu_ms=80&bg_ms=20&tokens=40&work=sleep&scale=1';

async function violations(page) {
  await page.addScriptTag({ path: axe });
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join('\n  ')}`);
  });
}

async function runAll(page) {
  await page.click('[data-run="all"]');
  await page.waitForFunction(() => document.body.dataset.running === 'true', null, { timeout: 10000, polling: 20 }).catch(() => {});
  await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 60000, polling: 100 });
}

test('the Lab after Run all five: no violation', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#${small}`);
  try {
    await runAll(page);
    await page.evaluate(() => window.loopscope.seek(150));
    assert.deepEqual(await violations(page), []);
  } finally {
    await page.close();
  }
});

test('Present mode after Run all five: no violation', async () => {
  const page = await s.browser.newPage({ viewport: { width: 1920, height: 1080 } });
  try {
    await page.goto(`${s.server.url}?present=1#${small}`);
    await page.waitForFunction(() => window.loopscope?.ready === true);
    await runAll(page);
    assert.deepEqual(await violations(page), []);
  } finally {
    await page.close();
  }
});

test('the Lesson, before and after a step runs: no violation', async () => {
  const page = await s.browser.newPage({ viewport: { width: 1920, height: 1080 } });
  try {
    await page.goto(`${s.server.url}#view=lesson&step=blocking`);
    await page.waitForFunction(() => window.loopscope?.ready === true);
    assert.deepEqual(await violations(page), [], 'before it runs');
    await page.click('#lesson-run');
    await page.waitForFunction(() => document.body.dataset.running === 'true', null, { timeout: 10000, polling: 20 }).catch(() => {});
    await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 60000, polling: 100 });
    assert.deepEqual(await violations(page), [], 'after');
    await page.click('#lesson-steps [data-step="compare"]');
    assert.deepEqual(await violations(page), [], 'the side-by-side step');
  } finally {
    await page.close();
  }
});
