//! The code panel: the Python of each endpoint, the Rust the simulator runs for it, and
//! which line each request is "in" right now.
//!
//! The snippets are short, current FastAPI / Pydantic v2, and equivalent to the tutorial's
//! endpoints. They are excerpts: `app`, the models, `time`, `asyncio` and the helpers
//! shown in the other snippets are assumed. Their numbers are the config's: the sleeps
//! in the tutorial's seconds, the pool's size, and the prediction's body says what kind
//! of work it is (`time.sleep`, a NumPy-like kernel, pure Python).

use crate::model::{Config, PhaseKind, Place, Variant, Work};

/// What a line of a snippet stands for, when a request can be at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// The endpoint's `def` / `async def` line: taken in, not yet in a phase; for `def`
    /// endpoints also the wait for a token before the endpoint can start.
    Start,
    /// The fetch call.
    Io,
    /// The prediction call.
    Cpu,
    /// Waiting for a threadpool token (before the prediction, or the endpoint for `def`).
    TokenWait,
    /// Waiting for the event loop (after an await, a pool job, or before starting).
    LoopWait,
    /// The `return` line: the response is being sent.
    Respond,
    /// The line declaring `response_model`, for a `def` endpoint whose return value
    /// waits for a token to be validated in the threadpool.
    Validate,
    /// `background_tasks.add_task(...)`: answered, the log task not running yet.
    BgWait,
    /// The log task's `time.sleep`: the log task is running.
    BgRun,
    /// The prediction's body: written as the config's kind of work says.
    Body,
}

use Mark::*;

/// A line of Python, and what a request at it is doing.
type Line = (&'static str, Vec<Mark>);

/// The widest a line of a snippet may be, in characters: 66 characters of a 20 px
/// monospace font fit the code panel beside a timeline at 1920 px.
pub const WIDTH: usize = 66;

/// Each endpoint's Python, the one source of what the page shows: a module as its
/// author writes it (current FastAPI and Pydantic v2), with every function whose
/// `print()` the console shows. `app`, the models, `time` and `asyncio` are assumed.
/// `{io}`, `{cpu}`, `{bg}`, `{tokens}`, `{P}` and `{Q}` are the config's numbers; a
/// trailing `#: mark …` says what a request at that line is doing, and is not shown.
fn source(variant: Variant) -> &'static str {
    match variant {
        Variant::SyncDef => include_str!("../flows/py/sync_def.py"),
        Variant::Blocking => include_str!("../flows/py/blocking.py"),
        Variant::AsyncIo => include_str!("../flows/py/async_io.py"),
        Variant::FullAsync => include_str!("../flows/py/full_async.py"),
        Variant::Background => include_str!("../flows/py/background.py"),
        Variant::ProcessPool => include_str!("../flows/py/process_pool.py"),
        Variant::TaskQueue => include_str!("../flows/py/task_queue.py"),
    }
}

fn mark_named(name: &str) -> Mark {
    match name {
        "start" => Start,
        "io" => Io,
        "cpu" => Cpu,
        "token_wait" => TokenWait,
        "loop_wait" => LoopWait,
        "respond" => Respond,
        "validate" => Validate,
        "bg_wait" => BgWait,
        "bg_run" => BgRun,
        "body" => Body,
        other => panic!("unknown mark {other:?} in an endpoint's Python"),
    }
}

/// `variant`'s lines and their marks, read from its source.
fn snippet(variant: Variant) -> Vec<Line> {
    source(variant)
        .lines()
        .map(|line| match line.rsplit_once("  #: ") {
            Some((code, marks)) => (code, marks.split_whitespace().map(mark_named).collect()),
            None => (line, Vec::new()),
        })
        .collect()
}

/// Seconds as Python writes them in a `sleep` call: `0.5`, `1`, `0.04`.
fn seconds(ms: f64) -> String {
    let s = (ms / 1000.0 * 1e6).round() / 1e6;
    format!("{s}")
}

/// A line with the config's numbers in it, and the prediction's body written as its
/// kind of work.
fn fill(text: &str, marks: &[Mark], config: &Config) -> String {
    if marks.contains(&Body) {
        match config.work {
            Work::Sleep => {}
            Work::Compute => return "    model.predict(data_point)  # a C kernel: lets the GIL go".into(),
            Work::PythonCpu => return "    sum(i * data_point for i in range(N))  # holds the GIL".into(),
        }
    }
    text.replace("{io}", &seconds(config.io_ms))
        .replace("{cpu}", &seconds(config.cpu_ms))
        .replace("{bg}", &seconds(config.bg_ms))
        .replace("{tokens}", &config.tokens.to_string())
        .replace("{P}", &config.processes.to_string())
        .replace("{Q}", &config.queue_workers.to_string())
}

/// The line of `variant`'s snippet marked `mark`, if it has one.
fn marked(variant: Variant, mark: Mark) -> Option<usize> {
    snippet(variant)
        .iter()
        .position(|(_, marks)| marks.contains(&mark))
}

/// The Python of `config`'s endpoint, one entry per line (blank lines are `""`), with
/// its numbers: pass the config in the tutorial's time (unscaled).
pub fn python(config: &Config) -> Vec<String> {
    snippet(config.variant)
        .into_iter()
        .map(|(text, marks)| fill(text, &marks, config))
        .collect()
}

/// The Rust the simulator runs for this variant: the source of its `flows` module
/// (`sync_def` and `blocking` → step1, `async_io` → step2, `full_async` → step3,
/// `background` → step4), included from the real files so it cannot drift.
pub fn rust(variant: Variant) -> &'static str {
    match variant {
        Variant::SyncDef | Variant::Blocking => include_str!("../flows/step1.rs"),
        Variant::AsyncIo => include_str!("../flows/step2.rs"),
        Variant::FullAsync => include_str!("../flows/step3.rs"),
        Variant::Background => include_str!("../flows/step4.rs"),
        Variant::ProcessPool => include_str!("../flows/step5.rs"),
        Variant::TaskQueue => include_str!("../flows/step6.rs"),
    }
}

/// Where one request is now, as the runtime reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Position {
    /// Sent by its client, not yet taken in by the event loop.
    Arriving,
    /// Taken in, between phases (e.g. printing "Received ..."): instantaneous.
    Started,
    /// In a phase: `kind` Queued + `on` Pool = waiting for a threadpool token; Queued + Loop =
    /// waiting for the event loop (after an await, or a pool job finished); Io/Cpu/Background with
    /// on Loop/Pool and blocking (time.sleep) or not (await asyncio.sleep).
    In {
        kind: PhaseKind,
        on: Place,
        blocking: bool,
    },
    /// A `def` endpoint has returned; its return value waits for a threadpool token to
    /// be validated against `response_model` (FastAPI's `serialize_response`).
    Validating,
    /// The response is sent; background tasks may still be pending or running (`background` = true
    /// while they are).
    Responded { background: bool },
    /// Finished.
    Done,
}

/// The 0-based index into [`python`]`(variant)` of the line a request is at; `None` when
/// it is nowhere in the code (`Done`). `responded` says whether its response has been
/// sent.
///
/// - `Validating` (a `def` endpoint's return value waiting for a token) is the line
///   that declares `response_model`.
/// - `Arriving` (sent, waiting for the loop to take it in) and `Started` are the
///   endpoint's `def` line. So is a wait for the loop before a `blocking` request runs,
///   and a `sync_def` request's wait for a token.
/// - A wait for the loop is shown on the line that will resume: the fetch's `await` in
///   `async_io`; the `run_in_threadpool` line in `full_async` / `background` (the position
///   does not say whether the wait follows the fetch or the pool job; both are near zero
///   when nothing blocks the loop); the `return` line in `sync_def` (the pool job is done).
/// - After the response of a `background` request: `In { kind: Background, .. }` is the
///   log task's `time.sleep` line; anything else (waiting for a token for the log task,
///   `Responded { background: true }`) is the `background_tasks.add_task(` line.
///   `Responded { background: false }` is the `return` line in every variant.
pub fn line_of(variant: Variant, position: Position, responded: bool) -> Option<usize> {
    let at = |mark| marked(variant, mark);
    let respond = at(Respond)?;
    let after_response = at(BgWait).unwrap_or(respond);
    match position {
        Position::Done => None,
        Position::Arriving => at(Start),
        Position::Responded { background: true } => Some(after_response),
        Position::Responded { background: false } => Some(respond),
        Position::Validating => Some(at(Validate).unwrap_or(respond)),
        Position::In {
            kind: PhaseKind::Background,
            ..
        } => Some(at(BgRun).unwrap_or(respond)),
        Position::Started
        | Position::In {
            kind: PhaseKind::Queued,
            ..
        } if responded => Some(after_response),
        Position::Started => at(Start),
        Position::In { kind, on, .. } => match (kind, on) {
            (PhaseKind::Io, _) => at(Io),
            (PhaseKind::Cpu | PhaseKind::GilWait, _) => at(Cpu),
            (_, Place::Pool | Place::Process | Place::Queue) => at(TokenWait),
            (_, Place::Loop) => at(LoopWait),
        },
    }
}

/// What each line of [`python`]`(variant)` holds at a moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Requests in it: each at one line only, the innermost it is in (a request waiting
    /// for the loop or a token counts where it waits); an answered request counts
    /// nowhere.
    pub requests: Vec<u32>,
    /// Of `requests`, those waiting there (for the event loop, a token, a process or a
    /// worker), not running it.
    pub waiting: Vec<u32>,
    /// Background tasks in it, after their request was answered: running (the log's
    /// line) or waiting for a token (the `add_task` line).
    pub tasks: Vec<u32>,
}

/// A lit line's badge and its words for a screen reader: `n` requests in it, `waiting`
/// of them waiting there rather than running it, `tasks` background tasks.
pub fn badge(n: u32, waiting: u32, tasks: u32) -> Option<(String, String)> {
    let running = n - waiting.min(n);
    let mut short = Vec::new();
    let mut long = Vec::new();
    if running > 0 {
        short.push(format!("{running} running"));
        long.push(format!("{running} running it"));
    }
    if waiting > 0 {
        short.push(format!("{waiting} waiting"));
        long.push(format!("{waiting} waiting here"));
    }
    if tasks > 0 {
        short.push(format!("{tasks} log"));
        long.push(format!("{tasks} background tasks"));
    }
    (!short.is_empty()).then(|| (short.join(", "), format!("requests: {}", long.join(", "))))
}

/// Requests and background tasks per line, from each request's `(position, responded)`.
pub fn counts(variant: Variant, positions: &[(Position, bool)]) -> LineCounts {
    let n = snippet(variant).len();
    let mut counts = LineCounts {
        requests: vec![0; n],
        waiting: vec![0; n],
        tasks: vec![0; n],
    };
    // A few distinct places, however many requests: each looked up once.
    let mut distinct: Vec<((Position, bool), u32)> = Vec::new();
    for &(position, responded) in positions {
        if position == Position::Done {
            continue;
        }
        match distinct.iter_mut().find(|(p, _)| *p == (position, responded)) {
            Some((_, k)) => *k += 1,
            None => distinct.push(((position, responded), 1)),
        }
    }
    for ((position, responded), k) in distinct {
        let column = if responded {
            // Answered: what is left is its background task, if it has one going.
            match position {
                Position::Responded { background: true }
                | Position::In {
                    kind: PhaseKind::Background | PhaseKind::Queued,
                    ..
                } => &mut counts.tasks,
                _ => continue,
            }
        } else {
            &mut counts.requests
        };
        let Some(line) = line_of(variant, position, responded) else {
            continue;
        };
        if let Some(c) = column.get_mut(line) {
            *c = c.saturating_add(k);
        }
        let waits = matches!(
            position,
            Position::Arriving
                | Position::Validating
                | Position::In {
                    kind: PhaseKind::Queued | PhaseKind::GilWait,
                    ..
                }
        );
        if waits && !responded {
            counts.waiting[line] = counts.waiting[line].saturating_add(k);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tutorial's config for `variant`.
    fn tutorial(variant: Variant) -> Config {
        Config::default().with_variant(variant)
    }

    fn at(kind: PhaseKind, on: Place, blocking: bool) -> Position {
        Position::In { kind, on, blocking }
    }

    #[test]
    fn a_badge_tells_running_from_waiting() {
        assert_eq!(badge(0, 0, 0), None);
        assert_eq!(badge(1, 0, 0).unwrap().0, "1 running");
        assert_eq!(badge(9, 8, 0).unwrap().0, "1 running, 8 waiting");
        assert_eq!(badge(8, 8, 2).unwrap().0, "8 waiting, 2 log");
        assert_eq!(
            badge(9, 8, 0).unwrap().1,
            "requests: 1 running it, 8 waiting here"
        );
        // The blocking endpoint at 2 s: one request in the fetch, eight waiting for the
        // loop on the `async def` line, none counted twice.
        let blocking = Variant::Blocking;
        let mut positions = vec![(Position::Arriving, false); 8];
        positions.push((at(PhaseKind::Io, Place::Loop, true), false));
        let c = counts(blocking, &positions);
        assert_eq!(c.requests.iter().sum::<u32>(), 9);
        assert_eq!(c.waiting.iter().sum::<u32>(), 8);
        let def_line = c.waiting.iter().position(|&w| w == 8).unwrap();
        assert!(python(&tutorial(blocking))[def_line].starts_with("async def"));
    }

    /// The text of the line a position lights.
    fn text(variant: Variant, position: Position, responded: bool) -> String {
        let i = line_of(variant, position, responded).expect("a line");
        python(&tutorial(variant))[i].clone()
    }

    fn all_positions() -> Vec<Position> {
        let mut all = vec![
            Position::Arriving,
            Position::Started,
            Position::Validating,
            Position::Responded { background: false },
            Position::Responded { background: true },
            Position::Done,
        ];
        for kind in [
            PhaseKind::Queued,
            PhaseKind::Io,
            PhaseKind::Cpu,
            PhaseKind::Background,
        ] {
            for on in [Place::Loop, Place::Pool, Place::Process, Place::Queue] {
                for blocking in [false, true] {
                    all.push(at(kind, on, blocking));
                }
            }
        }
        all
    }

    #[test]
    fn snippets_are_short_name_their_route_and_fit_a_projector() {
        for v in Variant::ALL {
            let lines = python(&tutorial(v));
            assert!((8..=40).contains(&lines.len()), "{v}: {} lines", lines.len());
            let route = v.route().trim_start_matches("POST ");
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(&format!("@app.post(\"{route}\""))),
                "{v}"
            );
            // Narrow enough for the panel beside a timeline without wrapping (a wrapped
            // line reads as a statement of its own), on a projector too.
            for work in Work::ALL {
                for l in python(&Config { work, ..tutorial(v) }) {
                    assert!(l.chars().count() <= WIDTH, "{v}: too wide: {l}");
                    assert_eq!(l.trim_end(), l, "{v}: trailing space: {l:?}");
                }
            }
            // Every mark a request can be at is on some line of a flow that uses it.
            for mark in [Start, Io, Cpu, TokenWait, LoopWait, Respond] {
                assert!(marked(v, mark).is_some(), "{v}: no {mark:?} line");
            }
        }
    }

    #[test]
    fn snippets_are_true_of_current_fastapi_and_pydantic() {
        let all: Vec<String> = Variant::ALL.iter().flat_map(|&v| python(&tutorial(v))).collect();
        // Pydantic v2: .dict() is deprecated; the snippets call model_dump().
        assert!(!all
            .iter()
            .any(|l| l.contains(".dict()") && !l.trim_start().starts_with('#')));
        assert!(python(&tutorial(Variant::Background))
            .iter()
            .any(|l| l.contains("request.model_dump()")));
        assert!(python(&tutorial(Variant::FullAsync))
            .contains(&"from fastapi.concurrency import run_in_threadpool".to_string()));
        // The def endpoint is a plain def, and says FastAPI runs it in the threadpool.
        let sync = python(&tutorial(Variant::SyncDef));
        assert!(sync.iter().any(|l| l.starts_with("def predict_synchronously(")));
        assert!(sync.iter().any(|l| l.contains("threadpool")));
        assert!(!sync.iter().any(|l| l.contains("async ") || l.contains("await ")));
        // The blocking endpoint is an async def that calls the blocking functions without await.
        let blocking = python(&tutorial(Variant::Blocking));
        assert!(blocking
            .iter()
            .any(|l| l.starts_with("async def predict_blocking(")));
        assert!(blocking.iter().any(|l| l.contains("= fetch_external_data(")));
        assert!(!blocking.iter().any(|l| l.contains("await ")));
        // The background task is a def added with add_task and runs in the threadpool.
        let bg = python(&tutorial(Variant::Background));
        assert!(bg.iter().any(|l| l.starts_with("def log_prediction_details(")));
        assert!(bg.iter().any(|l| l.contains("background_tasks.add_task(")));
        assert!(bg.iter().any(|l| l.contains("background_tasks: BackgroundTasks")));
        // Durations are the tutorial's.
        assert!(all.iter().any(|l| l.contains("time.sleep(0.5)")));
        assert!(all.iter().any(|l| l.contains("asyncio.sleep(0.5)")));
        assert!(all.iter().any(|l| l.contains("time.sleep(1)")));
        assert!(bg.iter().any(|l| l.contains("time.sleep(0.2)")));
        // The process pool is an executor awaited with run_in_executor, sized as set.
        let pp = python(&tutorial(Variant::ProcessPool));
        assert!(pp
            .iter()
            .any(|l| l == "process_pool = ProcessPoolExecutor(max_workers=4)"));
        assert!(pp.iter().any(|l| l.contains("await loop.run_in_executor(")));
        // The task queue sends the log with .delay(), and the endpoint holds no token for it.
        let tq = python(&tutorial(Variant::TaskQueue));
        assert!(tq.iter().any(|l| l.starts_with("@celery.task")));
        assert!(tq.iter().any(|l| l.contains("log_prediction_details.delay(")));
        assert!(!tq.iter().any(|l| l.contains("add_task")));
    }

    #[test]
    fn the_code_says_the_configs_numbers_and_kind_of_work() {
        let c = Config {
            io_ms: 40.0,
            cpu_ms: 80.0,
            bg_ms: 1000.0,
            tokens: 2,
            processes: 8,
            queue_workers: 3,
            ..tutorial(Variant::FullAsync)
        };
        let fa = python(&c);
        assert!(python(&c.with_variant(Variant::AsyncIo))
            .iter()
            .any(|l| l.contains("asyncio.sleep(0.04)")));
        assert!(fa.iter().any(|l| l.contains("time.sleep(0.08)")));
        assert!(fa
            .iter()
            .any(|l| l.contains("# 2 threads and while the thread runs it")));
        assert!(python(&c.with_variant(Variant::ProcessPool))
            .iter()
            .any(|l| l.contains("max_workers=8")));
        let tq = python(&c.with_variant(Variant::TaskQueue));
        assert!(tq.iter().any(|l| l.contains("time.sleep(1)")));
        assert!(tq.iter().any(|l| l.contains("one of 3 queue workers")));
        // The prediction's body: time.sleep, a kernel that lets the GIL go, or pure Python.
        let body = |work| {
            python(&Config { work, ..c.clone() })
                .into_iter()
                .find(|l| l.starts_with("    ") && (l.contains("sleep(0.08)") || l.contains("GIL")))
                .expect("a body")
        };
        assert!(body(Work::Sleep).contains("time.sleep(0.08)"));
        assert!(body(Work::Compute).contains("lets the GIL go"));
        assert!(body(Work::PythonCpu).contains("holds the GIL"));
        // The same lines either way: a request's line does not move with the work.
        for v in Variant::ALL {
            let n = |work| {
                python(&Config {
                    work,
                    ..c.with_variant(v)
                })
                .len()
            };
            assert_eq!(n(Work::Sleep), n(Work::PythonCpu), "{v}");
        }
    }

    /// A console line as a pattern of the `print()` that would print it: each `{…}` of
    /// an f-string stands for any text.
    fn printed_by(console: &str, print_arg: &str) -> bool {
        let literal = print_arg
            .trim_start_matches('f')
            .trim_matches('"')
            .replace("\\n", "\n");
        literal.lines().filter(|l| !l.trim().is_empty()).any(|piece| {
            let mut rest = console;
            let parts: Vec<&str> = piece.split('{').collect();
            for (i, part) in parts.iter().enumerate() {
                let fixed = if i == 0 {
                    *part
                } else {
                    part.split_once('}').map_or(*part, |(_, after)| after)
                };
                match rest.find(fixed) {
                    Some(at) if i > 0 || at == 0 => rest = &rest[at + fixed.len()..],
                    _ => return false,
                }
            }
            rest.is_empty() || parts.len() > 1 && piece.ends_with('}')
        })
    }

    /// The argument of each `print(...)` in `lines`.
    fn prints(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("print(")?
                    .strip_suffix(')')
                    .map(str::to_string)
            })
            .collect()
    }

    #[test]
    fn the_console_prints_exactly_the_prints_of_the_code_shown() {
        for v in Variant::ALL {
            let config = Config {
                requests: 2,
                concurrency: 2,
                ..tutorial(v)
            };
            let shown = prints(&python(&config));
            assert!(!shown.is_empty(), "{v}");
            let report = crate::simulate(&config).expect("runs");
            for line in &report.console {
                assert!(
                    shown.iter().any(|p| printed_by(&line.line, p)),
                    "{v}: {:?} is printed by no print() of the code shown",
                    line.line
                );
            }
            for p in &shown {
                assert!(
                    report.console.iter().any(|line| printed_by(&line.line, p)),
                    "{v}: print({p}) is shown but never printed"
                );
            }
        }
        assert!(printed_by(
            "Fetching external data for item 123...",
            "f\"Fetching external data for item {item_id}...\""
        ));
        assert!(!printed_by(
            "Logging 1 -> 2",
            "f\"Logging Request: {request_data}\""
        ));
    }

    #[test]
    fn rust_is_the_flows_source() {
        assert!(rust(Variant::SyncDef).contains("pub fn predict_synchronously"));
        assert!(rust(Variant::Blocking).contains("pub async fn predict_blocking"));
        assert!(rust(Variant::AsyncIo).contains("pub async fn predict_with_async_io"));
        assert!(rust(Variant::FullAsync).contains("pub async fn predict_fully_asynchronous"));
        assert!(rust(Variant::Background).contains("pub async fn predict_with_background_task"));
        assert!(rust(Variant::ProcessPool).contains("pub async fn predict_in_process_pool"));
        assert!(rust(Variant::TaskQueue).contains("pub async fn predict_with_task_queue"));
    }

    #[test]
    fn every_position_is_in_range_or_nowhere() {
        for v in Variant::ALL {
            for p in all_positions() {
                for responded in [false, true] {
                    match line_of(v, p, responded) {
                        Some(i) => assert!(i < python(&tutorial(v)).len(), "{v} {p:?}"),
                        None => assert!(matches!(p, Position::Arriving | Position::Done)),
                    }
                }
            }
        }
    }

    #[test]
    fn sync_def_lines() {
        let v = Variant::SyncDef;
        assert!(text(v, at(PhaseKind::Io, Place::Pool, true), false).contains("= fetch_external_data("));
        assert!(text(v, at(PhaseKind::Cpu, Place::Pool, true), false).contains("= run_model_prediction("));
        // Waiting for a token, or just taken in: the endpoint has not started.
        assert!(text(v, at(PhaseKind::Queued, Place::Pool, false), false).starts_with("def predict_"));
        assert!(text(v, Position::Started, false).starts_with("def predict_"));
        // The endpoint returned; its value waits for a token to be validated.
        assert!(text(v, Position::Validating, false).contains("response_model=PredictionResponse"));
        // The pool job returned; the loop sends the response.
        assert!(text(v, at(PhaseKind::Queued, Place::Loop, false), false).contains("return Prediction"));
        assert!(text(v, Position::Responded { background: false }, true).contains("return Prediction"));
    }

    #[test]
    fn blocking_lines() {
        let v = Variant::Blocking;
        assert!(text(v, at(PhaseKind::Io, Place::Loop, true), false).contains("= fetch_external_data("));
        assert!(text(v, at(PhaseKind::Cpu, Place::Loop, true), false).contains("= run_model_prediction("));
        // Taken in but waiting for the loop another request holds.
        assert!(text(v, Position::Started, false).starts_with("async def predict_blocking("));
        assert!(text(v, at(PhaseKind::Queued, Place::Loop, false), false).starts_with("async def"));
        assert!(text(v, Position::Responded { background: false }, true).contains("return Prediction"));
    }

    #[test]
    fn async_io_lines() {
        let v = Variant::AsyncIo;
        let io = text(v, at(PhaseKind::Io, Place::Loop, false), false);
        assert!(io.contains("await fetch_external_data_async("), "{io}");
        // The fetch is done but the loop is held by another request's prediction.
        assert_eq!(text(v, at(PhaseKind::Queued, Place::Loop, false), false), io);
        let cpu = text(v, at(PhaseKind::Cpu, Place::Loop, true), false);
        assert!(
            cpu.contains("= run_model_prediction(") && !cpu.contains("await"),
            "{cpu}"
        );
        assert!(text(v, Position::Started, false).starts_with("async def predict_with_async_io("));
    }

    #[test]
    fn full_async_lines() {
        let v = Variant::FullAsync;
        assert!(text(v, at(PhaseKind::Io, Place::Loop, false), false)
            .contains("await fetch_external_data_async("));
        let pool = text(v, at(PhaseKind::Cpu, Place::Pool, true), false);
        assert!(pool.contains("prediction = await run_in_threadpool("), "{pool}");
        assert_eq!(text(v, at(PhaseKind::Queued, Place::Pool, false), false), pool);
        assert_eq!(text(v, at(PhaseKind::Queued, Place::Loop, false), false), pool);
        assert!(text(v, Position::Responded { background: false }, true).contains("return Prediction"));
    }

    #[test]
    fn background_lines() {
        let v = Variant::Background;
        assert!(text(v, at(PhaseKind::Io, Place::Loop, false), false)
            .contains("await fetch_external_data_async("));
        let pool = text(v, at(PhaseKind::Cpu, Place::Pool, true), false);
        assert!(pool.contains("prediction = await run_in_threadpool("));
        // Before the response, a token wait is for the prediction ...
        assert_eq!(text(v, at(PhaseKind::Queued, Place::Pool, false), false), pool);
        // ... after it, for the log task, which add_task queued.
        let queued = text(v, at(PhaseKind::Queued, Place::Pool, false), true);
        assert!(queued.contains("background_tasks.add_task("), "{queued}");
        assert_eq!(text(v, Position::Responded { background: true }, true), queued);
        assert_eq!(text(v, at(PhaseKind::Queued, Place::Loop, false), true), queued);
        let log = text(v, at(PhaseKind::Background, Place::Pool, true), true);
        assert!(log.contains("time.sleep(0.2)"), "{log}");
        assert!(text(v, Position::Responded { background: false }, true).contains("return response"));
    }

    #[test]
    fn arriving_waits_at_the_endpoint_and_done_is_nowhere() {
        for v in Variant::ALL {
            assert_eq!(line_of(v, Position::Arriving, false), marked(v, Start));
            assert_eq!(line_of(v, Position::Done, true), None);
        }
    }

    #[test]
    fn counts_add_up_per_line() {
        let v = Variant::AsyncIo;
        let positions = [
            (at(PhaseKind::Io, Place::Loop, false), false),
            (at(PhaseKind::Queued, Place::Loop, false), false),
            (at(PhaseKind::Cpu, Place::Loop, true), false),
            (Position::Arriving, false),
            (Position::Done, true),
        ];
        let c = counts(v, &positions).requests;
        let start = marked(v, Start).unwrap();
        assert_eq!(c.len(), python(&tutorial(v)).len());
        assert_eq!(
            c.iter().sum::<u32>(),
            4,
            "three in the code, one arriving at its def line"
        );
        assert_eq!(c[line_of(v, positions[0].0, false).unwrap()], 2);
        assert_eq!(c[line_of(v, positions[2].0, false).unwrap()], 1);
        assert_eq!(c[start], 1);
        assert_eq!(counts(v, &[]).requests, vec![0; python(&tutorial(v)).len()]);
        // After the answer, a request counts nowhere; its log task counts as a task.
        let bg = Variant::Background;
        let answered = counts(
            bg,
            &[
                (at(PhaseKind::Background, Place::Pool, true), true),
                (Position::Responded { background: true }, true),
                (Position::Done, true),
            ],
        );
        assert_eq!(answered.requests.iter().sum::<u32>(), 0);
        assert_eq!(answered.tasks[marked(bg, BgRun).unwrap()], 1);
        assert_eq!(answered.tasks[marked(bg, BgWait).unwrap()], 1);
    }
}
