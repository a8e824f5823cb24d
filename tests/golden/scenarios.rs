//! The scenarios whose reports are pinned in tests/golden/digests.txt, and how a report
//! is reduced to its line there. Shared by the native test (tests/golden_reports.rs),
//! which writes the file, and the browser test (tests/wasm/web.rs), which must compute
//! the same lines inside Chromium: the model gives the same report on both, bit for bit.
//!
//! Only scenarios no closed form covers (tests/model.rs checks those): background
//! tasks competing for tokens, fewer clients than requests, a def endpoint's second
//! token, durations that are not round; and past the tutorial, the GIL with fewer
//! tokens than requests, a process pool and a task queue under a closed loop, several
//! server workers, a per-request overhead.

use loopscope::model::{Config, Report, Variant, Work};

fn is_default<T: PartialEq>(value: &T, default: &T) -> bool {
    value == default
}

pub fn scenarios() -> Vec<Config> {
    let small = |variant, requests, concurrency, tokens, bg_ms| Config {
        variant,
        requests,
        concurrency,
        io_ms: 40.0,
        cpu_ms: 80.0,
        bg_ms,
        tokens,
        work: Work::Sleep,
        ..Config::default()
    };
    vec![
        small(Variant::Background, 6, 6, 3, 20.0),
        small(Variant::Background, 5, 2, 1, 130.0),
        small(Variant::AsyncIo, 6, 2, 40, 20.0),
        small(Variant::SyncDef, 6, 6, 2, 20.0),
        small(Variant::Blocking, 5, 3, 1, 20.0),
        Config {
            io_ms: 12.5,
            cpu_ms: 33.3,
            bg_ms: 7.1,
            ..small(Variant::FullAsync, 9, 4, 2, 7.1)
        },
        Config {
            work: Work::PythonCpu,
            cpu_ms: 23.0,
            ..small(Variant::Background, 7, 5, 3, 20.0)
        },
        Config {
            work: Work::PythonCpu,
            processes: 2,
            pickle_ms: 1.5,
            ..small(Variant::ProcessPool, 7, 4, 40, 20.0)
        },
        Config {
            queue_workers: 1,
            broker_ms: 0.5,
            ..small(Variant::TaskQueue, 6, 2, 1, 130.0)
        },
        Config {
            workers: 3,
            ..small(Variant::Blocking, 7, 5, 40, 20.0)
        },
        Config {
            overhead_ms: 0.35,
            io_ms: 25.0,
            cpu_ms: 50.0,
            ..small(Variant::AsyncIo, 12, 6, 40, 20.0)
        },
    ]
}

/// FNV-1a, 64 bits: enough to tell two reports apart, and the same on every target.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One line per report: the scenario, its headline numbers (so a diff says what moved),
/// and the digest of its whole JSON.
pub fn line(r: &Report) -> String {
    let c = &r.config;
    let d = Config::default();
    let extra: String = [
        ("work", c.work.id().to_string(), is_default(&c.work, &d.work)),
        (
            "processes",
            c.processes.to_string(),
            is_default(&c.processes, &d.processes),
        ),
        (
            "queue_workers",
            c.queue_workers.to_string(),
            is_default(&c.queue_workers, &d.queue_workers),
        ),
        (
            "workers",
            c.workers.to_string(),
            is_default(&c.workers, &d.workers),
        ),
        (
            "overhead",
            c.overhead_ms.to_string(),
            is_default(&c.overhead_ms, &d.overhead_ms),
        ),
        (
            "pickle",
            c.pickle_ms.to_string(),
            is_default(&c.pickle_ms, &d.pickle_ms),
        ),
        (
            "broker",
            c.broker_ms.to_string(),
            is_default(&c.broker_ms, &d.broker_ms),
        ),
    ]
    .iter()
    .filter(|(_, _, default)| !default)
    .map(|(name, value, _)| format!(" {name}={value}"))
    .collect();
    format!(
        "{} n={} c={} tokens={} io={} cpu={} bg={}{extra} | makespan {} p50 {} stalls {} blocked {} bg_done {} | {:016x}",
        c.variant,
        c.requests,
        c.concurrency,
        c.tokens,
        c.io_ms,
        c.cpu_ms,
        c.bg_ms,
        r.stats.makespan_ms,
        r.stats.latency_ms.p50,
        r.loop_stalls.len(),
        r.stats.loop_stall_total_ms,
        r.stats.background_done_ms.map_or("-".to_string(), |t| t.to_string()),
        fnv1a(serde_json::to_string(r).expect("a report serializes").as_bytes())
    )
}

/// Every scenario's line, as the file holds them.
pub fn lines() -> String {
    scenarios()
        .iter()
        .map(|c| line(&loopscope::simulate(c).expect("a valid scenario")) + "\n")
        .collect()
}
