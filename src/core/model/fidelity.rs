//! How close a measured run came to its prediction, with stated tolerances. The
//! browser tests, the benchmarks and the page all use this one definition, and a check
//! that fails says so in words.

use super::report::Report;
use super::{Source, Work};
use serde::{Deserialize, Serialize};

/// One comparison: `measured` agrees with `expected` when within `tolerance` of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub expected: f64,
    pub measured: f64,
    pub tolerance: f64,
    pub ok: bool,
    /// What the check found, in a sentence a person can read beside the numbers.
    pub says: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    pub checks: Vec<Check>,
    pub ok: bool,
    /// What the measurement was held against: the model as configured, or (compute
    /// work) the model given how long one prediction took on this machine.
    pub reference: String,
}

impl Fidelity {
    /// The sentences of the checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().filter(|c| !c.ok).map(|c| c.says.as_str())
    }
}

/// The agreed bound for a time the model predicts: 5 % of it, or 15 ms for short runs
/// where timer jitter dominates.
pub fn bound(expected: f64) -> f64 {
    (0.05 * expected.abs()).max(15.0)
}

fn ms(x: f64) -> String {
    if x.abs() >= 10_000.0 {
        format!("{:.0}", x)
    } else {
        format!("{x:.1}")
    }
}

/// `measured` against `expected`, within `tolerance`.
fn check(name: &str, expected: f64, measured: f64, tolerance: f64) -> Check {
    let ok = (measured - expected).abs() <= tolerance;
    let says = if ok {
        format!(
            "{name}: {} ms, within {} ms of {} ms",
            ms(measured),
            ms(tolerance),
            ms(expected)
        )
    } else {
        format!(
            "{name}: measured {} ms, the model says {} ms: {} ms {}, beyond the {} ms allowed",
            ms(measured),
            ms(expected),
            ms((measured - expected).abs()),
            if measured > expected { "later" } else { "earlier" },
            ms(tolerance)
        )
    };
    Check {
        name: name.to_string(),
        expected,
        measured,
        tolerance,
        ok,
        says,
    }
}

/// Every one of `measured` against `expected`, both sorted (which request gets the
/// loop first may differ, not when the k-th answer comes), each within [`bound`]; the
/// check carries the worst of them and says how many were outside.
fn each(name: &str, what: &str, mut expected: Vec<f64>, mut measured: Vec<f64>, note: &str) -> Check {
    expected.sort_by(f64::total_cmp);
    measured.sort_by(f64::total_cmp);
    let n = expected.len().min(measured.len());
    let worst = (0..n).max_by(|&a, &b| {
        let over = |i: usize| (measured[i] - expected[i]).abs() - bound(expected[i]);
        over(a).total_cmp(&over(b))
    });
    let Some(w) = worst else {
        return Check {
            name: name.into(),
            expected: 0.0,
            measured: 0.0,
            tolerance: 0.0,
            ok: true,
            says: format!("{name}: none to compare"),
        };
    };
    let outside = (0..n)
        .filter(|&i| (measured[i] - expected[i]).abs() > bound(expected[i]))
        .count();
    let (e, m, tolerance) = (expected[w], measured[w], bound(expected[w]));
    let ok = outside == 0;
    let says = if ok {
        format!(
            "{name}: all {n} within the bound; the furthest, {what} {} of {n}, {} ms from the model's {} ms",
            w + 1,
            ms((m - e).abs()),
            ms(e)
        )
    } else {
        format!(
            "{name}: {what} {} of {n} came at {} ms, {} ms {} than the model's {} ms (allowed: {} ms); {outside} of {n} were outside the bound{note}",
            w + 1,
            ms(m),
            ms((m - e).abs()),
            if m > e { "later" } else { "earlier" },
            ms(e),
            ms(tolerance)
        )
    };
    Check {
        name: name.into(),
        expected: e,
        measured: m,
        tolerance,
        ok,
        says,
    }
}

/// Where the browser took a request in at another moment than the model's loop would
/// (beyond [`bound`]), the one furthest apart, said as a note: which of the two real
/// uvicorn agrees with is for the calibration against real FastAPI.
fn taken_in(model: &Report, measured: &Report) -> String {
    let furthest = model
        .requests
        .iter()
        .zip(&measured.requests)
        .filter(|(p, m)| (m.accepted_ms - p.accepted_ms).abs() > bound(p.accepted_ms))
        .max_by(|(pa, ma), (pb, mb)| {
            (ma.accepted_ms - pa.accepted_ms)
                .abs()
                .total_cmp(&(mb.accepted_ms - pb.accepted_ms).abs())
        });
    match furthest {
        Some((p, m)) => format!(
            ". Request {} was taken in at {} ms here, while the model's event loop takes it in at {} ms: which of the two real uvicorn agrees with is for the calibration against real FastAPI",
            m.id,
            ms(m.accepted_ms),
            ms(p.accepted_ms)
        ),
        None => String::new(),
    }
}

/// What a measurement is held against: the prediction itself, or for compute work
/// (a fixed amount of arithmetic, which takes longer when threads share cores) the
/// model given the median time one prediction took on this machine: the model makes
/// no claim about the machine's speed, only about what waits for what.
pub fn reference(predicted: &Report, measured: &Report) -> (Report, String) {
    let config = &measured.config;
    if config.work != Work::Compute {
        return (predicted.clone(), "the model".into());
    }
    let mut cpu: Vec<f64> = measured
        .requests
        .iter()
        .flat_map(|r| &r.phases)
        .filter(|p| p.kind == super::PhaseKind::Cpu && p.blocking)
        .map(|p| p.end_ms - p.start_ms)
        .collect();
    if cpu.is_empty() {
        return (predicted.clone(), "the model".into());
    }
    cpu.sort_by(f64::total_cmp);
    let median = cpu[cpu.len() / 2];
    let on_this_machine = super::Config {
        cpu_ms: median,
        ..config.clone()
    };
    match crate::simulate_with(&on_this_machine, &measured.faults) {
        Ok(report) => (
            report,
            format!(
                "the model given one prediction's median time here, {} ms (configured: {} ms)",
                ms(median),
                ms(config.cpu_ms)
            ),
        ),
        Err(_) => (predicted.clone(), "the model".into()),
    }
}

/// The agreed comparison:
/// - the makespan, the ground-truth loop stall in total, and every answer's time (the
///   k-th answer against the model's k-th) within 5 % or 15 ms of the model ([`bound`]);
///   Where the browser took a request in at another moment than the model's loop
///   would, the check says so;
/// - the probe's total within 10 % or 20 ms of the ground truth it measures;
/// - with `sleep` work, no probe stall over 15 ms in the variants that never block the
///   loop.
///
/// A run cut short is compared with nothing: it fails, and says why.
pub fn fidelity(predicted: &Report, measured: &Report) -> Fidelity {
    if let Some(cut) = &measured.cut_short {
        return Fidelity {
            ok: false,
            reference: "nothing".into(),
            checks: vec![Check {
                name: "complete".into(),
                expected: cut.requests as f64,
                measured: cut.answered as f64,
                tolerance: 0.0,
                ok: false,
                says: format!(
                    "the run was cancelled {:.1} s in, with {} of {} requests answered: a run cut short is not compared with the model",
                    cut.at_ms / 1000.0,
                    cut.answered,
                    cut.requests
                ),
            }],
        };
    }
    let (model, reference) = reference(predicted, measured);
    let (p, m) = (&model.stats, &measured.stats);
    let times =
        |r: &Report, f: fn(&super::RequestRecord) -> f64| r.requests.iter().map(f).collect::<Vec<f64>>();
    let mut checks = vec![
        check("makespan_ms", p.makespan_ms, m.makespan_ms, bound(p.makespan_ms)),
        check(
            "loop_stall_total_ms",
            p.loop_stall_total_ms,
            m.loop_stall_total_ms,
            bound(p.loop_stall_total_ms),
        ),
        each(
            "answers",
            "answer",
            times(&model, |q| q.responded_ms),
            times(measured, |q| q.responded_ms),
            &taken_in(&model, measured),
        ),
    ];
    if let Some(probe_total) = m.probe_stall_total_ms {
        checks.push(check(
            "probe_stall_total_ms vs ground truth",
            m.loop_stall_total_ms,
            probe_total,
            (0.10 * m.loop_stall_total_ms).max(20.0),
        ));
    }
    let never_blocks = !measured.config.variant.blocks_the_loop();
    if never_blocks && measured.config.work == Work::Sleep {
        if let Some(longest) = m.probe_stall_max_ms {
            let mut c = check("longest probe stall", 0.0, longest, 15.0);
            c.ok = longest <= 15.0;
            if !c.ok {
                c.says = format!(
                    "the probe saw the loop held for {} ms, though {} never blocks it: the machine or the browser was busy",
                    ms(longest),
                    measured.config.variant
                );
            }
            checks.push(c);
        }
    }
    debug_assert_eq!(predicted.source, Source::Predicted);
    Fidelity {
        ok: checks.iter().all(|c| c.ok),
        checks,
        reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, ProbeStall, Variant};

    fn measured_like(predicted: &Report, makespan: f64, stall: f64, probe: &[(f64, f64)]) -> Report {
        let mut m = predicted.clone();
        m.source = Source::Measured;
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

    fn named<'a>(f: &'a Fidelity, name: &str) -> &'a Check {
        f.checks.iter().find(|c| c.name == name).expect(name)
    }

    #[test]
    fn bounds_are_relative_for_long_runs_and_absolute_for_short_ones() {
        let p = crate::simulate(&Config::default()).unwrap(); // async_io: 10.5 s, 10 s blocked
        let f = fidelity(&p, &measured_like(&p, 10_900.0, 10_300.0, &[(0.0, 10_900.0)]));
        assert!(named(&f, "probe_stall_total_ms vs ground truth").ok);
        let f = fidelity(&p, &measured_like(&p, 11_100.0, 10_000.0, &[(0.0, 10_000.0)]));
        assert!(!named(&f, "makespan_ms").ok && named(&f, "loop_stall_total_ms").ok && !f.ok);
        assert_eq!(
            named(&f, "makespan_ms").says,
            "makespan_ms: measured 11100 ms, the model says 10500 ms: 600.0 ms later, beyond the 525.0 ms allowed"
        );
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
    fn every_answer_is_checked_not_only_the_last() {
        // async_io, 120 requests from 60 clients: a run whose makespan agrees but whose
        // middle answers came early is caught, and said so.
        let c = Config {
            requests: 120,
            concurrency: 60,
            io_ms: 250.0,
            cpu_ms: 500.0,
            ..Config::default()
        };
        let p = crate::simulate(&c).unwrap();
        let mut m = p.clone();
        m.source = Source::Measured;
        // Answers 3 to 6 (1.75 to 3.25 s in) 162 ms early: more than 5 % of the first three.
        for q in m.requests.iter_mut().skip(2).take(4) {
            q.responded_ms -= 162.0;
        }
        let f = fidelity(&p, &m);
        assert!(named(&f, "makespan_ms").ok);
        let answers = named(&f, "answers");
        assert!(!answers.ok);
        assert!(answers.says.contains("162.0 ms earlier"), "{}", answers.says);
        assert!(
            answers.says.contains("3 of 120 were outside the bound"),
            "{}",
            answers.says
        );
        assert!(!f.ok);
        assert_eq!(f.failures().count(), 1);
        // A request read far earlier than the model's loop would read it: said beside.
        m.requests[60].accepted_ms = 2_763.0;
        let says = fidelity(&p, &m).checks[2].says.clone();
        assert!(
            says.ends_with(
                "Request 60 was taken in at 2763.0 ms here, while the model's event loop takes it in at 30250 ms: \
                 which of the two real uvicorn agrees with is for the calibration against real FastAPI"
            ),
            "{says}"
        );
    }

    #[test]
    fn variants_that_never_block_must_not_show_probe_stalls() {
        let p = crate::simulate(&Config::default().with_variant(Variant::FullAsync)).unwrap();
        let ok = measured_like(&p, 1500.0, 0.0, &[(10.0, 22.0)]);
        assert!(fidelity(&p, &ok).ok);
        let bad = measured_like(&p, 1500.0, 0.0, &[(10.0, 30.0)]);
        let f = fidelity(&p, &bad);
        assert!(!f.ok);
        assert_eq!(f.failures().count(), 1);
        // The probe total (20 ms over a 0 ms truth) is within its 20 ms floor; the longest is not.
        assert!(!named(&f, "longest probe stall").ok);
    }

    #[test]
    fn predictions_alone_have_no_probe_checks() {
        let p = crate::simulate(&Config::default()).unwrap();
        let mut m = p.clone();
        m.source = Source::Measured;
        let f = fidelity(&p, &m);
        assert_eq!(f.checks.len(), 3);
        assert!(f.ok);
        assert_eq!(f.reference, "the model");
    }

    #[test]
    fn compute_work_is_held_against_its_own_prediction_time() {
        let c = Config {
            variant: Variant::FullAsync,
            requests: 4,
            concurrency: 4,
            tokens: 2,
            io_ms: 40.0,
            cpu_ms: 80.0,
            work: Work::Compute,
            ..Config::default()
        };
        let p = crate::simulate(&c).unwrap(); // 40 + 2 × 80 = 200
                                              // Two computing at once on a busy machine: each took 95 ms, not 80.
        let slow = crate::simulate(&Config {
            cpu_ms: 95.0,
            ..c.clone()
        })
        .unwrap();
        let mut m = slow.clone();
        m.source = Source::Measured;
        m.config = c.clone();
        let f = fidelity(&p, &m);
        assert!(f.ok, "{:?}", f.failures().collect::<Vec<_>>());
        assert!(f.reference.contains("95.0 ms"), "{}", f.reference);
        assert_eq!(named(&f, "makespan_ms").expected, 230.0);
        // A run that does not follow the model's scheduling still fails: answers all at 230.
        for q in m.requests.iter_mut() {
            q.responded_ms = 230.0;
        }
        assert!(!named(&fidelity(&p, &m), "answers").ok);
    }

    #[test]
    fn a_run_cut_short_is_not_compared() {
        let p = crate::simulate(&Config::default()).unwrap();
        let mut m = p.clone();
        m.cut_short = Some(crate::model::CutShort {
            at_ms: 2100.0,
            answered: 2,
            requests: 10,
        });
        let f = fidelity(&p, &m);
        assert!(!f.ok);
        assert!(f.checks[0]
            .says
            .starts_with("the run was cancelled 2.1 s in, with 2 of 10"));
    }
}
