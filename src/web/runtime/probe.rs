//! The stall probe: a heartbeat on the server's event loop, independent of the
//! runtime's own record of when it blocked.
//!
//! It waits a period, again and again, and notes the gap between two of its turns. It
//! can only take a turn when the loop is free, so a gap longer than an idle one is time
//! the loop was held. Like any lag monitor living on the loop (asyncio's or Node's), it
//! gets its turn only after every callback that was already due: steps that run back to
//! back read as one long stall.
//!
//! The heartbeat, measured in a lab of candidates (BENCHMARKS.md, "Probe accuracy"):
//! - cross-origin isolated: `Atomics.waitAsync` with a 1 ms timeout (idle turns every
//!   1.1 ms), which sees a block of 2 ms every time, to a few tenths of a ms;
//! - otherwise (a page from `file://`): `setTimeout`, clamped by the browser to 4 ms,
//!   which misses blocks shorter than about 4 ms. The page says which one ran.
//!
//! A block begins at an unknown moment within the period before the turn that reveals
//! it, so its length is estimated as the gap minus half an idle turn's gap.
//!
//! A gap is not always the loop's: the browser has work of its own on the thread now
//! and then (a garbage collection, a message's delivery), which no endpoint caused. The
//! server tells the probe the longest step its loop ran since the probe last looked
//! (`longest`): a gap in which no step ran long enough to be a stall is the browser's,
//! or many short steps back to back, none of which asyncio's debug mode would name.
//! It is kept apart (`gaps`, in the report for the curious), not drawn and not counted
//! as a stall, and the lag drawn is the part of each turn's lateness the loop caused.

use super::{now_abs, timer};
use loopscope::model::ProbeStall;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// The heartbeat's settings on this worker.
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat {
    /// The wait asked for between turns.
    pub period_ms: f64,
    /// A block counts as a stall from this estimated length on. Just under what a 2 ms
    /// block is estimated at in the worst phase (2 + 0.1 − 1.1 / 2 ms) with the precise
    /// heartbeat; with the clamped one, its 4 ms lag, as before the precise one existed.
    pub threshold_ms: f64,
}

impl Heartbeat {
    pub fn here() -> Heartbeat {
        if timer::precise() {
            Heartbeat {
                period_ms: 1.0,
                threshold_ms: 1.5,
            }
        } else {
            Heartbeat {
                period_ms: 4.0,
                threshold_ms: 6.0,
            }
        }
    }
}

/// Lag samples are kept one per window (the largest lag in it): a 1 ms heartbeat would
/// otherwise keep 1 000 samples a second for a sparkline a few hundred pixels wide.
pub const SAMPLE_WINDOW_MS: f64 = 4.0;
/// Time between live batches of samples.
const BATCH_MS: f64 = 100.0;
/// Idle gaps remembered to estimate a typical turn.
const RECENT: usize = 64;

#[derive(Default)]
struct Data {
    /// (absolute time, lag): per window, the largest lag of a turn in it that the loop
    /// caused.
    samples: Vec<(f64, f64)>,
    /// How many of `samples` went out in live batches: kept with them, so whoever takes
    /// the samples takes the count too.
    batched: usize,
    stalls: Vec<ProbeStall>,
    /// Gaps while the loop ran nothing long enough: the browser's.
    gaps: Vec<ProbeStall>,
    /// The lateness of every turn whose wait the loop did not hold.
    idle_lags: Vec<f64>,
}

/// What a probe measured, on the run's clock.
#[derive(Default)]
pub struct Measured {
    pub stalls: Vec<ProbeStall>,
    pub gaps: Vec<ProbeStall>,
    pub samples: Vec<[f64; 2]>,
    /// The 90th percentile of the lateness of the turns whose wait the loop did not
    /// hold: how late a timer fires on this machine.
    pub idle_lateness_ms: f64,
}

/// The typical gap between idle turns: the median of the last idle ones.
struct Typical {
    nominal: f64,
    recent: Vec<f64>,
    next: usize,
}

impl Typical {
    fn new(nominal: f64) -> Typical {
        Typical {
            nominal,
            recent: Vec::with_capacity(RECENT),
            next: 0,
        }
    }

    fn gap(&self) -> f64 {
        if self.recent.is_empty() {
            return self.nominal;
        }
        let mut sorted = self.recent.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }

    /// Remembers `gap` if it looks idle (within 1 ms of the period).
    fn note(&mut self, gap: f64) {
        if gap < self.nominal + 1.0 {
            if self.recent.len() < RECENT {
                self.recent.push(gap);
            } else {
                self.recent[self.next] = gap;
                self.next = (self.next + 1) % RECENT;
            }
        }
    }
}

pub struct Probe {
    data: Rc<RefCell<Data>>,
    stop: Rc<Cell<bool>>,
}

impl Probe {
    /// Starts the heartbeat; about every 100 ms, `on_batch` gets the latest samples
    /// (`[absolute time, lag]`) for a live view. `longest` is the longest step the
    /// loop ran since the probe last took it (and set it to 0), in ms.
    pub fn start(longest: Rc<Cell<f64>>, on_batch: impl Fn(Vec<[f64; 2]>) + 'static) -> Probe {
        let data = Rc::new(RefCell::new(Data::default()));
        let stop = Rc::new(Cell::new(false));
        let heartbeat = Heartbeat::here();
        let (d, s) = (data.clone(), stop.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let Heartbeat {
                period_ms: period,
                threshold_ms,
            } = heartbeat;
            let mut typical = Typical::new(period + 0.1);
            let mut last = now_abs();
            let (mut window_start, mut window_lag) = (last, 0.0_f64);
            let mut batch_start = last;
            loop {
                timer::sleep(period).await;
                // Finished while it waited: the data is the report's now, not its own.
                if s.get() {
                    break;
                }
                let t = now_abs();
                let gap = t - last;
                let lag = (gap - period).max(0.0);
                let typical_gap = typical.gap();
                let length = gap - typical_gap / 2.0;
                typical.note(gap);
                // The longest step the loop ran since the last turn.
                let held = longest.replace(0.0);
                let loops = held >= threshold_ms;
                let mut d = d.borrow_mut();
                if length >= threshold_ms {
                    // The block began somewhere in the turn's wait: take the middle.
                    let stall = ProbeStall {
                        start_ms: last + typical_gap / 2.0,
                        end_ms: t,
                        lag_ms: lag,
                        worker: 0,
                    };
                    if loops {
                        d.stalls.push(stall);
                    } else {
                        d.gaps.push(stall);
                    }
                }
                if !loops {
                    d.idle_lags.push(lag);
                }
                let lag = lag.min(held);
                window_lag = window_lag.max(lag);
                if t - window_start >= SAMPLE_WINDOW_MS || (loops && length >= threshold_ms) {
                    d.samples.push((t, window_lag));
                    (window_start, window_lag) = (t, 0.0);
                }
                if t - batch_start >= BATCH_MS {
                    let fresh = &d.samples[d.batched.min(d.samples.len())..];
                    on_batch(fresh.iter().map(|&(t, l)| [t, l]).collect());
                    (batch_start, d.batched) = (t, d.samples.len());
                }
                last = t;
            }
        });
        Probe { data, stop }
    }

    /// Stops the heartbeat; returns what it measured on the run's timeline (ms since
    /// `t0_abs`), dropping what came before the run started.
    pub fn finish(self, t0_abs: f64) -> Measured {
        self.stop.set(true);
        let data = self.data.take();
        let on_run = |list: Vec<ProbeStall>| -> Vec<ProbeStall> {
            list.into_iter()
                .filter(|s| s.end_ms > t0_abs)
                .map(|s| ProbeStall {
                    start_ms: (s.start_ms - t0_abs).max(0.0),
                    end_ms: s.end_ms - t0_abs,
                    lag_ms: s.lag_ms,
                    worker: 0,
                })
                .collect()
        };
        let samples = data
            .samples
            .into_iter()
            .filter(|(t, _)| *t >= t0_abs)
            .map(|(t, lag)| [t - t0_abs, lag])
            .collect();
        let mut idle = data.idle_lags;
        idle.sort_by(f64::total_cmp);
        Measured {
            stalls: on_run(data.stalls),
            gaps: on_run(data.gaps),
            samples,
            idle_lateness_ms: if idle.is_empty() {
                0.0
            } else {
                loopscope::model::stats::percentile(&idle, 90.0)
            },
        }
    }
}
