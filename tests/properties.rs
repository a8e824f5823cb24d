//! Invariants of the virtual model for random valid configs.
#![cfg(not(target_arch = "wasm32"))]

use loopscope::model::{Config, PhaseKind, Place, Report, Variant, Work};
use loopscope::simulate;
use proptest::prelude::*;

const EPS: f64 = 1e-6;

fn variant() -> impl Strategy<Value = Variant> {
    prop::sample::select(Variant::ALL.to_vec())
}

prop_compose! {
    fn config()(variant in variant(), requests in 1u64..40, tokens in 1u64..8,
                io in 0.5f64..2000.0, cpu in 0.5f64..2000.0, bg in 0.5f64..2000.0,
                work in prop::sample::select(Work::ALL.to_vec()), workers in 1u64..4,
                processes in 1u64..6, queue_workers in 1u64..4,
                overhead in prop_oneof![Just(0.0), 0.0f64..3.0], pickle in prop_oneof![Just(0.0), 0.0f64..5.0])
               (concurrency in 1..=requests, variant in Just(variant), requests in Just(requests),
                tokens in Just(tokens), io in Just(io), cpu in Just(cpu), bg in Just(bg), work in Just(work),
                workers in Just(workers), processes in Just(processes), queue_workers in Just(queue_workers),
                overhead in Just(overhead), pickle in Just(pickle)) -> Config {
        Config { variant, requests, concurrency, io_ms: io, cpu_ms: cpu, bg_ms: bg, tokens, work,
                 workers, processes, queue_workers, overhead_ms: overhead, pickle_ms: pickle, ..Config::default() }
    }
}

/// The most intervals that overlap at any instant (touching ends do not overlap).
fn max_overlap(spans: Vec<(f64, f64)>) -> usize {
    loopscope::model::stats::most_at_once(spans.into_iter().filter(|(s, e)| e > s))
}

/// Every span a pool thread of server worker `w` was busy. Each lies inside the token
/// hold of its job, and a job's phases follow one another exactly (the thread's clock),
/// so counting them with exact comparisons never counts one job twice.
fn pool_busy(r: &Report, w: u64) -> Vec<(f64, f64)> {
    r.requests
        .iter()
        .filter(|q| q.worker == w)
        .flat_map(|q| q.phases.iter().filter(|p| p.on == Place::Pool && p.blocking))
        .map(|p| (p.start_ms, p.end_ms))
        .collect()
}

/// Spans of `kind` on `on` of server worker `w`'s requests.
fn spans_of(r: &Report, w: u64, kind: PhaseKind, on: Place) -> Vec<(f64, f64)> {
    r.requests
        .iter()
        .filter(|q| q.worker == w)
        .flat_map(|q| q.phases.iter().filter(|p| p.kind == kind && p.on == on))
        .map(|p| (p.start_ms, p.end_ms))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn invariants(c in config()) {
        let (r, peak_tokens) = loopscope::sim::simulate_counting_tokens(&c).unwrap();
        prop_assert_eq!(&r, &simulate(&c).unwrap());
        prop_assert_eq!(r.requests.len() as u64, c.requests);
        for q in &r.requests {
            // No request responds before its own io + cpu.
            prop_assert!(q.latency_ms >= c.io_ms + c.cpu_ms - EPS, "request {} latency {}", q.id, q.latency_ms);
            prop_assert!(q.worker < c.workers);
            prop_assert!(q.accepted_ms >= q.sent_ms && q.responded_ms >= q.accepted_ms);
            prop_assert_eq!(q.answer().status, 200);
            prop_assert_eq!(q.answer().response.as_ref().map(|a| a.prediction), Some(q.request.feature_value * 2.0));
            for p in q.phases {
                prop_assert!(p.end_ms >= p.start_ms && p.start_ms >= q.sent_ms - EPS);
            }
        }
        // No loop runs two things at once.
        let on_loop: Vec<(f64, f64)> = r.requests.iter()
            .flat_map(|q| q.phases.iter().filter(|p| p.on == Place::Loop && p.blocking).map(|p| (p.start_ms, p.end_ms)))
            .collect();
        for w in 0..c.workers {
            let mine: Vec<(f64, f64)> = r.requests.iter().filter(|q| q.worker == w)
                .flat_map(|q| q.phases.iter().filter(|p| p.on == Place::Loop && p.blocking).map(|p| (p.start_ms, p.end_ms)))
                .collect();
            prop_assert!(max_overlap(mine) <= 1, "worker {}'s loop ran two things at once", w);
            let stalls: Vec<(f64, f64)> = r.loop_stalls.iter().filter(|s| s.worker == w).map(|s| (s.start_ms, s.end_ms)).collect();
            prop_assert!(max_overlap(stalls) <= 1);
            // Threads busy in its pool never exceed the tokens in use.
            prop_assert!(max_overlap(pool_busy(&r, w)) as u64 <= peak_tokens);
            // One GIL per process: no two pure-Python slices of its threads at once.
            prop_assert!(max_overlap(spans_of(&r, w, PhaseKind::Cpu, Place::Pool)) <= 1 || c.work != Work::PythonCpu);
            // Its process pool runs at most `processes` jobs at once.
            prop_assert!(max_overlap(spans_of(&r, w, PhaseKind::Cpu, Place::Process)) as u64 <= c.processes);
        }
        // Every job computes its whole cpu_ms, in slices or not.
        let computed: f64 = r.requests.iter()
            .flat_map(|q| q.phases.iter().filter(|p| p.kind == PhaseKind::Cpu))
            .map(|p| p.end_ms - p.start_ms).sum();
        prop_assert!((computed - c.requests as f64 * c.cpu_ms).abs() < 1e-6 * computed.max(1.0));
        // The queue runs at most `queue_workers` log jobs at once.
        let queued: Vec<(f64, f64)> = r.requests.iter()
            .flat_map(|q| q.phases.iter().filter(|p| p.on == Place::Queue && p.blocking))
            .map(|p| (p.start_ms, p.end_ms)).collect();
        prop_assert!(max_overlap(queued) as u64 <= c.queue_workers);
        // Ground-truth stall time is exactly the time blocking calls held the loop.
        let blocked: f64 = on_loop.iter().map(|(s, e)| e - s).sum();
        prop_assert!((blocked - r.stats.loop_stall_total_ms).abs() < 1e-6 * blocked.max(1.0));
        // Tokens in use never exceed the limit (held from grant until the task
        // resumes), and threads busy in the pool never exceed the tokens in use.
        prop_assert!(peak_tokens <= c.tokens, "{} tokens held at once, limit {}", peak_tokens, c.tokens);
        // Console lines are in time order.
        prop_assert!(r.console.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    }

    #[test]
    fn moving_the_prediction_off_the_loop_never_slows_the_server(c in config()) {
        // In the ideal model (per-request costs can reorder who waits behind whom by a
        // fraction of a ms); pure-Python work shares the GIL wherever it runs, so moving it
        // buys nothing.
        // One server worker: with several, a loop that blocks leaves new connections to
        // the others (uvicorn's shared accept queue), which can spread the load.
        let c = Config { work: if c.work == Work::PythonCpu { Work::Sleep } else { c.work }, overhead_ms: 0.0, workers: 1, ..c };
        let full = simulate(&c.with_variant(Variant::FullAsync)).unwrap();
        let io = simulate(&c.with_variant(Variant::AsyncIo)).unwrap();
        prop_assert!(full.stats.makespan_ms <= io.stats.makespan_ms + EPS,
            "full_async {} > async_io {}", full.stats.makespan_ms, io.stats.makespan_ms);
        prop_assert_eq!(full.stats.loop_stall_total_ms, 0.0);
    }

    #[test]
    fn the_model_is_deterministic(c in config()) {
        prop_assert_eq!(simulate(&c).unwrap(), simulate(&c).unwrap());
    }
}
