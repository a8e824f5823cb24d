//! The virtual model against docs/fastapi-rules.md: closed forms where they exist,
//! hand-worked timelines where they don't.
#![cfg(not(target_arch = "wasm32"))]

use loopscope::model::{Config, PhaseKind, Place, Report, Variant, Work};
use loopscope::simulate;

fn cfg(variant: Variant, requests: u64, concurrency: u64, tokens: u64, io: f64, cpu: f64, bg: f64) -> Config {
    Config {
        variant,
        requests,
        concurrency,
        io_ms: io,
        cpu_ms: cpu,
        bg_ms: bg,
        tokens,
        work: Work::Sleep,
        ..Config::default()
    }
}

fn run(c: &Config) -> Report {
    simulate(c).expect("valid config")
}

fn ceil_div(a: u64, b: u64) -> f64 {
    a.div_ceil(b) as f64
}

/// The closed forms for N requests sent at once (docs/fastapi-rules.md, "What these rules give for N requests sent at once"):
/// (makespan, loop blocked in total, longest stall).
fn closed_form(c: &Config) -> (f64, f64, f64) {
    let (n, t, io, cpu) = (c.requests, c.tokens, c.io_ms, c.cpu_ms);
    match c.variant {
        Variant::SyncDef => (ceil_div(n, t) * (io + cpu), 0.0, 0.0),
        Variant::Blocking => (n as f64 * (io + cpu), n as f64 * (io + cpu), io + cpu),
        Variant::AsyncIo => (io + n as f64 * cpu, n as f64 * cpu, cpu),
        Variant::FullAsync | Variant::Background | Variant::TaskQueue => {
            (io + ceil_div(n, t) * cpu, 0.0, 0.0)
        }
        Variant::ProcessPool => (io + ceil_div(n, c.processes) * cpu, 0.0, 0.0),
    }
}

#[test]
fn closed_forms_hold_for_every_variant() {
    let combos: [(u64, u64, f64, f64, f64); 7] = [
        (10, 40, 500.0, 1000.0, 200.0), // the tutorial
        (1, 40, 500.0, 1000.0, 200.0),
        (41, 40, 500.0, 1000.0, 200.0), // one past the default pool
        (10, 3, 500.0, 1000.0, 200.0),
        (7, 1, 40.0, 80.0, 20.0),
        (25, 4, 120.0, 30.0, 5.0),
        (100, 40, 13.0, 7.0, 3.0),
    ];
    for (n, t, io, cpu, bg) in combos {
        for v in Variant::ALL {
            let c = cfg(v, n, n, t, io, cpu, bg);
            let r = run(&c);
            let (makespan, blocked, longest) = closed_form(&c);
            let s = &r.stats;
            let what = format!("{v} n={n} tokens={t} io={io} cpu={cpu}");
            assert_eq!(s.makespan_ms, makespan, "makespan, {what}");
            assert_eq!(s.loop_stall_total_ms, blocked, "loop blocked, {what}");
            assert_eq!(s.loop_stall_max_ms, longest, "longest stall, {what}");
            assert_eq!(r.requests.len() as u64, n);
            if !matches!(v, Variant::Background | Variant::TaskQueue) {
                assert_eq!(s.background_done_ms, None, "{what}");
            }
        }
    }
}

#[test]
fn the_tutorials_numbers() {
    let base = Config::default();
    let got: Vec<f64> = Variant::TUTORIAL
        .iter()
        .map(|v| run(&base.with_variant(*v)).stats.makespan_ms)
        .collect();
    assert_eq!(got, [1500.0, 15000.0, 10500.0, 1500.0, 1500.0]);
    // Ten logs start at 1.5 s with 40 tokens free: all end at 1.7 s.
    let bg = run(&base.with_variant(Variant::Background));
    assert_eq!(bg.stats.background_done_ms, Some(1700.0));
}

#[test]
fn background_logs_end_bg_after_the_last_response_when_tokens_are_plenty() {
    for (n, bg) in [(10, 200.0), (40, 50.0), (3, 900.0)] {
        let r = run(&cfg(Variant::Background, n, n, 40, 500.0, 1000.0, bg));
        assert_eq!(r.stats.background_done_ms, Some(1500.0 + bg));
    }
}

/// Hand-worked: one token, two requests at once. Both fetch 0–500. Request 0 takes
/// the token 500–1500 and responds; its log queues behind request 1, which waited
/// since 500. Request 1 predicts 1500–2500; then log 0 runs 2500–2700, log 1 2700–2900.
#[test]
fn background_tasks_queue_for_tokens_behind_predictions() {
    let r = run(&cfg(Variant::Background, 2, 2, 1, 500.0, 1000.0, 200.0));
    let (a, b) = (r.requests.at(0), r.requests.at(1));
    assert_eq!((a.responded_ms, b.responded_ms), (1500.0, 2500.0));
    assert_eq!(
        (a.background_done_ms, b.background_done_ms),
        (Some(2700.0), Some(2900.0))
    );
    assert_eq!(r.stats.background_done_ms, Some(2900.0));
    let spans = |req: loopscope::model::RequestRef, kind, on| -> Vec<(f64, f64)> {
        req.phases
            .iter()
            .filter(|p| p.kind == kind && p.on == on)
            .map(|p| (p.start_ms, p.end_ms))
            .collect()
    };
    assert_eq!(
        spans(b, PhaseKind::Queued, Place::Pool),
        [(500.0, 1500.0), (2500.0, 2700.0)]
    );
    assert_eq!(spans(a, PhaseKind::Queued, Place::Pool), [(1500.0, 2500.0)]);
    assert_eq!(spans(a, PhaseKind::Background, Place::Pool), [(2500.0, 2700.0)]);
    assert_eq!(spans(b, PhaseKind::Cpu, Place::Pool), [(1500.0, 2500.0)]);
}

/// Hand-worked, one client (ab -c 1) and a log longer than the fetch: request 1 is
/// sent at 1500, fetches 1500–2000, then waits for the token log 0 holds until 2300.
/// So a background task delays the next prediction: 3300, not full_async's 3000.
#[test]
fn a_long_background_task_delays_the_next_clients_prediction() {
    let r = run(&cfg(Variant::Background, 2, 1, 1, 500.0, 1000.0, 800.0));
    let b = r.requests.at(1);
    assert_eq!(b.sent_ms, 1500.0);
    assert_eq!(b.accepted_ms, 1500.0);
    assert_eq!(b.responded_ms, 3300.0);
    assert_eq!(b.latency_ms, 1800.0);
    assert_eq!(r.stats.makespan_ms, 3300.0);
    assert_eq!(r.stats.background_done_ms, Some(4100.0));
    let full = run(&cfg(Variant::FullAsync, 2, 1, 1, 500.0, 1000.0, 800.0));
    assert_eq!(full.stats.makespan_ms, 3000.0);
}

/// Hand-worked, two clients for four requests on async_io. Requests 0 and 1 fetch
/// 0–500, then predict on the loop back to back: 500–1500, 1500–2500. Request 2 is
/// sent at 1500 but the loop is blocked by request 1 until 2500, so it is accepted
/// then, with request 3 (sent at 2500). Both fetch 2500–3000, predict 3000–4000–5000.
#[test]
fn fewer_clients_than_requests_on_async_io() {
    let r = run(&cfg(Variant::AsyncIo, 4, 2, 40, 500.0, 1000.0, 200.0));
    let times: Vec<(f64, f64, f64)> = r
        .requests
        .iter()
        .map(|q| (q.sent_ms, q.accepted_ms, q.responded_ms))
        .collect();
    assert_eq!(
        times,
        [
            (0.0, 0.0, 1500.0),
            (0.0, 0.0, 2500.0),
            (1500.0, 2500.0, 4000.0),
            (2500.0, 2500.0, 5000.0)
        ]
    );
    let queued: Vec<_> = r
        .requests
        .at(2)
        .phases
        .iter()
        .filter(|p| p.kind == PhaseKind::Queued)
        .map(|p| (p.start_ms, p.end_ms, p.on))
        .collect();
    assert_eq!(queued, [(1500.0, 2500.0, Place::Loop)]);
    assert_eq!(r.stats.loop_stall_total_ms, 4000.0);
    assert_eq!(r.stats.latency_ms.max, 2500.0);
}

/// ab -c 1: every variant serialises into n × (io + cpu) (+ nothing for background,
/// whose log runs while the next request fetches).
#[test]
fn a_single_client_sees_no_concurrency() {
    for v in Variant::ALL {
        let r = run(&cfg(v, 5, 1, 40, 100.0, 300.0, 50.0));
        assert_eq!(r.stats.makespan_ms, 2000.0, "{v}");
        assert!(r.requests.iter().all(|q| q.latency_ms == 400.0), "{v}");
    }
}

/// When each request's first phase of `kind` started.
fn starts_of(r: &Report, kind: PhaseKind) -> Vec<f64> {
    let start = |q: loopscope::model::RequestRef| q.phases.iter().find(|p| p.kind == kind).unwrap().start_ms;
    r.requests.iter().map(start).collect()
}

#[test]
fn the_limiter_serves_predictions_first_come_first_served() {
    // One token: predictions run strictly in the order their fetches finished.
    let r = run(&cfg(Variant::FullAsync, 6, 6, 1, 100.0, 50.0, 10.0));
    assert_eq!(
        starts_of(&r, PhaseKind::Cpu),
        [100.0, 150.0, 200.0, 250.0, 300.0, 350.0]
    );
    // Two tokens on def endpoints: the endpoints run in pairs, at 0, 150 and 300 ms...
    let r = run(&cfg(Variant::SyncDef, 6, 6, 2, 100.0, 50.0, 10.0));
    assert_eq!(
        starts_of(&r, PhaseKind::Io),
        [0.0, 0.0, 150.0, 150.0, 300.0, 300.0]
    );
    // ...but each response then waits for a second token, to validate the return value
    // against response_model (FastAPI's serialize_response runs field.validate with
    // run_in_threadpool for a def endpoint), behind every endpoint call already queued:
    // nobody is answered before the last endpoint call ends.
    let responded: Vec<f64> = r.requests.iter().map(|q| q.responded_ms).collect();
    assert_eq!(responded, [450.0; 6]);
    let first = r.requests.at(0);
    let validation_wait = first
        .phases
        .iter()
        .find(|p| p.kind == PhaseKind::Queued && p.on == Place::Pool && p.start_ms > 0.0)
        .expect("request 0 waits for a token to validate its response");
    assert_eq!((validation_wait.start_ms, validation_wait.end_ms), (150.0, 450.0));
}

/// Hand-worked: sync_def, 4 requests from 2 clients, 1 token, io 10 + cpu 20 = 30 ms.
/// 0: r0 runs, r1 waits. 30: r1 runs, r0 waits to validate. 60: r0 validates and is
/// answered (its client sends r2), r1 validates and is answered (r3 sent); r2 runs.
/// 90: r3 runs, r2 waits to validate. 120: both validate. Without the validation call
/// the answers would come at 30, 60, 90, 120.
#[test]
fn def_endpoint_responses_wait_for_a_token_to_validate() {
    let r = run(&cfg(Variant::SyncDef, 4, 2, 1, 10.0, 20.0, 5.0));
    let responded: Vec<f64> = r.requests.iter().map(|q| q.responded_ms).collect();
    assert_eq!(responded, [60.0, 60.0, 120.0, 120.0]);
    let sent: Vec<f64> = r.requests.iter().map(|q| q.sent_ms).collect();
    assert_eq!(sent, [0.0, 0.0, 60.0, 60.0]);
    assert_eq!(r.stats.makespan_ms, 120.0);
    // With a token per request nobody waits: the validation costs nothing.
    let r = run(&cfg(Variant::SyncDef, 4, 4, 4, 10.0, 20.0, 5.0));
    assert!(r.requests.iter().all(|q| q.responded_ms == 30.0));
    assert!(r
        .requests
        .iter()
        .all(|q| q.phases.iter().all(|p| p.kind != PhaseKind::Queued)));
}

/// Requests taken in together wait for the loop until their coroutine first runs: in
/// `blocking`, request k starts k·(io+cpu) after it was accepted, and the timeline shows
/// that wait.
#[test]
fn accepted_requests_wait_for_the_loop_before_they_first_run() {
    let r = run(&cfg(Variant::Blocking, 4, 4, 40, 10.0, 20.0, 5.0));
    for (k, q) in r.requests.iter().enumerate() {
        assert_eq!(q.accepted_ms, 0.0);
        let waits: Vec<(f64, f64)> = q
            .phases
            .iter()
            .filter(|p| p.kind == PhaseKind::Queued && p.on == Place::Loop)
            .map(|p| (p.start_ms, p.end_ms))
            .collect();
        let start = 30.0 * k as f64;
        if k == 0 {
            assert!(waits.is_empty());
        } else {
            assert_eq!(waits, [(0.0, start)], "request {k}");
        }
        let io = q.phases.iter().find(|p| p.kind == PhaseKind::Io).unwrap();
        assert_eq!(io.start_ms, start);
    }
}

#[test]
fn background_tasks_start_only_after_their_response() {
    for tokens in [1, 2, 40] {
        let r = run(&cfg(Variant::Background, 12, 12, tokens, 30.0, 70.0, 40.0));
        for q in &r.requests {
            let bg: Vec<_> = q
                .phases
                .iter()
                .filter(|p| p.kind == PhaseKind::Background)
                .collect();
            assert_eq!(bg.len(), 1);
            assert!(
                bg[0].start_ms >= q.responded_ms,
                "request {} tokens {tokens}",
                q.id
            );
            assert_eq!(q.background_done_ms, Some(bg[0].end_ms));
        }
    }
}

#[test]
fn a_background_requests_console_lines_come_in_the_tutorials_order() {
    let r = run(&cfg(Variant::Background, 1, 1, 40, 500.0, 1000.0, 200.0));
    let lines: Vec<(f64, &str)> = r.console.iter().map(|l| (l.t_ms, l.line.as_str())).collect();
    assert_eq!(
        lines,
        [
            (0.0, "Received prediction request with background task."),
            (0.0, "Fetching external data async for item 123..."),
            (500.0, "Finished fetching external data async."),
            (500.0, "Starting model prediction (in thread pool)..."),
            (1500.0, "Finished model prediction (in thread pool)."),
            (1500.0, "Sending response (background task pending)."),
            (1500.0, "--- Background Task Started ---"),
            (1500.0, "Logging Request: {'item_id': 123, 'feature_value': 5.0}"),
            (
                1500.0,
                "Logging Response: {'item_id': 123, 'metadata': 'some_fetched_value_async', 'prediction': 10.0}"
            ),
            (1700.0, "--- Background Task Finished ---"),
        ]
    );
}

#[test]
fn each_variant_prints_its_endpoints_lines() {
    let first = |v| run(&cfg(v, 1, 1, 40, 5.0, 10.0, 2.0)).console[0].line.clone();
    assert_eq!(first(Variant::SyncDef), "Received prediction request.");
    assert_eq!(first(Variant::Blocking), "Received prediction request.");
    assert_eq!(first(Variant::AsyncIo), "Received async I/O prediction request.");
    assert_eq!(
        first(Variant::FullAsync),
        "Received full async prediction request."
    );
    let sync = run(&cfg(Variant::SyncDef, 1, 1, 40, 5.0, 10.0, 2.0));
    assert!(sync
        .console
        .iter()
        .any(|l| l.line == "Fetching external data for item 123..."));
    assert_eq!(
        sync.requests.at(0).answer().response.as_ref().unwrap().metadata,
        "some_fetched_value"
    );
    let io = run(&cfg(Variant::AsyncIo, 1, 1, 40, 5.0, 10.0, 2.0));
    assert_eq!(
        io.requests.at(0).answer().response.as_ref().unwrap().metadata,
        "some_fetched_value_async"
    );
}

#[test]
fn stalls_name_the_blocking_functions_and_the_request() {
    let r = run(&cfg(Variant::Blocking, 2, 2, 40, 500.0, 1000.0, 200.0));
    assert_eq!(r.loop_stalls.len(), 2);
    assert_eq!(
        r.loop_stalls[0].cause,
        "fetch_external_data, run_model_prediction"
    );
    assert_eq!((r.loop_stalls[1].start_ms, r.loop_stalls[1].request), (1500.0, 1));
    let r = run(&cfg(Variant::AsyncIo, 2, 2, 40, 500.0, 1000.0, 200.0));
    assert_eq!(r.loop_stalls[0].cause, "run_model_prediction");
    // Request 1's timer fired at 500 but it waited for the loop until 1500.
    let waited: Vec<_> = r
        .requests
        .at(1)
        .phases
        .iter()
        .filter(|p| p.kind == PhaseKind::Queued && p.on == Place::Loop)
        .map(|p| (p.start_ms, p.end_ms))
        .collect();
    assert_eq!(waited, [(500.0, 1500.0)]);
}

#[test]
fn the_blocking_variant_accepts_nothing_while_blocked() {
    // One client at a time would hide it; two clients, four requests: request 2 is
    // sent at 1500 (request 0's response) while request 1 holds the loop until 3000.
    let r = run(&cfg(Variant::Blocking, 4, 2, 40, 500.0, 1000.0, 200.0));
    assert_eq!(
        (r.requests.at(2).sent_ms, r.requests.at(2).accepted_ms),
        (1500.0, 3000.0)
    );
    assert_eq!(r.stats.makespan_ms, 6000.0);
}

#[test]
fn predictions_are_feature_value_times_two() {
    for v in Variant::ALL {
        let r = run(&cfg(v, 8, 4, 3, 10.0, 20.0, 5.0));
        for q in &r.requests {
            assert_eq!(q.answer().status, 200);
            let response = q.answer().response.expect("a 200 has its body");
            assert_eq!(response.prediction, q.request.feature_value * 2.0);
            assert_eq!(response.item_id, q.request.item_id);
        }
    }
}

#[test]
fn the_largest_allowed_run_finishes() {
    let r = run(&cfg(
        Variant::Background,
        100_000,
        100_000,
        40,
        500.0,
        1000.0,
        200.0,
    ));
    assert_eq!(r.stats.makespan_ms, 500.0 + 2500.0 * 1000.0);
}

#[test]
fn invalid_configs_are_refused_not_run() {
    let bad = cfg(Variant::AsyncIo, 0, 0, 40, 1.0, 1.0, 1.0);
    assert_eq!(simulate(&bad).unwrap_err().field, "requests");
}

/// A job that raises (or whose thread dies) ends its request as a 500 at once; its
/// token goes to the next in line, and every other request is served as before.
#[test]
fn a_job_that_raises_is_answered_500_and_the_rest_complete() {
    use loopscope::model::Faults;
    let c = cfg(Variant::FullAsync, 4, 4, 2, 40.0, 80.0, 20.0);
    let faults = Faults {
        raise_in: vec![1],
        crash_in: vec![],
    };
    let r = loopscope::simulate_with(&c, &faults).expect("valid");
    let answers: Vec<(u16, f64)> = r
        .requests
        .iter()
        .map(|q| (q.answer().status, q.responded_ms))
        .collect();
    // Tokens 2: requests 0 and 1 get theirs at 40 ms; 1 raises at once and hands its
    // token to 2 (done at 120); 3 takes 0's at 120 (done at 200).
    assert_eq!(answers, [(200, 120.0), (500, 40.0), (200, 120.0), (200, 200.0)]);
    assert_eq!(r.stats.failed, 1);
    assert!(r.requests.at(1).answer().response.is_none());
    assert!(r
        .requests
        .at(1)
        .answer()
        .error
        .as_deref()
        .unwrap()
        .starts_with("ValueError"));
    assert!(r
        .console
        .iter()
        .any(|l| l.request == 1 && l.line.starts_with("ERROR:    Exception in ASGI application")));
    // A background endpoint that raised never runs its log task.
    let bg = loopscope::simulate_with(
        &c.with_variant(Variant::Background),
        &Faults {
            raise_in: vec![],
            crash_in: vec![0],
        },
    )
    .expect("valid");
    assert_eq!(bg.requests.at(0).answer().status, 500);
    assert_eq!(bg.requests.at(0).background_done_ms, None);
    assert!(bg.requests.iter().skip(1).all(|q| q.background_done_ms.is_some()));
    // A def endpoint that raised never asks for its second token.
    let def = loopscope::simulate_with(&c.with_variant(Variant::SyncDef), &faults).expect("valid");
    assert_eq!(def.requests.at(1).answer().status, 500);
    assert_eq!(def.requests.at(1).responded_ms, 0.0);
    // Faults for an endpoint with no threadpool job, or a request the run lacks: refused.
    assert!(loopscope::simulate_with(&c.with_variant(Variant::AsyncIo), &faults).is_err());
    let too_far = Faults {
        raise_in: vec![4],
        crash_in: vec![],
    };
    assert!(loopscope::simulate_with(&c, &too_far).is_err());
}

/// The model given each request's own step durations (what compute work measured).
#[test]
fn each_request_can_take_its_own_time() {
    use loopscope::model::{Durations, Faults};
    let c = cfg(Variant::FullAsync, 2, 2, 1, 40.0, 80.0, 20.0);
    let of = |cpu_ms| Durations {
        io_ms: 40.0,
        cpu_ms,
        bg_ms: 20.0,
    };
    let r = loopscope::simulate_with_durations(&c, &Faults::default(), &[of(100.0), of(30.0)]).unwrap();
    // One token: request 0 predicts 40–140, request 1 waits for it, then 140–170.
    let answers: Vec<f64> = r.requests.iter().map(|q| q.responded_ms).collect();
    assert_eq!(answers, [140.0, 170.0]);
    assert!(loopscope::simulate_with_durations(&c, &Faults::default(), &[of(1.0)]).is_err());
}

// ---- Past the tutorial: the GIL, a process pool, a task queue, several workers ----

fn spans(r: loopscope::model::RequestRef, kind: PhaseKind, on: Place) -> Vec<(f64, f64)> {
    r.phases
        .iter()
        .filter(|p| p.kind == kind && p.on == on)
        .map(|p| (p.start_ms, p.end_ms))
        .collect()
}

/// Pure-Python predictions in the threadpool share one GIL. Worked by hand for four at
/// once, io 30, cpu 50 (ten 5 ms slices each): the threads take the GIL in turn, one
/// switch interval each, thread 0 first at 30 ms; thread k's last slice ends at
/// 30 + 5·(9·4 + k + 1). The loop, woken by thread 0's result at 215, queues behind the
/// three still computing and gets the GIL at 230, when the last one is done: every
/// answer at io + N·cpu = 230, where `sleep` work answers all at io + cpu = 80.
#[test]
fn pure_python_in_the_threadpool_takes_turns_on_the_gil() {
    let c = Config {
        work: Work::PythonCpu,
        ..cfg(Variant::FullAsync, 4, 4, 40, 30.0, 50.0, 10.0)
    };
    let r = run(&c);
    for q in &r.requests {
        assert_eq!(q.responded_ms, 230.0, "request {}", q.id);
        let held: f64 = spans(q, PhaseKind::Cpu, Place::Pool)
            .iter()
            .map(|(a, b)| b - a)
            .sum();
        assert_eq!(held, 50.0, "each computes its 50 ms, in slices");
        assert!(spans(q, PhaseKind::Cpu, Place::Pool)
            .iter()
            .all(|(a, b)| b - a <= 5.0 + 1e-9));
    }
    let r0 = r.requests.at(0);
    assert_eq!(
        &spans(r0, PhaseKind::Cpu, Place::Pool)[..2],
        [(30.0, 35.0), (50.0, 55.0)]
    );
    assert_eq!(spans(r0, PhaseKind::GilWait, Place::Pool)[0], (35.0, 50.0));
    assert_eq!(
        spans(r0, PhaseKind::Cpu, Place::Pool).last(),
        Some(&(210.0, 215.0))
    );
    // The loop waited for the GIL from thread 0's result to the end: (N - 1) slices.
    assert_eq!(r.loop_gil_waits.len(), 1);
    assert_eq!(
        (r.loop_gil_waits[0].start_ms, r.loop_gil_waits[0].end_ms),
        (215.0, 230.0)
    );
    assert_eq!(r.stats.loop_gil_wait_total_ms, 15.0);
    assert_eq!(
        r.stats.loop_stall_total_ms, 0.0,
        "no blocking call anywhere: no stall"
    );
    assert_eq!(
        run(&Config {
            work: Work::Sleep,
            ..c.clone()
        })
        .stats
        .makespan_ms,
        80.0
    );
    // The closed form, for other sizes: io + N·cpu, whether cpu is a multiple of the
    // switch interval or not.
    for (n, cpu) in [(1, 50.0), (2, 7.0), (3, 20.0), (10, 100.0), (6, 12.5)] {
        let r = run(&Config {
            work: Work::PythonCpu,
            ..cfg(Variant::FullAsync, n, n, 40, 30.0, cpu, 10.0)
        });
        let expect = 30.0 + n as f64 * cpu;
        assert!(
            (r.stats.makespan_ms - expect).abs() < 1e-9,
            "n={n} cpu={cpu}: {}",
            r.stats.makespan_ms
        );
        assert!(r.requests.iter().all(|q| (q.responded_ms - expect).abs() < 1e-9));
    }
}

/// With one token there is one computing thread at a time: no one to share the GIL
/// with, so `python_cpu` is `sleep` again; and on the loop (`async_io`, `blocking`)
/// there is no other thread at all.
#[test]
fn the_gil_costs_nothing_without_a_second_python_thread() {
    for (v, tokens) in [
        (Variant::FullAsync, 1),
        (Variant::AsyncIo, 40),
        (Variant::Blocking, 40),
    ] {
        let sleep = cfg(v, 5, 5, tokens, 30.0, 50.0, 10.0);
        let py = run(&Config {
            work: Work::PythonCpu,
            ..sleep.clone()
        });
        let s = run(&sleep);
        let times = |r: &Report| r.requests.iter().map(|q| q.responded_ms).collect::<Vec<_>>();
        assert_eq!(times(&py), times(&s), "{v}");
        assert_eq!(py.stats.loop_gil_wait_total_ms, 0.0, "{v}");
    }
}

/// A process pool runs pure-Python predictions side by side, P at a time, each in its
/// own process with its own GIL: io + ceil(N / P)·cpu. Pickling costs the process
/// `pickle_ms` per call (half before, half after the call).
#[test]
fn a_process_pool_runs_p_predictions_at_once() {
    for work in Work::ALL {
        let c = Config {
            work,
            processes: 4,
            ..cfg(Variant::ProcessPool, 8, 8, 40, 30.0, 50.0, 10.0)
        };
        let r = run(&c);
        let mut times: Vec<f64> = r.requests.iter().map(|q| q.responded_ms).collect();
        times.sort_by(f64::total_cmp);
        assert_eq!(
            times,
            [80.0, 80.0, 80.0, 80.0, 130.0, 130.0, 130.0, 130.0],
            "{work:?}"
        );
        assert_eq!(r.stats.loop_gil_wait_total_ms, 0.0);
        // The second four waited for a free process, 30–80, and took no token.
        let late = r.requests.iter().find(|q| q.responded_ms == 130.0).unwrap();
        assert_eq!(spans(late, PhaseKind::Queued, Place::Process), [(30.0, 80.0)]);
        assert_eq!(spans(late, PhaseKind::Cpu, Place::Process), [(80.0, 130.0)]);
        assert!(spans(late, PhaseKind::Queued, Place::Pool).is_empty());
    }
    let pickled = run(&Config {
        pickle_ms: 2.0,
        processes: 4,
        ..cfg(Variant::ProcessPool, 8, 8, 40, 30.0, 50.0, 10.0)
    });
    let mut times: Vec<f64> = pickled.requests.iter().map(|q| q.responded_ms).collect();
    times.sort_by(f64::total_cmp);
    assert_eq!(times[0], 82.0);
    assert_eq!(times[7], 134.0);
}

/// The example: 4 requests from 2 clients, tokens 2, io 50, cpu 100, a heavy
/// 1000 ms log. In-process background tasks hold both tokens 150–1150, so the second
/// pair's predictions wait for them: answered at 1250. With a task queue the logs take
/// no token: the second pair is answered at 300; two queue workers run the logs,
/// 150–1150 and then 1150–2150.
#[test]
fn a_task_queue_frees_the_tokens_background_tasks_hold() {
    let answers = |v| {
        let r = run(&cfg(v, 4, 2, 2, 50.0, 100.0, 1000.0));
        r.requests
            .iter()
            .map(|q| (q.responded_ms, q.background_done_ms.unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        answers(Variant::Background),
        [
            (150.0, 1150.0),
            (150.0, 1150.0),
            (1250.0, 2250.0),
            (1250.0, 2250.0)
        ]
    );
    assert_eq!(
        answers(Variant::TaskQueue),
        [(150.0, 1150.0), (150.0, 1150.0), (300.0, 2150.0), (300.0, 2150.0)]
    );
    // One queue worker runs the four logs one after another; the answers do not move.
    let one = run(&Config {
        queue_workers: 1,
        ..cfg(Variant::TaskQueue, 4, 2, 2, 50.0, 100.0, 1000.0)
    });
    assert_eq!(one.stats.background_done_ms, Some(4150.0));
    assert_eq!(one.stats.makespan_ms, 300.0);
    let last = one.requests.at(3);
    assert_eq!(spans(last, PhaseKind::Queued, Place::Queue), [(300.0, 3150.0)]);
    assert_eq!(
        spans(last, PhaseKind::Background, Place::Queue),
        [(3150.0, 4150.0)]
    );
    // .delay()'s publish is a blocking call on the loop: a stall of broker_ms.
    let published = run(&Config {
        broker_ms: 2.0,
        ..cfg(Variant::TaskQueue, 1, 1, 2, 50.0, 100.0, 1000.0)
    });
    assert_eq!(published.stats.loop_stall_total_ms, 2.0);
    assert_eq!(published.stats.makespan_ms, 152.0);
}

/// `uvicorn --workers N`: N event loops sharing one listening socket. A worker accepts
/// only while its loop polls, and the first idle one takes every queued connection. So a
/// burst lands on one worker, and a blocking endpoint gains nothing from the others: 8
/// requests at once on 4 workers take 8 × (io + cpu), as real uvicorn measured 362–416 ms
/// for this one (scripts/calibrate, `w4n8`). Connections that arrive while a worker is
/// blocked go to an idle one: a stream of requests spreads.
#[test]
fn workers_share_one_accept_queue_and_the_first_idle_one_takes_it() {
    let burst = run(&Config {
        workers: 4,
        ..cfg(Variant::Blocking, 8, 8, 40, 20.0, 30.0, 10.0)
    });
    assert_eq!(burst.stats.makespan_ms, 400.0);
    assert!(burst.requests.iter().all(|q| q.worker == 0));
    assert!(burst.loop_stalls.iter().all(|s| s.worker == 0));
    assert_eq!(burst.stats.loop_stall_total_ms, 400.0);
    let tutorial = |workers| {
        run(&Config {
            workers,
            ..Config::default().with_variant(Variant::Blocking)
        })
        .stats
        .makespan_ms
    };
    assert_eq!(tutorial(4), tutorial(1), "ten at once: one worker takes them all");
    // Two clients, two workers, four requests. At 0 worker 0 takes requests 0 and 1 and
    // blocks for each in turn (0–50, 50–100). Request 2, sent at 50 when 0 is answered,
    // finds worker 0 busy: worker 1 takes it (50–100). Request 3, sent at 100, finds both
    // busy until their iterations end at 100; worker 0 polls first and takes it.
    let stream = run(&Config {
        workers: 2,
        ..cfg(Variant::Blocking, 4, 2, 40, 20.0, 30.0, 10.0)
    });
    let on: Vec<(u64, f64)> = stream
        .requests
        .iter()
        .map(|q| (q.worker, q.responded_ms))
        .collect();
    assert_eq!(on, [(0, 50.0), (0, 100.0), (1, 100.0), (0, 150.0)]);
    // Each worker its own loop: worker 1 blocked while worker 0 was blocked.
    let stalls = |w| stream.loop_stalls.iter().filter(|s| s.worker == w).count();
    assert_eq!((stalls(0), stalls(1)), (3, 1));
    // Under a longer stream the load spreads: 40 requests from 8 clients on 4 workers
    // take well under one worker's 40 × 50 ms.
    let spread = run(&Config {
        workers: 4,
        ..cfg(Variant::Blocking, 40, 8, 40, 20.0, 30.0, 10.0)
    });
    assert!(spread.stats.makespan_ms < 1000.0, "{}", spread.stats.makespan_ms);
    for w in 0..4 {
        assert!(
            spread.requests.iter().any(|q| q.worker == w),
            "worker {w} took none"
        );
    }
}

/// `overhead_ms` charges each request's loop time, 15 % when its first step runs and
/// the rest when it answers, a third of that on a warm loop (one that did such work
/// last rather than wait in its poll or block); 0 is the ideal model, whose closed forms
/// stand.
#[test]
fn overhead_is_charged_on_the_loop() {
    // One request: io + cpu + overhead (the loop waits before each charge: cold).
    let one = run(&Config {
        overhead_ms: 1.0,
        ..cfg(Variant::FullAsync, 1, 1, 40, 30.0, 50.0, 10.0)
    });
    assert_eq!(one.stats.makespan_ms, 81.0);
    // Ten at once, read in one iteration: the first step of the first costs 0.15 ms,
    // the nine after it a third of that, so the tenth starts its fetch at 0.6 ms.
    let ten = run(&Config {
        overhead_ms: 1.0,
        ..cfg(Variant::FullAsync, 10, 10, 40, 30.0, 50.0, 10.0)
    });
    let fetch_of_tenth = ten
        .requests
        .at(9)
        .phases
        .iter()
        .find(|p| p.kind == PhaseKind::Io)
        .unwrap()
        .start_ms;
    assert!(
        (fetch_of_tenth - (0.15 + 9.0 * 0.05)).abs() < 1e-9,
        "{fetch_of_tenth}"
    );
    // The first job ends at 80.15 and its answer costs 0.85 ms on a loop that waited;
    // by 81 every job is done, and the nine answers after it, back to back, a third each.
    let last = 80.15 + 0.85 + 9.0 * 0.85 / 3.0;
    assert!(
        (ten.stats.makespan_ms - last).abs() < 1e-9,
        "{}",
        ten.stats.makespan_ms
    );
}

#[test]
fn a_long_run_keeps_the_first_console_lines_and_counts_the_rest() {
    // background prints ten lines a request: 3 000 requests print 30 000.
    let small = run(&cfg(Variant::Background, 10, 10, 40, 5.0, 10.0, 2.0));
    assert_eq!((small.console.len(), small.console_dropped), (100, 0));
    let long = run(&cfg(Variant::Background, 3_000, 100, 40, 5.0, 10.0, 2.0));
    let kept = loopscope::model::limits::MAX_CONSOLE_LINES;
    assert_eq!(long.console.len(), kept);
    assert_eq!(
        long.console.len() as u64 + long.console_dropped,
        30_000,
        "every line counted"
    );
    // What is kept is what a report without the limit would begin with: the same lines.
    assert!(long.console.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    assert_eq!(
        long.console.iter().filter(|l| l.request == 0).count(),
        10,
        "request 0 printed early"
    );
}

fn answers(r: &Report) -> Vec<f64> {
    let mut a = r.requests.responded_column().to_vec();
    a.sort_by(f64::total_cmp);
    a
}

#[test]
fn requests_can_arrive_at_given_times_an_open_loop() {
    use loopscope::{simulate_given, Given};
    // full_async, io 40, cpu 80, tokens plenty: each answers io + cpu after it arrives.
    let c = cfg(Variant::FullAsync, 3, 3, 40, 40.0, 80.0, 20.0);
    let given = Given {
        arrivals: Some(vec![0.0, 50.0, 100.0]),
        ..Given::default()
    };
    let r = simulate_given(&c, &Default::default(), &given).expect("runs");
    assert_eq!(answers(&r), [120.0, 170.0, 220.0]);
    assert_eq!(r.requests.sent_column(), [0.0, 50.0, 100.0]);
    // async_io: a request that arrives while the loop is blocked waits for it.
    let c = cfg(Variant::AsyncIo, 2, 2, 40, 40.0, 80.0, 20.0);
    let given = Given {
        arrivals: Some(vec![0.0, 60.0]),
        ..Given::default()
    };
    let r = simulate_given(&c, &Default::default(), &given).expect("runs");
    // Request 0 blocks the loop from 40 to 120: request 1 is read at 120.
    assert_eq!(r.requests.accepted_column(), [0.0, 120.0]);
    assert_eq!(answers(&r), [120.0, 240.0]);
}

#[test]
fn a_jobs_given_trip_to_its_thread_and_back_delays_its_result() {
    use loopscope::model::Handoff;
    use loopscope::{simulate_given, Given};
    let trip = |request, on| Handoff {
        request,
        on,
        to_ms: 2.0,
        back_ms: 3.0,
    };
    // full_async: the prediction starts 2 ms after its token, its result is back 3 ms
    // after it ends.
    let c = cfg(Variant::FullAsync, 1, 1, 40, 40.0, 80.0, 20.0);
    let given = Given {
        handoffs: Some(vec![vec![trip(0, Place::Pool)]]),
        ..Given::default()
    };
    let r = simulate_given(&c, &Default::default(), &given).expect("runs");
    assert_eq!(answers(&r), [125.0]);
    // sync_def with one token: the endpoint's job and its validation each make a trip,
    // and the second request waits for the first's token through both.
    let c = cfg(Variant::SyncDef, 2, 2, 1, 40.0, 80.0, 20.0);
    let both = vec![trip(0, Place::Pool), trip(0, Place::Pool)];
    let given = Given {
        handoffs: Some(vec![both.clone(), both]),
        ..Given::default()
    };
    let r = simulate_given(&c, &Default::default(), &given).expect("runs");
    let plain = run(&c);
    assert_eq!(
        answers(&plain),
        [240.0, 240.0],
        "both validations wait behind the second endpoint"
    );
    // 0: 2 + 120 + 3 = 125, then its validation waits behind request 1's job (127 to
    // 247, back at 250): 250 + 2 + 3 = 255; request 1's validation comes next: 260.
    assert_eq!(answers(&r), [255.0, 260.0]);
    // A process pool's job: the same, and the process is free once its result is back.
    let c = Config {
        processes: 1,
        ..cfg(Variant::ProcessPool, 2, 2, 40, 40.0, 80.0, 20.0)
    };
    let given = Given {
        handoffs: Some(vec![vec![trip(0, Place::Process)], vec![trip(1, Place::Process)]]),
        ..Given::default()
    };
    let r = simulate_given(&c, &Default::default(), &given).expect("runs");
    assert_eq!(answers(&run(&c)), [120.0, 200.0]);
    assert_eq!(answers(&r), [125.0, 210.0]);
}
