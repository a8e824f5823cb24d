//! Timed waits in a worker that browsers do not clamp.
//!
//! A nested `setTimeout` in a worker waits at least 4 ms (Chromium: 4.1 ms for
//! `setTimeout(f, 1)`). In a cross-origin isolated worker, `Atomics.waitAsync` on a
//! private cell with a timeout waits what it is asked (1 ms: p50 1.1, p95 2.0 ms,
//! BENCHMARKS.md "Probe accuracy"), without blocking the worker. The server's poll and
//! the stall probe both wait this way; elsewhere they fall back to `setTimeout`.

use js_sys::{Atomics, Int32Array, SharedArrayBuffer};
use wasm_bindgen::{JsCast, JsValue};

thread_local! {
    /// The private cell: nobody notifies it, so every wait on it ends by its timeout.
    static POLL_CELL: Option<Int32Array> = super::cross_origin_isolated()
        .then(|| Int32Array::new(&SharedArrayBuffer::new(4)));
}

/// Whether waits here are precise (`Atomics.waitAsync`) rather than clamped timers.
pub fn precise() -> bool {
    POLL_CELL.with(Option::is_some)
}

/// Resolves `resolve` after `ms` (at least; fractions count), without blocking.
pub fn resolve_after(ms: f64, resolve: &js_sys::Function) {
    let waited = POLL_CELL.with(|cell| {
        let cell = cell.as_ref()?;
        let result = Atomics::wait_async_with_timeout(cell, 0, 0, ms).ok()?;
        let value = js_sys::Reflect::get(&result, &"value".into()).ok()?;
        let promise = value.dyn_into::<js_sys::Promise>().ok()?;
        let resolve = resolve.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            let _ = resolve.call0(&JsValue::NULL);
        });
        Some(())
    });
    if waited.is_none() {
        if let Some(scope) = js_sys::global().dyn_ref::<web_sys::WorkerGlobalScope>() {
            let _ = scope
                .set_timeout_with_callback_and_timeout_and_arguments_0(resolve, ms.max(0.0).ceil() as i32);
        }
    }
}

/// Waits `ms` (at least) without blocking.
pub async fn sleep(ms: f64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| resolve_after(ms, &resolve));
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
