//! Summary mode against full mode: the same run, recorded both ways. The counts, times
//! and loop numbers agree exactly; the latency percentiles, read from the HDR histogram,
//! within its 0.1 % (3 significant digits, on microseconds).
#![cfg(not(target_arch = "wasm32"))]

use loopscope::model::stats::percentile;
use loopscope::model::{Config, Variant, Work};
use loopscope::{simulate, simulate_summary};

fn configs() -> Vec<Config> {
    let mut out = Vec::new();
    for variant in Variant::ALL {
        for (requests, concurrency) in [(1, 1), (97, 13), (400, 400)] {
            out.push(Config {
                variant,
                requests,
                concurrency,
                io_ms: 37.0,
                cpu_ms: 11.5,
                bg_ms: 5.0,
                tokens: 7,
                ..Config::default()
            });
        }
    }
    // The GIL and several workers, where latencies spread the most.
    for variant in [Variant::FullAsync, Variant::SyncDef, Variant::ProcessPool] {
        out.push(Config {
            variant,
            requests: 300,
            concurrency: 50,
            work: Work::PythonCpu,
            workers: 3,
            ..Config::default()
        });
    }
    out
}

fn close(summary: f64, exact: f64) -> bool {
    (summary - exact).abs() <= exact.abs() * 1e-3 + 1e-3
}

#[test]
fn a_summary_agrees_with_the_full_report_of_the_same_run() {
    for config in configs() {
        let full = simulate(&config).expect("valid");
        let sum = simulate_summary(&config).expect("valid");
        let what = format!(
            "{} n={} c={}",
            config.variant.id(),
            config.requests,
            config.concurrency
        );
        assert_eq!(sum.answered, full.requests.len() as u64, "{what}");
        assert_eq!(sum.answered, config.requests, "{what}");
        assert_eq!(sum.failed, full.stats.failed, "{what}");
        assert_eq!(sum.makespan_ms, full.stats.makespan_ms, "{what}");
        assert_eq!(sum.loop_stalls, full.loop_stalls.len() as u64, "{what}");
        assert!(
            close(sum.loop_stall_total_ms, full.stats.loop_stall_total_ms),
            "{what}"
        );
        assert_eq!(sum.loop_stall_max_ms, full.stats.loop_stall_max_ms, "{what}");
        assert!(
            close(sum.loop_gil_wait_total_ms, full.stats.loop_gil_wait_total_ms),
            "{what}"
        );
        assert_eq!(sum.background_done_ms, full.stats.background_done_ms, "{what}");

        let mut exact: Vec<f64> = full.requests.iter().map(|r| r.latency_ms).collect();
        exact.sort_by(f64::total_cmp);
        let pairs = [
            ("p50", sum.latency_ms.p50, percentile(&exact, 50.0)),
            ("p90", sum.latency_p90_ms, percentile(&exact, 90.0)),
            ("p95", sum.latency_ms.p95, percentile(&exact, 95.0)),
            ("p99", sum.latency_ms.p99, percentile(&exact, 99.0)),
            ("p99.9", sum.latency_p999_ms, percentile(&exact, 99.9)),
            ("max", sum.latency_ms.max, exact[exact.len() - 1]),
        ];
        for (name, got, want) in pairs {
            assert!(close(got, want), "{what}: {name} {got} vs exact {want}");
        }
        // The longest latency is kept exactly, never a bucket's top past the makespan.
        assert_eq!(sum.latency_ms.max, exact[exact.len() - 1], "{what}: max");
        assert!(
            sum.latency_ms.max <= sum.makespan_ms,
            "{what}: max within the makespan"
        );
        let histogram_total: f64 = sum.histogram.iter().map(|[_, n]| n).sum();
        assert_eq!(
            histogram_total, config.requests as f64,
            "{what}: every request in a bucket"
        );
        assert!(
            sum.histogram
                .windows(2)
                .all(|w| w[1][0] == w[0][0] * 2.0 || w[1][0] > w[0][0]),
            "{what}: buckets ascend"
        );
        for [upper, n] in &sum.histogram {
            let lower = if *upper <= 1.0 { 0.0 } else { upper / 2.0 };
            let counted = exact.iter().filter(|&&l| l > lower && l <= *upper).count() as f64;
            // A latency within 0.1 % of a bucket's edge may land on either side of it.
            let slack = exact
                .iter()
                .filter(|&&l| close(l, lower) || close(l, *upper))
                .count() as f64;
            assert!(
                (counted - n).abs() <= slack,
                "{what}: bucket ≤{upper} ms has {n}, exact {counted}"
            );
        }
    }
}

#[test]
fn a_summary_of_a_long_run_keeps_nothing_per_request() {
    // Ten times the requests, the same in flight: the summary's size does not change.
    let config = |requests| Config {
        variant: Variant::FullAsync,
        requests,
        concurrency: 100,
        ..Config::default()
    };
    let small = serde_json::to_string(&simulate_summary(&config(1_000)).expect("valid")).expect("json");
    let large = serde_json::to_string(&simulate_summary(&config(10_000)).expect("valid")).expect("json");
    assert!(
        large.len() < small.len() + 64,
        "{} vs {} bytes",
        large.len(),
        small.len()
    );
}
