// Bootstrap only: load the wasm module, expose the API, start the page (src/ui).
// All logic is in Rust: src/web/api.rs has every export this file uses.
import init, * as wasm from './pkg/loopscope.js';

// Workers import the same glue by absolute URL (relative URLs do not resolve in them).
const glue = new URL('./pkg/loopscope.js', import.meta.url).href;
try {
  await init();
  window.loopscope = {
    /** Runs a config for real; resolves to { predicted, measured, fidelity }. */
    run: (config, options) => wasm.run(config, options, glue),
    /** Ends the run going on; it rejects with what it measured so far as `partial`. */
    cancel: () => wasm.cancel(),
    /** The virtual model's report for one variant, instantly. */
    simulate: (config) => wasm.simulate(config),
    /** Every reason run(config) would refuse it, as [{ field, message }]; [] when it can run. */
    problems: (config) => wasm.problems(config),
    /** Shows the page at t_ms on the runs' clock, as the scrubber does. */
    seek: (t_ms) => wasm.seek(t_ms),
    liveWorkers: () => wasm.live_workers(),
    isRunning: () => wasm.is_running(),
    ready: true,
  };
  wasm.start_ui(glue);
} catch (e) {
  const status = document.getElementById('status');
  if (status) status.textContent = `The simulator failed to load: ${e}`;
  throw e;
}
