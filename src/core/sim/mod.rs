//! The virtual-time runtime: a deterministic, single-threaded executor on a virtual
//! clock that runs the real endpoint code ([`crate::flows`]) and predicts exactly what
//! a FastAPI server would do.
//!
//! How it keeps time, like asyncio's loop:
//! - Each loop iteration moves the events that are due (timers, finished pool jobs,
//!   arriving requests) onto the ready queue, then runs the tasks that were ready at
//!   the start of the iteration, in order.
//! - Polling a task takes no virtual time, except `block` (a `time.sleep` on the loop),
//!   which moves the clock on. Everything that came due meanwhile fires late: that
//!   lateness is the stall. No request is accepted during a block.
//! - A threadpool job, once it has a token, runs on its own virtual thread starting
//!   now; its end is an event that resumes the awaiting task when the loop is free.
//!   The token is released when that task resumes (anyio's `async with limiter:`
//!   spans the whole `run_sync`).
//! - Clients follow `ab`: `concurrency` requests go out at 0; each response sends the
//!   next request, until `requests` have been sent.

use crate::flows::handle_request;
use crate::model::Event;
use crate::model::Raised;
use crate::model::{
    Answer, Config, ConfigError, Durations, Fault, Faults, Phase, PhaseKind, Place, PredictionRequest,
    Recorder, Report, Source,
};
use crate::runtime::{EventLoop, Limiter, Step, Thread};
use crate::runtime::{SyncCall, SyncReturn};
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Predicts the run `config` describes. Fails only on an invalid config.
pub fn simulate(config: &Config) -> Result<Report, ConfigError> {
    simulate_with(config, &Faults::default())
}

/// [`simulate`] with `faults` injected: each failing job raises at its first line.
pub fn simulate_with(config: &Config, faults: &Faults) -> Result<Report, ConfigError> {
    run(config, faults, None).map(|(report, _)| report)
}

/// [`simulate_with`], with each request's own step durations (`durations[id]`) instead
/// of the config's: the model of a run whose steps took what they took, to hold its
/// scheduling (who waited for whom) against a measurement whose steps varied.
pub fn simulate_with_durations(
    config: &Config,
    faults: &Faults,
    durations: &[Durations],
) -> Result<Report, ConfigError> {
    if durations.len() as u64 != config.requests {
        return Err(ConfigError::new(
            "durations",
            format!(
                "{} requests need as many step durations, got {}",
                config.requests,
                durations.len()
            ),
        ));
    }
    run(config, faults, Some(durations)).map(|(report, _)| report)
}

/// [`simulate`], and the most threadpool tokens held at once during the run (a token
/// is held from its grant until its task resumes on the loop, as with anyio's
/// `async with limiter`), for tests of the limiter's bound.
pub fn simulate_counting_tokens(config: &Config) -> Result<(Report, u64), ConfigError> {
    run(config, &Faults::default(), None)
}

fn run(
    config: &Config,
    faults: &Faults,
    durations: Option<&[Durations]>,
) -> Result<(Report, u64), ConfigError> {
    config.validate()?;
    if let Some(e) = faults.problems(config).into_iter().next() {
        return Err(e);
    }
    let durations = durations.map_or_else(
        || vec![config.durations(); config.requests as usize],
        <[_]>::to_vec,
    );
    let (mut report, peak) = Sim::new(config.clone(), faults.clone(), durations).run();
    report.faults = faults.clone();
    Ok((report, peak))
}

/// A one-shot flag a task can await; an event sets it.
#[derive(Default)]
struct Signal {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    fn fire(&self) {
        self.fired.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

struct Wait(Rc<Signal>);

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.fired.get() {
            Poll::Ready(())
        } else {
            *self.0.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

enum Action {
    Fire(Rc<Signal>),
    Arrive(u64),
}

/// Something due on the virtual clock.
struct Due {
    t: f64,
    seq: u64,
    action: Action,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Reversed, so the max-heap pops the earliest (then first scheduled) event.
    fn cmp(&self, other: &Self) -> Ordering {
        other.t.total_cmp(&self.t).then(other.seq.cmp(&self.seq))
    }
}

/// Everything the handlers share, behind one `RefCell`; never borrowed across a poll.
struct World {
    now: f64,
    seq: u64,
    events: BinaryHeap<Due>,
    rec: Recorder,
    step: Option<Step>,
    next_request: u64,
    total_requests: u64,
}

impl World {
    /// Records what happened; the virtual runtime's own ids are always valid.
    fn emit(&mut self, event: Event) {
        self.rec
            .record(&event)
            .expect("the virtual runtime's request ids are its own");
    }

    fn schedule(&mut self, t: f64, action: Action) {
        self.seq += 1;
        self.events.push(Due {
            t,
            seq: self.seq,
            action,
        });
    }

    /// Request `id` leaves its client at time `t`.
    fn send(&mut self, t: f64) {
        let id = self.next_request;
        self.next_request += 1;
        self.emit(Event::Sent { request: id, t });
        self.schedule(t, Action::Arrive(id));
    }

    fn timer(&mut self, t: f64) -> Wait {
        let signal = Rc::new(Signal::default());
        self.schedule(t, Action::Fire(signal.clone()));
        Wait(signal)
    }
}

/// A request's view of the runtime while on the event loop.
struct LoopHandle {
    world: Rc<RefCell<World>>,
    limiter: Limiter,
    durations: Durations,
    request: u64,
    /// How this request's first threadpool job fails, until it has run.
    fault: Cell<Option<Fault>>,
}

/// A pool worker thread running one job, with its own clock.
struct PoolThread<'a> {
    world: &'a RefCell<World>,
    durations: Durations,
    request: u64,
    clock: Cell<f64>,
}

impl Thread for PoolThread<'_> {
    fn now(&self) -> f64 {
        self.clock.get()
    }
    fn print(&self, text: &str) {
        self.world.borrow_mut().emit(Event::Print {
            request: self.request,
            t: self.clock.get(),
            text: text.to_string(),
        });
    }
    fn block(&self, kind: PhaseKind, _function: &'static str, ms: f64) {
        let start = self.clock.get();
        self.clock.set(start + ms);
        self.world.borrow_mut().emit(Event::Phase {
            request: self.request,
            phase: Phase {
                kind,
                start_ms: start,
                end_ms: start + ms,
                on: Place::Pool,
                blocking: true,
            },
        });
    }
    fn durations(&self) -> Durations {
        self.durations
    }
}

impl Thread for LoopHandle {
    fn now(&self) -> f64 {
        self.world.borrow().now
    }
    fn print(&self, text: &str) {
        let mut w = self.world.borrow_mut();
        let t = w.now;
        w.emit(Event::Print {
            request: self.request,
            t,
            text: text.to_string(),
        });
    }
    fn block(&self, kind: PhaseKind, function: &'static str, ms: f64) {
        let mut w = self.world.borrow_mut();
        let start = w.now;
        w.now += ms;
        let step = w.step.as_mut().expect("block() runs inside a task step");
        debug_assert_eq!(step.request(), self.request);
        step.blocked(function, start, start + ms);
        w.emit(Event::Phase {
            request: self.request,
            phase: Phase {
                kind,
                start_ms: start,
                end_ms: start + ms,
                on: Place::Loop,
                blocking: true,
            },
        });
    }
    fn durations(&self) -> Durations {
        self.durations
    }
}

impl EventLoop for LoopHandle {
    fn sleep(&self, kind: PhaseKind, ms: f64) -> impl Future<Output = ()> {
        let (start, fired) = {
            let mut w = self.world.borrow_mut();
            let start = w.now;
            (start, w.timer(start + ms))
        };
        async move {
            fired.await;
            let mut w = self.world.borrow_mut();
            let resumed = w.now;
            let request = self.request;
            w.emit(Event::Phase {
                request,
                phase: Phase {
                    kind,
                    start_ms: start,
                    end_ms: start + ms,
                    on: Place::Loop,
                    blocking: false,
                },
            });
            w.emit(Event::Waited {
                request,
                on: Place::Loop,
                from: start + ms,
                to: resumed,
            });
        }
    }

    fn run_in_threadpool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>> {
        let asked = self.now();
        async move {
            let token = self.limiter.acquire().await;
            let granted = self.now();
            self.world.borrow_mut().emit(Event::Waited {
                request: self.request,
                on: Place::Pool,
                from: asked,
                to: granted,
            });
            let (result, done) = match self.fault.take() {
                // It raises at its first line, having taken no time.
                Some(fault) => (Err(fault.raised()), granted),
                None => {
                    let thread = PoolThread {
                        world: &self.world,
                        durations: self.durations,
                        request: self.request,
                        clock: Cell::new(granted),
                    };
                    let returned = call.call(&thread);
                    (Ok(returned), thread.clock.get())
                }
            };
            let finished = self.world.borrow_mut().timer(done);
            finished.await;
            let resumed = self.now();
            self.world.borrow_mut().emit(Event::Waited {
                request: self.request,
                on: Place::Loop,
                from: done,
                to: resumed,
            });
            drop(token);
            result
        }
    }

    fn respond(&self, answer: &Answer) {
        let mut w = self.world.borrow_mut();
        let now = w.now;
        w.emit(Event::Responded {
            request: self.request,
            t: now,
            answer: answer.clone(),
        });
        if w.next_request < w.total_requests {
            w.send(now); // this client's next request
        }
    }

    fn background_done(&self) {
        let mut w = self.world.borrow_mut();
        let t = w.now;
        w.emit(Event::BackgroundDone {
            request: self.request,
            t,
        });
    }
}

/// Wakes a task by putting its id on the ready queue.
struct TaskWaker {
    task: usize,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.lock().expect("ready queue").push_back(self.task);
    }
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct Sim {
    config: Config,
    faults: Faults,
    /// Each request's step durations.
    durations: Vec<Durations>,
    world: Rc<RefCell<World>>,
    limiter: Limiter,
    /// Each request's task, and whether it has been polled yet.
    tasks: Vec<Option<(u64, Task, bool)>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Sim {
    fn new(config: Config, faults: Faults, durations: Vec<Durations>) -> Sim {
        let world = World {
            now: 0.0,
            seq: 0,
            events: BinaryHeap::new(),
            rec: Recorder::new(config.clone()),
            step: None,
            next_request: 0,
            total_requests: config.requests,
        };
        Sim {
            limiter: Limiter::new(config.tokens),
            world: Rc::new(RefCell::new(world)),
            tasks: Vec::new(),
            ready: Arc::default(),
            config,
            faults,
            durations,
        }
    }

    fn spawn(&mut self, request: u64) {
        let handle = LoopHandle {
            world: self.world.clone(),
            limiter: self.limiter.clone(),
            durations: self.durations[request as usize],
            request,
            fault: Cell::new(self.faults.of(request)),
        };
        let variant = self.config.variant;
        let body = PredictionRequest::for_index(request);
        let task: Task = Box::pin(async move { handle_request(&handle, variant, body).await });
        self.tasks.push(Some((request, task, false)));
        self.ready
            .lock()
            .expect("ready queue")
            .push_back(self.tasks.len() - 1);
    }

    /// Fires every event due by now; returns the requests that arrived.
    fn fire_due(&mut self) -> Vec<u64> {
        let mut arrived = Vec::new();
        loop {
            let action = {
                let mut w = self.world.borrow_mut();
                match w.events.peek() {
                    Some(e) if e.t <= w.now => w.events.pop().map(|e| e.action),
                    _ => None,
                }
            };
            match action {
                Some(Action::Fire(signal)) => signal.fire(),
                Some(Action::Arrive(id)) => arrived.push(id),
                None => return arrived,
            }
        }
    }

    fn poll_task(&mut self, index: usize) {
        let Some((request, task, polled)) = self.tasks[index].as_mut() else {
            return; // finished, woken again
        };
        let request = *request;
        let first_poll = !std::mem::replace(polled, true);
        {
            let mut w = self.world.borrow_mut();
            if first_poll {
                // Accepted with others at once, it waited for the loop to run it.
                let accepted = w.rec.accepted_at(request).expect("a request of this run");
                let to = w.now;
                w.emit(Event::Waited {
                    request,
                    on: Place::Loop,
                    from: accepted,
                    to,
                });
            }
            w.step = Some(Step::new(request));
        }
        let waker = Waker::from(Arc::new(TaskWaker {
            task: index,
            ready: self.ready.clone(),
        }));
        let done = task.as_mut().poll(&mut Context::from_waker(&waker)).is_ready();
        if done {
            self.tasks[index] = None;
        }
        let mut w = self.world.borrow_mut();
        let step = w.step.take().expect("step survives the poll");
        if let Some(stall) = step.finish() {
            w.emit(Event::Stall { stall });
        }
    }

    fn run(mut self) -> (Report, u64) {
        {
            let mut w = self.world.borrow_mut();
            for _ in 0..self.config.concurrency {
                w.send(0.0);
            }
        }
        loop {
            for request in self.fire_due() {
                let mut w = self.world.borrow_mut();
                let t = w.now;
                w.emit(Event::Accepted { request, t });
                drop(w);
                self.spawn(request);
            }
            let batch: Vec<usize> = self.ready.lock().expect("ready queue").drain(..).collect();
            if batch.is_empty() {
                let mut w = self.world.borrow_mut();
                match w.events.peek().map(|e| e.t) {
                    Some(t) => w.now = w.now.max(t),
                    None => break,
                }
                continue;
            }
            for index in batch {
                self.poll_task(index);
            }
        }
        assert!(
            self.tasks.iter().all(Option::is_none),
            "every request ran to completion"
        );
        let world = Rc::try_unwrap(self.world)
            .ok()
            .expect("no handle outlives the run")
            .into_inner();
        let report = world
            .rec
            .finish(Source::Predicted)
            .expect("the virtual runtime answers every request");
        (report, self.limiter.peak())
    }
}
