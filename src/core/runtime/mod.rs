//! What both runtimes (the virtual one in [`crate::sim`], the browser one in the
//! `loopscope-web` crate) share:
//! - the capabilities the tutorial's code uses, as two traits ([`Thread`],
//!   [`EventLoop`]), which each runtime implements and the endpoints are written against;
//! - anyio's capacity limiter, the threadpool's gate ([`limiter`]);
//! - the calls the loop hands to the threadpool ([`SyncCall`]), as data, so the browser
//!   can post them to a Web Worker;
//! - how one coroutine step that blocked becomes a stall ([`step`]);
//! - a sync call recorded as a script of prints and blocking steps ([`script`]), which
//!   the model plays on a virtual thread and a browser pool thread on timers where it
//!   cannot wait without spinning.
//!
//! What a runtime reports as it goes is [`crate::model::Event`].

pub mod aio;
pub mod limiter;
pub mod script;
pub mod step;

pub use crate::model::Durations;
pub use limiter::Limiter;
pub use step::Step;

use crate::model::{Answer, PhaseKind, PredictionRequest, PredictionResponse, Raised};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A sync callable handed to the threadpool. It is data, not a closure, so the browser
/// runtime can post it to a Web Worker that runs the same Rust function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SyncCall {
    /// FastAPI's `run_endpoint_function` sending a `def` endpoint to the threadpool.
    PredictSynchronously(PredictionRequest),
    /// FastAPI's `serialize_response` validating a `def` endpoint's return value against
    /// its `response_model`: `await run_in_threadpool(field.validate, ...)`. Takes no
    /// measurable time, but it needs a token like any other call, behind every call
    /// already waiting for one.
    ValidateResponse(PredictionResponse),
    /// `run_in_threadpool(run_model_prediction, feature_value)` (step 3's version).
    RunModelPrediction(f64),
    /// `loop.run_in_executor(process_pool, run_model_prediction, feature_value)`: the
    /// prediction in a process of the pool (step 5's version, which says so).
    PredictInProcess(f64),
    /// A sync background task: `log_prediction_details(request.dict(), response.dict())`;
    /// also the task-queue job (`log_prediction_details.delay(...)`).
    LogPredictionDetails {
        request: PredictionRequest,
        response: PredictionResponse,
    },
}

/// What a [`SyncCall`] returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SyncReturn {
    Response(PredictionResponse),
    Prediction(f64),
    None,
}

impl SyncCall {
    /// What the call does first, for a live view of a job that has started; `None` for
    /// a call that holds its thread for no measurable time.
    pub fn first_kind(&self) -> Option<PhaseKind> {
        match self {
            SyncCall::PredictSynchronously(_) => Some(PhaseKind::Io),
            SyncCall::ValidateResponse(_) => None,
            SyncCall::RunModelPrediction(_) | SyncCall::PredictInProcess(_) => Some(PhaseKind::Cpu),
            SyncCall::LogPredictionDetails { .. } => Some(PhaseKind::Background),
        }
    }
}

impl SyncReturn {
    pub fn into_response(self) -> PredictionResponse {
        match self {
            SyncReturn::Response(r) => r,
            other => unreachable!("a def endpoint returns a response, got {other:?}"),
        }
    }

    pub fn into_prediction(self) -> f64 {
        match self {
            SyncReturn::Prediction(p) => p,
            other => unreachable!("run_model_prediction returns a float, got {other:?}"),
        }
    }
}

/// What any Python thread can do: read the clock, print, and `time.sleep`.
pub trait Thread {
    /// `time.monotonic()`, in ms on the run's timeline.
    fn now(&self) -> f64;
    /// `print(text)` to the server console: a string, or `format_args!(...)`, which a
    /// runtime that keeps no console does not even format.
    fn print(&self, text: impl std::fmt::Display);
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
    /// `await loop.run_in_executor(process_pool, call)`: waits for a free process of the
    /// pool (FIFO), runs `call` there (a process of its own, with its own GIL; pickling
    /// its argument and result costs `pickle_ms`), resumes on the loop with its result.
    /// No threadpool token: `run_in_executor` does not go through anyio's limiter.
    fn run_in_process_pool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>>;
    /// Celery's `task.delay(...)`: publishes `call` to the broker, a blocking round trip
    /// on the loop (`broker_ms`); a queue worker outside the server runs it later, and
    /// its end is the request's background end.
    fn delay(&self, call: SyncCall);
    /// The answer is on the wire: the client has it from now on.
    fn respond(&self, answer: &Answer);
    /// Every background task of this request has finished.
    fn background_done(&self);
}
