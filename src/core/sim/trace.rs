//! Inside the loop: asyncio's own queues at every moment of a predicted run, and the
//! run as the list of its loops' iterations (`BaseEventLoop._run_once`): what each
//! polled, the timers it found due, the callbacks it ran, in order.
//!
//! The names are a Python programmer's: the ready queue is `loop._ready`, the timers
//! `loop._scheduled`, the connections the selector has not read yet are the listening
//! socket's backlog, the threadpool is anyio's `CapacityLimiter` (its borrowers and its
//! FIFO line of waiters), the GIL has a holder, waiters and a drop request. Kept only
//! when asked for (a trace of a big run would be as big as the run): runs of up to
//! [`MAX_TRACE_REQUESTS`] requests.

use super::gil::Who;
use super::{Callback, Sim};
use crate::model::{Config, ConfigError};
use serde::{Deserialize, Serialize};

/// Most requests a traced run takes.
pub const MAX_TRACE_REQUESTS: u64 = 2_000;

/// An entry of a queue: which request it is about (none for the server's own), what
/// kind of callback it is, and what it is, in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub request: Option<u64>,
    pub kind: Kind,
    pub what: String,
}

/// What a callback of the ready queue does (a connection's entry is a `Read`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// uvicorn's protocol reads a request and starts its task (`data_received`).
    Read,
    /// A task's step (`Task.__step`): the coroutine runs to its next `await`.
    Step,
    /// A future completes (a timer's `_set_result_unless_cancelled`, or a thread's
    /// `call_soon_threadsafe`), and puts its task's next step on the ready queue.
    Done,
}

/// A timer in `loop._scheduled`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimerState {
    pub due_ms: f64,
    pub request: Option<u64>,
    pub what: String,
}

/// anyio's `CapacityLimiter`: the threadpool's tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolState {
    pub borrowed: u64,
    pub total: u64,
    /// Requests holding a token, in the order they got it.
    pub borrowers: Vec<u64>,
    /// Requests waiting for one, first in line first.
    pub waiting: Vec<u64>,
}

/// The process's GIL (pure-Python work only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GilState {
    /// "the event loop", or the request whose thread holds it.
    pub holder: Option<String>,
    pub waiting: Vec<String>,
    /// When the holder is asked to drop it (`gil_drop_request`), if anyone waits.
    pub drop_request_ms: Option<f64>,
}

/// Workers taking jobs first come, first served: a process pool, the task queue's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkersState {
    pub busy: u64,
    pub total: u64,
    /// Requests whose job waits for a worker, first in line first.
    pub waiting: Vec<u64>,
}

/// One server worker's loop at a moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    pub t_ms: f64,
    pub worker: u64,
    /// The callback the loop is running at this moment, if one holds it (a step that
    /// blocks: `time.sleep` in an `async def`).
    pub running: Option<Item>,
    /// `loop._ready`: the callbacks still to run, in order (those of the iteration
    /// going on first).
    pub ready: Vec<Item>,
    /// `loop._scheduled`: the timers, earliest first.
    pub timers: Vec<TimerState>,
    /// Connections the selector has not read yet.
    pub sockets: Vec<Item>,
    pub pool: PoolState,
    pub gil: Option<GilState>,
    pub processes: Option<WorkersState>,
    pub queue: Option<WorkersState>,
    /// Requests answered whose background tasks have not finished.
    pub background: Vec<u64>,
}

/// One `_run_once` of one worker's loop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Iteration {
    /// Its place in the run, across workers.
    pub n: u64,
    pub worker: u64,
    pub start_ms: f64,
    /// When its last callback returned: later than the start by what blocked the loop.
    pub end_ms: f64,
    /// What its poll found: requests read (uvicorn's `data_received`).
    pub polled: Vec<Item>,
    /// The timers due it moved to the ready queue.
    pub timers: Vec<TimerState>,
    /// The callbacks it ran, in order.
    pub ran: Vec<Item>,
    /// The loop after it.
    pub state: LoopState,
}

/// A traced run: every iteration of its loops, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub iterations: Vec<Iteration>,
}

/// The run `config` describes, traced. Refused past [`MAX_TRACE_REQUESTS`].
pub fn trace(config: &Config) -> Result<Trace, ConfigError> {
    traceable(config)?;
    Ok(super::run_traced(config))
}

/// Worker `worker`'s loop at `t_ms` of the predicted run: everything due at or before
/// `t_ms` done (before 0 ms: the first requests sent, nothing read yet).
pub fn loop_state(config: &Config, t_ms: f64, worker: u64) -> Result<LoopState, ConfigError> {
    if worker >= config.workers {
        return Err(ConfigError::new(
            "worker",
            format!("worker must be from 0 to {}, got {worker}", config.workers - 1),
        ));
    }
    if !t_ms.is_finite() {
        return Err(ConfigError::new(
            "t_ms",
            format!(
                "t_ms must be a time in ms, got {}",
                crate::model::config::js_number(t_ms)
            ),
        ));
    }
    traceable(config)?;
    Ok(super::states_at(config, t_ms).swap_remove(worker as usize))
}

/// A valid config of at most [`MAX_TRACE_REQUESTS`] requests, or what is wrong with it.
fn traceable(config: &Config) -> Result<(), ConfigError> {
    config.validate()?;
    if config.requests > MAX_TRACE_REQUESTS {
        return Err(ConfigError::new(
            "requests",
            format!(
                "requests must be at most {MAX_TRACE_REQUESTS} to trace every iteration of the loop, got {}",
                config.requests
            ),
        ));
    }
    Ok(())
}

impl Sim {
    /// Every loop at `t_ms`, with `server`'s loop running `rest[0]` and the rest of its
    /// iteration's batch ready before what is queued for the next.
    pub(super) fn snapshot_running(&self, server: usize, t_ms: f64, rest: &[Callback]) -> Vec<LoopState> {
        let mut states = self.snapshot(t_ms);
        let w = self.world.borrow();
        let described: Vec<Item> = rest.iter().map(|&c| self.describe_with(&w, c)).collect();
        let s = &mut states[server];
        let mut ready: Vec<Item> = described[1..].to_vec();
        ready.append(&mut s.ready);
        s.ready = ready;
        s.running = described.into_iter().next();
        states
    }

    /// A timer of a traced run, in words.
    pub(super) fn timer_state(w: &super::World, signal: usize, due_ms: f64) -> TimerState {
        let (request, what) = label(w, signal, "a timer");
        TimerState {
            due_ms,
            request,
            what,
        }
    }

    /// What a callback of the ready queue is, in words.
    pub(super) fn describe(&self, callback: Callback) -> Item {
        let w = self.world.borrow();
        self.describe_with(&w, callback)
    }

    /// Every worker's loop as it stands now (`t_ms` on the run's clock).
    pub(super) fn snapshot(&self, t_ms: f64) -> Vec<LoopState> {
        let w = self.world.borrow();
        let config = &w.config;
        (0..w.servers.len())
            .map(|server| {
                let s = &w.servers[server];
                let ready: Vec<Callback> = w.readies[server]
                    .lock()
                    .expect("ready queue")
                    .iter()
                    .copied()
                    .collect();
                let mut timers: Vec<TimerState> = s
                    .timers
                    .iter()
                    .map(|t| Self::timer_state(&w, t.signal, t.when))
                    .collect();
                timers.sort_by(|a, b| a.due_ms.total_cmp(&b.due_ms));
                let mut sockets: Vec<Item> = s
                    .inbox
                    .iter()
                    .map(|&r| Item {
                        request: Some(r),
                        kind: Kind::Read,
                        what: format!("request {r}, accepted by this worker, not read yet"),
                    })
                    .collect();
                if server == 0 || config.workers == 1 {
                    sockets.extend(w.accept_queue.iter().map(|&r| Item {
                        request: Some(r),
                        kind: Kind::Read,
                        what: format!("request {r}, waiting in the listening socket's backlog"),
                    }));
                }
                let limiter = &self.limiters[server];
                let who = |who: Who| match who {
                    Who::Loop => "the event loop".to_string(),
                    Who::Thread(k) => match s.threads.get(k).and_then(Option::as_ref) {
                        Some(t) => format!("req {}'s thread", t.request),
                        None => format!("thread {k}"),
                    },
                };
                let gil = w.gil_on.then(|| GilState {
                    holder: s.gil.holder().map(who),
                    waiting: s.gil.waiting().into_iter().map(who).collect(),
                    drop_request_ms: s.gil.drop_due(),
                });
                let processes =
                    (config.variant == crate::model::Variant::ProcessPool).then(|| WorkersState {
                        busy: config.processes - s.processes.idle,
                        total: config.processes,
                        waiting: s.processes.waiting.iter().map(|j| j.request).collect(),
                    });
                let queue = (config.variant == crate::model::Variant::TaskQueue && server == 0).then(|| {
                    WorkersState {
                        busy: config.queue_workers - w.queue.idle,
                        total: config.queue_workers,
                        waiting: w.queue.waiting.iter().map(|j| j.request).collect(),
                    }
                });
                let background = w.background_pending.iter().copied().collect();
                LoopState {
                    t_ms,
                    worker: server as u64,
                    running: None,
                    ready: ready.into_iter().map(|c| self.describe_with(&w, c)).collect(),
                    timers,
                    sockets,
                    pool: PoolState {
                        borrowed: limiter.in_use(),
                        total: limiter.total(),
                        borrowers: limiter.borrowers(),
                        waiting: limiter.waiters(),
                    },
                    gil,
                    processes,
                    queue,
                    background,
                }
            })
            .collect()
    }

    /// [`Sim::describe`] with the world already borrowed.
    fn describe_with(&self, w: &super::World, callback: Callback) -> Item {
        match callback {
            Callback::Step(task) => match self.tasks.get(task).and_then(Option::as_ref) {
                Some(slot) => Item {
                    request: Some(slot.request),
                    kind: Kind::Step,
                    what: format!("req {}: {}", slot.request, slot.waiting.get()),
                },
                None => Item {
                    request: None,
                    kind: Kind::Step,
                    what: "a finished task".into(),
                },
            },
            Callback::Fire(signal) => {
                let (request, what) = label(w, signal, "a future's callback");
                Item {
                    request,
                    kind: Kind::Done,
                    what: format!("{what}: wakes its task"),
                }
            }
            Callback::Read(request) => Item {
                request: Some(request),
                kind: Kind::Read,
                what: format!("read request {request} (uvicorn's data_received)"),
            },
        }
    }
}

/// What a traced run's future `signal` is about (its request, in words), else `unnamed`.
fn label(w: &super::World, signal: usize, unnamed: &str) -> (Option<u64>, String) {
    w.labels
        .as_ref()
        .and_then(|l| l.get(&signal).cloned())
        .unwrap_or((None, unnamed.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Variant;

    fn full_async_10_on_4_tokens() -> Config {
        Config {
            variant: Variant::FullAsync,
            requests: 10,
            concurrency: 10,
            io_ms: 100.0,
            cpu_ms: 200.0,
            tokens: 4,
            ..Config::default()
        }
    }

    /// The requests' timers (uvicorn's own would be marked in `what`; none are modelled).
    fn request_timers(s: &LoopState) -> usize {
        s.timers.iter().filter(|t| t.request.is_some()).count()
    }

    #[test]
    fn ten_fetches_then_four_tokens_lent_and_the_rest_in_line() {
        let config = full_async_10_on_4_tokens();
        // t, the requests' timers, tokens borrowed, waiting for one.
        let table = [
            (50.0, Some(10), 4 - 4, 0),
            (150.0, Some(0), 4, 6),
            (350.0, Some(0), 4, 2),
            (550.0, Some(0), 2, 0),
            (750.0, None, 0, 0),
        ];
        for (t, timers, borrowed, waiting) in table {
            let s = loop_state(&config, t, 0).unwrap();
            if let Some(n) = timers {
                assert_eq!(request_timers(&s), n, "timers at {t}: {:?}", s.timers);
            }
            assert_eq!(s.pool.borrowed, borrowed, "borrowed at {t}: {s:?}");
            assert_eq!(s.pool.waiting.len(), waiting, "waiting at {t}: {s:?}");
            assert_eq!(s.pool.borrowers.len() as u64, s.pool.borrowed);
            assert_eq!(s.pool.total, 4);
        }
        // At 50 ms each fetch's timer is due at 100 ms, and names its request.
        let s = loop_state(&config, 50.0, 0).unwrap();
        assert!(
            s.timers.iter().all(|t| (t.due_ms - 100.0).abs() < 1.0),
            "{:?}",
            s.timers
        );
        let mut who: Vec<u64> = s.timers.iter().filter_map(|t| t.request).collect();
        who.sort_unstable();
        assert_eq!(who, (0..10).collect::<Vec<_>>());
        assert!(s.timers[0].what.contains("fetch"), "{:?}", s.timers[0]);
        // At 150 ms: the first four in line hold the tokens, the next six wait in order.
        let s = loop_state(&config, 150.0, 0).unwrap();
        assert_eq!(s.pool.borrowers, vec![0, 1, 2, 3]);
        assert_eq!(s.pool.waiting, vec![4, 5, 6, 7, 8, 9]);
        assert!(s.gil.is_none() && s.processes.is_none() && s.queue.is_none());
    }

    #[test]
    fn inside_an_iteration_that_blocks_one_step_runs_and_the_rest_are_ready() {
        // The blocking endpoint: at 2 s of the tutorial the loop runs req 1's step
        // (its time.sleep), and req 2-9's first steps wait in the ready queue.
        let config = Config {
            variant: Variant::Blocking,
            ..Config::default()
        };
        let s = loop_state(&config, 2000.0, 0).unwrap();
        let running = s.running.as_ref().expect("a step holds the loop");
        assert_eq!(running.request, Some(1), "{running:?}");
        let ready: Vec<u64> = s.ready.iter().filter_map(|i| i.request).collect();
        assert_eq!(ready, (2..10).collect::<Vec<_>>());
        // Between steps of an awaiting endpoint nothing runs.
        let full = Config {
            variant: Variant::FullAsync,
            ..Config::default()
        };
        assert!(loop_state(&full, 700.0, 0).unwrap().running.is_none());
    }

    #[test]
    fn a_state_before_anything_is_the_first_and_bad_input_is_named() {
        let config = full_async_10_on_4_tokens();
        let s = loop_state(&config, -5.0, 0).unwrap();
        assert!(s.timers.is_empty() && s.pool.borrowed == 0 && s.ready.is_empty());
        assert_eq!(s.sockets.len(), 10, "{:?}", s.sockets);
        assert_eq!(loop_state(&config, 0.0, 1).unwrap_err().field, "worker");
        assert_eq!(loop_state(&config, f64::NAN, 0).unwrap_err().field, "t_ms");
        let big = Config {
            requests: MAX_TRACE_REQUESTS + 1,
            ..config
        };
        let e = trace(&big).unwrap_err();
        assert_eq!(e.field, "requests");
        assert!(e.message.contains("at most 2000"), "{}", e.message);
    }

    #[test]
    fn the_ready_queue_says_what_each_step_resumes_after() {
        let t = trace(&full_async_10_on_4_tokens()).unwrap();
        let all: Vec<&str> = t
            .iterations
            .iter()
            .flat_map(|i| i.ran.iter().map(|r| r.what.as_str()))
            .collect();
        assert!(all.iter().any(|w| w.starts_with("read request 0")), "{all:?}");
        assert!(
            all.iter()
                .any(|w| w.contains("req 4: resume after its fetch's timer")),
            "{all:?}"
        );
        assert!(
            all.iter().any(|w| w.contains("req 9's job on a thread, done")),
            "{all:?}"
        );
        // Iterations are numbered in order and never end before they start.
        for (k, i) in t.iterations.iter().enumerate() {
            assert_eq!(i.n, k as u64);
            assert!(i.end_ms >= i.start_ms);
        }
    }
}
