//! How a blocking step really holds its thread in a browser run: `time.sleep` waits
//! (`Atomics.wait` where the realm may block, a spin otherwise); compute work runs a
//! fixed amount of arithmetic, calibrated to take the step's duration on one free core.

use super::now_abs;
use js_sys::{Atomics, Int32Array, SharedArrayBuffer};
use loopscope::model::{PhaseKind, Work};
use serde::{Deserialize, Serialize};

thread_local! {
    /// A private cell to `Atomics.wait` on, when the realm may block on one.
    static WAIT_CELL: Option<Int32Array> = super::cross_origin_isolated()
        .then(|| Int32Array::new(&SharedArrayBuffer::new(4)));
}

/// How a blocking step holds its thread in a browser run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Hold {
    /// Like `time.sleep`: the thread waits, burning no CPU.
    Sleep,
    /// CPU-bound work: a fixed amount of computation, sized to take the step's duration
    /// on one uncontended core, so steps sharing cores take longer, as inference does.
    Compute { rounds_per_ms: f64 },
}

impl Hold {
    /// For `work`; compute work is calibrated on this thread first (60–400 ms).
    pub fn for_work(work: Work) -> Hold {
        match work {
            Work::Sleep => Hold::Sleep,
            // Pure Python computes too; the GIL it holds is taken apart (runtime/gil.rs).
            Work::Compute | Work::PythonCpu => Hold::Compute {
                rounds_per_ms: calibrate(),
            },
        }
    }

    /// How a step of this kind holds its thread: compute work computes only the
    /// prediction; the fetch and the log write wait, as I/O does, whatever the work.
    pub fn for_kind(self, kind: PhaseKind) -> Hold {
        match kind {
            PhaseKind::Cpu => self,
            _ => Hold::Sleep,
        }
    }

    /// How it is done here, for the report: `atomics_wait`, `spin` or `compute`.
    pub fn method(self) -> &'static str {
        match self {
            Hold::Sleep if WAIT_CELL.with(Option::is_some) => "atomics_wait",
            Hold::Sleep => "spin",
            Hold::Compute { .. } => "compute",
        }
    }
}

/// Whether this realm can hold its thread without spinning (`Atomics.wait`): a page
/// that is not cross-origin isolated (the single file) has no `SharedArrayBuffer`.
pub fn can_wait() -> bool {
    WAIT_CELL.with(Option::is_some)
}

/// Waits until `deadline_abs` without holding the thread: a timer for the whole
/// milliseconds, then a spin of less than one for the rest. A pool thread that cannot
/// `Atomics.wait` plays its job's sleeps this way ([`super::pool`]).
pub async fn wait_until(deadline_abs: f64) {
    let left = deadline_abs - now_abs();
    if left >= 1.0 {
        super::timer::sleep(left.floor()).await;
    }
    while now_abs() < deadline_abs {
        std::hint::spin_loop();
    }
}

/// `rounds` × 256 steps of xorshift: real arithmetic, as inference would do. Never
/// inlined, and called in small chunks: the engine optimises per function and swaps
/// optimised code in only between calls, so warming it up must warm this very function,
/// and a long step must not be one call stuck on the baseline tier.
#[inline(never)]
fn kernel(rounds: u64, mut x: u64) -> u64 {
    for _ in 0..rounds {
        for _ in 0..256 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
    }
    std::hint::black_box(x)
}

/// The best kernel rate (rounds per ms) over 2 ms slices, run until `done(best,
/// elapsed)` or `cap_ms`. The best slice is one that ran on a core undisturbed.
fn best_rate(cap_ms: f64, mut done: impl FnMut(f64, f64) -> bool) -> f64 {
    let (start, mut best, mut seed) = (now_abs(), 0.0f64, 0x9E37_79B9_7F4A_7C15);
    loop {
        let slice = now_abs();
        let mut rounds = 0u64;
        while now_abs() - slice < 2.0 {
            seed = kernel(8, seed);
            rounds += 8;
        }
        best = best.max(rounds as f64 / (now_abs() - slice));
        let elapsed = now_abs() - start;
        if done(best, elapsed) || elapsed >= cap_ms {
            return best;
        }
    }
}

/// Kernel rounds per ms on one core. The engine first runs new code on a baseline
/// tier, about half as fast, and swaps in optimised code when it is ready, so this runs
/// until the best rate has not improved for 40 ms (at least 60 ms, at most 400 ms).
fn calibrate() -> f64 {
    let (mut last_best, mut since) = (0.0, 0.0);
    best_rate(400.0, |best, elapsed| {
        if best > last_best * 1.02 {
            (last_best, since) = (best, elapsed);
        }
        elapsed >= 60.0 && elapsed - since >= 40.0
    })
}

/// Warms this worker's kernel up until it runs at 85 % of `rate` (the optimised tier),
/// at most 500 ms; a fresh worker's first compute steps would otherwise run on baseline
/// code, about twice as slow. Returns the best rate seen.
pub fn warm_up(rate: f64) -> f64 {
    best_rate(500.0, |best, _| best >= 0.85 * rate)
}

/// Really holds this thread for a step of `ms`: `Atomics.wait` for sleep work where the
/// realm allows it (no CPU burnt, like `time.sleep`), else a spin until the deadline;
/// for compute work, a fixed amount of computation.
pub fn hold(ms: f64, how: Hold) {
    match how {
        Hold::Compute { rounds_per_ms } => {
            let (mut left, mut seed) = ((ms * rounds_per_ms).round() as u64, 0x9E37_79B9_7F4A_7C15);
            while left > 0 {
                let chunk = left.min(64);
                seed = kernel(chunk, seed);
                left -= chunk;
            }
        }
        Hold::Sleep => {
            let deadline = now_abs() + ms;
            let waited = WAIT_CELL.with(|cell| match cell {
                Some(cell) => loop {
                    let left = deadline - now_abs();
                    if left <= 0.0 {
                        break true;
                    }
                    // Nobody notifies this cell: it returns "timed-out" after `left` ms.
                    if Atomics::wait_with_timeout(cell, 0, 0, left).is_err() {
                        break false;
                    }
                },
                None => false,
            });
            while !waited && now_abs() < deadline {
                std::hint::spin_loop();
            }
        }
    }
}
