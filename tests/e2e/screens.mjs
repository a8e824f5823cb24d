// Screenshots of the page as a stranger sees it, for a cold reading and for docs/:
// the Lesson's steps at 1920×1080 (each run for real), the Lab after "Run all five" at
// 1280 wide, and Present mode at 1920×1080 paused mid-replay.
//   node screens.mjs            writes artifacts/screens/*.png
//   node screens.mjs --docs     also copies the chosen ones to docs/
// Needs what `make test` builds (www/pkg, target/debug/loopscope).
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { artifacts, launchBrowser, root, startServer } from './harness.mjs';

const out = path.join(artifacts, 'screens');
mkdirSync(out, { recursive: true });
const docs = process.argv.includes('--docs');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);

const server = await startServer();
const browser = await launchBrowser();
const shots = [];

async function open(hash, viewport, search = '') {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (e) => console.error(`[pageerror] ${e.message}`));
  await page.goto(`${server.url}${search}${hash}`);
  await page.waitForFunction(() => window.loopscope?.ready === true, null, { timeout: 20000 });
  await page.waitForTimeout(300);
  return page;
}

async function idle(page) {
  await page.waitForFunction(() => document.body.dataset.running === 'true', null, { timeout: 5000, polling: 20 }).catch(() => {});
  await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 120000, polling: 100 });
  await page.waitForTimeout(400);
}

async function shot(page, name, options = {}) {
  const file = path.join(out, `${name}.png`);
  await page.screenshot({ path: file, ...options });
  shots.push(file);
  console.log(file);
}

if (!only || only === 'lesson') {
  const page = await open('#view=lesson&step=def', { width: 1920, height: 1080 });
  const steps = await page.$$eval('#lesson-steps [data-step]', (bs) => bs.map((b) => b.dataset.step));
  for (const [i, step] of steps.entries()) {
    await page.click(`#lesson-steps [data-step="${step}"]`);
    await page.waitForTimeout(200);
    // As a teacher would: run a step whose endpoints have not run yet; a step whose
    // runs are all measured already (step 6 compares steps 1 to 5's) shows them.
    if ((await page.textContent('#lesson-run')).startsWith('▶')) {
      await page.click('#lesson-run');
      await idle(page);
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollHeight - window.innerHeight);
    console.log(`# step ${step}: ${overflow > 0 ? `${overflow} px taller than the screen` : 'fits the screen'}`);
    await shot(page, `lesson-${i + 1}-${step}`);
  }
  await page.close();
}

if (!only || only === 'lab') {
  const page = await open('#view=lab&preset=tutorial', { width: 1280, height: 900 });
  await page.click('[data-preset="tutorial"]');
  await page.click('[data-run="all"]');
  await idle(page);
  await shot(page, 'lab-run-all-five', { fullPage: true });
  await page.locator('#results').screenshot({ path: path.join(out, 'lab-results.png') });
  shots.push(path.join(out, 'lab-results.png'));
  await page.close();
}

if (!only || only === 'present') {
  const page = await open('#view=lab&preset=tutorial', { width: 1920, height: 1080 }, '?present=1');
  // Present mode hides the presets: the link's preset=tutorial chose them.
  await page.click('[data-run="all"]');
  await idle(page);
  // The teacher picks the endpoint to show large, as a class would see it.
  await page.selectOption('#code-variant', { index: 1 });
  await page.evaluate(() => window.loopscope.seek(2000 * 0.2));
  await page.waitForTimeout(300);
  await shot(page, 'present-paused');
  await page.close();
}

if (!only || only === 'present' || only === 'inside') {
  // Inside the loop, projected: 41 requests on 40 threads, at the moment the 41st waits.
  const page = await open('#view=lab&preset=threadpool-exhausted', { width: 1920, height: 1080 }, '?present=1');
  // The teacher runs the preset's two endpoints, shows the def one large, and pauses
  // while its 41st request is still in line (1 s in the tutorial's seconds).
  await page.click('[data-run="all"]');
  await idle(page);
  await page.selectOption('#code-variant', 'sync_def');
  await page.evaluate(() => window.loopscope.seek(500));
  await page.waitForTimeout(300);
  await shot(page, 'present-41st-waits');
  await page.close();
}

await browser.close();
await server.stop();

if (docs) {
  // The final screenshots, kept in docs/ (the README shows some of them).
  const names = shots.map((f) => path.basename(f));
  const renamed = { 'lab-results.png': 'run-all-five.png', 'lab-run-all-five.png': 'lab.png', 'present-paused.png': 'present.png' };
  for (const from of names) {
    copyFileSync(path.join(out, from), path.join(root, 'docs', renamed[from] ?? from));
  }
}
