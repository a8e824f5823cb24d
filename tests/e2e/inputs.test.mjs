// Every input gets one clear answer, wherever it comes from: the form, a preset, a
// link, the JS API. The rules live once, in the core (src/core/model/config.rs); these
// tests try them as a new user would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, suite } from './harness.mjs';

const s = suite();

const RANGE = 'must be a whole number from 1 to 100000, got';

async function errors(page) {
  return page.$$eval('#settings .error', (els) => Object.fromEntries(
    els.filter((e) => e.textContent).map((e) => [e.id.slice(2), e.textContent])));
}

test('a preset clears the errors of the values it replaces', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    await page.fill('#f-requests', '3'); // concurrency 10 is now too many
    assert.match((await errors(page)).concurrency, /cannot exceed requests/);
    assert.equal(await page.isDisabled('[data-run="all"]'), true);
    await page.click('[data-preset="tutorial"]');
    assert.deepEqual(await errors(page), {});
    assert.equal(await page.inputValue('#f-requests'), '10');
    assert.equal(await page.inputValue('#f-concurrency'), '10');
    assert.equal(await page.getAttribute('#f-concurrency', 'aria-invalid'), 'false');
    assert.equal(await page.isDisabled('[data-run="all"]'), false);
    assert.doesNotMatch(await page.textContent('#status'), /Fix the highlighted field/);
    // The threadpool's size is past the tutorial: in the form's closed part.
    assert.equal(await page.isVisible('#f-tokens'), false);
    await page.click('#beyond summary');
    await page.fill('#f-tokens', 'abc');
    assert.match((await errors(page)).tokens, /got 'abc'/);
    await page.click('[data-preset="def-endpoint"]');
    assert.deepEqual(await errors(page), {});
    assert.equal(await page.isDisabled('[data-run="sync_def"]'), false);
  } finally {
    await page.close();
  }
});

test('the form states one range for every bad count, and reads numbers one way', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    for (const [value, shown] of [['-1', '-1'], ['0', '0'], ['100001', '100001'], ['2.5', '2.5'], ['Infinity', 'Infinity']]) {
      await page.fill('#f-requests', value);
      assert.equal((await errors(page)).requests, `requests ${RANGE} ${shown}`);
    }
    await page.fill('#f-requests', '10');
    for (const value of ['-1', '0']) {
      await page.fill('#f-concurrency', value);
      assert.equal((await errors(page)).concurrency, `concurrency ${RANGE} ${value}`);
    }
    // 1e2 is 100 for a count and for a duration alike.
    await page.fill('#f-requests', '1e2');
    await page.fill('#f-concurrency', '1e2');
    await page.fill('#f-io_ms', '1e2');
    assert.deepEqual(await errors(page), {});
    assert.match(await page.evaluate(() => location.hash), /requests=100&concurrency=100&io_ms=100&/);
    await page.fill('#f-io_ms', 'Infinity');
    assert.match((await errors(page)).io_ms, /got Infinity$/);
  } finally {
    await page.close();
  }
});

test('the JS API answers bad configs with the same sentences, and refuses what it cannot read', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#view=lab`);
  try {
    const refusal = (config) => page.evaluate((c) => window.loopscope.run(c)
      .then(() => 'resolved', (e) => e.message), config);
    for (const [requests, shown] of [[-1, '-1'], [1.5, '1.5'], ['10', "'10' (a string)"], [NaN, 'NaN']]) {
      assert.equal(await refusal({ requests }), `invalid config: requests ${RANGE} ${shown}`);
    }
    assert.match(await refusal({ request: 5 }), /unknown field 'request' \(did you mean 'requests'\?\)/);
    // The fields past the tutorial answer by the same rules (the browser's own limits).
    assert.equal(await refusal({ processes: 0 }), 'invalid config: processes must be a whole number from 1 to 16 in a browser run (the model alone takes up to 1024), got 0');
    assert.equal(await refusal({ workers: 99 }), 'invalid config: workers must be a whole number from 1 to 8 in a browser run (the model alone takes up to 64), got 99');
    assert.equal(await refusal({ overhead_ms: 'x' }), "invalid config: overhead_ms must be a number of milliseconds from 0 to 1000, got 'x' (a string)");
    assert.equal(await refusal({ pickle_ms: -1 }), 'invalid config: pickle_ms must be a number of milliseconds from 0 to 1000, got -1');
    assert.equal(await refusal({ work: 'gpu' }), "invalid config: work must be one of 'sleep', 'compute', 'python_cpu', got 'gpu'");
    for (const bad of [null, 'async_io', 5]) {
      assert.match(await refusal(bad), /a config must be an object such as \{variant: "async_io", requests: 10\}, got/);
    }
    assert.equal(await page.evaluate(() => window.loopscope.run().then(() => 'resolved', (e) => e.message)),
      'invalid config: a config must be an object such as {variant: "async_io", requests: 10}, got nothing');
    // problems() lists every problem and never throws.
    const problems = await page.evaluate(() => window.loopscope.problems({ requests: -1, io_ms: 'x', colour: 'red' }));
    assert.deepEqual(problems.map((p) => p.field), ['config', 'requests', 'io_ms']);
    assert.deepEqual(await page.evaluate(() => window.loopscope.problems({ variant: 'blocking', requests: 3 })), []);
    assert.equal((await page.evaluate(() => window.loopscope.problems(null))).length, 1);
    // Whatever was given is quoted as given: a BigInt, a string to seek to.
    const big = await page.evaluate(() => window.loopscope.problems({ requests: 10n }));
    assert.equal(big[0].message, `requests ${RANGE} 10n (a BigInt)`);
    assert.equal(await page.evaluate(() => { try { window.loopscope.seek('abc'); return 'sought'; } catch (e) { return e.message; } }),
      "seek takes a time in ms, got 'abc' (a string)");
    // A time scale, as the page's form has it: the durations times the scale.
    const scaled = await page.evaluate(() => window.loopscope.simulate({ variant: 'sync_def', requests: 2, scale: 0.2 }).config);
    assert.deepEqual([scaled.io_ms, scaled.cpu_ms, scaled.bg_ms], [100, 200, 40]);
    assert.match(await refusal({ scale: 5 }), /time scale must be a number from 0.1 to 2, got 5/);
    assert.match(await refusal({ bg_ms: 1, scale: 0.5 }), /bg_ms at time scale 0.5 is 0.5 ms, below the 1 ms a browser run can time/);
    // The rejection carries the same list.
    const carried = await page.evaluate(() => window.loopscope.run({ requests: 0, tokens: 0 }).catch((e) => e.problems));
    assert.deepEqual(carried.map((p) => p.field), ['requests', 'tokens']);
    assert.equal(await page.evaluate(() => window.loopscope.isRunning()), false);
    // Nothing was run by any of that.
    assert.equal(await page.evaluate(() => window.loopscope.liveWorkers()), 0);
  } finally {
    await page.close();
  }
});

test('a link\'s values land in the form as given, each bad one flagged beside its field', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#scale=abc&tokens=-5&io_ms=NaN`);
  try {
    assert.match(await page.textContent('#e-io_ms'), /io_ms must be/);
    assert.match(await page.textContent('#e-tokens'), /tokens must be/);
    assert.match(await page.textContent('#e-scale'), /time scale must be/);
    assert.equal(await page.inputValue('#f-scale'), 'abc', 'as given, to be fixed where it stands');
    assert.equal(await page.inputValue('#f-tokens'), '-5');
    assert.equal(await page.getAttribute('#f-tokens', 'aria-invalid'), 'true');
    assert.ok(await page.isDisabled('[data-run="all"]'), 'the run buttons wait until the values are fixed');
    await page.fill('#f-scale', '1');
    await page.fill('#f-tokens', '40');
    await page.fill('#f-io_ms', '500');
    await page.waitForFunction(() => !document.querySelector('[data-run="all"]').disabled);
    assert.match(await page.evaluate(() => location.hash), /tokens=40.*scale=1/);
  } finally {
    await page.close();
  }
});

test('a link keeps its good values beside a bad one, and names a repeated key', async () => {
  const { page } = await openPage(s.browser,
    `${s.server.url}#requests=7&concurrency=3&io_ms=40&cpu_ms=60&bg_ms=1&scale=0.5&requests=7`);
  try {
    const form = {};
    for (const f of ['requests', 'concurrency', 'io_ms', 'cpu_ms', 'bg_ms', 'scale']) form[f] = await page.inputValue(`#f-${f}`);
    assert.deepEqual(form, { requests: '7', concurrency: '3', io_ms: '40', cpu_ms: '60', bg_ms: '1', scale: '0.5' });
    assert.match(await page.textContent('#e-bg_ms'), /bg_ms/);
    for (const f of ['requests', 'concurrency', 'io_ms', 'cpu_ms', 'scale']) {
      assert.equal(await page.textContent(`#e-${f}`), '', `${f} is fine`);
    }
    assert.match(await page.textContent('#status'), /gives requests more than once \('7' and then '7'\)/);
  } finally {
    await page.close();
  }
});

test('the hidden-page refusal goes away once the page is visible again', async () => {
  const { page } = await openPage(s.browser, `${s.server.url}#variant=full_async&requests=2&concurrency=2&io_ms=20&cpu_ms=20&bg_ms=20&tokens=40&work=sleep&scale=1`);
  try {
    await page.evaluate(() => Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }));
    await page.click('[data-run="full_async"]');
    await page.waitForFunction(() => /page is hidden/.test(document.getElementById('status').textContent));
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    const status = await page.textContent('#status');
    assert.doesNotMatch(status, /hidden/);
    assert.match(status, /visible again/);
  } finally {
    await page.close();
  }
});
