//! How close a measured run came to its prediction, with stated tolerances. The
//! browser tests, the benchmarks and the page all use this one definition, and a check
//! that fails says so in words.

use crate::model::{Durations, PhaseKind, Report, RequestRef, Source, Work};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
    /// Where the machine took the run away from the prediction, in a few plain words
    /// ("" when it did not much): what a reader needs beside a measurement far from it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Fidelity {
    /// The sentences of the checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().filter(|c| !c.ok).map(|c| c.says.as_str())
    }
}

/// A measured run in a phrase, for a reader who compares it with the prediction: as
/// predicted; off the prediction, but only by what the machine settled (the model given
/// it agrees), with how much and why; or outside the model's bounds. A run is never
/// called "within bounds" when its makespan is far from the prediction shown beside it.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Within the bounds of the prediction itself.
    AsPredicted,
    /// Its makespan is `off_pct` % off the prediction, but the model given what the
    /// machine settled (`why`, [`Fidelity::reference`]) agrees with every figure.
    GivenTheMachine { off_pct: f64, why: String },
    /// Outside the bounds of the model, even given what the machine settled.
    Outside,
}

impl Verdict {
    pub fn of(predicted: &Report, measured: &Report, fidelity: &Fidelity) -> Verdict {
        if !fidelity.ok {
            return Verdict::Outside;
        }
        let (p, m) = (predicted.stats.makespan_ms, measured.stats.makespan_ms);
        if (m - p).abs() <= bound(p) {
            return Verdict::AsPredicted;
        }
        Verdict::GivenTheMachine {
            off_pct: if p > 0.0 { 100.0 * (m - p) / p } else { 0.0 },
            why: fidelity.reference.clone(),
        }
    }
}

/// The agreed bound for a time the model predicts: 5 % of it, or 15 ms for short runs
/// where timer jitter dominates.
pub fn bound(expected: f64) -> f64 {
    (0.05 * expected.abs()).max(15.0)
}

use crate::format::millis as ms;

/// What a busy machine may add to a measured time, on top of [`bound`]: for every hop
/// on the way to an answer (the request's message, each awaited timer, each trip to a
/// pool thread and back, and the answer of the client's previous request) the
/// heartbeat's idle lateness measured during the run
/// ([`crate::model::Measurement::timer_lateness_ms`]). It is stated in every check it widens.
#[derive(Clone, Debug, PartialEq)]
pub struct Allowance {
    /// The machine's lateness per hop, measured (0 for a prediction).
    pub per_hop_ms: f64,
    /// Hops to each request's answer, by id, in the model's run.
    hops: Vec<u32>,
}

impl Allowance {
    /// The allowance for `measured` against `model` (the model's run gives the hops).
    pub fn of(model: &Report, measured: &Report) -> Allowance {
        let per_hop_ms = measured.measurement.as_ref().map_or(0.0, |m| m.timer_lateness_ms);
        let awaits = crate::flows::count::awaits(model.config.variant);
        // Measured trips to the pool are given to the model: each leaves only the
        // loop's wake-up as a hop; otherwise the trip there and back are two.
        let per_call = if measured.handoffs.is_empty() { 2 } else { 1 };
        let own = 1 + awaits.sleeps + per_call * awaits.pool_calls;
        // ab: the i-th answer (in time) sends request `concurrency + i`.
        let (ids, answered) = (model.requests.id_column(), model.requests.responded_column());
        let mut by_answer: Vec<usize> = (0..ids.len()).collect();
        by_answer.sort_by(|&a, &b| answered[a].total_cmp(&answered[b]).then(ids[a].cmp(&ids[b])));
        let mut hops = vec![own; model.requests.len()];
        let first = model.config.concurrency as usize;
        for (i, &previous) in by_answer.iter().enumerate() {
            let before = hops.get(ids[previous] as usize).copied();
            if let (Some(before), Some(h)) = (before, hops.get_mut(first + i)) {
                *h = own + 1 + before;
            }
        }
        Allowance { per_hop_ms, hops }
    }

    /// The hops to request `id`'s answer.
    pub fn hops(&self, id: u64) -> u32 {
        self.hops.get(id as usize).copied().unwrap_or(0)
    }

    fn ms_for(&self, hops: u32) -> f64 {
        f64::from(hops) * self.per_hop_ms
    }

    /// How it widens a bound, in words ("" when it does not).
    fn stated(&self, hops: u32) -> String {
        if self.per_hop_ms <= 0.0 || hops == 0 {
            String::new()
        } else {
            format!(
                " (the bound plus {} ms: {hops} hops × {} ms of timer lateness measured on this machine)",
                ms(self.ms_for(hops)),
                ms2(self.per_hop_ms)
            )
        }
    }
}

fn ms2(x: f64) -> String {
    format!("{x:.2}")
}

/// `measured` against `expected`, within [`bound`] plus `hops` of `allowance`.
fn check(name: &str, expected: f64, measured: f64, base: f64, allowance: &Allowance, hops: u32) -> Check {
    let tolerance = base + allowance.ms_for(hops);
    let ok = (measured - expected).abs() <= tolerance;
    let how = allowance.stated(hops);
    let says = if ok {
        format!(
            "{name}: {} ms, within {} ms of {} ms{how}",
            ms(measured),
            ms(tolerance),
            ms(expected)
        )
    } else {
        format!(
            "{name}: measured {} ms, predicted {} ms: {} ms {}, beyond the {} ms allowed{how}",
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

/// Every answer's time against the model's, both sorted (which request gets the loop
/// first may differ, not when the k-th answer comes), each within [`bound`] plus its
/// hops' allowance; the check carries the worst and says how many were outside.
fn answers(model: &Report, measured: &Report, allowance: &Allowance, note: &str) -> Check {
    let name = "answers";
    let mut expected: Vec<(f64, u32)> = model
        .requests
        .responded_column()
        .iter()
        .zip(model.requests.id_column())
        .map(|(&t, &id)| (t, allowance.hops(id)))
        .collect();
    expected.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut got: Vec<f64> = measured.requests.responded_column().to_vec();
    got.sort_by(f64::total_cmp);
    let n = expected.len().min(got.len());
    // Threads taking turns on a GIL: which one's last slice comes in which turn of the
    // last round is the order they joined the GIL's line, sub-millisecond timing, so
    // each answer may come a round of switch intervals apart (the last one agrees).
    let turns = gil_round_ms(&measured.config);
    let tolerance = |i: usize| bound(expected[i].0) + allowance.ms_for(expected[i].1) + turns;
    let how_gil = if turns > 0.0 {
        format!(", plus {} ms for a round of turns on the GIL", ms(turns))
    } else {
        String::new()
    };
    let over = |i: usize| (got[i] - expected[i].0).abs() - tolerance(i);
    let Some(w) = (0..n).max_by(|&a, &b| over(a).total_cmp(&over(b))) else {
        return Check {
            name: name.into(),
            expected: 0.0,
            measured: 0.0,
            tolerance: 0.0,
            ok: true,
            says: format!("{name}: none to compare"),
        };
    };
    let outside = (0..n).filter(|&i| over(i) > 0.0).count();
    let ((e, hops), m) = (expected[w], got[w]);
    let how = format!("{}{how_gil}", allowance.stated(hops));
    let says = if outside == 0 {
        format!(
            "{name}: all {n} within the bound; the furthest, answer {} of {n}, {} ms from the predicted {} ms{how}{note}",
            w + 1,
            ms((m - e).abs()),
            ms(e)
        )
    } else {
        format!(
            "{name}: answer {} of {n} came at {} ms, {} ms {} than the predicted {} ms (allowed: {} ms{how}); {outside} of {n} were outside the bound{note}",
            w + 1,
            ms(m),
            ms((m - e).abs()),
            if m > e { "later" } else { "earlier" },
            ms(e),
            ms(tolerance(w))
        )
    };
    Check {
        name: name.into(),
        expected: e,
        measured: m,
        tolerance: tolerance(w),
        ok: outside == 0,
        says,
    }
}

/// A round of turns on a GIL: the switch interval once for each thread that may hold it
/// at a time (the pool's threads, and the loop); 0 without pure-Python work.
fn gil_round_ms(config: &crate::model::Config) -> f64 {
    if config.work != Work::PythonCpu || config.variant == crate::model::Variant::ProcessPool {
        return 0.0;
    }
    let threads = config.tokens.min(config.concurrency) as f64;
    (threads + 1.0) * crate::sim::SWITCH_INTERVAL_MS
}

/// Where the browser took a request in at another moment than the model's loop would
/// (beyond [`bound`]), the one furthest apart, said as a note: which of the two real
/// uvicorn agrees with is for the calibration against real FastAPI.
fn taken_in(model: &Report, measured: &Report) -> String {
    let (p, m) = (
        model.requests.accepted_column(),
        measured.requests.accepted_column(),
    );
    let furthest = (0..p.len().min(m.len()))
        .filter(|&i| (m[i] - p[i]).abs() > bound(p[i]))
        .max_by(|&a, &b| (m[a] - p[a]).abs().total_cmp(&(m[b] - p[b]).abs()));
    match furthest {
        Some(i) => format!(
            ". Request {} was taken in at {} ms here, where the predicted event loop takes it in at {} ms: which of the two real uvicorn agrees with is for the calibration against real FastAPI",
            measured.requests.id_column()[i],
            ms(m[i]),
            ms(p[i])
        ),
        None => String::new(),
    }
}

/// What a measurement is held against: the prediction itself, or the model given what
/// the machine settled, which the model makes no claim about:
/// - what each blocking step took here: a `time.sleep` wakes a little late, more on a
///   busy machine, and compute work (and pure-Python work, whose processes compute side
///   by side) is a fixed amount of arithmetic, which takes longer when threads share
///   cores. The model claims what waits for what, not how fast a machine computes or
///   wakes;
/// - how long each pool job's trip to its worker and back took (messages between
///   threads; the model's take no time);
/// - with several server workers, which idle worker accepted each connection, a race
///   (the kernel wakes them all, the first to `accept()` wins);
/// - when a request was taken in at another moment than the model's loop would take
///   it (a client's next request and the loop's next poll race each other): when each
///   request reached the server.
///
/// Everything else (who waits for a token, for the loop, for the GIL, in what order) is
/// still the model's, so a run that does not follow its rules still fails.
pub fn reference<'a>(predicted: &'a Report, measured: &Report) -> (Cow<'a, Report>, String) {
    let config = &measured.config;
    let unchanged = || (Cow::Borrowed(predicted), "the prediction".to_string());
    if measured.requests.len() as u64 != config.requests || measured.source != Source::Measured {
        return unchanged();
    }
    let mut given = crate::Given::default();
    let mut said = Vec::new();
    // What each request's blocking steps of a kind took, in all.
    let took = |r: RequestRef, kind: PhaseKind| -> Option<f64> {
        let t: f64 = r
            .phases
            .iter()
            .filter(|p| p.kind == kind && p.blocking)
            .map(|p| p.end_ms - p.start_ms)
            .sum();
        (t > 0.0).then_some(t)
    };
    let kinds = [
        (PhaseKind::Io, config.io_ms, "each blocking fetch"),
        (PhaseKind::Cpu, config.cpu_ms, "each model inference"),
        (PhaseKind::Background, config.bg_ms, "each log write"),
    ];
    let mut any = false;
    for (kind, asked, what) in kinds {
        let taken: Vec<f64> = measured.requests.iter().filter_map(|r| took(r, kind)).collect();
        if taken.is_empty() {
            continue;
        }
        any = true;
        let (least, most) = taken
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        if most - least > 0.05 || (most - asked).abs() > 0.05 {
            said.push(format!(
                "what {what} took here, {}–{} ms (asked: {} ms)",
                ms(least),
                ms(most),
                ms(asked)
            ));
        }
    }
    if any {
        given.durations = Some(
            measured
                .requests
                .iter()
                .map(|r| Durations {
                    io_ms: took(r, PhaseKind::Io).unwrap_or(config.io_ms),
                    cpu_ms: took(r, PhaseKind::Cpu).unwrap_or(config.cpu_ms),
                    bg_ms: took(r, PhaseKind::Background).unwrap_or(config.bg_ms),
                })
                .collect(),
        );
    }
    if !measured.handoffs.is_empty() {
        let mut by_request = vec![Vec::new(); measured.requests.len()];
        for h in &measured.handoffs {
            if let Some(list) = by_request.get_mut(h.request as usize) {
                list.push(*h);
            }
        }
        let trips: Vec<f64> = measured.handoffs.iter().map(|h| h.to_ms + h.back_ms).collect();
        let (least, most) = trips
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        said.push(format!(
            "each job's trip to its pool thread and back, {}–{} ms",
            ms2(least),
            ms2(most)
        ));
        given.handoffs = Some(by_request);
    }
    if config.workers > 1 {
        given.accepted_by = Some(measured.requests.iter().map(|r| r.worker).collect());
        said.push("which server worker accepted each request".to_string());
    }
    if said.is_empty() && given == crate::Given::default() {
        return unchanged();
    }
    let Ok(mut model) = crate::simulate_given(config, &measured.faults, &given) else {
        return unchanged();
    };
    // A request taken in at another moment than the model's loop takes it: its client
    // and the loop's poll raced. Given when each reached the server, the rest is the
    // model's again.
    if !taken_in(&model, measured).is_empty() {
        given.arrivals = Some(measured.requests.accepted_column().to_vec());
        if let Ok(again) = crate::simulate_given(config, &measured.faults, &given) {
            model = again;
            said.push("when each request reached the server".to_string());
        }
    }
    if said.is_empty() {
        return (Cow::Owned(model), "the prediction".to_string());
    }
    (
        Cow::Owned(model),
        format!("the prediction given {}", said.join(", ")),
    )
}

/// The agreed comparison, each bound widened by the [`Allowance`] measured on this
/// machine:
/// - the makespan, the ground-truth loop stall in total, and every answer's time (the
///   k-th answer against the model's k-th) within 5 % or 15 ms of the model ([`bound`]);
///   Where the browser took a request in at another moment than the model's loop
///   would, the check says so;
/// - what the probe saw of the stalls within 10 % or 20 ms of their ground truth;
/// - with `sleep` work, no probe stall over 15 ms in the variants that never block the
///   loop, in the ideal model (with `overhead_ms`, FastAPI's own work holds the loop,
///   and many answers at once hold it longer: the probe rightly sees that).
///
/// A run cut short is compared with nothing: it fails, and says why.
pub fn fidelity(predicted: &Report, measured: &Report) -> Fidelity {
    if let Some(cut) = &measured.cut_short {
        return Fidelity {
            ok: false,
            reference: "nothing".into(),
            reason: String::new(),
            checks: vec![Check {
                name: "complete".into(),
                expected: cut.requests as f64,
                measured: cut.answered as f64,
                tolerance: 0.0,
                ok: false,
                says: format!(
                    "the run was cancelled {:.1} s in, with {} of {} requests answered: a run cut short is not compared with the prediction",
                    cut.at_ms / 1000.0,
                    cut.answered,
                    cut.requests
                ),
            }],
        };
    }
    let (model, reference) = reference(predicted, measured);
    let mut f = fidelity_against(predicted, measured, &model);
    f.reference = reference;
    f.reason = reason(measured);
    f
}

/// What of the machine moved a run off its prediction, in plain words: steps that took
/// longer than asked (cores shared), an uneven split between server workers (the
/// accept race), slow messages between threads. "" when nothing did much.
pub fn reason(measured: &Report) -> String {
    let config = &measured.config;
    let mut said = Vec::new();
    let asked = [
        (PhaseKind::Cpu, config.cpu_ms, "model inference"),
        (PhaseKind::Io, config.io_ms, "fetch"),
        (PhaseKind::Background, config.bg_ms, "log write"),
    ];
    for (kind, asked, what) in asked {
        let most = measured
            .requests
            .iter()
            .map(|r| {
                r.phases
                    .iter()
                    .filter(|p| p.kind == kind && p.blocking)
                    .map(|p| p.end_ms - p.start_ms)
                    .sum::<f64>()
            })
            .fold(0.0f64, f64::max);
        if most > asked * 1.05 + 1.0 {
            said.push(format!(
                "a {what} took up to {:.0} % longer than asked (it shared this machine's cores)",
                (most / asked - 1.0) * 100.0
            ));
        }
    }
    if config.workers > 1 {
        let mut per = vec![0u64; config.workers as usize];
        for r in measured.requests.iter() {
            if let Some(n) = per.get_mut(r.worker as usize) {
                *n += 1;
            }
        }
        let counts: Vec<String> = per.iter().map(u64::to_string).collect();
        said.push(format!(
            "the workers took {} of the requests: which one accepts a connection is a race, in uvicorn too",
            counts.join(", ")
        ));
    }
    let slowest = measured
        .handoffs
        .iter()
        .map(|h| h.to_ms + h.back_ms)
        .fold(0.0, f64::max);
    if slowest > 5.0 {
        said.push(format!(
            "a job's trip to its thread and back took up to {slowest:.0} ms"
        ));
    }
    said.join("; ")
}

/// [`fidelity`]'s checks of `measured` against `model` (the prediction, or the model
/// given what the run settled).
fn fidelity_against(predicted: &Report, measured: &Report, model: &Report) -> Fidelity {
    let reference = String::new();
    let allowance = Allowance::of(model, measured);
    let (p, m) = (&model.stats, &measured.stats);
    let last = model
        .requests
        .id_column()
        .iter()
        .map(|&id| allowance.hops(id))
        .max()
        .unwrap_or(0);
    let stalls = u32::try_from(model.loop_stalls.len()).unwrap_or(u32::MAX);
    let mut checks = vec![
        check(
            "makespan_ms",
            p.makespan_ms,
            m.makespan_ms,
            bound(p.makespan_ms),
            &allowance,
            last,
        ),
        // Each stall ends when its blocked thread wakes: a busy machine wakes it late.
        check(
            "loop_stall_total_ms",
            p.loop_stall_total_ms,
            m.loop_stall_total_ms,
            bound(p.loop_stall_total_ms),
            &allowance,
            stalls,
        ),
        answers(model, measured, &allowance, &taken_in(model, measured)),
    ];
    if let Some(probe) = &measured.probe_stalls {
        // The probe's accuracy on the stalls that happened: what it saw of them against
        // their ground truth. (Heartbeats late while nothing blocked are the machine's,
        // warned of in `measurement.warnings` and checked below where nothing blocks.)
        let seen: f64 = probe
            .iter()
            .filter(|s| {
                measured
                    .loop_stalls
                    .iter()
                    .any(|t| t.start_ms < s.end_ms && s.start_ms < t.end_ms)
            })
            .map(|s| s.end_ms - s.start_ms)
            .sum();
        let truth = m.loop_stall_total_ms;
        let stalls = u32::try_from(measured.loop_stalls.len()).unwrap_or(u32::MAX);
        checks.push(check(
            "probe_stall_total_ms vs ground truth",
            truth,
            seen,
            (0.10 * truth).max(20.0),
            &allowance,
            stalls,
        ));
    }
    let never_blocks = !measured.config.variant.blocks_the_loop();
    if never_blocks && measured.config.work == Work::Sleep && measured.config.overhead_ms == 0.0 {
        if let Some(longest) = m.probe_stall_max_ms {
            let mut c = check("longest probe stall", 0.0, longest, 15.0, &allowance, 1);
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
        reason: String::new(),
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
                worker: 0,
            })
            .collect();
        m.stats.set_probe(&stalls);
        m.probe_stalls = Some(stalls);
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
            "makespan_ms: measured 11100 ms, predicted 10500 ms: 600 ms later, beyond the 525 ms allowed"
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
        m.requests.edit(|rows| {
            for q in rows.iter_mut().skip(2).take(4) {
                q.responded_ms -= 162.0;
            }
        });
        let f = fidelity(&p, &m);
        assert!(named(&f, "makespan_ms").ok);
        let answers = named(&f, "answers");
        assert!(!answers.ok);
        assert!(answers.says.contains("162 ms earlier"), "{}", answers.says);
        assert!(
            answers.says.contains("3 of 120 were outside the bound"),
            "{}",
            answers.says
        );
        assert!(!f.ok);
        assert_eq!(f.failures().count(), 1);
        // The answers on time, but a request taken in far from the model's moment: the
        // check passes and still says where the two differ.
        let mut on_time = p.clone();
        on_time.source = Source::Measured;
        on_time.requests.edit(|rows| rows[60].accepted_ms = 2_763.0);
        let answers = named(&fidelity(&p, &on_time), "answers").clone();
        assert!(answers.ok);
        assert!(
            answers.says.starts_with("answers: all 120 within the bound"),
            "{}",
            answers.says
        );
        assert!(
            answers.says.contains("Request 60 was taken in at 2763 ms here"),
            "{}",
            answers.says
        );
        // A request read far earlier than the model's loop would read it: said beside.
        m.requests.edit(|rows| rows[60].accepted_ms = 2_763.0);
        let says = fidelity(&p, &m).checks[2].says.clone();
        assert!(
            says.ends_with(
                "Request 60 was taken in at 2763 ms here, where the predicted event loop takes it in at 30250 ms: \
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
    fn with_fastapis_overhead_the_loop_is_held_by_fastapi_and_the_probe_may_say_so() {
        let config = Config {
            overhead_ms: 2.1,
            ..Config::default().with_variant(Variant::FullAsync)
        };
        let p = crate::simulate(&config).unwrap();
        let held = measured_like(&p, p.stats.makespan_ms, 0.0, &[(10.0, 40.0)]);
        let f = fidelity(&p, &held);
        assert!(f.checks.iter().all(|c| c.name != "longest probe stall"), "{f:?}");
    }

    #[test]
    fn predictions_alone_have_no_probe_checks() {
        let p = crate::simulate(&Config::default()).unwrap();
        let mut m = p.clone();
        m.source = Source::Measured;
        let f = fidelity(&p, &m);
        assert_eq!(f.checks.len(), 3);
        assert!(f.ok);
        assert_eq!(f.reference, "the prediction");
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
        assert!(f.reference.contains("95–95 ms"), "{}", f.reference);
        assert_eq!(named(&f, "makespan_ms").expected, 230.0);
        // A run that does not follow the model's scheduling still fails: answers all at 230.
        m.requests.edit(|rows| {
            for q in rows.iter_mut() {
                q.responded_ms = 230.0;
            }
        });
        assert!(!named(&fidelity(&p, &m), "answers").ok);
    }

    #[test]
    fn a_busy_machine_widens_each_bound_by_its_hops_and_says_so() {
        // full_async, 4 requests from 2 clients: the first two answers take the request's
        // message, the fetch's timer and a trip to a pool thread and back (4 hops); the
        // next two, one more for the previous answer, and the previous request's 4.
        let c = Config {
            variant: Variant::FullAsync,
            requests: 4,
            concurrency: 2,
            io_ms: 40.0,
            cpu_ms: 80.0,
            ..Config::default()
        };
        let p = crate::simulate(&c).unwrap();
        let mut m = p.clone();
        m.source = Source::Measured;
        let hops: Vec<u32> = (0..4).map(|id| Allowance::of(&p, &m).hops(id)).collect();
        assert_eq!(hops, [4, 4, 9, 9]);
        m.measurement = Some(crate::model::Measurement {
            timer_lateness_ms: 2.0,
            ..Default::default()
        });
        // 240 ms predicted: 15 ms bound + 9 hops × 2 ms.
        m.stats.makespan_ms = 270.0;
        let f = fidelity(&p, &m);
        let makespan = named(&f, "makespan_ms");
        assert!(makespan.ok, "{}", makespan.says);
        assert_eq!(makespan.tolerance, 33.0);
        assert!(
            makespan.says.ends_with(
                "(the bound plus 18 ms: 9 hops × 2.00 ms of timer lateness measured on this machine)"
            ),
            "{}",
            makespan.says
        );
        m.stats.makespan_ms = 274.0;
        assert!(!named(&fidelity(&p, &m), "makespan_ms").ok);
        // A prediction held against itself has no allowance.
        assert_eq!(Allowance::of(&p, &p).per_hop_ms, 0.0);
    }

    #[test]
    fn a_request_that_reached_the_server_late_is_held_against_when_it_arrived() {
        // full_async from 2 clients: a client's next request is sent at its answer; on a
        // busy machine its message may reach the server's thread late. When it arrived
        // is the machine's; what the loop did with it is still the model's.
        let c = Config {
            variant: Variant::FullAsync,
            requests: 4,
            concurrency: 2,
            io_ms: 40.0,
            cpu_ms: 80.0,
            ..Config::default()
        };
        let p = crate::simulate(&c).unwrap();
        let mut arrivals = p.requests.accepted_column().to_vec();
        arrivals[3] += 30.0;
        let given = crate::Given {
            arrivals: Some(arrivals),
            ..crate::Given::default()
        };
        let mut m = crate::simulate_given(&c, &Default::default(), &given).unwrap();
        m.source = Source::Measured;
        assert!(
            !named(&fidelity_against(&p, &m, &p), "answers").ok,
            "against the plain model it fails"
        );
        let f = fidelity(&p, &m);
        assert!(f.ok, "{:?}", f.failures().collect::<Vec<_>>());
        assert!(
            f.reference.contains("when each request reached the server"),
            "{}",
            f.reference
        );
        // A run that then breaks the model's rules still fails: an answer 100 ms early.
        m.requests.edit(|rows| rows[3].responded_ms -= 100.0);
        assert!(!fidelity(&p, &m).ok);
    }

    #[test]
    fn a_run_far_from_its_prediction_is_never_called_within_bounds() {
        // Four processes on two cores: each prediction took 3.4 times as long.
        let c = Config {
            variant: Variant::ProcessPool,
            requests: 8,
            concurrency: 8,
            io_ms: 50.0,
            cpu_ms: 200.0,
            processes: 4,
            work: Work::PythonCpu,
            ..Config::default()
        };
        let p = crate::simulate(&c).unwrap();
        let slow = crate::simulate(&Config {
            cpu_ms: 680.0,
            ..c.clone()
        })
        .unwrap();
        let mut m = slow.clone();
        m.source = Source::Measured;
        m.config = c.clone();
        let f = fidelity(&p, &m);
        assert!(
            f.ok,
            "given what each prediction took, the scheduling is the model's"
        );
        match Verdict::of(&p, &m, &f) {
            Verdict::GivenTheMachine { off_pct, why } => {
                assert!((off_pct - 213.3).abs() < 0.1, "{off_pct}");
                assert!(
                    why.contains("what each model inference took here, 680–680 ms (asked: 200 ms)"),
                    "{why}"
                );
            }
            other => panic!("{other:?}"),
        }
        let mut same = p.clone();
        same.source = Source::Measured;
        assert_eq!(Verdict::of(&p, &same, &fidelity(&p, &same)), Verdict::AsPredicted);
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
