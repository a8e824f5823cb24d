//! A runtime that only counts: it runs an endpoint's flow with every wait over at once,
//! to learn how many times a request hands the loop back before its answer leaves
//! (awaited sleeps, threadpool calls). Fidelity uses it to know how many hops a
//! measured answer went through, each of which a busy machine can make late.

use super::handle_request;
use crate::model::{Answer, Durations, PhaseKind, PredictionRequest, Raised, Variant};
use crate::runtime::{EventLoop, SyncCall, SyncReturn, Thread};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

/// What one request waits for on its way to its answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Awaits {
    /// `await asyncio.sleep(...)`.
    pub sleeps: u32,
    /// `await run_in_threadpool(...)`, FastAPI's own calls included, and
    /// `await loop.run_in_executor(...)`: each a trip to another thread and back.
    pub pool_calls: u32,
}

#[derive(Default)]
struct Counter {
    sleeps: Cell<u32>,
    pool_calls: Cell<u32>,
    answered: Cell<bool>,
}

impl Thread for Counter {
    fn now(&self) -> f64 {
        0.0
    }
    fn print(&self, _text: impl std::fmt::Display) {}
    fn block(&self, _kind: PhaseKind, _function: &'static str, _ms: f64) {}
    fn durations(&self) -> Durations {
        Durations {
            io_ms: 1.0,
            cpu_ms: 1.0,
            bg_ms: 1.0,
        }
    }
}

impl EventLoop for Counter {
    fn sleep(&self, _kind: PhaseKind, _ms: f64) -> impl Future<Output = ()> {
        if !self.answered.get() {
            self.sleeps.set(self.sleeps.get() + 1);
        }
        std::future::ready(())
    }
    fn run_in_threadpool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>> {
        if !self.answered.get() {
            self.pool_calls.set(self.pool_calls.get() + 1);
        }
        std::future::ready(Ok(call.call(self)))
    }
    fn run_in_process_pool(&self, call: SyncCall) -> impl Future<Output = Result<SyncReturn, Raised>> {
        self.run_in_threadpool(call)
    }
    fn delay(&self, _call: SyncCall) {}
    fn respond(&self, _answer: &Answer) {
        self.answered.set(true);
    }
    fn background_done(&self) {}
}

struct Nothing;

impl Wake for Nothing {
    fn wake(self: Arc<Self>) {}
}

/// How many times a request to `variant` waits before its answer leaves.
pub fn awaits(variant: Variant) -> Awaits {
    let counter = Counter::default();
    let flow = pin!(handle_request(&counter, variant, PredictionRequest::for_index(0)));
    let waker = Waker::from(Arc::new(Nothing));
    let done = flow.poll(&mut Context::from_waker(&waker));
    debug_assert!(
        done.is_ready(),
        "every wait of a counting runtime is over at once"
    );
    Awaits {
        sleeps: counter.sleeps.get(),
        pool_calls: counter.pool_calls.get(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_endpoint_waits_as_its_code_says() {
        let of = |v| {
            let a = awaits(v);
            (a.sleeps, a.pool_calls)
        };
        assert_eq!(
            of(Variant::SyncDef),
            (0, 2),
            "the endpoint, then response_model's validation"
        );
        assert_eq!(of(Variant::Blocking), (0, 0));
        assert_eq!(of(Variant::AsyncIo), (1, 0));
        assert_eq!(of(Variant::FullAsync), (1, 1));
        assert_eq!(
            of(Variant::Background),
            (1, 1),
            "the log task runs after the answer"
        );
        assert_eq!(of(Variant::ProcessPool), (1, 1));
        assert_eq!(of(Variant::TaskQueue), (1, 1), "the log job leaves the server");
    }
}
