//! The virtual-time runtime: a deterministic, single-threaded executor on a virtual
//! clock that runs the real endpoint code ([`crate::flows`]) and predicts what a
//! FastAPI server would do.
//!
//! Each server worker (`uvicorn --workers N`) has its own event loop, iterating as
//! asyncio's `BaseEventLoop._run_once` does (asyncio/base_events.py):
//! - **Poll.** The loop sleeps until something is ready: a request's bytes arrive (a
//!   readable socket), a threadpool or process job finishes (`call_soon_threadsafe`
//!   wakes it through its self-pipe), or the first timer comes due.
//! - **I/O, then timers.** The poll appends a callback per readable connection (uvicorn's
//!   `data_received`, which parses the request and `create_task`s its coroutine), then
//!   every timer due by now, in `when` order.
//! - **Run the snapshot.** Exactly the callbacks ready at that point run, in order. What
//!   they schedule runs in the next iteration: a new request's first step (`create_task`
//!   → `call_soon`), a coroutine whose timer or job finished (the callback completes a
//!   future, whose done-callback wakes the task next iteration), a task whose limiter
//!   token was handed over.
//! - A `block` (a `time.sleep` on the loop) moves the clock on; everything that came due
//!   meanwhile waits for the next poll: the lateness is the stall.
//!
//! Polling a task takes no time: the ideal model. `overhead_ms` charges what real
//! FastAPI spends on the loop per request (15 % when its first step runs, the rest when
//! it answers: `Config::overhead_at_first_step`; a third of that on a loop that did such
//! work last rather than wait or block: `Config::overhead_cost`).
//!
//! Threadpool jobs run on virtual threads. With `python_cpu` work they share the
//! process's GIL with the event loop ([`gil`]): a prediction computes only while its
//! thread holds it, and the loop waits for it before each iteration. A process-pool job
//! runs in a process of its own (its own GIL); a task-queue job in a queue worker outside
//! the server. Clients follow `ab`: `concurrency` requests go out at 0, each response
//! sends that client's next request, each on a new connection. A client's next request
//! leaves as its answer arrives and reaches the server just after the server's next
//! poll at that instant (a real client takes a fraction of a millisecond, and a loop
//! polls again within microseconds): a loop that goes on to a batch of blocking steps
//! reads it after them. Request ids follow the answers' order in time.
//!
//! The server workers share one listening socket, as uvicorn's do (one socket bound by
//! the parent, no `SO_REUSEPORT`): new connections wait in its one accept queue. A
//! worker takes connections only while its loop polls; the first idle worker (the
//! lowest-numbered: with all idle, one is favoured) accepts every connection queued at
//! that moment (asyncio's `_accept_connection` loops up to the backlog). A worker
//! blocked in a `time.sleep` accepts nothing; what arrives meanwhile goes to another
//! idle worker, or waits for the first to poll again.

mod gil;
pub mod trace;

pub use gil::SWITCH_INTERVAL_MS;

use crate::flows::handle_request;
use crate::model::summary::{Summary, SummaryRecorder};
use crate::model::{
    Answer, Config, ConfigError, Durations, Event, Fault, Faults, Handoff, Phase, PhaseKind, Place,
    PredictionRequest, Raised, Recorder, Report, Source, Work,
};
use crate::runtime::aio::{self, anyio_acquire, push, Callback, Ready, Signal, Signals, Timer, Wait};
use crate::runtime::script::{self, Op, Prints, Script};
use crate::runtime::{EventLoop, Limiter, Step, SyncCall, SyncReturn, Thread};
use gil::{Gil, Who};
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Context;

/// Predicts the run `config` describes. Fails only on an invalid config.
pub fn simulate(config: &Config) -> Result<Report, ConfigError> {
    simulate_with(config, &Faults::default())
}

/// [`simulate`] with `faults` injected: each failing job raises at its first line.
pub fn simulate_with(config: &Config, faults: &Faults) -> Result<Report, ConfigError> {
    run(config, faults, &Given::default()).map(|(report, _)| report)
}

/// [`simulate_with`], with each request's own step durations (`durations[id]`) instead
/// of the config's: the model of a run whose steps took what they took, to hold its
/// scheduling (who waited for whom) against a measurement whose steps varied.
pub fn simulate_with_durations(
    config: &Config,
    faults: &Faults,
    durations: &[Durations],
) -> Result<Report, ConfigError> {
    simulate_given(
        config,
        faults,
        &Given {
            durations: Some(durations.to_vec()),
            ..Given::default()
        },
    )
}

/// What a measured run settled that the model would otherwise decide, or takes no time
/// for: what each request's steps took, which server worker accepted each request (the
/// accept race between idle workers), when each request reached the server, and how
/// long each pool job's trip to its worker and back took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Given {
    /// By request id.
    pub durations: Option<Vec<Durations>>,
    /// By request id: the worker that accepted it. It waits for that worker's loop to
    /// poll, as a connection that worker accepted does.
    pub accepted_by: Option<Vec<u64>>,
    /// By request id: when it reached the server (then no client waits for an answer to
    /// send it: an open loop). Its loop reads it at its first poll from then on.
    pub arrivals: Option<Vec<f64>>,
    /// By request id: each of its pool jobs' trips (threadpool and process pool), in the
    /// order it made them. A job starts `to_ms` after its token (or free process), and
    /// its result reaches the loop `back_ms` after it ends.
    pub handoffs: Option<Vec<Vec<Handoff>>>,
}

/// [`simulate_with`], given what a measured run settled: the model of that run, to hold
/// its scheduling against the measurement.
pub fn simulate_given(config: &Config, faults: &Faults, given: &Given) -> Result<Report, ConfigError> {
    let n = config.requests as usize;
    if let Some(d) = &given.durations {
        if d.len() != n {
            return Err(ConfigError::new(
                "durations",
                format!("{n} requests need as many step durations, got {}", d.len()),
            ));
        }
    }
    if let Some(a) = &given.arrivals {
        if a.len() != n || a.iter().any(|t| !t.is_finite() || *t < 0.0) {
            return Err(ConfigError::new(
                "arrivals",
                format!(
                    "{n} requests need an arrival time each, from 0 on, got {} times",
                    a.len()
                ),
            ));
        }
    }
    if let Some(h) = &given.handoffs {
        if h.len() != n {
            return Err(ConfigError::new(
                "handoffs",
                format!("{n} requests need their hand-offs each, got {}", h.len()),
            ));
        }
    }
    if let Some(a) = &given.accepted_by {
        if a.len() != n || a.iter().any(|&w| w >= config.workers) {
            return Err(ConfigError::new(
                "workers",
                format!(
                    "{n} requests need a worker each, from 0 to {}, got {a:?}",
                    config.workers - 1
                ),
            ));
        }
    }
    run(config, faults, given).map(|(report, _)| report)
}

/// [`simulate`], and the most threadpool tokens one server worker held at once during
/// the run (a token is held from its grant until its task resumes on the loop, as with
/// anyio's `async with limiter`), for tests of the limiter's bound.
pub fn simulate_counting_tokens(config: &Config) -> Result<(Report, u64), ConfigError> {
    run(config, &Faults::default(), &Given::default())
}

fn run(config: &Config, faults: &Faults, given: &Given) -> Result<(Report, u64), ConfigError> {
    config.validate()?;
    if let Some(e) = faults.problems(config).into_iter().next() {
        return Err(e);
    }
    let out = Out::Full(Box::new(Recorder::new(config.clone())));
    let mut sim = Sim::new(config.clone(), faults.clone(), given.durations.clone(), out);
    sim.world.borrow_mut().accepted_by = given.accepted_by.clone();
    sim.world.borrow_mut().arrivals = given.arrivals.clone();
    sim.handoffs = given.handoffs.clone();
    let (out, peak) = sim.run();
    let Out::Full(rec) = out else {
        unreachable!("a full run records a full report")
    };
    let mut report = rec
        .finish(Source::Predicted)
        .expect("the virtual runtime answers every request");
    report.faults = faults.clone();
    Ok((report, peak))
}

/// A sim of `config` that keeps what a trace needs: who holds each token, and words
/// for each future ([`trace::trace`] checks the config first).
fn traced_sim(config: &Config) -> Sim {
    // Nothing recorded: a trace wants the loop's queues, not the report.
    let out = Out::Summary(Box::new(SummaryRecorder::new(config.clone())));
    let mut sim = Sim::new(config.clone(), Faults::default(), None, out);
    sim.limiters = (0..config.workers)
        .map(|_| Limiter::tracked(config.tokens))
        .collect();
    sim.world.borrow_mut().labels = Some(Default::default());
    sim
}

/// `config`'s run, every iteration of its loops.
fn run_traced(config: &Config) -> trace::Trace {
    let mut sim = traced_sim(config);
    sim.tracer = Some(trace::Trace::default());
    sim.run_and_trace()
}

/// Every loop of `config`'s run as it stands at `t_ms` (all due by then done); a loop
/// held by a callback at `t_ms` is seen running it: the run again, kept at its start.
fn states_at(config: &Config, t_ms: f64) -> Vec<trace::LoopState> {
    let (states, spanning) = traced_sim(config).run_until_capturing(t_ms, None);
    match spanning {
        Some(at) => traced_sim(config).run_until_capturing(t_ms, Some(at)).0,
        None => states,
    }
}

/// [`simulate`], summed up as it goes: the stats and a latency histogram, in memory that
/// grows with the requests in flight at once, not with all of them (runs of up to
/// [`limits::MAX_SUMMARY_REQUESTS`], at most [`limits::MAX_SUMMARY_IN_FLIGHT`] at once).
///
/// [`limits::MAX_SUMMARY_REQUESTS`]: crate::model::limits::MAX_SUMMARY_REQUESTS
/// [`limits::MAX_SUMMARY_IN_FLIGHT`]: crate::model::limits::MAX_SUMMARY_IN_FLIGHT
pub fn simulate_summary(config: &Config) -> Result<Summary, ConfigError> {
    if let Some(e) = config.problems(crate::model::Target::Summary).into_iter().next() {
        return Err(e);
    }
    let out = Out::Summary(Box::new(SummaryRecorder::new(config.clone())));
    let (out, _) = Sim::new(config.clone(), Faults::default(), None, out).run();
    let Out::Summary(rec) = out else {
        unreachable!("a summary run records a summary")
    };
    Ok(rec.finish())
}

/// Where a run's events go: a full report, or a summary.
enum Out {
    Full(Box<Recorder>),
    Summary(Box<SummaryRecorder>),
}

/// Something due on the virtual clock.
enum Action {
    /// Server `server`'s loop polls (stale unless `gen` is its latest).
    LoopWake { server: usize, gen: u64 },
    /// Server `server`'s loop got its GIL: it runs its iteration.
    LoopRun { server: usize },
    /// Server `server`'s loop finished running its callbacks.
    LoopIdle { server: usize },
    /// A virtual thread's `time.sleep` ended: it wants the GIL back.
    ThreadWake { server: usize, thread: usize },
    /// The GIL holder's CPU step ends, or it must drop the GIL (stale unless `gen`).
    GilTick { server: usize, gen: u64 },
    /// A job's result reaches the loop (`call_soon_threadsafe`): `signal` fires there.
    Finished { server: usize, signal: usize },
    /// A process of server `server`'s pool is free again.
    ProcessFree { server: usize },
    /// A queue worker finished request `request`'s job.
    QueueDone { request: u64 },
    /// An answer reached its client, which sends its next request.
    ClientNext,
    /// Request `request` reaches the server at a given time (an open loop).
    Arrive { request: u64 },
}

struct Due {
    t: f64,
    /// The order among events due at `t`: the late flag (a client's next request comes
    /// after everything else due at `t`) in the top bit, then the order scheduled.
    order: u64,
    action: Action,
}

const LATE: u64 = 1 << 63;

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
    /// Reversed, so the max-heap pops the earliest (then not late, then first scheduled)
    /// event.
    fn cmp(&self, other: &Self) -> Ordering {
        other.t.total_cmp(&self.t).then(other.order.cmp(&self.order))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoopState {
    /// In `epoll_wait`, without the GIL.
    Idle,
    /// Back from the poll at `since`, waiting for the GIL.
    WaitingGil { since_bits: u64 },
    /// Running its callbacks.
    Running,
}

/// A prediction's CPU step in progress on a virtual thread (python_cpu).
struct Cpu {
    kind: PhaseKind,
    left: f64,
    /// When the thread last took the GIL for it.
    since: f64,
}

/// A threadpool thread running one job's script (python_cpu only: without the GIL the
/// script is played at once).
struct VThread {
    request: u64,
    ops: VecDeque<Op>,
    cpu: Option<Cpu>,
    /// Fires on the loop when the job is done.
    signal: usize,
    /// Given: its result's trip to the loop.
    back: f64,
}

/// A job for a process of the pool or a queue worker.
struct Job {
    request: u64,
    /// Shared with the job before it when the two are alike (a summary's jobs, which
    /// print nothing, all are): a backlog of a million costs 48 bytes a job.
    ops: Rc<[Op]>,
    asked: f64,
    /// Fires on the loop when the result is back (process pool); none for a queue job.
    signal: Option<usize>,
    /// Given: its trip to the process and back.
    to: f64,
    back: f64,
}

/// Workers taking jobs first come, first served: a process pool, the task queue's
/// workers.
struct Workers {
    idle: u64,
    waiting: VecDeque<Job>,
}

/// One server worker: a process with its event loop, limiter, GIL, threads and pool.
struct Server {
    state: LoopState,
    /// Connections accepted for this worker alone (given).
    inbox: VecDeque<u64>,
    /// The loop's time while it runs its callbacks.
    clock: f64,
    timers: BinaryHeap<Timer>,
    wake_gen: u64,
    /// When its latest poll is due, until it runs.
    wake_at: Option<f64>,
    gil: Gil,
    gil_gen: u64,
    threads: Vec<Option<VThread>>,
    processes: Workers,
    /// Whether the loop has just done FastAPI's work ([`Server::charge`]) without
    /// waiting in its poll or blocking since.
    warm: bool,
    /// When its latest iteration ended: a later start means it waited in its poll.
    last_end: f64,
}

impl Server {
    /// Charges `cost` of FastAPI's own loop work (`overhead_ms`'s shares): in full on a
    /// cold loop, a third of it right after other such work ([`Config::overhead_cost`]).
    fn charge(&mut self, cost: f64) {
        self.clock += Config::overhead_cost(cost, self.warm);
        self.warm = true;
    }
}

/// Everything the handlers share, behind one `RefCell`; never borrowed across a poll.
struct World {
    config: Config,
    /// The time of the event being handled.
    now: f64,
    seq: u64,
    /// What is due later than now.
    events: BinaryHeap<Due>,
    /// What was scheduled for now while it is now, in order (most of a zero-cost run:
    /// a loop's next poll, the end of an iteration that took no time): first come,
    /// first out, without the heap. `late` ones (a client's next request) after the rest.
    now_queue: VecDeque<Action>,
    now_late: VecDeque<Action>,
    /// The last job's ops, for [`World::share`].
    last_ops: Option<Rc<[Op]>>,
    out: Out,
    /// Whether the events only a full report keeps (prints, phases) are wanted.
    step: Option<Step>,
    next_request: u64,
    servers: Vec<Server>,
    readies: Vec<Ready>,
    signals: Signals,
    queue: Workers,
    /// Whether threads take turns on a GIL (`python_cpu`).
    gil_on: bool,
    /// The listening socket's accept queue, shared by every server worker.
    accept_queue: VecDeque<u64>,
    /// Given: which worker accepts each request (a measured run's accept race).
    accepted_by: Option<Vec<u64>>,
    /// Given: when each request reaches the server; no client then waits to send.
    arrivals: Option<Vec<f64>>,
    /// Requests sent or about to be (a client's next is sent as its answer arrives).
    clients_due: u64,
    /// A traced run's words for each future a callback completes (its request, what it
    /// stands for); `None` when not traced.
    labels: Option<std::collections::HashMap<usize, (Option<u64>, String)>>,
    /// A traced run's requests answered whose background work is not done.
    background_pending: std::collections::BTreeSet<u64>,
}

impl World {
    /// Records what happened; the virtual runtime's own ids are always valid.
    /// What becomes of a print now: kept, counted (the console is full), or ignored (a
    /// summary).
    fn prints(&self) -> Prints {
        match &self.out {
            Out::Full(rec) if rec.console_full() => Prints::Count,
            Out::Full(_) => Prints::Keep,
            Out::Summary(_) => Prints::Ignore,
        }
    }

    fn dropped_lines(&mut self, n: u64) {
        if let Out::Full(rec) = &mut self.out {
            rec.dropped_lines(n);
        }
    }

    fn emit(&mut self, event: Event) {
        match &mut self.out {
            Out::Full(rec) => rec
                .record(&event)
                .expect("the virtual runtime's request ids are its own"),
            Out::Summary(sum) => sum.record(&event),
        }
    }

    fn schedule(&mut self, t: f64, action: Action) {
        let late = matches!(action, Action::ClientNext);
        if t == self.now {
            // After everything due now that was scheduled before now came (the heap's),
            // in the order scheduled: the heap's order, kept in two queues.
            if late {
                self.now_late.push_back(action);
            } else {
                self.now_queue.push_back(action);
            }
            return;
        }
        self.seq += 1;
        self.events.push(Due {
            t,
            order: if late { LATE | self.seq } else { self.seq },
            action,
        });
    }

    /// `ops` as a job keeps them: the previous job's, when alike.
    fn share(&mut self, ops: Vec<Op>) -> Rc<[Op]> {
        match &self.last_ops {
            Some(last) if **last == *ops => last.clone(),
            _ => {
                let ops: Rc<[Op]> = ops.into();
                self.last_ops = Some(ops.clone());
                ops
            }
        }
    }

    /// The next thing to do, in the order (time, late, scheduled), and its time.
    /// When the next action is due (now, if some are queued for now).
    fn next_time(&self) -> Option<f64> {
        if !self.now_queue.is_empty() || !self.now_late.is_empty() {
            return Some(self.now);
        }
        self.events.peek().map(|d| d.t)
    }

    fn next_due(&mut self) -> Option<Action> {
        let now = self.now;
        let top = self.events.peek().map(|d| (d.t, d.order & LATE != 0));
        // Due now and scheduled before now came: first (the heap's, in order).
        if top == Some((now, false)) {
            return self.events.pop().map(|d| d.action);
        }
        if let Some(a) = self.now_queue.pop_front() {
            return Some(a);
        }
        if top == Some((now, true)) {
            return self.events.pop().map(|d| d.action);
        }
        if let Some(a) = self.now_late.pop_front() {
            return Some(a);
        }
        let due = self.events.pop()?;
        self.now = due.t;
        Some(due.action)
    }

    /// The next request leaves its client at `t`.
    /// The next request leaves its client now, and reaches the server (a connection in
    /// its accept queue) at once.
    fn send(&mut self) {
        let id = self.next_request;
        self.next_request += 1;
        let t = self.now;
        self.emit(Event::Sent { request: id, t });
        self.arrive(id);
    }

    fn signal(&mut self) -> (usize, Rc<Signal>) {
        self.signals.add()
    }

    /// In a traced run, what the future `signal` stands for.
    fn label(&mut self, signal: usize, request: u64, what: impl FnOnce() -> String) {
        if let Some(labels) = &mut self.labels {
            labels.insert(signal, (Some(request), what()));
        }
    }

    fn fire(&mut self, id: usize) {
        self.signals.take(id).expect("a signal fires once").fire();
    }

    /// Server `server`'s loop polls at `t`.
    fn wake(&mut self, server: usize, t: f64) {
        let s = &mut self.servers[server];
        if s.wake_at.is_some_and(|at| at <= t) {
            return; // it polls by then anyway, and polls again after
        }
        s.wake_gen += 1;
        s.wake_at = Some(t);
        let gen = s.wake_gen;
        self.schedule(t, Action::LoopWake { server, gen });
    }

    /// A job's result is posted to the loop now (`call_soon_threadsafe`): its signal
    /// fires there.
    fn post_result(&mut self, server: usize, signal: usize) {
        if let Some(s) = self.signals.get(signal) {
            s.at.set(self.now);
        }
        self.call_soon_threadsafe(server, Callback::Fire(signal));
    }

    /// `loop.call_soon_threadsafe(callback)`: appended to the ready queue at once; an
    /// idle loop is woken through its self-pipe.
    fn call_soon_threadsafe(&mut self, server: usize, callback: Callback) {
        push(&self.readies[server], callback);
        if self.servers[server].state == LoopState::Idle {
            let now = self.now;
            self.wake(server, now);
        }
    }

    /// A new connection: it waits in the accept queue, and the first idle worker wakes
    /// to take it (with whatever else is queued).
    fn arrive(&mut self, request: u64) {
        let now = self.now;
        if let Some(worker) = self.accepted_by.as_ref().and_then(|a| a.get(request as usize)) {
            // Given: this worker accepted it, at its next poll.
            let server = *worker as usize;
            self.servers[server].inbox.push_back(request);
            if self.servers[server].state == LoopState::Idle {
                self.wake(server, now);
            }
            return;
        }
        self.accept_queue.push_back(request);
        if let Some(server) = self.servers.iter().position(|s| s.state == LoopState::Idle) {
            self.wake(server, now);
        }
    }

    /// The loop finished its callbacks: it lets the GIL go and polls again, at once if
    /// something is ready, else when its first timer is due (or when woken).
    fn loop_idle(&mut self, server: usize) {
        let now = self.now;
        self.servers[server].state = LoopState::Idle;
        if self.gil_on {
            if let Some((who, since)) = self.servers[server].gil.release(now) {
                self.grant(server, who, since);
            }
            self.gil_changed(server);
        }
        let ready = aio::len(&self.readies[server]) > 0;
        if ready || !self.accept_queue.is_empty() || !self.servers[server].inbox.is_empty() {
            self.wake(server, now);
        } else if let Some(when) = self.servers[server].timers.peek().map(|t| t.when) {
            self.wake(server, when.max(now));
        }
    }

    /// `who` takes server `server`'s GIL now, having waited since `since`.
    fn grant(&mut self, server: usize, who: Who, since: f64) {
        let now = self.now;
        match who {
            Who::Loop => self.schedule(now, Action::LoopRun { server }),
            Who::Thread(k) => {
                let (request, in_cpu) = {
                    let th = self.servers[server].threads[k].as_mut().expect("a live thread");
                    if let Some(cpu) = th.cpu.as_mut() {
                        cpu.since = now;
                    }
                    (th.request, th.cpu.is_some())
                };
                if now > since {
                    self.emit(Event::Phase {
                        request,
                        phase: Phase {
                            kind: PhaseKind::GilWait,
                            start_ms: since,
                            end_ms: now,
                            on: Place::Pool,
                            blocking: false,
                        },
                    });
                }
                if !in_cpu {
                    self.advance_thread(server, k);
                }
            }
        }
    }

    /// The GIL's holder or line changed: when its holder's CPU step ends or it must
    /// drop the GIL, whichever comes first.
    fn gil_changed(&mut self, server: usize) {
        let s = &mut self.servers[server];
        s.gil_gen += 1;
        let gen = s.gil_gen;
        let Some(Who::Thread(k)) = s.gil.holder() else {
            return; // the loop holds it for its whole iteration
        };
        let Some(cpu) = s.threads[k].as_ref().and_then(|t| t.cpu.as_ref()) else {
            return;
        };
        let ends = cpu.since + cpu.left;
        let t = s.gil.drop_due().map_or(ends, |d| d.min(ends));
        self.schedule(t, Action::GilTick { server, gen });
    }

    fn gil_tick(&mut self, server: usize, gen: u64) {
        let now = self.now;
        if self.servers[server].gil_gen != gen {
            return;
        }
        let Some(Who::Thread(k)) = self.servers[server].gil.holder() else {
            return;
        };
        let (request, kind, since, left) = {
            let th = self.servers[server].threads[k].as_mut().expect("a live thread");
            let cpu = th.cpu.as_mut().expect("the holder computes");
            cpu.left -= now - cpu.since;
            (th.request, cpu.kind, cpu.since, cpu.left)
        };
        if now > since {
            self.emit(Event::Phase {
                request,
                phase: Phase {
                    kind,
                    start_ms: since,
                    end_ms: now,
                    on: Place::Pool,
                    blocking: true,
                },
            });
        }
        if left <= 1e-9 {
            self.servers[server].threads[k].as_mut().expect("live").cpu = None;
            self.advance_thread(server, k);
        } else {
            // Asked to drop it: the longest waiter takes it, this thread waits behind.
            if let Some((who, since)) = self.servers[server].gil.switch(now) {
                self.grant(server, who, since);
            }
            self.gil_changed(server);
        }
    }

    /// Thread `k` holds the GIL: it runs its script until it must wait (a `time.sleep`,
    /// a CPU step to compute) or its job is done.
    fn advance_thread(&mut self, server: usize, k: usize) {
        let now = self.now;
        loop {
            let (request, op, signal, back) = {
                let th = self.servers[server].threads[k].as_mut().expect("a live thread");
                (th.request, th.ops.pop_front(), th.signal, th.back)
            };
            match op {
                None => {
                    // The job is done: its result goes to the loop, the thread lets the
                    // GIL go and waits for work.
                    self.servers[server].threads[k] = None;
                    if back > 0.0 {
                        self.schedule(now + back, Action::Finished { server, signal });
                    } else {
                        self.post_result(server, signal);
                    }
                    self.release_from_thread(server);
                    return;
                }
                Some(Op::Print(text)) => self.emit(Event::Print {
                    request,
                    t: now,
                    text,
                }),
                Some(Op::Lines(n)) => self.dropped_lines(n),
                Some(Op::Block { kind, ms, gil: false }) => {
                    self.emit(Event::Phase {
                        request,
                        phase: Phase {
                            kind,
                            start_ms: now,
                            end_ms: now + ms,
                            on: Place::Pool,
                            blocking: true,
                        },
                    });
                    self.schedule(now + ms, Action::ThreadWake { server, thread: k });
                    self.release_from_thread(server);
                    return;
                }
                Some(Op::Block { kind, ms, gil: true }) => {
                    self.servers[server].threads[k].as_mut().expect("live").cpu = Some(Cpu {
                        kind,
                        left: ms,
                        since: now,
                    });
                    self.gil_changed(server);
                    return;
                }
            }
        }
    }

    fn release_from_thread(&mut self, server: usize) {
        let now = self.now;
        if let Some((who, since)) = self.servers[server].gil.release(now) {
            self.grant(server, who, since);
        }
        self.gil_changed(server);
    }

    fn thread_wake(&mut self, server: usize, k: usize) {
        let now = self.now;
        if self.servers[server].gil.acquire(Who::Thread(k), now) {
            self.advance_thread(server, k);
        } else {
            self.gil_changed(server);
        }
    }

    /// Starts a threadpool job on a thread of server `server` at `t` (its limiter token
    /// held): `signal` fires on the loop when it is done, `back` later (its result's
    /// trip to the loop, given).
    fn start_thread(
        &mut self,
        server: usize,
        request: u64,
        script: Vec<Op>,
        signal: usize,
        t: f64,
        back: f64,
    ) {
        if !self.gil_on {
            let end = self.play(request, &script, t, Place::Pool);
            self.schedule(end + back, Action::Finished { server, signal });
            return;
        }
        let thread = VThread {
            request,
            ops: script.into(),
            cpu: None,
            signal,
            back,
        };
        let threads = &mut self.servers[server].threads;
        let k = match threads.iter().position(Option::is_none) {
            Some(k) => {
                threads[k] = Some(thread);
                k
            }
            None => {
                threads.push(Some(thread));
                threads.len() - 1
            }
        };
        // A thread needs the GIL to run Python; the loop holds it until its iteration
        // ends.
        self.schedule(t, Action::ThreadWake { server, thread: k });
    }

    /// Plays a script with no one to share a GIL with, from `t`; returns its end.
    fn play(&mut self, request: u64, ops: &[Op], t: f64, on: Place) -> f64 {
        let mut t = t;
        for op in ops {
            match op {
                Op::Print(text) => self.emit(Event::Print {
                    request,
                    t,
                    text: text.clone(),
                }),
                Op::Lines(n) => self.dropped_lines(*n),
                Op::Block { kind, ms, .. } => {
                    self.emit(Event::Phase {
                        request,
                        phase: Phase {
                            kind: *kind,
                            start_ms: t,
                            end_ms: t + ms,
                            on,
                            blocking: true,
                        },
                    });
                    t += ms;
                }
            }
        }
        t
    }

    /// A process of server `server`'s pool starts `job` at `now`.
    fn start_process_job(&mut self, server: usize, job: Job, now: f64) {
        let start = now + job.to;
        self.emit(Event::Waited {
            request: job.request,
            on: Place::Process,
            from: job.asked,
            to: start,
        });
        // Unpickling the argument, the call, pickling the result.
        let half = self.config.pickle_ms / 2.0;
        let end = self.play(job.request, &job.ops, start + half, Place::Process) + half + job.back;
        self.schedule(end, Action::ProcessFree { server });
        if let Some(signal) = job.signal {
            self.schedule(end, Action::Finished { server, signal });
        }
    }

    fn process_free(&mut self, server: usize) {
        match self.servers[server].processes.waiting.pop_front() {
            Some(job) => {
                let now = self.now;
                self.start_process_job(server, job, now);
            }
            None => self.servers[server].processes.idle += 1,
        }
    }

    /// A queue worker starts `job` at `now`.
    fn start_queue_job(&mut self, job: Job, now: f64) {
        self.emit(Event::Waited {
            request: job.request,
            on: Place::Queue,
            from: job.asked,
            to: now,
        });
        let end = self.play(job.request, &job.ops, now, Place::Queue);
        self.schedule(end, Action::QueueDone { request: job.request });
    }

    fn queue_done(&mut self, request: u64) {
        let now = self.now;
        self.background_pending.remove(&request);
        self.emit(Event::BackgroundDone { request, t: now });
        match self.queue.waiting.pop_front() {
            Some(job) => self.start_queue_job(job, now),
            None => self.queue.idle += 1,
        }
    }
}

/// A request's view of the runtime while on its server's event loop.
struct LoopHandle {
    world: Rc<RefCell<World>>,
    server: usize,
    limiter: Limiter,
    durations: Durations,
    request: u64,
    /// How this request's first threadpool job fails, until it has run.
    fault: Cell<Option<Fault>>,
    /// Given: its pool jobs' trips to their worker and back, in order.
    handoffs: RefCell<VecDeque<Handoff>>,
    /// What its task's next step resumes after (shared with its task's slot).
    waiting: Rc<Cell<&'static str>>,
}

impl LoopHandle {
    /// The next given trip of a job on `on` (none: it takes no time), as (to, back).
    fn trip(&self, on: Place) -> (f64, f64) {
        let mut h = self.handoffs.borrow_mut();
        match h.iter().position(|t| t.on == on).and_then(|i| h.remove(i)) {
            Some(t) => (t.to_ms.max(0.0), t.back_ms.max(0.0)),
            None => (0.0, 0.0),
        }
    }

    fn script(&self, call: &SyncCall, fault: Option<Fault>) -> Script {
        match fault {
            // It raises at its first line, having taken no time.
            Some(fault) => script::raising(fault.raised()),
            None => {
                let (python_cpu, prints) = {
                    let w = self.world.borrow();
                    (w.gil_on, w.prints())
                };
                script::record(call, self.durations, python_cpu, prints)
            }
        }
    }

    fn emit(&self, event: Event) {
        self.world.borrow_mut().emit(event);
    }
}

impl Thread for LoopHandle {
    fn now(&self) -> f64 {
        self.world.borrow().servers[self.server].clock
    }
    fn print(&self, text: impl std::fmt::Display) {
        let mut w = self.world.borrow_mut();
        match w.prints() {
            // A summary keeps no console: nothing to format.
            Prints::Ignore => {}
            Prints::Count => w.dropped_lines(crate::model::console_lines(text)),
            Prints::Keep => {
                let t = w.servers[self.server].clock;
                w.emit(Event::Print {
                    request: self.request,
                    t,
                    text: text.to_string(),
                });
            }
        }
    }
    fn block(&self, kind: PhaseKind, function: &'static str, ms: f64) {
        let mut w = self.world.borrow_mut();
        let start = w.servers[self.server].clock;
        w.servers[self.server].clock += ms;
        w.servers[self.server].warm = false;
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
            let start = w.servers[self.server].clock;
            let (id, signal) = w.signal();
            let request = self.request;
            w.label(id, request, || match kind {
                PhaseKind::Io => format!("req {request}'s fetch (asyncio.sleep)"),
                _ => format!("req {request}'s asyncio.sleep"),
            });
            w.seq += 1;
            let seq = w.seq;
            w.servers[self.server].timers.push(Timer {
                when: start + ms,
                seq,
                signal: id,
            });
            (start, Wait(signal))
        };
        self.waiting.set("resume after its fetch's timer");
        async move {
            fired.await;
            let resumed = self.now();
            self.emit(Event::Phase {
                request: self.request,
                phase: Phase {
                    kind,
                    start_ms: start,
                    end_ms: start + ms,
                    on: Place::Loop,
                    blocking: false,
                },
            });
            self.emit(Event::Waited {
                request: self.request,
                on: Place::Loop,
                from: start + ms,
                to: resumed,
            });
        }
    }

    fn run_in_threadpool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>> {
        let asked = self.now();
        async move {
            let token = anyio_acquire(&self.limiter, self.request, |what| self.waiting.set(what)).await;
            self.waiting.set("resume after its job on a thread");
            let granted = self.now();
            self.emit(Event::Waited {
                request: self.request,
                on: Place::Pool,
                from: asked,
                to: granted,
            });
            let Script { ops, result } = self.script(&call, self.fault.take());
            let signal = {
                let mut w = self.world.borrow_mut();
                let (id, signal) = w.signal();
                let request = self.request;
                w.label(id, request, || format!("req {request}'s job on a thread, done"));
                let (to, back) = self.trip(Place::Pool);
                w.start_thread(self.server, self.request, ops, id, granted + to, back);
                signal
            };
            Wait(signal.clone()).await;
            self.resumed_after_job(signal.at.get());
            drop(token);
            result
        }
    }

    fn run_in_process_pool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>> {
        let asked = self.now();
        let Script { ops, result } = self.script(&call, None);
        let ops = self.world.borrow_mut().share(ops);
        let done = {
            let mut w = self.world.borrow_mut();
            let (id, signal) = w.signal();
            let request = self.request;
            w.label(id, request, || format!("req {request}'s job in a process, done"));
            let (to, back) = self.trip(Place::Process);
            let job = Job {
                request: self.request,
                ops,
                asked,
                signal: Some(id),
                to,
                back,
            };
            let server = self.server;
            if w.servers[server].processes.idle > 0 {
                w.servers[server].processes.idle -= 1;
                w.start_process_job(server, job, asked);
            } else {
                w.servers[server].processes.waiting.push_back(job);
            }
            signal
        };
        self.waiting.set("resume after its job in a process");
        async move {
            Wait(done.clone()).await;
            self.resumed_after_job(done.at.get());
            result
        }
    }

    fn delay(&self, call: SyncCall) {
        let broker_ms = self.world.borrow().config.broker_ms;
        if broker_ms > 0.0 {
            // The publish is a blocking round trip to the broker, on the loop.
            self.block(PhaseKind::Io, "log_prediction_details.delay", broker_ms);
        }
        let asked = self.now();
        let Script { ops, .. } = self.script(&call, None);
        let ops = self.world.borrow_mut().share(ops);
        let mut w = self.world.borrow_mut();
        if w.labels.is_some() {
            w.background_pending.insert(self.request);
        }
        let job = Job {
            request: self.request,
            ops,
            asked,
            signal: None,
            to: 0.0,
            back: 0.0,
        };
        if w.queue.idle > 0 {
            w.queue.idle -= 1;
            w.start_queue_job(job, asked);
        } else {
            w.queue.waiting.push_back(job);
        }
    }

    fn respond(&self, answer: &Answer) {
        let mut w = self.world.borrow_mut();
        // Validating, serializing and logging the response.
        let cost = w.config.overhead_at_answer();
        w.servers[self.server].charge(cost);
        let now = w.servers[self.server].clock;
        w.emit(Event::Responded {
            request: self.request,
            t: now,
            answer: answer.clone(),
        });
        if w.labels.is_some() && w.config.variant == crate::model::Variant::Background && answer.is_ok() {
            w.background_pending.insert(self.request);
        }
        if w.arrivals.is_none() && w.clients_due < w.config.requests {
            w.clients_due += 1;
            w.schedule(now, Action::ClientNext); // this client's next request
        }
    }

    fn background_done(&self) {
        let t = self.now();
        self.world.borrow_mut().background_pending.remove(&self.request);
        self.emit(Event::BackgroundDone {
            request: self.request,
            t,
        });
    }
}

impl LoopHandle {
    /// The task resumed after a job whose result reached the loop at `ended`: the time
    /// since was a wait for the loop.
    fn resumed_after_job(&self, ended: f64) {
        let mut w = self.world.borrow_mut();
        let resumed = w.servers[self.server].clock;
        w.emit(Event::Waited {
            request: self.request,
            on: Place::Loop,
            from: ended,
            to: resumed,
        });
    }
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct TaskSlot {
    request: u64,
    server: usize,
    future: Task,
    polled: bool,
    /// When its request was read (its first step waited for the loop since).
    accepted: f64,
    /// Puts its next step on its loop's ready queue: made once, cloned into each poll.
    waker: std::task::Waker,
    /// What its next step resumes after, in words (a traced run's).
    waiting: Rc<Cell<&'static str>>,
}

struct Sim {
    world: Rc<RefCell<World>>,
    faults: Faults,
    /// Each request's step durations, when given (else the config's).
    durations: Option<Vec<Durations>>,
    tasks: Vec<Option<TaskSlot>>,
    free_tasks: Vec<usize>,
    /// The callbacks of the iteration running (a buffer kept between iterations).
    batch: VecDeque<Callback>,
    limiters: Vec<Limiter>,
    /// Each request's pool jobs' trips, when given (else none take time).
    handoffs: Option<Vec<Vec<Handoff>>>,
    /// A traced run's states and iterations, as they come.
    tracer: Option<trace::Trace>,
    /// Where a traced run's trace goes when the run ends.
    trace_out: Option<Rc<RefCell<Option<trace::Trace>>>>,
    /// A run stopped at a moment: the moment, and the loops then if a callback was
    /// running at it.
    stop_at: Option<f64>,
    mid: Option<Vec<trace::LoopState>>,
    /// The callback to keep the loops at (a second pass), and the one found running
    /// at the moment (a first pass): (server, its iteration, its place in it).
    capture: Option<(usize, u64, usize)>,
    spanning: Option<(usize, u64, usize)>,
    /// Each loop's iterations so far.
    iterations_run: Vec<u64>,
}

impl Sim {
    fn new(config: Config, faults: Faults, durations: Option<Vec<Durations>>, out: Out) -> Sim {
        let workers = config.workers as usize;
        let limiters: Vec<Limiter> = (0..workers).map(|_| Limiter::new(config.tokens)).collect();
        let servers = limiters
            .iter()
            .map(|_| Server {
                state: LoopState::Idle,
                warm: false,
                last_end: 0.0,
                inbox: VecDeque::new(),
                clock: 0.0,
                timers: BinaryHeap::new(),
                wake_gen: 0,
                wake_at: None,
                gil: Gil::default(),
                gil_gen: 0,
                threads: Vec::new(),
                processes: Workers {
                    idle: config.processes,
                    waiting: VecDeque::new(),
                },
            })
            .collect();
        let world = World {
            now: 0.0,
            seq: 0,
            events: BinaryHeap::new(),
            now_queue: VecDeque::new(),
            now_late: VecDeque::new(),
            last_ops: None,
            out,
            step: None,
            next_request: 0,
            servers,
            readies: (0..workers).map(|_| Ready::default()).collect(),
            signals: Signals::default(),
            queue: Workers {
                idle: config.queue_workers,
                waiting: VecDeque::new(),
            },
            gil_on: config.work == Work::PythonCpu,
            accept_queue: VecDeque::new(),
            accepted_by: None,
            arrivals: None,
            labels: None,
            background_pending: std::collections::BTreeSet::new(),
            clients_due: config.concurrency,
            config,
        };
        Sim {
            world: Rc::new(RefCell::new(world)),
            faults,
            durations,
            tasks: Vec::new(),
            free_tasks: Vec::new(),
            batch: VecDeque::new(),
            limiters,
            handoffs: None,
            tracer: None,
            trace_out: None,
            stop_at: None,
            mid: None,
            capture: None,
            spanning: None,
            iterations_run: Vec::new(),
        }
    }

    fn ready(&self, server: usize) -> Ready {
        self.world.borrow().readies[server].clone()
    }

    /// `create_task(cycle.run_asgi(app))` for request `request` on server `server`: its
    /// first step runs next iteration.
    fn spawn(&mut self, server: usize, request: u64) {
        let handle = LoopHandle {
            world: self.world.clone(),
            server,
            limiter: self.limiters[server].clone(),
            durations: self
                .durations
                .as_ref()
                .and_then(|d| d.get(request as usize).copied())
                .unwrap_or_else(|| self.world.borrow().config.durations()),
            request,
            fault: Cell::new(self.faults.of(request)),
            waiting: Rc::new(Cell::new("first step: the endpoint, up to its first await")),
            handoffs: RefCell::new(
                self.handoffs
                    .as_mut()
                    .and_then(|h| h.get_mut(request as usize))
                    .map(std::mem::take)
                    .unwrap_or_default()
                    .into(),
            ),
        };
        let waiting = handle.waiting.clone();
        let variant = self.world.borrow().config.variant;
        let body = PredictionRequest::for_index(request);
        let index = self.free_tasks.pop().unwrap_or_else(|| {
            self.tasks.push(None);
            self.tasks.len() - 1
        });
        let ready = self.ready(server);
        self.tasks[index] = Some(TaskSlot {
            request,
            server,
            future: Box::pin(async move { handle_request(&handle, variant, body).await }),
            polled: false,
            accepted: self.world.borrow().servers[server].clock,
            waker: aio::waker(index, &ready),
            waiting,
        });
        push(&ready, Callback::Step(index));
    }

    /// The loop of server `server` polls: it reads what arrived, then runs, once it has
    /// its GIL.
    fn loop_wake(&mut self, server: usize, gen: u64) {
        let mut w = self.world.borrow_mut();
        let now = w.now;
        let s = &mut w.servers[server];
        if s.wake_gen != gen {
            return;
        }
        s.wake_at = None;
        if s.state != LoopState::Idle {
            return;
        }
        // The listening socket is readable: this loop accepts every queued connection.
        let mut arrived: Vec<u64> = w.servers[server].inbox.drain(..).collect();
        arrived.extend(w.accept_queue.drain(..));
        let ready = w.readies[server].clone();
        for request in arrived {
            push(&ready, Callback::Read(request));
        }
        if !w.gil_on || w.servers[server].gil.acquire(Who::Loop, now) {
            w.servers[server].state = LoopState::Running;
            drop(w);
            self.iterate(server, None);
        } else {
            w.servers[server].state = LoopState::WaitingGil {
                since_bits: now.to_bits(),
            };
            w.gil_changed(server);
        }
    }

    /// The loop got its GIL, having waited since it came back from its poll.
    fn loop_run(&mut self, server: usize) {
        let since = {
            let mut w = self.world.borrow_mut();
            let LoopState::WaitingGil { since_bits } = w.servers[server].state else {
                return;
            };
            w.servers[server].state = LoopState::Running;
            f64::from_bits(since_bits)
        };
        self.iterate(server, Some(since));
    }

    /// One iteration of server `server`'s loop, from now: the timers due, then the
    /// callbacks ready at that point.
    fn iterate(&mut self, server: usize, gil_since: Option<f64>) {
        let ready = self.ready(server);
        let tracing = self.tracer.is_some();
        let mut fired = Vec::new();
        {
            let mut w = self.world.borrow_mut();
            let now = w.now;
            if let Some(from) = gil_since {
                w.emit(Event::LoopGilWait {
                    worker: server as u64,
                    from,
                    to: now,
                });
            }
            let s = &mut w.servers[server];
            if now > s.last_end + 1e-9 {
                s.warm = false;
            }
            s.clock = now;
            while s.timers.peek().is_some_and(|t| t.when <= now) {
                let timer = s.timers.pop().expect("peeked");
                if tracing {
                    fired.push((timer.signal, timer.when));
                }
                push(&ready, Callback::Fire(timer.signal));
            }
        }
        let mut batch = std::mem::take(&mut self.batch);
        aio::take_iteration(&ready, &mut batch);
        // A traced run: what this iteration found and runs, in words, before it runs.
        let traced = self.tracer.is_some().then(|| {
            let start = self.world.borrow().now;
            let (mut polled, mut timers, mut ran) = (Vec::new(), Vec::new(), Vec::new());
            for &c in batch.iter() {
                let item = self.describe(c);
                match c {
                    Callback::Read(_) => polled.push(item.clone()),
                    Callback::Fire(signal) => {
                        if let Some(&(_, due)) = fired.iter().find(|(s, _)| *s == signal) {
                            timers.push(Sim::timer_state(&self.world.borrow(), signal, due));
                        }
                    }
                    _ => {}
                }
                ran.push(item);
            }
            (start, polled, timers, ran)
        });
        // A run stopped at a moment inside this iteration: which callback runs then (a
        // first pass), and the loop as it stands then, running it, the rest of the
        // batch still ready (a second pass, the same run again).
        let nth = self.iterations_run.get(server).copied().unwrap_or(0);
        if let Some(n) = self.iterations_run.get_mut(server) {
            *n += 1;
        }
        for k in 0..batch.len() {
            let callback = batch[k];
            let started = self.world.borrow().servers[server].clock;
            if let (Some(t), Some((s, n, at))) = (self.stop_at, self.capture) {
                if (s, n, at) == (server, nth, k) && self.mid.is_none() {
                    let rest: Vec<Callback> = batch.range(k..).copied().collect();
                    self.mid = Some(self.snapshot_running(server, t, &rest));
                }
            }
            match callback {
                Callback::Step(task) => self.poll_task(task),
                Callback::Fire(signal) => self.world.borrow_mut().fire(signal),
                Callback::Read(request) => {
                    {
                        let mut w = self.world.borrow_mut();
                        let t = w.servers[server].clock;
                        w.emit(Event::Accepted {
                            request,
                            t,
                            worker: server as u64,
                        });
                    }
                    self.spawn(server, request);
                }
            }
            if let Some(t) = self
                .stop_at
                .filter(|_| self.capture.is_none() && self.spanning.is_none())
            {
                if started <= t && self.world.borrow().servers[server].clock > t {
                    self.spanning = Some((server, nth, k));
                }
            }
        }
        batch.clear();
        self.batch = batch;
        let end = {
            let mut w = self.world.borrow_mut();
            let end = w.servers[server].clock;
            w.servers[server].last_end = end;
            w.schedule(end, Action::LoopIdle { server });
            end
        };
        if let Some((start_ms, polled, timers, ran)) = traced {
            let state = self.snapshot(end).swap_remove(server);
            let tracer = self.tracer.as_mut().expect("traced");
            let n = tracer.iterations.len() as u64;
            tracer.iterations.push(trace::Iteration {
                n,
                worker: server as u64,
                start_ms,
                end_ms: end,
                polled,
                timers,
                ran,
                state,
            });
        }
    }

    fn poll_task(&mut self, index: usize) {
        let Some(slot) = self.tasks[index].as_mut() else {
            return; // finished, woken again
        };
        let (request, server) = (slot.request, slot.server);
        let first_poll = !std::mem::replace(&mut slot.polled, true);
        let accepted = slot.accepted;
        {
            let mut w = self.world.borrow_mut();
            if first_poll {
                // Read with others, it waited for the loop to run its first step; then
                // FastAPI parses, routes and validates it.
                let to = w.servers[server].clock;
                w.emit(Event::Waited {
                    request,
                    on: Place::Loop,
                    from: accepted,
                    to,
                });
                let cost = w.config.overhead_at_first_step();
                w.servers[server].charge(cost);
            }
            w.step = Some(Step::new(request));
        }
        let slot = self.tasks[index].as_mut().expect("still there");
        let done = slot
            .future
            .as_mut()
            .poll(&mut Context::from_waker(&slot.waker))
            .is_ready();
        if done {
            self.tasks[index] = None;
            self.free_tasks.push(index);
        }
        let mut w = self.world.borrow_mut();
        let step = w.step.take().expect("step survives the poll");
        if let Some(stall) = step.finish() {
            w.emit(Event::Stall { stall });
        }
    }

    /// Runs a traced sim; returns its trace.
    fn run_and_trace(mut self) -> trace::Trace {
        let tracer = Rc::new(RefCell::new(None));
        self.trace_out = Some(tracer.clone());
        let _ = self.run();
        tracer.take().unwrap_or_default()
    }

    /// The clients' first requests sent (or every arrival scheduled).
    fn start_clients(&mut self) {
        let mut w = self.world.borrow_mut();
        match w.arrivals.take() {
            Some(times) => {
                for (request, &t) in times.iter().enumerate() {
                    let request = request as u64;
                    if t <= 0.0 {
                        w.emit(Event::Sent { request, t: 0.0 });
                        w.arrive(request);
                    } else {
                        w.schedule(t, Action::Arrive { request });
                    }
                }
                w.arrivals = Some(times);
            }
            None => {
                for _ in 0..w.config.concurrency {
                    w.send();
                }
            }
        }
    }

    /// Takes the next action due and does it; `false` when there is none left.
    fn step(&mut self) -> bool {
        let Some(action) = self.world.borrow_mut().next_due() else {
            return false;
        };
        match action {
            Action::LoopWake { server, gen } => self.loop_wake(server, gen),
            Action::LoopRun { server } => self.loop_run(server),
            action => {
                let mut w = self.world.borrow_mut();
                match action {
                    Action::LoopIdle { server } => w.loop_idle(server),
                    Action::ThreadWake { server, thread } => w.thread_wake(server, thread),
                    Action::GilTick { server, gen } => w.gil_tick(server, gen),
                    Action::Finished { server, signal } => w.post_result(server, signal),
                    Action::ProcessFree { server } => w.process_free(server),
                    Action::QueueDone { request } => w.queue_done(request),
                    Action::ClientNext => w.send(),
                    Action::Arrive { request } => {
                        let t = w.now;
                        w.emit(Event::Sent { request, t });
                        w.arrive(request);
                    }
                    Action::LoopWake { .. } | Action::LoopRun { .. } => unreachable!("handled above"),
                }
            }
        }
        true
    }

    /// Runs up to `t_ms` (everything due at or before it done) and gives every loop's
    /// state then.
    /// Runs up to `t_ms` (everything due at or before it done) and gives every loop's
    /// state then; `capture`: the callback (server, its iteration, its place) found
    /// running at `t_ms` by a first pass, whose start is the moment kept. Returns the
    /// states, and the callback running at `t_ms` if one was.
    fn run_until_capturing(
        mut self,
        t_ms: f64,
        capture: Option<(usize, u64, usize)>,
    ) -> (Vec<trace::LoopState>, Option<(usize, u64, usize)>) {
        self.stop_at = Some(t_ms);
        self.capture = capture;
        self.iterations_run = vec![0; self.limiters.len()];
        self.start_clients();
        while self.mid.is_none() && self.world.borrow().next_time().is_some_and(|next| next <= t_ms) {
            self.step();
        }
        let spanning = self.spanning;
        (self.mid.take().unwrap_or_else(|| self.snapshot(t_ms)), spanning)
    }

    fn run(mut self) -> (Out, u64) {
        self.start_clients();
        while self.step() {}
        assert!(
            self.tasks.iter().all(Option::is_none),
            "every request ran to completion"
        );
        if let (Some(out), Some(t)) = (self.trace_out.take(), self.tracer.take()) {
            *out.borrow_mut() = Some(t);
        }
        let peak = self.limiters.iter().map(Limiter::peak).max().unwrap_or(0);
        drop(self.limiters);
        let world = Rc::try_unwrap(self.world)
            .ok()
            .expect("no handle outlives the run")
            .into_inner();
        (world.out, peak)
    }
}
