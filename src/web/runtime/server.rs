//! A server worker: one uvicorn process, its event loop running the endpoint code of
//! [`crate::flows`] for real.
//!
//! The loop is asyncio's, not the browser's: coroutines run on this worker's own ready
//! queue, by the same rules as the model's ([`loopscope::runtime::aio`]). Each
//! iteration polls (waits without blocking the worker until a request arrives, a job's
//! result comes back or the first timer is due), queues a read per request that
//! arrived, then the timers due, then runs exactly the callbacks ready at that point;
//! what they schedule runs next iteration. The iteration runs without yielding to the
//! browser, so a `time.sleep` on the loop holds everything, messages included, as it
//! holds uvicorn. With `python_cpu` work the loop takes its process's GIL ([`Gil`]) for
//! each iteration.

use super::accept::AcceptQueue;
use super::gil::Gil;
use super::hold::{hold, Hold};
use super::now_abs;
use super::pool::{self, Pool};
use super::probe::{self, Probe};
use super::protocol::{from_json, to_json, Enqueue, FromServer, LogTo, Progress, ServerPart, ToServer};
use super::timer::resolve_after;
use super::worker::{post_to_parent, shared_field, take_received_ports, Peer};
use loopscope::flows::handle_request;
use loopscope::model::Event;
use loopscope::model::Raised;
use loopscope::model::{
    Answer, Config, Durations, Fault, Faults, Handoff, Phase, PhaseKind, Place, PredictionRequest, Work,
};
use loopscope::runtime::aio::{self, anyio_acquire, push, Callback, Ready, Signals, Timer, Wait};
use loopscope::runtime::{EventLoop, Limiter, Step, Thread};
use loopscope::runtime::{SyncCall, SyncReturn};
use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::Context;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn fail(message: String) {
    post_to_parent(&to_json(&FromServer::Failed { message }));
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// A task: its request, its coroutine, and, until it has run a step, when its request
/// was read.
type TaskSlot = (u64, Task, Option<f64>);

/// The event loop's own state: its ready queue, timers, tasks and the requests that
/// arrived since its last poll.
#[derive(Default)]
struct Loop {
    ready: Ready,
    /// Due at absolute times (`now_abs`).
    timers: RefCell<BinaryHeap<Timer>>,
    seq: Cell<u64>,
    signals: RefCell<Signals>,
    /// Each task, with its request and, until it has run a step, when its request was
    /// read (its first step waits for the loop since).
    tasks: RefCell<Vec<Option<TaskSlot>>>,
    free_tasks: RefCell<Vec<usize>>,
    /// Requests received (as messages) that no poll has read yet.
    inbox: RefCell<VecDeque<u64>>,
    /// Resolves the poll's wait, when the loop is idle.
    wake: RefCell<Option<js_sys::Function>>,
}

impl Loop {
    /// Something is ready: an idle loop polls now.
    fn wake(&self) {
        if let Some(resolve) = self.wake.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }

    /// `call_soon_threadsafe(callback)`, from a message handler (a job's result).
    fn call_soon_threadsafe(&self, callback: Callback) {
        push(&self.ready, callback);
        self.wake();
    }
}

/// Yields to the browser once, so that messages already queued are delivered: a poll
/// with timeout 0. A `MessageChannel` round trip, which no browser clamps.
async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let Ok(channel) = web_sys::MessageChannel::new() else {
            let _ = resolve.call0(&JsValue::NULL);
            return;
        };
        let port = channel.port1();
        let on = Closure::once_into_js(move |_: JsValue| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        port.set_onmessage(Some(on.unchecked_ref()));
        let _ = channel.port2().post_message(&JsValue::NULL);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

struct Server {
    /// Which server worker this is (uvicorn --workers).
    worker: u64,
    config: Config,
    durations: Durations,
    t0_abs: Cell<f64>,
    limiter: Limiter,
    threads: RefCell<Option<Rc<Pool>>>,
    processes: RefCell<Option<Rc<Pool>>>,
    /// task_queue: the broker's end.
    broker: Option<Peer>,
    /// python_cpu: this process's GIL.
    gil: Option<Gil>,
    /// Several server workers: the accept queue they share (one worker hears its
    /// requests as messages instead).
    accept: Option<AcceptQueue>,
    /// The page said every request is answered: finish and report.
    finish_asked: Cell<bool>,
    pool_start_ms: f64,
    probe: RefCell<Option<Probe>>,
    /// Whether the loop did FastAPI's own work last, rather than wait in its poll or
    /// block (`Config::overhead_cost`).
    warm: Cell<bool>,
    step: RefCell<Option<Step>>,
    /// Events not yet posted to the page.
    outbox: RefCell<Vec<Event>>,
    /// The longest its loop was held since the probe last looked, in ms, by one step's
    /// blocking calls and FastAPI's work, or a wait for the GIL: the probe tells the
    /// loop's stalls from the browser's own gaps by it (and asyncio's debug mode, too,
    /// judges each callback alone). The runtime's own bookkeeping, a garbage collection
    /// or the OS running another thread in the middle of a step hold nothing.
    longest: Rc<Cell<f64>>,
    /// What the step running has held the loop for so far, in ms.
    step_held: Cell<f64>,
    /// How `time.sleep` holds a thread in this run.
    hold: Hold,
    /// Injected faults (a test's).
    faults: Faults,
    aio: Loop,
    /// The signal each job sent to a pool fires, by pool and job.
    pending_jobs: RefCell<HashMap<(Which, u64), usize>>,
}

/// Which of a server's pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Which {
    Threads,
    Processes,
}

impl Server {
    /// Queues an event for the page (the page records every worker's events into one
    /// report).
    fn emit(&self, event: Event) {
        self.outbox.borrow_mut().push(event);
    }

    /// Posts the queued events: before the loop blocks, at each response, after each
    /// coroutine step and each iteration.
    fn flush(&self) {
        let events = self.outbox.take();
        if !events.is_empty() {
            post_to_parent(&to_json(&FromServer::Events { events }));
        }
    }

    /// The loop was held for `ms` at a stretch: the probe hears of the longest.
    fn held(&self, ms: f64) {
        self.longest.set(self.longest.get().max(ms));
    }

    fn now(&self) -> f64 {
        now_abs() - self.t0_abs.get()
    }

    /// A pool job's phases began or ended, or it printed: on the run's timeline, queued
    /// for the page.
    fn job_progress(&self, progress: Vec<Progress>) {
        let t0 = self.t0_abs.get();
        for p in progress {
            self.emit(p.into_event(t0));
        }
    }

    /// A request message arrived: the next poll reads it.
    fn deliver(&self, id: u64) {
        if id >= self.config.requests {
            return fail(format!(
                "the page sent request {id}, but the run has {} requests",
                self.config.requests
            ));
        }
        self.aio.inbox.borrow_mut().push_back(id);
        self.aio.wake();
    }

    /// Tasks not finished.
    fn live_tasks(&self) -> usize {
        self.aio.tasks.borrow().len() - self.aio.free_tasks.borrow().len()
    }

    /// `data_received`: the request is read now and its task created; its first step
    /// runs next iteration.
    fn read(self: &Rc<Self>, id: u64) {
        let accepted = self.now();
        self.emit(Event::Accepted {
            request: id,
            t: accepted,
            worker: self.worker,
        });
        let handle = Handle {
            server: self.clone(),
            request: id,
            fault: Cell::new(self.faults.of(id)),
        };
        let variant = self.config.variant;
        let task: Task = Box::pin(async move {
            let body = PredictionRequest::for_index(id);
            handle_request(&handle, variant, body).await;
        });
        let index = match self.aio.free_tasks.borrow_mut().pop() {
            Some(i) => {
                self.aio.tasks.borrow_mut()[i] = Some((id, task, Some(accepted)));
                i
            }
            None => {
                let mut tasks = self.aio.tasks.borrow_mut();
                tasks.push(Some((id, task, Some(accepted))));
                tasks.len() - 1
            }
        };
        push(&self.aio.ready, Callback::Step(index));
    }

    /// One step of task `index`: a step that blocked the loop is a ground-truth stall.
    fn step(self: &Rc<Self>, index: usize) {
        let taken = self.aio.tasks.borrow_mut().get_mut(index).and_then(Option::take);
        let Some((request, mut task, first)) = taken else {
            return; // finished, woken again
        };
        // What this step holds the loop for: its blocking calls and FastAPI's work.
        self.step_held.set(0.0);
        if let Some(accepted) = first {
            // Read with others, it waited for the loop to run its first step, as the
            // model's does.
            let to = self.now();
            self.emit(Event::Waited {
                request,
                on: Place::Loop,
                from: accepted,
                to,
            });
            // FastAPI reads, routes and validates the request.
            self.overhead(self.config.overhead_at_first_step());
        }
        *self.step.borrow_mut() = Some(Step::new(request));
        let waker = aio::waker(index, &self.aio.ready);
        let done = task.as_mut().poll(&mut Context::from_waker(&waker)).is_ready();
        self.held(self.step_held.get());
        if done {
            self.aio.free_tasks.borrow_mut().push(index);
        } else {
            self.aio.tasks.borrow_mut()[index] = Some((request, task, None));
        }
        if let Some(stall) = self.step.borrow_mut().take().and_then(Step::finish) {
            self.emit(Event::Stall { stall });
        }
    }

    /// The loop: poll, read, timers, run the snapshot; until the page says every
    /// request is answered and every task of this worker is done.
    async fn run(self: Rc<Self>) {
        loop {
            let connections = self.accept.as_ref().is_some_and(AcceptQueue::pending);
            let ready = aio::len(&self.aio.ready) > 0 || !self.aio.inbox.borrow().is_empty() || connections;
            if !ready && self.finish_asked.get() && self.live_tasks() == 0 {
                break;
            }
            // The poll: at once if something is ready (a timer already due included),
            // else until a request, a result or the first timer. Either way the browser
            // first delivers the messages already queued (requests, results): a poll
            // sees every socket that is readable, and requests are read before timers.
            let due = self.aio.timers.borrow().peek().map(|t| t.when);
            if ready || due.is_some_and(|d| d <= now_abs()) {
                yield_to_browser().await;
            } else {
                self.poll(due).await;
                self.warm.set(false); // it waited in its poll
            }
            self.iterate();
        }
        // Let the probe see the end of a stall the last step caused: its wait is
        // overdue, so its turn comes before this one (a period of either heartbeat).
        gloo_timers::future::TimeoutFuture::new(4).await;
        self.finish();
    }

    /// Waits until something is ready (a request, a result, a connection) or the first
    /// timer is due at `due_abs`, as `selector.select(timeout)` does: epoll takes its
    /// timeout in whole milliseconds, rounded up (selectors.py, `EpollSelector.select`),
    /// so the loop wakes up to a millisecond after the timer is due and fires with it
    /// the timers due by then (two requests read in one iteration set their timers a few
    /// µs apart: real asyncio fires them together, and so does this loop). A long timed
    /// wait ends up to a few ms late (Chromium's `Atomics.waitAsync` and `setTimeout`
    /// alike, measured: BENCHMARKS.md), a short one within a millisecond: so a long wait
    /// stops 2 ms short and waits again for the rest, without an iteration in between
    /// (the loop has nothing to do yet).
    async fn poll(&self, due_abs: Option<f64>) {
        let due_abs = due_abs.map(|due| {
            let now = now_abs();
            now + (due - now).max(0.0).ceil()
        });
        loop {
            let remaining = due_abs.map(|d| d - now_abs());
            if remaining.is_some_and(|ms| ms <= 0.0) {
                return;
            }
            let promise = js_sys::Promise::new(&mut |resolve, _| {
                if let Some(ms) = remaining {
                    resolve_after(if ms > 3.0 { ms - 2.0 } else { ms }, &resolve);
                }
                if let Some(accept) = &self.accept {
                    // The listening socket: a new connection wakes every idle worker.
                    let resolve = resolve.clone();
                    let queued = accept.wait();
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = wasm_bindgen_futures::JsFuture::from(queued).await;
                        let _ = resolve.call0(&JsValue::NULL);
                    });
                }
                *self.aio.wake.borrow_mut() = Some(resolve);
            });
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            // Woken (`wake` took the resolver), or a connection came: the poll is over.
            let woken = self.aio.wake.borrow_mut().take().is_none()
                || self.accept.as_ref().is_some_and(AcceptQueue::pending)
                || aio::len(&self.aio.ready) > 0
                || !self.aio.inbox.borrow().is_empty();
            if woken || due_abs.is_none() {
                return;
            }
        }
    }

    /// One iteration: the reads of the requests that arrived, then (holding the GIL, for
    /// python_cpu) the timers due and the callbacks ready at that point.
    fn iterate(self: &Rc<Self>) {
        let mut arrived: Vec<u64> = self.aio.inbox.borrow_mut().drain(..).collect();
        if let Some(accept) = &self.accept {
            // This loop polls: it accepts every queued connection.
            arrived.extend(accept.take_all());
        }
        for id in arrived {
            if id >= self.config.requests {
                return fail(format!(
                    "request {id} is not one of the run's {}",
                    self.config.requests
                ));
            }
            push(&self.aio.ready, Callback::Read(id));
        }
        if let Some(gil) = &self.gil {
            if let Some(asked_abs) = gil.acquire() {
                self.held(now_abs() - asked_abs);
                let t0 = self.t0_abs.get();
                self.emit(Event::LoopGilWait {
                    worker: self.worker,
                    from: asked_abs - t0,
                    to: self.now(),
                });
            }
        }
        let now = now_abs();
        loop {
            let due = self.aio.timers.borrow().peek().is_some_and(|t| t.when <= now);
            if !due {
                break;
            }
            let timer = self.aio.timers.borrow_mut().pop().expect("peeked");
            push(&self.aio.ready, Callback::Fire(timer.signal));
        }
        let mut batch = VecDeque::new();
        aio::take_iteration(&self.aio.ready, &mut batch);
        for callback in batch {
            match callback {
                Callback::Step(task) => self.step(task),
                Callback::Fire(signal) => {
                    let signal = self.aio.signals.borrow_mut().take(signal);
                    if let Some(s) = signal {
                        s.fire();
                    }
                }
                Callback::Read(id) => self.read(id),
            }
        }
        self.flush();
        if let Some(gil) = &self.gil {
            gil.release();
        }
    }

    /// A timer due `ms` from now: its signal fires in the iteration that finds it due.
    fn timer(&self, ms: f64) -> Wait {
        let (id, signal) = self.aio.signals.borrow_mut().add();
        let seq = self.aio.seq.get() + 1;
        self.aio.seq.set(seq);
        self.aio.timers.borrow_mut().push(Timer {
            when: now_abs() + ms,
            seq,
            signal: id,
        });
        Wait(signal)
    }

    /// What real FastAPI spends on the loop per request (`overhead_ms`), half of it
    /// now: the loop is held, as by Python code, but no blocking call is made.
    /// FastAPI's own loop work (`overhead_ms`): a share `ms` of it, held on the loop, in
    /// full on a cold loop and less on a warm one (`Config::overhead_cost`).
    fn overhead(&self, ms: f64) {
        let ms = Config::overhead_cost(ms, self.warm.get());
        if ms > 0.0 {
            let began = now_abs();
            hold(ms, Hold::Sleep);
            self.warm.set(true);
            self.step_held.set(self.step_held.get() + (now_abs() - began));
        }
    }

    fn finish(&self) {
        self.flush();
        let t0 = self.t0_abs.get();
        let probe::Measured {
            stalls: mut probe_stalls,
            gaps: mut probe_gaps,
            samples: probe_lag,
            idle_lateness_ms,
        } = self
            .probe
            .borrow_mut()
            .take()
            .map(|p| p.finish(t0))
            .unwrap_or_default();
        for s in probe_stalls.iter_mut().chain(probe_gaps.iter_mut()) {
            s.worker = self.worker;
        }
        let count = |p: &RefCell<Option<Rc<Pool>>>| p.borrow().as_ref().map_or(0, |p| p.workers()) as u64;
        post_to_parent(&to_json(&FromServer::Done {
            part: ServerPart {
                worker: self.worker,
                probe_stalls,
                probe_gaps,
                probe_lag,
                idle_lateness_ms,
                loop_block_method: self.hold.method().to_string(),
                compute_rounds_per_ms: match self.hold {
                    Hold::Compute { rounds_per_ms } => Some(rounds_per_ms),
                    Hold::Sleep => None,
                },
                pool_workers: count(&self.threads),
                process_workers: count(&self.processes),
                pool_start_ms: self.pool_start_ms,
                gil: self.gil.is_some(),
            },
        }));
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

    /// A job `done` on `pool` came back: its progress, its log row, and the wait for
    /// the loop since it ended.
    fn job_returned(&self, on: Place, done: super::protocol::JobDone) -> Result<SyncReturn, Raised> {
        self.emit(Event::Handoff {
            handoff: Handoff {
                request: self.request,
                on,
                to_ms: (done.start_abs - done.posted_abs).max(0.0),
                back_ms: (done.received_abs - done.end_abs).max(0.0),
            },
        });
        self.server.job_progress(done.progress);
        if let Some(entry) = done.logged {
            self.emit(Event::Logged { entry });
        }
        let t0 = self.server.t0_abs.get();
        self.waited(Place::Loop, done.end_abs - t0, self.now());
        done.result
    }

    /// Sends `call` to `pool` and waits for its result, which the loop picks up as
    /// `call_soon_threadsafe` delivers it.
    async fn run_on(&self, which: Which, call: SyncCall, fault: Option<Fault>) -> super::protocol::JobDone {
        let pool = match which {
            Which::Threads => self.server.threads.borrow().clone(),
            Which::Processes => self.server.processes.borrow().clone(),
        };
        let Some(pool) = pool else {
            fail("the pool was stopped before the run ended".into());
            return std::future::pending().await;
        };
        let (id, signal) = self.server.aio.signals.borrow_mut().add();
        let job = pool.submit(self.request, call, fault, self.server.t0_abs.get());
        self.server.pending_jobs.borrow_mut().insert((which, job), id);
        Wait(signal).await;
        match pool.take_done(job) {
            Some(done) => done,
            None => {
                fail(format!(
                    "request {}'s job came back without its result",
                    self.request
                ));
                std::future::pending().await
            }
        }
    }
}

impl Thread for Handle {
    fn now(&self) -> f64 {
        self.server.now()
    }
    fn print(&self, text: impl std::fmt::Display) {
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
        self.server.warm.set(false); // it blocked
        let end_ms = self.now();
        let held = &self.server.step_held;
        held.set(held.get() + (end_ms - start_ms));
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
        let fired = self.server.timer(ms);
        async move {
            fired.await;
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
            let token = anyio_acquire(&self.server.limiter, self.request, |_| {}).await;
            let granted = self.now();
            self.waited(Place::Pool, asked, granted);
            match call.first_kind() {
                Some(kind) => self.began(kind, Place::Pool, true, granted),
                // Instantaneous on its thread: what is left is waiting for the loop.
                None => self.began(PhaseKind::Queued, Place::Loop, false, granted),
            }
            let done = self.run_on(Which::Threads, call, self.fault.take()).await;
            let result = self.job_returned(Place::Pool, done);
            drop(token);
            result
        }
    }

    fn run_in_process_pool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>> {
        let asked = self.now();
        self.began(PhaseKind::Queued, Place::Process, false, asked);
        async move {
            let done = self.run_on(Which::Processes, call, None).await;
            let t0 = self.server.t0_abs.get();
            self.waited(Place::Process, asked, done.start_abs - t0);
            self.job_returned(Place::Process, done)
        }
    }

    fn delay(&self, call: SyncCall) {
        let broker_ms = self.server.config.broker_ms;
        if broker_ms > 0.0 {
            // The publish is a blocking round trip to the broker, on the loop.
            self.block(PhaseKind::Io, "log_prediction_details.delay", broker_ms);
        }
        match &self.server.broker {
            Some(broker) => broker.post(&to_json(&Enqueue {
                request: self.request,
                call,
                asked_abs: now_abs(),
            })),
            None => fail("task_queue without a broker to send its jobs to".into()),
        }
    }

    fn respond(&self, answer: &Answer) {
        self.server.overhead(self.server.config.overhead_at_answer());
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
}

/// What the server knows between `Setup` and `Pool`.
struct Pending {
    config: Config,
    faults: Faults,
    log: Option<LogTo>,
    hold: Hold,
    worker: u64,
    asked_at: f64,
}

/// Starts a pool of `ports` for `server` (once it exists, through `slot`): its progress
/// and results go to the server's loop. No ports, no pool.
async fn start_pool(
    ports: Vec<web_sys::MessagePort>,
    setup: pool::Setup,
    which: Which,
    slot: Rc<RefCell<Weak<Server>>>,
) -> Result<Option<Rc<Pool>>, String> {
    if ports.is_empty() {
        return Ok(None);
    }
    let progress_to = slot.clone();
    let progress = Box::new(move |p: Vec<Progress>| {
        if let Some(server) = progress_to.borrow().upgrade() {
            server.job_progress(p);
            server.flush(); // a phase began: the page draws it now
        }
    });
    let done_to = slot;
    let on_done = Box::new(move |done: Result<u64, String>| match done {
        Ok(job) => {
            if let Some(server) = done_to.borrow().upgrade() {
                let signal = server.pending_jobs.borrow_mut().remove(&(which, job));
                match signal {
                    Some(signal) => {
                        if let Some(s) = server.aio.signals.borrow().get(signal) {
                            s.at.set(now_abs());
                        }
                        server.aio.call_soon_threadsafe(Callback::Fire(signal));
                    }
                    None => fail(format!("a job ({job}) nobody waits for came back")),
                }
            }
        }
        Err(message) => fail(message),
    });
    Pool::start(ports, setup, progress, on_done).await.map(Some)
}

/// The server worker's message handler.
pub fn start() -> Box<dyn FnMut(String)> {
    let server: Rc<RefCell<Weak<Server>>> = Rc::default();
    let keep: Rc<RefCell<Option<Rc<Server>>>> = Rc::default();
    let pending: Rc<RefCell<Option<Pending>>> = Rc::default();
    Box::new(move |text: String| match from_json::<ToServer>(&text) {
        Ok(ToServer::Setup {
            config,
            faults,
            log,
            worker,
        }) => {
            // Calibrated here, alone: the page starts the pool workers only after this.
            let hold = Hold::for_work(config.work);
            let threads = config.pool_threads();
            let processes = config.pool_processes();
            *pending.borrow_mut() = Some(Pending {
                config,
                faults,
                log,
                hold,
                worker,
                asked_at: now_abs(),
            });
            post_to_parent(&to_json(&FromServer::WantPool { threads, processes }));
        }
        Ok(ToServer::Pool) => {
            let Some(Pending {
                config,
                faults,
                log,
                hold,
                worker,
                asked_at,
            }) = pending.borrow_mut().take()
            else {
                return fail("pool before setup".into());
            };
            let mut ports = take_received_ports();
            let threads = config.pool_threads() as usize;
            let processes = config.pool_processes() as usize;
            let broker = usize::from(config.variant == loopscope::model::Variant::TaskQueue);
            if ports.len() != threads + processes + broker {
                return fail(format!(
                    "the page sent {} ports for {threads} pool threads, {processes} processes and {broker} broker",
                    ports.len()
                ));
            }
            let broker_port = (broker == 1).then(|| ports.pop().expect("counted"));
            let process_ports = ports.split_off(threads);
            let accept =
                if config.workers > 1 {
                    match AcceptQueue::from_buffer(&shared_field("accept")) {
                        Some(q) => Some(q),
                        None => return fail(
                            "several server workers need their shared accept queue, and the page sent none"
                                .into(),
                        ),
                    }
                } else {
                    None
                };
            let gil = if config.work == Work::PythonCpu {
                match Gil::from_buffer(&shared_field("gil")) {
                    Some(g) => Some(g),
                    None => {
                        return fail("python_cpu work needs its process's GIL, and the page sent none".into())
                    }
                }
            } else {
                None
            };
            let slot = server.clone();
            let keep = keep.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let durations = config.durations();
                let setup = |place, gil, pickle_ms| pool::Setup {
                    durations,
                    hold,
                    log: log.clone(),
                    place,
                    gil,
                    pickle_ms,
                };
                let threads_setup = setup(Place::Pool, gil.is_some(), 0.0);
                let thread_pool = match start_pool(ports, threads_setup, Which::Threads, slot.clone()).await {
                    Ok(pool) => pool,
                    Err(e) => return fail(e),
                };
                let processes_setup = setup(Place::Process, false, config.pickle_ms);
                let process_pool =
                    match start_pool(process_ports, processes_setup, Which::Processes, slot.clone()).await {
                        Ok(pool) => pool,
                        Err(e) => return fail(e),
                    };
                let pool_start_ms = now_abs() - asked_at;
                let longest = Rc::new(Cell::new(0.0));
                let probe = Probe::start(longest.clone(), |samples| {
                    post_to_parent(&to_json(&FromServer::Lag { samples }))
                });
                let s = Rc::new(Server {
                    worker,
                    limiter: Limiter::new(config.tokens),
                    durations,
                    t0_abs: Cell::new(now_abs()),
                    threads: RefCell::new(thread_pool),
                    processes: RefCell::new(process_pool),
                    broker: broker_port.map(|p| Peer::new(p, |_| {})),
                    gil,
                    accept,
                    finish_asked: Cell::new(false),
                    pool_start_ms,
                    probe: RefCell::new(Some(probe)),
                    warm: Cell::new(false),
                    step: RefCell::default(),
                    outbox: RefCell::default(),
                    longest,
                    step_held: Cell::new(0.0),
                    hold,
                    config,
                    faults,
                    aio: Loop::default(),
                    pending_jobs: RefCell::default(),
                });
                *slot.borrow_mut() = Rc::downgrade(&s);
                *keep.borrow_mut() = Some(s);
                post_to_parent(&to_json(&FromServer::Ready));
            });
        }
        Ok(ToServer::Go { t0_abs }) => match server.borrow().upgrade() {
            Some(s) => {
                s.t0_abs.set(t0_abs);
                wasm_bindgen_futures::spawn_local(s.run());
            }
            None => fail("go before setup".into()),
        },
        Ok(ToServer::Requests { ids }) => match server.borrow().upgrade() {
            Some(s) => {
                for id in ids {
                    s.deliver(id);
                }
            }
            None => fail("request before setup".into()),
        },
        Ok(ToServer::Finish) => {
            if let Some(s) = server.borrow().upgrade() {
                s.finish_asked.set(true);
                s.aio.wake();
            }
        }
        Ok(ToServer::Replaced {
            worker,
            processes,
            message,
        }) => {
            let s = server.borrow().upgrade();
            let pool = s.and_then(|s| {
                if processes {
                    s.processes.borrow().clone()
                } else {
                    s.threads.borrow().clone()
                }
            });
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
