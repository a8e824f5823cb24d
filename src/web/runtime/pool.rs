//! The threadpool: Web Workers that run [`SyncCall`]s, and the server's handle on them.
//!
//! A run has `Config::pool_threads` workers, ready before its clock starts and reused
//! for every job. The page starts them when the server asks and terminates them when
//! the run ends; the server holds one end of a `MessageChannel` to each ([`Peer`]).
//! A worker that dies (a panic in its job) is replaced: its job ends as an exception
//! for the coroutine awaiting it, and a new worker takes its place.

use super::hold::{hold, warm_up, Hold};
use super::log;
use super::now_abs;
use super::protocol::{to_json, FromPool, JobDone, LogTo, Progress, ToPool};
use super::worker::{post_to_parent, Peer};
use loopscope::model::Raised;
use loopscope::model::{Durations, Fault, LogEntry, Phase, PhaseKind, Place};
use loopscope::runtime::SyncCall;
use loopscope::runtime::Thread;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

thread_local! {
    /// Where this worker's log tasks write, as the server said at start.
    static LOG_TO: RefCell<Option<LogTo>> = const { RefCell::new(None) };
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
    fn print(&self, text: &str) {
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
        self.pending.borrow_mut().push(Progress::Began {
            request,
            phase: kind,
            start_abs: now_abs(),
        });
        let items = self.pending.take();
        post_to_parent(&to_json(&FromPool::Progress { items }));
        // The phase starts once the page has been told: posting is not part of it.
        let start_ms = now_abs();
        hold(ms, self.hold.for_kind(kind));
        let phase = Phase {
            kind,
            start_ms,
            end_ms: now_abs(),
            on: Place::Pool,
            blocking: true,
        };
        self.pending.borrow_mut().push(Progress::Ended { request, phase });
    }
    fn durations(&self) -> Durations {
        self.durations
    }
}

/// The pool worker's side: get ready, then run each job and post back what happened.
pub fn start_worker() -> Box<dyn FnMut(String)> {
    Box::new(|text: String| match serde_json::from_str::<ToPool>(&text) {
        Ok(ToPool::Start { hold, log }) => {
            if let Hold::Compute { rounds_per_ms } = hold {
                warm_up(rounds_per_ms);
            }
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
        }) => {
            let thread = WorkerThread {
                request,
                durations,
                hold,
                call: call.clone(),
                t0_abs,
                pending: RefCell::default(),
                logging: RefCell::default(),
            };
            let result = match fault {
                None => Ok(call.call(&thread)),
                Some(Fault::Raise) => Err(Fault::Raise.raised()),
                // A real panic: this worker dies, its owner hears of it and replaces it.
                Some(Fault::Crash) => panic!("pool worker: a crash injected into request {request}'s job"),
            };
            let progress = thread.pending.take();
            let done = move |logged, end_abs| {
                post_to_parent(&to_json(&FromPool::Done(JobDone {
                    job,
                    request,
                    result,
                    logged,
                    progress,
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

/// What the pool's workers have said, and who waits for what.
#[derive(Default)]
struct Shared {
    progress: Option<ProgressSink>,
    /// Workers ready for jobs, by index, not yet taken as idle.
    ready: RefCell<Vec<usize>>,
    /// Woken when a worker is ready (the pool's start, a job waiting for a worker).
    ready_waiters: RefCell<Vec<Waker>>,
    done: RefCell<HashMap<u64, JobDone>>,
    waiting: RefCell<HashMap<u64, Waker>>,
    failure: RefCell<Option<String>>,
}

impl Shared {
    fn on_message(&self, worker: usize, text: &str) {
        match serde_json::from_str::<FromPool>(text) {
            Ok(FromPool::Ready) => {
                self.ready.borrow_mut().push(worker);
                wake_all(&self.ready_waiters);
            }
            Ok(FromPool::Progress { items }) => {
                if let Some(sink) = &self.progress {
                    sink(items);
                }
            }
            Ok(FromPool::Done(done)) => self.finish(done),
            Ok(FromPool::Failed { message }) => self.fail(message),
            Err(e) => self.fail(format!("pool worker sent {text:?}: {e}")),
        }
    }

    fn finish(&self, done: JobDone) {
        let job = done.job;
        self.done.borrow_mut().insert(job, done);
        if let Some(w) = self.waiting.borrow_mut().remove(&job) {
            w.wake();
        }
    }

    /// The pool cannot go on: every waiter hears it.
    fn fail(&self, message: String) {
        self.failure.borrow_mut().get_or_insert(message);
        wake_all(&self.ready_waiters);
        for (_, w) in self.waiting.borrow_mut().drain() {
            w.wake();
        }
    }
}

fn wake_all(wakers: &RefCell<Vec<Waker>>) {
    for w in wakers.take() {
        w.wake();
    }
}

/// The server's handle on its pool workers.
pub struct Pool {
    workers: RefCell<Vec<Peer>>,
    idle: RefCell<Vec<usize>>,
    /// The job each busy worker runs.
    busy: RefCell<HashMap<usize, (u64, u64)>>,
    shared: Rc<Shared>,
    next_job: Cell<u64>,
    durations: Durations,
    hold: Hold,
    log: Option<LogTo>,
}

/// A peer to pool worker `worker`, asked to get ready for jobs held by `hold`.
fn connect(
    shared: &Rc<Shared>,
    worker: usize,
    port: web_sys::MessagePort,
    hold: Hold,
    log: &Option<LogTo>,
) -> Peer {
    let s = shared.clone();
    let peer = Peer::new(port, move |text| s.on_message(worker, &text));
    peer.post(&to_json(&ToPool::Start {
        hold,
        log: log.clone(),
    }));
    peer
}

impl Pool {
    /// Takes the pool workers the page started (a port to each), gets each ready for
    /// `hold` (and to log to `log`) and waits until all are; each job's progress goes to
    /// `progress`.
    pub async fn start(
        ports: Vec<web_sys::MessagePort>,
        durations: Durations,
        hold: Hold,
        log: Option<LogTo>,
        progress: ProgressSink,
    ) -> Result<Pool, String> {
        let shared = Rc::new(Shared {
            progress: Some(progress),
            ..Shared::default()
        });
        let n = ports.len();
        let workers: Vec<Peer> = ports
            .into_iter()
            .enumerate()
            .map(|(i, port)| connect(&shared, i, port, hold, &log))
            .collect();
        poll_fn(|cx| {
            if let Some(f) = shared.failure.borrow().clone() {
                return Poll::Ready(Err(f));
            }
            if shared.ready.borrow().len() >= n {
                return Poll::Ready(Ok(()));
            }
            shared.ready_waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        Ok(Pool {
            workers: RefCell::new(workers),
            idle: RefCell::new(Vec::new()),
            busy: RefCell::default(),
            shared,
            next_job: Cell::new(0),
            durations,
            hold,
            log,
        })
    }

    /// How many pool workers there are.
    pub fn workers(&self) -> usize {
        self.workers.borrow().len()
    }

    /// Pool worker `worker` died (`message`); `port` leads to the one the page started
    /// in its place. The job it ran, if any, ends as an exception; the new worker takes
    /// jobs once it is ready.
    pub fn replace(&self, worker: usize, port: web_sys::MessagePort, message: &str) -> Result<(), String> {
        let mut workers = self.workers.borrow_mut();
        let slot = workers.get_mut(worker).ok_or_else(|| {
            format!(
                "the page replaced pool worker {worker}, but the pool has {}",
                self.workers()
            )
        })?;
        *slot = connect(&self.shared, worker, port, self.hold, &self.log);
        if let Some((job, request)) = self.busy.borrow_mut().remove(&worker) {
            self.shared.finish(JobDone {
                job,
                request,
                result: Err(Raised(format!("the pool thread running the job died: {message}"))),
                logged: None,
                progress: Vec::new(),
                end_abs: now_abs(),
            });
        }
        Ok(())
    }

    /// An idle worker, once there is one: the caller holds a limiter token, so one is,
    /// unless a replacement is still getting ready.
    async fn idle_worker(&self) -> Result<usize, String> {
        poll_fn(|cx| {
            if let Some(f) = self.shared.failure.borrow().clone() {
                return Poll::Ready(Err(f));
            }
            self.idle.borrow_mut().append(&mut self.shared.ready.borrow_mut());
            match self.idle.borrow_mut().pop() {
                Some(worker) => Poll::Ready(Ok(worker)),
                None => {
                    self.shared.ready_waiters.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Runs `call` for `request` on an idle worker; `fault` makes it fail; `t0_abs` is the
    /// run's time 0. Fails only when the pool itself cannot go on.
    pub async fn run(
        &self,
        request: u64,
        call: SyncCall,
        fault: Option<Fault>,
        t0_abs: f64,
    ) -> Result<JobDone, String> {
        let worker = self.idle_worker().await?;
        let job = self.next_job.get();
        self.next_job.set(job + 1);
        self.busy.borrow_mut().insert(worker, (job, request));
        self.workers.borrow()[worker].post(&to_json(&ToPool::Job {
            job,
            request,
            call,
            durations: self.durations,
            hold: self.hold,
            fault,
            t0_abs,
        }));
        let result = poll_fn(|cx| {
            if let Some(done) = self.shared.done.borrow_mut().remove(&job) {
                return Poll::Ready(Ok(done));
            }
            if let Some(f) = self.shared.failure.borrow().clone() {
                return Poll::Ready(Err(f));
            }
            self.shared.waiting.borrow_mut().insert(job, cx.waker().clone());
            Poll::Pending
        })
        .await;
        // A worker that died is not idle: its replacement says when it is ready.
        if self.busy.borrow_mut().remove(&worker).is_some() {
            self.idle.borrow_mut().push(worker);
        }
        result
    }
}
