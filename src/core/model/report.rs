//! The report: the one format every part of loopscope reads and writes.
//!
//! All times are milliseconds from the first request sent.

use super::config::Config;
use super::faults::Faults;
use super::record::{ConsoleLine, GilWait, Handoff, LogEntry, ProbeStall, Stall};
use super::requests::Requests;
use super::stats::Stats;
use serde::{Deserialize, Serialize};

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
    /// In request id order, column by column ([`Requests`]); JSON has them as rows.
    pub requests: Requests,
    /// Ground truth: when the runtime itself held the loop, in time order.
    pub loop_stalls: Vec<Stall>,
    /// Measured: what the independent heartbeat on the server loop saw, in time order;
    /// absent from predictions (the model has no probe: its stalls are exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_stalls: Option<Vec<ProbeStall>>,
    /// Measured: gaps in the heartbeat while the loop ran no callback long enough to
    /// be a stall: the browser's own work on the thread, which no endpoint caused. Not
    /// stalls, not counted; empty for predictions.
    #[serde(default)]
    pub probe_gaps: Vec<ProbeStall>,
    /// In time order (ties keep the order printed): the first
    /// [`limits::MAX_CONSOLE_LINES`](super::limits::MAX_CONSOLE_LINES), as a terminal's
    /// scrollback keeps some.
    pub console: Vec<ConsoleLine>,
    /// Lines printed past those kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub console_dropped: u64,
    pub stats: Stats,
    /// How a measured run was measured; absent from predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<Measurement>,
    /// Set when the run was cancelled: `requests` then holds only those answered by
    /// then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<CutShort>,
    /// What the background tasks logged (measured runs: the browser writes each to
    /// IndexedDB); empty for predictions.
    #[serde(default)]
    pub logged: Vec<LogEntry>,
    /// Entries logged past the first [`limits::MAX_LOGGED`](super::limits::MAX_LOGGED)
    /// (in IndexedDB all the same; the report keeps a sample).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub logged_dropped: u64,
    /// Every span a server worker's loop waited for its GIL (pure-Python CPU work in
    /// its threads); empty otherwise.
    #[serde(default)]
    pub loop_gil_waits: Vec<GilWait>,
    /// Measured runs: each pool job's trip to its worker and back, in the order the
    /// results came back; empty for predictions (the model's hand-offs take no time).
    #[serde(default)]
    pub handoffs: Vec<Handoff>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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

/// How a browser run was measured, and what could make the measurement wrong.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Every heartbeat of server worker 0's probe: `[t_ms, lag_ms]`, for the lag
    /// sparkline.
    pub probe_lag: Vec<[f64; 2]>,
    /// The same for server workers 1, 2, … (`uvicorn --workers`); empty with one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_lag_by_worker: Vec<Vec<[f64; 2]>>,
    /// The heartbeat's period: 1 ms (`Atomics.waitAsync`, cross-origin isolated) or
    /// 4 ms (`setTimeout`, clamped).
    pub probe_period_ms: f64,
    /// A gap between heartbeats counts as a stall when the block it reveals (the gap
    /// less half an idle gap) is estimated at this length or more.
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
    /// Web Workers standing for the process pool's processes, and the task queue's
    /// workers (none unless the endpoint has them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub process_workers: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub queue_workers: u64,
    /// Whether each server took a real GIL (`python_cpu` work: a lock its loop and its
    /// pool threads share).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gil: bool,
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
