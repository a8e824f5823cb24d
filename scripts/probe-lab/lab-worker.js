// The probe lab's "server worker": a loop that idles (awaiting its own timers, as the
// server's poll does) and then blocks synchronously for exactly B ms, while one
// candidate heartbeat runs in this same worker. The heartbeat only records its own
// callback times (and, for the metronome, the time of the beat that woke it); the loop
// records the true block [start, end]. Everything is analysed afterwards (analyze.mjs).
'use strict';
const now = () => performance.now();
const iso = self.crossOriginIsolated === true;
const cell = () => new Int32Array(new SharedArrayBuffer(4));

// ---- candidate heartbeats: each calls rec(t[, due]) from its callback ----------------
const ticks = [];   // callback times (worker clock, ms)
const dues = [];    // metronome: the beat time that woke the tick (same clock)
let skipped = 0;    // MessageChannel loop: ticks not stored (gap < 0.1 ms), counted only
let running = true;
function recorder(decimate) {
  // decimate (MessageChannel loop, ~100k ticks/s): store a tick only at the two ends of
  // a gap of 0.1 ms or more; the gaps are all the analysis needs.
  let last = -1, lastStored = -1;
  return (t, due) => {
    if (decimate && last >= 0 && t - last < 0.1) { skipped++; last = t; return; }
    if (decimate && last >= 0 && last !== lastStored) ticks.push(last);
    ticks.push(t); lastStored = t; last = t;
    if (due !== undefined) dues.push(due);
  };
}

const heartbeats = {
  none() {},
  // setTimeout chain (nested timers: Chromium clamps to 4 ms from the 5th level on).
  timeout(cfg, rec) {
    const tick = () => { if (!running) return; rec(now()); setTimeout(tick, cfg.delay); };
    setTimeout(tick, cfg.delay);
  },
  // setTimeout whose next timer is set from a MessageChannel message: the timer
  // nesting level restarts at 0 each time, so no 4 ms clamp.
  timeoutHop(cfg, rec) {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => setTimeout(tick, cfg.delay);
    const tick = () => { if (!running) return; rec(now()); ch.port2.postMessage(0); };
    setTimeout(tick, cfg.delay);
  },
  // A port that posts to itself forever: never sleeps.
  channel(cfg, rec) {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { if (!running) return; rec(now()); ch.port2.postMessage(0); };
    ch.port2.postMessage(0);
  },
  // scheduler.postTask with a delay (not an HTML timer: no nesting clamp).
  postTask(cfg, rec) {
    const tick = () => { if (!running) return; rec(now()); scheduler.postTask(tick, { delay: cfg.delay, priority: cfg.priority || 'user-visible' }); };
    scheduler.postTask(tick, { delay: cfg.delay, priority: cfg.priority || 'user-visible' });
  },
  // Atomics.waitAsync on a private cell nobody notifies: resolves "timed-out" after cfg.delay.
  waitAsync(cfg, rec) {
    const c = cell();
    const tick = () => { if (!running) return; rec(now()); arm(); };
    const arm = () => { Atomics.waitAsync(c, 0, 0, cfg.delay).value.then(tick); };
    arm();
  },
  // A metronome thread (metronome.js) bumps a shared counter every cfg.delay ms and
  // notifies; this worker's waitAsync on it resolves, and the tick knows the beat's time.
  metronome(cfg, rec) {
    const N = 4096;
    const sab = new SharedArrayBuffer(8 + 8 * N);
    const beat = new Int32Array(sab, 0, 2);   // [0] beat counter, [1] stop flag
    const times = new Float64Array(sab, 8, N); // absolute time of beat k at k % N
    const m = new Worker('metronome.js');
    const log = new SharedArrayBuffer(8 * 400000);
    self.beatLog = new Float64Array(log);
    m.postMessage({ sab, period: cfg.delay, log });
    self.metronomeWorker = m;
    const origin = performance.timeOrigin;
    let seen = 0;
    const tick = () => {
      if (!running) { Atomics.store(beat, 1, 1); return; }
      const t = now();
      const due = times[(seen + 1) % N] - origin; // the first beat after we armed
      seen = Atomics.load(beat, 0);
      rec(t, due);
      arm();
    };
    const arm = () => {
      const r = Atomics.waitAsync(beat, 0, seen);
      if (r.async) r.value.then(tick); else Promise.resolve().then(tick);
    };
    arm();
  },
};

// ---- the loop --------------------------------------------------------------------
const loopCell = iso ? cell() : null;
const holdCell = iso ? cell() : null;
// The server's poll: waitAsync with a timeout when isolated, else setTimeout.
function sleep(ms) {
  if (loopCell) return Atomics.waitAsync(loopCell, 0, 0, ms).value;
  return new Promise((r) => setTimeout(r, ms));
}
// Holds the thread for exactly `ms`: a spin, or Atomics.wait (what the server does
// for time.sleep when isolated).
function hold(ms, how) {
  const end = now() + ms;
  if (how === 'wait') {
    for (;;) { const left = end - now(); if (left <= 0) break; Atomics.wait(holdCell, 0, 0, left); }
  } else {
    while (now() < end) { /* spin */ }
  }
}

onmessage = async ({ data: cfg }) => {
  try {
    if (cfg.hold === 'wait' && !iso) throw new Error('Atomics.wait needs an isolated page');
    const hb = heartbeats[cfg.candidate];
    if (!hb) throw new Error(`no candidate ${cfg.candidate}`);
    hb(cfg, recorder(cfg.candidate === 'channel'));
    // trigger 'client' (default): after its idle timer, the loop waits for the next
    // request from client.js, which arrives at a random phase; 'timer': it blocks as
    // soon as its own timer fires (the browser may align that with the heartbeat's).
    let request = null;
    if (cfg.blocks && (cfg.trigger || 'client') === 'client') {
      const ch = new MessageChannel();
      let waiting = null;
      ch.port1.onmessage = () => { if (waiting) { const w = waiting; waiting = null; w(); } };
      const client = new Worker('client.js');
      client.postMessage({ port: ch.port2, lo: 1, hi: 5 }, [ch.port2]);
      request = () => new Promise((r) => { waiting = r; });
    }
    await new Promise((r) => setTimeout(r, cfg.warmupMs ?? 1000));
    ticks.length = 0; dues.length = 0; skipped = 0;
    const t0 = now();
    postMessage({ type: 'started' });
    const blocks = [];
    // Blocks of each length, shuffled; or none: idle for cfg.idleRunMs.
    const plan = [];
    for (const B of cfg.blocks || []) for (let i = 0; i < cfg.perLength; i++) plan.push(B);
    for (let i = plan.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [plan[i], plan[j]] = [plan[j], plan[i]]; }
    const [lo, hi] = cfg.idleMs || [4, 20];
    if (plan.length) {
      for (const B of plan) {
        await sleep(lo + Math.random() * (hi - lo));
        if (request) await request(); // the block starts when a request arrives
        const s = now(); hold(B, cfg.hold); const e = now();
        blocks.push([B, s, e]);
      }
      await sleep(hi); // the heartbeat sees the end of the last block
    } else {
      while (now() - t0 < cfg.idleRunMs) await sleep(lo + Math.random() * (hi - lo));
    }
    const t1 = now();
    running = false;
    // The metronome's own beats during the run (worker clock), to check it kept time.
    const beats = self.beatLog ? Array.from(self.beatLog.filter((b) => b > 0), (b) => b - performance.timeOrigin).filter((b) => b >= t0 - 1) : [];
    postMessage({ type: 'done', iso, t0, t1, ticks, dues, skipped, blocks, beats, cfg,
      hasScheduler: typeof scheduler !== 'undefined' && typeof scheduler.postTask === 'function' });
    if (self.metronomeWorker) setTimeout(() => self.metronomeWorker.terminate(), 10);
  } catch (e) {
    postMessage({ type: 'done', error: String(e && e.stack || e) });
  }
};
