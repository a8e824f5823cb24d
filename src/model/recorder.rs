//! Collects what a runtime saw, in any order, and turns it into a [`Report`].
//!
//! Both runtimes (virtual and browser) feed one of these, so their reports are built
//! by the same code and can be laid over each other.

use super::config::Config;
use super::report::{
    ConsoleLine, Phase, PhaseKind, Place, PredictionRequest, PredictionResponse, Report, RequestRecord,
    Source, Stall,
};
use super::stats::Stats;

#[derive(Default)]
struct Partial {
    request: Option<PredictionRequest>,
    sent_ms: Option<f64>,
    accepted_ms: Option<f64>,
    responded: Option<(f64, PredictionResponse)>,
    background_done_ms: Option<f64>,
    phases: Vec<Phase>,
}

/// Why a recording could not become a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete(pub String);

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "incomplete run: {}", self.0)
    }
}

impl std::error::Error for Incomplete {}

/// A request as recorded so far (for live views).
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    pub sent_ms: Option<f64>,
    pub accepted_ms: Option<f64>,
    pub responded_ms: Option<f64>,
    pub background_done_ms: Option<f64>,
    /// In the order recorded.
    pub phases: &'a [Phase],
}

pub struct Recorder {
    config: Config,
    requests: Vec<Partial>,
    stalls: Vec<Stall>,
    console: Vec<ConsoleLine>,
}

impl Recorder {
    pub fn new(config: Config) -> Recorder {
        let n = config.requests as usize;
        Recorder {
            config,
            requests: (0..n).map(|_| Partial::default()).collect(),
            stalls: Vec::new(),
            console: Vec::new(),
        }
    }

    fn slot(&mut self, id: u64) -> &mut Partial {
        &mut self.requests[id as usize]
    }

    pub fn sent(&mut self, id: u64, request: PredictionRequest, t: f64) {
        let p = self.slot(id);
        p.request = Some(request);
        p.sent_ms = Some(t);
    }

    /// The loop took the request in; the time since it was sent is a wait for the loop.
    pub fn accepted(&mut self, id: u64, t: f64) {
        let sent = self.slot(id).sent_ms.unwrap_or(t);
        self.wait(id, Place::Loop, sent, t);
        self.slot(id).accepted_ms = Some(t);
    }

    /// When request `id` was accepted (its send time if it has not been).
    pub fn accepted_at(&mut self, id: u64) -> f64 {
        let slot = self.slot(id);
        slot.accepted_ms.or(slot.sent_ms).unwrap_or(0.0)
    }

    pub fn phase(&mut self, id: u64, phase: Phase) {
        self.slot(id).phases.push(phase);
    }

    /// A wait for the loop or for a token, recorded only when it lasted.
    pub fn wait(&mut self, id: u64, on: Place, from: f64, to: f64) {
        if to > from {
            self.phase(
                id,
                Phase {
                    kind: PhaseKind::Queued,
                    start_ms: from,
                    end_ms: to,
                    on,
                    blocking: false,
                },
            );
        }
    }

    pub fn responded(&mut self, id: u64, t: f64, response: PredictionResponse) {
        self.slot(id).responded = Some((t, response));
    }

    pub fn background_done(&mut self, id: u64, t: f64) {
        self.slot(id).background_done_ms = Some(t);
    }

    pub fn stall(&mut self, stall: Stall) {
        self.stalls.push(stall);
    }

    /// What Python's `print(text)` shows: one console line per non-blank line of `text`.
    pub fn print(&mut self, id: u64, t: f64, text: &str) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.console.push(ConsoleLine {
                t_ms: t,
                request: id,
                line: line.to_string(),
            });
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Request `id` as recorded so far.
    pub fn request(&self, id: u64) -> RequestView<'_> {
        let p = &self.requests[id as usize];
        RequestView {
            sent_ms: p.sent_ms,
            accepted_ms: p.accepted_ms,
            responded_ms: p.responded.as_ref().map(|(t, _)| *t),
            background_done_ms: p.background_done_ms,
            phases: &p.phases,
        }
    }

    /// The stalls recorded so far, in the order recorded.
    pub fn stalls(&self) -> &[Stall] {
        &self.stalls
    }

    /// The console lines so far, in the order printed.
    pub fn console(&self) -> &[ConsoleLine] {
        &self.console
    }

    /// Orders everything in time and computes the stats. Fails if a request never got
    /// a response (a runtime bug, or a measurement cut short).
    pub fn finish(self, source: Source) -> Result<Report, Incomplete> {
        let mut requests = Vec::with_capacity(self.requests.len());
        for (id, p) in self.requests.into_iter().enumerate() {
            let missing = |what: &str| Incomplete(format!("request {id} has no {what}"));
            let request = p.request.ok_or_else(|| missing("request body"))?;
            let sent_ms = p.sent_ms.ok_or_else(|| missing("send time"))?;
            let accepted_ms = p.accepted_ms.ok_or_else(|| missing("accept time"))?;
            let (responded_ms, response) = p.responded.ok_or_else(|| missing("response"))?;
            let mut phases = p.phases;
            phases.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
            requests.push(RequestRecord {
                id: id as u64,
                request,
                sent_ms,
                accepted_ms,
                responded_ms,
                latency_ms: responded_ms - sent_ms,
                response,
                background_done_ms: p.background_done_ms,
                phases,
            });
        }
        let mut loop_stalls = self.stalls;
        loop_stalls.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        let mut console = self.console;
        console.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms)); // stable: ties keep print order
        let stats = Stats::compute(&requests, &loop_stalls);
        Ok(Report {
            source,
            config: self.config,
            requests,
            loop_stalls,
            console,
            stats,
            probe_stalls: None,
            measurement: None,
        })
    }
}
