//! The model's cost curve: a run of 10³ … 10⁶ requests, 1 000 clients, in summary mode
//! (stats and an HDR histogram only), and in full mode (every request's phases and the
//! console) up to 10⁵. `make bench` runs it and records the medians in BENCHMARKS.md;
//! alone: `cargo bench --bench model`.

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use criterion::{BenchmarkId, Criterion, Throughput};
    use loopscope::model::{Config, Variant};
    use std::time::Duration;

    fn config(variant: Variant, requests: u64) -> Config {
        Config {
            variant,
            requests,
            concurrency: 1_000.min(requests),
            ..Config::default()
        }
    }

    pub fn summary(c: &mut Criterion) {
        let mut group = c.benchmark_group("summary");
        group.sample_size(10).warm_up_time(Duration::from_millis(500));
        for variant in Variant::ALL {
            for requests in [1_000u64, 10_000, 100_000, 1_000_000] {
                group.throughput(Throughput::Elements(requests));
                group.bench_with_input(BenchmarkId::new(variant.id(), requests), &requests, |b, &n| {
                    let config = config(variant, n);
                    b.iter(|| loopscope::simulate_summary(&config).expect("valid"));
                });
            }
        }
        group.finish();
    }

    pub fn full(c: &mut Criterion) {
        let mut group = c.benchmark_group("full");
        group.sample_size(10).warm_up_time(Duration::from_millis(500));
        for variant in [Variant::AsyncIo, Variant::FullAsync, Variant::Background] {
            for requests in [1_000u64, 10_000, 100_000] {
                group.throughput(Throughput::Elements(requests));
                group.bench_with_input(BenchmarkId::new(variant.id(), requests), &requests, |b, &n| {
                    let config = config(variant, n);
                    b.iter(|| loopscope::simulate(&config).expect("valid"));
                });
            }
        }
        group.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, bench::summary, bench::full);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
