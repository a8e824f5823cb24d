//! A sync call as a script: what it prints and how long each blocking step takes, in
//! order, recorded by running the real function on a thread that only takes notes. The
//! simulator then plays the script on a virtual thread, in virtual time, where what a
//! step costs can depend on others (the GIL); the function's result is known at once,
//! since the tutorial's functions compute nothing from the clock. A browser pool thread
//! that cannot wait without spinning a core (a page not cross-origin isolated) plays it
//! on timers the same way: held for its job all the same, its prints and blocks kept
//! in order.

use crate::model::{Durations, PhaseKind, Raised};
use crate::runtime::{SyncCall, SyncReturn, Thread};
use std::cell::RefCell;

/// What becomes of what a run prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prints {
    /// Kept, line by line (a full report).
    Keep,
    /// Counted only: the report's console is full.
    Count,
    /// Ignored: a summary keeps no console.
    Ignore,
}

/// One thing a sync call does.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Print(String),
    /// A print of this many lines, not kept (the console is full).
    Lines(u64),
    /// A blocking step of `ms`; `gil`: it holds the GIL the whole time (pure-Python CPU
    /// work) rather than releasing it (`time.sleep`, a NumPy-like kernel).
    Block {
        kind: PhaseKind,
        ms: f64,
        gil: bool,
    },
}

/// What a call does, and what it returns (or raises).
pub struct Script {
    pub ops: Vec<Op>,
    pub result: Result<SyncReturn, Raised>,
}

struct Notes {
    durations: Durations,
    python_cpu: bool,
    prints: Prints,
    ops: RefCell<Vec<Op>>,
}

impl Thread for Notes {
    fn now(&self) -> f64 {
        0.0 // the tutorial's functions never read the clock
    }
    fn print(&self, text: impl std::fmt::Display) {
        match self.prints {
            Prints::Keep => self.ops.borrow_mut().push(Op::Print(text.to_string())),
            Prints::Count => self
                .ops
                .borrow_mut()
                .push(Op::Lines(crate::model::console_lines(text))),
            Prints::Ignore => {}
        }
    }
    fn block(&self, kind: PhaseKind, _function: &'static str, ms: f64) {
        let gil = self.python_cpu && kind == PhaseKind::Cpu;
        self.ops.borrow_mut().push(Op::Block { kind, ms, gil });
    }
    fn durations(&self) -> Durations {
        self.durations
    }
}

/// The script of `call` with these step durations; with `python_cpu`, the prediction
/// holds the GIL.
pub fn record(call: &SyncCall, durations: Durations, python_cpu: bool, prints: Prints) -> Script {
    let notes = Notes {
        durations,
        python_cpu,
        prints,
        ops: RefCell::default(),
    };
    let result = call.call(&notes);
    Script {
        ops: notes.ops.into_inner(),
        result: Ok(result),
    }
}

/// The script of a call that raises at its first line (an injected fault).
pub fn raising(raised: Raised) -> Script {
    Script {
        ops: Vec::new(),
        result: Err(raised),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prediction_holds_the_gil_only_as_pure_python() {
        let d = Durations {
            io_ms: 5.0,
            cpu_ms: 7.0,
            bg_ms: 1.0,
        };
        let call = SyncCall::RunModelPrediction(2.0);
        let s = record(&call, d, true, Prints::Keep);
        assert_eq!(s.result, Ok(SyncReturn::Prediction(4.0)));
        assert_eq!(
            s.ops,
            [
                Op::Print("Starting model prediction (in thread pool)...".into()),
                Op::Block {
                    kind: PhaseKind::Cpu,
                    ms: 7.0,
                    gil: true
                },
                Op::Print("Finished model prediction (in thread pool).".into()),
            ]
        );
        let sleep = record(&call, d, false, Prints::Keep);
        assert!(matches!(sleep.ops[1], Op::Block { gil: false, .. }));
        // A def endpoint's fetch is time.sleep: it releases the GIL even with python_cpu.
        let def = record(
            &SyncCall::PredictSynchronously(crate::model::PredictionRequest::for_index(0)),
            d,
            true,
            Prints::Ignore,
        );
        assert!(
            !def.ops.iter().any(|o| matches!(o, Op::Print(_))),
            "without detail, no prints are kept"
        );
        let blocks: Vec<_> = def
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Block { kind, gil, .. } => Some((*kind, *gil)),
                Op::Print(_) | Op::Lines(_) => None,
            })
            .collect();
        assert_eq!(blocks, [(PhaseKind::Io, false), (PhaseKind::Cpu, true)]);
    }
}
