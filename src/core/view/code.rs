//! The code panel: the Python of each endpoint, the Rust the simulator runs for it, and
//! which line each request is "in" right now.
//!
//! The snippets are short, current FastAPI / Pydantic v2, and equivalent to the tutorial's
//! endpoints. They are excerpts: `app`, the models, `time`, `asyncio` and the helpers
//! shown in the other snippets are assumed.

use crate::model::{PhaseKind, Place, Variant};

/// One snippet and the line each kind of position lights.
struct Snippet {
    lines: &'static [&'static str],
    /// The endpoint's `def` / `async def` line: taken in, not yet in a phase; for `def`
    /// endpoints also the wait for a token before the endpoint can start.
    start: usize,
    /// The fetch call.
    io: usize,
    /// The prediction call.
    cpu: usize,
    /// Waiting for a threadpool token (before the prediction, or the endpoint for `def`).
    token_wait: usize,
    /// Waiting for the event loop (after an await, a pool job, or before starting).
    loop_wait: usize,
    /// The `return` line: the response is being sent.
    respond: usize,
    /// The line declaring `response_model`, for a `def` endpoint whose return value
    /// waits for a token to be validated in the threadpool.
    validate: Option<usize>,
    /// `background_tasks.add_task(...)`: responded, the log task not running yet.
    bg_wait: Option<usize>,
    /// The log task's `time.sleep`: the log task is running.
    bg_run: Option<usize>,
}

const SYNC_DEF: Snippet = Snippet {
    lines: &[
        "def fetch_external_data(item_id: int) -> dict:",
        "    time.sleep(0.5)  # blocks the thread that runs it",
        "    return {\"item_id\": item_id, \"metadata\": \"some_fetched_value\"}",
        "",
        "def run_model_prediction(data_point: float) -> float:",
        "    time.sleep(1)  # stands in for inference: blocks its thread",
        "    return data_point * 2",
        "",
        "# Plain def: FastAPI runs each call in its threadpool (40 at a time by default),",
        "# then validates the return value against response_model there too (a 2nd token)",
        "@app.post(\"/predict_sync\", response_model=PredictionResponse)",
        "def predict_synchronously(request: PredictionRequest):",
        "    print(\"Received prediction request.\")",
        "    data = fetch_external_data(request.item_id)  # holds a pool thread, not the loop",
        "    prediction = run_model_prediction(request.feature_value)  # same thread, 1 s more",
        "    return PredictionResponse(**data, prediction=prediction)  # validated, then sent",
    ],
    start: 11,
    io: 13,
    cpu: 14,
    token_wait: 11,
    loop_wait: 15,
    respond: 15,
    validate: Some(10),
    bg_wait: None,
    bg_run: None,
};

const BLOCKING: Snippet = Snippet {
    lines: &[
        "def fetch_external_data(item_id: int) -> dict:",
        "    time.sleep(0.5)  # blocks the thread that runs it",
        "    return {\"item_id\": item_id, \"metadata\": \"some_fetched_value\"}",
        "",
        "def run_model_prediction(data_point: float) -> float:",
        "    time.sleep(1)  # stands in for inference: blocks its thread",
        "    return data_point * 2",
        "",
        "# async def: FastAPI runs it on the event loop itself",
        "@app.post(\"/predict_blocking\", response_model=PredictionResponse)",
        "async def predict_blocking(request: PredictionRequest):",
        "    print(\"Received prediction request.\")",
        "    data = fetch_external_data(request.item_id)  # a plain call: holds the loop 0.5 s",
        "    prediction = run_model_prediction(request.feature_value)  # holds it 1 s more",
        "    return PredictionResponse(**data, prediction=prediction)  # the loop is free again",
    ],
    start: 10,
    io: 12,
    cpu: 13,
    token_wait: 10,
    loop_wait: 10,
    respond: 14,
    validate: None,
    bg_wait: None,
    bg_run: None,
};

const ASYNC_IO: Snippet = Snippet {
    lines: &[
        "async def fetch_external_data_async(item_id: int) -> dict:",
        "    await asyncio.sleep(0.5)  # yields: the loop serves others meanwhile",
        "    return {\"item_id\": item_id, \"metadata\": \"some_fetched_value_async\"}",
        "",
        "def run_model_prediction(data_point: float) -> float:",
        "    time.sleep(1)  # stands in for inference: blocks its thread",
        "    return data_point * 2",
        "",
        "@app.post(\"/predict_async_io\", response_model=PredictionResponse)",
        "async def predict_with_async_io(request: PredictionRequest):",
        "    print(\"Received async I/O prediction request.\")",
        "    data = await fetch_external_data_async(request.item_id)  # the loop is free",
        "    # a plain call inside async def: nothing else runs until it returns",
        "    prediction = run_model_prediction(request.feature_value)  # holds the loop 1 s",
        "    return PredictionResponse(**data, prediction=prediction)",
    ],
    start: 9,
    io: 11,
    cpu: 13,
    token_wait: 9,
    loop_wait: 11,
    respond: 14,
    validate: None,
    bg_wait: None,
    bg_run: None,
};

const FULL_ASYNC: Snippet = Snippet {
    lines: &[
        "from fastapi.concurrency import run_in_threadpool",
        "",
        "def run_model_prediction(data_point: float) -> float:",
        "    time.sleep(1)  # blocks only the pool thread that runs it",
        "    return data_point * 2",
        "",
        "@app.post(\"/predict_full_async\", response_model=PredictionResponse)",
        "async def predict_fully_asynchronous(request: PredictionRequest):",
        "    print(\"Received full async prediction request.\")",
        "    data = await fetch_external_data_async(request.item_id)  # the loop is free",
        "    # await: the loop is free while this waits for one of the pool's 40 tokens",
        "    # and while a pool thread runs the model",
        "    prediction = await run_in_threadpool(run_model_prediction, request.feature_value)",
        "    return PredictionResponse(**data, prediction=prediction)",
    ],
    start: 7,
    io: 9,
    cpu: 12,
    token_wait: 12,
    loop_wait: 12,
    respond: 13,
    validate: None,
    bg_wait: None,
    bg_run: None,
};

const BACKGROUND: Snippet = Snippet {
    lines: &[
        "def log_prediction_details(request_data: dict, response_data: dict):",
        "    print(f\"Logging {request_data} -> {response_data}\")",
        "    time.sleep(0.2)  # a def task: it runs in the threadpool, holding a token",
        "",
        "@app.post(\"/predict_with_background\", response_model=PredictionResponse)",
        "async def predict_with_background_task(",
        "    request: PredictionRequest, background_tasks: BackgroundTasks",
        "):",
        "    data = await fetch_external_data_async(request.item_id)  # the loop is free",
        "    prediction = await run_in_threadpool(run_model_prediction, request.feature_value)",
        "    response = PredictionResponse(**data, prediction=prediction)",
        "    # model_dump() is Pydantic v2's name for the tutorial's deprecated .dict()",
        "    background_tasks.add_task(  # runs only after the response is sent",
        "        log_prediction_details, request.model_dump(), response.model_dump()",
        "    )",
        "    return response  # sent now; then the log task takes a pool token",
    ],
    start: 5,
    io: 8,
    cpu: 9,
    token_wait: 9,
    loop_wait: 9,
    respond: 15,
    validate: None,
    bg_wait: Some(12),
    bg_run: Some(2),
};

fn snippet(variant: Variant) -> &'static Snippet {
    match variant {
        Variant::SyncDef => &SYNC_DEF,
        Variant::Blocking => &BLOCKING,
        Variant::AsyncIo => &ASYNC_IO,
        Variant::FullAsync => &FULL_ASYNC,
        Variant::Background => &BACKGROUND,
    }
}

/// The Python of the variant's endpoint, one entry per line (blank lines are `""`).
pub fn python(variant: Variant) -> &'static [&'static str] {
    snippet(variant).lines
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
/// it is nowhere in the code (`Arriving`, `Done`). `responded` says whether its response
/// has been sent.
///
/// - `Validating` (a `def` endpoint's return value waiting for a token) is the line
///   that declares `response_model`.
/// - `Started` is the endpoint's `def` line. So is a wait for the loop before a
///   `blocking` request runs, and a `sync_def` request's wait for a token.
/// - A wait for the loop is shown on the line that will resume: the fetch's `await` in
///   `async_io`; the `run_in_threadpool` line in `full_async` / `background` (the position
///   does not say whether the wait follows the fetch or the pool job; both are near zero
///   when nothing blocks the loop); the `return` line in `sync_def` (the pool job is done).
/// - After the response of a `background` request: `In { kind: Background, .. }` is the
///   log task's `time.sleep` line; anything else (waiting for a token for the log task,
///   `Responded { background: true }`) is the `background_tasks.add_task(` line.
///   `Responded { background: false }` is the `return` line in every variant.
pub fn line_of(variant: Variant, position: Position, responded: bool) -> Option<usize> {
    let s = snippet(variant);
    let after_response = s.bg_wait.unwrap_or(s.respond);
    let line = match position {
        Position::Arriving | Position::Done => return None,
        Position::Responded { background: true } => after_response,
        Position::Responded { background: false } => s.respond,
        Position::Validating => s.validate.unwrap_or(s.respond),
        Position::In {
            kind: PhaseKind::Background,
            ..
        } => s.bg_run.unwrap_or(s.respond),
        Position::Started
        | Position::In {
            kind: PhaseKind::Queued,
            ..
        } if responded => after_response,
        Position::Started => s.start,
        Position::In { kind, on, .. } => match (kind, on) {
            (PhaseKind::Io, _) => s.io,
            (PhaseKind::Cpu, _) => s.cpu,
            (_, Place::Pool) => s.token_wait,
            (_, Place::Loop) => s.loop_wait,
        },
    };
    Some(line)
}

/// Requests per line: `counts[i]` is how many of `positions` (each `(position,
/// responded)`) are at line `i` of [`python`]`(variant)`.
pub fn counts(variant: Variant, positions: &[(Position, bool)]) -> Vec<u32> {
    let mut counts = vec![0u32; python(variant).len()];
    for &(position, responded) in positions {
        if let Some(c) = line_of(variant, position, responded).and_then(|i| counts.get_mut(i)) {
            *c = c.saturating_add(1);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind: PhaseKind, on: Place, blocking: bool) -> Position {
        Position::In { kind, on, blocking }
    }

    /// The text of the line a position lights.
    fn text(variant: Variant, position: Position, responded: bool) -> &'static str {
        let i = line_of(variant, position, responded).expect("a line");
        python(variant)[i]
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
            for on in [Place::Loop, Place::Pool] {
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
            let lines = python(v);
            assert!((8..=16).contains(&lines.len()), "{v}: {} lines", lines.len());
            let route = v.route().trim_start_matches("POST ");
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(&format!("@app.post(\"{route}\""))),
                "{v}"
            );
            for l in lines {
                assert!(l.chars().count() <= 88, "{v}: too wide: {l}");
                assert_eq!(l.trim_end(), *l, "{v}: trailing space: {l:?}");
            }
        }
    }

    #[test]
    fn snippets_are_true_of_current_fastapi_and_pydantic() {
        let all: Vec<&str> = Variant::ALL
            .iter()
            .flat_map(|&v| python(v).iter().copied())
            .collect();
        // Pydantic v2: .dict() is deprecated; the snippets call model_dump().
        assert!(!all
            .iter()
            .any(|l| l.contains(".dict()") && !l.trim_start().starts_with('#')));
        assert!(python(Variant::Background)
            .iter()
            .any(|l| l.contains("request.model_dump()")));
        assert!(python(Variant::FullAsync).contains(&"from fastapi.concurrency import run_in_threadpool"));
        // The def endpoint is a plain def, and says FastAPI runs it in the threadpool.
        let sync = python(Variant::SyncDef);
        assert!(sync.iter().any(|l| l.starts_with("def predict_synchronously(")));
        assert!(sync.iter().any(|l| l.contains("threadpool")));
        assert!(!sync.iter().any(|l| l.contains("async ") || l.contains("await ")));
        // The blocking endpoint is an async def that calls the blocking functions without await.
        let blocking = python(Variant::Blocking);
        assert!(blocking
            .iter()
            .any(|l| l.starts_with("async def predict_blocking(")));
        assert!(blocking.iter().any(|l| l.contains("= fetch_external_data(")));
        assert!(!blocking.iter().any(|l| l.contains("await ")));
        // The background task is a def added with add_task and runs in the threadpool.
        let bg = python(Variant::Background);
        assert!(bg.iter().any(|l| l.starts_with("def log_prediction_details(")));
        assert!(bg.iter().any(|l| l.contains("background_tasks.add_task(")));
        assert!(bg.iter().any(|l| l.contains("background_tasks: BackgroundTasks")));
        // Durations are the tutorial's.
        assert!(all.iter().any(|l| l.contains("time.sleep(0.5)")));
        assert!(all.iter().any(|l| l.contains("asyncio.sleep(0.5)")));
        assert!(all.iter().any(|l| l.contains("time.sleep(1)")));
        assert!(bg.iter().any(|l| l.contains("time.sleep(0.2)")));
    }

    #[test]
    fn rust_is_the_flows_source() {
        assert!(rust(Variant::SyncDef).contains("pub fn predict_synchronously"));
        assert!(rust(Variant::Blocking).contains("pub async fn predict_blocking"));
        assert!(rust(Variant::AsyncIo).contains("pub async fn predict_with_async_io"));
        assert!(rust(Variant::FullAsync).contains("pub async fn predict_fully_asynchronous"));
        assert!(rust(Variant::Background).contains("pub async fn predict_with_background_task"));
    }

    #[test]
    fn every_position_is_in_range_or_nowhere() {
        for v in Variant::ALL {
            for p in all_positions() {
                for responded in [false, true] {
                    match line_of(v, p, responded) {
                        Some(i) => assert!(i < python(v).len(), "{v} {p:?}"),
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
        assert!(
            pool.contains("await run_in_threadpool(run_model_prediction"),
            "{pool}"
        );
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
        assert!(pool.contains("await run_in_threadpool(run_model_prediction"));
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
    fn arriving_and_done_are_nowhere() {
        for v in Variant::ALL {
            assert_eq!(line_of(v, Position::Arriving, false), None);
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
        let c = counts(v, &positions);
        assert_eq!(c.len(), python(v).len());
        assert_eq!(c.iter().sum::<u32>(), 3);
        assert_eq!(c[line_of(v, positions[0].0, false).unwrap()], 2);
        assert_eq!(c[line_of(v, positions[2].0, false).unwrap()], 1);
        assert_eq!(counts(v, &[]), vec![0; python(v).len()]);
    }
}
