// Benchmarks (not tests: they measure, they assert nothing). `make bench` builds
// everything, runs the model's criterion benches, then `node bench.mjs --write`, which
// measures the five of issue 11 and rewrites their sections of BENCHMARKS.md (between
// `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`), each with the date, the machine,
// the command, and the median and spread of several runs:
//   page      the page at scale: frame intervals and long tasks at 5 000 requests on
//             screen and at 100 000 in one run
//   model     the virtual model: criterion's cost curve, summary-mode memory, the JS
//             simulate at 100 000 requests
//   probe     the stall probe against ground truth, blocks of 1 to 100 ms, and false
//             stalls in endpoints that never block
//   overhead  measured ÷ predicted, 40 and 400 requests
//   throughput the answers a second the browser serves within the page's bounds
//   size      the module's size and the time to the first timeline
// `node bench.mjs NAME` measures one and prints it. Older studies, printed only:
// workers, tutorial, compute, first, log, lifetime (see BENCHMARKS.md).
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, launchBrowser, openPage, workersLeft, root } from './harness.mjs';

const args = process.argv.slice(2);
const write = args.includes('--write');
const only = args.find((a) => !a.startsWith('--'));
const server = await startServer();
const browser = await launchBrowser();
const { page } = await openPage(browser, server.url);
const run = (config) => page.evaluate((c) => window.loopscope.run(c), config);
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => { const s = sorted(xs); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const quantile = (xs, q) => { const s = sorted(xs); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const f1 = (x) => x.toFixed(1);
/** "median (min–max)" of `xs`, each number shown by `f`. */
const spread = (xs, f = f1) => (xs.length === 1 ? f(xs[0]) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`);
const today = new Date().toISOString().slice(0, 10);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const machine = `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}; Debian Chromium ${browser.version()} headless, \`navigator.hardwareConcurrency\` ${await page.evaluate(() => navigator.hardwareConcurrency)}; release wasm (\`make web\`)`;
// `make bench` writes every section; `only` is the command that measures this one alone.
const stamp = (only, extra = '') => `Measured ${today} on ${machine}. Reproduce: \`make bench\`${extra}, or this section alone: \`cd tests/e2e && node bench.mjs ${only}\`.`;

const written = [];
/** Prints a section, and with --write puts it in BENCHMARKS.md between its markers. */
function section(name, markdown) {
  console.log(`\n${markdown}`);
  if (!write) return;
  const file = path.join(root, 'BENCHMARKS.md');
  const text = readFileSync(file, 'utf8');
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const at = text.indexOf(begin);
  const next = at < 0 ? `${text.trimEnd()}\n\n${block}\n` : text.slice(0, at) + block + text.slice(text.indexOf(end, at) + end.length);
  writeFileSync(file, next);
  written.push(name);
}

/** Frame intervals and long tasks while the page's own Run button runs `variant`
 * with the settings of `hash`. */
async function fluidity(hash, variant) {
  const { page: p } = await openPage(browser, server.url + hash);
  try {
    await p.evaluate(() => {
      window.__frames = []; window.__long = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask' });
      let last = performance.now();
      const tick = (t) => { window.__frames.push(t - last); last = t; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    });
    const started = Date.now();
    await p.click(`[data-run="${variant}"]`);
    await p.waitForFunction(() => document.body.dataset.running === 'false' && /^(Done|The run failed|Cancelled)/.test(document.getElementById('status').textContent), null, { timeout: 1800000, polling: 500 });
    const r = await p.evaluate(() => ({ frames: window.__frames.slice(2), long: window.__long, status: document.getElementById('status').textContent }));
    if (!r.status.startsWith('Done')) throw new Error(r.status);
    return { wall: (Date.now() - started) / 1000, p50: quantile(r.frames, 0.5), p95: quantile(r.frames, 0.95), longTasks: r.long.length, longest: r.long.length ? Math.max(...r.long) : 0 };
  } finally {
    await p.close();
  }
}

if (!only || only === 'page') {
  const cases = [
    ['5 000 requests on screen (`full_async`, all at once, io 500, cpu 1000 ms, time scale 0.1)', '#variant=full_async&requests=5000&concurrency=5000&io_ms=500&cpu_ms=1000&bg_ms=200&tokens=40&work=sleep&scale=0.1&show=full_async', 3],
    ['100 000 requests in one run (`full_async`, ab -c 1000, io 5, cpu 10 ms)', '#variant=full_async&requests=100000&concurrency=1000&io_ms=5&cpu_ms=10&bg_ms=2&tokens=40&work=sleep&scale=1&show=full_async', 2],
  ];
  const rows = [];
  for (const [what, hash, runs] of cases) {
    const got = [];
    for (let i = 0; i < runs; i++) got.push(await fluidity(hash, 'full_async'));
    rows.push(`| ${what} | ${runs} | ${spread(got.map((g) => g.wall))} s | ${spread(got.map((g) => g.p50))} ms | ${spread(got.map((g) => g.p95))} ms | ${spread(got.map((g) => g.longTasks), (x) => x.toFixed(0))} | ${spread(got.map((g) => g.longest), (x) => x.toFixed(0))} ms |`);
  }
  section('page', `## The page at scale

${stamp('page')} The page's own Run button
(the live timeline, the code panel, the console and the numbers all updating), its
frame intervals from \`requestAnimationFrame\` and its long tasks (over 50 ms) from a
\`PerformanceObserver\`. Targets: frame interval p95 ≤ 16.7 ms, no long task over 50 ms.

| run | runs | wall time | frame interval p50 | frame interval p95 | long tasks | longest |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`);
}

/** Peak resident memory (VmHWM) of the command, polled from /proc every millisecond
 * until it exits (the kernel's maxrss for a child would count the memory of the process
 * that forked it), and its wall time. */
function peakRss(cmd, cmdArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
    let peak = 0;
    const read = () => {
      try {
        const m = readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/);
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch { /* ended */ }
    };
    const poll = setInterval(read, 1);
    const started = process.hrtime.bigint();
    child.on('exit', (code) => {
      clearInterval(poll);
      const s = Number(process.hrtime.bigint() - started) / 1e9;
      code === 0 ? resolve({ kib: peak, s }) : reject(new Error(`${cmd} exited ${code}`));
    });
  });
}

if (!only || only === 'model') {
  const variants = ['sync_def', 'blocking', 'async_io', 'full_async', 'background', 'process_pool', 'task_queue'];
  const sizes = [1000, 10000, 100000, 1000000];
  const crit = path.join(root, 'target/criterion');
  const timesOf = (group, variant, n) => {
    const file = path.join(crit, group, variant, String(n), 'new/sample.json');
    if (!existsSync(file)) return null;
    const s = JSON.parse(readFileSync(file, 'utf8'));
    return s.times.map((t, i) => t / s.iters[i] / 1e9);
  };
  const secs = (x) => (x < 0.01 ? `${(x * 1000).toFixed(2)} ms` : x < 1 ? `${(x * 1000).toFixed(0)} ms` : `${x.toFixed(2)} s`);
  const curve = (group, list, ns) => list.map((v) => `| \`${v}\` | ${ns.map((n) => { const t = timesOf(group, v, n); return t ? spread(t, secs) : '—'; }).join(' | ')} |`).join('\n');
  const bin = path.join(root, 'target/release/loopscope');
  const memRows = [];
  for (const v of ['full_async', 'background', 'task_queue']) {
    const cells = [];
    for (const n of [10000, 100000, 1000000]) {
      const r = await peakRss(bin, ['simulate', '--summary', '--variant', v, '-n', String(n), '-c', '1000']);
      cells.push(`${(r.kib / 1024).toFixed(1)} MiB, ${secs(r.s)}`);
    }
    memRows.push(`| \`${v}\` | ${cells.join(' | ')} |`);
  }
  const js = [];
  for (const v of variants) {
    const t = await page.evaluate((v) => {
      const c = { variant: v, requests: 100000, concurrency: 1000, io_ms: 5, cpu_ms: 10, bg_ms: 2, tokens: 40 };
      const time = (f) => { const a = performance.now(); f(); return performance.now() - a; };
      window.loopscope.simulate(c, { summary: true }); // compiled once, off the clock
      const out = { summary: [], columns: [] };
      for (let i = 0; i < 3; i++) {
        out.summary.push(time(() => window.loopscope.simulate(c, { summary: true })));
        out.columns.push(time(() => window.loopscope.simulate(c, { columns: true })));
      }
      out.rows = [time(() => window.loopscope.simulate(c))];
      return out;
    }, v);
    js.push(`| \`${v}\` | ${spread(t.summary, (x) => x.toFixed(0))} ms | ${spread(t.columns, (x) => x.toFixed(0))} ms | ${t.rows.map((x) => x.toFixed(0)).join()} ms |`);
  }
  section('model', `## The model at scale

${stamp('model', ' (criterion: `cargo bench --bench model`)')}
Every run has 1 000 clients (ab -c 1000) and the tutorial's durations. Targets: a
million requests in under 1 s for every variant, in memory that does not grow with the
requests (summary mode); the JS \`simulate\` at 100 000 requests in under 300 ms.

Summary mode (\`--summary\`: stats and an HDR histogram), native, criterion's median
(fastest–slowest of its samples) per run:

| variant | 10³ | 10⁴ | 10⁵ | 10⁶ |
|---|---|---|---|---|
${curve('summary', variants, sizes)}

Full mode (every request's phases, the console), native:

| variant | 10³ | 10⁴ | 10⁵ |
|---|---|---|---|
${curve('full', ['async_io', 'full_async', 'background'], sizes.slice(0, 3))}

Peak resident memory of \`loopscope simulate --summary\` (the whole process; VmHWM) and its
wall time:

| variant | 10⁴ | 10⁵ | 10⁶ |
|---|---|---|---|
${memRows.join('\n')}

\`task_queue\` grows with the run because its broker's backlog does: the queue workers
fall behind the clients, and every job waiting is real state (48 bytes each), as in a
real broker. The others stay flat (tests/summary_memory.rs holds every variant to it,
counting allocations).

The JS API in the page, 100 000 requests (median (fastest–slowest) of 3; rows: once):

| variant | \`{summary: true}\` | \`{columns: true}\` | rows (plain \`simulate\`) |
|---|---|---|---|
${js.join('\n')}
`);
}

if (!only || only === 'probe') {
  const blocks = [1, 2, 5, 10, 20, 100];
  const reps = 3;
  const rows = [];
  for (const cpu of blocks) {
    const detected = []; const errors = [];
    let total = 0;
    for (let r = 0; r < reps; r++) {
      const { measured } = await run({ variant: 'async_io', requests: 50, concurrency: 1, io_ms: 5, cpu_ms: cpu, bg_ms: 1, tokens: 40 });
      const probe = measured.probe_stalls;
      let seen = 0;
      for (const s of measured.loop_stalls) {
        const hits = probe.filter((p) => p.start_ms < s.end_ms + 2 && s.start_ms - 2 < p.end_ms);
        if (hits.length) {
          seen++;
          const len = hits.reduce((a, p) => a + Math.min(p.end_ms, s.end_ms + 2) - Math.max(p.start_ms, s.start_ms - 2), 0);
          errors.push(len - (s.end_ms - s.start_ms));
        }
      }
      detected.push(seen / measured.loop_stalls.length);
      total += measured.loop_stalls.length;
    }
    const abs = errors.map(Math.abs);
    rows.push(`| ${cpu} ms | ${total} | ${spread(detected.map((d) => d * 100), (x) => `${x.toFixed(0)} %`)} | ${errors.length ? `${f1(median(errors))} ms` : '—'} | ${abs.length ? `${f1(quantile(abs, 0.9))} ms` : '—'} |`);
  }
  const quiet = [];
  for (const variant of ['full_async', 'sync_def', 'background']) {
    const counts = []; const longest = [];
    for (let r = 0; r < reps; r++) {
      const { measured } = await run({ variant, requests: 40, concurrency: 10, io_ms: 20, cpu_ms: 30, bg_ms: 10, tokens: 40 });
      counts.push(measured.probe_stalls.length);
      longest.push(measured.probe_stalls.reduce((a, p) => Math.max(a, p.end_ms - p.start_ms), 0));
    }
    quiet.push(`| \`${variant}\` | ${counts.join(', ')} | ${longest.map((x) => `${f1(x)} ms`).join(', ')} |`);
  }
  const m = (await run({ variant: 'full_async', requests: 2, concurrency: 2, io_ms: 5, cpu_ms: 5, bg_ms: 1, tokens: 40 })).measured.measurement;
  section('probe', `## Probe accuracy

${stamp('probe')} The probe as shipped
(src/web/runtime/probe.rs): a heartbeat every ${m.probe_period_ms} ms (\`Atomics.waitAsync\`,
cross-origin isolated), a stall reported when the gap between two turns, less half an
idle one, is ${m.probe_threshold_ms} ms or more.
\`async_io\`, one client (ab -c 1), io 5 ms, so each prediction is a separate stall of
\`cpu_ms\`; 50 stalls a run, ${reps} runs each. Error = what the probe saw of a stall (its
stalls overlapping it) − the ground truth's length. Targets: every stall of 2 ms or
more seen, median error ≤ 1 ms, no false stall where the loop never blocks.

| block | stalls | seen, median (min–max) of runs | median error | p90 of \|error\| |
|---|---|---|---|---|
${rows.join('\n')}

False stalls where nothing blocks the loop (40 requests, 10 clients, io 20, cpu 30 ms,
${reps} runs each):

| endpoint | probe stalls per run | longest |
|---|---|---|
${quiet.join('\n')}
`);
}

if (!only || only === 'overhead') {
  const reps = 5;
  const rows = [];
  for (const n of [40, 400]) {
    const ratio = []; const p50 = []; let predicted = 0; const made = [];
    for (let r = 0; r < reps; r++) {
      const res = await run({ variant: 'full_async', requests: n, concurrency: n, io_ms: 50, cpu_ms: 100, bg_ms: 1, tokens: 40 });
      predicted = res.predicted.stats.makespan_ms;
      made.push(res.measured.stats.makespan_ms);
      ratio.push(res.measured.stats.makespan_ms / predicted);
      p50.push(res.measured.stats.latency_ms.p50 / res.predicted.stats.latency_ms.p50);
    }
    rows.push(`| ${n} | ${f1(predicted)} ms | ${spread(made)} ms | ${spread(ratio, (x) => x.toFixed(3))} | ${spread(p50, (x) => x.toFixed(3))} |`);
  }
  section('overhead', `## Overhead

${stamp('overhead')} \`full_async\`, tokens
40, io 50 ms, cpu 100 ms, all requests at once, ${reps} runs each, against the ideal model
(\`overhead_ms\` 0). Targets: ≤ 1.03 at 40 requests, ≤ 1.01 at 400.

| requests | predicted | measured | measured ÷ predicted | p50 latency, measured ÷ predicted |
|---|---|---|---|---|
${rows.join('\n')}
`);
}

if (!only || only === 'throughput') {
  // full_async, io 5, cpu 10, 40 tokens: c clients keep c requests in flight, so the
  // model answers about c / 15 ms a second (up to the tokens' 4 000). Each run lasts
  // about 4 s of the model's time; the last rate within bounds is the faithful one.
  const rows = [];
  const measured = [];
  for (const c of [8, 15, 23, 30, 45, 60]) {
    const ratios = []; const oks = []; let asked = 0; let requests = 0;
    for (let r = 0; r < 2; r++) {
      const model = await page.evaluate((c) => window.loopscope.simulate({ variant: 'full_async', requests: 100, concurrency: c, io_ms: 5, cpu_ms: 10, bg_ms: 1, tokens: 40 }, { summary: true }), c);
      asked = 100 / (model.makespan_ms / 1000);
      requests = Math.round(asked * 4);
      const res = await run({ variant: 'full_async', requests, concurrency: c, io_ms: 5, cpu_ms: 10, bg_ms: 1, tokens: 40 });
      ratios.push(res.measured.stats.makespan_ms / res.predicted.stats.makespan_ms);
      oks.push(res.fidelity.ok);
    }
    measured.push({ asked, ratio: median(ratios) });
    rows.push(`| ${c} | ${requests} | ${asked.toFixed(0)} | ${spread(ratios, (x) => x.toFixed(3))} | ${oks.filter(Boolean).length} of ${oks.length} |`);
  }
  // Faithful: late by no more than at the slowest rate (each trip's own cost) + 2 %.
  const base = measured[0].ratio;
  const faithful = Math.max(...measured.filter((m) => m.ratio <= base + 0.02).map((m) => m.asked));
  section('throughput', `## Throughput

${stamp('throughput')} \`full_async\`,
io 5 ms, cpu 10 ms, 40 tokens, c clients each sending its next request when its answer
comes (ab -c), about 4 s of the model's time each, 2 runs each: the answers a second
the model asks for, and whether the browser kept to it within the page's bounds. The
page warns before a run that asks for more than the faithful rate
(\`limits::BROWSER_FAITHFUL_RPS\`, set from this table).

| clients | requests | asked, answers a second | measured ÷ predicted makespan | within bounds |
|---|---|---|---|---|
${rows.join('\n')}

The page's bounds widen with the lateness the machine shows, so every run passes them;
what grows with the rate is the lateness itself. At the slowest rate the browser is
${((base - 1) * 100).toFixed(0)} % late (each trip to a pool thread and back costs it about a millisecond
more than the model charges: "Overhead" above); the faithful rate is the highest late
by no more than that and 2 % more: about ${faithful.toFixed(0)} answers a second here.
`);
}

if (!only || only === 'size') {
  const bytes = (file) => readFileSync(path.join(root, file));
  const files = ['www/pkg/loopscope_bg.wasm', 'www/pkg/loopscope.js', 'dist/loopscope.html']
    .map((file) => { const b = bytes(file); return `| ${file} | ${b.length} | ${gzipSync(b, { level: 9 }).length} |`; });
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
  const opened = [];
  for (const [name, url, offline] of [['served (`make run`)', server.url, false],
    ['`dist/loopscope.html` from `file://`, network off', pathToFileURL(path.join(root, 'dist/loopscope.html')).href, true]]) {
    const ts = [];
    for (let i = 0; i < 5; i++) ts.push(await firstTimeline(url, offline));
    opened.push(`| ${name} | ${spread(ts, (x) => x.toFixed(0))} ms |`);
  }
  section('size', `## Size and start

${stamp('size')} Targets: the wasm at 200 KB
gzipped or less, the first timeline under 250 ms after navigation on the served page.

| file | bytes | gzipped (\`gzip -9\`) |
|---|---|---|
${files.join('\n')}

| opened | first timeline, 5 fresh browsers: median (min–max) after navigation start |
|---|---|
${opened.join('\n')}
`);
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

if (only === 'workers') {
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

if (only === 'tutorial') {
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

if (only === 'compute') {
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

if (only === 'first') {
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

if (only === 'log') {
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




if (write) console.log(`\nBENCHMARKS.md: rewrote ${written.join(', ') || 'nothing'}`);
await browser.close();
await server.stop();
