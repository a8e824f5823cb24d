//! One coroutine step on the event loop (one poll of a request's task) and the blocking
//! calls made in it. A step that blocked is a stall: the loop was held from its first
//! blocking call's start to its last one's end, and nothing else on it could run (what
//! asyncio's debug mode reports as "Executing <Task> took 1.5 seconds"). Both runtimes
//! track their steps with this, so a stall means the same on both clocks.

use crate::model::Stall;

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    request: u64,
    /// The first blocking call's start and the last one's end.
    span: Option<(f64, f64)>,
    blocked_in: Vec<&'static str>,
}

impl Step {
    /// A step of `request`'s coroutine begins.
    pub fn new(request: u64) -> Step {
        Step {
            request,
            span: None,
            blocked_in: Vec::new(),
        }
    }

    pub fn request(&self) -> u64 {
        self.request
    }

    /// `function` held the loop from `start` to `end` (a `time.sleep` on the loop).
    pub fn blocked(&mut self, function: &'static str, start: f64, end: f64) {
        let first = self.span.map_or(start, |(first, _)| first);
        self.span = Some((first, end));
        self.blocked_in.push(function);
    }

    /// When the step began to hold the loop, if it has.
    pub fn blocking_since(&self) -> Option<f64> {
        self.span.map(|(first, _)| first)
    }

    /// The step ended: the stall it caused, if it blocked.
    pub fn finish(self) -> Option<Stall> {
        let (start_ms, end_ms) = self.span?;
        Some(Stall {
            start_ms,
            end_ms,
            request: self.request,
            cause: self.blocked_in.join(", "),
            worker: 0, // the recorder knows which server worker took the request
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    #[test]
    fn a_step_that_blocked_twice_is_one_stall() {
        let mut s = Step::new(3);
        assert_eq!(s.blocking_since(), None);
        s.blocked("fetch_external_data", 10.0, 510.0);
        s.blocked("run_model_prediction", 510.0, 1510.0);
        assert_eq!(s.blocking_since(), Some(10.0));
        let stall = s.finish().expect("a stall");
        assert_eq!((stall.start_ms, stall.end_ms, stall.request), (10.0, 1510.0, 3));
        assert_eq!(stall.cause, "fetch_external_data, run_model_prediction");
        assert_eq!(Step::new(0).finish(), None);
    }
}
