//! What a runtime reports as things happen. Both runtimes emit these; recording them
//! ([`crate::model::Recorder::record`]) is how each builds its report, and the page
//! applies the same stream to draw a browser run while it goes.

use crate::model::{Answer, Handoff, LogEntry, Phase, PhaseKind, Place, Stall};
use serde::{Deserialize, Serialize};

/// Times are ms on the run's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The client sent the request.
    Sent { request: u64, t: f64 },
    /// The event loop of server worker `worker` took the request in.
    Accepted {
        request: u64,
        t: f64,
        #[serde(default, skip_serializing_if = "crate::model::record::is_zero")]
        worker: u64,
    },
    /// A phase has begun and is still going (its end comes as a `Phase`): for live views.
    Began {
        request: u64,
        kind: PhaseKind,
        on: Place,
        blocking: bool,
        t: f64,
        /// For an awaited sleep: when its timer is due. Past it, the request is ready
        /// and waits for the loop.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<f64>,
    },
    /// A finished phase.
    Phase { request: u64, phase: Phase },
    /// A wait for the loop or a token, from `from` to `to` (dropped when empty).
    Waited {
        request: u64,
        on: Place,
        from: f64,
        to: f64,
    },
    /// A coroutine step held the loop.
    Stall { stall: Stall },
    /// `print(text)`.
    Print { request: u64, t: f64, text: String },
    /// The answer is on the wire.
    Responded { request: u64, t: f64, answer: Answer },
    /// Every background task of the request has finished.
    BackgroundDone { request: u64, t: f64 },
    /// Its log task wrote (or kept) this entry.
    Logged { entry: LogEntry },
    /// Server worker `worker`'s loop had work ready from `from` but got its GIL at `to`.
    LoopGilWait { worker: u64, from: f64, to: f64 },
    /// A job's trip to a pool's worker and back took this long (a browser run's).
    Handoff { handoff: Handoff },
}

impl Event {
    /// The request the event is about; `None` for one about a server worker's loop.
    pub fn request(&self) -> Option<u64> {
        Some(match self {
            Event::Sent { request, .. }
            | Event::Accepted { request, .. }
            | Event::Began { request, .. }
            | Event::Phase { request, .. }
            | Event::Waited { request, .. }
            | Event::Print { request, .. }
            | Event::Responded { request, .. }
            | Event::BackgroundDone { request, .. } => *request,
            Event::Stall { stall } => stall.request,
            Event::Logged { entry } => entry.request_id,
            Event::Handoff { handoff } => handoff.request,
            Event::LoopGilWait { .. } => return None,
        })
    }
}
