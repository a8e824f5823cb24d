// The metronome thread: every `period` ms (Atomics.wait, so it sleeps precisely and
// burns nothing in between), store the beat's absolute time, bump the counter, notify.
'use strict';
onmessage = ({ data: { sab, period, log } }) => {
  // log (optional): every beat's absolute time, for the lab to check the metronome itself.
  const beats = log ? new Float64Array(log) : null;
  const N = 4096;
  const beat = new Int32Array(sab, 0, 2);
  const times = new Float64Array(sab, 8, N);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const origin = performance.timeOrigin;
  let next = performance.now() + period;
  while (Atomics.load(beat, 1) === 0) {
    const left = next - performance.now();
    if (left > 0) Atomics.wait(nap, 0, 0, left);
    const t = performance.now();
    if (t < next) continue;
    const k = Atomics.load(beat, 0) + 1;
    times[k % N] = origin + t;
    if (beats && k < beats.length) beats[k] = origin + t;
    Atomics.store(beat, 0, k);
    Atomics.notify(beat, 0);
    next += period;
    if (next < t) next = t + period; // missed beats (this thread descheduled): skip them
  }
};
