//! Collects the events a runtime reports, in any order, and turns them into a
//! [`Report`].
//!
//! Both runtimes (virtual and browser) feed one of these with the same
//! [`Event`]s, so their reports are built by the same code and can be laid over each
//! other. Request ids come from the runtime (in the browser, from messages): they are
//! checked, never trusted as indices.

use super::config::{limits, Config};
use super::record::{
    Answer, ConsoleLine, GilWait, Handoff, LogEntry, Phase, PhaseKind, Place, PredictionRequest,
    RequestRecord, Stall,
};
use super::report::{CutShort, Report, Source};
use super::requests::Requests;
use super::stats::Stats;
use crate::model::Event;

#[derive(Clone, Default)]
struct Partial {
    request: Option<PredictionRequest>,
    sent_ms: Option<f64>,
    accepted_ms: Option<f64>,
    worker: u64,
    responded: Option<(f64, Answer)>,
    background_done_ms: Option<f64>,
    /// Whether it has done something in the threadpool yet.
    pooled: bool,
}

/// Every request's phases so far, in the order recorded: `(request, phase)`. One vector
/// for the run rather than one per request: a run of 100 000 requests is freed at once,
/// not in 100 000 pieces.
#[derive(Clone, Default)]
struct Phases(Vec<(u32, Phase)>);

impl Phases {
    fn push(&mut self, request: usize, phase: Phase) {
        self.0.push((request as u32, phase));
    }

    /// A wait for the loop or for a token, recorded only when it lasted.
    fn wait(&mut self, request: usize, on: Place, from: f64, to: f64) {
        if to > from {
            self.push(
                request,
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
}

/// The console lines `text` prints (its non-blank lines, as a report keeps them),
/// counted without writing it anywhere.
pub fn console_lines(text: impl std::fmt::Display) -> u64 {
    struct Count {
        lines: u64,
        inked: bool,
    }
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            // Byte by byte: a line ends at '\n'; any byte but ASCII blanks is ink (a
            // multi-byte character's bytes never look like a blank or a '\n'; Unicode
            // blanks beyond ASCII count as ink, where `str::trim` would not: none of
            // the tutorial's prints has one).
            for &b in s.as_bytes() {
                if b == b'\n' {
                    self.lines += u64::from(self.inked);
                    self.inked = false;
                } else if !b.is_ascii_whitespace() {
                    self.inked = true;
                }
            }
            Ok(())
        }
    }
    let mut count = Count {
        lines: 0,
        inked: false,
    };
    let _ = std::fmt::write(&mut count, format_args!("{text}"));
    count.lines + u64::from(count.inked)
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

/// An event named a request the run does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRequest {
    pub request: u64,
    pub requests: u64,
}

impl std::fmt::Display for UnknownRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an event named request {}, but the run has {} (ids 0 to {})",
            self.request,
            self.requests,
            self.requests.saturating_sub(1)
        )
    }
}

impl std::error::Error for UnknownRequest {}

/// A request as recorded so far (for live views).
#[derive(Clone, Copy, Debug)]
pub struct RequestView {
    pub sent_ms: Option<f64>,
    pub accepted_ms: Option<f64>,
    pub responded_ms: Option<f64>,
    pub background_done_ms: Option<f64>,
    /// It has done something (not waited) in the threadpool.
    pub pooled: bool,
}

#[derive(Clone)]
pub struct Recorder {
    config: Config,
    requests: Vec<Partial>,
    phases: Phases,
    stalls: Vec<Stall>,
    console: Vec<ConsoleLine>,
    console_dropped: u64,
    logged: Vec<LogEntry>,
    logged_dropped: u64,
    gil_waits: Vec<GilWait>,
    handoffs: Vec<Handoff>,
}

impl Recorder {
    pub fn new(config: Config) -> Recorder {
        let n = config.requests as usize;
        Recorder {
            config,
            requests: (0..n).map(|_| Partial::default()).collect(),
            phases: Phases::default(),
            stalls: Vec::new(),
            console: Vec::new(),
            console_dropped: 0,
            logged: Vec::new(),
            logged_dropped: 0,
            gil_waits: Vec::new(),
            handoffs: Vec::new(),
        }
    }

    fn slot(&mut self, request: u64) -> Result<&mut Partial, UnknownRequest> {
        let requests = self.requests.len() as u64;
        usize::try_from(request)
            .ok()
            .and_then(|i| self.requests.get_mut(i))
            .ok_or(UnknownRequest { request, requests })
    }

    /// Records one event. `Began` carries nothing a report keeps: it is for live views.
    pub fn record(&mut self, event: &Event) -> Result<(), UnknownRequest> {
        let Some(request) = event.request() else {
            if let Event::LoopGilWait { worker, from, to } = event {
                if to > from {
                    self.gil_waits.push(GilWait {
                        start_ms: *from,
                        end_ms: *to,
                        worker: *worker,
                    });
                }
            }
            return Ok(());
        };
        let i = request as usize;
        let slot = self.slot(request)?;
        match event {
            Event::Sent { request, t } => {
                slot.request = Some(PredictionRequest::for_index(*request));
                slot.sent_ms = Some(*t);
            }
            Event::Accepted { t, worker, .. } => {
                // The time since it was sent is a wait for the loop.
                let sent = slot.sent_ms.unwrap_or(*t);
                slot.accepted_ms = Some(*t);
                slot.worker = *worker;
                self.phases.wait(i, Place::Loop, sent, *t);
            }
            Event::Began { .. } => {}
            Event::Phase { phase, .. } => {
                if phase.on == Place::Pool && phase.kind != PhaseKind::Queued {
                    slot.pooled = true;
                }
                self.phases.push(i, phase.clone());
            }
            Event::Waited { on, from, to, .. } => self.phases.wait(i, *on, *from, *to),
            Event::Responded { t, answer, .. } => slot.responded = Some((*t, answer.clone())),
            Event::BackgroundDone { t, .. } => slot.background_done_ms = Some(*t),
            Event::Stall { stall } => {
                let worker = slot.worker;
                self.stalls.push(Stall {
                    worker,
                    ..stall.clone()
                });
            }
            Event::Logged { entry } => {
                if self.logged.len() < limits::MAX_LOGGED {
                    self.logged.push(entry.clone());
                } else {
                    self.logged_dropped += 1;
                }
            }
            Event::LoopGilWait { .. } => {}
            Event::Handoff { handoff } => self.handoffs.push(*handoff),
            Event::Print { request, t, text } => {
                // What Python's `print(text)` shows: one console line per non-blank line.
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    if self.console.len() < limits::MAX_CONSOLE_LINES {
                        self.console.push(ConsoleLine {
                            t_ms: *t,
                            request: *request,
                            line: line.to_string(),
                        });
                    } else {
                        self.console_dropped += 1;
                    }
                }
            }
        }
        Ok(())
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the console keeps no more lines: a runtime may count a print's lines
    /// ([`console_lines`]) and hand over the count ([`Recorder::dropped_lines`]) instead.
    pub fn console_full(&self) -> bool {
        self.console.len() >= limits::MAX_CONSOLE_LINES
    }

    /// Counts `lines` printed and not kept.
    pub fn dropped_lines(&mut self, lines: u64) {
        self.console_dropped += lines;
    }

    /// Request `id` as recorded so far.
    pub fn request(&self, id: u64) -> Option<RequestView> {
        let p = self.requests.get(usize::try_from(id).ok()?)?;
        Some(RequestView {
            sent_ms: p.sent_ms,
            accepted_ms: p.accepted_ms,
            responded_ms: p.responded.as_ref().map(|(t, _)| *t),
            background_done_ms: p.background_done_ms,
            pooled: p.pooled,
        })
    }

    /// When request `id` was taken in (its send time if it has not been).
    pub fn accepted_at(&self, id: u64) -> Option<f64> {
        let r = self.request(id)?;
        Some(r.accepted_ms.or(r.sent_ms).unwrap_or(0.0))
    }

    /// The stalls recorded so far, in the order recorded.
    pub fn stalls(&self) -> &[Stall] {
        &self.stalls
    }

    /// The loops' GIL waits recorded so far.
    pub fn gil_waits(&self) -> &[GilWait] {
        &self.gil_waits
    }

    /// The server worker that took request `id`, once one has.
    pub fn worker_of(&self, id: u64) -> u64 {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.requests.get(i))
            .map_or(0, |p| p.worker)
    }

    /// The console lines so far, in the order printed.
    pub fn console(&self) -> &[ConsoleLine] {
        &self.console
    }

    /// Orders everything in time and computes the stats. Fails if a request never got
    /// a response (a runtime bug, or a measurement cut short).
    pub fn finish(self, source: Source) -> Result<Report, Incomplete> {
        self.build(source, None)
    }

    /// The run so far, cut short `at_ms` into it (cancelled): the requests answered by
    /// then, and everything recorded; the report says it was cut short.
    pub fn finish_cut_short(self, source: Source, at_ms: f64) -> Report {
        self.build(source, Some(at_ms))
            .expect("a cut-short report leaves unanswered requests out")
    }

    fn build(self, source: Source, cut_at: Option<f64>) -> Result<Report, Incomplete> {
        let total = self.requests.len() as u64;
        // Each request's phases together (a counting sort by request: the run's phases
        // are many, a request's few), then each request's in time order (ties as
        // recorded).
        let n = self.requests.len();
        let mut at = vec![0usize; n + 1];
        for (r, _) in &self.phases.0 {
            at[*r as usize + 1] += 1;
        }
        for i in 0..n {
            at[i + 1] += at[i];
        }
        let mut next = at.clone();
        let mut slots: Vec<Option<Phase>> = vec![None; self.phases.0.len()];
        for (r, phase) in self.phases.0 {
            slots[next[r as usize]] = Some(phase);
            next[r as usize] += 1;
        }
        let mut grouped: Vec<(u32, Phase)> = Vec::with_capacity(slots.len());
        for r in 0..n {
            let start = grouped.len();
            grouped.extend(
                slots[at[r]..at[r + 1]]
                    .iter_mut()
                    .map(|p| (r as u32, p.take().expect("placed once"))),
            );
            grouped[start..].sort_by(|a, b| a.1.start_ms.total_cmp(&b.1.start_ms));
        }
        let mut phases = grouped.into_iter().peekable();
        let mut requests = Requests::default();
        for (id, p) in self.requests.into_iter().enumerate() {
            let mine =
                std::iter::from_fn(|| phases.next_if(|(r, _)| *r as usize == id).map(|(_, phase)| phase));
            if cut_at.is_some() && p.responded.is_none() {
                mine.for_each(drop);
                continue;
            }
            let missing = |what: &str| Incomplete(format!("request {id} has no {what}"));
            let request = p.request.ok_or_else(|| missing("request body"))?;
            let sent_ms = p.sent_ms.ok_or_else(|| missing("send time"))?;
            let accepted_ms = p.accepted_ms.ok_or_else(|| missing("accept time"))?;
            let (responded_ms, answer) = p.responded.ok_or_else(|| missing("response"))?;
            let record = RequestRecord {
                id: id as u64,
                worker: p.worker,
                request,
                sent_ms,
                accepted_ms,
                responded_ms,
                latency_ms: responded_ms - sent_ms,
                answer,
                background_done_ms: p.background_done_ms,
                phases: Vec::new(),
            };
            requests.push_with(record, mine);
        }
        let mut loop_stalls = self.stalls;
        loop_stalls.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        let mut console = self.console;
        console.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms)); // stable: ties keep print order
        let mut gil_waits = self.gil_waits;
        gil_waits.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        let mut stats = Stats::compute(requests.iter().map(|r| r.outcome()), &loop_stalls);
        stats.loop_gil_wait_total_ms = gil_waits
            .iter()
            .map(|g| g.end_ms - g.start_ms)
            .fold(0.0, |a, b| a + b);
        let cut_short = cut_at.map(|at_ms| CutShort {
            at_ms,
            answered: requests.len() as u64,
            requests: total,
        });
        Ok(Report {
            source,
            config: self.config,
            faults: Default::default(),
            requests,
            loop_stalls,
            console,
            console_dropped: self.console_dropped,
            stats,
            probe_stalls: None,
            probe_gaps: Vec::new(),
            measurement: None,
            cut_short,
            logged: self.logged,
            logged_dropped: self.logged_dropped,
            loop_gil_waits: gil_waits,
            handoffs: self.handoffs,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counted_lines_are_the_lines_a_console_keeps() {
        for text in [
            "one line",
            "\n--- Background Task Started ---",
            "--- Background Task Finished ---\n",
            "two\nlines",
            "  \n\t\n",
            "",
            "a\n\n  b  \n",
            "Logging Request: {'item_id': 123, 'feature_value': 5.0}",
        ] {
            let kept = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
            assert_eq!(console_lines(text), kept, "{text:?}");
        }
    }

    use super::*;
    use crate::model::{Answer, Config, PredictionResponse};

    fn answer(id: u64) -> Answer {
        let request = PredictionRequest::for_index(id);
        Answer::ok(PredictionResponse {
            item_id: request.item_id,
            metadata: "m".into(),
            prediction: request.feature_value * 2.0,
        })
    }

    #[test]
    fn ids_are_checked_not_trusted_as_indices() {
        let mut rec = Recorder::new(Config {
            requests: 2,
            concurrency: 2,
            ..Config::default()
        });
        assert!(rec.record(&Event::Sent { request: 1, t: 0.0 }).is_ok());
        let e = rec.record(&Event::Sent { request: 2, t: 0.0 }).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an event named request 2, but the run has 2 (ids 0 to 1)"
        );
        assert!(rec
            .record(&Event::Accepted {
                request: u64::MAX,
                t: 0.0,
                worker: 0
            })
            .is_err());
        assert!(rec.request(7).is_none());
        assert!(rec.accepted_at(7).is_none());
    }

    #[test]
    fn a_run_cut_short_keeps_what_was_answered() {
        let mut rec = Recorder::new(Config {
            requests: 3,
            concurrency: 3,
            ..Config::default()
        });
        for id in 0..3 {
            rec.record(&Event::Sent { request: id, t: 0.0 }).unwrap();
            rec.record(&Event::Accepted {
                request: id,
                t: 1.0,
                worker: 0,
            })
            .unwrap();
        }
        rec.record(&Event::Responded {
            request: 1,
            t: 40.0,
            answer: answer(1),
        })
        .unwrap();
        assert!(
            rec.clone().finish(Source::Measured).is_err(),
            "two never answered"
        );
        let report = rec.finish_cut_short(Source::Measured, 55.0);
        assert_eq!(report.requests.len(), 1);
        assert_eq!(report.requests.at(0).id, 1);
        let cut = report.cut_short.expect("cut short");
        assert_eq!((cut.at_ms, cut.answered, cut.requests), (55.0, 1, 3));
        assert_eq!(report.stats.makespan_ms, 40.0);
    }
}
