// Bootstrap only: load the wasm module, expose the API, start the page (src/ui).
// All logic is in Rust (src/web, src/wasm_api.rs).
import init, * as wasm from './pkg/loopscope.js';

// Workers import the same glue by absolute URL (relative URLs do not resolve in them).
const glue = new URL('./pkg/loopscope.js', import.meta.url).href;
try {
  await init();
  window.loopscope = {
    /** Runs a config for real; resolves to { predicted, measured, fidelity }. */
    run: (config) => wasm.run(config, glue),
    /** The virtual model's report for one variant, instantly. */
    simulate: (config) => wasm.simulate(config),
    /** Every invalid field of a config, as [{ field, message }]. */
    problems: (config) => wasm.config_problems(config),
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
