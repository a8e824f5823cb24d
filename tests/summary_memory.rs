//! Summary mode keeps nothing per request: the peak of live heap memory during a run of
//! 200 000 requests is that of a run of 20 000, the same clients in flight. Counted by
//! this test binary's own allocator (a test binary of its own, so no other test shares
//! it); exact, whatever the machine.
#![cfg(not(target_arch = "wasm32"))]

use loopscope::model::{Config, Variant, Work};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One measurement at a time (the test harness runs tests on threads).
static ONE: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The peak heap above what was live before, during a summary run.
fn peak_bytes(config: &Config) -> usize {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let summary = loopscope::simulate_summary(config).expect("valid");
    assert_eq!(summary.answered, config.requests);
    PEAK.load(Ordering::Relaxed) - base
}

#[test]
fn a_summary_runs_in_memory_that_does_not_grow_with_the_requests() {
    for variant in Variant::ALL {
        for work in [Work::Sleep, Work::PythonCpu] {
            let config = |requests| Config {
                variant,
                requests,
                concurrency: 200,
                io_ms: 20.0,
                cpu_ms: 10.0,
                // Two queue workers at 0.2 ms a job outpace 40 tokens at 10 ms.
                bg_ms: 0.2,
                work,
                ..Config::default()
            };
            let small = peak_bytes(&config(20_000));
            let large = peak_bytes(&config(200_000));
            // The task queue's backlog is real state (jobs waiting for a queue
            // worker), as a broker's would be: it is the one thing allowed to grow, and
            // here the queue workers keep up, so it does not.
            assert!(
                large <= small + small / 10 + 4096,
                "{} {:?}: peak heap {large} bytes at 200 000 requests, {small} at 20 000",
                variant.id(),
                work
            );
        }
    }
}
