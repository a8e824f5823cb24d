//! Pools of Web Workers that run [`SyncCall`]s, and their owner's handle on them: a
//! server's threadpool (`Config::pool_threads` threads behind the limiter), its process
//! pool (`processes` workers, jobs first come first served), and the task queue's
//! workers (owned by the broker).
//!
//! The workers are ready before the run's clock starts and reused for every job. The
//! page starts them and terminates them when the run ends; their owner holds one end of
//! a `MessageChannel` to each ([`Peer`]). A worker that dies (a panic in its job) is
//! replaced: its job ends as an exception for the coroutine awaiting it, and a new
//! worker takes its place.

use super::gil::{compute_holding, Gil};
use super::hold::{can_wait, hold, wait_until, warm_up, Hold};
use super::log;
use super::now_abs;
use super::protocol::{to_json, FromPool, JobDone, LogTo, Progress, ToPool};
use super::worker::{post_to_parent, shared_field, Peer};
use loopscope::model::Raised;
use loopscope::model::{Durations, Fault, LogEntry, Phase, PhaseKind, Place};
use loopscope::runtime::script::{self, Op, Prints, Script};
use loopscope::runtime::SyncCall;
use loopscope::runtime::Thread;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

thread_local! {
    /// Where this worker's log tasks write, as its owner said at start.
    static LOG_TO: RefCell<Option<LogTo>> = const { RefCell::new(None) };
    /// What this worker is, and its process's GIL when its pure-Python work takes one.
    static KIND: RefCell<(Place, Option<Gil>)> = const { RefCell::new((Place::Pool, None)) };
}

/// A log task's write: the entry, and the write IndexedDB is doing, if it is.
type Logging = (LogEntry, Option<Started<Result<(), String>>>);

/// A future started at once on this thread's executor, its output read later. A
/// database request must be listened to from the start: one polled only after the
/// thread went back to its event loop (a job played on timers) would miss its success.
struct Started<T>(Rc<RefCell<(Option<T>, Option<Waker>)>>);

impl<T: 'static> Started<T> {
    fn now(f: impl Future<Output = T> + 'static) -> Started<T> {
        let slot = Rc::new(RefCell::new((None, None::<Waker>)));
        let to = slot.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let out = f.await;
            let waker = {
                let mut s = to.borrow_mut();
                s.0 = Some(out);
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        Started(slot)
    }
}

impl<T> Future for Started<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<T> {
        let mut s = self.0.borrow_mut();
        match s.0.take() {
            Some(out) => Poll::Ready(out),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A pool worker thread running one job.
struct WorkerThread {
    request: u64,
    durations: Durations,
    hold: Hold,
    /// The call, for a log task's row.
    call: SyncCall,
    /// The run's clock: absolute ms of its time 0.
    t0_abs: f64,
    /// Progress not yet posted.
    pending: RefCell<Vec<Progress>>,
    /// A log task's write, once issued.
    logging: RefCell<Option<Logging>>,
    /// What this worker is: its phases are there.
    place: Place,
    /// Its process's GIL, which its pure-Python prediction holds while it computes.
    gil: Option<Gil>,
}

impl WorkerThread {
    /// `log_prediction_details`' write: issued to IndexedDB as the task's log phase
    /// begins, so the database writes while the task takes its time; where it cannot,
    /// the entry is kept, with why.
    fn log(&self) {
        let SyncCall::LogPredictionDetails { request, response } = &self.call else {
            return;
        };
        let Some(to) = LOG_TO.with(|l| l.borrow().clone()) else {
            return; // a rehearsal: nothing is logged
        };
        let now = now_abs();
        let mut entry = LogEntry {
            run: to.run,
            variant: to.variant,
            request_id: self.request,
            request: *request,
            response: response.clone(),
            written_ms: now - self.t0_abs,
            written_abs_ms: now,
            stored: false,
            error: None,
        };
        let write = match to.db {
            Ok(()) => match log::write(&entry) {
                Ok(write) => Some(Started::now(write)),
                Err(e) => {
                    entry.error = Some(e);
                    None
                }
            },
            Err(why) => {
                entry.error = Some(why);
                None
            }
        };
        *self.logging.borrow_mut() = Some((entry, write));
    }
}

impl WorkerThread {
    /// A blocking step of `kind` begins: the page is told at once (a log task's write is
    /// issued), and the step starts once it has been (posting is not part of it).
    fn began(&self, kind: PhaseKind) -> f64 {
        if kind == PhaseKind::Background {
            self.log();
        }
        self.pending.borrow_mut().push(Progress::Began {
            request: self.request,
            phase: kind,
            on: self.place,
            start_abs: now_abs(),
        });
        let items = self.pending.take();
        post_to_parent(&to_json(&FromPool::Progress { items }));
        now_abs()
    }

    fn ended(&self, kind: PhaseKind, start_ms: f64, end_ms: f64, blocking: bool) -> Progress {
        Progress::Ended {
            request: self.request,
            phase: Phase {
                kind,
                start_ms,
                end_ms,
                on: self.place,
                blocking,
            },
        }
    }

    /// Plays the job's script (its prints and blocking steps, in order) on timers: the
    /// thread is held for the job all the same (its pool gives it no other until it is
    /// done), but a sleep burns no core. For a realm that cannot `Atomics.wait`: there a
    /// `time.sleep` would spin, and a pool of spinning threads would share the cores and
    /// wake late. Compute work still computes.
    async fn play(&self, ops: Vec<Op>) {
        for op in ops {
            match op {
                Op::Print(text) => self.print(text),
                Op::Lines(_) => {} // recorded with every line kept
                Op::Block { kind, ms, .. } => match self.hold.for_kind(kind) {
                    Hold::Sleep => {
                        let start = self.began(kind);
                        wait_until(start + ms).await;
                        let ended = self.ended(kind, start, now_abs(), true);
                        self.pending.borrow_mut().push(ended);
                    }
                    Hold::Compute { .. } => self.block(kind, "", ms),
                },
            }
        }
    }
}

impl Thread for WorkerThread {
    fn now(&self) -> f64 {
        now_abs()
    }
    fn print(&self, text: impl std::fmt::Display) {
        self.pending.borrow_mut().push(Progress::Print {
            request: self.request,
            t_abs: now_abs(),
            text: text.to_string(),
        });
    }
    fn block(&self, kind: PhaseKind, _function: &'static str, ms: f64) {
        let how = self.hold.for_kind(kind);
        match (&self.gil, kind) {
            // Pure Python: computes only while it holds the GIL, in slices.
            (Some(gil), PhaseKind::Cpu) => {
                self.began(kind);
                let slices = compute_holding(gil, ms, |chunk| hold(chunk, how));
                let phase = |kind, (start_ms, end_ms), blocking| self.ended(kind, start_ms, end_ms, blocking);
                let mut pending = self.pending.borrow_mut();
                pending.extend(slices.held.into_iter().map(|s| phase(kind, s, true)));
                pending.extend(
                    slices
                        .waited
                        .into_iter()
                        .map(|s| phase(PhaseKind::GilWait, s, false)),
                );
            }
            _ => {
                let start_ms = self.began(kind);
                hold(ms, how);
                let end = now_abs();
                let ended = self.ended(kind, start_ms, end, true);
                self.pending.borrow_mut().push(ended);
            }
        }
    }
    fn durations(&self) -> Durations {
        self.durations
    }
}

/// The pool worker's side: get ready, then run each job and post back what happened.
pub fn start_worker() -> Box<dyn FnMut(String)> {
    Box::new(|text: String| match serde_json::from_str::<ToPool>(&text) {
        Ok(ToPool::Start {
            hold,
            log,
            place,
            gil,
        }) => {
            if let Hold::Compute { rounds_per_ms } = hold {
                warm_up(rounds_per_ms);
            }
            let gil = if gil {
                match Gil::from_buffer(&shared_field("gil")) {
                    Some(g) => Some(g),
                    None => {
                        return post_to_parent(&to_json(&FromPool::Failed {
                            message: "pool worker: started for pure-Python work without its process's GIL"
                                .into(),
                        }))
                    }
                }
            } else {
                None
            };
            KIND.with(|k| *k.borrow_mut() = (place, gil));
            wasm_bindgen_futures::spawn_local(async move {
                // This worker's own connection to the log, where the page has one.
                let log = match log {
                    Some(mut to) if to.db.is_ok() => {
                        to.db = log::open().await;
                        Some(to)
                    }
                    other => other,
                };
                LOG_TO.with(|l| *l.borrow_mut() = log);
                post_to_parent(&to_json(&FromPool::Ready));
            });
        }
        Ok(ToPool::Job {
            job,
            request,
            call,
            durations,
            hold,
            fault,
            t0_abs,
            pickle_ms,
        }) => {
            let start_abs = now_abs();
            let (place, gil) = KIND.with(|k| k.borrow().clone());
            // Without Atomics.wait a sleep would spin: play the job on timers instead
            // (pure-Python work needs a GIL, hence SharedArrayBuffer, so never here).
            let replay = !can_wait() && gil.is_none();
            let thread = Rc::new(WorkerThread {
                request,
                durations,
                hold,
                call: call.clone(),
                t0_abs,
                pending: RefCell::default(),
                logging: RefCell::default(),
                place,
                gil,
            });
            wasm_bindgen_futures::spawn_local(async move {
                // A process pool's call: unpickling the argument, the call, pickling the
                // result.
                let pickling = || async {
                    if pickle_ms > 0.0 {
                        if replay {
                            wait_until(now_abs() + pickle_ms / 2.0).await;
                        } else {
                            super::hold::hold(pickle_ms / 2.0, Hold::Sleep);
                        }
                    }
                };
                pickling().await;
                let result = match fault {
                    None if replay => {
                        let Script { ops, result } = script::record(&call, durations, false, Prints::Keep);
                        thread.play(ops).await;
                        result
                    }
                    None => Ok(call.call(&*thread)),
                    Some(Fault::Raise) => Err(Fault::Raise.raised()),
                    // A real panic: this worker dies, its owner hears of it and replaces it.
                    Some(Fault::Crash) => {
                        panic!("pool worker: a crash injected into request {request}'s job")
                    }
                };
                pickling().await;
                let progress = thread.pending.take();
                let logging = thread.logging.take();
                let done = move |logged, end_abs| {
                    post_to_parent(&to_json(&FromPool::Done(JobDone {
                        job,
                        request,
                        result,
                        logged,
                        progress,
                        start_abs,
                        end_abs,
                        posted_abs: 0.0,
                        received_abs: 0.0,
                    })))
                };
                match logging {
                    // The log task is done when its row is: once the database has it.
                    Some((mut entry, Some(write))) => {
                        let written = write.await;
                        entry.stored = written.is_ok();
                        entry.error = written.err();
                        done(Some(entry), now_abs());
                    }
                    Some((entry, None)) => done(Some(entry), now_abs()),
                    None => done(None, now_abs()),
                }
            });
        }
        Err(e) => post_to_parent(&to_json(&FromPool::Failed {
            message: format!("pool worker: bad job: {e}"),
        })),
    })
}

/// Where a pool sends its jobs' [`Progress`].
pub type ProgressSink = Box<dyn Fn(Vec<Progress>)>;

/// Told when a job is done (its id), or that the pool cannot go on (why).
pub type DoneSink = Box<dyn Fn(Result<u64, String>)>;

/// A job waiting for a free worker.
struct Queued {
    job: u64,
    message: ToPool,
}

/// What the pool's workers have said, and what waits for a worker.
struct Shared {
    progress: ProgressSink,
    on_done: DoneSink,
    /// Workers ready for jobs, by index, not yet taken as idle.
    ready: RefCell<Vec<usize>>,
    /// Woken when a worker is ready (the pool's start).
    ready_waiters: RefCell<Vec<Waker>>,
    done: RefCell<HashMap<u64, JobDone>>,
    failure: RefCell<Option<String>>,
}

impl Shared {
    fn on_message(self: &Rc<Self>, pool: &std::rc::Weak<Pool>, worker: usize, text: &str) {
        match serde_json::from_str::<FromPool>(text) {
            Ok(FromPool::Ready) => {
                self.ready.borrow_mut().push(worker);
                wake_all(&self.ready_waiters);
                if let Some(pool) = pool.upgrade() {
                    pool.dispatch();
                }
            }
            Ok(FromPool::Progress { items }) => (self.progress)(items),
            Ok(FromPool::Done(mut done)) => {
                done.received_abs = now_abs();
                if let Some(pool) = pool.upgrade() {
                    done.posted_abs = pool
                        .posted
                        .borrow_mut()
                        .remove(&done.job)
                        .unwrap_or(done.start_abs);
                    pool.busy.borrow_mut().remove(&worker);
                    pool.idle.borrow_mut().push(worker);
                    pool.dispatch();
                }
                self.finish(done);
            }
            Ok(FromPool::Failed { message }) => self.fail(message),
            Err(e) => self.fail(format!("pool worker sent {text:?}: {e}")),
        }
    }

    fn finish(&self, done: JobDone) {
        let job = done.job;
        self.done.borrow_mut().insert(job, done);
        (self.on_done)(Ok(job));
    }

    /// The pool cannot go on: its owner hears it.
    fn fail(&self, message: String) {
        if self.failure.borrow().is_some() {
            return;
        }
        *self.failure.borrow_mut() = Some(message.clone());
        wake_all(&self.ready_waiters);
        (self.on_done)(Err(message));
    }
}

fn wake_all(wakers: &RefCell<Vec<Waker>>) {
    for w in wakers.take() {
        w.wake();
    }
}

/// How a pool's workers are set up.
#[derive(Clone)]
pub struct Setup {
    pub durations: Durations,
    pub hold: Hold,
    pub log: Option<LogTo>,
    pub place: Place,
    /// Its pure-Python work takes the GIL its workers were started with.
    pub gil: bool,
    pub pickle_ms: f64,
}

/// The owner's handle on a pool's workers: jobs go to an idle worker, or wait for one,
/// first come first served.
pub struct Pool {
    workers: RefCell<Vec<Peer>>,
    idle: RefCell<Vec<usize>>,
    /// The job each busy worker runs, and its request.
    busy: RefCell<HashMap<usize, (u64, u64)>>,
    /// When each job running was posted to its worker.
    posted: RefCell<HashMap<u64, f64>>,
    queue: RefCell<VecDeque<Queued>>,
    shared: Rc<Shared>,
    next_job: Cell<u64>,
    setup: Setup,
}

/// A peer to pool worker `worker`, asked to get ready as `setup` says.
fn connect(
    shared: &Rc<Shared>,
    pool: std::rc::Weak<Pool>,
    worker: usize,
    port: web_sys::MessagePort,
    setup: &Setup,
) -> Peer {
    let s = shared.clone();
    let peer = Peer::new(port, move |text| s.on_message(&pool, worker, &text));
    peer.post(&to_json(&ToPool::Start {
        hold: setup.hold,
        log: setup.log.clone(),
        place: setup.place,
        gil: setup.gil,
    }));
    peer
}

impl Pool {
    /// Takes the workers the page started (a port to each), gets each ready as `setup`
    /// says and waits until all are. Each job's progress goes to `progress`; `on_done`
    /// hears each job's end (then [`Pool::take_done`] has it), or why the pool failed.
    pub async fn start(
        ports: Vec<web_sys::MessagePort>,
        setup: Setup,
        progress: ProgressSink,
        on_done: DoneSink,
    ) -> Result<Rc<Pool>, String> {
        let shared = Rc::new(Shared {
            progress,
            on_done,
            ready: RefCell::default(),
            ready_waiters: RefCell::default(),
            done: RefCell::default(),
            failure: RefCell::default(),
        });
        let n = ports.len();
        let pool = Rc::new_cyclic(|me: &std::rc::Weak<Pool>| Pool {
            workers: RefCell::new(
                ports
                    .into_iter()
                    .enumerate()
                    .map(|(i, port)| connect(&shared, me.clone(), i, port, &setup))
                    .collect(),
            ),
            idle: RefCell::default(),
            busy: RefCell::default(),
            posted: RefCell::default(),
            queue: RefCell::default(),
            shared: shared.clone(),
            next_job: Cell::new(0),
            setup,
        });
        poll_fn(|cx| {
            if let Some(f) = shared.failure.borrow().clone() {
                return Poll::Ready(Err(f));
            }
            if shared.ready.borrow().len() + pool.idle.borrow().len() == n {
                return Poll::Ready(Ok(()));
            }
            shared.ready_waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        Ok(pool)
    }

    pub fn workers(&self) -> usize {
        self.workers.borrow().len()
    }

    /// Gives waiting jobs to idle workers, first come first served.
    fn dispatch(&self) {
        self.idle.borrow_mut().append(&mut self.shared.ready.borrow_mut());
        loop {
            if self.queue.borrow().is_empty() {
                return;
            }
            let Some(worker) = self.idle.borrow_mut().pop() else {
                return;
            };
            let Queued { job, message } = self.queue.borrow_mut().pop_front().expect("not empty");
            if let ToPool::Job { request, .. } = &message {
                self.busy.borrow_mut().insert(worker, (job, *request));
            }
            self.posted.borrow_mut().insert(job, now_abs());
            self.workers.borrow()[worker].post(&to_json(&message));
        }
    }

    /// Sends `call` for `request` to a worker, now if one is idle, else when one is
    /// (first come first served); `fault` makes it fail; `t0_abs` is the run's time 0.
    /// Returns the job's id: `on_done` hears it when it is done.
    pub fn submit(&self, request: u64, call: SyncCall, fault: Option<Fault>, t0_abs: f64) -> u64 {
        let job = self.next_job.get();
        self.next_job.set(job + 1);
        self.queue.borrow_mut().push_back(Queued {
            job,
            message: ToPool::Job {
                job,
                request,
                call,
                durations: self.setup.durations,
                hold: self.setup.hold,
                fault,
                t0_abs,
                pickle_ms: self.setup.pickle_ms,
            },
        });
        self.dispatch();
        job
    }

    /// What job `job` did, once `on_done` has said it is done.
    pub fn take_done(&self, job: u64) -> Option<JobDone> {
        self.shared.done.borrow_mut().remove(&job)
    }

    /// Worker `worker` died (`message`); `port` talks to the one the page started in its
    /// place. Its job, if it had one, ends as an exception for whoever awaits it.
    pub fn replace(
        self: &Rc<Self>,
        worker: usize,
        port: web_sys::MessagePort,
        message: &str,
    ) -> Result<(), String> {
        if worker >= self.workers() {
            return Err(format!(
                "worker {worker} died, but the pool has {} workers",
                self.workers()
            ));
        }
        let peer = connect(&self.shared, Rc::downgrade(self), worker, port, &self.setup);
        self.workers.borrow_mut()[worker] = peer;
        if let Some((job, request)) = self.busy.borrow_mut().remove(&worker) {
            let now = now_abs();
            self.shared.finish(JobDone {
                job,
                request,
                result: Err(Raised(format!("the pool thread running the job died: {message}"))),
                logged: None,
                progress: Vec::new(),
                start_abs: now,
                end_abs: now,
                posted_abs: now,
                received_abs: now,
            });
        }
        Ok(())
    }
}
