// Turns the lab's raw records (run.mjs) into the tables: for each candidate heartbeat and
// stall detector, per block length: detected fraction, median / p90 of |measured - true|
// stall length, median signed error; and, from the idle runs, false stalls per second,
// the idle tick gaps, and the probe's CPU (Chromium's, minus the no-probe control's).
//   node analyze.mjs [rawdir] [suite]            (prints markdown)
import { readFileSync, readdirSync } from 'node:fs';

const dir = process.argv[2] || new URL('../../target/probe-lab', import.meta.url).pathname;
const only = process.argv[3];
const LENGTHS = [1, 2, 5, 10, 20, 100];
const q = (xs, p) => { if (!xs.length) return NaN; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))]; };
const f1 = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

// ---- detectors: tick times (and beat times) -> stalls {end (the revealing tick), len} ----
// A heartbeat sees only its own callbacks. Each tick's gap to the one before is the
// period plus whatever held the loop; the block began at a uniform phase within the
// period before, hence the "- period / 2" in every estimate.
const detectors = {
  // Today's probe (probe.rs): lag = gap - nominal period; a stall from lag >= T; its span
  // (last + P/2, t), so its length is gap - P/2.
  today: ({ P, T }) => (ticks) => {
    const out = [];
    for (let i = 1; i < ticks.length; i++) {
      const gap = ticks[i] - ticks[i - 1];
      if (gap - P >= T) out.push({ end: ticks[i], len: gap - P / 2 });
    }
    return out;
  },
  // Length = gap - Ptyp / 2, with Ptyp the median of the last 64 idle gaps (those
  // under nominal + 1 ms; nominal until there are any): what an idle tick takes here.
  // A stall from length >= T.
  gap: ({ T, nominal, frac = 0.5, fixedP }) => (ticks) => {
    const out = [], recent = [];
    for (let i = 1; i < ticks.length; i++) {
      const gap = ticks[i] - ticks[i - 1];
      const P = fixedP ?? (recent.length ? q(recent, 50) : nominal);
      const len = gap - frac * P;
      if (len >= T) out.push({ end: ticks[i], len });
      if (gap < nominal + 1) { recent.push(gap); if (recent.length > 64) recent.shift(); }
    }
    return out;
  },
  // Metronome: lag = tick time - time of the beat that woke it; a stall from lag >= T;
  // length = lag + beat period / 2 (the block began within the beat period before).
  beat: ({ T, Pm }) => (ticks, dues) => {
    const out = [];
    for (let i = 1; i < ticks.length; i++) {
      const lag = ticks[i] - dues[i];
      if (lag >= T) out.push({ end: ticks[i], len: lag + Pm / 2 });
    }
    return out;
  },
};

function detectorsFor(name, cfg) {
  const d = [];
  const P = cfg.delay ?? 0;
  const nominal = P >= 4 || name === 'timeout1' ? 4 : P; // nested setTimeout: 4 ms clamp
  if (name.startsWith('timeout')) {
    d.push(['today P4 T4', detectors.today({ P: 4, T: 4 })]);
    d.push(['gap T2.5', detectors.gap({ T: 2.5, nominal })]);
    return d;
  }
  if (name.startsWith('metro')) {
    for (const T of [1, 1.5]) d.push([`beat T${T}`, detectors.beat({ T, Pm: P })]);
  }
  for (const T of [1, 1.5, 1.75]) d.push([`gap T${T}`, detectors.gap({ T, nominal })]);
  return d;
}

function evaluate(raw, detect, perLen) {
  const { ticks, dues, blocks } = raw;
  const stalls = detect(ticks, dues);
  // The tick that reveals a block is the first tick at or after its end; a stall
  // reported at that tick is that block's; any other stall is a false one.
  const used = new Set();
  let j = 0;
  for (const [B, s, e] of blocks) {
    while (j < ticks.length && ticks[j] < e) j++;
    const st = stalls.find((x) => x.end === ticks[j]);
    const p = (perLen[B] ||= { n: 0, hit: 0, err: [] });
    p.n++;
    if (st) { used.add(st); p.hit++; p.err.push(st.len - (e - s)); }
  }
  return stalls.filter((x) => !used.has(x)).length;
}

// Where in the heartbeat period the blocks began (0 = just after a tick): a lab whose
// blocks start at one phase would flatter or wrong some candidates.
function phases(raw) {
  const { ticks, blocks } = raw;
  const g = gaps(ticks).sort((a, b) => a - b); const P = g[g.length >> 1];
  const bins = [0, 0, 0, 0];
  let j = 0;
  for (const [, s] of blocks) {
    while (j + 1 < ticks.length && ticks[j + 1] <= s) j++;
    bins[Math.min(3, Math.floor(((s - ticks[j]) / P) * 4))]++;
  }
  return bins;
}

function gaps(ticks) { const g = []; for (let i = 1; i < ticks.length; i++) g.push(ticks[i] - ticks[i - 1]); return g; }

const files = readdirSync(dir).filter((f) => f.endsWith('.json') && (!only || f.startsWith(only + '-')));
const all = files.map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
const runs = all.filter((r) => r.kind !== 'native');
const natives = all.filter((r) => r.kind === 'native');
const key = (r) => `${r.suite}|${r.page}|${r.name}`;
const groups = {};
for (const r of runs) (groups[key(r)] ||= []).push(r);

const lines = [];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
for (const k of Object.keys(groups).sort()) {
  const [suite, page, name] = k.split('|');
  const g = groups[k];
  const idles = g.filter((r) => r.kind === 'idle');
  const controls = runs.filter((r) => r.kind === 'idle' && r.name === 'none' && r.suite === suite && r.page === page);
  const cfg = g[0].cfg;
  const avg = (rs, f) => sum(rs.map((r) => r.cpu[f] * (r.t1 - r.t0))) / sum(rs.map((r) => r.t1 - r.t0));
  lines.push(`\n#### ${name} — ${page === 'iso' ? 'isolated' : 'not isolated'}, ${suite === 'busy' ? 'one core busy' : 'quiet machine'}`);
  if (name === 'none') { lines.push(`control CPU (% of a core): Chromium ${f1(avg(idles, 'all'))}, worker threads ${f1(avg(idles, 'workers'))}`); continue; }
  const secs = sum(idles.map((r) => (r.t1 - r.t0) / 1000));
  if (idles.length) {
    const gg = idles.flatMap((r) => gaps(r.ticks));
    const nticks = sum(idles.map((r) => r.ticks.length + (name === 'channel' ? r.skipped : 0)));
    const cpu = controls.length ? `Chromium ${f1(avg(idles, 'all') - avg(controls, 'all'))}, worker thread(s) ${f1(avg(idles, 'workers') - avg(controls, 'workers'))}` : JSON.stringify(idles[0].cpu);
    const dist = idles.filter((r) => r.disturbed).length;
    lines.push(`idle ${f1(secs, 0)} s${dist ? ` (${dist} chunk(s) DISTURBED)` : ''}, foreign CPU ${f1(avg(idles, 'foreign'))} %: ${f1(nticks / secs, 0)} ticks/s; gap p50 ${f1(q(gg, 50), 2)} p90 ${f1(q(gg, 90), 2)} p99 ${f1(q(gg, 99), 2)} p99.9 ${f1(q(gg, 99.9), 2)} max ${f1(Math.max(...gg), 2)} ms; probe CPU (% of a core, minus no-probe control): ${cpu}`);
    if (idles[0].dues?.length) {
      const lag = idles.flatMap((r) => r.ticks.map((t, i) => t - r.dues[i]).slice(1));
      lines.push(`idle beat lag p50 ${f1(q(lag, 50), 3)} p99 ${f1(q(lag, 99), 2)} p99.9 ${f1(q(lag, 99.9), 2)} max ${f1(Math.max(...lag), 2)} ms`);
    }
  }
  const blockRuns = g.filter((r) => r.kind === 'blocks');
  const ph = [0, 0, 0, 0]; blockRuns.forEach((r) => phases(r).forEach((x, i) => { ph[i] += x; }));
  if (blockRuns.length) lines.push(`block start phase (quarters of the period): ${ph.join(' / ')}`);
  for (const [dname, detect] of detectorsFor(name, cfg)) {
    const idleStalls = idles.flatMap((r) => detect(r.ticks, r.dues));
    lines.push(`\n**${dname}** — idle: ${f1(idleStalls.length / secs, 3)} false stalls/s (${idleStalls.length} in ${f1(secs, 0)} s, longest ${f1(Math.max(0, ...idleStalls.map((s) => s.len)), 1)} ms)\n`);
    lines.push('| hold | B ms | detected | median abs err | p90 abs err | median err | false/s in block runs |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const hold of ['spin', 'wait']) {
      const rs = blockRuns.filter((r) => r.cfg.hold === hold);
      if (!rs.length) continue;
      const perLen = {};
      const falses = sum(rs.map((r) => evaluate(r, detect, perLen)));
      const bsecs = sum(rs.map((r) => (r.t1 - r.t0) / 1000));
      const mark = rs.some((r) => r.disturbed) ? '*' : '';
      for (const B of LENGTHS) {
        const p = perLen[B]; if (!p) continue;
        const abs = p.err.map(Math.abs);
        lines.push(`| ${hold}${mark} | ${B} | ${p.hit}/${p.n} | ${f1(q(abs, 50), 2)} | ${f1(q(abs, 90), 2)} | ${f1(q(p.err, 50), 2)} | ${B === 1 ? f1(falses / bsecs, 2) : ''} |`);
      }
    }
  }
}
// The machine itself: python's time.sleep(1 ms) oversleeps, no browser involved.
for (const suite of [...new Set(natives.map((r) => r.suite))]) {
  const rs = natives.filter((r) => r.suite === suite);
  const secs = sum(rs.map((r) => r.secs));
  const late = rs.flatMap((r) => r.late.map(([, o]) => o));
  const per = (x) => f1(late.filter((o) => o > x).length / secs, 2);
  lines.push(`\n#### native (python time.sleep(1 ms), no browser) — ${suite === 'busy' ? 'one core busy' : 'quiet machine'}`);
  lines.push(`${f1(secs, 0)} s${rs.some((r) => r.disturbed) ? ' (some DISTURBED)' : ''}, foreign CPU ${f1(sum(rs.map((r) => r.cpu.foreign)) / rs.length)} %: oversleeps per second > 0.5 ms ${per(0.5)}, > 1 ms ${per(1)}, > 1.5 ms ${per(1.5)}, > 2 ms ${per(2)}, > 4 ms ${per(4)}; longest ${f1(Math.max(0, ...late), 2)} ms`);
}
console.log(lines.join('\n'));
