//! What both runtimes (the virtual one in [`crate::sim`], the browser one in the
//! `loopscope-web` crate) share:
//! - the capabilities the tutorial's code uses, as two traits ([`Thread`],
//!   [`EventLoop`]), which each runtime implements and the endpoints are written against;
//! - anyio's capacity limiter, the threadpool's gate ([`limiter`]);
//! - the events a runtime reports as things happen ([`event`]), from which the report
//!   is built and the page draws a run live;
//! - how one coroutine step that blocked becomes a stall ([`step`]);
//! - a runtime that only counts what a request waits for ([`count`]).

pub mod count;
pub mod event;
pub mod limiter;
pub mod step;

pub use crate::model::Durations;
pub use event::Event;
pub use limiter::Limiter;
pub use step::Step;

use crate::flows::{Raised, SyncCall, SyncReturn};
use crate::model::{Answer, PhaseKind};
use std::future::Future;

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
    /// runs `call` on a pool thread, resumes on the loop with its result, or with the
    /// exception it raised (or the death of its thread), re-raised.
    fn run_in_threadpool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>>;
    /// The answer is on the wire: the client has it from now on.
    fn respond(&self, answer: &Answer);
    /// Every background task of this request has finished.
    fn background_done(&self);
}
