// Benchmarks of the browser runtime (not a test: it prints numbers, it asserts
// nothing). `make bench` runs it; BENCHMARKS.md records the results.
//   1. probe accuracy: stalls of 1, 5, 20, 100 ms, 50 each, probe vs ground truth
//   2. overhead: measured ÷ predicted makespan, full_async, tokens 40, io 50, cpu 100
//   3. worker cost: pool start-up time and renderer memory with 4 and 40 workers
//   4. the tutorial at full scale: async_io and full_async, 10 requests at once
//   5. compute work: pool jobs sharing the machine's cores
//   6. the first run on a fresh browser (rehearsed) against the runs after it
//   7. the page's size, and its first timeline served and from the single file
//   8. the background task's IndexedDB writes: what they cost a run
//   9. worker lifetime: workers left behind after runs, over many fresh browsers
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, launchBrowser, openPage, workersLeft, root } from './harness.mjs';

const only = process.argv[2]; // e.g. `probe`, `overhead`, `workers`, `tutorial`, `compute`, `first`, `size`, `log`, `lifetime`
const server = await startServer();
const browser = await launchBrowser();
const { page } = await openPage(browser, server.url);
const run = (config) => page.evaluate((c) => window.loopscope.run(c), config);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const f1 = (x) => x.toFixed(1);

if (!only || only === 'probe') {
  console.log('\n## Probe accuracy (async_io, one client, io 5 ms: separate stalls of cpu_ms)\n');
  console.log('| block | stalls | detected | median error | worst error |');
  console.log('|---|---|---|---|---|');
  for (const cpu of [1, 5, 20, 100]) {
    const { measured } = await run({ variant: 'async_io', requests: 50, concurrency: 1, io_ms: 5, cpu_ms: cpu, bg_ms: 1, tokens: 40 });
    const probe = measured.probe_stalls;
    const errors = measured.loop_stalls.map((s) => {
      const seen = probe.filter((p) => p.start_ms < s.end_ms + 4 && s.start_ms < p.end_ms);
      const len = seen.reduce((a, p) => a + (p.end_ms - p.start_ms), 0);
      return { detected: seen.length > 0, error: len - (s.end_ms - s.start_ms) };
    });
    const abs = errors.map((e) => Math.abs(e.error));
    console.log(`| ${cpu} ms | ${errors.length} | ${errors.filter((e) => e.detected).length} | ${f1(median(errors.map((e) => e.error)))} ms | ${f1(Math.max(...abs))} ms |`);
  }
}

if (!only || only === 'overhead') {
  console.log('\n## Overhead (full_async, tokens 40, io 50 ms, cpu 100 ms, all at once)\n');
  console.log('| requests | predicted | measured | measured ÷ predicted | p50 latency measured/predicted |');
  console.log('|---|---|---|---|---|');
  for (const n of [40, 400]) {
    const { predicted, measured } = await run({ variant: 'full_async', requests: n, concurrency: n, io_ms: 50, cpu_ms: 100, bg_ms: 1, tokens: 40 });
    const [p, m] = [predicted.stats, measured.stats];
    console.log(`| ${n} | ${f1(p.makespan_ms)} ms | ${f1(m.makespan_ms)} ms | ${(m.makespan_ms / p.makespan_ms).toFixed(3)} | ${f1(m.latency_ms.p50)} / ${f1(p.latency_ms.p50)} ms |`);
  }
}

/** Resident memory of every Chromium process, in MiB (Linux /proc). */
function chromiumRssMiB() {
  let kb = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium')) continue;
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
      if (m) kb += Number(m[1]);
    } catch { /* process ended */ }
  }
  return kb / 1024;
}

if (!only || only === 'workers') {
  console.log('\n## Cost of pool workers (sync_def, cpu 1500 ms so the pool stays up while sampled)\n');
  console.log('| workers | pool start-up | Chromium RSS before | peak during run | per worker |');
  console.log('|---|---|---|---|---|');
  for (const n of [4, 40]) {
    await page.waitForTimeout(500);
    const before = chromiumRssMiB();
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, chromiumRssMiB()); }, 50);
    const { measured } = await run({ variant: 'sync_def', requests: n, concurrency: n, io_ms: 10, cpu_ms: 1500, bg_ms: 1, tokens: n });
    clearInterval(sampler);
    const m = measured.measurement;
    console.log(`| ${m.pool_workers} | ${f1(m.pool_start_ms)} ms | ${f1(before)} MiB | ${f1(peak)} MiB | ${f1((peak - before) / n)} MiB |`);
  }
}

if (!only || only === 'tutorial') {
  console.log('\n## The tutorial at full scale (10 requests at once, io 500, cpu 1000, bg 200 ms)\n');
  console.log('| variant | predicted | measured | loop stalls (truth) | probe total | longest probe stall |');
  console.log('|---|---|---|---|---|---|');
  for (const variant of ['async_io', 'full_async']) {
    const { predicted, measured } = await run({ variant, requests: 10, concurrency: 10, io_ms: 500, cpu_ms: 1000, bg_ms: 200, tokens: 40, work: 'sleep' });
    const s = measured.stats;
    const lengths = measured.loop_stalls.map((x) => f1(x.end_ms - x.start_ms)).join(', ') || 'none';
    console.log(`| ${variant} | ${f1(predicted.stats.makespan_ms)} ms | ${f1(s.makespan_ms)} ms | ${measured.loop_stalls.length}: ${lengths} | ${f1(s.probe_stall_total_ms)} ms | ${f1(s.probe_stall_max_ms)} ms |`);
  }
}

if (!only || only === 'compute') {
  console.log('\n## Compute work sharing cores (full_async, io 10 ms, cpu 200 ms, tokens = requests, all at once)\n');
  console.log('| pool jobs at once | predicted | measured | measured ÷ predicted | calibrated rate | warnings |');
  console.log('|---|---|---|---|---|---|');
  await run({ variant: 'full_async', requests: 2, concurrency: 2, io_ms: 10, cpu_ms: 50, bg_ms: 1, tokens: 2, work: 'compute' }); // warm the page
  for (const n of [1, 2, 4, 8]) {
    const { predicted, measured } = await run({ variant: 'full_async', requests: n, concurrency: n, io_ms: 10, cpu_ms: 200, bg_ms: 1, tokens: n, work: 'compute' });
    const m = measured.measurement;
    console.log(`| ${n} | ${f1(predicted.stats.makespan_ms)} ms | ${f1(measured.stats.makespan_ms)} ms | ${(measured.stats.makespan_ms / predicted.stats.makespan_ms).toFixed(2)} | ${m.compute_rounds_per_ms.toFixed(0)} rounds/ms | ${m.warnings.length} |`);
  }
}

if (!only || only === 'first') {
  console.log('\n## The first run on a fresh browser (sync_def, 6 at once, io 40, cpu 80 ms; predicted 120 ms)\n');
  console.log('| browser | rehearsal (wall) | 1st run | 2nd run | 3rd run |');
  console.log('|---|---|---|---|---|');
  const config = { variant: 'sync_def', requests: 6, concurrency: 6, io_ms: 40, cpu_ms: 80, bg_ms: 20, tokens: 40, work: 'sleep' };
  for (let i = 1; i <= 5; i++) {
    const fresh = await launchBrowser();
    const { page: p } = await openPage(fresh, server.url);
    const runs = [];
    for (let k = 0; k < 3; k++) runs.push((await p.evaluate((c) => window.loopscope.run(c), config)).measured);
    const rehearsal = runs[0].measurement.rehearsal_ms;
    console.log(`| ${i} | ${rehearsal == null ? 'none' : `${f1(rehearsal)} ms`} | ${runs.map((m) => `${f1(m.stats.makespan_ms)} ms`).join(' | ')} |`);
    await fresh.close();
  }
}

if (!only || only === 'size') {
  console.log('\n## The page: size, and time to the first timeline (five fresh browsers each)\n');
  const bytes = (file) => readFileSync(path.join(root, file));
  console.log('| file | bytes | gzipped (-9) |');
  console.log('|---|---|---|');
  for (const file of ['www/pkg/loopscope_bg.wasm', 'www/pkg/loopscope.js', 'dist/loopscope.html']) {
    const b = bytes(file);
    console.log(`| ${file} | ${b.length} | ${gzipSync(b, { level: 9 }).length} |`);
  }
  const firstTimeline = async (url, offline) => {
    const fresh = await launchBrowser();
    const context = await fresh.newContext();
    if (offline) await context.setOffline(true);
    const p = await context.newPage();
    await p.goto(url);
    await p.waitForFunction(() => performance.getEntriesByName('loopscope-first-timeline').length > 0, null, { timeout: 20000 });
    const t = await p.evaluate(() => performance.getEntriesByName('loopscope-first-timeline')[0].startTime);
    await fresh.close();
    return t;
  };
  console.log('\n| opened | first timeline, five fresh browsers (ms after navigation start) | median |');
  console.log('|---|---|---|');
  for (const [name, url, offline] of [['served (`make run`)', server.url, false],
    ['dist/loopscope.html from file://, offline', pathToFileURL(path.join(root, 'dist/loopscope.html')).href, true]]) {
    const ts = [];
    for (let i = 0; i < 5; i++) ts.push(await firstTimeline(url, offline));
    console.log(`| ${name} | ${ts.map((t) => t.toFixed(0)).join(', ')} | ${median(ts).toFixed(0)} |`);
  }
}

if (!only || only === 'log') {
  console.log("\n## The background task's log (background, 40 at once, tokens 40, io 20, cpu 40, bg 20 ms; three runs each)\n");
  console.log('| log kept in | background done, measured (predicted 80 ms) | rows stored |');
  console.log('|---|---|---|');
  const config = { variant: 'background', requests: 40, concurrency: 40, io_ms: 20, cpu_ms: 40, bg_ms: Number(process.env.BG || 20), tokens: 40 };
  for (const refuse of [false, true]) {
    const fresh = await launchBrowser();
    const context = await fresh.newContext();
    if (refuse) {
      await context.addInitScript(() => {
        IDBFactory.prototype.open = () => { throw new DOMException('refused for the benchmark', 'SecurityError'); };
      });
    }
    const p = await context.newPage();
    await p.goto(server.url);
    await p.waitForFunction(() => window.loopscope?.ready === true);
    const done = []; let stored = 0;
    for (let k = 0; k < 3; k++) {
      const { measured } = await p.evaluate((c) => window.loopscope.run(c), config);
      done.push(measured.stats.background_done_ms);
      stored += measured.logged.filter((e) => e.stored).length;
    }
    console.log(`| ${refuse ? 'memory (IndexedDB refused)' : 'IndexedDB'} | ${done.map((d) => `${f1(d)} ms`).join(', ')} | ${stored} of 120 |`);
    await fresh.close();
  }
}

if (only === 'lifetime') { // not in the default set: about 2 minutes
  const browsers = Number(process.argv[3] || 30);
  console.log(`\n## Worker lifetime (${browsers} fresh browsers × the five endpoints, 6 requests, io 40, cpu 80 ms)\n`);
  const variants = ['sync_def', 'blocking', 'async_io', 'full_async', 'background'];
  let runs = 0; let leaky = 0;
  for (let b = 0; b < browsers; b++) {
    const fresh = await launchBrowser();
    const { page: p } = await openPage(fresh, server.url);
    for (const variant of variants) {
      await p.evaluate((c) => window.loopscope.run(c), { variant, requests: 6, concurrency: 6, io_ms: 40, cpu_ms: 80, bg_ms: 20, tokens: 40 });
      runs++;
      const left = await workersLeft(fresh);
      if (left.length) { leaky++; console.log(`browser ${b}, after ${variant}: ${left.join(', ')}`); }
    }
    await fresh.close();
  }
  console.log(`runs that left a worker behind: ${leaky} of ${runs}`);
}

console.log(`\nChromium ${browser.version()}, navigator.hardwareConcurrency ${await page.evaluate(() => navigator.hardwareConcurrency)}`);
await browser.close();
await server.stop();
