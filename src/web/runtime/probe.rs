//! The stall probe: a heartbeat on the server's event loop, independent of the
//! runtime's own record of when it blocked.
//!
//! Every `PERIOD_MS` it sets a timer and notes how late it fires. A timer can only fire
//! when the loop is free, so lateness is time the loop was held. The period is 4 ms:
//! Chromium clamps nested timers to at least 4 ms anyway, so a shorter one would not
//! tick faster, and a tick costs microseconds. Like any lag monitor living on the loop
//! (asyncio's or Node's), it gets its turn only after every callback that was already
//! due: steps that run back to back read as one long stall.

use super::now_abs;
use gloo_timers::future::TimeoutFuture;
use loopscope::model::ProbeStall;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub const PERIOD_MS: u32 = 4;
/// Lateness from which a tick counts as a stall. Timer jitter in an idle worker is
/// well under this.
pub const THRESHOLD_MS: f64 = 4.0;
/// Samples per live batch (~ every 100 ms when the loop is free).
const BATCH: usize = 25;

#[derive(Default)]
struct Data {
    /// (absolute time, lag)
    samples: Vec<(f64, f64)>,
    stalls: Vec<ProbeStall>,
}

pub struct Probe {
    data: Rc<RefCell<Data>>,
    stop: Rc<Cell<bool>>,
}

impl Probe {
    /// Starts the heartbeat; every `BATCH` ticks, `on_batch` gets the latest samples
    /// (`[absolute time, lag]`) for a live view.
    pub fn start(on_batch: impl Fn(Vec<[f64; 2]>) + 'static) -> Probe {
        let data = Rc::new(RefCell::new(Data::default()));
        let stop = Rc::new(Cell::new(false));
        let (d, s) = (data.clone(), stop.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let period = f64::from(PERIOD_MS);
            let mut last = now_abs();
            while !s.get() {
                TimeoutFuture::new(PERIOD_MS).await;
                let t = now_abs();
                let lag = (t - (last + period)).max(0.0);
                let mut d = d.borrow_mut();
                d.samples.push((t, lag));
                if d.samples.len() % BATCH == 0 {
                    let batch = d.samples[d.samples.len() - BATCH..]
                        .iter()
                        .map(|&(t, l)| [t, l])
                        .collect();
                    on_batch(batch);
                }
                if lag >= THRESHOLD_MS {
                    // The block began somewhere in (last, last + period]: take the middle.
                    d.stalls.push(ProbeStall {
                        start_ms: last + period / 2.0,
                        end_ms: t,
                        lag_ms: lag,
                        worker: 0,
                    });
                }
                last = t;
            }
        });
        Probe { data, stop }
    }

    /// Stops the heartbeat; returns its stalls and samples on the run's timeline
    /// (ms since `t0_abs`), dropping what came before the run started.
    pub fn finish(self, t0_abs: f64) -> (Vec<ProbeStall>, Vec<[f64; 2]>) {
        self.stop.set(true);
        let data = self.data.take();
        let stalls = data
            .stalls
            .into_iter()
            .filter(|s| s.end_ms > t0_abs)
            .map(|s| ProbeStall {
                start_ms: (s.start_ms - t0_abs).max(0.0),
                end_ms: s.end_ms - t0_abs,
                lag_ms: s.lag_ms,
                worker: 0,
            })
            .collect();
        let samples = data
            .samples
            .into_iter()
            .filter(|(t, _)| *t >= t0_abs)
            .map(|(t, lag)| [t - t0_abs, lag])
            .collect();
        (stalls, samples)
    }
}
