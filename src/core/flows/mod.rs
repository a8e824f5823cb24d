//! The tutorial's functions and five endpoints, written once, line for line like the
//! Python, against the [`Thread`] / [`EventLoop`] traits, plus the part FastAPI and
//! Starlette play around them ([`handle_request`]).
//!
//! Module per tutorial step: [`step1`] the blocking functions and the `def` endpoint
//! (and the `async def` that calls them, which is what the tutorial's text describes),
//! [`step2`] async I/O, [`step3`] `run_in_threadpool`, [`step4`] background tasks.

pub mod step1;
pub mod step2;
pub mod step3;
pub mod step4;

use crate::model::{Answer, PredictionRequest, PredictionResponse, Variant};
use crate::runtime::{EventLoop, Thread};
use serde::{Deserialize, Serialize};

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
    /// A sync background task: `log_prediction_details(request.dict(), response.dict())`.
    LogPredictionDetails {
        request: PredictionRequest,
        response: PredictionResponse,
    },
}

/// A Python exception raised in a threadpool job (or the death of the thread running
/// it), re-raised in the coroutine that awaited the job, as `run_in_threadpool` does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raised(pub String);

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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
    pub fn first_kind(&self) -> Option<crate::model::PhaseKind> {
        use crate::model::PhaseKind;
        match self {
            SyncCall::PredictSynchronously(_) => Some(PhaseKind::Io),
            SyncCall::ValidateResponse(_) => None,
            SyncCall::RunModelPrediction(_) => Some(PhaseKind::Cpu),
            SyncCall::LogPredictionDetails { .. } => Some(PhaseKind::Background),
        }
    }

    /// Runs the call on the given thread (a pool worker).
    pub fn call(&self, t: &impl Thread) -> SyncReturn {
        match self {
            SyncCall::PredictSynchronously(request) => {
                SyncReturn::Response(step1::predict_synchronously(t, request))
            }
            SyncCall::ValidateResponse(response) => SyncReturn::Response(response.clone()),
            SyncCall::RunModelPrediction(x) => SyncReturn::Prediction(step3::run_model_prediction(t, *x)),
            SyncCall::LogPredictionDetails { request, response } => {
                step4::log_prediction_details(t, request, response);
                SyncReturn::None
            }
        }
    }
}

impl SyncReturn {
    pub(crate) fn into_response(self) -> PredictionResponse {
        match self {
            SyncReturn::Response(r) => r,
            other => unreachable!("a def endpoint returns a response, got {other:?}"),
        }
    }

    pub(crate) fn into_prediction(self) -> f64 {
        match self {
            SyncReturn::Prediction(p) => p,
            other => unreachable!("run_model_prediction returns a float, got {other:?}"),
        }
    }
}

/// Starlette's `BackgroundTasks`: calls to run, in the order added, after the response.
#[derive(Debug, Default)]
pub struct BackgroundTasks {
    tasks: Vec<SyncCall>,
}

impl BackgroundTasks {
    pub fn add_task(&mut self, call: SyncCall) {
        self.tasks.push(call);
    }

    /// `BackgroundTasks.__call__`: each task in turn; a sync task goes through
    /// `run_in_threadpool`, so it takes a token like any other. A task that raises
    /// stops the ones after it (the client already has its response).
    pub async fn run(self, s: &impl EventLoop) -> Result<(), Raised> {
        for task in self.tasks {
            s.run_in_threadpool(task).await?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// One request's trip through FastAPI and Starlette, on the event loop:
/// the endpoint (a `def` one via the threadpool, and then its return value's validation
/// against `response_model` too: FastAPI's `serialize_response` validates on the loop
/// for `async def` endpoints and with `run_in_threadpool` for `def` ones), the response,
/// then the background tasks (Starlette's `Response.__call__` sends the body, then
/// awaits `background`).
///
/// An exception the endpoint does not catch is answered 500 (Starlette's
/// `ServerErrorMiddleware`), logged as uvicorn logs it, and its background tasks never
/// run: the endpoint never returned the response they belong to.
pub async fn handle_request(s: &impl EventLoop, variant: Variant, request: PredictionRequest) {
    let mut background_tasks = BackgroundTasks::default();
    let outcome = match variant {
        Variant::SyncDef => predict_synchronously_in_threadpool(s, request).await,
        Variant::Blocking => Ok(step1::predict_blocking(s, &request).await),
        Variant::AsyncIo => Ok(step2::predict_with_async_io(s, &request).await),
        Variant::FullAsync => step3::predict_fully_asynchronous(s, &request).await,
        Variant::Background => step4::predict_with_background_task(s, &request, &mut background_tasks).await,
    };
    match outcome {
        Ok(response) => s.respond(&Answer::ok(response)),
        Err(raised) => {
            s.print(&format!("ERROR:    Exception in ASGI application: {raised}"));
            s.respond(&Answer::server_error(&raised));
            return;
        }
    }
    if !background_tasks.is_empty() {
        if let Err(raised) = background_tasks.run(s).await {
            s.print(&format!("ERROR:    Exception in background task: {raised}"));
        }
        s.background_done();
    }
}

/// FastAPI's `run_endpoint_function` for a `def` endpoint, then `serialize_response`
/// validating what it returned: two calls, each with a token of its own.
async fn predict_synchronously_in_threadpool(
    s: &impl EventLoop,
    request: PredictionRequest,
) -> Result<PredictionResponse, Raised> {
    let returned = s
        .run_in_threadpool(SyncCall::PredictSynchronously(request))
        .await?
        .into_response();
    Ok(s.run_in_threadpool(SyncCall::ValidateResponse(returned))
        .await?
        .into_response())
}

/// Python's `repr` of a float, as an f-string shows it (`10.0`, `2.5`).
pub(crate) fn py_float(x: f64) -> String {
    format!("{x:?}")
}

impl PredictionRequest {
    /// `request.dict()` as Python prints it.
    pub fn py_dict(&self) -> String {
        format!(
            "{{'item_id': {}, 'feature_value': {}}}",
            self.item_id,
            py_float(self.feature_value)
        )
    }
}

impl PredictionResponse {
    /// `response.dict()` as Python prints it.
    pub fn py_dict(&self) -> String {
        format!(
            "{{'item_id': {}, 'metadata': '{}', 'prediction': {}}}",
            self.item_id,
            self.metadata,
            py_float(self.prediction)
        )
    }
}
