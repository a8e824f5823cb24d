//! The browser runtime: the same endpoint code as the model, run for real.
//!
//! Three kinds of thread, each a JS realm running this same wasm module:
//! - the **page** runs the load generator ([`loadgen`]): it sends requests as messages
//!   and each client's next one when a response comes back (ab's semantics), and tells
//!   an [`loadgen::Observer`] what happens, as it happens;
//! - the **server** worker ([`server`]) is one uvicorn process: its event loop runs the
//!   handlers, `time.sleep` really holds it ([`hold`]), a heartbeat ([`probe`]) measures
//!   its lag, and the core's limiter bounds the threadpool;
//! - **pool** workers ([`pool`]) are the threadpool's threads: they run a
//!   [`loopscope::flows::SyncCall`] with the same Rust function and post back what
//!   happened. The page starts them and gives each one end of a `MessageChannel`, the
//!   server the other: they talk directly, and the page terminates every worker it
//!   started when the run ends. (Pool workers nested in the server worker, terminated
//!   with it, were left alive by Chromium after about one run in ten: BENCHMARKS.md,
//!   "Worker lifetime".)
//!
//! What they say to each other is typed, in [`protocol`]; how a worker is started and
//! talked to is [`worker`]. Every timestamp crosses threads as absolute time
//! (`performance.timeOrigin + performance.now()`), so all land on one timeline: ms
//! since the first request.

pub mod accept;
pub mod broker;
pub mod gil;
pub mod hold;
pub mod loadgen;
pub mod log;
pub mod pool;
pub mod probe;
pub mod protocol;
pub mod server;
pub mod timer;
pub mod worker;

use js_sys::Reflect;
use wasm_bindgen::JsCast;
use web_sys::Performance;

thread_local! {
    static PERFORMANCE: Performance = Reflect::get(&js_sys::global(), &"performance".into())
        .expect("performance")
        .unchecked_into();
}

/// Absolute time in ms, comparable across the page and its workers.
pub fn now_abs() -> f64 {
    PERFORMANCE.with(|p| p.time_origin() + p.now())
}

/// `crossOriginIsolated`: then `SharedArrayBuffer` exists and workers may `Atomics.wait`.
pub fn cross_origin_isolated() -> bool {
    Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// `navigator.hardwareConcurrency`: the cores compute work contends for.
pub fn hardware_concurrency() -> u32 {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"hardwareConcurrency".into()))
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(1, |n| n as u32)
}
