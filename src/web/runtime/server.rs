//! The server worker: one uvicorn process with one event loop, running the endpoint
//! code of [`crate::flows`] for real.

use super::hold::{hold, Hold};
use super::pool::Pool;
use super::probe::{self, Probe};
use super::protocol::{from_json, to_json, FromServer, LogTo, Progress, ToServer};
use super::worker::{post_to_parent, take_received_ports};
use super::{cross_origin_isolated, hardware_concurrency, now_abs};
use loopscope::flows::handle_request;
use loopscope::model::stats::{idle_lateness, most_at_once};
use loopscope::model::Event;
use loopscope::model::Raised;
use loopscope::model::{
    Answer, Config, Durations, Fault, Faults, Measurement, Phase, PhaseKind, Place, PredictionRequest,
    Recorder, Source, Work,
};
use loopscope::runtime::{EventLoop, Limiter, Step, Thread};
use loopscope::runtime::{SyncCall, SyncReturn};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

fn fail(message: String) {
    post_to_parent(&to_json(&FromServer::Failed { message }));
}

struct Server {
    config: Config,
    durations: Durations,
    t0_abs: Cell<f64>,
    rec: RefCell<Recorder>,
    limiter: Limiter,
    pool: RefCell<Option<Rc<Pool>>>,
    pool_start_ms: f64,
    probe: RefCell<Option<Probe>>,
    step: RefCell<Option<Step>>,
    completed: Cell<u64>,
    /// Events not yet posted to the page.
    outbox: RefCell<Vec<Event>>,
    /// How `time.sleep` holds a thread in this run.
    hold: Hold,
    /// Injected faults (a test's).
    faults: Faults,
}

impl Server {
    /// Records an event and queues it for the page. An event about a request the run
    /// does not have (an id from a message, checked) fails the run.
    fn emit(&self, event: Event) {
        if let Err(e) = self.rec.borrow_mut().record(&event) {
            return fail(e.to_string());
        }
        self.outbox.borrow_mut().push(event);
    }

    /// Posts the queued events: before the loop blocks, at each response and after
    /// each coroutine step.
    fn flush(&self) {
        let events = self.outbox.take();
        if !events.is_empty() {
            post_to_parent(&to_json(&FromServer::Events { events }));
        }
    }

    fn now(&self) -> f64 {
        now_abs() - self.t0_abs.get()
    }

    /// A pool job's phases began or ended, or it printed: recorded on the run's
    /// timeline and queued for the page.
    fn job_progress(&self, progress: Vec<Progress>) {
        for p in progress {
            self.job_event(p);
        }
    }

    fn job_event(&self, progress: Progress) {
        let t0 = self.t0_abs.get();
        self.emit(match progress {
            Progress::Began {
                request,
                phase,
                start_abs,
            } => Event::Began {
                request,
                kind: phase,
                on: Place::Pool,
                blocking: true,
                t: start_abs - t0,
                due: None,
            },
            Progress::Ended { request, mut phase } => {
                phase.start_ms -= t0;
                phase.end_ms -= t0;
                Event::Phase { request, phase }
            }
            Progress::Print { request, t_abs, text } => Event::Print {
                request,
                t: t_abs - t0,
                text,
            },
        });
    }

    fn accept(self: &Rc<Self>, id: u64, sent_abs: f64) {
        let accepted = self.now();
        if id >= self.config.requests {
            return fail(format!(
                "the page sent request {id}, but the run has {} requests",
                self.config.requests
            ));
        }
        // The page told its observer it sent it; the report records it here.
        let sent = Event::Sent {
            request: id,
            t: sent_abs - self.t0_abs.get(),
        };
        if let Err(e) = self.rec.borrow_mut().record(&sent) {
            return fail(e.to_string());
        }
        self.emit(Event::Accepted {
            request: id,
            t: accepted,
            worker: 0,
        });
        let handle = Handle {
            server: self.clone(),
            request: id,
            fault: Cell::new(self.faults.of(id)),
        };
        let variant = self.config.variant;
        let server = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let body = PredictionRequest::for_index(id);
            Tracked {
                server: server.clone(),
                request: id,
                inner: Box::pin(async move { handle_request(&handle, variant, body).await }),
            }
            .await;
            server.completed.set(server.completed.get() + 1);
            if server.completed.get() == server.config.requests {
                // Let the probe see the end of a stall the last step caused: its timer
                // is overdue, so it fires before this new one.
                gloo_timers::future::TimeoutFuture::new(probe::PERIOD_MS).await;
                server.finish();
            }
        });
    }

    fn finish(&self) {
        self.flush();
        let t0 = self.t0_abs.get();
        let (probe_stalls, probe_lag) = self
            .probe
            .borrow_mut()
            .take()
            .map(|p| p.finish(t0))
            .unwrap_or_default();
        // The pool's workers belong to the page, which terminates them with this one.
        let pool_workers = self.pool.borrow().as_ref().map_or(0, |p| p.workers()) as u64;
        let rec = self.rec.replace(Recorder::new(self.config.clone()));
        let mut report = match rec.finish(Source::Measured) {
            Ok(r) => r,
            Err(e) => return fail(e.to_string()),
        };
        report.stats.set_probe(&probe_stalls);
        let mut warnings = Vec::new();
        let unexplained: f64 = probe_stalls
            .iter()
            .filter(|p| {
                !report
                    .loop_stalls
                    .iter()
                    .any(|s| s.start_ms < p.end_ms && p.start_ms < s.end_ms)
            })
            .map(|p| p.end_ms - p.start_ms)
            .sum();
        if unexplained > 50.0 {
            warnings.push(format!(
                "the heartbeat ran late for {unexplained:.0} ms while the server was not blocking: \
                 timers were throttled (hidden tab?) or the machine was busy, so stalls may be overstated"
            ));
        }
        let cores = hardware_concurrency();
        let computing = most_at_once(report.requests.iter().flat_map(|r| {
            r.phases
                .iter()
                .filter(|p| p.kind == PhaseKind::Cpu && p.blocking)
                .map(|p| (p.start_ms, p.end_ms))
        }));
        if self.config.work == Work::Compute && computing > cores as usize {
            warnings.push(format!(
                "compute work: up to {computing} threads computed at once on {cores} cores, so they shared \
                 cores; the model assumes a core each (work that releases the GIL, like NumPy)"
            ));
        }
        report.probe_stalls = Some(probe_stalls);
        report.faults = self.faults.clone();
        let period = f64::from(probe::PERIOD_MS);
        let timer_lateness_ms = idle_lateness(&probe_lag, period, &report.loop_stalls);
        report.measurement = Some(Measurement {
            probe_lag,
            probe_period_ms: period,
            probe_threshold_ms: probe::THRESHOLD_MS,
            timer_lateness_ms,
            cross_origin_isolated: cross_origin_isolated(),
            loop_block_method: self.hold.method().to_string(),
            compute_rounds_per_ms: match self.hold {
                Hold::Compute { rounds_per_ms } => Some(rounds_per_ms),
                Hold::Sleep => None,
            },
            hardware_concurrency: cores,
            pool_workers,
            pool_start_ms: self.pool_start_ms,
            rehearsal_ms: None,
            warnings,
        });
        post_to_parent(&to_json(&FromServer::Done {
            report: Box::new(report),
        }));
    }
}

/// Wraps a request's coroutine so each poll is one step: a step that blocked the loop
/// is a ground-truth stall, from its first block's start to its last block's end.
struct Tracked<F> {
    server: Rc<Server>,
    request: u64,
    inner: Pin<Box<F>>,
}

impl<F: Future<Output = ()>> Future for Tracked<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.server.step.borrow_mut() = Some(Step::new(self.request));
        let out = self.inner.as_mut().poll(cx);
        let step = self.server.step.borrow_mut().take();
        if let Some(stall) = step.and_then(Step::finish) {
            self.server.emit(Event::Stall { stall });
        }
        self.server.flush();
        out
    }
}

/// A request's view of the server while on its event loop.
struct Handle {
    server: Rc<Server>,
    request: u64,
    /// How this request's first threadpool job fails, until it has run.
    fault: Cell<Option<Fault>>,
}

impl Handle {
    fn emit(&self, event: Event) {
        self.server.emit(event);
    }

    fn began(&self, kind: PhaseKind, on: Place, blocking: bool, t: f64) {
        self.began_until(kind, on, blocking, t, None);
    }

    fn began_until(&self, kind: PhaseKind, on: Place, blocking: bool, t: f64, due: Option<f64>) {
        let request = self.request;
        self.emit(Event::Began {
            request,
            kind,
            on,
            blocking,
            t,
            due,
        });
    }

    fn waited(&self, on: Place, from: f64, to: f64) {
        let request = self.request;
        self.emit(Event::Waited {
            request,
            on,
            from,
            to,
        });
    }

    fn phase(&self, phase: Phase) {
        let request = self.request;
        self.emit(Event::Phase { request, phase });
    }
}

impl Thread for Handle {
    fn now(&self) -> f64 {
        self.server.now()
    }
    fn print(&self, text: &str) {
        self.emit(Event::Print {
            request: self.request,
            t: self.now(),
            text: text.to_string(),
        });
    }
    fn block(&self, kind: PhaseKind, function: &'static str, ms: f64) {
        let start_ms = self.now();
        self.began(kind, Place::Loop, true, start_ms);
        self.server.flush(); // the page sees the stall begin, then nothing until it ends
        hold(ms, self.server.hold.for_kind(kind));
        let end_ms = self.now();
        if let Some(step) = self.server.step.borrow_mut().as_mut() {
            step.blocked(function, start_ms, end_ms);
        }
        self.phase(Phase {
            kind,
            start_ms,
            end_ms,
            on: Place::Loop,
            blocking: true,
        });
    }
    fn durations(&self) -> Durations {
        self.server.durations
    }
}

impl EventLoop for Handle {
    fn sleep(&self, kind: PhaseKind, ms: f64) -> impl Future<Output = ()> {
        let start_ms = self.now();
        self.began_until(kind, Place::Loop, false, start_ms, Some(start_ms + ms));
        async move {
            gloo_timers::future::TimeoutFuture::new(ms.round() as u32).await;
            let resumed = self.now();
            let due = start_ms + ms;
            self.phase(Phase {
                kind,
                start_ms,
                end_ms: due.min(resumed),
                on: Place::Loop,
                blocking: false,
            });
            self.waited(Place::Loop, due, resumed);
        }
    }

    fn run_in_threadpool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>> {
        let asked = self.now();
        self.began(PhaseKind::Queued, Place::Pool, false, asked);
        async move {
            let token = self.server.limiter.acquire().await;
            let granted = self.now();
            self.waited(Place::Pool, asked, granted);
            match call.first_kind() {
                Some(kind) => self.began(kind, Place::Pool, true, granted),
                // Instantaneous on its thread: what is left is waiting for the loop.
                None => self.began(PhaseKind::Queued, Place::Loop, false, granted),
            }
            let pool = self.server.pool.borrow().clone();
            let fault = self.fault.take();
            let job = match pool {
                Some(pool) => {
                    pool.run(self.request, call, fault, self.server.t0_abs.get())
                        .await
                }
                None => Err("the pool was stopped before the run ended".to_string()),
            };
            let done = match job {
                Ok(done) => done,
                Err(message) => {
                    fail(message);
                    // The page terminates this worker on `failed`; never resume.
                    return std::future::pending().await;
                }
            };
            self.server.job_progress(done.progress);
            if let Some(entry) = done.logged {
                self.emit(Event::Logged { entry });
            }
            let t0 = self.server.t0_abs.get();
            self.waited(Place::Loop, done.end_abs - t0, self.now());
            drop(token);
            done.result
        }
    }

    fn respond(&self, answer: &Answer) {
        self.emit(Event::Responded {
            request: self.request,
            t: self.now(),
            answer: answer.clone(),
        });
        self.server.flush(); // the client is waiting
    }

    fn background_done(&self) {
        self.emit(Event::BackgroundDone {
            request: self.request,
            t: self.now(),
        });
    }

    async fn run_in_process_pool(&self, _call: SyncCall) -> Result<SyncReturn, Raised> {
        fail(
            "a browser run of process_pool is not built yet: the model predicts it (loopscope.simulate)"
                .into(),
        );
        std::future::pending().await
    }

    fn delay(&self, _call: SyncCall) {
        fail(
            "a browser run of task_queue is not built yet: the model predicts it (loopscope.simulate)".into(),
        );
    }
}

/// What the server knows between `Setup` and `Pool`.
struct Pending {
    config: Config,
    faults: Faults,
    log: Option<LogTo>,
    hold: Hold,
    asked_at: f64,
}

/// The server worker's message handler.
pub fn start() -> Box<dyn FnMut(String)> {
    let server: Rc<RefCell<Option<Rc<Server>>>> = Rc::default();
    let pending: Rc<RefCell<Option<Pending>>> = Rc::default();
    Box::new(move |text: String| match from_json::<ToServer>(&text) {
        Ok(ToServer::Setup { config, faults, log }) => {
            // Calibrated here, alone: the page starts the pool workers only after this.
            let hold = Hold::for_work(config.work);
            let workers = config.pool_threads();
            *pending.borrow_mut() = Some(Pending {
                config,
                faults,
                log,
                hold,
                asked_at: now_abs(),
            });
            post_to_parent(&to_json(&FromServer::WantPool { workers }));
        }
        Ok(ToServer::Pool) => {
            let Some(Pending {
                config,
                faults,
                log,
                hold,
                asked_at,
            }) = pending.borrow_mut().take()
            else {
                return fail("pool before setup".into());
            };
            let ports = take_received_ports();
            let workers = config.pool_threads();
            if ports.len() as u64 != workers {
                return fail(format!(
                    "the page sent {} pool ports for {workers} workers",
                    ports.len()
                ));
            }
            let slot = server.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let durations = config.durations();
                // The server exists once the pool is up; progress waits for it.
                let progress_to: Rc<RefCell<Weak<Server>>> = Rc::default();
                let sink = progress_to.clone();
                let progress = Box::new(move |p: Vec<Progress>| {
                    if let Some(server) = sink.borrow().upgrade() {
                        server.job_progress(p);
                        server.flush(); // a phase began: the page draws it now
                    }
                });
                let pool = match Pool::start(ports, durations, hold, log, progress).await {
                    Ok(p) => p,
                    Err(e) => return fail(e),
                };
                let pool_start_ms = now_abs() - asked_at;
                let probe = Probe::start(|samples| post_to_parent(&to_json(&FromServer::Lag { samples })));
                let server = Rc::new(Server {
                    rec: RefCell::new(Recorder::new(config.clone())),
                    limiter: Limiter::new(config.tokens),
                    durations,
                    t0_abs: Cell::new(now_abs()),
                    pool: RefCell::new(Some(Rc::new(pool))),
                    pool_start_ms,
                    probe: RefCell::new(Some(probe)),
                    step: RefCell::default(),
                    completed: Cell::new(0),
                    outbox: RefCell::default(),
                    hold,
                    config,
                    faults,
                });
                *progress_to.borrow_mut() = Rc::downgrade(&server);
                *slot.borrow_mut() = Some(server);
                post_to_parent(&to_json(&FromServer::Ready {
                    pool_workers: workers,
                    pool_start_ms,
                }));
            });
        }
        Ok(ToServer::Go { t0_abs }) => match server.borrow().as_ref() {
            Some(s) => s.t0_abs.set(t0_abs),
            None => fail("go before setup".into()),
        },
        Ok(ToServer::Request { id, sent_abs }) => match server.borrow().as_ref() {
            Some(s) => s.accept(id, sent_abs),
            None => fail("request before setup".into()),
        },
        Ok(ToServer::Replaced { worker, message }) => {
            let pool = server.borrow().as_ref().and_then(|s| s.pool.borrow().clone());
            let replaced = match (pool, take_received_ports().pop()) {
                (Some(pool), Some(port)) => pool.replace(worker, port, &message),
                (None, _) => Err("a pool worker was replaced before the pool started".into()),
                (_, None) => Err("a pool worker was replaced without a port to its successor".into()),
            };
            if let Err(e) = replaced {
                fail(e);
            }
        }
        Err(e) => fail(e),
    })
}
