// Bootstrap only: instantiate the wasm module, expose the API, start the page.
// All logic is in Rust: src/web/api.rs has every export this file uses.
// A classic script, so the same page works served and as one file opened from disk
// (`make dist`): there, the glue's source and the module's bytes are inlined.
(async () => {
  const status = document.getElementById('status');
  try {
    // The workers run the glue's own source, from a blob: read it from the page (while
    // the module compiles).
    const glueScript = document.getElementById('loopscope-glue');
    const glueText = glueScript.textContent.trim()
      ? Promise.resolve(glueScript.textContent)
      : fetch(glueScript.src).then((r) => r.text());
    const inlined = document.getElementById('loopscope-wasm');
    const module = inlined
      ? Uint8Array.from(atob(inlined.textContent.trim()), (c) => c.charCodeAt(0))
      : new URL('www/pkg/loopscope_bg.wasm', document.baseURI);
    const [glue] = await Promise.all([glueText, wasm_bindgen({ module_or_path: module })]);
    const wasm = wasm_bindgen;
    window.loopscope = {
      /** Runs a config for real; resolves to { predicted, measured, fidelity }. */
      run: (config, options) => wasm.run(config, options, glue),
      /** Ends the run going on; it rejects with what it measured so far as `partial`. */
      cancel: () => wasm.cancel(),
      /** The virtual model's report for one variant, at once; options {summary: true} or {columns: true}. */
      simulate: (config, options) => wasm.simulate(config, options),
      /** Every reason run(config) would refuse it, as [{ field, message }]; [] when it can run. */
      problems: (config) => wasm.problems(config),
      /** The model's event loop at t_ms (its queues, tokens, GIL); worker for --workers, 0 by default. */
      loopState: (config, t_ms, worker) => wasm.loop_state(config, t_ms, worker),
      /** Every iteration of the model's event loop (asyncio's _run_once), with what each ran. */
      iterations: (config) => wasm.iterations(config),
      /** Shows the page at t_ms on the runs' clock, as the scrubber does. */
      seek: (t_ms) => wasm.seek(t_ms),
      /** Every row the background tasks logged (IndexedDB, or memory where it failed), newest first. */
      predictionLog: () => wasm.prediction_log(),
      /** Empties the prediction log, as the page's Clear button. */
      clearPredictionLog: () => wasm.clear_prediction_log(),
      liveWorkers: () => wasm.live_workers(),
      isRunning: () => wasm.is_running(),
      ready: true,
    };
    wasm.start_ui(glue);
  } catch (e) {
    if (status) status.textContent = `The simulator failed to load: ${e}`;
    throw e;
  }
})();
