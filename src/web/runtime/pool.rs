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
use super::hold::{hold, warm_up, Hold};
use super::log;
use super::now_abs;
use super::protocol::{to_json, FromPool, JobDone, LogTo, Progress, ToPool};
use super::worker::{post_to_parent, shared_field, Peer};
use loopscope::model::Raised;
use loopscope::model::{Durations, Fault, LogEntry, Phase, PhaseKind, Place};
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
type Logging = (
    LogEntry,
    Option<Pin<Box<dyn Future<Output = Result<(), String>>>>>,
);

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
                Ok(write) => Some(Box::pin(write) as Pin<Box<dyn Future<Output = Result<(), String>>>>),
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
        let request = self.request;
        if kind == PhaseKind::Background {
            self.log();
        }
        let on = self.place;
        self.pending.borrow_mut().push(Progress::Began {
            request,
            phase: kind,
            on,
            start_abs: now_abs(),
        });
        let items = self.pending.take();
        post_to_parent(&to_json(&FromPool::Progress { items }));
        let how = self.hold.for_kind(kind);
        let phase = |kind, (start_ms, end_ms), blocking| Progress::Ended {
            request,
            phase: Phase {
                kind,
                start_ms,
                end_ms,
                on,
                blocking,
            },
        };
        match (&self.gil, kind) {
            // Pure Python: computes only while it holds the GIL, in slices.
            (Some(gil), PhaseKind::Cpu) => {
                let slices = compute_holding(gil, ms, |chunk| hold(chunk, how));
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
                // The phase starts once the page has been told: posting is not part of it.
                let start_ms = now_abs();
                hold(ms, how);
                let end = now_abs();
                self.pending.borrow_mut().push(phase(kind, (start_ms, end), true));
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
            let thread = WorkerThread {
                request,
                durations,
                hold,
                call: call.clone(),
                t0_abs,
                pending: RefCell::default(),
                logging: RefCell::default(),
                place,
                gil,
            };
            // A process pool's call: unpickling the argument, the call, pickling the result.
            let pickling = || {
                if pickle_ms > 0.0 {
                    super::hold::hold(pickle_ms / 2.0, Hold::Sleep);
                }
            };
            pickling();
            let result = match fault {
                None => Ok(call.call(&thread)),
                Some(Fault::Raise) => Err(Fault::Raise.raised()),
                // A real panic: this worker dies, its owner hears of it and replaces it.
                Some(Fault::Crash) => panic!("pool worker: a crash injected into request {request}'s job"),
            };
            pickling();
            let progress = thread.pending.take();
            let done = move |logged, end_abs| {
                post_to_parent(&to_json(&FromPool::Done(JobDone {
                    job,
                    request,
                    result,
                    logged,
                    progress,
                    start_abs,
                    end_abs,
                })))
            };
            match thread.logging.take() {
                // The log task is done when its row is: once the database has it.
                Some((mut entry, Some(write))) => wasm_bindgen_futures::spawn_local(async move {
                    let written = write.await;
                    entry.stored = written.is_ok();
                    entry.error = written.err();
                    done(Some(entry), now_abs());
                }),
                Some((entry, None)) => done(Some(entry), now_abs()),
                None => done(None, now_abs()),
            }
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
            Ok(FromPool::Done(done)) => {
                if let Some(pool) = pool.upgrade() {
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
            });
        }
        Ok(())
    }
}
