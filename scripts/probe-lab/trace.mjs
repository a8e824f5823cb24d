// What holds an idle worker's thread every 512 ms? Runs one candidate idle for a few
// seconds under a Chromium trace and lists the worker thread's trace events over 1 ms.
//   node trace.mjs [candidate=waitAsync] [delay=1] [ms=3000]
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { serve } from './serve.mjs';
const require = createRequire(import.meta.url);
const { chromium } = require('../../tests/e2e/node_modules/playwright-core');
const [candidate = 'waitAsync', delay = '1', ms = '3000'] = process.argv.slice(2);
const s = await serve();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage();
await page.goto(`${s.url}/iso/lab.html`);
await browser.startTracing(page, { categories: ['toplevel', 'v8', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'sequence_manager', 'disabled-by-default-v8.gc', 'scheduler'] });
const raw = await page.evaluate((cfg) => window.runLab(cfg), { candidate, delay: Number(delay), idleRunMs: Number(ms) });
const buf = await browser.stopTracing();
writeFileSync('/tmp/probe-trace.json', buf);
const trace = JSON.parse(buf.toString());
const events = trace.traceEvents || trace;
const names = {};
for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names[`${e.pid}:${e.tid}`] = e.args.name;
const worker = Object.entries(names).filter(([, n]) => /DedicatedWorker/.test(n)).map(([k]) => k);
console.log('worker threads', worker.map((k) => `${k} ${names[k]}`));
const gaps = []; for (let i = 1; i < raw.ticks.length; i++) if (raw.ticks[i] - raw.ticks[i - 1] > 2) gaps.push([raw.ticks[i - 1], raw.ticks[i]]);
console.log('tick gaps > 2 ms:', gaps.length);
const long = events.filter((e) => worker.includes(`${e.pid}:${e.tid}`) && e.ph === 'X' && e.dur > 1000);
const count = {};
for (const e of long) { const k = `${e.cat}/${e.name}`; count[k] = count[k] || []; count[k].push(+(e.dur / 1000).toFixed(2)); }
for (const [k, v] of Object.entries(count).sort((a, b) => b[1].length - a[1].length)) console.log(k, v.length, 'x, ms:', v.slice(0, 12).join(' '));
await browser.close(); s.close();
