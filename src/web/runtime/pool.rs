//! The threadpool: Web Workers that run [`SyncCall`]s, and the server's handle on them.
//!
//! A run has [`crate::Config::pool_threads`] workers, ready before its clock starts and
//! reused for every job. The page starts them when the server asks and terminates them
//! when the run ends; the server holds one end of a `MessageChannel` to each
//! ([`Peer`]).

use super::hold::{hold, warm_up, Hold};
use super::now_abs;
use super::protocol::{to_json, FromPool, JobDone, Progress, ToPool};
use super::worker::{post_to_parent, Peer};
use loopscope::flows::SyncCall;
use loopscope::model::{Durations, Phase, PhaseKind, Place};
use loopscope::runtime::Thread;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// A pool worker thread running one job.
struct WorkerThread {
    request: u64,
    durations: Durations,
    hold: Hold,
    /// Progress not yet posted.
    pending: RefCell<Vec<Progress>>,
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
pub(super) fn start_worker() -> Box<dyn FnMut(String)> {
    Box::new(|text: String| {
        let reply = match serde_json::from_str::<ToPool>(&text) {
            Ok(ToPool::Start { hold }) => {
                if let Hold::Compute { rounds_per_ms } = hold {
                    warm_up(rounds_per_ms);
                }
                FromPool::Ready
            }
            Ok(ToPool::Job {
                job,
                request,
                call,
                durations,
                hold,
            }) => {
                let thread = WorkerThread {
                    request,
                    durations,
                    hold,
                    pending: RefCell::default(),
                };
                let result = call.call(&thread);
                FromPool::Done(JobDone {
                    job,
                    request,
                    result,
                    progress: thread.pending.take(),
                    end_abs: now_abs(),
                })
            }
            Err(e) => FromPool::Failed {
                message: format!("pool worker: bad job: {e}"),
            },
        };
        post_to_parent(&to_json(&reply));
    })
}

/// Where a pool sends its jobs' [`Progress`].
pub type ProgressSink = Box<dyn Fn(Vec<Progress>)>;

#[derive(Default)]
struct Shared {
    progress: Option<ProgressSink>,
    ready: Cell<usize>,
    waker: RefCell<Option<Waker>>,
    done: RefCell<HashMap<u64, JobDone>>,
    waiting: RefCell<HashMap<u64, Waker>>,
    failure: RefCell<Option<String>>,
}

impl Shared {
    fn on_message(&self, text: &str) {
        match serde_json::from_str::<FromPool>(text) {
            Ok(FromPool::Ready) => {
                self.ready.set(self.ready.get() + 1);
                if let Some(w) = self.waker.borrow_mut().take() {
                    w.wake();
                }
            }
            Ok(FromPool::Progress { items }) => {
                if let Some(sink) = &self.progress {
                    sink(items);
                }
            }
            Ok(FromPool::Done(done)) => {
                let job = done.job;
                self.done.borrow_mut().insert(job, done);
                if let Some(w) = self.waiting.borrow_mut().remove(&job) {
                    w.wake();
                }
            }
            Ok(FromPool::Failed { message }) => self.fail(message),
            Err(e) => self.fail(format!("pool worker sent {text:?}: {e}")),
        }
    }

    fn fail(&self, message: String) {
        self.failure.borrow_mut().get_or_insert(message);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
        for (_, w) in self.waiting.borrow_mut().drain() {
            w.wake();
        }
    }
}

/// The server's handle on its pool workers.
pub struct Pool {
    workers: Vec<Peer>,
    idle: RefCell<Vec<usize>>,
    shared: Rc<Shared>,
    next_job: Cell<u64>,
    durations: Durations,
    hold: Hold,
}

impl Pool {
    /// Takes the pool workers the page started (a port to each), gets each ready for
    /// `hold` and waits until all are; each job's progress goes to `progress`.
    pub async fn start(
        ports: Vec<web_sys::MessagePort>,
        durations: Durations,
        hold: Hold,
        progress: ProgressSink,
    ) -> Result<Pool, String> {
        let shared = Rc::new(Shared {
            progress: Some(progress),
            ..Shared::default()
        });
        let n = ports.len();
        let workers: Vec<Peer> = ports
            .into_iter()
            .map(|port| {
                let s = shared.clone();
                let peer = Peer::new(port, move |text| s.on_message(&text));
                peer.post(&to_json(&ToPool::Start { hold }));
                peer
            })
            .collect();
        poll_fn(|cx| {
            if let Some(f) = shared.failure.borrow().clone() {
                return Poll::Ready(Err(f));
            }
            if shared.ready.get() >= n {
                return Poll::Ready(Ok(()));
            }
            *shared.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        Ok(Pool {
            idle: RefCell::new((0..n).rev().collect()),
            workers,
            shared,
            next_job: Cell::new(0),
            durations,
            hold,
        })
    }

    /// How many pool workers there are.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Runs `call` on an idle worker. The caller holds a limiter token, so one is idle.
    pub async fn run(&self, request: u64, call: SyncCall) -> Result<JobDone, String> {
        let worker = self
            .idle
            .borrow_mut()
            .pop()
            .ok_or("no idle pool worker: more jobs in flight than workers")?;
        let job = self.next_job.get();
        self.next_job.set(job + 1);
        self.workers[worker].post(&to_json(&ToPool::Job {
            job,
            request,
            call,
            durations: self.durations,
            hold: self.hold,
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
        self.idle.borrow_mut().push(worker);
        result
    }
}
