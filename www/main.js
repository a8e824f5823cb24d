// Bootstrap only: load the wasm module and show the model's summary for the tutorial.
import init, { summary_table } from './pkg/loopscope.js';

const out = document.getElementById('summary');
try {
  await init();
  out.textContent = summary_table({});
} catch (e) {
  out.textContent = `The simulator failed to load: ${e}`;
}
