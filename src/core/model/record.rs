//! The pieces a report is made of: a request's phases and answer, a stall, a console
//! line, what the probe saw. All times are milliseconds from the first request sent.

use serde::{Deserialize, Serialize};

/// What a phase of a request was doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// Ready, but waiting: for the event loop (to be accepted, or to resume) or for a
    /// threadpool token.
    Queued,
    /// Fetching external data (`time.sleep(0.5)` or `await asyncio.sleep(0.5)`).
    Io,
    /// The model prediction (`time.sleep(1)`).
    Cpu,
    /// The background log task (`time.sleep(0.2)`).
    Background,
    /// Ready to run Python but waiting for its process's GIL, held by another thread
    /// (pure-Python CPU work, `work: python_cpu`).
    GilWait,
}

impl PhaseKind {
    pub const ALL: [PhaseKind; 5] = [
        PhaseKind::Queued,
        PhaseKind::Io,
        PhaseKind::Cpu,
        PhaseKind::Background,
        PhaseKind::GilWait,
    ];

    /// Its place in [`PhaseKind::ALL`] (a column of codes).
    pub fn code(self) -> u8 {
        PhaseKind::ALL.iter().position(|&k| k == self).unwrap_or(0) as u8
    }
}

/// Which thread a phase belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The event loop's thread.
    Loop,
    /// A threadpool worker thread (or, for `queued`, the limiter's wait line).
    Pool,
    /// A process of the process pool (or, for `queued`, waiting for a free one).
    Process,
    /// A task-queue worker, outside the server (or, for `queued`, waiting in the queue).
    Queue,
}

impl Place {
    pub const ALL: [Place; 4] = [Place::Loop, Place::Pool, Place::Process, Place::Queue];

    /// Its place in [`Place::ALL`] (a column of codes).
    pub fn code(self) -> u8 {
        Place::ALL.iter().position(|&p| p == self).unwrap_or(0) as u8
    }
}

/// One span of a request's life.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub kind: PhaseKind,
    pub start_ms: f64,
    pub end_ms: f64,
    pub on: Place,
    /// True when the phase held its thread (`time.sleep`); false when it was awaited
    /// (`await asyncio.sleep`) or was a wait.
    pub blocking: bool,
}

/// The body a request was answered with (the tutorial's `PredictionResponse`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictionResponse {
    pub item_id: i64,
    pub metadata: String,
    pub prediction: f64,
}

/// The body a request carries (the tutorial's `PredictionRequest`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictionRequest {
    pub item_id: i64,
    pub feature_value: f64,
}

impl PredictionRequest {
    /// What the load generator sends as request number `index`: the tutorial's example
    /// (`item_id` 123, `feature_value` 5.0) for the first, then counting up, so each
    /// response can be checked against its own request.
    pub fn for_index(index: u64) -> PredictionRequest {
        PredictionRequest {
            item_id: 123 + index as i64,
            feature_value: 5.0 + index as f64 * 0.5,
        }
    }
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

/// What a request got back: the tutorial's response (HTTP 200), or a server error
/// (HTTP 500, the body Starlette's `ServerErrorMiddleware` sends when the endpoint
/// raises).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub status: u16,
    /// The body, for a 200; `null` for an error.
    pub response: Option<PredictionResponse>,
    /// What was raised, for an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Answer {
    pub fn ok(response: PredictionResponse) -> Answer {
        Answer {
            status: 200,
            response: Some(response),
            error: None,
        }
    }

    pub fn server_error(raised: &impl std::fmt::Display) -> Answer {
        Answer {
            status: 500,
            response: None,
            error: Some(raised.to_string()),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == 200
    }
}

/// One request, end to end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: u64,
    /// The server worker (`uvicorn --workers`) that took it; 0 with one worker.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub worker: u64,
    pub request: PredictionRequest,
    pub sent_ms: f64,
    /// When the event loop took it in (late when the loop was blocked).
    pub accepted_ms: f64,
    pub responded_ms: f64,
    pub latency_ms: f64,
    /// `status`, `response` and, for an error, `error`.
    #[serde(flatten)]
    pub answer: Answer,
    /// End of this request's last background task; `None` when it has none.
    pub background_done_ms: Option<f64>,
    pub phases: Vec<Phase>,
}

/// A span during which the event loop ran one step of one coroutine without yielding,
/// so nothing else on the loop could run (asyncio's "Executing <Task> took 1.5 seconds").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stall {
    pub start_ms: f64,
    pub end_ms: f64,
    /// The request whose coroutine held the loop.
    pub request: u64,
    /// The blocking calls, e.g. `time.sleep in run_model_prediction`.
    pub cause: String,
    /// The server worker whose loop it held; 0 with one worker.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub worker: u64,
}

/// A span a server worker's event loop had work ready but waited for its process's
/// GIL, held by a thread doing pure-Python CPU work: loop lag with no blocking call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GilWait {
    pub start_ms: f64,
    pub end_ms: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub worker: u64,
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A line the server printed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLine {
    pub t_ms: f64,
    pub request: u64,
    pub line: String,
}

/// A span the stall probe saw the loop unavailable: its heartbeat came `lag_ms` late.
/// The block began somewhere in the wait before; the span starts half an idle turn
/// after the previous heartbeat and ends at the late one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeStall {
    pub start_ms: f64,
    pub end_ms: f64,
    pub lag_ms: f64,
    /// The server worker whose loop it probed; 0 with one worker.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub worker: u64,
}

/// A job's trip to a worker of a pool (the threadpool or the process pool) and back, as
/// a browser run measured it: `to_ms` from the moment the server posted the job to the
/// moment a worker started it, `back_ms` from the job's end to the moment its result
/// reached the server's thread. Messages between threads take that long, more when
/// the machine's cores are busy; the model takes no time for either, and fidelity
/// gives it these ([`crate::Given`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub request: u64,
    pub on: Place,
    pub to_ms: f64,
    pub back_ms: f64,
}

/// What the background task `log_prediction_details` wrote: in the browser, a row of
/// the IndexedDB log (`stored`), or, where the database was unavailable or refused the
/// write, the row kept in the page's memory with the reason (`error`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The run it belongs to, as the page names it (when and which endpoint).
    pub run: String,
    pub variant: super::Variant,
    pub request_id: u64,
    pub request: PredictionRequest,
    pub response: PredictionResponse,
    /// When the task wrote it, on the run's clock (ms since the first request was
    /// sent): never before the request's response.
    pub written_ms: f64,
    /// The same moment as wall-clock time (ms since the Unix epoch), to tell runs apart
    /// across reloads.
    pub written_abs_ms: f64,
    /// Written to IndexedDB.
    pub stored: bool,
    /// Why it was not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LogEntry {
    /// The log's order: the newest written first; of two written in the same
    /// millisecond, the later request first.
    pub fn newest_first(a: &LogEntry, b: &LogEntry) -> std::cmp::Ordering {
        b.written_abs_ms
            .total_cmp(&a.written_abs_ms)
            .then(b.request_id.cmp(&a.request_id))
    }
}
