//! How close a measured run came to its prediction, with stated tolerances. The
//! browser tests, the benchmarks and the page all use this one definition.

use super::report::Report;
use super::{Variant, Work};
use serde::{Deserialize, Serialize};

/// One comparison: `measured` agrees with `expected` when within `tolerance` of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub expected: f64,
    pub measured: f64,
    pub tolerance: f64,
    pub ok: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    pub checks: Vec<Check>,
    pub ok: bool,
}

/// `max(relative × expected, absolute)`: a relative bound for long runs, an absolute
/// one for short runs where timer jitter dominates.
fn check(name: &str, expected: f64, measured: f64, relative: f64, absolute_ms: f64) -> Check {
    let tolerance = (relative * expected.abs()).max(absolute_ms);
    Check {
        name: name.to_string(),
        expected,
        measured,
        tolerance,
        ok: (measured - expected).abs() <= tolerance,
    }
}

/// The agreed bounds:
/// - makespan and total ground-truth loop stall within 5 % or 15 ms of the prediction;
/// - the probe's total within 10 % or 20 ms of the ground truth it measures;
/// - with `sleep` work, no probe stall over 15 ms in the variants that never block the
///   loop (`sync_def`, `full_async`, `background`).
pub fn fidelity(predicted: &Report, measured: &Report) -> Fidelity {
    let (p, m) = (&predicted.stats, &measured.stats);
    let mut checks = vec![
        check("makespan_ms", p.makespan_ms, m.makespan_ms, 0.05, 15.0),
        check(
            "loop_stall_total_ms",
            p.loop_stall_total_ms,
            m.loop_stall_total_ms,
            0.05,
            15.0,
        ),
    ];
    if let Some(probe_total) = m.probe_stall_total_ms {
        checks.push(check(
            "probe_stall_total_ms vs ground truth",
            m.loop_stall_total_ms,
            probe_total,
            0.10,
            20.0,
        ));
    }
    let never_blocks = matches!(
        measured.config.variant,
        Variant::SyncDef | Variant::FullAsync | Variant::Background
    );
    if never_blocks && measured.config.work == Work::Sleep {
        if let Some(longest) = m.probe_stall_max_ms {
            let mut c = check("longest probe stall", 0.0, longest, 0.0, 15.0);
            c.ok = longest <= 15.0;
            checks.push(c);
        }
    }
    Fidelity {
        ok: checks.iter().all(|c| c.ok),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, ProbeStall};

    fn measured_like(predicted: &Report, makespan: f64, stall: f64, probe: &[(f64, f64)]) -> Report {
        let mut m = predicted.clone();
        m.stats.makespan_ms = makespan;
        m.stats.loop_stall_total_ms = stall;
        let stalls: Vec<ProbeStall> = probe
            .iter()
            .map(|&(s, e)| ProbeStall {
                start_ms: s,
                end_ms: e,
                lag_ms: e - s,
            })
            .collect();
        m.stats.set_probe(&stalls);
        m
    }

    #[test]
    fn bounds_are_relative_for_long_runs_and_absolute_for_short_ones() {
        let p = crate::simulate(&Config::default()).unwrap(); // async_io: 10.5 s, 10 s blocked
        assert!(fidelity(&p, &measured_like(&p, 10_900.0, 10_300.0, &[(0.0, 10_900.0)])).checks[2].ok);
        let f = fidelity(&p, &measured_like(&p, 11_100.0, 10_000.0, &[(0.0, 10_000.0)]));
        assert!(!f.checks[0].ok && f.checks[1].ok && !f.ok);
        let small = crate::simulate(&Config {
            requests: 2,
            concurrency: 2,
            io_ms: 40.0,
            cpu_ms: 80.0,
            ..Config::default()
        })
        .unwrap(); // 200 ms makespan: 15 ms beats 5 %
        assert!(fidelity(&small, &measured_like(&small, 214.0, 170.0, &[(40.0, 225.0)])).ok);
        assert!(!fidelity(&small, &measured_like(&small, 216.0, 170.0, &[(40.0, 225.0)])).ok);
    }

    #[test]
    fn variants_that_never_block_must_not_show_probe_stalls() {
        let p = crate::simulate(&Config::default().with_variant(Variant::FullAsync)).unwrap();
        let ok = measured_like(&p, 1500.0, 0.0, &[(10.0, 22.0)]);
        assert!(fidelity(&p, &ok).ok);
        let bad = measured_like(&p, 1500.0, 0.0, &[(10.0, 30.0)]);
        let f = fidelity(&p, &bad);
        assert!(!f.ok);
        assert_eq!(f.checks.iter().filter(|c| !c.ok).count(), 1);
        // The probe total (20 ms over a 0 ms truth) is within its 20 ms floor; the longest is not.
        assert!(!f.checks.last().unwrap().ok);
    }

    #[test]
    fn predictions_alone_have_no_probe_checks() {
        let p = crate::simulate(&Config::default()).unwrap();
        assert_eq!(fidelity(&p, &p).checks.len(), 2);
        assert!(fidelity(&p, &p).ok);
    }
}
