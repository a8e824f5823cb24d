//! The tutorial's functions and five endpoints, written once, line for line like the
//! Python, against the [`Thread`] / [`EventLoop`] traits, plus the part FastAPI and
//! Starlette play around them ([`handle_request`]).
//!
//! Module per tutorial step: [`step1`] the blocking functions and the `def` endpoint
//! (and the `async def` that calls them, which is what the tutorial's text describes),
//! [`step2`] async I/O, [`step3`] `run_in_threadpool`, [`step4`] background tasks; and
//! past the tutorial, [`step5`] a process pool, [`step6`] a task queue.

pub mod count;
pub mod step1;
pub mod step2;
pub mod step3;
pub mod step4;
pub mod step5;
pub mod step6;

use crate::model::{Answer, PredictionRequest, PredictionResponse, Raised, Variant};
use crate::runtime::{EventLoop, Thread};
pub use crate::runtime::{SyncCall, SyncReturn};

/// How the threadpool runs a call: the same Rust function as the tutorial's Python.
impl SyncCall {
    /// Runs the call on the given thread (a pool worker).
    pub fn call(&self, t: &impl Thread) -> SyncReturn {
        match self {
            SyncCall::PredictSynchronously(request) => {
                SyncReturn::Response(step1::predict_synchronously(t, request))
            }
            SyncCall::ValidateResponse(response) => SyncReturn::Response(response.clone()),
            SyncCall::RunModelPrediction(x) => SyncReturn::Prediction(step3::run_model_prediction(t, *x)),
            SyncCall::PredictInProcess(x) => SyncReturn::Prediction(step5::run_model_prediction(t, *x)),
            SyncCall::LogPredictionDetails { request, response } => {
                step4::log_prediction_details(t, request, response);
                SyncReturn::None
            }
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
        Variant::ProcessPool => step5::predict_in_process_pool(s, &request).await,
        Variant::TaskQueue => step6::predict_with_task_queue(s, &request).await,
    };
    match outcome {
        Ok(response) => s.respond(&Answer::ok(response)),
        Err(raised) => {
            s.print(format_args!("ERROR:    Exception in ASGI application: {raised}"));
            s.respond(&Answer::server_error(&raised));
            return;
        }
    }
    if !background_tasks.is_empty() {
        if let Err(raised) = background_tasks.run(s).await {
            s.print(format_args!("ERROR:    Exception in background task: {raised}"));
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

/// Python's `repr` of a float, as an f-string shows it (`10.0`, `2.5`): Rust's `{:?}`.
struct PyFloat(f64);

impl std::fmt::Display for PyFloat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl PredictionRequest {
    /// `request.dict()` as Python prints it; formatted only when printed (a summary run
    /// prints nothing, so pays nothing).
    pub fn py_dict(&self) -> impl std::fmt::Display + '_ {
        PyDict(self)
    }
}

impl PredictionResponse {
    /// `response.dict()` as Python prints it, formatted when printed.
    pub fn py_dict(&self) -> impl std::fmt::Display + '_ {
        PyDict(self)
    }
}

/// A model's `.dict()`, shown as Python shows a dict.
struct PyDict<'a, T>(&'a T);

impl std::fmt::Display for PyDict<'_, PredictionRequest> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        write!(
            f,
            "{{'item_id': {}, 'feature_value': {}}}",
            r.item_id,
            PyFloat(r.feature_value)
        )
    }
}

impl std::fmt::Display for PyDict<'_, PredictionResponse> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        write!(
            f,
            "{{'item_id': {}, 'metadata': '{}', 'prediction': {}}}",
            r.item_id,
            r.metadata,
            PyFloat(r.prediction)
        )
    }
}
