//! The report: the one format every part of loopscope reads and writes.
//!
//! All times are milliseconds from the first request sent.

use super::config::Config;
use super::faults::Faults;
use super::stats::Stats;
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
}

/// Which thread a phase belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The event loop's thread.
    Loop,
    /// A threadpool worker thread (or, for `queued`, the limiter's wait line).
    Pool,
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
}

/// A line the server printed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLine {
    pub t_ms: f64,
    pub request: u64,
    pub line: String,
}

/// Whether a report was predicted by the virtual model or measured in a browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Predicted,
    Measured,
}

/// Everything one run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub source: Source,
    pub config: Config,
    /// Faults injected into the run (a test's), if any.
    #[serde(default, skip_serializing_if = "Faults::is_empty")]
    pub faults: Faults,
    /// In request id order.
    pub requests: Vec<RequestRecord>,
    /// Ground truth: when the runtime itself held the loop, in time order.
    pub loop_stalls: Vec<Stall>,
    /// Measured: what the independent heartbeat on the server loop saw, in time order;
    /// absent from predictions (the model has no probe: its stalls are exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_stalls: Option<Vec<ProbeStall>>,
    /// In time order (ties keep the order printed).
    pub console: Vec<ConsoleLine>,
    pub stats: Stats,
    /// How a measured run was measured; absent from predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<Measurement>,
    /// Set when the run was cancelled: `requests` then holds only those answered by
    /// then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<CutShort>,
}

/// A run cancelled before it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CutShort {
    /// When, on the run's clock.
    pub at_ms: f64,
    /// How many requests had been answered by then, of how many.
    pub answered: u64,
    pub requests: u64,
}

/// A span the stall probe saw the loop unavailable: its heartbeat timer fired `lag_ms`
/// late. The block began somewhere in the heartbeat period before; the span starts in
/// the middle of that period, so its length is `lag_ms + period / 2`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeStall {
    pub start_ms: f64,
    pub end_ms: f64,
    pub lag_ms: f64,
}

/// How a browser run was measured, and what could make the measurement wrong.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Every heartbeat: `[t_ms, lag_ms]`, for the lag sparkline.
    pub probe_lag: Vec<[f64; 2]>,
    /// The heartbeat's timer period.
    pub probe_period_ms: f64,
    /// A late heartbeat counts as a stall from this lag on.
    pub probe_threshold_ms: f64,
    /// How late the heartbeat fired while nothing held the loop (the 90th percentile):
    /// the machine's own lateness, which every wake-up of the run is exposed to.
    /// Fidelity allows it once per hop of each answer (`stats::idle_lateness`).
    #[serde(default)]
    pub timer_lateness_ms: f64,
    /// Whether the page was cross-origin isolated (then `time.sleep` is `Atomics.wait`).
    pub cross_origin_isolated: bool,
    /// How the prediction's `time.sleep` held a thread, on the loop and in the pool
    /// alike: `atomics_wait` or `spin`, or `compute` for compute work (the fetch and the
    /// log write always wait, as I/O does).
    pub loop_block_method: String,
    /// For compute work: kernel rounds per ms on one uncontended core, measured before
    /// the run; each step does `duration × rate` rounds, so shared cores stretch it.
    #[serde(default)]
    pub compute_rounds_per_ms: Option<f64>,
    /// `navigator.hardwareConcurrency`: the cores compute work contends for.
    pub hardware_concurrency: u32,
    /// Pool workers started for the run (min(tokens, requests)), and how long starting
    /// them took (before the clock started, so not in any request's time).
    pub pool_workers: u64,
    pub pool_start_ms: f64,
    /// Wall time of the rehearsal that ran before this run, off the clock: the first
    /// run of an endpoint on a page first runs a few requests of a few ms, so that the
    /// browser has compiled the code the measured run executes (cold, the first run
    /// measured up to 13 ms slower than later ones). `None` when this page had already
    /// rehearsed it.
    #[serde(default)]
    pub rehearsal_ms: Option<f64>,
    /// Anything that makes the numbers less trustworthy (hidden tab, throttled timers).
    pub warnings: Vec<String>,
}
