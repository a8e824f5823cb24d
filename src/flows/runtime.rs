//! The capabilities the tutorial's code uses, as two traits. Each runtime (virtual,
//! browser) implements them; the endpoints are written once against them.

use crate::model::PhaseKind;
use std::future::Future;

/// Step durations in ms: the numbers in the tutorial's `time.sleep` / `asyncio.sleep`
/// calls, made configurable.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Durations {
    pub io_ms: f64,
    pub cpu_ms: f64,
    pub bg_ms: f64,
}

/// What any Python thread can do: read the clock, print, and `time.sleep`.
pub trait Thread {
    /// `time.monotonic()`, in ms on the run's timeline.
    fn now(&self) -> f64;
    /// `print(text)` to the server console.
    fn print(&self, text: &str);
    /// `time.sleep(ms / 1000)`: holds this thread. `kind` says what the sleep stands for
    /// (I/O, the prediction, the log write) and `function` where it is, for the report.
    fn block(&self, kind: PhaseKind, function: &'static str, ms: f64);
    /// The configured step durations.
    fn durations(&self) -> Durations;
}

/// What code on the event loop can also do.
pub trait EventLoop: Thread {
    /// `await asyncio.sleep(ms / 1000)`: yields to the loop; resumes when the timer
    /// has fired *and* the loop is free.
    fn sleep(&self, kind: PhaseKind, ms: f64) -> impl Future<Output = ()>;
    /// `await run_in_threadpool(call)`: waits for a token of the shared limiter (FIFO),
    /// runs `call` on a pool thread, resumes on the loop with its result.
    fn run_in_threadpool(&self, call: super::SyncCall) -> impl Future<Output = super::SyncReturn>;
    /// The response is on the wire: the client has it from now on.
    fn respond(&self, response: &crate::model::PredictionResponse);
    /// Every background task of this request has finished.
    fn background_done(&self);
}
