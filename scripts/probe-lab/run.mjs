// Drives the probe lab: serves lab.html (isolated and not), runs each candidate
// heartbeat in a fresh worker of headless Chromium, with blocks of each length (spin or
// Atomics.wait) or idle, measures the CPU of Chromium while idle from /proc, and saves
// each run's raw record as JSON. analyze.mjs turns the records into the tables.
//   node run.mjs quiet|busy|pilot [outdir]      (busy: runs `yes > /dev/null` meanwhile)
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { serve } from './serve.mjs';

const require = createRequire(import.meta.url);
const { chromium } = require('../../tests/e2e/node_modules/playwright-core');
const suite = process.argv[2] || 'pilot';
const out = process.argv[3] || new URL('../../target/probe-lab', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the machine -------------------------------------------------------------------
const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
// (pgrep through a shell would match the shell's own command line)
const calibrating = () => pids('calibrate.py').some((p) => Number(p) !== process.pid);
const statTicks = (path) => { const f = readFileSync(path, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
function machineBusy() { // busy jiffies of all cores
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
}
function pids(match) {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(match); } catch { return false; }
  });
}
// This driver's own Chromium: the descendants of this process (others may run one too).
function ours() {
  const parent = {};
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try { parent[p] = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]; } catch { /* gone */ }
  }
  const mine = new Set([String(process.pid)]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [p, pp] of Object.entries(parent)) if (!mine.has(p) && mine.has(pp)) { mine.add(p); grew = true; }
  }
  mine.delete(String(process.pid));
  return [...mine].filter((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('chromium'); } catch { return false; } });
}
// CPU jiffies (1/100 s) of every Chromium process, of its renderers, and per
// DedicatedWorker thread.
function cpuSnapshot(yesPid) {
  const s = { all: 0, renderer: 0, workers: {}, machine: machineBusy(), yes: 0 };
  for (const p of ours()) {
    try {
      const t = statTicks(`/proc/${p}/stat`);
      s.all += t;
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--type=renderer')) s.renderer += t;
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        if (readFileSync(`/proc/${p}/task/${tid}/comm`, 'utf8').startsWith('DedicatedWorker')) s.workers[tid] = statTicks(`/proc/${p}/task/${tid}/stat`);
      }
    } catch { /* gone */ }
  }
  if (yesPid) try { s.yes = statTicks(`/proc/${yesPid}/stat`); } catch { /* gone */ }
  return s;
}
function cpuDelta(a, b, seconds) {
  const pct = (j) => +(j / seconds).toFixed(2); // jiffies/s = % of one core
  let workers = 0;
  for (const [tid, t] of Object.entries(b.workers)) if (tid in a.workers) workers += t - a.workers[tid];
  const foreign = (b.machine - a.machine) - (b.all - a.all) - (b.yes - a.yes);
  return { all: pct(b.all - a.all), renderer: pct(b.renderer - a.renderer), workers: pct(workers), foreign: pct(foreign) };
}
// Waits until no calibrate.py runs, the 1-minute load is under `limit`, and nothing
// outside our Chromium (and `yes`) used over 10 % of a core in the last 2 s.
async function waitQuiet(limit, yesPid) {
  for (let i = 0; ; i++) {
    const a = cpuSnapshot(yesPid);
    await sleep(2000);
    const foreign = cpuDelta(a, cpuSnapshot(yesPid), 2).foreign;
    if (!calibrating() && load1() < limit && foreign < 10) return;
    if (i % 10 === 0) console.log(`  waiting: load ${load1()} calibrate.py ${calibrating()} foreign ${foreign}%`);
  }
}

// ---- plans -----------------------------------------------------------------------
const LENGTHS = [1, 2, 5, 10, 20, 100];
const C = {
  timeout0: { candidate: 'timeout', delay: 0 },
  timeout1: { candidate: 'timeout', delay: 1 },
  timeout4: { candidate: 'timeout', delay: 4 }, // today's probe (gloo TimeoutFuture(4))
  hop1: { candidate: 'timeoutHop', delay: 1 },
  channel: { candidate: 'channel' },
  postTask1: { candidate: 'postTask', delay: 1 },
  wa1: { candidate: 'waitAsync', delay: 1 },
  wa05: { candidate: 'waitAsync', delay: 0.5 },
  metro1: { candidate: 'metronome', delay: 1 },
  metro05: { candidate: 'metronome', delay: 0.5 },
  none: { candidate: 'none' },
};
const ISO = ['timeout4', 'timeout1', 'hop1', 'channel', 'postTask1', 'wa1', 'wa05', 'metro1', 'metro05'];
const PLAIN = ['timeout4', 'timeout1', 'hop1', 'channel', 'postTask1'];
function plan() {
  const runs = [];
  const add = (page, name, kind, extra) => runs.push({ page, name, kind, cfg: { ...C[name], name, ...extra } });
  if (suite === 'pilot') {
    for (const n of ['timeout4', 'hop1', 'wa1', 'metro05', 'postTask1']) add('iso', n, 'blocks', { blocks: [2, 5], perLength: 10, hold: 'spin' });
    add('iso', 'metro05', 'idle', { idleRunMs: 3000 });
    add('plain', 'hop1', 'blocks', { blocks: [2, 5], perLength: 10, hold: 'spin' });
    return runs;
  }
  const per = 30; // per chunk: two chunks of blocks per candidate (60 per length)
  const names = suite === 'busy' ? { iso: ['timeout4', 'hop1', 'postTask1', 'wa1', 'wa05', 'metro05', 'metro1'], plain: ['timeout4', 'hop1', 'postTask1'] }
    : { iso: ISO, plain: PLAIN };
  const idleMs = 20000; // in chunks of 10 s
  // Chunk-major, so that an interrupted suite still has every candidate's first chunk.
  for (let chunk = 0; chunk < Math.max(2, idleMs / 10000); chunk++) {
    runs.push({ page: 'native', name: 'oversleep', kind: 'native', cfg: { chunk } });
    for (const page of ['iso', 'plain']) {
      if (chunk < idleMs / 10000) for (const n of ['none', ...names[page]]) add(page, n, 'idle', { idleRunMs: 10000, chunk });
      if (chunk < 2) {
        for (const n of names[page]) {
          add(page, n, 'blocks', { blocks: LENGTHS, perLength: per, hold: 'spin', chunk });
          if (page === 'iso') add(page, n, 'blocks', { blocks: LENGTHS, perLength: per, hold: 'wait', chunk });
        }
      }
    }
  }
  return runs;
}

// ---- run -------------------------------------------------------------------------
const server = await serve();
let yes = null;
if (suite === 'busy') {
  await waitQuiet(1.2, null);
  yes = spawn('yes', [], { stdio: ['ignore', 'ignore', 'ignore'] });
  console.log(`one core busy: yes pid ${yes.pid}`);
  await sleep(2000);
}
const loadLimit = yes ? 2.2 : 1.2;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const pages = {};
for (const k of ['iso', 'plain']) {
  pages[k] = await browser.newPage();
  await pages[k].goto(`${server.url}/${k}/lab.html`);
  console.log(k, 'crossOriginIsolated =', await pages[k].evaluate(() => crossOriginIsolated));
}
try {
  for (const r of plan()) {
    const file = `${out}/${suite}-${r.page}-${r.name}-${r.kind}${r.cfg.hold ? '-' + r.cfg.hold : ''}-${r.cfg.chunk ?? 0}.json`;
    if (existsSync(file) && !process.env.REDO) { console.log('have', file); continue; }
    for (let attempt = 0; ; attempt++) {
      await waitQuiet(loadLimit, yes?.pid);
      if (r.kind === 'native') { // python3 oversleep.py: the machine's own wake-up latency
        const a = cpuSnapshot(yes?.pid); const ta = Date.now();
        const { execFileSync } = await import('node:child_process');
        const raw = JSON.parse(execFileSync('python3', [new URL('./oversleep.py', import.meta.url).pathname, '10']).toString());
        const cpu = cpuDelta(a, cpuSnapshot(yes?.pid), (Date.now() - ta) / 1000);
        const disturbed = cpu.foreign > 10 + 5; // python itself: a few %
        console.log(`${file.split('/').pop()}: ${raw.late.length} oversleeps, cpu ${JSON.stringify(cpu)}${disturbed ? ' DISTURBED' : ''}`);
        if (disturbed && attempt < 5) continue;
        writeFileSync(file, JSON.stringify({ suite, page: r.page, name: r.name, kind: r.kind, cpu, disturbed, busyCore: !!yes, ...raw }));
        break;
      }
      const page = pages[r.page];
      await page.evaluate(() => { window.labStarted = false; });
      const result = page.evaluate((cfg) => window.runLab(cfg), r.cfg);
      await page.waitForFunction(() => window.labStarted, null, { polling: 20, timeout: 30000 });
      const a = cpuSnapshot(yes?.pid); const ta = Date.now();
      let maxLoad = load1(), calib = false;
      const watch = setInterval(() => { maxLoad = Math.max(maxLoad, load1()); calib ||= calibrating(); }, 1000);
      const raw = await result;
      clearInterval(watch);
      const cpu = cpuDelta(a, cpuSnapshot(yes?.pid), (Date.now() - ta) / 1000);
      await page.evaluate(() => window.endLab());
      // Disturbed: calibrate.py ran, or something outside Chromium (and `yes`) used
      // more than 10 % of a core on average.
      const disturbed = calib || cpu.foreign > 10;
      console.log(`${file.split('/').pop()}: ${raw.ticks.length} ticks, ${raw.blocks.length} blocks, cpu ${JSON.stringify(cpu)} load<=${maxLoad}${disturbed ? ' DISTURBED' : ''}`);
      if (disturbed && attempt < 5) continue;
      writeFileSync(file, JSON.stringify({ suite, page: r.page, name: r.name, kind: r.kind, cpu, maxLoad, disturbed, busyCore: !!yes, ...raw }));
      break;
    }
  }
} finally {
  await browser.close();
  server.close();
  if (yes) { yes.kill(); console.log('killed yes', yes.pid); }
}
