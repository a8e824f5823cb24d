//! A finished run seen at any moment `t` of its clock, so a teacher can play it at their
//! own pace, pause, and step: where each request is (for the code panel), what the
//! server had printed, the numbers so far, and the moments at which something happened
//! (to step from one to the next). Pure functions of (report, t); the page only draws
//! them, for a measured run and for the model's prediction alike.

use super::code::Position;
use crate::model::stats::Outcome;
use crate::model::{PhaseKind, Place, ProbeStall, Report, RequestRef, Stall, Stats, Variant};

/// Where request `r` of a `variant` run is at `t`, with whether it had been answered;
/// `None` before it was sent.
pub fn position_at(variant: Variant, r: RequestRef, t: f64) -> Option<(Position, bool)> {
    if t < r.sent_ms {
        return None;
    }
    let within = |start: f64, end: f64| start <= t && t < end;
    let inside = r.phases.iter().find(|p| within(p.start_ms, p.end_ms));
    if t >= r.responded_ms {
        // Answered: what is left is its background task, while it has one going.
        let position = match (inside, r.background_done_ms) {
            (Some(p), _) => Position::In {
                kind: p.kind,
                on: p.on,
                blocking: p.blocking,
            },
            (None, Some(done)) if t < done => Position::Responded { background: true },
            _ => Position::Done,
        };
        return Some((position, true));
    }
    let position = match inside {
        // A def endpoint's second wait for a token: its endpoint call is done, its
        // return value waits to be validated.
        Some(p)
            if variant == Variant::SyncDef
                && p.kind == PhaseKind::Queued
                && p.on == Place::Pool
                && r.phases.iter().any(|q| {
                    q.on == Place::Pool && q.kind != PhaseKind::Queued && q.end_ms <= p.start_ms
                }) =>
        {
            Position::Validating
        }
        Some(p) => Position::In {
            kind: p.kind,
            on: p.on,
            blocking: p.blocking,
        },
        None if t < r.accepted_ms => Position::Arriving,
        None => Position::Started,
    };
    Some((position, false))
}

/// Where every request is at `t` (those not sent yet are nowhere).
pub fn positions_at(report: &Report, t: f64) -> Vec<(Position, bool)> {
    report
        .requests
        .iter()
        .map(|r| position_at(report.config.variant, r, t).unwrap_or((Position::Done, false)))
        .collect()
}

/// How many of the report's console lines had been printed by `t` (they are in time
/// order).
pub fn printed_by(report: &Report, t: f64) -> usize {
    report.console.partition_point(|line| line.t_ms <= t)
}

fn clipped(start: f64, end: f64, t: f64) -> Option<(f64, f64)> {
    (start < t).then(|| (start, end.min(t)))
}

/// The numbers as they stood at `t`: over the requests answered by then, the stalls up
/// to then (one still going counts so far), the background tasks done by then.
pub fn stats_at(report: &Report, t: f64) -> Stats {
    let answered = report
        .requests
        .iter()
        .filter(|r| r.responded_ms <= t)
        .map(|r| Outcome {
            background_done_ms: r.background_done_ms.filter(|&done| done <= t),
            ..r.outcome()
        });
    let stalls: Vec<Stall> = report
        .loop_stalls
        .iter()
        .filter_map(|s| {
            clipped(s.start_ms, s.end_ms, t).map(|(start_ms, end_ms)| Stall {
                start_ms,
                end_ms,
                ..s.clone()
            })
        })
        .collect();
    let mut stats = Stats::compute(answered, &stalls);
    // Background tasks of requests answered by then, done by then.
    stats.background_done_ms = report
        .requests
        .iter()
        .filter_map(|r| r.background_done_ms)
        .filter(|&done| done <= t)
        .reduce(f64::max);
    if let Some(probe) = &report.probe_stalls {
        let seen: Vec<ProbeStall> = probe
            .iter()
            .filter_map(|s| {
                clipped(s.start_ms, s.end_ms, t).map(|(start_ms, end_ms)| ProbeStall {
                    start_ms,
                    end_ms,
                    ..s.clone()
                })
            })
            .collect();
        stats.set_probe(&seen);
    }
    stats
}

/// Every moment something happened in a run (a request sent, taken in or answered, a
/// phase or stall beginning or ending, a line printed), in order, once each: the stops
/// of "step to the next (previous) event".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Moments(Vec<f64>);

impl Moments {
    pub fn of(reports: &[&Report]) -> Moments {
        let mut all: Vec<f64> = Vec::new();
        for report in reports {
            for r in &report.requests {
                all.extend([r.sent_ms, r.accepted_ms, r.responded_ms]);
                all.extend(r.background_done_ms);
                all.extend(r.phases.iter().flat_map(|p| [p.start_ms, p.end_ms]));
            }
            all.extend(report.loop_stalls.iter().flat_map(|s| [s.start_ms, s.end_ms]));
            all.extend(report.console.iter().map(|l| l.t_ms));
        }
        all.retain(|t| t.is_finite());
        all.sort_by(f64::total_cmp);
        // Moments closer than a microsecond are one.
        all.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
        Moments(all)
    }

    /// The first moment after `t`, if any.
    pub fn next(&self, t: f64) -> Option<f64> {
        let i = self.0.partition_point(|&m| m <= t + 1e-3);
        self.0.get(i).copied()
    }

    /// The last moment before `t`, if any.
    pub fn previous(&self, t: f64) -> Option<f64> {
        let i = self.0.partition_point(|&m| m < t - 1e-3);
        i.checked_sub(1).map(|i| self.0[i])
    }

    pub fn last(&self) -> Option<f64> {
        self.0.last().copied()
    }
}

/// Replay speeds a teacher can choose, in the tutorial's seconds per second of the
/// room's: 1× narrates the tutorial in its own time, 4× skims it.
pub const SPEEDS: [f64; 7] = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0];

/// A replay's clock: the moment shown, on the run's clock, and whether it plays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    pub t_ms: f64,
    pub playing: bool,
    /// Tutorial seconds per wall second (see [`SPEEDS`]).
    pub speed: f64,
    /// The run's time scale: at 0.2×, a tutorial second is 200 ms of the run's clock.
    pub scale: f64,
    /// The end of what there is to replay, on the run's clock.
    pub span_ms: f64,
}

impl Clock {
    /// A clock at the end of `span_ms` (everything shown), not playing, at 1×.
    pub fn at_end(span_ms: f64, scale: f64) -> Clock {
        Clock {
            t_ms: span_ms,
            playing: false,
            speed: 1.0,
            scale,
            span_ms,
        }
    }

    /// `wall_ms` of the room's time went by: a playing clock moves on, and stops at the
    /// end.
    pub fn tick(&mut self, wall_ms: f64) {
        if !self.playing {
            return;
        }
        self.t_ms = (self.t_ms + wall_ms * self.speed * self.scale).min(self.span_ms);
        if self.t_ms >= self.span_ms {
            self.playing = false;
        }
    }

    /// Plays, or pauses; playing from the end starts again from the beginning.
    pub fn toggle(&mut self) {
        if !self.playing && self.t_ms >= self.span_ms {
            self.t_ms = 0.0;
        }
        self.playing = !self.playing;
    }

    /// Moves to `t_ms` (kept within the run).
    pub fn seek(&mut self, t_ms: f64) {
        if t_ms.is_finite() {
            self.t_ms = t_ms.clamp(0.0, self.span_ms);
        }
    }

    /// To the next (or previous) moment something happened, and pauses there.
    pub fn step(&mut self, moments: &Moments, forward: bool) {
        self.playing = false;
        let to = if forward {
            moments.next(self.t_ms).unwrap_or(self.span_ms)
        } else {
            moments.previous(self.t_ms).unwrap_or(0.0)
        };
        self.seek(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::view::code::{counts, python};

    fn run(variant: Variant, requests: u64, io: f64, cpu: f64) -> Report {
        crate::simulate(&Config {
            variant,
            requests,
            concurrency: requests,
            io_ms: io,
            cpu_ms: cpu,
            bg_ms: 50.0,
            ..Config::default()
        })
        .unwrap()
    }

    /// Requests per line of the Python at `t`, as (line text, count), lines with none left out.
    fn lit(report: &Report, t: f64) -> Vec<(String, u32)> {
        let v = report.config.variant;
        let c = counts(v, &positions_at(report, t));
        python(&report.config)
            .into_iter()
            .zip(c.requests)
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| (l.trim().to_string(), n))
            .collect()
    }

    #[test]
    fn async_io_worked_by_hand() {
        // Three requests at once, fetch 100 ms, predict 200 ms on the loop.
        let r = run(Variant::AsyncIo, 3, 100.0, 200.0);
        let fetch = || "data = await fetch_external_data_async(request.item_id)".to_string();
        let predict = || "prediction = run_model_prediction(request.feature_value)".to_string();
        // 0–100: all three fetch.
        assert_eq!(lit(&r, 50.0), [(fetch(), 3)]);
        // 100–300: request 0 predicts, holding the loop; 1 and 2 wait for it at the fetch.
        assert_eq!(lit(&r, 150.0), [(fetch(), 2), (predict(), 1)]);
        // 300–500: 0 answered (nowhere), 1 predicts, 2 still waits.
        assert_eq!(lit(&r, 350.0), [(fetch(), 1), (predict(), 1)]);
        // 700: all answered.
        assert_eq!(lit(&r, 700.0), []);
        // Before anything was sent: nothing.
        assert_eq!(lit(&r, -1.0), []);
    }

    #[test]
    fn a_def_endpoint_waits_for_its_second_token_at_response_model() {
        let r = crate::simulate(&Config {
            variant: Variant::SyncDef,
            requests: 2,
            concurrency: 2,
            tokens: 1,
            io_ms: 100.0,
            cpu_ms: 100.0,
            ..Config::default()
        })
        .unwrap();
        // One token: request 0 runs 0–200, its validation queues behind request 1's
        // endpoint (200–400); both answered at 400.
        let at = |t| positions_at(&r, t);
        assert_eq!(at(250.0)[0].0, Position::Validating);
        assert!(matches!(
            at(250.0)[1].0,
            Position::In {
                kind: PhaseKind::Io,
                ..
            }
        ));
    }

    #[test]
    fn background_tasks_count_apart_from_requests() {
        let r = run(Variant::Background, 2, 100.0, 200.0); // answered at 300, logs 300–350
        let v = Variant::Background;
        let c = counts(v, &positions_at(&r, 320.0));
        assert_eq!(c.requests.iter().sum::<u32>(), 0);
        assert_eq!(c.tasks.iter().sum::<u32>(), 2);
        let line = &python(&r.config)[c.tasks.iter().position(|&n| n == 2).unwrap()];
        assert!(
            line.contains("time.sleep(") && line.contains("# a def task"),
            "{line}"
        );
    }

    #[test]
    fn the_numbers_so_far() {
        let r = run(Variant::Blocking, 3, 100.0, 200.0); // answers at 300, 600, 900
        let s = stats_at(&r, 650.0);
        assert_eq!(s.makespan_ms, 600.0);
        assert_eq!(s.loop_stall_total_ms, 650.0, "two stalls and 50 ms of the third");
        assert_eq!(stats_at(&r, 900.0), r.stats);
        assert_eq!(printed_by(&r, -1.0), 0);
        assert_eq!(printed_by(&r, 1e9), r.console.len());
        let bg = run(Variant::Background, 2, 100.0, 200.0);
        assert_eq!(stats_at(&bg, 320.0).background_done_ms, None);
        assert_eq!(stats_at(&bg, 360.0).background_done_ms, Some(350.0));
    }

    #[test]
    fn the_clock_plays_in_the_tutorials_time_and_stops_at_the_end() {
        // A run at 0.2×: 1× plays 200 ms of its clock per second of the room's.
        let mut c = Clock::at_end(3000.0, 0.2);
        assert_eq!(c.t_ms, 3000.0);
        c.toggle(); // from the end: again from the start
        assert!(c.playing);
        assert_eq!(c.t_ms, 0.0);
        c.tick(1000.0);
        assert_eq!(c.t_ms, 200.0);
        c.speed = 4.0;
        c.tick(1000.0);
        assert_eq!(c.t_ms, 1000.0);
        c.tick(60_000.0);
        assert_eq!((c.t_ms, c.playing), (3000.0, false));
        c.seek(-5.0);
        assert_eq!(c.t_ms, 0.0);
        c.seek(f64::NAN);
        assert_eq!(c.t_ms, 0.0);
        let moments = Moments(vec![0.0, 100.0, 300.0]);
        c.step(&moments, true);
        assert_eq!(c.t_ms, 100.0);
        c.step(&moments, true);
        c.step(&moments, true);
        assert_eq!(c.t_ms, 3000.0, "past the last moment: the end");
        c.step(&moments, false);
        assert_eq!(c.t_ms, 300.0);
        c.toggle();
        c.toggle();
        assert!(!c.playing);
    }

    #[test]
    fn stepping_goes_from_moment_to_moment() {
        let r = run(Variant::AsyncIo, 2, 100.0, 200.0); // 0, 100, 300, 500
        let m = Moments::of(&[&r]);
        assert_eq!(m.next(-5.0), Some(0.0));
        assert_eq!(m.next(0.0), Some(100.0));
        assert_eq!(m.next(150.0), Some(300.0));
        assert_eq!(m.previous(300.0), Some(100.0));
        assert_eq!(m.previous(0.0), None);
        assert_eq!(m.last(), Some(500.0));
        assert_eq!(m.next(500.0), None);
    }
}
