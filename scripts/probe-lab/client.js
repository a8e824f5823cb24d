// The lab's "client": posts a request to the lab worker at random times (every
// U[lo, hi] ms, by its own clock), so that blocks start at random phases of the
// heartbeat, however the browser aligns the lab worker's own timers.
'use strict';
onmessage = ({ data: { port, lo, hi } }) => {
  const nap = self.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
  const next = () => lo + Math.random() * (hi - lo);
  if (nap) {
    // Isolated: sleep precisely on Atomics.wait; this thread does nothing else.
    for (;;) { Atomics.wait(nap, 0, 0, next()); port.postMessage(0); }
  } else {
    const beat = () => { port.postMessage(0); setTimeout(beat, next()); };
    setTimeout(beat, next());
  }
};
