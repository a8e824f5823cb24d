//! A real GIL for `python_cpu` work: one lock per server process, in a
//! `SharedArrayBuffer` its event loop and its pool threads share, handed out as
//! CPython's "new GIL" does (the model's rules, `loopscope::sim` gil.rs):
//! - a ticket lock, so waiters take it first come, first served;
//! - a waiter waits with `Atomics.wait` for at most the switch interval (5 ms); if no
//!   switch happened meanwhile, it sets the drop request;
//! - a thread computing checks the drop request every [`CHECK_MS`] of work (CPython's
//!   eval breaker) and, when it is set, lets the GIL go and takes a new ticket: it
//!   waits behind the others (FORCE_SWITCHING);
//! - whoever takes the GIL clears the drop request.
//!
//! Only in a cross-origin isolated page: elsewhere there is no `SharedArrayBuffer`, and
//! a `python_cpu` run is refused with why (the page shows the model alone).

use super::now_abs;
use js_sys::{Atomics, Int32Array, SharedArrayBuffer};
use wasm_bindgen::JsValue;

/// CPython's `sys.getswitchinterval()`: 5 ms.
pub const SWITCH_INTERVAL_MS: f64 = 5.0;
/// How much work a computing thread does between checks of the drop request.
pub const CHECK_MS: f64 = 0.2;

const NOW_SERVING: u32 = 0;
const NEXT_TICKET: u32 = 1;
const DROP_REQUEST: u32 = 2;
const SWITCHES: u32 = 3;

/// A process's GIL, shared by its threads.
#[derive(Clone)]
pub struct Gil(Int32Array);

impl Gil {
    /// A new GIL, free; its buffer goes to every thread of the process.
    pub fn new() -> Gil {
        Gil(Int32Array::new(&SharedArrayBuffer::new(16)))
    }

    /// The GIL in `buffer` (a `SharedArrayBuffer` from [`Gil::buffer`]).
    pub fn from_buffer(buffer: &JsValue) -> Option<Gil> {
        buffer
            .dyn_ref::<SharedArrayBuffer>()
            .map(|b| Gil(Int32Array::new(b)))
    }

    pub fn buffer(&self) -> JsValue {
        self.0.buffer().into()
    }

    fn load(&self, i: u32) -> i32 {
        Atomics::load(&self.0, i).unwrap_or(0)
    }

    /// Takes the GIL, waiting in line; returns when this thread began to wait (when it
    /// did not get it at once).
    pub fn acquire(&self) -> Option<f64> {
        let asked = now_abs();
        let mine = Atomics::add(&self.0, NEXT_TICKET, 1).unwrap_or(0);
        let mut waited = false;
        loop {
            let serving = self.load(NOW_SERVING);
            if serving == mine {
                break;
            }
            waited = true;
            let switches = self.load(SWITCHES);
            let outcome = Atomics::wait_with_timeout(&self.0, NOW_SERVING, serving, SWITCH_INTERVAL_MS)
                .ok()
                .and_then(|s| s.as_string());
            // A whole interval with no switch: ask the holder to drop it.
            if outcome.as_deref() == Some("timed-out")
                && self.load(SWITCHES) == switches
                && self.load(NOW_SERVING) != mine
            {
                let _ = Atomics::store(&self.0, DROP_REQUEST, 1);
            }
        }
        let _ = Atomics::store(&self.0, DROP_REQUEST, 0);
        let _ = Atomics::add(&self.0, SWITCHES, 1);
        waited.then_some(asked)
    }

    /// Lets the GIL go to the next in line.
    pub fn release(&self) {
        let _ = Atomics::add(&self.0, NOW_SERVING, 1);
        let _ = Atomics::notify(&self.0, NOW_SERVING);
    }

    /// Whether a waiter has asked the holder to drop it.
    pub fn drop_requested(&self) -> bool {
        self.load(DROP_REQUEST) != 0
    }
}

impl Default for Gil {
    fn default() -> Self {
        Gil::new()
    }
}

use wasm_bindgen::JsCast;

/// What a thread did while it computed under the GIL: the spans it held it, and the
/// spans it waited for it, in absolute time.
#[derive(Debug, Default, PartialEq)]
pub struct Slices {
    pub held: Vec<(f64, f64)>,
    pub waited: Vec<(f64, f64)>,
}

/// Computes `ms` worth of work holding `gil`, a chunk of [`CHECK_MS`] at a time,
/// dropping the GIL whenever a waiter asks and waiting for it back; `work(ms)` does one
/// chunk of the computation. Leaves the GIL released.
pub fn compute_holding(gil: &Gil, ms: f64, mut work: impl FnMut(f64)) -> Slices {
    let mut slices = Slices::default();
    let take = |slices: &mut Slices| {
        if let Some(asked) = gil.acquire() {
            slices.waited.push((asked, now_abs()));
        }
        now_abs()
    };
    let mut since = take(&mut slices);
    let mut left = ms;
    while left > 0.0 {
        let chunk = left.min(CHECK_MS);
        work(chunk);
        left -= chunk;
        if left > 0.0 && gil.drop_requested() {
            slices.held.push((since, now_abs()));
            gil.release();
            since = take(&mut slices);
        }
    }
    slices.held.push((since, now_abs()));
    gil.release();
    slices
}
