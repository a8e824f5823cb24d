//! Summary numbers, the ones `ab` prints plus the event loop's.

use super::record::{ProbeStall, Stall};
use serde::{Deserialize, Serialize};

/// Latency percentiles, nearest-rank (the smallest latency with at least p % of the
/// requests at or below it), in ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// What one request got, as the numbers count it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub latency_ms: f64,
    pub responded_ms: f64,
    /// Answered 200.
    pub ok: bool,
    pub background_done_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// When the last response was sent.
    pub makespan_ms: f64,
    /// Requests answered with an error (non-2xx, as `ab` counts them); their times
    /// count in the latencies too.
    #[serde(default)]
    pub failed: u64,
    /// Requests per second over the makespan.
    pub throughput_rps: f64,
    pub latency_ms: Latency,
    pub loop_stall_total_ms: f64,
    pub loop_stall_max_ms: f64,
    /// End of the last background task; `None` when the variant has none.
    pub background_done_ms: Option<f64>,
    /// What the stall probe measured (measured reports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_stall_total_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_stall_max_ms: Option<f64>,
    /// How long the server loops waited for their GIL in all (`python_cpu` work).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loop_gil_wait_total_ms: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// The nearest-rank percentile of an ascending, non-empty slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Stats {
    /// The numbers of `requests` (what each got: [`Outcome`]) and the loop's `stalls`.
    pub fn compute(requests: impl IntoIterator<Item = Outcome>, stalls: &[Stall]) -> Stats {
        let mut latencies: Vec<f64> = Vec::new();
        let (mut makespan_ms, mut failed, mut background_done_ms) = (0.0f64, 0u64, None::<f64>);
        for r in requests {
            latencies.push(r.latency_ms);
            makespan_ms = makespan_ms.max(r.responded_ms);
            failed += u64::from(!r.ok);
            if let Some(done) = r.background_done_ms {
                background_done_ms = Some(background_done_ms.map_or(done, |d| d.max(done)));
            }
        }
        latencies.sort_by(f64::total_cmp);
        let (p50, p95, p99, max) = if latencies.is_empty() {
            (0.0, 0.0, 0.0, 0.0)
        } else {
            (
                percentile(&latencies, 50.0),
                percentile(&latencies, 95.0),
                percentile(&latencies, 99.0),
                latencies[latencies.len() - 1],
            )
        };
        let stall_lengths = stalls.iter().map(|s| s.end_ms - s.start_ms);
        Stats {
            makespan_ms,
            failed,
            throughput_rps: if makespan_ms > 0.0 {
                latencies.len() as f64 * 1000.0 / makespan_ms
            } else {
                0.0
            },
            latency_ms: Latency { p50, p95, p99, max },
            // fold from +0.0: an empty f64 `sum()` is -0.0
            loop_stall_total_ms: stall_lengths.clone().fold(0.0, |a, b| a + b),
            loop_stall_max_ms: stall_lengths.fold(0.0, f64::max),
            background_done_ms,
            probe_stall_total_ms: None,
            probe_stall_max_ms: None,
            loop_gil_wait_total_ms: 0.0,
        }
    }

    /// Adds the probe's totals.
    pub fn set_probe(&mut self, stalls: &[ProbeStall]) {
        let lengths = stalls.iter().map(|s| s.end_ms - s.start_ms);
        self.probe_stall_total_ms = Some(lengths.clone().fold(0.0, |a, b| a + b));
        self.probe_stall_max_ms = Some(lengths.fold(0.0, f64::max));
    }
}

/// The most of `spans` (start, end) going on at one moment; spans that meet end to
/// end do not overlap.
pub fn most_at_once(spans: impl Iterator<Item = (f64, f64)>) -> usize {
    let mut edges: Vec<(f64, i32)> = spans.flat_map(|(s, e)| [(s, 1), (e, -1)]).collect();
    // At the same instant, ends before starts.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

#[cfg(test)]
mod tests {
    use super::{most_at_once, percentile};

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 95.0), 10.0);
        assert_eq!(percentile(&v, 10.0), 1.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 95.0), 95.0);
        assert_eq!(percentile(&hundred, 99.0), 99.0);
    }

    #[test]
    fn most_at_once_counts_overlaps_not_neighbours() {
        assert_eq!(most_at_once(std::iter::empty()), 0);
        assert_eq!(most_at_once([(0.0, 10.0), (10.0, 20.0)].into_iter()), 1);
        assert_eq!(
            most_at_once([(0.0, 10.0), (5.0, 20.0), (6.0, 7.0)].into_iter()),
            3
        );
        assert_eq!(
            most_at_once([(0.0, 10.0), (20.0, 30.0), (25.0, 26.0)].into_iter()),
            2
        );
    }
}
