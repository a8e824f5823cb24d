//! What a run is: which endpoint, how much load, how long each step takes; and the one
//! set of rules every config is checked by.
//!
//! Each field has one rule ([`Field`]), applied the same way to a typed [`Config`]
//! ([`Config::problems`]) and to raw input, typed or from JS ([`super::input`]), so
//! the command line, the page's form, its links and the JS API answer a bad value with
//! the same sentence.

use super::ids::serde_id;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The request flows: the tutorial's four endpoints plus the one its text describes,
/// and two that go past it (a process pool for CPU-bound work, a task queue for the
/// background log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// `def` endpoint: FastAPI runs it in the threadpool.
    SyncDef,
    /// `async def` calling the blocking functions: both hold the event loop.
    Blocking,
    /// `await asyncio.sleep` fetch, then the blocking prediction on the loop.
    AsyncIo,
    /// `await` fetch + `await run_in_threadpool(predict)`.
    FullAsync,
    /// `full_async` + a sync background task after the response.
    Background,
    /// `await` fetch + `await loop.run_in_executor(process_pool, predict)`: each
    /// prediction in a process of its own, with its own GIL.
    ProcessPool,
    /// `full_async`, then the log job sent to a task queue (Celery's `.delay()`), run by
    /// queue workers outside the server.
    TaskQueue,
}

impl Variant {
    /// Every flow: the tutorial's five in its order, then the two past it.
    pub const ALL: [Variant; 7] = [
        Variant::SyncDef,
        Variant::Blocking,
        Variant::AsyncIo,
        Variant::FullAsync,
        Variant::Background,
        Variant::ProcessPool,
        Variant::TaskQueue,
    ];

    /// The tutorial's five.
    pub const TUTORIAL: [Variant; 5] = [
        Variant::SyncDef,
        Variant::Blocking,
        Variant::AsyncIo,
        Variant::FullAsync,
        Variant::Background,
    ];

    /// The id used on the command line, in JSON and in the page's `data-run` hooks.
    pub fn id(self) -> &'static str {
        serde_id(&self)
    }

    /// The HTTP route of the endpoint.
    pub fn route(self) -> &'static str {
        match self {
            Variant::SyncDef => "POST /predict_sync",
            Variant::Blocking => "POST /predict_blocking",
            Variant::AsyncIo => "POST /predict_async_io",
            Variant::FullAsync => "POST /predict_full_async",
            Variant::Background => "POST /predict_with_background",
            Variant::ProcessPool => "POST /predict_process_pool",
            Variant::TaskQueue => "POST /predict_task_queue",
        }
    }

    /// One line on what a request does.
    pub fn summary(self) -> &'static str {
        match self {
            Variant::SyncDef => "a def endpoint: FastAPI runs it on a threadpool thread, the loop stays free",
            Variant::Blocking => "async def calling time.sleep: every request holds the event loop",
            Variant::AsyncIo => "awaits the fetch, then the prediction blocks the loop",
            Variant::FullAsync => "awaits the fetch and run_in_threadpool(predict): the loop stays free",
            Variant::Background => "as /predict_full_async, then a log task after the response",
            Variant::ProcessPool => "awaits the fetch, then predicts in a process pool: a GIL per process",
            Variant::TaskQueue => "as /predict_full_async, then the log job to a task queue: no thread held",
        }
    }

    /// Whether its requests run jobs in the threadpool (`run_in_threadpool`, a `def`
    /// endpoint, a sync background task).
    pub fn runs_threadpool_jobs(self) -> bool {
        matches!(
            self,
            Variant::SyncDef | Variant::FullAsync | Variant::Background | Variant::TaskQueue
        )
    }

    /// Whether the endpoint ever holds the event loop with a blocking call.
    pub fn blocks_the_loop(self) -> bool {
        matches!(self, Variant::Blocking | Variant::AsyncIo)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Variant {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.id() == s)
            .ok_or_else(|| unknown_variant(&crate::format::quoted(s)))
    }
}

fn unknown_variant(shown: &str) -> ConfigError {
    ConfigError::new(
        "variant",
        format!(
            "unknown variant {shown}: expected one of {}",
            Variant::ALL.map(Variant::id).join(", ")
        ),
    )
}

/// What a blocking step does to its thread: `sleep` and `compute` release the GIL
/// (`time.sleep`; NumPy-like kernels, or a free-threaded CPython), `python_cpu` holds it
/// while it computes (a prediction written in pure Python), so threads of one process
/// take turns. The model treats `sleep` and `compute` alike; the browser burns a core for
/// `compute` and `python_cpu`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// Holds the thread without burning CPU, like the tutorial's `time.sleep`.
    #[default]
    Sleep,
    /// Burns CPU for the duration, so threads contend for the machine's cores.
    Compute,
    /// Pure-Python CPU work: holds its process's GIL while it computes.
    PythonCpu,
}

impl Work {
    pub const ALL: [Work; 3] = [Work::Sleep, Work::Compute, Work::PythonCpu];

    /// Whether the prediction holds the GIL while it runs.
    pub fn holds_the_gil(self) -> bool {
        self == Work::PythonCpu
    }

    pub fn id(self) -> &'static str {
        serde_id(&self)
    }
}

/// Caps that keep a run meaningful and the machine responsive. Documented in the README.
pub mod limits {
    /// Most requests in one run with a full report (every request, every phase).
    pub const MAX_REQUESTS: u64 = 100_000;
    /// Most console lines a report keeps (the first; the rest are counted): a run of
    /// 100 000 requests prints a million, which no one reads and a page would hold.
    pub const MAX_CONSOLE_LINES: usize = 20_000;
    /// Most background log entries a report keeps (the first; all are counted).
    pub const MAX_LOGGED: usize = 10_000;
    /// Most requests in one summarised run (stats and a histogram only).
    pub const MAX_SUMMARY_REQUESTS: u64 = 10_000_000;
    /// Most requests in flight at once in a summarised run (its concurrency): a summary
    /// forgets each request once answered, but one in flight is a coroutine with its
    /// state, about 0.8 KB natively, so ten million at once would need gigabytes
    /// (BENCHMARKS.md, "The model at scale").
    pub const MAX_SUMMARY_IN_FLIGHT: u64 = 1_000_000;
    /// Most threadpool tokens (anyio's default is 40).
    pub const MAX_TOKENS: u64 = 10_000;
    /// Longest single step, in ms (10 minutes).
    pub const MAX_DURATION_MS: f64 = 600_000.0;
    /// Most requests in one browser run: as many as the model's full report (the page
    /// merges lanes past what it can draw one by one).
    pub const BROWSER_MAX_REQUESTS: u64 = 100_000;
    /// Most pool Web Workers one browser run starts (min(tokens, requests)).
    pub const BROWSER_MAX_WORKERS: u64 = 64;
    /// Shortest step a browser run can time: timers have millisecond resolution.
    pub const BROWSER_MIN_DURATION_MS: f64 = 1.0;
    /// The answers a second a browser run keeps to its prediction on a 2-core machine
    /// (BENCHMARKS.md, "Throughput"); the page warns before a run that asks for more.
    pub const BROWSER_FAITHFUL_RPS: f64 = 1_300.0;
    /// Most uvicorn workers (server processes).
    pub const MAX_SERVER_WORKERS: u64 = 64;
    /// Most server workers in a browser run (a Web Worker each, with its own pool).
    pub const BROWSER_MAX_SERVER_WORKERS: u64 = 8;
    /// Most processes in the process pool, and most task-queue workers.
    pub const MAX_PROCESSES: u64 = 1024;
    /// The same in a browser run: a Web Worker each.
    pub const BROWSER_MAX_PROCESSES: u64 = 16;
    /// The most a per-request or per-call cost may be, in ms.
    pub const MAX_COST_MS: f64 = 1000.0;
}

/// The tutorial's numbers (docs/fastapi-rules.md rule 9) and anyio's default limiter.
pub mod defaults {
    pub const IO_MS: f64 = 500.0;
    pub const CPU_MS: f64 = 1000.0;
    pub const BG_MS: f64 = 200.0;
    pub const TOKENS: u64 = 40;
    pub const REQUESTS: u64 = 10;
    /// The process pool's size in the tutorial's setting. CPython's own default for
    /// `ProcessPoolExecutor(max_workers=None)` is `os.cpu_count()` (3.13 and later:
    /// `os.process_cpu_count()`), which differs from machine to machine.
    pub const PROCESSES: u64 = 4;
    /// Celery workers taking jobs from the queue.
    pub const QUEUE_WORKERS: u64 = 2;
    /// `uvicorn --workers`: one server process unless told otherwise.
    pub const SERVER_WORKERS: u64 = 1;
}

/// One run: `requests` in total, `concurrency` clients each sending its next request
/// when its previous response arrives (ab's `-n` and `-c`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub variant: Variant,
    pub requests: u64,
    pub concurrency: u64,
    /// `fetch_external_data`'s sleep (the tutorial's 0.5 s).
    pub io_ms: f64,
    /// `run_model_prediction`'s sleep (1 s).
    pub cpu_ms: f64,
    /// `log_prediction_details`'s sleep (0.2 s).
    pub bg_ms: f64,
    /// Threadpool size: anyio's default limiter has 40 tokens.
    pub tokens: u64,
    pub work: Work,
    /// `ProcessPoolExecutor(max_workers=...)` for `process_pool`.
    #[serde(skip_serializing_if = "is_default_processes")]
    pub processes: u64,
    /// Queue workers (Celery worker processes) for `task_queue`.
    #[serde(skip_serializing_if = "is_default_queue_workers")]
    pub queue_workers: u64,
    /// `uvicorn --workers N`: server processes, each with its own event loop, limiter
    /// and GIL. They share one listening socket: a worker that polls while idle takes
    /// every connection waiting (docs/calibration/gil-processes-workers.md, W1).
    #[serde(skip_serializing_if = "is_default_workers")]
    pub workers: u64,
    /// What real FastAPI spends on the loop per request beyond the endpoint's own code
    /// (HTTP parsing, validation, JSON, the access log): a small share when the request
    /// runs its first step, the rest when the response is sent
    /// ([`Config::overhead_at_first_step`]), each cheaper on a warm loop
    /// ([`Config::overhead_cost`]). 0 is the ideal model.
    #[serde(skip_serializing_if = "is_zero")]
    pub overhead_ms: f64,
    /// Pickling a process-pool call's argument and result, per call, in the server.
    #[serde(skip_serializing_if = "is_zero")]
    pub pickle_ms: f64,
    /// Celery's `.delay()`: the publish to the broker, a blocking round trip on the loop.
    #[serde(skip_serializing_if = "is_zero")]
    pub broker_ms: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}
fn is_default_processes(n: &u64) -> bool {
    *n == defaults::PROCESSES
}
/// The share of `overhead_ms` a request's first step pays ([`Config::overhead_at_first_step`]).
pub const OVERHEAD_FIRST_STEP_SHARE: f64 = 0.15;
/// What overhead costs on a warm loop, as a share of a cold one's ([`Config::overhead_cost`]).
pub const OVERHEAD_WARM_FACTOR: f64 = 1.0 / 3.0;

fn is_default_queue_workers(n: &u64) -> bool {
    *n == defaults::QUEUE_WORKERS
}
fn is_default_workers(n: &u64) -> bool {
    *n == defaults::SERVER_WORKERS
}

impl Default for Config {
    fn default() -> Self {
        Config {
            variant: Variant::AsyncIo,
            requests: defaults::REQUESTS,
            concurrency: defaults::REQUESTS,
            io_ms: defaults::IO_MS,
            cpu_ms: defaults::CPU_MS,
            bg_ms: defaults::BG_MS,
            tokens: defaults::TOKENS,
            work: Work::Sleep,
            processes: defaults::PROCESSES,
            queue_workers: defaults::QUEUE_WORKERS,
            workers: defaults::SERVER_WORKERS,
            overhead_ms: 0.0,
            pickle_ms: 0.0,
            broker_ms: 0.0,
        }
    }
}

/// Step durations in ms: the numbers in the tutorial's `time.sleep` / `asyncio.sleep`
/// calls, made configurable.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    pub io_ms: f64,
    pub cpu_ms: f64,
    pub bg_ms: f64,
}

/// A bad value: which field, and a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// The field's name, or `config` for a problem with the config as a whole (an
    /// unknown field, not an object at all).
    pub field: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where a config will run: in the model alone, for real in a browser, whose limits
/// are tighter, or in the model summed up as it goes, which takes more requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Model,
    Browser,
    Summary,
}

/// A field's value, typed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Variant(Variant),
    Count(u64),
    Ms(f64),
    Work(Work),
}

/// What a field accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    Variant,
    Work,
    /// A whole number from 1 to `max` (`browser_max` in a browser run, `summary_max` in
    /// a summary, when set).
    Count {
        max: u64,
        browser_max: Option<u64>,
        summary_max: Option<u64>,
    },
    /// Milliseconds above 0 and at most [`limits::MAX_DURATION_MS`] (from
    /// [`limits::BROWSER_MIN_DURATION_MS`] in a browser run).
    Duration,
    /// A cost in milliseconds: from 0 to [`limits::MAX_COST_MS`].
    Cost,
}

/// One field of a config: its name (as in JSON, the URL and the form; the command line
/// spells it with dashes) and its rule.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub rule: Rule,
}

/// Every field, in the order problems are reported.
pub const FIELDS: [Field; 14] = [
    Field {
        name: "variant",
        rule: Rule::Variant,
    },
    Field {
        name: "requests",
        rule: Rule::Count {
            max: limits::MAX_REQUESTS,
            browser_max: Some(limits::BROWSER_MAX_REQUESTS),
            summary_max: Some(limits::MAX_SUMMARY_REQUESTS),
        },
    },
    Field {
        name: "concurrency",
        rule: Rule::Count {
            max: limits::MAX_REQUESTS,
            browser_max: Some(limits::BROWSER_MAX_REQUESTS),
            summary_max: Some(limits::MAX_SUMMARY_IN_FLIGHT),
        },
    },
    Field {
        name: "io_ms",
        rule: Rule::Duration,
    },
    Field {
        name: "cpu_ms",
        rule: Rule::Duration,
    },
    Field {
        name: "bg_ms",
        rule: Rule::Duration,
    },
    Field {
        name: "tokens",
        rule: Rule::Count {
            max: limits::MAX_TOKENS,
            browser_max: None,
            summary_max: None,
        },
    },
    Field {
        name: "work",
        rule: Rule::Work,
    },
    Field {
        name: "processes",
        rule: Rule::Count {
            max: limits::MAX_PROCESSES,
            browser_max: Some(limits::BROWSER_MAX_PROCESSES),
            summary_max: None,
        },
    },
    Field {
        name: "queue_workers",
        rule: Rule::Count {
            max: limits::MAX_PROCESSES,
            browser_max: Some(limits::BROWSER_MAX_PROCESSES),
            summary_max: None,
        },
    },
    Field {
        name: "workers",
        rule: Rule::Count {
            max: limits::MAX_SERVER_WORKERS,
            browser_max: Some(limits::BROWSER_MAX_SERVER_WORKERS),
            summary_max: None,
        },
    },
    Field {
        name: "overhead_ms",
        rule: Rule::Cost,
    },
    Field {
        name: "pickle_ms",
        rule: Rule::Cost,
    },
    Field {
        name: "broker_ms",
        rule: Rule::Cost,
    },
];

/// The field called `name`.
pub fn field(name: &str) -> Option<Field> {
    FIELDS.iter().copied().find(|f| f.name == name)
}

/// A number as JavaScript prints it (`1.5`, `-1`, `NaN`, `Infinity`).
pub fn js_number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if x == x.trunc() && x.abs() < 1e21 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

impl Field {
    /// The one sentence for a bad value of this field in `target`; `shown` is the value
    /// as the person gave it.
    pub fn problem(&self, target: Target, shown: &str) -> ConfigError {
        let name = self.name;
        let message = match self.rule {
            Rule::Variant => return unknown_variant(shown),
            Rule::Work => format!(
                "work must be one of {}, got {shown}",
                Work::ALL.map(|w| format!("'{}'", w.id())).join(", ")
            ),
            Rule::Count {
                max,
                browser_max,
                summary_max,
            } => match (target, browser_max, summary_max) {
                (Target::Browser, Some(b), _) if b < max => format!(
                    "{name} must be a whole number from 1 to {b} in a browser run (the model alone takes up to {max}), got {shown}"
                ),
                (Target::Summary, _, Some(m)) if name == "concurrency" => format!(
                    "concurrency must be a whole number from 1 to {m} for a summary (each request in flight holds its coroutine in memory until answered; without a concurrency, every request is sent at once), got {shown}"
                ),
                (Target::Summary, _, Some(m)) => {
                    format!("{name} must be a whole number from 1 to {m} for a summary, got {shown}")
                }
                _ => format!("{name} must be a whole number from 1 to {max}, got {shown}"),
            },
            Rule::Duration => match target {
                Target::Model | Target::Summary => format!(
                    "{name} must be a number of milliseconds above 0 and at most {}, got {shown}",
                    limits::MAX_DURATION_MS
                ),
                Target::Browser => format!(
                    "{name} must be a number of milliseconds from {} to {} in a browser run (its timers have millisecond resolution), got {shown}",
                    limits::BROWSER_MIN_DURATION_MS,
                    limits::MAX_DURATION_MS
                ),
            },
            Rule::Cost => format!(
                "{name} must be a number of milliseconds from 0 to {}, got {shown}",
                limits::MAX_COST_MS
            ),
        };
        ConfigError::new(name, message)
    }

    /// Checks a number against this field's range in `target`: the count or the
    /// duration it is, or the one sentence for it.
    pub fn number(&self, target: Target, x: f64, shown: &str) -> Result<Value, ConfigError> {
        match self.rule {
            Rule::Count {
                max,
                browser_max,
                summary_max,
            } => {
                let max = match target {
                    Target::Browser => browser_max.unwrap_or(max),
                    Target::Summary => summary_max.unwrap_or(max),
                    Target::Model => max,
                };
                if x.is_finite() && x.fract() == 0.0 && x >= 1.0 && x <= max as f64 {
                    Ok(Value::Count(x as u64))
                } else {
                    Err(self.problem(target, shown))
                }
            }
            Rule::Duration => {
                let ok = x.is_finite()
                    && x <= limits::MAX_DURATION_MS
                    && match target {
                        Target::Model | Target::Summary => x > 0.0,
                        Target::Browser => x >= limits::BROWSER_MIN_DURATION_MS,
                    };
                if ok {
                    Ok(Value::Ms(x))
                } else {
                    Err(self.problem(target, shown))
                }
            }
            Rule::Cost => {
                if x.is_finite() && (0.0..=limits::MAX_COST_MS).contains(&x) {
                    Ok(Value::Ms(x))
                } else {
                    Err(self.problem(target, shown))
                }
            }
            Rule::Variant | Rule::Work => Err(self.problem(target, shown)),
        }
    }

    /// Checks a name against this field's choices.
    pub fn name_of(&self, target: Target, s: &str, shown: &str) -> Result<Value, ConfigError> {
        match self.rule {
            Rule::Variant => Variant::ALL
                .into_iter()
                .find(|v| v.id() == s)
                .map(Value::Variant)
                .ok_or_else(|| self.problem(target, shown)),
            Rule::Work => Work::ALL
                .into_iter()
                .find(|w| w.id() == s)
                .map(Value::Work)
                .ok_or_else(|| self.problem(target, shown)),
            Rule::Count { .. } | Rule::Duration | Rule::Cost => Err(self.problem(target, shown)),
        }
    }
}

impl Config {
    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "variant" => Value::Variant(self.variant),
            "requests" => Value::Count(self.requests),
            "concurrency" => Value::Count(self.concurrency),
            "io_ms" => Value::Ms(self.io_ms),
            "cpu_ms" => Value::Ms(self.cpu_ms),
            "bg_ms" => Value::Ms(self.bg_ms),
            "tokens" => Value::Count(self.tokens),
            "work" => Value::Work(self.work),
            "processes" => Value::Count(self.processes),
            "queue_workers" => Value::Count(self.queue_workers),
            "workers" => Value::Count(self.workers),
            "overhead_ms" => Value::Ms(self.overhead_ms),
            "pickle_ms" => Value::Ms(self.pickle_ms),
            "broker_ms" => Value::Ms(self.broker_ms),
            _ => return None,
        })
    }

    /// Sets field `name` to `value` (of the field's type; others are ignored).
    pub fn set(&mut self, name: &str, value: Value) {
        match (name, value) {
            ("variant", Value::Variant(v)) => self.variant = v,
            ("requests", Value::Count(n)) => self.requests = n,
            ("concurrency", Value::Count(n)) => self.concurrency = n,
            ("io_ms", Value::Ms(x)) => self.io_ms = x,
            ("cpu_ms", Value::Ms(x)) => self.cpu_ms = x,
            ("bg_ms", Value::Ms(x)) => self.bg_ms = x,
            ("tokens", Value::Count(n)) => self.tokens = n,
            ("work", Value::Work(w)) => self.work = w,
            ("processes", Value::Count(n)) => self.processes = n,
            ("queue_workers", Value::Count(n)) => self.queue_workers = n,
            ("workers", Value::Count(n)) => self.workers = n,
            ("overhead_ms", Value::Ms(x)) => self.overhead_ms = x,
            ("pickle_ms", Value::Ms(x)) => self.pickle_ms = x,
            ("broker_ms", Value::Ms(x)) => self.broker_ms = x,
            _ => {}
        }
    }

    /// The step durations of this run.
    pub fn durations(&self) -> Durations {
        Durations {
            io_ms: self.io_ms,
            cpu_ms: self.cpu_ms,
            bg_ms: self.bg_ms,
        }
    }

    /// The part of `overhead_ms` charged on the loop when a request runs its first step
    /// (reading and routing it); the rest, [`Config::overhead_at_answer`], when its
    /// response is sent (validating, serializing and logging it). Real uvicorn spends
    /// about 0.13 ms on the first and 0.9 ms on the second right after its loop slept
    /// (docs/calibration/asyncio-uvicorn.md, §8 and R13): 15 % and 85 %. With half and
    /// half, the calibration's worst scenarios (60 and 45 clients) answered first up to
    /// 11 ms late; with 15 %, 9 of 10 scenarios are within the goal (BENCHMARKS.md).
    pub fn overhead_at_first_step(&self) -> f64 {
        self.overhead_ms * OVERHEAD_FIRST_STEP_SHARE
    }

    /// What `overhead_ms` charges when a response is sent.
    pub fn overhead_at_answer(&self) -> f64 {
        self.overhead_ms - self.overhead_at_first_step()
    }

    /// What a share `cost` of the overhead takes on the loop: all of it on a cold loop
    /// (one that has just waited in its poll or blocked), a third on a warm one (right
    /// after other such work). Real uvicorn answers in about 0.9 ms right after its
    /// loop slept and about 0.3 ms when the answer follows another (R13 of
    /// docs/calibration/asyncio-uvicorn.md); without it the model spread a threadpool
    /// round's answers over 9 ms where real ones come within about 1 ms.
    pub fn overhead_cost(cost: f64, warm: bool) -> f64 {
        if warm {
            cost * OVERHEAD_WARM_FACTOR
        } else {
            cost
        }
    }

    /// The most threadpool threads one server worker can use (0 for an endpoint that
    /// runs no threadpool jobs). Its limiter allows `tokens` jobs at once, and a request
    /// has at most one job at a time: at most `concurrency` requests are open at once
    /// (ab's clients), but a background task runs after its response, beside its
    /// client's next request, so there it is `requests`. Any one worker may take every
    /// request (the workers share one accept queue, and the first idle one takes every
    /// connection waiting), so each is sized for all of them.
    pub fn pool_threads(&self) -> u64 {
        if !self.variant.runs_threadpool_jobs() {
            return 0;
        }
        let open = if self.variant == Variant::Background {
            self.requests
        } else {
            self.concurrency.min(self.requests)
        };
        self.tokens.min(open)
    }

    /// The processes one server worker's process pool starts (`process_pool` only): a
    /// request has at most one call in it at a time.
    pub fn pool_processes(&self) -> u64 {
        if self.variant == Variant::ProcessPool {
            self.processes.min(self.concurrency.min(self.requests))
        } else {
            0
        }
    }

    /// The queue workers a run starts (`task_queue` only).
    pub fn queue_processes(&self) -> u64 {
        if self.variant == Variant::TaskQueue {
            self.queue_workers.min(self.requests)
        } else {
            0
        }
    }

    /// Every Web Worker a browser run starts: each server worker, its pool threads and
    /// processes, and the queue workers.
    pub fn browser_workers(&self) -> u64 {
        self.workers * (1 + self.pool_threads() + self.pool_processes()) + self.queue_processes()
    }

    /// Every problem with this config in `target`, at most one per field, in field
    /// order; empty when valid. Each field is checked by its own rule; the rules that
    /// tie two fields together are checked when both are valid alone.
    pub fn problems(&self, target: Target) -> Vec<ConfigError> {
        let mut errors: Vec<ConfigError> = FIELDS
            .iter()
            .filter_map(|f| match self.get(f.name)? {
                Value::Count(n) => f.number(target, n as f64, &n.to_string()).err(),
                Value::Ms(x) => f.number(target, x, &js_number(x)).err(),
                Value::Variant(_) | Value::Work(_) => None,
            })
            .collect();
        let bad = |name: &str| errors.iter().any(|e| e.field == name);
        let mut joint = Vec::new();
        if !bad("requests") && !bad("concurrency") && self.concurrency > self.requests {
            joint.push(ConfigError::new(
                "concurrency",
                format!(
                    "concurrency ({}) cannot exceed requests ({}): each client sends at least one request",
                    self.concurrency, self.requests
                ),
            ));
        }
        let counts_ok = ["requests", "tokens", "workers", "processes", "queue_workers"]
            .iter()
            .all(|f| !bad(f));
        if target == Target::Browser && counts_ok && self.pool_threads() > limits::BROWSER_MAX_WORKERS {
            joint.push(ConfigError::new(
                "tokens",
                format!(
                    "a browser run starts one Web Worker per usable token, at most {}; {} tokens with {} requests open at once would start {}",
                    limits::BROWSER_MAX_WORKERS,
                    self.tokens,
                    if self.variant == Variant::Background { self.requests } else { self.concurrency },
                    self.pool_threads()
                ),
            ));
        } else if target == Target::Browser
            && counts_ok
            && self.browser_workers() > limits::BROWSER_MAX_WORKERS + limits::BROWSER_MAX_SERVER_WORKERS
        {
            joint.push(ConfigError::new(
                "workers",
                format!(
                    "a browser run starts a Web Worker per server worker, per usable token and per process, at most {} in all; {} workers with {} tokens would start {}",
                    limits::BROWSER_MAX_WORKERS + limits::BROWSER_MAX_SERVER_WORKERS,
                    self.workers,
                    self.tokens,
                    self.browser_workers()
                ),
            ));
        }
        errors.extend(joint);
        sort_by_field(&mut errors);
        errors
    }

    /// `Ok` when valid for the model, else its first problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems(Target::Model).into_iter().next() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The same config for another variant.
    pub fn with_variant(&self, variant: Variant) -> Config {
        Config {
            variant,
            ..self.clone()
        }
    }
}

/// Orders problems as the fields are ordered (problems with the config as a whole first).
pub fn sort_by_field(errors: &mut [ConfigError]) {
    errors.sort_by_key(|e| FIELDS.iter().position(|f| f.name == e.field).map_or(0, |i| i + 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_tutorials_and_valid() {
        let c = Config::default();
        assert_eq!((c.io_ms, c.cpu_ms, c.bg_ms, c.tokens), (500.0, 1000.0, 200.0, 40));
        assert_eq!(c.validate(), Ok(()));
        assert!(c.problems(Target::Browser).is_empty());
    }

    fn with(f: impl FnOnce(&mut Config)) -> Config {
        let mut c = Config::default();
        f(&mut c);
        c
    }

    #[test]
    fn each_bad_field_is_named_with_one_sentence_per_field_and_target() {
        let cases: Vec<(Config, &str, &str)> = vec![
            (
                with(|c| (c.requests, c.concurrency) = (0, 0)),
                "requests",
                "requests must be a whole number from 1 to 100000, got 0",
            ),
            (
                with(|c| c.requests = 100_001),
                "requests",
                "requests must be a whole number from 1 to 100000, got 100001",
            ),
            (
                with(|c| c.concurrency = 0),
                "concurrency",
                "concurrency must be a whole number from 1 to 100000, got 0",
            ),
            (
                with(|c| c.concurrency = 11),
                "concurrency",
                "concurrency (11) cannot exceed requests (10): each client sends at least one request",
            ),
            (
                with(|c| c.io_ms = 0.0),
                "io_ms",
                "io_ms must be a number of milliseconds above 0 and at most 600000, got 0",
            ),
            (with(|c| c.cpu_ms = -1.0), "cpu_ms", "got -1"),
            (with(|c| c.bg_ms = f64::NAN), "bg_ms", "got NaN"),
            (with(|c| c.io_ms = f64::INFINITY), "io_ms", "got Infinity"),
            (with(|c| c.cpu_ms = 600_001.0), "cpu_ms", "got 600001"),
            (
                with(|c| c.tokens = 0),
                "tokens",
                "tokens must be a whole number from 1 to 10000, got 0",
            ),
            (with(|c| c.tokens = 10_001), "tokens", "got 10001"),
        ];
        for (config, field, text) in cases {
            let err = config.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
            assert!(err.message.ends_with(text), "{err}");
            assert!(!err.message.contains('\n'));
        }
    }

    #[test]
    fn a_browser_run_states_its_own_range_for_every_bad_value() {
        // The same sentence for 0, -1 (as typed), and a value only the browser refuses.
        let f = field("requests").unwrap();
        let message = |x: f64| f.number(Target::Browser, x, &js_number(x)).unwrap_err().message;
        let prefix = "requests must be a whole number from 1 to 100000, got ";
        for (x, shown) in [(0.0, "0"), (-1.0, "-1"), (100_001.0, "100001"), (1.5, "1.5")] {
            assert_eq!(message(x), format!("{prefix}{shown}"));
        }
        let short = with(|c| c.cpu_ms = 0.5).problems(Target::Browser);
        assert_eq!(short.len(), 1);
        assert_eq!(
            short[0].message,
            "cpu_ms must be a number of milliseconds from 1 to 600000 in a browser run (its timers have millisecond resolution), got 0.5"
        );
        assert!(with(|c| c.cpu_ms = 0.5).problems(Target::Model).is_empty());
    }

    #[test]
    fn problems_lists_every_bad_field_in_order() {
        let c = with(|c| (c.io_ms, c.tokens, c.requests) = (-1.0, 0, 0));
        let fields: Vec<_> = c.problems(Target::Model).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["requests", "io_ms", "tokens"]);
        // Browser limits are reported beside core problems, not instead of them.
        let c = with(|c| {
            (c.variant, c.requests, c.concurrency, c.tokens, c.io_ms) =
                (Variant::FullAsync, 100, 100, 100, 0.5);
        });
        let fields: Vec<_> = c.problems(Target::Browser).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["io_ms", "tokens"]);
    }

    #[test]
    fn browser_runs_start_at_most_64_pool_workers() {
        let full = |f: fn(&mut Config)| {
            with(|c| {
                c.variant = Variant::FullAsync;
                f(c);
            })
        };
        let workers = full(|c| (c.requests, c.concurrency, c.tokens) = (100, 100, 100));
        assert!(workers.problems(Target::Model).is_empty());
        let p = workers.problems(Target::Browser);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].field, "tokens");
        assert!(
            p[0].message
                .ends_with("100 tokens with 100 requests open at once would start 100"),
            "{}",
            p[0].message
        );
        // 100 tokens for 10 requests start only 10 workers; for 100 requests from 20
        // clients, 20 (at most 20 requests are open at once)...
        assert!(full(|c| c.tokens = 100).problems(Target::Browser).is_empty());
        let clients = full(|c| (c.requests, c.concurrency, c.tokens) = (100, 20, 100));
        assert_eq!(clients.pool_threads(), 20);
        assert!(clients.problems(Target::Browser).is_empty());
        // ...but background tasks outlive their response: there, every request may hold one.
        let mut background = clients.clone();
        background.variant = Variant::Background;
        assert_eq!(background.pool_threads(), 100);
        assert_eq!(background.problems(Target::Browser)[0].field, "tokens");
        // An endpoint that never uses the threadpool starts no thread, whatever its tokens.
        let blocking = Config {
            variant: Variant::Blocking,
            ..workers
        };
        assert_eq!(blocking.pool_threads(), 0);
        assert!(blocking.problems(Target::Browser).is_empty());
    }

    #[test]
    fn each_server_worker_has_threads_for_every_request_it_may_take() {
        // The workers share one accept queue: a burst of 8 may all go to one worker,
        // whose limiter lets all 8 run their jobs at once.
        let burst = with(|c| {
            (c.variant, c.requests, c.concurrency, c.workers) = (Variant::FullAsync, 8, 8, 2);
        });
        assert_eq!(burst.pool_threads(), 8);
        assert_eq!(burst.browser_workers(), 2 * (1 + 8));
        assert!(burst.problems(Target::Browser).is_empty());
        // 4 workers of 40 threads each would be 164 Web Workers: the browser refuses.
        let big = with(|c| {
            (c.variant, c.requests, c.concurrency, c.workers) = (Variant::FullAsync, 100, 100, 4);
        });
        let p = big.problems(Target::Browser);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "workers");
        assert!(p[0].message.contains("would start 164"), "{}", p[0].message);
        assert!(big.problems(Target::Model).is_empty());
    }

    #[test]
    fn ids_come_from_serde() {
        for v in Variant::ALL {
            assert_eq!(v.id().parse::<Variant>(), Ok(v));
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{}\"", v.id()));
        }
        for w in Work::ALL {
            assert_eq!(serde_json::to_string(&w).unwrap(), format!("\"{}\"", w.id()));
        }
        let err = "fast".parse::<Variant>().unwrap_err();
        assert_eq!(
            err.message,
            "unknown variant 'fast': expected one of sync_def, blocking, async_io, full_async, background, process_pool, task_queue"
        );
    }

    #[test]
    fn numbers_print_as_javascript_does() {
        assert_eq!(js_number(1.5), "1.5");
        assert_eq!(js_number(-1.0), "-1");
        assert_eq!(js_number(100.0), "100");
        assert_eq!(js_number(f64::NAN), "NaN");
        assert_eq!(js_number(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(js_number(1e23), "100000000000000000000000");
    }

    #[test]
    fn get_and_set_cover_every_field() {
        let mut c = Config::default();
        for f in FIELDS {
            let v = c.get(f.name).expect(f.name);
            c.set(f.name, v);
        }
        assert_eq!(c, Config::default());
    }
}
