//! A run's summary, for runs too long to keep every request: the numbers `ab` prints
//! and the event loop's, with the latencies in an HDR histogram (the `hdrhistogram`
//! crate). Recorded from the same events as a full report, in memory that does not grow
//! with the number of requests, only with the requests in flight at once (the
//! concurrency, at most [`super::config::limits::MAX_SUMMARY_IN_FLIGHT`]): only they are
//! remembered.

use super::config::Config;
use super::event::Event;
use super::stats::Latency;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Latencies are recorded in microseconds, to 3 significant digits: a percentile is
/// within 0.1 % of the exact one (1500 ms reads at most 1501.5), in half a megabyte
/// whatever the run.
const SIGNIFICANT: u8 = 3;

/// What a summary says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub config: Config,
    /// Requests answered, and how many with an error.
    pub answered: u64,
    pub failed: u64,
    /// When the last response was sent.
    pub makespan_ms: f64,
    pub throughput_rps: f64,
    /// From the histogram.
    pub latency_ms: Latency,
    /// More of the distribution: p90 and p99.9.
    pub latency_p90_ms: f64,
    pub latency_p999_ms: f64,
    pub loop_stalls: u64,
    pub loop_stall_total_ms: f64,
    pub loop_stall_max_ms: f64,
    pub loop_gil_wait_total_ms: f64,
    pub background_done_ms: Option<f64>,
    /// The latency distribution for a plot: `[upper bound in ms, requests]`, buckets
    /// doubling from 1 ms (empty buckets left out).
    pub histogram: Vec<[f64; 2]>,
}

/// Records a summary from a runtime's events.
pub struct SummaryRecorder {
    config: Config,
    /// Send times of the requests in flight.
    sent: InFlight,
    histogram: Histogram<u64>,
    /// The longest latency, exact: the histogram's own max is its bucket's top, which
    /// can exceed the makespan.
    max_latency_ms: f64,
    answered: u64,
    failed: u64,
    makespan_ms: f64,
    stalls: u64,
    stall_total_ms: f64,
    stall_max_ms: f64,
    gil_wait_ms: f64,
    background_done_ms: Option<f64>,
}

impl SummaryRecorder {
    pub fn new(config: Config) -> SummaryRecorder {
        SummaryRecorder {
            config,
            sent: InFlight::default(),
            histogram: Histogram::new(SIGNIFICANT).expect("5 significant digits are allowed"),
            max_latency_ms: 0.0,
            answered: 0,
            failed: 0,
            makespan_ms: 0.0,
            stalls: 0,
            stall_total_ms: 0.0,
            stall_max_ms: 0.0,
            gil_wait_ms: 0.0,
            background_done_ms: None,
        }
    }

    pub fn record(&mut self, event: &Event) {
        match event {
            Event::Sent { request, t } => {
                self.sent.insert(*request, *t);
            }
            Event::Responded { request, t, answer } => {
                let sent = self.sent.remove(*request).unwrap_or(*t);
                self.max_latency_ms = self.max_latency_ms.max(t - sent);
                let latency_us = ((t - sent) * 1000.0).round().max(0.0) as u64;
                if self.histogram.record(latency_us).is_err() {
                    self.histogram.saturating_record(latency_us);
                }
                self.answered += 1;
                if !answer.is_ok() {
                    self.failed += 1;
                }
                self.makespan_ms = self.makespan_ms.max(*t);
            }
            Event::Stall { stall } => {
                let length = stall.end_ms - stall.start_ms;
                self.stalls += 1;
                self.stall_total_ms += length;
                self.stall_max_ms = self.stall_max_ms.max(length);
            }
            Event::BackgroundDone { t, .. } => {
                self.background_done_ms = Some(self.background_done_ms.map_or(*t, |d| d.max(*t)));
            }
            Event::LoopGilWait { from, to, .. } => self.gil_wait_ms += (to - from).max(0.0),
            _ => {}
        }
    }

    pub fn finish(self) -> Summary {
        let h = &self.histogram;
        let at = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let mut histogram = Vec::new();
        if !h.is_empty() {
            let mut upper_us = 1000u64;
            let mut below = 0u64;
            while below < h.len() {
                let upto = h.count_between(0, upper_us);
                if upto > below {
                    histogram.push([upper_us as f64 / 1000.0, (upto - below) as f64]);
                }
                below = upto;
                upper_us = upper_us.saturating_mul(2);
            }
        }
        Summary {
            latency_ms: Latency {
                p50: at(0.5),
                p95: at(0.95),
                p99: at(0.99),
                max: self.max_latency_ms,
            },
            latency_p90_ms: at(0.9),
            latency_p999_ms: at(0.999),
            throughput_rps: if self.makespan_ms > 0.0 {
                self.answered as f64 * 1000.0 / self.makespan_ms
            } else {
                0.0
            },
            histogram,
            config: self.config,
            answered: self.answered,
            failed: self.failed,
            makespan_ms: self.makespan_ms,
            loop_stalls: self.stalls,
            loop_stall_total_ms: self.stall_total_ms,
            loop_stall_max_ms: self.stall_max_ms,
            loop_gil_wait_total_ms: self.gil_wait_ms,
            background_done_ms: self.background_done_ms,
        }
    }
}

/// The send times of the requests in flight, by id: a window from the oldest one
/// unanswered to the newest sent (ids are sent in order, answered in any), as long as
/// the clients are many, not as the run is.
#[derive(Default)]
struct InFlight {
    /// The id of `times[0]`.
    first: u64,
    times: VecDeque<Option<f64>>,
    len: usize,
}

impl InFlight {
    fn insert(&mut self, request: u64, t: f64) {
        if self.times.is_empty() {
            self.first = request;
        }
        let Some(at) = request.checked_sub(self.first) else {
            // Older than the window (ids out of order): grow it at the front.
            for _ in request..self.first {
                self.times.push_front(None);
            }
            self.first = request;
            return self.insert(request, t);
        };
        let at = at as usize;
        if at >= self.times.len() {
            self.times.resize(at + 1, None);
        }
        if self.times[at].replace(t).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, request: u64) -> Option<f64> {
        let at = usize::try_from(request.checked_sub(self.first)?).ok()?;
        let t = self.times.get_mut(at)?.take()?;
        self.len -= 1;
        while self.times.front().is_some_and(Option::is_none) {
            self.times.pop_front();
            self.first += 1;
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_keeps_a_window_of_unanswered_requests() {
        let mut f = InFlight::default();
        for id in 10..15 {
            f.insert(id, id as f64);
        }
        assert_eq!(f.remove(12), Some(12.0));
        assert_eq!(f.remove(12), None, "answered once");
        assert_eq!(f.remove(10), Some(10.0));
        assert_eq!((f.first, f.times.len(), f.len), (11, 4, 3));
        assert_eq!(f.remove(11), Some(11.0));
        assert_eq!(f.first, 13, "the answered front is dropped");
        f.insert(7, 7.0);
        assert_eq!(
            (f.remove(7), f.remove(13), f.remove(14)),
            (Some(7.0), Some(13.0), Some(14.0))
        );
        assert_eq!((f.len, f.times.len()), (0, 0));
        assert_eq!(f.remove(99), None);
    }
}
