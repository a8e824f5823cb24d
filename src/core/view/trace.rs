//! A run as the page sees it while it goes: the runtime's [`Event`]s applied to a
//! [`Recorder`] (the same code the runtime builds its report with), plus the phases
//! that have begun and not yet ended, which a live view draws growing up to "now".

use super::code::Position;
use super::timeline::{Bar, Picture, Reply, StallBar};
use crate::model::recorder::UnknownRequest;
use crate::model::Event;
use crate::model::{Config, ConsoleLine, PhaseKind, Place, Recorder, Report, Source, Variant};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Open {
    kind: PhaseKind,
    on: Place,
    blocking: bool,
    start_ms: f64,
    /// An awaited sleep's due time: past it, the request waits for the loop.
    due: Option<f64>,
}

impl Open {
    /// When an awaited sleep's timer fired, if it has by `now_ms`: from then on the
    /// request is ready and waits for the loop (another request holds it).
    fn ready_at(&self, now_ms: f64) -> Option<f64> {
        self.due.filter(|&due| due < now_ms)
    }
}

pub struct Trace {
    rec: Recorder,
    /// What has happened and will not change: the phases ended, the answers, the
    /// stalls. A live view draws it as it is and adds what is open, so a frame costs
    /// what is going on, not the whole run.
    closed: std::rc::Rc<Picture>,
    open: Vec<Option<Open>>,
    /// The requests with something open: a phase begun, or sent and not yet taken in.
    active: BTreeSet<usize>,
    /// The requests sent and not yet done with (unanswered, or a background task still
    /// to finish): the only ones the code panel shows somewhere.
    unfinished: BTreeSet<usize>,
    /// Per request: when the coroutine step now going first blocked the loop (a step
    /// may block in several calls; its stall is one, reported when the step ends).
    blocking_since: Vec<Option<f64>>,
    answered: u64,
    /// The server's report, once the run is over.
    pub finished: Option<std::rc::Rc<Report>>,
    /// When the run's clock started (absolute ms), once it has.
    pub t0_abs: Option<f64>,
}

impl Trace {
    pub fn new(config: Config) -> Trace {
        let n = config.requests as usize;
        let closed = Picture {
            lanes: n,
            workers: config.workers as usize,
            ..Picture::default()
        };
        Trace {
            rec: Recorder::new(config),
            closed: std::rc::Rc::new(closed),
            open: vec![None; n],
            active: BTreeSet::new(),
            unfinished: BTreeSet::new(),
            blocking_since: vec![None; n],
            answered: 0,
            finished: None,
            t0_abs: None,
        }
    }

    pub fn config(&self) -> &Config {
        self.rec.config()
    }

    /// Records an event; one naming a request the run does not have is refused.
    pub fn apply(&mut self, event: &Event) -> Result<(), UnknownRequest> {
        self.rec.record(event)?;
        let Some(i) = event.request().map(|r| r as usize) else {
            if let Event::LoopGilWait { worker, from, to } = *event {
                if to > from {
                    std::rc::Rc::make_mut(&mut self.closed)
                        .gil_waits
                        .push((worker as usize, from, to));
                }
            }
            return Ok(());
        };
        let queued = |on: Place, from: f64, to: f64| Bar {
            lane: i,
            kind: PhaseKind::Queued,
            on,
            blocking: false,
            start_ms: from,
            end_ms: to,
            open: false,
        };
        match *event {
            Event::Sent { .. } => {
                self.unfinished.insert(i);
            }
            Event::BackgroundDone { .. } => {
                self.unfinished.remove(&i);
            }
            Event::Accepted { t, .. } => {
                // The recorder's rule: the time since it was sent is a wait for the loop.
                let sent = self.rec.request(i as u64).and_then(|r| r.sent_ms).unwrap_or(t);
                if t > sent {
                    std::rc::Rc::make_mut(&mut self.closed)
                        .bars
                        .push(queued(Place::Loop, sent, t));
                }
            }
            Event::Began {
                kind,
                on,
                blocking,
                t,
                due,
                ..
            } => {
                self.open[i] = Some(Open {
                    kind,
                    on,
                    blocking,
                    start_ms: t,
                    due,
                });
                if on == Place::Loop && blocking {
                    self.blocking_since[i].get_or_insert(t);
                }
            }
            Event::Stall { ref stall } => {
                self.blocking_since[i] = None;
                std::rc::Rc::make_mut(&mut self.closed).stalls.push(StallBar {
                    start_ms: stall.start_ms,
                    end_ms: stall.end_ms,
                    request: stall.request,
                    worker: self.rec.worker_of(i as u64) as usize,
                    open: false,
                });
            }
            Event::Phase { ref phase, .. } => {
                self.open[i] = None;
                std::rc::Rc::make_mut(&mut self.closed)
                    .bars
                    .push(Bar::from_phase(i, phase));
            }
            Event::Waited { on, from, to, .. } => {
                self.open[i] = None;
                if to > from {
                    std::rc::Rc::make_mut(&mut self.closed)
                        .bars
                        .push(queued(on, from, to));
                }
            }
            Event::Responded { t, ref answer, .. } => {
                self.answered += 1;
                // Done with, unless its background task is still to come (an error has
                // none: the endpoint never returned the response it belongs to).
                let background = matches!(self.config().variant, Variant::Background | Variant::TaskQueue);
                let pending = background
                    && answer.is_ok()
                    && self
                        .rec
                        .request(i as u64)
                        .is_some_and(|r| r.background_done_ms.is_none());
                if !pending {
                    self.unfinished.remove(&i);
                }
                std::rc::Rc::make_mut(&mut self.closed).responses.push(Reply {
                    lane: i,
                    t_ms: t,
                    error: !answer.is_ok(),
                });
            }
            _ => {}
        }
        let taken_in = self
            .rec
            .request(i as u64)
            .is_some_and(|r| r.accepted_ms.is_some());
        if self.open[i].is_none() && taken_in {
            self.active.remove(&i);
        } else {
            self.active.insert(i);
        }
        Ok(())
    }

    /// Server worker `worker`'s heartbeat samples, already on the run's timeline (the
    /// lane shows worker 0's).
    pub fn lag(&mut self, worker: u64, samples: impl IntoIterator<Item = [f64; 2]>) {
        if worker == 0 {
            std::rc::Rc::make_mut(&mut self.closed).lag.extend(samples);
        }
    }

    /// The run as recorded so far, cut short `at_ms` into it (cancelled).
    pub fn cut_short(&self, at_ms: f64) -> Report {
        self.rec.clone().finish_cut_short(Source::Measured, at_ms)
    }

    pub fn console(&self) -> &[ConsoleLine] {
        self.rec.console()
    }

    /// How many requests have been answered.
    pub fn responded(&self) -> u64 {
        self.answered
    }

    /// What has happened so far and will not change (what a live view draws under
    /// [`Trace::open_picture`]).
    pub fn closed(&self) -> &Picture {
        &self.closed
    }

    /// The run's finished picture, made from what was drawn live rather than anew from
    /// `report` (the same phases, answers and stalls; the probe's from the report):
    /// a run of 100 000 requests is not laid out twice. A cut-short report (only the
    /// requests answered) gets its own.
    pub fn finished_picture(&mut self, report: &Report) -> std::rc::Rc<Picture> {
        if report.cut_short.is_some() {
            return std::rc::Rc::new(Picture::from_report(report));
        }
        let whole = Picture::from_report_without_requests(report);
        let p = std::rc::Rc::make_mut(&mut self.closed);
        p.lag = whole.lag;
        p.probe = whole.probe;
        p.stalls = whole.stalls;
        p.gil_waits = whole.gil_waits;
        p.end_ms = p
            .bars
            .iter()
            .map(|b| b.end_ms)
            .chain(p.responses.iter().map(|r| r.t_ms))
            .fold(0.0, f64::max);
        self.closed.clone()
    }

    /// What is going on at `now_ms`: the phases begun and not ended, drawn growing up to
    /// now, the stalls still going, the requests not yet taken in.
    pub fn open_picture(&self, now_ms: f64) -> Picture {
        let mut picture = Picture {
            lanes: self.closed.lanes,
            workers: self.closed.workers,
            end_ms: now_ms,
            ..Picture::default()
        };
        for &lane in &self.active {
            let Some(r) = self.rec.request(lane as u64) else {
                continue;
            };
            if let Some(o) = &self.open[lane] {
                let ready_at = o.ready_at(now_ms);
                picture.bars.push(Bar {
                    lane,
                    kind: o.kind,
                    on: o.on,
                    blocking: o.blocking,
                    start_ms: o.start_ms,
                    end_ms: ready_at.unwrap_or(now_ms).max(o.start_ms),
                    open: ready_at.is_none(),
                });
                if let Some(due) = ready_at {
                    picture.bars.push(Bar {
                        lane,
                        kind: PhaseKind::Queued,
                        on: Place::Loop,
                        blocking: false,
                        start_ms: due,
                        end_ms: now_ms,
                        open: true,
                    });
                }
                if o.on == Place::Loop && o.blocking {
                    let since = self.blocking_since[lane].unwrap_or(o.start_ms).min(o.start_ms);
                    picture.stalls.push(StallBar {
                        start_ms: since,
                        end_ms: now_ms.max(o.start_ms),
                        request: lane as u64,
                        worker: self.rec.worker_of(lane as u64) as usize,
                        open: true,
                    });
                }
            }
            if let (Some(sent), None) = (r.sent_ms, r.accepted_ms) {
                // Sent, not yet taken in: waiting for the loop.
                picture.bars.push(Bar {
                    lane,
                    kind: PhaseKind::Queued,
                    on: Place::Loop,
                    blocking: false,
                    start_ms: sent,
                    end_ms: now_ms.max(sent),
                    open: true,
                });
            }
        }
        picture
    }

    /// The run so far as one picture, with whatever is still going drawn up to
    /// `now_ms` (the closed part and the open one together: a copy, for a one-off).
    pub fn picture(&self, now_ms: f64) -> Picture {
        if let Some(report) = &self.finished {
            return Picture::from_report(report);
        }
        let open = self.open_picture(now_ms);
        let mut picture = (*self.closed).clone();
        picture.end_ms = now_ms;
        picture.bars.extend(open.bars);
        picture.stalls.splice(0..0, open.stalls);
        picture
    }

    /// Where each request not yet done with is, for the code panel (the others are
    /// nowhere in the code): what [`Trace::positions`] says of those, in a frame's time
    /// however long the run.
    pub fn live_positions(&self, now_ms: f64) -> Vec<(Position, bool)> {
        self.unfinished
            .iter()
            .map(|&id| self.position(id, now_ms))
            .collect()
    }

    /// Where each request is, for the code panel: `(position, responded)`.
    /// `now_ms` is on the run's clock: an awaited sleep past its due time is a wait for
    /// the loop.
    pub fn positions(&self, now_ms: f64) -> Vec<(Position, bool)> {
        (0..self.open.len()).map(|id| self.position(id, now_ms)).collect()
    }

    /// Where request `id` is at `now_ms`, and whether it has been answered.
    fn position(&self, id: usize, now_ms: f64) -> (Position, bool) {
        let background = matches!(self.config().variant, Variant::Background | Variant::TaskQueue);
        let r = self.rec.request(id as u64).expect("a lane per request");
        let responded = r.responded_ms.is_some();
        let open = self.open[id].map(|o| match o.ready_at(now_ms) {
            Some(_) => Open {
                kind: PhaseKind::Queued,
                due: None,
                ..o
            },
            None => o,
        });
        let open = open.as_ref();
        let position = match (open, r.accepted_ms, responded) {
            // A def endpoint's second wait for a token: its endpoint call is done, its
            // return value waits to be validated.
            (Some(o), _, false)
                if o.kind == PhaseKind::Queued
                    && o.on == Place::Pool
                    && r.pooled
                    && self.config().variant == Variant::SyncDef =>
            {
                Position::Validating
            }
            (Some(o), _, _) => Position::In {
                kind: o.kind,
                on: o.on,
                blocking: o.blocking,
            },
            (None, _, true) if self.finished.is_none() && background && r.background_done_ms.is_none() => {
                Position::Responded { background: true }
            }
            (None, _, true) => Position::Done,
            (None, Some(_), false) => Position::Started,
            (None, None, false) if r.sent_ms.is_some() => Position::Arriving,
            (None, None, false) => Position::Done, // not sent yet: nowhere in the code
        };
        (position, responded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Phase, Stall};

    fn config() -> Config {
        Config {
            variant: Variant::AsyncIo,
            requests: 2,
            concurrency: 2,
            ..Config::default()
        }
    }

    #[test]
    fn open_phases_grow_to_now_and_close_with_their_phase() {
        let mut live = Trace::new(config());
        live.apply(&Event::Sent { request: 0, t: 0.0 }).unwrap();
        live.apply(&Event::Sent { request: 1, t: 0.0 }).unwrap();
        // Request 1 not yet accepted: queued up to now.
        live.apply(&Event::Accepted {
            request: 0,
            t: 1.0,
            worker: 0,
        })
        .unwrap();
        live.apply(&Event::Began {
            request: 0,
            kind: PhaseKind::Cpu,
            on: Place::Loop,
            blocking: true,
            t: 10.0,
            due: None,
        })
        .unwrap();
        let p = live.picture(60.0);
        let open: Vec<_> = p
            .bars
            .iter()
            .filter(|b| b.open)
            .map(|b| (b.lane, b.kind, b.end_ms))
            .collect();
        assert_eq!(open, [(0, PhaseKind::Cpu, 60.0), (1, PhaseKind::Queued, 60.0)]);
        assert_eq!(p.stalls.len(), 1);
        assert!(p.stalls[0].open);
        let phase = Phase {
            kind: PhaseKind::Cpu,
            start_ms: 10.0,
            end_ms: 70.0,
            on: Place::Loop,
            blocking: true,
        };
        live.apply(&Event::Phase { request: 0, phase }).unwrap();
        live.apply(&Event::Stall {
            stall: Stall {
                start_ms: 10.0,
                end_ms: 70.0,
                request: 0,
                cause: "run_model_prediction".into(),
                worker: 0,
            },
        })
        .unwrap();
        live.apply(&Event::Responded {
            request: 0,
            t: 70.0,
            answer: crate::model::Answer::ok(crate::flows::step1::response(
                &crate::flows::step1::ExternalData {
                    item_id: 123,
                    metadata: "some_fetched_value_async",
                },
                10.0,
            )),
        })
        .unwrap();
        let p = live.picture(80.0);
        assert!(p.bars.iter().any(|b| b.lane == 0 && !b.open && b.end_ms == 70.0));
        assert_eq!(p.stalls.iter().filter(|s| !s.open).count(), 1);
        assert_eq!(
            p.responses,
            [Reply {
                lane: 0,
                t_ms: 70.0,
                error: false
            }]
        );
        assert_eq!(live.responded(), 1);
        let positions = live.positions(0.0);
        assert_eq!(positions[0], (Position::Done, true));
        assert_eq!(positions[1], (Position::Arriving, false));
    }

    #[test]
    fn a_finished_run_draws_the_servers_report() {
        let report = crate::simulate(&config()).unwrap();
        let mut live = Trace::new(config());
        live.finished = Some(report.clone().into());
        assert_eq!(live.picture(5.0), Picture::from_report(&report));
    }

    #[test]
    fn a_def_endpoints_second_token_wait_is_validating_its_response() {
        let mut live = Trace::new(Config {
            variant: Variant::SyncDef,
            requests: 1,
            concurrency: 1,
            ..Config::default()
        });
        live.apply(&Event::Sent { request: 0, t: 0.0 }).unwrap();
        live.apply(&Event::Accepted {
            request: 0,
            t: 0.0,
            worker: 0,
        })
        .unwrap();
        let token_wait = |t| Event::Began {
            request: 0,
            kind: PhaseKind::Queued,
            on: Place::Pool,
            blocking: false,
            t,
            due: None,
        };
        live.apply(&token_wait(0.0)).unwrap();
        // Before the endpoint ran: waiting for a token to start it.
        let waiting = Position::In {
            kind: PhaseKind::Queued,
            on: Place::Pool,
            blocking: false,
        };
        assert_eq!(live.positions(0.0)[0], (waiting, false));
        for (kind, start_ms, end_ms) in [(PhaseKind::Io, 0.0, 500.0), (PhaseKind::Cpu, 500.0, 1500.0)] {
            let phase = Phase {
                kind,
                start_ms,
                end_ms,
                on: Place::Pool,
                blocking: true,
            };
            live.apply(&Event::Phase { request: 0, phase }).unwrap();
        }
        live.apply(&token_wait(1500.0)).unwrap();
        assert_eq!(live.positions(0.0)[0], (Position::Validating, false));
    }

    fn began(request: u64, kind: PhaseKind, blocking: bool, t: f64, due: Option<f64>) -> Event {
        Event::Began {
            request,
            kind,
            on: Place::Loop,
            blocking,
            t,
            due,
        }
    }

    #[test]
    fn an_awaited_fetch_past_its_timer_is_drawn_waiting_for_the_loop() {
        let mut live = Trace::new(config());
        live.apply(&Event::Sent { request: 0, t: 0.0 }).unwrap();
        live.apply(&Event::Accepted {
            request: 0,
            t: 0.0,
            worker: 0,
        })
        .unwrap();
        live.apply(&began(0, PhaseKind::Io, false, 0.0, Some(500.0)))
            .unwrap();
        let open = |p: &Picture| -> Vec<_> {
            p.bars
                .iter()
                .filter(|b| b.lane == 0)
                .map(|b| (b.kind, b.start_ms, b.end_ms, b.open))
                .collect()
        };
        assert_eq!(open(&live.picture(300.0)), [(PhaseKind::Io, 0.0, 300.0, true)]);
        // The timer fired at 500, but the loop is held by someone else: ready, waiting.
        assert_eq!(
            open(&live.picture(800.0)),
            [
                (PhaseKind::Io, 0.0, 500.0, false),
                (PhaseKind::Queued, 500.0, 800.0, true)
            ]
        );
        let waiting = Position::In {
            kind: PhaseKind::Queued,
            on: Place::Loop,
            blocking: false,
        };
        assert_eq!(live.positions(800.0)[0].0, waiting);
        assert!(matches!(
            live.positions(300.0)[0].0,
            Position::In {
                kind: PhaseKind::Io,
                ..
            }
        ));
    }

    #[test]
    fn a_step_blocking_in_two_calls_draws_one_growing_stall() {
        let mut live = Trace::new(config());
        live.apply(&Event::Sent { request: 0, t: 0.0 }).unwrap();
        live.apply(&Event::Accepted {
            request: 0,
            t: 0.0,
            worker: 0,
        })
        .unwrap();
        live.apply(&began(0, PhaseKind::Io, true, 0.0, None)).unwrap();
        let phase = Phase {
            kind: PhaseKind::Io,
            start_ms: 0.0,
            end_ms: 500.0,
            on: Place::Loop,
            blocking: true,
        };
        live.apply(&Event::Phase {
            request: 0,
            phase: phase.clone(),
        })
        .unwrap();
        live.apply(&began(0, PhaseKind::Cpu, true, 500.0, None)).unwrap();
        let stalls = |live: &Trace, now_ms| -> Vec<_> {
            live.picture(now_ms)
                .stalls
                .iter()
                .map(|s| (s.start_ms, s.end_ms, s.open))
                .collect()
        };
        assert_eq!(stalls(&live, 900.0), [(0.0, 900.0, true)]);
        // The step ends: its stall comes as one, and nothing is open any more.
        live.apply(&Event::Phase {
            request: 0,
            phase: Phase {
                kind: PhaseKind::Cpu,
                start_ms: 500.0,
                ..phase
            },
        })
        .unwrap();
        live.apply(&Event::Stall {
            stall: Stall {
                start_ms: 0.0,
                end_ms: 1500.0,
                request: 0,
                cause: "fetch_external_data, run_model_prediction".into(),
                worker: 0,
            },
        })
        .unwrap();
        live.apply(&began(0, PhaseKind::Cpu, true, 2000.0, None)).unwrap();
        assert_eq!(
            stalls(&live, 2100.0),
            [(2000.0, 2100.0, true), (0.0, 1500.0, false)]
        );
    }

    #[test]
    fn the_code_panel_counts_only_the_requests_not_done_with() {
        use crate::view::code::counts;
        let config = Config {
            variant: Variant::Background,
            requests: 3,
            concurrency: 3,
            ..Config::default()
        };
        let mut live = Trace::new(config);
        let ok = crate::model::Answer::ok(crate::flows::step1::response(
            &crate::flows::step1::ExternalData {
                item_id: 123,
                metadata: "some_fetched_value_async",
            },
            10.0,
        ));
        for r in 0..3 {
            live.apply(&Event::Sent { request: r, t: 0.0 }).unwrap();
            live.apply(&Event::Accepted {
                request: r,
                t: 0.0,
                worker: 0,
            })
            .unwrap();
        }
        live.apply(&began(1, PhaseKind::Io, false, 0.0, Some(500.0)))
            .unwrap();
        // 0 answered with its log done; 2 answered, its log to come.
        for r in [0, 2] {
            live.apply(&Event::Responded {
                request: r,
                t: 5.0,
                answer: ok.clone(),
            })
            .unwrap();
        }
        live.apply(&Event::BackgroundDone { request: 0, t: 6.0 }).unwrap();
        let (all, mine) = (live.positions(7.0), live.live_positions(7.0));
        assert_eq!(mine.len(), 2, "request 0 is done with");
        let v = Variant::Background;
        assert_eq!(counts(v, &all), counts(v, &mine));
    }

    #[test]
    fn the_finished_picture_is_the_live_one_with_the_probe_added() {
        // Feed a trace the events of a modelled run, as a browser run would.
        let config = Config {
            variant: Variant::FullAsync,
            requests: 6,
            concurrency: 3,
            tokens: 2,
            ..Config::default()
        };
        let mut report = crate::simulate(&config).unwrap();
        let mut live = Trace::new(config);
        for q in &report.requests {
            live.apply(&Event::Sent {
                request: q.id,
                t: q.sent_ms,
            })
            .unwrap();
            live.apply(&Event::Accepted {
                request: q.id,
                t: q.accepted_ms,
                worker: 0,
            })
            .unwrap();
            for p in q
                .phases
                .iter()
                .filter(|p| p.kind != PhaseKind::Queued || p.on != Place::Loop || p.start_ms != q.sent_ms)
            {
                live.apply(&Event::Phase {
                    request: q.id,
                    phase: p.clone(),
                })
                .unwrap();
            }
            live.apply(&Event::Responded {
                request: q.id,
                t: q.responded_ms,
                answer: q.answer(),
            })
            .unwrap();
        }
        report.probe_stalls = Some(vec![crate::model::ProbeStall {
            start_ms: 1.0,
            end_ms: 2.0,
            lag_ms: 1.0,
            worker: 0,
        }]);
        let adopted = live.finished_picture(&report);
        let fresh = Picture::from_report(&report);
        let sorted = |p: &Picture| {
            let mut bars: Vec<String> = p.bars.iter().map(|b| format!("{b:?}")).collect();
            bars.sort();
            let mut answers: Vec<String> = p.responses.iter().map(|r| format!("{r:?}")).collect();
            answers.sort();
            (bars, answers, p.probe.clone(), p.end_ms, p.lanes)
        };
        assert_eq!(sorted(&adopted), sorted(&fresh));
        assert!(
            std::ptr::eq(&*adopted, live.closed()),
            "the same picture, not a copy"
        );
    }
}
